"""Shared pytest fixtures: where the build, the CLI and ../shared are."""
import os
import pathlib
import struct
import subprocess
import zlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / os.environ.get("SKYTILE_BUILD", "build")


def _find_shared():
    """../shared beside the repository (as in CI); for a clone made elsewhere (e.g.
    `git clone . /tmp/fresh`), the shared/ beside the repository it was cloned from.
    SKYTILE_SHARED overrides both."""
    if os.environ.get("SKYTILE_SHARED"):
        return pathlib.Path(os.environ["SKYTILE_SHARED"])
    here = ROOT.parent / "shared"
    if here.is_dir():
        return here
    try:
        origin = subprocess.run(["git", "-C", str(ROOT), "remote", "get-url", "origin"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and pathlib.Path(origin).is_dir() and (pathlib.Path(origin).parent / "shared").is_dir():
        return pathlib.Path(origin).parent / "shared"
    return here


SHARED = _find_shared().resolve()
# the C unit tests and any child process find the fixtures through the same path
os.environ["SKYTILE_SHARED"] = str(SHARED)
SAN = os.environ.get("SKYTILE_SAN") == "1"
SKYTILE = BUILD / "skytile"


def run_skytile(*args, input=None, check=False, timeout=120, cwd=None):
    """Run the CLI; returns CompletedProcess with text stdout/stderr."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([str(SKYTILE), *map(str, args)], input=input, capture_output=True,
                       text=isinstance(input, str) or input is None, timeout=timeout, env=env, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"skytile {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def shared():
    if not SHARED.is_dir():
        pytest.skip("../shared not present")
    return SHARED


def write_hive_partitions(t, ds, order, row_group_size, with_metadata):
    """Write table t (with ra/dec columns) as an IRSA-like hive dataset under ds:
    healpix_k0=A/healpix_k{order}=B/part-0.parquet (healpy NESTED pixels), with a
    _metadata file when with_metadata.  Returns ds."""
    import healpy as hp
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    pix = hp.ang2pix(1 << order, t["ra"].to_numpy(), t["dec"].to_numpy(), nest=True, lonlat=True)
    collector = []
    for p in np.unique(pix):
        rel = f"healpix_k0={p >> (2 * order)}/healpix_k{order}={p}"
        (ds / rel).mkdir(parents=True)
        pq.write_table(t.filter(pa.array(pix == p)), ds / rel / "part-0.parquet",
                       row_group_size=row_group_size, metadata_collector=collector)
        collector[-1].set_file_path(f"{rel}/part-0.parquet")
    if with_metadata:
        pq.write_metadata(t.schema, ds / "_metadata", metadata_collector=collector)
    return ds


def map_log_payloads(state):
    """The valid records of an import state's map logs (STATE/map/log-*.bin), log by log,
    each as its list of varints (state.c: a 16-byte header, then frames of uint32 length,
    uint32 CRC-32 and the payload; a torn or corrupt frame ends its log).  Payload:
    input index, size, mtime (ns), n, then n (pixel delta, count) pairs; a failure
    record (tombstone) has n = 2**63 and nothing after it."""
    for lg in sorted((state / "map").glob("log-*.bin")):
        b = lg.read_bytes()
        assert b[:8] == b"STMAPLG1"
        p = 16
        while p + 8 <= len(b):
            n, crc = struct.unpack_from("<II", b, p)
            if p + 8 + n > len(b) or zlib.crc32(b[p + 8:p + 8 + n]) != crc:
                break
            out, x, sh = [], 0, 0
            for c in b[p + 8:p + 8 + n]:
                x |= (c & 0x7F) << sh
                sh += 7
                if not c & 0x80:
                    out.append(x)
                    x, sh = 0, 0
            yield out
            p += 8 + n
