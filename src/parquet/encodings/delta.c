/*
** This file implements DELTA_BINARY_PACKED (int32/int64) and the two byte
** array encodings built on it, DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY.
**
** DELTA_BINARY_PACKED layout:
**     header   ULEB block_size | ULEB miniblocks_per_block | ULEB total_count
**              | zigzag-ULEB first_value
**     block*   zigzag-ULEB min_delta | miniblocks_per_block bit-width bytes
**              | miniblocks (values_per_miniblock * width / 8 bytes each)
** value[k+1] = value[k] + min_delta + unpacked delta, all modulo 2^32 / 2^64
** (unsigned arithmetic).  Blocks stop when total_count - 1 deltas are read:
** miniblocks past the last needed one have no bytes (their widths are
** ignored); the last needed one is normally padded to full size, but a short
** one is accepted when the input ends there (lenient).
**
** Decoder invariants: values_per_miniblock must be a positive multiple of 8
** (the spec says 32 and block_size a multiple of 128; the spec's own examples
** use 8, and nothing here needs more than byte-aligned miniblocks);
** widths <= 32 for int32 and <= 64 for int64.  After the n requested values
** the remaining blocks are walked (not decoded) so *consumed is the end of
** the whole stream, which DELTA_LENGTH_BYTE_ARRAY needs.  All loops advance
** through the input: every block costs >= 1 + miniblocks bytes.
**
** Encoder: as Arrow (output is byte-identical to pyarrow's): 4 miniblocks
** per block, blocks of 128 values (int32) / 256 values (int64); unused
** miniblocks of the last block get width 0; the last used miniblock is
** padded with zero deltas.
**
** DELTA_LENGTH_BYTE_ARRAY: lengths (DELTA_BINARY_PACKED) then all bytes.  The
** lengths are decoded into offsets[1..n] and turned into offsets in place.
** DELTA_BYTE_ARRAY: prefix lengths (DELTA_BINARY_PACKED), then suffixes as
** DELTA_LENGTH_BYTE_ARRAY.  Prefix lengths are decoded into scratch space at
** the end of the caller's byte buffer and moved past the output region once
** its size is known, so no allocation other than the caller's st_buf is used.
** Note: prefixes let a small page expand (repeated long prefixes); the only
** bound here is the int32 offset limit (ST_ERR_LIMIT past 2 GiB), so callers
** with a memory cap should check it against the page's value count.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic") /* vectorise the sum/prefix loops at -O2 */
#endif
#include "parquet/encodings/encodings.h"
#include "parquet/encodings/bitpack.h"

#define ST_AI static inline __attribute__((always_inline))
#define CHUNK 256 /* values unpacked per step (stack scratch) */

typedef struct dhdr {
  uint64_t block;      /* values per block                 */
  uint64_t mbs;        /* miniblocks per block             */
  uint64_t mbvals;     /* values per miniblock             */
  uint64_t total;      /* total value count                */
  uint64_t first;      /* first value (two's complement)   */
} dhdr;

static int delta_header(const uint8_t **pp, const uint8_t *end, dhdr *h, st_error *err) {
  uint64_t first;
  ST_SAFETY(st_uleb_read(pp, end, &h->block) == 0 && st_uleb_read(pp, end, &h->mbs) == 0 &&
                st_uleb_read(pp, end, &h->total) == 0 && st_uleb_read(pp, end, &first) == 0,
            err, "DELTA_BINARY_PACKED: truncated or bad header");
  ST_SAFETY(h->mbs > 0 && h->block > 0 && h->block <= ((uint64_t)1 << 31) && h->block % h->mbs == 0,
            err, "DELTA_BINARY_PACKED: bad block size %llu / miniblock count %llu",
            (unsigned long long)h->block, (unsigned long long)h->mbs);
  h->mbvals = h->block / h->mbs;
  ST_SAFETY(h->mbvals % 8 == 0, err,
            "DELTA_BINARY_PACKED: miniblock size %llu is not a multiple of 8",
            (unsigned long long)h->mbvals);
  h->first = (uint64_t)st_zigzag_dec(first);
  return ST_OK;
}

/* Decode n values (is64 constant after inlining). */
ST_AI int delta_decode(const uint8_t *data, size_t len, int64_t n, void *outp, int is64,
                       size_t *consumed, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "DELTA_BINARY_PACKED: negative value count");
  const uint8_t *p = data, *end = data + len;
  if (n == 0 && len == 0) {
    if (consumed) *consumed = 0;
    return ST_OK;
  }
  dhdr h;
  ST_TRY(delta_header(&p, end, &h, err));
  ST_SAFETY(h.total >= (uint64_t)n, err, "DELTA_BINARY_PACKED: header holds %llu values, %lld needed",
            (unsigned long long)h.total, (long long)n);
  const int maxw = is64 ? 64 : 32;
  uint64_t v = h.first;
  int64_t o = 0; /* values written */
  if (n > 0) {
    if (is64) ((int64_t *)outp)[0] = (int64_t)v;
    else ((int32_t *)outp)[0] = (int32_t)(uint32_t)v;
    o = 1;
  }
  uint64_t left = h.total ? h.total - 1 : 0; /* deltas still in the stream */
  while (left > 0) {
    uint64_t md;
    ST_SAFETY(st_uleb_read(&p, end, &md) == 0, err,
              "DELTA_BINARY_PACKED: truncated block header (%llu values missing)",
              (unsigned long long)left);
    uint64_t min_delta = (uint64_t)st_zigzag_dec(md);
    ST_SAFETY((uint64_t)(end - p) >= h.mbs, err,
              "DELTA_BINARY_PACKED: miniblock bit widths run past the input");
    const uint8_t *widths = p;
    p += h.mbs;
    for (uint64_t m = 0; m < h.mbs && left > 0; m++) {
      int w = widths[m];
      ST_SAFETY(w <= maxw, err, "DELTA_BINARY_PACKED: bit width %d > %d", w, maxw);
      uint64_t nv = left < h.mbvals ? left : h.mbvals; /* deltas in this miniblock */
      uint64_t mb_bytes = h.mbvals * (uint64_t)w / 8;
      size_t avail = (size_t)(end - p);
      const uint8_t *q = p;
      if (o < n) { /* decode k deltas of this miniblock */
        int64_t k = (int64_t)(nv < (uint64_t)(n - o) ? nv : (uint64_t)(n - o));
        uint64_t need = ((uint64_t)k * (uint64_t)w + 7) / 8;
        ST_SAFETY(need <= avail, err, "DELTA_BINARY_PACKED: miniblock of %llu bytes exceeds input",
                  (unsigned long long)mb_bytes);
        size_t qa = avail;
        while (k > 0) {
          int64_t c = k < CHUNK ? k : CHUNK;
          if (is64) {
            uint64_t tmp[CHUNK];
            int64_t *out = (int64_t *)outp + o;
            st_unpack_u64(q, qa, w, tmp, c);
            for (int64_t j = 0; j < c; j++) {
              v += min_delta + tmp[j];
              out[j] = (int64_t)v;
            }
          } else {
            uint32_t tmp[CHUNK];
            int32_t *out = (int32_t *)outp + o;
            uint32_t v32 = (uint32_t)v, md32 = (uint32_t)min_delta;
            st_unpack_u32(q, qa, w, tmp, c);
            for (int64_t j = 0; j < c; j++) {
              v32 += md32 + tmp[j];
              out[j] = (int32_t)v32;
            }
            v = v32;
          }
          size_t adv = (size_t)c * (size_t)w / 8; /* c is a multiple of 8 unless last */
          adv = adv < qa ? adv : qa;
          q += adv;
          qa -= adv;
          o += c;
          k -= c;
        }
      }
      left -= nv;
      if (mb_bytes > avail) {
        /* a short miniblock is only acceptable as the very last one */
        ST_SAFETY(left == 0 && o == n, err,
                  "DELTA_BINARY_PACKED: miniblock of %llu bytes exceeds input",
                  (unsigned long long)mb_bytes);
        p = end;
      } else {
        p += mb_bytes;
      }
    }
  }
  if (consumed) *consumed = (size_t)(p - data);
  return ST_OK;
}

int st_delta_decode_i32(const uint8_t *data, size_t len, int64_t n, int32_t *out, size_t *consumed,
                        st_error *err) {
  return delta_decode(data, len, n, out, 0, consumed, err);
}

int st_delta_decode_i64(const uint8_t *data, size_t len, int64_t n, int64_t *out, size_t *consumed,
                        st_error *err) {
  return delta_decode(data, len, n, out, 1, consumed, err);
}

/* ---- Encoder ------------------------------------------------------------- */

/* Arrow's choices: 4 miniblocks per block; blocks of 128 values for int32
** and 256 for int64 (so our output is byte-identical to Arrow's). */
#define EMB 4
#define EBLOCK_MAX 256

/* Value sources for the encoder (kind is constant after inlining). */
enum { S_I32, S_I64, S_LEN, S_PFX, S_SFX };
typedef struct dsrc {
  const void *vals;        /* S_I32 / S_I64 values         */
  const int32_t *offsets;  /* byte array offsets (n+1)     */
  const uint8_t *bytes;    /* byte array data              */
} dsrc;

/* Length of the common prefix of byte arrays i-1 and i (0 for i == 0). */
static inline int32_t common_prefix(const int32_t *off, const uint8_t *bytes, int64_t i) {
  if (i == 0) return 0;
  const uint8_t *a = bytes + off[i - 1], *c = bytes + off[i];
  int32_t la = off[i] - off[i - 1], lc = off[i + 1] - off[i];
  int32_t m = la < lc ? la : lc, p = 0;
  while (p < m && a[p] == c[p]) p++;
  return p;
}

ST_AI int64_t src_get(const dsrc *s, int kind, int64_t i) {
  switch (kind) {
    case S_I32: return ((const int32_t *)s->vals)[i];
    case S_I64: return ((const int64_t *)s->vals)[i];
    case S_LEN: return s->offsets[i + 1] - s->offsets[i];
    case S_PFX: return common_prefix(s->offsets, s->bytes, i);
    default: return s->offsets[i + 1] - s->offsets[i] - common_prefix(s->offsets, s->bytes, i);
  }
}

ST_AI int delta_encode(const dsrc *s, int64_t n, int kind, st_buf *out, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "DELTA_BINARY_PACKED: negative value count");
  const int is64 = kind == S_I64;
  const int EBLOCK = is64 ? 256 : 128, EMBV = EBLOCK / EMB;
  uint8_t hdr[40];
  size_t hn = 0;
  hn += st_uleb_write(hdr + hn, EBLOCK);
  hn += st_uleb_write(hdr + hn, EMB);
  hn += st_uleb_write(hdr + hn, (uint64_t)n);
  int64_t first = n ? src_get(s, kind, 0) : 0;
  hn += st_uleb_write(hdr + hn, st_zigzag_enc(first));
  ST_TRY(st_buf_append(out, hdr, hn, err));
  uint64_t prev = (uint64_t)first;
  for (int64_t i = 1; i < n; i += EBLOCK) {
    int64_t c = n - i < EBLOCK ? n - i : EBLOCK;
    uint64_t d[EBLOCK_MAX];
    int64_t mind = INT64_MAX;
    for (int64_t j = 0; j < c; j++) {
      /* delta in the value's width (wrapping), as a signed value */
      uint64_t x = (uint64_t)src_get(s, kind, i + j);
      int64_t dv = is64 ? (int64_t)(x - prev) : (int64_t)(int32_t)(uint32_t)(x - prev);
      prev = x;
      d[j] = (uint64_t)dv;
      if (dv < mind) mind = dv;
    }
    for (int64_t j = 0; j < EBLOCK; j++) {
      /* d - min fits the width's unsigned range; padding deltas are 0 */
      uint64_t a = j < c ? d[j] - (uint64_t)mind : 0;
      d[j] = is64 ? a : (a & 0xffffffffu);
    }
    uint8_t widths[EMB] = {0};
    int nmb = (int)((c + EMBV - 1) / EMBV);
    for (int m = 0; m < nmb; m++) {
      uint64_t any = 0;
      for (int j = 0; j < EMBV; j++) any |= d[m * EMBV + j];
      widths[m] = (uint8_t)st_bit_width(any);
    }
    ST_TRY(st_buf_reserve(out, 10 + EMB + (size_t)EBLOCK * 8 + 8, err));
    uint8_t *o = out->data + out->len;
    o += st_uleb_write(o, st_zigzag_enc(mind));
    memcpy(o, widths, EMB);
    o += EMB;
    for (int m = 0; m < nmb; m++) o += st_pack_u64(d + m * EMBV, EMBV, widths[m], o);
    out->len = (size_t)(o - out->data);
  }
  return ST_OK;
}

int st_delta_encode_i32(const int32_t *vals, int64_t n, st_buf *out, st_error *err) {
  dsrc s = {vals, NULL, NULL};
  return delta_encode(&s, n, S_I32, out, err);
}

int st_delta_encode_i64(const int64_t *vals, int64_t n, st_buf *out, st_error *err) {
  dsrc s = {vals, NULL, NULL};
  return delta_encode(&s, n, S_I64, out, err);
}

static int check_offsets(const int32_t *offsets, int64_t n, const char *enc, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "%s: negative value count", enc);
  for (int64_t i = 0; i < n; i++)
    ST_CHECK(offsets[i + 1] >= offsets[i], err, ST_ERR_INVALID, "%s: decreasing offsets at %lld",
             enc, (long long)i);
  return ST_OK;
}

int st_delta_length_encode(const int32_t *offsets, const uint8_t *bytes, int64_t n, st_buf *out,
                           st_error *err) {
  ST_TRY(check_offsets(offsets, n, "DELTA_LENGTH_BYTE_ARRAY", err));
  dsrc s = {NULL, offsets, bytes};
  ST_TRY(delta_encode(&s, n, S_LEN, out, err));
  size_t total = (size_t)(n ? offsets[n] - offsets[0] : 0);
  return st_buf_append(out, n ? bytes + offsets[0] : bytes, total, err);
}

int st_delta_byte_array_encode(const int32_t *offsets, const uint8_t *bytes, int64_t n,
                               st_buf *out, st_error *err) {
  ST_TRY(check_offsets(offsets, n, "DELTA_BYTE_ARRAY", err));
  dsrc s = {NULL, offsets, bytes};
  ST_TRY(delta_encode(&s, n, S_PFX, out, err));
  ST_TRY(delta_encode(&s, n, S_SFX, out, err));
  size_t total = 0;
  for (int64_t i = 0; i < n; i++)
    total += (size_t)(offsets[i + 1] - offsets[i] - common_prefix(offsets, bytes, i));
  ST_TRY(st_buf_reserve(out, total, err));
  uint8_t *o = out->data + out->len;
  for (int64_t i = 0; i < n; i++) {
    int32_t p = common_prefix(offsets, bytes, i);
    size_t l = (size_t)(offsets[i + 1] - offsets[i] - p);
    if (l) memcpy(o, bytes + offsets[i] + p, l);
    o += l;
  }
  out->len += total;
  return ST_OK;
}

/* ---- DELTA_LENGTH_BYTE_ARRAY --------------------------------------------- */

/* Sum of n non-negative lengths; -1 if any is negative. */
static int64_t sum_lengths(const int32_t *l, int64_t n) {
  int64_t s = 0;
  int32_t neg = 0;
  for (int64_t i = 0; i < n; i++) {
    s += l[i];
    neg |= l[i];
  }
  return neg < 0 ? -1 : s;
}

int st_delta_length_decode(const uint8_t *data, size_t len, int64_t n, int32_t *offsets,
                           st_buf *bytes, size_t *consumed, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "DELTA_LENGTH_BYTE_ARRAY: negative value count");
  ST_CHECK((int64_t)offsets[0] == (int64_t)bytes->len, err, ST_ERR_INVALID,
           "DELTA_LENGTH_BYTE_ARRAY: offsets[0] is not the byte buffer's end");
  size_t c1 = 0;
  int rc = st_delta_decode_i32(data, len, n, offsets + 1, &c1, err);
  if (rc) {
    st_error_prefix(err, "DELTA_LENGTH_BYTE_ARRAY lengths: ");
    return rc;
  }
  int64_t total = sum_lengths(offsets + 1, n);
  ST_SAFETY(total >= 0, err, "DELTA_LENGTH_BYTE_ARRAY: negative length");
  ST_SAFETY((uint64_t)total <= len - c1, err,
            "DELTA_LENGTH_BYTE_ARRAY: lengths add up to %lld bytes, %zu present", (long long)total,
            len - c1);
  size_t base = bytes->len;
  ST_CHECK((uint64_t)base + (uint64_t)total <= INT32_MAX, err, ST_ERR_LIMIT,
           "DELTA_LENGTH_BYTE_ARRAY: byte array data exceeds 2 GiB in one column chunk");
  ST_TRY(st_buf_append(bytes, data + c1, (size_t)total, err));
  int32_t pos = (int32_t)base;
  for (int64_t i = 1; i <= n; i++) {
    pos += offsets[i];
    offsets[i] = pos;
  }
  if (consumed) *consumed = c1 + (size_t)total;
  return ST_OK;
}

/* ---- DELTA_BYTE_ARRAY ------------------------------------------------------ */

int st_delta_byte_array_decode(const uint8_t *data, size_t len, int64_t n, int32_t *offsets,
                               st_buf *bytes, size_t *consumed, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "DELTA_BYTE_ARRAY: negative value count");
  ST_CHECK((int64_t)offsets[0] == (int64_t)bytes->len, err, ST_ERR_INVALID,
           "DELTA_BYTE_ARRAY: offsets[0] is not the byte buffer's end");
  const size_t base = bytes->len;
  /* 1. prefix lengths into aligned scratch at the end of bytes */
  size_t s1 = (base + 7) & ~(size_t)7;
  ST_TRY(st_buf_reserve(bytes, s1 - base + (size_t)n * 4 + 8, err));
  size_t c1 = 0;
  int rc = st_delta_decode_i32(data, len, n, (int32_t *)(void *)(bytes->data + s1), &c1, err);
  if (rc) {
    st_error_prefix(err, "DELTA_BYTE_ARRAY prefix lengths: ");
    return rc;
  }
  /* 2. suffix lengths into offsets[1..n] */
  size_t c2 = 0;
  rc = st_delta_decode_i32(data + c1, len - c1, n, offsets + 1, &c2, err);
  if (rc) {
    st_error_prefix(err, "DELTA_BYTE_ARRAY suffix lengths: ");
    return rc;
  }
  const uint8_t *suf = data + c1 + c2;
  size_t suf_avail = len - c1 - c2;
  int64_t ssum = sum_lengths(offsets + 1, n);
  int64_t psum = sum_lengths((const int32_t *)(void *)(bytes->data + s1), n);
  ST_SAFETY(ssum >= 0 && psum >= 0, err, "DELTA_BYTE_ARRAY: negative prefix or suffix length");
  ST_SAFETY((uint64_t)ssum <= suf_avail, err,
            "DELTA_BYTE_ARRAY: suffixes add up to %lld bytes, %zu present", (long long)ssum,
            suf_avail);
  uint64_t total = (uint64_t)ssum + (uint64_t)psum;
  ST_CHECK((uint64_t)base + total <= INT32_MAX, err, ST_ERR_LIMIT,
           "DELTA_BYTE_ARRAY: byte array data exceeds 2 GiB in one column chunk");
  /* 3. move the prefix lengths past the output region */
  size_t s2 = (base + (size_t)total + 7) & ~(size_t)7;
  if (s2 > s1) {
    /* st_buf_reserve keeps only [0, len): cover the scratch while growing */
    bytes->len = s1 + (size_t)n * 4;
    rc = st_buf_reserve(bytes, s2 - s1 + 8, err);
    bytes->len = base;
    if (rc) return rc;
    memmove(bytes->data + s2, bytes->data + s1, (size_t)n * 4);
  } else {
    s2 = s1; /* total == 0 region fits before the scratch already */
  }
  uint8_t *b = bytes->data;
  const int32_t *pre = (const int32_t *)(void *)(b + s2);
  size_t pos = base, prev = base, prev_len = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t pl = (size_t)pre[i], sl = (size_t)offsets[i + 1];
    ST_SAFETY(pl <= prev_len, err,
              "DELTA_BYTE_ARRAY: value %lld: prefix length %zu exceeds previous length %zu",
              (long long)i, pl, prev_len);
    memcpy(b + pos, b + prev, pl);
    memcpy(b + pos + pl, suf, sl);
    suf += sl;
    prev = pos;
    prev_len = pl + sl;
    pos += prev_len;
    offsets[i + 1] = (int32_t)pos;
  }
  bytes->len = pos;
  if (consumed) *consumed = (size_t)(suf - data);
  return ST_OK;
}
