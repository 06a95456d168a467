"""A write either raises and nothing moved, or returns and its move is in:
failures while moving a ref, and what the exceptions say."""

from __future__ import annotations

import errno
import os

import pytest

from gitstore import GitStore

from support import Git, assert_fsck_clean


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


# ---------------------------------------------------------------------------
# Small defects: messages, names, report cost, corrupt packs
# ---------------------------------------------------------------------------

def test_write_entry_with_bad_data_names_the_entry(store):
    from gitstore import WriteEntry

    fs = store.branches["main"]
    with pytest.raises(TypeError, match=r"WriteEntry data for 'a' must be bytes, str, "
                                        r"pathlib.Path or BlobOid, not int"):
        fs.apply({"a": WriteEntry(data=42)})
    with pytest.raises(TypeError, match="Expected WriteEntry, bytes, str, or Path for 'b'"):
        fs.apply({"b": 42})
    assert store.branches["main"].commit_hash == fs.commit_hash


NON_UTF8 = "caf\udce9"   # b"caf\xe9" as os.fsdecode gives it


def test_non_utf8_names_in_apply_and_batch(store, tmp_path):
    repo = tmp_path / "r.git"
    fs = store.branches["main"].apply({NON_UTF8: b"1", f"d/{NON_UTF8}": b"2"})
    assert sorted(fs.ls()) == sorted([NON_UTF8, "d"])
    assert fs.read(NON_UTF8) == b"1"
    with fs.batch() as b:
        b.write(f"e/{NON_UTF8}", b"3")
        b.remove(NON_UTF8)
    fs = b.fs
    assert fs.read(f"e/{NON_UTF8}") == b"3"
    assert not fs.exists(NON_UTF8)
    names = Git(repo).raw("ls-tree", "-r", "-z", "--name-only", "main").split(b"\0")
    assert b"e/caf\xe9" in names and b"d/caf\xe9" in names


def test_removal_report_is_linear(store):
    """The deletes of a change report are sorted with their modes.  Each
    deleted path used to be looked up in the whole list, so removing twenty
    times the files took four hundred times as long; measured as a ratio,
    so that a loaded machine does not make it fail."""
    import time

    def removal_time(count):
        fs = store.branches["main"].apply({f"d{count}/f{i:06}.txt": b"x" for i in range(count)})
        start = time.perf_counter()
        out = fs.remove(f"d{count}", recursive=True)
        took = time.perf_counter() - start
        assert [e.path for e in out.changes.delete] == [f"d{count}/f{i:06}.txt"
                                                         for i in range(count)]
        return took

    small = min(removal_time(6000) for _ in range(2))
    large = removal_time(120000)
    assert large < 100 * small, (small, large)


def test_pack_over_an_empty_pack_file(store, tmp_path):
    from gitstore import GitError

    fs = store.branches["main"]
    for i in range(3):
        fs = fs.write(f"f{i}", b"x")
    pack = tmp_path / "r.git" / "objects" / "pack" / ("pack-" + "0" * 40 + ".pack")
    pack.write_bytes(b"")
    pack.with_suffix(".idx").write_bytes(b"")
    with pytest.raises(GitError, match=r"pack-0{40}\.pack: not a pack file \(0 bytes\)"):
        store.pack()
