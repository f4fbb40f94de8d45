"""`skytile parquet meta --json` and `skytile parquet schema --json` against pyarrow.

pyarrow is the oracle: for every parquet-testing fixture it can open, and for
files pyarrow writes here (all logical types, nested lists/maps/structs,
statistics, sorting columns, several row groups and codecs), the metadata we
print must match pyarrow.parquet.ParquetFile(f).metadata and the Arrow schema
must match pyarrow's mapping of the Parquet schema
(ParquetFile(f).schema.to_arrow_schema(), i.e. without the stored
ARROW:schema, which skytile does not apply).

Statistics: where we report min/max they must equal pyarrow's.  We are
deliberately stricter in a few documented cases (legacy min/max of
BYTE_ARRAY/FLBA/unsigned columns, PARQUET-251; NaN bounds; INT96), so pyarrow
may report bounds we do not -- but never the other way round.
"""
import datetime
import decimal
import json
import math
import pathlib
import struct
import subprocess

import pytest

from conftest import SHARED, run_skytile

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DATA = SHARED / "fixtures" / "parquet-testing" / "data"


def _reader_available():
    """The CLI needs the reader's st_pq_open; skip everything if it is missing."""
    probe = DATA / "alltypes_plain.parquet"
    if not probe.exists():
        return False, "parquet-testing fixtures not present"
    try:
        p = run_skytile("parquet", "meta", "--json", probe, timeout=60)
    except OSError as e:
        return False, f"skytile binary unavailable: {e}"
    if p.returncode != 0:
        return False, f"reader (st_pq_open) unavailable: {p.stderr.strip()[:200]}"
    return True, ""


_OK, _WHY = _reader_available()
pytestmark = pytest.mark.skipif(not _OK, reason=_WHY)


def _fixtures():
    if not DATA.is_dir():
        return []
    return sorted(p.name for p in DATA.glob("*.parquet"))


def _pyarrow_meta(path):
    try:
        return pq.ParquetFile(path).metadata
    except Exception:  # pyarrow cannot open it (encrypted, corrupt on purpose, ...)
        return None


def _meta_json(path):
    p = run_skytile("parquet", "meta", "--json", path)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _schema_json(path):
    p = run_skytile("parquet", "schema", "--json", path)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# ---- metadata ------------------------------------------------------------------

CODEC = {"LZ4_RAW": {"LZ4"}, "LZ4": {"LZ4", "UNKNOWN", "LZ4_HADOOP"}}


def _py_value(st, raw, col, md_col):
    """pyarrow's raw bound converted to what our JSON holds."""
    ptype = md_col.physical_type
    if ptype == "FIXED_LEN_BYTE_ARRAY" and col["logical_type"] == "FLOAT16":
        return struct.unpack("<e", raw)[0]
    if ptype in ("INT32", "INT64") and (col["logical_type"].startswith("INTEGER(")
                                          and col["logical_type"].endswith("unsigned)")
                                          or col["converted_type"].startswith("UINT_")):
        bits = 32 if ptype == "INT32" else 64
        return raw % (1 << bits)
    return raw


def _our_value(stats, key):
    if key + "_hex" in stats:
        return bytes.fromhex(stats[key + "_hex"])
    v = stats.get(key)
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return v


def _check_stats(ours, md_col, col, where, path, rg):
    pst = md_col.statistics if md_col.is_stats_set else None
    if ours is None:
        assert pst is None, f"{where}: pyarrow has statistics, we have none"
        return
    if pst is None:
        # pyarrow ignores statistics it distrusts (old writers); we must not claim bounds then
        assert not ours["has_min_max"] or col["physical_type"] not in ("BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"), where
        return
    if pst.has_null_count:
        assert ours.get("null_count") == pst.null_count, where
    if pst.has_distinct_count:
        assert ours.get("distinct_count") == pst.distinct_count, where
    if ours["has_min_max"] and not pst.has_min_max and col["column_order"] == "IEEE_754_TOTAL_ORDER":
        # pyarrow does not use this column order; check our bounds against the data instead
        data = pq.ParquetFile(path).read_row_group(rg, columns=[col["path"]]).column(0).to_pylist()
        vals = [v for v in data if v is not None and not math.isnan(v)]
        assert ours["min"] == min(vals) and ours["max"] == max(vals), where
        return
    if ours["has_min_max"]:
        assert pst.has_min_max, f"{where}: we report bounds pyarrow does not trust"
        for key, raw in (("min", pst.min_raw), ("max", pst.max_raw)):
            want = _py_value(pst, raw, col, md_col)
            got = _our_value(ours, key)
            if isinstance(want, float):
                assert not math.isnan(want), where  # we drop NaN bounds
            assert got == want, f"{where} {key}: {got!r} != {want!r}"
    elif pst.has_min_max:
        # we are stricter only for legacy bytewise/unsigned bounds, NaN and INT96
        lt, ct = col["logical_type"], col["converted_type"]
        stricter = (col["physical_type"] in ("BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY", "INT96")
                    or "unsigned" in lt or ct.startswith("UINT_"))
        if col["physical_type"] in ("FLOAT", "DOUBLE") or lt == "FLOAT16":
            vals = [_py_value(pst, pst.min_raw, col, md_col), _py_value(pst, pst.max_raw, col, md_col)]
            stricter = stricter or any(isinstance(v, float) and math.isnan(v) for v in vals)
        assert stricter, f"{where}: pyarrow has bounds {pst.min_raw!r}..{pst.max_raw!r}, we have none"


def _compare_meta(path):
    md = _pyarrow_meta(path)
    if md is None:
        pytest.skip("pyarrow cannot open this file")
    ours = _meta_json(path)
    assert ours["num_rows"] == md.num_rows
    assert ours["num_row_groups"] == md.num_row_groups
    assert ours["num_columns"] == md.num_columns
    assert ours["format_version"] in (1, 2)
    assert (ours["created_by"] or "") == (md.created_by or "")
    kv = {e["key"].encode(): e["value"].encode("latin-1" if "\\u" in e["value"] else "utf-8")
          for e in ours["key_value_metadata"]}
    assert set(kv) == set(md.metadata or {})
    for k, v in (md.metadata or {}).items():
        if all(b < 0x80 for b in v) or v.decode("utf-8", "replace").encode() == v:
            assert kv[k] == v, k
    schema = md.schema
    for i, col in enumerate(ours["columns"]):
        pcol = schema.column(i)
        assert col["path"] == pcol.path
        assert col["physical_type"] == pcol.physical_type
        assert col["max_definition_level"] == pcol.max_definition_level
        assert col["max_repetition_level"] == pcol.max_repetition_level
        if pcol.physical_type == "FIXED_LEN_BYTE_ARRAY":
            assert col["type_length"] == pcol.length
        if col["converted_type"] and not col["logical_type"]:  # pyarrow derives it from a LogicalType
            assert col["converted_type"].split("(")[0] == pcol.converted_type, col["path"]
            if pcol.converted_type == "DECIMAL":
                assert col["converted_type"] == f"DECIMAL({pcol.precision},{pcol.scale})"
    for g in range(md.num_row_groups):
        prg = md.row_group(g)
        org = ours["row_groups"][g]
        assert org["num_rows"] == prg.num_rows
        assert org["total_byte_size"] == prg.total_byte_size
        sc = prg.sorting_columns or ()
        assert [(s["column"], s["descending"], s["nulls_first"]) for s in org["sorting_columns"]] == \
            [(s.column_index, s.descending, s.nulls_first) for s in sc]
        for c in range(prg.num_columns):
            pc = prg.column(c)
            oc = org["columns"][c]
            col = ours["columns"][c]
            where = f"{path.name} rg{g} {oc['path']}"
            assert oc["path"] == pc.path_in_schema, where
            assert oc["physical_type"] == pc.physical_type, where
            assert pc.compression in CODEC.get(oc["codec"], {oc["codec"]}), where
            assert set(oc["encodings"]) == set(pc.encodings), where
            assert oc["total_compressed_size"] == pc.total_compressed_size, where
            assert oc["total_uncompressed_size"] == pc.total_uncompressed_size, where
            assert oc["num_values"] == pc.num_values, where
            assert oc["data_page_offset"] == pc.data_page_offset, where
            assert oc["file_offset"] == pc.file_offset, where
            assert (oc["file_path"] or "") == (pc.file_path or ""), where
            if pc.has_dictionary_page:
                assert oc.get("dictionary_page_offset") == pc.dictionary_page_offset, where
            if pc.bloom_filter_offset is not None:
                assert oc.get("bloom_filter_offset") == pc.bloom_filter_offset, where
            _check_stats(oc["statistics"], pc, col, where, path, g)


@pytest.mark.parametrize("name", _fixtures())
def test_meta_fixture(name):
    _compare_meta(DATA / name)


# ---- schema --------------------------------------------------------------------

UNIT = {"s": "s", "ms": "ms", "us": "us", "ns": "ns"}


def _arrow_dict(field):
    t = field.type
    d = {"name": field.name, "nullable": field.nullable}
    if pa.types.is_timestamp(t):
        d.update(type="timestamp", unit=t.unit, tz=t.tz)
    elif pa.types.is_time32(t) or pa.types.is_time64(t):
        d.update(type="time32" if pa.types.is_time32(t) else "time64", unit=t.unit)
    elif pa.types.is_decimal(t):
        d.update(type="decimal128" if t.bit_width == 128 else "decimal256", precision=t.precision, scale=t.scale)
    elif pa.types.is_fixed_size_binary(t):
        d.update(type="fixed_size_binary", byte_width=t.byte_width)
    elif pa.types.is_map(t):
        entries = pa.field(field.name, pa.struct([t.key_field, t.item_field]), nullable=False)
        d.update(type="map", children=[_arrow_dict(entries)])
    elif pa.types.is_list(t):
        d.update(type="list", children=[_arrow_dict(t.value_field)])
    elif pa.types.is_struct(t):
        d.update(type="struct", children=[_arrow_dict(t.field(i)) for i in range(t.num_fields)])
    else:
        names = {pa.float16(): "halffloat", pa.float32(): "float", pa.float64(): "double", pa.bool_(): "bool",
                 pa.string(): "string", pa.binary(): "binary", pa.date32(): "date32", pa.null(): "null"}
        d["type"] = names.get(t, str(t))
    return d


def _our_dict(f):
    d = {k: v for k, v in f.items() if k != "children"}
    if "children" in f:
        d["children"] = [_our_dict(c) for c in f["children"]]
    return d


def _compare_schema(path):
    try:
        want_schema = pq.ParquetFile(path).schema.to_arrow_schema()
    except Exception:
        pytest.skip("pyarrow cannot map this schema")
    want = [_arrow_dict(want_schema.field(i)) for i in range(len(want_schema))]
    got = [_our_dict(f) for f in _schema_json(path)["arrow"]]
    assert got == want


@pytest.mark.parametrize("name", _fixtures())
def test_schema_fixture(name):
    path = DATA / name
    if _pyarrow_meta(path) is None:
        pytest.skip("pyarrow cannot open this file")
    _compare_schema(path)


# ---- files written by pyarrow ------------------------------------------------------

def _all_types_table(n=50):
    rows = range(n)
    cols = {
        "i8": pa.array([(i % 200) - 100 if i % 7 else None for i in rows], pa.int8()),
        "i16": pa.array([i * 300 - 5000 for i in rows], pa.int16()),
        "i32": pa.array([i * 70000 - 10 for i in rows], pa.int32()),
        "i64": pa.array([i * 2**40 - 3 for i in rows], pa.int64()),
        "u8": pa.array([i * 5 % 256 for i in rows], pa.uint8()),
        "u16": pa.array([65535 - i for i in rows], pa.uint16()),
        "u32": pa.array([2**32 - 1 - i for i in rows], pa.uint32()),
        "u64": pa.array([2**64 - 1 - i for i in rows], pa.uint64()),
        "f16": pa.array([struct.unpack("<e", struct.pack("<e", i / 4 - 3))[0] for i in rows], pa.float16()),
        "f32": pa.array([i * 1.5 - 20 if i % 5 else None for i in rows], pa.float32()),
        "f64": pa.array([math.sin(i) for i in rows], pa.float64()),
        "b": pa.array([i % 3 == 0 for i in rows], pa.bool_()),
        "s": pa.array([f"str{i:03d}é" for i in rows], pa.string()),
        "bin": pa.array([bytes([i, 255 - i, 0]) for i in rows], pa.binary()),
        "fsb": pa.array([bytes([i] * 5) for i in rows], pa.binary(5)),
        "d32": pa.array([datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in rows], pa.date32()),
        "t32": pa.array([i * 1000 for i in rows], pa.time32("ms")),
        "t64us": pa.array([i * 10**6 for i in rows], pa.time64("us")),
        "t64ns": pa.array([i * 10**9 for i in rows], pa.time64("ns")),
        "ts_ms": pa.array([i * 86400000 for i in rows], pa.timestamp("ms")),
        "ts_us_utc": pa.array([i * 10**6 for i in rows], pa.timestamp("us", tz="UTC")),
        "ts_ns_tz": pa.array([i * 10**9 for i in rows], pa.timestamp("ns", tz="Europe/Paris")),
        "dec9": pa.array([decimal.Decimal(i * 37 - 900) / 100 for i in rows], pa.decimal128(9, 2)),
        "dec18": pa.array([decimal.Decimal(i * 10**12 + 7) / 10**4 for i in rows], pa.decimal128(18, 4)),
        "dec38": pa.array([decimal.Decimal(-(10**30) + i) / 10**6 for i in rows], pa.decimal128(38, 6)),
        "dec50": pa.array([decimal.Decimal(10**45 + i) for i in rows], pa.decimal256(50, 0)),
        "nul": pa.nulls(n, pa.null()),
    }
    return pa.table(cols)


def _nested_table(n=40):
    rows = range(n)
    lst = pa.array([[j for j in range(i % 4)] if i % 5 else None for i in rows], pa.list_(pa.int32()))
    lstn = pa.array([[None if j == 1 else f"x{j}" for j in range(i % 3)] for i in rows],
                    pa.list_(pa.field("item", pa.string(), nullable=True)))
    lol = pa.array([[[i, i + 1], [], None] if i % 2 else [] for i in rows], pa.list_(pa.list_(pa.int64())))
    st = pa.array([{"a": i, "b": {"c": f"v{i}", "d": [1.5 * i]}} if i % 6 else None for i in rows],
                  pa.struct([("a", pa.int32()), ("b", pa.struct([("c", pa.string()),
                                                                 ("d", pa.list_(pa.float64()))]))]))
    mp = pa.array([[(f"k{j}", j if j % 2 else None) for j in range(i % 3)] if i % 4 else None for i in rows],
                  pa.map_(pa.string(), pa.int32()))
    mpl = pa.array([[(j, [j, j]) for j in range(i % 2)] for i in rows], pa.map_(pa.int16(), pa.list_(pa.int8())))
    los = pa.array([[{"x": i, "y": None}] for i in rows], pa.list_(pa.struct([("x", pa.int32()), ("y", pa.string())])))
    req = pa.array(list(rows), pa.int32())
    schema = pa.schema([pa.field("req", pa.int32(), nullable=False), ("lst", lst.type), ("lstn", lstn.type),
                        ("lol", lol.type), ("st", st.type), ("mp", mp.type), ("mpl", mpl.type), ("los", los.type)])
    return pa.Table.from_arrays([req, lst, lstn, lol, st, mp, mpl, los], schema=schema)


GENERATED = {
    "alltypes_snappy": dict(table=_all_types_table, kw=dict(compression="snappy", row_group_size=20)),
    "alltypes_zstd_v2": dict(table=_all_types_table,
                             kw=dict(compression="zstd", data_page_version="2.0", use_dictionary=False)),
    "alltypes_plain_v1": dict(table=_all_types_table,
                              kw=dict(compression="none", version="1.0", write_statistics=True)),
    "alltypes_nostats": dict(table=_all_types_table, kw=dict(write_statistics=False, compression="gzip")),
    "nested": dict(table=_nested_table, kw=dict(compression="lz4", row_group_size=15)),
    "nested_brotli_bss": dict(table=_nested_table,
                              kw=dict(compression="brotli", use_dictionary=False,
                                      use_byte_stream_split=["lol.list.element.list.element"])),
    "sorted": dict(table=lambda: pa.table({"a": pa.array(range(30), pa.int64()),
                                           "b": pa.array([f"{i:02d}" for i in range(30)])}),
                   kw=dict(sorting_columns=[pq.SortingColumn(0), pq.SortingColumn(1, descending=True,
                                                                                   nulls_first=True)],
                           row_group_size=10, store_schema=True)),
    "floats_special": dict(table=lambda: pa.table({
        "f": pa.array([0.0, -0.0, 1.0, float("nan")], pa.float64()),
        "g": pa.array([-0.0, 0.0, None, None], pa.float32()),
        "h": pa.array([float("inf"), -float("inf"), 2.0, None], pa.float64()),
        "nan_only": pa.array([float("nan"), None, float("nan"), None], pa.float64())}), kw={}),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("pqmeta")
    out = {}
    for name, spec in GENERATED.items():
        t = spec["table"]()
        t = t.replace_schema_metadata({"origin": "skytile-test", "long": "x" * 500})
        p = d / f"{name}.parquet"
        # without the stored ARROW:schema (which also drops the key/value
        # metadata), pyarrow reports the plain mapping of the Parquet schema
        kw = dict(store_schema=False)
        kw.update(spec["kw"])
        pq.write_table(t, p, **kw)
        out[name] = p
    return out


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_meta_generated(generated, name):
    _compare_meta(generated[name])


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schema_generated(generated, name):
    _compare_schema(generated[name])


def test_generated_stats_values(generated):
    """Typed bounds of chosen columns, checked against values computed here."""
    m = _meta_json(generated["alltypes_snappy"])
    rg0 = {c["path"]: c["statistics"] for c in m["row_groups"][0]["columns"]}
    assert rg0["i32"]["min"] == -10 and rg0["i32"]["max"] == 19 * 70000 - 10
    assert rg0["u32"]["min"] == 2**32 - 20 and rg0["u32"]["max"] == 2**32 - 1
    assert rg0["u64"]["min"] == 2**64 - 20 and rg0["u64"]["max"] == 2**64 - 1
    assert rg0["s"]["min"] == "str000é" and rg0["s"]["max"] == "str019é"
    assert rg0["dec9"]["min_str"] == "-9.00" and rg0["dec9"]["max_str"] == str(decimal.Decimal(19 * 37 - 900) / 100)
    assert rg0["f16"]["min"] == -3.0 and rg0["f16"]["max"] == 19 / 4 - 3
    assert rg0["i8"]["null_count"] == 3  # rows 0, 7, 14
    assert rg0["b"]["min"] is False and rg0["b"]["max"] is True
    f = {c["path"]: c["statistics"] for c in _meta_json(generated["floats_special"])["row_groups"][0]["columns"]}
    assert f["f"]["min_str"] == "-0" and f["f"]["max"] == 1.0   # zero widened to -0.0
    assert f["g"]["min_str"] == "-0" and f["g"]["max_str"] == "0"
    assert f["h"]["min"] == "-inf" and f["h"]["max"] == "inf"
    assert not f["nan_only"]["has_min_max"]


def test_sorting_and_kv(generated):
    m = _meta_json(generated["sorted"])
    assert m["row_groups"][1]["sorting_columns"] == [
        {"column": 0, "descending": False, "nulls_first": False},
        {"column": 1, "descending": True, "nulls_first": True}]
    kv = {e["key"]: e["value"] for e in m["key_value_metadata"]}
    assert kv["origin"] == "skytile-test" and kv["long"] == "x" * 500


# ---- text output and errors --------------------------------------------------------

def test_text_output_all_fixtures():
    """The human-readable forms run on every fixture pyarrow can open."""
    for name in _fixtures():
        path = DATA / name
        if _pyarrow_meta(path) is None:
            continue
        for cmd in ("schema", "meta"):
            p = run_skytile("parquet", cmd, path)
            assert p.returncode == 0, (name, cmd, p.stderr)
            assert p.stdout


def test_text_schema_content():
    p = run_skytile("parquet", "schema", DATA / "nested_maps.snappy.parquet")
    assert p.returncode == 0, p.stderr
    assert "optional group a (MAP)" in p.stdout
    assert "required byte_array key (UTF8)" in p.stdout
    assert "a: map<string, map<int32, bool not null>>" in p.stdout
    p = run_skytile("parquet", "meta", DATA / "alltypes_plain.parquet")
    assert "rows:        8" in p.stdout and "impala version 1.3.0" in p.stdout


@pytest.mark.parametrize("cmd", ["schema", "meta"])
def test_errors(cmd, tmp_path):
    p = run_skytile("parquet", cmd, tmp_path / "missing.parquet")
    assert p.returncode == 1
    assert p.stderr.startswith(f"skytile: {tmp_path / 'missing.parquet'}:")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not a parquet file at all")
    p = run_skytile("parquet", cmd, junk)
    assert p.returncode == 1 and p.stderr.startswith(f"skytile: {junk}:")
    # a truncated footer
    good = (DATA / "alltypes_plain.parquet").read_bytes()
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good[:4] + good[-200:-8] + (10**6).to_bytes(4, "little") + b"PAR1")
    p = run_skytile("parquet", cmd, bad)
    assert p.returncode == 1 and p.stderr.startswith(f"skytile: {bad}:")
    p = run_skytile("parquet", cmd, "--help")
    assert p.returncode == 0 and "usage: skytile parquet " + cmd in p.stdout
    p = run_skytile("parquet", cmd)
    assert p.returncode == 2
    p = run_skytile("parquet", cmd, "--bogus", junk)
    assert p.returncode == 2


# ---- our encoder, read by pyarrow ------------------------------------------------------

def _same_table(a, b):
    """Table equality where NaN equals NaN (columns that differ are compared as Python lists)."""
    if a.schema != b.schema:
        return False
    for x, y in zip(a.columns, b.columns):
        if not x.equals(y) and repr(x.to_pylist()) != repr(y.to_pylist()):
            return False
    return True


def test_reencoded_footers_read_by_pyarrow(tmp_path):
    """Every fixture with its footer replaced by st_pq_meta_encode(st_pq_meta_decode(footer))
    (written by the C unit test meta_reencode_files): pyarrow must read the same metadata
    and the same data from it."""
    from conftest import BUILD, ROOT
    unit = BUILD / "unit_tests"
    if not unit.exists():
        pytest.skip("unit_tests not built")
    env = dict(__import__("os").environ, SKYTILE_META_REENCODE_DIR=str(tmp_path), SKYTILE_SHARED=str(SHARED))
    p = subprocess.run([str(unit), "meta_reencode_files"], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    files = sorted(tmp_path.glob("*.parquet"))
    assert len(files) >= 40
    compared = 0
    for f in files:
        try:
            orig = pq.ParquetFile(DATA / f.name)
        except Exception:
            continue
        ours = pq.ParquetFile(f)
        a, b = orig.metadata.to_dict(), ours.metadata.to_dict()
        a.pop("serialized_size"), b.pop("serialized_size")  # unknown fields are not re-encoded
        assert repr(a) == repr(b), f.name
        assert orig.schema_arrow == ours.schema_arrow, f.name
        try:
            want = orig.read()
        except Exception:  # data pyarrow cannot decode (corrupt on purpose, LZO, ...)
            continue
        assert _same_table(want, ours.read()), f.name
        compared += 1
    assert compared >= 30


# ---- HATS fixtures (_metadata with file_path, _common_metadata, partitions) ----------------

def _hats_files():
    out = []
    for sub in ("hats", "hats-import"):
        d = SHARED / "fixtures" / sub
        if d.is_dir():
            out += sorted(str(p.relative_to(SHARED / "fixtures")) for p in d.rglob("*") if p.is_file()
                          and (p.suffix == ".parquet" or p.name in ("_metadata", "_common_metadata")))
    return out


@pytest.mark.parametrize("rel", _hats_files())
def test_hats_fixture(rel):
    path = SHARED / "fixtures" / rel
    _compare_meta(path)
    _compare_schema(path)


def test_truncated_binary_bounds():
    """Truncated (inexact) string bounds: they still bound the data, read with pyarrow."""
    path = DATA / "binary_truncated_min_max.parquet"
    if not path.exists():
        pytest.skip("fixture missing")
    m = _meta_json(path)
    table = pq.read_table(path)
    inexact = 0
    for c in m["row_groups"][0]["columns"]:
        st = c["statistics"]
        vals = [v.encode() if isinstance(v, str) else v for v in table.column(c["path"]).to_pylist()
                if v is not None]
        lo, hi = bytes.fromhex(st["min_hex"]), bytes.fromhex(st["max_hex"])
        assert lo <= min(vals) and hi >= max(vals), c["path"]
        if st["is_min_value_exact"]:
            assert lo == min(vals), c["path"]
        if st["is_max_value_exact"]:
            assert hi == max(vals), c["path"]
        inexact += (st["is_min_value_exact"] is False) + (st["is_max_value_exact"] is False)
    assert inexact >= 2
    text = run_skytile("parquet", "meta", path).stdout
    assert "(inexact)" in text
