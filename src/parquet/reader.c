/*
** This file implements the Parquet reader API of skytile/parquet.h: open a
** file (or memory), parse and validate the footer, and read selected row
** groups and top-level columns into an st_table.
**
** File tail (parquet-format):
**   OFFSET     SIZE  DESCRIPTION
**   size-8-F   F     FileMetaData (Thrift compact)
**   size-8     4     F, little-endian uint32
**   size-4     4     "PAR1" ("PARE": encrypted footer -> unsupported)
**
** Open validates what the readers below rely on: the footer length lies in
** the file and under max_alloc; no encryption (PARE magic, encryption
** algorithm in FileMetaData, or encrypted column chunks); every row group
** has one column chunk per schema leaf and num_rows >= 0.
**
** st_pq_read reads column by column: for each leaf of a selected top-level
** column, the chunks of all selected row groups are decoded into one
** pre-sized st_pq_leafdata (column_reader.c), then the column's array is
** assembled (assemble.c).  Only the chunks of the selected columns and row
** groups are touched.  Errors are prefixed "FILE: column 'a.b', row group 3,
** page 7: ".
*/
#include <stdlib.h>
#include <string.h>

#include "parquet/reader_internal.h"
#include "parquet/reader_priv.h"
#include "skytile.h"

struct st_pq_reader {
  st_file *file;              /* the open file (mmap'd or memory)             */
  char *name;                 /* path or name, for messages                   */
  st_pq_read_options opt;     /* effective options (max_alloc resolved)       */
  st_pq_file_meta meta;       /* parsed footer                                */
  st_pq_tree schema;        /* schema tree                                  */
  bool have_meta, have_schema;
  int64_t n_rows;             /* sum of the row groups' num_rows              */
};

#define DEFAULT_MAX_ALLOC ((uint64_t)1 << 30)

void st_pq_read_options_init(st_pq_read_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->max_alloc = DEFAULT_MAX_ALLOC;
}

static void resolve_options(st_pq_read_options *dst, const st_pq_read_options *src) {
  st_pq_read_options_init(dst);
  if (src) {
    size_t n = src->struct_size && src->struct_size < sizeof *dst ? src->struct_size : sizeof *dst;
    memcpy(dst, src, n);
    dst->struct_size = sizeof *dst;
  }
  if (!dst->max_alloc) dst->max_alloc = DEFAULT_MAX_ALLOC;
}

void st_pq_close(st_pq_reader *r) {
  if (!r) return;
  if (r->have_schema) st_pq_schema_free(&r->schema);
  if (r->have_meta) st_pq_meta_free(&r->meta);
  st_file_close(r->file);
  free(r->name);
  free(r);
}

static int parse_footer(st_pq_reader *r, st_error *err) {
  uint64_t size = st_file_size(r->file);
  ST_SAFETY(size >= 12, err, "not a Parquet file (%llu bytes is too small)", (unsigned long long)size);
  st_mem *m = NULL;
  const uint8_t *p = NULL;
  ST_TRY(st_file_read(r->file, size - 8, 8, &m, &p, err));
  uint32_t flen = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  char magic[4];
  memcpy(magic, p + 4, 4);
  st_mem_unref(m);
  ST_CHECK(memcmp(magic, "PARE", 4), err, ST_ERR_UNSUPPORTED, "encrypted Parquet is not supported");
  ST_SAFETY(!memcmp(magic, "PAR1", 4), err, "not a Parquet file (bad magic)");
  ST_TRY(st_file_read(r->file, 0, 4, &m, &p, err));
  bool head_ok = !memcmp(p, "PAR1", 4);
  st_mem_unref(m);
  ST_SAFETY(head_ok, err, "not a Parquet file (bad magic at start)");
  ST_SAFETY(flen <= size - 12, err, "footer length %u exceeds the file size (%llu bytes)", flen,
            (unsigned long long)size);
  ST_CHECK(flen <= r->opt.max_alloc, err, ST_ERR_LIMIT, "footer of %u bytes exceeds the allocation limit",
           flen);
  ST_TRY(st_file_read(r->file, size - 8 - flen, flen, &m, &p, err));
  int rc = st_pq_meta_decode(p, flen, &r->meta, err);
  st_mem_unref(m);
  if (rc) {
    st_pq_meta_free(&r->meta);
    return rc;
  }
  r->have_meta = true;
  const st_pq_file_meta *fm = &r->meta;
  ST_CHECK(!fm->has_encryption_algorithm, err, ST_ERR_UNSUPPORTED,
           "encrypted Parquet is not supported");
  for (int g = 0; g < fm->n_row_groups; g++)
    for (int c = 0; c < fm->row_groups[g].n_columns; c++)
      ST_CHECK(!fm->row_groups[g].columns[c].encrypted, err, ST_ERR_UNSUPPORTED,
               "encrypted Parquet is not supported (row group %d, column %d)", g, c);
  rc = st_pq_schema_build(fm, &r->schema, err);
  if (rc) return rc;
  r->have_schema = true;
  for (int g = 0; g < fm->n_row_groups; g++) {
    const st_pq_row_group *rg = &fm->row_groups[g];
    ST_SAFETY(rg->n_columns == r->schema.n_leaves, err,
              "row group %d has %d column chunks but the schema has %d columns", g, rg->n_columns,
              r->schema.n_leaves);
    ST_SAFETY(rg->num_rows >= 0 && rg->num_rows <= INT64_MAX - r->n_rows, err,
              "row group %d: bad num_rows %lld", g, (long long)rg->num_rows);
    r->n_rows += rg->num_rows;
  }
  return ST_OK;
}

static int open_common(st_file *f, const char *name, const st_pq_read_options *opt,
                       st_pq_reader **out, st_error *err) {
  *out = NULL;
  st_pq_reader *r = calloc(1, sizeof *r);
  if (!r) {
    st_file_close(f);
    return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", name);
  }
  r->file = f;
  r->name = st_strdup(name ? name : "<memory>");
  resolve_options(&r->opt, opt);
  int rc = r->name ? parse_footer(r, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (rc) {
    st_error_prefix(err, "%s: ", name ? name : "<memory>");
    st_pq_close(r);
    return rc;
  }
  *out = r;
  return ST_OK;
}

int st_pq_open(const char *path, const st_pq_read_options *opt, st_pq_reader **out, st_error *err) {
  ST_CHECK(path && out, err, ST_ERR_INVALID, "st_pq_open: NULL argument");
  *out = NULL;
  st_file *f = NULL;
  ST_TRY(st_file_open(path, &f, err));
  return open_common(f, path, opt, out, err);
}

int st_pq_open_memory(const void *data, size_t size, const char *name,
                      const st_pq_read_options *opt, st_pq_reader **out, st_error *err) {
  ST_CHECK(out && (data || !size), err, ST_ERR_INVALID, "st_pq_open_memory: NULL argument");
  *out = NULL;
  st_file *f = NULL;
  ST_TRY(st_file_open_memory(data, size, name ? name : "<memory>", &f, err));
  return open_common(f, name, opt, out, err);
}

int64_t st_pq_num_rows(const st_pq_reader *r) { return r ? r->meta.num_rows : 0; }
int st_pq_num_row_groups(const st_pq_reader *r) { return r ? r->meta.n_row_groups : 0; }
int64_t st_pq_row_group_num_rows(const st_pq_reader *r, int g) {
  if (!r || g < 0 || g >= r->meta.n_row_groups) return -1;
  return r->meta.row_groups[g].num_rows;
}
const st_field *st_pq_schema(const st_pq_reader *r) { return r ? &r->schema.root : NULL; }
const st_pq_file_meta *st_pq_reader_meta(const st_pq_reader *r) { return r ? &r->meta : NULL; }
const struct st_pq_schema *st_pq_reader_schema(const st_pq_reader *r) { return r ? &r->schema : NULL; }

/* Read top-level column `col` over the row groups rgs[0..nrg) into *out. */
static int read_column(st_pq_reader *r, st_pq_colctx *ctx, int col, const int *rgs, int nrg,
                       int64_t n_rows, st_array **out, bool *dict_out, st_error *err) {
  const st_pq_tree *s = &r->schema;
  int first = s->top_first_leaf[col], nl = s->top_n_leaves[col], node = s->top_node[col];
  bool nested = s->nodes[node].kind != ST_PQ_NODE_LEAF;
  st_pq_leafspec *specs = calloc((size_t)(nl ? nl : 1), sizeof *specs);
  st_pq_leafdata *leaves = calloc((size_t)(nl ? nl : 1), sizeof *leaves);
  int rc = ST_OK;
  if (!specs || !leaves) {
    rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < nl; i++) {
    int li = first + i;
    const char *path = s->leaves[li].path ? s->leaves[li].path : "?";
    rc = st_pq_leafspec_init(&specs[i], s, li, nested, r->opt.keep_dictionary, err);
    if (rc) goto done;   /* the message names the column */
    int64_t entries = 0;
    for (int k = 0; k < nrg; k++) {
      const st_pq_column_chunk *cc = &r->meta.row_groups[rgs[k]].columns[li];
      int64_t nv = cc->has_meta ? cc->meta.num_values : 0;
      int64_t rows = r->meta.row_groups[rgs[k]].num_rows;
      /* Checked before anything is allocated: a non-repeated column has one
         value (or null) per row; a repeated one at least one entry per row. */
      if (nv < 0 || entries + nv < entries || entries + nv > ((int64_t)1 << 40) ||
          (specs[i].max_rep == 0 ? nv != rows : nv < rows)) {
        rc = st_fail(err, ST_ERR_CORRUPT,
                     "column '%s', row group %d: num_values %lld inconsistent with %lld rows", path,
                     rgs[k], (long long)nv, (long long)rows);
        goto done;
      }
      entries += nv;
    }
    rc = st_pq_leafdata_reserve(&leaves[i], &specs[i], entries, r->opt.max_alloc, err);
    if (rc) {
      st_error_prefix(err, "column '%s': ", path);
      goto done;
    }
    for (int k = 0; k < nrg; k++) {
      const st_pq_row_group *rg = &r->meta.row_groups[rgs[k]];
      rc = st_pq_chunk_read(ctx, &specs[i], &rg->columns[li], rg->num_rows, &leaves[i], err);
      if (rc) {
        /* "column 'a.b', row group 3, page 7: reason" */
        bool page = err && !strncmp(err->msg, "page ", 5);
        st_error_prefix(err, "column '%s', row group %d%s", path, rgs[k], page ? ", " : ": ");
        goto done;
      }
    }
  }
  *dict_out = !nested && nl == 1 && specs[0].dict_out;
  rc = st_pq_assemble(s, node, first, specs, leaves, n_rows, out, err);
  if (rc) st_error_prefix(err, "column '%s': ", s->root.children[col].name);
done:
  if (leaves)
    for (int i = 0; i < nl; i++) st_pq_leafdata_free(&leaves[i]);
  free(leaves);
  free(specs);
  return rc;
}

int st_pq_read(st_pq_reader *r, const int *row_groups, int n_row_groups, const int *columns,
               int n_columns, st_table **out, st_error *err) {
  ST_CHECK(r && out, err, ST_ERR_INVALID, "st_pq_read: NULL argument");
  *out = NULL;
  const st_pq_tree *s = &r->schema;
  int ntop = s->root.n_children;
  int nrg = row_groups && n_row_groups > 0 ? n_row_groups : r->meta.n_row_groups;
  int ncol = columns && n_columns > 0 ? n_columns : ntop;
  int *rgs = malloc(sizeof(int) * (size_t)(nrg ? nrg : 1));
  int *cols = malloc(sizeof(int) * (size_t)(ncol ? ncol : 1));
  st_array **arrays = calloc((size_t)(ncol ? ncol : 1), sizeof *arrays);
  st_field *fields = calloc((size_t)(ncol ? ncol : 1), sizeof *fields);
  bool *dicts = calloc((size_t)(ncol ? ncol : 1), sizeof *dicts);
  st_pq_colctx ctx;
  st_pq_colctx_init(&ctx, r->file, r->opt.max_alloc, r->opt.verify_crc);
  int rc = ST_OK;
  int64_t n_rows = 0;
  if (!rgs || !cols || !arrays || !fields || !dicts) {
    rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < nrg; i++) {
    int g = row_groups && n_row_groups > 0 ? row_groups[i] : i;
    if (g < 0 || g >= r->meta.n_row_groups) {
      rc = st_fail(err, ST_ERR_INVALID, "row group %d out of range (file has %d)", g,
                   r->meta.n_row_groups);
      goto done;
    }
    rgs[i] = g;
    n_rows += r->meta.row_groups[g].num_rows;
  }
  for (int i = 0; i < ncol; i++) {
    int c = columns && n_columns > 0 ? columns[i] : i;
    if (c < 0 || c >= ntop) {
      rc = st_fail(err, ST_ERR_INVALID, "column %d out of range (file has %d)", c, ntop);
      goto done;
    }
    cols[i] = c;
  }
  for (int i = 0; i < ncol; i++) {
    rc = read_column(r, &ctx, cols[i], rgs, nrg, n_rows, &arrays[i], &dicts[i], err);
    if (rc) goto done;
    fields[i] = s->root.children[cols[i]];   /* shallow: st_table_new deep-copies */
    if (dicts[i]) fields[i].dict_encoded = true;
  }
  rc = st_table_new(fields, arrays, ncol, n_rows, &s->root, out, err);
  memset(arrays, 0, sizeof *arrays * (size_t)ncol);   /* moved into the table (or freed) */
done:
  if (arrays)
    for (int i = 0; i < ncol; i++) st_array_free(arrays[i]);
  st_pq_colctx_free(&ctx);
  free(rgs);
  free(cols);
  free(arrays);
  free(fields);
  free(dicts);
  if (rc) st_error_prefix(err, "%s: ", r->name);
  return rc;
}
