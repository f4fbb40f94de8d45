"""Core correctness of the Parquet reader against pyarrow (the oracle).

1. Every non-encrypted file of parquet-testing/data is read with st_pq_open +
   st_pq_read, exported through the Arrow C Data Interface (ctypes) and compared
   with pyarrow.parquet.read_table: same column names, same row count, and for
   every column the same values (our column cast to pyarrow's type, then
   .equals(); failing that, value by value with NaN == NaN).
2. Small pyarrow-written files covering each writer option (codecs,
   dictionary on/off, data page v2, byte-stream-split, DELTA_* encodings,
   nesting with nulls at every level, tiny pages, page checksums with
   verify_crc) are compared the same way.
3. Checksums, encryption and bad-input errors.

Under SKYTILE_SAN=1 the library cannot be loaded into Python (ASan), so the
same files go through `skytile parquet cat --format jsonl` instead, checking
the exit status and the row count against pyarrow's metadata.
"""
import ctypes
import decimal
import json
import math

import pytest

from conftest import SAN, SHARED, run_skytile
import stlib
from stlib import SkytileError

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DATA = SHARED / "fixtures" / "parquet-testing" / "data"
FILES = sorted(p.name for p in DATA.glob("*.parquet")) if DATA.is_dir() else []
ENCRYPTED = sorted(p.name for p in DATA.glob("*.parquet.encrypted")) if DATA.is_dir() else []

# Files that cannot match the oracle, with the reason.  None at present: every
# non-encrypted file reads and matches (nation.dict-malformed.parquet needs the
# PARQUET-816 chunk-size slack, incorrect_map_schema.parquet is compared with
# duckdb because pyarrow refuses its map schema).
EXPECT_ERROR = {}
# Files that fail only with page checksum verification on.
CORRUPT_CRC = {"datapage_v1-corrupt-checksum.parquet", "rle-dict-uncompressed-corrupt-checksum.parquet"}
GOOD_CRC = {"datapage_v1-snappy-compressed-checksum.parquet", "datapage_v1-uncompressed-checksum.parquet",
            "plain-dict-uncompressed-checksum.parquet", "rle-dict-snappy-checksum.parquet"}


# ---- ctypes binding ---------------------------------------------------------------------------

def sk_read(path, verify_crc=False, keep_dictionary=False, row_groups=None, columns=None,
            max_alloc=0):
    """Read a file with skytile; returns a pyarrow.Table (one batch)."""
    opt = stlib.PqReadOptions()
    stlib.lib().st_pq_read_options_init(ctypes.byref(opt))
    opt.verify_crc = verify_crc
    opt.keep_dictionary = keep_dictionary
    if max_alloc:
        opt.max_alloc = max_alloc
    return stlib.st_read_parquet(path, columns=columns, options=opt, row_groups=row_groups)


# ---- comparison --------------------------------------------------------------------------------

def _same_value(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return a == b


def assert_tables_match(ours, theirs, label=""):
    assert ours.column_names == theirs.column_names, label
    assert ours.num_rows == theirs.num_rows, label
    for name in theirs.column_names:
        a = ours.column(name).combine_chunks() if ours.num_rows else ours.column(name)
        b = theirs.column(name).combine_chunks() if theirs.num_rows else theirs.column(name)
        if pa.types.is_dictionary(a.type):
            a = a.dictionary_decode()
        if pa.types.is_dictionary(b.type):
            b = b.dictionary_decode()
        try:
            a2 = a.cast(b.type)
            if a2.equals(b):
                continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        la, lb = a.to_pylist(), b.to_pylist()
        bad = [i for i, (x, y) in enumerate(zip(la, lb)) if not _same_value(x, y)]
        assert not bad, (f"{label}: column {name!r} ({a.type} vs {b.type}) differs at rows "
                         f"{bad[:5]}: ours {[la[i] for i in bad[:3]]} pyarrow {[lb[i] for i in bad[:3]]}")


def oracle(path):
    """pyarrow's read of a file (or duckdb's when pyarrow cannot read it)."""
    try:
        return pq.read_table(path)
    except Exception:  # noqa: BLE001 - fall back to duckdb
        duckdb = pytest.importorskip("duckdb")
        rel = duckdb.sql(f"select * from read_parquet('{path}')")
        for meth in ("to_arrow_table", "fetch_arrow_table"):
            if hasattr(rel, meth):
                return getattr(rel, meth)()
        return rel.arrow().read_all()


# ---- 1. parquet-testing files -------------------------------------------------------------------

@pytest.mark.skipif(SAN, reason="ASan library cannot be loaded with ctypes (CLI variant below)")
@pytest.mark.parametrize("name", FILES)
def test_fixture_matches_pyarrow(name):
    path = DATA / name
    if name in EXPECT_ERROR:
        with pytest.raises(SkytileError) as e:
            sk_read(path)
        assert name in e.value.msg
        return
    ours = sk_read(path)
    theirs = oracle(path)
    assert_tables_match(ours, theirs, name)


@pytest.mark.skipif(not SAN, reason="CLI variant for sanitizer builds")
@pytest.mark.parametrize("name", FILES)
def test_fixture_cat_under_sanitizers(name):
    path = DATA / name
    p = run_skytile("parquet", "cat", "--format", "jsonl", path, timeout=300)
    if name in EXPECT_ERROR:
        assert p.returncode == 1 and "ERROR: AddressSanitizer" not in p.stderr, p.stderr
        return
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln]
    assert len(lines) == oracle(path).num_rows  # (file-level num_rows may be wrong, e.g. 0)
    for ln in lines[:50]:
        assert isinstance(json.loads(ln), dict)


@pytest.mark.skipif(SAN, reason="ctypes")
@pytest.mark.parametrize("name", sorted(GOOD_CRC | CORRUPT_CRC))
def test_page_checksums(name):
    path = DATA / name
    if name in CORRUPT_CRC:
        sk_read(path)  # without verification the data is readable
        with pytest.raises(SkytileError) as e:
            sk_read(path, verify_crc=True)
        assert e.value.code == 3 and "page CRC mismatch" in e.value.msg
        assert name in e.value.msg and "column '" in e.value.msg and "page " in e.value.msg
    else:
        assert_tables_match(sk_read(path, verify_crc=True), pq.read_table(path), name)


@pytest.mark.parametrize("name", ENCRYPTED)
def test_encrypted_files_are_refused(name):
    p = run_skytile("parquet", "cat", DATA / name)
    assert p.returncode == 1
    assert "encrypted Parquet is not supported" in p.stderr


@pytest.mark.skipif(SAN, reason="ctypes")
def test_projection_and_row_groups(tmp_path):
    t = pa.table({"a": list(range(100)), "b": [str(i) for i in range(100)],
                  "c": [[i, i + 1] for i in range(100)]})
    f = tmp_path / "rg.parquet"
    pq.write_table(t, f, row_group_size=30)
    ours = sk_read(f, row_groups=[3, 1], columns=[2, 0])
    want = pa.concat_tables([t.slice(90, 10), t.slice(30, 30)]).select(["c", "a"])
    assert_tables_match(ours, want)


@pytest.mark.skipif(SAN, reason="ctypes")
def test_keep_dictionary(tmp_path):
    words = ["alpha", "beta", None, "gamma"] * 250
    t = pa.table({"w": words, "i": list(range(1000))})
    f = tmp_path / "d.parquet"
    pq.write_table(t, f, row_group_size=300, data_page_size=200)
    ours = sk_read(f, keep_dictionary=True)
    assert pa.types.is_dictionary(ours.schema.field("w").type)
    assert_tables_match(ours, t)
    # a dictionary that overflows mid-chunk: later pages are PLAIN
    u = pa.table({"w": [None if i % 7 == 0 else f"value-{i}" for i in range(3000)]})
    f2 = tmp_path / "fallback.parquet"
    pq.write_table(u, f2, dictionary_pagesize_limit=256, data_page_size=128)
    encs = pq.ParquetFile(f2).metadata.row_group(0).column(0).encodings
    assert "PLAIN" in encs and any("DICTIONARY" in e for e in encs), encs
    ours = sk_read(f2, keep_dictionary=True)
    assert pa.types.is_dictionary(ours.schema.field("w").type)
    assert_tables_match(ours, u)
    assert_tables_match(sk_read(f2), u)


@pytest.mark.skipif(SAN, reason="ctypes")
def test_max_alloc_is_enforced(tmp_path):
    t = pa.table({"x": list(range(100000))})
    f = tmp_path / "big.parquet"
    pq.write_table(t, f)
    with pytest.raises(SkytileError) as e:
        sk_read(f, max_alloc=1000)
    assert e.value.code == 6


# ---- 2. pyarrow writer options -----------------------------------------------------------------

def option_table(n=300):
    return _required(_option_table(n))


def _option_table(n):
    import random
    rnd = random.Random(7)

    def m(v, p=0.2):
        return None if rnd.random() < p else v
    return pa.table({
        "i32": pa.array([m(rnd.randint(-2**31, 2**31 - 1)) for _ in range(n)], pa.int32()),
        "i64": pa.array([m(rnd.randint(-2**63, 2**63 - 1)) for _ in range(n)], pa.int64()),
        "f32": pa.array([m(rnd.random()) for _ in range(n)], pa.float32()),
        "f64": pa.array([m(rnd.gauss(0, 1e6)) for _ in range(n)], pa.float64()),
        "b": pa.array([m(rnd.random() < 0.5) for _ in range(n)], pa.bool_()),
        "s": pa.array([m("w%d" % rnd.randint(0, 20) * rnd.randint(0, 3)) for _ in range(n)], pa.string()),
        "req": pa.array(list(range(n)), pa.int64()),
        "reqf": pa.array([rnd.random() for _ in range(n)], pa.float64()),
        "i8": pa.array([m(rnd.randint(-128, 127)) for _ in range(n)], pa.int8()),
        "u32": pa.array([m(rnd.randint(0, 2**32 - 1)) for _ in range(n)], pa.uint32()),
        "dec": pa.array([m(decimal.Decimal(rnd.randint(-10**15, 10**15)).scaleb(-3)) for _ in range(n)],
                        pa.decimal128(18, 3)),
        "dec38": pa.array([m(decimal.Decimal(rnd.randint(-10**37, 10**37)).scaleb(-5)) for _ in range(n)],
                          pa.decimal128(38, 5)),
        "dec9": pa.array([m(decimal.Decimal(rnd.randint(-10**8, 10**8)).scaleb(-2)) for _ in range(n)],
                         pa.decimal128(9, 2)),
        "d": pa.array([m(rnd.randint(-10000, 10000)) for _ in range(n)], pa.int32()).cast(pa.date32()),
        "ts": pa.array([m(rnd.randint(0, 2**50)) for _ in range(n)], pa.timestamp("us", "UTC")),
        "fx": pa.array([m(bytes([rnd.randint(0, 255) for _ in range(3)])) for _ in range(n)], pa.binary(3)),
        "lst": pa.array([m([m(rnd.randint(0, 9)) for _ in range(rnd.randint(0, 3))]) for _ in range(n)],
                        pa.list_(pa.int32())),
        "st": pa.array([m({"x": m(rnd.randint(0, 9)), "y": m("s%d" % rnd.randint(0, 3))}) for _ in range(n)],
                       pa.struct([("x", pa.int16()), ("y", pa.string())])),
        "mp": pa.array([m([("k%d" % j, m(j)) for j in range(rnd.randint(0, 3))]) for _ in range(n)],
                       pa.map_(pa.string(), pa.int32())),
        "ll": pa.array([m([m([m(rnd.randint(0, 9)) for _ in range(rnd.randint(0, 2))])
                           for _ in range(rnd.randint(0, 3))]) for _ in range(n)],
                       pa.list_(pa.list_(pa.int64()))),
        "ls": pa.array([m([m({"a": m(rnd.random())}) for _ in range(rnd.randint(0, 2))]) for _ in range(n)],
                       pa.list_(pa.struct([("a", pa.float64())]))),
    })


def _required(t, names=("req", "reqf")):
    return t.cast(pa.schema([f.with_nullable(False) if f.name in names else f for f in t.schema]))


OPTIONS = {
    "none": dict(compression="none"),
    "snappy": dict(compression="snappy"),
    "gzip": dict(compression="gzip"),
    "brotli": dict(compression="brotli"),
    "zstd": dict(compression="zstd"),
    "lz4": dict(compression="lz4"),
    "nodict": dict(use_dictionary=False),
    "v2": dict(data_page_version="2.0"),
    "v2-zstd-nodict": dict(data_page_version="2.0", compression="zstd", use_dictionary=False),
    "bss": dict(use_dictionary=False, use_byte_stream_split=["i32", "i64", "f32", "f64", "fx", "dec", "d"]),
    "tiny-pages": dict(data_page_size=64, write_batch_size=7, row_group_size=100),
    "tiny-pages-v2": dict(data_page_size=64, write_batch_size=7, data_page_version="2.0"),
    "crc": dict(write_page_checksum=True),
}


@pytest.mark.skipif(SAN, reason="ctypes")
@pytest.mark.parametrize("opt", sorted(OPTIONS))
def test_pyarrow_options(tmp_path, opt):
    t = option_table()
    f = tmp_path / f"{opt}.parquet"
    pq.write_table(t, f, **OPTIONS[opt])
    assert_tables_match(sk_read(f, verify_crc=True), pq.read_table(f), opt)


@pytest.mark.skipif(SAN, reason="ctypes")
@pytest.mark.parametrize("enc,cols", [
    ("DELTA_BINARY_PACKED", ["i32", "i64", "req", "d", "ts", "i8", "u32"]),
    ("DELTA_LENGTH_BYTE_ARRAY", ["s"]),
    ("DELTA_BYTE_ARRAY", ["s"]),
    ("BYTE_STREAM_SPLIT", ["i32", "i64", "f32", "f64", "fx", "reqf", "dec"]),
])
def test_pyarrow_column_encodings(tmp_path, enc, cols):
    t = option_table().select(cols)
    f = tmp_path / "enc.parquet"
    pq.write_table(t, f, use_dictionary=False, column_encoding={c: enc for c in cols},
                   data_page_size=256)
    assert_tables_match(sk_read(f), pq.read_table(f), enc)


@pytest.mark.skipif(SAN, reason="ctypes")
def test_empty_and_all_null(tmp_path):
    t = pa.table({"a": pa.array([None] * 50, pa.int32()), "b": pa.array([[]] * 50, pa.list_(pa.int8())),
                  "c": pa.array([None] * 50, pa.list_(pa.string()))})
    f = tmp_path / "n.parquet"
    pq.write_table(t, f)
    assert_tables_match(sk_read(f), pq.read_table(f))
    f0 = tmp_path / "zero.parquet"
    pq.write_table(t.slice(0, 0), f0)
    assert_tables_match(sk_read(f0), pq.read_table(f0))


# ---- 3. bad input ------------------------------------------------------------------------------

def test_bad_magic_and_truncated(tmp_path):
    f = tmp_path / "x.parquet"
    f.write_bytes(b"hello world, not parquet at all")
    p = run_skytile("parquet", "cat", f)
    assert p.returncode == 1 and "not a Parquet file" in p.stderr and str(f) in p.stderr
    good = (DATA / "alltypes_plain.parquet").read_bytes()
    for cut in (10, len(good) // 2, len(good) - 3):
        f.write_bytes(good[:cut])
        p = run_skytile("parquet", "cat", f)
        assert p.returncode == 1, cut
        assert "skytile:" in p.stderr and "AddressSanitizer" not in p.stderr


def test_corrupted_pages_never_crash(tmp_path):
    """Flip bytes inside the column data of a few files: an error or data, never a crash."""
    import random
    rnd = random.Random(5)
    for name in ["alltypes_plain.parquet", "nested_lists.snappy.parquet", "datapage_v2.snappy.parquet",
                 "delta_byte_array.parquet", "nullable.impala.parquet"]:
        good = bytearray((DATA / name).read_bytes())
        flen = int.from_bytes(good[-8:-4], "little")
        body_end = len(good) - 8 - flen
        for k in range(6):
            bad = bytearray(good)
            for _ in range(4):
                bad[rnd.randrange(4, body_end)] ^= 1 << rnd.randrange(8)
            f = tmp_path / f"c{k}.parquet"
            f.write_bytes(bytes(bad))
            p = run_skytile("parquet", "cat", "--format", "jsonl", f, timeout=60)
            assert p.returncode in (0, 1), (name, p.returncode, p.stderr[-2000:])
            assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-2000:]


# ---- CLI ---------------------------------------------------------------------------------------

def test_cli_cat_columns_limit():
    f = DATA / "alltypes_plain.parquet"
    p = run_skytile("parquet", "cat", f, "--columns", "id,bool_col", "--limit", "3")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(f).slice(0, 3)
    want = ["id,bool_col"] + [f"{i},{str(b).lower()}" for i, b in zip(t["id"].to_pylist(), t["bool_col"].to_pylist())]
    assert p.stdout.splitlines() == want
    p = run_skytile("parquet", "cat", f, "--columns", "id,nope")
    assert p.returncode == 2 and "unknown column 'nope'" in p.stderr and "bool_col" in p.stderr


def test_cli_help():
    p = run_skytile("parquet", "--help")
    assert p.returncode == 0
    for c in ("schema", "meta", "cat"):
        assert c in p.stdout
    p = run_skytile("parquet", "cat", "--help")
    assert p.returncode == 0 and "--columns" in p.stdout and "--limit" in p.stdout
