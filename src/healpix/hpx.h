/*
** This file implements the internal interface of the HEALPix module: the
** (face, x, y) representation shared by the point, neighbour and coverage
** code.
**
** A NESTED index at order k is   face << 2k  |  interleave(x, y)
** where face is 0..11 and x, y are 0..nside-1 (nside = 2^k), the bits of x
** at the even positions and those of y at the odd positions.  Faces 0..3
** touch the north pole, 4..7 straddle the equator, 8..11 touch the south
** pole.  Within a face, (x, y) = (0, 0) is the south corner and
** (nside, nside) the north corner; x grows towards the east corner and y
** towards the west corner.
**
** Continuous face coordinates (fx, fy) in [0, 1]^2 map to the sphere by the
** HEALPix projection (xyf2loc below); pixel (x, y) spans
** [x/nside, (x+1)/nside] x [y/nside, (y+1)/nside].
*/
#ifndef ST_HEALPIX_HPX_H
#define ST_HEALPIX_HPX_H

#include <stdint.h>

#include "util/err.h"

/* For each face: the ring index (in units of nside, counted from the north
** pole) of its south corner, and the longitude of its centre in units of
** 45 degrees.  These are the standard HEALPix face constants. */
extern const int st_hpx_jrll[12];
extern const int st_hpx_jpll[12];

/* Spread the low 32 bits of v to the even bit positions. */
static inline uint64_t st_hpx_spread(uint64_t v) {
  v &= 0xFFFFFFFFull;
  v = (v | (v << 16)) & 0x0000FFFF0000FFFFull;
  v = (v | (v << 8)) & 0x00FF00FF00FF00FFull;
  v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0Full;
  v = (v | (v << 2)) & 0x3333333333333333ull;
  v = (v | (v << 1)) & 0x5555555555555555ull;
  return v;
}

/* Inverse of st_hpx_spread: gather the even bits of v. */
static inline uint64_t st_hpx_compress(uint64_t v) {
  v &= 0x5555555555555555ull;
  v = (v | (v >> 1)) & 0x3333333333333333ull;
  v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0Full;
  v = (v | (v >> 4)) & 0x00FF00FF00FF00FFull;
  v = (v | (v >> 8)) & 0x0000FFFF0000FFFFull;
  v = (v | (v >> 16)) & 0x00000000FFFFFFFFull;
  return v;
}

static inline int64_t st_hpx_xyf2nest(int order, int64_t x, int64_t y, int face) {
  return ((int64_t)face << (2 * order)) |
         (int64_t)(st_hpx_spread((uint64_t)x) | (st_hpx_spread((uint64_t)y) << 1));
}

static inline void st_hpx_nest2xyf(int order, int64_t pix, int64_t *x, int64_t *y, int *face) {
  int64_t sub = pix & ((INT64_C(1) << (2 * order)) - 1);
  *face = (int)(pix >> (2 * order));
  *x = (int64_t)st_hpx_compress((uint64_t)sub);
  *y = (int64_t)st_hpx_compress((uint64_t)sub >> 1);
}

/* Exact HEALPix C++ loc2pix (NESTED) from z = cos(theta), phi (radians),
** and sin(theta) when have_sth. */
int64_t st_hpx_loc2nest(int order, double z, double phi, double sth, int have_sth);

/* The exact scalar ang2pix for a valid point (no checks). */
int64_t st_hpx_ang2pix_exact(int order, double ra, double dec);

/* Point of continuous face coordinates (fx, fy) on `face` as z, phi and
** sin(theta) (always set, accurate near the poles). */
void st_hpx_xyf2loc(double fx, double fy, int face, double *z, double *phi, double *sth);

/* Unit vector of continuous face coordinates. */
void st_hpx_xyf2vec(double fx, double fy, int face, double v[3]);

/* Validation helpers: 0 or ST_ERR_INVALID with a message. */
int st_hpx_check_order(int order, st_error *err);
int st_hpx_check_pix(int order, int64_t pix, st_error *err);
int st_hpx_check_point(double ra, double dec, st_error *err);

/* Code paths of the batch ang2pix (hpx_batch.c). st_hpx_ang2pix_batch uses
** the best one the CPU has; tests call each explicitly.  ST_ERR_UNSUPPORTED
** if the CPU lacks it. */
enum { ST_HPX_ISA_SCALAR = 0, ST_HPX_ISA_AVX2 = 1, ST_HPX_ISA_AVX512 = 2 };
int st_hpx_ang2pix_batch_isa(int isa, int order, const double *ra, const double *dec, int64_t n,
                             int64_t *out, st_error *err);

/* The pixels at `order` that may meet a small cone (a superset of those
** that do, as st_hpx_cone_moc's; see hpx_cover.c), unsorted, in out[0..*n).
** ST_ERR_LIMIT when more than `cap` pixels (or 256 rejected neighbours)
** would be needed: use st_hpx_cone_moc then.  Meant for cones no larger
** than a pixel, where it costs ~9 pixel tests. */
int st_hpx_cone_pixels_small(int order, double ra, double dec, double radius_deg, int64_t *out,
                             int cap, int *n, st_error *err);

/* Max pixel radius in radians (no validation). */
double st_hpx_max_pixrad_rad(int order);

#endif
