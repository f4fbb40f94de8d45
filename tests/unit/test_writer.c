/*
** This file implements unit tests of the Parquet writer's encoders: the RLE /
** bit-packed hybrid encoder (checked with the reader's independent decoder),
** the dictionary (indices vs. value equality, first-appearance order), the
** statistics rules (NaN, -0/+0, unsigned and decimal order) and a write ->
** read round trip through the public API.
*/
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "test.h"
#include "parquet/encodings/encodings.h"
#include "parquet/writer_int.h"

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

TEST(writer_rle_roundtrip) {
  st_error err = {0, ""};
  int64_t sizes[] = {0, 1, 7, 8, 9, 100, 1000, 4099};
  for (int bw = 0; bw <= 32; bw += (bw < 4 ? 1 : 5)) {
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
      int64_t n = sizes[si];
      uint32_t *v = malloc(sizeof(uint32_t) * (size_t)(n + 1));
      uint32_t *back = malloc(sizeof(uint32_t) * (size_t)(n + 1));
      uint64_t mask = bw == 32 ? 0xffffffffu : ((1ull << bw) - 1);
      for (int64_t i = 0; i < n;) {
        /* alternate runs of equal values and random stretches */
        int64_t len = (int64_t)(rnd() % 20) + 1;
        uint32_t x = (uint32_t)(rnd() & mask);
        bool run = rnd() & 1;
        for (int64_t k = 0; k < len && i < n; k++, i++) v[i] = run ? x : (uint32_t)(rnd() & mask);
      }
      st_buf b;
      st_buf_init(&b);
      CHECK_OK(st_wr_rle_u32(v, n, bw, &b, &err), &err);
      if (n > 0) {
        CHECK_OK(st_rle_decode_u32(b.data, b.len, bw, back, n, &err), &err);
        for (int64_t i = 0; i < n; i++) CHECK_EQ_I64(back[i], v[i]);
      }
      st_buf_free(&b);
      free(v);
      free(back);
    }
  }
}

TEST(writer_rle_levels) {
  st_error err = {0, ""};
  int16_t lv[3000];
  for (int i = 0; i < 3000; i++) lv[i] = (int16_t)(i < 1000 ? 3 : (i < 2000 ? (int16_t)(rnd() % 4) : 2));
  st_buf b;
  st_buf_init(&b);
  CHECK_OK(st_wr_rle_i16(lv, 3000, 2, &b, &err), &err);
  int16_t back[3000];
  CHECK_OK(st_rle_decode_i16(b.data, b.len, 2, back, 3000, &err), &err);
  for (int i = 0; i < 3000; i++) CHECK_EQ_I64(back[i], lv[i]);
  /* a constant run is a single header + value byte */
  b.len = 0;
  CHECK_OK(st_wr_rle_run(1, 1000000, 1, &b, &err), &err);
  CHECK(b.len <= 4);
  CHECK_OK(st_rle_decode_i16(b.data, b.len, 1, back, 3000, &err), &err);
  CHECK_EQ_I64(back[2999], 1);
  st_buf_free(&b);
}

TEST(writer_dict_fixed_and_bytes) {
  st_error err = {0, ""};
  st_wr_dict d;
  st_wr_dict_init(&d, 8);
  enum { N = 20000 };
  static int64_t v[N];
  static uint32_t idx[N];
  for (int i = 0; i < N; i++) v[i] = (int64_t)(rnd() % 3000) - 1500;
  CHECK_OK(st_wr_dict_put_fixed(&d, (const uint8_t *)v, N, idx, &err), &err);
  CHECK(d.n <= 3000 && d.n > 2000);
  for (int i = 0; i < N; i++) {
    int64_t e;
    CHECK(idx[i] < d.n);
    memcpy(&e, d.plain.data + (size_t)idx[i] * 8, 8);
    CHECK_EQ_I64(e, v[i]);
  }
  /* first appearance order: entry k first appears before entry k+1 */
  uint32_t next = 0;
  for (int i = 0; i < N; i++) {
    CHECK(idx[i] <= next);
    if (idx[i] == next) next++;
  }
  st_wr_dict_free(&d);

  st_wr_dict_init(&d, 0);
  const char *words[] = {"", "a", "ab", "abc", "a", "", "longer than eight bytes", "ab"};
  const uint8_t *ptrs[8];
  uint32_t lens[8];
  for (int i = 0; i < 8; i++) {
    ptrs[i] = (const uint8_t *)words[i];
    lens[i] = (uint32_t)strlen(words[i]);
  }
  CHECK_OK(st_wr_dict_put_bytes(&d, ptrs, lens, 8, idx, &err), &err);
  CHECK_EQ_I64(d.n, 5);
  uint32_t want[] = {0, 1, 2, 3, 1, 0, 4, 2};
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(idx[i], want[i]);
  /* PLAIN page body: [len][bytes] per entry */
  CHECK_EQ_I64(d.plain.len, 5 * 4 + 0 + 1 + 2 + 3 + 23);
  st_wr_dict_free(&d);
}

TEST(writer_stats_rules) {
  st_error err = {0, ""};
  st_wr_stats s;
  memset(&s, 0, sizeof s);
  st_buf_init(&s.min);
  st_buf_init(&s.max);
  double d[] = {NAN, 0.0, 3.5, -0.0, NAN};
  st_wr_stats_reset(&s, ST_WR_SK_DOUBLE);
  CHECK_OK(st_wr_stats_fixed(&s, (const uint8_t *)d, 5, 8, &err), &err);
  double mn, mx;
  memcpy(&mn, s.min.data, 8);
  memcpy(&mx, s.max.data, 8);
  CHECK(mn == 0 && signbit(mn) && mx == 3.5);
  double z[] = {-0.0, 0.0};
  st_wr_stats_reset(&s, ST_WR_SK_DOUBLE);
  CHECK_OK(st_wr_stats_fixed(&s, (const uint8_t *)z, 2, 8, &err), &err);
  memcpy(&mn, s.min.data, 8);
  memcpy(&mx, s.max.data, 8);
  CHECK(signbit(mn) && !signbit(mx));
  double nans[] = {NAN, NAN};
  st_wr_stats_reset(&s, ST_WR_SK_DOUBLE);
  CHECK_OK(st_wr_stats_fixed(&s, (const uint8_t *)nans, 2, 8, &err), &err);
  CHECK(!s.has);
  uint64_t u[] = {1, (1ull << 63) + 5, 7};
  st_wr_stats_reset(&s, ST_WR_SK_U64);
  CHECK_OK(st_wr_stats_fixed(&s, (const uint8_t *)u, 3, 8, &err), &err);
  uint64_t umn, umx;
  memcpy(&umn, s.min.data, 8);
  memcpy(&umx, s.max.data, 8);
  CHECK(umn == 1 && umx == (1ull << 63) + 5);
  /* decimals: big-endian two's complement, signed */
  uint8_t dec[] = {0xff, 0x10, 0x00, 0x05, 0x80, 0x00};
  st_wr_stats_reset(&s, ST_WR_SK_DECIMAL);
  CHECK_OK(st_wr_stats_fixed(&s, dec, 3, 2, &err), &err);
  CHECK(s.min.data[0] == 0x80 && s.max.data[0] == 0x00 && s.max.data[1] == 0x05);
  /* byte arrays: unsigned bytes, prefix sorts first */
  const uint8_t *ptrs[] = {(const uint8_t *)"b", (const uint8_t *)"\xff", (const uint8_t *)"ba",
                           (const uint8_t *)""};
  uint32_t lens[] = {1, 1, 2, 0};
  st_wr_stats_reset(&s, ST_WR_SK_BYTES);
  CHECK_OK(st_wr_stats_bytes(&s, ptrs, lens, 4, &err), &err);
  CHECK(s.min.len == 0 && s.max.len == 1 && s.max.data[0] == 0xff);
  st_wr_stats_free(&s);
}

TEST(writer_roundtrip_public_api) {
  st_error err = {0, ""};
  char path[256];
  snprintf(path, sizeof path, "/tmp/skytile-unit-writer-%d.parquet", (int)getpid());
  st_field f[2];
  CHECK_OK(st_field_init(&f[0], "x", ST_T_INT64, true), &err);
  CHECK_OK(st_field_init(&f[1], "s", ST_T_STRING, true), &err);
  st_builder *b0, *b1;
  CHECK_OK(st_builder_new(&f[0], &b0, &err), &err);
  CHECK_OK(st_builder_new(&f[1], &b1, &err), &err);
  enum { N = 5000 };
  for (int64_t i = 0; i < N; i++) {
    int64_t x = i * 7 - 100;
    uint8_t valid = i % 11 != 0;
    CHECK_OK(st_builder_append_values(b0, &x, 1, &valid, &err), &err);
    char s[32];
    int len = snprintf(s, sizeof s, "v%lld", (long long)(i % 37));
    if (i % 13 == 0)
      CHECK_OK(st_builder_append_nulls(b1, 1, &err), &err);
    else
      CHECK_OK(st_builder_append_bytes(b1, s, (size_t)len, &err), &err);
  }
  st_array *cols[2];
  CHECK_OK(st_builder_finish(b0, &cols[0], &err), &err);
  CHECK_OK(st_builder_finish(b1, &cols[1], &err), &err);
  st_builder_free(b0);
  st_builder_free(b1);
  st_table *t;
  CHECK_OK(st_table_new(f, cols, 2, N, NULL, &t, &err), &err);
  for (int v2 = 0; v2 < 2; v2++) {
    st_pq_write_options o;
    st_pq_write_options_init(&o);
    o.row_group_rows = 1500;
    o.compression = ST_PQ_CODEC_SNAPPY;
    o.data_page_v2 = v2;
    o.page_bytes = 4096;
    CHECK_OK(st_pq_write_table_path(path, t, &o, &err), &err);
    st_pq_reader *r;
    CHECK_OK(st_pq_open(path, NULL, &r, &err), &err);
    CHECK_EQ_I64(st_pq_num_row_groups(r), 4);
    CHECK_EQ_I64(st_pq_num_rows(r), N);
    st_table *back;
    CHECK_OK(st_pq_read(r, NULL, 0, NULL, 0, &back, &err), &err);
    st_pq_close(r);
    CHECK_EQ_I64(back->n_rows, N);
    st_text a = {0}, c = {0};
    for (int64_t i = 0; i < N; i += 97) {
      for (int col = 0; col < 2; col++) {
        a.len = c.len = 0;
        CHECK_OK(st_format_value(&t->schema.children[col], t->columns[col], i, ST_FMT_JSON, &a, &err), &err);
        CHECK_OK(st_format_value(&back->schema.children[col], back->columns[col], i, ST_FMT_JSON, &c, &err),
                 &err);
        CHECK(a.len == c.len && !memcmp(a.data, c.data, a.len));
      }
    }
    st_text_free(&a);
    st_text_free(&c);
    st_table_free(back);
  }
  st_table_free(t);
  st_field_clear(&f[0]);
  st_field_clear(&f[1]);
  remove(path);
}

/* Decode standard base64 (no whitespace); returns bytes written or -1. */
static long b64_decode(const char *s, uint8_t *out, size_t cap) {
  static const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(s), o = 0;
  if (n % 4) return -1;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      const char *p = s[i + k] == '=' ? NULL : strchr(A, s[i + k]);
      if (s[i + k] == '=') pad++;
      else if (!p) return -1;
      v = v << 6 | (uint32_t)(p ? p - A : 0);
    }
    for (int k = 0; k < 3 - pad; k++) {
      if (o >= cap) return -1;
      out[o++] = (uint8_t)(v >> (16 - 8 * k));
    }
  }
  return (long)o;
}

TEST(writer_arrow_schema_framing) {
  st_error err = {0, ""};
  st_field root, c, lst, item, mp, ent, k, v;
  CHECK_OK(st_field_init(&root, "schema", ST_T_STRUCT, false), &err);
  CHECK_OK(st_field_init(&c, "ts", ST_T_TIMESTAMP, true), &err);
  c.unit = ST_MICRO;
  c.tz = strdup("Europe/Paris");
  CHECK_OK(st_field_add_child(&root, &c), &err);
  CHECK_OK(st_field_init(&lst, "l", ST_T_LIST, true), &err);
  CHECK_OK(st_field_init(&item, "item", ST_T_DECIMAL128, true), &err);
  item.precision = 20;
  item.scale = 3;
  CHECK_OK(st_field_add_child(&lst, &item), &err);
  CHECK_OK(st_field_add_child(&root, &lst), &err);
  CHECK_OK(st_field_init(&mp, "m", ST_T_MAP, true), &err);
  CHECK_OK(st_field_init(&ent, "entries", ST_T_STRUCT, false), &err);
  CHECK_OK(st_field_init(&k, "key", ST_T_STRING, false), &err);
  CHECK_OK(st_field_init(&v, "value", ST_T_STRING, true), &err);
  v.dict_encoded = true;
  CHECK_OK(st_field_add_child(&ent, &k), &err);
  CHECK_OK(st_field_add_child(&ent, &v), &err);
  CHECK_OK(st_field_add_child(&mp, &ent), &err);
  CHECK_OK(st_field_add_child(&root, &mp), &err);
  CHECK_OK(st_field_set_meta(&root, "origin", "unit test"), &err);
  char *b64 = NULL;
  CHECK_OK(st_wr_arrow_schema(&root, &b64, &err), &err);
  uint8_t buf[4096];
  long n = b64_decode(b64, buf, sizeof buf);
  CHECK(n >= 16 && n % 8 == 0);
  uint32_t cont, len, rootoff;
  memcpy(&cont, buf, 4);
  memcpy(&len, buf + 4, 4);
  memcpy(&rootoff, buf + 8, 4);
  CHECK(cont == 0xffffffffu && len == (uint32_t)n - 8 && rootoff < len);
  /* the names appear as flatbuffer strings */
  const char *names[] = {"ts", "Europe/Paris", "item", "entries", "origin", "unit test"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    size_t l = strlen(names[i]);
    bool found = false;
    for (long j = 8; j + 4 + (long)l < n && !found; j += 4) {
      uint32_t sl;
      memcpy(&sl, buf + j, 4);
      found = sl == l && !memcmp(buf + j + 4, names[i], l) && buf[j + 4 + l] == 0;
    }
    CHECK(found);
  }
  free(b64);
  st_field_clear(&root);
  st_field_clear(&c);
  st_field_clear(&lst);
  st_field_clear(&item);
  st_field_clear(&mp);
  st_field_clear(&ent);
  st_field_clear(&k);
  st_field_clear(&v);
}

/* A one-column table of n int64 (or double when dbl) values. */
static st_table *one_col(const char *name, int64_t n, bool dbl, st_error *err) {
  st_field f;
  if (st_field_init(&f, name, dbl ? ST_T_DOUBLE : ST_T_INT64, true)) return NULL;
  st_builder *b;
  if (st_builder_new(&f, &b, err)) return NULL;
  for (int64_t i = 0; i < n; i++) {
    int64_t x = i;
    double d = (double)i;
    if (st_builder_append_values(b, dbl ? (const void *)&d : (const void *)&x, 1, NULL, err)) return NULL;
  }
  st_array *a;
  st_table *t = NULL;
  if (!st_builder_finish(b, &a, err)) st_table_new(&f, &a, 1, n, NULL, &t, err);
  st_builder_free(b);
  st_field_clear(&f);
  return t;
}

TEST(writer_dataset_metadata) {
  st_error err = {0, ""};
  char root[256], path[300];
  snprintf(root, sizeof root, "/tmp/skytile-unit-dsmeta-%d", (int)getpid());
  mkdir(root, 0700);
  const char *rels[] = {"a.parquet", "b.parquet", "c.parquet"};
  int64_t rows[] = {10, 2500, 7};
  st_pq_write_options o;
  st_pq_write_options_init(&o);
  o.row_group_rows = 1000;
  for (int i = 0; i < 3; i++) {
    st_table *t = one_col("x", rows[i], i == 2, &err);
    CHECK(t != NULL);
    snprintf(path, sizeof path, "%s/%s", root, rels[i]);
    CHECK_OK(st_pq_write_table_path(path, t, &o, &err), &err);
    st_table_free(t);
  }
  /* c.parquet has a double column: refused, naming the file and the column */
  int rc = st_pq_write_dataset_metadata(root, rels, 3, &err);
  CHECK(rc == ST_ERR_SCHEMA);
  CHECK(strstr(err.msg, "c.parquet") && strstr(err.msg, "'x'"));
  snprintf(path, sizeof path, "%s/_metadata", root);
  CHECK(access(path, F_OK) != 0);
  CHECK_OK(st_pq_write_dataset_metadata(root, rels, 2, &err), &err);
  st_pq_reader *r;
  CHECK_OK(st_pq_open(path, NULL, &r, &err), &err);
  CHECK_EQ_I64(st_pq_num_rows(r), 2510);
  CHECK_EQ_I64(st_pq_num_row_groups(r), 4);   /* 10 | 1000 1000 500 */
  CHECK_EQ_I64(st_pq_row_group_num_rows(r, 0), 10);
  CHECK_EQ_I64(st_pq_row_group_num_rows(r, 3), 500);
  st_pq_close(r);
  snprintf(path, sizeof path, "%s/_common_metadata", root);
  CHECK_OK(st_pq_open(path, NULL, &r, &err), &err);
  CHECK_EQ_I64(st_pq_num_row_groups(r), 0);
  CHECK_EQ_I64(st_pq_num_rows(r), 0);
  st_pq_close(r);
  const char *all[] = {"a.parquet", "b.parquet", "c.parquet", "_metadata", "_common_metadata"};
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%s", root, all[i]);
    remove(path);
  }
  rmdir(root);
}

/* The interrupt hook: polled once per page; a nonzero answer stops the write
** with ST_ERR_INTERRUPTED; without it (or answering 0) the file is complete. */
static int count_then_stop(void *ctx) {
  int *n = ctx;
  return ++*n > 3;
}

TEST(writer_interrupt_hook) {
  st_error err = {0, ""};
  char path[256];
  snprintf(path, sizeof path, "/tmp/skytile-unit-writer-int-%d.parquet", (int)getpid());
  st_field f;
  CHECK_OK(st_field_init(&f, "x", ST_T_INT64, true), &err);
  st_builder *b;
  CHECK_OK(st_builder_new(&f, &b, &err), &err);
  enum { N = 20000 };
  for (int64_t i = 0; i < N; i++) {
    int64_t x = (int64_t)(rnd() >> 1);
    CHECK_OK(st_builder_append_values(b, &x, 1, NULL, &err), &err);
  }
  st_array *col;
  CHECK_OK(st_builder_finish(b, &col, &err), &err);
  st_builder_free(b);
  st_table *t;
  CHECK_OK(st_table_new(&f, &col, 1, N, NULL, &t, &err), &err);
  st_pq_write_options o;
  st_pq_write_options_init(&o);
  CHECK(o.interrupt == NULL && o.interrupt_ctx == NULL);
  o.page_bytes = 8192;                       /* 160 KB of PLAIN values: ~20 pages */
  o.dictionary = false;
  o.compression = ST_PQ_CODEC_ZSTD;
  int calls = 0;
  o.interrupt = count_then_stop;
  o.interrupt_ctx = &calls;
  CHECK(st_pq_write_table_path(path, t, &o, &err) == ST_ERR_INTERRUPTED);
  CHECK(calls == 4);                         /* stopped at the 4th page, not at the end */
  CHECK(strstr(err.msg, "interrupted") != NULL);
  calls = -1000;                             /* never above 3: writes everything */
  CHECK_OK(st_pq_write_table_path(path, t, &o, &err), &err);
  CHECK(calls > -1000 + 10);
  st_pq_reader *r;
  CHECK_OK(st_pq_open(path, NULL, &r, &err), &err);
  CHECK_EQ_I64(st_pq_num_rows(r), N);
  st_pq_close(r);
  unlink(path);
  st_table_free(t);
  st_field_clear(&f);
}
