/*
** This file declares skytile's Thrift compact protocol decoder and encoder
** (module parquet), the wire format of every Parquet footer and page header.
**
** Wire format (Thrift compact protocol spec):
**   varint     ULEB128, at most 10 bytes for 64 bits
**   i16/i32/i64  zigzag then varint;  i8 one byte;  double 8 bytes LE
**   binary     varint length, then that many bytes
**   field      byte DDDDTTTT: D = field id delta (1..15) from the previous
**              field of the same struct, T = type; D == 0: the id follows as a
**              zigzag varint i16.  T 1/2 = bool true/false (no value bytes).
**              A 0 byte (STOP) ends the struct.
**   list/set   byte SSSSTTTT: S = size (0..14), T = element type; S == 15:
**              the size follows as a varint.  Bool elements take one byte.
**   map        varint size; when size > 0, a byte KKKKVVVV of key/value types.
**
** Decoding invariants (untrusted input):
**   1. Every read checks the remaining input first; nothing reads past `end`.
**   2. A collection's element count is checked against the bytes left before
**      anything is allocated (each element takes at least one byte).
**   3. Struct nesting is bounded by ST_TC_MAX_DEPTH, both for structs decoded
**      by the Parquet decoders and for unknown fields skipped by st_tc_skip,
**      which is iterative (an explicit stack), so input cannot drive deep
**      recursion.
**   4. Errors are ST_ERR_CORRUPT with a message naming what was being read.
**
** The encoder appends to an st_buf; errors (out of memory) are sticky in
** st_tc_out.rc so call sites stay short; check st_tc_out_finish at the end.
*/
#ifndef ST_PARQUET_THRIFT_H
#define ST_PARQUET_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/mem.h"

enum {
  ST_TC_STOP = 0, ST_TC_TRUE = 1, ST_TC_FALSE = 2, ST_TC_I8 = 3, ST_TC_I16 = 4, ST_TC_I32 = 5,
  ST_TC_I64 = 6, ST_TC_DOUBLE = 7, ST_TC_BINARY = 8, ST_TC_LIST = 9, ST_TC_SET = 10,
  ST_TC_MAP = 11, ST_TC_STRUCT = 12
};
#define ST_TC_BOOL ST_TC_TRUE /* element type of list<bool> */
#define ST_TC_MAX_DEPTH 64

/* ---- decoding ------------------------------------------------------------ */
typedef struct st_tc_in {
  const uint8_t *p;         /* next byte                                        */
  const uint8_t *end;       /* one past the last byte                           */
  int depth;                /* structs currently open                           */
  st_error *err;            /* where failures are reported                      */
} st_tc_in;

void st_tc_in_init(st_tc_in *in, const uint8_t *data, size_t len, st_error *err);
static inline size_t st_tc_left(const st_tc_in *in) { return (size_t)(in->end - in->p); }

/* The common cases (a one-byte varint, a field header with a short id
** delta, a valid i32) are inline: footers hold ~100k fields per MB and a
** call per field was most of their decode time.  Anything else, including
** every error, goes through the out-of-line *_slow functions, which give
** the same results and messages as before. */
int st_tc_varint_slow(st_tc_in *in, uint64_t *v);
static inline int st_tc_varint(st_tc_in *in, uint64_t *v) {
  if (in->p < in->end && *in->p < 0x80) {
    *v = *in->p++;
    return 0;
  }
  return st_tc_varint_slow(in, v);
}
int st_tc_i8(st_tc_in *in, int8_t *v);
int st_tc_i16(st_tc_in *in, int16_t *v);
int st_tc_i32_slow(st_tc_in *in, int32_t *v);
static inline int st_tc_i32(st_tc_in *in, int32_t *v) {
  if (in->p < in->end && *in->p < 0x80) {
    uint32_t u = *in->p++;
    *v = (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
    return 0;
  }
  return st_tc_i32_slow(in, v);
}
static inline int st_tc_i64(st_tc_in *in, int64_t *v) {
  uint64_t u;
  int rc = st_tc_varint(in, &u);
  if (rc) return rc;
  *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
  return 0;
}
int st_tc_double(st_tc_in *in, double *v);
/* Binary/string: *p points into the input (not copied); len checked. */
int st_tc_binary(st_tc_in *in, const uint8_t **p, uint32_t *len);
/* A bool list element (one byte: 1 true, 0/2 false). */
int st_tc_bool_elem(st_tc_in *in, bool *v);

/* Enter/leave a struct (depth accounting).  Call enter before its fields. */
int st_tc_struct_enter(st_tc_in *in);
void st_tc_struct_leave(st_tc_in *in);
/*
** Read the next field header of the current struct.  *type = ST_TC_STOP at the
** end.  last_id carries the previous field id (start with 0).  For bool fields
** *type is ST_TC_TRUE or ST_TC_FALSE and there is no value to read.
*/
int st_tc_field_slow(st_tc_in *in, int16_t *last_id, int *type, int16_t *id);
static inline int st_tc_field(st_tc_in *in, int16_t *last_id, int *type, int16_t *id) {
  if (in->p < in->end) {
    uint8_t b = *in->p;
    int t = b & 0x0f, delta = b >> 4;
    if (delta && t != ST_TC_STOP && t <= ST_TC_STRUCT && *last_id + delta <= INT16_MAX) {
      in->p++;
      *id = (int16_t)(*last_id + delta);
      *last_id = *id;
      *type = t;
      return 0;
    }
  }
  return st_tc_field_slow(in, last_id, type, id);
}
/* List/set header: element type and count (count <= bytes left). */
int st_tc_list(st_tc_in *in, int *elem_type, uint32_t *n);
/* Map header: key/value types and pair count (2*count <= bytes left). */
int st_tc_map(st_tc_in *in, int *key_type, int *val_type, uint32_t *n);
/*
** Skip one value of the given type (a field value or collection element;
** `type` ST_TC_TRUE/FALSE as a field type has no bytes, as an element type
** (in_collection) one byte).  Iterative; depth-bounded.
*/
int st_tc_skip(st_tc_in *in, int type, bool in_collection);
/* Name of a wire type, for messages. */
const char *st_tc_type_name(int type);

/* ---- encoding ------------------------------------------------------------ */
typedef struct st_tc_out {
  st_buf *b;                /* appended to                                      */
  int depth;                /* open structs                                     */
  int16_t last[ST_TC_MAX_DEPTH + 1]; /* previous field id per open struct      */
  int rc;                   /* first error (sticky), 0 if none                 */
  st_error *err;
} st_tc_out;

void st_tc_out_init(st_tc_out *o, st_buf *b, st_error *err);
int st_tc_out_finish(st_tc_out *o);           /* o->rc; checks structs closed */

void st_tc_w_begin(st_tc_out *o);             /* open a struct (top or element) */
void st_tc_w_end(st_tc_out *o);               /* write STOP, close it          */
void st_tc_w_field(st_tc_out *o, int16_t id, int type);   /* field header      */
void st_tc_w_struct(st_tc_out *o, int16_t id);/* field header + begin          */
void st_tc_w_bool(st_tc_out *o, int16_t id, bool v);
void st_tc_w_i8(st_tc_out *o, int16_t id, int8_t v);
void st_tc_w_i16(st_tc_out *o, int16_t id, int16_t v);
void st_tc_w_i32(st_tc_out *o, int16_t id, int32_t v);
void st_tc_w_i64(st_tc_out *o, int16_t id, int64_t v);
void st_tc_w_double(st_tc_out *o, int16_t id, double v);
void st_tc_w_binary(st_tc_out *o, int16_t id, const void *p, size_t n);
void st_tc_w_string(st_tc_out *o, int16_t id, const char *s);
/* list field header: id, element type, count; then write the elements raw. */
void st_tc_w_list(st_tc_out *o, int16_t id, int elem_type, uint32_t n);
void st_tc_w_list_header(st_tc_out *o, int elem_type, uint32_t n);
void st_tc_w_map_header(st_tc_out *o, int key_type, int val_type, uint32_t n);
/* Raw values (list elements). */
void st_tc_w_varint(st_tc_out *o, uint64_t v);
void st_tc_w_zigzag(st_tc_out *o, int64_t v);
void st_tc_w_raw_binary(st_tc_out *o, const void *p, size_t n);
void st_tc_w_bool_elem(st_tc_out *o, bool v);
void st_tc_w_bytes(st_tc_out *o, const void *p, size_t n);

#endif
