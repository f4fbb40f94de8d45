/*
** This file implements the interface of the --where expression module
** (src/query/expr.c): a parsed expression tree, columnar evaluation into a
** byte mask (2 = true), and a conservative row-group test on Parquet
** statistics.  See include/skytile/query.h for the syntax.
*/
#ifndef ST_QUERY_EXPR_H
#define ST_QUERY_EXPR_H

#include "skytile.h"

typedef enum { ST_E_AND, ST_E_OR, ST_E_NOT, ST_E_CMP, ST_E_IN, ST_E_ISNULL } st_expr_kind;
typedef enum { ST_OP_EQ, ST_OP_NE, ST_OP_LT, ST_OP_LE, ST_OP_GT, ST_OP_GE } st_cmp_op;
typedef enum { ST_L_NUM, ST_L_STR, ST_L_BOOL } st_lit_kind;

typedef struct st_lit {
  st_lit_kind kind;
  double d;                /* numeric value (also for integers)              */
  int64_t i;               /* exact integer value when is_int                */
  bool is_int;             /* the literal is an integer that fits int64      */
  char *s;                 /* string bytes (owned), len bytes                */
  size_t len;
  bool b;                  /* BOOL literal                                   */
} st_lit;

typedef struct st_expr st_expr;
struct st_expr {
  st_expr_kind kind;
  st_cmp_op op;            /* CMP                                            */
  bool negate;             /* IN: not in; ISNULL: is not null                */
  st_expr *a, *b;          /* AND/OR children; NOT: a                        */
  char *col;               /* CMP/IN/ISNULL column name (owned)              */
  st_lit *lits;            /* CMP: 1; IN: n_lits                             */
  int n_lits;
};

int st_expr_parse(const char *text, st_expr **out, st_error *err);
void st_expr_free(st_expr *e);
/* Call fn(name, ctx) for every column name the expression uses. */
int st_expr_columns(const st_expr *e, int (*fn)(const char *name, void *ctx), void *ctx);
/* mask[i] = value of row i of t: 0 false, 1 unknown (null), 2 true (columns by name). */
int st_expr_eval(const st_expr *e, const st_table *t, uint8_t *mask, st_error *err);
/* False only when the statistics of row group rg of r prove no row matches. */
bool st_expr_rg_may_match(const st_expr *e, const st_pq_reader *r, int rg);

#endif
