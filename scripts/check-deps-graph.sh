#!/bin/sh
# Enforce the module dependency graph (docs/ARCHITECTURE.md):
#   util <- io <- table <- parquet ; util <- healpix ; cli uses include/ only.
# A module may include headers of itself and of the modules listed for it.
set -e
cd "$(dirname "$0")/.."
allowed() {
  case $1 in
    util) echo "util" ;;
    io) echo "util io" ;;
    table) echo "util io table" ;;
    parquet) echo "util io table parquet" ;;
    healpix) echo "util healpix" ;;
    hats) echo "util io table parquet healpix hats" ;;
    readers) echo "util io table parquet healpix hats readers" ;;
    query) echo "util io table parquet healpix hats readers query" ;;
    import) echo "util io table parquet healpix hats readers import" ;;
    xmatch) echo "util io table parquet healpix hats readers query plot xmatch" ;;
    plot) echo "util io table plot" ;;
    gen) echo "util io table parquet healpix gen" ;;
    *) echo "" ;;
  esac
}
bad=0
for dir in src/*/; do
  mod=$(basename "$dir")
  ok=$(allowed "$mod")
  for f in $(find "$dir" -name '*.[ch]'); do
    for inc in $(sed -n 's/^#include "\([a-z_]*\)\/.*/\1/p' "$f"); do
      case " $ok skytile " in
        *" $inc "*) ;;
        *) echo "dependency violation: $f includes $inc/ (module $mod may use: $ok)"; bad=1 ;;
      esac
    done
  done
done
for f in cli/*.c cli/*.h; do
  [ -e "$f" ] || continue
  if grep -qE '^#include "(util|io|table|parquet|healpix|hats|readers|import|query|xmatch|plot|gen)/' "$f"; then
    echo "dependency violation: $f includes a private header (the CLI uses include/ only)"; bad=1
  fi
done
exit $bad
