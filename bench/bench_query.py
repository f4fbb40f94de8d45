"""Searches on Tycho-2 (1.87M rows): skytile vs LSDB vs brute force, with timings.

Usage: SKYTILE_BUILD=build .venv/bin/python bench/bench_query.py [WORKDIR]
Builds a HATS catalog of ../shared/data/tycho2.fits with lsdb.from_dataframe
(...).write_catalog (cached in WORKDIR, default bench/out/tycho2_hats), then
for each search checks that skytile's ids equal LSDB's (fine=True) and a
numpy brute force over all rows, and prints the times.
"""
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent
SKY = ROOT / os.environ.get("SKYTILE_BUILD", "build") / "skytile"
FITS = ROOT.parent / "shared" / "data" / "tycho2.fits"


def build(work):
    import lsdb
    import pandas as pd
    from astropy.io import fits
    cat_dir = work / "tycho2"
    with fits.open(FITS, memmap=True) as h:
        d = h[1].data
        df = pd.DataFrame({"id": np.arange(len(d), dtype=np.int64), "ra": d["RA"].astype(np.float64),
                           "dec": d["DEC"].astype(np.float64), "mag": d["MAG_VT"].astype(np.float64)})
    if not (cat_dir / "hats.properties").exists() and not (cat_dir / "collection.properties").exists():
        t0 = time.time()
        lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", partition_rows=50_000,
                            margin_threshold=None).write_catalog(cat_dir)
        print(f"built HATS catalog in {time.time() - t0:.1f}s")
    return cat_dir, df


def hav(ra, dec, ra0, dec0, r):
    ra, dec, ra0, dec0 = map(np.radians, (ra, dec, ra0, dec0))
    a = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec0) * np.cos(dec) * np.sin((ra - ra0) / 2) ** 2
    return a <= np.sin(np.radians(r) / 2) ** 2


def box(ra, dec, rr, dd):
    r0, r1, w = rr[0] % 360, rr[1] % 360, ra % 360
    m = np.ones(len(ra), bool) if r0 == r1 else ((w >= r0) & (w <= r1) if r0 < r1 else (w >= r0) | (w <= r1))
    return m & (dec >= dd[0]) & (dec <= dd[1])


def main():
    import lsdb
    work = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "bench" / "out" / "tycho2_hats")
    work.mkdir(parents=True, exist_ok=True)
    cat_dir, df = build(work)
    ra, dec, ids = df.ra.to_numpy(), df.dec.to_numpy(), df.id.to_numpy()
    cat = lsdb.open_catalog(cat_dir)
    out = work / "out.parquet"
    searches = [("cone", (0.1, 0, 3600.0)), ("cone", (0, 90, 7200.0)), ("cone", (10, -90, 7200.0)),
                ("cone", (83.8, -5.4, 36000.0)), ("box", ((350, 10), (-5, 5))), ("box", ((120, 121), (-90, 90)))]
    try:
        import lsst.sphgeom  # noqa: F401  (LSDB's polygon_search needs it)
        searches += [("polygon", [(40, 30), (50, 30), (50, 50), (40, 50)]),
                     ("polygon", [(350, -10), (10, -10), (0, 10)])]
    except ImportError:
        print("lsst.sphgeom not installed: polygon searches skipped")
    for kind, args in searches:
        if kind == "polygon":
            cli = ["polygon", cat_dir, *[f"{a},{b}" for a, b in args]]
            v = np.array([[np.cos(np.radians(b)) * np.cos(np.radians(a)), np.cos(np.radians(b)) * np.sin(np.radians(a)),
                           np.sin(np.radians(b))] for a, b in args])
            nrm = np.cross(v, np.roll(v, -1, axis=0))
            p3 = np.stack([np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                           np.cos(np.radians(dec)) * np.sin(np.radians(ra)), np.sin(np.radians(dec))], axis=-1)
            brute = ids[np.all((p3 @ nrm.T) * np.sign(nrm[0] @ v[2]) >= 0, axis=1)]
            lcat = cat.polygon_search(args)
        elif kind == "cone":
            cli = ["cone", cat_dir, *args]
            brute = ids[hav(ra, dec, args[0], args[1], args[2] / 3600)]
            lcat = cat.cone_search(*args)
        else:
            cli = ["box", cat_dir, "--ra", f"{args[0][0]},{args[0][1]}", "--dec", f"{args[1][0]},{args[1][1]}"]
            brute = ids[box(ra, dec, *args)]
            lcat = cat.box_search(ra=args[0], dec=args[1])
        t0 = time.time()
        p = subprocess.run([str(SKY), *map(str, cli), "--columns", "id", "--output", out, "--explain", "--threads", "2"],
                           capture_output=True, text=True)
        t1 = time.time()
        assert p.returncode == 0, p.stderr
        got = np.sort(pq.read_table(out).column("id").to_numpy())
        t2 = time.time()
        want = np.sort(lcat.compute()["id"].to_numpy())
        t3 = time.time()
        ok = np.array_equal(got, np.sort(brute))
        same_lsdb = np.array_equal(got, want)
        note = "= lsdb" if same_lsdb else (
            f"lsdb misses {len(np.setdiff1d(got, want))} rows (its partition filter drops a partition)"
            if len(np.setdiff1d(want, got)) == 0 else "LSDB MISMATCH")
        print(f"{kind} {args}: {len(got)} rows  skytile {t1 - t0:.3f}s  lsdb {t3 - t2:.3f}s  "
              f"{'= brute force' if ok else 'BRUTE-FORCE MISMATCH'}, {note}")
        print("   " + p.stderr.strip().replace("\n", "\n   "))
        if not ok or note == "LSDB MISMATCH":
            sys.exit(1)


if __name__ == "__main__":
    main()
