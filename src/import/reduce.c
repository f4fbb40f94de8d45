/*
** This file implements the reducing stage of the import pipeline: for each
** destination partition, its runs (row groups of the spill files, see
** split.c) are read in (input file, batch) order, concatenated, checked
** against the row count binning expects, sorted by `_healpix_29` (stable
** LSD radix sort) and then, for rows with equal `_healpix_29`, by the
** --sort-columns (ascending, NaN after numbers, nulls last, as pyarrow's
** sort_by), and written as the leaf file
** BUILD/dataset/Norder=K/Dir=D/Npix=P.parquet (D = 10000 * (P / 10000))
** with `sorting_columns` recorded, as hats-import's reduce_pixel_shards.
** Row groups: one per leaf, or --row-group-rows rows each, or (subtile
** delta D) one per non-empty pixel of order K + D, split at 1Mi rows, as
** hats' split_to_row_groups + pyarrow's writer.
**
** Workers take buckets (consecutive partitions, see pipeline.c) from an
** atomic counter, the buckets with the most rows first (so the workers
** finish together), read each row group of the bucket once and slice every
** partition's runs out of them; each worker opens its own readers of the
** spill files.  Memory: the bucket's rows (<= the rows a worker may sort,
** c->mem_rows, or one partition) plus the partition's copy and its sorted
** copy (a partition of one run is a slice of its row group: no first copy).
**
** External merge sort: a bucket that is one partition of more than
** mem_rows rows is reduced in chunks: its runs are read in input order,
** each chunk of mem_rows rows is sorted and written as a run file
** STATE/reduce/P-K.parquet (LZ4, row groups of mem_rows / (runs + 1)
** rows), then the runs are merged with a binary heap keyed by
** (_healpix_29, sort columns, run number) -- so ties keep the input order
** and the result equals the in-memory sort -- into the leaf writer, in
** batches of the same size, each batch written as it is complete (the
** leaf then has row groups of at most that size).  At most
** rows / mem_rows + 1 run files exist per worker; they are removed after
** the merge.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/pipeline.h"
#include "skytile/parquet.h"
#include "util/mem.h"

typedef struct reduce_job {
  int64_t next;       /* next bucket (atomic)                  */
  int64_t *first;     /* nparts+1: runs of partition p are     */
                      /* c->runs[first[p] .. first[p+1])       */
  int *sort_cols;     /* column indices in the spill schema    */
  int n_sort;
  int nspill;         /* spill files referenced (max index + 1) */
  int64_t mem_rows;   /* rows a worker sorts in memory (budget) */
  int64_t chunk_rows; /* rows per sorted run (external path)    */
  int hcol;           /* column of _healpix_29 (the sort key)   */
  int64_t *order;     /* buckets, most rows first               */
} reduce_job;

/* Runs of a partition are concatenated in the order hats-import reads its
** shards (pyarrow lists "shard_split_<file>_<chunk>.parquet" sorted by
** name): input files in the lexicographic order of their decimal index
** (0, 1, 10, 11, 2, ...), then batches in order.  This only shows for rows
** with equal _healpix_29 (and sort columns), which keep this order. */
static int dec_cmp(const void *a, const void *b) {
  char x[16], y[16];
  snprintf(x, sizeof x, "%d", *(const int *)a);
  snprintf(y, sizeof y, "%d", *(const int *)b);
  return strcmp(x, y);
}

static int run_cmp(const void *a, const void *b, void *arg) {
  const st_imp_run *x = a, *y = b;
  const int *rank = arg;
  if (x->part != y->part) return x->part < y->part ? -1 : 1;
  if (x->file != y->file) return rank[x->file] < rank[y->file] ? -1 : 1;
  if (x->batch != y->batch) return x->batch < y->batch ? -1 : 1;
  return 0;
}

/* Leaf index of top-level column `col` of schema s. */
static int leaf_count(const st_field *f) {
  if (f->n_children == 0) return 1;
  int n = 0;
  for (int i = 0; i < f->n_children; i++) n += leaf_count(&f->children[i]);
  return n;
}

typedef struct cmp_ctx {
  const st_table *t;
  const int *cols;
  int n;
} cmp_ctx;

/* Compare row i of a with row j of b (same field f): nulls last, NaN after
** numbers, as pyarrow's sort_by. */
static int cmp_value(const st_field *f, const st_array *a, int64_t i, const st_array *b, int64_t j) {
  bool vi = st_array_is_valid(a, i), vj = st_array_is_valid(b, j);
  if (!vi || !vj) return vi == vj ? 0 : (vi ? -1 : 1);
  int64_t oi = i + a->offset, oj = j + b->offset;
  switch (f->type) {
#define INTCASE(T, CT)                                                                             \
  case T: {                                                                                        \
    CT x = ((const CT *)a->buf[1])[oi], y = ((const CT *)b->buf[1])[oj];                           \
    return x < y ? -1 : x > y;                                                                     \
  }
    INTCASE(ST_T_INT8, int8_t)
    INTCASE(ST_T_INT16, int16_t)
    INTCASE(ST_T_INT32, int32_t)
    INTCASE(ST_T_INT64, int64_t)
    INTCASE(ST_T_UINT8, uint8_t)
    INTCASE(ST_T_UINT16, uint16_t)
    INTCASE(ST_T_UINT32, uint32_t)
    INTCASE(ST_T_UINT64, uint64_t)
    INTCASE(ST_T_DATE32, int32_t)
    INTCASE(ST_T_DATE64, int64_t)
    INTCASE(ST_T_TIMESTAMP, int64_t)
    INTCASE(ST_T_TIME64, int64_t)
    INTCASE(ST_T_TIME32, int32_t)
    INTCASE(ST_T_DURATION, int64_t)
#undef INTCASE
  case ST_T_FLOAT:
  case ST_T_DOUBLE: {
    double x = f->type == ST_T_FLOAT ? ((const float *)a->buf[1])[oi] : ((const double *)a->buf[1])[oi];
    double y = f->type == ST_T_FLOAT ? ((const float *)b->buf[1])[oj] : ((const double *)b->buf[1])[oj];
    if (isnan(x) || isnan(y)) return isnan(x) == isnan(y) ? 0 : (isnan(x) ? 1 : -1);
    return x < y ? -1 : x > y;
  }
  case ST_T_BOOL: {
    int x = (a->buf[1][oi >> 3] >> (oi & 7)) & 1, y = (b->buf[1][oj >> 3] >> (oj & 7)) & 1;
    return x - y;
  }
  case ST_T_STRING:
  case ST_T_BINARY: {
    const int32_t *o = (const int32_t *)a->buf[1], *q = (const int32_t *)b->buf[1];
    size_t li = (size_t)(o[oi + 1] - o[oi]), lj = (size_t)(q[oj + 1] - q[oj]);
    int r = memcmp(a->buf[2] + o[oi], b->buf[2] + q[oj], li < lj ? li : lj);
    return r ? r : (li < lj ? -1 : li > lj);
  }
  case ST_T_LARGE_STRING:
  case ST_T_LARGE_BINARY: {
    const int64_t *o = (const int64_t *)a->buf[1], *q = (const int64_t *)b->buf[1];
    size_t li = (size_t)(o[oi + 1] - o[oi]), lj = (size_t)(q[oj + 1] - q[oj]);
    int r = memcmp(a->buf[2] + o[oi], b->buf[2] + q[oj], li < lj ? li : lj);
    return r ? r : (li < lj ? -1 : li > lj);
  }
  default:
    return 0;
  }
}

static int row_cmp(const void *pa, const void *pb, void *arg) {
  const cmp_ctx *k = arg;
  int64_t i = *(const int64_t *)pa, j = *(const int64_t *)pb;
  for (int c = 0; c < k->n; c++) {
    int col = k->cols[c];
    int r = cmp_value(&k->t->schema.children[col], k->t->columns[col], i, k->t->columns[col], j);
    if (r) return r;
  }
  return i < j ? -1 : i > j; /* stable */
}

bool st_imp_sortable(st_type_id t) {
  return t != ST_T_NULL && t != ST_T_FLOAT16 && t != ST_T_DECIMAL128 && t != ST_T_DECIMAL256 &&
         t != ST_T_FIXED_BINARY && t < ST_T_LIST;
}

static int mkdirs(char *path, st_error *err) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int r = mkdir(path, 0777);
    int e = errno;
    *p = '/';
    if (r && e != EEXIST) return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", path, strerror(e));
  }
  return 0;
}

/* A row group of a spill file loaded for the bucket being reduced. */
typedef struct rg_table {
  int32_t spill, row_group;
  st_table *t;
} rg_table;

static int rg_cmp(const void *a, const void *b) {
  const rg_table *x = a, *y = b;
  if (x->spill != y->spill) return x->spill < y->spill ? -1 : 1;
  return (x->row_group > y->row_group) - (x->row_group < y->row_group);
}

static void leaf_path(const st_imp_ctx *c, int64_t p, char *path, size_t cap) {
  const st_bin_partition *bp = &c->bin.parts[p];
  snprintf(path, cap, "%s/dataset/Norder=%d/Dir=%lld/Npix=%lld.parquet", c->build_dir, bp->order,
           (long long)(bp->pixel / 10000 * 10000), (long long)bp->pixel);
}

/* Resume: a leaf already written with the expected rows is kept (the writer
** renames complete files into place), as hats-import does. */
static bool leaf_done(const st_imp_ctx *c, int64_t p) {
  if (!c->reuse_leaves) return false;
  char path[4096];
  leaf_path(c, p, path, sizeof path);
  st_pq_reader *lr = NULL;
  st_error e2 = {0};
  bool keep = !st_pq_open(path, NULL, &lr, &e2) && st_pq_num_rows(lr) == c->bin.parts[p].rows;
  st_pq_close(lr);
  return keep;
}

/* The writer's interrupt hook: a cancel request (Ctrl-C) or another
** worker's failure stops a leaf between two pages, not after the whole
** leaf (a 4M-row ZSTD-15 leaf took ~30 s). */
static int leaf_interrupt(void *ctx) {
  const st_imp_ctx *c = ctx;
  return (c->o->cancel && *c->o->cancel) || c->stop;
}

/* Write options of a leaf: codec, sorting columns (_healpix_29 then the
** --sort-columns, as leaf indices), rows per row group, interrupt hook. */
static void leaf_options(const st_imp_ctx *c, const reduce_job *j, const st_field *schema,
                         st_pq_write_options *wo, st_pq_sort_column *sc, int64_t nrows) {
  int nsc = 0, hleaf = 0;
  for (int k = 0; k < j->hcol; k++) hleaf += leaf_count(&schema->children[k]);
  sc[nsc++] = (st_pq_sort_column){hleaf, false, false};
  for (int i = 0; i < j->n_sort && nsc < 65; i++) {
    int leaf = 0;
    for (int k = 0; k < j->sort_cols[i]; k++) leaf += leaf_count(&schema->children[k]);
    sc[nsc++] = (st_pq_sort_column){leaf, false, false};
  }
  st_pq_write_options_init(wo);
  wo->compression = c->o->compression;
  wo->compression_level = c->o->compression_level;
  /* one row group unless told otherwise; subtile groups are cut by the
  ** caller and, as pyarrow's writer, split at 1Mi rows */
  wo->row_group_rows = c->o->row_group_rows > 0 ? c->o->row_group_rows
                       : c->o->row_group_subtile_delta >= 0 ? ((int64_t)1 << 20)
                       : (nrows > 0 ? nrows : 1);
  wo->n_sorting = nsc;
  wo->sorting = sc;
  /* the content pyarrow writes, cheaper encodings: a chunk whose values
  ** are mostly distinct is PLAIN (no dictionary holding every value, see
  ** dictionary_sample); ZSTD pages of 384 KiB, just above the 256 KiB up
  ** to which ZSTD picks its slow small-input parameters (btopt at level 15)
  ** and below the 1 MiB whose larger match tables miss the caches.  On the
  ** Tycho-2 and benchmark-CSV leaves: ~2x less ZSTD CPU, 20 % fewer bytes. */
  wo->dictionary_sample = true;
  if (wo->compression == ST_PQ_CODEC_ZSTD) wo->page_bytes = (int64_t)384 << 10;
  wo->interrupt = leaf_interrupt;
  wo->interrupt_ctx = (void *)c;
}

/* Append sorted rows t to the leaf writer: with --row-group-subtile-delta
** D, a row group ends wherever the pixel of order (partition order + D) of
** _healpix_29 changes (hats' split_to_row_groups by subtile_order_delta);
** *last is the subtile of the last row written (-1 at the start). */
static int leaf_append(const st_imp_ctx *c, st_pq_writer *w, int order, const st_table *t,
                       int64_t *last, st_error *err) {
  int delta = c->o->row_group_subtile_delta;
  if (delta < 0) return st_pq_writer_write(w, t, err);
  int to = order + delta > 29 ? 29 : order + delta, sh = 2 * (29 - to);
  const st_array *h = t->columns[c->hcol];
  const int64_t *hv = (const int64_t *)h->buf[1] + h->offset;
  int64_t a = 0, n = t->n_rows;
  while (a < n) {
    int64_t sub = hv[a] >> sh, b = a;
    if (*last >= 0 && sub != *last) ST_TRY(st_pq_writer_flush(w, err));
    while (b < n && (hv[b] >> sh) == sub) b++;
    st_table *sl = NULL;
    ST_TRY(st_table_slice(t, a, b - a, &sl, err));
    int rc = st_pq_writer_write(w, sl, err);
    st_table_free(sl);
    ST_TRY(rc);
    *last = sub, a = b;
  }
  return 0;
}

/* Write a whole sorted partition as its leaf file. */
static int write_leaf(const st_imp_ctx *c, const reduce_job *j, int order, const char *path,
                      const st_table *t, st_error *err) {
  st_pq_write_options wo;
  st_pq_sort_column sc[65];
  leaf_options(c, j, &t->schema, &wo, sc, t->n_rows);
  if (c->o->row_group_subtile_delta < 0) return st_pq_write_table_path(path, t, &wo, err);
  st_pq_writer *w = NULL;
  ST_TRY(st_pq_writer_open(path, &t->schema, &wo, &w, err));
  int64_t last = -1;
  int rc = leaf_append(c, w, order, t, &last, err);
  if (rc) st_pq_writer_abort(w);
  else rc = st_pq_writer_close(w, err);
  return rc;
}

/* Write partition p from the bucket's row groups rgs[0..nrg). */
/* Sort `all` by _healpix_29 (stable radix sort) then the sort columns
** (stable: ties keep their order) into *sorted. */
static int sort_table(const reduce_job *j, const st_table *all, st_table **sorted, st_error *err) {
  int64_t n = all->n_rows;
  size_t sz = (size_t)(n ? n : 1) * 8;
  uint64_t *keys = malloc(sz), *tk = malloc(sz);
  int64_t *idx = malloc(sz), *tv = malloc(sz);
  int rc = 0;
  if (!keys || !tk || !idx || !tv) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  if (!rc) {
    const st_array *h = all->columns[j->hcol];
    const int64_t *hv = (const int64_t *)h->buf[1] + h->offset;
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (int64_t i = 0; i < n; i++) mn = hv[i] < mn ? hv[i] : mn, mx = hv[i] > mx ? hv[i] : mx;
    for (int64_t i = 0; i < n; i++) keys[i] = (uint64_t)(hv[i] - mn), idx[i] = i;
    st_imp_radix_sort(keys, idx, n, n ? (uint64_t)(mx - mn) : 0, tk, tv);
    for (int i = 0; i < j->n_sort && !rc; i++)
      if (all->schema.children[j->sort_cols[i]].dict_encoded)
        rc = st_fail(err, ST_ERR_UNSUPPORTED, "--sort-columns: dictionary-encoded column '%s' "
                     "is not supported yet", all->schema.children[j->sort_cols[i]].name);
    if (j->n_sort && !rc) {
      cmp_ctx k = {all, j->sort_cols, j->n_sort};
      for (int64_t a = 0; a < n;) {
        int64_t b = a + 1;
        while (b < n && keys[b] == keys[a]) b++;
        if (b - a > 1) qsort_r(idx + a, (size_t)(b - a), 8, row_cmp, &k);
        a = b;
      }
    }
  }
  free(keys), free(tk), free(tv);
  if (!rc) rc = st_table_take(all, idx, n, sorted, err);
  free(idx);
  return rc;
}

static int reduce_part(st_imp_ctx *c, reduce_job *j, int64_t p, const rg_table *rgs, int64_t nrg,
                       st_error *err) {
  const st_bin_partition *bp = &c->bin.parts[p];
  int64_t s = j->first[p], e = j->first[p + 1], nr = e - s;
  st_table **ts = calloc((size_t)(nr ? nr : 1), sizeof *ts);
  st_table *all = NULL, *sorted = NULL;
  int rc = 0;
  if (!ts) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  char path[4096];
  leaf_path(c, p, path, sizeof path);
  for (int64_t r = 0; r < nr && !rc; r++) {
    const st_imp_run *run = &c->runs[s + r];
    rg_table key = {run->spill, run->row_group, NULL};
    const rg_table *g = bsearch(&key, rgs, (size_t)nrg, sizeof *rgs, rg_cmp);
    if (!g || !g->t || run->offset + run->rows > g->t->n_rows)
      rc = st_fail(err, ST_ERR_CORRUPT, "spill file %d row group %d: rows %lld..%lld missing",
                   run->spill, run->row_group, (long long)run->offset,
                   (long long)(run->offset + run->rows));
    else
      rc = st_table_slice(g->t, run->offset, run->rows, &ts[r], err);
  }
  if (!rc && nr == 0) rc = st_fail(err, ST_ERR_INVALID, "no rows for partition");
  /* one run: its slice is the partition (no copy before the sort's take) */
  if (!rc && nr == 1) all = ts[0], ts[0] = NULL;
  else if (!rc) rc = st_table_concat(ts, (int)nr, &all, err);
  for (int64_t r = 0; r < nr; r++) st_table_free(ts[r]);
  free(ts);
  if (!rc && all->n_rows != bp->rows)
    rc = st_fail(err, ST_ERR_INVALID, "%lld rows split to the partition, binning expected %lld",
                 (long long)all->n_rows, (long long)bp->rows);
  if (!rc) rc = sort_table(j, all, &sorted, err);
  st_table_free(all);
  all = NULL;
  if (!rc) rc = st_imp_check_cancel(c, err);
  if (!rc) rc = mkdirs(path, err);
  if (!rc) rc = write_leaf(c, j, bp->order, path, sorted, err);
  if (rc && rc != ST_ERR_INTERRUPTED)
    st_error_prefix(err, "partition Norder=%d Npix=%lld: ", bp->order, (long long)bp->pixel);
  st_table_free(sorted);
  return rc;
}

/* ---- external merge sort (a partition larger than the memory budget) ---- */

/* One sorted run file being merged: its reader, current row group table
** and position in it. */
typedef struct merge_run {
  const char *path;     /* the run file                        */
  const st_field *schema; /* the import's schema (fixed lists)  */
  int nrg, rg;          /* row groups, next row group to load  */
  st_table *t;          /* current row group (NULL: exhausted) */
  int64_t pos;          /* next row in t                       */
} merge_run;

/* Order of the heads of runs x and y: _healpix_29, sort columns, then the
** run index (runs hold consecutive chunks of the input order: stable). */
static bool head_less(const reduce_job *j, const merge_run *m, int x, int y) {
  const st_table *a = m[x].t, *b = m[y].t;
  int64_t i = m[x].pos, k = m[y].pos;
  const st_array *ha = a->columns[j->hcol], *hb = b->columns[j->hcol];
  int64_t va = ((const int64_t *)ha->buf[1])[ha->offset + i];
  int64_t vb = ((const int64_t *)hb->buf[1])[hb->offset + k];
  if (va != vb) return va < vb;
  for (int c = 0; c < j->n_sort; c++) {
    int col = j->sort_cols[c];
    int r = cmp_value(&a->schema.children[col], a->columns[col], i, b->columns[col], k);
    if (r) return r < 0;
  }
  return x < y;
}

static void heap_down(const reduce_job *j, const merge_run *m, int *h, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, b = i;
    if (l < n && head_less(j, m, h[l], h[b])) b = l;
    if (r < n && head_less(j, m, h[r], h[b])) b = r;
    if (b == i) return;
    int t = h[i];
    h[i] = h[b], h[b] = t, i = b;
  }
}

/* Load the next row group of run m (m->t = NULL at the end).  The file is
** opened for each row group: a mapped file's pages then do not stay
** resident (and counted in RSS) until the whole run is merged. */
static int run_advance(merge_run *m, st_error *err) {
  st_table_free(m->t);
  m->t = NULL, m->pos = 0;
  if (m->rg >= m->nrg) return 0;
  st_pq_reader *r = NULL;
  ST_TRY(st_pq_open(m->path, NULL, &r, err));
  m->nrg = st_pq_num_row_groups(r);
  int rc = 0;
  while (!rc && !m->t && m->rg < m->nrg) {
    int rg = m->rg++;
    rc = st_pq_read(r, &rg, 1, NULL, 0, &m->t, err);
    if (!rc) rc = st_imp_restore_fixed_lists(m->schema, m->t, err);
    if (!rc && m->t->n_rows == 0) st_table_free(m->t), m->t = NULL;
  }
  st_pq_close(r);
  return rc;
}

/* Emit the rows picked (src[i], idx[i]) from the runs' current tables, in
** that order, to the leaf writer. */
static int emit(const st_imp_ctx *c, st_pq_writer *w, int order, merge_run *m, int k,
                const int32_t *src, const int64_t *idx, int64_t n, int64_t *last, st_error *err) {
  int64_t *cnt = calloc((size_t)k + 1, 8), *sel = malloc((size_t)n * 8), *perm = malloc((size_t)n * 8);
  st_table **parts = calloc((size_t)k, sizeof *parts);
  st_table *cat = NULL, *out = NULL;
  int rc = 0, np = 0;
  if (!cnt || !sel || !perm || !parts) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  for (int64_t i = 0; !rc && i < n; i++) cnt[src[i] + 1]++;
  for (int r = 0; !rc && r < k; r++) cnt[r + 1] += cnt[r];
  /* rows of each run, in output order; perm maps output row -> row of cat */
  for (int64_t i = 0; !rc && i < n; i++) perm[i] = cnt[src[i]]++, sel[perm[i]] = idx[i];
  for (int r = k - 1; !rc && r > 0; r--) cnt[r] = cnt[r - 1];
  if (!rc) cnt[0] = 0;
  for (int r = 0; !rc && r < k; r++) {
    int64_t a = cnt[r], b = r + 1 < k ? cnt[r + 1] : n;
    if (b > a) rc = st_table_take(m[r].t, sel + a, b - a, &parts[np++], err);
  }
  if (!rc) rc = np == 1 ? 0 : st_table_concat(parts, np, &cat, err);
  if (!rc) rc = st_table_take(np == 1 ? parts[0] : cat, perm, n, &out, err);
  if (!rc) rc = leaf_append(c, w, order, out, last, err);
  for (int r = 0; r < np; r++) st_table_free(parts[r]);
  free(parts), free(cnt), free(sel), free(perm);
  st_table_free(cat);
  st_table_free(out);
  return rc;
}

/* Merge the sorted runs files[0..k) into the leaf at path, streaming by
** output batches of `batch` rows. */
static int merge_runs(st_imp_ctx *c, reduce_job *j, int64_t p, char **files, int k,
                      int64_t batch, const char *path, st_error *err) {
  const st_bin_partition *bp = &c->bin.parts[p];
  merge_run *m = calloc((size_t)k, sizeof *m);
  int *heap = malloc((size_t)k * sizeof *heap);
  int32_t *src = malloc((size_t)batch * 4);
  int64_t *idx = malloc((size_t)batch * 8);
  st_pq_writer *w = NULL;
  int rc = 0, nh = 0;
  int64_t written = 0, last = -1, nb = 0;
  if (!m || !heap || !src || !idx) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  for (int r = 0; !rc && r < k; r++) {
    m[r].path = files[r], m[r].nrg = 1, m[r].schema = &c->schema;
    rc = run_advance(&m[r], err);
    if (!rc && m[r].t) heap[nh++] = r;
  }
  if (!rc && !nh) rc = st_fail(err, ST_ERR_INVALID, "no rows for partition");
  if (!rc) {
    st_pq_write_options wo;
    st_pq_sort_column sc[65];
    leaf_options(c, j, &m[heap[0]].t->schema, &wo, sc, bp->rows);
    if (wo.row_group_rows > batch) wo.row_group_rows = batch;
    rc = st_pq_writer_open(path, &m[heap[0]].t->schema, &wo, &w, err);
  }
  for (int i = nh / 2 - 1; !rc && i >= 0; i--) heap_down(j, m, heap, nh, i);
  while (!rc && nh > 0) {
    /* pick rows until the batch is full or a run's row group is used up */
    int r = heap[0];
    src[nb] = r, idx[nb] = m[r].pos++;
    nb++;
    bool done = m[r].pos >= m[r].t->n_rows;
    if (nb == batch || done) {
      if ((rc = st_imp_check_cancel(c, err))) break;
      rc = emit(c, w, bp->order, m, k, src, idx, nb, &last, err);
      written += nb, nb = 0;
      if (!rc && done) {
        rc = run_advance(&m[r], err);
        if (!rc && !m[r].t) heap[0] = heap[--nh];
      }
    }
    if (!rc && nh > 0) heap_down(j, m, heap, nh, 0);
  }
  if (!rc && written != bp->rows)
    rc = st_fail(err, ST_ERR_INVALID, "%lld rows merged for the partition, binning expected %lld",
                 (long long)written, (long long)bp->rows);
  if (w) {
    if (rc) st_pq_writer_abort(w);
    else rc = st_pq_writer_close(w, err);
  }
  for (int r = 0; m && r < k; r++) st_table_free(m[r].t);
  free(m), free(heap), free(src), free(idx);
  return rc;
}

/* Reduce partition p when its rows do not fit in the worker's memory
** budget: its runs are read in input order in chunks of `chunk` rows, each
** chunk sorted and written as a run file STATE/reduce/P-K.parquet, and the
** runs merged into the leaf (merge_runs).  The run files are removed. */
static int reduce_part_external(st_imp_ctx *c, reduce_job *j, int64_t p, st_pq_reader **rd,
                                st_error *err) {
  const st_bin_partition *bp = &c->bin.parts[p];
  int64_t s = j->first[p], e = j->first[p + 1];
  int64_t chunk = j->chunk_rows;
  int64_t nruns_max = (bp->rows + chunk - 1) / chunk + 1;
  /* rows per row group of a run file and per output batch: all the runs'
  ** current row groups plus the batch copies stay within the budget */
  int64_t rg_rows = chunk / (nruns_max + 1);
  if (rg_rows < 256) rg_rows = 256;
  char **files = calloc((size_t)nruns_max, sizeof *files);
  st_table **acc = calloc((size_t)(e - s + 1), sizeof *acc);
  int nf = 0, nacc = 0, rc = 0;
  int64_t arows = 0;
  if (!files || !acc) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  char path[4096];
  leaf_path(c, p, path, sizeof path);
  for (int64_t r = s; !rc && r <= e; r++) {
    if (r < e) {
      const st_imp_run *run = &c->runs[r];
      st_table *g = NULL;
      if ((rc = st_imp_check_cancel(c, err))) break;
      if (!rd[run->spill]) {
        char sp[4096];
        snprintf(sp, sizeof sp, "%s/split/spill-%d.parquet", c->state_dir, run->spill);
        if ((rc = st_pq_open(sp, NULL, &rd[run->spill], err))) break;
      }
      int rg = run->row_group;
      rc = st_pq_read(rd[run->spill], &rg, 1, NULL, 0, &g, err);
      if (!rc) rc = st_imp_restore_fixed_lists(&c->schema, g, err);
      if (!rc && run->offset + run->rows > g->n_rows)
        rc = st_fail(err, ST_ERR_CORRUPT, "spill file %d row group %d: rows %lld..%lld missing",
                     run->spill, run->row_group, (long long)run->offset,
                     (long long)(run->offset + run->rows));
      if (!rc) rc = st_table_slice(g, run->offset, run->rows, &acc[nacc], err);
      st_table_free(g);
      if (rc) break;
      arows += acc[nacc++]->n_rows;
    }
    if (nacc && (arows >= chunk || r == e)) {
      st_table *all = NULL, *sorted = NULL;
      rc = st_table_concat(acc, nacc, &all, err);
      for (int i = 0; i < nacc; i++) st_table_free(acc[i]);
      nacc = 0, arows = 0;
      if (!rc) rc = sort_table(j, all, &sorted, err);
      st_table_free(all);
      if (!rc && nf == nruns_max) rc = st_fail(err, ST_ERR_INVALID, "reduce: too many runs");
      if (!rc) {
        char rp[4200];
        snprintf(rp, sizeof rp, "%s/reduce/%lld-%d.parquet", c->state_dir, (long long)p, nf);
        files[nf] = st_strdup(rp);
        if (!files[nf]) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
      }
      if (!rc) {
        st_pq_write_options wo;
        st_pq_write_options_init(&wo);
        wo.compression = ST_PQ_CODEC_LZ4_RAW;
        wo.dictionary = false;
        wo.statistics = false;
        wo.row_group_rows = rg_rows;
        rc = st_pq_write_table_path(files[nf++], sorted, &wo, err);
      }
      st_table_free(sorted);
      /* let the mapped spill pages go (see run_advance) */
      for (int i = 0; i < j->nspill; i++) st_pq_close(rd[i]), rd[i] = NULL;
    }
  }
  for (int i = 0; i < nacc; i++) st_table_free(acc[i]);
  free(acc);
  if (!rc) rc = mkdirs(path, err);
  if (!rc) rc = merge_runs(c, j, p, files, nf, rg_rows, path, err);
  for (int i = 0; i < nf; i++) remove(files[i]), free(files[i]);
  free(files);
  if (rc && rc != ST_ERR_INTERRUPTED)
    st_error_prefix(err, "partition Norder=%d Npix=%lld: ", bp->order, (long long)bp->pixel);
  return rc;
}

/* Reduce bucket b: load its row groups once, then write its partitions. */
static int reduce_bucket(st_imp_ctx *c, reduce_job *j, int64_t b, st_pq_reader **rd,
                         st_error *err) {
  int64_t pa = c->bucket_first[b], pb = c->bucket_first[b + 1];
  if (pb - pa == 1 && c->bin.parts[pa].rows > j->mem_rows) { /* over the memory budget */
    int rc = leaf_done(c, pa) ? 0 : reduce_part_external(c, j, pa, rd, err);
    st_imp_progress(c, "Reducing", 1, c->bin.nparts);
    return rc;
  }
  bool *todo = calloc((size_t)(pb - pa), sizeof *todo);
  if (!todo) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  int64_t ntodo = 0;
  for (int64_t p = pa; p < pb; p++) ntodo += todo[p - pa] = !leaf_done(c, p);
  int64_t r0 = j->first[pa], r1 = j->first[pb], nrg = 0;
  rg_table *rgs = ntodo ? calloc((size_t)(r1 - r0 + 1), sizeof *rgs) : NULL;
  int rc = ntodo && !rgs ? st_fail(err, ST_ERR_NOMEM, "reduce: out of memory") : 0;
  for (int64_t r = r0; ntodo && !rc && r < r1; r++) {
    if (!todo[c->runs[r].part - pa]) continue;
    rgs[nrg++] = (rg_table){c->runs[r].spill, c->runs[r].row_group, NULL};
  }
  if (nrg) qsort(rgs, (size_t)nrg, sizeof *rgs, rg_cmp);
  int64_t u = 0;
  for (int64_t i = 0; i < nrg; i++)
    if (!u || rg_cmp(&rgs[u - 1], &rgs[i])) rgs[u++] = rgs[i];
  nrg = u;
  for (int64_t i = 0; i < nrg && !rc; i++) {
    if ((rc = st_imp_check_cancel(c, err))) break;
    int sp = rgs[i].spill, rg = rgs[i].row_group;
    if (!rd[sp]) {
      char path[4096];
      snprintf(path, sizeof path, "%s/split/spill-%d.parquet", c->state_dir, sp);
      rc = st_pq_open(path, NULL, &rd[sp], err);
      if (rc) break;
    }
    rc = st_pq_read(rd[sp], &rg, 1, NULL, 0, &rgs[i].t, err);
    if (!rc) rc = st_imp_restore_fixed_lists(&c->schema, rgs[i].t, err);
  }
  for (int64_t p = pa; p < pb && !rc; p++) {
    if (todo[p - pa] && !(rc = st_imp_check_cancel(c, err))) rc = reduce_part(c, j, p, rgs, nrg, err);
    st_imp_progress(c, "Reducing", 1, c->bin.nparts);
  }
  for (int64_t i = 0; i < nrg; i++) st_table_free(rgs[i].t);
  free(rgs);
  free(todo);
  return rc;
}

/* Buckets by rows, descending (ties by index). */
static int bucket_cmp(const void *a, const void *b, void *arg) {
  const int64_t *rows = arg;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (rows[x] != rows[y]) return rows[x] > rows[y] ? -1 : 1;
  return (x > y) - (x < y);
}

static int reduce_worker(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  reduce_job *j = arg;
  st_pq_reader **rd = calloc((size_t)j->nspill, sizeof *rd);
  if (!rd) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  int rc = 0;
  while (!rc) {
    int64_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (b >= c->nbuckets) break;
    rc = reduce_bucket(c, j, j->order ? j->order[b] : b, rd, err);
  }
  for (int i = 0; i < j->nspill; i++) st_pq_close(rd[i]);
  free(rd);
  /* a leaf write stopped by the interrupt hook: report it as every stage does */
  if (rc == ST_ERR_INTERRUPTED) {
    st_error e2 = {0};
    if (st_imp_check_cancel(c, &e2)) *err = e2;
  }
  return rc;
}

int st_imp_reduce(st_imp_ctx *c, st_error *err) {
  reduce_job j = {0};
  int rc = 0;
  int64_t np = c->bin.nparts;
  int nf = c->o->n_inputs;
  int *order = malloc((size_t)nf * sizeof(int)), *rank = malloc((size_t)nf * sizeof(int));
  if (!order || !rank) {
    free(order), free(rank);
    return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  }
  for (int f = 0; f < nf; f++) order[f] = f;
  qsort(order, (size_t)nf, sizeof *order, dec_cmp);
  for (int f = 0; f < nf; f++) rank[order[f]] = f;
  qsort_r(c->runs, (size_t)c->nruns, sizeof *c->runs, run_cmp, rank);
  free(order), free(rank);
  j.first = calloc((size_t)np + 1, 8);
  if (!j.first) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  for (int64_t r = 0; r < c->nruns; r++) {
    j.first[c->runs[r].part + 1]++;
    if (c->runs[r].spill + 1 > j.nspill) j.nspill = c->runs[r].spill + 1;
  }
  if (j.nspill < 1) j.nspill = 1;
  for (int64_t p = 0; p < np; p++) j.first[p + 1] += j.first[p];
  j.sort_cols = c->sort_cols;
  j.n_sort = c->n_sort;
  j.mem_rows = c->mem_rows;
  j.hcol = c->hcol;
  j.chunk_rows = c->mem_rows;
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/reduce", c->state_dir);
  if (mkdir(dir, 0777) && errno != EEXIST) {
    free(j.first);
    return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  }
  /* the biggest buckets first, so that the workers end together (the
  ** leaves do not depend on the order they are written in) */
  j.order = malloc((size_t)(c->nbuckets ? c->nbuckets : 1) * 2 * sizeof *j.order);
  if (j.order) {
    int64_t *rows = j.order + c->nbuckets;
    for (int64_t b = 0; b < c->nbuckets; b++) {
      rows[b] = 0;
      for (int64_t p = c->bucket_first[b]; p < c->bucket_first[b + 1]; p++)
        rows[b] += c->bin.parts[p].rows;
      j.order[b] = b;
    }
    qsort_r(j.order, (size_t)c->nbuckets, sizeof *j.order, bucket_cmp, rows);
  }
  c->done = 0;
  if (!rc) rc = st_imp_parallel(c, reduce_worker, &j, err);
  free(j.first);
  free(j.order);
  return rc;
}
