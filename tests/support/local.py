"""Local trees for the copy and sync tests: markers for executables and
symlinks, writing one entry, a guard against calls that block, and LocalEnv
(a store with a directory for local trees beside it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .git import Git

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
        return self.g.files(rev)

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


def measuring_env() -> dict:
    """The environment for a child process whose memory a test measures:
    under the ASan pass, freed memory waits in the sanitizer's quarantine
    (256 MiB by default); kept small, it does not count as the child's."""
    import os
    return dict(os.environ,
                ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4")
