/*
** This file implements the interpretation of column chunk statistics: which
** bounds may be trusted (column orders, PARQUET-251) and their typed values.
**
** Sort order of a column (parquet.thrift ColumnOrder comment):
**   SIGNED    BOOLEAN, INT32/INT64 (plain, signed INTEGER/INT_*, DATE, TIME,
**             TIMESTAMP, DECIMAL), FLOAT, DOUBLE, FLOAT16, DECIMAL on
**             BYTE_ARRAY/FLBA (numeric order of the value)
**   UNSIGNED  unsigned INTEGER/UINT_*, BYTE_ARRAY and FLBA (bytewise)
**   UNKNOWN   INT96, INTERVAL, nested annotations on leaves
**
** Which fields are used:
**   1. The file declares column orders and this column's is a member we do
**      not know -> no bounds (spec: "min and max stats ... should be
**      ignored").  INT96 -> no bounds.
**   2. min_value/max_value when present and the file declares the column's
**      order (TYPE_DEFINED_ORDER, or IEEE_754_TOTAL_ORDER for floats).  The
**      spec leaves them undefined without column_orders, and pyarrow then
**      ignores them too.
**   3. Otherwise the deprecated min/max, written by old writers with signed
**      comparison: trusted only for SIGNED columns of fixed width (not
**      BYTE_ARRAY/FLBA, whose signed bytewise order was wrong).
**   4. Values must have the physical width (4/8 bytes, 1 for BOOLEAN, the
**      FLBA width); a malformed value is dropped, never read out of bounds.
**   5. Floating point: a NaN bound is dropped; min +0.0 becomes -0.0 and max
**      -0.0 becomes +0.0.
*/
#include <math.h>
#include <string.h>

#include "parquet/meta.h"

enum { ORDER_SIGNED, ORDER_UNSIGNED, ORDER_UNKNOWN };

static bool lt_is(const st_pq_schema_elem *e, int lt, int ct) {
  return e->logical.kind == lt || (e->logical.kind == ST_PQ_LT_NONE && ct && e->converted_type == ct);
}

static bool is_unsigned_int(const st_pq_schema_elem *e) {
  if (e->logical.kind == ST_PQ_LT_INTEGER) return !e->logical.is_signed;
  if (e->logical.kind != ST_PQ_LT_NONE) return false;
  return e->converted_type >= ST_PQ_CT_UINT_8 && e->converted_type <= ST_PQ_CT_UINT_64;
}

static int sort_order(const st_pq_schema_elem *e) {
  switch (e->type) {
  case ST_PQ_BOOLEAN:
  case ST_PQ_FLOAT:
  case ST_PQ_DOUBLE: return ORDER_SIGNED;
  case ST_PQ_INT32:
  case ST_PQ_INT64: return is_unsigned_int(e) ? ORDER_UNSIGNED : ORDER_SIGNED;
  case ST_PQ_INT96: return ORDER_UNKNOWN;
  case ST_PQ_BYTE_ARRAY:
  case ST_PQ_FIXED_LEN_BYTE_ARRAY:
    if (lt_is(e, ST_PQ_LT_DECIMAL, ST_PQ_CT_DECIMAL) || e->logical.kind == ST_PQ_LT_FLOAT16)
      return ORDER_SIGNED;
    if (e->converted_type == ST_PQ_CT_INTERVAL && e->logical.kind == ST_PQ_LT_NONE) return ORDER_UNKNOWN;
    if (e->logical.kind == ST_PQ_LT_LIST || e->logical.kind == ST_PQ_LT_MAP ||
        e->logical.kind == ST_PQ_LT_VARIANT || e->logical.kind == ST_PQ_LT_GEOMETRY ||
        e->logical.kind == ST_PQ_LT_GEOGRAPHY)
      return ORDER_UNKNOWN;
    return ORDER_UNSIGNED;
  default: return ORDER_UNKNOWN;
  }
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Decode one bound; false when it cannot be used. is_min selects the zero rule. */
static bool decode_bound(const st_pq_schema_elem *e, const uint8_t *p, uint32_t len, bool is_min,
                         st_pq_value *v) {
  memset(v, 0, sizeof *v);
  bool dec = lt_is(e, ST_PQ_LT_DECIMAL, ST_PQ_CT_DECIMAL);
  v->is_decimal = dec;
  v->scale = dec ? (e->logical.kind == ST_PQ_LT_DECIMAL ? e->logical.scale : e->scale) : 0;
  double d;
  switch (e->type) {
  case ST_PQ_BOOLEAN:
    if (len != 1) return false;
    v->kind = ST_PQ_VALUE_BOOL;
    v->b = p[0] != 0;
    return true;
  case ST_PQ_INT32:
    if (len != 4) return false;
    if (is_unsigned_int(e)) {
      v->kind = ST_PQ_VALUE_UINT;
      v->u = le32(p);
    } else {
      v->kind = ST_PQ_VALUE_INT;
      v->i = (int32_t)le32(p);
    }
    return true;
  case ST_PQ_INT64:
    if (len != 8) return false;
    if (is_unsigned_int(e)) {
      v->kind = ST_PQ_VALUE_UINT;
      v->u = le64(p);
    } else {
      v->kind = ST_PQ_VALUE_INT;
      v->i = (int64_t)le64(p);
    }
    return true;
  case ST_PQ_FLOAT: {
    if (len != 4) return false;
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, 4);
    d = f;
    break;
  }
  case ST_PQ_DOUBLE: {
    if (len != 8) return false;
    uint64_t u = le64(p);
    memcpy(&d, &u, 8);
    break;
  }
  case ST_PQ_FIXED_LEN_BYTE_ARRAY:
    if (e->logical.kind == ST_PQ_LT_FLOAT16) {
      if (len != 2 || e->type_length != 2) return false;
      d = st_half_to_double((uint16_t)(p[0] | p[1] << 8));
      break;
    }
    if ((int64_t)len != e->type_length) return false;
    /* fall through */
  case ST_PQ_BYTE_ARRAY:
    if (dec && (len == 0 || len > 32)) return false;
    v->kind = ST_PQ_VALUE_BYTES;
    v->bytes = p;
    v->len = len;
    v->is_text = !dec && (lt_is(e, ST_PQ_LT_STRING, ST_PQ_CT_UTF8) || lt_is(e, ST_PQ_LT_ENUM,
                                                                            ST_PQ_CT_ENUM) ||
                          lt_is(e, ST_PQ_LT_JSON, ST_PQ_CT_JSON));
    return true;
  default:
    return false;
  }
  if (isnan(d)) return false;
  if (d == 0.0) d = is_min ? -0.0 : 0.0;
  v->kind = ST_PQ_VALUE_DOUBLE;
  v->d = d;
  return true;
}

int st_pq_stats_bounds(const st_pq_schema_elem *e, int column_order, bool file_has_orders,
                       const st_pq_stats *s,
                       st_pq_value *min, st_pq_value *max) {
  memset(min, 0, sizeof *min);
  memset(max, 0, sizeof *max);
  if (!e || !e->has_type || !s) return 0;
  int order = sort_order(e);
  if (order == ORDER_UNKNOWN) return 0;
  if (file_has_orders && column_order == ST_PQ_ORDER_UNKNOWN) return 0;
  if (column_order == ST_PQ_ORDER_INT96_TIMESTAMP) return 0;
  int n = 0;
  bool defined = column_order == ST_PQ_ORDER_TYPE_DEFINED || column_order == ST_PQ_ORDER_IEEE754_TOTAL;
  if (defined && (s->has_min || s->has_max)) {
    if (s->has_min && decode_bound(e, s->min, s->min_len, true, min)) n++;
    else memset(min, 0, sizeof *min);
    if (s->has_max && decode_bound(e, s->max, s->max_len, false, max)) n++;
    else memset(max, 0, sizeof *max);
    return n;
  }
  bool legacy_ok =
      order == ORDER_SIGNED && e->type != ST_PQ_BYTE_ARRAY && e->type != ST_PQ_FIXED_LEN_BYTE_ARRAY;
  if (!legacy_ok) return 0;
  if (s->has_legacy_min && decode_bound(e, s->legacy_min, s->legacy_min_len, true, min)) n++;
  else memset(min, 0, sizeof *min);
  if (s->has_legacy_max && decode_bound(e, s->legacy_max, s->legacy_max_len, false, max)) n++;
  else memset(max, 0, sizeof *max);
  return n;
}
