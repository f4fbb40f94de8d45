"""`skytile import` against hats-import (and DuckDB's plain CSV -> Parquet) on three inputs.

Inputs (generated data cached in bench/out/, parameters in the names):
  tycho2   /work/shared/data/tycho2.fits (../shared/data), 1,871,011 stars, columns
           MAG_VT (E), RA (D), DEC (D); --ra-column RA --dec-column DEC
  csv      one generated CSV of ROWS rows (default 20M) and 10 columns: id (int64),
           ra, dec (doubles, full precision), mag_g, mag_r (3 decimals), mag_err
           (4 decimals), flux (full precision, exponent form), nobs, flags (ints),
           name (string); numpy seed 5, written with pyarrow.csv
  many     NFILES (default 500,000) CSV files of 20 rows each (id, ra, dec, mag) in
           subdirectories of 500 files, written with plain Python writes, plus a
           list file for the @list.txt form

Engines, each run in its own subprocess (new session) under the caller's niceness:
  skytile     $SKYTILE_BUILD/skytile import ... --threads THREADS --tmp-dir T
  hats-import hats_import.pipeline_with_client(ImportArguments(...), Client(n_workers=THREADS,
              threads_per_worker=1)) with the same highest order, pixel threshold, ra/dec
              columns; tmp_dir and dask_tmp in T
  DuckDB      (csv only) SET threads=THREADS; COPY (SELECT * FROM read_csv(f)) TO p
              (FORMAT parquet) -- DuckDB's default codec (snappy)

Measured per run: wall time; CPU time (user+sys of the child and every reaped
descendant, from wait4's rusage); peak RSS as the largest sampled sum of the RSS of the
whole process tree (sampled every ~0.2 s from /proc; dask runs several processes) and
the largest single process (wait4 ru_maxrss); intermediates: the peak file count and
bytes under T (the engine's tmp/state directory, sampled); the 1-minute load
average, sampled during the run (other work on the machine shows here).  For the many
files, "planning" is the time until the first "Mapping" progress line (skytile prints
it when the first file is mapped, after listing and schema inference over every file)
with the peak RSS up to then.

The catalogs written by the engines are compared: the same partitions (Norder, Npix),
the same row count in each (Parquet footers) and the same sum of _healpix_29 per
partition.

Environment: SKYTILE_BUILD (default build), SKYTILE_BENCH_IMPORT_ROWS (20000000),
SKYTILE_BENCH_IMPORT_FILES (500000), SKYTILE_BENCH_IMPORT_THREADS (2), SKYTILE_BENCH_IMPORT_ROUNDS (3: runs of each engine on Tycho-2),
SKYTILE_BENCH_IMPORT_PARTS (readers,tycho2,csv,many; "readers" times the input readers alone with
bench/rdscan.c: schema inference and scans of Tycho-2 and the CSV), SKYTILE_BENCH_IMPORT_VARIANTS (1; 0 skips the
skytile --compression snappy and DuckDB zstd-15 rows), SKYTILE_BENCH_MANY_DIR_PLAN_ONLY (0; 1 stops the
directory-argument run when mapping begins), SKYTILE_BENCH_IMPORT_HATS (1; 0 skips
hats-import), SKYTILE_BENCH_HATS_TIMEOUT (cap in seconds of a hats-import run on the
many files; default 600), SKYTILE_BENCH_HATS_CSV_TIMEOUT (cap of hats-import on the big CSV;
default: SKYTILE_BENCH_IMPORT_TIMEOUT), SKYTILE_BENCH_IMPORT_TIMEOUT (cap of every other run; 3600).
Run alone: .venv/bin/python bench/bench_import.py
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BUILD = ROOT / os.environ.get("SKYTILE_BUILD", "build")
PY = ROOT / ".venv" / "bin" / "python"
TYCHO = pathlib.Path(os.environ.get("SKYTILE_BENCH_TYCHO", str(ROOT.parent / "shared" / "data" / "tycho2.fits")))
ROWS = int(os.environ.get("SKYTILE_BENCH_IMPORT_ROWS", "20000000"))
NFILES = int(os.environ.get("SKYTILE_BENCH_IMPORT_FILES", "500000"))
THREADS = int(os.environ.get("SKYTILE_BENCH_IMPORT_THREADS", "2"))
PARTS = os.environ.get("SKYTILE_BENCH_IMPORT_PARTS", "readers,tycho2,csv,many").split(",")
HATS = os.environ.get("SKYTILE_BENCH_IMPORT_HATS", "1") != "0"
HATS_CAP = float(os.environ.get("SKYTILE_BENCH_HATS_TIMEOUT", "600"))
CAP = float(os.environ.get("SKYTILE_BENCH_IMPORT_TIMEOUT", "3600"))
TYCHO_ROUNDS = int(os.environ.get("SKYTILE_BENCH_IMPORT_ROUNDS", "3"))
VARIANTS = os.environ.get("SKYTILE_BENCH_IMPORT_VARIANTS", "1") != "0"
DIR_PLAN_ONLY = os.environ.get("SKYTILE_BENCH_MANY_DIR_PLAN_ONLY", "0") != "0"
HATS_CSV_CAP = float(os.environ.get("SKYTILE_BENCH_HATS_CSV_TIMEOUT", str(CAP)))
ROWS_PER_FILE = 20
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
GEN_VERSION = 1

# ---- data ----------------------------------------------------------------------------------


def _csv_path():
    return OUT / f"import_csv_rows{ROWS}_cols10_seed5_v{GEN_VERSION}.csv"


def _make_csv(path):
    """ROWS rows in chunks of 1M, numpy seed 5, written with pyarrow.csv (shortest round-trip floats)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    rng = np.random.default_rng(5)
    tmp = path.with_suffix(".part")
    schema = None
    with open(tmp, "wb") as f:
        writer = None
        for start in range(0, ROWS, 1_000_000):
            n = min(1_000_000, ROWS - start)
            ids = np.arange(start, start + n, dtype=np.int64) * 7 + 1000
            t = pa.table({
                "id": ids,
                "ra": rng.uniform(0.0, 360.0, n),
                "dec": np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))),
                "mag_g": np.round(rng.normal(18.0, 2.0, n), 3),
                "mag_r": np.round(rng.normal(17.5, 2.0, n), 3),
                "mag_err": np.round(rng.exponential(0.05, n), 4),
                "flux": rng.lognormal(0.0, 2.0, n) * 1e-5,
                "nobs": rng.integers(1, 500, n).astype(np.int64),
                "flags": rng.integers(0, 1 << 16, n).astype(np.int64),
                "name": pc.binary_join_element_wise("SKT-", pc.cast(pa.array(ids), pa.string()), ""),
            })
            if writer is None:
                schema = t.schema
                writer = pcsv.CSVWriter(f, schema, write_options=pcsv.WriteOptions(quoting_style="none"))
            writer.write_table(t)
        writer.close()
    tmp.rename(path)


def _many_dir():
    return OUT / f"import_many_files{NFILES}_rows{ROWS_PER_FILE}_seed7_v{GEN_VERSION}"


def _make_many(d):
    """NFILES files of ROWS_PER_FILE rows: d/dNNNN/fNNNNNNN.csv (500 per directory), d.list."""
    import numpy as np
    rng = np.random.default_rng(7)
    tmp = d.with_name(d.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    paths = []
    per_chunk = 10000
    for c0 in range(0, NFILES, per_chunk):
        nf = min(per_chunk, NFILES - c0)
        n = nf * ROWS_PER_FILE
        ra = rng.uniform(0.0, 360.0, n)
        dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
        mag = rng.normal(18.0, 2.0, n)
        base = c0 * ROWS_PER_FILE
        lines = [f"{base + i},{ra[i]:.9f},{dec[i]:.9f},{mag[i]:.3f}\n" for i in range(n)]
        for k in range(nf):
            fi = c0 + k
            sub = tmp / f"d{fi // 500:04d}"
            if fi % 500 == 0:
                sub.mkdir()
            p = sub / f"f{fi:07d}.csv"
            with open(p, "w") as f:
                f.write("id,ra,dec,mag\n")
                f.writelines(lines[k * ROWS_PER_FILE:(k + 1) * ROWS_PER_FILE])
            paths.append(str(d / p.relative_to(tmp)))
    tmp.rename(d)
    lst = d.with_name(d.name + ".list")
    lst.write_text("\n".join(paths) + "\n")


def _ensure(path, make):
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        make(path)
        print(f"(generated {path.name} in {time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    return path

# ---- measuring a run -----------------------------------------------------------------------


def _tree_rss(root):
    """Sum of RSS (bytes) of root and its descendants, from /proc."""
    kids, rss = {}, {}
    for e in os.scandir("/proc"):
        if not e.name.isdigit():
            continue
        try:
            with open(f"/proc/{e.name}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(b")") + 2:].split()
        pid, ppid = int(e.name), int(rest[1])
        kids.setdefault(ppid, []).append(pid)
        rss[pid] = int(rest[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(kids.get(p, []))
    return total


def _dir_usage(d):
    """(files, bytes) under d."""
    n = b = 0
    for dp, _, fs in os.walk(d):
        for f in fs:
            try:
                b += os.lstat(os.path.join(dp, f)).st_size
                n += 1
            except OSError:
                pass
    return n, b


def _measure(cmd, tmp, log, timeout, mark=None, stop_at_mark=False):
    """Run cmd (own session); sample tree RSS, tmp usage, load; wait4 rusage.

    mark: a regex; the first stderr/stdout line matching it records (time, peak RSS so far)."""
    st = {"rss": 0, "files": 0, "bytes": 0, "load": [], "mark": None}
    tfile = pathlib.Path(str(log) + ".maxrss")
    if TIME:  # ru_maxrss of a child forked from this (big) Python process starts at our own peak
        cmd = [TIME, "-f", "%M", "-o", str(tfile)] + cmd
    t0 = time.perf_counter()
    with open(log, "wb") as lf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        done = threading.Event()

        def reader():
            for line in proc.stdout:
                lf.write(line)
                if mark and st["mark"] is None and re.search(mark, line.decode(errors="replace")):
                    st["rss"] = max(st["rss"], _tree_rss(proc.pid))
                    st["mark"] = (time.perf_counter() - t0, st["rss"])

        def sampler():
            nxt_dir = 0.0
            while not done.is_set():
                t = time.perf_counter()
                st["rss"] = max(st["rss"], _tree_rss(proc.pid))
                if t >= nxt_dir and tmp.exists():
                    n, b = _dir_usage(tmp)
                    st["files"], st["bytes"] = max(st["files"], n), max(st["bytes"], b)
                    cost = time.perf_counter() - t
                    nxt_dir = time.perf_counter() + max(0.2, 10 * cost)  # keep the walk under ~10%
                st["load"].append(os.getloadavg()[0])
                done.wait(0.2)

        th = [threading.Thread(target=reader, daemon=True), threading.Thread(target=sampler, daemon=True)]
        for t in th:
            t.start()
        timed_out = False
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline or (stop_at_mark and st["mark"] is not None):
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
        try:  # the session's leftovers (dask workers) when the leader exited first
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        th[0].join(5)
        th[1].join(5)
    load = st["load"] or [os.getloadavg()[0]]
    maxrss1 = ru.ru_maxrss * 1024
    if TIME:
        try:
            maxrss1 = int(tfile.read_text().split()[-1]) * 1024
        except (OSError, ValueError, IndexError):
            maxrss1 = st["rss"]  # killed: /usr/bin/time wrote nothing
    if stop_at_mark and st["mark"] is not None:
        timed_out = "plan"
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss1": maxrss1,
            "rss": max(st["rss"], maxrss1), "files": st["files"], "bytes": st["bytes"],
            "load": sum(load) / len(load), "rc": proc.returncode, "timeout": timed_out, "mark": st["mark"],
            "log": log}


HATS_RUNNER = r'''
import sys
from dask.distributed import Client
from hats_import.catalog.arguments import ImportArguments
from hats_import.pipeline import pipeline_with_client
if __name__ == "__main__":
    out, name, reader, ra, dec, order, thr, threads, tmp, lst = sys.argv[1:]
    inputs = [l for l in open(lst).read().splitlines() if l]
    args = ImportArguments(output_artifact_name=name, input_file_list=inputs, file_reader=reader,
                           ra_column=ra, dec_column=dec, output_path=out,
                           highest_healpix_order=int(order), pixel_threshold=int(thr),
                           progress_bar=False, resume=False, tmp_dir=tmp + "/tmp", dask_tmp=tmp + "/dask")
    print("hats-import: planned", flush=True)
    with Client(n_workers=int(threads), threads_per_worker=1, dashboard_address=None,
                local_directory=tmp + "/dask") as c:
        pipeline_with_client(args, c)
'''


def _fresh(*dirs):
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def _skytile(name, inputs, extra, work, timeout, mark=None, stop_at_mark=False):
    out, tmp = work / f"{name}-skytile", work / f"{name}-skytile-tmp"
    _fresh(out, tmp)
    tmp.mkdir(parents=True)
    cmd = [str(BUILD / "skytile"), "import", *inputs, "--output", str(out), "--threads", str(THREADS),
           "--tmp-dir", str(tmp), *extra]
    r = _measure(cmd, tmp, work / f"{name}-skytile.log", timeout, mark, stop_at_mark)
    r["out"] = out
    shutil.rmtree(tmp, ignore_errors=True)
    return r


def _hats(name, input_list, reader, ra, dec, order, thr, work, timeout):
    out, tmp = work / f"{name}-hats", work / f"{name}-hats-tmp"
    _fresh(out, tmp)
    tmp.mkdir(parents=True)
    runner = OUT / "hats_import_runner.py"
    runner.write_text(HATS_RUNNER)
    cmd = [str(PY), str(runner), str(out), "cat", reader, ra, dec, str(order), str(thr), str(THREADS), str(tmp),
           str(input_list)]
    r = _measure(cmd, tmp, work / f"{name}-hats.log", timeout, mark=r"hats-import: planned")
    r["out"] = out / "cat"
    shutil.rmtree(tmp, ignore_errors=True)
    return r


def _duckdb(csv, work, opts=""):
    pq = work / "duckdb.parquet"
    code = (f"import duckdb; c = duckdb.connect(); c.execute('SET threads={THREADS}'); "
            "c.execute('SET enable_progress_bar=false'); "
            f"c.execute(\"COPY (SELECT * FROM read_csv('{csv}')) TO '{pq}' (FORMAT parquet{opts})\")")
    r = _measure([str(PY), "-c", code], work / "none", work / "duckdb.log", CAP)
    try:
        pq.unlink()
    except OSError:
        pass
    return r

# ---- comparing catalogs --------------------------------------------------------------------


def _partitions(cat):
    """{(order, pix): (rows, sum of _healpix_29 mod 2^64)} from the leaf files."""
    import numpy as np
    import pyarrow.parquet as pq
    res = {}
    for p in pathlib.Path(cat, "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"):
        k = int(p.parent.parent.name.split("=")[1]), int(p.stem.split("=")[1])
        h = pq.read_table(p, columns=["_healpix_29"]).column(0).to_numpy().astype(np.uint64)
        res[k] = (len(h), int(h.sum(dtype=np.uint64)))
    return res


def _compare(a, b):
    try:
        pa_, pb = _partitions(a), _partitions(b)
    except Exception as e:  # noqa: BLE001 - a broken catalog is a result, not a crash
        return f"comparison failed: {e}"
    if not pa_ and not pb:
        return "no partitions in either catalog"
    if pa_ == pb:
        return f"equal: {len(pa_)} partitions, {sum(v[0] for v in pa_.values()):,} rows, same _healpix_29 sums"
    only_a, only_b = sorted(set(pa_) - set(pb)), sorted(set(pb) - set(pa_))
    diff = [k for k in set(pa_) & set(pb) if pa_[k] != pb[k]]
    return (f"DIFFERENT: skytile {len(pa_)} partitions / {sum(v[0] for v in pa_.values()):,} rows, hats-import "
            f"{len(pb)} / {sum(v[0] for v in pb.values()):,}; only skytile {only_a[:5]}, only hats-import "
            f"{only_b[:5]}, differing {sorted(diff)[:5]}")

# ---- report --------------------------------------------------------------------------------


def _mb(b):
    return f"{b / 2**20:,.0f} MiB"


def _status(r):
    if r["timeout"] == "plan":
        return "stopped when mapping began (planning measured only)"
    if r["timeout"]:
        return f"did not finish in {r['wall'] / 60:.0f} min (killed)"
    return "ok" if r["rc"] == 0 else f"FAILED (exit {r['rc']}, see {r['log']})"


def _row(engine, r, rows):
    ok = r["rc"] == 0 and not r["timeout"]
    rate = f"{rows / r['wall']:,.0f}" if ok else "-"
    rate_cpu = f"{rows / r['cpu']:,.0f}" if ok and r["cpu"] > 0 else "-"
    inter = f"{r['files']:,} / {_mb(r['bytes'])}" if r["files"] or r["bytes"] else "-"
    cpu = f"{r['cpu']:.1f}" if ok else f">= {r['cpu']:.1f}"  # killed: workers' CPU is not all counted
    return (f"| {engine} | {r['wall']:.1f} | {cpu} | {rate} | {rate_cpu} | {_mb(r['rss'])} "
            f"({_mb(r['maxrss1'])}) | {inter} | {r['load']:.1f} | {_status(r)} |")


HEAD = ("| engine | wall s | CPU s (user+sys) | rows/s (wall) | rows/s per CPU-s | peak RSS tree (largest process) "
        "| intermediates: peak files / bytes | load 1-min avg | status |\n|---|---:|---:|---:|---:|---:|---:|---:|---|")


def _speedup(res, rows):
    s, h = res.get("skytile"), res.get("hats-import")
    lines = []
    if s and h and s["rc"] == 0 and h["rc"] == 0 and not h["timeout"]:
        lines.append(f"- skytile vs hats-import: {h['wall'] / s['wall']:.1f}x wall, {h['cpu'] / s['cpu']:.1f}x CPU")
    elif s and h and s["rc"] == 0 and h["timeout"]:
        lines.append(f"- skytile vs hats-import: more than {h['wall'] / s['wall']:.1f}x wall (hats-import killed "
                     f"after {h['wall']:.0f} s)")
    for sk, dk in (("skytile", "DuckDB CSV->Parquet"), ("skytile", "DuckDB CSV->Parquet zstd 15"),
                   ("skytile --compression snappy", "DuckDB CSV->Parquet")):
        a, d = res.get(sk), res.get(dk)
        if a and d and a["rc"] == 0 and d["rc"] == 0:
            lines.append(f"- {sk} / {dk}: {a['wall'] / d['wall']:.2f}x wall, {a['cpu'] / d['cpu']:.2f}x CPU")
    if s and s["rc"] == 0:
        lines.append(f"- skytile rows/s per core (rows / CPU-s): {rows / s['cpu']:,.0f}")
    return lines


def _section(title, desc, res, rows, cmp):
    out = [f"### {title}", "", desc, "", HEAD]
    out += [_row(k, v, rows) for k, v in res.items()]
    out.append("")
    out += _speedup(res, rows)
    if cmp:
        out.append(f"- catalogs skytile vs hats-import: {cmp}")
    out.append("")
    return "\n".join(out)


def _bench_tycho(work):
    rows = 1_871_011
    order, thr = 10, 200_000
    res = {}
    lst = work / "tycho2.list"
    lst.write_text(str(TYCHO) + "\n")

    def better(a, b):  # the run with the lower wall time (failed runs lose)
        if a is None or (b["rc"] == 0 and (a["rc"] != 0 or b["wall"] < a["wall"])):
            return b
        return a

    for _ in range(TYCHO_ROUNDS):  # engines interleaved round by round, best wall of each kept
        res["skytile"] = better(res.get("skytile"), _skytile(
            "tycho2", [str(TYCHO)], ["--ra-column", "RA", "--dec-column", "DEC", "--highest-order", str(order),
                                     "--pixel-threshold", str(thr)], work, CAP))
        if HATS:
            res["hats-import"] = better(res.get("hats-import"),
                                        _hats("tycho2", lst, "fits", "RA", "DEC", order, thr, work, CAP))
    cmp = _compare(res["skytile"]["out"], res["hats-import"]["out"]) if HATS else None
    desc = (f"{TYCHO.name}: {rows:,} rows, 3 columns (FITS, big-endian); highest order {order}, pixel threshold "
            f"{thr:,}, {THREADS} threads / dask workers; best wall of {TYCHO_ROUNDS} runs of each engine, "
            f"interleaved.")
    return _section("Tycho-2 (FITS)", desc, res, rows, cmp)


def _warm(path):
    """Read path once (into the page cache) and let the machine settle, before each engine's run:
    a previous engine's memory use can make the kernel drop the input's cached pages, and the next
    engine would then time the disk instead of itself."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass
    time.sleep(1.0)
    return path


def _bench_csv(work):
    csv = _ensure(_csv_path(), _make_csv)
    order, thr = 10, 1_000_000
    res = {}
    _warm(csv)
    res["skytile"] = _skytile("csv", [str(csv)], ["--highest-order", str(order), "--pixel-threshold", str(thr)],
                              work, CAP)
    cmp = None
    if HATS:
        lst = work / "csv.list"
        lst.write_text(str(csv) + "\n")
        _warm(csv)
        res["hats-import"] = _hats("csv", lst, "csv", "ra", "dec", order, thr, work, HATS_CSV_CAP)
        h = res["hats-import"]
        cmp = (_compare(res["skytile"]["out"], h["out"]) if h["rc"] == 0 and not h["timeout"]
               else "not compared (hats-import did not finish)")
    if VARIANTS:
        _warm(csv)
        res["skytile --compression snappy"] = _skytile("csv-snappy", [str(csv)], ["--highest-order", str(order),
                                                   "--pixel-threshold", str(thr), "--compression", "snappy"], work, CAP)
    _warm(csv)
    res["DuckDB CSV->Parquet"] = _duckdb(csv, work)
    if VARIANTS:
        _warm(csv)
        res["DuckDB CSV->Parquet zstd 15"] = _duckdb(csv, work, ", COMPRESSION zstd, COMPRESSION_LEVEL 15")
    desc = (f"{csv.name}: {ROWS:,} rows, 10 columns, {csv.stat().st_size / 2**30:.2f} GiB; highest order {order}, "
            f"pixel threshold {thr:,}, {THREADS} threads / dask workers. Leaves are ZSTD level 15 (skytile's and "
            f"hats' default) unless noted; DuckDB writes one Parquet file with threads={THREADS}, its default "
            f"codec (snappy) or ZSTD level 15. Before each engine's run the CSV is read once into the page "
            f"cache and the machine settles for 1 s.")
    return _section(f"{ROWS:,}-row CSV", desc, res, ROWS, cmp)


def _bench_many(work):
    d = _ensure(_many_dir(), _make_many)
    lst = d.with_name(d.name + ".list")
    rows = NFILES * ROWS_PER_FILE
    order, thr = 10, 1_000_000
    extra = ["--highest-order", str(order), "--pixel-threshold", str(thr)]
    res = {}
    res["skytile (directory)"] = _skytile("many-dir", [str(d)], extra, work, CAP, mark=r"^Mapping",
                                          stop_at_mark=DIR_PLAN_ONLY)
    shutil.rmtree(res["skytile (directory)"]["out"], ignore_errors=True)
    res["skytile (@list)"] = _skytile("many-list", ["@" + str(lst)], extra, work, CAP, mark=r"^Mapping")
    cmp = None
    if HATS:
        res["hats-import"] = _hats("many", lst, "csv", "ra", "dec", order, thr, work, HATS_CAP)
        if res["hats-import"]["rc"] == 0 and not res["hats-import"]["timeout"]:
            cmp = _compare(res["skytile (@list)"]["out"], res["hats-import"]["out"])
        else:
            cmp = "not compared (hats-import did not finish)"
    out = [f"### {NFILES:,} CSV files of {ROWS_PER_FILE} rows", "",
           f"{d.name}: {rows:,} rows in {NFILES:,} files (4 columns); highest order {order}, pixel threshold "
           f"{thr:,}, {THREADS} threads / dask workers. Planning = until the first `Mapping` progress line "
           "(skytile: after listing the inputs and inferring the schema of every file; hats-import: until "
           "ImportArguments is built, i.e. the file list is checked).", "", HEAD]
    out += [_row(k, v, rows) for k, v in res.items()]
    out += ["", "| engine | planning wall s | peak RSS during planning |", "|---|---:|---:|"]
    for k, v in res.items():
        m = v["mark"]
        out.append(f"| {k} | {m[0]:.1f} | {_mb(m[1])} |" if m else f"| {k} | - | - |")
    out.append("")
    if cmp:
        out.append(f"- catalogs skytile vs hats-import: {cmp}")
    out.append("")
    for k in list(res):
        shutil.rmtree(res[k]["out"], ignore_errors=True)
    return "\n".join(out)


LIBS = ["-lcairo", "-lcfitsio", "-lzstd", "-lsnappy", "-llz4", "-lz", "-lbrotlidec", "-lbrotlienc", "-lm",
        "-lpthread"]


def _rdscan():
    """Compile bench/rdscan.c against BUILD/libskytile.a (when either is newer than the binary)."""
    src, lib, exe = ROOT / "bench" / "rdscan.c", BUILD / "libskytile.a", OUT / f"rdscan-{BUILD.name}"
    if exe.exists() and exe.stat().st_mtime >= max(src.stat().st_mtime, lib.stat().st_mtime):
        return exe
    cmd = ["gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror", "-Iinclude", str(src), str(lib),
           *LIBS, "-o", str(exe)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("compiling rdscan failed:\n" + p.stderr)
    return exe


def _bench_readers(work):
    """Input-reader throughput alone (one thread, best of 2, CPU time): the passes the import makes."""
    exe = _rdscan()
    out = ["### input readers alone (one thread)", "",
           "bench/rdscan.c: `st_input_infer_schema` over the whole file (the import's first pass), then a scan "
           "of every batch with that schema forced (all columns, or only ra/dec); best of 2; process CPU time.", "",
           "| file | pass | CPU s | MB/s | rows/s |", "|---|---|---:|---:|---:|"]
    files = [(TYCHO, None)]
    if "csv" in PARTS:
        files += [(_ensure(_csv_path(), _make_csv), None), (_csv_path(), "ra,dec")]
    for f, cols in files:
        p = subprocess.run([str(exe), str(f), "2"] + ([cols] if cols else []), capture_output=True, text=True)
        if p.returncode:
            out.append(f"| {f.name} | FAILED: {p.stderr.strip()[:200]} | | | |")
            continue
        for line in p.stdout.splitlines():
            w = line.split()
            if w[0] in ("infer", "scan") and not ((cols or f.suffix != ".csv") and w[0] == "infer"):
                name = "infer (whole file)" if w[0] == "infer" else f"scan {cols or 'all columns'}"
                out.append(f"| {f.name} | {name} | {float(w[5]):.2f} | {w[7]} | {int(w[9]):,} |")
    out.append("")
    return "\n".join(out)


def run() -> str:
    work = OUT / "import_work"
    _fresh(work)
    work.mkdir(parents=True)
    sections = ["## import (issue 5)", "",
                f"skytile {BUILD.name}/skytile; hats-import with dask_n_workers={THREADS}; niceness "
                f"{os.nice(0)}; load average at start {' / '.join(f'{x:.1f}' for x in os.getloadavg())}.", ""]
    parts = {"readers": _bench_readers, "tycho2": _bench_tycho, "csv": _bench_csv, "many": _bench_many}
    partial = OUT / "import_partial.md"  # each section as soon as it is done (long runs)
    partial.write_text("\n".join(sections) + "\n")
    for p in PARTS:
        t = time.perf_counter()
        sections.append(parts[p](work))
        with open(partial, "a") as f:
            f.write(sections[-1] + f"\n(load average after this part: {os.getloadavg()[0]:.1f})\n\n")
        print(f"(bench_import: {p} done in {time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
        for d in work.glob("*-skytile"):
            shutil.rmtree(d, ignore_errors=True)
        for d in work.glob("*-hats"):
            shutil.rmtree(d, ignore_errors=True)
    return "\n".join(sections)


if __name__ == "__main__":
    print(run())
