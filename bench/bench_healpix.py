"""ang2pix at order 29 on random points, single thread: skytile vs healpy and cdshealpix.

N points (default 10M) uniform on the sphere (ra in [0, 360), dec = asin(U(-1, 1))),
generated with numpy (seed 29) in memory; every engine gets the same float64 arrays
and the same run. Best of REPS runs, wall clock measured in-process:

  skytile         st_hpx_ang2pix_batch(29, ra, dec, n, out) through ctypes on
                  $SKYTILE_BUILD/libskytile.so (one call; the best path of the CPU:
                  AVX-512, else AVX2)
  skytile avx2 / scalar
                  the same with SKYTILE_HPX_ISA=avx2 / scalar (the paths of CPUs
                  without AVX-512 / AVX2), each measured in a child process
  healpy          healpy.ang2pix(2**29, ra, dec, nest=True, lonlat=True)
  cdshealpix      cdshealpix.nested.lonlat_to_healpix(Longitude, Latitude, 29, num_threads=1)
                  (the astropy Longitude/Latitude objects are built outside the timing)

skytile's pixels are checked against healpy's (must be identical) and cdshealpix's
(reported: cdshealpix uses its own projection code and may differ on edges).

Environment: SKYTILE_BUILD (default build), SKYTILE_BENCH_HPX_N (default 10000000),
SKYTILE_BENCH_REPS (default 3).  Run alone: .venv/bin/python bench/bench_healpix.py
"""
import ctypes
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / os.environ.get("SKYTILE_BUILD", "build")
N = int(os.environ.get("SKYTILE_BENCH_HPX_N", "10000000"))
REPS = int(os.environ.get("SKYTILE_BENCH_REPS", "3"))


class _Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


def _points():
    rng = np.random.default_rng(29)
    ra = rng.uniform(0.0, 360.0, N)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N)))
    return ra, dec


def _best(fn):
    """Best wall-clock and best process-CPU time over REPS calls, and the last result."""
    best = [float("inf"), float("inf")]
    out = None
    for _ in range(REPS):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = [min(best[0], time.perf_counter() - t), min(best[1], time.process_time() - c)]
    return best, out


def _skytile(ra, dec):
    lib = ctypes.CDLL(str(BUILD / "libskytile.so"))
    f = lib.st_hpx_ang2pix_batch
    D = ctypes.POINTER(ctypes.c_double)
    f.argtypes = [ctypes.c_int, D, D, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(_Err)]
    out = np.empty(len(ra), np.int64)
    err = _Err()

    def call():
        rc = f(29, ra.ctypes.data_as(D), dec.ctypes.data_as(D), len(ra),
               out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), ctypes.byref(err))
        if rc:
            raise RuntimeError(err.msg.decode())
        return out

    return _best(call)


def _isa_child(isa):
    """Time one code path in a child process (the choice is made once per process)."""
    env = dict(os.environ, SKYTILE_HPX_ISA=isa)
    p = subprocess.run([sys.executable, __file__, "--skytile-only"], env=env, capture_output=True,
                       text=True, check=True)
    return [float(x) for x in p.stdout.split()]


def run():
    import healpy as hp
    import cdshealpix
    from astropy.coordinates import Latitude, Longitude
    import astropy.units as u

    ra, dec = _points()
    rows = []
    t_st, pix_st = _skytile(ra, dec)
    pix_st = pix_st.copy()
    t_avx2 = _isa_child("avx2")
    t_sc = _isa_child("scalar")
    t_hp, pix_hp = _best(lambda: hp.ang2pix(1 << 29, ra, dec, nest=True, lonlat=True))
    lon, lat = Longitude(ra, u.deg), Latitude(dec, u.deg)
    t_cds, pix_cds = _best(lambda: cdshealpix.nested.lonlat_to_healpix(lon, lat, 29, num_threads=1))
    same_hp = int(np.count_nonzero(pix_st != pix_hp))
    same_cds = int(np.count_nonzero(pix_st != pix_cds.astype(np.int64)))

    def ns(t):
        return [x / N * 1e9 for x in t]

    rows.append(("skytile (batch, best path of this CPU)", ns(t_st)))
    rows.append(("skytile (batch, AVX2 path)", ns(t_avx2)))
    rows.append(("skytile (portable scalar path)", ns(t_sc)))
    rows.append((f"healpy {hp.__version__}", ns(t_hp)))
    rows.append((f"cdshealpix {cdshealpix.__version__} (num_threads=1)", ns(t_cds)))
    ref = ns(t_st)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "## HEALPix ang2pix, order 29, single thread",
        "",
        f"{N:,} random points (uniform on the sphere), float64 ra/dec in degrees, best of {REPS}.",
        "Wall clock and process CPU time per point; on a loaded machine (load average "
        f"{load} after the run) the CPU-time columns are the fairer comparison.",
        "",
        "| engine | wall ns / point | CPU ns / point | ratio to skytile (wall) | ratio to skytile (CPU) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, v in rows:
        lines.append(f"| {name} | {v[0]:.1f} | {v[1]:.1f} | {v[0] / ref[0]:.2f}x | {v[1] / ref[1]:.2f}x |")
    lines += [
        "",
        f"- pixels differing from healpy: {same_hp} of {N:,} (must be 0)",
        f"- pixels differing from cdshealpix: {same_cds} of {N:,}",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if "--skytile-only" in sys.argv:
        ra, dec = _points()
        t, _ = _skytile(ra, dec)
        print(repr(t[0]), repr(t[1]))
    else:
        print(run())
