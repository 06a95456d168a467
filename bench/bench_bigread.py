#!/usr/bin/env python3
"""Big-file reads: gitstore against plain file reads and the git CLI.

Builds one store holding an incompressible file (stored loose, in deflate's
uncompressed blocks) and a compressible text file (loose, deflated), then
times, interleaved round by round on the same bytes:

* ``fs.read(p)`` of the incompressible file against ``open(src).read()``
  of the file it was written from, and ``git cat-file blob``;
* ``fs.read(p)`` of the text file against ``git cat-file blob``;
* sequential ``fs.read(p, offset=o, size=16 MiB)`` over the whole file;
* ``fs.open(p)`` read in 1 MiB chunks (``readinto``), with the peak RSS
  growth of a fresh process doing only that.

    python bench/bench_bigread.py [--mib 1024] [--rounds 3] [--dir DIR]

Targets: read within 1.5x of open().read(); text within 1.2x of cat-file;
FS.open >= 500 MiB/s with RSS growth <= 32 MiB.  Every answer is checked
against the source bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.environ.get("GITSTORE_PATH", str(Path(__file__).resolve().parent.parent)))
import gitstore  # noqa: E402

MIB = 1 << 20
CHUNK = 16 * MIB

CHILD = r"""
import resource, sys, time
import gitstore
fs = gitstore.GitStore.open(sys.argv[1], create=False).branches["main"]
buf = bytearray(1 << 20)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
total = 0
with fs.open(sys.argv[2]) as f:
    while n := f.readinto(buf):
        total += n
dt = time.perf_counter() - t
print(total, dt, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def make_sources(work: Path, mib: int) -> tuple[Path, Path]:
    rnd, text = work / "random.bin", work / "text.txt"
    rng = random.Random(15)
    with open(rnd, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(MIB))
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"42", b"\n"]
    with open(text, "wb") as f:
        for i in range(mib // 4):
            f.write(b" ".join(rng.choice(words) for _ in range(MIB // 6))[:MIB])
    return rnd, text


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def cat_file(repo: Path, oid: str) -> float:
    t = time.perf_counter()
    subprocess.run(["git", "--git-dir", str(repo), "cat-file", "blob", oid],
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="incompressible file size")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bigread-"))
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "store.git"
    rnd, text = make_sources(work, args.mib)
    fs = gitstore.GitStore.open(repo, create="main").branches["main"]
    fs = fs.write_from_file("random.bin", rnd).write_from_file("text.txt", text)
    oid_r, oid_t = fs.object_hash("random.bin"), fs.object_hash("text.txt")
    sha_r = hashlib.sha1(rnd.read_bytes()).hexdigest()
    sha_t = hashlib.sha1(text.read_bytes()).hexdigest()

    rows: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, fn in [
            ("read random", lambda: fs.read("random.bin")),
            ("open().read() random", lambda: rnd.read_bytes()),
            ("read text", lambda: fs.read("text.txt")),
        ]:
            dt, data = timed(fn)
            want = sha_t if "text" in name else sha_r
            assert hashlib.sha1(data).hexdigest() == want, name
            del data
            rows.setdefault(name, []).append(dt)
        rows.setdefault("cat-file random", []).append(cat_file(repo, oid_r))
        rows.setdefault("cat-file text", []).append(cat_file(repo, oid_t))

        def sequential():
            h, size, at = hashlib.sha1(), fs.size("random.bin"), 0
            while at < size:
                h.update(fs.read("random.bin", offset=at, size=CHUNK))
                at += CHUNK
            return h.hexdigest()
        dt, digest = timed(sequential)
        assert digest == sha_r
        rows.setdefault("sequential read(offset, 16 MiB)", []).append(dt)
        out = subprocess.run([sys.executable, "-c", CHILD, str(repo), "random.bin"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": sys.path[0]}).stdout.split()
        assert int(out[0]) == args.mib * MIB
        rows.setdefault("open() 1 MiB chunks", []).append(float(out[1]))
        rows.setdefault("open() RSS growth MiB", []).append(float(out[2]))

    best = {k: min(v) for k, v in rows.items()}
    print(f"gitstore {gitstore.__file__}; {args.mib} MiB incompressible, "
          f"{text.stat().st_size // MIB} MiB text; best of {args.rounds} (all rounds)")
    for k, v in rows.items():
        print(f"  {k:34s} {best[k]:8.3f}   " + " ".join(f"{x:.3f}" for x in v))
    size = args.mib
    checks = [
        ("read / open().read()", best["read random"] / best["open().read() random"], 1.5),
        ("read text / cat-file", best["read text"] / best["cat-file text"], 1.2),
    ]
    for label, ratio, limit in checks:
        print(f"  {label:34s} {ratio:6.2f}x  (target <= {limit}x) "
              f"{'PASS' if ratio <= limit else 'FAIL'}")
    seq = size / best["sequential read(offset, 16 MiB)"]
    rate = size / best["open() 1 MiB chunks"]
    rss = max(rows["open() RSS growth MiB"])
    print(f"  sequential read(offset=, size=)    {seq:6.0f} MiB/s "
          f"(full read: {size / best['read random']:.0f} MiB/s)")
    print(f"  FS.open 1 MiB chunks               {rate:6.0f} MiB/s (target >= 500) "
          f"{'PASS' if rate >= 500 else 'FAIL'}; peak RSS growth {rss:.1f} MiB "
          f"(target <= 32) {'PASS' if rss <= 32 else 'FAIL'}")
    if not args.dir:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
