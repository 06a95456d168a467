#!/usr/bin/env python3
"""Soak benchmark: a long-lived store alternating writes and reads.

A service keeps one store open and, cycle after cycle, commits a small
file and reads it back.  Whatever it has done, it must hold a bounded
number of descriptors and mappings, and its memory must level off.
Each contender runs in a subprocess of its own (so RSS is its own) and
prints, at checkpoints: open descriptors, mappings of pack and index
files (those of deleted files separately), RSS and the time per cycle.

    python bench/bench_soak.py [--cycles N] [--peer-cycles N] [--dir DIR]

gitstore runs --cycles cycles (default 100,000); vost and hand-rolled
pygit2 run --peer-cycles (default 3,000; 0 skips them), enough to show
their per-cycle time and whether they grow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time

kind, path, cycles, checkpoints = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def usage():
    fds = deleted = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        fds += 1
        deleted += target.endswith("(deleted)")
    maps = maps_deleted = 0
    with open("/proc/self/maps") as f:
        for line in f:
            if ".pack" in line or ".idx" in line:
                maps += 1
                maps_deleted += line.rstrip().endswith("(deleted)")
    with open("/proc/self/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return {"fds": fds, "fds_deleted": deleted, "maps": maps,
            "maps_deleted": maps_deleted, "rss_kib": rss}

if kind in ("gitstore", "vost"):
    mod = __import__(kind)
    store = mod.GitStore.open(path, branch="main")
    state = {"fs": store.branches["main"]}
    def cycle(i):
        fs = state["fs"].write("f.txt", b"%d" % i)
        assert fs.read("f.txt") == b"%d" % i
        state["fs"] = fs
else:
    import pygit2
    repo = pygit2.init_repository(path, bare=True)
    sig = pygit2.Signature("soak", "soak@localhost")
    parents = []
    def cycle(i):
        blob = repo.create_blob(b"%d" % i)
        tb = repo.TreeBuilder()
        tb.insert("f.txt", blob, pygit2.GIT_FILEMODE_BLOB)
        c = repo.create_commit("refs/heads/main", sig, sig, "w", tb.write(), parents)
        parents[:] = [c]
        assert repo[repo[c].tree["f.txt"].id].data == b"%d" % i

every = max(1, cycles // checkpoints)
out = [{"cycle": 0, "seconds": 0.0, **usage()}]
start = time.perf_counter()
for i in range(1, cycles + 1):
    cycle(i)
    if i % every == 0 or i == cycles:
        out.append({"cycle": i, "seconds": time.perf_counter() - start, **usage()})
print(json.dumps(out))
"""


def run(kind: str, parent: Path, cycles: int, checkpoints: int) -> list[dict]:
    path = parent / f"{kind}.git"
    shutil.rmtree(path, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path), str(cycles), str(checkpoints)],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-2000:]}")
    rows = json.loads(proc.stdout)
    fsck = subprocess.run(["git", "-C", str(path), "fsck", "--strict"],
                          capture_output=True, text=True)
    rows[-1]["fsck"] = "clean" if fsck.returncode == 0 and not fsck.stdout.strip() else "ERRORS"
    shutil.rmtree(path, ignore_errors=True)
    return rows


def show(kind: str, rows: list[dict]) -> None:
    print(f"\n{kind}")
    print(f"{'cycle':>8} {'fds':>5} {'(del)':>6} {'maps':>5} {'(del)':>6} {'RSS MiB':>8} {'us/cycle':>9}")
    last_c, last_t = 0, 0.0
    for r in rows:
        span = r["cycle"] - last_c
        per = (r["seconds"] - last_t) / span * 1e6 if span else 0.0
        print(f"{r['cycle']:>8} {r['fds']:>5} {r['fds_deleted']:>6} {r['maps']:>5} "
              f"{r['maps_deleted']:>6} {r['rss_kib'] / 1024:>8.1f} {per:>9.0f}")
        last_c, last_t = r["cycle"], r["seconds"]
    if "fsck" in rows[-1]:
        print(f"git fsck --strict: {rows[-1]['fsck']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=100_000)
    ap.add_argument("--peer-cycles", type=int, default=3_000)
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--dir", type=Path, default=None,
                    help="where the repositories go (default: a temporary directory)")
    args = ap.parse_args()

    parent = Path(tempfile.mkdtemp(prefix="gitstore-soak-", dir=args.dir))
    try:
        results = {"gitstore": run("gitstore", parent, args.cycles, args.checkpoints)}
        show("gitstore", results["gitstore"])
        if args.peer_cycles:
            for kind in ("vost", "pygit2"):
                try:
                    __import__(kind)
                except ImportError:
                    print(f"\n{kind}: not installed, skipped")
                    continue
                results[kind] = run(kind, parent, args.peer_cycles, args.checkpoints)
                show(kind, results[kind])
        g = results["gitstore"]
        first, last = g[0], g[-1]
        per_cycle = last["seconds"] / last["cycle"]
        print(f"\ngitstore over {last['cycle']:,} cycles: fds {first['fds']} -> {last['fds']} "
              f"(max {max(r['fds'] for r in g)}), pack/idx mappings {first['maps']} -> "
              f"{last['maps']} (max {max(r['maps'] for r in g)}), RSS "
              f"{first['rss_kib'] / 1024:.1f} -> {last['rss_kib'] / 1024:.1f} MiB")
        for kind, rows in results.items():
            if kind == "gitstore":
                continue
            peer = rows[-1]["seconds"] / rows[-1]["cycle"]
            print(f"time per cycle, {kind} / gitstore: {peer / per_cycle:.1f}x "
                  f"({peer * 1e6:.0f} us vs {per_cycle * 1e6:.0f} us)")
        bounded = max(r["fds"] for r in g) <= 64 and last["fds_deleted"] == 0 \
            and last["maps_deleted"] == 0
        print("bounded descriptors and mappings:", "PASS" if bounded else "FAIL")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
