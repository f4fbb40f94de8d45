"""Files written by pyarrow with each of its writer options, read back by skytile.

Each case writes a small table with one combination of pyarrow.parquet.write_table
options (compression, dictionary, page version, byte-stream-split, DELTA encodings,
nesting with nulls at every level, tiny pages, many row groups, large strings, every
logical type) and compares, against pyarrow's own read of the same file:
  1. `skytile parquet cat --format jsonl` with the JSON oracle of test_parquet_cli.py
     (works under sanitizers too);
  2. unless SKYTILE_SAN: the Arrow C Data export (st_pq_open -> st_pq_read ->
     st_table_export_arrow -> pa.RecordBatch._import_from_c via ctypes), value by value
     with .equals() after casting skytile's columns to pyarrow's types.  Only these type
     differences are accepted before the cast: string/large_string, binary/large_binary,
     list/large_list (item name and nullability ignored), dictionary<T> vs T, a timestamp
     or time unit the Parquet file cannot hold (s stored as ms) and date64 vs date32, a
     timestamp zone name (both must have a zone, or neither).
"""
import ctypes
import decimal

import pytest

from conftest import SAN, SKYTILE
import stlib
from test_parquet_cli import assert_rows_equal, cat, expected_rows, json_rows

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.skipif(not SKYTILE.exists(), reason="skytile CLI not built")

N = 1000


# ---- tables ------------------------------------------------------------------------------------

def _mask(rng, n, p=0.15):
    return rng.random(n) < p


def flat_table(n=N, seed=1, nulls=True):
    rng = np.random.default_rng(seed)
    m = (lambda: _mask(rng, n)) if nulls else (lambda: None)
    words = [f"w{i}-{'x' * (i % 13)}" for i in range(50)]
    return pa.table({
        "i32": pa.array(rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32), mask=m()),
        "i64": pa.array(rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64), mask=m()),
        "small": pa.array(rng.integers(0, 20, n, dtype=np.int64), mask=m()),
        "f32": pa.array(rng.standard_normal(n).astype(np.float32), mask=m()),
        "f64": pa.array(rng.standard_normal(n) * 1e5, mask=m()),
        "flag": pa.array(rng.random(n) < 0.5, mask=m()),
        "word": pa.array([words[k] for k in rng.integers(0, 50, n)], pa.string(), mask=m()),
        "uniq": pa.array([f"id{k:x}" for k in rng.integers(0, 2**40, n)], pa.string(), mask=m()),
        "blob": pa.array([bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in rng.integers(0, 9, n)],
                         pa.binary(), mask=m()),
    })


def numeric_table(n=N, seed=2):
    rng = np.random.default_rng(seed)
    m = _mask(rng, n)
    return pa.table({
        "f32": pa.array(rng.standard_normal(n).astype(np.float32), mask=m),
        "f64": pa.array(rng.standard_normal(n), mask=m),
        "i32": pa.array(rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)),
        "i64": pa.array(rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64), mask=m),
        "fixed": pa.array([rng.integers(0, 256, 5, dtype=np.uint8).tobytes() for _ in range(n)],
                          pa.binary(5), mask=m),
        "f16": pa.array(rng.standard_normal(n).astype(np.float16), mask=m),
    })


def delta_int_table(n=N, seed=3):
    rng = np.random.default_rng(seed)
    ext64 = np.array([-2**63, 2**63 - 1, 0, -1, 2**63 - 1, -2**63], dtype=np.int64)
    ext32 = np.array([-2**31, 2**31 - 1, 0, -1, 2**31 - 1, -2**31], dtype=np.int32)
    return pa.table({
        "seq32": pa.array(np.arange(n, dtype=np.int32) * 3 - 500),
        "rnd32": pa.array(np.concatenate([ext32, rng.integers(-2**31, 2**31, n - 6).astype(np.int32)]),
                          mask=_mask(rng, n)),
        "seq64": pa.array(np.arange(n, dtype=np.int64) * 10**12),
        "rnd64": pa.array(np.concatenate([ext64, rng.integers(-2**63, 2**63 - 1, n - 6, dtype=np.int64)]),
                          mask=_mask(rng, n)),
        "const": pa.array(np.full(n, 7, dtype=np.int64)),
    })


def strings_table(n=N, seed=4):
    rng = np.random.default_rng(seed)
    pre = ["", "a", "ab", "abc", "prefix/", "prefix/long/path/"]
    s = sorted(f"{pre[k % 6]}{k}{'z' * (k % 7)}" for k in rng.integers(0, 10**6, n))
    return pa.table({
        "sorted": pa.array(s, pa.string(), mask=_mask(rng, n)),
        "rand": pa.array([f"r{k}" * int(k % 5) for k in rng.integers(0, 10**9, n)], pa.string(),
                         mask=_mask(rng, n)),
        "bin": pa.array([bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in rng.integers(0, 20, n)],
                        pa.binary(), mask=_mask(rng, n)),
    })


def nested_table(seed=5):
    rng = np.random.default_rng(seed)
    n = 300
    li = []
    for i in range(n):
        r = i % 5
        li.append(None if r == 0 else [] if r == 1 else [None, int(i)] if r == 2 else list(range(i % 4 + 1)))
    point = pa.struct([("x", pa.float64()), ("y", pa.int32())])
    st = [None if i % 7 == 0 else {"x": None if i % 3 == 0 else i / 3, "y": None if i % 4 == 0 else i}
          for i in range(n)]
    mp = [None if i % 6 == 0 else [] if i % 6 == 1 else [(f"k{j}", None if j == 1 else i + j) for j in range(i % 4)]
          for i in range(n)]
    lst = [None if i % 8 == 0 else [] if i % 8 == 1 else
           [None if (i + j) % 5 == 0 else {"x": float(j), "y": None if j == 2 else j} for j in range(i % 4)]
           for i in range(n)]
    sl = [None if i % 9 == 0 else {"name": None if i % 4 == 0 else f"s{i}",
                                   "vals": None if i % 5 == 0 else [None if j == 1 else j * 0.5 for j in range(i % 3)]}
          for i in range(n)]
    ll = [None if i % 10 == 0 else [None if j == 0 and i % 3 == 0 else [k for k in range(j)] for j in range(i % 3)]
          for i in range(n)]
    lstr = [None if i % 4 == 0 else [None if j % 3 == 2 else f"t{i}.{j}" for j in range(i % 5)] for i in range(n)]
    return pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "list_i64": pa.array(li, pa.list_(pa.int64())),
        "list_str": pa.array(lstr, pa.list_(pa.string())),
        "point": pa.array(st, point),
        "map": pa.array(mp, pa.map_(pa.string(), pa.int64())),
        "list_struct": pa.array(lst, pa.list_(point)),
        "struct_list": pa.array(sl, pa.struct([("name", pa.string()), ("vals", pa.list_(pa.float64()))])),
        "list_list": pa.array(ll, pa.list_(pa.list_(pa.int32()))),
        "tail": pa.array(rng.standard_normal(n)),
    })


def logical_table(n=200, seed=6):
    rng = np.random.default_rng(seed)

    def ints(lo, hi, dt):
        v = rng.integers(lo, hi, n, dtype=np.int64 if lo < 0 else np.uint64, endpoint=True)
        v[:2] = [lo, hi]
        return pa.array(v.astype(dt), mask=_mask(rng, n))

    def dec(prec, scale, typ):
        vals = []
        for k in range(n):
            digits = "".join(str(d) for d in rng.integers(0, 10, prec))
            if k == 0:
                digits = "9" * prec
            q = decimal.Decimal((int(k % 3 == 1), tuple(int(c) for c in digits), -scale))
            vals.append(None if k % 11 == 5 else q)
        return pa.array(vals, typ(prec, scale))

    days = rng.integers(-719162, 2932896, n)
    us = rng.integers(-(2**62) // 1000, 2**62 // 1000, n)
    ns = rng.integers(-(2**62), 2**62, n)
    return pa.table({
        "i8": ints(-128, 127, np.int8), "i16": ints(-2**15, 2**15 - 1, np.int16),
        "i32": ints(-2**31, 2**31 - 1, np.int32), "i64": ints(-2**63, 2**63 - 1, np.int64),
        "u8": ints(0, 255, np.uint8), "u16": ints(0, 2**16 - 1, np.uint16),
        "u32": ints(0, 2**32 - 1, np.uint32), "u64": ints(0, 2**64 - 1, np.uint64),
        "f16": pa.array(np.concatenate([[np.inf, np.nan, 65504, 6e-8, -0.0],
                                        rng.standard_normal(n - 5)]).astype(np.float16), mask=_mask(rng, n)),
        "d9": dec(9, 2, pa.decimal128), "d18": dec(18, 0, pa.decimal128), "d38": dec(38, 10, pa.decimal128),
        "d5": dec(5, 5, pa.decimal128),
        "d76": dec(76, 20, pa.decimal256), "d40": dec(40, 3, pa.decimal256),
        "date32": pa.array(days.astype(np.int32), pa.date32(), mask=_mask(rng, n)),
        "t32s": pa.array(rng.integers(0, 86400, n).astype(np.int32), pa.time32("s")),
        "t32ms": pa.array(rng.integers(0, 86400000, n).astype(np.int32), pa.time32("ms"), mask=_mask(rng, n)),
        "t64us": pa.array(rng.integers(0, 86400 * 10**6, n), pa.time64("us")),
        "t64ns": pa.array(rng.integers(0, 86400 * 10**9, n), pa.time64("ns"), mask=_mask(rng, n)),
        "ts_s": pa.array(days * 86400 + rng.integers(0, 86400, n), pa.timestamp("s")),
        "ts_ms": pa.array(us // 1000, pa.timestamp("ms"), mask=_mask(rng, n)),
        "ts_us": pa.array(us, pa.timestamp("us")),
        "ts_ns": pa.array(ns, pa.timestamp("ns")),
        "ts_s_tz": pa.array(days * 86400, pa.timestamp("s", tz="UTC")),
        "ts_ms_tz": pa.array(us // 1000, pa.timestamp("ms", tz="Europe/Paris")),
        "ts_us_tz": pa.array(us, pa.timestamp("us", tz="UTC"), mask=_mask(rng, n)),
        "ts_ns_tz": pa.array(ns, pa.timestamp("ns", tz="+05:30")),
        "fsb": pa.array([rng.integers(0, 256, 3, dtype=np.uint8).tobytes() for _ in range(n)], pa.binary(3),
                        mask=_mask(rng, n)),
        "fsb16": pa.array([rng.integers(0, 256, 16, dtype=np.uint8).tobytes() for _ in range(n)], pa.binary(16)),
        "bool": pa.array(rng.random(n) < 0.5, mask=_mask(rng, n)),
        "str": pa.array([f"é{k}☃" for k in range(n)], pa.string()),
        "lstr": pa.array([f"L{k}" for k in range(n)], pa.large_string()),
        "lbin": pa.array([bytes([k % 256]) * (k % 4) for k in range(n)], pa.large_binary()),
    })


def date64_table():
    return pa.table({"d64": pa.array([0, 86400000, -86400000, 1700006400000, None], pa.date64())})


def big_strings_table():
    rng = np.random.default_rng(8)
    sizes = [0, 1, 100_000, 1_000_000, 3, 2_500_000, 70_000]
    vals = ["".join(chr(97 + int(k)) for k in rng.integers(0, 26, 64)) * (s // 64) + "e" * (s % 64) for s in sizes]
    return pa.table({"s": pa.array(vals + [None], pa.string()), "ls": pa.array(vals + [None], pa.large_string())})


def many_pages_table(n=40_000):
    return pa.table({"v": pa.array(np.arange(n, dtype=np.int32) % 1000)})


def empty_table():
    return pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string()),
                     "l": pa.array([], pa.list_(pa.int32()))})


def all_null_table(n=100):
    return pa.table({"n": pa.nulls(n, pa.null()), "i": pa.nulls(n, pa.int32()), "s": pa.nulls(n, pa.string()),
                     "l": pa.nulls(n, pa.list_(pa.int64())), "d": pa.array(np.arange(n, dtype=np.float64))})


def dict_fallback_table(n=5000):
    rng = np.random.default_rng(9)
    return pa.table({"s": pa.array([f"v{k}" for k in rng.integers(0, 10**9, n)]),
                     "i": pa.array(rng.integers(0, 10**12, n))})


def dictionary_typed_table(n=N):
    rng = np.random.default_rng(10)
    d = pa.array(["alpha", "beta", "gamma", None, "delta"])
    idx = pa.array(rng.integers(0, 5, n).astype(np.int32), mask=_mask(rng, n))
    return pa.table({"cat": pa.DictionaryArray.from_arrays(idx, d.fill_null("none")),
                     "x": pa.array(np.arange(n, dtype=np.int64))})


# ---- cases: id -> (table factory, write_table kwargs) ------------------------------------------

CASES = {}
for _c in ["NONE", "SNAPPY", "GZIP", "BROTLI", "ZSTD", "LZ4"]:
    CASES[f"compression-{_c}"] = (flat_table, dict(compression=_c))
for _c in ["NONE", "SNAPPY", "ZSTD", "GZIP"]:
    CASES[f"pagev2-{_c}"] = (flat_table, dict(compression=_c, data_page_version="2.0"))
CASES["compression-ZSTD-level19"] = (flat_table, dict(compression="ZSTD", compression_level=19))
CASES["compression-GZIP-level9"] = (flat_table, dict(compression="GZIP", compression_level=9))
CASES["dictionary-off"] = (flat_table, dict(use_dictionary=False))
CASES["dictionary-off-pagev2"] = (flat_table, dict(use_dictionary=False, data_page_version="2.0"))
CASES["dictionary-some-columns"] = (flat_table, dict(use_dictionary=["word", "small"]))
CASES["dictionary-no-nulls"] = (lambda: flat_table(nulls=False), {})
CASES["dictionary-fallback"] = (dict_fallback_table, dict(dictionary_pagesize_limit=256, data_page_size=512))
CASES["dictionary-arrow-typed"] = (dictionary_typed_table, {})
for _v in ["1.0", "2.0"]:
    CASES[f"byte-stream-split-all-v{_v}"] = (numeric_table, dict(use_dictionary=False, use_byte_stream_split=True,
                                                               data_page_version=_v))
for _col in ["f32", "f64", "i32", "i64", "fixed", "f16"]:
    CASES[f"byte-stream-split-{_col}-zstd"] = (numeric_table, dict(use_dictionary=False, compression="ZSTD",
                                                                   use_byte_stream_split=[_col]))
for _v in ["1.0", "2.0"]:
    CASES[f"delta-binary-packed-v{_v}"] = (delta_int_table, dict(
        use_dictionary=False, data_page_version=_v,
        column_encoding={c: "DELTA_BINARY_PACKED" for c in ["seq32", "rnd32", "seq64", "rnd64", "const"]}))
    CASES[f"delta-length-byte-array-v{_v}"] = (strings_table, dict(
        use_dictionary=False, data_page_version=_v,
        column_encoding={c: "DELTA_LENGTH_BYTE_ARRAY" for c in ["sorted", "rand", "bin"]}))
    CASES[f"delta-byte-array-v{_v}"] = (strings_table, dict(
        use_dictionary=False, data_page_version=_v,
        column_encoding={c: "DELTA_BYTE_ARRAY" for c in ["sorted", "rand", "bin"]}))
CASES["delta-binary-packed-small-pages"] = (delta_int_table, dict(
    use_dictionary=False, data_page_size=100, write_batch_size=7,
    column_encoding={c: "DELTA_BINARY_PACKED" for c in ["seq32", "rnd32", "seq64", "rnd64", "const"]}))
CASES["delta-byte-array-fixed"] = (numeric_table, dict(use_dictionary=False,
                                                       column_encoding={"fixed": "DELTA_BYTE_ARRAY"}))
CASES["nested"] = (nested_table, {})
CASES["nested-no-dictionary-pagev2"] = (nested_table, dict(use_dictionary=False, data_page_version="2.0"))
CASES["nested-small-pages"] = (nested_table, dict(data_page_size=64, write_batch_size=3, compression="NONE"))
CASES["nested-max-3-rows-per-page-v2"] = (nested_table, dict(max_rows_per_page=3, data_page_version="2.0"))
CASES["nested-tiny-pages-v1"] = (nested_table, dict(data_page_size=1, write_batch_size=1, use_dictionary=False))
CASES["nested-row-groups-7"] = (nested_table, dict(row_group_size=7))
CASES["nested-legacy-names"] = (nested_table, dict(use_compliant_nested_type=False))
CASES["small-pages"] = (flat_table, dict(data_page_size=64, write_batch_size=5))
CASES["small-pages-v2"] = (flat_table, dict(data_page_size=64, write_batch_size=5, data_page_version="2.0"))
CASES["one-row-per-page-40000-pages"] = (many_pages_table, dict(max_rows_per_page=1, write_batch_size=1,
                                                                use_dictionary=False, compression="NONE",
                                                                write_statistics=False))
CASES["row-groups-10"] = (flat_table, dict(row_group_size=10))
CASES["row-groups-1"] = (lambda: flat_table(n=120), dict(row_group_size=1))
CASES["large-strings"] = (big_strings_table, dict(use_dictionary=False))
CASES["large-strings-zstd-dict"] = (big_strings_table, dict(compression="ZSTD"))
CASES["logical-types"] = (logical_table, {})
CASES["logical-types-no-dict-v2"] = (logical_table, dict(use_dictionary=False, data_page_version="2.0"))
CASES["logical-types-no-arrow-schema"] = (logical_table, dict(store_schema=False))
CASES["logical-types-decimal-as-int"] = (logical_table, dict(store_decimal_as_integer=True))
CASES["logical-types-coerce-ms"] = (logical_table, dict(coerce_timestamps="ms", allow_truncated_timestamps=True))
CASES["int96-timestamps"] = (lambda: logical_table().select(["ts_ms", "ts_us", "ts_ns", "ts_us_tz", "ts_ns_tz", "i32"]),
                             dict(use_deprecated_int96_timestamps=True))
CASES["date64"] = (date64_table, {})
CASES["bool-rle-v1"] = (flat_table, dict(use_dictionary=False, column_encoding={"flag": "RLE"}))
CASES["bool-rle-v2"] = (flat_table, dict(use_dictionary=False, column_encoding={"flag": "RLE"},
                                         data_page_version="2.0"))
CASES["content-defined-chunking"] = (flat_table, dict(use_content_defined_chunking={"min_chunk_size": 256,
                                                                                    "max_chunk_size": 1024}))
CASES["bloom-filter"] = (flat_table, dict(bloom_filter_options={"word": {"ndv": 100, "fpp": 0.05},
                                                                "i64": True}))
CASES["time-adjusted-to-utc"] = (logical_table, dict(write_time_adjusted_to_utc=True))
CASES["page-checksums"] = (flat_table, dict(write_page_checksum=True))
CASES["page-index"] = (flat_table, dict(write_page_index=True))
CASES["no-statistics"] = (flat_table, dict(write_statistics=False))
CASES["empty"] = (empty_table, {})
CASES["all-null"] = (all_null_table, {})
CASES["parquet-1.0"] = (flat_table, dict(version="1.0"))
CASES["parquet-2.4"] = (logical_table, dict(version="2.4", coerce_timestamps="us", allow_truncated_timestamps=True))


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("pqopts")


def write_case(outdir, case):
    factory, kw = CASES[case]
    path = outdir / f"{case}.parquet"
    if not path.exists():
        pq.write_table(factory(), path, **kw)
    return path


# ---- 1: CLI JSON Lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_cli_jsonl(outdir, case):
    path = write_case(outdir, case)
    want = pq.read_table(path)
    p = cat(path, fmt="jsonl")
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr.strip()}"
    assert_rows_equal(json_rows(p.stdout, want.schema), expected_rows(want), case)


# ---- 2: Arrow C Data export through ctypes -------------------------------------------------------

def read_via_arrow_export(path, keep_dictionary=False, verify_crc=False):
    """skytile's read of the whole file as a pyarrow RecordBatch (zero-copy export)."""
    opt = stlib.PqReadOptions()
    stlib.lib().st_pq_read_options_init(ctypes.byref(opt))
    assert opt.struct_size == ctypes.sizeof(stlib.PqReadOptions), "st_pq_read_options layout changed"
    opt.keep_dictionary = keep_dictionary
    opt.verify_crc = verify_crc
    table = stlib.pq_read_st(path, options=opt)
    try:
        return stlib.export_batch(table)
    finally:
        stlib.lib().st_table_free(table)  # the export keeps its own references


def compatible(got, want, any_unit=False):
    """True when skytile's type `got` may stand for pyarrow's `want` (see the module docstring).

    Timestamp/time units must match unless pyarrow's is seconds (Parquet has no seconds unit)
    or any_unit (INT96 files: pyarrow casts back to the unit in its stored Arrow schema)."""
    if got == want:
        return True
    if pa.types.is_dictionary(want):
        return compatible(got.value_type if pa.types.is_dictionary(got) else got, want.value_type, any_unit)
    if pa.types.is_dictionary(got):
        return compatible(got.value_type, want, any_unit)
    pairs = [(pa.types.is_string, pa.types.is_large_string), (pa.types.is_binary, pa.types.is_large_binary)]
    for a, b in pairs:
        if (a(got) or b(got)) and (a(want) or b(want)):
            return True
    if pa.types.is_map(got) and pa.types.is_map(want):
        return (compatible(got.key_type, want.key_type, any_unit)
                and compatible(got.item_type, want.item_type, any_unit))
    is_list = lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)  # noqa: E731
    if is_list(got) and is_list(want):
        return compatible(got.value_type, want.value_type, any_unit)
    if pa.types.is_struct(got) and pa.types.is_struct(want):
        return got.num_fields == want.num_fields and all(
            got.field(i).name == want.field(i).name and compatible(got.field(i).type, want.field(i).type, any_unit)
            for i in range(got.num_fields))
    if pa.types.is_timestamp(got) and pa.types.is_timestamp(want):
        return (got.tz is None) == (want.tz is None) and (got.unit == want.unit or want.unit == "s" or any_unit)
    if pa.types.is_time(got) and pa.types.is_time(want):
        return got.unit == want.unit or want.unit == "s"
    if pa.types.is_date(got) and pa.types.is_date(want):
        return True
    return False


@pytest.mark.skipif(SAN, reason="ctypes cannot load a sanitizer build")
@pytest.mark.parametrize("case", list(CASES))
def test_arrow_export(outdir, case):
    compare_export(outdir, case)


KEEP_DICT_CASES = [c for c in CASES if c.startswith(("compression-", "pagev2-", "dictionary-", "nested",
                                                     "small-pages", "row-groups", "large-strings",
                                                     "logical-types", "delta-byte-array", "delta-length"))]


@pytest.mark.skipif(SAN, reason="ctypes cannot load a sanitizer build")
@pytest.mark.parametrize("case", KEEP_DICT_CASES)
def test_arrow_export_keep_dictionary(outdir, case):
    """keep_dictionary=true: values must not change, and a top-level string/binary column whose
    chunks all have a dictionary page must arrive dictionary-encoded."""
    got = compare_export(outdir, case, keep_dictionary=True)
    path = write_case(outdir, case)
    md = pq.ParquetFile(path).metadata
    leaf = {md.schema.column(j).path: j for j in range(md.num_columns)}
    for f in pq.read_schema(path):
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if not (pa.types.is_string(t) or pa.types.is_binary(t)) or md.num_row_groups == 0:
            continue
        j = leaf[f.name]
        if all(md.row_group(g).column(j).has_dictionary_page for g in range(md.num_row_groups)):
            assert pa.types.is_dictionary(got.schema.field(f.name).type), \
                f"column {f.name}: dictionary-encoded in the file but exported as {got.schema.field(f.name).type}"


@pytest.mark.skipif(SAN, reason="ctypes cannot load a sanitizer build")
def test_arrow_export_verify_crc(outdir):
    compare_export(outdir, "page-checksums", verify_crc=True)


def compare_export(outdir, case, **opts):
    path = write_case(outdir, case)
    want = pq.read_table(path)
    got = read_via_arrow_export(path, **opts)
    assert got.num_rows == want.num_rows
    assert got.schema.names == want.schema.names
    for name in want.schema.names:
        g, w = got.column(name), want.column(name).combine_chunks()
        assert compatible(g.type, w.type, any_unit=case.startswith("int96")), \
            f"column {name}: skytile type {g.type} vs pyarrow {w.type}"
        if pa.types.is_dictionary(g.type):
            g = g.dictionary_decode()
        if pa.types.is_dictionary(w.type):
            w = w.dictionary_decode()
        if g.type != w.type:
            g = g.cast(w.type)
        if pa.types.is_floating(w.type):  # compare bits: NaN != NaN for .equals
            width = {2: pa.uint16(), 4: pa.uint32(), 8: pa.uint64()}[w.type.bit_width // 8]
            g, w = g.view(width), w.view(width)
        if not g.equals(w):
            bad = [i for i in range(len(w)) if g[i] != w[i]][:3]
            raise AssertionError(f"column {name}: values differ at rows {bad}: skytile "
                                 f"{[g[i].as_py() for i in bad]} pyarrow {[w[i].as_py() for i in bad]}")
    return got

