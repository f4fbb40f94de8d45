/*
** This file implements the Parquet leaf column decoder: one column chunk's
** pages -> definition/repetition levels and values placed at their slots in
** pre-sized output buffers (see reader_priv.h for the output layout).
**
** Column chunk layout (parquet-format):
**   [dictionary page] data page ... (index pages are skipped)
** The chunk starts at min(dictionary_page_offset if > 0, data_page_offset) and
** spans total_compressed_size bytes; the dictionary page is recognised by its
** header type, not by the offset (some writers set that offset wrong).
**
** Page bodies:
**   DATA_PAGE (v1)  whole body compressed: [rep levels][def levels][values];
**                   levels are RLE with a 4-byte length prefix, or legacy
**                   BIT_PACKED (MSB-first, ceil(n*bw/8) bytes, no prefix).
**   DATA_PAGE_V2    [rep levels][def levels] uncompressed RLE without prefix
**                   (byte lengths in the header), then the values, compressed
**                   unless is_compressed = false (an empty values section may
**                   be 0 bytes even under a codec).
**   DICTIONARY      PLAIN values (PLAIN_DICTIONARY in old files).
**
** Invariants: the level entries of all pages of a chunk sum to the chunk's
** num_values, which the caller reserved (st_pq_leafdata_reserve), so no page
** can write past the buffers; every size from the file is checked against the
** chunk bounds and max_alloc before use; level values are checked against
** max_def/max_rep; dictionary indices against the dictionary size.
**
** Values of a page are decoded dense (non-null only) at the page's first slot
** and then spread backwards in place over the null slots, so there is one
** pass per page and no per-value call.  Fast paths:
**   - required flat columns have no levels at all;
**   - flat optional columns (max_def 1) turn the 1-bit definition-level runs
**     straight into the validity bitmap (bit-packed runs ARE the bitmap);
**   - PLAIN values needing no conversion are decompressed straight into the
**     output (v2 pages; v1 pages of required columns; v1 pages of flat
**     optional 4/8-byte columns, decompressed so that the page ends at the
**     end of its slots, the levels in front saved/restored: see
**     read_data_page, spread forwards by spread_fixed_fwd);
**   - dictionary strings are gathered with fixed 32-byte moves, fused with
**     the RLE/bit-packed index decode when no entry exceeds 32 bytes
**     (gather_binary_rle; c->dict_offs holds the dictionary's nd+1 offsets
**     and, at [nd+1], its longest entry);
**   - spreading over nulls takes 8 slots per validity byte;
**   - selective reads (c->sel, st_pq_read_rows): a Snappy dictionary page of
**     fixed 4/8-byte values is not decompressed up front (dict_lazy): a
**     block of few long literals is read in place (st_snappy_view), another
**     is decoded only as far as the largest index a page needs
**     (st_snappy_stream); of a dictionary-encoded data page only the indices
**     of the selected slots are read (st_rle_gather_u32) and only their
**     values are placed (lazy_values), other slots stay undefined.
** Page bodies reach the decoders without copies where possible: a Snappy
** body that is one literal (incompressible data) is used in place
** (st_snappy_single_literal); a chunk of a file read by pread (no mapping)
** is read into the context's buffer `io`, reused from chunk to chunk.
** Writer quirks handled: a dictionary_page_offset that points elsewhere
** (the first page there is not a dictionary page -> start at
** data_page_offset), and old parquet-mr's short total_compressed_size
** (PARQUET-816: up to 100 bytes of slack past the stated chunk end).
*/
#include "parquet/reader_priv.h"

#include <string.h>

#include "parquet/codec.h"
#include "parquet/encodings/bitpack.h"
#include "parquet/encodings/rle_run.h"
#include "parquet/encodings/encodings.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

static inline uint32_t rd_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Ensure capacity for `total` bytes; the whole old capacity is preserved (callers
   index these buffers directly and do not always maintain len). */
static int reserve_abs(st_buf *b, size_t total, st_error *err) {
  if (total <= b->cap) return ST_OK;
  size_t keep = b->len;
  b->len = b->cap;
  int rc = st_buf_reserve(b, total - b->cap, err);
  b->len = keep;
  return rc;
}

static int width_of(st_type_id t, const st_field *f) {
  switch (t) {
  case ST_T_INT8: case ST_T_UINT8: return 1;
  case ST_T_INT16: case ST_T_UINT16: case ST_T_FLOAT16: return 2;
  case ST_T_INT32: case ST_T_UINT32: case ST_T_FLOAT: case ST_T_DATE32: case ST_T_TIME32: return 4;
  case ST_T_INT64: case ST_T_UINT64: case ST_T_DOUBLE: case ST_T_DATE64: case ST_T_TIME64:
  case ST_T_TIMESTAMP: case ST_T_DURATION: return 8;
  case ST_T_DECIMAL128: return 16;
  case ST_T_DECIMAL256: return 32;
  case ST_T_FIXED_BINARY: return f->byte_width;
  default: return 0;
  }
}

static const char *phys_name(int t) {
  static const char *n[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                            "FIXED_LEN_BYTE_ARRAY"};
  return t >= 0 && t < 8 ? n[t] : "?";
}

static const char *enc_name(int e) {
  switch (e) {
  case ST_PQ_ENC_PLAIN: return "PLAIN";
  case ST_PQ_ENC_PLAIN_DICTIONARY: return "PLAIN_DICTIONARY";
  case ST_PQ_ENC_RLE: return "RLE";
  case ST_PQ_ENC_BIT_PACKED: return "BIT_PACKED";
  case ST_PQ_ENC_DELTA_BINARY_PACKED: return "DELTA_BINARY_PACKED";
  case ST_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: return "DELTA_LENGTH_BYTE_ARRAY";
  case ST_PQ_ENC_DELTA_BYTE_ARRAY: return "DELTA_BYTE_ARRAY";
  case ST_PQ_ENC_RLE_DICTIONARY: return "RLE_DICTIONARY";
  case ST_PQ_ENC_BYTE_STREAM_SPLIT: return "BYTE_STREAM_SPLIT";
  default: return "unknown";
  }
}

/* ------------------------------------------------------------------------ */
/* Leaf spec                                                                  */

int st_pq_leafspec_init(st_pq_leafspec *spec, const st_pq_tree *s, int leaf, bool nested,
                        bool keep_dictionary, st_error *err) {
  const st_pq_leaf *L = &s->leaves[leaf];
  ST_SAFETY(L->node >= 0 && L->node < s->n_nodes, err, "schema: leaf %d has no node", leaf);
  const st_pq_node *N = &s->nodes[L->node];
  const st_field *f = N->field;
  memset(spec, 0, sizeof *spec);
  spec->leaf = L;
  spec->field = f;
  spec->path = L->path ? L->path : "?";
  spec->phys = L->type;
  spec->max_def = L->max_def;
  spec->max_rep = L->max_rep;
  spec->rad = N->rep_ancestor_def;
  spec->keep_levels = nested;
  ST_SAFETY(L->max_def >= 0 && L->max_rep >= 0 && spec->rad >= 0 && spec->rad <= L->max_def, err,
            "schema: bad levels for column '%s'", spec->path);
  int t = f->type;
  int ow = width_of((st_type_id)t, f);
  spec->ow = ow;
  int cv = -1;
  switch (L->type) {
  case ST_PQ_BOOLEAN:
    spec->pw = 0;
    if (t == ST_T_BOOL) cv = ST_CV_BOOL;
    break;
  case ST_PQ_INT32:
  case ST_PQ_INT64:
  case ST_PQ_FLOAT:
  case ST_PQ_DOUBLE:
    spec->pw = (L->type == ST_PQ_INT64 || L->type == ST_PQ_DOUBLE) ? 8 : 4;
    if (L->type == ST_PQ_FLOAT) { if (t == ST_T_FLOAT) cv = ST_CV_COPY; break; }
    if (L->type == ST_PQ_DOUBLE) { if (t == ST_T_DOUBLE) cv = ST_CV_COPY; break; }
    if (ow == 0 || t == ST_T_FIXED_BINARY || t == ST_T_FLOAT16 || t == ST_T_FLOAT ||
        t == ST_T_DOUBLE)
      break;
    if (ow == spec->pw) cv = ST_CV_COPY;
    else if (ow < spec->pw) cv = ST_CV_NARROW;
    else cv = ST_CV_SEXT;
    break;
  case ST_PQ_INT96:
    spec->pw = 12;
    if (t == ST_T_TIMESTAMP) cv = ST_CV_INT96;
    else if (t == ST_T_FIXED_BINARY && ow == 12) cv = ST_CV_COPY;
    break;
  case ST_PQ_BYTE_ARRAY:
    spec->pw = 0;
    if (t == ST_T_STRING || t == ST_T_BINARY) cv = ST_CV_BINARY;
    else if (t == ST_T_DECIMAL128 || t == ST_T_DECIMAL256) cv = ST_CV_DEC_BE_VAR;
    break;
  case ST_PQ_FIXED_LEN_BYTE_ARRAY:
    spec->pw = L->type_length;
    ST_SAFETY(L->type_length > 0 && L->type_length <= (1 << 20), err,
              "schema: column '%s' has bad FIXED_LEN_BYTE_ARRAY length %d", spec->path,
              (int)L->type_length);
    if (t == ST_T_DECIMAL128 || t == ST_T_DECIMAL256) cv = ST_CV_DEC_BE;
    else if ((t == ST_T_FIXED_BINARY || t == ST_T_FLOAT16) && ow == spec->pw) cv = ST_CV_COPY;
    else if (t == ST_T_STRING || t == ST_T_BINARY) cv = ST_CV_FLBA_BIN;
    break;
  default:
    break;
  }
  if (t == ST_T_NULL) cv = ST_CV_NULL;
  if (cv < 0)
    return st_fail(err, ST_ERR_UNSUPPORTED, "column '%s': physical type %s as %s is not supported",
                   spec->path, phys_name(L->type), st_type_name((st_type_id)t));
  spec->conv = cv;
  spec->dict_out = keep_dictionary && cv == ST_CV_BINARY && !nested;
  return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* Leaf data                                                                  */

void st_pq_leafdata_init(st_pq_leafdata *d) { memset(d, 0, sizeof *d); }

void st_pq_leafdata_free(st_pq_leafdata *d) {
  st_buf_free(&d->def);
  st_buf_free(&d->rep);
  st_buf_free(&d->valid);
  st_buf_free(&d->values);
  st_buf_free(&d->bytes);
  st_buf_free(&d->dict_off);
  st_buf_free(&d->dict_bytes);
  memset(d, 0, sizeof *d);
}

static int cap_check(uint64_t need, uint64_t max_alloc, const char *what, st_error *err) {
  ST_CHECK(need <= max_alloc, err, ST_ERR_LIMIT,
           "%s needs %llu bytes, over the allocation limit of %llu bytes", what,
           (unsigned long long)need, (unsigned long long)max_alloc);
  return ST_OK;
}

/* Capacity for `bits` bits (+ slack); bytes are zeroed lazily by zero_bits. */
static int reserve_bits(st_buf *b, int64_t bits, st_error *err) {
  return reserve_abs(b, (size_t)((bits + 7) / 8) + 16, err);
}

/*
** Make the bytes holding bits [.., end_bit) (+1 byte for unaligned writes)
** zero before they are first written.  b->len is the watermark of zeroed
** bytes: it only grows, so bits written by earlier pages are kept, and only
** the pages actually decoded are touched (a huge num_values claim in the
** metadata costs address space, not memory).
*/
static void zero_bits(st_buf *b, int64_t end_bit) {
  size_t need = (size_t)(end_bit >> 3) + 2;
  if (need > b->cap) need = b->cap;
  if (need > b->len) {
    memset(b->data + b->len, 0, need - b->len);
    b->len = need;
  }
}

int st_pq_leafdata_reserve(st_pq_leafdata *d, const st_pq_leafspec *spec, int64_t entries,
                           uint64_t max_alloc, st_error *err) {
  ST_SAFETY(entries >= 0, err, "negative number of values");
  int64_t cap = d->cap_levels + entries;
  ST_SAFETY(cap >= d->cap_levels && cap < ((int64_t)1 << 40), err, "number of values too large");
  /* All size checks first, then the allocations. */
  uint64_t vbytes = spec->conv == ST_CV_BOOL ? (uint64_t)cap / 8
                    : (spec->conv == ST_CV_BINARY || spec->conv == ST_CV_FLBA_BIN || spec->dict_out)
                        ? (uint64_t)(cap + 1) * 4
                        : (uint64_t)cap * (uint64_t)spec->ow;
  ST_TRY(cap_check(vbytes, max_alloc, "column values", err));
  if (spec->keep_levels) ST_TRY(cap_check((uint64_t)cap * 2, max_alloc, "levels", err));
  if (spec->keep_levels) {
    if (spec->max_def > 0) ST_TRY(reserve_abs(&d->def, (size_t)cap * 2, err));
    if (spec->max_rep > 0) ST_TRY(reserve_abs(&d->rep, (size_t)cap * 2, err));
  }
  if (spec->max_def > 0) ST_TRY(reserve_bits(&d->valid, cap, err));
  if (spec->conv == ST_CV_BOOL) {
    ST_TRY(reserve_bits(&d->values, cap, err));
  } else if (spec->conv == ST_CV_BINARY || spec->conv == ST_CV_FLBA_BIN || spec->dict_out) {
    ST_TRY(cap_check((uint64_t)(cap + 1) * 4, max_alloc, "offsets", err));
    bool first = d->values.cap == 0;
    ST_TRY(reserve_abs(&d->values, (size_t)(cap + 1) * 4, err));
    if (first) ((int32_t *)d->values.data)[0] = 0;
    if (spec->dict_out && d->dict_off.cap == 0) {
      ST_TRY(reserve_abs(&d->dict_off, 1024, err));
      ((int32_t *)d->dict_off.data)[0] = 0;
    }
  } else {
    ST_TRY(cap_check((uint64_t)cap * (uint64_t)spec->ow, max_alloc, "column values", err));
    ST_TRY(reserve_abs(&d->values, (size_t)cap * (size_t)spec->ow, err));
  }
  d->cap_levels = cap;
  return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* Read context                                                               */

void st_pq_colctx_init(st_pq_colctx *c, st_file *f, uint64_t max_alloc, bool verify_crc) {
  memset(c, 0, sizeof *c);
  c->file = f;
  c->max_alloc = max_alloc;
  c->verify_crc = verify_crc;
  c->dict_n = -1;
}

void st_pq_colctx_free(st_pq_colctx *c) {
  st_buf_free(&c->page);
  st_buf_free(&c->io);
  st_buf_free(&c->lev_d);
  st_buf_free(&c->lev_r);
  st_buf_free(&c->idx);
  st_buf_free(&c->raw);
  st_buf_free(&c->soff);
  st_buf_free(&c->sbytes);
  st_buf_free(&c->dict);
  st_buf_free(&c->dict_offs);
  st_snappy_view_free(&c->dview);
}

/* ------------------------------------------------------------------------ */
/* Conversions (tight loops, one per kind)                                    */

static void conv_int96(const uint8_t *in, int64_t n, int64_t *out, int unit) {
  /* INT96: le64 nanoseconds of day, le32 Julian day.  Wrapping arithmetic. */
  static const int64_t div[4] = {1000000000, 1000000, 1000, 1};
  int64_t dv = div[unit & 3];
  for (int64_t i = 0; i < n; i++) {
    uint64_t nanos;
    uint32_t jd;
    memcpy(&nanos, in + i * 12, 8);
    memcpy(&jd, in + i * 12 + 8, 4);
    uint64_t v = (uint64_t)((int64_t)jd - 2440588) * UINT64_C(86400000000000) + nanos;
    out[i] = dv == 1 ? (int64_t)v : (int64_t)v / dv;
  }
}

/* Big-endian two's complement of len bytes -> little-endian ow bytes. */
static inline bool be_to_le(const uint8_t *in, size_t len, uint8_t *out, int ow) {
  uint8_t sign = (len > 0 && (in[0] & 0x80)) ? 0xff : 0;
  if (len > (size_t)ow) {
    for (size_t k = 0; k < len - (size_t)ow; k++)
      if (in[k] != sign) return false;
    in += len - (size_t)ow;
    len = (size_t)ow;
  }
  for (size_t k = 0; k < len; k++) out[k] = in[len - 1 - k];
  memset(out + len, sign, (size_t)ow - len);
  return true;
}

/* raw (n values of spec->pw bytes, physical) -> out (spec->ow bytes each). */
static int convert_fixed(const st_pq_leafspec *spec, const uint8_t *raw, int64_t n, uint8_t *out,
                         st_error *err) {
  int pw = spec->pw, ow = spec->ow;
  switch (spec->conv) {
  case ST_CV_COPY:
    if (n) memcpy(out, raw, (size_t)n * (size_t)pw);
    return ST_OK;
  case ST_CV_NARROW:
    if (pw == 4 && ow == 1) {
      for (int64_t i = 0; i < n; i++) out[i] = raw[i * 4];
    } else if (pw == 4 && ow == 2) {
      for (int64_t i = 0; i < n; i++) memcpy(out + i * 2, raw + i * 4, 2);
    } else {
      for (int64_t i = 0; i < n; i++) memcpy(out + i * ow, raw + i * pw, (size_t)ow);
    }
    return ST_OK;
  case ST_CV_SEXT:
    for (int64_t i = 0; i < n; i++) {
      const uint8_t *p = raw + i * pw;
      uint8_t *o = out + i * ow;
      memcpy(o, p, (size_t)pw);
      memset(o + pw, (p[pw - 1] & 0x80) ? 0xff : 0, (size_t)(ow - pw));
    }
    return ST_OK;
  case ST_CV_INT96:
    conv_int96(raw, n, (int64_t *)(void *)out, (int)spec->field->unit);
    return ST_OK;
  case ST_CV_DEC_BE:
    for (int64_t i = 0; i < n; i++)
      ST_SAFETY(be_to_le(raw + i * pw, (size_t)pw, out + i * ow, ow), err,
                "decimal value %lld does not fit %d bytes", (long long)i, ow);
    return ST_OK;
  default:
    return st_fail(err, ST_ERR_UNSUPPORTED, "internal: bad conversion %d", spec->conv);
  }
}

static int convert_var_decimal(const st_pq_leafspec *spec, const int32_t *offs,
                               const uint8_t *bytes, int64_t n, uint8_t *out, st_error *err) {
  int ow = spec->ow;
  for (int64_t i = 0; i < n; i++) {
    int32_t a = offs[i], b = offs[i + 1];
    ST_SAFETY(be_to_le(bytes + a, (size_t)(b - a), out + i * ow, ow), err,
              "decimal value of %d bytes does not fit %d bytes", (int)(b - a), ow);
  }
  return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* Spreading dense values over null slots (backwards, in place)               */

#define BIT(b, i) (((b)[(i) >> 3] >> ((i)&7)) & 1)

/* Branch-free: a null slot reads some value and masks it to zero (nulls are
   random, so a branch would mispredict); reads stay within [0, k]. */
/* Slots whose validity bits share one bitmap byte are done 8 at a time
   from that byte (unrolled); the ragged ends one by one.  The loops stop
   early once all remaining slots are valid and already in place. */
static void spread_fixed(uint8_t *vals, int ow, const uint8_t *vb, int64_t s0, int64_t ns,
                         int64_t nn) {
  int64_t j = nn;
#define SPREAD_ONE(T)                                                         \
  do {                                                                        \
    unsigned bit = BIT(vb, s0 + k);                                           \
    j -= bit;                                                                 \
    T x = v[j];                                                               \
    v[k] = x & (T)(0 - (T)bit);                                               \
  } while (0)
#define SPREAD_LOOP(T)                                                        \
  do {                                                                        \
    T *v = (T *)(void *)vals;                                                 \
    int64_t k = ns - 1;                                                       \
    for (; k >= 0 && j != k + 1 && ((s0 + k + 1) & 7); k--) SPREAD_ONE(T);    \
    for (; k >= 7 && j != k + 1; k -= 8) {                                    \
      unsigned byte = vb[(s0 + k - 7) >> 3];                                  \
      T *w = v + (k - 7);                                                     \
      _Pragma("GCC unroll 8")                                                 \
      for (int u = 7; u >= 0; u--) {                                          \
        unsigned bit = (byte >> u) & 1;                                       \
        j -= bit;                                                             \
        T x = v[j];                                                           \
        w[u] = x & (T)(0 - (T)bit);                                           \
      }                                                                       \
    }                                                                         \
    for (; k >= 0 && j != k + 1; k--) SPREAD_ONE(T);                          \
  } while (0)
  switch (ow) {
  case 1: SPREAD_LOOP(uint8_t); break;
  case 2: SPREAD_LOOP(uint16_t); break;
  case 4: SPREAD_LOOP(uint32_t); break;
  case 8: SPREAD_LOOP(uint64_t); break;
  default:
    for (int64_t k = ns - 1; k >= 0 && j != k + 1; k--) {
      if (BIT(vb, s0 + k)) memmove(vals + k * ow, vals + (--j) * ow, (size_t)ow);
      else memset(vals + k * ow, 0, (size_t)ow);
    }
  }
#undef SPREAD_LOOP
#undef SPREAD_ONE
}

/*
** Forward variant for pages decompressed straight into the output (see
** read_data_page): the nn dense values sit at slots [sh, ns), sh = ns - nn
** (the number of nulls).  Slot k takes dense value j - sh from slot j, and
** j >= k throughout (j - k = sh - nulls before k), > k when slot k is null,
** so going forwards never reads a slot already written.  A null slot reads
** slot j - 1 (>= k, initialised) and masks it; the loop stops once all
** nulls are behind (j == k: the rest is in place).  ow is 4 or 8.
*/
static void spread_fixed_fwd(uint8_t *vals, int ow, const uint8_t *vb, int64_t s0, int64_t ns,
                             int64_t sh) {
  int64_t j = sh;
#define SPREAD_FWD(T)                                                         \
  do {                                                                        \
    T *v = (T *)(void *)vals;                                                 \
    for (int64_t k = 0; k < ns && j != k; k++) {                              \
      unsigned bit = BIT(vb, s0 + k);                                         \
      T x = v[j - 1 + (int64_t)bit];                                          \
      v[k] = x & (T)(0 - (T)bit);                                             \
      j += bit;                                                               \
    }                                                                         \
  } while (0)
  if (ow == 8) SPREAD_FWD(uint64_t);
  else SPREAD_FWD(uint32_t);
#undef SPREAD_FWD
}

/* offs points at the page's first slot; offs[0] is its start offset.
   Byte-aligned groups of 8 slots are done from one bitmap byte. */
static void spread_offsets(int32_t *offs, const uint8_t *vb, int64_t s0, int64_t ns, int64_t nn) {
  int64_t j = nn, k = ns - 1;
  for (; k >= 0 && j != k + 1 && ((s0 + k + 1) & 7); k--) {
    offs[k + 1] = offs[j];
    j -= BIT(vb, s0 + k);
  }
  for (; k >= 7 && j != k + 1; k -= 8) {
    unsigned byte = vb[(s0 + k - 7) >> 3];
    int32_t *w = offs + (k - 6);
#pragma GCC unroll 8
    for (int u = 7; u >= 0; u--) {
      w[u] = offs[j];
      j -= (byte >> u) & 1;
    }
  }
  for (; k >= 0 && j != k + 1; k--) {
    offs[k + 1] = offs[j];
    j -= BIT(vb, s0 + k);
  }
}

/* Booleans: bit s0 + k := (valid ? bit s0 + j : 0).  A byte-aligned group
   of 8 slots reads its (up to 8) source bits, all at or below the group's
   last slot and above any earlier group's slots, then stores one byte. */
static void spread_bits(uint8_t *bits, const uint8_t *vb, int64_t s0, int64_t ns, int64_t nn) {
  int64_t j = nn, k = ns - 1;
#define SPREAD_BIT()                                                          \
  do {                                                                        \
    int64_t dst = s0 + k;                                                     \
    unsigned valid = BIT(vb, dst);                                            \
    j -= valid;                                                               \
    unsigned bit = valid & BIT(bits, s0 + j);                                 \
    uint8_t m = (uint8_t)(1u << (dst & 7));                                   \
    bits[dst >> 3] = (uint8_t)((bits[dst >> 3] & ~m) | (bit ? m : 0));        \
  } while (0)
  for (; k >= 0 && j != k + 1 && ((s0 + k + 1) & 7); k--) SPREAD_BIT();
  for (; k >= 7 && j != k + 1; k -= 8) {
    unsigned byte = vb[(s0 + k - 7) >> 3], out = 0;
#pragma GCC unroll 8
    for (int u = 7; u >= 0; u--) {
      unsigned valid = (byte >> u) & 1;
      j -= valid;
      out |= (valid & BIT(bits, s0 + j)) << u;
    }
    bits[(s0 + k - 7) >> 3] = (uint8_t)out;
  }
  for (; k >= 0 && j != k + 1; k--) SPREAD_BIT();
#undef SPREAD_BIT
}

/* ------------------------------------------------------------------------ */
/* Levels                                                                     */

/* Legacy BIT_PACKED levels: MSB-first bit packing, no length prefix. */
static int decode_bitpacked_levels(const uint8_t *p, size_t len, int bw, int16_t *out, int64_t n,
                                   size_t *used, st_error *err) {
  uint64_t bits = (uint64_t)n * (uint64_t)bw;
  size_t nbytes = (size_t)((bits + 7) / 8);
  ST_SAFETY(nbytes <= len, err, "BIT_PACKED levels: need %zu bytes, %zu left", nbytes, len);
  uint64_t pos = 0;
  for (int64_t i = 0; i < n; i++) {
    int v = 0;
    for (int b = 0; b < bw; b++, pos++) v = (v << 1) | ((p[pos >> 3] >> (7 - (pos & 7))) & 1);
    out[i] = (int16_t)v;
  }
  *used = nbytes;
  return ST_OK;
}

/* v1 levels at p (RLE with length prefix, or BIT_PACKED). */
int st_pq_decode_levels_v1(const uint8_t *p, size_t len, int enc, int max_level, int16_t *out,
                            int64_t n, size_t *used, st_error *err) {
  int bw = st_bit_width((uint64_t)max_level);
  if (enc == ST_PQ_ENC_BIT_PACKED) return decode_bitpacked_levels(p, len, bw, out, n, used, err);
  ST_CHECK(enc == ST_PQ_ENC_RLE, err, ST_ERR_UNSUPPORTED, "level encoding %s not supported",
           enc_name(enc));
  ST_SAFETY(len >= 4, err, "levels: missing length prefix");
  uint32_t l = rd_le32(p);
  ST_SAFETY(l <= len - 4, err, "levels: length %u exceeds page (%zu bytes left)", l, len - 4);
  ST_TRY(st_rle_decode_i16(p + 4, l, bw, out, n, err));
  *used = 4 + (size_t)l;
  return ST_OK;
}

/* Set bits of x (SWAR: the baseline x86-64 target has no popcnt, and
   __builtin_popcountll would be a libgcc call per word). */
static inline int64_t popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (int64_t)((x * 0x0101010101010101ull) >> 56);
}

/* OR m bits of src (from bit 0) into dst at bit offset o (dst pre-zeroed
   from bit o on); returns popcount.  Whole bytes go 8 at a time: with a bit
   shift sh, 64 source bits land in the 8 destination bytes from d[k] on
   (shifted left) plus sh carry bits at the bottom of d[k + 8]. */
static int64_t or_bits(uint8_t *dst, int64_t o, const uint8_t *src, int64_t m) {
  int64_t full = m >> 3, cnt = 0, k = 0;
  int rem = (int)(m & 7), sh = (int)(o & 7);
  uint8_t *d = dst + (o >> 3);
  if (sh == 0) {
    memcpy(d, src, (size_t)full);
    for (; k + 8 <= full; k += 8) cnt += popcount64(st_ld64(src + k));
    for (; k < full; k++) cnt += popcount64(src[k]);
  } else {
    uint64_t carry = 0;
    for (; k + 8 <= full; k += 8) {
      uint64_t w = st_ld64(src + k), x;
      cnt += popcount64(w);
      memcpy(&x, d + k, 8);
      x |= (w << sh) | carry;
      memcpy(d + k, &x, 8);
      carry = w >> (64 - sh);
    }
    d[k] |= (uint8_t)carry;
    for (; k < full; k++) {
      uint8_t b = src[k];
      d[k] |= (uint8_t)(b << sh);
      d[k + 1] |= (uint8_t)(b >> (8 - sh));
      cnt += popcount64(b);
    }
  }
  if (rem) {
    uint8_t b = (uint8_t)(src[full] & ((1u << rem) - 1));
    d[full] |= (uint8_t)(b << sh);
    if (sh + rem > 8) d[full + 1] |= (uint8_t)(b >> (8 - sh));
    cnt += popcount64(b);
  }
  return cnt;
}

/* Set bits [o, o+m) of a pre-zeroed bitmap.  Short runs (the common case:
   RLE runs of valid slots between nulls) are one or two 64-bit ORs; the
   8-byte accesses stay within the bitmap's 16 bytes of slack (reserve_bits). */
static void set_bits(uint8_t *b, int64_t o, int64_t m) {
  if (m > 128) {
    while (o & 7) {
      b[o >> 3] |= (uint8_t)(1u << (o & 7));
      o++;
      m--;
    }
    memset(b + (o >> 3), 0xff, (size_t)(m >> 3));
    o += m & ~(int64_t)7;
    m &= 7;
  }
  while (m > 0) {
    int sh = (int)(o & 7);
    int64_t take = m < 56 ? m : 56;
    uint64_t x, mask = (((uint64_t)1 << take) - 1) << sh;
    memcpy(&x, b + (o >> 3), 8);
    x |= mask;
    memcpy(b + (o >> 3), &x, 8);
    o += take;
    m -= take;
  }
}

/*
** Fast path for flat optional columns (max_def == 1): the RLE/bit-packed
** hybrid stream of 1-bit definition levels IS a validity bitmap, run by run.
** Writes n bits at bit s0 of vb (pre-zeroed); *nn = number of valid slots.
*/
static int def1_to_bits(const uint8_t *p, size_t len, int64_t n, uint8_t *vb, int64_t s0,
                        int64_t *nn, st_error *err) {
  const uint8_t *end = p + len;
  int64_t i = 0, cnt = 0;
  while (i < n) {
    uint64_t h = 0;
    int shift = 0;
    for (;;) {
      ST_SAFETY(p < end, err, "definition levels: stream ends after %lld of %lld values",
                (long long)i, (long long)n);
      uint8_t b = *p++;
      h |= (uint64_t)(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
      shift += 7;
      ST_SAFETY(shift < 64, err, "definition levels: bad run header");
    }
    if (h & 1) {
      uint64_t groups = h >> 1;
      ST_SAFETY(groups <= (uint64_t)(end - p), err, "definition levels: bit-packed run past the end");
      int64_t m = (int64_t)groups * 8;
      if (m > n - i) m = n - i;
      cnt += or_bits(vb, s0 + i, p, m);
      p += groups;
      i += m;
    } else {
      uint64_t run = h >> 1;
      ST_SAFETY(p < end, err, "definition levels: RLE run past the end");
      uint8_t v = *p++;
      ST_SAFETY(v <= 1, err, "definition level %d above the maximum 1", v);
      int64_t m = run > (uint64_t)(n - i) ? n - i : (int64_t)run;
      if (v) {
        set_bits(vb, s0 + i, m);
        cnt += m;
      }
      i += m;
    }
  }
  *nn = cnt;
  return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                     */

static int read_indices(st_pq_colctx *c, const uint8_t *p, size_t len, int64_t nn,
                        uint32_t **out, st_error *err) {
  ST_SAFETY(c->dict_n >= 0, err, "dictionary-encoded page but the column chunk has no dictionary page");
  ST_TRY(reserve_abs(&c->idx, (size_t)nn * 4, err));
  *out = (uint32_t *)(void *)c->idx.data;
  if (nn == 0) return ST_OK;
  ST_SAFETY(len >= 1, err, "dictionary indices: empty data");
  int bw = p[0];
  ST_SAFETY(bw <= 32, err, "dictionary indices: bit width %d", bw);
  return st_rle_decode_u32(p + 1, len - 1, bw, *out, nn, err);
}

typedef struct bin_target {
  int32_t *offs;  /* offs[0] = current end, decoders write offs[1..n] */
  st_buf *bytes;
} bin_target;

/* Decode n BYTE_ARRAY values (any encoding but dictionary) into t. */
static int decode_binary_nodict(int enc, const uint8_t *p, size_t len, int64_t n, bin_target t,
                                st_error *err) {
  size_t used = 0;
  switch (enc) {
  case ST_PQ_ENC_PLAIN:
    return st_plain_decode_byte_array(p, len, n, t.offs, t.bytes, &used, err);
  case ST_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    return st_delta_length_decode(p, len, n, t.offs, t.bytes, &used, err);
  case ST_PQ_ENC_DELTA_BYTE_ARRAY:
    return st_delta_byte_array_decode(p, len, n, t.offs, t.bytes, &used, err);
  default:
    return st_fail(err, ST_ERR_UNSUPPORTED, "encoding %s not supported for BYTE_ARRAY",
                   enc_name(enc));
  }
}

/* Decode n fixed-width values (physical pw) into raw scratch or directly into out. */
static int decode_fixed(st_pq_colctx *c, const st_pq_leafspec *spec, int enc, const uint8_t *p,
                        size_t len, int64_t n, uint8_t *out, st_error *err) {
  int pw = spec->pw;
  if (n == 0) return ST_OK;
  if (spec->conv == ST_CV_DEC_BE_VAR) {
    ST_TRY(reserve_abs(&c->soff, (size_t)(n + 1) * 4, err));
    int32_t *so = (int32_t *)(void *)c->soff.data;
    so[0] = 0;
    c->sbytes.len = 0;
    ST_TRY(decode_binary_nodict(enc, p, len, n, (bin_target){so, &c->sbytes}, err));
    return convert_var_decimal(spec, so, c->sbytes.data, n, out, err);
  }
  bool direct = spec->conv == ST_CV_COPY;
  uint8_t *raw = out;
  if (!direct) {
    ST_TRY(reserve_abs(&c->raw, (size_t)n * (size_t)pw, err));
    raw = c->raw.data;
  }
  switch (enc) {
  case ST_PQ_ENC_PLAIN: {
    ST_SAFETY((uint64_t)n * (uint64_t)pw <= len, err, "PLAIN: %lld values of %d bytes need %llu bytes, page has %zu",
              (long long)n, pw, (unsigned long long)((uint64_t)n * (uint64_t)pw), len);
    return convert_fixed(spec, p, n, out, err);
  }
  case ST_PQ_ENC_BYTE_STREAM_SPLIT:
    ST_TRY(st_bss_decode(p, len, pw, n, raw, err));
    break;
  case ST_PQ_ENC_DELTA_BINARY_PACKED: {
    size_t used;
    if (spec->phys == ST_PQ_INT32)
      ST_TRY(st_delta_decode_i32(p, len, n, (int32_t *)(void *)raw, &used, err));
    else if (spec->phys == ST_PQ_INT64)
      ST_TRY(st_delta_decode_i64(p, len, n, (int64_t *)(void *)raw, &used, err));
    else
      return st_fail(err, ST_ERR_CORRUPT, "DELTA_BINARY_PACKED used for %s", phys_name(spec->phys));
    break;
  }
  case ST_PQ_ENC_DELTA_BYTE_ARRAY:
  case ST_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: {
    ST_SAFETY(spec->phys == ST_PQ_FIXED_LEN_BYTE_ARRAY, err, "%s used for %s", enc_name(enc),
              phys_name(spec->phys));
    ST_TRY(reserve_abs(&c->soff, (size_t)(n + 1) * 4, err));
    int32_t *so = (int32_t *)(void *)c->soff.data;
    so[0] = 0;
    c->sbytes.len = 0;
    ST_TRY(decode_binary_nodict(enc, p, len, n, (bin_target){so, &c->sbytes}, err));
    ST_SAFETY(c->sbytes.len == (size_t)n * (size_t)pw, err, "%s: values are not %d bytes long",
              enc_name(enc), pw);
    for (int64_t i = 0; i < n; i++)
      ST_SAFETY(so[i + 1] - so[i] == pw, err, "%s: value %lld is %d bytes, expected %d", enc_name(enc),
                (long long)i, (int)(so[i + 1] - so[i]), pw);
    memcpy(raw, c->sbytes.data, (size_t)n * (size_t)pw);
    break;
  }
  default:
    return st_fail(err, ST_ERR_UNSUPPORTED, "encoding %s not supported for %s", enc_name(enc),
                   phys_name(spec->phys));
  }
  if (!direct) return convert_fixed(spec, raw, n, out, err);
  return ST_OK;
}

/*
** Materialise dictionary strings: offsets/bytes of idx[0..n) appended to t.
** Pass 1 checks the indices and sizes the output; pass 2 copies, moving 32
** bytes at once for short values (the dictionary and output buffers
** are st_buf blocks, padded by ST_PAD = 64 bytes, and the output reserves 32
** extra, so the over-read/over-write stays inside the allocations).
*/
static int gather_binary(const uint32_t *idx, int64_t n, const st_buf *dict_offs,
                         const st_buf *dict, uint32_t dn, bin_target t, st_error *err) {
  if (n == 0) return ST_OK;
  ST_SAFETY(dn > 0 && dict->data, err, "dictionary index into an empty dictionary");
  const int32_t *doff = (const int32_t *)(const void *)dict_offs->data;
  uint64_t total = 0;
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t k = idx[i];
    bad |= (uint32_t)(k >= dn);
    k = k < dn ? k : 0;
    total += (uint64_t)(uint32_t)(doff[k + 1] - doff[k]);
  }
  ST_SAFETY(!bad, err, "dictionary index out of range (dictionary has %u entries)", dn);
  st_buf *bytes = t.bytes;
  ST_CHECK((uint64_t)bytes->len + total <= INT32_MAX, err, ST_ERR_LIMIT,
           "string data over 2 GiB in one column");
  ST_TRY(st_buf_reserve(bytes, (size_t)total + 32, err));
  uint8_t *b = bytes->data;
  const uint8_t *db = dict->data;
  size_t pos = bytes->len;
  int32_t *o = t.offs;
  for (int64_t i = 0; i < n; i++) {
    uint32_t k = idx[i];
    int32_t a = doff[k];
    size_t l = (size_t)(doff[k + 1] - a);
    if (ST_LIKELY(l <= 32)) {   /* one predictable branch: always move 32 bytes */
      memcpy(b + pos, db + a, 16);
      memcpy(b + pos + 16, db + a + 16, 16);
    } else {
      memcpy(b + pos, db + a, l);
    }
    pos += l;
    o[i + 1] = (int32_t)pos;
  }
  bytes->len = pos;
  return ST_OK;
}

/* Longest entry of the chunk's binary dictionary, stored after its offsets. */
static inline int32_t dict_maxlen(const st_pq_colctx *c) {
  return ((const int32_t *)(const void *)c->dict_offs.data)[c->dict_n + 1];
}

/* 32-byte move between padded st_buf blocks (see gather_binary_rle). */
static inline void mov32(uint8_t *dst, const uint8_t *src) {
  memcpy(dst, src, 16);
  memcpy(dst + 16, src + 16, 16);
}

#define IDX_CHUNK 1024

/*
** Nonzero when some x[j] >= dn (1 <= dn <= INT32_MAX).  For x < 2^31,
** dn - 1 - x is negative exactly when x >= dn; x >= 2^31 has its own sign
** bit set.  So one OR-reduction of sign bits checks a whole chunk; the
** 8-lane body is vectorised by gcc at -O2.
*/
static inline uint32_t idx_out_of_range(const uint32_t *x, int64_t c, uint32_t dn) {
  const uint32_t d1 = dn - 1;
  uint32_t acc[8] = {0}, r = 0;
  int64_t j = 0;
  for (; j + 8 <= c; j += 8)
    for (int u = 0; u < 8; u++) acc[u] |= (d1 - x[j + u]) | x[j + u];
  for (; j < c; j++) r |= (d1 - x[j]) | x[j];
  for (int u = 0; u < 8; u++) r |= acc[u];
  return r >> 31;
}

/* Largest of x[0..c) (error messages only). */
static uint32_t idx_max(const uint32_t *x, int64_t c) {
  uint32_t m = 0;
  for (int64_t j = 0; j < c; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/*
** Fused dictionary-string decode for dictionaries whose entries are all at
** most 32 bytes: the RLE/bit-packed index stream at p (1-byte bit width
** prefix) is walked run by run; bit-packed runs are unpacked IDX_CHUNK
** indices at a time into a stack buffer (one vectorised max check per
** chunk), RLE runs repeat one entry.  Every value is one fixed 32-byte move,
** then the output position advances by its true length: no per-value branch
** and no pass to size the output.  Room is ensured per chunk/run (chunk
** values x longest entry + 32 bytes), so the buffer grows only when the
** chunk's pre-sized estimate (read_dict_page) was short; the caller checked
** that n x longest entry keeps the end offset within int32.  Reads of a dictionary entry may run up to 32 bytes past
** the dictionary's end: c->dict is an st_buf, padded by ST_PAD = 64 bytes.
*/
static int gather_binary_rle(const uint8_t *p, size_t len, int64_t n, const int32_t *doff,
                             const uint8_t *db, uint32_t dn, size_t ml, bin_target t,
                             st_error *err) {
  const int w = p[0];
  ST_SAFETY(w <= 32, err, "dictionary indices: bit width %d", w);
  const uint8_t *q = p + 1, *end = p + len;
  uint8_t *b = t.bytes->data;
  size_t pos = t.bytes->len;
  int32_t *o = t.offs + 1;
  int64_t i = 0;
  while (i < n) {
    int64_t left = n - i;
    st_rle_run run;
    if (q >= end && w == 0) { /* no bytes needed: all indices are 0 */
      run = (st_rle_run){.count = left};
    } else {
      ST_SAFETY(q < end, err, "RLE: input ended after %lld of %lld values", (long long)i,
                (long long)n);
      ST_TRY(st_rle_next_run(&q, p, end, w, left, &run, err));
    }
    if (run.count == 0) continue;
    if (run.packed) {
      const uint8_t *r = run.bits;
      size_t ra = run.avail;
      int64_t k = run.count;
      while (k > 0) {
        uint32_t tmp[IDX_CHUNK];
        int64_t c = k < IDX_CHUNK ? k : IDX_CHUNK;
        st_unpack_u32(r, ra, w, tmp, c);
        if (ST_UNLIKELY(idx_out_of_range(tmp, c, dn)))
          return st_fail(err, ST_ERR_CORRUPT,
                         "dictionary index %u out of range (dictionary has %u entries)",
                         idx_max(tmp, c), dn);
        if (ST_UNLIKELY(pos + (size_t)c * ml + 32 > t.bytes->cap)) {
          t.bytes->len = pos;
          ST_TRY(st_buf_reserve(t.bytes, (size_t)c * ml + 32, err));
          b = t.bytes->data;
        }
        int32_t *oo = o + i;
#pragma GCC unroll 4
        for (int64_t j = 0; j < c; j++) {
          uint32_t x = tmp[j];
          int32_t a = doff[x];
          mov32(b + pos, db + a);
          pos += (size_t)(uint32_t)(doff[x + 1] - a);
          oo[j] = (int32_t)pos;
        }
        size_t adv = (size_t)c * (size_t)w / 8; /* c is a multiple of 8 unless last */
        adv = adv < ra ? adv : ra;
        r += adv;
        ra -= adv;
        i += c;
        k -= c;
      }
    } else {
      uint32_t v = run.value;
      ST_SAFETY(v < dn, err, "dictionary index %u out of range (dictionary has %u entries)", v, dn);
      int64_t k = run.count;
      const uint8_t *src = db + doff[v];
      size_t l = (size_t)(uint32_t)(doff[v + 1] - doff[v]);
      if (pos + (size_t)k * l + 32 > t.bytes->cap) {
        t.bytes->len = pos;
        ST_TRY(st_buf_reserve(t.bytes, (size_t)k * l + 32, err));
        b = t.bytes->data;
      }
      int32_t *oo = o + i;
      for (int64_t j = 0; j < k; j++) {
        mov32(b + pos, src);
        pos += l;
        oo[j] = (int32_t)pos;
      }
      i += k;
    }
  }
  t.bytes->len = pos;
  return ST_OK;
}

static bool is_dict_enc(int enc) {
  return enc == ST_PQ_ENC_PLAIN_DICTIONARY || enc == ST_PQ_ENC_RLE_DICTIONARY;
}

/* Decode nn dense values of a data page at slot s0 of d. */
static int decode_values(st_pq_colctx *c, const st_pq_leafspec *spec, st_pq_leafdata *d, int enc,
                         const uint8_t *p, size_t len, int64_t nn, int64_t s0, st_error *err) {
  switch (spec->conv) {
  case ST_CV_NULL:
    return ST_OK;   /* all slots are null; values (if any) are ignored */
  case ST_CV_BOOL: {
    size_t used;
    if (enc == ST_PQ_ENC_PLAIN) return st_plain_decode_bool(p, len, nn, d->values.data, s0, &used, err);
    if (enc == ST_PQ_ENC_RLE) {
      if (nn == 0) return ST_OK;
      ST_SAFETY(len >= 4, err, "RLE booleans: missing length prefix");
      uint32_t l = rd_le32(p);
      ST_SAFETY(l <= len - 4, err, "RLE booleans: length %u exceeds page", l);
      return st_rle_decode_bits(p + 4, l, d->values.data, s0, nn, err);
    }
    if (is_dict_enc(enc)) {
      uint32_t *idx;
      ST_TRY(read_indices(c, p, len, nn, &idx, err));
      ST_TRY(reserve_abs(&c->raw, (size_t)nn, err));
      ST_TRY(st_dict_gather_fixed(idx, nn, c->dict.data, (uint32_t)c->dict_n, 1, c->raw.data, err));
      for (int64_t i = 0; i < nn; i++) {
        int64_t b = s0 + i;
        if (c->raw.data[i]) d->values.data[b >> 3] |= (uint8_t)(1u << (b & 7));
        else d->values.data[b >> 3] &= (uint8_t) ~(1u << (b & 7));
      }
      return ST_OK;
    }
    return st_fail(err, ST_ERR_UNSUPPORTED, "encoding %s not supported for BOOLEAN", enc_name(enc));
  }
  case ST_CV_BINARY:
  case ST_CV_FLBA_BIN: {
    if (spec->dict_out) {
      int32_t *ix = (int32_t *)(void *)d->values.data + s0;
      if (is_dict_enc(enc)) {
        uint32_t *idx;
        ST_TRY(read_indices(c, p, len, nn, &idx, err));
        uint32_t dn = (uint32_t)c->dict_n;
        int32_t base = (int32_t)c->dict_base;
        uint32_t bad = 0;
        for (int64_t i = 0; i < nn; i++) {
          bad |= (uint32_t)(idx[i] >= dn);
          ix[i] = base + (int32_t)idx[i];
        }
        ST_SAFETY(!bad, err, "dictionary index out of range (dictionary has %u entries)", dn);
        return ST_OK;
      }
      /* Values of a non-dictionary page are appended to the dictionary. */
      ST_CHECK(d->dict_n + nn < INT32_MAX, err, ST_ERR_LIMIT, "dictionary too large");
      ST_TRY(reserve_abs(&d->dict_off, (size_t)(d->dict_n + nn + 1) * 4, err));
      int32_t *doff = (int32_t *)(void *)d->dict_off.data + d->dict_n;
      if (spec->conv == ST_CV_FLBA_BIN)
        return st_fail(err, ST_ERR_UNSUPPORTED, "internal: dictionary output for FLBA");
      ST_TRY(decode_binary_nodict(enc, p, len, nn, (bin_target){doff, &d->dict_bytes}, err));
      for (int64_t i = 0; i < nn; i++) ix[i] = (int32_t)(d->dict_n + i);
      d->dict_n += nn;
      return ST_OK;
    }
    bin_target t = {(int32_t *)(void *)d->values.data + s0, &d->bytes};
    if (is_dict_enc(enc) && nn > 0 && c->dict_n > 0 && len >= 1) {
      int32_t ml = dict_maxlen(c);
      uint64_t worst = (uint64_t)nn * (uint64_t)ml;
      if (ml <= 32 && (uint64_t)d->bytes.len + worst <= INT32_MAX)
        return gather_binary_rle(p, len, nn, (const int32_t *)(const void *)c->dict_offs.data,
                                 c->dict.data, (uint32_t)c->dict_n, (size_t)ml, t, err);
    }
    if (is_dict_enc(enc)) {
      uint32_t *idx;
      ST_TRY(read_indices(c, p, len, nn, &idx, err));
      if (nn == 0) return ST_OK;
      return gather_binary(idx, nn, &c->dict_offs, &c->dict, (uint32_t)c->dict_n, t, err);
    }
    if (spec->conv == ST_CV_FLBA_BIN) {
      int pw = spec->pw;
      ST_TRY(reserve_abs(&c->raw, (size_t)nn * (size_t)pw, err));
      st_pq_leafspec s2 = *spec;
      s2.conv = ST_CV_COPY;
      ST_TRY(decode_fixed(c, &s2, enc, p, len, nn, c->raw.data, err));
      ST_TRY(st_buf_append(t.bytes, c->raw.data, (size_t)nn * (size_t)pw, err));
      ST_CHECK(t.bytes->len <= INT32_MAX, err, ST_ERR_LIMIT, "string data over 2 GiB");
      for (int64_t i = 0; i < nn; i++) t.offs[i + 1] = t.offs[i] + pw;
      return ST_OK;
    }
    return decode_binary_nodict(enc, p, len, nn, t, err);
  }
  default: {
    uint8_t *out = d->values.data + s0 * spec->ow;
    if (is_dict_enc(enc)) {
      ST_SAFETY(c->dict_n >= 0, err,
                "dictionary-encoded page but the column chunk has no dictionary page");
      if (nn == 0) return ST_OK;
      ST_SAFETY(len >= 1 && p[0] <= 32, err, "dictionary indices: bad bit width");
      return st_dict_decode_fixed(p + 1, len - 1, p[0], c->dict_fixed ? c->dict_fixed : c->dict.data,
                                  (uint32_t)c->dict_n,
                                  spec->ow, out, nn, err);
    }
    return decode_fixed(c, spec, enc, p, len, nn, out, err);
  }
  }
}

/* ------------------------------------------------------------------------ */
/* Pages                                                                      */

/* Decompress (or not) a body into a contiguous buffer of out_len bytes. */
static int page_bytes(st_pq_colctx *c, int codec, const uint8_t *in, size_t in_len, size_t out_len,
                      const uint8_t **out, size_t *out_n, st_error *err) {
  if (codec == ST_CODEC_UNCOMPRESSED) {
    *out = in;
    *out_n = in_len;
    return ST_OK;
  }
  if (codec == ST_CODEC_SNAPPY) {   /* one literal (incompressible): used in place */
    const uint8_t *lit = st_snappy_single_literal(in, in_len, out_len);
    if (lit) {
      *out = lit;
      *out_n = out_len;
      return ST_OK;
    }
  }
  ST_TRY(cap_check(out_len, c->max_alloc, "page", err));
  ST_TRY(reserve_abs(&c->page, out_len, err));
  ST_TRY(st_codec_decompress(codec, in, in_len, c->page.data, out_len, err));
  *out = c->page.data;
  *out_n = out_len;
  return ST_OK;
}

static int read_dict_page(st_pq_colctx *c, const st_pq_leafspec *spec, st_pq_leafdata *d,
                          const st_pq_page_header *h, int codec, const uint8_t *body, size_t blen,
                          st_error *err) {
  ST_SAFETY(c->dict_n < 0, err, "second dictionary page in the column chunk");
  ST_CHECK(h->encoding == ST_PQ_ENC_PLAIN || h->encoding == ST_PQ_ENC_PLAIN_DICTIONARY, err,
           ST_ERR_UNSUPPORTED, "dictionary page encoding %s not supported", enc_name(h->encoding));
  int64_t nd = h->num_values;
  ST_SAFETY(nd >= 0 && nd < INT32_MAX, err, "dictionary page: bad num_values %lld", (long long)nd);
  c->dict_fixed = NULL;
  if (codec == ST_CODEC_SNAPPY && spec->conv == ST_CV_COPY && (spec->ow == 4 || spec->ow == 8) &&
      spec->pw == spec->ow && (uint64_t)nd * (uint64_t)spec->ow <= (uint64_t)h->uncompressed_page_size &&
      (uint64_t)h->uncompressed_page_size <= c->max_alloc) {
    size_t us = (size_t)h->uncompressed_page_size;
    bool parsed = !st_snappy_view_parse(&c->dview, body, blen) && c->dview.ulen == (uint64_t)us;
    /* incompressible values (e.g. distinct doubles) are one literal: used in place */
    if (parsed && c->dview.n == 1 && c->dview.el[0].lit) c->dict_fixed = body + c->dview.el[0].src;
    if (c->sel && !spec->keep_levels && spec->max_rep == 0) {
      if (parsed) c->dict_lazy = 1;
      else if (!reserve_abs(&c->dict, us + 64, err) &&
               !st_snappy_stream_init(&c->dstream, body, blen, c->dict.data, (uint64_t)c->dict.cap) &&
               c->dstream.ulen == (uint64_t)us)
        c->dict_lazy = 2;
    } else if (c->dict_fixed) {
      c->dict_n = nd;
      return ST_OK;
    }
  }
  if (c->dict_lazy) {       /* values resolved on demand (lazy_values) */
    c->dict_body = body;
    c->dict_blen = blen;
    c->dict_usize = (size_t)h->uncompressed_page_size;
    c->dict_codec = codec;
    c->dict_n = nd;
    return ST_OK;
  }
  const uint8_t *p;
  size_t len;
  ST_TRY(page_bytes(c, codec, body, blen, (size_t)h->uncompressed_page_size, &p, &len, err));
  /* Every PLAIN value takes at least one byte (BOOLEAN: one bit). */
  ST_SAFETY(spec->conv == ST_CV_BOOL ? (uint64_t)nd <= (uint64_t)len * 8 : (uint64_t)nd <= len, err,
            "dictionary page: %lld values cannot fit in %zu bytes", (long long)nd, len);
  c->dict.len = 0;
  ST_TRY(reserve_abs(&c->dict, 64, err));   /* never NULL, even when empty */
  switch (spec->conv) {
  case ST_CV_NULL:
    break;
  case ST_CV_BOOL: {
    ST_TRY(reserve_abs(&c->raw, (size_t)(nd + 7) / 8 + 8, err));
    memset(c->raw.data, 0, (size_t)(nd + 7) / 8 + 8);
    size_t used;
    ST_TRY(st_plain_decode_bool(p, len, nd, c->raw.data, 0, &used, err));
    ST_TRY(reserve_abs(&c->dict, (size_t)nd, err));
    for (int64_t i = 0; i < nd; i++) c->dict.data[i] = BIT(c->raw.data, i);
    break;
  }
  case ST_CV_BINARY:
  case ST_CV_FLBA_BIN:
    if (spec->dict_out) {
      ST_CHECK(d->dict_n + nd < INT32_MAX, err, ST_ERR_LIMIT, "dictionary too large");
      ST_TRY(reserve_abs(&d->dict_off, (size_t)(d->dict_n + nd + 1) * 4, err));
      int32_t *doff = (int32_t *)(void *)d->dict_off.data + d->dict_n;
      ST_TRY(decode_binary_nodict(ST_PQ_ENC_PLAIN, p, len, nd, (bin_target){doff, &d->dict_bytes},
                                  err));
      c->dict_base = d->dict_n;
      d->dict_n += nd;
      break;
    }
    ST_TRY(reserve_abs(&c->dict_offs, (size_t)(nd + 2) * 4, err));
    ((int32_t *)(void *)c->dict_offs.data)[0] = 0;
    if (spec->conv == ST_CV_FLBA_BIN) {
      int pw = spec->pw;
      ST_SAFETY((uint64_t)nd * (uint64_t)pw <= len, err, "dictionary page too short");
      ST_TRY(st_buf_append(&c->dict, p, (size_t)nd * (size_t)pw, err));
      int32_t *o = (int32_t *)(void *)c->dict_offs.data;
      ST_CHECK((uint64_t)nd * (uint64_t)pw < INT32_MAX, err, ST_ERR_LIMIT, "dictionary too large");
      for (int64_t i = 0; i < nd; i++) o[i + 1] = o[i] + pw;
    } else {
      ST_TRY(decode_binary_nodict(ST_PQ_ENC_PLAIN, p, len, nd,
                                  (bin_target){(int32_t *)(void *)c->dict_offs.data, &c->dict}, err));
    }
    {
      /* [nd + 1] holds the longest entry (see gather_binary_rle) */
      int32_t *o = (int32_t *)(void *)c->dict_offs.data, ml = 0;
      for (int64_t i = 0; i < nd; i++) {
        int32_t l = o[i + 1] - o[i];
        ml = l > ml ? l : ml;
      }
      o[nd + 1] = ml;
    }
    /* Pre-size the output bytes for the chunk (average dictionary entry x
       values left, + 1/64), so gathering pages does not keep regrowing the
       buffer.  Not more: with glibc, blocks over 32 MiB are always fresh
       mmaps, whose page faults cost more than the decode. */
    if (nd > 0 && c->chunk_values > 0) {
      double e = (double)c->dict.len / (double)nd * (double)c->chunk_values;
      uint64_t est = e < (double)INT32_MAX ? (uint64_t)e : (uint64_t)INT32_MAX;
      est += est / 64 + 1024;
      if (est < c->max_alloc / 2 && est < INT32_MAX) {
        ST_TRY(st_buf_reserve(&d->bytes, (size_t)est, err));   /* len is exact here */
      }
    }
    break;
  default:
    ST_TRY(cap_check((uint64_t)nd * (uint64_t)spec->ow, c->max_alloc, "dictionary", err));
    ST_TRY(reserve_abs(&c->dict, (size_t)nd * (size_t)spec->ow, err));
    ST_TRY(decode_fixed(c, spec, ST_PQ_ENC_PLAIN, p, len, nd, c->dict.data, err));
    break;
  }
  c->dict_n = nd;
  return ST_OK;
}

/* A lazy dictionary decompressed after all (straight into c->dict: the
   current data page may live in c->page). */
static int dict_materialise(st_pq_colctx *c, const st_pq_leafspec *spec, st_error *err) {
  c->dict_lazy = 0;
  c->dict_fixed = NULL;
  ST_TRY(cap_check(c->dict_usize, c->max_alloc, "dictionary", err));
  ST_TRY(reserve_abs(&c->dict, c->dict_usize > 64 ? c->dict_usize : 64, err));
  return st_codec_decompress(c->dict_codec, c->dict_body, c->dict_blen, c->dict.data, c->dict_usize, err);
}

/*
** Lazy dictionary, dictionary-encoded page of a flat column (slot = row):
** the values of the selected slots in [s0, s0 + ns) are stored at their
** slots (null ones zeroed).  The dense rank of a slot is the count of valid
** slots before it in the page; only the indices at those ranks are read
** (st_rle_gather_u32), then the values through the view, or from the
** stream decoded as far as the largest index.  Returns -1 when the
** view/stream cannot resolve a value (the caller decompresses instead).
*/
static int lazy_values(st_pq_colctx *c, const st_pq_leafspec *spec, st_pq_leafdata *d, const uint8_t *p,
                       size_t len, int64_t nn, int64_t s0, int64_t ns, st_error *err) {
  ST_SAFETY(c->dict_n >= 0, err, "dictionary-encoded page but the column chunk has no dictionary page");
  const int ow = spec->ow;
  const uint32_t dn = (uint32_t)c->dict_n;
  /* validity matters only when the page has nulls (nn < ns) */
  const uint8_t *vb = spec->max_def > 0 && nn < ns ? d->valid.data : NULL;
  int64_t q = c->sel_pos, s = s0, j = 0;
  while (q < c->nsel && c->sel[q] < s0) q++;
  int64_t q0 = q, q1 = q;
  while (q1 < c->nsel && c->sel[q1] < s0 + ns) q1++;
  c->sel_pos = q1;
  if (q1 == q0) return ST_OK;
  /* pass 1: dense ranks of the valid selected slots (nulls zeroed) */
  ST_TRY(reserve_abs(&c->raw, (size_t)(q1 - q0) * 8, err));
  ST_TRY(reserve_abs(&c->idx, (size_t)(q1 - q0) * 4, err));
  int64_t *rk = (int64_t *)(void *)c->raw.data;
  uint32_t *ix = (uint32_t *)(void *)c->idx.data;
  int64_t m = 0;
  for (q = q0; q < q1; q++) {
    int64_t row = c->sel[q];
    if (vb) {
      for (; s < row && (s & 7); s++) j += BIT(vb, s);
      for (; s + 8 <= row; s += 8) j += popcount64(vb[s >> 3]);
      for (; s < row; s++) j += BIT(vb, s);
      if (!BIT(vb, row)) { memset(d->values.data + row * ow, 0, (size_t)ow); continue; }
    } else {
      j = row - s0;
    }
    ST_SAFETY(j < nn, err, "dictionary indices: slot %lld past the page's values", (long long)(row - s0));
    rk[m++] = j;
  }
  if (!m) return ST_OK;
  /* their dictionary indices, read from the hybrid stream without unpacking it */
  ST_SAFETY(len >= 1 && p[0] <= 32, err, "dictionary indices: bad bit width");
  ST_TRY(st_rle_gather_u32(p + 1, len - 1, p[0], nn, rk, m, ix, err));
  uint32_t xmax = 0;
  for (int64_t k = 0; k < m; k++) {
    ST_SAFETY(ix[k] < dn, err, "dictionary index %u out of range (dictionary has %u entries)", ix[k], dn);
    xmax = ix[k] > xmax ? ix[k] : xmax;
  }
  if (c->dict_lazy == 2 && st_snappy_stream_upto(&c->dstream, ((uint64_t)xmax + 1) * (uint64_t)ow)) return -1;
  /* pass 2: the values */
  int64_t k = 0;
  for (q = q0; q < q1; q++) {
    int64_t row = c->sel[q];
    if (vb && !BIT(vb, row)) continue;
    uint8_t *o = d->values.data + row * ow;
    uint32_t x = ix[k++];
    const uint8_t *src = c->dict_lazy == 2 ? c->dict.data : c->dict_fixed;
    if (src) {   /* 4 or 8 bytes (read_dict_page): fixed-size moves */
      if (ow == 8) memcpy(o, src + (size_t)x * 8, 8);
      else memcpy(o, src + (size_t)x * 4, 4);
    } else if (st_snappy_view_get(&c->dview, (uint64_t)x * (uint64_t)ow, (size_t)ow, o)) {
      return -1;
    }
  }
  return ST_OK;
}

static int read_data_page(st_pq_colctx *c, const st_pq_leafspec *spec, st_pq_leafdata *d,
                          const st_pq_page_header *h, int codec, const uint8_t *body, size_t blen,
                          int64_t remaining, int64_t *rows, st_error *err) {
  int64_t n = h->num_values;
  ST_SAFETY(n >= 0 && n <= remaining, err,
            "page has %lld values but only %lld remain in the column chunk", (long long)n,
            (long long)remaining);
  if (spec->max_def > 0) zero_bits(&d->valid, d->n_slots + n);
  if (spec->conv == ST_CV_BOOL) zero_bits(&d->values, d->n_slots + n);
  const uint8_t *p;   /* values */
  size_t plen;
  int16_t *dl = NULL, *rl = NULL;
  /* flat optional column: 1-bit def levels decoded directly to validity */
  bool fast1 = !spec->keep_levels && spec->max_def == 1 && spec->max_rep == 0;
  int64_t fast_nn = 0;
  if (spec->keep_levels) {
    if (spec->max_def > 0) dl = (int16_t *)(void *)d->def.data + d->n_levels;
    if (spec->max_rep > 0) rl = (int16_t *)(void *)d->rep.data + d->n_levels;
  } else if (fast1) {
    /* levels go straight into the validity bitmap */
  } else {
    if (spec->max_def > 0) {
      ST_TRY(reserve_abs(&c->lev_d, (size_t)n * 2, err));
      dl = (int16_t *)(void *)c->lev_d.data;
    }
    if (spec->max_rep > 0) {
      ST_TRY(reserve_abs(&c->lev_r, (size_t)n * 2, err));
      rl = (int16_t *)(void *)c->lev_r.data;
    }
  }
  /* PLAIN values that need no conversion can be decompressed straight into
     the output (dense at the page's first slot, spread afterwards). */
  bool direct = spec->conv == ST_CV_COPY && !spec->dict_out && h->encoding == ST_PQ_ENC_PLAIN &&
                codec != ST_CODEC_UNCOMPRESSED;
  bool values_done = false;
  int64_t fwd_shift = 0;       /* > 0: dense values sit that many slots in (spread forwards) */
  const uint8_t *vin = NULL;   /* v2: compressed values still to decompress */
  size_t vlen = 0;
  int64_t vout = 0;
  if (h->type == ST_PQ_DATA_PAGE && direct && spec->max_def == 0 && spec->max_rep == 0 &&
      (uint64_t)h->uncompressed_page_size == (uint64_t)n * (uint64_t)spec->pw) {
    ST_TRY(st_codec_decompress(codec, body, blen, d->values.data + d->n_slots * spec->ow,
                               (size_t)h->uncompressed_page_size, err));
    values_done = true;
    p = NULL;
    plen = 0;
  } else if (h->type == ST_PQ_DATA_PAGE && direct && fast1 &&
             h->def_level_encoding == ST_PQ_ENC_RLE && (spec->ow == 4 || spec->ow == 8) &&
             (uint64_t)h->uncompressed_page_size >= (uint64_t)n * (uint64_t)spec->ow + 4 &&
             (uint64_t)h->uncompressed_page_size - (uint64_t)n * (uint64_t)spec->ow <=
                 (uint64_t)d->n_slots * (uint64_t)spec->ow) {
    /*
    ** v1 page of a flat optional column, PLAIN values needing no conversion:
    ** decompress the whole page [def levels][nn values] so that it ENDS at
    ** the end of the page's slots, i.e. starts lmin = usize - n*ow bytes
    ** before slot s0 (inside the previous pages' values, saved first and
    ** restored after the levels are decoded).  When the values section is
    ** exactly nn values they then sit at slots [n - nn, n) and are spread
    ** forwards; otherwise they are moved to slot s0 (backward spread).
    */
    const int ow = spec->ow;
    const size_t usize = (size_t)h->uncompressed_page_size;
    const size_t lmin = usize - (size_t)n * (size_t)ow;
    uint8_t *out0 = d->values.data + d->n_slots * ow, *dest = out0 - lmin;
    ST_TRY(reserve_abs(&c->raw, lmin, err));
    memcpy(c->raw.data, dest, lmin);
    int rc1 = st_codec_decompress(codec, body, blen, dest, usize, err);
    uint32_t l = 0;
    if (!rc1 && rd_le32(dest) > usize - 4)
      rc1 = st_fail(err, ST_ERR_CORRUPT, "levels: length %u exceeds page (%zu bytes left)",
                    rd_le32(dest), usize - 4);
    if (!rc1) {
      l = rd_le32(dest);
      rc1 = def1_to_bits(dest + 4, l, n, d->valid.data, d->n_slots, &fast_nn, err);
    }
    size_t vlen1 = usize - 4 - (size_t)l;
    if (!rc1 && (uint64_t)fast_nn * (uint64_t)ow > vlen1)
      rc1 = st_fail(err, ST_ERR_CORRUPT,
                    "PLAIN: %lld values of %d bytes need %llu bytes, page has %zu",
                    (long long)fast_nn, ow, (unsigned long long)fast_nn * (unsigned long long)ow,
                    vlen1);
    if (!rc1) {
      uint8_t *at = dest + 4 + l;
      if (at == out0 + (n - fast_nn) * ow) fwd_shift = n - fast_nn;
      else memmove(out0, at, (size_t)fast_nn * (size_t)ow);
    }
    memcpy(dest, c->raw.data, lmin);   /* restore the previous page's values */
    if (rc1) return rc1;
    values_done = true;
    p = NULL;
    plen = 0;
  } else if (h->type == ST_PQ_DATA_PAGE) {
    const uint8_t *q;
    size_t qlen, used;
    ST_TRY(page_bytes(c, codec, body, blen, (size_t)h->uncompressed_page_size, &q, &qlen, err));
    if (rl) {
      ST_TRY(st_pq_decode_levels_v1(q, qlen, h->rep_level_encoding, spec->max_rep, rl, n, &used, err));
      q += used;
      qlen -= used;
    }
    if (fast1 && h->def_level_encoding == ST_PQ_ENC_RLE) {
      ST_SAFETY(qlen >= 4, err, "levels: missing length prefix");
      uint32_t l = rd_le32(q);
      ST_SAFETY(l <= qlen - 4, err, "levels: length %u exceeds page (%zu bytes left)", l, qlen - 4);
      ST_TRY(def1_to_bits(q + 4, l, n, d->valid.data, d->n_slots, &fast_nn, err));
      q += 4 + (size_t)l;
      qlen -= 4 + (size_t)l;
    } else if (fast1) {
      ST_TRY(reserve_abs(&c->lev_d, (size_t)n * 2, err));
      dl = (int16_t *)(void *)c->lev_d.data;
      fast1 = false;
    }
    if (dl) {
      ST_TRY(st_pq_decode_levels_v1(q, qlen, h->def_level_encoding, spec->max_def, dl, n, &used, err));
      q += used;
      qlen -= used;
    }
    p = q;
    plen = qlen;
  } else {
    int64_t rlen = h->rep_levels_byte_length, dlen = h->def_levels_byte_length;
    ST_SAFETY(rlen >= 0 && dlen >= 0 && (uint64_t)rlen + (uint64_t)dlen <= blen, err,
              "v2 page: level lengths %lld + %lld exceed the page body (%zu bytes)",
              (long long)rlen, (long long)dlen, blen);
    ST_SAFETY(h->num_nulls >= 0 && h->num_nulls <= n, err, "v2 page: bad num_nulls %d", (int)h->num_nulls);
    if (rl) ST_TRY(st_rle_decode_i16(body, (size_t)rlen, st_bit_width((uint64_t)spec->max_rep), rl, n, err));
    if (fast1)
      ST_TRY(def1_to_bits(body + rlen, (size_t)dlen, n, d->valid.data, d->n_slots, &fast_nn, err));
    else if (dl)
      ST_TRY(st_rle_decode_i16(body + rlen, (size_t)dlen, st_bit_width((uint64_t)spec->max_def), dl, n,
                               err));
    vin = body + rlen + dlen;
    vlen = blen - (size_t)rlen - (size_t)dlen;
    vout = (int64_t)h->uncompressed_page_size - rlen - dlen;
    ST_SAFETY(vout >= 0, err, "v2 page: uncompressed size %d smaller than its levels",
              (int)h->uncompressed_page_size);
    p = vin;
    plen = vlen;
    if (!h->is_compressed || vlen == 0) vin = NULL;   /* values are stored as is */
  }

  /* Slots and validity. */
  int64_t s0 = d->n_slots, ns, nn;
  if (spec->max_def == 0) {
    ns = nn = n;
  } else if (fast1) {
    ns = n;
    nn = fast_nn;
  } else {
    uint8_t *vb = d->valid.data;
    int16_t md = spec->max_def, rad = spec->rad;
    uint16_t bad = 0;
    nn = 0;
    if (rad == 0) {
      for (int64_t i = 0; i < n; i++) {
        int16_t x = dl[i];
        bad |= (uint16_t)((uint16_t)x > (uint16_t)md);
        int v = x >= md;
        int64_t b = s0 + i;
        vb[b >> 3] |= (uint8_t)(v << (b & 7));
        nn += v;
      }
      ns = n;
    } else {
      ns = 0;
      for (int64_t i = 0; i < n; i++) {   /* branch-free */
        int16_t x = dl[i];
        bad |= (uint16_t)((uint16_t)x > (uint16_t)md);
        int slot = x >= rad;
        int v = slot & (x >= md);
        int64_t b = s0 + ns;
        vb[b >> 3] |= (uint8_t)(v << (b & 7));
        nn += v;
        ns += slot;
      }
    }
    ST_SAFETY(!bad, err, "definition level above the maximum %d", (int)md);
  }
  if (rl) {
    uint16_t bad = 0;
    int64_t r0 = 0;
    int16_t mr = spec->max_rep;
    for (int64_t i = 0; i < n; i++) {
      bad |= (uint16_t)((uint16_t)rl[i] > (uint16_t)mr);
      r0 += rl[i] == 0;
    }
    ST_SAFETY(!bad, err, "repetition level above the maximum %d", (int)mr);
    *rows += r0;
  } else {
    *rows += n;
  }
  if (h->type == ST_PQ_DATA_PAGE_V2 && spec->max_rep == 0 && spec->max_def > 0 && spec->rad == 0)
    ST_SAFETY(h->num_nulls == ns - nn, err, "v2 page: num_nulls %d but definition levels give %lld",
              (int)h->num_nulls, (long long)(ns - nn));

  if (vin) {   /* v2: decompress the values, into the output when possible */
    if (direct && (uint64_t)vout == (uint64_t)nn * (uint64_t)spec->pw && spec->conv != ST_CV_NULL) {
      ST_TRY(st_codec_decompress(codec, vin, vlen, d->values.data + s0 * spec->ow, (size_t)vout, err));
      values_done = true;
    } else {
      ST_TRY(page_bytes(c, codec, vin, vlen, (size_t)vout, &p, &plen, err));
    }
  }
  bool placed = false;   /* lazy dictionary: values already at their slots */
  if (!values_done && c->dict_lazy && is_dict_enc(h->encoding)) {
    int rl2 = lazy_values(c, spec, d, p, plen, nn, s0, ns, err);
    if (rl2 > 0) return rl2;
    if (rl2 == 0) placed = values_done = true;
    else ST_TRY(dict_materialise(c, spec, err));
  }
  if (!values_done) ST_TRY(decode_values(c, spec, d, h->encoding, p, plen, nn, s0, err));
  if (spec->conv == ST_CV_NULL) nn = 0;
  if (nn < ns && spec->conv != ST_CV_NULL && !placed) {
    const uint8_t *vb = d->valid.data;
    if (spec->conv == ST_CV_BOOL) spread_bits(d->values.data, vb, s0, ns, nn);
    else if (spec->dict_out) spread_fixed(d->values.data + s0 * 4, 4, vb, s0, ns, nn);
    else if (spec->conv == ST_CV_BINARY || spec->conv == ST_CV_FLBA_BIN)
      spread_offsets((int32_t *)(void *)d->values.data + s0, vb, s0, ns, nn);
    else if (fwd_shift > 0)
      spread_fixed_fwd(d->values.data + s0 * spec->ow, spec->ow, vb, s0, ns, fwd_shift);
    else spread_fixed(d->values.data + s0 * spec->ow, spec->ow, vb, s0, ns, nn);
  }
  d->n_levels += n;
  d->n_slots += ns;
  d->null_count += ns - nn;
  return ST_OK;
}

int st_pq_chunk_read(st_pq_colctx *c, const st_pq_leafspec *spec, const st_pq_column_chunk *cc,
                     int64_t rg_rows, st_pq_leafdata *d, st_error *err) {
  ST_CHECK(!cc->file_path || c->any_file_path, err, ST_ERR_UNSUPPORTED,
           "column chunk in external file '%s' is not supported", cc->file_path);
  ST_SAFETY(cc->has_meta, err, "column chunk has no metadata");
  const st_pq_column_meta *m = &cc->meta;
  ST_SAFETY(m->type == spec->phys, err, "column chunk type %s differs from the schema's %s",
            phys_name(m->type), phys_name(spec->phys));
  ST_SAFETY(m->num_values >= 0 && m->num_values <= d->cap_levels - d->n_levels, err,
            "column chunk num_values %lld is inconsistent", (long long)m->num_values);
  int64_t start = m->data_page_offset;
  if (m->has_dictionary_page_offset && m->dictionary_page_offset > 0 &&
      m->dictionary_page_offset < start)
    start = m->dictionary_page_offset;
  uint64_t fsz = st_file_size(c->file);
  int64_t tot = m->total_compressed_size;
  ST_SAFETY(start >= 0 && tot >= 0 && (uint64_t)start <= fsz && (uint64_t)tot <= fsz - (uint64_t)start, err,
            "column chunk at offset %lld with %lld bytes lies outside the file (%llu bytes)",
            (long long)start, (long long)tot, (unsigned long long)fsz);
  if (m->num_values == 0) return ST_OK;
  /* Old parquet-mr (PARQUET-816) under-reports total_compressed_size by the
     dictionary page header; like Arrow, allow up to 100 bytes of slack past
     the stated end (only ever read while the chunk still owes values). */
  uint64_t slack = fsz - (uint64_t)start - (uint64_t)tot;
  if (slack > 100) slack = 100;
  tot += (int64_t)slack;
  /* The window also covers [data_page_offset, +total) in case the
     dictionary page offset turns out to be wrong (see below). */
  if (start < m->data_page_offset) {
    uint64_t want = (uint64_t)(m->data_page_offset - start) + (uint64_t)m->total_compressed_size + slack;
    if (want > fsz - (uint64_t)start) want = fsz - (uint64_t)start;
    if (want > (uint64_t)tot) tot = (int64_t)want;
  }
  st_mem *mem = NULL;
  const uint8_t *base = NULL;
  if (st_file_copies(c->file)) {
    /* pread into the context's buffer, reused from chunk to chunk */
    ST_TRY(cap_check((uint64_t)tot, c->max_alloc, "column chunk", err));
    ST_TRY(reserve_abs(&c->io, (size_t)tot, err));
    ST_TRY(st_file_read_into(c->file, (uint64_t)start, (size_t)tot, c->io.data, err));
    base = c->io.data;
  } else {
    ST_TRY(st_file_read(c->file, (uint64_t)start, (size_t)tot, &mem, &base, err));
  }
  c->dict_n = -1;
  c->dict_lazy = 0;
  c->dict_fixed = NULL;
  c->sel_pos = 0;
  c->chunk_values = m->num_values;
  /* Pre-size string data from the chunk's uncompressed size (PLAIN data is
     at most that; dictionary pages refine it in read_dict_page).
     d->bytes / d->dict_bytes keep an exact len, so a regrowth copies only
     the bytes in use. */
  if ((spec->conv == ST_CV_BINARY || spec->conv == ST_CV_FLBA_BIN) &&
      m->total_uncompressed_size > 0) {
    uint64_t est = (uint64_t)m->total_uncompressed_size;
    uint64_t lim = (uint64_t)tot * 64 + (1u << 20);
    if (est > lim) est = lim;
    st_buf *sb = spec->dict_out ? &d->dict_bytes : &d->bytes;
    if (est < c->max_alloc / 2 && est < INT32_MAX) {
      int rc0 = st_buf_reserve(sb, (size_t)est, err);
      if (rc0) {
        st_mem_unref(mem);
        return rc0;
      }
    }
  }
  size_t pos = 0, len = (size_t)tot;
  int64_t done = 0, rows = 0, page_no = 0, lev0 = d->n_levels;
  int rc = ST_OK;
  if (start < m->data_page_offset && (uint64_t)(m->data_page_offset - start) < len) {
    /* dictionary_page_offset is a hint: if no dictionary page header is
       there, start at data_page_offset instead (writers get it wrong). */
    st_pq_page_header h0;
    size_t hl0 = 0;
    memset(&h0, 0, sizeof h0);
    if (st_pq_page_header_decode(base, len, &h0, &hl0, NULL) || h0.type != ST_PQ_DICTIONARY_PAGE)
      pos = (size_t)(m->data_page_offset - start);
  }
  while (done < m->num_values) {
    if (pos >= len) {
      rc = st_fail(err, ST_ERR_CORRUPT, "column chunk ends after %lld of %lld values",
                   (long long)done, (long long)m->num_values);
      break;
    }
    st_pq_page_header h;
    memset(&h, 0, sizeof h);
    size_t hl = 0;
    rc = st_pq_page_header_decode(base + pos, len - pos, &h, &hl, err);
    if (rc) goto page_err;
    pos += hl;
    if (h.compressed_page_size < 0 || (size_t)h.compressed_page_size > len - pos) {
      rc = st_fail(err, ST_ERR_CORRUPT, "compressed page size %d exceeds the column chunk (%zu bytes left)",
                   (int)h.compressed_page_size, len - pos);
      goto page_err;
    }
    if (h.uncompressed_page_size < 0) {
      rc = st_fail(err, ST_ERR_CORRUPT, "negative uncompressed page size");
      goto page_err;
    }
    if ((uint64_t)h.uncompressed_page_size > c->max_alloc) {
      rc = st_fail(err, ST_ERR_LIMIT, "uncompressed page size %d exceeds the allocation limit",
                   (int)h.uncompressed_page_size);
      goto page_err;
    }
    const uint8_t *body = base + pos;
    size_t blen = (size_t)h.compressed_page_size;
    pos += blen;
    if (c->verify_crc && h.has_crc && (h.type == ST_PQ_DATA_PAGE || h.type == ST_PQ_DATA_PAGE_V2 ||
                                       h.type == ST_PQ_DICTIONARY_PAGE)) {
      uint32_t crc = st_crc32(0, body, blen);
      if (crc != h.crc) {
        rc = st_fail(err, ST_ERR_CORRUPT, "page CRC mismatch (header %08x, data %08x)",
                     (unsigned)h.crc, (unsigned)crc);
        goto page_err;
      }
    }
    if (h.type == ST_PQ_DICTIONARY_PAGE) {
      rc = read_dict_page(c, spec, d, &h, m->codec, body, blen, err);
    } else if (h.type == ST_PQ_DATA_PAGE || h.type == ST_PQ_DATA_PAGE_V2) {
      int64_t before = d->n_levels;
      rc = read_data_page(c, spec, d, &h, m->codec, body, blen, m->num_values - done, &rows, err);
      done += d->n_levels - before;
    } /* index pages and unknown page types are skipped */
    if (rc) goto page_err;
    page_no++;
    continue;
  page_err:
    st_error_prefix(err, "page %lld: ", (long long)page_no);
    break;
  }
  st_mem_unref(mem);
  if (rc) return rc;
  if (spec->max_rep > 0 && d->n_levels > lev0 && spec->keep_levels)
    ST_SAFETY(((int16_t *)(void *)d->rep.data)[lev0] == 0, err,
              "first value of the column chunk has repetition level %d",
              ((int16_t *)(void *)d->rep.data)[lev0]);
  ST_SAFETY(rows == rg_rows, err, "column chunk has %lld rows, row group has %lld", (long long)rows,
            (long long)rg_rows);
  return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* Leaf -> st_array                                                           */

static int detach(st_buf *b, st_array *a, int i, st_error *err) {
  st_mem *m = st_buf_detach(b);
  ST_CHECK(m, err, ST_ERR_NOMEM, "out of memory");
  a->mem[i] = m;
  a->buf[i] = m->data;
  return ST_OK;
}

int st_pq_leaf_to_array(const st_pq_leafspec *spec, st_pq_leafdata *d, st_array **out,
                        st_error *err) {
  st_array *a = st_array_new();
  ST_CHECK(a, err, ST_ERR_NOMEM, "out of memory");
  int rc = ST_OK;
  a->length = d->n_slots;
  a->null_count = d->null_count;
  if (spec->conv == ST_CV_NULL) {
    a->null_count = a->length;
    a->n_buffers = 0;
    *out = a;
    return ST_OK;
  }
  if (d->null_count > 0) {
    d->valid.len = (size_t)(d->n_slots + 7) / 8;
    if ((rc = detach(&d->valid, a, 0, err))) goto fail;
  }
  if (spec->dict_out) {
    a->n_buffers = 2;
    d->values.len = (size_t)d->n_slots * 4;
    if ((rc = detach(&d->values, a, 1, err))) goto fail;
    st_array *dict = st_array_new();
    if (!dict) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      goto fail;
    }
    a->dictionary = dict;
    dict->length = d->dict_n;
    dict->null_count = 0;
    dict->n_buffers = 3;
    d->dict_off.len = (size_t)(d->dict_n + 1) * 4;
    if ((rc = detach(&d->dict_off, dict, 1, err))) goto fail;
    if ((rc = detach(&d->dict_bytes, dict, 2, err))) goto fail;
  } else if (spec->conv == ST_CV_BINARY || spec->conv == ST_CV_FLBA_BIN) {
    a->n_buffers = 3;
    d->values.len = (size_t)(d->n_slots + 1) * 4;
    if ((rc = detach(&d->values, a, 1, err))) goto fail;
    if ((rc = detach(&d->bytes, a, 2, err))) goto fail;
  } else {
    a->n_buffers = 2;
    d->values.len = spec->conv == ST_CV_BOOL ? (size_t)(d->n_slots + 7) / 8
                                             : (size_t)d->n_slots * (size_t)spec->ow;
    if ((rc = detach(&d->values, a, 1, err))) goto fail;
  }
  *out = a;
  return ST_OK;
fail:
  st_array_free(a);
  return rc;
}
