"""Cone searches on a 20M-row imported catalog: skytile vs LSDB vs DuckDB (`make bench`).

run() -> markdown.  Data (cached in bench/out/, parameters in the name):
  query_uniform_<rows>_s<seed>_rg<rows per row group>_v<version>/
    src/part-*.parquet   numpy-generated input: uniform on the sphere, columns
                         id int64, ra, dec double, mag float, color double,
                         cls int32 (6 columns)
    cat/                 `skytile import src --output cat --row-group-rows RG`
                         (HATS: sorted leaves, zstd level 15, _metadata), run
                         under `nice -n 10`; leaves hold several row groups so
                         a small cone reads one of them.
Searches: 1 arcmin and 1 degree cones at several positions (RA = 0 crossing,
mid-latitudes, near a pole), all columns returned, warm page cache (each
engine runs every cone once before timing; best of SKYTILE_BENCH_ROUNDS).
Engines, same run:
  skytile CLI      `skytile cone CAT RA DEC R` (CSV to a pipe), wall clock of the
                   whole process: catalog open (properties, partition_info,
                   _metadata footer), search, output;
  skytile library  st_query_run through ctypes on a catalog opened once (the
                   time of the call only);
  LSDB             `lsdb.open_catalog(CAT, search_filter=ConeSearch(...)).compute()`
                   (open included, as its API does it in one step);
  DuckDB           one connection, `SELECT * FROM read_parquet('CAT/dataset/**/*.parquet')
                   WHERE dec BETWEEN dec0-r AND dec0+r AND <haversine <= sin^2(r/2)>`
                   (the dec range lets it skip row groups by statistics).
Rows of the four are compared (counts; the library's rows equal the CLI's).
"bytes read" = compressed column-chunk bytes skytile read (st_query_stats);
"bytes returned" = rows x the fixed width of the returned columns.

Knobs: SKYTILE_BENCH_QUERY_ROWS (default 20000000; e.g. 300000 for a smoke run),
SKYTILE_BENCH_ROUNDS (default 3), SKYTILE_BENCH_QUERY_RG (rows per row group, 20000).

Also: `python bench/bench_query.py tycho [WORKDIR]` checks searches on Tycho-2
(../shared/data/tycho2.fits, a catalog built by lsdb.from_dataframe) against
LSDB and a numpy brute force and prints timings (the test suite does the
same on a skytile-imported Tycho-2 in tests/test_query_tycho.py).
"""
import ctypes
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / os.environ.get("SKYTILE_BUILD", "build")
SKY = BUILD / "skytile"
OUT = ROOT / "bench" / "out"
FITS = ROOT.parent / "shared" / "data" / "tycho2.fits"
GEN_VERSION = 1
SEED = 1
# (name, ra, dec, radius arcsec)
POSITIONS = [("RA=0 equator", 0.0, 0.0), ("mid-north", 123.4, 45.6), ("mid-south", 250.0, -30.0),
             ("near N pole", 10.0, 89.9)]
RADII = [("1'", 60.0), ("1°", 3600.0)]
ROW_WIDTH = 8 + 8 + 8 + 4 + 8 + 4 + 8   # id ra dec mag color cls _healpix_29


# ---- data -------------------------------------------------------------------------------

def catalog(rows, rg):
    base = OUT / f"query_uniform_{rows}_s{SEED}_rg{rg}_v{GEN_VERSION}"
    cat = base / "cat"
    if (cat / "hats.properties").exists():
        return cat, None
    import pyarrow as pa
    import pyarrow.parquet as pq
    src = base / "src"
    src.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    chunk = 2_000_000
    for i, lo in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - lo)
        f = src / f"part-{i:03d}.parquet"
        if f.exists():
            rng.random(5 * n)          # keep the stream aligned when resuming
            continue
        t = pa.table({"id": np.arange(lo, lo + n, dtype=np.int64),
                      "ra": rng.uniform(0, 360, n),
                      "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                      "mag": rng.uniform(10, 24, n).astype(np.float32),
                      "color": rng.normal(0.5, 0.3, n),
                      "cls": rng.integers(0, 4, n).astype(np.int32)})
        pq.write_table(t, f.with_suffix(".tmp"), compression="snappy")
        os.replace(f.with_suffix(".tmp"), f)
    t1 = time.perf_counter()
    tmp = base / "cat.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    p = subprocess.run(["nice", "-n", "10", str(SKY), "import", str(src), "--output", str(tmp),
                        "--row-group-rows", str(rg), "--threads", "2"], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"skytile import failed: {p.stderr[-2000:]}")
    os.replace(tmp, cat)
    return cat, (t1 - t0, time.perf_counter() - t1)


# ---- skytile library through ctypes --------------------------------------------------------

class StError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


class Stats(ctypes.Structure):
    """st_query_stats (include/skytile/query.h)."""
    _fields_ = [("partitions_total", ctypes.c_int), ("partitions_region", ctypes.c_int),
                ("files_opened", ctypes.c_int), ("row_groups_total", ctypes.c_int64),
                ("row_groups_hpx", ctypes.c_int64), ("row_groups_read", ctypes.c_int64),
                ("bytes_total", ctypes.c_int64), ("bytes_read", ctypes.c_int64),
                ("rows_read", ctypes.c_int64), ("rows_matched", ctypes.c_int64), ("moc_order", ctypes.c_int)]


class Lib:
    def __init__(self):
        L = self.L = ctypes.CDLL(str(BUILD / "libskytile.so"))
        vp, E = ctypes.c_void_p, ctypes.POINTER(StError)
        L.st_catalog_open.argtypes = [ctypes.c_char_p, vp, ctypes.POINTER(vp), E]
        L.st_catalog_close.argtypes = [vp]
        L.st_catalog_close.restype = None
        L.st_query_new.argtypes = [ctypes.POINTER(vp), E]
        L.st_query_free.argtypes = [vp]
        L.st_query_free.restype = None
        L.st_query_set_cone.argtypes = [vp, ctypes.c_double, ctypes.c_double, ctypes.c_double, E]
        L.st_query_run.argtypes = [vp, vp, ctypes.POINTER(vp), ctypes.POINTER(Stats), E]
        L.st_table_free.argtypes = [vp]
        L.st_table_free.restype = None
        self.err = StError()

    def check(self, rc, what):
        if rc:
            raise RuntimeError(f"{what}: {self.err.msg.decode(errors='replace')}")

    def open(self, path):
        c = ctypes.c_void_p()
        self.check(self.L.st_catalog_open(str(path).encode(), None, ctypes.byref(c), ctypes.byref(self.err)),
                   "st_catalog_open")
        return c

    def cone(self, c, ra, dec, r_arcsec):
        """(seconds in st_query_run, stats)."""
        L, e = self.L, ctypes.byref(self.err)
        q, t, st = ctypes.c_void_p(), ctypes.c_void_p(), Stats()
        self.check(L.st_query_new(ctypes.byref(q), e), "st_query_new")
        try:
            self.check(L.st_query_set_cone(q, ra, dec, r_arcsec / 3600.0, e), "st_query_set_cone")
            t0 = time.perf_counter()
            rc = L.st_query_run(q, c, ctypes.byref(t), ctypes.byref(st), e)
            dt = time.perf_counter() - t0
            self.check(rc, "st_query_run")
            L.st_table_free(t)
        finally:
            L.st_query_free(q)
        return dt, st


# ---- the engines --------------------------------------------------------------------------

def best(fn, rounds):
    """(best seconds, last value) of fn() -> (seconds or None, value)."""
    b, v = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        dt, v = fn()
        b = min(b, dt if dt is not None else time.perf_counter() - t0)
    return b, v


def sky_cli(cat, ra, dec, r):
    p = subprocess.run([str(SKY), "cone", str(cat), repr(ra), repr(dec), repr(r)], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return None, p.stdout.count("\n") - 1


def duck_sql(cat, ra, dec, r):
    rd = r / 3600.0
    thr = float(np.sin(np.radians(rd) / 2) ** 2)
    return (f"SELECT * FROM read_parquet('{cat}/dataset/**/*.parquet', hive_partitioning=false) "
            f"WHERE dec BETWEEN {dec - rd!r} AND {dec + rd!r} AND "
            f"pow(sin(radians(dec - {dec!r}) / 2), 2) + cos(radians({dec!r})) * cos(radians(dec)) * "
            f"pow(sin(radians(ra - {ra!r}) / 2), 2) <= {thr!r}")


def ms(s):
    return f"{s * 1e3:.1f}" if s < 10 else f"{s:.0f} s"


def human(b):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024


def run():
    rows = int(os.environ.get("SKYTILE_BENCH_QUERY_ROWS", 20_000_000))
    rounds = int(os.environ.get("SKYTILE_BENCH_ROUNDS", 3))
    rg = int(os.environ.get("SKYTILE_BENCH_QUERY_RG", 20_000))
    load0 = os.getloadavg()
    cat, built = catalog(rows, rg)
    lib = Lib()
    t0 = time.perf_counter()
    c = lib.open(cat)
    t_open = time.perf_counter() - t0
    nparts = lib.L.st_catalog_n_partitions(c)
    size = sum(f.stat().st_size for f in (cat / "dataset").rglob("*.parquet"))
    try:
        import lsdb
        from lsdb import ConeSearch
    except ImportError:
        lsdb = None
    try:
        import duckdb
        con = duckdb.connect()
        con.execute("PRAGMA threads=2")
    except ImportError:
        duckdb = None
    lines = []
    mismatches = []
    for rname, r in RADII:
        for pname, ra, dec in POSITIONS:
            # warm-up (page cache, lazy inits), then timed rounds
            sky_cli(cat, ra, dec, r)
            lib.cone(c, ra, dec, r)
            t_cli, n_cli = best(lambda: sky_cli(cat, ra, dec, r), rounds)
            t_lib, st = best(lambda: lib.cone(c, ra, dec, r), max(rounds, 5))
            n_lib = st.rows_matched
            t_lsdb = n_lsdb = t_duck = n_duck = None
            if lsdb is not None:
                f = lambda: (None, len(lsdb.open_catalog(cat, search_filter=ConeSearch(ra, dec, r)).compute()))  # noqa: E731
                f()
                t_lsdb, n_lsdb = best(f, min(rounds, 2))
            if duckdb is not None:
                sql = duck_sql(cat, ra, dec, r)
                g = lambda: (None, len(con.execute(sql).fetchall()))  # noqa: E731
                g()
                t_duck, n_duck = best(g, rounds)
            counts = {"cli": n_cli, "lib": n_lib, "lsdb": n_lsdb, "duckdb": n_duck}
            agree = len({v for v in counts.values() if v is not None}) == 1
            if not agree:
                mismatches.append(f"{rname} at {pname}: {counts}")
            lines.append(
                f"| {rname} | {pname} ({ra:g}, {dec:g}) | {n_lib} | {ms(t_cli)} | {ms(t_lib)} | "
                f"{st.partitions_region}/{st.partitions_total} | {st.row_groups_read}/{st.row_groups_total} | "
                f"{human(st.bytes_read)} | {human(n_lib * ROW_WIDTH)} | "
                f"{ms(t_lsdb) if t_lsdb is not None else 'n/a'} | {ms(t_duck) if t_duck is not None else 'n/a'} | "
                f"{'yes' if agree else 'NO'} |")
    lib.L.st_catalog_close(c)
    load1 = os.getloadavg()
    doc = [
        "## Cone searches (bench_query.py)",
        "",
        f"Catalog: {rows:,} rows uniform on the sky (id, ra, dec, mag, color, cls + _healpix_29), "
        f"imported with `skytile import --row-group-rows {rg}` (zstd 15): {nparts} partitions, "
        f"{human(size)} of leaves, in `{cat.relative_to(ROOT)}`"
        + (f" (generated in {built[0]:.0f} s, imported in {built[1]:.0f} s under nice)." if built else " (cached)."),
        f"Warm cache, best of {rounds} (library: of {max(rounds, 5)}); all columns returned; "
        f"skytile 1 thread, DuckDB 2 threads. Library catalog open (once): {ms(t_open)} ms. "
        f"Load average {load0[0]:.1f} at start, {load1[0]:.1f} at end (1 min).",
        "",
        "| radius | centre | rows | skytile CLI ms | skytile lib ms | partitions read | row groups read "
        "| bytes read | bytes returned | LSDB ms | DuckDB ms | rows agree |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *lines,
        "",
        "CLI = whole process (start, open catalog and _metadata, search, CSV out); lib = st_query_run on an "
        "open catalog; LSDB = open_catalog(search_filter=ConeSearch).compute(); DuckDB = read_parquet over the "
        "same leaf files with a dec range + exact haversine. Goal for 1': lib < 10 ms.",
    ]
    if mismatches:
        doc += ["", "ROW COUNT MISMATCHES: " + "; ".join(mismatches)]
    return "\n".join(doc) + "\n"


# ---- Tycho-2 check (manual) ---------------------------------------------------------------

def tycho(work):
    import lsdb
    import pandas as pd
    import pyarrow.parquet as pq
    from astropy.io import fits
    work.mkdir(parents=True, exist_ok=True)
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
    ra, dec, ids = df.ra.to_numpy(), df.dec.to_numpy(), df.id.to_numpy()
    cat = lsdb.open_catalog(cat_dir)
    out = work / "out.parquet"

    def hav(ra0, dec0, r):
        a = (np.sin(np.radians(dec - dec0) / 2) ** 2
             + np.cos(np.radians(dec0)) * np.cos(np.radians(dec)) * np.sin(np.radians(ra - ra0) / 2) ** 2)
        return a <= np.sin(np.radians(r) / 2) ** 2

    def box(rr, dd):
        r0, r1, w = rr[0] % 360, rr[1] % 360, ra % 360
        m = np.ones(len(ra), bool) if r0 == r1 else ((w >= r0) & (w <= r1) if r0 < r1 else (w >= r0) | (w <= r1))
        return m & (dec >= dd[0]) & (dec <= dd[1])

    searches = [("cone", (0.1, 0, 3600.0)), ("cone", (0, 90, 7200.0)), ("cone", (10, -90, 7200.0)),
                ("cone", (83.8, -5.4, 36000.0)), ("box", ((350, 10), (-5, 5))), ("box", ((120, 121), (-90, 90))),
                ("polygon", [(40, 30), (50, 30), (50, 50), (40, 50)]), ("polygon", [(350, -10), (10, -10), (0, 10)])]
    bad = False
    for kind, args in searches:
        if kind == "polygon":
            from hats.search.region_search import get_cartesian_polygon
            cli = ["polygon", cat_dir, *[f"{a},{b}" for a, b in args]]
            brute = ids[np.asarray(get_cartesian_polygon(args).contains(np.radians(ra), np.radians(dec)), bool)]
            lcat = cat.polygon_search(args)
        elif kind == "cone":
            cli = ["cone", cat_dir, *args]
            brute = ids[hav(args[0], args[1], args[2] / 3600)]
            lcat = cat.cone_search(*args)
        else:
            cli = ["box", cat_dir, "--ra", f"{args[0][0]},{args[0][1]}", "--dec", f"{args[1][0]},{args[1][1]}"]
            brute = ids[box(*args)]
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
        note = "= lsdb" if np.array_equal(got, want) else (
            f"lsdb misses {len(np.setdiff1d(got, want))} rows (its partition filter drops a partition)"
            if len(np.setdiff1d(want, got)) == 0 else "LSDB MISMATCH")
        print(f"{kind} {args}: {len(got)} rows  skytile {t1 - t0:.3f}s  lsdb {t3 - t2:.3f}s  "
              f"{'= brute force' if ok else 'BRUTE-FORCE MISMATCH'}, {note}")
        print("   " + p.stderr.strip().replace("\n", "\n   "))
        bad |= not ok or note == "LSDB MISMATCH"
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "tycho":
        sys.exit(tycho(pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else OUT / "tycho2_hats"))
    print(run())
