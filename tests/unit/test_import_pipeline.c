/*
** Unit tests of the import pipeline internals (src/import/pipeline.h): the
** stable radix sort used by map and reduce, and the per-file histogram
** state (round trip, and rejection of a file saved for another path or
** order, or truncated).  Oracles: a plain insertion sort and the values
** written.
*/
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "import/pipeline.h"

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

TEST(import_pipeline_state_hist_roundtrip) {
  char dir[] = "/tmp/st_pipe_state_XXXXXX";
  CHECK(mkdtemp(dir));
  st_error err = {0};
  int64_t pix[3] = {1, 7, 40}, cnt[3] = {5, 1, 9};
  CHECK_OK(st_imp_state_save_hist(dir, 3, "a/b.csv", 1, pix, cnt, NULL, 3, &err), &err);
  int64_t hist[48] = {0};
  int found = 0;
  CHECK_OK(st_imp_state_load_hist(dir, 3, "a/b.csv", 1, hist, NULL, 48, &found, &err), &err);
  CHECK(found == 1);
  CHECK_EQ_I64(hist[1], 5);
  CHECK_EQ_I64(hist[7], 1);
  CHECK_EQ_I64(hist[40], 9);
  int64_t sum = 0;
  for (int i = 0; i < 48; i++) sum += hist[i];
  CHECK_EQ_I64(sum, 15);
  /* another path, another order, another file number, too small histogram: not used */
  int64_t h2[48] = {0};
  CHECK_OK(st_imp_state_load_hist(dir, 3, "a/c.csv", 1, h2, NULL, 48, &found, &err), &err);
  CHECK(found == 0);
  CHECK_OK(st_imp_state_load_hist(dir, 3, "a/b.csv", 2, h2, NULL, 192, &found, &err), &err);
  CHECK(found == 0);
  CHECK_OK(st_imp_state_load_hist(dir, 4, "a/b.csv", 1, h2, NULL, 48, &found, &err), &err);
  CHECK(found == 0);
  CHECK_OK(st_imp_state_load_hist(dir, 3, "a/b.csv", 1, h2, NULL, 12, &found, &err), &err);
  CHECK(found == 0);
  for (int i = 0; i < 48; i++) CHECK_EQ_I64(h2[i], 0);
  /* truncated file: ignored */
  char path[256];
  snprintf(path, sizeof path, "%s/map/3.hist", dir);
  struct stat st;
  CHECK(stat(path, &st) == 0);
  CHECK(truncate(path, st.st_size - 4) == 0);
  CHECK_OK(st_imp_state_load_hist(dir, 3, "a/b.csv", 1, h2, NULL, 48, &found, &err), &err);
  CHECK(found == 0);
  for (int i = 0; i < 48; i++) CHECK_EQ_I64(h2[i], 0);
  unlink(path);
  snprintf(path, sizeof path, "%s/map", dir);
  rmdir(path);
  rmdir(dir);
}

/* Byte-size histograms (--byte-threshold) round trip with the counts, and a
** file saved without them is not used when they are wanted (nor the reverse). */
TEST(import_pipeline_state_hist_bytes) {
  char dir[] = "/tmp/st_pipe_bytes_XXXXXX";
  CHECK(mkdtemp(dir));
  st_error err = {0};
  int64_t pix[2] = {3, 9}, cnt[2] = {2, 4}, bytes[2] = {100, 7};
  CHECK_OK(st_imp_state_save_hist(dir, 0, "x.csv", 1, pix, cnt, bytes, 2, &err), &err);
  CHECK_OK(st_imp_state_save_hist(dir, 1, "y.csv", 1, pix, cnt, NULL, 2, &err), &err);
  int64_t h[48] = {0}, b[48] = {0};
  int found = 0;
  CHECK_OK(st_imp_state_load_hist(dir, 0, "x.csv", 1, h, b, 48, &found, &err), &err);
  CHECK(found == 1);
  CHECK_EQ_I64(h[3], 2);
  CHECK_EQ_I64(h[9], 4);
  CHECK_EQ_I64(b[3], 100);
  CHECK_EQ_I64(b[9], 7);
  int64_t h2[48] = {0}, b2[48] = {0};
  CHECK_OK(st_imp_state_load_hist(dir, 0, "x.csv", 1, h2, NULL, 48, &found, &err), &err);
  CHECK(found == 0);
  CHECK_OK(st_imp_state_load_hist(dir, 1, "y.csv", 1, h2, b2, 48, &found, &err), &err);
  CHECK(found == 0);
  for (int i = 0; i < 48; i++) CHECK_EQ_I64(h2[i] + b2[i], 0);
  char path[256];
  for (int f = 0; f < 2; f++) {
    snprintf(path, sizeof path, "%s/map/%d.hist", dir, f);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/map", dir);
  rmdir(path);
  rmdir(dir);
}
