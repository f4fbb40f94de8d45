/*
** This file implements the RLE / bit-packed hybrid encoding (parquet-format
** Encodings.md, RLE = 3) used for levels, RLE booleans and dictionary indices.
**
** Layout (no length prefix here; callers strip it):
**     run*            run := header payload
**     header          ULEB128 h
**     h & 1 == 1      bit-packed run: (h >> 1) groups of 8 values, payload
**                     (h >> 1) * bit_width bytes, LSB-first packing
**     h & 1 == 0      RLE run: (h >> 1) copies of one value stored in
**                     ceil(bit_width / 8) little-endian bytes
**
** Decoding invariants:
**   - exactly n values are written; values past n in the last run are ignored;
**   - a bit-packed run may be cut short by the end of the input as long as
**     the bytes for the values still needed are there (lenient, like Arrow);
**   - an RLE value that does not fit in bit_width is corrupt;
**   - zero-length runs are skipped (each costs >= 1 input byte, so the loop
**     is bounded by len);
**   - bit_width 0 with the input exhausted yields zeros (nothing to store).
**
** Encoding: values are scanned once; a run of >= 8 equal values becomes an
** RLE run, everything else goes into bit-packed runs (multiples of 8 values;
** a pending literal stretch steals up to 7 values from the following repeat
** to complete its last group; the final group is zero-padded).  Runs are
** split so that every run length stays below 2^31 as the spec requires.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic") /* vectorise the fill/max loops at -O2 */
#endif
#include "parquet/encodings/encodings.h"
#include "parquet/encodings/bitpack.h"
#include "parquet/encodings/rle_run.h"

#define ST_AI static inline __attribute__((always_inline))

int st_bit_width(uint64_t max_value) {
  return max_value ? 64 - __builtin_clzll(max_value) : 0;
}

enum { K_U32, K_I16 };

/* Decoder core; kind is a constant after inlining, so both variants are specialised. */
ST_AI int rle_decode(const uint8_t *data, size_t len, int w, void *outp, int64_t n, int kind,
                     st_error *err) {
  int maxw = kind == K_U32 ? 32 : 16;
  ST_SAFETY(w >= 0 && w <= maxw, err, "RLE: bit width %d out of range 0..%d", w, maxw);
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "RLE: negative value count");
  const uint8_t *p = data, *end = data + len;
  int64_t i = 0;
  while (i < n) {
    if (p >= end) {
      if (w == 0) { /* nothing to store: remaining values are 0 */
        if (kind == K_U32) memset((uint32_t *)outp + i, 0, (size_t)(n - i) * 4);
        else memset((int16_t *)outp + i, 0, (size_t)(n - i) * 2);
        return ST_OK;
      }
      return st_fail(err, ST_ERR_CORRUPT, "RLE: input ended after %lld of %lld values",
                     (long long)i, (long long)n);
    }
    st_rle_run r;
    ST_TRY(st_rle_next_run(&p, data, end, w, n - i, &r, err));
    if (r.count == 0) continue;
    int64_t k = r.count;
    if (r.packed) {
      if (kind == K_U32) st_unpack_u32(r.bits, r.avail, w, (uint32_t *)outp + i, k);
      else st_unpack_u16(r.bits, r.avail, w, (uint16_t *)((int16_t *)outp + i), k);
    } else {
      uint32_t v = r.value;
      ST_SAFETY(w == 32 || (v >> w) == 0, err, "RLE: run value %u exceeds bit width %d", v, w);
      if (kind == K_U32) {
        uint32_t *o = (uint32_t *)outp + i;
        for (int64_t j = 0; j < k; j++) o[j] = v;
      } else {
        int16_t *o = (int16_t *)outp + i;
        int16_t v16 = (int16_t)v;
        for (int64_t j = 0; j < k; j++) o[j] = v16;
      }
    }
    i += k;
  }
  return ST_OK;
}

int st_rle_decode_u32(const uint8_t *data, size_t len, int bit_width, uint32_t *out, int64_t n,
                      st_error *err) {
  return rle_decode(data, len, bit_width, out, n, K_U32, err);
}

int st_rle_decode_i16(const uint8_t *data, size_t len, int bit_width, int16_t *out, int64_t n,
                      st_error *err) {
  return rle_decode(data, len, bit_width, out, n, K_I16, err);
}

int st_rle_decode_bits(const uint8_t *data, size_t len, uint8_t *out_bits, int64_t out_bit_offset,
                       int64_t n, st_error *err) {
  ST_CHECK(n >= 0 && out_bit_offset >= 0, err, ST_ERR_INVALID, "RLE: negative count/offset");
  const uint8_t *p = data, *end = data + len;
  int64_t i = 0;
  while (i < n) {
    ST_SAFETY(p < end, err, "RLE: input ended after %lld of %lld booleans", (long long)i,
              (long long)n);
    st_rle_run r;
    ST_TRY(st_rle_next_run(&p, data, end, 1, n - i, &r, err));
    if (r.count == 0) continue;
    if (r.packed) {
      st_bits_copy(out_bits, out_bit_offset + i, r.bits, r.count);
    } else {
      ST_SAFETY(r.value <= 1, err, "RLE: boolean run value %u is not 0 or 1", r.value);
      st_bits_fill(out_bits, out_bit_offset + i, r.count, (uint8_t)r.value);
    }
    i += r.count;
  }
  return ST_OK;
}

/* ---- Encoder ------------------------------------------------------------- */

#define RUN_MAX ((int64_t)1 << 30) /* per-run value cap (spec: < 2^31) */

ST_AI uint32_t get_val(const void *vals, int kind, int64_t i) {
  return kind == K_U32 ? ((const uint32_t *)vals)[i] : (uint16_t)((const int16_t *)vals)[i];
}

/* Bit-packed run(s) over vals[a, b), zero-padding the last group. */
ST_AI int emit_packed(const void *vals, int kind, int64_t a, int64_t b, int w, st_buf *out,
                      st_error *err) {
  while (a < b) {
    int64_t c = b - a < RUN_MAX ? b - a : RUN_MAX;
    int64_t groups = (c + 7) / 8;
    size_t bytes = (size_t)groups * (size_t)w;
    ST_TRY(st_buf_reserve(out, 10 + bytes + 16, err));
    uint8_t *o = out->data + out->len;
    size_t hn = st_uleb_write(o, (uint64_t)groups << 1 | 1);
    o += hn;
    if (w) {
      /* pack in chunks through a small buffer so the padding is zero */
      int64_t done = 0;
      while (done < groups * 8) {
        uint32_t tmp[256];
        int64_t k = groups * 8 - done < 256 ? groups * 8 - done : 256;
        for (int64_t j = 0; j < k; j++)
          tmp[j] = (a + done + j < a + c) ? get_val(vals, kind, a + done + j) : 0;
        o += st_pack_u32(tmp, k, w, o);
        done += k;
      }
    }
    out->len += hn + bytes;
    a += c;
  }
  return ST_OK;
}

ST_AI int emit_rle(uint32_t v, int64_t count, int w, st_buf *out, st_error *err) {
  int vbytes = (w + 7) / 8;
  while (count > 0) {
    int64_t c = count < RUN_MAX ? count : RUN_MAX;
    ST_TRY(st_buf_reserve(out, 10 + 4, err));
    uint8_t *o = out->data + out->len;
    size_t hn = st_uleb_write(o, (uint64_t)c << 1);
    for (int b = 0; b < vbytes; b++) o[hn + b] = (uint8_t)(v >> (8 * b));
    out->len += hn + (size_t)vbytes;
    count -= c;
  }
  return ST_OK;
}

ST_AI int rle_encode(const void *vals, int64_t n, int w, int kind, st_buf *out, st_error *err) {
  int maxw = kind == K_U32 ? 32 : 16;
  ST_CHECK(w >= 0 && w <= maxw, err, ST_ERR_INVALID, "RLE: bit width %d out of range", w);
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "RLE: negative value count");
  uint32_t any = 0;
  if (kind == K_U32) {
    for (int64_t i = 0; i < n; i++) any |= ((const uint32_t *)vals)[i];
  } else {
    for (int64_t i = 0; i < n; i++) any |= (uint16_t)((const int16_t *)vals)[i];
    for (int64_t i = 0; i < n; i++)
      ST_CHECK(((const int16_t *)vals)[i] >= 0, err, ST_ERR_INVALID, "RLE: negative level");
  }
  ST_CHECK(w == 32 || (any >> w) == 0, err, ST_ERR_INVALID,
           "RLE: value does not fit in bit width %d", w);
  if (w == 0) return n ? emit_rle(0, n, 0, out, err) : ST_OK;
  int64_t i = 0, lit = 0;
  while (i < n) {
    uint32_t v = get_val(vals, kind, i);
    int64_t j = i + 1;
    while (j < n && get_val(vals, kind, j) == v) j++;
    if (j - i >= 8) {
      if (lit < i) {
        int64_t L = i - lit;
        i += (8 - L % 8) % 8; /* complete the last literal group from the repeat */
        ST_TRY(emit_packed(vals, kind, lit, i, w, out, err));
      }
      ST_TRY(emit_rle(v, j - i, w, out, err));
      lit = j;
    }
    i = j;
  }
  if (lit < n) ST_TRY(emit_packed(vals, kind, lit, n, w, out, err));
  return ST_OK;
}

int st_rle_encode_u32(const uint32_t *vals, int64_t n, int bit_width, st_buf *out, st_error *err) {
  return rle_encode(vals, n, bit_width, K_U32, out, err);
}

int st_rle_encode_i16(const int16_t *vals, int64_t n, int bit_width, st_buf *out, st_error *err) {
  return rle_encode(vals, n, bit_width, K_I16, out, err);
}

/*
** Values at ranks[0..nr) (ascending, < n) of an RLE/bit-packed hybrid stream
** of n values: the runs are walked as in rle_decode, but a bit-packed run is
** not unpacked; each wanted value is read from its own bits (LSB-first
** packing, at most 5 bytes, all inside the run's bytes).
*/
int st_rle_gather_u32(const uint8_t *data, size_t len, int w, int64_t n, const int64_t *ranks, int64_t nr,
                      uint32_t *out, st_error *err) {
  ST_SAFETY(w >= 0 && w <= 32, err, "RLE: bit width %d out of range 0..32", w);
  const uint8_t *p = data, *end = data + len;
  const uint64_t mask = w == 32 ? 0xffffffffu : (((uint64_t)1 << w) - 1);
  int64_t i = 0, q = 0;
  while (q < nr) {
    ST_SAFETY(ranks[q] >= i && ranks[q] < n, err, "RLE: rank %lld out of order", (long long)ranks[q]);
    if (p >= end) {
      if (w == 0) { for (; q < nr; q++) out[q] = 0; return ST_OK; }
      return st_fail(err, ST_ERR_CORRUPT, "RLE: input ended after %lld of %lld values", (long long)i, (long long)n);
    }
    st_rle_run r;
    ST_TRY(st_rle_next_run(&p, data, end, w, n - i, &r, err));
    if (r.count == 0) continue;
    if (r.packed) {
      for (; q < nr && ranks[q] < i + r.count; q++) {
        uint64_t b = (uint64_t)(ranks[q] - i) * (uint64_t)w;
        const uint8_t *s = r.bits + (b >> 3);
        int nb = (int)(((b & 7) + (uint64_t)w + 7) >> 3);
        uint64_t v = 0;
        for (int k = 0; k < nb; k++) v |= (uint64_t)s[k] << (8 * k);
        out[q] = (uint32_t)((v >> (b & 7)) & mask);
      }
    } else {
      uint32_t v = r.value;
      ST_SAFETY(w == 32 || (v >> w) == 0, err, "RLE: run value %u exceeds bit width %d", v, w);
      for (; q < nr && ranks[q] < i + r.count; q++) out[q] = v;
    }
    i += r.count;
  }
  return ST_OK;
}
