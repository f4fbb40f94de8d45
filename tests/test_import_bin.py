"""Import binning (st_bin) against hats as the oracle.

The oracle is hats' own code, called the way hats-import's binning stage
calls it (resume_plan.get_alignment_file): generate_alignment with
use_lower_order=True, generate_incremental_alignment for existing pixels,
the constant-order alignment, then np.unique of the alignment and only
partitions with rows, sorted as PartitionInfo sorts them.  Every pixel's
destination (order, pixel, rows) must match, as must the partition list and
its order, the mapping order, and the errors.

ctypes cannot load the ASan build: these tests skip under SKYTILE_SAN=1
(the C unit tests in tests/unit/test_import.c run there).
"""
import ctypes
import os
import warnings
from ctypes import POINTER, c_bool, c_int, c_int32, c_int64

import numpy as np
import pytest

import stlib
from conftest import SAN, SHARED
from stlib import StError

hp = pytest.importorskip("healpy")
ps = pytest.importorskip("hats.pixel_math.partition_stats")
from hats.catalog import PartitionInfo  # noqa: E402
from hats.pixel_math.healpix_pixel import HealpixPixel  # noqa: E402

SEED = int(os.environ.get("SKYTILE_TEST_SEED", "0"))
FIX = SHARED / "fixtures" / "hats-import"


class Opts(ctypes.Structure):
    _fields_ = [("highest_order", c_int), ("lowest_order", c_int), ("constant_order", c_int),
                ("threshold", c_int64), ("drop_empty_siblings", c_bool),
                ("keep_highest_order", c_bool), ("bytes", POINTER(c_int64)),
                ("existing_orders", POINTER(c_int)), ("existing_pixels", POINTER(c_int64)),
                ("n_existing", c_int64)]


Part = stlib.BinPartition


class Result(ctypes.Structure):
    _fields_ = [("mapping_order", c_int), ("npix", c_int64), ("dest", POINTER(c_int32)),
                ("parts", POINTER(Part)), ("nparts", c_int64), ("total_rows", c_int64)]


@pytest.fixture(scope="module")
def lib():
    if SAN:
        pytest.skip("the ASan build cannot be loaded with ctypes")
    return stlib.lib()


def c_bin(lib, hist, highest, lowest=0, threshold=1_000_000, drop=False, bytes_hist=None,
          existing=None, constant=-1, keep_highest=False):
    """Returns (mapping_order, dest int32 array, [(order, pixel, rows)]) or raises
    RuntimeError(code, msg)."""
    hist = np.ascontiguousarray(hist, dtype=np.int64)
    o = Opts(highest, lowest, constant, threshold, drop, keep_highest)
    keep = [hist]
    if bytes_hist is not None:
        b = np.ascontiguousarray(bytes_hist, dtype=np.int64)
        keep.append(b)
        o.bytes = b.ctypes.data_as(POINTER(c_int64))
    if existing:
        eo = np.array([e[0] for e in existing], dtype=np.intc)
        ep = np.array([e[1] for e in existing], dtype=np.int64)
        keep += [eo, ep]
        o.existing_orders = eo.ctypes.data_as(POINTER(c_int))
        o.existing_pixels = ep.ctypes.data_as(POINTER(c_int64))
        o.n_existing = len(existing)
    r, e = Result(), StError()
    rc = lib.st_bin(hist.ctypes.data_as(POINTER(c_int64)), ctypes.byref(o), ctypes.byref(r),
                    ctypes.byref(e))
    if rc:
        raise RuntimeError(rc, e.msg.decode())
    try:
        dest = np.ctypeslib.as_array(r.dest, shape=(r.npix,)).copy()
        parts = [(r.parts[i].order, r.parts[i].pixel, r.parts[i].rows) for i in range(r.nparts)]
        assert r.total_rows == int(hist.sum())
        return r.mapping_order, dest, parts
    finally:
        lib.st_bin_result_free(ctypes.byref(r))


def hats_bin(hist, highest, lowest=0, threshold=1_000_000, drop=False, bytes_hist=None,
             existing=None, constant=-1, use_lower=True):
    """hats-import's binning (resume_plan.get_alignment_file), in its own code."""
    hist = np.asarray(hist, dtype=np.int64)
    if lowest == highest and constant < 0 and not existing:
        constant = lowest  # ImportArguments._check_arguments
    if existing:
        al = ps.generate_incremental_alignment(hist, existing_pixels=existing, highest_order=highest,
                                               lowest_order=lowest, threshold=threshold)
    elif constant >= 0:
        assert constant == highest
        from hats_import.catalog.resume_plan import ResumePlan
        al = ResumePlan._generate_constant_healpix_order_alignment(None, hist, constant)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            al = ps.generate_alignment(hist, highest_order=highest, lowest_order=lowest,
                                       threshold=threshold, drop_empty_siblings=drop,
                                       supplemental_count_histogram=bytes_hist,
                                       use_lower_order=use_lower)
    al = np.array([x if x is not None else [-1, -1, 0] for x in al], dtype=np.int64)
    pixel_list = np.unique(al, axis=0)
    dmap = {HealpixPixel(int(o), int(p)): int(rc) for (o, p, rc) in pixel_list if int(rc) > 0}
    if sum(dmap.values()) != int(hist.sum()):
        raise ValueError("Number of rows does not match expectation")
    order = PartitionInfo.from_healpix(list(dmap.keys())).get_healpix_pixels()
    parts = [(p.order, p.pixel, dmap[p]) for p in order]
    return hp.npix2order(len(al)), al, parts


def compare(lib, hist, highest, **kw):
    keep_highest = not kw.pop("use_lower", True)
    try:
        want = hats_bin(hist, highest, use_lower=not keep_highest, **kw)
    except ValueError as exc:
        with pytest.raises(RuntimeError) as ei:
            c_bin(lib, hist, highest, keep_highest=keep_highest, **kw)
        code = ei.value.args[0]
        assert code in (1, 6), ei.value
        if "exceeds threshold" in str(exc):
            assert code == 6 and "raise --highest-order" in ei.value.args[1]
        return None
    order, al, parts = want
    gorder, dest, gparts = c_bin(lib, hist, highest, keep_highest=keep_highest, **kw)
    assert gorder == order
    assert gparts == parts
    # per pixel: hats' (order, pixel, rows) of the destination, -1/none when no rows
    g = np.array([gparts[d] if d >= 0 else (-1, -1, 0) for d in dest], dtype=np.int64).reshape(-1, 3)
    w = al.copy()
    w[w[:, 2] == 0] = (-1, -1, 0)
    np.testing.assert_array_equal(g, w)
    return parts


def fixture_hist(csv, ra, dec, order):
    import pandas as pd
    df = pd.read_csv(csv)
    pix = hp.ang2pix(2**order, df[ra].values, df[dec].values, nest=True, lonlat=True)
    return np.bincount(pix, minlength=12 * 4**order).astype(np.int64)


def test_small_sky_source_matches_fixture_catalog(lib):
    """highest 5, threshold 3000, no sibling dropping = the fixture catalog."""
    import pyarrow.parquet as pq
    hist = fixture_hist(FIX / "small_sky_source" / "small_sky_source.csv", "source_ra", "source_dec", 5)
    _, dest, parts = c_bin(lib, hist, 5, threshold=3000, drop=False)
    want = [tuple(map(int, line.split(","))) for line in
            (FIX / "small_sky_source_catalog" / "partition_info.csv").read_text().split()[1:]]
    assert len(want) == 14
    # the fixture was written by hats 0.6 (sorted by order, pixel); hats 0.11
    # lists partitions breadth first, as we do (checked in compare() below)
    assert sorted((o, p) for o, p, _ in parts) == sorted(want)
    keys = [p << 2 * (29 - o) for o, p, _ in parts]
    assert keys == sorted(keys)
    cat = FIX / "small_sky_source_catalog" / "dataset"
    for o, p, rows in parts:
        f = cat / f"Norder={o}" / f"Dir={p // 10000 * 10000}" / f"Npix={p}.parquet"
        assert pq.ParquetFile(f).metadata.num_rows == rows
    assert sum(r for _, _, r in parts) == 17161
    compare(lib, hist, 5, threshold=3000, drop=False)


def test_small_sky_object_matches_fixture_catalog(lib):
    hist = fixture_hist(FIX / "small_sky" / "catalog.csv", "ra", "dec", 5)
    _, _, parts = c_bin(lib, hist, 5, threshold=1_000_000, drop=True)
    assert [(o, p) for o, p, _ in parts] == [(0, 11)]
    assert parts[0][2] == 131


@pytest.mark.parametrize("which", ["small_sky", "small_sky_source"])
def test_fixture_histograms_all_options(lib, which):
    if which == "small_sky":
        csv, ra, dec = FIX / "small_sky" / "catalog.csv", "ra", "dec"
    else:
        csv, ra, dec = FIX / "small_sky_source" / "small_sky_source.csv", "source_ra", "source_dec"
    for order in (3, 5):
        hist = fixture_hist(csv, ra, dec, order)
        for thr in (1, 10, 50, 200, 1000, 3000, 10**6):
            for drop in (False, True):
                for lowest in (0, 1, 2, 3):
                    if lowest > order:
                        continue
                    compare(lib, hist, order, lowest=lowest, threshold=thr, drop=drop)
                compare(lib, hist, order, threshold=thr, drop=drop, use_lower=False)


def random_hist(rng, order, kind):
    n = 12 * 4**order
    if kind == "sparse":
        h = np.zeros(n, dtype=np.int64)
        k = rng.integers(1, max(2, n // 8))
        h[rng.integers(0, n, k)] = rng.integers(1, 50, k)
    elif kind == "clustered":
        h = np.zeros(n, dtype=np.int64)
        for _ in range(rng.integers(1, 5)):
            c = rng.integers(0, n)
            w = int(4 ** rng.integers(0, order + 1))
            lo = c // w * w
            h[lo:lo + w] += rng.poisson(rng.uniform(0.5, 30), w)
    elif kind == "dense":
        h = rng.poisson(rng.uniform(0.1, 20), n).astype(np.int64)
    else:  # empty
        h = np.zeros(n, dtype=np.int64)
    return h


def test_random_histograms(lib):
    rng = np.random.default_rng(SEED + 1)
    for trial in range(160):
        order = int(rng.integers(0, 5))
        kind = ["sparse", "clustered", "dense", "empty"][trial % 4]
        hist = random_hist(rng, order, kind)
        mx = int(hist.max()) if hist.size else 0
        total = int(hist.sum())
        thr = int(rng.choice([max(1, mx), max(1, mx) + 1, max(1, mx * 3), max(1, total // 7),
                              max(1, total), max(1, mx - 1)]))
        lowest = int(rng.integers(0, min(order, 3) + 1))
        drop = bool(trial % 2)
        compare(lib, hist, order, lowest=lowest, threshold=thr, drop=drop)
        compare(lib, hist, order, lowest=lowest, threshold=thr, drop=drop, use_lower=False)


def test_random_histograms_order6(lib):
    rng = np.random.default_rng(SEED + 2)
    for trial in range(4):
        hist = random_hist(rng, 6, ["sparse", "clustered"][trial % 2])
        thr = max(1, int(hist.max()) * 4)
        compare(lib, hist, 6, lowest=trial % 3, threshold=thr, drop=bool(trial % 2))


def test_byte_threshold_mode(lib):
    """hats-import's mem_size mode: the threshold applies to a bytes histogram."""
    rng = np.random.default_rng(SEED + 3)
    for trial in range(60):
        order = int(rng.integers(1, 5))
        hist = random_hist(rng, order, ["sparse", "clustered", "dense"][trial % 3])
        per_row = rng.integers(8, 200, hist.size)
        byt = hist * per_row
        thr = int(rng.choice([max(0, int(byt.max())), int(byt.max()) * 2, int(byt.sum()) // 5 + 1,
                              max(0, int(byt.max()) - 1)]))
        compare(lib, hist, order, lowest=int(rng.integers(0, 2)), threshold=thr,
                drop=bool(trial % 2), bytes_hist=byt)


def test_constant_order(lib):
    rng = np.random.default_rng(SEED + 4)
    for order in range(0, 5):
        hist = random_hist(rng, order, "sparse")
        compare(lib, hist, order, constant=order, threshold=1)
        # lowest == highest is constant mode in hats-import
        compare(lib, hist, order, lowest=order, threshold=1)


def test_constant_order_below_histogram(lib):
    """Our extension: constant order < histogram order sums groups of pixels."""
    rng = np.random.default_rng(SEED + 5)
    hist = random_hist(rng, 4, "clustered")
    _, dest, parts = c_bin(lib, hist, 4, constant=2)
    h2 = hist.reshape(12 * 16, -1).sum(axis=1)
    assert parts == [(2, p, int(h2[p])) for p in np.flatnonzero(h2)]
    for i in range(hist.size):
        d = dest[i]
        assert (d < 0) == (h2[i >> 4] == 0)
        if d >= 0:
            assert parts[d][1] == i >> 4


def random_existing(rng, highest, n):
    """Non-overlapping (order, pixel) set with orders <= highest."""
    out, ranges = [], []
    for _ in range(n):
        o = int(rng.integers(0, highest + 1))
        p = int(rng.integers(0, 12 * 4**o))
        s, e = p << 2 * (29 - o), (p + 1) << 2 * (29 - o)
        if any(s < re and rs < e for rs, re in ranges):
            continue
        ranges.append((s, e))
        out.append((o, p))
    return out


def test_incremental(lib):
    rng = np.random.default_rng(SEED + 6)
    n_ok = 0
    for trial in range(80):
        order = int(rng.integers(1, 5))
        hist = random_hist(rng, order, ["sparse", "clustered", "dense"][trial % 3])
        existing = random_existing(rng, order, int(rng.integers(1, 12)))
        thr = max(1, int(hist.max()) * int(rng.integers(1, 5)))
        lowest = int(rng.integers(0, 2))
        if compare(lib, hist, order, lowest=lowest, threshold=thr, existing=existing) is not None:
            n_ok += 1
    assert n_ok > 30


def test_incremental_keeps_existing_partitions(lib):
    hist = np.zeros(12 * 4**3, dtype=np.int64)
    hist[5] = 7        # inside existing (1, 0)
    hist[64 * 4] = 3   # inside existing (0, 4)
    hist[700] = 2      # elsewhere
    parts = compare(lib, hist, 3, threshold=100, existing=[(1, 0), (0, 4), (2, 100)])
    assert (1, 0, 7) in parts and (0, 4, 3) in parts
    assert not any(p[:2] == (2, 100) for p in parts)  # no new rows: not listed


def test_incremental_errors(lib):
    hist = np.ones(12 * 4**2, dtype=np.int64)
    with pytest.raises(RuntimeError) as ei:   # hats: tree order > highest order
        c_bin(lib, hist, 2, threshold=100, existing=[(3, 1)])
    assert ei.value.args[0] == 1 and "finer than the highest order" in ei.value.args[1]
    with pytest.raises(ValueError):
        ps.generate_incremental_alignment(hist, [(3, 1)], highest_order=2, threshold=100)
    with pytest.raises(RuntimeError) as ei:   # hats: overlapping pixels
        c_bin(lib, hist, 2, threshold=100, existing=[(1, 2), (2, 9)])
    assert "overlap" in ei.value.args[1]
    with pytest.raises(ValueError):
        ps.generate_incremental_alignment(hist, [(1, 2), (2, 9)], highest_order=2, threshold=100)


def test_single_pixel_over_threshold(lib):
    hist = np.zeros(12 * 4**2, dtype=np.int64)
    hist[17] = 501
    with pytest.raises(ValueError, match="exceeds threshold"):
        ps.generate_alignment(hist, highest_order=2, threshold=500)
    with pytest.raises(RuntimeError) as ei:
        c_bin(lib, hist, 2, threshold=500)
    code, msg = ei.value.args
    assert code == 6
    assert "pixel 17 of order 2" in msg and "501" in msg and "raise --highest-order" in msg
    # exactly at the threshold is fine (hats: max_bin > threshold)
    assert compare(lib, hist, 2, threshold=501) == [(0, 1, 501)]
