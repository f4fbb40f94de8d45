"""The Parquet writer and dataset metadata files, checked against independent readers.

Oracle: for every input table built with pyarrow we also write a reference file
with pyarrow itself (store_schema=False, so that neither file carries an
ARROW:schema and readers infer types from Parquet logical types alone).  Our
file must then read back in pyarrow and in DuckDB exactly like the reference
(same types, same values, nulls and NaN included), and the column-chunk
statistics pyarrow.parquet.read_metadata shows must equal those pyarrow
computed for the reference.  Our own reader must return the input values.

Tables go into the library through the Arrow C Data Interface (ctypes on
libskytile.so), which ASan builds cannot do; under SKYTILE_SAN=1 the same
writer runs through `skytile parquet convert` instead (CSV and Parquet inputs).
"""
import ctypes
import datetime
import decimal
import math
import os
import struct

import pytest

from conftest import SHARED, run_skytile
import stlib
from stlib import StError, lib, needs_lib, to_st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pc = pytest.importorskip("pyarrow.compute")
duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")


# ---- ctypes binding -----------------------------------------------------------------------

class SortColumn(ctypes.Structure):
    _fields_ = [("column", ctypes.c_int32), ("descending", ctypes.c_bool),
                ("nulls_first", ctypes.c_bool)]


class WriteOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("compression", ctypes.c_int),
                ("compression_level", ctypes.c_int), ("row_group_rows", ctypes.c_int64),
                ("row_group_bytes", ctypes.c_int64), ("page_bytes", ctypes.c_int64),
                ("dictionary", ctypes.c_bool), ("dictionary_page_bytes", ctypes.c_int64),
                ("statistics", ctypes.c_bool), ("n_sorting", ctypes.c_int),
                ("sorting", ctypes.POINTER(SortColumn)), ("n_kv", ctypes.c_int),
                ("kv_keys", ctypes.POINTER(ctypes.c_char_p)),
                ("kv_values", ctypes.POINTER(ctypes.c_char_p)), ("arrow_schema", ctypes.c_bool),
                ("data_page_v2", ctypes.c_bool), ("dictionary_sample", ctypes.c_bool),
                ("interrupt", ctypes.c_void_p), ("interrupt_ctx", ctypes.c_void_p)]


CODECS = {"none": 0, "snappy": 1, "gzip": 2, "zstd": 6, "lz4_raw": 7}


def batch_of(table):
    table = table.combine_chunks()
    bs = table.to_batches()
    return bs[0] if bs else pa.RecordBatch.from_pylist([], schema=table.schema)


def options(compression="zstd", level=-1, dictionary=True, row_group_rows=None, page_bytes=None,
            dict_bytes=None, sorting=(), kv=None, arrow_schema=True, v2=False):
    o = WriteOptions()
    lib().st_pq_write_options_init(ctypes.byref(o))
    o.arrow_schema = arrow_schema
    o.data_page_v2 = v2
    o.compression = CODECS[compression]
    o.compression_level = level
    o.dictionary = dictionary
    if row_group_rows:
        o.row_group_rows = row_group_rows
    if page_bytes:
        o.page_bytes = page_bytes
    if dict_bytes:
        o.dictionary_page_bytes = dict_bytes
    keep = []
    if sorting:
        arr = (SortColumn * len(sorting))(*[SortColumn(c, d, n) for c, d, n in sorting])
        o.n_sorting, o.sorting = len(sorting), arr
        keep.append(arr)
    if kv:
        ks = (ctypes.c_char_p * len(kv))(*[k.encode() for k in kv])
        vs = (ctypes.c_char_p * len(kv))(*[v.encode() for v in kv.values()])
        o.n_kv, o.kv_keys, o.kv_values = len(kv), ks, vs
        keep += [ks, vs]
    o._keep = keep
    return o


def st_write(table, path, batches=None, **kw):
    """Write table with our writer (in `batches` pieces through the streaming API if given)."""
    o = options(**kw)
    e = StError()
    L = lib()
    if batches is None:
        t = to_st(batch_of(table))
        try:
            rc = L.st_pq_write_table_path(str(path).encode(), t, ctypes.byref(o), ctypes.byref(e))
        finally:
            L.st_table_free(t)
        assert rc == 0, e.msg.decode()
        return
    first = to_st(batch_of(table.slice(0, 0)))
    w = ctypes.c_void_p()
    # the schema is the st_table's first member (st_field schema)
    rc = L.st_pq_writer_open(str(path).encode(), first, ctypes.byref(o), ctypes.byref(w), ctypes.byref(e))
    L.st_table_free(first)
    assert rc == 0, e.msg.decode()
    n = table.num_rows
    step = max(1, -(-n // batches))
    for off in range(0, n, step):
        t = to_st(batch_of(table.slice(off, step)))
        rc = L.st_pq_writer_write(w, t, ctypes.byref(e))
        L.st_table_free(t)
        if rc:
            L.st_pq_writer_abort(w)
            raise AssertionError(e.msg.decode())
    rc = L.st_pq_writer_close(w, ctypes.byref(e))
    assert rc == 0, e.msg.decode()


def st_read(path, columns=None):
    """Read a file (the given top-level column indices, default all) with our reader into a pyarrow Table."""
    return stlib.st_read_parquet(path, columns)


# ---- comparison helpers -------------------------------------------------------------------------

def norm(x):
    """Python value with NaN made comparable and -0.0 distinguished."""
    if isinstance(x, float):
        if math.isnan(x):
            return "NaN"
        return (x, math.copysign(1.0, x))
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [norm(v) for v in x]
    return x


def rows(table):
    return [norm(table.column(i).to_pylist()) for i in range(table.num_columns)]


def duck_rows(path):
    con = duckdb.connect()
    try:
        # through Arrow (tz-aware timestamps would need pytz in fetchall)
        t = con.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table()
        return [str(f.type) for f in t.schema], rows(t)
    finally:
        con.close()


def check_file(table, ours, ref_dir, stats=True, store_schema=True, **ref_kw):
    """Our file must read like pyarrow's own reference file of the same table
    (both with an ARROW:schema, or, with store_schema=False, both without)."""
    ref = ref_dir / ("ref-" + ours.name)
    pq.write_table(table, ref, store_schema=store_schema, **ref_kw)
    got, want = pq.read_table(ours), pq.read_table(ref)
    assert got.schema.equals(want.schema, check_metadata=False), f"{got.schema}\n!=\n{want.schema}"
    assert rows(got) == rows(want)
    assert duck_rows(ours) == duck_rows(ref)
    polars_check(ours, ref)
    if stats:
        compare_stats(ours, ref)
        compare_duck_stats(ours, ref)
    return got


def polars_check(ours, ref):
    """A third, independent reader (polars, Rust): our file reads as pyarrow's own file does."""
    try:
        want = pl.read_parquet(ref)
    except pl.exceptions.PolarsError:  # polars cannot read these types even from pyarrow's file
        return
    got = pl.read_parquet(ours)
    assert got.schema == want.schema, f"{got.schema} != {want.schema}"
    assert got.equals(want, null_equal=True), f"polars reads different values:\n{got}\n{want}"


def compare_duck_stats(ours, ref):
    """DuckDB decodes the same min/max/null_count from our file as from pyarrow's."""
    con = duckdb.connect()
    q = ("SELECT row_group_id, column_id, path_in_schema, stats_min_value, stats_max_value, "
         "stats_null_count FROM parquet_metadata('{}') ORDER BY row_group_id, column_id")
    try:
        a = con.sql(q.format(ours)).fetchall()
        b = con.sql(q.format(ref)).fetchall()
    finally:
        con.close()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x[:3] == y[:3]
        if y[3] is not None or y[4] is not None:
            assert (x[3], x[4]) == (y[3], y[4]), x[2]
        if y[5] is not None:
            assert x[5] == y[5], x[2]


def stat_tuple(st, phys):
    if st is None:
        return None
    mn = mx = None
    if st.has_min_max:
        mn, mx = norm(st.min), norm(st.max)
    return (mn, mx, st.null_count)


def compare_stats(ours, ref):
    mo, mr = pq.read_metadata(ours), pq.read_metadata(ref)
    assert mo.num_rows == mr.num_rows
    assert mo.num_row_groups == mr.num_row_groups
    for g in range(mo.num_row_groups):
        for c in range(mo.num_columns):
            co, cr = mo.row_group(g).column(c), mr.row_group(g).column(c)
            assert co.path_in_schema == cr.path_in_schema
            assert co.physical_type == cr.physical_type
            so, sr = co.statistics, cr.statistics
            if sr is None or so is None:
                continue
            assert so.null_count == sr.null_count, co.path_in_schema
            if sr.has_min_max:
                assert so.has_min_max, co.path_in_schema
                assert stat_tuple(so, co.physical_type) == stat_tuple(sr, cr.physical_type), co.path_in_schema


# ---- test tables ------------------------------------------------------------------------------------

def make_flat(n=300, seed=1):
    t = flat_table_impl(n, seed)
    fields = [pa.field(f.name, f.type, nullable=(f.name != "req")) for f in t.schema]
    return pa.Table.from_arrays(t.columns, schema=pa.schema(fields))


def flat_table_impl(n, seed):
    import random
    rnd = random.Random(seed)

    def maybe(v, i):
        return None if i % 7 == 3 else v

    ints = [maybe(rnd.randint(-2**62, 2**62), i) for i in range(n)]
    dbl = [maybe(rnd.choice([rnd.uniform(-1e6, 1e6), float("nan"), -0.0, 0.0, float("inf")]), i)
           for i in range(n)]
    strs = [maybe(rnd.choice(["", "a", "héllo", "zz" * rnd.randint(0, 40), "\x00x", "B"]), i) for i in range(n)]
    ts = [maybe(datetime.datetime(2020, 1, 1) + datetime.timedelta(seconds=rnd.randint(-10**8, 10**8)), i)
          for i in range(n)]
    dec = [maybe(decimal.Decimal(rnd.randint(-10**17, 10**17)).scaleb(-4), i) for i in range(n)]
    cols = {
        "b": pa.array([maybe(rnd.random() < 0.5, i) for i in range(n)], pa.bool_()),
        "i8": pa.array([maybe(rnd.randint(-128, 127), i) for i in range(n)], pa.int8()),
        "i16": pa.array([maybe(rnd.randint(-2**15, 2**15 - 1), i) for i in range(n)], pa.int16()),
        "i32": pa.array([maybe(rnd.randint(-2**31, 2**31 - 1), i) for i in range(n)], pa.int32()),
        "i64": pa.array(ints, pa.int64()),
        "u8": pa.array([maybe(rnd.randint(0, 255), i) for i in range(n)], pa.uint8()),
        "u16": pa.array([maybe(rnd.randint(0, 2**16 - 1), i) for i in range(n)], pa.uint16()),
        "u32": pa.array([maybe(rnd.randint(0, 2**32 - 1), i) for i in range(n)], pa.uint32()),
        "u64": pa.array([maybe(rnd.randint(0, 2**64 - 1), i) for i in range(n)], pa.uint64()),
        "f16": pa.array([maybe(rnd.choice([1.5, -2.0, 0.0, -0.0, 65504.0, float("nan")]), i)
                         for i in range(n)], pa.float64()).cast(pa.float16()),
        "f32": pa.array([maybe(rnd.uniform(-10, 10), i) for i in range(n)], pa.float32()),
        "f64": pa.array(dbl, pa.float64()),
        "s": pa.array(strs, pa.string()),
        "ls": pa.array(strs, pa.large_string()),
        "bin": pa.array([None if v is None else v.encode() for v in strs], pa.binary()),
        "fsb": pa.array([maybe(bytes([rnd.randint(0, 255) for _ in range(5)]), i) for i in range(n)],
                        pa.binary(5)),
        "d32": pa.array([maybe(rnd.randint(-10**5, 10**5), i) for i in range(n)], pa.int32()).cast(pa.date32()),
        "t32": pa.array([maybe(rnd.randint(0, 86399999), i) for i in range(n)], pa.int32()).cast(pa.time32("ms")),
        "t64": pa.array([maybe(rnd.randint(0, 86399999999), i) for i in range(n)],
                        pa.int64()).cast(pa.time64("us")),
        "tsn": pa.array(ts, pa.timestamp("ns")),
        "tsu": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "tsm": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "dec": pa.array(dec, pa.decimal128(22, 4)),
        "dec9": pa.array([None if v is None else (v.scaleb(-10)).quantize(decimal.Decimal("0.01"))
                          for v in dec], pa.decimal128(9, 2)),
        "req": pa.array(list(range(n)), pa.int64()),
        "nul": pa.nulls(n),
        "dict": pa.array(strs, pa.string()).dictionary_encode(),
    }
    return pa.table(cols)


def nested_table(n=200, seed=2):
    import random
    rnd = random.Random(seed)

    def maybe(v, p=0.15):
        return None if rnd.random() < p else v

    def lc():
        k = rnd.randint(0, 6)
        return {"mjd": [maybe(50000 + rnd.random() * 1000) for _ in range(k)],
                "mag": [rnd.uniform(10, 20) for _ in range(k)],
                "band": [maybe(rnd.choice("ugriz")) for _ in range(k)]}

    li = [maybe([maybe(rnd.randint(-5, 5)) for _ in range(rnd.randint(0, 5))]) for _ in range(n)]
    lls = [maybe([maybe([maybe(rnd.choice(["x", "yy", ""])) for _ in range(rnd.randint(0, 3))])
                  for _ in range(rnd.randint(0, 3))]) for _ in range(n)]
    st = [maybe({"a": maybe(rnd.randint(0, 9)), "b": {"c": maybe(rnd.random()), "d": maybe("q")}})
          for _ in range(n)]
    los = [maybe([maybe({"k": rnd.randint(0, 3), "v": maybe([rnd.random()] * rnd.randint(0, 2))})
                  for _ in range(rnd.randint(0, 3))]) for _ in range(n)]
    mp = [maybe([(f"k{j}", maybe(rnd.randint(0, 99))) for j in range(rnd.randint(0, 3))]) for _ in range(n)]
    fl = [maybe([maybe(rnd.random()) for _ in range(3)]) for _ in range(n)]
    lc_type = pa.struct([("mjd", pa.list_(pa.float64())), ("mag", pa.list_(pa.float32())),
                         ("band", pa.list_(pa.string()))])
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "li": pa.array(li, pa.list_(pa.int32())),
        "lli": pa.array(li, pa.large_list(pa.int64())),
        "lls": pa.array(lls, pa.list_(pa.list_(pa.string()))),
        "st": pa.array(st, pa.struct([("a", pa.int16()), ("b", pa.struct([("c", pa.float64()),
                                                                           ("d", pa.string())]))])),
        "los": pa.array(los, pa.list_(pa.struct([pa.field("k", pa.int32(), nullable=False),
                                                 ("v", pa.list_(pa.float64()))]))),
        "mp": pa.array(mp, pa.map_(pa.string(), pa.int64())),
        "fl": pa.array(fl, pa.list_(pa.float64(), 3)),
        "lc": pa.array([lc() for _ in range(n)], lc_type),
    })


# ---- tests: flat types, codecs, statistics ------------------------------------------------------------

@needs_lib
@pytest.mark.parametrize("codec", ["none", "snappy", "gzip", "zstd", "lz4_raw"])
@pytest.mark.parametrize("dictionary", [True, False])
def test_flat_types_cross_read(tmp_path, codec, dictionary):
    t = make_flat()
    ours = tmp_path / f"flat-{codec}-{dictionary}.parquet"
    # with dictionary off, also leave out ARROW:schema: types then come from logical types alone
    st_write(t, ours, compression=codec, dictionary=dictionary, arrow_schema=dictionary)
    check_file(t, ours, tmp_path, store_schema=dictionary)
    md = pq.read_metadata(ours)
    assert md.created_by.startswith("skytile version ")
    col = md.row_group(0).column(md.schema.names.index("s"))
    # pyarrow names LZ4_RAW (codec 7) "LZ4"
    assert col.compression == {"none": "UNCOMPRESSED", "lz4_raw": "LZ4"}.get(codec, codec.upper())
    assert ("RLE_DICTIONARY" in col.encodings) == dictionary
    # our reader returns the input values (all but the null-typed column, which it does not read)
    names = [n for n in t.column_names if n != "nul"]
    mine = st_read(ours, [t.column_names.index(n) for n in names])
    for n in names:
        want = t.column(n)
        if n == "dict":
            want = want.cast(pa.string())
        got = mine.column(n)
        if got.type != want.type:
            got = got.cast(want.type)
        assert norm(got.to_pylist()) == norm(want.to_pylist()), n


@needs_lib
def test_required_and_all_null_and_statistics_edge_cases(tmp_path):
    t = pa.table({
        "f": pa.array([float("nan"), float("nan")], pa.float64()),       # all NaN: no min/max
        "z": pa.array([0.0, -0.0], pa.float64()),                         # min -0, max +0
        "zn": pa.array([-0.0, None], pa.float32()),
        "u": pa.array([1, 2**63 + 5], pa.uint64()),                       # unsigned order
        "u32": pa.array([2**31 + 1, 3], pa.uint32()),
        "s": pa.array(["\xff", "a"], pa.string()),                        # byte order
        "allnull": pa.array([None, None], pa.string()),
        "neg": pa.array([decimal.Decimal("-1.5"), decimal.Decimal("0.25")], pa.decimal128(5, 2)),
    })
    ours = tmp_path / "edge.parquet"
    st_write(t, ours)
    check_file(t, ours, tmp_path)
    md = pq.read_metadata(ours).row_group(0)
    s = {md.column(i).path_in_schema: md.column(i).statistics for i in range(md.num_columns)}
    assert not s["f"].has_min_max
    assert math.copysign(1, s["z"].min) == -1 and math.copysign(1, s["z"].max) == 1
    assert s["u"].min == 1 and s["u"].max == 2**63 + 5
    assert s["u32"].min == 3 and s["u32"].max == 2**31 + 1
    assert s["s"].min == "a" and s["s"].max == "\xff"
    assert s["allnull"].null_count == 2 and not s["allnull"].has_min_max
    assert s["neg"].min == decimal.Decimal("-1.50") and s["neg"].max == decimal.Decimal("0.25")


@needs_lib
def test_sorting_columns_kv_and_row_groups(tmp_path):
    n = 1000
    t = pa.table({"k": pa.array(range(n), pa.int64()), "v": pa.array([i % 13 for i in range(n)], pa.int32())})
    t = t.replace_schema_metadata({"hats": "yes"})
    ours = tmp_path / "sorted.parquet"
    st_write(t, ours, batches=7, row_group_rows=300, sorting=[(0, False, True)], kv={"extra": "1"})
    md = pq.read_metadata(ours)
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == [300, 300, 300, 100]
    sc = md.row_group(0).sorting_columns
    assert len(sc) == 1 and sc[0].column_index == 0 and not sc[0].descending and sc[0].nulls_first
    assert md.metadata[b"hats"] == b"yes" and md.metadata[b"extra"] == b"1"
    ref = tmp_path / "ref.parquet"
    pq.write_table(t, ref, row_group_size=300, store_schema=False)
    compare_stats(ours, ref)
    assert pq.read_table(ours).equals(t)
    assert st_read(ours).equals(t)
    # pyarrow prunes row groups with our statistics: k >= 650 lives in groups 2 and 3 only
    import pyarrow.dataset as ds
    frag = next(ds.dataset(ours).get_fragments())
    kept = frag.split_by_row_group(ds.field("k") >= 650)
    assert [f.row_groups[0].id for f in kept] == [2, 3]


@needs_lib
def test_large_strings_dictionary_fallback_and_small_pages(tmp_path):
    import random
    rnd = random.Random(5)
    big = ["x" * 3_000_000, None, "y" * 10]
    many = [f"value-{rnd.randint(0, 10**9)}" for _ in range(50000)]
    t1 = pa.table({"s": pa.array(big, pa.string())})
    p1 = tmp_path / "big.parquet"
    st_write(t1, p1)
    check_file(t1, p1, tmp_path)      # stats over 4 KiB are left out by both writers
    t2 = pa.table({"s": many, "d": pa.array([rnd.random() for _ in range(50000)], pa.float64()),
                   "c": [f"cat{i % 10}" for i in range(50000)]})
    p2 = tmp_path / "many.parquet"
    st_write(t2, p2, dict_bytes=64 * 1024, page_bytes=16 * 1024)
    got = check_file(t2, p2, tmp_path)
    assert got.equals(t2)
    col = pq.read_metadata(p2).row_group(0).column(0)
    assert "RLE_DICTIONARY" in col.encodings and "PLAIN" in col.encodings
    # page encoding stats (as DuckDB reports them): 's' fell back to PLAIN, 'c' did not
    con = duckdb.connect()
    es = dict(con.sql(f"SELECT path_in_schema, encoding_stats FROM parquet_metadata('{p2}')").fetchall())
    kinds = {k: {(e["page_type"], e["encoding"]) for e in v} for k, v in es.items()}
    assert kinds["c"] == {("DICTIONARY_PAGE", "PLAIN"), ("DATA_PAGE", "RLE_DICTIONARY")}
    assert ("DATA_PAGE", "PLAIN") in kinds["s"] and ("DATA_PAGE", "RLE_DICTIONARY") in kinds["s"]


@needs_lib
def test_dictionary_with_null_values(tmp_path):
    d = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, 1, None, 0], pa.int32()),
                                       pa.array(["a", None, "c"]))
    t = pa.table({"d": d, "l": pa.array([[1], [2, 3], None, [], [4], [5]])})
    ours = tmp_path / "dictnull.parquet"
    st_write(t, ours)
    got = pq.read_table(ours)
    assert got.column("d").to_pylist() == ["a", None, "c", None, None, "a"]
    assert got.column("l").to_pylist() == t.column("l").to_pylist()
    md = pq.read_metadata(ours).row_group(0).column(0).statistics
    assert md.null_count == 3 and md.min == "a" and md.max == "c"


@needs_lib
def test_empty_table(tmp_path):
    t = make_flat(0)
    ours = tmp_path / "empty.parquet"
    st_write(t, ours)
    got = pq.read_table(ours)
    assert got.num_rows == 0
    ref = tmp_path / "ref-empty.parquet"
    pq.write_table(t, ref)
    assert got.schema.equals(pq.read_table(ref).schema, check_metadata=False)
    con = duckdb.connect()
    assert con.sql(f"SELECT count(*) FROM '{ours}'").fetchall()[0][0] == 0
    assert st_read(ours).num_rows == 0


@needs_lib
def test_sliced_input(tmp_path):
    t = make_flat(500).slice(37, 300)
    ours = tmp_path / "sliced.parquet"
    # export the slice as is (non-zero offsets in every array)
    b = t.to_batches()[0]
    st_write(pa.Table.from_batches([b]), ours)
    check_file(t, ours, tmp_path)


# ---- tests: nested ---------------------------------------------------------------------------------

@needs_lib
@pytest.mark.parametrize("codec,dictionary", [("zstd", True), ("snappy", False)])
def test_nested_cross_read(tmp_path, codec, dictionary):
    t = nested_table()
    ours = tmp_path / f"nested-{codec}.parquet"
    st_write(t, ours, compression=codec, dictionary=dictionary, batches=3, page_bytes=512,
             arrow_schema=dictionary)
    got = check_file(t, ours, tmp_path, store_schema=dictionary)
    assert rows(got.select(["li", "lls", "st", "los", "lc"])) == rows(t.select(["li", "lls", "st", "los", "lc"]))
    mine = st_read(ours)
    for name in ["li", "lls", "st", "los", "mp", "lc"]:
        assert norm(mine.column(name).to_pylist()) == norm(t.column(name).to_pylist()), name


@needs_lib
@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_data_page_v2(tmp_path, codec):
    for name, t in [("flat", make_flat(300)), ("nested", nested_table(300))]:
        ours = tmp_path / f"{name}-v2-{codec}.parquet"
        st_write(t, ours, compression=codec, v2=True, page_bytes=700, dict_bytes=2000)
        check_file(t, ours, tmp_path)
        con = duckdb.connect()
        es = con.sql(f"SELECT encoding_stats FROM parquet_metadata('{ours}')").fetchall()
        types = {e["page_type"] for row in es for e in row[0]}
        assert "DATA_PAGE_V2" in types and "DATA_PAGE" not in types
        mine = st_read(ours, [i for i, n in enumerate(t.column_names) if n != "nul"])
        for n in mine.column_names:
            assert norm(mine.column(n).to_pylist()) == norm(t.column(n).to_pylist()), n


@needs_lib
def test_nested_sliced(tmp_path):
    t = nested_table(300).slice(41, 200)
    ours = tmp_path / "nested-sliced.parquet"
    st_write(pa.Table.from_batches(t.to_batches()), ours)
    check_file(t, ours, tmp_path)


# ---- atomic output, errors ---------------------------------------------------------------------------

@needs_lib
def test_atomic_and_errors(tmp_path):
    t = pa.table({"x": [1, 2, 3]})
    p = tmp_path / "a.parquet"
    st_write(t, p)
    before = p.read_bytes()
    # a failing write (unsupported type) leaves the old file and no temporary behind
    bad = pa.table({"x": pa.array([[1]], pa.list_(pa.int64())),
                    "y": pa.array([{}], pa.struct([]))})
    with pytest.raises(AssertionError, match="struct without fields"):
        st_write(bad, p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["a.parquet"]
    with pytest.raises(AssertionError):
        st_write(t, tmp_path / "missing-dir" / "x.parquet")


# ---- dataset metadata -----------------------------------------------------------------------------

def write_metadata(root, rels):
    arr = (ctypes.c_char_p * len(rels))(*[r.encode() for r in rels])
    e = StError()
    rc = lib().st_pq_write_dataset_metadata(str(root).encode(), arr, len(rels), ctypes.byref(e))
    return rc, e.msg.decode()


@needs_lib
def test_dataset_metadata(tmp_path):
    import pyarrow.dataset as ds
    root = tmp_path / "cat"
    rels, counts = [], []
    for d in range(3):
        (root / f"Norder=1/Dir=0").mkdir(parents=True, exist_ok=True)
        rel = f"Norder=1/Dir=0/Npix={d}.parquet"
        n = 50 + 30 * d
        t = pa.table({"id": pa.array(range(d * 1000, d * 1000 + n), pa.int64()),
                      "ra": pa.array([d + i / n for i in range(n)], pa.float64()),
                      "lc": pa.array([[float(i)] * (i % 3) for i in range(n)], pa.list_(pa.float64()))})
        st_write(t, root / rel, row_group_rows=40)
        rels.append(rel)
        counts.append(n)
    rc, msg = write_metadata(root, rels)
    assert rc == 0, msg
    md = pq.read_metadata(root / "_metadata")
    assert md.num_rows == sum(counts)
    per_file = {}
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        per_file[rg.column(0).file_path] = per_file.get(rg.column(0).file_path, 0) + rg.num_rows
    assert per_file == dict(zip(rels, counts))
    cm = pq.read_metadata(root / "_common_metadata")
    assert cm.num_row_groups == 0 and cm.schema.equals(md.schema)
    dset = ds.parquet_dataset(str(root / "_metadata"))
    got = dset.to_table()
    assert sorted(got.column("id").to_pylist()) == sorted(
        i for d, n in enumerate(counts) for i in range(d * 1000, d * 1000 + n))
    assert sorted(f.path.rsplit("/", 1)[-1] for f in dset.get_fragments()) == sorted(
        r.rsplit("/", 1)[-1] for r in rels)
    # DuckDB sees the row groups and their file paths
    con = duckdb.connect()
    q = con.sql(f"SELECT row_group_id, row_group_num_rows FROM parquet_metadata('{root / '_metadata'}') "
                "WHERE column_id = 0 ORDER BY row_group_id").fetchall()
    assert sum(r[1] for r in q) == sum(counts) and len(q) == md.num_row_groups
    # ... and they are, in order, the row groups of each file as DuckDB reads the files themselves
    per_file_rgs = []
    for rel in rels:
        per_file_rgs += [r[0] for r in con.sql(
            f"SELECT row_group_num_rows FROM parquet_metadata('{root / rel}') WHERE column_id = 0 "
            "ORDER BY row_group_id").fetchall()]
    assert [r[1] for r in q] == per_file_rgs
    # our reader opens _metadata and sees the same row counts per row group
    L = lib()
    r, e = ctypes.c_void_p(), StError()
    assert L.st_pq_open(str(root / "_metadata").encode(), None, ctypes.byref(r), ctypes.byref(e)) == 0, e.msg
    try:
        assert L.st_pq_num_rows(r) == sum(counts)
        assert [L.st_pq_row_group_num_rows(r, g) for g in range(L.st_pq_num_row_groups(r))] == \
            [md.row_group(g).num_rows for g in range(md.num_row_groups)]
    finally:
        L.st_pq_close(r)


@needs_lib
def test_dataset_metadata_refuses_other_schema(tmp_path):
    st_write(pa.table({"a": [1], "b": [1.0]}), tmp_path / "x.parquet")
    st_write(pa.table({"a": [1], "b": pa.array([1.0], pa.float32())}), tmp_path / "y.parquet")
    rc, msg = write_metadata(tmp_path, ["x.parquet", "y.parquet"])
    assert rc != 0
    assert "y.parquet" in msg and "'b'" in msg and "physical type" in msg
    assert not (tmp_path / "_metadata").exists()


# ---- convert CLI (also the ASan path) --------------------------------------------------------------

def test_convert_csv(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text('id,ra,name,mixed\n1,10.5,"a, b",1\n2,,"",x\n,3e2,"q""uote",2.5\n'
                   '4,-0.0,plain,\n')
    out = tmp_path / "out.parquet"
    p = run_skytile("parquet", "convert", csv, out, "--compression", "snappy")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(out)
    assert t.schema.field("id").type == pa.int64()
    assert t.schema.field("ra").type == pa.float64()
    assert t.schema.field("name").type == pa.string()
    assert t.schema.field("mixed").type == pa.string()
    # independent oracle: pyarrow's CSV reader on the same text (empty cells as null)
    import pyarrow.csv as pcsv
    ref = pcsv.read_csv(csv, convert_options=pcsv.ConvertOptions(
        column_types={"mixed": pa.string(), "name": pa.string()}, strings_can_be_null=False))
    assert t.column("id").to_pylist() == ref.column("id").to_pylist()
    assert norm(t.column("ra").to_pylist()) == norm(ref.column("ra").to_pylist())
    assert t.column("name").to_pylist() == ["a, b", "", 'q"uote', "plain"]
    assert t.column("mixed").to_pylist() == ["1", "x", "2.5", None]
    assert pq.read_metadata(out).row_group(0).column(0).compression == "SNAPPY"


def test_convert_csv_crlf_bom_multiline(tmp_path):
    csv = tmp_path / "crlf.csv"
    csv.write_bytes(b'\xef\xbb\xbfname,n\r\n"two\r\nlines",1\r\n"x""y",\r\nplain,3\r\n')
    out = tmp_path / "crlf.parquet"
    p = run_skytile("parquet", "convert", csv, out)
    assert p.returncode == 0, p.stderr
    import pyarrow.csv as pcsv
    ref = pcsv.read_csv(csv)   # independent reader of the same bytes
    got = pq.read_table(out)
    assert got.column_names == ref.column_names == ["name", "n"]
    assert got.column("name").to_pylist() == ref.column("name").to_pylist()
    assert got.column("n").to_pylist() == ref.column("n").to_pylist() == [1, None, 3]


def test_convert_csv_streams_row_groups(tmp_path):
    csv = tmp_path / "big.csv"
    n = 25000
    csv.write_text("a,b\n" + "".join(f"{i},{i * 0.5}\n" for i in range(n)))
    out = tmp_path / "big.parquet"
    p = run_skytile("parquet", "convert", csv, out, "--row-group-rows", "10000", "--compression", "zstd:3")
    assert p.returncode == 0, p.stderr
    md = pq.read_metadata(out)
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == [10000, 10000, 5000]
    t = pq.read_table(out)
    assert t.column("a").to_pylist() == list(range(n))
    assert t.column("b").to_pylist() == [i * 0.5 for i in range(n)]


def test_convert_csv_with_schema(tmp_path):
    schema_file = tmp_path / "schema.parquet"
    pq.write_table(pa.table({"x": pa.array([1], pa.int32()), "y": pa.array(["a"]),
                             "z": pa.array([1.0], pa.float32())}), schema_file)
    csv = tmp_path / "in.csv"
    csv.write_text("x,y,z\n5,7,2.5\n,,\n")
    out = tmp_path / "out.parquet"
    p = run_skytile("parquet", "convert", csv, out, "--schema", schema_file)
    assert p.returncode == 0, p.stderr
    t = pq.read_table(out)
    assert t.schema.field("x").type == pa.int32() and t.schema.field("z").type == pa.float32()
    assert t.to_pylist() == [{"x": 5, "y": "7", "z": 2.5}, {"x": None, "y": None, "z": None}]


def test_convert_errors(tmp_path):
    p = run_skytile("parquet", "convert", tmp_path / "nope.csv", tmp_path / "o.parquet")
    assert p.returncode == 1 and "nope.csv" in p.stderr
    p = run_skytile("parquet", "convert", tmp_path / "a.csv", tmp_path / "o.parquet", "--compression", "xz")
    assert p.returncode == 2
    (tmp_path / "bad.csv").write_text('a,b\n1,"unterminated\n')
    p = run_skytile("parquet", "convert", tmp_path / "bad.csv", tmp_path / "o.parquet")
    assert p.returncode == 1 and "bad.csv" in p.stderr
    assert not (tmp_path / "o.parquet").exists()


DATA = SHARED / "fixtures" / "parquet-testing" / "data"
FIXTURES = sorted(p.name for p in DATA.glob("*.parquet")) if DATA.is_dir() else []


@pytest.mark.parametrize("name", FIXTURES)
def test_convert_parquet_testing(tmp_path, name):
    """Re-write each parquet-testing file our reader supports; values must equal pyarrow's reading of the original."""
    src = DATA / name
    out = tmp_path / "out.parquet"
    p = run_skytile("parquet", "convert", src, out, "--compression", "zstd", timeout=300)
    if p.returncode != 0:
        # files our reader refuses (or that are deliberately broken) are refused cleanly
        assert p.returncode == 1 and p.stderr.startswith("skytile:"), p.stderr
        assert not out.exists()
        return
    try:
        want = pq.read_table(src)
    except Exception:
        return
    got = pq.read_table(out)
    assert got.num_rows == want.num_rows
    assert got.column_names == want.column_names
    for name_ in want.column_names:
        g, w = got.column(name_), want.column(name_)
        if g.type != w.type:
            try:
                g = g.cast(w.type)
            except Exception:
                g = g.to_pylist()
                assert norm(g) == norm(w.to_pylist()), name_
                continue
        if not g.equals(w):        # NaN != NaN in equals(); compare values then
            assert norm(g.to_pylist()) == norm(w.to_pylist()), name_


@pytest.mark.parametrize("kind", ["flat", "nested"])
def test_convert_pyarrow_written_tables(tmp_path, kind):
    """Every type through `skytile parquet convert` (the path exercised under ASan)."""
    t = make_flat(400).drop_columns(["nul"]) if kind == "flat" else nested_table(300)
    src = tmp_path / "src.parquet"
    pq.write_table(t, src, row_group_size=150)
    out = tmp_path / "out.parquet"
    p = run_skytile("parquet", "convert", src, out, "--compression", "gzip", "--row-group-rows", "100")
    assert p.returncode == 0, p.stderr
    got, want = pq.read_table(out), pq.read_table(src)
    assert got.schema.equals(want.schema, check_metadata=False), f"{got.schema}\n!=\n{want.schema}"
    assert rows(got) == rows(want)
    md = pq.read_metadata(out)
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == \
        [100] * (t.num_rows // 100) + ([t.num_rows % 100] if t.num_rows % 100 else [])
    assert duck_rows(out)[1] == duck_rows(src)[1]


@needs_lib
def test_row_group_bytes_and_stale_arrow_schema(tmp_path):
    t = pa.table({"s": pa.array(["x" * 100] * 1000), "i": pa.array(range(1000), pa.int64())})
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"q": [1.0]}), other)
    stale = pq.read_metadata(other).metadata
    t = t.replace_schema_metadata({**stale, b"keep": b"me"})
    ours = tmp_path / "rgb.parquet"
    o = options()
    o.row_group_bytes = 30_000   # ~112 bytes per row -> about 267 rows per group
    e = StError()
    st = to_st(batch_of(t))
    try:
        assert lib().st_pq_write_table_path(str(ours).encode(), st, ctypes.byref(o), ctypes.byref(e)) == 0, e.msg
    finally:
        lib().st_table_free(st)
    md = pq.read_metadata(ours)
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    assert sum(sizes) == 1000 and 3 <= len(sizes) <= 6 and max(sizes) <= 300
    # the stale ARROW:schema (of another table) is replaced by the written table's
    import base64
    stored = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(md.metadata[b"ARROW:schema"])))
    assert stored.names == ["s", "i"] and md.metadata[b"keep"] == b"me"
    assert pq.read_table(ours).equals(t.replace_schema_metadata(None).cast(pq.read_table(ours).schema))


@needs_lib
@pytest.mark.filterwarnings("ignore:The inplace keyword")   # nested-pandas' own deprecation
@pytest.mark.parametrize("name", ["small_sky_source", "small_sky_nested"])
def test_hats_catalog_rewritten(tmp_path, shared, name):
    """A HATS catalog whose leaf files and _metadata/_common_metadata are all ours reads in hats/LSDB
    exactly like the original."""
    import shutil
    hats = pytest.importorskip("hats")
    lsdb = pytest.importorskip("lsdb")
    src = shared / "fixtures" / "hats" / name
    if not src.is_dir():
        pytest.skip(f"{src} missing")
    dst = tmp_path / name
    shutil.copytree(src, dst)
    ds_dir = dst / "dataset"
    rels = sorted(str(p.relative_to(ds_dir)) for p in ds_dir.rglob("Npix=*.parquet"))
    assert rels
    for rel in rels:
        p = run_skytile("parquet", "convert", ds_dir / rel, ds_dir / rel, "--compression", "zstd:15")
        assert p.returncode == 0, p.stderr
        assert pq.read_metadata(ds_dir / rel).created_by.startswith("skytile")
    (ds_dir / "_metadata").unlink()
    (ds_dir / "_common_metadata").unlink()
    rc, msg = write_metadata(ds_dir, rels)
    assert rc == 0, msg
    want_md, got_md = pq.read_metadata(src / "dataset" / "_metadata"), pq.read_metadata(ds_dir / "_metadata")
    assert got_md.num_rows == want_md.num_rows and got_md.schema.equals(want_md.schema)
    assert pq.read_schema(ds_dir / "_common_metadata").equals(pq.read_schema(src / "dataset" / "_common_metadata"))
    cat = hats.read_hats(dst)
    assert len(cat.get_healpix_pixels()) == len(hats.read_hats(src).get_healpix_pixels())
    got = lsdb.open_catalog(dst).compute()
    want = lsdb.open_catalog(src).compute()
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    got, want = got.sort_index(kind="stable"), want.sort_index(kind="stable")


    def plain(v):   # nested-pandas cells are DataFrames
        return v.to_dict("list") if hasattr(v, "to_dict") and hasattr(v, "columns") else v
    for c in want.columns:
        assert norm([plain(v) for v in got[c].tolist()]) == norm([plain(v) for v in want[c].tolist()]), c
