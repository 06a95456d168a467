#!/usr/bin/env python3
"""Storage benchmark: the size of objects/ after the same history is
written by gitstore and by git, and what packing does to it.

    python bench/bench_storage.py [--files F] [--commits N] [--runs R] [--dir DIR] [--keep]

The history: one commit writes F text files (d<k>/f<j>.txt, 100 a
directory, 20 lines each), then N commits each rewrite one line of one
file.  gitstore writes it through the public API (one fs.write per
commit); git writes the same trees with `git fast-import`.  Sizes of
objects/ (every file under it) are reported:

    ours                  as written
    ours, pack()          after GitStore.pack()
    ours, git gc          after a plain `git gc` on ours as written
    ours, pack()+gc       after GitStore.pack(), then `git gc`
    git's                 as fast-import wrote it
    git's, git gc         after `git gc`
    git's, repack -adf    after `git repack -a -d -f`

Ratios are ours / `git gc` on git's.  Times of GitStore.pack() and of `git
gc` on git's repository are from R runs, interleaved on fresh copies, and
the median is quoted, wall and CPU time (git's threads and children
included: on a busy machine the CPU time is the steadier one).  Answers are checked first: the tip trees of both
histories are the same object, and `git fsck --strict` passes on every
repository measured.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gitstore

BRANCH = "main"
LINES = 20


def history(files: int, commits: int):
    """(message, {path: bytes}) per commit: the first writes every file."""
    paths = [f"d{i // 100}/f{i % 100}.txt" for i in range(files)]
    text = {p: [b"%s line %d: some text that stays the same\n" % (p.encode(), k)
                for k in range(LINES)] for p in paths}
    yield "initial", {p: b"".join(text[p]) for p in paths}
    for c in range(1, commits + 1):
        p = paths[(c * 7919) % files]
        text[p][c % LINES] = b"%s line %d: edited by commit %d\n" % (p.encode(), c % LINES, c)
        yield f"commit {c}", {p: b"".join(text[p])}


def git(*args, cwd=None, input=None) -> str:
    return subprocess.run(["git", *map(str, args)], cwd=cwd, input=input, check=True,
                          capture_output=True).stdout.decode()


def write_ours(repo: Path, files: int, commits: int) -> None:
    store = gitstore.GitStore.open(repo, branch=BRANCH)
    fs = store.branches[BRANCH]
    for message, changes in history(files, commits):
        if len(changes) > 1:
            with fs.batch(message=message) as b:
                for p, data in changes.items():
                    b.write(p, data)
            fs = b.fs
        else:
            (p, data), = changes.items()
            fs = fs.write(p, data, message=message)


def write_git(repo: Path, files: int, commits: int) -> None:
    out = []
    for i, (message, changes) in enumerate(history(files, commits)):
        msg = message.encode() + b"\n"
        out.append(f"commit refs/heads/{BRANCH}\n".encode())
        out.append(b"committer Bench <bench@example.com> %d +0000\n" % (1700000000 + i))
        out.append(b"data %d\n" % len(msg) + msg)
        for p, data in changes.items():
            out.append(f"M 100644 inline {p}\n".encode() + b"data %d\n" % len(data) + data)
        out.append(b"\n")
    git("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", repo)
    git("--git-dir", repo, "fast-import", "--quiet", input=b"".join(out))


def objects_size(repo: Path) -> int:
    return sum(f.stat().st_size for f in (repo / "objects").rglob("*") if f.is_file())


def copy(src: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cpu_timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds (this process's and its children's) of fn()."""
    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    c, t = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t, cpu() - c


def gs_pack(repo: Path) -> None:
    gitstore.GitStore.open(repo, create=False).pack()


def check(repo: Path, tip_tree: str) -> None:
    git("--git-dir", repo, "fsck", "--strict", "--no-progress")
    assert git("--git-dir", repo, "rev-parse", f"{BRANCH}^{{tree}}").strip() == tip_tree, repo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/var/tmp" if os.access("/var/tmp", os.W_OK) else ".")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-storage-", dir=args.dir))
    try:
        ours, theirs = work / "ours.git", work / "git.git"
        t_write_ours = timed(lambda: write_ours(ours, args.files, args.commits))
        t_write_git = timed(lambda: write_git(theirs, args.files, args.commits))
        tip_tree = git("--git-dir", theirs, "rev-parse", f"{BRANCH}^{{tree}}").strip()
        check(ours, tip_tree)

        sizes: dict[str, int] = {"ours": objects_size(ours), "git's": objects_size(theirs)}
        times: dict[str, list[tuple[float, float]]] = {
            "pack()": [], "git gc (git's)": [], "git gc (ours)": [], "repack -adf (git's)": []}
        for run in range(args.runs):
            r = copy(ours, work / "ours-pack.git")
            times["pack()"].append(cpu_timed(lambda: gs_pack(r)))
            sizes["ours, pack()"] = objects_size(r)
            if run == 0:
                check(r, tip_tree)
                timed(lambda: git("--git-dir", r, "gc", "--quiet"))
                check(r, tip_tree)
                sizes["ours, pack()+gc"] = objects_size(r)
            r = copy(theirs, work / "git-gc.git")
            times["git gc (git's)"].append(cpu_timed(lambda: git("--git-dir", r, "gc", "--quiet")))
            sizes["git's, git gc"] = objects_size(r)
            r = copy(ours, work / "ours-gc.git")
            times["git gc (ours)"].append(cpu_timed(lambda: git("--git-dir", r, "gc", "--quiet")))
            sizes["ours, git gc"] = objects_size(r)
            if run == 0:
                check(r, tip_tree)
            r = copy(theirs, work / "git-repack.git")
            times["repack -adf (git's)"].append(
                cpu_timed(lambda: git("--git-dir", r, "repack", "-a", "-d", "-f", "--quiet")))
            sizes["git's, repack -adf"] = objects_size(r)

        print(f"{args.files} files, {args.commits} commits of one changed line each; "
              f"written in {t_write_ours:.2f} s (gitstore), {t_write_git:.2f} s (fast-import)")
        gc = sizes["git's, git gc"]
        order = ["ours", "ours, pack()", "ours, git gc", "ours, pack()+gc", "git's",
                 "git's, git gc", "git's, repack -adf"]
        print(f"{'objects/ after':<22}{'bytes':>12}{'ours / git gc':>16}")
        for name in order:
            ratio = f"{sizes[name] / gc:.2f}x" if name.startswith("ours") else ""
            print(f"{name:<22}{sizes[name]:>12,}{ratio:>16}")
        wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
        ref = "git gc (git's)"
        print(f"times (median of {args.runs}, interleaved; ratios to {ref}):")
        for k in times:
            print(f"  {k:<22}{wall[k] * 1000:9.0f} ms wall {wall[k] / wall[ref]:6.2f}x"
                  f"{cpu[k] * 1000:9.0f} ms CPU {cpu[k] / cpu[ref]:6.2f}x")
    finally:
        if args.keep:
            print("kept:", work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
