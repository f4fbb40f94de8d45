"""Known-answer vectors for the C encoding decoders, produced by pyarrow.

pyarrow writes small uncompressed Parquet files with chosen encodings; a
minimal Thrift-compact reader (below) walks the page headers and extracts the
raw encoded bytes of each page.  The expected values come straight from the
Python data.  The C test `enc_pyarrow_vectors` (tests/unit/test_encodings.c)
decodes every vector and compares.

    python tests/encoding_vectors.py DIR     # write DIR/manifest.txt + files

manifest.txt, one vector per line:  kind n param file1 file2 expect
  delta32/delta64  file1 = DELTA_BINARY_PACKED page values; expect = le int32/int64
  dlba / dba       DELTA_LENGTH_BYTE_ARRAY / DELTA_BYTE_ARRAY; expect = [le32 len][bytes]*
  bss              BYTE_STREAM_SPLIT, param = value width; expect = raw values
  dict             file1 = RLE_DICTIONARY page (bit-width byte + hybrid), file2 = PLAIN
                   dictionary page, param = value width; expect = raw values
  rlebool          RLE booleans (le32 length prefix + hybrid); expect = one byte (0/1) per value
  deflevels        v2 definition levels (hybrid, no prefix), param = bit width; expect = le int16
"""
import io
import os
import struct
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# ---- minimal Thrift compact protocol reader --------------------------------


def _varint(b, i):
    v = s = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << s
        s += 7
        if not x & 0x80:
            return v, i


def _zz(v):
    return (v >> 1) ^ -(v & 1)


def _value(b, i, t):
    if t in (1, 2):
        return t == 1, i
    if t == 3:
        return b[i], i + 1
    if t in (4, 5, 6):
        v, i = _varint(b, i)
        return _zz(v), i
    if t == 7:
        return struct.unpack_from("<d", b, i)[0], i + 8
    if t == 8:
        n, i = _varint(b, i)
        return bytes(b[i:i + n]), i + n
    if t in (9, 10):
        h = b[i]
        i += 1
        n, et = h >> 4, h & 15
        if n == 15:
            n, i = _varint(b, i)
        out = []
        for _ in range(n):
            if et in (1, 2):
                v, i = b[i] == 1, i + 1
            else:
                v, i = _value(b, i, et)
            out.append(v)
        return out, i
    if t == 11:
        n, i = _varint(b, i)
        if n == 0:
            return {}, i
        kt, vt = b[i] >> 4, b[i] & 15
        i += 1
        out = {}
        for _ in range(n):
            k, i = _value(b, i, kt)
            out[k], i = _value(b, i, vt)
        return out, i
    if t == 12:
        return _struct(b, i)
    raise ValueError(f"thrift type {t}")


def _struct(b, i):
    out, fid = {}, 0
    while True:
        h = b[i]
        i += 1
        if h == 0:
            return out, i
        d, t = h >> 4, h & 15
        if d:
            fid += d
        else:
            v, i = _varint(b, i)
            fid = _zz(v)
        out[fid], i = _value(b, i, t)


def pages(path, col):
    """Yield (page_type, header dict, body bytes) for column `col` of row group 0."""
    md = pq.ParquetFile(path).metadata.row_group(0).column(col)
    start = md.dictionary_page_offset if md.has_dictionary_page else md.data_page_offset
    with open(path, "rb") as f:
        f.seek(start)
        blob = f.read(md.total_compressed_size)
    i = 0
    while i < len(blob):
        hdr, j = _struct(blob, i)
        size = hdr[3]
        yield hdr[1], hdr, blob[j:j + size]
        i = j + size


# ---- vector generation -------------------------------------------------------


def _i_values(rng, n, bits):
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    dt = np.int32 if bits == 32 else np.int64
    full = rng.integers(lo, hi, n, dtype=dt, endpoint=True)
    ext = np.where(rng.random(n) < 0.5, lo, hi).astype(dt)             # wrapping deltas
    sorted_ = np.cumsum(rng.integers(0, 1000, n)).astype(dt)
    small = rng.integers(-5, 6, n).astype(dt)
    # blocks of differing character so miniblock bit widths vary
    parts = [small[: n // 4], full[: n // 4], ext[: n // 4], sorted_[: n - 3 * (n // 4)]]
    return np.concatenate(parts)


def _strings(rng, n):
    words = ["", "a", "axis", "axle", "babble", "babyhood", "M31", "NGC 224", "ω Cen",
             "x" * 40, "HD 209458", "HD 209458 b"]
    out = []
    for k in range(n):
        w = words[rng.integers(0, len(words))]
        if rng.random() < 0.3:
            w += str(int(rng.integers(0, 10 ** 6)))
        out.append(w)
    out.sort(key=lambda s: (rng.random() < 0.5, s))  # half sorted: long shared prefixes
    return out


def generate(outdir, seed=12345):
    rng = np.random.default_rng(seed)
    os.makedirs(outdir, exist_ok=True)
    lines = []

    def put(name, data):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        return name

    def write(table, **kw):
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="NONE", data_page_version="2.0",
                       write_statistics=False, data_page_size=1 << 24, **kw)
        path = os.path.join(outdir, "tmp.parquet")
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        return path

    def values_of(hdr, body):
        v2 = hdr[8]
        return body[v2.get(6, 0) + v2.get(5, 0):]

    for n in (1, 2, 7, 8, 9, 33, 129, 1000, 1537):
        tag = f"n{n}"
        i32 = _i_values(rng, n, 32)
        i64 = _i_values(rng, n, 64)
        s = _strings(rng, n)
        f32 = rng.standard_normal(n).astype(np.float32)
        f64 = rng.standard_normal(n) * 1e3
        flba = [bytes(rng.integers(0, 256, 5, dtype=np.uint8)) for _ in range(n)]
        schema = pa.schema([pa.field("i32", pa.int32(), False), pa.field("i64", pa.int64(), False),
                            pa.field("s", pa.string(), False), pa.field("s2", pa.string(), False),
                            pa.field("f32", pa.float32(), False), pa.field("f64", pa.float64(), False),
                            pa.field("bi32", pa.int32(), False), pa.field("flba", pa.binary(5), False)])
        t = pa.table([i32, i64, s, s, f32, f64, i32, pa.array(flba, pa.binary(5))], schema=schema)
        path = write(t, use_dictionary=False,
                     column_encoding={"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED",
                                      "s": "DELTA_LENGTH_BYTE_ARRAY", "s2": "DELTA_BYTE_ARRAY",
                                      "f32": "BYTE_STREAM_SPLIT", "f64": "BYTE_STREAM_SPLIT",
                                      "bi32": "BYTE_STREAM_SPLIT", "flba": "BYTE_STREAM_SPLIT"})
        sbytes = b"".join(struct.pack("<I", len(x.encode())) + x.encode() for x in s)
        cases = [("delta32", 0, 0, i32.astype("<i4").tobytes()), ("delta64", 1, 0, i64.astype("<i8").tobytes()),
                 ("dlba", 2, 0, sbytes), ("dba", 3, 0, sbytes),
                 ("bss", 4, 4, f32.astype("<f4").tobytes()), ("bss", 5, 8, f64.astype("<f8").tobytes()),
                 ("bss", 6, 4, i32.astype("<i4").tobytes()), ("bss", 7, 5, b"".join(flba))]
        for kind, col, param, expect in cases:
            (ptype, hdr, body), = list(pages(path, col))
            assert ptype == 3 and hdr[8][1] == n, (kind, hdr)
            b = put(f"{tag}_c{col}.bin", values_of(hdr, body))
            e = put(f"{tag}_c{col}.expect", expect)
            lines.append(f"{kind} {n} {param} {b} - {e}")

        # dictionary-encoded int32 / double with few distinct values (RLE runs + bit-packed runs)
        k = int(rng.integers(1, 300))
        di = rng.integers(-10 ** 6, 10 ** 6, k, dtype=np.int32)
        dd = rng.standard_normal(k)
        idx = np.repeat(rng.integers(0, k, n), rng.integers(1, 20, n))[:n]
        t = pa.table({"di": pa.array(di[idx], pa.int32()), "dd": pa.array(dd[idx])},
                     schema=pa.schema([pa.field("di", pa.int32(), False), pa.field("dd", pa.float64(), False)]))
        path = write(t, use_dictionary=True)
        for col, (arr, width) in enumerate(((di[idx].astype("<i4"), 4), (dd[idx].astype("<f8"), 8))):
            pg = list(pages(path, col))
            assert pg[0][0] == 2 and len(pg) == 2, [p[0] for p in pg]
            d = put(f"{tag}_d{col}.dict", pg[0][2])
            v = put(f"{tag}_d{col}.bin", values_of(pg[1][1], pg[1][2]))
            e = put(f"{tag}_d{col}.expect", arr.tobytes())
            lines.append(f"dict {n} {width} {v} {d} {e}")

        # RLE booleans and definition levels of a nullable column
        bools = rng.random(n) < (0.9 if n % 2 else 0.5)
        valid = rng.random(n) < 0.7
        bools[: n // 3] = True  # a long repeat
        t = pa.table({"b": pa.array(bools, pa.bool_()),
                      "nv": pa.array(np.arange(n, dtype=np.int32), mask=~valid)},
                     schema=pa.schema([pa.field("b", pa.bool_(), False), pa.field("nv", pa.int32(), True)]))
        path = write(t, use_dictionary=False, column_encoding={"b": "RLE", "nv": "PLAIN"})
        (ptype, hdr, body), = list(pages(path, 0))
        assert hdr[8][4] == 3, hdr  # RLE
        b = put(f"{tag}_b.bin", values_of(hdr, body))
        e = put(f"{tag}_b.expect", bools.astype(np.uint8).tobytes())
        lines.append(f"rlebool {n} 0 {b} - {e}")
        (ptype, hdr, body), = list(pages(path, 1))
        dl = body[hdr[8].get(6, 0):hdr[8].get(6, 0) + hdr[8][5]]
        b = put(f"{tag}_l.bin", dl)
        e = put(f"{tag}_l.expect", valid.astype("<i2").tobytes())
        lines.append(f"deflevels {n} 1 {b} - {e}")

    os.remove(os.path.join(outdir, "tmp.parquet"))
    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


if __name__ == "__main__":
    print(generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data", "encodings")),
          "vectors")
