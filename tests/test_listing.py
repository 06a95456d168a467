"""ls / listdir / walk: git tree order, root and path forms, errors; checked
against git ls-tree."""

from __future__ import annotations

import pathlib

import pytest

from gitstore import FileType, GitStore, WalkEntry

from support import Commit, Exe, Git, Link, build_repo

# Names chosen so that git tree order differs from plain sorting: a directory
# sorts as if its name ended with '/'.
ORDER_TREE = {
    "b": b"b",
    "ab/x": b"x",
    "a0": b"a0",
    "a/inner": b"inner",
    "a.txt": b"t",
    "a.b": b"ab",
    "a-b": b"a-b",
    "B": b"B",
    "é.txt": b"e",
    "z": b"z",
    "ä/f": b"f",
    "ä.txt": b"a",
    ".dot": b"d",
    "-dash": b"-",
    "run": Exe(b"#!/bin/sh\n"),
    "ln": Link("a.txt"),
}


@pytest.fixture(scope="module")
def order_repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("order") / "order.git"
    build_repo(path, [Commit(ORDER_TREE)])
    return path


@pytest.fixture(scope="module")
def ofs(order_repo):
    return GitStore.open(order_repo, create=False).branches["main"]


@pytest.fixture(scope="module")
def example_fs(example_tree_repo):
    return GitStore.open(example_tree_repo[0], create=False).branches["main"]


@pytest.fixture(scope="module")
def hist(history_repo):
    return GitStore.open(history_repo[0], create=False).branches["main"]


def _entries(g, treeish):
    return [WalkEntry(name, oid.encode(), int(mode, 8)) for mode, _t, oid, name in g.ls_tree(treeish)]


# ---------------------------------------------------------------------------
# ls
# ---------------------------------------------------------------------------

class TestLs:
    def test_git_tree_order(self, ofs, order_repo):
        names = [r[3] for r in Git(order_repo).ls_tree("main")]
        assert ofs.ls() == names

    def test_git_order_examples(self, ofs):
        got = [n for n in ofs.ls() if n in {"B", "a-b", "a.b", "a.txt", "a", "a0", "ab", "b"}]
        assert got == ["B", "a-b", "a.b", "a.txt", "a", "a0", "ab", "b"]

    def test_non_ascii_sorted_by_utf8_bytes(self, ofs):
        names = ofs.ls()
        # 'z' (0x7a) < 'ä' (0xc3 0xa4) < 'é' (0xc3 0xa9); 'ä.txt' before dir 'ä'
        assert names.index("z") < names.index("ä.txt") < names.index("ä") < names.index("é.txt")

    def test_dot_names_included(self, example_fs):
        assert example_fs.ls() == [".hidden", "README.md", "docs", "setup.py", "src"]
        assert example_fs.ls("src") == [".cache", ".env", "app.py", "lib"]

    def test_subdirectories(self, example_fs, example_tree_repo):
        g = Git(example_tree_repo[0])
        for d in ["docs", "src", "src/lib", "src/.cache"]:
            assert example_fs.ls(d) == [r[3] for r in g.ls_tree(f"main:{d}")]

    @pytest.mark.parametrize("root", [None, "", "/", "//"])
    def test_root_forms(self, example_fs, root):
        assert example_fs.ls(root) == example_fs.ls()

    def test_path_forms(self, example_fs):
        expected = ["tmp.py"]
        assert example_fs.ls("src/.cache") == expected
        assert example_fs.ls("/src/.cache/") == expected
        assert example_fs.ls(pathlib.PurePosixPath("src/.cache")) == expected

    def test_returns_new_list_of_str(self, example_fs):
        a = example_fs.ls()
        a.append("junk")
        assert "junk" not in example_fs.ls()
        assert all(type(n) is str for n in example_fs.ls())

    def test_errors(self, example_fs):
        with pytest.raises(NotADirectoryError) as ei:
            example_fs.ls("setup.py")
        assert ei.value.args == ("setup.py",)
        with pytest.raises(NotADirectoryError) as ei:
            example_fs.ls("src/lib/util.py/x")
        assert ei.value.args == ("src/lib/util.py",)
        with pytest.raises(FileNotFoundError) as ei:
            example_fs.ls("src/nope")
        assert ei.value.args == ("src/nope",)
        with pytest.raises(ValueError):
            example_fs.ls("src//lib")

    def test_symlink_is_not_followed(self, hist):
        with pytest.raises(NotADirectoryError) as ei:
            hist.ls("dirlink")
        assert ei.value.args == ("dirlink",)


# ---------------------------------------------------------------------------
# listdir
# ---------------------------------------------------------------------------

class TestListdir:
    def test_matches_git_ls_tree(self, ofs, order_repo):
        g = Git(order_repo)
        assert ofs.listdir() == _entries(g, "main")
        assert ofs.listdir("a") == _entries(g, "main:a")

    def test_entry_types(self, ofs, order_repo):
        by_name = {e.name: e for e in ofs.listdir()}
        assert by_name["run"].mode == 0o100755
        assert by_name["run"].file_type is FileType.EXECUTABLE
        assert by_name["ln"].mode == 0o120000
        assert by_name["ln"].file_type is FileType.LINK
        assert by_name["a"].mode == 0o040000
        assert by_name["a"].file_type is FileType.TREE
        assert by_name["a"].oid == Git(order_repo).rev("main:a").encode()
        assert by_name["b"].mode == 0o100644
        assert by_name["b"].file_type is FileType.BLOB

    def test_entries_are_walk_entries(self, example_fs):
        for e in example_fs.listdir("src"):
            assert isinstance(e, WalkEntry)
            assert isinstance(e, tuple)
            assert type(e.name) is str
            assert type(e.oid) is bytes and len(e.oid) == 40
            assert e.oid == e.oid.lower()
            assert type(e.mode) is int
            name, oid, mode = e
            assert e == (name, oid, mode)
            assert e[0] == name

    def test_same_names_and_order_as_ls(self, ofs, example_fs, hist):
        for fs, d in [(ofs, None), (example_fs, "src"), (hist, "odd"), (hist, None)]:
            assert [e.name for e in fs.listdir(d)] == fs.ls(d)

    def test_oid_reads_back(self, hist):
        for e in hist.listdir("odd"):
            assert hist.read_by_hash(e.oid) == hist.read(f"odd/{e.name}")

    @pytest.mark.parametrize("root", [None, "", "/", "//"])
    def test_root_forms(self, example_fs, root):
        assert example_fs.listdir(root) == example_fs.listdir()

    def test_errors(self, example_fs):
        with pytest.raises(NotADirectoryError) as ei:
            example_fs.listdir("README.md")
        assert ei.value.args == ("README.md",)
        with pytest.raises(FileNotFoundError) as ei:
            example_fs.listdir("nope")
        assert ei.value.args == ("nope",)
        with pytest.raises(NotADirectoryError) as ei:
            example_fs.listdir("README.md/x")
        assert ei.value.args == ("README.md",)

    def test_older_snapshot(self, hist, history_repo):
        g = Git(history_repo[0])
        old = hist.back(3)  # c3
        assert old.listdir("dir") == _entries(g, f"{history_repo[1]['c3']}:dir")


# ---------------------------------------------------------------------------
# walk
# ---------------------------------------------------------------------------

EXAMPLE_WALK = [
    ("", ["docs", "src"], [".hidden", "README.md", "setup.py"]),
    ("docs", [], ["api.md", "guide.md"]),
    ("src", [".cache", "lib"], [".env", "app.py"]),
    ("src/.cache", [], ["tmp.py"]),
    ("src/lib", [], ["util.py"]),
]


def _names(walk):
    return [(d, list(dirs), [f.name for f in files]) for d, dirs, files in walk]


class TestWalk:
    def test_example_tree(self, example_fs):
        assert _names(example_fs.walk()) == EXAMPLE_WALK

    def test_file_entries_match_git(self, example_fs, example_tree_repo):
        g = Git(example_tree_repo[0])
        for d, _dirs, files in example_fs.walk():
            treeish = "main" if d == "" else f"main:{d}"
            expected = [e for e in _entries(g, treeish) if e.mode != 0o040000]
            assert files == expected
            for f in files:
                assert isinstance(f, WalkEntry)

    def test_is_a_generator(self, example_fs):
        w = example_fs.walk()
        assert iter(w) is w
        first = next(w)
        assert first[0] == ""

    def test_start_path(self, example_fs):
        assert _names(example_fs.walk("src")) == EXAMPLE_WALK[2:]
        assert _names(example_fs.walk("/src/lib/")) == EXAMPLE_WALK[4:]
        assert _names(example_fs.walk(pathlib.PurePosixPath("src"))) == EXAMPLE_WALK[2:]

    @pytest.mark.parametrize("root", [None, "", "/", "//"])
    def test_root_forms(self, example_fs, root):
        assert _names(example_fs.walk(root)) == EXAMPLE_WALK

    def test_editing_dirnames_does_not_prune(self, example_fs):
        seen = []
        for d, dirs, _files in example_fs.walk():
            seen.append(d)
            dirs.clear()
        assert seen == ["", "docs", "src", "src/.cache", "src/lib"]

    def test_errors_raise_on_iteration(self, example_fs):
        w = example_fs.walk("nope")  # nothing raised yet
        with pytest.raises(FileNotFoundError) as ei:
            next(w)
        assert ei.value.args == ("nope",)
        with pytest.raises(NotADirectoryError) as ei:
            list(example_fs.walk("setup.py"))
        assert ei.value.args == ("setup.py",)
        with pytest.raises(NotADirectoryError) as ei:
            list(example_fs.walk("setup.py/x/y"))
        assert ei.value.args == ("setup.py",)

    def test_walk_covers_every_git_entry(self, hist, history_repo):
        g = Git(history_repo[0])
        files = {}
        dirs = set()
        for d, dirnames, entries in hist.walk():
            for name in dirnames:
                dirs.add(f"{d}/{name}" if d else name)
            for e in entries:
                files[f"{d}/{e.name}" if d else e.name] = (e.oid.decode(), e.mode)
        out = g.raw("ls-tree", "-r", "-t", "-z", "main")
        git_files, git_dirs = {}, set()
        for item in out.split(b"\0"):
            if not item:
                continue
            meta, name = item.split(b"\t", 1)
            mode, typ, oid = meta.decode().split(" ")
            if typ == "tree":
                git_dirs.add(name.decode())
            else:
                git_files[name.decode()] = (oid, int(mode, 8))
        assert files == git_files
        assert dirs == git_dirs

    def test_names_shared_between_directories_match_git(self, tmp_path):
        # Names recur in every directory (also as directory names), differ
        # in one byte, are prefixes of each other, are not ASCII or not
        # UTF-8, and are more than a walk keeps at once.
        names = ["a", "ab", "abc", "b", "ba", "é", "e\u0301", "x" * 300, "m0", "m1"]
        names += [f"n{i}" for i in range(1100)]
        files: dict = {}
        for d in ["m0", "m1", "p/m0", "ab/a", "é"]:
            for k, n in enumerate(names):
                files[f"{d}/{n}"] = b"%d %s" % (k, d.encode())
            files[d.encode() + b"/raw\xff"] = b"raw"
        path = tmp_path / "names.git"
        build_repo(path, [Commit(files)])
        fs = GitStore.open(path, create=False).branches["main"]
        got_files, got_dirs = {}, set()
        for d, dirnames, entries in fs.walk():
            for name in dirnames:
                got_dirs.add(f"{d}/{name}" if d else name)
            for e in entries:
                got_files[f"{d}/{e.name}" if d else e.name] = (e.oid.decode(), e.mode)
        git_files, git_dirs = {}, set()
        for item in Git(path).raw("ls-tree", "-r", "-t", "-z", "main").split(b"\0"):
            if item:
                meta, name = item.split(b"\t", 1)
                mode, typ, oid = meta.decode().split(" ")
                name = name.decode("utf-8", "surrogateescape")
                if typ == "tree":
                    git_dirs.add(name)
                else:
                    git_files[name] = (oid, int(mode, 8))
        assert got_files == git_files
        assert got_dirs == git_dirs
        assert len(got_files) == 5 * (len(names) + 1)

    def test_symlinks_and_executables_are_files(self, hist):
        root = next(iter(hist.walk()))
        modes = {e.name: e.mode for e in root[2]}
        assert modes["link"] == 0o120000
        assert modes["dirlink"] == 0o120000
        assert modes["tool"] == 0o100755
        assert "dirlink" not in root[1]

    def test_deep_tree_preorder(self, tmp_path):
        files = {f"d{i}/" * i + "f.txt": b"x" for i in range(1, 4)}
        files.update({"b/z": b"1", "a/y": b"2", "a/b/c": b"3"})
        path = tmp_path / "deep.git"
        build_repo(path, [Commit(files)])
        fs = GitStore.open(path, create=False).branches["main"]
        got = [d for d, _dirs, _files in fs.walk()]
        # depth first, pre-order, tree order at each level
        assert got == ["", "a", "a/b", "b", "d1", "d2", "d2/d2", "d3", "d3/d3", "d3/d3/d3"]


# ---------------------------------------------------------------------------
# Empty tree
# ---------------------------------------------------------------------------

class TestEmptyTree:
    @pytest.fixture
    def empty_fs(self, tmp_path):
        return GitStore.open(tmp_path / "new.git").branches["main"]

    def test_listings(self, empty_fs):
        assert empty_fs.ls() == []
        assert empty_fs.listdir() == []
        assert list(empty_fs.walk()) == [("", [], [])]

    def test_stat_root(self, empty_fs):
        st = empty_fs.stat()
        assert st.nlink == 2
        assert st.size == 0
        assert st.hash == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

    def test_lookups(self, empty_fs):
        assert empty_fs.exists("x") is False
        with pytest.raises(FileNotFoundError):
            empty_fs.ls("x")
        with pytest.raises(FileNotFoundError):
            list(empty_fs.walk("x"))
        assert empty_fs.glob("*") == []
        assert empty_fs.glob("**") == []
