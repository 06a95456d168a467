"""Shared fixtures for the gitstore test-suite.

Repositories used by the read-side tests are built with the git command line
(``git init --bare`` + ``git fast-import``), never with gitstore itself, and
git is used as the oracle for what gitstore reads back.

The helpers here are plain functions (usable from module-scoped fixtures) plus
a few fixtures:

* ``build_repo(path, commits, ...)`` -- run fast-import from a Python
  description of commits (each commit gives its *whole* tree, so trees are
  exactly what the test says);
* ``Git(path)`` -- run git against a repository and read its answers;
* ``Exe`` / ``Link`` -- markers for executable files and symlinks in a tree
  description.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import pytest

# ---------------------------------------------------------------------------
# Deterministic environment
# ---------------------------------------------------------------------------
# This runs when pytest imports conftest, i.e. before any test module (and
# therefore before gitstore/libgit2 computes its configuration search path).
# No user or system git configuration may leak into the tests.

_HOME = tempfile.mkdtemp(prefix="gitstore-tests-home-")
atexit.register(shutil.rmtree, _HOME, True)
os.environ["HOME"] = _HOME
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
os.environ.pop("XDG_CONFIG_HOME", None)
os.environ.pop("GIT_DIR", None)
os.environ.pop("GIT_CONFIG_GLOBAL", None)

GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": _HOME,
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
    "TZ": "UTC",
    "GIT_AUTHOR_NAME": "Fixture Author",
    "GIT_AUTHOR_EMAIL": "author@fixture.test",
    "GIT_AUTHOR_DATE": "1600000000 +0000",
    "GIT_COMMITTER_NAME": "Fixture Committer",
    "GIT_COMMITTER_EMAIL": "committer@fixture.test",
    "GIT_COMMITTER_DATE": "1600000000 +0000",
}

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ZERO_SHA = "0" * 40


def git_run(*args, cwd=None, input: bytes | None = None, env: Mapping | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run ``git *args`` with the deterministic environment."""
    full_env = dict(GIT_ENV)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        ["git", "-c", "advice.nestedTag=false", "-c", "core.quotepath=false", *map(str, args)],
        cwd=cwd, input=input, env=full_env, capture_output=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(map(str, args))} failed ({proc.returncode}):\n"
            f"{proc.stderr.decode(errors='replace')}"
        )
    return proc


class Git:
    """git bound to one (bare) repository."""

    def __init__(self, path):
        self.path = Path(path)

    def raw(self, *args, input: bytes | None = None, env=None, check=True) -> bytes:
        return git_run("--git-dir", self.path, *args, input=input, env=env,
                       check=check).stdout

    def __call__(self, *args, input: bytes | None = None, env=None) -> str:
        """stdout decoded, trailing newline removed."""
        return self.raw(*args, input=input, env=env).decode().rstrip("\n")

    def ok(self, *args) -> bool:
        return git_run("--git-dir", self.path, *args, check=False).returncode == 0

    def rev(self, rev: str) -> str:
        return self("rev-parse", "--verify", "--end-of-options", rev)

    def lines(self, *args) -> list[str]:
        out = self(*args)
        return out.split("\n") if out else []

    def first_parent_chain(self, rev: str) -> list[str]:
        return self.lines("rev-list", "--first-parent", rev)

    def ls_tree(self, treeish: str, path: str | None = None) -> list[tuple[str, str, str, str]]:
        """[(mode, type, oid, name)] in git's order (names raw, -z)."""
        args = ["ls-tree", "-z", treeish]
        if path is not None:
            args += ["--", path]
        out = self.raw(*args)
        rows = []
        for item in out.split(b"\0"):
            if not item:
                continue
            meta, name = item.split(b"\t", 1)
            mode, typ, oid = meta.decode().split(" ")
            rows.append((mode, typ, oid, name.decode("utf-8", "surrogateescape")))
        return rows

    def entry(self, commit: str, path: str):
        """(oid, int mode) of the entry at path in commit, or None."""
        rows = self.ls_tree(commit, path)
        # ls-tree with a pathspec may list several entries for a prefix; keep
        # the exact one.
        for mode, _typ, oid, name in rows:
            if name == path:
                return oid, int(mode, 8)
        return None

    def cat(self, obj: str) -> bytes:
        return self.raw("cat-file", "-p", obj)

    def cat_type(self, obj: str) -> str:
        return self("cat-file", "-t", obj)

    def cat_size(self, obj: str) -> int:
        return int(self("cat-file", "-s", obj))

    def commit_header(self, commit: str) -> tuple[dict[str, list[str]], bytes]:
        raw = self.raw("cat-file", "commit", commit)
        head, _, message = raw.partition(b"\n\n")
        headers: dict[str, list[str]] = {}
        for line in head.decode().split("\n"):
            key, _, value = line.partition(" ")
            headers.setdefault(key, []).append(value)
        return headers, message


# ---------------------------------------------------------------------------
# Tree / commit descriptions
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Exe:
    """An executable file (mode 100755)."""
    data: bytes | str


@dataclass(frozen=True)
class Link:
    """A symlink (mode 120000) whose target is ``target``."""
    target: str | bytes


def _as_bytes(x) -> bytes:
    return x.encode("utf-8") if isinstance(x, str) else bytes(x)


def put_local(root: Path, rel: str, content) -> None:
    """(Re)place one entry of a local tree: str/bytes = file (0644), Exe =
    file (0755), Link = symlink; whatever was there before goes."""
    path = root / rel
    if path.is_symlink() or path.is_file():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Link):
        os.symlink(content.target, path)
    elif isinstance(content, Exe):
        path.write_bytes(_as_bytes(content.data))
        path.chmod(0o755)
    else:
        path.write_bytes(_as_bytes(content))
        path.chmod(0o644)


def bounded(fn, timeout: float = 20.0):
    """Run fn in a daemon thread; fail instead of hanging (say, on a fifo
    opened for reading) if it blocks."""
    import threading
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:   # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the call blocked (was a fifo opened?)"
    if "error" in box:
        raise box["error"]
    return box["result"]


class LocalEnv:
    """A store created by gitstore under tmp_path, git beside it as the
    oracle, and a directory for local trees (the copy and sync tests)."""

    def __init__(self, tmp_path: Path):
        from gitstore import GitStore
        self.tmp = tmp_path
        self.path = tmp_path / "r.git"
        self.store = GitStore.open(str(self.path), branch="main")
        self.g = Git(self.path)
        self.initial = self.tip()
        self.local = tmp_path / "local"
        self.local.mkdir()

    @property
    def fs(self):
        return self.store.branches["main"]

    def tip(self) -> str:
        return self.g.rev("refs/heads/main")

    def files(self, rev: str = "main") -> dict[str, tuple[str, str]]:
        """{path: (mode, oid)} of every non-tree entry, as git lists it."""
        out = {}
        for item in self.g.raw("ls-tree", "-r", "-z", rev).split(b"\0"):
            if item:
                meta, name = item.split(b"\t", 1)
                mode, _typ, oid = meta.decode().split()
                out[name.decode("utf-8", "surrogateescape")] = (mode, oid)
        return out

    def seed(self, files: dict):
        """One commit on main holding these files (besides what is there)."""
        from gitstore import FileType, WriteEntry
        writes = {}
        for path, content in files.items():
            if isinstance(content, Exe):
                writes[path] = WriteEntry(data=_as_bytes(content.data), mode=FileType.EXECUTABLE)
            elif isinstance(content, Link):
                writes[path] = WriteEntry(target=content.target)
            else:
                writes[path] = _as_bytes(content)
        return self.fs.apply(writes, message="seed")


@dataclass
class Commit:
    """One commit for :func:`build_repo`.

    ``files`` maps a path (``str`` or raw ``bytes``) to the content: ``bytes``
    / ``str`` for a regular file, :class:`Exe`, :class:`Link`, or a tuple
    ``(mode_string, content)``.  The tree of the commit is exactly ``files``
    (``deleteall`` first).  ``parents`` are labels of earlier commits; by
    default the previous commit on ``branch`` (none for the first).
    """

    files: Mapping
    message: str | bytes = "commit\n"
    time: int = 1700000000
    tz: str = "+0000"
    author: str = "A U Thor <author@example.com>"
    author_time: int | None = None
    author_tz: str | None = None
    committer: str = "C O Mitter <committer@example.com>"
    branch: str = "main"
    parents: list[str] | None = None
    label: str | None = None


@dataclass
class Tag:
    """An annotated tag made by fast-import, pointing at commit ``target``."""
    name: str
    target: str            # a commit label
    message: str | bytes = "tag\n"
    tagger: str = "T Agger <tagger@example.com>"
    time: int = 1700000000
    tz: str = "+0000"


def _quote_path(path) -> bytes:
    raw = _as_bytes(path)
    out = bytearray(b'"')
    for b in raw:
        if b == 0x5C:
            out += b"\\\\"
        elif b == 0x22:
            out += b'\\"'
        elif b == 0x0A:
            out += b"\\n"
        elif b < 0x20 or b >= 0x7F:
            out += b"\\%03o" % b
        else:
            out.append(b)
    out += b'"'
    return bytes(out)


def _data(payload) -> bytes:
    payload = _as_bytes(payload)
    return b"data %d\n" % len(payload) + payload + b"\n"


def _file_command(path, content) -> bytes:
    if isinstance(content, Exe):
        mode, data = b"100755", content.data
    elif isinstance(content, Link):
        mode, data = b"120000", content.target
    elif isinstance(content, tuple):
        mode, data = _as_bytes(content[0]), content[1]
    else:
        mode, data = b"100644", content
    return b"M " + mode + b" inline " + _quote_path(path) + b"\n" + _data(data)


def build_repo(path, commits: Iterable[Commit] = (), *, tags: Iterable[Tag] = (),
               lightweight: Mapping[str, str] | None = None,
               head: str | None = "main", pack_refs: bool = False) -> dict[str, str]:
    """Create a bare repository at ``path`` and import ``commits`` into it.

    ``lightweight`` maps tag names to commit labels.  ``head`` is the branch
    HEAD names (``None``: leave git's default).  Returns ``{label: sha}`` for
    every commit with a label (and every commit as ``"#<index>"``).
    """
    path = Path(path)
    git_run("init", "--bare", "-q", path)
    g = Git(path)
    commits = list(commits)
    tags = list(tags)
    stream = bytearray()
    labels: dict[str, int] = {}
    last_on_branch: dict[str, int] = {}
    for i, c in enumerate(commits, start=1):
        if c.label is not None:
            if c.label in labels:
                raise ValueError(f"duplicate label {c.label}")
            labels[c.label] = i
        if c.parents == [] and c.branch in last_on_branch:
            # an explicit root commit on a branch that already has commits
            stream += b"reset refs/heads/" + c.branch.encode() + b"\n"
        stream += b"commit refs/heads/" + c.branch.encode() + b"\n"
        stream += b"mark :%d\n" % i
        a_time = c.time if c.author_time is None else c.author_time
        a_tz = c.tz if c.author_tz is None else c.author_tz
        stream += b"author " + c.author.encode() + b" %d " % a_time + a_tz.encode() + b"\n"
        stream += b"committer " + c.committer.encode() + b" %d " % c.time + c.tz.encode() + b"\n"
        stream += _data(c.message)
        if c.parents is None:
            parents = [last_on_branch[c.branch]] if c.branch in last_on_branch else []
        else:
            parents = [labels[p] for p in c.parents]
        if parents:
            stream += b"from :%d\n" % parents[0]
            for p in parents[1:]:
                stream += b"merge :%d\n" % p
        stream += b"deleteall\n"
        for p, content in c.files.items():
            stream += _file_command(p, content)
        stream += b"\n"
        last_on_branch[c.branch] = i
    for t in tags:
        stream += b"tag " + t.name.encode() + b"\n"
        stream += b"from :%d\n" % labels[t.target]
        stream += b"tagger " + t.tagger.encode() + b" %d " % t.time + t.tz.encode() + b"\n"
        stream += _data(t.message)
    for name, target in (lightweight or {}).items():
        stream += b"reset refs/tags/" + name.encode() + b"\n"
        stream += b"from :%d\n\n" % labels[target]
    marks = path / "fixture-marks"
    if stream:
        g.raw("fast-import", "--quiet", f"--export-marks={marks}", input=bytes(stream) + b"done\n")
    result: dict[str, str] = {}
    if marks.exists():
        by_mark = {}
        for line in marks.read_text().splitlines():
            mark, sha = line.split()
            by_mark[int(mark[1:])] = sha
        marks.unlink()
        for label, i in labels.items():
            result[label] = by_mark[i]
        for i, sha in by_mark.items():
            result[f"#{i}"] = sha
    if head is not None:
        g("symbolic-ref", "HEAD", f"refs/heads/{head}")
    if pack_refs:
        g("pack-refs", "--all")
    return result


def write_loose_object(repo_path, obj_type: str, body: bytes) -> str:
    """Write one loose object directly (no git process); returns its id."""
    import hashlib
    import zlib
    raw = obj_type.encode() + b" %d\0" % len(body) + body
    sha = hashlib.sha1(raw).hexdigest()
    target = loose_object_path(repo_path, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zlib.compress(raw))
    return sha


def tag_body(target: str, target_type: str, name: str, message: str = "msg\n") -> bytes:
    return (f"object {target}\ntype {target_type}\ntag {name}\n"
            f"tagger T Agger <tagger@example.com> 1700000000 +0000\n\n{message}").encode()


def make_loose_objects(path, files: Mapping[str, bytes]) -> dict[str, str]:
    """Write a one-level tree of regular files as *loose* objects and a commit
    on ``main`` (fast-import writes packs; corruption tests need loose files).
    Returns ``{"commit": sha, "tree": sha, <name>: blob sha}``."""
    g = Git(path)
    out = {}
    tree_lines = []
    for name, data in files.items():
        sha = g("hash-object", "-w", "--stdin", input=data)
        out[name] = sha
        tree_lines.append(f"100644 blob {sha}\t{name}")
    tree = g("mktree", input=("\n".join(tree_lines) + "\n").encode())
    commit = g("commit-tree", tree, "-m", "loose objects")
    g("update-ref", "refs/heads/main", commit)
    out["tree"] = tree
    out["commit"] = commit
    return out


def loose_object_path(repo_path, sha: str) -> Path:
    return Path(repo_path) / "objects" / sha[:2] / sha[2:]


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

@pytest.fixture
def git_env():
    return dict(GIT_ENV)


@pytest.fixture
def repo_factory(tmp_path):
    """``repo_factory(commits, name=..., **kw) -> (path, {label: sha})``."""
    counter = [0]

    def make(commits=(), *, name: str | None = None, **kw):
        counter[0] += 1
        path = tmp_path / (name or f"repo{counter[0]}.git")
        shas = build_repo(path, commits, **kw)
        return path, shas

    return make


# The example tree of the glob and walk tests: .hidden, README.md,
# setup.py, docs/{api.md,guide.md},
# src/{.env, app.py, .cache/tmp.py, lib/util.py}.
EXAMPLE_TREE = {
    ".hidden": b"hidden\n",
    "README.md": b"# readme\n",
    "setup.py": b"from setuptools import setup\n",
    "docs/api.md": b"api\n",
    "docs/guide.md": b"guide\n",
    "src/.env": b"SECRET=1\n",
    "src/app.py": b"print('app')\n",
    "src/.cache/tmp.py": b"tmp\n",
    "src/lib/util.py": b"def util(): pass\n",
}


@pytest.fixture(scope="session")
def example_tree_repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "spec.git"
    shas = build_repo(path, [Commit(EXAMPLE_TREE, message="spec tree\n", label="c1")])
    return path, shas


# The repository most read tests use.  First-parent chain of main, newest
# first: c6 (merge of c5 and s1), c5, c4, c3, c2, c1.  Time zones differ on
# every commit; author != committer; c3 is a mode-only change.
BIN_DATA = bytes(range(256)) * 4

HISTORY = [
    Commit({"a.txt": b"hello\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n"},
           message="initial import\n", time=1700000000, tz="+0530",
           author="Alice Example <alice@example.com>",
           committer="Carol Committer <carol@example.org>", label="c1"),
    Commit({"a.txt": b"hello\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n",
            "dir/sub/deep.txt": b"deep\n", "dir/x.txt": b"x\n",
            "run.sh": Exe(b"#!/bin/sh\necho hi\n"), "link": Link("a.txt"),
            "dirlink": Link("dir/sub")},
           message="add tree\n", time=1700003600, tz="-0800",
           author="Bob Builder <bob@example.com>", label="c2"),
    Commit({"a.txt": b"hello\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n",
            "dir/sub/deep.txt": b"deep\n", "dir/x.txt": b"x\n",
            "run.sh": b"#!/bin/sh\necho hi\n", "link": Link("a.txt"),
            "dirlink": Link("dir/sub")},
           message="chmod run.sh\n", time=1700007200, tz="+0000", label="c3"),
    Commit({"a.txt": b"hello world\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n",
            "dir/sub/deep.txt": b"deep\n", "dir/x.txt": b"x\n",
            "run.sh": b"#!/bin/sh\necho hi\n", "link": Link("a.txt"),
            "dirlink": Link("dir/sub")},
           message="edit a.txt\n", time=1700010800, tz="+0100",
           author_time=1699924400, author_tz="+0200", label="c4"),
    Commit({"a.txt": b"hello world\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n",
            "dir/sub/deep.txt": b"deep\n",
            "run.sh": b"#!/bin/sh\necho hi\n", "link": Link("a.txt"),
            "dirlink": Link("dir/sub")},
           message="remove x\n", time=1700014400, tz="-0330", label="c5"),
    Commit({"a.txt": b"hello world\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n",
            "dir/sub/deep.txt": b"deep\n",
            "run.sh": b"#!/bin/sh\necho hi\n", "link": Link("a.txt"),
            "dirlink": Link("dir/sub"), "side.txt": b"side\n"},
           branch="side", parents=["c4"], message="side work\n", time=1700012000, tz="+0900",
           label="s1"),
    Commit({"a.txt": b"hello world\n", "README.md": b"# Title\n", "notes/todo.txt": b"todo\n",
            "dir/sub/deep.txt": b"deep\n",
            "run.sh": b"#!/bin/sh\necho hi\n", "link": Link("a.txt"),
            "dirlink": Link("dir/sub"), "side.txt": b"side\n",
            "bin.dat": BIN_DATA, "empty.txt": b"", "latin1.txt": b"caf\xe9\n",
            "tool": Exe(b"#!/bin/sh\n"),
            "odd/sp ace.txt": b"space\n", "odd/co:lon.txt": b"colon\n",
            "odd/back\\slash.txt": b"backslash\n", "odd/.dot": b"dot\n",
            "odd/ünï文件.txt": "unicode\n".encode()},
           parents=["c5", "s1"], message="subject line  \r\n\nbody text \t\n\n\n",
           time=1700018000, tz="+1245", author="Zoë Ünicode <zoe@example.org>", label="c6"),
]


@pytest.fixture(scope="session")
def history_repo(tmp_path_factory):
    """(path, {label: sha}) of the HISTORY repository; tags v1 (light, c1),
    v2 (annotated, c4); an unreferenced loose blob as "orphan"."""
    path = tmp_path_factory.mktemp("history") / "history.git"
    shas = build_repo(path, HISTORY, tags=[Tag("v2", "c4", message="two\n")],
                      lightweight={"v1": "c1"})
    shas["orphan"] = Git(path)("hash-object", "-w", "--stdin", input=b"orphan blob\n")
    return path, shas


# ---------------------------------------------------------------------------
# Write-side helpers (test_write / test_batch / test_history / test_concurrency
# / test_bigfile)
# ---------------------------------------------------------------------------

def fsck_problems(path) -> str:
    """``git fsck --strict`` output lines that are errors or warnings ("" when
    clean).  Dangling objects (left by rejected or no-op writes) are fine."""
    proc = git_run("--git-dir", path, "fsck", "--strict", "--no-dangling", "--no-progress",
                   check=False)
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    bad = [line for line in text.splitlines()
           if line.strip() and not line.startswith(("dangling", "Checking", "notice"))]
    if proc.returncode != 0 and not bad:
        bad = [f"fsck exited with {proc.returncode}"]
    return "\n".join(bad)


def assert_fsck_clean(path) -> None:
    problems = fsck_problems(path)
    assert problems == "", problems


def pack_names(path) -> set[str]:
    """Base names (without extension) of the ``.pack`` files of a repository."""
    pack_dir = Path(path) / "objects" / "pack"
    if not pack_dir.is_dir():
        return set()
    return {p.stem for p in pack_dir.glob("*.pack")}


def pack_object_ids(path, name: str) -> set[str]:
    """Object ids listed in ``objects/pack/<name>.idx`` (via git show-index)."""
    idx = Path(path) / "objects" / "pack" / (name + ".idx")
    out = git_run("show-index", input=idx.read_bytes()).stdout.decode()
    return {line.split()[1] for line in out.splitlines() if line.strip()}


def loose_object_ids(path) -> set[str]:
    """Ids of the loose objects of a repository (objects/xx/yyyy…)."""
    objects = Path(path) / "objects"
    ids = set()
    for sub in objects.iterdir():
        if len(sub.name) == 2 and sub.is_dir():
            for f in sub.iterdir():
                if len(f.name) == 38:
                    ids.add(sub.name + f.name)
    return ids


def reflog_lines(path, ref: str = "refs/heads/main") -> list[str]:
    """Raw lines of ``logs/<ref>`` (empty list when there is no log)."""
    log = Path(path) / "logs" / ref
    if not log.exists():
        return []
    return log.read_text(encoding="utf-8").splitlines()


def assert_single_commit(g: "Git", new, old, message: str) -> None:
    """`new` is exactly one commit on top of `old` at the tip of main, with this message."""
    assert new.commit_hash == g.rev("refs/heads/main")
    assert g.lines("rev-list", f"{old.commit_hash}..main") == [new.commit_hash]
    headers, raw = g.commit_header(new.commit_hash)
    assert headers["parent"] == [old.commit_hash]
    assert raw == message.encode() + b"\n"
    assert new.message == message


def copy_template(template: Path, path: Path) -> None:
    """A per-test copy of a template repository (hooks and description left out)."""
    shutil.copytree(template, path, symlinks=True,
                    ignore=shutil.ignore_patterns("hooks", "description"))


class RepoEnv:
    """A test repository opened by gitstore, with git beside it as the oracle.

    Subclasses name the fixture label of the commit main starts at (BASE).
    """

    BASE = "base"

    def __init__(self, path, shas):
        self.path = path
        self.shas = shas
        self.g = Git(path)
        # imported here, after this file has set HOME and git config for libgit2
        from gitstore import GitStore
        self.store = GitStore.open(path, create=False)

    def committed(self) -> bool:
        """Whether the test left new commits on main (only then is fsck worth running)."""
        return self.tip() != self.shas[self.BASE]

    def tip(self, branch: str = "main") -> str:
        return self.g.rev(f"refs/heads/{branch}")

    def files(self, rev: str = "main") -> dict[str, tuple[str, str]]:
        """{path: (mode, oid)} of every non-tree entry, as git lists it."""
        out = {}
        for item in self.g.raw("ls-tree", "-r", "-z", rev).split(b"\0"):
            if item:
                meta, name = item.split(b"\t", 1)
                mode, _typ, oid = meta.decode().split()
                out[name.decode()] = (mode, oid)
        return out

    def check_single_commit(self, new, old, message: str) -> None:
        assert_single_commit(self.g, new, old, message)
