"""GitStore.backup / GitStore.restore to and from local destinations: plain
paths, ``file://`` URLs, ``os.PathLike`` objects and bundle files.

Every result is checked with the git command line (for-each-ref, ls-remote,
symbolic-ref, fsck, bundle verify, clone); network transports are tested
elsewhere.  Covered here:

* backup: a missing destination is created (bare, HEAD on the store's
  current branch), an empty directory is initialised, an existing repository
  becomes an exact copy (diverged history overwritten, remote-only refs
  deleted, its HEAD untouched); dry runs create and move nothing;
* restore: the store becomes an exact copy of the source, HEAD stays valid,
  snapshots taken before keep reading, and writes from them are stale;
* the exact MirrorDiff / RefChange contents (annotated tags by their tag
  object id, notes refs);
* ``refs=`` selections (lists and renaming dicts) in both directions and for
  bundles;
* bundles written by us and by ``git bundle create --all``;
* URL handling, progress callbacks, the repository lock;
* a backup killed with SIGKILL leaves a valid destination.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import gitstore
from gitstore import GitError, GitStore, MirrorDiff, RefChange, StaleSnapshotError

from support import Commit, Git, Tag, assert_fsck_clean, bounded, build_repo, git_run

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def refs_of(path) -> dict[str, str]:
    """{full ref name: direct target} of a repository, HEAD excluded, as
    git for-each-ref lists them (annotated tags by their tag object id)."""
    out = git_run("--git-dir", path, "for-each-ref",
                  "--format=%(refname) %(objectname)").stdout.decode()
    return dict(line.split(" ") for line in out.splitlines())


def ls_remote(url) -> dict[str, str]:
    """What git ls-remote advertises for url, minus HEAD and peeled entries."""
    out = git_run("ls-remote", url).stdout.decode()
    refs = {}
    for line in out.splitlines():
        sha, name = line.split("\t")
        if name != "HEAD" and not name.endswith("^{}"):
            refs[name] = sha
    return refs


def ls_remote_from(git_dir, url) -> dict[str, str]:
    """ls_remote(url) run with git_dir's configuration."""
    out = git_run("--git-dir", git_dir, "ls-remote", url).stdout.decode()
    return {name: sha for sha, name in (line.split("\t") for line in out.splitlines())}


def head_of(path) -> str:
    return git_run("--git-dir", path, "symbolic-ref", "HEAD").stdout.decode().strip()


def is_bare_repo(path) -> bool:
    proc = git_run("--git-dir", path, "rev-parse", "--is-bare-repository", check=False)
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


def has_object(path, sha) -> bool:
    return git_run("--git-dir", path, "cat-file", "-e", sha, check=False).returncode == 0


def bundle_heads(bundle) -> dict[str, str]:
    """{ref name: sha} the bundle lists (HEAD included when it carries it)."""
    out = git_run("bundle", "list-heads", bundle).stdout.decode()
    return dict(reversed(line.split(" ", 1)) for line in out.splitlines())


def bundle_verify(bundle, tmp_path) -> None:
    """git bundle verify needs a repository; an empty one proves the bundle
    is complete (no prerequisites)."""
    empty = tmp_path / "verify-empty.git"
    if not empty.exists():
        git_run("init", "--bare", "-q", empty)
    proc = git_run("--git-dir", empty, "bundle", "verify", bundle, check=False)
    assert proc.returncode == 0, proc.stderr.decode()


def raw_refs(path: Path) -> dict[str, str]:
    """Refs read from the files themselves (loose refs over packed-refs), so
    that a ref pointing at a missing object, or a half-written ref file, is
    seen (git for-each-ref would skip it with a warning)."""
    refs = {}
    packed = path / "packed-refs"
    if packed.exists():
        for line in packed.read_text().splitlines():
            if line and not line.startswith(("#", "^")):
                sha, name = line.split(" ", 1)
                refs[name] = sha
    for f in (path / "refs").rglob("*"):
        if f.is_file() and not f.name.endswith(".lock"):
            text = f.read_text(errors="replace").strip()
            if not text.startswith("ref: "):
                refs[f.relative_to(path).as_posix()] = text
    return refs


def assert_repo_valid(path: Path) -> dict[str, str]:
    """The repository opens, fsck --strict is clean, and every ref it has
    points at an object it has.  Returns its refs."""
    GitStore.open(path, create=False)
    assert_fsck_clean(path)
    raw = raw_refs(path)
    for name, sha in raw.items():
        assert len(sha) == 40 and all(c in "0123456789abcdef" for c in sha), (name, sha)
    if raw:
        names = list(raw)
        out = git_run("--git-dir", path, "cat-file", "--batch-check=%(objectname)",
                      input="".join(raw[n] + "\n" for n in names).encode()).stdout.decode()
        for name, line in zip(names, out.splitlines()):
            assert line == raw[name], f"{name} -> {raw[name]}: {line}"
    proc = git_run("--git-dir", path, "for-each-ref", "--format=%(refname) %(objectname)")
    assert proc.stderr == b"", proc.stderr.decode()
    listed = dict(line.split(" ") for line in proc.stdout.decode().splitlines())
    assert listed == raw
    return listed


def norm(diff) -> dict[str, list[tuple]]:
    """A MirrorDiff as sorted (ref, old, new) lists (list order is unspecified)."""
    assert isinstance(diff, MirrorDiff)
    out = {}
    for kind in ("add", "update", "delete"):
        changes = getattr(diff, kind)
        assert all(isinstance(c, RefChange) for c in changes)
        out[kind] = sorted((c.ref, c.old_target, c.new_target) for c in changes)
    return out


def expected(add=None, update=None, delete=None) -> dict[str, list[tuple]]:
    """add: {ref: new}; update: {ref: (old, new)}; delete: {ref: old}."""
    return {
        "add": sorted((r, None, new) for r, new in (add or {}).items()),
        "update": sorted((r, old, new) for r, (old, new) in (update or {}).items()),
        "delete": sorted((r, old, None) for r, old in (delete or {}).items()),
    }


def state_of(path) -> tuple:
    """Refs and HEAD of a repository, for "nothing changed" checks."""
    return refs_of(path), (Path(path) / "HEAD").read_text()


class Source:
    """A store with several branches (current: main), a lightweight tag v1,
    an annotated tag v2 (made by git) and a notes ref."""

    def __init__(self, path: Path):
        self.path = path
        self.store = GitStore.open(path)
        self.g = Git(path)
        main = self.store.branches["main"].apply(
            {"a.txt": b"alpha\n", "dir/b.txt": b"beta\n"}, message="files")
        self.store.branches.set("dev", main).write("dev.txt", b"dev\n")
        self.store.tags["v1"] = main
        self.g("tag", "-a", "v2", "-m", "annotated", "refs/heads/main")
        self.store.notes["commits"][main.commit_hash] = "a note"

    @property
    def main(self):
        return self.store.branches["main"]

    def refs(self) -> dict[str, str]:
        return refs_of(self.path)


@pytest.fixture
def src(tmp_path):
    return Source(tmp_path / "src.git")


def foreign_repo(path: Path) -> dict[str, str]:
    """A repository made by git, unrelated to any store: branches main,
    other; tags old (light), ann (annotated); notes ref refs/notes/foreign.
    HEAD -> main.  Returns its refs."""
    shas = build_repo(path, [
        Commit({"f.txt": b"foreign 1\n"}, label="f1"),
        Commit({"f.txt": b"foreign 2\n"}, label="f2"),
        Commit({"o.txt": b"other\n"}, branch="other", parents=["f1"], label="o1"),
    ], tags=[Tag("ann", "f2", message="annotated foreign\n")], lightweight={"old": "f1"})
    Git(path)("notes", "--ref", "foreign", "add", "-m", "foreign note", shas["f2"])
    return refs_of(path)


# ---------------------------------------------------------------------------
# backup
# ---------------------------------------------------------------------------

class TestBackupNewDestination:
    def test_missing_path_is_created_bare_with_head_on_current_branch(self, src, tmp_path):
        src.store.branches.current = "dev"
        dest = tmp_path / "backup.git"
        diff = src.store.backup(str(dest))
        refs = src.refs()
        assert set(refs) == {"refs/heads/main", "refs/heads/dev", "refs/tags/v1",
                             "refs/tags/v2", "refs/notes/commits"}
        assert norm(diff) == expected(add=refs)
        assert is_bare_repo(dest)
        assert head_of(dest) == "refs/heads/dev"
        assert refs_of(dest) == refs
        assert ls_remote(dest) == refs
        assert_repo_valid(dest)
        assert GitStore.open(dest, create=False).branches.current_name == "dev"
        # the annotated tag travelled as a tag object
        assert git_run("--git-dir", dest, "cat-file", "-t", "refs/tags/v2").stdout == b"tag\n"
        assert Git(dest)("cat-file", "-p", "main:dir/b.txt") == "beta"

    def test_pathlike_destination(self, src, tmp_path):
        class Where:
            def __init__(self, p):
                self.p = p

            def __fspath__(self):
                return self.p

        dest = tmp_path / "pl.git"
        src.store.backup(Where(str(dest)))
        assert refs_of(dest) == src.refs()
        restored = GitStore.open(tmp_path / "r.git", branch=None)
        restored.restore(Where(str(dest)))
        assert refs_of(tmp_path / "r.git") == src.refs()

    def test_relative_paths(self, src, tmp_path, monkeypatch):
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path / "sub")
        src.store.backup("./rel.git")
        assert refs_of(tmp_path / "sub" / "rel.git") == src.refs()
        assert head_of(tmp_path / "sub" / "rel.git") == "refs/heads/main"
        src.store.backup("../up.git")
        assert refs_of(tmp_path / "up.git") == src.refs()
        other = GitStore.open(tmp_path / "other.git", branch=None)
        other.restore("../up.git")
        assert refs_of(tmp_path / "other.git") == src.refs()

    def test_missing_parent_raises(self, src, tmp_path):
        dest = tmp_path / "no" / "such" / "backup.git"
        with pytest.raises(FileNotFoundError):
            src.store.backup(str(dest))
        assert not (tmp_path / "no").exists()

    def test_dry_run_creates_nothing_and_lists_every_ref_as_add(self, src, tmp_path):
        dest = tmp_path / "backup.git"
        calls = []
        diff = src.store.backup(str(dest), dry_run=True, progress=calls.append)
        assert norm(diff) == expected(add=src.refs())
        assert not dest.exists()
        assert calls == []

    def test_existing_empty_directory_is_initialised(self, src, tmp_path):
        src.store.branches.current = "dev"
        dest = tmp_path / "empty"
        dest.mkdir()
        diff = src.store.backup(dest)
        assert norm(diff) == expected(add=src.refs())
        assert is_bare_repo(dest)
        assert head_of(dest) == "refs/heads/dev"
        assert refs_of(dest) == src.refs()
        assert_repo_valid(dest)

    def test_dry_run_into_empty_directory_leaves_it_empty(self, src, tmp_path):
        dest = tmp_path / "empty"
        dest.mkdir()
        diff = src.store.backup(dest, dry_run=True)
        assert norm(diff) == expected(add=src.refs())
        assert list(dest.iterdir()) == []


class TestBackupExistingDestination:
    def test_existing_repo_becomes_exact_copy(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        shas = build_repo(dest, [
            Commit({"x": b"diverged\n"}, label="d1"),
            Commit({"y": b"remote only\n"}, branch="remote-only", label="r1"),
            Commit({"z": b"dev there\n"}, branch="dev", label="dv"),
        ], tags=[Tag("gone", "d1")], lightweight={"v1": "d1"})
        Git(dest)("symbolic-ref", "HEAD", "refs/heads/dev")
        before = refs_of(dest)
        local = src.refs()
        diff = src.store.backup(dest)
        assert norm(diff) == expected(
            add={r: local[r] for r in ("refs/tags/v2", "refs/notes/commits")},
            update={r: (before[r], local[r]) for r in ("refs/heads/main", "refs/heads/dev",
                                                       "refs/tags/v1")},
            delete={r: before[r] for r in ("refs/heads/remote-only", "refs/tags/gone")},
        )
        assert refs_of(dest) == local
        assert ls_remote(dest) == local
        # the diverged history is gone from main's ancestry: overwritten, not merged
        assert shas["d1"] not in Git(dest).lines("rev-list", "refs/heads/main")
        assert head_of(dest) == "refs/heads/dev"
        assert_repo_valid(dest)

    def test_remote_head_untouched_even_if_dangling(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        build_repo(dest, [Commit({"y": b"1"}, branch="elsewhere")], head="elsewhere")
        src.store.backup(dest)
        assert head_of(dest) == "refs/heads/elsewhere"
        assert refs_of(dest) == src.refs()

    def test_second_backup_reports_update(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        old = src.main.commit_hash
        new = src.main.write("c.txt", b"gamma\n").commit_hash
        diff = src.store.backup(dest)
        assert norm(diff) == expected(update={"refs/heads/main": (old, new)})
        assert diff.total == 1 and not diff.in_sync
        assert refs_of(dest) == src.refs()
        assert Git(dest)("cat-file", "-p", "main:c.txt") == "gamma"
        assert_repo_valid(dest)

    def test_dry_run_after_backup_is_in_sync(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        diff = src.store.backup(dest, dry_run=True)
        assert diff.in_sync and diff.total == 0
        assert norm(diff) == expected()
        assert src.store.backup(dest).in_sync

    def test_dry_run_reports_without_moving(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        before = state_of(dest)
        old = src.main.commit_hash
        new = src.main.write("c.txt", b"gamma\n").commit_hash
        del src.store.branches["dev"]
        diff = src.store.backup(dest, dry_run=True)
        assert norm(diff) == expected(update={"refs/heads/main": (old, new)},
                                      delete={"refs/heads/dev": before[0]["refs/heads/dev"]})
        assert state_of(dest) == before
        assert not has_object(dest, new)

    def test_exact_diff_for_tags_notes_and_branches(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        main = src.main
        for name in ("b1", "b2", "b3"):
            src.store.branches[name] = main
        src.g("tag", "-a", "v3", "-m", "three", "refs/heads/dev")
        ns = src.store.notes["review"]
        ns[main.commit_hash] = "ok"
        src.store.notes["commits"][main.commit_hash] = "changed note"
        old_notes = refs_of(dest)["refs/notes/commits"]
        diff = src.store.backup(dest)
        local = src.refs()
        tag_object = src.g.rev("refs/tags/v3")
        assert tag_object != src.g.rev("refs/tags/v3^{commit}")
        assert local["refs/tags/v3"] == tag_object
        assert norm(diff) == expected(
            add={r: local[r] for r in ("refs/heads/b1", "refs/heads/b2", "refs/heads/b3",
                                       "refs/tags/v3", "refs/notes/review")},
            update={"refs/notes/commits": (old_notes, local["refs/notes/commits"])},
        )
        assert refs_of(dest) == local
        assert Git(dest)("notes", "--ref", "review", "show", main.commit_hash) == "ok"

    def test_store_without_refs_deletes_every_remote_ref(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        before = refs_of(dest)
        empty = GitStore.open(tmp_path / "empty.git", branch=None)
        assert refs_of(tmp_path / "empty.git") == {}
        dry = empty.backup(dest, dry_run=True)
        assert norm(dry) == expected(delete=before)
        assert refs_of(dest) == before
        diff = empty.backup(dest)
        assert norm(diff) == expected(delete=before)
        assert refs_of(dest) == {}
        assert head_of(dest) == "refs/heads/main"
        assert_fsck_clean(dest)


# ---------------------------------------------------------------------------
# restore
# ---------------------------------------------------------------------------

class TestRestore:
    def test_exact_copy(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        local = src.refs()
        diff = src.store.restore(source)
        assert norm(diff) == expected(
            add={r: remote[r] for r in ("refs/heads/other", "refs/tags/old", "refs/tags/ann",
                                        "refs/notes/foreign")},
            update={"refs/heads/main": (local["refs/heads/main"], remote["refs/heads/main"])},
            delete={r: local[r] for r in ("refs/heads/dev", "refs/tags/v1", "refs/tags/v2",
                                          "refs/notes/commits")},
        )
        assert src.refs() == remote
        assert src.store.branches["main"].read("f.txt") == b"foreign 2\n"
        assert sorted(src.store.branches) == ["main", "other"]
        assert sorted(src.store.tags) == ["ann", "old"]
        assert src.store.branches.current_name == "main"
        assert_repo_valid(src.path)

    def test_roundtrip_through_backup(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        other = GitStore.open(tmp_path / "other.git")
        other.branches["main"].write("mine", b"local only")
        other.branches["feature"] = other.branches["main"]
        other.tags["t"] = other.branches["main"]
        other.notes["commits"][other.branches["main"].commit_hash] = "local note"
        mine = refs_of(tmp_path / "other.git")
        theirs = src.refs()
        diff = other.restore(dest)
        assert norm(diff) == expected(
            add={r: theirs[r] for r in ("refs/heads/dev", "refs/tags/v1", "refs/tags/v2")},
            update={r: (mine[r], theirs[r]) for r in ("refs/heads/main", "refs/notes/commits")},
            delete={r: mine[r] for r in ("refs/heads/feature", "refs/tags/t")})
        assert refs_of(tmp_path / "other.git") == src.refs()
        assert other.notes["commits"][src.main.commit_hash] == "a note"
        assert other.restore(dest, dry_run=True).in_sync
        assert_repo_valid(tmp_path / "other.git")

    def test_dry_run_changes_nothing(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        before = state_of(src.path)
        calls = []
        diff = src.store.restore(source, dry_run=True, progress=calls.append)
        assert diff.total == 9
        assert state_of(src.path) == before
        assert not has_object(src.path, remote["refs/heads/other"])
        assert calls == []

    @pytest.mark.parametrize("dry_run", [False, True])
    def test_missing_source_raises_git_error(self, src, tmp_path, dry_run):
        before = state_of(src.path)
        missing = tmp_path / "nowhere.git"
        with pytest.raises(GitError) as info:
            src.store.restore(str(missing), dry_run=dry_run)
        assert str(missing) in str(info.value)
        assert state_of(src.path) == before
        assert not missing.exists()

    @pytest.mark.parametrize("kind", ["empty-dir", "dir-with-file", "plain-file"])
    @pytest.mark.parametrize("dry_run", [False, True])
    def test_non_repository_source_raises_git_error(self, src, tmp_path, kind, dry_run):
        path = tmp_path / "notrepo"
        if kind == "plain-file":
            path.write_bytes(b"not a repository\n")
        else:
            path.mkdir()
            if kind == "dir-with-file":
                (path / "README").write_text("hello\n")
        before = state_of(src.path)
        with pytest.raises(GitError) as info:
            src.store.restore(path, dry_run=dry_run)
        assert str(path) in str(info.value)
        assert state_of(src.path) == before

    def test_head_follows_source_when_its_branch_is_deleted(self, src, tmp_path):
        source = tmp_path / "trunk.git"
        build_repo(source, [Commit({"t": b"trunk\n"}, branch="trunk")], head="trunk")
        src.store.restore(source)
        assert refs_of(src.path) == refs_of(source)
        assert head_of(src.path) == "refs/heads/trunk"
        assert src.store.branches.current_name == "trunk"
        assert src.store.branches.current.read("t") == b"trunk\n"

    def test_head_kept_when_its_branch_survives(self, src, tmp_path):
        src.store.branches.current = "dev"
        source = tmp_path / "foreign.git"
        build_repo(source, [Commit({"t": b"1"}), Commit({"d": b"2"}, branch="dev")])
        src.store.restore(source)
        assert head_of(src.path) == "refs/heads/dev"
        assert src.store.branches.current.read("d") == b"2"

    def test_old_snapshots_read_and_writes_are_stale(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        foreign_repo(source)
        before = src.main
        dev_before = src.store.branches["dev"]
        src.store.restore(source)
        assert before.read("a.txt") == b"alpha\n"
        assert dev_before.read("dev.txt") == b"dev\n"          # its branch is gone
        assert sorted(before.ls()) == ["a.txt", "dir"]
        with pytest.raises(StaleSnapshotError):
            before.write("new.txt", b"x")
        assert src.refs()["refs/heads/main"] == Git(source).rev("refs/heads/main")
        fresh = src.main.write("new.txt", b"x")
        assert fresh.read("f.txt") == b"foreign 2\n"

    def test_source_without_refs_deletes_every_local_ref(self, src, tmp_path):
        source = tmp_path / "empty.git"
        git_run("init", "--bare", "-q", source)
        before = src.refs()
        diff = src.store.restore(source)
        assert norm(diff) == expected(delete=before)
        assert src.refs() == {}
        assert_fsck_clean(src.path)


# ---------------------------------------------------------------------------
# refs=
# ---------------------------------------------------------------------------

class TestRefsSelection:
    @pytest.fixture
    def ambiguous(self, src):
        """x is a branch, a tag and a notes namespace; y a tag and a notes
        namespace; z only a notes namespace."""
        main = src.main
        src.store.branches["x"] = main
        src.store.tags["x"] = src.store.branches["dev"]
        src.store.tags["y"] = main
        for ns in ("x", "y", "z"):
            src.store.notes[ns][main.commit_hash] = ns
        return src

    def test_short_names_resolve_heads_tags_notes(self, ambiguous, tmp_path):
        dest = tmp_path / "dest.git"
        diff = ambiguous.store.backup(dest, refs=["x", "y", "z"])
        local = ambiguous.refs()
        picked = {r: local[r] for r in ("refs/heads/x", "refs/tags/y", "refs/notes/z")}
        assert norm(diff) == expected(add=picked)
        assert refs_of(dest) == picked

    def test_full_names_taken_as_is(self, ambiguous, tmp_path):
        dest = tmp_path / "dest.git"
        diff = ambiguous.store.backup(dest, refs=["refs/tags/x", "refs/notes/x", "refs/tags/v2"])
        local = ambiguous.refs()
        picked = {r: local[r] for r in ("refs/tags/x", "refs/notes/x", "refs/tags/v2")}
        assert norm(diff) == expected(add=picked)
        assert refs_of(dest) == picked

    def test_backup_moves_only_selected_and_deletes_nothing(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        git_run("--git-dir", dest, "update-ref", "refs/heads/extra",
                refs_of(dest)["refs/heads/main"])
        before = refs_of(dest)
        src.main.write("m", b"main moved")
        dev_old = before["refs/heads/dev"]
        dev_new = src.store.branches["dev"].write("d", b"dev moved").commit_hash
        del src.store.tags["v1"]
        diff = src.store.backup(dest, refs=["dev"])
        assert norm(diff) == expected(update={"refs/heads/dev": (dev_old, dev_new)})
        assert refs_of(dest) == {**before, "refs/heads/dev": dev_new}

    def test_backup_dict_renames(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        local = src.refs()
        diff = src.store.backup(dest, refs={"main": "archive/main", "v2": "v2-old",
                                            "refs/notes/commits": "refs/notes/saved",
                                            "refs/heads/dev": "dev2"})
        renamed = {"refs/heads/archive/main": local["refs/heads/main"],
                   "refs/tags/v2-old": local["refs/tags/v2"],
                   "refs/notes/saved": local["refs/notes/commits"],
                   "refs/heads/dev2": local["refs/heads/dev"]}
        assert norm(diff) == expected(add=renamed)
        assert refs_of(dest) == renamed
        assert git_run("--git-dir", dest, "cat-file", "-t", "refs/tags/v2-old").stdout == b"tag\n"
        assert_repo_valid(dest)

    def test_backup_unknown_name_raises_key_error_and_moves_nothing(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        src.main.write("m", b"moved")
        before = state_of(dest)
        with pytest.raises(KeyError):
            src.store.backup(dest, refs=["main", "nope"])
        with pytest.raises(KeyError):
            src.store.backup(dest, refs={"main": "m2", "refs/heads/nope": "n"})
        with pytest.raises(KeyError):
            src.store.backup(dest, refs=["main", "nope"], dry_run=True)
        assert state_of(dest) == before

    def test_restore_list_moves_only_selected(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        src.store.branches["other"] = src.main          # will be overwritten
        before = src.refs()
        diff = src.store.restore(source, refs=["other", "ann", "refs/notes/foreign"])
        assert norm(diff) == expected(
            add={r: remote[r] for r in ("refs/tags/ann", "refs/notes/foreign")},
            update={"refs/heads/other": (before["refs/heads/other"], remote["refs/heads/other"])},
        )
        assert src.refs() == {**before, "refs/heads/other": remote["refs/heads/other"],
                              "refs/tags/ann": remote["refs/tags/ann"],
                              "refs/notes/foreign": remote["refs/notes/foreign"]}
        assert_repo_valid(src.path)

    def test_restore_dict_renames(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        before = src.refs()
        diff = src.store.restore(source, refs={"main": "from-foreign", "old": "foreign-old"})
        assert norm(diff) == expected(add={
            "refs/heads/from-foreign": remote["refs/heads/main"],
            "refs/tags/foreign-old": remote["refs/tags/old"]})
        assert src.refs() == {**before, "refs/heads/from-foreign": remote["refs/heads/main"],
                              "refs/tags/foreign-old": remote["refs/tags/old"]}
        assert src.store.branches["from-foreign"].read("f.txt") == b"foreign 2\n"

    def test_restore_unknown_name_raises_key_error_and_moves_nothing(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        foreign_repo(source)
        before = state_of(src.path)
        with pytest.raises(KeyError):
            src.store.restore(source, refs=["main", "nope"])
        with pytest.raises(KeyError):
            src.store.restore(source, refs={"other": "o", "v1": "v"})   # v1 is only local
        with pytest.raises(KeyError):
            src.store.restore(source, refs=["nope"], dry_run=True)
        assert state_of(src.path) == before

    def test_bundle_backup_and_restore_with_refs(self, src, tmp_path):
        bundle = tmp_path / "part.bundle"
        local = src.refs()
        diff = src.store.backup(bundle, refs={"main": "saved", "v2": "v2"})
        assert norm(diff) == expected(add={"refs/heads/saved": local["refs/heads/main"],
                                           "refs/tags/v2": local["refs/tags/v2"]})
        heads = bundle_heads(bundle)
        heads.pop("HEAD", None)
        assert heads == {"refs/heads/saved": local["refs/heads/main"],
                         "refs/tags/v2": local["refs/tags/v2"]}
        bundle_verify(bundle, tmp_path)
        other = GitStore.open(tmp_path / "other.git")
        before = refs_of(tmp_path / "other.git")
        diff = other.restore(bundle, refs=["v2"])
        assert norm(diff) == expected(add={"refs/tags/v2": local["refs/tags/v2"]})
        assert refs_of(tmp_path / "other.git") == {**before, "refs/tags/v2": local["refs/tags/v2"]}
        with pytest.raises(KeyError):
            other.restore(bundle, refs=["main"])
        with pytest.raises(KeyError):
            src.store.backup(tmp_path / "never.bundle", refs=["nope"])
        assert not (tmp_path / "never.bundle").exists()


# ---------------------------------------------------------------------------
# bundles
# ---------------------------------------------------------------------------

class TestBundles:
    def test_backup_to_bundle_file(self, src, tmp_path):
        src.store.branches.current = "dev"
        bundle = tmp_path / "store.bundle"
        diff = src.store.backup(str(bundle))
        refs = src.refs()
        assert norm(diff) == expected(add=refs)
        assert bundle.is_file()
        assert bundle.read_bytes().startswith(b"# v2 git bundle\n")
        bundle_verify(bundle, tmp_path)
        assert bundle_heads(bundle) == {**refs, "HEAD": refs["refs/heads/dev"]}
        # a plain clone checks out the store's current branch
        work = tmp_path / "work"
        git_run("clone", "-q", bundle, work)
        assert git_run("symbolic-ref", "HEAD", cwd=work).stdout.decode().strip() == \
            "refs/heads/dev"
        assert (work / "dev.txt").read_bytes() == b"dev\n"
        assert (work / "dir" / "b.txt").read_bytes() == b"beta\n"
        # a mirror clone has every ref, the annotated tag as a tag object
        mirror = tmp_path / "mirror.git"
        git_run("clone", "-q", "--mirror", bundle, mirror)
        assert refs_of(mirror) == refs
        assert_fsck_clean(mirror)

    @pytest.mark.parametrize("name", ["plain-name", "data.BUNDLE", "x.Bundle"])
    def test_format_bundle_and_suffix_case(self, src, tmp_path, name):
        bundle = tmp_path / name
        kwargs = {"format": "bundle"} if name == "plain-name" else {}
        src.store.backup(bundle, **kwargs)
        assert bundle.is_file()
        bundle_verify(bundle, tmp_path)
        heads = bundle_heads(bundle)
        heads.pop("HEAD")
        assert heads == src.refs()
        other = GitStore.open(tmp_path / "other.git")
        other.restore(bundle, **kwargs)
        assert refs_of(tmp_path / "other.git") == src.refs()

    def test_dry_run_writes_no_bundle(self, src, tmp_path):
        bundle = tmp_path / "store.bundle"
        diff = src.store.backup(bundle, dry_run=True)
        assert norm(diff) == expected(add=src.refs())
        assert not bundle.exists()
        assert list(tmp_path.iterdir()) == [src.path]

    def test_restore_from_our_bundle(self, src, tmp_path):
        bundle = tmp_path / "store.bundle"
        src.store.backup(bundle)
        other = GitStore.open(tmp_path / "other.git")
        other.branches["main"].write("x", b"local")
        other.branches["local-only"] = other.branches["main"]
        local = refs_of(tmp_path / "other.git")
        refs = src.refs()
        diff = other.restore(bundle)
        assert norm(diff) == expected(
            add={r: s for r, s in refs.items() if r != "refs/heads/main"},
            update={"refs/heads/main": (local["refs/heads/main"], refs["refs/heads/main"])},
            delete={"refs/heads/local-only": local["refs/heads/local-only"]})
        assert refs_of(tmp_path / "other.git") == refs
        assert other.branches["dev"].read("dev.txt") == b"dev\n"
        assert_repo_valid(tmp_path / "other.git")

    def test_restore_from_git_bundle_all(self, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        bundle = tmp_path / "git.bundle"
        git_run("--git-dir", source, "bundle", "create", "-q", bundle, "--all")
        store = GitStore.open(tmp_path / "s.git")
        dry = store.restore(bundle, dry_run=True)
        assert refs_of(tmp_path / "s.git") != remote
        diff = store.restore(bundle)
        assert norm(diff) == norm(dry)
        assert refs_of(tmp_path / "s.git") == remote
        assert store.branches["other"].read("o.txt") == b"other\n"
        assert_repo_valid(tmp_path / "s.git")

    def test_restore_from_git_bundle_v3(self, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        bundle = tmp_path / "v3.bundle"
        git_run("--git-dir", source, "bundle", "create", "-q", "--version=3", bundle, "--all")
        assert bundle.read_bytes().startswith(b"# v3 git bundle\n")
        store = GitStore.open(tmp_path / "s.git")
        store.restore(bundle)
        assert refs_of(tmp_path / "s.git") == remote

    def test_incremental_bundle_needs_its_prerequisite(self, tmp_path):
        source = tmp_path / "foreign.git"
        foreign_repo(source)
        g = Git(source)
        bundle = tmp_path / "incr.bundle"
        git_run("--git-dir", source, "bundle", "create", "-q", bundle, "main~1..main")
        # a store lacking main~1 cannot take it, and nothing moves
        lacking = GitStore.open(tmp_path / "lacking.git")
        before = state_of(tmp_path / "lacking.git")
        with pytest.raises(GitError) as info:
            lacking.restore(bundle)
        assert str(bundle) in str(info.value)
        assert state_of(tmp_path / "lacking.git") == before
        assert_repo_valid(tmp_path / "lacking.git")
        # a store that has it can
        having = GitStore.open(tmp_path / "having.git")
        having.restore(source, refs={"old": "base"})          # old is main~1
        assert refs_of(tmp_path / "having.git")["refs/tags/base"] == g.rev("main~1")
        main_before = refs_of(tmp_path / "having.git")["refs/heads/main"]
        diff = having.restore(bundle, refs=["main"])
        assert norm(diff) == expected(update={"refs/heads/main": (main_before, g.rev("main"))})
        assert having.branches["main"].read("f.txt") == b"foreign 2\n"
        assert_repo_valid(tmp_path / "having.git")

    def test_restore_bundle_head_follows_when_branch_deleted(self, tmp_path):
        source = tmp_path / "trunk.git"
        build_repo(source, [Commit({"t": b"trunk\n"}, branch="trunk")], head="trunk")
        bundle = tmp_path / "trunk.bundle"
        git_run("--git-dir", source, "bundle", "create", "-q", bundle, "--all")
        store = GitStore.open(tmp_path / "s.git")
        store.restore(bundle)
        assert head_of(tmp_path / "s.git") == "refs/heads/trunk"
        assert store.branches.current_name == "trunk"

    def test_second_backup_replaces_bundle(self, src, tmp_path):
        bundle = tmp_path / "store.bundle"
        src.store.backup(bundle)
        old = bundle_heads(bundle)
        new = src.main.write("c.txt", b"gamma\n").commit_hash
        del src.store.branches["dev"]
        del src.store.tags["v1"]
        # the diff is against the refs the existing bundle lists
        changes = expected(update={"refs/heads/main": (old["refs/heads/main"], new)},
                           delete={r: old[r] for r in ("refs/heads/dev", "refs/tags/v1")})
        assert norm(src.store.backup(bundle, dry_run=True)) == changes
        assert bundle_heads(bundle) == old
        assert norm(src.store.backup(bundle)) == changes
        bundle_verify(bundle, tmp_path)
        heads = bundle_heads(bundle)
        assert heads.pop("HEAD") == new
        assert heads == src.refs()
        assert "refs/heads/dev" not in heads
        other = GitStore.open(tmp_path / "other.git", branch=None)
        other.restore(bundle)
        assert refs_of(tmp_path / "other.git") == src.refs()
        assert [p for p in tmp_path.iterdir() if p.name.startswith("store")] == [bundle]

    @pytest.mark.parametrize("dry_run", [False, True])
    def test_garbage_bundle_raises_git_error(self, src, tmp_path, dry_run):
        bundle = tmp_path / "junk.bundle"
        bundle.write_bytes(b"this is not a bundle\n" * 10)
        before = state_of(src.path)
        with pytest.raises(GitError) as info:
            src.store.restore(bundle, dry_run=dry_run)
        assert str(bundle) in str(info.value)
        assert state_of(src.path) == before

    @pytest.mark.parametrize("dry_run", [False, True])
    def test_missing_bundle_raises_git_error(self, src, tmp_path, dry_run):
        bundle = tmp_path / "missing.bundle"
        with pytest.raises(GitError) as info:
            src.store.restore(bundle, dry_run=dry_run)
        assert str(bundle) in str(info.value)

    @pytest.mark.parametrize("cut", ["header", "pack-start", "pack-middle", "pack-end"])
    def test_truncated_bundle_raises_git_error(self, src, tmp_path, cut):
        full = tmp_path / "full.bundle"
        src.store.backup(full)
        data = full.read_bytes()
        pack_at = data.index(b"\n\nPACK") + 2
        keep = {"header": pack_at // 2, "pack-start": pack_at + 6,
                "pack-middle": (pack_at + len(data)) // 2, "pack-end": len(data) - 5}[cut]
        bundle = tmp_path / "cut.bundle"
        bundle.write_bytes(data[:keep])
        other = GitStore.open(tmp_path / "other.git")
        before = state_of(tmp_path / "other.git")
        with pytest.raises(GitError) as info:
            other.restore(bundle)
        assert str(bundle) in str(info.value)
        assert state_of(tmp_path / "other.git") == before
        assert_repo_valid(tmp_path / "other.git")

    @pytest.mark.parametrize("fmt", ["zip", "Bundle ", "", "git"])
    def test_bad_format_raises_value_error(self, src, tmp_path, fmt):
        with pytest.raises(ValueError):
            src.store.backup(tmp_path / "x.git", format=fmt)
        with pytest.raises(ValueError):
            src.store.restore(tmp_path / "x.git", format=fmt, dry_run=True)
        assert not (tmp_path / "x.git").exists()

    def test_bundle_format_with_network_url_raises_value_error(self, src):
        with pytest.raises(ValueError):
            src.store.backup("https://example.invalid/repo.git", format="bundle")
        with pytest.raises(ValueError):
            src.store.restore("ssh://example.invalid/repo.git", format="bundle", dry_run=True)


# ---------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------

class TestUrls:
    @pytest.mark.parametrize("url", ["ftp://example.invalid/r.git", "xyz://r", "git+ssh://h/r"])
    def test_other_schemes_raise_value_error(self, src, tmp_path, url):
        before = state_of(src.path)
        for dry_run in (False, True):
            with pytest.raises(ValueError):
                src.store.backup(url, dry_run=dry_run)
            with pytest.raises(ValueError):
                src.store.restore(url, dry_run=dry_run)
        assert state_of(src.path) == before

    @pytest.mark.parametrize("scheme", ["file://", "FILE://", "File://"])
    def test_file_urls_any_case(self, src, tmp_path, scheme):
        dest = tmp_path / "dest.git"
        url = scheme + str(dest)
        assert norm(src.store.backup(url, dry_run=True)) == expected(add=src.refs())
        assert not dest.exists()
        src.store.backup(url)
        assert refs_of(dest) == src.refs()
        assert head_of(dest) == "refs/heads/main"
        other = GitStore.open(tmp_path / "other.git", branch=None)
        other.restore(url)
        assert refs_of(tmp_path / "other.git") == src.refs()

    def test_tilde_is_expanded(self, src, tmp_path, monkeypatch):
        home = tmp_path / "home"
        home.mkdir()
        monkeypatch.setenv("HOME", str(home))
        src.store.backup("~/b.git")
        assert refs_of(home / "b.git") == src.refs()
        src.store.backup("~/b.bundle")
        bundle_verify(home / "b.bundle", tmp_path)
        other = GitStore.open(tmp_path / "other.git", branch=None)
        other.restore("~/b.git")
        assert refs_of(tmp_path / "other.git") == src.refs()
        assert not (Path.cwd() / "~").exists()

    @pytest.mark.parametrize("bad", [None, 42, 3.5, ["x"], object()])
    def test_bad_url_types_raise_type_error(self, src, bad):
        with pytest.raises(TypeError):
            src.store.backup(bad)
        with pytest.raises(TypeError):
            src.store.restore(bad, dry_run=True)

    @pytest.mark.parametrize("bad", [42, [42], {"main": 42}, {42: "main"}])
    def test_bad_refs_types_raise_type_error(self, src, tmp_path, bad):
        with pytest.raises(TypeError):
            src.store.backup(tmp_path / "d.git", refs=bad)
        assert not (tmp_path / "d.git").exists()


class TestInsteadOf:
    """url.<base>.insteadOf (and pushInsteadOf for backups) from the store's
    git configuration rewrite the URL before anything else, as git does:
    each case is checked against what git itself resolves."""

    @pytest.fixture
    def targets(self, tmp_path):
        """Repositories <tmp>/t/<dir>/<name>.git, each with one branch named
        after where it is, and a function giving that branch's name."""
        root = tmp_path / "t"

        def label(rel: str) -> str:
            return "at-" + rel.replace("/", "-").removesuffix(".git")

        for rel in ("a/x.git", "b/x.git", "c/x.git", "d/x.git", "e/x.git", "e/deep/x.git",
                    "f/x.git"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            GitStore.open(root / rel, branch=label(rel)).branches[label(rel)].write(
                "f.txt", rel.encode())
        return root, label

    def configure(self, src, root):
        """The rules: longest value wins; of equal values the base that
        comes first in the configuration (c: listed first for "zz:", before
        d) wins; pushInsteadOf for pushes first."""
        for key, base, value in [
            ("insteadOf", "a/", "al:"),
            ("insteadOf", "b/", "al:deep/"),
            ("insteadOf", "c/", "zz:"),
            ("insteadOf", "d/", "tie:"),
            ("insteadOf", "c/", "tie:"),
            ("pushInsteadOf", "e/", "al:"),
            ("insteadOf", "file://" + str(root) + "/f/", "ff:"),
        ]:
            base = base if base.startswith("file:") else str(root) + "/" + base
            src.g("config", "--add", f"url.{base}.{key}", value)

    @staticmethod
    def fetched_from(src, url) -> str:
        """The branch git ls-remote sees at url, from the store's config."""
        (name,) = [n for n in ls_remote_from(src.path, url) if n.startswith("refs/heads/at-")]
        return name

    @staticmethod
    def pushed_to(src, url) -> str:
        """Where git push would go for url."""
        out = git_run("--git-dir", src.path, "push", "--dry-run", "--porcelain", url,
                      "refs/heads/main:refs/heads/zz").stdout.decode()
        (line,) = [ln for ln in out.splitlines() if ln.startswith("To ")]
        return line[3:]

    @pytest.mark.parametrize("url, fetch, push", [
        ("al:x.git", "a/x.git", "e/x.git"),
        ("al:deep/x.git", "b/x.git", "e/deep/x.git"),
        ("tie:x.git", "c/x.git", "c/x.git"),
        ("ff:x.git", "f/x.git", "f/x.git"),
    ])
    def test_rewrites_as_git_does(self, src, tmp_path, targets, url, fetch, push):
        root, label = targets
        self.configure(src, root)
        # what git makes of the same URL with the same configuration
        assert self.fetched_from(src, url) == "refs/heads/" + label(fetch)
        assert self.pushed_to(src, url).removeprefix("file://") == str(root / push)

        other = GitStore.open(tmp_path / "other.git", branch=None)
        Git(tmp_path / "other.git")("config", "--file", tmp_path / "other.git" / "config",
                                    "--add", "include.path", str(src.path / "config"))
        diff = other.restore(url, dry_run=True)
        assert [c.ref for c in diff.add] == ["refs/heads/" + label(fetch)]
        diff = src.store.backup(url, dry_run=True)
        assert [c.ref for c in diff.delete] == ["refs/heads/" + label(push)]

        src.store.backup(url)
        assert refs_of(root / push) == src.refs()
        other.restore(url)
        assert refs_of(tmp_path / "other.git") == refs_of(root / fetch)

    def test_missing_destination_created_through_alias(self, src, tmp_path):
        # "backups:new.git" alone would be an scp-like ssh address.
        src.g("config", "url." + str(tmp_path) + "/store/.insteadOf", "backups:")
        (tmp_path / "store").mkdir()
        src.store.backup("backups:new.git")
        assert refs_of(tmp_path / "store" / "new.git") == src.refs()
        src.store.backup("backups:new.bundle")
        bundle_verify(tmp_path / "store" / "new.bundle", tmp_path)
        assert not list(tmp_path.glob("backups*"))

    def test_user_configuration_applies(self, tmp_path):
        gitconfig = Path.home() / ".gitconfig"
        assert not gitconfig.exists()
        gitconfig.write_text(f'[url "{tmp_path}/"]\n\tinsteadOf = mine:\n')
        try:
            src = Source(tmp_path / "src.git")
            src.store.backup("mine:dest.git")
            assert refs_of(tmp_path / "dest.git") == src.refs()
        finally:
            gitconfig.unlink()

    def test_configuration_read_at_each_call(self, src, tmp_path):
        other = GitStore.open(tmp_path / "other.git", branch=None)
        src.store.backup(tmp_path / "x.git")
        url = str(tmp_path / "nowhere" / "x.git")
        with pytest.raises(GitError):
            other.restore(url, dry_run=True)
        Git(tmp_path / "other.git")("config", f"url.{tmp_path}/.insteadOf",
                                    f"{tmp_path}/nowhere/")
        other.restore(url)
        assert refs_of(tmp_path / "other.git") == src.refs()

    def test_pathlike_is_not_rewritten(self, src, tmp_path, monkeypatch):
        src.g("config", "url." + str(tmp_path) + "/elsewhere/.insteadOf", "al")
        monkeypatch.chdir(tmp_path)
        src.store.backup(Path("al.git"))
        assert refs_of(tmp_path / "al.git") == src.refs()
        assert not (tmp_path / "elsewhere").exists()


# ---------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------

class Boom(Exception):
    pass


class TestProgress:
    def test_backup_progress_gets_bytes(self, src, tmp_path):
        calls = []
        src.store.backup(tmp_path / "dest.git", progress=calls.append)
        assert calls, "progress was never called"
        assert all(type(c) is bytes for c in calls)

    def test_restore_progress_gets_bytes(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        foreign_repo(source)
        calls = []
        src.store.restore(source, progress=calls.append)
        assert calls, "progress was never called"
        assert all(type(c) is bytes for c in calls)

    def test_bundle_progress_gets_bytes(self, src, tmp_path):
        calls = []
        src.store.backup(tmp_path / "x.bundle", progress=calls.append)
        assert calls and all(type(c) is bytes for c in calls)
        calls = []
        GitStore.open(tmp_path / "other.git").restore(tmp_path / "x.bundle", progress=calls.append)
        assert calls and all(type(c) is bytes for c in calls)

    def test_raising_progress_stops_backup(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        old = refs_of(dest)
        for i in range(3):
            src.store.branches[f"new{i}"] = src.main.write(f"n{i}", b"%d" % i)
        del src.store.tags["v1"]
        new = src.refs()

        def progress(line):
            raise Boom(line)

        with pytest.raises(Boom):
            src.store.backup(dest, progress=progress)
        after = assert_repo_valid(dest)
        for name in set(old) | set(new):
            assert after.get(name) in (old.get(name), new.get(name)), name
        src.store.backup(dest)
        assert refs_of(dest) == new

    def test_raising_progress_keeps_old_bundle(self, src, tmp_path):
        bundle = tmp_path / "store.bundle"
        src.store.backup(bundle)
        old = bundle.read_bytes()
        src.main.write("c.txt", b"gamma\n")

        def progress(line):
            raise Boom(line)

        with pytest.raises(Boom):
            src.store.backup(bundle, progress=progress)
        assert bundle.read_bytes() == old
        assert sorted(tmp_path.iterdir()) == sorted([src.path, bundle])   # no temporary left
        with pytest.raises(Boom):
            src.store.backup(tmp_path / "new.bundle", progress=progress)
        assert not (tmp_path / "new.bundle").exists()
        assert sorted(tmp_path.iterdir()) == sorted([src.path, bundle])

    def test_raising_progress_stops_restore(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        old = src.refs()

        def progress(line):
            raise Boom(line)

        with pytest.raises(Boom):
            src.store.restore(source, progress=progress)
        after = assert_repo_valid(src.path)
        for name in set(old) | set(remote):
            assert after.get(name) in (old.get(name), remote.get(name)), name
        src.store.restore(source)
        assert src.refs() == remote


# ---------------------------------------------------------------------------
# the repository lock
# ---------------------------------------------------------------------------

LOCK_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    fcntl.flock(fd, fcntl.LOCK_UN)
""")


def _in_thread(fn):
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            box["error"] = exc
        box["end"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


class TestLocking:
    def test_backup_waits_for_lock_held_by_other_process(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        git_run("init", "--bare", "-q", dest)
        p = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(src.path / "gitstore.lock"),
                              "1.5"], stdout=subprocess.PIPE)
        try:
            assert p.stdout.readline().strip() == b"locked"
            t0 = time.monotonic()
            t, box = _in_thread(lambda: src.store.backup(dest))
            time.sleep(0.3)
            if "error" in box:
                raise box["error"]
            assert t.is_alive(), "backup did not wait for the lock"
            assert refs_of(dest) == {}
            t.join(20)
            assert not t.is_alive()
        finally:
            p.wait(10)
        if "error" in box:
            raise box["error"]
        assert box["end"] - t0 >= 1.2
        assert refs_of(dest) == src.refs()

    def test_restore_waits_for_lock_held_by_other_process(self, src, tmp_path):
        source = tmp_path / "foreign.git"
        remote = foreign_repo(source)
        before = src.refs()
        p = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(src.path / "gitstore.lock"),
                              "1.5"], stdout=subprocess.PIPE)
        try:
            assert p.stdout.readline().strip() == b"locked"
            t0 = time.monotonic()
            t, box = _in_thread(lambda: src.store.restore(source))
            time.sleep(0.3)
            if "error" in box:
                raise box["error"]
            assert t.is_alive(), "restore did not wait for the lock"
            assert src.refs() == before
            t.join(20)
            assert not t.is_alive()
        finally:
            p.wait(10)
        if "error" in box:
            raise box["error"]
        assert box["end"] - t0 >= 1.2
        assert src.refs() == remote

    def test_backup_waits_for_lock_held_by_thread(self, src, tmp_path):
        """flock held on another descriptor of this process; the thread that
        releases it needs the GIL, so backup must not hold it while waiting."""
        fd = os.open(src.path / "gitstore.lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            released = []

            def release():
                time.sleep(0.5)
                released.append(time.monotonic())
                fcntl.flock(fd, fcntl.LOCK_UN)

            threading.Thread(target=release, daemon=True).start()
            bounded(lambda: src.store.backup(tmp_path / "dest.git"), 20)
            done = time.monotonic()
        finally:
            os.close(fd)
        assert released and done >= released[0]
        assert refs_of(tmp_path / "dest.git") == src.refs()

    def test_writer_waits_while_backup_is_parked_in_progress(self, src, tmp_path):
        entered, release = threading.Event(), threading.Event()
        main_before = src.main.commit_hash
        released = []

        def park(_line):
            if not entered.is_set():
                entered.set()
                release.wait(20)

        t, box = _in_thread(lambda: src.store.backup(tmp_path / "dest.git", progress=park))
        try:
            while not entered.wait(0.05) and t.is_alive():
                pass
            if "error" in box:
                raise box["error"]
            assert entered.is_set(), "progress was never called"
            other = GitStore.open(src.path)
            w, wbox = _in_thread(lambda: other.branches["main"].write("w", b"w"))
            time.sleep(0.4)
            assert w.is_alive(), "a write went through while backup held the lock"
        finally:
            released.append(time.monotonic())
            release.set()
        t.join(20)
        w.join(20)
        assert not t.is_alive() and not w.is_alive()
        for b in (box, wbox):
            if "error" in b:
                raise b["error"]
        # the write went through only once the backup let go of the lock,
        # and the backup sent main as it was before the write
        assert wbox["end"] >= released[0]
        assert refs_of(tmp_path / "dest.git")["refs/heads/main"] == main_before
        assert wbox["result"].commit_hash == src.refs()["refs/heads/main"] != main_before


class TestBigObjects:
    def test_big_loose_blobs_arrive_whole(self, tmp_path):
        """Big files are stored loose and deflated into a transfer's pack
        16 MiB of input at a time (the way objects of 4 GiB and more get
        through zlib's 32-bit counts): blobs of several steps, compressible
        or not, arrive whole in a repository, in a bundle and back."""
        rng = random.Random(13)
        blobs = {
            "random.bin": rng.randbytes(33 << 20),
            "mixed.bin": rng.randbytes(9 << 20) + b"a line of text\n" * (512 << 10),
        }
        store = GitStore.open(tmp_path / "s.git")
        fs = store.branches["main"].apply(blobs, message="big")
        ids = {name: fs.object_hash(name) for name in blobs}
        for name, blob in blobs.items():
            assert ids[name] == git_run("hash-object", "--stdin", input=blob).stdout.decode().strip()

        store.backup(tmp_path / "d.git")
        store.backup(tmp_path / "d.bundle")
        assert_fsck_clean(tmp_path / "d.git")
        bundle_verify(tmp_path / "d.bundle", tmp_path)
        for source in ("d.git", "d.bundle"):
            back = GitStore.open(tmp_path / f"back-{source}", branch=None)
            back.restore(tmp_path / source)
            for name, blob in blobs.items():
                assert back.branches["main"].read(name) == blob, (source, name)
        for name, blob in blobs.items():
            assert Git(tmp_path / "d.git").raw("cat-file", "blob", ids[name]) == blob


# ---------------------------------------------------------------------------
# SIGKILL
# ---------------------------------------------------------------------------

BACKUP_WORKER = textwrap.dedent("""
    import sys
    from gitstore import GitStore
    store = GitStore.open(sys.argv[1], create=False)
    print("ready", flush=True)
    sys.stdin.readline()
    store.backup(sys.argv[2])
    print("done", flush=True)
""")


def leftovers(dest: Path) -> list[Path]:
    """What a backup killed before its rename leaves beside dest."""
    return sorted(dest.parent.glob(glob_escape(dest.name) + ".gitstore-new-*"))


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _worker_env() -> dict:
    env = dict(os.environ)
    root = str(Path(gitstore.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_backup_worker(src: Path, dest: Path, kill_after: float | None) -> float:
    """Run a backup in a subprocess; SIGKILL it kill_after seconds after it
    starts (None: let it finish).  Returns how long it ran."""
    p = subprocess.Popen([sys.executable, "-c", BACKUP_WORKER, str(src), str(dest)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=_worker_env())
    try:
        line = p.stdout.readline()
        assert line.strip() == b"ready", (line, p.stderr.read())
        t0 = time.monotonic()
        p.stdin.write(b"go\n")
        p.stdin.flush()
        if kill_after is None:
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0 and out.strip() == b"done", err.decode()
        else:
            try:
                p.wait(kill_after)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
            p.wait(10)
        return time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


class BigSource:
    """A store with thousands of files, 40 branches and 40 tags; advance()
    adds thousands more, moves half the branches and deletes a third of the
    tags, so that a backup of it has real work in every phase."""

    def __init__(self, path: Path, rng: random.Random):
        self.path = path
        self.store = GitStore.open(path)
        self.data = rng.randbytes(1 << 20)
        fs = self.store.branches["main"].apply(self._files(0, 2000, 600), message="gen 0")
        for i in range(40):
            self.store.branches[f"b{i}"] = fs
            self.store.tags[f"t{i}"] = fs

    def _files(self, gen: int, n: int, size: int) -> dict[str, bytes]:
        out = {}
        for i in range(n):
            at = (i * 977 + gen * 31) % (len(self.data) - size)
            out[f"g{gen}/d{i % 40}/f{i}.bin"] = self.data[at:at + size] + b"%d" % i
        return out

    def advance(self) -> dict[str, str]:
        fs = self.store.branches["main"].apply(self._files(1, 1500, 900), message="gen 1")
        for i in range(0, 40, 2):
            self.store.branches[f"b{i}"] = fs
        for i in range(0, 40, 3):
            del self.store.tags[f"t{i}"]
        return refs_of(self.path)


class TestSigkill:
    def test_killed_backup_leaves_valid_destination(self, tmp_path):
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        big = BigSource(tmp_path / "big.git", rng)
        # a finished backup of the first state, kept as the "old" destination
        old_dest = tmp_path / "old.git"
        full = max(_run_backup_worker(big.path, old_dest, None), 0.05)
        old_refs = assert_repo_valid(old_dest)
        new_refs = big.advance()

        # Destinations: an empty repository (every object to send), a
        # copy of the old backup, or none (the backup creates it).
        for k in range(9):
            dest = tmp_path / f"k{k}.git"
            mode = k % 3
            empty = mode != 1
            if mode == 0:
                git_run("init", "--bare", "-q", dest)
            elif mode == 1:
                shutil.copytree(old_dest, dest)
            ran = _run_backup_worker(big.path, dest, rng.uniform(0.0, full * 1.2))
            where = f"seed {seed}, kill {k} after {ran:.3f}s of ~{full:.3f}s"
            if mode == 2 and not dest.exists():
                # killed before the new repository was renamed into place:
                # the next backup makes it, and removes what was left
                big.store.backup(dest)
                assert refs_of(dest) == new_refs, where
                assert leftovers(dest) == [], where
                continue
            after = assert_repo_valid(dest)
            before = {} if empty else old_refs
            for name in after:
                assert after[name] in (before.get(name), new_refs.get(name)), (where, name)
            if k < 6:
                continue
            # A later backup completes the job.  A ref's lock file left by
            # the killed process stops it, naming the file (as git does);
            # once that is removed the backup goes through.
            try:
                big.store.backup(dest)
            except GitError as exc:
                stale = [*(dest / "refs").rglob("*.lock"), *dest.glob("packed-refs.lock")]
                assert stale and any(str(f) in str(exc) for f in stale), (where, str(exc))
                for f in stale:
                    f.unlink()
                big.store.backup(dest)
            assert refs_of(dest) == new_refs, where
            assert_fsck_clean(dest)
            assert leftovers(dest) == [], where

    def test_killed_bundle_backup_leaves_old_or_new_bundle(self, tmp_path):
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        big = BigSource(tmp_path / "big.git", rng)
        old_bundle = tmp_path / "old.bundle"
        full = max(_run_backup_worker(big.path, old_bundle, None), 0.05)
        old_heads = bundle_heads(old_bundle)
        new_refs = big.advance()
        new_heads = {**new_refs, "HEAD": new_refs["refs/heads/main"]}

        for k in range(4):
            dest = tmp_path / f"k{k}.bundle"
            if k % 2:
                shutil.copyfile(old_bundle, dest)
            ran = _run_backup_worker(big.path, dest, rng.uniform(0.0, full * 1.2))
            where = f"seed {seed}, kill {k} after {ran:.3f}s of ~{full:.3f}s"
            if not dest.exists():
                assert k % 2 == 0, where
                continue
            bundle_verify(dest, tmp_path)
            assert bundle_heads(dest) in (old_heads, new_heads), where
        # Whatever the kills left beside the bundles goes with the next backup.
        for k in range(4):
            dest = tmp_path / f"k{k}.bundle"
            big.store.backup(dest)
            assert bundle_heads(dest) == new_heads
            assert leftovers(dest) == []


# A process that holds a lock on a staged name, as the backup that made it
# does until its rename: it prints "locked", then waits for stdin to close.
HOLDER = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()
""")

# A bundle backup that stops for good while its new bundle is being
# written: it prints "writing" from its progress callback, then sleeps.
STALLED_BUNDLE_WORKER = textwrap.dedent("""
    import sys, time
    from gitstore import GitStore
    def progress(line):
        if line.startswith(b"Writing objects"):
            print("writing", flush=True)
            time.sleep(600)
    GitStore.open(sys.argv[1], create=False).backup(sys.argv[2], progress=progress)
""")


class TestLeftovers:
    """A backup killed before it renames its new repository or bundle into
    place leaves "<dest>.gitstore-new-<pid>-<n>" beside the destination;
    the next backup there removes it unless a live process holds it."""

    @staticmethod
    def leave(dest: Path, n: int = 0) -> Path:
        """A leftover as a killed backup leaves it: a new bare repository
        under the staged name (the pid of no live process)."""
        left = dest.parent / f"{dest.name}.gitstore-new-4194303-{n}"
        git_run("init", "--bare", "-q", left)
        return left

    def test_removed_when_the_destination_is_made(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        left = [self.leave(dest, 0), self.leave(dest, 1)]
        assert norm(src.store.backup(dest, dry_run=True)) == expected(add=src.refs())
        assert leftovers(dest) == left, "a dry run removed something"
        src.store.backup(dest)
        assert refs_of(dest) == src.refs()
        assert leftovers(dest) == []

    def test_removed_beside_an_existing_destination(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        src.store.backup(dest)
        left = self.leave(dest)
        (left / "objects" / "pack" / "tmp_pack_x").write_bytes(b"partial")
        assert src.store.backup(dest).in_sync
        assert leftovers(dest) == []
        assert_repo_valid(dest)

    def test_removed_beside_a_bundle(self, src, tmp_path):
        dest = tmp_path / "b.bundle"
        left = tmp_path / "b.bundle.gitstore-new-4194303-7"
        left.write_bytes(b"# v2 git bundle\n")   # a bundle cut short
        src.store.backup(dest, dry_run=True)
        assert left.exists()
        src.store.backup(dest)
        bundle_verify(dest, tmp_path)
        assert leftovers(dest) == []

    def test_kept_while_a_live_process_holds_it(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        left = self.leave(dest)
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(left)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout.readline() == b"locked\n"
            src.store.backup(dest)
            src.store.backup(dest)
            assert leftovers(dest) == [left]
        finally:
            holder.stdin.close()
            holder.wait(10)
        src.store.backup(dest)
        assert leftovers(dest) == []

    def test_only_our_names_are_removed(self, src, tmp_path):
        dest = tmp_path / "dest.git"
        target = tmp_path / "target"
        target.mkdir()
        (target / "keep.txt").write_bytes(b"keep\n")
        foreign = ["dest.git.gitstore-new-1", "dest.git.gitstore-new-1-2x",
                   "dest.git.gitstore-new--2", "dest.git.gitstore-new-1-2.bak",
                   "other.git.gitstore-new-1-2", "dest.gitstore-new-1-2",
                   "xdest.git.gitstore-new-1-2"]
        for name in foreign:
            (tmp_path / name).mkdir()
        (tmp_path / "dest.git.gitstore-new-5-6").symlink_to(target)
        ours = self.leave(dest, 9)
        src.store.backup(dest)
        assert refs_of(dest) == src.refs()
        assert not ours.exists()
        assert (tmp_path / "dest.git.gitstore-new-5-6").is_symlink()
        assert all((tmp_path / name).is_dir() for name in foreign)
        assert (target / "keep.txt").read_bytes() == b"keep\n"

    def test_concurrent_backups_keep_each_others(self, src, tmp_path):
        """Backups to one bundle from two stores at once, on threads: each
        one's staged file is live to the other's clean-up, so every
        backup renames its own."""
        other = Source(tmp_path / "other.git")
        dest = tmp_path / "b.bundle"
        errors = []

        def run(store):
            try:
                for _ in range(15):
                    store.backup(dest)
            except Exception as exc:   # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s.store,)) for s in (src, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert leftovers(dest) == []
        assert bundle_heads(dest)["refs/heads/dev"] in (src.refs()["refs/heads/dev"],
                                                         other.refs()["refs/heads/dev"])

    def test_killed_bundle_backup(self, src, tmp_path):
        """A real leftover: a bundle backup stalled while writing is kept
        while it lives (another store backs up to the same file meanwhile),
        then killed; the next backup removes what it left."""
        stalled = Source(tmp_path / "stalled.git")
        dest = tmp_path / "b.bundle"
        p = subprocess.Popen([sys.executable, "-c", STALLED_BUNDLE_WORKER, str(stalled.path),
                              str(dest)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=_worker_env())
        try:
            line = p.stdout.readline()
            assert line == b"writing\n", (line, p.stderr.read())
            (left,) = leftovers(dest)
            assert left.is_file()
            src.store.backup(dest)
            assert leftovers(dest) == [left]
            assert bundle_heads(dest)["refs/heads/dev"] == src.refs()["refs/heads/dev"]
        finally:
            p.kill()
            p.wait(10)
        assert leftovers(dest) == [left]
        src.store.backup(dest)
        assert leftovers(dest) == []
        bundle_verify(dest, tmp_path)
