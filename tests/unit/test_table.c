/* Unit tests for src/table: builders, slice, take, concat, validate, text formatting, Arrow C export/import.
   Expected strings are derived by hand from the documented formats (and IEEE/Gregorian facts). */
#include "test.h"
#include "util/mem.h"

#include <stdlib.h>

/* ---- helpers -------------------------------------------------------------------- */

static st_field mkfield(const char *name, st_type_id t) {
  st_field f;
  st_field_init(&f, name, t, true);
  return f;
}

static st_array *build_i64(const int64_t *v, const uint8_t *valid, int64_t n) {
  st_field f = mkfield("x", ST_T_INT64);
  st_builder *b;
  st_error err = {0};
  st_array *a = NULL;
  if (st_builder_new(&f, &b, &err) == 0) {
    if (st_builder_append_values(b, v, n, valid, &err) == 0) st_builder_finish(b, &a, &err);
    st_builder_free(b);
  }
  st_field_clear(&f);
  return a;
}

static st_array *build_i32(const int32_t *v, const uint8_t *valid, int64_t n) {
  st_field f = mkfield("x", ST_T_INT32);
  st_builder *b;
  st_error err = {0};
  st_array *a = NULL;
  if (st_builder_new(&f, &b, &err) == 0) {
    if (st_builder_append_values(b, v, n, valid, &err) == 0) st_builder_finish(b, &a, &err);
    st_builder_free(b);
  }
  st_field_clear(&f);
  return a;
}

/* Strings from a NULL-terminated list; the entry "<null>" appends a null. */
static st_array *build_str(st_type_id t, const char *const *v) {
  st_field f = mkfield("s", t);
  st_builder *b;
  st_error err = {0};
  st_array *a = NULL;
  if (st_builder_new(&f, &b, &err) == 0) {
    for (int i = 0; v[i]; i++) {
      if (!strcmp(v[i], "<null>")) st_builder_append_nulls(b, 1, &err);
      else st_builder_append_bytes(b, v[i], strlen(v[i]), &err);
    }
    st_builder_finish(b, &a, &err);
    st_builder_free(b);
  }
  st_field_clear(&f);
  return a;
}

/* Formats every row of (f, a) in `style`, joined by '|' ("" for TEXT nulls). */
static const char *fmt_all(const st_field *f, const st_array *a, int style) {
  static char out[4096];
  st_error err = {0};
  out[0] = 0;
  size_t n = 0;
  for (int64_t i = 0; i < a->length; i++) {
    st_text c = {0};
    if (st_format_value(f, a, i, style, &c, &err)) {
      snprintf(out, sizeof out, "<error: %s>", err.msg);
      st_text_free(&c);
      return out;
    }
    n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s", i ? "|" : "", (int)c.len, c.data ? c.data : "");
    st_text_free(&c);
  }
  return out;
}

#define CHECK_STR(got, want)                                                                 \
  do {                                                                                       \
    const char *g_ = (got), *w_ = (want);                                                    \
    if (strcmp(g_, w_)) {                                                                    \
      fprintf(stderr, "%s:%d: got\n  %s\nwant\n  %s\n", __FILE__, __LINE__, g_, w_);         \
      st_test_failed = 1;                                                                    \
      return;                                                                                \
    }                                                                                        \
  } while (0)

/* A list<int32> array from offsets/validity and an int32 child. */
static st_array *mk_list(const int32_t *offs, int64_t n, const uint8_t *valid, st_array *child) {
  st_array *a = st_array_new();
  a->length = n;
  a->n_buffers = 2;
  a->null_count = -1;
  st_mem *m = st_mem_new((size_t)(n + 1) * 4);
  memcpy(m->data, offs, (size_t)(n + 1) * 4);
  a->mem[1] = m;
  a->buf[1] = m->data;
  if (valid) {
    st_mem *v = st_mem_new((size_t)(n + 7) / 8);
    memset(v->data, 0, (size_t)(n + 7) / 8);
    for (int64_t i = 0; i < n; i++)
      if (valid[i]) v->data[i >> 3] |= (uint8_t)(1u << (i & 7));
    a->mem[0] = v;
    a->buf[0] = v->data;
  }
  a->n_children = 1;
  a->children = calloc(1, sizeof(st_array *));
  a->children[0] = child;
  return a;
}

static st_field list_field(const char *name, st_type_id child_type) {
  st_field f = mkfield(name, ST_T_LIST);
  st_field c = mkfield("item", child_type);
  st_field_add_child(&f, &c);
  st_field_clear(&c);
  return f;
}

/* ---- fields ---------------------------------------------------------------------- */

TEST(table_field_type_strings) {
  char buf[256];
  st_field f = list_field("l", ST_T_DOUBLE);
  st_field_type_string(&f, buf, sizeof buf);
  CHECK_STR(buf, "list<double>");
  st_field g;
  CHECK_OK(st_field_copy(&g, &f), NULL);
  CHECK(st_field_equal(&f, &g));
  g.children[0].type = ST_T_FLOAT;
  CHECK(!st_field_equal(&f, &g));
  st_field_clear(&g);
  st_field_clear(&f);
  f = mkfield("t", ST_T_TIMESTAMP);
  f.unit = ST_MICRO;
  f.tz = strdup("UTC");
  st_field_type_string(&f, buf, sizeof buf);
  CHECK_STR(buf, "timestamp[us, UTC]");
  st_field_clear(&f);
  f = mkfield("d", ST_T_DECIMAL128);
  f.precision = 10;
  f.scale = 2;
  st_field_type_string(&f, buf, sizeof buf);
  CHECK_STR(buf, "decimal128(10,2)");
  CHECK_EQ_I64(st_type_byte_width(&f), 16);
  CHECK_OK(st_field_set_meta(&f, "unit", "deg"), NULL);
  CHECK_OK(st_field_set_meta(&f, "unit", "rad"), NULL);
  CHECK_EQ_I64(f.n_meta, 1);
  CHECK_STR(st_field_get_meta(&f, "unit"), "rad");
  st_field_clear(&f);
  CHECK_STR(st_type_name(ST_T_LARGE_STRING), "large_string");
  f = mkfield("b", ST_T_BOOL);
  CHECK_EQ_I64(st_type_byte_width(&f), -1);
  st_field_clear(&f);
}

/* ---- builder --------------------------------------------------------------------- */

TEST(table_builder_primitives) {
  st_error err = {0};
  int64_t v[5] = {1, -2, 3, 0, INT64_MIN};
  uint8_t valid[5] = {1, 1, 0, 1, 1};
  st_field f = mkfield("x", ST_T_INT64);
  st_builder *b;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_values(b, v, 2, NULL, &err), &err);  /* no bitmap yet */
  CHECK_OK(st_builder_append_values(b, v + 2, 3, valid + 2, &err), &err);
  CHECK_OK(st_builder_append_nulls(b, 2, &err), &err);
  /* many more values: growth is amortised */
  for (int i = 0; i < 1000; i++) CHECK_OK(st_builder_append_values(b, &v[0], 1, NULL, &err), &err);
  CHECK_EQ_I64(st_builder_length(b), 1007);
  st_array *a;
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_EQ_I64(st_builder_length(b), 0);
  CHECK_EQ_I64(a->length, 1007);
  CHECK_EQ_I64(st_array_null_count(a), 3);
  CHECK(st_array_is_valid(a, 0) && st_array_is_valid(a, 1) && !st_array_is_valid(a, 2));
  CHECK(!st_array_is_valid(a, 5) && !st_array_is_valid(a, 6) && st_array_is_valid(a, 7));
  CHECK_EQ_I64(((const int64_t *)a->buf[1])[4], INT64_MIN);
  CHECK_OK(st_array_validate(&f, a, &err), &err);
  st_array *s;
  CHECK_OK(st_array_slice(a, 0, 8, &s, &err), &err);
  CHECK_STR(fmt_all(&f, s, ST_FMT_TEXT), "1|-2||0|-9223372036854775808|||1");
  CHECK_STR(fmt_all(&f, s, ST_FMT_JSON), "1|-2|null|0|-9223372036854775808|null|null|1");
  st_array_free(a);
  st_array_free(s);
  /* the builder is reusable */
  CHECK_OK(st_builder_append_values(b, v, 1, NULL, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK(a->length == 1 && a->buf[0] == NULL && a->null_count == 0);
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);

  f = mkfield("b", ST_T_BOOL);
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  uint8_t bv[11] = {1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1};
  uint8_t bvalid[11] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1};
  CHECK_OK(st_builder_append_values(b, bv, 11, bvalid, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "true|false|true|true|false|false|false|true||false|true");
  CHECK_OK(st_array_validate(&f, a, &err), &err);
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);

  f = mkfield("s", ST_T_LIST);
  CHECK(st_builder_new(&f, &b, &err) == ST_ERR_UNSUPPORTED);
  st_field_clear(&f);
}

TEST(table_builder_strings) {
  st_error err = {0};
  st_field f = mkfield("s", ST_T_STRING);
  st_builder *b;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  const char data[] = "helloworld!";
  int64_t offs[4] = {0, 5, 10, 11};
  uint8_t valid[3] = {1, 0, 1};
  CHECK_OK(st_builder_append_strings(b, (const uint8_t *)data, offs, 3, valid, &err), &err);
  CHECK_OK(st_builder_append_bytes(b, "", 0, &err), &err);
  CHECK_OK(st_builder_append_nulls(b, 1, &err), &err);
  CHECK_OK(st_builder_append_bytes(b, "a,\"b\"", 5, &err), &err);
  st_array *a;
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_OK(st_array_validate(&f, a, &err), &err);
  CHECK_EQ_I64(a->length, 6);
  CHECK_EQ_I64(st_array_null_count(a), 2);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "hello||!|||a,\"b\"");
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON), "\"hello\"|null|\"!\"|\"\"|null|\"a,\\\"b\\\"\"");
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);

  f = mkfield("fb", ST_T_FIXED_BINARY);
  f.byte_width = 2;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_bytes(b, "\x00\xff", 2, &err), &err);
  CHECK(st_builder_append_bytes(b, "abc", 3, &err) == ST_ERR_INVALID);
  CHECK_OK(st_builder_append_nulls(b, 1, &err), &err);
  CHECK_OK(st_builder_append_values(b, "\x12\xab", 1, NULL, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "00ff||12ab");
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON), "\"00ff\"|null|\"12ab\"");
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);

  f = mkfield("lb", ST_T_LARGE_BINARY);
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_bytes(b, "\x01\x02", 2, &err), &err);
  CHECK_OK(st_builder_append_bytes(b, "", 0, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_OK(st_array_validate(&f, a, &err), &err);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "0102|");
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);
}

/* ---- formatting -------------------------------------------------------------------- */

TEST(table_format_floats) {
  double v[] = {0.1, 1.0 / 3, 1e300, -0.0, 123456789012345680.0, 5e-324, 2.2250738585072014e-308, 100.0,
                NAN, INFINITY, -INFINITY, 1.5};
  int n = (int)(sizeof v / sizeof v[0]);
  st_field f = mkfield("d", ST_T_DOUBLE);
  st_builder *b;
  st_error err = {0};
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_values(b, v, n, NULL, &err), &err);
  st_array *a;
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  st_builder_free(b);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "0.1|0.3333333333333333|1e+300|-0|1.2345678901234568e+17|5e-324|2.2250738585072014e-308|100|nan|inf|-inf|1.5");
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON),
            "0.1|0.3333333333333333|1e+300|-0|1.2345678901234568e+17|5e-324|2.2250738585072014e-308|100|"
            "\"NaN\"|\"Infinity\"|\"-Infinity\"|1.5");
  st_array_free(a);
  st_field_clear(&f);

  float fv[] = {0.1f, 16777216.0f, 1.17549435e-38f, 3.4028235e38f, 1e-45f};
  f = mkfield("f", ST_T_FLOAT);
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_values(b, fv, 5, NULL, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  st_builder_free(b);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "0.1|16777216|1.1754944e-38|3.4028235e+38|1e-45");
  st_array_free(a);
  st_field_clear(&f);

  /* half: 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24, 0x7bff = 65504, 0x7c00 = inf, 0x3555 ~ 0.33325 */
  uint16_t hv[] = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x3555};
  f = mkfield("h", ST_T_FLOAT16);
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_values(b, hv, 6, NULL, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  st_builder_free(b);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "1|-2|5.960464477539063e-08|65504|inf|0.333251953125");
  st_array_free(a);
  st_field_clear(&f);
}

TEST(table_format_decimals) {
  st_error err = {0};
  st_field f = mkfield("d", ST_T_DECIMAL128);
  f.precision = 38;
  f.scale = 2;
  /* little-endian int128: -12345, 5, 0, INT128_MAX, INT128_MIN */
  uint8_t v[5][16];
  memset(v, 0, sizeof v);
  int64_t lo = -12345;
  memcpy(v[0], &lo, 8);
  memset(v[0] + 8, 0xff, 8);
  v[1][0] = 5;
  memset(v[3], 0xff, 15);
  v[3][15] = 0x7f;
  v[4][15] = 0x80;
  st_builder *b;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_values(b, v, 5, NULL, &err), &err);
  st_array *a;
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "-123.45|0.05|0.00|1701411834604692317316873037158841057.27|-1701411834604692317316873037158841057.28");
  f.scale = -3;
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "-12345000|5000|0|170141183460469231731687303715884105727000|-170141183460469231731687303715884105728000");
  f.scale = 0;
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON),
            "-12345|5|0|170141183460469231731687303715884105727|-170141183460469231731687303715884105728");
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);

  f = mkfield("d", ST_T_DECIMAL256);
  f.precision = 76;
  f.scale = 76;
  uint8_t w[2][32];
  memset(w[0], 0xff, 32); /* -1 */
  memset(w[1], 0, 32);
  /* 10^76 - 1 would overflow precision; use 2^255 - 1 (the maximum) */
  memset(w[1], 0xff, 31);
  w[1][31] = 0x7f;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  CHECK_OK(st_builder_append_values(b, w, 2, NULL, &err), &err);
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "-0.0000000000000000000000000000000000000000000000000000000000000000000000000001|"
            "5.7896044618658097711785492504343953926634992332820282019728792003956564819967");
  st_array_free(a);
  st_builder_free(b);
  st_field_clear(&f);
}

TEST(table_format_temporal) {
  /* date32: epoch, day before, leap day 2000, year 0 (proleptic, leap), 9999-12-31, 0001-01-01 */
  int32_t d[] = {0, -1, 11016, -719528, 2932896, -719162};
  st_array *a = build_i32(d, NULL, 6);
  st_field f = mkfield("d", ST_T_DATE32);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "1970-01-01|1969-12-31|2000-02-29|0000-01-01|9999-12-31|0001-01-01");
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON),
            "\"1970-01-01\"|\"1969-12-31\"|\"2000-02-29\"|\"0000-01-01\"|\"9999-12-31\"|\"0001-01-01\"");
  int32_t d2[] = {-719529, 2932897};
  st_array_free(a);
  a = build_i32(d2, NULL, 2);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "-0001-12-31|10000-01-01");
  st_array_free(a);
  st_field_clear(&f);

  int64_t ts[] = {-1, 0, 951782400123LL, -62135596800000LL};
  a = build_i64(ts, NULL, 4);
  f = mkfield("t", ST_T_TIMESTAMP);
  f.unit = ST_MILLI;
  f.tz = strdup("UTC");
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "1969-12-31T23:59:59.999Z|1970-01-01T00:00:00.000Z|2000-02-29T00:00:00.123Z|0001-01-01T00:00:00.000Z");
  free(f.tz);
  f.tz = NULL;
  f.unit = ST_SECOND;
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "1969-12-31T23:59:59|1970-01-01T00:00:00|32130-10-14T00:02:03|-1967029-04-28T00:00:00");
  f.unit = ST_NANO;
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT),
            "1969-12-31T23:59:59.999999999|1970-01-01T00:00:00.000000000|1970-01-01T00:15:51.782400123|"
            "1969-12-31T06:44:24.403200000");
  st_field_clear(&f);
  f = mkfield("dm", ST_T_DATE64);
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "1969-12-31|1970-01-01|2000-02-29|0001-01-01");
  st_field_clear(&f);
  st_array_free(a);

  int64_t tv[] = {3723000004LL, 0, 86399999999LL, 86400000000LL, -5};
  a = build_i64(tv, NULL, 5);
  f = mkfield("t", ST_T_TIME64);
  f.unit = ST_MICRO;
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "01:02:03.000004|00:00:00.000000|23:59:59.999999|86400000000|-5");
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON),
            "\"01:02:03.000004\"|\"00:00:00.000000\"|\"23:59:59.999999\"|\"86400000000\"|\"-5\"");
  st_field_clear(&f);
  f = mkfield("du", ST_T_DURATION);
  f.unit = ST_NANO;
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON), "3723000004|0|86399999999|86400000000|-5");
  st_field_clear(&f);
  st_array_free(a);
  int32_t t32[] = {3723, 86399};
  a = build_i32(t32, NULL, 2);
  f = mkfield("t", ST_T_TIME32);
  f.unit = ST_SECOND;
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "01:02:03|23:59:59");
  f.unit = ST_MILLI;
  CHECK_STR(fmt_all(&f, a, ST_FMT_TEXT), "00:00:03.723|00:01:26.399");
  st_field_clear(&f);
  st_array_free(a);
}

TEST(table_format_json_strings) {
  const char *v[] = {"a\"b\\\n\x01\t", "\xc3\xa9", "bad\xff", "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\x7f", NULL};
  st_array *a = build_str(ST_T_STRING, v);
  st_field f = mkfield("s", ST_T_STRING);
  CHECK_STR(fmt_all(&f, a, ST_FMT_JSON),
            "\"a\\\"b\\\\\\n\\u0001\\t\"|\"\xc3\xa9\"|\"bad\\ufffd\"|\"\\ufffd\\ufffd\\ufffd\"|\"\xf0\x9f\x98\x80\"|\"\x7f\"");
  st_array_free(a);
  st_field_clear(&f);
}

/* list<int32> [[1,null,3], null, [], [4]] plus a struct{a: int32, s: string} */
static st_array *sample_list(void) {
  int32_t cv[] = {1, 0, 3, 4};
  uint8_t cvalid[] = {1, 0, 1, 1};
  st_array *child = build_i32(cv, cvalid, 4);
  int32_t offs[] = {0, 3, 3, 3, 4};
  uint8_t valid[] = {1, 0, 1, 1};
  return mk_list(offs, 4, valid, child);
}

static st_array *sample_struct(st_field *f) {
  *f = mkfield("st", ST_T_STRUCT);
  st_field a = mkfield("a", ST_T_INT32), s = mkfield("s", ST_T_STRING);
  st_field_add_child(f, &a);
  st_field_add_child(f, &s);
  st_field_clear(&a);
  st_field_clear(&s);
  int32_t av[] = {10, 20, 30, 40, 50};
  const char *sv[] = {"p", "q", "<null>", "r,s", "t", NULL};
  st_array *st = st_array_new();
  st->length = 4;   /* children have 5: the struct is offset by 1 */
  st->offset = 1;
  st->n_buffers = 1;
  st->null_count = 0;
  st->n_children = 2;
  st->children = calloc(2, sizeof(st_array *));
  st->children[0] = build_i32(av, NULL, 5);
  st->children[1] = build_str(ST_T_STRING, sv);
  return st;
}

TEST(table_nested_format_take_concat) {
  st_error err = {0};
  st_field lf = list_field("l", ST_T_INT32);
  st_array *l = sample_list();
  CHECK_OK(st_array_validate(&lf, l, &err), &err);
  CHECK_STR(fmt_all(&lf, l, ST_FMT_TEXT), "[1,null,3]||[]|[4]");
  CHECK_STR(fmt_all(&lf, l, ST_FMT_JSON), "[1,null,3]|null|[]|[4]");

  st_field sf;
  st_array *s = sample_struct(&sf);
  CHECK_OK(st_array_validate(&sf, s, &err), &err);
  CHECK_STR(fmt_all(&sf, s, ST_FMT_JSON),
            "{\"a\":20,\"s\":\"q\"}|{\"a\":30,\"s\":null}|{\"a\":40,\"s\":\"r,s\"}|{\"a\":50,\"s\":\"t\"}");

  /* take with repeats and -1 */
  int64_t idx[] = {3, 0, -1, 0, 1};
  st_array *t;
  CHECK_OK(st_array_take(&lf, l, idx, 5, &t, &err), &err);
  CHECK_OK(st_array_validate(&lf, t, &err), &err);
  CHECK_STR(fmt_all(&lf, t, ST_FMT_JSON), "[4]|[1,null,3]|null|[1,null,3]|null");
  st_array_free(t);
  CHECK_OK(st_array_take(&sf, s, idx, 5, &t, &err), &err);
  CHECK_OK(st_array_validate(&sf, t, &err), &err);
  CHECK_STR(fmt_all(&sf, t, ST_FMT_JSON),
            "{\"a\":50,\"s\":\"t\"}|{\"a\":20,\"s\":\"q\"}|null|{\"a\":20,\"s\":\"q\"}|{\"a\":30,\"s\":null}");
  st_array_free(t);
  int64_t bad[] = {4};
  CHECK(st_array_take(&sf, s, bad, 1, &t, &err) == ST_ERR_INVALID);

  /* concat a slice with the whole: offsets rebased, struct offset honoured */
  st_array *ls;
  CHECK_OK(st_array_slice(l, 1, 3, &ls, &err), &err);
  st_array *parts[2] = {ls, l};
  st_array *c;
  CHECK_OK(st_array_concat(&lf, parts, 2, &c, &err), &err);
  CHECK_OK(st_array_validate(&lf, c, &err), &err);
  CHECK_STR(fmt_all(&lf, c, ST_FMT_JSON), "null|[]|[4]|[1,null,3]|null|[]|[4]");
  st_array_free(c);
  st_array *ss;
  CHECK_OK(st_array_slice(s, 2, 2, &ss, &err), &err);
  parts[0] = ss;
  parts[1] = s;
  CHECK_OK(st_array_concat(&sf, parts, 2, &c, &err), &err);
  CHECK_OK(st_array_validate(&sf, c, &err), &err);
  CHECK_STR(fmt_all(&sf, c, ST_FMT_TEXT),
            "{\"a\":40,\"s\":\"r,s\"}|{\"a\":50,\"s\":\"t\"}|{\"a\":20,\"s\":\"q\"}|{\"a\":30,\"s\":null}|"
            "{\"a\":40,\"s\":\"r,s\"}|{\"a\":50,\"s\":\"t\"}");
  st_array_free(c);
  st_array_free(ss);
  st_array_free(ls);
  st_array_free(l);
  st_array_free(s);
  st_field_clear(&lf);
  st_field_clear(&sf);
}

TEST(table_bool_concat_unaligned) {
  st_error err = {0};
  st_field f = mkfield("b", ST_T_BOOL);
  st_builder *b;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  uint8_t v[20], valid[20];
  char want[512] = "";
  for (int i = 0; i < 20; i++) {
    v[i] = (uint8_t)((i * 7) % 3 == 0);
    valid[i] = (uint8_t)(i % 5 != 2);
  }
  CHECK_OK(st_builder_append_values(b, v, 20, valid, &err), &err);
  st_array *a;
  CHECK_OK(st_builder_finish(b, &a, &err), &err);
  st_builder_free(b);
  st_array *s1, *s2;
  CHECK_OK(st_array_slice(a, 3, 11, &s1, &err), &err);
  CHECK_OK(st_array_slice(a, 7, 13, &s2, &err), &err);
  st_array *parts[3] = {s1, s2, s1};
  st_array *c;
  CHECK_OK(st_array_concat(&f, parts, 3, &c, &err), &err);
  CHECK_OK(st_array_validate(&f, c, &err), &err);
  size_t n = 0;
  int ranges[3][2] = {{3, 11}, {7, 13}, {3, 11}};
  int k = 0;
  for (int r = 0; r < 3; r++)
    for (int i = ranges[r][0]; i < ranges[r][0] + ranges[r][1]; i++)
      n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", k++ ? "|" : "",
                            !valid[i] ? "" : v[i] ? "true" : "false");
  CHECK_STR(fmt_all(&f, c, ST_FMT_TEXT), want);
  CHECK_EQ_I64(st_array_null_count(c), 2 + 3 + 2);
  st_array_free(c);
  st_array_free(s1);
  st_array_free(s2);
  st_array_free(a);
  st_field_clear(&f);
}

/* ---- validate ------------------------------------------------------------------- */

TEST(table_validate_rejects_corruption) {
  st_error err = {0};
  const char *sv[] = {"ab", "c", "", "def", NULL};
  st_field f = mkfield("s", ST_T_STRING);
  st_array *a = build_str(ST_T_STRING, sv);
  CHECK_OK(st_array_validate(&f, a, &err), &err);
  int32_t *o = (int32_t *)a->mem[1]->data;
  o[2] = 1; /* 0,2,1,3,6: decreasing */
  CHECK(st_array_validate(&f, a, &err) == ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "decrease") != NULL);
  o[2] = 3;
  o[4] = 1000; /* beyond data */
  CHECK(st_array_validate(&f, a, &err) == ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "beyond data") != NULL);
  o[4] = 6;
  a->null_count = 2; /* no bitmap */
  CHECK(st_array_validate(&f, a, &err) == ST_ERR_CORRUPT);
  a->null_count = 0;
  a->length = 100; /* offsets buffer too short */
  CHECK(st_array_validate(&f, a, &err) == ST_ERR_CORRUPT);
  a->length = 4;
  CHECK_OK(st_array_validate(&f, a, &err), &err);
  st_field g = mkfield("i", ST_T_INT32);
  CHECK(st_array_validate(&g, a, &err) == ST_ERR_CORRUPT); /* 3 buffers for an int32 */
  st_field_clear(&g);
  st_array_free(a);
  st_field_clear(&f);

  st_field lf = list_field("l", ST_T_INT32);
  st_array *l = sample_list();
  ((int32_t *)l->mem[1]->data)[4] = 5; /* child has 4 */
  CHECK(st_array_validate(&lf, l, &err) == ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "beyond child") != NULL);
  ((int32_t *)l->mem[1]->data)[4] = 4;
  l->null_count = 0; /* bitmap says 1 */
  CHECK(st_array_validate(&lf, l, &err) == ST_ERR_CORRUPT);
  l->null_count = -1;
  CHECK_OK(st_array_validate(&lf, l, &err), &err);
  st_array_free(l);
  st_field_clear(&lf);

  st_field sf;
  st_array *s = sample_struct(&sf);
  s->length = 5; /* offset 1 + 5 > child length 5 */
  CHECK(st_array_validate(&sf, s, &err) == ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "st.a") != NULL);
  st_array_free(s);
  st_field_clear(&sf);

  /* dictionary index out of range */
  int32_t ix[] = {0, 2, 1};
  st_array *d = build_i32(ix, NULL, 3);
  const char *dv[] = {"x", "y", NULL};
  d->dictionary = build_str(ST_T_STRING, dv);
  st_field df = mkfield("d", ST_T_STRING);
  df.dict_encoded = true;
  CHECK(st_array_validate(&df, d, &err) == ST_ERR_CORRUPT);
  ((int32_t *)d->mem[1]->data)[1] = 1;
  CHECK_OK(st_array_validate(&df, d, &err), &err);
  CHECK_STR(fmt_all(&df, d, ST_FMT_TEXT), "x|y|y");
  int64_t tidx[] = {2, -1, 0};
  st_array *t;
  CHECK_OK(st_array_take(&df, d, tidx, 3, &t, &err), &err);
  CHECK_OK(st_array_validate(&df, t, &err), &err);
  CHECK_STR(fmt_all(&df, t, ST_FMT_JSON), "\"y\"|null|\"x\"");
  st_array *parts[2] = {d, t};
  st_array *c;
  CHECK_OK(st_array_concat(&df, parts, 2, &c, &err), &err);
  CHECK_OK(st_array_validate(&df, c, &err), &err);
  CHECK_STR(fmt_all(&df, c, ST_FMT_TEXT), "x|y|y|y||x");
  st_array_free(c);
  st_array_free(t);
  st_array_free(d);
  st_field_clear(&df);
}

/* ---- tables, CSV, Arrow ------------------------------------------------------------- */

static st_table *sample_table(void) {
  st_field fl[3];
  fl[0] = mkfield("id", ST_T_INT64);
  fl[1] = mkfield("name", ST_T_STRING);
  fl[2] = list_field("l", ST_T_INT32);
  int64_t ids[] = {1, 2, 3, 4};
  const char *names[] = {"a", "", "<null>", "x\"y", NULL};
  st_array *cols[3] = {build_i64(ids, NULL, 4), build_str(ST_T_STRING, names), sample_list()};
  st_table *t = NULL;
  st_error err = {0};
  st_field meta = mkfield("", ST_T_STRUCT);
  st_field_set_meta(&meta, "k", "v");
  st_table_new(fl, cols, 3, -1, &meta, &t, &err);
  st_field_clear(&meta);
  for (int i = 0; i < 3; i++) st_field_clear(&fl[i]);
  return t;
}

static char *write_to_string(const st_table *t, bool csv, bool header) {
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  st_error err = {0};
  int rc = csv ? st_table_write_csv(t, fp, header, &err) : st_table_write_jsonl(t, fp, &err);
  fclose(fp);
  if (rc) {
    free(buf);
    return strdup(err.msg);
  }
  return buf;
}

TEST(table_write_csv_jsonl) {
  st_table *t = sample_table();
  CHECK(t != NULL);
  CHECK_EQ_I64(t->n_rows, 4);
  CHECK_EQ_I64(st_table_column_index(t, "name"), 1);
  CHECK_EQ_I64(st_table_column_index(t, "nope"), -1);
  char *s = write_to_string(t, true, true);
  CHECK_STR(s, "id,name,l\n1,a,\"[1,null,3]\"\n2,\"\",\n3,,[]\n4,\"x\"\"y\",[4]\n");
  free(s);
  s = write_to_string(t, true, false);
  CHECK_STR(s, "1,a,\"[1,null,3]\"\n2,\"\",\n3,,[]\n4,\"x\"\"y\",[4]\n");
  free(s);
  s = write_to_string(t, false, false);
  CHECK_STR(s, "{\"id\":1,\"name\":\"a\",\"l\":[1,null,3]}\n{\"id\":2,\"name\":\"\",\"l\":null}\n"
               "{\"id\":3,\"name\":null,\"l\":[]}\n{\"id\":4,\"name\":\"x\\\"y\",\"l\":[4]}\n");
  free(s);

  /* select, slice, take, concat on tables */
  st_error err = {0};
  int cols[] = {2, 0};
  st_table *sel, *sl, *tk, *cat;
  CHECK_OK(st_table_select_columns(t, cols, 2, &sel, &err), &err);
  CHECK_OK(st_table_slice(sel, 1, 3, &sl, &err), &err);
  int64_t idx[] = {2, 2, 0};
  CHECK_OK(st_table_take(sl, idx, 3, &tk, &err), &err);
  st_table_free(sel);
  st_table *parts[2] = {sl, tk};
  CHECK_OK(st_table_concat(parts, 2, &cat, &err), &err);
  CHECK_OK(st_table_validate(cat, &err), &err);
  CHECK_STR(st_field_get_meta(&cat->schema, "k"), "v");
  s = write_to_string(cat, true, true);
  CHECK_STR(s, "l,id\n,2\n[],3\n[4],4\n[4],4\n[4],4\n,2\n");
  free(s);
  parts[1] = t;
  st_table *bad = NULL;
  CHECK(st_table_concat(parts, 2, &bad, &err) == ST_ERR_SCHEMA);
  CHECK(bad == NULL);
  st_table_free(cat);
  st_table_free(tk);
  st_table_free(sl);
  st_table_free(t);
}

TEST(table_arrow_c_roundtrip_and_release_order) {
  st_error err = {0};
  for (int order = 0; order < 3; order++) {
    st_table *t = sample_table();
    struct ArrowSchema s;
    struct ArrowArray a;
    CHECK_OK(st_table_export_arrow(t, &s, &a, &err), &err);
    CHECK(!strcmp(s.format, "+s") && s.n_children == 3 && a.length == 4);
    CHECK(!strcmp(s.children[0]->format, "l") && !strcmp(s.children[1]->format, "u"));
    CHECK(!strcmp(s.children[2]->format, "+l") && !strcmp(s.children[2]->children[0]->format, "i"));
    CHECK(a.children[0]->buffers[1] == t->columns[0]->buf[1]); /* zero-copy */
    /* metadata encoding: count 1, "k", "v" */
    int32_t m[2];
    memcpy(m, s.metadata, 8);
    CHECK(m[0] == 1 && m[1] == 1 && s.metadata[8] == 'k');
    if (order == 0) st_table_free(t); /* table first, then the export */
    st_table *back;
    CHECK_OK(st_table_import_arrow(&s, &a, &back, &err), &err);
    CHECK(s.release == NULL && a.release == NULL);
    if (order == 1) st_table_free(t); /* table after import, before the imported table */
    CHECK_OK(st_table_validate(back, &err), &err);
    char *txt = write_to_string(back, true, true);
    CHECK_STR(txt, "id,name,l\n1,a,\"[1,null,3]\"\n2,\"\",\n3,,[]\n4,\"x\"\"y\",[4]\n");
    free(txt);
    CHECK_STR(st_field_get_meta(&back->schema, "k"), "v");
    st_table *sl;
    CHECK_OK(st_table_slice(back, 2, 2, &sl, &err), &err);
    st_table_free(back);  /* the slice keeps the imported memory alive */
    txt = write_to_string(sl, false, false);
    CHECK_STR(txt, "{\"id\":3,\"name\":null,\"l\":[]}\n{\"id\":4,\"name\":\"x\\\"y\",\"l\":[4]}\n");
    free(txt);
    st_table_free(sl);
    if (order == 2) st_table_free(t);
  }
  /* exported structs released by the consumer without import */
  st_table *t = sample_table();
  struct ArrowSchema s;
  struct ArrowArray a;
  CHECK_OK(st_table_export_arrow(t, &s, &a, &err), &err);
  /* consumer moves a child out, releases the parent, then the child */
  struct ArrowArray child = *a.children[1];
  a.children[1]->release = NULL;
  a.release(&a);
  st_table_free(t);
  CHECK(child.length == 4);
  child.release(&child);
  s.release(&s);
}

TEST(table_arrow_import_rejects_unknown_format) {
  st_table *t = sample_table();
  st_error err = {0};
  struct ArrowSchema s;
  struct ArrowArray a;
  CHECK_OK(st_table_export_arrow(t, &s, &a, &err), &err);
  st_table_free(t);
  s.children[1]->format = "vu"; /* string view */
  st_table *back = NULL;
  CHECK(st_table_import_arrow(&s, &a, &back, &err) == ST_ERR_UNSUPPORTED);
  CHECK(strstr(err.msg, "\"vu\"") != NULL);
  CHECK(back == NULL && s.release == NULL && a.release == NULL);
}

/* Random corruption of offsets/lengths: validate never reads out of bounds, and whatever it
   accepts can be formatted, taken and concatenated safely (run under ASan). */
TEST(table_validate_random_corruption) {
  st_error err = {0};
  st_field lf = mkfield("l", ST_T_LIST);
  st_field sc = mkfield("item", ST_T_STRING);
  st_field_add_child(&lf, &sc);
  st_field_clear(&sc);
  uint64_t rng = 88172645463325252ULL;
  int accepted = 0;
  for (int iter = 0; iter < 2000; iter++) {
    const char *sv[] = {"alpha", "", "<null>", "gamma", "de", "epsilon", "z", NULL};
    st_array *child = build_str(ST_T_STRING, sv);
    int32_t offs[] = {0, 2, 2, 5, 7};
    uint8_t valid[] = {1, 0, 1, 1};
    st_array *l = mk_list(offs, 4, valid, child);
    for (int k = 0; k < 1 + iter % 3; k++) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      int what = (int)(rng % 6);
      int32_t val = (int32_t)((rng >> 8) % 12) - 2;
      switch (what) {
      case 0: ((int32_t *)l->mem[1]->data)[(rng >> 20) % 5] = val; break;
      case 1: ((int32_t *)child->mem[1]->data)[(rng >> 20) % 8] = val * 3; break;
      case 2: l->length = val; break;
      case 3: l->offset = val; break;
      case 4: child->length = val; break;
      default: child->offset = val; break;
      }
    }
    if (st_array_validate(&lf, l, &err) == 0) {
      accepted++;
      st_text t = {0};
      for (int64_t i = 0; i < l->length; i++) CHECK_OK(st_format_value(&lf, l, i, ST_FMT_JSON, &t, &err), &err);
      st_text_free(&t);
      int64_t idx[3] = {l->length - 1, 0, -1};
      st_array *tk = NULL, *cc = NULL;
      if (l->length > 0) {
        CHECK_OK(st_array_take(&lf, l, idx, 3, &tk, &err), &err);
        CHECK_OK(st_array_validate(&lf, tk, &err), &err);
      }
      st_array *parts[2] = {l, l};
      CHECK_OK(st_array_concat(&lf, parts, 2, &cc, &err), &err);
      CHECK_OK(st_array_validate(&lf, cc, &err), &err);
      st_array_free(tk);
      st_array_free(cc);
    } else {
      CHECK(err.code == ST_ERR_CORRUPT);
    }
    st_array_free(l);
  }
  CHECK(accepted > 50 && accepted < 2000);
  st_field_clear(&lf);
}

/* st_table_column_doubles / st_half_to_double: IEEE half facts, nulls -> NaN, type errors. */
TEST(table_column_doubles) {
  CHECK(st_half_to_double(0x3C00) == 1.0);
  CHECK(st_half_to_double(0xC000) == -2.0);
  CHECK(st_half_to_double(0x0001) == 0x1p-24);          /* smallest subnormal */
  CHECK(st_half_to_double(0x7BFF) == 65504.0);          /* largest finite     */
  CHECK(isinf(st_half_to_double(0xFC00)) && st_half_to_double(0xFC00) < 0);
  CHECK(isnan(st_half_to_double(0x7E00)));
  CHECK(st_type_is_numeric(ST_T_UINT16) && st_type_is_numeric(ST_T_FLOAT16) &&
        !st_type_is_numeric(ST_T_STRING) && !st_type_is_numeric(ST_T_BOOL));

  int64_t v[5] = {-3, 1, (int64_t)1 << 40, 7, 9};
  uint8_t valid[5] = {1, 1, 1, 0, 1};
  st_array *cols[2] = {build_i64(v, valid, 5), build_str(ST_T_STRING, (const char *const[]){"a", "b", "c", "d", "e", NULL})};
  st_field fields[2] = {mkfield("i", ST_T_INT64), mkfield("s", ST_T_STRING)};
  st_table *t = NULL;
  st_error err = {0};
  CHECK(cols[0] && cols[1]);
  CHECK(st_table_new(fields, cols, 2, 5, NULL, &t, &err) == 0);
  double out[5];
  CHECK(st_table_column_doubles(t, 0, 1, 4, out, &err) == 0);
  CHECK(out[0] == 1.0 && out[1] == 1099511627776.0 && isnan(out[2]) && out[3] == 9.0);
  CHECK(st_table_column_doubles(t, 1, 0, 5, out, &err) == ST_ERR_SCHEMA);
  CHECK(strstr(err.msg, "'s'") && strstr(err.msg, "not numeric"));
  CHECK(st_table_column_doubles(t, 0, 3, 3, out, &err) == ST_ERR_INVALID);
  CHECK(st_table_column_doubles(t, 2, 0, 1, out, &err) == ST_ERR_INVALID);
  st_table_free(t);
  st_field_clear(&fields[0]);
  st_field_clear(&fields[1]);
}
