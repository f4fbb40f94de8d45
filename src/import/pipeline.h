/*
** This file declares the internals of the import pipeline (st_import_run):
** the run context shared by the stages and one entry point per stage.
**
**   pipeline.c  options, thread pool, output directory handling, bin and
**               finish stages, orchestration
**   map.c       map stage: per-file row-count histograms at highest_order
**   state.c     the state directory: persisted per-file histograms
**   split.c     split stage: rows -> per-thread spill files (see split.c)
**   reduce.c    reduce stage: spill runs -> sorted leaf Parquet files
**
** Threads: stages run `nthreads` workers that take work units (input files
** or partitions) from an atomic counter; each worker owns its readers and
** writers; shared results are merged under `lock`.
*/
#ifndef ST_IMPORT_PIPELINE_H
#define ST_IMPORT_PIPELINE_H

#include <pthread.h>
#include <stdint.h>

#include "util/err.h"
#include "skytile/import.h"
#include "skytile/readers.h"
#include "skytile/table.h"

/* One run of rows of one partition in a spill file (one row group). */
/* One run of rows of one partition in a spill file: rows [offset,
** offset+rows) of one row group (a row group holds the rows of one batch
** for one bucket of consecutive partitions, ordered by partition). */
typedef struct st_imp_run {
  int64_t part;        /* partition index (into bin.parts)             */
  int32_t spill;       /* spill file (= worker thread) index           */
  int32_t row_group;   /* row group in that spill file                 */
  int32_t file;        /* input file index (orders runs in reduce)     */
  int32_t pad_;        /* zero                                         */
  int64_t batch;       /* batch number within that input file          */
  int64_t offset;      /* first row of the run in the row group        */
  int64_t rows;        /* rows in the run                              */
} st_imp_run;

typedef struct st_imp_ctx {
  const st_import_options *o;
  int nthreads;
  char *build_dir;          /* OUTPUT.tmp-skytile: the catalog being built */
  char *state_dir;          /* state + intermediates                        */
  st_input_options in_opt;  /* reader options (schema = `schema`)           */
  st_field schema;          /* unified input schema (STRUCT)                */
  int ra_idx, dec_idx;      /* columns of ra/dec in `schema`                */
  int *sort_cols;           /* --sort-columns as spill-schema indices (the  */
  int n_sort;               /* input column index + 1)                      */
  int64_t *hist;            /* 12*4^highest_order counts (map result)       */
  int64_t hist_npix;
  st_bin_result bin;        /* partitions + alignment                       */
  int32_t *bucket_of;       /* bucket of each partition: buckets are runs   */
  int64_t *bucket_first;    /* of consecutive partitions holding <= the     */
  int64_t nbuckets;         /* threshold rows (or one partition); bucket b  */
                            /* = partitions [bucket_first[b], [b+1])        */
  st_imp_run *runs;         /* split result                                 */
  int64_t nruns, runs_cap;
  bool reuse_leaves;        /* resume: keep leaves already written          */
  bool keep_build;          /* on failure keep build_dir (for a resume)     */
  pthread_mutex_t lock;
  char *failed;             /* per input file: 1 if it failed               */
  int nfailed;              /* input files that failed                      */
  char failed_list[512];    /* their names, for the final message          */
  int64_t done;             /* progress counter (under lock)                */
} st_imp_ctx;

/* Run fn(ctx, worker, arg) on nthreads threads; returns the first error. */
typedef int (*st_imp_worker_fn)(st_imp_ctx *c, int worker, void *arg, st_error *err);
int st_imp_parallel(st_imp_ctx *c, st_imp_worker_fn fn, void *arg, st_error *err);
/* Report progress (thread-safe): adds `inc` to c->done. */
void st_imp_progress(st_imp_ctx *c, const char *stage, int64_t inc, int64_t total);
/* Report a failed input file (thread-safe). */
void st_imp_file_failed(st_imp_ctx *c, int file, const st_error *e);

/* Extract ra/dec of batch t as doubles (n values); null -> error. */
int st_imp_coords(const st_table *t, int ra_idx, int dec_idx, double *ra, double *dec,
                  st_error *err);

/* Stable LSD radix sort of keys (all in [0, max_key]) carrying vals (may be
** NULL); tk/tv are scratch arrays of n entries (tv NULL when vals is). */
void st_imp_radix_sort(uint64_t *keys, int64_t *vals, int64_t n, uint64_t max_key, uint64_t *tk,
                       int64_t *tv);

/* The split index (runs) saved after the splitting stage; loaded only if
** it matches the binning `b` and refers to spill files < nspill. */
int st_imp_state_save_split(const char *state_dir, const st_bin_result *b, const st_imp_run *runs,
                            int64_t nruns, st_error *err);
int st_imp_state_load_split(const char *state_dir, const st_bin_result *b, int nspill,
                            st_imp_run **runs, int64_t *nruns, int *found, st_error *err);

/* True if --sort-columns can sort by a column of this type (reduce.c). */
bool st_imp_sortable(st_type_id t);

int st_imp_map(st_imp_ctx *c, st_error *err);
int st_imp_split(st_imp_ctx *c, st_error *err);
int st_imp_reduce(st_imp_ctx *c, st_error *err);

/* State: per-file sparse histograms "state/map/F.hist" (see state.c). */
int st_imp_state_save_hist(const char *state_dir, int file, const char *path, int order, const int64_t *pix,
                           const int64_t *cnt, int64_t n, st_error *err);
/* Load into hist (adds); *found = 0 if absent or unusable. */
int st_imp_state_load_hist(const char *state_dir, int file, const char *path, int order, int64_t *hist,
                           int64_t npix, int *found, st_error *err);

#endif
