/*
** Unit tests for src/parquet/codec.c: known-answer vectors from independent
** encoders, round trips for every codec, and truncated / bit-flipped inputs
** (which must fail cleanly; run under ASan with exact-size heap copies so any
** over-read is caught).
**
** The kv_* vectors below were generated once with pyarrow 26 (Arrow C++'s
** snappy/zstd/lz4/brotli) and Python's gzip module, by this script:
**
**   import gzip, struct, pyarrow as pa
**   part1 = b"".join(b"The quick brown fox jumps over the lazy dog %d\n" % i for i in range(0, 6))
**   part2 = b"".join(b"The quick brown fox jumps over the lazy dog %d\n" % i for i in range(6, 10))
**   data = part1 + part2
**   c = lambda d, codec: pa.compress(d, codec=codec, asbytes=True)
**   vec = {
**     "snappy": c(data, "snappy"),
**     "gzip_2members": gzip.compress(part1, mtime=0) + gzip.compress(part2, mtime=0),
**     "zstd_2frames": c(part1, "zstd") + c(part2, "zstd"),
**     "lz4_raw": c(data, "lz4_raw"),
**     "lz4_frame": c(data, "lz4"),
**     "brotli": c(data, "brotli"),
**   }
**   # Hadoop LZ4: frame 1 = part1 as two inner blocks, frame 2 = part2 as one block.
**   h = part1[:150], part1[150:]
**   b0, b1, b2 = c(h[0], "lz4_raw"), c(h[1], "lz4_raw"), c(part2, "lz4_raw")
**   vec["lz4_hadoop"] = (struct.pack(">II", len(part1), len(b0)) + b0 + struct.pack(">I", len(b1)) + b1
**                        + struct.pack(">II", len(part2), len(b2)) + b2)
**   print("// len(data) = %d" % len(data))
**   for k, v in vec.items():
**       print("static const uint8_t kv_%s[%d] = {" % (k, len(v)))
**       for i in range(0, len(v), 16):
**           print("    " + ", ".join("0x%02x" % x for x in v[i:i+16]) + ",")
**       print("};")
*/
#include "test.h"

#include <pthread.h>
#include <stdlib.h>

#include "parquet/codec.h"
#include "util/err.h"
#include "util/mem.h"

/* len(data) = 460 */
static const uint8_t kv_snappy[96] = {
    0xcc, 0x03, 0xb8, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x6f,
    0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76, 0x65,
    0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f, 0x67, 0x20, 0x30,
    0x0a, 0x54, 0xaa, 0x2e, 0x00, 0x00, 0x31, 0xb2, 0x2e, 0x00, 0x00, 0x32, 0xb2, 0x2e, 0x00, 0x00,
    0x33, 0xb2, 0x2e, 0x00, 0x00, 0x34, 0xb2, 0x2e, 0x00, 0x00, 0x35, 0xb2, 0x2e, 0x00, 0x00, 0x36,
    0xb2, 0x2e, 0x00, 0x00, 0x37, 0xb2, 0x2e, 0x00, 0x00, 0x38, 0xb2, 0x2e, 0x00, 0x04, 0x39, 0x0a,
};
static const uint8_t kv_gzip_2members[160] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x0b, 0xc9, 0x48, 0x55, 0x28, 0x2c,
    0xcd, 0x4c, 0xce, 0x56, 0x48, 0x2a, 0xca, 0x2f, 0xcf, 0x53, 0x48, 0xcb, 0xaf, 0x50, 0xc8, 0x2a,
    0xcd, 0x2d, 0x28, 0x56, 0xc8, 0x2f, 0x4b, 0x2d, 0x52, 0x28, 0x01, 0x4a, 0xe7, 0x24, 0x56, 0x55,
    0x2a, 0xa4, 0xe4, 0xa7, 0x2b, 0x18, 0x70, 0x85, 0x90, 0xa0, 0xda, 0x90, 0x24, 0xd5, 0x46, 0x24,
    0xa9, 0x36, 0x26, 0x49, 0xb5, 0x09, 0x49, 0xaa, 0x4d, 0xb9, 0x00, 0x92, 0x9e, 0x5f, 0xb3, 0x14,
    0x01, 0x00, 0x00, 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x0b, 0xc9, 0x48,
    0x55, 0x28, 0x2c, 0xcd, 0x4c, 0xce, 0x56, 0x48, 0x2a, 0xca, 0x2f, 0xcf, 0x53, 0x48, 0xcb, 0xaf,
    0x50, 0xc8, 0x2a, 0xcd, 0x2d, 0x28, 0x56, 0xc8, 0x2f, 0x4b, 0x2d, 0x52, 0x28, 0x01, 0x4a, 0xe7,
    0x24, 0x56, 0x55, 0x2a, 0xa4, 0xe4, 0xa7, 0x2b, 0x98, 0x71, 0x85, 0x90, 0xa0, 0xda, 0x9c, 0x24,
    0xd5, 0x16, 0x24, 0xa9, 0xb6, 0xe4, 0x02, 0x00, 0xef, 0x57, 0x0a, 0xec, 0xb8, 0x00, 0x00, 0x00,
};
static const uint8_t kv_zstd_2frames[146] = {
    0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x14, 0x00, 0x15, 0x02, 0x00, 0x44, 0x03, 0x54, 0x68, 0x65, 0x20,
    0x71, 0x75, 0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20,
    0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c,
    0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f, 0x67, 0x20, 0x30, 0x0a, 0x31, 0x32, 0x33, 0x34, 0x35, 0x0a,
    0x05, 0x04, 0x24, 0x02, 0x11, 0x9c, 0x80, 0x09, 0x84, 0x8b, 0xaa, 0x0c, 0x28, 0xb5, 0x2f, 0xfd,
    0x20, 0xb8, 0xed, 0x01, 0x00, 0x24, 0x03, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63, 0x6b,
    0x20, 0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73,
    0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64,
    0x6f, 0x67, 0x20, 0x36, 0x0a, 0x37, 0x38, 0x39, 0x0a, 0x03, 0x04, 0x24, 0x02, 0x11, 0x5c, 0x17,
    0x55, 0x19,
};
static const uint8_t kv_lz4_raw[97] = {
    0xff, 0x1f, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x6f, 0x77,
    0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76, 0x65, 0x72,
    0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f, 0x67, 0x20, 0x30, 0x0a,
    0x2e, 0x00, 0x19, 0x1f, 0x31, 0x2e, 0x00, 0x1a, 0x1f, 0x32, 0x2e, 0x00, 0x1a, 0x1f, 0x33, 0x2e,
    0x00, 0x1a, 0x1f, 0x34, 0x2e, 0x00, 0x1a, 0x1f, 0x35, 0x2e, 0x00, 0x1a, 0x1f, 0x36, 0x2e, 0x00,
    0x1a, 0x1f, 0x37, 0x2e, 0x00, 0x1a, 0x1f, 0x38, 0x2e, 0x00, 0x17, 0x50, 0x6f, 0x67, 0x20, 0x39,
    0x0a,
};
static const uint8_t kv_lz4_frame[112] = {
    0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x61, 0x00, 0x00, 0x00, 0xff, 0x1f, 0x54, 0x68, 0x65,
    0x20, 0x71, 0x75, 0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78,
    0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20,
    0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f, 0x67, 0x20, 0x30, 0x0a, 0x2e, 0x00, 0x19, 0x1f, 0x31,
    0x2e, 0x00, 0x1a, 0x1f, 0x32, 0x2e, 0x00, 0x1a, 0x1f, 0x33, 0x2e, 0x00, 0x1a, 0x1f, 0x34, 0x2e,
    0x00, 0x1a, 0x1f, 0x35, 0x2e, 0x00, 0x1a, 0x1f, 0x36, 0x2e, 0x00, 0x1a, 0x1f, 0x37, 0x2e, 0x00,
    0x1a, 0x1f, 0x38, 0x2e, 0x00, 0x17, 0x50, 0x6f, 0x67, 0x20, 0x39, 0x0a, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t kv_brotli[69] = {
    0x1b, 0xcb, 0x01, 0x00, 0xc4, 0xc0, 0x6b, 0x3e, 0xa1, 0x03, 0x5c, 0xa4, 0xf8, 0x40, 0xfa, 0x3b,
    0x18, 0x03, 0x0e, 0xc0, 0x72, 0x18, 0x74, 0x21, 0x9f, 0xcf, 0x2b, 0x5b, 0xeb, 0xdb, 0x82, 0xe6,
    0x17, 0x71, 0x5f, 0x9e, 0x19, 0x75, 0x79, 0xd1, 0x5f, 0xd3, 0x7a, 0x60, 0xb9, 0xcb, 0xfe, 0xc0,
    0xb8, 0x6c, 0x0c, 0xff, 0x87, 0xbc, 0x34, 0xa0, 0x44, 0x38, 0xe6, 0xb8, 0x13, 0x4e, 0x3a, 0xe5,
    0xb4, 0x33, 0xce, 0xc6, 0x11,
};
static const uint8_t kv_lz4_hadoop[215] = {
    0x00, 0x00, 0x01, 0x14, 0x00, 0x00, 0x00, 0x42, 0xff, 0x1f, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75,
    0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75,
    0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a,
    0x79, 0x20, 0x64, 0x6f, 0x67, 0x20, 0x30, 0x0a, 0x2e, 0x00, 0x19, 0x1f, 0x31, 0x2e, 0x00, 0x1a,
    0x14, 0x32, 0x2e, 0x00, 0x50, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x00, 0x00, 0x00, 0x3e, 0xff, 0x1f,
    0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f, 0x76,
    0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f, 0x67, 0x20,
    0x33, 0x0a, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63, 0x6b, 0x20, 0x62, 0x72, 0x2e, 0x00,
    0x0d, 0x1f, 0x34, 0x2e, 0x00, 0x17, 0x50, 0x6f, 0x67, 0x20, 0x35, 0x0a, 0x00, 0x00, 0x00, 0xb8,
    0x00, 0x00, 0x00, 0x43, 0xff, 0x1f, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63, 0x6b, 0x20,
    0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20,
    0x6f, 0x76, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f,
    0x67, 0x20, 0x36, 0x0a, 0x2e, 0x00, 0x19, 0x1f, 0x37, 0x2e, 0x00, 0x1a, 0x1f, 0x38, 0x2e, 0x00,
    0x17, 0x50, 0x6f, 0x67, 0x20, 0x39, 0x0a,
};

/* The text every kv_* vector decompresses to (see the script above). */
static size_t kat_text(uint8_t *out) {
  size_t n = 0;
  for (int i = 0; i < 10; i++)
    n += (size_t)sprintf((char *)out + n, "The quick brown fox jumps over the lazy dog %d\n", i);
  return n;
}

static const struct {
  const char *name;
  int codec;
  const uint8_t *data;
  size_t len;
} kVectors[] = {
    {"snappy", ST_CODEC_SNAPPY, kv_snappy, sizeof kv_snappy},
    {"gzip_2members", ST_CODEC_GZIP, kv_gzip_2members, sizeof kv_gzip_2members},
    {"zstd_2frames", ST_CODEC_ZSTD, kv_zstd_2frames, sizeof kv_zstd_2frames},
    {"lz4_raw", ST_CODEC_LZ4_RAW, kv_lz4_raw, sizeof kv_lz4_raw},
    {"lz4_raw_as_lz4", ST_CODEC_LZ4, kv_lz4_raw, sizeof kv_lz4_raw},
    {"lz4_frame_as_lz4", ST_CODEC_LZ4, kv_lz4_frame, sizeof kv_lz4_frame},
    {"lz4_hadoop", ST_CODEC_LZ4, kv_lz4_hadoop, sizeof kv_lz4_hadoop},
    {"brotli", ST_CODEC_BROTLI, kv_brotli, sizeof kv_brotli},
};
#define N_VECTORS (sizeof kVectors / sizeof kVectors[0])

/* Decompress from an exact-size heap copy into an exact-size heap buffer. */
static int decompress_copy(int codec, const uint8_t *in, size_t in_len, size_t out_len,
                           uint8_t **out, st_error *err) {
  uint8_t *src = malloc(in_len ? in_len : 1);
  uint8_t *dst = malloc(out_len ? out_len : 1);
  if (in_len) memcpy(src, in, in_len);
  int rc = st_codec_decompress(codec, src, in_len, dst, out_len, err);
  free(src);
  if (out) *out = dst;
  else free(dst);
  return rc;
}

TEST(codec_known_answer_vectors) {
  uint8_t want[1024];
  size_t n = kat_text(want);
  CHECK_EQ_I64(n, 460);
  for (size_t v = 0; v < N_VECTORS; v++) {
    st_error err = {0};
    uint8_t *got = NULL;
    int rc = decompress_copy(kVectors[v].codec, kVectors[v].data, kVectors[v].len, n, &got, &err);
    if (rc) fprintf(stderr, "vector %s: %s\n", kVectors[v].name, err.msg);
    int same = rc == 0 && memcmp(got, want, n) == 0;
    free(got);
    CHECK_OK(rc, &err);
    CHECK(same);
  }
}

TEST(codec_wrong_expected_size_is_corrupt) {
  uint8_t want[1024];
  size_t n = kat_text(want);
  for (size_t v = 0; v < N_VECTORS; v++) {
    st_error err = {0};
    CHECK_EQ_I64(decompress_copy(kVectors[v].codec, kVectors[v].data, kVectors[v].len, n - 1,
                                 NULL, &err),
                 ST_ERR_CORRUPT);
    CHECK(strstr(err.msg, st_codec_name(kVectors[v].codec)) != NULL);
    CHECK_EQ_I64(decompress_copy(kVectors[v].codec, kVectors[v].data, kVectors[v].len, n + 1,
                                 NULL, &err),
                 ST_ERR_CORRUPT);
    CHECK_EQ_I64(decompress_copy(kVectors[v].codec, kVectors[v].data, kVectors[v].len, 0, NULL,
                                 &err),
                 ST_ERR_CORRUPT);
  }
}

TEST(codec_truncated_vectors_fail_cleanly) {
  uint8_t want[1024];
  size_t n = kat_text(want);
  for (size_t v = 0; v < N_VECTORS; v++) {
    for (size_t cut = 0; cut < kVectors[v].len; cut++) {
      st_error err = {0};
      int rc = decompress_copy(kVectors[v].codec, kVectors[v].data, cut, n, NULL, &err);
      if (rc != ST_ERR_CORRUPT)
        fprintf(stderr, "vector %s cut at %zu: rc %d\n", kVectors[v].name, cut, rc);
      CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
      CHECK(err.msg[0] != 0);
    }
  }
}

/* Every single-bit flip and every byte set to 0x00/0xff: any result but a crash. */
static int mutate_all(int codec, const uint8_t *data, size_t len, size_t out_len, int *n_fail) {
  uint8_t *buf = malloc(len);
  for (size_t i = 0; i < len; i++) {
    for (int m = 0; m < 10; m++) {
      memcpy(buf, data, len);
      buf[i] = m < 8 ? (uint8_t)(buf[i] ^ (1u << m)) : m == 8 ? 0x00 : 0xff;
      st_error err = {0};
      int rc = decompress_copy(codec, buf, len, out_len, NULL, &err);
      if (rc != 0 && rc != ST_ERR_CORRUPT) {
        fprintf(stderr, "%s byte %zu mutation %d: rc %d (%s)\n", st_codec_name(codec), i, m, rc,
                err.msg);
        free(buf);
        return 0;
      }
      if (rc) ++*n_fail;
    }
  }
  free(buf);
  return 1;
}

TEST(codec_bit_flipped_vectors_fail_cleanly) {
  uint8_t want[1024];
  size_t n = kat_text(want);
  for (size_t v = 0; v < N_VECTORS; v++) {
    int n_fail = 0;
    CHECK(mutate_all(kVectors[v].codec, kVectors[v].data, kVectors[v].len, n, &n_fail));
    CHECK(n_fail > 0);   /* some mutations must be detected */
  }
}

/* Mixed data: runs, text and noise from a fixed LCG (compressible but not trivially). */
static void fill_mixed(uint8_t *p, size_t n, uint32_t seed) {
  uint32_t x = seed;
  for (size_t i = 0; i < n;) {
    x = x * 1664525u + 1013904223u;
    size_t run = 1 + (x >> 24) % 32;
    int kind = (x >> 8) % 3;
    for (size_t k = 0; k < run && i < n; k++, i++) {
      if (kind == 0) p[i] = (uint8_t)(x >> 16);
      else if (kind == 1) p[i] = (uint8_t)("abcdefgh"[k % 8]);
      else {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
      }
    }
  }
}

static const int kAllCodecs[] = {ST_CODEC_UNCOMPRESSED, ST_CODEC_SNAPPY, ST_CODEC_GZIP,
                                 ST_CODEC_ZSTD,         ST_CODEC_LZ4_RAW, ST_CODEC_LZ4,
                                 ST_CODEC_BROTLI};
#define N_CODECS (sizeof kAllCodecs / sizeof kAllCodecs[0])

TEST(codec_round_trip_all_codecs) {
  static const size_t sizes[] = {0, 1, 2, 17, 4096, 300000};
  static const int levels[] = {-1, 1, 9};
  uint8_t *src = malloc(300000);
  fill_mixed(src, 300000, 12345);
  for (size_t c = 0; c < N_CODECS; c++) {
    int codec = kAllCodecs[c];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        size_t n = sizes[s];
        st_buf b;
        st_buf_init(&b);
        st_error err = {0};
        /* Compression appends: a prefix must survive untouched. */
        CHECK_OK(st_buf_append(&b, "PFX", 3, &err), &err);
        int rc = st_codec_compress(codec, levels[l], src, n, &b, &err);
        if (rc) st_buf_free(&b);
        CHECK_OK(rc, &err);
        CHECK(memcmp(b.data, "PFX", 3) == 0);
        if (codec != ST_CODEC_UNCOMPRESSED && n == 300000) CHECK(b.len - 3 < n);
        uint8_t *got = NULL;
        rc = decompress_copy(codec, b.data + 3, b.len - 3, n, &got, &err);
        if (rc) fprintf(stderr, "%s size %zu level %d\n", st_codec_name(codec), n, levels[l]);
        int same = rc == 0 && (n == 0 || memcmp(got, src, n) == 0);
        free(got);
        st_buf_free(&b);
        CHECK_OK(rc, &err);
        CHECK(same);
      }
    }
  }
  free(src);
}

TEST(codec_compressed_output_mutations_fail_cleanly) {
  uint8_t src[700];
  fill_mixed(src, sizeof src, 777);
  for (size_t c = 1; c < N_CODECS; c++) {
    st_buf b;
    st_buf_init(&b);
    st_error err = {0};
    CHECK_OK(st_codec_compress(kAllCodecs[c], -1, src, sizeof src, &b, &err), &err);
    for (size_t cut = 0; cut < b.len; cut++) {
      int rc = decompress_copy(kAllCodecs[c], b.data, cut, sizeof src, NULL, &err);
      if (rc != ST_ERR_CORRUPT) st_buf_free(&b);
      CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
    }
    int n_fail = 0;
    int ok = mutate_all(kAllCodecs[c], b.data, b.len, sizeof src, &n_fail);
    st_buf_free(&b);
    CHECK(ok);
  }
}

TEST(codec_gzip_trailing_zero_padding_and_extra_member) {
  uint8_t want[1024];
  size_t n = kat_text(want);
  uint8_t in[sizeof kv_gzip_2members + 8];
  memcpy(in, kv_gzip_2members, sizeof kv_gzip_2members);
  memset(in + sizeof kv_gzip_2members, 0, 8);
  st_error err = {0};
  uint8_t *got = NULL;
  int rc = decompress_copy(ST_CODEC_GZIP, in, sizeof in, n, &got, &err);
  int same = rc == 0 && memcmp(got, want, n) == 0;
  free(got);
  CHECK_OK(rc, &err);
  CHECK(same);
  /* The first member alone decodes to part 1 (6 lines); asking for all of it is corrupt. */
  size_t first = 0;   /* find the second gzip header (1f 8b 08) */
  for (size_t i = 1; i + 2 < sizeof kv_gzip_2members; i++)
    if (kv_gzip_2members[i] == 0x1f && kv_gzip_2members[i + 1] == 0x8b &&
        kv_gzip_2members[i + 2] == 0x08) {
      first = i;
      break;
    }
  CHECK(first > 0);
  CHECK_EQ_I64(decompress_copy(ST_CODEC_GZIP, kv_gzip_2members, first, n, NULL, &err),
               ST_ERR_CORRUPT);
  size_t part1 = 0;
  for (int i = 0; i < 6; i++) part1 += strlen("The quick brown fox jumps over the lazy dog 0\n");
  CHECK_OK(decompress_copy(ST_CODEC_GZIP, kv_gzip_2members, first, part1, NULL, &err), &err);
  /* Both members but room for only the first: too much data. */
  CHECK_EQ_I64(decompress_copy(ST_CODEC_GZIP, kv_gzip_2members, sizeof kv_gzip_2members, part1,
                               NULL, &err),
               ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "more than") != NULL);
}

TEST(codec_empty_page_and_unsupported) {
  st_error err = {0};
  uint8_t out[1];
  for (size_t c = 0; c < N_CODECS; c++)
    CHECK_OK(st_codec_decompress(kAllCodecs[c], NULL, 0, out, 0, &err), &err);
  CHECK_EQ_I64(st_codec_decompress(ST_CODEC_LZO, (const uint8_t *)"x", 1, out, 1, &err),
               ST_ERR_UNSUPPORTED);
  CHECK(!strcmp(err.msg, "LZO compression is not supported"));
  st_buf b;
  st_buf_init(&b);
  CHECK_EQ_I64(st_codec_compress(ST_CODEC_LZO, -1, (const uint8_t *)"x", 1, &b, &err),
               ST_ERR_UNSUPPORTED);
  CHECK_EQ_I64(st_codec_decompress(99, (const uint8_t *)"x", 1, out, 1, &err), ST_ERR_UNSUPPORTED);
  CHECK(strstr(err.msg, "99") != NULL);
  CHECK_EQ_I64(st_codec_decompress(-1, NULL, 0, out, 0, &err), ST_ERR_UNSUPPORTED);
  CHECK(!strcmp(st_codec_name(ST_CODEC_ZSTD), "ZSTD"));
  CHECK(!strcmp(st_codec_name(ST_CODEC_LZ4_RAW), "LZ4_RAW"));
  CHECK(!strcmp(st_codec_name(42), "UNKNOWN(42)"));
  /* UNCOMPRESSED with mismatched sizes. */
  CHECK_EQ_I64(st_codec_decompress(ST_CODEC_UNCOMPRESSED, (const uint8_t *)"ab", 2, out, 1, &err),
               ST_ERR_CORRUPT);
}

TEST(codec_crc32_check_value) {
  /* The standard CRC-32 check value (ISO-HDLC / zlib): crc("123456789") = 0xCBF43926. */
  CHECK_EQ_I64(st_crc32(0, "123456789", 9), 0xCBF43926u);
  /* Incremental use gives the same result. */
  CHECK_EQ_I64(st_crc32(st_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
  CHECK_EQ_I64(st_crc32(0, "", 0), 0);
}

/* Several threads compress and decompress at once (per-thread ZSTD contexts). */
struct codec_thread_arg {
  uint32_t seed;
  int bad;
};

static void *codec_thread_main(void *argp) {
  struct codec_thread_arg *a = argp;
  uint8_t src[5000];
  for (int it = 0; it < 50; it++) {
    fill_mixed(src, sizeof src, a->seed + (uint32_t)it);
    int codec = kAllCodecs[(size_t)(a->seed + (uint32_t)it) % N_CODECS];
    st_buf b;
    st_buf_init(&b);
    st_error err = {0};
    uint8_t *got = NULL;
    if (st_codec_compress(codec, -1, src, sizeof src, &b, &err) ||
        decompress_copy(codec, b.data, b.len, sizeof src, &got, &err) ||
        memcmp(got, src, sizeof src))
      a->bad++;
    free(got);
    st_buf_free(&b);
  }
  return NULL;
}

TEST(codec_concurrent_threads) {
  pthread_t th[4];
  struct codec_thread_arg args[4];
  for (int t = 0; t < 4; t++) {
    args[t] = (struct codec_thread_arg){(uint32_t)(t * 31 + 5), 0};
    pthread_create(&th[t], NULL, codec_thread_main, &args[t]);
  }
  int bad = 0;
  for (int t = 0; t < 4; t++) {
    pthread_join(th[t], NULL);
    bad += args[t].bad;
  }
  CHECK_EQ_I64(bad, 0);
}
