#!/usr/bin/env python3
"""Streaming writes: a big file through FS.writer() vs write_from_file, for
gitstore and vost.  Throughput and peak memory of each.

Each case runs in a fresh subprocess against a fresh bare repository, so
its peak resident size (ru_maxrss) is its own: the table shows the growth
of the peak during the write itself (after imports and the 1 MiB chunk
buffer exist).  The writer cases write N chunks of 1 MiB; the
write_from_file cases store a local file of the same content, made
beforehand (so it is in the page cache, as a file just produced would be).

    python bench/bench_writer.py [--big-mib N] [--data random|text]
                                 [--dir DIR] [--json FILE] [--keep]

Content: ``random`` (incompressible: stored in zlib's uncompressed blocks,
the disk-bound case) or ``text`` (numbered lines: deflated, CPU-bound).
Every chunk carries its index, so no two chunks are equal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("gitstore", "writer"),
    ("gitstore", "write_from_file"),
    ("vost", "writer"),
    ("vost", "write_from_file"),
]


def make_chunk(data: str) -> bytearray:
    if data == "random":
        return bytearray(random.Random(1).randbytes(MIB))   # the same in every process
    chunk = bytearray()
    for i in range(MIB // 32):      # no big temporary: it would raise the peak
        chunk += b"line %09d of some text to deflate\n" % i
    return chunk[:MIB]


def stamp(chunk: bytearray, i: int) -> None:
    chunk[0:16] = b"%016d" % i


def import_module(name: str):
    if name == "gitstore" and str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))     # after site-packages
    return __import__(name)


def run_case(impl: str, how: str, repo: str, mib: int, data: str, source: str | None) -> dict:
    """One measurement, in this (fresh) process."""
    module = import_module(impl)
    store = module.GitStore.open(repo)
    fs = store.branches["main"]
    chunk = make_chunk(data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if how == "writer":
        with fs.writer("big.bin") as w:
            for i in range(mib):
                stamp(chunk, i)
                w.write(chunk)
        new = w.fs
    else:
        new = fs.write_from_file("big.bin", source)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"impl": impl, "how": how, "seconds": seconds, "mib_s": mib / seconds,
            "rss_growth_mib": (after - before) / 1024, "commit": new.commit_hash,
            "module": module.__file__}


def make_source(path: Path, mib: int, data: str) -> str:
    """The local file of the write_from_file cases; returns its blob id."""
    chunk = make_chunk(data)
    sha = hashlib.sha1(b"blob %d\0" % (mib * MIB))
    with open(path, "wb") as f:
        for i in range(mib):
            stamp(chunk, i)
            f.write(chunk)
            sha.update(chunk)
    return sha.hexdigest()


def blob_of(repo: Path) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "main:big.bin"],
                          capture_output=True, text=True, check=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mib", type=int, default=1024, metavar="N",
                        help="file size in MiB (default 1024)")
    parser.add_argument("--data", choices=["random", "text"], default="random")
    parser.add_argument("--dir", default=None, help="where the repositories go "
                        "(default: /var/tmp when it exists)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the repositories")
    parser.add_argument("--case", nargs=5, metavar=("IMPL", "HOW", "REPO", "MIB", "SOURCE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        impl, how, repo, mib, source = args.case
        print(json.dumps(run_case(impl, how, repo, int(mib), args.data, source)))
        return 0

    parent = args.dir or ("/var/tmp" if os.path.isdir("/var/tmp") else ".")
    work = Path(tempfile.mkdtemp(prefix="bench-writer-", dir=parent))
    rows, notes = [], []
    try:
        source = work / "source.bin"
        expected = make_source(source, args.big_mib, args.data)
        for n, (impl, how) in enumerate(CASES):
            try:
                import_module(impl)
            except ImportError as e:
                notes.append(f"{impl}: skipped ({e})")
                continue
            repo = work / f"repo{n}.git"
            proc = subprocess.run([sys.executable, __file__, "--data", args.data, "--case",
                                   impl, how, str(repo), str(args.big_mib), str(source)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                notes.append(f"{impl} {how}: failed\n{proc.stderr[-2000:]}")
                continue
            row = json.loads(proc.stdout)
            row["blob_ok"] = blob_of(repo) == expected
            rows.append(row)
            shutil.rmtree(repo, ignore_errors=True) if not args.keep else None
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{args.big_mib} MiB, {args.data} content, 1 MiB chunks; repositories under {parent}")
    print(f"{'implementation':<10} {'operation':<16} {'seconds':>8} {'MiB/s':>8} "
          f"{'peak RSS growth':>16}  blob id")
    for r in rows:
        print(f"{r['impl']:<10} {r['how']:<16} {r['seconds']:>8.2f} {r['mib_s']:>8.0f} "
              f"{r['rss_growth_mib']:>12.1f} MiB  {'ok' if r['blob_ok'] else 'WRONG'}")
    for r in rows:
        if r["impl"] == "gitstore":
            print(f"gitstore imported from {r['module']}")
            break
    for note in notes:
        print("note:", note)
    if args.json:
        Path(args.json).write_text(json.dumps({"mib": args.big_mib, "data": args.data,
                                               "rows": rows, "notes": notes}, indent=2))
    return 0 if rows and all(r["blob_ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
