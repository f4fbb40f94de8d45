"""`skytile import` options against hats-import (PyPI) run live on the same
inputs and arguments (issue 5): constant order, lowest order + skymap alt
orders, row groups of 100 rows, subtile row groups, existing pixels
(incremental), byte threshold, FITS inputs (small_sky.fits, a TDIM file),
.gz/.zip/header-named CSVs, mixed_schema with a schema file, a pandas-index
Parquet file, and the reader options (--columns, --drop-columns,
--filename-regex/--filename-column, --column-names).

hats-import runs once for all jobs (tests/hats_import_runner.py, one dask
client, ~20 s); each test then runs skytile and compares partitions,
partition_info.csv, every leaf (schema without metadata, rows and their
order, row group sizes, sorting columns), properties and skymaps.
Expectations of hats-import's own tests (test_run_round_trip.py) are
asserted too where they are explicit (24 row groups of 100 rows, the mixed
schema, the pandas index columns, pixel (2,178) holding 14 rows, ...).
"""
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, SHARED, run_skytile

hp = pytest.importorskip("healpy")
pytest.importorskip("hats_import")

FIX = SHARED / "fixtures" / "hats-import"
TF = FIX / "test_formats"
PARTS = sorted(str(p) for p in (FIX / "small_sky_parts").glob("*.csv"))
SOURCE = sorted(str(p) for p in (FIX / "small_sky_source").glob("*.csv"))
SRC_ARGS = {"catalog_type": "source", "ra_column": "source_ra", "dec_column": "source_dec",
            "sort_columns": "source_id", "highest_healpix_order": 2, "pixel_threshold": 3000}
SRC_FLAGS = ["--catalog-type", "source", "--ra-column", "source_ra", "--dec-column", "source_dec",
             "--sort-columns", "source_id", "--highest-order", "2", "--pixel-threshold", "3000"]
EXISTING = [[1, 44], [2, 180], [2, 181], [3, 732]]

# name: (inputs, hats-import reader, hats-import args, skytile flags)
JOBS = {
    "constant": (PARTS, "csv", {"constant_healpix_order": 2}, ["--constant-order", "2"]),
    "lowest": (PARTS, "csv", {"lowest_healpix_order": 2, "highest_healpix_order": 4,
                              "skymap_alt_orders": [3, 1]},
               ["--lowest-order", "2", "--highest-order", "4", "--skymap-alt-orders", "3,1"]),
    "num_rows": (SOURCE, "csv", {**SRC_ARGS, "row_group_kwargs": {"num_rows": 100}},
                 [*SRC_FLAGS, "--row-group-rows", "100"]),
    "subtile": (SOURCE, "csv", {**SRC_ARGS, "row_group_kwargs": {"subtile_order_delta": 2}},
                [*SRC_FLAGS, "--row-group-subtile-delta", "2"]),
    "existing": (SOURCE, "csv", {**SRC_ARGS, "highest_healpix_order": 4,
                                 "existing_pixels": EXISTING},
                 [*SRC_FLAGS, "--highest-order", "4", "--existing-pixels", "@EXISTING"]),
    "bytes": ([str(TF / "small_sky_lumpy.csv")], "csv",
              {"highest_healpix_order": 3, "byte_pixel_threshold": 40000},
              ["--highest-order", "3", "--byte-threshold", "40000"]),
    "fits": ([str(TF / "small_sky.fits")], "fits", {"highest_healpix_order": 2},
             ["--highest-order", "2"]),
    "fits_tdim": ([str(TF / "zall-pix-iron_10rows.fits")], "fits",
                  {"ra_column": "TARGET_RA", "dec_column": "TARGET_DEC"},
                  ["--ra-column", "TARGET_RA", "--dec-column", "TARGET_DEC"]),
    "gz": ([str(TF / "catalog.csv.gz")], {"class": "CsvReader", "kwargs": {"compression": "gzip"}},
           {"highest_healpix_order": 2},
           ["--highest-order", "2"]),
    "zip": ([str(TF / "catalog.zip")], {"class": "CsvReader", "kwargs": {"compression": "zip"}},
            {"highest_healpix_order": 2},
            ["--highest-order", "2"]),
    "headers": ([str(TF / "headers.csv")], "csv",
                {"ra_column": "ra_mean", "dec_column": "dec_mean", "highest_healpix_order": 2},
                ["--ra-column", "ra_mean", "--dec-column", "dec_mean", "--highest-order", "2"]),
    "mixed_schema": ([str(FIX / "mixed_schema" / f"input_0{k}.csv") for k in (1, 2, 3)],
                     {"class": "CsvReader",
                      "kwargs": {"chunksize": 1, "schema_file": str(FIX / "mixed_schema" / "schema.parquet")}},
                     {"highest_healpix_order": 1},
                     ["--highest-order", "1", "--schema", str(FIX / "mixed_schema" / "schema.parquet")]),
    "pandasindex": ([str(TF / "pandasindex.parquet")], {"class": "ParquetPandasReader"},
                    {"highest_healpix_order": 1, "sort_columns": "obs_id"},
                    ["--highest-order", "1", "--sort-columns", "obs_id",
                     "--columns", "obs_id,obj_id,band,ra,dec,mag"]),
    "pipe": (["@PIPE"], {"class": "CsvReader", "kwargs": {
        "sep": "|", "header": None,
        "column_names": ["id", "ra", "dec", "ra_error", "dec_error"]}},
        {"highest_healpix_order": 2},
        ["--highest-order", "2", "--delimiter", "|",
         "--column-names", "id,ra,dec,ra_error,dec_error"]),
    # pandas index columns (files written by pandas in hats_out): a named index is kept
    # and comes first, an unnamed one (__index_level_0__) is dropped, as hats-import's
    # ParquetPandasReader does
    "pidx_named": (["@PIDX_NAMED"], {"class": "ParquetPandasReader"}, {"highest_healpix_order": 2},
                   ["--highest-order", "2"]),
    "pidx_unnamed": (["@PIDX_UNNAMED"], {"class": "ParquetPandasReader"},
                     {"highest_healpix_order": 2}, ["--highest-order", "2"]),
    "pidx_multi": (["@PIDX_MULTI"], {"class": "ParquetPandasReader"}, {"highest_healpix_order": 2},
                   ["--highest-order", "2"]),
    "h29_parquet": ([str(TF / "healpix_29_index.parquet")], "parquet",
                    {"use_healpix_29": True, "highest_healpix_order": 2, "pixel_threshold": 3000},
                    ["--use-healpix-29", "--highest-order", "2", "--pixel-threshold", "3000"]),
    "h29_csv": ([str(TF / "spatial_index.csv")], "csv",
                {"use_healpix_29": True, "highest_healpix_order": 2, "pixel_threshold": 3000},
                ["--use-healpix-29", "--highest-order", "2", "--pixel-threshold", "3000"]),
}


GENERATED = {}


def resolve(inputs):
    return [GENERATED.get(i, i) for i in inputs]


@pytest.fixture(scope="module")
def hats_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("hi")
    # a headerless pipe-delimited copy of small_sky (test_formats/pipe_delimited.csv has
    # no positions: it only tests readers)
    lines = (FIX / "small_sky" / "catalog.csv").read_text().splitlines()[1:]
    (d / "pipe.psv").write_text("".join(l.replace(",", "|") + "\n" for l in lines))
    GENERATED["@PIPE"] = str(d / "pipe.psv")
    import pandas as pd
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame({"id": rng.permutation(n) * 7 + 1000, "ra": rng.uniform(0, 60, n),
                       "dec": rng.uniform(-30, 30, n), "mag": rng.normal(15, 1, n),
                       "band": rng.choice(["g", "r"], n)})
    df.set_index("id").to_parquet(d / "pidx_named.parquet")
    df.set_index(pd.Index(rng.permutation(n))).to_parquet(d / "pidx_unnamed.parquet")
    df.set_index(["band", "id"]).to_parquet(d / "pidx_multi.parquet")
    for k in ("named", "unnamed", "multi"):
        GENERATED[f"@PIDX_{k.upper()}"] = str(d / f"pidx_{k}.parquet")
    jobs = []
    for name, (inputs, reader, args, _) in JOBS.items():
        inputs = resolve(inputs)
        (d / name).mkdir()
        jobs.append({"name": name, "out": str(d / name), "inputs": inputs, "reader": reader,
                     "args": args})
    (d / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run([sys.executable, str(ROOT / "tests" / "hats_import_runner.py"), str(d / "jobs.json")],
                   check=True, capture_output=True, timeout=600, cwd=d)
    return d


def leaves(cat):
    return sorted(p.relative_to(cat) for p in (cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))


def props(cat):
    return dict(l.split("=", 1) for l in (cat / "hats.properties").read_text().splitlines()[1:])


def run_ours(tmp_path, name, extra=()):
    inputs, _, _, flags = JOBS[name]
    inputs = resolve(inputs)
    flags = list(flags)
    if "@EXISTING" in flags:
        f = tmp_path / "existing.csv"
        f.write_text("Norder,Npix\n" + "".join(f"{o},{p}\n" for o, p in EXISTING))
        flags[flags.index("@EXISTING")] = str(f)
    out = tmp_path / name
    run_skytile("import", *inputs, "--output", out, "--name", name, *flags, *extra, check=True,
                timeout=120)
    return out


def norm(schema):
    """Schema without metadata, large_string as string: hats-import 0.11 under pandas 3
    writes pandas' default string dtype as large_string, an artefact of the pandas
    version (the fixture catalogs hats-import wrote have string)."""
    return pa.schema([pa.field(f.name, pa.string() if f.type == pa.large_string() else f.type)
                      for f in schema.remove_metadata()])


def compare(ours, ref, float_ulps=False):
    """Same partitions, leaves (schema, rows, order, row groups, sorting columns), properties."""
    assert (ref.parent / "result.txt").read_text() == "ok", (ref.parent / "result.txt").read_text()
    assert (ours / "partition_info.csv").read_text() == (ref / "partition_info.csv").read_text()
    assert leaves(ours) == leaves(ref)
    for f in leaves(ours):
        a, b = pq.ParquetFile(ours / f), pq.ParquetFile(ref / f)
        ta, tb = a.read(), b.read()
        assert norm(ta.schema).equals(norm(tb.schema)), (f, ta.schema, tb.schema)
        tb = tb.cast(norm(tb.schema))
        if float_ulps:
            for n in ta.column_names:
                if pa.types.is_floating(ta.schema.field(n).type):
                    assert np.allclose(ta[n].to_numpy(), tb[n].to_numpy(), rtol=4e-16, atol=0,
                                       equal_nan=True), n
                else:
                    assert ta[n].cast(tb.schema.field(n).type).equals(tb[n]), n
        else:
            assert ta.cast(norm(ta.schema)).equals(tb), f
        ma, mb = a.metadata, b.metadata
        assert [ma.row_group(i).num_rows for i in range(ma.num_row_groups)] == \
            [mb.row_group(i).num_rows for i in range(mb.num_row_groups)], f
        assert ma.row_group(0).sorting_columns == mb.row_group(0).sorting_columns
    po, pr = props(ours), props(ref)
    for k in ("obs_collection", "dataproduct_type", "hats_nrows", "hats_col_ra", "hats_col_dec",
              "hats_col_healpix", "hats_col_healpix_order", "hats_skymap_order",
              "hats_skymap_alt_orders", "hats_max_rows", "hats_order", "moc_sky_fraction",
              "hats_cols_sort"):
        assert po.get(k) == pr.get(k), k
    from astropy.io import fits
    for f in sorted(p.name for p in ref.glob("*.fits")):
        with fits.open(ours / f) as x, fits.open(ref / f) as y:
            assert np.array_equal(np.asarray(x[1].data.tolist()), np.asarray(y[1].data.tolist())), f
    assert sorted(p.name for p in ours.glob("*.fits")) == sorted(p.name for p in ref.glob("*.fits"))
    from hats.io.validation import is_valid_catalog
    assert is_valid_catalog(str(ours), strict=True)


def test_constant_order(hats_out, tmp_path):
    out = run_ours(tmp_path, "constant")
    compare(out, hats_out / "constant" / "constant")
    # hats-import's own expectations
    assert all(l.startswith("2,") for l in (out / "partition_info.csv").read_text().splitlines()[1:])
    assert pq.read_metadata(out / "dataset/Norder=2/Dir=0/Npix=178.parquet").num_rows == 14
    assert props(out)["hats_skymap_order"] == "2"


def test_lowest_order_and_skymap_alt_orders(hats_out, tmp_path):
    out = run_ours(tmp_path, "lowest")
    compare(out, hats_out / "lowest" / "lowest")
    assert len(leaves(out)) == 14
    assert (out / "skymap.1.fits").exists() and (out / "skymap.3.fits").exists()
    assert not (out / "skymap.2.fits").exists()
    from hats import read_hats
    cat = read_hats(out)
    assert cat.catalog_info.skymap_alt_orders == [1, 3] and cat.catalog_info.skymap_order == 4


def test_row_groups_of_100_rows(hats_out, tmp_path):
    out = run_ours(tmp_path, "num_rows")
    compare(out, hats_out / "num_rows" / "num_rows", float_ulps=True)
    md = pq.read_metadata(out / "dataset/Norder=1/Dir=0/Npix=47.parquet")
    assert md.num_rows == 2395 and md.num_row_groups == 24
    assert all(md.row_group(i).num_rows == 100 for i in range(23))


def test_row_groups_by_subtile(hats_out, tmp_path):
    out = run_ours(tmp_path, "subtile")
    compare(out, hats_out / "subtile" / "subtile", float_ulps=True)
    for f in leaves(out):
        o = int(f.parts[1].split("=")[1])
        pf = pq.ParquetFile(out / f)
        seen = []
        for i in range(pf.num_row_groups):
            h = pf.read_row_group(i, columns=["_healpix_29"])[0].to_numpy()
            sub = np.unique(h >> (2 * (29 - min(o + 2, 29))))
            assert len(sub) == 1
            seen.append(int(sub[0]))
        assert seen == sorted(set(seen))


def test_existing_pixels(hats_out, tmp_path):
    out = run_ours(tmp_path, "existing")
    compare(out, hats_out / "existing" / "existing", float_ulps=True)
    parts = {tuple(map(int, l.split(","))) for l in (out / "partition_info.csv").read_text().splitlines()[1:]}
    # rows falling in an existing partition went to it; no new partition overlaps one
    for o, p in parts:
        for eo, ep in EXISTING:
            if (o, p) != (eo, ep):
                lo = min(o, eo)
                assert (p >> (2 * (o - lo))) != (ep >> (2 * (eo - lo)))


def test_byte_threshold(hats_out, tmp_path):
    out = run_ours(tmp_path, "bytes")
    ref = hats_out / "bytes" / "bytes"
    compare(out, ref)
    # the byte threshold changed the partitioning: more partitions than by rows
    assert len(leaves(out)) > 1


@pytest.mark.parametrize("name", ["fits", "pipe", "fits_tdim", "gz", "zip", "headers"])
def test_formats(hats_out, tmp_path, name):
    out = run_ours(tmp_path, name)
    compare(out, hats_out / name / name)


def test_mixed_schema_with_schema_file(hats_out, tmp_path):
    out = run_ours(tmp_path, "mixed_schema")
    compare(out, hats_out / "mixed_schema" / "mixed_schema")
    expected = pa.schema([("_healpix_29", pa.int64()), ("id", pa.int64()), ("ra", pa.float64()),
                          ("dec", pa.float64()), ("ra_error", pa.int64()), ("dec_error", pa.int64()),
                          ("comment", pa.string()), ("code", pa.string())])
    f = out / "dataset/Norder=0/Dir=0/Npix=11.parquet"
    assert pq.read_metadata(f).schema.to_arrow_schema().remove_metadata().equals(expected)
    assert pq.read_metadata(out / "dataset/_metadata").schema.to_arrow_schema().remove_metadata().equals(expected)
    assert sorted(pq.read_table(f)["id"].to_pylist()) == list(range(700, 708))


def test_pandas_index_parquet(hats_out, tmp_path):
    out = run_ours(tmp_path, "pandasindex")
    compare(out, hats_out / "pandasindex" / "pandasindex")
    t = pq.read_table(out / "dataset/Norder=1/Dir=0/Npix=46.parquet")
    assert t.column_names == ["_healpix_29", "obs_id", "obj_id", "band", "ra", "dec", "mag"]
    assert sorted(t["obs_id"].to_pylist()) == sorted(["star1_1", "star1_2", "star1_3", "star1_4",
                                                      "galaxy1_1", "galaxy1_2", "galaxy2_1", "galaxy2_2"])


@pytest.mark.parametrize("name", ["pidx_named", "pidx_unnamed", "pidx_multi"])
def test_pandas_index_columns(hats_out, tmp_path, name):
    """Parquet files written by pandas: the stored index columns (checked with pyarrow)
    and hats-import's (ParquetPandasReader) result; ours equals it."""
    src = pq.read_schema(GENERATED[f"@{name.upper()}"])
    idx = json.loads(src.metadata[b"pandas"])["index_columns"]
    assert idx == {"pidx_named": ["id"], "pidx_unnamed": ["__index_level_0__"],
                   "pidx_multi": ["band", "id"]}[name]
    assert all(c in src.names for c in idx)
    out = run_ours(tmp_path, name)
    compare(out, hats_out / name / name)
    names = pq.read_schema(out / leaves(out)[0]).names
    exp = {"pidx_named": ["id", "ra", "dec", "mag", "band"],
           "pidx_unnamed": ["id", "ra", "dec", "mag", "band"],
           "pidx_multi": ["band", "id", "ra", "dec", "mag"]}[name]
    assert names == ["_healpix_29", *exp]


def test_reader_options(tmp_path):
    """--drop-columns, --filename-regex/--filename-column and headerless CSV with
    --column-names, checked against pyarrow's reading of the same files."""
    src = pacsv.read_csv(FIX / "small_sky" / "catalog.csv")
    d = tmp_path / "in"
    d.mkdir()
    for k, band in enumerate("gri"):
        part = src.slice(k * 44, 44)
        (d / f"ztf_{k:04d}_{band}.csv").write_text(
            "\n".join(",".join(str(v) for v in row.values()) for row in part.to_pylist()) + "\n")
    out = tmp_path / "cat"
    run_skytile("import", d, "--output", out, "--column-names", ",".join(src.column_names),
                "--drop-columns", "ra_error", "--filename-regex", r"ztf_[0-9]+_([a-z])\.csv",
                "--filename-column", "band", check=True)
    t = pa.concat_tables([pq.read_table(out / f) for f in leaves(out)])
    assert t.column_names == ["_healpix_29", "id", "ra", "dec", "dec_error", "band"]
    exp = src.drop_columns(["ra_error"])
    exp = exp.append_column("band", pa.array(["g"] * 44 + ["r"] * 44 + ["i"] * 43))
    exp = exp.add_column(0, "_healpix_29", pa.array(hp.ang2pix(2**29, src["ra"].to_numpy(),
                                                              src["dec"].to_numpy(), nest=True,
                                                              lonlat=True).astype(np.int64)))
    assert t.sort_by("id").equals(exp.sort_by("id").cast(t.schema))
    # --columns keeps only the given columns, in that order
    out2 = tmp_path / "cat2"
    run_skytile("import", FIX / "small_sky" / "catalog.csv", "--output", out2, "--columns",
                "dec,ra,id", check=True)
    t2 = pq.read_table(out2 / leaves(out2)[0])
    assert t2.column_names == ["_healpix_29", "dec", "ra", "id"]
    assert t2.num_rows == 131


@pytest.mark.parametrize("flags,msg", [
    (["--row-group-rows", "10", "--row-group-subtile-delta", "1"], "not both"),
    (["--filename-regex", "x"], "go together"),
    (["--skymap-alt-orders", "1,x"], "expected an integer"),
    (["--existing-pixels", "/nonexistent.csv"], "nonexistent"),
    (["--byte-threshold", "-5"], "expected a size"),
])
def test_bad_option_values(tmp_path, flags, msg):
    p = run_skytile("import", FIX / "small_sky" / "catalog.csv", "--output", tmp_path / "x", *flags)
    assert p.returncode == 2 and msg in p.stderr, p.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name,cols", [("h29_parquet", ["id", "_healpix_29"]),
                                       ("h29_csv", ["id", "_healpix_29", "magnitude", "nobs"])])
def test_use_healpix_29(hats_out, tmp_path, name, cols):
    """--use-healpix-29 (hats-import's use_healpix_29): positions from the input's
    _healpix_29, which stays in its place; no column is added; hats-import's own
    expectations: 131 rows in (0, 11), ids 700..830, the column order."""
    out = run_ours(tmp_path, name)
    compare(out, hats_out / name / name)
    t = pq.read_table(out / "dataset/Norder=0/Dir=0/Npix=11.parquet")
    assert t.column_names == cols
    assert sorted(t["id"].to_pylist()) == list(range(700, 831))
    assert "hats_col_healpix" not in props(out)


def test_use_healpix_29_positions_and_errors(tmp_path):
    """Rows are placed by _healpix_29, not by ra/dec (here deliberately unrelated),
    sorted by it, input order kept for ties; an input with _healpix_29 needs the flag;
    --sort-columns is refused with it; invalid values are reported."""
    rng = np.random.default_rng(9)
    n = 5000
    h = rng.integers(0, 12 << 58, n // 5).repeat(5)  # ties
    t = pa.table({"id": np.arange(n), "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-90, 90, n),
                  "_healpix_29": pa.array(rng.permutation(h), pa.int64())})
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / "cat"
    run_skytile("import", tmp_path / "in.parquet", "--output", out, "--use-healpix-29",
                "--highest-order", "3", "--pixel-threshold", "400", check=True)
    parts = {}
    for f in leaves(out):
        o, p = int(f.parts[1].split("=")[1]), int(f.stem.split("=")[1])
        x = pq.read_table(out / f)
        assert x.column_names == ["id", "ra", "dec", "_healpix_29"]
        hv = x["_healpix_29"].to_numpy()
        assert np.all(hv >> (2 * (29 - o)) == p)
        exp = t.filter(pa.array((t["_healpix_29"].to_numpy() >> (2 * (29 - o))) == p))
        exp = exp.take(np.argsort(exp["_healpix_29"].to_numpy(), kind="stable"))
        assert x.equals(exp)
        parts[(o, p)] = x.num_rows
        assert pq.read_metadata(out / f).row_group(0).sorting_columns[0].column_index == 3
    assert sum(parts.values()) == n
    # without the flag: a clear error
    p = run_skytile("import", tmp_path / "in.parquet", "--output", tmp_path / "x")
    assert p.returncode == 1 and "--use-healpix-29" in p.stderr and "--drop-columns" in p.stderr
    # dropping it computes it again from ra/dec (healpy)
    run_skytile("import", tmp_path / "in.parquet", "--output", tmp_path / "y", "--drop-columns",
                "_healpix_29", check=True)
    y = pa.concat_tables([pq.read_table(tmp_path / "y" / f) for f in leaves(tmp_path / "y")])
    assert np.array_equal(y["_healpix_29"].to_numpy(),
                          hp.ang2pix(2**29, y["ra"].to_numpy(), y["dec"].to_numpy(), nest=True, lonlat=True))
    p = run_skytile("import", tmp_path / "in.parquet", "--output", tmp_path / "z", "--use-healpix-29",
                    "--sort-columns", "id")
    assert p.returncode == 1 and "--sort-columns" in p.stderr
    bad = t.set_column(3, "_healpix_29", pa.array([-1] + [0] * (n - 1), pa.int64()))
    pq.write_table(bad, tmp_path / "bad.parquet")
    p = run_skytile("import", tmp_path / "bad.parquet", "--output", tmp_path / "w", "--use-healpix-29")
    assert p.returncode == 1 and "not an order-29 nested pixel" in p.stderr, p.stderr
