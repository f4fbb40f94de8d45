"""Damaged Parquet files must fail cleanly: `skytile parquet cat` on truncated
and bit-flipped copies of every parquet-testing fixture (and on bad_data/ and
the encrypted files as they are) exits 0 or 1 -- never a signal, a usage error
(2) or a hang -- and on exit 1 prints "skytile: <file>: ..." on stderr.  Under
sanitizers (SKYTILE_SAN=1) stderr must hold no ASan/UBSan/LSan report.

The mutations are deterministic (random.Random seeded with the file name):
  cuts   a prefix of the file: inside the leading magic, around the footer
         length and trailing magic, inside the footer, and at random points;
         and (a quarter of them) the data cut at a random point with the
         original footer re-appended, so chunk offsets point past the end;
  flips  one byte XORed with a random non-zero value: in the footer (Thrift
         metadata), on the footer length / magic, and anywhere.
40 + 40 per file normally, 12 + 12 under sanitizers.  Files are written to a
pytest tmp dir and the CLI runs on two threads.  Without sanitizers each run
must also stay under 1 GiB peak RSS: a damaged 20 KB file must not make the
reader allocate and touch gigabytes on the say-so of its metadata.
"""
import concurrent.futures
import os
import random
import struct
import subprocess
import threading

import pytest

from conftest import ROOT, SAN, SHARED, SKYTILE

N_CUTS = 12 if SAN else 40
N_FLIPS = 12 if SAN else 40
TIMEOUT = 60 if SAN else 20
MAX_RSS_MIB = 1024   # peak RSS per run (normal builds; ASan's shadow memory would distort it)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "ERROR: UndefinedBehaviorSanitizer")

PQ = SHARED / "fixtures" / "parquet-testing"


def _inputs():
    files = sorted((PQ / "data").glob("*.parquet")) + sorted((PQ / "data").glob("*.parquet.encrypted"))
    return files


def _bad_data():
    return sorted((PQ / "bad_data").glob("*.parquet"))


def _footer_start(data):
    """Offset of the Thrift footer if the trailer looks sane, else None."""
    if len(data) < 12:
        return None
    (n,) = struct.unpack("<I", data[-8:-4])
    start = len(data) - 8 - n
    return start if 4 <= start < len(data) - 8 else None


def _dedupe(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def cut_points(data, rng, n):
    """Prefix lengths in priority order: magic, trailer, footer, then random."""
    size = len(data)
    fixed = [0, 1, 3, 4, 5, 8, size - 1, size - 4, size - 5, size - 8, size - 9, size - 2,
             size - 3, size - 6, size - 7, size // 2]
    foot = _footer_start(data)
    in_footer = [rng.randrange(foot, size - 8) for _ in range(8)] if foot is not None else []
    anywhere = [rng.randrange(0, size) for _ in range(3 * n)]
    # Interleave so that a small n still covers every kind.
    order = fixed[:4] + in_footer[:2] + fixed[4:8] + in_footer[2:4] + fixed[8:] + in_footer[4:]
    pts = [p for p in _dedupe(order + anywhere) if 0 <= p < size]
    return pts[:n]


def flips(data, rng, n):
    """(position, xor) pairs in priority order: footer, trailer, anywhere."""
    size = len(data)
    foot = _footer_start(data)
    pos = []
    if foot is not None:
        pos += [rng.randrange(foot, size - 8) for _ in range(n // 2)]
    pos += [size - 8, size - 5, size - 1, 0]           # footer length, magic
    pos += [rng.randrange(0, size) for _ in range(3 * n)]
    pos = _dedupe(p for p in pos if 0 <= p < size)
    # Interleave footer and trailer/anywhere positions so a small n mixes them.
    half = (n // 2) if foot is not None else 0
    order = []
    a, b = pos[:half], pos[half:]
    while a or b:
        if a:
            order.append(a.pop(0))
        if b:
            order.append(b.pop(0))
    return [(p, rng.randrange(1, 256)) for p in order[:n]]


def mutations(path):
    data = path.read_bytes()
    rng = random.Random(path.name)
    n_keep = N_CUTS // 4
    out = [(f"cut{p}", data[:p]) for p in cut_points(data, rng, N_CUTS - n_keep)]
    # Data cut short but the footer kept: column chunks now point past the end.
    foot = _footer_start(data)
    if foot is not None and foot > 4:
        cuts = _dedupe(rng.randrange(4, foot) for _ in range(3 * n_keep))[:n_keep]
        out += [(f"cutkeep{p}", data[:p] + data[foot:]) for p in cuts]
    for p, x in flips(data, rng, N_FLIPS):
        b = bytearray(data)
        b[p] ^= x
        out.append((f"flip{p}x{x:02x}", bytes(b)))
    return out


def _run(cmd, env):
    """Run cmd; returns (exit code or None on timeout, stderr text, peak RSS in MiB)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    try:
        err = p.stderr.read().decode("utf-8", "replace")
        p.stderr.close()
        _, status, usage = os.wait4(p.pid, 0)   # wait4: the child's own peak RSS
    finally:
        timed_out = not timer.is_alive()
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)   # already reaped
    return (None if timed_out else p.returncode), err, usage.ru_maxrss / 1024


def run_cat(path):
    env = dict(os.environ)
    # Sanitizer exit codes differ from ours so that a report can never pass as "exit 1".
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=86"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
    env["LSAN_OPTIONS"] = "exitcode=88"
    rc, err, rss = _run([str(SKYTILE), "parquet", "cat", str(path), "--format", "jsonl"], env)
    if rc is None:
        return f"{path.name}: timed out after {TIMEOUT} s"
    if rc < 0:
        return f"{path.name}: killed by signal {-rc}: {err[-2000:]}"
    if rc not in (0, 1):
        return f"{path.name}: exit {rc}: {err[-2000:]}"
    for m in SANITIZER_MARKERS:
        if m in err:
            return f"{path.name}: sanitizer report: {err[-3000:]}"
    if rc == 1:
        if not err.startswith("skytile: "):
            return f"{path.name}: stderr does not start with 'skytile: ': {err[:500]!r}"
        if path.name not in err:
            return f"{path.name}: error message does not name the file: {err[:500]!r}"
    # A damaged small file must not make us allocate (and touch) huge buffers.
    if not SAN and rss > MAX_RSS_MIB:
        return f"{path.name}: peak RSS {rss:.0f} MiB > {MAX_RSS_MIB} MiB (exit {rc}): {err[:300]}"
    return None


def run_all(paths):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        problems = [r for r in pool.map(run_cat, paths) if r]
    return problems


def _require_cli():
    if not SKYTILE.exists():
        pytest.fail(f"{SKYTILE} not built")


def test_mutation_generator_is_deterministic_and_covers_footer(tmp_path):
    data = bytes(range(256)) * 40 + struct.pack("<I", 1000) + b"PAR1"
    a = mutations_of_bytes(data, "x.parquet")
    b = mutations_of_bytes(data, "x.parquet")
    assert a == b and len(a) == N_CUTS + N_FLIPS
    assert sum(n.startswith("cutkeep") for n, _ in a) == N_CUTS // 4
    cuts = [int(n[3:]) for n, _ in a if n.startswith("cut") and not n.startswith("cutkeep")]
    foot = len(data) - 8 - 1000
    assert 0 in cuts and len(data) - 1 in cuts and any(foot <= c < len(data) - 8 for c in cuts)
    fl = [int(n[4:].split("x")[0]) for n, _ in a if n.startswith("flip")]
    assert sum(foot <= p < len(data) - 8 for p in fl) >= N_FLIPS // 3
    assert all(m != data for _, m in a)


def mutations_of_bytes(data, name):
    """mutations() for in-memory bytes (used by the generator self-test)."""
    class _P:
        def __init__(self):
            self.name = name

        def read_bytes(self):
            return data
    return mutations(_P())


@pytest.mark.parametrize("src", _inputs(), ids=lambda p: p.name)
def test_damaged_fixture_fails_cleanly(src, tmp_path):
    _require_cli()
    paths = [src]   # the intact file too (encrypted ones must fail cleanly)
    stem = src.name.split(".")[0]
    for tag, blob in mutations(src):
        p = tmp_path / f"{stem}.{tag}.parquet"
        p.write_bytes(blob)
        paths.append(p)
    problems = run_all(paths)
    assert not problems, f"{len(problems)} of {len(paths)} inputs misbehaved:\n" + "\n".join(problems[:5])


def test_bad_data_files_fail_cleanly():
    _require_cli()
    files = _bad_data()
    if not files:
        pytest.skip("parquet-testing/bad_data not present")
    problems = run_all(files)
    assert not problems, "\n".join(problems)


def test_promoted_fuzz_inputs_fail_cleanly():
    """Inputs that once crashed fuzz_parquet (tests/fuzz/regress/*.parquet)."""
    files = sorted((ROOT / "tests" / "fuzz" / "regress").glob("*.parquet"))
    if not files:
        pytest.skip("no promoted fuzz inputs yet")
    _require_cli()
    problems = run_all(files)
    assert not problems, "\n".join(problems)
