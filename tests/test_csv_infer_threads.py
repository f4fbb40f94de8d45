"""CSV whole-file type inference in parts (csv.c infer_all_rows, issue 5):
a plain CSV is classified by options.infer_threads threads, each on a byte
range of at least 4 MiB (SKYTILE_INFER_PART_MIN lowers that here so that a
small file is cut), the ranges being merged only if every cut met a record
start of the real parse; values handed to values_fn (the import's histogram
made in the inference pass) are those of the merged parts, or of part 0
alone after the others were discarded.

The generated CSV has CRLF record ends, quoted fields holding CRLF-separated
lines that look like records (a part starting inside one mis-parses), one
such field long enough to hold some of the cuts, a column whose type is
decided by one value near the end (double) and one in the middle (string),
and an int column with a null (double, as hats-import's pandas reads it).

Oracles: pyarrow.csv (newlines_in_values) for the values and the records,
the seams computed here from the text (where the first LF after a cut lies
inside a quoted field, the parts must be discarded), healpy for the pixels
of the imported catalog, and the --threads 1 import for the leaves.
"""
import ctypes

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import test_readers_lib as rl
from conftest import run_skytile
from stlib import StError, lib

hp = pytest.importorskip("healpy")

PART_MIN = 65536


Options = rl.Options  # st_input_options (its mirror must be complete: init writes all of it)


VALUES_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double),
                             ctypes.c_int64)


def gen_csv(path, n=20000, seed=7):
    """Returns (text, quoted spans [a, b) of the multi-line fields)."""
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    out = ["id,ra,dec,name,flag,late,mid,nint\r\n"]
    size = len(out[0])
    spans = []
    long_at = n // 2 - 300
    for i in range(n):
        if i == long_at:  # ~15% of the file in one field
            # lines that parse as records (flag "maybe": a string if mis-merged);
            # the last one makes the real record's end parse as one too
            inner = "\r\n".join(f"{k},{k % 300}.5,-20.0,zz,maybe,1,2,3" for k in range(9000))
            name = f'"{inner}\r\n1,2.5,3.5,zz"'
        elif i % 4 == 0:
            name = f'"multi ""q""\r\n{i},1.5,2.5,x,True,3,4,5\r\n1,2.5,3.5,w"'
        else:
            name = f"n{i}"
        late = "1.5" if i == n - 7 else str(i)
        mid = "abc" if i == n // 3 + 11 else str(-i)
        nint = "" if i == 2 * n // 3 else str(i * 3)
        pre = f"{i},{float(ra[i])!r},{float(dec[i])!r},"
        if name.startswith('"'):
            spans.append((size + len(pre), size + len(pre) + len(name)))
        line = f"{pre}{name},{'True' if i % 2 else 'False'},{late},{mid},{nint}\r\n"
        out.append(line)
        size += len(line)
    text = "".join(out)
    path.write_bytes(text.encode())
    return text, spans


def expect_discard(text, spans, parts):
    """True if the first LF after some cut lies inside a quoted field."""
    size = len(text)
    for k in range(1, parts):
        s = size // parts * k + size % parts * k // parts
        lf = text.index("\n", s)
        if any(a <= lf < b for a, b in spans):
            return True
    return False


def oracle(path):
    return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))


def infer(path, threads, values_parts):
    """st_input_infer_schema with infer_threads and a values_fn recording what
    each part reported; returns (schema Field, {part: [(x, y)]}, done, discarded)."""
    L = lib()
    o = Options()
    L.st_input_options_init(ctypes.byref(o))
    o.struct_size = ctypes.sizeof(Options)
    o.infer_threads = threads
    o.values_parts = values_parts
    o.hats_import_types = True  # large_string, int with a null -> double (as the import)
    o.values_x, o.values_y = b"ra", b"dec"
    got, state = {}, {"done": 0, "discarded": set()}

    def fn(ctx, event, part, x, y, n):
        if event == 0:
            got.setdefault(part, []).append((np.frombuffer(ctypes.string_at(x, 8 * n), np.float64),
                                             np.frombuffer(ctypes.string_at(y, 8 * n), np.float64)))
        elif event == 1:
            got.pop(part, None)
            state["discarded"].add(part)
        elif event == 2:
            state["done"] += 1

    cb = VALUES_FN(fn)
    o.values_fn = ctypes.cast(cb, ctypes.c_void_p)
    p, keep = rl.strarr([str(path)])
    f, err = rl.Field(), StError()
    rc = L.st_input_infer_schema(p, 1, ctypes.byref(o), f.ptr(), ctypes.byref(err))
    assert rc == 0, err.msg.decode()
    return f, got, state["done"], state["discarded"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("inferthreads")
    text, spans = gen_csv(d / "t.csv")
    return d / "t.csv", text, spans


@pytest.mark.parametrize("values_parts", [0, 8])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_infer_parts(data, monkeypatch, threads, values_parts):
    path, text, spans = data
    monkeypatch.setenv("SKYTILE_INFER_PART_MIN", str(PART_MIN))
    assert len(text) >= 4 * PART_MIN
    f, got, done, discarded = infer(path, threads, values_parts)
    ref = oracle(path)
    assert ref.num_rows == 20000
    # the inferred types (read back with them forced)
    t, _ = rl.read(path, schema=f)
    assert t.schema.remove_metadata() == pa.schema([
        ("id", pa.int64()), ("ra", pa.float64()), ("dec", pa.float64()), ("name", pa.large_string()),
        ("flag", pa.bool_()), ("late", pa.float64()), ("mid", pa.large_string()), ("nint", pa.float64())])
    assert t.equals(ref.cast(t.schema))
    # the parts: merged, or all discarded where a cut fell inside a quoted field
    want_discard = threads > 1 and expect_discard(text, spans, threads)
    used = set(range(1, threads)) if values_parts >= threads else ({1} if threads > 1 else set())
    assert discarded == (used if want_discard else set())
    assert done == 1
    assert set(got) <= {0} | used
    if threads > 1 and not want_discard:
        assert set(got) == {0} | used  # every part reported values
    # every record's values reported exactly once
    x = np.concatenate([a for v in got.values() for a, _ in v])
    y = np.concatenate([b for v in got.values() for _, b in v])
    o1 = np.lexsort((y, x))
    xr, yr = ref["ra"].to_numpy(), ref["dec"].to_numpy()
    o2 = np.lexsort((yr, xr))
    assert np.array_equal(x[o1], xr[o2]) and np.array_equal(y[o1], yr[o2])


def test_cases_cover_both_paths(data):
    """The generated file has cuts inside quoted fields for some thread
    counts and only clean cuts for others (else the test above is weak)."""
    _, text, spans = data
    got = {p: expect_discard(text, spans, p) for p in (2, 3, 4)}
    assert any(got.values()) and not all(got.values()), got


def test_import_threads(data, tmp_path, monkeypatch):
    """The import with --threads 1..4: same leaves (types, rows, order) and
    partitions; rows against pyarrow + healpy."""
    path, _, _ = data
    monkeypatch.setenv("SKYTILE_INFER_PART_MIN", str(PART_MIN))
    ref = oracle(path)
    outs = []
    for threads in (1, 2, 3, 4):
        out = tmp_path / f"t{threads}"
        run_skytile("import", path, "--output", out, "--threads", threads, "--highest-order", "5",
                    "--pixel-threshold", "3000", check=True, timeout=120)
        outs.append(out)
    leaves = sorted(p.relative_to(outs[0]) for p in (outs[0] / "dataset").glob("Norder=*/Dir=*/*.parquet"))
    assert len(leaves) > 4
    for out in outs[1:]:
        assert (out / "partition_info.csv").read_text() == (outs[0] / "partition_info.csv").read_text()
        assert sorted(p.relative_to(out) for p in (out / "dataset").glob("Norder=*/Dir=*/*.parquet")) == leaves
        for f in leaves:
            assert pq.read_table(out / f).equals(pq.read_table(outs[0] / f)), f
    t = pa.concat_tables([pq.read_table(outs[0] / f) for f in leaves]).sort_by("id")
    # (the leaf types themselves are compared with hats-import's in test_import_schema_peer.py)
    assert [t.schema.field(c).type for c in ("flag", "late", "mid")] == [pa.bool_(), pa.float64(),
                                                                        t.schema.field("name").type]
    assert t.schema.names[0] == "_healpix_29"
    assert t.drop_columns(["_healpix_29"]).equals(ref.sort_by("id").cast(t.schema.remove(0)))
    h = hp.ang2pix(2**29, ref.sort_by("id")["ra"].to_numpy(), ref.sort_by("id")["dec"].to_numpy(),
                   nest=True, lonlat=True)
    assert np.array_equal(t["_healpix_29"].to_numpy(), h)
