/*
** This file implements helpers shared by the metadata unit tests
** (test_thrift.c, test_schema.c): reading the footer bytes of a Parquet file
** straight from disk (independently of the reader) and comparing two decoded
** FileMetaData structs field by field.
**
**   OFFSET     SIZE  footer layout read here
**   size-8-F   F     FileMetaData
**   size-8     4     F, little-endian
**   size-4     4     "PAR1" ("PARE": encrypted footer -> ST_ERR_UNSUPPORTED)
*/
#ifndef ST_TEST_THRIFT_UTIL_H
#define ST_TEST_THRIFT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/meta.h"

typedef struct pqf_footer {
  uint8_t *data;
  size_t len;
} pqf_footer;

__attribute__((unused)) static void pqf_footer_free(pqf_footer *f) {
  free(f->data);
  f->data = NULL;
}

__attribute__((unused)) static int pqf_read_footer(const char *path, pqf_footer *f, st_error *err) {
  f->data = NULL;
  f->len = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) return st_fail(err, ST_ERR_IO, "%s: cannot open", path);
  uint8_t tail[8];
  long size;
  if (fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 12 || fseek(fp, size - 8, SEEK_SET) ||
      fread(tail, 1, 8, fp) != 8) {
    fclose(fp);
    return st_fail(err, ST_ERR_CORRUPT, "%s: too short", path);
  }
  if (!memcmp(tail + 4, "PARE", 4)) {
    fclose(fp);
    return st_fail(err, ST_ERR_UNSUPPORTED, "%s: encrypted footer", path);
  }
  if (memcmp(tail + 4, "PAR1", 4)) {
    fclose(fp);
    return st_fail(err, ST_ERR_CORRUPT, "%s: bad magic", path);
  }
  uint32_t flen =
      (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
  if ((long)flen > size - 12) {
    fclose(fp);
    return st_fail(err, ST_ERR_CORRUPT, "%s: footer length %u too large", path, flen);
  }
  f->data = malloc(flen ? flen : 1);
  f->len = flen;
  if (!f->data || fseek(fp, size - 8 - (long)flen, SEEK_SET) || fread(f->data, 1, flen, fp) != flen) {
    fclose(fp);
    pqf_footer_free(f);
    return st_fail(err, ST_ERR_IO, "%s: read failed", path);
  }
  fclose(fp);
  return 0;
}

#define PQF_EQ(a, b, what)                                                     \
  do {                                                                         \
    if ((a) != (b)) {                                                          \
      snprintf(why, cap, "%s: %lld != %lld", what, (long long)(a), (long long)(b)); \
      return false;                                                            \
    }                                                                          \
  } while (0)
#define PQF_STR(a, b, what)                                                    \
  do {                                                                         \
    if (!(a) != !(b) || ((a) && strcmp((a), (b)))) {                          \
      snprintf(why, cap, "%s differs", what);                                  \
      return false;                                                            \
    }                                                                          \
  } while (0)
#define PQF_MEM(a, la, b, lb, what)                                            \
  do {                                                                         \
    if ((la) != (lb) || (!(a) != !(b)) || ((la) && memcmp((a), (b), (la)))) {  \
      snprintf(why, cap, "%s differs", what);                                  \
      return false;                                                            \
    }                                                                          \
  } while (0)

static bool pqf_kv_equal(const st_pq_kv *a, int na, const st_pq_kv *b, int nb, char *why, size_t cap) {
  PQF_EQ(na, nb, "kv count");
  PQF_EQ(!a, !b, "kv presence");
  for (int i = 0; i < na; i++) {
    PQF_STR(a[i].key, b[i].key, "kv key");
    PQF_MEM(a[i].value, a[i].value_len, b[i].value, b[i].value_len, "kv value");
  }
  return true;
}

static bool pqf_stats_equal(const st_pq_stats *a, const st_pq_stats *b, char *why, size_t cap) {
  PQF_EQ(a->has_min, b->has_min, "stats has_min");
  PQF_EQ(a->has_max, b->has_max, "stats has_max");
  PQF_MEM(a->min, a->min_len, b->min, b->min_len, "stats min");
  PQF_MEM(a->max, a->max_len, b->max, b->max_len, "stats max");
  PQF_EQ(a->has_legacy_min, b->has_legacy_min, "stats has_legacy_min");
  PQF_EQ(a->has_legacy_max, b->has_legacy_max, "stats has_legacy_max");
  PQF_MEM(a->legacy_min, a->legacy_min_len, b->legacy_min, b->legacy_min_len, "stats legacy min");
  PQF_MEM(a->legacy_max, a->legacy_max_len, b->legacy_max, b->legacy_max_len, "stats legacy max");
  PQF_EQ(a->has_null_count, b->has_null_count, "has_null_count");
  PQF_EQ(a->null_count, b->null_count, "null_count");
  PQF_EQ(a->has_distinct_count, b->has_distinct_count, "has_distinct_count");
  PQF_EQ(a->distinct_count, b->distinct_count, "distinct_count");
  PQF_EQ(a->has_is_min_exact, b->has_is_min_exact, "has_is_min_exact");
  PQF_EQ(a->is_min_exact, b->is_min_exact, "is_min_exact");
  PQF_EQ(a->has_is_max_exact, b->has_is_max_exact, "has_is_max_exact");
  PQF_EQ(a->is_max_exact, b->is_max_exact, "is_max_exact");
  PQF_EQ(a->has_nan_count, b->has_nan_count, "has_nan_count");
  PQF_EQ(a->nan_count, b->nan_count, "nan_count");
  return true;
}

static bool pqf_colmeta_equal(const st_pq_column_meta *a, const st_pq_column_meta *b, char *why, size_t cap) {
  PQF_EQ(a->type, b->type, "column type");
  PQF_EQ(a->n_encodings, b->n_encodings, "n_encodings");
  for (int i = 0; i < a->n_encodings; i++) PQF_EQ(a->encodings[i], b->encodings[i], "encoding");
  PQF_EQ(a->n_path, b->n_path, "n_path");
  for (int i = 0; i < a->n_path; i++) PQF_STR(a->path[i], b->path[i], "path");
  PQF_EQ(a->codec, b->codec, "codec");
  PQF_EQ(a->num_values, b->num_values, "num_values");
  PQF_EQ(a->total_uncompressed_size, b->total_uncompressed_size, "total_uncompressed_size");
  PQF_EQ(a->total_compressed_size, b->total_compressed_size, "total_compressed_size");
  if (!pqf_kv_equal(a->kv, a->n_kv, b->kv, b->n_kv, why, cap)) return false;
  PQF_EQ(a->data_page_offset, b->data_page_offset, "data_page_offset");
  PQF_EQ(a->has_index_page_offset, b->has_index_page_offset, "has_index_page_offset");
  PQF_EQ(a->index_page_offset, b->index_page_offset, "index_page_offset");
  PQF_EQ(a->has_dictionary_page_offset, b->has_dictionary_page_offset, "has_dictionary_page_offset");
  PQF_EQ(a->dictionary_page_offset, b->dictionary_page_offset, "dictionary_page_offset");
  PQF_EQ(a->has_stats, b->has_stats, "has_stats");
  if (!pqf_stats_equal(&a->stats, &b->stats, why, cap)) return false;
  PQF_EQ(a->n_encoding_stats, b->n_encoding_stats, "n_encoding_stats");
  PQF_EQ(!a->encoding_stats, !b->encoding_stats, "encoding_stats presence");
  for (int i = 0; i < a->n_encoding_stats; i++) {
    PQF_EQ(a->encoding_stats[i].page_type, b->encoding_stats[i].page_type, "enc stats page_type");
    PQF_EQ(a->encoding_stats[i].encoding, b->encoding_stats[i].encoding, "enc stats encoding");
    PQF_EQ(a->encoding_stats[i].count, b->encoding_stats[i].count, "enc stats count");
  }
  PQF_EQ(a->has_bloom_filter_offset, b->has_bloom_filter_offset, "has_bloom_filter_offset");
  PQF_EQ(a->bloom_filter_offset, b->bloom_filter_offset, "bloom_filter_offset");
  PQF_EQ(a->has_bloom_filter_length, b->has_bloom_filter_length, "has_bloom_filter_length");
  PQF_EQ(a->bloom_filter_length, b->bloom_filter_length, "bloom_filter_length");
  return true;
}

__attribute__((unused)) static bool pqf_meta_equal(const st_pq_file_meta *a, const st_pq_file_meta *b,
                                                   char *why,
                                                   size_t cap) {
  PQF_EQ(a->version, b->version, "version");
  PQF_EQ(a->n_schema, b->n_schema, "n_schema");
  for (int i = 0; i < a->n_schema; i++) {
    const st_pq_schema_elem *x = &a->schema[i], *y = &b->schema[i];
    PQF_STR(x->name, y->name, "schema name");
    PQF_EQ(x->has_type, y->has_type, "has_type");
    PQF_EQ(x->type, y->type, "type");
    PQF_EQ(x->type_length, y->type_length, "type_length");
    PQF_EQ(x->has_repetition, y->has_repetition, "has_repetition");
    PQF_EQ(x->repetition, y->repetition, "repetition");
    PQF_EQ(x->num_children, y->num_children, "num_children");
    PQF_EQ(x->converted_type, y->converted_type, "converted_type");
    PQF_EQ(x->scale, y->scale, "scale");
    PQF_EQ(x->precision, y->precision, "precision");
    PQF_EQ(x->has_field_id, y->has_field_id, "has_field_id");
    PQF_EQ(x->field_id, y->field_id, "field_id");
    PQF_EQ(x->logical.kind, y->logical.kind, "logical kind");
    PQF_EQ(x->logical.precision, y->logical.precision, "logical precision");
    PQF_EQ(x->logical.scale, y->logical.scale, "logical scale");
    PQF_EQ(x->logical.utc_adjusted, y->logical.utc_adjusted, "logical utc");
    PQF_EQ(x->logical.unit, y->logical.unit, "logical unit");
    PQF_EQ(x->logical.bit_width, y->logical.bit_width, "logical bit_width");
    PQF_EQ(x->logical.is_signed, y->logical.is_signed, "logical is_signed");
    PQF_EQ(x->logical.other_id, y->logical.other_id, "logical other_id");
  }
  PQF_EQ(a->num_rows, b->num_rows, "num_rows");
  PQF_EQ(a->n_row_groups, b->n_row_groups, "n_row_groups");
  for (int g = 0; g < a->n_row_groups; g++) {
    const st_pq_row_group *x = &a->row_groups[g], *y = &b->row_groups[g];
    PQF_EQ(x->n_columns, y->n_columns, "n_columns");
    for (int c = 0; c < x->n_columns; c++) {
      const st_pq_column_chunk *p = &x->columns[c], *q = &y->columns[c];
      PQF_STR(p->file_path, q->file_path, "file_path");
      PQF_EQ(p->file_offset, q->file_offset, "file_offset");
      PQF_EQ(p->has_meta, q->has_meta, "has_meta");
      if (!pqf_colmeta_equal(&p->meta, &q->meta, why, cap)) return false;
      PQF_EQ(p->has_offset_index, q->has_offset_index, "has_offset_index");
      PQF_EQ(p->offset_index_offset, q->offset_index_offset, "offset_index_offset");
      PQF_EQ(p->offset_index_length, q->offset_index_length, "offset_index_length");
      PQF_EQ(p->has_column_index, q->has_column_index, "has_column_index");
      PQF_EQ(p->column_index_offset, q->column_index_offset, "column_index_offset");
      PQF_EQ(p->column_index_length, q->column_index_length, "column_index_length");
      PQF_EQ(p->encrypted, q->encrypted, "encrypted");
    }
    PQF_EQ(x->total_byte_size, y->total_byte_size, "total_byte_size");
    PQF_EQ(x->num_rows, y->num_rows, "rg num_rows");
    PQF_EQ(x->n_sorting, y->n_sorting, "n_sorting");
    PQF_EQ(!x->sorting, !y->sorting, "sorting presence");
    for (int s = 0; s < x->n_sorting; s++) {
      PQF_EQ(x->sorting[s].column_idx, y->sorting[s].column_idx, "sorting column_idx");
      PQF_EQ(x->sorting[s].descending, y->sorting[s].descending, "sorting descending");
      PQF_EQ(x->sorting[s].nulls_first, y->sorting[s].nulls_first, "sorting nulls_first");
    }
    PQF_EQ(x->has_file_offset, y->has_file_offset, "has_file_offset");
    PQF_EQ(x->file_offset, y->file_offset, "rg file_offset");
    PQF_EQ(x->has_total_compressed_size, y->has_total_compressed_size, "has_total_compressed_size");
    PQF_EQ(x->total_compressed_size, y->total_compressed_size, "rg total_compressed_size");
    PQF_EQ(x->has_ordinal, y->has_ordinal, "has_ordinal");
    PQF_EQ(x->ordinal, y->ordinal, "ordinal");
  }
  if (!pqf_kv_equal(a->kv, a->n_kv, b->kv, b->n_kv, why, cap)) return false;
  PQF_STR(a->created_by, b->created_by, "created_by");
  PQF_EQ(a->n_column_orders, b->n_column_orders, "n_column_orders");
  PQF_EQ(a->has_column_orders, b->has_column_orders, "has_column_orders");
  for (int i = 0; i < a->n_column_orders; i++) PQF_EQ(a->column_orders[i], b->column_orders[i],
                                                      "column order");
  PQF_EQ(a->has_encryption_algorithm, b->has_encryption_algorithm, "has_encryption_algorithm");
  return true;
}

#endif
