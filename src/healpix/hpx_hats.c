/*
** This file implements ang2pix as the HATS Python stack computes it, for the
** values a catalog stores (`_healpix_29`, the Norder/Npix of each row).
**
** hats (pixel_math.healpix_shim.radec2pix) turns degrees into astropy
** Longitude/Latitude and calls cdshealpix.lonlat_to_healpix, whose Rust core
** uses a different projection formula from HEALPix C++/healpy (the one
** st_hpx_ang2pix reproduces).  In exact arithmetic both give the same pixel;
** in floating point they disagree for points within ~1e-16 rad of a pixel
** edge: about one point in 2.5 million at order 29 (measured on random
** points).  hats-import's catalogs hold the cdshealpix values, so an import
** that must equal hats-import bit for bit uses this function.
**
** The computation, step by step (all in IEEE double, each operation rounded
** on its own; the trigonometric functions are the C library's, which is what
** the Rust core calls on Linux):
**  1. astropy Longitude wraps ra into [0, 360) (a floor division by 360 and
**     two fix-ups; values already inside are untouched), then lon = ra *
**     (pi/180) and lat = dec * (pi/180) (astropy's degree -> radian scale).
**  2. x = |lon| * 4/pi; q = trunc(x) | 1; x_pm1 = x - q in [-1, 1);
**     quarter = (q & 7) >> 1 (lon >= 0 always holds after step 1).
**  3. lat > asin(2/3) (north cap): s = sqrt(6) * cos(lat/2 + pi/4);
**     (l, h) = (x_pm1 * s, 2 - s), base cell = quarter.
**     lat < -asin(2/3) (south cap): s = sqrt(6) * cos(lat/2 - pi/4);
**     (l, h) = (x_pm1 * s, s), base cell = quarter + 8.
**     Otherwise (equatorial): y = sin(lat) * 1.5; with a = (x_pm1 > y),
**     b = (x_pm1 >= -y): l = x_pm1 - (a + b - 1), h = y + a + 1 - b,
**     base cell = ((a + 1 - b) << 2) + ((quarter + (a & b)) & 3).
**  4. i = floor((h + l) * nside/2), j = floor((h - l) * nside/2), negative or
**     NaN -> 0, nside -> nside - 1; the index is base << 2k | interleave(i in
**     the even bits, j in the odd bits).  The scaling by a power of two is
**     exact, so the order-k index is the order-29 index >> 2(29-k).
** Speed: the library sin/cos cost ~20 ns per point, so hats_pix evaluates a
** polynomial instead and brackets its error (see there); the library decides
** only for the rare points the bracket cannot settle.
*/
/* Bit-identity needs every product and sum rounded on its own. */
#pragma GCC optimize("fp-contract=off")

#include "healpix/hpx.h"

#include <math.h>

#define HATS_D2R 0.017453292519943295        /* astropy's deg -> rad scale (pi/180) */
#define HATS_FOUR_OVER_PI 1.2732395447351628 /* 4/pi                                */
#define HATS_SQRT6 2.449489742783178         /* sqrt(6)                             */
#define HATS_FRAC_PI_4 0.7853981633974483    /* pi/4                                */
#define HATS_TRANSITION_LAT 0.7297276562269663 /* asin(2/3)                         */

/* numpy's float floor_divide(a, b) for finite a, b > 0 (astropy's wrap uses it). */
static double np_floor_divide(double a, double b) {
  double mod = fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  double fl;
  if (div != 0) {
    fl = floor(div);
    if (div - fl > 0.5) fl += 1.0;
  } else {
    fl = copysign(0.0, a / b);
  }
  return fl;
}

/* astropy Longitude(ra, deg): wrap into [0, 360). */
static double wrap_ra(double ra) {
  if (ra >= 0 && ra < 360.0) return ra;
  double w = np_floor_divide(ra, 360.0);
  if (w != 0) {
    ra -= w * 360.0;
    if (ra >= 360.0) ra -= 360.0;
    if (ra < 0) ra += 360.0;
  }
  return ra;
}

/* Steps 3-4 from the trigonometric value v (branch 0: v = sin(lat) * 1.5;
** 1 / 2: v = sqrt(6) * cos(lat/2 +/- pi/4)): the base cell and the scaled
** coordinates ti = (h + l) * nside/2, tj = (h - l) * nside/2. */
static inline unsigned hats_finish(int branch, double x_pm1, unsigned quarter, double v,
                                   double half_nside, double *ti, double *tj) {
  double l, h;
  unsigned base;
  if (branch == 1) {
    l = x_pm1 * v;
    h = 2.0 - v;
    base = quarter;
  } else if (branch == 2) {
    l = x_pm1 * v;
    h = v;
    base = quarter + 8;
  } else {
    unsigned a = x_pm1 > v, b = x_pm1 >= -v;
    unsigned a013 = a + (1 - b);
    l = x_pm1 - (double)((int)(a + b) - 1);
    h = v + (double)a013;
    base = (a013 << 2) + ((quarter + (a & b)) & 3u);
  }
  *ti = (h + l) * half_nside;
  *tj = (h - l) * half_nside;
  return base;
}

static inline uint32_t scaled_floor(double s, uint32_t nside) {
  uint32_t i;
  if (!(s > 0)) i = 0;                              /* negative, zero or NaN */
  else if (s >= 4294967295.0) i = 4294967295u;
  else i = (uint32_t)s;
  return i >= nside ? nside - 1 : i;
}

static inline int64_t hats_index(int order, unsigned base, uint32_t i, uint32_t j) {
  return ((int64_t)base << (2 * order)) | (int64_t)(st_hpx_spread(i) | (st_hpx_spread(j) << 1));
}

/* sin(u) for |u| <= 0.75: Taylor polynomial to u^15 (truncation < 2e-17). */
static inline double sin_poly(double u) {
  double u2 = u * u;
  double p = -7.6471637318198164759e-13;            /* -1/15! */
  p = p * u2 + 1.6059043836821614599e-10;           /*  1/13! */
  p = p * u2 - 2.5052108385441718775e-08;           /* -1/11! */
  p = p * u2 + 2.7557319223985890653e-06;           /*  1/9!  */
  p = p * u2 - 1.9841269841269841270e-04;           /* -1/7!  */
  p = p * u2 + 8.3333333333333333333e-03;           /*  1/5!  */
  p = p * u2 - 1.6666666666666666667e-01;           /* -1/3!  */
  return u + u * (u2 * p);
}

#define HATS_HALFPI 1.5707963267948966        /* fl(pi/2)                         */
#define HATS_HALFPI_LO 6.123233995736766e-17  /* pi/2 - fl(pi/2)                   */
#define HATS_V_EPS 4e-15 /* bound on |polynomial v - libm v| (both within a few ulp of the truth) */

/* Step 1-2 shared by both paths. */
static inline void hats_lon(double ra, double *x_pm1, unsigned *quarter) {
  double lon = wrap_ra(ra) * HATS_D2R;
  double x = fabs(lon) * HATS_FOUR_OVER_PI;
  unsigned q = (x >= 255.0 ? 255u : (unsigned)x) | 1u;
  *x_pm1 = x - (double)q;
  *quarter = (q & 7u) >> 1;
}

/* The reference computation with the C library's sin/cos. */
static int64_t hats_pix_exact(int order, double half_nside, double ra, double dec) {
  double x_pm1, lat = dec * HATS_D2R, v, ti, tj;
  unsigned quarter;
  hats_lon(ra, &x_pm1, &quarter);
  int branch = lat > HATS_TRANSITION_LAT ? 1 : lat < -HATS_TRANSITION_LAT ? 2 : 0;
  if (branch == 1) v = HATS_SQRT6 * cos(0.5 * lat + HATS_FRAC_PI_4);
  else if (branch == 2) v = HATS_SQRT6 * cos(0.5 * lat - HATS_FRAC_PI_4);
  else v = sin(lat) * 1.5;
  unsigned base = hats_finish(branch, x_pm1, quarter, v, half_nside, &ti, &tj);
  uint32_t nside = (uint32_t)1 << order;
  return hats_index(order, base, scaled_floor(ti, nside), scaled_floor(tj, nside));
}

/* Both ends of [lo - m, hi + m] in the same cell [k, k+1) with 0 < k+... < nside: *k. */
static inline bool same_cell(double a, double b, double m, double nside, uint32_t *k) {
  double lo = (a < b ? a : b) - m, hi = (a < b ? b : a) + m;
  if (!(lo > 0 && hi < nside)) return false;
  uint32_t kl = (uint32_t)lo;
  if ((uint32_t)hi != kl) return false;
  *k = kl;
  return true;
}

/*
** The fast path: v from a polynomial, within HATS_V_EPS of the library's v.
** Every later step is a monotone function of v (the branch flags a, b and
** h = v + const in the equatorial belt; 2 - v(1 -/+ x_pm1) in the caps), up
** to a few ulp of rounding in the caps, so when v - EPS and v + EPS give
** the same base cell and cells for ti, tj widened by m = 2^-48 * nside/2
** (a few ulp of |h +/- l| <= 4), the library's v gives them too.  Otherwise
** (a point within ~1e-6 cell widths of an edge at order 29, or at a pole)
** the exact code decides.
*/
static inline int64_t hats_pix(int order, double half_nside, double ra, double dec) {
  double x_pm1, lat = dec * HATS_D2R, v;
  unsigned quarter;
  hats_lon(ra, &x_pm1, &quarter);
  int branch = lat > HATS_TRANSITION_LAT ? 1 : lat < -HATS_TRANSITION_LAT ? 2 : 0;
  if (branch == 1) v = HATS_SQRT6 * sin_poly((HATS_HALFPI - (0.5 * lat + HATS_FRAC_PI_4)) + HATS_HALFPI_LO);
  else if (branch == 2) v = HATS_SQRT6 * sin_poly((HATS_HALFPI + (0.5 * lat - HATS_FRAC_PI_4)) + HATS_HALFPI_LO);
  else v = sin_poly(lat) * 1.5;
  double ti0, tj0, ti1, tj1;
  unsigned b0 = hats_finish(branch, x_pm1, quarter, v - HATS_V_EPS, half_nside, &ti0, &tj0);
  unsigned b1 = hats_finish(branch, x_pm1, quarter, v + HATS_V_EPS, half_nside, &ti1, &tj1);
  double m = half_nside * 0x1p-48, nside = 2.0 * half_nside;
  uint32_t i, j;
  if (b0 == b1 && same_cell(ti0, ti1, m, nside, &i) && same_cell(tj0, tj1, m, nside, &j))
    return hats_index(order, b0, i, j);
  return hats_pix_exact(order, half_nside, ra, dec);
}

int st_hpx_ang2pix_hats(int order, double ra, double dec, int64_t *pix, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  ST_TRY(st_hpx_check_point(ra, dec, err));
  *pix = hats_pix(order, ldexp(1.0, order - 1), ra, dec);
  return 0;
}

int st_hpx_ang2pix_hats_batch(int order, const double *ra, const double *dec, int64_t n,
                              int64_t *out, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  double half_nside = ldexp(1.0, order - 1);
  for (int64_t i = 0; i < n; i++) {
    double r = ra[i], d = dec[i];
    if (!(d >= -90.0 && d <= 90.0) || !isfinite(r)) {
      st_error e2 = {0};
      st_hpx_check_point(r, d, &e2);
      return st_fail(err, ST_ERR_INVALID, "point %lld: %s", (long long)i, e2.msg);
    }
    out[i] = hats_pix(order, half_nside, r, d);
  }
  return 0;
}
