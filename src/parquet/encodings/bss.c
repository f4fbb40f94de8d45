/*
** This file implements BYTE_STREAM_SPLIT for any value width.
**
** Layout: a page of `total` values of `width` bytes is width streams of
** total bytes each; byte k of value i is data[k*total + i].  The page length
** must be an exact multiple of width (total = len / width, no padding).
**
** Decoding widths 4 and 8 (float/int32, double/int64) transposes 16 values
** at a time with SSE2 byte/word/dword interleaves (3 levels for 8 streams, 2
** for 4 streams); other widths, and the tails, use a scalar loop.
*/
#include "parquet/encodings/encodings.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static void bss_scalar(const uint8_t *data, size_t total, int width, int64_t from, int64_t n,
                       uint8_t *out) {
  for (int64_t i = from; i < n; i++)
    for (int k = 0; k < width; k++) out[i * width + k] = data[(size_t)k * total + (size_t)i];
}

int st_bss_decode(const uint8_t *data, size_t len, int width, int64_t n, uint8_t *out,
                  st_error *err) {
  ST_CHECK(width > 0 && n >= 0, err, ST_ERR_INVALID, "BYTE_STREAM_SPLIT: bad width %d", width);
  ST_SAFETY(len % (size_t)width == 0, err,
            "BYTE_STREAM_SPLIT: page of %zu bytes is not a multiple of the value width %d", len,
            width);
  size_t total = len / (size_t)width;
  ST_SAFETY((uint64_t)n <= total, err, "BYTE_STREAM_SPLIT: page holds %zu values, %lld needed",
            total, (long long)n);
  int64_t i = 0;
#if defined(__SSE2__)
  if (width == 8) {
    for (; i + 16 <= n; i += 16) {
      __m128i s[8];
      for (int k = 0; k < 8; k++) s[k] = _mm_loadu_si128((const __m128i *)(data + k * total + i));
      __m128i a0 = _mm_unpacklo_epi8(s[0], s[1]), a1 = _mm_unpackhi_epi8(s[0], s[1]);
      __m128i a2 = _mm_unpacklo_epi8(s[2], s[3]), a3 = _mm_unpackhi_epi8(s[2], s[3]);
      __m128i a4 = _mm_unpacklo_epi8(s[4], s[5]), a5 = _mm_unpackhi_epi8(s[4], s[5]);
      __m128i a6 = _mm_unpacklo_epi8(s[6], s[7]), a7 = _mm_unpackhi_epi8(s[6], s[7]);
      /* bytes 0-3 / 4-7 of values 0-3, 4-7, 8-11, 12-15 */
      __m128i b0 = _mm_unpacklo_epi16(a0, a2), b1 = _mm_unpackhi_epi16(a0, a2);
      __m128i b2 = _mm_unpacklo_epi16(a1, a3), b3 = _mm_unpackhi_epi16(a1, a3);
      __m128i c0 = _mm_unpacklo_epi16(a4, a6), c1 = _mm_unpackhi_epi16(a4, a6);
      __m128i c2 = _mm_unpacklo_epi16(a5, a7), c3 = _mm_unpackhi_epi16(a5, a7);
      __m128i *o = (__m128i *)(out + i * 8);
      _mm_storeu_si128(o + 0, _mm_unpacklo_epi32(b0, c0));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi32(b0, c0));
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi32(b1, c1));
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi32(b1, c1));
      _mm_storeu_si128(o + 4, _mm_unpacklo_epi32(b2, c2));
      _mm_storeu_si128(o + 5, _mm_unpackhi_epi32(b2, c2));
      _mm_storeu_si128(o + 6, _mm_unpacklo_epi32(b3, c3));
      _mm_storeu_si128(o + 7, _mm_unpackhi_epi32(b3, c3));
    }
  } else if (width == 4) {
    for (; i + 16 <= n; i += 16) {
      __m128i s0 = _mm_loadu_si128((const __m128i *)(data + i));
      __m128i s1 = _mm_loadu_si128((const __m128i *)(data + total + i));
      __m128i s2 = _mm_loadu_si128((const __m128i *)(data + 2 * total + i));
      __m128i s3 = _mm_loadu_si128((const __m128i *)(data + 3 * total + i));
      __m128i a0 = _mm_unpacklo_epi8(s0, s1), a1 = _mm_unpackhi_epi8(s0, s1);
      __m128i b0 = _mm_unpacklo_epi8(s2, s3), b1 = _mm_unpackhi_epi8(s2, s3);
      __m128i *o = (__m128i *)(out + i * 4);
      _mm_storeu_si128(o + 0, _mm_unpacklo_epi16(a0, b0));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(a0, b0));
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(a1, b1));
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(a1, b1));
    }
  }
#endif
  if (width == 4) bss_scalar(data, total, 4, i, n, out);
  else if (width == 8) bss_scalar(data, total, 8, i, n, out);
  else bss_scalar(data, total, width, i, n, out);
  return ST_OK;
}

int st_bss_encode(const uint8_t *vals, int width, int64_t n, st_buf *out, st_error *err) {
  ST_CHECK(width > 0 && n >= 0, err, ST_ERR_INVALID, "BYTE_STREAM_SPLIT: bad width %d", width);
  size_t bytes;
  ST_CHECK(st_mul_ok((size_t)n, (size_t)width, &bytes), err, ST_ERR_LIMIT,
           "BYTE_STREAM_SPLIT: size overflow");
  ST_TRY(st_buf_reserve(out, bytes, err));
  uint8_t *o = out->data + out->len;
  for (int k = 0; k < width; k++) {
    uint8_t *s = o + (size_t)k * (size_t)n;
    for (int64_t i = 0; i < n; i++) s[i] = vals[i * width + k];
  }
  out->len += bytes;
  return ST_OK;
}
