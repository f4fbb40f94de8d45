/*
** Unit tests for st_hpx_cone_pixels_small (src/healpix/hpx_cover.c), the
** neighbour walk the light curves use to cover arcsecond cones.
** Independent check: points sampled inside each cone (uniformly in the
** disc, and on its boundary circle) are located with st_hpx_ang2pix (which
** tests/test_healpix.py checks against healpy); every such pixel must be in
** the walk's result.  The walk must also agree with the descent
** (st_hpx_cone_moc) on nearly every cone: it may only add or drop pixels
** that do not meet the cone, which are rare.  Cones sit at the poles,
** across RA 0, on base-pixel corners and at random.
*/
#include <stdlib.h>

#include "healpix/hpx.h"
#include "test.h"

#define CS_PI 3.141592653589793238462643383279502884197

static uint64_t cs_rng(uint64_t *s) {
  *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
  return *s;
}
static double cs_unit(uint64_t *s) { return (double)(cs_rng(s) >> 11) * (1.0 / 9007199254740992.0); }

/* The point at angular distance d (rad) from (ra, dec) (deg) in direction az. */
static void cs_offset(double ra, double dec, double d, double az, double *ora, double *odec) {
  double r = ra * CS_PI / 180, t = dec * CS_PI / 180;
  double sd = sin(t) * cos(d) + cos(t) * sin(d) * cos(az);
  if (sd > 1) sd = 1;
  if (sd < -1) sd = -1;
  double od = asin(sd);
  double y = sin(az) * sin(d) * cos(t), x = cos(d) - sin(t) * sd;
  double oa = r + atan2(y, x);
  oa = fmod(oa, 2 * CS_PI);
  if (oa < 0) oa += 2 * CS_PI;
  *ora = oa * 180 / CS_PI;
  *odec = od * 180 / CS_PI;
}

static bool cs_has(const int64_t *v, int n, int64_t p) {
  for (int i = 0; i < n; i++)
    if (v[i] == p) return true;
  return false;
}

TEST(cone_pixels_small_covers_cone) {
  uint64_t s = 88172645463325252ull;
  const double corner_dec = asin(2.0 / 3.0) * 180 / CS_PI;
  int cones = 0, same = 0;
  for (int c = 0; c < 3000; c++) {
    int order = 3 + (int)(cs_rng(&s) % 20);
    double ra, dec;
    switch (c % 6) {
    case 0: ra = 360 * cs_unit(&s); dec = asin(2 * cs_unit(&s) - 1) * 180 / CS_PI; break;
    case 1: ra = 360 * cs_unit(&s); dec = (c & 8 ? 90 : -90) * (1 - 1e-7 * cs_unit(&s)); break;
    case 2: ra = (c & 8) ? 1e-9 * cs_unit(&s) : 360 - 1e-9 * cs_unit(&s); dec = 60 * cs_unit(&s) - 30; break;
    case 3: ra = 45.0 * (double)(cs_rng(&s) % 8); dec = (c & 8 ? 1 : -1) * corner_dec; break;
    case 4: ra = 90.0 * (double)(cs_rng(&s) % 4); dec = 0; break;
    default: ra = 360 * cs_unit(&s); dec = (c & 8 ? 90 : -90); break;
    }
    if (ra >= 360) ra = 0;
    double pixrad = st_hpx_max_pixrad(order);
    double r = (c % 7 == 0) ? 0 : pixrad * cs_unit(&s);
    int64_t got[32];
    int n = 0;
    st_error e = {0};
    int rc = st_hpx_cone_pixels_small(order, ra, dec, r, got, 32, &n, &e);
    CHECK(rc == 0 || rc == ST_ERR_LIMIT);
    if (rc) continue;
    cones++;
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) CHECK(got[i] != got[j]);
    /* sampled points of the cone */
    for (int k = 0; k < 400; k++) {
      double d = (k < 100 ? 1.0 : sqrt(cs_unit(&s))) * r * CS_PI / 180, az = 2 * CS_PI * cs_unit(&s);
      double pra, pdec;
      cs_offset(ra, dec, d, az, &pra, &pdec);
      if (pra >= 360) pra = 0;
      int64_t p;
      CHECK_OK(st_hpx_ang2pix(order, pra, pdec, &p, &e), &e);
      if (!cs_has(got, n, p))
        fprintf(stderr, "order %d cone (%.17g, %.17g, r %.17g): point (%.17g, %.17g) pixel %lld missing\n",
                order, ra, dec, r, pra, pdec, (long long)p);
      CHECK(cs_has(got, n, p));
    }
    /* the descent's cover */
    st_moc m;
    st_moc_init(&m, order);
    CHECK_OK(st_hpx_cone_moc(order, ra, dec, r, &m, &e), &e);
    int64_t ref[256], nref = 0;
    CHECK_OK(st_moc_pixels(&m, order, ref, 256, &nref, &e), &e);
    st_moc_free(&m);
    bool eq = nref == n;
    for (int i = 0; i < n && eq; i++) eq = cs_has(ref, (int)nref, got[i]);
    same += eq;
  }
  CHECK(cones >= 2900);
  fprintf(stderr, "cone_pixels_small: %d cones, %d equal to the descent\n", cones, same);
  CHECK(same >= cones * 99 / 100);
}

TEST(cone_pixels_small_limits) {
  int64_t got[4];
  int n = 0;
  st_error e = {0};
  /* a cone of many pixels does not fit: ST_ERR_LIMIT, the caller descends */
  CHECK_EQ_I64(st_hpx_cone_pixels_small(10, 10, 20, 2.0, got, 4, &n, &e), ST_ERR_LIMIT);
  CHECK_EQ_I64(st_hpx_cone_pixels_small(10, 10, 95, 0.001, got, 4, &n, &e), ST_ERR_INVALID);
  CHECK_EQ_I64(st_hpx_cone_pixels_small(30, 10, 20, 0.001, got, 4, &n, &e), ST_ERR_INVALID);
  CHECK_EQ_I64(st_hpx_cone_pixels_small(10, 10, 20, -1, got, 4, &n, &e), ST_ERR_INVALID);
}
