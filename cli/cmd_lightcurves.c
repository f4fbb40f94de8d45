/*
** This file implements `skytile lightcurves`: the detections of a list of
** targets in one or more catalogs, grouped by target and sorted by time
** (st_lightcurves_run), written to a file, optionally plotted one PNG per
** target (st_plot_lightcurve).
**
** Flow: parse options; read the targets (CSV/Parquet/FITS through
** st_input_read_table); open every catalog (--catalog repeats and takes
** comma-separated lists; on up to 2 x --threads threads, one catalog each);
** run flat (nested when asked and not plotting, else
** nested afterwards with st_lightcurves_nest, which also gives the per-target
** row counts the plots need); close the catalogs on a thread of their own
** (freeing big _metadata takes a while) while the output is written
** atomically (Parquet through
** the writer, which renames into place; CSV/JSON Lines into a temporary file
** renamed at the end); plot; print a summary line to stderr.
**
** Plots: the rows of target g are rows [s_g, s_g + n_g) of the flat table
** (sorted by target then time).  With --band-column, every y (and err)
** column Y becomes one series per band value b, "Y [b]", holding Y where the
** band is b and null elsewhere (the plot skips nulls).  File names are the
** target ids with every byte outside [A-Za-z0-9._+-] replaced by '_' (a
** leading '.' too), made unique with "_2", "_3", ... suffixes.
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"

#define LC_MAX_CATALOGS 256
#define LC_MAX_BANDS 64

typedef struct lc_cli {
  const char *cats[LC_MAX_CATALOGS];
  int ncats;
  char *cat_store[LC_MAX_CATALOGS];  /* strdup'd comma lists (owned)      */
  int nstore;
  const char *targets, *time_col, *id_col, *tra, *tdec, *ra_col, *dec_col;
  const char *columns, *where, *output, *plot_dir, *plot_y, *plot_err, *band_col;
  double radius, gap_days;
  bool have_radius, nested, magnitude, explain;
  int threads;
} lc_cli;

static int usage(void) {
  fprintf(stderr,
          "usage: skytile lightcurves --catalog CAT[,CAT2...] --targets FILE --radius-arcsec R\n"
          "                           --time-column T --output FILE [options]\n"
          "\n"
          "The detections within R of each target in the catalogs (HATS, hive healpix_kN=\n"
          "datasets, Parquet; several are searched as one), sorted by target then time.\n"
          "\n"
          "  --catalog CAT[,CAT...]  catalog(s); the option may repeat\n"
          "  --targets FILE          targets (CSV, Parquet or FITS)\n"
          "  --radius-arcsec R       match radius\n"
          "  --time-column T         detection time column (e.g. mjd)\n"
          "  --id-column C           targets' id column (default id)\n"
          "  --target-ra C, --target-dec C   targets' position columns (default ra, dec)\n"
          "  --ra-column C, --dec-column C   catalogs' position columns (default:\n"
          "                          hats_col_ra/hats_col_dec, else ra, dec)\n"
          "  --columns a,b           detection columns (default all; time always kept)\n"
          "  --where EXPR            filter on detections, e.g. \"cc_flags == '0000'\"\n"
          "  --output FILE           .parquet, .csv or .jsonl (required)\n"
          "  --nested                one row per target, detections in lists (column lc)\n"
          "  --plot DIR              one PNG per target with detections: DIR/<id>.png\n"
          "  --plot-y a,b            plotted columns (default: float detection columns)\n"
          "  --plot-err a,b          their error columns (same count)\n"
          "  --band-column C         one series per value of C (e.g. band g/r)\n"
          "  --magnitude             invert the y axis\n"
          "  --gap-days D            split panels at gaps longer than D days (default 30)\n"
          "  --threads N             threads per catalog query and for the plots (default 1)\n"
          "  --explain               print the pruning statistics\n");
  return 0;
}

static void free_opts(lc_cli *o) {
  for (int i = 0; i < o->nstore; i++) free(o->cat_store[i]);
}

/* Split a comma list in place into v (at most cap names); returns the count or -1. */
static int split_list(char *s, const char **v, int cap) {
  int n = 0;
  for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) {
    while (*t == ' ') t++;
    size_t len = strlen(t);
    while (len && t[len - 1] == ' ') t[--len] = 0;
    if (!*t) continue;
    if (n >= cap) return -1;
    v[n++] = t;
  }
  return n;
}

static int parse_args(int argc, char **argv, lc_cli *o) {
  memset(o, 0, sizeof *o);
  o->gap_days = 30;
  o->threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) return -1;
    if (!strcmp(a, "--nested")) { o->nested = true; continue; }
    if (!strcmp(a, "--magnitude")) { o->magnitude = true; continue; }
    if (!strcmp(a, "--explain")) { o->explain = true; continue; }
    if (strncmp(a, "--", 2)) return cli_usage_error("lightcurves: unexpected argument '%s'", a);
    if (i + 1 >= argc) return cli_usage_error("lightcurves: option %s needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--catalog")) {
      if (o->nstore >= LC_MAX_CATALOGS) return cli_usage_error("lightcurves: too many --catalog options");
      char *s = strdup(v);
      if (!s) return cli_usage_error("lightcurves: out of memory");
      o->cat_store[o->nstore++] = s;
      int n = split_list(s, o->cats + o->ncats, LC_MAX_CATALOGS - o->ncats);
      if (n < 0) return cli_usage_error("lightcurves: too many catalogs (at most %d)", LC_MAX_CATALOGS);
      o->ncats += n;
    } else if (!strcmp(a, "--targets")) o->targets = v;
    else if (!strcmp(a, "--time-column")) o->time_col = v;
    else if (!strcmp(a, "--id-column")) o->id_col = v;
    else if (!strcmp(a, "--target-ra")) o->tra = v;
    else if (!strcmp(a, "--target-dec")) o->tdec = v;
    else if (!strcmp(a, "--ra-column")) o->ra_col = v;
    else if (!strcmp(a, "--dec-column")) o->dec_col = v;
    else if (!strcmp(a, "--columns")) o->columns = v;
    else if (!strcmp(a, "--where")) o->where = v;
    else if (!strcmp(a, "--output") || !strcmp(a, "-o")) o->output = v;
    else if (!strcmp(a, "--plot")) o->plot_dir = v;
    else if (!strcmp(a, "--plot-y")) o->plot_y = v;
    else if (!strcmp(a, "--plot-err")) o->plot_err = v;
    else if (!strcmp(a, "--band-column")) o->band_col = v;
    else if (!strcmp(a, "--radius-arcsec") || !strcmp(a, "--gap-days")) {
      char *end = NULL;
      errno = 0;
      double d = strtod(v, &end);
      if (end == v || *end || errno || !(d == d)) return cli_usage_error("lightcurves: %s '%s' is not a number", a, v);
      if (!strcmp(a, "--gap-days")) o->gap_days = d;
      else {
        if (!(d > 0) || d > 648000) return cli_usage_error("lightcurves: --radius-arcsec must be in (0, 648000]");
        o->radius = d;
        o->have_radius = true;
      }
    } else if (!strcmp(a, "--threads")) {
      char *end = NULL;
      errno = 0;
      long long n = strtoll(v, &end, 10);
      if (end == v || *end || errno || n < 0) return cli_usage_error("lightcurves: --threads '%s' is not a non-negative integer", v);
      o->threads = n > 256 ? 256 : n < 1 ? 1 : (int)n;
    } else return cli_usage_error("lightcurves: unknown option '%s'", a);
  }
  if (!o->ncats) return cli_usage_error("lightcurves: --catalog is required (see skytile lightcurves --help)");
  if (!o->targets) return cli_usage_error("lightcurves: --targets is required");
  if (!o->have_radius) return cli_usage_error("lightcurves: --radius-arcsec is required");
  if (!o->time_col) return cli_usage_error("lightcurves: --time-column is required");
  if (!o->output) return cli_usage_error("lightcurves: --output is required");
  if ((o->plot_y || o->plot_err || o->band_col || o->magnitude) && !o->plot_dir)
    return cli_usage_error("lightcurves: --plot-y/--plot-err/--band-column/--magnitude need --plot DIR");
  return 0;
}

/* Write t to path atomically (format by extension). */
static int write_output(const st_table *t, const char *path, st_error *err) {
  if (cli_ends_with(path, ".parquet") || cli_ends_with(path, ".parq") || cli_ends_with(path, ".pq"))
  {
    /* a light curve's values are mostly distinct (times, fluxes): a column
       whose first values are is written PLAIN at once (ids stay dictionary) */
    st_pq_write_options wo;
    st_pq_write_options_init(&wo);
    wo.dictionary_sample = true;
    return st_pq_write_table_path(path, t, &wo, err);
  }
  bool jsonl = cli_ends_with(path, ".jsonl") || cli_ends_with(path, ".ndjson");
  size_t len = strlen(path) + 64;
  char *tmp = malloc(len);
  if (!tmp) { err->code = ST_ERR_NOMEM; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); return err->code; }
  snprintf(tmp, len, "%s.tmp-skytile-%ld", path, (long)getpid());
  int rc = jsonl ? st_table_write_jsonl_path(t, tmp, false, err) : st_table_write_csv_path(t, tmp, true, false, err);
  if (!rc && rename(tmp, path)) {
    err->code = ST_ERR_IO;
    snprintf(err->msg, sizeof err->msg, "%s: cannot rename into place: %s", path, strerror(errno));
    rc = ST_ERR_IO;
  }
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

static int mkdir_p(const char *dir) {
  char *p = strdup(dir);
  if (!p) return -1;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0777) && errno != EEXIST) { free(p); return -1; }
    *s = '/';
  }
  int rc = mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
  free(p);
  return rc;
}

/* ---- plots ------------------------------------------------------------------- */

/* Set of file names already used (open addressing, power-of-two size). */
typedef struct name_set { char **slot; size_t cap, n; } name_set;

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* Insert s (copied) if absent: 1 inserted, 0 present, -1 out of memory. */
static int set_add(name_set *S, const char *s) {
  if ((S->n + 1) * 2 > S->cap) {
    size_t nc = S->cap ? S->cap * 2 : 64;
    char **ns = calloc(nc, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < S->cap; i++)
      if (S->slot[i]) {
        size_t j = fnv(S->slot[i]) & (nc - 1);
        while (ns[j]) j = (j + 1) & (nc - 1);
        ns[j] = S->slot[i];
      }
    free(S->slot);
    S->slot = ns;
    S->cap = nc;
  }
  size_t j = fnv(s) & (S->cap - 1);
  while (S->slot[j]) {
    if (!strcmp(S->slot[j], s)) return 0;
    j = (j + 1) & (S->cap - 1);
  }
  if (!(S->slot[j] = strdup(s))) return -1;
  S->n++;
  return 1;
}

static void set_free(name_set *S) {
  for (size_t i = 0; i < S->cap; i++) free(S->slot[i]);
  free(S->slot);
}

/* The file name stem for an id text: safe bytes kept, others '_'. */
static void sanitize(const char *id, char *out, size_t cap) {
  size_t n = 0;
  for (const char *s = id; *s && n + 1 < cap && n < 180; s++) {
    unsigned char c = (unsigned char)*s;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '+' || c == '-';
    out[n++] = ok ? (char)c : '_';
  }
  out[n] = 0;
  if (!n) snprintf(out, cap, "_");
  else if (out[0] == '.') out[0] = '_';
}

static double value_at(const st_field *f, const st_array *a, int64_t i) {
  if (!st_array_is_valid(a, i)) return NAN;
  int64_t j = a->offset + i;
  switch (f->type) {
  case ST_T_DOUBLE: return ((const double *)a->buf[1])[j];
  case ST_T_FLOAT: return ((const float *)a->buf[1])[j];
  case ST_T_INT8: return ((const int8_t *)a->buf[1])[j];
  case ST_T_INT16: return ((const int16_t *)a->buf[1])[j];
  case ST_T_INT32: return ((const int32_t *)a->buf[1])[j];
  case ST_T_INT64: return (double)((const int64_t *)a->buf[1])[j];
  case ST_T_UINT8: return ((const uint8_t *)a->buf[1])[j];
  case ST_T_UINT16: return ((const uint16_t *)a->buf[1])[j];
  case ST_T_UINT32: return ((const uint32_t *)a->buf[1])[j];
  case ST_T_UINT64: return (double)((const uint64_t *)a->buf[1])[j];
  default: return NAN;
  }
}

static bool is_numeric(const st_field *f) {
  return !f->dict_encoded && f->type >= ST_T_INT8 && f->type <= ST_T_DOUBLE && f->type != ST_T_FLOAT16;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Table for the per-band plots: time column, then "Y [b]" (and "E [b]") per
   y column and band.  names_y/names_e receive the new column names. */
static int band_table(const st_table *F, const lc_cli *o, const char **ys, const char **es, int ny, st_table **out,
                      char ***names_y, char ***names_e, int *nseries, st_error *err) {
  int bc = st_table_column_index(F, o->band_col), tc = st_table_column_index(F, o->time_col);
  if (bc < 0) { err->code = ST_ERR_NOTFOUND; snprintf(err->msg, sizeof err->msg, "lightcurves: --band-column '%s' is not an output column (add it to --columns)", o->band_col); return err->code; }
  int64_t n = F->n_rows;
  char *bands[LC_MAX_BANDS];
  int nb = 0, rc = 0;
  int *bidx = malloc(((size_t)n + 1) * sizeof *bidx);   /* band of each row (-1: null) */
  double *vals = malloc(((size_t)n + 1) * sizeof *vals);
  uint8_t *valid = malloc((size_t)n + 1);
  st_text tx = {0};
  st_field *fields = NULL;
  st_array **cols = NULL;
  int ncol = 0;
  if (!bidx || !vals || !valid) { rc = ST_ERR_NOMEM; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); err->code = rc; goto done; }
  for (int64_t i = 0; i < n && !rc; i++) {
    if (!st_array_is_valid(F->columns[bc], i)) { bidx[i] = -1; continue; }
    tx.len = 0;
    if ((rc = st_format_value(&F->schema.children[bc], F->columns[bc], i, ST_FMT_TEXT, &tx, err))) break;
    const char *s = tx.data ? tx.data : "";
    int b = 0;
    while (b < nb && strcmp(bands[b], s)) b++;
    if (b == nb) {
      if (nb >= LC_MAX_BANDS) { rc = ST_ERR_LIMIT; err->code = rc; snprintf(err->msg, sizeof err->msg, "lightcurves: --band-column '%s' has more than %d values", o->band_col, LC_MAX_BANDS); break; }
      if (!(bands[nb++] = strdup(s))) { rc = ST_ERR_NOMEM; err->code = rc; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); nb--; break; }
    }
    bidx[i] = b;
  }
  if (rc) goto done;
  /* bands sorted: renumber rows */
  {
    char *sorted[LC_MAX_BANDS];
    int map[LC_MAX_BANDS];
    memcpy(sorted, bands, (size_t)nb * sizeof *sorted);
    qsort(sorted, (size_t)nb, sizeof *sorted, cmp_str);
    for (int b = 0; b < nb; b++)
      for (int k = 0; k < nb; k++)
        if (sorted[k] == bands[b]) map[b] = k;
    memcpy(bands, sorted, (size_t)nb * sizeof *bands);
    for (int64_t i = 0; i < n; i++) if (bidx[i] >= 0) bidx[i] = map[bidx[i]];
  }
  int nser = ny * nb;
  int maxc = 1 + 2 * nser;
  fields = calloc((size_t)maxc + 1, sizeof *fields);
  cols = calloc((size_t)maxc + 1, sizeof *cols);
  *names_y = calloc((size_t)nser + 1, sizeof **names_y);
  *names_e = calloc((size_t)nser + 1, sizeof **names_e);
  if (!fields || !cols || !*names_y || !*names_e) { rc = ST_ERR_NOMEM; err->code = rc; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); goto done; }
  if ((rc = st_field_copy(&fields[0], &F->schema.children[tc]))) { err->code = rc; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); goto done; }
  ncol = 1;
  if ((rc = st_array_slice(F->columns[tc], 0, n, &cols[0], err))) goto done;
  int s = 0;
  for (int y = 0; y < ny && !rc; y++)
    for (int b = 0; b < nb && !rc; b++, s++) {
      for (int pass = 0; pass < 2 && !rc; pass++) {
        const char *src = pass ? (es ? es[y] : NULL) : ys[y];
        if (!src) continue;
        int c = st_table_column_index(F, src);
        const st_field *f = &F->schema.children[c];
        for (int64_t i = 0; i < n; i++) {
          vals[i] = bidx[i] == b ? value_at(f, F->columns[c], i) : NAN;
          valid[i] = vals[i] == vals[i];
        }
        size_t len = strlen(src) + strlen(bands[b]) + 8;
        char *nm = malloc(len);
        if (!nm) { rc = ST_ERR_NOMEM; err->code = rc; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); break; }
        snprintf(nm, len, "%s [%s]", src, bands[b]);
        (pass ? *names_e : *names_y)[s] = nm;
        if (st_field_init(&fields[ncol], nm, ST_T_DOUBLE, true)) { rc = ST_ERR_NOMEM; err->code = rc; snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory"); break; }
        ncol++;
        st_builder *bld = NULL;
        if (!(rc = st_builder_new(&fields[ncol - 1], &bld, err)) && n) rc = st_builder_append_values(bld, vals, n, valid, err);
        if (!rc) rc = st_builder_finish(bld, &cols[ncol - 1], err);
        st_builder_free(bld);
      }
    }
  if (rc) goto done;
  *nseries = nser;
  rc = st_table_new(fields, cols, ncol, n, NULL, out, err);
  memset(cols, 0, (size_t)maxc * sizeof *cols);
done:
  if (cols) for (int i = 0; i < maxc; i++) st_array_free(cols[i]);
  if (fields) for (int i = 0; i < ncol; i++) st_field_clear(&fields[i]);
  free(fields); free(cols);
  for (int b = 0; b < nb; b++) free(bands[b]);
  free(bidx); free(vals); free(valid);
  st_text_free(&tx);
  return rc;
}

/* The plots to draw: shared by the plotting threads (each takes the next
   index from `next`; the first error is kept). */
typedef struct plot_jobs {
  const st_table *t;             /* table plotted (flat or per-band)         */
  const st_plot_options *po;     /* shared options (title set per plot)      */
  char **paths, **titles;        /* per target                               */
  int64_t *row0;                 /* first row of each target                 */
  const int64_t *cnt;            /* its rows                                 */
  int64_t n;                     /* targets                                  */
  atomic_llong next;
  atomic_int failed;
  pthread_mutex_t lock;
  st_error err;                  /* first error                              */
} plot_jobs;

static void *plot_worker(void *arg) {
  plot_jobs *J = arg;
  st_plot_options po = *J->po;
  for (;;) {
    if (atomic_load(&J->failed)) break;
    long long g = atomic_fetch_add(&J->next, 1);
    if (g >= J->n) break;
    st_error e = {0};
    po.title = J->titles[g];
    if (st_plot_lightcurve(J->t, J->row0[g], J->cnt[g], &po, J->paths[g], &e)) {
      pthread_mutex_lock(&J->lock);
      if (!atomic_load(&J->failed)) { J->err = e; atomic_store(&J->failed, 1); }
      pthread_mutex_unlock(&J->lock);
      break;
    }
  }
  return NULL;
}

/* One PNG per target of the flat table F; nested N gives ids and counts. */
static int make_plots(const lc_cli *o, const st_table *F, const st_table *N, int *nplots, st_error *err) {
  const char *ys[256], *es[256];
  int ny = 0, ne = 0, rc = 0;
  char *ybuf = o->plot_y ? strdup(o->plot_y) : NULL, *ebuf = o->plot_err ? strdup(o->plot_err) : NULL;
  st_table *B = NULL;
  char **bny = NULL, **bne = NULL;
  int nser = 0;
  st_text tx = {0};
  name_set S = {0};
  plot_jobs jobs;
  memset(&jobs, 0, sizeof jobs);
  if ((o->plot_y && !ybuf) || (o->plot_err && !ebuf)) goto oom;
  if (ybuf) ny = split_list(ybuf, ys, 256);
  else {
    /* default: float/double detection columns other than time, positions and distance */
    for (int c = 3; c < F->n_columns && ny < 256; c++) {
      const st_field *f = &F->schema.children[c];
      const char *nm = f->name;
      if ((f->type != ST_T_DOUBLE && f->type != ST_T_FLOAT) || f->dict_encoded) continue;
      if (!strcmp(nm, o->time_col) || !strcmp(nm, "_dist_arcsec") || !strcmp(nm, o->ra_col ? o->ra_col : "ra") ||
          !strcmp(nm, o->dec_col ? o->dec_col : "dec") || !strcmp(nm, "ra") || !strcmp(nm, "dec"))
        continue;
      ys[ny++] = nm;
    }
  }
  if (ebuf) ne = split_list(ebuf, es, 256);
  if (ny <= 0) { err->code = ST_ERR_INVALID; snprintf(err->msg, sizeof err->msg, "lightcurves: no column to plot (give --plot-y)"); rc = err->code; goto done; }
  if (ebuf && ne != ny) { err->code = ST_ERR_INVALID; snprintf(err->msg, sizeof err->msg, "lightcurves: --plot-err names %d columns, --plot-y %d", ne, ny); rc = err->code; goto done; }
  for (int i = 0; i < ny + ne; i++) {
    const char *nm = i < ny ? ys[i] : es[i - ny];
    int c = st_table_column_index(F, nm);
    if (c < 0 || !is_numeric(&F->schema.children[c])) {
      err->code = ST_ERR_INVALID;
      snprintf(err->msg, sizeof err->msg, "lightcurves: plot column '%s' is %s", nm, c < 0 ? "not an output column" : "not numeric");
      rc = err->code;
      goto done;
    }
  }
  if (mkdir_p(o->plot_dir)) {
    err->code = ST_ERR_IO;
    snprintf(err->msg, sizeof err->msg, "%s: cannot create directory: %s", o->plot_dir, strerror(errno));
    rc = err->code;
    goto done;
  }
  st_plot_options po;
  st_plot_options_init(&po);
  po.time_column = o->time_col;
  po.gap_days = o->gap_days;
  po.magnitude = o->magnitude;
  const st_table *T = F;
  if (o->band_col) {
    if ((rc = band_table(F, o, ys, ne ? es : NULL, ny, &B, &bny, &bne, &nser, err))) goto done;
    T = B;
    po.y_columns = (const char *const *)bny;
    po.err_columns = ne ? (const char *const *)bne : NULL;
    po.n_y = nser;
    if (ny == 1) po.y_label = ys[0];
  } else {
    po.y_columns = ys;
    po.err_columns = ne ? es : NULL;
    po.n_y = ny;
  }
  if (!po.n_y) goto done;   /* no rows with a band: nothing to plot */
  size_t cap = strlen(o->plot_dir) + 256;
  int64_t ng = N->n_rows;
  jobs.paths = calloc((size_t)ng + 1, sizeof *jobs.paths);
  jobs.titles = calloc((size_t)ng + 1, sizeof *jobs.titles);
  jobs.row0 = malloc(((size_t)ng + 1) * sizeof *jobs.row0);
  if (!jobs.paths || !jobs.titles || !jobs.row0) goto oom;
  jobs.n = ng;
  const st_array *na = N->columns[3];
  jobs.cnt = (const int64_t *)na->buf[1] + na->offset;
  /* names and titles first (sequential: unique names do not depend on threads) */
  int64_t row0 = 0;
  for (int64_t g = 0; g < ng; g++) {
    tx.len = 0;
    if ((rc = st_format_value(&N->schema.children[0], N->columns[0], g, ST_FMT_TEXT, &tx, err))) goto done;
    const char *id = tx.len ? tx.data : "null";
    char stem[200], uniq[240];
    sanitize(id, stem, sizeof stem);
    snprintf(uniq, sizeof uniq, "%s", stem);
    for (int k = 2;; k++) {
      int r = set_add(&S, uniq);
      if (r < 0) goto oom;
      if (r) break;
      snprintf(uniq, sizeof uniq, "%s_%d", stem, k);
    }
    if (!(jobs.paths[g] = malloc(cap)) || !(jobs.titles[g] = malloc(512))) goto oom;
    snprintf(jobs.paths[g], cap, "%s/%s.png", o->plot_dir, uniq);
    snprintf(jobs.titles[g], 512, "%.400s (%lld point%s)", id, (long long)jobs.cnt[g], jobs.cnt[g] == 1 ? "" : "s");
    jobs.row0[g] = row0;
    row0 += jobs.cnt[g];
  }
  /* then the plots, on o->threads threads */
  jobs.t = T;
  jobs.po = &po;
  atomic_init(&jobs.next, 0);
  atomic_init(&jobs.failed, 0);
  pthread_mutex_init(&jobs.lock, NULL);
  int nt = o->threads < 1 ? 1 : o->threads;
  if (nt > ng) nt = (int)ng;
  pthread_t th[256];
  int started = 0;
  for (; started < nt - 1 && started < 256; started++)
    if (pthread_create(&th[started], NULL, plot_worker, &jobs)) break;
  plot_worker(&jobs);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&jobs.lock);
  if (atomic_load(&jobs.failed)) { *err = jobs.err; rc = err->code ? err->code : ST_ERR_IO; goto done; }
  *nplots = (int)ng;
  goto done;
oom:
  err->code = rc = ST_ERR_NOMEM;
  snprintf(err->msg, sizeof err->msg, "lightcurves: out of memory");
done:
  free(ybuf); free(ebuf);
  if (jobs.paths) for (int64_t g = 0; g < jobs.n; g++) free(jobs.paths[g]);
  if (jobs.titles) for (int64_t g = 0; g < jobs.n; g++) free(jobs.titles[g]);
  free(jobs.paths); free(jobs.titles); free(jobs.row0);
  st_table_free(B);
  if (bny) for (int i = 0; i < nser; i++) free(bny[i]);
  if (bne) for (int i = 0; i < nser; i++) free(bne[i]);
  free(bny); free(bne);
  st_text_free(&tx);
  set_free(&S);
  return rc;
}

static void human(int64_t b, char *out, size_t cap) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int k = 0;
  while (v >= 1024 && k < 4) { v /= 1024; k++; }
  if (k == 0) snprintf(out, cap, "%lld B", (long long)b);
  else snprintf(out, cap, "%.1f %s", v, u[k]);
}


/* Opening (and closing) several catalogs parses (frees) one big _metadata
** each: do them on up to `threads` threads, keeping the first error. */
typedef struct {
  const char *const *paths;
  st_catalog **cats;
  int n, next, rc, close;
  st_error err;
  pthread_mutex_t lock;
} cat_jobs;

static void *cat_worker(void *arg) {
  cat_jobs *J = arg;
  for (;;) {
    pthread_mutex_lock(&J->lock);
    int i = J->next < J->n && (J->close || !J->rc) ? J->next++ : -1;
    pthread_mutex_unlock(&J->lock);
    if (i < 0) return NULL;
    if (J->close) {
      st_catalog_close(J->cats[i]);
      J->cats[i] = NULL;
      continue;
    }
    st_error e = {0};
    int rc = st_catalog_open(J->paths[i], NULL, &J->cats[i], &e);
    if (rc) {
      pthread_mutex_lock(&J->lock);
      if (!J->rc) J->rc = rc, J->err = e;
      pthread_mutex_unlock(&J->lock);
    }
  }
}

/* Open (close = 0) or close (close = 1) cats[0..n) on up to `threads`
   threads (2 x threads when that covers all of them: three catalogs on two
   cores then take 1.5 rounds, not 2). */
static int cats_parallel(const char *const *paths, st_catalog **cats, int n, int threads, int close,
                         st_error *err) {
  cat_jobs J = {.paths = paths, .cats = cats, .n = n, .close = close};
  pthread_mutex_init(&J.lock, NULL);
  pthread_t th[LC_MAX_CATALOGS];
  int nt = threads > 0 ? threads : 1, started = 0;
  if (nt > 1 && n <= 2 * nt) nt = n;
  if (nt > n) nt = n;
  for (int t = 1; t < nt; t++) {
    if (pthread_create(&th[started], NULL, cat_worker, &J)) break;
    started++;
  }
  cat_worker(&J);
  for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
  pthread_mutex_destroy(&J.lock);
  if (J.rc) *err = J.err;
  return J.rc;
}

/* Closing the catalogs (freeing their metadata) on a thread of its own
   while the output is written. */
typedef struct bg_close {
  const char *const *paths;
  st_catalog **cats;
  int n, threads;
} bg_close;

static void *bg_close_main(void *arg) {
  bg_close *B = arg;
  st_error e = {0};
  cats_parallel(B->paths, B->cats, B->n, B->threads, 1, &e);
  return NULL;
}

int cmd_lightcurves(int argc, char **argv) {
  lc_cli o;
  int prc = parse_args(argc, argv, &o);
  if (prc < 0) { free_opts(&o); return usage(); }
  if (prc) { free_opts(&o); return prc; }
  st_error err = {0};
  st_table *targets = NULL, *flat = NULL, *nested = NULL;
  st_catalog *cats[LC_MAX_CATALOGS] = {0};
  const char *cols[4096];
  char *colbuf = NULL;
  int ncols = 0, rc = 0, nplots = 0;
  st_lc_stats st;
  memset(&st, 0, sizeof st);
  bg_close bg;
  pthread_t bg_th;
  bool bg_started = false;
  if (o.columns) {
    colbuf = strdup(o.columns);
    ncols = colbuf ? split_list(colbuf, cols, 4096) : -1;
    if (ncols < 0) { free_opts(&o); free(colbuf); return cli_usage_error("lightcurves: bad --columns"); }
  }
  st_input_options io;
  st_input_options_init(&io);
  if ((rc = st_input_read_table(o.targets, &io, &targets, &err))) goto fail;
  if ((rc = cats_parallel(o.cats, cats, o.ncats, o.threads, 0, &err))) goto fail;
  st_lc_options lo;
  st_lc_options_init(&lo);
  lo.radius_arcsec = o.radius;
  lo.time_column = o.time_col;
  if (o.id_col) lo.id_column = o.id_col;
  if (o.tra) lo.target_ra_column = o.tra;
  if (o.tdec) lo.target_dec_column = o.tdec;
  lo.catalog_ra_column = o.ra_col;
  lo.catalog_dec_column = o.dec_col;
  lo.columns = ncols ? cols : NULL;
  lo.n_columns = ncols;
  lo.where = o.where;
  lo.threads = o.threads;
  lo.nested = o.nested && !o.plot_dir;
  if ((rc = st_lightcurves_run((const st_catalog *const *)cats, o.ncats, targets, &lo, &flat, &st, &err))) goto fail;
  /* the catalogs are no longer needed (the result holds its own data) */
  bg = (bg_close){o.cats, cats, o.ncats, o.threads};
  bg_started = o.threads > 1 && !pthread_create(&bg_th, NULL, bg_close_main, &bg);
  if (o.plot_dir) {
    if ((rc = st_lightcurves_nest(flat, &nested, &err))) goto fail;
    if ((rc = write_output(o.nested ? nested : flat, o.output, &err))) goto fail;
    if ((rc = make_plots(&o, flat, nested, &nplots, &err))) goto fail;
  } else if ((rc = write_output(flat, o.output, &err))) goto fail;
  char br[32], bt[32];
  human(st.bytes_read, br, sizeof br);
  human(st.bytes_total, bt, sizeof bt);
  fprintf(stderr,
          "lightcurves: %lld targets, %lld with detections, %lld detections; read %s of %s "
          "(%lld of %lld row groups, %lld of %lld rows) from %d catalog%s",
          (long long)st.targets, (long long)st.targets_matched, (long long)st.detections, br, bt,
          (long long)st.row_groups_read, (long long)st.row_groups_total, (long long)st.rows_read,
          (long long)st.rows_total, o.ncats, o.ncats == 1 ? "" : "s");
  if (o.plot_dir) fprintf(stderr, "; %d plot%s in %s", nplots, nplots == 1 ? "" : "s", o.plot_dir);
  fprintf(stderr, "\n");
  if (o.explain)
    fprintf(stderr,
            "lightcurves: cells %lld at order %d; partitions %d of %d meet them, files opened %d\n"
            "lightcurves: row groups %lld of %lld read; bytes %lld of %lld read\n"
            "lightcurves: rows %lld read of %lld, %lld inside the cells, %lld detections\n",
            (long long)st.cells, st.cell_order, st.partitions_read, st.partitions_total, st.files_opened,
            (long long)st.row_groups_read, (long long)st.row_groups_total, (long long)st.bytes_read,
            (long long)st.bytes_total, (long long)st.rows_read, (long long)st.rows_total,
            (long long)st.rows_candidate, (long long)st.detections);
  goto out;
fail:
  cli_report(&err);
  rc = 1;
out:
  if (o.plot_dir) st_plot_cleanup();   /* cairo/fontconfig caches (quiet leak checkers) */
  st_table_free(targets);
  st_table_free(flat);
  st_table_free(nested);
  if (bg_started) pthread_join(bg_th, NULL);
  else cats_parallel(o.cats, cats, o.ncats, o.threads, 1, &err);
  free(colbuf);
  free_opts(&o);
  return rc ? 1 : 0;
}
