"""`make bench` driver: machine description + every benchmark module, as markdown.

Runs each module present among MODULES, then any other bench/bench_*.py (each exposing
`run() -> str`, a markdown section), catching and reporting a failing module without stopping the
others, writes the combined markdown to bench/out/results.md and prints it.
BENCHMARKS.md is updated by hand from that file.

  .venv/bin/python bench/run.py [MODULE ...]     # default: all present modules

Environment: SKYTILE_BUILD selects the build directory (default build/); the modules
read their own knobs (see their docstrings).
"""
import datetime
import importlib
import importlib.metadata
import os
import pathlib
import platform
import subprocess
import sys
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
MODULES = ["bench_parquet_read", "bench_parquet_write", "bench_healpix"]
PEERS = ["pyarrow", "duckdb", "healpy", "cdshealpix"]


def _cpuinfo():
    """First processor's fields from /proc/cpuinfo ({} when unavailable)."""
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            if not line.strip():
                break
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    return info


def _cpu():
    info = _cpuinfo()
    model = info.get("model name") or platform.processor() or "unknown"
    extra = []
    if "cpu family" in info:
        extra.append(f"family {info['cpu family']} model {info.get('model', '?')}")
    if "cpu cores" in info:
        extra.append(f"{info['cpu cores']} cores")
    extra.append(f"{os.cpu_count()} logical CPUs")
    flags = set(info.get("flags", "").split())
    simd = [f for f in ("avx2", "bmi2", "avx512f", "avx512bw", "avx512vbmi") if f in flags]
    if simd:
        extra.append("/".join(simd))
    if "hypervisor" in flags:
        extra.append("virtual machine")
    return f"{model} ({', '.join(extra)})"


def _ram_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _gcc():
    try:
        return subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def _version(pkg):
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine():
    """Markdown section describing the machine and the peers."""
    build = os.environ.get("SKYTILE_BUILD", "build")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    return "\n".join([
        "## Machine",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {_cpu()}",
        f"- load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)",
        f"- RAM: {_ram_gib()}",
        f"- kernel: {platform.system()} {platform.release()}",
        f"- compiler: {_gcc()}",
        f"- Python {platform.python_version()}; peers: "
        + ", ".join(f"{p} {_version(p)}" for p in PEERS),
        f"- skytile build: {build}/ (git {commit})",
        "",
    ])


def discover():
    """MODULES in their order, then any other bench/bench_*.py exposing run(), sorted."""
    extra = sorted(p.stem for p in BENCH.glob("bench_*.py") if p.stem not in MODULES)
    return MODULES + [n for n in extra if "\ndef run(" in (BENCH / f"{n}.py").read_text()]


def main(argv):
    names = argv or discover()
    sys.path.insert(0, str(BENCH))
    sections = ["# skytile benchmark results", "", machine()]
    print(sections[-1], flush=True)
    for name in names:
        if not (BENCH / f"{name}.py").exists():
            sections.append(f"## {name}\n\n(not present)\n")
            continue
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(name)
            text = mod.run()
        except (Exception, SystemExit):  # report and carry on with the next module
            text = f"## {name}\n\nFAILED after {time.perf_counter() - t0:.0f} s:\n\n```\n{traceback.format_exc()}```\n"
        sections.append(text.rstrip() + "\n")
        print(sections[-1], flush=True)
    sections.append(f"(load average at end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())})\n")
    print(sections[-1], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    doc = "\n".join(sections)
    (OUT / "results.md").write_text(doc)
    print(f"(written to {OUT / 'results.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
