/*
** skytile/readers.h — input readers of the import pipeline (issue 5).
**
** An st_input is one open input file that yields its rows as columnar
** st_table batches of a fixed schema.  Formats are plug-ins (one source file
** each under src/readers/, libarchive style): every format registers a table
** of callbacks (bid, open, schema, next, close).  With format "auto" (or
** NULL) every format "bids" on the file name and its first bytes and the
** strongest bidder reads it.
**
** Formats:
**   csv, tsv, psv  Delimited text (',' '\t' '|'; any one-byte delimiter via
**                  options.delimiter).  RFC 4180 quoting ("" inside quotes;
**                  quoted fields may hold delimiters and line breaks), LF or
**                  CRLF line ends, optional header line (or column_names),
**                  optional comment character.  The file may be gzip
**                  compressed (".gz" or gzip magic; concatenated members are
**                  read) or a ".zip" archive holding exactly one member
**                  (stored or deflated).  Types are inferred (see below) or
**                  forced with options.schema.  An unquoted empty field and
**                  the pandas NA spellings ("NA", "NaN", "nan", "null",
**                  "NULL", "None", "N/A", "n/a", "<NA>", "#N/A", "-NaN",
**                  "-nan", ...; override with options.null_values) are
**                  nulls in every column, quoted or not (as pandas and
**                  pyarrow.csv do).
**   fits           FITS binary tables through cfitsio: every TFORM (L X B I J
**                  K A E D C M, and P/Q variable-length arrays as lists),
**                  TSCAL/TZERO (the unsigned conventions become uint16/32/64
**                  and int8; other scaling gives double), TNULL of integer
**                  columns becomes null, strings lose trailing blanks (as
**                  astropy), repeat > 1 becomes a fixed-size list and TDIM
**                  (d1,d2,...) nested fixed-size lists with the last
**                  dimension outermost (numpy/astropy shape order).  Rows are
**                  read in large blocks and byte-swapped column by column.
**                  options.fits_hdu chooses the HDU (0 = the first binary
**                  table).  ".fits.gz" is decompressed in memory by cfitsio.
**   parquet        Any file the skytile Parquet reader reads; one or more
**                  batches per row group.  Pandas index columns, as
**                  hats-import's ParquetPandasReader (pandas, then
**                  reset_index) leaves them, unless
**                  options.keep_pandas_index: unnamed index levels
**                  ("__index_level_N__") are dropped; named index columns
**                  (listed in the "pandas" metadata's index_columns) are
**                  kept and come first, in index order.  (A RangeIndex is
**                  stored as metadata only and gives no column.)
**
** Type inference (CSV): a column is bool if every non-null value is
** true/false/True/False/TRUE/FALSE, else int64 if every value is an integer
** in int64 range, else double if every value parses as a decimal number
** (Python float() syntax without underscores, also "inf"/"infinity"; the
** NaN spellings are nulls by default), else string.  A
** column with no non-null value is double (as pandas).  st_input_open infers
** from the first options.infer_rows rows of the file (default: the first
** batch); a later value that does not fit the inferred type fails with
** ST_ERR_SCHEMA naming the file, line, column and value — so the import
** pipeline should first call st_input_infer_schema over all its files (which
** scans whole files by default and promotes int64 to double across files)
** and pass the result as options.schema.  Numbers are parsed exactly: a
** double equals what Python's float() gives for the same text.
**
** Errors always name the file (and for CSV the line): "a.csv: line 17: 5
** fields, expected 7", "t.fits: HDU 2 is not a binary table", "x.csv.gz:
** gzip stream: truncated (unexpected end of file)".
**
** Threads: an st_input is used by one thread at a time; different inputs
** may be read concurrently (cfitsio must be built reentrant, as Debian's is).
** One file may be read by several threads as parts (options.part/n_parts:
** CSV byte ranges split at line starts and checked with st_input_part_seam,
** FITS row ranges, Parquet row groups), e.g. the import's map stage.
*/
#ifndef SKYTILE_READERS_H
#define SKYTILE_READERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;
struct st_table;
struct st_field;

typedef struct st_input st_input;  /* one open input file */

/* Options; initialise with st_input_options_init, then set what you need. */
typedef struct st_input_options {
  size_t struct_size;             /* sizeof(st_input_options)                */
  const char *format;             /* "auto" (or NULL), "csv", "tsv", "psv",  */
                                  /* "fits", "parquet"                       */
  /* ---- delimited text ---- */
  char delimiter;                 /* 0 = by format: ',' csv, '\t' tsv,       */
                                  /* '|' psv (auto: ',' unless the file name */
                                  /* ends in .tsv/.psv, before .gz/.zip)     */
  char quote;                     /* quote character; default '"'; 0 = none */
  char comment;                   /* lines starting with it are skipped;     */
                                  /* default 0 = none                        */
  bool header;                    /* first line holds the names (default     */
                                  /* true)                                   */
  const char *const *column_names;/* names to use; with header=true the     */
  int n_column_names;             /* header line is skipped (replaced); with */
                                  /* header=false and no names the columns   */
                                  /* are col_0, col_1, ...                   */
  const char *const *null_values; /* strings read as null (exact match,      */
                                  /* quoted or not);                         */
  int n_null_values;              /* NULL = the pandas list above plus "";   */
                                  /* n=0 with non-NULL ptr: only "" is null  */
  int64_t infer_rows;             /* rows sampled for type inference by      */
                                  /* st_input_open (0 = the first batch) and */
                                  /* by st_input_infer_schema (0 = all rows) */
  /* ---- all formats ---- */
  const struct st_field *schema;  /* STRUCT field forcing column types by    */
                                  /* name (e.g. from --schema FILE.parquet:  */
                                  /* st_pq_schema); columns of the file not  */
                                  /* in it are inferred/kept as read; CSV    */
                                  /* parses into the given types (bool,      */
                                  /* integers, float, double, string,        */
                                  /* large_string; others: UNSUPPORTED; a    */
                                  /* null-typed column is not forced); FITS  */
                                  /* and Parquet convert safely (int widen-  */
                                  /* ing, string->large_string,              */
                                  /* int->double, float->double) or fail     */
                                  /* with ST_ERR_SCHEMA.  NULL = none.       */
  const char *const *columns;     /* keep only these, in this order; a name  */
  int n_columns;                  /* absent from the file: ST_ERR_NOTFOUND   */
  const char *const *drop_columns;/* drop these (absent names are ignored)  */
  int n_drop;
  bool keep_pandas_index;         /* keep __index_level_0__ & co. and named  */
                                  /* index columns where they are stored     */
  int fits_hdu;                   /* FITS: HDU number (1 = primary, 2 = the  */
                                  /* first extension); 0 = first bintable    */
  int64_t batch_rows;             /* rows per batch; 0 = default (262144)    */
  const char *filename_regex;     /* POSIX extended regex searched in the    */
                                  /* path as given; its first capture group  */
  const char *filename_column;    /* becomes a constant STRING column of     */
                                  /* this name, appended last.  No match:    */
                                  /* ST_ERR_INVALID naming file and regex.   */
  uint64_t max_line_bytes;        /* CSV: longest record accepted (guards    */
                                  /* against a missing quote); 0 = 64 MiB    */
  bool keep_null_type;            /* st_input_infer_schema: leave columns    */
                                  /* with no value at all as ST_T_NULL (for  */
                                  /* callers that infer file by file and     */
                                  /* unify with st_schema_unify; finish with */
                                  /* st_schema_finalize_nulls)               */
  int part;                       /* read only piece `part` (0-based) of     */
  int n_parts;                    /* n_parts pieces (<= 1: the whole file):  */
                                  /* FITS: rows [N*part/n, N*(part+1)/n);    */
                                  /* Parquet: the row groups so chosen; CSV  */
                                  /* (plain regular file): the records that  */
                                  /* start in bytes (S*part/n, S*(part+1)/n] */
                                  /* (+1: see st_input_part_seam).  A file   */
                                  /* that cannot be split (.gz, .zip, pipe)  */
                                  /* is read whole by part 0; the others are */
                                  /* empty.                                  */
  volatile int *cancel;           /* CSV whole-file inference polls it per   */
                                  /* chunk: non-zero -> ST_ERR_INTERRUPTED   */
  /* CSV whole-file inference (st_input_infer_schema, infer_rows 0): the    */
  /* columns named values_x and values_y (not forced by schema) are also    */
  /* parsed as doubles and handed to values_fn chunk by chunk (the import   */
  /* maps the file in the inference pass): see st_input_values_fn.          */
  const char *values_x, *values_y;
  void (*values_fn)(void *ctx, int event, int part, const double *x, const double *y,
                    int64_t n);
  void *values_ctx;
  int values_parts;               /* parts values_fn keeps apart (0: 2, the  */
                                  /* first and the rest; see ST_VALUES_ROWS) */
  int infer_threads;              /* CSV whole-file inference of a plain     */
                                  /* file: threads, each on a part of at     */
                                  /* least 4 MiB (0: 2 if several CPUs)      */
  bool hats_import_types;         /* CSV inference as hats-import's pandas   */
                                  /* reader types (the import): strings are  */
                                  /* LARGE_STRING, an integer column with a  */
                                  /* null is DOUBLE (else STRING, INT64)     */
} st_input_options;

/* values_fn events: ST_VALUES_ROWS: n values of the next records of `part`
** (0: from the header on; 1..P-1: the other parts of a parallel inference
** on P threads, in any order; the function is called from several threads
** at once, but never at once for the same part: when values_parts < P, the
** parts 1..P-1 are all reported as part 1, one call at a time);
** ST_VALUES_DISCARD: forget what `part` reported (the parts did not meet at
** record starts; part 0 goes on alone; sent for every part > 0 used);
** ST_VALUES_DONE: every record was reported, exactly once, by the parts not
** discarded.  No DONE (a value was null, not a number, or
** -0.0; a column is forced; an error): the values are incomplete. */
enum { ST_VALUES_ROWS = 0, ST_VALUES_DISCARD = 1, ST_VALUES_DONE = 2 };

/* Defaults: format "auto", header true, quote '"', everything else 0/NULL. */
ST_API void st_input_options_init(st_input_options *o);

/*
** Open `path` and determine its schema (for CSV: read the header and infer
** types from the first rows, unless options.schema forces them).  opt may be
** NULL (defaults).  Errors name the path: unreadable file (ST_ERR_IO),
** unknown format with "auto" (ST_ERR_UNSUPPORTED, "cannot tell the format of
** x.dat; use --format"), corrupt content (ST_ERR_CORRUPT), missing requested
** column (ST_ERR_NOTFOUND).  The options' strings and arrays must stay valid
** until st_input_close.
*/
ST_API int st_input_open(const char *path, const st_input_options *opt, st_input **out,
                         struct st_error *err);

/* Output schema: a STRUCT field whose children are the columns of every batch. */
ST_API const struct st_field *st_input_schema(const st_input *in);

/*
** Read the next batch (at most batch_rows rows, at least 1) into *batch
** (caller frees with st_table_free); *batch is NULL at the end of the file.
** Every batch has exactly st_input_schema's columns and types.  Errors name
** the file (and CSV line); after an error the input should be closed.
*/
ST_API int st_input_next(st_input *in, struct st_table **batch, struct st_error *err);

/* The format that reads the file ("csv", "fits", "parquet", ...). */
ST_API const char *st_input_format(const st_input *in);
/* The path given to st_input_open. */
ST_API const char *st_input_path(const st_input *in);
/* Progress: bytes of the file consumed so far (compressed bytes for .gz) and its size. */
ST_API uint64_t st_input_bytes_read(const st_input *in);
ST_API uint64_t st_input_file_size(const st_input *in);
/* Rows returned so far. */
ST_API int64_t st_input_rows_read(const st_input *in);
/* Total rows if known up front (FITS NAXIS2, Parquet footer), else -1. */
ST_API int64_t st_input_num_rows(const st_input *in);

ST_API void st_input_close(st_input *in);  /* NULL-safe */

/*
** Where a CSV piece (options.part of n_parts) started and stopped, as file
** offsets: *first = the first record it read (part > 0), *stop = the record
** it stopped before (part < n_parts - 1); -1 = none (end of file, or the
** whole-file part / an empty part of an unsplittable file, or any other
** format).  A piece boundary is where the real parse has a record start only
** if piece k's *stop equals piece k+1's *first (a quoted field holding a
** line break, or CR-only line ends, break this): callers must check every
** seam and otherwise read the file whole.  Line numbers in the errors of a
** piece other than the first are not meaningful.
*/
ST_API void st_input_part_seam(const st_input *in, int64_t *first, int64_t *stop);

/*
** Read a whole file into one table (st_input_open + st_input_next until the
** end, concatenated); a file without rows gives a 0-row table with its
** schema.  For small inputs (target lists, one side of a crossmatch).
*/
ST_API int st_input_read_table(const char *path, const st_input_options *opt,
                               struct st_table **out, struct st_error *err);

/*
** Name of the format "auto" would choose for `path` (reads its first bytes),
** or NULL with ST_ERR_UNSUPPORTED / ST_ERR_IO in err.
*/
ST_API const char *st_input_detect_format(const char *path, struct st_error *err);

/*
** The schema all of paths[0..n) unify to, as the import pipeline needs it
** before reading any rows: each file's schema (CSV: inferred from
** opt->infer_rows rows, 0 = the whole file; FITS/Parquet: from the header /
** footer) is unified in path order with st_schema_unify.  Column order is the
** first file's.  The filename column (if any) is included.  *out is a STRUCT
** field; clear it with st_field_clear.  Errors name the file(s).
*/
ST_API int st_input_infer_schema(const char *const *paths, int n_paths, const st_input_options *opt,
                                 struct st_field *out, struct st_error *err);

/*
** Unify two STRUCT schemas into *out (a new STRUCT field; clear it with
** st_field_clear): columns are matched by name and must be the same set;
** the order is a's.  Types unify when equal, or by promotion: a NULL-typed
** (all-null) column takes the other type; integers widen to the wider type
** (signed/unsigned mixes to int64 when it holds both, else error); an integer
** and a float give double; float and double give double; string and
** large_string give large_string; nullability is OR-ed.  Anything else fails
** with ST_ERR_SCHEMA and a message naming the column and both sources:
** "column 'code': int64 in a.csv but string in b.csv" (name_a/name_b label
** the schemas; "column 'x' is in a.csv but not in b.csv" for a missing one).
*/
ST_API int st_schema_unify(const struct st_field *a, const char *name_a, const struct st_field *b,
                           const char *name_b, struct st_field *out, struct st_error *err);

/*
** Turn the ST_T_NULL columns of a schema (columns without any value in any
** file, see keep_null_type) into nullable double, as pandas does.  A
** NULL-typed column in options.schema is not forced (the file decides).
*/
ST_API void st_schema_finalize_nulls(struct st_field *schema);

#ifdef __cplusplus
}
#endif

#endif
