"""FS.glob / FS.iglob on a small example tree:
.hidden, README.md, setup.py, docs/{api.md,guide.md},
src/{.env, app.py, .cache/tmp.py, lib/util.py}."""

from __future__ import annotations

import pytest

from gitstore import GitStore

from support import Commit, build_repo


@pytest.fixture(scope="module")
def fs(example_tree_repo):
    return GitStore.open(example_tree_repo[0], create=False).branches["main"]


ALL_VISIBLE = ["README.md", "docs", "docs/api.md", "docs/guide.md", "setup.py", "src",
               "src/app.py", "src/lib", "src/lib/util.py"]

# Patterns and what they match on the example tree.
GLOB_EXAMPLES = [
    ("*", ["README.md", "docs", "setup.py", "src"]),
    (".*", [".hidden"]),
    ("**", ALL_VISIBLE),
    ("**/*.py", ["setup.py", "src/app.py", "src/lib/util.py"]),
    ("src/**", ["src/app.py", "src/lib", "src/lib/util.py"]),
    ("**/.env", ["src/.env"]),
    ("**/.*", [".hidden", "src/.cache", "src/.env"]),
    ("docs/???.md", ["docs/api.md"]),
    ("[Rs]*", ["README.md", "setup.py", "src"]),
    ("src/./**/*.py", ["src/./app.py", "src/./lib/util.py"]),
    ("/src/lib/", ["src/lib"]),
    ("src/lib/util.py/x", []),
    ("", []),
    ("*/*.md", ["docs/api.md", "docs/guide.md"]),
    ("src/.*/*.py", ["src/.cache/tmp.py"]),
]


class TestExamples:
    @pytest.mark.parametrize("pattern,expected", GLOB_EXAMPLES)
    def test_example(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected


class TestWildcards:
    @pytest.mark.parametrize("pattern,expected", [
        ("src/*", ["src/app.py", "src/lib"]),
        ("src/*.py", ["src/app.py"]),
        ("*.md", ["README.md"]),
        ("**/*.md", ["README.md", "docs/api.md", "docs/guide.md"]),
        ("docs/*", ["docs/api.md", "docs/guide.md"]),
        ("src/lib/*.py", ["src/lib/util.py"]),
        ("*/lib", ["src/lib"]),
        ("*/*/util.py", ["src/lib/util.py"]),
        ("*/*/*", ["src/lib/util.py"]),
        ("?ocs", ["docs"]),
        ("d?cs/a*", ["docs/api.md"]),
        ("src/?pp.py", ["src/app.py"]),
        ("*s*", ["docs", "setup.py", "src"]),
        ("s**", ["setup.py", "src"]),      # 'a**' is an ordinary wildcard
        ("**.py", ["setup.py"]),           # not recursive either
    ])
    def test_patterns(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected

    def test_case_sensitive(self, fs):
        assert fs.glob("readme*") == []
        assert fs.glob("docs/*.MD") == []
        assert fs.glob("README.md") == ["README.md"]

    def test_matches_directories_too(self, fs):
        assert "docs" in fs.glob("d*")
        assert fs.glob("src/l*") == ["src/lib"]


class TestDotRule:
    @pytest.mark.parametrize("pattern,expected", [
        ("?hidden", []),
        ("[.]h*", []),
        ("[!s]*", ["README.md", "docs"]),
        ("[!.]*", ["README.md", "docs", "setup.py", "src"]),
        ("*hidden", []),
        (".h*", [".hidden"]),
        ("src/.e*", ["src/.env"]),
        ("src/*", ["src/app.py", "src/lib"]),
        ("src/.*", ["src/.cache", "src/.env"]),
    ])
    def test_wildcards_skip_dot_names(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected

    @pytest.mark.parametrize("pattern,expected", [
        (".hidden", [".hidden"]),
        ("src/.env", ["src/.env"]),
        ("src/.cache/tmp.py", ["src/.cache/tmp.py"]),
        ("src/.cache/*", ["src/.cache/tmp.py"]),
        (".cache", []),
    ])
    def test_literal_dot_names(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected


class TestDoubleStar:
    @pytest.mark.parametrize("pattern,expected", [
        ("**/tmp.py", []),                              # no descent into dot dirs
        ("**/.cache", ["src/.cache"]),
        ("**/.cache/*.py", ["src/.cache/tmp.py"]),
        ("**/lib", ["src/lib"]),
        ("**/lib/**", ["src/lib/util.py"]),
        ("src/**/*.py", ["src/app.py", "src/lib/util.py"]),
        ("src/**/tmp.py", []),
        ("**/nope", []),
        ("**/", ALL_VISIBLE),
        ("**/**", ALL_VISIBLE),
        ("src/**/", ["src/app.py", "src/lib", "src/lib/util.py"]),
    ])
    def test_patterns(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected

    def test_double_double_star(self, fs):
        got = fs.glob("**/**/*.py")
        assert len(got) == len(set(got))
        assert {"src/app.py", "src/lib/util.py"} <= set(got)
        assert set(got) <= {"setup.py", "src/app.py", "src/lib/util.py"}


class TestFilesBelowWildcards:
    """A wildcard or ** segment below a file yields nothing (no error)."""

    @pytest.mark.parametrize("pattern,expected", [
        ("*/*", ["docs/api.md", "docs/guide.md", "src/app.py", "src/lib"]),
        ("*/**", ["docs/api.md", "docs/guide.md", "src/app.py", "src/lib", "src/lib/util.py"]),
        (".*/x*", []),
        ("*.py/*", []),
        ("setup.py/**", []),
        ("*/*.md/*", []),
        ("src/app.py/?", []),
        ("**/*.py/*", []),
        ("README.md/*", []),
    ])
    def test_no_match_no_crash(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected


class TestPivot:
    @pytest.mark.parametrize("pattern,expected", [
        ("docs/./*.md", ["docs/./api.md", "docs/./guide.md"]),
        ("src/./lib", ["src/./lib"]),
        ("src/lib/./*", ["src/lib/./util.py"]),
        ("src/./lib/./util.py", []),   # only the first /./ is a pivot
        ("./src", []),                  # a leading ./ is not a pivot
        ("setup.py/./x", []),
        ("*/./x", []),
    ])
    def test_pivot(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected


class TestLiteralSegments:
    @pytest.mark.parametrize("pattern,expected", [
        ("src", ["src"]),
        ("/src/*/", ["src/app.py", "src/lib"]),
        ("src/../docs", []),
        ("src//app.py", []),
        ("nope", []),
        ("nope/*", []),
        ("/", []),
        ("//", []),
    ])
    def test_literals(self, fs, pattern, expected):
        assert fs.glob(pattern) == expected


@pytest.fixture(scope="module")
def bfs(tmp_path_factory):
    path = tmp_path_factory.mktemp("brackets") / "b.git"
    build_repo(path, [Commit({
        "[ab].txt": b"1", "a.txt": b"2", "b.txt": b"3", "c.txt": b"4", "x[1].log": b"5",
        "sub/[ab].txt": b"6", "*star": b"7", "q?mark": b"8", "A.TXT": b"9", "-x": b"10",
        "]": b"11",
    })])
    return GitStore.open(path, create=False).branches["main"]


class TestCharacterClasses:
    @pytest.mark.parametrize("pattern,expected", [
        ("[ab].txt", ["[ab].txt"]),        # no * or ?: a literal name
        ("sub/[ab].txt", ["sub/[ab].txt"]),
        ("x[1].log", ["x[1].log"]),
        ("[ab]*.txt", ["a.txt", "b.txt"]),
        ("[ab]?txt", ["a.txt", "b.txt"]),
        ("[!a]*.txt", ["[ab].txt", "b.txt", "c.txt"]),
        ("[a-c]*", ["a.txt", "b.txt", "c.txt"]),
        ("[a-c].txt", []),
        ("*.txt", ["[ab].txt", "a.txt", "b.txt", "c.txt"]),
        ("*.TXT", ["A.TXT"]),
        ("x?1?.log", ["x[1].log"]),
        ("x[1]*", []),
        ("[*]*", ["*star"]),
        ("q[?]*", ["q?mark"]),
        ("[]]*", ["]"]),
        ("*]", ["]"]),
        ("[-]*", ["-x"]),
        ("*/[[]ab]*", ["sub/[ab].txt"]),
        ("sub/[ab]*", []),
    ])
    def test_classes(self, bfs, pattern, expected):
        assert bfs.glob(pattern) == expected

    @pytest.mark.parametrize("pattern", ["*[", "[", "[]", "[!]", "[!", "a[", "*[z-a]*"])
    def test_odd_brackets_match_nothing(self, bfs, pattern):
        assert bfs.glob(pattern) == []


class TestIglob:
    def test_iglob_is_an_iterator(self, fs):
        it = fs.iglob("**/*.py")
        assert iter(it) is it
        assert not isinstance(it, list)
        first = next(it)
        assert first in {"setup.py", "src/app.py", "src/lib/util.py"}

    @pytest.mark.parametrize("pattern", ["*", "**", "**/*.py", "**/**", "**/**/*.py", "*/**",
                                         "src/./**/*.py", "**/.*", "**/*"])
    def test_iglob_same_set_as_glob_no_duplicates(self, fs, pattern):
        items = list(fs.iglob(pattern))
        assert len(items) == len(set(items))
        assert sorted(items) == fs.glob(pattern)

    def test_glob_returns_sorted_list(self, fs):
        got = fs.glob("**")
        assert isinstance(got, list)
        assert got == sorted(got)

    def test_empty_pattern(self, fs):
        assert list(fs.iglob("")) == []

    def test_glob_on_other_snapshots(self, history_repo):
        store = GitStore.open(history_repo[0], create=False)
        assert store.tags["v1"].glob("**") == ["README.md", "a.txt", "notes", "notes/todo.txt"]
        assert store.branches["main"].glob("odd/*") == [
            "odd/back\\slash.txt", "odd/co:lon.txt", "odd/sp ace.txt", "odd/ünï文件.txt"]
        assert store.branches["main"].glob("dir*") == ["dir", "dirlink"]
        # a symlink to a directory is a file: nothing below it
        assert store.branches["main"].glob("dirlink/*") == []
