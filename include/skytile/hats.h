/*
** skytile/hats.h — opening HEALPix-partitioned catalogs, and verifying HATS
** catalogs against their metadata.
**
** One call, st_catalog_open, opens any of these (detected in this order):
**
**   collection   a directory with `collection.properties`; the primary
**                catalog (hats_primary_table_url) is opened and the
**                collection's properties are kept beside its own
**                (st_catalog_collection_property; default margin:
**                "default_margin").
**   HATS v1.0    a directory with `hats.properties` (else `properties`) and
**                leaves dataset/Norder=K/Dir=D/Npix=P<hats_npix_suffix>
**                (".parquet" by default; ".parq" etc.; "/" makes each leaf a
**                directory of Parquet files).  Pixels come from
**                partition_info.csv, else from _metadata's file paths, else
**                from the directory names.
**   hipscat      the legacy layout: `catalog_info.json` whose keys are mapped
**                to their HATS names (catalog_name -> obs_collection,
**                catalog_type -> dataproduct_type, total_rows -> hats_nrows,
**                ...), leaves Norder=K/Dir=D/Npix=P.parquet at the top level,
**                file paths in _metadata with a leading "/".
**   hive         a directory tree with partitions healpix_k<N>=<pixel>
**                (e.g. healpix_k0=A/healpix_k5=B/part-0.parquet, as IRSA
**                publishes them); the deepest level gives each file's
**                (order, pixel); several such trees below the path are
**                unioned (files of the same pixel are one partition).
**   parquet      a single Parquet file, or a directory of them (recursive):
**                one partition of order -1 holding every file (full scan).
** Anything else fails with ST_ERR_NOTFOUND ("X: not a HATS catalog, hipscat
** catalog, hive HEALPix dataset or Parquet file/directory").
**
** Paths from metadata (partition_info.csv, _metadata file_path, collection
** urls) must be relative and may not contain "..": otherwise open fails with
** ST_ERR_CORRUPT naming the path.
**
** Partitions are sorted by (order, pixel).  Each partition has one or more
** leaf files (st_catalog_file).  Row counts come from _metadata when it lists
** the file (no file is opened), else they are -1 until st_catalog_load_rows
** reads the files' footers.  The schema is that of _common_metadata, else
** _metadata, else the first leaf file.  The _metadata readers stay open:
** each file tells which one lists it and the range of its row groups there
** (st_catalog_file.md), so searches can prune on row-group statistics
** without opening leaf files.  Hive trees may have one _metadata per
** dataset (the directory above its healpix_k levels).
**
** A catalog handle is read-only after open (and after st_catalog_load_rows),
** and may then be used by several threads.
*/
#ifndef SKYTILE_HATS_H
#define SKYTILE_HATS_H

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
struct st_field;
typedef struct st_pq_reader st_pq_reader;

typedef enum st_catalog_kind {
  ST_CATALOG_HATS = 0,     /* HATS v1.0 (also the primary of a collection)   */
  ST_CATALOG_HIPSCAT,      /* legacy hipscat                                 */
  ST_CATALOG_HIVE,         /* healpix_kN=... hive dataset                    */
  ST_CATALOG_PARQUET       /* plain Parquet file or directory                */
} st_catalog_kind;

typedef struct st_catalog st_catalog;

typedef struct st_catalog_options {
  size_t struct_size;      /* sizeof(st_catalog_options)                     */
  bool allow_parent_paths; /* accept ".." in collection urls (default false) */
} st_catalog_options;

ST_API void st_catalog_options_init(st_catalog_options *o);

/* Open a catalog (see above).  opts may be NULL.  Close with st_catalog_close. */
ST_API int st_catalog_open(const char *path, const st_catalog_options *opts, st_catalog **out,
                           struct st_error *err);
ST_API void st_catalog_close(st_catalog *c);   /* NULL-safe */

ST_API st_catalog_kind st_catalog_get_kind(const st_catalog *c);
/* "hats", "hipscat", "hive", "parquet". */
ST_API const char *st_catalog_kind_name(st_catalog_kind k);
/* dataproduct_type ("object", "source", "margin", "index", "association",
   "map"); NULL for hive and parquet datasets. */
ST_API const char *st_catalog_type(const st_catalog *c);
/* The catalog's directory (or the file, for a single Parquet file). */
ST_API const char *st_catalog_path(const st_catalog *c);

/* Properties (HATS names; hipscat keys are mapped).  NULL when absent. */
ST_API const char *st_catalog_property(const st_catalog *c, const char *key);
ST_API int st_catalog_n_properties(const st_catalog *c);
ST_API const char *st_catalog_property_key(const st_catalog *c, int i);
ST_API const char *st_catalog_property_value(const st_catalog *c, int i);
/* Properties of the enclosing collection (NULL when not opened as a collection). */
ST_API const char *st_catalog_collection_property(const st_catalog *c, const char *key);
ST_API bool st_catalog_is_collection(const st_catalog *c);
/*
** Open a catalog of the collection c was opened from: `name` is a directory
** in the collection (a margin or index catalog, e.g. from "all_margins"), or
** NULL for the collection's default margin ("default_margin").  Fails with
** ST_ERR_INVALID when c is not a collection, ST_ERR_NOTFOUND when name is
** NULL and there is no default margin, ST_ERR_CORRUPT when name is not a
** plain relative path.
*/
ST_API int st_catalog_open_subcatalog(const st_catalog *c, const char *name, const st_catalog_options *opts,
                                      st_catalog **out, struct st_error *err);

/* ---- partitions and files ------------------------------------------------ */
typedef struct st_partition {
  int order;               /* HEALPix order; -1 for an unpartitioned dataset */
  int64_t pixel;           /* nested pixel index at `order`; -1 likewise     */
  int first_file;          /* index of its first file (st_catalog_file)      */
  int n_files;             /* number of leaf files                           */
  int64_t rows;            /* total rows, -1 when not known yet              */
} st_partition;

typedef struct st_catalog_file {
  const char *path;        /* path to open (catalog path joined with rel)    */
  const char *rel;         /* path relative to the data root                 */
  int partition;           /* index of its partition                         */
  int64_t rows;            /* -1 when not known yet                          */
  const st_pq_reader *md;  /* the _metadata listing it (NULL: none, or its   */
                           /* row groups are not contiguous there)           */
  int md_first_rg;         /* its row groups in md: [first, first+n)         */
  int md_n_rg;             /* (n = 0 when md is NULL)                        */
} st_catalog_file;

ST_API int st_catalog_n_partitions(const st_catalog *c);
/* Partition i (0 <= i < n); ST_ERR_INVALID when out of range. */
ST_API int st_catalog_partition(const st_catalog *c, int i, st_partition *out,
                                struct st_error *err);
ST_API int st_catalog_n_files(const st_catalog *c);
ST_API int st_catalog_file_info(const st_catalog *c, int i, st_catalog_file *out,
                                struct st_error *err);
/* Fill unknown row counts by reading the footers of the files concerned. */
ST_API int st_catalog_load_rows(st_catalog *c, struct st_error *err);
/* Sum of the partitions' rows (-1 when some are unknown). */
ST_API int64_t st_catalog_num_rows(const st_catalog *c);

/* The dataset schema (a STRUCT whose children are the columns). */
ST_API const struct st_field *st_catalog_schema(const st_catalog *c);
/* The open _metadata reader, or NULL when the catalog has none. */
ST_API const st_pq_reader *st_catalog_metadata(const st_catalog *c);
/* Fraction of the sky covered by the partitions (0 for unpartitioned data). */
ST_API double st_catalog_sky_fraction(const st_catalog *c);
/* Total bytes of the regular files below the catalog path. */
ST_API int st_catalog_disk_bytes(const st_catalog *c, uint64_t *out, struct st_error *err);

/* ---- verification ---------------------------------------------------------- */
/*
** Verify a HATS (or hipscat) catalog the way hats-import's verifier does:
**   "valid hats"   properties parse (obs_collection, dataproduct_type known),
**                  _common_metadata exists; for HEALPix types partition_info.csv
**                  exists and its pixels equal those of _metadata's file paths
**                  and those of the leaf paths on disk;
**   "file sets"    files listed in _metadata == data files on disk;
**   "num rows"     sum of footer rows == hats_nrows; per file, footer rows ==
**                  _metadata rows;
**   "schema"       _metadata's and every footer's schema equal
**                  _common_metadata's (names, types, nullability; key/value
**                  metadata ignored).
** Problems found are results, not errors: the function fails only when the
** path cannot be examined at all.  Free the report with st_verify_free.
*/
typedef struct st_verify_result {
  const char *test;        /* "valid hats", "file sets", "num rows", "schema" */
  const char *target;      /* e.g. "file footers vs _metadata"               */
  bool passed;
  const char *description; /* what was compared, with numbers / problems    */
  int n_bad;               /* files that caused the failure                  */
  const char *const *bad;  /* their paths, relative to the data root         */
} st_verify_result;

typedef struct st_verify_report st_verify_report;
ST_API int st_catalog_verify(const char *path, st_verify_report **out, struct st_error *err);
ST_API int st_verify_n_results(const st_verify_report *r);
ST_API const st_verify_result *st_verify_get(const st_verify_report *r, int i);
ST_API bool st_verify_passed(const st_verify_report *r);
ST_API void st_verify_free(st_verify_report *r);   /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
