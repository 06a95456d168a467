"""FS.copy_from_ref: sources, delete mode (a single-file source touches only
its own destination), a no-op resets .changes, deletes reported sorted,
commit messages, read-only and stale snapshots.

The repository (branches ``main`` and ``worker``, tags on worker) is built by
git; results are read back with git.  Object ids are the oracle for "the
stored objects are reused": every copied path must name the source's blob,
and copied directories the source's tree.
"""

from __future__ import annotations

import os
import time

import pytest

from gitstore import (
    FS, ChangeReport, FileEntry, FileType, GitStore, StaleSnapshotError, WriteEntry,
)

from support import (
    RepoEnv,
    copy_template,
    Commit, Exe, Git, Link, Tag, assert_fsck_clean, build_repo, loose_object_path, reflog_lines,
)

BLOB, EXE, LINK = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK

MAIN = {
    "readme.txt": b"hello\n",
    "data/x.txt": b"x-main\n",
    "keep/k.txt": b"keep\n",
}
WORKER = {
    "readme.txt": b"hello\n",
    "data/x.txt": b"x-worker\n",
    "data/y.txt": b"y-worker\n",
    "results/a.json": b'{"a":1}',
    "results/b.json": b'{"b":2}',
    "results/deep/c.json": b'{"c":3}',
    "bin/run.sh": Exe(b"#!/bin/sh\necho run\n"),
    "links/readme": Link("../readme.txt"),
}
RESULTS = ["results/a.json", "results/b.json", "results/deep/c.json"]

STALE = "Branch 'main' has advanced since this snapshot"
CROSS = "source must belong to the same repo as self"


def add(*paths, typ=BLOB):
    return [FileEntry(p, typ) for p in paths]


class Env(RepoEnv):
    BASE = "m"

    @property
    def main(self) -> FS:
        return self.store.branches["main"]

    @property
    def worker(self) -> FS:
        return self.store.branches["worker"]

    def objects(self) -> dict[str, str]:
        """{oid: type} of every object in the repository."""
        out = {}
        for line in self.g.lines("cat-file", "--batch-all-objects", "--batch-check"):
            oid, typ, _size = line.split()
            out[oid] = typ
        return out

    def assert_main_unchanged(self) -> None:
        assert self.tip() == self.shas["m"]

    def assert_worker_unchanged(self) -> None:
        assert self.tip("worker") == self.shas["w"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfr-template") / "cfr.git"
    shas = build_repo(path, [
        Commit(MAIN, message="main\n", label="m"),
        Commit(WORKER, message="worker\n", branch="worker", parents=["m"], label="w"),
    ], tags=[Tag("v2", "w", message="annotated\n")], lightweight={"v1": "w"})
    Git(path)("repack", "-a", "-d", "-q")   # one pack: cheap per-test copies
    return path, shas


@pytest.fixture
def env(template, tmp_path):
    path = tmp_path / "cfr.git"
    copy_template(template[0], path)
    e = Env(path, dict(template[1]))
    yield e
    if e.committed():
        assert_fsck_clean(path)
    e.assert_worker_unchanged()


# ---------------------------------------------------------------------------
# Source modes and destinations
# ---------------------------------------------------------------------------

class TestCopyFromRefBasic:
    def test_directory_keeps_its_name(self, env):
        main, worker = env.main, env.worker
        before = env.files()
        new = main.copy_from_ref(worker, "results")
        env.check_single_commit(new, main, "Batch cp: +3")
        w = env.files("worker")
        assert env.files() == {**before, **{p: w[p] for p in RESULTS}}
        # the whole directory is the worker's tree object
        assert env.g.rev("main:results") == env.g.rev("worker:results")
        assert new.changes == ChangeReport(add=add(*RESULTS))
        assert new.changes.update == [] and new.changes.delete == []
        assert all(e.src is None for e in new.changes.add)
        assert new.read("results/a.json") == b'{"a":1}'
        assert new.read("readme.txt") == b"hello\n"
        assert main.changes is None and worker.changes is None
        assert reflog_lines(env.path)[-1].endswith("\tcommit: Batch cp: +3")

    def test_blob_ids_are_reused(self, env):
        worker = env.worker
        new = env.main.copy_from_ref(worker, ["results", "bin", "links"])
        for path in [*RESULTS, "bin/run.sh", "links/readme"]:
            assert new.object_hash(path) == worker.object_hash(path)
        w = env.files("worker")
        got = env.files()
        for path in [*RESULTS, "bin/run.sh", "links/readme"]:
            assert got[path] == w[path]

    def test_updates_and_adds(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "data")
        env.check_single_commit(new, main, "Batch cp: +1 ~1")
        assert new.changes == ChangeReport(add=add("data/y.txt"), update=add("data/x.txt"))
        assert env.g.rev("main:data") == env.g.rev("worker:data")
        assert new.read("data/x.txt") == b"x-worker\n"

    def test_one_changed_file(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "data/x.txt", "data")
        env.check_single_commit(new, main, "~ data/x.txt")
        assert new.changes == ChangeReport(update=add("data/x.txt"))
        assert "data/y.txt" not in env.files()

    def test_two_new_files(self, env):
        new = env.main.copy_from_ref(env.worker, ["results/a.json", "results/b.json"], "r")
        assert new.message == "Batch cp: +2"
        assert new.changes == ChangeReport(add=add("r/a.json", "r/b.json"))

    def test_executable_kept(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "bin")
        env.check_single_commit(new, main, "+ bin/run.sh (executable)")
        assert env.files()["bin/run.sh"] == env.files("worker")["bin/run.sh"]
        assert env.files()["bin/run.sh"][0] == "100755"
        assert new.file_type("bin/run.sh") == EXE
        assert new.changes == ChangeReport(add=add("bin/run.sh", typ=EXE))

    def test_symlink_kept(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "links")
        env.check_single_commit(new, main, "+ links/readme (link)")
        assert env.files()["links/readme"][0] == "120000"
        assert new.readlink("links/readme") == "../readme.txt"
        assert new.file_type("links/readme") == LINK
        assert new.changes == ChangeReport(add=add("links/readme", typ=LINK))

    def test_mode_only_change_is_an_update(self, env):
        main = env.main.write("bin/run.sh", b"#!/bin/sh\necho run\n")
        assert env.files()["bin/run.sh"][0] == "100644"
        new = main.copy_from_ref(env.worker, "bin")
        env.check_single_commit(new, main, "~ bin/run.sh (executable)")
        assert env.files()["bin/run.sh"] == env.files("worker")["bin/run.sh"]
        assert new.changes == ChangeReport(update=add("bin/run.sh", typ=EXE))

    @pytest.mark.parametrize("source", ["results/", "/results/", "results//"])
    def test_contents_to_root(self, env, source):
        new = env.main.copy_from_ref(env.worker, source)
        assert new.changes == ChangeReport(add=add("a.json", "b.json", "deep/c.json"))
        w = env.files("worker")
        got = env.files()
        assert got["a.json"] == w["results/a.json"]
        assert got["deep/c.json"] == w["results/deep/c.json"]
        assert "results/a.json" not in got

    def test_contents_to_dest(self, env):
        new = env.main.copy_from_ref(env.worker, "results/", "backup/results")
        assert new.changes == ChangeReport(add=add(
            "backup/results/a.json", "backup/results/b.json", "backup/results/deep/c.json"))
        assert env.g.rev("main:backup/results") == env.g.rev("worker:results")

    def test_directory_to_dest(self, env):
        new = env.main.copy_from_ref(env.worker, "results", "backup")
        assert new.changes == ChangeReport(add=add(*("backup/" + p for p in RESULTS)))
        assert env.g.rev("main:backup/results") == env.g.rev("worker:results")

    @pytest.mark.parametrize("dest", ["backup", "backup/", "/backup", "/backup/"])
    def test_single_file_to_dest(self, env, dest):
        new = env.main.copy_from_ref(env.worker, "results/a.json", dest)
        assert new.changes == ChangeReport(add=add("backup/a.json"))
        assert new.message == "+ backup/a.json"
        assert env.files()["backup/a.json"] == env.files("worker")["results/a.json"]

    def test_single_file_to_root(self, env):
        new = env.main.copy_from_ref(env.worker, "results/a.json")
        assert new.changes == ChangeReport(add=add("a.json"))
        assert new.read("a.json") == b'{"a":1}'
        assert new.message == "+ a.json"

    ROOT_ADDS = ["bin/run.sh", "data/y.txt", "links/readme", *RESULTS]

    def root_report(self, prefix=""):
        types = {"bin/run.sh": EXE, "links/readme": LINK}
        return ChangeReport(
            add=[FileEntry(prefix + p, types.get(p, BLOB)) for p in self.ROOT_ADDS],
            update=[FileEntry(prefix + "data/x.txt", BLOB)])

    @pytest.mark.parametrize("args", [(), ("",), ("/",), ("//",), ([""],)])
    def test_root_to_root(self, env, args):
        main = env.main
        new = main.copy_from_ref(env.worker, *args)
        env.check_single_commit(new, main, "Batch cp: +6 ~1")
        assert new.changes == self.root_report()
        # everything of worker, plus main's own extra file (no delete)
        assert env.files() == {**env.files("worker"), "keep/k.txt": env.files(env.shas["m"])["keep/k.txt"]}

    def test_root_to_dest(self, env):
        new = env.main.copy_from_ref(env.worker, "", "mirror")
        assert env.g.rev("main:mirror") == env.g.rev("worker^{tree}")
        # report order follows the source walk: a directory's files, then
        # its subdirectories
        walk_order = ["readme.txt", "bin/run.sh", "data/x.txt", "data/y.txt",
                      "links/readme", *RESULTS]
        assert [e.path for e in new.changes.add] == ["mirror/" + p for p in walk_order]
        assert new.message == f"Batch cp: +{len(WORKER)}"

    def test_multiple_sources_in_order(self, env):
        new = env.main.copy_from_ref(env.worker, ["results", "data/x.txt"])
        assert new.changes == ChangeReport(add=add(*RESULTS, "x.txt"))
        assert new.read("x.txt") == b"x-worker\n"
        assert new.message == "Batch cp: +4"

    def test_multiple_sources_to_dest(self, env):
        new = env.main.copy_from_ref(env.worker, ("results/", "data/x.txt"), "backup")
        assert new.changes == ChangeReport(add=add(
            "backup/a.json", "backup/b.json", "backup/deep/c.json", "backup/x.txt"))

    def test_repeated_source_copied_once(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, ["results", "results", "/results"])
        env.check_single_commit(new, main, "Batch cp: +3")
        assert new.changes == ChangeReport(add=add(*RESULTS))

    def test_same_file_named_twice(self, env):
        new = env.main.copy_from_ref(env.worker, ["results/a.json", "results/./a.json"], "d")
        assert new.message == "+ d/a.json"
        assert new.changes == ChangeReport(add=add("d/a.json"))

    @pytest.mark.parametrize("source,target", [
        ("results/./deep/c.json", "d/deep/c.json"),
        ("results/./deep", "d/deep/c.json"),
        ("results/./deep/", "d/c.json"),
        ("/results/./deep/c.json", "d/deep/c.json"),
    ])
    def test_pivot_sources(self, env, source, target):
        new = env.main.copy_from_ref(env.worker, source, "d")
        assert new.changes == ChangeReport(add=add(target))
        assert env.files()[target] == env.files("worker")["results/deep/c.json"]

    def test_blob_at_destination_directory_replaced(self, env):
        main = env.main.write("results", b"a file\n")
        new = main.copy_from_ref(env.worker, "results")
        assert env.g.rev("main:results") == env.g.rev("worker:results")
        # (kept behaviour) the replaced file is not reported
        assert new.changes == ChangeReport(add=add(*RESULTS))


# ---------------------------------------------------------------------------
# delete=True
# ---------------------------------------------------------------------------

def with_extras(fs: FS, prefix: str) -> FS:
    """Add extra files (one executable, one link) under prefix, one commit."""
    return fs.apply({
        f"{prefix}zz.txt": b"z\n",
        f"{prefix}m/n.txt": b"n\n",
        f"{prefix}B.txt": b"B\n",
        f"{prefix}x.sh": WriteEntry(data=b"#!/bin/sh\n", mode=FileType.EXECUTABLE),
        f"{prefix}deep/old.json": b"old\n",
        f"{prefix}l": WriteEntry(target="zz.txt"),
        f"{prefix}a0.txt": b"a0\n",
    }, message="extras")


def extras_deleted(prefix: str) -> list[FileEntry]:
    types = {"x.sh": EXE, "l": LINK}
    names = ["zz.txt", "m/n.txt", "B.txt", "x.sh", "deep/old.json", "l", "a0.txt"]
    return [FileEntry(prefix + n, types.get(n, BLOB)) for n in sorted(names)]


class TestCopyFromRefDelete:
    def test_directory_area(self, env):
        main = with_extras(env.main, "results/")
        new = main.copy_from_ref(env.worker, "results", delete=True)
        env.check_single_commit(new, main, "Batch cp: +3 -7")
        assert env.g.rev("main:results") == env.g.rev("worker:results")
        # deletions sorted, types from the old tree
        assert new.changes == ChangeReport(add=add(*RESULTS),
                                           delete=extras_deleted("results/"))
        # outside the area nothing changes
        files = env.files()
        assert files["keep/k.txt"] == env.files(env.shas["m"])["keep/k.txt"]
        assert files["data/x.txt"] == env.files(env.shas["m"])["data/x.txt"]

    def test_contents_area_with_dest(self, env):
        main = with_extras(env.main, "backup/")
        main = main.write("backup2/keep.txt", b"k\n")
        new = main.copy_from_ref(env.worker, "results/", "backup", delete=True)
        assert env.g.rev("main:backup") == env.g.rev("worker:results")
        assert new.changes == ChangeReport(add=add("backup/a.json", "backup/b.json",
                                                   "backup/deep/c.json"),
                                           delete=extras_deleted("backup/"))
        assert "backup2/keep.txt" in env.files()

    def test_overlapping_areas_delete_once(self, env):
        # "results" lands in backup/results, "results/" in backup: the
        # second area holds the first, and a stale file there goes once.
        main = env.main.write("backup/results/old.txt", b"o\n")
        dry = main.copy_from_ref(env.worker, ["results", "results/"], "backup", delete=True,
                                 dry_run=True)
        new = main.copy_from_ref(env.worker, ["results", "results/"], "backup", delete=True)
        assert new.changes.delete == add("backup/results/old.txt")
        assert dry.changes == new.changes
        env.check_single_commit(new, main, "Batch cp: +6 -1")

    def test_only_deletions(self, env):
        first = env.main.copy_from_ref(env.worker, "results")
        main = first.write("results/extra.txt", b"extra\n")
        new = main.copy_from_ref(env.worker, "results", delete=True)
        env.check_single_commit(new, main, "- results/extra.txt")
        assert new.changes == ChangeReport(delete=add("results/extra.txt"))

    def test_root_makes_the_branch_equal(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "", delete=True)
        env.check_single_commit(new, main, "Batch cp: +6 ~1 -1")
        assert env.g.rev("main^{tree}") == env.g.rev("worker^{tree}")
        assert new.changes.delete == add("keep/k.txt")
        assert new.changes.update == add("data/x.txt")

    def test_several_areas(self, env):
        main = env.main.apply({"results/old.txt": b"o", "data/old.txt": b"o"})
        new = main.copy_from_ref(env.worker, ["results", "data"], delete=True)
        assert new.changes.delete == add("data/old.txt", "results/old.txt")
        assert env.g.rev("main:data") == env.g.rev("worker:data")
        assert env.g.rev("main:results") == env.g.rev("worker:results")
        assert "keep/k.txt" in env.files()

    def test_missing_area_deletes_nothing(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "results", "fresh", delete=True)
        assert new.changes == ChangeReport(add=add(*("fresh/" + p for p in RESULTS)))

    @pytest.mark.parametrize("dest", ["", "data", "keep"])
    def test_single_file_deletes_nothing_else(self, env, dest):
        # a single-file source: only that file's destination is touched.
        main = env.main
        before = env.files()
        new = main.copy_from_ref(env.worker, "results/a.json", dest, delete=True)
        target = f"{dest}/a.json" if dest else "a.json"
        assert new.changes == ChangeReport(add=add(target))
        assert env.files() == {**before, target: env.files("worker")["results/a.json"]}

    def test_single_file_update_with_delete(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "data/x.txt", "data", delete=True)
        assert new.changes == ChangeReport(update=add("data/x.txt"))
        assert new.message == "~ data/x.txt"
        assert "data/y.txt" not in env.files() and "keep/k.txt" in env.files()

    def test_single_file_in_sync_with_delete_is_noop(self, env):
        main = env.main
        same = main.copy_from_ref(env.worker, "readme.txt", delete=True)
        assert same is main
        assert main.changes is None
        env.assert_main_unchanged()

    def test_dry_run_lists_the_same_deletions(self, env):
        main = with_extras(env.main, "results/")
        dry = main.copy_from_ref(env.worker, "results", delete=True, dry_run=True)
        assert dry is main
        report = dry.changes
        assert report.delete == extras_deleted("results/")
        real = main.copy_from_ref(env.worker, "results", delete=True)
        assert real.changes == report


# ---------------------------------------------------------------------------
# Dry runs and no-ops
# ---------------------------------------------------------------------------

class TestCopyFromRefDryRun:
    @pytest.mark.parametrize("args,kwargs", [
        (("results",), {}),
        (("data",), {}),
        (("",), {}),
        (("",), {"delete": True}),
        (("results/a.json", "backup"), {"delete": True}),
        ((["results/", "bin"], "x"), {}),
    ])
    def test_dry_run_matches_real_run(self, env, args, kwargs):
        main = env.main
        objects = env.objects()
        dry = main.copy_from_ref(env.worker, *args, dry_run=True, **kwargs)
        assert dry is main
        env.assert_main_unchanged()
        assert env.objects() == objects
        report = dry.changes
        assert report is not None
        assert main.copy_from_ref(env.worker, *args, dry_run=True, **kwargs).changes == report
        real = main.copy_from_ref(env.worker, *args, **kwargs)
        assert real is not main
        assert real.changes == report

    def test_dry_run_report(self, env):
        dry = env.main.copy_from_ref(env.worker, "data", dry_run=True)
        assert dry.changes == ChangeReport(add=add("data/y.txt"), update=add("data/x.txt"))
        assert not dry.exists("data/y.txt")

    def test_dry_run_noop_resets_report(self, env):
        main = env.main
        main.copy_from_ref(env.worker, "results", dry_run=True)
        assert main.changes is not None
        again = main.copy_from_ref(env.worker, "readme.txt", dry_run=True)
        assert again is main
        assert main.changes is None

    def test_dry_run_on_read_only_and_stale(self, env):
        tag = env.store.tags["v1"]
        moved_worker = env.worker.write("results/new.json", b"{}")
        dry = tag.copy_from_ref(moved_worker, "results", dry_run=True)
        assert dry is tag
        assert dry.changes == ChangeReport(add=add("results/new.json"))
        main = env.main
        main.write("elsewhere.txt", b"e")
        dry = main.copy_from_ref(env.worker, "results", dry_run=True)
        # walk order: a directory's files, then its subdirectories
        assert dry.changes == ChangeReport(add=add("results/a.json", "results/b.json",
                                                   "results/new.json", "results/deep/c.json"))
        # put worker back for the fixture's check
        env.g("update-ref", "refs/heads/worker", env.shas["w"])

    def test_dry_run_errors_still_raise(self, env):
        with pytest.raises(FileNotFoundError):
            env.main.copy_from_ref(env.worker, "missing", dry_run=True)


class TestCopyFromRefNoop:
    def test_identical_copy_returns_self(self, env):
        main = env.main
        objects = env.objects()
        same = main.copy_from_ref(env.worker, "readme.txt")
        assert same is main
        assert main.changes is None
        env.assert_main_unchanged()
        assert env.objects() == objects

    def test_noop_after_an_earlier_operation_clears_its_report(self, env):
        first = env.main.copy_from_ref(env.worker, "results")
        assert first.changes is not None
        tip = env.tip()
        same = first.copy_from_ref(env.worker, "results")
        assert same is first
        assert first.changes is None
        assert env.tip() == tip

    def test_copy_from_itself(self, env):
        main = env.main
        assert main.copy_from_ref(main) is main
        assert main.copy_from_ref(main, "", delete=True) is main
        assert main.changes is None
        env.assert_main_unchanged()

    def test_root_with_delete_after_sync_is_noop(self, env):
        synced = env.main.copy_from_ref(env.worker, "", delete=True)
        assert synced.copy_from_ref(env.worker, "", delete=True) is synced
        assert synced.changes is None


# ---------------------------------------------------------------------------
# Where the source snapshot comes from
# ---------------------------------------------------------------------------

class TestCopyFromRefSources:
    @pytest.mark.parametrize("tag", ["v1", "v2"])
    def test_from_tag(self, env, tag):
        src = env.store.tags[tag]
        assert not src.writable
        new = env.main.copy_from_ref(src, "results")
        assert env.g.rev("main:results") == env.g.rev("worker:results")
        assert new.changes == ChangeReport(add=add(*RESULTS))
        assert src.changes is None

    @pytest.mark.parametrize("as_bytes", [True, False])
    def test_from_detached(self, env, as_bytes):
        sha = env.shas["w"]
        src = FS(env.store, sha.encode() if as_bytes else sha)
        new = env.main.copy_from_ref(src, "bin")
        assert new.changes == ChangeReport(add=add("bin/run.sh", typ=EXE))
        assert env.files()["bin/run.sh"] == env.files("worker")["bin/run.sh"]

    def test_restore_from_own_history(self, env):
        main = env.main
        removed = main.remove("keep", recursive=True)
        restored = removed.copy_from_ref(removed.back(1), "keep")
        assert restored.message == "+ keep/k.txt"
        assert env.g.rev("main^{tree}") == env.g.rev(f"{main.commit_hash}^{{tree}}")

    def test_second_store_on_same_repository(self, env):
        other = GitStore.open(env.path, create=False)
        new = env.main.copy_from_ref(other.branches["worker"], "data")
        assert new.changes == ChangeReport(add=add("data/y.txt"), update=add("data/x.txt"))

    def test_store_through_a_symlinked_path(self, env, tmp_path):
        link = tmp_path / "alias.git"
        os.symlink(env.path, link)
        other = GitStore.open(link, create=False)
        new = env.main.copy_from_ref(other.branches["worker"], "links")
        assert new.readlink("links/readme") == "../readme.txt"

    def test_source_is_not_modified(self, env):
        worker = env.worker
        env.main.copy_from_ref(worker, "", delete=True)
        assert worker.changes is None
        assert worker.commit_hash == env.shas["w"]
        env.assert_worker_unchanged()


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

@pytest.fixture
def foreign(tmp_path):
    store = GitStore.open(tmp_path / "foreign.git", branch="main")
    return store.branches["main"].write("results/a.json", b"{}")


class TestCopyFromRefErrors:
    def test_other_repository(self, env, foreign):
        with pytest.raises(ValueError) as ei:
            env.main.copy_from_ref(foreign, "results")
        assert str(ei.value) == CROSS
        with pytest.raises(ValueError) as ei:
            foreign.copy_from_ref(env.worker, "results")
        assert str(ei.value) == CROSS
        env.assert_main_unchanged()

    def test_other_repository_checked_first(self, env, foreign):
        with pytest.raises(ValueError, match="same repo"):
            env.main.copy_from_ref(foreign, "missing/path")
        with pytest.raises(ValueError, match="same repo"):
            env.main.copy_from_ref(foreign, "results", dry_run=True)
        with pytest.raises(ValueError, match="same repo"):
            env.store.tags["v1"].copy_from_ref(foreign, "results")

    def test_source_must_be_a_snapshot(self, env):
        with pytest.raises(TypeError):
            env.main.copy_from_ref("worker", "results")

    def test_missing_source(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.main.copy_from_ref(env.worker, "nonexistent")
        assert str(ei.value) == "File not found in repo: nonexistent"
        env.assert_main_unchanged()

    def test_missing_among_several_nothing_committed(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.main.copy_from_ref(env.worker, ["results", "keep/k.txt"])
        # keep/k.txt exists on main only: sources are looked up in the source
        assert str(ei.value) == "File not found in repo: keep/k.txt"
        env.assert_main_unchanged()

    @pytest.mark.parametrize("source,shown", [
        ("results/a.json/", "results/a.json"), ("missing/", "missing"),
        ("results/./a.json/", "results/a.json"),
    ])
    def test_trailing_slash_on_non_directory(self, env, source, shown):
        with pytest.raises(NotADirectoryError) as ei:
            env.main.copy_from_ref(env.worker, source)
        assert str(ei.value) == f"Not a directory in repo: {shown}"

    @pytest.mark.parametrize("sources,dest,msg", [
        ("a//b", "", "Empty segment in path: 'a//b'"),
        ("results", "a//b", "Empty segment in path: 'a//b'"),
        ("results", "..", "Invalid path segment: '..'"),
        ("results/../data", "", "Invalid path segment: '..'"),
    ])
    def test_invalid_paths(self, env, sources, dest, msg):
        with pytest.raises(ValueError) as ei:
            env.main.copy_from_ref(env.worker, sources, dest)
        assert str(ei.value) == msg
        env.assert_main_unchanged()

    @pytest.mark.parametrize("tag", ["v1", "v2"])
    def test_tag_is_read_only(self, env, tag):
        snap = env.store.tags[tag]
        with pytest.raises(PermissionError) as ei:
            snap.copy_from_ref(env.main, "keep")
        assert str(ei.value) == f"Cannot write to read-only snapshot (ref '{tag}')"
        assert env.g.rev(f"refs/tags/{tag}^{{commit}}") == env.shas["w"]

    def test_tag_is_read_only_even_for_a_noop(self, env):
        snap = env.store.tags["v1"]
        with pytest.raises(PermissionError) as ei:
            snap.copy_from_ref(env.worker, "results")
        assert "write to" in str(ei.value)

    def test_detached_is_read_only(self, env):
        snap = FS(env.store, env.shas["w"].encode())
        with pytest.raises(PermissionError) as ei:
            snap.copy_from_ref(env.main, "keep")
        assert str(ei.value) == "Cannot write to read-only snapshot"
        with pytest.raises(PermissionError):
            snap.copy_from_ref(env.worker, "readme.txt")

    def test_missing_source_before_permission_check(self, env):
        with pytest.raises(FileNotFoundError):
            env.store.tags["v1"].copy_from_ref(env.worker, "nonexistent")

    def test_stale_snapshot(self, env):
        main = env.main
        moved = main.write("conflict.txt", b"c")
        with pytest.raises(StaleSnapshotError) as ei:
            main.copy_from_ref(env.worker, "results")
        assert str(ei.value) == STALE
        assert env.tip() == moved.commit_hash

    def test_stale_snapshot_even_for_a_noop(self, env):
        main = env.main
        main.write("conflict.txt", b"c")
        with pytest.raises(StaleSnapshotError):
            main.copy_from_ref(env.worker, "readme.txt")

    def test_bad_placeholders_nothing_committed(self, env):
        with pytest.raises(KeyError):
            env.main.copy_from_ref(env.worker, "results", message="{nope}")
        with pytest.raises(IndexError):
            env.main.copy_from_ref(env.worker, "results", message="{0}")
        env.assert_main_unchanged()


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

class TestCopyFromRefMessage:
    def test_custom_message(self, env):
        main = env.main
        new = main.copy_from_ref(env.worker, "results", message="Import results from worker")
        env.check_single_commit(new, main, "Import results from worker")

    def test_placeholders(self, env):
        new = env.main.copy_from_ref(
            env.worker, "data",
            message="{op}: {default} ({add_count}+{update_count}+{delete_count}={total_count})")
        assert new.message == "cp: Batch cp: +1 ~1 (1+1+0=2)"

    def test_placeholders_with_delete(self, env):
        main = with_extras(env.main, "results/")
        new = main.copy_from_ref(env.worker, "results", delete=True,
                                 message="{delete_count:02d} gone; {default}")
        assert new.message == "07 gone; Batch cp: +3 -7"

    def test_escaped_braces(self, env):
        new = env.main.copy_from_ref(env.worker, "links", message="{{sync}} {default}")
        assert new.message == "{sync} + links/readme (link)"

    def test_empty_message_means_auto(self, env):
        new = env.main.copy_from_ref(env.worker, "results", message="")
        assert new.message == "Batch cp: +3"


# ---------------------------------------------------------------------------
# Cost: objects are reused, never read
# ---------------------------------------------------------------------------

class TestCopyFromRefCost:
    def test_big_file_copy_is_instant(self, env):
        data = bytes(range(256)) * (128 * 1024)   # 32 MiB
        big = env.g("-c", "core.compression=0", "hash-object", "-w", "--stdin", input=data)
        tree = env.g("mktree", input=f"100644 blob {big}\tbig.bin\n".encode())
        commit = env.g("commit-tree", tree, "-m", "big")
        env.g("update-ref", "refs/heads/big", commit)
        src = env.store.branches["big"]
        t0 = time.perf_counter()
        src.read("big.bin")
        read_time = time.perf_counter() - t0
        main = env.main
        objects = env.objects()
        t0 = time.perf_counter()
        new = main.copy_from_ref(src, "big.bin", "store")
        copy_time = time.perf_counter() - t0
        assert new.object_hash("store/big.bin") == big
        assert env.files()["store/big.bin"] == ("100644", big)
        # reading the content once already costs more than the whole copy
        assert copy_time < max(read_time / 2, 0.05), (copy_time, read_time)
        # only trees and the commit were written
        created = {oid: t for oid, t in env.objects().items() if oid not in objects}
        assert set(created.values()) == {"commit", "tree"}

    def test_no_blob_written_for_a_directory_copy(self, env):
        objects = env.objects()
        env.main.copy_from_ref(env.worker, ["results", "bin", "links"], "copy")
        created = {oid: t for oid, t in env.objects().items() if oid not in objects}
        assert set(created.values()) <= {"commit", "tree"}
        assert "blob" not in created.values()

    def test_blob_content_is_never_read(self, env):
        # The blob's loose object is cut short: its header is readable, its
        # content is not.  A copy that only reuses the id does not notice.
        data = bytes(range(256)) * 256
        blob = env.g("-c", "core.compression=0", "hash-object", "-w", "--stdin", input=data)
        tree = env.g("mktree", input=f"100755 blob {blob}\tcut.bin\n".encode())
        commit = env.g("commit-tree", tree, "-m", "cut")
        env.g("update-ref", "refs/heads/cut", commit)
        loose = loose_object_path(env.path, blob)
        original = loose.read_bytes()
        os.chmod(loose, 0o644)
        loose.write_bytes(original[:200])
        try:
            assert not env.g.ok("cat-file", "blob", blob)
            src = env.store.branches["cut"]
            new = env.main.copy_from_ref(src, "", "cut")
            assert new.changes == ChangeReport(add=add("cut/cut.bin", typ=EXE))
            assert env.files()["cut/cut.bin"] == ("100755", blob)
            dry = new.copy_from_ref(src, "cut.bin", "again", dry_run=True)
            assert dry.changes == ChangeReport(add=add("again/cut.bin", typ=EXE))
        finally:
            loose.write_bytes(original)
