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
**
** The reader keeps one decode context (pages, dictionaries, index scratch)
** across calls, so reading row group by row group does not reallocate it
** (up to READER_KEEP bytes; more is freed after each read).
** st_pq_read_rows decodes a flat column chunk into a reused scratch leaf
** with the selection set in the context (column_reader.c then leaves a
** Snappy dictionary compressed and places only the selected values, and
** strings come back as indices + dictionary), then copies the selected
** slots into fresh buffers; nested columns are read whole and taken.
** st_pq_open_borrowed makes a reader whose schema and row groups point into
** a _metadata reader (not freed by st_pq_close; chunks may carry file_path).
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
  st_pq_colctx ctx;           /* decode scratch kept across reads (pages,     */
                              /* dictionaries, indices): one thread at a time */
  st_pq_leafdata scratch;     /* st_pq_read_rows: one decoded chunk, reused   */
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
  st_pq_colctx_free(&r->ctx);
  st_pq_leafdata_free(&r->scratch);
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
  int rc = st_pq_meta_decode_arena(p, flen, &r->meta, err);
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
  st_pq_colctx_init(&r->ctx, f, r->opt.max_alloc, r->opt.verify_crc);
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

int st_pq_open_borrowed(const char *path, const st_pq_reader *md, int first_rg, int n_rg,
                        const st_pq_read_options *opt, st_pq_reader **out, st_error *err) {
  ST_CHECK(path && md && out, err, ST_ERR_INVALID, "st_pq_open_borrowed: NULL argument");
  *out = NULL;
  ST_CHECK(first_rg >= 0 && n_rg >= 0 && first_rg <= md->meta.n_row_groups - n_rg, err, ST_ERR_INVALID,
           "%s: row groups [%d, %d) are not in %s (%d row groups)", path, first_rg, first_rg + n_rg, md->name,
           md->meta.n_row_groups);
  st_file *f = NULL;
  ST_TRY(st_file_open(path, &f, err));
  st_pq_reader *r = calloc(1, sizeof *r);
  if (!r) {
    st_file_close(f);
    return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
  }
  r->file = f;
  r->name = st_strdup(path);
  resolve_options(&r->opt, opt);
  st_pq_colctx_init(&r->ctx, f, r->opt.max_alloc, r->opt.verify_crc);
  r->ctx.any_file_path = true;
  r->meta = md->meta;                       /* shallow: borrowed, never freed here */
  r->meta.row_groups = md->meta.row_groups + first_rg;
  r->meta.n_row_groups = n_rg;
  r->schema = md->schema;
  int rc = r->name ? ST_OK : st_fail(err, ST_ERR_NOMEM, "out of memory");
  /* a Parquet file (magic at both ends) holding every chunk it is said to hold */
  uint64_t size = st_file_size(f);
  if (!rc && size < 12) rc = st_fail(err, ST_ERR_CORRUPT, "not a Parquet file (%llu bytes is too small)",
                                     (unsigned long long)size);
  for (int k = 0; k < 2 && !rc; k++) {
    st_mem *m = NULL;
    const uint8_t *p = NULL;
    if ((rc = st_file_read(f, k ? size - 4 : 0, 4, &m, &p, err))) break;
    if (memcmp(p, "PAR1", 4)) rc = st_fail(err, ST_ERR_CORRUPT, "not a Parquet file (bad magic)");
    st_mem_unref(m);
  }
  r->n_rows = 0;
  for (int g = 0; g < n_rg && !rc; g++) {
    const st_pq_row_group *rg = &r->meta.row_groups[g];
    r->n_rows += rg->num_rows;
    for (int c = 0; c < rg->n_columns && !rc; c++) {
      const st_pq_column_chunk *cc = &rg->columns[c];
      if (!cc->has_meta) continue;
      int64_t st = cc->meta.data_page_offset;
      if (cc->meta.has_dictionary_page_offset && cc->meta.dictionary_page_offset > 0 &&
          cc->meta.dictionary_page_offset < st)
        st = cc->meta.dictionary_page_offset;
      if (st < 4 || cc->meta.total_compressed_size < 0 || (uint64_t)st > size ||
          (uint64_t)cc->meta.total_compressed_size > size - (uint64_t)st)
        rc = st_fail(err, ST_ERR_CORRUPT, "row group %d, column %d lies outside the file (%llu bytes): "
                     "the _metadata does not describe this file", first_rg + g, c, (unsigned long long)size);
    }
  }
  r->meta.num_rows = r->n_rows;
  if (rc) {
    st_error_prefix(err, "%s: ", path);
    st_pq_close(r);
    return rc;
  }
  *out = r;
  return ST_OK;
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

/* Scratch kept by a reader between reads: at most READER_KEEP bytes (a
   reader of big pages gives them back after each read, so many open readers
   do not hold many pages). */
#define READER_KEEP ((size_t)512 << 10)

static void reader_trim(st_pq_reader *r) {
  st_pq_colctx *c = &r->ctx;
  size_t tot = c->page.cap + c->io.cap + c->lev_d.cap + c->lev_r.cap + c->idx.cap + c->raw.cap + c->soff.cap +
               c->sbytes.cap + c->dict.cap + c->dict_offs.cap + c->dview.cap * sizeof(st_snappy_elem);
  if (tot > READER_KEEP) {
    bool any = c->any_file_path;
    st_pq_colctx_free(c);
    st_pq_colctx_init(c, r->file, r->opt.max_alloc, r->opt.verify_crc);
    c->any_file_path = any;
  }
  st_pq_leafdata *d = &r->scratch;
  if (d->def.cap + d->rep.cap + d->valid.cap + d->values.cap + d->bytes.cap + d->dict_off.cap + d->dict_bytes.cap >
      READER_KEEP)
    st_pq_leafdata_free(d);
}

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
  st_pq_colctx *ctx = &r->ctx;
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
    rc = read_column(r, ctx, cols[i], rgs, nrg, n_rows, &arrays[i], &dicts[i], err);
    if (rc) goto done;
    fields[i] = s->root.children[cols[i]];   /* shallow: st_table_new deep-copies */
    if (dicts[i]) fields[i].dict_encoded = true;
  }
  rc = st_table_new(fields, arrays, ncol, n_rows, &s->root, out, err);
  memset(arrays, 0, sizeof *arrays * (size_t)ncol);   /* moved into the table (or freed) */
done:
  if (arrays)
    for (int i = 0; i < ncol; i++) st_array_free(arrays[i]);
  reader_trim(r);
  free(rgs);
  free(cols);
  free(arrays);
  free(fields);
  free(dicts);
  if (rc) st_error_prefix(err, "%s: ", r->name);
  return rc;
}

/* ---- st_pq_read_rows ------------------------------------------------------ */

/* Empty d for a new chunk, keeping its buffers (the zeroed-bytes watermarks
   of the bitmaps restart at 0: see zero_bits in column_reader.c). */
static void scratch_reset(st_pq_leafdata *d) {
  d->cap_levels = d->n_levels = d->n_slots = d->null_count = 0;
  d->def.len = d->rep.len = d->valid.len = d->values.len = d->bytes.len = 0;
  d->dict_off.len = d->dict_bytes.len = 0;
  d->dict_n = 0;
  if (d->values.cap >= 4) ((int32_t *)(void *)d->values.data)[0] = 0;   /* binary: offsets start at 0 */
  if (d->dict_off.cap >= 4) ((int32_t *)(void *)d->dict_off.data)[0] = 0;
}

#define RBIT(b, i) (((b)[(i) >> 3] >> ((i)&7)) & 1)

/*
** Flat column `col` (one leaf, no repetition, no dictionary output), rows
** rows[0..n) of row group g: the chunk is decoded into the reader's scratch
** leaf (buffers reused from chunk to chunk) and only the selected slots are
** copied into a fresh leaf that becomes the array.
*/
static int read_rows_flat(st_pq_reader *r, const st_pq_leafspec *spec, int leaf, int g, const int64_t *rows,
                          int64_t n, st_array **out, st_error *err) {
  const st_pq_row_group *rg = &r->meta.row_groups[g];
  const st_pq_column_chunk *cc = &rg->columns[leaf];
  int64_t nv = cc->has_meta ? cc->meta.num_values : 0;
  ST_SAFETY(nv == rg->num_rows, err, "column '%s', row group %d: num_values %lld inconsistent with %lld rows",
            spec->path, g, (long long)nv, (long long)rg->num_rows);
  st_pq_leafdata *s = &r->scratch;
  const st_pq_leafspec *orig = spec;
  scratch_reset(s);
  /* strings: decode dictionary pages to indices + dictionary (no gather of
     every value), the selected strings are copied from the dictionary */
  st_pq_leafspec sd = *spec;
  if (spec->conv == ST_CV_BINARY) sd.dict_out = true;
  spec = &sd;
  ST_TRY(st_pq_leafdata_reserve(s, spec, nv, r->opt.max_alloc, err));
  r->ctx.sel = rows;   /* selective: a Snappy dictionary may stay compressed */
  r->ctx.nsel = n;
  int rc = st_pq_chunk_read(&r->ctx, spec, cc, rg->num_rows, s, err);
  r->ctx.sel = NULL;
  r->ctx.nsel = 0;
  if (rc) {
    bool page = err && !strncmp(err->msg, "page ", 5);
    st_error_prefix(err, "column '%s', row group %d%s", spec->path, g, page ? ", " : ": ");
    return rc;
  }
  ST_SAFETY(s->n_slots == rg->num_rows, err, "column '%s', row group %d: %lld values for %lld rows", spec->path,
            g, (long long)s->n_slots, (long long)rg->num_rows);
  spec = orig;
  st_pq_leafdata o;
  st_pq_leafdata_init(&o);
  rc = st_pq_leafdata_reserve(&o, spec, n ? n : 1, r->opt.max_alloc, err);
  if (rc) goto fail;
  o.n_levels = o.n_slots = n;
  int64_t nulls = 0;
  if (spec->max_def > 0) {
    uint8_t *vb = o.valid.data;
    memset(vb, 0, (size_t)(n + 7) / 8 + 1);
    if (s->null_count == 0) {
      memset(vb, 0xff, (size_t)n / 8);
      for (int64_t i = n & ~(int64_t)7; i < n; i++) vb[i >> 3] |= (uint8_t)(1u << (i & 7));
    } else {
      const uint8_t *sb = s->valid.data;
      for (int64_t i = 0; i < n; i++) {
        unsigned v = RBIT(sb, rows[i]);
        vb[i >> 3] |= (uint8_t)(v << (i & 7));
        nulls += !v;
      }
    }
  }
  o.null_count = nulls;
  switch (spec->conv) {
  case ST_CV_NULL: break;
  case ST_CV_BOOL: {
    uint8_t *ob = o.values.data;
    memset(ob, 0, (size_t)(n + 7) / 8 + 1);
    for (int64_t i = 0; i < n; i++) ob[i >> 3] |= (uint8_t)(RBIT(s->values.data, rows[i]) << (i & 7));
    break;
  }
  case ST_CV_BINARY: case ST_CV_FLBA_BIN: {
    const int32_t *so = (const int32_t *)(const void *)s->values.data;
    const uint8_t *sbytes = s->bytes.data;
    int64_t ix_n = s->dict_n;
    const int32_t *ix = NULL;
    if (sd.dict_out) {      /* values are indices into dict_off/dict_bytes */
      ix = so;
      so = (const int32_t *)(const void *)s->dict_off.data;
      sbytes = s->dict_bytes.data;
    }
    int32_t *oo = (int32_t *)(void *)o.values.data;
    uint64_t total = 0;
    const uint8_t *nb = spec->max_def > 0 && s->null_count > 0 ? s->valid.data : NULL;
    for (int64_t i = 0; i < n; i++) {
      if (nb && !RBIT(nb, rows[i])) continue;   /* null: empty */
      int64_t e = ix ? ix[rows[i]] : rows[i];
      if (ix && (e < 0 || e >= ix_n)) { rc = st_fail(err, ST_ERR_CORRUPT, "dictionary index out of range"); goto fail; }
      total += (uint64_t)(uint32_t)(so[e + 1] - so[e]);
    }
    if (total > INT32_MAX) { rc = st_fail(err, ST_ERR_LIMIT, "string data over 2 GiB"); goto fail; }
    if ((rc = st_buf_reserve(&o.bytes, (size_t)total + 1, err))) goto fail;
    uint8_t *ob = o.bytes.data;
    int32_t pos = 0;
    oo[0] = 0;
    for (int64_t i = 0; i < n; i++) {
      if (nb && !RBIT(nb, rows[i])) { oo[i + 1] = pos; continue; }
      int64_t e = ix ? ix[rows[i]] : rows[i];
      int32_t a = so[e], l = so[e + 1] - a;
      if (l) memcpy(ob + pos, sbytes + a, (size_t)l);
      pos += l;
      oo[i + 1] = pos;
    }
    o.bytes.len = (size_t)pos;
    break;
  }
  default: {
    int w = spec->ow;
    const uint8_t *sv = s->values.data;
    uint8_t *ov = o.values.data;
    if (w == 8) for (int64_t i = 0; i < n; i++) memcpy(ov + i * 8, sv + rows[i] * 8, 8);
    else if (w == 4) for (int64_t i = 0; i < n; i++) memcpy(ov + i * 4, sv + rows[i] * 4, 4);
    else for (int64_t i = 0; i < n; i++) memcpy(ov + i * w, sv + rows[i] * w, (size_t)w);
    break;
  }
  }
  rc = st_pq_leaf_to_array(spec, &o, out, err);
fail:
  st_pq_leafdata_free(&o);
  return rc;
}

int st_pq_read_rows(st_pq_reader *r, int row_group, const int *columns, int n_columns, const int64_t *rows,
                    int64_t n_rows, st_table **out, st_error *err) {
  ST_CHECK(r && out && (rows || n_rows == 0) && n_rows >= 0, err, ST_ERR_INVALID, "st_pq_read_rows: bad argument");
  *out = NULL;
  const st_pq_tree *s = &r->schema;
  int ntop = s->root.n_children;
  ST_CHECK(row_group >= 0 && row_group < r->meta.n_row_groups, err, ST_ERR_INVALID,
           "%s: row group %d out of range (file has %d)", r->name, row_group, r->meta.n_row_groups);
  int64_t nr = r->meta.row_groups[row_group].num_rows;
  for (int64_t i = 0; i < n_rows; i++)
    ST_CHECK(rows[i] >= 0 && rows[i] < nr && (i == 0 || rows[i] > rows[i - 1]), err, ST_ERR_INVALID,
             "%s: row %lld of row group %d is out of range or out of order", r->name, (long long)rows[i], row_group);
  int ncol = columns && n_columns > 0 ? n_columns : ntop;
  st_array **arrays = calloc((size_t)(ncol ? ncol : 1), sizeof *arrays);
  st_field *fields = calloc((size_t)(ncol ? ncol : 1), sizeof *fields);
  int rc = (!arrays || !fields) ? st_fail(err, ST_ERR_NOMEM, "out of memory") : ST_OK;
  for (int i = 0; i < ncol && !rc; i++) {
    int c = columns && n_columns > 0 ? columns[i] : i;
    if (c < 0 || c >= ntop) { rc = st_fail(err, ST_ERR_INVALID, "column %d out of range (file has %d)", c, ntop); break; }
    int node = s->top_node[c], first = s->top_first_leaf[c];
    bool flat = s->nodes[node].kind == ST_PQ_NODE_LEAF && s->top_n_leaves[c] == 1;
    st_pq_leafspec spec;
    if (flat && (rc = st_pq_leafspec_init(&spec, s, first, false, r->opt.keep_dictionary, err))) break;
    fields[i] = s->root.children[c];   /* shallow: st_table_new deep-copies */
    if (flat && spec.max_rep == 0 && !spec.dict_out) {
      rc = read_rows_flat(r, &spec, first, row_group, rows, n_rows, &arrays[i], err);
    } else {
      /* nested or dictionary output: the whole chunk, then the rows */
      st_array *full = NULL;
      bool dict = false;
      rc = read_column(r, &r->ctx, c, &row_group, 1, nr, &full, &dict, err);
      if (dict) fields[i].dict_encoded = true;
      if (!rc) rc = st_array_take(&fields[i], full, rows, n_rows, &arrays[i], err);
      st_array_free(full);
    }
  }
  if (!rc) {
    rc = st_table_new(fields, arrays, ncol, n_rows, &s->root, out, err);
    memset(arrays, 0, sizeof *arrays * (size_t)ncol);
  }
  if (arrays)
    for (int i = 0; i < ncol; i++) st_array_free(arrays[i]);
  reader_trim(r);
  free(arrays);
  free(fields);
  if (rc) st_error_prefix(err, "%s: ", r->name);
  return rc;
}
