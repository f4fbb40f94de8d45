/*
** This file implements the Parquet plug-in of the input readers: it opens the
** file with the skytile Parquet reader and returns each row group (only the
** needed columns) as one batch, sliced zero-copy into batch_rows pieces when
** a row group is larger.  A part (options.part of n_parts) reads the row
** groups [G*part/n, G*(part+1)/n) of the G in the file.
**
** Arrow types: the file's "ARROW:schema" (base64 of an Arrow IPC Schema
** message, as pyarrow and our writer store it) names the Arrow type of each
** top-level column; a string/binary column stored from large_string /
** large_binary is returned as LARGE_STRING / LARGE_BINARY (int32 offsets
** widened per batch) and a list stored from fixed_size_list[w] as a
** FIXED_LIST of w (every valid list must hold w values, else
** ST_ERR_CORRUPT; a null list gets w null values), as pyarrow reads them.  The flatbuffer is untrusted:
** every offset is checked against its bounds, the walk only reads the
** Message -> Schema -> fields[i] -> (name, type_type) path, and anything
** unexpected leaves the Parquet-derived types alone.
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readers/readers_int.h"

typedef struct pq_state {
  st_pq_reader *r;
  bool *large;              /* per raw column: widen to LARGE_* or make */
                            /* a FIXED_LIST (in->raw's type says which) */
  int rg;                   /* next row group                           */
  int rg_end;               /* row groups [rg, rg_end) remain           */
  st_table *cur;            /* current row group being sliced           */
  int64_t cur_off;          /* rows of cur already returned             */
} pq_state;

/* ---- ARROW:schema (read side) ---------------------------------------------- */

#define ARROW_SCHEMA_MAX ((size_t)16 << 20)
enum { AT_FIXED_LIST = 16, AT_LARGE_BINARY = 19, AT_LARGE_UTF8 = 20 }; /* Arrow Type union tags */

typedef struct fbr {
  const uint8_t *p;
  size_t n;
} fbr;

static bool fb_u32(const fbr *b, size_t at, uint32_t *v) {
  if (at > b->n || b->n - at < 4) return false;
  memcpy(v, b->p + at, 4);
  return true;
}

/* Position of field `idx` of the table at `t` (0: absent or out of bounds). */
static size_t fb_field(const fbr *b, size_t t, int idx) {
  uint32_t so;
  if (!fb_u32(b, t, &so)) return 0;
  int64_t vt = (int64_t)t - (int64_t)(int32_t)so;
  if (vt < 0 || (size_t)vt > b->n || b->n - (size_t)vt < 4) return 0;
  uint16_t vsize, off;
  memcpy(&vsize, b->p + vt, 2);
  if ((size_t)vt + vsize > b->n || 4 + 2 * (size_t)idx + 2 > vsize) return 0;
  memcpy(&off, b->p + vt + 4 + 2 * idx, 2);
  if (!off || t + off >= b->n) return 0;
  return t + off;
}

/* Follow the u32 offset stored at `at` (a table, vector or string); 0 on error. */
static size_t fb_deref(const fbr *b, size_t at) {
  uint32_t o;
  if (!at || !fb_u32(b, at, &o) || o > b->n - at) return 0;
  return at + o;
}

static int b64_val(uint8_t ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

/* Base64 (padding optional) -> malloc'd bytes; NULL if invalid. */
static uint8_t *b64_decode(const char *s, size_t n, size_t *out_n) {
  uint8_t *o = malloc(n / 4 * 3 + 3);
  if (!o) return NULL;
  size_t k = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '=') break;
    int v = b64_val((uint8_t)s[i]);
    if (v < 0) {
      free(o);
      return NULL;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[k++] = (uint8_t)(acc >> bits);
    }
  }
  *out_n = k;
  return o;
}

/* Mark in s->large the raw columns whose ARROW:schema type is a large
** string/binary (matched by position and name); changes in->raw's types. */
static int arrow_types(st_input *in, pq_state *s, st_error *err) {
  size_t len = 0;
  const char *v = st_pq_kv_find(s->r, "ARROW:schema", &len);
  if (!v || !len || len > ARROW_SCHEMA_MAX) return 0;
  size_t n = 0;
  uint8_t *raw = b64_decode(v, len, &n);
  if (!raw) return 0;
  fbr b = {raw, n};
  size_t at = 0;
  uint32_t w;
  if (fb_u32(&b, 0, &w) && w == 0xFFFFFFFFu) at = 4; /* continuation marker */
  if (!fb_u32(&b, at, &w) || w > n - at - 4) {
    free(raw);
    return 0;
  }
  fbr m = {raw + at + 4, w};   /* the flatbuffer */
  uint32_t root;
  size_t msg = fb_u32(&m, 0, &root) && root < m.n ? root : 0; /* the Message table */
  size_t ht = fb_field(&m, msg, 1), hdr = fb_deref(&m, fb_field(&m, msg, 2));
  size_t vec = 0;
  if (msg && ht && m.p[ht] == 1 && hdr) vec = fb_deref(&m, fb_field(&m, hdr, 1)); /* Schema.fields */
  uint32_t nf = 0;
  if (vec && fb_u32(&m, vec, &nf) && nf == (uint32_t)in->raw.n_children && nf <= (m.n - vec - 4) / 4) {
    for (uint32_t i = 0; i < nf; i++) {
      size_t f = fb_deref(&m, vec + 4 + 4 * (size_t)i);
      size_t name = fb_deref(&m, fb_field(&m, f, 0)), tt = fb_field(&m, f, 2);
      uint32_t nl;
      st_field *rf = &in->raw.children[i];
      if (!f || !name || !tt || !fb_u32(&m, name, &nl) || nl > m.n - name - 4 || !rf->name ||
          strlen(rf->name) != nl || memcmp(m.p + name + 4, rf->name, nl))
        continue;
      uint8_t t = m.p[tt];
      int32_t lsize = -1; /* FixedSizeList.listSize (field 0, int32) */
      if (t == AT_FIXED_LIST && rf->type == ST_T_LIST && rf->n_children == 1) {
        size_t ft = fb_deref(&m, fb_field(&m, f, 3)), ls = ft ? fb_field(&m, ft, 0) : 0;
        uint32_t u;
        if (ls && fb_u32(&m, ls, &u) && u <= INT32_MAX) lsize = (int32_t)u;
      }
      if ((t == AT_LARGE_UTF8 && rf->type == ST_T_STRING) || (t == AT_LARGE_BINARY && rf->type == ST_T_BINARY) ||
          lsize >= 0) {
        if (!s->large) {
          s->large = calloc(nf, sizeof *s->large);
          if (!s->large) {
            free(raw);
            return st_fail(err, ST_ERR_NOMEM, "out of memory");
          }
        }
        s->large[i] = true;
        if (lsize >= 0) rf->type = ST_T_FIXED_LIST, rf->byte_width = lsize;
        else rf->type = t == AT_LARGE_UTF8 ? ST_T_LARGE_STRING : ST_T_LARGE_BINARY;
      }
    }
  }
  free(raw);
  return 0;
}

/* Widen / fix the columns of t (raw columns in->need[]) marked large. */
static int widen(st_input *in, pq_state *s, st_table *t, st_error *err) {
  for (int k = 0; k < t->n_columns && k < in->n_need; k++) {
    if (!s->large[in->need[k]]) continue;
    st_field *f = &t->schema.children[k];
    const st_field *rf = &in->raw.children[in->need[k]];
    if (rf->type == ST_T_FIXED_LIST && f->type == ST_T_LIST && f->n_children == 1) {
      st_array *a = NULL;
      int rc = st_rd_fixed_from_list(f, t->columns[k], rf, &a, err);
      if (rc == ST_ERR_SCHEMA) { /* the file contradicts its own ARROW:schema */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return st_fail(err, ST_ERR_CORRUPT, "%s (ARROW:schema says fixed_size_list[%d])", why,
                       (int)rf->byte_width);
      }
      if (rc) return rc;
      st_array_free(t->columns[k]);
      t->columns[k] = a;
      f->type = ST_T_FIXED_LIST, f->byte_width = rf->byte_width;
      continue;
    }
    if (f->type != ST_T_STRING && f->type != ST_T_BINARY) continue;
    st_field to = *f;
    to.type = f->type == ST_T_STRING ? ST_T_LARGE_STRING : ST_T_LARGE_BINARY;
    ST_TRY(st_rd_cast_array(f, &to, &t->columns[k], err));
    f->type = to.type;
  }
  return 0;
}

static int pq_bid(const char *path, const uint8_t *head, size_t n) {
  if (n >= 4 && !memcmp(head, "PAR1", 4)) return 90;
  if (st_rd_ends_with(path, ".parquet") || st_rd_ends_with(path, ".pq")) return 50;
  return 0;
}

static int pq_open(st_input *in, st_error *err) {
  pq_state *s = calloc(1, sizeof *s);
  ST_CHECK(s, err, ST_ERR_NOMEM, "out of memory");
  in->state = s;
  ST_TRY(st_pq_open(in->path, NULL, &s->r, err));
  const st_field *f = st_pq_schema(s->r);
  ST_CHECK(!st_field_copy(&in->raw, f), err, ST_ERR_NOMEM, "out of memory");
  ST_TRY(arrow_types(in, s, err));
  in->num_rows = 0;
  for (int i = 0; i < st_pq_num_row_groups(s->r); i++) in->num_rows += st_pq_row_group_num_rows(s->r, i);
  int64_t g = st_pq_num_row_groups(s->r), k = in->opt.part, n = in->opt.n_parts;
  s->rg = (int)(g * k / n), s->rg_end = (int)(g * (k + 1) / n);
  return 0;
}

static int pq_next(st_input *in, st_table **out, st_error *err) {
  pq_state *s = in->state;
  *out = NULL;
  while (!s->cur || s->cur_off >= s->cur->n_rows) {
    st_table_free(s->cur);
    s->cur = NULL;
    s->cur_off = 0;
    if (s->rg >= s->rg_end) return 0;
    int rg = s->rg++;
    if (!in->n_need) {
      /* no columns wanted: still count the rows */
      int64_t n = st_pq_row_group_num_rows(s->r, rg);
      if (!n) continue;
      ST_TRY(st_table_new(NULL, NULL, 0, n, NULL, &s->cur, err));
    } else {
      ST_TRY(st_pq_read(s->r, &rg, 1, in->need, in->n_need, &s->cur, err));
      if (s->large) ST_TRY(widen(in, s, s->cur, err));
    }
  }
  int64_t n = s->cur->n_rows - s->cur_off;
  if (s->cur_off == 0 && n <= in->batch_rows) {
    *out = s->cur;
    s->cur = NULL;
  } else {
    if (n > in->batch_rows) n = in->batch_rows;
    ST_TRY(st_table_slice(s->cur, s->cur_off, n, out, err));
    s->cur_off += n;
  }
  /* progress: proportional to rows */
  in->bytes_read = in->num_rows > 0 ? (uint64_t)((double)in->file_size * (double)(in->rows_read + (*out)->n_rows) /
                                                 (double)in->num_rows)
                                    : 0;
  return 0;
}

static void pq_close(st_input *in) {
  pq_state *s = in->state;
  if (!s) return;
  st_table_free(s->cur);
  st_pq_close(s->r);
  free(s->large);
  free(s);
  in->state = NULL;
}

const st_reader_format st_reader_parquet = {"parquet", pq_bid, pq_open, pq_next, pq_close};
