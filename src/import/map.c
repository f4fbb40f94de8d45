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
**
** One big file on all threads: when at most SPLIT_MAX_FILES files are to be
** mapped, each regular file of at least SPLIT_MIN_BYTES is cut into one
** part per thread (st_input_options.part: CSV byte ranges starting at line
** starts, FITS row ranges, Parquet row groups; a .gz is read whole by part
** 0).  Work units are (file, part); a part's sparse histogram is merged
** into the file's (file_acc) under the lock, and the worker finishing the
** last part records the file, so the log still holds one record per input
** and resume works as before.  CSV parts must meet at record starts: part
** k's stop offset must equal part k+1's first record (st_input_part_seam).
** If a seam does not meet (a quoted field holding a line break across it,
** CR-only line ends) or any part failed, that worker maps the file again
** whole, so results and error messages are those of the serial read.  Byte
** threshold mode is not split (hats truncates byte sums per batch).
**
** CSV files mapped in the inference pass (st_imp_pre_*): the whole-file
** type inference (pipeline.c infer_schema, csv.c) also parses the ra/dec
** fields as doubles and hands them over chunk by chunk (values_fn); their
** pixels are buffered per inference half and merged into a sparse
** histogram.  The reader says DONE only if every record was reported once
** (the second half's values are discarded when the halves did not meet at
** a record start) and every value was a number (no null, no -0.0).  The
** map then records that histogram instead of reading the file, if the file
** is unchanged (inode, size, mtime) and ra/dec unified to int64 or double
** (their values then equal the text parsed as double); otherwise the file
** is mapped as above, which also gives the old error messages.
** SKYTILE_IMPORT_NO_PRE=1 turns this off, SKYTILE_IMPORT_SPLIT_MIN=0 the
** parts (benchmarks, debugging).
*/
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/pipeline.h"
#include "util/mem.h"
#include "skytile/healpix.h"

#define SAMPLE_FILES 8 /* files read whole for the row size sample */
/* Files of at least this many bytes (SKYTILE_IMPORT_SPLIT_MIN overrides it,
** for tests) are mapped in parts, one per thread, when at most
** SPLIT_MAX_FILES files are to be mapped (their sizes are looked up first). */
#define SPLIT_MIN_BYTES ((int64_t)16 << 20)
#define SPLIT_MAX_FILES 256

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

#define MAP_GATHER ((int64_t)1 << 20) /* pixels gathered before a merge */

/* Sort the n pixels (all <= max_pix; scratch: tmp, bp, bc of n entries)
** and merge their counts into s. */
static int merge_pixels(sparse *s, uint64_t *pix, int64_t n, uint64_t max_pix, uint64_t *tmp,
                        int64_t *bp, int64_t *bc, st_error *err) {
  st_imp_radix_sort(pix, NULL, n, max_pix, tmp, NULL);
  int64_t k = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j < n && pix[j] == pix[i]) j++;
    bp[k] = (int64_t)pix[i], bc[k] = j - i;
    k++, i = j;
  }
  return sparse_merge(s, bp, bc, NULL, k, err);
}

/* Read part `part` of `nparts` of input f (st_input_options.part) and build
** its sparse histogram in *s; *seam gets st_input_part_seam's offsets. */
static int map_part(st_imp_ctx *c, int f, int part, int nparts, sparse *s, int64_t seam[2],
                    st_error *err) {
  const char *path = c->o->inputs[f];
  int order = c->map_order, rc;
  bool want_bytes = c->bytes_hist != NULL;
  /* the columns the histogram needs, unless the file is read whole */
  st_input_options opt = c->in_opt;
  opt.part = part, opt.n_parts = nparts;
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
  double *rav = NULL, *decv = NULL, *rb = NULL;
  uint64_t *pix = NULL, *tmp = NULL;
  int64_t *idx = NULL, *tidx = NULL, *bp = NULL, *bc = NULL, *bb = NULL;
  int64_t cap = 0, held = 0; /* held: pixels gathered (counts only) */
  int64_t rcap = 0;          /* rows of the rav/decv scratch */
  /* counts only: the pixels of several batches are gathered (up to
  ** MAP_GATHER) before a sort and a merge, so that the sparse histogram is
  ** merged fewer times (the sums do not depend on the grouping) */
  const int64_t gather = want_bytes ? 0 : MAP_GATHER;
  seam[0] = seam[1] = -1;
  ST_TRY(st_input_open(path, &opt, &in, err));
  for (;;) {
    if ((rc = st_imp_check_cancel(c, err))) break;
    rc = st_input_next(in, &t, err);
    if (rc || !t) break;
    int64_t n = t->n_rows;
    if (held + n > cap && held) { /* make room: merge what is gathered */
      rc = merge_pixels(s, pix, held, (uint64_t)c->hist_npix - 1, tmp, bp, bc, err);
      held = 0;
      if (rc) break;
    }
    if (n > rcap) { /* a batch's coordinates */
      free(rav), free(decv);
      rcap = n;
      rav = malloc((size_t)n * 8), decv = malloc((size_t)n * 8);
      if (!rav || !decv) {
        rc = st_fail(err, ST_ERR_NOMEM, "map: out of memory for %lld rows", (long long)n);
        break;
      }
    }
    if (n > cap) {
      free(pix), free(tmp), free(rb), free(idx), free(tidx);
      free(bp), free(bc), free(bb);
      cap = n > gather ? n : gather;
      size_t sz = (size_t)cap * 8;
      pix = malloc(sz), tmp = malloc(sz);
      bp = malloc(sz), bc = malloc(sz);
      rb = want_bytes ? malloc(sz) : NULL, idx = want_bytes ? malloc(sz) : NULL;
      tidx = want_bytes ? malloc(sz) : NULL, bb = want_bytes ? malloc(sz) : NULL;
      if (!pix || !tmp || !bp || !bc ||
          (want_bytes && (!rb || !idx || !tidx || !bb))) {
        rc = st_fail(err, ST_ERR_NOMEM, "map: out of memory for %lld rows", (long long)n);
        break;
      }
    }
    if (want_bytes && st_input_rows_read(in) == n) add_sample(c, t);
    rc = st_imp_pixels_at(c, t, order, ra, dec, h29, rav, decv, (int64_t *)pix + held, err);
    if (rc) {
      st_error_prefix(err, "%s: rows %lld..: ", path, (long long)(st_input_rows_read(in) - n));
      break;
    }
    if (!want_bytes) {
      held += n;
      st_table_free(t);
      t = NULL;
      continue;
    }
    memset(rb, 0, (size_t)n * 8);
    st_imp_row_bytes(t, rb);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    st_imp_radix_sort(pix, idx, n, (uint64_t)c->hist_npix - 1, tmp, tidx);
    /* run-length: rows and (as hats: the float sum per pixel and batch,
    ** truncated) bytes per pixel */
    int64_t k = 0;
    for (int64_t i = 0; i < n;) {
      int64_t j = i;
      double sum = 0;
      while (j < n && pix[j] == pix[i]) sum += rb[idx[j++]];
      bp[k] = (int64_t)pix[i], bc[k] = j - i, bb[k] = (int64_t)sum;
      k++, i = j;
    }
    rc = sparse_merge(s, bp, bc, bb, k, err);
    st_table_free(t);
    t = NULL;
    if (rc) break;
  }
  if (!rc && held) rc = merge_pixels(s, pix, held, (uint64_t)c->hist_npix - 1, tmp, bp, bc, err);
  if (!rc) st_input_part_seam(in, &seam[0], &seam[1]);
  st_table_free(t);
  st_input_close(in);
  free(rav), free(decv), free(pix), free(tmp), free(rb), free(idx), free(tidx);
  free(bp), free(bc), free(bb);
  return rc;
}

/* The row size sample: the first batch of the first SAMPLE_FILES files with
** all their columns (in byte threshold mode every file is read whole and
** sampled so, see map_part). */
static int maybe_sample(st_imp_ctx *c, int f, st_error *err) {
  if (c->bytes_hist) return 0;
  pthread_mutex_lock(&c->lock);
  bool sample = c->sample_files < SAMPLE_FILES;
  c->sample_files += sample;
  pthread_mutex_unlock(&c->lock);
  return sample ? sample_rows(c, c->o->inputs[f], err) : 0;
}

/* Input f is mapped (histogram s; fst: its stat before reading): append its
** record to the worker's log and add s to the catalog histogram. */
static int record_file(st_imp_ctx *c, int f, const sparse *s, const struct stat *fst,
                       st_imp_maplog **log, int worker, st_error *err) {
  bool want_bytes = c->bytes_hist != NULL;
  static const int64_t none = 0; /* an empty file has no arrays but bytes mode */
  int rc = 0;
  if (!*log) rc = st_imp_maplog_open(c, worker, log, err);
  if (!rc)
    rc = st_imp_maplog_add(*log, c->state_idx[f], (int64_t)fst->st_size,
                           (int64_t)fst->st_mtim.tv_sec * 1000000000 + fst->st_mtim.tv_nsec, s->pix,
                           s->cnt, want_bytes ? (s->bytes ? s->bytes : &none) : NULL, s->n, err);
  if (rc) return rc;
  if (c->ver_size) { /* the version a tombstone would name (state.c) */
    c->ver_size[f] = (int64_t)fst->st_size;
    c->ver_mtime[f] = (int64_t)fst->st_mtim.tv_sec * 1000000000 + fst->st_mtim.tv_nsec;
  }
  pthread_mutex_lock(&c->lock);
  for (int64_t i = 0; i < s->n; i++) c->hist[s->pix[i]] += s->cnt[i];
  if (want_bytes && s->bytes)
    for (int64_t i = 0; i < s->n; i++) c->bytes_hist[s->pix[i]] += s->bytes[i];
  pthread_mutex_unlock(&c->lock);
  return 0;
}

/* ---- histograms made in the CSV inference pass ---------------------------- */

struct st_imp_pre {
  st_imp_ctx *c;
  int f;
  sparse s[2];           /* per reported part (csv.c: 0 and the helper 1) */
  uint64_t *pix[2], *tmp[2];
  int64_t *bp[2], *bc[2];
  int64_t cap[2], npix[2]; /* buffered pixels: capacity, count           */
  bool fail[2];          /* a part's values could not be used             */
  bool discarded, done;  /* part 1 discarded; ST_VALUES_DONE seen          */
  bool valid;            /* st_imp_pre_end: s[0] is the file's histogram   */
  struct stat st;        /* the file before the inference pass            */
};

static void pre_scratch_free(struct st_imp_pre *p, int q) {
  free(p->pix[q]), free(p->tmp[q]), free(p->bp[q]), free(p->bc[q]);
  p->pix[q] = p->tmp[q] = NULL, p->bp[q] = p->bc[q] = NULL, p->cap[q] = p->npix[q] = 0;
}

/* Sort part q's buffered pixels and merge them into its histogram. */
static void pre_flush(struct st_imp_pre *p, int q) {
  int64_t n = p->npix[q];
  p->npix[q] = 0;
  if (!n || p->fail[q]) return;
  st_error e = {0};
  if (merge_pixels(&p->s[q], p->pix[q], n, (uint64_t)st_hpx_npix(p->c->map_order) - 1, p->tmp[q],
                   p->bp[q], p->bc[q], &e))
    p->fail[q] = true;
}

/* st_input_options.values_fn: pixels are buffered per part (PRE_BUF) and
** merged into the part's sparse histogram when the buffer is full. */
#define PRE_BUF ((int64_t)1 << 20)
static void pre_values(void *ctx, int event, int part, const double *x, const double *y, int64_t n) {
  struct st_imp_pre *p = ctx;
  if (event == ST_VALUES_DONE) {
    p->done = true;
    return;
  }
  if (part < 0 || part > 1) return;
  if (event == ST_VALUES_DISCARD) {
    free(p->s[part].pix), free(p->s[part].cnt), free(p->s[part].bytes);
    p->s[part] = (sparse){0};
    p->npix[part] = 0;
    if (part == 1) p->discarded = true;
    return;
  }
  if (p->fail[part] || n <= 0) return;
  if (p->npix[part] + n > p->cap[part]) {
    pre_flush(p, part);
    if (n > p->cap[part]) {
      pre_scratch_free(p, part);
      int64_t cap = n > PRE_BUF ? n : PRE_BUF;
      size_t sz = (size_t)cap * 8;
      p->pix[part] = malloc(sz), p->tmp[part] = malloc(sz), p->bp[part] = malloc(sz);
      p->bc[part] = malloc(sz);
      p->cap[part] = cap;
      if (!p->pix[part] || !p->tmp[part] || !p->bp[part] || !p->bc[part]) {
        p->fail[part] = true;
        return;
      }
    }
  }
  st_error e = {0};
  if (st_hpx_ang2pix_hats_batch(p->c->map_order, x, y, n, (int64_t *)p->pix[part] + p->npix[part], &e)) {
    p->fail[part] = true; /* the map reads the file and reports it */
    return;
  }
  p->npix[part] += n;
}

int st_imp_pre_begin(st_imp_ctx *c, int f, st_input_options *opt, st_error *err) {
  opt->values_fn = NULL, opt->values_ctx = NULL;
  const char *off = getenv("SKYTILE_IMPORT_NO_PRE"); /* (benchmarks, debugging) */
  if (c->use_h29 || c->bytes_hist || c->o->byte_threshold > 0 || opt->infer_rows > 0 ||
      c->o->n_inputs > SPLIT_MAX_FILES || (off && *off && strcmp(off, "0")))
    return 0;
  if (!c->pre) {
    c->pre = calloc((size_t)c->o->n_inputs, sizeof *c->pre);
    ST_CHECK(c->pre, err, ST_ERR_NOMEM, "out of memory");
  }
  struct st_imp_pre *p = calloc(1, sizeof *p);
  ST_CHECK(p, err, ST_ERR_NOMEM, "out of memory");
  if (stat(c->o->inputs[f], &p->st)) {
    free(p);
    return 0; /* the inference reports it */
  }
  p->c = c, p->f = f;
  c->pre[f] = p;
  opt->values_x = c->o->ra_column, opt->values_y = c->o->dec_column;
  opt->values_fn = pre_values, opt->values_ctx = p;
  return 0;
}

static void pre_free1(struct st_imp_pre *p) {
  if (!p) return;
  for (int q = 0; q < 2; q++) {
    pre_scratch_free(p, q);
    free(p->s[q].pix), free(p->s[q].cnt), free(p->s[q].bytes);
  }
  free(p);
}

void st_imp_pre_end(st_imp_ctx *c, int f, bool ok) {
  struct st_imp_pre *p = c->pre ? c->pre[f] : NULL;
  if (!p) return;
  for (int q = 0; q < 2; q++) {
    if (ok) pre_flush(p, q);
    pre_scratch_free(p, q);
  }
  st_error e = {0};
  ok = ok && p->done && !p->fail[0] && (p->discarded || !p->fail[1]);
  if (ok && p->s[1].n) ok = !sparse_merge(&p->s[0], p->s[1].pix, p->s[1].cnt, NULL, p->s[1].n, &e);
  if (!ok) {
    pre_free1(p);
    c->pre[f] = NULL;
    return;
  }
  free(p->s[1].pix), free(p->s[1].cnt), free(p->s[1].bytes);
  p->s[1] = (sparse){0};
  p->valid = true;
}

void st_imp_pre_free(st_imp_ctx *c) {
  if (!c->pre) return;
  for (int f = 0; f < c->o->n_inputs; f++) pre_free1(c->pre[f]);
  free(c->pre);
  c->pre = NULL;
}

/* The histogram of the inference pass stands for input f (stat now: fst):
** the file is unchanged and ra/dec are numbers the map would read so (an
** int64 column's values converted to double equal the text parsed as one). */
static bool pre_usable(const st_imp_ctx *c, int f, const struct stat *fst) {
  const struct st_imp_pre *p = c->pre ? c->pre[f] : NULL;
  if (!p || !p->valid || c->use_h29 || c->bytes_hist) return false;
  if (p->st.st_size != fst->st_size || p->st.st_mtim.tv_sec != fst->st_mtim.tv_sec ||
      p->st.st_mtim.tv_nsec != fst->st_mtim.tv_nsec || p->st.st_ino != fst->st_ino)
    return false;
  st_type_id tr = c->schema.children[c->ra_idx].type, td = c->schema.children[c->dec_idx].type;
  return (tr == ST_T_INT64 || tr == ST_T_DOUBLE) && (td == ST_T_INT64 || td == ST_T_DOUBLE);
}

/* Map input f whole (sample: take part in the row size sample).  *fatal:
** the failure is the log's, not the file's. */
static int map_file(st_imp_ctx *c, int f, bool sample, st_imp_maplog **log, int worker,
                    bool *fatal, st_error *err) {
  const char *path = c->o->inputs[f];
  struct stat fst;
  if (stat(path, &fst)) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (sample) ST_TRY(maybe_sample(c, f, err));
  if (pre_usable(c, f, &fst)) { /* mapped in the inference pass */
    int rc = record_file(c, f, &c->pre[f]->s[0], &fst, log, worker, err);
    *fatal = rc != 0;
    return rc;
  }
  sparse s = {0};
  int64_t seam[2];
  int rc = map_part(c, f, 0, 1, &s, seam, err);
  if (!rc) { /* from here on a failure is the log's, not the file's */
    rc = record_file(c, f, &s, &fst, log, worker, err);
    *fatal = rc != 0;
  }
  free(s.pix), free(s.cnt), free(s.bytes);
  return rc;
}

/* A file mapped in parts by several workers: the parts' histograms are
** merged here; the worker finishing the last part checks the seams and
** records the file (or, if a part failed or a seam does not meet, maps it
** again whole: that run's result or error is the file's). */
typedef struct file_acc {
  sparse s;            /* merged histograms of the parts done             */
  int left;            /* parts not finished                              */
  bool bad;            /* a part failed (maybe a bad seam): map it whole  */
  bool have_stat;
  struct stat st;      /* the file's stat before the first part was read  */
  bool sfail;          /* the row size sample failed: the file's error    */
  st_error serr;
  int64_t *seam;       /* per part: first record, stop (2 per part)       */
} file_acc;

typedef struct map_job {
  int next;            /* next work unit (atomic)                         */
  int nunits;
  int *ufile, *upart;  /* per unit: input file and part                   */
  int *nparts;         /* per input file (0: not mapped here)             */
  file_acc **acc;      /* per input file with nparts > 1                  */
} map_job;

/* Part `part` of input f: merge its histogram into the file's; the last
** part records the file.  *done: the file is finished (recorded or failed,
** reported through *err with *fatal as map_file). */
static int map_unit(st_imp_ctx *c, map_job *j, int f, int part, st_imp_maplog **log, int worker,
                    bool *fatal, bool *done, st_error *err) {
  file_acc *a = j->acc[f];
  int np = j->nparts[f];
  *done = false;
  struct stat fst;
  int rc = 0;
  if (stat(c->o->inputs[f], &fst))
    rc = st_fail(err, ST_ERR_IO, "%s: cannot open: %s", c->o->inputs[f], strerror(errno));
  bool sfail = false;
  if (!rc && part == 0) {
    rc = maybe_sample(c, f, err);
    sfail = rc != 0;
  }
  sparse s = {0};
  int64_t seam[2] = {-1, -1};
  if (!rc) rc = map_part(c, f, part, np, &s, seam, err);
  if (rc == ST_ERR_INTERRUPTED) {
    free(s.pix), free(s.cnt), free(s.bytes);
    return rc;
  }
  pthread_mutex_lock(&c->lock);
  if (!rc && !a->bad) {
    if (!a->have_stat) a->st = fst, a->have_stat = true;
    a->seam[2 * part] = seam[0], a->seam[2 * part + 1] = seam[1];
    st_error e = {0};
    if (sparse_merge(&a->s, s.pix, s.cnt, s.bytes, s.n, &e)) a->bad = true;
  } else {
    a->bad = true;
    if (sfail && rc != ST_ERR_INTERRUPTED) a->sfail = true, a->serr = *err;
  }
  bool last = --a->left == 0;
  pthread_mutex_unlock(&c->lock);
  free(s.pix), free(s.cnt), free(s.bytes);
  if (!last) return 0;
  *done = true;
  if (a->sfail) { /* as map_file: the sample's failure is the file's */
    *err = a->serr;
    return err->code ? err->code : ST_ERR_IO;
  }
  bool ok = !a->bad;
  for (int k = 0; ok && k + 1 < np; k++) ok = a->seam[2 * k + 1] == a->seam[2 * (k + 1)];
  if (ok) {
    rc = record_file(c, f, &a->s, &a->st, log, worker, err);
    *fatal = rc != 0;
    return rc;
  }
  *err = (st_error){0};
  return map_file(c, f, false, log, worker, fatal, err); /* the sample is taken */
}

static int map_worker(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  map_job *j = arg;
  st_imp_maplog *log = NULL;
  int rc = 0;
  for (;;) {
    if ((rc = st_imp_check_cancel(c, err))) break;
    int u = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (u >= j->nunits) break;
    int f = j->ufile[u];
    st_error e = {0};
    bool fatal = false; /* the log failed: not the file's fault */
    bool done = true;
    int r = j->nparts[f] > 1 ? map_unit(c, j, f, j->upart[u], &log, worker, &fatal, &done, &e)
                             : map_file(c, f, true, &log, worker, &fatal, &e);
    if (r == ST_ERR_INTERRUPTED || fatal) {
      *err = e, rc = r;
      break;
    }
    if (!done) continue;
    if (r) c->failed[f] = 1, st_imp_file_failed(c, f, &e);
    st_imp_progress(c, "Mapping", 1, c->o->n_inputs);
  }
  st_error e2 = {0};
  int r2 = st_imp_maplog_close(log, &e2);
  if (r2 && !rc) *err = e2, rc = r2;
  return rc;
}


int st_imp_map(st_imp_ctx *c, st_error *err) {
  const st_import_options *o = c->o;
  map_job j = {0};
  int64_t skip = 0;
  for (int f = 0; f < o->n_inputs; f++) skip += c->failed[f] || c->mapped[f];
  st_imp_progress(c, "Mapping", skip, o->n_inputs); /* the stage starts (timings) */
  int64_t todo = o->n_inputs - skip;
  int64_t min_bytes = SPLIT_MIN_BYTES;
  const char *env = getenv("SKYTILE_IMPORT_SPLIT_MIN");
  if (env && *env) min_bytes = strtoll(env, NULL, 10); /* 0: never split */
  int np_max = c->nthreads < 64 ? c->nthreads : 64;
  /* byte threshold mode sums bytes per batch (hats' truncation): not split */
  bool split = np_max > 1 && todo <= SPLIT_MAX_FILES && !c->bytes_hist && min_bytes > 0;
  j.nparts = calloc((size_t)o->n_inputs, sizeof *j.nparts);
  j.acc = calloc((size_t)o->n_inputs, sizeof *j.acc);
  int rc = j.nparts && j.acc ? 0 : st_fail(err, ST_ERR_NOMEM, "out of memory");
  int64_t nunits = 0;
  for (int f = 0; f < o->n_inputs && !rc; f++) {
    if (c->failed[f] || c->mapped[f]) continue;
    struct stat st;
    int np = 1;
    if (split && !stat(o->inputs[f], &st) && S_ISREG(st.st_mode) && st.st_size >= min_bytes &&
        !pre_usable(c, f, &st))
      np = np_max;
    if (np > 1) {
      file_acc *a = calloc(1, sizeof *a);
      int64_t *seam = malloc((size_t)np * 2 * sizeof *seam);
      if (!a || !seam) {
        free(a), free(seam);
        rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
        break;
      }
      a->seam = seam, a->left = np;
      j.acc[f] = a;
    }
    j.nparts[f] = np;
    nunits += np;
  }
  if (!rc && nunits > INT32_MAX) rc = st_fail(err, ST_ERR_LIMIT, "map: too many work units");
  if (!rc) {
    j.ufile = malloc((size_t)(nunits ? nunits : 1) * sizeof *j.ufile);
    j.upart = malloc((size_t)(nunits ? nunits : 1) * sizeof *j.upart);
    if (!j.ufile || !j.upart) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  if (!rc) {
    for (int f = 0; f < o->n_inputs; f++)
      for (int k = 0; k < j.nparts[f]; k++) j.ufile[j.nunits] = f, j.upart[j.nunits++] = k;
    rc = st_imp_parallel(c, map_worker, &j, err);
  }
  for (int f = 0; j.acc && f < o->n_inputs; f++)
    if (j.acc[f]) {
      free(j.acc[f]->s.pix), free(j.acc[f]->s.cnt), free(j.acc[f]->s.bytes);
      free(j.acc[f]->seam), free(j.acc[f]);
    }
  free(j.acc), free(j.nparts), free(j.ufile), free(j.upart);
  st_imp_pre_free(c); /* recorded now (or not to be used) */
#ifdef __GLIBC__
  malloc_trim(0); /* give the per-file histograms' pages back before splitting */
#endif
  return rc;
}
