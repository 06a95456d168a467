#!/usr/bin/env python3
"""Notes benchmark: gitstore vs vost on a namespace of 10,000 notes.

The namespace is written once, by gitstore in one batch (flat, as both
implementations write notes), and each implementation gets its own copy
of that repository; only the operations below are timed.  Then,
alternating between the implementations and keeping each one's best
time: one ``ns[h] = text``, ``ns[h]``, ``h in ns``, ``len(ns)``, a full
iteration of the keys and of ``items()``, and a batch of 10,000 new
notes (the ref is put back after each measurement).  vost reads each
value of ``items()`` by a lookup that parses the whole root tree, which
takes minutes at 10,000 notes; its time is measured on the first
--sample items and scaled to the namespace.  Ratios are vost time /
gitstore time.

    python bench/bench_notes.py [--notes N] [--rounds R] [--dir DIR]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import default_parent_dir, fmt_ratio, fmt_time, import_gitstore  # noqa: E402

TARGETS = {"set one": 20.0, "get": 20.0, "contains": 20.0, "len": 10.0,
           "iterate keys": 10.0, "iterate items": 10.0, "batch of N new": 10.0}


def keys(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(160):040x}" for _ in range(n)]


class Contender:
    def __init__(self, name: str, module: Any, repo: Path):
        self.name = name
        self.repo = repo
        self.store = module.GitStore.open(repo)
        self.ns = self.store.notes.commits
        self.base = self.tip()

    def tip(self) -> str:
        return subprocess.run(["git", "--git-dir", str(self.repo), "rev-parse",
                               "refs/notes/commits"], capture_output=True, text=True,
                              check=True).stdout.strip()

    def reset(self) -> None:
        subprocess.run(["git", "--git-dir", str(self.repo), "update-ref",
                        "refs/notes/commits", self.base], check=True)


def best_of(fn: Callable[[], Any], min_time: float = 0.2, rounds: int = 3) -> float:
    """Best per-call time over rounds of enough calls to fill min_time."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4 or calls >= 1 << 20:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(rounds - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=200,
                        help="items() values vost reads before its time is scaled")
    parser.add_argument("--dir", default=default_parent_dir())
    args = parser.parse_args(argv)

    modules = {"gitstore": import_gitstore(), "vost": importlib.import_module("vost")}
    notes = keys(args.notes, 1)
    new = keys(args.notes, 2)
    probe = notes[len(notes) // 2]
    results: dict[str, dict[str, float]] = {}

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-notes-") as tmp:
        seed = Path(tmp) / "seed.git"
        with modules["gitstore"].GitStore.open(seed).notes.commits.batch() as b:
            for h in notes:
                b[h] = f"note on {h[:8]}\n"
        for name in modules:
            shutil.copytree(seed, Path(tmp) / f"{name}.git")
        contenders = [Contender(name, mod, Path(tmp) / f"{name}.git")
                      for name, mod in modules.items()]
        for c in contenders:
            assert len(c.ns) == args.notes, c.name
            assert list(c.ns) == sorted(notes), c.name

        def batch(c: Contender) -> None:
            with c.ns.batch() as b:
                for h in new:
                    b[h] = "new"

        work: dict[str, Callable[[Contender], Any]] = {
            "set one": lambda c: c.ns.__setitem__(probe, "changed"),
            "get": lambda c: c.ns[probe],
            "contains": lambda c: probe in c.ns,
            "len": lambda c: len(c.ns),
            "iterate keys": lambda c: sum(1 for _ in c.ns),
        }
        for label, fn in work.items():
            for c in contenders:
                t = best_of(lambda c=c: fn(c), rounds=args.rounds)
                results.setdefault(label, {})[c.name] = t
                c.reset()
        for c in contenders:
            sample = args.notes if c.name == "gitstore" else min(args.sample, args.notes)
            t = best_of(lambda c=c: sum(1 for _ in itertools.islice(c.ns.items(), sample)),
                        rounds=args.rounds if sample == args.notes else 1)
            results.setdefault("iterate items", {})[c.name] = t * args.notes / sample
        label = "batch of N new"
        for _ in range(args.rounds):
            for c in contenders:
                if results.get(label, {}).get(c.name, 0) > 10:
                    continue   # vost takes minutes a round: one is enough
                start = time.perf_counter()
                batch(c)
                t = time.perf_counter() - start
                assert len(c.ns) == 2 * args.notes, c.name
                c.reset()
                prev = results.setdefault(label, {}).get(c.name)
                results[label][c.name] = t if prev is None else min(prev, t)

    print(f"notes benchmark: namespace of {args.notes:,} notes; N = {args.notes:,}")
    print(f"{'operation':<18}{'gitstore':>12}{'vost':>12}{'vost/gitstore':>16}{'target':>9}")
    failed = 0
    for label, times in results.items():
        ratio = times["vost"] / times["gitstore"]
        target = TARGETS[label]
        failed += ratio < target
        print(f"{label:<18}{fmt_time(times['gitstore']):>12}{fmt_time(times['vost']):>12}"
              f"{fmt_ratio(ratio):>16}{'>= ' + str(int(target)) + 'x':>9}"
              f"{'' if ratio >= target else '  (below target)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
