/*
** skytile/table.h — the columnar in-memory table used across skytile.
**
** The layout is Apache Arrow's, so a table can be handed to pyarrow, polars or
** DuckDB through the Arrow C Data Interface without copying (st_table_export_arrow),
** and Arrow data can come in the same way (st_table_import_arrow).
**
**   st_field   the schema of a column: name, type, nullability, children.
**   st_array   the data of a column: length, validity bitmap, buffers, children.
**   st_table   a batch of columns of equal length, with its schema.
**
** Buffers per type (Arrow layout; `buf[0]` is always the validity bitmap, LSB
** first, or NULL when there are no nulls):
**   BOOL                     buf[1] bit-packed values
**   INT*, UINT*, FLOAT*, DATE32, TIME*, TIMESTAMP, DURATION, DECIMAL128/256,
**   FIXED_BINARY             buf[1] values (byte_width each)
**   STRING, BINARY           buf[1] int32 offsets (length+1), buf[2] bytes
**   LARGE_STRING/BINARY      buf[1] int64 offsets (length+1), buf[2] bytes
**   LIST                     buf[1] int32 offsets (length+1), child[0]
**   LARGE_LIST               buf[1] int64 offsets,            child[0]
**   FIXED_LIST               child[0] of length*list_size
**   STRUCT                   children, one per field
**   MAP                      buf[1] int32 offsets, child[0] = STRUCT{key,value}
** A DICTIONARY-encoded column is an integer array (indices, type INT32) whose
** `dictionary` points at the values array; its field type says the value type
** and field->dict_encoded is true.
**
** Each buffer is a (st_mem block, data pointer) pair: several arrays may share
** one refcounted block (a decompressed page, a dictionary, a mapped file).
** Arrays are immutable once built; free them with st_array_free.
*/
#ifndef SKYTILE_TABLE_H
#define SKYTILE_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;

typedef enum st_type_id {
  ST_T_NULL = 0,
  ST_T_BOOL,
  ST_T_INT8, ST_T_INT16, ST_T_INT32, ST_T_INT64,
  ST_T_UINT8, ST_T_UINT16, ST_T_UINT32, ST_T_UINT64,
  ST_T_FLOAT16,      /* kept as IEEE half in 2 bytes (Arrow "e")             */
  ST_T_FLOAT, ST_T_DOUBLE,
  ST_T_DECIMAL128,   /* 16-byte little-endian two's complement, precision/scale */
  ST_T_DECIMAL256,   /* 32-byte little-endian                                */
  ST_T_STRING, ST_T_BINARY, ST_T_LARGE_STRING, ST_T_LARGE_BINARY,
  ST_T_FIXED_BINARY, /* byte_width bytes each                                */
  ST_T_DATE32,       /* days since epoch                                     */
  ST_T_DATE64,       /* ms since epoch                                       */
  ST_T_TIME32,       /* unit s or ms                                         */
  ST_T_TIME64,       /* unit us or ns                                        */
  ST_T_TIMESTAMP,    /* int64 since epoch, unit, tz ("UTC" when adjusted)    */
  ST_T_DURATION,
  ST_T_LIST, ST_T_LARGE_LIST, ST_T_FIXED_LIST,
  ST_T_STRUCT,
  ST_T_MAP,
  ST_T__COUNT
} st_type_id;

typedef enum st_time_unit { ST_SECOND = 0, ST_MILLI, ST_MICRO, ST_NANO } st_time_unit;

typedef struct st_field st_field;
struct st_field {
  char *name;              /* column name (owned)                            */
  st_type_id type;         /* value type                                     */
  bool nullable;           /* may hold nulls                                 */
  bool dict_encoded;       /* data arrives as INT32 indices + dictionary     */
  int32_t byte_width;      /* FIXED_BINARY width; FIXED_LIST list size       */
  int32_t precision;       /* DECIMAL*                                       */
  int32_t scale;           /* DECIMAL*                                       */
  st_time_unit unit;       /* TIME*, TIMESTAMP, DURATION                     */
  char *tz;                /* TIMESTAMP time zone or NULL (owned)            */
  bool keys_sorted;        /* MAP                                            */
  int n_children;          /* LIST/FIXED_LIST/MAP: 1; STRUCT: n              */
  st_field *children;      /* array of n_children fields (owned)             */
  int n_meta;              /* key/value metadata pairs                       */
  char **meta_keys;        /* (owned)                                        */
  char **meta_values;      /* (owned)                                        */
};

typedef struct st_mem st_mem;

typedef struct st_array st_array;
struct st_array {
  int64_t length;          /* number of slots                                */
  int64_t null_count;      /* nulls among them; -1 = not yet counted         */
  int64_t offset;          /* logical start within the buffers (usually 0)  */
  int n_buffers;           /* as in the Arrow layout for the type            */
  const uint8_t *buf[3];   /* buffer pointers (buf[0] validity or NULL)      */
  st_mem *mem[3];          /* owning blocks for buf[i] (may be shared/NULL)  */
  int n_children;
  st_array **children;     /* owned                                          */
  st_array *dictionary;    /* owned; only when the field is dict_encoded     */
};

typedef struct st_table {
  st_field schema;         /* STRUCT field; its children are the columns     */
  int64_t n_rows;
  int n_columns;           /* == schema.n_children                           */
  st_array **columns;      /* owned                                          */
} st_table;

/* ---- fields -------------------------------------------------------------- */
/* Fixed byte width of a primitive value type, 0 for variable/nested, -1 for BOOL (bits). */
ST_API int st_type_byte_width(const st_field *f);
ST_API const char *st_type_name(st_type_id t);
/* Human-readable type, e.g. "list<double>", "timestamp[us, UTC]", "decimal128(10,2)". */
ST_API void st_field_type_string(const st_field *f, char *out, size_t cap);
ST_API int st_field_copy(st_field *dst, const st_field *src);   /* deep copy; 0 or ST_ERR_NOMEM */
ST_API void st_field_clear(st_field *f);                        /* frees contents, not f     */
/* Names, types (with their parameters), dictionary encoding and children, recursively;
   nullability and metadata are not compared. */
ST_API bool st_field_equal(const st_field *a, const st_field *b);

/* ---- arrays -------------------------------------------------------------- */
ST_API st_array *st_array_new(void);              /* zeroed; NULL on OOM              */
ST_API void st_array_free(st_array *a);           /* NULL-safe; releases buffers      */
/* Validity of slot i (true = valid), honouring offset. */
static inline bool st_array_is_valid(const st_array *a, int64_t i) {
  if (!a->buf[0]) return true;
  int64_t j = i + a->offset;
  return (a->buf[0][j >> 3] >> (j & 7)) & 1;
}
/* Count nulls if null_count < 0 and store it. */
ST_API int64_t st_array_null_count(st_array *a);

/* ---- tables -------------------------------------------------------------- */
ST_API void st_table_free(st_table *t);           /* NULL-safe; frees t itself        */
ST_API int st_table_column_index(const st_table *t, const char *name);  /* -1 if absent */

/* ---- Arrow C Data Interface --------------------------------------------- */
/* The structs are Arrow's, declared here so no Arrow header is needed. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;
  void (*release)(struct ArrowSchema *);
  void *private_data;
};
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;
  void (*release)(struct ArrowArray *);
  void *private_data;
};
#endif

/*
** Export a table as an Arrow struct array (a record batch) without copying:
** the exported array holds references to the table's buffers, so the table may
** be freed right after.  On success the caller owns *out_schema and *out_array and
** must call their release callbacks.  Returns 0 or an st_code.
*/
ST_API int st_table_export_arrow(const st_table *t, struct ArrowSchema *out_schema,
                          struct ArrowArray *out_array, struct st_error *err);
/* Export one column (field + array). */
ST_API int st_array_export_arrow(const st_field *f, const st_array *a, struct ArrowSchema *out_schema,
                          struct ArrowArray *out_array, struct st_error *err);
/*
** Import an Arrow record batch (struct array).  Moves ownership: the inputs are
** released by the table when it is freed (their release is set to NULL here).
*/
ST_API int st_table_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array,
                          st_table **out, struct st_error *err);

/*
** Import one Arrow array (any supported type) with its schema.  Moves ownership
** like st_table_import_arrow: both inputs are consumed (released now or kept
** alive by the returned array), also when the function fails.  On success
** *out_field is filled (clear it with st_field_clear) and *out is the array.
** Formats we do not handle fail with ST_ERR_UNSUPPORTED naming the format;
** a struct whose n_buffers/n_children disagree with its format fails with
** ST_ERR_CORRUPT.  Buffer contents are not checked: call st_array_validate on
** data from untrusted producers.
*/
ST_API int st_array_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array,
                                 st_field *out_field, st_array **out, struct st_error *err);

/* ---- building fields ------------------------------------------------------ */
/*
** Initialise *f as a column named `name` (copied) of the given type, with all
** parameters zero (callers then set byte_width, unit, precision/scale, tz...).
** Returns 0 or ST_ERR_NOMEM.  Clear with st_field_clear.
*/
ST_API int st_field_init(st_field *f, const char *name, st_type_id type, bool nullable);
/* Append a deep copy of `child` to f->children.  0 or ST_ERR_NOMEM. */
ST_API int st_field_add_child(st_field *f, const st_field *child);
/* Set (replace or add) a metadata pair, copying key and value.  0 or ST_ERR_NOMEM. */
ST_API int st_field_set_meta(st_field *f, const char *key, const char *value);
/* The value of metadata `key`, or NULL. */
ST_API const char *st_field_get_meta(const st_field *f, const char *key);

/* ---- tables --------------------------------------------------------------- */
/*
** Make a table from n_columns fields (deep-copied) and arrays.  Ownership of
** every array in columns[] moves to the table — also when the function fails
** (they are freed then); the columns[] pointer array itself stays the
** caller's.  n_rows < 0 takes the length of the first column (0 without
** columns).  Every column must have length n_rows (else ST_ERR_INVALID).
** `meta_from` (may be NULL) supplies table-level metadata copied into
** schema's metadata.  Free the table with st_table_free.
*/
ST_API int st_table_new(const st_field *fields, st_array **columns, int n_columns, int64_t n_rows,
                        const st_field *meta_from, st_table **out, struct st_error *err);
/*
** New table holding the columns cols[0..n) of t in that order (an index may
** repeat).  Zero-copy: buffers are shared by reference, so t and the result
** may be freed in any order.  Bad index: ST_ERR_INVALID.
*/
ST_API int st_table_select_columns(const st_table *t, const int *cols, int n, st_table **out,
                                   struct st_error *err);
/*
** Rows [offset, offset+length) of t as a new table, zero-copy (see st_array_slice).
** The range must lie within the table (else ST_ERR_INVALID).
*/
ST_API int st_table_slice(const st_table *t, int64_t offset, int64_t length, st_table **out,
                          struct st_error *err);

/* ---- numeric access -------------------------------------------------------- */
/* True for the integer types, FLOAT16, FLOAT and DOUBLE. */
ST_API bool st_type_is_numeric(st_type_id t);
/* An IEEE half-precision value (FLOAT16 storage) as a double. */
ST_API double st_half_to_double(uint16_t h);
/*
** Rows [row0, row0+n) of numeric column col as doubles: out[i] for row0+i;
** null slots (and dictionary indices outside the dictionary) give NaN;
** dictionary-encoded numeric columns are resolved.  A non-numeric column is
** ST_ERR_SCHEMA ("column 'x' is string, not numeric"); rows outside the
** column are ST_ERR_INVALID.
*/
ST_API int st_table_column_doubles(const st_table *t, int col, int64_t row0, int64_t n,
                                   double *out, struct st_error *err);

/* ---- array operations ----------------------------------------------------- */
/*
** Zero-copy slice: a new array for slots [offset, offset+length) of a, sharing
** a's buffers (the array tree is cloned and the blocks referenced, so a and the
** slice may be freed in any order).  The range must lie within a.
*/
ST_API int st_array_slice(const st_array *a, int64_t offset, int64_t length, st_array **out,
                          struct st_error *err);
/*
** Gather: out[i] = a[idx[i]] for i < n, for every type (nested lists, structs,
** maps and dictionary columns included; a dictionary column keeps sharing its
** dictionary).  An index of -1 yields a null slot; any other index outside
** [0, a->length) fails with ST_ERR_INVALID.  The result owns fresh buffers.
** Cost is O(n + bytes gathered), done column by column.
*/
ST_API int st_array_take(const st_field *f, const st_array *a, const int64_t *idx, int64_t n,
                         st_array **out, struct st_error *err);
/* st_array_take on every column. */
ST_API int st_table_take(const st_table *t, const int64_t *idx, int64_t n, st_table **out,
                         struct st_error *err);
/*
** Concatenate n arrays of the same field f into one fresh array (copies).
** Dictionary columns are concatenated by appending the dictionaries and
** rebasing the indices (duplicates in the dictionary are allowed in Arrow).
*/
ST_API int st_array_concat(const st_field *f, st_array *const *arrays, int n, st_array **out,
                           struct st_error *err);
/*
** Concatenate n tables whose schemas are equal (st_field_equal on the schemas;
** else ST_ERR_SCHEMA).  The result takes the first table's schema.
*/
ST_API int st_table_concat(st_table *const *tables, int n, st_table **out, struct st_error *err);

/*
** Full structural validation of an array against its field (recursively):
** buffer count and presence, child count and lengths, offsets non-decreasing
** and within the child / data, validity bitmap and value buffers large enough
** (checked when the owning st_mem block describes the buffer's extent, as for
** blocks made by st_mem_new; imported Arrow buffers carry no size), null_count
** consistent with the bitmap, dictionary indices within the dictionary, map
** keys not null, decimal precision in range.  UTF-8 validity of strings is not
** checked.  Returns 0 or ST_ERR_CORRUPT with a message naming the column path
** and the problem.  Never reads outside checked extents; recursion is bounded.
*/
ST_API int st_array_validate(const st_field *f, const st_array *a, struct st_error *err);
/* st_array_validate on every column, plus column count and lengths vs n_rows. */
ST_API int st_table_validate(const st_table *t, struct st_error *err);

/* ---- builder -------------------------------------------------------------- */
/*
** A builder appends values column-wise into growable buffers (amortised
** doubling; no allocation per value) and finishes into an st_array.
** Supported field types: BOOL, all integers, FLOAT16/FLOAT/DOUBLE, DECIMAL128/256,
** DATE32/64, TIME32/64, TIMESTAMP, DURATION (fixed width), STRING, BINARY,
** LARGE_STRING, LARGE_BINARY, FIXED_BINARY.  Others: ST_ERR_UNSUPPORTED.
** The validity bitmap is created at the first null only.
**
**   st_builder *b;  st_builder_new(&field, &b, &err);
**   st_builder_append_values(b, xs, n, NULL, &err);     // n packed values
**   st_builder_append_nulls(b, 3, &err);
**   st_builder_finish(b, &arr, &err);                     // b is empty again
**   st_builder_free(b);
*/
typedef struct st_builder st_builder;
ST_API int st_builder_new(const st_field *f, st_builder **out, struct st_error *err);
ST_API void st_builder_free(st_builder *b);                 /* NULL-safe */
ST_API int64_t st_builder_length(const st_builder *b);      /* slots appended so far */
/* Reserve room for n more slots (and, for variable-width types, `bytes` more data bytes). */
ST_API int st_builder_reserve(st_builder *b, int64_t n, int64_t bytes, struct st_error *err);
/*
** Append n fixed-width values packed in `values` (n * byte width bytes, in the
** column's physical type: int32 for DATE32, int64 for TIMESTAMP, raw 16/32 bytes
** for decimals, byte_width bytes for FIXED_BINARY).  For BOOL, `values` holds one
** byte per value (nonzero = true).  `valid` is NULL (all valid) or one byte per
** value (nonzero = valid; the value of a null slot is still stored but ignored).
*/
ST_API int st_builder_append_values(st_builder *b, const void *values, int64_t n,
                                    const uint8_t *valid, struct st_error *err);
/* Append n nulls (zeroed values / empty strings). */
ST_API int st_builder_append_nulls(st_builder *b, int64_t n, struct st_error *err);
/* Append one STRING/BINARY/FIXED_BINARY value of len bytes (len == byte_width for FIXED_BINARY). */
ST_API int st_builder_append_bytes(st_builder *b, const void *data, size_t len, struct st_error *err);
/*
** Append n STRING/BINARY values in bulk: value i is data[offsets[i] .. offsets[i+1])
** (offsets has n+1 entries, non-decreasing); `valid` as in st_builder_append_values.
*/
ST_API int st_builder_append_strings(st_builder *b, const uint8_t *data, const int64_t *offsets,
                                     int64_t n, const uint8_t *valid, struct st_error *err);
/* Move the built data into a new array (*out); the builder is empty and reusable after. */
ST_API int st_builder_finish(st_builder *b, st_array **out, struct st_error *err);

/* ---- text output ------------------------------------------------------------ */
/*
** Value formatting shared by the CSV and JSON Lines writers and the CLI.
**
** ST_FMT_TEXT — the text of a CSV cell before quoting:
**   null             empty
**   bool             true / false
**   integers         exact decimal
**   float, double    shortest text that reads back to the same value
**                    ("0.1", "1e+300", "-0"); NaN "nan", infinities "inf"/"-inf".
**                    FLOAT values read back exactly as float32, DOUBLE and
**                    FLOAT16 (widened to double) as double.
**   decimal          exact decimal text with `scale` fraction digits
**                    ("-123.45", "0.05"; negative scale appends zeros)
**   date32/date64    YYYY-MM-DD (proleptic Gregorian; years below 0 as "-0044",
**                    years above 9999 with more digits); date64 drops the time of day
**   timestamp        YYYY-MM-DDTHH:MM:SS plus 3/6/9 fraction digits for ms/us/ns,
**                    always printed; with a time zone the UTC instant followed by "Z"
**                    (for every zone: the stored value is a UTC instant)
**   time32/time64    HH:MM:SS plus 3/6/9 fraction digits per unit (a value outside
**                    one day prints as the raw integer)
**   duration         the integer count in its unit
**   string           the bytes as stored
**   binary, fixed    lowercase hex, two digits per byte ("00ff10")
**   list/struct/map  the ST_FMT_JSON text of the value
**   dictionary       the formatted dictionary value
** ST_FMT_JSON — a JSON value: null; true/false; numbers for integers, floats and
**   decimals (exact text); NaN and infinities as the strings "NaN", "Infinity",
**   "-Infinity"; strings with JSON escaping (", \, control characters; invalid
**   UTF-8 bytes become \ufffd); binary as a hex string; dates/times/timestamps as
**   strings in the text forms above; lists as arrays; structs as objects; maps
**   as arrays of {"key": k, "value": v} objects.
*/
enum { ST_FMT_TEXT = 0, ST_FMT_JSON = 1 };

/* A growable, caller-owned char buffer (always NUL-terminated once non-empty). */
typedef struct st_text {
  char *data;              /* malloc'd, NUL-terminated; NULL when cap == 0   */
  size_t len;              /* chars in use (excluding the NUL)               */
  size_t cap;              /* bytes allocated                                */
} st_text;
ST_API void st_text_free(st_text *t);                       /* frees data, zeroes t */

/* Append the formatted value of row `row` of column (f, a) to out.  0 or an st_code. */
ST_API int st_format_value(const st_field *f, const st_array *a, int64_t row, int style,
                           st_text *out, struct st_error *err);
/*
** Write t as CSV (RFC 4180: comma separated, "\n" line ends, a field is
** quoted when it contains a comma, quote, CR or LF, or when it is the empty
** string — so "" is an empty string and an empty field is null).  With
** header, the first line holds the column names.  Cells use ST_FMT_TEXT.
** Returns 0 or ST_ERR_IO.
*/
ST_API int st_table_write_csv(const st_table *t, FILE *fp, bool header, struct st_error *err);
/* Write t as JSON Lines: one object per row, keys = column names in order, values ST_FMT_JSON. */
ST_API int st_table_write_jsonl(const st_table *t, FILE *fp, struct st_error *err);
/* The same writing to a file path (created/truncated; append=true appends). */
ST_API int st_table_write_csv_path(const st_table *t, const char *path, bool header, bool append,
                                   struct st_error *err);
ST_API int st_table_write_jsonl_path(const st_table *t, const char *path, bool append,
                                     struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
