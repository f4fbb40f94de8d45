/*
** This file declares the reader's private pieces (module parquet): the leaf
** column decoder (column_reader.c) and the nested-array assembly
** (assemble.c), both driven by reader.c.
**
** Data flow for one top-level column of a read:
**
**   reader.c          for each leaf under the column, for each selected row
**                     group: st_pq_chunk_read(chunk) appends to one
**                     st_pq_leafdata (buffers pre-sized from the chunks'
**                     num_values, so pages decode straight into them).
**   column_reader.c   pages -> levels (kept only for nested columns) and
**                     values placed at their leaf SLOTS: an entry with def
**                     level d makes a slot when d >= rad (the leaf's
**                     rep_ancestor_def) and the slot is valid when d >= max_def.
**                     Values are decoded dense at the page's first slot and
**                     spread backwards in place over the nulls.
**   assemble.c        builds the st_array tree of the column from the leaf
**                     arrays and the def/rep levels (offsets + validity at
**                     every LIST/MAP/STRUCT node), following the node rules
**                     documented in parquet/meta.h.
**
** Output representation of a leaf (st_pq_leafdata):
**   fixed width   values = n_slots * ow bytes (already converted: INT96 ->
**                 timestamp ns, big-endian decimals -> little-endian 16/32 B,
**                 INT32 -> int8/int16 narrowing, ...)
**   BOOL          values = bits
**   binary        values = int32 offsets (n_slots + 1), bytes = data
**   dictionary    (keep_dictionary, binary leaves) values = int32 indices,
**                 dictionary = offsets in dict_off + bytes in dict_bytes; the
**                 chunks' dictionaries are appended (indices rebased) and
**                 non-dictionary pages append their values to it.
*/
#ifndef ST_PARQUET_READER_PRIV_H
#define ST_PARQUET_READER_PRIV_H

#include "io/io.h"
#include "parquet/encodings/encodings.h"
#include "parquet/meta.h"

/* How physical values become output values. */
enum {
  ST_CV_BOOL = 0,    /* BOOLEAN -> bits                                      */
  ST_CV_COPY,        /* same width, bytes copied                             */
  ST_CV_NARROW,      /* INT32 -> 1/2-byte ints (truncation)                  */
  ST_CV_SEXT,        /* INT32/INT64 -> wider little-endian (decimals, int64)  */
  ST_CV_INT96,       /* INT96 -> int64 timestamp in the field's unit         */
  ST_CV_DEC_BE,      /* FLBA big-endian two's complement -> 16/32 B LE       */
  ST_CV_DEC_BE_VAR,  /* BYTE_ARRAY big-endian -> 16/32 B LE                  */
  ST_CV_BINARY,      /* BYTE_ARRAY -> offsets + bytes                        */
  ST_CV_FLBA_BIN,    /* FIXED_LEN_BYTE_ARRAY -> string/binary offsets + bytes */
  ST_CV_NULL         /* Arrow null type (UNKNOWN logical type): levels only  */
};

/* What the decoder needs to know about one leaf column. */
typedef struct st_pq_leafspec {
  const st_pq_leaf *leaf;  /* schema leaf                                    */
  const st_field *field;   /* its Arrow field (value type)                   */
  const char *path;        /* dotted path, for messages                      */
  int phys;                /* physical type ST_PQ_*                          */
  int pw;                  /* physical width in bytes (0 BYTE_ARRAY, BOOL 0) */
  int ow;                  /* output width in bytes (0 binary/bool)          */
  int conv;                /* ST_CV_*                                        */
  int16_t max_def, max_rep;
  int16_t rad;             /* rep_ancestor_def of the leaf node              */
  bool keep_levels;        /* nested column: keep def/rep for assembly       */
  bool dict_out;           /* return indices + dictionary                    */
} st_pq_leafspec;

/* Decoded leaf over one or more column chunks (see header comment). */
typedef struct st_pq_leafdata {
  int64_t cap_levels;      /* capacity reserved (sum of chunk num_values)    */
  int64_t n_levels;        /* level entries decoded                          */
  st_buf def, rep;         /* int16 levels when keep_levels (rep if max_rep)  */
  int64_t n_slots;         /* leaf slots                                     */
  int64_t null_count;      /* null slots                                     */
  st_buf valid;            /* validity bits of the slots (when max_def > 0)  */
  st_buf values;           /* see header                                     */
  st_buf bytes;            /* binary data                                    */
  st_buf dict_off;         /* dict_out: dictionary int32 offsets             */
  st_buf dict_bytes;       /* dict_out: dictionary bytes                     */
  int64_t dict_n;          /* dict_out: dictionary entries                   */
} st_pq_leafdata;

/* Shared read context (one per st_pq_read call; scratch reused across chunks). */
typedef struct st_pq_colctx {
  st_file *file;
  uint64_t max_alloc;
  bool verify_crc;
  st_buf page;             /* decompressed page                              */
  st_buf io;               /* chunk bytes when the file is read by pread     */
  st_buf lev_d, lev_r;     /* level scratch (int16) when levels are not kept */
  st_buf idx;              /* dictionary indices (uint32)                    */
  st_buf raw;              /* raw fixed values before conversion             */
  st_buf soff, sbytes;     /* binary scratch                                 */
  st_buf dict;             /* current chunk's dictionary: fixed values, or   */
  st_buf dict_offs;        /* binary offsets (int32) + dict bytes in `dict`  */
  int64_t dict_n;          /* entries; -1 when the chunk has no dictionary   */
  int64_t dict_base;       /* dict_out: index of the chunk's first entry     */
  int64_t chunk_values;    /* num_values of the chunk being read             */
  /* Selective read (st_pq_read_rows): only the slots sel[0..nsel) (ascending,
     chunk-relative; flat columns) need values.  A fixed-width Snappy
     dictionary is then not decompressed up front (dict_lazy): a block of
     few long literals is read through dview (1), any other is decoded by
     dstream only as far as the largest index a page needs (2); values are
     placed at the selected slots only (the others are left undefined).  A
     block the view/stream cannot handle is decompressed after all
     (dict_body/blen/usize/codec). */
  const int64_t *sel;
  int64_t nsel, sel_pos;   /* selected slots; next one not yet placed       */
  int dict_lazy;           /* 0 no, 1 view, 2 stream                        */
  st_snappy_view dview;
  st_snappy_stream dstream;
  const uint8_t *dict_body;
  size_t dict_blen, dict_usize;
  int dict_codec;
  const uint8_t *dict_fixed; /* fixed-width dictionary values read in place */
                           /* (a Snappy page of one literal), else NULL      */
  bool any_file_path;      /* chunks may name their file (borrowed metadata */
                           /* from a _metadata file: see st_pq_open_borrowed) */
} st_pq_colctx;

void st_pq_colctx_init(st_pq_colctx *c, st_file *f, uint64_t max_alloc, bool verify_crc);
void st_pq_colctx_free(st_pq_colctx *c);

/* Fill spec for leaf i of the schema (error if its type cannot be mapped). */
int st_pq_leafspec_init(st_pq_leafspec *spec, const st_pq_tree *s, int leaf, bool nested,
                        bool keep_dictionary, st_error *err);

void st_pq_leafdata_init(st_pq_leafdata *d);
void st_pq_leafdata_free(st_pq_leafdata *d);
/* Reserve room for `entries` more level entries (sum of the chunks' num_values). */
int st_pq_leafdata_reserve(st_pq_leafdata *d, const st_pq_leafspec *spec, int64_t entries,
                           uint64_t max_alloc, st_error *err);
/* Decode one column chunk and append it to d.  rg_rows: the row group's num_rows. */
int st_pq_chunk_read(st_pq_colctx *c, const st_pq_leafspec *spec, const st_pq_column_chunk *cc,
                     int64_t rg_rows, st_pq_leafdata *d, st_error *err);
/*
** Decode n data page v1 levels (max value max_level) at p: enc RLE (4-byte
** length prefix + hybrid runs) or BIT_PACKED (deprecated: MSB-first packing,
** ceil(n * bit_width / 8) bytes).  *used = bytes consumed.
*/
int st_pq_decode_levels_v1(const uint8_t *p, size_t len, int enc, int max_level, int16_t *out,
                           int64_t n, size_t *used, st_error *err);
/* Move a leaf's values into an st_array (leaf field type); d's buffers are consumed. */
int st_pq_leaf_to_array(const st_pq_leafspec *spec, st_pq_leafdata *d, st_array **out,
                        st_error *err);

/*
** Assemble the array of schema node `node` (a top-level column or below).
** leaves[i]/specs[i] hold the decoded data of schema leaf (first_leaf + i)
** where first_leaf is the first leaf of the top-level column; n_rows is the
** number of rows read.  Consumes the leaves' value buffers.
*/
int st_pq_assemble(const st_pq_tree *s, int node, int first_leaf, const st_pq_leafspec *specs,
                   st_pq_leafdata *leaves, int64_t n_rows, st_array **out, st_error *err);

#endif
