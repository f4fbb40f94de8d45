"""The map stage reads one input file on several threads (map.c, parts of
st_input_options): CSV byte ranges split at line starts and checked at the
seams (a quoted field holding line breaks makes a seam fail: the file is
then mapped whole), FITS row ranges, Parquet row groups.  The files are
split here whatever their size (SKYTILE_IMPORT_SPLIT_MIN=1), with more
threads than the files have lines or row groups.

The CSV histogram made in the type-inference pass (map.c st_imp_pre_*):
int64 and double position columns, -0.0 (left to the map), nulls and text
(the map's error messages), and a quoted field across the middle of a
>= 4 MiB file (the second inference half's values must be dropped).

Oracles: pandas / astropy / pyarrow read the inputs, healpy computes the
pixels; the hats-import catalog of small_sky_source (fixtures) gives the
partitions; a --threads 1 run (which never splits) must give the same
leaves row for row.
"""
import gzip
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import map_log_payloads, run_skytile

hp = pytest.importorskip("healpy")
pd = pytest.importorskip("pandas")


@pytest.fixture(autouse=True)
def split_everything(monkeypatch):
    monkeypatch.setenv("SKYTILE_IMPORT_SPLIT_MIN", "1")


def imp(*args, check=True):
    return run_skytile("import", *args, check=check, timeout=300)


def leaves(cat):
    return sorted((cat / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))


def catalog(cat):
    return pa.concat_tables([pq.read_table(f) for f in leaves(cat)])


def partitions(cat):
    return {(int(f.parent.parent.name.split("=")[1]), int(f.stem.split("=")[1])): pq.read_metadata(f).num_rows
            for f in leaves(cat)}


def check_against(cat, ids, ra, dec, order=10):
    """Every input row once, with healpy's _healpix_29, in pixel order per leaf."""
    t = catalog(cat)
    assert t.num_rows == len(ids)
    got = pd.DataFrame({"id": t["id"].to_numpy(), "h": t["_healpix_29"].to_numpy()}).sort_values("id")
    want = hp.ang2pix(2**29, np.asarray(ra), np.asarray(dec), nest=True, lonlat=True)
    order_ = np.argsort(np.asarray(ids), kind="stable")
    assert np.array_equal(got["id"].to_numpy(), np.asarray(ids)[order_])
    assert np.array_equal(got["h"].to_numpy(), want[order_])
    for f in leaves(cat):
        h = pq.read_table(f, columns=["_healpix_29"])["_healpix_29"].to_numpy()
        assert np.all(np.diff(h) >= 0), f


def same_leaves(a, b):
    la, lb = [f.relative_to(a) for f in leaves(a)], [f.relative_to(b) for f in leaves(b)]
    assert la == lb
    for f in la:
        assert pq.read_table(a / f).equals(pq.read_table(b / f)), f
    assert (a / "partition_info.csv").read_text() == (b / "partition_info.csv").read_text()


def both(tmp_path, inp, threads, *extra):
    """Import with `threads` (split map) and with --threads 1; same leaves."""
    common = ["--highest-order", "6", "--pixel-threshold", "40", *extra]
    a, b = tmp_path / f"split{threads}", tmp_path / "serial"
    imp(*([inp] if not isinstance(inp, list) else inp), "--output", a, "--threads", threads, *common)
    imp(*([inp] if not isinstance(inp, list) else inp), "--output", b, "--threads", 1, *common)
    same_leaves(a, b)
    return a


def rows(n, seed=1):
    rng = np.random.default_rng(seed)
    return (np.arange(n), rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n))))


def write_csv(path, n, seed=1, eol="\n", last_eol=True, text=lambda i: f"s{i}", id0=0):
    ids, ra, dec = rows(n, seed)
    ids = ids + id0
    lines = ["id,ra,dec,txt"] + [f"{i},{float(r)!r},{float(d)!r},{text(i)}" for i, r, d in zip(ids, ra, dec)]
    body = eol.join(lines) + (eol if last_eol else "")
    path.write_bytes(body.encode())
    return ids, ra, dec


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_csv_ranges(tmp_path, threads):
    ids, ra, dec = write_csv(tmp_path / "a.csv", 500)
    cat = both(tmp_path, tmp_path / "a.csv", threads)
    check_against(cat, ids, ra, dec)
    assert len(partitions(cat)) > 1


def test_csv_crlf_and_no_final_newline(tmp_path):
    ids, ra, dec = write_csv(tmp_path / "a.csv", 300, eol="\r\n", last_eol=False)
    cat = both(tmp_path, tmp_path / "a.csv", 4)
    check_against(cat, ids, ra, dec)
    df = pd.read_csv(tmp_path / "a.csv")
    assert list(catalog(cat).sort_by("id")["txt"].to_pylist()) == list(df["txt"])


def test_csv_tiny_file_many_threads(tmp_path):
    # 3 data lines, 16 threads: most parts start and stop inside one line
    ids, ra, dec = write_csv(tmp_path / "a.csv", 3)
    cat = both(tmp_path, tmp_path / "a.csv", 16, "--pixel-threshold", "1000")
    check_against(cat, ids, ra, dec)
    # header only: no rows (an error, as for the serial run)
    (tmp_path / "e.csv").write_text("id,ra,dec\n")
    p = imp(tmp_path / "e.csv", "--output", tmp_path / "e", "--threads", 4, check=False)
    q = imp(tmp_path / "e.csv", "--output", tmp_path / "e1", "--threads", 1, check=False)
    assert p.returncode == q.returncode != 0
    assert p.stderr.splitlines()[-1] == q.stderr.splitlines()[-1]


def quoted_lines(i):
    # a quoted field spanning lines that look like records of this file
    return '"multi\n{0},1.5,2.5,x\n{0},3.5,4.5,""y"""'.format(100000 + i) if i % 3 == 0 else f"s{i}"


@pytest.mark.parametrize("threads", [2, 5])
def test_csv_quoted_newlines(tmp_path, threads):
    ids, ra, dec = write_csv(tmp_path / "q.csv", 400, text=quoted_lines)
    df = pd.read_csv(tmp_path / "q.csv")
    assert len(df) == 400  # the oracle sees 400 records
    cat = both(tmp_path, tmp_path / "q.csv", threads)
    check_against(cat, ids, ra, dec)
    assert catalog(cat).sort_by("id")["txt"].to_pylist() == list(df["txt"])


def test_csv_one_huge_quoted_field(tmp_path):
    # the middle of the file (the seam for 2 threads) lies inside one quoted
    # field whose lines are valid records: only the seam check notices
    ids, ra, dec = rows(20)
    inner = "\n".join(f"{900 + k},{10.0 + k % 300},{-20.0},z" for k in range(2000))
    lines = ["id,ra,dec,txt"] + [f"{i},{float(r)!r},{float(d)!r},{(chr(34) + inner + chr(34)) if i == 10 else 's'}"
                                  for i, r, d in zip(ids, ra, dec)]
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    assert len(pd.read_csv(tmp_path / "h.csv")) == 20
    cat = both(tmp_path, tmp_path / "h.csv", 2, "--pixel-threshold", "1000")
    check_against(cat, ids, ra, dec)


def test_csv_gz_not_split(tmp_path):
    ids, ra, dec = write_csv(tmp_path / "a.csv", 400)
    with open(tmp_path / "a.csv", "rb") as f, gzip.open(tmp_path / "a.csv.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    cat = both(tmp_path, tmp_path / "a.csv.gz", 3)
    check_against(cat, ids, ra, dec)


def test_csv_bad_line_reported_as_serial(tmp_path):
    # an error in the second half: the file is mapped again whole, so the
    # message (line number) is the serial run's
    write_csv(tmp_path / "b.csv", 300)
    lines = (tmp_path / "b.csv").read_text().splitlines()
    lines[250] += ",extra"
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    p = imp(tmp_path / "b.csv", "--output", tmp_path / "o4", "--threads", 4, check=False)
    q = imp(tmp_path / "b.csv", "--output", tmp_path / "o1", "--threads", 1, check=False)
    assert p.returncode == q.returncode != 0
    assert "line 251" in q.stderr
    assert [l for l in p.stderr.splitlines() if "line 251" in l] == \
        [l for l in q.stderr.splitlines() if "line 251" in l]


def test_fits_row_ranges(tmp_path):
    fits = pytest.importorskip("astropy.io.fits")
    ids, ra, dec = rows(1001, seed=3)
    cols = [fits.Column(name="id", format="K", array=ids), fits.Column(name="ra", format="D", array=ra),
            fits.Column(name="dec", format="E", array=dec.astype(np.float32))]
    fits.BinTableHDU.from_columns(cols).writeto(tmp_path / "t.fits")
    cat = both(tmp_path, tmp_path / "t.fits", 3)
    check_against(cat, ids, ra, dec.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("rg", [37, 600])  # many row groups; fewer than the threads
def test_parquet_row_groups(tmp_path, rg):
    ids, ra, dec = rows(1200, seed=4)
    pq.write_table(pa.table({"id": ids, "ra": ra, "dec": dec}), tmp_path / "p.parquet", row_group_size=rg)
    assert pq.ParquetFile(tmp_path / "p.parquet").num_row_groups == -(-1200 // rg)
    cat = both(tmp_path, tmp_path / "p.parquet", 3)
    check_against(cat, ids, ra, dec)


def test_hats_import_small_sky_source(tmp_path, shared):
    fix = shared / "fixtures" / "hats-import"
    src = fix / "small_sky_source" / "small_sky_source.csv"
    out = tmp_path / "cat"
    imp(src, "--output", out, "--threads", 4, "--ra-column", "source_ra", "--dec-column", "source_dec",
        "--highest-order", 5, "--pixel-threshold", 3000, "--drop-empty-siblings", "false")
    want = {(int(f.parent.parent.name.split("=")[1]), int(f.stem.split("=")[1])): pq.read_metadata(f).num_rows
            for f in (fix / "small_sky_source_catalog" / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet")}
    assert partitions(out) == want
    assert len(want) == 14


def test_resume_one_record_per_file(tmp_path):
    # a corrupt file among split ones: the good ones get one map record each,
    # a resume maps only the fixed file
    d = tmp_path / "in"
    d.mkdir()
    allids, allra, alldec = [], [], []
    for k, name in enumerate(["a.csv", "c.csv"]):
        i, r, de = write_csv(d / name, 200, seed=10 + k, id0=1000 * k)
        allids.append(i), allra.append(r), alldec.append(de)
    (d / "b.csv").write_text("id,ra,dec,txt\n1,2,3\n")
    out = tmp_path / "cat"
    args = ["--output", out, "--threads", 3, "--highest-order", 6, "--pixel-threshold", 40]
    p = imp(d, *args, check=False)
    assert p.returncode != 0 and "b.csv" in p.stderr
    i, r, de = write_csv(d / "b.csv", 50, seed=20, id0=2000)
    allids.insert(1, i), allra.insert(1, r), alldec.insert(1, de)
    p = imp(d, *args, "--resume")
    first = next(l for l in p.stderr.splitlines() if l.startswith("Mapping: "))
    assert first == "Mapping: 2/3", p.stderr
    check_against(out, np.concatenate(allids), np.concatenate(allra), np.concatenate(alldec))


# ---- the CSV histogram made in the inference pass (map.c st_imp_pre_*) ----

MIDDLE_MIN = 4 << 20  # csv.c PAR_INFER_MIN: the two-half inference


def test_pre_int_and_double_files(tmp_path):
    # ra integers in a.csv (int64 there), doubles in b.csv: unified to double;
    # dec -0.0 in c.csv (the inference pass leaves that file to the map)
    d = tmp_path / "in"
    d.mkdir()
    ids1, ra1, dec1 = rows(300, seed=5)
    ra1 = np.floor(ra1)
    (d / "a.csv").write_text("id,ra,dec\n" + "".join(f"{i},{int(r)},{float(x)!r}\n"
                                                     for i, r, x in zip(ids1, ra1, dec1)))
    ids2, ra2, dec2 = write_csv(d / "b.csv", 300, seed=6, id0=1000)
    (d / "b.csv").write_text("\n".join(l.rsplit(",", 1)[0] for l in (d / "b.csv").read_text().splitlines()) + "\n")
    ids3, ra3, dec3 = rows(50, seed=7)
    ids3 = ids3 + 2000
    dec3[::5] = -0.0
    (d / "c.csv").write_text("id,ra,dec\n" + "".join(f"{i},{float(r)!r},{float(x)!r}\n"
                                                     for i, r, x in zip(ids3, ra3, dec3)))
    assert "-0.0" in (d / "c.csv").read_text()
    out = tmp_path / "cat"
    imp(d, "--output", out, "--threads", 2, "--highest-order", 6, "--pixel-threshold", 40)
    assert catalog(out).schema.field("ra").type == pa.float64()
    check_against(out, np.concatenate([ids1, ids2, ids3]), np.concatenate([ra1, ra2, ra3]),
                  np.concatenate([dec1, dec2, dec3]))


def test_pre_null_and_text_positions_fail_as_before(tmp_path):
    write_csv(tmp_path / "n.csv", 100)
    lines = (tmp_path / "n.csv").read_text().splitlines()
    lines[40] = "39,,1.0,s39"
    (tmp_path / "n.csv").write_text("\n".join(lines) + "\n")
    p = imp(tmp_path / "n.csv", "--output", tmp_path / "o", "--threads", 2, check=False)
    assert p.returncode != 0 and "column 'ra' is null" in p.stderr, p.stderr
    lines[40] = "39,abc,1.0,s39"
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    p = imp(tmp_path / "t.csv", "--output", tmp_path / "o2", "--threads", 2, check=False)
    assert p.returncode != 0 and "column 'ra' is large_string, not numeric" in p.stderr, p.stderr


def test_pre_quoted_field_across_the_middle(tmp_path):
    # >= 4 MiB: the inference runs in two halves; the middle is inside a quoted
    # field whose lines are valid positions: the second half's values must be
    # dropped (else rows would be counted twice and the run would fail)
    n1 = n2 = 15000
    ids, ra, dec = rows(n1 + n2 + 1, seed=8)
    inner = "\n".join(f"{k},{k % 300}.5,-20.0,zz" for k in range(MIDDLE_MIN // 18 + 50000))
    lines = ["id,ra,dec,txt"]
    for i in range(n1 + n2 + 1):
        lines.append(f"{i},{float(ra[i])!r},{float(dec[i])!r},{chr(34) + inner + chr(34) if i == n1 else 'p'}")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    size = (tmp_path / "m.csv").stat().st_size
    q0 = sum(len(l) + 1 for l in lines[:n1 + 1])
    assert size >= MIDDLE_MIN and q0 < size // 2 < q0 + len(inner), (q0, size)
    assert len(pd.read_csv(tmp_path / "m.csv")) == n1 + n2 + 1
    out = tmp_path / "cat"
    imp(tmp_path / "m.csv", "--output", out, "--threads", 2, "--highest-order", 5,
        "--pixel-threshold", 100000)
    check_against(out, ids, ra, dec)


def map_log_records(state):
    """(input index, total rows) of every valid record of the map logs."""
    return sorted((v[0], sum(v[5:4 + 2 * v[3]:2])) for v in map_log_payloads(state))


def test_parts_write_one_map_record_per_input(tmp_path):
    # two Parquet inputs of 20 row groups read in 3 parts each, then a corrupt
    # one: the run fails keeping its state; the logs hold exactly one record
    # per good input, with all its rows (pyarrow's row counts)
    d = tmp_path / "in"
    d.mkdir()
    sizes = [1200, 800]
    for k, n in enumerate(sizes):
        ids, ra, dec = rows(n, seed=30 + k)
        pq.write_table(pa.table({"id": ids + 10000 * k, "ra": ra, "dec": dec}), d / f"{k}.parquet",
                       row_group_size=n // 20)
        assert pq.ParquetFile(d / f"{k}.parquet").num_row_groups == 20
    (d / "9.parquet").write_bytes(b"PAR1" + b"\0" * 50 + b"PAR1")
    out = tmp_path / "cat"
    p = imp(d, "--output", out, "--threads", 3, "--highest-order", 6, "--pixel-threshold", 40, check=False)
    assert p.returncode == 1 and "9.parquet" in p.stderr, p.stderr
    assert map_log_records(tmp_path / "cat.skytile-state") == [(0, 1200), (1, 800)]
