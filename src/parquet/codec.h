/*
** This file declares Parquet's compression codecs (module parquet, owned by
** codec.c), numbered as parquet-format's CompressionCodec enum.
**
** Decompression is told the exact uncompressed size (from the page header)
** and fails with ST_ERR_CORRUPT if the stream does not produce exactly that
** many bytes; the caller has already checked the size against its memory cap.
**   GZIP: zlib, multi-member streams concatenated.
**   LZ4: Hadoop framing ([be32 uncompressed][be32 compressed][block]...)
**        with fallback to a raw LZ4 block, as Arrow does.
**   LZ4_RAW: one raw LZ4 block.   LZO: not supported (clear error).
*/
#ifndef ST_PARQUET_CODEC_H
#define ST_PARQUET_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/mem.h"

enum {
  ST_CODEC_UNCOMPRESSED = 0,
  ST_CODEC_SNAPPY = 1,
  ST_CODEC_GZIP = 2,
  ST_CODEC_LZO = 3,
  ST_CODEC_BROTLI = 4,
  ST_CODEC_LZ4 = 5,
  ST_CODEC_ZSTD = 6,
  ST_CODEC_LZ4_RAW = 7
};

const char *st_codec_name(int codec);          /* "ZSTD", ...; "UNKNOWN(n)" never NULL */
int st_codec_decompress(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                        st_error *err);
/* Compress into out (appended); level < 0 means the codec's default. */
int st_codec_compress(int codec, int level, const uint8_t *in, size_t in_len, st_buf *out,
                      st_error *err);
/* CRC-32 as used by Parquet page headers (the standard zlib polynomial). */
uint32_t st_crc32(uint32_t crc, const void *p, size_t n);

#endif
