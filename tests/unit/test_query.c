/*
** This file implements unit tests of the --where expressions (parser,
** three-valued evaluation) and of st_query argument checks.  Expected
** masks are worked out by hand from the rows below.
*/
#include <string.h>

#include "test.h"
#include "query/expr.h"

/* rows: id = 1, 2, null, 4, 5;  s = "a", "b", "a", null, "c";  x = 1.5, nan, -2, 10, 0 */
static int make_table(st_table **out, st_error *err) {
  st_field f[3];
  st_array *cols[3] = {0};
  st_field_init(&f[0], "id", ST_T_INT64, true);
  st_field_init(&f[1], "s", ST_T_STRING, true);
  st_field_init(&f[2], "x", ST_T_DOUBLE, false);
  st_builder *b = NULL;
  int64_t ids[5] = {1, 2, 0, 4, 5};
  uint8_t idv[5] = {1, 1, 0, 1, 1};
  double xs[5] = {1.5, __builtin_nan(""), -2, 10, 0};
  int rc = st_builder_new(&f[0], &b, err);
  if (!rc) rc = st_builder_append_values(b, ids, 5, idv, err);
  if (!rc) rc = st_builder_finish(b, &cols[0], err);
  st_builder_free(b);
  b = NULL;
  if (!rc) rc = st_builder_new(&f[1], &b, err);
  const char *ss[5] = {"a", "b", "a", NULL, "c"};
  for (int i = 0; i < 5 && !rc; i++)
    rc = ss[i] ? st_builder_append_bytes(b, ss[i], 1, err) : st_builder_append_nulls(b, 1, err);
  if (!rc) rc = st_builder_finish(b, &cols[1], err);
  st_builder_free(b);
  b = NULL;
  if (!rc) rc = st_builder_new(&f[2], &b, err);
  if (!rc) rc = st_builder_append_values(b, xs, 5, NULL, err);
  if (!rc) rc = st_builder_finish(b, &cols[2], err);
  st_builder_free(b);
  if (!rc) rc = st_table_new(f, cols, 3, 5, NULL, out, err);
  for (int i = 0; i < 3; i++) st_field_clear(&f[i]);
  return rc;
}

/* Evaluate text on the table; write "1" for true rows, "0" otherwise. */
static int eval_str(const st_table *t, const char *text, char *out, st_error *err) {
  st_expr *e = NULL;
  int rc = st_expr_parse(text, &e, err);
  if (rc) return rc;
  uint8_t m[5];
  rc = st_expr_eval(e, t, m, err);
  for (int i = 0; i < 5; i++) out[i] = m[i] == 2 ? '1' : '0';
  out[5] = 0;
  st_expr_free(e);
  return rc;
}

TEST(query_where_eval) {
  st_error err = {0};
  st_table *t = NULL;
  CHECK_OK(make_table(&t, &err), &err);
  static const struct { const char *expr, *want; } cases[] = {
      {"id > 1", "01011"},
      {"id != 2", "10011"},
      {"not (id > 1)", "10000"},          /* null stays unknown under not */
      {"id is null", "00100"},
      {"id is not null and s == 'a'", "10000"},
      {"s = 'a' or id >= 5", "10101"},
      {"s in ('b', 'c')", "01001"},
      {"s not in ('b', 'c')", "10100"},
      {"x < 0 or x == 10", "00110"},
      {"x != 0", "11110"},                /* NaN != 0 is true, as in numpy/SQL floats */
      {"id in (1, 4) and not x > 5", "10000"},
      {"`id` <= 2.5", "11000"},
      {"id < 9223372036854775807", "11011"},
      {"(s == 'a') and (id is null or x > 1)", "10100"},
      {"id in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)", "11011"},          /* sorted-search path */
      {"id not in (9, 10, 11, 12, 13, 14, 15, 16, 17, 5)", "11010"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char got[6];
    int rc = eval_str(t, cases[i].expr, got, &err);
    if (rc || strcmp(got, cases[i].want)) {
      fprintf(stderr, "where '%s': got %s want %s (%s)\n", cases[i].expr, got, cases[i].want, rc ? err.msg : "");
      st_table_free(t);
      CHECK(0);
    }
  }
  st_table_free(t);
}

TEST(query_where_errors) {
  st_error err = {0};
  st_expr *e = NULL;
  const char *bad[] = {"", "id <", "id > 1 and", "(id > 1", "id 3", "id in (1,", "s == 'abc", "id is nul",
                       "id > 1 )"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    e = NULL;
    int rc = st_expr_parse(bad[i], &e, &err);
    if (rc == 0) { fprintf(stderr, "parsed bad '%s'\n", bad[i]); st_expr_free(e); CHECK(0); }
    CHECK(e == NULL && err.msg[0]);
  }
  char deep[400];
  memset(deep, '(', 200);
  strcpy(deep + 200, "id > 1");
  CHECK(st_expr_parse(deep, &e, &err) == ST_ERR_LIMIT);
  st_table *t = NULL;
  CHECK_OK(make_table(&t, &err), &err);
  uint8_t m[5];
  CHECK_OK(st_expr_parse("s > 3", &e, &err), &err);
  CHECK(st_expr_eval(e, t, m, &err) == ST_ERR_INVALID);
  st_expr_free(e);
  CHECK_OK(st_expr_parse("nosuch == 1", &e, &err), &err);
  CHECK(st_expr_eval(e, t, m, &err) == ST_ERR_NOTFOUND);
  st_expr_free(e);
  st_table_free(t);
}

TEST(query_args) {
  st_error err = {0};
  st_query *q = NULL;
  CHECK_OK(st_query_new(&q, &err), &err);
  CHECK(st_query_set_cone(q, 0, 91, 1, &err) == ST_ERR_INVALID);
  CHECK(st_query_set_cone(q, 0, 0, 181, &err) == ST_ERR_INVALID);
  CHECK(st_query_set_box(q, 0, 10, 5, 5, &err) == ST_ERR_INVALID);
  double ra[4] = {0, 10, 0, 10}, dec[4] = {0, 0, 10, 10};   /* self-crossing */
  CHECK(st_query_set_polygon(q, ra, dec, 4, &err) != 0);
  int64_t pix[1] = {48};
  CHECK(st_query_set_pixels(q, 1, pix, 1, &err) == ST_ERR_INVALID);
  CHECK(st_query_set_where(q, "a ==", &err) == ST_ERR_INVALID);
  CHECK_OK(st_query_set_cone(q, 0, 0, 1, &err), &err);
  st_query_free(q);
}
