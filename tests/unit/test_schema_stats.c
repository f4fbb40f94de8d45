/*
** This file implements unit tests of statistics interpretation (stats.c) and
** value formatting (meta_view.c): which bounds are trusted under each column
** order (PARQUET-251 legacy rules, unknown orders, INT96), NaN and signed-zero
** handling, float16 decoding, malformed widths, and the text of decimals,
** doubles and bytes.  Expected values are worked out by hand from the spec.
*/
#include <math.h>
#include <stdlib.h>

#include "test.h"
#include "parquet/meta.h"

static st_pq_schema_elem leaf(int type, int ct, int lt_kind) {
  st_pq_schema_elem e;
  memset(&e, 0, sizeof e);
  e.name = "x";
  e.has_type = true;
  e.type = type;
  e.has_repetition = true;
  e.repetition = ST_PQ_OPTIONAL;
  e.converted_type = ct;
  e.logical.kind = lt_kind;
  return e;
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

TEST(stats_orders_and_legacy) {
  uint8_t mn[8], mx[8];
  put_le32(mn, (uint32_t)-5);
  put_le32(mx, 7);
  st_pq_stats s;
  memset(&s, 0, sizeof s);
  st_pq_value lo, hi;
  st_pq_schema_elem i32 = leaf(ST_PQ_INT32, 0, 0);
  /* new fields with TYPE_DEFINED order */
  s.has_min = s.has_max = true;
  s.min = mn;
  s.max = mx;
  s.min_len = s.max_len = 4;
  CHECK(st_pq_stats_bounds(&i32, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 2);
  CHECK(lo.kind == ST_PQ_VALUE_INT && lo.i == -5 && hi.i == 7);
  /* unknown column order member: ignored */
  CHECK(st_pq_stats_bounds(&i32, ST_PQ_ORDER_UNKNOWN, true, &s, &lo, &hi) == 0);
  CHECK(lo.kind == ST_PQ_VALUE_NONE && hi.kind == ST_PQ_VALUE_NONE);
  /* no column_orders in the file: min_value/max_value undefined, no legacy -> none */
  CHECK(st_pq_stats_bounds(&i32, ST_PQ_ORDER_UNKNOWN, false, &s, &lo, &hi) == 0);
  /* legacy fields on a signed int column: trusted */
  memset(&s, 0, sizeof s);
  s.has_legacy_min = s.has_legacy_max = true;
  s.legacy_min = mn;
  s.legacy_max = mx;
  s.legacy_min_len = s.legacy_max_len = 4;
  CHECK(st_pq_stats_bounds(&i32, ST_PQ_ORDER_UNKNOWN, false, &s, &lo, &hi) == 2);
  CHECK(lo.i == -5 && hi.i == 7);
  /* legacy on unsigned: not trusted (signed order was used) */
  st_pq_schema_elem u32 = leaf(ST_PQ_INT32, ST_PQ_CT_UINT_32, 0);
  CHECK(st_pq_stats_bounds(&u32, ST_PQ_ORDER_UNKNOWN, false, &s, &lo, &hi) == 0);
  /* legacy on strings: not trusted (PARQUET-251) */
  st_pq_schema_elem str = leaf(ST_PQ_BYTE_ARRAY, ST_PQ_CT_UTF8, ST_PQ_LT_STRING);
  CHECK(st_pq_stats_bounds(&str, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 0);
  /* unsigned with new fields: 0xfffffffb is 4294967291, not -5 */
  memset(&s, 0, sizeof s);
  s.has_min = s.has_max = true;
  s.min = mx;
  s.max = mn;
  s.min_len = s.max_len = 4;
  CHECK(st_pq_stats_bounds(&u32, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 2);
  CHECK(lo.kind == ST_PQ_VALUE_UINT && lo.u == 7 && hi.u == 4294967291u);
  /* INT96: never */
  st_pq_schema_elem i96 = leaf(ST_PQ_INT96, 0, 0);
  uint8_t twelve[12] = {0};
  s.min = s.max = twelve;
  s.min_len = s.max_len = 12;
  CHECK(st_pq_stats_bounds(&i96, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 0);
  /* wrong width: dropped, no over-read */
  s.min = mn;
  s.max = mx;
  s.min_len = 3;
  s.max_len = 4;
  CHECK(st_pq_stats_bounds(&i32, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 1);
  CHECK(lo.kind == ST_PQ_VALUE_NONE && hi.kind == ST_PQ_VALUE_INT);
  /* strings with new fields: bytes, text */
  s.min = (uint8_t *)"abc";
  s.max = (uint8_t *)"abd";
  s.min_len = s.max_len = 3;
  CHECK(st_pq_stats_bounds(&str, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 2);
  CHECK(lo.kind == ST_PQ_VALUE_BYTES && lo.is_text && lo.len == 3 && !memcmp(lo.bytes, "abc", 3));
  /* FLBA: length must equal the width */
  st_pq_schema_elem fl = leaf(ST_PQ_FIXED_LEN_BYTE_ARRAY, 0, 0);
  fl.type_length = 4;
  CHECK(st_pq_stats_bounds(&fl, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 0);
}

TEST(stats_floats) {
  st_pq_schema_elem d = leaf(ST_PQ_DOUBLE, 0, 0);
  uint8_t mn[8], mx[8];
  double v;
  uint64_t u;
  st_pq_stats s;
  memset(&s, 0, sizeof s);
  s.has_min = s.has_max = true;
  s.min = mn;
  s.max = mx;
  s.min_len = s.max_len = 8;
  st_pq_value lo, hi;
  /* +0.0 min -> -0.0; -0.0 max -> +0.0 */
  v = 0.0;
  memcpy(&u, &v, 8);
  put_le64(mn, u);
  v = -0.0;
  memcpy(&u, &v, 8);
  put_le64(mx, u);
  CHECK(st_pq_stats_bounds(&d, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 2);
  CHECK(lo.d == 0 && signbit(lo.d) && hi.d == 0 && !signbit(hi.d));
  /* NaN max: dropped, min kept */
  v = -1.5;
  memcpy(&u, &v, 8);
  put_le64(mn, u);
  v = NAN;
  memcpy(&u, &v, 8);
  put_le64(mx, u);
  CHECK(st_pq_stats_bounds(&d, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 1);
  CHECK(lo.d == -1.5 && hi.kind == ST_PQ_VALUE_NONE);
  /* FLOAT legacy fields are trusted */
  st_pq_schema_elem f = leaf(ST_PQ_FLOAT, 0, 0);
  float fl = 2.25f;
  uint32_t w;
  memcpy(&w, &fl, 4);
  put_le32(mn, w);
  memset(&s, 0, sizeof s);
  s.has_legacy_min = s.has_legacy_max = true;
  s.legacy_min = s.legacy_max = mn;
  s.legacy_min_len = s.legacy_max_len = 4;
  CHECK(st_pq_stats_bounds(&f, ST_PQ_ORDER_UNKNOWN, false, &s, &lo, &hi) == 2);
  CHECK(lo.d == 2.25 && hi.d == 2.25);
  /* float16: 0x3c00 = 1.0, 0xc000 = -2.0, 0x7c00 = inf, 0x7e00 = NaN, 0x0001 = 2^-24 */
  CHECK(st_half_to_double(0x3c00) == 1.0 && st_half_to_double(0xc000) == -2.0);
  CHECK(isinf(st_half_to_double(0x7c00)) && isnan(st_half_to_double(0x7e00)));
  CHECK(st_half_to_double(0x0001) == ldexp(1, -24) && st_half_to_double(0x7bff) == 65504.0);
  st_pq_schema_elem h = leaf(ST_PQ_FIXED_LEN_BYTE_ARRAY, 0, ST_PQ_LT_FLOAT16);
  h.type_length = 2;
  uint8_t hmin[2] = {0x00, 0xc0}, hmax[2] = {0x00, 0x7e};
  memset(&s, 0, sizeof s);
  s.has_min = s.has_max = true;
  s.min = hmin;
  s.max = hmax;
  s.min_len = s.max_len = 2;
  CHECK(st_pq_stats_bounds(&h, ST_PQ_ORDER_TYPE_DEFINED, true, &s, &lo, &hi) == 1);
  CHECK(lo.kind == ST_PQ_VALUE_DOUBLE && lo.d == -2.0 && hi.kind == ST_PQ_VALUE_NONE);
}

TEST(stats_value_format) {
  char buf[128];
  st_pq_value v;
  memset(&v, 0, sizeof v);
  v.kind = ST_PQ_VALUE_INT;
  v.i = -12345;
  v.is_decimal = true;
  v.scale = 2;
  CHECK(st_pq_value_format(&v, buf, sizeof buf) == 7 && !strcmp(buf, "-123.45"));
  v.i = 5;
  v.scale = 3;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(!strcmp(buf, "0.005"));
  v.is_decimal = false;
  v.i = INT64_MIN;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(!strcmp(buf, "-9223372036854775808"));
  /* big-endian two's complement: 0xff 0x85 = -123 ; scale 1 -> -12.3 */
  uint8_t be[2] = {0xff, 0x85};
  memset(&v, 0, sizeof v);
  v.kind = ST_PQ_VALUE_BYTES;
  v.bytes = be;
  v.len = 2;
  v.is_decimal = true;
  v.scale = 1;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(!strcmp(buf, "-12.3"));
  /* 16 bytes: 2^100 = 1267650600228229401496703205376 */
  uint8_t big[16] = {0};
  big[16 - 13] = 0x10; /* bit 100 = byte 12 from the right, value 0x10 */
  v.bytes = big;
  v.len = 16;
  v.scale = 0;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(!strcmp(buf, "1267650600228229401496703205376"));
  /* non-decimal bytes: hex */
  v.is_decimal = false;
  v.bytes = be;
  v.len = 2;
  CHECK(st_pq_value_format(&v, buf, sizeof buf) == 6 && !strcmp(buf, "0xff85"));
  /* truncation keeps NUL termination and reports the full length */
  CHECK(st_pq_value_format(&v, buf, 4) == 6 && !strcmp(buf, "0xf"));
  /* doubles: shortest round-trip text */
  memset(&v, 0, sizeof v);
  v.kind = ST_PQ_VALUE_DOUBLE;
  v.d = 0.1;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(!strcmp(buf, "0.1"));
  v.d = -0.0;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(!strcmp(buf, "-0"));
  v.d = 1.0 / 3.0;
  st_pq_value_format(&v, buf, sizeof buf);
  CHECK(strtod(buf, NULL) == 1.0 / 3.0);
}
