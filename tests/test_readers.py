"""Input readers (include/skytile/readers.h) against independent oracles.

Every fixture of hats-import's test_formats (and the CSV fixtures) is read with
st_input_open/st_input_next through ctypes, exported to pyarrow with the Arrow C
Data Interface, and compared value by value with pandas (CSV), astropy (FITS) or
pyarrow (Parquet).  Also: type inference and int->double promotion across files,
unification errors naming both files and the column, forced schemas, the
filename-regex column, pandas index dropping, exact float parsing (Python's
float() is the oracle), quoting, batch boundaries and clean errors on corrupt
inputs.
"""
import gzip
import math
import os
import random
import struct
import warnings
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SAN, SHARED

import test_readers_lib as R

pytestmark = pytest.mark.skipif(SAN, reason="an ASan libskytile.so cannot be loaded into Python")

HI = SHARED / "fixtures" / "hats-import"
TF = HI / "test_formats"


def norm(v):
    """Normalise a cell for comparison: NaN/None -> None, numpy scalars -> Python, bytes -> str."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def assert_matches_pandas(tab, df):
    assert tab.column_names == list(df.columns)
    for name in df.columns:
        ours = [norm(x) for x in tab.column(name).to_pylist()]
        ref = [norm(x) for x in df[name].tolist()]
        if pd.api.types.is_float_dtype(df[name].dtype):
            # pandas turns int columns with nulls into float: compare numerically
            ours = [None if x is None else float(x) for x in ours]
        assert ours == ref, f"column {name}: {ours[:5]} != {ref[:5]}"


CSV_CASES = [
    (HI / "small_sky" / "catalog.csv", {}, {}),
    (TF / "headers.csv", {}, {}),
    (TF / "catalog.csv.gz", {}, {}),
    (TF / "catalog.zip", {}, {}),
    (TF / "small_sky_lumpy.csv", {}, {}),
    (TF / "small_sky_healpix13.csv", {}, {}),
    (TF / "spatial_index.csv", {}, {}),
    (TF / "gaia_minimum.csv", {"comment": "#"}, {"comment": "#"}),
    (HI / "small_sky_source" / "small_sky_source.csv", {}, {}),
] + [(HI / "small_sky_parts" / f"catalog_0{i}_of_05.csv", {}, {}) for i in range(5)] + [
    (HI / "mixed_schema" / f"input_0{i}.csv", {}, {}) for i in (1, 2, 3)]


@pytest.mark.parametrize("path,opts,pdopts", CSV_CASES, ids=lambda x: x.name if hasattr(x, "name") else "")
def test_csv_fixture_matches_pandas(path, opts, pdopts):
    tab, fmt = R.read(path, **opts)
    assert fmt == "csv"
    df = pd.read_csv(path, **pdopts)
    if tab is None:
        assert len(df) == 0
        return
    assert tab.num_rows == len(df)
    assert_matches_pandas(tab, df)
    # inferred types: integer columns stay int64 (pandas: int64 unless nulls), floats double
    for name in df.columns:
        t = tab.schema.field(name).type
        if pd.api.types.is_integer_dtype(df[name].dtype):
            assert t == pa.int64(), name
        elif pd.api.types.is_float_dtype(df[name].dtype) and df[name].notna().any():
            assert t in (pa.float64(), pa.int64()), name


def test_pipe_delimited_with_column_names():
    names = ["letters", "ints", "empty", "numeric"]
    tab, _ = R.read(TF / "pipe_delimited.csv", delimiter="|", header=False, column_names=names)
    df = pd.read_csv(TF / "pipe_delimited.csv", sep="|", header=None, names=names)
    assert_matches_pandas(tab, df)
    assert tab.schema.field("ints").type == pa.int64()
    assert tab.schema.field("numeric").type == pa.float64()


def test_header_replaced_by_column_names():
    names = ["a", "b", "c", "d", "e"]
    tab, _ = R.read(HI / "small_sky" / "catalog.csv", column_names=names)
    df = pd.read_csv(HI / "small_sky" / "catalog.csv", header=0, names=names)
    assert_matches_pandas(tab, df)


def test_batches_and_column_selection():
    p = HI / "small_sky" / "catalog.csv"
    full, _ = R.read(p)
    small, _ = R.read(p, batch_rows=7)
    assert small.to_batches()[0].num_rows == 7
    assert small.equals(full)
    sel, _ = R.read(p, columns=["dec", "id"])
    assert sel.column_names == ["dec", "id"]
    assert sel.column("dec").equals(full.column("dec"))
    drop, _ = R.read(p, drop_columns=["ra_error", "nope"])
    assert drop.column_names == ["id", "ra", "dec", "dec_error"]
    with pytest.raises(R.ReaderError) as e:
        R.read(p, columns=["nope"])
    assert "nope" in e.value.msg and str(p) in e.value.msg


# ---- FITS -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["small_sky.fits", "tess_gam02_10rows.fits", "zall-pix-iron_10rows.fits"])
def test_fits_matches_astropy(name):
    from astropy.table import Table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Table.read(TF / name)
    tab, fmt = R.read(TF / name)
    assert fmt == "fits"
    assert tab.column_names == ref.colnames
    for c in ref.colnames:
        want = [norm(x) if not isinstance(x, list) else x for x in np.asarray(ref[c]).tolist()]
        got = tab.column(c).to_pylist()
        if ref[c].dtype.kind == "S":
            want = [x.decode() if isinstance(x, bytes) else x for x in np.asarray(ref[c]).tolist()]
        else:
            want = np.asarray(ref[c]).tolist()
        assert got == want, c
        if ref[c].ndim > 1:  # TDIM: nested fixed-size lists in numpy shape order
            t = tab.schema.field(c).type
            for d in ref[c].shape[1:]:
                assert pa.types.is_fixed_size_list(t) and t.list_size == d
                t = t.value_type


def write_fits(tmp_path, cols, name="t.fits"):
    from astropy.io import fits
    hdu = fits.BinTableHDU.from_columns(cols)
    p = tmp_path / name
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(p)
    return p


def test_fits_all_tforms_scaling_and_nulls(tmp_path):
    from astropy.io import fits
    from astropy.table import Table
    n = 50
    rng = np.random.default_rng(1)
    cols = [
        fits.Column("l", "L", array=rng.random(n) > 0.5),
        fits.Column("x", "11X", array=rng.random((n, 11)) > 0.5),
        fits.Column("b", "B", array=rng.integers(0, 255, n).astype(np.uint8)),
        fits.Column("sb", "B", array=rng.integers(-128, 127, n).astype(np.int8)),
        fits.Column("i", "I", array=rng.integers(-30000, 30000, n).astype(np.int16)),
        fits.Column("ui", "I", array=rng.integers(0, 65535, n).astype(np.uint16)),
        fits.Column("j", "J", array=rng.integers(-2**31, 2**31 - 1, n).astype(np.int32)),
        fits.Column("uj", "J", array=rng.integers(0, 2**32 - 1, n, dtype=np.uint64).astype(np.uint32)),
        fits.Column("k", "K", array=rng.integers(-2**62, 2**62, n)),
        fits.Column("uk", "K", array=rng.integers(0, 2**63, n, dtype=np.uint64) * 2 + 1),
        fits.Column("e", "E", array=rng.standard_normal(n).astype(np.float32)),
        fits.Column("d", "D", array=rng.standard_normal(n)),
        fits.Column("c", "C", array=(rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)),
        fits.Column("m", "M", array=rng.standard_normal(n) + 1j * rng.standard_normal(n)),
        fits.Column("s", "10A", array=np.array([("v%d  " % i) * (i % 3) for i in range(n)])),
        fits.Column("arr", "6D", dim="(3,2)", array=rng.standard_normal((n, 2, 3))),
        fits.Column("scaled", "J", array=rng.integers(-1000, 1000, n).astype(np.int32)),
        fits.Column("withnull", "J", null=-99, array=np.where(np.arange(n) % 7 == 0, -99, np.arange(n)).astype(np.int32)),
    ]
    p = write_fits(tmp_path, cols)
    with fits.open(p, mode="update") as h:  # generic scaling on the raw int32 column 17
        h[1].header["TSCAL17"] = 0.5
        h[1].header["TZERO17"] = 10.0
        h[1].header["TZERO4"] = -128  # signed bytes convention
        h[1].header["TZERO6"] = 32768  # unsigned conventions
        h[1].header["TZERO8"] = 2147483648
        h[1].header["TZERO10"] = 9223372036854775808
    ref = Table.read(p)
    tab, _ = R.read(p)
    assert tab.column_names == ref.colnames
    expect_types = {"l": pa.bool_(), "b": pa.uint8(), "sb": pa.int8(), "i": pa.int16(), "ui": pa.uint16(),
                    "j": pa.int32(), "uj": pa.uint32(), "k": pa.int64(), "uk": pa.uint64(), "e": pa.float32(),
                    "d": pa.float64(), "s": pa.string(), "scaled": pa.float64(), "withnull": pa.int32()}
    for c, t in expect_types.items():
        assert tab.schema.field(c).type == t, c
    for c in ref.colnames:
        got = tab.column(c).to_pylist()
        col = ref[c]
        if c in ("c", "m"):
            want = [[v.real, v.imag] for v in np.asarray(col)]
        elif c == "withnull":
            want = [None if m else int(v) for v, m in zip(np.asarray(col), np.ma.getmaskarray(col))]
            assert any(m for m in np.ma.getmaskarray(col))
        elif col.dtype.kind == "S" or col.dtype.kind == "U":
            want = [x.decode() if isinstance(x, bytes) else x for x in np.asarray(col).tolist()]
        else:
            want = np.asarray(col).tolist()
        assert got == want, c


def test_fits_hdu_choice_and_errors(tmp_path):
    from astropy.io import fits
    h1 = fits.BinTableHDU.from_columns([fits.Column("a", "K", array=np.arange(3))])
    h2 = fits.BinTableHDU.from_columns([fits.Column("b", "D", array=np.arange(4) * 0.5)])
    p = tmp_path / "two.fits"
    fits.HDUList([fits.PrimaryHDU(), h1, h2]).writeto(p)
    t, _ = R.read(p)
    assert t.column_names == ["a"] and t.column("a").to_pylist() == [0, 1, 2]
    t, _ = R.read(p, fits_hdu=3)
    assert t.column("b").to_pylist() == [0, 0.5, 1.0, 1.5]
    with pytest.raises(R.ReaderError) as e:
        R.read(p, fits_hdu=1)
    assert str(p) in e.value.msg and "not a binary table" in e.value.msg
    with pytest.raises(R.ReaderError) as e:
        R.read(p, fits_hdu=9)
    assert str(p) in e.value.msg


def test_fits_truncated(tmp_path):
    data = (TF / "small_sky.fits").read_bytes()
    p = tmp_path / "trunc.fits"
    p.write_bytes(data[: len(data) - 4000])
    with pytest.raises(R.ReaderError) as e:
        R.read(p)
    assert str(p) in e.value.msg


def test_tycho2_first_batch():
    path = SHARED / "data" / "tycho2.fits"
    if not path.exists():
        pytest.skip("no tycho2.fits")
    from astropy.io import fits
    L = R.lib()
    o = R.Opts(batch_rows=2000)
    import ctypes
    h, err = ctypes.c_void_p(), R.StError()
    assert L.st_input_open(str(path).encode(), o.ptr(), ctypes.byref(h), ctypes.byref(err)) == 0, err.msg
    try:
        t = ctypes.c_void_p()
        assert L.st_input_next(h, ctypes.byref(t), ctypes.byref(err)) == 0, err.msg
        b = R.export(t)
        L.st_table_free(t)
        assert L.st_input_num_rows(h) > 1_000_000
    finally:
        L.st_input_close(h)
    with fits.open(path, memmap=True) as hd:
        ref = hd[1].data[:2000]
        for name in ref.columns.names:
            col = ref[name]
            want = col.tolist()
            if col.dtype.kind in "SU":
                want = [x.rstrip() for x in want]
            got = b.column(name).to_pylist()
            want = [None if isinstance(x, float) and math.isnan(x) else x for x in want]
            got = [None if isinstance(x, float) and math.isnan(x) else x for x in got]
            assert got == want, name


# ---- Parquet ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pandasindex.parquet", "multi_row_group.parquet", "lightcurve.parquet",
                                  "healpix_29_index.parquet", "gaia_minimum_schema.parquet"])
def test_parquet_matches_pyarrow(name):
    ref = pq.read_table(TF / name)
    tab, fmt = R.read(TF / name, batch_rows=3)
    assert fmt == "parquet"
    # pandas index columns as hats-import's ParquetPandasReader leaves them (pandas,
    # reset_index): named ones first in index order, unnamed levels dropped
    idx = (ref.schema.pandas_metadata or {}).get("index_columns", [])
    named = [c for c in idx if isinstance(c, str) and not c.startswith("__index_level_")]
    keep = named + [c for c in ref.column_names
                    if not c.startswith("__index_level_") and c not in named]
    if ref.num_rows == 0:
        assert tab is None
        return
    assert tab.column_names == keep
    assert tab.select(keep).equals(ref.select(keep).cast(tab.schema)) or all(
        tab.column(c).to_pylist() == ref.column(c).to_pylist() for c in keep)


def test_pandas_index_dropped_or_kept():
    ref = pq.read_table(TF / "pandasindex.parquet")
    assert "__index_level_0__" in ref.column_names or ref.schema.pandas_metadata["index_columns"]
    tab, _ = R.read(TF / "pandasindex.parquet")
    assert "__index_level_0__" not in tab.column_names
    kept, _ = R.read(TF / "pandasindex.parquet", keep_pandas_index=True)
    assert kept.column_names == ref.column_names


def test_named_pandas_index_kept_first(tmp_path):
    """A named pandas index is a column, first, as pandas' read + reset_index gives it
    (hats-import's ParquetPandasReader); an unnamed one is dropped."""
    df = pd.DataFrame({"x": [1.5, 2.5, 3.5], "obj": [3, 9, 5]}).set_index("obj")
    p = tmp_path / "named.parquet"
    df.to_parquet(p)
    assert pq.ParquetFile(p).schema_arrow.names == ["x", "obj"]
    tab, _ = R.read(p)
    exp = pd.read_parquet(p).reset_index()
    assert tab.column_names == list(exp.columns) == ["obj", "x"]
    assert tab.to_pandas().equals(exp)
    df.reset_index().set_index(pd.Index([7, 1, 4])).to_parquet(p)
    assert "__index_level_0__" in pq.ParquetFile(p).schema_arrow.names
    tab, _ = R.read(p)
    assert tab.column_names == ["obj", "x"]


# ---- detection ----------------------------------------------------------------------


def test_detect_format(tmp_path):
    import ctypes
    L = R.lib()
    err = R.StError()
    assert L.st_input_detect_format(str(TF / "small_sky.fits").encode(), ctypes.byref(err)) == b"fits"
    assert L.st_input_detect_format(str(TF / "pandasindex.parquet").encode(), ctypes.byref(err)) == b"parquet"
    assert L.st_input_detect_format(str(TF / "catalog.csv.gz").encode(), ctypes.byref(err)) == b"csv"
    p = tmp_path / "x.tsv"
    p.write_text("a\tb\n1\t2.5\n")
    assert L.st_input_detect_format(str(p).encode(), ctypes.byref(err)) == b"tsv"
    t, fmt = R.read(p)
    assert fmt == "tsv" and t.to_pydict() == {"a": [1], "b": [2.5]}
    # a FITS file without extension, a Parquet file named .dat: content wins
    q = tmp_path / "noext"
    q.write_bytes((TF / "small_sky.fits").read_bytes())
    assert R.read(q)[1] == "fits"
    b = tmp_path / "blob.bin"
    b.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(R.ReaderError) as e:
        R.read(b)
    assert str(b) in e.value.msg and "format" in e.value.msg


# ---- inference, unification, schema ---------------------------------------------------


def test_infer_across_small_sky_parts():
    paths = sorted((HI / "small_sky_parts").glob("*.csv"))
    f = R.infer_schema(paths)
    tab, _ = R.read(paths[0], schema=f)
    assert tab.schema.field("id").type == pa.int64()
    assert tab.schema.field("ra").type == pa.float64()
    # the header-only file reads as zero rows with the unified schema
    t10, _ = R.read(HI / "small_sky_parts" / "catalog_10_of_05.csv", schema=f)
    assert t10 is None


def test_int_to_double_promotion(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    a.write_text("id,v,w\n1,5,x\n2,7,y\n")
    b.write_text("id,v,w\n3,0.25,z\n4,,q\n")
    assert R.read(a)[0].schema.field("v").type == pa.int64()
    f = R.infer_schema([a, b])
    ta, _ = R.read(a, schema=f)
    tb, _ = R.read(b, schema=f)
    assert ta.schema.field("v").type == pa.float64() and ta.column("v").to_pylist() == [5.0, 7.0]
    assert tb.column("v").to_pylist() == [0.25, None]
    assert ta.schema.field("id").type == pa.int64()
    assert ta.schema.equals(tb.schema)


def test_unify_error_names_both_files_and_column():
    paths = [HI / "mixed_schema" / "input_01.csv", HI / "mixed_schema" / "input_02.csv"]
    with pytest.raises(R.ReaderError) as e:
        R.infer_schema(paths)
    m = e.value.msg
    assert e.value.code == 7  # ST_ERR_SCHEMA
    assert str(paths[0]) in m and str(paths[1]) in m and "'code'" in m


def test_unify_error_names_the_conflicting_earlier_file(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,y\n1,hello\n")
    c.write_text("x,z\n1,2\n")
    with pytest.raises(R.ReaderError) as e:
        R.infer_schema([a, b])
    assert str(a) in e.value.msg and str(b) in e.value.msg and "'y'" in e.value.msg
    with pytest.raises(R.ReaderError) as e:
        R.infer_schema([a, c])
    assert str(a) in e.value.msg and str(c) in e.value.msg


def test_schema_file_forces_types():
    s = R.PqSchema(HI / "mixed_schema" / "schema.parquet")
    ref = pq.read_schema(HI / "mixed_schema" / "schema.parquet")
    for i in (1, 2, 3):
        p = HI / "mixed_schema" / f"input_0{i}.csv"
        tab, _ = R.read(p, schema=s)
        df = pd.read_csv(p, dtype={"comment": str, "code": str})
        if tab is None:
            assert len(df) == 0
            continue
        for name in tab.column_names:
            assert tab.schema.field(name).type == ref.field(name).type, name
        assert_matches_pandas(tab, df)


def test_inferred_type_violated_later(tmp_path):
    p = tmp_path / "late.csv"
    p.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(20)) + "20,oops\n")
    with pytest.raises(R.ReaderError) as e:
        R.read(p, infer_rows=5)
    m = e.value.msg
    assert str(p) in m and "line 22" in m and "'b'" in m and "oops" in m
    t, _ = R.read(p)  # default: the first batch decides -> string
    assert t.schema.field("b").type == pa.string()


# ---- filename regex ----------------------------------------------------------------------


def test_filename_regex_column(tmp_path):
    src = pq.read_table(TF / "pandasindex.parquet")
    paths = []
    for band in "gr":
        p = tmp_path / f"ztf_0065_1990_{band}.parquet"
        pq.write_table(src, p)
        paths.append(p)
    for p, band in zip(paths, "gr"):
        t, _ = R.read(p, filename_regex=r"_([a-z])\.parquet$", filename_column="band_from_file")
        assert t.column_names[-1] == "band_from_file"
        assert t.column("band_from_file").to_pylist() == [band] * t.num_rows
    f = R.infer_schema(paths, filename_regex=r"_([a-z])\.parquet$", filename_column="band_from_file")
    with pytest.raises(R.ReaderError) as e:
        R.read(paths[0], filename_regex=r"_([0-9]{5})_", filename_column="x")
    assert str(paths[0]) in e.value.msg


# ---- exact numbers, quoting, nulls ------------------------------------------------------------


def test_float_parsing_equals_python(tmp_path):
    rng = random.Random(5)
    texts = []
    for _ in range(3000):
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isnan(x) or math.isinf(x):
            continue
        texts.append(repr(x))
        texts.append("%.17g" % x)
        texts.append("%.6e" % x)
    # 16-19 digit mantissas and exact halfway points between neighbouring doubles
    from decimal import Decimal, getcontext
    getcontext().prec = 60
    for _ in range(2000):
        d = rng.randint(16, 19)
        texts.append(f"{rng.randint(10 ** (d - 1), 10 ** d - 1)}e{rng.randint(-27, 27) - d + 1}")
        x = rng.uniform(1, 1e10)
        mid = (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2
        texts.append(format(mid, ".18e"))
        texts.append(format(mid, ".40e"))
    texts += ["0.1", "1e22", "1e23", "9007199254740993", "-0.0", "2.2250738585072011e-308", "4.9e-324", "1e-400",
              "1e400", "123456789012345678901234567890", "0.30000000000000004", ".5", "5.", "1E5", "+3.5",
              "inf", "-Infinity", "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
              "0171433022222.1"]
    p = tmp_path / "f.csv"
    p.write_text("v\n" + "\n".join(texts) + "\n")
    t, _ = R.read(p)
    assert t.schema.field("v").type == pa.float64()
    got = t.column("v").to_pylist()
    for s, g in zip(texts, got):
        want = float(s)
        assert struct.pack("<d", g) == struct.pack("<d", want), (s, g, want)


def test_float_fast_path_digit_shapes(tmp_path):
    """The 8-digits-at-a-time parser: every split of 1..24 digits around the point, leading
    zeros (integer and fraction), signs, exponents, blanks, 19/20 significant digits (the
    fallback boundary), subnormals, inf spellings.  Oracle: Python float()."""
    rng = random.Random(11)
    texts = []
    for _ in range(6000):
        ni, nf = rng.randint(0, 24), rng.randint(0, 24)
        if ni + nf == 0:
            ni = 1
        ip = "".join(rng.choice("0123456789") for _ in range(ni))
        fp = "".join(rng.choice("0123456789") for _ in range(nf))
        if rng.random() < 0.3:
            ip = "0" * rng.randint(1, 9) + ip
        if rng.random() < 0.3:
            fp = "0" * rng.randint(1, 12) + fp
        s = ip + ("." + fp if nf or rng.random() < 0.2 else "")
        if s in (".", ""):
            s = "0"
        if rng.random() < 0.3:
            s += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 40))
        s = rng.choice(["", "", "-", "+"]) + s
        if rng.random() < 0.05:
            s = " " * rng.randint(1, 2) + s + "\t" * rng.randint(0, 1)
        texts.append(s)
    # exactly 19 and 20 significant digits, with and without leading zeros
    for _ in range(500):
        for d in (18, 19, 20):
            m = str(rng.randint(10 ** (d - 1), 10 ** d - 1))
            k = rng.randint(0, d)
            texts += [m[:k] + "." + m[k:], "0.000" + m, m + "e-" + str(rng.randint(0, 30))]
    texts += ["00000000000000000000000001.5", "0.0000000000000000000000000000001", "-0.0", "+0",
              "12345678", "123456789012345678", "1234567890123456789", "12345678901234567890",
              "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
              "2.2250738585072011e-308", "2.2250738585072012e-308", "1.7976931348623157e308",
              "1.7976931348623159e308", "1e-324", "0e999999", "1e+022", "9007199254740993",
              "9007199254740992.5", "INF", "-inf", "+Infinity", "infinity"]
    p = tmp_path / "f.csv"
    p.write_text("v\n" + "\n".join(texts) + "\n")
    t, _ = R.read(p)
    assert t.schema.field("v").type == pa.float64()
    got = t.column("v").to_pylist()
    assert len(got) == len(texts)
    for s, g in zip(texts, got):
        assert struct.pack("<d", g) == struct.pack("<d", float(s)), (s, g, float(s))


def test_float_fast_path_rejects_non_numbers(tmp_path):
    """Values the fast path must not accept: each column then is a string column (as pandas
    infers object), or a forced double column fails naming the value."""
    bad = ["12345678.9x", "1234567890123456e", "1.2.3", "--1", "1e+", "12345678 9", "0x10", "1_000",
           ".", "+", "1e5.5", "123456789012345678901234567890abc"]
    for b in bad:
        p = tmp_path / "b.csv"
        p.write_text(f"v\n1.5\n{b}\n")
        t, _ = R.read(p)
        assert t.schema.field("v").type == pa.string(), b
        assert t.column("v").to_pylist() == ["1.5", b]
        with pytest.raises(ValueError):
            float(b.replace("_", "!"))


def test_custom_null_values_lengths(tmp_path):
    """The null-string filter (first byte + length bitmap): long null strings (>= 63 bytes),
    null strings that share first byte and length with real values, values that are
    prefixes/extensions of a null string.  Oracle: pandas with the same na_values."""
    long_na = "MISSING-" + "x" * 70
    nas = ["-999", "1.#QNAN", long_na, "NULLISH"]
    rows = ["-999", "-998", "1.#QNAN", "1.5", long_na, long_na + "y", long_na[:-1], "NULLISH", "3"]
    p = tmp_path / "n.csv"
    p.write_text("v,s\n" + "\n".join(f"{x},{x}" for x in rows) + "\n")
    t, _ = R.read(p, null_values=nas)
    df = pd.read_csv(p, na_values=nas, keep_default_na=False, dtype=str)
    want = [None if isinstance(x, float) else x for x in df["s"]]
    assert t.column("s").to_pylist() == want
    assert t.column("v").to_pylist() == want


def test_small_files_and_fifo(tmp_path):
    """Buffers and field slots are sized from the file size for small regular files: the
    tightest cases (a header of only delimiters, many columns in a tiny file, no final
    newline) read as pandas does."""
    cases = [",\n1,2\n", ",,,\n1,2,3,4", "a\n1", ",".join(f"c{i}" for i in range(3000)) + "\n" +
             ",".join(str(i) for i in range(3000)) + "\n"]
    for k, text in enumerate(cases):
        p = tmp_path / f"s{k}.csv"
        p.write_text(text)
        t, _ = R.read(p)
        df = pd.read_csv(p)
        assert t.column_names == list(df.columns)
        assert [t.column(i).to_pylist() for i in range(t.num_columns)] == [df[c].tolist() for c in df.columns]


def test_quoting_crlf_and_nulls(tmp_path):
    p = tmp_path / "q.csv"
    p.write_bytes(b'id,name,val\r\n1,"a, b",1.5\r\n2,"say ""hi""",NA\r\n3,"multi\nline",\r\n4,,nan\r\n5,"",7\r\n')
    t, _ = R.read(p)
    df = pd.read_csv(p)
    assert_matches_pandas(t, df)
    assert t.column("name").to_pylist()[:3] == ["a, b", 'say "hi"', "multi\nline"]


def test_bool_and_big_int_inference(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("flag,big,neg\nTrue,9223372036854775807,-9223372036854775808\nfalse,1,0\n")
    t, _ = R.read(p)
    assert t.schema.field("flag").type == pa.bool_()
    assert t.column("big").to_pylist() == [9223372036854775807, 1]
    assert t.column("neg").to_pylist() == [-9223372036854775808, 0]
    q = tmp_path / "c.csv"
    q.write_text("over\n9223372036854775808\n")
    t, _ = R.read(q)
    assert t.schema.field("over").type == pa.float64()


def test_many_rows_gz_batches(tmp_path):
    rng = np.random.default_rng(3)
    n = 30000
    df = pd.DataFrame({"i": rng.integers(-10**12, 10**12, n), "d": rng.standard_normal(n),
                       "s": [f"s{k % 97}" for k in range(n)]})
    p = tmp_path / "big.csv.gz"
    with gzip.open(p, "wt") as f:
        df.to_csv(f, index=False)
    t, _ = R.read(p, batch_rows=4096)
    assert t.num_rows == n
    assert t.column("i").to_pylist() == df["i"].tolist()
    assert t.column("d").to_pylist() == [float(repr(x)) for x in df["d"]]
    assert t.column("s").to_pylist() == df["s"].tolist()


# ---- corrupt input --------------------------------------------------------------------------


def test_corrupt_inputs_are_reported_with_path(tmp_path):
    gz = (TF / "catalog.csv.gz").read_bytes()
    p = tmp_path / "trunc.csv.gz"
    p.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(R.ReaderError) as e:
        R.read(p)
    assert str(p) in e.value.msg and "truncated" in e.value.msg
    q = tmp_path / "garbage.csv.gz"
    q.write_bytes(gz[:20] + bytes(200))
    with pytest.raises(R.ReaderError) as e:
        R.read(q)
    assert str(q) in e.value.msg
    r = tmp_path / "fields.csv"
    r.write_text("a,b\n1,2\n3\n")
    with pytest.raises(R.ReaderError) as e:
        R.read(r)
    assert str(r) in e.value.msg and "line 3" in e.value.msg
    s = tmp_path / "quote.csv"
    s.write_text('a,b\n1,"never closed\n2,3\n')
    with pytest.raises(R.ReaderError) as e:
        R.read(s)
    assert str(s) in e.value.msg
    with pytest.raises(R.ReaderError) as e:
        R.read(tmp_path / "missing.csv")
    assert "missing.csv" in e.value.msg and e.value.code == 2
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", "x\n1\n")
        zf.writestr("b.csv", "x\n2\n")
    with pytest.raises(R.ReaderError) as e:
        R.read(z)
    assert str(z) in e.value.msg and "several members" in e.value.msg
    st = tmp_path / "stored.zip"
    with zipfile.ZipFile(st, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.csv", "x,y\n1,2\n3,4\n")
    t, _ = R.read(st)
    assert t.to_pydict() == {"x": [1, 3], "y": [2, 4]}


def test_fits_gz(tmp_path):
    from astropy.table import Table
    p = tmp_path / "small_sky.fits.gz"
    p.write_bytes(gzip.compress((TF / "small_sky.fits").read_bytes()))
    tab, fmt = R.read(p)
    assert fmt == "fits"
    ref = Table.read(TF / "small_sky.fits")
    assert tab.column("ra").to_pylist() == np.asarray(ref["ra"]).tolist()
    assert tab.column("test_id").to_pylist() == [x.decode() if isinstance(x, bytes) else x for x in ref["test_id"]]


def test_forced_large_string_and_widening(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("s,i\nab,1\n,2\ncd,3\n")
    sch = pa.schema([("s", pa.large_string()), ("i", pa.int64())])
    sp = tmp_path / "schema.parquet"
    pq.write_table(sch.empty_table(), sp)
    tab, _ = R.read(p, schema=R.PqSchema(sp), batch_rows=2)
    assert tab.schema.field("s").type in (pa.string(), pa.large_string())  # as our Parquet reader maps it
    assert tab.column("s").to_pylist() == ["ab", None, "cd"]
    # Parquet input with a forced wider type: int32 -> int64, float -> double
    src = tmp_path / "n.parquet"
    pq.write_table(pa.table({"a": pa.array([1, -2, None], pa.int32()), "b": pa.array([0.5, 1.5, 2.5], pa.float32())}), src)
    sp2 = tmp_path / "schema2.parquet"
    pq.write_table(pa.schema([("a", pa.int64()), ("b", pa.float64())]).empty_table(), sp2)
    tab, _ = R.read(src, schema=R.PqSchema(sp2))
    assert tab.schema.field("a").type == pa.int64() and tab.column("a").to_pylist() == [1, -2, None]
    assert tab.schema.field("b").type == pa.float64() and tab.column("b").to_pylist() == [0.5, 1.5, 2.5]
    # narrowing is refused, naming the file and column
    sp3 = tmp_path / "schema3.parquet"
    pq.write_table(pa.schema([("a", pa.int8())]).empty_table(), sp3)
    with pytest.raises(R.ReaderError) as e:
        R.read(src, schema=R.PqSchema(sp3))
    assert str(src) in e.value.msg and "'a'" in e.value.msg


def test_fits_variable_length_arrays(tmp_path):
    from astropy.io import fits
    from astropy.table import Table
    rng = np.random.default_rng(7)
    n = 12
    vj = [rng.integers(-100, 100, k).astype(np.int32) for k in rng.integers(0, 5, n)]
    vd = [rng.standard_normal(k) for k in rng.integers(0, 4, n)]
    cols = [fits.Column("vj", "PJ()", array=np.array(vj, dtype=object)),
            fits.Column("vd", "QD()", array=np.array(vd, dtype=object)),
            fits.Column("k", "K", array=np.arange(n))]
    p = write_fits(tmp_path, cols, "vla.fits")
    with fits.open(p) as h:
        ref_j = [list(map(int, x)) for x in h[1].data["vj"]]
        ref_d = [list(map(float, x)) for x in h[1].data["vd"]]
    tab, _ = R.read(p, batch_rows=5)
    assert tab.schema.field("vj").type == pa.list_(pa.field("item", pa.int32(), nullable=False))
    assert tab.column("vj").to_pylist() == ref_j
    assert tab.column("vd").to_pylist() == ref_d
    assert tab.column("k").to_pylist() == list(range(n))


def test_columns_may_name_the_filename_column(tmp_path):
    p = tmp_path / "cat_r.csv"
    p.write_text("a,b\n1,2\n")
    t, _ = R.read(p, columns=["b", "band"], filename_regex=r"_([a-z])\.csv$", filename_column="band")
    assert t.to_pydict() == {"b": [2], "band": ["r"]}
