#!/usr/bin/env python3
"""Glob benchmark: pathological patterns on a deep tree, and a plain
recursive glob on a 100,000-file tree, gitstore vs vost vs pygit2 vs the
git CLI.

    python bench/bench_glob.py [--quick] [--timeout S] [--files N] [--dir DIR] [--json FILE]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402
    BRANCH,
    Pygit2Snapshot,
    default_parent_dir,
    fast_import_stream,
    fmt_ratio,
    fmt_time,
    import_gitstore,
)

# --------------------------------------------------------------------------
# Trees

DEPTH = 26


def deep_files() -> dict[str, bytes]:
    """26 nested directories (node_modules/pkg01/node_modules/...), each
    level with 70 .txt files, 3 .js files, a dotfile, a dot directory and a
    file named x: 2,054 files."""
    files: dict[str, bytes] = {}
    path = ""
    for k in range(DEPTH + 1):
        prefix = f"{path}/" if path else ""
        for i in range(70):
            files[f"{prefix}f{i:02d}.txt"] = b"t"
        for i in range(3):
            files[f"{prefix}m{i}.js"] = b"j"
        files[f"{prefix}.npmrc"] = b"rc"
        files[f"{prefix}.bin/run"] = b"run"
        files[f"{prefix}x"] = b"x"
        name = "node_modules" if k % 2 == 0 else f"pkg{k:02d}"
        path = f"{path}/{name}" if path else name
    return files


def wide_files(total: int) -> dict[str, bytes]:
    """`total` files, 100 per directory, in d00/s00/l00 ... (three levels);
    70 % .txt.  No files at the root and no dot names, so that fnmatch on
    the whole path ('*' spans '/') agrees with glob("**/*.txt")."""
    exts = ["txt"] * 7 + ["md", "json", "py"]
    files: dict[str, bytes] = {}
    for n in range(total):
        d = n // 100
        files[f"d{d // 100 % 100:02d}/s{d // 10 % 10:02d}/l{d % 10:02d}/"
              f"f{n % 100:02d}.{exts[n % 10]}"] = b"%d\n" % n
    return files


def build(parent: Path, name: str, files: dict[str, bytes]) -> Path:
    repo = parent / name
    subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={BRANCH}",
                    str(repo)], check=True)
    subprocess.run(["git", "--git-dir", str(repo), "fast-import", "--quiet"],
                   input=fast_import_stream(files), check=True)
    return repo


# --------------------------------------------------------------------------
# Pathological patterns: each (implementation, pattern) in a child process
# with a time limit, since an exponential matcher may run for hours.

PATHOLOGICAL = [
    ("'**/' * 30 + 'x'", "**/" * 30 + "x"),
    ("'**/' * 200", "**/" * 200),
    ("'/'.join(['**', '*'] * 50)", "/".join(["**", "*"] * 50)),
    ("'**/' * 20 + '*.js'", "**/" * 20 + "*.js"),
]

CHILD = r"""
import json, sys, time
sys.path[:0] = json.loads(sys.argv[4])
impl, repo, pattern = sys.argv[1], sys.argv[2], sys.argv[3]
if impl == "gitstore":
    import gitstore as mod
else:
    import vost as mod
fs = mod.GitStore.open(repo, create=False).branches["main"]
start = time.perf_counter()
result = fs.glob(pattern)
first = time.perf_counter() - start
best = first
if first < 0.5:
    for _ in range(int(min(50, 0.5 / max(first, 1e-6)))):
        start = time.perf_counter()
        fs.glob(pattern)
        best = min(best, time.perf_counter() - start)
print(json.dumps({"best": best, "count": len(result), "file": mod.__file__}))
"""


def child_path() -> list[str]:
    """Where the child finds gitstore: as this process does."""
    gitstore = import_gitstore()
    return [str(Path(gitstore.__file__).resolve().parent.parent)]


def time_in_child(impl: str, repo: Path, pattern: str, timeout: float) -> dict:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, impl, str(repo), pattern, json.dumps(child_path())],
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout)


def cell(r: dict, timeout: float) -> str:
    if r.get("timeout"):
        return f"timeout (>{timeout:g} s)"
    if "error" in r:
        return "error: " + r["error"].split(":")[0][:14]
    return fmt_time(r["best"])


# --------------------------------------------------------------------------
# glob("**/*.txt") on the wide tree


def best_of(fn, rounds: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def git_cli_glob(repo: Path, pattern: str) -> list[str]:
    names = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only",
                            "-z", BRANCH], capture_output=True, check=True).stdout
    return sorted(p for p in names.decode().split("\0") if p and fnmatch.fnmatchcase(p, pattern))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, a 20,000-file tree")
    ap.add_argument("--timeout", type=float, default=20.0,
                    help="seconds allowed per pathological glob (default 20)")
    ap.add_argument("--files", type=int, default=None, help="files in the wide tree")
    ap.add_argument("--dir", default=None, help="where the repositories go")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    nfiles = args.files or (20_000 if args.quick else 100_000)
    rounds = 3 if args.quick else 5

    gitstore = import_gitstore()
    so = next(Path(gitstore.__file__).parent.glob("_core*.so"), None)
    print(f"gitstore: {gitstore.__file__}"
          + (f" (_core built {time.ctime(so.stat().st_mtime)})" if so else ""))
    try:
        import vost
        have_vost = True
    except ImportError:
        have_vost = False
    try:
        import pygit2  # noqa: F401
        have_pygit2 = True
    except ImportError:
        have_pygit2 = False

    parent = Path(tempfile.mkdtemp(prefix="gitstore-bench-glob-",
                                   dir=args.dir or default_parent_dir()))
    report: dict = {"pathological": [], "wide": {}}
    try:
        deep = build(parent, "deep.git", deep_files())
        print(f"\nPathological patterns, {DEPTH}-deep tree ({len(deep_files()):,} files); "
              f"best of several runs, or the one run when slow\n")
        head = f"{'pattern':30} {'matches':>7}  {'gitstore':>12}  {'vost':>21}  {'vost/gitstore':>13}"
        print(head)
        print("-" * len(head))
        for title, pattern in PATHOLOGICAL:
            g = time_in_child("gitstore", deep, pattern, args.timeout)
            v = (time_in_child("vost", deep, pattern, args.timeout) if have_vost
                 else {"error": "vost not installed"})
            ratio = (v["best"] / g["best"]) if "best" in g and "best" in v else None
            count = g.get("count", v.get("count", "-"))
            note = ""
            if "count" in g and "count" in v and g["count"] != v["count"]:
                note = f"  (vost: {v['count']} matches)"
            print(f"{title:30} {count:>7}  {cell(g, args.timeout):>12}  "
                  f"{cell(v, args.timeout):>21}  {fmt_ratio(ratio):>13}{note}")
            report["pathological"].append({"pattern": title, "gitstore": g, "vost": v})

        wide = build(parent, "wide.git", wide_files(nfiles))
        pattern = "**/*.txt"
        print(f"\nglob({pattern!r}) on a {nfiles:,}-file tree (100 files per "
              f"directory, 3 levels); best of {rounds}\n")
        fs = gitstore.GitStore.open(str(wide), create=False).branches[BRANCH]
        contenders = [("gitstore", lambda: fs.glob(pattern), rounds)]
        contenders.append(("git ls-tree -r + fnmatch", lambda: git_cli_glob(wide, pattern), rounds))
        if have_pygit2:
            snap = Pygit2Snapshot(wide, BRANCH)
            contenders.append(("pygit2 walk + fnmatch", lambda: snap.glob(pattern), rounds))
        if have_vost:
            vfs = vost.GitStore.open(str(wide), create=False).branches[BRANCH]
            contenders.append(("vost", lambda: vfs.glob(pattern), max(1, rounds // 2)))
        base, expected = None, None
        print(f"{'implementation':28} {'time':>10}  {'x gitstore':>10}  matches")
        for name, fn, n in contenders:
            t, result = best_of(fn, n)
            result = sorted(result)
            if base is None:
                base, expected = t, result
            same = "" if result == expected else "  (differs from gitstore!)"
            print(f"{name:28} {fmt_time(t):>10}  {fmt_ratio(t / base):>10}  {len(result):,}{same}")
            report["wide"][name] = {"best": t, "count": len(result)}
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
