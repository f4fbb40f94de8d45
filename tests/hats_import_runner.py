"""Run hats-import (PyPI) on several jobs with one local dask client.

Used by tests/test_import_options.py as the oracle: the same inputs and
arguments go through hats-import and through `skytile import`.

usage: python hats_import_runner.py JOBS.json
JOBS.json: a list of {"name", "out", "inputs": [...], "reader": READER, "args": {...}}
READER: "csv" | "fits" | "parquet" | {"class": "CsvReader" | "ParquetPandasReader" |
        "FitsReader", "kwargs": {...}}
"args" are ImportArguments keyword arguments.  Each job's outcome (ok or the
exception text) is written to OUT/result.txt.
"""
import json
import sys
import traceback

from dask.distributed import Client
from hats_import.catalog.arguments import ImportArguments
from hats_import.catalog import file_readers as fr
from hats_import.pipeline import pipeline_with_client


def reader(spec):
    if isinstance(spec, str):
        return spec
    return getattr(fr, spec["class"])(**spec.get("kwargs", {}))


def main():
    jobs = json.load(open(sys.argv[1]))
    with Client(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        for j in jobs:
            args = dict(j.get("args", {}))
            if "existing_pixels" in args:
                args["existing_pixels"] = [tuple(p) for p in args["existing_pixels"]]
            try:
                a = ImportArguments(output_artifact_name=j["name"], input_file_list=j["inputs"],
                                    file_reader=reader(j.get("reader", "csv")), output_path=j["out"],
                                    progress_bar=False, resume=False, tmp_dir=j["out"] + "/tmp",
                                    dask_tmp=j["out"] + "/dtmp", **args)
                pipeline_with_client(a, c)
                msg = "ok"
            except Exception:  # noqa: BLE001 - reported to the test
                msg = "error\n" + traceback.format_exc()
            with open(j["out"] + "/result.txt", "w") as f:
                f.write(msg)


if __name__ == "__main__":
    main()
