"""Glob matching stays polynomial: FS.glob / FS.iglob, disk_glob and
ExcludeFilter on deep trees with patterns that repeat "**" (each level
could be split among the "**" segments in exponentially many ways) and on
long names with many stars; plus randomized differential tests of FS.glob
and disk_glob against straightforward reference matchers written from the
contract as the docstrings of FS.glob and disk_glob state it.

The time bounds are generous (a couple of seconds for what takes
milliseconds); the exponential matchers took tens of seconds or more."""

from __future__ import annotations

import fnmatch
import os
import random
import time
from pathlib import Path

import pytest

from gitstore import ExcludeFilter, GitStore, disk_glob

from support import Commit, bounded, build_repo

LIMIT = 2.0          # seconds, per call
DEPTH = 26


def timed(fn):
    """fn(), failing if it takes more than LIMIT (or hangs)."""
    start = time.monotonic()
    result = bounded(fn, timeout=max(10.0, 5 * LIMIT))
    elapsed = time.monotonic() - start
    assert elapsed < LIMIT, f"took {elapsed:.2f} s"
    return result


def is_wild(seg: str) -> bool:
    return "*" in seg or "?" in seg


def wild_match(seg: str, name: str) -> bool:
    if name.startswith(".") and not seg.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, seg)


# ---------------------------------------------------------------------------
# Reference matchers (exponential, straight from the rules; small trees only)
# ---------------------------------------------------------------------------
# A repository tree is a dict: name -> dict (directory) or bytes (file).

def ref_glob(tree: dict, pattern: str) -> list[str]:
    """FS.glob as its docstring describes it."""
    pattern = pattern.strip("/")
    if not pattern:
        return []
    k = pattern.find("/./")
    if k > 0:
        base, rest = pattern[:k], pattern[k + 3:]
        out = set()
        for r in ref_match(tree, (base + "/" + rest).split("/")):
            out.add(base + "/./" + (r[len(base) + 1:] if r.startswith(base + "/") else r))
        return sorted(out)
    return sorted(ref_match(tree, pattern.split("/")))


def ref_match(tree: dict, segs: list[str]) -> set[str]:
    found: set[str] = set()

    def join(path, name):
        return f"{path}/{name}" if path else name

    def walk(node, segs, path):
        if segs[0] == "**":
            # Zero levels: the rest against this directory's entries.
            if len(segs) > 1:
                entries(node, segs[1:], path)
            else:
                found.update(join(path, n) for n in node if not n.startswith("."))
            # One level more, into non-dot subdirectories.
            for name, child in node.items():
                if not name.startswith(".") and isinstance(child, dict):
                    walk(child, segs, join(path, name))
        else:
            entries(node, segs, path)

    def entries(node, segs, path):
        seg = segs[0]
        for name, child in node.items():
            if not (wild_match(seg, name) if is_wild(seg) else name == seg):
                continue
            if len(segs) == 1:
                found.add(join(path, name))
            elif isinstance(child, dict):
                walk(child, segs[1:], join(path, name))

    walk(tree, segs, "")
    return found


def ref_disk_glob(pattern: str) -> list[str]:
    """disk_glob as its docstring describes it (no symlink cycles)."""
    pattern = pattern.rstrip("/")
    if not pattern:
        return []
    pattern = pattern.replace("\\", "/")
    out: list[str] = []
    root = ""
    if pattern.startswith("/"):
        pattern = pattern.lstrip("/")
        if not pattern:
            return []
        root = "/"
    segs = pattern.split("/")

    def join(path, name):
        return path + name if not path or path.endswith("/") else path + "/" + name

    def listdir(path):
        try:
            return os.listdir(path or ".")
        except OSError:
            return None

    def walk(path, i):
        seg, last = segs[i], i + 1 == len(segs)
        if seg == "**":
            names = listdir(path)
            if names is None:
                return
            if not last:
                walk(path, i + 1)
            else:
                out.extend(join(path, n) for n in names if not n.startswith("."))
            for n in names:
                if not n.startswith(".") and os.path.isdir(join(path, n)):
                    walk(join(path, n), i)
        elif is_wild(seg):
            for n in listdir(path) or ():
                if wild_match(seg, n):
                    if last:
                        out.append(join(path, n))
                    else:
                        walk(join(path, n), i + 1)
        else:
            p = join(path, seg)
            if not last:
                walk(p, i + 1)
            elif p and os.path.exists(p):
                out.append(p)

    walk(root, 0)
    return sorted(out)


# ---------------------------------------------------------------------------
# The deep tree: 26 nested directories (node_modules/pkg00/node_modules/...),
# 76 files at every level (mostly .txt), a dotfile, a dot directory and a
# file named "x" at each level: 2,054 files.
# ---------------------------------------------------------------------------

def chain_dirs(depth: int = DEPTH) -> list[str]:
    """The directory at each depth 1..depth."""
    dirs, path = [], ""
    for k in range(depth):
        name = "node_modules" if k % 2 == 0 else f"pkg{k:02d}"
        path = f"{path}/{name}" if path else name
        dirs.append(path)
    return dirs


def deep_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for d in [""] + chain_dirs():
        prefix = f"{d}/" if d else ""
        for i in range(70):
            files[f"{prefix}f{i:02d}.txt"] = b"t"
        for i in range(3):
            files[f"{prefix}m{i}.js"] = b"j"
        files[f"{prefix}.npmrc"] = b"rc"
        files[f"{prefix}.bin/run"] = b"run"
        files[f"{prefix}x"] = b"x"
    return files


def as_tree(files: dict[str, bytes]) -> dict:
    tree: dict = {}
    for path, data in files.items():
        node = tree
        *dirs, leaf = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = data
    return tree


@pytest.fixture(scope="module")
def deep_fs(tmp_path_factory):
    path = tmp_path_factory.mktemp("deep") / "deep.git"
    build_repo(path, [Commit(deep_files())])
    return GitStore.open(path, create=False).branches["main"]


def levels_at_least(m: int) -> list[str]:
    """The files named x with at least m directories above them."""
    return sorted(f"{d}/x" for d in chain_dirs()[m - 1:])


# Runs of "**" need one level per pair after the first (a "**" right after
# a "**" is matched like "*" at the zero-level step), so 30 of them need 15
# directories above x, 200 of them 100 levels and "**/*" fifty times 50.
PATHOLOGICAL = [
    ("**/" * 30 + "x", levels_at_least(15)),
    ("**/" * 200, []),
    ("/".join(["**", "*"] * 50), []),
    ("**/" * 20 + "*.js", sorted(f"{d}/m{i}.js" for d in chain_dirs()[9:] for i in range(3))),
    ("/".join(["**", "*"] * 12) + "/x", levels_at_least(12)),
    ("**/" * 40 + ".*", sorted(f"{d}/{n}" for d in chain_dirs()[19:] for n in (".bin", ".npmrc"))),
]


class TestDeepRepositoryTree:
    def test_tree_shape(self, deep_fs):
        assert len(deep_files()) > 2000
        assert deep_fs.is_dir(chain_dirs()[-1]) and chain_dirs()[-1].count("/") == DEPTH - 1
        assert deep_fs.glob("**/x") == sorted(["x"] + [f"{d}/x" for d in chain_dirs()])

    @pytest.mark.parametrize("pattern,expected", PATHOLOGICAL,
                             ids=[f"p{i}" for i in range(len(PATHOLOGICAL))])
    def test_glob(self, deep_fs, pattern, expected):
        assert timed(lambda: deep_fs.glob(pattern)) == expected

    @pytest.mark.parametrize("pattern,expected", PATHOLOGICAL[:3],
                             ids=[f"p{i}" for i in range(3)])
    def test_iglob(self, deep_fs, pattern, expected):
        got = timed(lambda: list(deep_fs.iglob(pattern)))
        assert sorted(got) == expected and len(got) == len(set(got))

    def test_many_results(self, deep_fs):
        # 20 "**" alone: every visible entry (directories too) with 9 or
        # more directories above it, each once.
        got = timed(lambda: deep_fs.glob("**/" * 20))
        visible = [p for p in deep_files() if not any(s.startswith(".") for s in p.split("/"))]
        want = sorted({p for p in visible if p.count("/") >= 9} | set(chain_dirs()[9:]))
        assert got == want

    def test_pivot(self, deep_fs):
        base = chain_dirs()[1]
        got = timed(lambda: deep_fs.glob(base + "/./" + "**/" * 30 + "x"))
        assert got == [base + "/./" + p[len(base) + 1:] for p in levels_at_least(17)]


class TestLongNames:
    """Many stars against a long name: fnmatch-style backtracking would be
    exponential in the number of stars."""

    NAME = "a" * 1000
    PATTERN = "*a" * 12 + "*b"

    def test_fs_glob(self, tmp_path):
        build_repo(tmp_path / "r.git", [Commit({self.NAME: b"1", "d/" + self.NAME + "b": b"2"})])
        fs = GitStore.open(tmp_path / "r.git", create=False).branches["main"]
        assert timed(lambda: fs.glob(self.PATTERN)) == []
        assert timed(lambda: fs.glob("*/" + self.PATTERN)) == ["d/" + self.NAME + "b"]
        assert timed(lambda: fs.glob("**/" + "*a" * 12 + "*")) == [self.NAME, "d/" + self.NAME + "b"]

    def test_disk_glob(self, tmp_path, monkeypatch):
        (tmp_path / ("a" * 250)).write_text("x")
        (tmp_path / ("a" * 249 + "b")).write_text("x")
        monkeypatch.chdir(tmp_path)
        assert timed(lambda: disk_glob(self.PATTERN)) == ["a" * 249 + "b"]

    def test_exclude_filter(self):
        ef = ExcludeFilter(patterns=[self.PATTERN])
        assert not timed(lambda: ef.is_excluded("a" * 4000))
        assert timed(lambda: ef.is_excluded("a" * 4000 + "b"))


class TestExcludeFilterDeep:
    """gitignore-style "**" runs against paths hundreds of levels deep."""

    @pytest.mark.parametrize("pattern,path,expected", [
        ("a/" + "**/" * 40 + "b", "a/" + "x/" * 300 + "b", True),
        ("a/" + "**/" * 40 + "b", "a/" + "x/" * 300 + "c", False),
        ("**/" * 60 + "z", "/".join(["d"] * 300) + "/z", True),
        ("**/" * 60 + "z", "/".join(["d"] * 300) + "/y", False),
        ("/".join(["**", "*"] * 30), "/".join(["d"] * 20), False),
        ("/".join(["**", "*"] * 30), "/".join(["d"] * 300), True),
    ])
    def test_patterns(self, pattern, path, expected):
        ef = ExcludeFilter(patterns=[pattern])
        assert timed(lambda: ef.is_excluded(path)) is expected


@pytest.fixture(scope="module")
def deep_disk(tmp_path_factory):
    """The deep tree on disk, except that x exists only at depths 0-2 (a
    file at depth d is reported once per way of splitting d levels among
    the "**" segments), and y at every level."""
    root = tmp_path_factory.mktemp("deepdisk")
    for path in deep_files():
        if path.rsplit("/", 1)[-1] == "x" and path.count("/") > 2:
            path = path[:-1] + "y"
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    return root


class TestDeepDisk:
    def test_no_match(self, deep_disk, monkeypatch):
        monkeypatch.chdir(deep_disk)
        assert timed(lambda: disk_glob("**/" * 30 + "nomatch")) == []
        assert timed(lambda: disk_glob("/".join(["**", "*"] * 50))) == []

    def test_repeats_counted(self, deep_disk, monkeypatch):
        monkeypatch.chdir(deep_disk)
        d1, d2 = chain_dirs()[:2]
        # 30 "**" segments split 1 level 30 ways and 2 levels 465 ways.
        assert timed(lambda: disk_glob("**/" * 30 + "x")) == sorted(
            [f"{d1}/x"] * 30 + [f"{d2}/x"] * 465 + ["x"])

    def test_deep_matches(self, deep_disk, monkeypatch):
        monkeypatch.chdir(deep_disk)
        assert timed(lambda: disk_glob("**/y")) == sorted(f"{d}/y" for d in chain_dirs()[2:])
        got = timed(lambda: disk_glob(str(deep_disk) + "/" + "/".join(["*"] * 25) + "/**/y"))
        assert got == sorted(f"{deep_disk}/{d}/y" for d in chain_dirs()[-2:])

    def test_too_many_repeats_refused(self, deep_disk, monkeypatch):
        # Every entry 26 levels down would be reported binomial(225, 26)
        # times: the call fails instead of running out of memory.
        monkeypatch.chdir(deep_disk)
        with pytest.raises(ValueError, match="repeats"):
            timed(lambda: disk_glob("**/" * 200))


# ---------------------------------------------------------------------------
# Randomized differential tests
# ---------------------------------------------------------------------------

NAMES = ["a", "b", "ab", "ba", "a.txt", "b.txt", "ab.txt", ".a", ".hidden", "x", "aa"]
SEGMENTS = ["**", "**", "*", "?", "a*", "*.txt", "[ab]*", ".*", "a", "b", "x", "ab",
            "a.txt", "?b", "*b", "[!a]*", "**.txt", ".a", "[ab]"]


def random_tree(rng: random.Random, depth: int = 0) -> dict:
    tree: dict = {}
    for name in rng.sample(NAMES, rng.randint(1, 5)):
        if depth < 4 and rng.random() < 0.45:
            sub = random_tree(rng, depth + 1)
            if sub:
                tree[name] = sub
                continue
        tree[name] = name.encode()
    return tree


def flatten(tree: dict, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, child in tree.items():
        path = prefix + name
        if isinstance(child, dict):
            files.update(flatten(child, path + "/"))
        else:
            files[path] = child
    return files


def random_pattern(rng: random.Random, pivot: bool = True) -> str:
    segs = [rng.choice(SEGMENTS) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.1:
        segs = ["**"] * rng.randint(2, 5) + segs
    pattern = "/".join(segs)
    if pivot and rng.random() < 0.1 and len(segs) > 1:
        k = rng.randint(1, len(segs) - 1)
        pattern = "/".join(segs[:k]) + "/./" + "/".join(segs[k:])
    if rng.random() < 0.05:
        pattern = "/" + pattern
    if rng.random() < 0.05:
        pattern += "/"
    return pattern


def test_random_fs_glob_matches_reference(tmp_path):
    rng = random.Random(20240909)
    cases = 0
    for t in range(30):
        tree = random_tree(rng)
        path = tmp_path / f"r{t}.git"
        build_repo(path, [Commit(flatten(tree))])
        fs = GitStore.open(path, create=False).branches["main"]
        for _ in range(15):
            pattern = random_pattern(rng)
            expected = ref_glob(tree, pattern)
            assert fs.glob(pattern) == expected, (pattern, tree)
            got = list(fs.iglob(pattern))
            assert sorted(got) == expected, (pattern, tree)
            cases += 1
    assert cases == 450


def write_tree(root: Path, tree: dict) -> None:
    for name, child in tree.items():
        if isinstance(child, dict):
            (root / name).mkdir()
            write_tree(root / name, child)
        else:
            (root / name).write_bytes(child)


def test_random_disk_glob_matches_reference(tmp_path, monkeypatch):
    rng = random.Random(777)
    cases = 0
    for t in range(30):
        tree = random_tree(rng)
        root = tmp_path / f"t{t}"
        root.mkdir()
        write_tree(root, tree)
        # A link to a directory without subdirectories (no cycle can form)
        # and a dangling one.
        leaves = [p for p in root.rglob("*") if p.is_dir() and
                  not any(c.is_dir() for c in p.iterdir())]
        if leaves:
            (root / "ln").symlink_to(rng.choice(leaves), target_is_directory=True)
        (root / "dang.txt").symlink_to("nowhere")
        monkeypatch.chdir(root)
        for _ in range(15):
            # Relative, or absolute below root: never the whole disk.
            pattern = random_pattern(rng, pivot=False).lstrip("/")
            if rng.random() < 0.1:
                pattern = rng.choice(["./", "a//", "./a/./"]) + pattern.lstrip("/")
            if rng.random() < 0.2:
                pattern = str(root) + "/" + pattern.lstrip("/")
            assert disk_glob(pattern) == ref_disk_glob(pattern), (pattern, tree)
            cases += 1
    assert cases == 450


def test_trees_nested_deeper_than_git_allows_raise_instead_of_crashing(tmp_path):
    """A hostile repository nesting 5,000 trees: glob and the tree listing
    behind remove and copy_out recursed once per level and overflowed the
    C stack; a write of a path that deep would have too."""
    import subprocess
    import sys
    import textwrap

    from support import git_run, write_loose_object

    repo = tmp_path / "deep.git"
    git_run("init", "-q", "--bare", repo)
    blob = write_loose_object(repo, "blob", b"x")
    tree = write_loose_object(repo, "tree", b"100644 x\0" + bytes.fromhex(blob))
    for _ in range(5000):
        tree = write_loose_object(repo, "tree", b"40000 a\0" + bytes.fromhex(tree))
    commit = write_loose_object(
        repo, "commit",
        f"tree {tree}\nauthor a <a@b> 0 +0000\ncommitter a <a@b> 0 +0000\n\ndeep\n".encode())
    (repo / "refs" / "heads" / "main").write_text(commit + "\n")
    # In a subprocess: a crash must fail the test, not end the run.
    script = textwrap.dedent("""
        import sys
        from gitstore import GitStore, GitError
        fs = GitStore.open(sys.argv[1], create=False).branches["main"]
        for call in (lambda: fs.glob("**/x"), lambda: list(fs.iglob("**")),
                     lambda: fs.remove("a", recursive=True),
                     lambda: fs.copy_out("a", sys.argv[2])):
            try:
                call()
            except GitError as e:
                print("GitError", "nested more than 4096 deep" in str(e))
            else:
                print("no error")
        try:
            fs.write("/".join(["a"] * 5000), b"x")
        except ValueError as e:
            print("ValueError", "nested more than 4096 deep" in str(e))
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(repo), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:5] == ["GitError True"] * 4 + ["ValueError True"]
