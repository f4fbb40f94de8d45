"""`skytile lightcurves` reads, of every row group, only the rows whose Dec
lies in some target's band dec +- radius (the Dec hint given to st_query,
narrower than the bands of the covering cells), and queries catalogs of
similar size at once (one thread each), others one after the other.  These
must not change the result: detections placed just inside and just outside
the radius in Dec and RA around targets (also near both poles and across
RA 0/360, where cells and bands are widest), plus background rows, in
several hive catalogs (equal and very unequal sizes, with and without
_metadata); oracle: astropy search_around_sky over every row."""
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import run_skytile, write_hive_partitions

coords = pytest.importorskip("astropy.coordinates")
units = pytest.importorskip("astropy.units")

RADIUS = 20.0   # arcsec (large against the 0.6" Dec buckets, so a narrower band is seen)


def _targets():
    rng = np.random.default_rng(8)
    ra = list(rng.uniform(0, 360, 40)) + [0.0003, 359.9997, 123.0, 45.0, 200.0, 10.0]
    dec = list(rng.uniform(-60, 60, 40)) + [1.0, -1.0, 89.9995, -89.9993, 89.2, -30.0]
    return np.array(ra), np.array(dec)


def _detections(tra, tdec, rng):
    """Around each target: offsets of 0.999 and 1.001 radius north/south/east/west
    (east/west scaled by cos dec), random points within 3 radii; background rows."""
    r = RADIUS / 3600.0
    ra, dec = [], []
    for a, d in zip(tra, tdec):
        for f in (0.2, 0.999, 1.001, 1.5):
            for sgn in (1, -1):
                dd = d + sgn * f * r
                if abs(dd) <= 90:
                    ra.append(a); dec.append(dd)
                c = np.cos(np.radians(d))
                if c > 1e-3:
                    ra.append((a + sgn * f * r / c) % 360); dec.append(d)
        k = 12
        rr = rng.uniform(0, 3 * r, k)
        th = rng.uniform(0, 2 * np.pi, k)
        dd = np.clip(d + rr * np.sin(th), -90, 90)
        c = max(np.cos(np.radians(d)), 1e-3)
        ra += list((a + rr * np.cos(th) / c) % 360)
        dec += list(dd)
    # background: many rows in the targets' Dec bands but elsewhere in RA, and random rows
    bd = np.repeat(tdec, 30) + rng.uniform(-r, r, 30 * len(tdec))
    ra += list(rng.uniform(0, 360, bd.size)); dec += list(np.clip(bd, -90, 90))
    ra += list(rng.uniform(0, 360, 3000)); dec += list(np.degrees(np.arcsin(rng.uniform(-1, 1, 3000))))
    return np.array(ra), np.array(dec)


def _write_hive(root, ra, dec, mjd, det_id, with_metadata):
    t = pa.table({"det_id": pa.array(det_id), "ra": pa.array(ra), "dec": pa.array(dec), "mjd": pa.array(mjd)})
    write_hive_partitions(t, root, 3, 50, with_metadata)
    return t


@pytest.fixture(scope="module")
def cats(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lc_hint")
    rng = np.random.default_rng(21)
    tra, tdec = _targets()
    pacsv.write_csv(pa.table({"uid": np.arange(tra.size, dtype=np.int64), "ra": tra, "dec": tdec}),
                    tmp / "targets.csv")
    ra, dec = _detections(tra, tdec, rng)
    n = ra.size
    order = rng.permutation(n)
    ra, dec = ra[order], dec[order]
    mjd = 50000 + rng.permutation(n).astype(np.float64) * 0.01      # distinct times
    det = np.arange(n, dtype=np.int64)
    # three catalogs of similar size (queried at once), one tiny (others then one by one)
    part = np.array_split(np.arange(n), 3)
    paths, tables = [], []
    for k, ix in enumerate(part):
        tables.append(_write_hive(tmp / f"c{k}", ra[ix], dec[ix], mjd[ix], det[ix], with_metadata=k != 1))
        paths.append(tmp / f"c{k}")
    tiny = np.arange(n)[:25]
    tables.append(_write_hive(tmp / "tiny", ra[tiny], dec[tiny], mjd[tiny] + 1e5, det[tiny] + 10**6, True))
    paths.append(tmp / "tiny")
    return {"tmp": tmp, "paths": paths, "tables": tables, "tra": tra, "tdec": tdec}


def _oracle(c, tables):
    t = pa.concat_tables(tables)
    tc = coords.SkyCoord(c["tra"] * units.deg, c["tdec"] * units.deg)
    dc = coords.SkyCoord(t["ra"].to_numpy() * units.deg, t["dec"].to_numpy() * units.deg)
    i1, i2, _, _ = coords.search_around_sky(tc, dc, RADIUS * units.arcsec)
    mjd = t["mjd"].to_numpy()[i2]
    o = np.lexsort((mjd, i1))
    return i1[o], t["det_id"].to_numpy()[i2][o]


def _run(c, paths, out, threads):
    args = ["lightcurves"]
    for p in paths:
        args += ["--catalog", p]
    args += ["--targets", c["tmp"] / "targets.csv", "--radius-arcsec", RADIUS, "--time-column", "mjd",
             "--id-column", "uid", "--output", out, "--threads", threads, "--explain"]
    return run_skytile(*args, check=True, timeout=120)


@pytest.mark.parametrize("which", ["equal", "unequal", "one"])
def test_dec_hint_and_concurrent_catalogs_match_oracle(cats, which):
    sel = {"equal": [0, 1, 2], "unequal": [0, 1, 2, 3], "one": [1]}[which]
    paths = [cats["paths"][i] for i in sel]
    ti, det = _oracle(cats, [cats["tables"][i] for i in sel])
    # the placed detections decide: some at 0.999 radius are in, those at 1.001 out
    assert len(det) > 120
    results = []
    for threads in ("1", "2", "3"):
        out = cats["tmp"] / f"out_{which}_{threads}.parquet"
        _run(cats, paths, out, threads)
        got = pq.read_table(out)
        assert np.array_equal(got["uid"].to_numpy(), ti), threads
        assert np.array_equal(got["det_id"].to_numpy(), det), threads
        results.append(got)
    assert results[0].equals(results[1]) and results[0].equals(results[2])


def test_no_detection_anywhere(cats):
    """Targets whose bands hold no row: an empty result, not an error."""
    tg = cats["tmp"] / "far.csv"
    pacsv.write_csv(pa.table({"uid": pa.array([1, 2], pa.int64()), "ra": [33.3, 211.1], "dec": [-89.9999, 89.99999]}),
                    tg)
    out = cats["tmp"] / "far.parquet"
    args = ["lightcurves"]
    for p in cats["paths"][:3]:
        args += ["--catalog", p]
    run_skytile(*args, "--targets", tg, "--radius-arcsec", "0.01", "--time-column", "mjd", "--id-column", "uid",
                "--output", out, "--threads", "2", check=True, timeout=60)
    assert pq.read_table(out).num_rows == 0
