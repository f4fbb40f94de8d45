/*
** skytile/healpix.h — HEALPix (NESTED scheme) for orders 0..29, region
** coverage and MOCs.
**
** HATS partitions a catalog by HEALPix pixel in the NESTED scheme.  Each row
** carries `_healpix_29`, the order-29 nested index of its (ra, dec); the
** pixel containing it at a coarser order k is `h >> 2*(29-k)`.  At order k
** there are 12 * 4^k pixels (nside = 2^k); indices are int64_t.
**
** Angles in this API are degrees: ra (longitude) and dec (latitude).  RA wraps
** modulo 360 (any finite value is accepted); Dec must lie in [-90, 90].  A NaN
** or infinite coordinate, a Dec outside [-90, 90], an order outside 0..29 or a
** pixel outside [0, 12*4^k) is an error (ST_ERR_INVALID, message says which);
** nothing here aborts or prints.
**
** ang2pix reproduces HEALPix C++ / healpy (`ang2pix(nside, ra, dec,
** nest=True, lonlat=True)`) bit for bit, including points exactly on pixel
** edges, at the poles and at RA = 0/360.
**
** Thread-safety: every function is reentrant; none keeps state.  The batch
** functions may be called concurrently on disjoint slices of the arrays (this
** is how the importer multi-threads them).
*/
#ifndef SKYTILE_HEALPIX_H
#define SKYTILE_HEALPIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;

#define ST_HPX_MAX_ORDER 29

/* Number of pixels at `order` (12 * 4^order), or -1 if order is not 0..29. */
ST_API int64_t st_hpx_npix(int order);

/* ---- Points <-> pixels ------------------------------------------------ */

/* The nested pixel at `order` containing (ra, dec).  Bit-identical to
** healpy's ang2pix(2^order, ra, dec, nest=True, lonlat=True). */
ST_API int st_hpx_ang2pix(int order, double ra, double dec, int64_t *pix,
                          struct st_error *err);

/* The centre of pixel `pix` at `order`, as ra in [0, 360) and dec in
** [-90, 90] degrees.  ang2pix(order, pix2ang(pix)) == pix. */
ST_API int st_hpx_pix2ang(int order, int64_t pix, double *ra, double *dec,
                          struct st_error *err);

/* The pixel containing direction v (need not be normalised; must be
** non-zero and finite). */
ST_API int st_hpx_vec2pix(int order, const double v[3], int64_t *pix,
                          struct st_error *err);

/* Unit vector (x, y, z) of the centre of pixel `pix`; x points to (0, 0),
** y to (90, 0), z to the north pole. */
ST_API int st_hpx_pix2vec(int order, int64_t pix, double v[3], struct st_error *err);

/* Unit vector of (ra, dec) in degrees (no validation; see st_hpx_ang2pix). */
ST_API void st_hpx_ang2vec(double ra, double dec, double v[3]);

/* (ra, dec) in degrees of a non-zero vector; ra in [0, 360). */
ST_API void st_hpx_vec2ang(const double v[3], double *ra, double *dec);

/* ---- Scheme conversion, neighbours, geometry -------------------------- */

/* NESTED index -> RING index and back (same numbering as healpy). */
ST_API int st_hpx_nest2ring(int order, int64_t nest, int64_t *ring, struct st_error *err);
ST_API int st_hpx_ring2nest(int order, int64_t ring, int64_t *nest, struct st_error *err);

/* The 8 neighbours of `pix` in healpy's order SW, W, NW, N, NE, E, SE, S
** (as healpy.get_all_neighbours(nside, pix, nest=True)).  A neighbour that
** does not exist (where only 7 pixels meet, or at order 0) is -1. */
ST_API int st_hpx_neighbours(int order, int64_t pix, int64_t out[8], struct st_error *err);

/* The 4 corners of pixel `pix` in the order N, W, S, E (as
** healpy.boundaries(nside, pix, step=1, nest=True)), in degrees. */
ST_API int st_hpx_corners(int order, int64_t pix, double ra[4], double dec[4],
                          struct st_error *err);

/* Angular separation in degrees between two points (degrees).  Uses the
** atan2 (Vincenty) form, accurate to ~1e-15 relative both for tiny
** separations and near 180 degrees. */
ST_API double st_hpx_separation(double ra1, double dec1, double ra2, double dec2);

/* Angle in radians between two (not necessarily unit) vectors; accurate
** at all angles. */
ST_API double st_hpx_vec_angle(const double a[3], const double b[3]);

/* Upper bound, in degrees, of the angular distance from any pixel centre at
** `order` to any point of that pixel (HEALPix max_pixrad); -1 for a bad
** order. */
ST_API double st_hpx_max_pixrad(int order);

/* ---- Batch API (import hot path) -------------------------------------- */

/* out[i] = ang2pix(order, ra[i], dec[i]) for i in [0, n).  Vectorised
** (AVX-512 or AVX2 + FMA, whichever the CPU has; the environment variable
** SKYTILE_HPX_ISA=avx2|scalar forces a lesser path); the results are
** identical to st_hpx_ang2pix on every path.  If any
** input is invalid, returns ST_ERR_INVALID naming the first bad index (err
** message "point 123: ...") and the contents of `out` are unspecified.
** Arrays must not overlap `out`.  Single-threaded; callers split the arrays
** across threads. */
ST_API int st_hpx_ang2pix_batch(int order, const double *ra, const double *dec,
                                int64_t n, int64_t *out, struct st_error *err);

/* ---- HATS-compatible ang2pix ------------------------------------------- */

/* ang2pix as hats computes it (astropy Longitude/Latitude + cdshealpix
** lonlat_to_healpix): the values hats-import stores in `_healpix_29` and
** uses to place rows in partitions.  It equals st_hpx_ang2pix except for
** points within ~1e-16 rad of a pixel edge (about 1 in 2.5 million at order
** 29), where healpy and cdshealpix round differently; skytile's import uses
** this one so that its catalogs equal hats-import's bit for bit.  RA outside
** [0, 360) is wrapped as astropy does.  Scalar code, ~20 ns per point. */
ST_API int st_hpx_ang2pix_hats(int order, double ra, double dec, int64_t *pix,
                               struct st_error *err);
/* The same for n points; the first bad point is reported ("point 12: ..."). */
ST_API int st_hpx_ang2pix_hats_batch(int order, const double *ra, const double *dec,
                                     int64_t n, int64_t *out, struct st_error *err);

/* ra[i], dec[i] = pix2ang(order, pix[i]); the first bad pixel is reported. */
ST_API int st_hpx_pix2ang_batch(int order, const int64_t *pix, int64_t n,
                                double *ra, double *dec, struct st_error *err);

/* ---- MOC: sets of pixels as ranges of order-29 indices ---------------- */

/* A MOC (multi-order coverage map) is a set of HEALPix cells stored as
** half-open ranges [lo, hi) of order-29 nested indices:
**   - ranges are sorted, non-empty, disjoint and non-adjacent
**     (r[2i] < r[2i+1] < r[2i+2]);
**   - all indices lie in [0, 12 * 4^29);
**   - `order` is the resolution of the MOC: the finest cell order it holds
**     (the coverage functions and st_moc_degrade produce ranges aligned to
**     cells of that order, i.e. boundaries multiple of 4^(29-order)).
** The struct is owned by the caller; st_moc_init before use and
** st_moc_free after.  Functions that take an output MOC replace its
** contents (the output may not be one of the inputs). */
typedef struct st_moc {
  int64_t *r;           /* 2*n int64: lo0, hi0, lo1, hi1, ...            */
  int64_t n;            /* number of ranges                              */
  int64_t cap;          /* ranges allocated                              */
  int64_t max_ranges;   /* ST_ERR_LIMIT beyond this many (default 2^22;
                           <= 0: unlimited)                              */
  int order;            /* resolution (0..29)                            */
} st_moc;

ST_API void st_moc_init(st_moc *m, int order);
ST_API void st_moc_free(st_moc *m);
/* Remove all ranges (keeps the allocation). */
ST_API void st_moc_clear(st_moc *m);
/* Add the order-29 index range [lo, hi) (any position; the MOC is
** re-normalised lazily by st_moc_normalize, which every other function
** expects to have been called when ranges were added out of order). */
ST_API int st_moc_add_range(st_moc *m, int64_t lo, int64_t hi, struct st_error *err);
/* Sort and merge ranges into the canonical form described above. */
ST_API void st_moc_normalize(st_moc *m);
/* Copy a into out. */
ST_API int st_moc_copy(const st_moc *a, st_moc *out, struct st_error *err);
ST_API int st_moc_union(const st_moc *a, const st_moc *b, st_moc *out, struct st_error *err);
ST_API int st_moc_intersection(const st_moc *a, const st_moc *b, st_moc *out,
                               struct st_error *err);
/* The whole sphere minus a (at a's order). */
ST_API int st_moc_complement(const st_moc *a, st_moc *out, struct st_error *err);
/* Coarsen to `order` (<= a->order): every cell at `order` that a touches
** is included whole, so the result is a superset. */
ST_API int st_moc_degrade(const st_moc *a, int order, st_moc *out, struct st_error *err);
/* Declare a finer resolution (>= a->order); the set is unchanged. */
ST_API int st_moc_upgrade(const st_moc *a, int order, st_moc *out, struct st_error *err);
/* True if the order-29 index h is in the MOC (binary search). */
ST_API bool st_moc_contains(const st_moc *m, int64_t h29);
/* True if the MOC holds at least one order-29 index of cell (order, pix)
** (e.g. to prune HATS partitions against a region); false for a bad cell. */
ST_API bool st_moc_intersects_cell(const st_moc *m, int order, int64_t pix);
/* True if two MOCs hold the same set. */
ST_API bool st_moc_equal(const st_moc *a, const st_moc *b);

/* Build from a list of (order, pixel) cells (any order, overlaps allowed);
** the MOC's order is the largest cell order. */
ST_API int st_moc_from_cells(const int *orders, const int64_t *pix, int64_t n, st_moc *out,
                             struct st_error *err);
/* Number of cells in the canonical (largest-cells-first) decomposition. */
ST_API int64_t st_moc_ncells(const st_moc *m);
/* Write the canonical decomposition: cells sorted by range start, each the
** largest aligned cell that fits.  `cap` is the room in orders/pix;
** ST_ERR_LIMIT if it is too small.  *n receives the count. */
ST_API int st_moc_to_cells(const st_moc *m, int *orders, int64_t *pix, int64_t cap,
                           int64_t *n, struct st_error *err);
/* Number of pixels at `order` the MOC touches (after degrading to order). */
ST_API int64_t st_moc_npix(const st_moc *m, int order);
/* The sorted list of pixels at `order` that the MOC touches; ST_ERR_LIMIT
** if more than cap. */
ST_API int st_moc_pixels(const st_moc *m, int order, int64_t *out, int64_t cap, int64_t *n,
                         struct st_error *err);

/* ---- Region coverage --------------------------------------------------- */

/* Each function sets `out` to a MOC of order `order` holding every pixel at
** that order that may intersect the region: never missing one (inclusive),
** possibly a few extra along the boundary.  Pixels wholly inside the region
** are merged into coarser ranges, so the MOC stays small; list pixels with
** st_moc_pixels.  ST_ERR_LIMIT if more than out->max_ranges ranges would be
** needed (choose a coarser order). */

/* Cone: all points within radius_deg (0 <= radius <= 180) of (ra, dec). */
ST_API int st_hpx_cone_moc(int order, double ra, double dec, double radius_deg, st_moc *out,
                           struct st_error *err);

/* RA/Dec box: ra from ra_min eastwards to ra_max (if ra_min > ra_max after
** reducing both mod 360, the box wraps through RA 0; ra_max - ra_min >= 360
** means all RA), dec_min <= dec <= dec_max.  Dec edges are small circles,
** RA edges are meridians. */
ST_API int st_hpx_box_moc(int order, double ra_min, double ra_max, double dec_min,
                          double dec_max, st_moc *out, struct st_error *err);

/* Convex spherical polygon with n >= 3 vertices (degrees), edges great-circle
** arcs, vertices in either winding.  ST_ERR_INVALID if it is not convex or
** is degenerate. */
ST_API int st_hpx_polygon_moc(int order, const double *ra, const double *dec, int n,
                              st_moc *out, struct st_error *err);

#ifdef __cplusplus
}
#endif

#endif
