/*
** xmatch_int.h — the matching kernel shared by the crossmatch (xmatch.c) and
** light curves (lightcurve.c).
**
** st_xm_match: for each query point i (q_ra[i], q_dec[i], degrees), the
** reference points j within [rmin, rmax] arcseconds (great-circle distance
** computed from unit vectors: d = 2 asin(|u_i - v_j| / 2)), at most k of them
** (k = 0: all), nearest first.  Points with NaN or infinite coordinates never
** match.  Pairs come out sorted by (query index, distance, reference index);
** with k > 0 and ties at the k-th distance, the lower reference indices win.
** Cost: O(nr log nr) to index the references, then about O(log nr + m) per
** query (m = candidates near the query); no allocation per point.
**
** `out` must be zeroed before its first use (st_xm_pairs p = {0}); each call
** replaces its contents (n = 0 first), reusing its arrays.  Free with
** st_xm_pairs_free.
**
** st_xm_index_*: the same with the reference index (a kd-tree, or zones for
** small radii: kernel.c) built once and matched
** against several query sets (the index is read-only while matching, so one
** index may serve several threads, each with its own `out`).
**
** Thread-safety: every function is reentrant; single-threaded inside.
*/
#ifndef ST_XMATCH_INT_H
#define ST_XMATCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "skytile.h"

typedef struct st_xm_pairs {
  int64_t *qi;             /* query (left) row index                         */
  int64_t *ri;             /* reference (right) row index                    */
  double *dist_arcsec;     /* great-circle distance                          */
  int64_t n;               /* pairs                                          */
  int64_t cap;             /* allocated slots                                */
} st_xm_pairs;

int st_xm_match(const double *q_ra, const double *q_dec, int64_t nq, const double *r_ra,
                const double *r_dec, int64_t nr, double rmin_arcsec, double rmax_arcsec, int k,
                st_xm_pairs *out, st_error *err);
void st_xm_pairs_free(st_xm_pairs *p);    /* frees the arrays; NULL-safe */

/* A reference index (kd-tree over unit vectors) of nr points. */
typedef struct st_xm_index st_xm_index;

int st_xm_index_build(const double *r_ra, const double *r_dec, int64_t nr, st_xm_index **out,
                      st_error *err);
void st_xm_index_free(st_xm_index *ix);   /* NULL-safe */
/* Number of indexed (finite) reference points. */
int64_t st_xm_index_size(const st_xm_index *ix);
/* As st_xm_match against the index's references, except that the pairs are
   APPENDED to `out` (not replaced) with query indices q_offset + i, so a
   caller may match a query set in slices. */
int st_xm_index_match(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                      int64_t nq, int64_t q_offset, double rmin_arcsec, double rmax_arcsec,
                      int k, st_xm_pairs *out, st_error *err);

/* xyz[3i..3i+2] = unit vector of (ra[i], dec[i]) degrees; NaN for a point
   with a non-finite coordinate (never matches). */
void st_xm_radec_to_xyz(const double *ra, const double *dec, int64_t n, double *xyz);
/* st_xm_index_match with the query points also given as unit vectors (from
   st_xm_radec_to_xyz), e.g. to match one query set against several indexes
   without recomputing them; q_ra/q_dec may be NULL (derived from q_xyz). */
int st_xm_index_match_xyz(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                          const double *q_xyz, int64_t nq, int64_t q_offset, double rmin_arcsec,
                          double rmax_arcsec, int k, st_xm_pairs *out, st_error *err);
/* Charts: chart[3i..3i+2] = (base face, x, y) of point i: its continuous
   HEALPix face coordinates (kernel.c, st_xm_cell_boundary), face -1 for a
   point with a non-finite coordinate.  st_xm_radec_to_xyzc computes the
   unit vectors and the charts in one pass; the _xyzc/_chart functions take
   them instead of recomputing them (st_xm_index_match_xyzc: q_chart may be
   NULL). */
void st_xm_radec_to_xyzc(const double *ra, const double *dec, int64_t n, double *xyz,
                         double *chart);
/* The portable scalar code of st_xm_radec_to_xyzc (which uses AVX2 when
   the CPU has it, with bit-identical results): for tests. */
void st_xm_radec_to_xyzc_ref(const double *ra, const double *dec, int64_t n, double *xyz,
                             double *chart);
int st_xm_index_match_xyzc(const st_xm_index *ix, const double *q_ra, const double *q_dec,
                           const double *q_xyz, const double *q_chart, int64_t nq,
                           int64_t q_offset, double rmin_arcsec, double rmax_arcsec, int k,
                           st_xm_pairs *out, st_error *err);
/* An index tuned for matches within about radius_hint_arcsec: for hints up
   to 2' a declination-zone index (O(n) build, binary searches per query),
   else (or hint <= 0) the kd-tree of st_xm_index_build.  Either answers any
   radius correctly; st_xm_match uses it with its radius. */
int st_xm_index_build_hint(const double *r_ra, const double *r_dec, int64_t nr,
                           double radius_hint_arcsec, st_xm_index **out, st_error *err);

/* An index of the points of HEALPix cell (order, pixel) (e.g. a catalog
   partition; points outside the cell are allowed) tuned for matches within
   radius_arcsec: a grid over the cell's face coordinates, plus a zone index
   of the points near the cell's edge (kernel.c); falls back to
   st_xm_index_build_hint when the radius is not small against the cell.
   Answers any query of radius <= radius_arcsec correctly. */
int st_xm_index_build_cell(int order, int64_t pixel, const double *r_ra, const double *r_dec,
                           int64_t nr, double radius_arcsec, st_xm_index **out, st_error *err);

/* Number of finite points (ra, dec degrees) outside HEALPix cell (order,
   pixel) (beyond rounding); 0 for order < 0.  st_xm_index_cell_outside:
   the same count for the points of a grid index (st_xm_index_build_cell),
   found while building it; -1 when the index is not a grid. */
int64_t st_xm_cell_outside(int order, int64_t pixel, const double *ra, const double *dec,
                           int64_t n);
int64_t st_xm_index_cell_outside(const st_xm_index *ix);

/* st_xm_index_build_cell with a scratch block reused from call to call
   (start with {NULL, 0}; free p with st_aligned_free, util/mem.h). */
typedef struct st_xm_scratch {
  void *p;
  size_t cap;              /* bytes                                          */
} st_xm_scratch;
int st_xm_index_build_cell_s(int order, int64_t pixel, const double *r_ra, const double *r_dec,
                             int64_t nr, double radius_arcsec, st_xm_scratch *scratch,
                             st_xm_index **out, st_error *err);

/* Points of HEALPix cell (order, pixel) whose disc of radius_arcsec may
   reach outside the cell: writes their indices (increasing) to idx (room
   for n) and returns their number.  Every point not listed is inside the
   cell with its whole disc (points outside the cell are listed; NaN points,
   which never match, are not).  order < 0 (whole sky) or a radius near the
   cell's size: every finite point.  ra in degrees (of points with |dec| <=
   90), xyz from st_xm_radec_to_xyz.  st_xm_cell_boundary_chart: the same
   from the charts of st_xm_radec_to_xyzc (any dec). */
int64_t st_xm_cell_boundary(int order, int64_t pixel, const double *ra, const double *xyz,
                            int64_t n, double radius_arcsec, int64_t *idx);

int64_t st_xm_cell_boundary_chart(int order, int64_t pixel, const double *chart, int64_t n,
                                  double radius_arcsec, int64_t *idx);

#endif
