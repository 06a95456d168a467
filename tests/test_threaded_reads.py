"""Reads through one FS from many threads, and the argument forms of the
queries that take the short path to the core (read, read_text, exists,
stat): answers are compared with git's.

* threads share one FS (one store) while another process commits and
  merges packs: a pack a merge removes never fails or changes a read;
* small loose blobs are read whole at once, bigger ones streamed: both
  give git's bytes, whole and in slices, on either side of the boundary;
* keyword and positional forms, non-ASCII and non-UTF-8 names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from gitstore import GitStore

from support import (Git, assert_fsck_clean, git_run, loose_object_ids, make_loose_objects,
                     pack_names)

SMALL_READ = 64 * 1024   # what the core reads whole at once


def _run_threads(work, n):
    errors = []

    def guarded(i):
        try:
            work(i)
        except BaseException as exc:   # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _git_files(repo, rev="main"):
    """{path: bytes} of every file at rev, as git reads them."""
    g = Git(repo)
    return {path: g.cat(sha) for path, (_mode, sha) in g.files(rev).items()}


# A writer in another process: commits one file at a time and packs the
# repository every few commits, so that packs come and go under the readers.
WRITER = textwrap.dedent("""
    import os, sys
    from gitstore import GitStore
    path, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = GitStore.open(path, create=False)
    print("ready", flush=True)
    while not os.path.exists(go):
        pass
    fs = store.branches["main"]
    for i in range(n):
        fs = fs.write(f"new/{i}.txt", b"%d\\n" % i * (i + 1))
        if i % 7 == 6:
            store.pack()
    print("done", flush=True)
""")


class TestThreadsShareOneFS:
    def test_reads_survive_commits_and_pack_merges_in_another_process(self, tmp_path):
        repo = tmp_path / "r.git"
        store = GitStore.open(repo)
        files = {f"d{i % 5}/f{i}.txt": (b"line %d\n" % i) * (1 + i % 300) for i in range(200)}
        files["big/one.bin"] = bytes(range(256)) * 400          # 100 KiB, packed
        fs = store.branches["main"].apply(files, message="seed")
        expected = _git_files(repo)
        assert set(expected) == set(files)
        packs_before = pack_names(repo)

        go = tmp_path / "go"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(repo), str(go), "60"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert writer.stdout.readline().decode().strip() == "ready"
        finished = threading.Event()
        counts = [0] * 4

        def reader(i):
            paths = sorted(expected)[i::4]
            go.touch()
            while not finished.is_set() or counts[i] < 3 * len(paths):
                for p in paths:
                    assert fs.read(p) == expected[p], p
                    assert fs.exists(p)
                    counts[i] += 1
                # the branch's newest snapshot reads the same files
                tip = store.branches["main"]
                assert tip.read(paths[0]) == expected[paths[0]]
                assert tip.stat(paths[0]).size == len(expected[paths[0]])

        def wait_writer(_):
            out, err = writer.communicate(timeout=120)
            finished.set()
            assert writer.returncode == 0, err.decode()
            assert out.decode().split() == ["done"]

        _run_threads(lambda i: reader(i) if i < 4 else wait_writer(i), 5)
        assert min(counts) > 0
        # Merges removed packs the readers started from.
        assert packs_before - pack_names(repo)
        assert _git_files(repo, fs.commit_hash) == expected
        tip = store.branches["main"]
        assert tip.read("new/59.txt") == b"59\n" * 60
        assert_fsck_clean(repo)

    def test_reads_survive_commits_and_pack_merges_in_another_thread(self, tmp_path):
        # The same store writes and packs in one thread while four others
        # read an older snapshot of it.
        repo = tmp_path / "r.git"
        store = GitStore.open(repo)
        files = {f"d{i % 3}/f{i}.txt": (b"%d," % i) * (1 + 37 * i) for i in range(120)}
        fs = store.branches["main"].apply(files, message="seed")
        expected = _git_files(repo)
        packs_before = pack_names(repo)
        finished = threading.Event()

        def writer():
            tip = fs
            try:
                for i in range(40):
                    tip = tip.write(f"d{i % 3}/f{i}.txt", b"changed %d" % i)
                    if i % 5 == 4:
                        store.pack()
            finally:
                finished.set()

        def reader(i):
            rounds = 0
            while not finished.is_set() or rounds < 2:
                for p in sorted(expected)[i::4]:
                    assert fs.read(p) == expected[p]
                    assert fs.read_text(p, encoding="ascii") == expected[p].decode()
                rounds += 1

        _run_threads(lambda i: writer() if i == 4 else reader(i), 5)
        assert packs_before - pack_names(repo)
        assert {p: fs.read(p) for p in expected} == expected
        assert store.branches["main"].read("d0/f39.txt") == b"changed 39"
        assert_fsck_clean(repo)

    def test_threads_read_the_same_files_at_once(self, tmp_path):
        repo = tmp_path / "r.git"
        store = GitStore.open(repo)
        files = {f"f{i}": os.urandom(17 * i) for i in range(100)}
        fs = store.branches["main"].apply(files)
        expected = _git_files(repo)

        def reader(i):
            for _ in range(20):
                for p in sorted(expected):
                    assert fs.read(p) == expected[p]
                    assert fs.read(p, offset=i, size=5) == expected[p][i:i + 5]

        _run_threads(reader, 4)


class TestLooseBlobs:
    SIZES = [0, 1, 1000, SMALL_READ - 1, SMALL_READ, SMALL_READ + 1, 3 * SMALL_READ]

    @pytest.fixture
    def loose(self, tmp_path):
        repo = tmp_path / "loose.git"
        git_run("init", "-q", "--bare", repo)
        files = {f"s{size}": bytes((i * 7 + size) % 251 for i in range(size))
                 for size in self.SIZES}
        shas = make_loose_objects(repo, files)
        assert {shas[name] for name in files} <= loose_object_ids(repo)
        return GitStore.open(repo, create=False).branches["main"], _git_files(repo)

    def test_whole_reads_match_git(self, loose):
        fs, expected = loose
        for path, data in expected.items():
            assert fs.read(path) == data
            assert fs.read_text(path, encoding="latin-1") == data.decode("latin-1")

    @pytest.mark.parametrize("offset,size", [(0, 10), (5, SMALL_READ), (SMALL_READ - 3, 7),
                                             (SMALL_READ, None), (1, SMALL_READ + 5),
                                             (10 ** 9, 4)])
    def test_slices_match_git(self, loose, offset, size):
        fs, expected = loose
        for path, data in expected.items():
            want = data[offset:] if size is None else data[offset:offset + size]
            assert fs.read(path, offset=offset, size=size) == want

    def test_sequential_slices_then_whole(self, loose):
        fs, expected = loose
        data = expected[f"s{3 * SMALL_READ}"]
        step = 50_000
        got = b"".join(fs.read(f"s{3 * SMALL_READ}", offset=o, size=step)
                       for o in range(0, len(data), step))
        assert got == data
        assert fs.read(f"s{3 * SMALL_READ}") == data

    def test_threads_read_loose_blobs(self, loose):
        fs, expected = loose

        def reader(i):
            for _ in range(10):
                for path, data in expected.items():
                    assert fs.read(path) == data
                    assert fs.read(path, offset=i, size=100) == data[i:i + 100]

        _run_threads(reader, 4)


class TestArgumentForms:
    @pytest.fixture
    def fs(self, tmp_path):
        store = GitStore.open(tmp_path / "r.git")
        return store.branches["main"].apply({
            "a.txt": b"hello\n",
            "dir/b.txt": b"bee\n",
            "ünï/文件.txt": "unicode\n".encode(),
            b"raw/caf\xe9.txt".decode("utf-8", "surrogateescape"): b"not utf-8\n",
        })

    def test_keywords(self, fs):
        assert fs.read(path="a.txt") == b"hello\n"
        assert fs.read(path="a.txt", offset=1, size=3) == b"ell"
        assert fs.read("a.txt", size=2) == b"he"
        assert fs.read_text(path="a.txt") == "hello\n"
        assert fs.read_text("a.txt", "ascii") == "hello\n"
        assert fs.read_text(path="a.txt", encoding="ascii") == "hello\n"
        assert fs.exists(path="dir/b.txt")
        assert fs.stat(path="a.txt").size == 6
        assert fs.stat(path=None) == fs.stat() == fs.stat("") == fs.stat("/")

    @pytest.mark.parametrize("call", [
        lambda fs: fs.read(),
        lambda fs: fs.read("a.txt", 1),
        lambda fs: fs.read("a.txt", bogus=1),
        lambda fs: fs.read("a.txt", path="a.txt"),
        lambda fs: fs.read_text(),
        lambda fs: fs.read_text("a.txt", "utf-8", "strict"),
        lambda fs: fs.read_text("a.txt", encoding=1),
        lambda fs: fs.exists(),
        lambda fs: fs.exists("a.txt", "b"),
        lambda fs: fs.exists(name="a.txt"),
        lambda fs: fs.stat("a.txt", "b"),
        lambda fs: fs.stat(name="a.txt"),
    ])
    def test_wrong_arguments(self, fs, call):
        with pytest.raises(TypeError):
            call(fs)

    def test_names_beyond_ascii(self, fs):
        for name in ("ünï/文件.txt", b"raw/caf\xe9.txt".decode("utf-8", "surrogateescape")):
            assert fs.exists(name)
            assert fs.read(name) == fs.read(name, offset=0)
            assert fs.stat(name).size == len(fs.read(name))
        assert fs.read_text("ünï/文件.txt") == "unicode\n"
        assert fs.read(b"raw/caf\xe9.txt".decode("utf-8", "surrogateescape")) == b"not utf-8\n"
        # the same name spelled as its UTF-8 would decode is a different name
        assert not fs.exists("raw/café.txt")

    def test_unencodable_surrogate(self, fs):
        with pytest.raises(UnicodeEncodeError):
            fs.read("a\ud800")
        with pytest.raises(UnicodeEncodeError):
            fs.exists("a\ud800")

    def test_nul_in_path(self, fs):
        for call in (fs.read, fs.exists, fs.stat, fs.read_text):
            with pytest.raises(ValueError, match="NUL"):
                call("a.txt\0x")

    def test_errors_name_the_normalised_path(self, fs):
        with pytest.raises(FileNotFoundError) as ei:
            fs.read("/dir/nope/")
        assert ei.value.args == ("dir/nope",)
        with pytest.raises(IsADirectoryError):
            fs.read("dir/")
        with pytest.raises(NotADirectoryError):
            fs.read("a.txt/x")
        assert not fs.exists("a.txt/x")
