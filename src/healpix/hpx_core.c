/*
** This file implements the point functions of the HEALPix module: ang2pix,
** pix2ang, vectors, NESTED <-> RING, neighbours, corners, separations and
** the maximum pixel radius.
**
** ang2pix is required to be bit-identical to healpy (HEALPix C++), so it
** evaluates exactly the same floating-point expressions in the same order:
**
**   theta = pi/2 - dec * (pi/180)          (healpy lonlat2thetaphi)
**   phi   = fmodulo(ra * (pi/180), 2 pi)    (healpy normalises the pointing)
**   z     = cos(theta);   sth = sin(theta) only when theta < 0.01 or
**                          theta > 3.14159 - 0.01 ("have_sth")
**   tt    = fmodulo(phi * (2/pi), 4)       in [0, 4)
**   |z| <= 2/3 (equatorial):
**       t1 = nside * (0.5 + tt),  t2 = nside * (z * 0.75)
**       jp = trunc(t1 - t2), jm = trunc(t1 + t2)      (edge-line indices)
**       face from jp >> order, jm >> order; x = jm mod nside,
**       y = nside - 1 - (jp mod nside)
**   |z| > 2/3 (polar caps):
**       ntt = min(3, trunc(tt)), tp = tt - ntt
**       tmp = nside * sqrt(3 (1 - |z|))                  (|z| < 0.99 or !have_sth)
**           = nside * sth / sqrt((1 + |z|) / 3)         (otherwise)
**       jp = min(trunc(tp tmp), nside-1), jm = min(trunc((1-tp) tmp), nside-1)
** The code is compiled without FMA contraction (-std=c11 implies
** -ffp-contract=off), which keeps every product and sum rounded as above.
**
** RA wraps through fmodulo, so any finite RA is valid; Dec must be within
** [-90, 90].  The batch version lives in hpx_batch.c.
*/
/* Bit-identity with healpy needs every product and sum rounded on its own,
** whatever -std/-ffp-contract the build uses. */
#pragma GCC optimize("fp-contract=off")

#include "healpix/hpx.h"

#include <math.h>
#include <string.h>

#define HPX_PI 3.141592653589793238462643383279502884197
#define HPX_HALFPI (HPX_PI / 2.0)
#define HPX_TWOPI 6.283185307179586476925286766559005768394
#define HPX_D2R (HPX_PI / 180.0)
#define HPX_R2D (180.0 / HPX_PI)
#define HPX_INV_HALFPI 0.6366197723675813430755350534900574
#define HPX_TWOTHIRD (2.0 / 3.0)

const int st_hpx_jrll[12] = {2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4};
const int st_hpx_jpll[12] = {1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7};

int64_t st_hpx_npix(int order) {
  if (order < 0 || order > ST_HPX_MAX_ORDER) return -1;
  return INT64_C(12) << (2 * order);
}

int st_hpx_check_order(int order, st_error *err) {
  ST_CHECK(order >= 0 && order <= ST_HPX_MAX_ORDER, err, ST_ERR_INVALID,
           "healpix: order %d outside 0..29", order);
  return 0;
}

int st_hpx_check_pix(int order, int64_t pix, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  ST_CHECK(pix >= 0 && pix < st_hpx_npix(order), err, ST_ERR_INVALID,
           "healpix: pixel %lld outside [0, %lld) at order %d", (long long)pix,
           (long long)st_hpx_npix(order), order);
  return 0;
}

int st_hpx_check_point(double ra, double dec, st_error *err) {
  ST_CHECK(dec >= -90.0 && dec <= 90.0, err, ST_ERR_INVALID,
           "healpix: dec %.17g outside [-90, 90]", dec);
  ST_CHECK(isfinite(ra), err, ST_ERR_INVALID, "healpix: ra %.17g is not finite", ra);
  return 0;
}

/* HEALPix fmodulo for doubles: v1 mod v2 in [0, v2). */
static double fmodulo(double v1, double v2) {
  if (v1 >= 0) return (v1 < v2) ? v1 : fmod(v1, v2);
  double tmp = fmod(v1, v2) + v2;
  return (tmp == v2) ? 0.0 : tmp;
}

int64_t st_hpx_loc2nest(int order, double z, double phi, double sth, int have_sth) {
  int64_t nside = INT64_C(1) << order;
  double za = fabs(z);
  double tt = fmodulo(phi * HPX_INV_HALFPI, 4.0);
  if (za <= HPX_TWOTHIRD) {
    double temp1 = (double)nside * (0.5 + tt);
    double temp2 = (double)nside * (z * 0.75);
    int64_t jp = (int64_t)(temp1 - temp2);
    int64_t jm = (int64_t)(temp1 + temp2);
    int64_t ifp = jp >> order, ifm = jm >> order;
    int face = (int)((ifp == ifm) ? (ifp | 4) : ((ifp < ifm) ? ifp : (ifm + 8)));
    int64_t ix = jm & (nside - 1), iy = nside - (jp & (nside - 1)) - 1;
    return st_hpx_xyf2nest(order, ix, iy, face);
  }
  int ntt = (int)tt;
  if (ntt > 3) ntt = 3;
  double tp = tt - ntt;
  double tmp = (za < 0.99 || !have_sth) ? (double)nside * sqrt(3 * (1 - za))
                                         : (double)nside * sth / sqrt((1. + za) / 3.);
  int64_t jp = (int64_t)(tp * tmp);
  int64_t jm = (int64_t)((1.0 - tp) * tmp);
  if (jp > nside - 1) jp = nside - 1;
  if (jm > nside - 1) jm = nside - 1;
  return (z >= 0) ? st_hpx_xyf2nest(order, nside - jm - 1, nside - jp - 1, ntt)
                  : st_hpx_xyf2nest(order, jp, jm, ntt + 8);
}

int64_t st_hpx_ang2pix_exact(int order, double ra, double dec) {
  double theta = HPX_HALFPI - dec * HPX_D2R;
  double phi = fmodulo(ra * HPX_D2R, HPX_TWOPI); /* healpy normalises the pointing */
  if (theta < 0.01 || theta > 3.14159 - 0.01)
    return st_hpx_loc2nest(order, cos(theta), phi, sin(theta), 1);
  return st_hpx_loc2nest(order, cos(theta), phi, 0.0, 0);
}

int st_hpx_ang2pix(int order, double ra, double dec, int64_t *pix, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  ST_TRY(st_hpx_check_point(ra, dec, err));
  *pix = st_hpx_ang2pix_exact(order, ra, dec);
  return 0;
}

void st_hpx_xyf2loc(double fx, double fy, int face, double *z, double *phi, double *sth) {
  double jr = st_hpx_jrll[face] - fx - fy;
  double nr;
  if (jr < 1) {
    nr = jr;
    double tmp = nr * nr / 3.;
    *z = 1 - tmp;
    *sth = sqrt(tmp * (2.0 - tmp));
  } else if (jr > 3) {
    nr = 4 - jr;
    double tmp = nr * nr / 3.;
    *z = tmp - 1;
    *sth = sqrt(tmp * (2.0 - tmp));
  } else {
    nr = 1;
    *z = (2 - jr) * 2. / 3.;
    *sth = sqrt((1 - *z) * (1 + *z));
  }
  double tmp = st_hpx_jpll[face] * nr + fx - fy;
  if (tmp < 0) tmp += 8;
  if (tmp >= 8) tmp -= 8;
  *phi = (nr < 1e-15) ? 0 : (0.25 * HPX_PI * tmp) / nr;
}

void st_hpx_xyf2vec(double fx, double fy, int face, double v[3]) {
  double z, phi, sth;
  st_hpx_xyf2loc(fx, fy, face, &z, &phi, &sth);
  v[0] = sth * cos(phi);
  v[1] = sth * sin(phi);
  v[2] = z;
}

static void loc2ang(double z, double phi, double sth, double *ra, double *dec) {
  double r = phi * HPX_R2D;
  if (r < 0) r += 360.0;
  if (r >= 360.0) r -= 360.0;
  *ra = r;
  *dec = atan2(z, sth) * HPX_R2D;
}

static void pix_centre(int order, int64_t pix, double *z, double *phi, double *sth) {
  int64_t x, y;
  int face;
  st_hpx_nest2xyf(order, pix, &x, &y, &face);
  double inv = 1.0 / (double)(INT64_C(1) << order);
  st_hpx_xyf2loc(((double)x + 0.5) * inv, ((double)y + 0.5) * inv, face, z, phi, sth);
}

int st_hpx_pix2ang(int order, int64_t pix, double *ra, double *dec, st_error *err) {
  ST_TRY(st_hpx_check_pix(order, pix, err));
  double z, phi, sth;
  pix_centre(order, pix, &z, &phi, &sth);
  loc2ang(z, phi, sth, ra, dec);
  return 0;
}

int st_hpx_pix2ang_batch(int order, const int64_t *pix, int64_t n, double *ra, double *dec,
                         st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  int64_t npix = st_hpx_npix(order);
  for (int64_t i = 0; i < n; i++) {
    ST_CHECK(pix[i] >= 0 && pix[i] < npix, err, ST_ERR_INVALID,
             "point %lld: pixel %lld outside [0, %lld) at order %d", (long long)i,
             (long long)pix[i], (long long)npix, order);
    double z, phi, sth;
    pix_centre(order, pix[i], &z, &phi, &sth);
    loc2ang(z, phi, sth, &ra[i], &dec[i]);
  }
  return 0;
}

int st_hpx_pix2vec(int order, int64_t pix, double v[3], st_error *err) {
  ST_TRY(st_hpx_check_pix(order, pix, err));
  double z, phi, sth;
  pix_centre(order, pix, &z, &phi, &sth);
  v[0] = sth * cos(phi);
  v[1] = sth * sin(phi);
  v[2] = z;
  return 0;
}

void st_hpx_ang2vec(double ra, double dec, double v[3]) {
  double a = ra * HPX_D2R, d = dec * HPX_D2R;
  double cd = cos(d);
  v[0] = cd * cos(a);
  v[1] = cd * sin(a);
  v[2] = sin(d);
}

void st_hpx_vec2ang(const double v[3], double *ra, double *dec) {
  double r = atan2(v[1], v[0]) * HPX_R2D;
  if (r < 0) r += 360.0;
  if (r >= 360.0) r -= 360.0;
  *ra = r;
  *dec = atan2(v[2], hypot(v[0], v[1])) * HPX_R2D;
}

int st_hpx_vec2pix(int order, const double v[3], int64_t *pix, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  ST_CHECK(isfinite(n) && n > 0, err, ST_ERR_INVALID,
           "healpix: vector (%g, %g, %g) is zero or not finite", v[0], v[1], v[2]);
  /* same expressions as HEALPix C++ vec2pix */
  double xl = 1.0 / n;
  double z = v[2] * xl;
  double phi = atan2(v[1], v[0]);
  double sth = sqrt(v[0] * v[0] + v[1] * v[1]) * xl;
  *pix = st_hpx_loc2nest(order, z, phi, sth, fabs(z) > 0.99);
  return 0;
}

/* ---- RING scheme -------------------------------------------------------- */

static int64_t isqrt64(int64_t v) {
  int64_t r = (int64_t)sqrt((double)v + 0.5);
  while (r > 0 && r * r > v) r--;
  while ((r + 1) * (r + 1) <= v) r++;
  return r;
}

int st_hpx_nest2ring(int order, int64_t nest, int64_t *ring, st_error *err) {
  ST_TRY(st_hpx_check_pix(order, nest, err));
  int64_t nside = INT64_C(1) << order, ix, iy;
  int face;
  st_hpx_nest2xyf(order, nest, &ix, &iy, &face);
  int64_t nl4 = 4 * nside;
  int64_t jr = (int64_t)st_hpx_jrll[face] * nside - ix - iy - 1; /* ring, 1-based from N */
  int64_t nr, n_before;
  int shifted;
  if (jr < nside) {
    shifted = 1;
    nr = 4 * jr;
    n_before = 2 * jr * (jr - 1);
  } else if (jr < 3 * nside) {
    shifted = ((jr - nside) & 1) == 0;
    nr = nl4;
    n_before = 2 * nside * (nside - 1) + (jr - nside) * nl4;
  } else {
    int64_t k = nl4 - jr;
    shifted = 1;
    nr = 4 * k;
    n_before = 12 * nside * nside - 2 * k * (k + 1);
  }
  nr >>= 2;
  int64_t kshift = 1 - shifted;
  int64_t jp = ((int64_t)st_hpx_jpll[face] * nr + ix - iy + 1 + kshift) / 2;
  if (jp < 1) jp += nl4;
  *ring = n_before + jp - 1;
  return 0;
}

int st_hpx_ring2nest(int order, int64_t pix, int64_t *nest, st_error *err) {
  ST_TRY(st_hpx_check_pix(order, pix, err));
  int64_t nside = INT64_C(1) << order;
  int64_t ncap = 2 * nside * (nside - 1), npix = 12 * nside * nside, nl2 = 2 * nside;
  int64_t iring, iphi, kshift, nr;
  int face;
  if (pix < ncap) { /* north polar cap */
    iring = (1 + isqrt64(1 + 2 * pix)) >> 1;
    iphi = (pix + 1) - 2 * iring * (iring - 1);
    kshift = 0;
    nr = iring;
    face = (int)((iphi - 1) / nr);
  } else if (pix < npix - ncap) { /* equatorial belt */
    int64_t ip = pix - ncap;
    int64_t tmp = ip >> (order + 2);
    iring = tmp + nside;
    iphi = ip - tmp * 4 * nside + 1;
    kshift = (iring + nside) & 1;
    nr = nside;
    int64_t ire = tmp + 1, irm = nl2 + 1 - tmp;
    int64_t ifm = (iphi - (ire >> 1) + nside - 1) >> order;
    int64_t ifp = (iphi - (irm >> 1) + nside - 1) >> order;
    face = (int)((ifp == ifm) ? (ifp | 4) : ((ifp < ifm) ? ifp : (ifm + 8)));
  } else { /* south polar cap */
    int64_t ip = npix - pix;
    iring = (1 + isqrt64(2 * ip - 1)) >> 1;
    iphi = 4 * iring + 1 - (ip - 2 * iring * (iring - 1));
    kshift = 0;
    nr = iring;
    iring = 2 * nl2 - iring;
    face = (int)((iphi - 1) / nr) + 8;
  }
  int64_t irt = iring - ((2 + (face >> 2)) * nside) + 1;
  int64_t ipt = 2 * iphi - (int64_t)st_hpx_jpll[face] * nr - kshift - 1;
  if (ipt >= nl2) ipt -= 8 * nside;
  int64_t ix = (ipt - irt) >> 1, iy = (-ipt - irt) >> 1;
  *nest = st_hpx_xyf2nest(order, ix, iy, face);
  return 0;
}

/* ---- Neighbours ------------------------------------------------------- */

/* Offsets of the 8 neighbours in healpy's order SW, W, NW, N, NE, E, SE, S. */
static const int nb_dx[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
static const int nb_dy[8] = {0, 1, 1, 1, 0, -1, -1, -1};
/* Face across an edge/corner: row = 4 + 3*dy_face + dx_face (dy/dx in
** {-1,0,1}: which side of the face the step left), column = face. */
static const int nb_face[9][12] = {
    {8, 9, 10, 11, -1, -1, -1, -1, 10, 11, 8, 9},   /* S  (-1,-1) */
    {5, 6, 7, 4, 8, 9, 10, 11, 9, 10, 11, 8},       /* SE (0,-1)  */
    {-1, -1, -1, -1, 5, 6, 7, 4, -1, -1, -1, -1},   /* E  (1,-1)  */
    {4, 5, 6, 7, 11, 8, 9, 10, 11, 8, 9, 10},       /* SW (-1,0)  */
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},         /* centre     */
    {1, 2, 3, 0, 0, 1, 2, 3, 5, 6, 7, 4},           /* NE (1,0)   */
    {-1, -1, -1, -1, 7, 4, 5, 6, -1, -1, -1, -1},   /* W  (-1,1)  */
    {3, 0, 1, 2, 3, 0, 1, 2, 4, 5, 6, 7},           /* NW (0,1)   */
    {2, 3, 0, 1, -1, -1, -1, -1, 0, 1, 2, 3}};      /* N  (1,1)   */
/* Coordinate transform when entering the new face, per face row (face>>2):
** bit 1 flip x, bit 2 flip y, bit 4 swap x and y. */
static const int nb_swap[9][3] = {{0, 0, 3}, {0, 0, 6}, {0, 0, 0}, {0, 0, 5}, {0, 0, 0},
                                  {5, 0, 0}, {0, 0, 0}, {6, 0, 0}, {3, 0, 0}};

int st_hpx_neighbours(int order, int64_t pix, int64_t out[8], st_error *err) {
  ST_TRY(st_hpx_check_pix(order, pix, err));
  int64_t nside = INT64_C(1) << order, ix, iy;
  int face;
  st_hpx_nest2xyf(order, pix, &ix, &iy, &face);
  for (int i = 0; i < 8; i++) {
    int64_t x = ix + nb_dx[i], y = iy + nb_dy[i];
    int nb = 4;
    if (x < 0) {
      x += nside;
      nb -= 1;
    } else if (x >= nside) {
      x -= nside;
      nb += 1;
    }
    if (y < 0) {
      y += nside;
      nb -= 3;
    } else if (y >= nside) {
      y -= nside;
      nb += 3;
    }
    int f = nb_face[nb][face];
    if (f < 0) {
      out[i] = -1;
      continue;
    }
    int bits = nb_swap[nb][face >> 2];
    if (bits & 1) x = nside - x - 1;
    if (bits & 2) y = nside - y - 1;
    if (bits & 4) {
      int64_t t = x;
      x = y;
      y = t;
    }
    out[i] = st_hpx_xyf2nest(order, x, y, f);
  }
  return 0;
}

/* ---- Geometry ------------------------------------------------------------ */

int st_hpx_corners(int order, int64_t pix, double ra[4], double dec[4], st_error *err) {
  ST_TRY(st_hpx_check_pix(order, pix, err));
  int64_t x, y;
  int face;
  st_hpx_nest2xyf(order, pix, &x, &y, &face);
  double inv = 1.0 / (double)(INT64_C(1) << order);
  static const int cx[4] = {1, 0, 0, 1}, cy[4] = {1, 1, 0, 0}; /* N, W, S, E */
  for (int k = 0; k < 4; k++) {
    double z, phi, sth;
    st_hpx_xyf2loc((double)(x + cx[k]) * inv, (double)(y + cy[k]) * inv, face, &z, &phi, &sth);
    loc2ang(z, phi, sth, &ra[k], &dec[k]);
  }
  return 0;
}

double st_hpx_vec_angle(const double a[3], const double b[3]) {
  double cx = a[1] * b[2] - a[2] * b[1];
  double cy = a[2] * b[0] - a[0] * b[2];
  double cz = a[0] * b[1] - a[1] * b[0];
  double s = sqrt(cx * cx + cy * cy + cz * cz);
  double c = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return atan2(s, c);
}

double st_hpx_separation(double ra1, double dec1, double ra2, double dec2) {
  double d1 = dec1 * HPX_D2R, d2 = dec2 * HPX_D2R, dra = (ra2 - ra1) * HPX_D2R;
  double s1 = sin(d1), c1 = cos(d1), s2 = sin(d2), c2 = cos(d2);
  double sdra = sin(dra), cdra = cos(dra);
  double a = c2 * sdra, b = c1 * s2 - s1 * c2 * cdra;
  double num = sqrt(a * a + b * b);
  double den = s1 * s2 + c1 * c2 * cdra;
  return atan2(num, den) * HPX_R2D;
}

double st_hpx_max_pixrad_rad(int order) {
  double nside = (double)(INT64_C(1) << order);
  /* Attained between the centre of an equatorial-edge pixel of a polar face
  ** and its corner nearest the pole (HEALPix max_pixrad). */
  double za = 2. / 3., pa = HPX_PI / (4 * nside);
  double sa = sqrt((1 - za) * (1 + za));
  double t1 = 1. - 1. / nside;
  t1 *= t1;
  double zb = 1 - t1 / 3;
  double sb = sqrt((1 - zb) * (1 + zb));
  double va[3] = {sa * cos(pa), sa * sin(pa), za}, vb[3] = {sb, 0, zb};
  return st_hpx_vec_angle(va, vb);
}

double st_hpx_max_pixrad(int order) {
  if (order < 0 || order > ST_HPX_MAX_ORDER) return -1;
  return st_hpx_max_pixrad_rad(order) * HPX_R2D;
}
