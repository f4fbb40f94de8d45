#!/bin/sh
# The skytile demo: runs on the built-in sample (examples/), no network, no ../shared.
#   CSV -> HATS catalog (skytile import) -> info -> verify -> cone search with pruning
#   -> a leaf file's Parquet metadata -> HEALPix tools.
set -e
BUILD=${1:-build}
ST="$BUILD/skytile"
OUT=demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
echo "== skytile $($ST --version | cut -d' ' -f2): demo on examples/sample_stars.csv (500 stars)"
echo
echo "== 1. import: CSV -> HATS catalog (adaptive HEALPix partitions of <= 100 rows)"
$ST import examples/sample_stars.csv --output "$OUT/sample_stars" --pixel-threshold 100 \
  --highest-order 6 2>&1 | tail -n 1
echo
echo "== 2. info"
$ST info "$OUT/sample_stars"
echo
echo "== 3. verify (the checks of hats-import's verifier)"
$ST verify "$OUT/sample_stars"
echo
echo "== 4. cone search: 1 degree around M31, with pruning statistics"
$ST cone "$OUT/sample_stars" 10.6847 41.2687 3600 --columns source_id,ra,dec,mag_g \
  --where "mag_g < 19" --limit 8 --explain
echo
echo "== 5. a leaf file, read by skytile's own Parquet codec"
LEAF=$(find "$OUT/sample_stars/dataset" -name 'Npix=*.parquet' | sort | head -n 1)
$ST parquet meta "$LEAF" | head -n 20
echo
echo "== 6. HEALPix: order-29 index of M31, and the order-3 pixels a 2-degree cone may touch"
echo "10.6847 41.2687" | $ST healpix ang2pix --order 29
$ST healpix cone --order 3 10.6847 41.2687 2.0 | tr '\n' ' '
echo
echo
echo "demo outputs are in $OUT/ (the catalog opens with hats/LSDB: lsdb.open_catalog('$OUT/sample_stars'))"
