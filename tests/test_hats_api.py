"""The st_catalog C API through ctypes: partitions, files and their row-group
ranges in _metadata (what the searches use to prune without opening leaf
files), and sub-catalogs of collections.  Oracle: pyarrow's _metadata."""
import ctypes
import os

import pyarrow.parquet as pq
import pytest

import stlib
from stlib import StError

pytestmark = stlib.needs_lib


class Partition(ctypes.Structure):
    _fields_ = [("order", ctypes.c_int), ("pixel", ctypes.c_int64), ("first_file", ctypes.c_int),
                ("n_files", ctypes.c_int), ("rows", ctypes.c_int64)]


class File(ctypes.Structure):
    _fields_ = [("path", ctypes.c_char_p), ("rel", ctypes.c_char_p), ("partition", ctypes.c_int),
                ("rows", ctypes.c_int64), ("md", ctypes.c_void_p), ("md_first_rg", ctypes.c_int),
                ("md_n_rg", ctypes.c_int)]


@pytest.fixture(scope="module")
def lib():
    return stlib.lib()


def open_cat(lib, path):
    c = ctypes.c_void_p()
    err = StError()
    rc = lib.st_catalog_open(str(path).encode(), None, ctypes.byref(c), ctypes.byref(err))
    assert rc == 0, err.msg
    return c


@pytest.mark.parametrize("rel", ["hats-import/small_sky_source_catalog", "hats/small_sky_npix_as_dir",
                                 "hats-import/hipscat/small_sky_source_catalog"])
def test_files_and_row_groups(lib, shared, rel):
    root = shared / "fixtures" / rel
    c = open_cat(lib, root)
    try:
        assert lib.st_catalog_metadata(c)
        data = root / "dataset" if (root / "dataset").is_dir() else root
        md = pq.read_metadata(data / "_metadata")
        by_file = {}
        for i in range(md.num_row_groups):
            fp = md.row_group(i).column(0).file_path.lstrip("/")
            by_file.setdefault(fp, []).append(i)
        err = StError()
        n = lib.st_catalog_n_files(c)
        assert n == len(by_file)
        seen = set()
        for i in range(n):
            f = File()
            assert lib.st_catalog_file_info(c, i, ctypes.byref(f), ctypes.byref(err)) == 0
            rel_path = f.rel.decode()
            rgs = by_file[rel_path]
            assert f.md == lib.st_catalog_metadata(c)
            assert list(range(f.md_first_rg, f.md_first_rg + f.md_n_rg)) == rgs
            assert f.rows == sum(md.row_group(j).num_rows for j in rgs)
            assert os.path.samefile(f.path.decode(), data / rel_path)
            p = Partition()
            assert lib.st_catalog_partition(c, f.partition, ctypes.byref(p), ctypes.byref(err)) == 0
            assert p.first_file <= i < p.first_file + p.n_files
            assert f"Norder={p.order}/" in rel_path and f"Npix={p.pixel}" in rel_path
            seen.add(rel_path)
        assert seen == set(by_file)
        p = Partition()
        assert lib.st_catalog_partition(c, lib.st_catalog_n_partitions(c), ctypes.byref(p), ctypes.byref(err)) == 1
    finally:
        lib.st_catalog_close(c)


def test_subcatalogs(lib, shared):
    root = shared / "fixtures/hats/small_sky_o1_collection"
    props = dict(line.split("=", 1) for line in (root / "collection.properties").read_text().splitlines()
                 if "=" in line and not line.startswith("#"))
    c = open_cat(lib, root)
    err = StError()
    m = ctypes.c_void_p()
    try:
        assert lib.st_catalog_open_subcatalog(c, None, None, ctypes.byref(m), ctypes.byref(err)) == 0, err.msg
        assert lib.st_catalog_type(m) == b"margin"
        want = dict(line.split("=", 1) for line in
                    (root / props["default_margin"] / "hats.properties").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
        assert lib.st_catalog_property(m, b"obs_collection").decode() == want["obs_collection"]
        lib.st_catalog_close(m)
        assert lib.st_catalog_open_subcatalog(c, b"../x", None, ctypes.byref(m), ctypes.byref(err)) == 3
        assert b"leaves the collection" in err.msg
        plain = open_cat(lib, root / "small_sky_order1")
        try:
            assert lib.st_catalog_open_subcatalog(plain, None, None, ctypes.byref(m), ctypes.byref(err)) == 1
        finally:
            lib.st_catalog_close(plain)
    finally:
        lib.st_catalog_close(c)


def test_hive_per_year_metadata(lib, tmp_path):
    """IRSA layout: one hive dataset per year (directories named *.parquet),
    each with its own _metadata; every file is found in its year's _metadata."""
    import healpy
    import numpy as np
    import pyarrow as pa
    rng = np.random.default_rng(5)
    want_rows = {}
    for year in (1, 2):
        ra = rng.uniform(20, 110, 150)
        dec = rng.uniform(-30, 30, 150)
        pix = healpy.ang2pix(32, ra, dec, nest=True, lonlat=True)
        t = pa.table({"ra": ra, "dec": dec, "healpix_k0": pix >> 10, "healpix_k5": pix})
        root = tmp_path / f"cat-healpix_k5-year{year}.parquet"
        collector = []
        pq.write_to_dataset(t, str(root), partition_cols=["healpix_k0", "healpix_k5"],
                            metadata_collector=collector)
        pq.write_metadata(t.drop_columns(["healpix_k0", "healpix_k5"]).schema, str(root / "_metadata"),
                          metadata_collector=collector)
        md = pq.read_metadata(root / "_metadata")
        for i in range(md.num_row_groups):
            rel = f"{root.name}/{md.row_group(i).column(0).file_path}"
            want_rows[rel] = want_rows.get(rel, 0) + md.row_group(i).num_rows
    c = open_cat(lib, tmp_path)
    try:
        assert not lib.st_catalog_metadata(c)          # none at the root
        err = StError()
        n = lib.st_catalog_n_files(c)
        got = {}
        for i in range(n):
            f = File()
            assert lib.st_catalog_file_info(c, i, ctypes.byref(f), ctypes.byref(err)) == 0
            assert f.md and f.md_n_rg >= 1
            got[f.rel.decode()] = f.rows
        assert got == want_rows
    finally:
        lib.st_catalog_close(c)
