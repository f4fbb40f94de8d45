/*
** This file implements numeric access to columns: any integer or floating
** column (FLOAT16 included, dictionary-encoded or not) read as doubles, for
** the consumers that want plain numbers (plots, text output of half floats).
**
** A null slot, or a dictionary index outside the dictionary, reads as NaN.
** Integers wider than 53 bits lose precision, as any double conversion does.
*/
#include "table/table_int.h"

#include <math.h>

double st_half_to_double(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0) v = ldexp((double)m, -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = ldexp((double)(m + 1024), e - 25);
  return (h & 0x8000) ? -v : v;
}

bool st_type_is_numeric(st_type_id t) {
  return (t >= ST_T_INT8 && t <= ST_T_UINT64) || t == ST_T_FLOAT16 || t == ST_T_FLOAT ||
         t == ST_T_DOUBLE;
}

/* out[i] = values[j0 + i] as double, for n slots of a type-t values buffer. */
static void to_doubles(st_type_id t, const uint8_t *b, int64_t j0, int64_t n, double *out) {
  switch (t) {
#define CONV(T, C)                                                    \
  case T:                                                             \
    for (int64_t i = 0; i < n; i++) out[i] = (double)((const C *)b)[j0 + i]; \
    break;
    CONV(ST_T_INT8, int8_t)
    CONV(ST_T_INT16, int16_t)
    CONV(ST_T_INT32, int32_t)
    CONV(ST_T_INT64, int64_t)
    CONV(ST_T_UINT8, uint8_t)
    CONV(ST_T_UINT16, uint16_t)
    CONV(ST_T_UINT32, uint32_t)
    CONV(ST_T_UINT64, uint64_t)
    CONV(ST_T_FLOAT, float)
    CONV(ST_T_DOUBLE, double)
#undef CONV
  case ST_T_FLOAT16:
    for (int64_t i = 0; i < n; i++) out[i] = st_half_to_double(((const uint16_t *)b)[j0 + i]);
    break;
  default:
    for (int64_t i = 0; i < n; i++) out[i] = NAN;
  }
}

int st_table_column_doubles(const st_table *t, int col, int64_t row0, int64_t n, double *out,
                            st_error *err) {
  ST_CHECK(t && col >= 0 && col < t->schema.n_children, err, ST_ERR_INVALID,
           "column_doubles: no column %d", col);
  const st_field *f = &t->schema.children[col];
  const st_array *a = t->columns[col];
  if (!st_type_is_numeric(f->type)) {
    char ts[64];
    st_field_type_string(f, ts, sizeof ts);
    return st_fail(err, ST_ERR_SCHEMA, "column '%s' is %s, not numeric", f->name, ts);
  }
  ST_CHECK(row0 >= 0 && n >= 0 && row0 + n <= a->length, err, ST_ERR_INVALID,
           "column '%s': rows [%lld, %lld) outside its %lld rows", f->name, (long long)row0,
           (long long)(row0 + n), (long long)a->length);
  if (n == 0) return 0;
  if (f->dict_encoded) {
    const st_array *d = a->dictionary;
    ST_CHECK(d && a->buf[1] && (d->length == 0 || d->buf[1]), err, ST_ERR_CORRUPT,
             "column '%s': missing dictionary", f->name);
    const int32_t *ix = (const int32_t *)a->buf[1] + a->offset;
    for (int64_t i = 0; i < n; i++) {
      int64_t r = row0 + i;
      int32_t k = ix[r];
      if (!st_array_is_valid(a, r) || k < 0 || k >= d->length || !st_array_is_valid(d, k))
        out[i] = NAN;
      else
        to_doubles(f->type, d->buf[1], d->offset + k, 1, out + i);
    }
    return 0;
  }
  ST_CHECK(a->buf[1], err, ST_ERR_CORRUPT, "column '%s': no values buffer", f->name);
  to_doubles(f->type, a->buf[1], a->offset + row0, n, out);
  if (a->buf[0] && a->null_count != 0)
    for (int64_t i = 0; i < n; i++)
      if (!st_array_is_valid(a, row0 + i)) out[i] = NAN;
  return 0;
}
