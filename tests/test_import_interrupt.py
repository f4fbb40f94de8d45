"""`skytile import` stopped by Ctrl-C (SIGINT), then resumed (issue 5).

One SIGINT during the mapping, splitting or reducing stage must stop the
import within ~2 s with exit code 130 and the message telling to resume,
keep the state directory (and the leaves already written), and never leave
a catalog at --output; the same command with --resume must then give a
catalog identical to an uninterrupted run: same files, same row counts, same
rows in the same order (compared with pyarrow), `_healpix_29` equal to
healpy's.  A second SIGINT kills at once (default action) and the state is
still resumable.
"""
import signal
import subprocess
import time

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
    hists = list((state / "map").glob("*.hist"))
    assert hists and len(hists) <= NFILES
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
