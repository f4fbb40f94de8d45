/*
** Unit tests for src/parquet/encodings/snappy_view.c (random access into a
** Snappy block and the resumable prefix decoder).  The blocks are made by
** libsnappy (through st_codec_compress) and the oracle is libsnappy's own
** decompression (st_codec_decompress): every byte read through the view and
** every prefix decoded by the stream must equal it.  Truncated and
** bit-flipped blocks must fail cleanly or decode consistently (exact-size
** heap copies, so ASan catches any over-read).
*/
#include <stdlib.h>

#include "parquet/codec.h"
#include "parquet/encodings/encodings.h"
#include "test.h"
#include "util/mem.h"

/* Data of n bytes: kind 0 random, 1 sequential int64 (compressible), 2 runs,
   3 random bytes mixed with short repeats of period 1..7 (short copies whose
   offset is below 8, which overlap themselves), 4 random bytes mixed with
   repeats of 4..20 bytes from 4..64 bytes back (copies of 4..16 bytes with
   offsets both at least and below their length: both copy paths), 5 doubles
   whose high 4 bytes recur from 1..200 values back, mixed with runs of
   sequential int64s (the decoder's two pair loops, entered and left at
   every kind of neighbour). */
static void sv_data(uint8_t *d, size_t n, int kind, uint64_t seed) {
  uint64_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    if (kind == 0) d[i] = (uint8_t)x;
    else if (kind == 1) { uint64_t v = 1000000007ull + i / 8; d[i] = (uint8_t)(v >> (8 * (i % 8))); }
    else if (kind == 2) d[i] = (uint8_t)((i / 37) % 3);
    else if (kind == 5) {
      size_t v = i / 8, b = i % 8;
      uint64_t y = v * 0x9E3779B97F4A7C15ull;
      y ^= y >> 29;
      uint64_t val;
      if ((v / 300) % 3 == 0) val = 5000000000ull + v;                       /* sequential run */
      else val = (0x40E00000ull + (v / 37) % 50 + (y % 4)) << 32 | (uint32_t)(y >> 17); /* recurring high half */
      d[i] = (uint8_t)(val >> (8 * b));
    } else if (kind == 4) {
      size_t back = 4 + (size_t)(x % 61), len = 4 + (size_t)((x >> 8) % 17);
      if (i >= back && (x >> 16) % 2 == 0) {
        for (size_t k = 0; k < len && i < n; k++, i++) d[i] = d[i - back];
        i--;
      } else {
        d[i] = (uint8_t)(x >> 24);
      }
    } else {
      size_t per = 1 + (size_t)(x % 7), len = 4 + (size_t)((x >> 8) % 9);
      if (i >= per && (x >> 16) % 3 == 0) {
        for (size_t k = 0; k < len && i < n; k++, i++) d[i] = d[i - per];
        i--;
      } else {
        d[i] = (uint8_t)(x >> 24);
      }
    }
  }
}

static int sv_compress(const uint8_t *d, size_t n, st_buf *c) {
  st_error e;
  st_buf_init(c);
  return st_codec_compress(ST_CODEC_SNAPPY, -1, d, n, c, &e);
}

TEST(snappy_view_matches_decompress) {
  for (int kind = 0; kind < 6; kind++) {
    size_t n = 65536 + 24;
    uint8_t *d = malloc(n), *ref = malloc(n), *out = malloc(n + 64);
    CHECK(d && ref && out);
    sv_data(d, n, kind, 7 + (uint64_t)kind);
    st_buf c;
    CHECK(!sv_compress(d, n, &c));
    uint8_t *cb = malloc(c.len);   /* exact size */
    memcpy(cb, c.data, c.len);
    st_error e;
    CHECK_OK(st_codec_decompress(ST_CODEC_SNAPPY, cb, c.len, ref, n, &e), &e);
    CHECK(!memcmp(ref, d, n));
    /* view: parse may refuse a well-compressed block; when it accepts, reads agree */
    st_snappy_view v;
    memset(&v, 0, sizeof v);
    if (!st_snappy_view_parse(&v, cb, c.len)) {
      CHECK_EQ_I64(v.ulen, n);
      for (size_t p = 0; p + 8 <= n; p += 8 * 97 + 3) {
        uint8_t w[8];
        if (st_snappy_view_get(&v, p, 8, w)) continue;   /* chain too long: allowed */
        CHECK(!memcmp(w, ref + p, 8));
      }
      uint8_t w[8];
      CHECK(st_snappy_view_get(&v, n - 4, 8, w) != 0);   /* past the end */
    } else {
      CHECK(kind != 0);   /* random data is a few long literals */
    }
    st_snappy_view_free(&v);
    /* stream: prefixes in steps, then the rest */
    st_snappy_stream s;
    CHECK(st_snappy_stream_init(&s, cb, c.len, out, n + 32) == 0);
    CHECK(st_snappy_stream_init(&s, cb, c.len, out, n + 31) != 0);   /* too little room */
    CHECK(st_snappy_stream_init(&s, cb, c.len, out, n + 64) == 0);
    uint64_t want[] = {1, 100, 4097, 30000, 30000, 65536, (uint64_t)n, (uint64_t)n + 100};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
      CHECK(st_snappy_stream_upto(&s, want[k]) == 0);
      uint64_t w = want[k] < n ? want[k] : n;
      CHECK(s.op >= w);
      CHECK(!memcmp(out, ref, (size_t)w));
    }
    CHECK_EQ_I64(s.op, n);
    /* truncated and corrupted blocks: no crash; the stream never claims more
       than it decoded, and a view that parses reads only within the input */
    for (size_t cut = 0; cut < c.len; cut += c.len / 23 + 1) {
      uint8_t *tb = malloc(cut ? cut : 1);
      memcpy(tb, cb, cut);
      st_snappy_view_free(&v);
      if (!st_snappy_view_parse(&v, tb, cut)) {
        uint8_t w[8];
        for (size_t p = 0; p + 8 <= v.ulen; p += 4099) (void)st_snappy_view_get(&v, p, 8, w);
      }
      if (!st_snappy_stream_init(&s, tb, cut, out, n + 64)) CHECK(st_snappy_stream_upto(&s, n) != 0);
      free(tb);
    }
    for (int f = 0; f < 64; f++) {
      uint8_t *fb = malloc(c.len);
      memcpy(fb, cb, c.len);
      fb[(size_t)(f * 7919) % c.len] ^= (uint8_t)(1u << (f % 8));
      st_snappy_view_free(&v);
      if (!st_snappy_view_parse(&v, fb, c.len)) {
        uint8_t w[8];
        for (size_t p = 0; p + 8 <= v.ulen; p += 4099) (void)st_snappy_view_get(&v, p, 8, w);
      }
      if (!st_snappy_stream_init(&s, fb, c.len, out, n + 64)) (void)st_snappy_stream_upto(&s, n);
      free(fb);
    }
    st_snappy_view_free(&v);
    st_buf_free(&c);
    free(cb); free(d); free(ref); free(out);
  }
}
