"""Byte sources end to end (src/io/io.c through the CLI): the same Parquet
file read through mmap, through the pread fallback (SKYTILE_NO_MMAP=1) and
through a pipe (/dev/stdin, read whole at open) gives the rows pyarrow reads;
a missing file is a clean I/O error naming the path and the reason."""
import json
import os
import subprocess

import pytest

from conftest import SHARED, SKYTILE, run_skytile

pq = pytest.importorskip("pyarrow.parquet")

FILE = SHARED / "fixtures" / "parquet-testing" / "data" / "hadoop_lz4_compressed_larger.parquet"


def _want():
    return pq.read_table(FILE).column("a").to_pylist()


def _rows(stdout):
    return [json.loads(line)["a"] for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("no_mmap", ["0", "1"])
def test_mmap_and_pread_read_the_same(shared, monkeypatch, no_mmap):
    monkeypatch.setenv("SKYTILE_NO_MMAP", no_mmap)
    p = run_skytile("parquet", "cat", FILE, "--format", "jsonl", check=True)
    assert _rows(p.stdout) == _want()


def test_read_from_pipe(shared):
    # input= goes through a pipe (not a regular file), so it cannot be mapped.
    p = subprocess.run([str(SKYTILE), "parquet", "cat", "/dev/stdin", "--format", "jsonl"],
                       input=FILE.read_bytes(), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert _rows(p.stdout.decode()) == _want()


def test_missing_file_is_io_error(tmp_path):
    missing = tmp_path / "nope.parquet"
    p = run_skytile("parquet", "cat", missing)
    assert p.returncode == 1
    assert p.stderr.startswith("skytile: ")
    assert str(missing) in p.stderr and os.strerror(2) in p.stderr
