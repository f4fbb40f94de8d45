/*
** Unit tests of reading one input in parts (st_input_options.part/n_parts,
** st_input_part_seam), as the import's parallel map does: the parts of a
** CSV, read one after the other, give every record exactly once and in
** order when all seams meet; a seam inside a quoted field spanning lines
** does not meet.  The oracle is the generated file's own id sequence.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static char imf_dir[64];

static const char *imf_path(const char *name) {
  static char buf[160];
  if (!imf_dir[0]) {
    snprintf(imf_dir, sizeof imf_dir, "/tmp/st_imf_XXXXXX");
    if (!mkdtemp(imf_dir)) return NULL;
  }
  snprintf(buf, sizeof buf, "%s/%s", imf_dir, name);
  return buf;
}

__attribute__((destructor)) static void imf_rm(void) {
  if (!imf_dir[0]) return;
  const char *names[] = {"a.csv", "q.csv"};
  for (int i = 0; i < 2; i++) unlink(imf_path(names[i]));
  rmdir(imf_dir);
}

/* Read part k of n (column "id" only): appends ids to out[*nout]; seams. */
static int read_part(const char *path, int k, int n, int64_t *out, int64_t *nout, int64_t cap,
                     int64_t seam[2], st_error *err) {
  st_input_options o;
  st_input_options_init(&o);
  const char *cols[] = {"id"};
  o.columns = cols, o.n_columns = 1;
  o.part = k, o.n_parts = n;
  o.batch_rows = 7; /* several batches per part */
  st_input *in = NULL;
  if (st_input_open(path, &o, &in, err)) return -1;
  for (;;) {
    st_table *t = NULL;
    if (st_input_next(in, &t, err)) {
      st_input_close(in);
      return -1;
    }
    if (!t) break;
    const st_array *a = t->columns[0];
    const int64_t *v = (const int64_t *)a->buf[1] + a->offset;
    for (int64_t i = 0; i < t->n_rows && *nout < cap; i++) out[(*nout)++] = v[i];
    st_table_free(t);
  }
  st_input_part_seam(in, &seam[0], &seam[1]);
  st_input_close(in);
  return 0;
}

TEST(imf_csv_parts_cover_every_record_once) {
  const char *p = imf_path("a.csv");
  FILE *f = fopen(p, "wb");
  CHECK(f);
  fputs("id,ra,txt\n", f);
  int N = 257;
  for (int i = 0; i < N; i++) /* varied lengths, CRLF on some, blank line once, no final LF */
    fprintf(f, "%d,%d.%d,%.*s%s%s", i, i % 360, i * 7 % 1000, i % 23, "xxxxxxxxxxxxxxxxxxxxxxxxx",
            i == N - 1 ? "" : i % 5 ? "\n" : "\r\n", i == 100 ? "\n" : "");
  fclose(f);
  int64_t *ids = malloc(sizeof(int64_t) * 1000);
  CHECK(ids);
  for (int n = 1; n <= 40; n += (n < 10 ? 1 : 15)) {
    int64_t got = 0, prev_stop = -1;
    for (int k = 0; k < n; k++) {
      st_error err = {0};
      int64_t seam[2];
      int rc = read_part(p, k, n, ids, &got, 1000, seam, &err);
      if (rc) free(ids);
      CHECK_OK(rc, &err);
      if (k > 0 && seam[0] != prev_stop) free(ids);
      if (k > 0) CHECK_EQ_I64(seam[0], prev_stop);
      prev_stop = seam[1];
      if (k == n - 1 && seam[1] != -1) free(ids);
      if (k == n - 1) CHECK_EQ_I64(seam[1], -1);
    }
    int bad = -1;
    for (int i = 0; i < N && i < got && bad < 0; i++)
      if (ids[i] != i) bad = i;
    if (got != N || bad >= 0) free(ids);
    CHECK_EQ_I64(got, N);
    CHECK_EQ_I64(bad, -1);
  }
  free(ids);
}

TEST(imf_csv_seam_inside_quoted_field_does_not_meet) {
  const char *p = imf_path("q.csv");
  FILE *f = fopen(p, "wb");
  CHECK(f);
  fputs("id,ra,txt\n", f);
  fputs("0,1.0,\"", f);
  for (int i = 0; i < 200; i++) fprintf(f, "%d,2.0,inner\n", 1000 + i); /* lines like records */
  fputs("9,9.0,end\"\n1,3.0,b\n", f);
  fclose(f);
  int64_t ids[600], got = 0, s0[2], s1[2];
  st_error err = {0};
  CHECK_OK(read_part(p, 0, 2, ids, &got, 600, s0, &err), &err);
  CHECK_EQ_I64(got, 1); /* record 0 only: the next record starts after the middle */
  int rc = read_part(p, 1, 2, ids, &got, 600, s1, &err);
  CHECK(rc == 0); /* the inner lines parse as records ... */
  CHECK(got > 2);
  CHECK(s0[1] != s1[0]); /* ... but the seam shows it */
  got = 0;
  CHECK(read_part(p, 5, 4, ids, &got, 600, s0, &err) != 0); /* no such part */
}
