/*
** This file implements --where expressions: a recursive-descent parser
** (depth bounded by ST_EXPR_MAX_DEPTH), columnar evaluation and row-group
** pruning on statistics.
**
** Grammar (keywords case-insensitive):
**   or    := and ('or' and)*
**   and   := not ('and' not)*
**   not   := 'not' not | '(' or ')' | pred
**   pred  := COL op LIT | COL ['not'] 'in' '(' LIT (',' LIT)* ')'
**          | COL 'is' ['not'] 'null'
** Evaluation fills one byte per row with SQL three-valued logic encoded as
** FALSE = 0 < UNKNOWN = 1 < TRUE = 2, so AND is min, OR is max and NOT is
** 2 - x; a comparison with a null value is UNKNOWN.  A node's loops switch on
** the column type and operator outside the row loop, so the inner loops are
** straight comparisons; nulls are cleared afterwards from the validity bitmap.
** Integer columns compare with integer literals exactly (in 128 bits), other
** numbers as double (NaN compares unequal to everything).
*/
#include "query/expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define ST_EXPR_MAX_DEPTH 64
#define ST_EXPR_MAX_LITS 100000

__extension__ typedef __int128 st_i128;

typedef struct parser {
  const char *s;
  size_t pos;
  int depth;
  st_error *err;
} parser;

static void skip_ws(parser *p) {
  while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos])) p->pos++;
}

/* True (and consumes it) if the next token is keyword kw. */
static bool accept_kw(parser *p, const char *kw) {
  skip_ws(p);
  size_t n = strlen(kw);
  if (strncasecmp(p->s + p->pos, kw, n)) return false;
  char c = p->s[p->pos + n];
  if (isalnum((unsigned char)c) || c == '_') return false;
  p->pos += n;
  return true;
}

static bool accept_ch(parser *p, char c) {
  skip_ws(p);
  if (p->s[p->pos] != c) return false;
  p->pos++;
  return true;
}

void st_expr_free(st_expr *e) {
  if (!e) return;
  st_expr_free(e->a);
  st_expr_free(e->b);
  free(e->col);
  for (int i = 0; i < e->n_lits; i++) free(e->lits[i].s);
  free(e->lits);
  free(e);
}

static st_expr *node(parser *p, st_expr_kind k) {
  st_expr *e = calloc(1, sizeof *e);
  if (!e) st_fail(p->err, ST_ERR_NOMEM, "where: out of memory");
  else e->kind = k;
  return e;
}

static int parse_col(parser *p, char **out) {
  skip_ws(p);
  const char *s = p->s + p->pos;
  size_t n = 0, skip = 0;
  if (*s == '`') {
    const char *end = strchr(s + 1, '`');
    if (!end) return st_fail(p->err, ST_ERR_INVALID, "where: unterminated `name` at offset %zu", p->pos);
    s++;
    n = (size_t)(end - s);
    skip = n + 2;
  } else {
    while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.') n++;
    skip = n;
  }
  if (n == 0)
    return st_fail(p->err, ST_ERR_INVALID, "where: expected a column name at offset %zu", p->pos);
  *out = strndup(s, n);
  if (!*out) return st_fail(p->err, ST_ERR_NOMEM, "where: out of memory");
  p->pos += skip;
  return 0;
}

static int parse_lit(parser *p, st_lit *l) {
  skip_ws(p);
  const char *s = p->s + p->pos;
  memset(l, 0, sizeof *l);
  if (*s == '\'' || *s == '"') {
    char q = *s;
    size_t cap = strlen(s) + 1, n = 0, i = 1;
    l->s = malloc(cap);
    if (!l->s) return st_fail(p->err, ST_ERR_NOMEM, "where: out of memory");
    for (;;) {
      if (!s[i]) return st_fail(p->err, ST_ERR_INVALID, "where: unterminated string at offset %zu", p->pos);
      if (s[i] == q) {
        if (s[i + 1] == q) { l->s[n++] = q; i += 2; continue; }
        i++;
        break;
      }
      l->s[n++] = s[i++];
    }
    l->s[n] = 0;
    l->len = n;
    l->kind = ST_L_STR;
    p->pos += i;
    return 0;
  }
  if (accept_kw(p, "true")) { l->kind = ST_L_BOOL; l->b = true; l->d = 1; l->i = 1; l->is_int = true; return 0; }
  if (accept_kw(p, "false")) { l->kind = ST_L_BOOL; l->d = 0; l->is_int = true; return 0; }
  char *end = NULL;
  double d = strtod(s, &end);
  if (end == s) return st_fail(p->err, ST_ERR_INVALID, "where: expected a literal at offset %zu", p->pos);
  l->kind = ST_L_NUM;
  l->d = d;
  bool intlike = true;
  for (const char *c = s; c < end; c++)
    if (!(isdigit((unsigned char)*c) || *c == '-' || *c == '+')) intlike = false;
  if (intlike) {
    errno = 0;
    char *e2 = NULL;
    long long v = strtoll(s, &e2, 10);
    if (!errno && e2 == end) { l->is_int = true; l->i = v; }
  }
  p->pos += (size_t)(end - s);
  return 0;
}

static int parse_or(parser *p, st_expr **out);

static int parse_pred(parser *p, st_expr **out) {
  char *col = NULL;
  ST_TRY(parse_col(p, &col));
  st_expr *e = NULL;
  int rc = 0;
  if (accept_kw(p, "is")) {
    e = node(p, ST_E_ISNULL);
    if (!e) { free(col); return ST_ERR_NOMEM; }
    e->negate = accept_kw(p, "not");
    if (!accept_kw(p, "null")) rc = st_fail(p->err, ST_ERR_INVALID, "where: expected 'null' after 'is' at offset %zu", p->pos);
  } else {
    bool neg = false;
    size_t save = p->pos;
    if (accept_kw(p, "not")) { if (!accept_kw(p, "in")) p->pos = save; else neg = true; }
    if (neg || accept_kw(p, "in")) {
      e = node(p, ST_E_IN);
      if (!e) { free(col); return ST_ERR_NOMEM; }
      e->negate = neg;
      if (!accept_ch(p, '(')) rc = st_fail(p->err, ST_ERR_INVALID, "where: expected '(' after 'in' at offset %zu", p->pos);
      int cap = 0;
      while (!rc) {
        if (e->n_lits == cap) {
          if (cap >= ST_EXPR_MAX_LITS) { rc = st_fail(p->err, ST_ERR_LIMIT, "where: too many values in 'in'"); break; }
          int nc = cap ? cap * 2 : 8;
          st_lit *nl = realloc(e->lits, (size_t)nc * sizeof *nl);
          if (!nl) { rc = st_fail(p->err, ST_ERR_NOMEM, "where: out of memory"); break; }
          e->lits = nl;
          cap = nc;
        }
        rc = parse_lit(p, &e->lits[e->n_lits]);
        e->n_lits++;
        if (rc) break;
        if (accept_ch(p, ',')) continue;
        if (!accept_ch(p, ')')) rc = st_fail(p->err, ST_ERR_INVALID, "where: expected ',' or ')' at offset %zu", p->pos);
        break;
      }
    } else {
      e = node(p, ST_E_CMP);
      if (!e) { free(col); return ST_ERR_NOMEM; }
      skip_ws(p);
      const char *s = p->s + p->pos;
      int len = 0;
      if (!strncmp(s, "==", 2)) { e->op = ST_OP_EQ; len = 2; }
      else if (!strncmp(s, "!=", 2) || !strncmp(s, "<>", 2)) { e->op = ST_OP_NE; len = 2; }
      else if (!strncmp(s, "<=", 2)) { e->op = ST_OP_LE; len = 2; }
      else if (!strncmp(s, ">=", 2)) { e->op = ST_OP_GE; len = 2; }
      else if (*s == '<') { e->op = ST_OP_LT; len = 1; }
      else if (*s == '>') { e->op = ST_OP_GT; len = 1; }
      else if (*s == '=') { e->op = ST_OP_EQ; len = 1; }
      else rc = st_fail(p->err, ST_ERR_INVALID, "where: expected an operator after '%s' at offset %zu", col, p->pos);
      p->pos += (size_t)len;
      if (!rc) {
        e->lits = calloc(1, sizeof *e->lits);
        if (!e->lits) rc = st_fail(p->err, ST_ERR_NOMEM, "where: out of memory");
        else { e->n_lits = 1; rc = parse_lit(p, &e->lits[0]); }
      }
    }
  }
  e->col = col;
  if (rc) { st_expr_free(e); return rc; }
  *out = e;
  return 0;
}

static int parse_not(parser *p, st_expr **out) {
  if (++p->depth > ST_EXPR_MAX_DEPTH) return st_fail(p->err, ST_ERR_LIMIT, "where: nested too deeply");
  int rc;
  if (accept_kw(p, "not")) {
    st_expr *e = node(p, ST_E_NOT);
    if (!e) return ST_ERR_NOMEM;
    rc = parse_not(p, &e->a);
    if (rc) { st_expr_free(e); return rc; }
    *out = e;
  } else if (accept_ch(p, '(')) {
    rc = parse_or(p, out);
    if (!rc && !accept_ch(p, ')')) {
      st_expr_free(*out);
      *out = NULL;
      rc = st_fail(p->err, ST_ERR_INVALID, "where: expected ')' at offset %zu", p->pos);
    }
    if (rc) return rc;
  } else {
    ST_TRY(parse_pred(p, out));
  }
  p->depth--;
  return 0;
}

static int parse_binary(parser *p, st_expr **out, bool is_or) {
  st_expr *left = NULL;
  ST_TRY(is_or ? parse_binary(p, &left, false) : parse_not(p, &left));
  while (accept_kw(p, is_or ? "or" : "and")) {
    st_expr *e = node(p, is_or ? ST_E_OR : ST_E_AND);
    if (!e) { st_expr_free(left); return ST_ERR_NOMEM; }
    e->a = left;
    left = e;
    int rc = is_or ? parse_binary(p, &e->b, false) : parse_not(p, &e->b);
    if (rc) { st_expr_free(left); return rc; }
  }
  *out = left;
  return 0;
}

static int parse_or(parser *p, st_expr **out) { return parse_binary(p, out, true); }

int st_expr_parse(const char *text, st_expr **out, st_error *err) {
  parser p = {text, 0, 0, err};
  st_expr *e = NULL;
  ST_TRY(parse_or(&p, &e));
  skip_ws(&p);
  if (p.s[p.pos]) {
    st_expr_free(e);
    return st_fail(err, ST_ERR_INVALID, "where: unexpected text at offset %zu: '%.20s'", p.pos, p.s + p.pos);
  }
  *out = e;
  return 0;
}

int st_expr_columns(const st_expr *e, int (*fn)(const char *name, void *ctx), void *ctx) {
  if (!e) return 0;
  ST_TRY(st_expr_columns(e->a, fn, ctx));
  ST_TRY(st_expr_columns(e->b, fn, ctx));
  if (e->col) ST_TRY(fn(e->col, ctx));
  return 0;
}

/* ---- evaluation ------------------------------------------------------------ */

#define CMP_LOOPS(N, VAL, LIT)                                                 \
  switch (op) {                                                                \
  case ST_OP_EQ: for (int64_t i = 0; i < (N); i++) m[i] = (VAL) == (LIT); break; \
  case ST_OP_NE: for (int64_t i = 0; i < (N); i++) m[i] = (VAL) != (LIT); break; \
  case ST_OP_LT: for (int64_t i = 0; i < (N); i++) m[i] = (VAL) < (LIT); break;  \
  case ST_OP_LE: for (int64_t i = 0; i < (N); i++) m[i] = (VAL) <= (LIT); break; \
  case ST_OP_GT: for (int64_t i = 0; i < (N); i++) m[i] = (VAL) > (LIT); break;  \
  case ST_OP_GE: for (int64_t i = 0; i < (N); i++) m[i] = (VAL) >= (LIT); break; \
  }

static int cmp_bytes(const uint8_t *a, size_t na, const char *b, size_t nb) {
  size_t n = na < nb ? na : nb;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return na < nb ? -1 : na > nb;
}

static bool op_holds(st_cmp_op op, int c) {
  switch (op) {
  case ST_OP_EQ: return c == 0;
  case ST_OP_NE: return c != 0;
  case ST_OP_LT: return c < 0;
  case ST_OP_LE: return c <= 0;
  case ST_OP_GT: return c > 0;
  case ST_OP_GE: return c >= 0;
  }
  return false;
}

/* m[i] = (column value op lit), ignoring nulls. */
static int eval_cmp(const st_field *f, const st_array *a, st_cmp_op op, const st_lit *l, uint8_t *m,
                    st_error *err) {
  int64_t n = a->length, off = a->offset;
  const uint8_t *v = a->buf[1];
  switch (f->type) {
  case ST_T_STRING: case ST_T_BINARY: case ST_T_LARGE_STRING: case ST_T_LARGE_BINARY: {
    if (l->kind != ST_L_STR)
      return st_fail(err, ST_ERR_INVALID, "where: column '%s' is a string; compare it with a 'string'", f->name);
    bool large = f->type == ST_T_LARGE_STRING || f->type == ST_T_LARGE_BINARY;
    const int32_t *o32 = (const int32_t *)v + off;
    const int64_t *o64 = (const int64_t *)v + off;
    const uint8_t *data = a->buf[2];
    for (int64_t i = 0; i < n; i++) {
      int64_t s = large ? o64[i] : o32[i], e = large ? o64[i + 1] : o32[i + 1];
      m[i] = op_holds(op, cmp_bytes(data + s, (size_t)(e - s), l->s, l->len));
    }
    return 0;
  }
  default: break;
  }
  if (l->kind == ST_L_STR)
    return st_fail(err, ST_ERR_INVALID, "where: column '%s' (%s) compared with a string", f->name,
                   st_type_name(f->type));
  bool exact = l->is_int;
  st_i128 li = l->i;
  double ld = l->d;
#define INT_CASE(T)                                                            \
  {                                                                            \
    const T *x = (const T *)v + off;                                           \
    if (exact) { CMP_LOOPS(n, (st_i128)x[i], li) }                             \
    else { CMP_LOOPS(n, (double)x[i], ld) }                                    \
    return 0;                                                                  \
  }
  switch (f->type) {
  case ST_T_INT8: INT_CASE(int8_t)
  case ST_T_INT16: INT_CASE(int16_t)
  case ST_T_INT32: case ST_T_DATE32: case ST_T_TIME32: INT_CASE(int32_t)
  case ST_T_INT64: case ST_T_DATE64: case ST_T_TIME64: case ST_T_TIMESTAMP: case ST_T_DURATION:
    INT_CASE(int64_t)
  case ST_T_UINT8: INT_CASE(uint8_t)
  case ST_T_UINT16: INT_CASE(uint16_t)
  case ST_T_UINT32: INT_CASE(uint32_t)
  case ST_T_UINT64: INT_CASE(uint64_t)
  case ST_T_FLOAT: { const float *x = (const float *)v + off; CMP_LOOPS(n, (double)x[i], ld) return 0; }
  case ST_T_DOUBLE: { const double *x = (const double *)v + off; CMP_LOOPS(n, x[i], ld) return 0; }
  case ST_T_BOOL: {
    for (int64_t i = 0; i < n; i++) {
      int64_t j = i + off;
      double b = (v[j >> 3] >> (j & 7)) & 1;
      m[i] = op_holds(op, b < ld ? -1 : b > ld);
    }
    return 0;
  }
  default:
    return st_fail(err, ST_ERR_UNSUPPORTED, "where: cannot compare column '%s' of type %s", f->name,
                   st_type_name(f->type));
  }
#undef INT_CASE
}

/* Null slots become UNKNOWN. */
static void and_validity(const st_array *a, uint8_t *m) {
  if (!a->buf[0]) return;
  for (int64_t i = 0; i < a->length; i++) if (!st_array_is_valid(a, i)) m[i] = 1;
}

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return a < b ? -1 : a > b;
}

/* `col in (...)` for a signed integer column and integer literals: binary search
   in the sorted literals, O(n log k).  False when not applicable (or no memory). */
static bool in_int_sorted(const st_field *f, const st_array *a, const st_expr *e, uint8_t *m) {
  int w;
  switch (f->type) {
  case ST_T_INT8: w = 1; break;
  case ST_T_INT16: w = 2; break;
  case ST_T_INT32: case ST_T_DATE32: w = 4; break;
  case ST_T_INT64: case ST_T_TIMESTAMP: w = 8; break;
  default: return false;
  }
  for (int k = 0; k < e->n_lits; k++) if (e->lits[k].kind == ST_L_STR || !e->lits[k].is_int) return false;
  int64_t *v = malloc((size_t)e->n_lits * sizeof *v);
  if (!v) return false;
  for (int k = 0; k < e->n_lits; k++) v[k] = e->lits[k].i;
  qsort(v, (size_t)e->n_lits, sizeof *v, cmp_i64);
  int64_t n = a->length, off = a->offset;
  const uint8_t *base = a->buf[1];
  for (int64_t i = 0; i < n; i++) {
    int64_t x = w == 8 ? ((const int64_t *)base)[off + i] : w == 4 ? ((const int32_t *)base)[off + i]
              : w == 2 ? ((const int16_t *)base)[off + i] : ((const int8_t *)base)[off + i];
    int lo = 0, hi = e->n_lits;
    while (lo < hi) { int mid = (lo + hi) / 2; if (v[mid] < x) lo = mid + 1; else hi = mid; }
    m[i] = lo < e->n_lits && v[lo] == x;
  }
  free(v);
  return true;
}

static int find_col(const st_table *t, const char *name, st_error *err) {
  int c = st_table_column_index(t, name);
  if (c < 0) return -st_fail(err, ST_ERR_NOTFOUND, "where: no column '%s'", name);
  if (t->schema.children[c].dict_encoded)
    return -st_fail(err, ST_ERR_UNSUPPORTED, "where: dictionary column '%s' not supported", name);
  return c;
}

int st_expr_eval(const st_expr *e, const st_table *t, uint8_t *mask, st_error *err) {
  int64_t n = t->n_rows;
  switch (e->kind) {
  case ST_E_AND: case ST_E_OR: {
    ST_TRY(st_expr_eval(e->a, t, mask, err));
    uint8_t *tmp = malloc(n ? (size_t)n : 1);
    if (!tmp) return st_fail(err, ST_ERR_NOMEM, "where: out of memory");
    int rc = st_expr_eval(e->b, t, tmp, err);
    if (!rc) {
      if (e->kind == ST_E_AND) for (int64_t i = 0; i < n; i++) mask[i] = mask[i] < tmp[i] ? mask[i] : tmp[i];
      else for (int64_t i = 0; i < n; i++) mask[i] = mask[i] > tmp[i] ? mask[i] : tmp[i];
    }
    free(tmp);
    return rc;
  }
  case ST_E_NOT:
    ST_TRY(st_expr_eval(e->a, t, mask, err));
    for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)(2 - mask[i]);
    return 0;
  case ST_E_ISNULL: {
    int c = find_col(t, e->col, err);
    if (c < 0) return -c;
    const st_array *a = t->columns[c];
    for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)(2 * (st_array_is_valid(a, i) ? e->negate : !e->negate));
    return 0;
  }
  case ST_E_CMP: case ST_E_IN: {
    int c = find_col(t, e->col, err);
    if (c < 0) return -c;
    const st_array *a = t->columns[c];
    const st_field *f = &t->schema.children[c];
    if (e->kind == ST_E_CMP) {
      ST_TRY(eval_cmp(f, a, e->op, &e->lits[0], mask, err));
    } else if (e->n_lits > 8 && in_int_sorted(f, a, e, mask)) {
      if (e->negate) for (int64_t i = 0; i < n; i++) mask[i] ^= 1;
    } else {
      memset(mask, 0, (size_t)n);
      uint8_t *tmp = malloc(n ? (size_t)n : 1);
      if (!tmp) return st_fail(err, ST_ERR_NOMEM, "where: out of memory");
      for (int k = 0; k < e->n_lits; k++) {
        int rc = eval_cmp(f, a, ST_OP_EQ, &e->lits[k], tmp, err);
        if (rc) { free(tmp); return rc; }
        for (int64_t i = 0; i < n; i++) mask[i] |= tmp[i];
      }
      free(tmp);
      if (e->negate) for (int64_t i = 0; i < n; i++) mask[i] ^= 1;
    }
    for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)(mask[i] * 2);
    and_validity(a, mask);
    return 0;
  }
  }
  return st_fail(err, ST_ERR_INVALID, "where: bad expression node");
}

/* ---- statistics ------------------------------------------------------------ */

/* Compare a statistics value with a literal: -1/0/1, or 2 when incomparable. */
static int stat_cmp(const st_pq_value *v, const st_lit *l) {
  switch (v->kind) {
  case ST_PQ_VALUE_INT:
    if (l->kind == ST_L_STR || v->is_decimal) return 2;
    if (l->is_int) return v->i < l->i ? -1 : v->i > l->i;
    if (isnan(l->d)) return 2;
    return (double)v->i < l->d ? -1 : (double)v->i > l->d;
  case ST_PQ_VALUE_UINT:
    if (l->kind == ST_L_STR) return 2;
    if (l->is_int) return l->i < 0 ? 1 : (v->u < (uint64_t)l->i ? -1 : v->u > (uint64_t)l->i);
    if (isnan(l->d)) return 2;
    return (double)v->u < l->d ? -1 : (double)v->u > l->d;
  case ST_PQ_VALUE_DOUBLE:
    if (l->kind == ST_L_STR || isnan(l->d) || isnan(v->d)) return 2;
    return v->d < l->d ? -1 : v->d > l->d;
  case ST_PQ_VALUE_BYTES:
    if (l->kind != ST_L_STR || v->is_decimal) return 2;
    { int c = cmp_bytes(v->bytes, v->len, l->s, l->len); return c < 0 ? -1 : c > 0; }
  default: return 2;
  }
}

static bool cmp_may(st_cmp_op op, const st_pq_chunk_info *ci, const st_lit *l) {
  int cmin = stat_cmp(&ci->min, l), cmax = stat_cmp(&ci->max, l);
  if (cmin == 2 || cmax == 2) return true;
  switch (op) {
  case ST_OP_EQ: return cmin <= 0 && cmax >= 0;
  case ST_OP_NE: return !(cmin == 0 && cmax == 0);
  case ST_OP_LT: return cmin < 0;
  case ST_OP_LE: return cmin <= 0;
  case ST_OP_GT: return cmax > 0;
  case ST_OP_GE: return cmax >= 0;
  }
  return true;
}

bool st_expr_rg_may_match(const st_expr *e, const st_pq_reader *r, int rg) {
  switch (e->kind) {
  case ST_E_AND: return st_expr_rg_may_match(e->a, r, rg) && st_expr_rg_may_match(e->b, r, rg);
  case ST_E_OR: return st_expr_rg_may_match(e->a, r, rg) || st_expr_rg_may_match(e->b, r, rg);
  case ST_E_NOT: return true;
  default: break;
  }
  int col = st_pq_column_index(r, e->col);
  if (col < 0) return true;
  st_pq_chunk_info ci;
  st_error err = {0};
  if (st_pq_describe_chunk(r, rg, col, &ci, &err)) return true;
  int64_t rows = st_pq_row_group_num_rows(r, rg);
  if (e->kind == ST_E_ISNULL) {
    if (!ci.has_null_count) return true;
    return e->negate ? ci.null_count < rows : ci.null_count > 0;
  }
  if (ci.has_null_count && rows > 0 && ci.null_count >= rows) return false;  /* all null */
  if (!ci.has_min_max) return true;
  if (e->kind == ST_E_CMP) return cmp_may(e->op, &ci, &e->lits[0]);
  if (e->negate) return true;
  for (int k = 0; k < e->n_lits; k++)
    if (cmp_may(ST_OP_EQ, &ci, &e->lits[k])) return true;
  return false;
}
