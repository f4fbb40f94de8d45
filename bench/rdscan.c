/*
** This file implements rdscan, the input-reader throughput probe used by
** bench_import.py and by hand when profiling src/readers/:
**
**   rdscan FILE [REPS] [COLS]    COLS: comma-separated columns to read (default all)
**
** Times (best of REPS, wall and process CPU): st_input_infer_schema over the
** whole file (the import pipeline's first pass) and a full scan with the
** inferred schema forced (open + every batch), and prints rows, MB/s and
** rows/s.  Compiled with gcc -O2 against $SKYTILE_BUILD/libskytile.a.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "skytile.h"
#include "skytile/readers.h"
#include "skytile/table.h"

static double now(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rdscan FILE [REPS] [COLS]\n");
    return 2;
  }
  const char *path = argv[1];
  int reps = argc > 2 ? atoi(argv[2]) : 3;
  const char *cols[64];
  int ncols = 0;
  char *colbuf = argc > 3 ? strdup(argv[3]) : NULL;
  for (char *s = colbuf ? strtok(colbuf, ",") : NULL; s && ncols < 64; s = strtok(NULL, ",")) cols[ncols++] = s;
  struct stat stt;
  stat(path, &stt);
  st_error err = {0};
  st_input_options o;
  st_input_options_init(&o);
  st_field schema;
  double best_iw = 1e30, best_ic = 1e30, best_sw = 1e30, best_sc = 1e30;
  int64_t rows = 0;
  for (int r = 0; r < reps; r++) {
    double w = now(CLOCK_MONOTONIC), c = now(CLOCK_PROCESS_CPUTIME_ID);
    if (st_input_infer_schema(&path, 1, &o, &schema, &err)) {
      fprintf(stderr, "infer: %s\n", err.msg);
      return 1;
    }
    double iw = now(CLOCK_MONOTONIC) - w, ic = now(CLOCK_PROCESS_CPUTIME_ID) - c;
    if (iw < best_iw) best_iw = iw;
    if (ic < best_ic) best_ic = ic;
    st_input_options so = o;
    so.schema = &schema;
    if (ncols) so.columns = cols, so.n_columns = ncols;
    w = now(CLOCK_MONOTONIC), c = now(CLOCK_PROCESS_CPUTIME_ID);
    st_input *in;
    if (st_input_open(path, &so, &in, &err)) {
      fprintf(stderr, "open: %s\n", err.msg);
      return 1;
    }
    rows = 0;
    for (;;) {
      st_table *t;
      if (st_input_next(in, &t, &err)) {
        fprintf(stderr, "next: %s\n", err.msg);
        return 1;
      }
      if (!t) break;
      rows += t->n_rows;
      st_table_free(t);
    }
    st_input_close(in);
    double sw = now(CLOCK_MONOTONIC) - w, sc = now(CLOCK_PROCESS_CPUTIME_ID) - c;
    if (sw < best_sw) best_sw = sw;
    if (sc < best_sc) best_sc = sc;
    st_field_clear(&schema);
  }
  double mb = (double)stt.st_size / 1e6;
  printf("rows %lld  bytes %lld\n", (long long)rows, (long long)stt.st_size);
  printf("infer  wall %.3f s  cpu %.3f s  %.0f MB/s  %.0f rows/s\n", best_iw, best_ic, mb / best_ic,
         rows / best_ic);
  printf("scan   wall %.3f s  cpu %.3f s  %.0f MB/s  %.0f rows/s%s\n", best_sw, best_sc, mb / best_sc,
         rows / best_sc, ncols ? "  (selected columns)" : "");
  free(colbuf);
  return 0;
}
