"""Back end of the import (helper imb): ZSTD pages compressed with the level's
large-input parameters (codec.c), the fused histogram pass of binning (bin.c),
the skymaps written by a thread during splitting/reducing (pipeline.c).

Oracles: pyarrow and DuckDB read what we write (values, nulls, row order, row
groups) exactly as the input they were given; the reference zstd decoder
(pyarrow's) accepts every page; binning results are compared with hats'
generate_alignment via the hats-import expectations of small_sky_source;
skymaps with hats' own writer/reader.  The interrupted and failing runs
(the skymap thread joined before the build directory goes) are covered by
tests/test_import_interrupt.py.
"""
import numpy as np
import pytest

from conftest import run_skytile

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pc = pytest.importorskip("pyarrow.compute")
duckdb = pytest.importorskip("duckdb")
hp = pytest.importorskip("healpy")


def write_csv(path, cols, n):
    names = list(cols)
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(n):
            f.write(",".join(cols[c](i) for c in names) + "\n")


def read_duck(path):
    rel = duckdb.connect().sql(f"SELECT * FROM read_parquet('{path}')")
    for meth in ("to_arrow_table", "fetch_arrow_table"):
        if hasattr(rel, meth):
            return getattr(rel, meth)()
    return rel.arrow().read_all()


@pytest.mark.parametrize("level", [1, 3, 15, 19])
@pytest.mark.parametrize("rows", [1, 7, 5000, 120000])
def test_zstd_levels_read_by_pyarrow_and_duckdb(tmp_path, level, rows):
    """Small and large pages, dictionary and PLAIN pages, nulls: every ZSTD
    frame we write decodes in pyarrow and DuckDB to the input values."""
    rng = np.random.default_rng(level * 1000 + rows)
    x = rng.normal(size=rows)
    k = rng.integers(0, 50, rows)            # dictionary column
    u = rng.integers(0, 1 << 40, rows)        # mostly distinct ints
    cols = {
        "id": lambda i: str(i),
        "x": lambda i: repr(float(x[i])),
        "k": lambda i: f"cat{k[i]}" if i % 11 else "",   # strings with nulls
        "u": lambda i: str(int(u[i])) if i % 7 else "",  # ints with nulls
    }
    src = tmp_path / "in.csv"
    write_csv(src, cols, rows)
    out = tmp_path / "out.parquet"
    run_skytile("parquet", "convert", str(src), str(out), "--compression", f"zstd:{level}",
                "--row-group-rows", "50000", check=True)
    md = pq.read_metadata(out)
    assert md.num_rows == rows
    assert md.num_row_groups == (rows + 49999) // 50000
    for g in range(md.num_row_groups):
        for c in range(md.num_columns):
            assert md.row_group(g).column(c).compression == "ZSTD"
    t = pq.read_table(out)
    ids = np.arange(rows)
    assert t["id"].to_numpy().tolist() == ids.tolist()
    np.testing.assert_array_equal(t["x"].to_numpy(), x)
    want_k = [None if i % 11 == 0 else f"cat{k[i]}" for i in range(rows)]
    assert t["k"].to_pylist() == want_k
    want_u = [None if i % 7 == 0 else int(u[i]) for i in range(rows)]
    assert t["u"].to_pylist() == want_u
    d = read_duck(out)
    assert d.num_rows == rows
    assert d.column("id").to_pylist() == ids.tolist()
    np.testing.assert_array_equal(d.column("x").to_numpy(), x)
    assert d.column("k").to_pylist() == want_k
    assert d.column("u").to_pylist() == want_u


def test_zstd_level_is_applied(tmp_path):
    """The level reaches ZSTD: levels 1, 15 and 19 give different sizes (not
    ordered: on bit-packed dictionary indices level 19 can lose to level 1, with
    ZSTD_compress as well), and every file reads back."""
    rows = 60000
    cols = {"a": lambda i: str(i % 977 * 31 + i // 977),
            "s": lambda i: f"name-{i % 1013}-{(i * 7919) % 100003}"}
    src = tmp_path / "in.csv"
    write_csv(src, cols, rows)
    sizes = {}
    for level in (1, 15, 19):
        out = tmp_path / f"l{level}.parquet"
        run_skytile("parquet", "convert", str(src), str(out), "--compression", f"zstd:{level}",
                    check=True)
        md = pq.read_metadata(out)
        sizes[level] = sum(md.row_group(0).column(c).total_compressed_size
                           for c in range(md.num_columns))
        assert pq.read_table(out)["a"].to_pylist() == [i % 977 * 31 + i // 977 for i in range(rows)]
    assert len(set(sizes.values())) == 3, sizes


def imp(*args, check=True):
    return run_skytile("import", *args, check=check, timeout=300)


def leaves(cat):
    return sorted(cat.glob("dataset/Norder=*/Dir=*/Npix=*.parquet"))


def test_import_leaves_small_pages_zstd15(tmp_path):
    """A catalog of many small leaves (every page far below 256 KiB), with a
    dictionary column, strings and nulls: pyarrow and DuckDB read every leaf
    as the input rows of its pixel, sorted by _healpix_29, in input order for
    ties; the leaves are ZSTD."""
    rng = np.random.default_rng(5)
    n = 20000
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    band = rng.integers(0, 4, n)
    cols = {"id": lambda i: str(i), "ra": lambda i: repr(float(ra[i])),
            "dec": lambda i: repr(float(dec[i])), "band": lambda i: "ugri"[band[i]],
            "note": lambda i: f"n{i}" if i % 5 else ""}
    src = tmp_path / "in.csv"
    write_csv(src, cols, n)
    cat = tmp_path / "cat"
    imp(str(src), "--output", str(cat), "--highest-order", "3", "--pixel-threshold", "900",
        "--threads", "2")
    files = leaves(cat)
    assert len(files) > 20
    total = 0
    h_all = hp.ang2pix(2**29, ra, dec, nest=True, lonlat=True)
    for f in files:
        md = pq.read_metadata(f)
        assert md.num_row_groups == 1
        assert all(md.row_group(0).column(c).compression == "ZSTD" for c in range(md.num_columns))
        t = pq.read_table(f)
        d = read_duck(f)
        assert d.column("id").to_pylist() == t["id"].to_pylist()
        assert d.column("note").to_pylist() == t["note"].to_pylist()
        ids = t["id"].to_numpy()
        h = t["_healpix_29"].to_numpy()
        np.testing.assert_array_equal(h, h_all[ids])
        order = np.lexsort((ids, h))           # stable by _healpix_29, ties in input order
        np.testing.assert_array_equal(order, np.arange(len(ids)))
        assert t["band"].to_pylist() == ["ugri"[band[i]] for i in ids]
        assert t["note"].to_pylist() == [f"n{i}" if i % 5 else None for i in ids]
        np.testing.assert_array_equal(t["ra"].to_numpy(), ra[ids])
        total += len(ids)
    assert total == n


def test_skymaps_written_during_the_run(tmp_path):
    """point_map.fits / skymap.fits (+ alt orders) written by the skymap thread
    equal hats' own skymap of the same histogram (hats writes them after
    reducing)."""
    skymap = pytest.importorskip("hats.io.skymap")
    file_io = pytest.importorskip("hats.io.file_io")
    rng = np.random.default_rng(9)
    n = 5000
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    src = tmp_path / "in.csv"
    write_csv(src, {"ra": lambda i: repr(float(ra[i])), "dec": lambda i: repr(float(dec[i]))}, n)
    cat = tmp_path / "cat"
    imp(str(src), "--output", str(cat), "--highest-order", "4", "--pixel-threshold", "1000",
        "--skymap-alt-orders", "1,2", "--threads", "2")
    hist = np.bincount(hp.ang2pix(2**4, ra, dec, nest=True, lonlat=True), minlength=12 * 4**4)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    file_io.write_fits_image(hist, theirs / "point_map.fits")
    skymap.write_skymap(hist, theirs, orders=[1, 2])
    for name in ("point_map.fits", "skymap.fits", "skymap.1.fits", "skymap.2.fits"):
        np.testing.assert_array_equal(file_io.read_fits_image(cat / name),
                                      file_io.read_fits_image(theirs / name))


def test_one_row(tmp_path):
    src = tmp_path / "one.csv"
    write_csv(src, {"ra": lambda i: "10.5", "dec": lambda i: "-3.25", "s": lambda i: "x"}, 1)
    cat = tmp_path / "cat"
    imp(str(src), "--output", str(cat), "--highest-order", "5", "--pixel-threshold", "10")
    (f,) = leaves(cat)
    t = pq.read_table(f)
    assert t.num_rows == 1
    assert t["_healpix_29"].to_pylist() == [int(hp.ang2pix(2**29, 10.5, -3.25, nest=True,
                                                            lonlat=True))]
    assert read_duck(f).column("s").to_pylist() == ["x"]
    assert pq.read_metadata(cat / "dataset" / "_metadata").num_rows == 1


@pytest.mark.parametrize("nfiles", [1, 3])
def test_runs_sort_columns_row_groups(tmp_path, nfiles):
    """One run per partition (one input file: the partition is a slice of a
    spill row group, sorted without a copy first) or several (three files:
    runs concatenated): the same leaves, equal to the input sorted by
    _healpix_29 then --sort-columns (nulls last) with ties in input order, in
    row groups of --row-group-rows rows."""
    rng = np.random.default_rng(11)
    n = 6000
    ra = rng.uniform(40, 50, n)
    dec = rng.uniform(0, 10, n)
    ra[::4] = ra[1::4][: len(ra[::4])]        # equal positions: ties for the sort columns
    dec[::4] = dec[1::4][: len(dec[::4])]
    mag = rng.integers(0, 5, n)
    names = [f"s{rng.integers(0, 30)}" if i % 9 else "" for i in range(n)]
    rows = [f"{i},{float(ra[i])!r},{float(dec[i])!r},{mag[i] if i % 13 else ''},{names[i]}"
            for i in range(n)]
    files = []
    per = (n + nfiles - 1) // nfiles
    for k in range(nfiles):
        p = tmp_path / f"part{k}.csv"
        p.write_text("id,ra,dec,mag,name\n" + "\n".join(rows[k * per:(k + 1) * per]) + "\n")
        files.append(str(p))
    cat = tmp_path / "cat"
    imp(*files, "--output", str(cat), "--highest-order", "6", "--pixel-threshold", "2500",
        "--sort-columns", "mag", "--row-group-rows", "700", "--threads", "2")
    h_all = hp.ang2pix(2**29, ra, dec, nest=True, lonlat=True)
    total = 0
    for f in leaves(cat):
        md = pq.read_metadata(f)
        t = pq.read_table(f)
        m = len(t)
        assert [md.row_group(g).num_rows for g in range(md.num_row_groups)] == \
            [min(700, m - 700 * g) for g in range((m + 699) // 700)]
        ids = t["id"].to_numpy()
        mg = np.array([np.inf if x is None else x for x in t["mag"].to_pylist()])
        # expected: these ids sorted by (h29, mag nulls last, input order)
        sel = np.sort(ids)
        emag = np.array([mag[i] if i % 13 else np.inf for i in sel], dtype=float)
        order = np.lexsort((sel, emag, h_all[sel]))
        np.testing.assert_array_equal(ids, sel[order])
        np.testing.assert_array_equal(t["_healpix_29"].to_numpy(), h_all[ids])
        np.testing.assert_array_equal(mg, emag[order])
        assert t["name"].to_pylist() == [names[i] or None for i in ids]
        assert read_duck(f).column("id").to_pylist() == ids.tolist()
        total += m
    assert total == n
