"""NEOWISE-like hive dataset generator for the light-curve benchmark (bench_lightcurves.py).

Writes, with numpy + pyarrow only, one Parquet dataset per survey "year" laid out like IRSA's
NEOWISE Single-exposure Source Table (s3://nasa-irsa-wise/wise/neowiser/catalogs/p1bs_psd/
healpix_k5/yearN/neowiser-healpix_k5-yearN.parquet/):

    <root>/year<Y>/neowiser-healpix_k5-year<Y>.parquet/
        _metadata, _common_metadata                      (pq.write_metadata, file paths set)
        healpix_k0=<A>/healpix_k5=<B>/part0.snappy.parquet  (pq.write_table, snappy, statistics)

plus <root>/targets.csv (uid, ra, dec) and <root>/objects.parquet (the true object list, with
the target uid or -1).  The partition values are the HEALPix nested order-0 / order-5 pixels of
each *detection's* own position (healpix_k0 = healpix_k5 >> 10), not of its object, so an object
on a pixel boundary has detections in two or more partitions, as in IRSA's tables.  Inside a
partition rows are sorted by position (nested HEALPix order-13 index of the detection, i.e. a
Z-order curve; ties keep generation order = object, then time), so each row group covers a
compact patch of sky; IRSA does not document its within-partition order.

Sky model (defaults): N_OBJECTS objects uniform in the box RA 100..118, Dec 0..18 (~320 deg^2,
~95 order-5 partitions) — a patch, so that detections per object stay NEOWISE-like with ~20M
detections in total.  Each object has a detection probability p ~ Beta(0.6, 1.5) (most objects
faint, a few bright); per year it is visited twice (six months apart, time set by its RA as for
a scan along ecliptic longitude) in 12 exposures ~1.58 h apart, and detected in Binomial(12, p)
consecutive ones.  Detections scatter around the object by a Gaussian of sigma 0.15-0.75"
(fainter = wider).  Flux and magnitudes follow the object's W1/W2 magnitudes (5% of objects
vary sinusoidally); cc_flags is "0000" for ~88% of detections.

Targets (N_TARGETS, default 2000): 10% are extra bright objects placed within 0.3" of a random
point on an order-5 pixel boundary (a quarter of them at pixel corners), 1% are positions with
no object, the rest are random objects of the field.  Target positions are the objects' true
positions; uid is an int64.

Columns (29): cntr (int64, unique), source_id (string), ra, dec, sigra, sigdec, sigradec, mjd,
w1mpro, w1sigmpro, w1snr, w1rchi2, w2mpro, w2sigmpro, w2snr, w2rchi2, w1flux, w1sigflux, w2flux,
w2sigflux, nb, na, cc_flags, ph_qual, moon_masked, qual_frame, qi_fact, scan_id, frame_num.

Usage:  .venv/bin/python bench/lc_gen.py [N_OBJECTS [N_YEARS [N_TARGETS]]]
        (prints the dataset root; nothing is rewritten when the root's DONE marker exists).
API:    generate(n_objects, n_years, n_targets, ...) -> pathlib.Path (the root)
"""
import os
import pathlib
import shutil
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

VERSION = 1
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RA_BOX = (100.0, 118.0)
DEC_BOX = (0.0, 18.0)
MJD0 = 56650.0                      # ~ start of NEOWISE-R year 1
EXPOSURES = 12                      # exposures per visit
EXP_DT = 1.5766 / 24.0              # orbit period in days
CC_OTHER = ["d000", "0d00", "h000", "00p0", "D000", "0H00", "hd00", "000o"]


def year_dir(root, y):
    """The dataset directory of year y (1-based) under root."""
    return pathlib.Path(root) / f"year{y}" / f"neowiser-healpix_k5-year{y}.parquet"


def root_for(n_objects, n_years, n_targets, seed=1, row_group_size=8192):
    return OUT / f"lc_neowise_o{n_objects}_y{n_years}_t{n_targets}_rg{row_group_size}_s{seed}_v{VERSION}"


def _ang2pix(order, ra, dec):
    import healpy
    return healpy.ang2pix(1 << order, ra, dec, nest=True, lonlat=True).astype(np.int64)


def _objects(rng, n_objects, n_targets):
    """Objects (ra, dec, p, w1, w2, amp, period) and targets (uid, ra, dec, object index or -1)."""
    import healpy
    n_bnd = n_targets // 10
    n_empty = max(1, n_targets // 100) if n_targets >= 10 else 0
    n_rand = n_targets - n_bnd - n_empty
    n_field = n_objects - n_bnd
    s0, s1 = np.sin(np.radians(DEC_BOX[0])), np.sin(np.radians(DEC_BOX[1]))
    ra = rng.uniform(*RA_BOX, n_field)
    dec = np.degrees(np.arcsin(rng.uniform(s0, s1, n_field)))
    # boundary objects: random points on the edges of order-5 pixels well inside the box
    cra, cdec = 0.5 * (RA_BOX[0] + RA_BOX[1]), 0.5 * (DEC_BOX[0] + DEC_BOX[1])
    half = 0.5 * (RA_BOX[1] - RA_BOX[0]) - 2.0
    inner = healpy.query_disc(32, healpy.ang2vec(cra, cdec, lonlat=True), np.radians(half), nest=True)
    bra, bdec = np.empty(n_bnd), np.empty(n_bnd)
    for i in range(n_bnd):
        pix = int(rng.choice(inner))
        vec = healpy.boundaries(32, pix, step=4, nest=True)        # 3 x 16, corners at 0, 4, 8, 12
        k = int(rng.integers(0, 4)) * 4 if i % 4 == 0 else int(rng.integers(0, 16))
        r, d = healpy.vec2ang(vec[:, k], lonlat=True)
        off = rng.uniform(0, 0.3 / 3600)
        ang = rng.uniform(0, 2 * np.pi)
        bra[i] = r[0] + off * np.cos(ang) / np.cos(np.radians(d[0]))
        bdec[i] = d[0] + off * np.sin(ang)
    ra = np.concatenate([ra, bra])
    dec = np.concatenate([dec, bdec])
    p = np.concatenate([rng.beta(0.6, 1.5, n_field), np.full(n_bnd, 0.8)])
    w1 = 17.0 - 8.0 * p + rng.normal(0, 0.5, n_objects)
    w2 = w1 - rng.normal(0.1, 0.3, n_objects)
    amp = np.where(rng.random(n_objects) < 0.05, rng.uniform(0.1, 1.0, n_objects), 0.0)
    period = rng.uniform(0.2, 30.0, n_objects)
    # targets: random field objects (with p large enough to be seen at least sometimes), the
    # boundary objects, and a few empty positions
    cand = np.flatnonzero(p[:n_field] > 0.05)
    tobj = np.concatenate([rng.choice(cand, n_rand, replace=False), np.arange(n_field, n_objects)])
    tra, tdec = ra[tobj], dec[tobj]
    era = rng.uniform(RA_BOX[0] + 1, RA_BOX[1] - 1, n_empty)
    edec = rng.uniform(DEC_BOX[0] + 1, DEC_BOX[1] - 1, n_empty)
    targets = {
        "uid": np.arange(1, n_targets + 1, dtype=np.int64) * 7 + 1000,
        "ra": np.concatenate([tra, era]),
        "dec": np.concatenate([tdec, edec]),
        "obj": np.concatenate([tobj, np.full(n_empty, -1)]),
    }
    perm = rng.permutation(n_targets)
    targets = {k: v[perm] for k, v in targets.items()}
    objs = dict(ra=ra, dec=dec, p=p, w1=w1, w2=w2, amp=amp, period=period)
    return objs, targets


def _year_table(rng, objs, y, cntr0):
    """All detections of year y (1-based) as a pyarrow Table, sorted by position."""
    n = len(objs["ra"])
    p = objs["p"]
    n1 = rng.binomial(EXPOSURES, p)
    n2 = rng.binomial(EXPOSURES, p)
    counts = n1 + n2
    tot = int(counts.sum())
    obj = np.repeat(np.arange(n, dtype=np.int64), counts)
    # rank of each detection within its object, then visit (0/1) and exposure number
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    j = np.arange(tot, dtype=np.int64) - starts
    n1r = np.repeat(n1, counts)
    visit = (j >= n1r).astype(np.int64)
    jj = np.where(visit == 0, j, j - n1r)
    nv = np.where(visit == 0, n1r, np.repeat(n2, counts))
    first = np.repeat(rng.integers(0, EXPOSURES, n), counts)
    first = np.minimum(first, EXPOSURES - nv)                      # consecutive exposures
    expo = first + jj
    ora, odec = objs["ra"][obj], objs["dec"][obj]
    t_visit = (MJD0 + 365.25 * (y - 1) + (ora - RA_BOX[0]) / 360.0 * 365.25 + visit * 182.6
               + (odec - DEC_BOX[0]) * 0.002)
    mjd = t_visit + expo * EXP_DT + rng.normal(0, 1e-4, tot)
    sig = (0.15 + 0.6 * (1 - objs["p"][obj])) / 3600.0
    dec = odec + rng.normal(0, 1, tot) * sig
    ra = ora + rng.normal(0, 1, tot) * sig / np.cos(np.radians(odec))
    per = objs["period"][obj]
    var = objs["amp"][obj] * np.sin(2 * np.pi * mjd / per)
    w1true = objs["w1"][obj] + var
    w2true = objs["w2"][obj] + 0.8 * var
    w1sig = 0.02 + 0.3 * np.exp((w1true - 16.0) / 1.2)
    w2sig = 0.03 + 0.3 * np.exp((w2true - 15.2) / 1.2)
    w1mpro = w1true + rng.normal(0, 1, tot) * w1sig
    w2mpro = w2true + rng.normal(0, 1, tot) * w2sig
    w1flux = 10 ** (-0.4 * (w1mpro - 20.752))
    w2flux = 10 ** (-0.4 * (w2mpro - 19.596))
    cc = np.where(rng.random(tot) < 0.88, 0, rng.integers(1, len(CC_OTHER) + 1, tot)).astype(np.int32)
    scan_idx = ((y - 1) * 2 + visit) * EXPOSURES * 16 + expo * 16 + ((ora - RA_BOX[0]) // 1.2).astype(np.int64)
    n_scan = 2 * y * EXPOSURES * 16 + 1
    scan_names = pa.array([f"{(i * 7919) % 100000:05d}{'abcr'[i % 4]}" for i in range(n_scan)])
    scan_id = scan_names.take(pa.array(scan_idx))
    frame_num = (((odec - DEC_BOX[0]) / 0.8).astype(np.int32) + 1 + 11 * y).astype(np.int32)
    srcnum = rng.integers(1, 3000, tot)
    source_id = pc.binary_join_element_wise(scan_id, pc.cast(pa.array(frame_num), pa.string()),
                                            pc.cast(pa.array(srcnum), pa.string()), "-")
    cc_names = pa.array(["0000"] + CC_OTHER)
    phq = pa.array(["AA", "AB", "BA", "BB", "AC", "CA"])
    phq_idx = np.minimum((w1sig > 0.1).astype(np.int64) * 2 + (w2sig > 0.1) + (rng.random(tot) < 0.02) * 4, 5)
    cols = {
        "source_id": source_id,
        "ra": ra,
        "dec": dec,
        "sigra": (sig * 3600 * rng.uniform(0.8, 1.2, tot)).astype(np.float32),
        "sigdec": (sig * 3600 * rng.uniform(0.8, 1.2, tot)).astype(np.float32),
        "sigradec": (sig * 3600 * rng.uniform(-0.3, 0.3, tot)).astype(np.float32),
        "mjd": mjd,
        "w1mpro": w1mpro,
        "w1sigmpro": w1sig.astype(np.float32),
        "w1snr": (1.0857 / w1sig).astype(np.float32),
        "w1rchi2": rng.gamma(4.0, 0.25, tot).astype(np.float32),
        "w2mpro": w2mpro,
        "w2sigmpro": w2sig.astype(np.float32),
        "w2snr": (1.0857 / w2sig).astype(np.float32),
        "w2rchi2": rng.gamma(4.0, 0.25, tot).astype(np.float32),
        "w1flux": w1flux,
        "w1sigflux": w1flux * w1sig / 1.0857,
        "w2flux": w2flux,
        "w2sigflux": w2flux * w2sig / 1.0857,
        "nb": np.where(rng.random(tot) < 0.97, 1, 2).astype(np.int32),
        "na": np.where(rng.random(tot) < 0.98, 0, 1).astype(np.int32),
        "cc_flags": cc_names.take(pa.array(cc)),
        "ph_qual": phq.take(pa.array(phq_idx)),
        "moon_masked": pa.array(np.where(rng.random(tot) < 0.9, "00", "01")),
        "qual_frame": np.where(rng.random(tot) < 0.9, 10, 5).astype(np.int32),
        "qi_fact": np.where(rng.random(tot) < 0.95, 1.0, 0.5).astype(np.float32),
        "scan_id": scan_id,
        "frame_num": frame_num,
    }
    # sort by the detection's nested order-13 index (nested: partition-major), stable
    h13 = _ang2pix(13, ra, dec)
    order = np.argsort(h13, kind="stable")
    h13 = h13[order]
    idx = pa.array(order)
    arrays = {"cntr": np.arange(cntr0, cntr0 + tot, dtype=np.int64)}
    for k, v in cols.items():
        arrays[k] = (v.take(idx) if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v[order]))
    tab = pa.table(arrays)
    return tab, h13 >> 16                                            # order-5 pixel of each row


def generate(n_objects=1_100_000, n_years=3, n_targets=2000, seed=1, row_group_size=8192, verbose=True):
    """Write the dataset (unless already complete) and return its root directory."""
    root = root_for(n_objects, n_years, n_targets, seed, row_group_size)
    if (root / "DONE").exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    t0 = time.time()
    rng = np.random.default_rng(seed)
    objs, targets = _objects(rng, n_objects, n_targets)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    total = 0
    for y in range(1, n_years + 1):
        tab, k5 = _year_table(np.random.default_rng([seed, y]), objs, y, cntr0=y * 10**10)
        ydir = year_dir(tmp, y)
        ydir.mkdir(parents=True)
        cuts = np.flatnonzero(np.diff(k5)) + 1
        bounds = np.concatenate([[0], cuts, [len(k5)]])
        collector = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            pix = int(k5[a])
            rel = f"healpix_k0={pix >> 10}/healpix_k5={pix}/part0.snappy.parquet"
            (ydir / rel).parent.mkdir(parents=True, exist_ok=True)
            md = []
            pq.write_table(tab.slice(a, b - a), ydir / rel, row_group_size=row_group_size,
                           compression="snappy", metadata_collector=md)
            md[0].set_file_path(rel)
            collector.extend(md)
        pq.write_metadata(tab.schema, ydir / "_common_metadata")
        pq.write_metadata(tab.schema, ydir / "_metadata", metadata_collector=collector)
        total += tab.num_rows
        if verbose:
            print(f"lc_gen: year {y}: {tab.num_rows} detections in {len(bounds) - 1} partitions "
                  f"({time.time() - t0:.0f} s)", file=sys.stderr)
        del tab
    pa_t = pa.table({"uid": targets["uid"], "ra": targets["ra"], "dec": targets["dec"]})
    # CSV with round-trip precision (repr) so every reader sees the same doubles
    with open(tmp / "targets.csv", "w") as f:
        f.write("uid,ra,dec\n")
        for u, r, d in zip(targets["uid"].tolist(), targets["ra"].tolist(), targets["dec"].tolist()):
            f.write(f"{u},{r!r},{d!r}\n")
    pq.write_table(pa_t, tmp / "targets.parquet")
    tuid = np.full(n_objects, -1, dtype=np.int64)
    m = targets["obj"] >= 0
    tuid[targets["obj"][m]] = targets["uid"][m]
    pq.write_table(pa.table({"ra": objs["ra"], "dec": objs["dec"], "p": objs["p"], "w1": objs["w1"],
                             "target_uid": tuid}), tmp / "objects.parquet")
    (tmp / "DONE").write_text(f"{total} detections, {n_years} years, {n_objects} objects, "
                              f"{n_targets} targets, {time.time() - t0:.1f} s\n")
    os.rename(tmp, root)
    if verbose:
        print(f"lc_gen: {total} detections written to {root} in {time.time() - t0:.0f} s", file=sys.stderr)
    return root


if __name__ == "__main__":
    a = [int(x) for x in sys.argv[1:]]
    print(generate(*a))
