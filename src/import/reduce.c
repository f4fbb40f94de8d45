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
** Workers take buckets (consecutive partitions, see pipeline.c) from an
** atomic counter, read each row group of the bucket once and slice every
** partition's runs out of them; each worker opens its own readers of the
** spill files.  Memory: the bucket's rows (<= threshold, or one partition)
** plus one partition's copy and its sort arrays.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/pipeline.h"
#include "skytile/parquet.h"

typedef struct reduce_job {
  int64_t next;       /* next bucket (atomic)                  */
  int64_t *first;     /* nparts+1: runs of partition p are     */
                      /* c->runs[first[p] .. first[p+1])       */
  int *sort_cols;     /* column indices in the spill schema    */
  int n_sort;
  int nspill;         /* spill files referenced (max index + 1) */
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

static int cmp_value(const st_field *f, const st_array *a, int64_t i, int64_t j) {
  bool vi = st_array_is_valid(a, i), vj = st_array_is_valid(a, j);
  if (!vi || !vj) return vi == vj ? 0 : (vi ? -1 : 1);
  int64_t oi = i + a->offset, oj = j + a->offset;
  switch (f->type) {
#define INTCASE(T, CT)                                                                             \
  case T: {                                                                                        \
    CT x = ((const CT *)a->buf[1])[oi], y = ((const CT *)a->buf[1])[oj];                           \
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
    double y = f->type == ST_T_FLOAT ? ((const float *)a->buf[1])[oj] : ((const double *)a->buf[1])[oj];
    if (isnan(x) || isnan(y)) return isnan(x) == isnan(y) ? 0 : (isnan(x) ? 1 : -1);
    return x < y ? -1 : x > y;
  }
  case ST_T_BOOL: {
    int x = (a->buf[1][oi >> 3] >> (oi & 7)) & 1, y = (a->buf[1][oj >> 3] >> (oj & 7)) & 1;
    return x - y;
  }
  case ST_T_STRING:
  case ST_T_BINARY: {
    const int32_t *o = (const int32_t *)a->buf[1];
    size_t li = (size_t)(o[oi + 1] - o[oi]), lj = (size_t)(o[oj + 1] - o[oj]);
    int r = memcmp(a->buf[2] + o[oi], a->buf[2] + o[oj], li < lj ? li : lj);
    return r ? r : (li < lj ? -1 : li > lj);
  }
  case ST_T_LARGE_STRING:
  case ST_T_LARGE_BINARY: {
    const int64_t *o = (const int64_t *)a->buf[1];
    size_t li = (size_t)(o[oi + 1] - o[oi]), lj = (size_t)(o[oj + 1] - o[oj]);
    int r = memcmp(a->buf[2] + o[oi], a->buf[2] + o[oj], li < lj ? li : lj);
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
    int r = cmp_value(&k->t->schema.children[col], k->t->columns[col], i, j);
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

/* Write partition p from the bucket's row groups rgs[0..nrg). */
static int reduce_part(st_imp_ctx *c, reduce_job *j, int64_t p, const rg_table *rgs, int64_t nrg,
                       st_error *err) {
  const st_bin_partition *bp = &c->bin.parts[p];
  int64_t s = j->first[p], e = j->first[p + 1], nr = e - s;
  st_table **ts = calloc((size_t)(nr ? nr : 1), sizeof *ts);
  st_table *all = NULL, *sorted = NULL;
  uint64_t *keys = NULL, *tk = NULL;
  int64_t *idx = NULL, *tv = NULL;
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
  if (!rc) rc = st_table_concat(ts, (int)nr, &all, err);
  if (!rc && all->n_rows != bp->rows)
    rc = st_fail(err, ST_ERR_INVALID, "%lld rows split to the partition, binning expected %lld",
                 (long long)all->n_rows, (long long)bp->rows);
  int64_t n = rc ? 0 : all->n_rows;
  if (!rc) {
    keys = malloc((size_t)n * 8), tk = malloc((size_t)n * 8);
    idx = malloc((size_t)n * 8), tv = malloc((size_t)n * 8);
    if (!keys || !tk || !idx || !tv) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  }
  if (!rc) {
    const st_array *h = all->columns[0];
    const int64_t *hv = (const int64_t *)h->buf[1] + h->offset;
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (int64_t i = 0; i < n; i++) mn = hv[i] < mn ? hv[i] : mn, mx = hv[i] > mx ? hv[i] : mx;
    for (int64_t i = 0; i < n; i++) keys[i] = (uint64_t)(hv[i] - mn), idx[i] = i;
    st_imp_radix_sort(keys, idx, n, (uint64_t)(mx - mn), tk, tv);
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
    if (!rc) rc = st_table_take(all, idx, n, &sorted, err);
  }
  if (!rc) {
    rc = mkdirs(path, err);
    st_pq_sort_column sc[65];
    int nsc = 0;
    sc[nsc++] = (st_pq_sort_column){0, false, false};
    for (int i = 0; i < j->n_sort && nsc < 65; i++) {
      int leaf = 0;
      for (int k = 0; k < j->sort_cols[i]; k++) leaf += leaf_count(&sorted->schema.children[k]);
      sc[nsc++] = (st_pq_sort_column){leaf, false, false};
    }
    st_pq_write_options wo;
    st_pq_write_options_init(&wo);
    wo.compression = c->o->compression;
    wo.compression_level = c->o->compression_level;
    wo.row_group_rows = c->o->row_group_rows > 0 ? c->o->row_group_rows : (n > 0 ? n : 1);
    wo.n_sorting = nsc;
    wo.sorting = sc;
    if (!rc) rc = st_pq_write_table_path(path, sorted, &wo, err);
  }
  if (rc) st_error_prefix(err, "partition Norder=%d Npix=%lld: ", bp->order, (long long)bp->pixel);
  for (int64_t r = 0; r < nr; r++) st_table_free(ts[r]);
  free(ts);
  st_table_free(all);
  st_table_free(sorted);
  free(keys), free(tk), free(idx), free(tv);
  return rc;
}

/* Reduce bucket b: load its row groups once, then write its partitions. */
static int reduce_bucket(st_imp_ctx *c, reduce_job *j, int64_t b, st_pq_reader **rd,
                         st_error *err) {
  int64_t pa = c->bucket_first[b], pb = c->bucket_first[b + 1];
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
    int sp = rgs[i].spill, rg = rgs[i].row_group;
    if (!rd[sp]) {
      char path[4096];
      snprintf(path, sizeof path, "%s/split/spill-%d.parquet", c->state_dir, sp);
      rc = st_pq_open(path, NULL, &rd[sp], err);
      if (rc) break;
    }
    rc = st_pq_read(rd[sp], &rg, 1, NULL, 0, &rgs[i].t, err);
  }
  for (int64_t p = pa; p < pb && !rc; p++) {
    if (todo[p - pa]) rc = reduce_part(c, j, p, rgs, nrg, err);
    st_imp_progress(c, "Reducing", 1, c->bin.nparts);
  }
  for (int64_t i = 0; i < nrg; i++) st_table_free(rgs[i].t);
  free(rgs);
  free(todo);
  return rc;
}

static int reduce_worker(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  reduce_job *j = arg;
  st_pq_reader **rd = calloc((size_t)j->nspill, sizeof *rd);
  if (!rd) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  int rc = 0;
  while (!rc) {
    int64_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (b >= c->nbuckets) break;
    rc = reduce_bucket(c, j, b, rd, err);
  }
  for (int i = 0; i < j->nspill; i++) st_pq_close(rd[i]);
  free(rd);
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
  c->done = 0;
  if (!rc) rc = st_imp_parallel(c, reduce_worker, &j, err);
  free(j.first);
  return rc;
}
