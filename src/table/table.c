/*
** This file implements the core of the columnar table type declared in
** skytile/table.h: fields (type names, deep copy, equality, metadata),
** arrays (free, null counting, zero-copy clone and slice) and tables
** (construction, column lookup and selection).
**
** Ownership: an st_array owns its child arrays and dictionary (pointers), and
** holds one reference on each st_mem block behind its buffers.  Cloning an
** array tree copies the nodes and takes new references, never the bytes, so
** clones and originals are freed independently.  Slicing only changes the
** root's offset/length: in Arrow, a struct's offset applies to its children
** and list offsets address the child, so children are left untouched.
*/
#include "table/table_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- layout ------------------------------------------------------------- */

st_layout st_tab_layout(const st_field *f) {
  if (f->dict_encoded) return ST_L_FIXED;
  switch (f->type) {
  case ST_T_NULL: return ST_L_NULL;
  case ST_T_BOOL: return ST_L_BOOL;
  case ST_T_STRING: case ST_T_BINARY: return ST_L_VAR32;
  case ST_T_LARGE_STRING: case ST_T_LARGE_BINARY: return ST_L_VAR64;
  case ST_T_LIST: case ST_T_MAP: return ST_L_LIST32;
  case ST_T_LARGE_LIST: return ST_L_LIST64;
  case ST_T_FIXED_LIST: return ST_L_FIXLIST;
  case ST_T_STRUCT: return ST_L_STRUCT;
  default: return ST_L_FIXED;
  }
}

static int value_width(st_type_id t, int32_t byte_width) {
  switch (t) {
  case ST_T_BOOL: return -1;
  case ST_T_INT8: case ST_T_UINT8: return 1;
  case ST_T_INT16: case ST_T_UINT16: case ST_T_FLOAT16: return 2;
  case ST_T_INT32: case ST_T_UINT32: case ST_T_FLOAT: case ST_T_DATE32: case ST_T_TIME32: return 4;
  case ST_T_INT64: case ST_T_UINT64: case ST_T_DOUBLE: case ST_T_DATE64: case ST_T_TIME64:
  case ST_T_TIMESTAMP: case ST_T_DURATION: return 8;
  case ST_T_DECIMAL128: return 16;
  case ST_T_DECIMAL256: return 32;
  case ST_T_FIXED_BINARY: return byte_width;
  default: return 0;
  }
}

int st_tab_width(const st_field *f) { return f->dict_encoded ? 4 : value_width(f->type, f->byte_width); }

int st_tab_n_buffers(st_layout l) {
  switch (l) {
  case ST_L_NULL: return 0;
  case ST_L_VAR32: case ST_L_VAR64: return 3;
  case ST_L_FIXLIST: case ST_L_STRUCT: return 1;
  default: return 2;
  }
}

int st_type_byte_width(const st_field *f) { return value_width(f->type, f->byte_width); }

static const char *const g_type_names[ST_T__COUNT] = {
  [ST_T_NULL] = "null", [ST_T_BOOL] = "bool", [ST_T_INT8] = "int8", [ST_T_INT16] = "int16",
  [ST_T_INT32] = "int32", [ST_T_INT64] = "int64", [ST_T_UINT8] = "uint8", [ST_T_UINT16] = "uint16",
  [ST_T_UINT32] = "uint32", [ST_T_UINT64] = "uint64", [ST_T_FLOAT16] = "float16",
  [ST_T_FLOAT] = "float", [ST_T_DOUBLE] = "double", [ST_T_DECIMAL128] = "decimal128",
  [ST_T_DECIMAL256] = "decimal256", [ST_T_STRING] = "string", [ST_T_BINARY] = "binary",
  [ST_T_LARGE_STRING] = "large_string", [ST_T_LARGE_BINARY] = "large_binary",
  [ST_T_FIXED_BINARY] = "fixed_size_binary", [ST_T_DATE32] = "date32", [ST_T_DATE64] = "date64",
  [ST_T_TIME32] = "time32", [ST_T_TIME64] = "time64", [ST_T_TIMESTAMP] = "timestamp",
  [ST_T_DURATION] = "duration", [ST_T_LIST] = "list", [ST_T_LARGE_LIST] = "large_list",
  [ST_T_FIXED_LIST] = "fixed_size_list", [ST_T_STRUCT] = "struct", [ST_T_MAP] = "map",
};

const char *st_type_name(st_type_id t) {
  if ((int)t < 0 || t >= ST_T__COUNT) return "unknown";
  return g_type_names[t];
}

static const char *unit_name(st_time_unit u) {
  switch (u) {
  case ST_SECOND: return "s";
  case ST_MILLI: return "ms";
  case ST_MICRO: return "us";
  default: return "ns";
  }
}

/* Appends to out[*len..cap) keeping NUL termination; truncates silently. */
static void tcat(char *out, size_t cap, size_t *len, const char *fmt, ...) ST_PRINTF(4, 5);
static void tcat(char *out, size_t cap, size_t *len, const char *fmt, ...) {
  if (*len + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  *len += (size_t)n;
  if (*len >= cap) *len = cap - 1;
}

static void type_string(const st_field *f, char *out, size_t cap, size_t *len, int depth) {
  if (depth > ST_TAB_MAX_DEPTH) {
    tcat(out, cap, len, "...");
    return;
  }
  if (f->dict_encoded) tcat(out, cap, len, "dictionary<values=");
  const st_field *c0 = f->n_children > 0 ? &f->children[0] : NULL;
  switch (f->type) {
  case ST_T_DECIMAL128: case ST_T_DECIMAL256:
    tcat(out, cap, len, "%s(%d,%d)", st_type_name(f->type), (int)f->precision, (int)f->scale);
    break;
  case ST_T_FIXED_BINARY: tcat(out, cap, len, "fixed_size_binary[%d]", (int)f->byte_width); break;
  case ST_T_TIME32: case ST_T_TIME64: case ST_T_DURATION:
    tcat(out, cap, len, "%s[%s]", st_type_name(f->type), unit_name(f->unit));
    break;
  case ST_T_TIMESTAMP:
    if (f->tz && f->tz[0]) tcat(out, cap, len, "timestamp[%s, %s]", unit_name(f->unit), f->tz);
    else tcat(out, cap, len, "timestamp[%s]", unit_name(f->unit));
    break;
  case ST_T_LIST: case ST_T_LARGE_LIST: case ST_T_FIXED_LIST:
    tcat(out, cap, len, "%s<", st_type_name(f->type));
    if (c0) type_string(c0, out, cap, len, depth + 1);
    tcat(out, cap, len, ">");
    if (f->type == ST_T_FIXED_LIST) tcat(out, cap, len, "[%d]", (int)f->byte_width);
    break;
  case ST_T_MAP:
    tcat(out, cap, len, "map<");
    if (c0 && c0->n_children == 2) {
      type_string(&c0->children[0], out, cap, len, depth + 1);
      tcat(out, cap, len, ", ");
      type_string(&c0->children[1], out, cap, len, depth + 1);
    }
    tcat(out, cap, len, f->keys_sorted ? ", keys_sorted>" : ">");
    break;
  case ST_T_STRUCT:
    tcat(out, cap, len, "struct<");
    for (int i = 0; i < f->n_children; i++) {
      tcat(out, cap, len, "%s%s: ", i ? ", " : "", f->children[i].name ? f->children[i].name : "");
      type_string(&f->children[i], out, cap, len, depth + 1);
    }
    tcat(out, cap, len, ">");
    break;
  default: tcat(out, cap, len, "%s", st_type_name(f->type)); break;
  }
  if (f->dict_encoded) tcat(out, cap, len, ", indices=int32>");
}

void st_field_type_string(const st_field *f, char *out, size_t cap) {
  if (!cap) return;
  out[0] = 0;
  size_t len = 0;
  type_string(f, out, cap, &len, 0);
}

/* ---- fields ------------------------------------------------------------- */

void st_field_clear(st_field *f) {
  if (!f) return;
  free(f->name);
  free(f->tz);
  for (int i = 0; i < f->n_children; i++) st_field_clear(&f->children[i]);
  free(f->children);
  for (int i = 0; i < f->n_meta; i++) {
    free(f->meta_keys[i]);
    free(f->meta_values[i]);
  }
  free(f->meta_keys);
  free(f->meta_values);
  memset(f, 0, sizeof *f);
}

int st_field_copy(st_field *dst, const st_field *src) {
  *dst = *src;
  dst->name = NULL;
  dst->tz = NULL;
  dst->children = NULL;
  dst->n_children = 0;
  dst->meta_keys = dst->meta_values = NULL;
  dst->n_meta = 0;
  if ((src->name && !(dst->name = strdup(src->name))) || (src->tz && !(dst->tz = strdup(src->tz))))
    goto oom;
  if (src->n_children > 0) {
    dst->children = calloc((size_t)src->n_children, sizeof(st_field));
    if (!dst->children) goto oom;
    for (int i = 0; i < src->n_children; i++) {
      if (st_field_copy(&dst->children[i], &src->children[i])) goto oom;
      dst->n_children = i + 1;
    }
  }
  if (src->n_meta > 0) {
    dst->meta_keys = calloc((size_t)src->n_meta, sizeof(char *));
    dst->meta_values = calloc((size_t)src->n_meta, sizeof(char *));
    if (!dst->meta_keys || !dst->meta_values) goto oom;
    for (int i = 0; i < src->n_meta; i++) {
      dst->n_meta = i + 1;
      dst->meta_keys[i] = strdup(src->meta_keys[i] ? src->meta_keys[i] : "");
      dst->meta_values[i] = strdup(src->meta_values[i] ? src->meta_values[i] : "");
      if (!dst->meta_keys[i] || !dst->meta_values[i]) goto oom;
    }
  }
  return ST_OK;
oom:
  if (!dst->meta_keys || !dst->meta_values) dst->n_meta = 0;
  st_field_clear(dst);
  return ST_ERR_NOMEM;
}

static bool str_eq(const char *a, const char *b) {
  if (!a || !b) return (!a || !a[0]) && (!b || !b[0]);
  return !strcmp(a, b);
}

static bool field_equal(const st_field *a, const st_field *b, int depth) {
  if (depth > ST_TAB_MAX_DEPTH) return false;
  if (a->type != b->type || a->dict_encoded != b->dict_encoded || !str_eq(a->name, b->name) ||
      a->n_children != b->n_children)
    return false;
  switch (a->type) {
  case ST_T_FIXED_BINARY: case ST_T_FIXED_LIST:
    if (a->byte_width != b->byte_width) return false;
    break;
  case ST_T_DECIMAL128: case ST_T_DECIMAL256:
    if (a->precision != b->precision || a->scale != b->scale) return false;
    break;
  case ST_T_TIMESTAMP:
    if (!str_eq(a->tz, b->tz)) return false;
    /* fall through */
  case ST_T_TIME32: case ST_T_TIME64: case ST_T_DURATION:
    if (a->unit != b->unit) return false;
    break;
  case ST_T_MAP:
    if (a->keys_sorted != b->keys_sorted) return false;
    break;
  default: break;
  }
  for (int i = 0; i < a->n_children; i++)
    if (!field_equal(&a->children[i], &b->children[i], depth + 1)) return false;
  return true;
}

bool st_field_equal(const st_field *a, const st_field *b) { return field_equal(a, b, 0); }

int st_field_init(st_field *f, const char *name, st_type_id type, bool nullable) {
  memset(f, 0, sizeof *f);
  f->type = type;
  f->nullable = nullable;
  if (name && !(f->name = strdup(name))) return ST_ERR_NOMEM;
  return ST_OK;
}

int st_field_add_child(st_field *f, const st_field *child) {
  st_field *c = realloc(f->children, (size_t)(f->n_children + 1) * sizeof(st_field));
  if (!c) return ST_ERR_NOMEM;
  f->children = c;
  if (st_field_copy(&c[f->n_children], child)) return ST_ERR_NOMEM;
  f->n_children++;
  return ST_OK;
}

int st_field_set_meta(st_field *f, const char *key, const char *value) {
  for (int i = 0; i < f->n_meta; i++) {
    if (!strcmp(f->meta_keys[i], key)) {
      char *v = strdup(value);
      if (!v) return ST_ERR_NOMEM;
      free(f->meta_values[i]);
      f->meta_values[i] = v;
      return ST_OK;
    }
  }
  char **k = realloc(f->meta_keys, (size_t)(f->n_meta + 1) * sizeof(char *));
  if (!k) return ST_ERR_NOMEM;
  f->meta_keys = k;
  char **v = realloc(f->meta_values, (size_t)(f->n_meta + 1) * sizeof(char *));
  if (!v) return ST_ERR_NOMEM;
  f->meta_values = v;
  char *kk = strdup(key), *vv = strdup(value);
  if (!kk || !vv) {
    free(kk);
    free(vv);
    return ST_ERR_NOMEM;
  }
  k[f->n_meta] = kk;
  v[f->n_meta] = vv;
  f->n_meta++;
  return ST_OK;
}

const char *st_field_get_meta(const st_field *f, const char *key) {
  for (int i = 0; i < f->n_meta; i++)
    if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
  return NULL;
}

/* ---- bits --------------------------------------------------------------- */

int64_t st_tab_bits_count(const uint8_t *b, int64_t off, int64_t n) {
  int64_t c = 0, i = off, end = off + n;
  while (i < end && (i & 63)) c += st_bit_get(b, i++);
  for (; i + 64 <= end; i += 64) {
    uint64_t w;
    memcpy(&w, b + (i >> 3), 8);
    c += __builtin_popcountll(w);
  }
  while (i < end) c += st_bit_get(b, i++);
  return c;
}

void st_tab_bits_copy(uint8_t *dst, int64_t dof, const uint8_t *src, int64_t so, int64_t n) {
  if (n <= 0) return;
  if (!(dof & 7) && !(so & 7)) {
    int64_t nb = n >> 3;
    memcpy(dst + (dof >> 3), src + (so >> 3), (size_t)nb);
    for (int64_t i = nb << 3; i < n; i++) {
      if (st_bit_get(src, so + i)) st_bit_set(dst, dof + i);
      else st_bit_clear(dst, dof + i);
    }
    return;
  }
  int64_t i = 0;
  while (i < n && ((dof + i) & 7)) {
    if (st_bit_get(src, so + i)) st_bit_set(dst, dof + i);
    else st_bit_clear(dst, dof + i);
    i++;
  }
  /* dst is byte aligned now: assemble each output byte from two source bytes. */
  int sh = (int)((so + i) & 7);
  for (; i + 8 <= n; i += 8) {
    const uint8_t *s = src + ((so + i) >> 3);
    unsigned v = sh ? (unsigned)((s[0] >> sh) | (s[1] << (8 - sh))) : s[0];
    dst[(dof + i) >> 3] = (uint8_t)v;
  }
  for (; i < n; i++) {
    if (st_bit_get(src, so + i)) st_bit_set(dst, dof + i);
    else st_bit_clear(dst, dof + i);
  }
}

void st_tab_bits_fill(uint8_t *dst, int64_t dof, int64_t n, bool v) {
  int64_t i = 0;
  while (i < n && ((dof + i) & 7)) {
    if (v) st_bit_set(dst, dof + i);
    else st_bit_clear(dst, dof + i);
    i++;
  }
  int64_t nb = (n - i) >> 3;
  if (nb > 0) memset(dst + ((dof + i) >> 3), v ? 0xff : 0, (size_t)nb);
  for (i += nb << 3; i < n; i++) {
    if (v) st_bit_set(dst, dof + i);
    else st_bit_clear(dst, dof + i);
  }
}

st_mem *st_tab_alloc(size_t n, bool zero, uint8_t **p) {
  st_mem *m = st_mem_new(n);
  if (!m) return NULL;
  if (zero) memset(m->data, 0, n + ST_PAD);
  *p = m->data;
  return m;
}

/* ---- arrays ------------------------------------------------------------- */

st_array *st_array_new(void) { return calloc(1, sizeof(st_array)); }

void st_array_free(st_array *a) {
  if (!a) return;
  for (int i = 0; i < 3; i++) st_mem_unref(a->mem[i]);
  for (int i = 0; i < a->n_children; i++) st_array_free(a->children[i]);
  free(a->children);
  st_array_free(a->dictionary);
  free(a);
}

int64_t st_array_null_count(st_array *a) {
  if (a->null_count >= 0) return a->null_count;
  if (!a->buf[0]) a->null_count = 0;
  else a->null_count = a->length - st_tab_bits_count(a->buf[0], a->offset, a->length);
  return a->null_count;
}

static st_array *clone_rec(const st_array *a, int depth) {
  if (depth > ST_TAB_MAX_DEPTH) return NULL;
  st_array *c = st_array_new();
  if (!c) return NULL;
  *c = *a;
  c->children = NULL;
  c->n_children = 0;
  c->dictionary = NULL;
  for (int i = 0; i < 3; i++) st_mem_ref(c->mem[i]);
  if (a->n_children > 0) {
    c->children = calloc((size_t)a->n_children, sizeof(st_array *));
    if (!c->children) goto fail;
    for (int i = 0; i < a->n_children; i++) {
      if (!(c->children[i] = clone_rec(a->children[i], depth + 1))) goto fail;
      c->n_children = i + 1;
    }
  }
  if (a->dictionary && !(c->dictionary = clone_rec(a->dictionary, depth + 1))) goto fail;
  return c;
fail:
  st_array_free(c);
  return NULL;
}

st_array *st_tab_clone(const st_array *a) { return clone_rec(a, 0); }

int st_array_slice(const st_array *a, int64_t offset, int64_t length, st_array **out, st_error *err) {
  *out = NULL;
  ST_CHECK(offset >= 0 && length >= 0 && offset <= a->length && length <= a->length - offset, err,
           ST_ERR_INVALID, "slice [%lld, +%lld) outside array of length %lld", (long long)offset,
           (long long)length, (long long)a->length);
  st_array *c = st_tab_clone(a);
  if (!c) return st_fail(err, ST_ERR_NOMEM, "out of memory slicing an array");
  c->offset += offset;
  c->length = length;
  if (a->n_buffers == 0) c->null_count = length;               /* NULL type */
  else if (!a->buf[0] || a->null_count == 0) c->null_count = 0;
  else c->null_count = -1;
  *out = c;
  return ST_OK;
}

/* ---- tables ------------------------------------------------------------- */

void st_table_free(st_table *t) {
  if (!t) return;
  for (int i = 0; i < t->n_columns; i++) st_array_free(t->columns[i]);
  free(t->columns);
  st_field_clear(&t->schema);
  free(t);
}

int st_table_column_index(const st_table *t, const char *name) {
  for (int i = 0; i < t->n_columns; i++)
    if (t->schema.children[i].name && !strcmp(t->schema.children[i].name, name)) return i;
  return -1;
}

int st_table_new(const st_field *fields, st_array **columns, int n_columns, int64_t n_rows,
                 const st_field *meta_from, st_table **out, st_error *err) {
  *out = NULL;
  int rc = ST_OK;
  st_table *t = NULL;
  if (n_columns < 0) {
    rc = st_fail(err, ST_ERR_INVALID, "table: negative column count");
    goto fail;
  }
  if (n_rows < 0) n_rows = n_columns > 0 && columns[0] ? columns[0]->length : 0;
  for (int i = 0; i < n_columns; i++) {
    if (!columns[i] || columns[i]->length != n_rows) {
      rc = st_fail(err, ST_ERR_INVALID, "table: column %d ('%s') has length %lld, expected %lld", i,
                   fields[i].name ? fields[i].name : "", columns[i] ? (long long)columns[i]->length : -1LL,
                   (long long)n_rows);
      goto fail;
    }
  }
  t = calloc(1, sizeof *t);
  if (!t) goto oom;
  t->schema.type = ST_T_STRUCT;
  t->n_rows = n_rows;
  if (n_columns > 0) {
    t->schema.children = calloc((size_t)n_columns, sizeof(st_field));
    t->columns = calloc((size_t)n_columns, sizeof(st_array *));
    if (!t->schema.children || !t->columns) goto oom;
  }
  for (int i = 0; i < n_columns; i++) {
    if (st_field_copy(&t->schema.children[i], &fields[i])) goto oom;
    t->schema.n_children = i + 1;
  }
  if (meta_from) {
    for (int i = 0; i < meta_from->n_meta; i++)
      if (st_field_set_meta(&t->schema, meta_from->meta_keys[i], meta_from->meta_values[i])) goto oom;
  }
  for (int i = 0; i < n_columns; i++) t->columns[i] = columns[i];
  t->n_columns = n_columns;
  *out = t;
  return ST_OK;
oom:
  rc = st_fail(err, ST_ERR_NOMEM, "table: out of memory");
fail:
  if (t && t->n_columns == 0) {
    free(t->columns);
    t->columns = NULL;
  }
  st_table_free(t);
  for (int i = 0; i < n_columns; i++) st_array_free(columns[i]);
  return rc;
}

int st_table_select_columns(const st_table *t, const int *cols, int n, st_table **out, st_error *err) {
  *out = NULL;
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "select columns: negative count");
  for (int i = 0; i < n; i++)
    ST_CHECK(cols[i] >= 0 && cols[i] < t->n_columns, err, ST_ERR_INVALID,
             "select columns: index %d out of range (table has %d columns)", cols[i], t->n_columns);
  st_array **arr = calloc((size_t)(n ? n : 1), sizeof(st_array *));
  st_field *fl = calloc((size_t)(n ? n : 1), sizeof(st_field));
  if (!arr || !fl) {
    free(arr);
    free(fl);
    return st_fail(err, ST_ERR_NOMEM, "select columns: out of memory");
  }
  for (int i = 0; i < n; i++) {
    fl[i] = t->schema.children[cols[i]]; /* shallow: st_table_new deep-copies */
    if (!(arr[i] = st_tab_clone(t->columns[cols[i]]))) {
      for (int j = 0; j < i; j++) st_array_free(arr[j]);
      free(arr);
      free(fl);
      return st_fail(err, ST_ERR_NOMEM, "select columns: out of memory");
    }
  }
  int rc = st_table_new(fl, arr, n, t->n_rows, &t->schema, out, err);
  free(arr);
  free(fl);
  return rc;
}

int st_table_slice(const st_table *t, int64_t offset, int64_t length, st_table **out, st_error *err) {
  *out = NULL;
  ST_CHECK(offset >= 0 && length >= 0 && offset <= t->n_rows && length <= t->n_rows - offset, err,
           ST_ERR_INVALID, "table slice [%lld, +%lld) outside %lld rows", (long long)offset,
           (long long)length, (long long)t->n_rows);
  int n = t->n_columns;
  st_array **arr = calloc((size_t)(n ? n : 1), sizeof(st_array *));
  if (!arr) return st_fail(err, ST_ERR_NOMEM, "table slice: out of memory");
  for (int i = 0; i < n; i++) {
    int rc = st_array_slice(t->columns[i], offset, length, &arr[i], err);
    if (rc) {
      for (int j = 0; j < i; j++) st_array_free(arr[j]);
      free(arr);
      return rc;
    }
  }
  int rc = st_table_new(t->schema.children, arr, n, length, &t->schema, out, err);
  free(arr);
  return rc;
}
