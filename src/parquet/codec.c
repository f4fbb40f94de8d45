/*
** This file implements Parquet's compression codecs (codec.h) on top of the
** system libraries: snappy (C API), zlib, zstd, lz4 (block, HC and frame) and
** brotli.
**
** Decompression contract.  The caller knows the exact uncompressed size from
** the page header and passes an output buffer of exactly that size.  Every
** codec must fill it completely and must not want to produce more; anything
** else is ST_ERR_CORRUPT with a message naming the codec and both sizes.
** All library calls used here are the "safe" variants that validate their
** input, so truncated or bit-flipped streams give an error, never a crash.
**
** Codec notes:
**   GZIP    inflateInit2(15+32) accepts gzip (and zlib) headers.  Several
**           concatenated gzip members are decoded one after another
**           (inflateReset between them); trailing zero bytes are ignored.
**   ZSTD    ZSTD_decompress handles concatenated and skippable frames.
**   LZ4     Hadoop framing, as written by parquet-mr and Arrow:
**
**             OFFSET  SIZE  DESCRIPTION
**             0       4     big-endian uncompressed size U of this frame
**             4       4     big-endian compressed size C of the next block
**             8       C     raw LZ4 block
**             ...           more [C][block] pairs until U bytes are produced
**             ...           then the next frame, until the input ends
**
**           If the input does not parse exactly this way (sizes out of range,
**           a block failing, totals not matching), we retry it as one raw LZ4
**           block, and then as an LZ4 frame (magic 0x184D2204), which older
**           writers produced.  The compressor writes Hadoop framing with one
**           block per frame (at most 64 MiB of input per frame).
**   LZ4_RAW one raw block (LZ4_decompress_safe).
**   BROTLI  BrotliDecoderDecompress (one shot).
**   LZO     not supported.
**
** ZSTD contexts are costly to create (hundreds of KiB), so each thread keeps
** one decompression and one compression context in thread-specific data
** (pthread key, freed by the key's destructor at thread exit).
**
** Compression appends to an st_buf: reserve the codec's worst-case bound,
** compress in place, then advance len.  Default levels (level < 0): GZIP 6,
** ZSTD 3, BROTLI 8 (as Arrow), LZ4/LZ4_RAW fast mode (level >= 3 uses LZ4HC).
**
** ZSTD parameters.  ZSTD_compress picks a level's parameters from the input
** size: below 256 KiB its tables switch high levels to the optimal parsers
** (level 15: btopt/btultra), ~4x slower per byte than the large-input
** strategy (btlazy2) for a few % smaller output.  Parquet pages are small
** (a dictionary-index page of 100k values is ~120 KiB), so we use the
** level's large-input parameters (ZSTD_getCParams with an unknown size,
** as for a stream) shrunk to the input by ZSTD_adjustCParams (window, hash
** and chain tables no larger than the input needs), i.e. the level's
** parameters as ZSTD applies them to inputs over 256 KiB.  Measured on a
** Tycho-2 leaf: the MAG_VT (dictionary) column 4x faster, 2 % larger.
*/
#include "parquet/codec.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lz4.h>
#include <lz4frame.h>
#include <lz4hc.h>
#include <snappy-c.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getCParams, ZSTD_adjustCParams */
#include <zstd.h>
#include <zstd_errors.h>

#define ST_ZSTD_DEFAULT_LEVEL 3
#define ST_GZIP_DEFAULT_LEVEL 6
#define ST_BROTLI_DEFAULT_LEVEL 8
#define ST_LZ4_HADOOP_MAX_FRAME (64u << 20)   /* input bytes per written Hadoop frame */

const char *st_codec_name(int codec) {
  static _Thread_local char unknown[32];
  switch (codec) {
  case ST_CODEC_UNCOMPRESSED: return "UNCOMPRESSED";
  case ST_CODEC_SNAPPY: return "SNAPPY";
  case ST_CODEC_GZIP: return "GZIP";
  case ST_CODEC_LZO: return "LZO";
  case ST_CODEC_BROTLI: return "BROTLI";
  case ST_CODEC_LZ4: return "LZ4";
  case ST_CODEC_ZSTD: return "ZSTD";
  case ST_CODEC_LZ4_RAW: return "LZ4_RAW";
  default:
    snprintf(unknown, sizeof unknown, "UNKNOWN(%d)", codec);
    return unknown;
  }
}

static uint32_t load_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static int size_mismatch(st_error *err, const char *codec, size_t got, size_t want) {
  return st_fail(err, ST_ERR_CORRUPT,
                 "%s: decompressed %zu bytes, expected %zu (page header uncompressed size)", codec,
                 got, want);
}

/* ---- Decompression ---------------------------------------------------- */

static int dec_snappy(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                      st_error *err) {
  size_t n = 0;
  if (snappy_uncompressed_length((const char *)in, in_len, &n) != SNAPPY_OK)
    return st_fail(err, ST_ERR_CORRUPT, "SNAPPY: invalid stream header (%zu compressed bytes)",
                   in_len);
  if (n != out_len) return size_mismatch(err, "SNAPPY", n, out_len);
  size_t got = out_len;
  if (snappy_uncompress((const char *)in, in_len, (char *)out, &got) != SNAPPY_OK)
    return st_fail(err, ST_ERR_CORRUPT, "SNAPPY: corrupt compressed data (%zu bytes)", in_len);
  if (got != out_len) return size_mismatch(err, "SNAPPY", got, out_len);
  return ST_OK;
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

static int dec_gzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                    st_error *err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 32) != Z_OK)
    return st_fail(err, ST_ERR_NOMEM, "GZIP: cannot initialise zlib");
  size_t in_pos = 0, out_pos = 0;   /* bytes consumed / produced so far */
  int ret = Z_OK, rc = ST_OK;
  for (;;) {
    /* zlib counts in uInt: feed at most UINT_MAX bytes per call. */
    size_t in_chunk = in_len - in_pos, out_chunk = out_len - out_pos;
    if (in_chunk > UINT_MAX) in_chunk = UINT_MAX;
    if (out_chunk > UINT_MAX) out_chunk = UINT_MAX;
    zs.next_in = (Bytef *)(in + in_pos);
    zs.avail_in = (uInt)in_chunk;
    zs.next_out = out + out_pos;
    zs.avail_out = (uInt)out_chunk;
    ret = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (ret == Z_STREAM_END) {
      /* End of one member: stop at end of input, skip zero padding, else next member. */
      if (in_pos == in_len || all_zero(in + in_pos, in_len - in_pos)) break;
      if (inflateReset(&zs) != Z_OK) {
        rc = st_fail(err, ST_ERR_CORRUPT, "GZIP: cannot reset zlib between members");
        break;
      }
      continue;
    }
    if (ret == Z_OK) continue;   /* zlib made progress; call again */
    if (ret == Z_BUF_ERROR) {    /* no progress possible */
      if (out_pos == out_len && in_pos < in_len)
        rc = st_fail(err, ST_ERR_CORRUPT,
                     "GZIP: stream holds more than the expected %zu decompressed bytes", out_len);
      else
        rc = st_fail(err, ST_ERR_CORRUPT,
                     "GZIP: truncated stream (%zu compressed bytes gave %zu of %zu bytes)",
                     in_len, out_pos, out_len);
      break;
    }
    if (ret == Z_MEM_ERROR) {
      rc = st_fail(err, ST_ERR_NOMEM, "GZIP: out of memory in zlib");
      break;
    }
    rc = st_fail(err, ST_ERR_CORRUPT, "GZIP: corrupt compressed data at byte %zu: %s", in_pos,
                 zs.msg ? zs.msg : "invalid stream");
    break;
  }
  inflateEnd(&zs);
  if (rc) return rc;
  if (out_pos != out_len) return size_mismatch(err, "GZIP", out_pos, out_len);
  return ST_OK;
}

/* ---- Per-thread ZSTD contexts ---------------------------------------- */

static pthread_key_t g_zstd_dkey, g_zstd_ckey;
static pthread_once_t g_zstd_once = PTHREAD_ONCE_INIT;
static int g_zstd_keys_ok;

static void free_dctx(void *p) { ZSTD_freeDCtx(p); }
static void free_cctx(void *p) { ZSTD_freeCCtx(p); }

static void zstd_keys_init(void) {
  if (pthread_key_create(&g_zstd_dkey, free_dctx) != 0) return;
  if (pthread_key_create(&g_zstd_ckey, free_cctx) != 0) {
    pthread_key_delete(g_zstd_dkey);
    return;
  }
  g_zstd_keys_ok = 1;
}

/* The calling thread's context, created on first use; NULL on OOM. *owned is
   set when the context could not be cached and the caller must free it. */
static ZSTD_DCtx *zstd_dctx(bool *owned) {
  pthread_once(&g_zstd_once, zstd_keys_init);
  ZSTD_DCtx *d = g_zstd_keys_ok ? pthread_getspecific(g_zstd_dkey) : NULL;
  *owned = false;
  if (d) return d;
  d = ZSTD_createDCtx();
  if (d && (!g_zstd_keys_ok || pthread_setspecific(g_zstd_dkey, d) != 0)) *owned = true;
  return d;
}

static ZSTD_CCtx *zstd_cctx(bool *owned) {
  pthread_once(&g_zstd_once, zstd_keys_init);
  ZSTD_CCtx *c = g_zstd_keys_ok ? pthread_getspecific(g_zstd_ckey) : NULL;
  *owned = false;
  if (c) return c;
  c = ZSTD_createCCtx();
  if (c && (!g_zstd_keys_ok || pthread_setspecific(g_zstd_ckey, c) != 0)) *owned = true;
  return c;
}

static int dec_zstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                    st_error *err) {
  bool owned;
  ZSTD_DCtx *d = zstd_dctx(&owned);
  if (!d) return st_fail(err, ST_ERR_NOMEM, "ZSTD: cannot create a decompression context");
  size_t n = ZSTD_decompressDCtx(d, out, out_len, in, in_len);
  if (owned) ZSTD_freeDCtx(d);
  if (ZSTD_isError(n)) {
    if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
      return st_fail(err, ST_ERR_CORRUPT,
                     "ZSTD: stream holds more than the expected %zu decompressed bytes", out_len);
    return st_fail(err, ST_ERR_CORRUPT, "ZSTD: corrupt compressed data (%zu bytes): %s", in_len,
                   ZSTD_getErrorName(n));
  }
  if (n != out_len) return size_mismatch(err, "ZSTD", n, out_len);
  return ST_OK;
}

static int enc_zstd(int level, const uint8_t *in, size_t in_len, st_buf *out, st_error *err) {
  size_t bound = ZSTD_compressBound(in_len);
  ST_CHECK(!ZSTD_isError(bound), err, ST_ERR_LIMIT, "ZSTD: %zu bytes too large", in_len);
  ST_TRY(st_buf_reserve(out, bound, err));
  bool owned;
  ZSTD_CCtx *c = zstd_cctx(&owned);
  if (!c) return st_fail(err, ST_ERR_NOMEM, "ZSTD: cannot create a compression context");
  int lv = level < 0 ? ST_ZSTD_DEFAULT_LEVEL : level;
  /* the level's parameters for large inputs, shrunk to this input (see the
  ** top of the file) */
  ZSTD_compressionParameters cp =
      ZSTD_adjustCParams(ZSTD_getCParams(lv, 0, 0), in_len ? in_len : 1, 0); /* 0: unknown */
  size_t r = ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  int keys[] = {ZSTD_c_compressionLevel, ZSTD_c_windowLog, ZSTD_c_hashLog,   ZSTD_c_chainLog,
                ZSTD_c_searchLog,        ZSTD_c_minMatch,  ZSTD_c_targetLength, ZSTD_c_strategy};
  int vals[] = {lv, (int)cp.windowLog, (int)cp.hashLog, (int)cp.chainLog, (int)cp.searchLog,
                (int)cp.minMatch, (int)cp.targetLength, (int)cp.strategy};
  for (int i = 0; i < 8 && !ZSTD_isError(r); i++) r = ZSTD_CCtx_setParameter(c, keys[i], vals[i]);
  size_t n = ZSTD_isError(r) ? r : ZSTD_compress2(c, out->data + out->len, bound, in, in_len);
  if (owned) ZSTD_freeCCtx(c);
  if (ZSTD_isError(n))
    return st_fail(err, ST_ERR_INVALID, "ZSTD: compression failed: %s", ZSTD_getErrorName(n));
  out->len += n;
  return ST_OK;
}

/* One raw LZ4 block into exactly out_len bytes; returns false on any mismatch. */
static bool lz4_block(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len) {
  if (in_len > INT_MAX || out_len > INT_MAX) return false;
  int n = LZ4_decompress_safe((const char *)in, (char *)out, (int)in_len, (int)out_len);
  return n >= 0 && (size_t)n == out_len;
}

static int dec_lz4_raw(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                       st_error *err) {
  if (in_len > INT_MAX || out_len > INT_MAX)
    return st_fail(err, ST_ERR_UNSUPPORTED, "LZ4_RAW: block of %zu -> %zu bytes is too large",
                   in_len, out_len);
  int n = LZ4_decompress_safe((const char *)in, (char *)out, (int)in_len, (int)out_len);
  if (n < 0)
    return st_fail(err, ST_ERR_CORRUPT,
                   "LZ4_RAW: corrupt compressed data (%zu bytes, expected %zu decompressed)",
                   in_len, out_len);
  if ((size_t)n != out_len) return size_mismatch(err, "LZ4_RAW", (size_t)n, out_len);
  return ST_OK;
}

/* Hadoop framing (see the file comment); false unless it parses exactly. */
static bool lz4_hadoop(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len) {
  size_t ip = 0, op = 0;
  if (in_len < 8) return false;
  while (ip < in_len) {
    if (in_len - ip < 4) return false;
    size_t frame_left = load_be32(in + ip);   /* uncompressed bytes of this frame */
    ip += 4;
    if (frame_left > out_len - op) return false;
    /* Blocks until the frame is complete; each iteration consumes >= 4 input bytes. */
    do {
      if (in_len - ip < 4) return false;
      size_t clen = load_be32(in + ip);
      ip += 4;
      if (clen > in_len - ip || clen > INT_MAX) return false;
      if (clen == 0) {
        if (frame_left) return false;
        break;
      }
      size_t room = frame_left > INT_MAX ? INT_MAX : frame_left;
      int n = LZ4_decompress_safe((const char *)in + ip, (char *)out + op, (int)clen, (int)room);
      if (n < 0) return false;
      ip += clen;
      op += (size_t)n;
      frame_left -= (size_t)n;
    } while (frame_left > 0);
  }
  return op == out_len;
}

/* LZ4 frame format (lz4frame.h); false unless it yields exactly out_len bytes. */
static bool lz4_frame(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len) {
  if (in_len < 4 || (load_be32(in) != 0x04224D18u)) return false;   /* LE magic 0x184D2204 */
  LZ4F_dctx *dctx = NULL;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return false;
  size_t ip = 0, op = 0;
  bool ok = false;
  /* Bounded: every call either consumes input or produces output, or we stop. */
  for (;;) {
    size_t src = in_len - ip, dst = out_len - op;
    size_t hint = LZ4F_decompress(dctx, out + op, &dst, in + ip, &src, NULL);
    if (LZ4F_isError(hint)) break;
    ip += src;
    op += dst;
    if (hint == 0) {   /* a frame ended: more frames may follow */
      if (ip == in_len) {
        ok = op == out_len;
        break;
      }
      continue;
    }
    if (src == 0 && dst == 0) break;   /* no progress: truncated or output full */
  }
  LZ4F_freeDecompressionContext(dctx);
  return ok;
}

static int dec_lz4(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                   st_error *err) {
  if (lz4_hadoop(in, in_len, out, out_len)) return ST_OK;
  if (lz4_block(in, in_len, out, out_len)) return ST_OK;
  if (lz4_frame(in, in_len, out, out_len)) return ST_OK;
  return st_fail(err, ST_ERR_CORRUPT,
                 "LZ4: corrupt compressed data (%zu bytes, expected %zu decompressed; tried "
                 "Hadoop framing, raw block and LZ4 frame)",
                 in_len, out_len);
}

static int dec_brotli(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                      st_error *err) {
  size_t n = out_len;
  BrotliDecoderResult r = BrotliDecoderDecompress(in_len, in, &n, out);
  if (r != BROTLI_DECODER_RESULT_SUCCESS)
    return st_fail(err, ST_ERR_CORRUPT,
                   "BROTLI: corrupt compressed data (%zu bytes, expected %zu decompressed)",
                   in_len, out_len);
  if (n != out_len) return size_mismatch(err, "BROTLI", n, out_len);
  return ST_OK;
}

int st_codec_decompress(int codec, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                        st_error *err) {
  static const uint8_t empty[1];
  if (!in) {
    ST_CHECK(in_len == 0, err, ST_ERR_INVALID, "decompress: NULL input");
    in = empty;
  }
  uint8_t scratch[1];   /* a valid pointer for zero-length output */
  if (!out) {
    ST_CHECK(out_len == 0, err, ST_ERR_INVALID, "decompress: NULL output");
    out = scratch;
  }
  /* An empty page may be stored as zero bytes whatever the codec. */
  if (in_len == 0 && out_len == 0 && codec >= 0 && codec <= ST_CODEC_LZ4_RAW &&
      codec != ST_CODEC_LZO)
    return ST_OK;
  switch (codec) {
  case ST_CODEC_UNCOMPRESSED:
    if (in_len != out_len)
      return st_fail(err, ST_ERR_CORRUPT,
                     "UNCOMPRESSED: compressed size %zu differs from uncompressed size %zu",
                     in_len, out_len);
    if (out_len) memcpy(out, in, out_len);
    return ST_OK;
  case ST_CODEC_SNAPPY: return dec_snappy(in, in_len, out, out_len, err);
  case ST_CODEC_GZIP: return dec_gzip(in, in_len, out, out_len, err);
  case ST_CODEC_ZSTD: return dec_zstd(in, in_len, out, out_len, err);
  case ST_CODEC_LZ4_RAW: return dec_lz4_raw(in, in_len, out, out_len, err);
  case ST_CODEC_LZ4: return dec_lz4(in, in_len, out, out_len, err);
  case ST_CODEC_BROTLI: return dec_brotli(in, in_len, out, out_len, err);
  case ST_CODEC_LZO:
    return st_fail(err, ST_ERR_UNSUPPORTED, "LZO compression is not supported");
  default:
    return st_fail(err, ST_ERR_UNSUPPORTED, "unknown compression codec %d", codec);
  }
}

/* ---- Compression ------------------------------------------------------ */

static int enc_gzip(int level, const uint8_t *in, size_t in_len, st_buf *out, st_error *err) {
  if (level < 0) level = ST_GZIP_DEFAULT_LEVEL;
  if (level > 9) level = 9;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return st_fail(err, ST_ERR_NOMEM, "GZIP: cannot initialise zlib");
  size_t bound = in_len <= UINT_MAX ? (size_t)deflateBound(&zs, (uLong)in_len)
                                    : in_len + in_len / 1000 + (in_len >> 16) * 8 + 64;
  int rc = st_buf_reserve(out, bound, err);
  size_t in_pos = 0;
  while (rc == ST_OK) {
    size_t in_chunk = in_len - in_pos;
    int flush = Z_FINISH;
    if (in_chunk > UINT_MAX) {
      in_chunk = UINT_MAX;
      flush = Z_NO_FLUSH;
    }
    if (out->cap - out->len < 64) rc = st_buf_reserve(out, 1 << 16, err);
    if (rc) break;
    size_t out_chunk = out->cap - out->len;
    if (out_chunk > UINT_MAX) out_chunk = UINT_MAX;
    zs.next_in = (Bytef *)(in_len ? in + in_pos : (const uint8_t *)"");
    zs.avail_in = (uInt)in_chunk;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)out_chunk;
    int ret = deflate(&zs, flush);
    in_pos += in_chunk - zs.avail_in;
    out->len += out_chunk - zs.avail_out;
    if (ret == Z_STREAM_END) break;
    if (ret != Z_OK)
      rc = st_fail(err, ST_ERR_INVALID, "GZIP: deflate failed (%d)", ret);
  }
  deflateEnd(&zs);
  return rc;
}

static int enc_lz4_block(int level, const uint8_t *in, size_t in_len, uint8_t *dst, int cap,
                         int *n_out, st_error *err) {
  int n = level >= LZ4HC_CLEVEL_MIN
              ? LZ4_compress_HC((const char *)in, (char *)dst, (int)in_len, cap,
                                level > LZ4HC_CLEVEL_MAX ? LZ4HC_CLEVEL_MAX : level)
              : LZ4_compress_default((const char *)in, (char *)dst, (int)in_len, cap);
  if (n <= 0 && in_len > 0) return st_fail(err, ST_ERR_INVALID, "LZ4: compression failed");
  *n_out = n;
  return ST_OK;
}

static int enc_lz4_raw(int level, const uint8_t *in, size_t in_len, st_buf *out, st_error *err) {
  ST_CHECK(in_len <= LZ4_MAX_INPUT_SIZE, err, ST_ERR_LIMIT,
           "LZ4_RAW: %zu bytes exceed the LZ4 block limit", in_len);
  int bound = LZ4_compressBound((int)in_len);
  ST_TRY(st_buf_reserve(out, (size_t)bound, err));
  int n = 0;
  ST_TRY(enc_lz4_block(level, in, in_len, out->data + out->len, bound, &n, err));
  out->len += (size_t)n;
  return ST_OK;
}

static int enc_lz4_hadoop(int level, const uint8_t *in, size_t in_len, st_buf *out,
                          st_error *err) {
  size_t pos = 0;
  do {
    size_t chunk = in_len - pos;
    if (chunk > ST_LZ4_HADOOP_MAX_FRAME) chunk = ST_LZ4_HADOOP_MAX_FRAME;
    int bound = LZ4_compressBound((int)chunk);
    ST_TRY(st_buf_reserve(out, 8 + (size_t)bound, err));
    uint8_t *hdr = out->data + out->len;
    int n = 0;
    ST_TRY(enc_lz4_block(level, in + pos, chunk, hdr + 8, bound, &n, err));
    store_be32(hdr, (uint32_t)chunk);
    store_be32(hdr + 4, (uint32_t)n);
    out->len += 8 + (size_t)n;
    pos += chunk;
  } while (pos < in_len);
  return ST_OK;
}

int st_codec_compress(int codec, int level, const uint8_t *in, size_t in_len, st_buf *out,
                      st_error *err) {
  static const uint8_t empty[1];
  if (!in) {
    ST_CHECK(in_len == 0, err, ST_ERR_INVALID, "compress: NULL input");
    in = empty;
  }
  switch (codec) {
  case ST_CODEC_UNCOMPRESSED: return st_buf_append(out, in, in_len, err);
  case ST_CODEC_SNAPPY: {
    size_t bound = snappy_max_compressed_length(in_len);
    ST_TRY(st_buf_reserve(out, bound, err));
    size_t n = bound;
    if (snappy_compress((const char *)in, in_len, (char *)out->data + out->len, &n) != SNAPPY_OK)
      return st_fail(err, ST_ERR_INVALID, "SNAPPY: compression failed");
    out->len += n;
    return ST_OK;
  }
  case ST_CODEC_GZIP: return enc_gzip(level, in, in_len, out, err);
  case ST_CODEC_ZSTD: return enc_zstd(level, in, in_len, out, err);
  case ST_CODEC_LZ4_RAW: return enc_lz4_raw(level, in, in_len, out, err);
  case ST_CODEC_LZ4: return enc_lz4_hadoop(level, in, in_len, out, err);
  case ST_CODEC_BROTLI: {
    size_t bound = BrotliEncoderMaxCompressedSize(in_len);
    ST_CHECK(bound > 0, err, ST_ERR_LIMIT, "BROTLI: %zu bytes too large", in_len);
    ST_TRY(st_buf_reserve(out, bound, err));
    size_t n = bound;
    int q = level < 0 ? ST_BROTLI_DEFAULT_LEVEL : level > BROTLI_MAX_QUALITY ? BROTLI_MAX_QUALITY
                                                                             : level;
    if (!BrotliEncoderCompress(q, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in_len, in, &n,
                               out->data + out->len))
      return st_fail(err, ST_ERR_INVALID, "BROTLI: compression failed");
    out->len += n;
    return ST_OK;
  }
  case ST_CODEC_LZO:
    return st_fail(err, ST_ERR_UNSUPPORTED, "LZO compression is not supported");
  default:
    return st_fail(err, ST_ERR_UNSUPPORTED, "unknown compression codec %d", codec);
  }
}

uint32_t st_crc32(uint32_t crc, const void *p, size_t n) {
  return (uint32_t)crc32_z(crc, (const Bytef *)p, n);
}
