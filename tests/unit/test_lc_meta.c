/*
** Unit tests for the arena decoding of Parquet footers
** (st_pq_meta_decode_arena, src/parquet/meta.c), which the reader uses:
** the result must equal the heap decoding (st_pq_meta_decode, the oracle)
** field for field, checked by encoding both back (st_pq_meta_encode, which
** writes every field a reader can observe) and comparing the bytes, on
** parquet-testing files with statistics, key-value metadata, several row
** groups, column orders and page encoding stats; and every truncation of a
** footer must fail or succeed the same way in both, without leaks (ASan).
*/
#include <stdlib.h>

#include "parquet/meta.h"
#include "test.h"
#include "util/mem.h"

static uint8_t *lcm_slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = sz > 0 ? malloc((size_t)sz) : NULL;
  if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *n = b ? (size_t)sz : 0;
  return b;
}

/* The footer of a file as an exact-size heap copy. */
static uint8_t *lcm_footer(const char *name, size_t *flen) {
  char path[1024];
  snprintf(path, sizeof path, "%s/fixtures/parquet-testing/data/%s", st_test_shared(), name);
  size_t n = 0;
  uint8_t *b = lcm_slurp(path, &n);
  if (!b || n < 12) { free(b); return NULL; }
  uint32_t l = (uint32_t)b[n - 8] | (uint32_t)b[n - 7] << 8 | (uint32_t)b[n - 6] << 16 | (uint32_t)b[n - 5] << 24;
  if (l > n - 12) { free(b); return NULL; }
  uint8_t *f = malloc(l ? l : 1);
  if (f) memcpy(f, b + n - 8 - l, l);
  free(b);
  *flen = l;
  return f;
}

TEST(lc_meta_arena_equals_heap_decode) {
  static const char *files[] = {"alltypes_plain.parquet", "alltypes_tiny_pages.parquet",
                                "data_index_bloom_encoding_stats.parquet",
                                "column_chunk_key_value_metadata.parquet", "binary_truncated_min_max.parquet",
                                "datapage_v2.snappy.parquet", "byte_array_decimal.parquet"};
  int done = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    size_t fl = 0;
    uint8_t *ft = lcm_footer(files[i], &fl);
    if (!ft) continue;                      /* fixture absent in this checkout */
    st_pq_file_meta a, h;
    st_error err = {0};
    CHECK_OK(st_pq_meta_decode(ft, fl, &h, &err), &err);
    CHECK_OK(st_pq_meta_decode_arena(ft, fl, &a, &err), &err);
    CHECK(a.arena != NULL && h.arena == NULL);
    CHECK_EQ_I64(a.n_row_groups, h.n_row_groups);
    CHECK_EQ_I64(a.num_rows, h.num_rows);
    st_buf ea, eh;
    st_buf_init(&ea);
    st_buf_init(&eh);
    CHECK_OK(st_pq_meta_encode(&h, &eh, &err), &err);
    CHECK_OK(st_pq_meta_encode(&a, &ea, &err), &err);
    CHECK(ea.len == eh.len && !memcmp(ea.data, eh.data, ea.len));
    /* every truncation: both fail, or both give the same metadata */
    for (size_t cut = 0; cut < fl; cut += 1 + fl / 97) {
      st_pq_file_meta ta, th;
      st_error e1 = {0}, e2 = {0};
      int ra = st_pq_meta_decode_arena(ft, cut, &ta, &e1), rh = st_pq_meta_decode(ft, cut, &th, &e2);
      CHECK((ra == 0) == (rh == 0));
      if (!ra && !rh) {
        st_buf x, y;
        st_buf_init(&x);
        st_buf_init(&y);
        CHECK_OK(st_pq_meta_encode(&ta, &x, &err), &err);
        CHECK_OK(st_pq_meta_encode(&th, &y, &err), &err);
        CHECK(x.len == y.len && !memcmp(x.data, y.data, x.len));
        st_buf_free(&x);
        st_buf_free(&y);
      } else {
        CHECK(!strcmp(e1.msg, e2.msg));
      }
      if (!ra) st_pq_meta_free(&ta);
      if (!rh) st_pq_meta_free(&th);
    }
    st_buf_free(&ea);
    st_buf_free(&eh);
    st_pq_meta_free(&a);
    st_pq_meta_free(&h);
    CHECK(a.arena == NULL && a.row_groups == NULL);
    free(ft);
    done++;
  }
  CHECK(done >= 3);
}
