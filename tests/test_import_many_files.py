"""`skytile import` of many tiny input files (3000 CSV files of 20 rows).

The split stage gathers rows across input files before it writes the
spill files, so the number of spill row groups (whose metadata the spill
writer keeps until its footer) is bounded by the buckets x flushes, not
proportional to the input files (500,000 tiny files once needed 24 GB).
Checked: stopped by SIGINT once the reducing stage started, the mapping
state is one log per worker (not one file per input) and the spill files
of the state directory hold at most threads x leaves row groups; the
resumed catalog holds every input row (pyarrow on the concatenated input),
healpy's `_healpix_29`, sorted leaves, and equals a --threads 1 run.
"""
import signal
import subprocess
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import SKYTILE, run_skytile

hp = pytest.importorskip("healpy")

NFILES, NROWS = 3000, 20
ARGS = ["--highest-order", "6", "--pixel-threshold", "4000", "--threads", "2"]


def leaves(cat):
    return sorted(str(p.relative_to(cat)) for p in cat.glob("dataset/Norder=*/Dir=*/Npix=*.parquet"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(11)
    n = NFILES * NROWS
    t = pa.table({"id": np.arange(n, dtype=np.int64), "ra": rng.uniform(0, 360, n),
                  "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))), "mag": rng.normal(15, 2, n)})
    files = []
    for k in range(NFILES):
        f = d / "in" / f"f{k:05d}.csv"
        f.parent.mkdir(exist_ok=True)
        pacsv.write_csv(t.slice(k * NROWS, NROWS), f)
        files.append(f)
    lst = d / "list.txt"
    lst.write_text("".join(f"{f}\n" for f in files))
    return d, lst, files


def test_many_tiny_files(inputs):
    d, lst, files = inputs
    out, log = d / "cat", d / "log.txt"
    p = subprocess.Popen([str(SKYTILE), "import", f"@{lst}", "--output", str(out), *ARGS],
                         stderr=open(log, "w"), text=True)
    sent = False
    deadline = time.monotonic() + 300
    while p.poll() is None and time.monotonic() < deadline:
        if "Reducing" in log.read_text():
            p.send_signal(signal.SIGINT)
            sent = True
            break
        time.sleep(0.002)
    p.wait(timeout=120)
    state = d / "cat.skytile-state"
    if sent and p.returncode == 130:
        # the mapping state of 3000 inputs: one log per worker, not one file per input
        assert 1 <= len(list((state / "map").iterdir())) <= 2
        assert sorted(x.name for x in state.iterdir() if x.is_file()) == ["inputs.lst", "options.txt"]
        spills = sorted((state / "split").glob("spill-*.parquet"))
        assert 1 <= len(spills) <= 2
        rgs = sum(pq.read_metadata(s).num_row_groups for s in spills)
        r = run_skytile("import", f"@{lst}", "--output", out, *ARGS, "--resume", check=True, timeout=300)
        assert not state.exists()
    else:
        assert p.returncode == 0, log.read_text()
        rgs = None
    lv = leaves(out)
    assert len(lv) > 4
    if rgs is not None:  # one flush per worker here: at most one row group per bucket
        assert rgs <= 2 * len(lv), (rgs, len(lv))
    exp = pa.concat_tables([pacsv.read_csv(f) for f in files])
    got = pa.concat_tables([pq.read_table(out / f) for f in lv])
    assert got.num_rows == exp.num_rows == NFILES * NROWS
    got_s = got.sort_by("id")
    for c in ("id", "ra", "dec", "mag"):
        assert np.array_equal(got_s[c].to_numpy(), exp.sort_by("id")[c].to_numpy()), c
    h = hp.ang2pix(2**29, got_s["ra"].to_numpy(), got_s["dec"].to_numpy(), nest=True, lonlat=True)
    assert np.array_equal(got_s["_healpix_29"].to_numpy(), h)
    for f in lv:
        assert np.all(np.diff(pq.read_table(out / f, columns=["_healpix_29"])[0].to_numpy()) >= 0)
    # the run order (input file, batch) does not depend on the thread count
    one = d / "cat1"
    run_skytile("import", f"@{lst}", "--output", one, *[a if a != "2" else "1" for a in ARGS],
                check=True, timeout=300)
    assert leaves(one) == lv
    for f in lv:
        assert pq.read_table(one / f).equals(pq.read_table(out / f)), f
