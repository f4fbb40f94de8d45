/*
** This file implements st_query: region searches and filtered scans over an
** st_catalog (semantics in include/skytile/query.h).
**
** Run:
**   1. resolve the output, ra/dec, where and _healpix_29 columns by name
**      against the catalog schema (the "needed" set, in schema order);
**   2. build the region MOC at an order chosen from the region's area
**      (~256 cells), keep partitions whose cell meets it, sorted by the
**      start of their order-29 range (= _healpix_29 order); a partition of
**      more than batch_rows rows is cut into units of whole row groups when
**      its row-group statistics show that this keeps the order (see
**      plan_partition), else it is one unit;
**   3. workers (pthreads) take units in order from a shared counter,
**      at most `window` (2 x threads) ahead of the partition being delivered;
**      per leaf file the row groups are pruned on _healpix_29 min/max
**      against the MOC ranges and on the where statistics (from _metadata
**      when it lists the file, so a file with no surviving row group is never
**      opened); the surviving row groups are read with the needed columns:
**      first the filter columns (ra/dec of the region, where columns), the
**      other needed columns only when some row of the file matched (late
**      materialisation: a small cone usually reads one row group of which
**      no row matches);
**   4. exact tests: region on ra/dec arrays, where into a byte mask; the
**      selected rows are gathered (st_table_take), stably sorted by
**      _healpix_29 when present, and projected to the output columns;
**   5. the calling thread delivers partition results in partition order to
**      the batch callback (st_query_run_stream), cutting at the limit and
**      then stopping the workers; st_query_run collects the batches and
**      concatenates them.  With one thread the partitions are read and
**      delivered one by one on the calling thread.
** Each partition's result is stored in its slot, so the output does not
** depend on the thread count.
*/
#include "skytile/query.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "query/expr.h"
#include "util/err.h"

#define DEG2RAD (M_PI / 180.0)
#define ST_QUERY_MAX_COLS 100000

typedef enum { R_NONE, R_CONE, R_BOX, R_POLY, R_PIXELS } region_kind;

struct st_query {
  region_kind region;
  double ra, dec, radius;            /* cone (degrees)                       */
  double ra_lo, ra_hi, dec_lo, dec_hi; /* box (ra reduced mod 360)           */
  double *pra, *pdec; int np;        /* polygon vertices                     */
  int pix_order; int64_t *pix; int npix; /* pixels (sorted)                 */
  st_expr *where;
  char **cols; int ncols;            /* requested output columns             */
  char *ra_col, *dec_col;            /* overrides                            */
  int64_t limit;
  int threads;
  int64_t batch_rows;                /* split partitions above this many rows */
};

/* Python's float % 360 as numpy/LSDB compute it: sign of the divisor, +0 for
   zero; a tiny negative x rounds to 360.0 exactly as in Python. */
static double mod360(double x) {
  double r = fmod(x, 360.0);
  if (r != 0 && r < 0) r += 360.0;
  if (r == 0) r = 0.0;
  return r;
}

int st_query_new(st_query **out, st_error *err) {
  st_query *q = calloc(1, sizeof *q);
  if (!q) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
  q->limit = -1;
  q->threads = 1;
  q->batch_rows = 1 << 20;
  *out = q;
  return 0;
}

static void clear_region(st_query *q) {
  free(q->pra); free(q->pdec); free(q->pix);
  q->pra = q->pdec = NULL; q->pix = NULL; q->np = q->npix = 0;
  q->region = R_NONE;
}

void st_query_free(st_query *q) {
  if (!q) return;
  clear_region(q);
  st_expr_free(q->where);
  for (int i = 0; i < q->ncols; i++) free(q->cols[i]);
  free(q->cols);
  free(q->ra_col); free(q->dec_col);
  free(q);
}

int st_query_set_cone(st_query *q, double ra, double dec, double radius_deg, st_error *err) {
  ST_CHECK(isfinite(ra) && isfinite(dec) && dec >= -90 && dec <= 90, err, ST_ERR_INVALID,
           "cone: centre (%g, %g) is not a valid position", ra, dec);
  ST_CHECK(isfinite(radius_deg) && radius_deg >= 0 && radius_deg <= 180, err, ST_ERR_INVALID,
           "cone: radius %g degrees is not in [0, 180]", radius_deg);
  clear_region(q);
  q->region = R_CONE; q->ra = ra; q->dec = dec; q->radius = radius_deg;
  return 0;
}

int st_query_set_box(st_query *q, double ra_lo, double ra_hi, double dec_lo, double dec_hi,
                     st_error *err) {
  ST_CHECK(isfinite(ra_lo) && isfinite(ra_hi), err, ST_ERR_INVALID, "box: RA bounds must be finite");
  ST_CHECK(isfinite(dec_lo) && isfinite(dec_hi) && dec_lo >= -90 && dec_hi <= 90 && dec_lo < dec_hi,
           err, ST_ERR_INVALID, "box: Dec range [%g, %g] must satisfy -90 <= lo < hi <= 90", dec_lo, dec_hi);
  clear_region(q);
  q->region = R_BOX;
  q->ra_lo = mod360(ra_lo); q->ra_hi = mod360(ra_hi);
  q->dec_lo = dec_lo; q->dec_hi = dec_hi;
  return 0;
}

int st_query_set_polygon(st_query *q, const double *ra, const double *dec, int n, st_error *err) {
  ST_CHECK(n >= 3 && n <= 100000, err, ST_ERR_INVALID, "polygon: needs 3 or more vertices (got %d)", n);
  for (int i = 0; i < n; i++)
    ST_CHECK(isfinite(ra[i]) && isfinite(dec[i]) && dec[i] >= -90 && dec[i] <= 90, err, ST_ERR_INVALID,
             "polygon: vertex %d (%g, %g) is not a valid position", i + 1, ra[i], dec[i]);
  st_moc m; st_moc_init(&m, 0);
  int rc = st_hpx_polygon_moc(0, ra, dec, n, &m, err);   /* validates convexity */
  st_moc_free(&m);
  if (rc) return rc;
  clear_region(q);
  q->pra = malloc((size_t)n * sizeof(double));
  q->pdec = malloc((size_t)n * sizeof(double));
  if (!q->pra || !q->pdec) { clear_region(q); return st_fail(err, ST_ERR_NOMEM, "query: out of memory"); }
  memcpy(q->pra, ra, (size_t)n * sizeof(double));
  memcpy(q->pdec, dec, (size_t)n * sizeof(double));
  q->np = n;
  q->region = R_POLY;
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int st_query_set_pixels(st_query *q, int order, const int64_t *pix, int n, st_error *err) {
  ST_CHECK(order >= 0 && order <= 29, err, ST_ERR_INVALID, "pixels: order %d is not in 0..29", order);
  ST_CHECK(n >= 1, err, ST_ERR_INVALID, "pixels: give at least one pixel");
  int64_t np = st_hpx_npix(order);
  for (int i = 0; i < n; i++)
    ST_CHECK(pix[i] >= 0 && pix[i] < np, err, ST_ERR_INVALID, "pixels: pixel %lld is not in [0, %lld) at order %d",
             (long long)pix[i], (long long)np, order);
  clear_region(q);
  q->pix = malloc((size_t)n * sizeof(int64_t));
  if (!q->pix) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
  memcpy(q->pix, pix, (size_t)n * sizeof(int64_t));
  qsort(q->pix, (size_t)n, sizeof(int64_t), cmp_i64);
  q->npix = n; q->pix_order = order; q->region = R_PIXELS;
  return 0;
}

int st_query_set_where(st_query *q, const char *expr, st_error *err) {
  st_expr *e = NULL;
  if (expr && *expr) ST_TRY(st_expr_parse(expr, &e, err));
  st_expr_free(q->where);
  q->where = e;
  return 0;
}

int st_query_set_columns(st_query *q, const char *const *names, int n, st_error *err) {
  ST_CHECK(n >= 0 && n <= ST_QUERY_MAX_COLS, err, ST_ERR_INVALID, "columns: too many");
  char **c = n ? calloc((size_t)n, sizeof *c) : NULL;
  if (n && !c) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
  for (int i = 0; i < n; i++)
    if (!(c[i] = strdup(names[i]))) {
      for (int j = 0; j < i; j++) free(c[j]);
      free(c);
      return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
    }
  for (int i = 0; i < q->ncols; i++) free(q->cols[i]);
  free(q->cols);
  q->cols = c; q->ncols = n;
  return 0;
}

int st_query_set_radec_columns(st_query *q, const char *ra, const char *dec, st_error *err) {
  char *a = ra ? strdup(ra) : NULL, *d = dec ? strdup(dec) : NULL;
  if ((ra && !a) || (dec && !d)) { free(a); free(d); return st_fail(err, ST_ERR_NOMEM, "query: out of memory"); }
  free(q->ra_col); free(q->dec_col);
  q->ra_col = a; q->dec_col = d;
  return 0;
}

void st_query_set_limit(st_query *q, int64_t limit) { q->limit = limit; }
void st_query_set_threads(st_query *q, int threads) { q->threads = threads > 0 ? threads : 1; }
void st_query_set_batch_rows(st_query *q, int64_t rows) { q->batch_rows = rows > 0 ? rows : 1 << 20; }

/* ---- run state -------------------------------------------------------------- */

/* A unit of work and of output: a whole partition (file < 0), or row groups
   [rg_lo, rg_hi) of one of its files (a big partition split in batches). */
typedef struct unit { int part; int file; int rg_lo, rg_hi; } unit;

typedef struct run {
  const st_query *q;
  const st_catalog *c;
  const st_field *schema;
  char **need; int nneed;            /* needed column names                  */
  bool *is_filt;                     /* per need: ra/dec of the region or a  */
                                     /* where column (read first)            */
  const char *ra_name, *dec_name;
  bool has_h29;
  st_moc moc;                        /* region MOC (R_NONE: unused)          */
  double cone_thr, cone_cosd, cone_ra, cone_dec; /* cone constants (rad)     */
  double (*edges)[3]; double psign;  /* polygon edge normals, orientation    */
  double *pc_ra, *pc_dec; int64_t npc; /* R_PIXELS: pixel centres by Dec     */
  double pc_rad;                     /* their max pixel radius (deg, padded) */
  unit *parts; int nparts;           /* work units (partitions or pieces of  */
                                     /* one), in output order                */
  /* the fields below are guarded by lock */
  st_table **results;                /* per part: finished, not yet emitted  */
  bool *finished;                    /* per part                             */
  int next;                          /* next part a worker takes             */
  int emitted;                       /* parts [0, emitted) were delivered    */
  int window;                        /* parts taken at most ahead of emitted */
  bool failed, stop;                 /* a worker failed / the emitter ended  */
  pthread_mutex_t lock;
  pthread_cond_t ready;              /* a part finished (or a worker failed) */
  pthread_cond_t space;              /* emitted advanced (or stop)           */
  st_error err;                      /* first worker error                   */
  st_query_stats stats;
} run;

static int add_need(run *R, const char *name) {
  for (int i = 0; i < R->nneed; i++) if (!strcmp(R->need[i], name)) return 0;
  char **n = realloc(R->need, (size_t)(R->nneed + 1) * sizeof *n);
  if (!n) return ST_ERR_NOMEM;
  R->need = n;
  if (!(R->need[R->nneed] = strdup(name))) return ST_ERR_NOMEM;
  R->nneed++;
  return 0;
}

static int schema_has(const st_field *s, const char *name) {
  for (int i = 0; i < s->n_children; i++) if (!strcmp(s->children[i].name, name)) return i;
  return -1;
}

static int need_cb(const char *name, void *ctx) {
  run *R = ctx;
  if (schema_has(R->schema, name) < 0) return st_fail(&R->err, ST_ERR_NOTFOUND, "where: no column '%s'", name);
  return add_need(R, name) ? st_fail(&R->err, ST_ERR_NOMEM, "query: out of memory") : 0;
}

static int filt_cb(const char *name, void *arg) {
  run *R = arg;
  for (int k = 0; k < R->nneed; k++) if (!strcmp(R->need[k], name)) R->is_filt[k] = true;
  return 0;
}

/* Region area in steradians (a bound for polygons). */
static double region_area(const st_query *q) {
  switch (q->region) {
  case R_CONE: return 2 * M_PI * (1 - cos(q->radius * DEG2RAD));
  case R_BOX: {
    double span = q->ra_lo == q->ra_hi ? 360 : mod360(q->ra_hi - q->ra_lo);
    return span * DEG2RAD * (sin(q->dec_hi * DEG2RAD) - sin(q->dec_lo * DEG2RAD));
  }
  case R_POLY: {
    double c[3] = {0, 0, 0}, v[3], r = 0;
    for (int i = 0; i < q->np; i++) { st_hpx_ang2vec(q->pra[i], q->pdec[i], v); c[0] += v[0]; c[1] += v[1]; c[2] += v[2]; }
    for (int i = 0; i < q->np; i++) { st_hpx_ang2vec(q->pra[i], q->pdec[i], v); double a = st_hpx_vec_angle(c, v); if (a > r) r = a; }
    return 2 * M_PI * (1 - cos(r));
  }
  default: return 4 * M_PI;
  }
}

static int build_moc(run *R, st_error *err) {
  const st_query *q = R->q;
  if (q->region == R_PIXELS) {
    int *ord = malloc((size_t)q->npix * sizeof(int));
    if (!ord) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
    for (int i = 0; i < q->npix; i++) ord[i] = q->pix_order;
    int rc = st_moc_from_cells(ord, q->pix, q->npix, &R->moc, err);
    free(ord);
    R->stats.moc_order = q->pix_order;
    return rc;
  }
  double area = region_area(q), pix0 = 4 * M_PI / 12;
  int order = 20;
  if (area > 0) {
    double k = 0.5 * log2(256.0 * pix0 / area);
    order = k < 0 ? 0 : k > 20 ? 20 : (int)k;
  }
  for (;; order--) {
    int rc;
    st_moc_clear(&R->moc);
    if (q->region == R_CONE) rc = st_hpx_cone_moc(order, q->ra, q->dec, q->radius, &R->moc, err);
    else if (q->region == R_BOX) {
      double hi = q->ra_lo == q->ra_hi ? q->ra_lo + 360 : q->ra_hi;
      rc = st_hpx_box_moc(order, q->ra_lo, hi, q->dec_lo, q->dec_hi, &R->moc, err);
    } else rc = st_hpx_polygon_moc(order, q->pra, q->pdec, q->np, &R->moc, err);
    if (rc != ST_ERR_LIMIT || order == 0) { R->stats.moc_order = order; return rc; }
    st_error_clear(err);
  }
}

/* True if some MOC range meets the order-29 interval [lo, hi]. */
static bool moc_meets(const st_moc *m, int64_t lo, int64_t hi) {
  int64_t a = 0, b = m->n;                /* first range with r_hi > lo */
  while (a < b) { int64_t mid = (a + b) / 2; if (m->r[2 * mid + 1] > lo) b = mid; else a = mid + 1; }
  return a < m->n && m->r[2 * a] <= hi;
}

/* Double values of column (f, a); *tmp receives an allocation when converted. */
static int as_doubles(const st_field *f, const st_array *a, const double **out, double **tmp, st_error *err) {
  *tmp = NULL;
  if (f->type == ST_T_DOUBLE && !f->dict_encoded) { *out = (const double *)a->buf[1] + a->offset; return 0; }
  if (f->type == ST_T_FLOAT && !f->dict_encoded) {
    double *d = malloc(a->length ? (size_t)a->length * sizeof(double) : 8);
    if (!d) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
    const float *x = (const float *)a->buf[1] + a->offset;
    for (int64_t i = 0; i < a->length; i++) d[i] = x[i];
    *out = *tmp = d;
    return 0;
  }
  return st_fail(err, ST_ERR_UNSUPPORTED, "column '%s' (%s) is not float or double", f->name, st_type_name(f->type));
}

/* Region test into m (1 = inside). */
static int region_mask(run *R, const st_table *t, uint8_t *m, st_error *err) {
  const st_query *q = R->q;
  int64_t n = t->n_rows;
  if (q->region == R_NONE) { memset(m, 1, (size_t)n); return 0; }
  int ci = st_table_column_index(t, R->ra_name), cd = st_table_column_index(t, R->dec_name);
  if (ci < 0 || cd < 0) return st_fail(err, ST_ERR_NOTFOUND, "query: ra/dec columns missing in a file");
  const double *ra, *dec;
  double *t1 = NULL, *t2 = NULL;
  int rc = as_doubles(&t->schema.children[ci], t->columns[ci], &ra, &t1, err);
  if (!rc) rc = as_doubles(&t->schema.children[cd], t->columns[cd], &dec, &t2, err);
  if (rc) { free(t1); free(t2); return rc; }
  switch (q->region) {
  case R_CONE: {
    double ra0 = R->cone_ra, dec0 = R->cone_dec, cd0 = R->cone_cosd, thr = R->cone_thr;
    for (int64_t i = 0; i < n; i++) {
      double r = ra[i] * DEG2RAD, d = dec[i] * DEG2RAD;
      double hd = sin((d - dec0) * 0.5), hr = sin((r - ra0) * 0.5);
      double a = hd * hd + cd0 * cos(d) * (hr * hr);
      m[i] = a <= thr;
    }
    break;
  }
  case R_BOX: {
    double lo = q->ra_lo, hi = q->ra_hi, dl = q->dec_lo, dh = q->dec_hi;
    if (lo == hi) for (int64_t i = 0; i < n; i++) m[i] = dl <= dec[i] && dec[i] <= dh;
    else if (lo < hi)
      for (int64_t i = 0; i < n; i++) { double r = mod360(ra[i]); m[i] = r >= lo && r <= hi && dl <= dec[i] && dec[i] <= dh; }
    else
      for (int64_t i = 0; i < n; i++) { double r = mod360(ra[i]); m[i] = (r >= lo || r <= hi) && dl <= dec[i] && dec[i] <= dh; }
    break;
  }
  case R_POLY: {
    int ne = q->np;
    double s = R->psign;
    for (int64_t i = 0; i < n; i++) {
      double v[3];
      st_hpx_ang2vec(ra[i], dec[i], v);
      uint8_t in = 1;
      for (int k = 0; k < ne; k++) {
        const double *e = R->edges[k];
        if (s * (e[0] * v[0] + e[1] * v[1] + e[2] * v[2]) < 0) { in = 0; break; }
      }
      m[i] = in;
    }
    break;
  }
  case R_PIXELS: {
    /* Blocks of points through the vectorised ang2pix; invalid points (non-finite
       RA, Dec outside [-90, 90]) are replaced by (0, 0) for the call and masked. */
    enum { BLK = 1024 };
    double bra[BLK], bdec[BLK];
    int64_t bpix[BLK];
    uint8_t ok[BLK];
    int shift = 2 * (29 - q->pix_order);
    for (int64_t i0 = 0; i0 < n; i0 += BLK) {
      int nb = (int)(n - i0 < BLK ? n - i0 : BLK);
      for (int k = 0; k < nb; k++) {
        double r = ra[i0 + k], d = dec[i0 + k];
        ok[k] = isfinite(r) && d >= -90 && d <= 90;
        bra[k] = ok[k] ? r : 0;
        bdec[k] = ok[k] ? d : 0;
      }
      st_error e2;
      if (st_hpx_ang2pix_batch(q->pix_order, bra, bdec, nb, bpix, &e2)) {
        for (int k = 0; k < nb; k++)  /* cannot happen after the masking; stay exact */
          if (ok[k] && st_hpx_ang2pix(q->pix_order, bra[k], bdec[k], &bpix[k], &e2)) ok[k] = 0;
      }
      for (int k = 0; k < nb; k++)
        m[i0 + k] = ok[k] && st_moc_contains(&R->moc, bpix[k] << shift);
    }
    break;
  }
  default: memset(m, 1, (size_t)n); break;
  }
  const st_array *A = t->columns[ci], *D = t->columns[cd];
  if (A->buf[0]) for (int64_t i = 0; i < n; i++) m[i] &= st_array_is_valid(A, i);
  if (D->buf[0]) for (int64_t i = 0; i < n; i++) m[i] &= st_array_is_valid(D, i);
  free(t1); free(t2);
  return 0;
}

/* R_PIXELS: centres of the pixels sorted by Dec, for the ra/dec statistics
   test (pc_dec stays NULL when the pixels are too big for it to help). */
typedef struct pc_pair { double dec, ra; } pc_pair;

static int cmp_pc(const void *a, const void *b) {
  const pc_pair *x = a, *y = b;
  return x->dec < y->dec ? -1 : x->dec > y->dec;
}

static int pixel_centres(run *R, st_error *err) {
  const st_query *q = R->q;
  double rad = st_hpx_max_pixrad(q->pix_order);
  if (q->npix < 1 || rad <= 0 || rad > 5) return 0;
  int64_t n = q->npix;
  double *ra = malloc((size_t)n * sizeof *ra), *dec = malloc((size_t)n * sizeof *dec);
  pc_pair *v = malloc((size_t)n * sizeof *v);
  int rc = (!ra || !dec || !v) ? st_fail(err, ST_ERR_NOMEM, "query: out of memory") : 0;
  if (!rc) rc = st_hpx_pix2ang_batch(q->pix_order, q->pix, n, ra, dec, err);
  if (!rc) {
    for (int64_t i = 0; i < n; i++) v[i] = (pc_pair){dec[i], ra[i]};
    qsort(v, (size_t)n, sizeof *v, cmp_pc);
    for (int64_t i = 0; i < n; i++) { dec[i] = v[i].dec; ra[i] = v[i].ra; }
    R->pc_ra = ra; R->pc_dec = dec; R->npc = n;
    R->pc_rad = rad * 1.001 + 1e-9;
    ra = dec = NULL;
  }
  free(ra); free(dec); free(v);
  return rc;
}

/* Min/max of a double/float/int column chunk as doubles; false when unknown. */
static bool chunk_range(const st_pq_reader *sr, int rg, int col, double *lo, double *hi) {
  st_pq_chunk_info ci;
  st_error e2;
  if (col < 0 || st_pq_describe_chunk(sr, rg, col, &ci, &e2) || !ci.has_min_max) return false;
  if (ci.min.kind == ST_PQ_VALUE_DOUBLE && ci.max.kind == ST_PQ_VALUE_DOUBLE) { *lo = ci.min.d; *hi = ci.max.d; }
  else if (ci.min.kind == ST_PQ_VALUE_INT && ci.max.kind == ST_PQ_VALUE_INT) { *lo = (double)ci.min.i; *hi = (double)ci.max.i; }
  else return false;
  return isfinite(*lo) && isfinite(*hi) && *lo <= *hi;
}

/*
** May a row group whose ra/dec statistics are [ra_lo, ra_hi] x [dec_lo,
** dec_hi] hold a point of the region?  Conservative: pixels (R_PIXELS) are
** discs of radius pc_rad around their centres, a cone its own disc; a disc
** of radius r at (a, d) is tested against the box grown by r in Dec and by
** r / cos(max |dec|) in RA (RA reduced mod 360, so boxes and discs across
** RA 0 are handled; near a pole every RA is accepted).
*/
static bool disc_meets_box(double a, double d, double r, double ra_lo, double ra_hi, double dec_lo, double dec_hi) {
  if (d + r < dec_lo || d - r > dec_hi) return false;
  double amax = fabs(d) + r;
  if (amax >= 89.0 || ra_hi - ra_lo >= 360) return true;
  double m = r / cos(amax * DEG2RAD) + 1e-9;
  if (m >= 180) return true;
  double w = ra_hi - ra_lo, x = mod360(a - ra_lo);
  return x <= w + m || x >= 360 - m;
}

static bool region_meets_box(const run *R, double ra_lo, double ra_hi, double dec_lo, double dec_hi) {
  const st_query *q = R->q;
  if (q->region == R_CONE) return disc_meets_box(q->ra, q->dec, q->radius * 1.000001 + 1e-9, ra_lo, ra_hi, dec_lo, dec_hi);
  if (q->region != R_PIXELS || !R->pc_dec) return true;
  double r = R->pc_rad;
  int64_t a = 0, b = R->npc;                /* first centre with dec >= dec_lo - r */
  while (a < b) { int64_t mid = (a + b) / 2; if (R->pc_dec[mid] < dec_lo - r) a = mid + 1; else b = mid; }
  for (int64_t i = a; i < R->npc && R->pc_dec[i] <= dec_hi + r; i++)
    if (disc_meets_box(R->pc_ra[i], R->pc_dec[i], r, ra_lo, ra_hi, dec_lo, dec_hi)) return true;
  return false;
}

/* Row groups of one file surviving the statistics; fills keep[] (local indices). */
static int prune_rgs(run *R, const st_pq_reader *sr, int first, int nrg, int *keep, int *nkeep,
                     st_query_stats *st) {
  int hcol = R->has_h29 && R->q->region != R_NONE ? st_pq_column_index(sr, "_healpix_29") : -1;
  int ncol = st_pq_num_columns(sr);
  bool boxes = R->q->region == R_CONE || (R->q->region == R_PIXELS && R->pc_dec);
  int rcol = boxes ? st_pq_column_index(sr, R->ra_name) : -1;
  int dcol = boxes ? st_pq_column_index(sr, R->dec_name) : -1;
  *nkeep = 0;
  for (int j = 0; j < nrg; j++) {
    int rg = first + j;
    st->row_groups_total++;
    st_error e2;
    for (int c = 0; c < ncol; c++) {
      st_pq_chunk_info ci;
      if (!st_pq_describe_chunk(sr, rg, c, &ci, &e2)) st->bytes_total += ci.compressed_size;
    }
    if (hcol >= 0) {
      st_pq_chunk_info ci;
      if (!st_pq_describe_chunk(sr, rg, hcol, &ci, &e2) && ci.has_min_max && ci.min.kind == ST_PQ_VALUE_INT &&
          !moc_meets(&R->moc, ci.min.i, ci.max.i))
        continue;
    }
    if (rcol >= 0 && dcol >= 0) {      /* ra/dec statistics against the region */
      double a0, a1, d0, d1;
      if (chunk_range(sr, rg, rcol, &a0, &a1) && chunk_range(sr, rg, dcol, &d0, &d1) &&
          !region_meets_box(R, a0, a1, d0, d1))
        continue;
    }
    st->row_groups_hpx++;
    if (R->q->where && !st_expr_rg_may_match(R->q->where, sr, rg)) continue;
    st->row_groups_read++;
    keep[(*nkeep)++] = j;
  }
  return 0;
}

/* Stable sort of rows by int64 key: returns the permutation in idx. */
static void sort_by_key(const int64_t *key, int64_t *idx, int64_t *tmp, int64_t n) {
  if (n < 2) return;
  int64_t h = n / 2;
  sort_by_key(key, idx, tmp, h);
  sort_by_key(key, idx + h, tmp, n - h);
  if (key[idx[h - 1]] <= key[idx[h]]) return;
  int64_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = key[idx[j]] < key[idx[i]] ? idx[j++] : idx[i++];
  while (i < h) tmp[k++] = idx[i++];
  while (j < n) tmp[k++] = idx[j++];
  memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* Add the compressed bytes of the chunks of row groups keep[] of file r whose
   top-level column is needed: mode 0 all, 1 filter columns, 2 the others. */
static void add_bytes(run *R, const st_pq_reader *sr, const int *keep, int nkeep, int mode, st_query_stats *st) {
  const st_field *fs = st_pq_schema(sr);
  int ncol = st_pq_num_columns(sr);
  st_error e2;
  for (int c = 0; c < ncol; c++) {
    st_pq_column_info inf;
    if (st_pq_describe_column(sr, c, &inf, &e2) || inf.top_column < 0 || inf.top_column >= fs->n_children) continue;
    const char *name = fs->children[inf.top_column].name;
    bool take = false;
    for (int k = 0; k < R->nneed && !take; k++)
      take = !strcmp(name, R->need[k]) && (mode == 0 || (mode == 1) == R->is_filt[k]);
    if (!take) continue;
    for (int j = 0; j < nkeep; j++) {
      st_pq_chunk_info ci;
      if (!st_pq_describe_chunk(sr, keep[j], c, &ci, &e2)) st->bytes_read += ci.compressed_size;
    }
  }
}

/* t := t's columns followed by u's (same rows); frees both. */
static int merge_columns(st_table **t, st_table *u, st_error *err) {
  st_table *a = *t;
  int n = a->n_columns + u->n_columns;
  st_field *fs = malloc(((size_t)n + 1) * sizeof *fs);
  st_array **cols = calloc((size_t)n + 1, sizeof *cols);
  int rc = (!fs || !cols) ? st_fail(err, ST_ERR_NOMEM, "query: out of memory") : 0;
  for (int i = 0; i < n && !rc; i++) {
    const st_table *src = i < a->n_columns ? a : u;
    int j = i < a->n_columns ? i : i - a->n_columns;
    fs[i] = src->schema.children[j];
    rc = st_array_slice(src->columns[j], 0, src->n_rows, &cols[i], err);
  }
  st_table *m = NULL;
  if (!rc) rc = st_table_new(fs, cols, n, a->n_rows, &a->schema, &m, err);
  else for (int i = 0; i < n; i++) st_array_free(cols[i]);
  free(fs); free(cols);
  st_table_free(u);
  if (rc) return rc;
  st_table_free(a);
  *t = m;
  return 0;
}

/* Read and filter one file's surviving row groups (of the window [rg_lo,
   rg_hi) of its row groups; rg_lo < 0: all); *out may stay NULL. */
static int do_file(run *R, const st_catalog_file *cf, int rg_lo, int rg_hi, st_table **out, st_query_stats *st,
                   st_error *err) {
  *out = NULL;
  const st_pq_reader *sr = cf->md;
  st_pq_reader *r = NULL;
  int first = cf->md_first_rg, nrg = cf->md_n_rg;
  int rc = 0;
  if (!sr) {
    ST_TRY(st_pq_open(cf->path, NULL, &r, err));
    st->files_opened++;
    sr = r; first = 0; nrg = st_pq_num_row_groups(r);
  }
  const st_field *fs = st_pq_schema(sr);
  int ntop = fs->n_children;
  int *keep = malloc(((size_t)nrg + 1) * sizeof(int));
  int *cols = malloc(((size_t)R->nneed + 1) * sizeof(int));
  int *colk = malloc(((size_t)R->nneed + 1) * sizeof(int));   /* need index of cols[i] */
  int *rcols = malloc(((size_t)R->nneed + 1) * sizeof(int));
  st_table *t = NULL, *sel = NULL, *rest = NULL;
  uint8_t *mask = NULL, *wm = NULL;
  int64_t *idx = NULL;
  int nkeep = 0, ncols = 0;
  if (!keep || !cols || !colk || !rcols) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  for (int i = 0; i < ntop; i++)
    for (int k = 0; k < R->nneed; k++)
      if (!strcmp(fs->children[i].name, R->need[k])) { cols[ncols++] = i; break; }
  if (ncols < R->nneed) {
    rc = st_fail(err, ST_ERR_SCHEMA, "%s: lacks some of the needed columns", cf->path);
    goto done;
  }
  /* the unit's window of row groups (all when rg_lo < 0) */
  int lo = rg_lo < 0 ? 0 : rg_lo > nrg ? nrg : rg_lo;
  int hi = rg_lo < 0 ? nrg : rg_hi > nrg ? nrg : rg_hi < lo ? lo : rg_hi;
  prune_rgs(R, sr, first + lo, hi - lo, keep, &nkeep, st);
  for (int j = 0; j < nkeep; j++) keep[j] += lo;
  if (!nkeep) goto done;
  if (!r) {
    if ((rc = st_pq_open(cf->path, NULL, &r, err))) goto done;
    st->files_opened++;
    /* the file's own row-group count must agree with _metadata's listing */
    if (st_pq_num_row_groups(r) != nrg) {
      rc = st_fail(err, ST_ERR_CORRUPT, "%s: %d row groups, _metadata lists %d", cf->path,
                   st_pq_num_row_groups(r), nrg);
      goto done;
    }
  }
  {
    const st_field *ff = st_pq_schema(r);
    ncols = 0;
    for (int i = 0; i < ff->n_children && ncols < R->nneed; i++)
      for (int k = 0; k < R->nneed; k++)
        if (!strcmp(ff->children[i].name, R->need[k])) { colk[ncols] = k; cols[ncols++] = i; break; }
    if (ncols < R->nneed) { rc = st_fail(err, ST_ERR_SCHEMA, "%s: lacks some of the needed columns", cf->path); goto done; }
  }
  /* late materialisation: when some needed columns are not filter columns,
     read the filter columns first and the others only if a row matches */
  int nfc = 0, nrc = 0;
  for (int i = 0; i < ncols; i++) {
    if (R->is_filt[colk[i]]) cols[nfc++] = cols[i];
    else rcols[nrc++] = cols[i];
  }
  bool two = nfc > 0 && nrc > 0;
  if (!nfc) { memcpy(cols, rcols, (size_t)nrc * sizeof(int)); nfc = nrc; }   /* no filter column: read all */
  if ((rc = st_pq_read(r, keep, nkeep, cols, nfc, &t, err))) goto done;
  st->rows_read += t->n_rows;
  int64_t n = t->n_rows;
  mask = malloc(n ? (size_t)n : 1);
  wm = malloc(n ? (size_t)n : 1);
  idx = malloc((n ? (size_t)n : 1) * sizeof(int64_t));
  if (!mask || !wm || !idx) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  if ((rc = region_mask(R, t, mask, err))) goto done;
  if (R->q->where) {
    if ((rc = st_expr_eval(R->q->where, t, wm, err))) goto done;
    for (int64_t i = 0; i < n; i++) mask[i] &= wm[i] == 2;
  }
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) { idx[k] = i; k += mask[i]; }
  add_bytes(R, r, keep, nkeep, two ? 1 : 0, st);
  if (two) {
    if (!k) goto done;                 /* no match: the other columns stay unread */
    if ((rc = st_pq_read(r, keep, nkeep, rcols, nrc, &rest, err))) goto done;
    add_bytes(R, r, keep, nkeep, 2, st);
    if (rest->n_rows != n) { rc = st_fail(err, ST_ERR_CORRUPT, "%s: columns differ in length", cf->path); goto done; }
    st_table *u = rest;
    rest = NULL;
    if ((rc = merge_columns(&t, u, err))) goto done;
  }
  if ((rc = st_table_take(t, idx, k, &sel, err))) goto done;
  *out = sel; sel = NULL;
done:
  if (rc) st_error_prefix(err, "%s: ", cf->rel ? cf->rel : cf->path);
  st_table_free(t); st_table_free(sel); st_table_free(rest);
  free(mask); free(wm); free(idx); free(keep); free(cols); free(colk); free(rcols);
  st_pq_close(r);
  return rc;
}

/* Project t to the output columns (names from the query or defaults). */
static int project(run *R, st_table *t, char **outc, int nout, st_table **out, st_error *err) {
  int *ix = malloc(((size_t)nout + 1) * sizeof(int));
  if (!ix) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
  for (int i = 0; i < nout; i++) ix[i] = st_table_column_index(t, outc[i]);
  int rc = st_table_select_columns(t, ix, nout, out, err);
  free(ix);
  return rc;
}

typedef struct ctx { run *R; char **outc; int nout; } ctx;

static int do_partition(ctx *C, const unit *u, st_table **out, st_query_stats *st, st_error *err) {
  run *R = C->R;
  st_partition p;
  ST_TRY(st_catalog_partition(R->c, u->part, &p, err));
  if (u->file >= 0) { p.first_file = u->file; p.n_files = 1; }
  st_table **parts = calloc((size_t)p.n_files + 1, sizeof *parts);
  if (!parts) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
  int np = 0, rc = 0;
  for (int f = 0; f < p.n_files && !rc; f++) {
    st_catalog_file cf;
    if ((rc = st_catalog_file_info(R->c, p.first_file + f, &cf, err))) break;
    st_table *t = NULL;
    if ((rc = do_file(R, &cf, u->file >= 0 ? u->rg_lo : -1, u->rg_hi, &t, st, err))) break;
    if (t && t->n_rows) parts[np++] = t;
    else st_table_free(t);
  }
  st_table *all = NULL, *sorted = NULL;
  if (!rc && np) {
    if (np == 1) { all = parts[0]; parts[0] = NULL; }
    else rc = st_table_concat(parts, np, &all, err);
  }
  if (!rc && all) {
    int hc = R->has_h29 ? st_table_column_index(all, "_healpix_29") : -1;
    st_table *use = all;
    if (hc >= 0 && all->schema.children[hc].type == ST_T_INT64 && !all->columns[hc]->buf[0]) {
      const int64_t *key = (const int64_t *)all->columns[hc]->buf[1] + all->columns[hc]->offset;
      int64_t n = all->n_rows;
      bool ok = true;
      for (int64_t i = 1; i < n && ok; i++) ok = key[i - 1] <= key[i];
      if (!ok) {
        int64_t *idx = malloc((size_t)n * sizeof *idx), *tmp = malloc((size_t)n * sizeof *tmp);
        if (!idx || !tmp) rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory");
        else {
          for (int64_t i = 0; i < n; i++) idx[i] = i;
          sort_by_key(key, idx, tmp, n);
          rc = st_table_take(all, idx, n, &sorted, err);
          use = sorted;
        }
        free(idx); free(tmp);
      }
    }
    if (!rc) rc = project(R, use, C->outc, C->nout, out, err);
    if (!rc) st->rows_matched += (*out)->n_rows;
  }
  st_table_free(all); st_table_free(sorted);
  for (int i = 0; i < np; i++) st_table_free(parts[i]);
  free(parts);
  return rc;
}

static void add_stats(st_query_stats *a, const st_query_stats *b) {
  a->files_opened += b->files_opened;
  a->row_groups_total += b->row_groups_total; a->row_groups_hpx += b->row_groups_hpx;
  a->row_groups_read += b->row_groups_read; a->bytes_total += b->bytes_total;
  a->bytes_read += b->bytes_read; a->rows_read += b->rows_read;
  a->rows_matched += b->rows_matched;
}

/* Worker: takes parts in order (at most `window` ahead of the emitter), stores results. */
static void *worker(void *arg) {
  ctx *C = arg;
  run *R = C->R;
  st_query_stats st = {0};
  for (;;) {
    pthread_mutex_lock(&R->lock);
    while (!R->failed && !R->stop && R->next < R->nparts && R->next >= R->emitted + R->window)
      pthread_cond_wait(&R->space, &R->lock);
    if (R->failed || R->stop || R->next >= R->nparts) { pthread_mutex_unlock(&R->lock); break; }
    int i = R->next++;
    pthread_mutex_unlock(&R->lock);
    st_error e = {0};
    st_table *t = NULL;
    int rc = do_partition(C, &R->parts[i], &t, &st, &e);
    pthread_mutex_lock(&R->lock);
    if (rc) {
      if (!R->failed) { R->err = e; if (!R->err.code) R->err.code = rc; R->failed = true; }
    } else {
      R->results[i] = t;
      R->finished[i] = true;
    }
    pthread_cond_broadcast(&R->ready);
    pthread_mutex_unlock(&R->lock);
    if (rc) break;
  }
  pthread_mutex_lock(&R->lock);
  add_stats(&R->stats, &st);
  pthread_mutex_unlock(&R->lock);
  return NULL;
}

static int add_unit(run *R, int *cap, int part, int file, int lo, int hi, st_error *err) {
  if (R->nparts == *cap) {
    int nc = *cap ? 2 * *cap : 64;
    unit *v = realloc(R->parts, (size_t)nc * sizeof *v);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
    R->parts = v; *cap = nc;
  }
  R->parts[R->nparts++] = (unit){part, file, lo, hi};
  return 0;
}

/*
** Units of partition pi.  A partition of more than batch_rows rows (or of
** unknown size when it is an unpartitioned dataset) is cut into pieces of
** whole row groups of one file, about batch_rows rows each, when that cannot
** change the output order: without _healpix_29 the order is file order; with
** it, the row groups in file order must have min/max statistics with each
** max <= the next min (then sorting each piece equals sorting the whole).
** Row-group counts and statistics come from _metadata, else from the
** footers (opened here only for unpartitioned datasets).  Otherwise the
** partition is one unit.
*/
static int plan_partition(run *R, int pi, int *cap, st_error *err) {
  st_partition p;
  ST_TRY(st_catalog_partition(R->c, pi, &p, err));
  int64_t limit = R->q->batch_rows;
  if ((p.rows >= 0 && p.rows <= limit) || (p.rows < 0 && p.order >= 0) || p.n_files < 1)
    return add_unit(R, cap, pi, -1, 0, 0, err);
  int first_unit = R->nparts, rc = 0;
  bool ok = true, have_prev = false;
  int64_t prev_max = 0, acc = 0;
  for (int f = 0; f < p.n_files && ok && !rc; f++) {
    st_catalog_file cf;
    if ((rc = st_catalog_file_info(R->c, p.first_file + f, &cf, err))) break;
    st_pq_reader *r = NULL;
    const st_pq_reader *sr = cf.md;
    int first = cf.md_first_rg, nrg = cf.md_n_rg;
    if (!sr) {
      if (p.order >= 0) { ok = false; break; }
      if ((rc = st_pq_open(cf.path, NULL, &r, err))) { st_error_prefix(err, "%s: ", cf.rel ? cf.rel : cf.path); break; }
      sr = r; first = 0; nrg = st_pq_num_row_groups(r);
    }
    int hcol = R->has_h29 ? st_pq_column_index(sr, "_healpix_29") : -1;
    if (R->has_h29 && hcol < 0) ok = false;
    int lo = 0;
    acc = 0;                           /* pieces never span files */
    for (int j = 0; j < nrg && ok && !rc; j++) {
      if (hcol >= 0) {
        st_pq_chunk_info ci;
        st_error e2;
        if (st_pq_describe_chunk(sr, first + j, hcol, &ci, &e2) || !ci.has_min_max || ci.min.kind != ST_PQ_VALUE_INT) {
          ok = false;
          break;
        }
        if (have_prev && ci.min.i < prev_max) { ok = false; break; }
        prev_max = ci.max.i; have_prev = true;
      }
      acc += st_pq_row_group_num_rows(sr, first + j);
      if (acc >= limit) { rc = add_unit(R, cap, pi, p.first_file + f, lo, j + 1, err); lo = j + 1; acc = 0; }
    }
    if (ok && !rc && lo < nrg) rc = add_unit(R, cap, pi, p.first_file + f, lo, nrg, err);
    st_pq_close(r);
  }
  if (rc) return rc;
  if (!ok || R->nparts - first_unit <= 1) {
    R->nparts = first_unit;
    return add_unit(R, cap, pi, -1, 0, 0, err);
  }
  return 0;
}

typedef struct part_ref { int64_t key; int idx; } part_ref;

/* Partitions by the start of their order-29 range (unpartitioned first), then index. */
static int cmp_part(const void *a, const void *b) {
  const part_ref *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

/* An empty table with the output columns: read row group 0 of some file and cut it to 0 rows. */
static int empty_result(run *R, char **outc, int nout, st_table **out, st_error *err) {
  st_field *fields = calloc((size_t)nout + 1, sizeof *fields);
  st_array **arrs = calloc((size_t)nout + 1, sizeof *arrs);
  int rc = (!fields || !arrs) ? st_fail(err, ST_ERR_NOMEM, "query: out of memory") : 0;
  int nf = 0;
  for (int i = 0; i < nout && !rc; i++) {
    int s = schema_has(R->schema, outc[i]);
    if ((rc = st_field_copy(&fields[nf], &R->schema->children[s]))) { st_fail(err, rc, "query: out of memory"); break; }
    nf++;
    st_builder *b = NULL;
    if ((rc = st_builder_new(&fields[i], &b, err))) break;
    rc = st_builder_finish(b, &arrs[i], err);
    st_builder_free(b);
  }
  if (!rc) rc = st_table_new(fields, arrs, nout, 0, R->schema, out, err);
  else for (int i = 0; i < nout; i++) st_array_free(arrs[i]);
  for (int i = 0; i < nf; i++) st_field_clear(&fields[i]);
  free(fields); free(arrs);
  if (rc != ST_ERR_UNSUPPORTED) return rc;
  /* nested output columns: take the schema from a file */
  st_error_clear(err);
  if (st_catalog_n_files(R->c) < 1) return st_fail(err, ST_ERR_UNSUPPORTED, "query: cannot build an empty result");
  st_catalog_file cf;
  ST_TRY(st_catalog_file_info(R->c, 0, &cf, err));
  st_pq_reader *r = NULL;
  ST_TRY(st_pq_open(cf.path, NULL, &r, err));
  const st_field *fs = st_pq_schema(r);
  int *cols = malloc(((size_t)nout + 1) * sizeof(int));
  st_table *t = NULL, *s0 = NULL;
  int rg = 0;
  rc = cols ? 0 : st_fail(err, ST_ERR_NOMEM, "query: out of memory");
  for (int i = 0; i < nout && !rc; i++) {
    cols[i] = schema_has(fs, outc[i]);
    if (cols[i] < 0) rc = st_fail(err, ST_ERR_SCHEMA, "%s: no column '%s'", cf.path, outc[i]);
  }
  if (!rc && st_pq_num_row_groups(r) < 1) rc = st_fail(err, ST_ERR_UNSUPPORTED, "query: cannot build an empty result");
  if (!rc) rc = st_pq_read(r, &rg, 1, cols, nout, &t, err);
  if (!rc) rc = st_table_slice(t, 0, 0, &s0, err);
  if (!rc) *out = s0;
  st_table_free(t); free(cols); st_pq_close(r);
  return rc;
}

static void split_names(const char *text, char ***out, int *n) {
  *out = NULL; *n = 0;
  size_t len = strlen(text);
  char **v = calloc(len + 1, sizeof *v);
  if (!v) return;
  const char *s = text;
  while (*s) {
    while (*s == ',' || *s == ' ' || *s == '\t') s++;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
    if (e > s) v[(*n)++] = strndup(s, (size_t)(e - s));
    s = e;
  }
  *out = v;
}

/* Deliver one part's rows to fn, cut to the limit; *done when the limit is reached. */
static int emit(run *R, st_table *t, st_query_batch_fn fn, void *fn_ctx, int64_t *rows, bool *done,
                st_error *err) {
  int64_t lim = R->q->limit;
  if (!t || !t->n_rows) return 0;
  int rc = 0;
  if (lim >= 0 && *rows + t->n_rows >= lim) {
    *done = true;
    if (*rows + t->n_rows > lim) {
      st_table *cut = NULL;
      ST_TRY(st_table_slice(t, 0, lim - *rows, &cut, err));
      rc = fn(fn_ctx, cut, err);
      *rows = lim;
      st_table_free(cut);
      return rc;
    }
  }
  *rows += t->n_rows;
  return fn(fn_ctx, t, err);
}

/*
** Run the parts and deliver them in order.  One thread: read and deliver part
** by part.  Several: workers fill results[], the calling thread waits for
** part `emitted`, hands it to fn outside the lock and frees it; workers stay
** within `window` parts of it, so memory holds at most window parts.
*/
static int drive(ctx *C, st_query_batch_fn fn, void *fn_ctx, st_error *err) {
  run *R = C->R;
  int64_t rows = 0;
  bool done = R->q->limit == 0;
  int rc = 0;
  int nt = R->q->threads < R->nparts ? R->q->threads : R->nparts;
  pthread_t *th = nt > 1 ? calloc((size_t)nt, sizeof *th) : NULL;
  int started = 0;
  R->window = 2 * (nt > 1 ? nt : 1);
  if (nt > 1 && th && !done)
    for (; started < nt; started++)
      if (pthread_create(&th[started], NULL, worker, C)) break;
  if (!started) {                      /* sequential */
    st_query_stats st = {0};
    for (int e = 0; e < R->nparts && !done && !rc; e++) {
      st_table *t = NULL;
      rc = do_partition(C, &R->parts[e], &t, &st, err);
      if (!rc) rc = emit(R, t, fn, fn_ctx, &rows, &done, err);
      st_table_free(t);
    }
    add_stats(&R->stats, &st);
  } else {
    for (int e = 0; e < R->nparts && !done && !rc; e++) {
      pthread_mutex_lock(&R->lock);
      while (!R->failed && !R->finished[e]) pthread_cond_wait(&R->ready, &R->lock);
      if (R->failed) { pthread_mutex_unlock(&R->lock); break; }
      st_table *t = R->results[e];
      R->results[e] = NULL;
      pthread_mutex_unlock(&R->lock);
      rc = emit(R, t, fn, fn_ctx, &rows, &done, err);
      st_table_free(t);
      pthread_mutex_lock(&R->lock);
      R->emitted = e + 1;
      pthread_cond_broadcast(&R->space);
      pthread_mutex_unlock(&R->lock);
    }
    pthread_mutex_lock(&R->lock);
    R->stop = true;
    pthread_cond_broadcast(&R->space);
    pthread_mutex_unlock(&R->lock);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (!rc && R->failed) { *err = R->err; rc = R->err.code ? R->err.code : ST_ERR_IO; }
  }
  free(th);
  if (!rc && rows == 0) {              /* empty result: one batch with the schema */
    st_table *t = NULL;
    rc = empty_result(R, C->outc, C->nout, &t, err);
    if (!rc) rc = fn(fn_ctx, t, err);
    st_table_free(t);
  }
  return rc;
}

int st_query_run_stream(st_query *q, const st_catalog *c, st_query_batch_fn fn, void *fn_ctx,
                        st_query_stats *stats, st_error *err) {
  run R;
  memset(&R, 0, sizeof R);
  R.q = q; R.c = c;
  R.schema = st_catalog_schema(c);
  st_moc_init(&R.moc, 0);
  pthread_mutex_init(&R.lock, NULL);
  pthread_cond_init(&R.ready, NULL);
  pthread_cond_init(&R.space, NULL);
  char **outc = NULL; int nout = 0; bool own_outc = false;
  int rc = 0;
  if (!R.schema) { rc = st_fail(err, ST_ERR_INVALID, "query: catalog has no schema"); goto done; }
  const char *ran = q->ra_col ? q->ra_col : st_catalog_property(c, "hats_col_ra");
  const char *decn = q->dec_col ? q->dec_col : st_catalog_property(c, "hats_col_dec");
  R.ra_name = ran ? ran : "ra";
  R.dec_name = decn ? decn : "dec";
  R.has_h29 = schema_has(R.schema, "_healpix_29") >= 0;
  /* output columns */
  if (q->ncols) { outc = q->cols; nout = q->ncols; }
  else {
    const char *def = st_catalog_property(c, "hats_cols_default");
    if (def && *def) { split_names(def, &outc, &nout); own_outc = true; }
    if (!nout) {
      if (own_outc) free(outc);
      own_outc = false;
      nout = R.schema->n_children;
      outc = malloc(((size_t)nout + 1) * sizeof *outc);
      if (!outc) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
      for (int i = 0; i < nout; i++) outc[i] = R.schema->children[i].name;
    }
  }
  for (int i = 0; i < nout; i++) {
    if (schema_has(R.schema, outc[i]) < 0) { rc = st_fail(err, ST_ERR_NOTFOUND, "query: no column '%s' in the catalog", outc[i]); goto done; }
    if (add_need(&R, outc[i])) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  }
  if (q->region != R_NONE) {
    if (schema_has(R.schema, R.ra_name) < 0 || schema_has(R.schema, R.dec_name) < 0) {
      rc = st_fail(err, ST_ERR_NOTFOUND, "query: no ra/dec columns '%s'/'%s' (use --ra-col/--dec-col)", R.ra_name, R.dec_name);
      goto done;
    }
    if (add_need(&R, R.ra_name) || add_need(&R, R.dec_name)) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  }
  if (R.has_h29 && add_need(&R, "_healpix_29")) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  if (q->where && (rc = st_expr_columns(q->where, need_cb, &R))) { *err = R.err; goto done; }
  R.is_filt = calloc((size_t)R.nneed + 1, sizeof *R.is_filt);
  if (!R.is_filt) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  for (int k = 0; k < R.nneed; k++)
    R.is_filt[k] = q->region != R_NONE && (!strcmp(R.need[k], R.ra_name) || !strcmp(R.need[k], R.dec_name));
  if (q->where && (rc = st_expr_columns(q->where, filt_cb, &R))) { *err = R.err; goto done; }
  /* region constants */
  if (q->region == R_CONE) {
    R.cone_ra = q->ra * DEG2RAD; R.cone_dec = q->dec * DEG2RAD; R.cone_cosd = cos(R.cone_dec);
    double h = sin(q->radius * DEG2RAD * 0.5);
    R.cone_thr = h * h;
  } else if (q->region == R_POLY) {
    R.edges = malloc((size_t)q->np * sizeof *R.edges);
    if (!R.edges) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
    double v0[3], v1[3], v2[3];
    for (int i = 0; i < q->np; i++) {
      st_hpx_ang2vec(q->pra[i], q->pdec[i], v0);
      st_hpx_ang2vec(q->pra[(i + 1) % q->np], q->pdec[(i + 1) % q->np], v1);
      R.edges[i][0] = v0[1] * v1[2] - v0[2] * v1[1];
      R.edges[i][1] = v0[2] * v1[0] - v0[0] * v1[2];
      R.edges[i][2] = v0[0] * v1[1] - v0[1] * v1[0];
    }
    st_hpx_ang2vec(q->pra[2], q->pdec[2], v2);
    double s = R.edges[0][0] * v2[0] + R.edges[0][1] * v2[1] + R.edges[0][2] * v2[2];
    R.psign = s >= 0 ? 1 : -1;
  }
  if (q->region != R_NONE && (rc = build_moc(&R, err))) goto done;
  if (q->region == R_PIXELS && (rc = pixel_centres(&R, err))) goto done;
  /* partitions */
  int np = st_catalog_n_partitions(c);
  R.stats.partitions_total = np;
  part_ref *refs = malloc(((size_t)np + 1) * sizeof *refs);
  if (!refs) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  int nref = 0;
  for (int i = 0; i < np; i++) {
    st_partition p;
    if ((rc = st_catalog_partition(c, i, &p, err))) { free(refs); goto done; }
    if (q->region != R_NONE && p.order >= 0 && !st_moc_intersects_cell(&R.moc, p.order, p.pixel)) continue;
    refs[nref].key = p.order < 0 ? -1 : p.pixel << (2 * (29 - p.order));
    refs[nref++].idx = i;
  }
  qsort(refs, (size_t)nref, sizeof *refs, cmp_part);
  int cap = 0;
  for (int i = 0; i < nref && !rc; i++) rc = plan_partition(&R, refs[i].idx, &cap, err);
  free(refs);
  if (rc) goto done;
  R.results = calloc((size_t)R.nparts + 1, sizeof *R.results);
  R.finished = calloc((size_t)R.nparts + 1, sizeof *R.finished);
  if (!R.results || !R.finished) { rc = st_fail(err, ST_ERR_NOMEM, "query: out of memory"); goto done; }
  R.stats.partitions_region = nref;
  /* workers and emitter */
  ctx C = {&R, outc, nout};
  rc = drive(&C, fn, fn_ctx, err);
done:
  if (stats) *stats = R.stats;
  for (int i = 0; i < R.nparts; i++) st_table_free(R.results ? R.results[i] : NULL);
  free(R.results); free(R.parts); free(R.edges); free(R.pc_ra); free(R.pc_dec); free(R.finished); free(R.is_filt);
  for (int i = 0; i < R.nneed; i++) free(R.need[i]);
  free(R.need);
  if (own_outc) { for (int i = 0; i < nout; i++) free(outc[i]); }
  if (outc != q->cols) free(outc);
  st_moc_free(&R.moc);
  pthread_mutex_destroy(&R.lock);
  pthread_cond_destroy(&R.ready);
  pthread_cond_destroy(&R.space);
  return rc;
}

/* st_query_run: collect the batches (zero-copy slices) and concatenate them. */
typedef struct collect { st_table **v; int n, cap; } collect;

static int collect_cb(void *arg, const st_table *batch, st_error *err) {
  collect *k = arg;
  if (k->n == k->cap) {
    int cap = k->cap ? 2 * k->cap : 16;
    st_table **v = realloc(k->v, (size_t)cap * sizeof *v);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "query: out of memory");
    k->v = v; k->cap = cap;
  }
  ST_TRY(st_table_slice(batch, 0, batch->n_rows, &k->v[k->n], err));
  k->n++;
  return 0;
}

int st_query_run(st_query *q, const st_catalog *c, st_table **out, st_query_stats *stats, st_error *err) {
  collect k = {0};
  int rc = st_query_run_stream(q, c, collect_cb, &k, stats, err);
  if (!rc) {
    if (k.n == 1) { *out = k.v[0]; k.v[0] = NULL; }
    else if (k.n > 1) rc = st_table_concat(k.v, k.n, out, err);
    else rc = st_fail(err, ST_ERR_INVALID, "query: no result delivered");
  }
  for (int i = 0; i < k.n; i++) st_table_free(k.v[i]);
  free(k.v);
  return rc;
}
