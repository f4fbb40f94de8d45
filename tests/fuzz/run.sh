#!/bin/sh
# Build and run skytile's libFuzzer targets for a short while (`make fuzz`).
#
#   fuzz_codec    st_codec_decompress / st_codec_compress (codec = first byte)
#   fuzz_parquet  st_pq_open_memory + st_pq_read of everything
#
# Run from the repository root.  Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_BUILD    build/work directory (default build-fuzz)
#   FUZZ_TARGETS  targets to run (default "fuzz_codec fuzz_parquet")
#   FUZZ_CC       compiler (default clang, else clang-14)
#   SKYTILE_SHARED  fixtures root (default ../shared)
#
# Sources are compiled through the project Makefile into $FUZZ_BUILD/obj
# (clang, SAN=1, plus -fsanitize=fuzzer-no-link); a target links only what
# it needs (fuzz_codec: src/util + src/parquet/codec.c; fuzz_parquet: all of
# src/), so fuzz_codec still runs while other modules are unfinished.
# Corpora live in $FUZZ_BUILD/corpus/<target> (seeded from the
# parquet-testing fixtures and from gzip/zstd/lz4 CLI output); crashing
# inputs are written to tests/fuzz/crashes/<target>-crash-<sha1> for
# promotion to regression tests.  Exit status: 0 if every target built and
# ran clean, 1 if a target found a crash, 2 if a target failed to build.
set -u
cd "$(dirname "$0")/../.." || exit 2

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_TARGETS=${FUZZ_TARGETS:-"fuzz_codec fuzz_parquet"}
SHARED=${SKYTILE_SHARED:-../shared}
CRASHES=tests/fuzz/crashes

CC=${FUZZ_CC:-}
if [ -z "$CC" ]; then
  for c in clang clang-14; do
    if command -v "$c" >/dev/null 2>&1; then CC=$c; break; fi
  done
fi
if [ -z "$CC" ]; then
  echo "fuzz: clang not found (run 'make deps')" >&2
  exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
LIBS="-lcairo -lcfitsio -lzstd -lsnappy -llz4 -lz -lbrotlidec -lbrotlienc -lm -lpthread"
mkdir -p "$FUZZ_BUILD" "$CRASHES"

# build TARGET SOURCES... -> $FUZZ_BUILD/TARGET.  Objects come from the
# project Makefile (SAN=1, incremental, -j2) with fuzzer instrumentation;
# clang-only warnings in other modules do not stop the build (-Wno-error).
build() {
  t=$1
  shift
  objs=""
  for s in "$@" "tests/fuzz/$t.c"; do objs="$objs $FUZZ_BUILD/obj/${s%.c}.o"; done
  # shellcheck disable=SC2086
  if ! make -k -j2 --no-print-directory BUILD="$FUZZ_BUILD" CC="$CC" SAN=1 OPT=-O1 \
       CFLAGS="-fsanitize=fuzzer-no-link -Wno-error" $objs >"$FUZZ_BUILD/$t.build.log" 2>&1; then
    echo "fuzz: cannot compile the sources of $t:" >&2
    grep -E 'error:|\*\*\*' "$FUZZ_BUILD/$t.build.log" | head -20 >&2
    return 1
  fi
  # shellcheck disable=SC2086
  $CC $SAN -fsanitize=fuzzer -o "$FUZZ_BUILD/$t" $objs $LIBS 2>"$FUZZ_BUILD/$t.link.log" || {
    echo "fuzz: cannot link $t:" >&2
    head -20 "$FUZZ_BUILD/$t.link.log" >&2
    return 1
  }
}

# seed_codec DIR: codec-target seeds [codec][le16 size][stream] from system tools.
seed_codec() {
  d=$1
  payload=$FUZZ_BUILD/payload.txt
  head -c 3000 Makefile >"$payload"
  n=$(wc -c <"$payload")
  hdr() { printf "$(printf '\\%03o\\%03o\\%03o' "$1" $((n % 256)) $((n / 256)))"; }
  { hdr 0; cat "$payload"; } >"$d/seed-uncompressed"
  if command -v gzip >/dev/null; then { hdr 2; gzip -c "$payload"; gzip -c "$payload"; } >"$d/seed-gzip"; fi
  if command -v zstd >/dev/null; then { hdr 6; zstd -q -c "$payload"; } >"$d/seed-zstd"; fi
  if command -v lz4 >/dev/null; then { hdr 5; lz4 -q -c "$payload"; } >"$d/seed-lz4frame"; fi
  # Small hand-made streams: empty input, tiny sizes.
  printf '\001\000\000' >"$d/seed-empty-snappy"
  printf '\007\001\000\020a' >"$d/seed-lz4raw-1"
}

# seed_parquet DIR: fixture files up to 256 KiB (libFuzzer's -max_len covers them).
seed_parquet() {
  d=$1
  for f in "$SHARED"/fixtures/parquet-testing/data/*.parquet \
           "$SHARED"/fixtures/parquet-testing/data/*.parquet.encrypted \
           "$SHARED"/fixtures/parquet-testing/bad_data/*.parquet; do
    [ -f "$f" ] || continue
    [ "$(wc -c <"$f")" -le 262144 ] || continue
    cp "$f" "$d/"
  done
  if [ -z "$(ls "$d")" ]; then
    echo "fuzz: no Parquet fixtures under $SHARED/fixtures/parquet-testing (seeding with magic only)" >&2
    printf 'PAR1\000\000\000\000PAR1' >"$d/seed-min"
  fi
}

UTIL_SRC=$(find src/util -name '*.c' | sort)
ALL_SRC=$(find src -name '*.c' | sort)
status=0
for t in $FUZZ_TARGETS; do
  case $t in
    fuzz_codec) srcs="$UTIL_SRC src/parquet/codec.c"; maxlen=8192 ;;
    fuzz_parquet) srcs=$ALL_SRC; maxlen=262144 ;;
    *) echo "fuzz: unknown target $t" >&2; status=2; continue ;;
  esac
  echo "== $t: building with $CC"
  # shellcheck disable=SC2086
  if ! build "$t" $srcs; then
    if [ "$t" = fuzz_parquet ]; then
      echo "== fuzz_parquet: BUILD FAILED (is the Parquet reader implemented yet?); skipped" >&2
    else
      echo "== $t: BUILD FAILED; skipped" >&2
    fi
    status=2
    continue
  fi
  corpus=$FUZZ_BUILD/corpus/$t
  mkdir -p "$corpus"
  if [ -z "$(ls "$corpus")" ]; then
    case $t in
      fuzz_codec) seed_codec "$corpus" ;;
      fuzz_parquet) seed_parquet "$corpus" ;;
    esac
  fi
  echo "== $t: fuzzing for $FUZZ_SECONDS s (corpus $corpus, crashes -> $CRASHES/)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$FUZZ_BUILD/$t" -max_total_time="$FUZZ_SECONDS" -max_len=$maxlen -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$CRASHES/$t-" "$corpus" \
    >"$FUZZ_BUILD/$t.log" 2>&1
  rc=$?
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' "$FUZZ_BUILD/$t.log"
  if [ $rc -ne 0 ]; then
    echo "== $t: FOUND A PROBLEM (exit $rc); see $FUZZ_BUILD/$t.log and $CRASHES/" >&2
    grep -E 'ERROR:|runtime error:|SUMMARY:|Test unit written' "$FUZZ_BUILD/$t.log" | head -10 >&2
    [ $status = 0 ] && status=1
  else
    echo "== $t: no crash"
  fi
done
exit $status
