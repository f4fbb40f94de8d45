/*
** This file implements st_import_run, the HATS import pipeline (issue 5),
** following hats-import's catalog pipeline stage by stage:
**
**   Mapping    per-file row-count (and, with a byte threshold, byte-size)
**              histograms at the mapping order from the ra/dec columns only
**              (map.c), appended to one log per worker in the state
**              directory (state.c); a big file is read in parts by all
**              threads, and a CSV's histogram is made in its type inference
**              pass (infer_schema, map.c) when it can be
**   Binning    st_bin (hats' generate_alignment, constant order, existing
**              pixels, byte threshold) -> partitions + alignment
**   Splitting  rows -> per-thread spill files grouped by partition (split.c)
**   Reducing   partition runs -> sorted leaf files (reduce.c)
**   Finishing  partition_info.csv, dataset/_metadata + _common_metadata,
**              point_map.fits + skymap.fits (+ skymap.K.fits),
**              properties + hats.properties
**
** The skymaps depend on the histogram only: a thread writes them from the
** start of splitting on (after a resumed run's temporaries are removed:
** its own temporaries must survive), overlapping splitting and reducing,
** the fsyncs of two 27 MB files included; finishing joins it, and
** st_import_run joins it on every other path before the build directory
** may be removed.
** Mapping order: highest_order, or the constant order when one is given
** (hats-import maps, and writes its skymaps, at the constant order).
**
** Positions: from ra/dec, or with use_healpix_29 from the input's own
** `_healpix_29` column (hats-import's use_healpix_29: that column stays
** where it is, no column is added, --sort-columns are refused and the
** properties carry no hats_col_healpix).  An input holding `_healpix_29`
** without use_healpix_29 is an error naming both ways out.  Leaf types and
** nullability are hats-import's (its default readers): CSV and FITS
** columns nullable, CSV strings large_string and integer columns with
** empty values double (pandas' types, the readers' hats_import_types), a
** Parquet input's types and nullability kept.
**
** Directories: the catalog is built in OUTPUT.tmp-skytile and renamed to
** OUTPUT at the end (an existing OUTPUT is an error unless overwrite; it is
** then moved aside and removed after the rename).  Missing parent
** directories of OUTPUT and of the state directory are created.  State and
** intermediates live in OUTPUT.skytile-state (or TMP_DIR/NAME.skytile-state),
** removed on success.  A state directory left by an unfinished run is an
** error naming both ways out (--resume continues it, --overwrite discards
** it).  Resume (`resume`): STATE/options.txt holds the options that shape
** the catalog; different ones are an error naming the first difference.
** The map logs (state.c) give the histograms of the inputs already mapped
** (a different input set is an error; inputs that have no valid record,
** e.g. ones that failed, may be left out; a changed file is mapped again).
** If the unified schema is unchanged, the inputs are the saved list and none
** changed, and the saved split index matches the new binning, splitting is
** skipped and the leaves already in the build directory with the expected
** row count are kept (the build directory is kept on a failure or an
** interruption from the reducing stage on, and whenever a resumed run
** fails; temporaries left by a killed run are removed).
**
** Failed inputs: a file that cannot be read is reported (o->file_error:
** path + reason) and the stage goes on with the other files; the run then
** fails after that stage (ST_ERR_CORRUPT, "N input files failed: list"),
** writing no catalog.  Mapping failures leave no map record; a file that
** fails only in splitting (damaged outside ra/dec, split.c) gets a
** tombstone in the map state (state.c) and the split index is not saved,
** so a resumed run maps just the failed files again (fixed, they are read
** anew; unchanged, they fail again alike; left out of the inputs, they are
** forgotten) and splits again.
**
** Cancellation: o->cancel is polled by every stage (per input file and
** batch, per spill row group, per partition, per merge batch, per 256
** partitions when finishing); the run then returns ST_ERR_INTERRUPTED
** within about a second, its state kept as after a kill.
**
** Memory (--memory-limit, default a quarter of the RAM): each of the T
** workers gets limit / T.  The row size is estimated from the first batch
** of every file mapped (else from the schema); a worker sorts at most
** budget / (3 x row size) rows in memory (bucket, its copy, the sorted
** copy), the split stage reads batches of at most 1/16 and gathers at most
** 1/8 of the budget.  A partition over the in-memory size is sorted
** externally (reduce.c).  Not counted in the limit: the histogram and the
** alignment (12 bytes x 12 * 4^order), the input reader's own buffers (a
** Parquet row group is decoded whole), the program itself, and the pages
** of the memory-mapped input files being read, which the kernel counts in
** RSS (SKYTILE_NO_MMAP=1 reads them with pread instead; the external sort
** closes spill and run files between chunks and row groups so that their
** pages do not accumulate).
**
** Buckets: after binning, consecutive partitions (in partition_info order)
** are grouped into buckets holding at most the threshold rows and the rows
** a worker may sort in memory (or one partition); a bucket is the unit of
** spill row groups (split.c) and of reduce work (reduce.c), which bounds
** the number of row groups by batches x buckets instead of batches x
** partitions.
**
** Row counts are checked between the stages: histogram total = binned
** total = rows split = sum of the partitions' rows written.
*/
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/pipeline.h"
#include "import/import.h"
#include "readers/readers_int.h"
#include "skytile/healpix.h"
#include "skytile/parquet.h"
#include "util/mem.h"

void st_import_options_init(st_import_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->ra_column = "ra";
  o->dec_column = "dec";
  o->catalog_type = "object";
  o->highest_order = 10;
  o->lowest_order = 0;
  o->constant_order = -1;
  o->pixel_threshold = 1000000;
  o->drop_empty_siblings = true;
  o->compression = ST_PQ_CODEC_ZSTD;
  o->compression_level = 15;
  o->row_group_subtile_delta = -1;
}

/* ---- threads and reporting ------------------------------------------------ */

typedef struct thread_arg {
  st_imp_ctx *c;
  st_imp_worker_fn fn;
  void *arg;
  int worker;
  int rc;
  st_error err;
} thread_arg;

static void *thread_main(void *p) {
  thread_arg *t = p;
  t->rc = t->fn(t->c, t->worker, t->arg, &t->err);
  if (t->rc) t->c->stop = 1;
  return NULL;
}

int st_imp_check_cancel(const st_imp_ctx *c, st_error *err) {
  if ((c->o->cancel && *c->o->cancel) || c->stop)
    return st_fail(err, ST_ERR_INTERRUPTED,
                   "interrupted; run the same command with --resume to continue");
  return 0;
}

int st_imp_parallel(st_imp_ctx *c, st_imp_worker_fn fn, void *arg, st_error *err) {
  int n = c->nthreads;
  thread_arg *ta = calloc((size_t)n, sizeof *ta);
  pthread_t *th = calloc((size_t)n, sizeof *th);
  if (!ta || !th) {
    free(ta), free(th);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  int started = 0;
  c->stop = 0;
  for (int i = 0; i < n; i++) ta[i] = (thread_arg){.c = c, .fn = fn, .arg = arg, .worker = i};
  for (int i = 0; i < n; i++) {
    if (i > 0 && pthread_create(&th[i], NULL, thread_main, &ta[i])) break;
    started = i + 1;
  }
  thread_main(&ta[0]);
  for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
  /* threads that could not start: run their share on this thread */
  for (int i = started; i < n && !c->stop; i++) thread_main(&ta[i]);
  /* the first real error; an interruption (user or c->stop) only if none */
  int rc = 0;
  for (int i = 0; i < n; i++)
    if (ta[i].rc && (!rc || (rc == ST_ERR_INTERRUPTED && ta[i].rc != ST_ERR_INTERRUPTED)))
      rc = ta[i].rc, *err = ta[i].err;
  c->stop = 0;
  free(ta), free(th);
  return rc;
}

void st_imp_progress(st_imp_ctx *c, const char *stage, int64_t inc, int64_t total) {
  pthread_mutex_lock(&c->lock);
  c->done += inc;
  if (c->o->progress) c->o->progress(c->o->ctx, stage, c->done, total);
  pthread_mutex_unlock(&c->lock);
}

void st_imp_file_failed(st_imp_ctx *c, int file, const st_error *e) {
  pthread_mutex_lock(&c->lock);
  c->nfailed++;
  c->failed[file] = 1;
  if (c->o->file_error) c->o->file_error(c->o->ctx, c->o->inputs[file], e);
  /* the names that fit, then ", ..." (each file was reported in full) */
  size_t l = strlen(c->failed_list), k = strlen(c->o->inputs[file]);
  bool cut = l >= 3 && !strcmp(c->failed_list + l - 3, "...");
  if (!cut && l + k + 2 + 6 < sizeof c->failed_list)
    snprintf(c->failed_list + l, sizeof c->failed_list - l, "%s%s", l ? ", " : "",
             c->o->inputs[file]);
  else if (!cut)
    snprintf(c->failed_list + l, sizeof c->failed_list - l, "%s...", l ? ", " : "");
  pthread_mutex_unlock(&c->lock);
}

/* The run's error after a stage in which input files failed. */
static int files_failed(const st_imp_ctx *c, st_error *err) {
  return st_fail(err, ST_ERR_CORRUPT,
                 "%d input file%s failed: %s (fix %s or leave %s out, then run the same "
                 "command with --resume)",
                 c->nfailed, c->nfailed > 1 ? "s" : "", c->failed_list,
                 c->nfailed > 1 ? "them" : "it", c->nfailed > 1 ? "them" : "it");
}

/* ---- helpers ---------------------------------------------------------------- */

static int64_t array_bytes(const st_array *a) {
  int64_t b = 0;
  for (int k = 0; k < 3; k++)
    if (a->mem[k]) b += (int64_t)a->mem[k]->size;
  for (int i = 0; i < a->n_children; i++) b += array_bytes(a->children[i]);
  if (a->dictionary) b += array_bytes(a->dictionary);
  return b;
}

int64_t st_imp_table_bytes(const st_table *t) {
  int64_t b = 0;
  for (int i = 0; i < t->n_columns; i++) b += array_bytes(t->columns[i]);
  return b;
}

int st_imp_pixels(const st_imp_ctx *c, const st_table *t, int order, double *ra, double *dec,
                  int64_t *out, st_error *err) {
  return st_imp_pixels_at(c, t, order, c->ra_idx, c->dec_idx, c->h29_idx, ra, dec, out, err);
}

int st_imp_pixels_at(const st_imp_ctx *c, const st_table *t, int order, int ra_idx, int dec_idx,
                     int h29_idx, double *ra, double *dec, int64_t *out, st_error *err) {
  int64_t n = t->n_rows;
  if (!c->use_h29) {
    ST_TRY(st_imp_coords(t, ra_idx, dec_idx, ra, dec, err));
    return st_hpx_ang2pix_hats_batch(order, ra, dec, n, out, err);  /* hats semantics */
  }
  const st_array *a = t->columns[h29_idx];
  const int64_t *v = (const int64_t *)a->buf[1] + a->offset;
  const int64_t top = (int64_t)12 << 58;
  int sh = 2 * (29 - order);
  for (int64_t i = 0; i < n; i++) {
    if (a->buf[0] && !st_array_is_valid(a, i))
      return st_fail(err, ST_ERR_INVALID, "row %lld: column '_healpix_29' is null", (long long)i);
    if (v[i] < 0 || v[i] >= top)
      return st_fail(err, ST_ERR_INVALID,
                     "row %lld: _healpix_29 = %lld is not an order-29 nested pixel (0..%lld)",
                     (long long)i, (long long)v[i], (long long)(top - 1));
    out[i] = v[i] >> sh;
  }
  return 0;
}

int st_imp_coords(const st_table *t, int ra_idx, int dec_idx, double *ra, double *dec,
                  st_error *err) {
  int idx[2] = {ra_idx, dec_idx};
  double *out[2] = {ra, dec};
  int64_t n = t->n_rows;
  for (int k = 0; k < 2; k++) {
    const st_field *f = &t->schema.children[idx[k]];
    const st_array *a = t->columns[idx[k]];
    if (a->buf[0])
      for (int64_t i = 0; i < n; i++)
        if (!st_array_is_valid(a, i))
          return st_fail(err, ST_ERR_INVALID, "row %lld: column '%s' is null", (long long)i, f->name);
    ST_TRY(st_table_column_doubles(t, idx[k], 0, n, out[k], err));
  }
  return 0;
}

/* LSD radix sort, 8-bit digits (measured: 11-bit digits with one counting
** pass are slower here, the 2048-way scatter missing the caches); a digit
** that is the same for every key costs its counting pass only. */
void st_imp_radix_sort(uint64_t *keys, int64_t *vals, int64_t n, uint64_t max_key, uint64_t *tk,
                       int64_t *tv) {
  int64_t cnt[256];
  uint64_t *sk = keys, *dk = tk;
  int64_t *sv = vals, *dv = tv;
  int passes = 0;
  for (int shift = 0; shift < 64 && (max_key >> shift) && n > 1; shift += 8) {
    memset(cnt, 0, sizeof cnt);
    for (int64_t i = 0; i < n; i++) cnt[(sk[i] >> shift) & 255]++;
    if (cnt[(sk[0] >> shift) & 255] == n) continue; /* one digit value: order unchanged */
    int64_t s = 0;
    for (int b = 0; b < 256; b++) {
      int64_t c = cnt[b];
      cnt[b] = s;
      s += c;
    }
    if (vals) {
      for (int64_t i = 0; i < n; i++) {
        uint64_t k = sk[i];
        int64_t p = cnt[(k >> shift) & 255]++;
        dk[p] = k, dv[p] = sv[i];
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        uint64_t k = sk[i];
        dk[cnt[(k >> shift) & 255]++] = k;
      }
    }
    uint64_t *x = sk;
    sk = dk, dk = x;
    int64_t *y = sv;
    sv = dv, dv = y;
    passes++;
  }
  if (passes & 1) {
    memcpy(keys, sk, (size_t)n * 8);
    if (vals) memcpy(vals, sv, (size_t)n * 8);
  }
}

/* ---- fixed-size lists through Parquet intermediates --------------------- */

/* Does `f` (a list type read from Parquet) become `to` (a fixed-size list)? */
static bool list_to_fixed(const st_field *f, const st_field *to) {
  if (to->type != ST_T_FIXED_LIST || (f->type != ST_T_LIST && f->type != ST_T_LARGE_LIST) ||
      f->n_children != 1 || to->n_children != 1)
    return false;
  const st_field *a = &f->children[0], *b = &to->children[0];
  if (b->type == ST_T_FIXED_LIST) return list_to_fixed(a, b);
  char ta[256], tb[256]; /* the element types (their names may differ) */
  st_field_type_string(a, ta, sizeof ta);
  st_field_type_string(b, tb, sizeof tb);
  return !strcmp(ta, tb);
}

int st_imp_restore_fixed_lists(const st_field *schema, st_table *t, st_error *err) {
  for (int i = 0; i < t->n_columns; i++) {
    st_field *f = &t->schema.children[i];
    const st_field *to = NULL;
    for (int k = 0; k < schema->n_children && !to; k++)
      if (schema->children[k].name && f->name && !strcmp(schema->children[k].name, f->name))
        to = &schema->children[k];
    /* large strings read back as strings (our reader ignores ARROW:schema) */
    bool large = to && ((f->type == ST_T_STRING && to->type == ST_T_LARGE_STRING) ||
                        (f->type == ST_T_BINARY && to->type == ST_T_LARGE_BINARY));
    if (!to || (!large && !list_to_fixed(f, to))) continue;
    st_field nf;
    ST_CHECK(!st_field_copy(&nf, to), err, ST_ERR_NOMEM, "out of memory");
    nf.nullable = nf.nullable || f->nullable;
    int rc;
    if (large) {
      rc = st_rd_cast_array(f, to, &t->columns[i], err);   /* in place */
    } else {
      st_array *a = NULL;
      rc = st_rd_fixed_from_list(f, t->columns[i], to, &a, err);
      if (!rc) st_array_free(t->columns[i]), t->columns[i] = a;
    }
    if (rc) {
      st_field_clear(&nf);
      return rc;
    }
    st_field_clear(f);
    *f = nf;
  }
  return 0;
}

/* A row size estimate from the schema (8 bytes per value, 32 per string). */
static double schema_row_bytes(const st_field *f) {
  if (f->n_children) {
    double b = 0;
    for (int i = 0; i < f->n_children; i++) b += schema_row_bytes(&f->children[i]);
    return f->type == ST_T_FIXED_LIST ? b * (f->byte_width > 0 ? f->byte_width : 1)
           : f->type == ST_T_STRUCT ? b : 4 * b;
  }
  int w = st_type_byte_width(f);
  return w > 0 ? w : w < 0 ? 1 : 32;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static int rm_rf(const char *path, st_error *err) {
  struct stat st;
  if (lstat(path, &st)) return 0;
  if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS))
    return st_fail(err, ST_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
  return 0;
}

/* Remove the temporaries ("X.tmp-PID-N", see st_outfile) that a killed run
** left in the build directory. */
static int rm_tmp_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  if (flag == FTW_F && strstr(p + ftw->base, ".tmp-")) remove(p);
  return 0;
}

static char *cat2(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 1);
  if (s) memcpy(s, a, la), memcpy(s + la, b, lb + 1);
  return s;
}

/* ---- finishing ---------------------------------------------------------------- */

/* The skymaps (point_map.fits, skymap.fits, skymap.K.fits: 2 x 27 MB for
** Tycho-2 at order 10, each written and fsynced) depend on the histogram
** only, so a thread writes them from the start of splitting on,
** overlapping splitting and reducing; finishing joins it (st_import_run joins it on
** every other path before the build directory may be removed).  Without
** the thread (pthread_create failed) finishing writes them itself. */
static int sky_write(st_imp_ctx *c, st_error *err) {
  return st_import_write_skymaps(c->build_dir, c->hist, c->map_order, c->o->skymap_alt_orders,
                                 c->o->n_skymap_alt_orders, err);
}

static void *sky_main(void *arg) {
  st_imp_ctx *c = arg;
  c->sky_rc = sky_write(c, &c->sky_err);
  return NULL;
}

static void sky_start(st_imp_ctx *c) {
  st_error_clear(&c->sky_err);
  c->sky_rc = 0;
  c->sky_started = !pthread_create(&c->sky_thread, NULL, sky_main, c);
}

static int sky_join(st_imp_ctx *c, st_error *err) {
  if (!c->sky_started) return 0;
  pthread_join(c->sky_thread, NULL);
  c->sky_started = false;
  if (c->sky_rc) *err = c->sky_err;
  return c->sky_rc;
}

static int finish(st_imp_ctx *c, st_error *err) {
  const st_import_options *o = c->o;
  const st_bin_result *b = &c->bin;
  char ds[4096];
  snprintf(ds, sizeof ds, "%s/dataset", c->build_dir);
  ST_TRY(st_import_write_partition_info(c->build_dir, b->parts, b->nparts, err));
  st_imp_progress(c, "Finishing", 1, 4);
  st_pq_dataset_meta *dm = NULL;
  ST_TRY(st_pq_dataset_meta_open(ds, &dm, err));
  for (int64_t p = 0; p < b->nparts; p++) {
    if ((p & 255) == 0 && st_imp_check_cancel(c, err)) {
      st_pq_dataset_meta_abort(dm);
      return err->code;
    }
    char rel[256];
    snprintf(rel, sizeof rel, "Norder=%d/Dir=%lld/Npix=%lld.parquet", b->parts[p].order,
             (long long)(b->parts[p].pixel / 10000 * 10000), (long long)b->parts[p].pixel);
    int rc = st_pq_dataset_meta_add(dm, rel, err);
    if (rc) {
      st_pq_dataset_meta_abort(dm);
      return rc;
    }
  }
  ST_TRY(st_pq_dataset_meta_close(dm, err));
  st_imp_progress(c, "Finishing", 1, 4);
  ST_TRY(st_imp_check_cancel(c, err));
  if (c->sky_started) ST_TRY(sky_join(c, err));
  else ST_TRY(sky_write(c, err));
  st_imp_progress(c, "Finishing", 1, 4);
  st_import_props pr;
  st_import_props_init(&pr);
  const char *name = o->name;
  char base[1024];
  if (!name) {
    snprintf(base, sizeof base, "%s", o->output);
    size_t l = strlen(base);
    while (l > 1 && base[l - 1] == '/') base[--l] = 0;
    char *s = strrchr(base, '/');
    name = s ? s + 1 : base;
  }
  int maxo = 0;
  for (int64_t p = 0; p < b->nparts; p++) maxo = b->parts[p].order > maxo ? b->parts[p].order : maxo;
  pr.catalog_name = name;
  pr.catalog_type = o->catalog_type;
  pr.total_rows = b->total_rows;
  pr.ra_column = o->ra_column;
  pr.dec_column = o->dec_column;
  if (!c->use_h29) { /* hats-import writes these only when it adds the column */
    pr.healpix_column = "_healpix_29";
    pr.healpix_order = 29;
  }
  pr.npix_suffix = ".parquet";
  pr.skymap_order = c->map_order;
  pr.skymap_alt_orders = o->n_skymap_alt_orders ? o->skymap_alt_orders : NULL;
  pr.n_skymap_alt_orders = o->n_skymap_alt_orders;
  pr.max_rows = o->pixel_threshold;
  pr.moc_sky_fraction = st_import_sky_fraction(b->parts, b->nparts);
  pr.cols_sort = o->sort_columns && *o->sort_columns ? o->sort_columns : NULL;
  pr.hats_order = maxo;
  ST_TRY(st_import_write_properties(c->build_dir, &pr, err));
  st_imp_progress(c, "Finishing", 1, 4);
  return 0;
}

/* The unified schema of the inputs: each file's schema is inferred on its
** own (so that a bad file is reported and the others still mapped) and
** unified in input order, as st_input_infer_schema does.  A CSV's whole-file
** inference also makes its ra/dec histogram (st_imp_pre_*, map.c) and stops
** on o->cancel. */
static int infer_schema(st_imp_ctx *c, st_error *err) {
  const st_import_options *o = c->o;
  int have = 0, first = -1;
  /* A column that is empty in one file stays null-typed until all files are
  ** unified, so it takes its type from the files that have values. */
  st_input_options iopt = c->in_opt;
  iopt.keep_null_type = true;
  iopt.cancel = o->cancel; /* a whole-file inference stops on Ctrl-C */
  iopt.infer_threads = c->nthreads; /* a big CSV's inference in parts */
  iopt.hats_import_types = true;    /* CSV types as hats-import's (pandas) */
  for (int f = 0; f < o->n_inputs; f++) {
    ST_TRY(st_imp_check_cancel(c, err));
    st_field one, u;
    st_error e = {0};
    const char *path = o->inputs[f];
    /* a CSV's ra/dec histogram is made in the same pass (map.c) */
    ST_TRY(st_imp_pre_begin(c, f, &iopt, err));
    int ir = st_input_infer_schema(&path, 1, &iopt, &one, &e);
    st_imp_pre_end(c, f, ir == 0);
    if (ir == ST_ERR_INTERRUPTED) { /* the standard message */
      int r = st_imp_check_cancel(c, err);
      return r ? r : st_fail(err, ST_ERR_INTERRUPTED, "%s", e.msg);
    }
    if (ir) {
      c->failed[f] = 1;
      st_imp_file_failed(c, f, &e);
      continue;
    }
    if (!have) {
      c->schema = one;
      have = 1, first = f;
      continue;
    }
    int rc = st_schema_unify(&c->schema, o->inputs[first], &one, path, &u, err);
    st_field_clear(&one);
    if (rc) return rc;
    st_field_clear(&c->schema);
    c->schema = u;
  }
  if (!have)
    return st_fail(err, ST_ERR_CORRUPT, "%d input file%s failed: %s", c->nfailed,
                   c->nfailed > 1 ? "s" : "", c->failed_list);
  st_schema_finalize_nulls(&c->schema);
  return 0;
}

/* --sort-columns -> c->sort_cols (indices in the spill schema, whose column
** 0 is _healpix_29), checked before any file is read. */
static int parse_sort_columns(st_imp_ctx *c, st_error *err) {
  const char *sc = c->o->sort_columns;
  if (!sc || !*sc) return 0;
  c->sort_cols = calloc(strlen(sc) + 1, sizeof(int));
  ST_CHECK(c->sort_cols, err, ST_ERR_NOMEM, "out of memory");
  const char *p = sc;
  while (*p) {
    const char *q = strchr(p, ',');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    int found = -1;
    for (int i = 0; i < c->schema.n_children; i++)
      if (strlen(c->schema.children[i].name) == len && !strncmp(c->schema.children[i].name, p, len))
        found = i;
    if (found < 0)
      return st_fail(err, ST_ERR_NOTFOUND, "--sort-columns: no column '%.*s' in the input",
                     (int)len, p);
    if (!st_imp_sortable(c->schema.children[found].type))
      return st_fail(err, ST_ERR_UNSUPPORTED,
                     "--sort-columns: sorting by a %s column ('%s') is not supported yet",
                     st_type_name(c->schema.children[found].type), c->schema.children[found].name);
    c->sort_cols[c->n_sort++] = found + c->col_shift;
    p = q ? q + 1 : p + len;
  }
  return 0;
}

static uint64_t mix_str(uint64_t h, const char *p) {
  for (; p && *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL;
}

/* The options that shape the catalog, as STATE/options.txt holds them: a
** resumed run with different ones is an error (hard part); the unified
** schema (soft part, after a "--" line) may change when a fixed input joins
** and only decides whether the saved split is reused (*same). */
static int options_match(st_imp_ctx *c, bool fresh, bool *same, st_error *err) {
  const st_import_options *o = c->o;
  const st_input_options *in = &c->in_opt;
  char cur[8192], old[8192] = {0}, path[4200];
  /* FNV-1a of the existing partitions, the column selections and the
  ** reader options */
  uint64_t h = 1469598103934665603ULL, r = h, sh = h;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ULL)
  for (int64_t i = 0; i < o->n_existing; i++) MIX(o->existing_orders[i]), MIX(o->existing_pixels[i]);
  for (int i = 0; i < in->n_columns; i++) h = mix_str(h, in->columns[i]);
  MIX(0xff);
  for (int i = 0; i < in->n_drop; i++) h = mix_str(h, in->drop_columns[i]);
#undef MIX
  r = mix_str(r, in->format ? in->format : "auto");
  r = (r ^ (uint64_t)(uint8_t)in->delimiter) * 1099511628211ULL;
  r = (r ^ (uint64_t)(uint8_t)in->quote) * 1099511628211ULL;
  r = (r ^ (uint64_t)(uint8_t)in->comment) * 1099511628211ULL;
  r = (r ^ (uint64_t)in->header) * 1099511628211ULL;
  r = (r ^ (uint64_t)in->fits_hdu) * 1099511628211ULL;
  for (int i = 0; i < in->n_column_names; i++) r = mix_str(r, in->column_names[i]);
  r = (r ^ (uint64_t)in->n_null_values ^ ((uint64_t)(in->null_values != NULL) << 40)) *
      1099511628211ULL;
  for (int i = 0; i < in->n_null_values; i++) r = mix_str(r, in->null_values[i]);
  for (int i = 0; i < c->schema.n_children; i++) {
    char ts[256];
    st_field_type_string(&c->schema.children[i], ts, sizeof ts);
    sh = mix_str(mix_str(sh, c->schema.children[i].name), ts);
  }
  int k = snprintf(cur, sizeof cur,
           "ra=%s\ndec=%s\nsort=%s\ncodec=%d:%d\nrgrows=%lld\nhighest=%d\nlowest=%d\n"
           "constant=%d\nthreshold=%lld\ndrop=%d\nbytes=%lld\nsubtile=%d\nexisting=%lld:%llx\n"
           "columns=%llx\nfilename=%s:%s\nh29=%d\nreader=%llx\n--\nschema=%llx\n",
           o->ra_column, o->dec_column, o->sort_columns ? o->sort_columns : "", o->compression,
           o->compression_level, (long long)o->row_group_rows, o->highest_order, o->lowest_order,
           o->constant_order, (long long)o->pixel_threshold, (int)o->drop_empty_siblings,
           (long long)o->byte_threshold, o->row_group_subtile_delta, (long long)o->n_existing,
           (unsigned long long)h, (unsigned long long)h,
           in->filename_regex ? in->filename_regex : "", in->filename_column ? in->filename_column : "",
           c->use_h29, (unsigned long long)r, (unsigned long long)sh);
  ST_CHECK(k > 0 && (size_t)k < sizeof cur, err, ST_ERR_INVALID, "import: options too long");
  snprintf(path, sizeof path, "%s/options.txt", c->state_dir);
  FILE *f = fresh ? NULL : fopen(path, "rb");
  if (f) {
    size_t n = fread(old, 1, sizeof old - 1, f);
    old[n] = 0;
    fclose(f);
  }
  if (f && strstr(old, "\n--\n")) {
    /* the first differing line of the hard part (before the "--" line) */
    const char *p = old, *q = cur;
    for (;;) {
      int lp = (int)strcspn(p, "\n"), lq = (int)strcspn(q, "\n");
      bool ep = !*p || (lp == 2 && !strncmp(p, "--", 2)), eq = !*q || (lq == 2 && !strncmp(q, "--", 2));
      if (ep && eq) break;
      if (ep || eq || lp != lq || memcmp(p, q, (size_t)lp))
        return st_fail(err, ST_ERR_INVALID,
                       "--resume: the interrupted import used other options (%.*s, now %.*s; "
                       "see %s); run it with the same options, or use --overwrite to discard "
                       "the saved state and start over",
                       lp, p, lq, q, path);
      p += lp + (p[lp] != 0), q += lq + (q[lq] != 0);
    }
  }
  *same = f && !strcmp(old, cur);
  if (f && *same) return 0;
  f = fopen(path, "wb");
  if (!f || fputs(cur, f) < 0 || fclose(f)) {
    if (f) fclose(f);
    return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
  }
  return 0;
}

/* mkdir -p: create dir and its missing parents. */
static int mkdir_p(const char *dir, st_error *err) {
  char p[4200];
  int k = snprintf(p, sizeof p, "%s", dir);
  ST_CHECK(k > 0 && (size_t)k < sizeof p, err, ST_ERR_INVALID, "%s: path too long", dir);
  for (char *s = p + 1; ; s++) {
    if (*s && *s != '/') continue;
    char ch = *s;
    *s = 0;
    struct stat st;
    if (mkdir(p, 0777) && errno != EEXIST)
      return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
    if (stat(p, &st) || !S_ISDIR(st.st_mode))
      return st_fail(err, ST_ERR_IO, "%s: cannot create directory: not a directory", p);
    if (!ch) break;
    *s = ch;
  }
  return 0;
}

/* mkdir -p of the directory holding path (nothing if path has no '/'). */
static int mkdir_parent(const char *path, st_error *err) {
  char p[4200];
  int k = snprintf(p, sizeof p, "%s", path);
  ST_CHECK(k > 0 && (size_t)k < sizeof p, err, ST_ERR_INVALID, "%s: path too long", path);
  char *s = strrchr(p, '/');
  if (!s || s == p) return 0;
  *s = 0;
  return mkdir_p(p, err);
}

/* ---- the run ------------------------------------------------------------------ */

static int run(st_imp_ctx *c, st_error *err) {
  const st_import_options *o = c->o;
  struct stat st;
  /* schema of all inputs */
  st_input_options_init(&c->in_opt);
  if (o->input) {
    size_t n = o->input->struct_size && o->input->struct_size < sizeof c->in_opt
                   ? o->input->struct_size : sizeof c->in_opt;
    memcpy(&c->in_opt, o->input, n);
    c->in_opt.struct_size = sizeof c->in_opt;
  }
  if (o->format) c->in_opt.format = o->format;
  c->use_h29 = o->use_healpix_29;
  /* hats-import's parquet reader (pyarrow) keeps a pandas index such as a
  ** `_healpix_29` index as a column */
  if (c->use_h29) c->in_opt.keep_pandas_index = true;
  ST_TRY(infer_schema(c, err));
  c->in_opt.schema = &c->schema;
  c->ra_idx = c->dec_idx = c->h29_idx = -1;
  for (int i = 0; i < c->schema.n_children; i++) {
    if (!strcmp(c->schema.children[i].name, o->ra_column)) c->ra_idx = i;
    if (!strcmp(c->schema.children[i].name, o->dec_column)) c->dec_idx = i;
    if (!strcmp(c->schema.children[i].name, "_healpix_29")) c->h29_idx = i;
  }
  if (c->use_h29) {
    ST_CHECK(c->h29_idx >= 0, err, ST_ERR_NOTFOUND,
             "--use-healpix-29: no column '_healpix_29' in %s", o->inputs[0]);
    ST_CHECK(c->schema.children[c->h29_idx].type == ST_T_INT64, err, ST_ERR_SCHEMA,
             "--use-healpix-29: column '_healpix_29' is %s, not int64",
             st_type_name(c->schema.children[c->h29_idx].type));
    ST_CHECK(!o->sort_columns || !*o->sort_columns, err, ST_ERR_INVALID,
             "--use-healpix-29: rows are sorted by the input's _healpix_29 only; "
             "--sort-columns cannot be used with it (as in hats-import)");
  } else {
    ST_CHECK(c->h29_idx < 0, err, ST_ERR_INVALID,
             "the input already has a _healpix_29 column: use --use-healpix-29 to position "
             "rows by it, or --drop-columns _healpix_29 to compute it again from %s/%s",
             o->ra_column, o->dec_column);
    ST_CHECK(c->ra_idx >= 0, err, ST_ERR_NOTFOUND, "no column '%s' (--ra-column) in %s",
             o->ra_column, o->inputs[0]);
    ST_CHECK(c->dec_idx >= 0, err, ST_ERR_NOTFOUND, "no column '%s' (--dec-column) in %s",
             o->dec_column, o->inputs[0]);
  }
  /* spill/leaf columns: _healpix_29 first, then the input's; or with
  ** use_h29 the input's only, _healpix_29 staying where it is */
  c->hcol = c->use_h29 ? c->h29_idx : 0;
  c->col_shift = c->use_h29 ? 0 : 1;
  ST_TRY(parse_sort_columns(c, err));
  /* directories (missing parents are created); state left by an unfinished
  ** run is continued with --resume, discarded with --overwrite, else an
  ** error (the build directory is then kept for a resume) */
  bool fresh = true, same_opts = false, same_inputs = false;
  if (!lstat(c->state_dir, &st)) {
    if (o->resume) {
      fresh = false;
      c->keep_build = true;
    } else if (o->overwrite) {
      ST_TRY(rm_rf(c->state_dir, err));
    } else {
      c->keep_build = true;
      return st_fail(err, ST_ERR_INVALID,
                     "%s holds the state of an unfinished import into %s: run the same command "
                     "with --resume to continue it, or add --overwrite to discard it and start "
                     "over",
                     c->state_dir, o->output);
    }
  }
  ST_TRY(mkdir_parent(c->build_dir, err));
  ST_TRY(mkdir_p(c->state_dir, err));
  if (fresh) ST_TRY(rm_rf(c->build_dir, err));
  if (mkdir(c->build_dir, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", c->build_dir, strerror(errno));
  ST_TRY(options_match(c, fresh, &same_opts, err));
  /* map */
  c->hist_npix = st_hpx_npix(c->map_order);
  c->hist = calloc((size_t)c->hist_npix, 8);
  ST_CHECK(c->hist, err, ST_ERR_NOMEM, "out of memory for the order-%d histogram", c->map_order);
  if (o->byte_threshold > 0) {
    c->bytes_hist = calloc((size_t)c->hist_npix, 8);
    ST_CHECK(c->bytes_hist, err, ST_ERR_NOMEM, "out of memory for the order-%d histogram",
             c->map_order);
  }
  ST_TRY(st_imp_state_map_begin(c, fresh, &same_inputs, err));
  c->done = 0;
  ST_TRY(st_imp_map(c, err));
  ST_TRY(st_imp_check_cancel(c, err));
  if (c->nfailed) return files_failed(c, err);
  /* bin */
  c->done = 0;
  st_imp_progress(c, "Binning", 0, 1);
  st_bin_options bo = {0};
  bo.highest_order = c->map_order;
  bo.lowest_order = o->lowest_order < c->map_order ? o->lowest_order : c->map_order;
  bo.constant_order = o->constant_order >= 0 ? c->map_order : -1;
  bo.threshold = o->byte_threshold > 0 && !o->n_existing ? o->byte_threshold : o->pixel_threshold;
  bo.bytes = o->byte_threshold > 0 && !o->n_existing ? c->bytes_hist : NULL;
  bo.drop_empty_siblings = o->drop_empty_siblings;
  bo.existing_orders = o->existing_orders;
  bo.existing_pixels = o->existing_pixels;
  bo.n_existing = o->n_existing;
  ST_TRY(st_bin(c->hist, &bo, &c->bin, err));
  /* st_bin checks that its partitions hold the histogram's total (no
  ** second pass over the histogram here) */
  int64_t total = c->bin.total_rows;
  ST_CHECK(total > 0, err, ST_ERR_INVALID, "the input holds no rows");
  /* memory: the row size (sampled while mapping, else from the schema) gives
  ** the rows one worker may sort in memory; the split stage reads batches of
  ** at most 1/16 of a worker's budget */
  if (c->sample_rows > 0) c->row_bytes = (double)c->sample_bytes / (double)c->sample_rows;
  else c->row_bytes = schema_row_bytes(&c->schema);
  c->row_bytes += 8; /* _healpix_29 */
  if (c->row_bytes < 16) c->row_bytes = 16;
  double budget = (double)c->mem_limit / c->nthreads;
  c->mem_rows = (int64_t)(budget / (3 * c->row_bytes));
  if (c->mem_rows < 1024) c->mem_rows = 1024;
  if (!c->in_opt.batch_rows) {
    int64_t br = (int64_t)(budget / 16 / c->row_bytes);
    c->in_opt.batch_rows = br < 1024 ? 1024 : br > 262144 ? 262144 : br;
  }
  c->split_bytes = (int64_t)(budget / 8);
  /* buckets of consecutive partitions (the unit of spill row groups and of
  ** reduce work): at most the threshold rows and what fits in memory, or
  ** one partition */
  int64_t brows = o->pixel_threshold < c->mem_rows ? o->pixel_threshold : c->mem_rows;
  c->bucket_of = calloc((size_t)c->bin.nparts, sizeof *c->bucket_of);
  c->bucket_first = calloc((size_t)c->bin.nparts + 1, sizeof *c->bucket_first);
  ST_CHECK(c->bucket_of && c->bucket_first, err, ST_ERR_NOMEM, "out of memory");
  int64_t acc = 0;
  for (int64_t p = 0; p < c->bin.nparts; p++) {
    if (p == 0 || acc + c->bin.parts[p].rows > brows) {
      c->bucket_first[c->nbuckets++] = p;
      acc = 0;
    }
    acc += c->bin.parts[p].rows;
    c->bucket_of[p] = (int32_t)(c->nbuckets - 1);
  }
  c->bucket_first[c->nbuckets] = c->bin.nparts;
  st_imp_progress(c, "Binning", 1, 1);
  /* split (skipped on resume when its index matches this binning) */
  int split_done = 0;
  if (!fresh && same_opts && same_inputs)
    ST_TRY(st_imp_state_load_split(c->state_dir, &c->bin, 256, &c->runs, &c->nruns, &split_done,
                                   err));
  for (int64_t r = 0; split_done && r < c->nruns; r++)
    if (c->runs[r].file < 0 || c->runs[r].file >= o->n_inputs) split_done = 0;
  if (!split_done) {
    free(c->runs);
    c->runs = NULL;
    c->nruns = c->runs_cap = 0;
  }
  char ds[4096];
  snprintf(ds, sizeof ds, "%s/dataset", c->build_dir);
  if (split_done) {
    c->reuse_leaves = true;
    nftw(c->build_dir, rm_tmp_cb, 32, FTW_PHYS);
    sky_start(c); /* after the temporaries' removal: it writes temporaries */
    c->done = 0;
    st_imp_progress(c, "Splitting", o->n_inputs, o->n_inputs);
  } else {
    ST_TRY(rm_rf(ds, err)); /* leaves of an older split are not trusted */
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/split/index.bin", c->state_dir);
    ST_TRY(rm_rf(idx, err)); /* it would describe spill files about to be rewritten */
    c->done = 0;
    st_imp_progress(c, "Splitting", 0, o->n_inputs); /* the stage starts (timings) */
    sky_start(c); /* the skymaps need only the histogram: written meanwhile */
    int src = st_imp_split(c, err);
    /* inputs that failed here (a damaged column other than ra/dec): a
    ** tombstone each, so that a resumed run maps them again; no index is
    ** saved, so the split is done again */
    if (c->nfailed) {
      st_error e2 = {0};
      int r2 = st_imp_state_add_failures(c, src ? &e2 : err);
      if (!src && r2) return r2;
    }
    ST_TRY(src);
    if (c->nfailed) return files_failed(c, err);
    ST_TRY(st_imp_state_save_split(c->state_dir, &c->bin, c->runs, c->nruns, err));
  }
  int64_t split_rows = 0;
  for (int64_t r = 0; r < c->nruns; r++) split_rows += c->runs[r].rows;
  ST_CHECK(split_rows == total, err, ST_ERR_INVALID,
           "splitting: %lld rows split, %lld mapped (did an input change?)", (long long)split_rows,
           (long long)total);
  /* reduce */
  c->keep_build = true;
  if (mkdir(ds, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", ds, strerror(errno));
  c->done = 0;
  st_imp_progress(c, "Reducing", 0, c->bin.nparts); /* the stage starts (timings) */
  ST_TRY(st_imp_reduce(c, err));
  /* finish (the build directory is kept on failure: a resume reuses the leaves) */
  c->done = 0;
  ST_TRY(st_imp_check_cancel(c, err));
  ST_TRY(finish(c, err));
  ST_TRY(st_imp_check_cancel(c, err));
  if (!stat(o->output, &st)) {
    char *old = cat2(o->output, ".old-skytile");
    ST_CHECK(old, err, ST_ERR_NOMEM, "out of memory");
    int rc = rm_rf(old, err);
    if (!rc && rename(o->output, old))
      rc = st_fail(err, ST_ERR_IO, "%s: cannot move aside: %s", o->output, strerror(errno));
    if (!rc && rename(c->build_dir, o->output))
      rc = st_fail(err, ST_ERR_IO, "%s: cannot rename to %s: %s", c->build_dir, o->output,
                   strerror(errno));
    if (!rc) rc = rm_rf(old, err);
    free(old);
    ST_TRY(rc);
  } else if (rename(c->build_dir, o->output)) {
    return st_fail(err, ST_ERR_IO, "%s: cannot rename to %s: %s", c->build_dir, o->output,
                   strerror(errno));
  }
  return rm_rf(c->state_dir, err);
}

int st_import_run(const st_import_options *o, st_error *err) {
  st_error_clear(err);
  ST_CHECK(o && o->struct_size >= sizeof *o, err, ST_ERR_INVALID, "import: bad options struct");
  ST_CHECK(o->n_inputs > 0 && o->inputs, err, ST_ERR_INVALID, "import: no input files");
  ST_CHECK(o->output && *o->output, err, ST_ERR_INVALID, "import: no output directory");
  ST_CHECK(o->highest_order >= 0 && o->highest_order <= ST_BIN_MAX_ORDER, err, ST_ERR_INVALID,
           "import: highest order %d is outside 0..%d", o->highest_order, ST_BIN_MAX_ORDER);
  ST_CHECK(o->constant_order <= ST_BIN_MAX_ORDER, err, ST_ERR_INVALID,
           "import: constant order %d is outside 0..%d", o->constant_order, ST_BIN_MAX_ORDER);
  ST_CHECK(o->constant_order >= 0 ||
               (o->lowest_order >= 0 && o->lowest_order <= o->highest_order),
           err, ST_ERR_INVALID, "import: lowest order %d is outside 0..%d (the highest order)",
           o->lowest_order, o->highest_order);
  int map_order = o->constant_order >= 0 ? o->constant_order : o->highest_order;
  for (int i = 0; i < o->n_skymap_alt_orders; i++)
    ST_CHECK(o->skymap_alt_orders[i] >= 0 && o->skymap_alt_orders[i] < map_order, err,
             ST_ERR_INVALID, "import: skymap order %d is outside 0..%d (below the mapping order)",
             o->skymap_alt_orders[i], map_order - 1);
  ST_CHECK(o->byte_threshold >= 0, err, ST_ERR_INVALID, "import: byte threshold must be >= 0");
  ST_CHECK(o->row_group_subtile_delta < 0 || o->row_group_rows <= 0, err, ST_ERR_INVALID,
           "import: choose either rows per row group or a row group subtile delta");
  ST_CHECK(o->row_group_subtile_delta <= 29, err, ST_ERR_INVALID,
           "import: row group subtile delta %d is above 29", o->row_group_subtile_delta);
  ST_CHECK(o->n_existing >= 0 && (!o->n_existing || (o->existing_orders && o->existing_pixels)),
           err, ST_ERR_INVALID, "import: bad existing pixels");
  for (int64_t i = 0; i < o->n_existing; i++)
    ST_CHECK(o->existing_orders[i] <= map_order, err, ST_ERR_INVALID,
             "import: existing partition of order %d is above the mapping order %d (raise "
             "--highest-order)", o->existing_orders[i], map_order);
  ST_CHECK(o->pixel_threshold > 0, err, ST_ERR_INVALID, "import: pixel threshold must be > 0");
  ST_CHECK(o->ra_column && o->dec_column, err, ST_ERR_INVALID, "import: no ra/dec column names");
  struct stat st;
  ST_CHECK(o->overwrite || stat(o->output, &st), err, ST_ERR_INVALID,
           "%s already exists (use --overwrite to replace it)", o->output);
  st_imp_ctx c;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.map_order = map_order;
  c.mem_limit = o->memory_limit;
  if (c.mem_limit <= 0) {
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    c.mem_limit = pages > 0 && psz > 0 ? (int64_t)pages * psz / 4 : (int64_t)1 << 30;
  }
  c.failed = calloc((size_t)o->n_inputs, 1);
  c.ver_size = calloc((size_t)o->n_inputs, sizeof *c.ver_size);
  c.ver_mtime = calloc((size_t)o->n_inputs, sizeof *c.ver_mtime);
  if (!c.failed || !c.ver_size || !c.ver_mtime) {
    free(c.failed), free(c.ver_size), free(c.ver_mtime);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  c.nthreads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (c.nthreads < 1) c.nthreads = 1;
  if (c.nthreads > 256) c.nthreads = 256;
  pthread_mutex_init(&c.lock, NULL);
  char out[4096];
  snprintf(out, sizeof out, "%s", o->output);
  size_t l = strlen(out);
  while (l > 1 && out[l - 1] == '/') out[--l] = 0;
  c.build_dir = cat2(out, ".tmp-skytile");
  if (o->tmp_dir) {
    const char *s = strrchr(out, '/');
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/%s.skytile-state", o->tmp_dir, s ? s + 1 : out);
    c.state_dir = st_strdup(sub);
  } else {
    c.state_dir = cat2(out, ".skytile-state");
  }
  int rc;
  if (!c.build_dir || !c.state_dir) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  else rc = run(&c, err);
  st_error e3 = {0};
  int r3 = sky_join(&c, &e3); /* before the build directory may go */
  if (!rc && r3) rc = r3, *err = e3;
  if (rc && !c.keep_build) {
    st_error e2 = {0};
    rm_rf(c.build_dir, &e2);
  }
  free(c.build_dir);
  free(c.state_dir);
  free(c.hist);
  free(c.bytes_hist);
  free(c.runs);
  free(c.failed);
  free(c.ver_size), free(c.ver_mtime);
  free(c.mapped);
  free(c.state_idx);
  free(c.sort_cols);
  free(c.bucket_of);
  free(c.bucket_first);
  st_imp_pre_free(&c);
  st_bin_result_free(&c.bin);
  st_field_clear(&c.schema);
  pthread_mutex_destroy(&c.lock);
  return rc;
}
