/*
** This file implements the positional matching kernel (xmatch_int.h): a
** kd-tree over the unit vectors of the reference points, queried for all or
** the k nearest references within [rmin, rmax] of each query point.
**
** Why a 3-D kd-tree: it works for any radius (milli-arcseconds to 180
** degrees), has no special cases at the poles or at RA = 0/360 (unit vectors
** are continuous there), and its k-nearest search shrinks the search ball
** as better candidates are found, so k = 1 with a huge radius stays fast.
**
** Layout.  The finite reference points are copied into `pts` (x, y, z, and
** their original index), then reordered in place while the tree is built:
** every node covers a contiguous range pts[begin, end) and stores the exact
** bounding box of those points.  An inner node splits its range at the
** middle (by count, quickselect on the axis of largest extent), so the tree
** is balanced: depth <= ceil(log2(nr / ST_XM_LEAF)) + 1, and its children
** are nodes[child] and nodes[child + 1].  Leaves hold <= ST_XM_LEAF points.
**
** Query.  An explicit stack (bounded by the depth) visits the nodes whose
** box is within the current bound of the query vector q (squared chord
** distance), the nearer child first.  Leaf points pass a squared-chord
** prefilter (slightly widened so rounding never drops a match); then the
** exact distance d = 2 asin(chord / 2) in arcsec decides rmin <= d <= rmax.
**   k = 0: every match is collected in a reusable scratch array, then sorted
**          by (d, reference index).
**   k > 0: a max-heap of the k best (d, reference index) keys; once full, the
**          search bound shrinks to the heap's worst chord.
** Scratch memory grows by doubling and is reused across queries, so nothing
** is allocated per point.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"
#include "xmatch/xmatch_int.h"

#define ST_XM_LEAF 12
#define ST_XM_STACK 160
#define ST_XM_ZONE_MAX_ARCSEC 120.0
#define ST_XM_RAD2AS (180.0 / M_PI * 3600.0)
#define ST_XM_DEG2RAD (M_PI / 180.0)

typedef struct xm_pt {
  double x, y, z;          /* unit vector                                    */
  int64_t idx;             /* original reference index                       */
} xm_pt;

typedef struct xm_node {
  double split;            /* children: [begin, mid) <= split <= [mid, end)  */
  int32_t axis;            /* split axis 0..2                                */
  int32_t pad;
  int64_t begin, end;      /* point range                                    */
  int64_t child;           /* first child node, -1 for a leaf                */
} xm_node;

struct st_xm_index {
  xm_pt *pts;              /* points in tree (or zone) order                 */
  int64_t n;               /* finite points                                  */
  xm_node *nodes;          /* kd-tree: nodes[0] is the root (when n > 0)     */
  double lo[3], hi[3];     /* bounding box of all points                     */
  int64_t nnodes;          /* nodes used                                     */
  int64_t cap;             /* nodes allocated                                */
  bool zones;              /* zone index instead of the kd-tree              */
  double zdec0, zh;        /* zones: lower dec of zone 0, zone height (deg)  */
  double decmin, decmax;   /* dec range of the points                        */
  int64_t nz;              /* zones                                          */
  int64_t *zstart;         /* nz + 1 offsets into pts / zra                  */
  uint32_t *zra;           /* ra quantised to 2^32 steps per 360 degrees     */
  double ra_lo, ra_hi;     /* ra range of the points (degrees; when ra_wrap, */
  bool ra_wrap;            /* in (-180, 180]); ra_hi - ra_lo < 180, else     */
  bool ra_any;             /* ra_any: no ra pruning                          */
};

typedef struct xm_cand {
  double d;                /* distance, arcsec                               */
  int64_t ri;              /* original reference index                       */
  double c2;               /* squared chord                                  */
} xm_cand;

/* ---- pairs ------------------------------------------------------------ */

void st_xm_pairs_free(st_xm_pairs *p) {
  if (!p) return;
  free(p->qi);
  free(p->ri);
  free(p->dist_arcsec);
  memset(p, 0, sizeof *p);
}

static int pairs_reserve(st_xm_pairs *p, int64_t extra, st_error *err) {
  if (p->n + extra <= p->cap) return 0;
  int64_t cap = p->cap ? p->cap : 1024;
  while (cap < p->n + extra) cap *= 2;
  int64_t *qi = realloc(p->qi, (size_t)cap * sizeof *qi);
  if (qi) p->qi = qi;
  int64_t *ri = realloc(p->ri, (size_t)cap * sizeof *ri);
  if (ri) p->ri = ri;
  double *d = realloc(p->dist_arcsec, (size_t)cap * sizeof *d);
  if (d) p->dist_arcsec = d;
  if (!qi || !ri || !d) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (%lld pairs)",
                                       (long long)cap);
  p->cap = cap;
  return 0;
}

/* ---- build ------------------------------------------------------------ */

static inline double pt_axis(const xm_pt *p, int a) {
  return a == 0 ? p->x : a == 1 ? p->y : p->z;
}

/* Reorder p[0, n) so that p[m] has the value of rank m on axis a, smaller
   (or equal) before, larger (or equal) after.  Hoare partition around a
   pseudo-random pivot: expected O(n), balanced on equal keys. */
static void select_nth(xm_pt *p, int64_t n, int64_t m, int a, uint64_t *rng) {
  int64_t lo = 0, hi = n - 1;
  while (hi > lo) {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    int64_t len = hi - lo + 1;
    double pv;
    if (len < 64) {
      pv = pt_axis(&p[lo + (int64_t)(*rng % (uint64_t)len)], a);
    } else {
      /* pseudo-median of 9 at random positions: a pivot near the median
         leaves a small range for the next round */
      double v[9];
      for (int t = 0; t < 9; t++) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        v[t] = pt_axis(&p[lo + (int64_t)(*rng % (uint64_t)len)], a);
      }
      for (int t = 0; t < 3; t++) {
        double x = v[3 * t], y = v[3 * t + 1], z = v[3 * t + 2];
        v[t] = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
      }
      double x = v[0], y = v[1], z = v[2];
      pv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    }
    /* branchless Lomuto: [lo, st) < pv <= [st, hi] */
    int64_t st = lo;
    for (int64_t i = lo; i <= hi; i++) {
      xm_pt t = p[i];
      int64_t c = pt_axis(&t, a) < pv;
      p[i] = p[st];
      p[st] = t;
      st += c;
    }
    if (m < st) {
      hi = st - 1;
      continue;
    }
    if (st > lo) {
      lo = st;
      continue;
    }
    /* pv was the minimum: split off the run equal to it */
    for (int64_t i = lo; i <= hi; i++) {
      xm_pt t = p[i];
      int64_t c = pt_axis(&t, a) <= pv;
      p[i] = p[st];
      p[st] = t;
      st += c;
    }
    if (m < st) return;
    lo = st;
  }
}

static int node_new(st_xm_index *ix, int64_t *id, st_error *err) {
  if (ix->nnodes == ix->cap) {
    int64_t cap = ix->cap ? ix->cap * 2 : 64;
    xm_node *nn = realloc(ix->nodes, (size_t)cap * sizeof *nn);
    if (!nn) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (index nodes)");
    ix->nodes = nn;
    ix->cap = cap;
  }
  *id = ix->nnodes++;
  return 0;
}

/* Build node `id` over pts[begin, end); lo/hi bound those points (the
   parent's box clipped at its split: not tight, but only used to choose the
   axis of largest extent). */
static int build_node(st_xm_index *ix, int64_t id, int64_t begin, int64_t end, double *lo,
                      double *hi, uint64_t *rng, int depth, st_error *err) {
  for (;;) {
    xm_node *nd = &ix->nodes[id];
    nd->begin = begin;
    nd->end = end;
    nd->child = -1;
    nd->axis = 0;
    nd->split = 0;
    if (end - begin <= ST_XM_LEAF || depth >= ST_XM_STACK - 4) return 0;
    int a = 0;
    if (hi[1] - lo[1] > hi[a] - lo[a]) a = 1;
    if (hi[2] - lo[2] > hi[a] - lo[a]) a = 2;
    int64_t mid = begin + (end - begin) / 2;
    select_nth(ix->pts + begin, end - begin, mid - begin, a, rng);
    double sv = pt_axis(&ix->pts[mid], a);
    int64_t c0, c1;
    ST_TRY(node_new(ix, &c0, err));
    ST_TRY(node_new(ix, &c1, err));
    nd = &ix->nodes[id];
    nd->child = c0;
    nd->axis = a;
    nd->split = sv;
    /* recurse on the lower half, loop on the upper (stack depth O(log n)) */
    double save = hi[a];
    hi[a] = sv;
    ST_TRY(build_node(ix, c0, begin, mid, lo, hi, rng, depth + 1, err));
    hi[a] = save;
    lo[a] = sv;
    id = c1;
    begin = mid;
    depth++;
  }
}

void st_xm_index_free(st_xm_index *ix) {
  if (!ix) return;
  free(ix->pts);
  free(ix->nodes);
  free(ix->zstart);
  free(ix->zra);
  free(ix);
}

int64_t st_xm_index_size(const st_xm_index *ix) { return ix ? ix->n : 0; }

/* sin and cos of x (radians, |x| <= ~8): reduction by multiples of pi/2 with
   a two-part constant (Cody-Waite; the first product is exact for small
   multiples), then the classic minimax kernels on [-pi/4, pi/4] (fdlibm's
   coefficients).  Absolute error ~1e-16, branch-free so loops vectorise;
   about 5x faster than libm's sincos here. */
static inline void fast_sincos(double x, double *s, double *c) {
  const double inv_pio2 = 6.36619772367581382433e-01;
  const double pio2_1 = 1.57079632673412561417e+00;   /* first 33 bits of pi/2 */
  const double pio2_1t = 6.07710050650619224932e-11;  /* pi/2 - pio2_1         */
  const double shifter = 6755399441055744.0; /* 1.5 * 2^52: rounds to integer */
  double fn = (x * inv_pio2 + shifter) - shifter;
  double r = (x - fn * pio2_1) - fn * pio2_1t;
  double z = r * r;
  double sr = r + r * z * (-1.66666666666666324348e-01 +
                           z * (8.33333333332248946124e-03 +
                                z * (-1.98412698298579493134e-04 +
                                     z * (2.75573137070700676789e-06 +
                                          z * (-2.50507602534068634195e-08 +
                                               z * 1.58969099521155010221e-10)))));
  double cr = 1.0 - 0.5 * z +
              z * z * (4.16666666666666019037e-02 +
                       z * (-1.38888888888741095749e-03 +
                            z * (2.48015872894767294178e-05 +
                                 z * (-2.75573143513906633035e-07 +
                                      z * (2.08757232129817482790e-09 +
                                           z * -1.13596475577881948265e-11)))));
  int64_t q = (int64_t)fn & 3;
  double ss = (q & 1) ? cr : sr, cc = (q & 1) ? sr : cr;
  *s = (q & 2) ? -ss : ss;
  *c = ((q + 1) & 2) ? -cc : cc;
}

/* Unit vector of (ra, dec) in degrees (finite; ra beyond +-360 is reduced). */
static inline void radec_vec(double ra, double dec, double *x, double *y, double *z) {
  double r = (ra >= -360.0 && ra <= 360.0) ? ra : fmod(ra, 360.0);
  double sa, ca, sb, cb;
  fast_sincos(r * ST_XM_DEG2RAD, &sa, &ca);
  fast_sincos(dec * ST_XM_DEG2RAD, &sb, &cb);
  *x = cb * ca;
  *y = cb * sa;
  *z = sb;
}

int st_xm_index_build(const double *r_ra, const double *r_dec, int64_t nr, st_xm_index **out,
                      st_error *err) {
  *out = NULL;
  ST_CHECK(nr >= 0, err, ST_ERR_INVALID, "xmatch: negative reference count");
  st_xm_index *ix = calloc(1, sizeof *ix);
  if (!ix) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  if (nr > 0) {
    ix->pts = malloc((size_t)nr * sizeof *ix->pts);
    if (!ix->pts) {
      st_xm_index_free(ix);
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (%lld points)", (long long)nr);
    }
  }
  int64_t n = 0;
  for (int64_t i = 0; i < nr; i++) {
    double ra = r_ra[i], dec = r_dec[i];
    if (!isfinite(ra) || !isfinite(dec)) continue;
    xm_pt *p = &ix->pts[n++];
    radec_vec(ra, dec, &p->x, &p->y, &p->z);
    p->idx = i;
  }
  ix->n = n;
  if (n > 0) {
    int64_t root;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    const xm_pt *p = ix->pts;
    double lo[3] = {p[0].x, p[0].y, p[0].z}, hi[3] = {p[0].x, p[0].y, p[0].z};
    for (int64_t i = 1; i < n; i++) {
      lo[0] = p[i].x < lo[0] ? p[i].x : lo[0];
      hi[0] = p[i].x > hi[0] ? p[i].x : hi[0];
      lo[1] = p[i].y < lo[1] ? p[i].y : lo[1];
      hi[1] = p[i].y > hi[1] ? p[i].y : hi[1];
      lo[2] = p[i].z < lo[2] ? p[i].z : lo[2];
      hi[2] = p[i].z > hi[2] ? p[i].z : hi[2];
    }
    memcpy(ix->lo, lo, sizeof lo);
    memcpy(ix->hi, hi, sizeof hi);
    int rc = node_new(ix, &root, err);
    if (!rc) rc = build_node(ix, root, 0, n, lo, hi, &rng, 0, err);
    if (rc) {
      st_xm_index_free(ix);
      return rc;
    }
  }
  *out = ix;
  return 0;
}

/* ---- zones ----------------------------------------------------------- */
/*
** Zone index (small radii): the sphere is cut into declination zones of
** height zh >= the radius hint (and >= span / (n/4 + 16), so zones hold a
** few points on average); points are sorted by (zone, ra quantised to 32
** bits): a counting sort on the zone, then each zone by ra.  A query
** visits the zones meeting [dec - r, dec + r] and, in each, the points
** whose quantised ra lies in [ra - w, ra + w] (w >= asin(sin r / cos(|dec|
** + r)), a bound of the circle's RA half-width, computed without
** trigonometry from the query's unit vector; split in two across RA 0; the
** whole zone near a pole), found by a branch-free binary search.
** Candidates then take the same exact chord test as the kd-tree's.  Many
** queries at once are visited in zone order (see st_xm_index_match_xyz).
** Build is O(n), a query O(log + candidates).
*/
typedef struct xm_kv {
  uint64_t key;
  int64_t val;
} xm_kv;

static int kv_radix(xm_kv *a, int64_t n, int bits, st_error *err) {
  xm_kv *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
  if (!tmp) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (sort)");
  int64_t cnt[2048];
  xm_kv *src = a, *dst = tmp;
  for (int shift = 0; shift < bits; shift += 11) {
    memset(cnt, 0, sizeof cnt);
    for (int64_t i = 0; i < n; i++) cnt[(src[i].key >> shift) & 2047]++;
    if (cnt[(src[0].key >> shift) & 2047] == n) continue; /* one bucket: already in order */
    int64_t sum = 0;
    for (int b = 0; b < 2048; b++) {
      int64_t c = cnt[b];
      cnt[b] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; i++) dst[cnt[(src[i].key >> shift) & 2047]++] = src[i];
    xm_kv *t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
  free(tmp);
  return 0;
}

static inline double ra_norm(double ra) {
  double r = (ra >= 0.0 && ra < 360.0) ? ra : fmod(ra, 360.0);
  if (r < 0) r += 360.0;
  if (r >= 360.0) r = 0.0;
  return r;
}

static inline uint32_t ra_quant(double r) { /* r in [0, 360) */
  double q = r * (4294967296.0 / 360.0);
  return q >= 4294967295.0 ? 4294967295u : (uint32_t)q;
}

static int zones_build(st_xm_index *ix, const double *r_ra, const double *r_dec, int64_t nr,
                       double hint_deg, st_error *err) {
  int64_t n = 0;
  double dmin = INFINITY, dmax = -INFINITY;
  for (int64_t i = 0; i < nr; i++) {
    if (!isfinite(r_ra[i]) || !isfinite(r_dec[i])) continue;
    n++;
    double d = r_dec[i];
    dmin = d < dmin ? d : dmin;
    dmax = d > dmax ? d : dmax;
  }
  ix->n = n;
  ix->zones = true;
  if (n == 0) return 0;
  double zh = hint_deg > 1e-9 ? hint_deg : 1e-9;
  double span = dmax - dmin;
  if (span / zh > (double)(n / 4 + 16)) zh = span / (double)(n / 4 + 16);
  int64_t nz = (int64_t)(span / zh) + 1;
  ix->zh = zh;
  ix->zdec0 = dmin;
  ix->decmin = dmin;
  ix->decmax = dmax;
  ix->nz = nz;
  xm_kv *kv = malloc((size_t)n * sizeof *kv);
  ix->pts = malloc((size_t)n * sizeof *ix->pts);
  ix->zra = malloc((size_t)n * sizeof *ix->zra);
  ix->zstart = calloc((size_t)nz + 1, sizeof *ix->zstart);
  if (!kv || !ix->pts || !ix->zra || !ix->zstart) {
    free(kv);
    return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (zones)");
  }
  int64_t m = 0;
  for (int64_t i = 0; i < nr; i++) {
    if (!isfinite(r_ra[i]) || !isfinite(r_dec[i])) continue;
    int64_t z = (int64_t)((r_dec[i] - dmin) / zh);
    z = z < 0 ? 0 : z >= nz ? nz - 1 : z;
    kv[m].key = ((uint64_t)z << 32) | ra_quant(ra_norm(r_ra[i]));
    kv[m].val = i;
    m++;
  }
  /* sort by (zone, ra), stable: a counting sort on the zone (zones hold a
     few points each: nz >= n / 4 unless the radius is large), then each
     zone by ra (insertion sort; radix sort for a long zone) */
  int rc = 0;
  {
    xm_kv *tmp = malloc((size_t)n * sizeof *tmp);
    int64_t *zs = ix->zstart; /* counts, then offsets (rebuilt below) */
    if (!tmp) {
      free(kv);
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (zones)");
    }
    for (int64_t i = 0; i < n; i++) zs[(kv[i].key >> 32) + 1]++;
    for (int64_t z = 0; z < nz; z++) zs[z + 1] += zs[z];
    for (int64_t i = 0; i < n; i++) tmp[zs[kv[i].key >> 32]++] = kv[i];
    /* zs[z] is now the end of zone z */
    int64_t b = 0;
    for (int64_t z = 0; z < nz && !rc; z++) {
      int64_t e = zs[z];
      if (e - b > 48) {
        rc = kv_radix(tmp + b, e - b, 32, err);
      } else {
        for (int64_t i = b + 1; i < e; i++) {
          xm_kv v = tmp[i];
          int64_t j = i;
          while (j > b && tmp[j - 1].key > v.key) {
            tmp[j] = tmp[j - 1];
            j--;
          }
          tmp[j] = v;
        }
      }
      b = e;
    }
    memset(zs, 0, ((size_t)nz + 1) * sizeof *zs);
    free(kv);
    kv = tmp;
    if (rc) {
      free(kv);
      return rc;
    }
  }
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i++) {
    int64_t j = kv[i].val;
    xm_pt *p = &ix->pts[i];
    radec_vec(r_ra[j], r_dec[j], &p->x, &p->y, &p->z);
    p->idx = j;
    ix->zra[i] = (uint32_t)kv[i].key;
    ix->zstart[(kv[i].key >> 32) + 1]++;
    lo[0] = p->x < lo[0] ? p->x : lo[0];
    hi[0] = p->x > hi[0] ? p->x : hi[0];
    lo[1] = p->y < lo[1] ? p->y : lo[1];
    hi[1] = p->y > hi[1] ? p->y : hi[1];
    lo[2] = p->z < lo[2] ? p->z : lo[2];
    hi[2] = p->z > hi[2] ? p->z : hi[2];
  }
  for (int64_t z = 0; z < nz; z++) ix->zstart[z + 1] += ix->zstart[z];
  /* ra range, in [0, 360) or in (-180, 180], whichever is narrower */
  double a0 = INFINITY, a1 = -INFINITY, b0 = INFINITY, b1 = -INFINITY;
  for (int64_t i = 0; i < nr; i++) {
    if (!isfinite(r_ra[i]) || !isfinite(r_dec[i])) continue;
    double r = ra_norm(r_ra[i]), w = r > 180.0 ? r - 360.0 : r;
    a0 = r < a0 ? r : a0;
    a1 = r > a1 ? r : a1;
    b0 = w < b0 ? w : b0;
    b1 = w > b1 ? w : b1;
  }
  ix->ra_any = true;
  if (a1 - a0 < 180.0) {
    ix->ra_lo = a0, ix->ra_hi = a1, ix->ra_wrap = false, ix->ra_any = false;
  } else if (b1 - b0 < 180.0) {
    ix->ra_lo = b0, ix->ra_hi = b1, ix->ra_wrap = true, ix->ra_any = false;
  }
  memcpy(ix->lo, lo, sizeof lo);
  memcpy(ix->hi, hi, sizeof hi);
  free(kv);
  return 0;
}

int st_xm_index_build_hint(const double *r_ra, const double *r_dec, int64_t nr,
                           double radius_hint_arcsec, st_xm_index **out, st_error *err) {
  if (!(radius_hint_arcsec > 0 && radius_hint_arcsec <= ST_XM_ZONE_MAX_ARCSEC) || nr < 64)
    return st_xm_index_build(r_ra, r_dec, nr, out, err);
  *out = NULL;
  st_xm_index *ix = calloc(1, sizeof *ix);
  if (!ix) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  int rc = zones_build(ix, r_ra, r_dec, nr, radius_hint_arcsec / 3600.0, err);
  if (rc) {
    st_xm_index_free(ix);
    return rc;
  }
  *out = ix;
  return 0;
}

/* ---- query ------------------------------------------------------------ */

static inline double box_d2(const double *lo, const double *hi, double qx, double qy, double qz) {
  double dx = qx < lo[0] ? lo[0] - qx : qx > hi[0] ? qx - hi[0] : 0;
  double dy = qy < lo[1] ? lo[1] - qy : qy > hi[1] ? qy - hi[1] : 0;
  double dz = qz < lo[2] ? lo[2] - qz : qz > hi[2] ? qz - hi[2] : 0;
  return dx * dx + dy * dy + dz * dz;
}

static inline double chord_arcsec(double c2) {
  double h = 0.5 * sqrt(c2);
  return 2.0 * asin(h < 1.0 ? h : 1.0) * ST_XM_RAD2AS;
}

static inline int cand_less(const xm_cand *a, const xm_cand *b) {
  return a->d < b->d || (a->d == b->d && a->ri < b->ri);
}

/* Sort c[0, n) by (d, ri): quicksort with insertion sort for short runs
   (keys are distinct: ri differ). */
static void cand_sort(xm_cand *c, int64_t n) {
  while (n > 16) {
    int64_t m = n / 2;
    /* median of three into c[m] */
    if (cand_less(&c[m], &c[0])) { xm_cand t = c[m]; c[m] = c[0]; c[0] = t; }
    if (cand_less(&c[n - 1], &c[m])) {
      xm_cand t = c[m]; c[m] = c[n - 1]; c[n - 1] = t;
      if (cand_less(&c[m], &c[0])) { t = c[m]; c[m] = c[0]; c[0] = t; }
    }
    xm_cand pv = c[m];
    int64_t i = 0, j = n - 1;
    while (i <= j) {
      while (cand_less(&c[i], &pv)) i++;
      while (cand_less(&pv, &c[j])) j--;
      if (i <= j) {
        xm_cand t = c[i]; c[i] = c[j]; c[j] = t;
        i++;
        j--;
      }
    }
    /* [0, j] and [i, n): recurse on the smaller, loop on the larger */
    if (j + 1 < n - i) {
      cand_sort(c, j + 1);
      c += i;
      n -= i;
    } else {
      cand_sort(c + i, n - i);
      n = j + 1;
    }
  }
  for (int64_t i = 1; i < n; i++) {
    xm_cand v = c[i];
    int64_t j = i;
    while (j > 0 && cand_less(&v, &c[j - 1])) {
      c[j] = c[j - 1];
      j--;
    }
    c[j] = v;
  }
}

/* Max-heap by (d, ri) on h[0, n). */
static void heap_up(xm_cand *h, int64_t i) {
  xm_cand v = h[i];
  while (i > 0) {
    int64_t p = (i - 1) / 2;
    if (!cand_less(&h[p], &v)) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

static void heap_down(xm_cand *h, int64_t n, int64_t i) {
  xm_cand v = h[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && cand_less(&h[c], &h[c + 1])) c++;
    if (!cand_less(&v, &h[c])) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = v;
}

/* widen a squared-chord bound so that rounding never prunes a match */
static inline double widen(double c2) { return c2 * (1.0 + 1e-9) + 1e-300; }

/* Offer reference point p to query q: exact distance test, then into the
   scratch list (k = 0) or the k-best heap (bound shrinks once it is full). */
static inline __attribute__((always_inline)) int cand_take(const xm_pt *p, double qx, double qy, double qz, double rmin,
                            double rmax, int64_t kk, xm_cand **sc, int64_t *scap, int64_t *nc,
                            double *bound, st_error *err) {
  double dx = p->x - qx, dy = p->y - qy, dz = p->z - qz;
  double c2 = dx * dx + dy * dy + dz * dz;
  if (c2 > *bound) return 0;
  double d = chord_arcsec(c2);
  if (d > rmax || d < rmin) return 0;
  xm_cand c = {d, p->idx, c2};
  if (kk == 0) {
    if (*nc == *scap) {
      xm_cand *ns = realloc(*sc, (size_t)*scap * 2 * sizeof *ns);
      if (!ns) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (scratch)");
      *sc = ns;
      *scap *= 2;
    }
    (*sc)[(*nc)++] = c;
  } else if (*nc < kk) {
    (*sc)[(*nc)++] = c;
    heap_up(*sc, *nc - 1);
    if (*nc == kk) {
      double b = widen((*sc)[0].c2);
      if (b < *bound) *bound = b;
    }
  } else if (cand_less(&c, &(*sc)[0])) {
    (*sc)[0] = c;
    heap_down(*sc, *nc, 0);
    double b = widen((*sc)[0].c2);
    if (b < *bound) *bound = b;
  }
  return 0;
}

/* First i in [b, e) with z[i] >= v (branch-free: zones are short, so a
   mispredicted branch per step would cost more than the compares). */
static inline int64_t lower_u32(const uint32_t *z, int64_t b, int64_t e, uint32_t v) {
  const uint32_t *base = z + b;
  int64_t len = e - b;
  while (len > 1) {
    int64_t half = len / 2;
    base += base[half - 1] < v ? half : 0;
    len -= half;
  }
  return (base - z) + (len == 1 && *base < v);
}

void st_xm_radec_to_xyz(const double *ra, const double *dec, int64_t n, double *xyz) {
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(ra[i]) || !isfinite(dec[i])) {
      xyz[3 * i] = xyz[3 * i + 1] = xyz[3 * i + 2] = NAN;
      continue;
    }
    radec_vec(ra[i], dec[i], &xyz[3 * i], &xyz[3 * i + 1], &xyz[3 * i + 2]);
  }
}

int st_xm_index_match(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                      int64_t nq, int64_t q_offset, double rmin_arcsec, double rmax_arcsec,
                      int k, st_xm_pairs *out, st_error *err) {
  double xyz[3 * 512];
  for (int64_t b = 0; b < nq; b += 512) {
    int64_t m = nq - b < 512 ? nq - b : 512;
    st_xm_radec_to_xyz(q_ra + b, q_dec + b, m, xyz);
    ST_TRY(st_xm_index_match_xyz(ix, q_ra + b, q_dec + b, xyz, m, q_offset + b, rmin_arcsec,
                                 rmax_arcsec, k, out, err));
  }
  if (nq <= 0)
    return st_xm_index_match_xyz(ix, NULL, NULL, NULL, 0, q_offset, rmin_arcsec, rmax_arcsec, k,
                                 out, err);
  return 0;
}

int st_xm_index_match_xyz(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                          const double *q_xyz, int64_t nq, int64_t q_offset, double rmin_arcsec,
                          double rmax_arcsec, int k, st_xm_pairs *out, st_error *err) {
  ST_CHECK(!(rmax_arcsec < 0) && !isnan(rmax_arcsec), err, ST_ERR_INVALID,
           "xmatch: radius %g arcsec must be >= 0", rmax_arcsec);
  ST_CHECK(!isnan(rmin_arcsec), err, ST_ERR_INVALID, "xmatch: minimum radius is NaN");
  ST_CHECK(k >= 0, err, ST_ERR_INVALID, "xmatch: n_neighbors %d must be >= 0", k);
  if (ix->n == 0 || nq <= 0 || rmin_arcsec > rmax_arcsec) return 0;

  /* squared chord bound of rmax (capped at 180 degrees) */
  double rmax_rad = rmax_arcsec / ST_XM_RAD2AS;
  if (rmax_rad > M_PI) rmax_rad = M_PI;
  double cr = 2.0 * sin(0.5 * rmax_rad);
  double bound0 = widen(cr * cr);
  if (rmax_rad >= M_PI) bound0 = 5.0; /* everything */

  int64_t kk = k == 0 ? 0 : (k < ix->n ? k : ix->n);
  int64_t scap = kk > 0 ? kk : 256;
  xm_cand *sc = malloc((size_t)scap * sizeof *sc);
  if (!sc) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (scratch)");
  int rc = 0;
  const xm_node *nodes = ix->nodes;
  const xm_pt *pts = ix->pts;
  int64_t stk[ST_XM_STACK];
  double stkd[ST_XM_STACK];
  /* zones: radius in degrees and its sine */
  double rdeg = rmax_rad * (180.0 / M_PI);
  double sin_r = sin(rmax_rad), cos_r = cos(rmax_rad);
  double inv_zh = ix->zones ? 1.0 / ix->zh : 0;

  /* Zones, many queries: first keep the queries within reach of the
     index's bounding box, then visit them in zone order (counting sort on
     the zone of their declination), so the zone offsets, quantised RAs and
     points are read nearly sequentially instead of at random (queries come
     in HEALPix order, which jumps between zones).  Their pairs are then put
     back in query order (pst/pcn: where each query's run of pairs starts
     in `out` and its length). */
  int64_t *ord = NULL, *pst = NULL, *pcn = NULL;
  int64_t nord = nq, n0 = out->n;
  bool sorted = false;
  if (ix->zones && nq >= 64) {
    ord = malloc((size_t)nq * sizeof *ord);
    uint32_t *zq = malloc((size_t)nq * sizeof *zq);
    if (!ord || !zq) {
      free(ord);
      free(zq);
      free(sc);
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (query order)");
    }
    int64_t m = 0;
    for (int64_t q = 0; q < nq; q++) {
      double qx = q_xyz[3 * q], qy = q_xyz[3 * q + 1], qz = q_xyz[3 * q + 2];
      if (isnan(qx) || box_d2(ix->lo, ix->hi, qx, qy, qz) > bound0) continue;
      double dec = q_dec ? q_dec[q] : asin(qz > 1 ? 1 : qz < -1 ? -1 : qz) * (180.0 / M_PI);
      double f = (dec - ix->zdec0) * inv_zh;
      zq[m] = !(f > 0) ? 0 : f >= (double)(ix->nz - 1) ? (uint32_t)(ix->nz - 1) : (uint32_t)f;
      ord[m++] = q;
    }
    nord = m;
    if (m >= 64 && m * 4 >= ix->nz) {
      int64_t *cnt = calloc((size_t)ix->nz + 1, sizeof *cnt);
      int64_t *o2 = malloc((size_t)m * sizeof *o2);
      pst = malloc((size_t)nq * sizeof *pst);
      pcn = calloc((size_t)nq, sizeof *pcn);
      if (cnt && o2 && pst && pcn) {
        for (int64_t t = 0; t < m; t++) cnt[zq[t] + 1]++;
        for (int64_t z = 0; z < ix->nz; z++) cnt[z + 1] += cnt[z];
        for (int64_t t = 0; t < m; t++) o2[cnt[zq[t]]++] = ord[t];
        free(ord);
        ord = o2;
        o2 = NULL;
        sorted = true;
      } else {
        free(pst);
        free(pcn);
        pst = pcn = NULL; /* fall back to query order (still correct) */
      }
      free(cnt);
      free(o2);
    }
    free(zq);
  }

  for (int64_t t = 0; t < nord && !rc; t++) {
    int64_t q = ord ? ord[t] : t;
    double qx = q_xyz[3 * q], qy = q_xyz[3 * q + 1], qz = q_xyz[3 * q + 2];
    if (isnan(qx)) continue;
    int64_t nc = 0;
    double bound = bound0;
    if (!ord && box_d2(ix->lo, ix->hi, qx, qy, qz) > bound) continue;
    if (ix->zones) {
      double dec = q_dec ? q_dec[q] : asin(qz > 1 ? 1 : qz < -1 ? -1 : qz) * (180.0 / M_PI);
      double ra = q_ra ? ra_norm(q_ra[q]) : ra_norm(atan2(qy, qx) * (180.0 / M_PI));
      double f0 = (dec - rdeg - 1e-9 - ix->zdec0) * inv_zh;
      double f1 = (dec + rdeg + 1e-9 - ix->zdec0) * inv_zh;
      if (f1 < 0 || f0 >= (double)ix->nz) continue;
      int64_t z0 = f0 < 0 ? 0 : (int64_t)f0;
      int64_t z1 = f1 >= (double)(ix->nz - 1) ? ix->nz - 1 : (int64_t)f1;
      /* RA intervals (quantised): up to two, across RA 0 */
      uint32_t ilo[2], ihi[2];
      int ni = 1;
      /* cos(|dec| + r) from the unit vector: cos|dec| cos r - sin|dec| sin r
         (no trigonometry per query) */
      double ca = sqrt(qx * qx + qy * qy) * cos_r - fabs(qz) * sin_r;
      double s = ca > 1.7e-3 ? sin_r / ca : 2.0;
      if (s >= 0.99 || rdeg >= 30.0) {
        ilo[0] = 0;
        ihi[0] = 4294967295u;
      } else {
        /* asin(s) <= s / sqrt(1 - s^2) (= tan(asin s)) <= s (1 + s^2)
           for s^2 <= 1/2 (1 / sqrt(1 - x) <= 1 + x there) */
        double s2 = s * s;
        double w = (s2 <= 0.5 ? s * (1.0 + s2) : s / sqrt(1.0 - s2)) * (180.0 / M_PI) *
                       (1 + 1e-9) + 1e-9;
        double lo = ra - w, hi = ra + w;
        if (!ix->ra_any && w < 90.0) {
          /* the window misses the points' ra arc (circular distance of the
             centres > sum of the half-widths): nothing here */
          double c = 0.5 * (ix->ra_lo + ix->ra_hi), h = 0.5 * (ix->ra_hi - ix->ra_lo);
          double d = ra - c;
          d -= 360.0 * floor((d + 180.0) * (1.0 / 360.0));
          if (fabs(d) > h + w + 1e-9) continue;
        }
        if (w >= 180.0) {
          ilo[0] = 0;
          ihi[0] = 4294967295u;
        } else if (lo < 0) {
          ilo[0] = ra_quant(lo + 360.0 < 360.0 ? lo + 360.0 : 0.0);
          ihi[0] = 4294967295u;
          ilo[1] = 0;
          ihi[1] = ra_quant(hi);
          ni = 2;
        } else if (hi >= 360.0) {
          ilo[0] = ra_quant(lo);
          ihi[0] = 4294967295u;
          ilo[1] = 0;
          ihi[1] = ra_quant(hi - 360.0 < 360.0 ? hi - 360.0 : 0.0);
          ni = 2;
        } else {
          ilo[0] = ra_quant(lo);
          ihi[0] = ra_quant(hi);
        }
      }
      for (int64_t z = z0; z <= z1 && !rc; z++) {
        int64_t zb = ix->zstart[z], ze = ix->zstart[z + 1];
        for (int iv = 0; iv < ni && !rc; iv++) {
          int64_t i = ilo[iv] ? lower_u32(ix->zra, zb, ze, ilo[iv]) : zb;
          for (; i < ze && ix->zra[i] <= ihi[iv] && !rc; i++)
            rc = cand_take(&pts[i], qx, qy, qz, rmin_arcsec, rmax_arcsec, kk, &sc, &scap, &nc,
                           &bound, err);
        }
      }
      if (rc) break;
    } else {
      int sp = 0;
      double d0 = box_d2(ix->lo, ix->hi, qx, qy, qz);
      if (d0 <= bound) {
        stk[0] = 0;
        stkd[0] = d0;
        sp = 1;
      }
      while (sp > 0) {
        sp--;
        if (stkd[sp] > bound) continue;
        const xm_node *nd = &nodes[stk[sp]];
        if (nd->child < 0) {
          for (int64_t i = nd->begin; i < nd->end && !rc; i++)
            rc = cand_take(&pts[i], qx, qy, qz, rmin_arcsec, rmax_arcsec, kk, &sc, &scap, &nc,
                           &bound, err);
          if (rc) break;
          continue;
        }
        /* the far side of the split plane is at least diff^2 away (a lower
           bound of the squared chord); push it, visit the near side first.
           The stack holds at most one pending sibling per level (+ root). */
        double qa = nd->axis == 0 ? qx : nd->axis == 1 ? qy : qz;
        double diff = qa - nd->split;
        int64_t nearc = diff < 0 ? nd->child : nd->child + 1;
        double fd = diff * diff;
        if (fd <= bound) {
          stk[sp] = diff < 0 ? nd->child + 1 : nd->child;
          stkd[sp++] = fd;
        }
        stk[sp] = nearc;
        stkd[sp++] = 0;
      }
    }
    if (rc || nc == 0) continue;
    cand_sort(sc, nc);
    rc = pairs_reserve(out, nc, err);
    if (rc) break;
    if (sorted) {
      pst[q] = out->n;
      pcn[q] = nc;
    }
    for (int64_t i = 0; i < nc; i++) {
      out->qi[out->n + i] = q_offset + q;
      out->ri[out->n + i] = sc[i].ri;
      out->dist_arcsec[out->n + i] = sc[i].d;
    }
    out->n += nc;
  }
  free(sc);
  free(ord);
  if (!rc && sorted && out->n > n0) {
    /* back to query order */
    int64_t np = out->n - n0;
    int64_t *tr = malloc((size_t)np * sizeof *tr);
    double *td = malloc((size_t)np * sizeof *td);
    if (!tr || !td) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (pairs)");
    if (!rc) {
      int64_t w = 0;
      for (int64_t q = 0; q < nq; q++)
        if (pcn[q]) {
          memcpy(tr + w, out->ri + pst[q], (size_t)pcn[q] * sizeof *tr);
          memcpy(td + w, out->dist_arcsec + pst[q], (size_t)pcn[q] * sizeof *td);
          for (int64_t i = 0; i < pcn[q]; i++) out->qi[n0 + w + i] = q_offset + q;
          w += pcn[q];
        }
      memcpy(out->ri + n0, tr, (size_t)np * sizeof *tr);
      memcpy(out->dist_arcsec + n0, td, (size_t)np * sizeof *td);
    }
    free(tr);
    free(td);
  }
  free(pst);
  free(pcn);
  return rc;
}

int st_xm_match(const double *q_ra, const double *q_dec, int64_t nq, const double *r_ra,
                const double *r_dec, int64_t nr, double rmin_arcsec, double rmax_arcsec, int k,
                st_xm_pairs *out, st_error *err) {
  out->n = 0;
  st_xm_index *ix = NULL;
  ST_TRY(st_xm_index_build_hint(r_ra, r_dec, nr, rmax_arcsec, &ix, err));
  int rc = st_xm_index_match(ix, q_ra, q_dec, nq, 0, rmin_arcsec, rmax_arcsec, k, out, err);
  st_xm_index_free(ix);
  return rc;
}
