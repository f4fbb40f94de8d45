/*
** This file implements the run walk shared by every reader of the RLE /
** bit-packed hybrid encoding (levels, dictionary indices, gathers of chosen
** values): one run header at a time, with the bounds checks in one place.
**
** A stream is a sequence of runs; each starts with a ULEB128 header h:
**   h & 1 == 1  bit-packed: (h >> 1) groups of 8 values, w bits each, LSB
**               first; the last run of a stream may be cut short, so only the
**               values still wanted (`left`) must be present in full;
**   h & 1 == 0  repeated: (h >> 1) copies of one value stored in
**               ceil(w / 8) little-endian bytes.
** A header with a zero count is an empty run (skipped by the caller).
*/
#ifndef ST_PARQUET_RLE_RUN_H
#define ST_PARQUET_RLE_RUN_H

#include <stdbool.h>

#include "parquet/encodings/bitpack.h"
#include "util/err.h"

typedef struct st_rle_run {
  bool packed;          /* bit-packed run (else repeated)                     */
  const uint8_t *bits;  /* packed: first byte of the values                   */
  size_t avail;         /* packed: bytes readable from bits (to stream end)   */
  uint32_t value;       /* repeated: the value (not checked against w)        */
  int64_t count;        /* values of this run to use: <= left; 0 = empty run   */
} st_rle_run;

/*
** Read the run at *p (data..end is the whole stream, for messages) for at
** most `left` more values, and advance *p past it.  The caller checks *p < end
** first (what an exhausted stream means differs per caller).
*/
static inline __attribute__((always_inline)) int
st_rle_next_run(const uint8_t **p, const uint8_t *data, const uint8_t *end, int w, int64_t left,
                st_rle_run *r, st_error *err) {
  *r = (st_rle_run){0};
  uint64_t h;
  ST_SAFETY(st_uleb_read(p, end, &h) == 0, err, "RLE: bad run header at byte %lld",
            (long long)(*p - data));
  uint64_t cnt = h >> 1;
  size_t avail = (size_t)(end - *p);
  r->packed = h & 1;
  if (cnt == 0) {
    r->count = 0;
    return ST_OK;
  }
  if (r->packed) {
    int64_t need = cnt > (uint64_t)left / 8 + 1 ? left : (int64_t)(cnt * 8);
    if (need > left) need = left;
    uint64_t need_bytes = ((uint64_t)need * (uint64_t)w + 7) / 8;
    ST_SAFETY(need_bytes <= avail, err,
              "RLE: bit-packed run of %llu values needs %llu bytes, %zu left",
              (unsigned long long)cnt * 8, (unsigned long long)need_bytes, avail);
    r->bits = *p;
    r->avail = avail;
    r->count = need;
    /* full run length, clamped to the input (a short last run is tolerated) */
    uint64_t run_bytes = (w && cnt > avail) ? (uint64_t)avail + 1 : cnt * (uint64_t)w;
    *p += run_bytes < avail ? (size_t)run_bytes : avail;
  } else {
    int vbytes = (w + 7) / 8;
    ST_SAFETY((size_t)vbytes <= avail, err, "RLE: run value needs %d bytes, %zu left", vbytes,
              avail);
    uint32_t v = 0;
    for (int b = 0; b < vbytes; b++) v |= (uint32_t)(*p)[b] << (8 * b);
    *p += vbytes;
    r->value = v;
    r->count = cnt < (uint64_t)left ? (int64_t)cnt : left;
  }
  return ST_OK;
}

#endif
