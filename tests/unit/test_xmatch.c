/*
** This file implements the unit tests of the matching kernel (st_xm_match)
** against a brute-force oracle that computes every pairwise distance with
** the Vincenty formula (st_hpx_separation, independent of the kernel's
** chord formula): random points in patches at both poles and across RA = 0,
** all / k-nearest / minimum radius, exact ties, NaN coordinates, radii from
** milliarcseconds to 180 degrees.
*/
#include <stdlib.h>

#include "test.h"
#include "skytile/healpix.h"
#include "xmatch/xmatch_int.h"

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (double)(g_rng >> 11) / 9007199254740992.0;
}

/* A point uniformly distributed on the sphere within `size` degrees of
   (ra0, dec0) in a crude way: box around the centre, dec clamped. */
static void patch_point(double ra0, double dec0, double size, double *ra, double *dec) {
  double d = dec0 + (urand() * 2 - 1) * size;
  if (d > 90) d = 180 - d;
  if (d < -90) d = -180 - d;
  double r = ra0 + (urand() * 2 - 1) * size * 3;
  r = fmod(r + 720.0, 360.0);
  *ra = r;
  *dec = d;
}

typedef struct bf_pair {
  double d;
  int64_t ri;
} bf_pair;

static int bf_cmp(const void *a, const void *b) {
  const bf_pair *x = a, *y = b;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  return x->ri < y->ri ? -1 : x->ri > y->ri;
}

/* Compare the kernel's output with brute force; distances within `tol`
   arcsec of rmin/rmax are ambiguous and skipped in the set comparison. */
static int check_against_bf(const double *qra, const double *qdec, int64_t nq,
                            const double *rra, const double *rdec, int64_t nr, double rmin,
                            double rmax, int k) {
  const double tol = 1e-6;
  st_xm_pairs p = {0};
  st_error err = {0};
  int rc = st_xm_match(qra, qdec, nq, rra, rdec, nr, rmin, rmax, k, &p, &err);
  if (rc) {
    fprintf(stderr, "st_xm_match: %s\n", err.msg);
    return 1;
  }
  bf_pair *bf = malloc((size_t)(nr > 0 ? nr : 1) * sizeof *bf);
  int64_t pos = 0;
  int bad = 0;
  for (int64_t q = 0; q < nq && !bad; q++) {
    int64_t nb = 0;
    for (int64_t r = 0; r < nr; r++) {
      if (!isfinite(qra[q]) || !isfinite(qdec[q]) || !isfinite(rra[r]) || !isfinite(rdec[r]))
        continue;
      double d = st_hpx_separation(qra[q], qdec[q], rra[r], rdec[r]) * 3600.0;
      if (d < rmin - tol || d > rmax + tol) continue;
      bf[nb].d = d;
      bf[nb].ri = r;
      nb++;
    }
    qsort(bf, (size_t)nb, sizeof *bf, bf_cmp);
    /* kernel pairs of q */
    int64_t start = pos;
    while (pos < p.n && p.qi[pos] == q) pos++;
    int64_t ng = pos - start;
    /* sorted by (d, ri) */
    for (int64_t i = start + 1; i < pos; i++) {
      if (p.dist_arcsec[i] < p.dist_arcsec[i - 1] ||
          (p.dist_arcsec[i] == p.dist_arcsec[i - 1] && p.ri[i] <= p.ri[i - 1])) {
        fprintf(stderr, "query %lld: pairs not sorted at %lld\n", (long long)q, (long long)i);
        bad = 1;
      }
    }
    /* every kernel pair is a true match with the right distance */
    for (int64_t i = start; i < pos && !bad; i++) {
      int64_t r = p.ri[i];
      double d = st_hpx_separation(qra[q], qdec[q], rra[r], rdec[r]) * 3600.0;
      if (fabs(d - p.dist_arcsec[i]) > tol || d < rmin - tol || d > rmax + tol) {
        fprintf(stderr, "query %lld ref %lld: d %.9f kernel %.9f\n", (long long)q,
                (long long)r, d, p.dist_arcsec[i]);
        bad = 1;
      }
    }
    if (bad) break;
    /* count: strict matches (not within tol of a bound) must all be there */
    int64_t strict = 0;
    for (int64_t i = 0; i < nb; i++)
      if (bf[i].d >= rmin + tol && bf[i].d <= rmax - tol) strict++;
    if (k == 0) {
      if (ng < strict || ng > nb) {
        fprintf(stderr, "query %lld: %lld pairs, brute force %lld..%lld\n", (long long)q,
                (long long)ng, (long long)strict, (long long)nb);
        bad = 1;
      }
      for (int64_t i = 0; i < nb && !bad; i++) {
        if (!(bf[i].d >= rmin + tol && bf[i].d <= rmax - tol)) continue;
        int found = 0;
        for (int64_t j = start; j < pos; j++) found |= p.ri[j] == bf[i].ri;
        if (!found) {
          fprintf(stderr, "query %lld: missing ref %lld at %.9f\n", (long long)q,
                  (long long)bf[i].ri, bf[i].d);
          bad = 1;
        }
      }
    } else {
      int64_t want = strict < k ? strict : k;
      if (ng < want || ng > (nb < k ? nb : k)) {
        fprintf(stderr, "query %lld: %lld pairs, want %lld (k %d)\n", (long long)q,
                (long long)ng, (long long)want, k);
        bad = 1;
      }
      /* the kernel's i-th pair is the brute force's i-th (up to distance
         ties within tol, where either order is fine) */
      for (int64_t i = 0; i < ng && i < nb && !bad; i++) {
        if (bf[i].ri != p.ri[start + i] && fabs(bf[i].d - p.dist_arcsec[start + i]) > tol) {
          fprintf(stderr, "query %lld: rank %lld ref %lld (%.9f), brute force %lld (%.9f)\n",
                  (long long)q, (long long)i, (long long)p.ri[start + i],
                  p.dist_arcsec[start + i], (long long)bf[i].ri, bf[i].d);
          bad = 1;
        }
      }
    }
  }
  if (!bad && pos != p.n) {
    fprintf(stderr, "pairs with bad query index\n");
    bad = 1;
  }
  free(bf);
  st_xm_pairs_free(&p);
  return bad;
}

static void gen_patches(double *ra, double *dec, int64_t n, double size) {
  static const double centres[][2] = {{0.0, 0.0},     {359.9, 45.0}, {120.0, 89.99},
                                      {300.0, -89.99}, {0.05, -30.0}, {200.0, 10.0}};
  for (int64_t i = 0; i < n; i++) {
    int c = (int)(urand() * 6) % 6;
    patch_point(centres[c][0], centres[c][1], size, &ra[i], &dec[i]);
  }
}

TEST(xm_kernel_random_all_and_knn) {
  enum { NQ = 700, NR = 3000 };
  static double qra[NQ], qdec[NQ], rra[NR], rdec[NR];
  gen_patches(qra, qdec, NQ, 0.05);
  gen_patches(rra, rdec, NR, 0.05);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 30, 0) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 30, 1) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 60, 3) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 20, 60, 0) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 20, 60, 2) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 0.01, 0) == 0);
}

TEST(xm_kernel_large_radius) {
  enum { NQ = 150, NR = 400 };
  static double qra[NQ], qdec[NQ], rra[NR], rdec[NR];
  for (int i = 0; i < NQ; i++) {
    qra[i] = urand() * 360;
    qdec[i] = asin(urand() * 2 - 1) * 180 / M_PI;
  }
  for (int i = 0; i < NR; i++) {
    rra[i] = urand() * 360;
    rdec[i] = asin(urand() * 2 - 1) * 180 / M_PI;
  }
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 20 * 3600.0, 0) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 90 * 3600.0, 5) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 0, 180 * 3600.0, 1) == 0);
  CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, 170 * 3600.0, 180 * 3600.0, 0) == 0);
  /* 180 degrees: every pair */
  st_xm_pairs p = {0};
  st_error err = {0};
  CHECK_OK(st_xm_match(qra, qdec, NQ, rra, rdec, NR, 0, 180 * 3600.0, 0, &p, &err), &err);
  CHECK_EQ_I64(p.n, (int64_t)NQ * NR);
  st_xm_pairs_free(&p);
}

TEST(xm_kernel_poles_and_wrap) {
  /* exact geometry: points across RA 0 and at the poles */
  double rra[] = {359.9999, 0.0001, 0.0, 180.0, 0.0, 90.0, 12.0};
  double rdec[] = {10.0, 10.0, 90.0, 89.9999, -90.0, -89.9999, -89.99995};
  double qra[] = {0.0, 360.0, 45.0, 270.0, -0.0001};
  double qdec[] = {10.0, 90.0, 89.99995, -90.0, 10.0};
  CHECK(check_against_bf(qra, qdec, 5, rra, rdec, 7, 0, 1.0, 0) == 0);
  CHECK(check_against_bf(qra, qdec, 5, rra, rdec, 7, 0, 0.5, 1) == 0);
  st_xm_pairs p = {0};
  st_error err = {0};
  CHECK_OK(st_xm_match(qra, qdec, 5, rra, rdec, 7, 0, 1.0, 0, &p, &err), &err);
  /* q0 (0, 10): refs 0 and 1 at 0.0001 deg * cos(10) = 0.3545" each */
  CHECK(p.n >= 2 && p.qi[0] == 0 && p.qi[1] == 0);
  CHECK(p.ri[0] == 0 || p.ri[0] == 1);
  CHECK(fabs(p.dist_arcsec[0] - 0.36 * cos(10 * M_PI / 180)) < 1e-3);
  /* q1 (north pole written as RA 360) matches ref 2 at distance 0 and ref 3 */
  int found = 0;
  for (int64_t i = 0; i < p.n; i++)
    if (p.qi[i] == 1 && p.ri[i] == 2) found = p.dist_arcsec[i] < 1e-9;
  CHECK(found);
  st_xm_pairs_free(&p);
}

TEST(xm_kernel_ties_and_nan) {
  /* three identical references: k = 2 keeps the two lowest indices */
  double rra[] = {10.0, NAN, 10.0, 10.0, 10.0, 10.0 + 1.0 / 3600};
  double rdec[] = {NAN, 5.0, 5.0, 5.0, 5.0, 5.0};
  double qra[] = {10.0, NAN, 10.0, INFINITY};
  double qdec[] = {5.0, 5.0, NAN, 5.0};
  st_xm_pairs p = {0};
  st_error err = {0};
  CHECK_OK(st_xm_match(qra, qdec, 4, rra, rdec, 6, 0, 10, 2, &p, &err), &err);
  CHECK_EQ_I64(p.n, 2);
  CHECK(p.qi[0] == 0 && p.ri[0] == 2 && p.dist_arcsec[0] == 0);
  CHECK(p.qi[1] == 0 && p.ri[1] == 3 && p.dist_arcsec[1] == 0);
  CHECK_OK(st_xm_match(qra, qdec, 4, rra, rdec, 6, 0, 10, 0, &p, &err), &err);
  CHECK_EQ_I64(p.n, 4);
  CHECK(p.ri[0] == 2 && p.ri[1] == 3 && p.ri[2] == 4 && p.ri[3] == 5);
  CHECK(fabs(p.dist_arcsec[3] - cos(5 * M_PI / 180)) < 1e-6);
  /* minimum radius excludes the zero-distance ones */
  CHECK_OK(st_xm_match(qra, qdec, 4, rra, rdec, 6, 0.5, 10, 1, &p, &err), &err);
  CHECK_EQ_I64(p.n, 1);
  CHECK_EQ_I64(p.ri[0], 5);
  /* many identical points (one big leaf) */
  enum { N = 1000 };
  static double ira[N], idec[N];
  for (int i = 0; i < N; i++) {
    ira[i] = 200.0;
    idec[i] = -45.0;
  }
  CHECK_OK(st_xm_match(ira, idec, 3, ira, idec, N, 0, 1, 0, &p, &err), &err);
  CHECK_EQ_I64(p.n, 3 * N);
  CHECK_OK(st_xm_match(ira, idec, N, ira, idec, N, 0, 1, 3, &p, &err), &err);
  CHECK_EQ_I64(p.n, 3 * N);
  CHECK(p.ri[0] == 0 && p.ri[1] == 1 && p.ri[2] == 2 && p.ri[3 * N - 1] == 2);
  /* bad arguments */
  CHECK(st_xm_match(qra, qdec, 4, rra, rdec, 6, 0, -1, 0, &p, &err) == ST_ERR_INVALID);
  CHECK(st_xm_match(qra, qdec, 4, rra, rdec, 6, 0, NAN, 0, &p, &err) == ST_ERR_INVALID);
  CHECK(st_xm_match(qra, qdec, 4, rra, rdec, 6, 0, 1, -1, &p, &err) == ST_ERR_INVALID);
  /* empty sides */
  CHECK_OK(st_xm_match(qra, qdec, 0, rra, rdec, 6, 0, 10, 0, &p, &err), &err);
  CHECK_EQ_I64(p.n, 0);
  CHECK_OK(st_xm_match(qra, qdec, 4, rra, rdec, 0, 0, 10, 0, &p, &err), &err);
  CHECK_EQ_I64(p.n, 0);
  st_xm_pairs_free(&p);
}

TEST(xm_kernel_index_slices) {
  enum { NQ = 400, NR = 1500 };
  static double qra[NQ], qdec[NQ], rra[NR], rdec[NR];
  gen_patches(qra, qdec, NQ, 0.02);
  gen_patches(rra, rdec, NR, 0.02);
  st_xm_pairs whole = {0}, parts = {0};
  st_error err = {0};
  CHECK_OK(st_xm_match(qra, qdec, NQ, rra, rdec, NR, 0, 40, 2, &whole, &err), &err);
  st_xm_index *ix = NULL;
  CHECK_OK(st_xm_index_build(rra, rdec, NR, &ix, &err), &err);
  CHECK_EQ_I64(st_xm_index_size(ix), NR);
  CHECK_OK(st_xm_index_match(ix, qra, qdec, 150, 0, 0, 40, 2, &parts, &err), &err);
  CHECK_OK(st_xm_index_match(ix, qra + 150, qdec + 150, NQ - 150, 150, 0, 40, 2, &parts, &err),
           &err);
  st_xm_index_free(ix);
  CHECK(whole.n > 100);
  CHECK_EQ_I64(parts.n, whole.n);
  for (int64_t i = 0; i < whole.n; i++) {
    CHECK(parts.qi[i] == whole.qi[i] && parts.ri[i] == whole.ri[i]);
    CHECK(parts.dist_arcsec[i] == whole.dist_arcsec[i]);
  }
  st_xm_pairs_free(&whole);
  st_xm_pairs_free(&parts);
}

/* The zone index (small radii) and the kd-tree agree exactly, on patches at
   both poles, across RA 0 (also RA given as negative or >= 360), and the
   zone index agrees with brute force too. */
TEST(xm_kernel_zones_vs_kdtree) {
  enum { NQ = 800, NR = 4000 };
  static double qra[NQ], qdec[NQ], rra[NR], rdec[NR];
  gen_patches(qra, qdec, NQ, 0.01);
  gen_patches(rra, rdec, NR, 0.01);
  for (int i = 0; i < 40; i++) { /* exact poles and RA written out of [0, 360) */
    rdec[i] = i % 2 ? 90.0 : -90.0;
    rra[i] = urand() * 360;
    qra[i] = qra[i] - 360.0;
    qra[NQ - 1 - i] += 360.0;
  }
  st_error err = {0};
  for (int pass = 0; pass < 4; pass++) {
    double rmax = pass < 2 ? 20 : 110, rmin = pass == 3 ? 5 : 0;
    int k = pass % 2 ? 2 : 0;
    st_xm_index *kd = NULL, *zn = NULL;
    st_xm_pairs a = {0}, b = {0};
    CHECK_OK(st_xm_index_build(rra, rdec, NR, &kd, &err), &err);
    CHECK_OK(st_xm_index_build_hint(rra, rdec, NR, rmax, &zn, &err), &err);
    CHECK_OK(st_xm_index_match(kd, qra, qdec, NQ, 0, rmin, rmax, k, &a, &err), &err);
    CHECK_OK(st_xm_index_match(zn, qra, qdec, NQ, 0, rmin, rmax, k, &b, &err), &err);
    st_xm_index_free(kd);
    st_xm_index_free(zn);
    CHECK(a.n > NQ);
    CHECK_EQ_I64(a.n, b.n);
    for (int64_t i = 0; i < a.n; i++)
      CHECK(a.qi[i] == b.qi[i] && a.ri[i] == b.ri[i] && a.dist_arcsec[i] == b.dist_arcsec[i]);
    st_xm_pairs_free(&a);
    st_xm_pairs_free(&b);
    CHECK(check_against_bf(qra, qdec, NQ, rra, rdec, NR, rmin, rmax, k) == 0);
  }
}

/* References all just west of RA 0 and queries just east of it (and the
   reverse), so a query's RA window wraps while the references' RA range does
   not: zones and kd-tree must still find every pair. */
TEST(xm_kernel_zones_wrap_one_side) {
  enum { N = 300 };
  static double rra[N], rdec[N], qra[N], qdec[N];
  for (int i = 0; i < N; i++) {
    rra[i] = 360.0 - urand() * 2.0 / 3600;
    rdec[i] = 10.0 + urand() * 20.0 / 3600;
    qra[i] = urand() * 2.0 / 3600;
    qdec[i] = 10.0 + urand() * 20.0 / 3600;
  }
  for (int pass = 0; pass < 2; pass++) {
    const double *a = pass ? rra : qra, *b = pass ? qra : rra;
    st_xm_pairs p = {0};
    st_error err = {0};
    CHECK_OK(st_xm_match(a, qdec, N, b, rdec, N, 0, 3.0, 0, &p, &err), &err);
    CHECK(p.n > N);
    st_xm_pairs_free(&p);
    CHECK(check_against_bf(a, qdec, N, b, rdec, N, 0, 3.0, 0) == 0);
    CHECK(check_against_bf(a, qdec, N, b, rdec, N, 0, 3.0, 1) == 0);
  }
}
