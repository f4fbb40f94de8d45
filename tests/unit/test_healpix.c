/*
** This file implements unit tests of the HEALPix module's internal
** invariants (the comparisons with healpy are in tests/test_healpix.py):
** batch == scalar ang2pix, pix2ang/ang2pix and nest/ring round trips,
** neighbour symmetry, pixel radius bounds, MOC algebra laws and coverage
** inclusiveness.
*/
#include "test.h"

#include <stdlib.h>

#include "healpix/hpx.h"

/* Small deterministic generator (xorshift64*). */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static double rand_dec(void) { return asin(2 * urand() - 1) * (180.0 / M_PI); }

TEST(healpix_batch_matches_scalar) {
  enum { N = 200003 };
  double *ra = malloc(N * sizeof *ra), *dec = malloc(N * sizeof *dec);
  int64_t *out = malloc(N * sizeof *out);
  for (int i = 0; i < N; i++) {
    ra[i] = urand() * 380 - 10;
    dec[i] = rand_dec();
    if (i % 97 == 0) dec[i] = (i % 2) ? 90.0 : -90.0;
    if (i % 89 == 0) dec[i] = 89.5 + 0.5 * urand();
    if (i % 83 == 0) dec[i] = asin(2.0 / 3.0) * (180.0 / M_PI) + (urand() - 0.5) * 1e-12;
    if (i % 79 == 0) ra[i] = (i % 3) * 90.0 + (urand() - 0.5) * 1e-13;
    if (i % 73 == 0) ra[i] = 360.0;
    if (i % 71 == 0) ra[i] = (urand() - 0.5) * 1e6;
    if (i % 67 == 0) ra[i] = -360.0 * (double)(i % 5) + (i % 2 ? -1e-300 : -5e-324);
    if (i % 61 == 0) ra[i] = -urand() * 1e-13;
    if (i % 59 == 0) ra[i] = (urand() - 0.5) * 1e17;
  }
  int orders[] = {0, 1, 5, 10, 19, 28, 29};
  int tested = 0;
  for (int isa = ST_HPX_ISA_SCALAR; isa <= ST_HPX_ISA_AVX512; isa++) {
    st_error err = {0};
    if (st_hpx_ang2pix_batch_isa(isa, 0, ra, dec, 1, out, &err) == ST_ERR_UNSUPPORTED) {
      printf("(instruction set %d not available on this CPU)\n", isa);
      continue;
    }
    tested++;
    for (unsigned k = 0; k < sizeof orders / sizeof *orders; k++) {
      /* odd lengths exercise the scalar tails */
      CHECK_OK(st_hpx_ang2pix_batch_isa(isa, orders[k], ra, dec, N - (int)k, out, &err), &err);
      for (int i = 0; i < N - (int)k; i++) {
        int64_t p;
        CHECK_OK(st_hpx_ang2pix(orders[k], ra[i], dec[i], &p, &err), &err);
        if (p != out[i])
          fprintf(stderr, "isa %d order %d ra %.17g dec %.17g\n", isa, orders[k], ra[i], dec[i]);
        CHECK_EQ_I64(out[i], p);
      }
    }
    /* invalid points are reported by index on every path */
    double sra[37], sdec[37];
    for (int i = 0; i < 37; i++) sra[i] = sdec[i] = 1.0;
    sdec[29] = -90.5;
    CHECK(st_hpx_ang2pix_batch_isa(isa, 7, sra, sdec, 37, out, &err) == ST_ERR_INVALID);
    CHECK(strncmp(err.msg, "point 29:", 9) == 0);
  }
  CHECK(tested >= 1);
  free(ra);
  free(dec);
  free(out);
}

TEST(healpix_invalid_input) {
  st_error err = {0};
  int64_t p, out[4];
  CHECK(st_hpx_ang2pix(5, 10, 90.0000001, &p, &err) == ST_ERR_INVALID);
  CHECK(strstr(err.msg, "dec") != NULL);
  CHECK(st_hpx_ang2pix(5, 10, NAN, &p, &err) == ST_ERR_INVALID);
  CHECK(st_hpx_ang2pix(5, INFINITY, 0, &p, &err) == ST_ERR_INVALID);
  CHECK(st_hpx_ang2pix(30, 10, 0, &p, &err) == ST_ERR_INVALID);
  CHECK(st_hpx_ang2pix(-1, 10, 0, &p, &err) == ST_ERR_INVALID);
  double ra[6] = {1, 2, 3, 4, 5, 6}, dec[6] = {0, 0, 0, 0, 0, -91};
  CHECK(st_hpx_ang2pix_batch(3, ra, dec, 6, (int64_t[6]){0}, &err) == ST_ERR_INVALID);
  CHECK(strncmp(err.msg, "point 5:", 8) == 0);
  dec[5] = 0;
  dec[2] = NAN;
  CHECK(st_hpx_ang2pix_batch(3, ra, dec, 4, out, &err) == ST_ERR_INVALID);
  CHECK(strncmp(err.msg, "point 2:", 8) == 0);
  CHECK(st_hpx_pix2ang(2, 12 * 16, &ra[0], &dec[0], &err) == ST_ERR_INVALID);
  CHECK(st_hpx_neighbours(2, -1, (int64_t[8]){0}, &err) == ST_ERR_INVALID);
  CHECK(st_hpx_nest2ring(29, INT64_C(12) << 58, &p, &err) == ST_ERR_INVALID);
  /* RA wraps modulo 360 */
  int64_t a, b;
  CHECK_OK(st_hpx_ang2pix(12, 10.25, 33.5, &a, &err), &err);
  CHECK_OK(st_hpx_ang2pix(12, 10.25 + 720, 33.5, &b, &err), &err);
  CHECK_EQ_I64(a, b);
  CHECK_OK(st_hpx_ang2pix(12, 10.25 - 360, 33.5, &b, &err), &err);
  CHECK_EQ_I64(a, b);
}

TEST(healpix_roundtrips) {
  st_error err = {0};
  for (int order = 0; order <= 29; order++) {
    int64_t npix = st_hpx_npix(order);
    for (int t = 0; t < 3000; t++) {
      int64_t pix = t < 48 ? t % npix : (int64_t)(urand() * (double)npix);
      if (pix >= npix) pix = npix - 1;
      double ra, dec, v[3];
      int64_t back, ring, nest;
      CHECK_OK(st_hpx_pix2ang(order, pix, &ra, &dec, &err), &err);
      CHECK(ra >= 0 && ra < 360 && dec >= -90 && dec <= 90);
      CHECK_OK(st_hpx_ang2pix(order, ra, dec, &back, &err), &err);
      CHECK_EQ_I64(back, pix);
      CHECK_OK(st_hpx_pix2vec(order, pix, v, &err), &err);
      CHECK(fabs(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - 1) < 1e-14);
      CHECK_OK(st_hpx_vec2pix(order, v, &back, &err), &err);
      CHECK_EQ_I64(back, pix);
      CHECK_OK(st_hpx_nest2ring(order, pix, &ring, &err), &err);
      CHECK(ring >= 0 && ring < npix);
      CHECK_OK(st_hpx_ring2nest(order, ring, &nest, &err), &err);
      CHECK_EQ_I64(nest, pix);
      /* coarser pixel is a prefix */
      if (order > 0) {
        int64_t parent;
        CHECK_OK(st_hpx_ang2pix(order - 1, ra, dec, &parent, &err), &err);
        CHECK_EQ_I64(parent, pix >> 2);
      }
    }
  }
}

TEST(healpix_neighbours_symmetric) {
  st_error err = {0};
  for (int order = 0; order <= 29; order += (order < 4 ? 1 : 5)) {
    int64_t npix = st_hpx_npix(order);
    for (int t = 0; t < 2000; t++) {
      int64_t pix = t < 200 ? t % npix : (int64_t)(urand() * (double)npix);
      int64_t nb[8], nb2[8];
      CHECK_OK(st_hpx_neighbours(order, pix, nb, &err), &err);
      int missing = 0;
      for (int i = 0; i < 8; i++) {
        if (nb[i] < 0) {
          missing++;
          continue;
        }
        CHECK(nb[i] != pix && nb[i] < npix);
        CHECK_OK(st_hpx_neighbours(order, nb[i], nb2, &err), &err);
        int found = 0;
        for (int j = 0; j < 8; j++) found |= nb2[j] == pix;
        CHECK(found);
      }
      CHECK(missing <= 2);
    }
  }
}

TEST(healpix_pixel_radius_bound) {
  st_error err = {0};
  for (int order = 0; order <= 29; order += 3) {
    double rmax = st_hpx_max_pixrad(order);
    for (int t = 0; t < 2000; t++) {
      int64_t pix = (int64_t)(urand() * (double)st_hpx_npix(order));
      double ra, dec, cra[4], cdec[4];
      CHECK_OK(st_hpx_pix2ang(order, pix, &ra, &dec, &err), &err);
      CHECK_OK(st_hpx_corners(order, pix, cra, cdec, &err), &err);
      for (int k = 0; k < 4; k++) CHECK(st_hpx_separation(ra, dec, cra[k], cdec[k]) <= rmax * (1 + 1e-9));
    }
  }
  CHECK(st_hpx_max_pixrad(30) < 0);
}

/* Region coverage (hpx_cover.c) bounds a pixel by the disc through its
** farthest corner: check that no point of the pixel's boundary is farther
** than its farthest corner. */
TEST(healpix_corners_are_farthest) {
  for (int order = 0; order <= 29; order += (order < 6 ? 1 : 4)) {
    double inv = 1.0 / (double)(INT64_C(1) << order);
    for (int t = 0; t < 1500; t++) {
      int64_t pix = t < 48 ? t % st_hpx_npix(order) : (int64_t)(urand() * (double)st_hpx_npix(order));
      int64_t x, y;
      int f;
      st_hpx_nest2xyf(order, pix, &x, &y, &f);
      double c[3], v[3], rc = 0;
      st_hpx_xyf2vec((x + 0.5) * inv, (y + 0.5) * inv, f, c);
      for (int k = 0; k < 4; k++) {
        st_hpx_xyf2vec((x + (k & 1)) * inv, (y + (k >> 1)) * inv, f, v);
        rc = fmax(rc, st_hpx_vec_angle(c, v));
      }
      for (int e = 0; e < 4; e++)
        for (int sdx = 0; sdx <= 32; sdx++) {
          double u = sdx / 32.0;
          double fx = e < 2 ? x + u : x + (e - 2), fy = e < 2 ? y + e : y + u;
          st_hpx_xyf2vec(fx * inv, fy * inv, f, v);
          CHECK(st_hpx_vec_angle(c, v) <= rc * (1 + 1e-12) + 1e-15);
        }
    }
  }
}

TEST(healpix_separation_accuracy) {
  /* tiny: 1e-10 deg along a meridian; near 180: antipode minus 1e-9 deg */
  CHECK(fabs(st_hpx_separation(10, 0, 10, 1e-10) - 1e-10) < 1e-24);
  CHECK(fabs(st_hpx_separation(0, 0, 3e-11, 0) - 3e-11) < 1e-24);
  CHECK(fabs(st_hpx_separation(10, 0, 190 - 1e-9, 0) - (180 - 1e-9)) < 1e-12);
  CHECK(fabs(st_hpx_separation(0, 90, 123, -90) - 180) < 1e-12);
  CHECK(st_hpx_separation(33, 44, 33, 44) == 0);
}

static void fill_moc(st_moc *m, int n, int order) {
  st_moc_clear(m);
  m->order = order;
  int s = 2 * (29 - order);
  for (int i = 0; i < n; i++) {
    int64_t p = (int64_t)(urand() * (double)st_hpx_npix(order));
    int64_t len = 1 + (int64_t)(urand() * 5);
    int64_t hi = p + len > st_hpx_npix(order) ? st_hpx_npix(order) : p + len;
    st_moc_add_range(m, p << s, hi << s, NULL);
  }
  st_moc_normalize(m);
}

TEST(healpix_moc_algebra) {
  st_error err = {0};
  st_moc a, b, u, x, ca, cb, t1, t2;
  st_moc *all[] = {&a, &b, &u, &x, &ca, &cb, &t1, &t2};
  for (int i = 0; i < 8; i++) st_moc_init(all[i], 8);
  for (int round = 0; round < 50; round++) {
    fill_moc(&a, 1 + round * 3, 8);
    fill_moc(&b, 1 + round * 2, 8);
    for (int64_t i = 1; i < a.n; i++) CHECK(a.r[2 * i] > a.r[2 * i - 1]);
    CHECK_OK(st_moc_union(&a, &b, &u, &err), &err);
    CHECK_OK(st_moc_intersection(&a, &b, &x, &err), &err);
    CHECK_OK(st_moc_complement(&a, &ca, &err), &err);
    CHECK_OK(st_moc_complement(&b, &cb, &err), &err);
    /* De Morgan: ~(a | b) == ~a & ~b */
    CHECK_OK(st_moc_complement(&u, &t1, &err), &err);
    CHECK_OK(st_moc_intersection(&ca, &cb, &t2, &err), &err);
    CHECK(st_moc_equal(&t1, &t2));
    /* a & ~a empty, a | ~a everything */
    CHECK_OK(st_moc_intersection(&a, &ca, &t1, &err), &err);
    CHECK_EQ_I64(t1.n, 0);
    CHECK_OK(st_moc_union(&a, &ca, &t1, &err), &err);
    CHECK(t1.n == 1 && t1.r[0] == 0 && t1.r[1] == (INT64_C(12) << 58));
    /* membership agrees with the definition on random points */
    for (int t = 0; t < 2000; t++) {
      int64_t h = (int64_t)(urand() * (double)(INT64_C(12) << 58));
      bool ia = st_moc_contains(&a, h), ib = st_moc_contains(&b, h);
      CHECK(st_moc_contains(&u, h) == (ia || ib));
      CHECK(st_moc_contains(&x, h) == (ia && ib));
      CHECK(st_moc_contains(&ca, h) == !ia);
    }
    /* a cell intersects iff its pixels at order 8 meet the MOC */
    for (int t = 0; t < 300; t++) {
      int k = t % 9;
      int64_t cell = (int64_t)(urand() * (double)st_hpx_npix(k)), hit = 0;
      int s = 2 * (8 - k);
      for (int64_t q = cell << s; q < (cell + 1) << s && !hit; q++)
        hit = st_moc_contains(&a, q << 42);
      CHECK(st_moc_intersects_cell(&a, k, cell) == (hit != 0));
    }
    CHECK(!st_moc_intersects_cell(&a, 3, -1) && !st_moc_intersects_cell(&a, 30, 0));
    /* cells round trip */
    int64_t nc = st_moc_ncells(&u), got;
    int *ord = malloc((size_t)(nc + 1) * sizeof *ord);
    int64_t *pix = malloc((size_t)(nc + 1) * sizeof *pix);
    CHECK_OK(st_moc_to_cells(&u, ord, pix, nc, &got, &err), &err);
    CHECK_EQ_I64(got, nc);
    CHECK_OK(st_moc_from_cells(ord, pix, nc, &t1, &err), &err);
    free(ord);
    free(pix);
    CHECK(st_moc_equal(&t1, &u));
    /* degrade: superset, aligned; npix/pixels consistent */
    CHECK_OK(st_moc_degrade(&u, 4, &t2, &err), &err);
    CHECK_OK(st_moc_intersection(&t2, &u, &t1, &err), &err);
    CHECK(st_moc_equal(&t1, &u));
    for (int64_t i = 0; i < 2 * t2.n; i++) CHECK(t2.r[i] % (INT64_C(1) << 50) == 0);
    CHECK_EQ_I64(st_moc_npix(&t2, 4), st_moc_npix(&u, 4));
    CHECK_OK(st_moc_upgrade(&t2, 10, &t1, &err), &err);
    CHECK(st_moc_equal(&t1, &t2) && t1.order == 10);
    CHECK(st_moc_degrade(&t2, 6, &t1, &err) == ST_ERR_INVALID);
  }
  for (int i = 0; i < 8; i++) st_moc_free(all[i]);
}

TEST(healpix_moc_limits) {
  st_error err = {0};
  st_moc m;
  st_moc_init(&m, 29);
  m.max_ranges = 100;
  CHECK(st_hpx_cone_moc(16, 10, 10, 5, &m, &err) == ST_ERR_LIMIT);
  m.max_ranges = 1 << 22;
  CHECK_OK(st_hpx_cone_moc(6, 10, 10, 5, &m, &err), &err);
  int64_t small[4], n;
  CHECK(st_moc_pixels(&m, 6, small, 4, &n, &err) == ST_ERR_LIMIT);
  CHECK(n == st_moc_npix(&m, 6));
  CHECK(st_moc_add_range(&m, -1, 5, &err) == ST_ERR_INVALID);
  st_moc_free(&m);
}

/* Points drawn inside each region must fall in its coverage. */
TEST(healpix_coverage_inclusive) {
  st_error err = {0};
  st_moc m;
  st_moc_init(&m, 0);
  for (int round = 0; round < 60; round++) {
    int order = 3 + round % 12;
    double ra0 = urand() * 360, dec0 = rand_dec(), r = pow(10, -3 + 4.2 * urand());
    if (r > 170) r = 170;
    CHECK_OK(st_hpx_cone_moc(order, ra0, dec0, r, &m, &err), &err);
    int hit = 0;
    for (int t = 0; t < 20000 && hit < 300; t++) {
      double ra = urand() * 360, dec = rand_dec();
      if (t % 2) { /* near the centre */
        ra = ra0 + (urand() - 0.5) * 2.2 * r / fmax(cos(dec0 * M_PI / 180), 1e-3);
        dec = fmax(-90, fmin(90, dec0 + (urand() - 0.5) * 2.2 * r));
      }
      if (st_hpx_separation(ra0, dec0, ra, dec) > r) continue;
      hit++;
      int64_t p;
      CHECK_OK(st_hpx_ang2pix(29, ra, dec, &p, &err), &err);
      CHECK(st_moc_contains(&m, p));
    }
    /* box */
    double rlo = urand() * 360, w = urand() * 120, dlo = rand_dec(), dhi = rand_dec();
    if (dlo > dhi) { double t = dlo; dlo = dhi; dhi = t; }
    CHECK_OK(st_hpx_box_moc(order, rlo, rlo + w, dlo, dhi, &m, &err), &err);
    for (int t = 0; t < 500; t++) {
      double ra = rlo + urand() * w, dec = dlo + urand() * (dhi - dlo);
      int64_t p;
      CHECK_OK(st_hpx_ang2pix(29, ra, dec, &p, &err), &err);
      CHECK(st_moc_contains(&m, p));
    }
  }
  st_moc_free(&m);
}
