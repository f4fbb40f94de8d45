/*
** This file implements PLAIN decoding/encoding of BOOLEAN and BYTE_ARRAY
** (fixed-width PLAIN values are plain little-endian memory; the reader uses
** them in place or copies them itself).
**
**   BOOLEAN      ceil(n/8) bytes, value i in bit i%8 of byte i/8 (LSB first)
**   BYTE_ARRAY   n times: [le32 length][length bytes]
**
** BYTE_ARRAY decoding reserves room for all remaining input bytes once (the
** values can never be longer than the input), then copies each value: the
** first 32 bytes as one fixed move whenever the input has 32 readable bytes
** there (the reservation has 32 bytes of slack), the rest (values over 32
** bytes) with memcpy, so short values of varying length take no
** mispredicted branch and no memcpy call.  Absolute offsets above INT32_MAX
** fail with ST_ERR_LIMIT (checked per value only when the page could reach
** that limit).
*/
#include "parquet/encodings/encodings.h"
#include "parquet/encodings/bitpack.h"

int st_plain_decode_bool(const uint8_t *data, size_t len, int64_t n, uint8_t *out_bits,
                         int64_t out_bit_offset, size_t *consumed, st_error *err) {
  ST_CHECK(n >= 0 && out_bit_offset >= 0, err, ST_ERR_INVALID, "PLAIN: negative count/offset");
  uint64_t need = ((uint64_t)n + 7) / 8;
  ST_SAFETY(need <= len, err, "PLAIN: %lld booleans need %llu bytes, %zu present", (long long)n,
            (unsigned long long)need, len);
  st_bits_copy(out_bits, out_bit_offset, data, n);
  if (consumed) *consumed = (size_t)need;
  return ST_OK;
}

/* Copy 32 bytes (both sides have them: see st_plain_decode_byte_array). */
static inline void mov32(uint8_t *dst, const uint8_t *src) {
  memcpy(dst, src, 16);
  memcpy(dst + 16, src + 16, 16);
}

int st_plain_decode_byte_array(const uint8_t *data, size_t len, int64_t n, int32_t *offsets,
                               st_buf *bytes, size_t *consumed, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "PLAIN: negative value count");
  ST_CHECK((int64_t)offsets[0] == (int64_t)bytes->len, err, ST_ERR_INVALID,
           "PLAIN: offsets[0] (%d) is not the byte buffer's end (%zu)", offsets[0], bytes->len);
  if (n == 0) {
    if (consumed) *consumed = 0;
    return ST_OK;
  }
  ST_SAFETY((uint64_t)n <= len / 4, err, "PLAIN: %lld byte arrays need at least %llu bytes, %zu present",
            (long long)n, (unsigned long long)n * 4, len);
  ST_TRY(st_buf_reserve(bytes, len + 32, err));
  const uint8_t *p = data, *end = data + len;
  uint8_t *base = bytes->data;
  size_t pos = bytes->len;
  /* The output grows by less than the input consumed, so when start + len
     fits int32 no offset can overflow and the per-value check is skipped. */
  const bool small = (uint64_t)bytes->len + len <= (uint64_t)INT32_MAX;
  for (int64_t i = 0; i < n; i++) {
    ST_SAFETY(end - p >= 4, err, "PLAIN: byte array %lld: length runs past the input",
              (long long)i);
    uint32_t l = st_ld32(p);
    p += 4;
    size_t avail = (size_t)(end - p);
    ST_SAFETY(l <= avail, err, "PLAIN: byte array %lld: length %u exceeds the %zu bytes left",
              (long long)i, l, avail);
    /* Values up to 32 bytes: one fixed move when 32 input bytes are readable
       (the output has 32 bytes of slack); the branch on avail only flips at
       the page's tail, the one on l only for long values. */
    if (ST_LIKELY(avail >= 32)) {
      mov32(base + pos, p);
      if (ST_UNLIKELY(l > 32)) memcpy(base + pos + 32, p + 32, l - 32);
    } else {
      memcpy(base + pos, p, l);
    }
    p += l;
    pos += l;
    if (!small)
      ST_CHECK(pos <= (size_t)INT32_MAX, err, ST_ERR_LIMIT,
               "PLAIN: byte array data exceeds 2 GiB in one column chunk");
    offsets[i + 1] = (int32_t)pos;
  }
  bytes->len = pos;
  if (consumed) *consumed = (size_t)(p - data);
  return ST_OK;
}

int st_plain_index_byte_array(const uint8_t *data, size_t len, int64_t n, const uint8_t **out_ptrs,
                              uint32_t *out_lens, size_t *consumed, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "PLAIN: negative value count");
  const uint8_t *p = data, *end = data + len;
  for (int64_t i = 0; i < n; i++) {
    ST_SAFETY(end - p >= 4, err, "PLAIN: byte array %lld: length runs past the input",
              (long long)i);
    uint32_t l = st_ld32(p);
    p += 4;
    ST_SAFETY(l <= (size_t)(end - p), err,
              "PLAIN: byte array %lld: length %u exceeds the %zu bytes left", (long long)i, l,
              (size_t)(end - p));
    out_ptrs[i] = p;
    out_lens[i] = l;
    p += l;
  }
  if (consumed) *consumed = (size_t)(p - data);
  return ST_OK;
}

int st_plain_encode_bool(const uint8_t *bits, int64_t bit_offset, int64_t n, st_buf *out,
                         st_error *err) {
  ST_CHECK(n >= 0 && bit_offset >= 0, err, ST_ERR_INVALID, "PLAIN: negative count/offset");
  size_t nb = (size_t)((n + 7) / 8);
  ST_TRY(st_buf_reserve(out, nb, err));
  uint8_t *o = out->data + out->len;
  if (nb) o[nb - 1] = 0; /* padding bits are zero */
  if ((bit_offset & 7) == 0) {
    if (n >= 8) memcpy(o, bits + bit_offset / 8, (size_t)(n / 8));
    if (n & 7) st_bits_copy(o, n & ~(int64_t)7, bits + bit_offset / 8 + n / 8, n & 7);
  } else {
    for (int64_t j = 0; j < n / 8; j++) {
      int64_t b = bit_offset + 8 * j;
      int s = (int)(b & 7);
      const uint8_t *q = bits + b / 8;
      o[j] = (uint8_t)((q[0] >> s) | (q[1] << (8 - s)));
    }
    for (int64_t k = n & ~(int64_t)7; k < n; k++) {
      int64_t b = bit_offset + k;
      int v = (bits[b / 8] >> (b & 7)) & 1;
      if (v) o[k / 8] |= (uint8_t)(1u << (k & 7));
      else o[k / 8] &= (uint8_t) ~(1u << (k & 7));
    }
  }
  out->len += nb;
  return ST_OK;
}

int st_plain_encode_byte_array(const int32_t *offsets, const uint8_t *bytes, int64_t n, st_buf *out,
                               st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "PLAIN: negative value count");
  size_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    ST_CHECK(offsets[i + 1] >= offsets[i], err, ST_ERR_INVALID, "PLAIN: decreasing offsets");
    total += (size_t)(offsets[i + 1] - offsets[i]) + 4;
  }
  ST_TRY(st_buf_reserve(out, total, err));
  uint8_t *o = out->data + out->len;
  for (int64_t i = 0; i < n; i++) {
    uint32_t l = (uint32_t)(offsets[i + 1] - offsets[i]);
    memcpy(o, &l, 4);
    if (l) memcpy(o + 4, bytes + offsets[i], l);
    o += 4 + (size_t)l;
  }
  out->len += total;
  return ST_OK;
}
