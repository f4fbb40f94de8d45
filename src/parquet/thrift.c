/*
** This file implements the Thrift compact protocol decoder and encoder
** declared in thrift.h (wire format and invariants are described there).
**
** Skipping: st_tc_skip walks unknown values with an explicit stack of at most
** ST_TC_MAX_DEPTH frames (struct / list / map), so a hostile footer full of
** nested unknown structs costs a bounded amount of stack and finishes in time
** linear in its size (every step consumes at least one byte or pops a frame).
*/
#include "parquet/thrift.h"

#include <string.h>

/* ---- decoding ------------------------------------------------------------ */

void st_tc_in_init(st_tc_in *in, const uint8_t *data, size_t len, st_error *err) {
  in->p = data;
  in->end = data + len;
  in->depth = 0;
  in->err = err;
}

const char *st_tc_type_name(int type) {
  static const char *names[] = {"stop", "bool", "bool", "i8", "i16", "i32", "i64",
                                "double", "binary", "list", "set", "map", "struct"};
  return type >= 0 && type <= 12 ? names[type] : "invalid";
}

int st_tc_varint_slow(st_tc_in *in, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 10; i++) {
    ST_SAFETY(in->p < in->end, in->err, "thrift: truncated varint");
    uint8_t b = *in->p++;
    if (i == 9 && b > 1) return st_fail(in->err, ST_ERR_CORRUPT, "thrift: varint overflows 64 bits");
    x |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return st_fail(in->err, ST_ERR_CORRUPT, "thrift: varint longer than 10 bytes");
}

static int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

int st_tc_i32_slow(st_tc_in *in, int32_t *v) {
  uint64_t u;
  ST_TRY(st_tc_varint(in, &u));
  int64_t x = unzigzag(u);
  ST_SAFETY(x >= INT32_MIN && x <= INT32_MAX, in->err, "thrift: i32 value %lld out of range",
            (long long)x);
  *v = (int32_t)x;
  return 0;
}

int st_tc_i16(st_tc_in *in, int16_t *v) {
  uint64_t u;
  ST_TRY(st_tc_varint(in, &u));
  int64_t x = unzigzag(u);
  ST_SAFETY(x >= INT16_MIN && x <= INT16_MAX, in->err, "thrift: i16 value %lld out of range",
            (long long)x);
  *v = (int16_t)x;
  return 0;
}

int st_tc_i8(st_tc_in *in, int8_t *v) {
  ST_SAFETY(in->p < in->end, in->err, "thrift: truncated i8");
  *v = (int8_t)*in->p++;
  return 0;
}

int st_tc_double(st_tc_in *in, double *v) {
  ST_SAFETY(st_tc_left(in) >= 8, in->err, "thrift: truncated double");
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = (u << 8) | in->p[i];
  memcpy(v, &u, 8);
  in->p += 8;
  return 0;
}

int st_tc_binary(st_tc_in *in, const uint8_t **p, uint32_t *len) {
  uint64_t n;
  ST_TRY(st_tc_varint(in, &n));
  ST_SAFETY(n <= st_tc_left(in), in->err, "thrift: binary length %llu exceeds the %zu bytes left",
            (unsigned long long)n, st_tc_left(in));
  *p = in->p;
  *len = (uint32_t)n;
  in->p += n;
  return 0;
}

int st_tc_bool_elem(st_tc_in *in, bool *v) {
  ST_SAFETY(in->p < in->end, in->err, "thrift: truncated bool");
  uint8_t b = *in->p++;
  ST_SAFETY(b <= 2, in->err, "thrift: invalid bool byte %u", b);
  *v = b == 1;
  return 0;
}

int st_tc_struct_enter(st_tc_in *in) {
  ST_SAFETY(in->depth < ST_TC_MAX_DEPTH, in->err, "thrift: structs nested deeper than %d",
            ST_TC_MAX_DEPTH);
  in->depth++;
  return 0;
}

void st_tc_struct_leave(st_tc_in *in) { in->depth--; }

int st_tc_field_slow(st_tc_in *in, int16_t *last_id, int *type, int16_t *id) {
  ST_SAFETY(in->p < in->end, in->err, "thrift: truncated struct (missing stop)");
  uint8_t b = *in->p++;
  int t = b & 0x0f, delta = b >> 4;
  if (t == ST_TC_STOP) {
    ST_SAFETY(delta == 0, in->err, "thrift: invalid field header 0x%02x", b);
    *type = ST_TC_STOP;
    *id = 0;
    return 0;
  }
  ST_SAFETY(t <= ST_TC_STRUCT, in->err, "thrift: unknown field type %d", t);
  if (delta) {
    int nid = *last_id + delta;
    ST_SAFETY(nid <= INT16_MAX, in->err, "thrift: field id overflow");
    *id = (int16_t)nid;
  } else {
    ST_TRY(st_tc_i16(in, id));
  }
  *last_id = *id;
  *type = t;
  return 0;
}

static int check_elem_type(st_tc_in *in, int t) {
  ST_SAFETY(t >= ST_TC_TRUE && t <= ST_TC_STRUCT, in->err, "thrift: invalid element type %d", t);
  return 0;
}

int st_tc_list(st_tc_in *in, int *elem_type, uint32_t *n) {
  ST_SAFETY(in->p < in->end, in->err, "thrift: truncated list header");
  uint8_t b = *in->p++;
  uint64_t cnt = b >> 4;
  if (cnt == 15) ST_TRY(st_tc_varint(in, &cnt));
  *elem_type = b & 0x0f;
  if (cnt) ST_TRY(check_elem_type(in, *elem_type));
  ST_SAFETY(cnt <= st_tc_left(in), in->err, "thrift: list of %llu elements exceeds the %zu bytes left",
            (unsigned long long)cnt, st_tc_left(in));
  *n = (uint32_t)cnt;
  return 0;
}

int st_tc_map(st_tc_in *in, int *key_type, int *val_type, uint32_t *n) {
  uint64_t cnt;
  ST_TRY(st_tc_varint(in, &cnt));
  *key_type = *val_type = 0;
  *n = 0;
  if (!cnt) return 0;
  ST_SAFETY(in->p < in->end, in->err, "thrift: truncated map header");
  uint8_t b = *in->p++;
  *key_type = b >> 4;
  *val_type = b & 0x0f;
  ST_TRY(check_elem_type(in, *key_type));
  ST_TRY(check_elem_type(in, *val_type));
  ST_SAFETY(cnt <= st_tc_left(in) / 2, in->err, "thrift: map of %llu entries exceeds the %zu bytes left",
            (unsigned long long)cnt, st_tc_left(in));
  *n = (uint32_t)cnt;
  return 0;
}

/* Skip a scalar of wire type t; containers are handled by st_tc_skip. */
static int skip_scalar(st_tc_in *in, int t, bool in_collection) {
  uint64_t u;
  const uint8_t *p;
  uint32_t n;
  switch (t) {
  case ST_TC_TRUE:
  case ST_TC_FALSE:
    if (in_collection) {
      ST_SAFETY(in->p < in->end, in->err, "thrift: truncated bool");
      in->p++;
    }
    return 0;
  case ST_TC_I8:
    ST_SAFETY(in->p < in->end, in->err, "thrift: truncated i8");
    in->p++;
    return 0;
  case ST_TC_I16:
  case ST_TC_I32:
  case ST_TC_I64:
    return st_tc_varint(in, &u);
  case ST_TC_DOUBLE:
    ST_SAFETY(st_tc_left(in) >= 8, in->err, "thrift: truncated double");
    in->p += 8;
    return 0;
  case ST_TC_BINARY:
    return st_tc_binary(in, &p, &n);
  default:
    return st_fail(in->err, ST_ERR_CORRUPT, "thrift: cannot skip value of type %d", t);
  }
}

typedef struct skip_frame {
  uint8_t kind;      /* ST_TC_STRUCT, ST_TC_LIST (also sets) or ST_TC_MAP */
  uint8_t t1, t2;    /* list: element type; map: key, value types         */
  int16_t last_id;   /* struct: previous field id                         */
  uint64_t left;     /* list: elements left; map: keys+values left        */
} skip_frame;

int st_tc_skip(st_tc_in *in, int type, bool in_collection) {
  skip_frame st[ST_TC_MAX_DEPTH];
  int sp = 0;
  int t = type;
  bool coll = in_collection;
  for (;;) {
    /* Consume value of type t (scalar directly; container: push a frame). */
    if (t == ST_TC_STRUCT || t == ST_TC_LIST || t == ST_TC_SET || t == ST_TC_MAP) {
      ST_SAFETY(sp < ST_TC_MAX_DEPTH && in->depth + sp < ST_TC_MAX_DEPTH, in->err,
                "thrift: values nested deeper than %d", ST_TC_MAX_DEPTH);
      skip_frame *f = &st[sp];
      memset(f, 0, sizeof *f);
      if (t == ST_TC_STRUCT) {
        f->kind = ST_TC_STRUCT;
      } else if (t == ST_TC_MAP) {
        int kt, vt;
        uint32_t n;
        ST_TRY(st_tc_map(in, &kt, &vt, &n));
        f->kind = ST_TC_MAP;
        f->t1 = (uint8_t)kt;
        f->t2 = (uint8_t)vt;
        f->left = 2 * (uint64_t)n;
      } else {
        int et;
        uint32_t n;
        ST_TRY(st_tc_list(in, &et, &n));
        f->kind = ST_TC_LIST;
        f->t1 = (uint8_t)et;
        f->left = n;
      }
      sp++;
    } else {
      ST_TRY(skip_scalar(in, t, coll));
    }
    /* Find the next value to consume, popping finished frames. */
    for (;;) {
      if (sp == 0) return 0;
      skip_frame *f = &st[sp - 1];
      if (f->kind == ST_TC_STRUCT) {
        int16_t id;
        ST_TRY(st_tc_field(in, &f->last_id, &t, &id));
        if (t == ST_TC_STOP) {
          sp--;
          continue;
        }
        coll = false;
        break;
      }
      if (f->left == 0) {
        sp--;
        continue;
      }
      f->left--;
      if (f->kind == ST_TC_LIST) t = f->t1;
      else t = (f->left & 1) ? f->t1 : f->t2; /* odd left after decrement: a key */
      coll = true;
      break;
    }
  }
}

/* ---- encoding ------------------------------------------------------------ */

void st_tc_out_init(st_tc_out *o, st_buf *b, st_error *err) {
  o->b = b;
  o->depth = 0;
  o->last[0] = 0;
  o->rc = 0;
  o->err = err;
}

int st_tc_out_finish(st_tc_out *o) {
  if (!o->rc && o->depth != 0)
    o->rc = st_fail(o->err, ST_ERR_INVALID, "thrift encoder: %d struct(s) left open", o->depth);
  return o->rc;
}

void st_tc_w_bytes(st_tc_out *o, const void *p, size_t n) {
  if (o->rc || !n) return;
  o->rc = st_buf_append(o->b, p, n, o->err);
}

static void put_byte(st_tc_out *o, uint8_t v) { st_tc_w_bytes(o, &v, 1); }

void st_tc_w_varint(st_tc_out *o, uint64_t v) {
  uint8_t tmp[10];
  int n = 0;
  while (v >= 0x80) {
    tmp[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  tmp[n++] = (uint8_t)v;
  st_tc_w_bytes(o, tmp, (size_t)n);
}

void st_tc_w_zigzag(st_tc_out *o, int64_t v) {
  st_tc_w_varint(o, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void st_tc_w_begin(st_tc_out *o) {
  if (o->rc) return;
  if (o->depth >= ST_TC_MAX_DEPTH) {
    o->rc = st_fail(o->err, ST_ERR_INVALID, "thrift encoder: structs nested too deep");
    return;
  }
  o->depth++;
  o->last[o->depth] = 0;
}

void st_tc_w_end(st_tc_out *o) {
  if (o->rc) return;
  if (o->depth <= 0) {
    o->rc = st_fail(o->err, ST_ERR_INVALID, "thrift encoder: unbalanced struct end");
    return;
  }
  put_byte(o, ST_TC_STOP);
  o->depth--;
}

void st_tc_w_field(st_tc_out *o, int16_t id, int type) {
  if (o->rc) return;
  int16_t last = o->last[o->depth];
  if (id > last && id - last <= 15) {
    put_byte(o, (uint8_t)(((id - last) << 4) | type));
  } else {
    put_byte(o, (uint8_t)type);
    st_tc_w_zigzag(o, id);
  }
  o->last[o->depth] = id;
}

void st_tc_w_struct(st_tc_out *o, int16_t id) {
  st_tc_w_field(o, id, ST_TC_STRUCT);
  st_tc_w_begin(o);
}

void st_tc_w_bool(st_tc_out *o, int16_t id, bool v) {
  st_tc_w_field(o, id, v ? ST_TC_TRUE : ST_TC_FALSE);
}

void st_tc_w_i8(st_tc_out *o, int16_t id, int8_t v) {
  st_tc_w_field(o, id, ST_TC_I8);
  put_byte(o, (uint8_t)v);
}

void st_tc_w_i16(st_tc_out *o, int16_t id, int16_t v) {
  st_tc_w_field(o, id, ST_TC_I16);
  st_tc_w_zigzag(o, v);
}

void st_tc_w_i32(st_tc_out *o, int16_t id, int32_t v) {
  st_tc_w_field(o, id, ST_TC_I32);
  st_tc_w_zigzag(o, v);
}

void st_tc_w_i64(st_tc_out *o, int16_t id, int64_t v) {
  st_tc_w_field(o, id, ST_TC_I64);
  st_tc_w_zigzag(o, v);
}

void st_tc_w_double(st_tc_out *o, int16_t id, double v) {
  uint64_t u;
  uint8_t b[8];
  memcpy(&u, &v, 8);
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(u >> (8 * i));
  st_tc_w_field(o, id, ST_TC_DOUBLE);
  st_tc_w_bytes(o, b, 8);
}

void st_tc_w_raw_binary(st_tc_out *o, const void *p, size_t n) {
  st_tc_w_varint(o, n);
  st_tc_w_bytes(o, p, n);
}

void st_tc_w_binary(st_tc_out *o, int16_t id, const void *p, size_t n) {
  st_tc_w_field(o, id, ST_TC_BINARY);
  st_tc_w_raw_binary(o, p, n);
}

void st_tc_w_string(st_tc_out *o, int16_t id, const char *s) {
  st_tc_w_binary(o, id, s, strlen(s));
}

void st_tc_w_list_header(st_tc_out *o, int elem_type, uint32_t n) {
  if (n < 15) {
    put_byte(o, (uint8_t)((n << 4) | (uint32_t)elem_type));
  } else {
    put_byte(o, (uint8_t)(0xf0 | elem_type));
    st_tc_w_varint(o, n);
  }
}

void st_tc_w_list(st_tc_out *o, int16_t id, int elem_type, uint32_t n) {
  st_tc_w_field(o, id, ST_TC_LIST);
  st_tc_w_list_header(o, elem_type, n);
}

void st_tc_w_map_header(st_tc_out *o, int key_type, int val_type, uint32_t n) {
  st_tc_w_varint(o, n);
  if (n) put_byte(o, (uint8_t)((key_type << 4) | val_type));
}

void st_tc_w_bool_elem(st_tc_out *o, bool v) { put_byte(o, v ? 1 : 2); }
