/*
** skytile/table.h — the columnar in-memory table used across skytile.
**
** The layout is Apache Arrow's, so a table can be handed to pyarrow, polars or
** DuckDB through the Arrow C Data Interface without copying (st_export_arrow),
** and Arrow data can come in the same way (st_import_arrow).
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

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

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
ST_API bool st_field_equal(const st_field *a, const st_field *b); /* names, types, children  */

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

#ifdef __cplusplus
}
#endif
#endif
