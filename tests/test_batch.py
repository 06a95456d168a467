"""Batch and the buffered writers: FS.writer and
Batch.writer.

Starting repositories are built by git; results are read back with git.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from gitstore import (
    FS, Batch, BlobOid, FileEntry, FileType, GitStore, StaleSnapshotError,
)

from support import (
    Commit, Exe, Git, Link, assert_fsck_clean, build_repo, pack_names, pack_object_ids,
    reflog_lines,
)

BLOB, EXE, LINK, TREE = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK, FileType.TREE

BASE_FILES = {
    "a.txt": b"hello\n",
    "b.txt": b"bee\n",
    "run.sh": Exe(b"#!/bin/sh\n"),
    "link": Link("a.txt"),
    "dir/x.txt": b"x\n",
    "dir/sub/deep.txt": b"deep\n",
}

CLOSED = "Batch is closed"


class Env:
    def __init__(self, path, shas):
        self.path = path
        self.shas = shas
        self.g = Git(path)
        self.store = GitStore.open(path, create=False)

    @property
    def fs(self) -> FS:
        return self.store.branches["main"]

    def tip(self) -> str:
        return self.g.rev("refs/heads/main")

    def read(self, path: str, rev: str = "main") -> bytes:
        return self.g.raw("cat-file", "blob", f"{rev}:{path}")

    def mode(self, path: str, rev: str = "main"):
        entry = self.g.entry(self.g.rev(rev), path)
        return None if entry is None else entry[1]

    def commits_since_base(self) -> list[str]:
        return self.g.lines("rev-list", f"{self.shas['base']}..main")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "b.git"
    shas = build_repo(path, [Commit(BASE_FILES, message="base\n", label="base")],
                      lightweight={"v1": "base"})
    return path, shas


@pytest.fixture
def env(template, tmp_path):
    path = tmp_path / "b.git"
    shutil.copytree(template[0], path, symlinks=True)
    e = Env(path, dict(template[1]))
    yield e
    assert_fsck_clean(path)


# ---------------------------------------------------------------------------
# Batch: one commit
# ---------------------------------------------------------------------------

class TestBatchCommit:
    def test_multiple_writes_single_commit(self, env):
        fs = env.fs
        with fs.batch() as b:
            assert isinstance(b, Batch)
            assert b.fs is None
            assert b.closed is False
            b.write("one.txt", b"1")
            b.write_text("two.txt", "2")
            b.write("deep/three.txt", b"3")
            b.remove("b.txt")
        assert b.closed is True
        new = b.fs
        assert isinstance(new, FS)
        assert new.commit_hash == env.tip()
        assert env.commits_since_base() == [new.commit_hash]
        assert env.g.rev("main^") == fs.commit_hash
        assert env.read("one.txt") == b"1"
        assert env.read("two.txt") == b"2"
        assert env.read("deep/three.txt") == b"3"
        assert env.mode("b.txt") is None
        assert new.message == "Batch: +3 -1"
        assert env.g("log", "-1", "--format=%B", "main") == "Batch: +3 -1"
        assert new.changes.add == [FileEntry("one.txt", BLOB), FileEntry("two.txt", BLOB),
                                   FileEntry("deep/three.txt", BLOB)]
        assert new.changes.delete == [FileEntry("b.txt", BLOB)]
        assert new.ref_name == "main" and new.writable
        assert reflog_lines(env.path)[-1].endswith("\tcommit: Batch: +3 -1")
        # the base snapshot is untouched
        assert fs.read("b.txt") == b"bee\n"

    def test_one_pack_for_the_batch(self, env):
        packs = pack_names(env.path)
        with env.fs.batch() as b:
            for i in range(10):
                b.write(f"many/{i}", b"content %d" % i)
        added = pack_names(env.path) - packs
        assert len(added) == 1
        ids = pack_object_ids(env.path, added.pop())
        c = b.fs.commit_hash
        assert c in ids
        assert env.g.rev(f"{c}:many") in ids
        for i in range(10):
            assert env.g.rev(f"{c}:many/{i}") in ids

    def test_custom_message_positional(self, env):
        with env.fs.batch("Batch 1") as b:
            b.write("x", b"1")
            b.write("y", b"2")
        assert b.fs.message == "Batch 1"

    def test_operation_in_auto_message(self, env):
        with env.fs.batch(operation="op") as b:
            b.write("o1", b"1")
            b.write("o2", b"2")
            b.remove("a.txt")
        assert b.fs.message == "Batch op: +2 -1"

    def test_single_change_message_has_no_operation(self, env):
        with env.fs.batch(operation="op") as b:
            b.write("o1", b"1")
        assert b.fs.message == "+ o1"

    def test_message_placeholders(self, env):
        with env.fs.batch(message="{op}/{add_count}/{update_count}/{delete_count}/{total_count}",
                          operation="sync") as b:
            b.write("n1", b"1")
            b.write("n2", b"2")
            b.write("a.txt", b"changed")
        assert b.fs.message == "sync/2/1/0/3"

    def test_message_format_error_keeps_batch_open(self, env):
        tip = env.tip()
        b = env.fs.batch(message="{nope}")
        b.write("x", b"1")
        with pytest.raises(KeyError):
            b.commit()
        assert b.closed is False
        assert b.fs is None
        assert env.tip() == tip

    def test_batch_constructor(self, env):
        fs = env.fs
        b = Batch(fs, message="direct", operation="op")
        b.write("x", b"1")
        new = b.commit()
        assert new is b.fs
        assert new.message == "direct"
        assert b.closed

    def test_explicit_commit_returns_fs_and_closes(self, env):
        b = env.fs.batch()
        b.write("x", b"1")
        new = b.commit()
        assert new is b.fs
        assert b.closed
        assert env.tip() == new.commit_hash
        with pytest.raises(RuntimeError) as ei:
            b.commit()
        assert str(ei.value) == CLOSED

    def test_explicit_commit_inside_with(self, env):
        with env.fs.batch() as b:
            b.write("x", b"1")
            first = b.commit()
        assert b.fs is first
        assert env.commits_since_base() == [first.commit_hash]

    def test_mode_parameter(self, env):
        with env.fs.batch() as b:
            b.write("e1", b"e", mode=FileType.EXECUTABLE)
            b.write("e2", b"e", mode=0o100755)
            b.write("l1", b"a.txt", mode=FileType.LINK)
            b.write_text("t1", "t", mode=EXE)
            b.write("p1", b"p", mode=None)
        assert env.mode("e1") == 0o100755
        assert env.mode("e2") == 0o100755
        assert env.mode("l1") == 0o120000
        assert env.mode("t1") == 0o100755
        assert env.mode("p1") == 0o100644

    def test_unknown_int_mode_detected_at_commit(self, env):
        tip = env.tip()
        b = env.fs.batch()
        b.write("x", b"1", mode=0o100600)
        with pytest.raises(KeyError):
            b.commit()
        assert b.closed is False
        assert env.tip() == tip

    def test_tree_mode_refused(self, env):
        tip = env.tip()
        b = env.fs.batch()
        with pytest.raises(ValueError):
            b.write("x", b"1", mode=FileType.TREE)
            b.commit()
        assert env.tip() == tip

    def test_write_text_encoding(self, env):
        with env.fs.batch() as b:
            b.write_text("l1", "café", encoding="latin-1")
            b.write_text("u8", "café")
        assert env.read("l1") == b"caf\xe9"
        assert env.read("u8") == "café".encode()

    def test_write_text_unencodable(self, env):
        b = env.fs.batch()
        with pytest.raises(UnicodeEncodeError):
            b.write_text("x", "☃", encoding="ascii")

    def test_bytes_like_data(self, env):
        with env.fs.batch() as b:
            b.write("ba", bytearray(b"ba"))
            b.write("mv", memoryview(b"xmvx")[1:3])
        assert env.read("ba") == b"ba"
        assert env.read("mv") == b"mv"

    @pytest.mark.parametrize("data", ["str", 1, None])
    def test_non_bytes_is_type_error(self, env, data):
        b = env.fs.batch()
        with pytest.raises(TypeError):
            b.write("x", data)

    def test_path_validation_at_staging(self, env):
        b = env.fs.batch()
        with pytest.raises(ValueError, match="Path must not be empty"):
            b.write("", b"x")
        with pytest.raises(ValueError, match="Empty segment"):
            b.write("a//b", b"x")
        with pytest.raises(ValueError, match="Invalid path segment"):
            b.remove("../a.txt")
        b.write("/norm/alised/", b"n")
        new = b.commit()
        assert env.read("norm/alised") == b"n"
        assert new.changes.add == [FileEntry("norm/alised", BLOB)]

    def test_pathlike_paths(self, env):
        with env.fs.batch() as b:
            b.write(pathlib.PurePosixPath("pp/x"), b"x")
            b.remove(pathlib.PurePosixPath("a.txt"))
        assert env.read("pp/x") == b"x"
        assert env.mode("a.txt") is None

    def test_file_and_directory_replacement(self, env):
        with env.fs.batch() as b:
            b.write("dir", b"now a file")
            b.write("a.txt/inner", b"in")
        assert env.read("dir") == b"now a file"
        assert env.g.cat_type("main:a.txt") == "tree"
        assert b.fs.changes.update == [FileEntry("dir", BLOB)]
        assert b.fs.changes.add == [FileEntry("a.txt/inner", BLOB)]

    def test_structural_sharing(self, env):
        with env.fs.batch() as b:
            b.write("dir/x.txt", b"x2")
        base = env.shas["base"]
        assert env.g.rev("main:dir/sub") == env.g.rev(f"{base}:dir/sub")
        assert env.g.rev("main:run.sh") == env.g.rev(f"{base}:run.sh")

    def test_remove_last_file_prunes(self, env):
        with env.fs.batch() as b:
            b.remove("dir/sub/deep.txt")
        assert env.g.entry(env.tip(), "dir/sub") is None
        assert b.fs.message == "- dir/sub/deep.txt"


# ---------------------------------------------------------------------------
# staging rules
# ---------------------------------------------------------------------------

class TestStaging:
    def test_last_write_wins(self, env):
        with env.fs.batch() as b:
            b.write("x", b"first")
            b.write("x", b"second")
        assert env.read("x") == b"second"
        assert b.fs.message == "+ x"

    def test_rewrite_keeps_position(self, env):
        with env.fs.batch() as b:
            b.write("p1", b"1")
            b.write("p2", b"2")
            b.write("p1", b"1b")
        assert [e.path for e in b.fs.changes.add] == ["p1", "p2"]

    def test_staged_writes_in_staging_order(self, env):
        b = env.fs.batch()
        b.write("p1", b"1")
        b.write("p2", b"2", mode=EXE)
        b.write("p1", b"1b")
        b.remove("p2")
        b.remove("b.txt")
        b.write("a.txt", b"new")
        b.write("p2", b"2 again")
        staged = b._writes
        assert list(staged) == ["p1", "a.txt", "p2"]
        assert all(type(oid) is BlobOid for oid, _mode in staged.values())
        # a copy: changing it stages nothing
        staged.clear()
        assert list(b._writes) == ["p1", "a.txt", "p2"]
        staged = b._writes
        b.commit()
        files = env.g.files()
        assert {p: (oid.decode(), mode) for p, (oid, mode) in staged.items()} == {
            p: (files[p][1], int(files[p][0], 8)) for p in ("p1", "a.txt", "p2")}
        assert env.read("p1") == b"1b" and env.read("p2") == b"2 again"
        assert b.fs.changes.delete == [FileEntry("b.txt", BLOB)]
        assert [e.path for e in b.fs.changes.add] == ["p1", "p2"]

    def test_write_then_remove_new_path_is_nothing(self, env):
        fs = env.fs
        with fs.batch() as b:
            b.write("new", b"n")
            b.remove("new")
        assert b.fs is fs
        assert env.tip() == fs.commit_hash

    def test_remove_then_write(self, env):
        with env.fs.batch() as b:
            b.remove("a.txt")
            b.write("a.txt", b"rewritten")
        assert env.read("a.txt") == b"rewritten"
        assert b.fs.changes.update == [FileEntry("a.txt", BLOB)]
        assert b.fs.changes.delete == []
        assert b.fs.message == "~ a.txt"

    def test_write_then_remove_existing_is_removal(self, env):
        with env.fs.batch() as b:
            b.write("a.txt", b"changed")
            b.remove("a.txt")
        assert env.mode("a.txt") is None
        assert b.fs.changes.delete == [FileEntry("a.txt", BLOB)]
        assert b.fs.changes.update == []
        assert b.fs.message == "- a.txt"

    def test_remove_kinds(self, env):
        with env.fs.batch() as b:
            b.remove("run.sh")
            b.remove("link")
        assert sorted((e.path, e.type) for e in b.fs.changes.delete) == [
            ("link", LINK), ("run.sh", EXE)]

    def test_remove_missing(self, env):
        b = env.fs.batch()
        with pytest.raises(FileNotFoundError) as ei:
            b.remove("/nope/")
        assert str(ei.value) == "nope"
        with pytest.raises(FileNotFoundError):
            b.remove("a.txt/below")
        with pytest.raises(FileNotFoundError):
            b.remove("dir/missing.txt")
        assert b.closed is False

    def test_remove_directory_raises(self, env):
        b = env.fs.batch()
        with pytest.raises(IsADirectoryError) as ei:
            b.remove("dir/")
        assert str(ei.value) == "dir"
        with pytest.raises(IsADirectoryError):
            b.remove("dir/sub")

    def test_write_over_directory_then_remove_raises(self, env):
        with env.fs.batch() as b:
            b.write("dir", b"file now")
            with pytest.raises(IsADirectoryError):
                b.remove("dir")
        # the staged write was kept
        assert env.read("dir") == b"file now"

    def test_remove_staged_only_directory(self, env):
        b = env.fs.batch()
        b.write("newdir/x", b"x")
        with pytest.raises(FileNotFoundError):
            b.remove("newdir")

    def test_identical_writes_make_no_commit(self, env):
        fs = env.fs
        log = reflog_lines(env.path)
        with fs.batch() as b:
            b.write("a.txt", b"hello\n")
            b.write_symlink("link", "a.txt")
        assert b.fs is fs
        assert b.closed
        assert env.tip() == fs.commit_hash
        assert reflog_lines(env.path) == log

    def test_write_from_file(self, env, tmp_path):
        plain = tmp_path / "plain"
        plain.write_bytes(b"plain")
        os.chmod(plain, 0o644)
        exe = tmp_path / "exe"
        exe.write_bytes(b"exe")
        os.chmod(exe, 0o750)
        with env.fs.batch() as b:
            b.write_from_file("plain", plain)
            b.write_from_file("exe", exe)
            b.write_from_file("exe-as-blob", exe, mode=FileType.BLOB)
            b.write_from_file("plain-as-exe", str(plain), mode=0o100755)
        assert (env.mode("plain"), env.read("plain")) == (0o100644, b"plain")
        assert (env.mode("exe"), env.read("exe")) == (0o100755, b"exe")
        assert env.mode("exe-as-blob") == 0o100644
        assert env.mode("plain-as-exe") == 0o100755

    def test_write_from_file_errors_at_staging(self, env, tmp_path):
        b = env.fs.batch()
        with pytest.raises(FileNotFoundError):
            b.write_from_file("x", tmp_path / "missing")
        with pytest.raises(IsADirectoryError):
            b.write_from_file("x", tmp_path)
        assert b.closed is False
        assert b.commit() is b.fs

    def test_write_symlink(self, env):
        with env.fs.batch() as b:
            b.write_symlink("ln", "dir/x.txt")
            b.write("other", b"o")
            b.remove("b.txt")
        assert env.mode("ln") == 0o120000
        assert env.read("ln") == b"dir/x.txt"
        assert b.fs.readlink("ln") == "dir/x.txt"
        assert b.fs.message == "Batch: +2 -1"
        assert FileEntry("ln", LINK) in b.fs.changes.add

    def test_staging_methods_return_none(self, env, tmp_path):
        local = tmp_path / "f"
        local.write_bytes(b"f")
        b = env.fs.batch()
        assert b.write("w", b"1") is None
        assert b.write_text("t", "1") is None
        assert b.write_from_file("f", local) is None
        assert b.write_symlink("s", "w") is None
        assert b.remove("a.txt") is None


# ---------------------------------------------------------------------------
# empty batches, exceptions, closed state
# ---------------------------------------------------------------------------

class TestLifecycle:
    def test_empty_batch_returns_base(self, env):
        fs = env.fs
        log = reflog_lines(env.path)
        with fs.batch() as b:
            pass
        assert b.fs is fs
        assert b.closed
        assert env.tip() == fs.commit_hash
        assert reflog_lines(env.path) == log

    def test_empty_commit_returns_base(self, env):
        fs = env.fs
        b = fs.batch()
        assert b.commit() is fs
        assert b.fs is fs
        assert b.closed

    def test_empty_batch_on_stale_snapshot_is_fine(self, env):
        fs = env.fs
        fs.write("moved", b"m")
        with fs.batch() as b:
            pass
        assert b.fs is fs

    def test_exception_commits_nothing(self, env):
        fs = env.fs
        tip = env.tip()
        with pytest.raises(RuntimeError, match="boom"):
            with fs.batch() as b:
                b.write("x", b"1")
                b.remove("a.txt")
                raise RuntimeError("boom")
        assert b.closed is True
        assert b.fs is None
        assert env.tip() == tip
        assert env.g("fsck", "--unreachable", "--no-progress").count("commit") == 0

    def test_exception_after_explicit_commit_keeps_fs(self, env):
        with pytest.raises(KeyError):
            with env.fs.batch() as b:
                b.write("x", b"1")
                done = b.commit()
                raise KeyError("later")
        assert b.fs is done
        assert env.tip() == done.commit_hash

    def test_exit_does_not_suppress(self, env):
        b = env.fs.batch()
        assert b.__exit__(ValueError, ValueError("x"), None) in (None, False)

    def test_enter_returns_batch_even_when_closed(self, env):
        b = env.fs.batch()
        b.commit()
        with b as again:
            assert again is b

    @pytest.mark.parametrize("call", [
        lambda b, p: b.write("x", b"1"),
        lambda b, p: b.write_text("x", "1"),
        lambda b, p: b.write_from_file("x", p),
        lambda b, p: b.write_symlink("x", "y"),
        lambda b, p: b.remove("a.txt"),
        lambda b, p: b.writer("x"),
        lambda b, p: b.writer("x", "bogus"),
        lambda b, p: b.commit(),
    ], ids=["write", "write_text", "write_from_file", "write_symlink", "remove", "writer",
            "writer-badmode", "commit"])
    @pytest.mark.parametrize("how", ["committed", "aborted", "empty"])
    def test_closed_batch_refuses_everything(self, env, tmp_path, call, how):
        local = tmp_path / "f"
        local.write_bytes(b"f")
        if how == "committed":
            with env.fs.batch() as b:
                b.write("c", b"c")
        elif how == "aborted":
            with pytest.raises(ZeroDivisionError):
                with env.fs.batch() as b:
                    1 / 0
        else:
            b = env.fs.batch()
            b.commit()
        tip = env.tip()
        with pytest.raises(RuntimeError) as ei:
            call(b, local)
        assert str(ei.value) == CLOSED
        assert env.tip() == tip

    def test_readonly_refused_at_creation(self, env):
        tag = env.store.tags["v1"]
        with pytest.raises(PermissionError) as ei:
            tag.batch()
        assert str(ei.value) == "Cannot batch on read-only snapshot (ref 'v1')"
        with pytest.raises(PermissionError) as ei:
            Batch(tag)
        assert "read-only" in str(ei.value)
        detached = FS(env.store, env.shas["base"].encode())
        with pytest.raises(PermissionError) as ei:
            detached.batch()
        assert str(ei.value) == "Cannot batch on read-only snapshot"


class TestStaleBatch:
    def test_stale_batch_raises_and_stays_open(self, env):
        fs = env.fs
        b = fs.batch()           # no staleness check at creation
        fs.write("moved", b"m")
        tip = env.tip()
        b.write("x", b"1")
        with pytest.raises(StaleSnapshotError) as ei:
            b.commit()
        assert str(ei.value) == "Branch 'main' has advanced since this snapshot"
        assert b.closed is False
        assert b.fs is None
        # still open: staging works, and it stays bound to the stale base
        b.write("y", b"2")
        with pytest.raises(StaleSnapshotError):
            b.commit()
        assert env.tip() == tip
        assert env.g("fsck", "--unreachable", "--no-progress").count("commit") == 0

    def test_stale_in_with_block_propagates(self, env):
        fs = env.fs
        fs.write("moved", b"m")
        with pytest.raises(StaleSnapshotError, match="advanced"):
            with fs.batch() as b:
                b.write("x", b"1")
        assert b.closed is False
        assert b.fs is None

    def test_batch_created_before_move_back(self, env):
        fs = env.fs
        new = fs.write("moved", b"m")
        b = new.batch()
        new.undo()
        b.write("x", b"1")
        with pytest.raises(StaleSnapshotError):
            b.commit()

    def test_deleted_branch(self, env):
        env.store.branches["tmp"] = env.fs
        snap = env.store.branches["tmp"]
        b = snap.batch()
        b.write("x", b"1")
        del env.store.branches["tmp"]
        with pytest.raises(KeyError):
            b.commit()


# ---------------------------------------------------------------------------
# FS.writer
# ---------------------------------------------------------------------------

class TestFSWriter:
    def test_context_manager_commits(self, env):
        fs = env.fs
        with fs.writer("out/file.bin") as w:
            assert w.fs is None
            assert w.write(b"abc") == 3
            assert w.write(bytearray(b"de")) == 2
            assert w.write(memoryview(b"f")) == 1
            assert w.closed is False
        assert w.closed is True
        assert isinstance(w.fs, FS)
        assert w.fs.commit_hash == env.tip()
        assert env.read("out/file.bin") == b"abcdef"
        assert env.mode("out/file.bin") == 0o100644
        assert w.fs.message == "+ out/file.bin"
        assert w.fs.changes.add == [FileEntry("out/file.bin", BLOB)]
        assert env.commits_since_base() == [w.fs.commit_hash]

    def test_text_mode(self, env):
        with env.fs.writer("t.txt", "w") as w:
            assert w.write("héllo ") == 7   # bytes, not characters
            assert w.write("☃") == 3
        assert env.read("t.txt") == "héllo ☃".encode()

    def test_type_checks(self, env):
        with env.fs.writer("b") as w:
            with pytest.raises(TypeError) as ei:
                w.write("str")
            assert str(ei.value) == "expected bytes for binary mode writer"
            w.write(b"ok")
        with env.store.branches["main"].writer("t", "w") as w2:
            with pytest.raises(TypeError) as ei:
                w2.write(b"bytes")
            assert str(ei.value) == "expected str for text mode writer"
            w2.write("ok")
        assert env.read("b") == b"ok"
        assert env.read("t") == b"ok"

    @pytest.mark.parametrize("mode", ["r", "rb", "a", "w+", "wt"])
    def test_invalid_mode(self, env, mode):
        with pytest.raises(ValueError) as ei:
            env.fs.writer("x", mode)
        assert str(ei.value) == f"writer() mode must be 'wb' or 'w', got {mode!r}"

    def test_close_commits_and_is_idempotent(self, env):
        w = env.fs.writer("c.txt")
        w.write(b"closed")
        w.close()
        first = w.fs
        assert w.closed
        assert env.read("c.txt") == b"closed"
        log = reflog_lines(env.path)
        w.close()
        assert w.fs is first
        assert reflog_lines(env.path) == log
        assert env.tip() == first.commit_hash

    def test_write_after_close(self, env):
        w = env.fs.writer("x")
        w.close()
        with pytest.raises(ValueError) as ei:
            w.write(b"late")
        assert str(ei.value) == "I/O operation on closed file."

    def test_properties(self, env):
        w = env.fs.writer("x")
        assert w.readable() is False
        assert w.seekable() is False
        assert w.writable() is True
        w.close()

    def test_exception_commits_nothing(self, env):
        tip = env.tip()
        with pytest.raises(OSError):
            with env.fs.writer("x") as w:
                w.write(b"partial")
                raise OSError("disk on fire")
        assert w.closed is True
        assert w.fs is None
        assert env.tip() == tip
        with pytest.raises(ValueError):
            w.write(b"more")

    def test_empty_writer_makes_empty_file(self, env):
        with env.fs.writer("empty") as w:
            pass
        assert env.read("empty") == b""
        assert w.fs.changes.add == [FileEntry("empty", BLOB)]

    def test_over_executable_becomes_regular(self, env):
        with env.fs.writer("run.sh") as w:
            w.write(b"#!/bin/sh\n")
        assert env.mode("run.sh") == 0o100644
        assert w.fs.changes.update == [FileEntry("run.sh", BLOB)]

    def test_identical_content_is_noop(self, env):
        fs = env.fs
        with fs.writer("a.txt") as w:
            w.write(b"hello\n")
        assert w.fs is fs
        assert env.tip() == fs.commit_hash

    def test_bad_path_surfaces_at_close(self, env):
        w = env.fs.writer("a//b")     # not validated yet: only at close
        w.write(b"x")
        with pytest.raises(ValueError, match="Empty segment"):
            w.close()
        assert w.closed is False
        assert w.fs is None

    def test_stale_close_stays_open(self, env):
        fs = env.fs
        w = fs.writer("x")
        w.write(b"data")
        fs.write("moved", b"m")
        tip = env.tip()
        with pytest.raises(StaleSnapshotError, match="advanced"):
            w.close()
        assert w.closed is False
        assert w.fs is None
        with pytest.raises(StaleSnapshotError):
            w.close()
        assert env.tip() == tip

    def test_pathlike_path(self, env):
        with env.fs.writer(pathlib.PurePosixPath("pl/x")) as w:
            w.write(b"x")
        assert env.read("pl/x") == b"x"


# ---------------------------------------------------------------------------
# Batch.writer
# ---------------------------------------------------------------------------

class TestBatchWriter:
    def test_stages_into_batch(self, env):
        with env.fs.batch() as b:
            with b.writer("w.bin") as w:
                assert w.write(b"one ") == 4
                w.write(b"two")
            assert w.closed
            assert not hasattr(w, "fs")
            b.write("other", b"o")
            assert env.mode("w.bin") is None     # nothing committed yet
        assert env.commits_since_base() == [b.fs.commit_hash]
        assert env.read("w.bin") == b"one two"
        assert b.fs.message == "Batch: +2"

    def test_text_mode(self, env):
        with env.fs.batch() as b:
            with b.writer("t.txt", "w") as w:
                assert w.write("é") == 2
        assert env.read("t.txt") == "é".encode()

    def test_invalid_mode(self, env):
        b = env.fs.batch()
        with pytest.raises(ValueError) as ei:
            b.writer("x", "rb")
        assert str(ei.value) == "writer() mode must be 'wb' or 'w', got 'rb'"

    def test_close_outside_context(self, env):
        b = env.fs.batch()
        w = b.writer("manual")
        w.write(b"m")
        w.close()
        assert w.closed
        new = b.commit()
        assert new.read("manual") == b"m"

    def test_writer_closed_after_batch_commit(self, env):
        b = env.fs.batch()
        w = b.writer("late")
        w.write(b"late")
        b.write("x", b"1")
        b.commit()
        with pytest.raises(RuntimeError) as ei:
            w.close()
        assert str(ei.value) == CLOSED
        assert w.closed is False
        assert env.mode("late") is None

    def test_exception_in_writer_stages_nothing(self, env):
        with env.fs.batch() as b:
            with pytest.raises(ValueError):
                with b.writer("skip") as w:
                    w.write(b"x")
                    raise ValueError("no")
            b.write("kept", b"k")
        assert env.mode("skip") is None
        assert env.read("kept") == b"k"

    def test_bad_path_at_close(self, env):
        b = env.fs.batch()
        w = b.writer("")
        w.write(b"x")
        with pytest.raises(ValueError):
            w.close()
        assert w.closed is False

    def test_writer_then_remove(self, env):
        with env.fs.batch() as b:
            with b.writer("a.txt") as w:
                w.write(b"new")
            b.remove("a.txt")
        assert env.mode("a.txt") is None


# ---------------------------------------------------------------------------
# big batches
# ---------------------------------------------------------------------------

class TestBigBatch:
    """Many medium blobs (each below the 1 MiB loose-object threshold, 20 MiB
    in all): the batch must not need to keep them all in memory, and the
    result is one commit git can read."""

    N, SIZE = 20, (1 << 20) - 1

    def _data(self, i):
        return (b"%04d" % i) * (self.SIZE // 4) + b"x" * (self.SIZE % 4)

    def test_commit(self, env):
        fs = env.fs
        with fs.batch() as b:
            for i in range(self.N):
                b.write(f"big/{i:02d}", self._data(i))
        new = b.fs
        assert env.commits_since_base() == [new.commit_hash]
        assert new.message == f"Batch: +{self.N}"
        for i in (0, 7, self.N - 1):
            assert env.g.cat_size(f"main:big/{i:02d}") == self.SIZE
            assert new.read(f"big/{i:02d}", offset=4 * 1000, size=8) == (b"%04d" % i) * 2
        assert env.g.lines("ls-tree", "--name-only", "main:big") == [
            f"{i:02d}" for i in range(self.N)]

    def test_aborted(self, env):
        tip = env.tip()
        with pytest.raises(RuntimeError):
            with env.fs.batch() as b:
                for i in range(self.N):
                    b.write(f"big/{i:02d}", self._data(i))
                raise RuntimeError("abandon")
        assert env.tip() == tip
        assert b.fs is None
