/*
** This file implements a libFuzzer target for the Parquet reader: the input
** is opened as an in-memory Parquet file (st_pq_open_memory), then all row
** groups and columns are read at once, then each top-level column alone
** (so a bad column does not hide bugs in the others), then everything is
** freed.  Any result is fine except a crash, a sanitizer report, a leak or
** an error without a message.  Allocations from metadata sizes are capped
** (max_alloc) well below libFuzzer's RSS limit.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "skytile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_COLUMNS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy so ASan catches reads just past the end. */
  uint8_t *copy = malloc(size ? size : 1);
  if (size) memcpy(copy, data, size);
  st_pq_read_options opt;
  st_pq_read_options_init(&opt);
  opt.max_alloc = 32u << 20;
  opt.verify_crc = (size & 1) != 0;
  st_error err = {0};
  st_pq_reader *r = NULL;
  if (st_pq_open_memory(copy, size, "fuzz.parquet", &opt, &r, &err) != 0) {
    if (!err.msg[0]) abort();
    free(copy);
    return 0;
  }
  (void)st_pq_num_rows(r);
  int n_rg = st_pq_num_row_groups(r);
  for (int g = 0; g < n_rg; g++) (void)st_pq_row_group_num_rows(r, g);
  st_table *t = NULL;
  if (st_pq_read(r, NULL, 0, NULL, 0, &t, &err) == 0) st_table_free(t);
  else if (!err.msg[0]) abort();
  const st_field *schema = st_pq_schema(r);
  int n_cols = schema ? schema->n_children : 0;
  if (n_cols > FUZZ_MAX_COLUMNS) n_cols = FUZZ_MAX_COLUMNS;
  for (int c = 0; c < n_cols; c++) {
    t = NULL;
    memset(&err, 0, sizeof err);
    if (st_pq_read(r, NULL, 0, &c, 1, &t, &err) == 0) st_table_free(t);
    else if (!err.msg[0]) abort();
  }
  st_pq_close(r);
  free(copy);
  return 0;
}
