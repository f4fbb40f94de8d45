/*
** This file implements dictionary gathers: out[i] = dict[idx[i]] for
** fixed-width values and for byte arrays, plus st_dict_decode_fixed, which
** decodes RLE/bit-packed indices straight into values.
**
** Bounds checks are folded out of the gather loops: indices are processed in
** chunks of 1024; a vectorisable max-reduction over a chunk is compared with
** dict_n once, then the chunk is gathered without per-value checks.  Widths
** 1, 2, 4, 8, 12 and 16 have typed/fixed-size copies; other widths use memcpy.
** Byte-array gathers size the output in a first pass (with the index
** checks), reserve once, then copy; values <= 16 bytes are moved as one
** fixed 16-byte copy when that stays inside the dictionary bytes.
**
** st_dict_decode_fixed walks the hybrid runs itself: an RLE run of index v
** becomes a fill with dict[v] (one check per run), bit-packed runs are
** unpacked into a stack chunk of indices and gathered.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic") /* vectorise the fill/max loops at -O2 */
#endif
#include "parquet/encodings/encodings.h"
#include "parquet/encodings/bitpack.h"
#include "parquet/encodings/rle_run.h"

#define ST_AI static inline __attribute__((always_inline))
#define GCHUNK 1024

static uint32_t max_u32(const uint32_t *v, int64_t n) {
  uint32_t m = 0;
  for (int64_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

ST_AI void gather_w(const uint32_t *idx, int64_t n, const uint8_t *dict, uint8_t *out,
                    const int W) {
  /* the dictionary may be unaligned (values read in place from a page) */
  if (W == 4) {
    uint32_t *o = (uint32_t *)(void *)out;
    for (int64_t i = 0; i < n; i++) { uint32_t v; memcpy(&v, dict + (size_t)idx[i] * 4, 4); o[i] = v; }
  } else if (W == 8) {
    uint64_t *o = (uint64_t *)(void *)out;
    for (int64_t i = 0; i < n; i++) { uint64_t v; memcpy(&v, dict + (size_t)idx[i] * 8, 8); o[i] = v; }
  } else {
    for (int64_t i = 0; i < n; i++) memcpy(out + i * W, dict + (size_t)idx[i] * W, (size_t)W);
  }
}

/* Gather n checked-in-range indices (w is the value width). */
static void gather_any(const uint32_t *idx, int64_t n, const uint8_t *dict, int w, uint8_t *out) {
  switch (w) {
    case 1: gather_w(idx, n, dict, out, 1); break;
    case 2: gather_w(idx, n, dict, out, 2); break;
    case 4: gather_w(idx, n, dict, out, 4); break;
    case 8: gather_w(idx, n, dict, out, 8); break;
    case 12: gather_w(idx, n, dict, out, 12); break;
    case 16: gather_w(idx, n, dict, out, 16); break;
    default:
      for (int64_t i = 0; i < n; i++)
        memcpy(out + i * (int64_t)w, dict + (size_t)idx[i] * (size_t)w, (size_t)w);
  }
}

int st_dict_gather_fixed(const uint32_t *idx, int64_t n, const uint8_t *dict, uint32_t dict_n,
                         int width, uint8_t *out, st_error *err) {
  ST_CHECK(width > 0 && n >= 0, err, ST_ERR_INVALID, "dictionary: bad width %d", width);
  for (int64_t i = 0; i < n; i += GCHUNK) {
    int64_t c = n - i < GCHUNK ? n - i : GCHUNK;
    uint32_t m = max_u32(idx + i, c);
    ST_SAFETY(m < dict_n, err, "dictionary: index %u out of range (dictionary has %u entries)", m,
              dict_n);
    gather_any(idx + i, c, dict, width, out + i * (int64_t)width);
  }
  return ST_OK;
}

int st_dict_gather_binary(const uint32_t *idx, int64_t n, const int32_t *dict_offsets,
                          const uint8_t *dict_bytes, uint32_t dict_n, int32_t *offsets,
                          st_buf *bytes, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "dictionary: negative value count");
  ST_CHECK((int64_t)offsets[0] == (int64_t)bytes->len, err, ST_ERR_INVALID,
           "dictionary: offsets[0] is not the byte buffer's end");
  /* pass 1: check indices, size the output */
  uint64_t total = 0;
  for (int64_t i = 0; i < n; i += GCHUNK) {
    int64_t c = n - i < GCHUNK ? n - i : GCHUNK;
    uint32_t m = max_u32(idx + i, c);
    ST_SAFETY(m < dict_n, err, "dictionary: index %u out of range (dictionary has %u entries)", m,
              dict_n);
    for (int64_t j = i; j < i + c; j++)
      total += (uint64_t)(dict_offsets[idx[j] + 1] - dict_offsets[idx[j]]);
  }
  ST_CHECK((uint64_t)bytes->len + total <= INT32_MAX, err, ST_ERR_LIMIT,
           "dictionary: byte array data exceeds 2 GiB in one column chunk");
  ST_TRY(st_buf_reserve(bytes, (size_t)total + 16, err));
  /* pass 2: copy; values <= 16 bytes use one fixed-size move (16 bytes of slack reserved) */
  uint8_t *b = bytes->data;
  size_t pos = bytes->len;
  const int32_t dict_end = dict_offsets[dict_n];
  for (int64_t i = 0; i < n; i++) {
    uint32_t k = idx[i];
    const uint8_t *src = dict_bytes + dict_offsets[k];
    size_t l = (size_t)(dict_offsets[k + 1] - dict_offsets[k]);
    if (l <= 16 && dict_offsets[k] <= dict_end - 16) memcpy(b + pos, src, 16);
    else memcpy(b + pos, src, l);
    pos += l;
    offsets[i + 1] = (int32_t)pos;
  }
  bytes->len = pos;
  return ST_OK;
}

/* ---- Fused RLE indices -> values ------------------------------------------- */

ST_AI void fill_w(uint8_t *out, int64_t k, const uint8_t *val, int W) {
  if (W == 4) {
    uint32_t v;
    memcpy(&v, val, 4);
    uint32_t *o = (uint32_t *)(void *)out;
    for (int64_t j = 0; j < k; j++) o[j] = v;
  } else if (W == 8) {
    uint64_t v;
    memcpy(&v, val, 8);
    uint64_t *o = (uint64_t *)(void *)out;
    for (int64_t j = 0; j < k; j++) o[j] = v;
  } else {
    for (int64_t j = 0; j < k; j++) memcpy(out + j * W, val, (size_t)W);
  }
}

int st_dict_decode_fixed(const uint8_t *data, size_t len, int bit_width, const uint8_t *dict,
                         uint32_t dict_n, int width, uint8_t *out, int64_t n, st_error *err) {
  ST_CHECK(width > 0 && n >= 0, err, ST_ERR_INVALID, "dictionary: bad width %d", width);
  ST_SAFETY(bit_width >= 0 && bit_width <= 32, err, "RLE: bit width %d out of range 0..32",
            bit_width);
  const int w = bit_width;
  const uint8_t *p = data, *end = data + len;
  int64_t i = 0;
  while (i < n) {
    if (p >= end && w == 0) { /* no bytes needed: all indices are 0 */
      ST_SAFETY(dict_n > 0, err, "dictionary: index 0 out of range (empty dictionary)");
      fill_w(out + i * (int64_t)width, n - i, dict, width);
      return ST_OK;
    }
    ST_SAFETY(p < end, err, "RLE: input ended after %lld of %lld values", (long long)i,
              (long long)n);
    st_rle_run r;
    ST_TRY(st_rle_next_run(&p, data, end, w, n - i, &r, err));
    if (r.count == 0) continue;
    if (r.packed) {
      const uint8_t *q = r.bits;
      size_t qa = r.avail;
      int64_t k = r.count;
      while (k > 0) {
        uint32_t tmp[GCHUNK];
        int64_t c = k < GCHUNK ? k : GCHUNK;
        st_unpack_u32(q, qa, w, tmp, c);
        uint32_t m = max_u32(tmp, c);
        ST_SAFETY(m < dict_n, err, "dictionary: index %u out of range (dictionary has %u entries)",
                  m, dict_n);
        gather_any(tmp, c, dict, width, out + i * (int64_t)width);
        size_t adv = (size_t)c * (size_t)w / 8; /* c is a multiple of 8 unless last */
        adv = adv < qa ? adv : qa;
        q += adv;
        qa -= adv;
        i += c;
        k -= c;
      }
    } else {
      uint32_t v = r.value;
      ST_SAFETY(v < dict_n, err, "dictionary: index %u out of range (dictionary has %u entries)", v,
                dict_n);
      int64_t k = r.count;
      uint8_t *o = out + i * (int64_t)width;
      const uint8_t *val = dict + (size_t)v * (size_t)width;
      if (width == 4) fill_w(o, k, val, 4);
      else if (width == 8) fill_w(o, k, val, 8);
      else fill_w(o, k, val, width);
      i += k;
    }
  }
  return ST_OK;
}
