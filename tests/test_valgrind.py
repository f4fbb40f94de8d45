"""A few representative CLI runs under valgrind memcheck: no invalid access, no leak.

ASan covers the whole suite; valgrind checks the uninstrumented -O2 build that users run
(e.g. uninitialised reads, which ASan does not see).
"""
import shutil
import subprocess

import pytest

from conftest import SAN, SKYTILE

pytestmark = pytest.mark.skipif(SAN or shutil.which("valgrind") is None,
                                reason="valgrind runs on the normal build only")


def _cases(shared):
    d = shared / "fixtures" / "parquet-testing" / "data"
    return [
        (["parquet", "cat", d / "nested_maps.snappy.parquet", "--format", "jsonl"], None),
        (["parquet", "cat", d / "delta_byte_array.parquet"], None),
        (["parquet", "cat", d / "alltypes_dictionary.parquet", "--format", "csv"], None),
        (["parquet", "meta", d / "alltypes_tiny_pages.parquet"], None),
        (["parquet", "schema", d / "nested_structs.rust.parquet"], None),
        (["parquet", "cat", shared / "fixtures" / "parquet-testing" / "bad_data" / "PARQUET-1481.parquet"], None),
        (["healpix", "ang2pix", "--order", "29"], "10 20\n0 90\n359.9 -89.99\n"),
        (["healpix", "cone", "--order", "5", "10", "-30", "3"], None),
        (["info", shared / "fixtures" / "hats" / "small_sky_o1_collection"], None),
    ]


def test_valgrind_clean(shared, tmp_path):
    for args, stdin in _cases(shared):
        p = subprocess.run(["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                            "--errors-for-leak-kinds=definite,indirect", str(SKYTILE), *map(str, args)],
                           input=stdin, capture_output=True, text=True, timeout=300)
        assert p.returncode != 99, f"valgrind errors for {args}:\n{p.stderr[-4000:]}"
        assert "==" not in p.stderr or "Invalid" not in p.stderr, p.stderr[-4000:]


def _vg(args, **kw):
    p = subprocess.run(["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite,indirect", str(SKYTILE), *map(str, args)],
                       capture_output=True, text=True, timeout=600, **kw)
    assert p.returncode != 99, f"valgrind errors for {args}:\n{p.stderr[-4000:]}"
    assert p.returncode == 0, f"{args} failed:\n{p.stderr[-4000:]}"
    return p


def test_valgrind_survey_workflow(tmp_path):
    """generate -> import -> lightcurves (with plots) -> xmatch -> plot, all under memcheck."""
    survey, cat = tmp_path / "survey", tmp_path / "cat"
    _vg(["generate", "--output", survey, "--objects", "300", "--epochs", "12", "--targets", "3",
         "--cone", "40,-20,2", "--seed", "7"])
    _vg(["import", survey / "detections", "--output", cat, "--pixel-threshold", "1000",
         "--highest-order", "8", "--threads", "2"])
    lc = tmp_path / "lc.parquet"
    _vg(["lightcurves", "--catalog", cat, "--targets", survey / "targets.csv", "--radius-arcsec", "1",
         "--time-column", "mjd", "--id-column", "id", "--band-column", "band", "--plot-y", "flux",
         "--plot-err", "flux_err", "--plot", tmp_path / "plots", "--output", lc, "--threads", "2"])
    assert len(list((tmp_path / "plots").glob("*.png"))) == 3
    _vg(["xmatch", survey / "targets.csv", cat, "--radius-arcsec", "1", "--n-neighbors", "all",
         "--output", tmp_path / "xm.parquet"])
    ids = open(survey / "targets.csv").read().splitlines()[1].split(",")[0]
    _vg(["plot", lc, "--id", ids, "--time-column", "mjd", "--y", "flux", "--band-column", "band",
         "--output", tmp_path / "one.png"])
