#!/usr/bin/env python3
"""Write and history benchmark: gitstore vs vost vs hand-rolled pygit2.

Each implementation writes into its own fresh bare repository (sequential
single-file commits on disk and on tmpfs, write_from_file of a 64 MiB and
optionally a 1 GiB file), then reads back from it (the 64 MiB file, a
4 KiB slice of the 1 GiB file, log() over the commits).  Prints per-op
times, the speed-up of gitstore over the others, and PASS/FAIL against
the targets.

    python bench/bench_write.py [--quick] [--big | --no-big] [--json FILE]
                                [--dir DIR] [--shm DIR] [--keep]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402  (shared helpers of the read benchmark)
    Contender,
    calibrate,
    default_parent_dir,
    fmt_ratio,
    fmt_time,
    import_gitstore,
    time_interleaved,
)

BRANCH = "main"
MIB = 1024 * 1024
SEQ_PATH = "a/b/c/file%d.txt"          # depth 3
SEQ_SIZE = 1024                         # bytes per sequentially written file
BIG_PATH = "data/big.bin"
HUGE_PATH = "data/huge.bin"
SLICE = 4096


# --------------------------------------------------------------------------
# Implementations: one small adapter each, same operations


class StoreBackend:
    """gitstore and vost: the same GitStore/FS API, used as documented."""

    def __init__(self, name: str, module: Any, version: str):
        self.name, self.module, self.version = name, module, version

    def create(self, path: Path) -> Any:
        return self.module.GitStore.open(str(path))      # creates, bare

    def tip(self, store: Any) -> Any:
        return store.branches[BRANCH]

    def write(self, fs: Any, path: str, data: bytes) -> Any:
        return fs.write(path, data)

    def write_from_file(self, fs: Any, path: str, local: Path) -> Any:
        return fs.write_from_file(path, str(local))

    def read(self, fs: Any, path: str, offset: int = 0, size: int | None = None) -> bytes:
        if offset == 0 and size is None:
            return fs.read(path)
        return fs.read(path, offset=offset, size=size)

    def size(self, fs: Any, path: str) -> int:
        return fs.size(path)

    def messages(self, fs: Any) -> list[str]:
        return [snap.message for snap in fs.log()]

    def tree_hash(self, fs: Any) -> str:
        return fs.tree_hash


class Pygit2Backend:
    """The minimal pygit2 code for the same job: blob -> nested trees via
    TreeBuilder -> commit -> update ref.  A snapshot is (repo, commit id)."""

    name = "pygit2"

    def __init__(self):
        import pygit2

        self.pygit2 = pygit2
        self.version = f"{pygit2.__version__} (libgit2 {pygit2.LIBGIT2_VERSION})"
        self.sig = pygit2.Signature("bench", "bench@localhost", 0, 0)

    def create(self, path: Path) -> Any:
        pg = self.pygit2
        repo = pg.init_repository(str(path), bare=True, initial_head=BRANCH)
        sig = pg.Signature("bench", "bench@localhost")
        repo.create_commit(f"refs/heads/{BRANCH}", sig, sig, f"Initialize {BRANCH}\n",
                           repo.TreeBuilder().write(), [])
        return repo

    def tip(self, repo: Any) -> Any:
        return repo, repo.references[f"refs/heads/{BRANCH}"].target

    def _insert(self, repo: Any, tree: Any, parts: list[str], blob_id: Any) -> Any:
        """Rebuild the trees along `parts` with the blob at the end."""
        pg = self.pygit2
        builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
        name = parts[0]
        if len(parts) == 1:
            builder.insert(name, blob_id, pg.GIT_FILEMODE_BLOB)
        else:
            sub = None
            if tree is not None and name in tree:
                entry = tree[name]
                if entry.filemode == pg.GIT_FILEMODE_TREE:
                    sub = repo[entry.id]
            builder.insert(name, self._insert(repo, sub, parts[1:], blob_id),
                           pg.GIT_FILEMODE_TREE)
        return builder.write()

    def _commit(self, snap: Any, path: str, blob_id: Any) -> Any:
        repo, parent = snap
        sig = self.pygit2.Signature("bench", "bench@localhost")
        tree_id = self._insert(repo, repo[parent].tree, path.split("/"), blob_id)
        commit = repo.create_commit(None, sig, sig, f"+ {path}\n", tree_id, [parent])
        repo.references[f"refs/heads/{BRANCH}"].set_target(commit, f"commit: + {path}")
        return repo, commit

    def write(self, snap: Any, path: str, data: bytes) -> Any:
        return self._commit(snap, path, snap[0].create_blob(data))

    def write_from_file(self, snap: Any, path: str, local: Path) -> Any:
        return self._commit(snap, path, snap[0].create_blob_fromdisk(str(local)))

    def _lookup(self, snap: Any, path: str) -> Any:
        repo, commit = snap
        obj = repo[commit].tree
        for segment in path.split("/"):
            obj = obj[segment]
        return obj

    def read(self, snap: Any, path: str, offset: int = 0, size: int | None = None) -> bytes:
        data = self._lookup(snap, path).data
        if offset == 0 and size is None:
            return data
        return data[offset:None if size is None else offset + size]

    def size(self, snap: Any, path: str) -> int:
        return snap[0].odb.read_header(self._lookup(snap, path).id)[1]

    def messages(self, snap: Any) -> list[str]:
        repo, commit = snap
        return [c.message.rstrip("\n") for c in repo.walk(commit)]

    def tree_hash(self, snap: Any) -> str:
        repo, commit = snap
        return str(repo[commit].tree_id)


def make_backend(name: str):
    if name == "gitstore":
        module = import_gitstore()
        return StoreBackend("gitstore", module,
                            f"{getattr(module, '__version__', '?')} ({module.__file__}; "
                            f"{describe_extension(module)})")
    if name == "vost":
        import vost
        from importlib.metadata import version

        return StoreBackend("vost", vost, version("vost"))
    if name == "pygit2":
        return Pygit2Backend()
    raise ValueError(name)


def describe_extension(module: Any) -> str:
    """When the C extension was built, and whether it is a sanitizer build
    (whose timings mean nothing)."""
    core = getattr(getattr(module, "_core", None), "__file__", None)
    if not core:
        return "extension not found"
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(core)))
    with open(core, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    return f"_core built {built}" + (", ASAN BUILD: timings are meaningless" if sanitized else "")


NAMES = ("gitstore", "vost", "pygit2")


@dataclass
class Impl:
    name: str
    backend: Any = None
    note: str = ""

    @property
    def available(self) -> bool:
        return self.backend is not None

    @property
    def version(self) -> str:
        return self.backend.version if self.backend else ""


def load_impls() -> list[Impl]:
    impls = []
    for name in NAMES:
        try:
            impls.append(Impl(name, make_backend(name)))
        except ImportError as exc:
            impls.append(Impl(name, note=f"not importable: {exc}"))
        except Exception as exc:  # a half-built module must not stop the run
            impls.append(Impl(name, note=f"failed to load: {exc!r}"))
    return impls


# --------------------------------------------------------------------------
# Results


@dataclass
class Row:
    key: str
    title: str
    unit: str                                   # "s", "files", "MiB"
    target: tuple[str, float] | None = None     # ("ratio"|"max"|"below", value)
    values: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def ratio(self, other: str) -> float | None:
        if self.unit != "s":
            return None
        ours, theirs = self.values.get("gitstore"), self.values.get(other)
        if not ours or not theirs:
            return None
        return theirs / ours

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        kind, value = self.target
        if kind == "ratio":
            return f">= {value:g}x"
        if kind == "below":
            return f"< {fmt_time(value)}"
        return f"<= {value:g}" + (" MiB" if self.unit == "MiB" else "")

    @property
    def status(self) -> str:
        if self.target is None:
            return "-"
        kind, value = self.target
        measured = self.ratio("vost") if kind == "ratio" else self.values.get("gitstore")
        if measured is None:
            return "n/a"
        ok = {"ratio": measured >= value, "below": measured < value,
              "max": measured <= value}[kind]
        return "PASS" if ok else "FAIL"

    def cell(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            return "error" if name in self.errors else "-"
        if self.unit == "s":
            return fmt_time(value)
        if self.unit == "MiB":
            return f"{value:.1f} MiB"
        return f"{value:.2f}"


def render_table(rows: list[Row], impls: list[Impl]) -> str:
    names = [impl.name for impl in impls if impl.available]
    compared = [n for n in ("vost", "pygit2") if n in names and "gitstore" in names]
    header = ["workload", *names, *(f"{n}/gitstore" for n in compared),
              "target", "result"]
    table = [header]
    for r in rows:
        table.append([r.title, *(r.cell(n) for n in names),
                      *(fmt_ratio(r.ratio(n)) for n in compared),
                      r.target_text, r.status])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for i, row in enumerate(table):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cross_check(answers: dict[str, Any], what: str) -> list[str]:
    if not answers:
        return []
    ref_name, ref = next(iter(answers.items()))
    return [f"{what}: {name} != {ref_name}"
            for name, answer in answers.items() if answer != ref]


# --------------------------------------------------------------------------
# Helpers


class Scratch:
    """Fresh repository directories under one parent, removed when done with."""

    def __init__(self, parent: Path):
        self.parent = parent
        self.counter = 0

    def repo_path(self, label: str) -> Path:
        self.counter += 1
        return self.parent / f"{self.counter:03d}-{label}.git"


def remove(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """One whole-operation timing, garbage collector off (as timeit does)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        result = fn()
        return time.perf_counter() - started, result
    finally:
        if enabled:
            gc.enable()


def seq_items(commits: int) -> list[tuple[str, bytes]]:
    """(path, content) of the sequential writes: distinct 1 KiB text files."""
    items = []
    for i in range(commits):
        path = SEQ_PATH % i
        line = f"{path} line {i}: ".encode()
        items.append((path, (line * (SEQ_SIZE // len(line) + 1))[:SEQ_SIZE]))
    return items


def make_random_file(path: Path, size: int, seed: int) -> None:
    """`size` bytes: one random 1 MiB block, repeated (incompressible to zlib)."""
    block = random.Random(seed).randbytes(MIB)
    with open(path, "wb") as f:
        for done in range(0, size, MIB):
            f.write(block[:size - done])


def make_sparse_file(path: Path, size: int, seed: int) -> list[tuple[int, bytes]]:
    """A sparse file of `size` bytes: zeros, except random blocks at a few
    offsets (the whole first MiB among them).  Returns the written blocks."""
    rng = random.Random(seed)
    blocks = [(0, rng.randbytes(MIB)), (size // 4, rng.randbytes(64 * 1024)),
              (size // 2, rng.randbytes(64 * 1024)), (size - 64 * 1024, rng.randbytes(64 * 1024))]
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in blocks:
            f.seek(offset)
            f.write(data)
    # Read it once: the first read of a hole makes the kernel allocate and
    # zero page-cache pages (seconds per GiB on some VMs), which would be
    # charged to whichever implementation happened to run first.
    with open(path, "rb", buffering=0) as f:
        while f.read(8 * MIB):
            pass
    return blocks


def zlib_rate(sample: bytes) -> float:
    """Bytes per second that zlib level 6 (git's default) compresses `sample` at."""
    started = time.perf_counter()
    zlib.compress(sample, 6)
    return len(sample) / (time.perf_counter() - started)


def fsck(repo: Path) -> str | None:
    """None if `git fsck --strict` is clean, else its complaint."""
    proc = subprocess.run(["git", "--git-dir", str(repo), "fsck", "--strict", "--no-progress"],
                          capture_output=True, text=True)
    if proc.returncode == 0 and not proc.stdout.strip() and "error" not in proc.stderr:
        return None
    return (proc.stdout + proc.stderr).strip()[:500] or f"exit {proc.returncode}"


def scan_files(repo: Path) -> set[tuple[str, int]]:
    """(path, inode) of every file under objects/ and refs/."""
    found = set()
    for top in ("objects", "refs"):
        for dirpath, _, files in os.walk(repo / top):
            for name in files:
                full = os.path.join(dirpath, name)
                try:
                    found.add((full, os.lstat(full).st_ino))
                except FileNotFoundError:
                    pass
    return found


# --------------------------------------------------------------------------
# Workloads 1 and 2: sequential single-file commits


def bench_seq_writes(key: str, title: str, target: float, impls: list[Impl],
                     scratch: Scratch, items: list[tuple[str, bytes]], runs: int,
                     kept: dict[str, Any]) -> Row:
    """`runs` interleaved rounds; each round every implementation writes all
    `items` into a fresh repository.  The last round's repositories are kept
    in `kept` (name -> (repo path, store, final snapshot))."""
    row = Row(key, title, "s", ("ratio", target))
    previous: dict[str, Path] = {}
    for _ in range(runs):
        for impl in impls:
            if not impl.available or impl.name in row.errors:
                continue
            b = impl.backend
            path = scratch.repo_path(f"{key}-{impl.name}")
            try:
                store = b.create(path)
                snap = b.tip(store)

                def loop(snap=snap, write=b.write):
                    for p, data in items:
                        snap = write(snap, p, data)
                    return snap

                seconds, snap = timed(loop)
            except Exception as exc:
                row.errors[impl.name] = repr(exc)
                remove(path)
                continue
            per_op = seconds / len(items)
            best = row.values.get(impl.name)
            row.values[impl.name] = per_op if best is None else min(best, per_op)
            remove(previous.get(impl.name))
            previous[impl.name] = path
            kept[impl.name] = (path, store, snap)
    verify_seq(row, impls, items, kept)
    return row


def verify_seq(row: Row, impls: list[Impl], items: list[tuple[str, bytes]],
               kept: dict[str, Any]) -> None:
    trees, counts = {}, {}
    for impl in impls:
        if impl.name not in kept:
            continue
        b = impl.backend
        _, _, snap = kept[impl.name]
        bad = [p for p, data in items if b.read(snap, p) != data]
        if bad:
            row.mismatches.append(f"{impl.name}: {len(bad)} files read back wrong "
                                  f"(first {bad[0]})")
        trees[impl.name] = b.tree_hash(snap)
        counts[impl.name] = len(b.messages(snap))
        if counts[impl.name] != len(items) + 1:
            row.mismatches.append(f"{impl.name}: {counts[impl.name]} commits in log, "
                                  f"expected {len(items) + 1}")
    row.mismatches += cross_check(trees, "final tree hash")


def bench_creations(impls: list[Impl], scratch: Scratch, items: list[tuple[str, bytes]],
                    notes: list[str]) -> Row:
    """New files (new path or new inode) under objects/ and refs/ per commit,
    scanning after every commit of an untimed run; the mean is the value,
    the spread goes to `notes`."""
    row = Row("files_per_commit", f"  new files per commit, dir scan (mean of {len(items)})",
              "files", ("max", 3))
    for impl in impls:
        if not impl.available:
            continue
        b = impl.backend
        path = scratch.repo_path(f"count-{impl.name}")
        try:
            snap = b.tip(b.create(path))
            before = scan_files(path)
            per_commit = []
            for p, data in items:
                snap = b.write(snap, p, data)
                after = scan_files(path)
                per_commit.append(len(after - before))
                before = after
            row.values[impl.name] = sum(per_commit) / len(per_commit)
            spread = sorted(Counter(per_commit).items())
            notes.append(f"files created per commit, {impl.name}: "
                         + ", ".join(f"{n} file(s) in {k} commit(s)" for n, k in spread))
        except Exception as exc:
            row.errors[impl.name] = repr(exc)
        finally:
            remove(path)
    return row


def child_sys_path() -> list[str]:
    """sys.path entries a child process needs to import this script and the
    same gitstore build as this process (not whatever its cwd offers)."""
    paths = [str(Path(__file__).resolve().parent)]
    module = sys.modules.get("gitstore")
    if module is not None and getattr(module, "__file__", None):
        paths.insert(0, str(Path(module.__file__).resolve().parent.parent))
    return paths


STRACE_CHILD = r"""
import os, sys
sys.path[:0] = {paths!r}
from bench_write import make_backend, seq_items
b = make_backend({name!r})
snap = b.tip(b.create({repo!r}))
items = seq_items({n})
os.access("/gitstore-bench-begin", os.F_OK)
for p, data in items:
    snap = b.write(snap, p, data)
os.access("/gitstore-bench-end", os.F_OK)
"""

STRACE_CALLS = ("openat,open,creat,rename,renameat,renameat2,link,linkat,mkdir,mkdirat,"
                "unlink,unlinkat,fsync,fdatasync,access,faccessat,faccessat2")


def strace_creations(name: str, scratch: Scratch, commits: int) -> tuple[str, float | None] | None:
    """Per-commit file-creating syscalls of `commits` writes, by strace:
    (summary, new files per commit), or None without strace."""
    if not shutil.which("strace"):
        return None
    repo = scratch.repo_path(f"strace-{name}")
    log = scratch.parent / f"strace-{name}.txt"
    code = STRACE_CHILD.format(paths=child_sys_path(), name=name,
                               repo=str(repo), n=commits)
    try:
        proc = subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e",
                               f"trace={STRACE_CALLS}", sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=300,
                              cwd=scratch.parent)
        if proc.returncode != 0:
            return f"strace run failed: {proc.stderr.strip()[-300:]}", None
        lines = log.read_text().splitlines()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"strace run failed: {exc!r}", None
    finally:
        remove(repo)
        log.unlink(missing_ok=True)
    begin = next((i for i, l in enumerate(lines) if "gitstore-bench-begin" in l), None)
    end = next((i for i, l in enumerate(lines) if "gitstore-bench-end" in l), None)
    if begin is None or end is None:
        return "strace markers not found", None
    counts = {"O_CREAT|O_EXCL opens (new files)": 0,
              "other O_CREAT opens (lock file, reflog: usually existing)": 0,
              "renames": 0, "links": 0, "mkdirs": 0, "unlinks": 0, "fsyncs": 0}
    creats = 0
    for line in lines[begin + 1:end]:
        if "= -1" in line:
            continue
        call = re.sub(r"^\d+\s+", "", line).split("(", 1)[0]
        if call == "creat":
            creats += 1
        elif call in ("openat", "open") and "O_CREAT" in line:
            counts["O_CREAT|O_EXCL opens (new files)" if "O_EXCL" in line else
                   "other O_CREAT opens (lock file, reflog: usually existing)"] += 1
        elif call.startswith("rename"):
            counts["renames"] += 1
        elif call.startswith("link"):
            counts["links"] += 1
        elif call.startswith("mkdir"):
            counts["mkdirs"] += 1
        elif call.startswith("unlink"):
            counts["unlinks"] += 1
        elif call in ("fsync", "fdatasync"):
            counts["fsyncs"] += 1
    created = counts["O_CREAT|O_EXCL opens (new files)"] + creats
    return (", ".join(f"{v / commits:.2f} {k}" for k, v in counts.items()),
            created / commits)


# --------------------------------------------------------------------------
# Workloads 3-5: big files


def bench_write_file(key: str, title: str, target: float | None, impls: list[Impl],
                     scratch: Scratch, source: Path, repo_path: str, runs: int,
                     kept: dict[str, Any]) -> Row:
    """write_from_file(source) into a fresh repository per run (whole-op time)."""
    row = Row(key, title, "s", ("ratio", target) if target else None)
    previous: dict[str, Path] = {}
    for _ in range(runs):
        for impl in impls:
            if not impl.available or impl.name in row.errors:
                continue
            b = impl.backend
            path = scratch.repo_path(f"{key}-{impl.name}")
            try:
                snap = b.tip(b.create(path))
                seconds, snap = timed(lambda: b.write_from_file(snap, repo_path, source))
            except Exception as exc:
                row.errors[impl.name] = repr(exc)
                remove(path)
                continue
            best = row.values.get(impl.name)
            row.values[impl.name] = seconds if best is None else min(best, seconds)
            remove(previous.get(impl.name))
            previous[impl.name] = path
            kept[impl.name] = (path, None, snap)
            del snap
            gc.collect()
    return row


def read_slice_vost_unlimited(failed: Row, impls: list[Impl], kept: dict[str, Any],
                              head: bytes, s: "Settings") -> Row:
    """vost again, with dulwich's loose-object size limit (512 MiB, a guard
    against decompression bombs; vost reads fail beyond it) lifted."""
    snap = kept["vost"][2]
    store = snap._store._repo._drepo.object_store
    saved = store.loose_object_size_limit
    store.loose_object_size_limit = 1 << 62
    try:
        row = bench_reads("read_slice_vost", "  same, vost with dulwich's 512 MiB "
                          "loose-object limit lifted", None,
                          [i for i in impls if i.name == "vost"], {"vost": kept["vost"]},
                          lambda b, snap: b.read(snap, HUGE_PATH, offset=0, size=SLICE),
                          s.slow_repeats, s.min_time, lambda answer: answer == head)
    finally:
        store.loose_object_size_limit = saved
    row.values["gitstore"] = failed.values.get("gitstore")   # for the ratio
    return row


MEMPROBE_CHILD = r"""
import gc, json, resource, sys
sys.path[:0] = {paths!r}
from bench_write import make_backend
b = make_backend({name!r})
snap = b.tip(b.create({repo!r}))
snap = b.write(snap, "warm/up.txt", b"warm-up")
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
snap = b.write_from_file(snap, {path!r}, {source!r})
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before_kib": before, "after_kib": after}}))
"""


def bench_memory(impls: list[Impl], scratch: Scratch, source: Path, size_mib: int) -> Row:
    """Peak RSS growth of write_from_file, each in a fresh subprocess."""
    row = Row("write_file_rss", f"  peak RSS growth, write_from_file {size_mib} MiB",
              "MiB", ("max", 16))
    for impl in impls:
        if not impl.available:
            continue
        repo = scratch.repo_path(f"mem-{impl.name}")
        code = MEMPROBE_CHILD.format(paths=child_sys_path(),
                                     name=impl.name, repo=str(repo), path=BIG_PATH,
                                     source=str(source))
        try:
            # Through a shell that forks: a child exec'd straight from this
            # (big) process would inherit its peak RSS as its own ru_maxrss.
            proc = subprocess.run(["/bin/sh", "-c", '"$0" "$@"; exit $?', sys.executable,
                                   "-c", code], capture_output=True, text=True, timeout=600,
                                  cwd=scratch.parent)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip()[-300:])
            probe = json.loads(proc.stdout.strip().splitlines()[-1])
            row.values[impl.name] = (probe["after_kib"] - probe["before_kib"]) / 1024
        except Exception as exc:
            row.errors[impl.name] = repr(exc)
        finally:
            remove(repo)
    return row


def bench_reads(key: str, title: str, target: tuple[str, float] | None, impls: list[Impl],
                kept: dict[str, Any], op: Callable[[Any, Any], Any],
                repeats: int, min_time: float, check: Callable[[Any], bool]) -> Row:
    """Calibrated, interleaved min-of-`repeats` timing (as in bench_read) of
    op(backend, snapshot) on each implementation's own repository."""
    row = Row(key, title, "s", target)
    contenders, answers = [], {}
    for impl in impls:
        if impl.name not in kept:
            continue
        fn = lambda b=impl.backend, snap=kept[impl.name][2]: op(b, snap)  # noqa: E731
        try:
            answer = fn()                                  # warm-up + check
            if not check(answer):
                row.mismatches.append(f"{impl.name}: wrong result")
            answers[impl.name] = answer
            del answer
            timer = timeit.Timer(fn)
            contenders.append(Contender(impl.name, timer, calibrate(timer, min_time)))
        except Exception as exc:
            row.errors[impl.name] = repr(exc)
    row.mismatches += cross_check(answers, "results")
    answers.clear()
    gc.collect()
    time_interleaved(contenders, repeats)
    row.values.update({c.name: c.best for c in contenders})
    return row


# --------------------------------------------------------------------------
# Main


@dataclass(frozen=True)
class Settings:
    commits: int          # sequential writes per run (workloads 1, 2, 6)
    write_runs: int       # fresh-repository runs per write workload
    read_repeats: int     # rounds for the fast read timings (log)
    slow_repeats: int     # rounds for the big-file reads
    min_time: float       # seconds each calibrated read run lasts at least
    file_mib: int         # workloads 3 and 4
    big_mib: int          # workload 5 (0: skipped)
    count_commits: int    # commits scanned for the files-per-commit count


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one run per write workload, short read timings, "
                             "no 1 GiB case (smoke test, < 1 min)")
    big = parser.add_mutually_exclusive_group()
    big.add_argument("--big", dest="big", action="store_true", default=None,
                     help="include the 1 GiB workload (default unless --quick)")
    big.add_argument("--no-big", dest="big", action="store_false",
                     help="skip the 1 GiB workload")
    parser.add_argument("--big-mib", type=int, default=1024, metavar="N",
                        help="size of the big file in MiB (default 1024)")
    parser.add_argument("--commits", type=int, default=300,
                        help="sequential writes per run (default 300)")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON")
    parser.add_argument("--dir", metavar="DIR", default=None,
                        help="where the on-disk repositories go "
                             "(default: /var/tmp, else the current directory)")
    parser.add_argument("--shm", metavar="DIR", default="/dev/shm",
                        help="tmpfs directory for workload 2 (default /dev/shm)")
    parser.add_argument("--keep", action="store_true",
                        help="do not delete the repositories")
    return parser.parse_args(argv)


def fs_type(path: Path) -> str:
    proc = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return proc.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    big = (not args.quick) if args.big is None else args.big
    s = Settings(commits=args.commits,
                 write_runs=1 if args.quick else 3,
                 read_repeats=3 if args.quick else 10,
                 slow_repeats=2 if args.quick else 3,
                 min_time=0.02 if args.quick else 0.1,
                 file_mib=64, big_mib=args.big_mib if big else 0,
                 count_commits=min(args.commits, 30) if args.quick else args.commits)

    impls = load_impls()
    disk_parent = Path(tempfile.mkdtemp(prefix="gitstore-wbench-",
                                        dir=args.dir or default_parent_dir()))
    shm_parent = None
    if os.path.isdir(args.shm) and os.access(args.shm, os.W_OK):
        shm_parent = Path(tempfile.mkdtemp(prefix="gitstore-wbench-", dir=args.shm))
    disk, shm = Scratch(disk_parent), Scratch(shm_parent) if shm_parent else None

    rows: list[Row] = []
    notes: list[str] = [f"{impl.name}: MISSING, column skipped ({impl.note})"
                        for impl in impls if not impl.available]
    verification: list[str] = []
    kept_gitstore_repos: list[Path] = []
    started = time.perf_counter()
    try:
        print(f"on-disk repositories: {disk_parent} ({fs_type(disk_parent)})")
        print(f"tmpfs repositories:   {shm_parent} ({fs_type(shm_parent)})" if shm_parent
              else f"tmpfs repositories:   {args.shm} not usable, workload 2 skipped")
        for impl in impls:
            print(f"  {impl.name:8s} {impl.version if impl.available else 'MISSING - ' + impl.note}")
        print(f"settings: {s.commits} commits x {s.write_runs} run(s) per write workload; "
              f"reads min of {s.read_repeats} (big files: {s.slow_repeats}) interleaved runs"
              f"{'; --quick' if args.quick else ''}"
              f"{'; 1 GiB case on' if s.big_mib else '; 1 GiB case off'}\n")

        items = seq_items(s.commits)

        # 1. sequential writes on disk (+ files per commit), 6. log on those repos
        disk_kept: dict[str, Any] = {}
        progress("1. sequential writes, disk")
        rows.append(bench_seq_writes("seq_disk", f"write x{s.commits}, depth 3, disk (per commit)",
                                     2.5, impls, disk, items, s.write_runs, disk_kept))
        progress("   files created per commit")
        rows.append(bench_creations(impls, disk, items[:s.count_commits], notes))
        strace_row = Row("files_per_commit_strace",
                         f"  new files per commit, strace (mean of {s.count_commits})",
                         "files", ("max", 3))
        for impl in impls:
            if impl.available:
                traced = strace_creations(impl.name, disk, s.count_commits)
                if traced:
                    notes.append(f"strace, {impl.name}, per commit over {s.count_commits} "
                                 f"writes (any path): {traced[0]}")
                    strace_row.values[impl.name] = traced[1]
        if any(v is not None for v in strace_row.values.values()):
            rows.append(strace_row)
        if "gitstore" in disk_kept:
            kept_gitstore_repos.append(disk_kept["gitstore"][0])

        # 2. the same on tmpfs
        if shm:
            shm_kept: dict[str, Any] = {}
            progress("2. sequential writes, tmpfs")
            rows.append(bench_seq_writes("seq_tmpfs",
                                         f"write x{s.commits}, depth 3, tmpfs (per commit)",
                                         10, impls, shm, items, s.write_runs, shm_kept))
            if "gitstore" in shm_kept:
                verification.append(fsck_line("tmpfs sequential-write repository",
                                              shm_kept["gitstore"][0]))
            if not args.keep:
                for path, _, _ in shm_kept.values():
                    remove(path)
            shm_kept.clear()

        # 6. log over the commits of workload 1
        progress("6. log")
        expected_log = [f"+ {p}" for p, _ in reversed(items)] + [f"Initialize {BRANCH}"]
        log_row = bench_reads("log", f"log() over {s.commits + 1} commits, .message",
                              ("ratio", 10), impls, disk_kept,
                              lambda b, snap: b.messages(snap),
                              s.read_repeats, s.min_time,
                              lambda answer: answer == expected_log)

        # 3. write_from_file 64 MiB (+ peak memory), 4. read it back
        source = disk_parent / "source-64m.bin"
        make_random_file(source, s.file_mib * MIB, seed=64)
        source_data = source.read_bytes()
        rate = zlib_rate(source_data[:4 * MIB])
        notes.append(f"{s.file_mib} MiB source: a random 1 MiB block repeated; zlib level 6 "
                     f"compresses it at {rate / MIB:.0f} MiB/s here, so compressing it "
                     f"costs ~{s.file_mib * MIB / rate:.2f} s in any implementation")
        file_kept: dict[str, Any] = {}
        progress(f"3. write_from_file {s.file_mib} MiB")
        rows.append(bench_write_file("write_file", f"write_from_file {s.file_mib} MiB",
                                     3, impls, disk, source, BIG_PATH, s.write_runs,
                                     file_kept))
        progress("   peak memory")
        rows.append(bench_memory(impls, disk, source, s.file_mib))
        progress(f"4. read {s.file_mib} MiB")
        rows.append(bench_reads("read_file", f"read {s.file_mib} MiB file", ("ratio", 2),
                                impls, file_kept, lambda b, snap: b.read(snap, BIG_PATH),
                                s.slow_repeats, s.min_time,
                                lambda answer: answer == source_data))
        del source_data
        source.unlink()
        if "gitstore" in file_kept:
            kept_gitstore_repos.append(file_kept["gitstore"][0])

        # 5. a 4 KiB slice of a 1 GiB blob
        if s.big_mib:
            huge = disk_parent / "source-1g.bin"
            blocks = make_sparse_file(huge, s.big_mib * MIB, seed=1024)
            notes.append(f"{s.big_mib} MiB source: sparse, zeros except "
                         f"{len(blocks)} random blocks ({sum(len(d) for _, d in blocks) // 1024} "
                         f"KiB, the first MiB among them); zeros compress fast, so this "
                         f"write time is far below that of {s.big_mib} MiB of random data")
            huge_kept: dict[str, Any] = {}
            progress(f"5. write_from_file {s.big_mib} MiB (one run each)")
            rows.append(bench_write_file("write_huge",
                                         f"write_from_file {s.big_mib} MiB (sparse)",
                                         None, impls, disk, huge, HUGE_PATH, 1, huge_kept))
            progress(f"   4 KiB read from the {s.big_mib} MiB blob")
            head = blocks[0][1][:SLICE]
            rows.append(bench_reads("read_slice", f"read 4 KiB at offset 0 of {s.big_mib} MiB blob",
                                    ("below", 0.005), impls, huge_kept,
                                    lambda b, snap: b.read(snap, HUGE_PATH, offset=0, size=SLICE),
                                    s.slow_repeats, s.min_time,
                                    lambda answer: answer == head))
            if "vost" in rows[-1].errors and "vost" in huge_kept:
                rows.append(read_slice_vost_unlimited(rows[-1], impls, huge_kept, head, s))
            if "gitstore" in huge_kept:
                b = next(i.backend for i in impls if i.name == "gitstore")
                snap = huge_kept["gitstore"][2]
                offset, data = blocks[2]
                ok = (b.size(snap, HUGE_PATH) == s.big_mib * MIB
                      and b.read(snap, HUGE_PATH, offset=offset, size=SLICE) == data[:SLICE]
                      and b.read(snap, HUGE_PATH, offset=s.big_mib * MIB - 100, size=SLICE)
                      == blocks[3][1][-100:])
                verification.append(f"gitstore {s.big_mib} MiB blob: size and slices at "
                                    f"{offset // MIB} MiB and at the end "
                                    f"{'match the source' if ok else 'DO NOT MATCH the source'}")
                kept_gitstore_repos.append(huge_kept["gitstore"][0])
            huge.unlink()
            huge_kept.clear()

        rows.append(log_row)     # shown last, as workload 6

        progress("verifying gitstore repositories with git fsck --strict")
        for path in kept_gitstore_repos:
            verification.append(fsck_line(path.name, path))
        file_kept.clear()
        disk_kept.clear()
        gc.collect()

        gitstore_impl = next((i for i in impls if i.name == "gitstore" and i.available), None)
        if gitstore_impl and describe_extension(gitstore_impl.backend.module) not in gitstore_impl.version:
            notes.append("the gitstore extension was REBUILT during the run: subprocess "
                         "measurements (memory, strace) may come from another build")
        print(f"\n(total run time {time.perf_counter() - started:.0f} s)\n")
        print(render_table(rows, impls))
        print("\nper-op times: the write-x rows are per commit (total / commits, best run "
              "of fresh repositories);\nbig-file rows are whole operations; ratios: other "
              "implementation's time / gitstore's\n(how many times faster gitstore is); "
              "ratio targets apply to vost/gitstore, the others to gitstore's value.")
        print("\nverification:")
        verification[:0] = [f"{r.title.strip()}: {CHECKS[r.key]}: "
                            f"{'MISMATCH, see notes' if r.mismatches else 'OK'}"
                            f"{'; raised: ' + ', '.join(r.errors) if r.errors else ''}"
                            for r in rows if r.key in CHECKS]
        print("\n".join(f"  - {line}" for line in verification))
        for r in rows:
            notes += [f"{r.title.strip()}: {name} raised {err}" for name, err in r.errors.items()]
            notes += [f"{r.title.strip()}: {m}" for m in r.mismatches]
        if notes:
            print("\nnotes:")
            print("\n".join(f"  - {note}" for note in notes))
        if args.json:
            write_json(args.json, rows, impls, s, args, verification, notes)
            print(f"\nwrote {args.json}")
    finally:
        if args.keep:
            print(f"\nkept {disk_parent}" + (f" and {shm_parent}" if shm_parent else ""))
        else:
            remove(disk_parent)
            remove(shm_parent)
    return 0


CHECKS = {
    "seq_disk": "every file read back equal, log length = commits + 1, "
                "final tree hash equal across implementations",
    "seq_tmpfs": "the same checks",
    "read_file": "the bytes read equal the source file (this also checks the "
                 "write_from_file row)",
    "read_slice": "the 4 KiB equal the source's first 4 KiB (this also checks the "
                  "big-file write row)",
    "read_slice_vost": "the 4 KiB equal the source's first 4 KiB",
    "log": "the messages equal the expected list, newest first",
}


def fsck_line(label: str, path: Path) -> str:
    problem = fsck(path)
    return (f"git fsck --strict on gitstore's {label}: "
            + ("clean" if problem is None else f"FAILED: {problem}"))


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def write_json(path: str, rows: list[Row], impls: list[Impl], s: Settings,
               args: argparse.Namespace, verification: list[str], notes: list[str]) -> None:
    payload = {
        "meta": {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "quick": args.quick,
            "settings": asdict(s),
            "dir": args.dir or default_parent_dir(),
            "shm": args.shm,
        },
        "implementations": {
            impl.name: {"available": impl.available, "version": impl.version,
                        "note": impl.note}
            for impl in impls
        },
        "results": [
            {**asdict(r), "ratios": {"vost/gitstore": r.ratio("vost"),
                                     "pygit2/gitstore": r.ratio("pygit2")},
             "status": r.status}
            for r in rows
        ],
        "verification": verification,
        "notes": notes,
    }
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
