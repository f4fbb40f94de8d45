/*
** This file implements pqscan, the skytile side of the Parquet read benchmark
** (bench/bench_parquet_read.py).
**
**   pqscan FILE REPS [dict]
**
** Each repetition opens FILE with st_pq_open (default options: dictionaries
** materialised, like pyarrow's read_table; with "dict", keep_dictionary so
** dictionary-encoded string columns arrive as indices + dictionary), reads every row group with every
** column through st_pq_read, one row group at a time (a scan: the table of a
** row group is freed before the next is read), and "touches" every value so
** the decode cannot be skipped:
**   integers, dates, times, timestamps  wrapping uint64 sum of the values
**   float, double                        double sum of the values
**   bool                                 count of true values
**   string, binary                       total byte length (from the offsets;
**                                        with a dictionary, via the entries' lengths)
**   fixed binary                         sum of the first byte of each value
** Null slots are skipped and counted.  The checksums of the last repetition
** are printed so the driver can check them against pyarrow; the times are the
** wall-clock (CLOCK_MONOTONIC) and CPU (CLOCK_PROCESS_CPUTIME_ID) times of the
** fastest repetition, open included.
**
** Output (one line each, whitespace separated):
**   rows N
**   best_s SECONDS                 (wall clock)
**   best_cpu_s SECONDS             (CPU time of the process, fastest run)
**   col NAME KIND NULLS VALUE      (KIND: u64 | f64 | bytes | true)
**
** Exit status 0 on success, 1 with "pqscan: message" on stderr otherwise.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skytile.h"

typedef struct scan_sum {
  uint64_t u;              /* wrapping sum of integer values                 */
  double f;                /* sum of float values                            */
  int64_t nulls;           /* null slots seen                                */
  char kind;               /* 'u', 'f', 'b' (bytes), 't' (true count)        */
} scan_sum;

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
** The touch loops are written so that gcc vectorises them (no per-value
** branch or switch): a null slot contributes 0 through a mask built from its
** validity bit, and null counts come from a popcount of the bitmap.  Doubles
** are summed in 4 independent accumulators.  pqscan's own cost is part of the
** measured time, so it must stay small next to the decode.
*/

/* Set bits of x (SWAR: no popcnt instruction is assumed, no libgcc call). */
static inline uint64_t popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (x * 0x0101010101010101ull) >> 56;
}

/* Set bits of (a[k] & b[k]) over nb bytes (b NULL: of a[k]), 8 bytes at a time. */
static int64_t popcount_bytes(const uint8_t *a, const uint8_t *b, int64_t nb) {
  int64_t c = 0, k = 0;
  for (; k + 8 <= nb; k += 8) {
    uint64_t x, y = ~0ull;
    memcpy(&x, a + k, 8);
    if (b) memcpy(&y, b + k, 8);
    c += (int64_t)popcount64(x & y);
  }
  for (; k < nb; k++) c += (int64_t)popcount64((uint64_t)(a[k] & (b ? b[k] : 0xff)));
  return c;
}

/* Number of set bits in bits[off .. off+n). */
static int64_t count_set(const uint8_t *bits, int64_t off, int64_t n) {
  int64_t c = 0, i = 0;
  for (; i < n && ((off + i) & 7); i++) c += (bits[(off + i) >> 3] >> ((off + i) & 7)) & 1;
  int64_t nb = (n - i) >> 3;
  c += popcount_bytes(bits + ((off + i) >> 3), NULL, nb);
  for (i += nb * 8; i < n; i++) c += (bits[(off + i) >> 3] >> ((off + i) & 7)) & 1;
  return c;
}

#define VALID_MASK(bits, j) (-(uint64_t)(((bits)[(j) >> 3] >> ((j) & 7)) & 1))

/* Wrapping sum of n values of type T (widened by CAST) at v + off; nulls skipped and counted. */
#define DEFINE_SUM(NAME, T, CAST)                                                          \
  static uint64_t NAME(const st_array *a, int64_t *nulls) {                                \
    const T *v = (const T *)(const void *)a->buf[1] + a->offset;                           \
    const uint8_t *bits = a->buf[0];                                                       \
    int64_t n = a->length, off = a->offset;                                                \
    uint64_t s = 0;                                                                        \
    if (!bits) {                                                                           \
      for (int64_t i = 0; i < n; i++) s += (uint64_t)(CAST)v[i];                           \
      return s;                                                                            \
    }                                                                                      \
    for (int64_t i = 0; i < n; i++) s += (uint64_t)(CAST)v[i] & VALID_MASK(bits, off + i); \
    *nulls += n - count_set(bits, off, n);                                                 \
    return s;                                                                              \
  }
DEFINE_SUM(sum_i8, int8_t, int64_t)
DEFINE_SUM(sum_u8, uint8_t, uint64_t)
DEFINE_SUM(sum_i16, int16_t, int64_t)
DEFINE_SUM(sum_u16, uint16_t, uint64_t)
DEFINE_SUM(sum_i32, int32_t, int64_t)
DEFINE_SUM(sum_u32, uint32_t, uint64_t)
DEFINE_SUM(sum_u64, uint64_t, uint64_t)

/* Sum of n doubles (T = double or float) with nulls as 0. */
#define DEFINE_FSUM(NAME, T)                                                  \
  static double NAME(const st_array *a, int64_t *nulls) {                     \
    const T *v = (const T *)(const void *)a->buf[1] + a->offset;              \
    const uint8_t *bits = a->buf[0];                                          \
    int64_t n = a->length, off = a->offset, i = 0;                            \
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                    \
    if (!bits) {                                                              \
      for (; i + 4 <= n; i += 4) {                                            \
        s0 += v[i];                                                           \
        s1 += v[i + 1];                                                       \
        s2 += v[i + 2];                                                       \
        s3 += v[i + 3];                                                       \
      }                                                                       \
      for (; i < n; i++) s0 += v[i];                                          \
    } else {                                                                  \
      for (; i < n; i++) {                                                    \
        int64_t j = off + i;                                                  \
        double x = ((bits[j >> 3] >> (j & 7)) & 1) ? (double)v[i] : 0.0;     \
        if (i & 1) s1 += x;                                                   \
        else s0 += x;                                                         \
      }                                                                       \
      *nulls += n - count_set(bits, off, n);                                  \
    }                                                                         \
    return (s0 + s1) + (s2 + s3);                                             \
  }
DEFINE_FSUM(sum_f64, double)
DEFINE_FSUM(sum_f32, float)

/* Count of true values among the valid slots. */
static uint64_t count_true(const st_array *a, int64_t *nulls) {
  const uint8_t *val = a->buf[1], *bits = a->buf[0];
  int64_t n = a->length, off = a->offset;
  if (!bits) return (uint64_t)count_set(val, off, n);
  uint64_t c = 0;
  int64_t i = 0;
  for (; i < n && ((off + i) & 7); i++) {
    int64_t j = off + i;
    c += (val[j >> 3] >> (j & 7)) & (bits[j >> 3] >> (j & 7)) & 1;
  }
  int64_t b0 = (off + i) >> 3, nb = (n - i) >> 3;
  c += (uint64_t)popcount_bytes(val + b0, bits + b0, nb);
  for (i += nb * 8; i < n; i++) {
    int64_t j = off + i;
    c += (val[j >> 3] >> (j & 7)) & (bits[j >> 3] >> (j & 7)) & 1;
  }
  *nulls += n - count_set(bits, off, n);
  return c;
}

/* Total byte length of the valid values of a string/binary array (offsets type T). */
#define DEFINE_BYTES(NAME, T)                                                    \
  static uint64_t NAME(const st_array *a, int64_t *nulls) {                      \
    const T *o = (const T *)(const void *)a->buf[1] + a->offset;                 \
    const uint8_t *bits = a->buf[0];                                             \
    int64_t n = a->length, off = a->offset;                                      \
    if (!bits) return (uint64_t)(o[n] - o[0]);                                   \
    uint64_t s = 0;                                                              \
    for (int64_t i = 0; i < n; i++)                                              \
      s += (uint64_t)(int64_t)(o[i + 1] - o[i]) & VALID_MASK(bits, off + i);     \
    *nulls += n - count_set(bits, off, n);                                       \
    return s;                                                                    \
  }
DEFINE_BYTES(sum_bytes32, int32_t)
DEFINE_BYTES(sum_bytes64, int64_t)

/*
** A dictionary-encoded string/binary column (keep_dictionary): the length of
** each dictionary entry is computed once, then summed per valid index -- the
** same per-row work as DuckDB's strlen over a dictionary vector.
*/
static void touch_dict(const st_field *f, const st_array *a, scan_sum *cs) {
  const st_array *d = a->dictionary;
  const int32_t *idx = (const int32_t *)(const void *)a->buf[1] + a->offset;
  const uint8_t *bits = a->buf[0];
  int64_t n = a->length, nd = d->length, off = a->offset;
  if (f->type != ST_T_STRING && f->type != ST_T_BINARY) {  /* not produced today */
    cs->kind = 'u';
    cs->u += sum_i32(a, &cs->nulls);
    return;
  }
  cs->kind = 'b';
  uint64_t *len = malloc(sizeof(uint64_t) * (size_t)(nd > 0 ? nd : 1));
  if (!len) {
    fprintf(stderr, "pqscan: out of memory\n");
    exit(1);
  }
  const int32_t *o = (const int32_t *)(const void *)d->buf[1] + d->offset;
  for (int64_t k = 0; k < nd; k++) len[k] = (uint64_t)(o[k + 1] - o[k]);
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad |= (uint32_t)idx[i] >= (uint32_t)nd;
  if (bad) {  /* a null slot may hold any index; check the valid ones */
    for (int64_t i = 0; i < n; i++)
      if ((!bits || ((bits[(off + i) >> 3] >> ((off + i) & 7)) & 1)) && (uint32_t)idx[i] >= (uint32_t)nd) {
        fprintf(stderr, "pqscan: dictionary index %d out of range [0, %lld)\n", idx[i], (long long)nd);
        exit(1);
      }
  }
  uint64_t s = 0;
  if (!bits) {
    for (int64_t i = 0; i < n; i++) s += len[idx[i]];
  } else {
    for (int64_t i = 0; i < n; i++) {
      int64_t j = off + i;
      if ((bits[j >> 3] >> (j & 7)) & 1) s += len[idx[i]];
    }
    cs->nulls += n - count_set(bits, off, n);
  }
  cs->u += s;
  free(len);
}

static void touch(const st_field *f, const st_array *a, scan_sum *cs) {
  int64_t n = a->length, off = a->offset;
  if (f->dict_encoded && a->dictionary) {  /* indices + dictionary (keep_dictionary) */
    touch_dict(f, a, cs);
    return;
  }
  switch (f->type) {
  case ST_T_DOUBLE: cs->kind = 'f'; cs->f += sum_f64(a, &cs->nulls); return;
  case ST_T_FLOAT: cs->kind = 'f'; cs->f += sum_f32(a, &cs->nulls); return;
  case ST_T_BOOL: cs->kind = 't'; cs->u += count_true(a, &cs->nulls); return;
  case ST_T_INT8: cs->kind = 'u'; cs->u += sum_i8(a, &cs->nulls); return;
  case ST_T_UINT8: cs->kind = 'u'; cs->u += sum_u8(a, &cs->nulls); return;
  case ST_T_INT16: cs->kind = 'u'; cs->u += sum_i16(a, &cs->nulls); return;
  case ST_T_UINT16: case ST_T_FLOAT16: cs->kind = 'u'; cs->u += sum_u16(a, &cs->nulls); return;
  case ST_T_INT32: case ST_T_DATE32: case ST_T_TIME32:
    cs->kind = 'u';
    cs->u += sum_i32(a, &cs->nulls);
    return;
  case ST_T_UINT32: cs->kind = 'u'; cs->u += sum_u32(a, &cs->nulls); return;
  case ST_T_INT64: case ST_T_UINT64: case ST_T_DATE64: case ST_T_TIME64: case ST_T_TIMESTAMP:
  case ST_T_DURATION:
    cs->kind = 'u';
    cs->u += sum_u64(a, &cs->nulls);
    return;
  case ST_T_STRING: case ST_T_BINARY: cs->kind = 'b'; cs->u += sum_bytes32(a, &cs->nulls); return;
  case ST_T_LARGE_STRING: case ST_T_LARGE_BINARY:
    cs->kind = 'b';
    cs->u += sum_bytes64(a, &cs->nulls);
    return;
  case ST_T_FIXED_BINARY: case ST_T_DECIMAL128: case ST_T_DECIMAL256: {
    cs->kind = 'u';
    int w = st_type_byte_width(f);
    for (int64_t i = 0; i < n; i++) {
      if (st_array_is_valid(a, i)) cs->u += a->buf[1][(off + i) * w];
      else cs->nulls++;
    }
    return;
  }
  default:  /* nested: count nulls only */
    cs->kind = 'u';
    for (int64_t i = 0; i < n; i++) cs->nulls += !st_array_is_valid(a, i);
    return;
  }
}

static int scan_once(const char *path, const st_pq_read_options *opt, scan_sum **sums, int *n_cols,
                     int64_t *rows, st_error *err) {
  st_pq_reader *r = NULL;
  int rc = st_pq_open(path, opt, &r, err);
  if (rc) return rc;
  const st_field *schema = st_pq_schema(r);
  int nc = schema->n_children;
  scan_sum *cs = calloc((size_t)(nc > 0 ? nc : 1), sizeof *cs);
  if (!cs) {
    st_pq_close(r);
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return ST_ERR_NOMEM;
  }
  int64_t total = 0;
  int ng = st_pq_num_row_groups(r);
  for (int g = 0; g < ng && !rc; g++) {
    st_table *t = NULL;
    rc = st_pq_read(r, &g, 1, NULL, 0, &t, err);
    if (rc) break;
    for (int c = 0; c < t->n_columns && c < nc; c++)
      touch(&t->schema.children[c], t->columns[c], &cs[c]);
    total += t->n_rows;
    st_table_free(t);
  }
  st_pq_close(r);
  if (rc) {
    free(cs);
    return rc;
  }
  free(*sums);
  *sums = cs;
  *n_cols = nc;
  *rows = total;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "dict"))) {
    fprintf(stderr, "usage: pqscan FILE REPS [dict]\n");
    return 2;
  }
  st_pq_read_options opt;
  st_pq_read_options_init(&opt);
  opt.keep_dictionary = argc == 4;
  int reps = atoi(argv[2]);
  if (reps < 1) reps = 1;
  st_error err;
  memset(&err, 0, sizeof err);
  scan_sum *sums = NULL;
  int nc = 0;
  int64_t rows = 0;
  double best = 1e300, best_cpu = 1e300;
  for (int k = 0; k < reps; k++) {
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int rc = scan_once(argv[1], &opt, &sums, &nc, &rows, &err);
    double dt = clock_s(CLOCK_MONOTONIC) - t0, dc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (dc < best_cpu) best_cpu = dc;
    if (rc) {
      fprintf(stderr, "pqscan: %s\n", err.msg[0] ? err.msg : st_code_name(rc));
      free(sums);
      return 1;
    }
    if (dt < best) best = dt;
  }
  /* Names from a fresh open (the schema is owned by the reader). */
  st_pq_reader *r = NULL;
  if (st_pq_open(argv[1], NULL, &r, &err)) {
    fprintf(stderr, "pqscan: %s\n", err.msg);
    free(sums);
    return 1;
  }
  const st_field *schema = st_pq_schema(r);
  printf("rows %lld\nbest_s %.9f\nbest_cpu_s %.9f\n", (long long)rows, best, best_cpu);
  for (int c = 0; c < nc; c++) {
    const scan_sum *s = &sums[c];
    const char *kind = s->kind == 'f' ? "f64" : s->kind == 'b' ? "bytes" : s->kind == 't' ? "true" : "u64";
    if (s->kind == 'f')
      printf("col %s %s %lld %.17g\n", schema->children[c].name, kind, (long long)s->nulls, s->f);
    else
      printf("col %s %s %lld %llu\n", schema->children[c].name, kind, (long long)s->nulls,
             (unsigned long long)s->u);
  }
  st_pq_close(r);
  free(sums);
  return 0;
}
