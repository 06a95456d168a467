#!/usr/bin/env python3
"""Archive benchmark: FS.archive_out / FS.archive_in vs git archive and vost's CLI.

The read benchmark's repository (5,000 small files in 50 directories, one
commit, one pack) is exported with ``archive_out`` to ``.tar`` and ``.zip``
and compared with ``git archive --format=tar|zip`` on the same commit (a
subprocess, as a user would run it; its start-up counts).  The tar is then
imported with ``archive_in`` into a fresh branch.  vost's CLI commands
``archive_out`` / ``archive_in`` (the reference CLI's commands, built on
zipfile and tarfile, as vost ships them) run the same jobs, each a
process of its own; so does the pure-Python gitstore's own CLI when
``--reference-cli`` names its ``gitstore`` executable (install
mhalle/gitstore at a43b442 with click into a virtualenv of its own: its
package name clashes with ours).  Rounds are interleaved and the best time
of each is kept.

    python bench/bench_archive.py [--quick] [--dir DIR] [--json FILE]
                                  [--reference-cli PATH]

Targets (ratio = other time / gitstore time): tar ≥ 1.0× git archive, zip
≥ 0.8× git archive, and ≥ 10× the reference CLI (and vost's) both ways.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402
    BRANCH,
    build_repo,
    default_parent_dir,
    fmt_ratio,
    fmt_time,
    generate_files,
    import_gitstore,
)

VOST_CLI = "import sys; from vost.cli import main; sys.exit(main())"


def interleaved(jobs: dict, rounds: int) -> dict[str, float]:
    """The best time of each job, the jobs taking turns.  A job returns the
    time it measured itself, or None to be timed whole."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            t0 = time.perf_counter()
            own = job()
            times[name].append(own if own is not None else time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--dir", default=None, help="where the temporary files go")
    parser.add_argument("--json", default=None, help="also write the results as JSON")
    parser.add_argument("--reference-cli", default=None, metavar="PATH",
                        help="the pure-Python gitstore's CLI executable, to compare with")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    gitstore = import_gitstore()
    work = Path(tempfile.mkdtemp(prefix="bench-archive-", dir=args.dir or default_parent_dir()))
    try:
        repo = build_repo(work, generate_files())
        store = gitstore.GitStore.open(str(repo), create=False)
        fs = store.branches[BRANCH]
        commit = fs.commit_hash
        has_vost = subprocess.run([sys.executable, "-c", "import vost.cli"],
                                  capture_output=True).returncode == 0

        def ours_out(fmt):
            def run():
                fs.archive_out(work / f"ours.{fmt}")
            return run

        def git_out(fmt):
            def run():
                with open(work / f"git.{fmt}", "wb") as f:
                    subprocess.run(["git", "archive", f"--format={fmt}", commit], cwd=repo,
                                   stdout=f, check=True)
            return run

        # vost's CLI and the reference's take the same arguments.
        clis = {}
        if has_vost:
            clis["vost"] = [sys.executable, "-c", VOST_CLI]
        if args.reference_cli:
            clis["reference"] = [args.reference_cli]

        def cli_out(command, fmt):
            def run():
                subprocess.run([*command, "archive_out", "-r", str(repo), "-b", BRANCH,
                                str(work / f"cli.{fmt}")], check=True, capture_output=True)
            return run

        def cli_in(command):
            def run(name):
                subprocess.run([*command, "archive_in", "-r", str(repo), "-b", name,
                                str(work / "ours.tar")], check=True, capture_output=True)
            return run

        # Imports go into branches made beforehand at a commit of the empty tree.
        # (dulwich needs the empty tree stored; git only knows it.)
        tree = subprocess.run(["git", "mktree"], input="", cwd=repo, check=True,
                              capture_output=True, text=True).stdout.strip()
        empty = subprocess.run(["git", "commit-tree", tree, "-m", "empty"], cwd=repo, check=True,
                               capture_output=True, text=True).stdout.strip()
        fresh = iter(range(1 << 30))

        def fresh_branch():
            name = f"in{next(fresh)}"
            store.branches[name] = gitstore.FS(store, empty)
            return name

        def timed_in(job):
            def run():
                name = fresh_branch()
                t0 = time.perf_counter()
                job(name)
                return time.perf_counter() - t0
            return run

        def ours_in(name):
            fs = store.branches[name].archive_in(work / "ours.tar")
            assert fs.tree_hash == store.branches[BRANCH].tree_hash

        results = {}
        for fmt in ("tar", "zip"):
            ours_out(fmt)()   # warm up
            jobs = {"gitstore": ours_out(fmt), "git archive": git_out(fmt)}
            jobs.update({name: cli_out(command, fmt) for name, command in clis.items()})
            results[f"archive_out {fmt}"] = interleaved(jobs, rounds)
        jobs = {"gitstore": timed_in(ours_in)}
        jobs.update({name: timed_in(cli_in(command)) for name, command in clis.items()})
        results["archive_in tar"] = interleaved(jobs, rounds)

        targets = {("archive_out tar", "git archive"): 1.0,
                   ("archive_out zip", "git archive"): 0.8,
                   ("archive_out tar", "reference"): 10.0,
                   ("archive_out zip", "reference"): 10.0,
                   ("archive_in tar", "reference"): 10.0,
                   ("archive_out tar", "vost"): 10.0, ("archive_out zip", "vost"): 10.0,
                   ("archive_in tar", "vost"): 10.0}
        print(f"{'workload':<18} {'gitstore':>10} {'other':>12} {'time':>10} {'ratio':>8} "
              f"{'target':>7}")
        report = []
        for (workload, other), target in targets.items():
            times = results[workload]
            if other not in times:
                continue
            ratio = times[other] / times["gitstore"]
            ok = "ok" if ratio >= target else "MISS"
            print(f"{workload:<18} {fmt_time(times['gitstore']):>10} {other:>12} "
                  f"{fmt_time(times[other]):>10} {fmt_ratio(ratio):>8} {target:>6.1f}x {ok}")
            report.append({"workload": workload, "other": other, "gitstore": times["gitstore"],
                           "other_time": times[other], "ratio": ratio, "target": target})
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
