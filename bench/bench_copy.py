#!/usr/bin/env python3
"""Bulk-copy benchmark: gitstore vs vost vs hand-rolled pygit2.

A local tree of 5,000 small files in 50 directories (the read benchmark's
layout) is copied into a fresh repository (copy_in, one commit), copied
back out to a fresh directory (copy_out), and synced in again when
nothing changed (sync_in, content compared: checksum=True).  Every
implementation works on its own repository and directories; rounds are
interleaved and the best time of each is kept.

    python bench/bench_copy.py [--quick] [--dir DIR] [--json FILE]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402
    default_parent_dir,
    fmt_ratio,
    fmt_time,
    generate_files,
    import_gitstore,
)

BRANCH = "main"
SYNC_CALLS = 3
TARGETS = {"copy_in": 10.0, "copy_out": 3.0, "sync_in": 10.0}
TITLES = {
    "copy_in": "copy_in of 5,000 files (one commit)",
    "copy_out": "copy_out of 5,000 files",
    "sync_in": "sync_in, nothing changed (checksum)",
}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class StoreImpl:
    """gitstore and vost: the documented API."""

    def __init__(self, name: str, module: Any):
        self.name, self.module = name, module

    def create(self, path: Path) -> Any:
        return self.module.GitStore.open(str(path), branch=BRANCH).branches[BRANCH]

    def copy_in(self, fs: Any, src: Path) -> Any:
        return fs.copy_in([str(src) + "/"], "")

    def copy_out(self, fs: Any, dest: Path) -> None:
        fs.copy_out("", str(dest))

    def sync_in(self, fs: Any, src: Path) -> bool:
        new = fs.sync_in(str(src), "")
        return new.commit_hash == fs.commit_hash


class Pygit2Impl:
    """The same three jobs written directly on pygit2 (loose objects)."""

    name = "pygit2"

    def __init__(self, module: Any):
        self.pygit2 = module

    def create(self, path: Path) -> Any:
        return self.pygit2.init_repository(str(path), bare=True)

    def _tree(self, repo: Any, root: str) -> Any:
        builder = repo.TreeBuilder()
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    builder.insert(entry.name, self._tree(repo, entry.path),
                                   self.pygit2.GIT_FILEMODE_TREE)
                else:
                    blob = repo.create_blob_fromdisk(entry.path)
                    exe = entry.stat(follow_symlinks=False).st_mode & 0o111
                    builder.insert(entry.name, blob, self.pygit2.GIT_FILEMODE_BLOB_EXECUTABLE
                                   if exe else self.pygit2.GIT_FILEMODE_BLOB)
        return builder.write()

    def copy_in(self, repo: Any, src: Path) -> Any:
        tree = self._tree(repo, str(src))
        sig = self.pygit2.Signature("bench", "bench@example.com")
        repo.create_commit(f"refs/heads/{BRANCH}", sig, sig, "copy", tree, [])
        return repo

    def copy_out(self, repo: Any, dest: Path) -> None:
        stamp = repo.revparse_single(BRANCH).commit_time
        def walk(tree: Any, base: str) -> None:
            os.makedirs(base, exist_ok=True)
            for entry in tree:
                path = os.path.join(base, entry.name)
                if entry.filemode == self.pygit2.GIT_FILEMODE_TREE:
                    walk(repo[entry.id], path)
                    continue
                with open(path, "wb") as f:
                    f.write(repo[entry.id].data)
                if entry.filemode == self.pygit2.GIT_FILEMODE_BLOB_EXECUTABLE:
                    os.chmod(path, 0o755)
                os.utime(path, (stamp, stamp))
        walk(repo.revparse_single(BRANCH).tree, str(dest))

    def sync_in(self, repo: Any, src: Path) -> bool:
        tree = repo.revparse_single(BRANCH).tree
        stored = {}
        def collect(t: Any, base: str) -> None:
            for entry in t:
                path = f"{base}{entry.name}"
                if entry.filemode == self.pygit2.GIT_FILEMODE_TREE:
                    collect(repo[entry.id], path + "/")
                else:
                    stored[path] = (entry.id, entry.filemode)
        collect(tree, "")
        local = {}
        for dirpath, _dirs, names in os.walk(src):
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, src).replace(os.sep, "/")
                mode = os.lstat(full).st_mode
                fm = (self.pygit2.GIT_FILEMODE_BLOB_EXECUTABLE if mode & 0o111
                      else self.pygit2.GIT_FILEMODE_BLOB)
                local[rel] = (self.pygit2.hashfile(full), fm)
        return local == stored


def load_impls() -> list[Any]:
    impls = [StoreImpl("gitstore", import_gitstore())]
    try:
        import vost
        impls.append(StoreImpl("vost", vost))
    except ImportError:
        print("vost not installed: pip install vost", file=sys.stderr)
    try:
        import pygit2
        impls.append(Pygit2Impl(pygit2))
    except ImportError:
        print("pygit2 not installed: pip install pygit2", file=sys.stderr)
    return impls


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def run(parent: Path, repeats: int) -> dict[str, dict[str, float]]:
    files = generate_files()
    src = parent / "src"
    write_tree(src, files)
    os.chmod(src / next(iter(files)), 0o755)   # one executable among them
    impls = load_impls()
    best: dict[str, dict[str, float]] = {w: {} for w in TARGETS}
    for round_no in range(repeats):
        for impl in impls:
            work = parent / f"{impl.name}-{round_no}"
            work.mkdir()
            fs = impl.create(work / "repo.git")
            seconds, fs = timed(lambda: impl.copy_in(fs, src))
            best["copy_in"][impl.name] = min(seconds, best["copy_in"].get(impl.name, 1e9))
            seconds, _ = timed(lambda: impl.copy_out(fs, work / "out"))
            best["copy_out"][impl.name] = min(seconds, best["copy_out"].get(impl.name, 1e9))
            count = sum(len(f) for _, _, f in os.walk(work / "out"))
            if count != len(files):
                raise SystemExit(f"{impl.name}: copy_out wrote {count} files, "
                                 f"expected {len(files)}")
            # The best of SYNC_CALLS calls, as for every implementation: one
            # call is short enough for the write-back of copy_out's files
            # to land in the middle of it.
            for _ in range(SYNC_CALLS):
                seconds, in_sync = timed(lambda: impl.sync_in(fs, src))
                if not in_sync:
                    raise SystemExit(f"{impl.name}: sync_in found changes where there are none")
                best["sync_in"][impl.name] = min(seconds, best["sync_in"].get(impl.name, 1e9))
            # Work directories stay until the end: ext4 avoids reusing the
            # inodes of files deleted a moment ago, and scanning past them
            # makes creating files in the next round much slower.
    return best


def render(best: dict[str, dict[str, float]]) -> str:
    names = ["gitstore", "vost", "pygit2"]
    lines = ["| workload | " + " | ".join(names) + " | vost/gitstore | pygit2/gitstore "
             "| target | status |",
             "|---|" + "---|" * (len(names) + 4)]
    for key, title in TITLES.items():
        row = best[key]
        ours = row.get("gitstore")
        ratios = [row[n] / ours if ours and n in row else None for n in ("vost", "pygit2")]
        status = "n/a" if ratios[0] is None else (
            "PASS" if ratios[0] >= TARGETS[key] else "FAIL")
        lines.append(f"| {title} | " + " | ".join(fmt_time(row.get(n)) for n in names)
                     + f" | {fmt_ratio(ratios[0])} | {fmt_ratio(ratios[1])} "
                     f"| ≥ {TARGETS[key]:g}× | {status} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 5")
    parser.add_argument("--dir", default=None, help="where the work goes (not tmpfs)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    parent = Path(tempfile.mkdtemp(prefix="gitstore-bench-copy-",
                                   dir=args.dir or default_parent_dir()))
    try:
        best = run(parent, 2 if args.quick else 5)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    print(f"# bulk copies, {platform.machine()}, Python {platform.python_version()}")
    print(render(best))
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=2))
    failed = [k for k in TARGETS
              if best[k].get("vost") and best[k]["vost"] / best[k]["gitstore"] < TARGETS[k]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
