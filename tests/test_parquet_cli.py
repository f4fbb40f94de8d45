"""`skytile parquet cat` (CSV, JSON Lines), `schema` and `meta` against pyarrow as the oracle.

The files are written by pyarrow into a temporary directory; every expected cell is
derived from pyarrow's read of the same file, never from skytile's output.

Conventions checked (include/skytile/table.h, "text output"):
  CSV   RFC 4180, header row, null = empty unquoted field, "" = empty string,
        floats read back bit-for-bit (float32 as float32), "nan"/"inf"/"-inf",
        ints exact, bool true/false, binary lowercase hex, dates YYYY-MM-DD,
        timestamps YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff] + "Z" with a time zone,
        decimals exact with `scale` fraction digits.
  JSONL one object per row, keys = column names in order; numbers for ints/floats/
        decimals (exact text), "NaN"/"Infinity"/"-Infinity" strings, binary as hex,
        temporal values as the CSV text, lists as arrays, structs as objects, maps as
        arrays of {"key": k, "value": v}.

The JSON oracle (json_rows, expected_rows, canon_*) is shared with
tests/test_parquet_pyarrow_options.py.
"""
import datetime
import decimal
import json
import math
import re
import struct

import pytest

from conftest import SKYTILE, run_skytile

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.skipif(not SKYTILE.exists(), reason="skytile CLI not built")


# ---- shared oracle: expected canonical values from pyarrow, canonical values from JSON ---------

class RawNum(str):
    """A JSON number kept as its text (so -0, 1e300, big ints and decimals stay exact)."""


def parse_jsonl(text):
    """Parse JSON Lines keeping numbers as RawNum and key order."""
    rows = []
    for line in text.split("\n"):  # not splitlines(): U+2028 etc. may appear raw inside strings
        if line.strip():
            rows.append(json.loads(line, parse_float=RawNum, parse_int=RawNum,
                                   object_pairs_hook=lambda kv: dict(kv)))
    return rows


_UNIT_DIV = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_EPOCH = datetime.datetime(1970, 1, 1)


def fmt_timestamp(v, unit, tz):
    """Text of a timestamp per table.h (independent of skytile): UTC instant, fixed fraction digits."""
    secs, frac = divmod(v, _UNIT_DIV[unit])
    dt = _EPOCH + datetime.timedelta(seconds=secs)
    s = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if _UNIT_DIGITS[unit]:
        s += f".{frac:0{_UNIT_DIGITS[unit]}d}"
    return s + ("Z" if tz else "")


def fmt_time(v, unit):
    per = _UNIT_DIV[unit]
    secs, frac = divmod(v, per)
    s = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    return s + (f".{frac:0{_UNIT_DIGITS[unit]}d}" if _UNIT_DIGITS[unit] else "")


def fmt_date(days):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()


_TS_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{3}|\d{6}|\d{9}))?(Z?)$")
_TIME_RE = re.compile(r"^(\d\d):(\d\d):(\d\d)(?:\.(\d{3}|\d{6}|\d{9}))?$")


def parse_timestamp_ns(text):
    """Instant in ns and whether a zone marker is present, from the table.h text form."""
    m = _TS_RE.match(text)
    if not m:
        return ("bad timestamp text", text)
    y, mo, d, h, mi, s, frac, z = m.groups()
    dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    secs = (dt - _EPOCH) // datetime.timedelta(seconds=1)
    ns = int((frac or "").ljust(9, "0"))
    return ("ts", secs * 10**9 + ns, z == "Z")


def parse_time_ns(text):
    m = _TIME_RE.match(text)
    if not m:
        return ("bad time text", text)
    h, mi, s, frac = m.groups()
    return ("time", ((int(h) * 60 + int(mi)) * 60 + int(s)) * 10**9 + int((frac or "").ljust(9, "0")))


def _float_canon(v, width):
    if v is None:
        return None
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return ("f32", struct.pack("<f", v)) if width == 4 else ("f64", struct.pack("<d", v))


def _valid(arr):
    return arr.is_valid().to_pylist()


def expected_values(arr, strict_temporal=False):
    """Canonical expected values of a pyarrow Array (see canon_json for the JSON side).

    strict_temporal=True yields the exact table.h text of dates/times/timestamps;
    otherwise instants (ns) so a unit change (e.g. timestamp[s] stored as ms) still compares.
    """
    if isinstance(arr, pa.ChunkedArray):
        out = []
        for c in arr.chunks:
            out += expected_values(c, strict_temporal)
        return out
    t = arr.type
    if pa.types.is_dictionary(t):
        return expected_values(arr.dictionary.take(arr.indices), strict_temporal)
    valid = _valid(arr)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        if pa.types.is_fixed_size_list(t):
            sz = t.list_size
            offs = [(arr.offset + i) * sz for i in range(len(arr) + 1)]
        else:
            offs = arr.offsets.to_pylist()
        vals = expected_values(arr.values, strict_temporal)
        return [vals[offs[i]:offs[i + 1]] if valid[i] else None for i in range(len(arr))]
    if pa.types.is_map(t):
        offs = arr.offsets.to_pylist()
        keys = expected_values(arr.keys, strict_temporal)
        items = expected_values(arr.items, strict_temporal)
        return [[{"key": keys[j], "value": items[j]} for j in range(offs[i], offs[i + 1])] if valid[i] else None
                for i in range(len(arr))]
    if pa.types.is_struct(t):
        cols = {t.field(k).name: expected_values(arr.field(k), strict_temporal) for k in range(t.num_fields)}
        return [{n: c[i] for n, c in cols.items()} if valid[i] else None for i in range(len(arr))]
    if pa.types.is_floating(t):
        w = 4 if pa.types.is_float32(t) else 8
        return [_float_canon(v, w) for v in arr.to_pylist()]
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return arr.to_pylist()
    if pa.types.is_decimal(t):
        return arr.to_pylist()
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return arr.to_pylist()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return [None if v is None else v.hex() for v in arr.to_pylist()]
    if pa.types.is_date32(t) or pa.types.is_date64(t):
        raw = arr.cast(pa.int32() if pa.types.is_date32(t) else pa.int64()).to_pylist()
        if pa.types.is_date64(t):
            raw = [None if v is None else v // 86_400_000 for v in raw]
        return [None if v is None else (fmt_date(v) if strict_temporal else ("date", v)) for v in raw]
    if pa.types.is_timestamp(t):
        raw = arr.cast(pa.int64()).to_pylist()
        if strict_temporal:
            return [None if v is None else fmt_timestamp(v, t.unit, t.tz) for v in raw]
        m = 10**9 // _UNIT_DIV[t.unit]
        return [None if v is None else ("ts", v * m, t.tz is not None) for v in raw]
    if pa.types.is_time(t):
        raw = arr.cast(pa.int32() if pa.types.is_time32(t) else pa.int64()).to_pylist()
        if strict_temporal:
            return [None if v is None else fmt_time(v, t.unit) for v in raw]
        m = 10**9 // _UNIT_DIV[t.unit]
        return [None if v is None else ("time", v * m) for v in raw]
    if pa.types.is_duration(t):
        return arr.cast(pa.int64()).to_pylist()
    if pa.types.is_null(t):
        return [None] * len(arr)
    raise NotImplementedError(f"oracle: type {t}")


def canon_json(v, t, strict_temporal=False):
    """Canonical value of a parsed JSON value v for a column of pyarrow type t."""
    if v is None:
        return None
    if pa.types.is_dictionary(t):
        return canon_json(v, t.value_type, strict_temporal)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        if not isinstance(v, list):
            return ("not a JSON array", v)
        return [canon_json(x, t.value_type, strict_temporal) for x in v]
    if pa.types.is_map(t):
        if not isinstance(v, list):
            return ("not a JSON array", v)
        out = []
        for e in v:
            if not isinstance(e, dict) or list(e) != ["key", "value"]:
                return ("bad map entry", e)
            out.append({"key": canon_json(e["key"], t.key_type, strict_temporal),
                        "value": canon_json(e["value"], t.item_type, strict_temporal)})
        return out
    if pa.types.is_struct(t):
        if not isinstance(v, dict):
            return ("not a JSON object", v)
        names = [t.field(k).name for k in range(t.num_fields)]
        if list(v) != names:
            return ("struct keys", list(v))
        return {t.field(k).name: canon_json(v[t.field(k).name], t.field(k).type, strict_temporal)
                for k in range(t.num_fields)}
    if pa.types.is_floating(t):
        if isinstance(v, RawNum):
            f = float(v)
            if pa.types.is_float32(t):
                return ("f32", struct.pack("<f", f))
            return ("f64", struct.pack("<d", f))
        if v in ("NaN", "Infinity", "-Infinity"):
            return v
        return ("bad float", v)
    if pa.types.is_boolean(t):
        return v if isinstance(v, bool) else ("bad bool", v)
    if pa.types.is_integer(t) or pa.types.is_duration(t):
        if not isinstance(v, RawNum) or not re.fullmatch(r"-?\d+", v):
            return ("bad integer", v)
        return int(v)
    if pa.types.is_decimal(t):
        if not isinstance(v, RawNum):
            return ("bad decimal", v)
        return decimal.Decimal(v)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return v if isinstance(v, str) and not isinstance(v, RawNum) else ("bad string", v)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return v if isinstance(v, str) and re.fullmatch(r"([0-9a-f]{2})*", v) else ("bad hex", v)
    if pa.types.is_date32(t) or pa.types.is_date64(t):
        if strict_temporal:
            return v
        m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", v) if isinstance(v, str) else None
        if not m:
            return ("bad date", v)
        return ("date", (datetime.date(*map(int, m.groups())) - datetime.date(1970, 1, 1)).days)
    if pa.types.is_timestamp(t):
        return v if strict_temporal else (parse_timestamp_ns(v) if isinstance(v, str) else ("bad ts", v))
    if pa.types.is_time(t):
        return v if strict_temporal else (parse_time_ns(v) if isinstance(v, str) else ("bad time", v))
    if pa.types.is_null(t):
        return v
    raise NotImplementedError(f"oracle: type {t}")


def expected_rows(table, strict_temporal=False):
    """List of {column: canonical value} per row from a pyarrow Table."""
    cols = [(n, expected_values(table.column(n), strict_temporal)) for n in table.column_names]
    return [{n: c[i] for n, c in cols} for i in range(table.num_rows)]


def json_rows(text, schema, strict_temporal=False):
    """Canonical rows from skytile's JSONL output, typed by a pyarrow schema."""
    out = []
    for i, row in enumerate(parse_jsonl(text)):
        if list(row) != schema.names:
            raise AssertionError(f"row {i}: keys {list(row)} != columns {schema.names}")
        out.append({f.name: canon_json(row[f.name], f.type, strict_temporal) for f in schema})
    return out


def assert_rows_equal(got, want, what=""):
    assert len(got) == len(want), f"{what}: {len(got)} rows, pyarrow has {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            for k in w:
                if g.get(k) != w[k]:
                    raise AssertionError(f"{what}: row {i} column {k!r}: got {g.get(k)!r}, pyarrow {w[k]!r}")
            raise AssertionError(f"{what}: row {i}: got {g!r}, pyarrow {w!r}")


# ---- RFC 4180 reader that keeps "" (empty string) apart from an empty field (null) ----------

def parse_csv(text):
    """Rows of cells; an unquoted empty field is None, a quoted one is its string."""
    rows, row, i, n = [], [], 0, len(text)
    while i < n:
        if text[i] == '"':
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise AssertionError("CSV: unterminated quoted field")
                c = text[i]
                if c == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(c)
                i += 1
            cell = "".join(buf)
        else:
            j = i
            while j < n and text[j] not in ',\n':
                if text[j] in '"\r':
                    raise AssertionError(f"CSV: bare {text[j]!r} in an unquoted field at {j}")
                j += 1
            cell = text[i:j] if j > i else None
            i = j
        row.append(cell)
        if i >= n or text[i] == "\n":
            rows.append(row)
            row = []
            i += 1
        elif text[i] == ",":
            i += 1
            if i >= n:
                row.append(None)
                rows.append(row)
        else:
            raise AssertionError(f"CSV: junk after a quoted field at {i}: {text[i:i + 10]!r}")
    return rows


# ---- test files ------------------------------------------------------------------------------

F64 = [0.0, -0.0, 0.1, 1e300, -1e300, 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
       1.7976931348623157e308, 1 / 3, -2.5, 123456789.125, float("nan"), float("inf"), float("-inf"),
       3.141592653589793, 1e-7, 1e21, 1e22, 9007199254740993.0]
F32 = [0.0, -0.0, 0.1, 1e38, 1e-45, 1.17549435e-38, 3.4028234663852886e38, 1 / 3, -2.5, 16777217.0,
       float("nan"), float("inf"), float("-inf"), 0.2, 1e-7, 1.5, 100.0, 7.0, 1e10, -1e-30]
STRS = ["plain", "with,comma", 'with "quotes"', "new\nline", "cr\rlf\r\n", "", None, "ünïcødé ★",
        " lead", "trail ", '"', ",", "a,b\n\"c\"", "tab\tx", "x" * 300, "0", "null", "NaN", "-", "\\"]
def _types_table():
    i64 = [0, 1, -1, 2**63 - 1, -2**63, 123456789012345, None, 42, -7, 2**53 + 1] * 2
    u64 = [0, 1, 2**64 - 1, 2**63, 2**63 + 12345, None, 9, 2**32, 2**53 + 1, 77] * 2
    return pa.table({
        "i8": pa.array([-128, 127, 0, None, 5] * 4, pa.int8()),
        "i16": pa.array([-32768, 32767, 0, None, -5] * 4, pa.int16()),
        "i32": pa.array([-2**31, 2**31 - 1, 0, None, 1000] * 4, pa.int32()),
        "i64": pa.array(i64, pa.int64()),
        "u8": pa.array([0, 255, None, 1, 128] * 4, pa.uint8()),
        "u16": pa.array([0, 65535, None, 1, 32768] * 4, pa.uint16()),
        "u32": pa.array([0, 2**32 - 1, None, 1, 2**31] * 4, pa.uint32()),
        "u64": pa.array(u64, pa.uint64()),
        "f32": pa.array(F32, pa.float32()),
        "f64": pa.array(F64, pa.float64()),
        "f64n": pa.array([None if i % 3 == 0 else v for i, v in enumerate(F64)], pa.float64()),
        "flag": pa.array([True, False, None, True] * 5, pa.bool_()),
        "str": pa.array(STRS, pa.string()),
        "bin": pa.array([b"\x00\xff\x10", b"", None, b"abc"] * 5, pa.binary()),
        "day": pa.array([0, 1, -1, 19000, None, 2932896, -719162, 11016, 365, 20000] * 2, pa.date32()),
        "ts_us": pa.array([0, 1, -1, 1_700_000_000_123_456, None] * 4, pa.timestamp("us", tz="UTC")),
        "ts_ms": pa.array([0, 999, -1, 1_700_000_000_123, None] * 4, pa.timestamp("ms")),
        "dec": pa.array([decimal.Decimal(x) for x in ["-123.45", "0.05", "0.00", "99999999.99", "-0.01"]] * 4,
                        pa.decimal128(10, 2)),
    })


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pqcli")
    t = _types_table()
    pq.write_table(t, d / "types.parquet")
    n = 2500
    rng = np.random.default_rng(5)
    multi = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)),
                      "x": pa.array(rng.standard_normal(n)),
                      "name": pa.array([f"n{i % 37}" for i in range(n)])})
    pq.write_table(multi, d / "multi.parquet", row_group_size=300)
    nested = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int32()),
        "tags": pa.array([["a", "b"], [], None, ["c", None]], pa.list_(pa.string())),
        "pos": pa.array([{"ra": 1.5, "dec": -0.5}, None, {"ra": 0.1, "dec": None}, {"ra": 2.0, "dec": 3.0}],
                        pa.struct([("ra", pa.float64()), ("dec", pa.float64())])),
        "kv": pa.array([[("a", 1)], None, [], [("b", 2), ("c", None)]], pa.map_(pa.string(), pa.int64())),
        "f": pa.array([float("nan"), float("inf"), float("-inf"), -0.0], pa.float64()),
    })
    pq.write_table(nested, d / "nested.parquet")
    pq.write_table(pa.concat_tables([nested] * 50), d / "nested_multi.parquet", row_group_size=7)
    return {"dir": d, "types": d / "types.parquet", "multi": d / "multi.parquet", "nested": d / "nested.parquet",
            "nested_multi": d / "nested_multi.parquet"}


class Result:
    """A finished CLI run with stdout/stderr decoded as UTF-8 without newline translation."""

    def __init__(self, p):
        self.returncode = p.returncode
        self.stdout = p.stdout.decode("utf-8", errors="surrogateescape")
        self.stderr = p.stderr.decode("utf-8", errors="replace")


def cat(path, *flags, fmt=None):
    """Run `skytile parquet cat [--format fmt] FLAGS PATH` (bytes I/O: CR and CRLF stay as printed)."""
    args = ["parquet", "cat"]
    if fmt:
        args += ["--format", fmt]
    return Result(run_skytile(*args, *flags, path, input=b""))


# ---- CSV -------------------------------------------------------------------------------------

def _check_csv_cell(cell, v, t, where):
    """Assert one CSV cell against pyarrow value v of type t."""
    if v is None:
        assert cell is None, f"{where}: null must be an empty unquoted field, got {cell!r}"
        return
    assert cell is not None, f"{where}: got an empty field (null) for {v!r}"
    if pa.types.is_floating(t):
        if math.isnan(v):
            assert cell == "nan", f"{where}: {cell!r}"
        elif math.isinf(v):
            assert cell == ("inf" if v > 0 else "-inf"), f"{where}: {cell!r}"
        elif pa.types.is_float32(t):
            assert struct.pack("<f", float(cell)) == struct.pack("<f", v), f"{where}: {cell!r} != float32 {v!r}"
        else:
            assert struct.pack("<d", float(cell)) == struct.pack("<d", v), f"{where}: {cell!r} != {v!r}"
    elif pa.types.is_boolean(t):
        assert cell == ("true" if v else "false"), f"{where}: {cell!r}"
    elif pa.types.is_integer(t):
        assert cell == str(v), f"{where}: {cell!r} != {v}"
    elif pa.types.is_string(t):
        assert cell == v, f"{where}: {cell!r} != {v!r}"
    elif pa.types.is_binary(t):
        assert cell == v.hex(), f"{where}: {cell!r} != {v.hex()}"
    elif pa.types.is_decimal(t):
        assert cell == format(v, "f") and len(cell.split(".")[1]) == t.scale, f"{where}: {cell!r} != {v}"
    else:
        assert cell == v, f"{where}: {cell!r} != {v!r}"


def _strict_cells(table):
    """pyarrow values, with temporal columns turned into their table.h text."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_temporal(col.type):
            cols[name] = expected_values(col, strict_temporal=True)
        else:
            cols[name] = col.to_pylist()
    return cols


def test_csv_all_types(files):
    p = cat(files["types"], fmt="csv")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["types"])
    rows = parse_csv(p.stdout)
    assert rows[0] == t.column_names
    assert len(rows) == 1 + t.num_rows
    cells = _strict_cells(t)
    for j, f in enumerate(t.schema):
        for i in range(t.num_rows):
            assert len(rows[i + 1]) == t.num_columns, f"row {i}: {len(rows[i + 1])} cells"
            v = cells[f.name][i]
            ty = pa.string() if pa.types.is_temporal(f.type) else f.type
            _check_csv_cell(rows[i + 1][j], v, ty, f"row {i} column {f.name}")


def test_csv_is_default_format(files):
    p = cat(files["types"])
    q = cat(files["types"], fmt="csv")
    assert p.returncode == 0 and q.returncode == 0, p.stderr + q.stderr
    assert p.stdout == q.stdout


def test_csv_strings_rfc4180(files):
    p = cat(files["types"], "--columns", "str", fmt="csv")
    assert p.returncode == 0, p.stderr
    rows = parse_csv(p.stdout)
    assert rows == [["str"]] + [[s] for s in STRS]
    # the empty string is quoted, the null is not
    lines = p.stdout.split("\n")
    assert '""' in lines


def test_csv_columns_projection_order(files):
    p = cat(files["types"], "--columns", "f64,i8,str", fmt="csv")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["types"], columns=["f64", "i8", "str"])
    rows = parse_csv(p.stdout)
    assert rows[0] == ["f64", "i8", "str"]
    for i in range(t.num_rows):
        for j, f in enumerate(t.schema):
            _check_csv_cell(rows[i + 1][j], t.column(j)[i].as_py(), f.type, f"row {i} column {f.name}")


@pytest.mark.parametrize("limit", [0, 1, 7, 299, 300, 301, 1000, 2500, 9999])
def test_csv_limit_across_row_groups(files, limit):
    p = cat(files["multi"], "--limit", str(limit), fmt="csv")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["multi"])
    rows = parse_csv(p.stdout)
    k = min(limit, t.num_rows)
    assert rows and rows[0] == t.column_names, f"--limit {limit}: no CSV header line: {p.stdout[:80]!r}"
    assert len(rows) == 1 + k
    ids, xs, names = (t.column(c).to_pylist() for c in ("id", "x", "name"))
    for i in range(k):
        assert rows[i + 1][0] == str(ids[i])
        assert struct.pack("<d", float(rows[i + 1][1])) == struct.pack("<d", xs[i])
        assert rows[i + 1][2] == names[i]


def test_csv_nested_cells_are_json(files):
    p = cat(files["nested"], fmt="csv")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["nested"])
    rows = parse_csv(p.stdout)
    assert rows[0] == t.column_names and len(rows) == 1 + t.num_rows
    for name in ("tags", "pos", "kv"):
        j = t.column_names.index(name)
        col = t.column(name)
        want = expected_values(col)
        for i in range(t.num_rows):
            cell = rows[i + 1][j]
            got = None if cell is None else canon_json(
                json.loads(cell, parse_float=RawNum, parse_int=RawNum), col.type)
            assert got == want[i], f"row {i} column {name}: {cell!r}"


# ---- JSONL -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["types", "multi", "nested"])
def test_jsonl_matches_pyarrow(files, name):
    p = cat(files[name], fmt="jsonl")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files[name])
    assert_rows_equal(json_rows(p.stdout, t.schema), expected_rows(t), name)


def test_jsonl_temporal_text(files):
    p = cat(files["types"], "--columns", "day,ts_us,ts_ms", fmt="jsonl")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["types"], columns=["day", "ts_us", "ts_ms"])
    assert_rows_equal(json_rows(p.stdout, t.schema, strict_temporal=True),
                      expected_rows(t, strict_temporal=True), "temporal")


def test_jsonl_special_floats_and_big_ints(files):
    p = cat(files["types"], "--columns", "f64,u64,i64", fmt="jsonl")
    assert p.returncode == 0, p.stderr
    rows = parse_jsonl(p.stdout)
    got = [r["f64"] for r in rows]
    assert got[12:15] == ["NaN", "Infinity", "-Infinity"]
    assert isinstance(got[1], RawNum) and got[1].startswith("-"), f"-0.0 printed as {got[1]!r}"
    assert [r["u64"] for r in rows[:5]] == ["0", "1", str(2**64 - 1), str(2**63), str(2**63 + 12345)]
    assert rows[3]["i64"] == str(2**63 - 1) and rows[4]["i64"] == str(-2**63)


def test_jsonl_columns_and_limit(files):
    p = cat(files["multi"], "--columns", "name,id", "--limit", "305", fmt="jsonl")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["multi"], columns=["name", "id"]).slice(0, 305)
    assert_rows_equal(json_rows(p.stdout, t.schema), expected_rows(t), "multi")


def test_csv_header_quoting(tmp_path):
    names = ["plain", "with,comma", 'q"uote', "new\nline", ""]
    t = pa.table({n: pa.array([i], pa.int32()) for i, n in enumerate(names)})
    pq.write_table(t, tmp_path / "names.parquet")
    p = cat(tmp_path / "names.parquet", fmt="csv")
    assert p.returncode == 0, p.stderr
    assert parse_csv(p.stdout) == [names, ["0", "1", "2", "3", "4"]]


def test_csv_empty_file_has_header(tmp_path):
    t = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    pq.write_table(t, tmp_path / "empty.parquet")
    p = cat(tmp_path / "empty.parquet", fmt="csv")
    assert p.returncode == 0, p.stderr
    assert parse_csv(p.stdout) == [["a", "b"]]
    q = cat(tmp_path / "empty.parquet", fmt="jsonl")
    assert q.returncode == 0 and q.stdout == "", (q.returncode, q.stdout, q.stderr)


def test_jsonl_invalid_utf8_and_controls(tmp_path):
    raw = [b"ok\xffend", b"\x01\x1f\x7f", "é\u2028☃".encode(), b"a\"b\\c/"]
    offs = np.cumsum([0] + [len(b) for b in raw]).astype(np.int32)
    arr = pa.Array.from_buffers(pa.string(), len(raw), [None, pa.py_buffer(offs.tobytes()),
                                                        pa.py_buffer(b"".join(raw))])
    pq.write_table(pa.table({"s": arr}), tmp_path / "utf8.parquet")
    p = cat(tmp_path / "utf8.parquet", fmt="jsonl")
    assert p.returncode == 0, p.stderr
    got = [r["s"] for r in parse_jsonl(p.stdout)]
    assert got == ["ok\ufffdend", "\x01\x1f\x7f", "é\u2028☃", 'a"b\\c/']


def test_dictionary_column_limit_and_projection(tmp_path):
    n = 1000
    idx = pa.array(np.arange(n, dtype=np.int32) % 3)
    t = pa.table({"cat": pa.DictionaryArray.from_arrays(idx, pa.array(["x", "y,z", ""])),
                  "v": pa.array(np.arange(n, dtype=np.float64) / 7)})
    pq.write_table(t, tmp_path / "dict.parquet", row_group_size=128)
    p = cat(tmp_path / "dict.parquet", "--columns", "v,cat", "--limit", "130", fmt="csv")
    assert p.returncode == 0, p.stderr
    rows = parse_csv(p.stdout)
    assert rows[0] == ["v", "cat"] and len(rows) == 131
    for i, r in enumerate(rows[1:]):
        assert struct.pack("<d", float(r[0])) == struct.pack("<d", i / 7)
        assert r[1] == ["x", "y,z", ""][i % 3]


@pytest.mark.parametrize("limit", [1, 7, 10, 14, 199, 200, 500])
def test_jsonl_nested_limit_projection(files, limit):
    cols = ["kv", "id", "tags", "pos"]
    p = cat(files["nested_multi"], "--columns", ",".join(cols), "--limit", str(limit), fmt="jsonl")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(files["nested_multi"], columns=cols).slice(0, limit)
    assert_rows_equal(json_rows(p.stdout, t.schema), expected_rows(t), f"limit {limit}")


def test_verify_crc(tmp_path):
    vals = np.full(1000, 0x11223344, dtype=np.int32)
    path = tmp_path / "crc.parquet"
    pq.write_table(pa.table({"v": vals}), path, compression="NONE", use_dictionary=False,
                   write_page_checksum=True)
    ok = cat(path, "--verify-crc", fmt="csv")
    assert ok.returncode == 0, ok.stderr
    assert parse_csv(ok.stdout)[1:] == [[str(0x11223344)]] * 1000
    data = bytearray(path.read_bytes())
    pos = data.find(vals.tobytes()[:400])
    assert pos > 0
    data[pos + 2001] ^= 0x40  # inside value 500
    path.write_bytes(bytes(data))
    bad = cat(path, "--verify-crc", fmt="csv")
    assert bad.returncode == 1, (bad.returncode, bad.stdout[-200:], bad.stderr)
    assert "crc.parquet" in bad.stderr and ("crc" in bad.stderr.lower() or "checksum" in bad.stderr.lower())
    plain = cat(path, fmt="csv")  # without verification the flipped value is simply read
    assert plain.returncode == 0, plain.stderr
    assert sum(r != [str(0x11223344)] for r in parse_csv(plain.stdout)[1:]) == 1


# ---- errors and help -------------------------------------------------------------------------

def test_missing_file(tmp_path):
    path = tmp_path / "no_such_file.parquet"
    p = cat(path)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "no_such_file.parquet" in p.stderr
    assert p.stdout == ""


def test_not_parquet(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"this is not a parquet file at all")
    p = cat(path)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "junk.parquet" in p.stderr


def test_unknown_column(files):
    p = cat(files["types"], "--columns", "i8,no_such_col")
    assert p.returncode in (1, 2), (p.returncode, p.stderr)
    assert "no_such_col" in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("flags", [["--bogus"], ["--format", "xml"], ["--limit", "abc"], ["--limit", "-3"],
                                   ["--limit"], ["--columns"]])
def test_bad_flags(files, flags):
    p = run_skytile("parquet", "cat", *flags, files["types"]) if flags[-1] not in ("--limit", "--columns") \
        else run_skytile("parquet", "cat", files["types"], *flags)
    assert p.returncode == 2, (flags, p.returncode, p.stderr)
    assert p.stderr.strip(), flags


def test_no_file_is_usage_error():
    p = run_skytile("parquet", "cat")
    assert p.returncode == 2, (p.returncode, p.stderr)


@pytest.mark.parametrize("args", [["parquet", "--help"], ["parquet", "cat", "--help"],
                                  ["parquet", "schema", "--help"], ["parquet", "meta", "--help"]])
def test_help(args):
    p = run_skytile(*args)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    assert "usage" in (p.stdout + p.stderr).lower()


def test_unknown_subcommand():
    p = run_skytile("parquet", "frobnicate")
    assert p.returncode == 2


# ---- schema / meta smoke ---------------------------------------------------------------------

@pytest.mark.parametrize("sub", ["schema", "meta"])
@pytest.mark.parametrize("name", ["types", "nested"])
def test_schema_meta_smoke(files, sub, name):
    p = run_skytile("parquet", sub, files[name])
    assert p.returncode == 0, (p.returncode, p.stderr)
    t = pq.read_schema(files[name])
    for col in t.names:
        assert col in p.stdout, f"{sub}: column {col!r} not mentioned"


@pytest.mark.parametrize("sub", ["schema", "meta"])
def test_schema_meta_missing_file(tmp_path, sub):
    p = run_skytile("parquet", sub, tmp_path / "absent.parquet")
    assert p.returncode == 1
    assert "absent.parquet" in p.stderr
