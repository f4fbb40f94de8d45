"""Crossmatch benchmark: skytile xmatch vs astropy search_around_sky vs LSDB crossmatch.

Data (generated once, cached in bench/out/ with the parameters in the names): a left
catalog of N points uniform on the sphere and a right catalog of N points, 70% of them
copies of left points moved by a Gaussian offset of sigma 0.3" per axis, 30% uniform;
both imported with `skytile import --pixel-threshold T` (HATS catalogs, several
partitions each; leaf files as the importer writes them).

What is timed (single thread, warm page cache, best of SKYTILE_BENCH_ROUNDS; wall clock
and CPU time, user + system, the latter more robust on a loaded machine: for the skytile
library the calling thread's CPU time, for the CLI the child's, for the peers the Python
process's):
  skytile   the library through ctypes, end to end from the two HATS catalogs:
            st_catalog_open x2 + st_xmatch_run (threads 1) + freeing, result table in
            memory (as LSDB's compute() and astropy's arrays); and the CLI
            `skytile xmatch L R --radius-arcsec 1 --threads 1 --n-neighbors K --output
            out.parquet` (process start, reading, matching, writing a zstd Parquet file);
  astropy   `search_around_sky(SkyCoord(left), SkyCoord(right), 1 arcsec)` on numpy arrays
            already in memory (loading the data is not timed; SkyCoord construction is);
  LSDB      `lsdb.open_catalog(L)`, `lsdb.open_catalog(R)`, `crossmatch(radius_arcsec=1,
            n_neighbors=1)`, `.compute()` with dask's synchronous scheduler (one worker);
            no margin catalog (LSDB then does not look across partition boundaries, so
            it does less work than skytile and may miss boundary pairs).
Results are checked: skytile's all-pairs output equals astropy's pairs, and its
n_neighbors=1 output equals LSDB's up to boundary pairs LSDB misses (reported).

Knobs: SKYTILE_BENCH_XM_ROWS (default 1000000), SKYTILE_BENCH_ROUNDS (default 3),
SKYTILE_BENCH_XM_PEERS (default "astropy,lsdb").
"""
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BUILD = ROOT / os.environ.get("SKYTILE_BUILD", "build")
SKYTILE = BUILD / "skytile"
GEN_VERSION = 2   # 2: catalogs re-imported by the import of 2026-11-22 (PLAIN columns when mostly distinct, 384 KiB ZSTD pages)
THRESHOLD = 40000
RADIUS = 1.0


def _gen(n, seed=11):
    """(left, right) parquet inputs and HATS catalogs, cached."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tag = f"xmatch_n{n}_seed{seed}_thr{THRESHOLD}_v{GEN_VERSION}"
    base = OUT / tag
    lcat, rcat = base / "left_hats", base / "right_hats"
    if (lcat / "hats.properties").exists() and (rcat / "hats.properties").exists():
        return base, lcat, rcat
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    m = rng.random(n) < 0.7
    src = rng.integers(0, n, n)
    sig = 0.3 / 3600
    rra = rng.uniform(0, 360, n)
    rdec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    d0 = dec[src[m]]
    rdec[m] = np.clip(d0 + rng.normal(0, sig, m.sum()), -90, 90)
    rra[m] = (ra[src[m]] + rng.normal(0, sig, m.sum()) / np.maximum(np.cos(np.radians(d0)), 1e-6)) % 360
    pq.write_table(pa.table({"id": np.arange(n, dtype=np.int64), "ra": ra, "dec": dec,
                             "mag": rng.normal(18, 2, n)}), base / "left.parquet")
    pq.write_table(pa.table({"oid": np.arange(n, dtype=np.int64) + 10**9, "ra": rra, "dec": rdec,
                             "flux": rng.random(n)}), base / "right.parquet")
    for inp, cat in ((base / "left.parquet", lcat), (base / "right.parquet", rcat)):
        subprocess.run(["nice", "-n", "10", str(SKYTILE), "import", str(inp), "--output", str(cat),
                        "--pixel-threshold", str(THRESHOLD), "--threads", "2"],
                       check=True, capture_output=True)
    return base, lcat, rcat


class _Lib:
    """Minimal ctypes binding of st_catalog_open + st_xmatch_run."""

    def __init__(self):
        import ctypes as C

        self.C = C
        self.lib = C.CDLL(str(BUILD / "libskytile.so"))

        class Err(C.Structure):
            _fields_ = [("code", C.c_int), ("msg", C.c_char * 1024)]

        class Inp(C.Structure):
            _fields_ = [("catalog", C.c_void_p), ("margin", C.c_void_p), ("table", C.c_void_p),
                        ("ra_column", C.c_char_p), ("dec_column", C.c_char_p)]

        class Opt(C.Structure):
            _fields_ = [("struct_size", C.c_size_t), ("radius_arcsec", C.c_double),
                        ("min_radius_arcsec", C.c_double), ("n_neighbors", C.c_int), ("how", C.c_int),
                        ("suffix_left", C.c_char_p), ("suffix_right", C.c_char_p),
                        ("columns_left", C.c_void_p), ("n_columns_left", C.c_int),
                        ("columns_right", C.c_void_p), ("n_columns_right", C.c_int),
                        ("where_right", C.c_char_p), ("threads", C.c_int)]

        class Stats(C.Structure):
            _fields_ = [("left_rows", C.c_int64), ("right_rows_read", C.c_int64), ("pairs", C.c_int64),
                        ("bytes_read", C.c_int64), ("left_partitions", C.c_int),
                        ("right_partitions_read", C.c_int)]

        self.Err, self.Inp, self.Opt, self.Stats = Err, Inp, Opt, Stats
        L = self.lib
        L.st_catalog_open.argtypes = [C.c_char_p, C.c_void_p, C.POINTER(C.c_void_p), C.POINTER(Err)]
        L.st_catalog_close.argtypes = [C.c_void_p]
        L.st_xmatch_options_init.argtypes = [C.POINTER(Opt)]
        L.st_xmatch_run.argtypes = [C.POINTER(Inp), C.POINTER(Inp), C.POINTER(Opt), C.POINTER(C.c_void_p),
                                    C.POINTER(Stats), C.POINTER(Err)]
        L.st_table_free.argtypes = [C.c_void_p]

    def xmatch(self, lpath, rpath, radius, k, threads=1):
        C, L = self.C, self.lib
        err = self.Err()
        lc, rc_ = C.c_void_p(), C.c_void_p()
        assert L.st_catalog_open(str(lpath).encode(), None, C.byref(lc), C.byref(err)) == 0, err.msg
        assert L.st_catalog_open(str(rpath).encode(), None, C.byref(rc_), C.byref(err)) == 0, err.msg
        o = self.Opt()
        L.st_xmatch_options_init(C.byref(o))
        o.radius_arcsec, o.n_neighbors, o.threads = radius, k, threads
        li, ri = self.Inp(lc, None, None, None, None), self.Inp(rc_, None, None, None, None)
        out, st = C.c_void_p(), self.Stats()
        rc = L.st_xmatch_run(C.byref(li), C.byref(ri), C.byref(o), C.byref(out), C.byref(st), C.byref(err))
        L.st_table_free(out)
        L.st_catalog_close(lc)
        L.st_catalog_close(rc_)
        assert rc == 0, err.msg
        return st.pairs


def _time_cli(args):
    """(wall, cpu) seconds of one CLI run (cpu: user + system of the child)."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([str(SKYTILE), *map(str, args)], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _timed(fn, thread=False):
    """(wall, cpu) of fn(): CPU of this process, or of the calling thread only
    (thread=True: skytile's st_xmatch_run with threads=1 runs on the caller's
    thread, so idle BLAS threads of the Python process are not counted)."""
    import resource

    def cpu():
        if thread:
            r = resource.getrusage(resource.RUSAGE_THREAD)
            return r.ru_utime + r.ru_stime
        return time.process_time()

    t0, c0 = time.perf_counter(), cpu()
    fn()
    return time.perf_counter() - t0, cpu() - c0


def run():
    import pyarrow.parquet as pq

    n = int(os.environ.get("SKYTILE_BENCH_XM_ROWS", "1000000"))
    rounds = int(os.environ.get("SKYTILE_BENCH_ROUNDS", "3"))
    peers = os.environ.get("SKYTILE_BENCH_XM_PEERS", "astropy,lsdb").split(",")
    base, lcat, rcat = _gen(n)
    out_all = base / "out_all.parquet"
    out_one = base / "out_one.parquet"
    nparts = [len(list((c / "dataset").glob("Norder=*/Dir=*/*.parquet"))) for c in (lcat, rcat)]
    rows = []
    notes = []

    def best(fn):
        """Best wall and best CPU time over the rounds."""
        ts = [fn() for _ in range(rounds)]
        return min(t[0] for t in ts), min(t[1] for t in ts)

    lib = _Lib()
    res_lib = {}

    def lib_run(k):
        def go():
            res_lib[k] = lib.xmatch(lcat, rcat, RADIUS, 0 if k == "all" else k)
        return _timed(go, thread=True)

    t_lib_all = best(lambda: lib_run("all"))
    t_lib_one = best(lambda: lib_run(1))
    t_sky_all = best(lambda: _time_cli(["xmatch", lcat, rcat, "--radius-arcsec", RADIUS, "--threads", 1,
                                         "--n-neighbors", "all", "--output", out_all]))
    t_sky_one = best(lambda: _time_cli(["xmatch", lcat, rcat, "--radius-arcsec", RADIUS, "--threads", 1,
                                         "--n-neighbors", 1, "--output", out_one]))
    sky_all = pq.read_table(out_all)
    sky_one = pq.read_table(out_one)
    rows.append(("skytile library, n_neighbors=all", t_lib_all, res_lib["all"]))
    rows.append(("skytile library, n_neighbors=1", t_lib_one, res_lib[1]))
    rows.append(("skytile CLI (+ Parquet output), n_neighbors=all", t_sky_all, sky_all.num_rows))
    rows.append(("skytile CLI (+ Parquet output), n_neighbors=1", t_sky_one, sky_one.num_rows))

    left = pq.read_table(base / "left.parquet")
    right = pq.read_table(base / "right.parquet")
    if "astropy" in peers:
        import astropy.units as u
        from astropy.coordinates import SkyCoord, search_around_sky

        lra, ldec = left["ra"].to_numpy(), left["dec"].to_numpy()
        rra, rdec = right["ra"].to_numpy(), right["dec"].to_numpy()
        res = {}

        def ast():
            def go():
                a = SkyCoord(lra * u.deg, ldec * u.deg)
                b = SkyCoord(rra * u.deg, rdec * u.deg)
                res["r"] = search_around_sky(a, b, RADIUS * u.arcsec)[:3]
            return _timed(go)

        t_ast = best(ast)
        i, j, d = res["r"]
        rows.append(("astropy search_around_sky (all pairs)", t_ast, len(i)))
        lid, rid = left["id"].to_numpy(), right["oid"].to_numpy()
        want = {(int(a), int(b)): float(x) for a, b, x in zip(lid[i], rid[j], d.to(u.arcsec).value)}
        got = {(int(a), int(b)): float(x) for a, b, x in zip(sky_all["id_l"].to_numpy(), sky_all["oid_r"].to_numpy(),
                                                            sky_all["_dist_arcsec"].to_numpy())}
        diff = set(want) ^ set(got)
        maxd = max((abs(want[k] - got[k]) for k in set(want) & set(got)), default=0.0)
        notes.append(f"skytile all-pairs vs astropy: {len(got)} vs {len(want)} pairs, {len(diff)} differ; "
                     f"max |distance difference| {maxd:.2e} arcsec.")
    if "lsdb" in peers:
        import dask
        import lsdb

        res = {}

        def ls():
            def go():
                a = lsdb.open_catalog(str(lcat))
                b = lsdb.open_catalog(str(rcat))
                res["df"] = a.crossmatch(b, radius_arcsec=RADIUS, n_neighbors=1, suffixes=("_l", "_r")).compute()
            with dask.config.set(scheduler="synchronous"):
                return _timed(go)

        import contextlib
        import io
        with contextlib.redirect_stderr(io.StringIO()):
            t_ls = best(ls)
        df = res["df"]
        rows.append(("LSDB crossmatch, n_neighbors=1, 1 worker", t_ls, len(df)))
        want = set(zip(df["id_l"].to_numpy().astype(np.int64), df["oid_r"].to_numpy().astype(np.int64)))
        got = set(zip(sky_one["id_l"].to_numpy(), sky_one["oid_r"].to_numpy()))
        notes.append(f"skytile n_neighbors=1 vs LSDB: {len(got)} vs {len(want)} pairs; "
                     f"{len(got - want)} only in skytile (LSDB has no margin here), {len(want - got)} only in LSDB.")

    load = os.getloadavg()[0]
    md = [f"## Crossmatch ({n:,} x {n:,} rows, radius {RADIUS:g}\", single thread)", "",
          f"Left/right HATS catalogs: {nparts[0]}/{nparts[1]} partitions (pixel threshold {THRESHOLD}). "
          f"Best of {rounds}; load average {load:.1f} at the end.", "",
          "| engine | wall s | CPU s | pairs | wall / skytile library | CPU / skytile library |",
          "|---|---:|---:|---:|---:|---:|"]
    for name, t, np_ in rows:
        ref = t_lib_one if "n_neighbors=1" in name else t_lib_all
        md.append(f"| {name} | {t[0]:.3f} | {t[1]:.3f} | {np_:,} | {t[0] / ref[0]:.1f}x | {t[1] / ref[1]:.1f}x |")
    md += ["", *[f"- {x}" for x in notes], "",
           "skytile library: open both catalogs + st_xmatch_run, result in memory; CLI: the same "
           "plus process start and writing the result as zstd Parquet. astropy: "
           "arrays in memory, SkyCoord construction + search_around_sky timed. LSDB: open_catalog + "
           "crossmatch + compute, dask synchronous scheduler.", ""]
    return "\n".join(md)


if __name__ == "__main__":
    print(run())
