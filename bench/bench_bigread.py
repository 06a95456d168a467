#!/usr/bin/env python3
"""Big-file reads: gitstore against plain file reads and the git CLI.

One store holds five big blobs, each read whole with ``fs.read_by_hash``
(what ``fs.read(path)`` does once the path is looked up) and with
``git cat-file blob``, contenders interleaved round by round:

* ``random``: incompressible bytes written by gitstore (loose, in deflate's
  uncompressed blocks), also against ``open(src).read()`` of its source;
* ``random (fast-import)``: other incompressible bytes written by ``git
  fast-import`` (packed whole, in git's uncompressed blocks), also against
  ``open(src).read()``;
* ``log (gitstore)``: generated log lines written by gitstore (loose,
  deflated);
* ``log (hash-object)``: other log lines written by ``git hash-object -w``
  (loose, deflated by git);
* ``log (fast-import)``: other log lines written by ``git fast-import``
  (packed whole).

Then, on the incompressible blobs and the packed log lines: sequential
``fs.read(p, offset=o, size=16 MiB)`` over the whole file, and
``fs.open(p)`` read in 1 MiB chunks (``readinto``) in a fresh process, with
its peak RSS growth (VmHWM: ru_maxrss would keep the parent's peak).

    python bench/bench_bigread.py [--mib 1024] [--log-mib 256] [--rounds 5] [--dir DIR]

Targets: incompressible within 1.5x of open().read(); compressed within
1.2x of cat-file; FS.open >= 500 MiB/s with RSS growth <= 32 MiB.  Each
ratio is gitstore's time over the other's, from the same round (below 1:
gitstore is faster); the median and range over rounds are shown, of wall
time and of CPU time (which a busy machine disturbs less).  Every answer
is checked against the source bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import statistics
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
import sys, time
import gitstore

def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

fs = gitstore.GitStore.open(sys.argv[1], create=False).branches[sys.argv[2]]
buf = bytearray(1 << 20)
base = peak()
t = time.perf_counter()
total = 0
with fs.open(sys.argv[3]) as f:
    while n := f.readinto(buf):
        total += n
dt = time.perf_counter() - t
print(total, dt, (peak() - base) / 1024)
"""


def log_mib(rng: random.Random) -> bytes:
    """One MiB of web-server-like log lines."""
    levels = [b"INFO", b"WARN", b"DEBUG", b"ERROR"]
    paths = [b"/api/v1/users", b"/api/v1/orders", b"/static/app.js", b"/health", b"/login"]
    lines, size = [], 0
    t = rng.randrange(1_600_000_000, 1_700_000_000) * 1000
    while size < MIB:
        t += rng.randrange(1, 50)
        line = b"%d.%03d %s req=%08x %s %s %d %dms user=%d\n" % (
            t // 1000, t % 1000, rng.choice(levels), rng.getrandbits(32),
            rng.choice((b"GET", b"POST")), rng.choice(paths),
            rng.choice((200, 200, 200, 404, 500)), rng.randrange(1, 900),
            rng.randrange(1, 99999))
        lines.append(line)
        size += len(line)
    return b"".join(lines)[:MIB]


def make_sources(work: Path, mib: int, log_size: int) -> dict[str, Path]:
    rng = random.Random(15)
    paths = {}
    for name in ("random", "random-packed"):
        paths[name] = work / f"{name}.bin"
        with open(paths[name], "wb") as f:
            for _ in range(mib):
                f.write(rng.randbytes(MIB))
    # Deflate looks back 32 KiB at most, so MiBs drawn from a pool compress
    # as unique lines would; each file draws its own sequence.
    pool = [log_mib(rng) for _ in range(32)]
    for name in ("gitstore", "hash-object", "fast-import"):
        paths[name] = work / f"log-{name}.txt"
        with open(paths[name], "wb") as f:
            for _ in range(log_size):
                f.write(rng.choice(pool))
    return paths


def git(repo: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, **kw)


def fast_import(repo: Path, branch: str, files: dict[str, Path]) -> dict[str, str]:
    """Commit files on a branch of their own with git fast-import (packed
    whole: git deltifies nothing it has no base for); their blob ids."""
    # One object is below fast-import's unpack limit: keep its pack anyway.
    proc = subprocess.Popen(["git", "-c", "fastimport.unpackLimit=0", "--git-dir", str(repo),
                             "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert proc.stdin
    proc.stdin.write(b"commit refs/heads/%s\ncommitter b <b@b> 0 +0000\ndata 0\n"
                     % branch.encode())
    for name, src in files.items():
        proc.stdin.write(b"M 100644 inline %s\ndata %d\n" % (name.encode(), src.stat().st_size))
        with open(src, "rb") as f:
            shutil.copyfileobj(f, proc.stdin, MIB)
        proc.stdin.write(b"\n")
    proc.stdin.close()
    assert proc.wait() == 0
    return {name: git(repo, "hash-object", str(src), capture_output=True,
                      text=True).stdout.strip() for name, src in files.items()}


def loose_path(repo: Path, oid: str) -> Path:
    return repo / "objects" / oid[:2] / oid[2:]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(fn):
    """(wall seconds, CPU seconds of this process, fn's result)."""
    t, c = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t, time.process_time() - c, result


def cat_file(repo: Path, oid: str) -> tuple[float, float]:
    t, c = time.perf_counter(), children_cpu()
    git(repo, "cat-file", "blob", oid, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t, children_cpu() - c


# The blobs read in pieces and through FS.open: branch and path.
STREAMED = {"random": ("main", "random.bin"), "random-packed": ("packed", "random.bin"),
            "fast-import": ("packed", "log.txt")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="incompressible file size")
    ap.add_argument("--log-mib", type=int, default=256, help="size of each log file")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bigread-"))
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "store.git"
    src = make_sources(work, args.mib, args.log_mib)
    store = gitstore.GitStore.open(repo, create="main")
    fs = (store.branches["main"].write_from_file("random.bin", src["random"])
          .write_from_file("log.txt", src["gitstore"]))
    oids = {"random": fs.object_hash("random.bin"), "gitstore": fs.object_hash("log.txt")}
    oids["hash-object"] = git(repo, "hash-object", "-w", str(src["hash-object"]),
                              capture_output=True, text=True).stdout.strip()
    packed = fast_import(repo, "packed", {"random.bin": src["random-packed"],
                                          "log.txt": src["fast-import"]})
    oids["random-packed"], oids["fast-import"] = packed["random.bin"], packed["log.txt"]
    for name in ("random", "gitstore", "hash-object"):
        assert loose_path(repo, oids[name]).exists(), name
    for name in ("random-packed", "fast-import"):
        assert not loose_path(repo, oids[name]).exists(), name
    sha = {name: hashlib.sha1(p.read_bytes()).hexdigest() for name, p in src.items()}
    size = {name: p.stat().st_size for name, p in src.items()}
    stored = {name: (loose_path(repo, oid).stat().st_size
                     if loose_path(repo, oid).exists() else None)
              for name, oid in oids.items()}

    # Each contender returns (wall seconds, CPU seconds).
    def read_fn(name):
        def run():
            dt, cpu, data = timed(lambda: fs.read_by_hash(oids[name]))
            assert hashlib.sha1(data).hexdigest() == sha[name], name
            return dt, cpu
        return run

    def open_read(name):
        dt, cpu, data = timed(src[name].read_bytes)
        assert hashlib.sha1(data).hexdigest() == sha[name]
        return dt, cpu

    def sequential(name):
        branch, path = STREAMED[name]
        snap = store.branches[branch]
        h, at = hashlib.sha1(), 0
        t = time.perf_counter()
        while at < size[name]:
            h.update(snap.read(path, offset=at, size=CHUNK))
            at += CHUNK
        dt = time.perf_counter() - t
        assert h.hexdigest() == sha[name], name
        return dt

    def through_open(name):
        """FS.open in a fresh process: (seconds, peak RSS growth in MiB)."""
        out = subprocess.run([sys.executable, "-c", CHILD, str(repo), *STREAMED[name]],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": sys.path[0]}).stdout.split()
        assert int(out[0]) == size[name], name
        return float(out[1]), float(out[2])

    rows: dict[str, list[tuple[float, float]]] = {}
    extra: dict[str, list[float]] = {}
    cases = ["random", "random-packed", "gitstore", "hash-object", "fast-import"]
    for _ in range(args.rounds):
        for name in cases:
            rows.setdefault(f"{name}: gitstore", []).append(read_fn(name)())
            rows.setdefault(f"{name}: cat-file", []).append(cat_file(repo, oids[name]))
            if name.startswith("random"):
                rows.setdefault(f"{name}: open().read()", []).append(open_read(name))
        for name in STREAMED:
            extra.setdefault(f"{name}: sequential", []).append(sequential(name))
            dt, rss = through_open(name)
            extra.setdefault(f"{name}: FS.open", []).append(dt)
            extra.setdefault(f"{name}: RSS", []).append(rss)

    print(f"gitstore {gitstore.__file__}")
    print(f"{args.mib} MiB incompressible, {args.log_mib} MiB per log file; "
          f"{args.rounds} rounds; seconds, wall (CPU) for each round")
    for name in cases:
        on_disk = stored[name]
        where = f"loose, {on_disk / MIB:.1f} MiB on disk" if on_disk is not None else "packed"
        print(f"  {name} ({where})")
        for k, v in rows.items():
            if k.startswith(name + ":"):
                print(f"    {k[len(name) + 2:]:14s} "
                      + " ".join(f"{w:.3f} ({c:.3f})" for w, c in v))
    # The machine may be busy with other work: wall time then counts the
    # waits for a core, CPU time (user + system) does not.
    print("ratios, gitstore / other, median [range] over rounds, wall | CPU:")

    def ratio(label, mine, other, limit=None):
        meds = []
        text = []
        for i in (0, 1):
            r = [a[i] / b[i] for a, b in zip(rows[mine], rows[other])]
            meds.append(statistics.median(r))
            text.append(f"{meds[-1]:5.2f}x [{min(r):.2f}-{max(r):.2f}]")
        verdict = (f"(target <= {limit}x) {'PASS' if max(meds) <= limit else 'FAIL'}"
                   if limit else "")
        print(f"  {label:30s} {' | '.join(text)}  {verdict}")

    for name in ("random", "random-packed"):
        ratio(f"{name} / open().read()", f"{name}: gitstore", f"{name}: open().read()", 1.5)
    for name in cases:
        ratio(f"{name} / cat-file", f"{name}: gitstore", f"{name}: cat-file",
              None if name.startswith("random") else 1.2)
    print("pieces, best round (RSS: worst round):")
    for name in STREAMED:
        mib = size[name] / MIB
        seq = mib / min(extra[f"{name}: sequential"])
        rate = mib / min(extra[f"{name}: FS.open"])
        rss = max(extra[f"{name}: RSS"])
        full = mib / min(w for w, _ in rows[f"{name}: gitstore"])
        print(f"  {name}: sequential read(offset=, size=16 MiB) {seq:6.0f} MiB/s "
              f"(full read: {full:.0f} MiB/s)")
        print(f"  {name}: FS.open 1 MiB chunks {rate:6.0f} MiB/s (target >= 500) "
              f"{'PASS' if rate >= 500 else 'FAIL'}; peak RSS growth {rss:.1f} MiB "
              f"(target <= 32) {'PASS' if rss <= 32 else 'FAIL'}")
    if not args.dir:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
