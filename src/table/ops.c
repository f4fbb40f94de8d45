/*
** This file implements the copying array operations: take (gather by index)
** and concat, for every layout, and their table-level forms.
**
** Both work column by column and recurse into children:
**   take     fixed-width values are gathered with a width-specialised loop;
**            strings in two passes (sizes, then bytes); lists build new
**            offsets plus one int64 index vector for the child ranges, which
**            is then taken recursively; structs take every child at
**            (struct offset + index); fixed lists expand each index into
**            list_size child indices; dictionary columns gather their int32
**            indices and share (reference) the dictionary.  An index -1 makes
**            a null slot (its child ranges are empty / -1 child indices).
**   concat   values and bitmaps are appended range by range (bit copies honour
**            every offset); offsets are rebased; the child ranges of lists and
**            structs are sliced (zero-copy) and concatenated recursively;
**            dictionaries are appended and indices shifted.
** The outputs always own fresh buffers with offset 0.
*/
#include "table/table_int.h"

#include <stdlib.h>
#include <string.h>

#define NOMEM(what) st_fail(err, ST_ERR_NOMEM, "%s: out of memory", what)

static int take_rec(const st_field *f, const st_array *a, const int64_t *idx, int64_t n, st_array **out, int depth,
                    st_error *err);

/* Fills out's validity for take; sets null_count.  Only allocates when needed. */
static int take_validity(const st_array *a, const int64_t *idx, int64_t n, bool has_neg, st_array *o, st_error *err) {
  o->null_count = 0;
  if (!a->buf[0] && !has_neg) return ST_OK;
  uint8_t *vb;
  st_mem *m = st_tab_alloc(((size_t)n + 7) / 8, true, &vb);
  if (!m) return NOMEM("take");
  int64_t nulls = 0;
  const uint8_t *src = a->buf[0];
  for (int64_t i = 0; i < n; i++) {
    bool v = idx[i] >= 0 && (!src || st_bit_get(src, a->offset + idx[i]));
    if (v) st_bit_set(vb, i);
    else nulls++;
  }
  if (!nulls) {
    st_mem_unref(m);
    return ST_OK;
  }
  o->mem[0] = m;
  o->buf[0] = vb;
  o->null_count = nulls;
  return ST_OK;
}

#define GATHER(T)                                                                                  \
  do {                                                                                             \
    const T *s_ = (const T *)a->buf[1] + a->offset;                                                \
    T *d_ = (T *)dst;                                                                              \
    for (int64_t i = 0; i < n; i++) d_[i] = idx[i] >= 0 ? s_[idx[i]] : (T)0;                      \
  } while (0)

static void gather_fixed(const st_array *a, int w, const int64_t *idx, int64_t n, uint8_t *dst) {
  switch (w) {
  case 1: GATHER(uint8_t); return;
  case 2: GATHER(uint16_t); return;
  case 4: GATHER(uint32_t); return;
  case 8: GATHER(uint64_t); return;
  default: break;
  }
  const uint8_t *s = a->buf[1] + (size_t)a->offset * (size_t)w;
  for (int64_t i = 0; i < n; i++) {
    if (idx[i] >= 0) memcpy(dst + (size_t)i * (size_t)w, s + (size_t)idx[i] * (size_t)w, (size_t)w);
    else memset(dst + (size_t)i * (size_t)w, 0, (size_t)w);
  }
}

static int take_offsets(const st_array *a, bool wide, const int64_t *idx, int64_t n, st_array *o, int64_t *total,
                        uint8_t **offs, st_error *err) {
  size_t ow = wide ? 8 : 4;
  uint8_t *p;
  st_mem *m = st_tab_alloc((size_t)(n + 1) * ow, false, &p);
  if (!m) return NOMEM("take");
  int64_t t = 0;
  if (wide) ((int64_t *)p)[0] = 0;
  else ((int32_t *)p)[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    if (idx[i] >= 0) t += st_tab_off(a, wide, idx[i] + 1) - st_tab_off(a, wide, idx[i]);
    if (!wide && t > INT32_MAX) {
      st_mem_unref(m);
      return st_fail(err, ST_ERR_LIMIT, "take: result exceeds 32-bit offsets");
    }
    if (wide) ((int64_t *)p)[i + 1] = t;
    else ((int32_t *)p)[i + 1] = (int32_t)t;
  }
  o->mem[1] = m;
  o->buf[1] = p;
  *total = t;
  *offs = p;
  return ST_OK;
}

static int take_rec(const st_field *f, const st_array *a, const int64_t *idx, int64_t n, st_array **out, int depth,
                    st_error *err) {
  *out = NULL;
  ST_CHECK(depth <= ST_TAB_MAX_DEPTH, err, ST_ERR_LIMIT, "take: nesting deeper than %d", ST_TAB_MAX_DEPTH);
  bool has_neg = false;
  for (int64_t i = 0; i < n; i++) {
    if (idx[i] < 0 || idx[i] >= a->length) {
      ST_CHECK(idx[i] == -1, err, ST_ERR_INVALID, "take: index %lld outside array of length %lld",
               (long long)idx[i], (long long)a->length);
      has_neg = true;
    }
  }
  st_layout l = st_tab_layout(f);
  st_array *o = st_array_new();
  if (!o) return NOMEM("take");
  o->length = n;
  o->n_buffers = st_tab_n_buffers(l);
  int rc = ST_OK;
  int64_t *cidx = NULL;
  if (l == ST_L_NULL) {
    o->null_count = n;
    *out = o;
    return ST_OK;
  }
  if ((rc = take_validity(a, idx, n, has_neg, o, err))) goto fail;
  switch (l) {
  case ST_L_BOOL: {
    uint8_t *p;
    if (!(o->mem[1] = st_tab_alloc(((size_t)n + 7) / 8, true, &p))) goto oom;
    o->buf[1] = p;
    for (int64_t i = 0; i < n; i++)
      if (idx[i] >= 0 && st_bit_get(a->buf[1], a->offset + idx[i])) st_bit_set(p, i);
    break;
  }
  case ST_L_FIXED: {
    int w = st_tab_width(f);
    uint8_t *p;
    if (!(o->mem[1] = st_tab_alloc((size_t)n * (size_t)w, false, &p))) goto oom;
    o->buf[1] = p;
    gather_fixed(a, w, idx, n, p);
    if (f->dict_encoded) {
      if (!(o->dictionary = st_tab_clone(a->dictionary))) goto oom;
    }
    break;
  }
  case ST_L_VAR32: case ST_L_VAR64: {
    bool wide = l == ST_L_VAR64;
    int64_t total;
    uint8_t *offs, *d;
    if ((rc = take_offsets(a, wide, idx, n, o, &total, &offs, err))) goto fail;
    if (!(o->mem[2] = st_tab_alloc((size_t)total, false, &d))) goto oom;
    o->buf[2] = d;
    for (int64_t i = 0; i < n; i++) {
      if (idx[i] < 0) continue;
      int64_t s = st_tab_off(a, wide, idx[i]), e = st_tab_off(a, wide, idx[i] + 1);
      memcpy(d, a->buf[2] + s, (size_t)(e - s));
      d += e - s;
    }
    break;
  }
  case ST_L_LIST32: case ST_L_LIST64: {
    bool wide = l == ST_L_LIST64;
    int64_t total;
    uint8_t *offs;
    if ((rc = take_offsets(a, wide, idx, n, o, &total, &offs, err))) goto fail;
    if (!(cidx = malloc((size_t)(total ? total : 1) * sizeof(int64_t)))) goto oom;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
      if (idx[i] < 0) continue;
      int64_t s = st_tab_off(a, wide, idx[i]), e = st_tab_off(a, wide, idx[i] + 1);
      for (int64_t j = s; j < e; j++) cidx[k++] = j;
    }
    if (!(o->children = calloc(1, sizeof(st_array *)))) goto oom;
    o->n_children = 1;
    if ((rc = take_rec(&f->children[0], a->children[0], cidx, total, &o->children[0], depth + 1, err))) goto fail;
    break;
  }
  case ST_L_FIXLIST: {
    int64_t sz = f->byte_width, total;
    if (__builtin_mul_overflow(n, sz, &total)) goto oom;
    if (!(cidx = malloc((size_t)(total ? total : 1) * sizeof(int64_t)))) goto oom;
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < sz; j++) cidx[i * sz + j] = idx[i] >= 0 ? (a->offset + idx[i]) * sz + j : -1;
    if (!(o->children = calloc(1, sizeof(st_array *)))) goto oom;
    o->n_children = 1;
    if ((rc = take_rec(&f->children[0], a->children[0], cidx, total, &o->children[0], depth + 1, err))) goto fail;
    break;
  }
  case ST_L_STRUCT: {
    if (a->offset) {
      if (!(cidx = malloc((size_t)(n ? n : 1) * sizeof(int64_t)))) goto oom;
      for (int64_t i = 0; i < n; i++) cidx[i] = idx[i] >= 0 ? idx[i] + a->offset : -1;
    }
    if (f->n_children && !(o->children = calloc((size_t)f->n_children, sizeof(st_array *)))) goto oom;
    o->n_children = f->n_children;
    for (int c = 0; c < f->n_children; c++)
      if ((rc = take_rec(&f->children[c], a->children[c], cidx ? cidx : idx, n, &o->children[c], depth + 1, err)))
        goto fail;
    break;
  }
  default: break;
  }
  free(cidx);
  *out = o;
  return ST_OK;
oom:
  rc = NOMEM("take");
fail:
  free(cidx);
  st_array_free(o);
  return rc;
}

int st_array_take(const st_field *f, const st_array *a, const int64_t *idx, int64_t n, st_array **out,
                  st_error *err) {
  *out = NULL;
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "take: negative count");
  return take_rec(f, a, idx, n, out, 0, err);
}

int st_table_take(const st_table *t, const int64_t *idx, int64_t n, st_table **out, st_error *err) {
  *out = NULL;
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "take: negative count");
  int nc = t->n_columns;
  st_array **cols = calloc((size_t)(nc ? nc : 1), sizeof(st_array *));
  if (!cols) return NOMEM("take");
  for (int i = 0; i < nc; i++) {
    int rc = take_rec(&t->schema.children[i], t->columns[i], idx, n, &cols[i], 0, err);
    if (rc) {
      st_error_prefix(err, "column '%s': ", t->schema.children[i].name ? t->schema.children[i].name : "");
      for (int j = 0; j < i; j++) st_array_free(cols[j]);
      free(cols);
      return rc;
    }
  }
  if (nc == 0) {
    for (int64_t i = 0; i < n; i++) {
      if (idx[i] < -1 || idx[i] >= t->n_rows) {
        free(cols);
        return st_fail(err, ST_ERR_INVALID, "take: index %lld outside %lld rows", (long long)idx[i],
                       (long long)t->n_rows);
      }
    }
  }
  int rc = st_table_new(t->schema.children, cols, nc, n, &t->schema, out, err);
  free(cols);
  return rc;
}

/* ---- concat ----------------------------------------------------------------- */

static int concat_rec(const st_field *f, st_array *const *arrs, int n, st_array **out, int depth, st_error *err);

/* Concatenate the child ranges [s[i], e[i]) of arrays' children[c]. */
static int concat_child_ranges(const st_field *cf, st_array *const *arrs, int n, int c, const int64_t *s,
                               const int64_t *e, st_array **out, int depth, st_error *err) {
  st_array **sl = calloc((size_t)(n > 0 ? n : 1), sizeof(st_array *));
  if (!sl) return NOMEM("concat");
  int rc = ST_OK;
  for (int i = 0; i < n && !rc; i++) {
    const st_array *ch = arrs[i]->children[c];
    if (s[i] < 0 || e[i] < s[i] || e[i] > ch->length)
      rc = st_fail(err, ST_ERR_CORRUPT, "concat: child range [%lld, %lld) outside child of length %lld",
                   (long long)s[i], (long long)e[i], (long long)ch->length);
    else rc = st_array_slice(ch, s[i], e[i] - s[i], &sl[i], err);
  }
  if (!rc) rc = concat_rec(cf, sl, n, out, depth + 1, err);
  for (int i = 0; i < n; i++) st_array_free(sl[i]);
  free(sl);
  return rc;
}

static int concat_rec(const st_field *f, st_array *const *arrs, int n, st_array **out, int depth, st_error *err) {
  *out = NULL;
  ST_CHECK(depth <= ST_TAB_MAX_DEPTH, err, ST_ERR_LIMIT, "concat: nesting deeper than %d", ST_TAB_MAX_DEPTH);
  st_layout l = st_tab_layout(f);
  int64_t total = 0;
  bool any_valid = false;
  for (int i = 0; i < n; i++) {
    total += arrs[i]->length;
    if (arrs[i]->buf[0] && st_array_null_count((st_array *)arrs[i]) > 0) any_valid = true;
  }
  st_array *o = st_array_new();
  if (!o) return NOMEM("concat");
  o->length = total;
  o->n_buffers = st_tab_n_buffers(l);
  int rc = ST_OK;
  int64_t *s = NULL, *e = NULL;
  if (l == ST_L_NULL) {
    o->null_count = total;
    *out = o;
    return ST_OK;
  }
  if (any_valid) {
    uint8_t *vb;
    if (!(o->mem[0] = st_tab_alloc(((size_t)total + 7) / 8, true, &vb))) goto oom;
    o->buf[0] = vb;
    int64_t pos = 0, nulls = 0;
    for (int i = 0; i < n; i++) {
      const st_array *a = arrs[i];
      if (a->buf[0]) st_tab_bits_copy(vb, pos, a->buf[0], a->offset, a->length);
      else st_tab_bits_fill(vb, pos, a->length, true);
      nulls += st_array_null_count((st_array *)a);
      pos += a->length;
    }
    o->null_count = nulls;
  }
  switch (l) {
  case ST_L_BOOL: {
    uint8_t *p;
    if (!(o->mem[1] = st_tab_alloc(((size_t)total + 7) / 8, true, &p))) goto oom;
    o->buf[1] = p;
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
      st_tab_bits_copy(p, pos, arrs[i]->buf[1], arrs[i]->offset, arrs[i]->length);
      pos += arrs[i]->length;
    }
    break;
  }
  case ST_L_FIXED: {
    size_t w = (size_t)st_tab_width(f);
    uint8_t *p;
    if (!(o->mem[1] = st_tab_alloc((size_t)total * w, false, &p))) goto oom;
    o->buf[1] = p;
    for (int i = 0; i < n; i++) {
      size_t nb = (size_t)arrs[i]->length * w;
      if (nb) memcpy(p, arrs[i]->buf[1] + (size_t)arrs[i]->offset * w, nb);
      p += nb;
    }
    if (f->dict_encoded) {
      /* Append dictionaries; shift each part's indices by the preceding dictionary lengths. */
      st_field vf = *f;
      vf.dict_encoded = false;
      st_array **d = calloc((size_t)(n > 0 ? n : 1), sizeof(st_array *));
      if (!d) goto oom;
      for (int i = 0; i < n; i++) d[i] = arrs[i]->dictionary;
      rc = concat_rec(&vf, d, n, &o->dictionary, depth + 1, err);
      free(d);
      if (rc) goto fail;
      int32_t *ix = (int32_t *)o->mem[1]->data;
      int64_t base = 0;
      for (int i = 0; i < n; i++) {
        if (base > INT32_MAX) {
          rc = st_fail(err, ST_ERR_LIMIT, "concat: dictionary exceeds 2^31 entries");
          goto fail;
        }
        for (int64_t j = 0; j < arrs[i]->length; j++) ix[j] += (int32_t)base;
        ix += arrs[i]->length;
        base += arrs[i]->dictionary->length;
      }
    }
    break;
  }
  case ST_L_VAR32: case ST_L_VAR64: case ST_L_LIST32: case ST_L_LIST64: {
    bool wide = l == ST_L_VAR64 || l == ST_L_LIST64;
    bool var = l == ST_L_VAR32 || l == ST_L_VAR64;
    size_t ow = wide ? 8 : 4;
    uint8_t *p;
    if (!(o->mem[1] = st_tab_alloc((size_t)(total + 1) * ow, false, &p))) goto oom;
    o->buf[1] = p;
    if (!(s = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1))) || !(e = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1))))
      goto oom;
    int64_t pos = 0, acc = 0;
    if (wide) ((int64_t *)p)[0] = 0;
    else ((int32_t *)p)[0] = 0;
    for (int i = 0; i < n; i++) {
      const st_array *a = arrs[i];
      s[i] = a->length ? st_tab_off(a, wide, 0) : 0;
      e[i] = a->length ? st_tab_off(a, wide, a->length) : 0;
      int64_t shift = acc - s[i];
      for (int64_t j = 1; j <= a->length; j++) {
        int64_t v = st_tab_off(a, wide, j) + shift;
        if (!wide && v > INT32_MAX) {
          rc = st_fail(err, ST_ERR_LIMIT, "concat: result exceeds 32-bit offsets");
          goto fail;
        }
        if (wide) ((int64_t *)p)[pos + j] = v;
        else ((int32_t *)p)[pos + j] = (int32_t)v;
      }
      acc += e[i] - s[i];
      pos += a->length;
    }
    if (var) {
      uint8_t *d;
      if (!(o->mem[2] = st_tab_alloc((size_t)acc, false, &d))) goto oom;
      o->buf[2] = d;
      for (int i = 0; i < n; i++) {
        if (e[i] > s[i]) memcpy(d, arrs[i]->buf[2] + s[i], (size_t)(e[i] - s[i]));
        d += e[i] - s[i];
      }
    } else {
      if (!(o->children = calloc(1, sizeof(st_array *)))) goto oom;
      o->n_children = 1;
      if ((rc = concat_child_ranges(&f->children[0], arrs, n, 0, s, e, &o->children[0], depth, err))) goto fail;
    }
    break;
  }
  case ST_L_FIXLIST: case ST_L_STRUCT: {
    int64_t sz = l == ST_L_FIXLIST ? f->byte_width : 1;
    int nc = l == ST_L_FIXLIST ? 1 : f->n_children;
    if (!(s = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1))) || !(e = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1))))
      goto oom;
    for (int i = 0; i < n; i++) {
      s[i] = arrs[i]->offset * sz;
      e[i] = (arrs[i]->offset + arrs[i]->length) * sz;
    }
    if (nc && !(o->children = calloc((size_t)nc, sizeof(st_array *)))) goto oom;
    o->n_children = nc;
    for (int c = 0; c < nc; c++)
      if ((rc = concat_child_ranges(&f->children[c], arrs, n, c, s, e, &o->children[c], depth, err))) goto fail;
    break;
  }
  default: break;
  }
  free(s);
  free(e);
  *out = o;
  return ST_OK;
oom:
  rc = NOMEM("concat");
fail:
  free(s);
  free(e);
  st_array_free(o);
  return rc;
}

int st_array_concat(const st_field *f, st_array *const *arrays, int n, st_array **out, st_error *err) {
  *out = NULL;
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "concat: negative count");
  return concat_rec(f, arrays, n, out, 0, err);
}

int st_table_concat(st_table *const *tables, int n, st_table **out, st_error *err) {
  *out = NULL;
  ST_CHECK(n >= 1, err, ST_ERR_INVALID, "concat: no tables");
  const st_table *t0 = tables[0];
  for (int i = 1; i < n; i++)
    ST_CHECK(st_field_equal(&t0->schema, &tables[i]->schema), err, ST_ERR_SCHEMA,
             "concat: table %d has a different schema than table 0", i);
  int nc = t0->n_columns;
  st_array **cols = calloc((size_t)(nc ? nc : 1), sizeof(st_array *));
  st_array **parts = calloc((size_t)(n > 0 ? n : 1), sizeof(st_array *));
  if (!cols || !parts) {
    free(cols);
    free(parts);
    return NOMEM("concat");
  }
  int64_t rows = 0;
  for (int i = 0; i < n; i++) rows += tables[i]->n_rows;
  int rc = ST_OK;
  for (int c = 0; c < nc && !rc; c++) {
    for (int i = 0; i < n; i++) parts[i] = tables[i]->columns[c];
    rc = concat_rec(&t0->schema.children[c], parts, n, &cols[c], 0, err);
    if (rc) {
      st_error_prefix(err, "column '%s': ", t0->schema.children[c].name ? t0->schema.children[c].name : "");
      for (int j = 0; j < c; j++) st_array_free(cols[j]);
    }
  }
  free(parts);
  if (!rc) rc = st_table_new(t0->schema.children, cols, nc, rows, &t0->schema, out, err);
  free(cols);
  return rc;
}
