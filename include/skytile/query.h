/*
** skytile/query.h — spatial searches and filtered scans over catalogs opened
** with st_catalog_open (HATS, hipscat, hive, plain Parquet).
**
** A query selects rows of a catalog by
**   region   none (scan), cone, RA/Dec box, convex polygon, or a set of
**            HEALPix pixels at one order;
**   where    an optional filter expression over columns (st_query_set_where);
** and returns the chosen columns of the matching rows as one st_table, in a
** deterministic order: partitions by their order-29 range (which is
** _healpix_29 order), and within a partition by _healpix_29 when the column
** exists (stable), else in file order.
**
** Region semantics are those of LSDB's searches with fine=True (the
** hats.search.region_search filters):
**   cone     haversine a = sin²(Δdec/2) + cos dec0 cos dec sin²(Δra/2),
**            selected when a <= sin²(r/2); radius in [0, 180] degrees
**            (LSDB rejects 0; here 0 selects points at the centre exactly).
**   box      ra values and bounds reduced mod 360 (Python's %); lo == hi
**            means all RA; lo < hi: lo <= ra <= hi; lo > hi: ra >= lo or
**            ra <= hi (wraps through 0); dec_lo <= dec <= dec_hi, dec_lo <
**            dec_hi required.
**   polygon  convex spherical polygon, great-circle edges, either winding;
**            a point is inside when it is on the inner side of (or on) every
**            edge (lsst.sphgeom ConvexPolygon.contains).
**   pixels   rows whose (ra, dec) falls in one of the pixels at `order`.
** Partition pruning uses skytile's inclusive coverage (st_hpx_*_moc), so the
** rows are exactly those of the point test over the whole catalog.  (LSDB's
** box_search prunes partitions with mocpy's MOC.from_zone, which can miss a
** partition the box touches; its result then lacks rows its own point test
** accepts — seen on Tycho-2, see bench/bench_query.py.)
** Rows whose ra or dec is null are never in a region.
**
** Pruning, in order: partitions whose HEALPix cell misses the region's MOC;
** row groups whose _healpix_29 min/max range misses the MOC, or whose ra/dec
** min/max box (grown by the region's radius or pixel size; RA compared mod
** 360, every RA near a pole; kept when statistics are missing) misses the
** region, or whose statistics prove the where expression false; then only the needed column
** chunks of the remaining row groups are read (the region/where columns
** first, the other output columns only when a row of the file matched);
** then the exact row tests.
** Row-group statistics come from _metadata when present (files without
** a surviving row group are never opened).
**
** Where expressions: comparisons `== != < <= > >=` (also `=` and `<>`)
** between a column and a literal (number, 'string' or "string", true/false),
** `and`, `or`, `not`, parentheses, `col in (lit, ...)`, `col not in (...)`,
** `col is null`, `col is not null`.  Keywords are case-insensitive; a column
** name may be quoted with backticks.  Nulls follow SQL's three-valued logic:
** a comparison or `in` with a null value is unknown, `not unknown` is
** unknown, and a row passes only when the expression is true.  Numbers compare numerically (integers exactly),
** strings bytewise.
*/
#ifndef SKYTILE_QUERY_H
#define SKYTILE_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;
struct st_table;
typedef struct st_catalog st_catalog;

typedef struct st_query st_query;

/* Counters filled by st_query_run (for --explain). */
typedef struct st_query_stats {
  int partitions_total;      /* partitions in the catalog                     */
  int partitions_region;     /* whose cell meets the region                   */
  int files_opened;          /* leaf files opened (once per piece read)       */
  int64_t row_groups_total;  /* row groups in the considered partitions       */
  int64_t row_groups_hpx;    /* left after _healpix_29 and ra/dec statistics  */
  int64_t row_groups_read;   /* left after --where statistics (read)          */
  int64_t bytes_total;       /* compressed bytes of all chunks considered     */
  int64_t bytes_read;        /* compressed bytes of the chunks read           */
  int64_t rows_read;         /* rows decoded                                  */
  int64_t rows_matched;      /* rows passing region and where                 */
  int moc_order;             /* order of the region MOC used for pruning      */
} st_query_stats;

ST_API int st_query_new(st_query **out, struct st_error *err);
ST_API void st_query_free(st_query *q);    /* NULL-safe */

/* Regions (the last one set wins; none = full scan). */
ST_API int st_query_set_cone(st_query *q, double ra, double dec, double radius_deg,
                             struct st_error *err);
ST_API int st_query_set_box(st_query *q, double ra_lo, double ra_hi, double dec_lo,
                            double dec_hi, struct st_error *err);
ST_API int st_query_set_polygon(st_query *q, const double *ra, const double *dec, int n,
                                struct st_error *err);
ST_API int st_query_set_pixels(st_query *q, int order, const int64_t *pix, int n,
                               struct st_error *err);
/* Filter expression (syntax above); parsed now, columns resolved at run. */
ST_API int st_query_set_where(st_query *q, const char *expr, struct st_error *err);
/* Output columns (names; NULL/0 = the catalog's hats_cols_default when set,
   else all). */
ST_API int st_query_set_columns(st_query *q, const char *const *names, int n,
                                struct st_error *err);
/* RA/Dec column names (default: hats_col_ra/hats_col_dec, else "ra"/"dec"). */
ST_API int st_query_set_radec_columns(st_query *q, const char *ra, const char *dec,
                                      struct st_error *err);
ST_API void st_query_set_limit(st_query *q, int64_t limit);    /* < 0: none      */
ST_API void st_query_set_threads(st_query *q, int threads);    /* <= 0: 1        */
/* Rows per delivered batch when a big partition (or an unpartitioned Parquet
   file/directory) is read in pieces of whole row groups (default 1048576;
   <= 0: the default).  Pieces are used only when row-group statistics show
   they keep the output order. */
ST_API void st_query_set_batch_rows(st_query *q, int64_t rows);

/* Run on c; *out receives the result table (possibly 0 rows, with the output
   schema).  stats may be NULL. */
ST_API int st_query_run(st_query *q, const st_catalog *c, struct st_table **out,
                        st_query_stats *stats, struct st_error *err);

/*
** Streaming run: the result in batches, in the same order as st_query_run,
** without holding it whole.  fn is called on the calling thread with each
** partition's matching rows (a batch has >= 1 row; the batch is the
** callee's to read during the call only — st_table_slice it to keep it),
** cut at the limit; when the whole result is empty, fn is called once with
** a 0-row table carrying the output schema.  A partition of more than
** batch_rows rows comes in several batches when it can be read in pieces
** (st_query_set_batch_rows).  A non-zero return from fn
** stops the run and is returned (fn should fill err).  Memory holds at most
** 2 x threads batches at a time.
*/
typedef int (*st_query_batch_fn)(void *ctx, const struct st_table *batch, struct st_error *err);
ST_API int st_query_run_stream(st_query *q, const st_catalog *c, st_query_batch_fn fn, void *ctx,
                               st_query_stats *stats, struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
