#!/usr/bin/env python3
"""Threaded small-file reads: gitstore vs hand-rolled pygit2.

Builds one bare repository, then reads its files from 1, 2 and 4 threads
at once: through ONE gitstore FS shared by every thread, and through
hand-rolled pygit2 with one Repository per thread.  The same total number
of reads is split between the threads; a configuration's throughput ratio
is the one-thread time over the n-thread time, both from the same round
(the contenders and thread counts are interleaved within each round, so
a burst of load from elsewhere hits them alike).

    python bench/bench_threads.py [--rounds N] [--writer gitstore|git]
                                  [--repo PATH] [--dir DIR] [--keep] [--json FILE]

Two file sets: "small" (100 B to 4 KiB, text) and "64k" (64 KiB, text).
By default the repository is written by gitstore itself (one batch
commit, so the files sit in the store's own pack); ``--writer git``
builds it with ``git fast-import`` instead.  Before timing, every file
is read once by each contender from four threads and compared with
``git cat-file --batch``.

The package is the one on PYTHONPATH, else this checkout's.
Targets: two threads >= 1.7x one thread; four threads >= 1x.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(PROJECT_ROOT))      # after PYTHONPATH and site-packages

BRANCH = "main"
THREADS = (1, 2, 4)
QUIET = 0.25   # cores the rest of the machine may use in a "quiet" run
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua").split()


def text(rng: random.Random, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        out += (" ".join(rng.choices(WORDS, k=12)) + f" {rng.random()}\n").encode()
    return bytes(out[:size])


def generate(seed: int = 7) -> dict[str, dict[str, bytes]]:
    rng = random.Random(seed)
    small = {f"small/d{i % 20:02d}/f{i:04d}.txt": text(rng, rng.randint(100, 4096))
             for i in range(2000)}
    big = {f"big/d{i % 4}/f{i:03d}.txt": text(rng, 65536) for i in range(200)}
    return {"small": small, "64k": big}


def build_with_git(repo: Path, files: dict[str, bytes]) -> None:
    subprocess.run(["git", "init", "-q", "--bare", f"--initial-branch={BRANCH}",
                    str(repo)], check=True)
    out = [f"commit refs/heads/{BRANCH}\n".encode(),
           b"committer Bench <bench@example.com> 1700000000 +0000\n", b"data 4\nset\n"]
    for path, data in sorted(files.items()):
        out += [f"M 100644 inline {path}\n".encode(), b"data %d\n" % len(data), data, b"\n"]
    subprocess.run(["git", "--git-dir", str(repo), "fast-import", "--quiet"],
                   input=b"".join(out), check=True)


def build_with_gitstore(gitstore, repo: Path, files: dict[str, bytes]) -> None:
    store = gitstore.GitStore.open(str(repo), branch=BRANCH)
    with store.branches[BRANCH].batch() as batch:
        for path, data in files.items():
            batch.write(path, data)


def git_contents(repo: Path, paths: list[str]) -> dict[str, bytes]:
    """What git itself reads at every path."""
    query = "".join(f"{BRANCH}:{p}\n" for p in paths).encode()
    out = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "--batch"],
                         input=query, capture_output=True, check=True).stdout
    result, at = {}, 0
    for p in paths:
        nl = out.index(b"\n", at)
        size = int(out[at:nl].split()[2])
        result[p] = out[nl + 1:nl + 1 + size]
        at = nl + 1 + size + 1
    return result


# --------------------------------------------------------------------------
# Contenders: make_reader(thread_index) -> a function reading one path


class GitstoreContender:
    name = "gitstore"

    def __init__(self, gitstore, repo: Path):
        self.store = gitstore.GitStore.open(str(repo), create=False)
        self.fs = self.store.branches[BRANCH]     # ONE FS for every thread

    def make_reader(self, index: int):
        return self.fs.read


class Pygit2Contender:
    name = "pygit2"

    def __init__(self, repo: Path):
        import pygit2
        self.pygit2 = pygit2
        self.repo_path = str(repo)
        self.readers: dict[int, object] = {}

    def make_reader(self, index: int):
        # One Repository per thread: a libgit2 handle is single-threaded.
        if index not in self.readers:
            repo = self.pygit2.Repository(self.repo_path)
            tree = repo.references[f"refs/heads/{BRANCH}"].peel(self.pygit2.Commit).tree

            def read(path: str, tree=tree) -> bytes:
                return tree[path].data
            self.readers[index] = read
        return self.readers[index]


# --------------------------------------------------------------------------
# Running


def machine_busy() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def run_threads(contender, paths: list[str], nthreads: int, keep: bool = False):
    """Read `paths`, split into nthreads slices read at once.

    Returns (seconds, answers, load): load is (cores this process got,
    cores the rest of the machine kept busy) meanwhile."""
    slices = [paths[i::nthreads] for i in range(nthreads)]
    readers = [contender.make_reader(i) for i in range(nthreads)]
    barrier = threading.Barrier(nthreads + 1)
    answers: list[dict[str, bytes]] = [{} for _ in range(nthreads)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        read, mine, got = readers[i], slices[i], answers[i]
        barrier.wait()
        try:
            if keep:
                for p in mine:
                    got[p] = read(p)
            else:
                for p in mine:
                    read(p)
        except BaseException as exc:   # reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    busy0, total0 = machine_busy()
    cpu0 = time.process_time()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    busy1, total1 = machine_busy()
    cores = os.cpu_count() or 1
    others = max(0.0, (busy1 - busy0) / max(1, total1 - total0) * cores - cpu / elapsed)
    if errors:
        raise errors[0]
    merged: dict[str, bytes] = {}
    for got in answers:
        merged.update(got)
    return elapsed, merged, (cpu / elapsed, others)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--writer", choices=("gitstore", "git"), default="gitstore")
    parser.add_argument("--reads", type=int, default=0,
                        help="reads per measurement (default: about 0.25 s of one thread)")
    parser.add_argument("--repo", help="read this repository, made by an earlier --keep run "
                        "(same --writer), instead of building one")
    parser.add_argument("--dir", default="/var/tmp")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()

    import gitstore
    sets = generate()
    everything = {p: d for files in sets.values() for p, d in files.items()}
    parent = Path(tempfile.mkdtemp(prefix="bench-threads-", dir=args.dir))
    repo = Path(args.repo) if args.repo else parent / "bench.git"
    try:
        if args.repo:
            pass
        elif args.writer == "git":
            build_with_git(repo, everything)
        else:
            build_with_gitstore(gitstore, repo, everything)
        expected = git_contents(repo, sorted(everything))
        wrong = [p for p, d in everything.items() if expected[p] != d]
        if wrong:
            print(f"git reads {len(wrong)} files differently from what was written")
            return 1

        contenders = [GitstoreContender(gitstore, repo), Pygit2Contender(repo)]
        print(f"gitstore {gitstore.__file__}")
        print(f"writer {args.writer}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")

        # Answers first: every file, four threads, against git's.
        failures = 0
        for c in contenders:
            for kind, files in sets.items():
                _, got, _ = run_threads(c, sorted(files), 4, keep=True)
                bad = [p for p in files if got.get(p) != expected[p]]
                if bad:
                    failures += 1
                    print(f"WRONG: {c.name} {kind}: {len(bad)} files differ from git's, "
                          f"e.g. {bad[0]}")
        if failures:
            return 1
        print("answers: every file read by every contender equals git's")

        # Workloads: each set's paths shuffled, repeated to a fixed count
        # (calibrated on gitstore's single thread).
        rng = random.Random(1)
        workloads = {}
        for kind, files in sets.items():
            paths = sorted(files)
            rng.shuffle(paths)
            n = args.reads
            if not n:
                t, _, _ = run_threads(contenders[0], paths, 1)
                n = max(len(paths), int(len(paths) * 0.25 / t))
            workloads[kind] = (paths * (n // len(paths) + 1))[:n]

        # times[(contender, kind, threads)] = [seconds per round]
        times: dict[tuple[str, str, int], list[float]] = {}
        busy: dict[tuple[str, str, int], list[float]] = {}
        share: dict[tuple[str, str, int], list[float]] = {}
        for rnd in range(args.rounds):
            for kind, paths in workloads.items():
                for c in (contenders if rnd % 2 == 0 else contenders[::-1]):
                    order = THREADS if rnd % 2 == 0 else THREADS[::-1]
                    for n in order:
                        t, _, (got, others) = run_threads(c, paths, n)
                        times.setdefault((c.name, kind, n), []).append(t)
                        busy.setdefault((c.name, kind, n), []).append(others)
                        share.setdefault((c.name, kind, n), []).append(got)

        print(f"\n{args.rounds} rounds; ratio = 1-thread time / n-thread time "
              "(same round), median [min-max]; target 2 threads >= 1.7, 4 threads >= 1.0")
        every = [v for runs in busy.values() for v in runs]
        print(f"the rest of the machine kept {statistics.median(every):.2f} of "
              f"{os.cpu_count()} cores busy (median over runs; max {max(every):.2f}); "
              f"'quiet' = rounds where it kept < {QUIET} in both runs compared")
        print(f"{'set':5} {'contender':9} {'reads':>6} {'1-thread us/read':>17} "
              f"{'2 threads (quiet/rounds)':>30} {'4 threads (quiet/rounds)':>30}")
        report = {"writer": args.writer, "rounds": args.rounds, "results": []}
        for kind, paths in workloads.items():
            for c in contenders:
                one = times[(c.name, kind, 1)]
                cells = []
                entry = {"set": kind, "contender": c.name, "reads": len(paths),
                         "cores": {n: share[(c.name, kind, n)] for n in THREADS},
                         "us_per_read_1": statistics.median(one) / len(paths) * 1e6}
                for n in THREADS[1:]:
                    ratios = [a / b for a, b in zip(one, times[(c.name, kind, n)])]
                    quiet = [r for r, x, y in zip(ratios, busy[(c.name, kind, 1)],
                                                  busy[(c.name, kind, n)])
                             if x < QUIET and y < QUIET]
                    med = statistics.median(ratios)
                    entry[f"ratio_{n}"] = ratios
                    entry[f"quiet_ratio_{n}"] = quiet
                    q = f"{statistics.median(quiet):.2f}/{len(quiet)}" if quiet else "-"
                    cells.append(f"{med:5.2f} [{min(ratios):.2f}-{max(ratios):.2f}] {q}")
                report["results"].append(entry)
                print(f"{kind:5} {c.name:9} {len(paths):6d} {entry['us_per_read_1']:17.2f} "
                      f"{cells[0]:>30} {cells[1]:>30}")
            print(f"{kind:5} cores the readers got (median): " + ", ".join(
                f"{c.name} " + "/".join(f"{statistics.median(share[(c.name, kind, n)]):.2f}"
                                        for n in THREADS) for c in contenders)
                  + " (1/2/4 threads)")
            # Reads per core-second against one thread's: near 1 when the
            # extra threads turn whatever cores they get into reads (it
            # cannot show time spent waiting for the GIL, which gets no
            # core either; the most cores a run got can).
            for c in contenders:
                per_core = {n: statistics.median(
                    r * s1 / sn for r, s1, sn in zip(
                        [a / b for a, b in zip(times[(c.name, kind, 1)],
                                               times[(c.name, kind, n)])],
                        share[(c.name, kind, 1)], share[(c.name, kind, n)]))
                    for n in THREADS[1:]}
                most = max(v for n in THREADS[1:] for v in share[(c.name, kind, n)])
                print(f"{kind:5} {c.name:9} reads per core-second vs one thread: "
                      + ", ".join(f"{n} threads {v:.2f}" for n, v in per_core.items())
                      + f"; most cores one run got {most:.2f}")
            g1 = statistics.median(times[("gitstore", kind, 1)])
            p1 = statistics.median(times[("pygit2", kind, 1)])
            g2 = statistics.median(times[("gitstore", kind, 2)])
            p2 = statistics.median(times[("pygit2", kind, 2)])
            print(f"{kind:5} pygit2/gitstore time: 1 thread {p1 / g1:.2f}, 2 threads {p2 / g2:.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1))
    finally:
        if args.keep:
            print(f"kept {parent}")
        else:
            shutil.rmtree(parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
