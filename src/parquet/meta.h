/*
** This file declares Parquet's file metadata as skytile holds it in memory
** (module parquet).  thrift.c decodes/encodes the Thrift compact protocol;
** meta.c maps FileMetaData and PageHeader <-> these structs; schema.c derives
** the schema tree (leaves, levels, Arrow types); stats.c interprets column
** statistics; meta_view.c exposes it all through skytile/parquet_meta.h.
**
** File layout (parquet-format README):
**   OFFSET          SIZE  DESCRIPTION
**   0               4     magic "PAR1"
**   4               ...   column chunks: [dictionary page] data pages ...
**   size-8-F        F     FileMetaData (Thrift compact)
**   size-8          4     F, little-endian uint32
**   size-4          4     magic "PAR1" ("PARE" = encrypted footer: unsupported)
**
** Each page: PageHeader (Thrift compact) then compressed_page_size bytes.
**
** Everything here is owned by the st_pq_meta it hangs from and freed with
** st_pq_meta_free.  Byte strings (statistics, names) are copied out of the
** footer buffer, so the footer may be released after parsing.
*/
#ifndef ST_PARQUET_META_H
#define ST_PARQUET_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/mem.h"
#include "skytile.h"
#include "parquet/thrift.h"

/* Physical types (parquet.thrift Type). */
enum {
  ST_PQ_BOOLEAN = 0, ST_PQ_INT32 = 1, ST_PQ_INT64 = 2, ST_PQ_INT96 = 3, ST_PQ_FLOAT = 4,
  ST_PQ_DOUBLE = 5, ST_PQ_BYTE_ARRAY = 6, ST_PQ_FIXED_LEN_BYTE_ARRAY = 7
};
/* FieldRepetitionType */
enum { ST_PQ_REQUIRED = 0, ST_PQ_OPTIONAL = 1, ST_PQ_REPEATED = 2 };
/* Encoding */
enum {
  ST_PQ_ENC_PLAIN = 0, ST_PQ_ENC_PLAIN_DICTIONARY = 2, ST_PQ_ENC_RLE = 3, ST_PQ_ENC_BIT_PACKED = 4,
  ST_PQ_ENC_DELTA_BINARY_PACKED = 5, ST_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
  ST_PQ_ENC_DELTA_BYTE_ARRAY = 7, ST_PQ_ENC_RLE_DICTIONARY = 8, ST_PQ_ENC_BYTE_STREAM_SPLIT = 9
};
/* PageType */
enum { ST_PQ_DATA_PAGE = 0, ST_PQ_INDEX_PAGE = 1, ST_PQ_DICTIONARY_PAGE = 2, ST_PQ_DATA_PAGE_V2 = 3 };
/* ConvertedType (legacy), +1 so that 0 means "absent". */
enum {
  ST_PQ_CT_NONE = 0, ST_PQ_CT_UTF8 = 1, ST_PQ_CT_MAP, ST_PQ_CT_MAP_KEY_VALUE, ST_PQ_CT_LIST,
  ST_PQ_CT_ENUM, ST_PQ_CT_DECIMAL, ST_PQ_CT_DATE, ST_PQ_CT_TIME_MILLIS, ST_PQ_CT_TIME_MICROS,
  ST_PQ_CT_TIMESTAMP_MILLIS, ST_PQ_CT_TIMESTAMP_MICROS, ST_PQ_CT_UINT_8, ST_PQ_CT_UINT_16,
  ST_PQ_CT_UINT_32, ST_PQ_CT_UINT_64, ST_PQ_CT_INT_8, ST_PQ_CT_INT_16, ST_PQ_CT_INT_32,
  ST_PQ_CT_INT_64, ST_PQ_CT_JSON, ST_PQ_CT_BSON, ST_PQ_CT_INTERVAL
};
/* LogicalType union member (thrift field id), 0 = absent. */
enum {
  ST_PQ_LT_NONE = 0, ST_PQ_LT_STRING = 1, ST_PQ_LT_MAP = 2, ST_PQ_LT_LIST = 3, ST_PQ_LT_ENUM = 4,
  ST_PQ_LT_DECIMAL = 5, ST_PQ_LT_DATE = 6, ST_PQ_LT_TIME = 7, ST_PQ_LT_TIMESTAMP = 8,
  ST_PQ_LT_INTEGER = 10, ST_PQ_LT_UNKNOWN = 11, ST_PQ_LT_JSON = 12, ST_PQ_LT_BSON = 13,
  ST_PQ_LT_UUID = 14, ST_PQ_LT_FLOAT16 = 15, ST_PQ_LT_VARIANT = 16, ST_PQ_LT_GEOMETRY = 17,
  ST_PQ_LT_GEOGRAPHY = 18, ST_PQ_LT_OTHER = 99 /* an id we do not know */
};

typedef struct st_pq_logical {
  int kind;                 /* ST_PQ_LT_*                                       */
  int32_t precision, scale; /* DECIMAL                                          */
  bool utc_adjusted;        /* TIME, TIMESTAMP                                  */
  int unit;                 /* TIME/TIMESTAMP: st_time_unit (MILLI/MICRO/NANO)   */
  int8_t bit_width;         /* INTEGER: 8/16/32/64                              */
  bool is_signed;           /* INTEGER                                          */
  int16_t other_id;         /* ST_PQ_LT_OTHER: the union field id seen          */
} st_pq_logical;

typedef struct st_pq_schema_elem {
  char *name;               /* (owned)                                          */
  bool has_type;            /* leaf when true                                   */
  int type;                 /* ST_PQ_BOOLEAN..                                  */
  int32_t type_length;      /* FIXED_LEN_BYTE_ARRAY width                       */
  bool has_repetition;
  int repetition;           /* ST_PQ_REQUIRED/OPTIONAL/REPEATED                 */
  int32_t num_children;     /* 0 for leaves                                     */
  int converted_type;       /* ST_PQ_CT_* (+1 numbering, 0 = none)              */
  int32_t scale, precision; /* legacy decimal                                   */
  bool has_field_id;
  int32_t field_id;
  st_pq_logical logical;    /* kind 0 when absent                               */
} st_pq_schema_elem;

typedef struct st_pq_stats {
  bool has_min, has_max;    /* min_value/max_value (new, with column order)     */
  uint8_t *min, *max;       /* (owned) raw PLAIN-encoded bytes (no length pfx)  */
  uint32_t min_len, max_len;
  bool has_legacy_min, has_legacy_max; /* deprecated min/max fields            */
  uint8_t *legacy_min, *legacy_max;
  uint32_t legacy_min_len, legacy_max_len;
  bool has_null_count;
  int64_t null_count;
  bool has_distinct_count;
  int64_t distinct_count;
  bool has_is_min_exact, is_min_exact;
  bool has_is_max_exact, is_max_exact;
  bool has_nan_count;       /* parquet-format 2.11+ nan_count (field 9)          */
  int64_t nan_count;
} st_pq_stats;

typedef struct st_pq_kv {
  char *key;                /* (owned)                                          */
  char *value;              /* (owned) may be NULL                              */
  uint32_t value_len;
} st_pq_kv;

typedef struct st_pq_page_enc_stats {
  int32_t page_type;        /* ST_PQ_DATA_PAGE, ...                             */
  int32_t encoding;         /* ST_PQ_ENC_*                                      */
  int32_t count;            /* pages of this type with this encoding            */
} st_pq_page_enc_stats;

typedef struct st_pq_column_meta {
  int type;                 /* physical type                                    */
  int n_encodings;
  int32_t *encodings;       /* (owned)                                          */
  int n_path;
  char **path;              /* (owned) path_in_schema                           */
  int codec;                /* ST_CODEC_*                                       */
  int64_t num_values;
  int64_t total_uncompressed_size;
  int64_t total_compressed_size;
  int n_kv;
  st_pq_kv *kv;             /* (owned) key_value_metadata                       */
  int64_t data_page_offset;
  bool has_index_page_offset;
  int64_t index_page_offset;
  bool has_dictionary_page_offset;
  int64_t dictionary_page_offset;
  bool has_stats;
  st_pq_stats stats;
  int n_encoding_stats;     /* page_encoding_stats count                         */
  st_pq_page_enc_stats *encoding_stats; /* (owned) n_encoding_stats entries      */
  bool has_bloom_filter_offset;
  int64_t bloom_filter_offset;
  bool has_bloom_filter_length;
  int32_t bloom_filter_length;
} st_pq_column_meta;

typedef struct st_pq_column_chunk {
  char *file_path;          /* (owned) NULL when in this file                    */
  int64_t file_offset;
  bool has_meta;
  st_pq_column_meta meta;
  bool has_offset_index;
  int64_t offset_index_offset;
  int32_t offset_index_length;
  bool has_column_index;
  int64_t column_index_offset;
  int32_t column_index_length;
  bool encrypted;           /* crypto_metadata or encrypted_column_metadata set  */
} st_pq_column_chunk;

typedef struct st_pq_sorting_column {
  int32_t column_idx;
  bool descending;
  bool nulls_first;
} st_pq_sorting_column;

typedef struct st_pq_row_group {
  int n_columns;
  st_pq_column_chunk *columns;  /* (owned)                                      */
  int64_t total_byte_size;
  int64_t num_rows;
  int n_sorting;
  st_pq_sorting_column *sorting;/* (owned)                                      */
  bool has_file_offset;
  int64_t file_offset;
  bool has_total_compressed_size;
  int64_t total_compressed_size;
  bool has_ordinal;
  int16_t ordinal;
} st_pq_row_group;

/* ColumnOrder: the union member's field id; 0 = absent or unknown member. */
enum {
  ST_PQ_ORDER_UNKNOWN = 0, ST_PQ_ORDER_TYPE_DEFINED = 1, ST_PQ_ORDER_IEEE754_TOTAL = 2,
  ST_PQ_ORDER_INT96_TIMESTAMP = 3
};

typedef struct st_pq_file_meta {
  int32_t version;
  int n_schema;
  st_pq_schema_elem *schema;    /* (owned) depth-first, [0] is the root          */
  int64_t num_rows;
  int n_row_groups;
  st_pq_row_group *row_groups;  /* (owned)                                       */
  int n_kv;
  st_pq_kv *kv;                 /* (owned) key_value_metadata                    */
  char *created_by;             /* (owned) may be NULL                           */
  int n_column_orders;
  int *column_orders;           /* (owned) ST_PQ_ORDER_*, one per leaf           */
  bool has_encryption_algorithm;/* plaintext-footer encrypted files (field 8;   */
                                /* re-encoded as an empty struct)                */
  bool has_column_orders;       /* field 7 present (possibly empty list)         */
  void *arena;                  /* st_pq_meta_decode_arena: blocks holding every */
                                /* allocation above (freed at once); NULL when   */
                                /* the parts are separate heap blocks            */
} st_pq_file_meta;

/* PageHeader and its parts. */
typedef struct st_pq_page_header {
  int type;                     /* ST_PQ_DATA_PAGE, ...                          */
  int32_t uncompressed_page_size;
  int32_t compressed_page_size;
  bool has_crc;
  uint32_t crc;
  /* DATA_PAGE (v1) */
  int32_t num_values;
  int encoding;
  int def_level_encoding;
  int rep_level_encoding;
  /* DATA_PAGE_V2 (num_values and encoding shared with v1) */
  int32_t num_nulls;
  int32_t num_rows;
  int32_t def_levels_byte_length;
  int32_t rep_levels_byte_length;
  bool is_compressed;           /* v2; default true                              */
  /* DICTIONARY_PAGE (num_values, encoding shared) */
  bool is_sorted;
  /* statistics of data pages are skipped (not kept) */
} st_pq_page_header;

/* ---- Thrift compact protocol, Parquet structs ---------------------------- */
/*
** Decode FileMetaData from [data, data+len).  Depth and sizes are bounded; all
** list counts are checked against the remaining input before allocating.
*/
int st_pq_meta_decode(const uint8_t *data, size_t len, st_pq_file_meta *out, st_error *err);
/* The same with every part in one arena (out->arena): faster to decode and
   free, but the result must not be edited with heap-allocated parts. */
int st_pq_meta_decode_arena(const uint8_t *data, size_t len, st_pq_file_meta *out, st_error *err);
void st_pq_meta_free(st_pq_file_meta *m);   /* frees contents, not m         */
/* Decode a PageHeader; *consumed = header bytes. */
int st_pq_page_header_decode(const uint8_t *data, size_t len, st_pq_page_header *out,
                             size_t *consumed, st_error *err);
/* Encoders (for the writer): append the compact encoding to out. */
int st_pq_meta_encode(const st_pq_file_meta *m, st_buf *out, st_error *err);
int st_pq_page_header_encode(const st_pq_page_header *h, st_buf *out, st_error *err);
/*
** The pieces of those encoders, for the writer, which streams a footer in parts
** (head, row groups one by one, tail) and so cannot use st_pq_meta_encode.
** Each appends one Thrift field (id) or one struct to o; errors stay in o.
*/
void st_pq_enc_kv_list(st_tc_out *o, int16_t id, const st_pq_kv *kv, int n);
void st_pq_enc_logical(st_tc_out *o, const st_pq_logical *lt);          /* field 10 */
void st_pq_enc_schema_elem(st_tc_out *o, const st_pq_schema_elem *e);   /* a struct */
void st_pq_enc_stats(st_tc_out *o, int16_t id, const st_pq_stats *s);
void st_pq_enc_page_header(st_tc_out *o, const st_pq_page_header *h);   /* a struct; */
                                          /* unknown page types get no page-specific part */

/* ---- Schema tree ---------------------------------------------------------- */
/*
** One leaf (primitive column) of the schema, in schema order: what the reader
** needs to decode it.  max_def/max_rep are the maximum definition/repetition
** levels; path is the dotted path_in_schema.
*/
typedef struct st_pq_leaf {
  int schema_index;             /* index into st_pq_file_meta.schema              */
  int type;                     /* physical type                                  */
  int32_t type_length;          /* FLBA width                                     */
  int16_t max_def, max_rep;
  char *path;                   /* (owned) "a.b.c"                                */
  int top_column;               /* index of the top-level column it belongs to     */
  int column_order;             /* ST_PQ_ORDER_*                                   */
  int node;                     /* index of its LEAF node in st_pq_schema.nodes    */
  int16_t rep_ancestor_def;     /* = nodes[node].rep_ancestor_def (see below)      */
} st_pq_leaf;

/*
** Levels of the Arrow-mapped tree (what the column reader needs to assemble
** nested arrays from definition/repetition levels).
**
** st_pq_schema.nodes holds one st_pq_node per st_field node of `root`, in
** pre-order (nodes[0] = the root STRUCT, then each top-level column followed
** by its descendants).  For node N (d = a leaf value's definition level, r =
** its repetition level, both as decoded from the leaf column's pages):
**
**   N.def               d >= N.def   : N's slot is present and NON-NULL.
**   N.rep_ancestor_def  d <  N.rep_ancestor_def : the entry makes no slot of N
**                       at all (a list/map above N is null or empty).  It is
**                       the nearest LIST/MAP ancestor's def + 1 (0 when none).
**                       rep_ancestor_def <= d < def : N's slot is NULL (only
**                       possible when N.nullable).
**   N.rep               number of repeated levels above N's slot: an entry
**                       with r <= N.rep starts a NEW slot of N; r > N.rep
**                       continues the current slot (inside a nested list).
**   For LIST and MAP nodes (kind ST_PQ_NODE_LIST / ST_PQ_NODE_MAP):
**     d == N.def        the list is present but EMPTY (no element);
**     d >= N.def + 1    the entry is an element of the list (element slot);
**     elements repeat at r == N.rep + 1 (r <= N.rep starts a new list).
**     The single child (element, or for MAP the STRUCT{key,value} entries
**     node) has rep == N.rep + 1 and rep_ancestor_def == N.def + 1.
**   STRUCT children share their parent's slots: their rep equals the
**   parent's rep and their rep_ancestor_def equals the parent's.
**
** Invariants: def never decreases going down; child.def >= parent.def (+1
** for LIST/MAP children); a leaf node's def == leaves[i].max_def and its
** rep == leaves[i].max_rep.  A non-nullable node has def == the def of the
** node above it (or parent.def + 1 below a LIST/MAP).
**
** Example (pyarrow's 3-level list of nullable ints in an optional column):
**   optional group a (LIST) { repeated group list { optional int32 element } }
**   node a       LIST  def 1 rep 0 rep_ancestor_def 0 nullable
**   node element LEAF  def 3 rep 1 rep_ancestor_def 2 nullable
**   d=0: a is null; d=1: a = []; d=2: a has a null element; d=3: a value.
**
** Legacy layouts map onto the same shape: a bare `repeated` field (no LIST
** annotation) becomes a non-nullable LIST node whose def/rep are those of
** the position above it and whose element is the repeated field itself.
*/
enum { ST_PQ_NODE_STRUCT = 0, ST_PQ_NODE_LIST = 1, ST_PQ_NODE_MAP = 2, ST_PQ_NODE_LEAF = 3 };

typedef struct st_pq_node {
  const st_field *field;        /* the st_field node (inside st_pq_schema.root)    */
  int kind;                     /* ST_PQ_NODE_*                                    */
  int parent;                   /* node index of the parent, -1 for the root       */
  int first_child;              /* node index of the first child, -1 if none       */
  int next_sibling;             /* node index of the next sibling, -1 if none      */
  int schema_index;             /* schema element the node maps to (LIST/MAP: the  */
                                /* annotated group, or the bare repeated field;    */
                                /* MAP entries STRUCT: the repeated key_value group)*/
  int16_t def;                  /* def level at which the slot is non-null         */
  int16_t rep;                  /* repeated levels above the slot                  */
  int16_t rep_ancestor_def;     /* def level below which there is no slot          */
  bool nullable;                /* == field->nullable                              */
  int leaf;                     /* LEAF: index into leaves; else -1                */
  int first_leaf, n_leaves;     /* leaves under this node (contiguous)             */
} st_pq_node;

/*
** The schema tree.  NOTE: `st_pq_schema` is also the name of the public
** function st_pq_schema() (skytile/parquet.h), and C does not allow a typedef
** and a function of the same name, so the type is spelled `struct
** st_pq_schema` or through its typedef `st_pq_tree`.
*/
typedef struct st_pq_schema {
  int n_leaves;
  st_pq_leaf *leaves;           /* (owned)                                         */
  st_field root;                /* Arrow-mapped STRUCT; children = top-level cols  */
  int *top_first_leaf;          /* (owned) per top-level column: first leaf index  */
  int *top_n_leaves;            /* (owned) per top-level column: number of leaves  */
  int n_nodes;
  st_pq_node *nodes;            /* (owned) pre-order over root; nodes[0] = root    */
  int *top_node;                /* (owned) per top-level column: its node index    */
  int n_elems;                  /* == st_pq_file_meta.n_schema                     */
  int16_t *elem_depth;          /* (owned) per schema element: depth (root 0)      */
  int *elem_leaf;               /* (owned) per schema element: leaf index or -1    */
} st_pq_tree;

/*
** Build the schema tree from the flat schema list: validates num_children,
** nesting depth (<= 100), one column chunk per leaf in every row group,
** computes levels, and maps each node to an st_field following LogicalTypes.md
** (incl. the backward-compatibility rules for legacy LIST and MAP layouts),
** as pyarrow reads them (see schema.c).  The file's key/value metadata is
** copied to root.meta_keys/meta_values.  Nodes are in pre-order, so the
** subtree of node k is nodes[k .. k + size) and its leaves are
** leaves[first_leaf .. first_leaf + n_leaves).  On error *out is left empty.
*/
int st_pq_schema_build(const st_pq_file_meta *m, st_pq_tree *out, st_error *err);
void st_pq_schema_free(st_pq_tree *s);   /* frees contents, not s; NULL-safe */

/* ---- Statistics (stats.c) -------------------------------------------------- */
/*
** Typed bounds of `s` for a column with schema element e (a leaf) and column
** order `column_order` (ST_PQ_ORDER_*; file_has_orders: the footer had a
** column_orders list).  Follows the rules in stats.c / skytile/parquet_meta.h
** (min_value/max_value first, legacy min/max only where safe, no INT96, NaN
** bounds dropped, zero signs widened).  A bound that cannot be used has kind
** ST_PQ_VALUE_NONE.  BYTES values point into s.  Returns the number of usable
** bounds (0..2).
*/
int st_pq_stats_bounds(const st_pq_schema_elem *e, int column_order, bool file_has_orders,
                       const st_pq_stats *s, st_pq_value *min, st_pq_value *max);

#endif
