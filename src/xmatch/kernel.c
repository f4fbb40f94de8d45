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
**
** Two more index kinds answer the same queries (same pairs, distances and
** order): zones (st_xm_index_build_hint, small radii; declination zones
** sorted by quantised RA) and the cell grid (st_xm_index_build_cell, the
** points of one HEALPix cell such as a catalog partition: a grid over the
** cell's continuous HEALPix face coordinates, "charts", for the points
** well inside the cell, plus a zone index of the points near its edge; see
** "cell grid index" below).  st_xm_cell_boundary lists the points whose
** disc may leave their cell, using the same charts ("cell interiors").
** Unit vectors and charts of many points are computed 4 at a time with
** AVX2 when the CPU has it, bit-identical to the scalar code
** (SKYTILE_XM_ISA=scalar forces the scalar code, for tests and benchmarks).
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
  double inv_zh;           /* zones: 1 / zh                                  */
  bool grid;               /* cell grid index (st_xm_index_build_cell)       */
  int g_face;              /* base face of the cell                          */
  int64_t g_side;          /* grid cells per side (2^m)                      */
  double g_scale;          /* face coordinate -> grid units (2^(order + m))  */
  double g_x0, g_y0;       /* the cell's corner in grid units                */
  double g_d;              /* search half-width in grid units                */
  double g_ml;             /* queries closer than this (grid units) to the   */
                           /* cell's edge also search g_edge                 */
  int64_t *g_start;        /* g_side^2 + 1 offsets into pts (Morton order)   */
  uint8_t *g_block;        /* grid: g_start and pts live here                */
  int64_t g_out;           /* points outside the cell                        */
  st_xm_index *g_edge;     /* index of the points near the cell's edge       */
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
  if (ix->g_block) free(ix->g_block);
  else free(ix->pts);
  free(ix->nodes);
  free(ix->zstart);
  free(ix->zra);
  st_xm_index_free(ix->g_edge);
  free(ix);
}

int64_t st_xm_index_size(const st_xm_index *ix) { return ix ? ix->n : 0; }

/* sin and cos of x (radians, |x| <= ~8): reduction by multiples of pi/2 with
   a two-part constant (Cody-Waite; the first product is exact for small
   multiples), then the classic minimax kernels on [-pi/4, pi/4] (fdlibm's
   coefficients).  Absolute error ~1e-16, branch-free so loops vectorise;
   about 5x faster than libm's sincos here. */
static inline __attribute__((always_inline)) void fast_sincos(double x, double *s, double *c) {
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
  int32_t q = (int32_t)fn & 3;
  double ss = (q & 1) ? cr : sr, cc = (q & 1) ? sr : cr;
  *s = (q & 2) ? -ss : ss;
  *c = ((q + 1) & 2) ? -cc : cc;
}

/* Grow the bounding box [lo, hi] of unit vectors to hold p. */
static inline void bbox_add(double lo[3], double hi[3], const xm_pt *p) {
  lo[0] = p->x < lo[0] ? p->x : lo[0];
  hi[0] = p->x > hi[0] ? p->x : hi[0];
  lo[1] = p->y < lo[1] ? p->y : lo[1];
  hi[1] = p->y > hi[1] ? p->y : hi[1];
  lo[2] = p->z < lo[2] ? p->z : lo[2];
  hi[2] = p->z > hi[2] ? p->z : hi[2];
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

/* Continuous HEALPix face coordinates (see st_xm_cell_boundary) of the
   point with t = ra / 90 degrees in [0, 4) and z = sin(dec): returns the
   base face, x and y in [0, 1]. */
static inline int chart_of(double t, double z, double *x, double *y) {
  double za = fabs(z);
  if (za <= 2.0 / 3.0) {
    double a = 0.5 + t - 0.75 * z, b = 0.5 + t + 0.75 * z;
    double fa = floor(a), fb = floor(b);
    *x = b - fb;
    *y = 1.0 - (a - fa);
    return fa == fb ? ((int)fa | 4) : fa < fb ? (int)fa : (int)fb + 8;
  }
  double nt = floor(t);
  if (nt > 3) nt = 3;
  double tp = t - nt, s = sqrt(3.0 * (1.0 - za));
  if (z > 0) {
    *x = 1.0 - (1.0 - tp) * s;
    *y = 1.0 - tp * s;
    return (int)nt;
  }
  *x = tp * s;
  *y = (1.0 - tp) * s;
  return (int)nt + 8;
}

/* Chart of the point (ra, dec) degrees with unit vector v: from ra when
   |dec| <= 90, else from v (a declination beyond the pole stands for the
   point on the other side: its vector says which). */
static inline int point_chart(double ra, double dec, const double *v, double *x, double *y) {
  if (dec >= -90.0 && dec <= 90.0) return chart_of(ra_norm(ra) * (1.0 / 90.0), v[2], x, y);
  return chart_of(ra_norm(atan2(v[1], v[0]) * (180.0 / M_PI)) * (1.0 / 90.0), v[2], x, y);
}

/* (ra, dec) of a point written with |dec| > 90 (beyond a pole), as the
   point it stands for (dec in [-90, 90], ra from its unit vector). */
static void radec_fold(double *ra, double *dec) {
  double x, y, z;
  radec_vec(*ra, *dec, &x, &y, &z);
  *dec = asin(z > 1 ? 1 : z < -1 ? -1 : z) * (180.0 / M_PI);
  *ra = atan2(y, x) * (180.0 / M_PI);
}

static int zones_build_folded(st_xm_index *ix, const double *r_ra, const double *r_dec,
                              int64_t nr, double hint_deg, st_error *err);

/* Zones are cut in declination: points written beyond a pole are placed by
   the point they stand for (their unit vectors stay as given). */
static int zones_build(st_xm_index *ix, const double *r_ra, const double *r_dec, int64_t nr,
                       double hint_deg, st_error *err) {
  int64_t bad = 0;
  for (int64_t i = 0; i < nr; i++)
    bad += !(r_dec[i] >= -90.0 && r_dec[i] <= 90.0) && isfinite(r_dec[i]);
  if (!bad) return zones_build_folded(ix, r_ra, r_dec, nr, hint_deg, err);
  double *ra = malloc((size_t)nr * sizeof *ra), *dec = malloc((size_t)nr * sizeof *dec);
  int rc = 0;
  if (!ra || !dec) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (zones)");
  for (int64_t i = 0; i < nr && !rc; i++) {
    ra[i] = r_ra[i];
    dec[i] = r_dec[i];
    if (isfinite(ra[i]) && isfinite(dec[i]) && !(dec[i] >= -90.0 && dec[i] <= 90.0))
      radec_fold(&ra[i], &dec[i]);
  }
  if (!rc) rc = zones_build_folded(ix, ra, dec, nr, hint_deg, err);
  if (!rc) /* the unit vectors of the points as given */
    for (int64_t i = 0; i < ix->n; i++) {
      int64_t j = ix->pts[i].idx;
      radec_vec(r_ra[j], r_dec[j], &ix->pts[i].x, &ix->pts[i].y, &ix->pts[i].z);
    }
  free(ra);
  free(dec);
  return rc;
}

static int zones_build_folded(st_xm_index *ix, const double *r_ra, const double *r_dec,
                              int64_t nr, double hint_deg, st_error *err) {
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
  ix->inv_zh = 1.0 / zh;
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
    bbox_add(lo, hi, p);
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

/* Great-circle distance (arcsec) of a squared chord.  For h = chord / 2 <
   2^-10 (chords under ~7 arcmin), asin's series h + h^3/6 + 3h^5/40 +
   15h^7/336: the truncation (< 3e-26 relative) and the rounding of the
   tiny correction term are far below half an ulp of the result, so it is
   the correctly rounded asin (as glibc's) but for a vanishing fraction of
   inputs, without a libm call. */
static inline double chord_arcsec(double c2) {
  double h = 0.5 * sqrt(c2);
  double a;
  if (h < 0x1p-10) {
    double h2 = h * h;
    a = h + h * (h2 * (1.0 / 6.0 + h2 * (3.0 / 40.0 + h2 * (15.0 / 336.0))));
  } else {
    a = asin(h < 1.0 ? h : 1.0);
  }
  return 2.0 * a * ST_XM_RAD2AS;
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
static inline __attribute__((always_inline)) int cand_take(const xm_pt *p, double qx, double qy,
                                                            double qz, double rmin,
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

/* ---- unit vectors and charts, 4 points per step (AVX2) ------------------- */
/*
** The same expressions as radec_vec, ra_norm and chart_of on 4 lanes, in
** the same order and without FMA, so the results are bit-identical to the
** scalar code (only blocks of points with ra in [-360, 360] and dec in
** [-90, 90] take this path).  Chosen at run time when the CPU has AVX2.
*/
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XM_AVX2 __attribute__((target("avx2")))

XM_AVX2 static inline __m256d v_set(double x) { return _mm256_set1_pd(x); }
XM_AVX2 static inline __m256d v_add(__m256d a, __m256d b) { return _mm256_add_pd(a, b); }
XM_AVX2 static inline __m256d v_sub(__m256d a, __m256d b) { return _mm256_sub_pd(a, b); }
XM_AVX2 static inline __m256d v_mul(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }
/* m ? a : b (m: all-ones lanes) */
XM_AVX2 static inline __m256d v_sel(__m256d m, __m256d a, __m256d b) {
  return _mm256_blendv_pd(b, a, m);
}

XM_AVX2 static inline void v_sincos(__m256d x, __m256d *s, __m256d *c) {
  const __m256d shifter = v_set(6755399441055744.0);
  __m256d fn = v_sub(v_add(v_mul(x, v_set(6.36619772367581382433e-01)), shifter), shifter);
  __m256d r = v_sub(v_sub(x, v_mul(fn, v_set(1.57079632673412561417e+00))),
                    v_mul(fn, v_set(6.07710050650619224932e-11)));
  __m256d z = v_mul(r, r);
  __m256d ps = v_add(v_set(-2.50507602534068634195e-08),
                     v_mul(z, v_set(1.58969099521155010221e-10)));
  ps = v_add(v_set(2.75573137070700676789e-06), v_mul(z, ps));
  ps = v_add(v_set(-1.98412698298579493134e-04), v_mul(z, ps));
  ps = v_add(v_set(8.33333333332248946124e-03), v_mul(z, ps));
  ps = v_add(v_set(-1.66666666666666324348e-01), v_mul(z, ps));
  __m256d sr = v_add(r, v_mul(v_mul(r, z), ps));
  __m256d pc = v_add(v_set(2.08757232129817482790e-09),
                     v_mul(z, v_set(-1.13596475577881948265e-11)));
  pc = v_add(v_set(-2.75573143513906633035e-07), v_mul(z, pc));
  pc = v_add(v_set(2.48015872894767294178e-05), v_mul(z, pc));
  pc = v_add(v_set(-1.38888888888741095749e-03), v_mul(z, pc));
  pc = v_add(v_set(4.16666666666666019037e-02), v_mul(z, pc));
  __m256d cr = v_add(v_sub(v_set(1.0), v_mul(v_set(0.5), z)), v_mul(v_mul(z, z), pc));
  __m256i q = _mm256_cvtepi32_epi64(_mm_and_si128(_mm256_cvttpd_epi32(fn), _mm_set1_epi32(3)));
  __m256d m1 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(1)),
                                                      _mm256_set1_epi64x(1)));
  __m256d m2 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(2)),
                                                      _mm256_set1_epi64x(2)));
  __m256i q1 = _mm256_add_epi64(q, _mm256_set1_epi64x(1));
  __m256d m3 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q1, _mm256_set1_epi64x(2)),
                                                      _mm256_set1_epi64x(2)));
  __m256d ss = v_sel(m1, cr, sr), cc = v_sel(m1, sr, cr);
  const __m256d sign = v_set(-0.0);
  *s = v_sel(m2, _mm256_xor_pd(ss, sign), ss);
  *c = v_sel(m3, _mm256_xor_pd(cc, sign), cc);
}

/* Points [0, n) (n a multiple of 4), all eligible. */
XM_AVX2 static void xyzc_avx2(const double *ra, const double *dec, int64_t n, double *xyz,
                              double *chart) {
  const __m256d d2r = v_set(ST_XM_DEG2RAD), zero = v_set(0.0), c360 = v_set(360.0);
  const __m256d one = v_set(1.0), half = v_set(0.5), q34 = v_set(0.75);
  const __m256d absm = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
  for (int64_t i = 0; i < n; i += 4) {
    __m256d r = _mm256_loadu_pd(ra + i), d = _mm256_loadu_pd(dec + i);
    __m256d sa, ca, sb, cb;
    v_sincos(v_mul(r, d2r), &sa, &ca);
    v_sincos(v_mul(d, d2r), &sb, &cb);
    __m256d vx = v_mul(cb, ca), vy = v_mul(cb, sa), z = sb;
    /* ra_norm: [0, 360) */
    __m256d rp = v_add(r, c360);
    __m256d rn = v_sel(_mm256_cmp_pd(r, zero, _CMP_GE_OQ),
                       v_sel(_mm256_cmp_pd(r, c360, _CMP_LT_OQ), r, zero),
                       v_sel(_mm256_cmp_pd(rp, c360, _CMP_GE_OQ), zero, rp));
    __m256d t = v_mul(rn, v_set(1.0 / 90.0)), za = _mm256_and_pd(z, absm);
    /* equatorial */
    __m256d a = v_sub(v_add(half, t), v_mul(q34, z)), b = v_add(v_add(half, t), v_mul(q34, z));
    __m256d fa = _mm256_floor_pd(a), fb = _mm256_floor_pd(b);
    __m256d fe = v_sel(_mm256_cmp_pd(fa, fb, _CMP_EQ_OQ),
                       v_sel(_mm256_cmp_pd(fa, v_set(4.0), _CMP_LT_OQ), v_add(fa, v_set(4.0)), fa),
                       v_sel(_mm256_cmp_pd(fa, fb, _CMP_LT_OQ), fa, v_add(fb, v_set(8.0))));
    __m256d xe = v_sub(b, fb), ye = v_sub(one, v_sub(a, fa));
    /* polar */
    __m256d nt = _mm256_min_pd(_mm256_floor_pd(t), v_set(3.0));
    __m256d tp = v_sub(t, nt), sq = _mm256_sqrt_pd(v_mul(v_set(3.0), v_sub(one, za)));
    __m256d north = _mm256_cmp_pd(z, zero, _CMP_GT_OQ);
    __m256d xp = v_sel(north, v_sub(one, v_mul(v_sub(one, tp), sq)), v_mul(tp, sq));
    __m256d yp = v_sel(north, v_sub(one, v_mul(tp, sq)), v_mul(v_sub(one, tp), sq));
    __m256d fp = v_sel(north, nt, v_add(nt, v_set(8.0)));
    __m256d eq = _mm256_cmp_pd(za, v_set(2.0 / 3.0), _CMP_LE_OQ);
    __m256d cf = v_sel(eq, fe, fp), cx = v_sel(eq, xe, xp), cy = v_sel(eq, ye, yp);
    double bx[4], by[4], bz[4], bf[4], bcx[4], bcy[4];
    _mm256_storeu_pd(bx, vx);
    _mm256_storeu_pd(by, vy);
    _mm256_storeu_pd(bz, z);
    _mm256_storeu_pd(bf, cf);
    _mm256_storeu_pd(bcx, cx);
    _mm256_storeu_pd(bcy, cy);
    for (int j = 0; j < 4; j++) {
      double *p = xyz + 3 * (i + j), *c = chart + 3 * (i + j);
      p[0] = bx[j];
      p[1] = by[j];
      p[2] = bz[j];
      c[0] = bf[j];
      c[1] = bcx[j];
      c[2] = bcy[j];
    }
  }
}

static int xm_have_avx2(void) {
  static int have = -1;
  if (have < 0) {
    const char *e = getenv("SKYTILE_XM_ISA");
    __builtin_cpu_init();
    have = __builtin_cpu_supports("avx2") && !(e && !strcmp(e, "scalar"));
  }
  return have;
}
#endif

/* Scalar unit vectors and charts of points [b, e). */
static void xyzc_scalar(const double *ra, const double *dec, int64_t b, int64_t e, double *xyz,
                        double *chart) {
  for (int64_t i = b; i < e; i++) {
    if (!isfinite(ra[i]) || !isfinite(dec[i])) {
      xyz[3 * i] = xyz[3 * i + 1] = xyz[3 * i + 2] = NAN;
      chart[3 * i] = -1;
      chart[3 * i + 1] = chart[3 * i + 2] = NAN;
      continue;
    }
    double *p = xyz + 3 * i, x, y;
    radec_vec(ra[i], dec[i], &p[0], &p[1], &p[2]);
    chart[3 * i] = point_chart(ra[i], dec[i], p, &x, &y);
    chart[3 * i + 1] = x;
    chart[3 * i + 2] = y;
  }
}

void st_xm_radec_to_xyzc_ref(const double *ra, const double *dec, int64_t n, double *xyz,
                             double *chart) {
  xyzc_scalar(ra, dec, 0, n, xyz, chart);
}

void st_xm_radec_to_xyzc(const double *ra, const double *dec, int64_t n, double *xyz,
                         double *chart) {
  int64_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (xm_have_avx2()) {
    /* blocks of 64 points with |ra| <= 360 and |dec| <= 90 */
    while (i + 64 <= n) {
      bool ok = true;
      for (int j = 0; j < 64; j++) {
        double r = ra[i + j], d = dec[i + j];
        ok &= r >= -360.0 && r <= 360.0 && d >= -90.0 && d <= 90.0;
      }
      if (ok) xyzc_avx2(ra + i, dec + i, 64, xyz + 3 * i, chart + 3 * i);
      else xyzc_scalar(ra, dec, i, i + 64, xyz, chart);
      i += 64;
    }
  }
#endif
  xyzc_scalar(ra, dec, i, n, xyz, chart);
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

/* Constants of one match call. */
typedef struct xm_qpar {
  double rmin, rmax;       /* arcsec                                         */
  double bound0;           /* widened squared chord of rmax                  */
  double rdeg;             /* rmax in degrees                                */
  double sin_r, cos_r;
  int64_t kk;              /* k nearest (0: all)                             */
} xm_qpar;

/* Candidates of the current query. */
typedef struct xm_scr {
  xm_cand *sc;             /* list (k = 0) or max-heap (k > 0)               */
  int64_t scap, nc;
  double bound;            /* current squared chord bound                    */
} xm_scr;

#define XM_TAKE(p) cand_take((p), qx, qy, qz, P->rmin, P->rmax, P->kk, &S->sc, &S->scap, &S->nc, \
                             &S->bound, err)

/* Zone index: offer the points near query q (ra, dec in degrees). */
static int zone_point(const st_xm_index *ix, double qx, double qy, double qz, double ra,
                      double dec, const xm_qpar *P, xm_scr *S, st_error *err) {
  const xm_pt *pts = ix->pts;
  double inv_zh = ix->inv_zh;
  double f0 = (dec - P->rdeg - 1e-9 - ix->zdec0) * inv_zh;
  double f1 = (dec + P->rdeg + 1e-9 - ix->zdec0) * inv_zh;
  if (f1 < 0 || f0 >= (double)ix->nz) return 0;
  int64_t z0 = f0 < 0 ? 0 : (int64_t)f0;
  int64_t z1 = f1 >= (double)(ix->nz - 1) ? ix->nz - 1 : (int64_t)f1;
  /* RA intervals (quantised): up to two, across RA 0 */
  uint32_t ilo[2], ihi[2];
  int ni = 1;
  /* cos(|dec| + r) from the unit vector: cos|dec| cos r - sin|dec| sin r
     (no trigonometry per query) */
  double ca = sqrt(qx * qx + qy * qy) * P->cos_r - fabs(qz) * P->sin_r;
  double s = ca > 1.7e-3 ? P->sin_r / ca : 2.0;
  if (s >= 0.99 || P->rdeg >= 30.0) {
    ilo[0] = 0;
    ihi[0] = 4294967295u;
  } else {
    /* asin(s) <= s / sqrt(1 - s^2) (= tan(asin s)) <= s (1 + s^2)
       for s^2 <= 1/2 (1 / sqrt(1 - x) <= 1 + x there) */
    double s2 = s * s;
    double w = (s2 <= 0.5 ? s * (1.0 + s2) : s / sqrt(1.0 - s2)) * (180.0 / M_PI) * (1 + 1e-9) +
               1e-9;
    double lo = ra - w, hi = ra + w;
    if (!ix->ra_any && w < 90.0) {
      /* the window misses the points' ra arc (circular distance of the
         centres > sum of the half-widths): nothing here */
      double c = 0.5 * (ix->ra_lo + ix->ra_hi), h = 0.5 * (ix->ra_hi - ix->ra_lo);
      double d = ra - c;
      d -= 360.0 * floor((d + 180.0) * (1.0 / 360.0));
      if (fabs(d) > h + w + 1e-9) return 0;
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
  for (int64_t z = z0; z <= z1; z++) {
    int64_t zb = ix->zstart[z], ze = ix->zstart[z + 1];
    for (int iv = 0; iv < ni; iv++) {
      int64_t i = ilo[iv] ? lower_u32(ix->zra, zb, ze, ilo[iv]) : zb;
      for (; i < ze && ix->zra[i] <= ihi[iv]; i++) ST_TRY(XM_TAKE(&pts[i]));
    }
  }
  return 0;
}

/* kd-tree: offer the points near query q. */
static int kd_point(const st_xm_index *ix, double qx, double qy, double qz, const xm_qpar *P,
                    xm_scr *S, st_error *err) {
  const xm_node *nodes = ix->nodes;
  const xm_pt *pts = ix->pts;
  int64_t stk[ST_XM_STACK];
  double stkd[ST_XM_STACK];
  int sp = 0;
  double d0 = box_d2(ix->lo, ix->hi, qx, qy, qz);
  if (d0 <= S->bound) {
    stk[0] = 0;
    stkd[0] = d0;
    sp = 1;
  }
  while (sp > 0) {
    sp--;
    if (stkd[sp] > S->bound) continue;
    const xm_node *nd = &nodes[stk[sp]];
    if (nd->child < 0) {
      for (int64_t i = nd->begin; i < nd->end; i++) ST_TRY(XM_TAKE(&pts[i]));
      continue;
    }
    /* the far side of the split plane is at least diff^2 away (a lower
       bound of the squared chord); push it, visit the near side first.
       The stack holds at most one pending sibling per level (+ root). */
    double qa = nd->axis == 0 ? qx : nd->axis == 1 ? qy : qz;
    double diff = qa - nd->split;
    int64_t nearc = diff < 0 ? nd->child : nd->child + 1;
    double fd = diff * diff;
    if (fd <= S->bound) {
      stk[sp] = diff < 0 ? nd->child + 1 : nd->child;
      stkd[sp++] = fd;
    }
    stk[sp] = nearc;
    stkd[sp++] = 0;
  }
  return 0;
}

static inline double q_dec_of(const double *q_dec, int64_t q, double qz) {
  return q_dec ? q_dec[q] : asin(qz > 1 ? 1 : qz < -1 ? -1 : qz) * (180.0 / M_PI);
}

static inline double q_ra_of(const double *q_ra, int64_t q, double qx, double qy) {
  return q_ra ? ra_norm(q_ra[q]) : ra_norm(atan2(qy, qx) * (180.0 / M_PI));
}

/* Zone or kd-tree index: offer the points near query q. */
static inline int plain_point(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                              int64_t q, double qx, double qy, double qz, const xm_qpar *P,
                              xm_scr *S, st_error *err) {
  if (ix->zones) {
    double ra = q_ra_of(q_ra, q, qx, qy), dec = q_dec_of(q_dec, q, qz);
    if (!(dec >= -90.0 && dec <= 90.0)) {
      radec_fold(&ra, &dec);
      ra = ra_norm(ra);
    }
    return zone_point(ix, qx, qy, qz, ra, dec, P, S, err);
  }
  return kd_point(ix, qx, qy, qz, P, S, err);
}

/* Bits of v (< 2^16) spread to the even bit positions. */
static inline uint64_t spread16(uint64_t t) {
  t = (t | (t << 8)) & 0x00FF00FFull;
  t = (t | (t << 4)) & 0x0F0F0F0Full;
  t = (t | (t << 2)) & 0x33333333ull;
  return (t | (t << 1)) & 0x55555555ull;
}

/* Morton code of grid cell (x, y) (x, y < 2^16): x in the even bits. */
static inline int64_t morton2(int64_t x, int64_t y) {
  return (int64_t)(spread16((uint64_t)x) | (spread16((uint64_t)y) << 1));
}

/* Cell grid index: offer the points near query q (see st_xm_index_build_cell). */
static int grid_point(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                      const double *q_chart, int64_t q, double qx, double qy, double qz,
                      const xm_qpar *P, xm_scr *S, st_error *err) {
  double cx, cy;
  int f;
  if (q_chart) {
    f = (int)q_chart[3 * q];
    cx = q_chart[3 * q + 1];
    cy = q_chart[3 * q + 2];
  } else {
    double v[3] = {qx, qy, qz};
    if (q_ra && q_dec) f = point_chart(q_ra[q], q_dec[q], v, &cx, &cy);
    else f = chart_of(ra_norm(atan2(qy, qx) * (180.0 / M_PI)) * (1.0 / 90.0), qz, &cx, &cy);
  }
  bool edge = true;
  if (f == ix->g_face) {
    const xm_pt *pts = ix->pts;
    const int64_t *st = ix->g_start;
    int64_t gs = ix->g_side;
    double X = cx * ix->g_scale - ix->g_x0, Y = cy * ix->g_scale - ix->g_y0, d = ix->g_d;
    double sd = (double)gs;
    if (X + d >= 0 && X - d < sd && Y + d >= 0 && Y - d < sd) {
      int64_t x0 = X - d < 0 ? 0 : (int64_t)(X - d), x1 = X + d >= sd ? gs - 1 : (int64_t)(X + d);
      int64_t y0 = Y - d < 0 ? 0 : (int64_t)(Y - d), y1 = Y + d >= sd ? gs - 1 : (int64_t)(Y + d);
      if (x0 == x1 && y0 == y1) { /* the usual case: one grid cell */
        int64_t c = morton2(x0, y0);
        for (int64_t i = st[c], e = st[c + 1]; i < e; i++) ST_TRY(XM_TAKE(&pts[i]));
      } else {
        for (int64_t gy = y0; gy <= y1; gy++)
          for (int64_t gx = x0; gx <= x1; gx++) {
            int64_t c = morton2(gx, gy);
            for (int64_t i = st[c], e = st[c + 1]; i < e; i++) ST_TRY(XM_TAKE(&pts[i]));
          }
      }
    }
    double mx = X < sd - X ? X : sd - X, my = Y < sd - Y ? Y : sd - Y;
    edge = !((mx < my ? mx : my) >= ix->g_ml);
  }
  const st_xm_index *ex = ix->g_edge;
  if (edge && ex && ex->n > 0 && box_d2(ex->lo, ex->hi, qx, qy, qz) <= S->bound)
    ST_TRY(plain_point(ex, q_ra, q_dec, q, qx, qy, qz, P, S, err));
  return 0;
}

int st_xm_index_match_xyz(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                          const double *q_xyz, int64_t nq, int64_t q_offset, double rmin_arcsec,
                          double rmax_arcsec, int k, st_xm_pairs *out, st_error *err) {
  return st_xm_index_match_xyzc(ix, q_ra, q_dec, q_xyz, NULL, nq, q_offset, rmin_arcsec,
                                rmax_arcsec, k, out, err);
}

int st_xm_index_match_xyzc(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                           const double *q_xyz, const double *q_chart, int64_t nq,
                           int64_t q_offset, double rmin_arcsec, double rmax_arcsec, int k,
                           st_xm_pairs *out, st_error *err) {
  ST_CHECK(!(rmax_arcsec < 0) && !isnan(rmax_arcsec), err, ST_ERR_INVALID,
           "xmatch: radius %g arcsec must be >= 0", rmax_arcsec);
  ST_CHECK(!isnan(rmin_arcsec), err, ST_ERR_INVALID, "xmatch: minimum radius is NaN");
  ST_CHECK(k >= 0, err, ST_ERR_INVALID, "xmatch: n_neighbors %d must be >= 0", k);
  if (ix->n == 0 || nq <= 0 || rmin_arcsec > rmax_arcsec) return 0;

  /* squared chord bound of rmax (capped at 180 degrees) */
  xm_qpar par, *P = &par;
  double rmax_rad = rmax_arcsec / ST_XM_RAD2AS;
  if (rmax_rad > M_PI) rmax_rad = M_PI;
  double cr = 2.0 * sin(0.5 * rmax_rad);
  P->bound0 = widen(cr * cr);
  if (rmax_rad >= M_PI) P->bound0 = 5.0; /* everything */
  P->rmin = rmin_arcsec;
  P->rmax = rmax_arcsec;
  P->rdeg = rmax_rad * (180.0 / M_PI);
  P->sin_r = sin(rmax_rad);
  P->cos_r = cos(rmax_rad);
  P->kk = k == 0 ? 0 : (k < ix->n ? k : ix->n);

  xm_scr scr, *S = &scr;
  S->scap = P->kk > 0 ? P->kk : 256;
  S->sc = malloc((size_t)S->scap * sizeof *S->sc);
  if (!S->sc) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (scratch)");
  int rc = 0;

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
      free(S->sc);
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (query order)");
    }
    int64_t m = 0;
    for (int64_t q = 0; q < nq; q++) {
      double qx = q_xyz[3 * q], qy = q_xyz[3 * q + 1], qz = q_xyz[3 * q + 2];
      if (isnan(qx) || box_d2(ix->lo, ix->hi, qx, qy, qz) > P->bound0) continue;
      double f = (q_dec_of(q_dec, q, qz) - ix->zdec0) * ix->inv_zh;
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
    S->nc = 0;
    S->bound = P->bound0;
    if (!ord && box_d2(ix->lo, ix->hi, qx, qy, qz) > S->bound) continue;
    if (ix->grid) rc = grid_point(ix, q_ra, q_dec, q_chart, q, qx, qy, qz, P, S, err);
    else rc = plain_point(ix, q_ra, q_dec, q, qx, qy, qz, P, S, err);
    int64_t nc = S->nc;
    if (rc || nc == 0) continue;
    xm_cand *sc = S->sc;
    if (nc > 1) cand_sort(sc, nc);
    if (out->n + nc > out->cap && (rc = pairs_reserve(out, nc, err))) break;
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
  free(S->sc);
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

/* ---- cell interiors ------------------------------------------------------ */
/*
** Which points lie deep enough inside a HEALPix cell that their whole disc
** of radius r does too.  A point's continuous face coordinates (x, y) in
** [0, 1]^2 on its base face are those HEALPix floors to get its pixel
** (hpx_core.c, with nside = 1):
**   |z| <= 2/3:  A = 1/2 + t - 3z/4, B = 1/2 + t + 3z/4 (t = phi / (pi/2)),
**                face from floor(A), floor(B); x = B - floor(B),
**                y = 1 - (A - floor(A));
**   z > 2/3:     s = sqrt(3 (1 - z)), tp = t - floor(t): x = 1 - (1 - tp) s,
**                y = 1 - tp s (face floor(t));  z < -2/3: x = tp s,
**                y = (1 - tp) s (face floor(t) + 8).
** They are continuous inside a face and Lipschitz in the angle: with ds_E,
** ds_N the east/north components of a displacement, |dt| <= (2/pi) ds_E /
** sin(theta) and |dz| <= sin(theta) ds_N give |dx|, |dy| <= 1.14 ds in the
** equatorial zone, and (s |dtp| <= 0.854 ds_E, |ds| <= 1.225 ds_N for
** |z| >= 2/3) <= 1.50 ds in the caps.  So when (x, y) lies at least
** L r (L = 1.6) inside the cell's square [ix, ix + 1] x [iy, iy + 1] / 2^order
** of its face, no point within r of it is outside the cell (a path leaving
** the cell would have to move x or y by more than L r first).  A slack of
** 1e-7 face units covers rounding (sqrt(1 - z) near the poles).
*/
/* The classification of one point from its chart (face, x, y). */
static inline bool cell_deep(int face, double x, double y, int fu, double nside, double x0,
                             double y0, double dcell) {
  double X = x * nside - x0, Y = y * nside - y0;
  return face == fu && X > dcell && X < 1.0 - dcell && Y > dcell && Y < 1.0 - dcell;
}

static int64_t cell_boundary(int order, int64_t pixel, const double *ra, const double *dec,
                             const double *xyz, const double *chart, int64_t n,
                             double radius_arcsec, int64_t *idx) {
  int64_t m = 0;
  double nside = ldexp(1.0, order < 0 ? 0 : order);
  double dcell = (1.6 * (radius_arcsec / ST_XM_RAD2AS) * (1.0 + 1e-6) + 1e-7) * nside;
  if (order < 0 || order > 29 || !(dcell < 0.5)) {
    for (int64_t i = 0; i < n; i++)
      if (chart ? chart[3 * i] >= 0 : !isnan(xyz[3 * i])) idx[m++] = i;
    return m;
  }
  int fu = (int)(pixel >> (2 * order));
  uint64_t sub = (uint64_t)pixel & ((UINT64_C(1) << (2 * order)) - 1), cx = 0, cy = 0;
  for (int b = 0; b < order; b++) {
    cx |= ((sub >> (2 * b)) & 1) << b;
    cy |= ((sub >> (2 * b + 1)) & 1) << b;
  }
  double x0 = (double)cx, y0 = (double)cy;
  if (chart) {
    for (int64_t i = 0; i < n; i++) {
      int face = (int)chart[3 * i];
      if (face < 0) continue; /* never matches */
      idx[m] = i;
      m += !cell_deep(face, chart[3 * i + 1], chart[3 * i + 2], fu, nside, x0, y0, dcell);
    }
    return m;
  }
  for (int64_t i = 0; i < n; i++) {
    if (isnan(xyz[3 * i])) continue; /* never matches */
    double x, y;
    int face = dec ? point_chart(ra[i], dec[i], xyz + 3 * i, &x, &y)
                   : chart_of(ra_norm(ra[i]) * (1.0 / 90.0), xyz[3 * i + 2], &x, &y);
    idx[m] = i;
    m += !cell_deep(face, x, y, fu, nside, x0, y0, dcell);
  }
  return m;
}

int64_t st_xm_cell_boundary(int order, int64_t pixel, const double *ra, const double *xyz,
                            int64_t n, double radius_arcsec, int64_t *idx) {
  return cell_boundary(order, pixel, ra, NULL, xyz, NULL, n, radius_arcsec, idx);
}

int64_t st_xm_cell_boundary_chart(int order, int64_t pixel, const double *chart, int64_t n,
                                  double radius_arcsec, int64_t *idx) {
  return cell_boundary(order, pixel, NULL, NULL, NULL, chart, n, radius_arcsec, idx);
}

/* ---- cell grid index ------------------------------------------------------ */

int64_t st_xm_cell_outside(int order, int64_t pixel, const double *ra, const double *dec,
                           int64_t n) {
  if (order < 0 || order > 29) return 0;
  double xyz[3 * 256], chart[3 * 256];
  int fu = (int)(pixel >> (2 * order));
  uint64_t sub = (uint64_t)pixel & ((UINT64_C(1) << (2 * order)) - 1), cx = 0, cy = 0;
  for (int b = 0; b < order; b++) {
    cx |= ((sub >> (2 * b)) & 1) << b;
    cy |= ((sub >> (2 * b + 1)) & 1) << b;
  }
  double nside = ldexp(1.0, order), x0 = (double)cx, y0 = (double)cy, e = 1e-7 * nside;
  int64_t out = 0;
  for (int64_t b = 0; b < n; b += 256) {
    int64_t m = n - b < 256 ? n - b : 256;
    st_xm_radec_to_xyzc(ra + b, dec + b, m, xyz, chart);
    for (int64_t i = 0; i < m; i++) {
      int f = (int)chart[3 * i];
      if (f < 0) continue;
      double X = chart[3 * i + 1] * nside - x0, Y = chart[3 * i + 2] * nside - y0;
      out += f != fu || !(X >= -e && X <= 1.0 + e && Y >= -e && Y <= 1.0 + e);
    }
  }
  return out;
}

int64_t st_xm_index_cell_outside(const st_xm_index *ix) { return ix && ix->grid ? ix->g_out : -1; }
/*
** For the points of one HEALPix cell C (order o, e.g. a catalog partition).
** Face coordinates (x, y) (st_xm_cell_boundary) map C to a square of side
** 2^-o on its face; the square is cut into a grid of 2^m x 2^m cells (about
** two points per cell, cells no narrower than the search half-width).
** A point whose face coordinates lie at least mr = L r (+ slack) inside the
** square has its whole disc of radius r inside C; such "inner" points go to
** the grid (pts sorted by grid cell in Morton order, i.e. as HEALPix nested
** pixels of order o + m, like catalog rows; g_start the offsets); the
** others (near C's edge, outside C, on another face) to g_edge, an ordinary
** zone/kd index (their original indices kept).
**
** Query q: when q is on C's face, the grid cells within d = L r (+ slack) of
** q's face coordinates are scanned: an inner point p within r of q has q in
** its disc, so inside C, and the arc between them is inside C, along which
** the face coordinates move by at most 1.5 r < d.  q also searches g_edge
** unless it lies at least ml = mr + L r (+ slack) inside the square: then an
** edge point p within r would be inside the square by more than
** ml - 1.5 r > mr, i.e. not an edge point.
*/
int st_xm_index_build_cell(int order, int64_t pixel, const double *r_ra, const double *r_dec,
                           int64_t nr, double radius_arcsec, st_xm_index **out, st_error *err) {
  st_xm_scratch sc = {NULL, 0};
  int rc = st_xm_index_build_cell_s(order, pixel, r_ra, r_dec, nr, radius_arcsec, &sc, out, err);
  st_aligned_free(sc.p);
  return rc;
}

int st_xm_index_build_cell_s(int order, int64_t pixel, const double *r_ra, const double *r_dec,
                             int64_t nr, double radius_arcsec, st_xm_scratch *scr,
                             st_xm_index **out, st_error *err) {
  *out = NULL;
  double r = radius_arcsec / ST_XM_RAD2AS;
  double side = ldexp(1.0, -(order < 0 ? 0 : order));
  double mr = 1.6 * r * (1.0 + 1e-6) + 1e-7;
  double dd = 1.6 * r * (1.0 + 1e-6) + 2e-7;
  double ml = mr + dd;
  if (order < 0 || order > 29 || nr < 256 || !(radius_arcsec > 0) || !(ml * 16 < side))
    return st_xm_index_build_hint(r_ra, r_dec, nr, radius_arcsec, out, err);
  int m = 0;
  while (m < 10 && ldexp((double)nr, -2 * m) > 2.0) m++;
  while (m > 0 && ldexp(side, -m) < dd) m--;
  if (m < 2) return st_xm_index_build_hint(r_ra, r_dec, nr, radius_arcsec, out, err);

  st_xm_index *ix = calloc(1, sizeof *ix);
  int64_t gs = INT64_C(1) << m, ncell = gs * gs;
  /* Two blocks: the index (cell offsets, then points) and the caller's
     scratch block (unit vectors, charts, cell of each point, fill
     positions), reused from one partition to the next. */
  size_t ib = (size_t)nr * sizeof(xm_pt) + ((size_t)ncell + 2) * sizeof(int64_t);
  size_t tb = (size_t)nr * (6 * sizeof(double) + sizeof(int32_t)) +
              ((size_t)ncell + 1) * sizeof(int64_t) + 64;
  const size_t mib = (size_t)1 << 20;
  if (scr->cap < tb) {
    st_aligned_free(scr->p);
    scr->cap = tb > mib ? tb : mib;
    scr->p = st_aligned_alloc(scr->cap);
    if (!scr->p) scr->cap = 0;
  }
  uint8_t *tmp = scr->p;
  if (ix) {
    ix->g_block = malloc(ib);
    if (ix->g_block) {
      ix->g_start = (int64_t *)ix->g_block;
      ix->pts = (xm_pt *)(ix->g_block + ((size_t)ncell + 2) * sizeof(int64_t));
      memset(ix->g_start, 0, ((size_t)ncell + 2) * sizeof(int64_t));
    }
  }
  if (!ix || !tmp || !ix->g_block) {
    st_xm_index_free(ix);
    return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (%lld points)", (long long)nr);
  }
  double *xyz = (double *)tmp, *chart = xyz + 3 * nr;
  int64_t *pos = (int64_t *)(chart + 3 * nr);
  int32_t *cell = (int32_t *)(pos + ncell + 1);
  ix->grid = true;
  ix->g_face = (int)(pixel >> (2 * order));
  uint64_t sub = (uint64_t)pixel & ((UINT64_C(1) << (2 * order)) - 1), cx = 0, cy = 0;
  for (int b = 0; b < order; b++) {
    cx |= ((sub >> (2 * b)) & 1) << b;
    cy |= ((sub >> (2 * b + 1)) & 1) << b;
  }
  ix->g_side = gs;
  ix->g_scale = ldexp(1.0, order + m);
  ix->g_x0 = ldexp((double)cx, m);
  ix->g_y0 = ldexp((double)cy, m);
  ix->g_d = dd * ix->g_scale;
  ix->g_ml = ml * ix->g_scale;
  double mrg = mr * ix->g_scale, sd = (double)gs;
  st_xm_radec_to_xyzc(r_ra, r_dec, nr, xyz, chart);
  /* pass 1: grid cell of each point (-1: edge, -2: not finite), counts */
  int64_t ne = 0, n = 0;
  int64_t *cnt = ix->g_start + 1;
  for (int64_t i = 0; i < nr; i++) {
    int f = (int)chart[3 * i];
    if (f < 0) {
      cell[i] = -2;
      continue;
    }
    n++;
    double X = chart[3 * i + 1] * ix->g_scale - ix->g_x0;
    double Y = chart[3 * i + 2] * ix->g_scale - ix->g_y0;
    double mx = X < sd - X ? X : sd - X, my = Y < sd - Y ? Y : sd - Y;
    if (f != ix->g_face || !((mx < my ? mx : my) >= mrg)) {
      cell[i] = -1;
      ne++;
      /* outside the cell (beyond rounding) */
      ix->g_out += f != ix->g_face || !((mx < my ? mx : my) >= -1e-7 * ix->g_scale);
      continue;
    }
    int64_t gx = (int64_t)X, gy = (int64_t)Y;
    gx = gx >= gs ? gs - 1 : gx;
    gy = gy >= gs ? gs - 1 : gy;
    cell[i] = (int32_t)morton2(gx, gy);
    cnt[cell[i]]++;
  }
  ix->n = n;
  /* pass 2: unit vectors straight to their place (counting sort, stable) */
  int64_t *st = ix->g_start;
  for (int64_t c = 0; c < ncell; c++) st[c + 1] += st[c];
  double *era = NULL, *edec = NULL;
  int64_t *eidx = NULL;
  if (ne > 0) {
    era = malloc((size_t)ne * sizeof *era);
    edec = malloc((size_t)ne * sizeof *edec);
    eidx = malloc((size_t)ne * sizeof *eidx);
  }
  int rc = 0;
  if (ne > 0 && (!era || !edec || !eidx))
    rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (grid)");
  if (!rc) {
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    memcpy(pos, st, (size_t)ncell * sizeof *pos);
    int64_t e = 0;
    for (int64_t i = 0; i < nr; i++) {
      int32_t c = cell[i];
      if (c >= 0) {
        xm_pt *p = &ix->pts[pos[c]++];
        p->x = xyz[3 * i];
        p->y = xyz[3 * i + 1];
        p->z = xyz[3 * i + 2];
        p->idx = i;
        bbox_add(lo, hi, p);
      } else if (c == -1) {
        era[e] = r_ra[i];
        edec[e] = r_dec[i];
        eidx[e++] = i;
      }
    }
    if (ne > 0) rc = st_xm_index_build_hint(era, edec, ne, radius_arcsec, &ix->g_edge, err);
    if (!rc && ix->g_edge) {
      st_xm_index *ex = ix->g_edge;
      for (int64_t i = 0; i < ex->n; i++) ex->pts[i].idx = eidx[ex->pts[i].idx];
      for (int a = 0; a < 3 && ex->n > 0; a++) {
        lo[a] = ex->lo[a] < lo[a] ? ex->lo[a] : lo[a];
        hi[a] = ex->hi[a] > hi[a] ? ex->hi[a] : hi[a];
      }
    }
    memcpy(ix->lo, lo, sizeof lo);
    memcpy(ix->hi, hi, sizeof hi);
  }
  free(era);
  free(edec);
  free(eidx);
  if (rc) {
    st_xm_index_free(ix);
    return rc;
  }
  *out = ix;
  return 0;
}
