#!/bin/sh
# The skytile demo: runs on the built-in sample (examples/), no network, no ../shared.
# Until the import pipeline lands, the demo shows the Parquet codec and HEALPix:
#   CSV -> Parquet (zstd) -> metadata -> read back -> HEALPix indices of the rows.
set -e
BUILD=${1:-build}
ST="$BUILD/skytile"
OUT=demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
echo "== skytile $($ST --version | cut -d' ' -f2): demo on examples/sample_stars.csv"
echo
echo "== 1. CSV -> Parquet (types inferred, zstd)"
$ST parquet convert examples/sample_stars.csv "$OUT/sample_stars.parquet" --compression zstd:15
echo "wrote $OUT/sample_stars.parquet"
echo
echo "== 2. schema"
$ST parquet schema "$OUT/sample_stars.parquet"
echo
echo "== 3. metadata (row groups, codecs, statistics)"
$ST parquet meta "$OUT/sample_stars.parquet" | head -40
echo
echo "== 4. first rows, read back with skytile's own Parquet reader"
$ST parquet cat "$OUT/sample_stars.parquet" --columns source_id,ra,dec,mag_g --limit 5
echo
echo "== 5. HEALPix order-29 nested index (HATS _healpix_29) of those rows"
$ST parquet cat "$OUT/sample_stars.parquet" --columns ra,dec --limit 5 \
  | tail -n +2 | tr ',' ' ' | $ST healpix ang2pix --order 29
echo
echo "== 6. order-3 pixels a 2-degree cone around M31 may touch"
$ST healpix cone --order 3 10.6847 41.2687 2.0 | tr '\n' ' '
echo
echo
echo "demo outputs are in $OUT/"
