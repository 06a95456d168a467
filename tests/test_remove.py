"""FS.remove: sources, recursive, dry runs, commit messages, read-only
and stale snapshots.

The starting repository is built by git (fast-import); what gitstore commits
is read back with git: the tree (ls-tree -r), the commit (cat-file), the
history (rev-list) and ``git fsck --strict``.
"""

from __future__ import annotations

import pathlib

import pytest

from gitstore import FS, ChangeReport, FileEntry, FileType, GitStore, StaleSnapshotError

from support import EMPTY_TREE, Commit, Exe, Git, Link, Tag, assert_fsck_clean, build_repo, reflog_lines, RepoEnv, copy_template

BLOB, EXE, LINK = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK

FILES = {
    "existing.txt": b"existing\n",
    "dir/a.txt": b"aaa\n",
    "dir/b.txt": b"bbb\n",
    "dir/.dotfile": b"dot\n",
    "dir/sub/c.txt": b"ccc\n",
    "other/c.txt": b"other c\n",
    "run.sh": Exe(b"#!/bin/sh\necho run\n"),
    "lnk": Link("existing.txt"),
}

DIR_FILES = ["dir/.dotfile", "dir/a.txt", "dir/b.txt", "dir/sub/c.txt"]
ALL_FILES = sorted(["existing.txt", "lnk", "other/c.txt", "run.sh", *DIR_FILES])
TYPES = {"lnk": LINK, "run.sh": EXE}

READONLY_V1 = "Cannot batch on read-only snapshot (ref 'v1')"
STALE = "Branch 'main' has advanced since this snapshot"


def rm_entry(path: str) -> FileEntry:
    return FileEntry(path, TYPES.get(path, BLOB), src=path)


class Env(RepoEnv):

    @property
    def fs(self) -> FS:
        return self.store.branches["main"]

    def raw_message(self, rev: str = "main") -> bytes:
        return self.g.commit_header(self.g.rev(rev))[1]

    def assert_unchanged(self) -> None:
        assert self.tip() == self.shas["base"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("rm-template") / "rm.git"
    shas = build_repo(path, [Commit(FILES, message="base\n", label="base")],
                      tags=[Tag("v2", "base", message="annotated\n")],
                      lightweight={"v1": "base"})
    Git(path)("repack", "-a", "-d", "-q")   # one pack: cheap per-test copies
    return path, shas


@pytest.fixture
def env(template, tmp_path):
    path = tmp_path / "rm.git"
    copy_template(template[0], path)
    e = Env(path, dict(template[1]))
    yield e
    if e.committed():
        assert_fsck_clean(path)


# ---------------------------------------------------------------------------
# Removing files
# ---------------------------------------------------------------------------

class TestRemoveFiles:
    def test_single_file(self, env):
        fs = env.fs
        before = env.files()
        new = fs.remove("existing.txt")
        env.check_single_commit(new, fs, "- existing.txt")
        after = env.files()
        expected = dict(before)
        del expected["existing.txt"]
        assert after == expected          # everything else untouched, same ids
        assert new.changes == ChangeReport(delete=[rm_entry("existing.txt")])
        assert new.changes.add == [] and new.changes.update == []
        assert new.changes.errors == [] and new.changes.warnings == []
        assert new.ref_name == "main" and new.writable
        assert not new.exists("existing.txt")
        # the input snapshot is not modified
        assert fs.exists("existing.txt")
        assert fs.changes is None
        assert reflog_lines(env.path)[-1].endswith("\tcommit: - existing.txt")

    def test_list_with_one_file(self, env):
        new = env.fs.remove(["other/c.txt"])
        assert new.message == "- other/c.txt"
        assert "other/c.txt" not in env.files()
        # the now-empty directory is gone from the tree as well
        assert env.g.entry(env.tip(), "other") is None

    @pytest.mark.parametrize("path,typ", [("run.sh", EXE), ("lnk", LINK)])
    def test_reported_type_is_the_removed_entrys(self, env, path, typ):
        fs = env.fs
        new = fs.remove(path)
        assert new.changes.delete == [FileEntry(path, typ, src=path)]
        # no type suffix on deletions
        env.check_single_commit(new, fs, f"- {path}")
        assert path not in env.files()

    def test_several_files_sorted_one_commit(self, env):
        fs = env.fs
        new = fs.remove(["run.sh", "existing.txt", "dir/sub/c.txt"])
        env.check_single_commit(new, fs, "Batch rm: -3")
        assert new.changes == ChangeReport(delete=[
            rm_entry("dir/sub/c.txt"), rm_entry("existing.txt"), rm_entry("run.sh")])
        assert sorted(env.files()) == sorted(
            set(ALL_FILES) - {"run.sh", "existing.txt", "dir/sub/c.txt"})
        assert env.g.entry(env.tip(), "dir/sub") is None

    def test_duplicates_are_removed_once(self, env):
        new = env.fs.remove(["existing.txt", "existing.txt", "/existing.txt"])
        assert new.changes.delete == [rm_entry("existing.txt")]
        assert new.message == "- existing.txt"

    @pytest.mark.parametrize("sources", [
        ("existing.txt", "lnk"),
        pytest.param("gen", id="generator"),
    ])
    def test_any_iterable_of_paths(self, env, sources):
        if sources == "gen":
            sources = (p for p in ["existing.txt", "lnk"])
        new = env.fs.remove(sources)
        assert new.changes.delete == [rm_entry("existing.txt"), rm_entry("lnk")]
        assert new.message == "Batch rm: -2"

    def test_single_pathlike(self, env):
        new = env.fs.remove(pathlib.PurePosixPath("dir/a.txt"))
        assert new.changes.delete == [rm_entry("dir/a.txt")]
        assert "dir/a.txt" not in env.files()

    def test_leading_and_trailing_slashes_normalised(self, env):
        new = env.fs.remove("/dir/a.txt")
        assert new.changes.delete == [rm_entry("dir/a.txt")]

    def test_glob_expanded_sources(self, env):
        fs = env.fs
        matches = fs.glob("dir/*.txt")
        assert matches == ["dir/a.txt", "dir/b.txt"]
        new = fs.remove(matches)
        assert new.changes.delete == [rm_entry("dir/a.txt"), rm_entry("dir/b.txt")]
        files = env.files()
        assert "dir/.dotfile" in files and "dir/sub/c.txt" in files
        assert new.message == "Batch rm: -2"

    def test_chained_removes(self, env):
        fs = env.fs
        one = fs.remove("existing.txt")
        two = one.remove("lnk")
        assert env.g.lines("rev-list", f"{fs.commit_hash}..main") == [
            two.commit_hash, one.commit_hash]
        assert two.message == "- lnk"
        assert two.changes.delete == [rm_entry("lnk")]
        assert one.changes.delete == [rm_entry("existing.txt")]


# ---------------------------------------------------------------------------
# Directories, contents, root, pivots
# ---------------------------------------------------------------------------

class TestRemoveDirectories:
    @pytest.mark.parametrize("source,shown", [
        ("dir", "dir"), ("dir/", "dir"), ("/dir/", "dir"), ("dir/sub", "dir/sub"),
        ("", ""), ("/", ""), ("//", ""),
    ])
    def test_directory_needs_recursive(self, env, source, shown):
        with pytest.raises(IsADirectoryError) as ei:
            env.fs.remove(source)
        assert str(ei.value) == f"{shown} is a directory (use recursive=True)"
        env.assert_unchanged()

    def test_directory_in_a_list_needs_recursive_nothing_committed(self, env):
        with pytest.raises(IsADirectoryError) as ei:
            env.fs.remove(["existing.txt", "dir"])
        assert str(ei.value) == "dir is a directory (use recursive=True)"
        env.assert_unchanged()

    @pytest.mark.parametrize("source", ["dir", "dir/"])
    def test_directory_recursive(self, env, source):
        fs = env.fs
        new = fs.remove(source, recursive=True)
        env.check_single_commit(new, fs, "Batch rm: -4")
        # dotfiles and subdirectories are included; the directory disappears
        assert new.changes == ChangeReport(delete=[rm_entry(p) for p in DIR_FILES])
        assert sorted(env.files()) == ["existing.txt", "lnk", "other/c.txt", "run.sh"]
        assert env.g.entry(env.tip(), "dir") is None
        assert not new.exists("dir")

    def test_three_file_directory_message(self, env):
        fs = env.fs.remove("dir/.dotfile")
        new = fs.remove("dir", recursive=True)
        assert new.message == "Batch rm: -3"
        assert [e.path for e in new.changes.delete] == ["dir/a.txt", "dir/b.txt", "dir/sub/c.txt"]

    def test_directory_with_one_file(self, env):
        new = env.fs.remove("dir/sub", recursive=True)
        assert new.message == "- dir/sub/c.txt"
        assert new.changes.delete == [rm_entry("dir/sub/c.txt")]

    def test_recursive_with_plain_file(self, env):
        new = env.fs.remove("existing.txt", recursive=True)
        assert new.changes.delete == [rm_entry("existing.txt")]

    def test_overlapping_sources_deduplicated(self, env):
        new = env.fs.remove(["dir/sub/c.txt", "dir", "dir/a.txt", "dir/"], recursive=True)
        assert new.changes.delete == [rm_entry(p) for p in DIR_FILES]
        assert new.message == "Batch rm: -4"

    @pytest.mark.parametrize("source", ["", "/", "//"])
    def test_root_recursive_empties_the_branch(self, env, source):
        fs = env.fs
        new = fs.remove(source, recursive=True)
        env.check_single_commit(new, fs, f"Batch rm: -{len(ALL_FILES)}")
        assert env.g.rev("main^{tree}") == EMPTY_TREE
        assert env.files() == {}
        assert new.changes == ChangeReport(delete=[rm_entry(p) for p in ALL_FILES])
        assert new.ls() == []

    def test_root_with_five_files(self, env):
        fs = env.fs.remove(["dir/sub/c.txt", "dir/.dotfile", "run.sh"])
        new = fs.remove("", recursive=True)
        assert new.message == "Batch rm: -5"
        assert [e.path for e in new.changes.delete] == [
            "dir/a.txt", "dir/b.txt", "existing.txt", "lnk", "other/c.txt"]

    def test_pivot_file(self, env):
        new = env.fs.remove("dir/./a.txt")
        assert new.changes.delete == [rm_entry("dir/a.txt")]
        assert new.message == "- dir/a.txt"

    @pytest.mark.parametrize("source", ["dir/./sub", "dir/./sub/", "/dir/./sub"])
    def test_pivot_directory(self, env, source):
        new = env.fs.remove(source, recursive=True)
        assert new.changes.delete == [rm_entry("dir/sub/c.txt")]
        assert new.message == "- dir/sub/c.txt"

    def test_pivot_directory_needs_recursive(self, env):
        with pytest.raises(IsADirectoryError) as ei:
            env.fs.remove("dir/./sub")
        assert str(ei.value) == "dir/sub is a directory (use recursive=True)"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class TestRemoveErrors:
    def test_missing_file(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.remove("nonexistent.xyz")
        assert str(ei.value) == "File not found in repo: nonexistent.xyz"
        env.assert_unchanged()

    def test_missing_among_existing_nothing_committed(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.remove(["existing.txt", "dir/missing.txt", "lnk"])
        assert str(ei.value) == "File not found in repo: dir/missing.txt"
        env.assert_unchanged()

    def test_path_below_a_file(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.remove("existing.txt/x")
        assert str(ei.value) == "File not found in repo: existing.txt/x"

    def test_empty_list(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.fs.remove([])
        assert str(ei.value) == "No matches for sources: []"
        env.assert_unchanged()

    def test_nothing_below_the_sources(self, env):
        empty = env.fs.remove("", recursive=True)
        with pytest.raises(FileNotFoundError) as ei:
            empty.remove(["", "/"], recursive=True)
        assert str(ei.value) == "No matches for sources: ['', '/']"
        with pytest.raises(FileNotFoundError) as ei:
            empty.move(["", "/"], "x", recursive=True)
        assert str(ei.value) == "No matches for patterns: ['', '/']"
        assert env.tip() == empty.commit_hash

    @pytest.mark.parametrize("source,shown", [
        ("existing.txt/", "existing.txt"), ("missing/", "missing"),
        ("dir/./a.txt/", "dir/a.txt"),
    ])
    def test_trailing_slash_on_non_directory(self, env, source, shown):
        with pytest.raises(NotADirectoryError) as ei:
            env.fs.remove(source, recursive=True)
        assert str(ei.value) == f"Not a directory in repo: {shown}"
        env.assert_unchanged()

    @pytest.mark.parametrize("source,msg", [
        ("a//b", "Empty segment in path: 'a//b'"),
        ("dir/../existing.txt", "Invalid path segment: '..'"),
        ("./existing.txt", "Invalid path segment: '.'"),
    ])
    def test_invalid_paths(self, env, source, msg):
        with pytest.raises(ValueError) as ei:
            env.fs.remove(source)
        assert str(ei.value) == msg
        env.assert_unchanged()

    def test_unknown_placeholder_nothing_committed(self, env):
        with pytest.raises(KeyError):
            env.fs.remove("existing.txt", message="rm {nope}")
        with pytest.raises(IndexError):
            env.fs.remove("existing.txt", message="rm {0}")
        env.assert_unchanged()


# ---------------------------------------------------------------------------
# Dry runs
# ---------------------------------------------------------------------------

class TestRemoveDryRun:
    @pytest.mark.parametrize("args,kwargs", [
        (("existing.txt",), {}),
        ((["run.sh", "lnk", "dir/a.txt"],), {}),
        (("dir",), {"recursive": True}),
        (("",), {"recursive": True}),
        (("dir/./sub/",), {"recursive": True}),
    ])
    def test_dry_run_matches_real_run(self, env, args, kwargs):
        fs = env.fs
        dry = fs.remove(*args, dry_run=True, **kwargs)
        assert dry is fs
        env.assert_unchanged()
        assert fs.exists("existing.txt")
        report = dry.changes
        assert report is not None and report.delete
        again = fs.remove(*args, dry_run=True, **kwargs)
        assert again.changes == report
        real = fs.remove(*args, **kwargs)
        assert real.changes == report

    def test_dry_run_writes_no_objects(self, env):
        objects_before = env.g("count-objects", "-v")
        env.fs.remove("", recursive=True, dry_run=True)
        assert env.g("count-objects", "-v") == objects_before
        env.assert_unchanged()

    def test_dry_run_errors_still_raise(self, env):
        with pytest.raises(FileNotFoundError):
            env.fs.remove("missing", dry_run=True)
        with pytest.raises(IsADirectoryError):
            env.fs.remove("dir", dry_run=True)
        with pytest.raises(FileNotFoundError):
            env.fs.remove([], dry_run=True)

    def test_dry_run_on_read_only_snapshots(self, env):
        for snap in (env.store.tags["v1"], env.store.tags["v2"],
                     FS(env.store, env.shas["base"].encode())):
            dry = snap.remove("existing.txt", dry_run=True)
            assert dry is snap
            assert dry.changes == ChangeReport(delete=[rm_entry("existing.txt")])
        env.assert_unchanged()

    def test_dry_run_on_stale_snapshot(self, env):
        fs = env.fs
        fs.write("new.txt", b"n")
        tip = env.tip()
        dry = fs.remove("existing.txt", dry_run=True)
        assert dry.changes.delete == [rm_entry("existing.txt")]
        assert env.tip() == tip


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

class TestRemoveMessage:
    def test_custom_message_verbatim(self, env):
        fs = env.fs
        new = fs.remove(["existing.txt", "lnk"], message="cleanup: old files")
        env.check_single_commit(new, fs, "cleanup: old files")

    def test_empty_message_means_auto(self, env):
        new = env.fs.remove("existing.txt", message="")
        assert new.message == "- existing.txt"

    def test_placeholders(self, env):
        new = env.fs.remove(
            ["dir"], recursive=True,
            message="{op}: {default} [{add_count}/{update_count}/{delete_count}/{total_count}]")
        assert new.message == "rm: Batch rm: -4 [0/0/4/4]"

    def test_escapes_and_format_spec(self, env):
        new = env.fs.remove("dir/", recursive=True, message="{{x}} {op} {delete_count:03d}")
        assert new.message == "{x} rm 004"
        assert env.raw_message() == b"{x} rm 004\n"

    def test_default_for_single_file(self, env):
        new = env.fs.remove("run.sh", message="auto was <{default}>")
        assert new.message == "auto was <- run.sh>"


# ---------------------------------------------------------------------------
# Read-only and stale snapshots
# ---------------------------------------------------------------------------

class TestRemoveReadOnly:
    @pytest.mark.parametrize("tag", ["v1", "v2"])
    def test_tag(self, env, tag):
        snap = env.store.tags[tag]
        with pytest.raises(PermissionError) as ei:
            snap.remove("existing.txt")
        assert str(ei.value) == f"Cannot batch on read-only snapshot (ref '{tag}')"
        assert "batch on" in str(ei.value)
        env.assert_unchanged()
        assert env.g.rev(f"refs/tags/{tag}^{{commit}}") == env.shas["base"]

    def test_detached(self, env):
        snap = FS(env.store, env.shas["base"].encode())
        with pytest.raises(PermissionError) as ei:
            snap.remove(["dir"], recursive=True)
        assert str(ei.value) == "Cannot batch on read-only snapshot"
        env.assert_unchanged()

    def test_validation_comes_before_the_permission_check(self, env):
        snap = env.store.tags["v1"]
        with pytest.raises(FileNotFoundError):
            snap.remove("missing")
        with pytest.raises(IsADirectoryError):
            snap.remove("dir")
        with pytest.raises(FileNotFoundError):
            snap.remove([])
        with pytest.raises(NotADirectoryError):
            snap.remove("existing.txt/")

    def test_stale_snapshot(self, env):
        fs = env.fs
        moved = fs.write("new.txt", b"n")
        with pytest.raises(StaleSnapshotError) as ei:
            fs.remove("existing.txt")
        assert str(ei.value) == STALE
        assert env.tip() == moved.commit_hash
        assert "existing.txt" in env.files()


@pytest.mark.parametrize("call", [
    lambda fs, tmp: fs.remove("a\x00b"),
    lambda fs, tmp: fs.move(["a\x00b"], "c"),
    lambda fs, tmp: fs.copy_out(["a\x00b"], str(tmp)),
    lambda fs, tmp: fs.copy_from_ref(fs, ["a\x00b"]),
], ids=["remove", "move", "copy_out", "copy_from_ref"])
def test_nul_in_a_source_is_refused(tmp_path, call):
    """A source is not cut short at a NUL (which would name another file)."""
    store = GitStore.open(tmp_path / "r.git")
    fs = store.branches["main"].write("a", b"x")
    with pytest.raises(ValueError, match="NUL"):
        call(fs, tmp_path / "out")
    assert store.branches["main"].commit_hash == fs.commit_hash
    assert not (tmp_path / "out").exists()
