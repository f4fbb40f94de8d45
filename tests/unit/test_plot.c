/*
** This file implements unit tests of st_plot_lightcurve: a PNG appears with
** the requested size (read back from its IHDR), every numeric column type is
** accepted, bad columns and options give clear errors and leave no file.
*/
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

/* A table mjd (double), flux (float), flux_err (double, with a null), n (int16), name (string). */
static st_table *make_table(int n) {
  st_error err = {0};
  st_field f[5];
  st_array *c[5] = {0};
  st_field_init(&f[0], "mjd", ST_T_DOUBLE, true);
  st_field_init(&f[1], "flux", ST_T_FLOAT, true);
  st_field_init(&f[2], "flux_err", ST_T_DOUBLE, true);
  st_field_init(&f[3], "n", ST_T_INT16, true);
  st_field_init(&f[4], "name", ST_T_STRING, true);
  double *t = malloc(n * sizeof *t), *e = malloc(n * sizeof *e);
  float *y = malloc(n * sizeof *y);
  int16_t *k = malloc(n * sizeof *k);
  uint8_t *valid = malloc(n);
  for (int i = 0; i < n; i++) {
    t[i] = 58000 + (i / 10) * 200 + (i % 10) * 0.7;
    y[i] = 15 + (float)sin(i * 0.3);
    e[i] = 0.05;
    k[i] = (int16_t)(i * 3 - 7);
    valid[i] = i != 3;
  }
  for (int j = 0; j < 5; j++) {
    st_builder *b = NULL;
    st_builder_new(&f[j], &b, &err);
    if (j == 0) st_builder_append_values(b, t, n, NULL, &err);
    if (j == 1) st_builder_append_values(b, y, n, NULL, &err);
    if (j == 2) st_builder_append_values(b, e, n, valid, &err);
    if (j == 3) st_builder_append_values(b, k, n, NULL, &err);
    if (j == 4)
      for (int i = 0; i < n; i++) st_builder_append_bytes(b, "x", 1, &err);
    st_builder_finish(b, &c[j], &err);
    st_builder_free(b);
  }
  st_table *tab = NULL;
  st_table_new(f, c, 5, n, NULL, &tab, &err);
  for (int j = 0; j < 5; j++) st_field_clear(&f[j]);
  free(t), free(e), free(y), free(k), free(valid);
  return tab;
}

/* Width and height from a PNG's IHDR, or -1. */
static int png_size(const char *path, int *w, int *h) {
  FILE *fp = fopen(path, "rb");
  unsigned char b[24];
  if (!fp) return -1;
  size_t got = fread(b, 1, sizeof b, fp);
  fclose(fp);
  if (got != 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4)) return -1;
  *w = (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19];
  *h = (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23];
  return 0;
}

TEST(plot_lightcurve_png) {
  st_error err = {0};
  st_table *t = make_table(40);
  CHECK(t);
  char path[256];
  snprintf(path, sizeof path, "/tmp/skytile-unit-plot-%d.png", (int)getpid());
  const char *ys[] = {"flux", "n"}, *es[] = {"flux_err", NULL};
  st_plot_options o;
  st_plot_options_init(&o);
  o.time_column = "mjd";
  o.y_columns = ys;
  o.err_columns = es;
  o.n_y = 2;
  o.title = "unit";
  o.width = 640;
  o.height = 360;
  o.magnitude = true;
  CHECK_OK(st_plot_lightcurve(t, 0, -1, &o, path, &err), &err);
  int w = 0, h = 0;
  CHECK(png_size(path, &w, &h) == 0);
  CHECK_EQ_I64(w, 640);
  CHECK_EQ_I64(h, 360);
  unlink(path);

  /* a sub-range, and an empty range ("no data") */
  CHECK_OK(st_plot_lightcurve(t, 5, 10, &o, path, &err), &err);
  CHECK_OK(st_plot_lightcurve(t, 40, 0, &o, path, &err), &err);
  CHECK(png_size(path, &w, &h) == 0);
  unlink(path);

  /* errors: string column, missing column, bad range, bad size; no file left */
  const char *bad[] = {"name"};
  o.y_columns = bad;
  o.err_columns = NULL;
  o.n_y = 1;
  CHECK(st_plot_lightcurve(t, 0, -1, &o, path, &err) == ST_ERR_SCHEMA);
  CHECK(strstr(err.msg, "'name'") && strstr(err.msg, "not numeric"));
  const char *missing[] = {"nope"};
  o.y_columns = missing;
  CHECK(st_plot_lightcurve(t, 0, -1, &o, path, &err) == ST_ERR_NOTFOUND);
  CHECK(strstr(err.msg, "'nope'"));
  o.y_columns = ys;
  CHECK(st_plot_lightcurve(t, 30, 20, &o, path, &err) == ST_ERR_INVALID);
  o.width = 5;
  CHECK(st_plot_lightcurve(t, 0, -1, &o, path, &err) == ST_ERR_INVALID);
  CHECK(access(path, F_OK) != 0);
  st_table_free(t);
  st_plot_cleanup();  /* cairo/fontconfig caches: keeps leak checkers quiet */
}

/* Degenerate data (infinities, NaN, values near DBL_MAX, one huge time) still plots. */
TEST(plot_lightcurve_extremes) {
  st_error err = {0};
  double t[6] = {1.7e308, -1.7e308, 5, 6, NAN, 1e20};
  double y[6] = {1.7e308, -1.7e308, INFINITY, NAN, 1, 2};
  st_field f[2];
  st_array *c[2] = {0};
  st_field_init(&f[0], "t", ST_T_DOUBLE, true);
  st_field_init(&f[1], "y", ST_T_DOUBLE, true);
  for (int j = 0; j < 2; j++) {
    st_builder *b = NULL;
    CHECK_OK(st_builder_new(&f[j], &b, &err), &err);
    CHECK_OK(st_builder_append_values(b, j ? y : t, 6, NULL, &err), &err);
    CHECK_OK(st_builder_finish(b, &c[j], &err), &err);
    st_builder_free(b);
  }
  st_table *tab = NULL;
  CHECK_OK(st_table_new(f, c, 2, 6, NULL, &tab, &err), &err);
  st_field_clear(&f[0]);
  st_field_clear(&f[1]);
  char path[256];
  snprintf(path, sizeof path, "/tmp/skytile-unit-plot-x-%d.png", (int)getpid());
  const char *ys[] = {"y"};
  st_plot_options o;
  st_plot_options_init(&o);
  o.time_column = "t";
  o.y_columns = ys;
  o.n_y = 1;
  for (int gap = 0; gap < 2; gap++) {
    o.gap_days = gap ? 30 : 0;
    for (int r0 = 0; r0 < 6; r0++) {
      CHECK_OK(st_plot_lightcurve(tab, r0, 1, &o, path, &err), &err);
      CHECK_OK(st_plot_lightcurve(tab, r0, 6 - r0, &o, path, &err), &err);
    }
  }
  int w = 0, h = 0;
  CHECK(png_size(path, &w, &h) == 0 && w == 1000 && h == 500);
  unlink(path);
  st_table_free(tab);
  st_plot_cleanup();
}
