/*
** Unit tests of the import module (src/import/): binning edge cases and
** invariants, and the finishing writers' exact output.  Expected values are
** worked out by hand from hats' rules (the full comparison with hats runs
** in tests/test_import_bin.py and tests/test_import_finish.py; these run
** under ASan too).
*/
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "import/import.h"

static int64_t *zeros(int order) {
  return calloc((size_t)st_hpx_npix(order), sizeof(int64_t));
}

static st_bin_options opts_of(int highest, int64_t threshold, bool drop) {
  st_bin_options o;
  memset(&o, 0, sizeof o);
  o.highest_order = highest;
  o.constant_order = -1;
  o.threshold = threshold;
  o.drop_empty_siblings = drop;
  return o;
}

TEST(import_bin_empty_histogram) {
  int64_t *h = zeros(3);
  st_bin_options o = opts_of(3, 10, false);
  st_bin_result r;
  st_error err = {0};
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.nparts, 0);
  CHECK_EQ_I64(r.total_rows, 0);
  CHECK_EQ_I64(r.mapping_order, 1);  /* lowered to lowest + 1, as hats-import */
  for (int64_t p = 0; p < r.npix; p++) CHECK_EQ_I64(r.dest[p], -1);
  st_bin_result_free(&r);
  o.keep_highest_order = true;
  o.drop_empty_siblings = true;
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.mapping_order, 3);
  CHECK_EQ_I64(r.nparts, 0);
  st_bin_result_free(&r);
  free(h);
}

TEST(import_bin_one_pixel) {
  int64_t *h = zeros(3);
  h[100] = 5;
  st_error err = {0};
  st_bin_result r;
  /* drop_empty_siblings: a lone pixel stays at the highest order */
  st_bin_options o = opts_of(3, 10, true);
  o.keep_highest_order = true;
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.nparts, 1);
  CHECK_EQ_I64(r.parts[0].order, 3);
  CHECK_EQ_I64(r.parts[0].pixel, 100);
  CHECK_EQ_I64(r.parts[0].rows, 5);
  for (int64_t p = 0; p < r.npix; p++) CHECK_EQ_I64(r.dest[p], p == 100 ? 0 : -1);
  st_bin_result_free(&r);
  /* without: merged up to order 0 pixel 1; mapping order lowered to 1 */
  o = opts_of(3, 10, false);
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.mapping_order, 1);
  CHECK_EQ_I64(r.nparts, 1);
  CHECK_EQ_I64(r.parts[0].order, 0);
  CHECK_EQ_I64(r.parts[0].pixel, 1);
  for (int64_t p = 0; p < r.npix; p++) CHECK_EQ_I64(r.dest[p], p / 4 == 1 ? 0 : -1);
  st_bin_result_free(&r);
  /* lowest order 2 caps the merge */
  o.lowest_order = 2;
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.mapping_order, 3);
  CHECK_EQ_I64(r.parts[0].order, 2);
  CHECK_EQ_I64(r.parts[0].pixel, 25);
  st_bin_result_free(&r);
  free(h);
}

TEST(import_bin_pixel_over_threshold) {
  int64_t *h = zeros(2);
  h[7] = 11;
  h[8] = 3;
  st_bin_options o = opts_of(2, 10, false);
  st_bin_result r;
  st_error err = {0};
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_LIMIT);
  CHECK(strstr(err.msg, "pixel 7 of order 2 alone holds 11 rows") != NULL);
  CHECK(strstr(err.msg, "threshold 10") != NULL);
  CHECK(strstr(err.msg, "raise --highest-order") != NULL);
  CHECK(r.dest == NULL && r.parts == NULL && r.nparts == 0);
  /* bytes mode: the check is on bytes */
  int64_t *b = zeros(2);
  b[8] = 1000;
  o.bytes = b;
  o.threshold = 999;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_LIMIT);
  CHECK(strstr(err.msg, "pixel 8 of order 2 alone holds 1000 bytes") != NULL);
  /* constant mode has no threshold */
  o.bytes = NULL;
  o.constant_order = 2;
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.nparts, 2);
  CHECK_EQ_I64(r.parts[0].rows, 11);
  st_bin_result_free(&r);
  free(h);
  free(b);
}

TEST(import_bin_bad_arguments) {
  int64_t *h = zeros(2);
  st_bin_result r;
  st_error err = {0};
  st_bin_options o = opts_of(2, 10, false);
  o.lowest_order = 3;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  o = opts_of(ST_BIN_MAX_ORDER + 1, 10, false);
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  o = opts_of(2, 0, false);
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "positive") != NULL);
  o = opts_of(2, 10, false);
  h[3] = -1;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "pixel 3 holds -1") != NULL);
  h[3] = INT64_MAX;
  h[4] = 1;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "overflows") != NULL);
  CHECK_EQ_I64(st_bin(NULL, &o, &r, &err), ST_ERR_INVALID);
  free(h);
}

TEST(import_bin_incremental_edges) {
  int64_t *h = zeros(2);
  h[0] = 4;  /* in existing (0, 0) */
  h[40] = 2; /* in (0, 2), not existing */
  st_bin_result r;
  st_error err = {0};
  st_bin_options o = opts_of(2, 100, false);
  int eo[2] = {0, 2};
  int64_t ep[2] = {0, 20};
  o.existing_orders = eo;
  o.existing_pixels = ep;
  o.n_existing = 2;
  CHECK_OK(st_bin(h, &o, &r, &err), &err);
  CHECK_EQ_I64(r.nparts, 2);   /* (0,0) kept with 4 rows; new pixel (2,40) alone */
  CHECK_EQ_I64(r.parts[0].order, 0);
  CHECK_EQ_I64(r.parts[0].pixel, 0);
  CHECK_EQ_I64(r.parts[0].rows, 4);
  CHECK_EQ_I64(r.parts[1].order, 2);
  CHECK_EQ_I64(r.parts[1].pixel, 40);
  CHECK_EQ_I64(r.dest[15], 0);  /* empty pixel inside the existing partition */
  CHECK_EQ_I64(r.dest[20], -1); /* existing (2,20) got no rows: not listed */
  st_bin_result_free(&r);
  /* an existing partition coarser than lowest_order counts 0 rows in hats */
  o.lowest_order = 1;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "hold 2 rows but the histogram holds 6") != NULL);
  /* overlap, too fine */
  o.lowest_order = 0;
  eo[1] = 1;
  ep[1] = 1;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "overlap") != NULL);
  eo[1] = 3;
  ep[1] = 700;
  CHECK_EQ_I64(st_bin(h, &o, &r, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "finer than the highest order 2") != NULL);
  free(h);
}

/* Invariants on a larger random histogram: partitions disjoint, sorted,
** under the threshold, holding every row; dest consistent. */
TEST(import_bin_invariants_order8) {
  int order = 8;
  int64_t n = st_hpx_npix(order);
  int64_t *h = zeros(order);
  uint64_t s = 12345;
  for (int64_t p = 0; p < n; p++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    if ((s >> 60) < 3) h[p] = (int64_t)((s >> 20) % 40);
  }
  for (int mode = 0; mode < 3; mode++) {
    st_bin_options o = opts_of(order, 5000, mode == 1);
    o.lowest_order = mode == 2 ? 2 : 0;
    st_bin_result r;
    st_error err = {0};
    CHECK_OK(st_bin(h, &o, &r, &err), &err);
    int64_t tot = 0, prev_end = -1;
    for (int64_t i = 0; i < r.nparts; i++) {
      st_bin_partition q = r.parts[i];
      CHECK(q.rows > 0 && q.rows <= 5000);
      CHECK(q.order >= o.lowest_order && q.order <= r.mapping_order);
      int64_t start = q.pixel << (2 * (29 - q.order)), end = (q.pixel + 1) << (2 * (29 - q.order));
      CHECK(start >= prev_end);
      prev_end = end;
      tot += q.rows;
    }
    CHECK_EQ_I64(tot, r.total_rows);
    int sh = 2 * (order - r.mapping_order);
    for (int64_t p = 0; p < n; p++) {
      if (h[p] == 0) continue;
      int32_t d = r.dest[p >> sh];
      CHECK(d >= 0);
      CHECK_EQ_I64((p >> sh) >> (2 * (r.mapping_order - r.parts[d].order)), r.parts[d].pixel);
    }
    st_bin_result_free(&r);
  }
  free(h);
}

/* ---- finishing writers ---------------------------------------------------- */

static char g_dir[64];
static const char *tmpdir(void) {
  strcpy(g_dir, "/tmp/skytile-imp-XXXXXX");
  return mkdtemp(g_dir);
}

static char *slurp(const char *dir, const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
  fclose(f);
  b[n] = 0;
  *len = (size_t)n;
  return b;
}

static void rm(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
}

TEST(import_partition_info_csv) {
  const char *dir = tmpdir();
  CHECK(dir != NULL);
  st_bin_partition parts[3] = {{1, 47, 9}, {2, 176, 1}, {0, 4, 3}};
  st_error err = {0};
  CHECK_OK(st_import_write_partition_info(dir, parts, 3, &err), &err);
  size_t n;
  char *s = slurp(dir, "partition_info.csv", &n);
  CHECK(s != NULL);
  int same = strcmp(s, "Norder,Npix\n0,4\n2,176\n1,47\n") == 0;
  free(s);
  CHECK(same);
  CHECK_OK(st_import_write_partition_info(dir, NULL, 0, &err), &err);
  s = slurp(dir, "partition_info.csv", &n);
  same = s && strcmp(s, "Norder,Npix\n") == 0;
  free(s);
  CHECK(same);
  parts[0].pixel = 48;
  CHECK_EQ_I64(st_import_write_partition_info(dir, parts, 3, &err), ST_ERR_INVALID);
  rm(dir, "partition_info.csv");
  rmdir(dir);
}

static int64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return (int64_t)v;
}

TEST(import_fits_implicit_and_explicit) {
  const char *dir = tmpdir();
  CHECK(dir != NULL);
  char path[512];
  snprintf(path, sizeof path, "%s/m.fits", dir);
  int64_t v[12];
  for (int i = 0; i < 12; i++) v[i] = i < 6 ? 0 : (int64_t)1 << (8 * (i - 6));
  st_error err = {0};
  /* 6 of 12 zero: not more than half -> implicit */
  CHECK_OK(st_import_write_healpix_fits(path, v, 0, &err), &err);
  size_t n;
  char *s = slurp(dir, "m.fits", &n);
  CHECK(s != NULL);
  int ok = n == 3 * 2880 && !memcmp(s, "SIMPLE  =                    T", 30) &&
           !memcmp(s + 2880, "XTENSION= 'BINTABLE'", 20) &&
           strstr(s + 2880, "INDXSCHM= 'IMPLICIT'") && strstr(s + 2880, "NSIDE   =                    1") &&
           strstr(s + 2880, "LASTPIX =                   11") &&
           strstr(s + 2880, "TTYPE1  = 'VALUE   '");
  for (int i = 0; ok && i < 12; i++) ok = be64((unsigned char *)s + 5760 + 8 * i) == v[i];
  for (size_t i = 5760 + 96; ok && i < n; i++) ok = s[i] == 0;
  free(s);
  CHECK(ok);
  /* 7 of 12 zero -> explicit, rows (pixel, value) */
  v[6] = 0;
  CHECK_OK(st_import_write_healpix_fits(path, v, 0, &err), &err);
  s = slurp(dir, "m.fits", &n);
  CHECK(s != NULL);
  ok = n == 3 * 2880 && strstr(s + 2880, "INDXSCHM= 'EXPLICIT'") &&
       strstr(s + 2880, "OBS_NPIX=                    5") &&
       strstr(s + 2880, "NAXIS2  =                    5") && strstr(s + 2880, "TTYPE1  = 'PIXEL   '");
  for (int i = 0; ok && i < 5; i++)
    ok = be64((unsigned char *)s + 5760 + 16 * i) == 7 + i &&
         be64((unsigned char *)s + 5760 + 16 * i + 8) == v[7 + i];
  free(s);
  CHECK(ok);
  /* all zero: explicit with no rows, no data block */
  memset(v, 0, sizeof v);
  CHECK_OK(st_import_write_healpix_fits(path, v, 0, &err), &err);
  s = slurp(dir, "m.fits", &n);
  ok = s && n == 2 * 2880 && strstr(s + 2880, "NAXIS2  =                    0");
  free(s);
  CHECK(ok);
  CHECK_EQ_I64(st_import_write_healpix_fits(path, v, 30, &err), ST_ERR_INVALID);
  rm(dir, "m.fits");
  rmdir(dir);
}

TEST(import_frac5_format) {
  struct { double x; const char *want; } c[] = {
    {0, "0.0"}, {1, "1.0"}, {0.5, "0.5"}, {1.0 / 12, "0.08333"}, {1e-5, "1e-05"},
    {4.4e-5, "4e-05"}, {9.999e-5, "0.0001"}, {0.000123, "0.00012"}, {0.999996, "1.0"},
    {2.5, "2.5"}, {1.0 / 6, "0.16667"}, {0.000004, "0.0"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    char b[64];
    st_imp_fmt_frac5(c[i].x, b, sizeof b);
    if (strcmp(b, c[i].want)) fprintf(stderr, "%g: got %s want %s\n", c[i].x, b, c[i].want);
    CHECK(!strcmp(b, c[i].want));
  }
}

TEST(import_properties_text) {
  const char *dir = tmpdir();
  CHECK(dir != NULL);
  st_import_props p;
  st_import_props_init(&p);
  p.catalog_name = "cat";
  p.catalog_type = "object";
  p.total_rows = 131;
  p.ra_column = "ra";
  p.dec_column = "dec";
  p.default_columns = "ra,dec;;id";
  int alt[3] = {3, 1, 3};
  p.skymap_alt_orders = alt;
  p.n_skymap_alt_orders = 3;
  p.skymap_order = 5;
  p.max_rows = 1000;
  p.estsize_kb = 7;
  p.moc_sky_fraction = 1.0 / 12;
  p.builder = "b";
  p.creation_date = "2026-01-01T00:00UTC";
  p.hats_order = 0;
  const char *ek[2] = {"a key", "hats_builder"}, *ev[2] = {" v\n", "ignored"};
  p.extra_keys = ek;
  p.extra_values = ev;
  p.n_extra = 2;
  st_error err = {0};
  CHECK_OK(st_import_write_properties(dir, &p, &err), &err);
  size_t n1, n2;
  char *a = slurp(dir, "hats.properties", &n1), *b = slurp(dir, "properties", &n2);
  const char *want =
      "#HATS catalog\n"
      "obs_collection=cat\n"
      "dataproduct_type=object\n"
      "hats_nrows=131\n"
      "hats_col_ra=ra\n"
      "hats_col_dec=dec\n"
      "hats_cols_default=ra dec id\n"
      "hats_npix_suffix=.parquet\n"
      "hats_skymap_order=5\n"
      "hats_skymap_alt_orders=1 3\n"
      "hats_max_rows=1000\n"
      "hats_estsize=7\n"
      "moc_sky_fraction=0.08333\n"
      "a\\ key=\\ v\\n\n"
      "hats_builder=b\n"
      "hats_creation_date=2026-01-01T00:00UTC\n"
      "hats_release_date=2025-08-22\n"
      "hats_version=v1.0\n"
      "hats_order=0\n";
  int ok = a && b && !strcmp(a, want) && !strcmp(b, want);
  if (!ok && a) fprintf(stderr, "got:\n%s", a);
  free(a);
  free(b);
  CHECK(ok);
  alt[1] = 30;  /* not a HEALPix order */
  CHECK_EQ_I64(st_import_write_properties(dir, &p, &err), ST_ERR_INVALID);
  CHECK(strstr(err.msg, "bad skymap order 30") != NULL);
  alt[1] = 1;
  p.catalog_type = NULL;
  CHECK_EQ_I64(st_import_write_properties(dir, &p, &err), ST_ERR_INVALID);
  rm(dir, "hats.properties");
  rm(dir, "properties");
  rmdir(dir);
}
