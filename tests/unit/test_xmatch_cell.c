/*
** This file implements the unit tests of the crossmatch kernel's HEALPix
** cell helpers (kernel.c): st_xm_cell_boundary, checked against the HEALPix
** module's ang2pix (a point reported deep inside a cell must have its whole
** circle of radius r in that cell), and the cell grid index
** st_xm_index_build_cell, checked pair for pair against the zone/kd index
** (itself checked against brute force in test_xmatch.c) on cells at the
** poles, on the equator, across RA 0 and on southern faces, with points
** inside, on the edge of and outside the cell, duplicates and NaNs.
*/
#include <stdlib.h>

#include "test.h"
#include "skytile/healpix.h"
#include "xmatch/xmatch_int.h"

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static double urand(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (double)(g_rng >> 11) / 9007199254740992.0;
}

/* The point at angle `ang` (radians) from unit vector p in direction th. */
static void offset_point(const double p[3], double ang, double th, double *ra, double *dec) {
  double e1[3] = {-p[1], p[0], 0};
  double n = sqrt(e1[0] * e1[0] + e1[1] * e1[1]);
  if (n < 1e-12) {
    e1[0] = 1;
    e1[1] = 0;
  } else {
    e1[0] /= n;
    e1[1] /= n;
  }
  double e2[3] = {p[1] * e1[2] - p[2] * e1[1], p[2] * e1[0] - p[0] * e1[2],
                  p[0] * e1[1] - p[1] * e1[0]};
  double c = cos(ang), s = sin(ang), ct = cos(th), st = sin(th), v[3];
  for (int i = 0; i < 3; i++) v[i] = c * p[i] + s * (ct * e1[i] + st * e2[i]);
  st_hpx_vec2ang(v, ra, dec);
}

/* n random points within `spread` radians of the centre of (order, pix). */
static void cell_points(int order, int64_t pix, double spread, double *ra, double *dec, int n) {
  double c[3];
  st_error err = {0};
  st_hpx_pix2vec(order, pix, c, &err);
  for (int i = 0; i < n; i++)
    offset_point(c, spread * sqrt(urand()), urand() * 2 * M_PI, &ra[i], &dec[i]);
}

static const struct {
  int order;
  int64_t pix;
} k_cells[] = {
    {0, 0},  {0, 5},  {0, 9},         /* north polar, equatorial, south faces     */
    {1, 3},  {1, 19}, {1, 47},        /* the north pole's corner, RA 0, south pole */
    {3, 63}, {3, 704}, {5, 4095},     /* at the north / south pole, ...           */
    {5, 5 * 1024 + 17}, {8, 4 * 65536 + 12345}, {2, 100},
};

TEST(xm_cell_boundary_vs_healpix) {
  enum { N = 1500, DIRS = 24 };
  static double ra[N], dec[N], xyz[3 * N];
  static int64_t idx[N];
  st_error err = {0};
  for (size_t c = 0; c < sizeof k_cells / sizeof k_cells[0]; c++) {
    int order = k_cells[c].order;
    int64_t pix = k_cells[c].pix;
    double pr = st_hpx_max_pixrad(order) * M_PI / 180.0;
    for (int ri = 0; ri < 3; ri++) {
      double r = pr * (ri == 0 ? 0.003 : ri == 1 ? 0.03 : 0.15); /* radians */
      double r_as = r * 180.0 / M_PI * 3600.0;
      cell_points(order, pix, pr * 1.3, ra, dec, N);
      ra[0] = NAN; /* never matches: neither inside nor listed */
      st_xm_radec_to_xyz(ra, dec, N, xyz);
      int64_t nb = st_xm_cell_boundary(order, pix, ra, xyz, N, r_as, idx);
      CHECK(nb >= 0 && nb < N);
      for (int64_t i = 1; i < nb; i++) CHECK(idx[i] > idx[i - 1]);
      CHECK(nb == 0 || idx[0] > 0);
      int64_t b = 0, interior = 0, inside = 0;
      for (int i = 1; i < N; i++) {
        int64_t p = -1;
        CHECK_OK(st_hpx_ang2pix(order, ra[i], dec[i], &p, &err), &err);
        inside += p == pix;
        if (b < nb && idx[b] == i) {
          b++;
          continue;
        }
        /* reported deep inside: the point and its circle of radius r */
        interior++;
        CHECK_EQ_I64(p, pix);
        double v[3];
        st_hpx_ang2vec(ra[i], dec[i], v);
        for (int d = 0; d < DIRS; d++) {
          double qr, qd;
          offset_point(v, r, (d + urand()) * 2 * M_PI / DIRS, &qr, &qd);
          CHECK_OK(st_hpx_ang2pix(order, qr, qd, &p, &err), &err);
          CHECK_EQ_I64(p, pix);
        }
      }
      /* not vacuous: most points inside the cell are found deep inside for
         the small radius */
      if (ri == 0) CHECK(interior * 10 > inside * 8);
      CHECK(interior > 0);
    }
  }
  /* whole sky, or a radius as large as the cell: every finite point */
  cell_points(0, 4, 0.5, ra, dec, 100);
  ra[7] = NAN;
  st_xm_radec_to_xyz(ra, dec, 100, xyz);
  CHECK_EQ_I64(st_xm_cell_boundary(-1, -1, ra, xyz, 100, 1.0, idx), 99);
  CHECK_EQ_I64(st_xm_cell_boundary(0, 4, ra, xyz, 100, 40 * 3600.0, idx), 99);
}

/* The grid index gives exactly the pairs of the zone/kd index. */
TEST(xm_cell_index_vs_zones) {
  enum { NR = 3000, NQ = 2500 };
  static double rra[NR], rdec[NR], qra[NQ], qdec[NQ], qxyz[3 * NQ], qch[3 * NQ];
  st_error err = {0};
  for (size_t c = 0; c < sizeof k_cells / sizeof k_cells[0]; c++) {
    int order = k_cells[c].order;
    int64_t pix = k_cells[c].pix;
    double pr = st_hpx_max_pixrad(order) * M_PI / 180.0;
    for (int ri = 0; ri < 2; ri++) {
      double r = pr * (ri ? 0.02 : 0.002);
      double r_as = r * 180.0 / M_PI * 3600.0;
      /* references in and around the cell; queries near references (so
         that there are matches), elsewhere, on exact duplicates, NaN */
      cell_points(order, pix, pr * 1.2, rra, rdec, NR);
      for (int i = 0; i < 20; i++) rra[NR - 1 - i] = rra[i], rdec[NR - 1 - i] = rdec[i];
      rra[5] = NAN;
      rdec[6] = INFINITY;
      for (int i = 0; i < NQ; i++) {
        int j = (int)(urand() * NR) % NR;
        double v[3];
        if (i % 4 == 3 || !isfinite(rra[j]) || !isfinite(rdec[j])) {
          cell_points(order, pix, pr * 1.3, &qra[i], &qdec[i], 1);
          continue;
        }
        st_hpx_ang2vec(rra[j], rdec[j], v);
        offset_point(v, r * urand() * 1.2, urand() * 2 * M_PI, &qra[i], &qdec[i]);
      }
      qra[0] = NAN;
      qra[1] = rra[1] + 360.0; /* RA outside [0, 360) */
      qdec[1] = rdec[1];
      for (int pass = 0; pass < 4; pass++) {
        int k = pass == 1 ? 1 : pass == 2 ? 2 : 0;
        double rmin = pass == 3 ? r_as * 0.3 : 0, rmax = pass == 3 ? r_as * 0.8 : r_as;
        st_xm_index *gi = NULL, *zi = NULL;
        st_xm_pairs a = {0}, b = {0}, c2 = {0};
        CHECK_OK(st_xm_index_build_cell(order, pix, rra, rdec, NR, r_as, &gi, &err), &err);
        CHECK_OK(st_xm_index_build_hint(rra, rdec, NR, r_as, &zi, &err), &err);
        CHECK_EQ_I64(st_xm_index_size(gi), NR - 2);
        CHECK_OK(st_xm_index_match(gi, qra, qdec, NQ, 7, rmin, rmax, k, &a, &err), &err);
        CHECK_OK(st_xm_index_match(zi, qra, qdec, NQ, 7, rmin, rmax, k, &b, &err), &err);
        /* with precomputed unit vectors and charts */
        st_xm_radec_to_xyzc(qra, qdec, NQ, qxyz, qch);
        CHECK_OK(st_xm_index_match_xyzc(gi, qra, qdec, qxyz, qch, NQ, 7, rmin, rmax, k, &c2, &err),
                 &err);
        CHECK_EQ_I64(c2.n, a.n);
        for (int64_t i = 0; i < a.n; i++)
          CHECK(a.qi[i] == c2.qi[i] && a.ri[i] == c2.ri[i] &&
                a.dist_arcsec[i] == c2.dist_arcsec[i]);
        st_xm_pairs_free(&c2);
        st_xm_index_free(gi);
        st_xm_index_free(zi);
        CHECK(b.n > NQ / 5);
        CHECK_EQ_I64(a.n, b.n);
        for (int64_t i = 0; i < a.n; i++)
          CHECK(a.qi[i] == b.qi[i] && a.ri[i] == b.ri[i] && a.dist_arcsec[i] == b.dist_arcsec[i]);
        st_xm_pairs_free(&a);
        st_xm_pairs_free(&b);
      }
    }
  }
}

/* Unit vectors and charts: the vector path equals the scalar code bit for
   bit (RA in and outside [0, 360), exact poles and RA 0/360, NaN, infinite
   values), the vectors equal st_xm_radec_to_xyz's, and the charts give the
   HEALPix pixel of ang2pix at order 29 (up to points on a pixel edge). */
TEST(xm_xyzc_paths_agree) {
  enum { N = 4096 };
  static double ra[N], dec[N], a[3 * N], b[3 * N], ca[3 * N], cb[3 * N];
  for (int i = 0; i < N; i++) {
    ra[i] = urand() * 720.0 - 360.0;
    dec[i] = asin(urand() * 2 - 1) * 180.0 / M_PI;
  }
  static const double sra[] = {0.0, -0.0, 360.0, -360.0, 359.99999999999994, 90.0, 1e-300, 725.5};
  for (int i = 0; i < 8; i++) ra[100 + i] = sra[i];
  dec[200] = 90.0;
  dec[201] = -90.0;
  dec[202] = 41.8103148957786; /* z = 2/3 */
  ra[300] = NAN;
  dec[301] = INFINITY;
  ra[302] = -INFINITY;
  st_xm_radec_to_xyzc(ra, dec, N, a, ca);
  st_xm_radec_to_xyzc_ref(ra, dec, N, b, cb);
  for (int i = 0; i < 3 * N; i++) {
    CHECK((isnan(a[i]) && isnan(b[i])) || a[i] == b[i]);
    CHECK((isnan(ca[i]) && isnan(cb[i])) || ca[i] == cb[i]);
  }
  st_xm_radec_to_xyz(ra, dec, N, b);
  for (int i = 0; i < 3 * N; i++) CHECK((isnan(a[i]) && isnan(b[i])) || a[i] == b[i]);
  st_error err = {0};
  int64_t bad = 0;
  for (int i = 0; i < N; i++) {
    if (!isfinite(ra[i]) || !isfinite(dec[i])) {
      CHECK(ca[3 * i] == -1);
      continue;
    }
    int64_t p = -1;
    CHECK_OK(st_hpx_ang2pix(29, ra[i], dec[i], &p, &err), &err);
    int face = (int)ca[3 * i];
    int64_t x = (int64_t)(ca[3 * i + 1] * 536870912.0), y = (int64_t)(ca[3 * i + 2] * 536870912.0);
    int64_t px = 0, py = 0;
    for (int k = 0; k < 29; k++) {
      px |= ((p >> (2 * k)) & 1) << k;
      py |= ((p >> (2 * k + 1)) & 1) << k;
    }
    /* the chart is computed from a fast sin: allow one order-29 pixel */
    if (face != (int)(p >> 58) || llabs(px - x) > 1 || llabs(py - y) > 1) bad++;
  }
  CHECK(bad <= 2);
}

/* Declinations written beyond the pole (dec 92 = dec 88 on the other side):
   the grid index (all pairs) and the zone index (nearest) still find every
   pair the kd-tree finds. */
TEST(xm_cell_index_dec_beyond_pole) {
  enum { NR = 2000, NQ = 1500 };
  static double rra[NR], rdec[NR], qra[NQ], qdec[NQ];
  st_error err = {0};
  double r_as = 30.0;
  for (int i = 0; i < NR; i++) {
    rra[i] = urand() * 90.0;            /* order-1 pixel 3 touches the pole */
    rdec[i] = 90.0 - urand() * 3.0;
    if (i % 3 == 0) {                   /* the same point, written from beyond */
      rra[i] = rra[i] + 180.0;
      rdec[i] = 180.0 - rdec[i];
    }
  }
  for (int i = 0; i < NQ; i++) {
    int j = (int)(urand() * NR) % NR;
    double v[3];
    st_hpx_ang2vec(rra[j], rdec[j] > 90 ? 90 - (rdec[j] - 90) : rdec[j], v);
    if (rdec[j] > 90) st_hpx_ang2vec(rra[j] - 180.0, 180.0 - rdec[j], v);
    offset_point(v, r_as / 3600.0 * M_PI / 180.0 * urand(), urand() * 2 * M_PI, &qra[i], &qdec[i]);
    if (i % 4 == 1) {
      qra[i] += 180.0;
      qdec[i] = 180.0 - qdec[i];
    }
  }
  for (int k = 0; k < 2; k++) {
    st_xm_index *gi = NULL, *kd = NULL;
    st_xm_pairs a = {0}, b = {0};
    if (k == 0) CHECK_OK(st_xm_index_build_cell(1, 3, rra, rdec, NR, r_as, &gi, &err), &err);
    else CHECK_OK(st_xm_index_build_hint(rra, rdec, NR, r_as, &gi, &err), &err); /* zones */
    CHECK_OK(st_xm_index_build(rra, rdec, NR, &kd, &err), &err);
    CHECK_OK(st_xm_index_match(gi, qra, qdec, NQ, 0, 0, r_as, k, &a, &err), &err);
    CHECK_OK(st_xm_index_match(kd, qra, qdec, NQ, 0, 0, r_as, k, &b, &err), &err);
    st_xm_index_free(gi);
    st_xm_index_free(kd);
    CHECK(b.n >= NQ / 2);
    CHECK_EQ_I64(a.n, b.n);
    for (int64_t i = 0; i < a.n; i++)
      CHECK(a.qi[i] == b.qi[i] && a.ri[i] == b.ri[i] && a.dist_arcsec[i] == b.dist_arcsec[i]);
    st_xm_pairs_free(&a);
    st_xm_pairs_free(&b);
  }
}

/* Points outside their cell are counted (by the grid index while it is
   built, and by st_xm_cell_outside), as ang2pix says; NaN never counts. */
TEST(xm_cell_outside_counts) {
  enum { N = 3000 };
  static double ra[N], dec[N];
  st_error err = {0};
  for (size_t c = 0; c < sizeof k_cells / sizeof k_cells[0]; c++) {
    int order = k_cells[c].order;
    int64_t pix = k_cells[c].pix;
    double pr = st_hpx_max_pixrad(order) * M_PI / 180.0;
    cell_points(order, pix, pr * 1.5, ra, dec, N);
    ra[3] = NAN;
    int64_t want = 0;
    for (int i = 0; i < N; i++) {
      if (!isfinite(ra[i])) continue;
      int64_t p = -1;
      CHECK_OK(st_hpx_ang2pix(order, ra[i], dec[i], &p, &err), &err);
      want += p != pix;
    }
    /* (a point within rounding of the edge may count either way) */
    int64_t got = st_xm_cell_outside(order, pix, ra, dec, N);
    CHECK(want > 0);
    CHECK(llabs(got - want) <= 2);
    st_xm_index *ix = NULL;
    CHECK_OK(st_xm_index_build_cell(order, pix, ra, dec, N, 1e-3, &ix, &err), &err);
    int64_t g = st_xm_index_cell_outside(ix);
    CHECK(g == -1 || g == got);
    st_xm_index_free(ix);
    /* all inside: none */
    int64_t m = 0;
    for (int i = 0; i < N; i++) {
      int64_t p = -1;
      if (!isfinite(ra[i])) continue;
      CHECK_OK(st_hpx_ang2pix(order, ra[i], dec[i], &p, &err), &err);
      if (p == pix) ra[m] = ra[i], dec[m] = dec[i], m++;
    }
    CHECK(st_xm_cell_outside(order, pix, ra, dec, m) <= 2);
  }
  CHECK_EQ_I64(st_xm_cell_outside(-1, -1, ra, dec, 10), 0);
}
