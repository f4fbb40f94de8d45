"""`skytile lightcurves` (issue #7 item 2): light curves of targets from
multi-epoch catalogs, through the CLI (so it also runs under ASan).

Data: a generated multi-epoch survey (numpy): objects spread over the sky
plus objects placed on HEALPix partition boundaries, near the north pole and
on both sides of RA = 0, with close neighbours just outside the match radius;
every object is detected at several epochs per "year" in bands g and r with
position noise; a few objects are periodic variables whose detections are
known.  The same rows are
  - imported as one HATS catalog with `skytile import`,
  - written with pyarrow as hive datasets like IRSA's NEOWISE tables
    (yearN/healpix_k0=A/healpix_k5=B/part-0.parquet, one dataset per year,
    one of them with a _metadata file).
Oracle: astropy's search_around_sky over every row, then group by target,
sort by time.  Light curves must be identical between HATS and hive, one
catalog and the split-by-year catalogs, flat and nested.
"""
import json
import os
import re
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import run_skytile, write_hive_partitions

hp = pytest.importorskip("healpy")
coords = pytest.importorskip("astropy.coordinates")
units = pytest.importorskip("astropy.units")

RADIUS = 1.5          # arcsec
NOISE = 0.25          # arcsec, per coordinate
YEARS = 4
EPOCHS = 6            # per year and band
PERIOD = 3.7          # days, for the injected variables


def _offset(ra, dec, dra_as, ddec_as):
    """Move (ra, dec) by small tangent-plane offsets in arcsec (exact-ish on the sphere)."""
    ra = np.radians(ra); dec = np.radians(dec)
    x, y = np.radians(dra_as / 3600.0), np.radians(ddec_as / 3600.0)
    # gnomonic inverse around (ra, dec)
    d = np.cos(dec) - y * np.sin(dec)
    ra2 = ra + np.arctan2(x, d)
    dec2 = np.arctan2(np.sin(dec) + y * np.cos(dec), np.hypot(x, d))
    return np.degrees(ra2) % 360.0, np.degrees(dec2)


def make_survey(seed=7):
    rng = np.random.default_rng(seed)
    # --- objects
    n_rand = 900
    u = rng.uniform(-1, 1, n_rand)
    ra = list(rng.uniform(0, 360, n_rand)); dec = list(np.degrees(np.arcsin(u)))
    special = {}
    # on partition boundaries: corners/edges of order-1..3 pixels (nested)
    for order, pix in ((1, 5), (2, 20), (3, 300), (3, 301), (0, 4)):
        b = hp.boundaries(2**order, pix, step=2, nest=True)
        r, d = hp.vec2ang(b.T, lonlat=True)
        for k in (0, 1, 3):
            special[f"edge{order}_{pix}_{k}"] = (r[k] % 360.0, d[k])
    special["pole"] = (123.0, 89.99995)
    special["south"] = (10.0, -89.9999)
    special["ra0_lo"] = (359.99998, 12.5)
    special["ra0_hi"] = (0.00002, -33.0)
    special["ra0_on"] = (0.0, 45.0)
    for i, (k, (r, d)) in enumerate(special.items()):
        ra.append(r); dec.append(d)
    # neighbours at 3.2 arcsec of the first 12 special objects (outside the radius)
    names = list(special)
    for k in names[:12]:
        r, d = special[k]
        r2, d2 = _offset(np.array([r]), np.array([d]), 3.2, 0.0)
        ra.append(float(r2[0])); dec.append(float(d2[0]))
    ra = np.array(ra); dec = np.array(dec)
    nobj = len(ra)
    obj_id = np.arange(nobj, dtype=np.int64) * 10 + 1
    variable = np.zeros(nobj, bool)
    variable[[n_rand + 0, n_rand + 5, n_rand + 13, 17, 42]] = True
    base = rng.uniform(50, 500, nobj)
    # --- detections
    rows = {k: [] for k in ("obj_id", "ra", "dec", "mjd", "band", "flux", "flux_err", "cc_flags", "year")}
    for y in range(YEARS):
        for e in range(EPOCHS):
            for bi, band in enumerate("gr"):
                seen = rng.uniform(size=nobj) < 0.85
                idx = np.nonzero(seen)[0]
                t = 55000 + 365.25 * y + 4.0 * e + 0.3 * bi + rng.uniform(0, 0.2, idx.size)
                r2, d2 = _offset(ra[idx], dec[idx], rng.normal(0, NOISE, idx.size), rng.normal(0, NOISE, idx.size))
                flux = base[idx] * (1 + 0.4 * variable[idx] * np.sin(2 * np.pi * t / PERIOD)) + rng.normal(0, 1, idx.size)
                rows["obj_id"].append(obj_id[idx]); rows["ra"].append(r2); rows["dec"].append(d2)
                rows["mjd"].append(t); rows["band"].append(np.full(idx.size, band))
                rows["flux"].append(flux); rows["flux_err"].append(rng.uniform(0.5, 2.0, idx.size))
                rows["cc_flags"].append(np.where(rng.uniform(size=idx.size) < 0.1, "0100", "0000"))
                rows["year"].append(np.full(idx.size, y + 1, dtype=np.int32))
    cols = {k: np.concatenate(v) for k, v in rows.items()}
    n = cols["ra"].size
    order = rng.permutation(n)
    cols = {k: v[order] for k, v in cols.items()}
    t = pa.table({"det_id": pa.array(np.arange(n, dtype=np.int64) + 1000),
                  "obj_id": cols["obj_id"], "ra": cols["ra"], "dec": cols["dec"], "mjd": cols["mjd"],
                  "band": pa.array(cols["band"].astype(str)), "flux": cols["flux"], "flux_err": cols["flux_err"],
                  "cc_flags": pa.array(cols["cc_flags"].astype(str)), "year": cols["year"]})
    assert len(np.unique(cols["mjd"])) == n        # no time ties
    objs = {"ra": ra, "dec": dec, "obj_id": obj_id, "variable": variable, "special": names, "n_rand": n_rand}
    return t, objs


def write_hive(t, root, year, with_metadata=False, flux_type=None):
    """IRSA-like hive dataset of one year: healpix_k0=A/healpix_k5=B/part-0.parquet."""
    sub = t.filter(pc.equal(t["year"], year))
    if flux_type is not None:
        sub = sub.set_column(sub.schema.get_field_index("flux"), "flux", sub["flux"].cast(flux_type))
    ds = root / f"year{year}" / f"survey-healpix_k5-year{year}.parquet"
    return write_hive_partitions(sub, ds, 5, 40, with_metadata)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lc")
    t, objs = make_survey()
    pq.write_table(t, tmp / "all.parquet")
    hats = tmp / "hats"
    run_skytile("import", tmp / "all.parquet", "--output", hats, "--highest-order", "6",
                "--pixel-threshold", "1500", "--row-group-rows", "120", "--threads", "2", check=True, timeout=300)
    hive = tmp / "hive"
    years = [write_hive(t, hive, y, with_metadata=(y == 2)) for y in range(1, YEARS + 1)]
    # targets: special objects (+ neighbours' partners), variables, random objects, empty sky, a null position
    ra, dec, oid = objs["ra"], objs["dec"], objs["obj_id"]
    n_rand = objs["n_rand"]
    pick = list(range(n_rand, n_rand + len(objs["special"]))) + [17, 42, 5, 300, 777]
    tra = [ra[i] for i in pick] + [200.0, 10.0, 0.0]
    tdec = [dec[i] for i in pick] + [-60.0, 88.0, 0.0]
    names = [f"T{i:03d} {k}" for i, k in enumerate(objs["special"])] + ["var17", "var42", "r5", "r300", "r777",
                                                                       "empty1", "empty2/x", "empty3"]
    uid = np.arange(len(tra), dtype=np.int64) * 7 + 3
    tgt = pa.table({"uid": uid, "name": names, "ra": tra, "dec": tdec})
    pacsv.write_csv(tgt, tmp / "targets.csv")
    # a target with a null position
    with open(tmp / "targets.csv", "a") as f:
        f.write('999,"nullpos",,\n')
    return {"tmp": tmp, "table": t, "objs": objs, "hats": hats, "hive": hive, "years": years,
            "targets": pacsv.read_csv(tmp / "targets.csv"), "pick": pick}


def oracle(survey, where=None):
    """Flat light curves from astropy search_around_sky over every row."""
    t = survey["table"]
    if where is not None:
        t = t.filter(where(t))
    tg = survey["targets"]
    ok = np.isfinite(tg["ra"].to_numpy(zero_copy_only=False).astype(float))
    tidx = np.nonzero(ok)[0]
    tc = coords.SkyCoord(tg["ra"].to_numpy(zero_copy_only=False)[tidx] * units.deg,
                         tg["dec"].to_numpy(zero_copy_only=False)[tidx] * units.deg)
    dc = coords.SkyCoord(t["ra"].to_numpy() * units.deg, t["dec"].to_numpy() * units.deg)
    i1, i2, sep, _ = coords.search_around_sky(tc, dc, RADIUS * units.arcsec)
    ti = tidx[i1]
    mjd = t["mjd"].to_numpy()[i2]
    order = np.lexsort((mjd, ti))
    return ti[order], t["det_id"].to_numpy()[i2][order], sep.to_value(units.arcsec)[order]


def lc(survey, catalogs, out, *extra, check=True):
    args = ["lightcurves"]
    for c in catalogs:
        args += ["--catalog", c]
    args += ["--targets", survey["tmp"] / "targets.csv", "--radius-arcsec", RADIUS, "--time-column", "mjd",
             "--id-column", "uid", "--output", out, *extra]
    return run_skytile(*args, check=check, timeout=120)


def target_index(survey, uids):
    u = survey["targets"]["uid"].to_numpy()
    pos = {v: i for i, v in enumerate(u)}
    return np.array([pos[v] for v in uids], dtype=np.int64)


def test_hats_flat_matches_oracle(survey):
    out = survey["tmp"] / "hats_flat.parquet"
    p = lc(survey, [survey["hats"]], out, "--columns", "det_id,obj_id,flux,band,cc_flags")
    got = pq.read_table(out)
    assert got.column_names == ["uid", "_target_ra", "_target_dec", "mjd", "det_id", "obj_id", "flux", "band",
                                "cc_flags", "_dist_arcsec"]
    ti, det, sep = oracle(survey)
    assert len(det) > 500
    assert np.array_equal(target_index(survey, got["uid"].to_numpy()), ti)
    assert np.array_equal(got["det_id"].to_numpy(), det)
    assert np.allclose(got["_dist_arcsec"].to_numpy(), sep, rtol=0, atol=1e-9)
    # sorted by target input order, then time
    mj = got["mjd"].to_numpy()
    same = ti[1:] == ti[:-1]
    assert np.all(mj[1:][same] > mj[:-1][same])
    # target coordinates are those of the targets file
    tg = survey["targets"]
    assert np.array_equal(got["_target_ra"].to_numpy(), tg["ra"].to_numpy(zero_copy_only=False)[ti])
    # every injected detection of each picked object is recovered, and nothing else
    t = survey["table"]
    oid = survey["objs"]["obj_id"]
    for k, i in enumerate(survey["pick"]):
        exp = np.sort(t.filter(pc.equal(t["obj_id"], oid[i]))["det_id"].to_numpy())
        mine = np.sort(got["det_id"].to_numpy()[ti == k])
        assert np.array_equal(mine, exp), survey["targets"]["name"][k]
    # targets without detections (empty sky, null position) are absent
    names = set(tg["name"].to_numpy(zero_copy_only=False)[np.unique(ti)])
    assert not names & {"empty1", "empty2/x", "empty3", "nullpos"}
    m = re.search(r"(\d+) targets, (\d+) with detections, (\d+) detections", p.stderr)
    assert m and int(m.group(1)) == tg.num_rows and int(m.group(2)) == len(np.unique(ti)) and int(m.group(3)) == len(det)


def test_hive_and_split_years_identical(survey):
    ref = survey["tmp"] / "ref.parquet"
    lc(survey, [survey["hats"]], ref)
    a = pq.read_table(ref)
    # one catalog: the hive root holding every year (trees unioned)
    out1 = survey["tmp"] / "hive_all.parquet"
    lc(survey, [survey["hive"]], out1)
    # split by year: several catalogs, comma list and repeated option
    out2 = survey["tmp"] / "hive_years.parquet"
    y = [str(p) for p in survey["years"]]
    lc(survey, [",".join(y[:2]), y[2], y[3]], out2)
    b, c = pq.read_table(out1), pq.read_table(out2)
    # HATS adds _healpix_29 to the default columns: compare the common ones
    cols = [n for n in b.column_names]
    assert set(cols) <= set(a.column_names)
    assert a.select(cols).equals(b), "HATS vs hive"
    assert b.equals(c), "one hive catalog vs split by year"
    ti, det, _ = oracle(survey)
    assert np.array_equal(b["det_id"].to_numpy(), det)
    # threads do not change the result
    out3 = survey["tmp"] / "hive_years_t2.parquet"
    lc(survey, [",".join(y)], out3, "--threads", "2")
    assert pq.read_table(out3).equals(c)
    # the data is meaningful: several targets' detections straddle HATS partitions (pole, RA=0, edges)
    parts = []
    for f in survey["hats"].glob("dataset/Norder=*/Dir=*/Npix=*.parquet"):
        o, _, p = (int(x) for x in re.findall(r"=(\d+)", str(f.relative_to(survey["hats"]))))
        parts.append((o, p))
    h29 = a["_healpix_29"].to_numpy()
    uid = a["uid"].to_numpy()
    spread = 0
    for u in np.unique(uid):
        hs = h29[uid == u]
        spread += len({(o, p) for o, p in parts if np.any(hs >> (2 * (29 - o)) == p)}) > 1
    assert spread >= 5


def test_nested_equals_flat(survey):
    flat = survey["tmp"] / "n_flat.parquet"
    nest = survey["tmp"] / "n_nested.parquet"
    lc(survey, [survey["hats"]], flat, "--columns", "mjd,flux,band")
    lc(survey, [survey["hats"]], nest, "--columns", "mjd,flux,band", "--nested")
    f = pq.read_table(flat)
    n = pq.read_table(nest)
    assert n.column_names == ["uid", "_target_ra", "_target_dec", "_n", "lc"]
    assert n.schema.field("lc").type == pa.struct([("mjd", pa.list_(pa.float64())), ("flux", pa.list_(pa.float64())),
                                                   ("band", pa.list_(pa.string())),
                                                   ("_dist_arcsec", pa.list_(pa.float64()))])
    uids, counts = np.unique(f["uid"].to_numpy(), return_counts=True)
    assert n.num_rows == len(uids)
    assert np.array_equal(n["_n"].to_numpy(), [counts[list(uids).index(u)] for u in n["uid"].to_numpy()])
    for name in ("mjd", "flux", "band", "_dist_arcsec"):
        flat_vals = pc.list_flatten(pc.struct_field(n["lc"], name)).to_pylist()
        assert flat_vals == f[name].to_pylist()
    assert np.array_equal(np.repeat(n["uid"].to_numpy(), n["_n"].to_numpy()), f["uid"].to_numpy())
    # Parquet targets give the same light curves as the CSV ones
    pq.write_table(survey["targets"], survey["tmp"] / "targets.parquet")
    flat2 = survey["tmp"] / "n_flat2.parquet"
    run_skytile("lightcurves", "--catalog", survey["hats"], "--targets", survey["tmp"] / "targets.parquet",
                "--radius-arcsec", RADIUS, "--time-column", "mjd", "--id-column", "uid", "--columns", "mjd,flux,band",
                "--output", flat2, check=True)
    assert pq.read_table(flat2).equals(f)
    # nested-pandas reads the column as a nested column
    npd = pytest.importorskip("nested_pandas")
    nf = npd.read_parquet(nest)
    assert "lc" in nf.nested_columns
    flat_np = nf["lc"].nest.to_flat()
    assert np.allclose(flat_np["mjd"].to_numpy(dtype=float), f["mjd"].to_numpy())


def test_where_filter_and_text_outputs(survey):
    out = survey["tmp"] / "w.csv"
    lc(survey, [survey["hats"]], out, "--columns", "det_id,cc_flags", "--where", "cc_flags == '0000'")
    got = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(column_types={"cc_flags": pa.string()}))
    ti, det, _ = oracle(survey, where=lambda t: pc.equal(t["cc_flags"], "0000"))
    assert np.array_equal(got["det_id"].to_numpy(), det)
    assert set(got["cc_flags"].to_pylist()) == {"0000"}
    # hive (no _healpix_29: the Dec intervals are added to the filter) gives the same
    out2 = survey["tmp"] / "w.jsonl"
    lc(survey, [survey["hive"]], out2, "--columns", "det_id,cc_flags", "--where", "cc_flags == '0000'")
    rows = [json.loads(l) for l in out2.read_text().splitlines()]
    assert [r["det_id"] for r in rows] == list(det)
    assert not list(survey["tmp"].glob("*.tmp-skytile-*"))


def test_pruning_stats(survey):
    tg = survey["tmp"] / "few.csv"
    t = survey["targets"].slice(0, 3)
    pacsv.write_csv(t, tg)
    out = survey["tmp"] / "few.parquet"
    total = survey["table"].num_rows
    for cat in (survey["hats"], survey["hive"]):
        p = run_skytile("lightcurves", "--catalog", cat, "--targets", tg, "--radius-arcsec", RADIUS,
                        "--time-column", "mjd", "--id-column", "uid", "--output", out, "--explain", check=True)
        m = re.search(r"rows (\d+) read of (\d+), (\d+) inside the cells, (\d+) detections", p.stderr)
        assert m, p.stderr
        read, tot, cells, dets = map(int, m.groups())
        assert tot == total
        assert read < total / 10, p.stderr
        assert dets <= cells <= read
        m = re.search(r"row groups (\d+) of (\d+) read; bytes (\d+) of (\d+) read", p.stderr)
        assert int(m.group(1)) < int(m.group(2)) / 5 and int(m.group(3)) < int(m.group(4)) / 5
        got = pq.read_table(out)
        ti, det, _ = oracle(survey)
        assert np.array_equal(got["det_id"].to_numpy(), det[ti < 3])


def test_schema_mismatch_is_an_error(survey):
    bad = write_hive(survey["table"], survey["tmp"] / "hive_f32", 1, flux_type=pa.float32())
    out = survey["tmp"] / "bad.parquet"
    p = lc(survey, [survey["years"][1], bad], out, "--columns", "flux", check=False)
    assert p.returncode == 1
    assert "flux" in p.stderr and "double" in p.stderr and "float" in p.stderr
    assert not out.exists()
    p = lc(survey, [survey["hats"]], out, "--columns", "nope", check=False)
    assert p.returncode == 1 and "nope" in p.stderr
    p = run_skytile("lightcurves", "--catalog", survey["hats"], "--targets", survey["tmp"] / "targets.csv",
                    "--time-column", "mjd", "--output", out)
    assert p.returncode == 2 and "radius" in p.stderr
    p = lc(survey, [survey["hats"]], out, "--plot-y", "flux", check=False)
    assert p.returncode == 2 and "--plot" in p.stderr
    p = lc(survey, [survey["hats"]], out, "--time-column", "band", check=False)
    assert p.returncode == 1 and "time column 'band' is string" in p.stderr


def png_size(path):
    b = path.read_bytes()
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    assert b[12:16] == b"IHDR"
    return struct.unpack(">II", b[16:24])


def test_plots(survey):
    d = survey["tmp"] / "plots"
    out = survey["tmp"] / "p.parquet"
    p = lc(survey, [survey["hats"]], out, "--id-column", "name", "--plot", d, "--plot-y", "flux",
           "--plot-err", "flux_err", "--band-column", "band", "--nested", check=False)
    assert p.returncode == 0, p.stderr
    ti, det, _ = oracle(survey)
    names = survey["targets"]["name"].to_numpy(zero_copy_only=False)
    exp = {re.sub(r"[^A-Za-z0-9._+-]", "_", names[i]) + ".png" for i in np.unique(ti)}
    assert {f.name for f in d.iterdir()} == exp
    for f in d.iterdir():
        assert png_size(f) == (1000, 500) and f.stat().st_size > 1000
    n = pq.read_table(out)
    assert n.column_names[:4] == ["name", "_target_ra", "_target_dec", "_n"]
    assert n.num_rows == len(exp)
    # without bands: default y columns (float detection columns)
    d2 = survey["tmp"] / "plots2"
    p = lc(survey, [survey["hats"]], out, "--plot", d2, "--columns", "flux", "--magnitude", "--gap-days", "100")
    assert len(list(d2.iterdir())) == len(exp)
    # plotting on several threads writes the same files
    d3 = survey["tmp"] / "plots3"
    p = lc(survey, [survey["hats"]], out, "--plot", d3, "--columns", "flux", "--magnitude", "--gap-days", "100",
           "--threads", "3")
    assert sorted(f.name for f in d3.iterdir()) == sorted(f.name for f in d2.iterdir())
    for f in d2.iterdir():
        assert (d3 / f.name).read_bytes() == f.read_bytes()
