/*
** skytile/parquet_write.h — writing Apache Parquet files and dataset
** metadata files (`_metadata`, `_common_metadata`).
**
** A writer is opened on a path with the schema of the table(s) to come.  Each
** st_pq_writer_write call appends rows; complete row groups are encoded and
** written as soon as they fill (row_group_rows and/or row_group_bytes), so
** memory stays bounded by one row group.  st_pq_writer_close writes the
** footer and makes the file appear atomically (temporary name, fsync,
** rename); st_pq_writer_abort (or any error) leaves nothing at the path.
**
** Every st_table type is written, nested lists (3-level "list"/"element"
** layout, as pyarrow writes), structs and maps ("key_value"/"key"/"value")
** included, with Parquet logical types so that other readers restore the
** Arrow types: STRING, INTEGER(bits, signed) for int8/16 and unsigned
** integers, DECIMAL (FIXED_LEN_BYTE_ARRAY, big-endian), DATE, TIME,
** TIMESTAMP (unit; isAdjustedToUTC when the field has a time zone), FLOAT16.
** Conversions: date64 is written as DATE (days), time32[s] as TIME(MILLIS),
** timestamp[s] as TIMESTAMP(MILLIS), duration as plain INT64, large
** string/binary/list as their 32-bit-offset Parquet equivalents.
**
** Pages are data page v1 (or v2 on request) with RLE levels; values are
** dictionary-encoded (RLE_DICTIONARY, with a PLAIN dictionary page) until the
** dictionary of a column chunk would exceed dictionary_page_bytes, after
** which later pages are PLAIN.  Every column chunk carries statistics
** (min_value/max_value in the type's defined order, NaN ignored, -0/+0 per
** the spec, null_count; min/max left out when longer than 4096 bytes) and
** page encoding stats.  The footer holds "ARROW:schema" (the exact Arrow
** types, for Arrow readers), created_by "skytile version X.Y.Z", column
** orders, the sorting columns and the key/value metadata given.
**
** Streaming note: rows of several st_pq_writer_write calls that fall into
** the same row group are concatenated (copied) when the group is written.
*/
#ifndef SKYTILE_PARQUET_WRITE_H
#define SKYTILE_PARQUET_WRITE_H

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
struct st_table;
struct st_field;

/* Compression codecs (numbered as parquet-format's CompressionCodec). */
enum {
  ST_PQ_CODEC_NONE = 0,
  ST_PQ_CODEC_SNAPPY = 1,
  ST_PQ_CODEC_GZIP = 2,
  ST_PQ_CODEC_ZSTD = 6,
  ST_PQ_CODEC_LZ4_RAW = 7
};

/* One sorting column of the row groups written (RowGroup.sorting_columns). */
typedef struct st_pq_sort_column {
  int32_t column;            /* index of the leaf (primitive) column          */
  bool descending;
  bool nulls_first;
} st_pq_sort_column;

/* Options; start with the struct size so the struct can grow. */
typedef struct st_pq_write_options {
  size_t struct_size;        /* sizeof(st_pq_write_options)                   */
  int compression;           /* ST_PQ_CODEC_* (default ZSTD)                  */
  int compression_level;     /* < 0: the codec's default (ZSTD 3, GZIP 6);    */
                             /* HATS catalogs use ZSTD level 15               */
  int64_t row_group_rows;    /* max rows per row group (default 1048576)      */
  int64_t row_group_bytes;   /* max uncompressed bytes per row group, 0 = none */
  int64_t page_bytes;        /* target uncompressed page size (default 1 MiB) */
  bool dictionary;           /* try dictionary encoding (default true)        */
  int64_t dictionary_page_bytes; /* dictionary size before falling back to   */
                             /* PLAIN (default 1 MiB)                          */
  bool statistics;           /* write column chunk statistics (default true)  */
  int n_sorting;             /* sorting columns declared for each row group   */
  const st_pq_sort_column *sorting;
  int n_kv;                  /* file key/value metadata (copied)              */
  const char *const *kv_keys;
  const char *const *kv_values;
  bool arrow_schema;         /* write "ARROW:schema" (the Arrow types, base64 */
                             /* IPC schema) unless kv gives one (default true) */
  bool data_page_v2;         /* DATA_PAGE_V2 pages instead of v1 (default off) */
  bool dictionary_sample;    /* decide per column chunk from its first values  */
                             /* whether a dictionary pays: a chunk whose first */
                             /* values are mostly distinct is written PLAIN    */
                             /* from the start (default off: pyarrow's rule,   */
                             /* dictionary until dictionary_page_bytes)        */
  int (*interrupt)(void *ctx); /* polled before each page is encoded; nonzero: */
                             /* the write stops with ST_ERR_INTERRUPTED (the   */
                             /* file is then unusable: close and delete it)    */
  void *interrupt_ctx;       /* passed to interrupt (default NULL, no polling) */
} st_pq_write_options;

/* Fill *o with the defaults (writes sizeof(st_pq_write_options) bytes). */
ST_API void st_pq_write_options_init(st_pq_write_options *o);
/*
** Parse "zstd[:LEVEL]", "snappy", "gzip[:LEVEL]", "lz4_raw" (or "lz4"),
** "none"/"uncompressed" (case-insensitive) into codec and level (-1 default).
*/
ST_API int st_pq_parse_compression(const char *text, int *codec, int *level,
                                   struct st_error *err);

typedef struct st_pq_writer st_pq_writer;

/*
** Open a writer for `schema` (a STRUCT field whose children are the columns,
** e.g. &table->schema).  opt may be NULL (defaults).  The table-level metadata
** of schema (n_meta) is written as key/value metadata too, except a key
** "ARROW:schema" (it may describe another schema, e.g. before columns were
** selected); give it in opt->kv_keys/kv_values to write it.
*/
ST_API int st_pq_writer_open(const char *path, const struct st_field *schema,
                             const st_pq_write_options *opt, st_pq_writer **out,
                             struct st_error *err);
/*
** Append the rows of t (its columns must equal the writer's: ST_ERR_SCHEMA).
** After a failure the file is unusable: call st_pq_writer_abort.
*/
ST_API int st_pq_writer_write(st_pq_writer *w, const struct st_table *t, struct st_error *err);
/* End the current row group now (no-op when empty). */
ST_API int st_pq_writer_flush(st_pq_writer *w, struct st_error *err);
/* Write the footer and move the file into place; frees w (also on failure). */
ST_API int st_pq_writer_close(st_pq_writer *w, struct st_error *err);
/* Discard everything (no file appears); frees w.  NULL-safe. */
ST_API void st_pq_writer_abort(st_pq_writer *w);
ST_API int64_t st_pq_writer_rows(const st_pq_writer *w);   /* rows written so far */

/* Write a whole table to path (open + write + close). */
ST_API int st_pq_write_table_path(const char *path, const struct st_table *t,
                                  const st_pq_write_options *opt, struct st_error *err);

/* ---- dataset metadata files ---------------------------------------------- */
/*
** Build `_metadata` (the row groups of every file, each column chunk's
** file_path relative to the dataset root) and `_common_metadata` (schema and
** key/value metadata only, zero row groups), as pyarrow's write_metadata
** does.  Files are added one at a time and their row groups streamed to a
** side file, so memory stays bounded whatever the number of files.  A file
** whose schema differs from the first one is refused (ST_ERR_SCHEMA naming
** the first difference).  Both files appear atomically at close.
*/
typedef struct st_pq_dataset_meta st_pq_dataset_meta;
ST_API int st_pq_dataset_meta_open(const char *root, st_pq_dataset_meta **out,
                                   struct st_error *err);
/* Add root/rel_path (rel_path uses '/' separators; it is what file_path holds). */
ST_API int st_pq_dataset_meta_add(st_pq_dataset_meta *d, const char *rel_path,
                                  struct st_error *err);
/* Write root/_metadata and root/_common_metadata; frees d (also on failure). */
ST_API int st_pq_dataset_meta_close(st_pq_dataset_meta *d, struct st_error *err);
ST_API void st_pq_dataset_meta_abort(st_pq_dataset_meta *d);   /* NULL-safe */
/* All in one: the n files rel_paths[] under root. */
ST_API int st_pq_write_dataset_metadata(const char *root, const char *const *rel_paths, int n,
                                        struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
