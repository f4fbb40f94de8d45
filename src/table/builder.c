/*
** This file implements st_builder: column-wise construction of primitive,
** boolean, string/binary and fixed-binary arrays.
**
** A builder holds up to three growable st_bufs in Arrow layout:
**   valid   validity bits (LSB first); created at the first null, back-filled
**           with ones for the slots appended before it
**   values  fixed-width values, or value bits for BOOL, or the offsets
**           (int32 / int64, length+1 entries, first entry 0) for var-width
**   data    the bytes of string/binary values
** Growth is amortised (st_buf doubles), so appending costs O(bytes) and there
** is no allocation per value.  st_builder_finish detaches the buffers into
** st_mem blocks (no copy) and leaves the builder empty and reusable.
** Invariants: valid.len == ceil(length/8) when valid is in use; for BOOL,
** values.len == ceil(length/8); for var-width, offsets hold length+1 entries.
*/
#include "table/table_int.h"

#include <stdlib.h>
#include <string.h>

struct st_builder {
  st_field f;          /* the column's field (copy)                        */
  st_layout l;         /* ST_L_BOOL, ST_L_FIXED, ST_L_VAR32 or ST_L_VAR64  */
  int width;           /* value bytes for ST_L_FIXED                       */
  int64_t length;      /* slots appended                                   */
  int64_t null_count;  /* nulls appended                                   */
  bool has_valid;      /* validity bitmap in use                           */
  st_buf valid;        /* validity bits                                    */
  st_buf values;       /* values / bits / offsets                          */
  st_buf data;         /* var-width bytes                                  */
};

static int b_reset(st_builder *b, st_error *err) {
  b->length = b->null_count = 0;
  b->has_valid = false;
  st_buf_free(&b->valid);
  st_buf_free(&b->values);
  st_buf_free(&b->data);
  if (b->l == ST_L_VAR32) {
    int32_t z = 0;
    return st_buf_append(&b->values, &z, 4, err);
  }
  if (b->l == ST_L_VAR64) {
    int64_t z = 0;
    return st_buf_append(&b->values, &z, 8, err);
  }
  return ST_OK;
}

int st_builder_new(const st_field *f, st_builder **out, st_error *err) {
  *out = NULL;
  st_layout l = st_tab_layout(f);
  ST_CHECK(!f->dict_encoded && (l == ST_L_BOOL || l == ST_L_FIXED || l == ST_L_VAR32 || l == ST_L_VAR64), err,
           ST_ERR_UNSUPPORTED, "builder: type %s not supported", st_type_name(f->type));
  ST_CHECK(l != ST_L_FIXED || st_tab_width(f) > 0, err, ST_ERR_INVALID, "builder: %s with byte width %d",
           st_type_name(f->type), (int)f->byte_width);
  st_builder *b = calloc(1, sizeof *b);
  if (!b) return st_fail(err, ST_ERR_NOMEM, "builder: out of memory");
  if (st_field_copy(&b->f, f)) {
    free(b);
    return st_fail(err, ST_ERR_NOMEM, "builder: out of memory");
  }
  b->l = l;
  b->width = st_tab_width(f);
  int rc = b_reset(b, err);
  if (rc) {
    st_builder_free(b);
    return rc;
  }
  *out = b;
  return ST_OK;
}

void st_builder_free(st_builder *b) {
  if (!b) return;
  st_field_clear(&b->f);
  st_buf_free(&b->valid);
  st_buf_free(&b->values);
  st_buf_free(&b->data);
  free(b);
}

int64_t st_builder_length(const st_builder *b) { return b->length; }

static size_t bytes_for_bits(int64_t n) { return (size_t)((n + 7) >> 3); }

/* Grow a bit buffer so it covers `bits` bits; new bytes zeroed. */
static int bits_grow(st_buf *bb, int64_t bits, st_error *err) {
  size_t need = bytes_for_bits(bits);
  if (need <= bb->len) return ST_OK;
  ST_TRY(st_buf_reserve(bb, need - bb->len, err));
  memset(bb->data + bb->len, 0, need - bb->len);
  bb->len = need;
  return ST_OK;
}

static int ensure_valid(st_builder *b, st_error *err) {
  if (b->has_valid) return ST_OK;
  ST_TRY(bits_grow(&b->valid, b->length, err));
  st_tab_bits_fill(b->valid.data, 0, b->length, true);
  b->has_valid = true;
  return ST_OK;
}

/* Record validity for n new slots starting at b->length (before length is advanced). */
static int put_valid(st_builder *b, const uint8_t *valid, int64_t n, st_error *err) {
  int64_t nulls = 0;
  if (valid)
    for (int64_t i = 0; i < n; i++) nulls += valid[i] == 0;
  if (nulls > 0) ST_TRY(ensure_valid(b, err));
  if (!b->has_valid) return ST_OK;
  ST_TRY(bits_grow(&b->valid, b->length + n, err));
  if (!nulls) {
    st_tab_bits_fill(b->valid.data, b->length, n, true);
  } else {
    uint8_t *vb = b->valid.data;
    for (int64_t i = 0; i < n; i++) {
      if (valid[i]) st_bit_set(vb, b->length + i);
      else st_bit_clear(vb, b->length + i);
    }
  }
  b->null_count += nulls;
  return ST_OK;
}

int st_builder_reserve(st_builder *b, int64_t n, int64_t bytes, st_error *err) {
  ST_CHECK(n >= 0 && bytes >= 0, err, ST_ERR_INVALID, "builder: negative reservation");
  if (b->has_valid) ST_TRY(st_buf_reserve(&b->valid, bytes_for_bits(b->length + n) - b->valid.len, err));
  switch (b->l) {
  case ST_L_BOOL: return st_buf_reserve(&b->values, bytes_for_bits(b->length + n) - b->values.len, err);
  case ST_L_FIXED: return st_buf_reserve(&b->values, (size_t)n * (size_t)b->width, err);
  default:
    ST_TRY(st_buf_reserve(&b->values, (size_t)n * (b->l == ST_L_VAR32 ? 4 : 8), err));
    return st_buf_reserve(&b->data, (size_t)bytes, err);
  }
}

int st_builder_append_values(st_builder *b, const void *values, int64_t n, const uint8_t *valid, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "builder: negative count");
  ST_CHECK(b->l == ST_L_BOOL || b->l == ST_L_FIXED, err, ST_ERR_INVALID,
           "builder: append_values on a %s column (use append_strings)", st_type_name(b->f.type));
  if (!n) return ST_OK;
  ST_TRY(put_valid(b, valid, n, err));
  if (b->l == ST_L_BOOL) {
    ST_TRY(bits_grow(&b->values, b->length + n, err));
    const uint8_t *v = values;
    uint8_t *d = b->values.data;
    for (int64_t i = 0; i < n; i++) {
      int64_t j = b->length + i;
      d[j >> 3] = (uint8_t)((d[j >> 3] & ~(1u << (j & 7))) | ((unsigned)(v[i] != 0) << (j & 7)));
    }
  } else {
    ST_TRY(st_buf_append(&b->values, values, (size_t)n * (size_t)b->width, err));
  }
  b->length += n;
  return ST_OK;
}

int st_builder_append_nulls(st_builder *b, int64_t n, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "builder: negative count");
  if (!n) return ST_OK;
  ST_TRY(ensure_valid(b, err));
  ST_TRY(bits_grow(&b->valid, b->length + n, err));
  st_tab_bits_fill(b->valid.data, b->length, n, false);
  b->null_count += n;
  switch (b->l) {
  case ST_L_BOOL:
    ST_TRY(bits_grow(&b->values, b->length + n, err));
    st_tab_bits_fill(b->values.data, b->length, n, false);
    break;
  case ST_L_FIXED: {
    size_t nb = (size_t)n * (size_t)b->width;
    ST_TRY(st_buf_reserve(&b->values, nb, err));
    memset(b->values.data + b->values.len, 0, nb);
    b->values.len += nb;
    break;
  }
  case ST_L_VAR32: {
    ST_TRY(st_buf_reserve(&b->values, (size_t)n * 4, err));
    int32_t last;
    memcpy(&last, b->values.data + b->values.len - 4, 4);
    int32_t *o = (int32_t *)(b->values.data + b->values.len);
    for (int64_t i = 0; i < n; i++) o[i] = last;
    b->values.len += (size_t)n * 4;
    break;
  }
  default: {
    ST_TRY(st_buf_reserve(&b->values, (size_t)n * 8, err));
    int64_t last;
    memcpy(&last, b->values.data + b->values.len - 8, 8);
    int64_t *o = (int64_t *)(b->values.data + b->values.len);
    for (int64_t i = 0; i < n; i++) o[i] = last;
    b->values.len += (size_t)n * 8;
    break;
  }
  }
  b->length += n;
  return ST_OK;
}

int st_builder_append_strings(st_builder *b, const uint8_t *data, const int64_t *offsets, int64_t n,
                              const uint8_t *valid, st_error *err) {
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "builder: negative count");
  if (!n) return ST_OK;
  if (b->l == ST_L_FIXED && b->f.type == ST_T_FIXED_BINARY) {
    for (int64_t i = 0; i < n; i++)
      ST_CHECK(offsets[i + 1] - offsets[i] == b->width, err, ST_ERR_INVALID,
               "builder: value of %lld bytes for fixed_size_binary[%d]", (long long)(offsets[i + 1] - offsets[i]),
               b->width);
    ST_TRY(put_valid(b, valid, n, err));
    ST_TRY(st_buf_append(&b->values, data + offsets[0], (size_t)(offsets[n] - offsets[0]), err));
    b->length += n;
    return ST_OK;
  }
  ST_CHECK(b->l == ST_L_VAR32 || b->l == ST_L_VAR64, err, ST_ERR_INVALID,
           "builder: append_strings on a %s column", st_type_name(b->f.type));
  ST_CHECK(offsets[0] >= 0 && offsets[n] >= offsets[0], err, ST_ERR_INVALID, "builder: bad offsets");
  for (int64_t i = 0; i < n; i++)
    ST_CHECK(offsets[i + 1] >= offsets[i], err, ST_ERR_INVALID, "builder: offsets decrease at %lld", (long long)i);
  int64_t total = offsets[n] - offsets[0];
  int64_t base = (int64_t)b->data.len - offsets[0];
  if (b->l == ST_L_VAR32)
    ST_CHECK((int64_t)b->data.len + total <= INT32_MAX, err, ST_ERR_LIMIT,
             "builder: string column exceeds 2 GiB (use large_string)");
  size_t ow = b->l == ST_L_VAR32 ? 4 : 8;
  ST_TRY(st_buf_reserve(&b->values, (size_t)n * ow, err));
  ST_TRY(st_buf_append(&b->data, data + offsets[0], (size_t)total, err));
  ST_TRY(put_valid(b, valid, n, err));
  if (ow == 4) {
    int32_t *o = (int32_t *)(b->values.data + b->values.len);
    for (int64_t i = 0; i < n; i++) o[i] = (int32_t)(offsets[i + 1] + base);
  } else {
    int64_t *o = (int64_t *)(b->values.data + b->values.len);
    for (int64_t i = 0; i < n; i++) o[i] = offsets[i + 1] + base;
  }
  b->values.len += (size_t)n * ow;
  b->length += n;
  return ST_OK;
}

int st_builder_append_bytes(st_builder *b, const void *data, size_t len, st_error *err) {
  int64_t off[2] = {0, (int64_t)len};
  ST_CHECK(len <= (size_t)INT64_MAX / 2, err, ST_ERR_INVALID, "builder: value too large");
  return st_builder_append_strings(b, data ? data : (const void *)"", off, 1, NULL, err);
}

int st_builder_finish(st_builder *b, st_array **out, st_error *err) {
  *out = NULL;
  st_array *a = st_array_new();
  if (!a) return st_fail(err, ST_ERR_NOMEM, "builder: out of memory");
  a->length = b->length;
  a->null_count = b->null_count;
  a->n_buffers = st_tab_n_buffers(b->l);
  st_buf *bufs[3] = {b->has_valid ? &b->valid : NULL, &b->values, b->l == ST_L_VAR32 || b->l == ST_L_VAR64 ? &b->data : NULL};
  for (int i = 0; i < 3; i++) {
    if (!bufs[i]) continue;
    st_mem *m = st_buf_detach(bufs[i]);
    if (!m) {
      st_array_free(a);
      return st_fail(err, ST_ERR_NOMEM, "builder: out of memory");
    }
    a->mem[i] = m;
    a->buf[i] = m->data;
  }
  *out = a;
  return b_reset(b, err);
}
