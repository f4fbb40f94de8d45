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
** increasing distance (ties: right row order).  Distances are great-circle
** angles in arcseconds computed from unit vectors (the chord c between the
** two points, d = 2 asin(c/2)), reported in `_dist_arcsec` (float64).
** how = INNER keeps matched left rows only; how = LEFT also keeps unmatched
** left rows once, with null right columns and null `_dist_arcsec`.
** Rows with a null or non-finite ra/dec never match (LEFT keeps them).
**
** Output columns: the chosen left columns, each renamed name + suffix_left,
** then the chosen right columns renamed name + suffix_right, then
** `_dist_arcsec`.  Row order: left rows in the left side's order (catalogs:
** partitions in _healpix_29 order, rows in file order; tables: table order),
** and for each left row its matches by increasing distance.
**
** Partition boundaries: matches are never lost.  For each left partition
** the right rows within `radius` of the partition's cell are read (the
** right side's margin catalog is used when the caller passes one whose
** margin threshold >= radius; otherwise the neighbouring right partitions
** are read, pruned to the cells within `radius` of the boundary).
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
** Targets: a table with an id column and ra/dec (degrees).  Catalogs: one or
** more (e.g. one per survey year) searched as one; their schemas must agree
** on the chosen columns.  For each target, every detection within
** radius_arcsec (ST_XMATCH_ALL semantics, where filter applied), from every
** catalog.  Only the partitions and row groups that can hold matches are
** read (the union of the targets' cones drives the pruning).
**
** Flat output (nested = false): one row per (target, detection): the target
** id column (its name), `_target_ra`, `_target_dec`, the chosen detection
** columns (the time column always included), `_dist_arcsec`; sorted by
** target (targets' input order) then time (ties: catalog order, then
** _healpix_29/file order).  Targets without detections are absent.
** Nested output (nested = true): one row per target with detections: id,
** `_target_ra`, `_target_dec`, `_n` (int64 number of detections), and one
** column `lc` of type STRUCT whose children are LISTs (one per detection
** column plus `_dist_arcsec`), each list holding that target's values in
** time order — the nested-pandas "struct of lists" layout.
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
  const char *const *columns;    /* detection columns (NULL: all)            */
  int n_columns;
  const char *where;             /* filter on detections (query.h syntax)    */
  bool nested;                   /* struct-of-lists output                   */
  int threads;                   /* <= 0: 1                                  */
} st_lc_options;

typedef struct st_lc_stats {
  int64_t targets;               /* targets read                             */
  int64_t targets_matched;       /* targets with >= 1 detection              */
  int64_t detections;            /* output detections                        */
  int64_t rows_read;             /* catalog rows decoded                     */
  int64_t bytes_read;            /* compressed bytes of chunks read          */
  int64_t bytes_total;           /* compressed bytes of all catalog chunks   */
  int64_t row_groups_read;
  int64_t row_groups_total;
  int partitions_read;
} st_lc_stats;

ST_API void st_lc_options_init(st_lc_options *o);

ST_API int st_lightcurves_run(const st_catalog *const *catalogs, int n_catalogs,
                              const struct st_table *targets, const st_lc_options *o,
                              struct st_table **out, st_lc_stats *stats,
                              struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
