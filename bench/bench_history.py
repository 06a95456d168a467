#!/usr/bin/env python3
"""History benchmark: log(path=...) over a long first-parent chain and
back(n) + a read through it, gitstore vs hand-rolled pygit2 vs the git CLI.

    python bench/bench_history.py [--quick] [--commits N] [--commit-graph | --pack]
                                  [--dir DIR] [--keep]

The repository is written by `git fast-import` (one pack, no commit-graph)
and, with --commit-graph, given one by `git commit-graph write`; with
--pack, by GitStore.pack() (the graph every contender then reads). Commit i
rewrites file i % 1000 of d?/s?/f?.txt; every 25th commit also rewrites
the followed path, so log(path=) yields commits/25 snapshots.  "Fresh"
numbers run each contender in a new process and time the operation only
(opening the repository included, interpreter start-up not); git's are
the wall time of the command.  "Warm" numbers repeat the operation in
that process after one untimed run.  Contenders are interleaved; the median of
the runs is reported.  Answers are compared before timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BRANCH = "main"
PATH = "d3/s4/f5.txt"
FILES = [f"d{i // 100}/s{i // 10 % 10}/f{i % 10}.txt" for i in range(1000)]


def stream(commits: int) -> bytes:
    out = []
    for i in range(commits):
        msg = b"commit %d\n" % i
        out.append(f"commit refs/heads/{BRANCH}\n".encode())
        out.append(b"committer Bench <bench@example.com> %d +0000\n" % (1700000000 + i))
        out.append(b"data %d\n" % len(msg) + msg)
        if i == 0:
            for p in FILES:
                out.append(f"M 100644 inline {p}\n".encode() + b"data 2\nx\n")
        else:
            paths = {FILES[i % 1000]}
            if i % 25 == 0:
                paths.add(PATH)
            for p in sorted(paths):
                data = b"%d %s\n" % (i, p.encode())
                out.append(f"M 100644 inline {p}\n".encode() + b"data %d\n" % len(data) + data)
        out.append(b"\n")
    return b"".join(out)


def build(parent: Path, commits: int, graph: bool, pack: bool, env: dict) -> Path:
    repo = parent / "history.git"
    subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={BRANCH}",
                    str(repo)], check=True)
    subprocess.run(["git", "--git-dir", str(repo), "fast-import", "--quiet"],
                   input=stream(commits), check=True)
    if graph:
        subprocess.run(["git", "--git-dir", str(repo), "commit-graph", "write", "--reachable"],
                       check=True, capture_output=True)
    if pack:
        subprocess.run([sys.executable, "-P", "-c", "import gitstore, sys; "
                        "gitstore.GitStore.open(sys.argv[1], create=False).pack()", str(repo)],
                       env=env, check=True)
        subprocess.run(["git", "--git-dir", str(repo), "commit-graph", "verify"], check=True)
    return repo


# Each snippet prints "<seconds> <answer>"; {repo}, {path}, {n}, {warm} are filled in.
SNIPPETS = {
    ("log", "gitstore"): """
        import time, gitstore
        t = time.perf_counter()
        fs = gitstore.GitStore.open({repo!r}, create=False).branches["main"]
        ids = [s.commit_hash for s in fs.log(path={path!r})]
        print(time.perf_counter() - t, len(ids), ids[0], ids[-1])
    """,
    ("log", "pygit2"): """
        import time, pygit2
        t = time.perf_counter()
        repo = pygit2.Repository({repo!r})
        c = repo.revparse_single("main")
        def entry(tree):
            try:
                e = tree[{path!r}]
                return (e.id, e.filemode)
            except KeyError:
                return None
        ids = []
        mine = entry(c.tree)
        while True:
            parent = c.parents[0] if c.parent_ids else None
            theirs = entry(parent.tree) if parent is not None else None
            if mine != theirs:
                ids.append(str(c.id))
            if parent is None:
                break
            c, mine = parent, theirs
        print(time.perf_counter() - t, len(ids), ids[0], ids[-1])
    """,
    ("back", "gitstore"): """
        import time, gitstore
        t = time.perf_counter()
        fs = gitstore.GitStore.open({repo!r}, create=False).branches["main"]
        for i in range({warm} + 1):
            if i == 1:
                t = time.perf_counter()
            old = fs.back({n})
            data = old.read({path!r})
        print(time.perf_counter() - t, old.commit_hash, data.hex())
    """,
    ("back", "pygit2"): """
        import time, pygit2
        t = time.perf_counter()
        repo = pygit2.Repository({repo!r})
        for i in range({warm} + 1):
            if i == 1:
                t = time.perf_counter()
            old = repo.revparse_single("main~{n}")
            data = repo[old.tree[{path!r}].id].data
        print(time.perf_counter() - t, old.id, data.hex())
    """,
}


def run_py(kind: str, who: str, env: dict, **fill) -> tuple[float, str]:
    code = textwrap.dedent(SNIPPETS[kind, who]).format(**fill)
    # -P: the package on PYTHONPATH, not one in the current directory.
    out = subprocess.run([sys.executable, "-P", "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.split(None, 1)
    return float(out[0]), out[1].strip()


def run_git(args: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True).stdout
    return time.perf_counter() - t, out


def bench_log(repo: Path, runs: int, env: dict) -> dict[str, float]:
    git_args = ["git", "--git-dir", str(repo), "log", "--first-parent", "--format=%H",
                BRANCH, "--", PATH]
    _, out = run_git(git_args)
    lines = out.decode().split()
    want = f"{len(lines)} {lines[0]} {lines[-1]}"
    times: dict[str, list[float]] = {"gitstore": [], "pygit2": [], "git": []}
    for _ in range(runs):
        for who in ("gitstore", "pygit2"):
            t, got = run_py("log", who, env, repo=str(repo), path=PATH)
            assert got == want, (who, got, want)
            times[who].append(t)
        t, out = run_git(git_args)
        assert out.decode().split() == lines
        times["git"].append(t)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_back(repo: Path, n: int, runs: int, warm: int, env: dict) -> dict[str, float]:
    """warm 0: one call in a fresh process; else warm calls after one."""
    git_args = ["git", "--git-dir", str(repo), "rev-parse", f"{BRANCH}~{n}"]
    cat_args = ["git", "--git-dir", str(repo), "cat-file", "blob", f"{BRANCH}~{n}:{PATH}"]
    commit = subprocess.run(git_args, check=True, capture_output=True, text=True).stdout.strip()
    data = subprocess.run(cat_args, check=True, capture_output=True).stdout
    want = f"{commit} {data.hex()}"
    times: dict[str, list[float]] = {"gitstore": [], "pygit2": [], "git": []}
    for _ in range(runs):
        for who in ("gitstore", "pygit2"):
            t, got = run_py("back", who, env, repo=str(repo), path=PATH, n=n, warm=warm)
            assert got == want, (who, got, want)
            times[who].append(t / max(warm, 1))
        if warm == 0:
            t, out = run_git(cat_args)
            assert out == data
            times["git"].append(t)
    return {k: statistics.median(v) for k, v in times.items() if v}


def show(title: str, res: dict[str, float]) -> None:
    gs = res["gitstore"]
    parts = [f"{k} {v * 1000:8.2f} ms" + ("" if k == "gitstore" else f" ({v / gs:4.2f}x)")
             for k, v in res.items()]
    print(f"{title:34s} " + "  ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--commits", type=int, default=10000)
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--commit-graph", action="store_true")
    how.add_argument("--pack", action="store_true")
    ap.add_argument("--dir", default="/var/tmp" if os.access("/var/tmp", os.W_OK) else ".")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    runs = 3 if args.quick else 9
    env = dict(os.environ)
    # The package is the one on PYTHONPATH, else this checkout's.
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    parent = Path(tempfile.mkdtemp(prefix="bench-history-", dir=args.dir))
    try:
        repo = build(parent, args.commits, args.commit_graph, args.pack, env)
        graph = "git's" if args.commit_graph else "GitStore.pack()'s" if args.pack else "none"
        print(f"{args.commits} commits, path {PATH}, commit-graph: {graph}; "
              "ratio = other / gitstore (above 1: gitstore faster)")
        show("log(path=), fresh", bench_log(repo, runs, env))
        n = args.commits // 2
        show(f"back({n}) + read, fresh", bench_back(repo, n, runs, 0, env))
        show(f"back({n}) + read, warm (x50)", bench_back(repo, n, runs, 50, env))
    finally:
        if args.keep:
            print("kept", parent)
        else:
            shutil.rmtree(parent)


if __name__ == "__main__":
    main()
