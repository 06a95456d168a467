"""Commit-time merges of small packs, spread over several commits.

A merge too big for one commit is written a slice per commit into a
temporary pack of its own; once complete it is put in place and the
merged packs go.  These tests watch that from outside: the temporary
file between commits, what happens when another process merges the same
packs first, when the store goes away mid-merge, and across fork().
"""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from gitstore import GitStore

from support import assert_fsck_clean, git_run, pack_names, pack_object_ids

# Incompressible files this size, one per commit: four of them make a
# merge several commits long.
CHUNK = 100 * 1024


def temporary_packs(path) -> list[str]:
    """Packs being written: named temporary files, or unnamed ones
    (O_TMPFILE) this process has open in the pack directory."""
    pack_dir = path / "objects" / "pack"
    found = [p.name for p in pack_dir.glob("tmp_*")]
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(f"{pack_dir}/#") and target.endswith(" (deleted)"):
            found.append(target)
    return sorted(found)


def write_until_merging(fs, path, rng, limit=40):
    """Commit big files until a merge is in progress between two commits;
    the last snapshot, and the contents written."""
    written = {}
    for i in range(limit):
        name = f"c/{i:02d}.bin"
        written[name] = rng.randbytes(CHUNK)
        fs = fs.write(name, written[name])
        if temporary_packs(path):
            return fs, written
    pytest.fail("no merge was ever in progress between commits")


def assert_intact(repo, written, fs=None):
    """Every file written reads back (through `fs`, or a store opened
    afresh) and git fsck accepts the repository."""
    fs = fs or GitStore.open(repo).branches["main"]
    for name, data in written.items():
        assert fs.read(name) == data
    assert_fsck_clean(repo)


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "m.git"
    GitStore.open(path)
    return path


def test_a_big_merge_is_spread_over_commits(repo):
    store = GitStore.open(repo)
    rng = random.Random(1)
    fs, written = write_until_merging(store.branches["main"], repo, rng)
    packs_before = pack_names(repo)
    # While it is in progress, git sees a sound repository without it.
    assert_fsck_clean(repo)
    steps = 0
    while temporary_packs(repo):
        steps += 1
        assert steps < 20, "the merge never ends"
        fs = fs.write(f"small/{steps}.txt", b"%d\n" % steps)
    assert steps >= 1
    after = pack_names(repo)
    assert len(after) < len(packs_before) + steps
    assert_intact(repo, written, fs)


def test_the_store_going_away_finishes_its_merge(repo):
    store = GitStore.open(repo)
    fs, written = write_until_merging(store.branches["main"], repo, random.Random(2))
    count = len(pack_names(repo))
    del store, fs
    gc.collect()
    assert temporary_packs(repo) == []
    assert len(pack_names(repo)) < count
    assert_intact(repo, written)


def test_packs_merged_elsewhere_meanwhile_end_the_merge(repo):
    store = GitStore.open(repo)
    fs, written = write_until_merging(store.branches["main"], repo, random.Random(3))
    # Another process takes every pack in first.
    git_run("--git-dir", str(repo), "repack", "-a", "-d", "-q")
    for i in range(20):
        if not temporary_packs(repo):
            break
        fs = fs.write(f"after/{i}.txt", b"%d\n" % i)
    del store, fs
    gc.collect()
    assert temporary_packs(repo) == []
    # Its objects were not copied a second time.
    for data in written.values():
        blob = git_run("hash-object", "--stdin", input=data).stdout.decode().strip()
        holders = [name for name in pack_names(repo) if blob in pack_object_ids(repo, name)]
        assert len(holders) == 1, holders
    assert_intact(repo, written)


def test_pack_takes_in_a_merge_in_progress(repo):
    store = GitStore.open(repo)
    fs, written = write_until_merging(store.branches["main"], repo, random.Random(4))
    store.pack()
    assert temporary_packs(repo) == []
    assert len(pack_names(repo)) == 1
    assert_intact(repo, written, fs)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_leaves_its_parents_merge_alone(repo):
    store = GitStore.open(repo)
    fs, written = write_until_merging(store.branches["main"], repo, random.Random(5))
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # Slices written into the parent's temporary pack (the two
            # share its file offset) would corrupt the parent's merge.
            child = fs
            for i in range(4):
                child = child.write(f"child{i}.txt", b"%d\n" % i)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    # The child's commits moved the branch: the parent continues from there.
    fs = store.branches["main"]
    for i in range(12):
        fs = fs.write(f"parent/{i}.txt", b"%d\n" % i)
    del store, fs
    gc.collect()
    assert temporary_packs(repo) == []
    assert_intact(repo, written)
    assert GitStore.open(repo).branches["main"].read("child3.txt") == b"3\n"


def delta_count(repo) -> int:
    """Entries stored as deltas, over every pack (git verify-pack -v)."""
    total = 0
    for name in pack_names(repo):
        out = git_run("verify-pack", "-v", repo / "objects" / "pack" / f"{name}.idx").stdout
        for line in out.decode().splitlines():
            fields = line.split()
            # id type size size-in-pack offset [depth base]
            total += len(fields) == 7 and len(fields[0]) == 40
    return total


def test_merges_store_older_versions_as_deltas(repo):
    # Each commit changes one line of a file and so rewrites the file,
    # its directory and the root: the merges that follow store each older
    # version as a delta against the newer one, which git gc keeps.
    store = GitStore.open(repo)
    fs = store.branches["main"]
    lines = [b"line %04d of a file that changes one line at a time\n" % i for i in range(80)]
    for i in range(6):
        fs = fs.write(f"other/{i}.txt", b"%d\n" % i)
    for i in range(60):
        lines[i % len(lines)] = b"changed %04d\n" % i
        fs = fs.write("docs/text.txt", b"".join(lines))
    del store
    gc.collect()
    assert delta_count(repo) >= 45
    written = sum(p.stat().st_size for p in (repo / "objects").rglob("*.pack"))
    git_run("--git-dir", str(repo), "gc", "-q")
    assert delta_count(repo) >= 45
    after = sum(p.stat().st_size for p in (repo / "objects").rglob("*.pack"))
    assert after <= written
    fs = GitStore.open(repo).branches["main"]
    assert fs.read("docs/text.txt") == b"".join(lines)
    assert len(list(fs.log(path="docs/text.txt"))) == 60
    assert_fsck_clean(repo)


def test_a_process_killed_mid_merge_leaves_nothing_behind(repo):
    # The merge's pack is an unnamed file until it is complete: a SIGKILL
    # between two commits leaves no temporary file, and every commit made.
    script = textwrap.dedent('''
        import os, random, signal, sys
        sys.path[:0] = sys.argv[2:]
        from pathlib import Path
        from gitstore import GitStore
        from test_pack_merges import write_until_merging
        repo = Path(sys.argv[1])
        fs, written = write_until_merging(
            GitStore.open(repo).branches["main"], repo, random.Random(6))
        print(fs.commit_hash, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    ''')
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run([sys.executable, "-c", script, str(repo), here, *sys.path],
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    tip = proc.stdout.strip()
    assert list((repo / "objects" / "pack").glob("tmp_*")) == []
    fs = GitStore.open(repo).branches["main"]
    assert fs.commit_hash == tip
    assert len(list(fs.ls("c"))) >= 4
    assert_fsck_clean(repo)


def test_merges_keep_up_with_big_commits(repo):
    # Each commit adds more than a merge step copies at its smallest: the
    # steps grow with the commits, so the packs stay few (with steps of a
    # fixed size, 80 commits of 200 KiB left 56 packs).
    store = GitStore.open(repo)
    fs = store.branches["main"]
    rng = random.Random(7)
    most = 0
    for i in range(80):
        fs = fs.write(f"big/{i:02d}.bin", rng.randbytes(200 * 1024))
        most = max(most, len(pack_names(repo)))
    assert most <= 32
    assert fs.read("big/00.bin") == random.Random(7).randbytes(200 * 1024)
    assert_fsck_clean(repo)


def test_dropping_a_store_while_another_thread_holds_the_lock(repo, tmp_path):
    # The store going away must not wait for the repository lock: the
    # thread holding it (here a backup calling back into Python) needs
    # the GIL the dropping thread would keep.  Run apart, with a time
    # limit, so that a deadlock fails the test instead of hanging it.
    script = textwrap.dedent('''
        import gc, random, sys, threading, time
        sys.path[:0] = sys.argv[3:]
        from pathlib import Path
        from gitstore import GitStore
        from test_pack_merges import write_until_merging
        repo, bundle = Path(sys.argv[1]), sys.argv[2]
        first = GitStore.open(repo)
        write_until_merging(first.branches["main"], repo, random.Random(8))
        inside = threading.Event()
        def progress(line):
            inside.set()
            time.sleep(0.3)
        other = GitStore.open(repo)
        worker = threading.Thread(target=other.backup, args=(bundle,),
                                  kwargs={"progress": progress})
        worker.start()
        inside.wait()
        del first
        gc.collect()
        worker.join()
        print("done")
    ''')
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run(
        [sys.executable, "-c", script, str(repo), str(tmp_path / "b.bundle"), here, *sys.path],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr
    assert_fsck_clean(repo)
