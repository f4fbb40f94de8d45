/*
** skytile/parquet_meta.h — Parquet metadata views: row groups, column chunks,
** codecs, encodings, sizes and statistics, for inspection (`skytile parquet
** meta`) and for pruning row groups before reading.
** (Owned by the metadata module; included by skytile/parquet.h.)
**
** Every function here reads the footer parsed by st_pq_open; none does I/O.
** Strings returned as `const char *` point into the reader and stay valid
** until st_pq_close.  Indices are 0-based; an index out of range makes the
** int-returning functions fail with ST_ERR_INVALID and the others return
** NULL / -1 / 0 as documented.  The functions are safe to call from several
** threads on the same reader (they only read).
**
** Terms: a "column" here is a LEAF column of the Parquet schema (a primitive
** field, e.g. "a.b.element"), in schema order; a "chunk" is one column in one
** row group.  The Arrow-mapped schema (top-level columns, nested types) is
** st_pq_schema() in skytile/parquet.h.
*/
#ifndef SKYTILE_PARQUET_META_H
#define SKYTILE_PARQUET_META_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;
typedef struct st_pq_reader st_pq_reader;

/* ---- file --------------------------------------------------------------- */

/*
** FileMetaData.num_rows exactly as the writer recorded it (st_pq_num_rows in
** skytile/parquet.h is the reader's row count; they differ only for files
** whose footer is inconsistent).
*/
ST_API int64_t st_pq_footer_num_rows(const st_pq_reader *r);
/* FileMetaData.version (1 or 2 in practice). */
ST_API int st_pq_format_version(const st_pq_reader *r);
/* The writer's identification ("parquet-cpp-arrow version 16.0.0"), or NULL. */
ST_API const char *st_pq_created_by(const st_pq_reader *r);
/* Number of file-level key/value metadata pairs ("pandas", "ARROW:schema", ...). */
ST_API int st_pq_num_kv(const st_pq_reader *r);
/*
** Key i, and its value (NUL-terminated; *len, if not NULL, receives its length
** in bytes, which may differ from strlen when the value holds NUL bytes).
** NULL when i is out of range; the value is NULL when the pair has none.
*/
ST_API const char *st_pq_kv_key(const st_pq_reader *r, int i);
ST_API const char *st_pq_kv_value(const st_pq_reader *r, int i, size_t *len);
/* Value of the first pair with this key, or NULL. */
ST_API const char *st_pq_kv_find(const st_pq_reader *r, const char *key, size_t *len);
/* True for plaintext-footer encrypted files (FileMetaData.encryption_algorithm). */
ST_API bool st_pq_is_encrypted(const st_pq_reader *r);

/* ---- schema (Parquet view) ------------------------------------------------ */

/*
** The Parquet schema as its flat depth-first list of elements: element 0 is
** the root; each group is followed by its num_children children (recursively).
*/
typedef struct st_pq_element_info {
  const char *name;           /* element name                                     */
  int num_children;           /* > 0 for groups, 0 for primitive columns          */
  int depth;                  /* 0 for the root, 1 for top-level columns, ...     */
  int column;                 /* leaf column index, -1 for groups                 */
  const char *repetition;     /* "REQUIRED", "OPTIONAL", "REPEATED" ("" for root) */
  const char *physical_type;  /* "INT32", ..., "" for groups                      */
  int32_t type_length;        /* FIXED_LEN_BYTE_ARRAY width, else 0               */
  char logical_type[64];      /* e.g. "TIMESTAMP(MICROS,UTC)", "DECIMAL(9,2)",    */
                              /* "INTEGER(8,unsigned)", "STRING"; "" when none    */
  char converted_type[32];    /* legacy ConvertedType, e.g. "UTF8", ""           */
  bool has_field_id;
  int32_t field_id;
} st_pq_element_info;

ST_API int st_pq_num_elements(const st_pq_reader *r);
ST_API int st_pq_describe_element(const st_pq_reader *r, int i, st_pq_element_info *out,
                                  struct st_error *err);

/* ---- leaf columns ----------------------------------------------------------- */

typedef struct st_pq_column_info {
  const char *path;           /* dotted path in the schema, "a.list.element"      */
  int element;                /* index of its schema element                      */
  int top_column;             /* index of its top-level column in st_pq_schema()  */
  const char *physical_type;  /* "BOOLEAN" ... "FIXED_LEN_BYTE_ARRAY"             */
  int32_t type_length;        /* FIXED_LEN_BYTE_ARRAY width, else 0               */
  char logical_type[64];      /* as in st_pq_element_info                         */
  char converted_type[32];
  int max_def;                /* maximum definition level                         */
  int max_rep;                /* maximum repetition level                         */
  const char *column_order;   /* "TYPE_DEFINED_ORDER", "IEEE_754_TOTAL_ORDER",    */
                              /* "INT96_TIMESTAMP_ORDER", "UNDEFINED"             */
} st_pq_column_info;

/* Number of leaf columns. */
ST_API int st_pq_num_columns(const st_pq_reader *r);
ST_API int st_pq_describe_column(const st_pq_reader *r, int col, st_pq_column_info *out,
                                 struct st_error *err);
/* Leaf column index by dotted path, or -1. */
ST_API int st_pq_column_index(const st_pq_reader *r, const char *path);

/* ---- row groups --------------------------------------------------------------- */

typedef struct st_pq_sorting {
  int column;                 /* leaf column index                                */
  bool descending;
  bool nulls_first;
} st_pq_sorting;

typedef struct st_pq_row_group_info {
  int64_t num_rows;
  int64_t total_byte_size;    /* uncompressed bytes of all its column data        */
  int64_t total_compressed_size; /* -1 when the writer did not record it          */
  int64_t file_offset;        /* -1 when not recorded                             */
  int ordinal;                /* -1 when not recorded                             */
  int n_sorting;              /* sorting columns (0 when unsorted/unknown)        */
} st_pq_row_group_info;

ST_API int st_pq_describe_row_group(const st_pq_reader *r, int rg, st_pq_row_group_info *out,
                                    struct st_error *err);
/* Sorting column i (0 <= i < n_sorting) of row group rg, in sort-key order. */
ST_API int st_pq_row_group_sorting(const st_pq_reader *r, int rg, int i, st_pq_sorting *out,
                                   struct st_error *err);

/* ---- column chunks and statistics ---------------------------------------------- */

/*
** A statistics value, typed by the column:
**   BOOL     b                      BOOLEAN
**   INT      i                      signed ints, DATE (days), TIME/TIMESTAMP
**                                   (in the column's unit), DECIMAL on
**                                   INT32/INT64 (unscaled; see scale)
**   UINT     u                      unsigned INTEGER / UINT_* columns
**   DOUBLE   d                      FLOAT, DOUBLE, FLOAT16
**   BYTES    bytes/len              BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY (is_text
**                                   for STRING/ENUM/JSON), DECIMAL on them
**                                   (big-endian two's complement; see scale)
** is_decimal/scale are set for DECIMAL columns.
*/
typedef enum st_pq_value_kind {
  ST_PQ_VALUE_NONE = 0, ST_PQ_VALUE_BOOL, ST_PQ_VALUE_INT, ST_PQ_VALUE_UINT, ST_PQ_VALUE_DOUBLE,
  ST_PQ_VALUE_BYTES
} st_pq_value_kind;

typedef struct st_pq_value {
  st_pq_value_kind kind;
  bool b;
  int64_t i;
  uint64_t u;
  double d;
  const uint8_t *bytes;       /* points into the reader                          */
  size_t len;
  bool is_text;               /* BYTES holding UTF-8 text                        */
  bool is_decimal;
  int32_t scale;              /* DECIMAL scale                                   */
} st_pq_value;

typedef struct st_pq_chunk_info {
  const char *path;           /* the leaf column's dotted path                   */
  const char *file_path;      /* ColumnChunk.file_path, NULL = this file         */
  bool encrypted;             /* column metadata encrypted (not readable)        */
  const char *physical_type;
  const char *codec;          /* "UNCOMPRESSED", "SNAPPY", "ZSTD", ...           */
  int n_encodings;
  const char *encodings[16];  /* names ("PLAIN", "RLE_DICTIONARY", ...), first 16 */
  int64_t num_values;         /* values incl. nulls (level entries)              */
  int64_t compressed_size;    /* total_compressed_size (incl. page headers)      */
  int64_t uncompressed_size;  /* total_uncompressed_size                         */
  int64_t file_offset;        /* ColumnChunk.file_offset (deprecated)            */
  int64_t data_page_offset;
  int64_t dictionary_page_offset; /* -1 if none                                  */
  int64_t index_page_offset;  /* -1 if none                                      */
  int64_t bloom_filter_offset;/* -1 if none                                      */
  int32_t bloom_filter_length;/* -1 if not recorded                              */
  int64_t offset_index_offset;/* -1 if none                                      */
  int32_t offset_index_length;
  int64_t column_index_offset;/* -1 if none                                      */
  int32_t column_index_length;
  /* statistics (all false when the chunk has none) */
  bool has_stats;             /* a Statistics struct is present                  */
  bool has_min_max;           /* min/max usable for pruning (see below)          */
  st_pq_value min, max;
  bool has_null_count;
  int64_t null_count;
  bool has_distinct_count;
  int64_t distinct_count;
  bool has_nan_count;
  int64_t nan_count;
  bool has_min_exact;         /* is_min_value_exact recorded                     */
  bool min_exact;             /* min is an actual value (false: a lower bound,   */
                              /* e.g. a truncated string)                        */
  bool has_max_exact;
  bool max_exact;
} st_pq_chunk_info;

/*
** Describe chunk (rg, col).  min/max follow the spec's column-order rules:
** min_value/max_value are used when present and the file declares the
** column's order (TYPE_DEFINED_ORDER; IEEE_754_TOTAL_ORDER for floats) -- they
** are undefined without one, and ignored for an order this library does not
** know; otherwise the deprecated min/max, but only for
** columns whose legacy order was right (signed integers, dates, times,
** timestamps, int decimals, FLOAT, DOUBLE, BOOLEAN; never BYTE_ARRAY,
** FIXED_LEN_BYTE_ARRAY or unsigned columns, PARQUET-251).  INT96 statistics
** are never used.  For floating point, a NaN bound is dropped, a min of +0.0
** is reported as -0.0 and a max of -0.0 as +0.0 (so zero of either sign is
** inside the bounds).  has_min_max requires both bounds.
*/
ST_API int st_pq_describe_chunk(const st_pq_reader *r, int rg, int col, st_pq_chunk_info *out,
                                struct st_error *err);

/*
** Format a statistics value for display: numbers in decimal (decimals with
** their scale), text as is, other bytes as hex.  Always NUL-terminates when
** cap > 0; returns the length the full text needs (like snprintf).
*/
ST_API int st_pq_value_format(const st_pq_value *v, char *out, size_t cap);

/* Names of enum values ("UNKNOWN(n)"-style text is never returned: unknown -> "UNKNOWN"). */
ST_API const char *st_pq_encoding_name(int encoding);
ST_API const char *st_pq_codec_name(int codec);
ST_API const char *st_pq_physical_type_name(int type);

#ifdef __cplusplus
}
#endif
#endif
