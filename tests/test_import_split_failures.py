"""`skytile import`: input files that fail only in the splitting stage (issue 5).

The mapping stage reads ra/dec only, so a file whose OTHER column is damaged
(a corrupt ZSTD page of a string column in a later row group of a Parquet
file; a CSV value that does not parse as the type given by --schema, past the
rows the mapping stage samples) is noticed only when it is split.  The run
must then report every bad file (path + reason) while the other files are
still read, end with exit code 1 and the list, write no catalog and no split
index, and leave a failure record (tombstone) for each bad file in the map
state, so that --resume maps only that file again: unchanged it fails again
with the same message; fixed, or left out of the inputs, the resumed run
gives the catalog of a clean import of the final inputs.  kill -9 of the
failing run at any moment does not change that.

Oracles: pyarrow (it fails on the same damaged page, reads ra/dec fine),
an independent decoder of the map logs (STATE/map/log-W.bin, state.c),
healpy for `_healpix_29`, and a clean import in a fresh directory (leaves
compared row by row, in order, with pyarrow).
"""
import os
import shutil
import signal
import struct
import subprocess
import time
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SKYTILE, map_log_payloads, run_skytile

hp = pytest.importorskip("healpy")

NGOOD, NROWS, RG = 5, 3000, 1000
ARGS = ["--highest-order", "5", "--pixel-threshold", "2500"]
TOMB_N = 1 << 63


def good_table(k, n=NROWS, seed=None):
    rng = np.random.default_rng(100 + k if seed is None else seed)
    z = rng.uniform(-1, 1, n)
    return pa.table({"id": np.arange(k * 100000, k * 100000 + n), "ra": rng.uniform(0, 360, n),
                     "dec": np.degrees(np.arcsin(z)), "x": rng.normal(size=n),
                     "name": pa.array([f"s{k}_{i % 53}" for i in range(n)])})


def write_pq(t, path):
    pq.write_table(t, path, compression="zstd", use_dictionary=False, row_group_size=RG)


def write_damaged(path, k):
    """A Parquet file whose 'name' page in row group 2 holds corrupt ZSTD data;
    ra/dec (and row groups 0-1, which the mapping stage samples) read fine."""
    write_pq(good_table(k), path)
    md = pq.read_metadata(path)
    rg = md.row_group(2)
    cc = next(rg.column(i) for i in range(rg.num_columns) if rg.column(i).path_in_schema == "name")
    b = bytearray(path.read_bytes())
    at = cc.data_page_offset + cc.total_compressed_size // 2
    b[at:at + 16] = b"\xff" * 16
    path.write_bytes(bytes(b))
    # the independent reader agrees: ra/dec read, the damaged column does not
    assert pq.read_table(path, columns=["ra", "dec"]).num_rows == NROWS
    with pytest.raises(Exception):
        pq.read_table(path)


def leaves(cat):
    ds = cat / "dataset"
    return sorted(p.relative_to(cat) for p in ds.glob("Norder=*/Dir=*/Npix=*.parquet"))


def assert_same_catalog(a, b, expect_ids):
    """Catalog a equals catalog b (a clean import): same partitions, same rows in the
    same order; and both hold exactly expect_ids, with healpy's _healpix_29, each row
    in its partition's pixel."""
    la, lb = leaves(a), leaves(b)
    assert la == lb and la
    for f in la:
        ta, tb = pq.read_table(a / f), pq.read_table(b / f)
        assert ta.equals(tb), f
        order = int(f.parts[1].split("=")[1])
        pix = int(f.stem.split("=")[1])
        h = ta["_healpix_29"].to_numpy()
        assert np.all(h >> (2 * (29 - order)) == pix), f
        assert np.all(np.diff(h) >= 0), f
    assert (a / "partition_info.csv").read_text() == (b / "partition_info.csv").read_text()
    allt = pa.concat_tables([pq.read_table(a / f) for f in la])
    assert np.array_equal(np.sort(allt["id"].to_numpy()), np.sort(np.asarray(expect_ids)))
    h = hp.ang2pix(2**29, allt["ra"].to_numpy(), allt["dec"].to_numpy(), nest=True, lonlat=True)
    assert np.array_equal(allt["_healpix_29"].to_numpy(), h)
    assert pq.read_metadata(a / "dataset" / "_metadata").num_rows == len(expect_ids)


def read_inputs_lst(state):
    b = (state / "inputs.lst").read_bytes()
    assert b[:8] == b"STINLST1" and zlib.crc32(b[:-4]) == struct.unpack("<I", b[-4:])[0]
    n = struct.unpack_from("<q", b, 8)[0]
    out, p = [], 16
    for _ in range(n):
        ln = struct.unpack_from("<I", b, p)[0]
        out.append(b[p + 4:p + 4 + ln].decode())
        p += 4 + ln
    return out


def map_records(state):
    """{path: [("hist", size, mtime) | ("tomb", size, mtime), ...]} from all map logs."""
    names = read_inputs_lst(state)
    recs = {}
    for v in map_log_payloads(state):
        kind = "tomb" if v[3] == TOMB_N else "hist"
        if kind == "tomb":
            assert len(v) == 4
        recs.setdefault(names[v[0]], []).append((kind, v[1], v[2]))
    return recs


def version(path):
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def failure_lines(stderr):
    return sorted(l for l in stderr.splitlines() if l.startswith("skytile: input file failed:"))


def first_mapping(stderr):
    return next(l for l in stderr.splitlines() if l.startswith("Mapping: "))


@pytest.fixture
def pq_inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    files = []
    for k in range(NGOOD + 1):
        f = d / f"f{k}.parquet"
        if k == 2:
            write_damaged(f, k)
        else:
            write_pq(good_table(k), f)
        files.append(f)
    return d, files, files[2]


def clean_import(files, out, threads):
    run_skytile("import", *files, "--output", out, *ARGS, "--threads", threads, check=True,
                timeout=300)
    return out


def ids_of(files):
    return np.concatenate([pq.read_table(f, columns=["id"])["id"].to_numpy() for f in files])


@pytest.mark.parametrize("threads", ["1", "8"])  # 8 > files: reader/distributor pairs
def test_parquet_damaged_column_then_fix(pq_inputs, tmp_path, threads):
    d, files, bad = pq_inputs
    out = tmp_path / "cat"
    state = tmp_path / "cat.skytile-state"
    args = [*files, "--output", out, *ARGS, "--threads", threads]
    r = run_skytile("import", *args, check=False, timeout=300)
    assert r.returncode == 1, r.stderr
    fl = failure_lines(r.stderr)
    assert len(fl) == 1 and str(bad) in fl[0] and "column 'name'" in fl[0], r.stderr
    assert "ZSTD" in fl[0] or "corrupt" in fl[0], fl
    assert f"skytile: 1 input file failed: {bad} " in r.stderr, r.stderr
    # mapping went through (the failure is the split's), every file was read in splitting
    assert f"Mapping: {NGOOD + 1}/{NGOOD + 1}" in r.stderr
    assert f"Splitting: {NGOOD + 1}/{NGOOD + 1}" in r.stderr
    assert not out.exists() and not (tmp_path / "cat.tmp-skytile").exists()
    assert not (state / "split" / "index.bin").exists()
    # the map state: one histogram record per file, and a tombstone for the bad one
    # naming the version that was mapped
    recs = map_records(state)
    assert set(recs) == {str(f) for f in files}
    for f in files:
        kinds = [k for k, *_ in recs[str(f)]]
        assert kinds.count("hist") == 1
        assert kinds.count("tomb") == (1 if f == bad else 0)
        assert all((s, m) == version(f) for _, s, m in recs[str(f)])
    # resumed unchanged: only the bad file is mapped again, and it fails again alike
    r2 = run_skytile("import", *args, "--resume", check=False, timeout=300)
    assert r2.returncode == 1, r2.stderr
    assert first_mapping(r2.stderr) == f"Mapping: {NGOOD}/{NGOOD + 1}"
    assert failure_lines(r2.stderr) == fl
    assert not out.exists() and not (state / "split" / "index.bin").exists()
    # fixed (another version: other rows): only it is mapped, the catalog is a clean one's
    fixed = good_table(77, n=2200, seed=5)
    write_pq(fixed, bad)
    r3 = run_skytile("import", *args, "--resume", check=True, timeout=300)
    assert first_mapping(r3.stderr) == f"Mapping: {NGOOD}/{NGOOD + 1}"
    assert not state.exists()
    ref = clean_import(files, tmp_path / "ref", threads)
    assert_same_catalog(out, ref, ids_of(files))


def test_every_bad_file_reported_then_left_out(pq_inputs, tmp_path):
    """Two damaged files: both are reported by one run; leaving them out of the
    inputs and resuming gives the catalog of the good files (mapped once)."""
    d, files, bad = pq_inputs
    bad2 = d / "f9.parquet"
    write_damaged(bad2, 9)
    allf = files + [bad2]
    out = tmp_path / "cat"
    r = run_skytile("import", *allf, "--output", out, *ARGS, "--threads", "2", check=False,
                    timeout=300)
    assert r.returncode == 1
    fl = failure_lines(r.stderr)
    assert len(fl) == 2 and str(bad) in "".join(fl) and str(bad2) in "".join(fl), r.stderr
    assert "skytile: 2 input files failed: " in r.stderr
    tail = r.stderr.split("2 input files failed: ")[1]
    assert str(bad) in tail and str(bad2) in tail
    good = [f for f in files if f != bad]
    assert not any(str(f) + ":" in "".join(fl) for f in good)
    r2 = run_skytile("import", *good, "--output", out, *ARGS, "--threads", "2", "--resume",
                     check=True, timeout=300)
    assert first_mapping(r2.stderr) == f"Mapping: {NGOOD}/{NGOOD}"  # nothing mapped again
    ref = clean_import(good, tmp_path / "ref", "2")
    assert_same_catalog(out, ref, ids_of(good))


def test_bad_file_deleted_then_left_out(pq_inputs, tmp_path):
    """The bad file is deleted before the resume (its version cannot be looked up):
    its tombstone still lets it be left out."""
    d, files, bad = pq_inputs
    out = tmp_path / "cat"
    r = run_skytile("import", *files, "--output", out, *ARGS, "--threads", "2", check=False,
                    timeout=300)
    assert r.returncode == 1 and str(bad) in r.stderr
    bad.unlink()
    good = [f for f in files if f != bad]
    run_skytile("import", *good, "--output", out, *ARGS, "--threads", "2", "--resume",
                check=True, timeout=300)
    assert_same_catalog(out, clean_import(good, tmp_path / "ref", "2"), ids_of(good))


def test_good_file_still_required(pq_inputs, tmp_path):
    """Only the failed file may be left out: a good (mapped) one may not."""
    d, files, bad = pq_inputs
    out = tmp_path / "cat"
    assert run_skytile("import", *files, "--output", out, *ARGS, check=False,
                       timeout=300).returncode == 1
    rest = [f for f in files if f not in (bad, files[0])]
    r = run_skytile("import", *rest, "--output", out, *ARGS, "--resume", check=False,
                    timeout=300)
    assert r.returncode == 1 and "was mapped" in r.stderr and files[0].name in r.stderr, r.stderr


def test_csv_schema_mismatch(tmp_path):
    """CSV inputs typed by --schema: a value of another column that does not parse
    as its type, past the rows the mapping stage samples, fails in splitting."""
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(3)
    n = 10000
    files, ids = [], []
    for k in range(3):
        f = d / f"g{k}.csv"
        ra = rng.uniform(0, 360, n).tolist()
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n))).tolist()
        mag = [f"{v:.4f}" for v in rng.normal(size=n)]
        if k == 1:
            mag[9000] = "oops"
        with open(f, "w") as fp:
            fp.write("id,ra,dec,mag\n")
            for i in range(n):
                fp.write(f"{k * 100000 + i},{ra[i]!r},{dec[i]!r},{mag[i]}\n")
        files.append(f)
        ids.append(np.arange(k * 100000, k * 100000 + n))
    schema = tmp_path / "schema.parquet"
    pq.write_table(pa.table({"id": pa.array([1], pa.int64()), "ra": [1.0], "dec": [1.0],
                             "mag": [1.0]}), schema)
    # the independent reader agrees on the bad line
    with pytest.raises(Exception):
        import pyarrow.csv as pacsv
        pacsv.read_csv(files[1], convert_options=pacsv.ConvertOptions(
            column_types={"mag": pa.float64()}))
    out = tmp_path / "cat"
    args = ["--output", out, "--schema", schema, *ARGS, "--threads", "2"]
    r = run_skytile("import", *files, *args, check=False, timeout=300)
    assert r.returncode == 1
    fl = failure_lines(r.stderr)
    assert len(fl) == 1 and str(files[1]) in fl[0], r.stderr
    assert "'mag'" in fl[0] and "oops" in fl[0], fl
    assert "line 9002" in fl[0]  # header + 9001 records
    r2 = run_skytile("import", *files, *args, "--resume", check=False, timeout=300)
    assert r2.returncode == 1 and failure_lines(r2.stderr) == fl
    assert first_mapping(r2.stderr) == "Mapping: 2/3"
    good = [files[0], files[2]]
    r3 = run_skytile("import", *good, *args, "--resume", check=True, timeout=300)
    assert first_mapping(r3.stderr) == "Mapping: 2/2"
    ref = tmp_path / "ref"
    run_skytile("import", *good, "--output", ref, "--schema", schema, *ARGS, "--threads", "2",
                check=True, timeout=300)
    assert_same_catalog(out, ref, np.concatenate([ids[0], ids[2]]))


@pytest.mark.parametrize("at", ["Mapping: ", "Binning: 1/1", "Splitting: ", "input file failed"])
def test_kill9_failing_run(pq_inputs, tmp_path, at):
    """kill -9 of the failing run when a progress line appears (or after it ended):
    resumed unchanged it fails again with the same message; fixed, the resumed
    catalog is a clean import's."""
    d, files, bad = pq_inputs
    out = tmp_path / "cat"
    log = tmp_path / "log.txt"
    args = [*files, "--output", out, *ARGS, "--threads", "2"]
    p = subprocess.Popen([str(SKYTILE), "import", *map(str, args)], stderr=open(log, "w"))
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        if at in log.read_text():
            p.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    p.wait(timeout=60)
    assert p.returncode in (-signal.SIGKILL, 1), log.read_text()
    assert not out.exists()
    r = run_skytile("import", *args, "--resume", check=False, timeout=300)
    assert r.returncode == 1, r.stderr
    fl = failure_lines(r.stderr)
    assert len(fl) == 1 and str(bad) in fl[0] and "column 'name'" in fl[0], r.stderr
    write_pq(good_table(2, n=1700, seed=8), bad)
    run_skytile("import", *args, "--resume", check=True, timeout=300)
    assert not (tmp_path / "cat.skytile-state").exists()
    assert_same_catalog(out, clean_import(files, tmp_path / "ref", "2"), ids_of(files))


def test_fixed_then_interrupted_keeps_split(pq_inputs, tmp_path):
    """After the fix, the resumed run is interrupted (SIGINT) while reducing: the
    next resume reuses its split and the leaves written (the older version's
    record and the tombstone left in the log do not count as a change)."""
    d, files, bad = pq_inputs
    out = tmp_path / "cat"
    opts = ["--highest-order", "6", "--pixel-threshold", "150", "--threads", "1"]
    args = [*files, "--output", out, *opts]
    assert run_skytile("import", *args, check=False, timeout=300).returncode == 1
    write_pq(good_table(2, n=2600, seed=4), bad)
    log = tmp_path / "log.txt"
    p = subprocess.Popen([str(SKYTILE), "import", *map(str, args), "--resume"],
                         stderr=open(log, "w"))
    build = tmp_path / "cat.tmp-skytile" / "dataset"
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        if build.exists() and len(list(build.glob("Norder=*/Dir=*/Npix=*.parquet"))) >= 3:
            p.send_signal(signal.SIGINT)
            break
        time.sleep(0.001)
    p.wait(timeout=60)
    assert p.returncode == 130, log.read_text()
    assert (tmp_path / "cat.skytile-state" / "split" / "index.bin").exists()
    kept = [(f, f.stat().st_ino) for f in build.glob("Norder=*/Dir=*/Npix=*.parquet")]
    assert len(kept) >= 2
    r = run_skytile("import", *args, "--resume", check=True, timeout=300)
    assert first_mapping(r.stderr) == f"Mapping: {NGOOD + 1}/{NGOOD + 1}"
    for f, ino in kept:  # the leaves written before the interruption were kept
        assert (out / "dataset" / f.relative_to(build)).stat().st_ino == ino
    ref = tmp_path / "ref"
    run_skytile("import", *files, "--output", ref, *opts, check=True, timeout=300)
    assert_same_catalog(out, ref, ids_of(files))


def test_torn_tombstone(pq_inputs, tmp_path):
    """kill -9 while the tombstone is written (its record torn): the log is cut
    before it, so the bad file's histogram is reused, the split fails again alike
    and writes the tombstone again; fixed, the resumed catalog is a clean one's."""
    d, files, bad = pq_inputs
    out = tmp_path / "cat"
    args = [*files, "--output", out, *ARGS, "--threads", "1"]
    r = run_skytile("import", *args, check=False, timeout=300)
    assert r.returncode == 1
    fl = failure_lines(r.stderr)
    lg = tmp_path / "cat.skytile-state" / "map" / "log-0.bin"
    b = lg.read_bytes()
    assert b[-10:] == b"\x80" * 9 + b"\x01"  # ends with the tombstone's 2^63
    lg.write_bytes(b[:-3])
    assert "tomb" not in [k for k, *_ in map_records(tmp_path / "cat.skytile-state")[str(bad)]]
    r2 = run_skytile("import", *args, "--resume", check=False, timeout=300)
    assert r2.returncode == 1 and failure_lines(r2.stderr) == fl
    assert first_mapping(r2.stderr) == f"Mapping: {NGOOD + 1}/{NGOOD + 1}"
    kinds = [k for k, *_ in map_records(tmp_path / "cat.skytile-state")[str(bad)]]
    assert kinds == ["hist", "tomb"], kinds
    write_pq(good_table(2, n=900, seed=12), bad)
    r3 = run_skytile("import", *args, "--resume", check=True, timeout=300)
    assert first_mapping(r3.stderr) == f"Mapping: {NGOOD}/{NGOOD + 1}"
    assert_same_catalog(out, clean_import(files, tmp_path / "ref", "1"), ids_of(files))


def test_parquet_contradicting_its_arrow_schema(tmp_path):
    """A Parquet input whose ARROW:schema says fixed_size_list[3] while a row holds 2
    values (pyarrow writes the lists; the schema message is replaced by one from
    pyarrow's own serializer): a clear error naming the file and the column, the good
    file's rows untouched by the run (no catalog), no crash."""
    import base64
    good = tmp_path / "good.parquet"
    bad = tmp_path / "bad.parquet"
    n = 50
    base = {"id": pa.array(np.arange(n, dtype=np.int64)),
            "ra": pa.array(np.linspace(10, 20, n)), "dec": pa.array(np.linspace(-5, 5, n))}
    fixed = pa.schema([("id", pa.int64()), ("ra", pa.float64()), ("dec", pa.float64()),
                       ("v", pa.list_(pa.float32(), 3))])
    pq.write_table(pa.table({**base, "v": pa.array([[1.0, 2.0, 3.0]] * n, pa.list_(pa.float32(), 3))}), good)
    vals = [[1.0, 2.0, 3.0]] * n
    vals[37] = [1.0, 2.0]
    t = pa.table({**base, "v": pa.array(vals, pa.list_(pa.float32()))})
    msg = base64.b64encode(fixed.serialize().to_pybytes())
    with pq.ParquetWriter(bad, t.schema, store_schema=False) as w:
        w.write_table(t)
        w.add_key_value_metadata({"ARROW:schema": msg})
    assert pq.read_metadata(bad).metadata[b"ARROW:schema"] == msg
    out = tmp_path / "cat"
    p = run_skytile("import", str(good), str(bad), "--output", str(out), "--highest-order", "2")
    assert p.returncode != 0, p.stderr
    assert str(bad) in p.stderr and "'v'" in p.stderr and "fixed_size_list[3]" in p.stderr, p.stderr
    assert "a list of 2 values" in p.stderr, p.stderr
    assert not out.exists()
