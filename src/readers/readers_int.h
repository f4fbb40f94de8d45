/*
** This file implements the private plumbing shared by the input-reader
** plug-ins (module readers): the format callback table, the st_input handle
** and small helpers that make Arrow arrays from raw buffers.
**
** Design (libarchive style): each format lives in its own file and exports
** one st_reader_format.  st_input_open asks every format to bid on the file
** (name + first bytes; 0 = no, 100 = certain), opens it with the winner, and
** from the format's raw schema (in->raw) computes the output schema:
**   in->need[]  raw column indices the output uses, ascending, unique;
**               next() returns a table holding exactly these columns.
**   in->sel[]   output column i = column sel[i] of that table.
**   in->cast[]  output column i needs a numeric cast (FITS/Parquet with a
**               forced schema; CSV parses straight into forced types).
** The filename-regex column is appended by input.c, not the formats.
*/
#ifndef ST_READERS_INT_H
#define ST_READERS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "skytile.h"
#include "util/err.h"
#include "util/mem.h"

typedef struct st_reader_format {
  const char *name;                          /* "csv", "fits", ...          */
  /* How sure the format is that it reads `path` whose first bytes are head. */
  int (*bid)(const char *path, const uint8_t *head, size_t n);
  /* Open: set in->raw (STRUCT schema), in->state, in->num_rows. */
  int (*open)(st_input *in, st_error *err);
  /* Next raw batch with the columns in->need[0..n_need); NULL at end. */
  int (*next)(st_input *in, st_table **out, st_error *err);
  void (*close)(st_input *in);               /* frees in->state             */
} st_reader_format;

struct st_input {
  char *path;                  /* as given                                 */
  st_input_options opt;        /* copy of the caller's options             */
  char fmt_name[8];            /* "csv"/"tsv"/"psv"/... as chosen          */
  const st_reader_format *fmt; /* the plug-in reading the file             */
  void *state;                 /* the plug-in's state                      */
  st_field raw;                /* the plug-in's schema (STRUCT)            */
  st_field schema;             /* output schema (STRUCT)                   */
  int *need;                   /* raw columns read, ascending              */
  int n_need;
  int *sel;                    /* per output column: index into need       */
  bool *cast;                  /* per output column: numeric cast needed   */
  int n_sel;                   /* output columns from the file             */
  char *fname_value;           /* filename column value, or NULL           */
  uint64_t bytes_read;         /* progress, maintained by the plug-in      */
  uint64_t file_size;
  int64_t rows_read;           /* rows returned                            */
  int64_t num_rows;            /* known total or -1                        */
  int64_t batch_rows;          /* effective batch size                     */
  bool infer_all;              /* CSV: infer from the whole file (used by  */
                               /* st_input_infer_schema)                   */
  int64_t seam_first;          /* st_input_part_seam (-1: none)            */
  int64_t seam_stop;
};

extern const st_reader_format st_reader_csv;
extern const st_reader_format st_reader_fits;
extern const st_reader_format st_reader_parquet;

/* Ends-with test ignoring case. */
bool st_rd_ends_with(const char *s, const char *suffix);
/* A fixed-width array of n values owning `values` (and `valid` bits or NULL). */
st_array *st_rd_array(int64_t n, st_mem *values, st_mem *valid, int64_t null_count);
/* Convert *pa (of field `from`) to the type of `to` in place: integer
** widening, integer/float to float, STRING/BINARY to LARGE_STRING/
** LARGE_BINARY (offsets widened, bytes shared); input.c's cast_ok lists
** what is allowed. */
int st_rd_cast_array(const st_field *from, const st_field *to, st_array **pa, st_error *err);
/* a (field f: LIST or LARGE_LIST) as a new FIXED_LIST array of field `to`
** (recursively for nested fixed lists): every valid slot must hold exactly
** to->byte_width elements (else ST_ERR_SCHEMA naming the column); a null
** slot gets that many null elements.  Used for Parquet inputs whose
** ARROW:schema says fixed_size_list and for the import's intermediates. */
int st_rd_fixed_from_list(const st_field *f, const st_array *a, const st_field *to, st_array **out,
                          st_error *err);
/* Validity bitmap (st_mem) from one byte per slot (nonzero = valid); counts nulls.
   Returns NULL in *out when every slot is valid. */
int st_rd_bitmap(const uint8_t *valid, int64_t n, st_mem **out, int64_t *nulls, st_error *err);
/* Forced type of column `name` from opt->schema, or NULL. */
const st_field *st_rd_forced(const st_input *in, const char *name);

#endif
