"""The type stubs agree with the built module (mypy's stubtest), and the
compatibility modules type as the objects they re-export."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / "tests" / "stubtest-allowlist.txt"

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed"),
    # Type checking is no business of the sanitizer pass (make asan).
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                       reason="not under the sanitizer build"),
]


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_stubtest():
    result = run(["mypy.stubtest", "gitstore", "--allowlist", str(ALLOWLIST)], ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_allowlist_entries_give_their_reason():
    lines = ALLOWLIST.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            above = lines[:index]
            while above and not above[-1].startswith("#") and above[-1].strip():
                above.pop()     # entries sharing one reason
            assert above and above[-1].startswith("#"), f"no reason given for {line}"


def test_compatibility_modules_type_as_what_they_re_export(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from gitstore.fs import FS\n"
        "from gitstore.repo import GitStore, RefDict\n"
        "from gitstore.exceptions import GitError, StaleSnapshotError\n"
        "from gitstore._exclude import ExcludeFilter\n"
        "from gitstore.tree import BlobOid\n"
        "from gitstore.copy._types import ChangeReport\n"
        "import gitstore\n"
        "for obj in (FS, GitStore, RefDict, GitError, StaleSnapshotError, ExcludeFilter,\n"
        "            BlobOid, ChangeReport, gitstore.disk_glob, gitstore.retry_write):\n"
        "    reveal_type(obj)\n"
        "reveal_type(FS.read)\n")
    (tmp_path / "none.ini").write_text("[mypy]\n")
    result = run(["mypy", "--config-file", str(tmp_path / "none.ini"),
                  "--cache-dir", str(tmp_path / "cache"), str(probe)], ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    revealed = re.findall(r'Revealed type is "(.*)"', result.stdout)
    assert len(revealed) == 2, result.stdout
    assert "Any" not in result.stdout, result.stdout
    for name in ("gitstore._core.FS", "gitstore._core.GitStore", "gitstore._core.RefDict",
                 "gitstore._core.ExcludeFilter", "gitstore._core.StaleSnapshotError",
                 "gitstore._types.BlobOid", "gitstore._types.ChangeReport"):
        assert name in revealed[0], revealed[0]
