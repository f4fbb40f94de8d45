/*
** This file implements the mapping between Parquet's Thrift structs
** (parquet-format src/main/thrift/parquet.thrift) and the in-memory structs of
** meta.h: decoding FileMetaData and PageHeader, encoding them back, and freeing.
**
** Decoding design:
**   - One static decoder per Thrift struct, each a loop over field headers with
**     a switch on the field id; unknown ids and fields not kept are skipped with
**     st_tc_skip (iterative, depth-bounded).  The decoders call each other only
**     along the fixed struct hierarchy (FileMetaData > RowGroup > ColumnChunk >
**     ColumnMetaData > Statistics, SchemaElement > LogicalType > TimeUnit), so
**     recursion depth is a small constant; input can only deepen st_tc_skip,
**     which is bounded by ST_TC_MAX_DEPTH.
**   - A field whose wire type differs from parquet.thrift's is corrupt.
**   - Every allocation is reachable from the output struct as soon as it is
**     made (arrays are zero-filled and their count set at once), so on any
**     error the caller frees the partial result with st_pq_meta_free.
**   - A field repeated in the input replaces the earlier value (freed first).
**   - List counts are checked against the bytes left, counting the smallest
**     encoding of one element with its required fields (list_alloc), before
**     the zeroed array is allocated.
**   - Allocation: st_pq_meta_decode_arena (the reader's footers) places
**     every string and array it makes in an arena (out->arena: a chain of
**     blocks of >= 256 KiB; a _metadata of 100k column chunks would
**     otherwise cost ~700k malloc/free calls), set for the decoding thread
**     in a thread-local; st_pq_meta_free then frees the blocks only, so such
**     metadata must not be edited with heap parts.  A field replaced by a
**     repeated one leaves its old value in the arena (bounded by the input
**     size).  st_pq_meta_decode gives separate heap parts (callers that
**     edit the result), freed part by part as before.
**
** Encoding writes fields in increasing id order, required ones always, the
** optional ones when their has_* flag is set, exactly the subset a reader of
** meta.h can observe, so decode(encode(m)) == m field by field.
*/
#include "parquet/meta.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "parquet/thrift.h"

/* ---- allocation --------------------------------------------------------------- */

typedef struct meta_block {
  struct meta_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} meta_block;

#define META_BLOCK ((size_t)256 << 10)   /* first block                         */
#define META_BLOCK_MAX ((size_t)8 << 20) /* blocks double up to this            */
#define META_HUGE ((size_t)2 << 20)      /* blocks this big: 2 MiB-aligned,     */
                                         /* transparent huge pages requested    */

/* The arena of the st_pq_meta_decode running on this thread (NULL: none). */
static _Thread_local meta_block **tl_arena;

/* A block with room for cap bytes.  A big footer (a dataset's _metadata
** decodes into tens of MB) gets doubling blocks, and those of 2 MiB and
** more ask for huge pages: one page fault per 2 MiB instead of 512 (the
** faults were ~20% of decoding a large _metadata). */
static meta_block *block_new(size_t cap) {
  size_t bytes = sizeof(meta_block) + cap;
  meta_block *nb;
  if (bytes >= META_HUGE) {
    bytes = (bytes + META_HUGE - 1) & ~(META_HUGE - 1);
    nb = aligned_alloc(META_HUGE, bytes);
    if (nb) (void)madvise(nb, bytes, MADV_HUGEPAGE);   /* advice only */
    if (nb) cap = bytes - sizeof(meta_block);
  } else {
    nb = st_malloc(bytes);
  }
  if (!nb) return NULL;
  nb->used = 0;
  nb->cap = cap;
  return nb;
}

/* n bytes (zeroed when zero), from the arena while decoding, else the heap. */
static void *m_alloc(size_t n, bool zero) {
  if (!tl_arena) return zero ? st_calloc(1, n ? n : 1) : st_malloc(n ? n : 1);
  if (n > SIZE_MAX - META_HUGE * 2) return NULL;
  n = (n + 15) & ~(size_t)15;
  meta_block *b = *tl_arena;
  if (!b || b->cap - b->used < n) {
    size_t grow = !b ? META_BLOCK : b->cap >= META_BLOCK_MAX / 2 ? META_BLOCK_MAX : b->cap * 2;
    size_t cap = n > grow ? n : grow;
    meta_block *nb = block_new(cap);
    if (!nb) return NULL;
    if (b && n > grow) {   /* a big one goes behind the current block */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      *tl_arena = nb;
    }
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += n;
  if (zero) memset(p, 0, n);
  return p;
}

/* Free a part: nothing while decoding into an arena (the arena owns it). */
static void m_free(void *p) {
  if (!tl_arena) st_free(p);
}

static void arena_free(void *arena) {
  for (meta_block *b = arena, *nx; b; b = nx) {
    nx = b->next;
    st_free(b);
  }
}

/* ---- helpers --------------------------------------------------------------- */

static bool type_ok(int got, int want) {
  return got == want || (want == ST_TC_TRUE && got == ST_TC_FALSE) ||
         (want == ST_TC_LIST && got == ST_TC_SET);
}

/*
** Inside a `case` of FOR_FIELDS: a field whose wire type is not the one
** parquet.thrift gives is skipped like an unknown field (as Thrift's generated
** readers do; some writers reused ids).  Missing required fields are caught
** after the loop.
*/
#define WANT(t, w, what)                                                       \
  if (!type_ok((t), (w))) {                                                    \
    ST_TRY(st_tc_skip(in, (t), false));                                        \
    break;                                                                     \
  }

static int nomem(st_tc_in *in, const char *what) {
  return st_fail(in->err, ST_ERR_NOMEM, "%s: out of memory", what);
}

/* Copy a binary value into a fresh NUL-terminated buffer (replacing *dst). */
static int dup_bin(st_tc_in *in, const char *what, uint8_t **dst, uint32_t *len) {
  const uint8_t *p;
  uint32_t n;
  ST_TRY(st_tc_binary(in, &p, &n));
  uint8_t *c = m_alloc((size_t)n + 1, false);
  if (!c) return nomem(in, what);
  if (n) memcpy(c, p, n);
  c[n] = 0;
  m_free(*dst);
  *dst = c;
  if (len) *len = n;
  return 0;
}

static int dup_str(st_tc_in *in, const char *what, char **dst) {
  return dup_bin(in, what, (uint8_t **)dst, NULL);
}

/* Read a list header of the expected element type and allocate n zeroed items. */
/*
** Read a list header and allocate n zeroed elements.  min_bytes is the
** smallest encoding of one element that carries its required fields (e.g. a
** RowGroup: columns, total_byte_size, num_rows and STOP take >= 7 bytes), so
** the count is checked against the input left before allocating and memory
** stays within (footer bytes / min_bytes) x elem_size.  (A list of another
** element type was skipped by the caller: see list_ok.)
*/
static int list_alloc(st_tc_in *in, size_t min_bytes, const char *what, size_t elem_size, void **arr,
                      uint32_t *n) {
  int et;
  ST_TRY(st_tc_list(in, &et, n));
  ST_SAFETY(*n <= INT32_MAX && (uint64_t)*n * min_bytes <= st_tc_left(in), in->err,
            "%s: %u elements cannot fit in the %zu bytes left", what, (unsigned)*n, st_tc_left(in));
  *arr = m_alloc((size_t)(*n ? *n : 1) * elem_size, true);
  if (!*arr) return nomem(in, what);
  return 0;
}

/* Is the value at in->p (a field of wire type t) a list of elem_type? */
static bool list_ok(const st_tc_in *in, int t, int elem_type) {
  if (!type_ok(t, ST_TC_LIST) || in->p >= in->end) return false;
  int n = in->p[0] >> 4, et = in->p[0] & 0x0f;
  return n == 0 || et == elem_type || (elem_type == ST_TC_TRUE && et == ST_TC_FALSE);
}

#define WANT_LIST(t, et)                                                       \
  if (!list_ok(in, (t), (et))) {                                               \
    ST_TRY(st_tc_skip(in, (t), false));                                        \
    break;                                                                     \
  }

/* Scalar fields; a field of another wire type is skipped (value unchanged). */
static int read_i32_field(st_tc_in *in, int t, const char *what, int32_t *v) {
  (void)what;
  if (!type_ok(t, ST_TC_I32)) return st_tc_skip(in, t, false);
  return st_tc_i32(in, v);
}

static int read_i64_field(st_tc_in *in, int t, const char *what, int64_t *v) {
  (void)what;
  if (!type_ok(t, ST_TC_I64)) return st_tc_skip(in, t, false);
  return st_tc_i64(in, v);
}

static int read_enum(st_tc_in *in, int t, const char *what, int *v) {
  int32_t x = *v;
  ST_TRY(read_i32_field(in, t, what, &x));
  *v = x;
  return 0;
}

/* Iterate the fields of a struct: `body` sees `t` (wire type) and `id`. */
#define FOR_FIELDS(in)                                                         \
  int16_t last_id_ = 0, id;                                                    \
  int t;                                                                       \
  ST_TRY(st_tc_struct_enter(in));                                              \
  for (;;) {                                                                   \
    ST_TRY(st_tc_field(in, &last_id_, &t, &id));                               \
    if (t == ST_TC_STOP) break;                                                \
    switch (id)

#define END_FIELDS(in)                                                         \
  }                                                                            \
  st_tc_struct_leave(in)

#define SKIP_DEFAULT                                                           \
  default:                                                                     \
    ST_TRY(st_tc_skip(in, t, false));                                          \
    break

/* ---- free ------------------------------------------------------------------- */

static void free_kv(st_pq_kv *kv, int n) {
  if (!kv) return;
  for (int i = 0; i < n; i++) {
    m_free(kv[i].key);
    m_free(kv[i].value);
  }
  m_free(kv);
}

static void free_stats(st_pq_stats *s) {
  m_free(s->min);
  m_free(s->max);
  m_free(s->legacy_min);
  m_free(s->legacy_max);
  memset(s, 0, sizeof *s);
}

static void free_column_meta(st_pq_column_meta *c) {
  m_free(c->encodings);
  if (c->path)
    for (int i = 0; i < c->n_path; i++) m_free(c->path[i]);
  m_free(c->path);
  free_kv(c->kv, c->n_kv);
  free_stats(&c->stats);
  m_free(c->encoding_stats);
  memset(c, 0, sizeof *c);
}

static void free_row_group(st_pq_row_group *rg) {
  if (rg->columns)
    for (int i = 0; i < rg->n_columns; i++) {
      m_free(rg->columns[i].file_path);
      free_column_meta(&rg->columns[i].meta);
    }
  m_free(rg->columns);
  m_free(rg->sorting);
  memset(rg, 0, sizeof *rg);
}

void st_pq_meta_free(st_pq_file_meta *m) {
  if (m && m->arena) {   /* decoded: every part lives in the arena */
    arena_free(m->arena);
    memset(m, 0, sizeof *m);
    return;
  }
  if (!m) return;
  if (m->schema)
    for (int i = 0; i < m->n_schema; i++) m_free(m->schema[i].name);
  m_free(m->schema);
  if (m->row_groups)
    for (int i = 0; i < m->n_row_groups; i++) free_row_group(&m->row_groups[i]);
  m_free(m->row_groups);
  free_kv(m->kv, m->n_kv);
  m_free(m->created_by);
  m_free(m->column_orders);
  memset(m, 0, sizeof *m);
}

/* ---- decoders --------------------------------------------------------------- */

static int dec_kv(st_tc_in *in, st_pq_kv *kv) {
  bool has_key = false;
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_BINARY, "KeyValue.key");
    ST_TRY(dup_str(in, "KeyValue.key", &kv->key));
    has_key = true;
    break;
  case 2:
    WANT(t, ST_TC_BINARY, "KeyValue.value");
    ST_TRY(dup_bin(in, "KeyValue.value", (uint8_t **)&kv->value, &kv->value_len));
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  ST_SAFETY(has_key, in->err, "KeyValue: missing key");
  return 0;
}

static int dec_kv_list(st_tc_in *in, int t, const char *what, st_pq_kv **kv, int *n_kv) {
  void *arr;
  uint32_t n;
  if (!list_ok(in, t, ST_TC_STRUCT)) return st_tc_skip(in, t, false);
  free_kv(*kv, *n_kv);
  *kv = NULL;
  *n_kv = 0;
  ST_TRY(list_alloc(in, 3, what, sizeof(st_pq_kv), &arr, &n));
  *kv = arr;
  *n_kv = (int)n;
  for (uint32_t i = 0; i < n; i++) ST_TRY(dec_kv(in, &(*kv)[i]));
  return 0;
}

/* TimeUnit union -> ST_MILLI/ST_MICRO/ST_NANO (the union ids are 1/2/3). */
static int dec_time_unit(st_tc_in *in, int *unit) {
  FOR_FIELDS(in) {
  case 1:
  case 2:
  case 3:
    WANT(t, ST_TC_STRUCT, "TimeUnit");
    ST_TRY(st_tc_skip(in, t, false));
    *unit = id; /* ST_MILLI == 1, ST_MICRO == 2, ST_NANO == 3 */
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_time_like(st_tc_in *in, st_pq_logical *lt, const char *what) {
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_TRUE, what);
    lt->utc_adjusted = t == ST_TC_TRUE;
    break;
  case 2:
    WANT(t, ST_TC_STRUCT, what);
    ST_TRY(dec_time_unit(in, &lt->unit));
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_decimal_type(st_tc_in *in, st_pq_logical *lt) {
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "DecimalType.scale", &lt->scale)); break;
  case 2: ST_TRY(read_i32_field(in, t, "DecimalType.precision", &lt->precision)); break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_int_type(st_tc_in *in, st_pq_logical *lt) {
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_I8, "IntType.bitWidth");
    ST_TRY(st_tc_i8(in, &lt->bit_width));
    break;
  case 2:
    WANT(t, ST_TC_TRUE, "IntType.isSigned");
    lt->is_signed = t == ST_TC_TRUE;
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_logical(st_tc_in *in, st_pq_logical *lt) {
  memset(lt, 0, sizeof *lt);
  int16_t last_id = 0, id;
  int t;
  ST_TRY(st_tc_struct_enter(in));
  for (;;) {
    ST_TRY(st_tc_field(in, &last_id, &t, &id));
    if (t == ST_TC_STOP) break;
    /* a union: a later member replaces an earlier one entirely */
    memset(lt, 0, sizeof *lt);
    switch (id) {
  case ST_PQ_LT_DECIMAL:
    WANT(t, ST_TC_STRUCT, "LogicalType.DECIMAL");
    lt->kind = id;
    ST_TRY(dec_decimal_type(in, lt));
    break;
  case ST_PQ_LT_TIME:
  case ST_PQ_LT_TIMESTAMP:
    WANT(t, ST_TC_STRUCT, "LogicalType.TIME");
    lt->kind = id;
    ST_TRY(dec_time_like(in, lt, id == ST_PQ_LT_TIME ? "TimeType" : "TimestampType"));
    break;
  case ST_PQ_LT_INTEGER:
    WANT(t, ST_TC_STRUCT, "LogicalType.INTEGER");
    lt->kind = id;
    ST_TRY(dec_int_type(in, lt));
    break;
  case ST_PQ_LT_STRING:
  case ST_PQ_LT_MAP:
  case ST_PQ_LT_LIST:
  case ST_PQ_LT_ENUM:
  case ST_PQ_LT_DATE:
  case ST_PQ_LT_UNKNOWN:
  case ST_PQ_LT_JSON:
  case ST_PQ_LT_BSON:
  case ST_PQ_LT_UUID:
  case ST_PQ_LT_FLOAT16:
  case ST_PQ_LT_VARIANT:
  case ST_PQ_LT_GEOMETRY:
  case ST_PQ_LT_GEOGRAPHY:
    WANT(t, ST_TC_STRUCT, "LogicalType");
    lt->kind = id;
    ST_TRY(st_tc_skip(in, t, false)); /* empty structs, or details we do not keep */
    break;
  default:
    /* A member this reader does not know: remember it, read as physical. */
    lt->kind = ST_PQ_LT_OTHER;
    lt->other_id = id;
    ST_TRY(st_tc_skip(in, t, false));
    break;
  }
  }
  st_tc_struct_leave(in);
  return 0;
}

static int dec_schema_elem(st_tc_in *in, st_pq_schema_elem *e) {
  bool has_name = false;
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_I32, "SchemaElement.type");
    ST_TRY(read_enum(in, t, "SchemaElement.type", &e->type));
    e->has_type = true;
    break;
  case 2: ST_TRY(read_i32_field(in, t, "SchemaElement.type_length", &e->type_length)); break;
  case 3:
    WANT(t, ST_TC_I32, "SchemaElement.repetition_type");
    ST_TRY(read_enum(in, t, "SchemaElement.repetition_type", &e->repetition));
    e->has_repetition = true;
    break;
  case 4:
    WANT(t, ST_TC_BINARY, "SchemaElement.name");
    ST_TRY(dup_str(in, "SchemaElement.name", &e->name));
    has_name = true;
    break;
  case 5: ST_TRY(read_i32_field(in, t, "SchemaElement.num_children", &e->num_children)); break;
  case 6: {
    WANT(t, ST_TC_I32, "SchemaElement.converted_type");
    int ct = 0;
    ST_TRY(read_enum(in, t, "SchemaElement.converted_type", &ct));
    ST_SAFETY(ct >= 0 && ct < 1000, in->err, "SchemaElement.converted_type: invalid value %d", ct);
    e->converted_type = ct + 1;
    break;
  }
  case 7: ST_TRY(read_i32_field(in, t, "SchemaElement.scale", &e->scale)); break;
  case 8: ST_TRY(read_i32_field(in, t, "SchemaElement.precision", &e->precision)); break;
  case 9:
    WANT(t, ST_TC_I32, "SchemaElement.field_id");
    ST_TRY(read_i32_field(in, t, "SchemaElement.field_id", &e->field_id));
    e->has_field_id = true;
    break;
  case 10:
    WANT(t, ST_TC_STRUCT, "SchemaElement.logicalType");
    ST_TRY(dec_logical(in, &e->logical));
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  ST_SAFETY(has_name, in->err, "SchemaElement: missing name");
  return 0;
}

static int dec_stats(st_tc_in *in, st_pq_stats *s) {
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_BINARY, "Statistics.max");
    ST_TRY(dup_bin(in, "Statistics.max", &s->legacy_max, &s->legacy_max_len));
    s->has_legacy_max = true;
    break;
  case 2:
    WANT(t, ST_TC_BINARY, "Statistics.min");
    ST_TRY(dup_bin(in, "Statistics.min", &s->legacy_min, &s->legacy_min_len));
    s->has_legacy_min = true;
    break;
  case 3:
    WANT(t, ST_TC_I64, "Statistics.null_count");
    ST_TRY(read_i64_field(in, t, "Statistics.null_count", &s->null_count));
    s->has_null_count = true;
    break;
  case 4:
    WANT(t, ST_TC_I64, "Statistics.distinct_count");
    ST_TRY(read_i64_field(in, t, "Statistics.distinct_count", &s->distinct_count));
    s->has_distinct_count = true;
    break;
  case 5:
    WANT(t, ST_TC_BINARY, "Statistics.max_value");
    ST_TRY(dup_bin(in, "Statistics.max_value", &s->max, &s->max_len));
    s->has_max = true;
    break;
  case 6:
    WANT(t, ST_TC_BINARY, "Statistics.min_value");
    ST_TRY(dup_bin(in, "Statistics.min_value", &s->min, &s->min_len));
    s->has_min = true;
    break;
  case 7:
    WANT(t, ST_TC_TRUE, "Statistics.is_max_value_exact");
    s->has_is_max_exact = true;
    s->is_max_exact = t == ST_TC_TRUE;
    break;
  case 8:
    WANT(t, ST_TC_TRUE, "Statistics.is_min_value_exact");
    s->has_is_min_exact = true;
    s->is_min_exact = t == ST_TC_TRUE;
    break;
  case 9:
    WANT(t, ST_TC_I64, "Statistics.nan_count");
    ST_TRY(read_i64_field(in, t, "Statistics.nan_count", &s->nan_count));
    s->has_nan_count = true;
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_enc_stats(st_tc_in *in, st_pq_page_enc_stats *s) {
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "PageEncodingStats.page_type", &s->page_type)); break;
  case 2: ST_TRY(read_i32_field(in, t, "PageEncodingStats.encoding", &s->encoding)); break;
  case 3: ST_TRY(read_i32_field(in, t, "PageEncodingStats.count", &s->count)); break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_column_meta(st_tc_in *in, st_pq_column_meta *c) {
  void *arr;
  uint32_t n;
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_enum(in, t, "ColumnMetaData.type", &c->type)); break;
  case 2:
    WANT_LIST(t, ST_TC_I32);
    m_free(c->encodings);
    c->encodings = NULL;
    c->n_encodings = 0;
    ST_TRY(list_alloc(in, 1, "ColumnMetaData.encodings", sizeof(int32_t), &arr, &n));
    c->encodings = arr;
    c->n_encodings = (int)n;
    for (uint32_t i = 0; i < n; i++) ST_TRY(st_tc_i32(in, &c->encodings[i]));
    break;
  case 3:
    WANT_LIST(t, ST_TC_BINARY);
    if (c->path)
      for (int i = 0; i < c->n_path; i++) m_free(c->path[i]);
    m_free(c->path);
    c->path = NULL;
    c->n_path = 0;
    ST_TRY(list_alloc(in, 1, "ColumnMetaData.path_in_schema", sizeof(char *), &arr, &n));
    c->path = arr;
    c->n_path = (int)n;
    for (uint32_t i = 0; i < n; i++) ST_TRY(dup_str(in, "ColumnMetaData.path_in_schema", &c->path[i]));
    break;
  case 4: ST_TRY(read_enum(in, t, "ColumnMetaData.codec", &c->codec)); break;
  case 5: ST_TRY(read_i64_field(in, t, "ColumnMetaData.num_values", &c->num_values)); break;
  case 6:
    ST_TRY(read_i64_field(in, t, "ColumnMetaData.total_uncompressed_size", &c->total_uncompressed_size));
    break;
  case 7:
    ST_TRY(read_i64_field(in, t, "ColumnMetaData.total_compressed_size", &c->total_compressed_size));
    break;
  case 8: ST_TRY(dec_kv_list(in, t, "ColumnMetaData.key_value_metadata", &c->kv, &c->n_kv)); break;
  case 9: ST_TRY(read_i64_field(in, t, "ColumnMetaData.data_page_offset", &c->data_page_offset)); break;
  case 10:
    WANT(t, ST_TC_I64, "ColumnMetaData.index_page_offset");
    ST_TRY(read_i64_field(in, t, "ColumnMetaData.index_page_offset", &c->index_page_offset));
    c->has_index_page_offset = true;
    break;
  case 11:
    WANT(t, ST_TC_I64, "ColumnMetaData.dictionary_page_offset");
    ST_TRY(read_i64_field(in, t, "ColumnMetaData.dictionary_page_offset", &c->dictionary_page_offset));
    c->has_dictionary_page_offset = true;
    break;
  case 12:
    WANT(t, ST_TC_STRUCT, "ColumnMetaData.statistics");
    if (c->has_stats) free_stats(&c->stats);   /* a repeated field: start afresh */
    c->has_stats = true;
    ST_TRY(dec_stats(in, &c->stats));
    break;
  case 13:
    WANT_LIST(t, ST_TC_STRUCT);
    m_free(c->encoding_stats);
    c->encoding_stats = NULL;
    c->n_encoding_stats = 0;
    ST_TRY(list_alloc(in, 7, "ColumnMetaData.encoding_stats", sizeof(st_pq_page_enc_stats),
                      &arr, &n));
    c->encoding_stats = arr;
    c->n_encoding_stats = (int)n;
    for (uint32_t i = 0; i < n; i++) ST_TRY(dec_enc_stats(in, &c->encoding_stats[i]));
    break;
  case 14:
    WANT(t, ST_TC_I64, "ColumnMetaData.bloom_filter_offset");
    ST_TRY(read_i64_field(in, t, "ColumnMetaData.bloom_filter_offset", &c->bloom_filter_offset));
    c->has_bloom_filter_offset = true;
    break;
  case 15:
    WANT(t, ST_TC_I32, "ColumnMetaData.bloom_filter_length");
    ST_TRY(read_i32_field(in, t, "ColumnMetaData.bloom_filter_length", &c->bloom_filter_length));
    c->has_bloom_filter_length = true;
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_column_chunk(st_tc_in *in, st_pq_column_chunk *cc) {
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_BINARY, "ColumnChunk.file_path");
    ST_TRY(dup_str(in, "ColumnChunk.file_path", &cc->file_path));
    break;
  case 2: ST_TRY(read_i64_field(in, t, "ColumnChunk.file_offset", &cc->file_offset)); break;
  case 3:
    WANT(t, ST_TC_STRUCT, "ColumnChunk.meta_data");
    if (cc->has_meta) free_column_meta(&cc->meta);   /* a repeated field: start afresh */
    cc->has_meta = true;
    ST_TRY(dec_column_meta(in, &cc->meta));
    break;
  case 4:
    WANT(t, ST_TC_I64, "ColumnChunk.offset_index_offset");
    ST_TRY(read_i64_field(in, t, "ColumnChunk.offset_index_offset", &cc->offset_index_offset));
    cc->has_offset_index = true;
    break;
  case 5: ST_TRY(read_i32_field(in, t, "ColumnChunk.offset_index_length", &cc->offset_index_length)); break;
  case 6:
    WANT(t, ST_TC_I64, "ColumnChunk.column_index_offset");
    ST_TRY(read_i64_field(in, t, "ColumnChunk.column_index_offset", &cc->column_index_offset));
    cc->has_column_index = true;
    break;
  case 7: ST_TRY(read_i32_field(in, t, "ColumnChunk.column_index_length", &cc->column_index_length)); break;
  case 8:
  case 9:
    cc->encrypted = true;
    ST_TRY(st_tc_skip(in, t, false));
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_sorting(st_tc_in *in, st_pq_sorting_column *s) {
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "SortingColumn.column_idx", &s->column_idx)); break;
  case 2:
    WANT(t, ST_TC_TRUE, "SortingColumn.descending");
    s->descending = t == ST_TC_TRUE;
    break;
  case 3:
    WANT(t, ST_TC_TRUE, "SortingColumn.nulls_first");
    s->nulls_first = t == ST_TC_TRUE;
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_row_group(st_tc_in *in, st_pq_row_group *rg) {
  void *arr;
  uint32_t n;
  FOR_FIELDS(in) {
  case 1:
    WANT_LIST(t, ST_TC_STRUCT);
    if (rg->columns)
      for (int i = 0; i < rg->n_columns; i++) {
        m_free(rg->columns[i].file_path);
        free_column_meta(&rg->columns[i].meta);
      }
    m_free(rg->columns);
    rg->columns = NULL;
    rg->n_columns = 0;
    ST_TRY(list_alloc(in, 3, "RowGroup.columns", sizeof(st_pq_column_chunk), &arr, &n));
    rg->columns = arr;
    rg->n_columns = (int)n;
    for (uint32_t i = 0; i < n; i++) ST_TRY(dec_column_chunk(in, &rg->columns[i]));
    break;
  case 2: ST_TRY(read_i64_field(in, t, "RowGroup.total_byte_size", &rg->total_byte_size)); break;
  case 3: ST_TRY(read_i64_field(in, t, "RowGroup.num_rows", &rg->num_rows)); break;
  case 4:
    WANT_LIST(t, ST_TC_STRUCT);
    m_free(rg->sorting);
    rg->sorting = NULL;
    rg->n_sorting = 0;
    ST_TRY(list_alloc(in, 5, "RowGroup.sorting_columns", sizeof(st_pq_sorting_column), &arr,
                      &n));
    rg->sorting = arr;
    rg->n_sorting = (int)n;
    for (uint32_t i = 0; i < n; i++) ST_TRY(dec_sorting(in, &rg->sorting[i]));
    break;
  case 5:
    WANT(t, ST_TC_I64, "RowGroup.file_offset");
    ST_TRY(read_i64_field(in, t, "RowGroup.file_offset", &rg->file_offset));
    rg->has_file_offset = true;
    break;
  case 6:
    WANT(t, ST_TC_I64, "RowGroup.total_compressed_size");
    ST_TRY(read_i64_field(in, t, "RowGroup.total_compressed_size", &rg->total_compressed_size));
    rg->has_total_compressed_size = true;
    break;
  case 7:
    WANT(t, ST_TC_I16, "RowGroup.ordinal");
    ST_TRY(st_tc_i16(in, &rg->ordinal));
    rg->has_ordinal = true;
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

/* ColumnOrder union: the member id for known members, else ST_PQ_ORDER_UNKNOWN. */
static int dec_column_order(st_tc_in *in, int *order) {
  *order = ST_PQ_ORDER_UNKNOWN;
  FOR_FIELDS(in) {
  case ST_PQ_ORDER_TYPE_DEFINED:
  case ST_PQ_ORDER_IEEE754_TOTAL:
  case ST_PQ_ORDER_INT96_TIMESTAMP:
    WANT(t, ST_TC_STRUCT, "ColumnOrder");
    *order = id;
    ST_TRY(st_tc_skip(in, t, false));
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_file_meta(st_tc_in *in, st_pq_file_meta *m) {
  void *arr;
  uint32_t n;
  bool has_schema = false;
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "FileMetaData.version", &m->version)); break;
  case 2:
    WANT_LIST(t, ST_TC_STRUCT);
    if (m->schema)
      for (int i = 0; i < m->n_schema; i++) m_free(m->schema[i].name);
    m_free(m->schema);
    m->schema = NULL;
    m->n_schema = 0;
    ST_TRY(list_alloc(in, 3, "FileMetaData.schema", sizeof(st_pq_schema_elem), &arr, &n));
    m->schema = arr;
    m->n_schema = (int)n;
    for (uint32_t i = 0; i < n; i++) {
      ST_TRY(dec_schema_elem(in, &m->schema[i]));
    }
    has_schema = true;
    break;
  case 3: ST_TRY(read_i64_field(in, t, "FileMetaData.num_rows", &m->num_rows)); break;
  case 4:
    WANT_LIST(t, ST_TC_STRUCT);
    if (m->row_groups)
      for (int i = 0; i < m->n_row_groups; i++) free_row_group(&m->row_groups[i]);
    m_free(m->row_groups);
    m->row_groups = NULL;
    m->n_row_groups = 0;
    ST_TRY(list_alloc(in, 7, "FileMetaData.row_groups", sizeof(st_pq_row_group), &arr, &n));
    m->row_groups = arr;
    m->n_row_groups = (int)n;
    for (uint32_t i = 0; i < n; i++) ST_TRY(dec_row_group(in, &m->row_groups[i]));
    break;
  case 5: ST_TRY(dec_kv_list(in, t, "FileMetaData.key_value_metadata", &m->kv, &m->n_kv)); break;
  case 6:
    WANT(t, ST_TC_BINARY, "FileMetaData.created_by");
    ST_TRY(dup_str(in, "FileMetaData.created_by", &m->created_by));
    break;
  case 7:
    WANT_LIST(t, ST_TC_STRUCT);
    m_free(m->column_orders);
    m->column_orders = NULL;
    m->n_column_orders = 0;
    ST_TRY(list_alloc(in, 1, "FileMetaData.column_orders", sizeof(int), &arr, &n));
    m->column_orders = arr;
    m->n_column_orders = (int)n;
    m->has_column_orders = true;
    for (uint32_t i = 0; i < n; i++) ST_TRY(dec_column_order(in, &m->column_orders[i]));
    break;
  case 8:
    WANT(t, ST_TC_STRUCT, "FileMetaData.encryption_algorithm");
    m->has_encryption_algorithm = true;
    ST_TRY(st_tc_skip(in, t, false));
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  ST_SAFETY(has_schema, in->err, "FileMetaData: missing schema");
  return 0;
}

static int meta_decode(const uint8_t *data, size_t len, st_pq_file_meta *out, bool use_arena, st_error *err) {
  st_tc_in in;
  memset(out, 0, sizeof *out);
  st_tc_in_init(&in, data, len, err);
  meta_block *arena = NULL;
  if (use_arena) tl_arena = &arena;
  int rc = dec_file_meta(&in, out);
  tl_arena = NULL;
  out->arena = arena;
  if (rc) {
    st_pq_meta_free(out);
    st_error_prefix(err, "footer (FileMetaData, byte %zu of %zu): ", (size_t)(in.p - data), len);
    return rc;
  }
  return 0;
}

int st_pq_meta_decode(const uint8_t *data, size_t len, st_pq_file_meta *out, st_error *err) {
  return meta_decode(data, len, out, false, err);
}

int st_pq_meta_decode_arena(const uint8_t *data, size_t len, st_pq_file_meta *out, st_error *err) {
  return meta_decode(data, len, out, true, err);
}

/* ---- page headers ------------------------------------------------------------ */

static int dec_data_page(st_tc_in *in, st_pq_page_header *h) {
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "DataPageHeader.num_values", &h->num_values)); break;
  case 2: ST_TRY(read_enum(in, t, "DataPageHeader.encoding", &h->encoding)); break;
  case 3: ST_TRY(read_enum(in, t, "DataPageHeader.definition_level_encoding", &h->def_level_encoding)); break;
  case 4: ST_TRY(read_enum(in, t, "DataPageHeader.repetition_level_encoding", &h->rep_level_encoding)); break;
    SKIP_DEFAULT; /* 5 statistics: not kept */
  }
  END_FIELDS(in);
  return 0;
}

static int dec_dict_page(st_tc_in *in, st_pq_page_header *h) {
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "DictionaryPageHeader.num_values", &h->num_values)); break;
  case 2: ST_TRY(read_enum(in, t, "DictionaryPageHeader.encoding", &h->encoding)); break;
  case 3:
    WANT(t, ST_TC_TRUE, "DictionaryPageHeader.is_sorted");
    h->is_sorted = t == ST_TC_TRUE;
    break;
    SKIP_DEFAULT;
  }
  END_FIELDS(in);
  return 0;
}

static int dec_data_page_v2(st_tc_in *in, st_pq_page_header *h) {
  FOR_FIELDS(in) {
  case 1: ST_TRY(read_i32_field(in, t, "DataPageHeaderV2.num_values", &h->num_values)); break;
  case 2: ST_TRY(read_i32_field(in, t, "DataPageHeaderV2.num_nulls", &h->num_nulls)); break;
  case 3: ST_TRY(read_i32_field(in, t, "DataPageHeaderV2.num_rows", &h->num_rows)); break;
  case 4: ST_TRY(read_enum(in, t, "DataPageHeaderV2.encoding", &h->encoding)); break;
  case 5:
    ST_TRY(read_i32_field(in, t, "DataPageHeaderV2.definition_levels_byte_length",
                          &h->def_levels_byte_length));
    break;
  case 6:
    ST_TRY(read_i32_field(in, t, "DataPageHeaderV2.repetition_levels_byte_length",
                          &h->rep_levels_byte_length));
    break;
  case 7:
    WANT(t, ST_TC_TRUE, "DataPageHeaderV2.is_compressed");
    h->is_compressed = t == ST_TC_TRUE;
    break;
    SKIP_DEFAULT; /* 8 statistics: not kept */
  }
  END_FIELDS(in);
  return 0;
}

static int dec_page_header(st_tc_in *in, st_pq_page_header *h) {
  bool has_type = false, has_sub = false;
  FOR_FIELDS(in) {
  case 1:
    WANT(t, ST_TC_I32, "PageHeader.type");
    ST_TRY(read_enum(in, t, "PageHeader.type", &h->type));
    has_type = true;
    break;
  case 2:
    ST_TRY(read_i32_field(in, t, "PageHeader.uncompressed_page_size", &h->uncompressed_page_size));
    break;
  case 3: ST_TRY(read_i32_field(in, t, "PageHeader.compressed_page_size", &h->compressed_page_size)); break;
  case 4: {
    WANT(t, ST_TC_I32, "PageHeader.crc");
    int32_t crc = 0;
    ST_TRY(read_i32_field(in, t, "PageHeader.crc", &crc));
    h->crc = (uint32_t)crc;
    h->has_crc = true;
    break;
  }
  case 5:
    WANT(t, ST_TC_STRUCT, "PageHeader.data_page_header");
    ST_TRY(dec_data_page(in, h));
    has_sub = true;
    break;
  case 7:
    WANT(t, ST_TC_STRUCT, "PageHeader.dictionary_page_header");
    ST_TRY(dec_dict_page(in, h));
    has_sub = true;
    break;
  case 8:
    WANT(t, ST_TC_STRUCT, "PageHeader.data_page_header_v2");
    ST_TRY(dec_data_page_v2(in, h));
    has_sub = true;
    break;
    SKIP_DEFAULT; /* 6 index_page_header */
  }
  END_FIELDS(in);
  ST_SAFETY(has_type, in->err, "PageHeader: missing type");
  ST_SAFETY(h->compressed_page_size >= 0 && h->uncompressed_page_size >= 0, in->err,
            "PageHeader: negative page size");
  if (h->type == ST_PQ_DATA_PAGE || h->type == ST_PQ_DATA_PAGE_V2 || h->type == ST_PQ_DICTIONARY_PAGE)
    ST_SAFETY(has_sub, in->err, "PageHeader: page type %d without its header", h->type);
  return 0;
}

int st_pq_page_header_decode(const uint8_t *data, size_t len, st_pq_page_header *out, size_t *consumed,
                             st_error *err) {
  st_tc_in in;
  memset(out, 0, sizeof *out);
  out->is_compressed = true;
  st_tc_in_init(&in, data, len, err);
  int rc = dec_page_header(&in, out);
  if (rc) {
    st_error_prefix(err, "page header: ");
    return rc;
  }
  *consumed = (size_t)(in.p - data);
  return 0;
}

/* ---- encoders ------------------------------------------------------------------ */

void st_pq_enc_kv_list(st_tc_out *o, int16_t id, const st_pq_kv *kv, int n) {
  st_tc_w_list(o, id, ST_TC_STRUCT, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    st_tc_w_begin(o);
    st_tc_w_string(o, 1, kv[i].key ? kv[i].key : "");
    if (kv[i].value) st_tc_w_binary(o, 2, kv[i].value, kv[i].value_len);
    st_tc_w_end(o);
  }
}

static void enc_time_unit(st_tc_out *o, int16_t id, int unit) {
  st_tc_w_struct(o, id);
  if (unit >= ST_MILLI && unit <= ST_NANO) { /* else an empty union, as it was read */
    st_tc_w_struct(o, (int16_t)unit);
    st_tc_w_end(o);
  }
  st_tc_w_end(o);
}

void st_pq_enc_logical(st_tc_out *o, const st_pq_logical *lt) {
  st_tc_w_struct(o, 10);
  int16_t id = lt->kind == ST_PQ_LT_OTHER ? lt->other_id : (int16_t)lt->kind;
  st_tc_w_struct(o, id);
  switch (lt->kind) {
  case ST_PQ_LT_DECIMAL:
    st_tc_w_i32(o, 1, lt->scale);
    st_tc_w_i32(o, 2, lt->precision);
    break;
  case ST_PQ_LT_TIME:
  case ST_PQ_LT_TIMESTAMP:
    st_tc_w_bool(o, 1, lt->utc_adjusted);
    enc_time_unit(o, 2, lt->unit);
    break;
  case ST_PQ_LT_INTEGER:
    st_tc_w_i8(o, 1, lt->bit_width);
    st_tc_w_bool(o, 2, lt->is_signed);
    break;
  default:
    break; /* empty struct */
  }
  st_tc_w_end(o);
  st_tc_w_end(o);
}

void st_pq_enc_schema_elem(st_tc_out *o, const st_pq_schema_elem *e) {
  st_tc_w_begin(o);
  if (e->has_type) st_tc_w_i32(o, 1, e->type);
  if (e->has_type && e->type == ST_PQ_FIXED_LEN_BYTE_ARRAY) st_tc_w_i32(o, 2, e->type_length);
  else if (e->type_length) st_tc_w_i32(o, 2, e->type_length);
  if (e->has_repetition) st_tc_w_i32(o, 3, e->repetition);
  st_tc_w_string(o, 4, e->name ? e->name : "");
  if (!e->has_type || e->num_children) st_tc_w_i32(o, 5, e->num_children);
  if (e->converted_type) st_tc_w_i32(o, 6, e->converted_type - 1);
  if (e->scale || e->converted_type == ST_PQ_CT_DECIMAL) st_tc_w_i32(o, 7, e->scale);
  if (e->precision || e->converted_type == ST_PQ_CT_DECIMAL) st_tc_w_i32(o, 8, e->precision);
  if (e->has_field_id) st_tc_w_i32(o, 9, e->field_id);
  if (e->logical.kind) st_pq_enc_logical(o, &e->logical);
  st_tc_w_end(o);
}

void st_pq_enc_stats(st_tc_out *o, int16_t id, const st_pq_stats *s) {
  st_tc_w_struct(o, id);
  if (s->has_legacy_max) st_tc_w_binary(o, 1, s->legacy_max, s->legacy_max_len);
  if (s->has_legacy_min) st_tc_w_binary(o, 2, s->legacy_min, s->legacy_min_len);
  if (s->has_null_count) st_tc_w_i64(o, 3, s->null_count);
  if (s->has_distinct_count) st_tc_w_i64(o, 4, s->distinct_count);
  if (s->has_max) st_tc_w_binary(o, 5, s->max, s->max_len);
  if (s->has_min) st_tc_w_binary(o, 6, s->min, s->min_len);
  if (s->has_is_max_exact) st_tc_w_bool(o, 7, s->is_max_exact);
  if (s->has_is_min_exact) st_tc_w_bool(o, 8, s->is_min_exact);
  if (s->has_nan_count) st_tc_w_i64(o, 9, s->nan_count);
  st_tc_w_end(o);
}

static void enc_column_meta(st_tc_out *o, const st_pq_column_meta *c) {
  st_tc_w_struct(o, 3);
  st_tc_w_i32(o, 1, c->type);
  st_tc_w_list(o, 2, ST_TC_I32, (uint32_t)c->n_encodings);
  for (int i = 0; i < c->n_encodings; i++) st_tc_w_zigzag(o, c->encodings[i]);
  st_tc_w_list(o, 3, ST_TC_BINARY, (uint32_t)c->n_path);
  for (int i = 0; i < c->n_path; i++) st_tc_w_raw_binary(o, c->path[i], strlen(c->path[i]));
  st_tc_w_i32(o, 4, c->codec);
  st_tc_w_i64(o, 5, c->num_values);
  st_tc_w_i64(o, 6, c->total_uncompressed_size);
  st_tc_w_i64(o, 7, c->total_compressed_size);
  if (c->kv) st_pq_enc_kv_list(o, 8, c->kv, c->n_kv);
  st_tc_w_i64(o, 9, c->data_page_offset);
  if (c->has_index_page_offset) st_tc_w_i64(o, 10, c->index_page_offset);
  if (c->has_dictionary_page_offset) st_tc_w_i64(o, 11, c->dictionary_page_offset);
  if (c->has_stats) st_pq_enc_stats(o, 12, &c->stats);
  if (c->encoding_stats) {
    st_tc_w_list(o, 13, ST_TC_STRUCT, (uint32_t)c->n_encoding_stats);
    for (int i = 0; i < c->n_encoding_stats; i++) {
      st_tc_w_begin(o);
      st_tc_w_i32(o, 1, c->encoding_stats[i].page_type);
      st_tc_w_i32(o, 2, c->encoding_stats[i].encoding);
      st_tc_w_i32(o, 3, c->encoding_stats[i].count);
      st_tc_w_end(o);
    }
  }
  if (c->has_bloom_filter_offset) st_tc_w_i64(o, 14, c->bloom_filter_offset);
  if (c->has_bloom_filter_length) st_tc_w_i32(o, 15, c->bloom_filter_length);
  st_tc_w_end(o);
}

static void enc_column_chunk(st_tc_out *o, const st_pq_column_chunk *cc) {
  st_tc_w_begin(o);
  if (cc->file_path) st_tc_w_string(o, 1, cc->file_path);
  st_tc_w_i64(o, 2, cc->file_offset);
  if (cc->has_meta) enc_column_meta(o, &cc->meta);
  if (cc->has_offset_index) st_tc_w_i64(o, 4, cc->offset_index_offset);
  if (cc->has_offset_index || cc->offset_index_length) st_tc_w_i32(o, 5, cc->offset_index_length);
  if (cc->has_column_index) st_tc_w_i64(o, 6, cc->column_index_offset);
  if (cc->has_column_index || cc->column_index_length) st_tc_w_i32(o, 7, cc->column_index_length);
  if (cc->encrypted) { /* details are not kept: an empty ENCRYPTION_WITH_FOOTER_KEY */
    st_tc_w_struct(o, 8);
    st_tc_w_struct(o, 1);
    st_tc_w_end(o);
    st_tc_w_end(o);
  }
  st_tc_w_end(o);
}

static void enc_row_group(st_tc_out *o, const st_pq_row_group *rg) {
  st_tc_w_begin(o);
  st_tc_w_list(o, 1, ST_TC_STRUCT, (uint32_t)rg->n_columns);
  for (int i = 0; i < rg->n_columns; i++) enc_column_chunk(o, &rg->columns[i]);
  st_tc_w_i64(o, 2, rg->total_byte_size);
  st_tc_w_i64(o, 3, rg->num_rows);
  if (rg->sorting) {
    st_tc_w_list(o, 4, ST_TC_STRUCT, (uint32_t)rg->n_sorting);
    for (int i = 0; i < rg->n_sorting; i++) {
      st_tc_w_begin(o);
      st_tc_w_i32(o, 1, rg->sorting[i].column_idx);
      st_tc_w_bool(o, 2, rg->sorting[i].descending);
      st_tc_w_bool(o, 3, rg->sorting[i].nulls_first);
      st_tc_w_end(o);
    }
  }
  if (rg->has_file_offset) st_tc_w_i64(o, 5, rg->file_offset);
  if (rg->has_total_compressed_size) st_tc_w_i64(o, 6, rg->total_compressed_size);
  if (rg->has_ordinal) st_tc_w_i16(o, 7, rg->ordinal);
  st_tc_w_end(o);
}

int st_pq_meta_encode(const st_pq_file_meta *m, st_buf *out, st_error *err) {
  st_tc_out o;
  st_tc_out_init(&o, out, err);
  st_tc_w_begin(&o);
  st_tc_w_i32(&o, 1, m->version);
  st_tc_w_list(&o, 2, ST_TC_STRUCT, (uint32_t)m->n_schema);
  for (int i = 0; i < m->n_schema; i++) st_pq_enc_schema_elem(&o, &m->schema[i]);
  st_tc_w_i64(&o, 3, m->num_rows);
  st_tc_w_list(&o, 4, ST_TC_STRUCT, (uint32_t)m->n_row_groups);
  for (int i = 0; i < m->n_row_groups; i++) enc_row_group(&o, &m->row_groups[i]);
  if (m->kv) st_pq_enc_kv_list(&o, 5, m->kv, m->n_kv);
  if (m->created_by) st_tc_w_string(&o, 6, m->created_by);
  if (m->has_column_orders || m->n_column_orders) {
    st_tc_w_list(&o, 7, ST_TC_STRUCT, (uint32_t)m->n_column_orders);
    for (int i = 0; i < m->n_column_orders; i++) {
      st_tc_w_begin(&o);
      int ord = m->column_orders[i];
      if (ord >= ST_PQ_ORDER_TYPE_DEFINED && ord <= ST_PQ_ORDER_INT96_TIMESTAMP) {
        st_tc_w_struct(&o, (int16_t)ord);
        st_tc_w_end(&o);
      }
      st_tc_w_end(&o);
    }
  }
  if (m->has_encryption_algorithm) { /* details are not kept: an empty struct */
    st_tc_w_struct(&o, 8);
    st_tc_w_end(&o);
  }
  st_tc_w_end(&o);
  return st_tc_out_finish(&o);
}

void st_pq_enc_page_header(st_tc_out *o, const st_pq_page_header *h) {
  st_tc_w_begin(o);
  st_tc_w_i32(o, 1, h->type);
  st_tc_w_i32(o, 2, h->uncompressed_page_size);
  st_tc_w_i32(o, 3, h->compressed_page_size);
  if (h->has_crc) st_tc_w_i32(o, 4, (int32_t)h->crc);
  switch (h->type) {
  case ST_PQ_DATA_PAGE:
    st_tc_w_struct(o, 5);
    st_tc_w_i32(o, 1, h->num_values);
    st_tc_w_i32(o, 2, h->encoding);
    st_tc_w_i32(o, 3, h->def_level_encoding);
    st_tc_w_i32(o, 4, h->rep_level_encoding);
    st_tc_w_end(o);
    break;
  case ST_PQ_DICTIONARY_PAGE:
    st_tc_w_struct(o, 7);
    st_tc_w_i32(o, 1, h->num_values);
    st_tc_w_i32(o, 2, h->encoding);
    if (h->is_sorted) st_tc_w_bool(o, 3, true);
    st_tc_w_end(o);
    break;
  case ST_PQ_DATA_PAGE_V2:
    st_tc_w_struct(o, 8);
    st_tc_w_i32(o, 1, h->num_values);
    st_tc_w_i32(o, 2, h->num_nulls);
    st_tc_w_i32(o, 3, h->num_rows);
    st_tc_w_i32(o, 4, h->encoding);
    st_tc_w_i32(o, 5, h->def_levels_byte_length);
    st_tc_w_i32(o, 6, h->rep_levels_byte_length);
    st_tc_w_bool(o, 7, h->is_compressed);
    st_tc_w_end(o);
    break;
  default:
    break;
  }
  st_tc_w_end(o);
}

int st_pq_page_header_encode(const st_pq_page_header *h, st_buf *out, st_error *err) {
  if (h->type != ST_PQ_DATA_PAGE && h->type != ST_PQ_DICTIONARY_PAGE && h->type != ST_PQ_DATA_PAGE_V2)
    return st_fail(err, ST_ERR_INVALID, "page header encoder: unsupported page type %d", h->type);
  st_tc_out o;
  st_tc_out_init(&o, out, err);
  st_pq_enc_page_header(&o, h);
  return st_tc_out_finish(&o);
}
