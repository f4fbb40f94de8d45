"""`skytile import` stopped by Ctrl-C (SIGINT) or kill -9, then resumed (issue 5).

One SIGINT during the mapping, splitting or reducing stage must stop the
import within ~2 s with exit code 130 and the message telling to resume,
keep the state directory (and the leaves already written), and never leave
a catalog at --output; the same command with --resume must then give a
catalog identical to an uninterrupted run: same files, same row counts, same
rows in the same order (compared with pyarrow), `_healpix_29` equal to
healpy's.  A second SIGINT kills at once (default action) and the state is
still resumable.  The mapping state is one append-only log per worker
(STATE/map/log-W.bin, framed records with a CRC): a torn or corrupt record
is cut off and only the inputs it (and what follows it) named are mapped
again — checked by decoding the log here (independently of skytile) and
by the number of inputs the resumed run reports as already mapped.
"""
import signal
import struct
import subprocess
import time
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SKYTILE, run_skytile

hp = pytest.importorskip("healpy")

NFILES, NROWS = 8, 40000


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("intr")
    rng = np.random.default_rng(11)
    files = []
    for k in range(NFILES):
        z = rng.uniform(-1, 1, NROWS)
        t = pa.table({"id": np.arange(k * NROWS, (k + 1) * NROWS), "ra": rng.uniform(0, 360, NROWS),
                      "dec": np.degrees(np.arcsin(z)), "x": rng.normal(size=NROWS),
                      "name": pa.array([f"n{i % 97}" for i in range(NROWS)])})
        f = d / f"in{k}.parquet"
        pq.write_table(t, f, row_group_size=20000)
        files.append(f)
    return d, files


ARGS = ["--highest-order", "6", "--pixel-threshold", "8000", "--threads", "1"]


def leaves(cat):
    return sorted(p.relative_to(cat) for p in (cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))


@pytest.fixture(scope="module")
def reference(inputs):
    d, files = inputs
    out = d / "ref"
    run_skytile("import", *files, "--output", out, *ARGS, check=True, timeout=300)
    return out


def assert_same_catalog(a, b):
    la, lb = leaves(a), leaves(b)
    assert la == lb and la
    for f in la:
        ta, tb = pq.read_table(a / f), pq.read_table(b / f)
        assert ta.num_rows == tb.num_rows
        assert ta.equals(tb), f
    assert (a / "partition_info.csv").read_text() == (b / "partition_info.csv").read_text()
    ma, mb = pq.read_metadata(a / "dataset" / "_metadata"), pq.read_metadata(b / "dataset" / "_metadata")
    assert ma.num_rows == mb.num_rows == NFILES * NROWS


def start(files, out, log):
    return subprocess.Popen([str(SKYTILE), "import", *map(str, files), "--output", str(out), *ARGS],
                            stderr=open(log, "w"), text=True)


@pytest.mark.parametrize("stage,at", [("Mapping", 1), ("Splitting", 1), ("Reducing", 5),
                                      ("double", 5)])
def test_sigint_then_resume(inputs, reference, stage, at):
    d, files = inputs
    out = d / f"cat_{stage}"
    log = d / f"log_{stage}.txt"
    p = start(files, out, log)
    build = d / f"cat_{stage}.tmp-skytile" / "dataset"
    sent = None
    deadline = time.monotonic() + 120
    while sent is None and p.poll() is None and time.monotonic() < deadline:
        if stage in ("Mapping", "Splitting"):
            ready = any(l.startswith(f"{stage}: {at}/") for l in log.read_text().splitlines())
        else:  # at leaves written
            ready = build.exists() and len(list(build.glob("Norder=*/Dir=*/Npix=*.parquet"))) >= at
        if ready:
            sent = time.monotonic()
            p.send_signal(signal.SIGINT)
            if stage == "double":
                p.send_signal(signal.SIGINT)
        time.sleep(0.002)
    p.wait(timeout=60)
    rest = log.read_text()
    assert sent is not None, rest
    elapsed = time.monotonic() - sent
    assert elapsed < 2.0, elapsed
    state = d / f"cat_{stage}.skytile-state"
    if stage == "double":
        # killed by the second signal (default action), or already stopped by the first
        assert p.returncode in (-signal.SIGINT, 130), (p.returncode, rest)
    else:
        assert p.returncode == 130, rest
        assert "interrupted; run the same command with --resume to continue" in rest
    assert not out.exists()
    assert state.is_dir()
    logs = list((state / "map").iterdir())
    assert [x.name for x in logs] == ["log-0.bin"]  # one log per worker (--threads 1)
    kept = []
    if stage in ("Reducing", "double"):
        build = d / f"cat_{stage}.tmp-skytile" / "dataset"
        kept = [(f, f.stat().st_ino) for f in build.glob("Norder=*/Dir=*/Npix=*.parquet")]
        assert len(kept) >= at - 1
        assert (state / "split" / "index.bin").exists()
    r = run_skytile("import", *files, "--output", out, *ARGS, "--resume", check=True, timeout=300)
    assert "Reducing" in r.stderr
    assert not state.exists()
    assert not (d / f"cat_{stage}.tmp-skytile").exists()
    for f, ino in kept:  # leaves written before the interruption were kept
        assert (out / "dataset" / f.relative_to(f.parents[2])).stat().st_ino == ino
    assert_same_catalog(out, reference)
    # and the reference is right: all input rows, healpy's _healpix_29, sorted per leaf
    allt = pa.concat_tables([pq.read_table(out / f) for f in leaves(out)])
    assert np.array_equal(np.sort(allt["id"].to_numpy()), np.arange(NFILES * NROWS))
    h = hp.ang2pix(2**29, allt["ra"].to_numpy(), allt["dec"].to_numpy(), nest=True, lonlat=True)
    assert np.array_equal(allt["_healpix_29"].to_numpy(), h)
    for f in leaves(out):
        assert np.all(np.diff(pq.read_table(out / f, columns=["_healpix_29"])[0].to_numpy()) >= 0)


def log_records(path):
    """(offset, length) of the valid records of a map log: 16-byte header, then
    (uint32 length, uint32 zlib CRC-32 of the payload, payload) frames."""
    b = path.read_bytes()
    assert b[:8] == b"STMAPLG1"
    out, p = [], 16
    while p + 8 <= len(b):
        n, crc = struct.unpack_from("<II", b, p)
        if p + 8 + n > len(b) or zlib.crc32(b[p + 8:p + 8 + n]) != crc:
            break
        out.append((p, 8 + n))
        p += 8 + n
    return out


def first_mapping_count(stderr):
    """The first progress line of the mapping stage: inputs already mapped."""
    line = next(l for l in stderr.splitlines() if l.startswith("Mapping: "))
    return int(line.split()[1].split("/")[0])


def failed_run(d, files, out):
    """Run with a corrupt input after the good ones: every good input is mapped and
    logged, then the run fails (exit 1) keeping its state."""
    bad = d / "bad.parquet"
    bad.write_bytes(b"PAR1" + b"\0" * 50 + b"PAR1")
    r = run_skytile("import", *files, bad, "--output", out, *ARGS, check=False)
    assert r.returncode == 1 and "bad.parquet" in r.stderr, r.stderr
    return bad


@pytest.mark.parametrize("damage", ["torn", "flipped", "junk"])
def test_damaged_map_log_then_resume(inputs, reference, damage):
    """A torn last record (kill -9 in the middle of a write), a corrupt byte, or junk
    after the last record: the records before the damage are reused, the rest mapped
    again, and the catalog is identical to an uninterrupted run."""
    d, files = inputs
    out = d / f"cat_{damage}"
    failed_run(d, files, out)
    lg = d / f"cat_{damage}.skytile-state" / "map" / "log-0.bin"
    recs = log_records(lg)
    assert len(recs) == NFILES and lg.stat().st_size == recs[-1][0] + recs[-1][1]
    b = bytearray(lg.read_bytes())
    if damage == "torn":
        b = b[:-5]
        keep = NFILES - 1
    elif damage == "flipped":
        b[recs[2][0] + 12] ^= 0x40  # inside the third record's payload
        keep = 2
    else:
        b += struct.pack("<II", 1000, 0) + b"\x01\x02"
        keep = NFILES
    lg.write_bytes(bytes(b))
    assert len(log_records(lg)) == keep
    # the corrupt input has no record: it may be left out
    r = run_skytile("import", *files, "--output", out, *ARGS, "--resume", check=True, timeout=300)
    assert first_mapping_count(r.stderr) == keep
    assert_same_catalog(out, reference)


@pytest.mark.parametrize("stage", ["Mapping", "Splitting"])
def test_kill9_then_resume(inputs, reference, stage):
    """kill -9 while mapping or splitting; --resume gives the same catalog."""
    d, files = inputs
    out, log = d / f"cat_k9{stage}", d / f"log_k9{stage}.txt"
    p = start(files, out, log)
    deadline = time.monotonic() + 120
    killed = False
    while p.poll() is None and time.monotonic() < deadline:
        if any(l.startswith(f"{stage}: 1/") for l in log.read_text().splitlines()):
            p.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    p.wait(timeout=60)
    assert killed and p.returncode == -signal.SIGKILL, log.read_text()
    assert not out.exists()
    r = run_skytile("import", *files, "--output", out, *ARGS, "--resume", check=True, timeout=300)
    if stage == "Splitting":  # every file was mapped and its record written before splitting
        assert first_mapping_count(r.stderr) == NFILES
    assert_same_catalog(out, reference)


def test_resume_rules(inputs, reference, tmp_path):
    """Without --resume, leftover state is an error saying what to do (and --overwrite
    discards it); a resumed run with other partitioning options or another input set
    is an error; leaving out an input that has no record (the failed one) is fine."""
    d, files = inputs
    out = tmp_path / "c" / "cat"  # its parent is created (mkdir -p)
    bad = failed_run(d, files, out)
    r = run_skytile("import", *files, "--output", out, *ARGS, check=False)
    assert r.returncode == 1 and "--resume" in r.stderr and "--overwrite" in r.stderr, r.stderr
    assert "unfinished import" in r.stderr
    other = [a if a != "6" else "7" for a in ARGS]
    r = run_skytile("import", *files, "--output", out, *other, "--resume", check=False)
    assert r.returncode == 1 and "highest=6" in r.stderr and "highest=7" in r.stderr, r.stderr
    extra = tmp_path / "extra.parquet"
    extra.write_bytes(files[0].read_bytes())
    r = run_skytile("import", *files, extra, "--output", out, *ARGS, "--resume", check=False)
    assert r.returncode == 1 and "extra.parquet" in r.stderr and "not among the inputs" in r.stderr
    r = run_skytile("import", *files[1:], "--output", out, *ARGS, "--resume", check=False)
    assert r.returncode == 1 and "was mapped" in r.stderr and files[0].name in r.stderr, r.stderr
    # the state survived the refused runs: all the good inputs are taken from it
    r = run_skytile("import", *files, "--output", out, *ARGS, "--resume", check=True)
    assert first_mapping_count(r.stderr) == NFILES
    assert_same_catalog(out, reference)
    # --overwrite discards leftover state (the first progress line then counts one file)
    out2 = tmp_path / "cat2"
    failed_run(d, files, out2)
    r = run_skytile("import", *files, "--output", out2, *ARGS, "--overwrite", check=True)
    assert first_mapping_count(r.stderr) == 1
    assert_same_catalog(out2, reference)
