/*
** This file implements `skytile plot`: one target's light curve from a
** light-curve file (flat layout, one row per detection with an id column, as
** `skytile lightcurves` writes) drawn to a PNG by st_plot_lightcurve.
**
** Steps: read the whole file (st_input_read_table); keep the rows whose id
** column equals --id (integer columns compare as integers, other types by
** their text form; no --id keeps every row); sort them by time (stable, so
** equal times keep file order) with st_table_take; with --band-column build a
** new table holding the time and, for every y (and err) column and every
** distinct band value (sorted by text), a double column "<y> [<band>]" that has
** the value on that band's rows and null elsewhere, so each band is a series.
** No matching rows still writes a PNG ("no data") and warns on stderr.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static const char USAGE[] =
    "usage: skytile plot FILE --output X.png [options]\n"
    "\n"
    "Plot one target's light curve from a light-curve file (Parquet/CSV, one row\n"
    "per detection, as written by `skytile lightcurves`).\n"
    "\n"
    "  --output X.png          PNG to write (required)\n"
    "  --id X                  target id to plot (default: every row)\n"
    "  --id-column C           id column (default id)\n"
    "  --time-column C         time column (default mjd)\n"
    "  --y a[,b...]            value columns, one series each (default flux)\n"
    "  --err ea[,eb...]        error columns parallel to --y ('' or - for none)\n"
    "  --band-column C         one series per distinct value of C (e.g. band)\n"
    "  --magnitude             values are magnitudes: invert the y axis\n"
    "  --gap-days D            split into epoch panels at gaps > D days\n"
    "                          (default 30; 0: never)\n"
    "  --title T               plot title (default: the id)\n"
    "  --width W, --height H   size in pixels (default 1000 x 500)\n";

#define MAX_COLS 16

/* Split a comma list in place into at most MAX_COLS entries. */
static int split_list(char *s, const char **out) {
  int n = 0;
  for (char *p = s;;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    if (n == MAX_COLS) return -1;
    out[n++] = p;
    if (!c) break;
    p = c + 1;
  }
  return n;
}

static bool is_int_type(st_type_id t) { return t >= ST_T_INT8 && t <= ST_T_UINT64; }

/* Column `name` of t as doubles (null -> NaN); non-numeric: error. */
static int col_doubles(const st_table *t, const char *name, double *out, st_error *err) {
  int c = st_table_column_index(t, name);
  if (c < 0) {
    err->code = ST_ERR_NOTFOUND;
    snprintf(err->msg, sizeof err->msg, "plot: column '%s' not found", name);
    return err->code;
  }
  int rc = st_table_column_doubles(t, c, 0, t->n_rows, out, err);
  if (rc) {
    char m[sizeof err->msg];
    memcpy(m, err->msg, sizeof m);
    snprintf(err->msg, sizeof err->msg, "plot: %.1000s", m);
  }
  return rc;
}

static int64_t int_at(st_type_id t, const st_array *a, int64_t i, bool *neg_ok) {
  const uint8_t *b = a->buf[1];
  int64_t j = a->offset + i;
  switch (t) {
  case ST_T_INT8: return ((const int8_t *)b)[j];
  case ST_T_INT16: return ((const int16_t *)b)[j];
  case ST_T_INT32: return ((const int32_t *)b)[j];
  case ST_T_INT64: return ((const int64_t *)b)[j];
  case ST_T_UINT8: return ((const uint8_t *)b)[j];
  case ST_T_UINT16: return ((const uint16_t *)b)[j];
  case ST_T_UINT32: return ((const uint32_t *)b)[j];
  default: {
    uint64_t u = ((const uint64_t *)b)[j];
    if (u > INT64_MAX) *neg_ok = false;
    return (int64_t)u;
  }
  }
}

/* Row indices whose id equals `id` (all rows when id is NULL). */
static int select_rows(const st_table *t, const char *id_col, const char *id, int64_t **idx,
                       int64_t *n, st_error *err) {
  *idx = malloc((size_t)(t->n_rows ? t->n_rows : 1) * sizeof **idx);
  if (!*idx) {
    err->code = ST_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "plot: out of memory");
    return err->code;
  }
  *n = 0;
  if (!id) {
    for (int64_t i = 0; i < t->n_rows; i++) (*idx)[(*n)++] = i;
    return 0;
  }
  int c = st_table_column_index(t, id_col);
  if (c < 0) {
    err->code = ST_ERR_NOTFOUND;
    snprintf(err->msg, sizeof err->msg, "plot: id column '%s' not found (use --id-column)", id_col);
    return err->code;
  }
  const st_field *f = &t->schema.children[c];
  const st_array *a = t->columns[c];
  if (is_int_type(f->type) && !f->dict_encoded) {
    char *end;
    errno = 0;
    long long want = strtoll(id, &end, 10);
    if (errno || end == id || *end) return 0; /* not an integer: matches nothing */
    for (int64_t i = 0; i < t->n_rows; i++) {
      bool ok = true;
      if (st_array_is_valid(a, i) && int_at(f->type, a, i, &ok) == want && ok) (*idx)[(*n)++] = i;
    }
    return 0;
  }
  st_text tx = {0};
  size_t il = strlen(id);
  for (int64_t i = 0; i < t->n_rows; i++) {
    if (!st_array_is_valid(a, i)) continue;
    tx.len = 0;
    int rc = st_format_value(f, a, i, ST_FMT_TEXT, &tx, err);
    if (rc) {
      st_text_free(&tx);
      return rc;
    }
    if (tx.len == il && !memcmp(tx.data, id, il)) (*idx)[(*n)++] = i;
  }
  st_text_free(&tx);
  return 0;
}

static const double *g_sort_t;
static int cmp_by_time(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  double ta = g_sort_t[a], tb = g_sort_t[b];
  bool na = isnan(ta), nb = isnan(tb);
  if (na != nb) return na ? 1 : -1;
  if (!na && ta != tb) return ta < tb ? -1 : 1;
  return (a > b) - (a < b);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A double column from values with NaN marking nulls. */
static int double_column(const char *name, const double *v, int64_t n, st_field *f, st_array **out,
                         st_error *err) {
  int rc = st_field_init(f, name, ST_T_DOUBLE, true);
  if (rc) {
    err->code = rc;
    snprintf(err->msg, sizeof err->msg, "plot: out of memory");
    return rc;
  }
  uint8_t *valid = malloc((size_t)(n ? n : 1));
  st_builder *b = NULL;
  if (!valid) {
    err->code = ST_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "plot: out of memory");
    return err->code;
  }
  for (int64_t i = 0; i < n; i++) valid[i] = !isnan(v[i]);
  rc = st_builder_new(f, &b, err);
  if (!rc) rc = st_builder_append_values(b, v, n, valid, err);
  if (!rc) rc = st_builder_finish(b, out, err);
  st_builder_free(b);
  free(valid);
  return rc;
}

/*
** The band split: a table with the time column and, per y/err column and per
** band, a double column; names of the series in ycols/ecols (owned by names).
*/
static int split_bands(const st_table *t, const char *time_col, const char *band_col,
                       const char **ys, const char **es, int n_y, st_table **out, char ***names,
                       int *n_names, const char ***ycols, const char ***ecols, int *n_series,
                       st_error *err) {
  int64_t n = t->n_rows;
  int bc = st_table_column_index(t, band_col);
  if (bc < 0) {
    err->code = ST_ERR_NOTFOUND;
    snprintf(err->msg, sizeof err->msg, "plot: band column '%s' not found", band_col);
    return err->code;
  }
  const st_field *bf = &t->schema.children[bc];
  const st_array *ba = t->columns[bc];
  int rc = 0;
  char **bandv = calloc((size_t)(n ? n : 1), sizeof *bandv); /* band text per row (NULL: null) */
  char **uniq = calloc((size_t)(n ? n : 1), sizeof *uniq);
  double *buf = malloc((size_t)(n ? n : 1) * sizeof *buf * 3);
  int n_uniq = 0, n_cols = 0, cap_cols = 1 + 2 * n_y * (int)(n < 64 ? n + 1 : 64);
  st_field *fields = calloc((size_t)cap_cols, sizeof *fields);
  st_array **cols = calloc((size_t)cap_cols, sizeof *cols);
  st_text tx = {0};
  if (!bandv || !uniq || !buf || !fields || !cols) {
    rc = err->code = ST_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "plot: out of memory");
    goto done;
  }
  for (int64_t i = 0; i < n && !rc; i++) {
    if (!st_array_is_valid(ba, i)) continue;
    tx.len = 0;
    rc = st_format_value(bf, ba, i, ST_FMT_TEXT, &tx, err);
    if (!rc && !(bandv[i] = strdup(tx.data ? tx.data : ""))) {
      rc = err->code = ST_ERR_NOMEM;
      snprintf(err->msg, sizeof err->msg, "plot: out of memory");
    }
  }
  if (rc) goto done;
  /* distinct bands, sorted */
  for (int64_t i = 0; i < n; i++)
    if (bandv[i]) uniq[n_uniq++] = bandv[i];
  if (n_uniq) qsort(uniq, (size_t)n_uniq, sizeof *uniq, cmp_str);
  int k = 0;
  for (int i = 0; i < n_uniq; i++)
    if (!k || strcmp(uniq[k - 1], uniq[i])) uniq[k++] = uniq[i];
  n_uniq = k;
  if (n_uniq > 64) {
    rc = err->code = ST_ERR_INVALID;
    snprintf(err->msg, sizeof err->msg, "plot: band column '%s' has %d distinct values (max 64)",
             band_col, n_uniq);
    goto done;
  }
  if (1 + 2 * n_y * n_uniq > cap_cols || n_y * (n_uniq ? n_uniq : 1) > 64) {
    rc = err->code = ST_ERR_INVALID;
    snprintf(err->msg, sizeof err->msg, "plot: too many series (%d columns x %d bands)", n_y,
             n_uniq);
    goto done;
  }
  *names = calloc((size_t)(2 * n_y * n_uniq + 1), sizeof **names);
  *ycols = calloc((size_t)(n_y * n_uniq + 1), sizeof **ycols);
  *ecols = calloc((size_t)(n_y * n_uniq + 1), sizeof **ecols);
  if (!*names || !*ycols || !*ecols) {
    rc = err->code = ST_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "plot: out of memory");
    goto done;
  }
  double *tv = buf, *yv = buf + n, *col = buf + 2 * n;
  rc = col_doubles(t, time_col, tv, err);
  if (!rc) rc = double_column(time_col, tv, n, &fields[n_cols], &cols[n_cols], err);
  if (rc) goto done;
  n_cols++;
  for (int s = 0; s < n_y && !rc; s++) {
    for (int pass = 0; pass < 2 && !rc; pass++) {
      const char *src = pass ? es[s] : ys[s];
      if (!src) continue;
      rc = col_doubles(t, src, yv, err);
      for (int b = 0; b < n_uniq && !rc; b++) {
        for (int64_t i = 0; i < n; i++) col[i] = bandv[i] && !strcmp(bandv[i], uniq[b]) ? yv[i] : NAN;
        size_t l = strlen(src) + strlen(uniq[b]) + 4;
        char *nm = malloc(l);
        if (!nm) {
          rc = err->code = ST_ERR_NOMEM;
          snprintf(err->msg, sizeof err->msg, "plot: out of memory");
          break;
        }
        snprintf(nm, l, "%s [%s]", src, uniq[b]);
        (*names)[(*n_names)++] = nm;
        if (pass) (*ecols)[s * n_uniq + b] = nm;
        else (*ycols)[s * n_uniq + b] = nm;
        rc = double_column(nm, col, n, &fields[n_cols], &cols[n_cols], err);
        if (!rc) n_cols++;
      }
    }
  }
  *n_series = n_y * n_uniq;
  if (!rc) {
    rc = st_table_new(fields, cols, n_cols, n, NULL, out, err); /* takes the arrays */
    for (int i = 0; i < n_cols; i++) cols[i] = NULL;
  }
done:
  for (int i = 0; fields && cols && i < cap_cols; i++) {
    st_array_free(cols[i]);
    st_field_clear(&fields[i]);
  }
  for (int64_t i = 0; bandv && i < n; i++) free(bandv[i]);
  free(bandv);
  free(uniq);
  free(buf);
  free(fields);
  free(cols);
  st_text_free(&tx);
  return rc;
}

int cmd_plot(int argc, char **argv) {
  const char *file = NULL, *output = NULL, *id = NULL, *id_col = "id", *time_col = "mjd";
  const char *band_col = NULL, *title = NULL;
  char *ylist = NULL, *elist = NULL;
  st_plot_options po;
  st_plot_options_init(&po);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (!strcmp(a, "--magnitude")) { po.magnitude = true; continue; }
    if (strncmp(a, "--", 2)) {
      if (file) return cli_usage_error("plot: more than one input file ('%s', '%s')", file, a);
      file = a;
      continue;
    }
    if (i + 1 >= argc) return cli_usage_error("plot: %s needs a value", a);
    const char *v = argv[++i];
    char *end;
    if (!strcmp(a, "--output")) output = v;
    else if (!strcmp(a, "--id")) id = v;
    else if (!strcmp(a, "--id-column")) id_col = v;
    else if (!strcmp(a, "--time-column")) time_col = v;
    else if (!strcmp(a, "--y")) ylist = (char *)v;
    else if (!strcmp(a, "--err")) elist = (char *)v;
    else if (!strcmp(a, "--band-column")) band_col = v;
    else if (!strcmp(a, "--title")) title = v;
    else if (!strcmp(a, "--gap-days")) {
      po.gap_days = strtod(v, &end);
      if (end == v || *end || !isfinite(po.gap_days))
        return cli_usage_error("plot: --gap-days: expected a number, got '%s'", v);
    } else if (!strcmp(a, "--width") || !strcmp(a, "--height")) {
      long x = strtol(v, &end, 10);
      if (end == v || *end || x < 200 || x > 16384)
        return cli_usage_error("plot: %s: expected pixels in 200..16384, got '%s'", a, v);
      if (a[2] == 'w') po.width = (int)x;
      else po.height = (int)x;
    } else
      return cli_usage_error("plot: unknown option '%s' (see skytile plot --help)", a);
  }
  if (!file) return cli_usage_error("plot: no input file (see skytile plot --help)");
  if (!output) return cli_usage_error("plot: --output X.png is required");

  char ybuf[4096] = "flux", ebuf[4096] = "";
  if (ylist) snprintf(ybuf, sizeof ybuf, "%s", ylist);
  if (elist) snprintf(ebuf, sizeof ebuf, "%s", elist);
  const char *ys[MAX_COLS] = {0}, *es[MAX_COLS] = {0};
  int n_y = split_list(ybuf, ys);
  if (n_y < 0) return cli_usage_error("plot: --y: at most %d columns", MAX_COLS);
  if (elist) {
    const char *tmp[MAX_COLS];
    int ne = split_list(ebuf, tmp);
    if (ne != n_y) return cli_usage_error("plot: --err needs one entry per --y column (%d)", n_y);
    for (int s = 0; s < ne; s++) es[s] = (tmp[s][0] && strcmp(tmp[s], "-")) ? tmp[s] : NULL;
  }

  st_error err = {0};
  st_table *t = NULL, *sorted = NULL, *split = NULL;
  int64_t *idx = NULL, n = 0;
  double *tv = NULL;
  char **names = NULL;
  int n_names = 0, n_series = 0;
  const char **ycols = NULL, **ecols = NULL;
  int rc = st_input_read_table(file, NULL, &t, &err);
  if (!rc) rc = select_rows(t, id_col, id, &idx, &n, &err);
  if (!rc && !(tv = malloc((size_t)(t->n_rows ? t->n_rows : 1) * sizeof *tv))) {
    rc = err.code = ST_ERR_NOMEM;
    snprintf(err.msg, sizeof err.msg, "plot: out of memory");
  }
  if (!rc) rc = col_doubles(t, time_col, tv, &err);
  if (!rc) {
    g_sort_t = tv;
    if (n > 1) qsort(idx, (size_t)n, sizeof *idx, cmp_by_time);
    rc = st_table_take(t, idx, n, &sorted, &err);
  }
  if (!rc && n == 0)
    fprintf(stderr, "skytile: plot: warning: no rows%s%s%s%s in %s (writing an empty plot)\n",
            id ? " with " : "", id ? id_col : "", id ? " = " : "", id ? id : "", file);
  char tbuf[512];
  if (!title && id) {
    snprintf(tbuf, sizeof tbuf, "%s %s", id_col, id);
    title = tbuf;
  }
  po.title = title;
  po.time_column = time_col;
  if (!rc && band_col) {
    rc = split_bands(sorted, time_col, band_col, ys, es, n_y, &split, &names, &n_names, &ycols,
                     &ecols, &n_series, &err);
    if (!rc && n_series == 0) {
      /* no band values at all: plot the plain columns (empty) */
      po.y_columns = ys, po.err_columns = es, po.n_y = n_y;
      rc = st_plot_lightcurve(sorted, 0, -1, &po, output, &err);
    } else if (!rc) {
      po.y_columns = ycols, po.err_columns = ecols, po.n_y = n_series;
      po.y_label = n_y == 1 ? ys[0] : "value";
      rc = st_plot_lightcurve(split, 0, -1, &po, output, &err);
    }
  } else if (!rc) {
    po.y_columns = ys, po.err_columns = es, po.n_y = n_y;
    rc = st_plot_lightcurve(sorted, 0, -1, &po, output, &err);
  }
  for (int i = 0; i < n_names; i++) free(names[i]);
  free(names);
  free(ycols);
  free(ecols);
  free(tv);
  free(idx);
  st_table_free(split);
  st_table_free(sorted);
  st_table_free(t);
  st_plot_cleanup();
  if (rc) return cli_report(&err);
  return 0;
}
