"""No input may crash the interpreter: odd paths and names, corrupt
repositories, objects outliving their store, and many threads at once."""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest

from gitstore import GitError, GitStore

from support import (
    Commit, Exe, Git, Link, build_repo, loose_object_path, make_loose_objects,
)


@pytest.fixture(scope="module")
def hstore(history_repo):
    return GitStore.open(history_repo[0], create=False)


@pytest.fixture
def hfs(hstore):
    return hstore.branches["main"]


# ---------------------------------------------------------------------------
# NUL and other hostile strings
# ---------------------------------------------------------------------------

NUL_PATHS = ["\0", "a\0b", "a.txt\0", "\0a.txt", "dir/\0/x", "dir/sub\0/deep.txt"]

PATH_CALLS = {
    "read": lambda fs, p: fs.read(p),
    "read_text": lambda fs, p: fs.read_text(p),
    "exists": lambda fs, p: fs.exists(p),
    "is_dir": lambda fs, p: fs.is_dir(p),
    "file_type": lambda fs, p: fs.file_type(p),
    "size": lambda fs, p: fs.size(p),
    "object_hash": lambda fs, p: fs.object_hash(p),
    "stat": lambda fs, p: fs.stat(p),
    "readlink": lambda fs, p: fs.readlink(p),
    "ls": lambda fs, p: fs.ls(p),
    "listdir": lambda fs, p: fs.listdir(p),
    "walk": lambda fs, p: list(fs.walk(p)),
    "log": lambda fs, p: list(fs.log(path=p)),
}


class TestNul:
    @pytest.mark.parametrize("method", sorted(PATH_CALLS))
    @pytest.mark.parametrize("path", NUL_PATHS)
    def test_nul_in_path_is_value_error(self, hfs, method, path):
        with pytest.raises(ValueError):
            PATH_CALLS[method](hfs, path)

    @pytest.mark.parametrize("pattern", ["\0", "*\0", "a.txt\0", "**/\0*", "dir/\0"])
    def test_nul_in_glob_matches_nothing(self, hfs, pattern):
        assert hfs.glob(pattern) == []

    @pytest.mark.parametrize("name", ["a\0b", "main\0", "\0main", "\0"])
    def test_nul_in_ref_names(self, hstore, name):
        assert (name in hstore.branches) is False
        assert (name in hstore.tags) is False
        with pytest.raises(KeyError):
            hstore.branches[name]
        with pytest.raises(KeyError):
            hstore.tags[name]
        with pytest.raises(KeyError):
            hstore.branches.reflog(name)

    def test_nul_current_setter(self, tmp_path):
        path = tmp_path / "r.git"
        store = GitStore.open(path)
        with pytest.raises(KeyError):
            store.branches.current = "main\0"
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_nul_in_repository_path(self, tmp_path):
        for create in (True, False):
            with pytest.raises(ValueError):
                GitStore.open(str(tmp_path / "a\0b.git"), create=create)
        assert list(tmp_path.iterdir()) == []

    def test_nul_in_initial_branch(self, tmp_path):
        with pytest.raises(ValueError):
            GitStore.open(tmp_path / "r.git", branch="ma\0in")
        assert not (tmp_path / "r.git").exists()

    def test_nul_in_identity_does_not_crash(self, tmp_path):
        # Either rejected up front or stored somehow; never a crash and never
        # a half-created repository that git cannot read.
        path = tmp_path / "r.git"
        try:
            GitStore.open(path, author="a\0b", email="x@y")
        except ValueError:
            assert not path.exists() or Git(path).ok("rev-parse", "--git-dir")
        else:
            assert Git(path).ok("cat-file", "-e", "main")

    @pytest.mark.parametrize("bad", ["\0" * 40, "a" * 39 + "\0", b"a" * 39 + b"\0"])
    def test_nul_in_object_id(self, hfs, bad):
        with pytest.raises(ValueError):
            hfs.read_by_hash(bad)


class TestHostileStrings:
    @pytest.mark.parametrize("method", sorted(PATH_CALLS))
    def test_lone_surrogate(self, hfs, method):
        # A name that cannot be UTF-8 encoded names nothing: either it is
        # rejected (ValueError, e.g. UnicodeEncodeError) or it is missing.
        try:
            got = PATH_CALLS[method](hfs, "a\udcffb")
        except (ValueError, FileNotFoundError):
            return
        assert method in ("exists", "is_dir", "log")
        assert got in (False, [])

    def test_lone_surrogate_in_names_and_patterns(self, hstore, hfs):
        assert ("\udcff" in hstore.branches) is False
        with pytest.raises((KeyError, ValueError)):
            hstore.branches["\udcff"]
        try:
            assert hfs.glob("*\udcff") == []
        except ValueError:
            pass

    def test_huge_single_name(self, hfs):
        name = "x" * 1_000_000
        assert hfs.exists(name) is False
        with pytest.raises(FileNotFoundError) as ei:
            hfs.read(name)
        assert str(ei.value) == name

    def test_huge_number_of_segments(self, hfs):
        path = "a/" * 100_000 + "x"
        with pytest.raises(FileNotFoundError) as ei:
            hfs.read(path)
        assert str(ei.value) == path
        assert hfs.exists(path) is False
        with pytest.raises(FileNotFoundError):
            hfs.stat(path)
        assert hfs.glob(path) == []
        assert hfs.glob("*/" * 10_000 + "*") == []

    def test_huge_path_through_a_file(self, hfs):
        path = "a.txt/" + "b/" * 100_000 + "c"
        with pytest.raises(NotADirectoryError) as ei:
            hfs.read(path)
        assert str(ei.value) == "a.txt"

    def test_str_subclass_path(self, hfs):
        class S(str):
            pass
        assert hfs.read(S("a.txt")) == b"hello world\n"
        assert hfs.exists(S("dir/sub"))

    def test_pathlike_raising(self, hfs):
        class Bad:
            def __fspath__(self):
                raise RuntimeError("boom")
        with pytest.raises(RuntimeError):
            hfs.read(Bad())

    def test_huge_offsets(self, hfs):
        assert hfs.read("bin.dat", offset=2**62) == b""
        assert hfs.read("bin.dat", size=2**62) == hfs.read("bin.dat")
        assert hfs.read("bin.dat", offset=1000, size=2**62) == hfs.read("bin.dat")[1000:]

    @pytest.mark.parametrize("kw", [{"offset": 2**64}, {"size": 2**64}, {"offset": 2**200}],
                             ids=["offset=2**64", "size=2**64", "offset=2**200"])
    def test_offsets_past_64_bits(self, hfs, kw):
        # beyond 64 bits: OverflowError, or the answer an unbounded int gives
        try:
            got = hfs.read("bin.dat", **kw)
        except OverflowError:
            return
        expected = b"" if "offset" in kw else hfs.read("bin.dat")
        assert got == expected

    @pytest.mark.parametrize("kw", [{"offset": "1"}, {"size": 1.5}, {"size": b"1"}])
    def test_wrong_range_types(self, hfs, kw):
        with pytest.raises(TypeError):
            hfs.read("a.txt", **kw)

    @pytest.mark.parametrize("bad", [None, 123, 1.0, ["a"]])
    def test_wrong_hash_types(self, hfs, bad):
        with pytest.raises(TypeError):
            hfs.read_by_hash(bad)

    def test_back_with_huge_n(self, hfs):
        with pytest.raises((ValueError, OverflowError)):
            hfs.back(2**70)


# ---------------------------------------------------------------------------
# Unusual names stored in the repository
# ---------------------------------------------------------------------------

NFC = unicodedata.normalize("NFC", "é.txt")
NFD = unicodedata.normalize("NFD", "é.txt")
LONG = "n" * 4000

UNICODE_TREE = {
    "😀/🎉 party.txt": b"emoji\n",
    "ünïcødé/文件.txt": b"cjk\n",
    NFC: b"nfc\n",
    NFD: b"nfd\n",
    "new\nline.txt": b"newline\n",
    "tab\there": b"tab\n",
    "quote\"d": b"quoted\n",
    "sp ace/ lead and trail ": b"spaces\n",
    LONG: b"long\n",
    "/".join(["d"] * 300) + "/leaf.txt": b"deep\n",
    "\u200b": b"zero width\n",
    "\U0010fffd": b"last plane\n",
}


@pytest.fixture(scope="module")
def ufs(tmp_path_factory):
    path = tmp_path_factory.mktemp("uni") / "u.git"
    build_repo(path, [Commit(UNICODE_TREE)])
    return path, GitStore.open(path, create=False).branches["main"]


class TestUnusualNames:
    def test_every_file_reads_back(self, ufs):
        _path, fs = ufs
        for name, data in UNICODE_TREE.items():
            assert fs.read(name) == data, repr(name)
            assert fs.exists(name)

    def test_names_listed_like_git(self, ufs):
        path, fs = ufs
        assert fs.ls() == [r[3] for r in Git(path).ls_tree("main")]

    def test_nfc_and_nfd_are_distinct(self, ufs):
        _path, fs = ufs
        assert NFC != NFD
        assert NFC in fs.ls() and NFD in fs.ls()
        assert fs.object_hash(NFC) != fs.object_hash(NFD)

    def test_deep_tree(self, ufs):
        _path, fs = ufs
        deep = "/".join(["d"] * 300)
        assert fs.is_dir(deep)
        assert fs.ls(deep) == ["leaf.txt"]
        walked = [d for d, _dirs, _files in fs.walk("d")]
        assert len(walked) == 300
        assert walked[-1] == deep
        assert deep + "/leaf.txt" in fs.glob("**")
        assert fs.glob("d/" * 299 + "d/*") == [deep + "/leaf.txt"]

    def test_long_name(self, ufs):
        _path, fs = ufs
        assert fs.size(LONG) == 5
        assert fs.glob("nnnn*") == [LONG]

    def test_glob_with_odd_names(self, ufs):
        _path, fs = ufs
        assert fs.glob("😀/*") == ["😀/🎉 party.txt"]
        assert fs.glob("*/文件.txt") == ["ünïcødé/文件.txt"]
        assert fs.glob("new?line.txt") == ["new\nline.txt"]
        assert fs.glob("?") == sorted(["d", "\u200b", "\U0010fffd", "😀"])

    def test_non_utf8_name(self, tmp_path):
        # Names that are not UTF-8 (written by other tools) must not break
        # anything.  Reading them back as strict UTF-8 would make listing
        # raise UnicodeDecodeError; we decode with surrogateescape instead,
        # and then the listed names must work as paths.
        path = tmp_path / "b.git"
        build_repo(path, [Commit({b"bad\xffname": b"x", "ok.txt": b"ok", b"sub/\xfe": b"y"})])
        fs = GitStore.open(path, create=False).branches["main"]
        assert fs.read("ok.txt") == b"ok"
        assert fs.exists("ok.txt")
        try:
            names = fs.ls()
        except UnicodeDecodeError:
            with pytest.raises(UnicodeDecodeError):
                fs.listdir()
            with pytest.raises(UnicodeDecodeError):
                list(fs.walk())
            return
        bad = b"bad\xffname".decode("utf-8", "surrogateescape")
        sub = b"\xfe".decode("utf-8", "surrogateescape")
        assert names == [bad, "ok.txt", "sub"]
        assert [e.name for e in fs.listdir()] == names
        assert fs.read(bad) == b"x"
        assert fs.read(f"sub/{sub}") == b"y"
        assert fs.ls("sub") == [sub]
        assert [f.name for _d, _dirs, files in fs.walk() for f in files] == [bad, "ok.txt", sub]
        assert fs.glob("bad*") == [bad]

    def test_many_entries(self, tmp_path):
        path = tmp_path / "many.git"
        files = {f"f{i:05d}.txt": f"{i}\n".encode() for i in range(3000)}
        files.update({f"d/{i}": b"" for i in range(500)})
        build_repo(path, [Commit(files)])
        fs = GitStore.open(path, create=False).branches["main"]
        assert len(fs.ls()) == 3001
        assert len(fs.glob("*.txt")) == 3000
        assert fs.read("f02999.txt") == b"2999\n"
        assert len(fs.ls("d")) == 500
        assert fs.stat().nlink == 3
        assert fs.size("d") == Git(path).cat_size("main:d")


# ---------------------------------------------------------------------------
# Corrupt repositories
# ---------------------------------------------------------------------------

@pytest.fixture
def loose(tmp_path):
    path = tmp_path / "loose.git"
    build_repo(path, [])
    shas = make_loose_objects(path, {"a.txt": b"alpha\n" * 1000, "b.txt": b"beta\n",
                                     "c.txt": b"gamma\n"})
    Git(path)("symbolic-ref", "HEAD", "refs/heads/main")
    return path, shas


def _isolated(code: str, *args: str, timeout: float = 6.0) -> list[str]:
    """Run `code` in a fresh interpreter; its stdout lines.  Fails the test on
    a hang (timeout) or a crash (signal)."""
    try:
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        partial = (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"child process hung for {timeout}s; output so far: {partial!r}")
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout.decode().splitlines()


def _overwrite(path, data: bytes):
    os.chmod(path, 0o644)
    path.write_bytes(data)


class TestCorruptObjects:
    def test_fixture_is_loose_and_valid(self, loose):
        path, shas = loose
        assert loose_object_path(path, shas["a.txt"]).exists()
        assert Git(path).ok("fsck", "--strict")
        fs = GitStore.open(path, create=False).branches["main"]
        assert fs.read("b.txt") == b"beta\n"

    def test_truncated_blob(self, loose):
        # Run in a child process: a hang or a crash must fail this test, not
        # take the whole suite down.
        path, shas = loose
        obj = loose_object_path(path, shas["a.txt"])
        raw = obj.read_bytes()
        _overwrite(obj, raw[: len(raw) // 2])
        code = (
            "import sys\n"
            "from gitstore import GitStore, GitError\n"
            "fs = GitStore.open(sys.argv[1], create=False).branches['main']\n"
            "for name, call in [('read', lambda: fs.read('a.txt')),\n"
            "                   ('range', lambda: fs.read('a.txt', offset=10, size=10)),\n"
            "                   ('by_hash', lambda: fs.read_by_hash(sys.argv[2])),\n"
            "                   ('text', lambda: fs.read_text('a.txt'))]:\n"
            "    try:\n"
            "        call()\n"
            "        print(name, 'no error', flush=True)\n"
            "    except GitError:\n"
            "        print(name, 'GitError', flush=True)\n"
            "print('b.txt', fs.read('b.txt') == b'beta\\n', flush=True)\n"
        )
        out = _isolated(code, str(path), shas["a.txt"])
        assert out == ["read GitError", "range GitError", "by_hash GitError", "text GitError",
                       "b.txt True"]

    def test_garbage_blob(self, loose):
        path, shas = loose
        _overwrite(loose_object_path(path, shas["b.txt"]), b"\x00garbage, not zlib at all")
        fs = GitStore.open(path, create=False).branches["main"]
        for call in (lambda: fs.read("b.txt"), lambda: fs.size("b.txt"),
                     lambda: fs.stat("b.txt"), lambda: fs.read_text("b.txt")):
            with pytest.raises(GitError):
                call()
        assert fs.read("c.txt") == b"gamma\n"

    def test_blob_with_wrong_header(self, loose):
        import zlib
        path, shas = loose
        _overwrite(loose_object_path(path, shas["c.txt"]), zlib.compress(b"blob 999\0gamma\n"))
        fs = GitStore.open(path, create=False).branches["main"]
        with pytest.raises(GitError):
            fs.read("c.txt")

    def test_missing_blob(self, loose):
        path, shas = loose
        loose_object_path(path, shas["c.txt"]).unlink()
        fs = GitStore.open(path, create=False).branches["main"]
        with pytest.raises(GitError):
            fs.read("c.txt")
        assert fs.exists("c.txt")  # the tree entry is there
        assert fs.object_hash("c.txt") == shas["c.txt"]

    def test_missing_root_tree(self, loose):
        path, shas = loose
        loose_object_path(path, shas["tree"]).unlink()
        store = GitStore.open(path, create=False)
        with pytest.raises(GitError):
            fs = store.branches["main"]
            fs.ls()

    def test_garbage_commit(self, loose):
        path, shas = loose
        _overwrite(loose_object_path(path, shas["commit"]), b"junk")
        store = GitStore.open(path, create=False)
        assert "main" in store.branches
        with pytest.raises(GitError):
            store.branches["main"]
        with pytest.raises(GitError):
            store.branches.current

    def test_missing_subtree(self, tmp_path):
        path = tmp_path / "sub.git"
        build_repo(path, [])
        g = Git(path)
        blob = g("hash-object", "-w", "--stdin", input=b"inner\n")
        sub = g("mktree", input=f"100644 blob {blob}\tf.txt\n".encode())
        top_blob = g("hash-object", "-w", "--stdin", input=b"top\n")
        root = g("mktree", input=f"040000 tree {sub}\tdir\n100644 blob {top_blob}\ttop.txt\n"
                 .encode())
        commit = g("commit-tree", root, "-m", "c")
        g("update-ref", "refs/heads/main", commit)
        loose_object_path(path, sub).unlink()
        fs = GitStore.open(path, create=False).branches["main"]
        assert fs.read("top.txt") == b"top\n"
        assert fs.is_dir("dir")
        assert fs.stat().nlink == 3  # needs only the root tree
        for call in (lambda: fs.ls("dir"), lambda: fs.read("dir/f.txt"),
                     lambda: list(fs.walk()), lambda: fs.stat("dir"),
                     lambda: fs.glob("dir/*"), lambda: fs.exists("dir/f.txt"),
                     lambda: fs.size("dir")):
            with pytest.raises(GitError):
                call()

    def test_ref_to_missing_object(self, tmp_path):
        path = tmp_path / "r.git"
        build_repo(path, [Commit({"a": b"a"})])
        (path / "refs" / "heads" / "broken").write_text("1234567890" * 4 + "\n")
        (path / "refs" / "tags" / "broken").write_text("1234567890" * 4 + "\n")
        store = GitStore.open(path, create=False)
        assert "broken" in store.branches
        assert list(store.branches) == ["broken", "main"]
        with pytest.raises(GitError):
            store.branches["broken"]
        with pytest.raises(GitError):
            store.tags["broken"]
        assert store.branches["main"].read("a") == b"a"

    def test_parent_missing(self, tmp_path):
        path = tmp_path / "p.git"
        shas = build_repo(path, [Commit({"a": b"1"}, label="c1"), Commit({"a": b"2"}, label="c2")])
        g = Git(path)
        g("repack", "-a", "-d", "-q")
        # explode the pack, then drop the first commit
        pack = next((path / "objects" / "pack").glob("*.pack"))
        data = pack.read_bytes()
        for f in (path / "objects" / "pack").iterdir():
            f.unlink()
        g.raw("unpack-objects", "-q", input=data)
        loose_object_path(path, shas["c1"]).unlink()
        fs = GitStore.open(path, create=False).branches["main"]
        assert fs.read("a") == b"2"
        with pytest.raises(GitError):
            fs.parent
        with pytest.raises(GitError):
            list(fs.log())

    def test_corrupt_reflog_line(self, tmp_path):
        path = tmp_path / "r.git"
        build_repo(path, [Commit({"a": b"a"})])
        log = path / "logs" / "refs" / "heads" / "main"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"this is not a reflog line\n\xff\xfe\n")
        store = GitStore.open(path, create=False)
        with pytest.raises((GitError, ValueError)):
            store.branches.reflog("main")


# ---------------------------------------------------------------------------
# Object lifetimes
# ---------------------------------------------------------------------------

class TestLifetimes:
    def test_snapshot_outlives_store(self, history_repo):
        fs = GitStore.open(history_repo[0], create=False).branches["main"]
        gc.collect()
        assert fs.read("a.txt") == b"hello world\n"
        assert fs.parent.read("a.txt") == b"hello world\n"

    def test_generators_outlive_snapshot(self, history_repo):
        store = GitStore.open(history_repo[0], create=False)
        w = store.branches["main"].walk()
        lg = store.branches["main"].log()
        ig = store.branches["main"].iglob("**")
        del store
        gc.collect()
        assert len(list(w)) == 5
        assert len(list(lg)) == 6
        assert len(list(ig)) > 10

    def test_abandoned_generators(self, hfs):
        for _ in range(50):
            w = hfs.walk()
            next(w)
            lg = hfs.log()
            next(lg)
            ig = hfs.iglob("**")
            next(ig)
            del w, lg, ig
        gc.collect()

    def test_stores_collected_in_a_loop(self, history_repo):
        for _ in range(200):
            s = GitStore.open(history_repo[0], create=False)
            s.branches["main"].read("a.txt")
        gc.collect()


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------

def _big(n, seed):
    out = bytearray()
    h = hashlib.sha256(seed)
    while len(out) < n:
        h = hashlib.sha256(h.digest())
        out += h.digest() * 64
    return bytes(out[:n])


@pytest.fixture(scope="module")
def thread_repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("threads") / "t.git"
    files = {f"big{i}.bin": _big(1_500_000, str(i).encode()) for i in range(3)}
    files.update({f"dir{i}/f{j}.txt": f"{i}-{j}\n".encode() for i in range(10) for j in range(20)})
    files["link"] = Link("big0.bin")
    files["run"] = Exe(b"#!/bin/sh\n")
    build_repo(path, [Commit(files, label="c")])
    g = Git(path)
    expected = {}
    for item in g.raw("ls-tree", "-r", "-z", "main").split(b"\0"):
        if item:
            meta, name = item.split(b"\t", 1)
            oid = meta.decode().split(" ")[2]
            expected[name.decode()] = (oid, g.raw("cat-file", "blob", oid))
    return path, expected


class TestThreads:
    N_THREADS = 16

    def _run(self, fn, n=None):
        n = n or self.N_THREADS
        barrier = threading.Barrier(n)

        def wrapped(i):
            barrier.wait()
            return fn(i)

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(wrapped, range(n)))

    def test_shared_snapshot_reads(self, thread_repo):
        path, expected = thread_repo
        fs = GitStore.open(path, create=False).branches["main"]
        names = sorted(expected)

        def work(i):
            bad = []
            for k in range(len(names)):
                name = names[(k + i * 7) % len(names)]
                oid, data = expected[name]
                if fs.read(name) != data:
                    bad.append(("read", name))
                if fs.size(name) != len(data):
                    bad.append(("size", name))
                if fs.object_hash(name) != oid:
                    bad.append(("hash", name))
                if name.startswith("big") and fs.read(name, offset=12345, size=1000) != \
                        data[12345:13345]:
                    bad.append(("range", name))
            return bad

        assert self._run(work) == [[]] * self.N_THREADS

    def test_many_snapshots_and_queries(self, thread_repo):
        path, expected = thread_repo
        store = GitStore.open(path, create=False)
        want_glob = sorted(n for n in expected if n.startswith("dir") and n.endswith(".txt"))

        def work(i):
            fs = store.branches["main"] if i % 2 else GitStore.open(path, create=False).branches["main"]
            out = []
            out.append(fs.glob("dir*/*.txt") == want_glob)
            walked = {(f"{d}/{e.name}" if d else e.name): e.oid.decode()
                      for d, _dirs, files in fs.walk() for e in files}
            out.append(walked == {k: v[0] for k, v in expected.items()})
            out.append(fs.read_by_hash(expected["big1.bin"][0]) == expected["big1.bin"][1])
            out.append(fs.stat("dir3").nlink == 2)
            out.append(len(fs.ls()) == len(fs.listdir()) == 15)
            out.append(fs.readlink("link") == "big0.bin")
            out.append(store.branches.current_name == "main")
            out.append(list(store.branches) == ["main"])
            return all(out)

        assert self._run(work) == [True] * self.N_THREADS

    def test_close_while_other_threads_read(self, thread_repo):
        path, expected = thread_repo
        fs = GitStore.open(path, create=False).branches["main"]
        stop = threading.Event()
        errors = []

        def closer():
            while not stop.is_set():
                fs.close()

        def reader(i):
            ok = True
            for k in range(300):
                name = f"dir{(i + k) % 10}/f{k % 20}.txt"
                ok &= fs.size(name) == len(expected[name][1])
                ok &= fs.stat(name).size == len(expected[name][1])
            return ok

        t = threading.Thread(target=closer)
        t.start()
        try:
            results = self._run(reader, n=8)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
            results = []
        finally:
            stop.set()
            t.join()
        assert errors == []
        assert results == [True] * 8

    def test_concurrent_open_of_one_path(self, thread_repo):
        path, expected = thread_repo

        def work(i):
            s = GitStore.open(path, create=False)
            return s.branches["main"].read("dir1/f1.txt")

        assert self._run(work) == [expected["dir1/f1.txt"][1]] * self.N_THREADS
