"""Searches (`skytile cone|box|polygon|pixels|scan`) against LSDB and brute force.

Oracles:
  - LSDB's cone_search / box_search (fine=True) on the same HATS catalog;
    polygon_search needs lsst.sphgeom (not installed here: skipped then);
  - brute force with numpy over all rows with the exact tests LSDB uses
    (haversine for cones, Python's % for RA wrap, great-circle edges);
  - DuckDB for --where (same expression in SQL over all rows).
The generated catalog is written by lsdb.from_dataframe(...).to_hats, so it
is independent of skytile's importer.  The >= 1M-row checks (Tycho-2 imported
with skytile) are in test_query_tycho.py, streaming in test_query_stream.py.
"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED, run_skytile

lsdb = pytest.importorskip("lsdb")
N_UNIFORM = 100_000


def _points(rng, n):
    z = rng.uniform(-1, 1, n)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(z))


@pytest.fixture(scope="session")
def gen(tmp_path_factory):
    """A ~120k-row HATS catalog with clusters at the poles and across RA=0."""
    import pandas as pd
    rng = np.random.default_rng(6)
    ra, dec = _points(rng, N_UNIFORM)
    ra = np.concatenate([ra, rng.uniform(0, 360, 8000), rng.uniform(0, 360, 8000), rng.uniform(-5, 5, 8000) % 360,
                         [10.0, 10.0, 0.0, 0.0]])
    dec = np.concatenate([dec, rng.uniform(85, 90, 8000), rng.uniform(-90, -85, 8000), rng.uniform(-5, 5, 8000),
                          [20.0, 20.0, 90.0, -90.0]])
    n = len(ra)
    mag = rng.uniform(5, 20, n)
    mag[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "ra": ra, "dec": dec,
        "mag": pd.array(np.where(np.isnan(mag), None, mag), dtype="Float64"),
        "cls": rng.choice(["star", "galaxy", "qso"], n),
    })
    path = tmp_path_factory.mktemp("qry") / "gen"
    cat = lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", lowest_order=0, highest_order=6,
                              partition_rows=6000)
    cat.write_catalog(path)
    data = path / "from_lsdb_dataframe" / "dataset"
    assert data.is_dir()
    return path, df, data


def sky(*args, check=True):
    p = run_skytile(*args)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def ids_of(path, *args, tmp):
    out = tmp / "out.parquet"
    sky(*args, "--columns", "id,ra,dec", "--output", out)
    t = pq.read_table(out)
    return t.column("id").to_numpy()


def lsdb_ids(cat):
    d = cat.compute()
    return np.sort(d["id"].to_numpy())


def hav(ra, dec, ra0, dec0, r_deg):
    ra_r, dec_r, ra0r, dec0r = map(np.radians, (ra, dec, ra0, dec0))
    a = np.sin((dec_r - dec0r) / 2) ** 2 + np.cos(dec0r) * np.cos(dec_r) * np.sin((ra_r - ra0r) / 2) ** 2
    return a <= np.sin(np.radians(r_deg) / 2) ** 2


def box_mask(ra, dec, r0, r1, d0, d1):
    r0, r1, w = r0 % 360, r1 % 360, ra % 360
    if r0 == r1:
        m = np.ones(len(ra), bool)
    elif r0 < r1:
        m = (w >= r0) & (w <= r1)
    else:
        m = (w >= r0) | (w <= r1)
    return m & (dec >= d0) & (dec <= d1)


def vec(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def poly_mask(ra, dec, verts):
    v = vec(np.array([a for a, _ in verts]), np.array([b for _, b in verts]))
    p = vec(ra, dec)
    normals = np.cross(v, np.roll(v, -1, axis=0))
    s = np.sign(normals[0] @ v[2])
    return np.all((p @ normals.T) * s >= 0, axis=1)


CONES = [(0.5, 10, 3 * 3600), (359.8, -2, 2 * 3600), (0, 90, 4 * 3600), (123, -90, 5 * 3600),
         (10, 20, 1.0), (200, 30, 20 * 3600), (45, 0, 0.5)]


@pytest.mark.parametrize("ra,dec,r", CONES)
def test_cone_vs_lsdb_and_brute(gen, tmp_path, ra, dec, r):
    path, df, _ = gen
    got = np.sort(ids_of(path, "cone", path, ra, dec, r, tmp=tmp_path))
    brute = np.sort(df["id"].to_numpy()[hav(df.ra.to_numpy(), df.dec.to_numpy(), ra, dec, r / 3600)])
    np.testing.assert_array_equal(got, brute)
    want = lsdb_ids(lsdb.open_catalog(path).cone_search(ra, dec, r))
    np.testing.assert_array_equal(got, want)


def test_cone_radius_zero_and_180(gen, tmp_path):
    path, df, _ = gen
    # LSDB rejects radius 0; brute force: exactly the rows at the centre
    got = np.sort(ids_of(path, "cone", path, 10, 20, 0, tmp=tmp_path))
    want = np.sort(df["id"].to_numpy()[(df.ra.to_numpy() == 10) & (df.dec.to_numpy() == 20)])
    assert len(want) == 2
    np.testing.assert_array_equal(got, want)
    got = ids_of(path, "cone", path, 33, -10, 180 * 3600, tmp=tmp_path)
    assert len(got) == len(df)
    want = lsdb_ids(lsdb.open_catalog(path).cone_search(33, -10, 180 * 3600))
    np.testing.assert_array_equal(np.sort(got), want)


BOXES = [((350, 10), (-10, 10)), ((10, 350), (-5, 5)), ((0, 0), (80, 90)), ((100, 130), (-90, -60)),
         ((-20, 20), (0, 30)), ((200, 201), (10, 10.5))]


@pytest.mark.parametrize("rr,dd", BOXES)
def test_box_vs_lsdb_and_brute(gen, tmp_path, rr, dd):
    path, df, _ = gen
    got = np.sort(ids_of(path, "box", path, "--ra", f"{rr[0]},{rr[1]}", "--dec", f"{dd[0]},{dd[1]}", tmp=tmp_path))
    brute = np.sort(df["id"].to_numpy()[box_mask(df.ra.to_numpy(), df.dec.to_numpy(), *rr, *dd)])
    np.testing.assert_array_equal(got, brute)
    want = lsdb_ids(lsdb.open_catalog(path).box_search(ra=rr, dec=dd))
    np.testing.assert_array_equal(got, want)


POLYS = [[(40, 30), (50, 30), (50, 50), (40, 50)],          # crosses the dec~41.8 face boundary
         [(350, -10), (10, -10), (0, 10)],                   # across RA 0
         [(0, 80), (120, 80), (240, 80)],                    # around the north pole
         [(100, -30), (110, -35), (115, -20), (105, -15), (98, -22)]]


@pytest.mark.parametrize("verts", POLYS)
def test_polygon_vs_brute(gen, tmp_path, verts):
    path, df, _ = gen
    args = [f"{a},{b}" for a, b in verts]
    got = np.sort(ids_of(path, "polygon", path, *args, tmp=tmp_path))
    brute = np.sort(df["id"].to_numpy()[poly_mask(df.ra.to_numpy(), df.dec.to_numpy(), verts)])
    assert len(brute) > 0
    np.testing.assert_array_equal(got, brute)
    # reversed winding gives the same rows
    got2 = np.sort(ids_of(path, "polygon", path, *args[::-1], tmp=tmp_path))
    np.testing.assert_array_equal(got2, brute)


def test_polygon_vs_lsdb(gen, tmp_path):
    pytest.importorskip("lsst.sphgeom", reason="lsdb.polygon_search needs lsst-sphgeom (not installed)")
    path, _, _ = gen
    for verts in POLYS:
        got = np.sort(ids_of(path, "polygon", path, *[f"{a},{b}" for a, b in verts], tmp=tmp_path))
        np.testing.assert_array_equal(got, lsdb_ids(lsdb.open_catalog(path).polygon_search(verts)))


def test_pixels_vs_healpy(gen, tmp_path):
    hp = pytest.importorskip("healpy")
    path, df, _ = gen
    pix = [0, 17, 47]
    got = np.sort(ids_of(path, "pixels", path, "--order", 2, *pix, tmp=tmp_path))
    p = hp.ang2pix(4, df.ra.to_numpy(), df.dec.to_numpy(), nest=True, lonlat=True)
    np.testing.assert_array_equal(got, np.sort(df["id"].to_numpy()[np.isin(p, pix)]))


WHERES = [
    ("mag < 12 and (cls == 'star' or id in (1, 2, 3))", "mag < 12 and (cls = 'star' or id in (1, 2, 3))"),
    ("mag is null", "mag is null"),
    ("not (mag >= 8) and cls != 'qso'", "not (mag >= 8) and cls <> 'qso'"),
    ("id <= 10 or id > 123990", "id <= 10 or id > 123990"),
    ("cls in ('qso') and mag is not null and dec > 0", "cls in ('qso') and mag is not null and dec > 0"),
]


@pytest.mark.parametrize("expr,sql", WHERES)
def test_scan_where_vs_duckdb(gen, tmp_path, expr, sql):
    duckdb = pytest.importorskip("duckdb")
    path, _, data = gen
    got = np.sort(ids_of(path, "scan", path, "--where", expr, tmp=tmp_path))
    want = duckdb.sql(f"select id from read_parquet('{data}/**/*.parquet') where {sql} order by id") \
        .fetchnumpy()["id"]
    np.testing.assert_array_equal(got, want)


def test_output_order_threads_limit_formats(gen, tmp_path):
    path, _, _ = gen
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    sky("box", path, "--ra", "300,60", "--dec", "-30,30", "--output", a)
    sky("box", path, "--ra", "300,60", "--dec", "-30,30", "--output", b, "--threads", "4")
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.equals(tb)
    h = ta.column("_healpix_29").to_numpy()
    assert len(h) > 1000 and np.all(np.diff(h) >= 0)
    p = sky("box", path, "--ra", "300,60", "--dec", "-30,30", "--limit", 5, "--columns", "id,mag")
    lines = p.stdout.strip().split("\n")
    assert lines[0] == "id,mag" and len(lines) == 6
    assert [int(x.split(",")[0]) for x in lines[1:]] == ta.column("id").to_pylist()[:5]
    for lim in (1, 777, 5000):
        p = sky("box", path, "--ra", "300,60", "--dec", "-30,30", "--limit", lim, "--columns", "id", "--threads", 3)
        assert [int(x) for x in p.stdout.split()[1:]] == ta.column("id").to_pylist()[:lim]
    j = tmp_path / "o.jsonl"
    sky("cone", path, 0, 0, 3600, "--columns", "id", "--output", j)
    import json
    rows = [json.loads(x) for x in j.read_text().splitlines()]
    assert [r["id"] for r in rows] == ids_of(path, "cone", path, 0, 0, 3600, tmp=tmp_path).tolist()


def test_empty_result_header_only(gen, tmp_path):
    path, _, _ = gen
    p = sky("cone", path, 10, 20.5, 0.001, "--columns", "id,ra,cls")
    assert p.stdout == "id,ra,cls\n"
    out = tmp_path / "e.parquet"
    sky("scan", path, "--where", "id < 0", "--output", out)
    t = pq.read_table(out)
    assert t.num_rows == 0 and "cls" in t.column_names


def test_explain_prunes(gen):
    path, _, _ = gen
    p = sky("cone", path, 45, 20, 60, "--explain")
    txt = p.stderr
    import re
    m = re.search(r"partitions (\d+) considered, (\d+) meet", txt)
    assert m and int(m.group(2)) < int(m.group(1)) and int(m.group(2)) >= 1
    m = re.search(r"bytes (\d+) considered, (\d+) read", txt)
    assert m and int(m.group(2)) <= int(m.group(1))


def test_bad_arguments(gen):
    path, _, _ = gen
    assert sky("cone", path, 0, 95, 10, check=False).returncode != 0
    assert sky("box", path, "--ra", "0,10", "--dec", "10,5", check=False).returncode != 0
    assert sky("scan", path, "--where", "id <", check=False).returncode != 0
    assert sky("scan", path, "--where", "nosuch > 1", check=False).returncode != 0
    assert sky("polygon", path, "0,0", "10,0", check=False).returncode != 0
    assert sky("pixels", path, "--order", 1, 48, check=False).returncode != 0


def _fixture(*parts):
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present")
    return p


@pytest.mark.parametrize("rel", [("fixtures", "hats", "small_sky"), ("fixtures", "hats", "small_sky_npix_as_dir"),
                                 ("fixtures", "hats-import", "small_sky_object_catalog"),
                                 ("fixtures", "hats", "small_sky_source")])
def test_fixtures_vs_lsdb(tmp_path, rel):
    path = _fixture(*rel)
    cat = lsdb.open_catalog(path)
    idcol = "id" if "id" in cat.columns else "source_id"
    for ra, dec, r in [(315, -60, 10 * 3600), (0, -90, 30 * 3600), (300, -40, 3600)]:
        out = tmp_path / "f.parquet"
        sky("cone", path, ra, dec, r, "--columns", idcol, "--output", out)
        got = np.sort(pq.read_table(out).column(idcol).to_numpy())
        want = np.sort(cat.cone_search(ra, dec, r).compute()[idcol].to_numpy())
        np.testing.assert_array_equal(got, want)
    out = tmp_path / "b.parquet"
    sky("box", path, "--ra", "280,320", "--dec", "-60,-30", "--columns", idcol, "--output", out)
    got = np.sort(pq.read_table(out).column(idcol).to_numpy())
    want = np.sort(cat.box_search(ra=(280, 320), dec=(-60, -30)).compute()[idcol].to_numpy())
    np.testing.assert_array_equal(got, want)


def test_hive_datasets_equal_hats(gen, tmp_path):
    """pyarrow write_dataset and DuckDB PARTITION_BY hive trees give the HATS results."""
    import pyarrow.dataset as ds
    duckdb = pytest.importorskip("duckdb")
    path, _, data = gen
    t = pq.read_table(data, columns=["_healpix_29", "id", "ra", "dec", "mag", "cls"])
    t = t.append_column("healpix_k2", pa.compute.shift_right(t.column("_healpix_29"), 54))
    pa_dir = tmp_path / "pa"
    ds.write_dataset(t, pa_dir, format="parquet", partitioning=ds.partitioning(
        pa.schema([("healpix_k2", pa.int64())]), flavor="hive"))
    dk_dir = tmp_path / "dk"
    con = duckdb.connect()
    con.register("t", t)
    con.execute(f"COPY t TO '{dk_dir}' (FORMAT parquet, PARTITION_BY (healpix_k2))")
    for args in [("cone", 0.5, 10, 3 * 3600), ("box", "--ra", "350,10", "--dec", "-10,10"),
                 ("polygon", "40,30", "50,30", "50,50", "40,50"), ("cone", 0, 90, 4 * 3600)]:
        want = np.sort(ids_of(path, args[0], path, *args[1:], tmp=tmp_path))
        for d in (pa_dir, dk_dir):
            got = np.sort(ids_of(d, args[0], d, *args[1:], tmp=tmp_path))
            np.testing.assert_array_equal(got, want, err_msg=str(d))


def test_row_group_pruning_plain_parquet(gen, tmp_path):
    """A sorted single file with many row groups: _healpix_29 and --where stats prune, results exact."""
    import re
    path, df, data = gen
    t = pq.read_table(data, columns=["_healpix_29", "id", "ra", "dec", "mag", "cls"]).sort_by("_healpix_29")
    f = tmp_path / "sorted.parquet"
    pq.write_table(t, f, row_group_size=2000)
    nrg = pq.ParquetFile(f).num_row_groups
    p = sky("cone", f, 45, 20, 1800, "--columns", "id", "--explain")
    m = re.search(r"row groups (\d+) considered, (\d+) after _healpix_29 stats, (\d+) read", p.stderr)
    assert m and int(m.group(1)) == nrg and 1 <= int(m.group(2)) <= 3, p.stderr
    got = np.sort(np.array([int(x) for x in p.stdout.split()[1:]], dtype=np.int64))
    brute = np.sort(df["id"].to_numpy()[hav(df.ra.to_numpy(), df.dec.to_numpy(), 45, 20, 0.5)])
    np.testing.assert_array_equal(got, brute)
    m = re.search(r"bytes (\d+) considered, (\d+) read", p.stderr)
    assert int(m.group(2)) < int(m.group(1))
    # --where statistics: _healpix_29 is sorted, so a range on it reads few row groups
    h = t.column("_healpix_29").to_numpy()
    lo, hi = int(h[5000]), int(h[7000])
    p = sky("scan", f, "--where", f"_healpix_29 >= {lo} and _healpix_29 < {hi}", "--columns", "id", "--explain")
    m = re.search(r"(\d+) read \(after --where stats\)", p.stderr)
    assert m and int(m.group(1)) <= 3
    got = np.array([int(x) for x in p.stdout.split()[1:]], dtype=np.int64)
    np.testing.assert_array_equal(got, t.column("id").to_numpy()[(h >= lo) & (h < hi)])


def test_default_columns_from_properties(tmp_path):
    path = _fixture("fixtures", "hats-import", "small_sky_object_catalog")
    props = dict(line.split("=", 1) for line in (path / "properties").read_text().splitlines() if "=" in line)
    want = props["hats_cols_default"].replace(",", " ").split()
    p = sky("scan", path, "--limit", 0)
    assert p.stdout.strip().split(",") == want


def test_cone_with_where_vs_lsdb(gen, tmp_path):
    path, df, _ = gen
    out = tmp_path / "w.parquet"
    sky("cone", path, 200, 30, 15 * 3600, "--where", "mag < 12 and cls == 'star'", "--columns", "id", "--output", out)
    got = np.sort(pq.read_table(out).column("id").to_numpy())
    r = lsdb.open_catalog(path).cone_search(200, 30, 15 * 3600).compute()
    want = np.sort(r[(r.mag < 12) & (r.cls == "star")]["id"].to_numpy())
    assert len(want) > 10
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["small_sky_object_catalog", "small_sky_source_catalog"])
def test_hipscat_vs_brute(tmp_path, name):
    """Legacy hipscat layout (LSDB no longer opens it): brute force over all its rows."""
    import json
    path = _fixture("fixtures", "hats-import", "hipscat", name)
    info = json.loads((path / "catalog_info.json").read_text())
    rac, decc = info.get("ra_column", "ra"), info.get("dec_column", "dec")
    files = sorted(path.glob("Norder=*/Dir=*/Npix=*.parquet"))
    t = pa.concat_tables([pq.read_table(f) for f in files])
    idcol = "source_id" if "source_id" in t.column_names else "id"
    ra, dec, ids = (t.column(c).to_numpy() for c in (rac, decc, idcol))
    for args, mask in [(("cone", 315, -60, 5 * 3600), hav(ra, dec, 315, -60, 5)),
                       (("box", "--ra", "300,330", "--dec", "-70,-50"), box_mask(ra, dec, 300, 330, -70, -50))]:
        out = tmp_path / "h.parquet"
        sky(args[0], path, *args[1:], "--columns", idcol, "--output", out)
        got = np.sort(pq.read_table(out).column(idcol).to_numpy())
        np.testing.assert_array_equal(got, np.sort(ids[mask]))
        assert len(got) > 0


def test_metadata_stats_skip_files(gen):
    """With _metadata, files whose row-group stats exclude --where are never opened."""
    import re
    path, _, data = gen
    files = sorted(data.glob("Norder=*/Dir=*/Npix=*.parquet"))
    def may(f):
        md = pq.ParquetFile(f).metadata
        ci = md.schema.to_arrow_schema().get_field_index("dec")
        return any(md.row_group(i).column(ci).statistics.max > 80 for i in range(md.num_row_groups))
    want_files = sum(may(f) for f in files)
    assert 0 < want_files < len(files)
    p = sky("scan", path, "--where", "dec > 80", "--columns", "id", "--explain")
    m = re.search(r"files opened (\d+)", p.stderr)
    assert m and int(m.group(1)) == want_files, p.stderr


def test_collection_with_parent_primary_url(tmp_path):
    """hats-import's small_sky_collection points at '../small_sky_object_catalog': hats resolves it
    relative to the collection; skytile refuses unless --allow-parent-paths, then equals LSDB."""
    path = _fixture("fixtures", "hats-import", "small_sky_collection")
    p = sky("cone", path, 315, -60, 10 * 3600, check=False)
    assert p.returncode != 0 and "leaves the collection" in p.stderr
    out = tmp_path / "c.parquet"
    sky("cone", path, 315, -60, 10 * 3600, "--columns", "id", "--output", out, "--allow-parent-paths")
    got = np.sort(pq.read_table(out).column("id").to_numpy())
    want = np.sort(lsdb.open_catalog(path).cone_search(315, -60, 10 * 3600).compute()["id"].to_numpy())
    assert len(want) > 0
    np.testing.assert_array_equal(got, want)
    p = sky("info", path, "--allow-parent-paths")
    assert "small_sky_01_source" in p.stdout and "rows:          131" in p.stdout
    # the o1 collection (inner paths inside it) opens without the flag
    path = _fixture("fixtures", "hats", "small_sky_o1_collection")
    sky("box", path, "--ra", "280,320", "--dec", "-60,-30", "--columns", "id", "--output", out)
    got = np.sort(pq.read_table(out).column("id").to_numpy())
    want = np.sort(lsdb.open_catalog(path).box_search(ra=(280, 320), dec=(-60, -30)).compute()["id"].to_numpy())
    assert len(want) > 0
    np.testing.assert_array_equal(got, want)
