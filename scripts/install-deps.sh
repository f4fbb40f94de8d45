#!/bin/sh
# Install skytile's Debian packages (idempotent; as root or via sudo).
# Product: compression codecs (+cfitsio, cairo later).  Tests: python3-venv,
# clang for the fuzzers, valgrind.
set -e
PKGS="gcc make pkg-config libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libbrotli-dev libcfitsio-dev libcairo2-dev
      python3 python3-venv python3-pip clang libclang-rt-14-dev valgrind"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing
