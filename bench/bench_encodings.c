/*
** This file implements a micro-benchmark of the Parquet decoders in
** src/parquet/encodings (not built by the Makefile).  Build and run:
**
**   gcc -O2 -Iinclude -Isrc bench/bench_encodings.c build/libskytile.a \
**       -lzstd -lsnappy -llz4 -lz -lbrotlidec -lbrotlienc -lm -lpthread -o /tmp/bench_enc
**   /tmp/bench_enc [values]
**
** Each case decodes a page-sized batch (default 1M values) repeatedly and
** prints the best throughput in million values per second.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/encodings/bitpack.h"
#include "parquet/encodings/encodings.h"

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile uint64_t g_sink;

#define REPS 7
#define BENCH(label, n, stmt)                                                  \
  do {                                                                         \
    double best = 1e30;                                                        \
    for (int r_ = 0; r_ < REPS; r_++) {                                        \
      double t0_ = now();                                                      \
      stmt;                                                                    \
      double t_ = now() - t0_;                                                 \
      if (t_ < best) best = t_;                                                \
    }                                                                          \
    printf("%-44s %9.1f M values/s\n", label, (double)(n) / best / 1e6);      \
  } while (0)

static void die(int rc, st_error *err) {
  if (rc) {
    fprintf(stderr, "error: %s\n", err->msg);
    exit(1);
  }
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : (1 << 20);
  st_error err = {0};
  uint8_t *raw = malloc((size_t)n * 8 + 64);
  uint32_t *u32 = malloc((size_t)n * 4 + 64);
  int32_t *i32 = malloc((size_t)n * 4 + 64);
  int64_t *i64 = malloc((size_t)n * 8 + 64);
  double *f64 = malloc((size_t)n * 8 + 64);
  for (int64_t i = 0; i < n * 8 + 64; i++) raw[i] = (uint8_t)rnd();

  /* bit unpacking */
  for (int w = 1; w <= 20; w++) {
    char label[64];
    snprintf(label, sizeof label, "unpack u32 width %d", w);
    BENCH(label, n, st_unpack_u32(raw, (size_t)n * 8, w, u32, n));
    g_sink += u32[n / 2];
  }

  /* dictionary indices (random, bit-packed runs) + gather */
  const uint32_t dict_n = 1000;
  const int bw = st_bit_width(dict_n - 1);
  double *dictd = malloc(dict_n * 8);
  int32_t *dicti = malloc(dict_n * 4);
  for (uint32_t k = 0; k < dict_n; k++) {
    dictd[k] = (double)k * 1.5;
    dicti[k] = (int32_t)k * 3;
  }
  for (int64_t i = 0; i < n; i++) u32[i] = (uint32_t)(rnd() % dict_n);
  st_buf idx;
  st_buf_init(&idx);
  die(st_rle_encode_u32(u32, n, bw, &idx, &err), &err);
  BENCH("RLE indices decode (w=10, random)", n, die(st_rle_decode_u32(idx.data, idx.len, bw, u32, n, &err), &err));
  BENCH("RLE indices + gather double (2 passes)", n, {
    die(st_rle_decode_u32(idx.data, idx.len, bw, u32, n, &err), &err);
    die(st_dict_gather_fixed(u32, n, (const uint8_t *)dictd, dict_n, 8, (uint8_t *)f64, &err), &err);
  });
  BENCH("RLE indices + gather int32 (2 passes)", n, {
    die(st_rle_decode_u32(idx.data, idx.len, bw, u32, n, &err), &err);
    die(st_dict_gather_fixed(u32, n, (const uint8_t *)dicti, dict_n, 4, (uint8_t *)i32, &err), &err);
  });
  BENCH("dict decode fused double", n,
        die(st_dict_decode_fixed(idx.data, idx.len, bw, (const uint8_t *)dictd, dict_n, 8, (uint8_t *)f64, n, &err), &err));
  BENCH("dict decode fused int32", n,
        die(st_dict_decode_fixed(idx.data, idx.len, bw, (const uint8_t *)dicti, dict_n, 4, (uint8_t *)i32, n, &err), &err));
  /* runs of repeats (RLE runs) */
  for (int64_t i = 0; i < n;) {
    uint32_t v = (uint32_t)(rnd() % dict_n);
    int64_t r = 8 + (int64_t)(rnd() % 100);
    for (int64_t j = 0; j < r && i < n; j++) u32[i++] = v;
  }
  idx.len = 0;
  die(st_rle_encode_u32(u32, n, bw, &idx, &err), &err);
  BENCH("dict decode fused int32 (RLE runs 8..108)", n,
        die(st_dict_decode_fixed(idx.data, idx.len, bw, (const uint8_t *)dicti, dict_n, 4, (uint8_t *)i32, n, &err), &err));
  /* short alternating runs: RLE 8..16, then 8..40 random values (Arrow-like mix) */
  for (int64_t i = 0; i < n;) {
    uint32_t v = (uint32_t)(rnd() % dict_n);
    int64_t r = 8 + (int64_t)(rnd() % 9);
    for (int64_t j = 0; j < r && i < n; j++) u32[i++] = v;
    r = 8 + (int64_t)(rnd() % 33);
    for (int64_t j = 0; j < r && i < n; j++) u32[i++] = (uint32_t)(rnd() % dict_n);
  }
  idx.len = 0;
  die(st_rle_encode_u32(u32, n, bw, &idx, &err), &err);
  BENCH("dict decode fused int32 (short mixed runs)", n,
        die(st_dict_decode_fixed(idx.data, idx.len, bw, (const uint8_t *)dicti, dict_n, 4, (uint8_t *)i32, n, &err), &err));
  BENCH("RLE decode u32 (short mixed runs)", n,
        die(st_rle_decode_u32(idx.data, idx.len, bw, u32, n, &err), &err));
  st_buf_free(&idx);

  /* delta int64: increasing ids with small random gaps */
  int64_t x = 1000000;
  for (int64_t i = 0; i < n; i++) i64[i] = (x += (int64_t)(rnd() % 1000));
  st_buf d;
  st_buf_init(&d);
  die(st_delta_encode_i64(i64, n, &d, &err), &err);
  BENCH("DELTA_BINARY_PACKED i64 (gaps < 1000)", n, die(st_delta_decode_i64(d.data, d.len, n, i64, NULL, &err), &err));
  for (int64_t i = 0; i < n; i++) i32[i] = (int32_t)rnd();
  d.len = 0;
  die(st_delta_encode_i32(i32, n, &d, &err), &err);
  BENCH("DELTA_BINARY_PACKED i32 (random)", n, die(st_delta_decode_i32(d.data, d.len, n, i32, NULL, &err), &err));
  st_buf_free(&d);

  /* plain byte arrays, lengths 0..20 */
  int32_t *offs = malloc((size_t)(n + 1) * 4);
  uint8_t *sbytes = malloc((size_t)n * 21);
  offs[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    int l = (int)(rnd() % 21);
    for (int j = 0; j < l; j++) sbytes[offs[i] + j] = (uint8_t)('a' + rnd() % 26);
    offs[i + 1] = offs[i] + l;
  }
  st_buf pe, out;
  st_buf_init(&pe);
  st_buf_init(&out);
  die(st_plain_encode_byte_array(offs, sbytes, n, &pe, &err), &err);
  BENCH("PLAIN byte array (len 0..20)", n, {
    out.len = 0;
    offs[0] = 0;
    die(st_plain_decode_byte_array(pe.data, pe.len, n, offs, &out, NULL, &err), &err);
  });
  pe.len = 0;
  die(st_delta_length_encode(offs, out.data, n, &pe, &err), &err);
  BENCH("DELTA_LENGTH_BYTE_ARRAY (len 0..20)", n, {
    out.len = 0;
    offs[0] = 0;
    die(st_delta_length_decode(pe.data, pe.len, n, offs, &out, NULL, &err), &err);
  });
  st_buf_free(&pe);
  st_buf_free(&out);

  /* BYTE_STREAM_SPLIT */
  for (int64_t i = 0; i < n; i++) f64[i] = (double)rnd() / 3.0;
  st_buf bs;
  st_buf_init(&bs);
  die(st_bss_encode((const uint8_t *)f64, 8, n, &bs, &err), &err);
  BENCH("BYTE_STREAM_SPLIT double", n, die(st_bss_decode(bs.data, bs.len, 8, n, (uint8_t *)f64, &err), &err));
  bs.len = 0;
  die(st_bss_encode((const uint8_t *)f64, 4, n, &bs, &err), &err);
  BENCH("BYTE_STREAM_SPLIT float", n, die(st_bss_decode(bs.data, bs.len, 4, n, (uint8_t *)f64, &err), &err));
  st_buf_free(&bs);
  /* reference: PLAIN double is a memcpy */
  BENCH("PLAIN double (memcpy reference)", n, memcpy(f64, raw, (size_t)n * 8));
  printf("(sink %llu)\n", (unsigned long long)g_sink);
  return 0;
}
