/*
** skytile/import.h — pieces of the HATS import pipeline (issue 5):
** binning a histogram into partitions, and the files written when an
** import finishes (partition_info.csv, properties, HEALPix FITS skymaps).
**
** Binning reproduces hats / hats-import exactly (same partitions, same
** alignment of every mapping-order pixel, same errors), so a catalog
** imported by skytile partitions like one imported by hats-import with the
** same options.  The writers produce the files hats writes, byte for byte
** where hats is deterministic (the FITS CREATOR card and the dates differ).
**
** All functions follow the conventions of skytile.h (int result, caller's
** st_error last); they keep no state and are reentrant.
*/
#ifndef SKYTILE_IMPORT_H
#define SKYTILE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;
struct st_input_options;

/* Highest histogram order st_bin accepts (12 * 4^14 pixels = 3.2e9). */
#define ST_BIN_MAX_ORDER 14

/* ---- Binning ------------------------------------------------------------ */

/* Options of st_bin; zero-initialise, then set.  The names follow the
** hats-import arguments. */
typedef struct st_bin_options {
  int highest_order;        /* order of the histograms (the mapping order)   */
  int lowest_order;         /* coarsest partition order allowed (0..highest) */
  int constant_order;       /* >= 0: every non-empty pixel of this order is
                               a partition (no threshold); < 0: off.  Set
                               to -1 unless wanted: 0 means "order 0"!       */
  int64_t threshold;        /* max rows (or bytes, with `bytes`) per
                               partition: hats' pixel_threshold             */
  bool drop_empty_siblings; /* keep a lone non-empty child at its own order
                               instead of merging it with 3 empty siblings  */
  bool keep_highest_order;  /* do not lower the mapping order (hats-import
                               lowers it when no order above needs it)       */
  const int64_t *bytes;     /* optional: bytes per pixel (byte threshold
                               mode, hats' mem_size histogram); same length
                               as the counts; NULL = threshold on rows       */
  const int *existing_orders;   /* incremental mode: partitions of the   */
  const int64_t *existing_pixels; /* existing catalog (order, pixel) that */
  int64_t n_existing;           /* must be kept; n_existing = 0: off     */
} st_bin_options;

/* A destination partition. */
typedef struct st_bin_partition {
  int order;                /* HEALPix order                                 */
  int64_t pixel;            /* nested pixel at that order                    */
  int64_t rows;             /* rows it will hold                             */
} st_bin_partition;

/* Result of st_bin; free with st_bin_result_free. */
typedef struct st_bin_result {
  int mapping_order;        /* order of `dest` (<= highest_order: hats-import
                               lowers it, see st_bin)                        */
  int64_t npix;             /* 12 * 4^mapping_order                          */
  int32_t *dest;            /* npix entries: index into `parts` of the
                               partition each pixel's rows go to, or -1      */
  st_bin_partition *parts;  /* partitions, sorted as partition_info.csv
                               lists them (breadth first = by first
                               order-29 index)                               */
  int64_t nparts;           /* number of partitions                          */
  int64_t total_rows;       /* sum of the counts                             */
} st_bin_result;

/*
** Decide the partitions of a catalog from `counts`, the number of rows in
** each pixel at opts->highest_order (12 * 4^highest_order int64 values),
** exactly as hats-import's binning stage does:
**
**  - incremental (n_existing > 0; hats generate_incremental_alignment):
**    existing partitions are kept, rows falling in them go to them; other
**    rows get new partitions built as with drop_empty_siblings, never
**    overlapping an existing partition.  The threshold applies to rows.
**  - constant (constant_order >= 0, or lowest_order == highest_order): each
**    non-empty pixel at constant_order (<= highest_order) is a partition.
**  - otherwise (hats generate_alignment): pixels are merged up the HEALPix
**    tree while a merged pixel holds at most `threshold` rows (bytes when
**    `bytes` is given), never coarser than lowest_order.  Unless
**    keep_highest_order, the mapping order is first lowered to the lowest
**    order > lowest_order at and above which every pixel is under the
**    threshold (hats-import's use_lower_order).
**
** Errors: a pixel at the highest order over the threshold is ST_ERR_LIMIT
** ("... raise --highest-order ..."), as in hats; bad orders, threshold,
** negative counts, overlapping or too fine existing partitions are
** ST_ERR_INVALID; partitions not holding all rows (an existing partition
** coarser than lowest_order, as hats) is ST_ERR_INVALID.
**
** Memory: beyond the result (4 bytes per mapping-order pixel), about 1/3
** of the histogram (8 bytes per pixel of coarser orders) plus 4/3 byte per
** highest-order pixel.  Time is linear in the histogram size.
*/
ST_API int st_bin(const int64_t *counts, const st_bin_options *opts, st_bin_result *out,
                  struct st_error *err);

/* Free the arrays of a result (NULL-safe; the struct is zeroed). */
ST_API void st_bin_result_free(st_bin_result *r);

/* ---- Finishing: catalog-level files ------------------------------------- */

/*
** Write <catalog_dir>/partition_info.csv as hats does (PartitionInfo
** .write_to_file): header "Norder,Npix", one line per partition, sorted
** breadth first (by pixel << 2*(29 - order), ties by order).  The order
** and pixel of each partition are validated.
*/
ST_API int st_import_write_partition_info(const char *catalog_dir, const st_bin_partition *parts,
                                          int64_t nparts, struct st_error *err);

/*
** Write a HEALPix map (`values`, 12 * 4^order int64 in NESTED order) as the
** FITS file hats writes (hats.io.file_io.write_fits_image through
** cdshealpix): an empty primary HDU, then a BINTABLE with PIXTYPE=HEALPIX,
** ORDERING=NESTED, COORDSYS=C and NSIDE.  If more than half the values are
** 0 the table is EXPLICIT (INDXSCHM=EXPLICIT, columns PIXEL and VALUE,
** int64, one row per non-zero pixel, OBS_NPIX); otherwise IMPLICIT (one
** int64 column VALUE, FIRSTPIX/LASTPIX, OBJECT=FULLSKY).  The file appears
** atomically.
*/
ST_API int st_import_write_healpix_fits(const char *path, const int64_t *values, int order,
                                        struct st_error *err);

/*
** Write <catalog_dir>/point_map.fits and skymap.fits from the row-count
** histogram at `order`, and skymap.K.fits (the histogram summed to order
** K) for each K of alt_orders (each <= order), as hats-import does.
*/
ST_API int st_import_write_skymaps(const char *catalog_dir, const int64_t *hist, int order,
                                   const int *alt_orders, int n_alt, struct st_error *err);

/* Sky fraction covered by partitions (hats calculate_fractional_coverage). */
ST_API double st_import_sky_fraction(const st_bin_partition *parts, int64_t nparts);

/*
** Catalog properties written by hats-import (TableProperties).  Strings
** NULL and integers < 0 are omitted; a NaN moc_sky_fraction is omitted.
*/
typedef struct st_import_props {
  const char *catalog_name;     /* obs_collection (required)                 */
  const char *catalog_type;     /* dataproduct_type: object, source, map
                                   (required)                                 */
  int64_t total_rows;           /* hats_nrows                                */
  const char *ra_column;        /* hats_col_ra                               */
  const char *dec_column;       /* hats_col_dec                              */
  const char *default_columns;  /* hats_cols_default: names separated by
                                   spaces, commas or semicolons              */
  const char *healpix_column;   /* hats_col_healpix (e.g. "_healpix_29")     */
  int healpix_order;            /* hats_col_healpix_order (e.g. 29)          */
  const char *npix_suffix;      /* hats_npix_suffix (NULL: ".parquet")       */
  int skymap_order;             /* hats_skymap_order                         */
  const int *skymap_alt_orders; /* hats_skymap_alt_orders (sorted, unique)   */
  int n_skymap_alt_orders;
  int64_t max_rows;             /* hats_max_rows: hats-import writes its
                                   pixel_threshold here (default 1000000),
                                   also when thresholding by bytes            */
  int64_t estsize_kb;           /* hats_estsize; < 0: computed as hats does
                                   (size of catalog_dir / 1024, truncated,
                                   before the properties are written)        */
  double moc_sky_fraction;      /* rounded to 5 decimals as hats does        */
  const char *builder;          /* hats_builder (NULL: "skytile vX.Y.Z")     */
  const char *creation_date;    /* hats_creation_date (NULL: now, UTC, as
                                   "%Y-%m-%dT%H:%MUTC")                      */
  const char *cols_sort;        /* hats_cols_sort                            */
  int hats_order;               /* hats_order: highest partition order       */
  const char *const *extra_keys;   /* additional properties, written after */
  const char *const *extra_values; /* hats' provenance keys, in this order */
  int n_extra;                     /* (addl_hats_properties)               */
} st_import_props;

/* Set every field to "omitted" (NULL, -1, NaN). */
ST_API void st_import_props_init(st_import_props *p);

/*
** Write <catalog_dir>/hats.properties and <catalog_dir>/properties (the
** same text) as hats-import does: "#HATS catalog", then key=value lines
** in hats' order (TableProperties fields first, then provenance and other
** keys), escaped as jproperties escapes them (keys fully, values only line
** breaks and a leading space), UTF-8.
*/
ST_API int st_import_write_properties(const char *catalog_dir, const st_import_props *p,
                                      struct st_error *err);


/* ---- The import pipeline (src/import/pipeline.c) ------------------------- */

/* Progress of a stage: `stage` is "Mapping", "Binning", "Splitting",
** "Reducing" or "Finishing"; done of total units (files, partitions, steps). */
typedef void (*st_import_progress_fn)(void *ctx, const char *stage, int64_t done, int64_t total);
/* A failed input file (called once per file, from any worker thread, under
** a lock). */
typedef void (*st_import_file_error_fn)(void *ctx, const char *path, const struct st_error *e);

/* Options of st_import_run; st_import_options_init sets the defaults. */
typedef struct st_import_options {
  size_t struct_size;            /* sizeof(st_import_options)                 */
  const char *const *inputs;     /* input files (already expanded)           */
  int n_inputs;
  const char *output;            /* catalog directory to create              */
  const char *name;              /* obs_collection (NULL: basename of output) */
  const char *format;            /* csv, tsv, fits, parquet or auto (NULL)   */
  const char *ra_column;         /* default "ra"                              */
  const char *dec_column;        /* default "dec"                             */
  const char *catalog_type;      /* default "object"                          */
  int highest_order;             /* default 10                                */
  int lowest_order;              /* default 0                                 */
  int constant_order;            /* default -1 (off)                          */
  int64_t pixel_threshold;       /* default 1000000                           */
  bool drop_empty_siblings;      /* default true                              */
  const char *sort_columns;      /* comma-separated, or NULL                  */
  int64_t row_group_rows;        /* rows per leaf row group; 0 = one group    */
  int compression;               /* ST_PQ_CODEC_* of leaves (default ZSTD)    */
  int compression_level;         /* default 15                                */
  int threads;                   /* 0 = number of cores                       */
  const char *tmp_dir;           /* state/intermediates (NULL: OUTPUT.skytile-state) */
  bool overwrite;                /* replace an existing output, and discard
                                    the state of an unfinished run           */
  bool resume;                   /* reuse the state of an interrupted run     */
  st_import_progress_fn progress;   /* may be NULL                            */
  st_import_file_error_fn file_error; /* may be NULL                          */
  void *ctx;                     /* passed to the callbacks                   */
  const struct st_input_options *input; /* reader options (CSV settings,
                                    column_names, columns/drop_columns,
                                    schema, filename_regex/column, FITS HDU);
                                    NULL = defaults.  `format` above wins.   */
  int64_t byte_threshold;        /* > 0: partition by estimated in-memory
                                    bytes instead of rows (hats-import's
                                    byte_pixel_threshold, see map.c)          */
  const int *existing_orders;    /* incremental import: partitions (order,   */
  const int64_t *existing_pixels; /* pixel) of an existing catalog that must */
  int64_t n_existing;            /* be kept (hats existing_pixels); 0 = off  */
  const int *skymap_alt_orders;  /* also write skymap.K.fits for these K     */
  int n_skymap_alt_orders;       /* (each < the histogram order)             */
  int row_group_subtile_delta;   /* >= 0: one row group per non-empty pixel
                                    of order (partition order + delta), as
                                    hats' subtile_order_delta; -1 = off (the
                                    default); exclusive with row_group_rows  */
  bool use_healpix_29;           /* position rows by the input's `_healpix_29`
                                    column (int64, order 29 nested) instead
                                    of ra/dec, as hats-import's
                                    use_healpix_29 (see pipeline.c)           */
  int64_t memory_limit;          /* bytes the run may use for rows in memory
                                    (split buffers, reduce sorts); 0 = a
                                    quarter of the physical memory           */
  volatile int *cancel;          /* optional: when *cancel becomes non-zero
                                    (e.g. from a SIGINT handler) the run
                                    stops within about a second with
                                    ST_ERR_INTERRUPTED, keeping its state for
                                    a `resume`                                */
} st_import_options;

ST_API void st_import_options_init(st_import_options *o);

/*
** Import the input files into a new HATS catalog at o->output, as
** hats-import's catalog pipeline does (map, bin, split, reduce, finish).
** Memory for rows in flight stays within o->memory_limit (partitions that
** do not fit are sorted externally, spilling sorted runs to the state
** directory); see src/import/pipeline.c for what the limit does not count.
** The catalog is built in "OUTPUT.tmp-skytile" and renamed into place at
** the end.  Failed input files are reported through o->file_error and the
** run fails (ST_ERR_CORRUPT, message listing them) after the stage that
** found them: mapping (ra/dec unreadable) or splitting (another column
** damaged: such a file gets a failure record in the state, so a run with
** `resume` maps it again, and it may then be left out of the inputs); the
** state directory keeps the histograms of the good files, so a run with
** `resume` does not read them again.  A run stopped through o->cancel
** returns ST_ERR_INTERRUPTED ("interrupted; run the same command with
** --resume to continue") and keeps the state and the leaves written, like
** a run that was killed.  Without `resume`, the state of an unfinished run
** is an error (ST_ERR_INVALID naming --resume and --overwrite) unless
** `overwrite`; with `resume`, other partitioning/format options or another
** input set than the unfinished run's are an error (inputs without a saved
** histogram, e.g. failed ones, may be left out; changed files are mapped
** again).  Missing parent directories of OUTPUT and tmp_dir are created.
*/
ST_API int st_import_run(const st_import_options *o, struct st_error *err);

#ifdef __cplusplus
}
#endif

#endif
