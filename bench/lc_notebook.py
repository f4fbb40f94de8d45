"""IRSA's NEOWISE light-curve notebook method, re-run locally (the baseline of bench_lightcurves.py).

A faithful re-implementation of "Make Light Curves from NEOWISE Single-exposure Source Table"
(IRSA tutorials, updated 2024-08-08; ../shared/context/003_13e37ce4725df75a.txt) on local files:

  1. one pyarrow dataset per year from its _metadata (pyarrow.dataset.parquet_dataset(...,
     partitioning="hive")), unified with pyarrow.dataset.dataset([...]);
  2. targets: for each, hpgeom.query_circle(nside 2^5, nest, inclusive) over the match radius,
     exploded to one row per (target, order-5 pixel), grouped by pixel;
  3. a multiprocessing.Pool (fork, initializer init_worker with the dataset, columns and radius;
     imap_unordered with the notebook's chunk rule ~5 chunks per worker) runs, per pixel group:
     a pyarrow filter healpix_k5 == pixel & ra/dec box (min/max of the group's targets -/+ 100 x
     radius) & cc_flags == "0000", dataset.to_table(columns=COLUMN_SUBSET, filter=...), then
     astropy SkyCoord.search_around_sky(targets, radius), take the matched rows, join the uid;
  4. concatenate, sort by mjd (the notebook then groups by uid when plotting).

The functions keep the notebook's names and bodies; differences: the S3 filesystem is the local
one, the targets come from a file (uid, ra, dec -> uid, RAJ2000, DEJ2000) instead of VizieR, the
worker count and chunk size are parameters, and the result is written to Parquet.

Usage:
  .venv/bin/python bench/lc_notebook.py --years DIR[,DIR...] --targets targets.csv
      [--radius-arcsec 1] [--workers 2] [--output lc.parquet] [--stats stats.json]
DIR is a year's dataset directory holding _metadata.  The stats JSON holds the phase timings
and getrusage of this process and of its (pool) children.
"""
import argparse
import json
import math
import resource
import sys
import time

T_START = time.time()

import multiprocessing  # parallelization  # noqa: E402

import hpgeom  # HEALPix math  # noqa: E402
import numpy as np  # noqa: E402,F401
import pandas as pd  # manipulate tabular data  # noqa: E402
import pyarrow.compute  # construct dataset filters  # noqa: E402
import pyarrow.dataset  # load and query the NEOWISE dataset  # noqa: E402
import pyarrow.parquet  # noqa: E402
from astropy import units as u  # manipulate astropy quantities  # noqa: E402
from astropy.coordinates import SkyCoord  # manipulate sky coordinates  # noqa: E402


FLUX_COLUMNS = ["w1flux", "w2flux"]
LIGHTCURVE_COLUMNS = ["mjd"] + FLUX_COLUMNS
COLUMN_SUBSET = ["cntr", "ra", "dec"] + LIGHTCURVE_COLUMNS


def load_targets(path, radius=1 * u.arcsec):
    """The notebook's load_targets_Downes2001, from a local uid,ra,dec file instead of VizieR."""
    if str(path).endswith(".parquet"):
        cvs_df = pyarrow.parquet.read_table(path).to_pandas()
    else:
        cvs_df = pd.read_csv(path)
    cvs_df = cvs_df.rename(columns={"ra": "RAJ2000", "dec": "DEJ2000"})
    cvs_df["healpix_k5"] = [
        hpgeom.query_circle(
            a=cv.RAJ2000,
            b=cv.DEJ2000,
            radius=radius.to_value("deg"),
            nside=hpgeom.order_to_nside(order=5),
            nest=True,
            inclusive=True,
        )
        for cv in cvs_df.itertuples()
    ]
    cvs_df = cvs_df.explode("healpix_k5", ignore_index=True)
    return cvs_df


def load_lightcurves_one_partition(targets_group):
    """Load lightcurves from a single partition (notebook function)."""
    global _neowise_ds
    global _columns
    global _radius
    filters = _construct_dataset_filters(targets_group=targets_group, radius=_radius)
    pixel_tbl = _neowise_ds.to_table(columns=_columns, filter=filters)
    lightcurves_df = _cone_search(targets_group=targets_group, pixel_tbl=pixel_tbl, radius=_radius)
    return lightcurves_df


def _construct_dataset_filters(*, targets_group, radius, scale_factor=100):
    """Box + partition + quality filter (notebook function)."""
    pixel, locations_df = targets_group
    filters = pyarrow.compute.field("healpix_k5") == pixel
    buffer_dist = scale_factor * radius.to_value("deg")
    for coord, target_coord in zip(["ra", "dec"], ["RAJ2000", "DEJ2000"]):
        coord_fld = pyarrow.compute.field(coord)
        coord_min = locations_df[target_coord].min()
        filters = filters & (coord_fld > coord_min - buffer_dist)
        coord_max = locations_df[target_coord].max()
        filters = filters & (coord_fld < coord_max + buffer_dist)
    filters = filters & pyarrow.compute.equal(pyarrow.compute.field("cc_flags"), "0000")
    return filters


def _cone_search(*, targets_group, pixel_tbl, radius):
    """astropy search_around_sky of the group's targets against the loaded rows (notebook function)."""
    _, targets_df = targets_group
    pixel_skycoords = SkyCoord(ra=pixel_tbl["ra"] * u.deg, dec=pixel_tbl["dec"] * u.deg)
    targets_skycoords = SkyCoord(targets_df["RAJ2000"], targets_df["DEJ2000"], unit=u.deg)
    targets_ilocs, pixel_ilocs, _, _ = pixel_skycoords.search_around_sky(targets_skycoords, radius)
    match_df = pixel_tbl.take(pixel_ilocs).to_pandas()
    match_df["targets_ilocs"] = targets_ilocs
    match_df = match_df.set_index("targets_ilocs").join(targets_df.reset_index().uid)
    return match_df


def init_worker(neowise_ds, columns, radius):
    """Set the worker globals (notebook function)."""
    global _neowise_ds
    _neowise_ds = neowise_ds
    global _columns
    _columns = columns
    global _radius
    _radius = radius


def _rusage(who):
    r = resource.getrusage(who)
    return {"utime": r.ru_utime, "stime": r.ru_stime, "maxrss_kib": r.ru_maxrss}


def run(year_dirs, targets_path, radius_arcsec=1.0, nworkers=2, chunksize=None):
    """The notebook's pipeline; returns (light-curve DataFrame, phase timings dict)."""
    times = {}
    t0 = time.time()
    year_datasets = [
        pyarrow.dataset.parquet_dataset(f"{d}/_metadata", partitioning="hive") for d in year_dirs
    ]
    neowise_ds = pyarrow.dataset.dataset(year_datasets)
    times["metadata_s"] = time.time() - t0
    radius = radius_arcsec * u.arcsec
    t0 = time.time()
    targets_df = load_targets(targets_path, radius=radius)
    targets_groups = targets_df.groupby("healpix_k5")
    times["targets_s"] = time.time() - t0
    times["pixel_groups"] = targets_groups.ngroups
    if chunksize is None:  # the notebook: ~1900 pixels, 8 workers, chunksize 48 => ~5 chunks per worker
        chunksize = max(1, math.ceil(targets_groups.ngroups / (nworkers * 5)))
    times["chunksize"] = chunksize
    init_args = (neowise_ds, COLUMN_SUBSET, radius)
    t0 = time.time()
    ctx = multiprocessing.get_context("fork")  # the notebook relies on fork (Linux)
    with ctx.Pool(nworkers, initializer=init_worker, initargs=init_args) as pool:
        lightcurves = []
        for lightcurves_df in pool.imap_unordered(load_lightcurves_one_partition, targets_groups,
                                                  chunksize=chunksize):
            lightcurves.append(lightcurves_df)
    neowise_lightcurves_df = pd.concat(lightcurves).sort_values("mjd").reset_index(drop=True)
    times["pool_s"] = time.time() - t0
    return neowise_lightcurves_df, times


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--radius-arcsec", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunksize", type=int, default=None)
    ap.add_argument("--output")
    ap.add_argument("--stats")
    a = ap.parse_args(argv)
    t_imports = time.time() - T_START
    t0 = time.time()
    df, times = run(a.years.split(","), a.targets, a.radius_arcsec, a.workers, a.chunksize)
    times["core_s"] = time.time() - t0
    times["imports_s"] = t_imports
    times["rows"] = len(df)
    times["targets_matched"] = int(df["uid"].nunique()) if len(df) else 0
    if a.output:
        t0 = time.time()
        df.to_parquet(a.output, index=False)
        times["write_s"] = time.time() - t0
    times["self"] = _rusage(resource.RUSAGE_SELF)
    times["children"] = _rusage(resource.RUSAGE_CHILDREN)
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(times, f, indent=1)
    else:
        print(json.dumps(times, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
