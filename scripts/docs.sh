#!/usr/bin/env bash
# Set everything up (see bootstrap.sh; it installs docs/requirements.txt and
# builds the extension, whose docstrings the API page shows), then build the
# documentation into site/.  Extra arguments go to `mkdocs build`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
NO_MKDOCS_2_WARNING=1 exec .venv/bin/python -m mkdocs build --strict "$@"
