/*
** This file implements the splitting stage of the import pipeline: every
** input file is read again, each row gets its `_healpix_29` index and its
** destination partition (bin.dest at the mapping order), and rows are
** appended to spill files grouped by partition.
**
** Batches: the input reader's batches (batch_rows set from the memory
** budget, see pipeline.c) are gathered by each worker, across the input
** files it reads, up to SPLIT_ROWS rows and the smaller of SPLIT_BYTES and
** c->split_bytes before they are distributed (and once more when the
** worker has no file left), so the spill row groups number
** O(data / budget x buckets), not O(files x buckets).
**
** Spill format: one Parquet file per worker thread,
** STATE/split/spill-W.parquet, written with our writer (LZ4_RAW, no
** dictionary, no statistics).  Its columns are `_healpix_29` (int64) then
** the input columns.  Each input batch is sorted by destination partition
** (counting sort, stable); with --use-healpix-29 the spill columns are the
** input's (their `_healpix_29` is kept where it is).  The slice of each bucket (consecutive
** partitions holding together at most the threshold, see pipeline.c)
** becomes one row group, so the number of row groups is at most batches x
** buckets.  The index (st_imp_run: partition, spill file, row group, offset
** and rows within it, input file, flush number; one run per partition and
** input file of a gathered batch) is kept in memory in
** c->runs and saved as STATE/split/index.bin when the stage is done; the reduce stage reads a partition's runs ordered by (input
** file, batch), so the result does not depend on the thread count.  The
** number of intermediate files is the number of threads.  Cancellation is
** polled per input batch; an interrupted split leaves no index, so a
** resumed run splits again (the spill files are rewritten).
**
** Fewer files than threads (e.g. one big CSV): the workers pair up.  In
** pair k, one worker reads (parses) the files and queues their batches
** (at most PIPE_DEPTH waiting), the other gathers and distributes them
** (ang2pix, sort, spill writing) with the pair's split_worker state (spill
** file spill-k), so parsing and distributing overlap.  Batches are
** distributed in the order they were read (one state, a FIFO queue, and
** whoever distributes holds `consume`), so the runs and the result are
** those of a single worker.  A reader that finds the queue full and
** `consume` free distributes a batch itself (a pair also completes when
** its two workers run one after the other).
**
** Failed inputs: the mapping stage reads ra/dec only, so a file damaged in
** another column (a corrupt page, a CSV value that does not parse as the
** column's type) fails here.  An error of an input's reader (opening it or
** reading a batch) other than out of memory or an interruption is the
** file's: it is reported (st_imp_file_failed: path + reason, marked in
** c->failed) and the stage goes on.  The run cannot succeed any more, and
** a resumed run splits again (the fixed file, or its absence, changes the
** histogram), so from then on (c->split_discard) the workers only read the
** remaining inputs, to report every bad file in one run, and distribute
** nothing: gathered batches are dropped, no more spill row groups are
** written.  pipeline.c then writes a tombstone per failed file (state.c),
** saves no split index and fails listing them.  Errors of the spill
** writing, the row distribution or memory stop the stage as before.
*/
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

#include "import/pipeline.h"
#include "util/mem.h"
#include "skytile/healpix.h"
#include "skytile/parquet.h"

#define PIPE_DEPTH 2

typedef struct split_pipe split_pipe;

typedef struct split_job {
  int next;          /* next file (atomic)                        */
  int npairs;        /* reader/distributor pairs (0: no pairing)  */
  split_pipe *pipes; /* npairs                                    */
} split_job;

typedef struct split_worker {
  st_pq_writer *w;       /* spill file writer (opened at the first row)   */
  st_field spill_schema; /* _healpix_29 + input columns                   */
  int32_t row_groups;    /* row groups written                             */
  int64_t *cnt, *pos;    /* per partition, per batch                       */
  st_imp_run *runs;      /* runs of this worker                            */
  int64_t nruns, cap;
  st_table **acc;        /* gathered input batches (across input files)   */
  int64_t nacc, acc_cap; /* entries, capacity                              */
  int32_t *seg_file;     /* the gathered rows by input file: seg_rows[i]   */
  int64_t *seg_rows;     /* rows of file seg_file[i], in order             */
  int64_t nseg, seg_cap;
  int64_t acc_rows, acc_bytes;
  int64_t flushes;       /* flushes done (the runs' batch number)          */
} split_worker;

static int add_run(split_worker *sw, const st_imp_run *r, st_error *err) {
  if (sw->nruns == sw->cap) {
    int64_t nc = sw->cap ? 2 * sw->cap : 256;
    st_imp_run *p = realloc(sw->runs, (size_t)nc * sizeof *p);
    if (!p) return st_fail(err, ST_ERR_NOMEM, "split: out of memory");
    sw->runs = p, sw->cap = nc;
  }
  sw->runs[sw->nruns++] = *r;
  return 0;
}

static int split_batch(st_imp_ctx *c, int worker, split_worker *sw, const int32_t *rowfile,
                       int64_t batch, st_table *t, st_error *err) {
  int64_t n = t->n_rows, np = c->bin.nparts;
  int shift = 2 * (29 - c->bin.mapping_order);
  double *ra = malloc((size_t)n * 8), *dec = malloc((size_t)n * 8);
  int64_t *h = malloc((size_t)n * 8), *perm = malloc((size_t)n * 8), *hs = malloc((size_t)n * 8);
  int32_t *part = malloc((size_t)n * 4);
  st_table *taken = NULL, *comb = NULL;
  st_array *harr = NULL;
  st_builder *b = NULL;
  int rc = 0;
  if (!ra || !dec || !h || !perm || !hs || !part) {
    rc = st_fail(err, ST_ERR_NOMEM, "split: out of memory for %lld rows", (long long)n);
    goto done;
  }
  rc = st_imp_pixels(c, t, 29, ra, dec, h, err);
  if (rc) goto done;
  for (int64_t i = 0; i < n; i++) {
    int64_t d = c->bin.dest[h[i] >> shift];
    if (d < 0 || d >= np) {
      rc = st_fail(err, ST_ERR_INVALID,
                   "%s: a row falls in pixel %lld of order %d, which the mapping stage did not "
                   "count (did the file change?)",
                   c->o->inputs[rowfile[i]], (long long)(h[i] >> shift), c->bin.mapping_order);
      goto done;
    }
    part[i] = (int32_t)d;
  }
  for (int64_t i = 0; i < n; i++) sw->cnt[part[i]]++;
  int64_t off = 0;
  for (int64_t p = 0; p < np; p++) sw->pos[p] = off, off += sw->cnt[p];
  for (int64_t i = 0; i < n; i++) perm[sw->pos[part[i]]++] = i;
  for (int64_t i = 0; i < n; i++) hs[i] = h[perm[i]];
  rc = st_table_take(t, perm, n, &taken, err);
  if (rc) goto done;
  if (c->use_h29) { /* the input holds _healpix_29 already */
    comb = taken, taken = NULL;
    goto write;
  }
  st_field hf = sw->spill_schema.children[0];
  rc = st_builder_new(&hf, &b, err);
  if (!rc) rc = st_builder_append_values(b, hs, n, NULL, err);
  if (!rc) rc = st_builder_finish(b, &harr, err);
  if (rc) goto done;
  {
    int nc = taken->n_columns + 1;
    st_array **cols = calloc((size_t)nc, sizeof *cols);
    if (!cols) {
      rc = st_fail(err, ST_ERR_NOMEM, "split: out of memory");
      goto done;
    }
    cols[0] = harr;
    harr = NULL;
    for (int i = 1; i < nc; i++) cols[i] = taken->columns[i - 1], taken->columns[i - 1] = NULL;
    rc = st_table_new(sw->spill_schema.children, cols, nc, n, NULL, &comb, err);
    free(cols);
    if (rc) goto done;
  }
write:
  if (!sw->w) {
    char path[4096];
    snprintf(path, sizeof path, "%s/split/spill-%d.parquet", c->state_dir, worker);
    st_pq_write_options wo;
    st_pq_write_options_init(&wo);
    wo.compression = ST_PQ_CODEC_LZ4_RAW;
    wo.dictionary = false;
    wo.statistics = false;
    wo.arrow_schema = true;
    wo.row_group_rows = (int64_t)1 << 40;
    rc = st_pq_writer_open(path, &sw->spill_schema, &wo, &sw->w, err);
    if (rc) goto done;
  }
  /* one row group per bucket present in the batch; one run per (partition,
  ** input file): the sort is stable, so a partition's rows are grouped by
  ** file in gathering order */
  off = 0;
  for (int64_t bk = 0; bk < c->nbuckets && !rc; bk++) {
    int64_t pa = c->bucket_first[bk], pb = c->bucket_first[bk + 1], k = 0;
    for (int64_t p = pa; p < pb; p++) k += sw->cnt[p];
    if (!k) continue;
    st_table *sl = NULL;
    rc = st_table_slice(comb, off, k, &sl, err);
    if (!rc) rc = st_pq_writer_write(sw->w, sl, err);
    if (!rc) rc = st_pq_writer_flush(sw->w, err);
    st_table_free(sl);
    if (rc) break;
    int64_t in = 0;
    for (int64_t p = pa; p < pb && !rc; p++) {
      int64_t e = in + sw->cnt[p];
      while (in < e && !rc) {
        int32_t f = rowfile[perm[off + in]];
        int64_t q = in + 1;
        while (q < e && rowfile[perm[off + q]] == f) q++;
        st_imp_run r = {.part = p, .spill = worker, .row_group = sw->row_groups, .file = f,
                        .batch = batch, .offset = in, .rows = q - in};
        rc = add_run(sw, &r, err);
        in = q;
      }
    }
    sw->row_groups++;
    off += k;
  }
done:
  if (sw->cnt) memset(sw->cnt, 0, (size_t)np * 8);
  free(ra), free(dec), free(h), free(perm), free(hs), free(part);
  st_builder_free(b);
  st_array_free(harr);
  st_table_free(taken);
  st_table_free(comb);
  return rc;
}

/* Batches are gathered, across input files, up to SPLIT_ROWS rows / the
** smaller of SPLIT_BYTES and c->split_bytes bytes before they are
** distributed, so that the spill row groups are large and their number is
** O(data / budget + buckets) whatever the number of input files (many tiny
** inputs would otherwise make millions of row groups, whose metadata the
** spill writer keeps until its footer). */
#define SPLIT_ROWS ((int64_t)1 << 20)
#define SPLIT_BYTES ((int64_t)256 << 20)

static void acc_clear(split_worker *sw) {
  for (int64_t i = 0; i < sw->nacc; i++) st_table_free(sw->acc[i]);
  sw->nacc = 0, sw->acc_rows = 0, sw->acc_bytes = 0, sw->nseg = 0;
}

/* Distribute the gathered batches (if any) into the spill file. */
static int split_flush(st_imp_ctx *c, int worker, split_worker *sw, st_error *err) {
  if (!sw->nacc) return 0;
  st_table *all = NULL;
  int32_t *rowfile = NULL;
  int rc = 0;
  if (sw->nacc == 1) all = sw->acc[0], sw->acc[0] = NULL;
  else rc = st_table_concat(sw->acc, (int)sw->nacc, &all, err);
  if (!rc) {
    rowfile = malloc((size_t)(all->n_rows ? all->n_rows : 1) * sizeof *rowfile);
    if (!rowfile) rc = st_fail(err, ST_ERR_NOMEM, "split: out of memory");
  }
  if (!rc) {
    int64_t k = 0;
    for (int64_t i = 0; i < sw->nseg && k < all->n_rows; i++)
      for (int64_t r = 0; r < sw->seg_rows[i] && k < all->n_rows; r++) rowfile[k++] = sw->seg_file[i];
    if (k != all->n_rows) rc = st_fail(err, ST_ERR_INVALID, "split: gathered rows mismatch");
  }
  acc_clear(sw);
  if (!rc && all->n_rows) rc = split_batch(c, worker, sw, rowfile, sw->flushes++, all, err);
  st_table_free(all);
  free(rowfile);
  return rc;
}

/* Gathered tables are concatenated into one every ACC_COMPACT tables: tiny
** inputs (a few rows each) would otherwise keep one table, with its
** per-column buffers, per input file. */
#define ACC_COMPACT 256

static int acc_push(split_worker *sw, st_table *t, int f, st_error *err) {
  int rc = 0;
  if (sw->nseg && sw->seg_file[sw->nseg - 1] == f) {
    sw->seg_rows[sw->nseg - 1] += t->n_rows;
  } else {
    if (sw->nseg == sw->seg_cap) {
      int64_t nc = sw->seg_cap ? 2 * sw->seg_cap : 256;
      int32_t *fa = realloc(sw->seg_file, (size_t)nc * sizeof *fa);
      if (fa) sw->seg_file = fa;
      int64_t *ra = fa ? realloc(sw->seg_rows, (size_t)nc * sizeof *ra) : NULL;
      if (ra) sw->seg_rows = ra, sw->seg_cap = nc;
      if (!fa || !ra) return st_table_free(t), st_fail(err, ST_ERR_NOMEM, "split: out of memory");
    }
    sw->seg_file[sw->nseg] = f, sw->seg_rows[sw->nseg] = t->n_rows, sw->nseg++;
  }
  if (sw->nacc == ACC_COMPACT) {
    st_table *all = NULL;
    rc = st_table_concat(sw->acc, (int)sw->nacc, &all, err);
    if (rc) return st_table_free(t), rc;
    for (int64_t i = 0; i < sw->nacc; i++) st_table_free(sw->acc[i]);
    sw->acc[0] = all, sw->nacc = 1;
  }
  if (sw->nacc == sw->acc_cap) {
    int64_t nc = sw->acc_cap ? 2 * sw->acc_cap : 64;
    st_table **a = realloc(sw->acc, (size_t)nc * sizeof *a);
    if (!a) return st_table_free(t), st_fail(err, ST_ERR_NOMEM, "split: out of memory");
    sw->acc = a, sw->acc_cap = nc;
  }
  sw->acc[sw->nacc++] = t;
  sw->acc_rows += t->n_rows;
  sw->acc_bytes += st_imp_table_bytes(t);
  return 0;
}

/* Has an input failed (the split now only checks the inputs)? */
static inline bool discarding(const st_imp_ctx *c) {
  return __atomic_load_n(&c->split_discard, __ATOMIC_RELAXED);
}

/* A reader's error on an input file that is the file's fault: the file
** failed, the stage goes on (not out of memory, not an interruption). */
static bool input_failure(int rc) {
  return rc && rc != ST_ERR_NOMEM && rc != ST_ERR_INTERRUPTED;
}

/* Prefix e's message with input f's path unless it starts with it. */
static void name_file(const st_imp_ctx *c, int f, st_error *e) {
  const char *path = c->o->inputs[f];
  size_t l = strlen(path);
  if (strncmp(e->msg, path, l) || e->msg[l] != ':') st_error_prefix(e, "%s: ", path);
}

/* Report input f as failed (its reader's error e): from now on the split
** only checks the inputs. */
static void file_failed(st_imp_ctx *c, int f, st_error *e) {
  name_file(c, f, e);
  __atomic_store_n(&c->split_discard, 1, __ATOMIC_RELAXED);
  st_imp_file_failed(c, f, e);
}

/* Split input f.  *failed: the error is the file's (input_failure, from
** its reader; the caller reports it), not the spill's or the run's. */
static int split_file(st_imp_ctx *c, int worker, split_worker *sw, int f, bool *failed,
                      st_error *err) {
  st_input *in = NULL;
  int rc = 0;
  bool flush_err = false;
  *failed = false;
  if ((rc = st_input_open(c->o->inputs[f], &c->in_opt, &in, err))) {
    *failed = input_failure(rc);
    return rc;
  }
  int64_t maxb = c->split_bytes < SPLIT_BYTES ? c->split_bytes : SPLIT_BYTES;
  for (;;) {
    st_table *t = NULL;
    if ((rc = st_imp_check_cancel(c, err))) break;
    rc = st_input_next(in, &t, err);
    if (rc || !t) break;
    if (!t->n_rows || discarding(c)) { /* after a failure: only checked */
      st_table_free(t);
      acc_clear(sw);
      continue;
    }
    if ((rc = acc_push(sw, t, f, err))) {
      flush_err = true;
      break;
    }
    /* one bucket: no gain in gathering beyond one reader batch */
    bool full = c->nbuckets <= 1 && sw->acc_rows >= c->in_opt.batch_rows;
    if (full || sw->acc_rows >= SPLIT_ROWS || sw->acc_bytes >= maxb) {
      rc = split_flush(c, worker, sw, err);
      if (rc) flush_err = true; /* not the reader's: its messages name the file */
      if (rc) break;
    }
  }
  if (rc && rc != ST_ERR_INTERRUPTED && !flush_err) name_file(c, f, err);
  *failed = !flush_err && input_failure(rc);
  st_input_close(in);
  return rc;
}

/* Empty state of a distributing worker (its spill schema: _healpix_29 +
** the input columns). */
static int sw_init(st_imp_ctx *c, split_worker *sw, st_error *err) {
  memset(sw, 0, sizeof *sw);
  sw->cnt = calloc((size_t)(c->bin.nparts ? c->bin.nparts : 1), 8);
  sw->pos = calloc((size_t)(c->bin.nparts ? c->bin.nparts : 1), 8);
  int rc = 0;
  if (!sw->cnt || !sw->pos) rc = st_fail(err, ST_ERR_NOMEM, "split: out of memory");
  if (!rc) rc = st_field_init(&sw->spill_schema, "schema", ST_T_STRUCT, false);
  if (!rc && !c->use_h29) {
    st_field hf;
    rc = st_field_init(&hf, "_healpix_29", ST_T_INT64, true);
    if (!rc) rc = st_field_add_child(&sw->spill_schema, &hf);
    st_field_clear(&hf);
  }
  for (int i = 0; !rc && i < c->schema.n_children; i++)
    rc = st_field_add_child(&sw->spill_schema, &c->schema.children[i]);
  return rc;
}

/* Unless rc: flush what is gathered, close the spill file and add the runs
** to c->runs.  Frees the state; returns rc or the first new error. */
static int sw_finish(st_imp_ctx *c, int worker, split_worker *sw, int rc, st_error *err) {
  if (discarding(c)) acc_clear(sw); /* an input failed: nothing more to spill */
  if (!rc) rc = split_flush(c, worker, sw, err);
  acc_clear(sw);
  free(sw->acc), free(sw->seg_file), free(sw->seg_rows);
  if (sw->w) {
    if (rc) st_pq_writer_abort(sw->w);
    else rc = st_pq_writer_close(sw->w, err);
  }
  if (!rc && sw->nruns) {
    pthread_mutex_lock(&c->lock);
    if (c->nruns + sw->nruns > c->runs_cap) {
      int64_t nc = c->nruns + sw->nruns;
      st_imp_run *p = realloc(c->runs, (size_t)nc * sizeof *p);
      if (!p) rc = st_fail(err, ST_ERR_NOMEM, "split: out of memory");
      else c->runs = p, c->runs_cap = nc;
    }
    if (!rc) {
      memcpy(c->runs + c->nruns, sw->runs, (size_t)sw->nruns * sizeof *sw->runs);
      c->nruns += sw->nruns;
    }
    pthread_mutex_unlock(&c->lock);
  }
  free(sw->cnt), free(sw->pos), free(sw->runs);
  st_field_clear(&sw->spill_schema);
  memset(sw, 0, sizeof *sw);
  return rc;
}

/* ---- reader/distributor pairs --------------------------------------------- */

typedef struct pipe_item {
  st_table *t;
  int file;
} pipe_item;

struct split_pipe {
  pthread_mutex_t mu;          /* queue and flags                          */
  pthread_cond_t cv;           /* queue changed, or closed/failed          */
  pthread_mutex_t consume;     /* held while popping + distributing        */
  pipe_item q[PIPE_DEPTH];     /* FIFO ring                                */
  int head, n;
  bool closed;                 /* the reader is done                       */
  bool failed;                 /* a side failed: both stop                 */
  bool inited;
  split_worker sw;             /* the pair's distributing state            */
};

static int pipe_init(st_imp_ctx *c, split_pipe *p, st_error *err) {
  int rc = sw_init(c, &p->sw, err);
  pthread_mutex_init(&p->mu, NULL);
  pthread_mutex_init(&p->consume, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->inited = true;
  return rc;
}

static void pipe_free(split_pipe *p) {
  for (int i = 0; i < p->n; i++) st_table_free(p->q[(p->head + i) % PIPE_DEPTH].t);
  p->n = 0;
  if (p->inited) {
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->consume);
    pthread_cond_destroy(&p->cv);
  }
}

static void pipe_fail(split_pipe *p) {
  pthread_mutex_lock(&p->mu);
  p->failed = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* Pop and distribute one queued batch; the caller holds p->consume.  wait:
** block until a batch comes or the reader is done.  *got: a batch was
** distributed. */
static int pipe_consume_one(st_imp_ctx *c, int k, split_pipe *p, bool wait, bool *got,
                            st_error *err) {
  pthread_mutex_lock(&p->mu);
  while (wait && !p->n && !p->closed && !p->failed) pthread_cond_wait(&p->cv, &p->mu);
  *got = p->n > 0 && !p->failed;
  pipe_item it = {0};
  if (*got) {
    it = p->q[p->head];
    p->head = (p->head + 1) % PIPE_DEPTH, p->n--;
    pthread_cond_broadcast(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  if (!*got) return 0;
  split_worker *sw = &p->sw;
  if (discarding(c)) { /* an input failed: the others are only checked */
    st_table_free(it.t);
    acc_clear(sw);
    return 0;
  }
  ST_TRY(acc_push(sw, it.t, it.file, err));
  int64_t maxb = c->split_bytes < SPLIT_BYTES ? c->split_bytes : SPLIT_BYTES;
  bool full = c->nbuckets <= 1 && sw->acc_rows >= c->in_opt.batch_rows;
  if (full || sw->acc_rows >= SPLIT_ROWS || sw->acc_bytes >= maxb)
    return split_flush(c, k, sw, err);
  return 0;
}

/* Reader of pair k: parse the files taken from j->next, queue their batches. */
static int pipe_reader(st_imp_ctx *c, split_job *j, int k, st_error *err) {
  split_pipe *p = &j->pipes[k];
  int rc = 0;
  bool stop = false;   /* the distributing side failed */
  while (!rc && !stop) {
    int f = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (f >= c->o->n_inputs) break;
    st_input *in = NULL;
    bool opened = !(rc = st_input_open(c->o->inputs[f], &c->in_opt, &in, err));
    bool reader_err = !opened; /* rc is the reader's (not the distribution's) */
    while (!rc && !stop) {
      st_table *t = NULL;
      if ((rc = st_imp_check_cancel(c, err))) break;
      if ((rc = st_input_next(in, &t, err))) {
        if (rc != ST_ERR_INTERRUPTED) name_file(c, f, err);
        reader_err = true;
        break;
      }
      if (!t) break;
      if (!t->n_rows || discarding(c)) { /* after a failure: only checked */
        st_table_free(t);
        continue;
      }
      /* queue it; when full, distribute a batch here if the distributor is
      ** not at work, else wait for room */
      pthread_mutex_lock(&p->mu);
      while (p->n == PIPE_DEPTH && !p->failed) {
        if (pthread_mutex_trylock(&p->consume)) {
          pthread_cond_wait(&p->cv, &p->mu);
          continue;
        }
        pthread_mutex_unlock(&p->mu);
        bool got;
        rc = pipe_consume_one(c, k, p, false, &got, err);
        pthread_mutex_unlock(&p->consume);
        if (rc) pipe_fail(p);    /* its message is the reader's error */
        pthread_mutex_lock(&p->mu);
      }
      stop = p->failed;
      if (!stop) {
        p->q[(p->head + p->n) % PIPE_DEPTH] = (pipe_item){t, f};
        p->n++;
        t = NULL;
        pthread_cond_broadcast(&p->cv);
      }
      pthread_mutex_unlock(&p->mu);
      st_table_free(t);
    }
    if (opened) st_input_close(in);
    if (reader_err && input_failure(rc)) { /* the file's error: go on with the others */
      file_failed(c, f, err);
      st_error_clear(err);
      rc = 0;
    }
    if (!rc && !stop) st_imp_progress(c, "Splitting", 1, c->o->n_inputs);
  }
  pthread_mutex_lock(&p->mu);
  if (rc) p->failed = true;
  p->closed = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return rc;   /* 0 when the distributor failed: it reports its error */
}

/* Distributor of pair k: gather and split the queued batches in order. */
static int pipe_distributor(st_imp_ctx *c, split_job *j, int k, st_error *err) {
  split_pipe *p = &j->pipes[k];
  int rc = 0;
  pthread_mutex_lock(&p->consume);
  for (;;) {
    bool got;
    if ((rc = pipe_consume_one(c, k, p, true, &got, err)) || !got) break;
  }
  pthread_mutex_unlock(&p->consume);
  if (rc) pipe_fail(p);
  return rc;
}

static int split_worker_fn(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  split_job *j = arg;
  if (j->npairs) {
    if (worker < j->npairs) return pipe_reader(c, j, worker, err);
    if (worker < 2 * j->npairs) return pipe_distributor(c, j, worker - j->npairs, err);
    return 0;
  }
  split_worker sw;
  int rc = sw_init(c, &sw, err);
  while (!rc && !(rc = st_imp_check_cancel(c, err))) {
    int f = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (f >= c->o->n_inputs) break;
    bool failed;
    rc = split_file(c, worker, &sw, f, &failed, err);
    if (failed) { /* the file's error: go on with the others */
      file_failed(c, f, err);
      st_error_clear(err);
      rc = 0;
    }
    st_imp_progress(c, "Splitting", 1, c->o->n_inputs);
  }
  return sw_finish(c, worker, &sw, rc, err);
}

int st_imp_split(st_imp_ctx *c, st_error *err) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/split", c->state_dir);
  if (mkdir(dir, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  split_job j = {0};
  c->done = 0;
  int nf = c->o->n_inputs;
  if (nf >= 1 && nf < c->nthreads) {
    j.npairs = c->nthreads / 2 < nf ? c->nthreads / 2 : nf;
    j.pipes = calloc((size_t)j.npairs, sizeof *j.pipes);
    if (!j.pipes) return st_fail(err, ST_ERR_NOMEM, "split: out of memory");
  }
  int rc = 0, k = 0;
  while (k < j.npairs && !rc) rc = pipe_init(c, &j.pipes[k++], err);
  if (!rc) rc = st_imp_parallel(c, split_worker_fn, &j, err);
  /* each pair's last flush, spill file (pair k writes spill-k) and runs */
  for (int i = 0; i < k; i++) {
    split_pipe *p = &j.pipes[i];
    st_error e2;
    int r2 = sw_finish(c, i, &p->sw, rc ? rc : p->failed ? ST_ERR_INTERRUPTED : 0, rc ? &e2 : err);
    if (!rc) rc = r2;
    pipe_free(p);
  }
  free(j.pipes);
#ifdef __GLIBC__
  /* the batches were freed by other threads than the ones that allocated
  ** them (reader -> distributor): give their arenas' free pages back, or
  ** they stay in the peak RSS through the reduce stage */
  malloc_trim(0);
#endif
  return rc;
}
