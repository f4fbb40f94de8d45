"""st_pq_read_rows (selected rows of one row group) against pyarrow's
read_row_group(g).take(rows), on files written by pyarrow with the layouts its
fast paths depend on: dictionary pages (Snappy blocks of long literals, read
through the view; compressible ones, decoded as a prefix), PLAIN pages,
dictionary fallback to PLAIN inside a chunk, several data pages per chunk,
nulls, strings, booleans, data page v1 and v2, other codecs, and a nested
column (whole-chunk fallback).  One reader serves many calls, so the reused
scratch is exercised across columns and row groups."""
import ctypes
from ctypes import POINTER, c_int, c_int64, c_void_p

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import stlib

pytestmark = stlib.needs_lib


def _lib():
    L = stlib.lib()
    f = L.st_pq_read_rows
    f.argtypes = [c_void_p, c_int, c_void_p, c_int, POINTER(c_int64), c_int64, POINTER(c_void_p), stlib.E]
    f.restype = c_int
    return L


def _table(n, seed):
    rng = np.random.default_rng(seed)
    nulls = rng.random(n) < 0.2
    return pa.table({
        "seq": pa.array(np.arange(10**9, 10**9 + n, dtype=np.int64)),            # compressible dictionary
        # values of 8 equal bytes: the dictionary block has short self-overlapping copies (offset 1)
        "rep8": pa.array((rng.integers(1, 120, n) * 0x0101010101010101).astype(np.int64)),
        "uniq": pa.array(rng.random(n) * 360),                                    # long-literal dictionary
        "nul": pa.array(np.where(nulls, np.nan, rng.random(n)), mask=nulls),      # nulls
        "f32": pa.array(rng.random(n).astype(np.float32)),
        "i32": pa.array(rng.integers(-5, 5, n).astype(np.int32)),                 # small dictionary, RLE runs
        "s": pa.array([None if k % 7 == 3 else "v%d" % (k % 13) for k in range(n)]),
        "long_s": pa.array(["x" * (k % 50) + str(k) for k in range(n)]),        # > 32-byte strings
        "b": pa.array([None if k % 11 == 0 else bool(k % 3) for k in range(n)]),
        "lst": pa.array([None if k % 9 == 0 else list(range(k % 4)) for k in range(n)],
                        type=pa.list_(pa.int32())),
    })


LAYOUTS = [
    dict(compression="snappy"),
    dict(compression="snappy", data_page_size=2048),                            # several pages
    dict(compression="snappy", dictionary_pagesize_limit=4096, data_page_size=4096),  # fallback to PLAIN
    dict(compression="snappy", use_dictionary=False),                           # PLAIN only
    dict(compression="snappy", data_page_version="2.0", data_page_size=4096),
    dict(compression="none"),
    dict(compression="zstd"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("read_rows")
    t = _table(5000, 3)
    out = []
    for i, kw in enumerate(LAYOUTS):
        p = d / f"f{i}.parquet"
        pq.write_table(t, p, row_group_size=1500, **kw)
        out.append(p)
    return out


def _selections(n, rng):
    yield []
    yield [0]
    yield [n - 1]
    yield list(range(n))
    yield sorted(rng.choice(n, size=min(n, 17), replace=False).tolist())
    yield sorted(rng.choice(n, size=n // 3, replace=False).tolist())
    yield list(range(n // 2, min(n, n // 2 + 40)))                            # a cluster


def _read_rows(L, r, g, cols, rows):
    t, e = c_void_p(), stlib.StError()
    ca = (c_int * len(cols))(*cols)
    ra = (c_int64 * max(1, len(rows)))(*rows)
    rc = L.st_pq_read_rows(r, g, ca, len(cols), ra, len(rows), ctypes.byref(t), ctypes.byref(e))
    if rc:
        raise stlib.SkytileError(rc, e.msg.decode(errors="replace"))
    return stlib.from_st(t)


def test_read_rows_vs_pyarrow(files):
    L = _lib()
    rng = np.random.default_rng(11)
    for path in files:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        r, e = c_void_p(), stlib.StError()
        stlib.check(L.st_pq_open(str(path).encode(), None, ctypes.byref(r), ctypes.byref(e)), e, str(path))
        try:
            for g in range(pf.num_row_groups):
                want_all = pf.read_row_group(g)
                n = want_all.num_rows
                for si, rows in enumerate(_selections(n, rng)):
                    # all columns; for one selection also single columns in a shuffled order (scratch reuse)
                    col_sets = [list(range(len(names)))]
                    if si == 4:
                        col_sets += [[c] for c in rng.permutation(len(names)).tolist()]
                    for cols in col_sets:
                        got = _read_rows(L, r, g, cols, rows)
                        want = want_all.select(cols).take(pa.array(rows, type=pa.int64()))
                        assert got.num_rows == len(rows)
                        for c in range(len(cols)):
                            w, h = want.column(c).combine_chunks(), got.column(c).combine_chunks()
                            assert h.equals(w.cast(h.type)) if h.type != w.type else h.equals(w), \
                                (path.name, g, names[cols[c]], rows[:5])
        finally:
            L.st_pq_close(r)


def test_read_rows_bad_rows(files):
    L = _lib()
    r, e = c_void_p(), stlib.StError()
    stlib.check(L.st_pq_open(str(files[0]).encode(), None, ctypes.byref(r), ctypes.byref(e)), e)
    try:
        for rows in ([3, 2], [1, 1], [-1], [1500], [0, 10**6]):
            with pytest.raises(stlib.SkytileError, match="out of range or out of order"):
                _read_rows(L, r, 0, [0], rows)
        with pytest.raises(stlib.SkytileError, match="row group 9 out of range"):
            _read_rows(L, r, 9, [0], [0])
        with pytest.raises(stlib.SkytileError, match="column 99 out of range"):
            _read_rows(L, r, 0, [99], [0])
        # the reader still works after the errors
        got = _read_rows(L, r, 1, [pq.ParquetFile(files[0]).schema_arrow.get_field_index("uniq")], [5, 6])
        want = pq.ParquetFile(files[0]).read_row_group(1, columns=["uniq"]).take([5, 6])
        assert got.column(0).combine_chunks().equals(want.column(0).combine_chunks())
    finally:
        L.st_pq_close(r)


def test_open_borrowed_metadata(tmp_path):
    """st_pq_open_borrowed: a data file read with the row groups a _metadata file lists
    for it equals pyarrow's read of the file; a file the _metadata does not describe fails."""
    L = _lib()
    L.st_pq_open_borrowed.argtypes = [ctypes.c_char_p, c_void_p, c_int, c_int, c_void_p, POINTER(c_void_p), stlib.E]
    L.st_pq_open_borrowed.restype = c_int
    t1, t2 = _table(3000, 5).drop(["lst"]), _table(1200, 6).drop(["lst"])
    mds = []
    for name, t in (("a.parquet", t1), ("b.parquet", t2)):
        pq.write_table(t, tmp_path / name, row_group_size=1000, compression="snappy",
                       metadata_collector=mds)
        mds[-1].set_file_path(name)
    md = mds[0]
    md.append_row_groups(mds[1])
    md.write_metadata_file(str(tmp_path / "_metadata"))
    m, e = c_void_p(), stlib.StError()
    stlib.check(L.st_pq_open(str(tmp_path / "_metadata").encode(), None, ctypes.byref(m), ctypes.byref(e)), e)
    try:
        for name, t, first, n in (("a.parquet", t1, 0, 3), ("b.parquet", t2, 3, 2)):
            r = c_void_p()
            stlib.check(L.st_pq_open_borrowed(str(tmp_path / name).encode(), m, first, n, None, ctypes.byref(r),
                                              ctypes.byref(e)), e, name)
            try:
                assert L.st_pq_num_row_groups(r) == n
                for g in range(n):
                    want = pq.ParquetFile(tmp_path / name).read_row_group(g)
                    rows = list(range(0, want.num_rows, 7))
                    got = _read_rows(L, r, g, list(range(want.num_columns)), rows)
                    assert got.equals(want.take(rows).cast(got.schema)), (name, g)
            finally:
                L.st_pq_close(r)
        # b.parquet is smaller than a.parquet's chunks say: refused, no crash
        r = c_void_p()
        rc = L.st_pq_open_borrowed(str(tmp_path / "b.parquet").encode(), m, 0, 3, None, ctypes.byref(r), ctypes.byref(e))
        if rc == 0:
            L.st_pq_close(r)
        assert rc != 0 and b"does not describe this file" in e.msg
        assert L.st_pq_open_borrowed(str(tmp_path / "a.parquet").encode(), m, 4, 2, None, ctypes.byref(r),
                                     ctypes.byref(e)) != 0
    finally:
        L.st_pq_close(m)
