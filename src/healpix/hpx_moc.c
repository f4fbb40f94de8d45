/*
** This file implements MOCs: sets of HEALPix cells held as sorted ranges of
** order-29 NESTED indices (st_moc in skytile/healpix.h).
**
** Canonical form (invariants every public function relies on and restores):
**   1. 0 <= r[0] < r[1] < r[2] < ... < r[2n-1] <= 12 * 4^29
**      (ranges half-open, disjoint and non-adjacent: hi_i < lo_{i+1});
**   2. n <= cap, and r has room for 2*cap int64.
** st_moc_add_range only appends; st_moc_normalize sorts and merges.
** Binary operations are linear merges of the two sorted range lists.
** A cell (order k, pixel p) is the range [p << 2(29-k), (p+1) << 2(29-k)).
*/
#include "healpix/hpx.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define NPIX29 (INT64_C(12) << 58)
#define SHIFT(k) (2 * (ST_HPX_MAX_ORDER - (k)))

void st_moc_init(st_moc *m, int order) {
  memset(m, 0, sizeof *m);
  m->max_ranges = INT64_C(1) << 22;
  m->order = order < 0 ? 0 : order > ST_HPX_MAX_ORDER ? ST_HPX_MAX_ORDER : order;
}

void st_moc_free(st_moc *m) {
  if (!m) return;
  free(m->r);
  m->r = NULL;
  m->n = m->cap = 0;
}

void st_moc_clear(st_moc *m) { m->n = 0; }

static int reserve(st_moc *m, int64_t need, st_error *err) {
  if (need <= m->cap) return 0;
  ST_CHECK(m->max_ranges <= 0 || need <= m->max_ranges, err, ST_ERR_LIMIT,
           "moc: more than %lld ranges needed (use a coarser order)",
           (long long)m->max_ranges);
  int64_t cap = m->cap ? m->cap : 16;
  while (cap < need) cap *= 2;
  if (m->max_ranges > 0 && cap > m->max_ranges) cap = m->max_ranges;
  size_t bytes;
  ST_CHECK(st_mul_ok((size_t)cap, 2 * sizeof(int64_t), &bytes), err, ST_ERR_NOMEM,
           "moc: %lld ranges overflow", (long long)cap);
  int64_t *r = realloc(m->r, bytes);
  ST_CHECK(r, err, ST_ERR_NOMEM, "moc: out of memory for %lld ranges", (long long)cap);
  m->r = r;
  m->cap = cap;
  return 0;
}

/* Append [lo, hi) assuming lo >= last hi (merges when touching). */
static int push(st_moc *m, int64_t lo, int64_t hi, st_error *err) {
  if (lo >= hi) return 0;
  if (m->n && m->r[2 * m->n - 1] >= lo) {
    if (hi > m->r[2 * m->n - 1]) m->r[2 * m->n - 1] = hi;
    return 0;
  }
  ST_TRY(reserve(m, m->n + 1, err));
  m->r[2 * m->n] = lo;
  m->r[2 * m->n + 1] = hi;
  m->n++;
  return 0;
}

int st_moc_add_range(st_moc *m, int64_t lo, int64_t hi, st_error *err) {
  ST_CHECK(lo >= 0 && lo <= hi && hi <= NPIX29, err, ST_ERR_INVALID,
           "moc: range [%lld, %lld) outside [0, 12*4^29)", (long long)lo, (long long)hi);
  if (lo == hi) return 0;
  ST_TRY(reserve(m, m->n + 1, err));
  m->r[2 * m->n] = lo;
  m->r[2 * m->n + 1] = hi;
  m->n++;
  return 0;
}

static int cmp_range(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void st_moc_normalize(st_moc *m) {
  if (m->n < 1) return;
  int is_sorted = 1;
  for (int64_t i = 1; i < m->n && is_sorted; i++)
    if (m->r[2 * i] <= m->r[2 * i - 1]) is_sorted = 0;
  if (is_sorted) return;
  qsort(m->r, (size_t)m->n, 2 * sizeof(int64_t), cmp_range);
  int64_t w = 0;
  for (int64_t i = 0; i < m->n; i++) {
    int64_t lo = m->r[2 * i], hi = m->r[2 * i + 1];
    if (w && m->r[2 * w - 1] >= lo) {
      if (hi > m->r[2 * w - 1]) m->r[2 * w - 1] = hi;
    } else {
      m->r[2 * w] = lo;
      m->r[2 * w + 1] = hi;
      w++;
    }
  }
  m->n = w;
}

int st_moc_copy(const st_moc *a, st_moc *out, st_error *err) {
  out->n = 0;
  ST_TRY(reserve(out, a->n, err));
  if (a->n) memcpy(out->r, a->r, (size_t)a->n * 2 * sizeof(int64_t));
  out->n = a->n;
  out->order = a->order;
  return 0;
}

int st_moc_union(const st_moc *a, const st_moc *b, st_moc *out, st_error *err) {
  out->n = 0;
  out->order = a->order > b->order ? a->order : b->order;
  int64_t i = 0, j = 0;
  while (i < a->n || j < b->n) {
    const int64_t *p;
    if (j >= b->n || (i < a->n && a->r[2 * i] <= b->r[2 * j])) p = &a->r[2 * i++];
    else p = &b->r[2 * j++];
    ST_TRY(push(out, p[0], p[1], err));
  }
  return 0;
}

int st_moc_intersection(const st_moc *a, const st_moc *b, st_moc *out, st_error *err) {
  out->n = 0;
  out->order = a->order > b->order ? a->order : b->order;
  int64_t i = 0, j = 0;
  while (i < a->n && j < b->n) {
    int64_t lo = a->r[2 * i] > b->r[2 * j] ? a->r[2 * i] : b->r[2 * j];
    int64_t hi = a->r[2 * i + 1] < b->r[2 * j + 1] ? a->r[2 * i + 1] : b->r[2 * j + 1];
    ST_TRY(push(out, lo, hi, err));
    if (a->r[2 * i + 1] < b->r[2 * j + 1]) i++;
    else j++;
  }
  return 0;
}

int st_moc_complement(const st_moc *a, st_moc *out, st_error *err) {
  out->n = 0;
  out->order = a->order;
  int64_t prev = 0;
  for (int64_t i = 0; i < a->n; i++) {
    ST_TRY(push(out, prev, a->r[2 * i], err));
    prev = a->r[2 * i + 1];
  }
  return push(out, prev, NPIX29, err);
}

int st_moc_degrade(const st_moc *a, int order, st_moc *out, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  ST_CHECK(order <= a->order, err, ST_ERR_INVALID,
           "moc: cannot degrade order %d to finer order %d", a->order, order);
  out->n = 0;
  out->order = order;
  int s = SHIFT(order);
  int64_t mask = (INT64_C(1) << s) - 1;
  for (int64_t i = 0; i < a->n; i++) {
    int64_t lo = a->r[2 * i] & ~mask, hi = (a->r[2 * i + 1] + mask) & ~mask;
    ST_TRY(push(out, lo, hi, err));
  }
  return 0;
}

int st_moc_upgrade(const st_moc *a, int order, st_moc *out, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  ST_CHECK(order >= a->order, err, ST_ERR_INVALID,
           "moc: cannot upgrade order %d to coarser order %d", a->order, order);
  ST_TRY(st_moc_copy(a, out, err));
  out->order = order;
  return 0;
}

bool st_moc_contains(const st_moc *m, int64_t h) {
  int64_t lo = 0, hi = m->n; /* first range with r.hi > h */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (m->r[2 * mid + 1] > h) hi = mid;
    else lo = mid + 1;
  }
  return lo < m->n && m->r[2 * lo] <= h;
}

bool st_moc_intersects_cell(const st_moc *m, int order, int64_t pix) {
  if (order < 0 || order > ST_HPX_MAX_ORDER || pix < 0 || pix >= st_hpx_npix(order)) return false;
  int64_t lo = pix << SHIFT(order), hi = (pix + 1) << SHIFT(order);
  int64_t a = 0, b = m->n; /* first range with r.hi > lo */
  while (a < b) {
    int64_t mid = a + (b - a) / 2;
    if (m->r[2 * mid + 1] > lo) b = mid;
    else a = mid + 1;
  }
  return a < m->n && m->r[2 * a] < hi;
}

bool st_moc_equal(const st_moc *a, const st_moc *b) {
  return a->n == b->n && (a->n == 0 || !memcmp(a->r, b->r, (size_t)a->n * 2 * sizeof(int64_t)));
}

int st_moc_from_cells(const int *orders, const int64_t *pix, int64_t n, st_moc *out,
                      st_error *err) {
  out->n = 0;
  out->order = 0;
  for (int64_t i = 0; i < n; i++) {
    int rc = st_hpx_check_pix(orders[i], pix[i], err);
    if (rc) {
      st_error_prefix(err, "moc cell %lld: ", (long long)i);
      return rc;
    }
    if (orders[i] > out->order) out->order = orders[i];
    int s = SHIFT(orders[i]);
    ST_TRY(st_moc_add_range(out, pix[i] << s, (pix[i] + 1) << s, err));
  }
  st_moc_normalize(out);
  return 0;
}

/* Writes (up to cap) the canonical cells of [lo, hi) after `count` cells;
** returns the new count. */
static int64_t decompose(int64_t lo, int64_t hi, int *orders, int64_t *pix,
                         int64_t cap, int64_t count) {
  while (lo < hi) {
    /* largest cell starting at lo, aligned, not beyond hi, not finer than needed */
    int k = 0;
    for (; k < ST_HPX_MAX_ORDER; k++) {
      int s = SHIFT(k);
      if ((lo & ((INT64_C(1) << s) - 1)) == 0 && lo + (INT64_C(1) << s) <= hi) break;
    }
    int s = SHIFT(k);
    if (count < cap && orders) {
      orders[count] = k;
      pix[count] = lo >> s;
    }
    count++;
    lo += INT64_C(1) << s;
  }
  return count;
}

int64_t st_moc_ncells(const st_moc *m) {
  int64_t c = 0;
  for (int64_t i = 0; i < m->n; i++) c = decompose(m->r[2 * i], m->r[2 * i + 1], NULL, NULL, 0, c);
  return c;
}

int st_moc_to_cells(const st_moc *m, int *orders, int64_t *pix, int64_t cap, int64_t *n,
                    st_error *err) {
  int64_t c = 0;
  for (int64_t i = 0; i < m->n; i++)
    c = decompose(m->r[2 * i], m->r[2 * i + 1], orders, pix, cap, c);
  *n = c;
  ST_CHECK(c <= cap, err, ST_ERR_LIMIT, "moc: %lld cells do not fit in %lld", (long long)c,
           (long long)cap);
  return 0;
}

int64_t st_moc_npix(const st_moc *m, int order) {
  if (order < 0 || order > ST_HPX_MAX_ORDER) return -1;
  int s = SHIFT(order);
  int64_t c = 0, prev_hi = -1;
  for (int64_t i = 0; i < m->n; i++) {
    int64_t lo = m->r[2 * i] >> s, hi = (m->r[2 * i + 1] + (INT64_C(1) << s) - 1) >> s;
    if (lo < prev_hi) lo = prev_hi; /* two ranges touching the same pixel */
    if (hi > lo) c += hi - lo;
    prev_hi = hi;
  }
  return c;
}

int st_moc_pixels(const st_moc *m, int order, int64_t *out, int64_t cap, int64_t *n,
                  st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  int s = SHIFT(order);
  int64_t c = 0, prev_hi = -1;
  for (int64_t i = 0; i < m->n; i++) {
    int64_t lo = m->r[2 * i] >> s, hi = (m->r[2 * i + 1] + (INT64_C(1) << s) - 1) >> s;
    if (lo < prev_hi) lo = prev_hi;
    if (hi <= lo) continue;
    for (int64_t p = lo; p < hi && c + (p - lo) < cap; p++) out[c + (p - lo)] = p;
    c += hi - lo;
    prev_hi = hi;
  }
  *n = c;
  ST_CHECK(c <= cap, err, ST_ERR_LIMIT, "moc: %lld pixels at order %d do not fit in %lld",
           (long long)c, order, (long long)cap);
  return 0;
}
