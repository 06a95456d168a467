"""A write either raises and nothing moved, or returns and its move is in:
failures while moving a ref, and what the exceptions say."""

from __future__ import annotations

import errno
import os

import pytest

from gitstore import GitStore

from conftest import Git, assert_fsck_clean


def _block_reflog(repo, ref="refs/heads/main"):
    """Make the reflog unwritable even for root: a directory in its place."""
    log = repo / "logs" / ref
    if log.exists():
        log.unlink()
    log.mkdir(parents=True)
    return log


@pytest.fixture
def store(tmp_path):
    return GitStore.open(tmp_path / "r.git")


def test_reflog_failure_leaves_the_branch_where_it_was(store, tmp_path):
    repo = tmp_path / "r.git"
    fs = store.branches["main"].write("a.txt", b"a")
    tip = fs.commit_hash
    log = _block_reflog(repo)
    with pytest.raises(IsADirectoryError) as info:
        fs.write("b.txt", b"b")
    assert info.value.errno == errno.EISDIR
    assert info.value.filename == str(log)
    assert "reflog" in str(info.value)
    assert store.branches["main"].commit_hash == tip
    assert not store.branches["main"].exists("b.txt")
    assert Git(repo).rev("refs/heads/main") == tip
    assert not (repo / "refs" / "heads" / "main.lock").exists()
    # Once the log can be written again, the same snapshot writes.
    log.rmdir()
    fs2 = fs.write("b.txt", b"b")
    assert store.branches["main"].commit_hash == fs2.commit_hash
    assert_fsck_clean(repo)


@pytest.mark.parametrize("call", [
    lambda fs: fs.write("b.txt", b"b"),
    lambda fs: fs.apply({"b.txt": b"b"}),
    lambda fs: fs.remove("a.txt"),
    lambda fs: fs.move("a.txt", "c.txt"),
])
def test_every_write_is_all_or_nothing(store, tmp_path, call):
    repo = tmp_path / "r.git"
    fs = store.branches["main"].write("a.txt", b"a")
    _block_reflog(repo)
    with pytest.raises(OSError):
        call(fs)
    assert store.branches["main"].commit_hash == fs.commit_hash


def test_batch_reflog_failure(store, tmp_path):
    repo = tmp_path / "r.git"
    fs = store.branches["main"].write("a.txt", b"a")
    _block_reflog(repo)
    with pytest.raises(OSError):
        with fs.batch() as b:
            b.write("b.txt", b"b")
    assert store.branches["main"].commit_hash == fs.commit_hash


def test_branch_creation_with_unwritable_reflog(store, tmp_path):
    repo = tmp_path / "r.git"
    fs = store.branches["main"].write("a.txt", b"a")
    _block_reflog(repo, "refs/heads/topic")
    with pytest.raises(OSError):
        store.branches["topic"] = fs
    assert "topic" not in store.branches
    assert not (repo / "refs" / "heads" / "topic").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_reflog_as_a_user(store, tmp_path):
    repo = tmp_path / "r.git"
    fs = store.branches["main"].write("a.txt", b"a")
    log = repo / "logs" / "refs" / "heads" / "main"
    log.chmod(0o444)
    with pytest.raises(PermissionError) as info:
        fs.write("b.txt", b"b")
    assert info.value.filename == str(log)
    assert store.branches["main"].commit_hash == fs.commit_hash


def test_reflog_keeps_one_entry_per_move(store, tmp_path):
    repo = tmp_path / "r.git"
    fs = store.branches["main"]
    for i in range(5):
        fs = fs.write("f.txt", b"%d" % i)
    log = _block_reflog(repo)
    with pytest.raises(OSError):
        fs.write("g.txt", b"g")
    log.rmdir()
    fs.write("g.txt", b"g")
    entries = store.branches.reflog("main")
    assert len(entries) == 1   # the old log was replaced by the directory
    assert entries[-1].new_sha == store.branches["main"].commit_hash
    assert entries[-1].old_sha == fs.commit_hash
