"""Compression codecs end to end: Parquet files compressed by other writers
(parquet-testing fixtures: Hadoop-framed LZ4, LZ4 without framing, LZ4_RAW,
concatenated gzip members, ZSTD, SNAPPY; and files pyarrow writes with every
codec it supports, data page v1 and v2) are read with `skytile parquet cat
--format jsonl` and compared value by value with pyarrow's reading.
"""
import json
import math

import pytest

from conftest import SHARED, run_skytile

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DATA = SHARED / "fixtures" / "parquet-testing" / "data"


def _same(ours, theirs, typ):
    if theirs is None:
        return ours is None
    if pa.types.is_binary(typ) or pa.types.is_fixed_size_binary(typ):
        return ours == theirs.hex() or ours == theirs.decode("utf-8", "replace")
    if pa.types.is_float32(typ):
        return math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-30)
    if pa.types.is_floating(typ):
        return ours == theirs or (math.isnan(theirs) and ours is None)
    return ours == theirs


def check_cat(path, columns=None):
    tbl = pq.read_table(path, columns=columns)
    args = ["parquet", "cat", path, "--format", "jsonl"]
    if columns:
        args += ["--columns", ",".join(columns)]
    p = run_skytile(*args, check=True)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert len(rows) == tbl.num_rows
    for name, typ in zip(tbl.column_names, tbl.schema.types):
        want = tbl.column(name).to_pylist()
        got = [r[name] for r in rows]
        bad = [i for i, (g, w) in enumerate(zip(got, want)) if not _same(g, w, typ)]
        assert not bad, f"{path}: column {name}: row {bad[0]}: {got[bad[0]]!r} != {want[bad[0]]!r}"


@pytest.mark.parametrize("name,columns", [
    ("hadoop_lz4_compressed", None),
    ("hadoop_lz4_compressed_larger", None),
    ("non_hadoop_lz4_compressed", None),
    ("lz4_raw_compressed", None),
    ("lz4_raw_compressed_larger", None),
    ("concatenated_gzip_members", None),
    ("byte_stream_split.zstd", None),
    ("alltypes_plain.snappy", ["id", "bool_col", "int_col", "bigint_col", "float_col",
                               "double_col", "string_col"]),
])
def test_fixture_codecs_match_pyarrow(shared, name, columns):
    check_cat(str(DATA / f"{name}.parquet"), columns)


@pytest.mark.parametrize("codec", ["NONE", "SNAPPY", "GZIP", "BROTLI", "ZSTD", "LZ4"])
@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
def test_pyarrow_written_codecs_match(tmp_path, codec, page_version):
    n = 20000
    tbl = pa.table({
        "i": pa.array([(k * 7919) % 100003 for k in range(n)], pa.int64()),
        "s": pa.array([None if k % 11 == 0 else f"row{k % 97}" for k in range(n)], pa.string()),
        "d": pa.array([k / 3.0 for k in range(n)], pa.float64()),
    })
    path = tmp_path / f"t_{codec}_{page_version}.parquet"
    pq.write_table(tbl, path, compression=codec, row_group_size=7000, data_page_size=4096,
                   data_page_version=page_version, use_dictionary=["s"])
    md = pq.ParquetFile(path).metadata
    # (pyarrow writes LZ4_RAW for "LZ4" and reports it as "LZ4")
    assert md.row_group(0).column(0).compression == {"NONE": "UNCOMPRESSED"}.get(codec, codec)
    check_cat(str(path))
