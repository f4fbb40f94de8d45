"""Import finishing files (partition_info.csv, properties, FITS skymaps)
against hats as the oracle.

Each file written by skytile is compared with the file hats itself writes
for the same input (byte for byte, except the FITS CREATOR card and values
that depend on the clock), and read back with hats' readers, healpy and
astropy.  Skipped under SKYTILE_SAN=1 (ctypes cannot load the ASan build).
"""
import ctypes
import math
import os
from ctypes import POINTER, c_char_p, c_double, c_int, c_int64

import numpy as np
import pytest

import stlib
from conftest import SAN, SHARED
from stlib import StError

hp = pytest.importorskip("healpy")
fits = pytest.importorskip("astropy.io.fits")
from hats.catalog import PartitionInfo, TableProperties  # noqa: E402
from hats.io import file_io  # noqa: E402
from hats.io.size_estimates import estimate_dir_size  # noqa: E402
from hats.io.skymap import write_skymap  # noqa: E402
from hats.pixel_math.healpix_pixel import HealpixPixel  # noqa: E402

SEED = int(os.environ.get("SKYTILE_TEST_SEED", "0"))
FIX = SHARED / "fixtures" / "hats-import"


Part = stlib.BinPartition


class Props(ctypes.Structure):
    _fields_ = [("catalog_name", c_char_p), ("catalog_type", c_char_p), ("total_rows", c_int64),
                ("ra_column", c_char_p), ("dec_column", c_char_p), ("default_columns", c_char_p),
                ("healpix_column", c_char_p), ("healpix_order", c_int), ("npix_suffix", c_char_p),
                ("skymap_order", c_int), ("skymap_alt_orders", POINTER(c_int)),
                ("n_skymap_alt_orders", c_int), ("max_rows", c_int64), ("estsize_kb", c_int64),
                ("moc_sky_fraction", c_double), ("builder", c_char_p), ("creation_date", c_char_p),
                ("cols_sort", c_char_p), ("hats_order", c_int),
                ("extra_keys", POINTER(c_char_p)), ("extra_values", POINTER(c_char_p)),
                ("n_extra", c_int)]


I64 = POINTER(c_int64)


@pytest.fixture(scope="module")
def lib():
    if SAN:
        pytest.skip("the ASan build cannot be loaded with ctypes")
    return stlib.lib()


def ok(rc, e):
    assert rc == 0, e.msg.decode()


def parts_array(parts):
    arr = (Part * max(1, len(parts)))()
    for i, (o, p) in enumerate(parts):
        arr[i] = Part(o, p, 1)
    return arr


# ---- FITS -------------------------------------------------------------------

def strip_creator(b):
    """The file bytes with the CREATOR card blanked (the only card that names
    the writer)."""
    out = bytearray(b)
    i = out.find(b"CREATOR = ")
    assert i >= 0 and i % 80 == 0
    out[i:i + 80] = b" " * 80
    return bytes(out)


def write_both(lib, tmp_path, values, name):
    values = np.ascontiguousarray(values, dtype=np.int64)
    order = hp.npix2order(len(values))
    ours, theirs = tmp_path / f"{name}.ours.fits", tmp_path / f"{name}.hats.fits"
    e = StError()
    ok(lib.st_import_write_healpix_fits(str(ours).encode(), values.ctypes.data_as(I64), order, e), e)
    file_io.write_fits_image(values, theirs)
    return ours, theirs


@pytest.mark.parametrize("kind", ["dense", "sparse", "zeros", "half", "half_plus_one"])
@pytest.mark.parametrize("order", [0, 1, 3, 5])
def test_fits_map_same_bytes_as_hats(lib, tmp_path, kind, order):
    rng = np.random.default_rng(SEED + order)
    n = 12 * 4**order
    if kind == "dense":
        v = rng.integers(1, 10**12, n)
        v[rng.integers(0, n, n // 4)] = 0
    elif kind == "sparse":
        v = np.zeros(n, dtype=np.int64)
        v[rng.integers(0, n, max(1, n // 10))] = rng.integers(1, 1000)
    elif kind == "zeros":
        v = np.zeros(n, dtype=np.int64)
    else:  # exactly half zero: implicit; one more zero: explicit
        v = np.arange(1, n + 1, dtype=np.int64)
        v[: n // 2 + (kind == "half_plus_one")] = 0
    ours, theirs = write_both(lib, tmp_path, v, "m")
    a, b = ours.read_bytes(), theirs.read_bytes()
    assert len(a) % 2880 == 0
    assert strip_creator(a) == strip_creator(b)
    np.testing.assert_array_equal(file_io.read_fits_image(ours), v)
    with fits.open(ours) as hdul:
        h = hdul[1].header
        assert h["PIXTYPE"] == "HEALPIX" and h["ORDERING"] == "NESTED"
        assert h["NSIDE"] == 2**order
        explicit = np.count_nonzero(v == 0) / n > 0.5
        assert h["INDXSCHM"] == ("EXPLICIT" if explicit else "IMPLICIT")
        if explicit:
            assert list(hdul[1].columns.names) == ["PIXEL", "VALUE"]
            np.testing.assert_array_equal(hdul[1].data["PIXEL"], np.flatnonzero(v))
            np.testing.assert_array_equal(hdul[1].data["VALUE"], v[v != 0])
        else:
            assert h["FIRSTPIX"] == 0 and h["LASTPIX"] == n - 1
            assert hdul[1].columns.formats == ["K"]
            np.testing.assert_array_equal(hdul[1].data["VALUE"], v)
    if not (np.count_nonzero(v == 0) / n > 0.5):
        m = hp.read_map(str(ours), nest=True, dtype=np.int64)
        np.testing.assert_array_equal(m, v)


def test_skymaps_with_alt_orders(lib, tmp_path):
    rng = np.random.default_rng(SEED + 9)
    order = 5
    hist = np.zeros(12 * 4**order, dtype=np.int64)
    hist[2000:4000] = rng.poisson(3, 2000)
    ours, theirs = tmp_path / "ours", tmp_path / "hats"
    ours.mkdir()
    theirs.mkdir()
    alt = [1, 3, 5]
    e = StError()
    ok(lib.st_import_write_skymaps(str(ours).encode(), hist.ctypes.data_as(I64), order,
                                   (c_int * 3)(*alt), 3, e), e)
    file_io.write_fits_image(hist, theirs / "point_map.fits")
    write_skymap(hist, theirs, orders=alt)
    names = sorted(p.name for p in ours.iterdir())
    assert names == sorted(p.name for p in theirs.iterdir())
    assert names == ["point_map.fits", "skymap.1.fits", "skymap.3.fits", "skymap.5.fits",
                     "skymap.fits"]
    for nm in names:
        assert strip_creator((ours / nm).read_bytes()) == strip_creator((theirs / nm).read_bytes()), nm
    np.testing.assert_array_equal(file_io.read_fits_image(ours / "skymap.3.fits"),
                                  hist.reshape(12 * 4**3, -1).sum(axis=1))
    # bad alt order: above the map's order (hats raises too)
    rc = lib.st_import_write_skymaps(str(ours).encode(), hist.ctypes.data_as(I64), order,
                                     (c_int * 1)(6), 1, e)
    assert rc == 1 and b"alternative order 6" in e.msg


def test_fixture_skymap_values(lib, tmp_path):
    """The fixture's point map (hats-import, order 5) rewritten by us reads back equal."""
    v = file_io.read_fits_image(FIX / "small_sky_source_catalog" / "point_map.fits")
    assert v.sum() == 17161
    ours, theirs = write_both(lib, tmp_path, v, "fixture")
    assert strip_creator(ours.read_bytes()) == strip_creator(theirs.read_bytes())
    np.testing.assert_array_equal(file_io.read_fits_image(ours), v)


# ---- partition_info.csv ------------------------------------------------------

def random_partitions(rng, n):
    out, ranges = [], []
    for _ in range(n):
        o = int(rng.integers(0, 8))
        p = int(rng.integers(0, 12 * 4**o))
        s, e = p << 2 * (29 - o), (p + 1) << 2 * (29 - o)
        if any(s < re and rs < e for rs, re in ranges):
            continue
        ranges.append((s, e))
        out.append((o, p))
    return out


def test_partition_info_same_bytes_as_hats(lib, tmp_path):
    rng = np.random.default_rng(SEED + 10)
    for trial in range(30):
        parts = random_partitions(rng, int(rng.integers(0, 60)))
        if not parts:
            continue
        d = tmp_path / f"c{trial}"
        d.mkdir()
        e = StError()
        ok(lib.st_import_write_partition_info(str(d).encode(), parts_array(parts), len(parts), e), e)
        PartitionInfo.from_healpix([HealpixPixel(o, p) for o, p in parts]).write_to_file(d / "hats.csv")
        assert (d / "partition_info.csv").read_bytes() == (d / "hats.csv").read_bytes()
        got = PartitionInfo.read_from_dir(d).get_healpix_pixels()
        assert [(p.order, p.pixel) for p in got] == \
            [(p.order, p.pixel) for p in PartitionInfo.from_healpix(
                [HealpixPixel(o, p) for o, p in parts]).get_healpix_pixels()]


def test_partition_info_fixture(lib, tmp_path):
    want = PartitionInfo.read_from_dir(FIX / "small_sky_source_catalog").get_healpix_pixels()
    parts = [(p.order, p.pixel) for p in want][::-1]
    e = StError()
    ok(lib.st_import_write_partition_info(str(tmp_path).encode(), parts_array(parts), len(parts), e), e)
    got = PartitionInfo.read_from_dir(tmp_path).get_healpix_pixels()
    assert got == list(want)
    rc = lib.st_import_write_partition_info(str(tmp_path).encode(), parts_array([(1, 48)]), 1, e)
    assert rc == 1 and b"bad (order 1, pixel 48)" in e.msg


def test_sky_fraction(lib):
    rng = np.random.default_rng(SEED + 11)
    for _ in range(30):
        parts = random_partitions(rng, int(rng.integers(1, 80)))
        got = lib.st_import_sky_fraction(parts_array(parts), len(parts))
        want = PartitionInfo.from_healpix([HealpixPixel(o, p) for o, p in parts]) \
            .calculate_fractional_coverage()
        assert math.isclose(got, want, rel_tol=1e-13)
        assert f"{got:0.5f}" == f"{want:0.5f}"
    assert lib.st_import_sky_fraction(parts_array([(0, 11)]), 1) == pytest.approx(1 / 12)


# ---- properties ----------------------------------------------------------------

def make_props(lib, keep, **kw):
    p = Props()
    lib.st_import_props_init(ctypes.byref(p))
    for k, v in kw.items():
        if k == "alt":
            arr = (c_int * len(v))(*v)
            keep.append(arr)
            p.skymap_alt_orders, p.n_skymap_alt_orders = arr, len(v)
        elif k == "extra":
            ks = (c_char_p * len(v))(*[a.encode() for a, _ in v])
            vs = (c_char_p * len(v))(*[b.encode() for _, b in v])
            keep += [ks, vs]
            p.extra_keys, p.extra_values, p.n_extra = ks, vs, len(v)
        else:
            setattr(p, k, v.encode() if isinstance(v, str) else v)
    return p


def hats_props_text(tmp, *, name, ctype, rows, ra, dec, max_rows, order, frac, builder, date,
                    estsize, sort=None, alt=None, skymap_order=None, healpix=True, extra=None,
                    npix_suffix=".parquet"):
    """hats-import's ImportArguments.to_table_properties, with the clock- and
    disk-dependent provenance values fixed."""
    prov = TableProperties.new_provenance_dict(None, builder="x", **dict(extra or []))
    prov.update(hats_builder=builder, hats_creation_date=date, hats_estsize=estsize)
    info = prov | {"catalog_name": name, "catalog_type": ctype, "total_rows": rows, "ra_column": ra,
                   "dec_column": dec, "hats_cols_sort": sort, "hats_max_rows": max_rows,
                   "hats_order": order, "moc_sky_fraction": f"{frac:0.5f}",
                   "hats_npix_suffix": npix_suffix}
    if skymap_order is not None:
        info.update({"hats_skymap_order": skymap_order, "hats_skymap_alt_orders": alt})
    if healpix:
        info.update({"hats_col_healpix": "_healpix_29", "hats_col_healpix_order": 29})
    props = TableProperties(**info)
    tmp.mkdir(parents=True, exist_ok=True)
    props.to_properties_file(tmp)
    return props, (tmp / "hats.properties").read_bytes()


CASES = [
    dict(name="small_sky_object_catalog", ctype="object", rows=131, ra="ra", dec="dec",
         max_rows=1_000_000, order=0, frac=1 / 12, builder="skytile v0.1.0",
         date="2025-10-06T14:06UTC", estsize=214, skymap_order=5),
    dict(name="src", ctype="source", rows=17161, ra="source_ra", dec="source_dec", max_rows=3000,
         order=2, frac=0.0, builder="b", date="d", estsize=0, sort="mjd,band", alt=[3, 1, 3],
         skymap_order=5, healpix=False, npix_suffix="/",
         extra=[("hats_cols_default", ", ".join(f"column_{i}" for i in range(900)))]),
    dict(name="odd", ctype="object", rows=0, ra="r a", dec="d:e", max_rows=1, order=7,
         frac=0.00001, builder="b", date="d", estsize=5,
         extra=[("obs_title", " leading space=x"), ("my key", "a\nb\\c"),
                ("hats_cols_default", "ra, dec;id"), ("k#!=:", "v#!=:"),
                ("hats_builder", "overridden"), ("hats_cols_sort", "dropped: sort is None")]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_properties_same_bytes_as_hats(lib, tmp_path, case):
    c = dict(CASES[case])
    keep = []
    kw = dict(catalog_name=c["name"], catalog_type=c["ctype"], total_rows=c["rows"],
              ra_column=c["ra"], dec_column=c["dec"], max_rows=c["max_rows"],
              hats_order=c["order"], moc_sky_fraction=c["frac"], builder=c["builder"],
              creation_date=c["date"], estsize_kb=c["estsize"])
    if c.get("npix_suffix", ".parquet") != ".parquet":
        kw["npix_suffix"] = c["npix_suffix"]
    if c.get("sort"):
        kw["cols_sort"] = c["sort"]
    if c.get("skymap_order") is not None:
        kw["skymap_order"] = c["skymap_order"]
    if c.get("alt"):
        kw["alt"] = c["alt"]
    if c.get("healpix", True):
        kw["healpix_column"], kw["healpix_order"] = "_healpix_29", 29
    if c.get("extra"):
        kw["extra"] = c["extra"]
    p = make_props(lib, keep, **kw)
    ours = tmp_path / "ours"
    ours.mkdir()
    e = StError()
    ok(lib.st_import_write_properties(str(ours).encode(), ctypes.byref(p), e), e)
    want_props, want = hats_props_text(tmp_path / "hats", **c)
    assert (ours / "hats.properties").read_bytes() == want
    assert (ours / "properties").read_bytes() == want
    got = TableProperties.read_from_dir(ours)
    assert got.catalog_name == c["name"] and got.total_rows == c["rows"]
    if "\\" not in want.decode():   # hats itself does not round-trip backslashes in values
        assert got == TableProperties.read_from_dir(tmp_path / "hats")


def test_properties_fixture_values(lib, tmp_path):
    """The small_sky_object_catalog fixture's key/values (written by an older hats,
    whose key order differs) from the same inputs, incl. the sky fraction."""
    from jproperties import Properties
    fx = Properties()
    with open(FIX / "small_sky_object_catalog" / "properties", "rb") as f:
        fx.load(f, "utf-8")
    want = {k: v.data for k, v in fx.items()}
    frac = lib.st_import_sky_fraction(parts_array([(0, 11)]), 1)
    keep = []
    p = make_props(lib, keep, catalog_name="small_sky_object_catalog", catalog_type="object",
                   total_rows=131, ra_column="ra", dec_column="dec", default_columns="ra dec id",
                   healpix_column="_healpix_29", healpix_order=29, skymap_order=5,
                   max_rows=1_000_000, estsize_kb=214, moc_sky_fraction=frac,
                   builder=want["hats_builder"], creation_date=want["hats_creation_date"],
                   hats_order=0)
    e = StError()
    ok(lib.st_import_write_properties(str(tmp_path).encode(), ctypes.byref(p), e), e)
    got = Properties()
    with open(tmp_path / "properties", "rb") as f:
        got.load(f, "utf-8")
    assert {k: v.data for k, v in got.items()} == want
    assert TableProperties.read_from_dir(tmp_path) == \
        TableProperties.read_from_dir(FIX / "small_sky_object_catalog")


def test_properties_estsize_and_date(lib, tmp_path):
    """estsize computed like hats' estimate_dir_size(divisor=1024); date in hats' format."""
    (tmp_path / "dataset" / "Norder=0").mkdir(parents=True)
    (tmp_path / "dataset" / "Norder=0" / "Npix=11.parquet").write_bytes(b"x" * 5000)
    (tmp_path / "partition_info.csv").write_bytes(b"y" * 3000)
    keep = []
    p = make_props(lib, keep, catalog_name="c", catalog_type="object", ra_column="ra",
                   dec_column="dec")
    want = estimate_dir_size(tmp_path, divisor=1024)
    e = StError()
    ok(lib.st_import_write_properties(str(tmp_path).encode(), ctypes.byref(p), e), e)
    got = TableProperties.read_from_dir(tmp_path)
    assert got.hats_estsize == want == 7
    import re
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dUTC", got.extra_dict()["hats_creation_date"])
    assert got.extra_dict()["hats_builder"].startswith("skytile v")
    assert got.npix_suffix == ".parquet"


@pytest.mark.parametrize("frac", [0.0, 1.0, 0.5, 1e-5, 4.4e-5, 9.99e-5, 0.0001, 0.000123, 0.123456,
                                  0.999996, 2.5, 1 / 3, 0.083333333, 0.1666666667])
def test_moc_sky_fraction_format(lib, tmp_path, frac):
    keep = []
    p = make_props(lib, keep, catalog_name="c", catalog_type="map", moc_sky_fraction=frac,
                   estsize_kb=0, builder="b", creation_date="d")
    e = StError()
    ok(lib.st_import_write_properties(str(tmp_path).encode(), ctypes.byref(p), e), e)
    line = [ln for ln in (tmp_path / "properties").read_text().splitlines()
            if ln.startswith("moc_sky_fraction=")]
    assert line == [f"moc_sky_fraction={float(f'{frac:0.5f}')!r}"]


# ---- end to end: a real hats-import run as the oracle --------------------------

@pytest.mark.parametrize("drop,thr,hi,lo", [(True, 3000, 5, 0), (False, 1000, 6, 1)])
def test_matches_a_hats_import_run(lib, tmp_path, drop, thr, hi, lo):
    """Run hats-import on small_sky_source (e.g. drop_empty_siblings, threshold
    3000, highest order 5, alt skymap orders 1 2), then bin its histogram with st_bin
    and write every catalog-level file with our writers: same partitions (and
    rows per partition file), same partition_info.csv and properties bytes
    (given hats' clock/disk-dependent values), same FITS bytes but CREATOR."""
    pytest.importorskip("dask.distributed")
    pytest.importorskip("hats_import")
    import pandas as pd
    import pyarrow.parquet as pq
    from dask.distributed import Client
    from hats.pixel_math.healpix_shim import radec2pix
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client
    from jproperties import Properties

    import test_import_bin as tb

    csv = FIX / "small_sky_source" / "small_sky_source.csv"
    args = ImportArguments(output_artifact_name="hats_run", input_file_list=[str(csv)], file_reader="csv",
                           ra_column="source_ra", dec_column="source_dec", output_path=str(tmp_path),
                           catalog_type="source", highest_healpix_order=hi, lowest_healpix_order=lo,
                           pixel_threshold=thr, drop_empty_siblings=drop, skymap_alt_orders=[2, 1], progress_bar=False, resume=False,
                           tmp_dir=str(tmp_path / "tmp"))
    with warnings_off(), Client(n_workers=1, threads_per_worker=1, processes=False,
                                dashboard_address=None) as client:
        pipeline_with_client(args, client)
    theirs = tmp_path / "hats_run"

    df = pd.read_csv(csv)
    hist = np.bincount(radec2pix(hi, df.source_ra.values, df.source_dec.values),
                       minlength=12 * 4**hi).astype(np.int64)
    _, _, parts = tb.c_bin(lib, hist, hi, lowest=lo, threshold=thr, drop=drop)
    want = PartitionInfo.read_from_dir(theirs).get_healpix_pixels()
    assert [(o, p) for o, p, _ in parts] == [(p.order, p.pixel) for p in want]
    for o, p, rows in parts:
        f = theirs / "dataset" / f"Norder={o}" / f"Dir={p // 10000 * 10000}" / f"Npix={p}.parquet"
        assert pq.ParquetFile(f).metadata.num_rows == rows

    ours = tmp_path / "ours"
    ours.mkdir()
    e = StError()
    pa = (Part * len(parts))(*[Part(o, p, r) for o, p, r in parts])
    ok(lib.st_import_write_partition_info(str(ours).encode(), pa, len(parts), e), e)
    ok(lib.st_import_write_skymaps(str(ours).encode(), hist.ctypes.data_as(I64), hi,
                                   (c_int * 2)(2, 1), 2, e), e)
    hv = Properties()
    with open(theirs / "properties", "rb") as f:
        hv.load(f, "utf-8")
    hv = {k: v.data for k, v in hv.items()}
    keep = []
    p = make_props(lib, keep, catalog_name="hats_run", catalog_type="source",
                   total_rows=int(hist.sum()), ra_column="source_ra", dec_column="source_dec",
                   healpix_column="_healpix_29", healpix_order=29, skymap_order=hi, alt=[2, 1],
                   max_rows=thr, estsize_kb=int(hv["hats_estsize"]),
                   moc_sky_fraction=lib.st_import_sky_fraction(pa, len(parts)),
                   builder=hv["hats_builder"], creation_date=hv["hats_creation_date"],
                   hats_order=max(o for o, _, _ in parts))
    ok(lib.st_import_write_properties(str(ours).encode(), ctypes.byref(p), e), e)
    for nm in ["partition_info.csv", "properties", "hats.properties"]:
        assert (ours / nm).read_bytes() == (theirs / nm).read_bytes(), nm
    for nm in ["point_map.fits", "skymap.fits", "skymap.1.fits", "skymap.2.fits"]:
        assert strip_creator((ours / nm).read_bytes()) == strip_creator((theirs / nm).read_bytes()), nm


def warnings_off():
    import contextlib
    import warnings

    @contextlib.contextmanager
    def cm():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    return cm()
