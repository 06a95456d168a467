#!/usr/bin/env bash
# Set everything up (see bootstrap.sh), then run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k glob`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest -q "$@"
