/*
** This file implements the encoding helpers of the Parquet writer (see
** writer_int.h): the Thrift structs of footers and page headers, the RLE /
** bit-packed hybrid encoder for levels and dictionary indices, dictionaries
** and column-chunk statistics.
**
** RLE hybrid: values are scanned left to right; a run of >= 8 equal values
** becomes an RLE run (header n<<1, value in ceil(width/8) bytes LE), anything
** else is bit-packed in groups of 8 (LSB first) until the next position where
** a run of 8 equal values starts.  The final group is zero-padded, which
** readers accept because they know the value count.
**
** Dictionary: see st_wr_dict.  Hashes are 32-bit (multiplicative for 4/8-byte
** values, a word-at-a-time mix for others); equality is checked on the bytes.
**
** Statistics follow parquet-format's type-defined orders: signed or unsigned
** integers per the logical type, floats ignoring NaN (min -0.0 and max +0.0
** when the extreme is a zero), byte arrays and plain FLBA as unsigned bytes,
** decimals as signed big-endian numbers, FLOAT16 as half-precision floats.
*/
#include "parquet/writer_int.h"

#include <math.h>
#include <string.h>

/* ---- Thrift structs --------------------------------------------------------- */

static void w_page_count(st_tc_out *o, int type, int enc, int32_t n) {
  st_tc_w_begin(o);
  st_tc_w_i32(o, 1, type);
  st_tc_w_i32(o, 2, enc);
  st_tc_w_i32(o, 3, n);
  st_tc_w_end(o);
}

static void w_column_meta(st_tc_out *o, const st_pq_column_meta *m, const st_wr_page_counts *pc) {
  st_tc_w_struct(o, 3);
  st_tc_w_i32(o, 1, m->type);
  st_tc_w_list(o, 2, ST_TC_I32, (uint32_t)m->n_encodings);
  for (int i = 0; i < m->n_encodings; i++) st_tc_w_zigzag(o, m->encodings[i]);
  st_tc_w_list(o, 3, ST_TC_BINARY, (uint32_t)m->n_path);
  for (int i = 0; i < m->n_path; i++) st_tc_w_raw_binary(o, m->path[i], strlen(m->path[i]));
  st_tc_w_i32(o, 4, m->codec);
  st_tc_w_i64(o, 5, m->num_values);
  st_tc_w_i64(o, 6, m->total_uncompressed_size);
  st_tc_w_i64(o, 7, m->total_compressed_size);
  if (m->n_kv) st_pq_enc_kv_list(o, 8, m->kv, m->n_kv);
  st_tc_w_i64(o, 9, m->data_page_offset);
  if (m->has_index_page_offset) st_tc_w_i64(o, 10, m->index_page_offset);
  if (m->has_dictionary_page_offset) st_tc_w_i64(o, 11, m->dictionary_page_offset);
  if (m->has_stats) st_pq_enc_stats(o, 12, &m->stats);
  if (pc) {
    uint32_t n = (pc->dict_pages > 0) + (pc->dict_data_pages > 0) + (pc->plain_data_pages > 0);
    st_tc_w_list(o, 13, ST_TC_STRUCT, n);
    if (pc->dict_pages) w_page_count(o, ST_PQ_DICTIONARY_PAGE, ST_PQ_ENC_PLAIN, pc->dict_pages);
    int dp = pc->v2 ? ST_PQ_DATA_PAGE_V2 : ST_PQ_DATA_PAGE;
    if (pc->dict_data_pages) w_page_count(o, dp, ST_PQ_ENC_RLE_DICTIONARY, pc->dict_data_pages);
    if (pc->plain_data_pages) w_page_count(o, dp, ST_PQ_ENC_PLAIN, pc->plain_data_pages);
  }
  if (m->has_bloom_filter_offset) st_tc_w_i64(o, 14, m->bloom_filter_offset);
  if (m->has_bloom_filter_length) st_tc_w_i32(o, 15, m->bloom_filter_length);
  st_tc_w_end(o);
}

int st_wr_row_group(const st_pq_row_group *rg, const st_wr_page_counts *counts, st_buf *out,
                    st_error *err) {
  st_tc_out o;
  st_tc_out_init(&o, out, err);
  st_tc_w_begin(&o);
  st_tc_w_list(&o, 1, ST_TC_STRUCT, (uint32_t)rg->n_columns);
  for (int i = 0; i < rg->n_columns; i++) {
    const st_pq_column_chunk *c = &rg->columns[i];
    st_tc_w_begin(&o);
    if (c->file_path) st_tc_w_string(&o, 1, c->file_path);
    st_tc_w_i64(&o, 2, c->file_offset);
    if (c->has_meta) w_column_meta(&o, &c->meta, counts ? &counts[i] : NULL);
    if (c->has_offset_index) {
      st_tc_w_i64(&o, 4, c->offset_index_offset);
      st_tc_w_i32(&o, 5, c->offset_index_length);
    }
    if (c->has_column_index) {
      st_tc_w_i64(&o, 6, c->column_index_offset);
      st_tc_w_i32(&o, 7, c->column_index_length);
    }
    st_tc_w_end(&o);
  }
  st_tc_w_i64(&o, 2, rg->total_byte_size);
  st_tc_w_i64(&o, 3, rg->num_rows);
  if (rg->n_sorting) {
    st_tc_w_list(&o, 4, ST_TC_STRUCT, (uint32_t)rg->n_sorting);
    for (int i = 0; i < rg->n_sorting; i++) {
      st_tc_w_begin(&o);
      st_tc_w_i32(&o, 1, rg->sorting[i].column_idx);
      st_tc_w_bool(&o, 2, rg->sorting[i].descending);
      st_tc_w_bool(&o, 3, rg->sorting[i].nulls_first);
      st_tc_w_end(&o);
    }
  }
  if (rg->has_file_offset) st_tc_w_i64(&o, 5, rg->file_offset);
  if (rg->has_total_compressed_size) st_tc_w_i64(&o, 6, rg->total_compressed_size);
  if (rg->has_ordinal) st_tc_w_i16(&o, 7, rg->ordinal);
  st_tc_w_end(&o);
  return st_tc_out_finish(&o);
}

void st_wr_meta_head(st_tc_out *o, const st_pq_file_meta *m, uint32_t n_row_groups) {
  st_tc_w_begin(o);
  st_tc_w_i32(o, 1, m->version);
  st_tc_w_list(o, 2, ST_TC_STRUCT, (uint32_t)m->n_schema);
  for (int i = 0; i < m->n_schema; i++) st_pq_enc_schema_elem(o, &m->schema[i]);
  st_tc_w_i64(o, 3, m->num_rows);
  st_tc_w_list(o, 4, ST_TC_STRUCT, n_row_groups);
}

void st_wr_meta_tail(st_tc_out *o, const st_pq_file_meta *m) {
  if (m->n_kv) st_pq_enc_kv_list(o, 5, m->kv, m->n_kv);
  if (m->created_by) st_tc_w_string(o, 6, m->created_by);
  if (m->n_column_orders) {
    st_tc_w_list(o, 7, ST_TC_STRUCT, (uint32_t)m->n_column_orders);
    for (int i = 0; i < m->n_column_orders; i++) {
      st_tc_w_begin(o);
      if (m->column_orders[i] == ST_PQ_ORDER_TYPE_DEFINED) {
        st_tc_w_struct(o, 1);
        st_tc_w_end(o);
      }
      st_tc_w_end(o);
    }
  }
  st_tc_w_end(o);
}

void st_wr_page_header(st_tc_out *o, const st_pq_page_header *h) { st_pq_enc_page_header(o, h); }

/* ---- RLE / bit-packed hybrid ------------------------------------------------- */

int st_wr_bit_width(uint64_t max_value) {
  int w = 0;
  while (max_value) {
    w++;
    max_value >>= 1;
  }
  return w;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

int st_wr_rle_run(uint32_t value, int64_t n, int bit_width, st_buf *out, st_error *err) {
  ST_TRY(st_buf_reserve(out, 16, err));
  uint8_t *p = out->data + out->len;
  p = put_varint(p, (uint64_t)n << 1);
  int vb = (bit_width + 7) / 8;
  for (int i = 0; i < vb; i++) *p++ = (uint8_t)(value >> (8 * i));
  out->len = (size_t)(p - out->data);
  return 0;
}

/*
** The hybrid encoder for one value type.  Worst case output: every group of
** 8 values bit-packed (bit_width bytes) plus one header byte per group.
*/
#define RLE_ENCODER(NAME, T)                                                              \
  int NAME(const T *v, int64_t n, int bit_width, st_buf *out, st_error *err) {            \
    size_t worst = (size_t)(n / 8 + 1) * (size_t)(bit_width + 1) + 32;                    \
    ST_TRY(st_buf_reserve(out, worst, err));                                              \
    uint8_t *p = out->data + out->len;                                                    \
    int vb = (bit_width + 7) / 8;                                                         \
    int64_t i = 0;                                                                        \
    while (i < n) {                                                                       \
      T x = v[i];                                                                         \
      int64_t j = i + 1;                                                                  \
      while (j < n && v[j] == x) j++;                                                     \
      if (j - i >= 8) {                                                                   \
        p = put_varint(p, (uint64_t)(j - i) << 1);                                        \
        for (int b = 0; b < vb; b++) *p++ = (uint8_t)((uint32_t)x >> (8 * b));            \
        i = j;                                                                            \
        continue;                                                                         \
      }                                                                                   \
      /* bit-packed groups until a run of 8 starts at a group boundary */                  \
      int64_t start = i;                                                                  \
      int64_t groups = 0;                                                                 \
      uint8_t *hdr = p;                                                                   \
      p += 5; /* room for the header varint, moved down below */                           \
      uint8_t *body = p;                                                                  \
      while (i < n) {                                                                     \
        if (i > start && i + 8 <= n) {                                                    \
          T y = v[i];                                                                     \
          int k = 1;                                                                      \
          while (k < 8 && v[i + k] == y) k++;                                             \
          if (k == 8) break;                                                              \
        }                                                                                 \
        uint64_t acc = 0;                                                                 \
        int nb = 0;                                                                       \
        for (int k = 0; k < 8; k++) {                                                     \
          uint64_t val = i + k < n ? (uint64_t)(uint32_t)v[i + k] : 0;                    \
          acc |= val << nb;                                                               \
          nb += bit_width;                                                                \
          while (nb >= 8) {                                                               \
            *p++ = (uint8_t)acc;                                                          \
            acc >>= 8;                                                                    \
            nb -= 8;                                                                      \
          }                                                                               \
        }                                                                                 \
        i += 8;                                                                           \
        groups++;                                                                         \
      }                                                                                   \
      if (i > n) i = n;                                                                   \
      uint8_t tmp[10];                                                                    \
      uint8_t *te = put_varint(tmp, ((uint64_t)groups << 1) | 1);                         \
      size_t hl = (size_t)(te - tmp);                                                     \
      size_t bl = (size_t)(p - body);                                                     \
      memmove(hdr + hl, body, bl);                                                        \
      memcpy(hdr, tmp, hl);                                                               \
      p = hdr + hl + bl;                                                                  \
    }                                                                                     \
    out->len = (size_t)(p - out->data);                                                   \
    return 0;                                                                             \
  }

RLE_ENCODER(st_wr_rle_u32, uint32_t)
RLE_ENCODER(st_wr_rle_i16, int16_t)

/* ---- dictionary -------------------------------------------------------------- */

void st_wr_dict_init(st_wr_dict *d, int width) {
  memset(d, 0, sizeof *d);
  d->width = width;
  st_buf_init(&d->plain);
}

void st_wr_dict_reset(st_wr_dict *d) {
  d->n = 0;
  d->plain.len = 0;
  if (d->slots) memset(d->slots, 0, ((size_t)d->mask + 1) * sizeof(uint32_t));
}

void st_wr_dict_free(st_wr_dict *d) {
  st_buf_free(&d->plain);
  st_free(d->pos);
  st_free(d->hashes);
  st_free(d->slots);
  memset(d, 0, sizeof *d);
}

static inline uint32_t hash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

static inline uint32_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x100000001b3ULL);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
  return hash64(h);
}

/* Make room for one more entry and keep the table at most half full. */
static int dict_grow(st_wr_dict *d, st_error *err) {
  if (d->n == UINT32_MAX - 1) return st_fail(err, ST_ERR_LIMIT, "dictionary: too many entries");
  if (d->n >= d->cap_entries) {
    uint32_t nc = d->cap_entries ? d->cap_entries * 2 : 1024;
    uint32_t *h = st_realloc(d->hashes, (size_t)nc * sizeof *h);
    if (!h) return st_fail(err, ST_ERR_NOMEM, "dictionary: out of memory");
    d->hashes = h;
    if (!d->width) {
      uint64_t *q = st_realloc(d->pos, (size_t)nc * sizeof *q);
      if (!q) return st_fail(err, ST_ERR_NOMEM, "dictionary: out of memory");
      d->pos = q;
    }
    d->cap_entries = nc;
  }
  if (!d->slots || (uint64_t)(d->n + 1) * 2 > (uint64_t)d->mask + 1) {
    size_t ns = d->slots ? ((size_t)d->mask + 1) * 2 : 2048;
    uint32_t *s = st_calloc(ns, sizeof *s);
    if (!s) return st_fail(err, ST_ERR_NOMEM, "dictionary: out of memory");
    uint32_t m = (uint32_t)(ns - 1);
    for (uint32_t e = 0; e < d->n; e++) {
      uint32_t k = d->hashes[e] & m;
      while (s[k]) k = (k + 1) & m;
      s[k] = e + 1;
    }
    st_free(d->slots);
    d->slots = s;
    d->mask = m;
  }
  return 0;
}

/*
** 4- and 8-byte values: probe comparing the values themselves; the value
** buffer is reserved for the worst case (every value new) up front so that
** an insertion is two stores.
*/
#define DICT_FIXED_LOOP(T)                                                                 \
  do {                                                                                     \
    ST_TRY(st_buf_reserve(&d->plain, (size_t)n * sizeof(T), err));                        \
    for (int64_t i = 0; i < n; i++) {                                                      \
      T x;                                                                                 \
      memcpy(&x, vals + (size_t)i * sizeof(T), sizeof(T));                                \
      uint32_t h = hash64((uint64_t)x);                                                    \
      uint32_t k = h & d->mask, s;                                                         \
      const T *dv = (const T *)(const void *)d->plain.data;                                \
      while ((s = d->slots[k]) && dv[s - 1] != x) k = (k + 1) & d->mask;                   \
      if (!s) {                                                                            \
        if (ST_UNLIKELY(d->n + 1 > d->cap_entries ||                                       \
                        (uint64_t)(d->n + 1) * 2 > (uint64_t)d->mask + 1)) {               \
          ST_TRY(dict_grow(d, err));                                                       \
          k = h & d->mask;                                                                 \
          while (d->slots[k]) k = (k + 1) & d->mask;                                       \
        }                                                                                  \
        memcpy(d->plain.data + d->plain.len, &x, sizeof(T));                               \
        d->plain.len += sizeof(T);                                                         \
        d->hashes[d->n] = h;                                                               \
        s = d->slots[k] = ++d->n;                                                          \
      }                                                                                    \
      idx[i] = s - 1;                                                                      \
    }                                                                                      \
  } while (0)

int st_wr_dict_put_fixed(st_wr_dict *d, const uint8_t *vals, int64_t n, uint32_t *idx,
                         st_error *err) {
  if (!d->slots) ST_TRY(dict_grow(d, err));
  if (d->width == 4) {
    DICT_FIXED_LOOP(uint32_t);
  } else if (d->width == 8) {
    DICT_FIXED_LOOP(uint64_t);
  } else {
    size_t w = (size_t)d->width;
    for (int64_t i = 0; i < n; i++) {
      const uint8_t *x = vals + (size_t)i * w;
      uint32_t h = hash_bytes(x, w);
      uint32_t k = h & d->mask;
      for (;;) {
        uint32_t s = d->slots[k];
        if (!s) break;
        if (d->hashes[s - 1] == h && !memcmp(x, d->plain.data + (size_t)(s - 1) * w, w)) break;
        k = (k + 1) & d->mask;
      }
      if (!d->slots[k]) {
        ST_TRY(dict_grow(d, err));
        k = h & d->mask;
        while (d->slots[k]) k = (k + 1) & d->mask;
        ST_TRY(st_buf_append(&d->plain, x, w, err));
        d->hashes[d->n] = h;
        d->slots[k] = ++d->n;
      }
      idx[i] = d->slots[k] - 1;
    }
  }
  return 0;
}

int st_wr_dict_put_bytes(st_wr_dict *d, const uint8_t *const *ptrs, const uint32_t *lens,
                         int64_t n, uint32_t *idx, st_error *err) {
  if (!d->slots) ST_TRY(dict_grow(d, err));
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *x = ptrs[i];
    uint32_t len = lens[i];
    uint32_t h = hash_bytes(x, len);
    uint32_t k = h & d->mask;
    for (;;) {
      uint32_t s = d->slots[k];
      if (!s) break;
      if (d->hashes[s - 1] == h) {
        const uint8_t *e = d->plain.data + d->pos[s - 1];
        uint32_t el;
        memcpy(&el, e, 4);
        if (el == len && (len == 0 || !memcmp(e + 4, x, len))) break;
      }
      k = (k + 1) & d->mask;
    }
    if (!d->slots[k]) {
      ST_TRY(dict_grow(d, err));
      k = h & d->mask;
      while (d->slots[k]) k = (k + 1) & d->mask;
      ST_TRY(st_buf_reserve(&d->plain, (size_t)len + 4, err));
      d->pos[d->n] = d->plain.len;
      memcpy(d->plain.data + d->plain.len, &len, 4);
      if (len) memcpy(d->plain.data + d->plain.len + 4, x, len);
      d->plain.len += (size_t)len + 4;
      d->hashes[d->n] = h;
      d->slots[k] = ++d->n;
    }
    idx[i] = d->slots[k] - 1;
  }
  return 0;
}

/* ---- statistics ------------------------------------------------------------ */

void st_wr_stats_reset(st_wr_stats *s, int kind) {
  s->kind = kind;
  s->has = false;
  s->min.len = 0;
  s->max.len = 0;
}

void st_wr_stats_free(st_wr_stats *s) {
  st_buf_free(&s->min);
  st_buf_free(&s->max);
  s->has = false;
}

static int set_bytes(st_buf *b, const void *p, size_t n, st_error *err) {
  b->len = 0;
  return n ? st_buf_append(b, p, n, err) : st_buf_reserve(b, 1, err);
}

/* Signed comparison of big-endian two's complement numbers of equal width. */
static int cmp_decimal(const uint8_t *a, const uint8_t *b, size_t w) {
  if ((a[0] ^ b[0]) & 0x80) return (a[0] & 0x80) ? -1 : 1;
  int c = memcmp(a, b, w);
  return c < 0 ? -1 : c > 0;
}

#define MINMAX_INT(T)                                                                      \
  do {                                                                                     \
    T lo, hi;                                                                              \
    memcpy(&lo, vals, sizeof(T));                                                          \
    hi = lo;                                                                               \
    const T *v = (const T *)(const void *)vals;                                            \
    for (int64_t i = 1; i < n; i++) {                                                      \
      T x;                                                                                 \
      memcpy(&x, &v[i], sizeof(T));                                                        \
      lo = x < lo ? x : lo;                                                                \
      hi = x > hi ? x : hi;                                                                \
    }                                                                                      \
    if (s->has) {                                                                          \
      T a, b;                                                                              \
      memcpy(&a, s->min.data, sizeof(T));                                                  \
      memcpy(&b, s->max.data, sizeof(T));                                                  \
      lo = a < lo ? a : lo;                                                                \
      hi = b > hi ? b : hi;                                                                \
    }                                                                                      \
    ST_TRY(set_bytes(&s->min, &lo, sizeof(T), err));                                       \
    ST_TRY(set_bytes(&s->max, &hi, sizeof(T), err));                                       \
    s->has = true;                                                                         \
  } while (0)

#define MINMAX_FLOAT(T)                                                                    \
  do {                                                                                     \
    T lo = 0, hi = 0;                                                                      \
    bool any = false;                                                                      \
    const T *v = (const T *)(const void *)vals;                                            \
    for (int64_t i = 0; i < n; i++) {                                                      \
      T x;                                                                                 \
      memcpy(&x, &v[i], sizeof(T));                                                        \
      if (x != x) continue;                                                                \
      if (!any) {                                                                          \
        lo = hi = x;                                                                       \
        any = true;                                                                        \
      } else {                                                                             \
        lo = x < lo ? x : lo;                                                              \
        hi = x > hi ? x : hi;                                                              \
      }                                                                                    \
    }                                                                                      \
    if (!any) break;                                                                       \
    if (s->has) {                                                                          \
      T a, b;                                                                              \
      memcpy(&a, s->min.data, sizeof(T));                                                  \
      memcpy(&b, s->max.data, sizeof(T));                                                  \
      lo = a < lo ? a : lo;                                                                \
      hi = b > hi ? b : hi;                                                                \
    }                                                                                      \
    if (lo == 0) lo = -(T)0.0;                                                             \
    if (hi == 0) hi = (T)0.0;                                                              \
    ST_TRY(set_bytes(&s->min, &lo, sizeof(T), err));                                       \
    ST_TRY(set_bytes(&s->max, &hi, sizeof(T), err));                                       \
    s->has = true;                                                                         \
  } while (0)

int st_wr_stats_fixed(st_wr_stats *s, const uint8_t *vals, int64_t n, int width, st_error *err) {
  if (n <= 0) return 0;
  switch (s->kind) {
  case ST_WR_SK_BOOL: {
    uint8_t lo = 1, hi = 0;
    for (int64_t i = 0; i < n; i++) {
      uint8_t b = vals[i] ? 1 : 0;
      lo &= b;
      hi |= b;
    }
    if (s->has) {
      lo &= s->min.data[0];
      hi |= s->max.data[0];
    }
    ST_TRY(set_bytes(&s->min, &lo, 1, err));
    ST_TRY(set_bytes(&s->max, &hi, 1, err));
    s->has = true;
    break;
  }
  case ST_WR_SK_I32: MINMAX_INT(int32_t); break;
  case ST_WR_SK_U32: MINMAX_INT(uint32_t); break;
  case ST_WR_SK_I64: MINMAX_INT(int64_t); break;
  case ST_WR_SK_U64: MINMAX_INT(uint64_t); break;
  case ST_WR_SK_FLOAT: MINMAX_FLOAT(float); break;
  case ST_WR_SK_DOUBLE: MINMAX_FLOAT(double); break;
  case ST_WR_SK_F16: {
    int64_t lo_i = -1, hi_i = -1;
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, vals + 2 * i, 2);
      float x = (float)st_half_to_double(h);
      if (x != x) continue;
      if (lo_i < 0 || x < lo) lo = x, lo_i = i;
      if (hi_i < 0 || x > hi) hi = x, hi_i = i;
    }
    if (lo_i < 0) break;
    uint16_t lb, hb;
    memcpy(&lb, vals + 2 * lo_i, 2);
    memcpy(&hb, vals + 2 * hi_i, 2);
    if (s->has) {
      uint16_t a, b;
      memcpy(&a, s->min.data, 2);
      memcpy(&b, s->max.data, 2);
      if ((float)st_half_to_double(a) < lo) lb = a, lo = (float)st_half_to_double(a);
      if ((float)st_half_to_double(b) > hi) hb = b, hi = (float)st_half_to_double(b);
    }
    if (lo == 0) lb = 0x8000;
    if (hi == 0) hb = 0x0000;
    ST_TRY(set_bytes(&s->min, &lb, 2, err));
    ST_TRY(set_bytes(&s->max, &hb, 2, err));
    s->has = true;
    break;
  }
  case ST_WR_SK_DECIMAL:
  case ST_WR_SK_BYTES: {
    size_t w = (size_t)width;
    const uint8_t *lo = vals, *hi = vals;
    bool dec = s->kind == ST_WR_SK_DECIMAL;
    for (int64_t i = 1; i < n; i++) {
      const uint8_t *x = vals + (size_t)i * w;
      if (dec ? cmp_decimal(x, lo, w) < 0 : memcmp(x, lo, w) < 0) lo = x;
      if (dec ? cmp_decimal(x, hi, w) > 0 : memcmp(x, hi, w) > 0) hi = x;
    }
    if (!s->has || (dec ? cmp_decimal(lo, s->min.data, w) < 0 : memcmp(lo, s->min.data, w) < 0))
      ST_TRY(set_bytes(&s->min, lo, w, err));
    if (!s->has || (dec ? cmp_decimal(hi, s->max.data, w) > 0 : memcmp(hi, s->max.data, w) > 0))
      ST_TRY(set_bytes(&s->max, hi, w, err));
    s->has = true;
    break;
  }
  default:
    break;
  }
  return 0;
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

int st_wr_stats_bytes(st_wr_stats *s, const uint8_t *const *ptrs, const uint32_t *lens, int64_t n,
                      st_error *err) {
  if (n <= 0 || s->kind != ST_WR_SK_BYTES) return 0;
  int64_t lo = 0, hi = 0;
  for (int64_t i = 1; i < n; i++) {
    if (cmp_bytes(ptrs[i], lens[i], ptrs[lo], lens[lo]) < 0) lo = i;
    if (cmp_bytes(ptrs[i], lens[i], ptrs[hi], lens[hi]) > 0) hi = i;
  }
  if (!s->has || cmp_bytes(ptrs[lo], lens[lo], s->min.data, s->min.len) < 0)
    ST_TRY(set_bytes(&s->min, ptrs[lo], lens[lo], err));
  if (!s->has || cmp_bytes(ptrs[hi], lens[hi], s->max.data, s->max.len) > 0)
    ST_TRY(set_bytes(&s->max, ptrs[hi], lens[hi], err));
  s->has = true;
  return 0;
}

int st_wr_stats_plain_bytes(st_wr_stats *s, const uint8_t *plain, size_t len, uint32_t n,
                            st_error *err) {
  if (!n || s->kind != ST_WR_SK_BYTES) return 0;
  const uint8_t *lo = NULL, *hi = NULL;
  uint32_t lol = 0, hil = 0;
  size_t at = 0;
  for (uint32_t i = 0; i < n && at + 4 <= len; i++) {
    uint32_t l;
    memcpy(&l, plain + at, 4);
    const uint8_t *p = plain + at + 4;
    if (!lo || cmp_bytes(p, l, lo, lol) < 0) lo = p, lol = l;
    if (!hi || cmp_bytes(p, l, hi, hil) > 0) hi = p, hil = l;
    at += 4 + (size_t)l;
  }
  if (!lo) return 0;
  if (!s->has || cmp_bytes(lo, lol, s->min.data, s->min.len) < 0)
    ST_TRY(set_bytes(&s->min, lo, lol, err));
  if (!s->has || cmp_bytes(hi, hil, s->max.data, s->max.len) > 0)
    ST_TRY(set_bytes(&s->max, hi, hil, err));
  s->has = true;
  return 0;
}
