"""The Arrow schema of the leaves `skytile import` writes equals hats-import's
(PyPI, run live on the same inputs through tests/hats_import_runner.py):
pyarrow.parquet.read_schema of every leaf, _common_metadata and _metadata --
field names and order, types and nullability (schema metadata values aside)
-- and the leaves' rows, for each input kind (issue 5):

  CSV (pandas reader): strings are large_string, an int column with a null
    is double (pandas' float64), bool stays bool, every column nullable;
    with a schema file, its types (string stays string);
  FITS (numpy -> pyarrow): strings are string, TDIM columns fixed_size_list,
    every column nullable;
  Parquet (hats-import's default "parquet" reader, pyarrow): the file's
    Arrow types (from its ARROW:schema: large_string, fixed_size_list) and
    nullability (a required column stays non-nullable).

Not compared here: hats-import's ParquetPandasReader (pandas round trip:
strings become large_string, int columns with nulls double, fixed-size
lists lists, everything nullable), which skytile does not emulate for
types -- it follows the default Parquet reader (test_import_options.py
compares those catalogs with string types normalised).
"""
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, SHARED, run_skytile

pytest.importorskip("hats_import")

FIX = SHARED / "fixtures" / "hats-import"
TF = FIX / "test_formats"
SOURCE = sorted(str(p) for p in (FIX / "small_sky_source").glob("*.csv"))

# name: (inputs, hats-import reader, hats-import args, skytile flags)
JOBS = {
    "csv": ([str(FIX / "small_sky" / "catalog.csv")], "csv", {}, []),
    "source": (SOURCE, "csv", {"catalog_type": "source", "ra_column": "source_ra",
                               "dec_column": "source_dec", "highest_healpix_order": 2,
                               "pixel_threshold": 3000},
               ["--catalog-type", "source", "--ra-column", "source_ra", "--dec-column",
                "source_dec", "--highest-order", "2", "--pixel-threshold", "3000"]),
    "lumpy": ([str(TF / "small_sky_lumpy.csv")], "csv",
              {"highest_healpix_order": 3, "byte_pixel_threshold": 40000},
              ["--highest-order", "3", "--byte-threshold", "40000"]),
    "gaia": ([str(TF / "gaia_minimum.csv")],
             {"class": "CsvReader", "kwargs": {"comment": "#",
                                               "schema_file": str(TF / "gaia_minimum_schema.parquet")}},
             {}, ["--comment", "#", "--schema", str(TF / "gaia_minimum_schema.parquet")]),
    "mixed_schema": ([str(FIX / "mixed_schema" / f"input_0{k}.csv") for k in (1, 2, 3)],
                     {"class": "CsvReader",
                      "kwargs": {"chunksize": 1, "schema_file": str(FIX / "mixed_schema" / "schema.parquet")}},
                     {"highest_healpix_order": 1},
                     ["--highest-order", "1", "--schema", str(FIX / "mixed_schema" / "schema.parquet")]),
    "h29_csv": ([str(TF / "spatial_index.csv")], "csv",
                {"use_healpix_29": True, "highest_healpix_order": 2, "pixel_threshold": 3000},
                ["--use-healpix-29", "--highest-order", "2", "--pixel-threshold", "3000"]),
    "tricky_csv": (["@GEN/tricky.csv"], "csv", {}, []),
    "fits": ([str(TF / "small_sky.fits")], "fits", {"highest_healpix_order": 2},
             ["--highest-order", "2"]),
    "fits_tdim": ([str(TF / "zall-pix-iron_10rows.fits")], "fits",
                  {"ra_column": "TARGET_RA", "dec_column": "TARGET_DEC"},
                  ["--ra-column", "TARGET_RA", "--dec-column", "TARGET_DEC"]),
    "lightcurve": ([str(TF / "lightcurve.parquet")], "parquet",
                   {"ra_column": "objra", "dec_column": "objdec", "use_healpix_29": True},
                   ["--ra-column", "objra", "--dec-column", "objdec", "--use-healpix-29"]),
    "types_pq": (["@GEN/types.parquet"], "parquet", {}, []),
}


def gen(d):
    rng = np.random.default_rng(1)
    n = 50
    t = pa.table({
        "id": pa.array(np.arange(n), pa.int64()),
        "ra": rng.uniform(0, 60, n), "dec": rng.uniform(-30, 30, n),
        "i8": pa.array(np.arange(n) % 100, pa.int8()), "i16": pa.array(np.arange(n), pa.int16()),
        "i32": pa.array(np.arange(n), pa.int32()), "u8": pa.array(np.arange(n), pa.uint8()),
        "u16": pa.array(np.arange(n), pa.uint16()), "u32": pa.array(np.arange(n), pa.uint32()),
        "u64": pa.array(np.arange(n), pa.uint64()), "f32": pa.array(np.arange(n), pa.float32()),
        "b": pa.array([bool(i % 2) for i in range(n)]),
        "s": pa.array([None if i % 7 == 0 else f"s{i}" for i in range(n)], pa.string()),
        "ls": pa.array([None if i % 9 == 0 else f"l{i}" for i in range(n)], pa.large_string()),
        "bin": pa.array([bytes([i]) for i in range(n)], pa.binary()),
        "lbin": pa.array([bytes([i, i]) for i in range(n)], pa.large_binary()),
        "ts": pa.array(np.arange(n) * 1000, pa.timestamp("ms")),
        "tsu": pa.array(np.arange(n), pa.timestamp("us", tz="UTC")),
        "d32": pa.array(np.arange(n, dtype=np.int32), pa.date32()),
        "lst": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int32())),
        "fsl": pa.array([None if i == 3 else [i, i, i] for i in range(n)], pa.list_(pa.float32(), 3)),
        "in": pa.array([None if i % 5 == 0 else i for i in range(n)], pa.int64()),
    })
    schema = t.schema.set(0, pa.field("id", pa.int64(), nullable=False))
    schema = schema.set(3, pa.field("i8", pa.int8(), nullable=False))
    pq.write_table(t.cast(schema), d / "types.parquet", row_group_size=20)
    # CSV: nulls in an int column, bools, an empty column, ints and floats mixed,
    # quoted strings with the delimiter, dates (text for pandas)
    rows = ["id,ra,dec,ni,b,empty,mix,s,dt"]
    for i in range(n):
        rows.append(f"{i},{rng.uniform(0, 60):.6f},{rng.uniform(-30, 30):.6f},"
                    f"{'' if i % 4 == 0 else i},{'True' if i % 2 else 'False'},,"
                    f"{i if i % 3 else i + 0.5},\"x,{i}\",2024-01-{i % 28 + 1:02d}")
    (d / "tricky.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def hats_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("peer")
    (d / "gen").mkdir()
    gen(d / "gen")
    jobs = []
    for name, (inputs, reader, args, _) in JOBS.items():
        (d / name).mkdir()
        jobs.append({"name": name, "out": str(d / name), "reader": reader, "args": args,
                     "inputs": [i.replace("@GEN", str(d / "gen")) for i in inputs]})
    (d / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(["nice", "-n", "10", sys.executable, str(ROOT / "tests" / "hats_import_runner.py"),
                    str(d / "jobs.json")], check=True, capture_output=True, timeout=600, cwd=d)
    return d


def fields(schema):
    def one(f):
        t = f.type
        kids = [one(t.field(i)) for i in range(t.num_fields)] if t.num_fields else []
        return (f.name, str(t), f.nullable, kids)
    return [one(f) for f in schema]


@pytest.mark.parametrize("name", list(JOBS))
def test_leaf_schema_matches_hats_import(hats_out, tmp_path, name):
    inputs, _, _, flags = JOBS[name]
    ref = hats_out / name / name
    assert (hats_out / name / "result.txt").read_text() == "ok", (hats_out / name / "result.txt").read_text()
    out = tmp_path / name
    run_skytile("import", *[i.replace("@GEN", str(hats_out / "gen")) for i in inputs], "--output", out,
                "--name", name, *flags, check=True)
    leaves = sorted(p.relative_to(ref) for p in (ref / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    assert leaves
    assert sorted(p.relative_to(out) for p in (out / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet")) == leaves
    for f in [*leaves, "dataset/_common_metadata", "dataset/_metadata"]:
        a, b = pq.read_schema(out / f), pq.read_schema(ref / f)
        assert fields(a) == fields(b), f
    for f in leaves:
        ta, tb = pq.read_table(out / f), pq.read_table(ref / f)
        assert ta.schema.remove_metadata() == tb.schema.remove_metadata(), f
        # same rows (hats-import sorts by _healpix_29 only: ties in input order, as ours)
        assert ta.replace_schema_metadata().equals(tb.replace_schema_metadata()), f
    from hats.io.validation import is_valid_catalog
    assert is_valid_catalog(str(out), strict=True)


def test_the_kinds_are_covered(hats_out):
    """The oracle really has the types the docstring describes."""
    def leaf(name):
        return pq.read_schema(next((hats_out / name / name / "dataset").glob("Norder=*/Dir=*/*.parquet")))
    assert leaf("source").field("band").type == pa.large_string()
    t = leaf("tricky_csv")
    assert t.field("ni").type == pa.float64() and t.field("s").type == pa.large_string()
    assert leaf("fits").field("test_id").type == pa.string()
    assert leaf("fits_tdim").field("COEFF").type == pa.list_(pa.float64(), 10)
    t = leaf("types_pq")
    assert t.field("ls").type == pa.large_string() and t.field("s").type == pa.string()
    assert t.field("fsl").type == pa.list_(pa.float32(), 3) and not t.field("id").nullable
    assert leaf("gaia").field("designation").type == pa.string()
