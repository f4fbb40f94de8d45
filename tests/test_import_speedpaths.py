"""The fast paths of `skytile import` give the same catalog as the plain ones.

- CSV type inference of a whole file >= 4 MiB runs on two threads (the
  second half from the first line start after the middle); the inferred
  types must equal pandas.read_csv's, also when the value that decides a
  column comes late in the file, and when the middle of the file falls
  inside a quoted field spanning lines (the halves then do not merge and
  one thread classifies everything).
- The split stage pairs a reader and a distributor when there are fewer
  files than threads: its leaves must equal a --threads 1 run row for row
  (ties in _healpix_29 keep the input order).
- Leaves are written with dictionary sampling and 384 KiB ZSTD pages: a
  mostly-distinct column is PLAIN only, a low-cardinality one (or one whose
  values repeat only over the whole chunk) dictionary encoded; pyarrow and
  DuckDB read the values and the statistics are right.

Oracles: pandas (types, values), pyarrow and DuckDB (reading), numpy.
"""
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import run_skytile

pd = pytest.importorskip("pandas")

MIDDLE_MIN = 4 << 20  # csv.c PAR_INFER_MIN


def imp(*args, check=True, timeout=300):
    return run_skytile("import", *args, check=check, timeout=timeout)


def leaf_files(cat):
    return sorted((cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))


def read_catalog(cat):
    return pa.concat_tables([pq.read_table(f) for f in leaf_files(cat)])


def pandas_types(path):
    """Column types as hats-import gets them: pandas.read_csv with its defaults,
    then pyarrow.Table.from_pandas (strings -> large_string, an integer column
    with empty values -> double).  Returns the types and that table."""
    t = pa.Table.from_pandas(pd.read_csv(path), preserve_index=False)
    return {f.name: f.type for f in t.schema}, t


def write_lines(path, header, rows):
    with open(path, "w") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(r + "\n")


def late_value_csv(path, n):
    """Columns whose type is decided by a value after the middle of the file."""
    rng = np.random.default_rng(3)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    rows = []
    late = int(n * 0.8)
    for i in range(n):
        a = "2.5" if i == late else str(i % 1000)              # int, one float late -> double
        c = "abc" if i == n - 1 else f"{rng.normal():.6f}"       # double, a word at the end -> string
        d = "" if i < n * 0.6 else str(i)                        # empty first 60 %, then int
        e = "1e5" if i == late + 7 else str(i)                   # int, exponent late -> double
        g = "x" if i == 0 else str(i % 7)                        # string from the first row
        rows.append(f"{i},{ra[i]:.12f},{dec[i]:.12f},{a},{i % 13},{c},{d},{e},{g},name{i % 50}")
    write_lines(path, "id,ra,dec,a,b,c,d,e,g,s", rows)


@pytest.mark.parametrize("threads", [1, 2])
def test_whole_file_inference_matches_pandas(tmp_path, threads):
    src = tmp_path / "late.csv"
    late_value_csv(src, 60000)
    assert os.path.getsize(src) >= MIDDLE_MIN  # the two-thread inference path
    want, df = pandas_types(src)
    assert want["a"] == pa.float64() and want["c"] == pa.large_string() and want["e"] == pa.float64()
    assert want["d"] == pa.float64()
    cat = tmp_path / "cat"
    imp(str(src), "--output", str(cat), "--highest-order", "4", "--pixel-threshold", "20000",
        "--threads", str(threads))
    got = read_catalog(cat)
    for name, t in want.items():
        assert got.schema.field(name).type == t, name
    got = got.sort_by("id")
    assert got.num_rows == len(df)
    for name in ("a", "c", "d", "e", "g"):
        assert got[name].to_pylist() == df[name].to_pylist(), name


def test_inference_quoted_field_across_the_middle(tmp_path):
    """The middle of the file lies inside a quoted field whose lines look like
    records (5 fields, 'k' a word): the second half's first line is not a
    record of the real parse, so the halves must not merge (merged, 'k' would
    be a string); types equal pandas'."""
    n1, n2 = 20000, 20000
    rng = np.random.default_rng(5)
    rows = [f"{i},{rng.uniform(0, 360):.10f},{rng.uniform(-80, 80):.10f},{i % 9},plain"
            for i in range(n1)]
    head = sum(len(r) + 1 for r in rows) + len("id,ra,dec,k,note") + 1
    tail = [f"{n1 + 1 + i},{rng.uniform(0, 360):.10f},{rng.uniform(-80, 80):.10f},{i % 9},plain"
            for i in range(n2)]
    tail_bytes = sum(len(r) + 1 for r in tail)
    # the quoted field is long enough to cover the middle of the file
    inner_lines = max(1, (head + tail_bytes) // 15 + (MIDDLE_MIN // 15))
    inner = "\n".join("7,1.0,2.0,zz,x" for _ in range(inner_lines))
    rows.append(f'{n1},10.0,10.0,1.5,"{inner}"')   # k: a float -> double
    rows += tail
    src = tmp_path / "quoted.csv"
    write_lines(src, "id,ra,dec,k,note", rows)
    size = os.path.getsize(src)
    start = rows[0:n1]
    q0 = head
    q1 = head + len(rows[n1]) + 1
    assert size >= MIDDLE_MIN and q0 < size // 2 < q1, (q0, size // 2, q1)
    want, df = pandas_types(src)
    assert want["k"] == pa.float64()
    cat = tmp_path / "cat"
    imp(str(src), "--output", str(cat), "--highest-order", "3", "--pixel-threshold", "50000",
        "--threads", "2")
    got = read_catalog(cat)
    for name, t in want.items():
        assert got.schema.field(name).type == t, name
    got = got.sort_by("id")
    assert got["note"].to_pylist() == df["note"].to_pylist()
    assert got["k"].to_pylist() == df["k"].to_pylist()
    assert len(start) == n1


def test_paired_split_equals_single_thread(tmp_path):
    """One input, small batches (--memory-limit), duplicated positions (ties
    keep the input order): --threads 2 (reader + distributor) == --threads 1."""
    rng = np.random.default_rng(11)
    n = 40000
    ra = rng.uniform(0, 360, n // 4)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n // 4)))
    idx = rng.integers(0, n // 4, n)        # every position about 4 times
    k = rng.integers(0, 5, n)
    rows = [f"{i},{ra[j]:.9f},{dec[j]:.9f},{k[i]},v{i}" for i, j in enumerate(idx)]
    src = tmp_path / "ties.csv"
    write_lines(src, "id,ra,dec,k,s", rows)
    cats = []
    for t in (1, 2):
        cat = tmp_path / f"cat{t}"
        imp(str(src), "--output", str(cat), "--highest-order", "5", "--pixel-threshold", "6000",
            "--threads", str(t), "--memory-limit", "24M")
        cats.append(cat)
    a, b = leaf_files(cats[0]), leaf_files(cats[1])
    assert [f.relative_to(cats[0]) for f in a] == [f.relative_to(cats[1]) for f in b]
    assert len(a) > 3
    total = 0
    for x, y in zip(a, b):
        tx, ty = pq.read_table(x), pq.read_table(y)
        assert tx.equals(ty), x
        total += tx.num_rows
        # ties in _healpix_29 are in input (id) order
        h, ids = tx["_healpix_29"].to_numpy(), tx["id"].to_numpy()
        same = h[1:] == h[:-1]
        assert np.all(ids[1:][same] > ids[:-1][same])
    assert total == n


def test_leaf_encodings_and_readers(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    rng = np.random.default_rng(2)
    n = 120000
    ra = rng.uniform(-5, 5, n) % 360       # inside base pixel 4 (centred on ra 0, dec 0)
    dec = rng.uniform(-5, 5, n)
    # flags: 65536 possible values, most seen once in the first 16384 rows, but
    # about 2 times each over the chunk: the estimate keeps the dictionary
    flags = rng.integers(0, 1 << 16, n)
    mag = np.round(rng.uniform(10, 20, n), 1)
    uid = rng.integers(0, 1 << 40, n)
    rows = [f"{i},{float(ra[i])!r},{float(dec[i])!r},{mag[i]},cat{i % 5},id-{uid[i]},{flags[i]}"
            for i in range(n)]
    src = tmp_path / "enc.csv"
    write_lines(src, "id,ra,dec,mag,band,uid,flags", rows)
    cat = tmp_path / "cat"
    imp(str(src), "--output", str(cat), "--highest-order", "0", "--pixel-threshold", "1000000",
        "--threads", "2")
    files = leaf_files(cat)
    assert len(files) == 1
    md = pq.ParquetFile(files[0]).metadata
    assert md.num_row_groups == 1
    rg = md.row_group(0)
    enc = {rg.column(i).path_in_schema: rg.column(i) for i in range(rg.num_columns)}
    # mostly distinct: PLAIN only; few values: dictionary
    for name in ("_healpix_29", "ra", "dec", "id", "uid"):
        assert "RLE_DICTIONARY" not in enc[name].encodings, name
        assert enc[name].compression == "ZSTD"
    for name in ("mag", "band", "flags"):
        assert "RLE_DICTIONARY" in enc[name].encodings, name
    t = pq.read_table(files[0])
    df = pd.read_csv(src, dtype_backend="pyarrow")
    assert t.num_rows == n
    ts = t.sort_by("id")
    for name in ("ra", "uid", "band", "mag", "flags"):
        assert ts[name].to_pylist() == pa.array(df[name]).to_pylist(), name
    # statistics equal the data's
    for name in ("ra", "dec", "mag", "id", "_healpix_29", "flags"):
        st = enc[name].statistics
        col = t[name]
        assert st.min == pc.min(col).as_py() and st.max == pc.max(col).as_py(), name
    assert enc["uid"].statistics.min == pc.min(t["uid"]).as_py()
    # sorting columns, DuckDB reads the same rows
    assert rg.sorting_columns[0].column_index == 0
    con = duckdb.connect()
    d = con.sql(f"SELECT id, ra, uid, band FROM read_parquet('{files[0]}') ORDER BY id").fetchall()
    assert d == list(zip(*(pa.array(df[c]).to_pylist() for c in ("id", "ra", "uid", "band"))))
    # several data pages per column (384 KiB pages): pyarrow reads them all
    assert enc["ra"].total_uncompressed_size > 2 * 384 * 1024
