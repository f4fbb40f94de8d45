/*
** Internal query options shared with other modules of the library (not part
** of the public API in include/skytile/query.h).
*/
#ifndef ST_QUERY_INT_H
#define ST_QUERY_INT_H

#include "skytile/query.h"
#include "util/err.h"

/*
** Dec hint for a pixels region (st_query_set_pixels): rows whose Dec lies in
** none of the ranges [lo[i], hi[i]] (degrees) may be left out of the result.
** It narrows the Dec pre-filter (Dec buckets of 180 / 2^20 degrees, so a row
** up to two buckets outside a range may still be returned; rows inside a
** range are never dropped by it).  A caller that only wants rows near some
** points (light curves: within the radius of a target) gives their Dec
** bands.  NaN or empty ranges are ignored; n = 0 leaves out every row that
** the pre-filter sees.  Replaces an earlier hint.
*/
int st_query_set_dec_hint(st_query *q, const double *lo, const double *hi, int n, st_error *err);

#endif
