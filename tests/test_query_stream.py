"""Streamed search output (st_query_run_stream behind `skytile scan|cone|...`).

A generated catalog (uniform sky, 6 columns, imported with `skytile import`
into ~40 partitions) is scanned to Parquet, CSV and JSONL.  Oracles:
  - pyarrow reading the leaf files directly: the streamed output must be
    every row, in _healpix_29 order (stable: HATS leaves are sorted and
    partitions are disjoint _healpix_29 ranges, so this is the documented
    deterministic order), with the same values;
  - the peak RSS of the CLI process (os.wait4) must stay well below the size
    of the result, since only a window of partitions is held at a time.
"""
import csv
import io
import json
import os
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import SAN, SKYTILE, run_skytile

N = 300_000 if SAN else 2_000_000


@pytest.fixture(scope="session")
def big(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(17)
    ra = rng.uniform(0, 360, N)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, N)))
    t = pa.table({"id": np.arange(N, dtype=np.int64), "ra": ra, "dec": dec,
                  "a": rng.normal(size=N), "b": rng.normal(size=N), "c": rng.normal(size=N)})
    src = d / "src.parquet"
    pq.write_table(t, src, compression="none", row_group_size=500_000)
    cat = d / "cat"
    run_skytile("import", src, "--output", cat, "--pixel-threshold", N // 40, "--compression", "snappy",
                "--threads", 2, check=True, timeout=900 if SAN else 300)
    leaves = sorted((cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    assert len(leaves) >= 20
    full = pa.concat_tables([pq.read_table(f) for f in leaves])
    order = pc.sort_indices(full, sort_keys=[("_healpix_29", "ascending")])   # stable
    return cat, full.take(order), src


TIME = "/usr/bin/time"


def peak_rss_kib(args):
    """Run the CLI under /usr/bin/time; (returncode, stderr, peak RSS in KiB or None).

    Not os.wait4 on a child of this process: ru_maxrss would include the pytest
    process's pages copied by fork before exec."""
    if not os.path.exists(TIME):
        p = run_skytile(*args, timeout=300)
        return p.returncode, p.stderr, None
    p = subprocess.run([TIME, "-f", "MAXRSS %M", str(SKYTILE), *map(str, args)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    lines = p.stderr.rstrip("\n").split("\n")
    rss = int(lines[-1].split()[1]) if lines and lines[-1].startswith("MAXRSS ") else None
    return p.returncode, "\n".join(lines[:-1]), rss


def test_scan_parquet_all_rows_in_order_bounded_memory(big, tmp_path):
    cat, want, _ = big
    out = tmp_path / "all.parquet"
    rc, err, rss = peak_rss_kib(["scan", cat, "--output", out])
    assert rc == 0, err
    got = pq.read_table(out)
    assert got.column_names == want.column_names
    assert got.num_rows == N
    for c in want.column_names:
        np.testing.assert_array_equal(got.column(c).to_numpy(), want.column(c).to_numpy(), err_msg=c)
    # several row groups were written as the batches streamed in (16 MiB cap)
    assert pq.ParquetFile(out).num_row_groups >= 2
    # the same scan returning a quarter of the rows (all partitions still read)
    q = tmp_path / "quarter.parquet"
    rc, err, rss_q = peak_rss_kib(["scan", cat, "--output", q, "--where", f"id < {N // 4}"])
    assert rc == 0, err
    assert pq.read_metadata(q).num_rows == N // 4
    result_bytes = N * 7 * 8
    if not SAN and rss is not None:
        # holding the result would need > result_bytes, and 4x more for all rows than for a quarter
        assert rss * 1024 < result_bytes * 0.8, (rss, result_bytes)
        assert rss < 1.5 * rss_q, (rss, rss_q)


def test_scan_csv_jsonl_stream_bounded_memory(big, tmp_path):
    cat, want, _ = big
    out = tmp_path / "all.csv"
    rc, err, rss = peak_rss_kib(["scan", cat, "--columns", "id,ra,dec", "--output", out])
    assert rc == 0, err
    if not SAN and rss is not None:
        # the whole result as decoded columns would be N * 24 bytes; CSV text is larger still
        assert rss * 1024 < N * 24 * 0.5, rss
    with open(out, newline="") as f:
        r = csv.reader(f)
        assert next(r) == ["id", "ra", "dec"]
        ids = np.fromiter((int(row[0]) for row in r), dtype=np.int64, count=N)
    np.testing.assert_array_equal(ids, want.column("id").to_numpy())
    assert not list(tmp_path.glob("all.csv.tmp-*"))


def test_stream_equals_across_threads_and_limits(big, tmp_path):
    cat, want, _ = big
    ids = want.column("id").to_numpy()
    h = want.column("_healpix_29").to_numpy()
    # a box covering several partitions; brute force in the order of _healpix_29
    ra, dec = want.column("ra").to_numpy(), want.column("dec").to_numpy()
    m = (ra >= 100) & (ra <= 160) & (dec >= -20) & (dec <= 40)
    outs = []
    for th in (1, 2, 5):
        out = tmp_path / f"b{th}.parquet"
        p = run_skytile("box", cat, "--ra", "100,160", "--dec", "-20,40", "--columns", "id,_healpix_29",
                        "--threads", th, "--output", out, timeout=300)
        assert p.returncode == 0, p.stderr
        outs.append(pq.read_table(out))
    for t in outs:
        np.testing.assert_array_equal(t.column("id").to_numpy(), ids[m])
    np.testing.assert_array_equal(outs[0].column("_healpix_29").to_numpy(), h[m])
    # limits that end inside the first, a middle and past the last partition, to JSONL
    total = int(m.sum())
    for lim, th in [(3, 2), (total // 2 + 7, 2), (total // 3, 1), (total + 100, 3)]:
        out = tmp_path / "l.jsonl"
        p = run_skytile("box", cat, "--ra", "100,160", "--dec", "-20,40", "--columns", "id",
                        "--limit", lim, "--threads", th, "--output", out, timeout=300)
        assert p.returncode == 0, p.stderr
        got = [json.loads(x)["id"] for x in out.read_text().splitlines()]
        assert got == ids[m][:lim].tolist()


def test_stream_empty_and_stdout(big, tmp_path):
    cat, want, _ = big
    p = run_skytile("cone", cat, 10, 10, 0, "--columns", "id,a")
    assert p.returncode == 0 and p.stdout == "id,a\n"
    out = tmp_path / "e.jsonl"
    p = run_skytile("scan", cat, "--where", "a > 100", "--output", out)
    assert p.returncode == 0 and out.read_text() == ""
    p = run_skytile("scan", cat, "--where", "id < 5 or id > 1999995", "--columns", "id,b", "--threads", 2)
    assert p.returncode == 0, p.stderr
    rows = list(csv.reader(io.StringIO(p.stdout)))
    assert rows[0] == ["id", "b"]
    ids = want.column("id").to_numpy()
    sel = (ids < 5) | (ids > 1999995)
    assert [int(r[0]) for r in rows[1:]] == ids[sel].tolist()
    b = want.column("b").to_numpy()[sel]
    np.testing.assert_array_equal(np.array([float(r[1]) for r in rows[1:]]), b)


def test_failed_output_leaves_no_file(big, tmp_path):
    cat, _, _ = big
    out = tmp_path / "x.csv"
    p = run_skytile("scan", cat, "--where", "nosuch > 1", "--output", out)
    assert p.returncode != 0 and "nosuch" in p.stderr
    assert not out.exists() and not list(tmp_path.glob("x.csv*"))


def explain_files(stderr):
    import re
    m = re.search(r"files opened (\d+)", stderr)
    assert m, stderr
    return int(m.group(1))


def test_single_file_read_in_pieces(big, tmp_path):
    """An unpartitioned Parquet file (no _healpix_29) is read in pieces of row groups: file order kept,
    lower peak memory than reading it whole."""
    _, _, src = big
    out_a, out_b = tmp_path / "a.csv", tmp_path / "b.csv"
    rc, err, rss_pieces = peak_rss_kib(["scan", src, "--columns", "id,a", "--batch-rows", 500_000,
                                        "--output", out_a, "--explain"])
    assert rc == 0, err
    assert explain_files(err) == pq.ParquetFile(src).num_row_groups   # one piece per 500k-row group
    rc, err, rss_whole = peak_rss_kib(["scan", src, "--columns", "id,a", "--batch-rows", 10 ** 12,
                                       "--output", out_b, "--explain"])
    assert rc == 0, err
    assert explain_files(err) == 1
    assert out_a.read_bytes() == out_b.read_bytes()
    with open(out_a) as f:
        assert f.readline() == "id,a\n"
        ids = np.fromiter((int(line.split(",", 1)[0]) for line in f), dtype=np.int64)
    np.testing.assert_array_equal(ids, pq.read_table(src, columns=["id"]).column("id").to_numpy())
    if not SAN and rss_pieces is not None and rss_whole is not None:
        assert rss_pieces < 0.6 * rss_whole, (rss_pieces, rss_whole)


def test_pieces_only_when_order_is_kept(big, tmp_path):
    """A file sorted by _healpix_29 is split (statistics prove the order); one whose row groups
    overlap in _healpix_29 is read whole and sorted; both give the stable _healpix_29 order."""
    _, want, _ = big
    t = want.slice(0, 200_000).select(["_healpix_29", "id", "ra", "dec"])
    srt = tmp_path / "sorted.parquet"
    pq.write_table(t, srt, row_group_size=20_000)
    # row groups in reverse order: each sorted inside, ranges decreasing
    rev = tmp_path / "rev.parquet"
    w = pq.ParquetWriter(rev, t.schema)
    for lo in range(180_000, -1, -20_000):
        w.write_table(t.slice(lo, 20_000), row_group_size=20_000)
    w.close()
    h = t.column("_healpix_29").to_numpy()
    ra, dec = t.column("ra").to_numpy(), t.column("dec").to_numpy()
    for f, pieces in [(srt, True), (rev, False)]:
        p = run_skytile("scan", f, "--columns", "id", "--batch-rows", 50_000, "--threads", 2, "--explain")
        assert p.returncode == 0, p.stderr
        got = np.array([int(x) for x in p.stdout.split()[1:]], dtype=np.int64)
        np.testing.assert_array_equal(got, t.column("id").to_numpy(), err_msg=str(f))
        assert (explain_files(p.stderr) > 1) == pieces, p.stderr
        # a box over the pieces: brute force in _healpix_29 order
        p = run_skytile("box", f, "--ra", "0,200", "--dec", "-50,60", "--columns", "id,_healpix_29",
                        "--batch-rows", 30_000, "--limit", 40_000)
        assert p.returncode == 0, p.stderr
        rows = [x.split(",") for x in p.stdout.split()[1:]]
        m = (ra >= 0) & (ra <= 200) & (dec >= -50) & (dec <= 60)
        assert len(rows) == 40_000 < m.sum()
        np.testing.assert_array_equal(np.array([int(r[0]) for r in rows]), t.column("id").to_numpy()[m][:40_000])
        assert np.all(np.diff(np.array([int(r[1]) for r in rows])) >= 0)


def test_late_materialisation_bytes(big):
    """A cone matching no row reads only the ra/dec chunks of the row group it touches; one matching
    rows reads all output columns there (compressed sizes from pyarrow's footer)."""
    import re
    hp = pytest.importorskip("healpy")
    cat, want, _ = big
    ra0, dec0 = 10.123, 20.456
    leaves = sorted((cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    leaf = None
    for f in leaves:
        k = int(f.parent.parent.name.split("=")[1])
        pix = int(f.stem.split("=")[1])
        if hp.ang2pix(2 ** k, ra0, dec0, nest=True, lonlat=True) == pix:
            leaf = f
    md = pq.ParquetFile(leaf).metadata
    if md.num_row_groups != 1:
        pytest.skip("leaf has several row groups")
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    size = {names[i]: md.row_group(0).column(i).total_compressed_size for i in range(md.num_columns)}

    def explain(*args):
        p = run_skytile("cone", cat, ra0, dec0, *args, "--explain")
        assert p.returncode == 0, p.stderr
        m = re.search(r"bytes (\d+) considered, (\d+) read", p.stderr)
        f = re.search(r"files opened (\d+)", p.stderr)
        return p, int(m.group(2)), int(f.group(1))

    p, got, files = explain(0)
    assert p.stdout.count("\n") == 1 and files == 1
    assert got == size["ra"] + size["dec"]
    p, got, files = explain(1800, "--columns", "id,a")      # 30 arcmin: a few rows, same leaf
    assert p.stdout.count("\n") > 1 and files == 1
    assert got == size["ra"] + size["dec"] + size["id"] + size["a"] + size["_healpix_29"]
