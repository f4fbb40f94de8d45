/*
** xmatch_int.h — the matching kernel shared by the crossmatch (xmatch.c) and
** light curves (lightcurve.c).
**
** st_xm_match: for each query point i (q_ra[i], q_dec[i], degrees), the
** reference points j within [rmin, rmax] arcseconds (great-circle distance
** computed from unit vectors: d = 2 asin(|u_i - v_j| / 2)), at most k of them
** (k = 0: all), nearest first.  Points with NaN coordinates never match.
** Pairs come out sorted by (query index, distance, reference index).
** Cost: O((nq + nr) log nr + pairs); no allocation per point.
*/
#ifndef ST_XMATCH_INT_H
#define ST_XMATCH_INT_H

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

#endif
