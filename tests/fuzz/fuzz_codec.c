/*
** This file implements a libFuzzer target for the compression codecs
** (src/parquet/codec.c).
**
** Input layout:
**   OFFSET  SIZE  DESCRIPTION
**   0       1     codec = byte % 8 (parquet CompressionCodec number)
**   1       2     little-endian expected decompressed size (0..65535)
**   3       ...   the compressed stream
** The stream is decompressed into an exact-size heap buffer (so ASan sees any
** over-write); the result must be 0 or a clean error.  Then the same bytes
** are compressed with that codec and decompressed back, which must round-trip.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/codec.h"
#include "util/err.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  int codec = data[0] % 8;
  size_t out_len = (size_t)data[1] | (size_t)data[2] << 8;
  const uint8_t *in = data + 3;
  size_t in_len = size - 3;

  /* Exact-size copies so any over-read or over-write is caught. */
  uint8_t *src = malloc(in_len ? in_len : 1);
  uint8_t *dst = malloc(out_len ? out_len : 1);
  if (in_len) memcpy(src, in, in_len);
  st_error err = {0};
  int rc = st_codec_decompress(codec, src, in_len, dst, out_len, &err);
  if (rc != 0 && rc != ST_ERR_CORRUPT && rc != ST_ERR_UNSUPPORTED) abort();
  if (rc && !err.msg[0]) abort();   /* every error carries a message */
  free(dst);

  /* Round trip the payload through our compressor. */
  if (codec != ST_CODEC_LZO) {
    st_buf b;
    st_buf_init(&b);
    int level = (data[1] % 4 == 0) ? -1 : data[1] % 10;
    if (st_codec_compress(codec, level, src, in_len, &b, &err)) abort();
    uint8_t *back = malloc(in_len ? in_len : 1);
    if (st_codec_decompress(codec, b.data, b.len, back, in_len, &err)) abort();
    if (in_len && memcmp(back, src, in_len)) abort();
    free(back);
    st_buf_free(&b);
  }
  free(src);
  return 0;
}
