"""Light curves for 2000 targets: `skytile lightcurves` vs the IRSA notebook's method, same data, same run.

Data: a NEOWISE-like hive dataset written by pyarrow (bench/lc_gen.py: one dataset per "year",
healpix_k0=/healpix_k5= partitions, snappy, _metadata; cached in bench/out/ under a name holding
the parameters) and its targets.csv (uid, ra, dec; 10% on order-5 pixel boundaries).

Engines (each a separate process, timed from the outside: wall clock, user+system CPU of the
process and its children from wait4, peak memory of the whole process tree
(sum of PSS, sampled with psutil every 50 ms)):
  notebook  bench/lc_notebook.py: the notebook's method (pyarrow dataset from each year's
            _metadata, per-pixel filters healpix_k5 + RA/Dec box + cc_flags == '0000', astropy
            search_around_sky, multiprocessing.Pool of SKYTILE_LC_WORKERS (2) workers)
  skytile   skytile lightcurves --catalog Y1,Y2,.. --targets targets.csv --radius-arcsec R
            --time-column mjd --id-column uid --columns <notebook's columns> --where
            "cc_flags == '0000'" --output out.parquet --explain --threads 2
Both run with a warm page cache (every file is read once before timing).

Checks: the (uid, cntr) pairs of the two results are compared, and the values of the shared
columns for common pairs (bitwise); both are compared with a brute-force oracle (scipy cKDTree on
unit vectors of every cc_flags == '0000' detection, exact haversine distance <= R); skytile's
_dist_arcsec is compared with astropy's separation; skytile's row order is checked (target input
order, then mjd).

Bytes: skytile's bytes read (--explain) vs the bytes a perfect row-group pruner must read: the
row groups holding at least one matched detection (found through the cntr min/max statistics of
each year's _metadata), summing the compressed sizes of the column chunks the query needs (the
output columns + ra, dec, cc_flags).

Knobs: SKYTILE_LC_OBJECTS (default 1100000 objects ~ 22.6M detections), SKYTILE_LC_YEARS (3),
SKYTILE_LC_TARGETS (2000), SKYTILE_LC_RADIUS (1.0 arcsec), SKYTILE_LC_WORKERS (2),
SKYTILE_LC_ROUNDS (1: each engine timed that many times, best kept), SKYTILE_LC_ORACLE (1),
SKYTILE_LC_TARGETS_USED (default all: use only the first N targets, i.e. sparser targets on the
same data).
Quick run: SKYTILE_LC_OBJECTS=50000 SKYTILE_LC_TARGETS=100 .venv/bin/python bench/run.py bench_lightcurves
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
import lc_gen  # noqa: E402

PY = sys.executable
COLUMNS = ["cntr", "ra", "dec", "mjd", "w1flux", "w2flux"]        # the notebook's COLUMN_SUBSET
WHERE_COLUMNS = ["cc_flags"]


def _env(name, default, conv=int):
    v = os.environ.get(name)
    return conv(v) if v not in (None, "") else default


def _sky():
    return ROOT / os.environ.get("SKYTILE_BUILD", "build") / "skytile"


def _tree_rss(proc):
    """Sum of PSS (proportional set size: shared pages split between sharers, so forked workers
    are not counted twice; RSS when PSS is unavailable) of proc and its descendants, in bytes."""
    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except Exception:
        return 0
    for p in procs:
        try:
            mi = p.memory_full_info()
            total += getattr(mi, "pss", mi.rss)
        except Exception:
            pass
    return total


def measure(cmd, env=None, sample=True):
    """Run cmd; return dict(wall, cpu, maxrss (largest single process), tree_rss (sampled peak), rc, out, err).

    sample=False (a single process, e.g. skytile: threads, no children): no PSS sampler thread, whose
    CPU would compete with the measured run on a 2-core machine; tree_rss is then wait4's ru_maxrss."""
    import psutil
    t0 = time.perf_counter()
    p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]
    stop = threading.Event()

    def sampler():
        try:
            ps = psutil.Process(p.pid)
        except Exception:
            return
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(ps))
            stop.wait(0.05)

    th = threading.Thread(target=sampler if sample else (lambda: None), daemon=True)
    th.start()
    # read the pipes in threads so the child never blocks on a full pipe; wait4 gives its rusage
    outs = {}

    def reader(name, f):
        outs[name] = f.read()

    rt = [threading.Thread(target=reader, args=(n, f)) for n, f in (("out", p.stdout), ("err", p.stderr))]
    for t in rt:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    for t in rt:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss * 1024,
            "tree_rss": peak[0] if sample else ru.ru_maxrss * 1024, "rc": p.returncode, "out": outs.get("out", ""), "err": outs.get("err", "")}


def warm(paths):
    """Read every file below paths once (page cache); returns total bytes."""
    total = 0
    for d in paths:
        for f in pathlib.Path(d).rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    while True:
                        b = fh.read(1 << 22)
                        if not b:
                            break
                        total += len(b)
    return total


def parse_explain(text):
    """Counters from skytile's --explain lines ({} when absent)."""
    r = {}
    pats = {
        ("bytes_read", "bytes_total"): r"bytes (\d+) of (\d+) read",
        ("rg_read", "rg_total"): r"row groups (\d+) of (\d+) read",
        ("rows_read", "rows_total"): r"rows (\d+) read of (\d+)",
        ("partitions_read", "partitions_total"): r"partitions (\d+) of (\d+) meet",
    }
    for (k1, k2), pat in pats.items():
        m = re.search(pat, text)
        if m:
            r[k1], r[k2] = int(m.group(1)), int(m.group(2))
    return r


def matched_rowgroup_bytes(year_dirs, cntr, columns):
    """(bytes, row groups, row groups total, bytes of those columns in the whole dataset):
    compressed size of `columns` in the row groups holding one of the cntr values."""
    cntr = np.unique(np.asarray(cntr, dtype=np.int64))
    need = set(columns)
    tot_b = tot_rg = all_b = all_rg = 0
    for d in year_dirs:
        md = pq.read_metadata(pathlib.Path(d) / "_metadata")
        names = [md.schema.column(i).name for i in range(md.num_columns)]
        ci = names.index("cntr")
        idx = [i for i, n in enumerate(names) if n in need]
        lo = np.empty(md.num_row_groups, np.int64)
        hi = np.empty(md.num_row_groups, np.int64)
        size = np.empty(md.num_row_groups, np.int64)
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            st = rg.column(ci).statistics
            lo[g], hi[g] = st.min, st.max
            size[g] = sum(rg.column(i).total_compressed_size for i in idx)
        all_b += int(size.sum())
        all_rg += md.num_row_groups
        order = np.argsort(lo)
        lo_s, hi_s = lo[order], hi[order]
        pos = np.searchsorted(lo_s, cntr, side="right") - 1
        ok = (pos >= 0) & (cntr <= hi_s[np.clip(pos, 0, None)])
        hit = np.unique(order[pos[ok]])
        tot_b += int(size[hit].sum())
        tot_rg += len(hit)
    return tot_b, tot_rg, all_rg, all_b


def oracle(year_dirs, targets, radius_arcsec):
    """Brute force: set of (uid, cntr) with haversine distance <= R among cc_flags == '0000' rows."""
    import pyarrow.dataset as ds
    from scipy.spatial import cKDTree
    parts = []
    for d in year_dirs:
        dset = ds.dataset(d, format="parquet", partitioning="hive")
        parts.append(dset.to_table(columns=["cntr", "ra", "dec"], filter=ds.field("cc_flags") == "0000"))
    t = pa.concat_tables(parts)
    ra, dec, cntr = (t.column(c).to_numpy() for c in ("ra", "dec", "cntr"))
    del t, parts

    def vec(r, d):
        r, d = np.radians(r), np.radians(d)
        return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)

    tra, tdec, tuid = targets["ra"], targets["dec"], targets["uid"]
    tree = cKDTree(vec(tra, tdec))
    rr = np.radians(radius_arcsec / 3600)
    chord = 2 * np.sin(rr / 2)
    pairs = set()
    step = 4_000_000
    for a in range(0, len(ra), step):
        v = vec(ra[a:a + step], dec[a:a + step])
        dist, _ = tree.query(v, k=1, distance_upper_bound=chord * 1.5)
        cand = np.flatnonzero(np.isfinite(dist)) + a
        if len(cand) == 0:
            continue
        lists = tree.query_ball_point(vec(ra[cand], dec[cand]), chord * 1.5)
        for i, lst in zip(cand, lists):
            for j in lst:
                # exact haversine in float64
                r1, d1, r2, d2 = np.radians([ra[i], dec[i], tra[j], tdec[j]])
                h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
                if 2 * np.arcsin(np.sqrt(h)) <= rr:
                    pairs.add((int(tuid[j]), int(cntr[i])))
    return pairs


def compare(nb, sk, targets_uid, radius_arcsec, year_dirs, targets, do_oracle):
    """Markdown lines comparing the two results (pyarrow tables)."""
    import pandas as pd
    lines = []
    dn = nb.to_pandas()
    dk = sk.to_pandas()
    pn = set(zip(dn["uid"].astype(np.int64), dn["cntr"].astype(np.int64)))
    pk = set(zip(dk["uid"].astype(np.int64), dk["cntr"].astype(np.int64)))
    dup_n = len(dn) - len(pn)
    dup_k = len(dk) - len(pk)
    only_n, only_k = pn - pk, pk - pn
    lines.append(f"- pairs (target, detection): notebook {len(dn)}, skytile {len(dk)}; common {len(pn & pk)}, "
                 f"only notebook {len(only_n)}, only skytile {len(only_k)}; duplicates notebook {dup_n}, "
                 f"skytile {dup_k}")
    m = dn.merge(dk, on=["uid", "cntr"], suffixes=("_nb", "_sk"))
    diffs = []
    for c in ("ra", "dec", "mjd", "w1flux", "w2flux"):
        if f"{c}_nb" in m and f"{c}_sk" in m:
            a, b = m[f"{c}_nb"].to_numpy(), m[f"{c}_sk"].to_numpy()
            nd = int(np.sum(~((a == b) | (np.isnan(a) & np.isnan(b)))))
            if nd:
                diffs.append(f"{c}: {nd}")
        else:
            diffs.append(f"{c}: missing")
    lines.append("- values of common pairs (ra, dec, mjd, w1flux, w2flux, bitwise): "
                 + ("identical" if not diffs else "DIFFER (" + ", ".join(diffs) + ")"))
    if "_dist_arcsec" in dk and len(m):
        from astropy import units as u
        from astropy.coordinates import SkyCoord
        tpos = pd.DataFrame({"uid": targets["uid"], "tra": targets["ra"], "tdec": targets["dec"]})
        mm = m.merge(tpos, on="uid")
        sep = SkyCoord(mm["tra"].to_numpy() * u.deg, mm["tdec"].to_numpy() * u.deg).separation(
            SkyCoord(mm["ra_nb"].to_numpy() * u.deg, mm["dec_nb"].to_numpy() * u.deg)).arcsec
        lines.append(f"- skytile `_dist_arcsec` vs astropy separation: max |diff| "
                     f"{np.max(np.abs(mm['_dist_arcsec'].to_numpy() - sep)):.2e} arcsec")
    # skytile's order: target input order, then mjd
    if len(dk):
        rank = {u: i for i, u in enumerate(targets_uid.tolist())}
        key_t = dk["uid"].map(rank).to_numpy()
        mjd = dk["mjd"].to_numpy()
        ok = np.all((np.diff(key_t) > 0) | ((np.diff(key_t) == 0) & (np.diff(mjd) >= 0)))
        lines.append(f"- skytile row order (target input order, then mjd): {'yes' if ok else 'NO'}")
    if len(dk):
        import healpy
        k5 = healpy.ang2pix(32, dk["ra"].to_numpy(), dk["dec"].to_numpy(), nest=True, lonlat=True)
        npart = pd.Series(k5).groupby(dk["uid"].to_numpy()).nunique()
        lines.append(f"- targets whose detections span >= 2 order-5 partitions (boundary cases): "
                     f"{int((npart >= 2).sum())} of {len(npart)} with detections")
    for name, s in (("notebook", only_n), ("skytile", only_k)):
        if s:
            ex = sorted(s)[:5]
            lines.append(f"  - first pairs only in {name}: {ex}")
    if do_oracle:
        t0 = time.time()
        po = oracle(year_dirs, targets, radius_arcsec)
        lines.append(f"- brute-force oracle ({time.time() - t0:.0f} s, cKDTree + haversine <= R): {len(po)} pairs; "
                     f"notebook misses {len(po - pn)}, extra {len(pn - po)}; "
                     f"skytile misses {len(po - pk)}, extra {len(pk - po)}")
        for name, s in (("notebook", po - pn), ("skytile", po - pk)):
            if s:
                lines.append(f"  - first oracle pairs missing from {name}: {sorted(s)[:5]}")
    return lines


def _mb(b):
    return f"{b / 2**20:.0f} MB" if b >= 10 * 2**20 else f"{b / 2**20:.1f} MB"


def run():
    n_obj = _env("SKYTILE_LC_OBJECTS", 1_100_000)
    n_years = _env("SKYTILE_LC_YEARS", 3)
    n_targets = _env("SKYTILE_LC_TARGETS", 2000)
    radius = _env("SKYTILE_LC_RADIUS", 1.0, float)
    workers = _env("SKYTILE_LC_WORKERS", 2)
    rounds = max(1, _env("SKYTILE_LC_ROUNDS", 1))
    do_oracle = _env("SKYTILE_LC_ORACLE", 1) != 0
    sky = _sky()
    t0 = time.time()
    root = lc_gen.generate(n_obj, n_years, n_targets)
    gen_note = (root / "DONE").read_text().strip()
    years = [lc_gen.year_dir(root, y) for y in range(1, n_years + 1)]
    targets_csv = root / "targets.csv"
    tg = pq.read_table(root / "targets.parquet")
    targets = {k: tg.column(k).to_numpy() for k in ("uid", "ra", "dec")}
    work = root.parent / (root.name + "_runs")
    work.mkdir(exist_ok=True)
    n_used = _env("SKYTILE_LC_TARGETS_USED", n_targets)
    if n_used < n_targets:  # the first n_used targets only (sparser targets, same data)
        targets = {k: v[:n_used] for k, v in targets.items()}
        lines = targets_csv.read_text().splitlines()
        targets_csv = work / f"targets_first{n_used}.csv"
        targets_csv.write_text("\n".join(lines[:n_used + 1]) + "\n")
        n_targets = n_used
    n_files = sum(1 for d in years for _ in d.rglob("*.parquet"))
    disk = warm(years)
    nb_out, nb_stats, sk_out = work / "notebook.parquet", work / "notebook_stats.json", work / "skytile.parquet"
    nb_cmd = [PY, BENCH / "lc_notebook.py", "--years", ",".join(map(str, years)), "--targets", targets_csv,
              "--radius-arcsec", radius, "--workers", workers, "--output", nb_out, "--stats", nb_stats]
    sk_cmd = [sky, "lightcurves", "--catalog", ",".join(map(str, years)), "--targets", targets_csv,
              "--radius-arcsec", radius, "--time-column", "mjd", "--id-column", "uid",
              "--columns", ",".join(COLUMNS), "--where", "cc_flags == '0000'", "--output", sk_out,
              "--explain", "--threads", workers]
    load0 = os.getloadavg()
    res = {"notebook": [], "skytile": []}
    for _ in range(rounds):
        for name, cmd in (("notebook", nb_cmd), ("skytile", sk_cmd)):
            time.sleep(1.0)  # let the previous run's processes and freed memory settle first
            r = measure(cmd, sample=name != "skytile")
            if r["rc"] != 0:
                raise RuntimeError(f"{name} failed (exit {r['rc']}): {' '.join(map(str, cmd))}\n{r['err'][-3000:]}")
            res[name].append(r)
    load1 = os.getloadavg()
    best = {k: min(v, key=lambda r: r["wall"]) for k, v in res.items()}
    nbst = json.loads(nb_stats.read_text())
    ex = parse_explain(best["skytile"]["err"])
    nb = pq.read_table(nb_out)
    sk = pq.read_table(sk_out)
    need = sorted(set(COLUMNS) | set(WHERE_COLUMNS))
    mb, mrg, all_rg, all_b = matched_rowgroup_bytes(years, sk.column("cntr").to_numpy(), need)
    n_det = sum(pq.read_metadata(d / "_metadata").num_rows for d in years)

    L = ["## bench_lightcurves", ""]
    L.append(f"Light curves of {n_targets} targets (radius {radius:g}\", `cc_flags == '0000'`) from a NEOWISE-like "
             f"hive dataset written by pyarrow ({n_years} years, {n_det:,} detections, {n_files} files, "
             f"{_mb(disk)} on disk, 29 columns, snappy, row groups of 8192 rows, sorted by position within "
             f"partitions; bench/lc_gen.py: {gen_note}). Same data, same run; {workers} workers/threads each; "
             f"warm page cache; best of {rounds} run(s). Load average before/after: "
             f"{' / '.join(f'{x:.1f}' for x in load0)} → {' / '.join(f'{x:.1f}' for x in load1)}.")
    L.append("")
    L.append("| engine | wall | CPU (user+sys, incl. children) | peak memory | largest process RSS | rows out |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for name, t in (("notebook method (pyarrow + astropy + Pool)", nb), ("skytile lightcurves", sk)):
        r = best["notebook" if name.startswith("notebook") else "skytile"]
        L.append(f"| {name} | {r['wall']:.2f} s | {r['cpu']:.2f} s | {_mb(max(r['tree_rss'], r['maxrss']))} | {_mb(r['maxrss'])} | "
                 f"{t.num_rows:,} |")
    sp_wall = best["notebook"]["wall"] / best["skytile"]["wall"]
    sp_cpu = best["notebook"]["cpu"] / max(best["skytile"]["cpu"], 1e-9)
    L.append("")
    L.append(f"Speed-up (wall): **{sp_wall:.1f}×** (goal ≥ 20×); CPU time ratio {sp_cpu:.1f}×. "
             f"Notebook phases: Python imports {nbst['imports_s']:.2f} s, dataset from _metadata "
             f"{nbst['metadata_s']:.2f} s, target pixels {nbst['targets_s']:.2f} s, pool "
             f"({nbst['pixel_groups']} pixel groups, chunksize {nbst['chunksize']}) {nbst['pool_s']:.2f} s; "
             f"excluding imports the speed-up is {(best['notebook']['wall'] - nbst['imports_s']) / best['skytile']['wall']:.1f}×.")
    L.append("")
    L.append("Every run, in order (wall / CPU s): " + "; ".join(
        f"{name} " + ", ".join(f"{r['wall']:.2f}/{r['cpu']:.2f}" for r in res[name]) for name in ("notebook", "skytile")) + ".")
    L.append("")
    L.append("Peak memory: the larger of the process tree's summed PSS (sampled every 50 ms; shared pages of "
             "forked workers counted once) and the largest single process's peak RSS (wait4). skytile is one "
             "process (threads, no children): its peak RSS comes from wait4 alone, without the sampler thread, "
             "whose CPU would compete with the measured run on this 2-core machine.")
    L.append("")
    if "bytes_read" in ex:
        ratio = ex["bytes_read"] / mb if mb else float("nan")
        rgs = f" in {ex['rg_read']} row groups" if "rg_read" in ex else ""
        L.append(f"Bytes: skytile read {ex['bytes_read']:,} bytes{rgs}; the row groups holding a match ({mrg} of "
                 f"{all_rg}) hold {mb:,} bytes in the columns the query needs ({', '.join(need)}) → ratio "
                 f"**{ratio:.2f}** (goal ≤ 2); those columns total {all_b:,} bytes in the whole dataset"
                 + (f", all columns {ex['bytes_total']:,}" if "bytes_total" in ex else "") + ".")
    else:
        L.append(f"Bytes: skytile's --explain gave no byte count; row groups holding a match: {mrg} of {all_rg}, "
                 f"{mb:,} bytes in the columns the query needs.")
    L.append("")
    L.append("skytile --explain:")
    L.append("")
    L.append("```")
    L.append(best["skytile"]["err"].strip() or "(nothing)")
    L.append("```")
    L.append("")
    L.append("Results:")
    L.append("")
    L.extend(compare(nb, sk, targets["uid"], radius, years, targets, do_oracle))
    L.append("")
    L.append(f"(module total {time.time() - t0:.0f} s)")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    print(run())
