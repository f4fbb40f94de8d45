/*
** This file implements the generic side of the input readers: options,
** format detection (bidding), opening, the output schema (column selection,
** dropping pandas index columns, forced types, the filename-regex column),
** batch post-processing (select, cast, append the constant column), and the
** schema unification / inference used across the files of an import.
**
** A batch from a plug-in holds the raw columns in->need[]; the output batch
** takes its arrays by moving them (no copy) except for casts (one tight loop
** per column) and the filename column (one memset-like fill per batch).
**
** Parts (options.part/n_parts): checked here (n_parts <= 1 or an inference
** open: the whole file; a part outside 0..n-1: ST_ERR_INVALID); each
** plug-in positions itself on its part when it opens, CSV also recording
** the seam offsets returned by st_input_part_seam (-1 for other formats).
*/
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "readers/readers_int.h"

static const st_reader_format *const st_formats[] = {&st_reader_fits, &st_reader_parquet,
                                                     &st_reader_csv};
#define ST_N_FORMATS ((int)(sizeof st_formats / sizeof st_formats[0]))
#define ST_DEFAULT_BATCH 262144

void st_input_options_init(st_input_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->format = "auto";
  o->header = true;
  o->quote = '"';
}

bool st_rd_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcasecmp(s + a - b, suffix);
}

st_array *st_rd_array(int64_t n, st_mem *values, st_mem *valid, int64_t null_count) {
  st_array *a = st_array_new();
  if (!a) {
    st_mem_unref(values);
    st_mem_unref(valid);
    return NULL;
  }
  a->length = n;
  a->null_count = valid ? null_count : 0;
  a->n_buffers = 2;
  a->mem[0] = valid;
  a->buf[0] = valid ? valid->data : NULL;
  a->mem[1] = values;
  a->buf[1] = values ? values->data : NULL;
  return a;
}

int st_rd_bitmap(const uint8_t *valid, int64_t n, st_mem **out, int64_t *nulls, st_error *err) {
  *out = NULL;
  *nulls = 0;
  if (!valid) return 0;
  int64_t nn = 0;
  for (int64_t i = 0; i < n; i++) nn += !valid[i];
  if (!nn) return 0;
  st_mem *m = st_mem_new((size_t)(n + 7) / 8 + 1);
  ST_CHECK(m, err, ST_ERR_NOMEM, "out of memory (validity bitmap)");
  memset(m->data, 0, (size_t)(n + 7) / 8 + 1);
  for (int64_t i = 0; i < n; i++)
    if (valid[i]) m->data[i >> 3] |= (uint8_t)(1u << (i & 7));
  *out = m;
  *nulls = nn;
  return 0;
}

const st_field *st_rd_forced(const st_input *in, const char *name) {
  const st_field *s = in->opt.schema;
  if (!s) return NULL;
  for (int i = 0; i < s->n_children; i++)
    if (s->children[i].name && !strcmp(s->children[i].name, name))
      return s->children[i].type == ST_T_NULL ? NULL : &s->children[i];
  return NULL;
}

/* ---- detection ------------------------------------------------------------ */

static int read_head(const char *path, uint8_t *head, size_t cap, size_t *n, st_error *err) {
  /* plain open/read (no stdio buffer): this runs once per input file */
  *n = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  while (*n < cap) {
    ssize_t r = read(fd, head + *n, cap - *n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return st_fail(err, ST_ERR_IO, "%s: read error: %s", path, strerror(e));
    }
    if (r == 0) break;
    *n += (size_t)r;
  }
  close(fd);
  return 0;
}

static int pick_format(const char *path, const char *want, const st_reader_format **out,
                       char *name, st_error *err) {
  *out = NULL;
  if (want && *want && strcmp(want, "auto")) {
    const char *base = want;
    if (!strcmp(want, "tsv") || !strcmp(want, "psv") || !strcmp(want, "txt")) base = "csv";
    for (int i = 0; i < ST_N_FORMATS; i++)
      if (!strcmp(st_formats[i]->name, base)) {
        *out = st_formats[i];
        snprintf(name, 8, "%s", want);
        return 0;
      }
    return st_fail(err, ST_ERR_INVALID, "unknown input format '%s' (csv, tsv, psv, fits, parquet, auto)",
                   want);
  }
  uint8_t head[4096];
  size_t n = 0;
  ST_TRY(read_head(path, head, sizeof head, &n, err));
  int best = 0;
  for (int i = 0; i < ST_N_FORMATS; i++) {
    int b = st_formats[i]->bid(path, head, n);
    if (b > best) {
      best = b;
      *out = st_formats[i];
    }
  }
  if (!*out)
    return st_fail(err, ST_ERR_UNSUPPORTED, "%s: cannot tell the format of the file; use --format", path);
  snprintf(name, 8, "%s", (*out)->name);
  if (*out == &st_reader_csv) {
    char tmp[64];
    const char *p = path;
    size_t l = strlen(p);
    const char *cut = NULL;
    if (st_rd_ends_with(p, ".gz")) cut = p + l - 3;
    else if (st_rd_ends_with(p, ".zip")) cut = p + l - 4;
    size_t m = cut ? (size_t)(cut - p) : l;
    size_t s = m > 4 ? m - 4 : 0;
    snprintf(tmp, sizeof tmp, "%.*s", (int)(m - s), p + s);
    if (!strcasecmp(tmp, ".tsv") || !strcasecmp(tmp, ".tab")) snprintf(name, 8, "tsv");
    else if (!strcasecmp(tmp, ".psv")) snprintf(name, 8, "psv");
  }
  return 0;
}

const char *st_input_detect_format(const char *path, st_error *err) {
  const st_reader_format *f;
  char name[8];
  if (pick_format(path, "auto", &f, name, err)) return NULL;
  static const char *names[] = {"csv", "tsv", "psv"};
  if (f == &st_reader_csv) {
    for (int i = 0; i < 3; i++)
      if (!strcmp(name, names[i])) return names[i];
  }
  return f->name;
}

/* ---- casts ------------------------------------------------------------------ */

static bool is_int(st_type_id t) { return t >= ST_T_INT8 && t <= ST_T_UINT64; }
static bool is_float(st_type_id t) { return t == ST_T_FLOAT || t == ST_T_DOUBLE; }
static bool is_signed(st_type_id t) { return t >= ST_T_INT8 && t <= ST_T_INT64; }
static int int_bits(st_type_id t) {
  switch (t) {
    case ST_T_INT8: case ST_T_UINT8: return 8;
    case ST_T_INT16: case ST_T_UINT16: return 16;
    case ST_T_INT32: case ST_T_UINT32: return 32;
    default: return 64;
  }
}

/* Can values of type `from` be converted to `to` without loss of kind? */
static bool cast_ok(const st_field *from, const st_field *to) {
  if (from->type == to->type) return true;
  if (from->type == ST_T_STRING && to->type == ST_T_LARGE_STRING) return true;
  if (is_int(from->type) && is_int(to->type)) {
    int fb = int_bits(from->type), tb = int_bits(to->type);
    if (is_signed(from->type) == is_signed(to->type)) return tb >= fb;
    if (!is_signed(from->type) && is_signed(to->type)) return tb > fb;
    return false;
  }
  if ((is_int(from->type) || is_float(from->type)) && is_float(to->type))
    return !(from->type == ST_T_DOUBLE && to->type == ST_T_FLOAT);
  return false;
}

static inline double load_num(const uint8_t *p, st_type_id t, int64_t i) {
  switch (t) {
    case ST_T_INT8: return ((const int8_t *)p)[i];
    case ST_T_INT16: return ((const int16_t *)p)[i];
    case ST_T_INT32: return ((const int32_t *)p)[i];
    case ST_T_INT64: return (double)((const int64_t *)p)[i];
    case ST_T_UINT8: return p[i];
    case ST_T_UINT16: return ((const uint16_t *)p)[i];
    case ST_T_UINT32: return ((const uint32_t *)p)[i];
    case ST_T_UINT64: return (double)((const uint64_t *)p)[i];
    case ST_T_FLOAT: return ((const float *)p)[i];
    default: return ((const double *)p)[i];
  }
}
static inline int64_t load_int(const uint8_t *p, st_type_id t, int64_t i) {
  switch (t) {
    case ST_T_INT8: return ((const int8_t *)p)[i];
    case ST_T_INT16: return ((const int16_t *)p)[i];
    case ST_T_INT32: return ((const int32_t *)p)[i];
    case ST_T_UINT8: return p[i];
    case ST_T_UINT16: return ((const uint16_t *)p)[i];
    case ST_T_UINT32: return ((const uint32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
  }
}

/* The values of `a` were rewritten to start at slot 0: shift its validity bitmap
   the same way (a copy) and clear the offset. */
static int rebase_offset(st_array *a, st_error *err) {
  if (!a->offset) return 0;
  int64_t n = a->length;
  if (a->buf[0]) {
    st_mem *v = st_mem_new((size_t)(n + 7) / 8 + 1);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "out of memory (cast)");
    memset(v->data, 0, (size_t)(n + 7) / 8 + 1);
    for (int64_t i = 0; i < n; i++)
      if (st_array_is_valid(a, i)) v->data[i >> 3] |= (uint8_t)(1u << (i & 7));
    st_mem_unref(a->mem[0]);
    a->mem[0] = v;
    a->buf[0] = v->data;
  }
  a->offset = 0;
  return 0;
}

int st_rd_cast_array(const st_field *from, const st_field *to, st_array **pa, st_error *err) {
  st_array *a = *pa;
  if (from->type == to->type) return 0;
  if (to->type == ST_T_LARGE_STRING || to->type == ST_T_LARGE_BINARY) {
    /* int32 -> int64 offsets; the bytes are shared */
    int64_t n = a->length;
    st_mem *m = st_mem_new((size_t)(n + 1) * 8);
    ST_CHECK(m, err, ST_ERR_NOMEM, "out of memory (cast)");
    const int32_t *o32 = (const int32_t *)a->buf[1] + a->offset;
    int64_t *o64 = (int64_t *)m->data;
    for (int64_t i = 0; i <= n; i++) o64[i] = o32[i];
    st_mem_unref(a->mem[1]);
    a->mem[1] = m;
    a->buf[1] = m->data;
    return rebase_offset(a, err);
  }
  int w = st_type_byte_width(to);
  int64_t n = a->length;
  st_mem *m = st_mem_new((size_t)(n ? n : 1) * (size_t)w);
  ST_CHECK(m, err, ST_ERR_NOMEM, "out of memory (cast)");
  const uint8_t *src = a->buf[1];
  int64_t off = a->offset;
  if (to->type == ST_T_DOUBLE) {
    double *d = (double *)m->data;
    for (int64_t i = 0; i < n; i++) d[i] = load_num(src, from->type, off + i);
  } else if (to->type == ST_T_FLOAT) {
    float *d = (float *)m->data;
    for (int64_t i = 0; i < n; i++) d[i] = (float)load_num(src, from->type, off + i);
  } else if (from->type == ST_T_UINT64) {
    memcpy(m->data, src + off * 8, (size_t)n * 8);
  } else {
    for (int64_t i = 0; i < n; i++) {
      int64_t v = load_int(src, from->type, off + i);
      switch (w) {
        case 1: m->data[i] = (uint8_t)v; break;
        case 2: ((int16_t *)m->data)[i] = (int16_t)v; break;
        case 4: ((int32_t *)m->data)[i] = (int32_t)v; break;
        default: ((int64_t *)m->data)[i] = v; break;
      }
    }
  }
  st_mem_unref(a->mem[1]);
  a->mem[1] = m;
  a->buf[1] = m->data;
  return rebase_offset(a, err);
}

/* a (field f: LIST or LARGE_LIST) as a FIXED_LIST array of field `to`
** (recursively for nested fixed lists): every valid slot must hold exactly
** to->byte_width elements (else ST_ERR_SCHEMA); a null slot gets that many
** null elements. */
static int fixed_from_list(const st_field *f, const st_array *a, const st_field *to,
                           st_array **out, int depth, st_error *err) {
  *out = NULL;
  ST_CHECK(depth < 64, err, ST_ERR_LIMIT, "fixed-size list nested too deep");
  int64_t n = a->length, w = to->byte_width, total;
  ST_CHECK(w >= 0 && !__builtin_mul_overflow(n, w, &total), err, ST_ERR_LIMIT,
           "fixed-size list too large");
  bool large = f->type == ST_T_LARGE_LIST;
  int64_t *idx = malloc((size_t)(total ? total : 1) * sizeof *idx);
  ST_CHECK(idx, err, ST_ERR_NOMEM, "out of memory");
  int64_t nulls = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t j = a->offset + i;
    int64_t s = large ? ((const int64_t *)a->buf[1])[j] : ((const int32_t *)a->buf[1])[j];
    int64_t e = large ? ((const int64_t *)a->buf[1])[j + 1] : ((const int32_t *)a->buf[1])[j + 1];
    bool valid = st_array_is_valid(a, i);
    if (valid && e - s != w) {
      free(idx);
      return st_fail(err, ST_ERR_SCHEMA, "column '%s': a list of %lld values, expected %lld",
                     f->name ? f->name : "", (long long)(e - s), (long long)w);
    }
    nulls += !valid;
    for (int64_t k = 0; k < w; k++) idx[i * w + k] = valid ? s + k : -1;
  }
  st_array *child = NULL, *conv = NULL;
  int rc = st_array_take(&f->children[0], a->children[0], idx, total, &child, err);
  free(idx);
  if (!rc && to->children[0].type == ST_T_FIXED_LIST &&
      (f->children[0].type == ST_T_LIST || f->children[0].type == ST_T_LARGE_LIST)) {
    rc = fixed_from_list(&f->children[0], child, &to->children[0], &conv, depth + 1, err);
    st_array_free(child);
    child = conv;
  }
  st_array *o = rc ? NULL : st_array_new();
  if (!rc && !o) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (!rc) o->children = calloc(1, sizeof *o->children);
  if (!rc && !o->children) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (!rc && nulls) {
    st_mem *v = st_mem_new((size_t)(n + 7) / 8 + 1);
    if (!v) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    else {
      memset(v->data, 0, (size_t)(n + 7) / 8 + 1);
      for (int64_t i = 0; i < n; i++)
        if (st_array_is_valid(a, i)) v->data[i >> 3] |= (uint8_t)(1u << (i & 7));
      o->mem[0] = v, o->buf[0] = v->data;
    }
  }
  if (rc) {
    st_array_free(child);
    st_array_free(o);
    return rc;
  }
  o->length = n, o->null_count = nulls, o->n_buffers = 1;
  o->children[0] = child, o->n_children = 1;
  *out = o;
  return 0;
}

int st_rd_fixed_from_list(const st_field *f, const st_array *a, const st_field *to, st_array **out,
                          st_error *err) {
  return fixed_from_list(f, a, to, out, 0, err);
}

/* Every field under f (recursively) nullable. */
static void set_nullable(st_field *f) {
  for (int i = 0; i < f->n_children; i++) {
    f->children[i].nullable = true;
    set_nullable(&f->children[i]);
  }
}

/* ---- open -------------------------------------------------------------------- */

static bool in_list(const char *name, const char *const *list, int n) {
  for (int i = 0; i < n; i++)
    if (list[i] && !strcmp(list[i], name)) return true;
  return false;
}

/* The index columns named in the "pandas" metadata (index_columns: [...]),
** in order: out[k] points at the k-th name's text (inside the metadata),
** len[k] its length; RangeIndex descriptions ({...}) have no column and are
** skipped.  Returns the count (at most cap). */
static int pandas_index_names(const st_field *raw, const char **out, size_t *len, int cap) {
  const char *md = st_field_get_meta(raw, "pandas");
  const char *p = md ? strstr(md, "\"index_columns\"") : NULL;
  p = p ? strchr(p, '[') : NULL;
  if (!p) return 0;
  int depth = 0, n = 0;
  for (; *p; p++) {
    if (*p == '[') depth++;
    else if (*p == ']') {
      if (--depth == 0) break;
    } else if (*p == '{') {
      /* a RangeIndex description: skip it */
      int d = 0;
      for (; *p; p++) {
        if (*p == '{') d++;
        else if (*p == '}' && --d == 0) break;
      }
      if (!*p) break;
    } else if (*p == '"') {
      const char *q = p + 1;
      while (*q && *q != '"') q += (*q == '\\' && q[1]) ? 2 : 1;
      if (!*q) break;
      if (n < cap) out[n] = p + 1, len[n] = (size_t)(q - p - 1), n++;
      p = q;
    }
  }
  return n;
}

/* An unnamed pandas index level ("__index_level_N__"): dropped, as
** hats-import's ParquetPandasReader (pandas) drops it. */
static bool is_unnamed_index(const char *name) {
  return strncmp(name, "__index_level_", 14) == 0;
}

/* Position of `name` in the pandas index columns (names, lens: n), or -1. */
static int index_pos(const char *name, const char *const *names, const size_t *lens, int n) {
  size_t l = strlen(name);
  for (int k = 0; k < n; k++)
    if (lens[k] == l && !strncmp(names[k], name, l)) return k;
  return -1;
}

static int filename_value(st_input *in, st_error *err) {
  const char *re = in->opt.filename_regex;
  if (!re || !*re) return 0;
  ST_CHECK(in->opt.filename_column && *in->opt.filename_column, err, ST_ERR_INVALID,
           "--filename-regex needs --filename-column");
  regex_t rx;
  int rc = regcomp(&rx, re, REG_EXTENDED);
  if (rc) {
    char buf[256];
    regerror(rc, &rx, buf, sizeof buf);
    return st_fail(err, ST_ERR_INVALID, "filename regex '%s': %s", re, buf);
  }
  regmatch_t m[2];
  rc = regexec(&rx, in->path, 2, m, 0);
  size_t ngroups = rx.re_nsub;
  regfree(&rx);
  if (rc) return st_fail(err, ST_ERR_INVALID, "%s: file name does not match --filename-regex '%s'", in->path, re);
  if (ngroups < 1) return st_fail(err, ST_ERR_INVALID, "filename regex '%s' has no capture group", re);
  if (m[1].rm_so < 0) in->fname_value = st_strdup("");
  else in->fname_value = st_strndup(in->path + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
  ST_CHECK(in->fname_value, err, ST_ERR_NOMEM, "out of memory");
  return 0;
}

static int build_output(st_input *in, st_error *err) {
  const st_input_options *o = &in->opt;
  int nraw = in->raw.n_children;
  int *order = calloc((size_t)nraw + 1, sizeof(int));
  ST_CHECK(order, err, ST_ERR_NOMEM, "out of memory");
  int nout = 0;
  if (o->n_columns > 0) {
    for (int i = 0; i < o->n_columns; i++) {
      int k = -1;
      for (int j = 0; j < nraw; j++)
        if (!strcmp(in->raw.children[j].name, o->columns[i])) {
          k = j;
          break;
        }
      if (k < 0) {
        if (in->fname_value && !strcmp(o->columns[i], o->filename_column)) continue;
        free(order);
        return st_fail(err, ST_ERR_NOTFOUND, "%s: no column '%s'", in->path, o->columns[i]);
      }
      bool dup = false;
      for (int j = 0; j < nout; j++) dup |= order[j] == k;
      if (!dup) order[nout++] = k;
    }
  } else {
    /* pandas index columns (unless keep_pandas_index): unnamed levels are
    ** dropped, named ones come first in index order, as pandas' reset_index
    ** (hats-import's ParquetPandasReader) leaves them */
    const char *ix[64];
    size_t ixl[64];
    int nix = o->keep_pandas_index ? 0 : pandas_index_names(&in->raw, ix, ixl, 64);
    for (int k = 0; k < nix; k++)
      for (int j = 0; j < nraw; j++) {
        const char *nm = in->raw.children[j].name;
        if (index_pos(nm, ix, ixl, nix) == k && !is_unnamed_index(nm) &&
            !in_list(nm, o->drop_columns, o->n_drop))
          order[nout++] = j;
      }
    for (int j = 0; j < nraw; j++) {
      const char *nm = in->raw.children[j].name;
      if (in_list(nm, o->drop_columns, o->n_drop)) continue;
      if (!o->keep_pandas_index && (is_unnamed_index(nm) || index_pos(nm, ix, ixl, nix) >= 0))
        continue;
      order[nout++] = j;
    }
  }  in->need = calloc((size_t)nout + 1, sizeof(int));
  in->sel = calloc((size_t)nout + 1, sizeof(int));
  in->cast = calloc((size_t)nout + 1, sizeof(bool));
  if (!in->need || !in->sel || !in->cast) {
    free(order);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  /* need = sorted unique order[] */
  int nn = 0;
  for (int j = 0; j < nraw; j++)
    for (int i = 0; i < nout; i++)
      if (order[i] == j) {
        in->need[nn++] = j;
        break;
      }
  in->n_need = nn;
  int rc = st_field_init(&in->schema, "", ST_T_STRUCT, false);
  for (int i = 0; i < nout && !rc; i++) {
    for (int k = 0; k < nn; k++)
      if (in->need[k] == order[i]) in->sel[i] = k;
    const st_field *rf = &in->raw.children[order[i]];
    const st_field *ff = st_rd_forced(in, rf->name);
    if (ff && !st_field_equal(ff, rf)) {
      bool ok = ff->n_children == 0 && rf->n_children == 0 && cast_ok(rf, ff);
      if (!ok) {
        char a[64], b[64];
        st_field_type_string(rf, a, sizeof a);
        st_field_type_string(ff, b, sizeof b);
        free(order);
        return st_fail(err, ST_ERR_SCHEMA, "%s: column '%s' is %s, cannot convert to %s (from the schema)",
                       in->path, rf->name, a, b);
      }
      st_field tmp;
      rc = st_field_copy(&tmp, ff);
      if (!rc) {
        tmp.nullable = tmp.nullable || rf->nullable;
        in->cast[i] = true;
        rc = st_field_add_child(&in->schema, &tmp);
        st_field_clear(&tmp);
      }
    } else {
      rc = st_field_add_child(&in->schema, rf);
    }
  }
  in->n_sel = nout;
  free(order);
  if (!rc && in->fname_value) {
    st_field f;
    rc = st_field_init(&f, o->filename_column, ST_T_STRING, false);
    if (!rc) rc = st_field_add_child(&in->schema, &f);
    st_field_clear(&f);
  }
  ST_CHECK(!rc, err, ST_ERR_NOMEM, "out of memory");
  /* hats-import's CSV (pandas) and FITS (numpy -> pyarrow) readers declare
  ** every column nullable; its Parquet reader keeps the file's fields */
  if (o->hats_import_types && strcmp(in->fmt->name, "parquet")) set_nullable(&in->schema);
  return 0;
}

static int open_impl(const char *path, const st_input_options *opt, bool infer_only, st_input **out,
                     st_error *err);

int st_input_open(const char *path, const st_input_options *opt, st_input **out, st_error *err) {
  st_error local_err;
  if (!err) err = &local_err;
  return open_impl(path, opt, false, out, err);
}

static int open_impl(const char *path, const st_input_options *opt, bool infer_only, st_input **out,
                     st_error *err) {
  *out = NULL;
  ST_CHECK(path, err, ST_ERR_INVALID, "st_input_open: no path");
  st_input *in = calloc(1, sizeof *in);
  ST_CHECK(in, err, ST_ERR_NOMEM, "out of memory");
  st_input_options_init(&in->opt);
  if (opt) {
    size_t n = opt->struct_size && opt->struct_size < sizeof *opt ? opt->struct_size : sizeof *opt;
    memcpy(&in->opt, opt, n);
    in->opt.struct_size = sizeof *opt;
  }
  in->num_rows = -1;
  in->seam_first = in->seam_stop = -1;
  if (in->opt.n_parts <= 1 || infer_only) in->opt.part = 0, in->opt.n_parts = 1;
  if (in->opt.part < 0 || in->opt.part >= in->opt.n_parts) {
    int part = in->opt.part, n = in->opt.n_parts;
    free(in);
    return st_fail(err, ST_ERR_INVALID, "%s: part %d of %d does not exist", path, part, n);
  }
  in->infer_all = infer_only;
  in->batch_rows = in->opt.batch_rows > 0 ? in->opt.batch_rows : ST_DEFAULT_BATCH;
  in->path = st_strdup(path);
  int rc = in->path ? 0 : st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (!rc) rc = pick_format(path, in->opt.format, &in->fmt, in->fmt_name, err);
  if (!rc) rc = filename_value(in, err);
  if (!rc) {
    rc = in->fmt->open(in, err);
    if (rc && !strstr(err->msg, path)) st_error_prefix(err, "%s: ", path);
  }
  if (!rc) rc = build_output(in, err);
  if (rc) {
    st_input_close(in);
    return rc;
  }
  *out = in;
  return 0;
}

/* Internal: open for schema inference only (CSV: scan infer_rows rows, 0 = all). */
static int open_infer(const char *path, const st_input_options *opt, st_input **out, st_error *err) {
  return open_impl(path, opt, true, out, err);
}

const st_field *st_input_schema(const st_input *in) { return &in->schema; }
const char *st_input_format(const st_input *in) { return in->fmt_name; }
const char *st_input_path(const st_input *in) { return in->path; }
uint64_t st_input_bytes_read(const st_input *in) { return in->bytes_read; }
uint64_t st_input_file_size(const st_input *in) { return in->file_size; }
int64_t st_input_rows_read(const st_input *in) { return in->rows_read; }
int64_t st_input_num_rows(const st_input *in) { return in->num_rows; }
void st_input_part_seam(const st_input *in, int64_t *first, int64_t *stop) {
  *first = in->seam_first, *stop = in->seam_stop;
}

void st_input_close(st_input *in) {
  if (!in) return;
  if (in->fmt && in->fmt->close) in->fmt->close(in);
  st_field_clear(&in->raw);
  st_field_clear(&in->schema);
  free(in->need);
  free(in->sel);
  free(in->cast);
  free(in->fname_value);
  free(in->path);
  free(in);
}

static int const_string(const char *s, int64_t n, st_array **out, st_error *err) {
  size_t l = strlen(s);
  size_t total;
  ST_CHECK(st_mul_ok(l, (size_t)n, &total) && total < INT32_MAX, err, ST_ERR_LIMIT,
           "filename column: batch too large");
  st_mem *offs = st_mem_new((size_t)(n + 1) * 4);
  st_mem *data = st_mem_new(total ? total : 1);
  if (!offs || !data) {
    st_mem_unref(offs);
    st_mem_unref(data);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  int32_t *o = (int32_t *)offs->data;
  for (int64_t i = 0; i <= n; i++) o[i] = (int32_t)(i * (int64_t)l);
  for (int64_t i = 0; i < n; i++) memcpy(data->data + i * (int64_t)l, s, l);
  st_array *a = st_rd_array(n, offs, NULL, 0);
  if (!a) {
    st_mem_unref(data);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  a->n_buffers = 3;
  a->mem[2] = data;
  a->buf[2] = data->data;
  *out = a;
  return 0;
}

int st_input_next(st_input *in, st_table **batch, st_error *err) {
  st_error local_err;
  if (!err) err = &local_err;
  *batch = NULL;
  st_table *raw = NULL;
  int rc = in->fmt->next(in, &raw, err);
  if (rc) {
    if (!strstr(err->msg, in->path)) st_error_prefix(err, "%s: ", in->path);
    return rc;
  }
  if (!raw) return 0;
  int nout = in->schema.n_children;
  st_array **cols = calloc((size_t)nout + 1, sizeof(st_array *));
  if (!cols) {
    st_table_free(raw);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  int64_t n = raw->n_rows;
  for (int i = 0; i < in->n_sel && !rc; i++) {
    int k = in->sel[i];
    if (k >= raw->n_columns || !raw->columns[k]) {
      rc = st_fail(err, ST_ERR_INVALID, "reader: batch lacks column %d", k);
      break;
    }
    cols[i] = raw->columns[k];
    raw->columns[k] = NULL;
    if (!rc && in->cast[i])
      rc = st_rd_cast_array(&raw->schema.children[k], &in->schema.children[i], &cols[i], err);
  }
  if (!rc && in->fname_value) rc = const_string(in->fname_value, n, &cols[nout - 1], err);
  st_table_free(raw);
  if (rc) {
    for (int i = 0; i < nout; i++) st_array_free(cols[i]);
    free(cols);
    if (!strstr(err->msg, in->path)) st_error_prefix(err, "%s: ", in->path);
    return rc;
  }
  rc = st_table_new(in->schema.children, cols, nout, n, NULL, batch, err);
  free(cols);
  if (!rc) in->rows_read += n;
  return rc;
}

/* ---- unification ------------------------------------------------------------- */

static int unify_type(const st_field *a, const st_field *b, st_field *out) {
  /* returns 0 and fills out (copy) if unifiable, else 1 */
  const st_field *pick = NULL;
  if (st_field_equal(a, b)) pick = a;
  else if (a->type == ST_T_NULL) pick = b;
  else if (b->type == ST_T_NULL) pick = a;
  else if (is_int(a->type) && is_int(b->type)) {
    if (cast_ok(a, b)) pick = b;
    else if (cast_ok(b, a)) pick = a;
    else if (a->type != ST_T_UINT64 && b->type != ST_T_UINT64) {
      if (st_field_init(out, a->name, ST_T_INT64, a->nullable || b->nullable)) return 2;
      return 0;
    }
  } else if ((is_int(a->type) || is_float(a->type)) && (is_int(b->type) || is_float(b->type))) {
    if (st_field_init(out, a->name, ST_T_DOUBLE, a->nullable || b->nullable)) return 2;
    return 0;
  } else if ((a->type == ST_T_STRING && b->type == ST_T_LARGE_STRING) ||
             (b->type == ST_T_STRING && a->type == ST_T_LARGE_STRING)) {
    if (st_field_init(out, a->name, ST_T_LARGE_STRING, a->nullable || b->nullable)) return 2;
    return 0;
  }
  if (!pick) return 1;
  if (st_field_copy(out, pick)) return 2;
  out->nullable = a->nullable || b->nullable;
  return 0;
}

int st_schema_unify(const st_field *a, const char *name_a, const st_field *b, const char *name_b,
                    st_field *out, st_error *err) {
  st_error local_err;
  if (!err) err = &local_err;
  memset(out, 0, sizeof *out);
  name_a = name_a ? name_a : "the first schema";
  name_b = name_b ? name_b : "the second schema";
  for (int j = 0; j < b->n_children; j++) {
    bool found = false;
    for (int i = 0; i < a->n_children && !found; i++) found = !strcmp(a->children[i].name, b->children[j].name);
    if (!found)
      return st_fail(err, ST_ERR_SCHEMA, "cannot unify schemas: column '%s' is in %s but not in %s",
                     b->children[j].name, name_b, name_a);
  }
  ST_CHECK(!st_field_init(out, a->name ? a->name : "", ST_T_STRUCT, a->nullable), err, ST_ERR_NOMEM,
           "out of memory");
  for (int i = 0; i < a->n_meta; i++) st_field_set_meta(out, a->meta_keys[i], a->meta_values[i]);
  for (int i = 0; i < a->n_children; i++) {
    const st_field *fa = &a->children[i], *fb = NULL;
    for (int j = 0; j < b->n_children && !fb; j++)
      if (!strcmp(b->children[j].name, fa->name)) fb = &b->children[j];
    if (!fb) {
      st_field_clear(out);
      return st_fail(err, ST_ERR_SCHEMA, "cannot unify schemas: column '%s' is in %s but not in %s",
                     fa->name, name_a, name_b);
    }
    st_field u;
    int rc = unify_type(fa, fb, &u);
    if (rc == 1) {
      char ta[64], tb[64];
      st_field_type_string(fa, ta, sizeof ta);
      st_field_type_string(fb, tb, sizeof tb);
      st_field_clear(out);
      return st_fail(err, ST_ERR_SCHEMA, "cannot unify schemas: column '%s' is %s in %s but %s in %s",
                     fa->name, ta, name_a, tb, name_b);
    }
    if (rc || st_field_add_child(out, &u)) {
      if (!rc) st_field_clear(&u);
      st_field_clear(out);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    st_field_clear(&u);
  }
  return 0;
}

void st_schema_finalize_nulls(st_field *schema) {
  for (int i = 0; i < schema->n_children; i++)
    if (schema->children[i].type == ST_T_NULL) {
      schema->children[i].type = ST_T_DOUBLE;
      schema->children[i].nullable = true;
    }
}

int st_input_infer_schema(const char *const *paths, int n_paths, const st_input_options *opt,
                          st_field *out, st_error *err) {
  st_error local_err;
  if (!err) err = &local_err;
  memset(out, 0, sizeof *out);
  ST_CHECK(n_paths > 0, err, ST_ERR_INVALID, "infer schema: no input files");
  st_field acc;
  memset(&acc, 0, sizeof acc);
  st_field *fs = calloc((size_t)n_paths, sizeof(st_field));   /* each file's schema */
  ST_CHECK(fs, err, ST_ERR_NOMEM, "out of memory");
  int rc = 0, nfs = 0;
  for (int i = 0; i < n_paths && !rc; i++) {
    st_input *in = NULL;
    rc = open_infer(paths[i], opt, &in, err);
    if (rc) break;
    rc = st_field_copy(&fs[nfs], &in->schema);
    st_input_close(in);
    if (rc) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      break;
    }
    nfs++;
    if (i == 0) {
      rc = st_field_copy(&acc, &fs[0]);
      if (rc) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      continue;
    }
    st_field u;
    rc = st_schema_unify(&acc, paths[0], &fs[i], paths[i], &u, err);
    if (!rc) {
      st_field_clear(&acc);
      acc = u;
    } else if (rc == ST_ERR_SCHEMA) {
      /* name the earlier file that actually conflicts with this one */
      for (int j = 0; j < i; j++) {
        st_error e2;
        st_field t;
        memset(&e2, 0, sizeof e2);
        if (st_schema_unify(&fs[j], paths[j], &fs[i], paths[i], &t, &e2)) {
          *err = e2;
          break;
        }
        st_field_clear(&t);
      }
    }
  }
  for (int i = 0; i < nfs; i++) st_field_clear(&fs[i]);
  free(fs);
  if (rc) {
    st_field_clear(&acc);
    return rc;
  }
  /* columns that were null everywhere: double, as pandas */
  if (!(opt && opt->struct_size >= offsetof(st_input_options, keep_null_type) + sizeof(bool) &&
        opt->keep_null_type))
    st_schema_finalize_nulls(&acc);
  *out = acc;
  return 0;
}

/* ---- whole-file convenience -------------------------------------------- */

/* A 0-row table with `schema`'s columns (types a builder supports). */
static int empty_table(const st_field *schema, const char *path, st_table **out, st_error *err) {
  int nc = schema->n_children, rc = 0;
  st_array **cols = calloc((size_t)(nc ? nc : 1), sizeof *cols);
  if (!cols) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
  for (int i = 0; i < nc && rc == 0; i++) {
    st_builder *b = NULL;
    rc = st_builder_new(&schema->children[i], &b, err);
    if (rc == 0) rc = st_builder_finish(b, &cols[i], err);
    st_builder_free(b);
  }
  if (rc == 0) rc = st_table_new(schema->children, cols, nc, 0, NULL, out, err);
  else
    for (int i = 0; i < nc; i++) st_array_free(cols[i]);
  free(cols);
  if (rc) st_error_prefix(err, "%s", path);
  return rc;
}

int st_input_read_table(const char *path, const st_input_options *opt, st_table **out, st_error *err) {
  *out = NULL;
  st_input *in = NULL;
  ST_TRY(st_input_open(path, opt, &in, err));
  st_table **parts = NULL;
  int n = 0, cap = 0, rc = 0;
  for (;;) {
    st_table *b = NULL;
    if ((rc = st_input_next(in, &b, err)) != 0) break;
    if (!b) break;
    if (n == cap) {
      int ncap = cap ? cap * 2 : 16;
      st_table **np = realloc(parts, (size_t)ncap * sizeof *np);
      if (!np) {
        st_table_free(b);
        rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
      parts = np;
      cap = ncap;
    }
    parts[n++] = b;
  }
  if (rc == 0) {
    if (n == 0) {
      rc = empty_table(st_input_schema(in), path, out, err);
    } else if (n == 1) {
      *out = parts[0];
      parts[0] = NULL;
    } else {
      rc = st_table_concat(parts, n, out, err);
    }
  }
  for (int i = 0; i < n; i++) st_table_free(parts[i]);
  free(parts);
  st_input_close(in);
  return rc;
}
