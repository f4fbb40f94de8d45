/*
** This file implements light curves (st_lightcurves_run, st_lightcurves_nest;
** semantics in include/skytile/xmatch.h).
**
** Run:
**   1. Targets: the id column is kept as is; ra/dec become double arrays
**      (null, NaN, infinite or |dec| > 90 -> NaN, which never matches).
**   2. Cells: every valid target's cone (radius widened by LC_COVER_REL) is
**      covered at the finest order k whose cells are at least as large as
**      the cone (inclusive: the neighbour walk st_hpx_cone_pixels_small, or
**      st_hpx_cone_moc when a cone needs more cells), the cells are sorted and made
**      unique; beyond LC_MAX_CELLS the set is coarsened one order at a time
**      (the cones are covered on o->threads threads, cover_cells_par, with
**      the same result as the sequential cover_cells).
**   3. Per catalog, one st_query: region = the cells, columns = detection
**      columns + the catalog's ra/dec, where = the user's filter (and, for a
**      catalog without _healpix_29, the merged Dec intervals of the cones, so
**      Dec statistics prune row groups), Dec hint = every target's Dec band
**      (dec +- radius: only rows there can match, and the query's Dec
**      pre-filter then passes far fewer rows than the cells' bands would).
**      Catalogs of similar size (within 4x) are queried at once (up to
**      2 x threads of them, each with all threads; run_catalogs), so no core
**      idles during each query's set-up and last partitions; else one after
**      the other with all threads.  Results are appended in catalog order either way:
**      their ra/dec go into one pair of double arrays for all catalogs (rows
**      numbered catalog by catalog, each in the query's _healpix_29/file
**      order) and their detection columns are projected (zero-copy) and
**      concatenated.
**   4. st_xm_match(targets vs rows, all within radius) gives pairs grouped by
**      target; inside each target the pairs are sorted by (time key, row
**      number).  Time keys are uint64 built columnar: floats by the usual
**      order-preserving bit flip, signed integers by flipping the sign bit,
**      nulls/NaN as UINT64_MAX (last), so one merge sort covers every type.
**   5. The flat table is gathered column by column (st_array_take); the
**      nested one wraps the flat detection arrays in LIST arrays sharing one
**      offsets buffer (no copy of the values) inside a STRUCT `lc`.
** Nothing is allocated per row: per-row work is array loops.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skytile.h"
#include "util/err.h"
#include "util/mem.h"
#include "healpix/hpx.h"
#include "query/query_int.h"
#include "xmatch/xmatch_int.h"

#define LC_MAX_CELLS (1 << 24)      /* cells of the pruning region            */
#define LC_MAX_DEC_INTERVALS 16     /* Dec intervals added to the where       */
#define LC_COVER_REL 1e-6           /* cone widening for the cell coverage    */
#define LC_MAX_COLUMNS 100000

void st_lc_options_init(st_lc_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->id_column = "id";
  o->target_ra_column = "ra";
  o->target_dec_column = "dec";
}

static int nomem(st_error *err) { return st_fail(err, ST_ERR_NOMEM, "lightcurves: out of memory"); }

static int schema_index(const st_field *s, const char *name) {
  for (int i = 0; i < s->n_children; i++)
    if (!strcmp(s->children[i].name, name)) return i;
  return -1;
}

/* out[i] = value of numeric column (f, a) as double; null -> NaN. */
static int col_doubles(const st_field *f, const st_array *a, double *out, const char *what,
                       st_error *err) {
  int64_t n = a->length, o = a->offset;
  if (f->dict_encoded) goto bad;
  if (n == 0) return 0;
  switch (f->type) {
#define LC_CONV(T, ctype)                                        \
  case T: {                                                      \
    const ctype *x = (const ctype *)a->buf[1] + o;               \
    for (int64_t i = 0; i < n; i++) out[i] = (double)x[i];       \
    break;                                                       \
  }
    LC_CONV(ST_T_DOUBLE, double)
    LC_CONV(ST_T_FLOAT, float)
    LC_CONV(ST_T_INT8, int8_t)
    LC_CONV(ST_T_INT16, int16_t)
    LC_CONV(ST_T_INT32, int32_t)
    LC_CONV(ST_T_INT64, int64_t)
    LC_CONV(ST_T_UINT8, uint8_t)
    LC_CONV(ST_T_UINT16, uint16_t)
    LC_CONV(ST_T_UINT32, uint32_t)
    LC_CONV(ST_T_UINT64, uint64_t)
#undef LC_CONV
  default: goto bad;
  }
  if (a->buf[0])
    for (int64_t i = 0; i < n; i++)
      if (!st_array_is_valid(a, i)) out[i] = NAN;
  return 0;
bad:;
  char ty[64];
  st_field_type_string(f, ty, sizeof ty);
  return st_fail(err, ST_ERR_SCHEMA, "lightcurves: %s column '%s' is %s, not a number", what, f->name, ty);
}

/* Order-preserving uint64 keys of the time column; nulls and NaN -> UINT64_MAX. */
static int time_keys(const st_field *f, const st_array *a, uint64_t *key, st_error *err) {
  int64_t n = a->length, o = a->offset;
  const uint64_t SIGN = (uint64_t)1 << 63;
  if (f->dict_encoded) goto bad;
  if (n == 0) return 0;
  switch (f->type) {
  case ST_T_DOUBLE: case ST_T_FLOAT: {
    for (int64_t i = 0; i < n; i++) {
      double v = f->type == ST_T_DOUBLE ? ((const double *)a->buf[1])[o + i] : ((const float *)a->buf[1])[o + i];
      uint64_t u;
      if (v == 0) v = 0.0;               /* -0 sorts with +0 */
      memcpy(&u, &v, 8);
      u = (u & SIGN) ? ~u : (u | SIGN);
      key[i] = isnan(v) ? UINT64_MAX : u;
    }
    break;
  }
#define LC_SKEY(T, ctype)                                                         \
  case T: {                                                                       \
    const ctype *x = (const ctype *)a->buf[1] + o;                                \
    for (int64_t i = 0; i < n; i++) key[i] = (uint64_t)(int64_t)x[i] ^ SIGN;      \
    break;                                                                        \
  }
#define LC_UKEY(T, ctype)                                                         \
  case T: {                                                                       \
    const ctype *x = (const ctype *)a->buf[1] + o;                                \
    for (int64_t i = 0; i < n; i++) key[i] = (uint64_t)x[i];                      \
    break;                                                                        \
  }
    LC_SKEY(ST_T_INT8, int8_t)
    LC_SKEY(ST_T_INT16, int16_t)
    LC_SKEY(ST_T_INT32, int32_t)
    LC_SKEY(ST_T_DATE32, int32_t)
    LC_SKEY(ST_T_TIME32, int32_t)
    LC_SKEY(ST_T_INT64, int64_t)
    LC_SKEY(ST_T_DATE64, int64_t)
    LC_SKEY(ST_T_TIME64, int64_t)
    LC_SKEY(ST_T_TIMESTAMP, int64_t)
    LC_SKEY(ST_T_DURATION, int64_t)
    LC_UKEY(ST_T_UINT8, uint8_t)
    LC_UKEY(ST_T_UINT16, uint16_t)
    LC_UKEY(ST_T_UINT32, uint32_t)
    LC_UKEY(ST_T_UINT64, uint64_t)
#undef LC_SKEY
#undef LC_UKEY
  default: goto bad;
  }
  /* a UINT64 of value UINT64_MAX ties with nulls; ties are then by row */
  if (a->buf[0])
    for (int64_t i = 0; i < n; i++)
      if (!st_array_is_valid(a, i)) key[i] = UINT64_MAX;
  return 0;
bad:;
  char ty[64];
  st_field_type_string(f, ty, sizeof ty);
  return st_fail(err, ST_ERR_SCHEMA, "lightcurves: time column '%s' is %s (need a number, date, time, "
                 "timestamp or duration)", f->name, ty);
}

/* Sort perm[0..n) by (k[p], r[p]) (merge sort; tmp has n slots). */
static void sort_pairs(int64_t *perm, int64_t *tmp, int64_t n, const uint64_t *k, const int64_t *r) {
  if (n < 16) {
    for (int64_t i = 1; i < n; i++) {
      int64_t p = perm[i], j = i;
      while (j > 0 && (k[perm[j - 1]] > k[p] || (k[perm[j - 1]] == k[p] && r[perm[j - 1]] > r[p]))) {
        perm[j] = perm[j - 1];
        j--;
      }
      perm[j] = p;
    }
    return;
  }
  int64_t h = n / 2;
  sort_pairs(perm, tmp, h, k, r);
  sort_pairs(perm + h, tmp, n - h, k, r);
  int64_t i = 0, j = h, m = 0;
  while (i < h && j < n) {
    int64_t a = perm[i], b = perm[j];
    bool bfirst = k[b] < k[a] || (k[b] == k[a] && r[b] < r[a]);
    tmp[m++] = bfirst ? perm[j++] : perm[i++];
  }
  while (i < h) tmp[m++] = perm[i++];
  while (j < n) tmp[m++] = perm[j++];
  memcpy(perm, tmp, (size_t)n * sizeof *perm);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t unique_i64(int64_t *v, int64_t n) {
  qsort(v, (size_t)n, sizeof *v, cmp_i64);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!m || v[m - 1] != v[i]) v[m++] = v[i];
  return m;
}

/* Append the cells at order k of one cone to v[*n..) (growing *v and *cap):
** the small-cone neighbour walk (st_hpx_cone_pixels_small: about 9 pixel
** tests) or the descent (st_hpx_cone_moc into m) when the cone needs more
** than a few cells.  Fails with ST_ERR_LIMIT (no message) instead of passing
** `limit` cells in all. */
static int cone_cells(int k, double ra, double dec, double r_deg, st_moc *m, int64_t **v, int64_t *n,
                      int64_t *cap, int64_t limit, st_error *err) {
  int64_t small[32];
  int ns = 0;
  st_error e2 = {0};
  int rc = st_hpx_cone_pixels_small(k, ra, dec, r_deg, small, 32, &ns, &e2);
  int64_t c = ns;
  if (rc == ST_ERR_LIMIT) {
    ST_TRY(st_hpx_cone_moc(k, ra, dec, r_deg, m, err));
    c = st_moc_npix(m, k);
  } else if (rc) {
    *err = e2;
    return rc;
  }
  if (*n + c > limit) return ST_ERR_LIMIT;
  if (*n + c > *cap) {
    int64_t nc = *cap ? *cap * 2 : 1024;
    while (nc < *n + c) nc *= 2;
    int64_t *nv = realloc(*v, (size_t)nc * sizeof *nv);
    if (!nv) return nomem(err);
    *v = nv; *cap = nc;
  }
  if (rc == ST_ERR_LIMIT) {
    int64_t got = 0;
    ST_TRY(st_moc_pixels(m, k, *v + *n, *cap - *n, &got, err));
    *n += got;
  } else {
    memcpy(*v + *n, small, (size_t)ns * sizeof *small);
    *n += ns;
  }
  return 0;
}

/* The union of the targets' cone cells: *pix (sorted, unique), *npix, *order. */
static int cover_cells(const double *ra, const double *dec, int64_t nt, double r_deg, int64_t **pix,
                       int64_t *npix, int *order, st_error *err) {
  int k = 0;
  for (int o = 29; o >= 0; o--)
    if (st_hpx_max_pixrad(o) >= r_deg) { k = o; break; }
  st_moc m;
  st_moc_init(&m, k);
  int64_t *v = NULL, n = 0, cap = 0;
  int rc = 0;
  for (int64_t t = 0; t < nt && !rc; t++) {
    if (isnan(ra[t])) continue;
    if ((rc = cone_cells(k, ra[t], dec[t], r_deg, &m, &v, &n, &cap, INT64_MAX, err))) break;
    if (n > 4 * (int64_t)LC_MAX_CELLS) {         /* keep memory bounded: coarsen now */
      n = unique_i64(v, n);
      while (n > LC_MAX_CELLS && k > 0) {
        for (int64_t i = 0; i < n; i++) v[i] >>= 2;
        n = unique_i64(v, n);
        k--;
      }
    }
  }
  st_moc_free(&m);
  if (rc) { free(v); return rc; }
  n = unique_i64(v, n);
  while (n > LC_MAX_CELLS && k > 0) {
    for (int64_t i = 0; i < n; i++) v[i] >>= 2;
    n = unique_i64(v, n);
    k--;
  }
  *pix = v; *npix = n; *order = k;
  return 0;
}

/* One thread's share of cover_cells_par: cells of targets [t0, t1) at order k. */
typedef struct cc_job {
  const double *ra, *dec;
  int64_t t0, t1;
  double r_deg;
  int k;
  int64_t *v, n, cap;
  int rc;
  st_error err;
} cc_job;

static void *cc_worker(void *arg) {
  cc_job *J = arg;
  st_moc m;
  st_moc_init(&m, J->k);
  for (int64_t t = J->t0; t < J->t1 && !J->rc; t++) {
    if (isnan(J->ra[t])) continue;
    /* ST_ERR_LIMIT past 4 x LC_MAX_CELLS -> the sequential cover_cells */
    if ((J->rc = cone_cells(J->k, J->ra[t], J->dec[t], J->r_deg, &m, &J->v, &J->n, &J->cap,
                            4 * (int64_t)LC_MAX_CELLS, &J->err)))
      break;
  }
  st_moc_free(&m);
  return NULL;
}

/*
** cover_cells on `threads` threads, each covering a range of targets at the
** same order; the union is then made unique and coarsened as in
** cover_cells.  When the cells together would exceed the bound at which
** cover_cells coarsens during its loop (4 x LC_MAX_CELLS), cover_cells
** itself runs instead, so the result is always the same.
*/
static int cover_cells_par(const double *ra, const double *dec, int64_t nt, double r_deg, int threads,
                           int64_t **pix, int64_t *npix, int *order, st_error *err) {
  if (threads > 8) threads = 8;
  if (threads <= 1 || nt < 512) return cover_cells(ra, dec, nt, r_deg, pix, npix, order, err);
  int k = 0;
  for (int o = 29; o >= 0; o--)
    if (st_hpx_max_pixrad(o) >= r_deg) { k = o; break; }
  cc_job J[8];
  pthread_t th[8];
  bool started[8] = {false};
  memset(J, 0, sizeof J);
  for (int i = 0; i < threads; i++) {
    J[i] = (cc_job){ra, dec, nt * i / threads, nt * (i + 1) / threads, r_deg, k, NULL, 0, 0, 0, {0}};
    started[i] = i > 0 && !pthread_create(&th[i], NULL, cc_worker, &J[i]);
  }
  for (int i = 0; i < threads; i++) if (!started[i]) cc_worker(&J[i]);
  for (int i = 1; i < threads; i++) if (started[i]) pthread_join(th[i], NULL);
  int rc = 0;
  int64_t total = 0;
  for (int i = 0; i < threads; i++) {
    if (J[i].rc == ST_ERR_LIMIT) rc = ST_ERR_LIMIT;
    else if (J[i].rc && !rc) { rc = J[i].rc; *err = J[i].err; }
    total += J[i].n;
  }
  if (!rc && total > 4 * (int64_t)LC_MAX_CELLS) rc = ST_ERR_LIMIT;
  int64_t *v = NULL;
  if (!rc) {
    v = malloc(((size_t)total + 1) * sizeof *v);
    if (!v) rc = nomem(err);
    int64_t n = 0;
    for (int i = 0; i < threads && v; i++) {
      if (J[i].n) memcpy(v + n, J[i].v, (size_t)J[i].n * sizeof *v);
      n += J[i].n;
    }
    total = n;
  }
  for (int i = 0; i < threads; i++) free(J[i].v);
  if (rc == ST_ERR_LIMIT) return cover_cells(ra, dec, nt, r_deg, pix, npix, order, err);
  if (rc) { free(v); return rc; }
  int64_t n = unique_i64(v, total);
  while (n > LC_MAX_CELLS && k > 0) {
    for (int64_t i = 0; i < n; i++) v[i] >>= 2;
    n = unique_i64(v, n);
    k--;
  }
  *pix = v; *npix = n; *order = k;
  return 0;
}

typedef struct lc_iv { double lo, hi; } lc_iv;

static int cmp_iv(const void *a, const void *b) {
  const lc_iv *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* "`dec` >= a and `dec` <= b or ..." for the merged Dec intervals of the cones
   (NULL when a name cannot be quoted); *out is malloc'd. */
static int dec_filter(const double *ra, const double *dec, int64_t nt, double r_deg, const char *dec_name,
                      char **out, st_error *err) {
  *out = NULL;
  if (strchr(dec_name, '`')) return 0;
  lc_iv *iv = malloc(((size_t)nt + 1) * sizeof *iv);
  if (!iv) return nomem(err);
  int64_t n = 0;
  double pad = r_deg + 1e-9;
  for (int64_t t = 0; t < nt; t++) {
    if (isnan(ra[t])) continue;
    iv[n].lo = dec[t] - pad < -90 ? -90 : dec[t] - pad;
    iv[n].hi = dec[t] + pad > 90 ? 90 : dec[t] + pad;
    n++;
  }
  if (!n) { free(iv); return 0; }
  qsort(iv, (size_t)n, sizeof *iv, cmp_iv);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (m && iv[i].lo <= iv[m - 1].hi) { if (iv[i].hi > iv[m - 1].hi) iv[m - 1].hi = iv[i].hi; }
    else iv[m++] = iv[i];
  }
  if (m > LC_MAX_DEC_INTERVALS) {
    /* keep the LC_MAX_DEC_INTERVALS - 1 widest gaps: close every gap narrower than the threshold */
    double *gaps = malloc((size_t)m * sizeof *gaps);
    if (!gaps) { free(iv); return nomem(err); }
    for (int64_t i = 1; i < m; i++) gaps[i - 1] = iv[i].lo - iv[i - 1].hi;
    qsort(gaps, (size_t)(m - 1), sizeof *gaps, cmp_dbl);
    double thr = gaps[m - 1 - LC_MAX_DEC_INTERVALS];   /* the largest gap closed */
    free(gaps);
    int64_t w = 0, kept = 0;
    for (int64_t i = 0; i < m; i++) {
      if (w && (iv[i].lo - iv[w - 1].hi <= thr || kept >= LC_MAX_DEC_INTERVALS - 1)) {
        if (iv[i].hi > iv[w - 1].hi) iv[w - 1].hi = iv[i].hi;
      } else {
        if (w) kept++;
        iv[w++] = iv[i];
      }
    }
    m = w;
  }
  size_t cap = (size_t)m * (2 * strlen(dec_name) + 80) + 16;
  char *s = malloc(cap);
  if (!s) { free(iv); return nomem(err); }
  size_t len = 0;
  for (int64_t i = 0; i < m; i++)
    len += (size_t)snprintf(s + len, cap - len, "%s`%s` >= %.17g and `%s` <= %.17g", i ? " or " : "", dec_name,
                            iv[i].lo, dec_name, iv[i].hi);
  free(iv);
  *out = s;
  return 0;
}

/* Sum rows, row groups and compressed bytes of every file of c (footers
   opened only for files no _metadata lists; a row group's bytes are its
   total_compressed_size when recorded, else the sum of its chunks). */
static int catalog_totals(const st_catalog *c, st_lc_stats *st, st_error *err) {
  int nf = st_catalog_n_files(c);
  for (int f = 0; f < nf; f++) {
    st_catalog_file cf;
    ST_TRY(st_catalog_file_info(c, f, &cf, err));
    const st_pq_reader *sr = cf.md;
    st_pq_reader *r = NULL;
    int first = cf.md_first_rg, nrg = cf.md_n_rg;
    if (!sr) {
      ST_TRY(st_pq_open(cf.path, NULL, &r, err));
      sr = r; first = 0; nrg = st_pq_num_row_groups(r);
    }
    int ncol = st_pq_num_columns(sr);
    for (int g = first; g < first + nrg; g++) {
      st->row_groups_total++;
      st->rows_total += st_pq_row_group_num_rows(sr, g);
      st_pq_row_group_info ri;
      st_error e2;
      if (!st_pq_describe_row_group(sr, g, &ri, &e2) && ri.total_compressed_size >= 0) {
        st->bytes_total += ri.total_compressed_size;   /* one call instead of one per chunk */
        continue;
      }
      for (int k = 0; k < ncol; k++) {
        st_pq_chunk_info ci;
        if (!st_pq_describe_chunk(sr, g, k, &ci, &e2)) st->bytes_total += ci.compressed_size;
      }
    }
    st_pq_close(r);
  }
  return 0;
}

/* A copy of field src named `name`. */
static int field_renamed(st_field *dst, const st_field *src, const char *name, st_error *err) {
  if (st_field_copy(dst, src)) return nomem(err);
  char *n = strdup(name);
  if (!n) { st_field_clear(dst); return nomem(err); }
  free(dst->name);
  dst->name = n;
  return 0;
}

/* A DOUBLE array of v[0..n) (or an INT64 one when i64). */
static int make_array(const char *name, st_type_id type, const void *v, int64_t n, st_field *f, st_array **out,
                      st_error *err) {
  if (st_field_init(f, name, type, type == ST_T_DOUBLE)) return nomem(err);
  st_builder *b = NULL;
  int rc = st_builder_new(f, &b, err);
  if (!rc && n) rc = st_builder_append_values(b, v, n, NULL, err);
  if (!rc) rc = st_builder_finish(b, out, err);
  st_builder_free(b);
  if (rc) st_field_clear(f);
  return rc;
}

/* ---- nesting ---------------------------------------------------------------- */

/* eq[i] = 1 when rows i-1 and i of (f, a) hold equal values (i >= 1); eq
   starts all 1.  Slow path for types without a direct comparison: their
   JSON text. */
static int rows_equal_prev(const st_field *f, const st_array *a, uint8_t *eq, int depth, st_error *err) {
  int64_t n = a->length, o = a->offset;
  if (n < 2) return 0;
  if (depth > 4) return st_fail(err, ST_ERR_UNSUPPORTED, "lightcurves: id column too deeply nested");
  if (f->dict_encoded) {
    st_field vf = *f;
    vf.dict_encoded = false;
    const int32_t *ix = (const int32_t *)a->buf[1] + o;
    const st_array *d = a->dictionary;
    /* compare dictionary values at the two indices: direct for fixed width and strings */
    int w = st_type_byte_width(&vf);
    for (int64_t i = 1; i < n; i++) {
      if (!eq[i]) continue;
      int32_t x = ix[i - 1], y = ix[i];
      bool same = x == y;
      if (!same && x >= 0 && y >= 0 && x < d->length && y < d->length) {
        bool vx = st_array_is_valid(d, x), vy = st_array_is_valid(d, y);
        if (vx != vy) same = false;
        else if (!vx) same = true;
        else if (w > 0) same = !memcmp(d->buf[1] + (d->offset + x) * w, d->buf[1] + (d->offset + y) * w, (size_t)w);
        else if (vf.type == ST_T_STRING || vf.type == ST_T_BINARY) {
          const int32_t *of = (const int32_t *)d->buf[1] + d->offset;
          same = of[x + 1] - of[x] == of[y + 1] - of[y] && !memcmp(d->buf[2] + of[x], d->buf[2] + of[y], (size_t)(of[x + 1] - of[x]));
        } else if (vf.type == ST_T_LARGE_STRING || vf.type == ST_T_LARGE_BINARY) {
          const int64_t *of = (const int64_t *)d->buf[1] + d->offset;
          same = of[x + 1] - of[x] == of[y + 1] - of[y] && !memcmp(d->buf[2] + of[x], d->buf[2] + of[y], (size_t)(of[x + 1] - of[x]));
        }
      }
      eq[i] = same;
    }
  } else {
    int w = st_type_byte_width(f);
    if (w > 0) {
      const uint8_t *v = a->buf[1] + o * w;
      for (int64_t i = 1; i < n; i++) eq[i] &= !memcmp(v + (i - 1) * w, v + i * w, (size_t)w);
    } else if (w < 0) {
      for (int64_t i = 1; i < n; i++) {
        int64_t p = o + i - 1, q = o + i;
        eq[i] &= ((a->buf[1][p >> 3] >> (p & 7)) & 1) == ((a->buf[1][q >> 3] >> (q & 7)) & 1);
      }
    } else if (f->type == ST_T_STRING || f->type == ST_T_BINARY) {
      const int32_t *of = (const int32_t *)a->buf[1] + o;
      for (int64_t i = 1; i < n; i++)
        eq[i] &= of[i] - of[i - 1] == of[i + 1] - of[i] &&
                 !memcmp(a->buf[2] + of[i - 1], a->buf[2] + of[i], (size_t)(of[i] - of[i - 1]));
    } else if (f->type == ST_T_LARGE_STRING || f->type == ST_T_LARGE_BINARY) {
      const int64_t *of = (const int64_t *)a->buf[1] + o;
      for (int64_t i = 1; i < n; i++)
        eq[i] &= of[i] - of[i - 1] == of[i + 1] - of[i] &&
                 !memcmp(a->buf[2] + of[i - 1], a->buf[2] + of[i], (size_t)(of[i] - of[i - 1]));
    } else if (f->type == ST_T_NULL) {
      /* all equal */
    } else {
      st_text x = {0}, y = {0};
      int rc = 0;
      for (int64_t i = 1; i < n && !rc; i++) {
        if (!eq[i]) continue;
        x.len = y.len = 0;
        if ((rc = st_format_value(f, a, i - 1, ST_FMT_JSON, &x, err))) break;
        if ((rc = st_format_value(f, a, i, ST_FMT_JSON, &y, err))) break;
        eq[i] = x.len == y.len && (!x.len || !memcmp(x.data, y.data, x.len));
      }
      st_text_free(&x);
      st_text_free(&y);
      if (rc) return rc;
    }
  }
  /* nulls: equal only to nulls (the value comparisons above ignored validity) */
  if (a->buf[0])
    for (int64_t i = 1; i < n; i++) {
      bool p = st_array_is_valid(a, i - 1), q = st_array_is_valid(a, i);
      if (p != q) eq[i] = 0;
      else if (!p) eq[i] = 1;     /* both null: equal */
    }
  return 0;
}

/* LIST (or LARGE_LIST: the block's width says) array over child with the
   shared offsets block; takes child. */
static int wrap_list(st_array *child, int64_t ng, st_mem *offs, st_array **out, st_error *err) {
  st_array *l = st_array_new();
  st_array **ch = malloc(sizeof *ch);
  if (!l || !ch) { st_array_free(l); free(ch); st_array_free(child); return nomem(err); }
  l->length = ng;
  l->null_count = 0;
  l->offset = 0;
  l->n_buffers = 2;
  l->buf[1] = offs->data;
  l->mem[1] = st_mem_ref(offs);
  l->n_children = 1;
  l->children = ch;
  ch[0] = child;
  *out = l;
  return 0;
}

/* Nest flat rows by the group starts g0[0..ng) (g0[ng] = n_rows). */
static int nest_groups(const st_table *flat, const int64_t *g0, int64_t ng, st_table **out, st_error *err) {
  int nc = flat->n_columns;
  int ndet = nc - 3;
  int64_t n = flat->n_rows;
  bool large = n > INT32_MAX;
  st_field fields[5];
  st_array *cols[5] = {0};
  int nf = 0, rc = 0;
  memset(fields, 0, sizeof fields);
  int64_t *cnt = malloc(((size_t)ng + 1) * sizeof *cnt);
  st_mem *offs = st_mem_new(((size_t)ng + 1) * (large ? 8 : 4));
  st_field lcf, *lfs = calloc((size_t)ndet + 1, sizeof *lfs);
  st_array *lca = NULL;
  memset(&lcf, 0, sizeof lcf);
  if (!cnt || !offs || !lfs) { rc = nomem(err); goto done; }
  for (int64_t g = 0; g < ng; g++) cnt[g] = g0[g + 1] - g0[g];
  if (large) {
    int64_t *of = (int64_t *)offs->data;
    for (int64_t g = 0; g <= ng; g++) of[g] = g0[g];
  } else {
    int32_t *of = (int32_t *)offs->data;
    for (int64_t g = 0; g <= ng; g++) of[g] = (int32_t)g0[g];
  }
  /* id, _target_ra, _target_dec: the first row of each group */
  for (int c = 0; c < 3; c++) {
    if (st_field_copy(&fields[nf], &flat->schema.children[c])) { rc = nomem(err); goto done; }
    nf++;
    if ((rc = st_array_take(&flat->schema.children[c], flat->columns[c], g0, ng, &cols[c], err))) goto done;
  }
  if ((rc = make_array("_n", ST_T_INT64, cnt, ng, &fields[nf], &cols[3], err))) goto done;
  nf++;
  /* lc: STRUCT of LISTs over the flat columns */
  if (st_field_init(&lcf, "lc", ST_T_STRUCT, true)) { rc = nomem(err); goto done; }
  lca = st_array_new();
  if (!lca || !(lca->children = calloc((size_t)ndet + 1, sizeof *lca->children))) { rc = nomem(err); goto done; }
  lca->length = ng;
  lca->null_count = 0;
  lca->n_buffers = 1;
  for (int c = 0; c < ndet; c++) {
    const st_field *df = &flat->schema.children[3 + c];
    st_field ef;
    if ((rc = field_renamed(&ef, df, "element", err))) goto done;
    ef.nullable = true;
    if (st_field_init(&lfs[c], df->name, large ? ST_T_LARGE_LIST : ST_T_LIST, true) ||
        st_field_add_child(&lfs[c], &ef)) {
      st_field_clear(&ef);
      rc = nomem(err);
      goto done;
    }
    st_field_clear(&ef);
    if (st_field_add_child(&lcf, &lfs[c])) { rc = nomem(err); goto done; }
    st_array *child = NULL;
    if ((rc = st_array_slice(flat->columns[3 + c], 0, n, &child, err))) goto done;
    if ((rc = wrap_list(child, ng, offs, &lca->children[c], err))) goto done;
    lca->n_children++;
  }
  if (st_field_copy(&fields[nf], &lcf)) { rc = nomem(err); goto done; }
  nf++;
  cols[4] = lca;
  lca = NULL;
  rc = st_table_new(fields, cols, 5, ng, NULL, out, err);
  memset(cols, 0, sizeof cols);
done:
  for (int i = 0; i < 5; i++) st_array_free(cols[i]);
  for (int i = 0; i < nf; i++) st_field_clear(&fields[i]);
  for (int c = 0; c < ndet; c++) if (lfs) st_field_clear(&lfs[c]);
  free(lfs);
  st_field_clear(&lcf);
  st_array_free(lca);
  st_mem_unref(offs);
  free(cnt);
  return rc;
}

int st_lightcurves_nest(const st_table *flat, st_table **out, st_error *err) {
  ST_CHECK(flat && out, err, ST_ERR_INVALID, "lightcurves: nest: NULL argument");
  ST_CHECK(flat->n_columns >= 3 && !strcmp(flat->schema.children[1].name, "_target_ra") &&
               !strcmp(flat->schema.children[2].name, "_target_dec") &&
               flat->schema.children[1].type == ST_T_DOUBLE && flat->schema.children[2].type == ST_T_DOUBLE,
           err, ST_ERR_INVALID, "lightcurves: nest: not a flat light-curve table (id, _target_ra, _target_dec, ...)");
  int64_t n = flat->n_rows;
  uint8_t *eq = malloc((size_t)n + 1), *brk = calloc((size_t)n + 1, 1);
  int64_t *g0 = malloc(((size_t)n + 1) * sizeof *g0);
  int rc = 0;
  if (!eq || !brk || !g0) { rc = nomem(err); goto done; }
  for (int c = 0; c < 3 && !rc; c++) {
    memset(eq, 1, (size_t)n + 1);
    if ((rc = rows_equal_prev(&flat->schema.children[c], flat->columns[c], eq, 0, err))) break;
    for (int64_t i = 1; i < n; i++) brk[i] |= !eq[i];
  }
  if (rc) goto done;
  int64_t ng = 0;
  for (int64_t i = 0; i < n; i++)
    if (i == 0 || brk[i]) g0[ng++] = i;
  g0[ng] = n;
  rc = nest_groups(flat, g0, ng, out, err);
done:
  free(eq);
  free(brk);
  free(g0);
  return rc;
}

/* ---- run ---------------------------------------------------------------------- */

typedef struct lc_run {
  const st_lc_options *o;
  char **names; int nnames;          /* detection columns (time first if added) */
  int64_t nt;                        /* targets                                */
  double *tra, *tdec;                /* target positions (NaN = never matches) */
  int64_t *pix; int64_t npix; int order;  /* pruning cells                     */
  double *blo, *bhi; int nb;         /* Dec hint: the targets' bands dec +- R  */
  double *rra, *rdec; int64_t nr, rcap;   /* all catalogs' rows                */
  st_table **parts; int nparts;      /* per catalog: detection columns          */
} lc_run;

static void run_free(lc_run *R) {
  for (int i = 0; i < R->nnames; i++) free(R->names[i]);
  free(R->names);
  free(R->tra); free(R->tdec); free(R->pix); free(R->rra); free(R->rdec);
  free(R->blo); free(R->bhi);
  for (int i = 0; i < R->nparts; i++) st_table_free(R->parts[i]);
  free(R->parts);
}

static int add_name(lc_run *R, const char *name, bool front, st_error *err) {
  for (int i = 0; i < R->nnames; i++)
    if (!strcmp(R->names[i], name)) return 0;
  ST_CHECK(R->nnames < LC_MAX_COLUMNS, err, ST_ERR_LIMIT, "lightcurves: too many columns");
  char **v = realloc(R->names, (size_t)(R->nnames + 1) * sizeof *v);
  if (!v) return nomem(err);
  R->names = v;
  char *s = strdup(name);
  if (!s) return nomem(err);
  if (front) {
    memmove(v + 1, v, (size_t)R->nnames * sizeof *v);
    v[0] = s;
  } else v[R->nnames] = s;
  R->nnames++;
  return 0;
}

static const char *cat_radec(const st_catalog *c, const char *opt, const char *prop, const char *def) {
  if (opt) return opt;
  const char *p = st_catalog_property(c, prop);
  return p && *p ? p : def;
}

/* One catalog's query result (query_catalog), appended by add_catalog. */
typedef struct lc_qres {
  st_table *t;                       /* needed columns at the rows inside     */
  st_query_stats qs;
  int ira, idec;                     /* ra/dec column indices in t            */
  int rc;
  st_error err;
} lc_qres;

/* Query one catalog with `threads` threads into *Q (reads R only, so
   several catalogs may be queried at once). */
static int query_catalog(const lc_run *R, const st_catalog *c, int threads, lc_qres *Q, st_error *err) {
  const st_lc_options *o = R->o;
  const st_field *sc = st_catalog_schema(c);
  const char *ran = cat_radec(c, o->catalog_ra_column, "hats_col_ra", "ra");
  const char *decn = cat_radec(c, o->catalog_dec_column, "hats_col_dec", "dec");
  ST_CHECK(schema_index(sc, ran) >= 0 && schema_index(sc, decn) >= 0, err, ST_ERR_NOTFOUND,
           "lightcurves: %s: no ra/dec columns '%s'/'%s' (set the catalog's ra/dec column names)",
           st_catalog_path(c), ran, decn);
  st_query *q = NULL;
  char *dw = NULL, *where = NULL;
  const char **qn = malloc(((size_t)R->nnames + 2) * sizeof *qn);
  int rc = qn ? 0 : nomem(err);
  int nq = 0;
  if (rc) goto done;
  for (int i = 0; i < R->nnames; i++) qn[nq++] = R->names[i];
  int ira = -1, idec = -1;
  for (int i = 0; i < nq; i++) {
    if (!strcmp(qn[i], ran)) ira = i;
    if (!strcmp(qn[i], decn)) idec = i;
  }
  if (ira < 0) { ira = nq; qn[nq++] = ran; }
  if (idec < 0) { idec = nq; qn[nq++] = decn; }
  Q->ira = ira;
  Q->idec = idec;
  if ((rc = st_query_new(&q, err))) goto done;
  if ((rc = st_query_set_pixels(q, R->order, R->pix, (int)R->npix, err))) goto done;
  if (R->blo && (rc = st_query_set_dec_hint(q, R->blo, R->bhi, R->nb, err))) goto done;
  if ((rc = st_query_set_radec_columns(q, ran, decn, err))) goto done;
  if ((rc = st_query_set_columns(q, qn, nq, err))) goto done;
  if (schema_index(sc, "_healpix_29") < 0 &&
      (rc = dec_filter(R->tra, R->tdec, R->nt, R->o->radius_arcsec / 3600.0 * (1 + LC_COVER_REL), decn, &dw, err)))
    goto done;
  {
    const char *uw = o->where && *o->where ? o->where : NULL;
    if (uw && dw) {
      size_t len = strlen(uw) + strlen(dw) + 16;
      if (!(where = malloc(len))) { rc = nomem(err); goto done; }
      snprintf(where, len, "(%s) and (%s)", uw, dw);
    } else if (uw || dw) {
      if (!(where = strdup(uw ? uw : dw))) { rc = nomem(err); goto done; }
    }
  }
  if (where && (rc = st_query_set_where(q, where, err))) {
    /* a user syntax error: report it against the user's text */
    if (o->where && *o->where) {
      st_error e2;
      if (st_query_set_where(q, o->where, &e2)) *err = e2;
    }
    goto done;
  }
  st_query_set_threads(q, threads);
  rc = st_query_run(q, c, &Q->t, &Q->qs, err);
done:
  if (rc) st_error_prefix(err, "%s: ", st_catalog_path(c));
  st_query_free(q);
  free(qn); free(dw); free(where);
  return rc;
}

/* Append a queried catalog's rows: positions and detection columns (in
   catalog order); counts its statistics.  Q->t is consumed. */
static int add_catalog(lc_run *R, const st_catalog *c, lc_qres *Q, st_lc_stats *st, st_error *err) {
  st_table *t = Q->t;
  Q->t = NULL;
  st->rows_read += Q->qs.rows_read;
  st->bytes_read += Q->qs.bytes_read;
  st->row_groups_read += Q->qs.row_groups_read;
  st->partitions_read += Q->qs.partitions_region;
  st->partitions_total += Q->qs.partitions_total;
  st->files_opened += Q->qs.files_opened;
  int rc = 0, ira = Q->ira, idec = Q->idec;
  st->rows_candidate += t->n_rows;
  /* positions */
  if (R->nr + t->n_rows > R->rcap) {
    int64_t cap = R->rcap ? R->rcap : 1024;
    while (cap < R->nr + t->n_rows) cap *= 2;
    double *a = realloc(R->rra, (size_t)cap * sizeof *a);
    if (a) R->rra = a;
    double *b = a ? realloc(R->rdec, (size_t)cap * sizeof *b) : NULL;
    if (b) R->rdec = b;
    if (!a || !b) { rc = nomem(err); goto done; }
    R->rcap = cap;
  }
  if ((rc = col_doubles(&t->schema.children[ira], t->columns[ira], R->rra + R->nr, "catalog ra", err))) goto done;
  if ((rc = col_doubles(&t->schema.children[idec], t->columns[idec], R->rdec + R->nr, "catalog dec", err))) goto done;
  for (int64_t i = 0; i < t->n_rows; i++)
    if (!isfinite(R->rra[R->nr + i]) || !(fabs(R->rdec[R->nr + i]) <= 90)) R->rra[R->nr + i] = NAN;
  R->nr += t->n_rows;
  /* detection columns */
  {
    int *ix = malloc(((size_t)R->nnames + 1) * sizeof *ix);
    if (!ix) { rc = nomem(err); goto done; }
    for (int i = 0; i < R->nnames; i++) ix[i] = i;
    rc = st_table_select_columns(t, ix, R->nnames, &R->parts[R->nparts], err);
    free(ix);
    if (rc) goto done;
    R->nparts++;
  }
done:
  if (rc) st_error_prefix(err, "%s: ", st_catalog_path(c));
  st_table_free(t);
  return rc;
}

/* Catalogs queried at once by run_catalogs. */
typedef struct lc_cjobs {
  const lc_run *R;
  const st_catalog *const *cats;
  lc_qres *res;
  int n, threads_each;
  int next;
  pthread_mutex_t lock;
} lc_cjobs;

static void *cat_query_worker(void *arg) {
  lc_cjobs *J = arg;
  for (;;) {
    pthread_mutex_lock(&J->lock);
    int i = J->next < J->n ? J->next++ : -1;
    pthread_mutex_unlock(&J->lock);
    if (i < 0) return NULL;
    lc_qres *Q = &J->res[i];
    Q->rc = query_catalog(J->R, J->cats[i], J->threads_each, Q, &Q->err);
  }
}

/*
** Query every catalog and append the results in catalog order.  Several
** catalogs of similar size (rows[] from the metadata, within a factor 4)
** are queried at once on up to 2 x threads workers, each query with all
** the threads (at most 4 x threads in all; the system shares the cores
** among them; a query that ends
** first leaves its cores to the others): this keeps every core busy across
** the queries' sequential set-up and their last partitions (three
** catalogs on two cores, one thread each, left one core idle for the last
** 50-90 ms of the benchmark).  Otherwise (one catalog, one thread, sizes unknown or
** far apart) they are queried one after the other with all threads.  Each
** query's output does not depend on its thread count, so neither does the
** result.  The first error in catalog order is reported.
*/
static int run_catalogs(lc_run *R, const st_catalog *const *cats, int n, const int64_t *rows, st_lc_stats *st,
                        st_error *err) {
  int threads = R->o->threads > 0 ? R->o->threads : 1;
  if (threads > 1024) threads = 1024;
  int par = 1;
  if (n >= 2 && threads >= 2) {
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < n; i++) {
      lo = rows[i] < lo ? rows[i] : lo;
      hi = rows[i] > hi ? rows[i] : hi;
    }
    if (lo > 0 && hi <= 4 * lo) par = n < 2 * threads ? n : 2 * threads;
  }
  lc_qres *res = calloc((size_t)n, sizeof *res);
  if (!res) return nomem(err);
  int rc = 0;
  if (par <= 1) {
    for (int i = 0; i < n && !rc; i++) {
      rc = query_catalog(R, cats[i], threads, &res[i], err);
      if (!rc) rc = add_catalog(R, cats[i], &res[i], st, err);
    }
  } else {
    /* each query with all threads, at most 4 x threads in all */
    int each = 4 * threads / par < threads ? 4 * threads / par : threads;
    lc_cjobs J = {.R = R, .cats = cats, .res = res, .n = n, .threads_each = each > 1 ? each : 1};
    pthread_mutex_init(&J.lock, NULL);
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < par && started < 64; t++) {
      if (pthread_create(&th[started], NULL, cat_query_worker, &J)) break;
      started++;
    }
    cat_query_worker(&J);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&J.lock);
    for (int i = 0; i < n && !rc; i++) {
      if (res[i].rc) { rc = res[i].rc; *err = res[i].err; break; }
      rc = add_catalog(R, cats[i], &res[i], st, err);
    }
  }
  for (int i = 0; i < n; i++) st_table_free(res[i].t);
  free(res);
  return rc;
}

int st_lightcurves_run(const st_catalog *const *catalogs, int n_catalogs, const st_table *targets,
                       const st_lc_options *o, st_table **out, st_lc_stats *stats, st_error *err) {
  st_lc_stats st;
  memset(&st, 0, sizeof st);
  if (stats) *stats = st;
  ST_CHECK(o && o->struct_size >= sizeof *o, err, ST_ERR_INVALID, "lightcurves: options not initialised "
           "(st_lc_options_init)");
  ST_CHECK(catalogs && n_catalogs >= 1 && targets && out, err, ST_ERR_INVALID,
           "lightcurves: give targets and at least one catalog");
  for (int i = 0; i < n_catalogs; i++)
    ST_CHECK(catalogs[i] && st_catalog_schema(catalogs[i]), err, ST_ERR_INVALID, "lightcurves: catalog %d is not open", i + 1);
  ST_CHECK(isfinite(o->radius_arcsec) && o->radius_arcsec > 0 && o->radius_arcsec <= 180 * 3600.0, err,
           ST_ERR_INVALID, "lightcurves: radius %g arcsec is not in (0, 648000]", o->radius_arcsec);
  ST_CHECK(o->time_column && *o->time_column, err, ST_ERR_INVALID, "lightcurves: a time column is required");
  ST_CHECK(o->n_columns >= 0 && o->n_columns <= LC_MAX_COLUMNS && (o->n_columns == 0 || o->columns), err,
           ST_ERR_INVALID, "lightcurves: bad column list");
  const char *idn = o->id_column ? o->id_column : "id";
  const char *tran = o->target_ra_column ? o->target_ra_column : "ra";
  const char *tdecn = o->target_dec_column ? o->target_dec_column : "dec";
  int idc = st_table_column_index(targets, idn);
  int trc = st_table_column_index(targets, tran), tdc = st_table_column_index(targets, tdecn);
  ST_CHECK(idc >= 0, err, ST_ERR_NOTFOUND, "lightcurves: targets have no id column '%s'", idn);
  ST_CHECK(trc >= 0 && tdc >= 0, err, ST_ERR_NOTFOUND, "lightcurves: targets have no ra/dec columns '%s'/'%s'",
           tran, tdecn);

  lc_run R;
  memset(&R, 0, sizeof R);
  R.o = o;
  st_xm_pairs pr;
  memset(&pr, 0, sizeof pr);
  st_table *det = NULL, *flat = NULL;
  int64_t *perm = NULL, *tmp = NULL, *sel = NULL, *g0 = NULL;
  uint64_t *rkey = NULL, *pkey = NULL;
  int64_t *crows = NULL;
  double *dv = NULL;
  st_field nf[4];
  st_array **ocols = NULL;
  st_field *ofields = NULL;
  int nof = 0;
  memset(nf, 0, sizeof nf);
  int rc = 0;
  const st_field *s0 = st_catalog_schema(catalogs[0]);

  /* detection columns: the time column first unless chosen */
  if (o->n_columns) {
    bool has_time = false;
    for (int i = 0; i < o->n_columns; i++) {
      ST_CHECK(o->columns[i] && *o->columns[i], err, ST_ERR_INVALID, "lightcurves: empty column name");
      has_time |= !strcmp(o->columns[i], o->time_column);
    }
    if (!has_time && (rc = add_name(&R, o->time_column, false, err))) goto done;
    for (int i = 0; i < o->n_columns && !rc; i++) rc = add_name(&R, o->columns[i], false, err);
  } else {
    for (int i = 0; i < s0->n_children && !rc; i++) rc = add_name(&R, s0->children[i].name, false, err);
    if (!rc && schema_index(s0, o->time_column) < 0) rc = add_name(&R, o->time_column, true, err);
  }
  if (rc) goto done;
  for (int i = 0; i < R.nnames; i++) {
    const char *nm = R.names[i];
    if (!strcmp(nm, "_target_ra") || !strcmp(nm, "_target_dec") || !strcmp(nm, "_dist_arcsec")) {
      rc = st_fail(err, ST_ERR_INVALID, "lightcurves: detection column '%s' clashes with an output column", nm);
      goto done;
    }
    int k0 = -1;
    for (int c = 0; c < n_catalogs; c++) {
      const st_field *s = st_catalog_schema(catalogs[c]);
      int k = schema_index(s, nm);
      if (k < 0) {
        rc = st_fail(err, ST_ERR_NOTFOUND, "lightcurves: %s: no column '%s'", st_catalog_path(catalogs[c]), nm);
        goto done;
      }
      if (c == 0) { k0 = k; continue; }
      if (!st_field_equal(&s0->children[k0], &s->children[k])) {
        char a[96], b[96];
        st_field_type_string(&s0->children[k0], a, sizeof a);
        st_field_type_string(&s->children[k], b, sizeof b);
        rc = st_fail(err, ST_ERR_SCHEMA, "lightcurves: column '%s' is %s in %s but %s in %s", nm, a,
                     st_catalog_path(catalogs[0]), b, st_catalog_path(catalogs[c]));
        goto done;
      }
    }
  }
  {
    /* the time column's type, before any reading (time_keys accepts these) */
    const st_field *tf = &s0->children[schema_index(s0, o->time_column)];
    st_type_id ty = tf->type;
    bool ok = !tf->dict_encoded && ((ty >= ST_T_INT8 && ty <= ST_T_UINT64) || ty == ST_T_FLOAT || ty == ST_T_DOUBLE ||
                                    ty == ST_T_DATE32 || ty == ST_T_DATE64 || ty == ST_T_TIME32 || ty == ST_T_TIME64 ||
                                    ty == ST_T_TIMESTAMP || ty == ST_T_DURATION);
    if (!ok) {
      char tn[64];
      st_field_type_string(tf, tn, sizeof tn);
      rc = st_fail(err, ST_ERR_SCHEMA, "lightcurves: time column '%s' is %s (need a number, date, time, "
                   "timestamp or duration)", tf->name, tn);
      goto done;
    }
  }
  /* targets */
  R.nt = targets->n_rows;
  st.targets = R.nt;
  R.tra = malloc(((size_t)R.nt + 1) * sizeof(double));
  R.tdec = malloc(((size_t)R.nt + 1) * sizeof(double));
  R.parts = calloc((size_t)n_catalogs, sizeof *R.parts);
  if (!R.tra || !R.tdec || !R.parts) { rc = nomem(err); goto done; }
  if ((rc = col_doubles(&targets->schema.children[trc], targets->columns[trc], R.tra, "target ra", err))) goto done;
  if ((rc = col_doubles(&targets->schema.children[tdc], targets->columns[tdc], R.tdec, "target dec", err))) goto done;
  int64_t nvalid = 0;
  for (int64_t i = 0; i < R.nt; i++) {
    if (!isfinite(R.tra[i]) || !(fabs(R.tdec[i]) <= 90)) R.tra[i] = R.tdec[i] = NAN;
    else nvalid++;
  }
  double r_cov = o->radius_arcsec / 3600.0 * (1 + LC_COVER_REL) + 1e-12;
  if (r_cov > 180) r_cov = 180;
  crows = calloc((size_t)n_catalogs, sizeof *crows);
  if (!crows) { rc = nomem(err); goto done; }
  for (int c = 0; c < n_catalogs; c++) {
    int64_t before = st.rows_total;
    if ((rc = catalog_totals(catalogs[c], &st, err))) goto done;
    crows[c] = st.rows_total - before;
  }
  if (nvalid) {
    if ((rc = cover_cells_par(R.tra, R.tdec, R.nt, r_cov, o->threads, &R.pix, &R.npix, &R.order, err))) goto done;
    st.cell_order = R.order;
    st.cells = R.npix;
    /* only rows within the radius of a target in Dec can match one: the
       targets' Dec bands narrow each query's Dec pre-filter (the cells
       reach further); made once for all catalogs */
    if (R.nt <= INT32_MAX) {
      double r = o->radius_arcsec / 3600.0 * (1 + LC_COVER_REL) + 1e-12;
      R.blo = malloc(((size_t)R.nt + 1) * sizeof *R.blo);
      R.bhi = malloc(((size_t)R.nt + 1) * sizeof *R.bhi);
      if (!R.blo || !R.bhi) { rc = nomem(err); goto done; }
      for (int64_t i = 0; i < R.nt; i++) {
        if (isnan(R.tdec[i])) continue;
        R.blo[R.nb] = R.tdec[i] - r;
        R.bhi[R.nb] = R.tdec[i] + r;
        R.nb++;
      }
    }
    if ((rc = run_catalogs(&R, catalogs, n_catalogs, crows, &st, err))) goto done;
  }
  /* detections of all catalogs, rows numbered catalog by catalog */
  if (R.nparts > 1) rc = st_table_concat(R.parts, R.nparts, &det, err);
  else if (R.nparts == 1) rc = st_table_slice(R.parts[0], 0, R.parts[0]->n_rows, &det, err);
  else {
    /* no query ran (no valid target): an empty table of the detection columns */
    st_field *fs = calloc((size_t)R.nnames + 1, sizeof *fs);
    st_array **as = calloc((size_t)R.nnames + 1, sizeof *as);
    int k = 0;
    rc = fs && as ? 0 : nomem(err);
    for (; k < R.nnames && !rc; k++) {
      int si = schema_index(s0, R.names[k]);
      if (st_field_copy(&fs[k], &s0->children[si])) { rc = nomem(err); break; }
      st_builder *b = NULL;
      if (!(rc = st_builder_new(&fs[k], &b, err))) rc = st_builder_finish(b, &as[k], err);
      st_builder_free(b);
      if (rc == ST_ERR_UNSUPPORTED) {
        st_error_clear(err);
        rc = st_fail(err, ST_ERR_UNSUPPORTED, "lightcurves: no valid target, and column '%s' (nested) cannot be "
                     "made empty", R.names[k]);
      }
    }
    if (!rc) rc = st_table_new(fs, as, R.nnames, 0, NULL, &det, err);
    else if (as) for (int i = 0; i < R.nnames; i++) st_array_free(as[i]);
    if (fs) for (int i = 0; i <= k && i < R.nnames; i++) st_field_clear(&fs[i]);
    free(fs); free(as);
  }
  if (rc) goto done;
  /* match */
  if (R.nr && nvalid &&
      (rc = st_xm_match(R.tra, R.tdec, R.nt, R.rra, R.rdec, R.nr, 0, o->radius_arcsec, 0, &pr, err)))
    goto done;
  int64_t np = pr.n;
  /* sort each target's pairs by (time, row) */
  {
    int ti = schema_index(&det->schema, o->time_column);
    rkey = malloc(((size_t)det->n_rows + 1) * sizeof *rkey);
    pkey = malloc(((size_t)np + 1) * sizeof *pkey);
    perm = malloc(((size_t)np + 1) * sizeof *perm);
    tmp = malloc(((size_t)np + 1) * sizeof *tmp);
    sel = malloc(((size_t)np + 1) * sizeof *sel);
    g0 = malloc(((size_t)np + 1) * sizeof *g0);
    dv = malloc(((size_t)np + 1) * sizeof *dv);
    if (!rkey || !pkey || !perm || !tmp || !sel || !g0 || !dv) { rc = nomem(err); goto done; }
    if ((rc = time_keys(&det->schema.children[ti], det->columns[ti], rkey, err))) goto done;
    for (int64_t i = 0; i < np; i++) { pkey[i] = rkey[pr.ri[i]]; perm[i] = i; }
    int64_t ng = 0;
    for (int64_t i = 0, j; i < np; i = j) {
      for (j = i + 1; j < np && pr.qi[j] == pr.qi[i]; j++) {}
      sort_pairs(perm + i, tmp, j - i, pkey, pr.ri);
      g0[ng++] = i;
    }
    g0[ng] = np;
    st.targets_matched = ng;
    st.detections = np;
    /* flat columns */
    int nd = det->n_columns;
    int nout = 3 + nd + 1;
    ocols = calloc((size_t)nout, sizeof *ocols);
    ofields = calloc((size_t)nout, sizeof *ofields);
    if (!ocols || !ofields) { rc = nomem(err); goto done; }
    /* id */
    for (int64_t i = 0; i < np; i++) sel[i] = pr.qi[perm[i]];
    const st_field *idf = &targets->schema.children[idc];
    bool clash = schema_index(&det->schema, idf->name) >= 0 || !strcmp(idf->name, "_target_ra") ||
                 !strcmp(idf->name, "_target_dec") || !strcmp(idf->name, "_dist_arcsec");
    {
      size_t len = strlen(idf->name) + 16;
      char *nm = malloc(len);
      if (!nm) { rc = nomem(err); goto done; }
      snprintf(nm, len, "%s", clash ? "_target_id" : idf->name);
      rc = field_renamed(&ofields[nof], idf, nm, err);
      free(nm);
      if (rc) goto done;
      nof++;
    }
    if ((rc = st_array_take(idf, targets->columns[idc], sel, np, &ocols[0], err))) goto done;
    for (int64_t i = 0; i < np; i++) dv[i] = R.tra[sel[i]];
    if ((rc = make_array("_target_ra", ST_T_DOUBLE, dv, np, &ofields[nof], &ocols[1], err))) goto done;
    nof++;
    for (int64_t i = 0; i < np; i++) dv[i] = R.tdec[sel[i]];
    if ((rc = make_array("_target_dec", ST_T_DOUBLE, dv, np, &ofields[nof], &ocols[2], err))) goto done;
    nof++;
    for (int64_t i = 0; i < np; i++) sel[i] = pr.ri[perm[i]];
    for (int c = 0; c < nd; c++) {
      if (st_field_copy(&ofields[nof], &det->schema.children[c])) { rc = nomem(err); goto done; }
      nof++;
      if ((rc = st_array_take(&det->schema.children[c], det->columns[c], sel, np, &ocols[3 + c], err))) goto done;
    }
    for (int64_t i = 0; i < np; i++) dv[i] = pr.dist_arcsec[perm[i]];
    if ((rc = make_array("_dist_arcsec", ST_T_DOUBLE, dv, np, &ofields[nof], &ocols[3 + nd], err))) goto done;
    nof++;
    rc = st_table_new(ofields, ocols, nout, np, NULL, &flat, err);
    memset(ocols, 0, (size_t)nout * sizeof *ocols);
    if (rc) goto done;
    if (o->nested) {
      /* groups of the flat rows: exactly the targets' runs */
      rc = nest_groups(flat, g0, ng, out, err);
      if (!rc) { st_table_free(flat); flat = NULL; }
    } else {
      *out = flat;
      flat = NULL;
    }
  }
done:
  if (stats) *stats = st;
  if (ocols) for (int i = 0; i < 3 + (det ? det->n_columns : 0) + 1; i++) st_array_free(ocols[i]);
  for (int i = 0; i < nof; i++) st_field_clear(&ofields[i]);
  free(ocols); free(ofields);
  st_xm_pairs_free(&pr);
  st_table_free(det); st_table_free(flat);
  free(perm); free(tmp); free(sel); free(g0); free(rkey); free(pkey); free(dv); free(crows);
  run_free(&R);
  return rc;
}
