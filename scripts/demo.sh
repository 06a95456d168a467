#!/usr/bin/env bash
# Set everything up (see bootstrap.sh), then run the demo in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python examples/demo.py "$@"
