#!/usr/bin/env bash
# Set everything up (see bootstrap.sh), then run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k glob`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Bytecode caching stays on for the tests (some environments turn it off):
# pytest keeps the rewritten test modules there, and without it rewrites
# all of them on every run, some five seconds.
exec env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest -q "$@"
