#!/usr/bin/env python3
"""Write-latency tails: 1,000 sequential commits into a 100k-file
repository, gitstore against hand-rolled pygit2, interleaved in blocks.

    python bench/bench_tails.py [--commits N] [--files N] [--block N]
                                [--runs N] [--dir DIR] [--explain] [--json FILE]

One repository of --files files (100 per directory, three levels, one
pack, written by `git fast-import`) is copied once per contender, so both
start from the same shape.  Each commit writes one small new file
(a different directory each time).  The contenders take turns, --block
commits at a time, so load from the rest of the machine falls on both.
gitstore commits through FS.write; pygit2 writes the blob, rebuilds the
trees along the path with TreeBuilder, creates the commit and moves the
branch (loose objects, no fsync).

Printed per contender: median, p90, p99 and maximum commit latency (and
the same in process CPU time, which preemption on a loaded machine does
not stretch, though the clock's granularity coarsens it); then
gitstore's p99/median (target <= 3) and pygit2's max / gitstore's max
(target >= 1).  The final trees of the two repositories are compared,
and both must pass `git fsck --strict`.  --explain also lists, for
gitstore's slowest commits, what the pack directory did (packs before and
after, bytes written), looked at outside the timed region.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_glob import build, wide_files  # noqa: E402
from bench_read import BRANCH, default_parent_dir, import_gitstore  # noqa: E402


def commit_path(i: int, ndirs: int) -> str:
    d = (i * 7919) % ndirs          # a different directory each time
    return f"d{d // 100 % 100:02d}/s{d // 10 % 10:02d}/l{d % 10:02d}/new{i:05d}.txt"


def content(i: int) -> bytes:
    return (b"commit %d\n" % i) * 8


class GitstoreWriter:
    name = "gitstore"

    def __init__(self, module, repo: Path):
        self.store = module.GitStore.open(str(repo), create=False)
        self.fs = self.store.branches[BRANCH]

    def commit(self, path: str, data: bytes) -> None:
        self.fs = self.fs.write(path, data)

    def tree(self) -> str:
        return self.fs.tree_hash


class Pygit2Writer:
    name = "pygit2"

    def __init__(self, repo: Path):
        import pygit2

        self.pg = pygit2
        self.repo = pygit2.Repository(str(repo))
        self.ref = f"refs/heads/{BRANCH}"
        self.tip = self.repo.references[self.ref].target

    def _insert(self, tree, parts: list[str], blob_id):
        pg = self.pg
        builder = self.repo.TreeBuilder(tree) if tree is not None else self.repo.TreeBuilder()
        name = parts[0]
        if len(parts) == 1:
            builder.insert(name, blob_id, pg.GIT_FILEMODE_BLOB)
        else:
            sub = None
            if tree is not None and name in tree:
                entry = tree[name]
                if entry.filemode == pg.GIT_FILEMODE_TREE:
                    sub = self.repo[entry.id]
            builder.insert(name, self._insert(sub, parts[1:], blob_id), pg.GIT_FILEMODE_TREE)
        return builder.write()

    def commit(self, path: str, data: bytes) -> None:
        repo = self.repo
        blob = repo.create_blob(data)
        tree = self._insert(repo[self.tip].tree, path.split("/"), blob)
        sig = self.pg.Signature("bench", "bench@localhost")
        commit = repo.create_commit(None, sig, sig, f"+ {path}\n", tree, [self.tip])
        repo.references[self.ref].set_target(commit, f"commit: + {path}")
        self.tip = commit

    def tree(self) -> str:
        return str(self.repo[self.tip].tree_id)


def pack_state(repo: Path) -> dict[str, int]:
    packs = {}
    pack_dir = repo / "objects" / "pack"
    for name in os.listdir(pack_dir):
        if name.endswith(".pack"):
            try:
                packs[name] = (pack_dir / name).stat().st_size
            except FileNotFoundError:
                pass
    return packs


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summary(times: list[float]) -> dict[str, float]:
    s = sorted(times)
    return {"median": statistics.median(s), "p90": percentile(s, 0.90),
            "p99": percentile(s, 0.99), "max": s[-1]}


def fsck(repo: Path) -> str | None:
    proc = subprocess.run(["git", "--git-dir", str(repo), "fsck", "--strict", "--no-progress"],
                          capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stdout + proc.stderr)[-2000:]


def one_run(base: Path, parent: Path, run: int, args, gitstore) -> dict:
    ndirs = args.files // 100
    repos = {}
    for name in ("gitstore", "pygit2"):
        repos[name] = parent / f"run{run}-{name}.git"
        shutil.copytree(base, repos[name])
    writers = {"gitstore": GitstoreWriter(gitstore, repos["gitstore"]),
               "pygit2": Pygit2Writer(repos["pygit2"])}
    times: dict[str, list[float]] = {name: [] for name in writers}
    cpu: dict[str, list[float]] = {name: [] for name in writers}
    events: list[tuple[float, int, str]] = []
    order = list(writers)
    for start in range(0, args.commits, args.block):
        stop = min(args.commits, start + args.block)
        for name in order:
            w = writers[name]
            gc.collect()
            gc.disable()
            try:
                for i in range(start, stop):
                    path, data = commit_path(i, ndirs), content(i)
                    before = pack_state(repos[name]) if args.explain and name == "gitstore" else None
                    c0, t0 = time.process_time(), time.perf_counter()
                    w.commit(path, data)
                    dt = time.perf_counter() - t0
                    cpu[name].append(time.process_time() - c0)
                    times[name].append(dt)
                    if before is not None:
                        after = pack_state(repos[name])
                        gone = sum(v for k, v in before.items() if k not in after)
                        new = sum(v for k, v in after.items() if k not in before)
                        events.append((dt, i, f"packs {len(before)}->{len(after)}, "
                                              f"removed {gone} B, written {new} B"))
            finally:
                gc.enable()
        order.reverse()     # neither always goes first
    trees = {name: w.tree() for name, w in writers.items()}
    result = {name: summary(t) for name, t in times.items()}
    result["cpu"] = {name: summary(t) for name, t in cpu.items()}
    result["trees_equal"] = len(set(trees.values())) == 1
    result["fsck"] = {name: fsck(repo) for name, repo in repos.items()}
    result["packs_left"] = len(pack_state(repos["gitstore"]))
    if args.explain:
        result["slowest"] = sorted(events, reverse=True)[:args.explain_top]
    for repo in repos.values():
        shutil.rmtree(repo, ignore_errors=True)
    return result


def ms(x: float) -> str:
    return f"{x * 1e3:7.2f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--dir", default=None, help="where the repositories go")
    ap.add_argument("--explain", action="store_true",
                    help="show what the pack directory did in the slowest commits")
    ap.add_argument("--explain-top", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    gitstore = import_gitstore()
    print(f"gitstore: {gitstore.__file__}")
    parent = Path(tempfile.mkdtemp(prefix="gitstore-bench-tails-",
                                   dir=args.dir or default_parent_dir()))
    report = []
    ok = True
    try:
        base = build(parent, "base.git", wide_files(args.files))
        print(f"{args.commits} commits into a {args.files}-file repository, "
              f"blocks of {args.block}, {args.runs} run(s)\n")
        print(f"{'run':>3}  {'contender':<9} {'median':>10} {'p90':>10} {'p99':>10} "
              f"{'max':>10}  {'p99/median':>10}")
        for run in range(args.runs):
            r = one_run(base, parent, run, args, gitstore)
            report.append(r)
            for name in ("gitstore", "pygit2"):
                for label, s in ((name, r[name]), (f"  cpu", r["cpu"][name])):
                    print(f"{run:>3}  {label:<9} {ms(s['median'])} {ms(s['p90'])} "
                          f"{ms(s['p99'])} {ms(s['max'])}  {s['p99'] / s['median']:10.2f}")
            g, p = r["gitstore"], r["pygit2"]
            tail, peak = g["p99"] / g["median"], p["max"] / g["max"]
            print(f"     gitstore p99/median {tail:.2f} (target <= 3: "
                  f"{'PASS' if tail <= 3 else 'FAIL'}), pygit2 max / gitstore max "
                  f"{peak:.2f} (target >= 1: {'PASS' if peak >= 1 else 'FAIL'}), "
                  f"median pygit2/gitstore {p['median'] / g['median']:.2f}, "
                  f"packs left {r['packs_left']}")
            gc_, pc_ = r["cpu"]["gitstore"], r["cpu"]["pygit2"]
            print(f"     CPU time only (what the machine's load cannot stretch): gitstore "
                  f"p99/median {gc_['p99'] / gc_['median']:.2f}, pygit2 max / gitstore max "
                  f"{pc_['max'] / gc_['max']:.2f}")
            if not r["trees_equal"]:
                ok = False
                print("     MISMATCH: the final trees differ")
            for name, complaint in r["fsck"].items():
                if complaint:
                    ok = False
                    print(f"     git fsck --strict failed on {name}: {complaint}")
            for dt, i, what in r.get("slowest", []):
                print(f"       commit {i:5d}: {dt * 1e3:6.2f} ms  {what}")
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
