/*
** This file implements the dataset metadata files `_metadata` and
** `_common_metadata` (skytile/parquet_write.h), as pyarrow's write_metadata
** writes them.
**
** Streaming: each added file's footer is read and decoded, its schema is
** compared with the first file's, and each of its row groups is re-encoded
** at once (with every column chunk's file_path set to the file's path
** relative to the root) and appended to an unlinked side file.  Memory holds
** one footer at a time plus the first file's schema.  At close the Thrift
** compact FileMetaData is stitched together: fields 1..3 (num_rows is the
** sum), the row-group list header with the final count, the side file's
** bytes, then key/value metadata, created_by and column orders of the first
** file.  `_common_metadata` is the same without row groups.
*/
#include "skytile.h"
#include "skytile/parquet_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "parquet/writer_int.h"

#define DM_MAX_FOOTER (256u << 20)

struct st_pq_dataset_meta {
  char *root;
  bool have_first;
  char *first_path;                /* rel path of the first file                  */
  st_pq_file_meta first;           /* its decoded footer (row groups dropped)     */
  int side_fd;                     /* unlinked temp file of encoded row groups    */
  uint64_t side_len;
  uint32_t n_rg;
  int64_t num_rows;
  st_buf buf;
};

static char *join(const char *root, const char *rel) {
  size_t a = strlen(root), b = strlen(rel);
  char *p = st_malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, root, a);
  p[a] = '/';
  memcpy(p + a + 1, rel, b + 1);
  return p;
}

int st_pq_dataset_meta_open(const char *root, st_pq_dataset_meta **out, st_error *err) {
  *out = NULL;
  st_pq_dataset_meta *d = st_calloc(1, sizeof *d);
  if (!d || !(d->root = st_strdup(root))) {
    st_free(d);
    return st_fail(err, ST_ERR_NOMEM, "dataset metadata: out of memory");
  }
  st_buf_init(&d->buf);
  d->side_fd = -1;
  char *side = st_malloc(strlen(root) + 64);
  if (!side) {
    st_pq_dataset_meta_abort(d);
    return st_fail(err, ST_ERR_NOMEM, "dataset metadata: out of memory");
  }
  sprintf(side, "%s/.skytile-rowgroups-%ld", root, (long)getpid());
  d->side_fd = open(side, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int e = errno;
  if (d->side_fd >= 0) unlink(side);
  st_free(side);
  if (d->side_fd < 0) {
    st_pq_dataset_meta_abort(d);
    return st_fail(err, ST_ERR_IO, "%s: cannot create a temporary file: %s", root, strerror(e));
  }
  *out = d;
  return 0;
}

void st_pq_dataset_meta_abort(st_pq_dataset_meta *d) {
  if (!d) return;
  if (d->side_fd >= 0) close(d->side_fd);
  if (d->have_first) st_pq_meta_free(&d->first);
  st_free(d->first_path);
  st_free(d->root);
  st_buf_free(&d->buf);
  st_free(d);
}

static const char *type_name(int t) {
  static const char *n[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE",
                            "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
  return t >= 0 && t < 8 ? n[t] : "?";
}

/* Compare the schemas of a and b; on a difference fail naming it. */
static int compare_schema(const st_pq_file_meta *a, const st_pq_file_meta *b, const char *pa,
                          st_error *err) {
  int n = a->n_schema < b->n_schema ? a->n_schema : b->n_schema;
  for (int i = 1; i < n; i++) {
    const st_pq_schema_elem *x = &a->schema[i], *y = &b->schema[i];
    const char *what = NULL;
    char detail[160] = "";
    if (strcmp(x->name ? x->name : "", y->name ? y->name : "")) {
      what = "name";
      snprintf(detail, sizeof detail, "'%s' ('%s' in the first)", y->name, x->name);
    } else if (x->has_type != y->has_type) {
      what = "kind";
      snprintf(detail, sizeof detail, "%s (%s in the first)", y->has_type ? "leaf" : "group",
               x->has_type ? "leaf" : "group");
    } else if (x->has_type && (x->type != y->type || x->type_length != y->type_length)) {
      what = "physical type";
      snprintf(detail, sizeof detail, "%s (%s in the first)", type_name(y->type), type_name(x->type));
    } else if (x->repetition != y->repetition) {
      what = "repetition";
      snprintf(detail, sizeof detail, "%d (%d in the first)", y->repetition, x->repetition);
    } else if (x->num_children != y->num_children) {
      what = "number of children";
      snprintf(detail, sizeof detail, "%d (%d in the first)", (int)y->num_children, (int)x->num_children);
    } else if (x->converted_type != y->converted_type || x->logical.kind != y->logical.kind ||
               x->logical.precision != y->logical.precision ||
               x->logical.scale != y->logical.scale || x->logical.unit != y->logical.unit ||
               x->logical.utc_adjusted != y->logical.utc_adjusted ||
               x->logical.bit_width != y->logical.bit_width ||
               x->logical.is_signed != y->logical.is_signed) {
      what = "logical type";
    }
    if (what)
      return st_fail(err, ST_ERR_SCHEMA,
                     "schema differs from the first file %s: schema element %d ('%s'): %s %s", pa, i,
                     x->name ? x->name : "", what, detail);
  }
  if (a->n_schema != b->n_schema)
    return st_fail(err, ST_ERR_SCHEMA,
                   "schema differs from the first file %s: %d schema elements (%d in the first)", pa,
                   b->n_schema, a->n_schema);
  return 0;
}

static int read_footer(const char *path, st_pq_file_meta *m, st_error *err) {
  st_file *f;
  ST_TRY(st_file_open(path, &f, err));
  int rc = 0;
  st_mem *mem = NULL;
  const uint8_t *p;
  uint64_t size = st_file_size(f);
  if (size < 12) {
    rc = st_fail(err, ST_ERR_CORRUPT, "%s: not a Parquet file (too small)", path);
    goto done;
  }
  if ((rc = st_file_read(f, size - 8, 8, &mem, &p, err))) goto done;
  uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  if (memcmp(p + 4, "PAR1", 4)) {
    rc = st_fail(err, ST_ERR_CORRUPT, "%s: not a Parquet file (bad magic)", path);
    goto done;
  }
  st_mem_unref(mem);
  mem = NULL;
  if (len > size - 12 || len > DM_MAX_FOOTER) {
    rc = st_fail(err, ST_ERR_CORRUPT, "%s: footer length %u exceeds the file", path, len);
    goto done;
  }
  if ((rc = st_file_read(f, size - 8 - len, len, &mem, &p, err))) goto done;
  rc = st_pq_meta_decode(p, len, m, err);
  if (rc) st_error_prefix(err, "%s: ", path);
done:
  st_mem_unref(mem);
  st_file_close(f);
  return rc;
}

static int side_write(st_pq_dataset_meta *d, const void *p, size_t n, st_error *err) {
  const uint8_t *q = p;
  while (n) {
    ssize_t k = write(d->side_fd, q, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return st_fail(err, ST_ERR_IO, "%s: writing a temporary file: %s", d->root, strerror(errno));
    }
    q += k;
    n -= (size_t)k;
    d->side_len += (uint64_t)k;
  }
  return 0;
}

int st_pq_dataset_meta_add(st_pq_dataset_meta *d, const char *rel_path, st_error *err) {
  char *path = join(d->root, rel_path);
  if (!path) return st_fail(err, ST_ERR_NOMEM, "dataset metadata: out of memory");
  st_pq_file_meta m;
  memset(&m, 0, sizeof m);
  int rc = read_footer(path, &m, err);
  if (rc) goto done;
  if (!d->have_first) {
    if (!(d->first_path = st_strdup(rel_path))) {
      st_pq_meta_free(&m);
      rc = st_fail(err, ST_ERR_NOMEM, "dataset metadata: out of memory");
      goto done;
    }
  } else if ((rc = compare_schema(&d->first, &m, d->first_path, err))) {
    st_error_prefix(err, "%s: ", path);
    st_pq_meta_free(&m);
    goto done;
  }
  for (int g = 0; g < m.n_row_groups && !rc; g++) {
    st_pq_row_group *rg = &m.row_groups[g];
    char **saved = st_calloc((size_t)(rg->n_columns ? rg->n_columns : 1), sizeof(char *));
    if (!saved) {
      rc = st_fail(err, ST_ERR_NOMEM, "dataset metadata: out of memory");
      break;
    }
    for (int c = 0; c < rg->n_columns; c++) {
      saved[c] = rg->columns[c].file_path;
      rg->columns[c].file_path = (char *)rel_path;
    }
    d->buf.len = 0;
    rc = st_wr_row_group(rg, NULL, &d->buf, err);
    for (int c = 0; c < rg->n_columns; c++) rg->columns[c].file_path = saved[c];
    st_free(saved);
    if (!rc) rc = side_write(d, d->buf.data, d->buf.len, err);
    if (!rc) {
      if (d->n_rg == UINT32_MAX) rc = st_fail(err, ST_ERR_LIMIT, "too many row groups");
      d->n_rg++;
    }
  }
  if (!rc) d->num_rows += m.num_rows;
  if (!d->have_first && !rc) {
    d->first = m;   /* only its schema, kv and column orders are used later */
    d->have_first = true;
  } else {
    st_pq_meta_free(&m);
  }
done:
  st_free(path);
  return rc;
}

static int write_meta_file(st_pq_dataset_meta *d, const char *name, bool with_rg, st_error *err) {
  char *path = join(d->root, name);
  if (!path) return st_fail(err, ST_ERR_NOMEM, "dataset metadata: out of memory");
  st_outfile *o = NULL;
  int rc = st_outfile_open(path, &o, err);
  if (rc) goto done;
  st_pq_file_meta *m = &d->first;
  int nrg_saved = m->n_row_groups;
  int64_t rows_saved = m->num_rows;
  m->num_rows = with_rg ? d->num_rows : 0;
  d->buf.len = 0;
  st_tc_out t;
  st_tc_out_init(&t, &d->buf, err);
  st_wr_meta_head(&t, m, with_rg ? d->n_rg : 0);
  m->num_rows = rows_saved;
  m->n_row_groups = nrg_saved;
  uint64_t flen = 0;
  if ((rc = t.rc)) goto done;
  if ((rc = st_outfile_write(o, "PAR1", 4, err))) goto done;
  if ((rc = st_outfile_write(o, d->buf.data, d->buf.len, err))) goto done;
  flen += d->buf.len;
  if (with_rg) {
    uint8_t tmp[1 << 16];
    uint64_t off = 0;
    while (off < d->side_len) {
      size_t want = d->side_len - off < sizeof tmp ? (size_t)(d->side_len - off) : sizeof tmp;
      ssize_t k = pread(d->side_fd, tmp, want, (off_t)off);
      if (k <= 0) {
        if (k < 0 && errno == EINTR) continue;
        rc = st_fail(err, ST_ERR_IO, "%s: reading a temporary file: %s", d->root,
                     k < 0 ? strerror(errno) : "unexpected end");
        goto done;
      }
      if ((rc = st_outfile_write(o, tmp, (size_t)k, err))) goto done;
      off += (uint64_t)k;
    }
    flen += d->side_len;
  }
  d->buf.len = 0;
  st_wr_meta_tail(&t, m);
  if ((rc = st_tc_out_finish(&t))) goto done;
  flen += d->buf.len;
  if (flen > UINT32_MAX) {
    rc = st_fail(err, ST_ERR_LIMIT, "%s: footer larger than 4 GiB", path);
    goto done;
  }
  uint32_t f32 = (uint32_t)flen;
  uint8_t le[8] = {(uint8_t)f32, (uint8_t)(f32 >> 8), (uint8_t)(f32 >> 16), (uint8_t)(f32 >> 24),
                   'P', 'A', 'R', '1'};
  if ((rc = st_outfile_write(o, d->buf.data, d->buf.len, err))) goto done;
  if ((rc = st_outfile_write(o, le, 8, err))) goto done;
  rc = st_outfile_commit(o, err);
  o = NULL;
done:
  st_outfile_abort(o);
  st_free(path);
  return rc;
}

int st_pq_dataset_meta_close(st_pq_dataset_meta *d, st_error *err) {
  int rc = 0;
  if (!d->have_first)
    rc = st_fail(err, ST_ERR_INVALID, "%s: no files added to the dataset metadata", d->root);
  if (!rc) rc = write_meta_file(d, "_common_metadata", false, err);
  if (!rc) rc = write_meta_file(d, "_metadata", true, err);
  st_pq_dataset_meta_abort(d);
  return rc;
}

int st_pq_write_dataset_metadata(const char *root, const char *const *rel_paths, int n,
                                 st_error *err) {
  st_pq_dataset_meta *d;
  ST_TRY(st_pq_dataset_meta_open(root, &d, err));
  for (int i = 0; i < n; i++) {
    int rc = st_pq_dataset_meta_add(d, rel_paths[i], err);
    if (rc) {
      st_pq_dataset_meta_abort(d);
      return rc;
    }
  }
  return st_pq_dataset_meta_close(d, err);
}
