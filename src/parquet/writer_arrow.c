/*
** This file implements the "ARROW:schema" key/value of files written by the
** Parquet writer: the base64 of an Arrow IPC Schema message, so that Arrow
** readers restore the exact Arrow types (large strings, durations, time
** zones, dictionary columns, unsigned integers...) of the written table.
**
** IPC framing: 0xFFFFFFFF, int32 length of the flatbuffer (padded to 8),
** the flatbuffer holding a Message { version V5, header Schema }.
**
** Flatbuffer layout, built front to back: every table is preceded by its
** vtable ([u16 vtable bytes][u16 table bytes][u16 field offset]...), the table
** starts (4- or 8-aligned) with an i32 soffset back to the vtable, then its
** inline fields, each aligned to its size.  References to strings, vectors
** and sub-tables are u32 offsets that must point forward: they are written
** as placeholders and patched once the referenced object is emitted after
** the table (children are emitted after their parent, depth first, which
** keeps every target at a higher address).
*/
#include <string.h>

#include "skytile.h"
#include "parquet/writer_int.h"

typedef struct fb {
  st_buf b;
  int rc;
  int64_t next_dict_id;     /* DictionaryEncoding ids, in field order         */
  st_error *err;
} fb;

static void fb_pad(fb *f, size_t align) {
  static const uint8_t zero[8] = {0};
  size_t m = f->b.len % align;
  if (m && !f->rc) f->rc = st_buf_append(&f->b, zero, align - m, f->err);
}

static size_t fb_put(fb *f, const void *p, size_t n) {
  size_t at = f->b.len;
  if (!f->rc) f->rc = st_buf_append(&f->b, p, n, f->err);
  return at;
}

static void fb_patch(fb *f, size_t field_pos, size_t target) {
  if (f->rc) return;
  uint32_t v = (uint32_t)(target - field_pos);
  memcpy(f->b.data + field_pos, &v, 4);
}

/* One table being written: up to 8 fields of given sizes. */
typedef struct fb_field {
  int size;                 /* 0 = absent, 1/2/4/8 bytes                      */
  uint64_t value;           /* scalar value (offset fields: 0 placeholder)    */
  size_t pos;               /* written position                               */
} fb_field;

/* Emit vtable + table; returns the table position; fields[i].pos is filled. */
static size_t fb_table(fb *f, fb_field *fields, int n) {
  /* table layout: soffset, then fields by decreasing size (natural alignment) */
  uint16_t off[16] = {0};
  size_t tsize = 4;
  bool has8 = false;
  for (int sz = 8; sz >= 1; sz /= 2)
    for (int i = 0; i < n; i++)
      if (fields[i].size == sz) {
        if (sz == 8) has8 = true;
        while (tsize % (size_t)sz) tsize++;
        off[i] = (uint16_t)tsize;
        tsize += (size_t)sz;
      }
  /* vtable */
  fb_pad(f, 2);
  size_t vt = f->b.len;
  uint16_t hdr[2] = {(uint16_t)(4 + 2 * n), (uint16_t)tsize};
  fb_put(f, hdr, 4);
  fb_put(f, off, (size_t)(2 * n));
  /* table: 8-aligned when it holds 8-byte fields (offsets inside are then aligned) */
  fb_pad(f, has8 ? 8 : 4);
  size_t t = f->b.len;
  uint8_t tmp[128] = {0};
  int32_t so = (int32_t)(t - vt);
  memcpy(tmp, &so, 4);
  for (int i = 0; i < n; i++)
    if (fields[i].size) {
      memcpy(tmp + off[i], &fields[i].value, (size_t)fields[i].size);   /* little-endian */
      fields[i].pos = t + off[i];
    }
  fb_put(f, tmp, tsize);
  return t;
}

static size_t fb_string(fb *f, const char *s) {
  fb_pad(f, 4);
  uint32_t n = (uint32_t)strlen(s);
  size_t at = fb_put(f, &n, 4);
  fb_put(f, s, n + 1);
  return at;
}

/* A vector of n u32 offsets (placeholders); returns its position; slot i at +4+4i. */
static size_t fb_offset_vector(fb *f, uint32_t n) {
  fb_pad(f, 4);
  size_t at = fb_put(f, &n, 4);
  uint32_t z = 0;
  for (uint32_t i = 0; i < n; i++) fb_put(f, &z, 4);
  return at;
}

/* Arrow Type union members. */
enum {
  AT_NULL = 1, AT_INT = 2, AT_FLOAT = 3, AT_BINARY = 4, AT_UTF8 = 5, AT_BOOL = 6, AT_DECIMAL = 7,
  AT_DATE = 8, AT_TIME = 9, AT_TIMESTAMP = 10, AT_LIST = 12, AT_STRUCT = 13, AT_FIXED_BINARY = 15,
  AT_FIXED_LIST = 16, AT_MAP = 17, AT_DURATION = 18, AT_LARGE_BINARY = 19, AT_LARGE_UTF8 = 20,
  AT_LARGE_LIST = 21
};

static int type_of(const st_field *t) {
  switch (t->type) {
  case ST_T_NULL: return AT_NULL;
  case ST_T_BOOL: return AT_BOOL;
  case ST_T_INT8: case ST_T_INT16: case ST_T_INT32: case ST_T_INT64: case ST_T_UINT8:
  case ST_T_UINT16: case ST_T_UINT32: case ST_T_UINT64: return AT_INT;
  case ST_T_FLOAT16: case ST_T_FLOAT: case ST_T_DOUBLE: return AT_FLOAT;
  case ST_T_DECIMAL128: case ST_T_DECIMAL256: return AT_DECIMAL;
  case ST_T_STRING: return AT_UTF8;
  case ST_T_BINARY: return AT_BINARY;
  case ST_T_LARGE_STRING: return AT_LARGE_UTF8;
  case ST_T_LARGE_BINARY: return AT_LARGE_BINARY;
  case ST_T_FIXED_BINARY: return AT_FIXED_BINARY;
  case ST_T_DATE32: case ST_T_DATE64: return AT_DATE;
  case ST_T_TIME32: case ST_T_TIME64: return AT_TIME;
  case ST_T_TIMESTAMP: return AT_TIMESTAMP;
  case ST_T_DURATION: return AT_DURATION;
  case ST_T_LIST: return AT_LIST;
  case ST_T_LARGE_LIST: return AT_LARGE_LIST;
  case ST_T_FIXED_LIST: return AT_FIXED_LIST;
  case ST_T_STRUCT: return AT_STRUCT;
  case ST_T_MAP: return AT_MAP;
  default: return 0;
  }
}

static void int_type(const st_field *t, int *bits, bool *sgn) {
  switch (t->type) {
  case ST_T_INT8: *bits = 8; *sgn = true; break;
  case ST_T_INT16: *bits = 16; *sgn = true; break;
  case ST_T_INT32: *bits = 32; *sgn = true; break;
  case ST_T_UINT8: *bits = 8; *sgn = false; break;
  case ST_T_UINT16: *bits = 16; *sgn = false; break;
  case ST_T_UINT32: *bits = 32; *sgn = false; break;
  case ST_T_UINT64: *bits = 64; *sgn = false; break;
  default: *bits = 64; *sgn = true; break;
  }
}

/* Emit the type table of field t (after the Field table); returns its position. */
static size_t emit_type(fb *f, const st_field *t) {
  fb_field x[4];
  memset(x, 0, sizeof x);
  int n = 0;
  switch (t->type) {
  case ST_T_INT8: case ST_T_INT16: case ST_T_INT32: case ST_T_INT64: case ST_T_UINT8:
  case ST_T_UINT16: case ST_T_UINT32: case ST_T_UINT64: {
    int bits;
    bool sgn;
    int_type(t, &bits, &sgn);
    x[0] = (fb_field){4, (uint64_t)bits, 0};
    x[1] = (fb_field){1, sgn, 0};
    n = 2;
    break;
  }
  case ST_T_FLOAT16: case ST_T_FLOAT: case ST_T_DOUBLE:
    x[0] = (fb_field){2, t->type == ST_T_FLOAT16 ? 0u : t->type == ST_T_FLOAT ? 1u : 2u, 0};
    n = 1;
    break;
  case ST_T_DECIMAL128: case ST_T_DECIMAL256:
    x[0] = (fb_field){4, (uint32_t)t->precision, 0};
    x[1] = (fb_field){4, (uint32_t)t->scale, 0};
    x[2] = (fb_field){4, t->type == ST_T_DECIMAL128 ? 128u : 256u, 0};
    n = 3;
    break;
  case ST_T_DATE32: case ST_T_DATE64:
    x[0] = (fb_field){2, t->type == ST_T_DATE32 ? 0u : 1u, 0};
    n = 1;
    break;
  case ST_T_TIME32: case ST_T_TIME64:
    x[0] = (fb_field){2, (uint64_t)t->unit, 0};
    x[1] = (fb_field){4, t->type == ST_T_TIME32 ? 32u : 64u, 0};
    n = 2;
    break;
  case ST_T_TIMESTAMP:
    x[0] = (fb_field){2, (uint64_t)t->unit, 0};
    n = 1;
    if (t->tz && t->tz[0]) {
      x[1] = (fb_field){4, 0, 0};
      n = 2;
    }
    break;
  case ST_T_DURATION:
    x[0] = (fb_field){2, (uint64_t)t->unit, 0};
    n = 1;
    break;
  case ST_T_FIXED_BINARY: case ST_T_FIXED_LIST:
    x[0] = (fb_field){4, (uint32_t)t->byte_width, 0};
    n = 1;
    break;
  case ST_T_MAP:
    x[0] = (fb_field){1, t->keys_sorted, 0};
    n = 1;
    break;
  default:
    break;
  }
  size_t at = fb_table(f, x, n);
  if (t->type == ST_T_TIMESTAMP && n == 2) fb_patch(f, x[1].pos, fb_string(f, t->tz));
  return at;
}

static int emit_fields(fb *f, const st_field *parent, size_t slot, int depth);

static void emit_kv(fb *f, const st_field *fl, size_t slot) {
  size_t v = fb_offset_vector(f, (uint32_t)fl->n_meta);
  fb_patch(f, slot, v);
  for (int i = 0; i < fl->n_meta; i++) {
    fb_field x[2] = {{4, 0, 0}, {4, 0, 0}};
    size_t t = fb_table(f, x, 2);
    fb_patch(f, v + 4 + 4 * (size_t)i, t);
    fb_patch(f, x[0].pos, fb_string(f, fl->meta_keys[i]));
    fb_patch(f, x[1].pos, fb_string(f, fl->meta_values[i] ? fl->meta_values[i] : ""));
  }
}

/* The Field tables of parent's children, as a vector referenced from slot. */
static int emit_fields(fb *f, const st_field *parent, size_t slot, int depth) {
  if (depth > 64) return f->rc = st_fail(f->err, ST_ERR_UNSUPPORTED, "arrow schema: too deep");
  int n = parent->n_children;
  size_t v = fb_offset_vector(f, (uint32_t)n);
  fb_patch(f, slot, v);
  for (int i = 0; i < n && !f->rc; i++) {
    const st_field *c = &parent->children[i];
    int at = type_of(c);
    if (!at) return f->rc = st_fail(f->err, ST_ERR_UNSUPPORTED, "arrow schema: type %s",
                                     st_type_name(c->type));
    /* Field: name, nullable, type_type, type, dictionary, children, custom_metadata */
    fb_field x[7];
    memset(x, 0, sizeof x);
    x[0] = (fb_field){4, 0, 0};
    x[1] = (fb_field){1, c->nullable, 0};
    x[2] = (fb_field){1, (uint64_t)at, 0};
    x[3] = (fb_field){4, 0, 0};
    if (c->dict_encoded) x[4] = (fb_field){4, 0, 0};
    x[5] = (fb_field){4, 0, 0};
    if (c->n_meta) x[6] = (fb_field){4, 0, 0};
    size_t t = fb_table(f, x, 7);
    fb_patch(f, v + 4 + 4 * (size_t)i, t);
    fb_patch(f, x[0].pos, fb_string(f, c->name ? c->name : ""));
    fb_patch(f, x[3].pos, emit_type(f, c));
    if (c->dict_encoded) {
      /* DictionaryEncoding { id: long, indexType: Int, isOrdered, dictionaryKind } */
      fb_field d[2] = {{8, (uint64_t)f->next_dict_id++, 0}, {4, 0, 0}};
      size_t dt = fb_table(f, d, 2);
      fb_patch(f, x[4].pos, dt);
      fb_field it[2] = {{4, 32, 0}, {1, 1, 0}};
      fb_patch(f, d[1].pos, fb_table(f, it, 2));
    }
    ST_TRY(emit_fields(f, c, x[5].pos, depth + 1));
    if (c->n_meta) emit_kv(f, c, x[6].pos);
  }
  return f->rc;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int st_wr_arrow_schema(const st_field *schema, char **out, st_error *err) {
  *out = NULL;
  fb f;
  st_buf_init(&f.b);
  f.rc = 0;
  f.err = err;
  f.next_dict_id = 0;
  /* IPC prefix, patched at the end */
  uint32_t pre[2] = {0xffffffffu, 0};
  fb_put(&f, pre, 8);
  size_t base = f.b.len;
  uint32_t root = 0;
  size_t root_slot = fb_put(&f, &root, 4);
  /* Message { version: short = V5 (4), header_type: ubyte = Schema (1), header, bodyLength } */
  fb_field m[4] = {{2, 4, 0}, {1, 1, 0}, {4, 0, 0}, {8, 0, 0}};
  size_t mt = fb_table(&f, m, 4);
  fb_patch(&f, root_slot, mt);
  /* Schema { endianness: short = Little (0), fields, custom_metadata, features } */
  fb_field s[3] = {{2, 0, 0}, {4, 0, 0}, {0, 0, 0}};
  if (schema->n_meta) s[2] = (fb_field){4, 0, 0};
  size_t stab = fb_table(&f, s, 3);
  fb_patch(&f, m[2].pos, stab);
  emit_fields(&f, schema, s[1].pos, 0);
  if (!f.rc && schema->n_meta) emit_kv(&f, schema, s[2].pos);
  fb_pad(&f, 8);
  if (f.rc) {
    st_buf_free(&f.b);
    return f.rc;
  }
  uint32_t len = (uint32_t)(f.b.len - base);
  memcpy(f.b.data + 4, &len, 4);
  /* base64 */
  size_t n = f.b.len;
  char *o = st_malloc((n + 2) / 3 * 4 + 1);
  if (!o) {
    st_buf_free(&f.b);
    return st_fail(err, ST_ERR_NOMEM, "arrow schema: out of memory");
  }
  size_t j = 0;
  const uint8_t *p = f.b.data;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    o[j++] = B64[v >> 18];
    o[j++] = B64[(v >> 12) & 63];
    o[j++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    o[j++] = i + 2 < n ? B64[v & 63] : '=';
  }
  o[j] = 0;
  st_buf_free(&f.b);
  *out = o;
  return 0;
}
