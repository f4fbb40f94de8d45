/*
** Unit tests for st_snappy_single_literal (src/parquet/encodings/
** snappy_view.c): a Snappy block that is one literal covering the whole
** output is used in place by the column reader.  Oracle: blocks made by
** libsnappy (st_codec_compress) and its own decompression
** (st_codec_decompress); hand-made blocks for every literal-length form and
** for the cases that must be refused (a copy, trailing or missing bytes, a
** wrong stated length, an empty block).  Inputs are exact-size heap copies,
** so ASan catches any over-read.
*/
#include <stdlib.h>

#include "parquet/codec.h"
#include "parquet/encodings/encodings.h"
#include "test.h"
#include "util/mem.h"

static void lc_random(uint8_t *d, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    d[i] = (uint8_t)(x >> 24);
  }
}

/* Exact-size heap copy of a block. */
static uint8_t *lc_dup(const uint8_t *p, size_t n) {
  uint8_t *c = malloc(n ? n : 1);
  if (c && n) memcpy(c, p, n);
  return c;
}

TEST(lc_snappy_single_literal_vs_libsnappy) {
  static const size_t sizes[] = {1, 7, 60, 61, 255, 256, 4096, 13313, 65536};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    size_t n = sizes[si];
    for (int kind = 0; kind < 2; kind++) {
      uint8_t *d = malloc(n), *back = malloc(n);
      CHECK(d && back);
      if (kind == 0) lc_random(d, n, n);
      else memset(d, 'a', n);                  /* compressible: copies */
      st_buf b;
      st_buf_init(&b);
      st_error err = {0};
      CHECK_OK(st_codec_compress(ST_CODEC_SNAPPY, 0, d, n, &b, &err), &err);
      uint8_t *blk = lc_dup(b.data, b.len);
      CHECK(blk);
      CHECK_OK(st_codec_decompress(ST_CODEC_SNAPPY, blk, b.len, back, n, &err), &err);
      CHECK(!memcmp(back, d, n));
      const uint8_t *lit = st_snappy_single_literal(blk, b.len, n);
      if (kind == 0) {
        /* random bytes up to one 64 KiB fragment: libsnappy emits one literal */
        CHECK(lit != NULL);
        CHECK(lit > blk && lit + n == blk + b.len);
        CHECK(!memcmp(lit, d, n));
        /* another stated length is refused */
        CHECK(st_snappy_single_literal(blk, b.len, n + 1) == NULL);
        CHECK(st_snappy_single_literal(blk, b.len, n - 1) == NULL);
        /* truncated blocks are refused */
        CHECK(st_snappy_single_literal(blk, b.len - 1, n) == NULL);
        CHECK(st_snappy_single_literal(blk, 1, n) == NULL);
      } else if (n >= 16) {
        CHECK(lit == NULL);                    /* has copies */
      } else if (lit) {
        CHECK(!memcmp(lit, d, n));
      }
      free(blk); free(d); free(back);
      st_buf_free(&b);
    }
  }
}

/* Hand-made literal blocks: varint length, tag (length - 1 in the tag, or in
   1..4 following bytes), the bytes. */
static size_t lc_block(uint8_t *out, size_t ulen, size_t litlen, int extra_bytes, const uint8_t *data) {
  size_t k = 0;
  uint64_t v = ulen;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out[k++] = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);
  if (extra_bytes == 0) {
    out[k++] = (uint8_t)((litlen - 1) << 2);
  } else {
    out[k++] = (uint8_t)((59 + extra_bytes) << 2);
    for (int i = 0; i < extra_bytes; i++) out[k++] = (uint8_t)((litlen - 1) >> (8 * i));
  }
  memcpy(out + k, data, litlen);
  return k + litlen;
}

TEST(lc_snappy_single_literal_forms) {
  uint8_t data[300], blk[320];
  lc_random(data, sizeof data, 5);
  for (int eb = 0; eb <= 4; eb++) {
    size_t n = eb == 0 ? 50 : 200;
    size_t len = lc_block(blk, n, n, eb, data);
    uint8_t *c = lc_dup(blk, len);
    const uint8_t *lit = st_snappy_single_literal(c, len, n);
    CHECK(lit != NULL && !memcmp(lit, data, n));
    free(c);
    /* a trailing byte (another element would follow) is refused */
    blk[len] = 0;
    c = lc_dup(blk, len + 1);
    CHECK(st_snappy_single_literal(c, len + 1, n) == NULL);
    free(c);
    /* a literal shorter than the stated length is refused */
    len = lc_block(blk, n, n - 1, eb, data);
    c = lc_dup(blk, len);
    CHECK(st_snappy_single_literal(c, len, n) == NULL);
    free(c);
  }
  /* a block starting with a copy tag is refused; so is an empty one */
  uint8_t cp[] = {8, 0x01 | (4 << 2), 1};
  uint8_t *c = lc_dup(cp, sizeof cp);
  CHECK(st_snappy_single_literal(c, sizeof cp, 8) == NULL);
  free(c);
  uint8_t z[] = {0};
  c = lc_dup(z, 1);
  CHECK(st_snappy_single_literal(c, 1, 0) == NULL);
  CHECK(st_snappy_single_literal(c, 0, 0) == NULL);
  free(c);
  /* a length varint that never ends is refused */
  uint8_t bad[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  c = lc_dup(bad, sizeof bad);
  CHECK(st_snappy_single_literal(c, sizeof bad, 10) == NULL);
  free(c);
}
