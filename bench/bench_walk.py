#!/usr/bin/env python3
"""Walk, glob and threaded-read benchmark: gitstore vs hand-rolled pygit2
vs the git CLI, contenders interleaved in one run.

    python bench/bench_walk.py [--quick] [--rounds N] [--dir DIR] [--json FILE]

- walk(): every file of a 1k, 10k and 100k-file tree (100 files per
  directory), gitstore's FS.walk() against the os.walk-style pygit2 loop of
  bench_read.py; the answers (sorted paths) are compared.  The file names
  of that tree recur in every directory (f00.txt ... f99.py), and a walk
  makes a repeated name's str once; the same trees with every file name
  distinct are measured too.
- glob("**/*.txt") on the 100k tree against `git ls-tree -r --name-only`
  alone and followed by fnmatch (the answers compared).
- Threads: 1, 2 and 4 threads reading small files through one FS (each
  thread its own share of the same total), throughput relative to one
  thread.

See bench/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_glob import build, wide_files  # noqa: E402
from bench_read import (  # noqa: E402
    BRANCH,
    Pygit2Snapshot,
    default_parent_dir,
    fmt_time,
    import_gitstore,
)

SIZES = [1_000, 10_000, 100_000]
PATTERN = "**/*.txt"
WALK_ROUND = 20_000   # files walked in a timed round at least


def distinct_files(total: int) -> dict[str, bytes]:
    """wide_files(total) with every file name different (the number of
    the file instead of its place in the directory)."""
    return {f"{path.rsplit('/', 1)[0]}/f{n:06d}.{path.rsplit('.', 1)[1]}": data
            for n, (path, data) in enumerate(wide_files(total).items())}


def gitstore_walk_paths(fs) -> list[str]:
    return [f"{d}/{e.name}" if d else e.name for d, _, files in fs.walk() for e in files]


def pygit2_walk_paths(snap) -> list[str]:
    return [f"{d}/{n}" if d else n for d, _, files in snap.walk() for n in files]


def walk_count(walk) -> int:
    return sum(len(files) for _, _, files in walk)


def ls_tree(repo: Path) -> list[str]:
    out = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only",
                          "-z", BRANCH], capture_output=True, check=True).stdout
    return out.decode().split("\0")[:-1]


def interleaved(contenders: dict, rounds: int, repeat: int = 1) -> dict[str, float]:
    """Best time of one call of each contender over `rounds` rounds, taking
    turns; a round times `repeat` calls in a row (after gc.collect(), whose
    cold caches and emptied free lists cost the first call tens of µs)."""
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / repeat)
    return best


def read_threads(fs, paths: list[str], nthreads: int) -> float:
    """Seconds for `nthreads` threads to read all of `paths` between them."""
    shares = [paths[i::nthreads] for i in range(nthreads)]
    barrier = threading.Barrier(nthreads + 1)

    def work(share):
        barrier.wait()
        for p in share:
            fs.read(p)

    threads = [threading.Thread(target=work, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--dir", default=None, help="where the repositories go")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--only", choices=["walk", "glob", "threads"], action="append")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    parts = set(args.only or ["walk", "glob", "threads"])

    gitstore = import_gitstore()
    print(f"gitstore: {gitstore.__file__}")
    parent = Path(tempfile.mkdtemp(prefix="gitstore-bench-walk-",
                                   dir=args.dir or default_parent_dir()))
    report: dict = {}
    try:
        repos = {n: build(parent, f"w{n}.git", wide_files(n)) for n in SIZES}
        if "walk" in parts:
            trees = [("names repeat", "walk", repos)]
            trees.append(("names distinct", "walk_distinct",
                          {n: build(parent, f"d{n}.git", distinct_files(n)) for n in SIZES}))
            for title, key, walked in trees:
                print(f"\nwalk() of every file, {title}; best of {rounds} interleaved rounds "
                      f"of {WALK_ROUND:,} files or more (several walks of a small tree)\n")
                print(f"{'files':>8}  {'gitstore':>10}  {'pygit2':>10}  {'pygit2/gitstore':>15}")
                for n, repo in walked.items():
                    fs = gitstore.GitStore.open(str(repo), create=False).branches[BRANCH]
                    snap = Pygit2Snapshot(repo, BRANCH)
                    if sorted(gitstore_walk_paths(fs)) != sorted(pygit2_walk_paths(snap)):
                        print(f"{n:>8}  ANSWERS DIFFER")
                        return 1
                    best = interleaved({"gitstore": lambda: walk_count(fs.walk()),
                                        "pygit2": lambda: walk_count(snap.walk())}, rounds,
                                       max(1, WALK_ROUND // n))
                    ratio = best["pygit2"] / best["gitstore"]
                    print(f"{n:>8,}  {fmt_time(best['gitstore']):>10}  "
                          f"{fmt_time(best['pygit2']):>10}  {ratio:>14.2f}x")
                    report[f"{key}_{n}"] = {**best, "ratio": ratio}
        if "glob" in parts:
            n = SIZES[-1]
            repo = repos[n]
            fs = gitstore.GitStore.open(str(repo), create=False).branches[BRANCH]
            expected = sorted(p for p in ls_tree(repo) if fnmatch.fnmatchcase(p, PATTERN))
            if sorted(fs.glob(PATTERN)) != expected:
                print("glob: ANSWERS DIFFER")
                return 1
            print(f"\nglob({PATTERN!r}), {n:,} files ({len(expected):,} matches); "
                  f"best of {rounds} interleaved rounds\n")
            best = interleaved({
                "gitstore": lambda: fs.glob(PATTERN),
                "ls-tree": lambda: ls_tree(repo),
                "ls-tree+fnmatch": lambda: [p for p in ls_tree(repo)
                                            if fnmatch.fnmatchcase(p, PATTERN)],
            }, rounds)
            for name, t in best.items():
                print(f"{name:>16}  {fmt_time(t):>10}  {t / best['gitstore']:>6.2f}x")
            report["glob"] = best
        if "threads" in parts:
            repo = repos[SIZES[1]]
            store = gitstore.GitStore.open(str(repo), create=False)
            fs = store.branches[BRANCH]
            paths = gitstore_walk_paths(fs) * 4
            print(f"\nreads of small files through one FS, {len(paths):,} reads "
                  f"shared by the threads; best of {rounds} interleaved rounds\n")
            best = {k: float("inf") for k in (1, 2, 4)}
            for _ in range(rounds):
                for k in best:
                    best[k] = min(best[k], read_threads(fs, paths, k))
            for k, t in best.items():
                print(f"{k} thread{'s' if k > 1 else ' '}  {fmt_time(t):>10}  "
                      f"{len(paths) / t:>10,.0f} reads/s  {best[1] / t:>5.2f}x one thread")
            report["threads"] = best
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
