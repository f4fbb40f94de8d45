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
** Workers take partitions from an atomic counter; each opens its own
** readers of the spill files.
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
  int64_t next;       /* next partition (atomic)               */
  int64_t *first;     /* nparts+1: runs of partition p are     */
                      /* c->runs[first[p] .. first[p+1])       */
  int *sort_cols;     /* column indices in the spill schema    */
  int n_sort;
} reduce_job;

static int run_cmp(const void *a, const void *b) {
  const st_imp_run *x = a, *y = b;
  if (x->part != y->part) return x->part < y->part ? -1 : 1;
  if (x->file != y->file) return x->file < y->file ? -1 : 1;
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

static bool sortable(st_type_id t) {
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

static int reduce_part(st_imp_ctx *c, reduce_job *j, int64_t p, st_pq_reader **rd, st_error *err) {
  const st_bin_partition *bp = &c->bin.parts[p];
  int64_t s = j->first[p], e = j->first[p + 1], nr = e - s;
  st_table **ts = calloc((size_t)(nr ? nr : 1), sizeof *ts);
  st_table *all = NULL, *sorted = NULL;
  uint64_t *keys = NULL, *tk = NULL;
  int64_t *idx = NULL, *tv = NULL;
  int rc = 0;
  if (!ts) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  for (int64_t r = 0; r < nr && !rc; r++) {
    const st_imp_run *run = &c->runs[s + r];
    if (!rd[run->spill]) {
      char path[4096];
      snprintf(path, sizeof path, "%s/split/spill-%d.parquet", c->state_dir, run->spill);
      rc = st_pq_open(path, NULL, &rd[run->spill], err);
      if (rc) break;
    }
    int rg = run->row_group;
    rc = st_pq_read(rd[run->spill], &rg, 1, NULL, 0, &ts[r], err);
    if (!rc && ts[r]->n_rows != run->rows)
      rc = st_fail(err, ST_ERR_CORRUPT, "spill file %d row group %d: %lld rows, expected %lld",
                   run->spill, rg, (long long)ts[r]->n_rows, (long long)run->rows);
  }
  if (!rc && nr == 0) rc = st_fail(err, ST_ERR_INVALID, "no rows for partition");
  if (!rc) rc = nr == 1 ? (all = ts[0], ts[0] = NULL, 0) : st_table_concat(ts, (int)nr, &all, err);
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
    if (j->n_sort) {
      cmp_ctx k = {all, j->sort_cols, j->n_sort};
      for (int64_t a = 0; a < n;) {
        int64_t b = a + 1;
        while (b < n && keys[b] == keys[a]) b++;
        if (b - a > 1) qsort_r(idx + a, (size_t)(b - a), 8, row_cmp, &k);
        a = b;
      }
    }
    rc = st_table_take(all, idx, n, &sorted, err);
  }
  if (!rc) {
    char path[4096];
    int64_t pix = bp->pixel;
    snprintf(path, sizeof path, "%s/dataset/Norder=%d/Dir=%lld/Npix=%lld.parquet", c->build_dir,
             bp->order, (long long)(pix / 10000 * 10000), (long long)pix);
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

static int reduce_worker(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  reduce_job *j = arg;
  st_pq_reader **rd = calloc((size_t)c->nthreads, sizeof *rd);
  if (!rd) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  int rc = 0;
  while (!rc) {
    int64_t p = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (p >= c->bin.nparts) break;
    rc = reduce_part(c, j, p, rd, err);
    st_imp_progress(c, "Reducing", 1, c->bin.nparts);
  }
  for (int i = 0; i < c->nthreads; i++) st_pq_close(rd[i]);
  free(rd);
  return rc;
}

int st_imp_reduce(st_imp_ctx *c, st_error *err) {
  reduce_job j = {0};
  int rc = 0;
  int64_t np = c->bin.nparts;
  qsort(c->runs, (size_t)c->nruns, sizeof *c->runs, run_cmp);
  j.first = calloc((size_t)np + 1, 8);
  if (!j.first) return st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
  for (int64_t r = 0; r < c->nruns; r++) j.first[c->runs[r].part + 1]++;
  for (int64_t p = 0; p < np; p++) j.first[p + 1] += j.first[p];
  /* sort columns: indices in the spill schema (column 0 is _healpix_29) */
  const char *sc = c->o->sort_columns;
  if (sc && *sc) {
    j.sort_cols = calloc(strlen(sc) + 1, sizeof(int));
    if (!j.sort_cols) rc = st_fail(err, ST_ERR_NOMEM, "reduce: out of memory");
    const char *p = sc;
    while (!rc && *p) {
      const char *q = strchr(p, ',');
      size_t len = q ? (size_t)(q - p) : strlen(p);
      int found = -1;
      for (int i = 0; i < c->schema.n_children; i++)
        if (strlen(c->schema.children[i].name) == len && !strncmp(c->schema.children[i].name, p, len))
          found = i;
      if (found < 0)
        rc = st_fail(err, ST_ERR_NOTFOUND, "--sort-columns: no column '%.*s' in the input",
                     (int)len, p);
      else if (!sortable(c->schema.children[found].type))
        rc = st_fail(err, ST_ERR_UNSUPPORTED, "--sort-columns: sorting by a %s column ('%s') is not supported yet",
                     st_type_name(c->schema.children[found].type), c->schema.children[found].name);
      else
        j.sort_cols[j.n_sort++] = found + 1;
      p = q ? q + 1 : p + len;
    }
  }
  c->done = 0;
  if (!rc) rc = st_imp_parallel(c, reduce_worker, &j, err);
  free(j.first);
  free(j.sort_cols);
  return rc;
}
