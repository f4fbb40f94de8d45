/*
** This file declares the internals of the import pipeline (st_import_run):
** the run context shared by the stages and one entry point per stage.
**
**   pipeline.c  options, thread pool, output directory handling, bin and
**               finish stages, orchestration
**   map.c       map stage: per-file row-count histograms at highest_order
**   state.c     the state directory: input list, per-worker map logs,
**               split index
**   split.c     split stage: rows -> per-thread spill files (see split.c)
**   reduce.c    reduce stage: spill runs -> sorted leaf Parquet files
**               (in memory, or by external merge sort over the budget)
**
** Threads: stages run `nthreads` workers that take work units (input files
** or partitions) from an atomic counter; each worker owns its readers and
** writers; shared results are merged under `lock`.  A failing worker sets
** `stop`; workers poll st_imp_check_cancel (user cancel or `stop`) per
** batch / row group / partition and return ST_ERR_INTERRUPTED; the stage
** reports the first real error (an interruption only if nothing else).
**
** Failed input files: a file that cannot be read (a data error, not out of
** memory, an interruption or an error writing the intermediates) is
** reported through st_imp_file_failed (o->file_error), marked in `failed`,
** and the stage goes on with the other files, so one run lists every bad
** file; the run then fails with the list (pipeline.c).  The mapping stage
** reads ra/dec only; a file damaged elsewhere fails in the splitting stage,
** which then stops distributing rows (split_discard) but still reads every
** file, and records a tombstone per failed file in the map state.
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
  bool use_h29;             /* positions from the input's _healpix_29       */
  int h29_idx;              /* its column in `schema` (-1: none)            */
  int hcol;                 /* _healpix_29 in the spill/leaf schema         */
  int col_shift;            /* spill index of input column i is i+col_shift */
  int *sort_cols;           /* --sort-columns as spill-schema indices (the  */
  int n_sort;               /* input column index + 1)                      */
  int map_order;            /* histogram order: highest_order, or the       */
                            /* constant order (as hats-import)              */
  int64_t *hist;            /* 12*4^map_order counts (map result)           */
  int64_t *bytes_hist;      /* estimated bytes per pixel (byte threshold)   */
  int64_t mem_limit;        /* --memory-limit in bytes (resolved)           */
  int64_t sample_rows;      /* rows and bytes of the first batch of every   */
  int64_t sample_bytes;     /* file mapped (row size estimate, under lock)  */
  double row_bytes;         /* estimated in-memory bytes per row            */
  int64_t split_bytes;      /* bytes a split worker gathers before a flush  */
  int64_t mem_rows;         /* rows one worker may hold for a sort: budget  */
                            /* (mem_limit / threads) / (3 x row_bytes)      */
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
  char *mapped;             /* per input file: 1 if its histogram came from */
                            /* the state (resume)                           */
  int64_t *state_idx;       /* per input file: its index in inputs.lst      */
  int64_t *ver_size;        /* per input file: size and mtime (ns) of the   */
  int64_t *ver_mtime;       /* version whose histogram is used (its record; */
                            /* NULL: not kept)                              */
  int split_discard;        /* an input failed in splitting (atomic): the */
                            /* others are read (checked), not distributed   */
  int sample_files;         /* files sampled for the row size (map.c)       */
  int nfailed;              /* input files that failed                      */
  char failed_list[512];    /* their names, for the final message          */
  int64_t done;             /* progress counter (under lock)                */
  volatile int stop;        /* a worker failed: the others stop early       */
  pthread_t sky_thread;     /* writes the skymaps from splitting on         */
  bool sky_started;         /* (pipeline.c: sky_start / sky_join)           */
  int sky_rc;               /* its result and error                         */
  st_error sky_err;
  struct st_imp_pre **pre;  /* per input: its histogram made in the CSV     */
                            /* inference pass (map.c), or NULL              */
} st_imp_ctx;

/* ST_ERR_INTERRUPTED if the user asked to stop (o->cancel) or another
** worker failed (c->stop); polled in every loop that can take long. */
int st_imp_check_cancel(const st_imp_ctx *c, st_error *err);

/* Run fn(ctx, worker, arg) on nthreads threads; returns the first error. */
typedef int (*st_imp_worker_fn)(st_imp_ctx *c, int worker, void *arg, st_error *err);
int st_imp_parallel(st_imp_ctx *c, st_imp_worker_fn fn, void *arg, st_error *err);
/* Report progress (thread-safe): adds `inc` to c->done. */
void st_imp_progress(st_imp_ctx *c, const char *stage, int64_t inc, int64_t total);
/* Report a failed input file (thread-safe). */
void st_imp_file_failed(st_imp_ctx *c, int file, const st_error *e);

/* Bytes held by the top-level buffers of t's columns (an estimate). */
int64_t st_imp_table_bytes(const st_table *t);

/* Pixels at `order` of the rows of batch t: from ra/dec (ra, dec: scratch
** arrays of n_rows), or with use_h29 from the input's _healpix_29 (checked:
** not null, a valid order-29 pixel). */
int st_imp_pixels(const st_imp_ctx *c, const st_table *t, int order, double *ra, double *dec,
                  int64_t *out, st_error *err);
/* The same for a batch whose ra/dec (or _healpix_29) are the columns
** ra_idx/dec_idx (h29_idx) of t (e.g. a batch of those columns only). */
int st_imp_pixels_at(const st_imp_ctx *c, const st_table *t, int order, int ra_idx, int dec_idx,
                     int h29_idx, double *ra, double *dec, int64_t *out, st_error *err);

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

/* Types lost through a Parquet intermediate: the columns of t that are
** lists where the same-named column of `schema` (a STRUCT, e.g. c->schema)
** is a fixed-size list (TDIM FITS columns, fixed_size_list Parquet inputs)
** become fixed-size lists again (a list of another length: ST_ERR_SCHEMA),
** and strings/binaries where it is large_string/large_binary become those,
** in place.  Our reader returns such columns as lists and strings (it does
** not restore types from ARROW:schema), so every table
** read back from a spill or run file passes through this (reduce.c) before
** leaves are written. */
int st_imp_restore_fixed_lists(const st_field *schema, st_table *t, st_error *err);

/* True if --sort-columns can sort by a column of this type (reduce.c). */
bool st_imp_sortable(st_type_id t);

int st_imp_map(st_imp_ctx *c, st_error *err);
/* The histogram of a CSV input made in its inference pass (map.c): before
** st_input_infer_schema of input f, st_imp_pre_begin sets the reader's
** values_* options in *opt (when positions come from ra/dec and the file
** may be mapped so); after it, st_imp_pre_end(ok = inference succeeded)
** keeps the histogram in c->pre[f] if it is complete.  st_imp_map records
** a kept histogram instead of reading the file when the file is unchanged
** and ra/dec unified to int64 or double.  st_imp_pre_free: all of them. */
int st_imp_pre_begin(st_imp_ctx *c, int f, st_input_options *opt, st_error *err);
void st_imp_pre_end(st_imp_ctx *c, int f, bool ok);
void st_imp_pre_free(st_imp_ctx *c);
int st_imp_split(st_imp_ctx *c, st_error *err);
int st_imp_reduce(st_imp_ctx *c, st_error *err);

/* Map state (state.c).  st_imp_state_map_begin, once before mapping (with
** c->hist, c->bytes_hist and c->hist_npix set): on a new state (fresh) it
** writes STATE/inputs.lst and sets c->state_idx[i] = i; otherwise it matches
** the current inputs with the saved list (a clear error for a different
** input set), reads the map logs (cutting torn tails) and adds the saved
** histograms of unchanged files to c->hist, marking them in c->mapped.
** *same_inputs: the inputs are the saved list, in order, and none changed
** (a saved split index may then be reused). */
int st_imp_state_map_begin(st_imp_ctx *c, bool fresh, bool *same_inputs, st_error *err);
/* A map worker's append-only log (STATE/map/log-W.bin). */
typedef struct st_imp_maplog st_imp_maplog;
int st_imp_maplog_open(const st_imp_ctx *c, int worker, st_imp_maplog **out, st_error *err);
/* Append the sparse histogram of input `input` (index in inputs.lst: its
** c->state_idx): pixels ascending, counts, and bytes (NULL unless byte
** threshold mode); size and mtime_ns identify the file's version. */
int st_imp_maplog_add(st_imp_maplog *l, int64_t input, int64_t size, int64_t mtime_ns,
                      const int64_t *pix, const int64_t *cnt, const int64_t *bytes, int64_t n,
                      st_error *err);
/* Write out, fsync and close (NULL-safe); frees l even on error. */
int st_imp_maplog_close(st_imp_maplog *l, st_error *err);
/* Append a failure record (tombstone) to STATE/map/log-0.bin for every
** input with c->failed set (inputs that failed in splitting: their version
** c->ver_size/ver_mtime), fsynced: a resumed run maps them again (state.c). */
int st_imp_state_add_failures(st_imp_ctx *c, st_error *err);

/* Estimated in-memory bytes of each row of t (hats' get_mem_size_per_row
** model, see map.c), added to out[0..n_rows). */
void st_imp_row_bytes(const st_table *t, double *out);

#endif
