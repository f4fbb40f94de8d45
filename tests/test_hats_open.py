"""`skytile info --json` (st_catalog_open) on HATS, hipscat, hive and Parquet datasets.

Oracles: hats (read_hats: catalog_info, get_healpix_pixels, partition_info),
pyarrow (footers, _metadata, schemas), healpy (pixels of generated hive data),
DuckDB (hive partitioned writes) and os.walk (sizes)."""
import json
import os
import shutil
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_skytile

warnings.filterwarnings("ignore")

HATS_FIXTURES = [
    "hats/small_sky", "hats/small_sky_healpix13", "hats/small_sky_nested",
    "hats/small_sky_npix_alt_suffix", "hats/small_sky_npix_as_dir", "hats/small_sky_source",
    "hats/square_map", "hats/small_sky_source_object_index",
    "hats-import/small_sky_object_catalog", "hats-import/small_sky_source_catalog",
    "hats-import/small_sky_nested_catalog", "hats-import/small_sky_source_npix_dir_catalog",
    "hats-import/small_sky_object_source_association",
]


def info(path):
    p = run_skytile("info", "--json", path)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def leaf_files(root, order, pixel, suffix):
    base = os.path.join(root, "dataset", f"Norder={order}", f"Dir={pixel // 10000 * 10000}", f"Npix={pixel}")
    if suffix == "/":
        return sorted(os.path.join(base, f) for f in os.listdir(base))
    return [base + suffix]


def disk_bytes(root):
    total = 0
    for d, _, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    return total


def arrow_type_name(t):
    names = {"halffloat": "float16", "float": "float", "double": "double", "large_string": "large_string"}
    return names.get(str(t), str(t))


@pytest.mark.parametrize("rel", HATS_FIXTURES)
def test_hats_fixture_vs_hats(shared, rel):
    import hats
    root = str(shared / "fixtures" / rel)
    cat = hats.read_hats(root)
    ci = cat.catalog_info
    got = info(root)
    assert got["kind"] == "hats"
    assert got["type"] == str(ci.catalog_type.value if hasattr(ci.catalog_type, "value") else ci.catalog_type)
    assert got["name"] == ci.catalog_name
    assert got["rows"] == ci.total_rows
    assert got["disk_bytes"] == disk_bytes(root)
    if ci.default_columns:
        assert got["default_columns"] == list(ci.default_columns)
    # columns vs _common_metadata read by pyarrow
    cm = pq.read_schema(os.path.join(root, "dataset", "_common_metadata"))
    assert [c["name"] for c in got["columns"]] == cm.names
    for c, f in zip(got["columns"], cm):
        assert c["nullable"] == f.nullable
        if pa.types.is_primitive(f.type):
            assert c["type"] == arrow_type_name(f.type), (c, f)
    if ci.catalog_type == "index":
        assert got["partitions"] and all(p["order"] == -1 for p in got["partitions"])
        return
    pixels = sorted((p.order, p.pixel) for p in cat.get_healpix_pixels())
    assert [(p["order"], p["pixel"]) for p in got["partitions"]] == pixels
    per_order = {}
    for o, _ in pixels:
        per_order[str(o)] = per_order.get(str(o), 0) + 1
    assert got["partitions_per_order"] == per_order
    assert got["sky_fraction"] == pytest.approx(cat.partition_info.calculate_fractional_coverage())
    suffix = ci.npix_suffix
    for p in got["partitions"]:
        files = leaf_files(root, p["order"], p["pixel"], suffix)
        assert p["files"] == len(files)
        assert p["rows"] == sum(pq.read_metadata(f).num_rows for f in files)


def test_healpix13_property(shared):
    import hats
    root = shared / "fixtures/hats/small_sky_healpix13"
    ci = hats.read_hats(root).catalog_info
    got = info(root)
    assert ci.healpix_order == 13
    assert int(got["properties"]["hats_col_healpix_order"]) == ci.healpix_order
    assert got["properties"]["hats_col_healpix"] == ci.healpix_column


def test_association_without_leaf_files(shared):
    import hats
    root = shared / "fixtures/hats/small_sky_to_small_sky_order1"
    got = info(root)
    cat = hats.read_hats(root)
    assert got["type"] == "association"
    assert [(p["order"], p["pixel"]) for p in got["partitions"]] == \
        sorted((p.order, p.pixel) for p in cat.get_healpix_pixels())


def test_collection(shared):
    import hats
    root = shared / "fixtures/hats/small_sky_o1_collection"
    coll = hats.read_hats(root)
    got = info(root)
    main = coll.main_catalog
    assert got["collection"]["name"] == coll.collection_properties.name
    assert got["collection"]["default_margin"] == coll.collection_properties.default_margin
    assert got["name"] == main.catalog_info.catalog_name
    assert got["rows"] == main.catalog_info.total_rows
    assert [(p["order"], p["pixel"]) for p in got["partitions"]] == \
        sorted((p.order, p.pixel) for p in main.get_healpix_pixels())


def test_collection_margin_subcatalog(shared):
    import hats
    root = shared / "fixtures/hats/small_sky_o1_collection/small_sky_order1_margin"
    cat = hats.read_hats(root)
    got = info(root)
    assert got["type"] == "margin"
    assert got["rows"] == cat.catalog_info.total_rows


@pytest.mark.parametrize("name", ["small_sky_object_catalog", "small_sky_source_catalog"])
def test_hipscat(shared, name):
    root = shared / "fixtures/hats-import/hipscat" / name
    with open(root / "catalog_info.json") as f:
        ci = json.load(f)
    got = info(root)
    assert got["kind"] == "hipscat"
    assert got["type"] == ci["catalog_type"]
    assert got["name"] == ci["catalog_name"]
    assert got["rows"] == ci["total_rows"]
    md = pq.read_metadata(root / "_metadata")
    want = {}
    for i in range(md.num_row_groups):
        fp = md.row_group(i).column(0).file_path.lstrip("/")
        parts = dict(kv.split("=") for kv in fp.split(".")[0].split("/"))
        key = (int(parts["Norder"]), int(parts["Npix"]))
        want[key] = want.get(key, 0) + md.row_group(i).num_rows
    assert {(p["order"], p["pixel"]): p["rows"] for p in got["partitions"]} == want
    assert [c["name"] for c in got["columns"]] == pq.read_schema(root / "_common_metadata").names


def make_points(n, seed):
    # a patch spanning several base pixels, so both hive levels vary
    rng = np.random.default_rng(seed)
    ra = rng.uniform(20, 110, n)
    dec = rng.uniform(-30, 30, n)
    return ra, dec


def hive_table(ra, dec, order=5):
    import healpy
    pix = healpy.ang2pix(2 ** order, ra, dec, nest=True, lonlat=True)
    return pa.table({"ra": ra, "dec": dec, "id": np.arange(len(ra)),
                     "healpix_k0": pix >> (2 * order), f"healpix_k{order}": pix}), pix


def test_hive_pyarrow_union(tmp_path):
    pixels = []
    for year, seed in [("2020", 1), ("2021", 2)]:
        ra, dec = make_points(300, seed)
        t, pix = hive_table(ra, dec)
        # IRSA names each year's dataset directory like a file: cat-healpix_k5-year1.parquet/
        pq.write_to_dataset(t, str(tmp_path / f"cat-healpix_k5-year{year}.parquet"),
                            partition_cols=["healpix_k0", "healpix_k5"])
        pixels.append(pix)
    allpix = np.concatenate(pixels)
    got = info(tmp_path)
    assert got["kind"] == "hive"
    assert got["rows"] == 600
    assert len({p >> 10 for p in np.concatenate(pixels)}) > 2
    u, counts = np.unique(allpix, return_counts=True)
    assert [(p["order"], p["pixel"]) for p in got["partitions"]] == [(5, int(x)) for x in u]
    assert [p["rows"] for p in got["partitions"]] == [int(c) for c in counts]
    assert got["sky_fraction"] == pytest.approx(len(u) / (12 * 4 ** 5))
    assert sorted(c["name"] for c in got["columns"]) == ["dec", "id", "ra"]


def test_hive_duckdb(tmp_path):
    import duckdb
    ra, dec = make_points(2000, 7)
    t, pix = hive_table(ra, dec, order=3)
    con = duckdb.connect()
    con.register("t", t)
    out = tmp_path / "duck"
    con.execute(f"COPY t TO '{out}' (FORMAT parquet, PARTITION_BY (healpix_k0, healpix_k3))")
    got = info(out)
    assert got["kind"] == "hive"
    u, counts = np.unique(pix, return_counts=True)
    assert [(p["order"], p["pixel"]) for p in got["partitions"]] == [(3, int(x)) for x in u]
    assert [p["rows"] for p in got["partitions"]] == [int(c) for c in counts]


def test_hive_inconsistent_levels(tmp_path):
    d = tmp_path / "healpix_k0=1" / "healpix_k5=0"
    d.mkdir(parents=True)
    pq.write_table(pa.table({"ra": [1.0], "dec": [2.0]}), d / "part-0.parquet")
    p = run_skytile("info", tmp_path)
    assert p.returncode == 1
    assert "is not inside healpix_k0=1" in p.stderr


def test_plain_parquet_file_and_dir(tmp_path):
    t1 = pa.table({"a": np.arange(10), "b": np.linspace(0, 1, 10)})
    t2 = pa.table({"a": np.arange(5), "b": np.linspace(0, 1, 5)})
    (tmp_path / "sub").mkdir()
    pq.write_table(t1, tmp_path / "x.parquet")
    pq.write_table(t2, tmp_path / "sub" / "y.parquet", row_group_size=2)
    got = info(tmp_path / "x.parquet")
    assert got["kind"] == "parquet" and got["rows"] == 10
    assert [c["name"] for c in got["columns"]] == ["a", "b"]
    got = info(tmp_path)
    assert got["kind"] == "parquet" and got["rows"] == 15 and got["n_files"] == 2
    assert got["partitions"] == [{"order": -1, "pixel": -1, "rows": 15, "files": 2}]


def copy_catalog(shared, tmp_path, name="small_sky_object_catalog"):
    dst = tmp_path / name
    shutil.copytree(shared / "fixtures/hats-import" / name, dst)
    return dst


def test_metadata_path_escape(shared, tmp_path):
    cat = copy_catalog(shared, tmp_path)
    md = pq.read_metadata(cat / "dataset/Norder=0/Dir=0/Npix=11.parquet")
    md.set_file_path("../../outside.parquet")
    md.write_metadata_file(str(cat / "dataset/_metadata"))
    p = run_skytile("info", cat)
    assert p.returncode == 1
    assert "../../outside.parquet" in p.stderr and "not a relative path inside the catalog" in p.stderr


def test_metadata_absolute_path(shared, tmp_path):
    cat = copy_catalog(shared, tmp_path)
    md = pq.read_metadata(cat / "dataset/Norder=0/Dir=0/Npix=11.parquet")
    md.set_file_path("/etc/passwd")
    md.write_metadata_file(str(cat / "dataset/_metadata"))
    p = run_skytile("info", cat)
    assert p.returncode == 1 and "/etc/passwd" in p.stderr


def test_collection_parent_path_rejected(shared):
    p = run_skytile("info", shared / "fixtures/hats-import/small_sky_collection")
    assert p.returncode == 1
    assert "leaves the collection" in p.stderr


def test_partition_info_bad_pixel(shared, tmp_path):
    cat = copy_catalog(shared, tmp_path)
    (cat / "partition_info.csv").write_text("Norder,Npix\n0,12\n")
    p = run_skytile("info", cat)
    assert p.returncode == 1 and "bad pixel" in p.stderr


@pytest.mark.parametrize("kind", ["empty_dir", "text_file", "missing"])
def test_not_a_catalog(tmp_path, kind):
    if kind == "empty_dir":
        path = tmp_path / "empty"
        path.mkdir()
        (path / "readme.txt").write_text("hello")
    elif kind == "text_file":
        path = tmp_path / "notes.txt"
        path.write_text("not parquet")
    else:
        path = tmp_path / "nope"
    p = run_skytile("info", path)
    assert p.returncode == 1
    if kind == "missing":
        assert "no such file or directory" in p.stderr
    else:
        assert "not a HATS catalog, hipscat catalog, hive HEALPix dataset or Parquet file/directory" in p.stderr


def test_text_output(shared):
    p = run_skytile("info", shared / "fixtures/hats/small_sky_source")
    assert p.returncode == 0
    assert "rows:          17161" in p.stdout
    assert "partitions:    14 (order 0: 1, order 1: 1, order 2: 12)" in p.stdout


def test_hive_with_metadata_file(tmp_path):
    """An IRSA-style _metadata at the root: row counts come from it (no footer reads)."""
    ra, dec = make_points(500, 11)
    t, pix = hive_table(ra, dec)
    collector = []
    pq.write_to_dataset(t, str(tmp_path), partition_cols=["healpix_k0", "healpix_k5"],
                        metadata_collector=collector)
    pq.write_metadata(t.drop_columns(["healpix_k0", "healpix_k5"]).schema, str(tmp_path / "_metadata"),
                      metadata_collector=collector)
    md = pq.read_metadata(tmp_path / "_metadata")
    assert md.num_row_groups == len(collector)
    got = info(tmp_path)
    assert got["kind"] == "hive" and got["has_metadata"]
    u, counts = np.unique(pix, return_counts=True)
    assert [(p["order"], p["pixel"]) for p in got["partitions"]] == [(5, int(x)) for x in u]
    assert [p["rows"] for p in got["partitions"]] == [int(c) for c in counts]


@pytest.mark.parametrize("junk", [b"", b"\x00\xff" * 100, b"Norder,Npix\n", b"Norder,Npix\n0,abc\n",
                                  b"Npix,Norder\n11,0\n", b"Norder,Npix\n99999999999999999999,1\n"])
def test_junk_partition_info(shared, tmp_path, junk):
    cat = copy_catalog(shared, tmp_path)
    (cat / "partition_info.csv").write_bytes(junk)
    p = run_skytile("info", "--json", cat)
    if p.returncode == 0:   # a readable file: pixels are what it says
        got = json.loads(p.stdout)
        if junk == b"Npix,Norder\n11,0\n":
            assert [(q["order"], q["pixel"]) for q in got["partitions"]] == [(0, 11)]
        else:
            assert got["partitions"] == []
    else:
        assert p.returncode == 1 and "partition_info.csv" in p.stderr


@pytest.mark.parametrize("junk", [b"", b"{", b"[]", b"{\"catalog_name\": }", b"\xff\xfe{}", b"{\"a\": [[[[[[["])
def test_junk_catalog_info(shared, tmp_path, junk):
    dst = tmp_path / "h"
    shutil.copytree(shared / "fixtures/hats-import/hipscat/small_sky_object_catalog", dst)
    (dst / "catalog_info.json").write_bytes(junk)
    p = run_skytile("info", dst)
    assert p.returncode == 1 and "catalog_info.json" in p.stderr


def test_json_output_is_valid_utf8(shared, tmp_path):
    """Property values with invalid UTF-8 still give valid JSON (U+FFFD)."""
    cat = copy_catalog(shared, tmp_path)
    props = cat / "hats.properties"
    props.write_bytes(props.read_bytes() + b"\nweird=a\xff\xed\xa0\x80b\xc3\xa9\n")
    p = run_skytile("info", "--json", cat)
    assert p.returncode == 0
    assert json.loads(p.stdout)["properties"]["weird"] == "a\ufffd\ufffd\ufffd\ufffdb\u00e9"
