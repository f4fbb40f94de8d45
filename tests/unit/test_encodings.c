/*
** Unit tests for src/parquet/encodings: known-answer vectors hand-built from
** parquet-format Encodings.md (its worked examples and grammar), a naive
** bit-by-bit reference for the unpack kernels, encode->decode round trips
** over random data for every bit width, and robustness: every truncated
** prefix and random bit flips must fail cleanly (inputs are copied into
** exact-size heap blocks so ASan catches any over-read).
*/
#include "test.h"

#include <stdlib.h>

#include "parquet/encodings/bitpack.h"
#include "parquet/encodings/encodings.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

/* Exact-size heap copy (so reads past the end hit ASan's redzone). */
static uint8_t *exact(const uint8_t *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  if (n) memcpy(q, p, n);
  return q;
}

/* Independent reference: value i of width w, bit by bit, LSB first. */
static uint64_t ref_get(const uint8_t *p, int64_t i, int w) {
  uint64_t v = 0;
  for (int b = 0; b < w; b++) {
    uint64_t bit = (uint64_t)i * (uint64_t)w + (uint64_t)b;
    v |= (uint64_t)((p[bit / 8] >> (bit % 8)) & 1) << b;
  }
  return v;
}

static const int64_t k_lengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127,
                                    128, 129, 255, 256, 257, 1000, 1024, 1031, 3000};
#define NLEN ((int)(sizeof k_lengths / sizeof k_lengths[0]))

/* Random values of width w in one of several shapes (random, runs, mixed). */
static void gen_vals(uint32_t *v, int64_t n, int w, int shape) {
  uint64_t mask = w == 32 ? 0xffffffffull : ((1ull << w) - 1);
  int64_t i = 0;
  while (i < n) {
    uint32_t x = (uint32_t)(rnd() & mask);
    int64_t run = 1;
    if (shape == 1) run = 1 + (int64_t)(rnd() % 40);
    else if (shape == 2) run = (rnd() & 1) ? 1 + (int64_t)(rnd() % 12) : 1;
    for (int64_t j = 0; j < run && i < n; j++) v[i++] = x;
  }
}

/* ---- bit unpacking kernels vs the reference -------------------------------- */

TEST(enc_unpack_u32_u16_u64_all_widths) {
  uint8_t buf[8 * 300 + 16];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rnd();
  static uint32_t o32[300];
  static uint16_t o16[300];
  static uint64_t o64[300];
  for (int w = 0; w <= 64; w++) {
    for (int64_t count = 0; count <= 300; count += (count < 70 ? 1 : 37)) {
      size_t bytes = (size_t)((count * w + 7) / 8);
      uint8_t *in = exact(buf, bytes);
      st_unpack_u64(in, bytes, w, o64, count);
      for (int64_t i = 0; i < count; i++) CHECK(o64[i] == ref_get(in, i, w));
      if (w <= 32) {
        st_unpack_u32(in, bytes, w, o32, count);
        for (int64_t i = 0; i < count; i++) CHECK(o32[i] == ref_get(in, i, w));
      }
      if (w <= 16) {
        st_unpack_u16(in, bytes, w, o16, count);
        for (int64_t i = 0; i < count; i++) CHECK(o16[i] == ref_get(in, i, w));
      }
      free(in);
    }
  }
}

TEST(enc_pack_matches_reference) {
  static uint64_t v[200];
  static uint8_t out[200 * 8 + 16];
  for (int w = 1; w <= 64; w++) {
    for (int64_t count = 0; count <= 200; count += 13) {
      for (int64_t i = 0; i < count; i++) v[i] = rnd() & (w == 64 ? ~0ull : ((1ull << w) - 1));
      size_t n = st_pack_u64(v, count, w, out);
      CHECK_EQ_I64(n, (count * w + 7) / 8);
      for (int64_t i = 0; i < count; i++) CHECK(ref_get(out, i, w) == v[i]);
    }
  }
}

/* ---- RLE / bit-packed hybrid ----------------------------------------------- */

TEST(enc_rle_spec_bitpacked_example) {
  /* Encodings.md: 0..7 at bit width 3 pack to 10001000 11000110 11111010 */
  const uint8_t want[] = {0x03, 0x88, 0xC6, 0xFA}; /* header: 1 group << 1 | 1 */
  uint32_t vals[8] = {0, 1, 2, 3, 4, 5, 6, 7}, got[8];
  st_error err = {0};
  uint8_t *in = exact(want, sizeof want);
  CHECK_OK(st_rle_decode_u32(in, sizeof want, 3, got, 8, &err), &err);
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(got[i], i);
  int16_t g16[8];
  CHECK_OK(st_rle_decode_i16(in, sizeof want, 3, g16, 8, &err), &err);
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(g16[i], i);
  /* fewer values requested than the group holds */
  CHECK_OK(st_rle_decode_u32(in, sizeof want, 3, got, 5, &err), &err);
  CHECK_EQ_I64(got[4], 4);
  free(in);
  st_buf b;
  st_buf_init(&b);
  CHECK_OK(st_rle_encode_u32(vals, 8, 3, &b, &err), &err);
  CHECK_EQ_I64(b.len, 4);
  CHECK(!memcmp(b.data, want, 4));
  st_buf_free(&b);
}

TEST(enc_rle_spec_rle_run) {
  /* rle-run: varint(300 << 1) = 0xD8 0x04, value 5 in 1 byte; then bit-packed
     run of 8 values width 3 (0..7); then a 2-byte value run at width 12 */
  const uint8_t s[] = {0xD8, 0x04, 0x05, 0x03, 0x88, 0xC6, 0xFA};
  static uint32_t got[308];
  st_error err = {0};
  uint8_t *in = exact(s, sizeof s);
  CHECK_OK(st_rle_decode_u32(in, sizeof s, 3, got, 308, &err), &err);
  for (int i = 0; i < 300; i++) CHECK_EQ_I64(got[i], 5);
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(got[300 + i], i);
  /* one value too many -> error naming RLE */
  int rc = st_rle_decode_u32(in, sizeof s, 3, got, 309, &err);
  CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "RLE") != NULL);
  free(in);
  const uint8_t s12[] = {0x06, 0x34, 0x0A}; /* 3 x 0xA34 at width 12 */
  in = exact(s12, sizeof s12);
  CHECK_OK(st_rle_decode_u32(in, sizeof s12, 12, got, 3, &err), &err);
  for (int i = 0; i < 3; i++) CHECK_EQ_I64(got[i], 0xA34);
  CHECK_EQ_I64(st_rle_decode_u32(in, sizeof s12, 11, got, 3, &err), ST_ERR_CORRUPT); /* value too wide */
  free(in);
  /* booleans: run of 10 trues then bit-packed 8 values 10110001 */
  const uint8_t sb[] = {0x14, 0x01, 0x03, 0x8D};
  uint8_t bits[4] = {0xff, 0, 0, 0xff};
  in = exact(sb, sizeof sb);
  CHECK_OK(st_rle_decode_bits(in, sizeof sb, bits, 3, 18, &err), &err);
  free(in);
  CHECK_EQ_I64(bits[0], 0xff);                        /* bits 0..2 kept, 3..7 set */
  CHECK_EQ_I64(bits[1], 0xBF); /* bits 8..12 true, 13..15 = 0x8D bits 0..2 (1,0,1) */
  CHECK_EQ_I64(bits[2], 0x11); /* bits 16..20 = 0x8D bits 3..7 (1,0,0,0,1) */
  for (int i = 13; i < 21; i++) CHECK_EQ_I64((bits[i / 8] >> (i % 8)) & 1, (0x8D >> (i - 13)) & 1);
  CHECK_EQ_I64(bits[3], 0xff); /* untouched */
}

TEST(enc_rle_roundtrip_all_widths) {
  static uint32_t v[3001], got[3001];
  static int16_t v16[3000], g16[3000];
  st_error err = {0};
  for (int w = 0; w <= 32; w++) {
    for (int li = 0; li < NLEN; li++) {
      for (int shape = 0; shape < 3; shape++) {
        int64_t n = k_lengths[li];
        gen_vals(v, n, w, shape);
        st_buf b;
        st_buf_init(&b);
        CHECK_OK(st_rle_encode_u32(v, n, w, &b, &err), &err);
        uint8_t *in = exact(b.data, b.len);
        memset(got, 0xAB, sizeof got);
        CHECK_OK(st_rle_decode_u32(in, b.len, w, got, n, &err), &err);
        for (int64_t i = 0; i < n; i++) CHECK(got[i] == v[i]);
        CHECK(got[n] == 0xABABABABu); /* exactly n values written */
        /* fused dictionary decode agrees with decode + gather */
        if (w <= 12 && n > 0) {
          uint32_t dict_n = 1u << w;
          static double dict[4096], dv[3000];
          for (uint32_t k = 0; k < dict_n; k++) dict[k] = (double)k * 0.5 - 3;
          CHECK_OK(st_dict_decode_fixed(in, b.len, w, (const uint8_t *)dict, dict_n, 8,
                                        (uint8_t *)dv, n, &err), &err);
          for (int64_t i = 0; i < n; i++) CHECK(dv[i] == dict[v[i]]);
        }
        free(in);
        st_buf_free(&b);
        if (w <= 15) { /* levels are non-negative int16 */
          for (int64_t i = 0; i < n; i++) v16[i] = (int16_t)v[i];
          st_buf_init(&b);
          CHECK_OK(st_rle_encode_i16(v16, n, w, &b, &err), &err);
          in = exact(b.data, b.len);
          CHECK_OK(st_rle_decode_i16(in, b.len, w, g16, n, &err), &err);
          for (int64_t i = 0; i < n; i++) CHECK(g16[i] == v16[i]);
          free(in);
          st_buf_free(&b);
        }
      }
    }
  }
}

TEST(enc_rle_encoder_choices) {
  /* 1000 equal values -> one RLE run: varint(2000) + 1 value byte */
  static uint32_t v[1000];
  for (int i = 0; i < 1000; i++) v[i] = 3;
  st_error err = {0};
  st_buf b;
  st_buf_init(&b);
  CHECK_OK(st_rle_encode_u32(v, 1000, 2, &b, &err), &err);
  CHECK_EQ_I64(b.len, 3);
  CHECK_EQ_I64(b.data[0], 0xD0);
  CHECK_EQ_I64(b.data[1], 0x0F);
  CHECK_EQ_I64(b.data[2], 3);
  /* value that does not fit -> invalid */
  v[5] = 4;
  b.len = 0;
  CHECK_EQ_I64(st_rle_encode_u32(v, 1000, 2, &b, &err), ST_ERR_INVALID);
  st_buf_free(&b);
  /* random data never expands much beyond bit packing */
  for (int i = 0; i < 1000; i++) v[i] = (uint32_t)(rnd() & 7);
  st_buf_init(&b);
  CHECK_OK(st_rle_encode_u32(v, 1000, 3, &b, &err), &err);
  CHECK(b.len <= 375 + 8);
  st_buf_free(&b);
}

TEST(enc_rle_bits_roundtrip) {
  static uint32_t v[3000];
  uint8_t out[400];
  st_error err = {0};
  for (int li = 0; li < NLEN; li++) {
    for (int shape = 0; shape < 3; shape++) {
      int64_t n = k_lengths[li];
      gen_vals(v, n, 1, shape);
      st_buf b;
      st_buf_init(&b);
      CHECK_OK(st_rle_encode_u32(v, n, 1, &b, &err), &err);
      uint8_t *in = exact(b.data, b.len);
      for (int off = 0; off < 9; off += 3) {
        memset(out, 0x5A, sizeof out);
        CHECK_OK(st_rle_decode_bits(in, b.len, out, off, n, &err), &err);
        for (int i = 0; i < off; i++) CHECK_EQ_I64((out[i / 8] >> (i % 8)) & 1, (0x5A >> (i % 8)) & 1);
        for (int64_t i = 0; i < n; i++)
          CHECK_EQ_I64((out[(i + off) / 8] >> ((i + off) % 8)) & 1, v[i]);
        int64_t e = n + off; /* bits after the range untouched */
        for (int64_t i = e; i < e + 8; i++)
          CHECK_EQ_I64((out[i / 8] >> (i % 8)) & 1, (0x5A >> (i % 8)) & 1);
      }
      free(in);
      st_buf_free(&b);
    }
  }
}

/* Truncation at every prefix and random bit flips: clean error or right values. */
TEST(enc_rle_truncation_and_bitflips) {
  static uint32_t v[600], got[600];
  st_error err = {0};
  for (int w = 1; w <= 32; w += 3) {
    gen_vals(v, 600, w, 2);
    st_buf b;
    st_buf_init(&b);
    CHECK_OK(st_rle_encode_u32(v, 600, w, &b, &err), &err);
    for (size_t L = 0; L < b.len; L++) {
      uint8_t *in = exact(b.data, L);
      int rc = st_rle_decode_u32(in, L, w, got, 600, &err);
      if (rc == 0) {
        for (int i = 0; i < 600; i++) CHECK(got[i] == v[i]);
      } else {
        CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
        CHECK(strstr(err.msg, "RLE") != NULL);
      }
      free(in);
    }
    for (int t = 0; t < 200; t++) {
      uint8_t *in = exact(b.data, b.len);
      in[rnd() % b.len] ^= (uint8_t)(1u << (rnd() % 8));
      (void)st_rle_decode_u32(in, b.len, w, got, 600, &err);
      static double dict[8];
      (void)st_dict_decode_fixed(in, b.len, w, (const uint8_t *)dict, 8, 8, (uint8_t *)got, 300,
                                 &err);
      free(in);
    }
    st_buf_free(&b);
  }
  /* header claims a huge bit-packed run on tiny input */
  const uint8_t huge[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01};
  uint8_t *in = exact(huge, sizeof huge);
  CHECK_EQ_I64(st_rle_decode_u32(in, sizeof huge, 8, got, 100, &err), ST_ERR_CORRUPT);
  CHECK_EQ_I64(st_rle_decode_u32(in, sizeof huge, 33, got, 1, &err), ST_ERR_CORRUPT);
  free(in);
}

/* ---- DELTA_BINARY_PACKED ----------------------------------------------------- */

TEST(enc_delta_spec_examples) {
  st_error err = {0};
  size_t used = 0;
  /* Example 1: 1..5; header 8,1,5,zz(1)=2; block zz(1)=2, width 0 */
  const uint8_t e1[] = {0x08, 0x01, 0x05, 0x02, 0x02, 0x00};
  int32_t g[8];
  uint8_t *in = exact(e1, sizeof e1);
  CHECK_OK(st_delta_decode_i32(in, sizeof e1, 5, g, &used, &err), &err);
  for (int i = 0; i < 5; i++) CHECK_EQ_I64(g[i], i + 1);
  CHECK_EQ_I64(used, sizeof e1);
  free(in);
  /* Example 2: 7,5,3,1,2,3,4,5; header 8,1,8,zz(7)=14; block zz(-2)=3, width 2,
     deltas 0,0,0,3,3,3,3 (+1 padding 0) packed LSB first: 0xC0 0x3F */
  const uint8_t e2[] = {0x08, 0x01, 0x08, 0x0E, 0x03, 0x02, 0xC0, 0x3F};
  const int32_t w2[] = {7, 5, 3, 1, 2, 3, 4, 5};
  in = exact(e2, sizeof e2);
  CHECK_OK(st_delta_decode_i32(in, sizeof e2, 8, g, &used, &err), &err);
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(g[i], w2[i]);
  CHECK_EQ_I64(used, sizeof e2);
  int64_t g64[8];
  CHECK_OK(st_delta_decode_i64(in, sizeof e2, 8, g64, &used, &err), &err);
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(g64[i], w2[i]);
  /* more values than the header holds */
  CHECK_EQ_I64(st_delta_decode_i32(in, sizeof e2, 9, g, &used, &err), ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "DELTA_BINARY_PACKED") != NULL);
  free(in);
  /* bit width 33 for int32, 65 for int64 */
  const uint8_t bad[] = {0x08, 0x01, 0x03, 0x00, 0x00, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  in = exact(bad, sizeof bad);
  CHECK_EQ_I64(st_delta_decode_i32(in, sizeof bad, 3, g, &used, &err), ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "DELTA_BINARY_PACKED: bit width 33 > 32") != NULL);
  in[5] = 65;
  CHECK_EQ_I64(st_delta_decode_i64(in, sizeof bad, 3, g64, &used, &err), ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "DELTA_BINARY_PACKED: bit width 65 > 64") != NULL);
  free(in);
}

static void gen_i64(int64_t *v, int64_t n, int shape) {
  int64_t x = (int64_t)rnd();
  for (int64_t i = 0; i < n; i++) {
    switch (shape) {
      case 0: v[i] = (int64_t)rnd(); break;                              /* full range */
      case 1: x += (int64_t)(rnd() % 1000); v[i] = x; break;            /* sorted */
      case 2: v[i] = (i & 1) ? INT64_MAX : INT64_MIN; break;             /* wrapping deltas */
      case 3: v[i] = 42; break;                                          /* constant */
      default: v[i] = (int64_t)(rnd() % 17) - 8; break;                  /* small */
    }
  }
}

TEST(enc_delta_roundtrip_i32_i64) {
  static int64_t v[3001], g[3001];
  static int32_t v32[3000], g32[3000];
  st_error err = {0};
  for (int li = 0; li < NLEN; li++) {
    for (int shape = 0; shape < 5; shape++) {
      int64_t n = k_lengths[li];
      gen_i64(v, n, shape);
      st_buf b;
      st_buf_init(&b);
      CHECK_OK(st_delta_encode_i64(v, n, &b, &err), &err);
      uint8_t *in = exact(b.data, b.len);
      size_t used = 0;
      memset(g, 0x77, sizeof g);
      CHECK_OK(st_delta_decode_i64(in, b.len, n, g, &used, &err), &err);
      CHECK_EQ_I64(used, b.len);
      for (int64_t i = 0; i < n; i++) CHECK(g[i] == v[i]);
      CHECK(g[n] == 0x7777777777777777ll);
      /* prefix decode: fewer values, consumed is still the whole stream */
      if (n > 3) {
        CHECK_OK(st_delta_decode_i64(in, b.len, n / 2, g, &used, &err), &err);
        CHECK_EQ_I64(used, b.len);
        for (int64_t i = 0; i < n / 2; i++) CHECK(g[i] == v[i]);
      }
      free(in);
      st_buf_free(&b);
      for (int64_t i = 0; i < n; i++) {
        v32[i] = (int32_t)v[i];
        if (shape == 2) v32[i] = (i & 1) ? INT32_MAX : INT32_MIN;
      }
      st_buf_init(&b);
      CHECK_OK(st_delta_encode_i32(v32, n, &b, &err), &err);
      in = exact(b.data, b.len);
      CHECK_OK(st_delta_decode_i32(in, b.len, n, g32, &used, &err), &err);
      CHECK_EQ_I64(used, b.len);
      for (int64_t i = 0; i < n; i++) CHECK(g32[i] == v32[i]);
      free(in);
      st_buf_free(&b);
    }
  }
}

TEST(enc_delta_block_variants) {
  /* hand-built stream: block 256 with 2 miniblocks of 128 values (widths 64
     and 1), checking the 64-bit kernels and multi-miniblock walking */
  static uint8_t s[4096];
  size_t k = 0;
  k += st_uleb_write(s + k, 256);
  k += st_uleb_write(s + k, 2);
  k += st_uleb_write(s + k, 200);
  k += st_uleb_write(s + k, st_zigzag_enc(-5));
  k += st_uleb_write(s + k, st_zigzag_enc(INT64_MIN));
  s[k++] = 64;
  s[k++] = 1;
  static uint64_t d[256];
  for (int i = 0; i < 128; i++) d[i] = rnd();
  for (int i = 128; i < 256; i++) d[i] = rnd() & 1;
  k += st_pack_u64(d, 128, 64, s + k);
  k += st_pack_u64(d + 128, 128, 1, s + k);
  static int64_t g[200];
  st_error err = {0};
  size_t used;
  uint8_t *in = exact(s, k);
  CHECK_OK(st_delta_decode_i64(in, k, 200, g, &used, &err), &err);
  CHECK_EQ_I64(used, k);
  uint64_t x = (uint64_t)-5;
  CHECK_EQ_I64(g[0], -5);
  for (int i = 1; i < 200; i++) {
    x += (uint64_t)INT64_MIN + d[i - 1];
    CHECK(g[i] == (int64_t)x);
  }
  free(in);
  /* short last miniblock (padding missing) is tolerated */
  size_t shortk = k - 5;
  in = exact(s, shortk);
  CHECK_OK(st_delta_decode_i64(in, shortk, 200, g, &used, &err), &err);
  CHECK_EQ_I64(used, shortk);
  free(in);
  /* miniblock size not a multiple of 8 */
  const uint8_t b2[] = {0x0C, 0x01, 0x02, 0x00, 0x00, 0x00};
  in = exact(b2, sizeof b2);
  CHECK_EQ_I64(st_delta_decode_i64(in, sizeof b2, 2, g, &used, &err), ST_ERR_CORRUPT);
  free(in);
}

TEST(enc_delta_truncation_and_bitflips) {
  static int64_t v[700], g[700];
  static int32_t g32[700];
  st_error err = {0};
  for (int shape = 0; shape < 5; shape++) {
    gen_i64(v, 700, shape);
    st_buf b;
    st_buf_init(&b);
    CHECK_OK(st_delta_encode_i64(v, 700, &b, &err), &err);
    for (size_t L = 0; L < b.len; L++) {
      uint8_t *in = exact(b.data, L);
      size_t used;
      int rc = st_delta_decode_i64(in, L, 700, g, &used, &err);
      if (rc == 0) {
        for (int i = 0; i < 700; i++) CHECK(g[i] == v[i]);
      } else {
        CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
        CHECK(strstr(err.msg, "DELTA_BINARY_PACKED") != NULL);
      }
      free(in);
    }
    for (int t = 0; t < 300; t++) {
      uint8_t *in = exact(b.data, b.len);
      in[rnd() % b.len] ^= (uint8_t)(1u << (rnd() % 8));
      size_t used;
      (void)st_delta_decode_i64(in, b.len, 700, g, &used, &err);
      (void)st_delta_decode_i32(in, b.len, 700, g32, &used, &err);
      free(in);
    }
    st_buf_free(&b);
  }
}

/* ---- byte arrays ------------------------------------------------------------------ */

/* n random strings (often sharing prefixes) into offsets/bytes. */
static void gen_strings(int64_t n, int32_t *off, uint8_t *bytes, int maxlen) {
  off[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    int l = maxlen ? (int)(rnd() % (uint64_t)(maxlen + 1)) : 0;
    uint8_t *p = bytes + off[i];
    int keep = (i > 0 && (rnd() & 1)) ? (int)(rnd() % 6) : 0;
    for (int j = 0; j < l; j++) p[j] = (j < keep && j < off[i] - off[i - 1]) ? bytes[off[i - 1] + j]
                                                                             : (uint8_t)('a' + rnd() % 4);
    off[i + 1] = off[i] + l;
  }
}

typedef int (*ba_dec)(const uint8_t *, size_t, int64_t, int32_t *, st_buf *, size_t *, st_error *);
typedef int (*ba_enc)(const int32_t *, const uint8_t *, int64_t, st_buf *, st_error *);

TEST(enc_byte_array_roundtrips) {
  static int32_t off[1201], goff[1202];
  static uint8_t bytes[1200 * 40];
  ba_enc encs[3] = {st_plain_encode_byte_array, st_delta_length_encode, st_delta_byte_array_encode};
  ba_dec decs[3] = {st_plain_decode_byte_array, st_delta_length_decode, st_delta_byte_array_decode};
  const char *names[3] = {"PLAIN", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY"};
  st_error err = {0};
  const int64_t ns[] = {0, 1, 2, 7, 8, 9, 127, 128, 129, 1200};
  for (int e = 0; e < 3; e++) {
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
      for (int maxlen = 0; maxlen <= 33; maxlen += 11) {
        int64_t n = ns[ni];
        gen_strings(n, off, bytes, maxlen);
        st_buf enc;
        st_buf_init(&enc);
        CHECK_OK(encs[e](off, bytes, n, &enc, &err), &err);
        uint8_t *in = exact(enc.data, enc.len);
        st_buf out;
        st_buf_init(&out);
        /* pre-existing content: offsets continue from it */
        CHECK_OK(st_buf_append(&out, "xyz", 3, &err), &err);
        goff[0] = 3;
        size_t used = 0;
        CHECK_OK(decs[e](in, enc.len, n, goff, &out, &used, &err), &err);
        CHECK_EQ_I64(used, enc.len);
        CHECK_EQ_I64(out.len, 3 + off[n]);
        CHECK(!memcmp(out.data, "xyz", 3));
        for (int64_t i = 0; i <= n; i++) CHECK_EQ_I64(goff[i], off[i] + 3);
        CHECK(n == 0 || !memcmp(out.data + 3, bytes, (size_t)off[n]));
        /* every truncated prefix fails (or, for a shorter stream, decodes right) */
        for (size_t L = 0; L < enc.len && n > 0; L++) {
          uint8_t *t = exact(enc.data, L);
          out.len = 3;
          int rc = decs[e](t, L, n, goff, &out, &used, &err);
          if (rc) {
            CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
            CHECK(strstr(err.msg, names[e]) != NULL || strstr(err.msg, "DELTA_BINARY_PACKED"));
          } else {
            CHECK(!memcmp(out.data + 3, bytes, (size_t)off[n]));
          }
          free(t);
        }
        for (int t = 0; t < 50 && enc.len; t++) {
          uint8_t *f = exact(enc.data, enc.len);
          f[rnd() % enc.len] ^= (uint8_t)(1u << (rnd() % 8));
          out.len = 3;
          (void)decs[e](f, enc.len, n, goff, &out, &used, &err);
          free(f);
        }
        free(in);
        st_buf_free(&out);
        st_buf_free(&enc);
      }
    }
  }
}

TEST(enc_byte_array_spec_examples) {
  st_error err = {0};
  size_t used;
  int32_t lens[4];
  /* DELTA_LENGTH_BYTE_ARRAY: "Hello","World","Foobar","ABCDEF" ->
     DeltaEncoding(5,5,6,6) then "HelloWorldFoobarABCDEF" */
  const char *s1 = "HelloWorldFoobarABCDEF";
  int32_t o1[5] = {0, 5, 10, 16, 22};
  st_buf b;
  st_buf_init(&b);
  CHECK_OK(st_delta_length_encode(o1, (const uint8_t *)s1, 4, &b, &err), &err);
  CHECK_OK(st_delta_decode_i32(b.data, b.len, 4, lens, &used, &err), &err);
  CHECK(lens[0] == 5 && lens[1] == 5 && lens[2] == 6 && lens[3] == 6);
  CHECK_EQ_I64(b.len - used, 22);
  CHECK(!memcmp(b.data + used, s1, 22));
  st_buf_free(&b);
  /* DELTA_BYTE_ARRAY: "axis","axle","babble","babyhood" -> prefix lengths
     (0,2,0,3), suffix lengths (4,2,6,5), "axislebabbleyhood" */
  const char *s2 = "axisaxlebabblebabyhood";
  int32_t o2[5] = {0, 4, 8, 14, 22};
  st_buf_init(&b);
  CHECK_OK(st_delta_byte_array_encode(o2, (const uint8_t *)s2, 4, &b, &err), &err);
  CHECK_OK(st_delta_decode_i32(b.data, b.len, 4, lens, &used, &err), &err);
  CHECK(lens[0] == 0 && lens[1] == 2 && lens[2] == 0 && lens[3] == 3);
  size_t used2;
  CHECK_OK(st_delta_decode_i32(b.data + used, b.len - used, 4, lens, &used2, &err), &err);
  CHECK(lens[0] == 4 && lens[1] == 2 && lens[2] == 6 && lens[3] == 5);
  CHECK_EQ_I64(b.len - used - used2, 17);
  CHECK(!memcmp(b.data + used + used2, "axislebabbleyhood", 17));
  /* decode the hand-checked stream */
  st_buf out;
  st_buf_init(&out);
  int32_t go[5] = {0};
  CHECK_OK(st_delta_byte_array_decode(b.data, b.len, 4, go, &out, &used, &err), &err);
  CHECK(!memcmp(out.data, s2, 22));
  for (int i = 0; i < 5; i++) CHECK_EQ_I64(go[i], o2[i]);
  st_buf_free(&out);
  st_buf_free(&b);
  /* prefix longer than the previous value is corrupt */
  st_buf_init(&b);
  int32_t pl[2] = {0, 9}, sl[2] = {1, 1};
  CHECK_OK(st_delta_encode_i32(pl, 2, &b, &err), &err);
  CHECK_OK(st_delta_encode_i32(sl, 2, &b, &err), &err);
  CHECK_OK(st_buf_append(&b, "ab", 2, &err), &err);
  st_buf_init(&out);
  go[0] = 0;
  CHECK_EQ_I64(st_delta_byte_array_decode(b.data, b.len, 2, go, &out, &used, &err), ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "DELTA_BYTE_ARRAY: value 1: prefix length 9") != NULL);
  st_buf_free(&out);
  st_buf_free(&b);
}

TEST(enc_plain_index_and_bool) {
  const uint8_t s[] = {3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 1, 0, 0, 0, 'z'};
  const uint8_t *ptrs[3];
  uint32_t lens[3];
  size_t used;
  st_error err = {0};
  uint8_t *in = exact(s, sizeof s);
  CHECK_OK(st_plain_index_byte_array(in, sizeof s, 3, ptrs, lens, &used, &err), &err);
  CHECK_EQ_I64(used, sizeof s);
  CHECK(lens[0] == 3 && lens[1] == 0 && lens[2] == 1);
  CHECK(!memcmp(ptrs[0], "abc", 3) && ptrs[2][0] == 'z');
  CHECK_EQ_I64(st_plain_index_byte_array(in, sizeof s - 1, 3, ptrs, lens, &used, &err),
               ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "PLAIN") != NULL);
  free(in);
  /* booleans: LSB first; round trip with offsets */
  uint8_t bits[40], got[48];
  for (int i = 0; i < 40; i++) bits[i] = (uint8_t)rnd();
  for (int off = 0; off < 11; off++) {
    for (int64_t n = 0; n <= 300; n += 23) {
      st_buf b;
      st_buf_init(&b);
      CHECK_OK(st_plain_encode_bool(bits, off, n, &b, &err), &err);
      CHECK_EQ_I64(b.len, (n + 7) / 8);
      for (int64_t i = 0; i < n; i++)
        CHECK_EQ_I64((b.data[i / 8] >> (i % 8)) & 1, (bits[(i + off) / 8] >> ((i + off) % 8)) & 1);
      uint8_t *e = exact(b.data, b.len);
      memset(got, 0, sizeof got);
      CHECK_OK(st_plain_decode_bool(e, b.len, n, got, off, &used, &err), &err);
      CHECK_EQ_I64(used, b.len);
      for (int64_t i = 0; i < n; i++)
        CHECK_EQ_I64((got[(i + off) / 8] >> ((i + off) % 8)) & 1, (bits[(i + off) / 8] >> ((i + off) % 8)) & 1);
      if (n) CHECK_EQ_I64(st_plain_decode_bool(e, b.len - 1, n, got, off, &used, &err), ST_ERR_CORRUPT);
      free(e);
      st_buf_free(&b);
    }
  }
}

/* ---- BYTE_STREAM_SPLIT ------------------------------------------------------------ */

TEST(enc_bss_spec_example_and_roundtrip) {
  const uint8_t vals[] = {0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0x11, 0x22, 0x33, 0xA3, 0xB4, 0xC5, 0xD6};
  const uint8_t want[] = {0xAA, 0x00, 0xA3, 0xBB, 0x11, 0xB4, 0xCC, 0x22, 0xC5, 0xDD, 0x33, 0xD6};
  st_error err = {0};
  st_buf b;
  st_buf_init(&b);
  CHECK_OK(st_bss_encode(vals, 4, 3, &b, &err), &err);
  CHECK_EQ_I64(b.len, 12);
  CHECK(!memcmp(b.data, want, 12));
  st_buf_free(&b);
  uint8_t got[12];
  uint8_t *in = exact(want, 12);
  CHECK_OK(st_bss_decode(in, 12, 4, 3, got, &err), &err);
  CHECK(!memcmp(got, vals, 12));
  CHECK_EQ_I64(st_bss_decode(in, 11, 4, 2, got, &err), ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "BYTE_STREAM_SPLIT") != NULL);
  CHECK_EQ_I64(st_bss_decode(in, 12, 4, 4, got, &err), ST_ERR_CORRUPT);
  free(in);
  static uint8_t v[600 * 17], g[600 * 17];
  for (int w = 1; w <= 17; w++) {
    for (int64_t n = 0; n <= 600; n += (n < 40 ? 1 : 97)) {
      for (int64_t i = 0; i < n * w; i++) v[i] = (uint8_t)rnd();
      st_buf_init(&b);
      CHECK_OK(st_bss_encode(v, w, n, &b, &err), &err);
      CHECK_EQ_I64(b.len, n * w);
      /* independent check of the layout: byte k of value i at k*n + i */
      for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < w; k++) CHECK(b.data[k * n + i] == v[i * w + k]);
      in = exact(b.data, b.len);
      CHECK_OK(st_bss_decode(in, b.len, w, n, g, &err), &err);
      CHECK(n == 0 || !memcmp(g, v, (size_t)(n * w)));
      /* only a prefix of the page */
      if (n > 2) {
        memset(g, 0, (size_t)(n * w));
        CHECK_OK(st_bss_decode(in, b.len, w, n - 2, g, &err), &err);
        CHECK(!memcmp(g, v, (size_t)((n - 2) * w)));
        CHECK(g[(n - 2) * w] == 0);
      }
      free(in);
      st_buf_free(&b);
    }
  }
}

/* ---- Dictionary gathers ----------------------------------------------------------- */

TEST(enc_dict_gathers) {
  static uint32_t idx[2500];
  static uint8_t dict[37 * 24], out[2500 * 24];
  st_error err = {0};
  for (size_t i = 0; i < sizeof dict; i++) dict[i] = (uint8_t)rnd();
  const int widths[] = {1, 2, 3, 4, 8, 12, 16, 24};
  for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
    int w = widths[wi];
    for (int64_t n = 0; n <= 2500; n += 833) {
      for (int64_t i = 0; i < n; i++) idx[i] = (uint32_t)(rnd() % 37);
      CHECK_OK(st_dict_gather_fixed(idx, n, dict, 37, w, out, &err), &err);
      for (int64_t i = 0; i < n; i++) CHECK(!memcmp(out + i * w, dict + idx[i] * w, (size_t)w));
      if (n) {
        idx[n - 1] = 37;
        CHECK_EQ_I64(st_dict_gather_fixed(idx, n, dict, 37, w, out, &err), ST_ERR_CORRUPT);
        CHECK(strstr(err.msg, "dictionary: index 37 out of range") != NULL);
      }
    }
  }
  /* binary dictionary */
  const char *words = "alphabetagammadelta";
  int32_t doff[5] = {0, 5, 9, 14, 19};
  static int32_t offs[2501];
  st_buf b;
  st_buf_init(&b);
  offs[0] = 0;
  for (int i = 0; i < 2500; i++) idx[i] = (uint32_t)(rnd() % 4);
  CHECK_OK(st_dict_gather_binary(idx, 2500, doff, (const uint8_t *)words, 4, offs, &b, &err), &err);
  for (int i = 0; i < 2500; i++) {
    int32_t l = doff[idx[i] + 1] - doff[idx[i]];
    CHECK_EQ_I64(offs[i + 1] - offs[i], l);
    CHECK(!memcmp(b.data + offs[i], words + doff[idx[i]], (size_t)l));
  }
  idx[100] = 4;
  b.len = 0;
  CHECK_EQ_I64(st_dict_gather_binary(idx, 2500, doff, (const uint8_t *)words, 4, offs, &b, &err),
               ST_ERR_CORRUPT);
  st_buf_free(&b);
  /* fused decode: RLE run with an out-of-range index */
  const uint8_t r[] = {0x10, 0x05};
  double dd[8] = {0}, o[8];
  CHECK_EQ_I64(st_dict_decode_fixed(r, 2, 3, (const uint8_t *)dd, 5, 8, (uint8_t *)o, 8, &err),
               ST_ERR_CORRUPT);
  CHECK_OK(st_dict_decode_fixed(r, 2, 3, (const uint8_t *)dd, 6, 8, (uint8_t *)o, 8, &err), &err);
}

TEST(enc_bit_width) {
  CHECK_EQ_I64(st_bit_width(0), 0);
  CHECK_EQ_I64(st_bit_width(1), 1);
  CHECK_EQ_I64(st_bit_width(7), 3);
  CHECK_EQ_I64(st_bit_width(8), 4);
  CHECK_EQ_I64(st_bit_width(UINT64_MAX), 64);
}

/* ---- pyarrow-produced vectors (tests/encoding_vectors.py) ---------------------- */

static uint8_t *slurp(const char *dir, const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc(sz ? (size_t)sz : 1);
  *len = fread(p, 1, (size_t)sz, f);
  fclose(f);
  return p;
}

/* Compare decoded offsets/bytes with a [le32 len][bytes]* expectation. */
static int same_byte_arrays(const int32_t *off, const uint8_t *bytes, int64_t n, const uint8_t *e,
                            size_t elen) {
  size_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    if (k + 4 > elen) return 0;
    uint32_t l;
    memcpy(&l, e + k, 4);
    k += 4;
    if ((uint32_t)(off[i + 1] - off[i]) != l || k + l > elen) return 0;
    if (l && memcmp(bytes + off[i], e + k, l)) return 0;
    k += l;
  }
  return k == elen;
}

TEST(enc_pyarrow_vectors) {
  const char *dir = getenv("SKYTILE_ENC_VECTORS");
  if (!dir) dir = "tests/data/encodings";
  char mpath[1024];
  snprintf(mpath, sizeof mpath, "%s/manifest.txt", dir);
  FILE *mf = fopen(mpath, "r");
  if (!mf) fprintf(stderr, "cannot open %s (run from the repo root)\n", mpath);
  CHECK(mf != NULL);
  char kind[32], f1[256], f2[256], fe[256];
  long long n;
  int param, count = 0, enc_same = 0, enc_total = 0;
  st_error err = {0};
  while (fscanf(mf, "%31s %lld %d %255s %255s %255s", kind, &n, &param, f1, f2, fe) == 6) {
    size_t blen = 0, elen = 0, dlen = 0, used = 0;
    uint8_t *braw = slurp(dir, f1, &blen), *e = slurp(dir, fe, &elen);
    if (!braw || !e) fprintf(stderr, "missing vector file %s or %s\n", f1, fe);
    CHECK(braw && e);
    uint8_t *b = exact(braw, blen); /* exact size: ASan sees over-reads */
    free(braw);
    uint8_t *out = malloc((size_t)n * 16 + 16);
    int32_t *off = malloc(((size_t)n + 1) * 4);
    st_buf bytes, enc;
    st_buf_init(&bytes);
    st_buf_init(&enc);
    int ok = 1;
    if (!strcmp(kind, "delta32") || !strcmp(kind, "delta64")) {
      int is64 = kind[5] == '6';
      int rc = is64 ? st_delta_decode_i64(b, blen, n, (int64_t *)(void *)out, &used, &err)
                    : st_delta_decode_i32(b, blen, n, (int32_t *)(void *)out, &used, &err);
      CHECK_OK(rc, &err);
      ok = used == blen && elen == (size_t)n * (is64 ? 8 : 4) && !memcmp(out, e, elen);
      rc = is64 ? st_delta_encode_i64((const int64_t *)(const void *)e, n, &enc, &err)
                : st_delta_encode_i32((const int32_t *)(const void *)e, n, &enc, &err);
      CHECK_OK(rc, &err);
      enc_total++;
      enc_same += enc.len == blen && !memcmp(enc.data, b, blen);
      if (getenv("ENC_DEBUG") && !(enc.len == blen && !memcmp(enc.data, b, blen))) fprintf(stderr, "differs: %s n=%lld ours %zu theirs %zu\n", kind, n, enc.len, blen);
    } else if (!strcmp(kind, "dlba") || !strcmp(kind, "dba")) {
      int dba = kind[1] == 'b';
      off[0] = 0;
      int rc = dba ? st_delta_byte_array_decode(b, blen, n, off, &bytes, &used, &err)
                   : st_delta_length_decode(b, blen, n, off, &bytes, &used, &err);
      CHECK_OK(rc, &err);
      ok = used == blen && same_byte_arrays(off, bytes.data, n, e, elen);
      rc = dba ? st_delta_byte_array_encode(off, bytes.data, n, &enc, &err)
               : st_delta_length_encode(off, bytes.data, n, &enc, &err);
      CHECK_OK(rc, &err);
      enc_total++;
      enc_same += enc.len == blen && !memcmp(enc.data, b, blen);
      if (getenv("ENC_DEBUG") && !(enc.len == blen && !memcmp(enc.data, b, blen))) fprintf(stderr, "differs: %s n=%lld ours %zu theirs %zu\n", kind, n, enc.len, blen);
    } else if (!strcmp(kind, "bss")) {
      CHECK_OK(st_bss_decode(b, blen, param, n, out, &err), &err);
      ok = elen == (size_t)n * (size_t)param && !memcmp(out, e, elen);
      CHECK_OK(st_bss_encode(e, param, n, &enc, &err), &err);
      ok = ok && enc.len == blen && !memcmp(enc.data, b, blen);
    } else if (!strcmp(kind, "dict")) {
      uint8_t *d = slurp(dir, f2, &dlen);
      CHECK(d != NULL && blen >= 1);
      uint32_t dict_n = (uint32_t)(dlen / (size_t)param);
      uint8_t *draw = d;
      d = exact(draw, dlen);
      free(draw);
      /* data page: 1-byte bit width, then the hybrid runs */
      CHECK_OK(st_dict_decode_fixed(b + 1, blen - 1, b[0], d, dict_n, param, out, n, &err), &err);
      ok = elen == (size_t)n * (size_t)param && !memcmp(out, e, elen);
      uint32_t *idx = malloc((size_t)n * 4 + 4);
      CHECK_OK(st_rle_decode_u32(b + 1, blen - 1, b[0], idx, n, &err), &err);
      memset(out, 0, (size_t)n * (size_t)param);
      CHECK_OK(st_dict_gather_fixed(idx, n, d, dict_n, param, out, &err), &err);
      ok = ok && !memcmp(out, e, elen);
      free(idx);
      free(d);
    } else if (!strcmp(kind, "rlebool")) {
      uint32_t l;
      CHECK(blen >= 4);
      memcpy(&l, b, 4);
      CHECK(l == blen - 4);
      memset(out, 0, (size_t)n / 8 + 1);
      CHECK_OK(st_rle_decode_bits(b + 4, l, out, 0, n, &err), &err);
      for (int64_t i = 0; i < n && ok; i++) ok = ((out[i / 8] >> (i % 8)) & 1) == e[i];
    } else if (!strcmp(kind, "deflevels")) {
      CHECK_OK(st_rle_decode_i16(b, blen, param, (int16_t *)(void *)out, n, &err), &err);
      ok = elen == (size_t)n * 2 && !memcmp(out, e, elen);
    } else {
      fprintf(stderr, "unknown vector kind %s\n", kind);
      ok = 0;
    }
    if (!ok) fprintf(stderr, "vector %s n=%lld (%s) decoded wrong\n", kind, n, f1);
    CHECK(ok);
    count++;
    st_buf_free(&bytes);
    st_buf_free(&enc);
    free(off);
    free(out);
    free(b);
    free(e);
  }
  fclose(mf);
  fprintf(stderr, "%d pyarrow vectors ok; our DELTA encoders byte-identical to pyarrow for %d/%d\n",
          count, enc_same, enc_total);
  CHECK(count >= 50);
  CHECK_EQ_I64(enc_same, enc_total); /* same block parameters as Arrow: identical bytes */
}

/* Random garbage into every decoder: only clean errors (or success), never a crash. */
TEST(enc_random_garbage) {
  static uint8_t raw[300], out[300 * 16 + 64];
  static int32_t offs[302];
  static uint32_t idx[300];
  st_error err = {0};
  double dict[4] = {1, 2, 3, 4};
  for (int it = 0; it < 3000; it++) {
    size_t len = (size_t)(rnd() % 300);
    for (size_t i = 0; i < len; i++) raw[i] = (it & 1) ? (uint8_t)rnd() : (uint8_t)(rnd() % 4);
    uint8_t *in = exact(raw, len);
    int64_t n = (int64_t)(rnd() % 300);
    int w = (int)(rnd() % 34);
    size_t used;
    int rcs[12];
    int k = 0;
    rcs[k++] = st_rle_decode_u32(in, len, w, (uint32_t *)(void *)out, n, &err);
    rcs[k++] = st_rle_decode_i16(in, len, w % 17, (int16_t *)(void *)out, n, &err);
    rcs[k++] = st_rle_decode_bits(in, len, out, 3, n, &err);
    rcs[k++] = st_delta_decode_i32(in, len, n, (int32_t *)(void *)out, &used, &err);
    rcs[k++] = st_delta_decode_i64(in, len, n, (int64_t *)(void *)out, &used, &err);
    rcs[k++] = st_dict_decode_fixed(in, len, w, (const uint8_t *)dict, 4, 8, out, n, &err);
    rcs[k++] = st_bss_decode(in, len, 1 + w % 9, n, out, &err);
    st_buf b;
    st_buf_init(&b);
    offs[0] = 0;
    rcs[k++] = st_plain_decode_byte_array(in, len, n, offs, &b, &used, &err);
    b.len = 0;
    rcs[k++] = st_delta_length_decode(in, len, n, offs, &b, &used, &err);
    b.len = 0;
    rcs[k++] = st_delta_byte_array_decode(in, len, n, offs, &b, &used, &err);
    st_buf_free(&b);
    for (int i = 0; i < 300; i++) idx[i] = raw[i % (len ? len : 1)] % 5;
    rcs[k++] = st_dict_gather_fixed(idx, n, (const uint8_t *)dict, 4, 8, out, &err);
    for (int i = 0; i < k; i++) CHECK(rcs[i] == 0 || rcs[i] == ST_ERR_CORRUPT || rcs[i] == ST_ERR_LIMIT);
    free(in);
  }
}
