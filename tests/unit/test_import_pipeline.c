/*
** Unit tests of the import pipeline internals (src/import/pipeline.h): the
** stable radix sort used by map and reduce, and the map state (per-worker
** logs: round trip, a torn record cut off, a changed input or a log written
** for another byte mode not reused, an input outside the saved list
** refused).  Oracles: a plain insertion sort and the values written.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "import/pipeline.h"
#include "skytile/parquet.h"
#include "skytile/parquet_write.h"
#include "skytile/readers.h"

TEST(import_pipeline_radix_sort_stable) {
  enum { N = 2000 };
  uint64_t *k = malloc(N * 8), *tk = malloc(N * 8), *ek = malloc(N * 8);
  int64_t *v = malloc(N * 8), *tv = malloc(N * 8), *ev = malloc(N * 8);
  uint64_t seed = 12345;
  uint64_t maxes[] = {0, 5, 255, 256, 70000, (uint64_t)1 << 58};
  for (int m = 0; m < 6; m++) {
    for (int i = 0; i < N; i++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      k[i] = maxes[m] ? (seed >> 5) % (maxes[m] + 1) : 0;
      v[i] = i;
      ek[i] = k[i], ev[i] = i;
    }
    /* oracle: stable insertion sort */
    for (int i = 1; i < N; i++) {
      uint64_t x = ek[i];
      int64_t y = ev[i];
      int j = i - 1;
      while (j >= 0 && ek[j] > x) ek[j + 1] = ek[j], ev[j + 1] = ev[j], j--;
      ek[j + 1] = x, ev[j + 1] = y;
    }
    st_imp_radix_sort(k, v, N, maxes[m], tk, tv);
    for (int i = 0; i < N; i++) {
      CHECK_EQ_I64(k[i], ek[i]);
      CHECK_EQ_I64(v[i], ev[i]);
    }
  }
  free(k), free(tk), free(ek), free(v), free(tv), free(ev);
}

/* A context for the map state of the inputs paths[0..n) at order 1. */
typedef struct state_fix {
  st_import_options o;
  st_imp_ctx c;
  int64_t hist[48], bytes[48];
} state_fix;

static void fix_init(state_fix *f, char *dir, const char *const *paths, int n, bool bytes) {
  memset(f, 0, sizeof *f);
  st_import_options_init(&f->o);
  f->o.inputs = paths, f->o.n_inputs = n;
  f->c.o = &f->o;
  f->c.state_dir = dir;
  f->c.map_order = 1, f->c.hist_npix = 48;
  f->c.hist = f->hist;
  f->c.bytes_hist = bytes ? f->bytes : NULL;
}

static void fix_free(state_fix *f) {
  free(f->c.mapped), free(f->c.state_idx);
}

static void touch(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  if (fp) fputs(text, fp), fclose(fp);
}

static void rm_state(const char *dir, const char *const *paths, int n) {
  char p[512];
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/map/log-%d.bin", dir, i);
    unlink(p);
  }
  snprintf(p, sizeof p, "%s/map", dir);
  rmdir(p);
  snprintf(p, sizeof p, "%s/inputs.lst", dir);
  unlink(p);
  for (int i = 0; i < n; i++) unlink(paths[i]);
  rmdir(dir);
}

/* Round trip through the per-worker logs: records of two workers are read
** back into the histogram, inputs without a record are left to map. */
TEST(import_pipeline_state_log_roundtrip) {
  char dir[] = "/tmp/st_pipe_state_XXXXXX";
  CHECK(mkdtemp(dir));
  char p0[128], p1[128], p2[128];
  snprintf(p0, sizeof p0, "%s/a.csv", dir);
  snprintf(p1, sizeof p1, "%s/b.csv", dir);
  snprintf(p2, sizeof p2, "%s/c.csv", dir);
  const char *paths[3] = {p0, p1, p2};
  for (int i = 0; i < 3; i++) touch(paths[i], "ra,dec\n1,2\n");
  st_error err = {0};
  state_fix f;
  fix_init(&f, dir, paths, 3, false);
  bool same = false;
  CHECK_OK(st_imp_state_map_begin(&f.c, true, &same, &err), &err);
  CHECK(same);
  struct stat st;
  int64_t pix[3] = {1, 7, 40}, cnt[3] = {5, 1, 9}, pix2[1] = {47}, cnt2[1] = {300};
  st_imp_maplog *l0 = NULL, *l1 = NULL;
  CHECK_OK(st_imp_maplog_open(&f.c, 0, &l0, &err), &err);
  CHECK_OK(st_imp_maplog_open(&f.c, 1, &l1, &err), &err);
  CHECK(stat(p0, &st) == 0);
  int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  CHECK_OK(st_imp_maplog_add(l0, 0, st.st_size, mt, pix, cnt, NULL, 3, &err), &err);
  CHECK(stat(p2, &st) == 0);
  mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  CHECK_OK(st_imp_maplog_add(l1, 2, st.st_size, mt, pix2, cnt2, NULL, 1, &err), &err);
  CHECK_OK(st_imp_maplog_close(l0, &err), &err);
  CHECK_OK(st_imp_maplog_close(l1, &err), &err);
  fix_free(&f);
  /* resume: both records reused */
  fix_init(&f, dir, paths, 3, false);
  CHECK_OK(st_imp_state_map_begin(&f.c, false, &same, &err), &err);
  CHECK(same);
  CHECK(f.c.mapped[0] == 1 && f.c.mapped[1] == 0 && f.c.mapped[2] == 1);
  CHECK_EQ_I64(f.hist[1], 5);
  CHECK_EQ_I64(f.hist[7], 1);
  CHECK_EQ_I64(f.hist[40], 9);
  CHECK_EQ_I64(f.hist[47], 300);
  int64_t sum = 0;
  for (int i = 0; i < 48; i++) sum += f.hist[i];
  CHECK_EQ_I64(sum, 315);
  fix_free(&f);
  /* a torn last record of log-1 (kill -9 mid-write): cut off, its input mapped again */
  char lp[256];
  snprintf(lp, sizeof lp, "%s/map/log-1.bin", dir);
  CHECK(stat(lp, &st) == 0);
  CHECK(truncate(lp, st.st_size - 2) == 0);
  fix_init(&f, dir, paths, 3, false);
  CHECK_OK(st_imp_state_map_begin(&f.c, false, &same, &err), &err);
  CHECK(f.c.mapped[0] == 1 && f.c.mapped[2] == 0);
  CHECK_EQ_I64(f.hist[47], 0);
  CHECK(stat(lp, &st) == 0);
  CHECK_EQ_I64(st.st_size, 16); /* only the header is left */
  fix_free(&f);
  /* a changed input (size): not reused, the saved split must not be either */
  touch(p0, "ra,dec\n1,2\n3,4\n");
  fix_init(&f, dir, paths, 3, false);
  CHECK_OK(st_imp_state_map_begin(&f.c, false, &same, &err), &err);
  CHECK(!same);
  CHECK(f.c.mapped[0] == 0);
  CHECK_EQ_I64(f.hist[1], 0);
  fix_free(&f);
  /* another input set: an input that is not in inputs.lst is an error */
  const char *other[2] = {p0, "/nonexistent/x.csv"};
  fix_init(&f, dir, other, 2, false);
  CHECK(st_imp_state_map_begin(&f.c, false, &same, &err) == ST_ERR_INVALID);
  CHECK(strstr(err.msg, "x.csv") != NULL);
  fix_free(&f);
  rm_state(dir, paths, 3);
}

/* Byte-size histograms (--byte-threshold) round trip with the counts; a log
** written without them is not used when they are wanted. */
TEST(import_pipeline_state_log_bytes) {
  char dir[] = "/tmp/st_pipe_bytes_XXXXXX";
  CHECK(mkdtemp(dir));
  char p0[128];
  snprintf(p0, sizeof p0, "%s/x.csv", dir);
  const char *paths[1] = {p0};
  touch(p0, "ra,dec\n");
  struct stat st;
  CHECK(stat(p0, &st) == 0);
  int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  st_error err = {0};
  state_fix f;
  bool same;
  fix_init(&f, dir, paths, 1, true);
  CHECK_OK(st_imp_state_map_begin(&f.c, true, &same, &err), &err);
  int64_t pix[2] = {3, 9}, cnt[2] = {2, 4}, bytes[2] = {100, 7};
  st_imp_maplog *l = NULL;
  CHECK_OK(st_imp_maplog_open(&f.c, 0, &l, &err), &err);
  CHECK_OK(st_imp_maplog_add(l, 0, st.st_size, mt, pix, cnt, bytes, 2, &err), &err);
  CHECK_OK(st_imp_maplog_close(l, &err), &err);
  fix_free(&f);
  fix_init(&f, dir, paths, 1, true);
  CHECK_OK(st_imp_state_map_begin(&f.c, false, &same, &err), &err);
  CHECK(f.c.mapped[0] == 1);
  CHECK_EQ_I64(f.hist[3], 2);
  CHECK_EQ_I64(f.hist[9], 4);
  CHECK_EQ_I64(f.bytes[3], 100);
  CHECK_EQ_I64(f.bytes[9], 7);
  fix_free(&f);
  fix_init(&f, dir, paths, 1, false);
  CHECK_OK(st_imp_state_map_begin(&f.c, false, &same, &err), &err);
  CHECK(f.c.mapped[0] == 0);
  for (int i = 0; i < 48; i++) CHECK_EQ_I64(f.hist[i], 0);
  fix_free(&f);
  rm_state(dir, paths, 1);
}

/* TDIM FITS columns (fixed-size lists, nested for 2-D) written to Parquet and
** read back come out as lists; st_imp_restore_fixed_lists makes them the
** FITS reader's fixed-size lists again.  Oracle: the table read from FITS. */
TEST(import_pipeline_restore_fixed_lists) {
  char path[1024], pq[] = "/tmp/st_pipe_fixed_XXXXXX";
  snprintf(path, sizeof path, "%s/fixtures/hats-import/test_formats/zall-pix-iron_10rows.fits",
           st_test_shared());
  st_error err = {0};
  st_table *src = NULL, *back = NULL;
  CHECK_OK(st_input_read_table(path, NULL, &src, &err), &err);
  int fixed = 0;
  for (int i = 0; i < src->n_columns; i++) fixed += src->schema.children[i].type == ST_T_FIXED_LIST;
  CHECK(fixed > 0);
  int fd = mkstemp(pq);
  CHECK(fd >= 0);
  close(fd);
  st_pq_write_options wo;
  st_pq_write_options_init(&wo);
  st_pq_writer *w = NULL;
  CHECK_OK(st_pq_writer_open(pq, &src->schema, &wo, &w, &err), &err);
  CHECK_OK(st_pq_writer_write(w, src, &err), &err);
  CHECK_OK(st_pq_writer_close(w, &err), &err);
  st_pq_reader *r = NULL;
  CHECK_OK(st_pq_open(pq, NULL, &r, &err), &err);
  CHECK_OK(st_pq_read(r, NULL, 0, NULL, 0, &back, &err), &err);
  st_pq_close(r);
  int lists = 0;
  for (int i = 0; i < back->n_columns; i++) lists += back->schema.children[i].type == ST_T_LIST;
  CHECK(lists >= fixed); /* what the reader gives today */
  CHECK_OK(st_imp_restore_fixed_lists(&src->schema, back, &err), &err);
  for (int i = 0; i < src->n_columns && i < back->n_columns; i++)
    if (!st_field_equal(&src->schema.children[i], &back->schema.children[i])) {
      char x[128], y[128];
      st_field_type_string(&src->schema.children[i], x, sizeof x);
      st_field_type_string(&back->schema.children[i], y, sizeof y);
      fprintf(stderr, "column %s: %s read back as %s\n", src->schema.children[i].name, x, y);
    }
  CHECK(st_field_equal(&src->schema, &back->schema));
  CHECK_EQ_I64(back->n_rows, src->n_rows);
  for (int i = 0; i < src->n_columns; i++) {
    const st_field *f = &src->schema.children[i];
    if (f->type != ST_T_FIXED_LIST) continue;
    /* the values: leaf doubles/ints in the same order (no offset in either) */
    const st_array *a = src->columns[i], *b = back->columns[i];
    const st_field *lf = f;
    int64_t count = src->n_rows;
    while (lf->type == ST_T_FIXED_LIST) {
      count *= lf->byte_width;
      lf = &lf->children[0];
      a = a->children[0], b = b->children[0];
    }
    int wd = st_type_byte_width(lf);
    if (wd <= 0) continue;
    CHECK(a->length >= count && b->length >= count);
    CHECK(!memcmp(a->buf[1] + a->offset * wd, b->buf[1] + b->offset * wd, (size_t)(count * wd)));
  }
  /* a list of another length is refused */
  st_field bad;
  CHECK(st_field_copy(&bad, &src->schema) == 0);
  for (int i = 0; i < bad.n_children; i++)
    if (bad.children[i].type == ST_T_FIXED_LIST) bad.children[i].byte_width += 1;
  st_table *again = NULL;
  CHECK_OK(st_pq_open(pq, NULL, &r, &err), &err);
  CHECK_OK(st_pq_read(r, NULL, 0, NULL, 0, &again, &err), &err);
  st_pq_close(r);
  CHECK(st_imp_restore_fixed_lists(&bad, again, &err) == ST_ERR_SCHEMA);
  st_field_clear(&bad);
  st_table_free(again);
  st_table_free(src);
  st_table_free(back);
  unlink(pq);
}
