/*
** Unit tests of ZSTD compression with the level's large-input parameters
** (codec.c): empty, tiny and page-sized inputs at levels 1..22 (and the
** default) decompress, with libzstd's own one-shot ZSTD_decompress as the
** oracle, to the input bytes; a frame appended after existing bytes leaves
** them alone; a compressible input shrinks.
*/
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "test.h"
#include "parquet/codec.h"
#include "util/mem.h"

TEST(imb_zstd_large_input_params_roundtrip) {
  size_t sizes[] = {0, 1, 100, 4096, 300000};
  int levels[] = {-1, 1, 3, 15, 19, 22};
  size_t maxn = 300000;
  uint8_t *in = malloc(maxn), *back = malloc(maxn + 1);
  uint64_t s = 42;
  for (size_t i = 0; i < maxn; i++) {  /* half text-like, half random */
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    in[i] = i % 2000 < 1000 ? (uint8_t)("abcdefgh"[(i / 7) % 8]) : (uint8_t)(s >> 56);
  }
  for (int si = 0; si < 5; si++) {
    for (int li = 0; li < 6; li++) {
      size_t n = sizes[si];
      st_buf b = {0};
      st_error err = {0};
      CHECK(st_buf_append(&b, "HDR", 3, &err) == 0);
      CHECK(st_codec_compress(ST_CODEC_ZSTD, levels[li], in, n, &b, &err) == 0);
      CHECK(b.len > 3 && !memcmp(b.data, "HDR", 3));
      size_t got = ZSTD_decompress(back, maxn + 1, b.data + 3, b.len - 3);
      CHECK(!ZSTD_isError(got));
      CHECK_EQ_I64((int64_t)got, (int64_t)n);
      CHECK(n == 0 || !memcmp(back, in, n));
      memset(back, 0, n);
      CHECK(st_codec_decompress(ST_CODEC_ZSTD, b.data + 3, b.len - 3, back, n, &err) == 0);
      CHECK(n == 0 || !memcmp(back, in, n));
      if (n == 300000) CHECK(b.len - 3 < n);
      st_buf_free(&b);
    }
  }
  free(in), free(back);
}
