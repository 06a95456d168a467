"""Building repositories with git fast-import from Python descriptions of
commits, writing loose objects by hand, the repositories many tests share
(the example tree, HISTORY), and RepoEnv (a repository opened by gitstore
with git beside it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .git import Git, assert_single_commit, git_run
from .local import Exe, Link, _as_bytes

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
        return self.g.files(rev)

    def check_single_commit(self, new, old, message: str) -> None:
        assert_single_commit(self.g, new, old, message)
