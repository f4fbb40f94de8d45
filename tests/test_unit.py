"""Runs every C unit test (tests/unit/*.c) as its own pytest case."""
import subprocess

import pytest

from conftest import BUILD, ROOT

UNIT = BUILD / "unit_tests"


def _names():
    try:
        out = subprocess.run([str(UNIT), "--list"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:  # build missing: one failing case
        return [f"<unit_tests unavailable: {e}>"]
    return out.stdout.split()


@pytest.mark.parametrize("name", _names())
def test_unit(name):
    p = subprocess.run([str(UNIT), name], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
