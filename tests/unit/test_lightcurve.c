/*
** This file implements unit tests of the light curves (st_lightcurves_run,
** st_lightcurves_nest) on a hand-made plain-Parquet catalog: the time sort
** for an integer time column with ties and nulls, duplicate target
** positions, targets with null positions, the radius cut, the nested layout
** and argument errors.  Expected rows are worked out by hand below.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* Detections near (10, 20): dec offsets in arcsec, times (null = INT64_MIN), tags. */
#define LC_ND 7
static const double det_ddec[LC_ND] = {0.1, 0.2, 0.3, 0.4, 0.5, 2.0, 0.6};
static const int64_t det_t[LC_ND] = {5, INT64_MIN, -3, 5, 2, 1, 7};
static const int32_t det_v[LC_ND] = {100, 101, 102, 103, 104, 105, 106};
/* row 5 is 2" away (outside 1"), row 6 has a null ra */

static int build_col(const st_field *f, const void *vals, const uint8_t *valid, int64_t n, st_array **out,
                     st_error *err) {
  st_builder *b = NULL;
  int rc = st_builder_new(f, &b, err);
  if (!rc) rc = st_builder_append_values(b, vals, n, valid, err);
  if (!rc) rc = st_builder_finish(b, out, err);
  st_builder_free(b);
  return rc;
}

static int write_catalog(const char *path, st_error *err) {
  st_field f[4];
  st_array *c[4] = {0};
  st_field_init(&f[0], "ra", ST_T_DOUBLE, true);
  st_field_init(&f[1], "dec", ST_T_DOUBLE, false);
  st_field_init(&f[2], "t", ST_T_INT64, true);
  st_field_init(&f[3], "v", ST_T_INT32, false);
  double ra[LC_ND], dec[LC_ND];
  uint8_t rav[LC_ND], tv[LC_ND];
  for (int i = 0; i < LC_ND; i++) {
    ra[i] = 10.0;
    dec[i] = 20.0 + det_ddec[i] / 3600.0;
    rav[i] = i != 6;
    tv[i] = det_t[i] != INT64_MIN;
  }
  int rc = build_col(&f[0], ra, rav, LC_ND, &c[0], err);
  if (!rc) rc = build_col(&f[1], dec, NULL, LC_ND, &c[1], err);
  if (!rc) rc = build_col(&f[2], det_t, tv, LC_ND, &c[2], err);
  if (!rc) rc = build_col(&f[3], det_v, NULL, LC_ND, &c[3], err);
  st_table *t = NULL;
  if (!rc) rc = st_table_new(f, c, 4, LC_ND, NULL, &t, err);
  else for (int i = 0; i < 4; i++) st_array_free(c[i]);
  if (!rc) rc = st_pq_write_table_path(path, t, NULL, err);
  st_table_free(t);
  for (int i = 0; i < 4; i++) st_field_clear(&f[i]);
  return rc;
}

/* Targets: "a" and "b" at (10, 20) (same position), "c" with a null position. */
static int make_targets(st_table **out, st_error *err) {
  st_field f[3];
  st_array *c[3] = {0};
  st_field_init(&f[0], "name", ST_T_STRING, false);
  st_field_init(&f[1], "ra", ST_T_DOUBLE, true);
  st_field_init(&f[2], "dec", ST_T_FLOAT, true);
  st_builder *b = NULL;
  int rc = st_builder_new(&f[0], &b, err);
  const char *names[3] = {"a", "b", "c"};
  for (int i = 0; i < 3 && !rc; i++) rc = st_builder_append_bytes(b, names[i], 1, err);
  if (!rc) rc = st_builder_finish(b, &c[0], err);
  st_builder_free(b);
  double ra[3] = {10, 10, 0};
  float dec[3] = {20, 20, 0};
  uint8_t v[3] = {1, 1, 0};
  if (!rc) rc = build_col(&f[1], ra, v, 3, &c[1], err);
  if (!rc) rc = build_col(&f[2], dec, v, 3, &c[2], err);
  if (!rc) rc = st_table_new(f, c, 3, 3, NULL, out, err);
  else for (int i = 0; i < 3; i++) st_array_free(c[i]);
  for (int i = 0; i < 3; i++) st_field_clear(&f[i]);
  return rc;
}

typedef struct lc_fix {
  char dir[64], path[96];
  st_catalog *cat;
  st_table *targets;
} lc_fix;

static int fix_open(lc_fix *F, st_error *err) {
  memset(F, 0, sizeof *F);
  snprintf(F->dir, sizeof F->dir, "/tmp/st_lc_unit_XXXXXX");
  if (!mkdtemp(F->dir)) {
    err->code = ST_ERR_IO;
    snprintf(err->msg, sizeof err->msg, "mkdtemp failed");
    return ST_ERR_IO;
  }
  snprintf(F->path, sizeof F->path, "%s/det.parquet", F->dir);
  int rc = write_catalog(F->path, err);
  if (!rc) rc = st_catalog_open(F->path, NULL, &F->cat, err);
  if (!rc) rc = make_targets(&F->targets, err);
  return rc;
}

static void fix_close(lc_fix *F) {
  st_catalog_close(F->cat);
  st_table_free(F->targets);
  unlink(F->path);
  rmdir(F->dir);
}

/* Expected order per target: t = -3 (v102), 2 (v104), 5 (v100, row 0), 5 (v103, row 3), null (v101). */
static const int32_t want_v[5] = {102, 104, 100, 103, 101};
static const double want_d[5] = {0.3, 0.5, 0.1, 0.4, 0.2};

TEST(lc_flat_time_sort) {
  st_error err = {0};
  lc_fix F;
  CHECK_OK(fix_open(&F, &err), &err);
  st_lc_options o;
  st_lc_options_init(&o);
  o.radius_arcsec = 1.0;
  o.time_column = "t";
  o.id_column = "name";
  const char *cols[] = {"v"};
  o.columns = cols;
  o.n_columns = 1;
  st_table *out = NULL;
  st_lc_stats st;
  const st_catalog *cats[1] = {F.cat};
  int rc = st_lightcurves_run(cats, 1, F.targets, &o, &out, &st, &err);
  if (rc) fix_close(&F);
  CHECK_OK(rc, &err);
  CHECK_OK(st_table_validate(out, &err), &err);
  CHECK_EQ_I64(out->n_rows, 10);
  CHECK_EQ_I64(out->n_columns, 6);   /* name, _target_ra, _target_dec, t, v, _dist_arcsec */
  CHECK(!strcmp(out->schema.children[0].name, "name"));
  CHECK(!strcmp(out->schema.children[3].name, "t"));
  CHECK(!strcmp(out->schema.children[4].name, "v"));
  CHECK(!strcmp(out->schema.children[5].name, "_dist_arcsec"));
  const int32_t *v = (const int32_t *)out->columns[4]->buf[1] + out->columns[4]->offset;
  const double *d = (const double *)out->columns[5]->buf[1] + out->columns[5]->offset;
  const int32_t *off = (const int32_t *)out->columns[0]->buf[1] + out->columns[0]->offset;
  const char *chars = (const char *)out->columns[0]->buf[2];
  for (int i = 0; i < 10; i++) {
    CHECK_EQ_I64(v[i], want_v[i % 5]);
    CHECK(fabs(d[i] - want_d[i % 5]) < 1e-6);
    CHECK(off[i + 1] - off[i] == 1 && chars[off[i]] == (i < 5 ? 'a' : 'b'));
    CHECK_EQ_I64(st_array_is_valid(out->columns[3], i), (i % 5) != 4);
  }
  CHECK_EQ_I64(st.targets, 3);
  CHECK_EQ_I64(st.targets_matched, 2);
  CHECK_EQ_I64(st.detections, 10);
  CHECK_EQ_I64(st.rows_total, LC_ND);
  /* nesting the flat table: "a" and "b" share a position but not an id */
  st_table *n = NULL;
  rc = st_lightcurves_nest(out, &n, &err);
  CHECK_OK(rc, &err);
  CHECK_OK(st_table_validate(n, &err), &err);
  CHECK_EQ_I64(n->n_rows, 2);
  CHECK_EQ_I64(n->n_columns, 5);
  CHECK(!strcmp(n->schema.children[3].name, "_n") && !strcmp(n->schema.children[4].name, "lc"));
  const int64_t *cnt = (const int64_t *)n->columns[3]->buf[1];
  CHECK(cnt[0] == 5 && cnt[1] == 5);
  const st_field *lcf = &n->schema.children[4];
  CHECK(lcf->type == ST_T_STRUCT && lcf->n_children == 3);
  CHECK(lcf->children[1].type == ST_T_LIST && !strcmp(lcf->children[1].name, "v"));
  CHECK(!strcmp(lcf->children[1].children[0].name, "element"));
  const st_array *lv = n->columns[4]->children[1];
  const int32_t *lo = (const int32_t *)lv->buf[1];
  CHECK(lo[0] == 0 && lo[1] == 5 && lo[2] == 10);
  /* the run's nested output is the same table */
  st_table *n2 = NULL;
  o.nested = true;
  CHECK_OK(st_lightcurves_run(cats, 1, F.targets, &o, &n2, NULL, &err), &err);
  CHECK_EQ_I64(n2->n_rows, 2);
  CHECK(st_field_equal(&n2->schema, &n->schema));
  const int32_t *v2 = (const int32_t *)n2->columns[4]->children[1]->children[0]->buf[1];
  for (int i = 0; i < 10; i++) CHECK_EQ_I64(v2[i], want_v[i % 5]);
  st_table_free(n2);
  st_table_free(n);
  st_table_free(out);
  fix_close(&F);
}

TEST(lc_where_and_errors) {
  st_error err = {0};
  lc_fix F;
  CHECK_OK(fix_open(&F, &err), &err);
  const st_catalog *cats[1] = {F.cat};
  st_lc_options o;
  st_lc_options_init(&o);
  o.radius_arcsec = 1.0;
  o.time_column = "t";
  o.id_column = "name";
  o.where = "v >= 103";
  st_table *out = NULL;
  int rc = st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err);
  if (!rc) {
    /* rows 3 (t 5) and 4 (t 2) per target: order v104, v103 */
    int vc = st_table_column_index(out, "v");
    rc = out->n_rows == 4 && vc >= 0 ? 0 : 1;
    const int32_t *v = rc ? NULL : (const int32_t *)out->columns[vc]->buf[1];
    if (!rc) rc = !(v[0] == 104 && v[1] == 103 && v[2] == 104 && v[3] == 103);
    st_table_free(out);
    out = NULL;
    if (rc) { fix_close(&F); CHECK(!"where filter"); }
  }
  if (rc) fix_close(&F);
  CHECK_OK(rc, &err);
  o.where = NULL;
  o.radius_arcsec = 0;
  CHECK_EQ_I64(st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err), ST_ERR_INVALID);
  o.radius_arcsec = 1;
  o.time_column = "nope";
  CHECK_EQ_I64(st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err), ST_ERR_NOTFOUND);
  CHECK(strstr(err.msg, "nope") != NULL);
  o.time_column = "t";
  o.id_column = "missing";
  CHECK_EQ_I64(st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err), ST_ERR_NOTFOUND);
  o.id_column = "name";
  o.target_dec_column = "name";   /* a string position column */
  CHECK_EQ_I64(st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err), ST_ERR_SCHEMA);
  o.target_dec_column = "dec";
  o.time_column = "ra";           /* fine: any number */
  CHECK_OK(st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err), &err);
  CHECK_EQ_I64(out->n_rows, 10);
  st_table_free(out);
  /* an id column named like a detection column is renamed */
  o.id_column = "ra";
  CHECK_OK(st_lightcurves_run(cats, 1, F.targets, &o, &out, NULL, &err), &err);
  CHECK(!strcmp(out->schema.children[0].name, "_target_id") && !strcmp(out->schema.children[3].name, "ra"));
  st_table_free(out);
  CHECK_EQ_I64(st_lightcurves_nest(F.targets, &out, &err), ST_ERR_INVALID);
  fix_close(&F);
}
