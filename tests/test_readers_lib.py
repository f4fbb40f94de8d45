"""ctypes bindings of skytile/readers.h shared by the reader tests (no tests here; imported by tests/test_readers.py)."""
import ctypes

import pyarrow as pa

import stlib
from stlib import StError, lib  # noqa: F401 (StError, lib are used through this module by test_readers)

vp = ctypes.c_void_p
cpp = ctypes.POINTER(ctypes.c_char_p)


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("format", ctypes.c_char_p), ("delimiter", ctypes.c_char),
        ("quote", ctypes.c_char), ("comment", ctypes.c_char), ("header", ctypes.c_bool),
        ("column_names", cpp), ("n_column_names", ctypes.c_int),
        ("null_values", cpp), ("n_null_values", ctypes.c_int), ("infer_rows", ctypes.c_int64),
        ("schema", vp), ("columns", cpp), ("n_columns", ctypes.c_int),
        ("drop_columns", cpp), ("n_drop", ctypes.c_int), ("keep_pandas_index", ctypes.c_bool),
        ("fits_hdu", ctypes.c_int), ("batch_rows", ctypes.c_int64), ("filename_regex", ctypes.c_char_p),
        ("filename_column", ctypes.c_char_p), ("max_line_bytes", ctypes.c_uint64),
        ("keep_null_type", ctypes.c_bool), ("part", ctypes.c_int), ("n_parts", ctypes.c_int),
        ("cancel", vp), ("values_x", ctypes.c_char_p), ("values_y", ctypes.c_char_p),
        ("values_fn", vp), ("values_ctx", vp), ("values_parts", ctypes.c_int),
        ("infer_threads", ctypes.c_int), ("hats_import_types", ctypes.c_bool)]


class ReaderError(Exception):
    def __init__(self, code, msg):
        super().__init__(f"[{code}] {msg}")
        self.code, self.msg = code, msg


def strarr(xs):
    a = (ctypes.c_char_p * (len(xs) + 1))(*[x.encode() for x in xs], None)
    return ctypes.cast(a, cpp), a


class Opts:
    """Build st_input_options from keyword arguments (keeps the ctypes buffers alive)."""

    def __init__(self, **kw):
        self.o = Options()
        lib().st_input_options_init(ctypes.byref(self.o))
        self.keep = []
        for k, v in kw.items():
            if k in ("column_names", "columns", "drop_columns", "null_values"):
                p, a = strarr(v)
                self.keep.append(a)
                setattr(self.o, k, p)
                setattr(self.o, {"column_names": "n_column_names", "columns": "n_columns",
                                 "drop_columns": "n_drop", "null_values": "n_null_values"}[k], len(v))
            elif k in ("format", "filename_regex", "filename_column"):
                setattr(self.o, k, v.encode())
            elif k in ("delimiter", "quote", "comment"):
                setattr(self.o, k, v.encode())
            elif k == "schema":
                self.keep.append(v)
                self.o.schema = v.field
            else:
                setattr(self.o, k, v)

    def ptr(self):
        return ctypes.byref(self.o)


class PqSchema:
    """The Arrow-mapped schema of a Parquet file, as an st_field pointer (for options.schema)."""

    def __init__(self, path):
        self.r = vp()
        err = StError()
        rc = lib().st_pq_open(str(path).encode(), None, ctypes.byref(self.r), ctypes.byref(err))
        assert rc == 0, err.msg.decode()
        self.field = lib().st_pq_schema(self.r)

    def __del__(self):
        lib().st_pq_close(self.r)


def export(t):
    return stlib.export_batch(t)


def read(path, fmt_out=None, **kw):
    """Read a file with st_input_*; returns (pyarrow.Table, format name).  Raises ReaderError."""
    L = lib()
    o = Opts(**kw)
    h, err = vp(), StError()
    rc = L.st_input_open(str(path).encode(), o.ptr(), ctypes.byref(h), ctypes.byref(err))
    if rc:
        raise ReaderError(rc, err.msg.decode())
    try:
        batches = []
        schema_t = None
        while True:
            t = vp()
            rc = L.st_input_next(h, ctypes.byref(t), ctypes.byref(err))
            if rc:
                raise ReaderError(rc, err.msg.decode())
            if not t.value:
                break
            assert L.st_table_validate(t, ctypes.byref(err)) == 0, err.msg.decode()
            batches.append(export(t))
            L.st_table_free(t)
        fmt = L.st_input_format(h).decode()
        if batches:
            tab = pa.Table.from_batches(batches)
        else:
            tab = None
        return tab, fmt
    finally:
        L.st_input_close(h)


class Field:
    """An st_field filled by the library (cleared on deletion)."""

    def __init__(self):
        self.buf = ctypes.create_string_buffer(256)

    def ptr(self):
        return ctypes.addressof(self.buf)

    @property
    def field(self):
        return self.ptr()

    def to_arrow_schema(self):
        """The STRUCT field's children as a pyarrow schema (via an empty array export)."""
        raise NotImplementedError

    def __del__(self):
        lib().st_field_clear(self.ptr())


def infer_schema(paths, **kw):
    """st_input_infer_schema -> pyarrow schema (read via st_input_open with the schema forced, 0 rows)."""
    L = lib()
    o = Opts(**kw)
    p, keep = strarr([str(x) for x in paths])
    f, err = Field(), StError()
    rc = L.st_input_infer_schema(p, len(paths), o.ptr(), f.ptr(), ctypes.byref(err))
    if rc:
        raise ReaderError(rc, err.msg.decode())
    return f
