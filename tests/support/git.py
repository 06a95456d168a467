"""git as the oracle: a deterministic environment for every git process and
for libgit2 (set when this module is imported, before gitstore is), running
git and reading its answers, and checks of a repository on disk (fsck, packs,
loose objects, reflogs, single commits)."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

# ---------------------------------------------------------------------------
# Deterministic environment
# ---------------------------------------------------------------------------
# This runs when the support package is first imported, by conftest, i.e.
# before any test module (and therefore before gitstore/libgit2 computes its
# configuration search path).
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

    def files(self, rev: str = "main") -> dict[str, tuple[str, str]]:
        """{path: (mode, oid)} of every non-tree entry of rev, recursively;
        names that are not UTF-8 decode with surrogateescape."""
        out = {}
        for item in self.raw("ls-tree", "-r", "-z", rev).split(b"\0"):
            if item:
                meta, name = item.split(b"\t", 1)
                mode, _typ, oid = meta.decode().split()
                out[name.decode("utf-8", "surrogateescape")] = (mode, oid)
        return out

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
