#!/usr/bin/env bash
# Prepare a fresh Debian machine for gitstore: system packages, a
# virtualenv in .venv, and gitstore built and installed into it (editable).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
packages=(libgit2-dev libarchive-dev zlib1g-dev pkg-config gcc make git)
if ! "$PYTHON" -c 'import ensurepip, sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    packages+=(python3-venv python3-dev)
fi
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check setuptools wheel pytest vost
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e .
# The docs build and stubtest, both run by the test suite.
.venv/bin/python -m pip install -q --disable-pip-version-check mypy==2.4.1 -r docs/requirements.txt
