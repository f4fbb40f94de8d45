"""Shared ctypes binding of build/<SKYTILE_BUILD>/libskytile.so for the Python tests.

Holds what several test modules need: the st_error struct, the Arrow C Data
Interface structs, one cached handle of the library with the argtypes/restype
of every public function the tests call, and pyarrow <-> st_table helpers.
Structs used by one test module only (option structs, result structs) stay in
that module; functions taking them are declared here with void* arguments.

Under SKYTILE_SAN=1 the library is an ASan build, which cannot be loaded into
Python: tests using it carry the `needs_lib` marker (and lib() skips).
No tests here (the name does not start with test_).
"""
import ctypes
from ctypes import POINTER, c_bool, c_char, c_char_p, c_double, c_int, c_int64, c_void_p

import pyarrow as pa
import pytest

from conftest import BUILD, SAN

needs_lib = pytest.mark.skipif(SAN, reason="an ASan libskytile.so cannot be loaded into Python")

vp = c_void_p
pvp = POINTER(c_void_p)
cpp = POINTER(c_char_p)
D = POINTER(c_double)
I64 = POINTER(c_int64)


class StError(ctypes.Structure):
    """struct st_error (include/skytile.h)."""
    _fields_ = [("code", c_int), ("msg", c_char * 1024)]


E = POINTER(StError)


class PqReadOptions(ctypes.Structure):
    """struct st_pq_read_options (include/skytile/parquet.h)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("max_alloc", ctypes.c_uint64),
                ("verify_crc", c_bool), ("keep_dictionary", c_bool)]


class SkytileError(Exception):
    """A library call failed: the st_code and the message of its st_error."""

    def __init__(self, code, msg):
        super().__init__(f"[{code}] {msg}")
        self.code, self.msg = code, msg


def check(rc, err, what=""):
    """Assert that a library call returned 0, with the st_error's message otherwise."""
    assert rc == 0, f"{what}{': ' if what else ''}{rc} {err.msg.decode(errors='replace')}"


class BinPartition(ctypes.Structure):
    """st_bin_partition (one output partition of the import binning)."""
    _fields_ = [("order", c_int), ("pixel", c_int64), ("rows", c_int64)]


# ---- Arrow C Data Interface (https://arrow.apache.org/docs/format/CDataInterface.html) ----------

class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", c_char_p), ("name", c_char_p), ("metadata", c_void_p),
    ("flags", c_int64), ("n_children", c_int64),
    ("children", POINTER(POINTER(ArrowSchema))),
    ("dictionary", POINTER(ArrowSchema)), ("release", c_void_p),
    ("private_data", c_void_p)]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", c_int64), ("null_count", c_int64), ("offset", c_int64),
    ("n_buffers", c_int64), ("n_children", c_int64),
    ("buffers", POINTER(c_void_p)),
    ("children", POINTER(POINTER(ArrowArray))),
    ("dictionary", POINTER(ArrowArray)), ("release", c_void_p),
    ("private_data", c_void_p)]


# ---- the library ----------------------------------------------------------------------------------

# name: (argtypes, restype); pointers to structs not defined here are void*.
SIGNATURES = {
    # table.h: Arrow import/export, table operations, text output
    "st_table_import_arrow": ([vp, vp, pvp, E], c_int),
    "st_table_export_arrow": ([vp, vp, vp, E], c_int),
    "st_table_free": ([vp], None),
    "st_table_validate": ([vp, E], c_int),
    "st_table_take": ([vp, vp, c_int64, pvp, vp], c_int),
    "st_table_concat": ([vp, c_int, pvp, vp], c_int),
    "st_table_slice": ([vp, c_int64, c_int64, pvp, vp], c_int),
    "st_table_select_columns": ([vp, vp, c_int, pvp, vp], c_int),
    "st_table_write_csv_path": ([vp, c_char_p, c_bool, c_bool, vp], c_int),
    "st_table_write_jsonl_path": ([vp, c_char_p, c_bool, vp], c_int),
    "st_array_import_arrow": ([vp, vp, vp, pvp, vp], c_int),
    "st_array_export_arrow": ([vp, vp, vp, vp, vp], c_int),
    "st_array_free": ([vp], None),
    "st_field_clear": ([vp], None),
    # parquet.h: reader
    "st_pq_read_options_init": ([POINTER(PqReadOptions)], None),
    "st_pq_open": ([c_char_p, POINTER(PqReadOptions), pvp, E], c_int),
    "st_pq_read": ([vp, vp, c_int, vp, c_int, pvp, E], c_int),
    "st_pq_close": ([vp], None),
    "st_pq_num_row_groups": ([vp], c_int),
    "st_pq_row_group_num_rows": ([vp, c_int], c_int64),
    "st_pq_num_rows": ([vp], c_int64),
    "st_pq_schema": ([vp], vp),
    # parquet.h: writer
    "st_pq_write_options_init": ([vp], None),
    "st_pq_write_table_path": ([c_char_p, vp, vp, E], c_int),
    "st_pq_writer_open": ([c_char_p, vp, vp, pvp, E], c_int),
    "st_pq_writer_write": ([vp, vp, E], c_int),
    "st_pq_writer_close": ([vp, E], c_int),
    "st_pq_writer_abort": ([vp], None),
    "st_pq_write_dataset_metadata": ([c_char_p, cpp, c_int, E], c_int),
    # readers.h
    "st_input_options_init": ([vp], None),
    "st_input_open": ([c_char_p, vp, pvp, vp], c_int),
    "st_input_next": ([vp, pvp, vp], c_int),
    "st_input_close": ([vp], None),
    "st_input_schema": ([vp], vp),
    "st_input_format": ([vp], c_char_p),
    "st_input_rows_read": ([vp], c_int64),
    "st_input_num_rows": ([vp], c_int64),
    "st_input_detect_format": ([c_char_p, vp], c_char_p),
    "st_input_infer_schema": ([cpp, c_int, vp, vp, vp], c_int),
    "st_schema_unify": ([vp, c_char_p, vp, c_char_p, vp, vp], c_int),
    # hats catalogs
    "st_catalog_open": ([c_char_p, vp, pvp, E], c_int),
    "st_catalog_close": ([vp], None),
    "st_catalog_n_partitions": ([vp], c_int),
    "st_catalog_n_files": ([vp], c_int),
    "st_catalog_partition": ([vp, c_int, vp, E], c_int),
    "st_catalog_file_info": ([vp, c_int, vp, E], c_int),
    "st_catalog_metadata": ([vp], vp),
    "st_catalog_open_subcatalog": ([vp, c_char_p, vp, pvp, E], c_int),
    "st_catalog_property": ([vp, c_char_p], c_char_p),
    "st_catalog_type": ([vp], c_char_p),
    # healpix.h (st_moc* are void*)
    "st_hpx_ang2pix_batch": ([c_int, D, D, c_int64, I64, E], c_int),
    "st_hpx_ang2pix_hats_batch": ([c_int, D, D, c_int64, I64, E], c_int),
    "st_hpx_ang2pix_hats": ([c_int, c_double, c_double, I64, E], c_int),
    "st_hpx_pix2ang_batch": ([c_int, I64, c_int64, D, D, E], c_int),
    "st_hpx_ang2pix": ([c_int, c_double, c_double, I64, E], c_int),
    "st_hpx_neighbours": ([c_int, c_int64, I64, E], c_int),
    "st_hpx_vec2pix": ([c_int, D, I64, E], c_int),
    "st_hpx_pix2vec": ([c_int, c_int64, D, E], c_int),
    "st_hpx_nest2ring": ([c_int, c_int64, I64, E], c_int),
    "st_hpx_ring2nest": ([c_int, c_int64, I64, E], c_int),
    "st_hpx_corners": ([c_int, c_int64, D, D, E], c_int),
    "st_hpx_cone_moc": ([c_int, c_double, c_double, c_double, vp, E], c_int),
    "st_hpx_box_moc": ([c_int, c_double, c_double, c_double, c_double, vp, E], c_int),
    "st_hpx_polygon_moc": ([c_int, D, D, c_int, vp, E], c_int),
    "st_hpx_separation": ([c_double] * 4, c_double),
    "st_hpx_max_pixrad": ([c_int], c_double),
    "st_moc_init": ([vp, c_int], None),
    "st_moc_free": ([vp], None),
    "st_moc_npix": ([vp, c_int], c_int64),
    "st_moc_pixels": ([vp, c_int, I64, c_int64, I64, E], c_int),
    # import pipeline (st_bin_options / st_bin_result / st_bin_partition / st_import_props are void*)
    "st_bin": ([I64, vp, vp, E], c_int),
    "st_bin_result_free": ([vp], None),
    "st_import_write_partition_info": ([c_char_p, vp, c_int64, E], c_int),
    "st_import_write_healpix_fits": ([c_char_p, I64, c_int, E], c_int),
    "st_import_write_skymaps": ([c_char_p, I64, c_int, POINTER(c_int), c_int, E], c_int),
    "st_import_sky_fraction": ([vp, c_int64], c_double),
    "st_import_props_init": ([vp], None),
    "st_import_write_properties": ([c_char_p, vp, E], c_int),
}

_LIB = None


def lib():
    """The loaded library (once per process), every function in SIGNATURES declared."""
    global _LIB
    if _LIB is None:
        if SAN:
            pytest.skip("the ASan build cannot be loaded with ctypes")
        so = BUILD / "libskytile.so"
        if not so.exists():
            pytest.skip(f"{so} not built")
        L = ctypes.CDLL(str(so))
        for name, (args, res) in SIGNATURES.items():
            f = getattr(L, name)
            f.argtypes = args
            f.restype = res
        _LIB = L
    return _LIB


# ---- pyarrow <-> st_table ---------------------------------------------------------------------------

def _batch(x):
    """A RecordBatch of a RecordBatch or a Table (chunks combined; an empty table gives 0 rows)."""
    if isinstance(x, pa.RecordBatch):
        return x
    bs = x.combine_chunks().to_batches()
    return bs[0] if bs else pa.RecordBatch.from_pylist([], schema=x.schema)


def to_st(batch_or_table):
    """pyarrow RecordBatch/Table -> st_table* (c_void_p; caller frees with st_table_free).
    The import moves the exported structs: both are released afterwards."""
    s, a = ArrowSchema(), ArrowArray()
    _batch(batch_or_table)._export_to_c(ctypes.addressof(a), ctypes.addressof(s))
    t, e = c_void_p(), StError()
    rc = lib().st_table_import_arrow(ctypes.addressof(s), ctypes.addressof(a), ctypes.byref(t), ctypes.byref(e))
    assert rc == 0, e.msg.decode()
    return t


def export_arrow(t):
    """st_table_export_arrow of t -> (ArrowSchema, ArrowArray); t stays owned by the caller."""
    s, a, e = ArrowSchema(), ArrowArray(), StError()
    rc = lib().st_table_export_arrow(t, ctypes.addressof(s), ctypes.addressof(a), ctypes.byref(e))
    if rc:
        raise SkytileError(e.code, e.msg.decode(errors="replace"))
    return s, a


def export_batch(t):
    """st_table* -> pyarrow RecordBatch; t stays owned by the caller (the export stands on its own)."""
    s, a = export_arrow(t)
    return pa.RecordBatch._import_from_c(ctypes.addressof(a), ctypes.addressof(s))


def from_st(t):
    """st_table* -> pyarrow Table; frees the st_table."""
    try:
        b = export_batch(t)
    finally:
        lib().st_table_free(t)
    return pa.Table.from_batches([b])


def pq_read_st(path, columns=None, options=None, row_groups=None):
    """Read a Parquet file with st_pq_open/st_pq_read into an st_table* (caller frees).
    columns / row_groups: top-level column / row-group indices (default all); options:
    a PqReadOptions struct (or None).  Raises SkytileError on failure."""
    L = lib()
    r, t, e = c_void_p(), c_void_p(), StError()
    if L.st_pq_open(str(path).encode(), ctypes.byref(options) if options is not None else None,
                    ctypes.byref(r), ctypes.byref(e)):
        raise SkytileError(e.code, e.msg.decode(errors="replace"))
    try:
        rg = (c_int * len(row_groups))(*row_groups) if row_groups else None
        cols = (c_int * len(columns))(*columns) if columns else None
        if L.st_pq_read(r, rg, len(row_groups or []), cols, len(columns or []), ctypes.byref(t), ctypes.byref(e)):
            raise SkytileError(e.code, e.msg.decode(errors="replace"))
    finally:
        L.st_pq_close(r)
    return t


def st_read_parquet(path, columns=None, options=None, row_groups=None):
    """Read a Parquet file with st_pq_open/st_pq_read into a pyarrow Table (one batch);
    arguments as pq_read_st."""
    return from_st(pq_read_st(path, columns, options, row_groups))
