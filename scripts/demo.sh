#!/bin/sh
# The skytile demo (`make demo`): no network, no ../shared, under a minute on 2 cores.
#   synthetic multi-epoch survey (skytile generate) -> HATS catalog of its detections
#   (skytile import) -> info -> verify -> cone search -> light curves of a target list,
#   with one PNG per target (skytile lightcurves) -> one more plot (skytile plot).
set -e
BUILD=${1:-build}
ST="$BUILD/skytile"
OUT=demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
echo "== skytile $($ST --version | cut -d' ' -f2) demo"
echo
echo "== 1. generate: 20000 objects, 40 visits over 4 years (8 seasons), 5% sinusoidal variables"
$ST generate --output "$OUT/survey" --objects 20000 --epochs 40 --years 4 \
  --variable-fraction 0.05 --targets 12 --rows-per-file 200000 --seed 42
echo
echo "== 2. import: the detections -> a HATS catalog (adaptive HEALPix partitions)"
$ST import "$OUT/survey/detections" --output "$OUT/detections" --catalog-type source \
  --ra-column ra --dec-column dec --pixel-threshold 60000 --highest-order 7 \
  --compression zstd:3 2>&1 | tail -n 1
echo
echo "== 3. info"
$ST info "$OUT/detections"
echo
echo "== 4. verify"
$ST verify "$OUT/detections"
echo
echo "== 5. cone search: 2 arcsec around the first target (all its detections)"
TARGET=$(sed -n 2p "$OUT/survey/targets.csv")
TID=${TARGET%%,*}
TRA=$(echo "$TARGET" | cut -d, -f2)
TDEC=$(echo "$TARGET" | cut -d, -f3)
echo "target $TID at ra=$TRA dec=$TDEC"
$ST cone "$OUT/detections" "$TRA" "$TDEC" 2 --columns source_id,object_id,mjd,band,mag \
  --limit 5 --explain
echo
echo "== 6. light curves of the $(($(wc -l < "$OUT/survey/targets.csv") - 1)) targets" \
  "(variables first), one PNG each"
$ST lightcurves --catalog "$OUT/detections" --targets "$OUT/survey/targets.csv" \
  --radius-arcsec 1 --time-column mjd --id-column id --band-column band \
  --plot-y flux --plot-err flux_err --plot "$OUT/plots" --output "$OUT/lightcurves.parquet"
echo
echo "== 7. plot: target $TID's magnitudes from the light-curve table (inverted y axis)"
$ST plot "$OUT/lightcurves.parquet" --id "$TID" --time-column mjd --y mag --err mag_err \
  --band-column band --magnitude --title "target $TID (mag)" --output "$OUT/target_${TID}_mag.png"
echo
echo "demo outputs are in $OUT/:"
echo "  survey        $OUT/survey/ (objects.parquet, detections/, targets.csv)"
echo "  HATS catalog  $OUT/detections (opens with hats/LSDB: lsdb.open_catalog('$OUT/detections'))"
echo "  light curves  $OUT/lightcurves.parquet"
echo "  plots         $OUT/plots/*.png, $OUT/target_${TID}_mag.png"
