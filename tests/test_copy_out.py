"""FS.copy_out and FS.sync_out: repository to local disk (sources, delete
and non-delete modes, dry runs, sync_out's fallback, overlapping sources,
per-file failures), and a decision of this implementation: nothing is ever
written outside dest, whatever the tree holds.

The repository is built by git (fast-import) and git is the oracle for the
tree-walk order; what lands on disk is read back with plain ``os`` calls,
never through gitstore.  copy_out never writes to the repository, so most
tests share one module-scoped repository; tests that write (round trips,
big files, crafted trees) make their own.
"""

from __future__ import annotations

import errno
import os
import random
import stat

import pytest

from gitstore import (
    FS, ChangeError, ChangeReport, FileEntry, FileType, GitStore, StaleSnapshotError,
)

from support import Commit, Exe, Git, Link, RepoEnv, Tag, build_repo, loose_object_path

BLOB, EXE, LINK = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK

T_OLD = 1690000000          # commit time of "old" (tag v1)
T = 1700000000              # commit time of "base" (main, tag v2)

RAW_NAME = b"raw/caf\xe9.txt".decode("utf-8", "surrogateescape")   # not UTF-8

TREE = {
    "top.txt": b"top\n",
    ".dotfile": b"dot\n",
    "Zed.txt": b"zed\n",
    "empty.txt": b"",
    "bin.dat": bytes(range(256)) * 4,
    "run.sh": Exe(b"#!/bin/sh\necho run\n"),
    "link": Link("top.txt"),
    "base/sub/f.txt": b"f\n",
    "base/sub/dir/f1.txt": b"f1\n",
    "base/sub/dir/inner/f2.txt": b"f2\n",
    "docs/a.md": b"# a\n",
    "docs/b.md": b"# b\n",
    "docs/.hidden": b"hidden\n",
    "docs/sub/c.md": b"# c\n",
    "src/app.py": b"print('app')\n",
    "src/lib/util.py": b"def util(): pass\n",
    "src/lib/deep/x.py": b"x = 1\n",
    "links/dangling": Link("does/not/exist"),
    "links/abs": Link("/nonexistent/gitstore/target"),
    "links/up": Link("../top.txt"),
    "links/dir": Link("../docs"),
    "v1/conf.txt": b"conf one\n",
    "v2/conf.txt": b"conf two\n",
    "v2/extra.txt": b"extra\n",
    "uni/ünï文件.txt": "unicode\n".encode(),
    "odd/sp ace.txt": b"space\n",
    "odd/back\\slash.txt": b"backslash\n",
    RAW_NAME: b"latin-1 name\n",
}
OLD = {"top.txt": b"old top\n", "docs/a.md": b"old a\n", "gone.txt": b"gone\n"}

DOCS_WALK = ["docs/.hidden", "docs/a.md", "docs/b.md", "docs/sub/c.md"]
BASE_WALK = ["base/sub/f.txt", "base/sub/dir/f1.txt", "base/sub/dir/inner/f2.txt"]

OVERLAP = "Overlapping destination '{}': skipping (kept earlier source)"


def _enc(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def ftype(repo_path: str) -> FileType:
    value = TREE[repo_path]
    return EXE if isinstance(value, Exe) else LINK if isinstance(value, Link) else BLOB


def fe(rel: str, src: str | None = None) -> FileEntry:
    """The report entry for repo file `src` (default: `rel`) landing at `rel`."""
    src = rel if src is None else src
    return FileEntry(rel, ftype(src), src)


def below(prefix: str, keep: str = "") -> dict:
    """TREE files under `prefix/`, re-rooted at `keep`."""
    out = {}
    for path, value in TREE.items():
        if path.startswith(prefix + "/"):
            out[keep + path[len(prefix) + 1:]] = value
    return out


def paths(entries) -> list[str]:
    return [e.path for e in entries]


def by_path(entries) -> list[FileEntry]:
    return sorted(entries, key=lambda e: e.path)


# ---------------------------------------------------------------------------
# Reading and shaping the local side (plain os, symlinks never followed)
# ---------------------------------------------------------------------------

def local_files(root) -> dict:
    """{rel: bytes | Exe(bytes) | Link(text)} of every non-directory below root."""
    out = {}
    broot = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(broot):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, broot).decode("utf-8", "surrogateescape")
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = Link(os.readlink(full).decode("utf-8", "surrogateescape"))
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    data = f.read()
                out[rel] = Exe(data) if st.st_mode & 0o111 else data
    return out


def local_dirs(root) -> set[str]:
    """Real directories below root (not root itself)."""
    out = set()
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                out.add(os.path.relpath(full, root))
    return out


def put(root, rel: str, content=b"") -> str:
    """Create a local file (bytes), executable (Exe), symlink (Link) or
    directory ("dir") at root/rel, with parents."""
    full = os.path.join(str(root), rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if content == "dir":
        os.makedirs(full, exist_ok=True)
    elif isinstance(content, Link):
        os.symlink(content.target, full)
    elif isinstance(content, Exe):
        with open(full, "wb") as f:
            f.write(content.data)
        os.chmod(full, 0o755)
    else:
        with open(full, "wb") as f:
            f.write(content)
    return full


def age(path, when: int = T - 1000) -> None:
    os.utime(path, (when, when), follow_symlinks=False)


def state(root) -> tuple[dict, set]:
    """Everything below root: files with content and every directory."""
    return local_files(root), local_dirs(root)


def git_walk(g: Git, rev: str, path: str = "") -> list[str]:
    """Tree-walk order as git lists the trees: a directory's files in
    entry order, then each subdirectory in turn."""
    rows = g.ls_tree(f"{rev}:{path}" if path else rev)
    join = (lambda n: f"{path}/{n}") if path else (lambda n: n)
    out = [join(name) for _m, typ, _o, name in rows if typ != "tree"]
    for _m, typ, _o, name in rows:
        if typ == "tree":
            out += git_walk(g, rev, join(name))
    return out


# ---------------------------------------------------------------------------
# Repositories
# ---------------------------------------------------------------------------

class Env(RepoEnv):
    BASE = "base"

    @property
    def fs(self) -> FS:
        return self.store.branches["main"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("copy-out") / "co.git"
    shas = build_repo(path, [
        Commit(OLD, message="old\n", time=T_OLD, label="old"),
        Commit({_enc(k): v for k, v in TREE.items()}, message="base\n", time=T, label="base"),
    ], tags=[Tag("v2", "base", message="annotated\n")], lightweight={"v1": "old"})
    return path, shas


@pytest.fixture
def env(template):
    # copy_out never writes to the repository: the template is shared.
    e = Env(*template)
    yield e
    assert e.tip() == e.shas["base"]


@pytest.fixture
def fs(env) -> FS:
    return env.fs


@pytest.fixture
def dest(tmp_path) -> str:
    return str(tmp_path / "out")


@pytest.fixture
def outside(tmp_path):
    """A directory next to dest that copy_out must never touch."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "a.md").write_bytes(b"outside a\n")
    (path / "keep.txt").write_bytes(b"keep me\n")
    return path


def assert_outside_intact(outside) -> None:
    assert sorted(os.listdir(outside)) == ["a.md", "keep.txt"]
    assert (outside / "a.md").read_bytes() == b"outside a\n"
    assert (outside / "keep.txt").read_bytes() == b"keep me\n"


@pytest.fixture
def new_store(tmp_path):
    return GitStore.open(str(tmp_path / "new.git"), branch="main")


# ---------------------------------------------------------------------------
# Source conventions: "base/./rest" pivots, "dir/" for contents, plain paths
# ---------------------------------------------------------------------------

class TestSources:
    def test_single_file(self, fs, dest):
        result = fs.copy_out("top.txt", dest)
        assert result is fs
        assert local_files(dest) == {"top.txt": b"top\n"}
        assert fs.changes == ChangeReport(add=[fe("top.txt")])

    def test_nested_file_lands_by_its_name(self, fs, dest):
        fs.copy_out("docs/sub/c.md", dest)
        assert local_files(dest) == {"c.md": b"# c\n"}
        assert fs.changes == ChangeReport(add=[fe("c.md", "docs/sub/c.md")])

    def test_several_files_in_the_given_order(self, fs, dest):
        fs.copy_out(["src/app.py", "run.sh", "docs/a.md", "link"], dest)
        assert local_files(dest) == {
            "app.py": TREE["src/app.py"], "run.sh": TREE["run.sh"],
            "a.md": TREE["docs/a.md"], "link": Link("top.txt")}
        assert fs.changes.add == [fe("app.py", "src/app.py"), fe("run.sh"),
                                  fe("a.md", "docs/a.md"), fe("link")]
        assert [e.type for e in fs.changes.add] == [BLOB, EXE, BLOB, LINK]

    def test_tuple_of_sources(self, fs, dest):
        fs.copy_out(("top.txt", "Zed.txt"), dest)
        assert local_files(dest) == {"top.txt": b"top\n", "Zed.txt": b"zed\n"}

    def test_directory_keeps_its_name(self, fs, dest):
        fs.copy_out("docs", dest)
        assert local_files(dest) == below("docs", "docs/")
        assert fs.changes == ChangeReport(add=[fe(p) for p in DOCS_WALK])

    def test_nested_directory_keeps_only_its_own_name(self, fs, dest):
        fs.copy_out("src/lib", dest)
        assert local_files(dest) == below("src/lib", "lib/")
        assert fs.changes.add == [fe("lib/util.py", "src/lib/util.py"),
                                  fe("lib/deep/x.py", "src/lib/deep/x.py")]

    @pytest.mark.parametrize("source", ["docs/", "/docs/", "docs//"])
    def test_contents_mode(self, fs, dest, source):
        fs.copy_out(source, dest)
        assert local_files(dest) == below("docs")       # dotfiles included
        assert fs.changes.add == [fe(p[len("docs/"):], p) for p in DOCS_WALK]

    @pytest.mark.parametrize("source", ["", "/", "//", [""]])
    def test_root_copies_everything(self, fs, dest, source):
        fs.copy_out(source, dest)
        assert local_files(dest) == TREE
        assert by_path(fs.changes.add) == by_path(fe(p) for p in TREE)
        assert fs.changes.update == [] and fs.changes.delete == []

    def test_pivot_directory(self, fs, dest):
        fs.copy_out("base/./sub/dir", dest)
        assert local_files(dest) == below("base/sub/dir", "sub/dir/")
        assert fs.changes.add == [fe("sub/dir/f1.txt", "base/sub/dir/f1.txt"),
                                  fe("sub/dir/inner/f2.txt", "base/sub/dir/inner/f2.txt")]

    def test_pivot_contents(self, fs, dest):
        fs.copy_out("base/./sub/dir/", dest)
        assert local_files(dest) == below("base/sub/dir", "sub/")
        assert fs.changes.add == [fe("sub/f1.txt", "base/sub/dir/f1.txt"),
                                  fe("sub/inner/f2.txt", "base/sub/dir/inner/f2.txt")]

    def test_pivot_file(self, fs, dest):
        fs.copy_out("base/./sub/f.txt", dest)
        assert local_files(dest) == {"sub/f.txt": b"f\n"}
        assert fs.changes == ChangeReport(add=[fe("sub/f.txt", "base/sub/f.txt")])

    def test_pivot_with_backslashes(self, fs, dest):
        fs.copy_out("base\\.\\sub/f.txt", dest)
        assert local_files(dest) == {"sub/f.txt": b"f\n"}
        assert fs.changes == ChangeReport(add=[fe("sub/f.txt", "base/sub/f.txt")])

    def test_pivot_with_backslashes_only(self, fs, dest):
        fs.copy_out("base\\.\\sub\\dir", dest)
        assert local_files(dest) == below("base/sub/dir", "sub/dir/")

    def test_pivot_with_nothing_after_the_marker_is_dir_mode(self, fs, dest):
        fs.copy_out("base/./", dest)
        assert local_files(dest) == below("base", "base/")

    def test_leading_marker_is_not_a_pivot(self, fs, dest):
        with pytest.raises(ValueError):
            fs.copy_out("/./docs", dest)
        assert not os.path.lexists(dest)

    def test_backslash_without_pivot_is_part_of_the_name(self, fs, dest):
        fs.copy_out("odd/back\\slash.txt", dest)
        assert local_files(dest) == {"back\\slash.txt": b"backslash\n"}

    def test_fs_glob_sources(self, fs, dest):
        sources = fs.glob("docs/*")
        assert sources == ["docs/a.md", "docs/b.md", "docs/sub"]
        fs.copy_out(sources, dest)
        assert local_files(dest) == {"a.md": b"# a\n", "b.md": b"# b\n", "sub/c.md": b"# c\n"}
        assert fs.changes.add == [fe("a.md", "docs/a.md"), fe("b.md", "docs/b.md"),
                                  fe("sub/c.md", "docs/sub/c.md")]

    def test_fs_glob_sources_with_pivot(self, fs, dest):
        sources = fs.glob("base/./sub/*")
        assert sorted(sources) == ["base/./sub/dir", "base/./sub/f.txt"]
        fs.copy_out(sources, dest)
        assert local_files(dest) == below("base/sub", "sub/")

    def test_symlink_source_is_copied_as_a_link(self, fs, dest):
        fs.copy_out("links/dir", dest)
        assert os.path.islink(os.path.join(dest, "dir"))
        assert local_files(dest) == {"dir": Link("../docs")}
        assert fs.changes == ChangeReport(add=[fe("dir", "links/dir")])


class TestBadSources:
    @pytest.mark.parametrize("source, exc, message", [
        ("nope.txt", FileNotFoundError, "File not found in repo: nope.txt"),
        ("docs/nope", FileNotFoundError, "File not found in repo: docs/nope"),
        ("top.txt/", NotADirectoryError, "Not a directory in repo: top.txt"),
        ("nope/", NotADirectoryError, "Not a directory in repo: nope"),
        ("base/./sub/nope", FileNotFoundError, "File not found in repo: base/sub/nope"),
        ("base/./sub/f.txt/", NotADirectoryError, "Not a directory in repo: base/sub/f.txt"),
    ])
    def test_missing_or_wrong_kind(self, fs, dest, source, exc, message):
        with pytest.raises(exc) as ei:
            fs.copy_out(source, dest)
        assert str(ei.value) == message
        assert not os.path.lexists(dest)

    @pytest.mark.parametrize("source", ["docs/../top.txt", "../top.txt", "docs/.", "./docs",
                                        "docs//a.md"])
    def test_invalid_repo_path(self, fs, dest, source):
        with pytest.raises(ValueError):
            fs.copy_out(source, dest)
        assert not os.path.lexists(dest)

    @pytest.mark.parametrize("delete", [False, True])
    def test_all_sources_resolved_before_writing(self, fs, dest, delete):
        with pytest.raises(FileNotFoundError):
            fs.copy_out(["top.txt", "docs", "nope"], dest, delete=delete)
        assert not os.path.lexists(dest)

    def test_ignore_errors_skips_a_bad_source(self, fs, dest):
        fs.copy_out(["nope", "top.txt", "top.txt/"], dest, ignore_errors=True)
        assert local_files(dest) == {"top.txt": b"top\n"}
        assert fs.changes == ChangeReport(
            add=[fe("top.txt")],
            errors=[ChangeError("nope", "File not found in repo: nope"),
                    ChangeError("top.txt/", "Not a directory in repo: top.txt")])

    @pytest.mark.parametrize("delete", [False, True])
    def test_ignore_errors_all_sources_bad(self, fs, dest, delete):
        put(dest, "local.txt", b"keep\n")
        with pytest.raises(RuntimeError) as ei:
            fs.copy_out(["nope", "gone/"], dest, ignore_errors=True, delete=delete)
        assert str(ei.value) == "All files failed to copy: " + repr([
            ChangeError("nope", "File not found in repo: nope"),
            ChangeError("gone/", "Not a directory in repo: gone")])
        assert local_files(dest) == {"local.txt": b"keep\n"}     # nothing deleted

    def test_ignore_errors_dry_run_reports_the_errors(self, fs, dest):
        result = fs.copy_out(["nope"], dest, ignore_errors=True, dry_run=True)
        assert result is fs
        assert fs.changes == ChangeReport(
            errors=[ChangeError("nope", "File not found in repo: nope")])
        assert not os.path.lexists(dest)


# ---------------------------------------------------------------------------
# Non-delete mode: adds and updates, never deletes
# ---------------------------------------------------------------------------

class TestNonDelete:
    def test_root_add_order_is_tree_walk_order(self, env, fs, dest):
        fs.copy_out("", dest)
        order = git_walk(env.g, "main")
        assert paths(fs.changes.add) == order
        # files of a directory before its subdirectories: not sorted order
        assert order != sorted(order)
        assert order.index("base/sub/f.txt") < order.index("base/sub/dir/f1.txt")

    def test_directory_add_order(self, fs, dest):
        fs.copy_out("base", dest)
        assert paths(fs.changes.add) == BASE_WALK

    def test_sources_processed_in_order(self, fs, dest):
        fs.copy_out(["src", "base"], dest)
        assert paths(fs.changes.add) == [
            "src/app.py", "src/lib/util.py", "src/lib/deep/x.py", *BASE_WALK]

    def test_existing_paths_are_updates(self, fs, dest):
        put(dest, "docs/a.md", b"stale\n")
        put(dest, "docs/b.md", b"# b\n")                 # identical: still an update
        put(dest, "docs/.hidden", Link("nowhere"))       # dangling link: exists
        put(dest, "unrelated.txt", b"stays\n")
        fs.copy_out("docs", dest)
        assert fs.changes == ChangeReport(
            add=[fe("docs/sub/c.md")],
            update=[fe("docs/.hidden"), fe("docs/a.md"), fe("docs/b.md")])
        assert local_files(dest) == {**below("docs", "docs/"), "unrelated.txt": b"stays\n"}

    def test_identical_files_are_rewritten_and_restamped(self, fs, dest):
        fs.copy_out("top.txt", dest)
        target = os.path.join(dest, "top.txt")
        os.utime(target, (T + 5000, T + 5000))
        fs.copy_out("top.txt", dest)
        assert fs.changes == ChangeReport(update=[fe("top.txt")])
        assert os.stat(target).st_mtime == T

    def test_update_creates_a_new_inode(self, fs, dest, tmp_path):
        # a hard link elsewhere must not see the new content
        other = tmp_path / "hardlink.txt"
        other.write_bytes(b"shared inode\n")
        os.makedirs(dest)
        os.link(other, os.path.join(dest, "top.txt"))
        fs.copy_out("top.txt", dest)
        assert other.read_bytes() == b"shared inode\n"
        assert os.stat(other).st_nlink == 1
        assert local_files(dest) == {"top.txt": b"top\n"}

    def test_report_types_come_from_the_repo(self, fs, dest):
        put(dest, "run.sh", b"not executable\n")
        put(dest, "link", b"a regular file\n")
        fs.copy_out(["run.sh", "link", "links/abs"], dest)
        assert fs.changes == ChangeReport(add=[fe("abs", "links/abs")],
                                          update=[fe("run.sh"), fe("link")])
        assert local_files(dest) == {"run.sh": TREE["run.sh"], "link": Link("top.txt"),
                                     "abs": TREE["links/abs"]}

    def test_dest_created_with_parents(self, fs, tmp_path):
        target = tmp_path / "a" / "b" / "c"
        fs.copy_out("top.txt", str(target))
        assert local_files(target) == {"top.txt": b"top\n"}

    def test_relative_dest(self, fs, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        fs.copy_out("docs/", "rel/out")
        assert local_files(tmp_path / "rel" / "out") == below("docs")

    def test_dest_with_trailing_slash(self, fs, dest):
        fs.copy_out("docs/", dest + "/")
        assert local_files(dest) == below("docs")
        assert paths(fs.changes.add) == [p[len("docs/"):] for p in DOCS_WALK]

    def test_local_directory_where_a_file_goes_is_replaced(self, fs, dest, outside):
        # as rsync does: the directory is removed (not reported), never
        # followed into
        put(dest, "top.txt/inner.txt", b"inner\n")
        put(dest, "top.txt/escape", Link(str(outside)))
        put(dest, "top.txt/deeper/more.txt", b"more\n")
        fs.copy_out("top.txt", dest)
        assert local_files(dest) == {"top.txt": b"top\n"}
        assert fs.changes == ChangeReport(update=[fe("top.txt")])
        assert_outside_intact(outside)

    def test_local_file_where_a_directory_goes_is_replaced(self, fs, dest):
        put(dest, "docs", b"I am a file\n")
        fs.copy_out("docs", dest)
        assert local_files(dest) == below("docs", "docs/")
        assert os.path.isdir(os.path.join(dest, "docs"))
        assert fs.changes == ChangeReport(add=[fe(p) for p in DOCS_WALK])

    def test_local_files_not_in_the_sources_stay(self, fs, dest):
        put(dest, "docs/local.txt", b"mine\n")
        put(dest, "emptydir", "dir")
        fs.copy_out("docs", dest)
        assert local_files(dest)["docs/local.txt"] == b"mine\n"
        assert "emptydir" in local_dirs(dest)        # no pruning without delete

    def test_dest_is_a_file(self, fs, dest):
        with open(dest, "wb") as f:
            f.write(b"a file\n")
        with pytest.raises(FileExistsError):
            fs.copy_out("top.txt", dest)
        with open(dest, "rb") as f:
            assert f.read() == b"a file\n"

    def test_dest_is_a_file_with_ignore_errors(self, fs, dest):
        with open(dest, "wb") as f:
            f.write(b"a file\n")
        with pytest.raises(RuntimeError, match="^All files failed to copy: "):
            fs.copy_out(["top.txt", "Zed.txt"], dest, ignore_errors=True)
        with open(dest, "rb") as f:
            assert f.read() == b"a file\n"

    def test_dest_parent_is_a_file_with_ignore_errors(self, fs, tmp_path):
        (tmp_path / "f").write_bytes(b"file\n")
        with pytest.raises(RuntimeError, match="^All files failed to copy: "):
            fs.copy_out("top.txt", str(tmp_path / "f" / "out"), ignore_errors=True)

    def test_dest_parent_is_a_file(self, fs, tmp_path):
        (tmp_path / "f").write_bytes(b"file\n")
        with pytest.raises(OSError):
            fs.copy_out("top.txt", str(tmp_path / "f" / "out"))
        assert (tmp_path / "f").read_bytes() == b"file\n"

    @pytest.mark.parametrize("delete", [False, True])
    def test_empty_dest_is_refused(self, fs, tmp_path, monkeypatch, delete):
        # "" must not become "/" (the export joins dest and rel with a slash)
        monkeypatch.chdir(tmp_path)
        existed = os.path.lexists("/top.txt")
        with pytest.raises(FileNotFoundError):
            fs.copy_out("top.txt", "", delete=delete)
        assert os.listdir(tmp_path) == []
        assert os.path.lexists("/top.txt") == existed

    def test_dest_symlink_to_a_directory_is_used_as_is(self, fs, tmp_path):
        real = tmp_path / "real"
        real.mkdir()
        os.symlink(real, tmp_path / "alias")
        fs.copy_out("docs/", str(tmp_path / "alias"))
        assert os.path.islink(tmp_path / "alias")
        assert local_files(real) == below("docs")


# ---------------------------------------------------------------------------
# Writing one file
# ---------------------------------------------------------------------------

class TestWriteOneFile:
    def test_times_are_the_commit_time(self, fs, dest):
        assert int(fs.time.timestamp()) == T
        fs.copy_out("", dest)
        for rel in TREE:
            st = os.lstat(os.path.join(dest, rel))
            assert (st.st_mtime, st.st_atime) == (T, T), rel

    def test_symlink_times_are_set_without_following(self, fs, dest):
        fs.copy_out(["top.txt", "link"], dest)
        # the link's target is the copied top.txt; both carry the commit time
        assert os.lstat(os.path.join(dest, "link")).st_mtime == T
        assert os.stat(os.path.join(dest, "top.txt")).st_mtime == T

    def test_times_of_an_older_snapshot(self, env, dest):
        tag = env.store.tags["v1"]
        tag.copy_out("", dest)
        assert local_files(dest) == OLD
        for rel in OLD:
            assert os.stat(os.path.join(dest, rel)).st_mtime == T_OLD

    @pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
    def test_permissions(self, fs, dest, umask):
        old = os.umask(umask)
        try:
            fs.copy_out(["top.txt", "run.sh", "empty.txt"], dest)
        finally:
            os.umask(old)
        mode = lambda rel: stat.S_IMODE(os.stat(os.path.join(dest, rel)).st_mode)
        assert mode("top.txt") == 0o666 & ~umask
        assert mode("empty.txt") == 0o666 & ~umask
        assert mode("run.sh") == 0o755

    def test_executable_update_gets_0755(self, fs, dest):
        put(dest, "run.sh", b"old\n")
        os.chmod(os.path.join(dest, "run.sh"), 0o600)
        fs.copy_out("run.sh", dest)
        assert stat.S_IMODE(os.stat(os.path.join(dest, "run.sh")).st_mode) == 0o755

    def test_symlinks_keep_their_stored_text(self, fs, dest):
        fs.copy_out("links", dest)
        for name in ("dangling", "abs", "up", "dir"):
            full = os.path.join(dest, "links", name)
            assert os.path.islink(full)
            assert os.readlink(full) == TREE["links/" + name].target

    def test_content_is_exact(self, fs, dest):
        fs.copy_out(["bin.dat", "empty.txt"], dest)
        with open(os.path.join(dest, "bin.dat"), "rb") as f:
            assert f.read() == TREE["bin.dat"]
        assert os.path.getsize(os.path.join(dest, "empty.txt")) == 0

    def test_leaf_symlink_is_replaced_not_written_through(self, fs, dest, outside):
        put(dest, "docs/a.md", Link(str(outside / "a.md")))
        put(dest, "docs/b.md", Link("../../outside/keep.txt"))
        put(dest, "top.txt", Link("missing-target"))
        fs.copy_out(["docs", "top.txt"], dest)
        assert_outside_intact(outside)
        got = local_files(dest)
        assert got["docs/a.md"] == b"# a\n" and got["docs/b.md"] == b"# b\n"
        assert got["top.txt"] == b"top\n"
        assert not os.path.exists(os.path.join(os.path.dirname(dest), "missing-target"))

    @pytest.mark.parametrize("delete", [False, True])
    def test_symlinked_parent_outside_is_replaced(self, fs, dest, outside, delete):
        put(dest, "docs", Link(str(outside)))
        fs.copy_out("docs", dest, delete=delete)
        assert_outside_intact(outside)
        assert not os.path.islink(os.path.join(dest, "docs"))
        assert os.path.isdir(os.path.join(dest, "docs"))
        assert local_files(dest) == below("docs", "docs/")

    @pytest.mark.parametrize("delete", [False, True])
    def test_deep_symlinked_parent_is_replaced(self, fs, dest, outside, delete):
        put(dest, "src/lib", Link(os.path.relpath(outside, os.path.join(dest, "src"))))
        fs.copy_out("src", dest, delete=delete)
        assert_outside_intact(outside)
        assert local_files(dest) == below("src", "src/")

    def test_symlinked_parent_inside_dest_is_replaced(self, fs, dest):
        put(dest, "other/a.md", b"other a\n")
        put(dest, "docs", Link("other"))
        fs.copy_out("docs", dest)
        assert local_files(dest) == {**below("docs", "docs/"), "other/a.md": b"other a\n"}

    def test_file_standing_in_a_parent_is_replaced(self, fs, dest):
        put(dest, "base/sub", b"blocker\n")
        fs.copy_out("base", dest)
        assert local_files(dest) == below("base", "base/")

    def test_parent_symlink_to_outside_with_dotdot(self, fs, dest, outside):
        put(dest, "base/sub", Link("../../outside"))
        fs.copy_out(["base"], dest)
        assert_outside_intact(outside)
        assert local_files(dest) == below("base", "base/")


# ---------------------------------------------------------------------------
# Read-only snapshots: copy_out only reads
# ---------------------------------------------------------------------------

class TestReadOnlySnapshots:
    @pytest.mark.parametrize("tag", ["v1", "v2"])
    def test_tags(self, env, dest, tag):
        snap = env.store.tags[tag]
        assert not snap.writable
        result = snap.copy_out("", dest)
        assert result is snap
        assert local_files(dest) == (OLD if tag == "v1" else TREE)
        assert snap.changes is not None and snap.changes.add

    def test_detached(self, env, dest):
        snap = FS(env.store, env.shas["old"])
        assert not snap.writable
        assert snap.copy_out("docs", dest) is snap
        assert snap.changes == ChangeReport(add=[FileEntry("docs/a.md", BLOB, "docs/a.md")])
        assert local_files(dest) == {"docs/a.md": b"old a\n"}

    def test_sync_out_from_a_tag(self, env, dest):
        snap = env.store.tags["v1"]
        put(dest, "extra.txt", b"x\n")
        assert snap.sync_out("", dest) is snap
        assert local_files(dest) == OLD
        assert snap.changes.delete == [FileEntry("extra.txt", BLOB)]

    def test_stale_snapshot_copies_its_own_tree(self, new_store, dest):
        old = new_store.branches["main"].write("f.txt", b"one\n")
        old.write("f.txt", b"two\n")
        with pytest.raises(StaleSnapshotError):
            old.write("g.txt", b"stale\n")
        assert old.copy_out("", dest) is old     # nothing is committed: no staleness check
        assert local_files(dest) == {"f.txt": b"one\n"}

    def test_changes_replaced_on_the_same_object(self, fs, dest):
        fs.copy_out("docs", dest)
        assert fs.changes is not None
        fs.sync_out("docs", os.path.join(dest, "docs"))
        assert fs.changes is None


# ---------------------------------------------------------------------------
# Dry runs
# ---------------------------------------------------------------------------

class TestDryRun:
    @pytest.mark.parametrize("delete", [False, True])
    def test_nothing_created(self, fs, tmp_path, delete):
        target = tmp_path / "x" / "y"
        result = fs.copy_out("", str(target), dry_run=True, delete=delete)
        assert result is fs
        assert not (tmp_path / "x").exists()
        assert by_path(fs.changes.add) == by_path(fe(p) for p in TREE)

    def test_non_delete_lists_are_sorted(self, fs, dest):
        put(dest, "src/lib/util.py", b"old\n")
        put(dest, "src/app.py", b"old\n")
        fs.copy_out(["src", "base"], dest, dry_run=True)
        assert paths(fs.changes.add) == sorted(["src/lib/deep/x.py", *BASE_WALK])
        assert paths(fs.changes.update) == ["src/app.py", "src/lib/util.py"]

    def test_non_delete_matches_the_real_run(self, fs, dest):
        put(dest, "docs/a.md", b"old\n")
        put(dest, "docs/.hidden", Link("dangling"))
        put(dest, "top.txt", "dir")
        before = state(dest)
        dry = fs.copy_out(["docs", "top.txt", "links"], dest, dry_run=True).changes
        assert state(dest) == before
        real = fs.copy_out(["docs", "top.txt", "links"], dest).changes
        assert by_path(dry.add) == by_path(real.add)
        assert by_path(dry.update) == by_path(real.update)
        assert dry.delete == real.delete == []
        assert paths(dry.update) == ["docs/.hidden", "docs/a.md", "top.txt"]

    def make_messy(self, dest, outside):
        put(dest, "docs/a.md", b"changed\n")              # update
        put(dest, "docs/b.md", b"# b\n")                  # unchanged
        put(dest, "docs/sub", b"file where a dir goes\n")  # collision file->dir
        put(dest, "docs/.hidden/x", b"dir where a file goes\n")  # collision dir->file
        put(dest, "docs/extra.txt", b"extra\n")           # delete
        put(dest, "docs/ext", Link(str(outside)))         # delete (link, not followed)
        put(dest, "docs/empty/deeper", "dir")             # pruned
        put(dest, "stray.txt", b"stray\n")                # delete

    def test_delete_mode_matches_the_real_run(self, fs, dest, outside):
        self.make_messy(dest, outside)
        before = state(dest)
        dry = fs.copy_out("docs", dest, delete=True, dry_run=True).changes
        assert state(dest) == before
        dry2 = fs.copy_out("docs", dest, delete=True, dry_run=True).changes
        assert dry2 == dry
        real = fs.copy_out("docs", dest, delete=True).changes
        assert real == dry                                           # same report
        assert dry == ChangeReport(
            add=[fe("docs/.hidden"), fe("docs/sub/c.md")],
            update=[fe("docs/a.md")],
            delete=[FileEntry(p, BLOB) for p in
                    ["docs/.hidden/x", "docs/ext", "docs/extra.txt", "docs/sub", "stray.txt"]])
        assert local_files(dest) == below("docs", "docs/")
        assert_outside_intact(outside)

    def test_sync_out_dry_run_matches_the_real_run(self, fs, dest, outside):
        self.make_messy(os.path.join(dest, "d"), outside)
        before = state(dest)
        dry = fs.sync_out("docs", os.path.join(dest, "d"), dry_run=True).changes
        assert state(dest) == before
        real = fs.sync_out("docs", os.path.join(dest, "d")).changes
        assert real == dry
        assert local_files(dest) == below("docs", "d/")

    def test_delete_dry_run_with_missing_dest(self, fs, dest):
        fs.copy_out("docs/", dest, delete=True, dry_run=True)
        assert fs.changes == ChangeReport(add=[fe(p[5:], p) for p in sorted(DOCS_WALK)])
        assert not os.path.lexists(dest)

    def test_dry_run_in_sync_is_none(self, fs, dest):
        fs.sync_out("docs", dest)
        assert fs.changes is not None
        assert fs.copy_out("docs/", dest, delete=True, dry_run=True).changes is None
        assert fs.sync_out("docs", dest, dry_run=True).changes is None

    def test_dry_run_ignore_existing(self, fs, dest):
        put(dest, "docs/a.md", b"local\n")
        fs.copy_out("docs", dest, dry_run=True, ignore_existing=True)
        assert fs.changes == ChangeReport(
            add=[fe(p) for p in sorted(DOCS_WALK) if p != "docs/a.md"])
        assert local_files(dest) == {"docs/a.md": b"local\n"}


# ---------------------------------------------------------------------------
# ignore_existing
# ---------------------------------------------------------------------------

class TestIgnoreExisting:
    def test_existing_files_are_left_alone(self, fs, dest):
        target = put(dest, "docs/a.md", b"local a\n")
        age(target, 12345)
        fs.copy_out("docs", dest, ignore_existing=True)
        assert local_files(dest) == {**below("docs", "docs/"), "docs/a.md": b"local a\n"}
        assert os.stat(target).st_mtime == 12345
        assert fs.changes == ChangeReport(
            add=[fe(p) for p in DOCS_WALK if p != "docs/a.md"])

    def test_dangling_symlink_counts_as_existing(self, fs, dest):
        put(dest, "top.txt", Link("nowhere"))
        fs.copy_out(["top.txt", "Zed.txt"], dest, ignore_existing=True)
        assert local_files(dest) == {"top.txt": Link("nowhere"), "Zed.txt": b"zed\n"}
        assert fs.changes == ChangeReport(add=[fe("Zed.txt")])

    def test_everything_exists(self, fs, dest):
        put(dest, "top.txt", b"mine\n")
        fs.copy_out("top.txt", dest, ignore_existing=True)
        assert fs.changes is None
        assert local_files(dest) == {"top.txt": b"mine\n"}

    def test_with_delete_skips_updates_only(self, fs, dest):
        put(dest, "docs/a.md", b"changed\n")
        put(dest, "docs/extra.txt", b"extra\n")
        fs.copy_out("docs", dest, delete=True, ignore_existing=True)
        assert fs.changes == ChangeReport(
            add=[fe("docs/.hidden"), fe("docs/b.md"), fe("docs/sub/c.md")],
            delete=[FileEntry("docs/extra.txt", BLOB)])
        assert local_files(dest) == {**below("docs", "docs/"), "docs/a.md": b"changed\n"}


# ---------------------------------------------------------------------------
# Delete mode and sync_out
# ---------------------------------------------------------------------------

class TestDelete:
    def test_first_sync(self, fs, dest):
        assert fs.sync_out("src", dest) is fs
        assert local_files(dest) == below("src")
        assert fs.changes == ChangeReport(add=[fe("app.py", "src/app.py"),
                                               fe("lib/deep/x.py", "src/lib/deep/x.py"),
                                               fe("lib/util.py", "src/lib/util.py")])

    def test_second_sync_is_none(self, fs, dest):
        fs.sync_out("", dest)
        assert local_files(dest) == TREE
        assert fs.sync_out("", dest).changes is None
        assert fs.copy_out("", dest, delete=True).changes is None

    def test_unchanged_files_are_not_rewritten(self, fs, dest):
        fs.sync_out("docs", dest)
        target = os.path.join(dest, "a.md")
        age(target, T + 777)
        ino = os.stat(target).st_ino
        put(dest, "b.md", b"changed\n")
        fs.sync_out("docs", dest)
        assert fs.changes == ChangeReport(update=[fe("b.md", "docs/b.md")])
        assert os.stat(target).st_ino == ino
        assert os.stat(target).st_mtime == T + 777

    def test_deletes_are_sorted_blobs_without_src(self, fs, dest, outside):
        put(dest, "z.txt", b"z\n")
        put(dest, "a/run", Exe(b"#!/bin/sh\n"))
        put(dest, "m/link", Link("../z.txt"))
        put(dest, "m/ext", Link(str(outside)))
        fs.copy_out("top.txt", dest, delete=True)
        assert fs.changes == ChangeReport(
            add=[fe("top.txt")],
            delete=[FileEntry(p, BLOB, None) for p in ["a/run", "m/ext", "m/link", "z.txt"]])
        assert all(e.src is None for e in fs.changes.delete)
        assert local_files(dest) == {"top.txt": b"top\n"}
        assert local_dirs(dest) == set()
        assert_outside_intact(outside)

    def test_changed_content_is_an_update(self, fs, dest):
        fs.sync_out("src", dest)
        put(dest, "lib/util.py", b"edited\n")
        fs.sync_out("src", dest)
        assert fs.changes == ChangeReport(update=[fe("lib/util.py", "src/lib/util.py")])
        assert local_files(dest) == below("src")

    def test_executable_bit_lost_is_an_update(self, fs, dest):
        fs.sync_out("", dest)
        os.chmod(os.path.join(dest, "run.sh"), 0o644)
        fs.sync_out("", dest)
        assert fs.changes == ChangeReport(update=[fe("run.sh")])
        assert stat.S_IMODE(os.stat(os.path.join(dest, "run.sh")).st_mode) == 0o755

    def test_executable_bit_gained_is_an_update(self, fs, dest):
        fs.sync_out("", dest)
        os.chmod(os.path.join(dest, "top.txt"), 0o755)
        fs.sync_out("", dest)
        assert fs.changes == ChangeReport(update=[fe("top.txt")])
        assert os.stat(os.path.join(dest, "top.txt")).st_mode & 0o111 == 0

    def test_symlink_in_sync(self, fs, dest):
        put(dest, "link", Link("top.txt"))
        put(dest, "top.txt", b"top\n")
        assert fs.copy_out(["link", "top.txt"], dest, delete=True).changes is None

    def test_symlink_with_other_target_is_an_update(self, fs, dest):
        put(dest, "link", Link("elsewhere"))
        fs.copy_out("link", dest, delete=True)
        assert fs.changes == ChangeReport(update=[fe("link")])
        assert os.readlink(os.path.join(dest, "link")) == "top.txt"

    def test_symlink_whose_text_equals_the_file_is_an_update(self, fs, dest):
        # the kind differs although the bytes are equal
        put(dest, "top.txt", Link("top\n"))
        fs.copy_out("top.txt", dest, delete=True)
        assert fs.changes == ChangeReport(update=[fe("top.txt")])
        assert local_files(dest) == {"top.txt": b"top\n"}

    def test_file_whose_bytes_equal_the_link_text_is_an_update(self, fs, dest):
        put(dest, "link", b"top.txt")
        fs.copy_out("link", dest, delete=True)
        assert fs.changes == ChangeReport(update=[fe("link")])
        assert local_files(dest) == {"link": Link("top.txt")}

    def test_symlink_to_an_identical_file_is_an_update(self, fs, dest, tmp_path):
        same = tmp_path / "same.txt"
        same.write_bytes(b"top\n")
        put(dest, "top.txt", Link(str(same)))
        fs.copy_out("top.txt", dest, delete=True)
        assert fs.changes == ChangeReport(update=[fe("top.txt")])
        assert same.read_bytes() == b"top\n"

    def test_dangling_symlink_matching_the_blob(self, fs, dest):
        # must not crash on the execute-bit check
        put(dest, "top.txt", Link("top\n"))
        put(dest, "Zed.txt", Link("nowhere"))
        fs.copy_out(["top.txt", "Zed.txt"], dest, delete=True)
        assert fs.changes == ChangeReport(update=[fe("Zed.txt"), fe("top.txt")])
        assert local_files(dest) == {"top.txt": b"top\n", "Zed.txt": b"zed\n"}

    def test_file_where_a_directory_goes(self, fs, dest):
        put(dest, "lib", b"blocker\n")
        fs.sync_out("src", dest)
        assert fs.changes == ChangeReport(
            add=[fe("app.py", "src/app.py"), fe("lib/deep/x.py", "src/lib/deep/x.py"),
                 fe("lib/util.py", "src/lib/util.py")],
            delete=[FileEntry("lib", BLOB)])
        assert local_files(dest) == below("src")

    def test_directory_where_a_file_goes(self, fs, dest):
        put(dest, "app.py/x/y.txt", b"y\n")
        put(dest, "app.py/z.txt", b"z\n")
        put(dest, "app.py/empty", "dir")
        fs.sync_out("src", dest)
        assert fs.changes == ChangeReport(
            add=[fe("app.py", "src/app.py"), fe("lib/deep/x.py", "src/lib/deep/x.py"),
                 fe("lib/util.py", "src/lib/util.py")],
            delete=[FileEntry("app.py/x/y.txt", BLOB), FileEntry("app.py/z.txt", BLOB)])
        assert local_files(dest) == below("src")
        assert local_dirs(dest) == {"lib", "lib/deep"}

    def test_empty_directories_are_pruned(self, fs, dest):
        put(dest, "old/deep/er/file.txt", b"old\n")
        put(dest, "pre/existing/empty", "dir")             # pruned too (kept behaviour)
        put(dest, "docs/sub/unused", "dir")
        fs.copy_out("docs", dest, delete=True)
        assert local_dirs(dest) == {"docs", "docs/sub"}
        assert local_files(dest) == below("docs", "docs/")

    def test_dest_itself_is_kept_when_empty(self, fs, dest):
        put(dest, "a/b/c.txt", b"c\n")
        put(dest, "empty", "dir")
        fs.sync_out("nope", dest)
        assert os.path.isdir(dest)
        assert os.listdir(dest) == []

    def test_symlink_to_directory_is_one_entry(self, fs, dest, outside):
        put(dest, "ext", Link(str(outside)))
        put(dest, "inner_real/x.txt", b"x\n")
        put(dest, "inner", Link("inner_real"))
        fs.copy_out("top.txt", dest, delete=True)
        assert paths(fs.changes.delete) == ["ext", "inner", "inner_real/x.txt"]
        assert local_files(dest) == {"top.txt": b"top\n"}
        assert_outside_intact(outside)

    def test_dest_created_with_parents(self, fs, tmp_path):
        target = tmp_path / "p" / "q"
        fs.sync_out("docs", str(target))
        assert local_files(target) == below("docs")

    def test_dest_is_a_file(self, fs, dest):
        with open(dest, "wb") as f:
            f.write(b"a file\n")
        for call in (lambda: fs.copy_out("docs", dest, delete=True),
                     lambda: fs.copy_out("docs", dest, delete=True, ignore_errors=True),
                     lambda: fs.sync_out("docs", dest),
                     lambda: fs.sync_out("docs", dest, ignore_errors=True)):
            with pytest.raises(FileExistsError):
                call()
        with open(dest, "rb") as f:
            assert f.read() == b"a file\n"

    def test_dest_is_a_dangling_symlink(self, fs, dest):
        os.symlink("nowhere", dest)
        with pytest.raises(FileExistsError):
            fs.sync_out("docs", dest)
        assert os.readlink(dest) == "nowhere"

    def test_dest_symlink_to_a_directory(self, fs, tmp_path):
        real = tmp_path / "real"
        put(real, "stray.txt", b"s\n")
        os.symlink(real, tmp_path / "alias")
        fs.sync_out("docs", str(tmp_path / "alias"))
        assert os.path.islink(tmp_path / "alias")
        assert local_files(real) == below("docs")
        assert fs.changes.delete == [FileEntry("stray.txt", BLOB)]

    @pytest.mark.parametrize("repo_path", ["docs", "docs/", "/docs", "/docs/"])
    def test_sync_out_repo_path_forms(self, fs, dest, repo_path):
        fs.sync_out(repo_path, dest)
        assert local_files(dest) == below("docs")
        assert paths(fs.changes.add) == sorted(p[5:] for p in DOCS_WALK)

    @pytest.mark.parametrize("repo_path", ["", "/"])
    def test_sync_out_root(self, fs, dest, repo_path):
        put(dest, "stray.txt", b"s\n")
        fs.sync_out(repo_path, dest)
        assert local_files(dest) == TREE
        assert fs.changes.delete == [FileEntry("stray.txt", BLOB)]
        assert paths(fs.changes.add) == sorted(TREE)

    def test_sync_out_invalid_repo_path(self, fs, dest):
        put(dest, "keep.txt", b"k\n")
        with pytest.raises(ValueError):
            fs.sync_out("docs/../src", dest)
        assert local_files(dest) == {"keep.txt": b"k\n"}

    def test_sync_out_keeps_siblings_of_local_path(self, fs, tmp_path):
        put(tmp_path, "sibling/file.txt", b"sib\n")
        fs.sync_out("docs", str(tmp_path / "target"))
        assert local_files(tmp_path / "sibling") == {"file.txt": b"sib\n"}

    def test_special_file_is_deleted(self, fs, dest):
        os.makedirs(dest)
        os.mkfifo(os.path.join(dest, "fifo"))
        fs.copy_out("top.txt", dest, delete=True)        # must not hang
        assert fs.changes == ChangeReport(add=[fe("top.txt")],
                                          delete=[FileEntry("fifo", BLOB)])
        assert os.listdir(dest) == ["top.txt"]

    def test_comparison_error_is_treated_as_an_update(self, fs, dest):
        os.makedirs(dest)
        os.mkfifo(os.path.join(dest, "top.txt"))
        fs.copy_out("top.txt", dest, delete=True, ignore_errors=True)
        assert [e.path for e in fs.changes.errors] == [os.path.join(dest, "top.txt")]
        assert local_files(dest) == {"top.txt": b"top\n"}

    def test_special_file_where_a_repo_file_goes(self, fs, dest):
        os.makedirs(dest)
        os.mkfifo(os.path.join(dest, "top.txt"))
        with pytest.raises(OSError):
            fs.copy_out("top.txt", dest, delete=True)      # must not hang
        fs.copy_out("top.txt", dest, delete=True, ignore_errors=True, dry_run=True)
        assert [e.path for e in fs.changes.errors] == [os.path.join(dest, "top.txt")]


class TestChecksum:
    def test_old_mtime_is_trusted(self, fs, dest):
        fs.sync_out("docs", dest)
        target = put(dest, "a.md", b"# A\n")           # same size, other content
        age(target, T)
        assert fs.sync_out("docs", dest, checksum=False).changes is None
        assert local_files(dest)["a.md"] == b"# A\n"
        fs.sync_out("docs", dest, checksum=True)
        assert fs.changes == ChangeReport(update=[fe("a.md", "docs/a.md")])
        assert local_files(dest)["a.md"] == b"# a\n"

    def test_old_mtime_trusted_with_copy_out_delete(self, fs, dest):
        target = put(dest, "top.txt", b"other\n")
        age(target, T - 1)
        assert fs.copy_out("top.txt", dest, delete=True, checksum=False).changes is None
        fs.copy_out("top.txt", dest, delete=True)      # checksum defaults to True
        assert fs.changes == ChangeReport(update=[fe("top.txt")])

    def test_newer_mtime_is_compared(self, fs, dest):
        target = put(dest, "top.txt", b"other\n")
        age(target, T + 1)
        fs.copy_out("top.txt", dest, delete=True, checksum=False)
        assert fs.changes == ChangeReport(update=[fe("top.txt")])
        target = put(dest, "Zed.txt", b"zed\n")       # same content, new mtime
        fs.copy_out(["top.txt", "Zed.txt"], dest, delete=True, checksum=False)
        assert fs.changes is None

    def test_symlinks_are_always_compared(self, fs, dest):
        put(dest, "link", Link("elsewhere"))
        age(os.path.join(dest, "link"), T - 50)
        fs.copy_out("link", dest, delete=True, checksum=False)
        assert fs.changes == ChangeReport(update=[fe("link")])

    def test_round_trip_is_stable(self, fs, dest):
        fs.sync_out("", dest)
        assert fs.sync_out("", dest, checksum=False).changes is None
        assert fs.sync_out("", dest, checksum=True).changes is None


class TestSyncOutMissingSource:
    """sync_out's fallback: a missing repo path (or a file) empties local_path."""

    def populate(self, dest, outside):
        put(dest, "a.txt", b"a\n")
        put(dest, "sub/deep/b.txt", b"b\n")
        put(dest, "sub/run", Exe(b"#!/bin/sh\n"))
        put(dest, "ext", Link(str(outside)))
        put(dest, "sub/dangling", Link("nowhere"))
        put(dest, "emptydir/inner", "dir")

    DELETED = ["a.txt", "ext", "sub/dangling", "sub/deep/b.txt", "sub/run"]

    @pytest.mark.parametrize("repo_path", ["nope", "docs/missing/", "top.txt", "docs/a.md/"])
    @pytest.mark.parametrize("ignore_errors", [False, True])
    def test_empties_local_path(self, fs, dest, outside, repo_path, ignore_errors):
        self.populate(dest, outside)
        result = fs.sync_out(repo_path, dest, ignore_errors=ignore_errors)
        assert result is fs
        assert fs.changes == ChangeReport(delete=[FileEntry(p, BLOB) for p in self.DELETED])
        assert os.path.isdir(dest) and os.listdir(dest) == []
        assert_outside_intact(outside)

    def test_dry_run(self, fs, dest, outside):
        self.populate(dest, outside)
        before = state(dest)
        fs.sync_out("nope", dest, dry_run=True)
        assert fs.changes == ChangeReport(delete=[FileEntry(p, BLOB) for p in self.DELETED])
        assert state(dest) == before
        fs.sync_out("nope", dest, dry_run=True, ignore_errors=True)
        assert fs.changes == ChangeReport(delete=[FileEntry(p, BLOB) for p in self.DELETED])

    @pytest.mark.parametrize("ignore_errors", [False, True])
    def test_missing_local_path_is_created(self, fs, tmp_path, ignore_errors):
        target = tmp_path / "a" / "b"
        fs.sync_out("nope", str(target), ignore_errors=ignore_errors)
        assert fs.changes is None
        assert target.is_dir() and os.listdir(target) == []

    def test_dry_run_creates_nothing(self, fs, tmp_path):
        fs.sync_out("nope", str(tmp_path / "a" / "b"), dry_run=True)
        assert fs.changes is None
        assert not (tmp_path / "a").exists()

    def test_only_empty_directories(self, fs, dest):
        put(dest, "e1/e2", "dir")
        fs.sync_out("nope", dest)
        assert fs.changes is None
        assert os.listdir(dest) == []

    def test_local_path_is_a_file(self, fs, dest):
        with open(dest, "wb") as f:
            f.write(b"file\n")
        with pytest.raises(FileExistsError):
            fs.sync_out("nope", dest)
        with open(dest, "rb") as f:
            assert f.read() == b"file\n"

    def test_empty_repository(self, new_store, dest, outside):
        self.populate(dest, outside)
        snap = new_store.branches["main"]
        snap.sync_out("", dest)
        assert snap.changes == ChangeReport(delete=[FileEntry(p, BLOB) for p in self.DELETED])
        assert os.listdir(dest) == []
        assert_outside_intact(outside)


# ---------------------------------------------------------------------------
# Overlapping sources: first wins, with a warning, in every mode
# ---------------------------------------------------------------------------

class TestOverlap:
    @pytest.mark.parametrize("delete", [False, True])
    def test_first_source_wins(self, fs, dest, delete):
        fs.copy_out(["v1/", "v2/"], dest, delete=delete)
        assert local_files(dest) == {"conf.txt": b"conf one\n", "extra.txt": b"extra\n"}
        assert fs.changes == ChangeReport(
            add=[fe("conf.txt", "v1/conf.txt"), fe("extra.txt", "v2/extra.txt")],
            warnings=[ChangeError("v2/conf.txt", OVERLAP.format("conf.txt"))])

    @pytest.mark.parametrize("delete", [False, True])
    def test_dry_run_warns_too(self, fs, dest, delete):
        fs.copy_out(["v2/", "v1/"], dest, delete=delete, dry_run=True)
        assert fs.changes == ChangeReport(
            add=[fe("conf.txt", "v2/conf.txt"), fe("extra.txt", "v2/extra.txt")],
            warnings=[ChangeError("v1/conf.txt", OVERLAP.format("conf.txt"))])
        assert not os.path.lexists(dest)

    def test_same_source_twice(self, fs, dest):
        fs.copy_out(["docs", "docs"], dest)
        assert fs.changes.add == [fe(p) for p in DOCS_WALK]
        assert fs.changes.warnings == [ChangeError(p, OVERLAP.format(p)) for p in DOCS_WALK]

    def test_file_and_pivot_overlap(self, fs, dest):
        fs.copy_out(["base/./sub/f.txt", "base/sub/"], dest)
        assert fs.changes.add == [fe("sub/f.txt", "base/sub/f.txt"),
                                  fe("f.txt", "base/sub/f.txt"),
                                  fe("dir/f1.txt", "base/sub/dir/f1.txt"),
                                  fe("dir/inner/f2.txt", "base/sub/dir/inner/f2.txt")]
        assert fs.changes.warnings == []

    def test_overlap_with_existing_local_file(self, fs, dest):
        put(dest, "conf.txt", b"local\n")
        fs.copy_out(["v2/conf.txt", "v1/conf.txt"], dest)
        assert fs.changes == ChangeReport(
            update=[fe("conf.txt", "v2/conf.txt")],
            warnings=[ChangeError("v1/conf.txt", OVERLAP.format("conf.txt"))])
        assert local_files(dest) == {"conf.txt": b"conf two\n"}


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

class TestNames:
    def test_non_ascii_name(self, fs, dest):
        fs.copy_out("uni", dest)
        assert os.listdir(os.path.join(dest, "uni")) == ["ünï文件.txt"]
        assert os.listdir(os.fsencode(os.path.join(dest, "uni"))) == [
            "ünï文件.txt".encode()]
        assert fs.changes == ChangeReport(add=[fe("uni/ünï文件.txt")])

    def test_non_utf8_name_bytes_are_kept(self, fs, dest):
        fs.copy_out("raw/", dest)
        assert os.listdir(os.fsencode(dest)) == [b"caf\xe9.txt"]
        with open(os.path.join(os.fsencode(dest), b"caf\xe9.txt"), "rb") as f:
            assert f.read() == b"latin-1 name\n"
        assert fs.changes == ChangeReport(add=[fe(RAW_NAME[4:], RAW_NAME)])

    def test_non_utf8_name_as_a_source(self, fs, dest):
        sources = fs.glob("raw/*")
        assert sources == [RAW_NAME]
        assert fs.read(RAW_NAME) == b"latin-1 name\n"
        fs.copy_out(sources, dest)
        assert os.listdir(os.fsencode(dest)) == [b"caf\xe9.txt"]
        assert fs.changes == ChangeReport(add=[fe(RAW_NAME[4:], RAW_NAME)])

    def test_sync_out_non_utf8_names_in_sync(self, fs, dest):
        fs.sync_out("", dest)
        assert fs.sync_out("", dest).changes is None
        with open(os.path.join(os.fsencode(dest), b"raw", b"caf\xe9.txt"), "wb") as f:
            f.write(b"edited\n")
        fs.sync_out("", dest)
        assert fs.changes == ChangeReport(update=[fe(RAW_NAME)])

    def test_non_utf8_local_name_is_deleted(self, fs, dest):
        os.makedirs(dest)
        with open(os.path.join(os.fsencode(dest), b"x\xff.txt"), "wb") as f:
            f.write(b"x\n")
        fs.copy_out("top.txt", dest, delete=True)
        assert fs.changes.delete == [
            FileEntry(b"x\xff.txt".decode("utf-8", "surrogateescape"), BLOB)]
        assert os.listdir(dest) == ["top.txt"]

    def test_spaces_and_backslashes(self, fs, dest):
        fs.sync_out("odd", dest)
        assert local_files(dest) == below("odd")


# ---------------------------------------------------------------------------
# Per-file failures: recorded once, the failed file not listed as added
# ---------------------------------------------------------------------------

LONG = "long/" + "n" * 300            # longer than NAME_MAX: ENAMETOOLONG on write


@pytest.fixture(scope="module")
def errs_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("copy-out-errs") / "errs.git"
    shas = build_repo(path, [Commit({"good.txt": b"good\n", "zz.txt": b"zz\n",
                                     LONG: b"long\n"}, time=T, label="base")])
    return path, shas


@pytest.fixture
def errs(errs_template) -> FS:
    return GitStore.open(errs_template[0], create=False).branches["main"]


class TestFailures:
    def test_default_raises_and_keeps_partial_results(self, errs, dest):
        with pytest.raises(OSError) as ei:
            errs.copy_out("", dest)
        assert ei.value.errno == errno.ENAMETOOLONG
        assert local_files(dest) == {"good.txt": b"good\n", "zz.txt": b"zz\n"}

    def test_ignore_errors_records_the_local_path(self, errs, dest):
        result = errs.copy_out("", dest, ignore_errors=True)
        assert result is errs
        report = errs.changes
        assert report.add == [FileEntry("good.txt", BLOB, "good.txt"),
                              FileEntry("zz.txt", BLOB, "zz.txt")]     # the failed file: not listed
        assert [e.path for e in report.errors] == [os.path.join(dest, LONG)]
        assert "too long" in report.errors[0].error
        assert local_files(dest) == {"good.txt": b"good\n", "zz.txt": b"zz\n"}

    def test_ignore_errors_delete_mode(self, errs, dest):
        put(dest, "stray.txt", b"s\n")
        errs.sync_out("", dest, ignore_errors=True)
        report = errs.changes
        assert report.add == [FileEntry("good.txt", BLOB, "good.txt"),
                              FileEntry("zz.txt", BLOB, "zz.txt")]
        assert report.delete == [FileEntry("stray.txt", BLOB)]
        assert [e.path for e in report.errors] == [os.path.join(dest, LONG)]
        assert local_files(dest) == {"good.txt": b"good\n", "zz.txt": b"zz\n"}

    @pytest.mark.parametrize("delete", [False, True])
    def test_all_failed(self, errs, dest, delete):
        with pytest.raises(RuntimeError) as ei:
            errs.copy_out("long", dest, ignore_errors=True, delete=delete)
        assert str(ei.value).startswith("All files failed to copy: [ChangeError(path=")
        assert repr(os.path.join(dest, LONG)) in str(ei.value)

    def test_one_failure_among_unchanged_files(self, errs, dest):
        errs.sync_out("", dest, ignore_errors=True)
        errs.sync_out("", dest, ignore_errors=True)
        assert errs.changes == ChangeReport(errors=errs.changes.errors)
        assert [e.path for e in errs.changes.errors] == [os.path.join(dest, LONG)]

    def test_dry_run_does_not_see_write_failures(self, errs, dest):
        errs.copy_out("", dest, dry_run=True, delete=True)
        assert paths(errs.changes.add) == sorted(["good.txt", "zz.txt", LONG])
        assert errs.changes.errors == []


# ---------------------------------------------------------------------------
# Crafted trees: entries that would leave dest ("..", names with '/') and
# symlink/tree clashes
# ---------------------------------------------------------------------------

class Crafted:
    def __init__(self, path):
        self.path = path
        self.g = Git(path)

    def blob(self, data: bytes) -> str:
        return self.g("hash-object", "-w", "--stdin", input=data)

    def tree(self, entries) -> str:
        """entries: (mode, name bytes, id); sorted the way git sorts trees."""
        def key(e):
            return e[1] + (b"/" if e[0] == "40000" else b"")
        raw = b"".join(mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid)
                       for mode, name, oid in sorted(entries, key=key))
        return self.g("hash-object", "-w", "-t", "tree", "--literally", "--stdin", input=raw)

    def commit(self, tree: str) -> FS:
        commit = self.g("commit-tree", tree, "-m", "crafted",
                        env={"GIT_COMMITTER_DATE": f"{T} +0000"})
        self.g("update-ref", "refs/heads/main", commit)
        return GitStore.open(self.path, create=False).branches["main"]


@pytest.fixture
def crafted(tmp_path):
    path = tmp_path / "crafted.git"
    build_repo(path, [Commit({"ok.txt": b"ok\n"}, time=T)])
    return Crafted(path)


@pytest.fixture
def work(tmp_path):
    """dest is work/out; work/ must hold nothing else afterwards."""
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


class TestCraftedTrees:
    def dotdot_dir(self, crafted):
        inner = crafted.tree([("100644", b"x", crafted.blob(b"evil\n"))])
        return crafted.commit(crafted.tree([("100644", b"ok.txt", crafted.blob(b"ok\n")),
                                            ("40000", b"..", inner)]))

    def dot_file(self, crafted):
        return crafted.commit(crafted.tree([("100644", b"ok.txt", crafted.blob(b"ok\n")),
                                            ("100644", b".", crafted.blob(b"evil\n"))]))

    @pytest.mark.parametrize("delete", [False, True])
    def test_dotdot_refused(self, crafted, work, delete):
        snap = self.dotdot_dir(crafted)
        with pytest.raises(ValueError):
            snap.copy_out("", str(work / "out"), delete=delete)
        assert os.listdir(work) == ["out"]
        assert not os.path.lexists(work / "x")

    @pytest.mark.parametrize("delete", [False, True])
    def test_dotdot_with_ignore_errors(self, crafted, work, delete):
        snap = self.dotdot_dir(crafted)
        out = str(work / "out")
        snap.copy_out("", out, ignore_errors=True, delete=delete)
        assert snap.changes.add == [FileEntry("ok.txt", BLOB, "ok.txt")]
        assert snap.changes.update == []
        assert [e.path for e in snap.changes.errors] == [os.path.join(out, "../x")]
        assert os.listdir(work) == ["out"]
        assert local_files(out) == {"ok.txt": b"ok\n"}

    def test_dotdot_below_a_directory_source(self, crafted, work):
        inner = crafted.tree([("100644", b"x", crafted.blob(b"evil\n"))])
        sub = crafted.tree([("40000", b"..", inner), ("100644", b"y", crafted.blob(b"y\n"))])
        snap = crafted.commit(crafted.tree([("40000", b"d", sub)]))
        with pytest.raises(ValueError):
            snap.copy_out("d/", str(work / "out"))
        assert os.listdir(work) == ["out"]
        assert os.listdir(work / "out") == ["y"]

    def test_dot_refused(self, crafted, work):
        snap = self.dot_file(crafted)
        with pytest.raises(ValueError):
            snap.copy_out("", str(work / "out"))
        snap.copy_out("", str(work / "out2"), ignore_errors=True)
        assert snap.changes.add == [FileEntry("ok.txt", BLOB, "ok.txt")]
        assert [e.path for e in snap.changes.errors] == [os.path.join(str(work / "out2"), ".")]
        assert local_files(work / "out2") == {"ok.txt": b"ok\n"}

    def test_dotdot_in_sync_out(self, crafted, work):
        snap = self.dotdot_dir(crafted)
        with pytest.raises(ValueError):
            snap.sync_out("", str(work / "out"))
        assert not os.path.lexists(work / "x")

    def test_name_with_dotdot_and_slash_refused(self, crafted, work):
        snap = crafted.commit(crafted.tree([("100644", b"ok.txt", crafted.blob(b"ok\n")),
                                            ("100644", b"../evil", crafted.blob(b"evil\n"))]))
        with pytest.raises(ValueError):
            snap.copy_out("", str(work / "out"))
        assert os.listdir(work) in ([], ["out"])   # refused before or after creating dest
        assert not os.path.lexists(work / "evil")

    def test_name_with_slash_refused(self, crafted, work):
        snap = crafted.commit(crafted.tree([("100644", b"ok.txt", crafted.blob(b"ok\n")),
                                            ("100644", b"s/t", crafted.blob(b"evil\n"))]))
        with pytest.raises(ValueError):
            snap.copy_out("", str(work / "out"))

    def link_and_tree(self, crafted, outside):
        link = crafted.blob(str(outside).encode())
        inner = crafted.tree([("100644", b"x", crafted.blob(b"through the link\n"))])
        return crafted.commit(crafted.tree([("120000", b"a", link), ("40000", b"a", inner),
                                            ("100644", b"ok.txt", crafted.blob(b"ok\n"))]))

    @pytest.mark.parametrize("delete", [False, True])
    def test_never_writes_through_a_link_it_wrote(self, crafted, work, outside, delete):
        snap = self.link_and_tree(crafted, outside)
        with pytest.raises(ValueError, match="Refusing to write through a symlink this copy"):
            snap.copy_out("", str(work / "out"), delete=delete)
        assert_outside_intact(outside)

    @pytest.mark.parametrize("delete", [False, True])
    def test_link_it_wrote_with_ignore_errors(self, crafted, work, outside, delete):
        snap = self.link_and_tree(crafted, outside)
        out = str(work / "out")
        snap.copy_out("", out, delete=delete, ignore_errors=True)
        assert_outside_intact(outside)
        errors = snap.changes.errors
        assert [e.path for e in errors] == [os.path.join(out, "a", "x")]
        assert "Refusing to write through a symlink this copy wrote" in errors[0].error
        assert "a/x" not in paths(snap.changes.add)
        assert local_files(out) == {"a": Link(str(outside)), "ok.txt": b"ok\n"}


# ---------------------------------------------------------------------------
# Big files (streamed) and git-written packs
# ---------------------------------------------------------------------------

BIG = random.Random(20240601).randbytes(3 * 2**20 + 17)


class TestBigFiles:
    def test_loose_big_blob_round_trips(self, new_store, tmp_path, dest):
        snap = new_store.branches["main"].write("big/blob.bin", BIG)
        assert loose_object_path(tmp_path / "new.git", snap.object_hash("big/blob.bin")).exists()
        snap.copy_out("big/", dest)
        with open(os.path.join(dest, "blob.bin"), "rb") as f:
            assert f.read() == BIG
        assert os.stat(os.path.join(dest, "blob.bin")).st_mtime == int(snap.time.timestamp())
        assert snap.sync_out("big", dest).changes is None
        with open(os.path.join(dest, "blob.bin"), "r+b") as f:
            f.seek(len(BIG) - 1)
            f.write(bytes([BIG[-1] ^ 1]))
        snap.sync_out("big", dest)
        assert snap.changes == ChangeReport(update=[FileEntry("blob.bin", BLOB, "big/blob.bin")])
        with open(os.path.join(dest, "blob.bin"), "rb") as f:
            assert f.read() == BIG

    def test_git_packed_repository(self, tmp_path, dest):
        path = tmp_path / "packed.git"
        files = {"big.bin": BIG, "small.txt": b"small\n", "x/run": Exe(b"#!/bin/sh\n"),
                 "x/l": Link("../small.txt")}
        build_repo(path, [Commit(files, time=T)])
        Git(path)("repack", "-a", "-d", "-q")
        snap = GitStore.open(path, create=False).branches["main"]
        snap.copy_out("", dest)
        assert local_files(dest) == files
        assert snap.sync_out("", dest).changes is None


# ---------------------------------------------------------------------------
# Round trips with copy_in / sync_in
# ---------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    src = tmp_path / "project"
    put(src, "README.md", b"# project\n")
    put(src, "bin/tool", Exe(b"#!/bin/sh\necho tool\n"))
    put(src, "lib/mod.py", b"VALUE = 1\n")
    put(src, "lib/pkg/__init__.py", b"")
    put(src, "lib/current", Link("mod.py"))
    put(src, "data/blob.bin", bytes(range(256)) * 3)
    put(src, "ünï/文件.txt", "text\n".encode())
    put(src, ".config", b"hidden=1\n")
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "wb") as f:
        f.write(b"latin\n")
    return src


class TestRoundTrip:
    def test_copy_in_copy_out_sync_in(self, new_store, project, tmp_path):
        snap = new_store.branches["main"].copy_in(str(project) + "/", "proj")
        out = tmp_path / "out"
        assert snap.copy_out("proj/", str(out)) is snap
        assert local_files(out) == local_files(project)
        again = snap.sync_in(str(out), "proj")
        assert again.commit_hash == snap.commit_hash
        assert again.changes is None
        again = snap.sync_in(str(out), "proj", checksum=False)
        assert again.commit_hash == snap.commit_hash
        assert again.changes is None

    def test_copy_in_delete_after_copy_out(self, new_store, project, tmp_path):
        snap = new_store.branches["main"].copy_in(str(project), "")
        out = tmp_path / "out"
        snap.copy_out("project", str(out))
        again = snap.copy_in(str(out / "project"), "", delete=True)
        assert again.commit_hash == snap.commit_hash
        assert again.changes is None

    def test_sync_out_then_sync_in_then_sync_out(self, new_store, project, tmp_path):
        snap = new_store.branches["main"].sync_in(str(project), "p")
        out = tmp_path / "out"
        snap.sync_out("p", str(out))
        assert local_files(out) == local_files(project)
        assert snap.sync_in(str(out), "p").changes is None
        assert snap.sync_out("p", str(out), checksum=False).changes is None

    def test_local_edit_round_trip(self, new_store, project, tmp_path):
        snap = new_store.branches["main"].sync_in(str(project), "p")
        out = tmp_path / "out"
        snap.sync_out("p", str(out))
        put(out, "lib/mod.py", b"VALUE = 2\n")
        os.unlink(out / "README.md")
        newer = snap.sync_in(str(out), "p")
        assert newer.commit_hash != snap.commit_hash
        assert newer.read("p/lib/mod.py") == b"VALUE = 2\n"
        assert not newer.exists("p/README.md")
        # the old snapshot puts the local directory back
        snap.sync_out("p", str(out))
        assert snap.changes == ChangeReport(
            add=[FileEntry("README.md", BLOB, "p/README.md")],
            update=[FileEntry("lib/mod.py", BLOB, "p/lib/mod.py")])
        assert local_files(out) == local_files(project)

    def test_exported_names_match_the_repository(self, new_store, project, tmp_path):
        snap = new_store.branches["main"].copy_in(str(project) + "/", "")
        out = tmp_path / "out"
        snap.copy_out("", str(out))
        assert b"caf\xe9.txt" in os.listdir(os.fsencode(out))
        assert snap.exists(b"caf\xe9.txt".decode("utf-8", "surrogateescape"))
        assert sorted(local_files(out)) == sorted(
            p for p in local_files(project))
