"""The wheel scripts/wheel.sh makes works where libgit2 is not installed:
it is installed into a fresh virtualenv and used with the system's
libgit2 hidden (a private mount namespace binds /dev/null over it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USE = textwrap.dedent("""
    import os, sys, tempfile
    import gitstore
    assert "site-packages" in gitstore.__file__, gitstore.__file__
    d = tempfile.mkdtemp()
    store = gitstore.GitStore.open(os.path.join(d, "w.git"))
    fs = store.branches["main"].write("a.txt", b"from the wheel")
    assert store.branches["main"].read("a.txt") == b"from the wheel"
    print("ok")
""")


def _system_libgit2() -> str:
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "libgit2"], check=True,
                            capture_output=True, text=True).stdout.strip()
    found = sorted(Path(libdir).glob("libgit2.so.*"))
    assert found, f"no libgit2.so.* in {libdir}"
    return str(found[0].resolve())


def _hidden(lib: str, python: str, code: str, cwd) -> subprocess.CompletedProcess:
    script = f'mount --bind /dev/null "{lib}" && exec "{python}" -c "$0"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, code], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0, reason="a private mount namespace needs root")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="the sanitizer run tests the extension, not the packaging")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare(1) is not installed")
def test_wheel_runs_without_system_libgit2(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "wheel.sh"), str(tmp_path / "dist")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list((tmp_path / "dist").glob("*.whl"))
    assert len(wheels) == 1
    assert "manylinux" in wheels[0].name
    assert "tag: manylinux" in proc.stdout

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    str(wheels[0])], check=True, capture_output=True)
    lib = _system_libgit2()

    # The check is real: the build in the source tree, linked to the
    # system's libgit2, cannot load with it hidden.
    broken = _hidden(lib, sys.executable, "import gitstore._core", ROOT)
    assert broken.returncode != 0 and "libgit2" in broken.stderr, broken.stderr[-2000:]

    used = _hidden(lib, python, USE, tmp_path)
    assert used.returncode == 0, used.stderr[-3000:]
    assert used.stdout.strip() == "ok"
