"""ExcludeFilter: base patterns, .gitignore files met
during a walk, and the walk a bulk copy makes with them.

The walk tests drive the filter through its public methods with a small
os.walk-based walker written here (the same protocol copy_in follows:
enter each directory, prune excluded directories, drop excluded files).
"""

from __future__ import annotations

import inspect
import os
import threading
from pathlib import Path

import pytest

from gitstore import ExcludeFilter


def excluded(patterns, path, is_dir=False):
    return ExcludeFilter(patterns=patterns).is_excluded(path, is_dir=is_dir)


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """Create files (and their directories) below root; returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def walk(root, ef=None, follow_symlinks=False):
    """Relative paths of the entries a bulk copy would take from root."""
    found = set()
    use = ef is not None and ef.active
    root = str(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_symlinks):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir

        def rel(name):
            return f"{rel_dir}/{name}" if rel_dir else name

        if use:
            ef.enter_directory(dirpath, rel_dir)
            dirnames[:] = [d for d in dirnames
                           if not ef.is_excluded_in_walk(rel(d), is_dir=True)]
        for name in filenames:
            if not (use and ef.is_excluded_in_walk(rel(name))):
                found.add(rel(name))
        if not follow_symlinks:
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            for d in links:
                found.add(rel(d))
                dirnames.remove(d)
    return found


# ---------------------------------------------------------------------------
# Construction, active, repr
# ---------------------------------------------------------------------------

class TestConstruction:
    def test_no_patterns_not_active(self):
        assert ExcludeFilter().active is False

    def test_empty_sequence_not_active(self):
        assert ExcludeFilter(patterns=[]).active is False

    def test_empty_string_pattern_is_active_but_matches_nothing(self):
        ef = ExcludeFilter(patterns=[""])
        assert ef.active is True
        assert ef.is_excluded("a.txt") is False
        assert ef.is_excluded("", is_dir=True) is False

    def test_patterns_active(self):
        assert ExcludeFilter(patterns=["*.pyc"]).active is True

    def test_gitignore_active(self):
        assert ExcludeFilter(gitignore=True).active is True

    def test_inactive_filter_excludes_nothing(self, tmp_path):
        make_tree(tmp_path, {".gitignore": "*\n", "a.txt": "a"})
        ef = ExcludeFilter()
        ef.enter_directory(tmp_path, "")
        assert ef.is_excluded("a.txt") is False
        assert ef.is_excluded_in_walk("a.txt") is False
        assert ef.is_excluded_in_walk(".gitignore") is False

    def test_arguments_are_keyword_only(self):
        with pytest.raises(TypeError):
            ExcludeFilter(["*.pyc"])

    def test_single_string_is_refused(self):
        # Iterating "*.pyc" would give the pattern "*", excluding everything.
        with pytest.raises(TypeError):
            ExcludeFilter(patterns="*.pyc")

    def test_non_string_pattern_is_refused(self):
        with pytest.raises(TypeError):
            ExcludeFilter(patterns=["*.pyc", 3])
        with pytest.raises(TypeError):
            ExcludeFilter(patterns=[b"*.pyc"])

    def test_any_iterable_of_patterns(self):
        ef = ExcludeFilter(patterns=(p for p in ["*.pyc", "*.o"]))
        assert ef.is_excluded("a.o") is True

    def test_nul_in_pattern_is_refused(self):
        with pytest.raises(ValueError):
            ExcludeFilter(patterns=["a\0b"])

    def test_repr(self, tmp_path):
        assert repr(ExcludeFilter()) == "ExcludeFilter()"
        assert repr(ExcludeFilter(patterns=["*.pyc", "build/"])) == \
            "ExcludeFilter(patterns=['*.pyc', 'build/'])"
        excl = tmp_path / "ex.txt"
        excl.write_text("*.log\n")
        assert repr(ExcludeFilter(exclude_from=str(excl), gitignore=True)) == \
            f"ExcludeFilter(exclude_from={str(excl)!r}, gitignore=True)"

    def test_signatures(self):
        assert str(inspect.signature(ExcludeFilter)) == \
            "(*, patterns=None, exclude_from=None, gitignore=False)"
        assert str(inspect.signature(ExcludeFilter.is_excluded)) == \
            "(self, /, rel_path, *, is_dir=False)"
        assert str(inspect.signature(ExcludeFilter.is_excluded_in_walk)) == \
            "(self, /, rel_path, *, is_dir=False)"
        assert str(inspect.signature(ExcludeFilter.enter_directory)) == \
            "(self, /, abs_dir, rel_dir)"

    def test_docstrings(self):
        for obj in (ExcludeFilter, ExcludeFilter.is_excluded, ExcludeFilter.enter_directory,
                    ExcludeFilter.is_excluded_in_walk, ExcludeFilter.active):
            assert obj.__doc__ and len(obj.__doc__) > 40

    def test_module_name(self):
        assert ExcludeFilter.__module__ == "gitstore"
        assert ExcludeFilter.__name__ == "ExcludeFilter"

    def test_subclassable(self):
        class Mine(ExcludeFilter):
            pass

        ef = Mine(patterns=["*.o"])
        assert ef.is_excluded("a.o") is True
        assert repr(ef) == "Mine(patterns=['*.o'])"

    def test_rel_path_accepts_path_like(self):
        from pathlib import PurePosixPath
        ef = ExcludeFilter(patterns=["*.o"])
        assert ef.is_excluded(PurePosixPath("sub/a.o")) is True
        with pytest.raises(TypeError):
            ef.is_excluded(b"a.o")


# ---------------------------------------------------------------------------
# exclude_from
# ---------------------------------------------------------------------------

class TestExcludeFrom:
    def test_exclude_from_file(self, tmp_path):
        pfile = tmp_path / "excludes.txt"
        pfile.write_text("*.log\n# comment\n__pycache__/\n")
        ef = ExcludeFilter(exclude_from=str(pfile))
        assert ef.active is True
        assert ef.is_excluded("app.log") is True
        assert ef.is_excluded("__pycache__", is_dir=True) is True
        assert ef.is_excluded("app.py") is False
        assert ef.is_excluded("# comment") is False

    def test_lines_are_trimmed_and_blank_lines_skipped(self, tmp_path):
        pfile = tmp_path / "excludes.txt"
        pfile.write_bytes(b"   exact.txt  \r\n\r\n \t \n\t*.tmp\r  # not a rule\rlast.txt")
        ef = ExcludeFilter(exclude_from=str(pfile))
        assert ef.is_excluded("exact.txt") is True
        assert ef.is_excluded(" exact.txt") is False
        assert ef.is_excluded("exact.txt  ") is False
        assert ef.is_excluded("a.tmp") is True
        assert ef.is_excluded("last.txt") is True
        assert ef.is_excluded("# not a rule") is False

    def test_only_comments_still_inactive(self, tmp_path):
        pfile = tmp_path / "excludes.txt"
        pfile.write_text("# nothing here\n\n")
        assert ExcludeFilter(exclude_from=str(pfile)).active is False

    def test_path_like(self, tmp_path):
        pfile = tmp_path / "excludes.txt"
        pfile.write_text("*.log\n")
        assert ExcludeFilter(exclude_from=pfile).is_excluded("x.log") is True

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            ExcludeFilter(exclude_from=str(tmp_path / "nope.txt"))

    def test_directory(self, tmp_path):
        with pytest.raises(IsADirectoryError):
            ExcludeFilter(exclude_from=str(tmp_path))

    def test_file_lines_follow_patterns(self, tmp_path):
        # Base rules are the patterns, then the file's lines: the last match wins.
        pfile = tmp_path / "excludes.txt"
        pfile.write_text("*.log\n")
        ef = ExcludeFilter(patterns=["!keep.log"], exclude_from=str(pfile))
        assert ef.is_excluded("keep.log") is True
        pfile.write_text("!keep.log\n")
        ef = ExcludeFilter(patterns=["*.log"], exclude_from=str(pfile))
        assert ef.is_excluded("keep.log") is False
        assert ef.is_excluded("other.log") is True

    def test_file_read_once(self, tmp_path):
        pfile = tmp_path / "excludes.txt"
        pfile.write_text("*.log\n")
        ef = ExcludeFilter(exclude_from=str(pfile))
        pfile.write_text("*.txt\n")
        assert ef.is_excluded("a.log") is True
        assert ef.is_excluded("a.txt") is False


# ---------------------------------------------------------------------------
# Matching rules (base patterns)
# ---------------------------------------------------------------------------

def case(patterns, path, is_dir, expected, id):
    return pytest.param(patterns, path, is_dir, expected, id=id)


# (patterns, path, is_dir, expected): whether the path is excluded, one row
# per case, grouped by the rule they show.
MATCH_CASES = [
    # exclude pattern match
    case(['*.pyc'], 'foo.pyc', False, True, 'exclude_pattern_match: *.pyc ~ foo.pyc -> excluded'),
    case(['*.pyc'], 'sub/bar.pyc', False, True, 'exclude_pattern_match: *.pyc ~ sub/bar.pyc -> excluded'),
    case(['*.pyc'], 'a/b/c/baz.pyc', False, True, 'exclude_pattern_match: *.pyc ~ a/b/c/baz.pyc -> excluded'),
    # exclude pattern no match
    case(['*.pyc'], 'foo.py', False, False, 'exclude_pattern_no_match: *.pyc ~ foo.py -> kept'),
    case(['*.pyc'], 'foo.pyc.txt', False, False, 'exclude_pattern_no_match: *.pyc ~ foo.pyc.txt -> kept'),
    # directory pattern
    case(['build/'], 'build', True, True, 'directory_pattern: build/ ~ build (dir) -> excluded'),
    case(['build/'], 'build', False, False, 'directory_pattern: build/ ~ build -> kept'),
    case(['build/'], 'src/build', True, True, 'directory_pattern: build/ ~ src/build (dir) -> excluded'),
    # A trailing slash on the path also marks a directory.
    case(['build/'], 'build/', False, True, 'directory_pattern: build/ ~ build/ -> excluded'),
    # directory pattern excludes files inside
    case(['build/'], 'build/x.txt', False, True, 'directory_pattern_excludes_files_inside: build/ ~ build/x.txt -> excluded'),
    case(['build/'], 'build/deep/x.txt', False, True, 'directory_pattern_excludes_files_inside: build/ ~ build/deep/x.txt -> excluded'),
    case(['build/'], 'src/build/x.txt', False, True, 'directory_pattern_excludes_files_inside: build/ ~ src/build/x.txt -> excluded'),
    case(['build/'], 'builds/x.txt', False, False, 'directory_pattern_excludes_files_inside: build/ ~ builds/x.txt -> kept'),
    # negation
    case(['*.pyc', '!important.pyc'], 'foo.pyc', False, True, 'negation: *.pyc !important.pyc ~ foo.pyc -> excluded'),
    case(['*.pyc', '!important.pyc'], 'important.pyc', False, False, 'negation: *.pyc !important.pyc ~ important.pyc -> kept'),
    case(['*.pyc', '!important.pyc'], 'sub/important.pyc', False, False, 'negation: *.pyc !important.pyc ~ sub/important.pyc -> kept'),
    # last matching rule wins
    case(['!a.txt', 'a.txt'], 'a.txt', False, True, 'last_matching_rule_wins: !a.txt a.txt ~ a.txt -> excluded'),
    case(['a.txt', '!a.txt'], 'a.txt', False, False, 'last_matching_rule_wins: a.txt !a.txt ~ a.txt -> kept'),
    case(['*.txt', '!a.txt', 'a*'], 'a.txt', False, True, 'last_matching_rule_wins: *.txt !a.txt a* ~ a.txt -> excluded'),
    # path matched by no rule is kept
    case(['!a.txt'], 'a.txt', False, False, 'path_matched_by_no_rule_is_kept: !a.txt ~ a.txt -> kept'),
    case(['!a.txt'], 'b.txt', False, False, 'path_matched_by_no_rule_is_kept: !a.txt ~ b.txt -> kept'),
    # no reinclusion below excluded directory
    case(['sub/', '!sub/a.txt'], 'sub/a.txt', False, True, 'no_reinclusion_below_excluded_directory: sub/ !sub/a.txt ~ sub/a.txt -> excluded'),
    case(['sub/', '!sub/a.txt'], 'sub', True, True, 'no_reinclusion_below_excluded_directory: sub/ !sub/a.txt ~ sub (dir) -> excluded'),
    # Re-including the directory itself works.
    case(['sub/', '!sub/'], 'sub', True, False, 'no_reinclusion_below_excluded_directory: sub/ !sub/ ~ sub (dir) -> kept'),
    case(['sub/', '!sub/'], 'sub/a.txt', False, False, 'no_reinclusion_below_excluded_directory: sub/ !sub/ ~ sub/a.txt -> kept'),
    # reinclusion of file when only files excluded
    case(['sub/*.txt', '!sub/a.txt'], 'sub/a.txt', False, False, 'reinclusion_of_file_when_only_files_excluded: sub/*.txt !sub/a.txt ~ sub/a.txt -> kept'),
    case(['sub/*.txt', '!sub/a.txt'], 'sub/b.txt', False, True, 'reinclusion_of_file_when_only_files_excluded: sub/*.txt !sub/a.txt ~ sub/b.txt -> excluded'),
    # anchored pattern
    case(['/build'], 'build', False, True, 'anchored_pattern: /build ~ build -> excluded'),
    case(['/build'], 'build', True, True, 'anchored_pattern: /build ~ build (dir) -> excluded'),
    case(['/build'], 'src/build', False, False, 'anchored_pattern: /build ~ src/build -> kept'),
    # middle slash anchors
    case(['d/x'], 'd/x', False, True, 'middle_slash_anchors: d/x ~ d/x -> excluded'),
    case(['d/x'], 'q/d/x', False, False, 'middle_slash_anchors: d/x ~ q/d/x -> kept'),
    # star stays within a segment
    case(['docs/*.txt'], 'docs/a.txt', False, True, 'star_stays_within_a_segment: docs/*.txt ~ docs/a.txt -> excluded'),
    case(['docs/*.txt'], 'docs/sub/a.txt', False, False, 'star_stays_within_a_segment: docs/*.txt ~ docs/sub/a.txt -> kept'),
    case(['docs/*.txt'], 'x/docs/a.txt', False, False, 'star_stays_within_a_segment: docs/*.txt ~ x/docs/a.txt -> kept'),
    # contents rule names no file
    case(['foo/*'], 'foo/a', False, True, 'contents_rule_names_no_file: foo/* ~ foo/a -> excluded'),
    case(['foo/*'], 'foo', False, False, 'contents_rule_names_no_file: foo/* ~ foo -> kept'),
    # question mark
    case(['?.txt'], 'a.txt', False, True, 'question_mark: ?.txt ~ a.txt -> excluded'),
    case(['?.txt'], 'ab.txt', False, False, 'question_mark: ?.txt ~ ab.txt -> kept'),
    case(['?.txt'], '.txt', False, False, 'question_mark: ?.txt ~ .txt -> kept'),
    case(['a?b'], 'a/b', False, False, 'question_mark: a?b ~ a/b -> kept'),
    # bracket classes
    case(['[ab].txt'], 'a.txt', False, True, 'bracket_classes: [ab].txt ~ a.txt -> excluded'),
    case(['[ab].txt'], 'c.txt', False, False, 'bracket_classes: [ab].txt ~ c.txt -> kept'),
    case(['[!ab].txt'], 'c.txt', False, True, 'bracket_classes: [!ab].txt ~ c.txt -> excluded'),
    case(['[!ab].txt'], 'a.txt', False, False, 'bracket_classes: [!ab].txt ~ a.txt -> kept'),
    case(['[^ab].txt'], 'c.txt', False, True, 'bracket_classes: [^ab].txt ~ c.txt -> excluded'),
    case(['[^ab].txt'], 'b.txt', False, False, 'bracket_classes: [^ab].txt ~ b.txt -> kept'),
    case(['f[0-9].txt'], 'f7.txt', False, True, 'bracket_classes: f[0-9].txt ~ f7.txt -> excluded'),
    case(['f[0-9].txt'], 'fx.txt', False, False, 'bracket_classes: f[0-9].txt ~ fx.txt -> kept'),
    case(['[]x]'], ']', False, True, 'bracket_classes: []x] ~ ] -> excluded'),
    case(['f[[:digit:]]'], 'f3', False, True, 'bracket_classes: f[[:digit:]] ~ f3 -> excluded'),
    case(['f[[:digit:]]'], 'fa', False, False, 'bracket_classes: f[[:digit:]] ~ fa -> kept'),
    # A bracket never matches '/', even negated.
    case(['a[!x]b'], 'a/b', False, False, 'bracket_classes: a[!x]b ~ a/b -> kept'),
    # backslash escapes
    case(['\\*.txt'], '*.txt', False, True, 'backslash_escapes: \\*.txt ~ *.txt -> excluded'),
    case(['\\*.txt'], 'a.txt', False, False, 'backslash_escapes: \\*.txt ~ a.txt -> kept'),
    case(['\\!important'], '!important', False, True, 'backslash_escapes: \\!important ~ !important -> excluded'),
    case(['\\#file'], '#file', False, True, 'backslash_escapes: \\#file ~ #file -> excluded'),
    case(['f\\[1\\].txt'], 'f[1].txt', False, True, 'backslash_escapes: f\\[1\\].txt ~ f[1].txt -> excluded'),
    # patterns are used verbatim
    # No comment handling and no trimming for patterns=.
    case(['#file'], '#file', False, True, 'patterns_are_used_verbatim: #file ~ #file -> excluded'),
    case([' a.txt'], ' a.txt', False, True, 'patterns_are_used_verbatim:  a.txt ~  a.txt -> excluded'),
    case([' a.txt'], 'a.txt', False, False, 'patterns_are_used_verbatim:  a.txt ~ a.txt -> kept'),
    case(['a.txt '], 'a.txt', False, False, 'patterns_are_used_verbatim: a.txt  ~ a.txt -> kept'),
    # case sensitive
    case(['*.TXT'], 'a.txt', False, False, 'case_sensitive: *.TXT ~ a.txt -> kept'),
    case(['README'], 'readme', False, False, 'case_sensitive: README ~ readme -> kept'),
    # leading double star
    case(['**/foo'], 'foo', False, True, 'leading_double_star: **/foo ~ foo -> excluded'),
    case(['**/foo'], 'a/foo', False, True, 'leading_double_star: **/foo ~ a/foo -> excluded'),
    case(['**/foo'], 'a/b/foo', False, True, 'leading_double_star: **/foo ~ a/b/foo -> excluded'),
    case(['**/foo'], 'a/foobar', False, False, 'leading_double_star: **/foo ~ a/foobar -> kept'),
    case(['**/foo/bar'], 'foo/bar', False, True, 'leading_double_star: **/foo/bar ~ foo/bar -> excluded'),
    case(['**/foo/bar'], 'x/y/foo/bar', False, True, 'leading_double_star: **/foo/bar ~ x/y/foo/bar -> excluded'),
    # trailing double star
    case(['abc/**'], 'abc/x', False, True, 'trailing_double_star: abc/** ~ abc/x -> excluded'),
    case(['abc/**'], 'abc/x/y/z', False, True, 'trailing_double_star: abc/** ~ abc/x/y/z -> excluded'),
    case(['abc/**'], 'abc', True, True, 'trailing_double_star: abc/** ~ abc (dir) -> excluded'),
    case(['abc/**'], 'abc', False, False, 'trailing_double_star: abc/** ~ abc -> kept'),
    case(['abc/**'], 'x/abc/y', False, False, 'trailing_double_star: abc/** ~ x/abc/y -> kept'),
    # middle double star
    case(['a/**/b'], 'a/b', False, True, 'middle_double_star: a/**/b ~ a/b -> excluded'),
    case(['a/**/b'], 'a/x/b', False, True, 'middle_double_star: a/**/b ~ a/x/b -> excluded'),
    case(['a/**/b'], 'a/x/y/b', False, True, 'middle_double_star: a/**/b ~ a/x/y/b -> excluded'),
    case(['a/**/b'], 'a/xb', False, False, 'middle_double_star: a/**/b ~ a/xb -> kept'),
    case(['a/**/b'], 'z/a/x/b', False, False, 'middle_double_star: a/**/b ~ z/a/x/b -> kept'),
    # double slash matches nothing
    case(['a//b'], 'a/b', False, False, 'double_slash_matches_nothing: a//b ~ a/b -> kept'),
    case(['a//b'], 'b', False, False, 'double_slash_matches_nothing: a//b ~ b -> kept'),
    case(['a//b'], 'a', True, False, 'double_slash_matches_nothing: a//b ~ a (dir) -> kept'),
    case(['a//b'], 'a/x/b', False, False, 'double_slash_matches_nothing: a//b ~ a/x/b -> kept'),
    # negated only pattern matches nothing
    case(['!'], '!', False, False, 'negated_only_pattern_matches_nothing: ! ~ ! -> kept'),
    case(['/'], '', True, False, 'negated_only_pattern_matches_nothing: / ~  (dir) -> kept'),
    # non ascii names
    case(['été*.txt', 'données/'], 'été-2024.txt', False, True, 'non_ascii_names: été*.txt données/ ~ été-2024.txt -> excluded'),
    case(['été*.txt', 'données/'], 'sub/été.txt', False, True, 'non_ascii_names: été*.txt données/ ~ sub/été.txt -> excluded'),
    case(['été*.txt', 'données/'], 'ete.txt', False, False, 'non_ascii_names: été*.txt données/ ~ ete.txt -> kept'),
    case(['été*.txt', 'données/'], 'données', True, True, 'non_ascii_names: été*.txt données/ ~ données (dir) -> excluded'),
    case(['été*.txt', 'données/'], 'données/x', False, True, 'non_ascii_names: été*.txt données/ ~ données/x -> excluded'),
    # matching is on bytes like git
    # As in git, '?' stands for one byte, so a two-byte character
    # takes two.
    case(['caf?'], 'café', False, False, 'matching_is_on_bytes_like_git: caf? ~ café -> kept'),
    case(['caf??'], 'café', False, True, 'matching_is_on_bytes_like_git: caf?? ~ café -> excluded'),
    case(['caf*'], 'café', False, True, 'matching_is_on_bytes_like_git: caf* ~ café -> excluded'),
]


class TestMatching:
    @pytest.mark.parametrize("patterns,path,is_dir,expected", MATCH_CASES)
    def test_rule(self, patterns, path, is_dir, expected):
        assert excluded(patterns, path, is_dir=is_dir) is expected

    def test_malformed_pattern_is_ignored(self):
        ef = ExcludeFilter(patterns=["[abc", "*.o", "[[:nope:]]"])
        assert ef.active is True
        assert ef.is_excluded("[abc") is False
        assert ef.is_excluded("a") is False
        assert ef.is_excluded("x.o") is True

    def test_undecodable_names(self):
        name = os.fsdecode(b"\xff\xfe.bin")
        assert excluded(["*.bin"], name) is True
        assert excluded([os.fsdecode(b"\xff*")], name) is True
        assert excluded([os.fsdecode(b"\xfe*")], name) is False

    def test_pathological_pattern_is_fast(self):
        import time
        ef = ExcludeFilter(patterns=["*a*a*a*a*a*a*a*a*a*a*b", "a/**/**/**/**/**/z"])
        path = "a" * 400
        deep = "a/" + "x/" * 200 + "y"
        start = time.perf_counter()
        assert ef.is_excluded(path) is False
        assert ef.is_excluded(deep) is False
        assert time.perf_counter() - start < 2.0

    def test_is_excluded_ignores_gitignore_files(self, tmp_path):
        make_tree(tmp_path, {".gitignore": "*.log\n"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(tmp_path, "")
        assert ef.is_excluded("debug.log") is False
        assert ef.is_excluded(".gitignore") is False
        assert ef.is_excluded_in_walk("debug.log") is True

    def test_filter_shared_between_threads(self):
        ef = ExcludeFilter(patterns=["*.pyc", "!keep.pyc", "build/", "a/**/z"])
        cases = [("x.pyc", False, True), ("keep.pyc", False, False),
                 ("build", True, True), ("build/x", False, True),
                 ("a/q/r/z", False, True), ("src/a.py", False, False)]
        errors = []

        def run():
            for _ in range(300):
                for path, is_dir, want in cases:
                    if ef.is_excluded(path, is_dir=is_dir) is not want:
                        errors.append(path)

        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


# ---------------------------------------------------------------------------
# .gitignore files during a walk
# ---------------------------------------------------------------------------

class TestGitignore:
    def test_gitignore_loading(self, tmp_path):
        root = make_tree(tmp_path / "proj",
                         {".gitignore": "*.log\n", "app.py": "code", "debug.log": "log"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk(".gitignore") is True
        assert ef.is_excluded_in_walk("debug.log") is True
        assert ef.is_excluded_in_walk("app.py") is False

    def test_nested_gitignore(self, tmp_path):
        root = make_tree(tmp_path / "proj",
                         {".gitignore": "*.log\n", "sub/.gitignore": "*.tmp\n"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        ef.enter_directory(root / "sub", "sub")
        assert ef.is_excluded_in_walk("debug.log") is True
        assert ef.is_excluded_in_walk("sub/debug.log") is True
        assert ef.is_excluded_in_walk("sub/temp.tmp") is True
        assert ef.is_excluded_in_walk("sub/deeper/temp.tmp") is True
        assert ef.is_excluded_in_walk("temp.tmp") is False

    def test_gitignore_files_excluded(self, tmp_path):
        root = make_tree(tmp_path / "proj",
                         {".gitignore": "*.pyc\n", "sub/.gitignore": "*.tmp\n"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        ef.enter_directory(root / "sub", "sub")
        assert ef.is_excluded_in_walk(".gitignore") is True
        assert ef.is_excluded_in_walk("sub/.gitignore") is True
        assert ef.is_excluded_in_walk("other/.gitignore") is True
        # A directory of that name is not a .gitignore file.
        assert ef.is_excluded_in_walk(".gitignore", is_dir=True) is False

    def test_gitignore_files_kept_without_gitignore_mode(self, tmp_path):
        ef = ExcludeFilter(patterns=["*.pyc"])
        assert ef.is_excluded_in_walk(".gitignore") is False

    def test_combined_patterns_and_gitignore(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "*.log\n"})
        ef = ExcludeFilter(patterns=["*.pyc"], gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("foo.pyc") is True
        assert ef.is_excluded_in_walk("debug.log") is True
        assert ef.is_excluded_in_walk("app.py") is False

    def test_gitignore_cannot_reinclude_base_exclusion(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "!keep.log\n"})
        ef = ExcludeFilter(patterns=["*.log"], gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("keep.log") is True

    def test_nested_gitignore_negation(self, tmp_path):
        root = make_tree(tmp_path / "proj",
                         {".gitignore": "*.log\n", "sub/.gitignore": "!debug.log\n"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        ef.enter_directory(root / "sub", "sub")
        assert ef.is_excluded_in_walk("app.log") is True
        assert ef.is_excluded_in_walk("sub/debug.log") is False
        assert ef.is_excluded_in_walk("sub/app.log") is True

    def test_three_level_negation_precedence(self, tmp_path):
        root = make_tree(tmp_path / "proj", {
            ".gitignore": "*.log\n",
            "sub/.gitignore": "!debug.log\n",
            "sub/deep/.gitignore": "debug.log\n",
        })
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        ef.enter_directory(root / "sub", "sub")
        ef.enter_directory(root / "sub" / "deep", "sub/deep")
        assert ef.is_excluded_in_walk("sub/debug.log") is False
        assert ef.is_excluded_in_walk("sub/deep/debug.log") is True
        assert ef.is_excluded_in_walk("debug.log") is True

    def test_rules_are_relative_to_their_directory(self, tmp_path):
        root = make_tree(tmp_path / "proj", {
            "sub/.gitignore": "/x.txt\nd/y.txt\n",
        })
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        ef.enter_directory(root / "sub", "sub")
        assert ef.is_excluded_in_walk("sub/x.txt") is True
        assert ef.is_excluded_in_walk("sub/deep/x.txt") is False
        assert ef.is_excluded_in_walk("x.txt") is False
        assert ef.is_excluded_in_walk("sub/d/y.txt") is True
        assert ef.is_excluded_in_walk("d/y.txt") is False

    def test_directory_rules(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "build/\n"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("build", is_dir=True) is True
        assert ef.is_excluded_in_walk("build") is False
        assert ef.is_excluded_in_walk("src/build", is_dir=True) is True

    def test_file_syntax(self, tmp_path):
        root = tmp_path / "proj"
        root.mkdir()
        (root / ".gitignore").write_bytes(
            b"# a comment\r\n"
            b"\r\n"
            b"   \n"
            b"*.log   \r\n"
            b"space\\ \n"
            b"\\#hash\n"
            b"\\!bang\n"
            b"  lead\n"
            b"no-newline-at-end")
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("# a comment") is False
        assert ef.is_excluded_in_walk("a.log") is True
        assert ef.is_excluded_in_walk("space ") is True
        assert ef.is_excluded_in_walk("space") is False
        assert ef.is_excluded_in_walk("#hash") is True
        assert ef.is_excluded_in_walk("!bang") is True
        assert ef.is_excluded_in_walk("  lead") is True
        assert ef.is_excluded_in_walk("lead") is False
        assert ef.is_excluded_in_walk("no-newline-at-end") is True

    def test_enter_directory_does_nothing_without_gitignore_mode(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "*.log\n"})
        ef = ExcludeFilter(patterns=["*.pyc"])
        assert ef.enter_directory(root, "") is None
        assert ef.is_excluded_in_walk("a.log") is False

    def test_no_gitignore_file(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"a.log": "x"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("a.log") is False

    def test_missing_directory(self, tmp_path):
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(tmp_path / "nope", "")
        assert ef.is_excluded_in_walk("a.log") is False

    def test_gitignore_directory_is_not_a_file(self, tmp_path):
        root = tmp_path / "proj"
        (root / ".gitignore").mkdir(parents=True)
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("a.log") is False

    def test_gitignore_symlink_followed(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"rules.txt": "*.log\n"})
        (root / ".gitignore").symlink_to("rules.txt")
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("a.log") is True

    def test_gitignore_dangling_symlink(self, tmp_path):
        root = tmp_path / "proj"
        root.mkdir()
        (root / ".gitignore").symlink_to("nowhere")
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("a.log") is False

    @pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                        reason="root can read any file")
    def test_unreadable_gitignore_raises(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "*.log\n"})
        (root / ".gitignore").chmod(0)
        try:
            ef = ExcludeFilter(gitignore=True)
            with pytest.raises(PermissionError):
                ef.enter_directory(root, "")
        finally:
            (root / ".gitignore").chmod(0o644)

    def test_parent_gitignores_are_not_consulted(self, tmp_path):
        make_tree(tmp_path, {".gitignore": "*.log\n"})
        root = make_tree(tmp_path / "proj", {"a.log": "x"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk("a.log") is False
        assert walk(root, ef) == {"a.log"}

    def test_abs_dir_accepts_str_bytes_and_path(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "*.log\n"})
        for arg in (root, str(root), os.fsencode(root)):
            ef = ExcludeFilter(gitignore=True)
            ef.enter_directory(arg, "")
            assert ef.is_excluded_in_walk("a.log") is True

    def test_directory_entered_twice_keeps_first_rules(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"sub/.gitignore": "*.log\n"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        ef.enter_directory(root / "sub", "sub")
        (root / "sub" / ".gitignore").write_text("*.txt\n")
        ef.enter_directory(root / "sub", "sub")
        assert ef.is_excluded_in_walk("sub/a.log") is True
        assert ef.is_excluded_in_walk("sub/a.txt") is False

    def test_non_ascii_and_undecodable_names(self, tmp_path):
        root = make_tree(tmp_path / "proj",
                         {".gitignore": "*.bin\ndonnées/\n", "données/x": "x"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk(os.fsdecode(b"\xff.bin")) is True
        assert ef.is_excluded_in_walk("données", is_dir=True) is True
        assert ef.is_excluded_in_walk("données/x") is True
        assert ef.is_excluded_in_walk("donnée") is False

    def test_undecodable_gitignore_rule(self, tmp_path):
        root = tmp_path / "proj"
        root.mkdir()
        (root / ".gitignore").write_bytes(b"\xff*\n")
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(root, "")
        assert ef.is_excluded_in_walk(os.fsdecode(b"\xffabc")) is True
        assert ef.is_excluded_in_walk("abc") is False


class TestWalkScope:
    """The .gitignore rules belong to one walk: a new walk root forgets the
    rules the previous walk met."""

    def test_new_root_forgets_previous_root(self, tmp_path):
        first = make_tree(tmp_path / "first", {".gitignore": "*.log\n", "a.log": "x"})
        second = make_tree(tmp_path / "second", {"a.log": "x"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(first, "")
        assert ef.is_excluded_in_walk("a.log") is True
        ef.enter_directory(second, "")
        assert ef.is_excluded_in_walk("a.log") is False

    def test_new_root_forgets_subdirectories_too(self, tmp_path):
        first = make_tree(tmp_path / "first", {"sub/.gitignore": "*.log\n"})
        second = make_tree(tmp_path / "second", {"sub/a.log": "x"})
        ef = ExcludeFilter(gitignore=True)
        ef.enter_directory(first, "")
        ef.enter_directory(first / "sub", "sub")
        assert ef.is_excluded_in_walk("sub/a.log") is True
        ef.enter_directory(second, "")
        ef.enter_directory(second / "sub", "sub")
        assert ef.is_excluded_in_walk("sub/a.log") is False

    def test_reused_filter_walks_each_source_with_its_own_rules(self, tmp_path):
        first = make_tree(tmp_path / "first", {".gitignore": "*.log\n", "a.log": "x",
                                               "a.txt": "x"})
        second = make_tree(tmp_path / "second", {".gitignore": "*.txt\n", "b.log": "x",
                                                 "b.txt": "x"})
        ef = ExcludeFilter(gitignore=True)
        assert walk(first, ef) == {"a.txt"}
        assert walk(second, ef) == {"b.log"}
        assert walk(first, ef) == {"a.txt"}

    def test_walking_again_rereads_changed_rules(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "*.log\n", "a.log": "x",
                                             "a.txt": "x"})
        ef = ExcludeFilter(gitignore=True)
        assert walk(root, ef) == {"a.txt"}
        (root / ".gitignore").write_text("*.txt\n")
        assert walk(root, ef) == {"a.log"}

    def test_base_patterns_survive_new_walks(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"a.pyc": "x", "a.py": "x"})
        ef = ExcludeFilter(patterns=["*.pyc"], gitignore=True)
        assert walk(root, ef) == {"a.py"}
        assert walk(root, ef) == {"a.py"}
        assert ef.is_excluded("a.pyc") is True


# ---------------------------------------------------------------------------
# Walking a tree with a filter
# ---------------------------------------------------------------------------

class TestWalkWithExclude:
    def test_walk_with_exclude(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"app.py": "code", "app.pyc": "compiled",
                                             "sub/mod.py": "code", "sub/mod.pyc": "compiled"})
        result = walk(root, ExcludeFilter(patterns=["*.pyc"]))
        assert result == {"app.py", "sub/mod.py"}

    def test_walk_prunes_directories(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"app.py": "code",
                                             "__pycache__/mod.cpython-312.pyc": "compiled"})
        ef = ExcludeFilter(patterns=["__pycache__/"])
        assert ef.is_excluded_in_walk("__pycache__", is_dir=True) is True
        assert walk(root, ef) == {"app.py"}

    def test_walk_with_gitignore(self, tmp_path):
        root = make_tree(tmp_path / "proj", {".gitignore": "*.pyc\n__pycache__/\n",
                                             "app.py": "code", "app.pyc": "compiled",
                                             "__pycache__/mod.cpython-312.pyc": "compiled"})
        assert walk(root, ExcludeFilter(gitignore=True)) == {"app.py"}

    def test_walk_no_exclude_returns_all(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"app.py": "code", "app.pyc": "compiled"})
        assert walk(root) == {"app.py", "app.pyc"}
        assert walk(root, ExcludeFilter()) == {"app.py", "app.pyc"}

    def test_walk_follow_symlinks_with_exclude(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"app.py": "code", "app.pyc": "compiled",
                                             "sub/mod.py": "code"})
        result = walk(root, ExcludeFilter(patterns=["*.pyc"]), follow_symlinks=True)
        assert result == {"app.py", "sub/mod.py"}

    def test_walk_gitignore_negation(self, tmp_path):
        root = make_tree(tmp_path / "proj", {
            ".gitignore": "*.log\n", "app.log": "root log",
            "sub/.gitignore": "!debug.log\n", "sub/debug.log": "debug log",
            "sub/app.log": "sub app log",
        })
        result = walk(root, ExcludeFilter(gitignore=True))
        assert result == {"sub/debug.log"}

    def test_rules_are_relative_to_walk_root(self, tmp_path):
        # Walking "mydir" itself: "/a.txt" is its own a.txt, "/mydir/a.txt"
        # names nothing inside it.
        mydir = make_tree(tmp_path / "mydir", {"a.txt": "a", "b.txt": "b"})
        assert walk(mydir, ExcludeFilter(patterns=["/a.txt"])) == {"b.txt"}
        assert walk(mydir, ExcludeFilter(patterns=["/mydir/a.txt"])) == {"a.txt", "b.txt"}

    def test_symlinked_directory_tested_as_directory(self, tmp_path):
        root = make_tree(tmp_path / "proj", {"real/x.txt": "x"})
        (root / "link").symlink_to("real", target_is_directory=True)
        ef = ExcludeFilter(patterns=["link/"])
        assert walk(root, ef) == {"real/x.txt"}
        assert walk(root, ExcludeFilter(patterns=["*.none"])) == {"real/x.txt", "link"}

    def test_nested_gitignore_in_pruned_directory_is_never_read(self, tmp_path):
        root = make_tree(tmp_path / "proj", {
            ".gitignore": "skip/\n",
            "skip/.gitignore": "!*\n", "skip/x.txt": "x",
            "keep/y.txt": "y",
        })
        assert walk(root, ExcludeFilter(gitignore=True)) == {"keep/y.txt"}

    def test_file_mode_source_uses_base_patterns_on_basename(self):
        # A single-file source is only checked by its name.
        ef = ExcludeFilter(patterns=["sub/a.txt", "*.log"], gitignore=True)
        assert ef.is_excluded("a.txt") is False
        assert ef.is_excluded("x.log") is True
        assert ef.is_excluded(".gitignore") is False
