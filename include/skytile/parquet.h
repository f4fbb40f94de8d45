/*
** skytile/parquet.h — reading (and, later, writing) Apache Parquet files.
**
** A reader is opened on a file, parses and validates the footer, and then
** reads any subset of columns from any row group into st_table batches.
** Metadata (schema, row groups, column chunks, statistics) is exposed so that
** callers can prune row groups before reading any data page.
**
** Thread-safety: a reader handle is used by one thread at a time, but several
** threads may open readers on the same file.
**
** What is read: every physical type (INT96 becomes timestamp[ns]), the
** logical/converted types mapped to Arrow types (strings, decimals from
** INT32/INT64/FIXED_LEN_BYTE_ARRAY/BYTE_ARRAY, dates, times, timestamps,
** float16, narrowed and unsigned integers), nested structs/lists/maps incl.
** the legacy list layouts, data pages v1 and v2, dictionary pages, every
** standard encoding (PLAIN, dictionary, RLE, legacy BIT_PACKED levels,
** DELTA_*, BYTE_STREAM_SPLIT) and every codec of codec.h.  Not supported
** (clear errors): encrypted files, column chunks stored in another file.
**
** Untrusted input: sizes from the file are checked against the file/chunk
** bounds and options.max_alloc before anything is allocated; an inconsistent
** file fails with ST_ERR_CORRUPT and a message naming the place, e.g.
** "x.parquet: column 'a.b', row group 3, page 7: page CRC mismatch".
*/
#ifndef SKYTILE_PARQUET_H
#define SKYTILE_PARQUET_H

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

typedef struct st_pq_reader st_pq_reader;

/* Options; start with the struct size so the struct can grow. */
typedef struct st_pq_read_options {
  size_t struct_size;        /* sizeof(st_pq_read_options)                  */
  uint64_t max_alloc;        /* cap on any single allocation from metadata   */
                             /* sizes; 0 = default (1 GiB)                   */
  bool verify_crc;           /* verify page CRCs when present (a mismatch is */
                             /* ST_ERR_CORRUPT "page CRC mismatch")          */
  bool keep_dictionary;      /* return dictionary-encoded columns as indices */
                             /* + dictionary instead of materialising        */
                             /* (top-level string/binary columns; the        */
                             /* dictionaries of the row groups are appended, */
                             /* and values of non-dictionary pages too)      */
} st_pq_read_options;

ST_API void st_pq_read_options_init(st_pq_read_options *o);

/*
** Open a Parquet file and parse its footer.  opt may be NULL (defaults).
** Errors name the path: "x.parquet: not a Parquet file (bad magic)",
** "x.parquet: encrypted Parquet is not supported", ...
*/
ST_API int st_pq_open(const char *path, const st_pq_read_options *opt, st_pq_reader **out,
                      struct st_error *err);
/* Open a file held in memory (not copied; must outlive the reader). */
ST_API int st_pq_open_memory(const void *data, size_t size, const char *name,
                             const st_pq_read_options *opt, st_pq_reader **out,
                             struct st_error *err);
ST_API void st_pq_close(st_pq_reader *r);   /* NULL-safe */
/*
** Open the data file `path` described by row groups [first_rg, first_rg +
** n_rg) of md, a reader of a _metadata file (the dataset's footers in one
** file): the file's own footer is not parsed; its schema and row groups
** (numbered from 0) are md's, borrowed (md must outlive the reader), and the
** chunks' file_path is not checked against path.  Checked: the magic at both
** ends and every chunk within the file's size; a _metadata that does not
** describe the file otherwise shows as corrupt pages when reading.
*/
ST_API int st_pq_open_borrowed(const char *path, const st_pq_reader *md, int first_rg, int n_rg,
                               const st_pq_read_options *opt, st_pq_reader **out,
                               struct st_error *err);

/* The footer's num_rows, as written (some writers get it wrong, e.g. 0; st_pq_read
   returns the sum of the row groups' num_rows: see st_pq_row_group_num_rows). */
ST_API int64_t st_pq_num_rows(const st_pq_reader *r);
ST_API int st_pq_num_row_groups(const st_pq_reader *r);
ST_API int64_t st_pq_row_group_num_rows(const st_pq_reader *r, int row_group);
/* The Arrow-mapped schema: a STRUCT field whose children are the top-level columns. */
ST_API const struct st_field *st_pq_schema(const st_pq_reader *r);

/*
** Read the given row groups (NULL/0 = all, in file order; an index may be
** given in any order) and top-level columns (indices into st_pq_schema's
** children; NULL/0 = all) into one table whose rows are those of the row
** groups in the order given (n_rows = sum of their num_rows).  Only the
** column chunks of the selected columns and row groups are read.  The table
** owns its data; free with st_table_free.  For a scan with bounded memory,
** call it once per row group.  Bad indices: ST_ERR_INVALID.
*/
ST_API int st_pq_read(st_pq_reader *r, const int *row_groups, int n_row_groups, const int *columns,
                      int n_columns, struct st_table **out, struct st_error *err);
/*
** Rows rows[0..n_rows) (strictly ascending, within the row group) of one row
** group, top-level columns as in st_pq_read: the same table as st_pq_read
** of that row group followed by st_table_take(rows), without building the
** whole columns (flat columns are decoded into reused scratch and only the
** selected values are copied; of a dictionary-encoded page only the
** selected indices are checked, so damage confined to other rows may go
** unnoticed).  Bad indices or rows: ST_ERR_INVALID.
*/
ST_API int st_pq_read_rows(st_pq_reader *r, int row_group, const int *columns, int n_columns,
                           const int64_t *rows, int64_t n_rows, struct st_table **out,
                           struct st_error *err);

#ifdef __cplusplus
}
#endif

#include "skytile/parquet_meta.h"

#include "skytile/parquet_write.h"

#endif
