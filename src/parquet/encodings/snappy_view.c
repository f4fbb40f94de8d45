/*
** This file implements random access into a raw Snappy block without
** decompressing it (st_snappy_view_*): a selective read that needs a few
** values of a large dictionary page resolves just their bytes.
**
** Snappy block format (google/snappy format_description.txt):
**   varint   uncompressed length (<= 2^32 - 1)
**   elements, each starting with a tag byte t:
**     t & 3 == 0  literal: length - 1 = t >> 2 when < 60, else stored in the
**                 next (t >> 2) - 59 bytes (little-endian); the bytes follow
**     t & 3 == 1  copy, length 4 + ((t >> 2) & 7), offset ((t >> 5) << 8) | next byte
**     t & 3 == 2  copy, length 1 + (t >> 2), offset = next 2 bytes (LE)
**     t & 3 == 3  copy, length 1 + (t >> 2), offset = next 4 bytes (LE)
**   A copy repeats the output from `offset` bytes back (it may overlap
**   itself); offset 0 or past the start of the output is invalid.
**
** st_snappy_single_literal recognises the commonest block of incompressible
** data, one literal covering the whole output, so that it is used in place.
**
** The view is the list of elements (output start, length, and the input
** position of a literal or the offset of a copy), built in one pass over the
** tags (literal bytes are skipped, not copied).  Byte p of the output is
** found by binary search on the starts; a copy sends p back to the earliest
** position of its period before the element (p - k * offset < start), so
** every step moves to an earlier element; the steps are bounded
** (SV_MAX_STEPS) and a longer chain reports failure so that the caller
** decompresses the page instead.  The view is meant for poorly compressed
** blocks (mostly long literals, e.g. distinct doubles): parsing refuses a
** block of more than ulen / SV_MIN_AVG + 16 elements.  Every element is checked while parsing:
** literals within the input, copies within the output so far, the total
** equal to the stated length.
*/
#include "parquet/encodings/encodings.h"

#include <stdlib.h>
#include <string.h>

#define SV_MAX_STEPS 64
#define SV_MIN_AVG 512   /* fewer elements than ulen / SV_MIN_AVG (+16), else refuse */

static int grow(st_snappy_view *v) {
  size_t cap = v->cap ? v->cap * 2 : 256;
  st_snappy_elem *e = realloc(v->el, cap * sizeof *e);
  if (!e) return -1;
  v->el = e;
  v->cap = cap;
  return 0;
}

void st_snappy_view_free(st_snappy_view *v) {
  free(v->el);
  memset(v, 0, sizeof *v);
}

/* The block's preamble: the uncompressed length as a varint of at most 5
** bytes; advances *p past it.  -1 if truncated or longer. */
static int snappy_preamble(const uint8_t **p, const uint8_t *end, uint64_t *ulen) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    if (*p >= end || shift > 28) return -1;
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  *ulen = v;
  return 0;
}

/* A literal's length (tag t, its extra length bytes at *p, advanced past
** them): 1 + (t >> 2), or 1 + the next (t >> 2) - 59 bytes little-endian;
** -1 when those bytes run past end. */
static inline int lit_len(const uint8_t **p, const uint8_t *end, uint8_t t, uint64_t *len) {
  uint64_t l = t >> 2;
  if (l >= 60) {
    int nb = (int)l - 59;
    if ((size_t)(end - *p) < (size_t)nb) return -1;
    l = 0;
    for (int k = 0; k < nb; k++) l |= (uint64_t)(*p)[k] << (8 * k);
    *p += nb;
  }
  *len = l + 1;
  return 0;
}

const uint8_t *st_snappy_single_literal(const uint8_t *in, size_t len, uint64_t ulen) {
  const uint8_t *p = in, *end = in + len;
  uint64_t ul;
  if (snappy_preamble(&p, end, &ul) || ul != ulen || ul == 0 || p >= end) return NULL;
  uint8_t t = *p++;
  uint64_t ll;
  if ((t & 3) || lit_len(&p, end, t, &ll)) return NULL;
  return ll == ulen && (uint64_t)(end - p) == ulen ? p : NULL;
}

int st_snappy_view_parse(st_snappy_view *v, const uint8_t *in, size_t len) {
  const uint8_t *p = in, *end = in + len;
  uint64_t ulen;
  if (snappy_preamble(&p, end, &ulen)) return -1;
  if (ulen > UINT32_MAX) return -1;
  size_t max_el = (size_t)(ulen / SV_MIN_AVG) + 16;
  v->in = in;
  v->n = 0;
  v->hint = 0;
  uint64_t out = 0;
  while (p < end) {
    uint8_t t = *p++;
    st_snappy_elem e;
    e.start = (uint32_t)out;
    if ((t & 3) == 0) {
      uint64_t ll;
      if (lit_len(&p, end, t, &ll) || ll > (uint64_t)(end - p)) return -1;
      e.len = (uint32_t)ll;
      e.lit = 1;
      e.src = (uint32_t)(p - in);
      p += ll;
    } else {
      uint32_t l, off;
      if ((t & 3) == 1) {
        if (p >= end) return -1;
        l = 4 + ((t >> 2) & 7);
        off = ((uint32_t)(t >> 5) << 8) | *p++;
      } else if ((t & 3) == 2) {
        if (end - p < 2) return -1;
        l = 1 + (t >> 2);
        off = (uint32_t)p[0] | (uint32_t)p[1] << 8;
        p += 2;
      } else {
        if (end - p < 4) return -1;
        l = 1 + (t >> 2);
        off = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
      }
      if (off == 0 || off > out) return -1;
      e.len = l;
      e.lit = 0;
      e.src = off;
    }
    if (out + e.len > ulen) return -1;
    out += e.len;
    if (v->n >= max_el) return -1;   /* well compressed: decompressing is cheaper */
    if (v->n == v->cap && grow(v)) return -1;
    v->el[v->n++] = e;
  }
  if (out != ulen) return -1;
  v->ulen = ulen;
  return 0;
}

/* Index of the element holding output byte p (p < ulen); v->hint (the last
   element found) is tried first: reads mostly go forwards. */
static size_t find(const st_snappy_view *v, uint64_t p) {
  size_t h = v->hint;
  if (h < v->n && v->el[h].start <= p && p - v->el[h].start < v->el[h].len) return h;
  size_t a = 0, b = v->n;   /* last element with start <= p */
  while (b - a > 1) {
    size_t m = (a + b) / 2;
    if (v->el[m].start <= p) a = m;
    else b = m;
  }
  return a;
}

int st_snappy_view_get(st_snappy_view *v, uint64_t pos, size_t w, uint8_t *out) {
  if (pos > v->ulen || w > v->ulen - pos) return -1;
  size_t i = 0;
  while (i < w) {
    uint64_t p = pos + i;
    int steps = 0;
    for (;;) {
      size_t ei = find(v, p);
      const st_snappy_elem *e = &v->el[ei];
      v->hint = ei;
      uint64_t rel = p - e->start;
      if (e->lit && i == 0 && p == pos && w == 8 && e->len - rel >= 8) {
        memcpy(out, v->in + e->src + rel, 8);   /* the common case: one value in one literal */
        return 0;
      }
      if (e->lit) {
        size_t take = e->len - rel < w - i ? (size_t)(e->len - rel) : w - i;
        if (p == pos + i) {
          memcpy(out + i, v->in + e->src + rel, take);
          i += take;
        } else {
          out[i++] = v->in[e->src + rel];   /* resolved through copies: one byte */
        }
        break;
      }
      if (++steps > SV_MAX_STEPS) return -1;
      uint64_t k = rel / e->src + 1;
      p -= k * e->src;
    }
  }
  return 0;
}

/* ---- resumable prefix decoder ------------------------------------------- */
/*
** st_snappy_stream decodes a block element by element into out (which has
** ulen + SV_SLACK bytes), stopping once `want` bytes are out, and resumes
** there later: a selective read decodes a dictionary page only as far as
** the largest index it needs.  Short literals and copies move fixed 16/8
** byte blocks (over-writing at most SV_SLACK bytes past the element, inside
** the slack; those bytes are rewritten by the next elements); every element
** is checked as in st_snappy_view_parse.
*/
#define SV_SLACK 32

/* A copy of 4..16 bytes whose source ends before its destination starts
** (offset >= length), moved as two loads of 4 or 8 bytes, both loaded
** before either store, covering exactly [0, l).  Exact, not rounded up to
** 8 or 16: the source of a later copy is then usually the whole of one
** earlier store, which the CPU forwards from its store buffer.  A rounded
** block straddles two stores (e.g. 7 bytes of a copy plus the next literal
** byte, the pattern of sorted int64 dictionaries), and such a load waits
** for both stores to retire: that stall was most of the decode time. */
static inline void copy_short(uint8_t *d, const uint8_t *src, uint32_t l) {
  if (l <= 8) {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + l - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + l - 4, &b, 4);
  } else {
    uint64_t a, b;
    memcpy(&a, src, 8);
    memcpy(&b, src + l - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + l - 8, &b, 8);
  }
}

int st_snappy_stream_init(st_snappy_stream *s, const uint8_t *in, size_t len, uint8_t *out, uint64_t out_cap) {
  const uint8_t *p = in, *end = in + len;
  uint64_t ulen;
  if (snappy_preamble(&p, end, &ulen)) return -1;
  if (ulen > UINT32_MAX || ulen + SV_SLACK > out_cap) return -1;
  s->in = in; s->ilen = len; s->ip = (size_t)(p - in);
  s->out = out; s->ulen = ulen; s->op = 0;
  return 0;
}

int st_snappy_stream_upto(st_snappy_stream *s, uint64_t want) {
  const uint8_t *in = s->in;
  size_t ip = s->ip, ilen = s->ilen;
  uint8_t *out = s->out;
  uint64_t op = s->op, ulen = s->ulen;
  if (want > ulen) want = ulen;
  while (op < want) {
    /* fast path: >= 21 input bytes and >= 64 output bytes left, so a short
       literal (<= 16 bytes, read/written as 16) and a 1-byte-offset copy
       (<= 11 bytes, moved as 2 x 8 when the offset is >= 8) need no bounds
       checks beyond the offset's */
    if (ilen - ip >= 21 && ulen - op >= 64) {
      uint8_t t = in[ip];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      if (t == 0x00 && in[ip + 2] == 0x0D && in[ip + 3] == 0x08 && op >= 8) {
        /* runs of (1-byte literal, 7-byte copy from 8 back): each pair is
           the previous 8 bytes with a new first byte (sorted/sequential
           int64s); kept in a register, no store-to-load chain */
        uint64_t prev, op0 = op;
        memcpy(&prev, out + op - 8, 8);
        while (op < want && ilen - ip >= 4 && ulen - op >= 8) {
          uint32_t w;
          memcpy(&w, in + ip, 4);
          if ((w & 0xFFFF00FFu) != 0x080D0000u) break;
          prev = (prev & ~(uint64_t)0xFF) | ((w >> 8) & 0xFF);
          memcpy(out + op, &prev, 8);
          ip += 4;
          op += 8;
        }
        if (op != op0) continue;
      }
      if (t == 0x0C && (in[ip + 5] & 0x1F) == 0x01 && op >= 4) {
        /* runs of (4-byte literal, 4-byte copy from >= 4 back): 8 bytes of
           which the last 4 repeat earlier output (doubles whose high half
           recurs); fixed 7 input bytes per pair, no dependency between
           pairs unless a copy reads the pair just written */
        uint64_t op0 = op;
        while (op < want && ilen - ip >= 7 && ulen - op >= 8) {
          uint8_t t1 = in[ip + 5];
          if (in[ip] != 0x0C || (t1 & 0x1F) != 0x01) break;
          uint32_t off = ((uint32_t)(t1 >> 5) << 8) | in[ip + 6];
          if (off < 4 || off > op + 4) break;   /* the general path checks/handles it */
          uint32_t lo, hi;
          memcpy(&lo, in + ip + 1, 4);
          memcpy(out + op, &lo, 4);
          memcpy(&hi, out + op + 4 - off, 4);
          memcpy(out + op + 4, &hi, 4);
          ip += 7;
          op += 8;
        }
        if (op != op0) continue;   /* else the element is decoded below */
      }
#endif
      if ((t & 3) == 0 && t < (16 << 2)) {
        uint32_t l = (t >> 2) + 1u;
        memcpy(out + op, in + ip + 1, 16);
        ip += 1 + l;
        op += l;
        continue;
      }
      if ((t & 3) == 1) {
        uint32_t l = 4 + ((t >> 2) & 7), off = ((uint32_t)(t >> 5) << 8) | in[ip + 1];
        if (off == 0 || off > op) return -1;
        uint8_t *d = out + op;
        if (off >= l) {
          copy_short(d, d - off, l);
        } else if (off >= 8) {
          memcpy(d, d - off, 8);
          memcpy(d + 8, d - off + 8, 8);
        } else {
          const uint8_t *src = d - off;
          for (uint32_t k = 0; k < l; k++) d[k] = src[k];
        }
        ip += 2;
        op += l;
        continue;
      }
    }
    if (ip >= ilen) return -1;
    uint8_t t = in[ip++];
    if ((t & 3) == 0) {
      const uint8_t *q = in + ip;
      uint64_t ll;
      if (lit_len(&q, in + ilen, t, &ll)) return -1;
      ip = (size_t)(q - in);
      if (ll > ilen - ip || ll > ulen - op) return -1;
      if (ll <= 16 && ilen - ip >= 16) memcpy(out + op, in + ip, 16);
      else memcpy(out + op, in + ip, (size_t)ll);
      ip += (size_t)ll;
      op += ll;
    } else {
      uint32_t l, off;
      if ((t & 3) == 1) {
        if (ip >= ilen) return -1;
        l = 4 + ((t >> 2) & 7);
        off = ((uint32_t)(t >> 5) << 8) | in[ip++];
      } else if ((t & 3) == 2) {
        if (ilen - ip < 2) return -1;
        l = 1 + (t >> 2);
        off = (uint32_t)in[ip] | (uint32_t)in[ip + 1] << 8;
        ip += 2;
      } else {
        if (ilen - ip < 4) return -1;
        l = 1 + (t >> 2);
        off = (uint32_t)in[ip] | (uint32_t)in[ip + 1] << 8 | (uint32_t)in[ip + 2] << 16 | (uint32_t)in[ip + 3] << 24;
        ip += 4;
      }
      if (off == 0 || off > op || l > ulen - op) return -1;
      uint8_t *d = out + op;
      const uint8_t *src = d - off;
      if (off >= l && l >= 4 && l <= 16) {
        copy_short(d, src, l);
      } else if (off >= 8) {
        /* 8-byte blocks (l <= 64): each reads bytes written before it */
        for (uint32_t k = 0; k < l; k += 8) memcpy(d + k, src + k, 8);
      } else {
        for (uint32_t k = 0; k < l; k++) d[k] = src[k];
      }
      op += l;
    }
  }
  if (op == ulen && ip != ilen) {
    /* the block must end with its last element */
    s->ip = ip; s->op = op;
    return -1;
  }
  s->ip = ip; s->op = op;
  return 0;
}
