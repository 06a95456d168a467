"""FS.move: renames and moves into directories, what the report says (the
moved entry's type; update when the target existed), commit messages,
read-only and stale snapshots.

Starting repositories are built by git; results are read back with git
(ls-tree -r for paths, modes and object ids; cat-file for commits).
"""

from __future__ import annotations

import os
import time

import pytest

from gitstore import FS, ChangeReport, FileEntry, FileType, GitStore, StaleSnapshotError

from support import (
    RepoEnv,
    copy_template,
    Commit, Exe, Git, Link, Tag, assert_fsck_clean, build_repo, loose_object_path, reflog_lines,
)

BLOB, EXE, LINK = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK

FILES = {
    "hello.txt": b"hello world\n",
    "target.txt": b"target\n",
    "file.txt": b"plain file\n",
    "dir/a.txt": b"aaa\n",
    "dir/b.txt": b"bbb\n",
    "dir/sub/c.txt": b"ccc\n",
    "other/c.txt": b"other c\n",
    "run.sh": Exe(b"#!/bin/sh\necho run\n"),
    "lnk": Link("hello.txt"),
    "tools/data.bin": b"\x00\x01\x02",
    "tools/ln": Link("../hello.txt"),
    "tools/run": Exe(b"#!/bin/sh\n"),
    "p/x": b"p-x\n",
    "p/p/x": b"p-p-x\n",
    "mix/a/z.txt": b"z\n",
    "mix/b.txt": b"b\n",
}

TYPES = {"run.sh": EXE, "lnk": LINK, "tools/ln": LINK, "tools/run": EXE}
MODES = {BLOB: "100644", EXE: "100755", LINK: "120000"}

READONLY = "Cannot batch on read-only snapshot"
STALE = "Branch 'main' has advanced since this snapshot"


def ftype(path: str) -> FileType:
    return TYPES.get(path, BLOB)


def added(dest: str, src: str) -> FileEntry:
    return FileEntry(dest, ftype(src), src=src)


def deleted(path: str) -> FileEntry:
    return FileEntry(path, ftype(path), src=path)


class Env(RepoEnv):
    def __init__(self, path, shas, base_files=None):
        super().__init__(path, shas)
        self.base_files = base_files if base_files is not None else self.files(shas["base"])

    @property
    def fs(self) -> FS:
        return self.store.branches["main"]

    def expected_after(self, moves: dict[str, str]) -> dict[str, tuple[str, str]]:
        """The base tree with each source path moved to its destination."""
        out = dict(self.base_files)
        for src in moves:
            del out[src]
        for src, dst in moves.items():
            out[dst] = self.base_files[src]
        return out

    def assert_unchanged(self) -> None:
        assert self.tip() == self.shas["base"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("mv-template") / "mv.git"
    shas = build_repo(path, [Commit(FILES, message="base\n", label="base")],
                      tags=[Tag("v2", "base", message="annotated\n")],
                      lightweight={"v1": "base"})
    Git(path)("repack", "-a", "-d", "-q")   # one pack: cheap per-test copies
    return path, shas, Env(path, shas).base_files


@pytest.fixture
def env(template, tmp_path):
    path = tmp_path / "mv.git"
    copy_template(template[0], path)
    e = Env(path, dict(template[1]), dict(template[2]))
    yield e
    if e.committed():
        assert_fsck_clean(path)


# ---------------------------------------------------------------------------
# Rename mode
# ---------------------------------------------------------------------------

class TestMoveRename:
    def test_rename_file(self, env):
        fs = env.fs
        new = fs.move("hello.txt", "renamed.txt")
        env.check_single_commit(new, fs, "Batch mv: +1 -1")
        assert env.files() == env.expected_after({"hello.txt": "renamed.txt"})
        assert new.changes == ChangeReport(add=[added("renamed.txt", "hello.txt")],
                                           delete=[deleted("hello.txt")])
        assert new.read("renamed.txt") == b"hello world\n"
        assert not new.exists("hello.txt")
        # the previous commit still has the old layout
        assert new.back(1).exists("hello.txt") and not new.back(1).exists("renamed.txt")
        assert fs.changes is None
        assert reflog_lines(env.path)[-1].endswith("\tcommit: Batch mv: +1 -1")

    def test_rename_reuses_the_blob(self, env):
        fs = env.fs
        new = fs.move("hello.txt", "deep/er/name.txt")
        assert new.object_hash("deep/er/name.txt") == fs.object_hash("hello.txt")
        assert env.files()["deep/er/name.txt"] == env.base_files["hello.txt"]

    def test_rename_onto_existing_file_is_update(self, env):
        fs = env.fs
        new = fs.move("hello.txt", "target.txt")
        env.check_single_commit(new, fs, "Batch mv: ~1 -1")
        assert env.files() == env.expected_after({"hello.txt": "target.txt"})
        assert new.changes == ChangeReport(update=[added("target.txt", "hello.txt")],
                                           delete=[deleted("hello.txt")])
        assert new.read("target.txt") == b"hello world\n"

    @pytest.mark.parametrize("src,dest", [
        ("run.sh", "bin/run2.sh"), ("lnk", "links/l2"), ("tools/ln", "ln"),
        ("tools/run", "run"),
    ])
    def test_mode_kept_and_reported(self, env, src, dest):
        fs = env.fs
        new = fs.move(src, dest)
        files = env.files()
        assert files[dest] == env.base_files[src]
        assert files[dest][0] == MODES[ftype(src)]
        assert new.changes == ChangeReport(add=[FileEntry(dest, ftype(src), src=src)],
                                           delete=[deleted(src)])
        assert new.file_type(dest) == ftype(src)
        env.check_single_commit(new, fs, "Batch mv: +1 -1")

    def test_symlink_target_kept(self, env):
        new = env.fs.move("lnk", "other/lnk2")
        assert new.readlink("other/lnk2") == "hello.txt"
        assert env.g.cat(env.files()["other/lnk2"][1]) == b"hello.txt"

    def test_executable_onto_regular_file(self, env):
        new = env.fs.move("run.sh", "target.txt")
        assert env.files()["target.txt"] == env.base_files["run.sh"]
        assert new.changes == ChangeReport(update=[FileEntry("target.txt", EXE, src="run.sh")],
                                           delete=[deleted("run.sh")])
        assert new.message == "Batch mv: ~1 -1"

    def test_regular_file_onto_symlink(self, env):
        new = env.fs.move("hello.txt", "lnk")
        assert env.files()["lnk"] == env.base_files["hello.txt"]
        assert new.changes == ChangeReport(update=[FileEntry("lnk", BLOB, src="hello.txt")],
                                           delete=[deleted("hello.txt")])
        assert new.file_type("lnk") == BLOB

    def test_symlink_onto_regular_file(self, env):
        new = env.fs.move("lnk", "target.txt")
        assert env.files()["target.txt"] == ("120000", env.base_files["lnk"][1])
        assert new.changes.update == [FileEntry("target.txt", LINK, src="lnk")]
        assert new.changes.add == []

    def test_rename_within_same_directory(self, env):
        new = env.fs.move("dir/a.txt", "dir/b.txt")
        assert env.files() == env.expected_after({"dir/a.txt": "dir/b.txt"})
        assert new.changes.update == [added("dir/b.txt", "dir/a.txt")]
        assert new.message == "Batch mv: ~1 -1"

    def test_rename_directory(self, env):
        fs = env.fs
        new = fs.move("dir", "newdir", recursive=True)
        env.check_single_commit(new, fs, "Batch mv: +3 -3")
        moves = {"dir/a.txt": "newdir/a.txt", "dir/b.txt": "newdir/b.txt",
                 "dir/sub/c.txt": "newdir/sub/c.txt"}
        assert env.files() == env.expected_after(moves)
        assert new.changes == ChangeReport(
            add=[added(d, s) for s, d in moves.items()],
            delete=[deleted(s) for s in moves])
        # same content, same tree object
        assert env.g.rev("main:newdir") == env.g.rev(f"{fs.commit_hash}:dir")
        assert env.g.entry(env.tip(), "dir") is None

    def test_report_order_follows_the_walk(self, env):
        # a directory's files come before its subdirectories; deletions sorted
        new = env.fs.move("mix", "mix2", recursive=True)
        assert new.changes == ChangeReport(
            add=[added("mix2/b.txt", "mix/b.txt"), added("mix2/a/z.txt", "mix/a/z.txt")],
            delete=[deleted("mix/a/z.txt"), deleted("mix/b.txt")])

    def test_rename_directory_keeps_modes(self, env):
        fs = env.fs
        new = fs.move("tools", "bin", recursive=True)
        assert env.g.rev("main:bin") == env.g.rev(f"{fs.commit_hash}:tools")
        assert new.changes.add == [added("bin/data.bin", "tools/data.bin"),
                                   added("bin/ln", "tools/ln"), added("bin/run", "tools/run")]
        assert new.changes.delete == [deleted("tools/data.bin"), deleted("tools/ln"),
                                      deleted("tools/run")]
        assert new.file_type("bin/run") == EXE and new.file_type("bin/ln") == LINK

    def test_rename_directory_to_nested_new_path(self, env):
        new = env.fs.move("dir", "x/y", recursive=True)
        assert sorted(p for p in env.files() if p.startswith("x/")) == [
            "x/y/a.txt", "x/y/b.txt", "x/y/sub/c.txt"]
        assert new.message == "Batch mv: +3 -3"

    def test_rename_directory_to_root(self, env):
        new = env.fs.move("dir", "", recursive=True)
        moves = {"dir/a.txt": "a.txt", "dir/b.txt": "b.txt", "dir/sub/c.txt": "sub/c.txt"}
        assert env.files() == env.expected_after(moves)
        assert new.changes.add == [added(d, s) for s, d in moves.items()]

    def test_file_to_root_keeps_basename(self, env):
        new = env.fs.move("dir/sub/c.txt", "")
        assert env.files() == env.expected_after({"dir/sub/c.txt": "c.txt"})
        assert new.changes == ChangeReport(add=[added("c.txt", "dir/sub/c.txt")],
                                           delete=[deleted("dir/sub/c.txt")])

    def test_rename_ignores_pivot_prefix(self, env):
        new = env.fs.move("dir/./sub/c.txt", "renamed.txt")
        assert env.files() == env.expected_after({"dir/sub/c.txt": "renamed.txt"})
        assert new.changes.add == [added("renamed.txt", "dir/sub/c.txt")]

    def test_leading_slash_dest_normalised(self, env):
        new = env.fs.move("hello.txt", "/renamed.txt")
        assert new.changes.add == [added("renamed.txt", "hello.txt")]
        assert "renamed.txt" in env.files()


# ---------------------------------------------------------------------------
# Into mode
# ---------------------------------------------------------------------------

class TestMoveInto:
    @pytest.mark.parametrize("dest", ["dir", "dir/", "/dir"])
    def test_file_into_existing_directory(self, env, dest):
        fs = env.fs
        new = fs.move("hello.txt", dest)
        env.check_single_commit(new, fs, "Batch mv: +1 -1")
        assert env.files() == env.expected_after({"hello.txt": "dir/hello.txt"})
        assert new.changes == ChangeReport(add=[added("dir/hello.txt", "hello.txt")],
                                           delete=[deleted("hello.txt")])

    def test_file_into_new_directory_with_slash(self, env):
        new = env.fs.move("hello.txt", "newdir/")
        assert env.files() == env.expected_after({"hello.txt": "newdir/hello.txt"})
        assert new.changes.add == [added("newdir/hello.txt", "hello.txt")]

    def test_file_to_root_with_slash(self, env):
        new = env.fs.move("dir/a.txt", "/")
        assert env.files() == env.expected_after({"dir/a.txt": "a.txt"})

    def test_several_files_into_new_directory(self, env):
        fs = env.fs
        new = fs.move(["hello.txt", "other/c.txt"], "newdir")
        env.check_single_commit(new, fs, "Batch mv: +2 -2")
        moves = {"hello.txt": "newdir/hello.txt", "other/c.txt": "newdir/c.txt"}
        assert env.files() == env.expected_after(moves)
        # add in source order, delete sorted
        assert new.changes == ChangeReport(
            add=[added("newdir/hello.txt", "hello.txt"), added("newdir/c.txt", "other/c.txt")],
            delete=[deleted("hello.txt"), deleted("other/c.txt")])

    def test_several_files_into_existing_directory_with_overwrite(self, env):
        new = env.fs.move(["dir/a.txt", "other/c.txt"], "dir/sub/")
        moves = {"dir/a.txt": "dir/sub/a.txt", "other/c.txt": "dir/sub/c.txt"}
        assert env.files() == env.expected_after(moves)
        assert new.changes == ChangeReport(
            add=[added("dir/sub/a.txt", "dir/a.txt")],
            update=[added("dir/sub/c.txt", "other/c.txt")],
            delete=[deleted("dir/a.txt"), deleted("other/c.txt")])
        assert new.message == "Batch mv: +1 ~1 -2"

    def test_directory_into_existing_directory(self, env):
        new = env.fs.move("dir", "other", recursive=True)
        moves = {"dir/a.txt": "other/dir/a.txt", "dir/b.txt": "other/dir/b.txt",
                 "dir/sub/c.txt": "other/dir/sub/c.txt"}
        assert env.files() == env.expected_after(moves)
        assert new.changes.add == [added(d, s) for s, d in moves.items()]
        assert new.message == "Batch mv: +3 -3"

    def test_contents_into_existing_directory(self, env):
        new = env.fs.move("dir/", "other", recursive=True)
        moves = {"dir/a.txt": "other/a.txt", "dir/b.txt": "other/b.txt",
                 "dir/sub/c.txt": "other/sub/c.txt"}
        assert env.files() == env.expected_after(moves)
        assert new.changes.add == [added(d, s) for s, d in moves.items()]
        assert new.changes.delete == [deleted(s) for s in moves]

    def test_contents_into_own_subdirectory(self, env):
        new = env.fs.move("dir/", "dir/sub", recursive=True)
        moves = {"dir/a.txt": "dir/sub/a.txt", "dir/b.txt": "dir/sub/b.txt",
                 "dir/sub/c.txt": "dir/sub/sub/c.txt"}
        assert env.files() == env.expected_after(moves)
        assert new.message == "Batch mv: +3 -3"

    def test_file_and_directory_together(self, env):
        new = env.fs.move(["hello.txt", "tools"], "pack", recursive=True)
        moves = {"hello.txt": "pack/hello.txt", "tools/data.bin": "pack/tools/data.bin",
                 "tools/ln": "pack/tools/ln", "tools/run": "pack/tools/run"}
        assert env.files() == env.expected_after(moves)
        assert new.changes.add == [added(d, s) for s, d in moves.items()]
        assert new.changes.delete == [deleted(s) for s in sorted(moves)]
        assert new.message == "Batch mv: +4 -4"

    @pytest.mark.parametrize("source,dest,target", [
        ("dir/./sub/c.txt", "dest/", "dest/sub/c.txt"),
        ("dir/./sub", "q/", "q/sub/c.txt"),
        ("dir/./sub/", "q", "q/c.txt"),
        ("dir/./sub", "q", "q/c.txt"),       # one dir source: rename mode
    ])
    def test_pivot_sources(self, env, source, dest, target):
        new = env.fs.move(source, dest, recursive=True)
        assert env.files() == env.expected_after({"dir/sub/c.txt": target})
        assert new.changes == ChangeReport(add=[added(target, "dir/sub/c.txt")],
                                           delete=[deleted("dir/sub/c.txt")])

    @pytest.mark.parametrize("source", ["", "/"])
    def test_root_into_subdirectory(self, env, source):
        new = env.fs.move(source, "x", recursive=True)
        moves = {p: "x/" + p for p in env.base_files}
        assert env.files() == env.expected_after(moves)
        assert sorted(e.path for e in new.changes.add) == sorted(moves.values())
        assert new.changes.delete == [deleted(p) for p in sorted(env.base_files)]
        n = len(env.base_files)
        assert new.message == f"Batch mv: +{n} -{n}"

    def test_blob_at_destination_directory_replaced(self, env):
        # (kept behaviour) a file standing where the destination directory goes
        # is replaced by the directory.
        new = env.fs.move("hello.txt", "file.txt/")
        files = env.files()
        assert "file.txt" not in files
        assert files["file.txt/hello.txt"] == env.base_files["hello.txt"]
        assert new.changes.add == [added("file.txt/hello.txt", "hello.txt")]
        assert new.changes.delete == [deleted("hello.txt")]


# ---------------------------------------------------------------------------
# Destinations that are also sources: removals are the sources minus the
# destinations, so nothing is lost
# ---------------------------------------------------------------------------

class TestMoveOverlap:
    def test_destination_equal_to_another_source_is_kept(self, env):
        fs = env.fs
        new = fs.move("p", "", recursive=True)
        env.check_single_commit(new, fs, "Batch mv: +1 ~1 -1")
        files = env.files()
        assert files["x"] == env.base_files["p/x"]
        assert files["p/x"] == env.base_files["p/p/x"]
        assert "p/p/x" not in files
        assert new.read("x") == b"p-x\n" and new.read("p/x") == b"p-p-x\n"
        assert new.changes == ChangeReport(
            add=[FileEntry("x", BLOB, src="p/x")],
            update=[FileEntry("p/x", BLOB, src="p/p/x")],
            delete=[FileEntry("p/p/x", BLOB, src="p/p/x")])

    def test_contents_moved_one_level_up(self, env):
        new = env.fs.move("p/", "", recursive=True)
        files = env.files()
        assert files["x"] == env.base_files["p/x"]
        assert files["p/x"] == env.base_files["p/p/x"]
        assert "p/p/x" not in files
        assert new.changes.delete == [FileEntry("p/p/x", BLOB, src="p/p/x")]

    def test_sources_meeting_at_a_destination_first_wins(self, env):
        fs = env.fs
        new = fs.move(["dir/sub/c.txt", "other/c.txt"], "d")
        files = env.files()
        assert files["d/c.txt"] == env.base_files["dir/sub/c.txt"]
        assert "dir/sub/c.txt" not in files and "other/c.txt" not in files
        assert new.changes == ChangeReport(
            add=[added("d/c.txt", "dir/sub/c.txt")],
            delete=[deleted("dir/sub/c.txt"), deleted("other/c.txt")])
        env.check_single_commit(new, fs, "Batch mv: +1 -2")

    def test_duplicate_source_moves_once(self, env):
        fs = env.fs
        new = fs.move(["hello.txt", "hello.txt"], "d/")
        files = env.files()
        assert files == env.expected_after({"hello.txt": "d/hello.txt"})
        assert new.changes.delete == [deleted("hello.txt")]
        # one file was added and one removed
        env.check_single_commit(new, fs, "Batch mv: +1 -1")


# ---------------------------------------------------------------------------
# Dry runs
# ---------------------------------------------------------------------------

class TestMoveDryRun:
    @pytest.mark.parametrize("args,kwargs", [
        (("hello.txt", "renamed.txt"), {}),
        (("hello.txt", "target.txt"), {}),
        (("lnk", "l2"), {}),
        ((["run.sh", "other/c.txt"], "dir/sub"), {}),
        (("dir", "newdir"), {"recursive": True}),
        (("p", ""), {"recursive": True}),
        (("", "x"), {"recursive": True}),
    ])
    def test_dry_run_matches_real_run(self, env, args, kwargs):
        fs = env.fs
        dry = fs.move(*args, dry_run=True, **kwargs)
        assert dry is fs
        env.assert_unchanged()
        assert env.files() == env.base_files
        report = dry.changes
        assert report is not None
        assert fs.move(*args, dry_run=True, **kwargs).changes == report
        real = fs.move(*args, **kwargs)
        assert real is not fs
        assert real.changes == report

    def test_dry_run_report(self, env):
        fs = env.fs
        dry = fs.move("hello.txt", "renamed.txt", dry_run=True)
        assert dry.changes == ChangeReport(add=[added("renamed.txt", "hello.txt")],
                                           delete=[deleted("hello.txt")])
        assert fs.exists("hello.txt") and not fs.exists("renamed.txt")

    def test_dry_run_errors_still_raise(self, env):
        fs = env.fs
        with pytest.raises(ValueError):
            fs.move("hello.txt", "hello.txt", dry_run=True)
        with pytest.raises(FileNotFoundError):
            fs.move("missing", "x", dry_run=True)
        with pytest.raises(IsADirectoryError):
            fs.move("dir", "x", dry_run=True)

    def test_dry_run_on_read_only_and_stale(self, env):
        tag = env.store.tags["v1"]
        dry = tag.move("hello.txt", "x.txt", dry_run=True)
        assert dry is tag
        assert dry.changes == ChangeReport(add=[added("x.txt", "hello.txt")],
                                           delete=[deleted("hello.txt")])
        fs = env.fs
        moved = fs.write("new.txt", b"n")
        dry = fs.move("hello.txt", "x.txt", dry_run=True)
        assert dry.changes == tag.changes
        assert env.tip() == moved.commit_hash


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class TestMoveErrors:
    @pytest.mark.parametrize("args,shown", [
        (("hello.txt", "hello.txt"), "hello.txt"),
        (("dir/a.txt", "dir"), "dir/a.txt"),
        (("dir/sub/c.txt", "dir/sub/"), "dir/sub/c.txt"),
        (("dir", "/"), "dir/a.txt"),
        (("dir/sub", "dir"), "dir/sub/c.txt"),
    ])
    def test_same_source_and_destination(self, env, args, shown):
        with pytest.raises(ValueError) as ei:
            env.fs.move(*args, recursive=True)
        assert str(ei.value) == f"Source and destination are the same: {shown}"
        env.assert_unchanged()

    def test_same_path_checked_before_recursive(self, env):
        with pytest.raises(ValueError, match="Source and destination are the same"):
            env.fs.move("dir", "/")

    def test_missing_source(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.move("missing.txt", "dest.txt")
        assert str(ei.value) == "File not found in repo: missing.txt"
        env.assert_unchanged()

    def test_missing_among_several_nothing_committed(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.move(["hello.txt", "missing"], "x/")
        assert str(ei.value) == "File not found in repo: missing"
        env.assert_unchanged()

    def test_no_sources(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.move([], "x")
        assert str(ei.value) == "No matches for patterns: []"
        env.assert_unchanged()

    @pytest.mark.parametrize("args,shown", [
        (("dir", "newdir"), "dir"),
        ((["hello.txt", "dir"], "newdir"), "dir"),
        (("dir/", "other"), "dir"),
        (("", "x"), ""),
    ])
    def test_directory_without_recursive(self, env, args, shown):
        with pytest.raises(IsADirectoryError) as ei:
            env.fs.move(*args)
        assert str(ei.value) == f"{shown} is a directory (use recursive=True)"
        env.assert_unchanged()

    def test_trailing_slash_on_file_source(self, env):
        with pytest.raises(NotADirectoryError) as ei:
            env.fs.move("hello.txt/", "x")
        assert str(ei.value) == "Not a directory in repo: hello.txt"

    @pytest.mark.parametrize("source,dest,msg", [
        ("hello.txt", "a//b", "Empty segment in path: 'a//b'"),
        ("hello.txt", "../x", "Invalid path segment: '..'"),
        ("a//b", "x", "Empty segment in path: 'a//b'"),
        ("dir/../hello.txt", "x", "Invalid path segment: '..'"),
    ])
    def test_invalid_paths(self, env, source, dest, msg):
        with pytest.raises(ValueError) as ei:
            env.fs.move(source, dest)
        assert str(ei.value) == msg
        env.assert_unchanged()

    def test_bad_placeholder_nothing_committed(self, env):
        with pytest.raises(KeyError):
            env.fs.move("hello.txt", "x", message="{unknown}")
        env.assert_unchanged()

    @pytest.mark.parametrize("tag", ["v1", "v2"])
    def test_tag_is_read_only(self, env, tag):
        snap = env.store.tags[tag]
        with pytest.raises(PermissionError) as ei:
            snap.move("hello.txt", "renamed.txt")
        assert str(ei.value) == f"{READONLY} (ref '{tag}')"
        assert "batch on" in str(ei.value)
        env.assert_unchanged()

    def test_detached_is_read_only(self, env):
        snap = FS(env.store, env.shas["base"].encode())
        with pytest.raises(PermissionError) as ei:
            snap.move("dir", "newdir", recursive=True)
        assert str(ei.value) == READONLY
        env.assert_unchanged()

    def test_validation_before_permission_check(self, env):
        snap = env.store.tags["v1"]
        with pytest.raises(FileNotFoundError):
            snap.move("missing", "x")
        with pytest.raises(ValueError, match="same"):
            snap.move("hello.txt", "hello.txt")
        with pytest.raises(IsADirectoryError):
            snap.move("dir", "x")

    def test_stale_snapshot(self, env):
        fs = env.fs
        moved = fs.write("new.txt", b"n")
        with pytest.raises(StaleSnapshotError) as ei:
            fs.move("hello.txt", "renamed.txt")
        assert str(ei.value) == STALE
        assert env.tip() == moved.commit_hash


# ---------------------------------------------------------------------------
# Messages and cost
# ---------------------------------------------------------------------------

class TestMoveMessage:
    def test_custom_message(self, env):
        fs = env.fs
        new = fs.move("hello.txt", "renamed.txt", message="renamed hello")
        env.check_single_commit(new, fs, "renamed hello")
        assert [e.message for e in new.log()][0] == "renamed hello"

    def test_placeholders(self, env):
        new = env.fs.move(
            "hello.txt", "renamed.txt",
            message="{op} {add_count} {update_count} {delete_count} {total_count}: {default}")
        assert new.message == "mv 1 0 1 2: Batch mv: +1 -1"

    def test_placeholders_with_update(self, env):
        new = env.fs.move("hello.txt", "target.txt", message="[{default}] {update_count:02d}")
        assert new.message == "[Batch mv: ~1 -1] 01"

    def test_empty_message_means_auto(self, env):
        new = env.fs.move("dir", "z", recursive=True, message="")
        assert new.message == "Batch mv: +3 -3"


def add_blob_commit(env: Env, data: bytes, name: str, mode: str = "100644") -> str:
    """Commit (with git) a blob stored loose and uncompressed at name on top
    of main; returns the blob id."""
    blob = env.g("-c", "core.compression=0", "hash-object", "-w", "--stdin", input=data)
    tree = env.g("mktree", input=env.g.raw("ls-tree", "main") + f"{mode} blob {blob}\t{name}\n".encode())
    commit = env.g("commit-tree", tree, "-p", "main", "-m", "blob")
    env.g("update-ref", "refs/heads/main", commit)
    return blob


class TestMoveCost:
    def test_big_file_move_is_instant(self, env):
        data = bytes(range(256)) * (128 * 1024)   # 32 MiB
        big = add_blob_commit(env, data, "big.bin")
        fs = env.fs
        t0 = time.perf_counter()
        fs.read("big.bin")
        read_time = time.perf_counter() - t0
        objects = set(env.g.lines("cat-file", "--batch-all-objects", "--batch-check=%(objectname)"))
        t0 = time.perf_counter()
        new = fs.move("big.bin", "moved/big.bin")
        move_time = time.perf_counter() - t0
        assert new.object_hash("moved/big.bin") == big
        assert env.files()["moved/big.bin"] == ("100644", big)
        # reading the content once already costs more than the whole move
        assert move_time < max(read_time / 2, 0.05), (move_time, read_time)
        created = set(env.g.lines("cat-file", "--batch-all-objects",
                                  "--batch-check=%(objectname) %(objecttype)")) - {
            f"{oid} blob" for oid in objects}
        assert "blob" not in {line.split()[1] for line in created}

    def test_blob_content_is_never_read(self, env):
        # The blob's loose object is cut short: its header is readable, its
        # content is not.  A move that only reuses the id does not notice.
        blob = add_blob_commit(env, bytes(range(256)) * 256, "blob.bin", "100755")
        loose = loose_object_path(env.path, blob)
        original = loose.read_bytes()
        os.chmod(loose, 0o644)
        loose.write_bytes(original[:200])
        try:
            assert not env.g.ok("cat-file", "blob", blob)
            fs = env.fs
            new = fs.move(["blob.bin", "tools"], "moved", recursive=True)
            assert env.files()["moved/blob.bin"] == ("100755", blob)
            assert new.changes.add[0] == FileEntry("moved/blob.bin", EXE, src="blob.bin")
            assert new.changes.delete[0] == FileEntry("blob.bin", EXE, src="blob.bin")
        finally:
            loose.write_bytes(original)
