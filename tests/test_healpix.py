"""HEALPix module against healpy (and astropy/numpy geometry) as oracles.

The big comparisons call libskytile.so through ctypes with numpy arrays (not
possible in the ASan build: those tests skip there); the CLI tests run in
every mode with smaller point counts.
"""
import ctypes
import os
from ctypes import POINTER, c_double, c_int, c_int64

import numpy as np
import pytest

import stlib
from conftest import SAN, run_skytile
from stlib import StError

hp = pytest.importorskip("healpy")

NPIX29 = 12 << 58
# Property tests draw random regions from fixed seeds; set SKYTILE_TEST_SEED to
# explore other draws (e.g. in a loop) without editing the tests.
SEED = int(os.environ.get("SKYTILE_TEST_SEED", "0"))


class StMoc(ctypes.Structure):
    _fields_ = [("r", POINTER(c_int64)), ("n", c_int64), ("cap", c_int64),
                ("max_ranges", c_int64), ("order", c_int)]


D = POINTER(c_double)
I64 = POINTER(c_int64)


@pytest.fixture(scope="module")
def lib():
    if SAN:
        pytest.skip("the ASan build cannot be loaded with ctypes")
    return stlib.lib()


def _p(a, t):
    return a.ctypes.data_as(t)


def ang2pix(lib, order, ra, dec):
    ra = np.ascontiguousarray(ra, dtype=np.float64)
    dec = np.ascontiguousarray(dec, dtype=np.float64)
    out = np.empty(len(ra), np.int64)
    err = StError()
    rc = lib.st_hpx_ang2pix_batch(order, _p(ra, D), _p(dec, D), len(ra), _p(out, I64), ctypes.byref(err))
    assert rc == 0, err.msg
    return out


def region_moc(lib, fn, order, *args):
    """Runs a coverage function; returns (ranges (n, 2), pixels at order)."""
    m = StMoc()
    lib.st_moc_init(ctypes.byref(m), order)
    err = StError()
    try:
        rc = getattr(lib, fn)(order, *args, ctypes.byref(m), ctypes.byref(err))
        assert rc == 0, err.msg
        ranges = np.ctypeslib.as_array(m.r, shape=(2 * m.n,)).reshape(-1, 2).copy() if m.n else np.zeros((0, 2), np.int64)
        n = lib.st_moc_npix(ctypes.byref(m), order)
        pix = np.empty(max(n, 1), np.int64)
        got = c_int64()
        assert lib.st_moc_pixels(ctypes.byref(m), order, _p(pix, I64), n, ctypes.byref(got), ctypes.byref(err)) == 0
        return ranges, pix[:got.value]
    finally:
        lib.st_moc_free(ctypes.byref(m))


def in_ranges(ranges, h):
    """Membership of order-29 indices h in sorted [lo, hi) ranges."""
    if len(ranges) == 0:
        return np.zeros(len(h), bool)
    i = np.searchsorted(ranges[:, 0], h, side="right") - 1
    ok = i >= 0
    i = np.clip(i, 0, None)
    return ok & (h < ranges[i, 1])


def oracle_points(rng, n_uniform=1_000_000):
    """Uniform points plus the hard cases listed in the issue."""
    ra = [rng.uniform(0, 360, n_uniform)]
    dec = [np.degrees(np.arcsin(rng.uniform(-1, 1, n_uniform)))]
    # RA outside [0, 360) and exactly 0 / 360 / -0.0
    k = 50_000
    ra.append(rng.uniform(-720, 1080, k)); dec.append(np.degrees(np.arcsin(rng.uniform(-1, 1, k))))
    edge_ra = np.array([0.0, -0.0, 360.0, 720.0, -360.0, np.nextafter(360, 0), np.nextafter(0, 1),
                        np.nextafter(0, -1), 90.0, 180.0, 270.0, 45.0, 135.0, 225.0, 315.0])
    ra.append(np.repeat(edge_ra, 2000)); dec.append(np.degrees(np.arcsin(rng.uniform(-1, 1, 2000 * len(edge_ra)))))
    # poles: exactly +-90 and very close
    k = 20_000
    ra.append(rng.uniform(-10, 370, k)); dec.append(np.where(rng.random(k) < 0.5, 90.0, -90.0))
    off = 10.0 ** rng.uniform(-15, 0, k)
    ra.append(rng.uniform(0, 360, k)); dec.append(np.where(rng.random(k) < 0.5, 90.0 - off, -90.0 + off))
    # equatorial / polar face boundary z = +-2/3, and tiny steps around it
    zb = np.degrees(np.arcsin(2.0 / 3.0))
    k = 20_000
    steps = rng.integers(-40, 40, k)
    d0 = np.where(rng.random(k) < 0.5, zb, -zb) + steps * 1e-15 * 10.0 ** rng.integers(0, 4, k)
    ra.append(rng.uniform(0, 360, k)); dec.append(d0)
    # face corner meridians (multiples of 45 deg) with tiny offsets
    ra.append(rng.integers(0, 8, k) * 45.0 + rng.normal(0, 1e-12, k)); dec.append(np.degrees(np.arcsin(rng.uniform(-1, 1, k))))
    # pixel edges at several orders: boundary points, then tiny offsets
    for order in (3, 10, 19, 29):
        nside = 1 << order
        pix = rng.integers(0, 12 * nside * nside, 4000)
        v = hp.boundaries(nside, pix, step=3, nest=True)  # (n, 3, 12)
        lon, lat = hp.vec2ang(np.moveaxis(v, 1, 2).reshape(-1, 3), lonlat=True)
        for scale in (0.0, 1e-14, 1e-12, 1e-10):
            ra.append(lon + rng.normal(0, scale, len(lon)) if scale else lon)
            dec.append(np.clip(lat + rng.normal(0, scale, len(lat)) if scale else lat, -90, 90))
    return np.concatenate(ra), np.concatenate(dec)


@pytest.fixture(scope="module")
def points():
    return oracle_points(np.random.default_rng(20260421 + SEED))


@pytest.mark.parametrize("order", [0, 5, 10, 19, 29])
def test_ang2pix_bit_identical_to_healpy(lib, points, order):
    """The best batch path of this CPU (AVX-512, AVX2 or scalar); the others
    are compared with the scalar code in tests/unit and via the CLI below."""
    ra, dec = points
    assert len(ra) >= 1_000_000
    want = hp.ang2pix(1 << order, ra, dec, nest=True, lonlat=True)
    got = ang2pix(lib, order, ra, dec)
    bad = np.nonzero(got != want)[0]
    assert len(bad) == 0, [(ra[i], dec[i], got[i], want[i]) for i in bad[:5]]
    if order == 29:  # coarser orders are prefixes of _healpix_29
        assert np.array_equal(got >> 20, hp.ang2pix(1 << 19, ra, dec, nest=True, lonlat=True))


def test_ang2pix_scalar_api_matches_healpy(lib, points):
    ra, dec = points
    idx = np.random.default_rng(5 + SEED).choice(len(ra), 20_000, replace=False)
    want = hp.ang2pix(1 << 29, ra[idx], dec[idx], nest=True, lonlat=True)
    out = c_int64()
    err = StError()
    for i, w in zip(idx, want):
        assert lib.st_hpx_ang2pix(29, ra[i], dec[i], ctypes.byref(out), ctypes.byref(err)) == 0
        assert out.value == w, (ra[i], dec[i])


def test_ang2pix_rejects_bad_points(lib):
    err = StError()
    out = c_int64()
    for ra, dec in [(10, 90.000001), (10, -90.5), (10, float("nan")), (float("inf"), 0), (float("nan"), 0)]:
        assert lib.st_hpx_ang2pix(10, ra, dec, ctypes.byref(out), ctypes.byref(err)) == 1
    ra = np.zeros(1000)
    dec = np.zeros(1000)
    dec[637] = 91
    o = np.empty(1000, np.int64)
    rc = lib.st_hpx_ang2pix_batch(10, _p(ra, D), _p(dec, D), 1000, _p(o, I64), ctypes.byref(err))
    assert rc == 1 and err.msg.startswith(b"point 637:")


def test_pix2ang_matches_healpy(lib):
    rng = np.random.default_rng(7 + SEED)
    for order in (0, 1, 5, 12, 20, 29):
        npix = 12 << (2 * order)
        pix = np.unique(np.concatenate([np.arange(min(npix, 2000)), rng.integers(0, npix, 50_000)]))
        ra = np.empty(len(pix)); dec = np.empty(len(pix))
        err = StError()
        assert lib.st_hpx_pix2ang_batch(order, _p(pix, I64), len(pix), _p(ra, D), _p(dec, D), ctypes.byref(err)) == 0
        lon, lat = hp.pix2ang(1 << order, pix, nest=True, lonlat=True)
        dra = np.abs((ra - lon + 180) % 360 - 180) * np.cos(np.radians(lat))
        assert np.max(dra) < 1e-10 and np.max(np.abs(dec - lat)) < 1e-10
        assert np.array_equal(ang2pix(lib, order, ra, dec), pix)  # round trip


def test_vec2pix_pix2vec_match_healpy(lib):
    rng = np.random.default_rng(8 + SEED)
    v = rng.normal(size=(20000, 3)) * 10.0 ** rng.uniform(-3, 3, (20000, 1))
    v[:100, :2] *= 1e-9  # near the poles
    vin = (c_double * 3)()
    out = c_int64()
    err = StError()
    for order in (0, 9, 29):
        want = hp.vec2pix(1 << order, v[:, 0], v[:, 1], v[:, 2], nest=True)
        for x, w in zip(v, want):
            vin[:] = x.tolist()
            assert lib.st_hpx_vec2pix(order, vin, ctypes.byref(out), ctypes.byref(err)) == 0
            assert out.value == w, (order, x)
        pix = rng.integers(0, 12 << (2 * order), 2000)
        hv = np.array(hp.pix2vec(1 << order, pix, nest=True)).T
        for p, w in zip(pix, hv):
            assert lib.st_hpx_pix2vec(order, int(p), vin, ctypes.byref(err)) == 0
            assert np.max(np.abs(np.array(vin[:]) - w)) < 1e-13
    vin[:] = [0.0, 0.0, 0.0]
    assert lib.st_hpx_vec2pix(3, vin, ctypes.byref(out), ctypes.byref(err)) == 1


def test_neighbours_identical_to_healpy(lib):
    rng = np.random.default_rng(11 + SEED)
    out = (c_int64 * 8)()
    err = StError()
    for order in (0, 1, 2, 3, 6, 13, 29):
        nside = 1 << order
        npix = 12 * nside * nside
        if npix <= 768:
            pix = np.arange(npix)
        else:  # random pixels plus all face corners and edge pixels nearby
            corners = []
            for f in range(12):
                for x in (0, 1, nside - 2, nside - 1):
                    for y in (0, 1, nside - 2, nside - 1):
                        corners.append(hp.xyf2pix(nside, x, y, f, nest=True))
            pix = np.unique(np.concatenate([rng.integers(0, npix, 3000), corners]))
        want = hp.get_all_neighbours(nside, pix, nest=True).T
        for p, w in zip(pix, want):
            assert lib.st_hpx_neighbours(order, int(p), out, ctypes.byref(err)) == 0
            assert list(out) == list(w), (order, p)


def test_nest_ring_identical_to_healpy(lib):
    rng = np.random.default_rng(12 + SEED)
    r = c_int64()
    err = StError()
    for order in (0, 1, 4, 11, 22, 29):
        nside = 1 << order
        npix = 12 * nside * nside
        pix = np.unique(np.concatenate([np.arange(min(npix, 300)), npix - 1 - np.arange(min(npix, 300)),
                                        rng.integers(0, npix, 3000)]))
        want_ring = hp.nest2ring(nside, pix)
        want_nest = hp.ring2nest(nside, pix)
        for p, wr, wn in zip(pix, want_ring, want_nest):
            assert lib.st_hpx_nest2ring(order, int(p), ctypes.byref(r), ctypes.byref(err)) == 0 and r.value == wr
            assert lib.st_hpx_ring2nest(order, int(p), ctypes.byref(r), ctypes.byref(err)) == 0 and r.value == wn


def test_corners_and_max_pixrad_match_healpy(lib):
    rng = np.random.default_rng(13 + SEED)
    cra = (c_double * 4)()
    cdec = (c_double * 4)()
    err = StError()
    for order in (0, 2, 9, 17, 29):
        nside = 1 << order
        assert abs(lib.st_hpx_max_pixrad(order) - np.degrees(hp.max_pixrad(nside))) < 1e-12 * max(1, np.degrees(hp.max_pixrad(nside)))
        pix = rng.integers(0, 12 * nside * nside, 500)
        b = hp.boundaries(nside, pix, step=1, nest=True)  # (n, 3, 4): N, W, S, E
        for p, vb in zip(pix, b):
            assert lib.st_hpx_corners(order, int(p), cra, cdec, ctypes.byref(err)) == 0
            v = np.array(hp.ang2vec(np.array(cra[:]), np.array(cdec[:]), lonlat=True))
            assert np.max(np.abs(v - vb.T)) < 1e-12, (order, p)


def test_separation_accuracy(lib):
    from astropy.coordinates import angular_separation
    rng = np.random.default_rng(14 + SEED)
    ra1, ra2 = rng.uniform(0, 360, (2, 2000))
    d1, d2 = np.degrees(np.arcsin(rng.uniform(-1, 1, (2, 2000))))
    want = np.degrees(angular_separation(*np.radians([ra1, d1, ra2, d2])))
    got = np.array([lib.st_hpx_separation(*a) for a in zip(ra1, d1, ra2, d2)])
    assert np.max(np.abs(got - want)) < 1e-12
    # tiny separations (exact along a meridian at dec 0 / along the equator)
    for eps in (1e-6, 1e-10, 1e-14):
        assert abs(lib.st_hpx_separation(0, 0, 0, eps) - eps) <= 1e-15 * eps
        assert abs(lib.st_hpx_separation(0, 0, eps, 0) - eps) <= 1e-15 * eps
        # near 180 degrees: antipode minus eps
        assert abs(lib.st_hpx_separation(0, 0, 180 - eps, 0) - (180 - eps)) < 1e-13
    assert abs(lib.st_hpx_separation(10, 90, 77, -90) - 180) < 1e-13


def test_cone_superset_of_query_disc(lib):
    rng = np.random.default_rng(15 + SEED)
    worst = 0
    for i in range(120):
        order = int(rng.integers(2, 13))
        nside = 1 << order
        ra, dec = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
        if i % 10 == 0:
            dec = rng.choice([90.0, -90.0, 89.99, -89.99])
        pixsize = np.degrees(hp.nside2resol(nside))
        r = min(pixsize * 10 ** rng.uniform(-2, 1.3), 60.0)
        _, ours = region_moc(lib, "st_hpx_cone_moc", order, ra, dec, r)
        vec = hp.ang2vec(ra, dec, lonlat=True)
        exact = hp.query_disc(nside, vec, np.radians(r), nest=True)
        incl = hp.query_disc(nside, vec, np.radians(r), nest=True, inclusive=True)
        assert set(exact) <= set(ours), (ra, dec, r, order)
        assert len(ours) <= 2 * len(incl) + 4, (ra, dec, r, order, len(ours), len(incl))
        if len(incl) >= 16:
            worst = max(worst, len(ours) / len(incl))
        # random points in the cone fall in covered pixels
        pts_ra = ra + rng.normal(0, r, 3000) / max(np.cos(np.radians(dec)), 1e-3)
        pts_dec = np.clip(dec + rng.normal(0, r, 3000), -90, 90)
        v2 = hp.ang2vec(pts_ra, pts_dec, lonlat=True)
        inside = np.degrees(np.arccos(np.clip(v2 @ vec, -1, 1))) < r * (1 - 1e-9)
        pix = hp.ang2pix(nside, pts_ra[inside], pts_dec[inside], nest=True, lonlat=True)
        assert np.isin(pix, ours).all()
    assert worst <= 2


def _box_inside(ra, dec, ra_lo, width, dec_lo, dec_hi):
    return (((ra - ra_lo) % 360) <= width) & (dec >= dec_lo) & (dec <= dec_hi)


def test_box_coverage_never_misses(lib):
    rng = np.random.default_rng(16 + SEED)
    for i in range(80):
        ra_lo = rng.uniform(-180, 540)
        width = rng.choice([rng.uniform(0, 2), rng.uniform(0, 60), rng.uniform(300, 360), 360.0])
        d = np.sort(np.degrees(np.arcsin(rng.uniform(-1, 1, 2))))
        if i % 7 == 0:
            d[1] = 90.0
        if i % 11 == 0:
            d[0] = -90.0
        if i % 5 == 0:  # a thin box, narrower than a pixel
            d[1] = min(90.0, d[0] + 1e-3)
        # at most ~2e5 pixels inside
        area = max(np.radians(width) * (np.sin(np.radians(d[1])) - np.sin(np.radians(d[0]))), 1e-12)
        kmax = int(np.clip(np.log(2e5 * 4 * np.pi / (12 * area)) / np.log(4), 1, 12))
        order = int(rng.integers(1, kmax + 1))
        nside = 1 << order
        ranges, ours = region_moc(lib, "st_hpx_box_moc", order, ra_lo, ra_lo + width, d[0], d[1])
        # random points inside the box (uniform in RA and Dec, plus edges)
        n = 5000
        pra = ra_lo + rng.uniform(0, width, n)
        pdec = rng.uniform(d[0], d[1], n)
        pra[:200] = ra_lo; pra[200:400] = ra_lo + width
        pdec[400:600] = d[0]; pdec[600:800] = d[1]
        h = hp.ang2pix(1 << 29, pra, pdec, nest=True, lonlat=True)
        assert in_ranges(ranges, h).all(), (ra_lo, width, d, order)
        # pixels whose centres lie in the box are covered
        allpix = np.arange(12 * nside * nside) if nside <= 256 else None
        if allpix is not None:
            lon, lat = hp.pix2ang(nside, allpix, nest=True, lonlat=True)
            centre_in = allpix[_box_inside(lon, lat, ra_lo % 360, width, d[0], d[1])]
            assert np.isin(centre_in, ours).all()


def _random_convex_polygon(rng):
    """Vertices on a small circle at sorted angles: convex by construction."""
    ra0, dec0 = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
    r = 10 ** rng.uniform(-2, 1.6)
    k = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    # vertex i at distance r, position angle ang[i] from the centre
    c = hp.ang2vec(ra0, dec0, lonlat=True)
    east = np.array([-np.sin(np.radians(ra0)), np.cos(np.radians(ra0)), 0.0])
    north = np.cross(c, east)
    rr = np.radians(r)
    v = (np.cos(rr) * c[None, :] + np.sin(rr) * (np.cos(ang)[:, None] * north + np.sin(ang)[:, None] * east))
    if rng.random() < 0.5:
        v = v[::-1]
    return v, c, rr


def test_polygon_coverage_never_misses(lib):
    rng = np.random.default_rng(17 + SEED)
    tried = 0
    while tried < 80:
        v, c, rr = _random_convex_polygon(rng)
        # skip nearly-degenerate polygons (two vertices almost equal)
        if min(np.linalg.norm(v - np.roll(v, 1, 0), axis=1)) < 1e-6:
            continue
        tried += 1
        # at most ~1e5 pixels inside: order <= log4(1e5 * 41253 / (12 pi r^2))
        kmax = int(np.clip(np.log(1e5 * 41253 / (12 * np.pi * np.degrees(rr) ** 2)) / np.log(4), 2, 12))
        order = int(rng.integers(2, kmax + 1))
        nside = 1 << order
        lon, lat = hp.vec2ang(v, lonlat=True)
        lon = np.ascontiguousarray(lon); lat = np.ascontiguousarray(lat)
        ranges, ours = region_moc(lib, "st_hpx_polygon_moc", order, _p(lon, D), _p(lat, D), len(lon))
        # healpy: pixels whose centres are inside must be covered
        exact = hp.query_polygon(nside, v, nest=True)
        assert np.isin(exact, ours).all()
        # random points inside (numpy half-space test) fall in covered cells
        n = np.cross(v, np.roll(v, -1, 0))
        n /= np.linalg.norm(n, axis=1)[:, None]
        n *= np.sign(n @ v.sum(0))[:, None]
        theta = np.arccos(1 - rng.random(20000) * (1 - np.cos(rr)))
        phi = rng.uniform(0, 2 * np.pi, 20000)
        east = np.cross([0, 0, 1.0], c) if abs(c[2]) < 0.999 else np.array([1.0, 0, 0])
        east /= np.linalg.norm(east)
        north = np.cross(c, east)
        p = (np.cos(theta)[:, None] * c + np.sin(theta)[:, None] * (np.cos(phi)[:, None] * north + np.sin(phi)[:, None] * east))
        inside = (p @ n.T >= 0).all(axis=1)
        plon, plat = hp.vec2ang(p[inside], lonlat=True)
        h = hp.ang2pix(1 << 29, plon, plat, nest=True, lonlat=True)
        assert in_ranges(ranges, h).all()
        incl = hp.query_polygon(nside, v, nest=True, inclusive=True)
        assert len(ours) <= 3 * len(incl) + 8, (order, np.degrees(rr), lon.tolist(), lat.tolist())


def test_polygon_rejects_non_convex(lib):
    lon = np.array([0.0, 10.0, 5.0, 10.0, 0.0])
    lat = np.array([0.0, 0.0, 5.0, 10.0, 10.0])
    m = StMoc()
    lib.st_moc_init(ctypes.byref(m), 5)
    err = StError()
    assert lib.st_hpx_polygon_moc(5, _p(lon, D), _p(lat, D), 5, ctypes.byref(m), ctypes.byref(err)) == 1
    assert b"convex" in err.msg
    lib.st_moc_free(ctypes.byref(m))


# ---- CLI (also run under ASan) ----------------------------------------------

def _cli_points(n, seed):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(-5, 365, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    ra[:20] = [0, 360, 90, 180, 270, 0, 45, 10, 20, 30, 0, 0, 359.9999999999, 1e-300, -0.0, 720, -360, 5, 6, 7]
    dec[:20] = [90, -90, 90, -90, 0, 0, 41.810314895778596, 90, -90, 89.99999999, 0, -41.8103148957786, 0, 0, 0, 0, 0, 0, 0, 0]
    return ra, dec


@pytest.mark.parametrize("isa", ["best", "avx2", "scalar"])
def test_cli_ang2pix_matches_healpy(monkeypatch, isa):
    if isa != "best":  # the paths used on CPUs without AVX-512 / without AVX2
        monkeypatch.setenv("SKYTILE_HPX_ISA", isa)
    n = 2000 if SAN else 30000
    ra, dec = _cli_points(n, 21 + SEED)
    text = "".join(f"{a!r} {b!r}\n" for a, b in zip(ra.tolist(), dec.tolist()))
    for order in (0, 10, 29):
        p = run_skytile("healpix", "ang2pix", "--order", order, input=text, check=True)
        got = np.array(p.stdout.split(), dtype=np.int64)
        want = hp.ang2pix(1 << order, ra, dec, nest=True, lonlat=True)
        assert np.array_equal(got, want)


def test_cli_pix2ang_round_trip():
    rng = np.random.default_rng(22 + SEED)
    for order in (0, 7, 29):
        npix = 12 << (2 * order)
        pix = rng.integers(0, npix, 2000)
        p = run_skytile("healpix", "pix2ang", "--order", order,
                        input="".join(f"{x}\n" for x in pix), check=True)
        vals = np.array(p.stdout.split(), dtype=np.float64).reshape(-1, 2)
        assert np.array_equal(hp.ang2pix(1 << order, vals[:, 0], vals[:, 1], nest=True, lonlat=True), pix)
        lon, lat = hp.pix2ang(1 << order, pix, nest=True, lonlat=True)
        assert np.max(np.abs(vals[:, 1] - lat)) < 1e-10


def test_cli_neighbours_and_cone():
    for order, pix in [(0, 0), (0, 5), (3, 0), (3, 767), (10, 123456), (29, (12 << 58) - 1), (29, 3 << 56)]:
        p = run_skytile("healpix", "neighbours", "--order", order, pix, check=True)
        want = hp.get_all_neighbours(1 << order, pix, nest=True)
        assert [int(x) for x in p.stdout.split()] == list(want)
    for order, ra, dec, r in [(6, 10.0, 20.0, 2.0), (8, 0.0, 90.0, 0.5), (4, 359.5, -30.0, 15.0), (12, 123.4, -5.6, 0.001)]:
        p = run_skytile("healpix", "cone", "--order", order, ra, dec, r, check=True)
        got = np.array(p.stdout.split(), dtype=np.int64)
        assert np.all(np.diff(got) > 0)
        vec = hp.ang2vec(ra, dec, lonlat=True)
        assert set(hp.query_disc(1 << order, vec, np.radians(r), nest=True)) <= set(got)
        assert len(got) <= 2 * len(hp.query_disc(1 << order, vec, np.radians(r), nest=True, inclusive=True)) + 4


def test_cli_errors_and_help():
    for sub in ("ang2pix", "pix2ang", "neighbours", "cone"):
        p = run_skytile("healpix", sub, "--help")
        assert p.returncode == 0 and "usage: skytile healpix " + sub in p.stdout
    assert run_skytile("healpix", "--help").returncode == 0
    p = run_skytile("healpix", "ang2pix", "--order", "5", input="10 20\n# comment\n\n10 95\n")
    assert p.returncode == 1 and "line 4" in p.stderr and "dec" in p.stderr
    p = run_skytile("healpix", "ang2pix", "--order", "5", input="10 20\n1 2 3\n")
    assert p.returncode == 1 and "line 2" in p.stderr
    p = run_skytile("healpix", "ang2pix", "--order", "5", input="nan 20\n")
    assert p.returncode == 1 and "line 1" in p.stderr
    p = run_skytile("healpix", "pix2ang", "--order", "1", input="3\n48\n")
    assert p.returncode == 1 and "line 2" in p.stderr
    p = run_skytile("healpix", "pix2ang", "--order", "1", input="x\n")
    assert p.returncode == 1 and "line 1" in p.stderr
    assert run_skytile("healpix", "ang2pix", input="").returncode == 2
    assert run_skytile("healpix", "ang2pix", "--order", "30", input="").returncode == 2
    assert run_skytile("healpix", "cone", "--order", "3", "1", "2").returncode == 2
    assert run_skytile("healpix", "cone", "--order", "3", "1", "95", "1").returncode == 1
    assert run_skytile("healpix", "neighbours", "--order", "1", "48").returncode == 1
