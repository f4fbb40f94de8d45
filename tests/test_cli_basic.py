"""CLI basics: help, version, unknown commands."""
from conftest import run_skytile


def test_help_lists_commands():
    p = run_skytile("--help")
    assert p.returncode == 0
    assert "parquet" in p.stdout and "healpix" in p.stdout


def test_version():
    p = run_skytile("--version")
    assert p.returncode == 0 and p.stdout.startswith("skytile ")


def test_unknown_command_is_usage_error():
    p = run_skytile("frobnicate")
    assert p.returncode == 2
    assert "unknown command 'frobnicate'" in p.stderr
