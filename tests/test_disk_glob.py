"""disk_glob: glob expansion against the local disk."""

from __future__ import annotations

import inspect
import os
import threading
import time
from pathlib import Path

import pytest

from gitstore import disk_glob


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def example_dir(tmp_path, monkeypatch):
    """A small example directory, as the current directory:
    a.txt b.txt B.txt .h.txt dangling.txt->nowhere sub/c.txt sub/deep/z.txt lnk->sub
    """
    for name in ("a.txt", "b.txt", "B.txt", ".h.txt", "sub/c.txt", "sub/deep/z.txt"):
        touch(tmp_path / name)
    (tmp_path / "dangling.txt").symlink_to("nowhere")
    (tmp_path / "lnk").symlink_to("sub", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestExamples:
    def test_star_txt(self, example_dir):
        assert disk_glob("*.txt") == ["B.txt", "a.txt", "b.txt", "dangling.txt"]

    def test_dot_star(self, example_dir):
        assert disk_glob(".*") == [".h.txt"]

    def test_globstar_follows_directory_symlinks(self, example_dir):
        assert disk_glob("**/z.txt") == ["lnk/deep/z.txt", "sub/deep/z.txt"]

    def test_dot_slash_prefix_kept(self, example_dir):
        assert disk_glob("./*.txt") == ["./B.txt", "./a.txt", "./b.txt", "./dangling.txt"]

    def test_repeated_globstar_gives_duplicates(self, example_dir):
        assert disk_glob("**/**/z.txt") == ["lnk/deep/z.txt"] * 3 + ["sub/deep/z.txt"] * 3

    def test_pivot_kept(self, tmp_path, monkeypatch):
        touch(tmp_path / "base" / "sub" / "a.txt")
        touch(tmp_path / "base" / "sub" / "b.txt")
        monkeypatch.chdir(tmp_path)
        assert disk_glob("base/./sub/*.txt") == ["base/./sub/a.txt", "base/./sub/b.txt"]


class TestPivot:
    def test_disk_glob_pivot(self, tmp_path):
        touch(tmp_path / "base" / "sub" / "a.txt")
        touch(tmp_path / "base" / "sub" / "b.txt")
        result = disk_glob(str(tmp_path / "base") + "/./sub/*.txt")
        assert len(result) == 2
        assert all("/./" in r for r in result)

    def test_disk_glob_pivot_recursive(self, tmp_path):
        touch(tmp_path / "base" / "x.py")
        touch(tmp_path / "base" / "pkg" / "y.py")
        result = disk_glob(str(tmp_path / "base") + "/./**/*.py")
        base = str(tmp_path / "base")
        assert result == [base + "/./pkg/y.py", base + "/./x.py"]


class TestPatternForms:
    def test_absolute_stays_absolute(self, tmp_path):
        touch(tmp_path / "a.txt")
        assert disk_glob(str(tmp_path / "*.txt")) == [str(tmp_path / "a.txt")]

    def test_relative_stays_relative(self, example_dir):
        assert disk_glob("sub/*.txt") == ["sub/c.txt"]
        assert disk_glob("sub/deep/z.txt") == ["sub/deep/z.txt"]

    def test_os_path_join_pattern(self, tmp_path):
        touch(tmp_path / "globtest" / "a.txt")
        touch(tmp_path / "globtest" / "b.txt")
        d = tmp_path / "globtest"
        assert disk_glob(str(d) + "/*.txt") == disk_glob(os.path.join(str(d), "*.txt"))
        assert len(disk_glob(os.path.join(str(d), "*.txt"))) == 2

    def test_backslash_is_a_separator(self, example_dir):
        assert disk_glob("sub\\c.txt") == ["sub/c.txt"]
        assert disk_glob("sub\\*.txt") == ["sub/c.txt"]

    def test_trailing_slash_ignored(self, example_dir):
        assert disk_glob("*/") == disk_glob("*")
        assert "a.txt" in disk_glob("*/")
        assert disk_glob("sub/") == ["sub"]

    def test_empty_and_root(self):
        assert disk_glob("") == []
        assert disk_glob("/") == []
        assert disk_glob("///") == []

    def test_empty_segments_are_harmless(self, example_dir):
        assert disk_glob("sub//c.txt") == ["sub/c.txt"]
        assert disk_glob("sub//*.txt") == ["sub/c.txt"]

    def test_absolute_with_repeated_leading_slashes(self, tmp_path):
        touch(tmp_path / "a.txt")
        assert disk_glob("//" + str(tmp_path).lstrip("/") + "/*.txt") == [str(tmp_path / "a.txt")]

    def test_path_like_pattern(self, tmp_path):
        touch(tmp_path / "a.txt")
        assert disk_glob(tmp_path / "*.txt") == [str(tmp_path / "a.txt")]

    def test_keyword_argument(self, example_dir):
        assert disk_glob(pattern="a.txt") == ["a.txt"]

    def test_bad_arguments(self):
        with pytest.raises(TypeError):
            disk_glob(b"*.txt")
        with pytest.raises(TypeError):
            disk_glob(3)
        with pytest.raises(ValueError):
            disk_glob("a\0b")

    def test_signature_and_doc(self):
        assert str(inspect.signature(disk_glob)) == "(pattern)"
        assert "Returns:" in disk_glob.__doc__
        assert disk_glob.__module__ == "gitstore"


class TestSegments:
    def test_wildcards(self, tmp_path, monkeypatch):
        for name in ("f1.txt", "f2.txt", "fa.txt", "f10.txt", "g.txt"):
            touch(tmp_path / name)
        monkeypatch.chdir(tmp_path)
        assert disk_glob("f?.txt") == ["f1.txt", "f2.txt", "fa.txt"]
        assert disk_glob("f*.txt") == ["f1.txt", "f10.txt", "f2.txt", "fa.txt"]
        # Without '*' or '?' a segment is a literal name, brackets or not.
        assert disk_glob("f[0-9].txt") == []
        assert disk_glob("f[0-9]?txt") == ["f1.txt", "f2.txt"]
        assert disk_glob("f[0-9]*") == ["f1.txt", "f10.txt", "f2.txt"]
        assert disk_glob("f[!0-9]*") == ["fa.txt"]
        assert disk_glob("F*") == []

    def test_brackets_alone_make_a_literal(self, tmp_path, monkeypatch):
        touch(tmp_path / "f[1].txt")
        touch(tmp_path / "f1.txt")
        monkeypatch.chdir(tmp_path)
        assert disk_glob("f[1].txt") == ["f[1].txt"]
        assert disk_glob("f[1]*") == ["f1.txt"]

    def test_star_skips_dot_names(self, example_dir):
        assert ".h.txt" not in disk_glob("*")
        assert disk_glob("*h.txt") == []
        assert disk_glob(".*.txt") == [".h.txt"]
        assert disk_glob("?h.txt") == []

    def test_wildcard_in_the_middle(self, example_dir):
        assert disk_glob("*/c.txt") == ["lnk/c.txt", "sub/c.txt"]
        assert disk_glob("s*/deep/*") == ["sub/deep/z.txt"]

    def test_final_literal_must_exist(self, example_dir):
        assert disk_glob("a.txt") == ["a.txt"]
        assert disk_glob("missing.txt") == []
        # A dangling symlink named literally is not returned ...
        assert disk_glob("dangling.txt") == []
        # ... though a wildcard lists it.
        assert "dangling.txt" in disk_glob("dang*")

    def test_intermediate_literal_not_checked(self, example_dir):
        assert disk_glob("missing/*.txt") == []
        assert disk_glob("missing/a.txt") == []
        assert disk_glob("lnk/c.txt") == ["lnk/c.txt"]

    def test_file_used_as_directory(self, example_dir):
        assert disk_glob("a.txt/*") == []
        assert disk_glob("a.txt/**") == []
        assert disk_glob("a.txt/x") == []

    def test_directories_are_matched_too(self, example_dir):
        assert disk_glob("s*") == ["sub"]
        assert disk_glob("*/deep") == ["lnk/deep", "sub/deep"]

    def test_trailing_slash_does_not_restrict_to_directories(self, example_dir):
        assert disk_glob("*.txt/") == disk_glob("*.txt")


class TestGlobstar:
    def test_last_globstar_yields_everything_visible(self, example_dir):
        assert disk_glob("**") == [
            "B.txt", "a.txt", "b.txt", "dangling.txt",
            "lnk", "lnk/c.txt", "lnk/deep", "lnk/deep/z.txt",
            "sub", "sub/c.txt", "sub/deep", "sub/deep/z.txt",
        ]

    def test_globstar_below_a_directory(self, example_dir):
        assert disk_glob("sub/**") == ["sub/c.txt", "sub/deep", "sub/deep/z.txt"]

    def test_globstar_matches_zero_levels(self, example_dir):
        assert disk_glob("**/a.txt") == ["a.txt"]
        assert disk_glob("sub/**/c.txt") == ["sub/c.txt"]
        assert disk_glob("sub/**/z.txt") == ["sub/deep/z.txt"]

    def test_dot_directories_never_entered(self, tmp_path, monkeypatch):
        touch(tmp_path / ".git" / "x.txt")
        touch(tmp_path / "sub" / ".cache" / "x.txt")
        touch(tmp_path / "sub" / "x.txt")
        monkeypatch.chdir(tmp_path)
        assert disk_glob("**/x.txt") == ["sub/x.txt"]
        assert disk_glob("**") == ["sub", "sub/x.txt"]
        # A dot segment after ** is matched at every visited level.
        assert disk_glob("**/.cache/x.txt") == ["sub/.cache/x.txt"]

    def test_dot_entries_found_with_dot_segment(self, tmp_path, monkeypatch):
        touch(tmp_path / ".git" / "x.txt")
        touch(tmp_path / "sub" / ".cache" / "x.txt")
        monkeypatch.chdir(tmp_path)
        assert disk_glob("**/.*") == [".git", "sub/.cache"]

    def test_missing_start(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert disk_glob("nope/**") == []
        assert disk_glob("nope/**/x") == []

    def test_absolute_globstar(self, tmp_path):
        touch(tmp_path / "d" / "e" / "f.py")
        touch(tmp_path / "d" / "g.py")
        assert disk_glob(str(tmp_path / "d") + "/**/*.py") == [
            str(tmp_path / "d" / "e" / "f.py"), str(tmp_path / "d" / "g.py")]


class TestSymlinkCycles:
    """`**` follows directory symlinks but never re-enters a directory on
    its current chain, so a link cycle ends."""

    def test_link_to_parent(self, tmp_path, monkeypatch):
        touch(tmp_path / "a.txt")
        touch(tmp_path / "sub" / "c.txt")
        (tmp_path / "sub" / "up").symlink_to("..", target_is_directory=True)
        monkeypatch.chdir(tmp_path)
        assert disk_glob("**/*.txt") == ["a.txt", "sub/c.txt"]
        # The link is still an entry of its directory.
        assert disk_glob("**") == ["a.txt", "sub", "sub/c.txt", "sub/up"]

    def test_link_to_itself_directory(self, tmp_path, monkeypatch):
        touch(tmp_path / "d" / "x.txt")
        (tmp_path / "d" / "self").symlink_to(".", target_is_directory=True)
        monkeypatch.chdir(tmp_path)
        assert disk_glob("**/x.txt") == ["d/x.txt"]
        assert disk_glob("d/**/x.txt") == ["d/x.txt"]

    def test_mutual_links(self, tmp_path, monkeypatch):
        touch(tmp_path / "a" / "x.txt")
        touch(tmp_path / "b" / "y.txt")
        (tmp_path / "a" / "to_b").symlink_to("../b", target_is_directory=True)
        (tmp_path / "b" / "to_a").symlink_to("../a", target_is_directory=True)
        monkeypatch.chdir(tmp_path)
        assert disk_glob("**/*.txt") == [
            "a/to_b/y.txt", "a/x.txt", "b/to_a/x.txt", "b/y.txt"]

    def test_many_links_to_the_root_finish_quickly(self, tmp_path, monkeypatch):
        touch(tmp_path / "top.txt")
        for i in range(6):
            d = tmp_path / f"d{i}"
            touch(d / "f.txt")
            for j in range(4):
                (d / f"loop{j}").symlink_to("..", target_is_directory=True)
        monkeypatch.chdir(tmp_path)
        start = time.monotonic()
        result = disk_glob("**/*.txt")
        assert time.monotonic() - start < 10
        assert result == [f"d{i}/f.txt" for i in range(6)] + ["top.txt"]

    def test_absolute_link_cycle(self, tmp_path):
        touch(tmp_path / "r" / "x.txt")
        (tmp_path / "r" / "again").symlink_to(tmp_path / "r", target_is_directory=True)
        assert disk_glob(str(tmp_path / "r") + "/**/x.txt") == [str(tmp_path / "r" / "x.txt")]

    def test_second_link_to_a_sibling_is_followed(self, tmp_path, monkeypatch):
        touch(tmp_path / "data" / "v.txt")
        (tmp_path / "l1").symlink_to("data", target_is_directory=True)
        (tmp_path / "l2").symlink_to("data", target_is_directory=True)
        monkeypatch.chdir(tmp_path)
        assert disk_glob("**/v.txt") == ["data/v.txt", "l1/v.txt", "l2/v.txt"]


class TestNames:
    def test_code_point_order(self, tmp_path, monkeypatch):
        for name in ("b.txt", "B.txt", "a.txt", "é.txt", "z.txt", "_.txt", "Z.txt"):
            touch(tmp_path / name)
        monkeypatch.chdir(tmp_path)
        assert disk_glob("*.txt") == sorted(["b.txt", "B.txt", "a.txt", "é.txt", "z.txt",
                                             "_.txt", "Z.txt"])
        assert disk_glob("*.txt")[0] == "B.txt"
        assert disk_glob("*.txt")[-1] == "é.txt"

    def test_non_ascii(self, tmp_path, monkeypatch):
        touch(tmp_path / "données" / "été.txt")
        monkeypatch.chdir(tmp_path)
        assert disk_glob("donn?es/*.txt") == ["données/été.txt"]
        assert disk_glob("**/été.txt") == ["données/été.txt"]
        assert disk_glob("*/?t?.txt") == ["données/été.txt"]

    def test_undecodable_names_round_trip(self, tmp_path, monkeypatch):
        raw = os.path.join(os.fsencode(tmp_path), b"\xff\xfe.bin")
        with open(raw, "wb") as f:
            f.write(b"x")
        touch(tmp_path / "a.bin")
        monkeypatch.chdir(tmp_path)
        result = disk_glob("*.bin")
        assert result == sorted(["a.bin", os.fsdecode(b"\xff\xfe.bin")])
        assert os.fsencode(result[1]) == b"\xff\xfe.bin"
        assert disk_glob(os.fsdecode(b"\xff?.bin")) == [os.fsdecode(b"\xff\xfe.bin")]
        assert os.path.exists(result[1])

    @pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                        reason="root can read any directory")
    def test_unreadable_directory_contributes_nothing(self, tmp_path, monkeypatch):
        touch(tmp_path / "open" / "a.txt")
        touch(tmp_path / "closed" / "b.txt")
        (tmp_path / "closed").chmod(0)
        try:
            monkeypatch.chdir(tmp_path)
            assert disk_glob("**/*.txt") == ["open/a.txt"]
            assert disk_glob("closed/*.txt") == []
        finally:
            (tmp_path / "closed").chmod(0o755)


class TestThreads:
    def test_parallel_calls(self, tmp_path):
        for i in range(20):
            touch(tmp_path / f"d{i % 4}" / f"f{i}.txt")
        pattern = str(tmp_path) + "/**/*.txt"
        expected = disk_glob(pattern)
        assert len(expected) == 20
        results = []

        def run():
            for _ in range(20):
                results.append(disk_glob(pattern))

        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 120
        assert all(r == expected for r in results)
