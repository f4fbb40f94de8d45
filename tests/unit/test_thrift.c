/*
** This file implements unit tests of the Thrift compact protocol (thrift.c)
** and the Parquet footer decoder/encoder (meta.c): hand-assembled byte
** sequences with known meaning (from the compact protocol spec), hostile
** inputs (deep nesting, huge counts, truncation), and every footer of the
** parquet-testing fixtures decoded, re-encoded and decoded again.
*/
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "parquet/meta.h"
#include "parquet/thrift.h"
#include "test_thrift_util.h"

/* ---- primitives ------------------------------------------------------------ */

TEST(thrift_varint_zigzag) {
  st_error err;
  /* 300 = 0b1_0010_1100 -> ac 02 */
  const uint8_t v1[] = {0xac, 0x02};
  st_tc_in in;
  uint64_t u;
  st_tc_in_init(&in, v1, sizeof v1, &err);
  CHECK_OK(st_tc_varint(&in, &u), &err);
  CHECK_EQ_I64(u, 300);
  CHECK(st_tc_left(&in) == 0);
  /* zigzag: 0->0, -1->1, 1->2, -2->3 */
  const uint8_t z[] = {0x00, 0x01, 0x02, 0x03, 0xff, 0xff, 0xff, 0xff, 0x0f};
  int64_t want[] = {0, -1, 1, -2, INT32_MIN};
  st_tc_in_init(&in, z, sizeof z, &err);
  for (int i = 0; i < 5; i++) {
    int64_t x;
    CHECK_OK(st_tc_i64(&in, &x), &err);
    CHECK_EQ_I64(x, want[i]);
  }
  /* i64 extremes round trip through the encoder */
  int64_t ext[] = {INT64_MIN, INT64_MAX, 0, -1, 1, 1234567890123LL};
  st_buf b;
  st_buf_init(&b);
  st_tc_out o;
  st_tc_out_init(&o, &b, &err);
  for (int i = 0; i < 6; i++) st_tc_w_zigzag(&o, ext[i]);
  CHECK_OK(st_tc_out_finish(&o), &err);
  st_tc_in_init(&in, b.data, b.len, &err);
  for (int i = 0; i < 6; i++) {
    int64_t x;
    CHECK_OK(st_tc_i64(&in, &x), &err);
    CHECK(x == ext[i]);
  }
  CHECK(st_tc_left(&in) == 0);
  st_buf_free(&b);
}

TEST(thrift_varint_bounds) {
  st_error err;
  st_tc_in in;
  uint64_t u;
  /* 11 continuation bytes: rejected */
  uint8_t long_v[11];
  memset(long_v, 0x80, sizeof long_v);
  st_tc_in_init(&in, long_v, sizeof long_v, &err);
  CHECK(st_tc_varint(&in, &u) == ST_ERR_CORRUPT);
  /* 10th byte > 1 overflows 64 bits */
  uint8_t ovf[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  st_tc_in_init(&in, ovf, sizeof ovf, &err);
  CHECK(st_tc_varint(&in, &u) == ST_ERR_CORRUPT);
  /* UINT64_MAX is fine */
  uint8_t max[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  st_tc_in_init(&in, max, sizeof max, &err);
  CHECK_OK(st_tc_varint(&in, &u), &err);
  CHECK(u == UINT64_MAX);
  /* truncated */
  st_tc_in_init(&in, max, 3, &err);
  CHECK(st_tc_varint(&in, &u) == ST_ERR_CORRUPT);
  /* i32 out of range */
  int32_t x;
  const uint8_t big[] = {0x80, 0x80, 0x80, 0x80, 0x10}; /* zigzag 2^32 -> 2^31 */
  st_tc_in_init(&in, big, sizeof big, &err);
  CHECK(st_tc_i32(&in, &x) == ST_ERR_CORRUPT);
}

TEST(thrift_fields_and_bools) {
  st_error err;
  /* struct { 1: i32 = 5 (short form), 3: bool true (delta 2), 300: binary "ab"
     (long form: type byte 0x08, zigzag 300 = 600 = d8 04), stop } */
  const uint8_t b[] = {0x15, 0x0a, 0x21, 0x08, 0xd8, 0x04, 0x02, 'a', 'b', 0x00};
  st_tc_in in;
  st_tc_in_init(&in, b, sizeof b, &err);
  int16_t last = 0, id;
  int t;
  CHECK_OK(st_tc_struct_enter(&in), &err);
  CHECK_OK(st_tc_field(&in, &last, &t, &id), &err);
  CHECK(t == ST_TC_I32 && id == 1);
  int32_t v;
  CHECK_OK(st_tc_i32(&in, &v), &err);
  CHECK_EQ_I64(v, 5);
  CHECK_OK(st_tc_field(&in, &last, &t, &id), &err);
  CHECK(t == ST_TC_TRUE && id == 3);
  CHECK_OK(st_tc_field(&in, &last, &t, &id), &err);
  CHECK(t == ST_TC_BINARY && id == 300);
  const uint8_t *p;
  uint32_t n;
  CHECK_OK(st_tc_binary(&in, &p, &n), &err);
  CHECK(n == 2 && !memcmp(p, "ab", 2));
  CHECK_OK(st_tc_field(&in, &last, &t, &id), &err);
  CHECK(t == ST_TC_STOP);
  st_tc_struct_leave(&in);
  CHECK(st_tc_left(&in) == 0);

  /* the encoder produces exactly these bytes */
  st_buf out;
  st_buf_init(&out);
  st_tc_out o;
  st_tc_out_init(&o, &out, &err);
  st_tc_w_begin(&o);
  st_tc_w_i32(&o, 1, 5);
  st_tc_w_bool(&o, 3, true);
  st_tc_w_binary(&o, 300, "ab", 2);
  st_tc_w_end(&o);
  CHECK_OK(st_tc_out_finish(&o), &err);
  CHECK(out.len == sizeof b && !memcmp(out.data, b, sizeof b));
  st_buf_free(&out);
}

TEST(thrift_lists_and_maps) {
  st_error err;
  /* list<i32> short form: 3 elements (0x35), values 1,-1,2 */
  const uint8_t l1[] = {0x35, 0x02, 0x01, 0x04};
  st_tc_in in;
  int et;
  uint32_t n;
  st_tc_in_init(&in, l1, sizeof l1, &err);
  CHECK_OK(st_tc_list(&in, &et, &n), &err);
  CHECK(et == ST_TC_I32 && n == 3);
  /* long form: 0xf5 then varint 20; only 3 bytes follow -> rejected before allocating */
  const uint8_t l2[] = {0xf5, 0x14, 0x00, 0x00, 0x00};
  st_tc_in_init(&in, l2, sizeof l2, &err);
  CHECK(st_tc_list(&in, &et, &n) == ST_ERR_CORRUPT);
  /* a list claiming 2^32-1 elements */
  const uint8_t l3[] = {0xfc, 0xff, 0xff, 0xff, 0xff, 0x0f};
  st_tc_in_init(&in, l3, sizeof l3, &err);
  CHECK(st_tc_list(&in, &et, &n) == ST_ERR_CORRUPT);
  /* long-form list of 16 bools encoded and skipped */
  st_buf b;
  st_buf_init(&b);
  st_tc_out o;
  st_tc_out_init(&o, &b, &err);
  st_tc_w_list_header(&o, ST_TC_BOOL, 16);
  for (int i = 0; i < 16; i++) st_tc_w_bool_elem(&o, i & 1);
  st_tc_w_map_header(&o, ST_TC_BINARY, ST_TC_I64, 2);
  st_tc_w_raw_binary(&o, "k1", 2);
  st_tc_w_zigzag(&o, 7);
  st_tc_w_raw_binary(&o, "k2", 2);
  st_tc_w_zigzag(&o, -7);
  st_tc_w_map_header(&o, 0, 0, 0); /* empty map: a single 0 byte */
  CHECK_OK(st_tc_out_finish(&o), &err);
  CHECK(b.data[0] == 0xf1 && b.data[1] == 16);
  st_tc_in_init(&in, b.data, b.len, &err);
  CHECK_OK(st_tc_list(&in, &et, &n), &err);
  CHECK(n == 16);
  for (uint32_t i = 0; i < n; i++) {
    bool v;
    CHECK_OK(st_tc_bool_elem(&in, &v), &err);
    CHECK(v == (bool)(i & 1));
  }
  CHECK_OK(st_tc_skip(&in, ST_TC_MAP, true), &err);
  CHECK_OK(st_tc_skip(&in, ST_TC_MAP, true), &err);
  CHECK(st_tc_left(&in) == 0);
  /* the same list skipped as a whole */
  st_tc_in_init(&in, b.data, b.len, &err);
  CHECK_OK(st_tc_skip(&in, ST_TC_LIST, true), &err);
  CHECK(st_tc_left(&in) == b.len - 18);
  st_buf_free(&b);
}

TEST(thrift_skip_nested_and_hostile) {
  st_error err;
  st_tc_in in;
  /* struct nested 40 deep inside a list inside a map: fine to skip */
  st_buf b;
  st_buf_init(&b);
  st_tc_out o;
  st_tc_out_init(&o, &b, &err);
  st_tc_w_begin(&o);
  st_tc_w_field(&o, 1, ST_TC_LIST);
  st_tc_w_list_header(&o, ST_TC_STRUCT, 1);
  st_tc_w_begin(&o);
  for (int i = 0; i < 40; i++) st_tc_w_struct(&o, (int16_t)(i + 1));
  st_tc_w_double(&o, 2, 1.5);
  st_tc_w_i8(&o, 3, -4);
  for (int i = 0; i < 40; i++) st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  CHECK_OK(st_tc_out_finish(&o), &err);
  st_tc_in_init(&in, b.data, b.len, &err);
  CHECK_OK(st_tc_skip(&in, ST_TC_STRUCT, false), &err);
  CHECK(st_tc_left(&in) == 0);
  st_buf_free(&b);

  /* 100000 nested struct headers: rejected by the depth limit, no recursion */
  size_t n = 100000;
  uint8_t *deep = malloc(n);
  CHECK(deep != NULL);
  memset(deep, 0x1c, n); /* field delta 1, type struct */
  st_tc_in_init(&in, deep, n, &err);
  CHECK(st_tc_skip(&in, ST_TC_STRUCT, false) == ST_ERR_CORRUPT);
  /* the same as a FileMetaData */
  st_pq_file_meta m;
  CHECK(st_pq_meta_decode(deep, n, &m, &err) == ST_ERR_CORRUPT);
  /* nested lists of lists (0x19 = 1 element of type list) */
  memset(deep, 0x19, n);
  st_tc_in_init(&in, deep, n, &err);
  CHECK(st_tc_skip(&in, ST_TC_LIST, true) == ST_ERR_CORRUPT);
  free(deep);

  /* truncated inputs of every length: error, never a crash */
  const uint8_t s[] = {0x15, 0x0a, 0x21, 0x08, 0xd8, 0x04, 0x02, 'a', 'b', 0x00};
  for (size_t len = 0; len < sizeof s; len++) {
    st_tc_in_init(&in, s, len, &err);
    CHECK(st_tc_skip(&in, ST_TC_STRUCT, false) == ST_ERR_CORRUPT);
  }
  /* invalid type nibble */
  const uint8_t bad[] = {0x1e, 0x00};
  st_tc_in_init(&in, bad, sizeof bad, &err);
  CHECK(st_tc_skip(&in, ST_TC_STRUCT, false) == ST_ERR_CORRUPT);
}

/* ---- FileMetaData ------------------------------------------------------------ */

/* A small FileMetaData built by hand covers the fields no fixture has. */
TEST(meta_encode_decode_handmade) {
  st_error err;
  st_pq_file_meta m;
  memset(&m, 0, sizeof m);
  st_pq_schema_elem el[3];
  memset(el, 0, sizeof el);
  el[0].name = "schema";
  el[0].num_children = 2;
  el[1].name = "ts";
  el[1].has_type = true;
  el[1].type = ST_PQ_INT64;
  el[1].has_repetition = true;
  el[1].repetition = ST_PQ_OPTIONAL;
  el[1].logical.kind = ST_PQ_LT_TIMESTAMP;
  el[1].logical.unit = ST_NANO;
  el[1].logical.utc_adjusted = true;
  el[1].has_field_id = true;
  el[1].field_id = -7;
  el[2].name = "u";
  el[2].has_type = true;
  el[2].type = ST_PQ_INT32;
  el[2].has_repetition = true;
  el[2].repetition = ST_PQ_REQUIRED;
  el[2].converted_type = ST_PQ_CT_UINT_16;
  el[2].logical.kind = ST_PQ_LT_INTEGER;
  el[2].logical.bit_width = 16;
  el[2].logical.is_signed = false;
  m.version = 2;
  m.n_schema = 3;
  m.schema = el;
  m.num_rows = 1LL << 40;
  char *created = "skytile test";
  m.created_by = created;
  st_pq_kv kv = {"k", "v\0w", 3};
  m.kv = &kv;
  m.n_kv = 1;
  st_buf b;
  st_buf_init(&b);
  CHECK_OK(st_pq_meta_encode(&m, &b, &err), &err);
  st_pq_file_meta d;
  CHECK_OK(st_pq_meta_decode(b.data, b.len, &d, &err), &err);
  CHECK(d.version == 2 && d.n_schema == 3 && d.num_rows == (1LL << 40));
  CHECK(!strcmp(d.created_by, "skytile test"));
  CHECK(d.n_kv == 1 && d.kv[0].value_len == 3 && !memcmp(d.kv[0].value, "v\0w", 3));
  CHECK(d.schema[1].logical.kind == ST_PQ_LT_TIMESTAMP && d.schema[1].logical.unit == ST_NANO);
  CHECK(d.schema[1].logical.utc_adjusted && d.schema[1].has_field_id && d.schema[1].field_id == -7);
  CHECK(d.schema[2].logical.kind == ST_PQ_LT_INTEGER && d.schema[2].logical.bit_width == 16);
  CHECK(!d.schema[2].logical.is_signed && d.schema[2].converted_type == ST_PQ_CT_UINT_16);
  CHECK(!d.schema[0].has_type && d.schema[0].num_children == 2);
  /* every truncation of the encoding fails cleanly */
  for (size_t len = 0; len < b.len; len++) {
    st_pq_file_meta t;
    CHECK(st_pq_meta_decode(b.data, len, &t, &err) != 0);
  }
  st_pq_meta_free(&d);
  st_buf_free(&b);
}

TEST(meta_unknown_fields_skipped) {
  /* FileMetaData with unknown fields 20 (struct holding a map and a list of
     structs), 21 (double) and an unknown LogicalType member 40 */
  st_error err;
  st_buf b;
  st_buf_init(&b);
  st_tc_out o;
  st_tc_out_init(&o, &b, &err);
  st_tc_w_begin(&o);
  st_tc_w_i32(&o, 1, 1);
  st_tc_w_list(&o, 2, ST_TC_STRUCT, 2);
  st_tc_w_begin(&o);
  st_tc_w_string(&o, 4, "root");
  st_tc_w_i32(&o, 5, 1);
  st_tc_w_end(&o);
  st_tc_w_begin(&o);
  st_tc_w_i32(&o, 1, ST_PQ_BYTE_ARRAY);
  st_tc_w_i32(&o, 3, ST_PQ_OPTIONAL);
  st_tc_w_string(&o, 4, "x");
  st_tc_w_struct(&o, 10);
  st_tc_w_struct(&o, 40);
  st_tc_w_string(&o, 1, "future");
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_i64(&o, 3, 0);
  st_tc_w_list(&o, 4, ST_TC_STRUCT, 0);
  st_tc_w_struct(&o, 20);
  st_tc_w_field(&o, 1, ST_TC_MAP);
  st_tc_w_map_header(&o, ST_TC_I32, ST_TC_STRUCT, 1);
  st_tc_w_zigzag(&o, 3);
  st_tc_w_begin(&o);
  st_tc_w_list(&o, 1, ST_TC_STRUCT, 1);
  st_tc_w_begin(&o);
  st_tc_w_bool(&o, 1, true);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_double(&o, 21, 2.5);
  st_tc_w_end(&o);
  CHECK_OK(st_tc_out_finish(&o), &err);
  st_pq_file_meta m;
  CHECK_OK(st_pq_meta_decode(b.data, b.len, &m, &err), &err);
  CHECK(m.n_schema == 2 && m.schema[1].logical.kind == ST_PQ_LT_OTHER && m.schema[1].logical.other_id == 40);
  st_pq_tree s;
  CHECK_OK(st_pq_schema_build(&m, &s, &err), &err);
  CHECK(s.root.n_children == 1 && s.root.children[0].type == ST_T_BINARY);
  st_pq_schema_free(&s);
  st_pq_meta_free(&m);
  st_buf_free(&b);
}

TEST(page_header_roundtrip) {
  st_error err;
  st_pq_page_header h[3];
  memset(h, 0, sizeof h);
  h[0].type = ST_PQ_DICTIONARY_PAGE;
  h[0].uncompressed_page_size = 100;
  h[0].compressed_page_size = 80;
  h[0].num_values = 9;
  h[0].encoding = ST_PQ_ENC_PLAIN;
  h[0].is_sorted = true;
  h[0].is_compressed = true;
  h[1].type = ST_PQ_DATA_PAGE;
  h[1].uncompressed_page_size = 1 << 20;
  h[1].compressed_page_size = 12345;
  h[1].has_crc = true;
  h[1].crc = 0xdeadbeef;
  h[1].num_values = 1000;
  h[1].encoding = ST_PQ_ENC_RLE_DICTIONARY;
  h[1].def_level_encoding = ST_PQ_ENC_RLE;
  h[1].rep_level_encoding = ST_PQ_ENC_BIT_PACKED;
  h[1].is_compressed = true;
  h[2].type = ST_PQ_DATA_PAGE_V2;
  h[2].uncompressed_page_size = 50;
  h[2].compressed_page_size = 50;
  h[2].num_values = 10;
  h[2].num_nulls = 3;
  h[2].num_rows = 4;
  h[2].encoding = ST_PQ_ENC_DELTA_BINARY_PACKED;
  h[2].def_levels_byte_length = 2;
  h[2].rep_levels_byte_length = 3;
  h[2].is_compressed = false;
  st_buf b;
  st_buf_init(&b);
  for (int i = 0; i < 3; i++) CHECK_OK(st_pq_page_header_encode(&h[i], &b, &err), &err);
  size_t off = 0;
  for (int i = 0; i < 3; i++) {
    st_pq_page_header d;
    size_t used;
    CHECK_OK(st_pq_page_header_decode(b.data + off, b.len - off, &d, &used, &err), &err);
    const st_pq_page_header *w = &h[i];
    CHECK(d.type == w->type && d.uncompressed_page_size == w->uncompressed_page_size &&
          d.compressed_page_size == w->compressed_page_size);
    CHECK(d.has_crc == w->has_crc && d.crc == w->crc);
    CHECK(d.num_values == w->num_values && d.encoding == w->encoding);
    CHECK(d.def_level_encoding == w->def_level_encoding && d.rep_level_encoding == w->rep_level_encoding);
    CHECK(d.num_nulls == w->num_nulls && d.num_rows == w->num_rows);
    CHECK(d.def_levels_byte_length == w->def_levels_byte_length &&
          d.rep_levels_byte_length == w->rep_levels_byte_length);
    CHECK(d.is_compressed == w->is_compressed && d.is_sorted == w->is_sorted);
    off += used;
  }
  CHECK(off == b.len);
  /* truncations */
  for (size_t len = 0; len + 1 < b.len; len++) {
    st_pq_page_header d;
    size_t used = 0;
    int rc = st_pq_page_header_decode(b.data, len, &d, &used, &err);
    CHECK(rc != 0 || used <= len);
  }
  st_buf_free(&b);
}

/* ---- all fixture footers ----------------------------------------------------- */

TEST(meta_fixture_footers_roundtrip) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fixtures/parquet-testing/data", st_test_shared());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *de;
  int n_files = 0, n_plain = 0, n_encrypted_footer = 0, n_flagged = 0;
  while ((de = readdir(d))) {
    const char *nm = de->d_name;
    size_t l = strlen(nm);
    bool pq = l > 8 && !strcmp(nm + l - 8, ".parquet");
    bool enc = l > 18 && !strcmp(nm + l - 18, ".parquet.encrypted");
    if (!pq && !enc) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, nm);
    n_files++;
    pqf_footer f;
    st_error err;
    int rc = pqf_read_footer(path, &f, &err);
    if (rc == ST_ERR_UNSUPPORTED) { /* "PARE": encrypted footer, handled by the reader */
      n_encrypted_footer++;
      CHECK(enc);
      continue;
    }
    if (rc) fprintf(stderr, "%s: %s\n", nm, err.msg);
    CHECK_OK(rc, &err);
    st_pq_file_meta m;
    rc = st_pq_meta_decode(f.data, f.len, &m, &err);
    if (rc) fprintf(stderr, "%s: %s\n", nm, err.msg);
    CHECK_OK(rc, &err);
    if (m.has_encryption_algorithm) n_flagged++;
    else n_plain++;
    CHECK(m.n_schema >= 1);
    /* encode -> decode -> equal */
    st_buf b;
    st_buf_init(&b);
    CHECK_OK(st_pq_meta_encode(&m, &b, &err), &err);
    st_pq_file_meta m2;
    CHECK_OK(st_pq_meta_decode(b.data, b.len, &m2, &err), &err);
    char why[256] = "";
    bool eq = pqf_meta_equal(&m, &m2, why, sizeof why);
    if (!eq) fprintf(stderr, "%s: round trip differs: %s\n", nm, why);
    CHECK(eq);
    /* encoding the re-decoded struct gives the same bytes */
    st_buf b2;
    st_buf_init(&b2);
    CHECK_OK(st_pq_meta_encode(&m2, &b2, &err), &err);
    CHECK(b2.len == b.len && !memcmp(b2.data, b.data, b.len));
    st_buf_free(&b2);
    st_buf_free(&b);
    st_pq_meta_free(&m2);
    st_pq_meta_free(&m);
    pqf_footer_free(&f);
  }
  closedir(d);
  CHECK(n_files >= 50);
  CHECK(n_plain >= 40);
  CHECK(n_encrypted_footer >= 1);
  CHECK(n_flagged >= 1); /* encrypt_columns_plaintext_footer */
}

/* ---- re-encoded footers spliced into the fixtures ------------------------------ */

/*
** Each readable fixture with its footer replaced by our re-encoding.  The
** files go to $SKYTILE_META_REENCODE_DIR when set (tests/test_parquet_meta.py
** then reads them with pyarrow and compares with the originals), otherwise to
** a temporary directory that is removed.  Either way they are read back here.
*/
TEST(meta_reencode_files) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fixtures/parquet-testing/data", st_test_shared());
  const char *keep = getenv("SKYTILE_META_REENCODE_DIR");
  char out_dir[1024];
  if (keep) {
    snprintf(out_dir, sizeof out_dir, "%s", keep);
  } else {
    snprintf(out_dir, sizeof out_dir, "/tmp/skytile-meta-XXXXXX");
    CHECK(mkdtemp(out_dir) != NULL);
  }
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (!(l > 8 && !strcmp(de->d_name + l - 8, ".parquet"))) continue;
    char path[2048], out[2048];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    snprintf(out, sizeof out, "%s/%s", out_dir, de->d_name);
    pqf_footer f;
    st_error err;
    if (pqf_read_footer(path, &f, &err)) continue;
    st_pq_file_meta m;
    CHECK_OK(st_pq_meta_decode(f.data, f.len, &m, &err), &err);
    st_buf b;
    st_buf_init(&b);
    CHECK_OK(st_pq_meta_encode(&m, &b, &err), &err);
    /* original bytes up to the footer, our footer, its length, magic */
    FILE *in = fopen(path, "rb");
    CHECK(in != NULL);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    long body = size - 8 - (long)f.len;
    uint8_t *buf = malloc((size_t)body + 1);
    CHECK(buf != NULL);
    fseek(in, 0, SEEK_SET);
    CHECK(fread(buf, 1, (size_t)body, in) == (size_t)body);
    fclose(in);
    FILE *o = fopen(out, "wb");
    CHECK(o != NULL);
    uint8_t tail[8] = {(uint8_t)b.len, (uint8_t)(b.len >> 8), (uint8_t)(b.len >> 16), (uint8_t)(b.len >> 24),
                       'P', 'A', 'R', '1'};
    CHECK(fwrite(buf, 1, (size_t)body, o) == (size_t)body);
    CHECK(fwrite(b.data, 1, b.len, o) == b.len);
    CHECK(fwrite(tail, 1, 8, o) == 8);
    CHECK(fclose(o) == 0);
    free(buf);
    /* read back */
    pqf_footer g;
    CHECK_OK(pqf_read_footer(out, &g, &err), &err);
    st_pq_file_meta m2;
    CHECK_OK(st_pq_meta_decode(g.data, g.len, &m2, &err), &err);
    char why[256] = "";
    CHECK(pqf_meta_equal(&m, &m2, why, sizeof why));
    if (!keep) remove(out);
    st_pq_meta_free(&m2);
    pqf_footer_free(&g);
    st_pq_meta_free(&m);
    st_buf_free(&b);
    pqf_footer_free(&f);
    n++;
  }
  closedir(d);
  if (!keep) rmdir(out_dir);
  CHECK(n >= 40);
}

/* ---- mutated footers ------------------------------------------------------------ */

static uint64_t xs_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/*
** Every fixture footer with random byte changes (deterministic): decoding may
** fail but never crash or leak (run under ASan); whatever decodes also goes
** through schema building, statistics and re-encoding.
*/
TEST(meta_mutated_footers) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fixtures/parquet-testing/data", st_test_shared());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *de;
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  int decoded = 0, rejected = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (!(l > 8 && !strcmp(de->d_name + l - 8, ".parquet"))) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    pqf_footer f;
    st_error err;
    if (pqf_read_footer(path, &f, &err) || f.len == 0) continue;
    uint8_t *buf = malloc(f.len);
    CHECK(buf != NULL);
    for (int it = 0; it < 60; it++) {
      memcpy(buf, f.data, f.len);
      size_t len = f.len;
      int nmut = 1 + (int)(xs_next(&seed) % 4);
      for (int k = 0; k < nmut; k++) {
        size_t pos = xs_next(&seed) % len;
        switch (xs_next(&seed) % 4) {
        case 0: buf[pos] = (uint8_t)xs_next(&seed); break;
        case 1: buf[pos] ^= (uint8_t)(1u << (xs_next(&seed) % 8)); break;
        case 2: buf[pos] = 0xff; break;
        default: len = pos + 1; break; /* truncate */
        }
      }
      st_pq_file_meta m;
      if (st_pq_meta_decode(buf, len, &m, &err)) {
        CHECK(err.code != 0 && err.msg[0]);
        rejected++;
        continue;
      }
      decoded++;
      st_pq_tree s;
      if (!st_pq_schema_build(&m, &s, &err)) {
        for (int g = 0; g < m.n_row_groups; g++)
          for (int c = 0; c < s.n_leaves; c++) {
            st_pq_column_chunk *cc = &m.row_groups[g].columns[c];
            st_pq_value lo, hi;
            if (cc->has_meta && cc->meta.has_stats)
              st_pq_stats_bounds(&m.schema[s.leaves[c].schema_index], s.leaves[c].column_order,
                                 m.has_column_orders, &cc->meta.stats, &lo, &hi);
          }
        st_pq_schema_free(&s);
      }
      st_buf b;
      st_buf_init(&b);
      (void)st_pq_meta_encode(&m, &b, &err);
      st_buf_free(&b);
      st_pq_meta_free(&m);
    }
    free(buf);
    pqf_footer_free(&f);
  }
  closedir(d);
  CHECK(decoded > 100 && rejected > 100);
}

/*
** The page headers of every column chunk of every fixture: walking a chunk
** page by page must land exactly on total_compressed_size, and the data pages'
** value counts must add up to the chunk's num_values.
*/
TEST(page_headers_of_fixtures) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fixtures/parquet-testing/data", st_test_shared());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *de;
  int chunks = 0, pages = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (!(l > 8 && !strcmp(de->d_name + l - 8, ".parquet"))) continue;
    if (!strcmp(de->d_name, "nation.dict-malformed.parquet")) continue; /* wrong sizes on purpose */
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    pqf_footer f;
    st_error err;
    if (pqf_read_footer(path, &f, &err)) continue;
    st_pq_file_meta m;
    CHECK_OK(st_pq_meta_decode(f.data, f.len, &m, &err), &err);
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    uint8_t *file = malloc((size_t)size);
    CHECK(file != NULL);
    fseek(fp, 0, SEEK_SET);
    CHECK(fread(file, 1, (size_t)size, fp) == (size_t)size);
    fclose(fp);
    for (int g = 0; g < m.n_row_groups; g++)
      for (int c = 0; c < m.row_groups[g].n_columns; c++) {
        const st_pq_column_chunk *cc = &m.row_groups[g].columns[c];
        const st_pq_column_meta *cm = &cc->meta;
        if (!cc->has_meta || cc->file_path) continue;
        int64_t start = cm->data_page_offset;
        if (cm->has_dictionary_page_offset && cm->dictionary_page_offset > 0 &&
            cm->dictionary_page_offset < start)
          start = cm->dictionary_page_offset;
        int64_t end = start + cm->total_compressed_size;
        if (start < 4 || end > size) continue;
        int64_t pos = start, values = 0;
        bool ok = true;
        while (pos < end) {
          st_pq_page_header h;
          size_t used;
          if (st_pq_page_header_decode(file + pos, (size_t)(end - pos), &h, &used, &err)) {
            ok = false;
            break;
          }
          pos += (int64_t)used + h.compressed_page_size;
          if (h.type == ST_PQ_DATA_PAGE || h.type == ST_PQ_DATA_PAGE_V2) values += h.num_values;
          pages++;
        }
        if (!ok || pos != end || values != cm->num_values)
          fprintf(stderr, "%s rg %d col %d: pages end at %lld (chunk end %lld), %lld values (want %lld)\n",
                  de->d_name, g, c, (long long)pos, (long long)end, (long long)values,
                  (long long)cm->num_values);
        CHECK(ok && pos == end && values == cm->num_values);
        chunks++;
      }
    free(file);
    st_pq_meta_free(&m);
    pqf_footer_free(&f);
  }
  closedir(d);
  CHECK(chunks > 200 && pages > chunks);
}

/*
** Regressions found by fuzzing decode -> encode -> decode: a LogicalType union
** with two members, a TIME without a unit, an offset-index length without its
** offset.  Each must survive the round trip unchanged.
*/
TEST(meta_roundtrip_fuzz_regressions) {
  st_error err;
  st_buf b;
  st_buf_init(&b);
  st_tc_out o;
  st_tc_out_init(&o, &b, &err);
  st_tc_w_begin(&o);
  st_tc_w_list(&o, 2, ST_TC_STRUCT, 3);
  st_tc_w_begin(&o);
  st_tc_w_string(&o, 4, "root");
  st_tc_w_i32(&o, 5, 2);
  st_tc_w_end(&o);
  st_tc_w_begin(&o); /* a: LogicalType { DECIMAL{scale 3, precision 5}, DATE } -> DATE */
  st_tc_w_i32(&o, 1, ST_PQ_INT32);
  st_tc_w_i32(&o, 3, ST_PQ_OPTIONAL);
  st_tc_w_string(&o, 4, "a");
  st_tc_w_struct(&o, 10);
  st_tc_w_struct(&o, ST_PQ_LT_DECIMAL);
  st_tc_w_i32(&o, 1, 3);
  st_tc_w_i32(&o, 2, 5);
  st_tc_w_end(&o);
  st_tc_w_struct(&o, ST_PQ_LT_DATE);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_begin(&o); /* b: TIME { isAdjustedToUTC true, unit: empty union } */
  st_tc_w_i32(&o, 1, ST_PQ_INT64);
  st_tc_w_i32(&o, 3, ST_PQ_OPTIONAL);
  st_tc_w_string(&o, 4, "b");
  st_tc_w_struct(&o, 10);
  st_tc_w_struct(&o, ST_PQ_LT_TIME);
  st_tc_w_bool(&o, 1, true);
  st_tc_w_struct(&o, 2);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  st_tc_w_i64(&o, 3, 0);
  st_tc_w_list(&o, 4, ST_TC_STRUCT, 1); /* one row group, two chunks */
  st_tc_w_begin(&o);
  st_tc_w_list(&o, 1, ST_TC_STRUCT, 2);
  for (int c = 0; c < 2; c++) {
    st_tc_w_begin(&o);
    st_tc_w_i64(&o, 2, 0);
    st_tc_w_i32(&o, 5, 77); /* offset_index_length without offset_index_offset */
    st_tc_w_end(&o);
  }
  st_tc_w_i64(&o, 2, 0);
  st_tc_w_i64(&o, 3, 0);
  st_tc_w_end(&o);
  st_tc_w_end(&o);
  CHECK_OK(st_tc_out_finish(&o), &err);
  st_pq_file_meta m, m2;
  CHECK_OK(st_pq_meta_decode(b.data, b.len, &m, &err), &err);
  CHECK(m.schema[1].logical.kind == ST_PQ_LT_DATE && m.schema[1].logical.scale == 0);
  CHECK(m.schema[2].logical.kind == ST_PQ_LT_TIME && m.schema[2].logical.unit == 0);
  CHECK(!m.row_groups[0].columns[0].has_offset_index && m.row_groups[0].columns[0].offset_index_length == 77);
  st_buf b2;
  st_buf_init(&b2);
  CHECK_OK(st_pq_meta_encode(&m, &b2, &err), &err);
  CHECK_OK(st_pq_meta_decode(b2.data, b2.len, &m2, &err), &err);
  char why[256] = "";
  bool eq = pqf_meta_equal(&m, &m2, why, sizeof why);
  if (!eq) fprintf(stderr, "%s\n", why);
  CHECK(eq);
  /* and the schema maps: DATE -> date32; TIME without unit -> plain int64 */
  st_pq_tree s;
  CHECK_OK(st_pq_schema_build(&m, &s, &err), &err);
  CHECK(s.root.children[0].type == ST_T_DATE32 && s.root.children[1].type == ST_T_INT64);
  st_pq_schema_free(&s);
  st_pq_meta_free(&m);
  st_pq_meta_free(&m2);
  st_buf_free(&b);
  st_buf_free(&b2);
}
