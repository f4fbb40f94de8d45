/*
** This file implements the Parquet plug-in of the input readers: it opens the
** file with the skytile Parquet reader and returns each row group (only the
** needed columns) as one batch, sliced zero-copy into batch_rows pieces when
** a row group is larger.  A part (options.part of n_parts) reads the row
** groups [G*part/n, G*(part+1)/n) of the G in the file.
*/
#include <stdlib.h>
#include <string.h>

#include "readers/readers_int.h"

typedef struct pq_state {
  st_pq_reader *r;
  int rg;                   /* next row group                           */
  int rg_end;               /* row groups [rg, rg_end) remain           */
  st_table *cur;            /* current row group being sliced           */
  int64_t cur_off;          /* rows of cur already returned             */
} pq_state;

static int pq_bid(const char *path, const uint8_t *head, size_t n) {
  if (n >= 4 && !memcmp(head, "PAR1", 4)) return 90;
  if (st_rd_ends_with(path, ".parquet") || st_rd_ends_with(path, ".pq")) return 50;
  return 0;
}

static int pq_open(st_input *in, st_error *err) {
  pq_state *s = calloc(1, sizeof *s);
  ST_CHECK(s, err, ST_ERR_NOMEM, "out of memory");
  in->state = s;
  ST_TRY(st_pq_open(in->path, NULL, &s->r, err));
  const st_field *f = st_pq_schema(s->r);
  ST_CHECK(!st_field_copy(&in->raw, f), err, ST_ERR_NOMEM, "out of memory");
  in->num_rows = 0;
  for (int i = 0; i < st_pq_num_row_groups(s->r); i++) in->num_rows += st_pq_row_group_num_rows(s->r, i);
  int64_t g = st_pq_num_row_groups(s->r), k = in->opt.part, n = in->opt.n_parts;
  s->rg = (int)(g * k / n), s->rg_end = (int)(g * (k + 1) / n);
  return 0;
}

static int pq_next(st_input *in, st_table **out, st_error *err) {
  pq_state *s = in->state;
  *out = NULL;
  while (!s->cur || s->cur_off >= s->cur->n_rows) {
    st_table_free(s->cur);
    s->cur = NULL;
    s->cur_off = 0;
    if (s->rg >= s->rg_end) return 0;
    int rg = s->rg++;
    if (!in->n_need) {
      /* no columns wanted: still count the rows */
      int64_t n = st_pq_row_group_num_rows(s->r, rg);
      if (!n) continue;
      ST_TRY(st_table_new(NULL, NULL, 0, n, NULL, &s->cur, err));
    } else {
      ST_TRY(st_pq_read(s->r, &rg, 1, in->need, in->n_need, &s->cur, err));
    }
  }
  int64_t n = s->cur->n_rows - s->cur_off;
  if (s->cur_off == 0 && n <= in->batch_rows) {
    *out = s->cur;
    s->cur = NULL;
  } else {
    if (n > in->batch_rows) n = in->batch_rows;
    ST_TRY(st_table_slice(s->cur, s->cur_off, n, out, err));
    s->cur_off += n;
  }
  /* progress: proportional to rows */
  in->bytes_read = in->num_rows > 0 ? (uint64_t)((double)in->file_size * (double)(in->rows_read + (*out)->n_rows) /
                                                 (double)in->num_rows)
                                    : 0;
  return 0;
}

static void pq_close(st_input *in) {
  pq_state *s = in->state;
  if (!s) return;
  st_table_free(s->cur);
  st_pq_close(s->r);
  free(s);
  in->state = NULL;
}

const st_reader_format st_reader_parquet = {"parquet", pq_bid, pq_open, pq_next, pq_close};
