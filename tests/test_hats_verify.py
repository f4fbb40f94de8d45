"""`skytile verify` (st_catalog_verify) against hats-import's verifier
(hats_import.verification.run_verification) on the same fixtures: the same
checks pass/fail and the same files are named as bad."""
import re
import shutil
import warnings

import pyarrow.parquet as pq
import pytest

from conftest import run_skytile

warnings.filterwarnings("ignore")

GOOD = [
    "hats-import/small_sky_object_catalog", "hats-import/small_sky_source_catalog",
    "hats-import/small_sky_nested_catalog", "hats-import/small_sky_source_npix_dir_catalog",
    "hats-import/small_sky_object_source_association",
    "hats-import/hipscat/small_sky_object_catalog", "hats-import/hipscat/small_sky_source_catalog",
    "hats/small_sky", "hats/small_sky_nested", "hats/small_sky_source", "hats/small_sky_healpix13",
    "hats/square_map", "hats/small_sky_o1_collection", "hats/small_sky_source_object_index",
]
BAD = ["hats-import/bad_schemas", "hats-import/wrong_files_and_rows"]


def parse_report(text):
    """{(test, target): (passed, description, [bad files])} from the CLI report."""
    out, key = {}, None
    for line in text.splitlines():
        m = re.match(r"(PASSED|FAILED)  ([^:]+): (.*)$", line)
        if m:
            key = (m.group(2), m.group(3))
            out[key] = [m.group(1) == "PASSED", "", []]
        elif line.startswith("    bad file: "):
            out[key][2].append(line[len("    bad file: "):])
        elif line.startswith("    ") and key:
            out[key][1] += line.strip()
    return out


def hats_import_results(path, tmp_path):
    from hats_import.verification.arguments import VerificationArguments
    from hats_import.verification import run_verification
    args = VerificationArguments(input_catalog_path=str(path), output_path=str(tmp_path / "verify_out"))
    v = run_verification.run(args)
    return {(r.test, r.target): (bool(r.passed), sorted(r.bad_files)) for r in v.results_df.itertuples()}


@pytest.mark.parametrize("rel", GOOD)
def test_good_fixtures_pass(shared, rel):
    p = run_skytile("verify", shared / "fixtures" / rel)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "FAILED" not in p.stdout


@pytest.mark.parametrize("rel", BAD + ["hats-import/small_sky_object_catalog"])
def test_same_verdicts_as_hats_import(shared, tmp_path, rel):
    path = shared / "fixtures" / rel
    want = hats_import_results(path, tmp_path)
    p = run_skytile("verify", path)
    got = parse_report(p.stdout)
    assert p.returncode == (0 if all(v[0] for v in want.values()) else 1), p.stdout
    for (test, target), (passed, bad) in want.items():
        if test == "valid hats":
            target = str(path)
        assert (test, target) in got, (test, target, p.stdout)
        g = got[(test, target)]
        assert g[0] == passed, (test, target, p.stdout)
        assert sorted(g[2]) == bad, (test, target, g, bad)


def test_bad_schemas_messages(shared):
    root = shared / "fixtures/hats-import/bad_schemas"
    p = run_skytile("verify", root)
    assert p.returncode == 1
    got = parse_report(p.stdout)
    cm = pq.read_schema(root / "dataset/_common_metadata")
    extra = pq.read_schema(root / "dataset/Norder=0/Dir=0/Npix=11.extra_column.parquet")
    missing = pq.read_schema(root / "dataset/Norder=0/Dir=0/Npix=11.missing_column.parquet")
    desc = got[("schema", "file footers vs truth")][1]
    for name in set(extra.names) - set(cm.names):
        assert f"extra column '{name}'" in desc
    for name in set(cm.names) - set(missing.names):
        assert f"missing column '{name}'" in desc
    md_total = pq.read_metadata(root / "dataset/_metadata").num_rows
    assert f"vs _metadata ({md_total})" in got[("num rows", "file footers vs _metadata")][1]
    assert "partition_info.csv file does not exist" in got[("valid hats", str(root))][1]


def test_wrong_files_and_rows_messages(shared):
    root = shared / "fixtures/hats-import/wrong_files_and_rows"
    p = run_skytile("verify", root)
    assert p.returncode == 1
    got = parse_report(p.stdout)
    extra_rows = "Norder=0/Dir=0/Npix=11.extra_rows.parquet"
    n_footer = pq.read_metadata(root / "dataset" / extra_rows).num_rows
    desc = got[("num rows", "file footers vs _metadata")][1]
    assert f"{extra_rows}: {n_footer} rows in footer" in desc
    assert "Npix=11.missing_file.parquet: listed in _metadata but not on disk" in \
        got[("file sets", "_metadata vs data files")][1]
    assert "Npix=11.extra_file.parquet: on disk but not in _metadata" in \
        got[("file sets", "_metadata vs data files")][1]


def test_removed_leaf_and_bad_nrows(shared, tmp_path):
    dst = tmp_path / "cat"
    shutil.copytree(shared / "fixtures/hats-import/small_sky_source_catalog", dst)
    (dst / "dataset/Norder=2/Dir=0/Npix=176.parquet").unlink()
    props = (dst / "hats.properties").read_text().replace("hats_nrows=17161", "hats_nrows=17000")
    (dst / "hats.properties").write_text(props)
    p = run_skytile("verify", dst)
    assert p.returncode == 1
    got = parse_report(p.stdout)
    assert "missing: Norder=2 Npix=176" in got[("valid hats", str(dst))][1]
    assert got[("file sets", "_metadata vs data files")][2] == ["Norder=2/Dir=0/Npix=176.parquet"]
    assert "vs catalog properties (17000)" in got[("num rows", "file footers vs catalog properties")][1]


def test_verify_not_a_directory(tmp_path):
    p = run_skytile("verify", tmp_path / "missing")
    assert p.returncode == 1 and "not a directory" in p.stderr


def test_collection_subcatalog_problem(shared, tmp_path):
    dst = tmp_path / "coll"
    shutil.copytree(shared / "fixtures/hats/small_sky_o1_collection", dst)
    leaves = sorted((dst / "small_sky_order1_margin/dataset").rglob("Npix=*"))
    assert leaves
    leaves[0].unlink()
    rel = str(leaves[0].relative_to(dst / "small_sky_order1_margin/dataset"))
    p = run_skytile("verify", dst)
    assert p.returncode == 1
    got = parse_report(p.stdout)
    assert got[("file sets", "_metadata vs data files")][0]          # primary is fine
    fs = got[("file sets", "small_sky_order1_margin: _metadata vs data files")]
    assert not fs[0] and fs[2] == [rel]


def test_corrupt_leaf_reported(shared, tmp_path):
    dst = tmp_path / "cat"
    shutil.copytree(shared / "fixtures/hats-import/small_sky_object_catalog", dst)
    leaf = dst / "dataset/Norder=0/Dir=0/Npix=11.parquet"
    leaf.write_bytes(b"PAR1 this is not a parquet file PAR1")
    p = run_skytile("verify", dst)
    assert p.returncode == 1
    got = parse_report(p.stdout)
    assert got[("schema", "file footers vs truth")][2] == ["Norder=0/Dir=0/Npix=11.parquet"]
    assert "Npix=11.parquet: cannot read footer" in got[("num rows", "file footers vs _metadata")][1]
