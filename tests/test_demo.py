"""The README's main command runs the demo: it must keep working."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


# The demo runs git, which the ASan pass's preloaded runtime would make
# report git's own leaks; the plain run covers it.
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="runs git under the preloaded sanitizer")
def test_demo_runs_and_git_agrees():
    out = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "`git notes show v1` says: reviewed" in out.stdout
    assert "archive_in committed 'Batch ar: +5'" in out.stdout
