/*
** skytile/xmatch.h — positional crossmatch of two catalogs, and light curves
** (the detections of a list of targets, grouped by target, sorted by time).
**
** Inputs.  Each side is an st_xmatch_input: either a catalog opened with
** st_catalog_open (HATS, collection, hipscat, hive healpix_kN= dataset,
** plain Parquet) or an in-memory st_table (e.g. a CSV read with the readers),
** with the names of its RA/Dec columns (degrees).
**
** Crossmatch semantics are those of LSDB's crossmatch (KdTreeCrossmatch):
** for each left row, its K nearest right rows whose angular distance d
** satisfies min_radius <= d <= radius (K = n_neighbors; ST_XMATCH_ALL = every
** right row within the radius, like astropy's search_around_sky), ordered by
** increasing distance (ties, also at the K-th place: right row order, i.e.
** right partitions in _healpix_29 order, then rows in file order).
** Distances are great-circle angles in arcseconds computed from unit vectors
** (the chord c between the two points, d = 2 asin(c/2)), reported in
** `_dist_arcsec` (float64).
** how = INNER keeps matched left rows only; how = LEFT also keeps unmatched
** left rows once, with null right columns and null `_dist_arcsec`.
** Rows with a null or non-finite ra/dec never match (LEFT keeps them).
** radius must be > min_radius >= 0 (as LSDB).  Differences from LSDB 0.11:
** LSDB excludes d <= min_radius when min_radius > 0 (skytile keeps
** d == min_radius: only exact equality differs); LSDB's how='left' puts a
** partition's unmatched left rows after its matched ones (skytile keeps left
** order); without a right margin LSDB only pairs rows of overlapping
** partitions (skytile never loses a pair, see below).
**
** Output columns: the chosen left columns, each renamed name + suffix_left,
** then the chosen right columns renamed name + suffix_right, then
** `_dist_arcsec`.  As in LSDB, whose result is indexed by the left
** `_healpix_29`: a left `_healpix_29` column keeps its name, and the right
** side's `_healpix_29` is not among its default columns.  Row order: left
** rows in the left side's order (catalogs: partitions in _healpix_29 order,
** rows in file order; tables and plain Parquet: table order), and for each
** left row its matches by increasing distance.  The output does not depend
** on `threads`.
**
** Partition boundaries: matches are never lost.  Each right partition is
** decoded once (with where_right) and indexed; a left partition is matched
** against every right partition whose cell may hold a point within `radius`
** of its cell.  When the caller passes a margin catalog of the right side
** whose hats_margin_threshold >= radius, a left partition contained in one
** right partition R is matched against R and R's margin partition only
** (other left partitions still use the neighbouring right partitions).
** Unpartitioned sides (tables, plain Parquet) are loaded once.
*/
#ifndef SKYTILE_XMATCH_H
#define SKYTILE_XMATCH_H

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

#define ST_XMATCH_ALL 0        /* n_neighbors: every match within the radius  */

typedef enum st_xmatch_how { ST_XMATCH_INNER = 0, ST_XMATCH_LEFT = 1 } st_xmatch_how;

/* One side of a crossmatch: exactly one of catalog/table is set. */
typedef struct st_xmatch_input {
  const st_catalog *catalog;     /* a catalog (read partition by partition)  */
  const st_catalog *margin;      /* optional margin catalog of `catalog`     */
  const struct st_table *table;  /* or rows already in memory                */
  const char *ra_column;         /* NULL: hats_col_ra, else "ra"             */
  const char *dec_column;        /* NULL: hats_col_dec, else "dec"           */
} st_xmatch_input;

typedef struct st_xmatch_options {
  size_t struct_size;            /* sizeof(st_xmatch_options)                */
  double radius_arcsec;          /* > 0 (required)                           */
  double min_radius_arcsec;      /* >= 0 (default 0)                         */
  int n_neighbors;               /* >= 1, or ST_XMATCH_ALL (default 1)       */
  st_xmatch_how how;             /* default ST_XMATCH_INNER                  */
  const char *suffix_left;       /* default "_l"                             */
  const char *suffix_right;      /* default "_r"                             */
  const char *const *columns_left;  /* NULL: all (catalog: hats_cols_default */
  int n_columns_left;               /*   when set, else all)                 */
  const char *const *columns_right;
  int n_columns_right;
  const char *where_right;       /* filter on right rows (query.h syntax)    */
  int threads;                   /* <= 0: 1                                  */
} st_xmatch_options;

typedef struct st_xmatch_stats {
  int64_t left_rows;             /* left rows considered                     */
  int64_t right_rows_read;       /* right rows decoded (incl. neighbours)    */
  int64_t pairs;                 /* output matches                           */
  int64_t bytes_read;            /* compressed bytes of chunks read          */
  int left_partitions;
  int right_partitions_read;     /* right partition reads (with repeats)     */
} st_xmatch_stats;

ST_API void st_xmatch_options_init(st_xmatch_options *o);

/* Crossmatch left with right (semantics above); *out receives the result
   (possibly 0 rows, with the output schema).  stats may be NULL. */
ST_API int st_xmatch_run(const st_xmatch_input *left, const st_xmatch_input *right,
                         const st_xmatch_options *o, struct st_table **out,
                         st_xmatch_stats *stats, struct st_error *err);

/* ---- light curves ---------------------------------------------------------
**
** Targets: a table with an id column and ra/dec (degrees; any numeric type,
** a null or non-finite position never matches).  Catalogs: one or more (e.g.
** one per survey year) searched as one; the chosen detection columns must
** exist in every catalog with the same type (else ST_ERR_SCHEMA naming the
** column and both types).  For each target, every detection within
** radius_arcsec (ST_XMATCH_ALL semantics: great-circle distance d <= radius,
** the where filter applied), from every catalog.
**
** Pruning.  Each target's cone (radius widened by 1e-6 relative) is covered
** with HEALPix cells at the finest order whose cells are at least as large
** as the cone (st_hpx_max_pixrad(order) >= radius, coarser when the union
** would exceed 2^24 cells); the union of the cells drives st_query's region
** (st_query_set_pixels): partitions missing it are skipped, row groups are
** pruned on _healpix_29 statistics, and only rows inside the cells are
** matched.  For a catalog without _healpix_29 (hive/plain Parquet), the
** Dec intervals of the cones (merged to at most 16) are added to the where
** filter, so row groups are also pruned on Dec statistics.
**
** Flat output (nested = false): one row per (target, detection): the target
** id column (named as in the targets, or `_target_id` when a detection or
** output column has that name), `_target_ra`, `_target_dec` (float64), the
** chosen detection columns (the time column is put first when not chosen),
** `_dist_arcsec` (float64); sorted by target (targets' input order) then
** time (nulls and NaN last; ties: catalog order, then the catalog's
** _healpix_29/file order).  Targets without detections are absent.
** The time column may be any integer, float, date, time, timestamp or
** duration column.
** Nested output (nested = true): one row per target with detections: id,
** `_target_ra`, `_target_dec`, `_n` (int64 number of detections), and one
** column `lc` of type STRUCT whose children are LISTs (one per detection
** column plus `_dist_arcsec`, list items named "element", int32 offsets,
** large lists beyond 2^31-1 detections), each list holding that target's
** values in time order.  This is the layout nested-pandas (0.7) writes for
** a nested column and reads back as one (nested_pandas.read_parquet).
** It equals st_lightcurves_nest applied to the flat output (for targets
** with distinct ids or positions; the run groups by target row, the nest
** function by consecutive equal id and position).
*/
typedef struct st_lc_options {
  size_t struct_size;            /* sizeof(st_lc_options)                    */
  double radius_arcsec;          /* > 0 (required)                           */
  const char *time_column;       /* required (e.g. "mjd")                    */
  const char *id_column;         /* targets' id column (default "id")        */
  const char *target_ra_column;  /* default "ra"                             */
  const char *target_dec_column; /* default "dec"                            */
  const char *catalog_ra_column; /* NULL: hats_col_ra, else "ra"             */
  const char *catalog_dec_column;/* NULL: hats_col_dec, else "dec"           */
  const char *const *columns;    /* detection columns (NULL: all columns of  */
  int n_columns;                 /*   the first catalog)                     */
  const char *where;             /* filter on detections (query.h syntax)    */
  bool nested;                   /* struct-of-lists output                   */
  int threads;                   /* per catalog query; <= 0: 1               */
} st_lc_options;

typedef struct st_lc_stats {
  int64_t targets;               /* targets read                             */
  int64_t targets_matched;       /* targets with >= 1 detection              */
  int64_t detections;            /* output detections (flat rows)            */
  int64_t rows_read;             /* catalog rows decoded                     */
  int64_t rows_total;            /* rows of all catalogs                     */
  int64_t rows_candidate;        /* rows inside the cells (matched against)  */
  int64_t bytes_read;            /* compressed bytes of chunks read          */
  int64_t bytes_total;           /* compressed bytes of all catalog chunks   */
  int64_t row_groups_read;
  int64_t row_groups_total;      /* row groups of all catalogs               */
  int partitions_read;           /* partitions meeting the cells             */
  int partitions_total;
  int files_opened;              /* leaf files opened                        */
  int cell_order;                /* HEALPix order of the pruning cells       */
  int64_t cells;                 /* number of cells                          */
} st_lc_stats;

ST_API void st_lc_options_init(st_lc_options *o);

/* Light curves of targets in catalogs[0..n_catalogs) (semantics above);
   *out receives the table (possibly 0 rows).  stats may be NULL. */
ST_API int st_lightcurves_run(const st_catalog *const *catalogs, int n_catalogs,
                              const struct st_table *targets, const st_lc_options *o,
                              struct st_table **out, st_lc_stats *stats,
                              struct st_error *err);

/* Nest a flat light-curve table (columns: id, _target_ra, _target_dec, then
   detection columns): runs of consecutive rows with equal id and target
   position become one row (layout above).  ST_ERR_INVALID when the columns
   are not those of a flat light-curve table. */
ST_API int st_lightcurves_nest(const struct st_table *flat, struct st_table **out,
                               struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
