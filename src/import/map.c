/*
** This file implements the mapping stage of the import pipeline: each
** input file is read and its rows are counted per HEALPix pixel at the
** mapping order (highest_order, or the constant order), as hats-import's
** map_to_pixels does.  Only the ra/dec columns (or _healpix_29 with
** --use-healpix-29) are read (the readers then decode nothing else: Parquet
** and FITS read only those columns, CSV converts only those fields), except
** in byte threshold mode, which measures every row.  The row size
** estimate (pipeline.c) comes from the first batch of the first
** SAMPLE_FILES files mapped, read once more with all columns.
** With --byte-threshold the estimated in-memory bytes of the rows are summed
** per pixel too (st_imp_row_bytes: hats' size model, every column measured
** on every row; hats-import measures fixed-size and "consistent" string
** columns on the first chunk of the first file only, so byte sums may
** differ slightly).
**
** A worker keeps the histogram of the file it reads as a sparse list
** (pixels ascending, counts), merging each batch's sorted pixels into it,
** so memory is O(batch + non-empty pixels of the file).  When the file is
** done its list is appended to the worker's log in the state directory
** (state.c: one append-only log per worker, so O(threads) state files) and
** added to the dense catalog histogram under the lock.  With --resume, the
** files whose records were loaded by st_imp_state_map_begin (c->mapped) are
** not read.  Cancellation is polled per batch: an interrupted file gets no
** record (a resumed run maps it again); the records written before are
** flushed and fsynced when the worker stops.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/pipeline.h"
#include "util/mem.h"
#include "skytile/healpix.h"

#define SAMPLE_FILES 8 /* files read whole for the row size sample */

typedef struct sparse {
  int64_t *pix, *cnt, *bytes; /* bytes: NULL unless byte threshold mode */
  int64_t n;
} sparse;

/* Merge the run-length batch (bp, bc, bb: k pixels ascending) into s. */
static int sparse_merge(sparse *s, const int64_t *bp, const int64_t *bc, const int64_t *bb,
                        int64_t k, st_error *err) {
  int64_t cap = s->n + k;
  size_t sz = (size_t)(cap ? cap : 1) * 8;
  int64_t *np = malloc(sz), *nc = malloc(sz), *nb = bb ? malloc(sz) : NULL;
  if (!np || !nc || (bb && !nb)) {
    free(np), free(nc), free(nb);
    return st_fail(err, ST_ERR_NOMEM, "map: out of memory");
  }
  int64_t i = 0, j = 0, o = 0;
  while (i < s->n || j < k) {
    if (j >= k || (i < s->n && s->pix[i] < bp[j])) {
      np[o] = s->pix[i], nc[o] = s->cnt[i];
      if (bb) nb[o] = s->bytes[i];
      i++;
    } else if (i >= s->n || bp[j] < s->pix[i]) {
      np[o] = bp[j], nc[o] = bc[j];
      if (bb) nb[o] = bb[j];
      j++;
    } else {
      np[o] = s->pix[i], nc[o] = s->cnt[i] + bc[j];
      if (bb) nb[o] = s->bytes[i] + bb[j];
      i++, j++;
    }
    o++;
  }
  free(s->pix), free(s->cnt), free(s->bytes);
  s->pix = np, s->cnt = nc, s->bytes = nb, s->n = o;
  return 0;
}

/* hats' per-row share of a column's loaded Arrow buffers (size_estimates.
** _arrow_column_mem_sizes): fixed width + 1/8 byte when a validity bitmap
** is present; strings: data bytes + offset width; lists of fixed-width
** values: length x width + offset width; structs: the sum of their fields;
** anything else: its buffers' bytes spread evenly over the rows. */
static void col_bytes(const st_field *f, const st_array *a, int64_t n, double *out) {
  double bm = a->buf[0] ? 0.125 : 0.0;
  int w = f->dict_encoded ? 0 : st_type_byte_width(f);
  if (w < 0 || w > 0) {
    double v = (w < 0 ? 0.125 : (double)w) + bm;
    for (int64_t i = 0; i < n; i++) out[i] += v;
    return;
  }
  int64_t off = a->offset;
  switch (f->dict_encoded ? ST_T_NULL : f->type) {
  case ST_T_STRING:
  case ST_T_BINARY: {
    const int32_t *o = (const int32_t *)a->buf[1] + off;
    for (int64_t i = 0; i < n; i++) out[i] += (double)(o[i + 1] - o[i]) + 4 + bm;
    return;
  }
  case ST_T_LARGE_STRING:
  case ST_T_LARGE_BINARY: {
    const int64_t *o = (const int64_t *)a->buf[1] + off;
    for (int64_t i = 0; i < n; i++) out[i] += (double)(o[i + 1] - o[i]) + 8 + bm;
    return;
  }
  case ST_T_LIST:
  case ST_T_LARGE_LIST: {
    const st_field *cf = &f->children[0];
    const st_array *ca = a->children[0];
    int cw = cf->dict_encoded ? 0 : st_type_byte_width(cf);
    double ew = cw < 0 ? 0.125 : (double)cw;
    if (cw != 0) ew += ca->buf[0] ? 0.125 : 0.0;
    else if (ca->length > 0) { /* variable-width elements: their average */
      double tot = 0;
      for (int k = 0; k < 3; k++)
        if (ca->mem[k]) tot += (double)ca->mem[k]->size;
      ew = tot / (double)ca->length;
    }
    bool large = f->type == ST_T_LARGE_LIST;
    for (int64_t i = 0; i < n; i++) {
      int64_t len = large ? ((const int64_t *)a->buf[1])[off + i + 1] - ((const int64_t *)a->buf[1])[off + i]
                          : ((const int32_t *)a->buf[1])[off + i + 1] - ((const int32_t *)a->buf[1])[off + i];
      out[i] += (double)len * ew + (large ? 8 : 4) + bm;
    }
    return;
  }
  case ST_T_STRUCT:
    for (int64_t i = 0; i < n; i++) out[i] += bm;
    for (int k = 0; k < f->n_children; k++) col_bytes(&f->children[k], a->children[k], n, out);
    return;
  default: {
    double tot = 0;
    for (int k = 0; k < 3; k++)
      if (a->mem[k]) tot += (double)a->mem[k]->size;
    double v = a->length > 0 ? tot / (double)a->length : 0;
    for (int64_t i = 0; i < n; i++) out[i] += v;
  }
  }
}

void st_imp_row_bytes(const st_table *t, double *out) {
  for (int c = 0; c < t->n_columns; c++)
    col_bytes(&t->schema.children[c], t->columns[c], t->n_rows, out);
}

/* Add batch t to the row size sample (under the lock). */
static void add_sample(st_imp_ctx *c, const st_table *t) {
  int64_t n = t->n_rows;
  double *sz = calloc((size_t)(n ? n : 1), sizeof *sz), sum = 0;
  if (sz) {
    st_imp_row_bytes(t, sz); /* the slice's own bytes (buffers may be shared) */
    for (int64_t i = 0; i < n; i++) sum += sz[i];
  }
  int64_t tb = sz ? (int64_t)sum : st_imp_table_bytes(t);
  free(sz);
  pthread_mutex_lock(&c->lock);
  c->sample_rows += n, c->sample_bytes += tb;
  pthread_mutex_unlock(&c->lock);
}

/* Sample the row size from the first rows of `path` read with all columns. */
static int sample_rows(st_imp_ctx *c, const char *path, st_error *err) {
  st_input_options opt = c->in_opt;
  opt.batch_rows = 8192;
  st_input *in = NULL;
  st_table *t = NULL;
  ST_TRY(st_input_open(path, &opt, &in, err));
  int rc = st_input_next(in, &t, err);
  if (!rc && t) add_sample(c, t);
  st_table_free(t);
  st_input_close(in);
  return rc;
}

static int map_file(st_imp_ctx *c, int f, st_imp_maplog **log, int worker, bool *fatal,
                    st_error *err) {
  const char *path = c->o->inputs[f];
  int order = c->map_order, rc;
  bool want_bytes = c->bytes_hist != NULL;
  struct stat fst;
  if (stat(path, &fst)) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  /* the row size sample: the first batch of the first SAMPLE_FILES files
  ** with all their columns (in byte threshold mode every file is read whole
  ** and sampled so) */
  bool sample = false;
  if (!want_bytes) {
    pthread_mutex_lock(&c->lock);
    sample = c->sample_files < SAMPLE_FILES;
    c->sample_files += sample;
    pthread_mutex_unlock(&c->lock);
  }
  if (sample) ST_TRY(sample_rows(c, path, err));
  /* the columns the histogram needs, unless the file is read whole */
  st_input_options opt = c->in_opt;
  const char *proj[2];
  int ra = c->ra_idx, dec = c->dec_idx, h29 = c->h29_idx;
  if (!want_bytes) {
    int k = 0;
    if (c->use_h29) {
      proj[k++] = "_healpix_29";
      h29 = 0;
    } else {
      proj[k++] = c->schema.children[ra].name;
      if (dec != ra) proj[k++] = c->schema.children[dec].name;
      ra = 0, dec = dec != c->ra_idx ? 1 : 0;
    }
    opt.columns = proj, opt.n_columns = k;
  }
  st_input *in = NULL;
  st_table *t = NULL;
  sparse s = {0};
  double *rav = NULL, *decv = NULL, *rb = NULL;
  uint64_t *pix = NULL, *tmp = NULL;
  int64_t *idx = NULL, *tidx = NULL, *bp = NULL, *bc = NULL, *bb = NULL;
  int64_t cap = 0;
  ST_TRY(st_input_open(path, &opt, &in, err));
  for (;;) {
    if ((rc = st_imp_check_cancel(c, err))) break;
    rc = st_input_next(in, &t, err);
    if (rc || !t) break;
    int64_t n = t->n_rows;
    if (n > cap) {
      free(rav), free(decv), free(pix), free(tmp), free(rb), free(idx), free(tidx);
      free(bp), free(bc), free(bb);
      cap = n;
      size_t sz = (size_t)n * 8;
      rav = malloc(sz), decv = malloc(sz), pix = malloc(sz), tmp = malloc(sz);
      bp = malloc(sz), bc = malloc(sz);
      rb = want_bytes ? malloc(sz) : NULL, idx = want_bytes ? malloc(sz) : NULL;
      tidx = want_bytes ? malloc(sz) : NULL, bb = want_bytes ? malloc(sz) : NULL;
      if (!rav || !decv || !pix || !tmp || !bp || !bc ||
          (want_bytes && (!rb || !idx || !tidx || !bb))) {
        rc = st_fail(err, ST_ERR_NOMEM, "map: out of memory for %lld rows", (long long)n);
        break;
      }
    }
    if (want_bytes && st_input_rows_read(in) == n) add_sample(c, t);
    rc = st_imp_pixels_at(c, t, order, ra, dec, h29, rav, decv, (int64_t *)pix, err);
    if (rc) {
      st_error_prefix(err, "%s: rows %lld..: ", path, (long long)(st_input_rows_read(in) - n));
      break;
    }
    if (want_bytes) {
      memset(rb, 0, (size_t)n * 8);
      st_imp_row_bytes(t, rb);
      for (int64_t i = 0; i < n; i++) idx[i] = i;
    }
    st_imp_radix_sort(pix, idx, n, (uint64_t)c->hist_npix - 1, tmp, tidx);
    /* run-length: rows and (as hats: the float sum per pixel and batch,
    ** truncated) bytes per pixel */
    int64_t k = 0;
    for (int64_t i = 0; i < n;) {
      int64_t j = i;
      double sum = 0;
      while (j < n && pix[j] == pix[i]) {
        if (want_bytes) sum += rb[idx[j]];
        j++;
      }
      bp[k] = (int64_t)pix[i], bc[k] = j - i;
      if (want_bytes) bb[k] = (int64_t)sum;
      k++, i = j;
    }
    rc = sparse_merge(&s, bp, bc, want_bytes ? bb : NULL, k, err);
    st_table_free(t);
    t = NULL;
    if (rc) break;
  }
  st_table_free(t);
  st_input_close(in);
  free(rav), free(decv), free(pix), free(tmp), free(rb), free(idx), free(tidx);
  free(bp), free(bc), free(bb);
  static const int64_t none = 0; /* an empty file has no arrays but bytes mode */
  if (!rc) { /* from here on a failure is the log's, not the file's */
    *fatal = true;
    if (!*log) rc = st_imp_maplog_open(c, worker, log, err);
    if (!rc)
      rc = st_imp_maplog_add(*log, c->state_idx[f], (int64_t)fst.st_size,
                             (int64_t)fst.st_mtim.tv_sec * 1000000000 + fst.st_mtim.tv_nsec,
                             s.pix, s.cnt, want_bytes ? (s.bytes ? s.bytes : &none) : NULL, s.n,
                             err);
    *fatal = rc != 0;
  }
  if (!rc) {
    pthread_mutex_lock(&c->lock);
    for (int64_t i = 0; i < s.n; i++) c->hist[s.pix[i]] += s.cnt[i];
    if (want_bytes && s.bytes)
      for (int64_t i = 0; i < s.n; i++) c->bytes_hist[s.pix[i]] += s.bytes[i];
    pthread_mutex_unlock(&c->lock);
  }
  free(s.pix), free(s.cnt), free(s.bytes);
  return rc;
}

typedef struct map_job {
  int next;   /* next file (atomic) */
} map_job;

static int map_worker(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  map_job *j = arg;
  st_imp_maplog *log = NULL;
  int rc = 0;
  for (;;) {
    if ((rc = st_imp_check_cancel(c, err))) break;
    int f = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (f >= c->o->n_inputs) break;
    if (c->failed[f] || c->mapped[f]) continue; /* counted by st_imp_map */
    st_error e = {0};
    bool fatal = false; /* the log failed: not the file's fault */
    int r = map_file(c, f, &log, worker, &fatal, &e);
    if (r == ST_ERR_INTERRUPTED || fatal) {
      *err = e, rc = r;
      break;
    }
    if (r) c->failed[f] = 1, st_imp_file_failed(c, f, &e);
    st_imp_progress(c, "Mapping", 1, c->o->n_inputs);
  }
  st_error e2 = {0};
  int r2 = st_imp_maplog_close(log, &e2);
  if (r2 && !rc) *err = e2, rc = r2;
  return rc;
}

int st_imp_map(st_imp_ctx *c, st_error *err) {
  map_job j = {0};
  int64_t skip = 0;
  for (int f = 0; f < c->o->n_inputs; f++) skip += c->failed[f] || c->mapped[f];
  if (skip) st_imp_progress(c, "Mapping", skip, c->o->n_inputs);
  return st_imp_parallel(c, map_worker, &j, err);
}
