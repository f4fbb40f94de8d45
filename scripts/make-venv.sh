#!/bin/sh
# Create the project-local virtualenv of test/benchmark peers (pinned versions).
set -e
VENV=$1
REQ=$2
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
