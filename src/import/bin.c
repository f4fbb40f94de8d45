/*
** This file implements st_bin (include/skytile/import.h): the binning stage
** of the import, which turns the histogram of rows per pixel at the mapping
** order h into the list of destination partitions, and the "alignment" that
** sends every pixel at the mapping order to its partition.  It reproduces
** hats.pixel_math.partition_stats (generate_alignment with use_lower_order,
** generate_incremental_alignment) and hats-import's constant-order mode and
** destination list (resume_plan.get_alignment_file) exactly.
**
** Data layout.  Per-order arrays are concatenated, order o starting at
** st_imp_level_off(o) = 4^(o+1) - 4 (orders 0..o-1 hold 12*(4^o-1)/3
** pixels):
**   sums  int64, orders 0..h-1: rows (or bytes) per pixel; order h is the
**         caller's histogram.  As in hats, only orders lowest..h are
**         filled; coarser orders stay 0 (this shows in incremental mode,
**         where an existing partition coarser than lowest_order counts 0
**         rows, and hats then fails its total check; so do we).
**   lvl   int8, orders lowest..H: the order of the partition a pixel
**         belongs to (-1: none yet / none).
**   mask  uint8, orders lowest..H (incremental only): 1 if the pixel
**         overlaps an existing partition.
**
** Algorithm (H = mapping order after the optional lowering):
**  1. validate; the largest value of the threshold histogram must be <=
**     threshold ("single pixel ... exceeds threshold" in hats).
**  2. sums bottom-up, order by order (each parent = sum of its 4 children);
**     order h-1 is summed in step 1's single pass over the histogram
**     (check + total + largest value + parent sums: the order-10
**     histogram is 100 MB, read once instead of four times).
**  3. lowering (hats-import use_lower_order): H = the smallest t in
**     (lowest, h] such that every order in [t, h] has all pixels under the
**     threshold.
**  4. top-down, o = lowest..H: a pixel whose parent belongs to a partition
**     inherits it; otherwise it starts a partition at its own order when
**       standard:   0 < sum <= threshold                           (hats
**                   _get_alignment: the first fitting ancestor wins)
**       drop/incr:  sum <= threshold and sum != max(children sums), and
**                   (incr) not overlapping an existing partition; at o = H:
**                   existing partition order if any, else sum > 0 (hats
**                   _get_alignment_dropping_siblings assigns the coarsest
**                   ancestor satisfying the condition: the same thing).
**  5. scan order H in index order: partitions are disjoint ranges, so they
**     appear sorted by first index (hats' breadth-first partition order);
**     a partition with 0 rows is dropped (hats keeps row_count > 0 only).
**  6. the partitions must hold all rows (hats' expected-total check).
**
** Constant mode: each non-empty pixel at order c is a partition.
*/
#include "import/import.h"

#include <stdlib.h>
#include <string.h>

typedef struct binctx {
  const st_bin_options *o;
  int h;                    /* histogram order                               */
  int lo;                   /* lowest order                                  */
  const int64_t *counts;    /* rows per pixel at h                           */
  const int64_t *thr_hist;  /* histogram the threshold applies to at h       */
  int64_t *rsums;           /* row sums, orders < h                          */
  int64_t *tsums;           /* threshold sums (== rsums unless bytes mode)   */
  int64_t thr_max;          /* largest value of thr_hist                     */
} binctx;

static const int64_t *rows_at(const binctx *c, int o) {
  return o == c->h ? c->counts : c->rsums + st_imp_level_off(o);
}
static const int64_t *thr_at(const binctx *c, int o) {
  return o == c->h ? c->thr_hist : c->tsums + st_imp_level_off(o);
}

/* Fill orders lo..top of sums (top <= h - 1) from hist (order h) and the
** orders above top already filled. */
static void nested_sums(const int64_t *hist, int h, int top, int lo, int64_t *sums) {
  for (int o = top; o >= lo; o--) {
    const int64_t *child = (o == h - 1) ? hist : sums + st_imp_level_off(o + 1);
    int64_t *par = sums + st_imp_level_off(o);
    int64_t n = st_hpx_npix(o);
    for (int64_t p = 0; p < n; p++)
      par[p] = child[4 * p] + child[4 * p + 1] + child[4 * p + 2] + child[4 * p + 3];
  }
}

/* Check a histogram: non-negative, total fits int64; *vmax: its largest
** value.  par (may be NULL): also the sums of the next coarser order (each
** parent = sum of its 4 children), in the same pass over the histogram. */
static int check_hist(const int64_t *v, int64_t n, int64_t *par, const char *what,
                      int64_t *total, int64_t *vmax, st_error *err) {
  /* fast path (vectorised, no branch per pixel): every value in [0, 2^39)
  ** and fewer than 2^24 pixels, so the sum cannot overflow */
  uint64_t any = 0, sum = 0, mx = 0;
  if (par) { /* n is a multiple of 4 (HEALPix orders: 12 * 4^o) */
    for (int64_t p = 0; p < n / 4; p++) {
      uint64_t a = (uint64_t)v[4 * p], b = (uint64_t)v[4 * p + 1];
      uint64_t c = (uint64_t)v[4 * p + 2], d = (uint64_t)v[4 * p + 3];
      uint64_t ab = a > b ? a : b, cd = c > d ? c : d, m4 = ab > cd ? ab : cd;
      uint64_t s4 = a + b + c + d;
      any |= a | b | c | d, sum += s4, mx = m4 > mx ? m4 : mx;
      par[p] = (int64_t)s4;
    }
  } else {
    for (int64_t p = 0; p < n; p++) {
      uint64_t a = (uint64_t)v[p];
      any |= a, sum += a, mx = a > mx ? a : mx;
    }
  }
  if (!(any >> 39) && n < ((int64_t)1 << 24)) {
    *total = (int64_t)sum;
    *vmax = (int64_t)mx;
    return 0;
  }
  int64_t t = 0, m = 0;
  for (int64_t p = 0; p < n; p++) {
    ST_CHECK(v[p] >= 0, err, ST_ERR_INVALID, "binning: %s histogram: pixel %lld holds %lld",
             what, (long long)p, (long long)v[p]);
    ST_CHECK(!__builtin_add_overflow(t, v[p], &t), err, ST_ERR_INVALID,
             "binning: %s histogram: total overflows int64", what);
    if (v[p] > m) m = v[p];
  }
  *total = t;
  *vmax = m;
  return 0;
}

typedef struct parts_buf {
  st_bin_partition *a;
  int64_t n, cap;
} parts_buf;

static int parts_push(parts_buf *pb, int order, int64_t pixel, int64_t rows, st_error *err) {
  if (pb->n == pb->cap) {
    int64_t nc = pb->cap ? pb->cap * 2 : 256;
    st_bin_partition *na = st_realloc(pb->a, (size_t)nc * sizeof *na);
    ST_CHECK(na, err, ST_ERR_NOMEM, "binning: out of memory for %lld partitions", (long long)nc);
    pb->a = na;
    pb->cap = nc;
  }
  pb->a[pb->n++] = (st_bin_partition){order, pixel, rows};
  return 0;
}

/* An existing partition as a range of pixels at order H. */
typedef struct xrange {
  int64_t start, end;
  int order;
  int64_t pixel;
} xrange;

static int cmp_xrange(const void *a, const void *b) {
  const xrange *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Incremental setup at order H: mask (order H) and ex (order of the
** existing partition holding the pixel when it holds rows, else -1). */
static int setup_existing(const binctx *c, int H, uint8_t *maskH, int8_t *ex, st_error *err) {
  const st_bin_options *o = c->o;
  int64_t n = o->n_existing;
  ST_CHECK(o->existing_orders && o->existing_pixels, err, ST_ERR_INVALID,
           "binning: %lld existing partitions but no arrays", (long long)n);
  ST_CHECK((uint64_t)n <= SIZE_MAX / sizeof(xrange), err, ST_ERR_LIMIT,
           "binning: %lld existing partitions is too many", (long long)n);
  xrange *r = st_malloc((size_t)n * sizeof *r);
  ST_CHECK(r, err, ST_ERR_NOMEM, "binning: out of memory for %lld existing partitions",
           (long long)n);
  int rc = 0;
  for (int64_t i = 0; i < n && !rc; i++) {
    int eo = o->existing_orders[i];
    int64_t ep = o->existing_pixels[i];
    if (eo < 0 || eo > ST_HPX_MAX_ORDER || ep < 0 || ep >= st_hpx_npix(eo))
      rc = st_fail(err, ST_ERR_INVALID, "binning: existing partition %lld: bad (order %d, pixel %lld)",
                   (long long)i, eo, (long long)ep);
    else if (eo > H)
      rc = st_fail(err, ST_ERR_INVALID,
                   "binning: existing partition (order %d, pixel %lld) is finer than the highest "
                   "order %d; the highest order must be >= the existing catalog's maximum order",
                   eo, (long long)ep, H);
    else
      r[i] = (xrange){ep << (2 * (H - eo)), (ep + 1) << (2 * (H - eo)), eo, ep};
  }
  if (!rc) qsort(r, (size_t)n, sizeof *r, cmp_xrange);
  for (int64_t i = 1; i < n && !rc; i++)
    if (r[i].start < r[i - 1].end)
      rc = st_fail(err, ST_ERR_INVALID,
                   "binning: existing partitions (order %d, pixel %lld) and (order %d, pixel %lld) "
                   "overlap", r[i - 1].order, (long long)r[i - 1].pixel, r[i].order,
                   (long long)r[i].pixel);
  if (!rc) {
    const int64_t *rows = rows_at(c, H);
    for (int64_t i = 0; i < n; i++) {
      int64_t tot = 0;
      for (int64_t p = r[i].start; p < r[i].end; p++) {
        maskH[p] = 1;
        tot += rows[p];
      }
      if (tot > 0) memset(ex + r[i].start, r[i].order, (size_t)(r[i].end - r[i].start));
    }
  }
  st_free(r);
  return rc;
}

/* Final scan at order H: lvlH -> dest + parts (step 5). */
static int scan_partitions(const binctx *c, int H, const int8_t *lvlH, st_bin_result *out,
                           st_error *err) {
  int64_t npix = st_hpx_npix(H);
  parts_buf pb = {0};
  int last_o = -1;
  int64_t last_P = -1;
  int32_t last_idx = -1;
  for (int64_t p = 0; p < npix; p++) {
    int o = lvlH[p];
    if (o < 0) {
      out->dest[p] = -1;
      continue;
    }
    int64_t P = p >> (2 * (H - o));
    if (o != last_o || P != last_P) {
      int64_t rows = o >= c->lo ? rows_at(c, o)[P] : 0;
      last_o = o;
      last_P = P;
      last_idx = -1;
      if (rows > 0) {
        if (pb.n >= INT32_MAX) {
          st_free(pb.a);
          return st_fail(err, ST_ERR_LIMIT, "binning: more than %d partitions", INT32_MAX);
        }
        int rc = parts_push(&pb, o, P, rows, err);
        if (rc) {
          st_free(pb.a);
          return rc;
        }
        last_idx = (int32_t)(pb.n - 1);
      }
    }
    out->dest[p] = last_idx;
  }
  out->parts = pb.a;
  out->nparts = pb.n;
  return 0;
}

static int bin_constant(const binctx *c, int corder, st_bin_result *out, st_error *err) {
  int h = c->h;
  ST_CHECK(corder <= h, err, ST_ERR_INVALID,
           "binning: constant order %d is above the histogram order %d", corder, h);
  out->mapping_order = h;
  out->npix = st_hpx_npix(h);
  out->dest = st_malloc((size_t)out->npix * sizeof *out->dest);
  ST_CHECK(out->dest, err, ST_ERR_NOMEM, "binning: out of memory for %lld pixels",
           (long long)out->npix);
  parts_buf pb = {0};
  int64_t group = (int64_t)1 << (2 * (h - corder)), ngroups = st_hpx_npix(corder);
  for (int64_t g = 0; g < ngroups; g++) {
    int64_t rows = 0;
    for (int64_t k = 0; k < group; k++) rows += c->counts[g * group + k];
    int32_t idx = -1;
    if (rows > 0) {
      if (pb.n >= INT32_MAX) {
        st_free(pb.a);
        return st_fail(err, ST_ERR_LIMIT, "binning: more than %d partitions", INT32_MAX);
      }
      int rc = parts_push(&pb, corder, g, rows, err);
      if (rc) {
        st_free(pb.a);
        return rc;
      }
      idx = (int32_t)(pb.n - 1);
    }
    for (int64_t k = 0; k < group; k++) out->dest[g * group + k] = idx;
  }
  out->parts = pb.a;
  out->nparts = pb.n;
  return 0;
}

/* Steps 3-5 for the threshold modes. */
static int bin_threshold(binctx *c, bool incr, st_bin_result *out, st_error *err) {
  const st_bin_options *o = c->o;
  int h = c->h, lo = c->lo;
  bool drop = incr || o->drop_empty_siblings;
  int64_t thr = o->threshold;

  /* 3. lowering */
  int H = h;
  if (!incr && !o->keep_highest_order) {
    for (int t = h; t > lo; t--) {
      const int64_t *v = thr_at(c, t);
      int64_t n = st_hpx_npix(t), mx = t == h ? c->thr_max : 0;
      for (int64_t p = 0; t < h && p < n; p++)
        if (v[p] > mx) mx = v[p];
      if (mx > thr) break;
      H = t;
    }
  }

  int64_t nlev = st_imp_level_off(H + 1);
  int64_t npixH = st_hpx_npix(H);
  int8_t *lvl = st_malloc((size_t)nlev);
  uint8_t *mask = incr ? st_calloc((size_t)nlev, 1) : NULL;
  int8_t *ex = incr ? st_malloc((size_t)npixH) : NULL;
  out->dest = st_malloc((size_t)npixH * sizeof *out->dest);
  int rc = 0;
  if (!lvl || !out->dest || (incr && (!mask || !ex))) {
    rc = st_fail(err, ST_ERR_NOMEM, "binning: out of memory for order %d", H);
    goto done;
  }
  out->mapping_order = H;
  out->npix = npixH;

  if (incr) {
    memset(ex, -1, (size_t)npixH);
    rc = setup_existing(c, H, mask + st_imp_level_off(H), ex, err);
    if (rc) goto done;
    for (int l = H - 1; l >= lo; l--) {
      const uint8_t *ch = mask + st_imp_level_off(l + 1);
      uint8_t *pa = mask + st_imp_level_off(l);
      int64_t n = st_hpx_npix(l);
      for (int64_t p = 0; p < n; p++) pa[p] = ch[4 * p] | ch[4 * p + 1] | ch[4 * p + 2] | ch[4 * p + 3];
    }
  }

  /* 4. top-down */
  for (int l = lo; l <= H; l++) {
    int8_t *cur = lvl + st_imp_level_off(l);
    const int8_t *par = l > lo ? lvl + st_imp_level_off(l - 1) : NULL;
    const int64_t *s = thr_at(c, l);
    const int64_t *ch = l < H ? thr_at(c, l + 1) : NULL;
    const uint8_t *m = incr ? mask + st_imp_level_off(l) : NULL;
    int64_t n = st_hpx_npix(l);
    for (int64_t p = 0; p < n; p++) {
      int a = par ? par[p >> 2] : -1;
      if (a >= 0) {
        cur[p] = (int8_t)a;
        continue;
      }
      bool start;
      if (!drop) {
        start = s[p] != 0 && s[p] <= thr;
      } else if (l < H) {
        int64_t mx = ch[4 * p];
        for (int k = 1; k < 4; k++)
          if (ch[4 * p + k] > mx) mx = ch[4 * p + k];
        start = s[p] != mx && s[p] <= thr && !(m && m[p]);
      } else if (incr && ex[p] >= 0) {
        cur[p] = ex[p];
        continue;
      } else {
        start = s[p] > 0;
      }
      cur[p] = start ? (int8_t)l : -1;
    }
  }

  /* 5. partitions */
  rc = scan_partitions(c, H, lvl + st_imp_level_off(H), out, err);
done:
  st_free(lvl);
  st_free(mask);
  st_free(ex);
  return rc;
}

void st_bin_result_free(st_bin_result *r) {
  if (!r) return;
  st_free(r->dest);
  st_free(r->parts);
  memset(r, 0, sizeof *r);
}

int st_bin(const int64_t *counts, const st_bin_options *opts, st_bin_result *out, st_error *err) {
  ST_CHECK(out, err, ST_ERR_INVALID, "binning: no result");
  memset(out, 0, sizeof *out);
  ST_CHECK(counts && opts, err, ST_ERR_INVALID, "binning: no histogram or options");
  int h = opts->highest_order, lo = opts->lowest_order;
  ST_CHECK(h >= 0 && h <= ST_BIN_MAX_ORDER, err, ST_ERR_INVALID,
           "binning: highest order %d outside 0..%d", h, ST_BIN_MAX_ORDER);
  ST_CHECK(lo >= 0 && lo <= h, err, ST_ERR_INVALID,
           "binning: lowest order %d must be between 0 and the highest order %d", lo, h);
  ST_CHECK(opts->n_existing >= 0, err, ST_ERR_INVALID, "binning: negative existing count");
  bool incr = opts->n_existing > 0;
  bool bytes = opts->bytes && !incr;  /* hats-import: incremental ignores bytes */
  int64_t npix = st_hpx_npix(h), total = 0, tbytes = 0, cmax = 0, bmax = 0;
  binctx c = {opts, h, lo, counts, bytes ? opts->bytes : counts, NULL, NULL, 0};
  int corder = opts->constant_order >= 0 ? opts->constant_order : (lo == h ? lo : -1);
  bool constant = !incr && corder >= 0;
  /* the sums of orders lo..h-1 (threshold modes); the histogram checks
  ** fill order h-1 in their pass over the histogram */
  size_t nsum = constant ? 0 : (size_t)st_imp_level_off(h);
  if (nsum) {
    c.rsums = st_calloc(nsum, sizeof(int64_t));
    c.tsums = bytes ? st_calloc(nsum, sizeof(int64_t)) : c.rsums;
    if (!c.rsums || !c.tsums) {
      st_free(c.rsums);
      if (bytes) st_free(c.tsums);
      return st_fail(err, ST_ERR_NOMEM, "binning: out of memory for the sums of order %d", h);
    }
  }
  int64_t off1 = h > 0 ? st_imp_level_off(h - 1) : 0;
  int rc = check_hist(counts, npix, nsum && lo < h ? c.rsums + off1 : NULL, "row count", &total,
                      &cmax, err);
  if (!rc && bytes)
    rc = check_hist(opts->bytes, npix, nsum && lo < h ? c.tsums + off1 : NULL, "byte size",
                    &tbytes, &bmax, err);
  c.thr_max = bytes ? bmax : cmax;
  if (rc) {
  } else if (constant) {
    rc = bin_constant(&c, corder, out, err);
  } else {
    int64_t thr = opts->threshold;
    if (thr < (bytes ? 0 : 1))
      rc = st_fail(err, ST_ERR_INVALID, "binning: the %s threshold must be %s (got %lld)",
                   bytes ? "byte" : "pixel", bytes ? "non-negative" : "a positive integer",
                   (long long)thr);
    /* 1. no single pixel of the highest order may exceed the threshold */
    const int64_t *th = c.thr_hist;
    if (!rc && c.thr_max > thr) {
      int64_t imax = 0;
      for (int64_t p = 1; p < npix; p++)
        if (th[p] > th[imax]) imax = p;
      rc = st_fail(err, ST_ERR_LIMIT,
                   "binning: pixel %lld of order %d alone holds %lld %s, more than the %s "
                   "threshold %lld; raise --highest-order so that the sky is cut into smaller "
                   "pixels (or raise the threshold)",
                   (long long)imax, h, (long long)th[imax], bytes ? "bytes" : "rows",
                   bytes ? "byte" : "pixel", (long long)thr);
    }
    /* 2. nested sums (order h-1 is filled already) */
    if (!rc && nsum && lo < h - 1) {
      nested_sums(counts, h, h - 2, lo, c.rsums);
      if (bytes) nested_sums(opts->bytes, h, h - 2, lo, c.tsums);
    }
    if (!rc) rc = bin_threshold(&c, incr, out, err);
  }
  st_free(c.rsums);
  if (bytes) st_free(c.tsums);
  if (!rc) {
    int64_t got = 0;
    for (int64_t i = 0; i < out->nparts; i++) got += out->parts[i].rows;
    out->total_rows = total;
    if (got != total)
      rc = st_fail(err, ST_ERR_INVALID,
                   "binning: the partitions hold %lld rows but the histogram holds %lld (is an "
                   "existing partition coarser than the lowest order?)",
                   (long long)got, (long long)total);
  }
  if (rc) st_bin_result_free(out);
  return rc;
}
