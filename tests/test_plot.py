"""`skytile plot`: light-curve PNGs checked pixel by pixel.

The light-curve files are written by pyarrow (and as CSV); the PNGs are decoded by a small
pure-Python PNG reader (zlib + the five PNG row filters), cross-checked against Pillow when it is
installed.  Checks: size from IHDR, non-blank image, the series colours (matplotlib's tab10 blue and
orange, which skytile uses) drawn inside the plot area, error bars adding pixels, one framed panel
per epoch when the series has gaps, the inverted y axis of --magnitude, clear errors, and a PNG
with "no data" when nothing matches.
"""
import struct
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import run_skytile

BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
W, H = 600, 320


def decode_png(path):
    """(width, height, rows) with rows a list of bytes objects of RGB(A) pixels."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad PNG signature"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    assert len(raw) == h * (stride + 1)
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif f == 2:
            cur = bytearray((a + b) & 255 for a, b in zip(cur, prev))
        elif f == 3:
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa_, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa_ <= pb and pa_ <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 255
        else:
            assert f == 0, f"bad filter {f}"
        rows.append(bytes(cur))
        prev = cur
    return w, h, rows, bpp


def rgb_image(path):
    """Decoded PNG as a (h, w, 3) uint8 array."""
    w, h, rows, bpp = decode_png(path)
    a = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(h, w, bpp)
    return a[:, :, :3]


def mask(img, colour):
    return np.all(img == np.array(colour, dtype=np.uint8), axis=2)


def frame_lines(img):
    """Columns holding a long vertical run of black pixels (panel frame sides)."""
    black = np.all(img == 0, axis=2)
    h = img.shape[0]
    cols = [x for x in range(img.shape[1]) if black[:, x].sum() > h * 0.5]
    # merge adjacent columns (one line may cover two antialiased columns)
    groups = [c for i, c in enumerate(cols) if i == 0 or c != cols[i - 1] + 1]
    return groups


def light_curve_table(n_seasons=4, gap=180.0, with_nulls=False):
    ids, mjd, band, flux, err = [], [], [], [], []
    rng = np.random.default_rng(3)
    for oid in (5, 7):
        for s in range(n_seasons):
            for k in range(8):
                t = 58000 + s * gap + k * 0.7
                for b in ("W1", "W2"):
                    ids.append(oid)
                    mjd.append(t)
                    band.append(b)
                    flux.append(100 + (40 if b == "W2" else 0) + 0.05 * (t - 58000) + rng.normal(0, 2))
                    err.append(3.0)
    if with_nulls:
        flux[3] = None
        mjd[5] = None
        flux[7] = float("nan")
    return pa.table({"id": pa.array(ids, pa.int64()), "mjd": mjd, "band": band,
                     "flux": pa.array(flux, pa.float64()), "flux_err": err})


@pytest.fixture(scope="module")
def lc_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    p = d / "lc.parquet"
    pq.write_table(light_curve_table(with_nulls=True), p)
    return p


def plot(src, out, *args):
    return run_skytile("plot", src, "--output", out, "--width", W, "--height", H, *args)


def test_png_decoder_matches_pillow(lc_file, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    out = tmp_path / "a.png"
    p = plot(lc_file, out, "--id", "5", "--y", "flux", "--err", "flux_err", "--band-column", "band")
    assert p.returncode == 0, p.stderr
    ours = rgb_image(out)
    theirs = np.asarray(PIL.open(out).convert("RGB"))
    assert np.array_equal(ours, theirs)


def test_band_series_epochs_and_error_bars(lc_file, tmp_path):
    out = tmp_path / "bands.png"
    p = plot(lc_file, out, "--id", "5", "--time-column", "mjd", "--y", "flux", "--err", "flux_err",
             "--band-column", "band", "--title", "object 5")
    assert p.returncode == 0, p.stderr
    w, h, rows, _ = decode_png(out)
    assert (w, h) == (W, H)
    img = rgb_image(out)
    colours = {tuple(c) for c in img.reshape(-1, 3)[::7]}
    assert len(colours) >= 8, "image looks blank"
    blue, orange = mask(img, BLUE), mask(img, ORANGE)
    # both band series drawn, inside the plot area (below title+legend, above the x labels)
    area = (slice(60, H - 55), slice(80, W - 15))
    assert blue[area].sum() > 100 and orange[area].sum() > 100
    # W2 = W1 + 40: the orange series lies above the blue one (normal y axis)
    yb = np.nonzero(blue[area])[0].mean()
    yo = np.nonzero(orange[area])[0].mean()
    assert yo < yb
    # four seasons 180 days apart -> four framed panels (2 vertical lines each)
    assert len(frame_lines(img)) == 8

    out2 = tmp_path / "noerr.png"
    p = plot(lc_file, out2, "--id", "5", "--y", "flux", "--band-column", "band")
    assert p.returncode == 0, p.stderr
    img2 = rgb_image(out2)
    assert mask(img2, BLUE)[area].sum() < blue[area].sum(), "error bars add pixels"


def test_gap_days_controls_panels(lc_file, tmp_path):
    one = tmp_path / "one.png"
    assert plot(lc_file, one, "--id", "7", "--gap-days", "0").returncode == 0
    assert len(frame_lines(rgb_image(one))) == 2
    big = tmp_path / "big.png"
    assert plot(lc_file, big, "--id", "7", "--gap-days", "1000").returncode == 0
    assert len(frame_lines(rgb_image(big))) == 2
    split = tmp_path / "split.png"
    assert plot(lc_file, split, "--id", "7", "--gap-days", "30").returncode == 0
    assert len(frame_lines(rgb_image(split))) == 8


def test_magnitude_inverts_y(tmp_path):
    t = np.arange(20, dtype=float) + 58000
    src = tmp_path / "m.parquet"
    pq.write_table(pa.table({"id": ["a"] * 20, "mjd": t, "mag": 15 + 0.1 * np.arange(20)}), src)
    rows = {}
    for flag in ((), ("--magnitude",)):
        out = tmp_path / f"m{len(flag)}.png"
        p = plot(src, out, "--id", "a", "--y", "mag", *flag)
        assert p.returncode == 0, p.stderr
        b = mask(rgb_image(out), BLUE)[60:H - 55, 80:W - 15]
        ys, xs = np.nonzero(b)
        left = ys[xs < xs.mean()].mean()
        right = ys[xs > xs.mean()].mean()
        rows[bool(flag)] = (left, right)
    # rising values: higher on the right normally (smaller row), lower with --magnitude
    assert rows[False][1] < rows[False][0]
    assert rows[True][1] > rows[True][0]


def test_csv_input_string_ids_and_all_rows(tmp_path):
    tab = light_curve_table(n_seasons=1)
    tab = tab.set_column(0, "id", pa.array([f"obj{i}" for i in tab["id"].to_pylist()]))
    src = tmp_path / "lc.csv"
    pacsv.write_csv(tab, src)
    out = tmp_path / "csv.png"
    p = plot(src, out, "--id", "obj7", "--y", "flux", "--err", "flux_err")
    assert p.returncode == 0, p.stderr
    assert mask(rgb_image(out), BLUE).sum() > 100
    out2 = tmp_path / "all.png"
    p = plot(src, out2, "--y", "flux")  # no --id: every row
    assert p.returncode == 0, p.stderr
    assert mask(rgb_image(out2), BLUE).sum() > 100


def test_bad_columns_are_clear_errors(lc_file, tmp_path):
    out = tmp_path / "bad.png"
    p = plot(lc_file, out, "--id", "5", "--y", "band")
    assert p.returncode == 1 and "'band'" in p.stderr and "not numeric" in p.stderr
    p = plot(lc_file, out, "--id", "5", "--y", "nosuch")
    assert p.returncode == 1 and "'nosuch'" in p.stderr and "not found" in p.stderr
    p = plot(lc_file, out, "--id", "5", "--time-column", "when")
    assert p.returncode == 1 and "'when'" in p.stderr
    p = plot(lc_file, out, "--id", "5", "--id-column", "objid")
    assert p.returncode == 1 and "'objid'" in p.stderr
    p = plot(lc_file, out, "--id", "5", "--y", "flux", "--err", "a,b")
    assert p.returncode == 2
    assert not out.exists()
    assert not list(tmp_path.glob("bad.png*")), "no temporary file left behind"


def test_no_data_still_writes_png(lc_file, tmp_path):
    out = tmp_path / "none.png"
    p = plot(lc_file, out, "--id", "999", "--y", "flux", "--title", "nothing")
    assert p.returncode == 0, p.stderr
    assert "no rows" in p.stderr
    w, h, _, _ = decode_png(out)
    assert (w, h) == (W, H)
    img = rgb_image(out)
    assert mask(img, BLUE)[60:, :].sum() == 0  # legend marker only, no data points
    assert len(frame_lines(img)) == 2
    assert len({tuple(c) for c in img.reshape(-1, 3)}) > 3  # axes and text drawn
