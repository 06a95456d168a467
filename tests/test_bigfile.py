"""Big files: streamed writes and partial reads (big files stream in both
directions, so memory stays flat; partial reads inflate only what they
return).

Memory is measured in a fresh subprocess from its VmHWM (the peak
resident size, in KiB; getrusage's ru_maxrss would carry the test
process's peak across exec), so that nothing the test process did before
counts.  No random data: a sparse file with markers
and a file of numbered repeated blocks.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

from support import Git, assert_fsck_clean, git_run, loose_object_ids, measuring_env

MiB = 1 << 20
BIG = 256 * MiB                 # sparse, with markers
MID = 64 * MiB                  # numbered 4 KiB blocks
ZEROS = 128 * MiB               # sparse, all zeros: for the full-read memory check
RSS_LIMIT_KIB = 32 * 1024
MARK_EVERY = 16 * MiB
MARK_AT = 12345                 # offset of each marker inside its 16 MiB stretch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is Linux's")


def _marker(k: int) -> bytes:
    return (b"<marker %03d>" % k) * 400             # 5200 bytes


def _block(i: int) -> bytes:
    return (b"%010d:" % i) + bytes((i * 7 + j) % 251 for j in range(64)) * 63 + b"\n" * 37


BLOCK_SIZE = len(_block(0))


def _make_big(path) -> str:
    """Sparse BIG-byte file with a marker every MARK_EVERY bytes; returns the
    git blob id (computed here, streaming)."""
    with open(path, "wb") as f:
        f.truncate(BIG)
        for k in range(BIG // MARK_EVERY):
            f.seek(k * MARK_EVERY + MARK_AT)
            f.write(_marker(k))
    return _git_blob_id(path)


def _make_mid(path) -> str:
    with open(path, "wb") as f:
        written, i = 0, 0
        while written < MID:
            blk = _block(i)[: MID - written]
            f.write(blk)
            written += len(blk)
            i += 1
    return _git_blob_id(path)


def _git_blob_id(path) -> str:
    h = hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


# The measuring child.  Peak RSS only grows, so the steps run in order of
# expected memory use and each reports the peak growth since the baseline.
CHILD = textwrap.dedent(r"""
    import json, resource, sys
    from gitstore import GitStore

    repo, big, mid, zeros, mark_every, mark_at = sys.argv[1:7]
    mark_every, mark_at = int(mark_every), int(mark_at)

    def peak():
        with open("/proc/self/status") as f:   # VmHWM: ru_maxrss keeps the parent's peak across exec
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    def marker(k):
        return (b"<marker %03d>" % k) * 400

    store = GitStore.open(repo)
    fs = store.branches["main"]
    fs.write("warm-up", b"x")                   # first write: lazy set-up done
    fs = store.branches["main"]
    fs.read("warm-up")
    out = {}
    base = peak()

    fs = fs.write_from_file("big.bin", big)
    out["write_from_file"] = peak() - base
    out["big_hash"] = fs.object_hash("big.bin")
    out["big_size"] = fs.size("big.bin")
    out["big_stat_size"] = fs.stat("big.bin").size

    ok = True
    for k in (0, 5, 15):
        pos = k * mark_every + mark_at
        got = fs.read("big.bin", offset=pos, size=4096)
        ok = ok and got == marker(k)[:4096]
        # straddling the end of a marker into the zeros after it
        tail = fs.read("big.bin", offset=pos + len(marker(k)) - 10, size=4096)
        ok = ok and tail == marker(k)[-10:] + b"\0" * 4086
    last = fs.read("big.bin", offset=(1 << 28) - 100, size=4096)
    ok = ok and last == b"\0" * 100
    ok = ok and fs.read("big.bin", offset=1 << 28, size=4096) == b""
    h = fs.object_hash("big.bin")
    ok = ok and fs.read_by_hash(h, offset=7 * mark_every + mark_at, size=13) == marker(7)[:13]
    out["partial_ok"] = ok
    out["partial_reads"] = peak() - base

    # Batch and apply(Path) stage big local files without holding them
    with fs.batch() as b:
        b.write_from_file("batch/big.bin", big)
    fs = b.fs
    from pathlib import Path
    fs = fs.apply({"apply/big.bin": Path(big)}, message="apply big")
    out["batch_apply"] = peak() - base
    out["same_blob"] = (fs.object_hash("batch/big.bin") == fs.object_hash("apply/big.bin")
                        == h)

    fs = fs.write_from_file("zeros.bin", zeros)
    fs = fs.write_from_file("mid.bin", mid)
    out["mid_write"] = peak() - base
    out["mid_hash"] = fs.object_hash("mid.bin")
    with open(mid, "rb") as f:
        f.seek(40_000_000)
        expected = f.read(4096)
    out["mid_partial_ok"] = fs.read("mid.bin", offset=40_000_000, size=4096) == expected
    out["commit"] = fs.commit_hash
    print(json.dumps(out))
""")

# A fresh process for the full read, so that the peaks of the steps above do
# not hide its memory use.
FULL_READ_CHILD = textwrap.dedent(r"""
    import hashlib, json, resource, sys
    from gitstore import GitStore

    repo, mid = sys.argv[1:3]

    def peak():
        with open("/proc/self/status") as f:   # VmHWM: ru_maxrss keeps the parent's peak across exec
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    fs = GitStore.open(repo).branches["main"]
    fs.read("zeros.bin", offset=5, size=10)     # warm-up: the store is open
    base = peak()
    data = fs.read("zeros.bin")
    grew = peak() - base
    zeros_ok = len(data) == (128 << 20) and data.count(0) == len(data)
    del data
    data = fs.read("mid.bin")
    with open(mid, "rb") as f:
        equal = True
        pos = 0
        for chunk in iter(lambda: f.read(1 << 22), b""):
            equal = equal and data[pos:pos + len(chunk)] == chunk
            pos += len(chunk)
        equal = equal and pos == len(data)
    print(json.dumps({"zeros_full_read": grew, "zeros_ok": zeros_ok, "mid_equal": equal,
                      "len": len(data)}))
""")


@pytest.fixture(scope="module")
def big_result(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    big, mid, repo = d / "big.bin", d / "mid.bin", d / "big.git"
    zeros = d / "zeros.bin"
    big_id = _make_big(big)
    mid_id = _make_mid(mid)
    with open(zeros, "wb") as f:
        f.truncate(ZEROS)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(repo), str(big), str(mid), str(zeros),
         str(MARK_EVERY), str(MARK_AT)],
        capture_output=True, timeout=120, env=measuring_env())
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    proc = subprocess.run([sys.executable, "-c", FULL_READ_CHILD, str(repo), str(mid)],
                          capture_output=True, timeout=120, env=measuring_env())
    assert proc.returncode == 0, proc.stderr.decode()
    out.update(json.loads(proc.stdout.decode().strip().splitlines()[-1]))
    return out, repo, big_id, mid_id


def test_write_from_file_streams(big_result):
    out, _repo, big_id, _mid = big_result
    assert out["big_hash"] == big_id
    assert out["big_size"] == BIG
    assert out["big_stat_size"] == BIG
    assert out["write_from_file"] <= RSS_LIMIT_KIB, \
        f"peak RSS grew by {out['write_from_file'] / 1024:.1f} MiB writing a 256 MiB file"


def test_partial_reads_return_right_bytes_in_bounded_memory(big_result):
    out, _repo, _big, _mid = big_result
    assert out["partial_ok"] is True
    assert out["partial_reads"] <= RSS_LIMIT_KIB, \
        f"peak RSS grew by {out['partial_reads'] / 1024:.1f} MiB for 4 KiB reads"


def test_batch_and_apply_stream_local_files(big_result):
    out, _repo, _big, _mid = big_result
    assert out["same_blob"] is True
    assert out["batch_apply"] <= RSS_LIMIT_KIB, \
        f"peak RSS grew by {out['batch_apply'] / 1024:.1f} MiB staging 256 MiB files"


def test_mid_file_round_trip(big_result):
    out, _repo, _big, mid_id = big_result
    assert out["mid_hash"] == mid_id
    assert out["mid_write"] <= RSS_LIMIT_KIB
    assert out["mid_partial_ok"] is True
    assert out["len"] == MID
    assert out["mid_equal"] is True


def test_full_read_holds_about_one_copy(big_result):
    """Reading a whole 128 MiB blob needs the result itself plus slack, not a
    second full-size buffer next to it (no performance traps: inflate into
    the bytes object that is returned)."""
    out, _repo, _big, _mid = big_result
    assert out["zeros_ok"] is True
    assert out["zeros_full_read"] <= (ZEROS // 1024) + RSS_LIMIT_KIB, \
        f"peak RSS grew by {out['zeros_full_read'] / 1024:.1f} MiB reading a 128 MiB blob"


def test_git_agrees_and_fsck_is_clean(big_result):
    out, repo, big_id, mid_id = big_result
    g = Git(repo)
    assert g.rev("main") == out["commit"]
    assert g.rev("main:big.bin") == big_id
    assert g.rev("main:batch/big.bin") == big_id
    assert g.rev("main:mid.bin") == mid_id
    assert g.cat_size(big_id) == BIG
    assert g.cat_size(mid_id) == MID
    # big blobs are loose objects (streamed), everything else is in packs
    loose = loose_object_ids(repo)
    assert {big_id, mid_id} <= loose
    for sha in loose:
        assert g.cat_type(sha) == "blob"
        assert g.cat_size(sha) >= MiB
    assert_fsck_clean(repo)


def test_git_reads_big_blob_content(big_result):
    out, repo, big_id, _mid = big_result
    g = Git(repo)
    # stream git's copy of the blob and compare markers
    proc = subprocess.Popen(["git", "--git-dir", str(repo), "cat-file", "blob", big_id],
                            stdout=subprocess.PIPE)
    h = hashlib.sha1(b"blob %d\0" % BIG)
    found = 0
    pos = 0
    for chunk in iter(lambda: proc.stdout.read(MARK_EVERY), b""):
        h.update(chunk)
        k = pos // MARK_EVERY
        if chunk[MARK_AT:MARK_AT + len(_marker(k))] == _marker(k):
            found += 1
        pos += len(chunk)
    proc.wait()
    assert pos == BIG
    assert found == BIG // MARK_EVERY
    assert h.hexdigest() == big_id
    del g


def test_one_mib_threshold(tmp_path):
    """Blobs of 1 MiB and more become loose objects; smaller ones go in the
    commit's pack."""
    from gitstore import GitStore
    repo = tmp_path / "t.git"
    fs = GitStore.open(repo).branches["main"]
    loose0 = loose_object_ids(repo)
    fs = fs.write("small", b"s" * (MiB - 1))
    assert loose_object_ids(repo) == loose0
    fs = fs.write("large", b"l" * MiB)
    g = Git(repo)
    assert loose_object_ids(repo) - loose0 == {g.rev("main:large")}
    assert fs.read("large") == b"l" * MiB
    assert fs.read("small", offset=MiB - 4) == b"sss"
    assert_fsck_clean(repo)


def _objects_size(repo) -> int:
    return sum(f.stat().st_size for f in (repo / "objects").rglob("*") if f.is_file())


@pytest.mark.parametrize("random_first", [True, False])
def test_compression_is_decided_along_the_file(tmp_path, random_first):
    """A big file that changes from random bytes to text (or back) takes
    about the room git gives it: compression is decided per span of the
    content, not once from its start."""
    from gitstore import GitStore
    import random
    rng = random.Random(7)
    noise = rng.randbytes(MiB)
    text = b"".join(b"line %d of ordinary text that compresses\n" % i
                    for i in range(200_000))[:7 * MiB]
    data = noise + text if random_first else text + noise
    ours = tmp_path / "ours.git"
    fs = GitStore.open(ours).branches["main"]
    before = _objects_size(ours)
    fs = fs.write("mixed.bin", data)
    ours_size = _objects_size(ours) - before

    theirs = tmp_path / "theirs.git"
    git_run("init", "-q", "--bare", theirs)
    (tmp_path / "mixed.bin").write_bytes(data)
    git_run("--git-dir", theirs, "hash-object", "-w", tmp_path / "mixed.bin")
    git_size = _objects_size(theirs)
    assert ours_size <= 1.2 * git_size, (ours_size, git_size)
    assert fs.read("mixed.bin") == data
    assert_fsck_clean(ours)
