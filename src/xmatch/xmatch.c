/*
** This file implements the crossmatch (skytile/xmatch.h): st_xmatch_run.
**
** Plan.  The left side is cut into units, each with a HEALPix cell that
** holds all its rows:
**   - left catalog (HATS/hive): one unit per partition, in _healpix_29
**     order; its rows are read (in file order) when the unit runs;
**   - left table / plain Parquet (unpartitioned): all rows are loaded once;
**     with a partitioned right side they are binned by their pixel at the
**     right side's finest partition order (one unit per non-empty pixel;
**     NaN positions go to a unit that matches nothing); with an
**     unpartitioned right side they are cut into contiguous chunks.
** The right side is a list of entries: one per right partition (cell), or a
** single whole-sky entry for a table / plain Parquet file.  An entry is
** loaded (its rows read once straight from its Parquet files, row groups
** pruned and rows filtered by where_right, and indexed for the radius:
** xmatch/kernel.c; a partition gets the cell grid index of its HEALPix
** cell, st_xm_index_build_cell) the first time a unit needs it, and freed
** when the last unit that needs it has finished (reference counts
** computed up front), so every right partition is decoded once.
**
** Which entries a unit needs: those whose cell may hold a point within the
** radius of the unit's cell.  Each cell is bounded by a cap (its centre and
** st_hpx_max_pixrad); an entry is needed when the angle between the centres
** is <= rad_unit + rad_entry + radius.  This is inclusive, so no match is
** lost at a partition boundary (the index's bounding box quickly rejects
** the points of a neighbour that turn out to be too far).
**
** Matching a unit: the unit's unit vectors and charts are computed once;
** each needed entry's index is queried with them (k nearest or all; the
** index's bounding box rejects far queries at once).  An entry whose cell
** contains the unit's cell or lies inside it is queried with every row of
** the unit; an entry whose cell is disjoint from the unit's (a neighbour,
** or the margin partition) only with the unit's rows whose disc of radius
** r may leave the unit's cell (st_xm_cell_boundary): a row deeper inside
** cannot be within r of a row outside the cell.  For partitions much larger
** than r that is a tiny fraction, so each left row is in effect matched
** against one index.  Pairs carry the key
** (entry << 40 | row), so the tie order "right row order" is partition
** order then row order.  When
** several entries yield pairs they are merged: bucketed by left row, sorted
** by (distance, key), cut to k.
**
** Output of a unit: left rows gathered with st_table_take (how = LEFT adds
** each unmatched left row once, in left order, with -1 right indices that
** take as nulls), right rows gathered per entry and concatenated, then the
** `_dist_arcsec` column.  Units run on `threads` workers (atomic counter);
** each result goes to its unit's slot and the slots are concatenated in
** unit order, so the output does not depend on the thread count.  With one
** worker and fixed-width columns the units instead gather their rows
** straight into the final columns ("direct output" below): same table,
** without the per-unit tables and the concatenation.  Binned
** unpartitioned left sides are finally put back in table order (a stable
** counting sort on the left row index).
**
** Margins: when the right side has a margin catalog whose
** hats_margin_threshold >= radius, its partitions become extra entries
** (after the right partitions).  A unit whose cell lies in exactly one right
** partition R (R == the cell or an ancestor, and no finer right partition
** overlaps it) needs only R and the margin partition of R's pixel: R holds
** every right row near the cell inside R, the margin every one outside R
** (margin rows are outside R, so there are no duplicates).  Other units
** (cells split among finer right partitions, or outside them) use the
** neighbour rule above, which never reads the margin.  Margin rows rank
** after partition rows in the tie order.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "query/expr.h"
#include "skytile.h"
#include "util/err.h"
#include "util/mem.h"
#include "xmatch/xmatch_int.h"

#define XM_KEY_SHIFT 40
#define XM_ROW_MASK ((INT64_C(1) << XM_KEY_SHIFT) - 1)
#define XM_CHUNK 65536
#define XM_ARCSEC2RAD (M_PI / 180.0 / 3600.0)

void st_xmatch_options_init(st_xmatch_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->n_neighbors = 1;
  o->suffix_left = "_l";
  o->suffix_right = "_r";
}

/* ---- sides ------------------------------------------------------------- */

typedef struct xside {
  const st_catalog *cat;   /* catalog, or NULL                               */
  const st_table *table;   /* in-memory table, or NULL                       */
  bool partitioned;        /* catalog with HEALPix partitions                */
  const char *ra, *dec;    /* position column names                          */
  char **cols;             /* chosen output columns (owned)                  */
  int ncols;
  char **qcols;            /* columns to read: cols + ra/dec when missing    */
  int nqcols;
} xside;

static void side_free(xside *s) {
  for (int i = 0; i < s->nqcols; i++) free(s->qcols[i]);
  free(s->qcols);
  for (int i = 0; i < s->ncols; i++) free(s->cols[i]);
  free(s->cols);
}

static int add_name(char ***v, int *n, const char *name, st_error *err) {
  for (int i = 0; i < *n; i++)
    if (!strcmp((*v)[i], name)) return 0;
  char **nv = realloc(*v, ((size_t)*n + 1) * sizeof *nv);
  if (!nv) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  *v = nv;
  if (!(nv[*n] = strdup(name))) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  (*n)++;
  return 0;
}

static int field_index(const st_field *schema, const char *name) {
  for (int i = 0; i < schema->n_children; i++)
    if (!strcmp(schema->children[i].name, name)) return i;
  return -1;
}

/* Resolve a side: position columns, chosen columns, columns to read. */
static int side_init(xside *s, const st_xmatch_input *in, const char *const *cols, int ncols,
                     bool right, const char *what, st_error *err) {
  memset(s, 0, sizeof *s);
  ST_CHECK(in && ((in->catalog != NULL) != (in->table != NULL)), err, ST_ERR_INVALID,
           "xmatch: %s side needs exactly one of catalog/table", what);
  s->cat = in->catalog;
  s->table = in->table;
  const st_field *schema = s->cat ? st_catalog_schema(s->cat) : &s->table->schema;
  ST_CHECK(schema, err, ST_ERR_INVALID, "xmatch: %s catalog has no schema", what);
  if (s->cat) {
    int np = st_catalog_n_partitions(s->cat);
    st_partition p;
    s->partitioned = true;
    if (np == 1) {
      ST_TRY(st_catalog_partition(s->cat, 0, &p, err));
      if (p.order < 0) s->partitioned = false;
    }
  }
  const char *ra = in->ra_column, *dec = in->dec_column;
  if (!ra && s->cat) ra = st_catalog_property(s->cat, "hats_col_ra");
  if (!dec && s->cat) dec = st_catalog_property(s->cat, "hats_col_dec");
  s->ra = ra ? ra : "ra";
  s->dec = dec ? dec : "dec";
  ST_CHECK(field_index(schema, s->ra) >= 0, err, ST_ERR_NOTFOUND,
           "xmatch: %s side has no ra column '%s'", what, s->ra);
  ST_CHECK(field_index(schema, s->dec) >= 0, err, ST_ERR_NOTFOUND,
           "xmatch: %s side has no dec column '%s'", what, s->dec);
  if (cols && ncols > 0) {
    for (int i = 0; i < ncols; i++) {
      ST_CHECK(field_index(schema, cols[i]) >= 0, err, ST_ERR_NOTFOUND,
               "xmatch: %s side has no column '%s'", what, cols[i]);
      ST_TRY(add_name(&s->cols, &s->ncols, cols[i], err));
    }
  } else {
    const char *def = s->cat ? st_catalog_property(s->cat, "hats_cols_default") : NULL;
    if (def && *def) {
      const char *p = def;
      while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
        if (e > p) {
          char name[512];
          size_t n = (size_t)(e - p) < sizeof name - 1 ? (size_t)(e - p) : sizeof name - 1;
          memcpy(name, p, n);
          name[n] = 0;
          if (field_index(schema, name) >= 0) ST_TRY(add_name(&s->cols, &s->ncols, name, err));
        }
        p = e;
      }
    }
    if (s->ncols == 0)
      for (int i = 0; i < schema->n_children; i++) {
        /* LSDB: the right side's _healpix_29 (its index) is not output */
        if (right && !strcmp(schema->children[i].name, "_healpix_29")) continue;
        ST_TRY(add_name(&s->cols, &s->ncols, schema->children[i].name, err));
      }
  }
  for (int i = 0; i < s->ncols; i++) ST_TRY(add_name(&s->qcols, &s->nqcols, s->cols[i], err));
  ST_TRY(add_name(&s->qcols, &s->nqcols, s->ra, err));
  ST_TRY(add_name(&s->qcols, &s->nqcols, s->dec, err));
  return 0;
}

typedef struct name_list {
  char **v;
  int n;
  st_error *err;
} name_list;

static int name_cb(const char *name, void *ctx) {
  name_list *l = ctx;
  return add_name(&l->v, &l->n, name, l->err);
}

/* Read the rows of files [first, first + n) of a catalog (one partition, or
   every file of an unpartitioned dataset) with the side's columns, keeping
   rows where `where` (may be NULL) is true.  Row groups whose statistics
   prove the filter false are skipped.  Rows come in file order. */
static int read_files(const xside *s, int first, int n, const st_expr *where, st_table **out,
                      int64_t *bytes, st_error *err) {
  *out = NULL;
  name_list need = {NULL, 0, err};
  int rc = 0;
  for (int i = 0; i < s->nqcols && !rc; i++) rc = add_name(&need.v, &need.n, s->qcols[i], err);
  if (!rc && where) rc = st_expr_columns(where, name_cb, &need);
  st_table **parts = calloc((size_t)n + 1, sizeof *parts);
  int *cols = malloc(((size_t)need.n + 1) * sizeof *cols);
  int *rgs = NULL;
  int nparts = 0;
  if (!rc && (!parts || !cols)) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int f = 0; f < n && !rc; f++) {
    st_catalog_file cf;
    st_pq_reader *r = NULL;
    st_table *t = NULL;
    if ((rc = st_catalog_file_info(s->cat, first + f, &cf, err))) break;
    if ((rc = st_pq_open(cf.path, NULL, &r, err))) break;
    const st_field *fs = st_pq_schema(r);
    for (int c = 0; c < need.n && !rc; c++) {
      cols[c] = field_index(fs, need.v[c]);
      if (cols[c] < 0) rc = st_fail(err, ST_ERR_NOTFOUND, "%s: no column '%s'", cf.path, need.v[c]);
    }
    int nrg = st_pq_num_row_groups(r), keep = 0;
    if (!rc) {
      free(rgs);
      rgs = malloc(((size_t)nrg + 1) * sizeof *rgs);
      if (!rgs) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    }
    for (int g = 0; g < nrg && !rc; g++)
      if (!where || st_expr_rg_may_match(where, r, g)) rgs[keep++] = g;
    if (!rc && keep > 0) {
      /* compressed bytes of the chunks read (top-level leaf columns) */
      for (int g = 0; g < keep; g++)
        for (int c = 0; c < need.n; c++) {
          int leaf = st_pq_column_index(r, need.v[c]);
          st_pq_chunk_info ci;
          st_error e2 = {0};
          if (leaf >= 0 && !st_pq_describe_chunk(r, rgs[g], leaf, &ci, &e2) && ci.compressed_size > 0)
            *bytes += ci.compressed_size;
        }
      rc = st_pq_read(r, rgs, keep, cols, need.n, &t, err);
      if (!rc && where) {
        uint8_t *mask = malloc((size_t)(t->n_rows > 0 ? t->n_rows : 1));
        int64_t *idx = malloc((size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof *idx);
        int64_t m = 0;
        st_table *ft = NULL;
        if (!mask || !idx) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
        if (!rc) rc = st_expr_eval(where, t, mask, err);
        if (!rc) {
          for (int64_t i = 0; i < t->n_rows; i++)
            if (mask[i] == 2) idx[m++] = i;
          if (m < t->n_rows) {
            rc = st_table_take(t, idx, m, &ft, err);
            if (!rc) {
              st_table_free(t);
              t = ft;
            }
          }
        }
        free(mask);
        free(idx);
      }
      if (!rc && need.n > s->nqcols) {
        /* drop the where-only columns */
        int *sel = malloc(((size_t)s->nqcols + 1) * sizeof *sel);
        st_table *pt = NULL;
        if (!sel) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
        for (int c = 0; c < s->nqcols && !rc; c++) sel[c] = c;
        if (!rc) rc = st_table_select_columns(t, sel, s->nqcols, &pt, err);
        free(sel);
        if (!rc) {
          st_table_free(t);
          t = pt;
        }
      }
    }
    if (rc) st_error_prefix(err, "xmatch: ");
    st_pq_close(r);
    if (rc) {
      st_table_free(t);
      break;
    }
    if (t) parts[nparts++] = t;
  }
  free(rgs);
  free(cols);
  if (!rc) {
    if (nparts == 1) {
      *out = parts[0];
      parts[0] = NULL;
    } else if (nparts > 1) {
      rc = st_table_concat(parts, nparts, out, err);
    }
  }
  for (int i = 0; i < nparts; i++) st_table_free(parts[i]);
  free(parts);
  for (int i = 0; i < need.n; i++) free(need.v[i]);
  free(need.v);
  return rc;
}

/* Rows of a side's catalog with no file row: a 0-row table with the
   side's read columns (st_query builds it from the schema). */
static int side_empty(const xside *s, st_table **out, st_error *err) {
  st_query *q = NULL;
  ST_TRY(st_query_new(&q, err));
  int rc = st_query_set_columns(q, (const char *const *)s->qcols, s->nqcols, err);
  st_query_set_limit(q, 0);
  if (!rc) rc = st_query_run(q, s->cat, out, NULL, err);
  st_query_free(q);
  return rc;
}

/* Read a partition's rows (files [first, first+n)); never NULL on success. */
static int side_read(const xside *s, int first, int n, const st_expr *where, st_table **out,
                     int64_t *bytes, st_error *err) {
  ST_TRY(read_files(s, first, n, where, out, bytes, err));
  if (!*out) return side_empty(s, out, err);
  return 0;
}

/* Column indices of names[] in t. */
static int resolve_cols(const st_table *t, char **names, int n, int *idx, st_error *err) {
  for (int i = 0; i < n; i++) {
    idx[i] = st_table_column_index(t, names[i]);
    ST_CHECK(idx[i] >= 0, err, ST_ERR_NOTFOUND, "xmatch: column '%s' missing", names[i]);
  }
  return 0;
}

/* Column `name` of t as doubles (nulls -> NaN), a fresh array in *out. */
static int column_doubles(const st_table *t, const char *name, double **out, st_error *err) {
  int c = st_table_column_index(t, name);
  ST_CHECK(c >= 0, err, ST_ERR_NOTFOUND, "xmatch: no column '%s'", name);
  int64_t n = t->n_rows;
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  if (!v) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  int rc = st_table_column_doubles(t, c, 0, n, v, err);
  if (rc) {
    free(v);
    if (rc == ST_ERR_SCHEMA) st_error_prefix(err, "xmatch: position ");
    return rc;
  }
  *out = v;
  return 0;
}

/* Column `name` of t as doubles: a view of the column when it is a double
   column without nulls (*owned = NULL), else a converted copy (*owned, to
   free). */
static int column_doubles_view(const st_table *t, const char *name, const double **view,
                               double **owned, st_error *err) {
  *owned = NULL;
  int c = st_table_column_index(t, name);
  ST_CHECK(c >= 0, err, ST_ERR_NOTFOUND, "xmatch: no column '%s'", name);
  const st_field *f = &t->schema.children[c];
  const st_array *a = t->columns[c];
  if (f->type == ST_T_DOUBLE && !f->dict_encoded && !a->buf[0] && a->buf[1]) {
    *view = (const double *)a->buf[1] + a->offset;
    return 0;
  }
  ST_TRY(column_doubles(t, name, owned, err));
  *view = *owned;
  return 0;
}

/* ---- right entries and units ---------------------------------------------- */

typedef struct rentry {
  int order;               /* cell order, -1: whole sky                      */
  int64_t pixel;
  int first_file, n_files; /* the partition's files (catalogs)               */
  bool margin;             /* a partition of the right margin catalog        */
  double v[3];             /* cell centre                                    */
  double rad;              /* cell cap radius (radians)                      */
  int need;                /* units still needing it                         */
  pthread_mutex_t mu;
  bool loaded;
  st_table *own;           /* loaded rows (query columns), owned             */
  st_table *proj;          /* projection to the output columns               */
  st_xm_index *ix;         /* kd-tree over the rows                          */
  bool leaks;              /* some rows lie outside the cell: every unit     */
                           /* row is matched against them                    */
} rentry;

typedef struct unit {
  int order;               /* cell order; -1 whole sky; -2 matches nothing   */
  int64_t pixel;
  int first_file, n_files; /* left partition's files                         */
  int part;                /* left partition (catalog), else -1              */
  int64_t *rows;           /* unpartitioned left: its rows (NULL: range)     */
  int64_t row0, nrows;     /* range [row0, row0+nrows) when rows == NULL     */
  int *ents;               /* right entries needed                           */
  bool *efull;             /* per entry: match every row of the unit (else   */
                           /* only the rows near the cell's boundary)        */
  int nents;
  st_table *result;        /* output rows                                    */
  int64_t *lidx;           /* binned left: left row of each output row       */
} unit;

typedef struct xrun {
  const st_xmatch_options *o;
  xside L, R;
  int k;                   /* n_neighbors (0: all)                           */
  st_table *ltab;          /* unpartitioned left: all rows (owned or NULL)   */
  const st_table *lview;   /* the rows (ltab or the input table)             */
  double *lra, *ldec;      /* their positions                                */
  st_table *rempty;        /* 0-row right table (output columns)             */
  st_expr *where;          /* parsed where_right                             */
  rentry *ents;
  int nents;
  int nprim;               /* entries [0, nprim) are right partitions, then  */
                           /* margin partitions (when the margin is used)    */
  xside M;                 /* the margin side (cat set when used)            */
  unit *units;
  int nunits;
  bool binned;             /* output needs reordering by lidx                */
  atomic_int next;
  atomic_int failed;
  pthread_mutex_t mu;      /* err, stats                                     */
  st_error err;
  st_xmatch_stats stats;
  struct dout *dout;       /* direct output (one worker), or NULL            */
} xrun;

static void cell_cap(int order, int64_t pixel, double v[3], double *rad) {
  if (order < 0) {
    v[0] = 1;
    v[1] = v[2] = 0;
    *rad = 4 * M_PI; /* everything */
    return;
  }
  st_error e = {0};
  if (st_hpx_pix2vec(order, pixel, v, &e)) {
    v[0] = 1;
    v[1] = v[2] = 0;
    *rad = 4 * M_PI;
    return;
  }
  *rad = st_hpx_max_pixrad(order) * M_PI / 180.0 * (1 + 1e-9) + 1e-12;
}

static double vec_angle(const double a[3], const double b[3]) {
  double cx = a[1] * b[2] - a[2] * b[1], cy = a[2] * b[0] - a[0] * b[2],
         cz = a[0] * b[1] - a[1] * b[0];
  return atan2(sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]);
}

/* Fill u->ents with the entries whose cap is within the radius of u's cap. */
/* True when cell (o, p) contains cell (uo, up) (o <= uo). */
static bool cell_contains(int o, int64_t p, int uo, int64_t up) {
  return o >= 0 && uo >= o && (up >> (2 * (uo - o))) == p;
}

static int unit_select(xrun *X, unit *u, st_error *err) {
  if (u->order == -2) return 0;
  double v[3], rad;
  cell_cap(u->order, u->pixel, v, &rad);
  double r = X->o->radius_arcsec * XM_ARCSEC2RAD;
  u->ents = malloc(((size_t)X->nents + 1) * sizeof *u->ents);
  u->efull = malloc(((size_t)X->nents + 1) * sizeof *u->efull);
  if (!u->ents || !u->efull) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  if (X->M.cat && u->order >= 0) {
    /* margin: when one right partition R contains the unit's cell, R and
       R's margin partition hold every right row within the radius */
    int covering = -1, overlapping = 0;
    for (int e = 0; e < X->nprim; e++) {
      rentry *E = &X->ents[e];
      if (cell_contains(E->order, E->pixel, u->order, u->pixel)) covering = e, overlapping++;
      else if (cell_contains(u->order, u->pixel, E->order, E->pixel)) overlapping++;
    }
    if (covering >= 0 && overlapping == 1) {
      u->efull[u->nents] = true;
      u->ents[u->nents++] = covering;
      X->ents[covering].need++;
      for (int e = X->nprim; e < X->nents; e++)
        if (X->ents[e].order == X->ents[covering].order &&
            X->ents[e].pixel == X->ents[covering].pixel) {
          /* margin rows lie outside R, so beyond the unit's cell */
          u->efull[u->nents] = false;
          u->ents[u->nents++] = e;
          X->ents[e].need++;
          break;
        }
      return 0;
    }
  }
  for (int e = 0; e < X->nprim; e++) {
    rentry *E = &X->ents[e];
    if (u->order >= 0 && E->order >= 0 && vec_angle(v, E->v) > rad + E->rad + r) continue;
    /* a right cell disjoint from the unit's holds matches only of the
       unit's rows within the radius of the unit cell's boundary */
    u->efull[u->nents] = u->order < 0 || E->order < 0 ||
                         cell_contains(E->order, E->pixel, u->order, u->pixel) ||
                         cell_contains(u->order, u->pixel, E->order, E->pixel);
    u->ents[u->nents++] = e;
    E->need++;
  }
  return 0;
}

static void entry_drop(rentry *E) {
  st_xm_index_free(E->ix);
  st_table_free(E->proj);
  st_table_free(E->own);
  E->ix = NULL;
  E->proj = E->own = NULL;
}

/* Load an entry (caller holds E->mu). */
static int entry_load(xrun *X, rentry *E, st_xm_scratch *scr, st_error *err) {
  const xside *R = E->margin ? &X->M : &X->R;
  E->leaks = false;
  st_table *t = NULL;
  int rc = 0;
  int64_t bytes = 0;
  if (R->cat) {
    ST_TRY(side_read(R, E->first_file, E->n_files, X->where, &t, &bytes, err));
  } else {
    /* a right table: filter with where, else share it */
    if (X->where) {
      int64_t n = R->table->n_rows;
      uint8_t *mask = malloc((size_t)(n > 0 ? n : 1));
      int64_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
      if (!mask || !idx) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      if (!rc) rc = st_expr_eval(X->where, R->table, mask, err);
      int64_t m = 0;
      if (!rc) {
        for (int64_t i = 0; i < n; i++)
          if (mask[i] == 2) idx[m++] = i;
        rc = st_table_take(R->table, idx, m, &t, err);
      }
      free(mask);
      free(idx);
      if (rc) return rc;
    } else {
      ST_TRY(st_table_slice(R->table, 0, R->table->n_rows, &t, err));
    }
  }
  int *proj = malloc(((size_t)R->ncols + 1) * sizeof *proj);
  double *ra_own = NULL, *dec_own = NULL;
  const double *ra = NULL, *dec = NULL;
  if (!proj) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  if (!rc) rc = resolve_cols(t, R->cols, R->ncols, proj, err);
  if (!rc) rc = st_table_select_columns(t, proj, R->ncols, &E->proj, err);
  if (!rc) rc = column_doubles_view(t, R->ra, &ra, &ra_own, err);
  if (!rc) rc = column_doubles_view(t, R->dec, &dec, &dec_own, err);
  if (!rc && !E->margin && E->order >= 0)
    rc = st_xm_index_build_cell_s(E->order, E->pixel, ra, dec, t->n_rows, X->o->radius_arcsec,
                                  scr, &E->ix, err);
  else if (!rc)
    rc = st_xm_index_build_hint(ra, dec, t->n_rows, X->o->radius_arcsec, &E->ix, err);
  /* rows outside the partition's cell (not in a HATS catalog: the cell
     holds its rows) could match any row of a neighbouring unit */
  if (!rc && !E->margin && E->order >= 0) {
    int64_t out = st_xm_index_cell_outside(E->ix);
    if (out < 0) out = st_xm_cell_outside(E->order, E->pixel, ra, dec, t->n_rows);
    E->leaks = out > 0;
  }
  free(ra_own);
  free(dec_own);
  free(proj);
  if (!rc && t->n_rows > XM_ROW_MASK)
    rc = st_fail(err, ST_ERR_LIMIT, "xmatch: right partition of %lld rows is too large",
                 (long long)t->n_rows);
  if (rc) {
    st_table_free(t);
    entry_drop(E);
    return rc;
  }
  E->own = t;
  E->loaded = true;
  pthread_mutex_lock(&X->mu);
  X->stats.right_rows_read += t->n_rows;
  X->stats.bytes_read += bytes;
  X->stats.right_partitions_read++;
  pthread_mutex_unlock(&X->mu);
  return 0;
}

/* ---- pair merging ---------------------------------------------------------- */

typedef struct xpair {
  double d;
  int64_t key;
} xpair;

static inline int xp_less(const xpair *a, const xpair *b) {
  return a->d < b->d || (a->d == b->d && a->key < b->key);
}

/* Pairs of several entries: bucket by query, sort each bucket, cut to k. */
static int merge_pairs(st_xm_pairs *p, int64_t nq, int k, st_error *err) {
  int64_t *cnt = calloc((size_t)nq + 1, sizeof *cnt);
  xpair *tmp = malloc((size_t)(p->n > 0 ? p->n : 1) * sizeof *tmp);
  if (!cnt || !tmp) {
    free(cnt);
    free(tmp);
    return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  }
  for (int64_t i = 0; i < p->n; i++) cnt[p->qi[i] + 1]++;
  for (int64_t q = 0; q < nq; q++) cnt[q + 1] += cnt[q];
  for (int64_t i = 0; i < p->n; i++) {
    int64_t at = cnt[p->qi[i]]++;
    tmp[at].d = p->dist_arcsec[i];
    tmp[at].key = p->ri[i];
  }
  /* cnt[q] is now the end of bucket q; buckets start at cnt[q-1] */
  int64_t w = 0, start = 0;
  for (int64_t q = 0; q < nq; q++) {
    int64_t end = cnt[q];
    xpair *b = tmp + start;
    int64_t n = end - start;
    for (int64_t i = 1; i < n; i++) {
      xpair v = b[i];
      int64_t j = i;
      while (j > 0 && xp_less(&v, &b[j - 1])) {
        b[j] = b[j - 1];
        j--;
      }
      b[j] = v;
    }
    if (k > 0 && n > k) n = k;
    for (int64_t i = 0; i < n; i++) {
      p->qi[w] = q;
      p->ri[w] = b[i].key;
      p->dist_arcsec[w] = b[i].d;
      w++;
    }
    start = end;
  }
  p->n = w;
  free(cnt);
  free(tmp);
  return 0;
}

/* ---- output ---------------------------------------------------------------- */

static int renamed_field(st_field *dst, const st_field *src, const char *suffix) {
  if (st_field_copy(dst, src)) return ST_ERR_NOMEM;
  size_t a = strlen(src->name), b = strlen(suffix);
  char *nm = malloc(a + b + 1);
  if (!nm) return ST_ERR_NOMEM;
  memcpy(nm, src->name, a);
  memcpy(nm + a, suffix, b + 1);
  free(dst->name);
  dst->name = nm;
  return 0;
}

/* Build the unit's output table from (li, key, d) rows (li: left row in
   `lt`; key -1: no right row). */
static int build_output(xrun *X, const st_table *lt, const int64_t *li, const int64_t *key,
                        const double *d, int64_t n, st_table **out, st_error *err) {
  const st_xmatch_options *o = X->o;
  st_table *lsel = NULL, *ltake = NULL, *rtake = NULL;
  st_table **parts = NULL;
  int64_t *ridx = NULL, *perm = NULL;
  int *ecount = NULL;
  st_array *darr = NULL;
  st_field *fields = NULL;
  st_array **cols = NULL;
  int nf = 0, rc = 0;
  int *lproj = malloc(((size_t)X->L.ncols + 1) * sizeof *lproj);
  if (!lproj) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  rc = resolve_cols(lt, X->L.cols, X->L.ncols, lproj, err);
  if (!rc) rc = st_table_select_columns(lt, lproj, X->L.ncols, &lsel, err);
  free(lproj);
  if (!rc) rc = st_table_take(lsel, li, n, &ltake, err);
  if (rc) goto done;
  /* right rows: which entries appear */
  ridx = malloc((size_t)(n > 0 ? n : 1) * sizeof *ridx);
  ecount = calloc((size_t)X->nents + 1, sizeof *ecount);
  if (!ridx || !ecount) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
  int used = 0, first = -1;
  for (int64_t i = 0; i < n; i++)
    if (key[i] >= 0) {
      int e = (int)(key[i] >> XM_KEY_SHIFT);
      if (!ecount[e]++) {
        used++;
        if (first < 0) first = e;
      }
    }
  if (used <= 1) {
    /* one entry (or none): take directly */
    const st_table *src = first >= 0 ? X->ents[first].proj : X->rempty;
    for (int64_t i = 0; i < n; i++) ridx[i] = key[i] >= 0 ? (key[i] & XM_ROW_MASK) : -1;
    rc = st_table_take(src, ridx, n, &rtake, err);
  } else {
    /* per entry take, concatenate, then permute into pair order */
    parts = calloc((size_t)used, sizeof *parts);
    perm = malloc((size_t)n * sizeof *perm);
    int64_t *base = calloc((size_t)X->nents + 1, sizeof *base);
    int *slot = malloc(((size_t)X->nents + 1) * sizeof *slot);
    if (!parts || !perm || !base || !slot) {
      free(base);
      free(slot);
      rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      goto done;
    }
    int np = 0;
    int64_t acc = 0;
    for (int e = 0; e < X->nents; e++)
      if (ecount[e]) {
        slot[e] = np++;
        base[e] = acc;
        acc += ecount[e];
      }
    /* per entry rows, in pair order */
    int64_t *fill = calloc((size_t)X->nents + 1, sizeof *fill);
    if (!fill) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    for (int64_t i = 0; i < n && !rc; i++) {
      if (key[i] < 0) { perm[i] = -1; continue; }
      int e = (int)(key[i] >> XM_KEY_SHIFT);
      int64_t at = base[e] + fill[e]++;
      ridx[at] = key[i] & XM_ROW_MASK;
      perm[i] = at;
    }
    free(fill);
    for (int e = 0; e < X->nents && !rc; e++)
      if (ecount[e]) rc = st_table_take(X->ents[e].proj, ridx + base[e], ecount[e], &parts[slot[e]], err);
    free(base);
    free(slot);
    st_table *cat = NULL;
    if (!rc) rc = st_table_concat(parts, used, &cat, err);
    if (!rc) rc = st_table_take(cat, perm, n, &rtake, err);
    st_table_free(cat);
    for (int i = 0; i < used; i++) st_table_free(parts[i]);
  }
  if (rc) goto done;
  /* distance column */
  {
    st_field df;
    if ((rc = st_field_init(&df, "_dist_arcsec", ST_T_DOUBLE, true))) goto done;
    st_builder *b = NULL;
    uint8_t *valid = malloc((size_t)(n > 0 ? n : 1));
    if (!valid) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    if (!rc) rc = st_builder_new(&df, &b, err);
    bool anynull = false;
    for (int64_t i = 0; i < n && !rc; i++) {
      valid[i] = key[i] >= 0;
      anynull |= key[i] < 0;
    }
    if (!rc) rc = st_builder_append_values(b, d, n, anynull ? valid : NULL, err);
    if (!rc) rc = st_builder_finish(b, &darr, err);
    st_builder_free(b);
    free(valid);
    st_field_clear(&df);
    if (rc) goto done;
  }
  /* assemble */
  {
    int nl = ltake->n_columns, nr = rtake->n_columns;
    int nc = nl + nr + 1;
    fields = calloc((size_t)nc, sizeof *fields);
    cols = calloc((size_t)nc, sizeof *cols);
    if (!fields || !cols) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
    for (int i = 0; i < nl && !rc; i++, nf++) {
      const st_field *f = &ltake->schema.children[i];
      /* LSDB: the left _healpix_29 is the result's index, without suffix */
      rc = renamed_field(&fields[nf], f, strcmp(f->name, "_healpix_29") ? o->suffix_left : "");
    }
    for (int i = 0; i < nr && !rc; i++, nf++)
      rc = renamed_field(&fields[nf], &rtake->schema.children[i], o->suffix_right);
    if (!rc) rc = st_field_init(&fields[nf++], "_dist_arcsec", ST_T_DOUBLE, true);
    if (rc) {
      rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      goto done;
    }
    for (int i = 0; i < nl; i++) {
      cols[i] = ltake->columns[i];
      ltake->columns[i] = NULL;
    }
    for (int i = 0; i < nr; i++) {
      cols[nl + i] = rtake->columns[i];
      rtake->columns[i] = NULL;
    }
    cols[nc - 1] = darr;
    darr = NULL;
    rc = st_table_new(fields, cols, nc, n, NULL, out, err);
  }
done:
  for (int i = 0; i < nf; i++) st_field_clear(&fields[i]);
  free(fields);
  free(cols);
  st_array_free(darr);
  st_table_free(lsel);
  st_table_free(ltake);
  st_table_free(rtake);
  free(parts);
  free(perm);
  free(ridx);
  free(ecount);
  return rc;
}

/* ---- direct output (one worker, fixed-width columns) ---------------------------
**
** With one worker the units finish in order, so their rows can be gathered
** straight into the final columns (no per-unit tables, no concatenation):
** each output column is a growable buffer (realloc: large blocks are moved
** by remapping, not copied) of fixed-width values plus a validity bitmap
** made at the first null.  Used when every output column has a fixed width
** (numbers, dates, timestamps, decimals, fixed binary); else the units build
** tables as above.  The fields (names, types, nullability) are those the
** per-unit path would give: left fields from the first unit with output
** rows, right fields from the first right entry it takes rows from (or the
** empty right table), checked against every later source (ST_ERR_SCHEMA, as
** the concatenation would).
*/
typedef struct dcol {
  uint8_t *data;           /* values (width bytes each), st_aligned_alloc    */
  uint8_t *valid;          /* validity bitmap or NULL (no null yet), malloc  */
  int width;               /* bytes per value                                */
  int64_t cap;             /* values allocated                               */
  size_t bytes;            /* bytes allocated at data                        */
} dcol;

/* Value buffers come from st_aligned_alloc, whose large blocks are
   recycled: once a previous result has been freed, a new one reuses its
   pages instead of faulting in fresh ones. */
static uint8_t *dbuf_grow(uint8_t *old, size_t used, size_t bytes) {
  uint8_t *p = st_aligned_alloc(bytes);
  if (!p) return NULL;
  if (old) {
    memcpy(p, old, used);
    st_aligned_free(old);
  }
  return p;
}

typedef struct dout {
  dcol *cols;              /* left columns, right columns, _dist_arcsec      */
  int ncols;
  int64_t n;               /* rows so far                                    */
  st_field *lf, *rf;       /* reference fields (NULL until the first rows)   */
  int nlf, nrf;
  int64_t hint;            /* first capacity (left rows, when known)         */
} dout;

static void dout_free(dout *D) {
  if (!D) return;
  for (int c = 0; c < D->ncols; c++) {
    st_aligned_free(D->cols[c].data);
    free(D->cols[c].valid);
  }
  free(D->cols);
  for (int c = 0; c < D->nlf; c++) st_field_clear(&D->lf[c]);
  for (int c = 0; c < D->nrf; c++) st_field_clear(&D->rf[c]);
  free(D->lf);
  free(D->rf);
  free(D);
}

static bool fixed_field(const st_field *f) {
  return !f->dict_encoded && f->n_children == 0 && st_type_byte_width(f) > 0;
}

static int dcol_reserve(dcol *c, int64_t need, int64_t n, int64_t hint, st_error *err) {
  if (need <= c->cap) return 0;
  int64_t cap = c->cap ? c->cap : hint > 4096 ? hint : 4096;
  while (cap < need) cap *= 2;
  size_t bytes = (size_t)cap * (size_t)c->width;
  uint8_t *d = dbuf_grow(c->data, (size_t)n * (size_t)c->width, bytes);
  if (!d)
    return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (%lld output rows)", (long long)cap);
  c->data = d;
  c->bytes = bytes;
  if (c->valid) {
    uint8_t *v = realloc(c->valid, (size_t)(cap + 7) / 8 + 64);
    if (!v)
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory (%lld output rows)", (long long)cap);
    memset(v + (n + 7) / 8, 0xFF, (size_t)((cap + 7) / 8 - (n + 7) / 8));
    c->valid = v;
  }
  c->cap = cap;
  return 0;
}

/* Mark row r null (making the bitmap: rows before are valid). */
static int dcol_null(dcol *c, int64_t r, st_error *err) {
  if (!c->valid) {
    c->valid = malloc((size_t)(c->cap + 7) / 8 + 64);
    if (!c->valid) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    memset(c->valid, 0xFF, (size_t)(c->cap + 7) / 8 + 64);
  }
  c->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
  return 0;
}

/* dst[i] = src[idx[i]] for the rows with idx >= 0 (width w). */
static void gather_w(uint8_t *dst, const uint8_t *src, int w, const int64_t *idx, int64_t n) {
  switch (w) {
    case 8:
      for (int64_t i = 0; i < n; i++)
        if (idx[i] >= 0) memcpy(dst + 8 * i, src + 8 * idx[i], 8);
      break;
    case 4:
      for (int64_t i = 0; i < n; i++)
        if (idx[i] >= 0) memcpy(dst + 4 * i, src + 4 * idx[i], 4);
      break;
    default:
      for (int64_t i = 0; i < n; i++)
        if (idx[i] >= 0)
          memcpy(dst + (size_t)w * (size_t)i, src + (size_t)w * (size_t)idx[i], (size_t)w);
  }
}

static int dout_check_field(const st_field *want, const st_field *got, st_error *err) {
  if (st_field_equal(want, got)) return 0;
  char a[96], b[96];
  st_field_type_string(want, a, sizeof a);
  st_field_type_string(got, b, sizeof b);
  return st_fail(err, ST_ERR_SCHEMA, "xmatch: column '%s' is %s in one partition and %s in another",
                 want->name, a, b);
}

/* At the unit with the first output rows: take the reference fields and
   make the columns, or give up the direct output (a column without a fixed
   width): then X->dout is NULL and the units build tables. */
static int dout_capture(xrun *X, const st_table *lt, const int64_t *key, int64_t n, st_error *err) {
  dout *D = X->dout;
  int nl = X->L.ncols, nr = X->R.ncols, rc = 0;
  int *lc = malloc(((size_t)nl + 1) * sizeof *lc);
  if (!lc) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  rc = resolve_cols(lt, X->L.cols, nl, lc, err);
  int first = -1;
  for (int64_t i = 0; i < n; i++)
    if (key[i] >= 0 && (first < 0 || (int)(key[i] >> XM_KEY_SHIFT) < first))
      first = (int)(key[i] >> XM_KEY_SHIFT);
  const st_table *rt = first >= 0 ? X->ents[first].proj : X->rempty;
  bool fixed = true;
  for (int c = 0; c < nl && !rc; c++) fixed &= fixed_field(&lt->schema.children[lc[c]]);
  for (int c = 0; c < nr && !rc; c++) fixed &= fixed_field(&rt->schema.children[c]);
  if (!rc && !fixed) {
    dout_free(D);
    X->dout = NULL;
    free(lc);
    return 0;
  }
  D->lf = calloc((size_t)nl + 1, sizeof *D->lf);
  D->rf = calloc((size_t)nr + 1, sizeof *D->rf);
  D->ncols = nl + nr + 1;
  D->cols = calloc((size_t)D->ncols, sizeof *D->cols);
  if (!rc && (!D->lf || !D->rf || !D->cols))
    rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int c = 0; c < nl && !rc; c++, D->nlf++)
    if (st_field_copy(&D->lf[c], &lt->schema.children[lc[c]]))
      rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int c = 0; c < nr && !rc; c++, D->nrf++)
    if (st_field_copy(&D->rf[c], &rt->schema.children[c]))
      rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int c = 0; c < nl && !rc; c++) D->cols[c].width = st_type_byte_width(&D->lf[c]);
  for (int c = 0; c < nr && !rc; c++) D->cols[nl + c].width = st_type_byte_width(&D->rf[c]);
  if (!rc) D->cols[nl + nr].width = 8;
  free(lc);
  return rc;
}

/* Append the unit's rows (li: rows of lt; key: right entry << shift | row,
   or -1; d: distances) to the direct output. */
static int dout_append(xrun *X, const st_table *lt, const int64_t *li, const int64_t *key,
                       const double *d, int64_t n, st_error *err) {
  dout *D = X->dout;
  int nl = X->L.ncols, nr = X->R.ncols;
  int64_t base = D->n;
  int *lc = malloc(((size_t)nl + 1) * sizeof *lc);
  int64_t *ridx = malloc((size_t)(n > 0 ? n : 1) * sizeof *ridx);
  int rc = 0;
  if (!lc || !ridx) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  if (!rc) rc = resolve_cols(lt, X->L.cols, nl, lc, err);
  for (int c = 0; c < D->ncols && !rc; c++)
    rc = dcol_reserve(&D->cols[c], base + n, base, D->hint, err);
  /* left columns */
  for (int c = 0; c < nl && !rc; c++) {
    const st_array *a = lt->columns[lc[c]];
    dcol *o = &D->cols[c];
    if ((rc = dout_check_field(&D->lf[c], &lt->schema.children[lc[c]], err))) break;
    gather_w(o->data + (size_t)base * (size_t)o->width,
             a->buf[1] + (size_t)a->offset * (size_t)o->width, o->width, li, n);
    if (a->buf[0])
      for (int64_t i = 0; i < n && !rc; i++)
        if (!st_array_is_valid(a, li[i])) rc = dcol_null(o, base + i, err);
  }
  /* right columns: runs of rows from one entry */
  for (int64_t i = 0; i < n && !rc;) {
    int64_t j = i;
    if (key[i] < 0) {
      while (j < n && key[j] < 0) j++;
      for (int c = 0; c < nr && !rc; c++)
        for (int64_t t = i; t < j && !rc; t++) {
          memset(D->cols[nl + c].data + (size_t)(base + t) * (size_t)D->cols[nl + c].width, 0,
                 (size_t)D->cols[nl + c].width);
          rc = dcol_null(&D->cols[nl + c], base + t, err);
        }
      i = j;
      continue;
    }
    int e = (int)(key[i] >> XM_KEY_SHIFT);
    while (j < n && key[j] >= 0 && (int)(key[j] >> XM_KEY_SHIFT) == e) {
      ridx[j] = key[j] & XM_ROW_MASK;
      j++;
    }
    const st_table *rt = X->ents[e].proj;
    for (int c = 0; c < nr && !rc; c++) {
      const st_array *a = rt->columns[c];
      dcol *o = &D->cols[nl + c];
      if ((rc = dout_check_field(&D->rf[c], &rt->schema.children[c], err))) break;
      gather_w(o->data + (size_t)(base + i) * (size_t)o->width,
               a->buf[1] + (size_t)a->offset * (size_t)o->width, o->width, ridx + i, j - i);
      if (a->buf[0])
        for (int64_t t = i; t < j && !rc; t++)
          if (!st_array_is_valid(a, ridx[t])) rc = dcol_null(o, base + t, err);
    }
    i = j;
  }
  /* distances */
  if (!rc) {
    dcol *o = &D->cols[nl + nr];
    memcpy(o->data + (size_t)base * 8, d, (size_t)n * 8);
    for (int64_t i = 0; i < n && !rc; i++)
      if (key[i] < 0) rc = dcol_null(o, base + i, err);
  }
  if (!rc) D->n += n;
  free(lc);
  free(ridx);
  return rc;
}

static void dmem_free(st_mem *m) {
  free(m->owner);
  free(m);
}

static void dmem_aligned_free(st_mem *m) {
  st_aligned_free(m->data);
  free(m);
}

/* The direct output as a table (D->n > 0). */
static int dout_finish(xrun *X, st_table **out, st_error *err) {
  dout *D = X->dout;
  const st_xmatch_options *o = X->o;
  int nl = X->L.ncols, nr = X->R.ncols, nc = D->ncols, nf = 0, rc = 0;
  st_field *fields = calloc((size_t)nc, sizeof *fields);
  st_array **cols = calloc((size_t)nc, sizeof *cols);
  if (!fields || !cols) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int i = 0; i < nl && !rc; i++, nf++)
    if (renamed_field(&fields[nf], &D->lf[i],
                      strcmp(D->lf[i].name, "_healpix_29") ? o->suffix_left : ""))
      rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int i = 0; i < nr && !rc; i++, nf++)
    if (renamed_field(&fields[nf], &D->rf[i], o->suffix_right))
      rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  if (!rc && st_field_init(&fields[nf++], "_dist_arcsec", ST_T_DOUBLE, true))
    rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  for (int c = 0; c < nc && !rc; c++) {
    dcol *dc = &D->cols[c];
    st_array *a = st_array_new();
    if (!a) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); break; }
    cols[c] = a;
    a->length = D->n;
    a->n_buffers = 2;
    a->mem[1] = st_mem_wrap(dc->data, dc->bytes, dmem_aligned_free, NULL);
    if (!a->mem[1]) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); break; }
    a->buf[1] = dc->data;
    dc->data = NULL;
    a->null_count = 0;
    if (dc->valid) {
      a->mem[0] = st_mem_wrap(dc->valid, (size_t)(D->n + 7) / 8, dmem_free, dc->valid);
      if (!a->mem[0]) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); break; }
      a->buf[0] = dc->valid;
      dc->valid = NULL;
      a->null_count = -1;
      st_array_null_count(a);
    }
  }
  if (!rc) rc = st_table_new(fields, cols, nc, D->n, NULL, out, err);
  else
    for (int c = 0; c < nc && cols; c++) st_array_free(cols[c]);
  for (int i = 0; i < nf; i++) st_field_clear(&fields[i]);
  free(fields);
  free(cols);
  return rc;
}

/* ---- running a unit ---------------------------------------------------------- */

/* A worker's scratch, reused from unit to unit: unit vectors and charts. */
typedef struct wscr {
  double *xyz;             /* 6 doubles per row: xyz, then the charts        */
  int64_t cap;             /* rows                                           */
  st_xm_scratch build;     /* for building the right indexes                 */
} wscr;

static int unit_run(xrun *X, unit *u, wscr *W, st_error *err) {
  const st_xmatch_options *o = X->o;
  st_table *lt_own = NULL;
  const st_table *lt = NULL;
  const double *qra = NULL, *qdec = NULL;
  double *qra_own = NULL, *qdec_own = NULL;   /* copies made here, to free */
  int64_t nq = 0;
  int64_t *li = NULL, *key = NULL;
  double *dd = NULL;
  st_xm_pairs acc = {0};
  int rc = 0;

  /* left rows */
  if (u->part >= 0) {
    int64_t bytes = 0;
    if ((rc = side_read(&X->L, u->first_file, u->n_files, NULL, &lt_own, &bytes, err))) goto done;
    pthread_mutex_lock(&X->mu);
    X->stats.bytes_read += bytes;
    pthread_mutex_unlock(&X->mu);
    lt = lt_own;
    nq = lt->n_rows;
    if ((rc = column_doubles_view(lt, X->L.ra, &qra, &qra_own, err))) goto done;
    if ((rc = column_doubles_view(lt, X->L.dec, &qdec, &qdec_own, err))) goto done;
  } else if (u->rows) {
    lt = X->lview;
    nq = u->nrows;
    qra = qra_own = malloc((size_t)(nq > 0 ? nq : 1) * sizeof *qra_own);
    qdec = qdec_own = malloc((size_t)(nq > 0 ? nq : 1) * sizeof *qdec_own);
    if (!qra || !qdec) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
    for (int64_t i = 0; i < nq; i++) {
      qra_own[i] = X->lra[u->rows[i]];
      qdec_own[i] = X->ldec[u->rows[i]];
    }
  } else {
    lt = X->lview;
    nq = u->nrows;
    qra = X->lra + u->row0;
    qdec = X->ldec + u->row0;
  }

  /* unit vectors once, then match against each needed entry */
  double *xyz = NULL, *chart = NULL;
  if (u->nents > 0) {
    if (nq > W->cap) {
      int64_t cap = nq > 2 * W->cap ? nq : 2 * W->cap;
      free(W->xyz);
      W->xyz = malloc((size_t)cap * 6 * sizeof *W->xyz);
      W->cap = W->xyz ? cap : 0;
      if (!W->xyz) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
    }
    xyz = W->xyz;
    chart = W->xyz + 3 * nq;
    st_xm_radec_to_xyzc(qra, qdec, nq, xyz, chart);
  }
  /* rows near the cell's boundary (the only ones that can match rows of
     a disjoint right cell), gathered once */
  int64_t *bidx = NULL, nb = -1;
  double *bra = NULL, *bdec = NULL, *bxyz = NULL, *bchart = NULL;
  int with_pairs = 0;
  for (int j = 0; j < u->nents && !rc; j++) {
    rentry *E = &X->ents[u->ents[j]];
    pthread_mutex_lock(&E->mu);
    if (!E->loaded) rc = entry_load(X, E, &W->build, err);
    pthread_mutex_unlock(&E->mu);
    if (rc) break;
    /* the kernel appends to acc; then the appended pairs get the entry in
       their keys (and boundary rows their unit row index) */
    int64_t n0 = acc.n;
    if (u->efull[j] || E->leaks) {
      rc = st_xm_index_match_xyzc(E->ix, qra, qdec, xyz, chart, nq, 0, o->min_radius_arcsec,
                                  o->radius_arcsec, X->k, &acc, err);
    } else {
      if (nb < 0) {
        size_t m = (size_t)(nq > 0 ? nq : 1);
        bidx = malloc(m * sizeof *bidx);
        if (!bidx) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); break; }
        nb = st_xm_cell_boundary_chart(u->order, u->pixel, chart, nq, o->radius_arcsec, bidx);
        m = (size_t)(nb > 0 ? nb : 1);
        bra = malloc(m * sizeof *bra);
        bdec = malloc(m * sizeof *bdec);
        bxyz = malloc(m * 6 * sizeof *bxyz);
        if (!bra || !bdec || !bxyz) {
          rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
          break;
        }
        bchart = bxyz + 3 * m;
        for (int64_t i = 0; i < nb; i++) {
          int64_t q = bidx[i];
          bra[i] = qra[q];
          bdec[i] = qdec[q];
          memcpy(bxyz + 3 * i, xyz + 3 * q, 3 * sizeof *bxyz);
          memcpy(bchart + 3 * i, chart + 3 * q, 3 * sizeof *bchart);
        }
      }
      if (nb > 0)
        rc = st_xm_index_match_xyzc(E->ix, bra, bdec, bxyz, bchart, nb, 0, o->min_radius_arcsec,
                                    o->radius_arcsec, X->k, &acc, err);
      for (int64_t i = n0; i < acc.n && !rc; i++) acc.qi[i] = bidx[acc.qi[i]];
    }
    if (rc || acc.n == n0) continue;
    with_pairs++;
    int64_t ek = (int64_t)u->ents[j] << XM_KEY_SHIFT;
    for (int64_t i = n0; i < acc.n; i++) acc.ri[i] |= ek;
  }
  free(bidx);
  free(bra);
  free(bdec);
  free(bxyz);
  if (rc) goto done;
  if (with_pairs > 1 && (rc = merge_pairs(&acc, nq, X->k, err))) goto done;

  /* rows of the output: pairs, plus unmatched left rows for how = LEFT */
  {
    int64_t n = acc.n;
    if (o->how == ST_XMATCH_LEFT) {
      int64_t matched = 0;
      for (int64_t i = 0; i < acc.n; i++)
        if (i == 0 || acc.qi[i] != acc.qi[i - 1]) matched++;
      n += nq - matched;
    }
    /* (ol, ok, od): left row, key, distance of each output row: the pairs
       themselves for INNER, else with the unmatched left rows added */
    int64_t *ol = acc.qi, *ok = acc.ri;
    double *od = acc.dist_arcsec;
    int64_t w = 0, p = 0;
    if (o->how == ST_XMATCH_LEFT) {
      ol = li = malloc((size_t)(n > 0 ? n : 1) * sizeof *li);
      ok = key = malloc((size_t)(n > 0 ? n : 1) * sizeof *key);
      od = dd = malloc((size_t)(n > 0 ? n : 1) * sizeof *dd);
      if (!li || !key || !dd) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
      for (int64_t q = 0; q < nq; q++) {
        if (p < acc.n && acc.qi[p] == q) {
          while (p < acc.n && acc.qi[p] == q) {
            li[w] = q;
            key[w] = acc.ri[p];
            dd[w++] = acc.dist_arcsec[p++];
          }
        } else {
          li[w] = q;
          key[w] = -1;
          dd[w++] = 0;
        }
      }
    }
    /* left row indices into lt */
    if (u->part < 0) {
      if (X->binned) {
        u->lidx = malloc((size_t)(n > 0 ? n : 1) * sizeof *u->lidx);
        if (!u->lidx) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
      }
      for (int64_t i = 0; i < n; i++) {
        ol[i] = u->rows ? u->rows[ol[i]] : u->row0 + ol[i];
        if (u->lidx) u->lidx[i] = ol[i];
      }
    }
    if (n > 0 && X->dout && !X->dout->lf) rc = dout_capture(X, lt, ok, n, err);
    if (n > 0 && !rc) {
      if (X->dout) rc = dout_append(X, lt, ol, ok, od, n, err);
      else rc = build_output(X, lt, ol, ok, od, n, &u->result, err);
    }
    if (!rc) {
      pthread_mutex_lock(&X->mu);
      X->stats.left_rows += nq;
      X->stats.pairs += acc.n;
      pthread_mutex_unlock(&X->mu);
    }
  }
done:
  /* release the entries (all of them: a failed run frees everything) */
  for (int j = 0; j < u->nents; j++) {
    rentry *E = &X->ents[u->ents[j]];
    pthread_mutex_lock(&E->mu);
    if (--E->need == 0) {
      entry_drop(E);
      E->loaded = false;
    }
    pthread_mutex_unlock(&E->mu);
  }
  u->nents = 0;
  free(qra_own);
  free(qdec_own);
  st_table_free(lt_own);
  st_xm_pairs_free(&acc);
  free(li);
  free(key);
  free(dd);
  return rc;
}

static void *worker(void *arg) {
  xrun *X = arg;
  wscr W = {NULL, 0, {NULL, 0}};
  for (;;) {
    if (atomic_load(&X->failed)) break;
    int i = atomic_fetch_add(&X->next, 1);
    if (i >= X->nunits) break;
    st_error e = {0};
    int rc = unit_run(X, &X->units[i], &W, &e);
    if (rc) {
      pthread_mutex_lock(&X->mu);
      if (!atomic_load(&X->failed)) {
        X->err = e;
        if (!X->err.code) X->err.code = rc;
        atomic_store(&X->failed, 1);
      }
      pthread_mutex_unlock(&X->mu);
    }
  }
  free(W.xyz);
  st_aligned_free(W.build.p);
  return NULL;
}

/* ---- planning ------------------------------------------------------------------ */

typedef struct kv {
  int64_t k, v;
} kv;

static void kv_sort(kv *a, int64_t n) {
  while (n > 16) {
    int64_t m = n / 2;
    int64_t pv = a[m].k;
    int64_t i = 0, j = n - 1;
    while (i <= j) {
      while (a[i].k < pv) i++;
      while (a[j].k > pv) j--;
      if (i <= j) {
        kv t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (j + 1 < n - i) {
      kv_sort(a, j + 1);
      a += i;
      n -= i;
    } else {
      kv_sort(a + i, n - i);
      n = j + 1;
    }
  }
  for (int64_t i = 1; i < n; i++) {
    kv v = a[i];
    int64_t j = i;
    while (j > 0 && (a[j - 1].k > v.k || (a[j - 1].k == v.k && a[j - 1].v > v.v))) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = v;
  }
}

typedef struct part_key {
  int64_t start;
  int idx;
} part_key;

static int cmp_part_key(const void *a, const void *b) {
  const part_key *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Partitions of c sorted by the start of their order-29 range. */
static int sorted_partitions(const st_catalog *c, st_partition **out, int *n, st_error *err) {
  int np = st_catalog_n_partitions(c);
  st_partition *p = malloc(((size_t)np + 1) * sizeof *p);
  part_key *k = malloc(((size_t)np + 1) * sizeof *k);
  if (!p || !k) {
    free(p);
    free(k);
    return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  }
  for (int i = 0; i < np; i++) {
    int rc = st_catalog_partition(c, i, &p[i], err);
    if (rc) {
      free(p);
      free(k);
      return rc;
    }
    k[i].start = p[i].order < 0 ? -1 : p[i].pixel << (2 * (29 - p[i].order));
    k[i].idx = i;
  }
  qsort(k, (size_t)np, sizeof *k, cmp_part_key);
  st_partition *s = malloc(((size_t)np + 1) * sizeof *s);
  if (!s) {
    free(p);
    free(k);
    return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  }
  for (int i = 0; i < np; i++) s[i] = p[k[i].idx];
  free(p);
  free(k);
  *out = s;
  *n = np;
  return 0;
}

static int plan(xrun *X, st_error *err) {
  /* right entries */
  if (X->R.partitioned) {
    st_partition *ps = NULL;
    int np = 0;
    ST_TRY(sorted_partitions(X->R.cat, &ps, &np, err));
    X->ents = calloc((size_t)np + 1, sizeof *X->ents);
    if (!X->ents) {
      free(ps);
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    }
    for (int i = 0; i < np; i++) {
      X->ents[i].order = ps[i].order;
      X->ents[i].pixel = ps[i].pixel;
      X->ents[i].first_file = ps[i].first_file;
      X->ents[i].n_files = ps[i].n_files;
    }
    X->nents = X->nprim = np;
    free(ps);
    if (X->M.cat) {
      int nm = 0;
      ST_TRY(sorted_partitions(X->M.cat, &ps, &nm, err));
      rentry *ne = realloc(X->ents, ((size_t)np + (size_t)nm + 1) * sizeof *ne);
      if (!ne) {
        free(ps);
        return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      }
      X->ents = ne;
      memset(ne + np, 0, ((size_t)nm + 1) * sizeof *ne);
      for (int i = 0; i < nm; i++) {
        rentry *E = &ne[np + i];
        E->order = ps[i].order;
        E->pixel = ps[i].pixel;
        E->first_file = ps[i].first_file;
        E->n_files = ps[i].n_files;
        E->margin = true;
      }
      X->nents = np + nm;
      free(ps);
    }
  } else {
    X->ents = calloc(1, sizeof *X->ents);
    if (!X->ents) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    X->ents[0].order = -1;
    X->ents[0].pixel = -1;
    X->ents[0].n_files = X->R.cat ? st_catalog_n_files(X->R.cat) : 0;
    X->nents = X->nprim = 1;
  }
  for (int e = 0; e < X->nents; e++) {
    pthread_mutex_init(&X->ents[e].mu, NULL);
    cell_cap(X->ents[e].order, X->ents[e].pixel, X->ents[e].v, &X->ents[e].rad);
  }
  ST_CHECK(X->nents < (1 << 22), err, ST_ERR_LIMIT, "xmatch: too many right partitions (%d)",
           X->nents);

  /* left units */
  if (X->L.partitioned) {
    st_partition *ps = NULL;
    int np = 0;
    ST_TRY(sorted_partitions(X->L.cat, &ps, &np, err));
    X->units = calloc((size_t)np + 1, sizeof *X->units);
    if (!X->units) {
      free(ps);
      return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
    }
    for (int i = 0; i < np; i++) {
      X->units[i].order = ps[i].order;
      X->units[i].pixel = ps[i].pixel;
      X->units[i].first_file = ps[i].first_file;
      X->units[i].n_files = ps[i].n_files;
      X->units[i].part = i;
    }
    X->nunits = np;
    free(ps);
  } else {
    /* all left rows in memory */
    if (X->L.cat) {
      ST_TRY(side_read(&X->L, 0, st_catalog_n_files(X->L.cat), NULL, &X->ltab, &X->stats.bytes_read,
                       err));
      X->lview = X->ltab;
    } else {
      X->lview = X->L.table;
    }
    int64_t n = X->lview->n_rows;
    ST_TRY(column_doubles(X->lview, X->L.ra, &X->lra, err));
    ST_TRY(column_doubles(X->lview, X->L.dec, &X->ldec, err));
    if (X->R.partitioned) {
      /* bin by pixel at the right side's finest partition order */
      int kb = 0;
      for (int e = 0; e < X->nents; e++)
        if (X->ents[e].order > kb) kb = X->ents[e].order;
      kv *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
      if (!a) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      for (int64_t i = 0; i < n; i++) {
        int64_t pix = -1;
        st_error e2 = {0};
        if (!isfinite(X->lra[i]) || !isfinite(X->ldec[i]) ||
            st_hpx_ang2pix(kb, X->lra[i], X->ldec[i], &pix, &e2))
          pix = -1;
        a[i].k = pix;
        a[i].v = i;
      }
      kv_sort(a, n);
      int64_t nu = 0;
      for (int64_t i = 0; i < n; i++)
        if (i == 0 || a[i].k != a[i - 1].k) nu++;
      X->units = calloc((size_t)nu + 1, sizeof *X->units);
      int64_t *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
      if (!X->units || !rows) {
        free(a);
        free(rows);
        return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      }
      int u = -1;
      for (int64_t i = 0; i < n; i++) {
        rows[i] = a[i].v;
        if (i == 0 || a[i].k != a[i - 1].k) {
          u++;
          X->units[u].order = a[i].k < 0 ? -2 : kb;
          X->units[u].pixel = a[i].k;
          X->units[u].part = -1;
          X->units[u].rows = rows + i;
        }
        X->units[u].nrows++;
      }
      X->nunits = (int)nu;
      X->binned = true;
      free(a);
      if (nu == 0) free(rows);
      /* units[0].rows owns the block (freed in xrun_free) */
    } else {
      int64_t nu = (n + XM_CHUNK - 1) / XM_CHUNK;
      X->units = calloc((size_t)nu + 1, sizeof *X->units);
      if (!X->units) return st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      for (int64_t i = 0; i < nu; i++) {
        X->units[i].order = -1;
        X->units[i].pixel = -1;
        X->units[i].part = -1;
        X->units[i].row0 = i * XM_CHUNK;
        X->units[i].nrows = (i + 1) * XM_CHUNK <= n ? XM_CHUNK : n - i * XM_CHUNK;
      }
      X->nunits = (int)nu;
    }
  }
  for (int i = 0; i < X->nunits; i++) ST_TRY(unit_select(X, &X->units[i], err));
  return 0;
}

static void xrun_free(xrun *X) {
  for (int i = 0; i < X->nunits; i++) {
    free(X->units[i].ents);
    free(X->units[i].efull);
    st_table_free(X->units[i].result);
    free(X->units[i].lidx);
  }
  if (X->binned && X->nunits > 0) free(X->units[0].rows);
  free(X->units);
  for (int e = 0; e < X->nents; e++) {
    entry_drop(&X->ents[e]);
    pthread_mutex_destroy(&X->ents[e].mu);
  }
  if (X->nents == 0 && X->ents) entry_drop(&X->ents[0]);
  free(X->ents);
  st_table_free(X->rempty);
  st_table_free(X->ltab);
  free(X->lra);
  free(X->ldec);
  st_expr_free(X->where);
  dout_free(X->dout);
  side_free(&X->L);
  side_free(&X->R);
  side_free(&X->M);
  pthread_mutex_destroy(&X->mu);
}

/* The 0-row right table with the output columns (for unmatched rows). */
static int right_empty(xrun *X, st_error *err) {
  int rc = 0;
  if (X->R.cat) {
    st_query *q = NULL;
    ST_TRY(st_query_new(&q, err));
    rc = st_query_set_columns(q, (const char *const *)X->R.cols, X->R.ncols, err);
    st_query_set_limit(q, 0);
    if (!rc) rc = st_query_run(q, X->R.cat, &X->rempty, NULL, err);
    st_query_free(q);
    return rc;
  }
  int *proj = malloc(((size_t)X->R.ncols + 1) * sizeof *proj);
  st_table *z = NULL;
  if (!proj) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
  if (!rc) rc = st_table_slice(X->R.table, 0, 0, &z, err);
  if (!rc) rc = resolve_cols(z, X->R.cols, X->R.ncols, proj, err);
  if (!rc) rc = st_table_select_columns(z, proj, X->R.ncols, &X->rempty, err);
  st_table_free(z);
  free(proj);
  return rc;
}

/* An empty result with the output schema. */
static int empty_result(xrun *X, st_table **out, st_error *err) {
  st_table *lt = NULL;
  int rc = 0;
  if (X->lview) rc = st_table_slice(X->lview, 0, 0, &lt, err);
  else {
    st_query *q = NULL;
    ST_TRY(st_query_new(&q, err));
    rc = st_query_set_columns(q, (const char *const *)X->L.qcols, X->L.nqcols, err);
    st_query_set_limit(q, 0);
    if (!rc) rc = st_query_run(q, X->L.cat, &lt, NULL, err);
    st_query_free(q);
  }
  if (!rc) rc = build_output(X, lt, NULL, NULL, NULL, 0, out, err);
  st_table_free(lt);
  return rc;
}

int st_xmatch_run(const st_xmatch_input *left, const st_xmatch_input *right,
                  const st_xmatch_options *o, st_table **out, st_xmatch_stats *stats,
                  st_error *err) {
  *out = NULL;
  if (stats) memset(stats, 0, sizeof *stats);
  ST_CHECK(o && o->struct_size >= sizeof *o, err, ST_ERR_INVALID,
           "xmatch: options not initialised (st_xmatch_options_init)");
  ST_CHECK(o->radius_arcsec > 0 && isfinite(o->radius_arcsec), err, ST_ERR_INVALID,
           "xmatch: radius %g arcsec must be > 0", o->radius_arcsec);
  ST_CHECK(o->min_radius_arcsec >= 0, err, ST_ERR_INVALID,
           "xmatch: minimum radius %g arcsec must be >= 0", o->min_radius_arcsec);
  ST_CHECK(o->min_radius_arcsec < o->radius_arcsec, err, ST_ERR_INVALID,
           "xmatch: radius %g must be greater than the minimum radius %g", o->radius_arcsec,
           o->min_radius_arcsec);
  ST_CHECK(o->n_neighbors >= 0, err, ST_ERR_INVALID, "xmatch: n_neighbors %d must be >= 1",
           o->n_neighbors);
  ST_CHECK(o->how == ST_XMATCH_INNER || o->how == ST_XMATCH_LEFT, err, ST_ERR_INVALID,
           "xmatch: how must be inner or left");
  xrun X;
  memset(&X, 0, sizeof X);
  pthread_mutex_init(&X.mu, NULL);
  X.o = o;
  X.k = o->n_neighbors;
  st_xmatch_options oo = *o;
  if (!oo.suffix_left) oo.suffix_left = "_l";
  if (!oo.suffix_right) oo.suffix_right = "_r";
  X.o = &oo;
  int rc = side_init(&X.L, left, o->columns_left, o->n_columns_left, false, "left", err);
  if (!rc) rc = side_init(&X.R, right, o->columns_right, o->n_columns_right, true, "right", err);
  if (!rc && right->margin && X.R.cat && X.R.partitioned) {
    /* use the margin when its threshold covers the radius */
    const char *th = st_catalog_property(right->margin, "hats_margin_threshold");
    char *end = NULL;
    double t = th ? strtod(th, &end) : -1;
    if (th && end != th && t >= o->radius_arcsec) {
      st_xmatch_input mi = *right;
      mi.catalog = right->margin;
      mi.margin = NULL;
      mi.ra_column = X.R.ra;
      mi.dec_column = X.R.dec;
      rc = side_init(&X.M, &mi, (const char *const *)X.R.cols, X.R.ncols, true, "right margin",
                     err);
    }
  }
  if (!rc && o->where_right) {
    rc = st_expr_parse(o->where_right, &X.where, err);
    if (rc) st_error_prefix(err, "xmatch: where_right: ");
  }
  if (!rc) rc = plan(&X, err);
  if (!rc) rc = right_empty(&X, err);
  if (rc) goto done;
  X.stats.left_partitions = X.L.partitioned ? X.nunits : 1;
  /* run */
  {
    int nt = o->threads > 0 ? o->threads : 1;
    if (nt > X.nunits) nt = X.nunits;
    if (nt <= 1 && !X.binned) {
      /* one worker: units finish in order, gather straight into the output */
      X.dout = calloc(1, sizeof *X.dout);
      if (!X.dout) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
      /* room for about one row per left row at first (pages are touched
         only when written; beyond, realloc moves large blocks cheaply) */
      int64_t nl = X.L.cat ? st_catalog_num_rows(X.L.cat) : X.L.table->n_rows;
      X.dout->hint = nl > 0 ? (nl < (INT64_C(1) << 22) ? nl : (INT64_C(1) << 22)) : 0;
    }
    if (nt <= 1) worker(&X);
    else {
      pthread_t *th = calloc((size_t)nt, sizeof *th);
      int started = 0;
      if (th)
        for (; started < nt; started++)
          if (pthread_create(&th[started], NULL, worker, &X)) break;
      if (!started) worker(&X);
      for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
      free(th);
    }
    if (atomic_load(&X.failed)) {
      *err = X.err;
      rc = X.err.code ? X.err.code : ST_ERR_IO;
      goto done;
    }
  }
  /* gather */
  {
    st_table **v = calloc((size_t)X.nunits + 1, sizeof *v);
    if (!v) { rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory"); goto done; }
    int nv = 0;
    int64_t total = 0;
    for (int i = 0; i < X.nunits; i++)
      if (X.units[i].result && X.units[i].result->n_rows) {
        v[nv++] = X.units[i].result;
        total += X.units[i].result->n_rows;
      }
    st_table *all = NULL;
    if (X.dout && X.dout->n > 0) rc = dout_finish(&X, &all, err);
    else if (nv == 0) rc = empty_result(&X, &all, err);
    else if (nv == 1) rc = st_table_slice(v[0], 0, v[0]->n_rows, &all, err);
    else rc = st_table_concat(v, nv, &all, err);
    free(v);
    if (!rc && X.binned && total > 0) {
      /* back to left table order: stable counting sort on the left row */
      int64_t nl = X.lview->n_rows;
      int64_t *cnt = calloc((size_t)nl + 1, sizeof *cnt);
      int64_t *perm = malloc((size_t)total * sizeof *perm);
      if (!cnt || !perm) rc = st_fail(err, ST_ERR_NOMEM, "xmatch: out of memory");
      for (int i = 0; i < X.nunits && !rc; i++) {
        unit *u = &X.units[i];
        if (!u->result) continue;
        for (int64_t j = 0; j < u->result->n_rows; j++) cnt[u->lidx[j] + 1]++;
      }
      for (int64_t j = 0; j < nl && !rc; j++) cnt[j + 1] += cnt[j];
      int64_t pos = 0;
      for (int i = 0; i < X.nunits && !rc; i++) {
        unit *u = &X.units[i];
        if (!u->result || !u->result->n_rows) continue;
        for (int64_t j = 0; j < u->result->n_rows; j++) perm[cnt[u->lidx[j]]++] = pos + j;
        pos += u->result->n_rows;
      }
      st_table *sorted = NULL;
      if (!rc) rc = st_table_take(all, perm, total, &sorted, err);
      free(cnt);
      free(perm);
      st_table_free(all);
      all = rc ? NULL : sorted;
    }
    if (rc) {
      st_table_free(all);
      goto done;
    }
    *out = all;
  }
done:
  if (stats) *stats = X.stats;
  xrun_free(&X);
  return rc;
}
