"""`skytile generate`: the synthetic survey, checked with pyarrow, numpy/scipy and DuckDB.

Counts (objects; detections within binomial bounds), positions (uniform on the sphere or in a cone:
Kolmogorov-Smirnov tests), astrometric noise, the visit schedule (seasons), bands, the magnitude /
flux / error model, variables following their sinusoid (least-squares fit), targets.csv,
determinism (same seed -> same bytes whatever the threads; another seed -> other data), CSV output,
DuckDB reading the files and `skytile import` of the detections.
"""
import math

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pacsv
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest
from scipy import stats

from conftest import run_skytile

N_OBJ, N_EP, YEARS, VAR_FRAC, P_DET = 3000, 30, 3, 0.2, 0.9
OFFSET = {"g": 0.4, "r": 0.0, "i": -0.25}


def generate(out, *extra):
    p = run_skytile("generate", "--output", out, *extra)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen") / "s"
    generate(d, "--objects", N_OBJ, "--epochs", N_EP, "--years", YEARS, "--variable-fraction", VAR_FRAC,
             "--targets", 25, "--rows-per-file", 20000, "--seed", 7, "--threads", 2)
    objects = pq.read_table(d / "objects.parquet")
    det = pds.dataset(d / "detections", format="parquet").to_table()
    return d, objects, det


def test_counts_and_files(survey):
    d, objects, det = survey
    assert objects.num_rows == N_OBJ
    assert objects["object_id"].to_pylist() == list(range(1, N_OBJ + 1))
    n = det.num_rows
    mean, sd = N_OBJ * N_EP * P_DET, math.sqrt(N_OBJ * N_EP * P_DET * (1 - P_DET))
    assert abs(n - mean) < 6 * sd, (n, mean, sd)
    files = sorted((d / "detections").glob("part-*.parquet"))
    assert len(files) >= 4  # about 20000 detections per file
    for f in files[:-1]:
        assert 15000 <= pq.ParquetFile(f).metadata.num_rows <= 25000
    sid = det["source_id"].to_numpy()
    assert len(np.unique(sid)) == n
    oid = det["object_id"].to_numpy()
    assert np.array_equal(sid // N_EP, oid)
    assert set(np.unique(oid)) <= set(range(1, N_OBJ + 1))
    # per-object detection counts ~ Binomial(N_EP, P_DET)
    counts = np.bincount(oid, minlength=N_OBJ + 1)[1:]
    assert abs(counts.mean() - N_EP * P_DET) < 0.1
    assert abs(counts.var() - N_EP * P_DET * (1 - P_DET)) < 0.4
    assert det.schema.field("band").type == pa.string()
    for c in ("ra", "dec", "mjd", "mag", "mag_err", "flux", "flux_err"):
        assert det.schema.field(c).type == pa.float64()


def test_positions_uniform_on_sphere(survey):
    _, objects, det = survey
    ra, dec = objects["ra"].to_numpy(), objects["dec"].to_numpy()
    assert ra.min() >= 0 and ra.max() < 360 and dec.min() >= -90 and dec.max() <= 90
    assert stats.kstest(ra / 360.0, "uniform").pvalue > 1e-3
    assert stats.kstest((np.sin(np.radians(dec)) + 1) / 2, "uniform").pvalue > 1e-3
    # detections scatter around their object with astrometric_noise_arcsec = 0.3 per axis
    o = det["object_id"].to_numpy() - 1
    ddec = (det["dec"].to_numpy() - dec[o]) * 3600
    dra = (det["ra"].to_numpy() - ra[o]) * 3600 * np.cos(np.radians(dec[o]))
    dra = (dra + 180 * 3600) % (360 * 3600) - 180 * 3600
    keep = np.abs(dec[o]) < 80
    assert abs(ddec.std() - 0.3) < 0.01 and abs(dra[keep].std() - 0.3) < 0.01
    assert abs(ddec.mean()) < 0.01


def test_cone(tmp_path):
    d = tmp_path / "cone"
    generate(d, "--objects", 4000, "--epochs", 2, "--cone", "350,-30,5", "--seed", 3)
    o = pq.read_table(d / "objects.parquet")
    ra, dec = np.radians(o["ra"].to_numpy()), np.radians(o["dec"].to_numpy())
    ra0, dec0 = np.radians(350), np.radians(-30)
    cosd = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    sep = np.degrees(np.arccos(np.clip(cosd, -1, 1)))
    assert sep.max() <= 5 + 1e-9
    # uniform over the cap: P(sep < t) = (1 - cos t) / (1 - cos R)
    u = (1 - np.cos(np.radians(sep))) / (1 - np.cos(np.radians(5)))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # and isotropic around the centre (position angle uniform)
    pa_ = np.arctan2(np.sin(ra - ra0) * np.cos(dec),
                     np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0))
    assert stats.kstest((pa_ + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3


def test_schedule_and_bands(survey):
    _, _, det = survey
    t = np.sort(det["mjd"].to_numpy())
    gaps = np.diff(t)
    seasons = 1 + int((gaps > 30).sum())
    assert seasons == round(2 * YEARS)
    assert t.min() >= 58000 and t.max() <= 58000 + YEARS * 365.25
    k = det["source_id"].to_numpy() % N_EP
    band = np.array(det["band"].to_pylist())
    assert np.array_equal(band, np.array(["g", "r", "i"])[k % 3])
    # one visit time per epoch, detections within 0.01 day of it
    for e in (0, 7, N_EP - 1):
        te = det["mjd"].to_numpy()[k == e]
        assert te.max() - te.min() <= 0.01


def test_flux_and_error_model(survey):
    _, objects, det = survey
    mag, merr = det["mag"].to_numpy(), det["mag_err"].to_numpy()
    flux, ferr = det["flux"].to_numpy(), det["flux_err"].to_numpy()
    np.testing.assert_allclose(flux, 10 ** ((23.9 - mag) / 2.5), rtol=1e-12)
    np.testing.assert_allclose(ferr, flux * merr * np.log(10) / 2.5, rtol=1e-12)
    # constant objects: noise-free magnitude is mean_mag + band offset; check the error law
    o = det["object_id"].to_numpy() - 1
    var = objects["is_variable"].to_numpy(zero_copy_only=False)
    band = np.array(det["band"].to_pylist())
    true = objects["mean_mag"].to_numpy()[o] + np.vectorize(OFFSET.get)(band)
    c = ~var[o]
    expect = np.sqrt(0.005 ** 2 + (0.02 * 10 ** (0.4 * (true - 20))) ** 2)
    np.testing.assert_allclose(merr[c], expect[c], rtol=1e-9)
    pulls = (mag[c] - true[c]) / merr[c]
    assert abs(pulls.mean()) < 0.02 and abs(pulls.std() - 1) < 0.02
    mm = objects["mean_mag"].to_numpy()
    assert mm.min() >= 14 and mm.max() <= 22
    assert (mm > 20).mean() > (mm < 16).mean()  # more faint than bright objects


def test_variables_follow_their_sinusoid(survey):
    _, objects, det = survey
    var = objects["is_variable"].to_numpy(zero_copy_only=False)
    frac = var.mean()
    assert abs(frac - VAR_FRAC) < 4 * math.sqrt(VAR_FRAC * (1 - VAR_FRAC) / N_OBJ)
    per, amp, ph = (objects[c].to_numpy() for c in ("period_days", "amplitude_mag", "phase"))
    assert np.all(per[~var] == 0) and np.all(amp[~var] == 0)
    assert per[var].min() >= 0.5 and per[var].max() <= 400
    assert amp[var].min() >= 0.1 and amp[var].max() <= 1.0
    mm = objects["mean_mag"].to_numpy()
    o = det["object_id"].to_numpy() - 1
    t, mag = det["mjd"].to_numpy(), det["mag"].to_numpy()
    band = np.array(det["band"].to_pylist())
    off = np.vectorize(OFFSET.get)(band)
    # every variable: residuals from the documented model are pure noise
    v = var[o]
    model = mm[o] + off + amp[o] * np.sin(2 * np.pi * (t / np.where(per[o] > 0, per[o], 1) + ph[o]))
    pulls = (mag[v] - model[v]) / det["mag_err"].to_numpy()[v]
    assert abs(pulls.mean()) < 0.05 and abs(pulls.std() - 1) < 0.05
    # bright variables: a least-squares fit at the known period recovers amplitude and phase
    checked = 0
    for i in np.nonzero(var & (mm < 19))[0][:15]:
        s = o == i
        w = 2 * np.pi * t[s] / per[i]
        A = np.column_stack([np.ones(s.sum()), off[s], np.sin(w), np.cos(w)])
        coef, *_ = np.linalg.lstsq(A, mag[s], rcond=None)
        fit_amp = math.hypot(coef[2], coef[3])
        assert abs(fit_amp - amp[i]) < 0.05, (i, fit_amp, amp[i])
        # a*sin(w) + b*cos(w) = amp*sin(w + 2 pi phase)
        fit_phase = (math.atan2(coef[3], coef[2]) / (2 * np.pi)) % 1
        dphase = abs((fit_phase - ph[i] + 0.5) % 1 - 0.5)
        assert dphase < 0.05, (i, fit_phase, ph[i])
        checked += 1
    assert checked >= 5


def test_targets(survey):
    d, objects, _ = survey
    tg = pacsv.read_csv(d / "targets.csv")
    assert tg.column_names == ["id", "ra", "dec"] and tg.num_rows == 25
    var = objects["is_variable"].to_numpy(zero_copy_only=False)
    ids = tg["id"].to_numpy()
    mm = objects["mean_mag"].to_numpy()
    order = np.lexsort((np.arange(N_OBJ), mm, ~var))  # variables first, brightest first
    assert var.sum() >= 25
    assert list(ids) == list(order[:25] + 1)
    assert np.all(var[ids - 1]) and np.all(np.diff(mm[ids - 1]) >= 0)
    np.testing.assert_allclose(tg["ra"].to_numpy(), objects["ra"].to_numpy()[ids - 1], atol=1e-11)
    np.testing.assert_allclose(tg["dec"].to_numpy(), objects["dec"].to_numpy()[ids - 1], atol=1e-11)


def test_deterministic(tmp_path):
    args = ["--objects", 1500, "--epochs", 12, "--rows-per-file", 5000]
    generate(tmp_path / "a", *args, "--seed", 11, "--threads", 1)
    generate(tmp_path / "b", *args, "--seed", 11, "--threads", 2)
    generate(tmp_path / "c", *args, "--seed", 12, "--threads", 2)
    names = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(names) >= 4
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    ta = pds.dataset(tmp_path / "a" / "detections").to_table()
    tc = pds.dataset(tmp_path / "c" / "detections").to_table()
    assert not np.array_equal(ta["mag"].to_numpy()[:100], tc["mag"].to_numpy()[:100])
    oa, oc = pq.read_table(tmp_path / "a" / "objects.parquet"), pq.read_table(tmp_path / "c" / "objects.parquet")
    assert not np.allclose(oa["ra"].to_numpy(), oc["ra"].to_numpy())


def test_csv_format_matches_parquet(tmp_path):
    args = ["--objects", 300, "--epochs", 10, "--seed", 5]
    generate(tmp_path / "p", *args)
    generate(tmp_path / "c", *args, "--format", "csv")
    tp = pds.dataset(tmp_path / "p" / "detections").to_table()
    files = sorted((tmp_path / "c" / "detections").glob("part-*.csv"))
    assert files
    tc = pa.concat_tables([pacsv.read_csv(f) for f in files])
    assert tc.column_names == tp.column_names and tc.num_rows == tp.num_rows
    for c in tp.column_names:
        assert tc[c].to_pylist() == tp[c].to_pylist(), c


def test_duckdb_reads_files(survey):
    d, objects, det = survey
    con = duckdb.connect()
    n, nobj, sg = con.execute(
        f"select count(*), count(distinct object_id), sum(flux) from read_parquet('{d}/detections/*.parquet')"
    ).fetchone()
    assert n == det.num_rows and nobj == len(np.unique(det["object_id"].to_numpy()))
    assert sg == pytest.approx(float(det["flux"].to_numpy().sum()), rel=1e-12)
    nv = con.execute(f"select count(*) from read_parquet('{d}/objects.parquet') where is_variable").fetchone()[0]
    assert nv == int(objects["is_variable"].to_numpy(zero_copy_only=False).sum())


def test_import_detections(survey, tmp_path):
    d, _, det = survey
    cat = tmp_path / "cat"
    p = run_skytile("import", d / "detections", "--output", cat, "--catalog-type", "source",
                    "--pixel-threshold", 20000, "--highest-order", 6, "--threads", 2, timeout=300)
    assert p.returncode == 0, p.stderr
    got = pds.dataset(cat / "dataset", format="parquet", partitioning="hive").to_table(
        columns=["source_id", "mag"])
    assert got.num_rows == det.num_rows
    a = np.sort(got["source_id"].to_numpy())
    assert np.array_equal(a, np.sort(det["source_id"].to_numpy()))


def test_errors(tmp_path):
    d = tmp_path / "x"
    generate(d, "--objects", 10, "--epochs", 2)
    p = run_skytile("generate", "--output", d, "--objects", 10)
    assert p.returncode == 1 and "not empty" in p.stderr
    generate(d, "--objects", 20, "--epochs", 3, "--overwrite")
    assert pq.read_table(d / "objects.parquet").num_rows == 20
    p = run_skytile("generate", "--output", tmp_path / "y", "--cone", "10,95,1")
    assert p.returncode != 0 and "cone" in p.stderr
    p = run_skytile("generate", "--output", tmp_path / "z", "--format", "fits")
    assert p.returncode == 2
    p = run_skytile("generate")
    assert p.returncode == 2 and "--output" in p.stderr


def test_pipeline_generate_import_lightcurves_plot(survey, tmp_path):
    """The demo's chain: detections -> HATS -> light curves of targets.csv with PNGs -> plot."""
    d, _, det = survey
    cat = tmp_path / "cat"
    p = run_skytile("import", d / "detections", "--output", cat, "--catalog-type", "source",
                    "--pixel-threshold", 30000, "--highest-order", 6, "--threads", 2, timeout=300)
    assert p.returncode == 0, p.stderr
    out, plots = tmp_path / "lc.parquet", tmp_path / "plots"
    p = run_skytile("lightcurves", "--catalog", cat, "--targets", d / "targets.csv", "--radius-arcsec", 1,
                    "--time-column", "mjd", "--id-column", "id", "--band-column", "band",
                    "--plot-y", "flux", "--plot-err", "flux_err", "--plot", plots, "--output", out,
                    timeout=300)
    assert p.returncode == 0, p.stderr
    lc = pq.read_table(out)
    tg = pacsv.read_csv(d / "targets.csv")
    targets = tg["id"].to_pylist()
    ra, dec = np.radians(det["ra"].to_numpy()), np.radians(det["dec"].to_numpy())
    oid, sid = det["object_id"].to_numpy(), det["source_id"].to_numpy()
    for t, tra, tdec in zip(targets, np.radians(tg["ra"].to_numpy()), np.radians(tg["dec"].to_numpy())):
        rows = lc.filter(pa.compute.equal(lc["id"], t))
        # the detections within 1 arcsec (haversine), in time order; with 0.3 arcsec noise
        # per axis they are nearly all the object's own detections
        h = np.sin((dec - tdec) / 2) ** 2 + np.cos(dec) * np.cos(tdec) * np.sin((ra - tra) / 2) ** 2
        sep = np.degrees(2 * np.arcsin(np.sqrt(h))) * 3600
        want = np.sort(sid[sep <= 1.0 - 1e-9])
        got = np.sort(rows["source_id"].to_numpy())
        assert np.array_equal(got, want) or np.array_equal(got, np.sort(sid[sep <= 1.0 + 1e-9])), t
        assert len(got) >= 0.9 * (oid == t).sum()
        assert np.all(np.diff(rows["mjd"].to_numpy()) >= 0)
        png = plots / f"{t}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    t0 = targets[0]
    p = run_skytile("plot", out, "--id", t0, "--y", "mag", "--err", "mag_err", "--band-column", "band",
                    "--magnitude", "--output", tmp_path / "one.png")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "one.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
