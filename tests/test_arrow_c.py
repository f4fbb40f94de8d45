"""Arrow C Data Interface round trips and text output of skytile tables, with pyarrow as the oracle.

pyarrow exports record batches into ctypes-allocated ArrowSchema/ArrowArray structs,
libskytile imports them (st_table_import_arrow), exports them again
(st_table_export_arrow) and pyarrow imports the result: it must equal the original,
schema and metadata included.  The CSV / JSON Lines writers are checked cell by cell
against values computed independently in Python (float round trip, Decimal,
datetime.isoformat, bytes.hex).
"""
import csv
import ctypes
import datetime
import decimal
import json
import math

import numpy as np
import pyarrow as pa
import pytest

import stlib
from stlib import ArrowArray, ArrowSchema, StError

pytestmark = stlib.needs_lib


@pytest.fixture(scope="module")
def lib():
    return stlib.lib()


def addr(x):
    return ctypes.addressof(x)


def to_table(lib, batch):
    """pyarrow RecordBatch -> st_table* (import moves the exported structs)."""
    s, a = ArrowSchema(), ArrowArray()
    batch._export_to_c(addr(a), addr(s))
    t, err = ctypes.c_void_p(), StError()
    rc = lib.st_table_import_arrow(addr(s), addr(a), ctypes.byref(t), ctypes.byref(err))
    assert rc == 0, err.msg.decode()
    assert not s.release and not a.release  # ownership moved
    assert lib.st_table_validate(t, ctypes.byref(err)) == 0, err.msg.decode()
    return t


def from_table(lib, t):
    return stlib.export_arrow(t)


def roundtrip(lib, batch, free_first=True):
    t = to_table(lib, batch)
    s, a = from_table(lib, t)
    if free_first:
        lib.st_table_free(t)  # the export must stand on its own
    out = pa.RecordBatch._import_from_c(addr(a), addr(s))
    if not free_first:
        lib.st_table_free(t)
    return out


def assert_same(out, batch):
    assert out.schema.equals(batch.schema, check_metadata=True), f"{out.schema}\n!=\n{batch.schema}"
    for i in range(batch.num_columns):
        a, b = out.column(i), batch.column(i)
        if pa.types.is_floating(b.type):  # NaN != NaN: compare the bits
            bits = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}[b.type.bit_width]
            a, b = a.view(bits), b.view(bits)
        assert a.equals(b), (batch.schema.field(i), a, b)
    if not any(pa.types.is_floating(t) for t in batch.schema.types):
        assert out.equals(batch)


def every_type_batch(n=23, seed=1):
    rng = np.random.default_rng(seed)

    def mask(p=0.2):
        return rng.random(n) < p

    def opt(vals, p=0.2):
        m = mask(p)
        return [None if m[i] else v for i, v in enumerate(vals)]

    ints = rng.integers(-2**62, 2**62, n)
    cols, fields = [], []

    def add(name, arr, nullable=True, meta=None):
        cols.append(arr)
        fields.append(pa.field(name, arr.type, nullable=nullable, metadata=meta))

    add("null", pa.nulls(n))
    add("bool", pa.array(opt([bool(x & 1) for x in ints]), pa.bool_()))
    for t, lo, hi in [(pa.int8(), -128, 128), (pa.int16(), -2**15, 2**15), (pa.int32(), -2**31, 2**31),
                      (pa.int64(), -2**63, 2**63), (pa.uint8(), 0, 256), (pa.uint16(), 0, 2**16),
                      (pa.uint32(), 0, 2**32), (pa.uint64(), 0, 2**64)]:
        vals = [int(v) for v in rng.integers(lo, hi, n, dtype=np.int64 if lo < 0 else np.uint64, endpoint=False)]
        if n >= 2:
            vals[0], vals[1] = lo, hi - 1
        add(str(t), pa.array(opt(vals), t))
    add("f16", pa.array(opt(list(rng.standard_normal(n).astype(np.float16))), pa.float16()))
    add("f32", pa.array(opt([float(x) for x in rng.standard_normal(n).astype(np.float32)]), pa.float32()))
    f64 = [float(x) for x in rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)]
    if n >= 4:
        f64[:4] = [math.nan, math.inf, -math.inf, -0.0]
    add("f64", pa.array(opt(f64), pa.float64()),
        meta={b"unit": b"deg", b"ucd": b"pos.eq.ra"})
    add("f64_nonnull", pa.array(f64, pa.float64()), nullable=False)
    dec = [decimal.Decimal(int(v)).scaleb(-2) for v in rng.integers(-10**9, 10**9, n)]
    add("dec", pa.array(opt(dec), pa.decimal128(12, 2)))
    big = [decimal.Decimal(int(v) * 10**20 + 12345).scaleb(-10) for v in rng.integers(-10**17, 10**17, n)]
    add("dec38", pa.array(opt(big), pa.decimal128(38, 10)))
    huge = [decimal.Decimal(int(v) * 10**50 + 7).scaleb(-20) for v in rng.integers(-10**17, 10**17, n)]
    add("dec256", pa.array(opt(huge), pa.decimal256(76, 20)))
    strs = ["", "a,b", 'q"uote', "line\nbreak", "ünï©ødé", "tab\t", "x" * 40] * (n // 7 + 1)
    add("str", pa.array(opt(strs[:n]), pa.string()))
    add("lstr", pa.array(opt(strs[:n]), pa.large_string()))
    bins = [bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in rng.integers(0, 9, n)]
    add("bin", pa.array(opt(bins), pa.binary()))
    add("lbin", pa.array(opt(bins), pa.large_binary()))
    add("fbin", pa.array(opt([bytes(rng.integers(0, 256, 3, dtype=np.uint8)) for _ in range(n)]), pa.binary(3)))
    days = [int(d) for d in rng.integers(-719162, 2932896, n)]  # years 1..9999
    add("date32", pa.array(opt(days), pa.date32()))
    add("date64", pa.array(opt([d * 86400000 for d in days]), pa.date64()))
    add("t32s", pa.array(opt([int(v) for v in rng.integers(0, 86400, n)]), pa.time32("s")))
    add("t32ms", pa.array(opt([int(v) for v in rng.integers(0, 86400000, n)]), pa.time32("ms")))
    add("t64us", pa.array(opt([int(v) for v in rng.integers(0, 86400 * 10**6, n)]), pa.time64("us")))
    add("t64ns", pa.array(opt([int(v) for v in rng.integers(0, 86400 * 10**9, n)]), pa.time64("ns")))
    for unit, tz in [("s", None), ("ms", "UTC"), ("us", "UTC"), ("ns", None), ("us", "America/New_York")]:
        scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
        lo = -62135596800 if unit != "ns" else -9 * 10**9
        hi = 253402300799 if unit != "ns" else 9 * 10**9
        vals = [int(v) * scale + int(f) for v, f in zip(rng.integers(lo, hi, n), rng.integers(0, scale, n))]
        add(f"ts_{unit}_{tz}", pa.array(opt(vals), pa.timestamp(unit, tz)))
    for unit in "s ms us ns".split():
        add(f"dur_{unit}", pa.array(opt([int(v) for v in ints]), pa.duration(unit)))
    lists = [None if i % 5 == 3 else [int(x) for x in rng.integers(-5, 5, i % 4)] for i in range(n)]
    add("list_i32", pa.array(lists, pa.list_(pa.int32())))
    add("llist_str", pa.array([None if v is None else [str(x) for x in v] for v in lists],
                              pa.large_list(pa.string())))
    add("fsl", pa.array([None if i % 6 == 0 else [float(i), None, -1.5] for i in range(n)],
                        pa.list_(pa.float32(), 3)))
    st = pa.struct([pa.field("a", pa.int16()), pa.field("b", pa.string(), nullable=False)])
    add("struct", pa.array([None if i % 4 == 1 else {"a": None if i % 3 else i, "b": f"s{i}"} for i in range(n)], st))
    inner = pa.struct([("x", pa.float64()), ("y", pa.list_(pa.int64()))])
    add("list_struct", pa.array([None if i % 7 == 2 else [{"x": i * 0.5, "y": list(range(i % 3))},
                                                          None] * (i % 3) for i in range(n)],
                                pa.list_(inner)))
    maps = [None if i % 5 == 0 else [(f"k{j}", None if j == 1 else i * j) for j in range(i % 4)] for i in range(n)]
    add("map", pa.array(maps, pa.map_(pa.string(), pa.int32())))
    add("map_sorted", pa.array(maps, pa.map_(pa.string(), pa.int32(), keys_sorted=True)))
    dvals = pa.array(["red", "green", None, "a,b"])  # a null dictionary entry, too
    add("dict", pa.DictionaryArray.from_arrays(pa.array(opt([int(x) for x in rng.integers(0, 4, n)]), pa.int32()),
                                               dvals))
    schema = pa.schema(fields, metadata={b"hats": b"catalog", b"empty": b""})
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def test_roundtrip_every_type(lib):
    b = every_type_batch()
    out = roundtrip(lib, b)
    assert_same(out, b)
    assert out.schema.field("map_sorted").type.keys_sorted and not out.schema.field("map").type.keys_sorted
    assert not out.schema.field("f64_nonnull").nullable and out.schema.field("f64").metadata == {
        b"unit": b"deg", b"ucd": b"pos.eq.ra"}
    assert_same(roundtrip(lib, b, free_first=False), b)


def test_roundtrip_slices(lib):
    b = every_type_batch(n=61, seed=7)
    for off, ln in [(1, 30), (13, 17), (60, 1), (5, 0)]:
        s = b.slice(off, ln)
        assert_same(roundtrip(lib, s), s)


def test_roundtrip_sliced_columns(lib):
    # columns with their own, different offsets (struct-level offset 0)
    b = every_type_batch(n=40, seed=3)
    cols = [c.slice(i % 5, 30) for i, c in enumerate(b.columns)]
    s = pa.RecordBatch.from_arrays(cols, schema=b.schema)
    assert_same(roundtrip(lib, s), s)


def test_roundtrip_empty(lib):
    b = every_type_batch(n=0)
    assert_same(roundtrip(lib, b), b)


def test_zero_copy(lib):
    big = pa.array(np.arange(1 << 20, dtype=np.float64))
    b = pa.record_batch([big, pa.array(np.arange(1 << 20) % 7 == 0)], names=["x", "flag"])
    out = roundtrip(lib, b)
    assert out.column(0).buffers()[1].address == big.buffers()[1].address
    assert out.equals(b)
    del b, big  # the round-tripped batch keeps pyarrow's memory alive through our references
    assert out.column(0)[12345].as_py() == 12345.0


def test_dictionary_index_widths(lib):
    vals = pa.array(["x", "y", "z"])
    for it in [pa.int8(), pa.uint8(), pa.int16(), pa.int64(), pa.uint32()]:
        idx = pa.array([0, 2, None, 1, 2, 0], it)
        d = pa.DictionaryArray.from_arrays(idx, vals).slice(1)
        b = pa.record_batch([d], names=["d"])
        out = roundtrip(lib, b)
        # we keep int32 indices: compare after the same cast
        want = d.cast(pa.dictionary(pa.int32(), pa.string()))
        assert out.column(0).equals(want)


def test_unknown_format_rejected(lib):
    for arr, fmt in [(pa.array(["a", "b"], pa.string_view()), "vu"),
                     (pa.array([decimal.Decimal("1.5")], pa.decimal32(5, 2)), "d:5,2,32"),
                     (pa.UnionArray.from_sparse(pa.array([0], pa.int8()), [pa.array([1])]), "+us:0")]:
        b = pa.record_batch([arr], names=["c"])
        s, a = ArrowSchema(), ArrowArray()
        b._export_to_c(addr(a), addr(s))
        t, err = ctypes.c_void_p(), StError()
        rc = lib.st_table_import_arrow(addr(s), addr(a), ctypes.byref(t), ctypes.byref(err))
        assert rc == 4, (rc, err.msg)  # ST_ERR_UNSUPPORTED
        assert f'"{fmt}"' in err.msg.decode()
        assert not t.value
        assert not s.release and not a.release  # released even on failure


def test_array_level_roundtrip(lib):
    b = every_type_batch(n=17, seed=5)
    field_buf = ctypes.create_string_buffer(512)  # room for an st_field
    for i, col in enumerate(b.columns):
        col = col.slice(2)
        s, a = ArrowSchema(), ArrowArray()
        col._export_to_c(addr(a), addr(s))
        arr, err = ctypes.c_void_p(), StError()
        rc = lib.st_array_import_arrow(addr(s), addr(a), field_buf, ctypes.byref(arr), ctypes.byref(err))
        assert rc == 0, err.msg.decode()
        s2, a2 = ArrowSchema(), ArrowArray()
        rc = lib.st_array_export_arrow(field_buf, arr, addr(s2), addr(a2), ctypes.byref(err))
        assert rc == 0, err.msg.decode()
        lib.st_array_free(arr)
        lib.st_field_clear(field_buf)
        out = pa.Array._import_from_c(addr(a2), addr(s2))
        assert out.equals(col), b.schema.field(i)


# ---- text output ----------------------------------------------------------------

def py_text(v, t):
    """Independent expectation of a CSV cell for a Python value of Arrow type t."""
    if v is None:
        return None
    if pa.types.is_boolean(t):
        return "true" if v else "false"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return v.hex()
    if pa.types.is_decimal(t):
        return format(v, "f")
    if pa.types.is_date(t):
        return v.isoformat()
    if pa.types.is_timestamp(t):
        return None  # checked separately (exact integer arithmetic)
    if pa.types.is_time(t):
        return None
    return str(v)


def ts_text(value, unit, tz):
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    secs, frac = divmod(value, per)
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=secs)
    s = d.isoformat(timespec="seconds")
    if unit != "s":
        s += "." + str(frac).zfill({"ms": 3, "us": 6, "ns": 9}[unit])
    return s + ("Z" if tz else "")


def time_text(value, unit):
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    secs, frac = divmod(value, per)
    s = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    if unit != "s":
        s += "." + str(frac).zfill({"ms": 3, "us": 6, "ns": 9}[unit])
    return s


def sig_string(text):
    mant = text.lower().lstrip("-").split("e")[0].replace(".", "")
    return mant.strip("0") or "0"


def sig_digits(text):
    return len(sig_string(text))


def check_cell(cell, col, i, t):
    """cell: CSV text ('' for null); col: pyarrow column; row i."""
    v = col[i]
    if not v.is_valid or pa.types.is_null(t):
        assert cell == "", (t, i, cell)
        return
    if pa.types.is_timestamp(t) or pa.types.is_time(t) or pa.types.is_duration(t):
        py = None  # compared on the raw integers below
    else:
        py = v.as_py()
    if pa.types.is_floating(t):
        x = float(py)
        if math.isnan(x):
            assert cell == "nan"
        elif pa.types.is_float32(t):
            assert np.float32(float(cell)) == np.float32(x), (cell, x)
        else:
            assert float(cell) == x and math.copysign(1, float(cell)) == math.copysign(1, x), (cell, x)
        if math.isfinite(x):  # shortest: as many significant digits as Python's / numpy's repr
            shortest = (np.format_float_scientific(np.float32(x), unique=True) if pa.types.is_float32(t)
                        else repr(x))
            assert sig_digits(cell) == sig_digits(shortest), (cell, shortest)
        return
    if pa.types.is_integer(t):
        assert int(cell) == py and cell == str(py)
        return
    if pa.types.is_decimal(t):
        assert decimal.Decimal(cell) == py and cell == format(py, "f"), (cell, py)
        return
    if pa.types.is_timestamp(t):
        raw = col.cast(pa.int64())[i].as_py()
        assert cell == ts_text(raw, t.unit, t.tz), (cell, raw)
        if t.unit in ("s", "ms", "us"):  # aware datetimes compare as instants
            assert datetime.datetime.fromisoformat(cell.replace("Z", "+00:00")) == v.as_py()
        return
    if pa.types.is_time(t):
        raw = col.cast(pa.int64() if pa.types.is_time64(t) else pa.int32())[i].as_py()
        assert cell == time_text(raw, t.unit)
        return
    if pa.types.is_duration(t):
        assert cell == str(col.cast(pa.int64())[i].as_py())
        return
    if pa.types.is_dictionary(t):
        assert cell == ("" if py is None else str(py)), (cell, py)
        return
    if pa.types.is_nested(t):
        return  # JSON form, checked by test_jsonl
    assert cell == py_text(py, t), (t, cell, py)


def test_csv_matches_python(lib, tmp_path):
    b = every_type_batch(n=57, seed=11)
    # date range Python can represent (years 1..9999)
    t = to_table(lib, b)
    path = tmp_path / "out.csv"
    err = StError()
    assert lib.st_table_write_csv_path(t, str(path).encode(), True, False, ctypes.byref(err)) == 0, err.msg
    assert lib.st_table_write_csv_path(t, str(path).encode(), False, True, ctypes.byref(err)) == 0, err.msg
    lib.st_table_free(t)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == b.schema.names
    assert len(rows) == 1 + 2 * b.num_rows
    raw = path.read_text(encoding="utf-8")
    for j, col in enumerate(b.columns):
        typ = b.schema.field(j).type
        for i in range(b.num_rows):
            for cell in (rows[1 + i][j], rows[1 + b.num_rows + i][j]):
                check_cell(cell, col, i, typ)
    # the empty string is written quoted ("") so it differs from null
    assert ',"",' in raw


def json_expect(v, t):
    """Independent JSON value for a Python value v of Arrow type t (our documented conventions)."""
    if v is None:
        return None
    if pa.types.is_dictionary(t):
        return json_expect(v, t.value_type)
    if pa.types.is_floating(t):
        x = float(v)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return x
    if pa.types.is_decimal(t):
        return v
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return v.hex()
    if pa.types.is_date(t):
        return v.isoformat()
    if pa.types.is_map(t):
        return [{"key": json_expect(k, t.key_type), "value": json_expect(x, t.item_type)} for k, x in v]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [json_expect(x, t.value_type) for x in v]
    if pa.types.is_struct(t):
        return {t.field(k).name: json_expect(v[t.field(k).name], t.field(k).type) for k in range(t.num_fields)}
    return v


def test_jsonl_matches_python(lib, tmp_path):
    b = every_type_batch(n=41, seed=13)
    t = to_table(lib, b)
    path = tmp_path / "out.jsonl"
    err = StError()
    assert lib.st_table_write_jsonl_path(t, str(path).encode(), False, ctypes.byref(err)) == 0, err.msg
    lib.st_table_free(t)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == b.num_rows
    for i, line in enumerate(lines):
        obj = json.loads(line, parse_float=decimal.Decimal, parse_int=int)
        assert list(obj) == b.schema.names
        for j, f in enumerate(b.schema):
            col = b.column(j)
            if pa.types.is_timestamp(f.type) or pa.types.is_time(f.type) or pa.types.is_duration(f.type):
                raw = col.cast(pa.int64() if f.type.bit_width == 64 else pa.int32())[i].as_py()
                if raw is None:
                    want = None
                elif pa.types.is_timestamp(f.type):
                    want = ts_text(raw, f.type.unit, f.type.tz)
                elif pa.types.is_time(f.type):
                    want = time_text(raw, f.type.unit)
                else:
                    want = raw
                assert obj[f.name] == want, (f, obj[f.name], want)
                continue
            want = json_expect(col[i].as_py(), f.type)
            got = obj[f.name]
            if isinstance(got, decimal.Decimal) and pa.types.is_floating(f.type):
                got = float(got)
            if pa.types.is_floating(f.type) and isinstance(want, float) and pa.types.is_float32(f.type):
                assert np.float32(got) == np.float32(want)
                continue
            if pa.types.is_nested(f.type) or pa.types.is_float16(f.type):
                got = json.loads(json.dumps(got, default=float))
                want = json.loads(json.dumps(want, default=float))
            assert got == want, (f, got, want)


def civil_text(days):
    """Proleptic Gregorian date text for any day count: shift by whole 400-year cycles
    (146097 days) into Python's 1..9999 range, then undo the shift on the year."""
    epoch = datetime.date(1970, 1, 1).toordinal()
    k = 0
    while epoch + days + k * 146097 < 1:
        k += 1
    while epoch + days + k * 146097 > datetime.date(9999, 12, 31).toordinal():
        k -= 1
    d = datetime.date.fromordinal(epoch + days + k * 146097)
    y = d.year - 400 * k
    ys = f"-{-y:04d}" if y < 0 else f"{y:04d}"
    return f"{ys}-{d.month:02d}-{d.day:02d}"


def test_extreme_dates_and_timestamps(lib, tmp_path):
    # far outside 1970..2100, negative epochs, years <= 0 and > 9999
    all_days = [-719162, -719163, -719528, -719529, -1, 0, 1, 2932896, 2932897, 11016, -25567, 59, 60,
            -365 * 1000, -106751991, 106751990, -5000000, 50000000]
    days = all_days
    days = [d for d in days if abs(d) <= 106751990]          # the int64 microsecond range
    ts = [d * 86400 * 10**6 + 86399999999 for d in days]   # last microsecond of each day
    b = pa.record_batch([pa.array(days, pa.date32()), pa.array(ts, pa.timestamp("us", "UTC")),
                         pa.array([d * 86400 for d in days], pa.timestamp("s"))], names=["d", "t", "s"])
    t = to_table(lib, b)
    path = tmp_path / "d.csv"
    err = StError()
    assert lib.st_table_write_csv_path(t, str(path).encode(), False, False, ctypes.byref(err)) == 0
    lib.st_table_free(t)
    rows = list(csv.reader(open(path, newline="")))
    for (dcell, tcell, scell), d in zip(rows, days):
        assert dcell == civil_text(d), d
        assert tcell == civil_text(d) + "T23:59:59.999999Z", d
        assert scell == civil_text(d) + "T00:00:00", d
    b = pa.record_batch([pa.array([-2**31, 2**31 - 1], pa.date32())], names=["d"])
    t = to_table(lib, b)
    assert lib.st_table_write_csv_path(t, str(path).encode(), False, False, ctypes.byref(err)) == 0
    lib.st_table_free(t)
    assert [r[0] for r in csv.reader(open(path, newline=""))] == [civil_text(-2**31), civil_text(2**31 - 1)]
    # the extreme int64 timestamps (year -290308 / 294247 for us)
    lo, hi = -2**63, 2**63 - 1
    b = pa.record_batch([pa.array([lo, hi, -1], pa.timestamp("us"))], names=["t"])
    t = to_table(lib, b)
    assert lib.st_table_write_csv_path(t, str(path).encode(), False, False, ctypes.byref(err)) == 0
    lib.st_table_free(t)
    cells = [r[0] for r in csv.reader(open(path, newline=""))]
    for cell, v in zip(cells, [lo, hi, -1]):
        secs, us = divmod(v, 10**6)
        days_, sod = divmod(secs, 86400)
        want = f"{civil_text(days_)}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}.{us:06d}"
        assert cell == want


def test_float_text_shortest_roundtrip(lib, tmp_path):
    """Every power of two, their neighbours and random bit patterns: the CSV text reads back
    exactly and has as many significant digits as Python's / numpy's shortest repr."""
    rng = np.random.default_rng(99)
    p2 = [math.ldexp(1.0, k) for k in range(-1074, 1024)]
    near = [math.nextafter(x, math.inf) for x in p2] + [math.nextafter(x, 0) for x in p2]
    bits = rng.integers(0, 2**63, 20000, dtype=np.int64).view(np.float64)
    d = np.array(p2 + near + list(bits) + [-x for x in p2[:50]], dtype=np.float64)
    d = d[np.isfinite(d)]
    f = rng.integers(0, 2**31, d.size, dtype=np.int32).view(np.float32)
    f = np.where(np.isfinite(f), f, np.float32(1.5)).astype(np.float32)
    f[:277] = np.ldexp(np.float32(1), np.arange(-149, 128)).astype(np.float32)
    b = pa.record_batch([pa.array(d), pa.array(f)], names=["d", "f"])
    t = to_table(lib, b)
    path = tmp_path / "f.csv"
    err = StError()
    assert lib.st_table_write_csv_path(t, str(path).encode(), False, False, ctypes.byref(err)) == 0
    lib.st_table_free(t)
    rows = list(csv.reader(open(path, newline="")))
    assert len(rows) == d.size
    for (dc, fc), x, y in zip(rows, d, f):
        # same value, and the same digits as the shortest-then-closest repr
        assert float(dc) == x and sig_string(dc) == sig_string(repr(float(x))), (dc, repr(float(x)))
        assert np.float32(fc) == y, (fc, y)
        assert sig_string(fc) == sig_string(np.format_float_scientific(y, unique=True)), (fc, y)


def _decode_dicts(batch):
    cols = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _check_same_values(out, want):
    out, want = _decode_dicts(out), _decode_dicts(want)
    assert out.num_rows == want.num_rows
    for i in range(want.num_columns):
        a, b = out.column(i), want.column(i)
        if pa.types.is_floating(b.type):
            bits = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}[b.type.bit_width]
            a, b = a.view(bits), b.view(bits)
        assert a.equals(b), (want.schema.field(i), a, b)


def test_take_matches_pyarrow(lib):
    b = every_type_batch(n=50, seed=21).slice(3, 40)
    rng = np.random.default_rng(4)
    idx = rng.integers(-1, b.num_rows, 300).astype(np.int64)
    t = to_table(lib, b)
    out_t, err = ctypes.c_void_p(), StError()
    rc = lib.st_table_take(t, idx.ctypes.data, idx.size, ctypes.byref(out_t), ctypes.byref(err))
    assert rc == 0, err.msg.decode()
    lib.st_table_free(t)
    assert lib.st_table_validate(out_t, ctypes.byref(err)) == 0, err.msg.decode()
    s, a = from_table(lib, out_t)
    lib.st_table_free(out_t)
    out = pa.RecordBatch._import_from_c(addr(a), addr(s))
    want = b.take(pa.array([None if i < 0 else int(i) for i in idx], pa.int64()))
    assert out.schema.equals(b.schema, check_metadata=True)
    _check_same_values(out, want)
    bad = np.array([b.num_rows], dtype=np.int64)
    t = to_table(lib, b)
    assert lib.st_table_take(t, bad.ctypes.data, 1, ctypes.byref(out_t), ctypes.byref(err)) == 1  # ST_ERR_INVALID
    lib.st_table_free(t)


def test_concat_slice_select_match_pyarrow(lib):
    b = every_type_batch(n=45, seed=8)
    parts = [b.slice(0, 7), b.slice(5, 19), b.slice(44, 1), b.slice(9, 0), b.slice(13, 30)]
    tabs = (ctypes.c_void_p * len(parts))(*[to_table(lib, p).value for p in parts])
    out_t, err = ctypes.c_void_p(), StError()
    assert lib.st_table_concat(tabs, len(parts), ctypes.byref(out_t), ctypes.byref(err)) == 0, err.msg.decode()
    for p in tabs:
        lib.st_table_free(p)
    assert lib.st_table_validate(out_t, ctypes.byref(err)) == 0, err.msg.decode()
    # slice of the concatenation, then a column selection (with a repeat)
    sl = ctypes.c_void_p()
    assert lib.st_table_slice(out_t, 4, 50, ctypes.byref(sl), ctypes.byref(err)) == 0
    cols = np.array([30, 0, 12, 12, 35], dtype=np.int32)
    sel = ctypes.c_void_p()
    assert lib.st_table_select_columns(sl, cols.ctypes.data, cols.size, ctypes.byref(sel), ctypes.byref(err)) == 0
    whole = pa.Table.from_batches(parts).combine_chunks().to_batches()[0]
    s, a = from_table(lib, out_t)
    lib.st_table_free(out_t)
    out = pa.RecordBatch._import_from_c(addr(a), addr(s))
    assert out.schema.equals(b.schema, check_metadata=True)
    _check_same_values(out, whole)
    s, a = from_table(lib, sel)
    lib.st_table_free(sl)
    lib.st_table_free(sel)
    out = pa.RecordBatch._import_from_c(addr(a), addr(s))
    want = whole.slice(4, 50)
    want = pa.RecordBatch.from_arrays([want.column(int(i)) for i in cols],
                                      schema=pa.schema([want.schema.field(int(i)) for i in cols],
                                                       metadata=want.schema.metadata))
    assert out.schema.equals(want.schema, check_metadata=True)
    _check_same_values(out, want)


def test_validate_flags_bad_imports(lib):
    """Arrays pyarrow builds without checking (from_buffers) are caught by st_table_validate."""
    i32 = lambda *v: pa.py_buffer(np.array(v, dtype=np.int32).tobytes())
    bad = {
        "offsets decrease": pa.Array.from_buffers(pa.string(), 2, [None, i32(0, 3, 1), pa.py_buffer(b"abc")]),
        "dictionary index": pa.DictionaryArray.from_buffers(pa.dictionary(pa.int32(), pa.string()), 2,
                                                            [None, i32(0, 7)], dictionary=pa.array(["a", "b"])),
    }
    for what, arr in bad.items():
        b = pa.record_batch([arr], names=["c"])
        s, a = ArrowSchema(), ArrowArray()
        b._export_to_c(addr(a), addr(s))
        t, err = ctypes.c_void_p(), StError()
        assert lib.st_table_import_arrow(addr(s), addr(a), ctypes.byref(t), ctypes.byref(err)) == 0, err.msg
        rc = lib.st_table_validate(t, ctypes.byref(err))
        lib.st_table_free(t)
        assert rc == 3, (what, rc)  # ST_ERR_CORRUPT
        assert what in err.msg.decode(), (what, err.msg)


def test_nested_dictionary_index_conversion(lib):
    # a list of int8-indexed dictionary values, sliced: the indices are converted to int32
    d = pa.DictionaryArray.from_arrays(pa.array([2, 0, None, 1, 1, 0, 2], pa.int8()), pa.array(["x", "y", "z"]))
    lst = pa.ListArray.from_arrays(pa.array([0, 2, 2, 5, 7], pa.int32()), d).slice(1)
    st = pa.StructArray.from_arrays([d.slice(4), pa.array([1, 2, 3])], names=["d", "n"])
    b = pa.record_batch([lst, st], names=["l", "s"])
    out = roundtrip(lib, b)
    want_l = lst.cast(pa.list_(pa.dictionary(pa.int32(), pa.string())))
    want_s = st.cast(pa.struct([("d", pa.dictionary(pa.int32(), pa.string())), ("n", pa.int64())]))
    assert out.column(0).equals(want_l)
    assert out.column(1).equals(want_s)
