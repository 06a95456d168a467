#!/usr/bin/env bash
# Prepare a fresh Debian machine for gitstore: system packages, a
# virtualenv in .venv, and gitstore built and installed into it (editable).
# Safe to run again, and quick when nothing changed: it installs only what
# is missing and rebuilds the extension only when a C source, a header or
# a build file changed since the last build.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
packages=(libgit2-dev libarchive-dev zlib1g-dev libdeflate-dev pkg-config gcc make git)
# the servers the transport tests start on 127.0.0.1
packages+=(lighttpd lighttpd-mod-openssl openssh-server openssh-client)
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
    # Packaged services (sshd on port 22, lighttpd on port 80) are not
    # started: the tests run their own, and a start that fails (a port in
    # use, no init system) would fail the whole install.  policy-rc.d is
    # how Debian's maintainer scripts are told so.
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
        made_policy=1
        trap "$sudo rm -f $policy" EXIT
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ "$made_policy" ]; then
        $sudo rm -f "$policy"
        trap - EXIT
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# Fingerprints of what each step depends on; a step whose fingerprint is
# the one recorded after its last success is skipped.
fingerprint() {
    cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1
}
deps_stamp=.venv/.gitstore-deps
build_stamp=.venv/.gitstore-build
deps_now=$(fingerprint scripts/bootstrap.sh pyproject.toml docs/requirements.txt)
build_now=$(fingerprint setup.py pyproject.toml $(find csrc -name '*.[ch]' | LC_ALL=C sort))

if [ "$(cat "$deps_stamp" 2>/dev/null)" != "$deps_now" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check 'setuptools>=77' wheel pytest vost
    # The docs build and stubtest, both run by the test suite.
    .venv/bin/python -m pip install -q --disable-pip-version-check mypy==2.4.1 -r docs/requirements.txt
    rm -f "$build_stamp"
    echo "$deps_now" > "$deps_stamp"
fi
if [ "$(cat "$build_stamp" 2>/dev/null)" != "$build_now" ] ||
   ! ls gitstore/_core.*.so >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e .
    echo "$build_now" > "$build_stamp"
fi
