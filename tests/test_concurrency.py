"""Concurrency and interoperability with vost.

* several processes retry_write-ing on one branch lose nothing;
* two store objects racing in threads: one wins, the other gets
  StaleSnapshotError (no lost update);
* readers in threads while a writer commits only ever see complete
  snapshots;
* the repository lock is ``<repo>/gitstore.lock`` taken with flock(2), so
  writers of the pure-Python implementations (vost pointed at that lock
  file, and the pure-Python gitstore when it is installed) exclude each
  other with gitstore;
* vost reads what gitstore writes and the other way round.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from gitstore import FileType, GitStore, StaleSnapshotError, WriteEntry, retry_write

from support import Git, assert_fsck_clean, reflog_lines

import vost  # noqa: E402  (a test dependency: bootstrap installs it)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

GITSTORE_WORKER = textwrap.dedent("""
    import os, sys, time
    from gitstore import GitStore, retry_write
    path, wid, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = GitStore.open(path, create=False)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(n):
        retry_write(store, "main", f"{wid}/{i}.txt", f"{wid}-{i}".encode(), retries=200)
    print("done", flush=True)
""")

# vost writer whose repository lock is <repo>/gitstore.lock (as the pure-Python
# gitstore's is); vost itself uses vost.lock.
VOST_WORKER = textwrap.dedent("""
    import os, sys, time
    import vost, vost._lock
    def _gitstore_lock_path(repo_path):
        if os.path.isdir(repo_path):
            return os.path.join(repo_path, "gitstore.lock")
        return repo_path + ".lock"
    vost._lock._lock_path = _gitstore_lock_path
    path, wid, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = vost.GitStore.open(path, create=False)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(n):
        vost.retry_write(store, "main", f"{wid}/{i}.txt", f"{wid}-{i}".encode(), retries=200)
    print("done", flush=True)
""")


def _spawn(script: str, args, extra_env=None) -> subprocess.Popen:
    env = dict(os.environ)
    if extra_env:
        env.update(extra_env)
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _run_workers(specs, go: Path, timeout: float = 60.0):
    """Start every (script, args, env) worker, wait until all are ready, then
    release them together.  Returns nothing; raises if any worker failed."""
    procs = [_spawn(script, args, extra_env) for script, args, extra_env in specs]
    try:
        for p in procs:
            line = p.stdout.readline()
            if line.strip() != b"ready":
                out, err = p.communicate(timeout=timeout)
                raise AssertionError(f"worker failed to start: {line!r} {err.decode()}")
        go.touch()
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err.decode()
            assert out.strip() == b"done", (out, err)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _run_threads(targets):
    errors = []

    def wrap(fn, *args):
        try:
            fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(fn, *args)) for fn, *args in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise errors[0]


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "c.git"
    GitStore.open(path)
    yield path
    assert_fsck_clean(path)


def _check_linear_commits(path, expected_messages_count: int) -> list[str]:
    """main is a linear chain of initial + n commits; reflog has n entries
    chaining old->new.  Returns the reflog messages."""
    g = Git(path)
    chain = g.lines("rev-list", "--first-parent", "main")
    assert len(chain) == expected_messages_count + 1
    assert len(g.lines("rev-list", "main")) == expected_messages_count + 1
    lines = reflog_lines(path)
    assert len(lines) == expected_messages_count
    prev = chain[-1]
    messages = []
    for line in lines:
        head, message = line.split("\t", 1)
        old, new = head.split(" ")[:2]
        assert old == prev
        prev = new
        messages.append(message)
    assert prev == chain[0]
    return messages


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

class TestProcesses:
    def test_four_processes_retry_write(self, repo, tmp_path):
        reader = GitStore.open(repo)        # opened before any of the new packs exist
        before = reader.branches["main"]
        n_proc, n_each = 4, 25
        go = tmp_path / "go"
        _run_workers([(GITSTORE_WORKER, [repo, f"w{k}", n_each, go], None)
                      for k in range(n_proc)], go)
        fs = reader.branches["main"]
        assert fs.commit_hash != before.commit_hash
        expected = {f"w{k}/{i}.txt": f"w{k}-{i}".encode()
                    for k in range(n_proc) for i in range(n_each)}
        got = {}
        for dirpath, _dirs, files in fs.walk():
            for entry in files:
                p = f"{dirpath}/{entry.name}" if dirpath else entry.name
                got[p] = fs.read(p)
        assert got == expected
        messages = _check_linear_commits(repo, n_proc * n_each)
        assert sorted(messages) == sorted(f"commit: + {p}" for p in expected)
        assert [e.message for e in reader.branches.reflog("main")] == messages
        # git agrees on the content
        g = Git(repo)
        assert sorted(g.lines("ls-tree", "-r", "--name-only", "main")) == sorted(expected)
        assert g("cat-file", "-p", "main:w3/24.txt") == "w3-24"

    def test_flock_holder_blocks_writers(self, repo, tmp_path):
        lock = repo / "gitstore.lock"
        holder = textwrap.dedent("""
            import fcntl, os, sys, time
            fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX)
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
            fcntl.flock(fd, fcntl.LOCK_UN)
        """)
        p = subprocess.Popen([sys.executable, "-c", holder, str(lock), "0.8"],
                             stdout=subprocess.PIPE)
        try:
            assert p.stdout.readline().strip() == b"locked"
            store = GitStore.open(repo)
            fs = store.branches["main"]
            t0 = time.monotonic()
            new = fs.write("x", b"1")
            waited = time.monotonic() - t0
        finally:
            p.wait(10)
        assert waited >= 0.5, f"write did not wait for the flock holder ({waited:.3f}s)"
        assert Git(repo).rev("main") == new.commit_hash

    def test_lock_file_is_kept(self, repo):
        store = GitStore.open(repo)
        store.branches["main"].write("x", b"1")
        assert (repo / "gitstore.lock").is_file()
        store.branches["main"].write("y", b"1")
        assert (repo / "gitstore.lock").is_file()

    def test_vost_and_gitstore_writers_exclude_each_other(self, repo, tmp_path):
        n_each = 25
        go = tmp_path / "go"
        _run_workers([
            (GITSTORE_WORKER, [repo, "gs", n_each, go], None),
            (VOST_WORKER, [repo, "vo", n_each, go], None),
            (GITSTORE_WORKER, [repo, "gs2", n_each, go], None),
        ], go)
        fs = GitStore.open(repo).branches["main"]
        for wid in ("gs", "vo", "gs2"):
            assert sorted(fs.ls(wid)) == sorted(f"{i}.txt" for i in range(n_each))
            for i in range(n_each):
                assert fs.read(f"{wid}/{i}.txt") == f"{wid}-{i}".encode()
        messages = _check_linear_commits(repo, 3 * n_each)
        assert all(m.startswith("commit: + ") for m in messages)


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------

class TestThreads:
    def test_two_stores_race_one_wins(self, repo):
        stores = [GitStore.open(repo), GitStore.open(repo)]
        rounds = 25
        barrier = threading.Barrier(2, timeout=30)
        results = [dict(), dict()]

        def worker(k):
            store = stores[k]
            for r in range(rounds):
                barrier.wait()
                fs = store.branches["main"]
                barrier.wait()          # both hold the same tip now
                try:
                    out = fs.write(f"t{k}/{r}", b"%d-%d" % (k, r))
                    results[k][r] = ("ok", out.commit_hash)
                except StaleSnapshotError as e:
                    results[k][r] = ("stale", str(e))

        _run_threads([(worker, 0), (worker, 1)])
        winners = []
        for r in range(rounds):
            kinds = sorted(results[k][r][0] for k in range(2))
            assert kinds == ["ok", "stale"], (r, results[0][r], results[1][r])
            for k in range(2):
                if results[k][r][0] == "stale":
                    assert results[k][r][1] == "Branch 'main' has advanced since this snapshot"
                else:
                    winners.append(f"t{k}/{r}")
        fs = GitStore.open(repo).branches["main"]
        files = set()
        for dirpath, _d, entries in fs.walk():
            files.update(f"{dirpath}/{e.name}" for e in entries)
        assert files == set(winners)
        _check_linear_commits(repo, rounds)

    def test_threads_retry_write_lose_nothing(self, repo):
        stores = [GitStore.open(repo) for _ in range(3)]
        n_each = 15

        def worker(k):
            for i in range(n_each):
                retry_write(stores[k], "main", f"r{k}/{i}", b"%d" % i, retries=500)

        _run_threads([(worker, k) for k in range(3)])
        fs = stores[0].branches["main"]
        for k in range(3):
            assert sorted(fs.ls(f"r{k}"), key=int) == [str(i) for i in range(n_each)]
        _check_linear_commits(repo, 3 * n_each)

    def test_one_store_shared_by_threads(self, repo):
        store = GitStore.open(repo)
        n_each = 10

        def worker(k):
            for i in range(n_each):
                retry_write(store, "main", f"s{k}/{i}", b"x", retries=500)

        _run_threads([(worker, k) for k in range(4)])
        fs = store.branches["main"]
        assert sum(len(fs.ls(f"s{k}")) for k in range(4)) == 4 * n_each
        _check_linear_commits(repo, 4 * n_each)

    def test_readers_see_complete_snapshots(self, repo):
        writer_store = GitStore.open(repo)
        shared_store = GitStore.open(repo)
        first = writer_store.branches["main"].apply(
            {"a": b"0", "b": b"0", "sub/c": b"0"}, message="gen 0")
        pinned = shared_store.branches["main"]         # one snapshot shared by readers
        generations = 40
        done = threading.Event()
        seen = []

        def writer():
            fs = first
            try:
                for i in range(1, generations + 1):
                    big = (b"%d|" % i) * (2000 + i)
                    fs = fs.apply({"a": b"%d" % i, "b": b"%d" % i, "sub/c": b"%d" % i,
                                   "big": big},
                                  removes=[f"gone{i - 1}"] if i > 1 else None,
                                  message=f"gen {i}")
                    fs = fs.write(f"gone{i}", b"g", message=f"gen {i}")
                    fs = fs.apply(removes=f"gone{i}", message=f"gen {i}")
            finally:
                done.set()

        def reader(kind):
            own = GitStore.open(repo) if kind == "own" else shared_store
            count = 0
            while not done.is_set() or count < 5:
                fs = own.branches["main"]
                a, b, c = fs.read("a"), fs.read("b"), fs.read("sub/c")
                assert a == b == c, (a, b, c)
                assert fs.message == f"gen {int(a)}"
                if int(a) > 0:
                    assert fs.read("big") == (a + b"|") * (2000 + int(a))
                    assert fs.size("big") == len(a + b"|") * (2000 + int(a))
                names = set(fs.ls())
                assert {"a", "b", "sub"} <= names
                # the pinned snapshot never changes
                assert pinned.read("a") == b"0"
                assert pinned.ls() == ["a", "b", "sub"]
                assert [e for e in pinned.walk()][1][0] == "sub"
                seen.append(int(a))
                count += 1

        _run_threads([(writer,), (reader, "shared"), (reader, "shared"), (reader, "own"),
                      (reader, "own")])
        assert max(seen) == generations
        assert GitStore.open(repo).branches["main"].read("a") == b"%d" % generations

    def test_read_while_other_store_writes_new_packs(self, repo):
        reader = GitStore.open(repo)
        writer = GitStore.open(repo)
        fs = writer.branches["main"]
        for i in range(20):
            fs = fs.write(f"p{i}", b"pack %d" % i)
            snap = reader.branches["main"]
            assert snap.commit_hash == fs.commit_hash
            assert snap.read(f"p{i}") == b"pack %d" % i


# ---------------------------------------------------------------------------
# interoperability with vost
# ---------------------------------------------------------------------------

def _snapshot_view(fs):
    """{path: (file_type value, bytes)} of every file, via walk + read."""
    out = {}
    for dirpath, _dirs, files in fs.walk():
        for e in files:
            p = f"{dirpath}/{e.name}" if dirpath else e.name
            out[p] = (str(fs.file_type(p).value), fs.read(p))
    return out


def _history(fs):
    return [(s.commit_hash, s.tree_hash, s.message) for s in fs.log()]


class TestVostInterop:
    def _write_with_gitstore(self, path, tmp_path):
        store = GitStore.open(path)
        fs = store.branches["main"]
        local = tmp_path / "local.sh"
        local.write_bytes(b"#!/bin/sh\nexit 0\n")
        os.chmod(local, 0o755)
        fs = fs.write("a.txt", b"alpha\n")
        fs = fs.write_text("ünï/文件.txt", "unicode\n")
        fs = fs.write_symlink("link", "a.txt")
        fs = fs.write_from_file("bin/tool", local)
        fs = fs.write("empty", b"")
        fs = fs.write("big.bin", bytes(range(256)) * 8192)          # 2 MiB: a loose blob
        fs = fs.apply({"d/e/f.txt": b"f", "d/g.txt": b"g",
                       "exe": WriteEntry(b"x", mode=FileType.EXECUTABLE)},
                      removes="empty", message="multi\nline\n")
        with fs.batch(operation="op") as b:
            b.write("batch1", b"1")
            b.remove("d/g.txt")
        return store, b.fs

    def test_vost_reads_what_we_write(self, tmp_path):
        path = tmp_path / "ours.git"
        store, tip = self._write_with_gitstore(path, tmp_path)
        v = vost.GitStore.open(str(path), create=False)
        vfs = v.branches["main"]
        assert vfs.commit_hash == tip.commit_hash
        assert vfs.tree_hash == tip.tree_hash
        assert _snapshot_view(vfs) == _snapshot_view(tip)
        assert vfs.readlink("link") == "a.txt"
        assert _history(vfs) == _history(tip)
        assert vfs.message == tip.message == "Batch op: +1 -1"
        assert vfs.author_name == "gitstore"
        assert [e.message for e in v.branches.reflog("main")] == [
            e.message for e in store.branches.reflog("main")]
        assert_fsck_clean(path)

    def test_we_read_what_vost_writes(self, tmp_path):
        path = tmp_path / "theirs.git"
        v = vost.GitStore.open(str(path), author="V Writer", email="v@example.org")
        vfs = v.branches["main"]
        vfs = vfs.write("a.txt", b"alpha\n")
        vfs = vfs.write("run.sh", b"#!/bin/sh\n", mode=vost.FileType.EXECUTABLE)
        vfs = vfs.write_symlink("link", "a.txt")
        vfs = vfs.write("big.bin", b"\x00\x01" * (1 << 20))
        vfs = vfs.write("ünï/文件.txt", "unicode\n".encode())
        vfs = vfs.apply({"d/x": b"x", "d/y": b"y"}, removes="a.txt", message="vost apply")
        with vfs.batch() as b:
            b.write("batch", b"b")
        vfs = b.fs
        ours = GitStore.open(path, create=False)
        fs = ours.branches["main"]
        assert fs.commit_hash == vfs.commit_hash
        assert fs.tree_hash == vfs.tree_hash
        assert _snapshot_view(fs) == _snapshot_view(vfs)
        assert fs.stat("run.sh").mode == 0o100755
        assert fs.readlink("link") == "a.txt"
        assert _history(fs) == _history(vfs)
        assert fs.author_name == "V Writer" and fs.author_email == "v@example.org"
        assert [(e.old_sha, e.new_sha, e.message) for e in ours.branches.reflog("main")] == [
            (e.old_sha, e.new_sha, e.message) for e in v.branches.reflog("main")]
        # and we can continue the history vost started
        new = fs.write("ours.txt", b"ours")
        assert new.parent.commit_hash == vfs.commit_hash
        v2 = vost.GitStore.open(str(path), create=False)
        assert v2.branches["main"].read("ours.txt") == b"ours"
        assert v2.branches["main"].read("big.bin") == b"\x00\x01" * (1 << 20)
        assert_fsck_clean(path)

    def test_same_content_same_tree(self, tmp_path):
        files = {"a.txt": b"a", "a-b": b"1", "a.b": b"2", "ab/x": b"3", "a/x": b"4",
                 "B": b"5", "deep/er/est.txt": b"deep", "exe": b"#!"}
        ours = GitStore.open(tmp_path / "o.git").branches["main"].apply(
            {**files, "exe": WriteEntry(b"#!", mode=FileType.EXECUTABLE),
             "sym": WriteEntry(target="a.txt")})
        theirs = vost.GitStore.open(str(tmp_path / "t.git")).branches["main"].apply(
            {**files, "exe": vost.WriteEntry(b"#!", mode=vost.FileType.EXECUTABLE),
             "sym": vost.WriteEntry(target="a.txt")})
        assert ours.tree_hash == theirs.tree_hash
        assert ours.message == theirs.message

    def test_undo_by_vost_redo_by_us(self, tmp_path):
        path = tmp_path / "ur.git"
        v = vost.GitStore.open(str(path))
        one = v.branches["main"].write("one", b"1")
        two = one.write("two", b"2")
        two.undo()
        fs = GitStore.open(path, create=False).branches["main"]
        assert fs.commit_hash == one.commit_hash
        again = fs.redo()
        assert again.commit_hash == two.commit_hash
        assert vost.GitStore.open(str(path), create=False).branches["main"].commit_hash == \
            two.commit_hash
        # and vost can undo what we wrote
        mine = again.write("three", b"3")
        vmine = vost.GitStore.open(str(path), create=False).branches["main"]
        assert vmine.commit_hash == mine.commit_hash
        back = vmine.undo()
        assert back.commit_hash == two.commit_hash
        assert GitStore.open(path, create=False).branches["main"].commit_hash == two.commit_hash


class TestPackConsolidation:
    """Every commit writes a pack; past a limit they are merged.  Snapshots
    and stores opened before a merge keep reading."""

    def test_many_commits_old_snapshots_keep_reading(self, repo):
        writer = GitStore.open(repo)
        reader = GitStore.open(repo)
        fs = writer.branches["main"]
        snaps = []
        for i in range(45):
            fs = fs.write(f"f{i:02d}", b"%d" % i)
            snaps.append(fs)
            assert reader.branches["main"].read(f"f{i:02d}") == b"%d" % i
        packs = list((repo / "objects" / "pack").glob("*.pack"))
        assert len(packs) < 40, "packs are never consolidated"
        for i, snap in enumerate(snaps):
            assert snap.read(f"f{i:02d}") == b"%d" % i
            assert len(snap.ls()) == i + 1
        assert [s.message for s in snaps[-1].log()][-3:] == ["+ f01", "+ f00",
                                                             "Initialize main"]
        g = Git(repo)
        assert len(g.lines("rev-list", "main")) == 46
        assert g("cat-file", "-p", f"{snaps[0].commit_hash}:f00") == "0"


READER_WORKER = textwrap.dedent("""
    import os, sys
    from gitstore import GitStore
    path, go, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    store = GitStore.open(path, create=False)
    print("ready", flush=True)
    while not os.path.exists(go):
        pass
    reads = 0
    while not os.path.exists(stop) or reads < 50:
        fs = store.branches["main"]
        names = fs.ls("w") if fs.exists("w") else []
        for name in names:
            assert fs.read("w/" + name) == name.encode()
        reads += 1
    print("done", reads, flush=True)
""")


class TestPacksSeenAcrossProcesses:
    def test_reader_never_misses_objects_of_fresh_or_merged_packs(self, repo, tmp_path):
        # A writer in this process makes many commits (each a new pack, with
        # merges that delete packs) while another process keeps reading the
        # newest snapshot: every object a ref names must be found.
        go, stop = tmp_path / "go", tmp_path / "stop"
        reader = _spawn(READER_WORKER, [repo, go, stop])
        assert reader.stdout.readline().decode().strip() == "ready"
        go.touch()
        fs = GitStore.open(repo).branches["main"]
        for i in range(80):
            fs = fs.write(f"w/{i}", str(i).encode())
        stop.touch()
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err.decode()
        assert out.decode().startswith("done")
        assert_fsck_clean(repo)
