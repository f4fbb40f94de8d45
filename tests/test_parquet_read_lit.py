"""Pages whose Snappy body is one literal (incompressible data) are decoded in
place, without a copy (st_snappy_single_literal in the column reader), and a
file read by pread (SKYTILE_NO_MMAP=1) is read chunk by chunk into one reused
buffer.  Oracle: pyarrow, on files it wrote with random (incompressible)
values in the layouts where such pages occur: dictionary index pages of
distinct values, PLAIN pages of strings, optional columns with nulls, several
pages per chunk, data page v2, page checksums; whole reads (st_pq_read) and
selected rows (st_pq_read_rows) through ctypes, and `skytile parquet cat`
(also under the sanitizers); several row groups, with and without mmap."""
import ctypes
import json
from ctypes import POINTER, c_int, c_int64, c_void_p

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import stlib
from conftest import run_skytile



def _table(n, seed):
    rng = np.random.default_rng(seed)
    nulls = rng.random(n) < 0.25
    return pa.table({
        "d": pa.array(rng.random(n) * 360),                                          # distinct doubles
        "i": pa.array(rng.integers(-2**62, 2**62, n, dtype=np.int64)),               # distinct int64
        "f": pa.array(rng.random(n).astype(np.float32)),
        "dn": pa.array(np.where(nulls, 0.0, rng.random(n)), mask=nulls),             # nulls
        "s": pa.array([rng.bytes(12).hex() for _ in range(n)]),                      # random strings
        "sn": pa.array([None if k % 5 == 0 else rng.bytes(9).hex() for k in range(n)]),
        "r": pa.array(np.arange(n, dtype=np.int64)),                                 # compressible
    })


LAYOUTS = [
    dict(compression="snappy"),
    dict(compression="snappy", data_page_size=1024),                 # several pages per chunk
    dict(compression="snappy", use_dictionary=False),                # PLAIN pages
    dict(compression="snappy", data_page_version="2.0", data_page_size=2048),
    dict(compression="snappy", write_page_checksum=True),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("read_lit")
    t = _table(3000, 5)
    out = []
    for k, kw in enumerate(LAYOUTS):
        p = d / f"l{k}.parquet"
        pq.write_table(t, p, row_group_size=1100, **kw)
        out.append(p)
    return t, out


def _opts(verify_crc):
    o = stlib.PqReadOptions()
    stlib.lib().st_pq_read_options_init(ctypes.byref(o))
    o.verify_crc = verify_crc
    return o


def _read_rows(L, r, g, cols, rows):
    f = L.st_pq_read_rows
    f.argtypes = [c_void_p, c_int, c_void_p, c_int, POINTER(c_int64), c_int64, POINTER(c_void_p), stlib.E]
    f.restype = c_int
    t, e = c_void_p(), stlib.StError()
    ca = (c_int * len(cols))(*cols)
    ra = (c_int64 * max(1, len(rows)))(*rows)
    rc = f(r, g, ca, len(cols), ra, len(rows), ctypes.byref(t), ctypes.byref(e))
    if rc:
        raise stlib.SkytileError(rc, e.msg.decode(errors="replace"))
    return stlib.from_st(t)


@stlib.needs_lib
@pytest.mark.parametrize("no_mmap", ["0", "1"])
def test_incompressible_pages_whole_reads(files, monkeypatch, no_mmap):
    monkeypatch.setenv("SKYTILE_NO_MMAP", no_mmap)
    t, paths = files
    for k, p in enumerate(paths):
        got = stlib.st_read_parquet(p, options=_opts(k == 4))
        want = pq.read_table(p)
        assert got.num_rows == want.num_rows == t.num_rows
        for name in want.column_names:
            assert got[name].combine_chunks().equals(want[name].combine_chunks()), (p.name, name)
        # a subset of row groups and columns, in another order
        got = stlib.st_read_parquet(p, columns=[3, 0, 4], row_groups=[2, 0])
        want = pa.concat_tables([pq.ParquetFile(p).read_row_group(g, columns=["d", "dn", "s"]) for g in (2, 0)])
        for name in ("d", "dn", "s"):
            assert got[name].combine_chunks().equals(want[name].combine_chunks()), (p.name, name)


@stlib.needs_lib
@pytest.mark.parametrize("no_mmap", ["0", "1"])
def test_incompressible_pages_selected_rows(files, monkeypatch, no_mmap):
    monkeypatch.setenv("SKYTILE_NO_MMAP", no_mmap)
    L = stlib.lib()
    rng = np.random.default_rng(3)
    _, paths = files
    for p in paths:
        pf = pq.ParquetFile(p)
        ncol = len(pf.schema_arrow.names)
        r, e = c_void_p(), stlib.StError()
        stlib.check(L.st_pq_open(str(p).encode(), None, ctypes.byref(r), ctypes.byref(e)), e, str(p))
        try:
            for g in range(pf.num_row_groups):
                whole = pf.read_row_group(g)
                n = whole.num_rows
                for rows in ([], [0], [n - 1], sorted(rng.choice(n, 19, replace=False).tolist()),
                             list(range(n // 3, n // 3 + 50)), list(range(n))):
                    got = _read_rows(L, r, g, list(range(ncol)), rows)
                    want = whole.take(pa.array(rows, type=pa.int64()))
                    assert got.num_rows == len(rows)
                    for c in range(ncol):
                        assert got.column(c).combine_chunks().equals(want.column(c).combine_chunks()), \
                            (p.name, g, pf.schema_arrow.names[c], rows[:4])
        finally:
            L.st_pq_close(r)


@stlib.needs_lib
def test_incompressible_pages_empty_file(tmp_path, monkeypatch):
    """No rows: nothing to decode, with or without mmap."""
    t = _table(10, 1).slice(0, 0)
    p = tmp_path / "empty.parquet"
    pq.write_table(t, p, compression="snappy")
    for no_mmap in ("0", "1"):
        monkeypatch.setenv("SKYTILE_NO_MMAP", no_mmap)
        got = stlib.st_read_parquet(p)
        assert got.num_rows == 0 and got.column_names == t.column_names


@pytest.mark.parametrize("no_mmap", ["0", "1"])
def test_incompressible_pages_cli(files, monkeypatch, no_mmap):
    """The same files through `skytile parquet cat` (this also runs under the
    sanitizers, where the library cannot be loaded into Python)."""
    monkeypatch.setenv("SKYTILE_NO_MMAP", no_mmap)
    t, paths = files
    for k, p in enumerate(paths):
        args = ["parquet", "cat", p, "--format", "jsonl"] + (["--verify-crc"] if k == 4 else [])
        r = run_skytile(*args, check=True, timeout=120)
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(rows) == t.num_rows, p.name
        for name in ("d", "i", "dn", "s", "sn", "r"):
            assert [row[name] for row in rows] == t[name].to_pylist(), (p.name, name)
