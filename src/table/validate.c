/*
** This file implements st_array_validate / st_table_validate: full
** structural validation of arrays against their fields.
**
** Checks, in order, for each array node (then recursively for children and
** the dictionary, at most ST_TAB_MAX_DEPTH deep):
**   1. length, offset, null_count ranges; offset+length does not overflow
**   2. buffer count for the layout; child count matches the field and type
**   3. every buffer extent needed by [0, offset+length) fits its st_mem block
**      (only when buf[i] lies inside mem[i]'s data..data+size; blocks of
**      imported Arrow data carry no size and are trusted), before any read
**   4. offsets: first >= 0, non-decreasing, last within data / child length
**   5. fixed lists and structs: child lengths cover offset+length slots
**   6. null_count equals the bitmap's count; no nulls without a bitmap
**   7. dictionary indices of valid slots within the dictionary; map keys of
**      the referenced entries not null; decimal precision, time units
** Errors are ST_ERR_CORRUPT, naming the column path ("col.item.x") and
** the slot.
*/
#include "table/table_int.h"

#include <stdio.h>
#include <string.h>

#define BAD(...) return st_fail(err, ST_ERR_CORRUPT, __VA_ARGS__)

/* True when bytes [buf, buf+need) are known to be inside the block, or unknown. */
static bool extent_ok(const st_array *a, int i, uint64_t need) {
  const st_mem *m = a->mem[i];
  if (!m || !m->data || !a->buf[i]) return true;
  const uint8_t *b = a->buf[i];
  if (b < m->data || b > m->data + m->size) return true;
  return need <= (uint64_t)(m->data + m->size - b);
}

/* Bytes available at buf[i], or UINT64_MAX when unknown. */
static uint64_t extent_of(const st_array *a, int i) {
  const st_mem *m = a->mem[i];
  if (!m || !m->data || !a->buf[i]) return UINT64_MAX;
  const uint8_t *b = a->buf[i];
  if (b < m->data || b > m->data + m->size) return UINT64_MAX;
  return (uint64_t)(m->data + m->size - b);
}

static int validate_rec(const st_field *f, const st_array *a, const char *path, int depth, st_error *err) {
  if (depth > ST_TAB_MAX_DEPTH) BAD("%s: nesting deeper than %d", path, ST_TAB_MAX_DEPTH);
  if (!a) BAD("%s: missing array", path);
  if (a->length < 0 || a->offset < 0 || a->length > INT64_MAX - a->offset - 1)
    BAD("%s: bad length %lld / offset %lld", path, (long long)a->length, (long long)a->offset);
  if (a->null_count < -1 || a->null_count > a->length)
    BAD("%s: null count %lld outside [0, %lld]", path, (long long)a->null_count, (long long)a->length);
  st_layout l = st_tab_layout(f);
  int nb = st_tab_n_buffers(l);
  int nc = (l == ST_L_LIST32 || l == ST_L_LIST64 || l == ST_L_FIXLIST) ? 1 : l == ST_L_STRUCT ? f->n_children : 0;
  if (a->n_buffers != nb) BAD("%s: %d buffers, type %s needs %d", path, a->n_buffers, st_type_name(f->type), nb);
  if (a->n_children != nc || f->n_children < nc || (nc > 0 && !a->children))
    BAD("%s: %d child arrays, type %s needs %d", path, a->n_children, st_type_name(f->type), nc);
  if (f->dict_encoded != (a->dictionary != NULL))
    BAD("%s: dictionary %s", path, f->dict_encoded ? "missing" : "present on a plain column");
  if (f->type == ST_T_MAP) {
    const st_field *e = f->n_children == 1 ? &f->children[0] : NULL;
    if (!e || e->type != ST_T_STRUCT || e->n_children != 2) BAD("%s: map entries are not a struct{key, value}", path);
  }
  if ((f->type == ST_T_DECIMAL128 && (f->precision < 1 || f->precision > 38)) ||
      (f->type == ST_T_DECIMAL256 && (f->precision < 1 || f->precision > 76)))
    BAD("%s: decimal precision %d out of range", path, (int)f->precision);
  if ((f->type == ST_T_TIME32 && f->unit > ST_MILLI) || (f->type == ST_T_TIME64 && f->unit < ST_MICRO))
    BAD("%s: %s with unit %d", path, st_type_name(f->type), (int)f->unit);
  if ((f->type == ST_T_FIXED_BINARY || f->type == ST_T_FIXED_LIST) && f->byte_width < 0)
    BAD("%s: %s width %d", path, st_type_name(f->type), (int)f->byte_width);
  if (l == ST_L_NULL) return ST_OK;

  int64_t end = a->offset + a->length; /* slots [0, end) of the buffers are addressed */
  uint64_t bits_bytes = (uint64_t)(end + 7) / 8;
  /* 6. validity */
  if (a->buf[0]) {
    if (!extent_ok(a, 0, bits_bytes)) BAD("%s: validity bitmap shorter than %llu bytes", path, (unsigned long long)bits_bytes);
    int64_t nulls = a->length - st_tab_bits_count(a->buf[0], a->offset, a->length);
    if (a->null_count >= 0 && a->null_count != nulls)
      BAD("%s: null count %lld but the bitmap has %lld nulls", path, (long long)a->null_count, (long long)nulls);
  } else if (a->null_count > 0) {
    BAD("%s: %lld nulls but no validity bitmap", path, (long long)a->null_count);
  }
  if (a->length > 0 && nb > 1 && !a->buf[1]) BAD("%s: value buffer missing", path);

  char sub[512];
  switch (l) {
  case ST_L_BOOL:
    if (a->length > 0 && !extent_ok(a, 1, bits_bytes)) BAD("%s: bool values shorter than %llu bytes", path, (unsigned long long)bits_bytes);
    break;
  case ST_L_FIXED: {
    uint64_t w = (uint64_t)st_tab_width(f);
    if (a->length > 0 && !extent_ok(a, 1, (uint64_t)end * w))
      BAD("%s: value buffer shorter than %lld values of %d bytes", path, (long long)end, (int)w);
    if (f->dict_encoded) {
      snprintf(sub, sizeof sub, "%s.<dictionary>", path);
      st_field vf = *f;
      vf.dict_encoded = false;
      ST_TRY(validate_rec(&vf, a->dictionary, sub, depth + 1, err));
      const int32_t *ix = (const int32_t *)a->buf[1];
      int64_t dl = a->dictionary->length;
      for (int64_t i = 0; i < a->length; i++) {
        int32_t v = a->length ? ix[a->offset + i] : 0;
        if ((v < 0 || v >= dl) && st_array_is_valid(a, i))
          BAD("%s: row %lld: dictionary index %d outside dictionary of %lld", path, (long long)i, (int)v, (long long)dl);
      }
    }
    break;
  }
  case ST_L_VAR32: case ST_L_VAR64: case ST_L_LIST32: case ST_L_LIST64: {
    bool wide = l == ST_L_VAR64 || l == ST_L_LIST64;
    bool var = l == ST_L_VAR32 || l == ST_L_VAR64;
    if (a->length == 0 && !a->buf[1]) break;
    if (!a->buf[1]) BAD("%s: offsets buffer missing", path);
    if (!extent_ok(a, 1, (uint64_t)(end + 1) * (wide ? 8 : 4)))
      BAD("%s: offsets buffer shorter than %lld entries", path, (long long)(end + 1));
    int64_t prev = st_tab_off(a, wide, 0);
    if (prev < 0) BAD("%s: negative first offset %lld", path, (long long)prev);
    for (int64_t i = 1; i <= a->length; i++) {
      int64_t v = st_tab_off(a, wide, i);
      if (v < prev) BAD("%s: offsets decrease at row %lld (%lld < %lld)", path, (long long)i - 1, (long long)v, (long long)prev);
      prev = v;
    }
    int64_t last = prev, first = st_tab_off(a, wide, 0);
    if (var) {
      uint64_t ext = extent_of(a, 2);
      if (last > first && !a->buf[2]) BAD("%s: data buffer missing", path);
      if (ext != UINT64_MAX && (uint64_t)last > ext)
        BAD("%s: last offset %lld beyond data of %llu bytes", path, (long long)last, (unsigned long long)ext);
    } else {
      const st_array *c = a->children[0];
      if (!c) BAD("%s: child array missing", path);
      if (last > c->length) BAD("%s: last offset %lld beyond child of length %lld", path, (long long)last, (long long)c->length);
      snprintf(sub, sizeof sub, "%s.%s", path, f->children[0].name ? f->children[0].name : "item");
      ST_TRY(validate_rec(&f->children[0], c, sub, depth + 1, err));
      if (f->type == ST_T_MAP && last > first) {
        const st_array *k = c->children[0];
        int64_t ks = c->offset + first;
        if (k->buf[0] && st_tab_bits_count(k->buf[0], k->offset + ks, last - first) != last - first)
          BAD("%s: map has null keys", path);
      }
    }
    break;
  }
  case ST_L_FIXLIST: {
    int64_t need;
    if (__builtin_mul_overflow(end, (int64_t)f->byte_width, &need)) BAD("%s: fixed list size overflow", path);
    const st_array *c = a->children[0];
    if (!c) BAD("%s: child array missing", path);
    if (c->length < need) BAD("%s: child length %lld < %lld", path, (long long)c->length, (long long)need);
    snprintf(sub, sizeof sub, "%s.%s", path, f->children[0].name ? f->children[0].name : "item");
    ST_TRY(validate_rec(&f->children[0], c, sub, depth + 1, err));
    break;
  }
  case ST_L_STRUCT:
    for (int i = 0; i < nc; i++) {
      const st_array *c = a->children[i];
      snprintf(sub, sizeof sub, "%s.%s", path, f->children[i].name ? f->children[i].name : "");
      if (!c) BAD("%s: child array missing", sub);
      if (c->length < end) BAD("%s: length %lld < parent offset+length %lld", sub, (long long)c->length, (long long)end);
      ST_TRY(validate_rec(&f->children[i], c, sub, depth + 1, err));
    }
    break;
  default: break;
  }
  return ST_OK;
}

int st_array_validate(const st_field *f, const st_array *a, st_error *err) {
  return validate_rec(f, a, f->name && f->name[0] ? f->name : "<array>", 0, err);
}

int st_table_validate(const st_table *t, st_error *err) {
  ST_CHECK(t->n_columns == t->schema.n_children && t->n_rows >= 0, err, ST_ERR_CORRUPT,
           "table: %d columns but %d fields", t->n_columns, t->schema.n_children);
  for (int i = 0; i < t->n_columns; i++) {
    const st_field *f = &t->schema.children[i];
    const char *nm = f->name ? f->name : "";
    ST_CHECK(t->columns[i], err, ST_ERR_CORRUPT, "table: column '%s' missing", nm);
    ST_CHECK(t->columns[i]->length == t->n_rows, err, ST_ERR_CORRUPT,
             "table: column '%s' has %lld rows, the table %lld", nm, (long long)t->columns[i]->length,
             (long long)t->n_rows);
    ST_TRY(st_array_validate(f, t->columns[i], err));
  }
  return ST_OK;
}
