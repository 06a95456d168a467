"""Creating a store is all or nothing: a crash part-way leaves nothing that
cannot be opened, and processes racing to create one store all end up
using the one that won."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gitstore import GitError, GitStore

from support import Git, assert_fsck_clean

CREATE = textwrap.dedent("""
    import sys
    from gitstore import GitError, GitStore
    print("ready", flush=True)
    sys.stdin.readline()
    store = GitStore.open(sys.argv[1], branch="main")
    print(store.branches["main"].commit_hash, flush=True)
""")


def _spawn(path):
    proc = subprocess.Popen([sys.executable, "-c", CREATE, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("delay_ms", [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20])
def test_killed_while_creating(tmp_path, delay_ms):
    path = tmp_path / "r.git"
    proc = _spawn(path)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(delay_ms / 1000)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Whatever the moment, the path is either absent or a whole store.
    store = GitStore.open(path, branch="main")
    fs = store.branches["main"]
    assert fs.message == "Initialize main"
    fs.write("a.txt", b"a")
    assert_fsck_clean(path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["r.git"]


def test_racing_creators_share_one_store(tmp_path):
    path = tmp_path / "r.git"
    procs = [_spawn(path) for _ in range(4)]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    tips = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        tips.append(out.strip())
    assert len(set(tips)) == 1
    assert Git(path).rev("refs/heads/main") == tips[0]
    assert_fsck_clean(path)
    # Nothing left beside it.
    assert [p.name for p in tmp_path.iterdir()] == ["r.git"]


def test_create_leaves_no_sibling(tmp_path):
    GitStore.open(tmp_path / "r.git")
    GitStore.open(str(tmp_path / "s.git") + "/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.git", "s.git"]


def test_create_into_an_empty_directory(tmp_path):
    path = tmp_path / "r.git"
    path.mkdir()
    # An existing directory is opened, not created into.
    with pytest.raises(GitError, match="No git repository was found"):
        GitStore.open(path)
    assert list(path.iterdir()) == []


def test_created_store_has_a_reflog_config(tmp_path):
    path = tmp_path / "r.git"
    store = GitStore.open(path)
    fs = store.branches["main"].write("a.txt", b"a")
    assert Git(path)("config", "core.logallrefupdates") == "true"
    assert store.branches.reflog("main")[-1].new_sha == fs.commit_hash
    assert (path / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert oct(path.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
