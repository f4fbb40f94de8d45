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
**      opened; a listed file is then read with _metadata's row groups,
**      st_pq_open_borrowed, without parsing its footer again);
**   4. each surviving row group is read with late materialisation (do_rg):
**      the region columns first (for pixels: Dec of every row against a
**      bitmap of the Dec buckets the pixels reach, narrowed to the ranges
**      of the Dec hint when one is set (st_query_set_dec_hint, query_int.h:
**      light curves give their targets' Dec bands, 4-5x fewer rows than the
**      cells' bands), then RA only at those rows, through
**      st_pq_read_rows), the exact region test (pixels: the
**      vectorised ang2pix and a hash set of the pixels behind a 32 KiB
**      filter) gives the rows inside; the where-only columns are read and
**      the expression evaluated at those rows only; the other needed columns
**      are read at the surviving rows only (st_pq_read_rows decodes just
**      those values where it can).  A row group with no row inside reads
**      nothing more.  A partition's rows are concatenated, stably sorted by
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
#include "query/query_int.h"
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
  double *hint_lo, *hint_hi; int nhint; /* Dec ranges hint (query_int.h)     */
  bool has_hint;
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
  free(q->hint_lo); free(q->hint_hi);
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

int st_query_set_dec_hint(st_query *q, const double *lo, const double *hi, int n, st_error *err) {
  ST_CHECK(n >= 0 && (n == 0 || (lo && hi)), err, ST_ERR_INVALID, "dec hint: bad ranges");
  double *a = malloc(((size_t)n + 1) * sizeof *a), *b = malloc(((size_t)n + 1) * sizeof *b);
  if (!a || !b) { free(a); free(b); return st_fail(err, ST_ERR_NOMEM, "query: out of memory"); }
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (!(lo[i] <= hi[i]) || !isfinite(lo[i]) || !isfinite(hi[i])) continue;   /* empty or NaN: never met */
    a[k] = lo[i]; b[k] = hi[i]; k++;
  }
  free(q->hint_lo); free(q->hint_hi);
  q->hint_lo = a; q->hint_hi = b; q->nhint = k;
  q->has_hint = true;
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
  uint8_t *dec_bits;                 /* R_PIXELS: Dec buckets that some pixel */
                                     /* may reach (bit per bucket), or NULL   */
  int64_t *pix_set;                  /* R_PIXELS: open-addressing hash set of */
  uint64_t pix_mask; int pix_shift;  /* the pixels (-1 = empty), or NULL      */
  uint8_t *pix_bloom;                /* a bit per hash of the pixels (filter) */
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

/* Dec buckets of the R_PIXELS pre-filter: DEC_NB equal buckets over [-90, 90]. */
#define DEC_NB (1 << 20)
static inline int64_t dec_bucket(double d) {
  int64_t b = (int64_t)((d + 90.0) * (DEC_NB / 180.0));
  return b < 0 ? 0 : b >= DEC_NB ? DEC_NB - 1 : b;
}

/* The bit of Dec d in a bucket bitmap of DEC_NB + 1 bits whose last bit
** stands for NaN and |dec| > 90; branch-free for the per-row loops. */
static inline int dec_bit(const uint8_t *db, double d) {
  bool in = d >= -90 && d <= 90;
  int64_t b = (int64_t)(((in ? d : 0.0) + 90.0) * (DEC_NB / 180.0));
  b = b > DEC_NB - 1 ? DEC_NB - 1 : b;
  b = in ? b : DEC_NB;
  return (db[b >> 3] >> (b & 7)) & 1;
}

/* R_PIXELS: is pixel p (at the query's order) one of the query's pixels? */
#define PIX_BLOOM_BITS 18               /* 32 KiB: stays in L1 */
static inline bool pix_set_has(const run *R, int64_t p) {
  uint64_t g = ((uint64_t)p * 0xC2B2AE3D27D4EB4Full) >> (64 - PIX_BLOOM_BITS);
  if (!((R->pix_bloom[g >> 3] >> (g & 7)) & 1)) return false;
  uint64_t h = ((uint64_t)p * 0x9E3779B97F4A7C15ull) >> R->pix_shift;
  for (;;) {
    int64_t v = R->pix_set[h];
    if (v == p) return true;
    if (v < 0) return false;
    h = (h + 1) & R->pix_mask;
  }
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
    /* Rows whose Dec bucket no pixel reaches are out (dec_bits; a Dec outside
       [-90, 90] or NaN takes bucket DEC_NB, never set): compacted without
       branches, IDX at a time; the others (finite RA) go in blocks through
       the vectorised ang2pix and the pixel test (hash set, else the MOC). */
    enum { BLK = 1024, IDX = 4096 };
    double bra[BLK], bdec[BLK];
    int64_t bpix[BLK], brow[BLK];
    int32_t cand[IDX];
    int shift = 2 * (29 - q->pix_order);
    const uint8_t *db = R->dec_bits;
    int nb = 0;
    memset(m, 0, (size_t)n);
    for (int64_t i0 = 0; i0 < n; i0 += IDX) {
      int c = (int)(n - i0 < IDX ? n - i0 : IDX), nc = 0;
      if (db) {
        for (int k = 0; k < c; k++) {
          cand[nc] = k;
          nc += dec_bit(db, dec[i0 + k]);
        }
      } else {
        for (int k = 0; k < c; k++) cand[nc++] = k;
      }
      for (int j = 0; j <= nc; j++) {
        if (j < nc) {
          int64_t i = i0 + cand[j];
          double r = ra[i], d = dec[i];
          if (!(d >= -90 && d <= 90) || !isfinite(r)) continue;
          bra[nb] = r; bdec[nb] = d; brow[nb] = i;
          if (++nb < BLK) continue;
        } else if (i0 + c < n || !nb) {
          break;                       /* the last chunk flushes the block */
        }
        st_error e2;
        uint8_t ok[BLK];
        memset(ok, 1, (size_t)nb);
        if (st_hpx_ang2pix_batch(q->pix_order, bra, bdec, nb, bpix, &e2)) {
          for (int k = 0; k < nb; k++)  /* cannot happen for valid points; stay exact */
            if (st_hpx_ang2pix(q->pix_order, bra[k], bdec[k], &bpix[k], &e2)) ok[k] = 0;
        }
        if (R->pix_set)
          for (int k = 0; k < nb; k++) m[brow[k]] = ok[k] && pix_set_has(R, bpix[k]);
        else
          for (int k = 0; k < nb; k++) m[brow[k]] = ok[k] && st_moc_contains(&R->moc, bpix[k] << shift);
        nb = 0;
      }
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
    /* Dec pre-filter: a point of a pixel lies within pc_rad of its centre,
       so its Dec within pc_rad of the centre's; the buckets of that range
       (one more on each side against rounding) are set. */
    if (n <= 4 * DEC_NB && (R->dec_bits = calloc(DEC_NB / 8 + 1, 1))) {
      for (int64_t i = 0; i < n; i++) {
        int64_t b0 = dec_bucket(R->pc_dec[i] - R->pc_rad) - 1, b1 = dec_bucket(R->pc_dec[i] + R->pc_rad) + 1;
        if (b0 < 0) b0 = 0;
        if (b1 >= DEC_NB) b1 = DEC_NB - 1;
        for (int64_t b = b0; b <= b1; b++) R->dec_bits[b >> 3] |= (uint8_t)(1u << (b & 7));
      }
      /* Dec hint: only the buckets of its ranges stay (one more on each side
         against rounding) */
      uint8_t *hb = q->has_hint ? calloc(DEC_NB / 8 + 1, 1) : NULL;
      if (hb) {
        for (int i = 0; i < q->nhint; i++) {
          int64_t b0 = dec_bucket(q->hint_lo[i]) - 1, b1 = dec_bucket(q->hint_hi[i]) + 1;
          if (b0 < 0) b0 = 0;
          if (b1 >= DEC_NB) b1 = DEC_NB - 1;
          for (int64_t b = b0; b <= b1; b++) hb[b >> 3] |= (uint8_t)(1u << (b & 7));
        }
        for (size_t j = 0; j < DEC_NB / 8 + 1; j++) R->dec_bits[j] &= hb[j];
        free(hb);
      }
    }
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
    st_pq_row_group_info ri;
    if (!st_pq_describe_row_group(sr, rg, &ri, &e2) && ri.total_compressed_size >= 0) {
      st->bytes_total += ri.total_compressed_size;   /* one call instead of one per chunk */
    } else {
      for (int c = 0; c < ncol; c++) {
        st_pq_chunk_info ci;
        if (!st_pq_describe_chunk(sr, rg, c, &ci, &e2)) st->bytes_total += ci.compressed_size;
      }
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

/* Roles of the needed columns in a read (see do_rg). */
enum { ROLE_REST = 0, ROLE_REGION = 1, ROLE_WHERE = 2 };

/* Per-file column plan: fcol[k] = file column of need k, role[k]; leaf_role[c]
   = role of the needed top-level column of leaf c (-1: not needed). */
typedef struct fplan {
  int *fcol, *role, *leaf_role;
  int nleaf;
  int reg[2], nreg;                  /* need indices of the region columns    */
  int *wk, nw;                       /* need indices of the where-only columns */
  int *xk, nx;                       /* need indices of the other columns      */
  int *tmpc;                         /* scratch column list                    */
  int64_t *idx, *pos, *fin;          /* row scratch (cap rows each), reused    */
  uint8_t *mask;                     /* from row group to row group            */
  int64_t cap;
} fplan;

static void fplan_free(fplan *P) {
  free(P->fcol); free(P->role); free(P->leaf_role); free(P->wk); free(P->xk); free(P->tmpc);
  free(P->idx); free(P->pos); free(P->fin); free(P->mask);
  memset(P, 0, sizeof *P);
}

/* Bytes of row group rg's chunks whose column has a role in mask (bits 1 << role). */
static void add_bytes_rg(const fplan *P, const st_pq_reader *sr, int rg, unsigned mask, st_query_stats *st) {
  st_error e2;
  for (int c = 0; c < P->nleaf; c++) {
    if (P->leaf_role[c] < 0 || !(mask & (1u << P->leaf_role[c]))) continue;
    st_pq_chunk_info ci;
    if (!st_pq_describe_chunk(sr, rg, c, &ci, &e2)) st->bytes_read += ci.compressed_size;
  }
}

static int nomem(st_error *err) { return st_fail(err, ST_ERR_NOMEM, "query: out of memory"); }

/*
** One row group g of file r (late materialisation per row group):
**   1. region: read the ra/dec columns, test every row (region_mask), keep
**      the candidate rows idx[0..k) (none: nothing else is read);
**   2. where: read the where-only columns at the candidates
**      (st_pq_read_rows), evaluate the expression on those k rows (with the
**      region columns taken at them) and keep the true ones;
**   3. read the remaining needed columns at the surviving rows and take the
**      already read columns at them.
** *out: the rows in need order (NULL when none).
*/
static int do_rg(run *R, st_pq_reader *r, fplan *P, int g, st_table **out, st_query_stats *st,
                 st_error *err) {
  *out = NULL;
  int64_t n = st_pq_row_group_num_rows(r, g);
  int nneed = R->nneed;
  st_table *t1 = NULL, *tk = NULL, *tw = NULL, *tx = NULL, *te = NULL, *td = NULL, *tr = NULL;
  int64_t *idx = NULL, *pos = NULL, *fin = NULL;
  uint8_t *mask = NULL;
  st_array **cols = NULL;
  st_field *flds = NULL;
  int rc = 0;
  int64_t k = n;
  if (n <= 0) return 0;
  if (!P->nreg && !R->q->where) {     /* no filter: every row, every column */
    for (int i = 0; i < nneed; i++) P->tmpc[i] = P->fcol[i];
    ST_TRY(st_pq_read(r, &g, 1, P->tmpc, nneed, out, err));
    st->rows_read += n;
    add_bytes_rg(P, r, g, 7u, st);
    return 0;
  }
  if (n > P->cap) {
    free(P->idx); free(P->pos); free(P->fin); free(P->mask);
    P->idx = malloc((size_t)n * sizeof *P->idx);
    P->pos = malloc((size_t)n * sizeof *P->pos);
    P->fin = malloc((size_t)n * sizeof *P->fin);
    P->mask = malloc((size_t)n);
    P->cap = n;
    if (!P->idx || !P->pos || !P->fin || !P->mask) { P->cap = 0; return nomem(err); }
  }
  idx = P->idx;
  mask = P->mask;
  pos = P->pos;
  st->rows_read += n;
  /* 1. region: idx[0..k) = rows inside; tk = the region columns at them */
  if (P->nreg == 2 && R->dec_bits) {
    /* pixels: Dec first (all rows) -> rows in the Dec buckets (cand, in pos);
       RA only at those */
    int rk = P->reg[0], dk = P->reg[1];
    if (!strcmp(R->need[rk], R->dec_name)) { int t = rk; rk = dk; dk = t; }
    int dc = P->fcol[dk], rcol = P->fcol[rk];
    if ((rc = st_pq_read(r, &g, 1, &dc, 1, &td, err))) goto done;
    add_bytes_rg(P, r, g, 1u << ROLE_REGION, st);
    const st_array *D = td->columns[0];
    const st_field *DF = &td->schema.children[0];
    int64_t nc = 0;
    if (DF->type == ST_T_DOUBLE && !DF->dict_encoded) {
      const double *dec = (const double *)D->buf[1] + D->offset;
      const uint8_t *db = R->dec_bits;
      for (int64_t i = 0; i < n; i++) {
        pos[nc] = i;
        nc += dec_bit(db, dec[i]);
      }
    } else {
      for (int64_t i = 0; i < n; i++) pos[i] = i;   /* float Dec: no pre-filter here */
      nc = n;
    }
    if (!nc) { k = 0; goto done; }
    st_array *dcand = NULL, *rcand = NULL;
    if ((rc = st_pq_read_rows(r, g, &rcol, 1, pos, nc, &tr, err))) goto done;
    if ((rc = st_array_take(DF, D, pos, nc, &dcand, err))) goto done;
    st_field f2[2];
    st_array *a2[2];
    int ir = strcmp(R->need[P->reg[0]], R->dec_name) ? 0 : 1;   /* keep the reg order */
    f2[ir] = tr->schema.children[0];
    f2[1 - ir] = *DF;
    if ((rc = st_array_slice(tr->columns[0], 0, nc, &rcand, err))) { st_array_free(dcand); goto done; }
    a2[ir] = rcand;
    a2[1 - ir] = dcand;
    if ((rc = st_table_new(f2, a2, 2, nc, NULL, &t1, err))) goto done;
    if ((rc = region_mask(R, t1, mask, err))) goto done;
    k = 0;
    for (int64_t i = 0; i < nc; i++) { idx[k] = pos[i]; P->fin[k] = i; k += mask[i]; }
    if (!k) goto done;
    if (k == nc) { tk = t1; t1 = NULL; }
    else if ((rc = st_table_take(t1, P->fin, k, &tk, err))) goto done;
  } else if (P->nreg) {
    for (int i = 0; i < P->nreg; i++) P->tmpc[i] = P->fcol[P->reg[i]];
    if ((rc = st_pq_read(r, &g, 1, P->tmpc, P->nreg, &t1, err))) goto done;
    add_bytes_rg(P, r, g, 1u << ROLE_REGION, st);
    if ((rc = region_mask(R, t1, mask, err))) goto done;
    k = 0;
    for (int64_t i = 0; i < n; i++) { idx[k] = i; k += mask[i]; }
    if (!k) goto done;
    if (k == n) { tk = t1; t1 = NULL; }
    else if ((rc = st_table_take(t1, idx, k, &tk, err))) goto done;
  } else {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
  }
  int64_t nf = k;                    /* surviving rows: fin[0..nf) (rg rows), pos[] (into idx) */
  fin = idx;
  bool cut = false;                  /* pos[] selects among the k rows */
  if (R->q->where) {
    /* the where columns at the k rows */
    if (P->nw) {
      for (int i = 0; i < P->nw; i++) P->tmpc[i] = P->fcol[P->wk[i]];
      if (k < n) rc = st_pq_read_rows(r, g, P->tmpc, P->nw, idx, k, &tw, err);
      else rc = st_pq_read(r, &g, 1, P->tmpc, P->nw, &tw, err);
      if (rc) goto done;
      add_bytes_rg(P, r, g, 1u << ROLE_WHERE, st);
    }
    /* evaluation table: region columns + where columns at the k rows */
    int ne = P->nreg + P->nw;
    cols = calloc((size_t)ne + 1, sizeof *cols);
    flds = calloc((size_t)ne + 1, sizeof *flds);
    if (!cols || !flds) { rc = nomem(err); goto done; }
    for (int i = 0; i < P->nreg && !rc; i++) {
      flds[i] = tk->schema.children[i];
      rc = st_array_slice(tk->columns[i], 0, k, &cols[i], err);
    }
    for (int i = 0; i < P->nw && !rc; i++) {
      flds[P->nreg + i] = tw->schema.children[i];
      rc = st_array_slice(tw->columns[i], 0, k, &cols[P->nreg + i], err);
    }
    if (!rc) rc = st_table_new(flds, cols, ne, k, NULL, &te, err);
    else for (int i = 0; i < ne; i++) st_array_free(cols[i]);
    free(cols); free(flds);
    cols = NULL; flds = NULL;
    if (rc) goto done;
    if ((rc = st_expr_eval(R->q->where, te, mask, err))) goto done;
    fin = P->fin;
    nf = 0;
    for (int64_t i = 0; i < k; i++) { pos[nf] = i; fin[nf] = idx[i]; nf += mask[i] == 2; }
    if (!nf) goto done;
    cut = nf < k;
  }
  /* 3. the other columns at the surviving rows */
  if (P->nx) {
    for (int i = 0; i < P->nx; i++) P->tmpc[i] = P->fcol[P->xk[i]];
    if (nf < n) rc = st_pq_read_rows(r, g, P->tmpc, P->nx, fin, nf, &tx, err);
    else rc = st_pq_read(r, &g, 1, P->tmpc, P->nx, &tx, err);
    if (rc) goto done;
    add_bytes_rg(P, r, g, 1u << ROLE_REST, st);
  }
  cols = calloc((size_t)nneed + 1, sizeof *cols);
  flds = calloc((size_t)nneed + 1, sizeof *flds);
  if (!cols || !flds) { rc = nomem(err); goto done; }
  for (int kk = 0; kk < nneed && !rc; kk++) {
    const st_table *src = NULL;
    int ci = -1;
    bool take = false;
    if (P->role[kk] == ROLE_REGION) {
      src = tk; take = cut;
      for (int i = 0; i < P->nreg; i++) if (P->reg[i] == kk) ci = i;
    } else if (P->role[kk] == ROLE_WHERE) {
      src = tw; take = cut;
      for (int i = 0; i < P->nw; i++) if (P->wk[i] == kk) ci = i;
    } else {
      src = tx;
      for (int i = 0; i < P->nx; i++) if (P->xk[i] == kk) ci = i;
    }
    if (!src || ci < 0) { rc = st_fail(err, ST_ERR_INVALID, "query: internal column plan"); break; }
    flds[kk] = src->schema.children[ci];
    if (!take) rc = st_array_slice(src->columns[ci], 0, nf, &cols[kk], err);
    else rc = st_array_take(&src->schema.children[ci], src->columns[ci], pos, nf, &cols[kk], err);
  }
  if (!rc) rc = st_table_new(flds, cols, nneed, nf, NULL, out, err);
  else for (int i = 0; i < nneed; i++) st_array_free(cols[i]);
done:
  free(cols); free(flds);
  st_table_free(t1); st_table_free(tk); st_table_free(tw); st_table_free(tx); st_table_free(te);
  st_table_free(td); st_table_free(tr);
  return rc;
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
  int nneed = R->nneed;
  int *keep = malloc(((size_t)nrg + 1) * sizeof(int));
  st_table **parts = NULL;
  int nparts = 0, nkeep = 0;
  fplan P;
  memset(&P, 0, sizeof P);
  if (!keep) { rc = nomem(err); goto done; }
  {
    const st_field *fs = st_pq_schema(sr);
    int found = 0;
    for (int k = 0; k < nneed; k++)
      for (int i = 0; i < fs->n_children; i++)
        if (!strcmp(fs->children[i].name, R->need[k])) { found++; break; }
    if (found < nneed) { rc = st_fail(err, ST_ERR_SCHEMA, "%s: lacks some of the needed columns", cf->path); goto done; }
  }
  /* the unit's window of row groups (all when rg_lo < 0) */
  int lo = rg_lo < 0 ? 0 : rg_lo > nrg ? nrg : rg_lo;
  int hi = rg_lo < 0 ? nrg : rg_hi > nrg ? nrg : rg_hi < lo ? lo : rg_hi;
  prune_rgs(R, sr, first + lo, hi - lo, keep, &nkeep, st);
  for (int j = 0; j < nkeep; j++) keep[j] += lo;
  if (!nkeep) goto done;
  if (!r) {
    /* listed by _metadata: read the file with that metadata (its own footer,
       the same row groups, is not parsed again) */
    if ((rc = st_pq_open_borrowed(cf->path, cf->md, first, nrg, NULL, &r, err))) goto done;
    st->files_opened++;
  }
  {
    /* column plan against the file's own schema */
    const st_field *ff = st_pq_schema(r);
    int nl = st_pq_num_columns(r);
    P.fcol = malloc(((size_t)nneed + 1) * sizeof(int));
    P.role = malloc(((size_t)nneed + 1) * sizeof(int));
    P.wk = malloc(((size_t)nneed + 1) * sizeof(int));
    P.xk = malloc(((size_t)nneed + 1) * sizeof(int));
    P.tmpc = malloc(((size_t)nneed + 1) * sizeof(int));
    P.leaf_role = malloc(((size_t)nl + 1) * sizeof(int));
    parts = calloc((size_t)nkeep + 1, sizeof *parts);
    if (!P.fcol || !P.role || !P.wk || !P.xk || !P.tmpc || !P.leaf_role || !parts) { rc = nomem(err); goto done; }
    P.nleaf = nl;
    for (int k = 0; k < nneed; k++) {
      P.fcol[k] = -1;
      for (int i = 0; i < ff->n_children; i++)
        if (!strcmp(ff->children[i].name, R->need[k])) { P.fcol[k] = i; break; }
      if (P.fcol[k] < 0) { rc = st_fail(err, ST_ERR_SCHEMA, "%s: lacks some of the needed columns", cf->path); goto done; }
      bool region = R->q->region != R_NONE && (!strcmp(R->need[k], R->ra_name) || !strcmp(R->need[k], R->dec_name));
      P.role[k] = region ? ROLE_REGION : R->is_filt[k] ? ROLE_WHERE : ROLE_REST;
      if (region && P.nreg < 2) P.reg[P.nreg++] = k;
      else if (region) P.role[k] = ROLE_REST;   /* ra == dec name: read once */
      else if (P.role[k] == ROLE_WHERE) P.wk[P.nw++] = k;
      else P.xk[P.nx++] = k;
    }
    st_error e2;
    for (int c = 0; c < nl; c++) {
      st_pq_column_info inf;
      P.leaf_role[c] = -1;
      if (st_pq_describe_column(r, c, &inf, &e2) || inf.top_column < 0 || inf.top_column >= ff->n_children) continue;
      for (int k = 0; k < nneed; k++)
        if (P.fcol[k] == inf.top_column) { P.leaf_role[c] = P.role[k]; break; }
    }
  }
  for (int j = 0; j < nkeep && !rc; j++) {
    st_table *t = NULL;
    rc = do_rg(R, r, &P, keep[j], &t, st, err);
    if (!rc && t && t->n_rows) parts[nparts++] = t;
    else st_table_free(t);
  }
  if (!rc && nparts == 1) { *out = parts[0]; parts[0] = NULL; }
  else if (!rc && nparts > 1) rc = st_table_concat(parts, nparts, out, err);
done:
  if (rc) st_error_prefix(err, "%s: ", cf->rel ? cf->rel : cf->path);
  if (parts) for (int i = 0; i < nparts; i++) st_table_free(parts[i]);
  free(parts);
  fplan_free(&P);
  free(keep);
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
  if (q->region == R_PIXELS && q->npix <= (1 << 26)) {
    /* hash set of the pixels: >= 2 slots per pixel, a power of two */
    int bits = 4;
    while (((int64_t)1 << bits) < 2 * (int64_t)q->npix) bits++;
    size_t ns = (size_t)1 << bits;
    R.pix_set = malloc(ns * sizeof *R.pix_set);
    R.pix_bloom = calloc((1 << PIX_BLOOM_BITS) / 8, 1);
    if (!R.pix_bloom) { free(R.pix_set); R.pix_set = NULL; }
    if (R.pix_set) {
      memset(R.pix_set, 0xff, ns * sizeof *R.pix_set);
      R.pix_mask = ns - 1;
      R.pix_shift = 64 - bits;
      for (int i = 0; i < q->npix; i++) {
        uint64_t h = ((uint64_t)q->pix[i] * 0x9E3779B97F4A7C15ull) >> R.pix_shift;
        while (R.pix_set[h] >= 0 && R.pix_set[h] != q->pix[i]) h = (h + 1) & R.pix_mask;
        R.pix_set[h] = q->pix[i];
        uint64_t g = ((uint64_t)q->pix[i] * 0xC2B2AE3D27D4EB4Full) >> (64 - PIX_BLOOM_BITS);
        R.pix_bloom[g >> 3] |= (uint8_t)(1u << (g & 7));
      }
    }
  }
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
  free(R.dec_bits); free(R.pix_set); free(R.pix_bloom);
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
