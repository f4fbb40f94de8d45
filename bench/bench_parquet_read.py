"""Single-thread Parquet scan throughput: skytile vs DuckDB (threads=1) and pyarrow (use_threads=False).

Five files of 20M rows each are generated with pyarrow (deterministic seeds) under
bench/out/data/ and reused across runs (the file name encodes every generation
parameter):

  plain_double   1 double column, PLAIN, uncompressed (use_dictionary=False, compression=none)
  dict_int32     1 int32 column with 1000 distinct values, pyarrow defaults (RLE_DICTIONARY, snappy)
  zstd_double    1 double column (normal(15, 2) rounded to 3 decimals), PLAIN, zstd
  dict_string    1 string column, 1000 distinct strings of 10..20 chars, pyarrow defaults
                 (RLE_DICTIONARY, snappy)
  snappy_mixed   int64, double, string (mostly unique, so the dictionary falls back to PLAIN),
                 bool, timestamp[us, UTC]; ~10% nulls in every column but the int64; snappy

Every engine decodes every value of every column, single-threaded, page cache warm,
timed in-process (wall clock and process CPU time), best of 2 x ROUNDS runs; the engines
are interleaved round by round (each runs twice back to back per round) so that load
from other processes on a shared machine hits them alike:

  skytile  bench/pqscan.c: st_pq_open + st_pq_read per row group (all columns, dictionaries
           materialised), then sums each column (see pqscan.c); open included.
  DuckDB   PRAGMA threads=1; SELECT sum(x) / sum(strlen(s)) / count_if(b) / sum(epoch_us(t))
           over every column of read_parquet(file); fetchall of the one result row.
  pyarrow  pq.read_table(file, use_threads=False) with pa.set_cpu_count(1) and
           pa.set_io_thread_count(1) for the duration of the module (use_threads=False alone
           still decodes on the CPU pool: wall < CPU time); materialises an Arrow table
           (dictionary columns decoded to plain string/int arrays).

skytile's per-column checksums are compared with pyarrow's values; a mismatch is reported.

Environment: SKYTILE_BUILD (build dir, default build), SKYTILE_BENCH_ROWS (default 20000000),
SKYTILE_BENCH_ROUNDS (default 3), SKYTILE_BENCH_FILES (comma-separated subset of the names).
Run alone: .venv/bin/python bench/bench_parquet_read.py
"""
import os
import pathlib
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DATA = OUT / "data"
BUILD = ROOT / os.environ.get("SKYTILE_BUILD", "build")
ROWS = int(os.environ.get("SKYTILE_BENCH_ROWS", "20000000"))
ROUNDS = int(os.environ.get("SKYTILE_BENCH_ROUNDS", "3"))
GEN_VERSION = 1  # bump when a generator changes so stale files are not reused
LIBS = ["-lzstd", "-lsnappy", "-llz4", "-lz", "-lbrotlidec", "-lbrotlienc", "-lm", "-lpthread"]

FILES = ["plain_double", "dict_int32", "zstd_double", "dict_string", "snappy_mixed"]
DUCKDB_REF = {"plain_double": 382, "dict_int32": 218, "zstd_double": 92, "dict_string": 196}


# ---- data generation ---------------------------------------------------------------------------

def _gen_table(kind, n, seed):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    if kind == "plain_double":
        return pa.table({"x": rng.standard_normal(n) * 100.0}), dict(compression="none", use_dictionary=False)
    if kind == "dict_int32":
        vals = rng.choice(np.arange(-2**31, 2**31 - 1, 4_000_037, dtype=np.int64), 1000, replace=False)
        x = vals[rng.integers(0, 1000, n)].astype(np.int32)
        return pa.table({"x": x}), {}
    if kind == "zstd_double":
        return pa.table({"x": np.round(rng.normal(15.0, 2.0, n), 3)}), dict(compression="zstd", use_dictionary=False)
    if kind == "dict_string":
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", dtype=np.uint8)
        pool = set()
        while len(pool) < 1000:
            ln = int(rng.integers(10, 21))
            pool.add(letters[rng.integers(0, len(letters), ln)].tobytes().decode())
        pool = pa.array(sorted(pool), pa.string())
        return pa.table({"s": pool.take(pa.array(rng.integers(0, 1000, n)))}), {}
    if kind == "snappy_mixed":
        def mask(p=0.1):
            return rng.random(n) < p
        i64 = rng.integers(-2**62, 2**62, n, dtype=np.int64)
        d = pa.array(rng.normal(0.0, 1e3, n), mask=mask())
        ids = pa.array(rng.integers(0, 10**12, n, dtype=np.int64))
        s = pc.binary_join_element_wise("src-", pc.cast(ids, pa.string()), "")
        s = pc.if_else(pa.array(mask()), pa.scalar(None, pa.string()), s)
        b = pa.array(rng.random(n) < 0.3, mask=mask())
        t0 = 1_600_000_000_000_000
        ts = pa.array(t0 + rng.integers(0, 10**14, n, dtype=np.int64), pa.int64(), mask=mask())
        ts = ts.cast(pa.timestamp("us", tz="UTC"))
        return pa.table({"i64": i64, "d": d, "s": s, "b": b, "ts": ts}), dict(compression="snappy")
    raise ValueError(kind)


def data_file(kind, n=None, seed=None):
    """Path of the generated file for `kind`, generating it if absent."""
    import pyarrow.parquet as pq

    n = ROWS if n is None else n
    seed = (FILES.index(kind) + 1) * 1000 + 7 if seed is None else seed
    path = DATA / f"{kind}_n{n}_seed{seed}_v{GEN_VERSION}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    table, opts = _gen_table(kind, n, seed)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, **opts)
    os.replace(tmp, path)
    return path


# ---- engines -----------------------------------------------------------------------------------

def build_pqscan():
    """Compile bench/pqscan.c against BUILD/libskytile.a (when either is newer than the binary)."""
    src = ROOT / "bench" / "pqscan.c"
    lib = BUILD / "libskytile.a"
    exe = OUT / f"pqscan-{BUILD.name}"
    if not lib.exists():
        raise RuntimeError(f"{lib} missing: run make first")
    if exe.exists() and exe.stat().st_mtime >= max(src.stat().st_mtime, lib.stat().st_mtime):
        return exe
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = ["gcc", "-std=c11", "-D_GNU_SOURCE", "-O3", "-Wall", "-Wextra", "-Werror", "-Iinclude", str(src), str(lib), *LIBS, "-o", str(exe)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("compiling pqscan failed:\n" + p.stderr)
    return exe


def time_skytile(exe, path, reps, keep_dictionary=False):
    """(wall s, cpu s, rows, checksums) of the fastest of `reps` in-process scans by pqscan."""
    cmd = [str(exe), str(path), str(reps)] + (["dict"] if keep_dictionary else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode:
        out = (p.stderr or p.stdout).strip()
        raise RuntimeError(out.splitlines()[-1] if out else f"pqscan exit {p.returncode}")
    rows, best, cpu, cols = None, None, None, {}
    for line in p.stdout.splitlines():
        w = line.split()
        if w[0] == "rows":
            rows = int(w[1])
        elif w[0] == "best_s":
            best = float(w[1])
        elif w[0] == "best_cpu_s":
            cpu = float(w[1])
        elif w[0] == "col":
            cols[w[1]] = (w[2], int(w[3]), float(w[4]) if w[2] == "f64" else int(w[4]))
    return best, cpu, rows, cols


def duckdb_query(path, schema):
    import pyarrow as pa

    parts = []
    for f in schema:
        q = f'"{f.name}"'
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            parts.append(f"sum(strlen({q}))")
        elif pa.types.is_boolean(f.type):
            parts.append(f"count_if({q})")
        elif pa.types.is_timestamp(f.type):
            parts.append(f"sum(epoch_us({q}))")
        else:
            parts.append(f"sum({q})")
    return f"SELECT {', '.join(parts)} FROM read_parquet('{path}')"


class DuckDB:
    """One single-threaded DuckDB connection running the full-decode query of a file."""

    def __init__(self, path, schema):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("PRAGMA threads=1")
        self.sql = duckdb_query(path, schema)

    def __call__(self):
        self.con.execute(self.sql).fetchall()


def pyarrow_read(path):
    import pyarrow.parquet as pq

    def f():
        t = pq.read_table(path, use_threads=False)
        del t
    return f


def time_inprocess(fn, reps):
    """(wall s, cpu s) of the fastest of `reps` calls (each minimum taken separately)."""
    best = cpu = float("inf")
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return best, cpu


def pyarrow_checksums(path):
    """The values pqscan prints, computed by pyarrow: {name: (kind, nulls, value)}."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    out = {}
    for name, col in zip(t.column_names, t.columns):
        ty = col.type
        nulls = col.null_count
        if pa.types.is_floating(ty):
            v = pc.fill_null(col, 0).to_numpy()
            out[name] = ("f64", nulls, float(np.sum(v)), float(np.sum(np.abs(v))))
        elif pa.types.is_string(ty) or pa.types.is_binary(ty) or pa.types.is_large_string(ty):
            out[name] = ("bytes", nulls, int(pc.sum(pc.binary_length(col)).as_py() or 0))
        elif pa.types.is_boolean(ty):
            out[name] = ("true", nulls, int(pc.sum(col).as_py() or 0))
        else:
            if pa.types.is_timestamp(ty):
                col = col.cast(pa.int64())
            v = pc.fill_null(col, 0).to_numpy().astype(np.int64).view(np.uint64)
            out[name] = ("u64", nulls, int(np.sum(v, dtype=np.uint64)))
    return out


def check_sums(got, want):
    """'ok' or a description of the first mismatch."""
    for name, w in want.items():
        g = got.get(name)
        if g is None:
            return f"column {name} missing"
        if g[0] != w[0] or g[1] != w[1]:
            return f"{name}: kind/nulls {g[:2]} != pyarrow {w[:2]}"
        if w[0] == "f64":
            if abs(g[2] - w[2]) > 1e-9 * max(w[3], 1.0):
                return f"{name}: sum {g[2]!r} != pyarrow {w[2]!r}"
        elif g[2] != w[2]:
            return f"{name}: checksum {g[2]} != pyarrow {w[2]}"
    return "ok"


# ---- driver --------------------------------------------------------------------------------------

def _rate(rows, secs):
    return "—" if secs is None else f"{rows / secs / 1e6:.0f}"


def _ratio(peer, sk):
    return "—" if sk is None or peer is None else f"{peer / sk:.2f}×"


def bench_file(kind, exe, exe_err, notes):
    """Time every engine on one file; returns {engine: (wall, cpu)} and facts about the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    path = data_file(kind)
    gen_s = time.perf_counter() - t0
    md = pq.ParquetFile(path).metadata
    schema = pq.read_schema(path)
    n = md.num_rows
    has_strings = any(pa.types.is_string(f.type) or pa.types.is_binary(f.type) for f in schema)
    modes = [False, True] if has_strings else [False]
    want_sums = pyarrow_checksums(path) if exe is not None else None
    duck, pyar = DuckDB(path, schema), pyarrow_read(path)
    best = {}
    broken = set()

    def keep(name, wall, cpu):
        w0, c0 = best.get(name, (float("inf"), float("inf")))
        best[name] = (min(w0, wall), min(c0, cpu))

    # Rounds interleave the engines so that load from other processes hits them alike;
    # each engine runs twice back to back per round (the first warms its allocator).
    for _ in range(ROUNDS):
        for mode in modes:
            label = "skytile (keep_dictionary)" if mode else "skytile"
            if exe is None or label in broken:
                continue
            try:
                wall, cpu, sk_rows, cols = time_skytile(exe, path, 2, keep_dictionary=mode)
                err = f"read {sk_rows} rows, expected {n}" if sk_rows != n else None
                if err is None:
                    chk = check_sums(cols, want_sums)
                    err = None if chk == "ok" else "checksum mismatch: " + chk
                if err:
                    notes.append(f"- {kind}: {label}: wrong result, not timed: {err}")
                    broken.add(label)
                else:
                    keep(label, wall, cpu)
            except Exception as e:
                notes.append(f"- {kind}: {label}: failed: {str(e).strip()}")
                broken.add(label)
        keep("DuckDB", *time_inprocess(duck, 2))
        keep("pyarrow", *time_inprocess(pyar, 2))
    if exe is None:
        notes.append(f"- {kind}: skytile not run: {exe_err}")
    notes.append(f"- {kind}: DuckDB query `{duck.sql.replace(str(DATA) + '/', '')}`"
                 + (f" (file generated in {gen_s:.0f} s)" if gen_s > 1 else ""))
    return best, dict(n=n, row_groups=md.num_row_groups, mb=path.stat().st_size / 1e6, has_strings=has_strings)


def table_rows(kind, best, info, which):
    """One markdown table row; which = 0 (wall clock) or 1 (CPU time)."""
    n = info["n"]
    get = lambda k: best[k][which] if k in best else None  # noqa: E731
    sk, skd, dd, pa_s = get("skytile"), get("skytile (keep_dictionary)"), get("DuckDB"), get("pyarrow")
    faster = min(x for x in (dd, pa_s) if x is not None)
    best_sk = min([x for x in (sk, skd) if x is not None], default=None)
    ref = DUCKDB_REF.get(kind)
    return (f"| {kind} | {info['row_groups']} | {info['mb']:.0f} | {_rate(n, sk)} | "
            f"{_rate(n, skd) if info['has_strings'] else 'n/a'} | {_rate(n, dd)} | {_rate(n, pa_s)} | "
            f"{_ratio(faster, sk)} | {_ratio(faster, best_sk)} | {ref if ref else '—'} |")


def run():
    """The markdown section.  pyarrow's thread pools are set to one thread meanwhile: with
    use_threads=False alone, read_table still decodes on its CPU pool (wall < CPU time)."""
    import pyarrow as pa

    saved = pa.cpu_count(), pa.io_thread_count()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    try:
        return _run()
    finally:
        pa.set_cpu_count(saved[0])
        pa.set_io_thread_count(saved[1])


def _run():
    kinds = [k for k in os.environ.get("SKYTILE_BENCH_FILES", ",".join(FILES)).split(",") if k]
    t_start = time.perf_counter()
    try:
        exe, exe_err = build_pqscan(), None
    except Exception as e:  # library missing or not linkable yet: still time the peers
        msg = [ln for ln in str(e).splitlines() if "error" in ln or "undefined" in ln or "missing" in ln]
        exe, exe_err = None, (msg[0] if msg else repr(e)).strip()
    notes, results = [], []
    for kind in kinds:
        results.append((kind, *bench_file(kind, exe, exe_err, notes)))
    header = ["| file | row groups | MB | skytile | skytile keep_dictionary | DuckDB | pyarrow "
              "| skytile / faster peer | best skytile mode / faster peer | issue's DuckDB ref |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines = [f"## Parquet read: single-thread scan ({ROWS:,} rows per file, best of {2 * ROUNDS} runs)", "",
             "Wall clock, M rows/s:", "", *header, *(table_rows(k, b, i, 0) for k, b, i in results), "",
             "CPU time of the process (less sensitive to other load on the machine), M rows/s:", "",
             *header, *(table_rows(k, b, i, 1) for k, b, i in results), ""]
    lines += ["Engines: skytile = bench/pqscan.c (st_pq_open + st_pq_read per row group, all columns, "
              "dictionaries materialised, then a sum over every value); skytile keep_dictionary = the same "
              "with st_pq_read_options.keep_dictionary (string columns arrive as indices + dictionary; "
              "lengths summed through the dictionary), only for files with strings; DuckDB = `PRAGMA "
              "threads=1` and the aggregate query below (DuckDB may evaluate strlen once per dictionary "
              "entry, so it need not materialise strings either); pyarrow = `pq.read_table(f, "
              "use_threads=False)` with `pa.set_cpu_count(1)` and `pa.set_io_thread_count(1)` (without "
              "them read_table still decodes on a second thread) — it materialises the table. A ratio > 1 means skytile is faster than the "
              "faster peer. Warm page cache, file open included, engines interleaved round by round. "
              "skytile's checksums are verified against pyarrow; a run with a wrong result is not timed.",
              "", *notes, "", f"(section took {time.perf_counter() - t_start:.0f} s)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
