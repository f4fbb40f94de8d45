/*
** This file implements region coverage: the MOC of pixels at a given order
** that may intersect a cone, an RA/Dec box or a convex polygon.
**
** Design: a depth-first descent of the NESTED tree from the 12 base pixels.
** Each visited pixel is replaced by a disc that contains it: its centre c
** and a radius R, where
**   - above the target order, R = max_pixrad(order) (HEALPix's bound on the
**     distance from any centre to any point of its pixel);
**   - at the target order, R = the largest distance from c to the pixel's
**     4 corners (tighter; the corners are the farthest boundary points of
**     every HEALPix pixel, which tests/unit/test_healpix.c checks).
** Both get a relative margin of 1e-9 and an absolute one of 1e-13 rad so
** that rounding never loses a pixel.  The region classifies the disc:
**   OUTSIDE  the disc misses the region       -> pixel dropped
**   INSIDE   the disc lies within the region  -> whole range added
**   PARTIAL  otherwise                        -> children visited, or the
**                                                pixel added at the target
**                                                order (inclusive).
** Since the disc contains the pixel, a pixel that meets the region is never
** classified OUTSIDE: the result never misses a pixel.  Ranges come out in
** increasing order, so they are appended with merging (no sort).
**
** Region geometry (angles in radians, p the disc centre):
**   cone     distance d(p, centre) vs radius.
**   box      distance from p to the box boundary: the Dec edges are
**            parallels (closest point on the same meridian when p's RA is
**            within the box, else an end corner), the RA edges meridian
**            segments (foot of the perpendicular if it falls inside the
**            segment, else an end corner).  p inside the box + boundary
**            distance > R -> INSIDE; outside + distance > R -> OUTSIDE.
**   polygon  convex = intersection of the hemispheres left of each edge
**            (normals n_i = v_i x v_i+1, oriented towards the vertex
**            centroid); p inside iff all p . n_i >= 0.  Inside: INSIDE when
**            every asin(p . n_i) > R.  Outside: distance to the nearest edge
**            arc (perpendicular foot within the arc, else an end vertex).
*/
#include "healpix/hpx.h"

#include <math.h>
#include <stdlib.h>

#define HPX_PI 3.141592653589793238462643383279502884197
#define HPX_D2R (HPX_PI / 180.0)
#define REL_MARGIN 1e-9
#define ABS_MARGIN 1e-13

enum { OUTSIDE = 0, PARTIAL = 1, INSIDE = 2 };

typedef int (*classify_fn)(const void *region, const double c[3], double radius);

typedef struct cover {
  int order;            /* target order                       */
  classify_fn classify; /* region test                        */
  const void *region;   /* region parameters                  */
  double rad[30];       /* disc radius above the target order */
  st_moc *out;          /* result                             */
} cover;

static int add_pixel(st_moc *m, int j, int64_t pix, st_error *err) {
  int s = 2 * (ST_HPX_MAX_ORDER - j);
  int64_t lo = pix << s, hi = (pix + 1) << s;
  if (m->n && m->r[2 * m->n - 1] >= lo) {
    if (hi > m->r[2 * m->n - 1]) m->r[2 * m->n - 1] = hi;
    return 0;
  }
  return st_moc_add_range(m, lo, hi, err);
}

/* Centre c of pixel `pix` at order j and, when corner_r, the target-order
** disc radius: the largest distance from c to the 4 corners, with margins. */
static void pixel_disc(int j, int64_t pix, double c[3], double *corner_r) {
  int64_t x, y;
  int face;
  st_hpx_nest2xyf(j, pix, &x, &y, &face);
  double inv = 1.0 / (double)(INT64_C(1) << j);
  st_hpx_xyf2vec(((double)x + 0.5) * inv, ((double)y + 0.5) * inv, face, c);
  if (!corner_r) return;
  double r = 0;
  for (int k = 0; k < 4; k++) {
    double v[3];
    st_hpx_xyf2vec((double)(x + (k & 1)) * inv, (double)(y + (k >> 1)) * inv, face, v);
    double a = st_hpx_vec_angle(c, v);
    if (a > r) r = a;
  }
  *corner_r = r * (1 + REL_MARGIN) + ABS_MARGIN;
}

static int descend(cover *cv, int j, int64_t pix, st_error *err) {
  double c[3], r = cv->rad[j];
  pixel_disc(j, pix, c, j == cv->order ? &r : NULL);
  int cls = cv->classify(cv->region, c, r);
  if (cls == OUTSIDE) return 0;
  if (cls == INSIDE || j == cv->order) return add_pixel(cv->out, j, pix, err);
  for (int k = 0; k < 4; k++) ST_TRY(descend(cv, j + 1, 4 * pix + k, err));
  return 0;
}

/* perimeter (rad) of the region: a region whose boundary crosses far more
** pixels than out->max_ranges allows fails at once rather than after
** building millions of ranges (each range holds >= 1 boundary pixel, and
** runs of consecutive boundary pixels are short). */
static int cover_run(int order, classify_fn fn, const void *region, double perimeter,
                     const char *what, st_moc *out, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  double pix_size = sqrt(4 * HPX_PI / (double)st_hpx_npix(order));
  double est = perimeter / pix_size;
  ST_CHECK(out->max_ranges <= 0 || est <= 8.0 * (double)out->max_ranges, err, ST_ERR_LIMIT,
           "%s: about %.3g boundary pixels at order %d, more than the limit of %lld ranges "
           "allows (use a coarser order)",
           what, est, order, (long long)out->max_ranges);
  cover cv = {.order = order, .classify = fn, .region = region, .out = out};
  for (int j = 0; j <= order; j++)
    cv.rad[j] = st_hpx_max_pixrad_rad(j) * (1 + REL_MARGIN) + ABS_MARGIN;
  out->n = 0;
  out->order = order;
  for (int64_t p = 0; p < 12; p++) ST_TRY(descend(&cv, 0, p, err));
  return 0;
}

/* ---- Cone ------------------------------------------------------------------ */

typedef struct cone {
  double v[3];   /* centre                  */
  double r;      /* radius (rad)            */
} cone;

static int cone_classify(const void *region, const double c[3], double R) {
  const cone *k = region;
  double d = st_hpx_vec_angle(c, k->v);
  if (d > k->r + R) return OUTSIDE;
  if (d + R < k->r) return INSIDE;
  return PARTIAL;
}

int st_hpx_cone_moc(int order, double ra, double dec, double radius_deg, st_moc *out,
                    st_error *err) {
  ST_TRY(st_hpx_check_point(ra, dec, err));
  ST_CHECK(radius_deg >= 0 && radius_deg <= 180, err, ST_ERR_INVALID,
           "cone: radius %.17g outside [0, 180] degrees", radius_deg);
  cone k;
  st_hpx_ang2vec(ra, dec, k.v);
  k.r = radius_deg * HPX_D2R;
  return cover_run(order, cone_classify, &k, 2 * HPX_PI * sin(fmin(k.r, HPX_PI / 2)), "cone", out,
                   err);
}

/*
** Small cones (st_hpx_cone_pixels_small): a breadth-first walk over
** neighbours at the target order, from the pixel holding the centre.  A
** pixel is kept when the disc through its 4 corners (descend's target-order
** disc, same margins) meets the cone; the walk continues only from kept
** pixels.  Every pixel that meets the cone is kept: the cone is connected,
** so the pixels it meets are connected through shared edges or corners
** (the 8 neighbours), and each of them passes the disc test.  The result
** is therefore a superset of the exact cover, like descend's; it can
** differ from descend's only by pixels whose disc meets the cone but which
** do not (descend may prune those through an ancestor), never by a pixel
** that meets the cone.  Cost: ~9 pixel tests instead of a 1 + order level
** descent from the 12 base pixels (about 10x fewer for arcsecond cones).
*/
static bool pixel_disc_meets_cone(int order, int64_t pix, const cone *k) {
  double c[3], r;
  pixel_disc(order, pix, c, &r);
  return cone_classify(k, c, r) != OUTSIDE;
}

int st_hpx_cone_pixels_small(int order, double ra, double dec, double radius_deg, int64_t *out,
                             int cap, int *n, st_error *err) {
  *n = 0;
  ST_TRY(st_hpx_check_order(order, err));
  ST_TRY(st_hpx_check_point(ra, dec, err));
  ST_CHECK(radius_deg >= 0 && radius_deg <= 180, err, ST_ERR_INVALID,
           "cone: radius %.17g outside [0, 180] degrees", radius_deg);
  ST_CHECK(cap >= 1, err, ST_ERR_LIMIT, "cone: no room for pixels");
  cone k;
  st_hpx_ang2vec(ra, dec, k.v);
  k.r = radius_deg * HPX_D2R;
  enum { MAX_REJECTED = 256 };
  int64_t rejected[MAX_REJECTED];
  int nk = 0, nr = 0;
  out[nk++] = st_hpx_ang2pix_exact(order, ra, dec);   /* holds the centre: meets the cone */
  for (int i = 0; i < nk; i++) {
    int64_t nb[8];
    ST_TRY(st_hpx_neighbours(order, out[i], nb, err));
    for (int j = 0; j < 8; j++) {
      if (nb[j] < 0) continue;
      bool seen = false;
      for (int q = 0; q < nk && !seen; q++) seen = out[q] == nb[j];
      for (int q = 0; q < nr && !seen; q++) seen = rejected[q] == nb[j];
      if (seen) continue;
      if (pixel_disc_meets_cone(order, nb[j], &k)) {
        if (nk == cap) return st_fail(err, ST_ERR_LIMIT, "cone: more than %d pixels at order %d", cap, order);
        out[nk++] = nb[j];
      } else {
        if (nr == MAX_REJECTED)
          return st_fail(err, ST_ERR_LIMIT, "cone: more than %d pixels at order %d", cap, order);
        rejected[nr++] = nb[j];
      }
    }
  }
  *n = nk;
  return 0;
}

/* ---- Box ------------------------------------------------------------------- */

typedef struct box {
  double ra_lo;       /* west edge, rad in [0, 2pi)          */
  double width;       /* RA extent, rad in [0, 2pi]          */
  int full_ra;        /* width covers all RA                 */
  double dec_lo;      /* rad                                 */
  double dec_hi;      /* rad                                 */
  double corner[4][3];/* (lo,lo) (lo,hi) (hi,lo) (hi,hi) as (ra, dec) */
} box;

static double wrap_2pi(double a) {
  a = fmod(a, 2 * HPX_PI);
  if (a < 0) a += 2 * HPX_PI;
  return a;
}

static void radec_vec(double ra, double dec, double v[3]) {
  v[0] = cos(dec) * cos(ra);
  v[1] = cos(dec) * sin(ra);
  v[2] = sin(dec);
}

static int ra_inside(const box *b, double ra) {
  return b->full_ra || wrap_2pi(ra - b->ra_lo) <= b->width;
}

/* Distance from p (ra, dec, vector) to the meridian segment at ra_e. */
static double meridian_dist(const box *b, double ra, double dec, const double p[3], double ra_e,
                            const double *end_lo, const double *end_hi) {
  double d1 = st_hpx_vec_angle(p, end_lo), d2 = st_hpx_vec_angle(p, end_hi);
  double d = d1 < d2 ? d1 : d2;
  double dra = ra - ra_e;
  double cdra = cos(dra);
  if (cdra >= 0) {
    double foot = atan2(sin(dec), cos(dec) * cdra);
    if (foot >= b->dec_lo && foot <= b->dec_hi) {
      double s = fabs(cos(dec) * sin(dra));
      double a = asin(s > 1 ? 1 : s);
      if (a < d) d = a;
    }
  }
  return d;
}

static double box_boundary_dist(const box *b, const double p[3]) {
  double ra = atan2(p[1], p[0]), dec = atan2(p[2], hypot(p[0], p[1]));
  double d = INFINITY;
  int in_ra = ra_inside(b, ra);
  /* Dec edges (parallels) */
  for (int e = 0; e < 2; e++) {
    double de = e ? b->dec_hi : b->dec_lo;
    if (fabs(de) >= HPX_PI / 2) continue; /* degenerate at a pole */
    double a;
    if (in_ra) {
      a = fabs(dec - de);
    } else {
      double a1 = st_hpx_vec_angle(p, b->corner[e ? 1 : 0]);
      double a2 = st_hpx_vec_angle(p, b->corner[e ? 3 : 2]);
      a = a1 < a2 ? a1 : a2;
    }
    if (a < d) d = a;
  }
  /* RA edges (meridians) */
  if (!b->full_ra) {
    double a1 = meridian_dist(b, ra, dec, p, b->ra_lo, b->corner[0], b->corner[1]);
    double a2 = meridian_dist(b, ra, dec, p, b->ra_lo + b->width, b->corner[2], b->corner[3]);
    if (a1 < d) d = a1;
    if (a2 < d) d = a2;
  }
  return d;
}

static int box_classify(const void *region, const double c[3], double R) {
  const box *b = region;
  double ra = atan2(c[1], c[0]), dec = atan2(c[2], hypot(c[0], c[1]));
  int inside = ra_inside(b, ra) && dec >= b->dec_lo && dec <= b->dec_hi;
  double d = box_boundary_dist(b, c);
  if (d > R) return inside ? INSIDE : OUTSIDE;
  return PARTIAL;
}

int st_hpx_box_moc(int order, double ra_min, double ra_max, double dec_min, double dec_max,
                   st_moc *out, st_error *err) {
  ST_CHECK(isfinite(ra_min) && isfinite(ra_max), err, ST_ERR_INVALID,
           "box: ra range [%g, %g] is not finite", ra_min, ra_max);
  ST_CHECK(dec_min >= -90 && dec_max <= 90 && dec_min <= dec_max, err, ST_ERR_INVALID,
           "box: dec range [%.17g, %.17g] is not within [-90, 90] in increasing order",
           dec_min, dec_max);
  box b;
  b.full_ra = ra_max - ra_min >= 360.0;
  double lo = fmod(ra_min, 360.0);
  if (lo < 0) lo += 360.0;
  double w = fmod(ra_max - ra_min, 360.0);
  if (w < 0) w += 360.0;
  b.ra_lo = lo * HPX_D2R;
  b.width = b.full_ra ? 2 * HPX_PI : w * HPX_D2R;
  b.dec_lo = dec_min * HPX_D2R;
  b.dec_hi = dec_max * HPX_D2R;
  radec_vec(b.ra_lo, b.dec_lo, b.corner[0]);
  radec_vec(b.ra_lo, b.dec_hi, b.corner[1]);
  radec_vec(b.ra_lo + b.width, b.dec_lo, b.corner[2]);
  radec_vec(b.ra_lo + b.width, b.dec_hi, b.corner[3]);
  double perim = b.width * (cos(b.dec_lo) + cos(b.dec_hi)) +
                 (b.full_ra ? 0 : 2 * (b.dec_hi - b.dec_lo));
  return cover_run(order, box_classify, &b, perim, "box", out, err);
}

/* ---- Convex polygon ------------------------------------------------------- */

typedef struct poly {
  int n;            /* number of vertices = edges          */
  double (*v)[3];   /* unit vertices                       */
  double (*nrm)[3]; /* inward unit normals of the edges     */
  int flip;         /* nrm[i] = unit(v[i+1] x v[i]) if set  */
} poly;

static double dot3(const double a[3], const double b[3]) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double a[3], const double b[3], double out[3]) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

/* Distance from p to the arc from a to b (normal q = unit a x b): the foot
** of the perpendicular if it falls inside the arc, else the nearer end. */
static double arc_dist(const double p[3], const double a[3], const double b[3], const double q[3]) {
  double s = dot3(p, q);
  double foot[3] = {p[0] - s * q[0], p[1] - s * q[1], p[2] - s * q[2]}, t[3];
  cross3(a, foot, t);
  int after_a = dot3(t, q) >= 0;
  cross3(foot, b, t);
  int before_b = dot3(t, q) >= 0;
  if (after_a && before_b && dot3(foot, foot) > 0) {
    if (s > 1) s = 1;
    if (s < -1) s = -1;
    return fabs(asin(s));
  }
  double da = st_hpx_vec_angle(p, a), db = st_hpx_vec_angle(p, b);
  return da < db ? da : db;
}

/* Inside: all signed distances to the edge great circles > R -> INSIDE.
** Outside: the true distance to the polygon is the distance to the nearest
** edge arc; > R -> OUTSIDE.  (Great-circle distances alone would keep the
** antipode of a thin polygon and the extensions of its long edges.) */
static int poly_classify(const void *region, const double c[3], double R) {
  const poly *pg = region;
  int inside = 1, all_in = 1;
  for (int i = 0; i < pg->n; i++) {
    double s = dot3(c, pg->nrm[i]);
    if (s > 1) s = 1;
    if (s < -1) s = -1;
    double a = asin(s);
    if (a < 0) inside = 0;
    if (a <= R) all_in = 0;
    if (a < -R) break; /* clearly outside this edge: no INSIDE possible */
  }
  if (inside) return all_in ? INSIDE : PARTIAL;
  for (int i = 0; i < pg->n; i++) {
    const double *a = pg->v[i], *b = pg->v[(i + 1) % pg->n];
    double d = pg->flip ? arc_dist(c, b, a, pg->nrm[i]) : arc_dist(c, a, b, pg->nrm[i]);
    if (d <= R) return PARTIAL;
  }
  return OUTSIDE;
}

int st_hpx_polygon_moc(int order, const double *ra, const double *dec, int n, st_moc *out,
                       st_error *err) {
  ST_CHECK(n >= 3 && n <= 100000, err, ST_ERR_INVALID,
           "polygon: %d vertices (need 3..100000)", n);
  for (int i = 0; i < n; i++) {
    int rc = st_hpx_check_point(ra[i], dec[i], err);
    if (rc) {
      st_error_prefix(err, "polygon vertex %d: ", i);
      return rc;
    }
  }
  double(*v)[3] = malloc((size_t)n * sizeof *v);
  double(*nrm)[3] = malloc((size_t)n * sizeof *nrm);
  if (!v || !nrm) {
    free(v);
    free(nrm);
    return st_fail(err, ST_ERR_NOMEM, "polygon: out of memory");
  }
  double m[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    st_hpx_ang2vec(ra[i], dec[i], v[i]);
    for (int k = 0; k < 3; k++) m[k] += v[i][k];
  }
  int rc = 0, flip = 0;
  for (int i = 0; i < n && !rc; i++) {
    const double *a = v[i], *b = v[(i + 1) % n];
    double *q = nrm[i];
    /* (a - b) x (a + b) = 2 a x b, without the cancellation of a x b for
    ** close vertices (a - b is exact there). */
    double d[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
    double e[3] = {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
    cross3(d, e, q);
    double len = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    if (!(len > 1e-15)) {
      rc = st_fail(err, ST_ERR_INVALID, "polygon: edge %d has coincident or antipodal ends", i);
      break;
    }
    for (int k = 0; k < 3; k++) q[k] /= len;
  }
  if (!rc) {
    double s0 = m[0] * nrm[0][0] + m[1] * nrm[0][1] + m[2] * nrm[0][2];
    flip = s0 < 0;
    double sign = flip ? -1.0 : 1.0;
    for (int i = 0; i < n && !rc; i++) {
      for (int k = 0; k < 3; k++) nrm[i][k] *= sign;
      for (int j = 0; j < n; j++) {
        if (j == i || j == (i + 1) % n) continue; /* on the edge by construction */
        double s = v[j][0] * nrm[i][0] + v[j][1] * nrm[i][1] + v[j][2] * nrm[i][2];
        if (s < -1e-12) {
          rc = st_fail(err, ST_ERR_INVALID,
                       "polygon: not convex (vertex %d lies outside edge %d)", j, i);
          break;
        }
      }
    }
  }
  if (!rc) {
    poly pg = {.n = n, .v = v, .nrm = nrm, .flip = flip};
    double perim = 0;
    for (int i = 0; i < n; i++) perim += st_hpx_vec_angle(v[i], v[(i + 1) % n]);
    rc = cover_run(order, poly_classify, &pg, perim, "polygon", out, err);
  }
  free(v);
  free(nrm);
  return rc;
}
