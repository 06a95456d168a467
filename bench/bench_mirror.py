#!/usr/bin/env python3
"""Mirror benchmark: GitStore.backup / restore vs vost, hand-rolled pygit2 and git.

One store is built with gitstore: the read benchmark's 5,001 small files in
50 directories, then one file changed per commit up to 300 commits on
``main`` (plus a tag half-way).  It is then copied out and back in:

- backup into an empty local destination, and into a fresh bare repository
  served by ``git daemon`` (receive-pack enabled, on a free 127.0.0.1 port);
- restore into an empty store from a local repository and from git daemon;
- backup to a bundle file and restore from one;
- a second backup after one new commit (incremental), locally and to git
  daemon.

Contenders: gitstore, vost (pure Python on dulwich), the minimal pygit2 code
a user would write (list refs, push forced refspecs plus deletions; fetch
``+refs/*:refs/*``) and the git CLI (``git push --mirror``, ``git fetch``,
``git bundle create --all``).  Each run uses fresh objects (the library
contenders open the store inside the timed call) and a fresh destination
made beforehand; git runs as a process, start-up included.  Contenders take
turns, the order rotating every round, and the median of the rounds is
reported.  Every result is checked: the destination must hold the source's
refs (a ref beyond them is noted) and, on the first round, pass ``git fsck
--connectivity-only``; a bundle must pass ``git bundle verify`` in an empty
repository and list the source's refs.  libgit2 has no bundles, so pygit2
sits those out.

    python bench/bench_mirror.py [--quick] [--rounds N] [--dir DIR]
                                 [--json FILE] [--keep]

Targets (ratio = other time / gitstore time): ≥ 5× vost; ≥ 1.0× git push
--mirror, git fetch and git bundle; incremental ≥ 0.5× git push (at most
twice its time).  pygit2 is shown for information.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402
    BRANCH,
    default_parent_dir,
    fmt_ratio,
    fmt_time,
    generate_files,
    import_gitstore,
)
from bench_write import describe_extension  # noqa: E402

COMMITS = 300          # on main, the store's initial commit included
TAG_AT = 150           # the commit tagged v1

# A job takes `first` (check thoroughly) and returns its time and what it wrote.
Job = Callable[[bool], tuple[float, Path]]

# (workload, other contender) -> target ratio other/gitstore; None: shown only.
TARGETS: dict[tuple[str, str], float | None] = {}
for _w in ("backup local", "backup daemon"):
    TARGETS.update({(_w, "vost"): 5.0, (_w, "pygit2"): None, (_w, "git push --mirror"): 1.0})
for _w in ("incremental local", "incremental daemon"):
    TARGETS.update({(_w, "vost"): 5.0, (_w, "pygit2"): None, (_w, "git push"): 0.5,
                    (_w, "git push --mirror"): None})
for _w in ("restore local", "restore daemon"):
    TARGETS.update({(_w, "vost"): 5.0, (_w, "pygit2"): None, (_w, "git fetch"): 1.0})
TARGETS.update({("backup bundle", "vost"): 5.0, ("backup bundle", "git bundle create"): 1.0,
                ("restore bundle", "vost"): 5.0, ("restore bundle", "git fetch"): 1.0})


# --------------------------------------------------------------------------
# git helpers


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def refs_of(repo: Path) -> dict[str, str]:
    """A repository's refs (HEAD left out), name -> target."""
    out = git("--git-dir", str(repo), "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ") for line in out.splitlines())


def bundle_refs(bundle: Path, empty: Path) -> dict[str, str]:
    """A bundle's refs (HEAD left out), once `git bundle verify` has found
    it complete: it needs nothing from the empty repository `empty`."""
    git("--git-dir", str(empty), "bundle", "verify", "--quiet", str(bundle))
    out = git("--git-dir", str(empty), "bundle", "list-heads", str(bundle))
    pairs = (line.split(" ") for line in out.splitlines())
    return {name: oid for oid, name in pairs if name != "HEAD"}


def fsck(repo: Path) -> None:
    git("--git-dir", str(repo), "fsck", "--connectivity-only", "--no-progress")


def size_kib(path: Path) -> int:
    """A bundle's size, or that of a repository's objects."""
    if path.is_file():
        return path.stat().st_size // 1024
    files = (f for f in (path / "objects").rglob("*") if f.is_file())
    return sum(f.stat().st_size for f in files) // 1024


class Daemon:
    """git daemon on a free 127.0.0.1 port serving `base` read-write."""

    def __init__(self, base: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = base
        self.log = base / "daemon.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={self.port}",
                 f"--base-path={base}", "--export-all", "--enable=receive-pack",
                 "--informative-errors", str(base)],
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"git daemon did not start: {self.log.read_text()}")
                time.sleep(0.05)

    def url(self, repo: Path) -> str:
        return f"git://127.0.0.1:{self.port}/{repo.relative_to(self.base)}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# The store


def build_store(gitstore: Any, path: Path) -> None:
    """5,001 files in one commit after the initial one, then one file changed
    per commit up to COMMITS commits; v1 tags commit TAG_AT."""
    files = generate_files()
    store = gitstore.GitStore.open(str(path), author="Bench", email="bench@example.com")
    fs = store.branches[BRANCH]
    with fs.batch(message="benchmark fixture") as batch:
        for name, data in files.items():
            batch.write(name, data)
    fs = batch.fs
    paths = sorted(files)
    for i in range(3, COMMITS + 1):
        name = paths[(i * 7919) % len(paths)]
        fs = fs.write(name, files[name] + f"edit {i}\n".encode(), message=f"edit {i}")
        if i == TAG_AT:
            store.tags["v1"] = fs


def add_commit(gitstore: Any, path: Path) -> None:
    store = gitstore.GitStore.open(str(path), create=False)
    fs = store.branches[BRANCH]
    fs.write("alpha/src/new.txt", b"one more file for the incremental backup\n",
             message="one more commit")


# --------------------------------------------------------------------------
# Hand-rolled pygit2


def pygit2_backup(pygit2: Any, src: Path, url: str, create: Path | None = None) -> None:
    """Mirror push: every local ref forced, remote-only refs deleted."""
    repo = pygit2.Repository(str(src))
    if create is not None:
        pygit2.init_repository(str(create), bare=True)
    remote = repo.remotes.create_anonymous(url)
    remote.connect(direction=1)   # GIT_DIRECTION_PUSH: a push needs a push connection
    local = [name for name in repo.references if name.startswith("refs/")]
    remote_only = {h.name for h in remote.list_heads(connect=False)
                   if h.name.startswith("refs/") and not h.name.endswith("^{}")} - set(local)
    remote.push([f"+{name}:{name}" for name in local] + [f":{name}" for name in remote_only])


def pygit2_fetch(pygit2: Any, dest: Path, url: str) -> None:
    repo = pygit2.Repository(str(dest))
    repo.remotes.create_anonymous(url).fetch(["+refs/*:refs/*"])


# --------------------------------------------------------------------------
# Timing


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


class Bench:
    def __init__(self, work: Path, rounds: int):
        self.work = work
        self.rounds = rounds
        self.serial = itertools.count()
        self.results: dict[str, dict[str, list[float]]] = {}
        self.sizes: dict[str, dict[str, int]] = {}   # what the first round wrote, KiB
        self.notes: list[str] = []
        self.current = ""                            # the job running: "workload: name"

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def fresh(self, under: Path, suffix: str = ".git") -> Path:
        return under / f"r{next(self.serial)}{suffix}"

    def run(self, workload: str, jobs: dict[str, Job]) -> None:
        """The jobs in turn, `rounds` times; one that fails is dropped with a note."""
        times: dict[str, list[float]] = {name: [] for name in jobs}
        sizes = self.sizes.setdefault(workload, {})
        names = list(jobs)
        for r in range(self.rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                if name not in jobs:
                    continue
                self.current = f"{workload}: {name}"
                try:
                    t, written = jobs[name](r == 0)
                    times[name].append(t)
                    if r == 0:
                        sizes[name] = size_kib(written)
                except Exception as exc:
                    self.note(f"{self.current} failed: {exc!r}"[:300])
                    del jobs[name]
                    times.pop(name)
        self.results[workload] = times
        line = ", ".join(f"{name} {fmt_time(statistics.median(ts))}"
                         for name, ts in times.items() if ts)
        print(f"  {workload}: {line}", flush=True)


def optional(name: str, otherwise: str) -> Any:
    """The module, or None after saying what its absence means."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        print(f"note: {name} not importable ({exc}); {otherwise}", file=sys.stderr)
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round instead of 5")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload")
    parser.add_argument("--dir", default=None, help="where the temporary repositories go")
    parser.add_argument("--json", default=None, help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="do not delete the repositories")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 5)

    gitstore = import_gitstore()
    GS = gitstore.GitStore
    vost = optional("vost", "its column is skipped")
    VOST = vost.GitStore if vost else None
    pygit2 = optional("pygit2", "install it into this virtualenv (`pip install pygit2`) "
                                "to add the hand-rolled pygit2 column")

    work = Path(tempfile.mkdtemp(prefix="bench-mirror-", dir=args.dir or default_parent_dir()))
    daemon = None
    bench = Bench(work, rounds)
    load_before = os.getloadavg()
    try:
        src = work / "src.git"
        t0 = time.perf_counter()
        build_store(gitstore, src)
        want = refs_of(src)
        count = git("--git-dir", str(src), "count-objects", "-v")
        stats = dict(line.split(": ") for line in count.splitlines())
        n_commits = int(git("--git-dir", str(src), "rev-list", "--count", BRANCH))
        n_objects = int(stats["count"]) + int(stats["in-pack"])
        print(f"store: {n_commits} commits, {n_objects:,} objects "
              f"({int(stats['size-pack']) + int(stats['size'])} KiB), {len(want)} refs; "
              f"built in {time.perf_counter() - t0:.1f} s; {rounds} round(s)", flush=True)
        served = work / "daemon"
        served.mkdir()
        local = work / "local"
        local.mkdir()
        daemon = Daemon(work)

        def check(dest: Path, first: bool, expect: dict[str, str]) -> None:
            """The refs `expect` must be there; refs beyond them are noted."""
            got = refs_of(dest)
            wrong = {name for name, oid in expect.items() if got.get(name) != oid}
            if wrong:
                raise AssertionError(f"{dest.name}: refs {got} != {expect}")
            if len(got) > len(expect):
                bench.note(f"{bench.current} also wrote {sorted(set(got) - set(expect))}")
            if first:
                fsck(dest)

        # ---------------------------------------------------------- backups
        def backup_jobs(to_daemon: bool, expect: dict[str, str],
                        base: Path | None = None) -> dict[str, Job]:
            """Jobs pushing src to a fresh destination: a copy of `base` if
            given, else a new bare repository (daemon) or nothing (local:
            the contender creates it)."""
            under = served if to_daemon else local

            def prepare() -> tuple[Path, str]:
                dest = bench.fresh(under)
                if base is not None:
                    shutil.copytree(base, dest)
                elif to_daemon:
                    git("init", "--quiet", "--bare", str(dest))
                return dest, daemon.url(dest) if to_daemon else str(dest)

            def job(op: Callable[[Path, str], Any]) -> Job:
                def run(first: bool) -> tuple[float, Path]:
                    dest, url = prepare()
                    t = timed(lambda: op(dest, url))
                    check(dest, first, expect)
                    return t, dest
                return run

            creates = base is None and not to_daemon
            jobs = {"gitstore": job(lambda d, u: GS.open(str(src), create=False).backup(u))}
            if VOST:
                jobs["vost"] = job(lambda d, u: VOST.open(str(src), create=False).backup(u))
            if pygit2:
                jobs["pygit2"] = job(lambda d, u: pygit2_backup(pygit2, src, u,
                                                                d if creates else None))

            def git_push(mirror: bool) -> Callable[[Path, str], None]:
                def op(d: Path, u: str) -> None:
                    if creates:
                        git("init", "--quiet", "--bare", str(d))
                    how = ["--mirror", u] if mirror else [u, f"refs/heads/{BRANCH}"]
                    git("--git-dir", str(src), "push", "--quiet", *how)
                return op

            if base is not None:
                jobs["git push"] = job(git_push(False))
            jobs["git push --mirror"] = job(git_push(True))
            return jobs

        bench.run("backup local", backup_jobs(False, want))
        bench.run("backup daemon", backup_jobs(True, want))

        # --------------------------------------------------------- restores
        def restore_jobs(url: str, expect: dict[str, str]) -> dict[str, Job]:
            def job(make: Callable[[Path], Any],
                    op: Callable[[Path], Any]) -> Job:
                def run(first: bool) -> tuple[float, Path]:
                    dest = bench.fresh(local)
                    make(dest)
                    t = timed(lambda: op(dest))
                    check(dest, first, expect)
                    return t, dest
                return run

            def git_init(d: Path) -> None:
                git("init", "--quiet", "--bare", str(d))

            jobs = {"gitstore": job(lambda d: GS.open(str(d), branch=None),
                                    lambda d: GS.open(str(d), create=False).restore(url))}
            if VOST:
                jobs["vost"] = job(lambda d: VOST.open(str(d), branch=None),
                                   lambda d: VOST.open(str(d), create=False).restore(url))
            if pygit2 and not url.endswith(".bundle"):
                jobs["pygit2"] = job(git_init, lambda d: pygit2_fetch(pygit2, d, url))
            jobs["git fetch"] = job(git_init, lambda d: git("--git-dir", str(d), "fetch",
                                                            "--quiet", url, "+refs/*:refs/*"))
            return jobs

        bench.run("restore local", restore_jobs(str(src), want))
        bench.run("restore daemon", restore_jobs(daemon.url(src), want))

        # ---------------------------------------------------------- bundles
        probe = work / "probe.bundle"
        try:
            GS.open(str(src), create=False).backup(str(probe))
            has_bundles = True
        except gitstore.GitError as exc:
            has_bundles = False
            bench.note(f"bundle workloads skipped: gitstore cannot write bundles ({exc})")
        if has_bundles:
            empty = work / "empty.git"
            git("init", "--quiet", "--bare", str(empty))

            def bundle_job(op: Callable[[Path], Any]) -> Job:
                def run(first: bool) -> tuple[float, Path]:
                    dest = bench.fresh(local, ".bundle")
                    t = timed(lambda: op(dest))
                    got = bundle_refs(dest, empty)
                    if got != want:
                        raise AssertionError(f"{dest.name}: refs {got} != {want}")
                    return t, dest
                return run

            jobs = {"gitstore": bundle_job(
                lambda d: GS.open(str(src), create=False).backup(str(d)))}
            if VOST:
                jobs["vost"] = bundle_job(
                    lambda d: VOST.open(str(src), create=False).backup(str(d)))
            jobs["git bundle create"] = bundle_job(
                lambda d: git("--git-dir", str(src), "bundle", "create", "--quiet", str(d),
                              "--all"))
            bench.run("backup bundle", jobs)
            by_git = work / "all.bundle"
            git("--git-dir", str(src), "bundle", "create", "--quiet", str(by_git), "--all")
            bench.run("restore bundle", restore_jobs(str(by_git), want))

        # ------------------------------------------------------ incremental
        base_local = work / "base-local.git"
        base_daemon = served / "base.git"
        for base in (base_local, base_daemon):
            git("init", "--quiet", "--bare", str(base))
            git("--git-dir", str(src), "push", "--quiet", "--mirror", str(base))
        add_commit(gitstore, src)
        want = refs_of(src)
        bench.run("incremental local", backup_jobs(False, want, base_local))
        bench.run("incremental daemon", backup_jobs(True, want, base_daemon))
    finally:
        if daemon:
            daemon.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # ---------------------------------------------------------------- report
    load_after = os.getloadavg()
    print()
    print(f"{'workload':<19} {'gitstore':>9}  {'other':<18} {'time':>9} {'ratio':>8} "
          f"{'target':>7}")
    report = []
    missed = 0
    for workload, times in bench.results.items():
        if "gitstore" not in times:
            continue
        ours = statistics.median(times["gitstore"])
        for other, ts in times.items():
            if other == "gitstore":
                continue
            theirs = statistics.median(ts)
            ratio = theirs / ours
            target = TARGETS.get((workload, other))
            verdict = "" if target is None else ("ok" if ratio >= target else "MISS")
            missed += verdict == "MISS"
            shown = "-" if target is None else f"{target:.1f}x"
            print(f"{workload:<19} {fmt_time(ours):>9}  {other:<18} {fmt_time(theirs):>9} "
                  f"{fmt_ratio(ratio):>8} {shown:>7} {verdict}")
            report.append({"workload": workload, "other": other, "gitstore": ours,
                           "other_time": theirs, "ratio": ratio, "target": target,
                           "gitstore_runs": times["gitstore"], "other_runs": ts})
    print()
    print("ratio = other time / gitstore time (medians); targets apply to that ratio")
    versions = [f"gitstore {Path(gitstore.__file__).parent} ({describe_extension(gitstore)})",
                f"git {git('--version').split()[-1]}"]
    if vost:
        from importlib.metadata import version
        versions.append(f"vost {version('vost')}")
    if pygit2:
        versions.append(f"pygit2 {pygit2.__version__} (libgit2 {pygit2.LIBGIT2_VERSION})")
    print("versions: " + "; ".join(versions))
    print("written by the first round (KiB; a backup's destination objects or bundle, a "
          "restored store's objects):")
    for workload, sizes in bench.sizes.items():
        if sizes:
            print(f"  {workload}: " + ", ".join(f"{n} {k:,}" for n, k in sizes.items()))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")
    for note in bench.notes:
        print(f"note: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": report, "sizes_kib": bench.sizes,
                                               "notes": bench.notes, "versions": versions},
                                              indent=2))
    return 1 if missed or any("failed" in n for n in bench.notes) else 0


if __name__ == "__main__":
    sys.exit(main())
