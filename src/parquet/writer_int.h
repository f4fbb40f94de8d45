/*
** This file declares the parts of the Parquet writer shared between its
** files (writer.c: pages and row groups; writer_enc.c: level/index encoding,
** dictionaries, statistics and the Thrift structs of the footer;
** dataset_meta.c: _metadata / _common_metadata).
**
** Footers are encoded in two pieces so that the row-group list can be
** streamed: st_wr_meta_head writes FileMetaData fields 1..3 and the header of
** field 4 (row_groups, with the final count), the row groups follow as
** separately encoded RowGroup structs (st_wr_row_group), and st_wr_meta_tail
** continues the same struct (fields 5..7 and STOP) using the st_tc_out state
** left by the head.
*/
#ifndef ST_PARQUET_WRITER_INT_H
#define ST_PARQUET_WRITER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "parquet/meta.h"
#include "parquet/thrift.h"
#include "util/err.h"
#include "util/mem.h"

/* ---- Thrift structs --------------------------------------------------------- */
/* Pages of one column chunk by kind (ColumnMetaData.encoding_stats). */
typedef struct st_wr_page_counts {
  int32_t dict_pages;        /* DICTIONARY_PAGE, PLAIN                         */
  int32_t dict_data_pages;   /* DATA_PAGE, RLE_DICTIONARY                      */
  int32_t plain_data_pages;  /* DATA_PAGE, PLAIN                               */
  bool v2;                   /* data pages are DATA_PAGE_V2                    */
} st_wr_page_counts;

/*
** Append one RowGroup struct (self-contained compact bytes).  counts (one per
** column, may be NULL) adds each column's page encoding stats.
*/
int st_wr_row_group(const st_pq_row_group *rg, const st_wr_page_counts *counts, st_buf *out,
                    st_error *err);
/* FileMetaData fields 1..3 plus the row_groups list header for n_row_groups. */
void st_wr_meta_head(st_tc_out *o, const st_pq_file_meta *m, uint32_t n_row_groups);
/* Fields 5..7 and the final STOP (o continues from st_wr_meta_head). */
void st_wr_meta_tail(st_tc_out *o, const st_pq_file_meta *m);
/* A data page v1 / dictionary page header. */
void st_wr_page_header(st_tc_out *o, const st_pq_page_header *h);

/* ---- RLE / bit-packed hybrid ------------------------------------------------- */
/* Append the hybrid encoding (no length prefix) of n values of bit_width. */
int st_wr_rle_u32(const uint32_t *v, int64_t n, int bit_width, st_buf *out, st_error *err);
int st_wr_rle_i16(const int16_t *v, int64_t n, int bit_width, st_buf *out, st_error *err);
/* One RLE run of n copies of value. */
int st_wr_rle_run(uint32_t value, int64_t n, int bit_width, st_buf *out, st_error *err);
int st_wr_bit_width(uint64_t max_value);

/* ---- dictionary -------------------------------------------------------------- */
/*
** An insertion-ordered set of values with an open-addressing hash table of
** entry indices (linear probing, power-of-two capacity, load <= 1/2).  The
** entries are kept PLAIN-encoded in `plain` (fixed width: raw values; byte
** arrays: [le32 len][bytes]), which is the dictionary page body as is.
*/
typedef struct st_wr_dict {
  int width;                 /* fixed value width, 0 for byte arrays          */
  uint32_t n;                /* entries                                        */
  st_buf plain;              /* PLAIN-encoded entries                          */
  uint64_t *pos;             /* byte arrays: entry start in plain              */
  uint32_t *hashes;          /* per entry                                      */
  uint32_t cap_entries;      /* allocated entries in pos/hashes                */
  uint32_t *slots;           /* hash table: entry index + 1, 0 = empty         */
  uint32_t mask;             /* slots capacity - 1                             */
} st_wr_dict;

void st_wr_dict_init(st_wr_dict *d, int width);
void st_wr_dict_reset(st_wr_dict *d);   /* empty, keeps memory */
void st_wr_dict_free(st_wr_dict *d);
/* Indices of n fixed-width values (contiguous, d->width bytes each). */
int st_wr_dict_put_fixed(st_wr_dict *d, const uint8_t *vals, int64_t n, uint32_t *idx,
                         st_error *err);
/* Indices of n byte-array values given as pointers/lengths. */
int st_wr_dict_put_bytes(st_wr_dict *d, const uint8_t *const *ptrs, const uint32_t *lens,
                         int64_t n, uint32_t *idx, st_error *err);

/* ---- statistics ------------------------------------------------------------ */
enum {
  ST_WR_SK_NONE = 0, ST_WR_SK_BOOL, ST_WR_SK_I32, ST_WR_SK_U32, ST_WR_SK_I64, ST_WR_SK_U64,
  ST_WR_SK_FLOAT, ST_WR_SK_DOUBLE, ST_WR_SK_BYTES, ST_WR_SK_DECIMAL, ST_WR_SK_F16
};
/* Min/max of one column chunk, PLAIN-encoded bytes (no length prefix). */
typedef struct st_wr_stats {
  int kind;                  /* ST_WR_SK_*                                     */
  bool has;                  /* min/max seen                                   */
  st_buf min, max;
} st_wr_stats;
void st_wr_stats_reset(st_wr_stats *s, int kind);
void st_wr_stats_free(st_wr_stats *s);
/* Merge the min/max of n dense fixed-width values (width bytes each; BOOL: one byte each). */
int st_wr_stats_fixed(st_wr_stats *s, const uint8_t *vals, int64_t n, int width, st_error *err);
/* Merge the min/max of n byte-array values. */
int st_wr_stats_bytes(st_wr_stats *s, const uint8_t *const *ptrs, const uint32_t *lens, int64_t n,
                      st_error *err);
/* Base64 of an Arrow IPC Schema message for schema (malloc'd into *out). */
int st_wr_arrow_schema(const st_field *schema, char **out, st_error *err);

/* Merge the min/max of n PLAIN-encoded byte arrays ([le32 len][bytes] each). */
int st_wr_stats_plain_bytes(st_wr_stats *s, const uint8_t *plain, size_t len, uint32_t n,
                            st_error *err);

#endif
