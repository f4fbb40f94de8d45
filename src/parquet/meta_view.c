/*
** This file implements the public metadata API of skytile/parquet_meta.h: a
** read-only view over the footer (st_pq_file_meta) and schema tree
** (st_pq_tree) that an open reader holds (reader_internal.h).
**
** Nothing is cached or allocated: each call copies scalars into the caller's
** struct and points strings into the reader's parsed footer, which lives as
** long as the reader.  Statistics are interpreted by stats.c.
*/
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "parquet/meta.h"
#include "parquet/reader_internal.h"

/* ---- names -------------------------------------------------------------------- */

const char *st_pq_physical_type_name(int type) {
  static const char *names[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                                "FIXED_LEN_BYTE_ARRAY"};
  return type >= 0 && type <= 7 ? names[type] : "UNKNOWN";
}

const char *st_pq_encoding_name(int enc) {
  static const char *names[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
  return enc >= 0 && enc <= 9 ? names[enc] : "UNKNOWN";
}

const char *st_pq_codec_name(int codec) {
  static const char *names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  return codec >= 0 && codec <= 7 ? names[codec] : "UNKNOWN";
}

static const char *repetition_name(const st_pq_schema_elem *e) {
  if (!e->has_repetition) return "";
  switch (e->repetition) {
  case ST_PQ_REQUIRED: return "REQUIRED";
  case ST_PQ_OPTIONAL: return "OPTIONAL";
  case ST_PQ_REPEATED: return "REPEATED";
  default: return "UNKNOWN";
  }
}

static const char *converted_name(int ct) {
  static const char *names[] = {"", "UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE",
                                "TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
                                "UINT_8", "UINT_16", "UINT_32", "UINT_64", "INT_8", "INT_16", "INT_32",
                                "INT_64", "JSON", "BSON", "INTERVAL"};
  return ct >= 0 && ct <= ST_PQ_CT_INTERVAL ? names[ct] : "UNKNOWN";
}

static const char *unit_name(int unit) {
  switch (unit) {
  case ST_MILLI: return "MILLIS";
  case ST_MICRO: return "MICROS";
  case ST_NANO: return "NANOS";
  default: return "UNKNOWN";
  }
}

static void logical_string(const st_pq_logical *lt, char *out, size_t cap) {
  static const char *simple[] = {"",     "STRING", "MAP",  "LIST", "ENUM", "DECIMAL", "DATE",    "TIME",
                                 "TIMESTAMP", "INTERVAL", "INTEGER", "UNKNOWN", "JSON", "BSON", "UUID",
                                 "FLOAT16", "VARIANT", "GEOMETRY", "GEOGRAPHY"};
  switch (lt->kind) {
  case ST_PQ_LT_DECIMAL: snprintf(out, cap, "DECIMAL(%d,%d)", (int)lt->precision, (int)lt->scale); break;
  case ST_PQ_LT_TIME:
  case ST_PQ_LT_TIMESTAMP:
    snprintf(out, cap, "%s(%s,%s)", lt->kind == ST_PQ_LT_TIME ? "TIME" : "TIMESTAMP", unit_name(lt->unit),
             lt->utc_adjusted ? "UTC" : "local");
    break;
  case ST_PQ_LT_INTEGER:
    snprintf(out, cap, "INTEGER(%d,%s)", (int)lt->bit_width, lt->is_signed ? "signed" : "unsigned");
    break;
  case ST_PQ_LT_OTHER: snprintf(out, cap, "OTHER(%d)", (int)lt->other_id); break;
  default:
    snprintf(out, cap, "%s", lt->kind >= 0 && lt->kind <= ST_PQ_LT_GEOGRAPHY ? simple[lt->kind] : "OTHER");
    break;
  }
}

static const char *order_name(int order) {
  switch (order) {
  case ST_PQ_ORDER_TYPE_DEFINED: return "TYPE_DEFINED_ORDER";
  case ST_PQ_ORDER_IEEE754_TOTAL: return "IEEE_754_TOTAL_ORDER";
  case ST_PQ_ORDER_INT96_TIMESTAMP: return "INT96_TIMESTAMP_ORDER";
  default: return "UNDEFINED";
  }
}

/* ---- file ----------------------------------------------------------------------- */

static const st_pq_file_meta *meta_of(const st_pq_reader *r) { return r ? st_pq_reader_meta(r) : NULL; }
static const st_pq_tree *tree_of(const st_pq_reader *r) { return r ? st_pq_reader_schema(r) : NULL; }

int64_t st_pq_footer_num_rows(const st_pq_reader *r) {
  const st_pq_file_meta *m = meta_of(r);
  return m ? m->num_rows : 0;
}

int st_pq_format_version(const st_pq_reader *r) {
  const st_pq_file_meta *m = meta_of(r);
  return m ? m->version : 0;
}

const char *st_pq_created_by(const st_pq_reader *r) {
  const st_pq_file_meta *m = meta_of(r);
  return m ? m->created_by : NULL;
}

int st_pq_num_kv(const st_pq_reader *r) {
  const st_pq_file_meta *m = meta_of(r);
  return m ? m->n_kv : 0;
}

const char *st_pq_kv_key(const st_pq_reader *r, int i) {
  const st_pq_file_meta *m = meta_of(r);
  return m && i >= 0 && i < m->n_kv ? m->kv[i].key : NULL;
}

const char *st_pq_kv_value(const st_pq_reader *r, int i, size_t *len) {
  const st_pq_file_meta *m = meta_of(r);
  if (len) *len = 0;
  if (!m || i < 0 || i >= m->n_kv) return NULL;
  if (len) *len = m->kv[i].value ? m->kv[i].value_len : 0;
  return m->kv[i].value;
}

const char *st_pq_kv_find(const st_pq_reader *r, const char *key, size_t *len) {
  const st_pq_file_meta *m = meta_of(r);
  if (len) *len = 0;
  if (!m || !key) return NULL;
  for (int i = 0; i < m->n_kv; i++)
    if (m->kv[i].key && !strcmp(m->kv[i].key, key)) return st_pq_kv_value(r, i, len);
  return NULL;
}

bool st_pq_is_encrypted(const st_pq_reader *r) {
  const st_pq_file_meta *m = meta_of(r);
  return m && m->has_encryption_algorithm;
}

/* ---- schema ------------------------------------------------------------------------ */

int st_pq_num_elements(const st_pq_reader *r) {
  const st_pq_file_meta *m = meta_of(r);
  return m ? m->n_schema : 0;
}

int st_pq_describe_element(const st_pq_reader *r, int i, st_pq_element_info *out, st_error *err) {
  const st_pq_file_meta *m = meta_of(r);
  const st_pq_tree *s = tree_of(r);
  ST_CHECK(m && s, err, ST_ERR_INVALID, "parquet metadata: no reader");
  ST_CHECK(i >= 0 && i < m->n_schema, err, ST_ERR_INVALID, "parquet metadata: schema element %d out of range",
           i);
  memset(out, 0, sizeof *out);
  const st_pq_schema_elem *e = &m->schema[i];
  out->name = e->name;
  out->num_children = e->num_children;
  out->depth = i < s->n_elems ? s->elem_depth[i] : 0;
  out->column = i < s->n_elems ? s->elem_leaf[i] : -1;
  out->repetition = i == 0 ? "" : repetition_name(e);
  out->physical_type = e->has_type && e->num_children == 0 ? st_pq_physical_type_name(e->type) : "";
  out->type_length = e->has_type && e->type == ST_PQ_FIXED_LEN_BYTE_ARRAY ? e->type_length : 0;
  logical_string(&e->logical, out->logical_type, sizeof out->logical_type);
  snprintf(out->converted_type, sizeof out->converted_type, "%s", converted_name(e->converted_type));
  if (e->converted_type == ST_PQ_CT_DECIMAL)
    snprintf(out->converted_type, sizeof out->converted_type, "DECIMAL(%d,%d)", (int)e->precision,
             (int)e->scale);
  out->has_field_id = e->has_field_id;
  out->field_id = e->field_id;
  return 0;
}

/* ---- leaf columns -------------------------------------------------------------------- */

int st_pq_num_columns(const st_pq_reader *r) {
  const st_pq_tree *s = tree_of(r);
  return s ? s->n_leaves : 0;
}

int st_pq_describe_column(const st_pq_reader *r, int col, st_pq_column_info *out, st_error *err) {
  const st_pq_file_meta *m = meta_of(r);
  const st_pq_tree *s = tree_of(r);
  ST_CHECK(m && s, err, ST_ERR_INVALID, "parquet metadata: no reader");
  ST_CHECK(col >= 0 && col < s->n_leaves, err, ST_ERR_INVALID, "parquet metadata: column %d out of range",
           col);
  memset(out, 0, sizeof *out);
  const st_pq_leaf *l = &s->leaves[col];
  const st_pq_schema_elem *e = &m->schema[l->schema_index];
  out->path = l->path;
  out->element = l->schema_index;
  out->top_column = l->top_column;
  out->physical_type = st_pq_physical_type_name(l->type);
  out->type_length = l->type == ST_PQ_FIXED_LEN_BYTE_ARRAY ? l->type_length : 0;
  logical_string(&e->logical, out->logical_type, sizeof out->logical_type);
  snprintf(out->converted_type, sizeof out->converted_type, "%s", converted_name(e->converted_type));
  if (e->converted_type == ST_PQ_CT_DECIMAL)
    snprintf(out->converted_type, sizeof out->converted_type, "DECIMAL(%d,%d)", (int)e->precision,
             (int)e->scale);
  out->max_def = l->max_def;
  out->max_rep = l->max_rep;
  out->column_order = order_name(l->column_order);
  return 0;
}

int st_pq_column_index(const st_pq_reader *r, const char *path) {
  const st_pq_tree *s = tree_of(r);
  if (!s || !path) return -1;
  for (int i = 0; i < s->n_leaves; i++)
    if (!strcmp(s->leaves[i].path, path)) return i;
  return -1;
}

/* ---- row groups ------------------------------------------------------------------------- */

int st_pq_describe_row_group(const st_pq_reader *r, int rg, st_pq_row_group_info *out, st_error *err) {
  const st_pq_file_meta *m = meta_of(r);
  ST_CHECK(m, err, ST_ERR_INVALID, "parquet metadata: no reader");
  ST_CHECK(rg >= 0 && rg < m->n_row_groups, err, ST_ERR_INVALID,
           "parquet metadata: row group %d out of range",
           rg);
  const st_pq_row_group *g = &m->row_groups[rg];
  memset(out, 0, sizeof *out);
  out->num_rows = g->num_rows;
  out->total_byte_size = g->total_byte_size;
  out->total_compressed_size = g->has_total_compressed_size ? g->total_compressed_size : -1;
  out->file_offset = g->has_file_offset ? g->file_offset : -1;
  out->ordinal = g->has_ordinal ? g->ordinal : -1;
  out->n_sorting = g->n_sorting;
  return 0;
}

int st_pq_row_group_sorting(const st_pq_reader *r, int rg, int i, st_pq_sorting *out, st_error *err) {
  const st_pq_file_meta *m = meta_of(r);
  ST_CHECK(m, err, ST_ERR_INVALID, "parquet metadata: no reader");
  ST_CHECK(rg >= 0 && rg < m->n_row_groups, err, ST_ERR_INVALID,
           "parquet metadata: row group %d out of range",
           rg);
  const st_pq_row_group *g = &m->row_groups[rg];
  ST_CHECK(i >= 0 && i < g->n_sorting, err, ST_ERR_INVALID,
           "parquet metadata: sorting column %d out of range", i);
  out->column = g->sorting[i].column_idx;
  out->descending = g->sorting[i].descending;
  out->nulls_first = g->sorting[i].nulls_first;
  return 0;
}

/* ---- chunks ----------------------------------------------------------------------------- */

int st_pq_describe_chunk(const st_pq_reader *r, int rg, int col, st_pq_chunk_info *out, st_error *err) {
  const st_pq_file_meta *m = meta_of(r);
  const st_pq_tree *s = tree_of(r);
  ST_CHECK(m && s, err, ST_ERR_INVALID, "parquet metadata: no reader");
  ST_CHECK(rg >= 0 && rg < m->n_row_groups, err, ST_ERR_INVALID,
           "parquet metadata: row group %d out of range",
           rg);
  ST_CHECK(col >= 0 && col < s->n_leaves && col < m->row_groups[rg].n_columns, err, ST_ERR_INVALID,
           "parquet metadata: column %d out of range", col);
  const st_pq_column_chunk *cc = &m->row_groups[rg].columns[col];
  const st_pq_column_meta *cm = &cc->meta;
  const st_pq_leaf *l = &s->leaves[col];
  const st_pq_schema_elem *e = &m->schema[l->schema_index];
  memset(out, 0, sizeof *out);
  out->path = l->path;
  out->file_path = cc->file_path;
  out->encrypted = cc->encrypted && !cc->has_meta;
  out->physical_type = st_pq_physical_type_name(l->type);
  out->file_offset = cc->file_offset;
  out->offset_index_offset = cc->has_offset_index ? cc->offset_index_offset : -1;
  out->offset_index_length = cc->has_offset_index ? cc->offset_index_length : 0;
  out->column_index_offset = cc->has_column_index ? cc->column_index_offset : -1;
  out->column_index_length = cc->has_column_index ? cc->column_index_length : 0;
  out->dictionary_page_offset = out->index_page_offset = out->bloom_filter_offset = -1;
  out->bloom_filter_length = -1;
  out->codec = "UNKNOWN";
  if (!cc->has_meta) return 0;
  out->codec = st_pq_codec_name(cm->codec);
  out->n_encodings = cm->n_encodings;
  for (int i = 0; i < cm->n_encodings && i < 16; i++)
    out->encodings[i] = st_pq_encoding_name(cm->encodings[i]);
  out->num_values = cm->num_values;
  out->compressed_size = cm->total_compressed_size;
  out->uncompressed_size = cm->total_uncompressed_size;
  out->data_page_offset = cm->data_page_offset;
  if (cm->has_dictionary_page_offset) out->dictionary_page_offset = cm->dictionary_page_offset;
  if (cm->has_index_page_offset) out->index_page_offset = cm->index_page_offset;
  if (cm->has_bloom_filter_offset) out->bloom_filter_offset = cm->bloom_filter_offset;
  if (cm->has_bloom_filter_length) out->bloom_filter_length = cm->bloom_filter_length;
  if (!cm->has_stats) return 0;
  const st_pq_stats *st = &cm->stats;
  out->has_stats = true;
  st_pq_stats_bounds(e, l->column_order, m->has_column_orders, st, &out->min, &out->max);
  out->has_min_max = out->min.kind != ST_PQ_VALUE_NONE && out->max.kind != ST_PQ_VALUE_NONE;
  out->has_null_count = st->has_null_count;
  out->null_count = st->null_count;
  out->has_distinct_count = st->has_distinct_count;
  out->distinct_count = st->distinct_count;
  out->has_nan_count = st->has_nan_count;
  out->nan_count = st->nan_count;
  out->has_min_exact = st->has_is_min_exact;
  out->min_exact = st->has_is_min_exact && st->is_min_exact;
  out->has_max_exact = st->has_is_max_exact;
  out->max_exact = st->has_is_max_exact && st->is_max_exact;
  return 0;
}

/* ---- formatting ----------------------------------------------------------------------------- */

/* Unscaled integer magnitude text (digits of |v|) and sign into buf. */
static void fmt_scaled(char *buf, size_t cap, bool neg, const char *digits, int scale) {
  size_t nd = strlen(digits);
  if (scale <= 0) {
    snprintf(buf, cap, "%s%s", neg ? "-" : "", digits);
    return;
  }
  char tmp[160];
  size_t k = 0;
  if (neg) tmp[k++] = '-';
  if ((int)nd <= scale) {
    tmp[k++] = '0';
    tmp[k++] = '.';
    for (int z = 0; z < scale - (int)nd && k < sizeof tmp - 2; z++) tmp[k++] = '0';
    for (size_t i = 0; i < nd && k < sizeof tmp - 1; i++) tmp[k++] = digits[i];
  } else {
    for (size_t i = 0; i < nd && k < sizeof tmp - 2; i++) {
      if ((int)(nd - i) == scale) tmp[k++] = '.';
      tmp[k++] = digits[i];
    }
  }
  tmp[k] = 0;
  snprintf(buf, cap, "%s", tmp);
}

/* Decimal digits of a big-endian two's complement integer of up to 32 bytes. */
static void be_to_digits(const uint8_t *p, size_t len, bool *neg, char *digits, size_t cap) {
  uint8_t mag[32];
  *neg = len > 0 && (p[0] & 0x80);
  for (size_t i = 0; i < len; i++) mag[i] = *neg ? (uint8_t)~p[i] : p[i];
  if (*neg) { /* two's complement magnitude: ~x + 1 */
    for (size_t i = len; i-- > 0;)
      if (++mag[i] != 0) break;
  }
  /* repeated division by 10 */
  char rev[100];
  size_t nr = 0;
  bool nonzero = true;
  while (nonzero && nr < sizeof rev) {
    unsigned rem = 0;
    nonzero = false;
    for (size_t i = 0; i < len; i++) {
      unsigned cur = rem * 256 + mag[i];
      mag[i] = (uint8_t)(cur / 10);
      rem = cur % 10;
      if (mag[i]) nonzero = true;
    }
    rev[nr++] = (char)('0' + rem);
  }
  size_t k = 0;
  while (nr > 0 && k + 1 < cap) digits[k++] = rev[--nr];
  digits[k] = 0;
}

int st_pq_value_format(const st_pq_value *v, char *out, size_t cap) {
  char buf[200];
  char digits[100];
  switch (v->kind) {
  case ST_PQ_VALUE_BOOL: snprintf(buf, sizeof buf, "%s", v->b ? "true" : "false"); break;
  case ST_PQ_VALUE_INT:
    if (v->is_decimal && v->scale > 0) {
      uint64_t mag = v->i < 0 ? (uint64_t)0 - (uint64_t)v->i : (uint64_t)v->i;
      snprintf(digits, sizeof digits, "%" PRIu64, mag);
      fmt_scaled(buf, sizeof buf, v->i < 0, digits, v->scale);
    } else {
      snprintf(buf, sizeof buf, "%" PRId64, v->i);
    }
    break;
  case ST_PQ_VALUE_UINT: snprintf(buf, sizeof buf, "%" PRIu64, v->u); break;
  case ST_PQ_VALUE_DOUBLE: {
    for (int prec = 1; prec <= 17; prec++) { /* shortest text that reads back exactly */
      snprintf(buf, sizeof buf, "%.*g", prec, v->d);
      if (strtod(buf, NULL) == v->d) break;
    }
    if (v->d == 0 && signbit(v->d)) snprintf(buf, sizeof buf, "-0");
    break;
  }
  case ST_PQ_VALUE_BYTES:
    if (v->is_decimal && v->len > 0 && v->len <= 32) {
      bool neg;
      be_to_digits(v->bytes, v->len, &neg, digits, sizeof digits);
      fmt_scaled(buf, sizeof buf, neg, digits, v->scale);
      break;
    }
    if (v->is_text) { /* text: copied as is (the caller escapes if needed) */
      size_t n = v->len;
      if (cap > 0) {
        size_t k = n < cap - 1 ? n : cap - 1;
        if (k) memcpy(out, v->bytes, k);
        out[k] = 0;
      }
      return (int)n;
    } else {
      size_t need = 2 + 2 * v->len;
      if (cap > 0) {
        static const char hex[] = "0123456789abcdef";
        size_t k = 0;
        const char *pre = "0x";
        for (int j = 0; j < 2 && k + 1 < cap; j++) out[k++] = pre[j];
        for (size_t i = 0; i < 2 * v->len && k + 1 < cap; i++)
          out[k++] = hex[(i & 1) ? v->bytes[i / 2] & 15 : v->bytes[i / 2] >> 4];
        out[k] = 0;
      }
      return (int)need;
    }
  default: snprintf(buf, sizeof buf, "%s", ""); break;
  }
  size_t n = strlen(buf);
  if (cap > 0) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, buf, k);
    out[k] = 0;
  }
  return (int)n;
}
