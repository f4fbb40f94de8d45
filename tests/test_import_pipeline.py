"""`skytile import` (the HATS import pipeline, issue 5) through the CLI.

Oracles: healpy for `_healpix_29`, pyarrow's CSV reader for the rows, the
hats-import fixture catalogs (small_sky_object_catalog,
small_sky_source_catalog) for partitions and counts, hats-import itself
(run in a subprocess with a local dask client) for a full comparison,
hats.io.validation.is_valid_catalog(strict=True), lsdb.open_catalog and
DuckDB for readability.  Runs through the CLI, so it also runs under ASan.
"""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, run_skytile

hp = pytest.importorskip("healpy")

FIX = None


@pytest.fixture(scope="module")
def fix(shared):
    return shared / "fixtures" / "hats-import"


def imp(*args, check=True, timeout=300):
    return run_skytile("import", *args, check=check, timeout=timeout)


def leaf_files(cat):
    return sorted((cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))


def partitions(cat):
    """{(order, pixel): rows} from the leaf files (paths + footers)."""
    out = {}
    for f in leaf_files(cat):
        o = int(f.parent.parent.name.split("=")[1])
        d = int(f.parent.name.split("=")[1])
        p = int(f.stem.split("=")[1])
        assert d == p // 10000 * 10000
        out[(o, p)] = pq.ParquetFile(f).metadata.num_rows
    return out


def read_catalog(cat):
    return pa.concat_tables([pq.read_table(f) for f in leaf_files(cat)])


def healpy_h29(ra, dec):
    return hp.ang2pix(2**29, np.asarray(ra, dtype=np.float64), np.asarray(dec, dtype=np.float64),
                      nest=True, lonlat=True).astype(np.int64)


def check_leaf(f, sort_extra=()):
    """A leaf as hats-import writes it: _healpix_29 first, sorted, sorting_columns, ZSTD,
    its rows inside its pixel."""
    pf = pq.ParquetFile(f)
    t = pf.read()
    assert t.column_names[0] == "_healpix_29"
    assert t.schema.field(0).type == pa.int64()
    h = t["_healpix_29"].to_numpy()
    assert np.all(np.diff(h) >= 0)
    o = int(f.parent.parent.name.split("=")[1])
    p = int(f.stem.split("=")[1])
    assert np.all(h >> (2 * (29 - o)) == p)
    md = pf.metadata
    for rg in range(md.num_row_groups):
        sc = md.row_group(rg).sorting_columns
        assert sc[0].column_index == 0 and not sc[0].descending
        assert len(sc) == 1 + len(sort_extra)
        for c in range(md.num_columns):
            assert md.row_group(rg).column(c).compression == "ZSTD"
    return t


def check_valid(cat, nrows, parts):
    from hats.io.validation import is_valid_catalog
    assert is_valid_catalog(str(cat), strict=True)
    import lsdb
    c = lsdb.open_catalog(str(cat))
    assert len(c.get_healpix_pixels()) == len(parts)
    assert {(p.order, p.pixel) for p in c.get_healpix_pixels()} == set(parts)
    assert len(c.compute()) == nrows
    import duckdb
    n = duckdb.sql(f"select count(*) from read_parquet('{cat}/dataset/Norder=*/Dir=*/*.parquet')").fetchall()[0][0]
    assert n == nrows


def test_small_sky_csv(fix, tmp_path):
    out = tmp_path / "small_sky"
    p = imp(fix / "small_sky" / "catalog.csv", "--output", out, "--threads", "2")
    for stage in ("Mapping", "Binning", "Splitting", "Reducing", "Finishing"):
        assert stage in p.stderr
    src = pacsv.read_csv(fix / "small_sky" / "catalog.csv")
    assert partitions(out) == {(0, 11): src.num_rows}
    assert src.num_rows == 131
    t = check_leaf(leaf_files(out)[0])
    # columns: _healpix_29, then the input columns in order, as the fixture catalog
    ref = pq.read_schema(fix / "small_sky_object_catalog/dataset/Norder=0/Dir=0/Npix=11.parquet")
    assert t.column_names == ref.names
    assert [f.type for f in t.schema] == [f.type for f in ref]
    assert t.schema.pandas_metadata is None
    # rows: the CSV rows with healpy's _healpix_29, sorted by it
    exp = src.add_column(0, "_healpix_29", pa.array(healpy_h29(src["ra"], src["dec"])))
    exp = exp.sort_by([("_healpix_29", "ascending")])
    assert t.equals(exp.cast(t.schema))
    # same rows and indices as the fixture catalog hats-import wrote
    fx = pq.read_table(fix / "small_sky_object_catalog/dataset/Norder=0/Dir=0/Npix=11.parquet")
    assert t.sort_by("id").equals(fx.sort_by("id").cast(t.schema))
    assert (out / "partition_info.csv").read_text() == "Norder,Npix\n0,11\n"
    props = (out / "hats.properties").read_text()
    assert "obs_collection=small_sky\n" in props and "hats_nrows=131\n" in props
    assert (out / "properties").read_text() == props
    assert (out / "point_map.fits").exists() and (out / "skymap.fits").exists()
    assert not (tmp_path / "small_sky.tmp-skytile").exists()
    assert not (tmp_path / "small_sky.skytile-state").exists()
    md = pq.read_metadata(out / "dataset" / "_metadata")
    assert md.num_rows == 131 and md.row_group(0).column(0).file_path == "Norder=0/Dir=0/Npix=11.parquet"
    check_valid(out, 131, {(0, 11)})


def test_small_sky_parts_directory(fix, tmp_path):
    out = tmp_path / "parts"
    imp(fix / "small_sky_parts", "--output", out, "--threads", "3")
    src = pacsv.read_csv(fix / "small_sky" / "catalog.csv")
    assert partitions(out) == {(0, 11): src.num_rows}
    t = check_leaf(leaf_files(out)[0])
    exp = src.add_column(0, "_healpix_29", pa.array(healpy_h29(src["ra"], src["dec"])))
    assert t.sort_by("id").equals(exp.sort_by("id").cast(t.schema))
    # @list input with one thread gives the identical file contents
    lst = tmp_path / "list.txt"
    lst.write_text("".join(f"{f}\n" for f in sorted((fix / "small_sky_parts").iterdir())))
    out1 = tmp_path / "parts1"
    imp(f"@{lst}", "--output", out1, "--threads", "1")
    assert pq.read_table(leaf_files(out1)[0]).equals(t)


def test_small_sky_source(fix, tmp_path):
    out = tmp_path / "source"
    imp(fix / "small_sky_source" / "small_sky_source.csv", "--output", out,
        "--ra-column", "source_ra", "--dec-column", "source_dec", "--highest-order", "5",
        "--pixel-threshold", "3000", "--drop-empty-siblings", "false", "--catalog-type", "source")
    ref = fix / "small_sky_source_catalog"
    got = partitions(out)
    assert got == partitions(ref)
    assert len(got) == 14
    # same partitions as the fixture (which an older hats wrote sorted by order; the installed
    # hats sorts breadth first: hats.pixel_math.healpix_pixel_function.sort_pixels)
    from hats.pixel_math.healpix_pixel import HealpixPixel
    from hats.pixel_math.healpix_pixel_function import sort_pixels
    lines = (out / "partition_info.csv").read_text().splitlines()
    assert lines[0] == "Norder,Npix"
    mine = [tuple(map(int, l.split(","))) for l in lines[1:]]
    theirs = [tuple(map(int, l.split(","))) for l in (ref / "partition_info.csv").read_text().splitlines()[1:]]
    assert sorted(mine) == sorted(theirs)
    assert mine == [(p.order, p.pixel) for p in sort_pixels([HealpixPixel(o, p) for o, p in theirs])]
    src = pacsv.read_csv(fix / "small_sky_source" / "small_sky_source.csv")
    assert sum(got.values()) == src.num_rows
    exp = src.add_column(0, "_healpix_29", pa.array(healpy_h29(src["source_ra"], src["source_dec"])))
    for f in leaf_files(out):
        t = check_leaf(f)
        r = pq.read_table(ref / f.relative_to(out))
        assert t.column_names == r.column_names
        # the fixture was written by an older hats-import whose strings were `string`; the
        # PyPI hats-import writes `large_string`, as we do (exact types: test_import_schema_peer)
        norm = lambda ty: pa.string() if ty == pa.large_string() else ty
        assert [norm(x.type) for x in t.schema] == [norm(x.type) for x in r.schema]
        # same rows per partition as hats-import's fixture; doubles within 1 ulp (pandas'
        # default CSV float parser is not always correctly rounded, pyarrow's and ours are)
        t, r = t.sort_by("source_id"), r.sort_by("source_id")
        for name in t.column_names:
            if pa.types.is_floating(t.schema.field(name).type):
                assert np.allclose(t[name].to_numpy(), r[name].to_numpy(), rtol=4e-16, atol=0)
            else:
                assert t[name].to_pylist() == r[name].to_pylist(), name
        # exact values: pyarrow's CSV parse + healpy
        e = exp.filter(pc.is_in(exp["source_id"], t["source_id"])).sort_by("source_id")
        assert t.equals(e.cast(t.schema))
    check_valid(out, src.num_rows, set(got))


def test_parquet_input(fix, tmp_path):
    src = pacsv.read_csv(fix / "small_sky" / "catalog.csv")
    pq.write_table(src.slice(0, 60), tmp_path / "a.parquet")
    pq.write_table(src.slice(60), tmp_path / "b.parquet", row_group_size=20)
    out = tmp_path / "pq"
    imp(tmp_path / "a.parquet", tmp_path / "b.parquet", "--output", out, "--format", "parquet")
    t = check_leaf(leaf_files(out)[0])
    exp = src.add_column(0, "_healpix_29", pa.array(healpy_h29(src["ra"], src["dec"])))
    assert t.equals(exp.sort_by([("_healpix_29", "ascending")]))


def test_sort_columns_and_row_groups(tmp_path):
    rng = np.random.default_rng(int(os.environ.get("SKYTILE_TEST_SEED", "0")))
    n = 3000
    # few distinct positions -> many _healpix_29 ties broken by `mag` then `id`
    pos = rng.integers(0, 40, n)
    ra = (pos * 7.3) % 360.0
    dec = (pos * 3.1) % 80.0 - 40.0
    t = pa.table({"id": np.arange(n, dtype=np.int64)[::-1].copy(), "ra": ra, "dec": dec,
                  "mag": rng.integers(0, 5, n).astype(np.float64),
                  "name": [f"s{i % 7}" for i in range(n)]})
    # several row groups = several reader batches, gathered by the splitting stage
    pq.write_table(t, tmp_path / "in.parquet", row_group_size=500)
    out = tmp_path / "sorted"
    imp(tmp_path / "in.parquet", "--output", out, "--sort-columns", "mag,id", "--highest-order", "4",
        "--pixel-threshold", "400", "--row-group-rows", "50", "--compression", "zstd:3")
    files = leaf_files(out)
    total = 0
    for f in files:
        got = check_leaf(f, sort_extra=("mag", "id"))
        exp = got.sort_by([("_healpix_29", "ascending"), ("mag", "ascending"), ("id", "ascending")])
        assert got.equals(exp)
        md = pq.read_metadata(f)
        assert all(md.row_group(i).num_rows <= 50 for i in range(md.num_row_groups))
        sc = md.row_group(0).sorting_columns
        assert [s.column_index for s in sc] == [0, got.column_names.index("mag"), got.column_names.index("id")]
        total += got.num_rows
    assert total == n
    allrows = read_catalog(out)
    assert np.array_equal(np.sort(allrows["id"].to_numpy()), np.arange(n))
    assert np.array_equal(allrows["_healpix_29"].to_numpy(),
                          healpy_h29(allrows["ra"], allrows["dec"]))
    assert "hats_cols_sort=mag,id\n" in (out / "hats.properties").read_text()


def test_existing_output_and_overwrite(fix, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep").write_text("x")
    p = imp(fix / "small_sky" / "catalog.csv", "--output", out, check=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    assert (out / "keep").exists()
    imp(fix / "small_sky" / "catalog.csv", "--output", out, "--overwrite")
    assert not (out / "keep").exists()
    assert partitions(out) == {(0, 11): 131}


@pytest.mark.parametrize("flag", [["--memory-limit", "lots"], ["--bogus"], ["--highest-order", "99"],
                                  ["--drop-empty-siblings", "maybe"]])
def test_bad_flags(fix, tmp_path, flag):
    p = imp(fix / "small_sky" / "catalog.csv", "--output", tmp_path / "x", *flag, check=False)
    assert p.returncode == 2
    assert "skytile: import:" in p.stderr
    if flag[0] == "--memory-limit":
        assert "expected a size" in p.stderr
    assert not (tmp_path / "x").exists()


def test_missing_column(fix, tmp_path):
    p = imp(fix / "small_sky" / "catalog.csv", "--output", tmp_path / "x", "--ra-column", "nope",
            check=False)
    assert p.returncode == 1 and "nope" in p.stderr
    assert not (tmp_path / "x").exists()


def test_corrupt_input_reported_then_resume(fix, tmp_path):
    src = pacsv.read_csv(fix / "small_sky" / "catalog.csv")
    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(src.slice(0, 70), d / "a.parquet")
    pq.write_table(src.slice(70), d / "c.parquet")
    good = (d / "a.parquet").read_bytes()
    (d / "b.parquet").write_bytes(good[:4] + b"\0" * 100 + good[-8:])  # garbage footer
    out = tmp_path / "cat"
    p = imp(d, "--output", out, "--format", "parquet", check=False)
    assert p.returncode == 1
    assert "b.parquet" in p.stderr and "1 input file failed" in p.stderr
    assert "a.parquet" not in p.stderr.split("failed:")[-1]
    assert not out.exists()
    state = tmp_path / "cat.skytile-state" / "map"
    logs = sorted(x.name for x in state.iterdir())  # one append-only log per map worker
    assert 1 <= len(logs) <= 2 and all(x.startswith("log-") for x in logs), logs
    # without --resume the leftover state is an error saying what to do
    p = imp(d, "--output", out, "--format", "parquet", check=False)
    assert p.returncode == 1 and "--resume" in p.stderr and "--overwrite" in p.stderr
    # fix the file and resume: the saved histograms of a and c are reused, b is mapped
    extra = src.slice(0, 10)
    extra = extra.set_column(0, "id", pc.add(extra["id"], 10000))
    pq.write_table(extra, d / "b.parquet")
    p = imp(d, "--output", out, "--format", "parquet", "--resume")
    first = next(l for l in p.stderr.splitlines() if l.startswith("Mapping: "))
    assert first == "Mapping: 2/3", p.stderr
    assert partitions(out) == {(0, 11): 141}
    assert not (tmp_path / "cat.skytile-state").exists()
    # or remove it and resume: the state of the other files is used
    out2 = tmp_path / "cat2"
    (d / "b.parquet").write_bytes(good[:4] + b"\0" * 100 + good[-8:])
    assert imp(d, "--output", out2, "--format", "parquet", check=False).returncode == 1
    (d / "b.parquet").unlink()
    p = imp(d, "--output", out2, "--format", "parquet", "--resume")
    assert next(l for l in p.stderr.splitlines() if l.startswith("Mapping: ")) == "Mapping: 2/2"
    assert partitions(out2) == {(0, 11): 131}


HATS_IMPORT_SCRIPT = textwrap.dedent("""
    import sys
    from dask.distributed import Client
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client
    if __name__ == "__main__":
        out, inp = sys.argv[1], sys.argv[2:]
        args = ImportArguments(output_artifact_name="hi", input_file_list=inp, file_reader="csv",
                               output_path=out, highest_healpix_order=10, progress_bar=False,
                               resume=False, tmp_dir=out + "/tmp", dask_tmp=out + "/dtmp")
        with Client(n_workers=1, threads_per_worker=1, processes=False,
                    dashboard_address=None) as c:
            pipeline_with_client(args, c)
""")


def test_same_as_hats_import(fix, tmp_path):
    """small_sky split into 12 CSV files, each also holding copies (new ids) of rows of
    other files at the same positions, so that rows with equal _healpix_29 come from
    several files: their order must be hats-import's too."""
    script = tmp_path / "hi.py"
    script.write_text(HATS_IMPORT_SCRIPT)
    src = pacsv.read_csv(fix / "small_sky" / "catalog.csv")
    inputs = []
    for k in range(12):
        part = src.slice(k * 11, 11)
        dup = src.slice(((k + 5) % 12) * 11, 3)
        dup = dup.set_column(0, "id", pc.add(dup["id"], 1000 * (k + 1)))
        f = tmp_path / f"in_{k}.csv"
        pacsv.write_csv(pa.concat_tables([part, dup]), f)
        inputs.append(str(f))
    subprocess.run([sys.executable, str(script), str(tmp_path / "hi_out"), *inputs], check=True,
                   capture_output=True, timeout=120, cwd=tmp_path)
    ref = tmp_path / "hi_out" / "hi"
    out = tmp_path / "ours"
    imp(*inputs, "--output", out, "--name", "hi", "--threads", "2")
    assert partitions(out) == partitions(ref)
    assert (out / "partition_info.csv").read_text() == (ref / "partition_info.csv").read_text()
    for f in leaf_files(out):
        a = pq.read_table(f)
        b = pq.read_table(ref / f.relative_to(out))
        assert a.schema.remove_metadata().equals(b.schema.remove_metadata())
        assert a.equals(b)
        assert pq.ParquetFile(f).metadata.row_group(0).sorting_columns == \
            pq.ParquetFile(ref / f.relative_to(out)).metadata.row_group(0).sorting_columns
    ours = dict(l.split("=", 1) for l in (out / "properties").read_text().splitlines()[1:])
    theirs = dict(l.split("=", 1) for l in (ref / "properties").read_text().splitlines()[1:])
    for k in ("obs_collection", "dataproduct_type", "hats_nrows", "hats_col_ra", "hats_col_dec",
              "hats_col_healpix", "hats_col_healpix_order", "hats_npix_suffix", "hats_skymap_order",
              "hats_max_rows", "hats_order", "moc_sky_fraction"):
        assert ours.get(k) == theirs.get(k), k
    from astropy.io import fits
    for name in ("point_map.fits", "skymap.fits"):
        with fits.open(out / name) as x, fits.open(ref / name) as y:
            assert np.array_equal(np.asarray(x[1].data.tolist()), np.asarray(y[1].data.tolist()))


def test_fits_and_gzip_tsv_inputs(fix, tmp_path):
    """Other readers feed the same pipeline: a FITS table (astropy) and a gzipped TSV."""
    import gzip
    from astropy.table import Table
    src = pacsv.read_csv(fix / "small_sky" / "catalog.csv")
    Table({n: src[n].to_numpy() for n in src.column_names}).write(tmp_path / "a.fits")
    out = tmp_path / "fits"
    imp(tmp_path / "a.fits", "--output", out)
    t = check_leaf(leaf_files(out)[0])
    exp = src.add_column(0, "_healpix_29", pa.array(healpy_h29(src["ra"], src["dec"])))
    exp = exp.sort_by([("_healpix_29", "ascending")])
    assert t.column_names == exp.column_names
    assert t.equals(exp.cast(t.schema))
    text = (fix / "small_sky" / "catalog.csv").read_text().replace(",", "\t")
    with gzip.open(tmp_path / "b.tsv.gz", "wt") as f:
        f.write(text)
    out2 = tmp_path / "tsv"
    imp(tmp_path / "b.tsv.gz", "--output", out2, "--format", "tsv")
    t2 = pq.read_table(leaf_files(out2)[0])
    assert t2.equals(exp.cast(t2.schema))


def test_constant_order_threads_tmp_dir(fix, tmp_path):
    """--constant-order 1: one partition per non-empty order-1 pixel (healpy counts); the
    result does not depend on the thread count; --tmp-dir holds the state; missing
    parent directories of --output and --tmp-dir are created."""
    inp = fix / "small_sky_source" / "small_sky_source.csv"
    src = pacsv.read_csv(inp)
    pix1 = healpy_h29(src["source_ra"], src["source_dec"]) >> (2 * 28)
    u, c = np.unique(pix1, return_counts=True)
    exp = {(1, int(p)): int(n) for p, n in zip(u, c)}
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"c{threads}"
        tmp = tmp_path / f"tmp{threads}"
        if threads == 2:  # missing directories are created (mkdir -p), for the output too
            out, tmp = tmp_path / "x" / "y" / "c2", tmp_path / "t" / "u" / "tmp2"
        else:
            tmp.mkdir()
        imp(inp, "--output", out, "--ra-column", "source_ra", "--dec-column", "source_dec",
            "--highest-order", "4", "--constant-order", "1", "--threads", threads, "--tmp-dir", tmp)
        assert partitions(out) == exp
        assert list(tmp.iterdir()) == []
        outs.append(out)
    for f in leaf_files(outs[0]):
        assert pq.read_table(f).equals(pq.read_table(outs[1] / f.relative_to(outs[0])))


def test_resume_reuses_histograms_and_counts_are_checked(fix, tmp_path):
    """A resumed run takes the saved histogram of an unchanged file (same size and
    modification time) instead of reading it: shown by changing its rows but neither,
    which the row-count checks between the stages then catch.  A file whose size or
    modification time changed is mapped again."""
    text = (fix / "small_sky" / "catalog.csv").read_text()
    lines = text.splitlines(keepends=True)
    d = tmp_path / "in"
    d.mkdir()
    a = d / "a.csv"
    a.write_text(text)
    (d / "b.parquet").write_bytes(b"PAR1" + b"\0" * 50 + b"PAR1")
    out = tmp_path / "cat"
    p = imp(d, "--output", out, check=False)
    assert p.returncode == 1 and "b.parquet" in p.stderr
    (d / "b.parquet").unlink()
    # rows 1 and 2 become one row of the same length: 130 rows, same bytes count
    st = a.stat()
    r1, r2 = lines[1], lines[2]
    merged = "0" * len(r2) + r1
    assert len(merged) == len(r1) + len(r2)
    a.write_text(lines[0] + merged + "".join(lines[3:]))
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert a.stat().st_size == st.st_size
    p = imp(d, "--output", out, "--resume", check=False)
    assert p.returncode == 1
    assert "131" in p.stderr and "130" in p.stderr, p.stderr
    assert not out.exists()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # now it looks changed
    p = imp(d, "--output", out, "--resume")
    assert partitions(out) == {(0, 11): 130}
    ids = read_catalog(out)["id"].to_pylist()
    assert sorted(ids) == sorted(pacsv.read_csv(a)["id"].to_pylist())


def test_resume_after_kill_during_reduce(tmp_path):
    """Kill the import while it writes leaves; --resume keeps the leaves already written
    (same inode), leaves no temporaries, and gives the same catalog as a clean run."""
    import signal
    import time
    rng = np.random.default_rng(7)
    n = 200000
    z = rng.uniform(-1, 1, n)
    t = pa.table({"id": np.arange(n), "ra": rng.uniform(0, 360, n), "dec": np.degrees(np.arcsin(z)),
                  "x": rng.normal(size=n)})
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / "cat"
    args = ["import", tmp_path / "in.parquet", "--output", out, "--highest-order", "5",
            "--pixel-threshold", "1500", "--threads", "1"]
    from conftest import SKYTILE
    proc = subprocess.Popen([str(SKYTILE), *map(str, args)], stderr=subprocess.DEVNULL)
    build = tmp_path / "cat.tmp-skytile" / "dataset"
    first = None
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        done = sorted(build.glob("Norder=*/Dir=*/Npix=*.parquet")) if build.exists() else []
        if len(done) >= 3:
            first = done[0]
            ino = first.stat().st_ino
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    if first is None:
        pytest.skip("the import finished before it could be interrupted")
    assert not out.exists()
    p = imp(*args[1:], "--resume")
    assert not list(out.rglob("*.tmp-*"))
    assert (out / first.relative_to(tmp_path / "cat.tmp-skytile")).stat().st_ino == ino
    ref = tmp_path / "ref"
    imp(*[a if a != out else ref for a in args[1:]])
    assert partitions(out) == partitions(ref)
    for f in leaf_files(ref):
        assert pq.read_table(f).equals(pq.read_table(out / f.relative_to(ref)))
    assert sum(partitions(out).values()) == n
