"""FS.open: files of a snapshot as read-only, seekable binary file objects,
and reading blobs stored whole, loose or in a pack (stored deflate blocks,
zlib, both in one object).  git is the oracle for content."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import pytest

from gitstore import BlobFile, GitError, GitStore

from support import Git, loose_object_path

RANDOM = random.Random(15).randbytes(3 * 1024 * 1024 + 12345)          # stored blocks
TEXT = b"".join(b"line %d of some text\n" % i for i in range(120_000))  # deflated
SMALL = b"small\nfile\n"                                              # packed


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return tmp_path_factory.mktemp("open") / "s.git"


@pytest.fixture(scope="module")
def store(store_path):
    return GitStore.open(store_path, create="main")


@pytest.fixture(scope="module")
def fs(store):
    fs = store.branches["main"]
    fs = fs.write("big.bin", RANDOM)
    fs = fs.write("text.txt", TEXT)
    fs = fs.write("small.txt", SMALL)
    fs = fs.write("dir/inner.txt", b"inner\n")
    return fs.write_symlink("link", "small.txt")



def cat(store_path, fs, path) -> bytes:
    return Git(store_path).raw("cat-file", "blob", fs.object_hash(path))


CONTENTS = {"big.bin": RANDOM, "text.txt": TEXT, "small.txt": SMALL}


class TestFileObject:
    def test_is_a_raw_binary_file(self, fs):
        with fs.open("small.txt") as f:
            assert isinstance(f, io.RawIOBase) and isinstance(f, BlobFile)
            assert f.readable() and f.seekable() and not f.writable()
            assert f.name == "small.txt" and f.size == len(SMALL)
            assert not f.closed
            with pytest.raises(io.UnsupportedOperation):
                f.fileno()

    @pytest.mark.parametrize("path", sorted(CONTENTS))
    def test_whole_content_matches_git(self, fs, store_path, path):
        with fs.open(path) as f:
            data = f.read()
        assert data == CONTENTS[path] == cat(store_path, fs, path)
        with fs.open(path) as f:
            assert f.readall() == CONTENTS[path]
            assert f.read() == b"" and f.read(10) == b""

    @pytest.mark.parametrize("path", sorted(CONTENTS))
    @pytest.mark.parametrize("chunk", [1, 4095, 65536, 1 << 20])
    def test_chunks_rebuild_the_content(self, fs, path, chunk):
        if chunk == 1 and len(CONTENTS[path]) > 100_000:
            chunk = 7
        parts = []
        with fs.open(path) as f:
            buf = bytearray(chunk)
            while n := f.readinto(buf):
                parts.append(bytes(buf[:n]))
            assert f.tell() == len(CONTENTS[path])
        assert b"".join(parts) == CONTENTS[path]

    @pytest.mark.parametrize("path", sorted(CONTENTS))
    def test_random_seeks(self, fs, path):
        data = CONTENTS[path]
        rng = random.Random(path)
        with fs.open(path) as f:
            for _ in range(60):
                at = rng.randrange(len(data) + 10)
                n = rng.choice([0, 1, 100, 70_000, 300_000])
                assert f.seek(at) == at
                assert f.read(n) == data[at:at + n]
                assert f.tell() == at + len(data[at:at + n])

    def test_seek_whence(self, fs):
        with fs.open("big.bin") as f:
            assert f.seek(-10, os.SEEK_END) == len(RANDOM) - 10
            assert f.read() == RANDOM[-10:]
            assert f.seek(-20, os.SEEK_CUR) == len(RANDOM) - 20
            assert f.read(5) == RANDOM[-20:-15]
            assert f.seek(len(RANDOM) + 100) == len(RANDOM) + 100
            assert f.read(5) == b"" and f.readinto(bytearray(5)) == 0
            with pytest.raises(ValueError):
                f.seek(-1)
            with pytest.raises(ValueError):
                f.seek(-len(RANDOM) - 1, os.SEEK_END)
            with pytest.raises(ValueError):
                f.seek(0, 3)

    def test_lines_and_text(self, fs):
        with fs.open("text.txt") as f:
            assert f.readline() == b"line 0 of some text\n"
            assert f.readline() == b"line 1 of some text\n"
            assert f.tell() == 40
        with io.TextIOWrapper(io.BufferedReader(fs.open("text.txt")), "ascii") as t:
            lines = t.readlines()
        assert lines == TEXT.decode().splitlines(keepends=True)

    def test_close(self, fs):
        f = fs.open("big.bin")
        f.read(10)
        f.close()
        assert f.closed
        f.close()
        for call in (f.read, f.readall, f.tell, lambda: f.seek(0),
                     lambda: f.readinto(bytearray(3)), f.readable, f.seekable):
            with pytest.raises(ValueError):
                call()
        with fs.open("small.txt") as g:
            pass
        assert g.closed

    def test_symlink_gives_its_target(self, fs):
        with fs.open("link") as f:
            assert f.read() == b"small.txt"
        assert fs.read("link") == b"small.txt"

    def test_errors(self, fs):
        with pytest.raises(FileNotFoundError):
            fs.open("nope")
        with pytest.raises(IsADirectoryError):
            fs.open("dir")
        with pytest.raises(NotADirectoryError):
            fs.open("small.txt/x")
        with pytest.raises(TypeError):
            BlobFile()

    def test_reads_its_snapshot_after_the_branch_moves(self, store, fs):
        f = fs.open("small.txt")
        store.branches["main"].write("small.txt", b"changed\n")
        assert store.branches["main"].read("small.txt") == b"changed\n"
        assert f.read() == SMALL
        f.close()

    def test_copyfileobj_and_zipfile(self, store, fs):
        out = io.BytesIO()
        with fs.open("big.bin") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        assert out.getvalue() == RANDOM
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("a.txt", TEXT[:50_000])
            z.writestr("sub/b.bin", RANDOM[:2_000_000])
        fs = store.branches["main"].write("data.zip", archive.getvalue())
        with zipfile.ZipFile(fs.open("data.zip")) as z:
            assert z.namelist() == ["a.txt", "sub/b.bin"]
            assert z.read("sub/b.bin") == RANDOM[:2_000_000]
            assert z.read("a.txt") == TEXT[:50_000]
            assert z.testzip() is None


# ---------------------------------------------------------------------------
# Loose objects however they were deflated

def _commit_loose(path, name: str, data: bytes, *git_config: str) -> str:
    g = Git(path)
    sha = g(*git_config, "hash-object", "-w", "--stdin", input=data)
    tree = g("mktree", input=f"100644 blob {sha}\t{name}\n".encode())
    g("update-ref", "refs/heads/main", g("commit-tree", tree, "-m", "loose"))
    return sha


def _stored(data: bytes, final: bool) -> bytes:
    return bytes([1 if final else 0]) + struct.pack("<HH", len(data), ~len(data) & 0xffff) + data


@pytest.fixture
def empty(tmp_path):
    path = tmp_path / "loose.git"
    GitStore.open(path, create="main")
    return path


def _check_reads(path, name, data):
    fs = GitStore.open(path, create=False).branches["main"]
    assert fs.read(name) == data
    rng = random.Random(name)
    for _ in range(25):
        at, n = rng.randrange(len(data)), rng.randrange(200_000)
        assert fs.read(name, offset=at, size=n) == data[at:at + n]
    with fs.open(name) as f:
        for _ in range(25):
            at, n = rng.randrange(len(data)), rng.randrange(200_000)
            f.seek(at)
            assert f.read(n) == data[at:at + n]


@pytest.mark.parametrize("level", ["0", "1", "9"])
def test_objects_git_wrote(empty, level):
    data = RANDOM[:1_500_000] + TEXT[:800_000]
    sha = _commit_loose(empty, "f", data, "-c", f"core.compression={level}",
                        "-c", f"core.loosecompression={level}")
    assert loose_object_path(empty, sha).exists()
    _check_reads(empty, "f", data)


def test_stored_blocks_then_deflated(empty):
    """An object that starts in stored blocks and goes on deflated: the
    reader meets the deflated part mid-read."""
    data = RANDOM[:200_000] + TEXT[:1_000_000]
    sha = _commit_loose(empty, "mixed", data)
    raw = b"blob %d\0" % len(data) + data
    body = b"\x78\x01" + _stored(raw[:20], False)
    cut = 20 + 150_000
    for at in range(20, cut, 65_535):
        body += _stored(raw[at:min(at + 65_535, cut)], False)
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    body += z.compress(raw[cut:]) + z.flush()
    body += struct.pack(">I", zlib.adler32(raw))
    assert zlib.decompress(body) == raw
    obj = loose_object_path(empty, sha)
    os.chmod(obj, 0o644)
    obj.write_bytes(body)
    _check_reads(empty, "mixed", data)
    assert Git(empty).raw("cat-file", "blob", sha) == data


class TestDamagedStoredObjects:
    @pytest.fixture
    def damaged(self, tmp_path):
        store = GitStore.open(tmp_path / "d.git", create="main")
        fs = store.branches["main"].write("big.bin", RANDOM)
        obj = loose_object_path(tmp_path / "d.git", fs.object_hash("big.bin"))
        os.chmod(obj, 0o644)
        return tmp_path / "d.git", obj

    def _fs(self, path):
        return GitStore.open(path, create=False).branches["main"]

    def test_cut_in_half(self, damaged):
        path, obj = damaged
        obj.write_bytes(obj.read_bytes()[: obj.stat().st_size // 2])
        fs = self._fs(path)
        with pytest.raises(GitError):
            fs.read("big.bin")
        with pytest.raises(GitError):
            fs.read("big.bin", offset=len(RANDOM) - 10)
        with fs.open("big.bin") as f:
            with pytest.raises(GitError):
                f.read()
            f.seek(0)
            assert f.read(1000) == RANDOM[:1000]

    def test_cut_at_the_checksum(self, damaged):
        path, obj = damaged
        obj.write_bytes(obj.read_bytes()[:-2])
        with pytest.raises(GitError):
            self._fs(path).read("big.bin")

    def test_longer_than_its_header(self, damaged):
        path, obj = damaged
        raw = zlib.decompress(obj.read_bytes())
        header, content = raw.split(b"\0", 1)
        liar = b"blob %d\0" % (len(content) - 5) + content
        body = b"\x78\x01" + _stored(liar[:30], False) + _stored(liar[30:60_000], False)
        body += _stored(liar[60_000:120_000], True) + struct.pack(">I", 0)
        obj.write_bytes(body)
        fs = self._fs(path)
        with pytest.raises(GitError):
            fs.read("big.bin")

    def test_bad_block_length(self, damaged):
        path, obj = damaged
        body = bytearray(obj.read_bytes())
        body[40] ^= 0xFF   # the first content block's length complement
        obj.write_bytes(bytes(body))
        fs = self._fs(path)
        with pytest.raises(GitError):
            fs.read("big.bin")
        with pytest.raises(GitError):
            fs.open("big.bin").read(100_000)


# ---------------------------------------------------------------------------
# read(offset=, size=) in pieces: a read goes on from where the last stopped

class TestReadInPieces:
    def test_sequential_interleaved_and_backwards(self, fs):
        rng = random.Random(7)
        at = {"big.bin": 0, "text.txt": 0}
        for _ in range(80):
            path = rng.choice(sorted(at))
            data = CONTENTS[path]
            if rng.random() < 0.15:
                at[path] = rng.randrange(len(data))   # backwards or forwards
            n = rng.choice([1, 1000, 65_535, 65_536, 200_000])
            assert fs.read(path, offset=at[path], size=n) == data[at[path]:at[path] + n]
            at[path] = min(at[path] + n, len(data))
        assert fs.read("big.bin", offset=len(RANDOM) - 3) == RANDOM[-3:]
        assert fs.read("big.bin", offset=5, size=3) == RANDOM[5:8]

    def test_threads_reading_one_blob(self, fs):
        import threading
        errors = []

        def reader(seed):
            rng = random.Random(seed)
            try:
                for path in ("big.bin", "text.txt") * 2:
                    data, at = CONTENTS[path], rng.randrange(1000)
                    while at < len(data):
                        n = rng.randrange(1, 300_000)
                        if fs.read(path, offset=at, size=n) != data[at:at + n]:
                            errors.append((seed, path, at, n))
                            return
                        at += n
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

    def test_a_damaged_piece_does_not_stay_parked(self, tmp_path):
        store = GitStore.open(tmp_path / "p.git", create="main")
        fs = store.branches["main"].write("big.bin", RANDOM)
        assert fs.read("big.bin", offset=0, size=100_000) == RANDOM[:100_000]
        obj = loose_object_path(tmp_path / "p.git", fs.object_hash("big.bin"))
        os.chmod(obj, 0o644)
        obj.write_bytes(obj.read_bytes()[:500_000])
        # Cut in place: the kept reader reads what is still there, fails
        # where the file ends, and is not kept after failing.
        assert fs.read("big.bin", offset=100_000, size=10) == RANDOM[100_000:100_010]
        with pytest.raises(GitError):
            fs.read("big.bin", offset=100_010, size=len(RANDOM))
        with pytest.raises(GitError):
            fs.read("big.bin", offset=600_000, size=10)

    def test_after_other_readers_of_the_blob(self, fs, tmp_path):
        # copy_out and archive_out read loose blobs their own way; what they
        # leave behind must not be taken for a reader standing elsewhere.
        fs.copy_out("big.bin", tmp_path / "out")
        assert (tmp_path / "out" / "big.bin").read_bytes() == RANDOM
        assert fs.read("big.bin", offset=5, size=10) == RANDOM[5:15]
        fs.archive_out(tmp_path / "a.tar")
        assert fs.read("big.bin", offset=15, size=10) == RANDOM[15:25]
        fs.copy_out("big.bin", tmp_path / "out2")
        assert fs.read("big.bin") == RANDOM


# ---------------------------------------------------------------------------
# Whole reads of deflated loose objects (decoded in one call), against git

def _own_block_layout(data: bytes, level: int = 6, header_as_dictionary: bool = False) -> bytes:
    """A loose object as gitstore writes big ones: the header alone in a
    stored block, the content deflated on its own after it."""
    header = b"blob %d\0" % len(data)
    if header_as_dictionary:
        z = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=header)
    else:
        z = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = b"\x78\x01" + _stored(header, False) + z.compress(data) + z.flush()
    return body + struct.pack(">I", zlib.adler32(header + data))


def _replace_loose(path, sha: str, body: bytes) -> None:
    obj = loose_object_path(path, sha)
    os.chmod(obj, 0o644)
    obj.write_bytes(body)


def _whole_reads_agree(path, name, data):
    fs = GitStore.open(path, create=False).branches["main"]
    sha = fs.object_hash(name)
    assert Git(path).raw("cat-file", "blob", sha) == data
    assert fs.read(name) == data
    assert fs.read_by_hash(sha) == data
    with fs.open(name) as f:
        assert f.read() == data
    if data:
        assert fs.read(name, offset=1) == data[1:]


SIZES = [0, 1, 65_535, 65_536, 1 << 20, (1 << 20) + 1]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("level", ["1", "9"])
def test_whole_reads_of_objects_git_deflated(empty, size, level):
    data = TEXT[:size]
    sha = _commit_loose(empty, "f", data, "-c", f"core.loosecompression={level}")
    assert loose_object_path(empty, sha).exists()
    _whole_reads_agree(empty, "f", data)


@pytest.mark.parametrize("size", SIZES)
def test_whole_reads_of_content_in_its_own_blocks(empty, size):
    data = (TEXT + RANDOM)[:size]
    sha = _commit_loose(empty, "f", data)
    _replace_loose(empty, sha, _own_block_layout(data))
    _whole_reads_agree(empty, "f", data)


def test_content_that_refers_back_into_the_header(empty):
    """Deflate may copy from anything before, the header included: such
    content cannot be decoded on its own, and is read all the same."""
    data = (b"blob 600000\0" * 50_000)
    sha = _commit_loose(empty, "f", data)
    body = _own_block_layout(data, header_as_dictionary=True)
    assert zlib.decompress(body) == b"blob %d\0" % len(data) + data
    _replace_loose(empty, sha, body)
    _whole_reads_agree(empty, "f", data)


def test_big_files_gitstore_deflated(tmp_path):
    """What the store writes itself: text deflated, random bytes stored,
    and a file that changes from one to the other."""
    fs = GitStore.open(tmp_path / "s.git", create="main").branches["main"]
    files = {"text": TEXT * 3, "random": RANDOM, "mixed": RANDOM[:2 << 20] + TEXT * 2,
             "mixed2": TEXT[:1 << 20] + RANDOM[:2 << 20] + TEXT[:1 << 20]}
    for name, data in files.items():
        fs = fs.write(name, data)
    for name, data in files.items():
        assert loose_object_path(tmp_path / "s.git", fs.object_hash(name)).exists()
        _whole_reads_agree(tmp_path / "s.git", name, data)


class TestDamagedDeflatedObjects:
    """Damaged compressed content raises GitError on every way of reading
    it whole; nothing crashes or returns wrong bytes."""

    @pytest.fixture(params=["gitstore", "git"])
    def damaged(self, request, tmp_path):
        path = tmp_path / "d.git"
        store = GitStore.open(path, create="main")
        data = TEXT * 2
        if request.param == "gitstore":
            sha = store.branches["main"].write("f", data).object_hash("f")
        else:
            sha = _commit_loose(path, "f", data)
        obj = loose_object_path(path, sha)
        os.chmod(obj, 0o644)
        return path, obj, data

    def _raises(self, path, data):
        fs = GitStore.open(path, create=False).branches["main"]
        with pytest.raises(GitError):
            fs.read("f")
        with pytest.raises(GitError):
            fs.read_by_hash(fs.object_hash("f"))
        with pytest.raises(GitError):
            fs.read_text("f")
        with pytest.raises(GitError):
            with fs.open("f") as f:
                f.read()
        # The same again: a failed reader is not kept for the next read.
        with pytest.raises(GitError):
            fs.read("f")

    @pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
    def test_flipped_byte(self, damaged, where):
        path, obj, data = damaged
        body = bytearray(obj.read_bytes())
        at = int(len(body) * where)
        body[at] ^= 0x55
        obj.write_bytes(bytes(body))
        self._raises(path, data)

    def test_checksum(self, damaged):
        path, obj, data = damaged
        body = bytearray(obj.read_bytes())
        body[-1] ^= 1
        obj.write_bytes(bytes(body))
        self._raises(path, data)

    @pytest.mark.parametrize("keep", [0.5, 0.999])
    def test_cut(self, damaged, keep):
        path, obj, data = damaged
        body = obj.read_bytes()
        obj.write_bytes(body[: int(len(body) * keep)])
        self._raises(path, data)

    @pytest.mark.parametrize("delta", [-1, 1])
    def test_header_lies_about_the_size(self, damaged, delta):
        path, obj, data = damaged
        raw = zlib.decompress(obj.read_bytes())
        content = raw.split(b"\0", 1)[1]
        liar = b"blob %d\0" % (len(content) + delta) + content
        obj.write_bytes(zlib.compress(liar, 1))
        self._raises(path, data)


def test_stored_content_is_checked_against_its_checksum(tmp_path):
    """Stored blocks are summed as they are copied: a changed byte fails a
    read that covers the whole object, whichever way it is read."""
    path = tmp_path / "d.git"
    fs = GitStore.open(path, create="main").branches["main"].write("big.bin", RANDOM)
    obj = loose_object_path(path, fs.object_hash("big.bin"))
    os.chmod(obj, 0o644)
    body = bytearray(obj.read_bytes())
    at = len(body) // 2
    body[at] ^= 0x55
    obj.write_bytes(bytes(body))
    fs = GitStore.open(path, create=False).branches["main"]
    with pytest.raises(GitError, match="incorrect data check"):
        fs.read("big.bin")
    with pytest.raises(GitError, match="incorrect data check"):
        with fs.open("big.bin") as f:
            while f.read(1 << 20):
                pass
    with pytest.raises(GitError, match="incorrect data check"):
        at = 0
        while at < len(RANDOM):
            fs.read("big.bin", offset=at, size=1 << 20)
            at += 1 << 20
    # A piece that does not reach the end is what the blocks hold.
    assert fs.read("big.bin", offset=0, size=1000) == RANDOM[:1000]


# ---------------------------------------------------------------------------
# Big blobs in packs (decoded in one call when stored whole)

def _fast_import(path, files: dict[str, bytes]) -> dict[str, str]:
    """Commit files on main with git fast-import, into a pack even when
    there are few objects; returns their blob ids."""
    stream = b"commit refs/heads/main\ncommitter t <t@t> 0 +0000\ndata 0\n"
    stream += b"".join(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data)
                       for name, data in files.items())
    g = Git(path)
    g("-c", "fastimport.unpackLimit=0", "fast-import", "--quiet", "--force", input=stream)
    return {name: g.rev(f"main:{name}") for name in files}


PACKED = {
    "just-under": TEXT[: (1 << 20) - 1],
    "exactly": TEXT[: 1 << 20],
    "text": TEXT,
    "random": RANDOM,
}


def test_big_blobs_packed_whole(empty):
    ids = _fast_import(empty, PACKED)
    for sha in ids.values():
        assert not loose_object_path(empty, sha).exists()
    for name, data in PACKED.items():
        _whole_reads_agree(empty, name, data)
        fs = GitStore.open(empty, create=False).branches["main"]
        assert fs.read(name, offset=1000, size=5000) == data[1000:6000]


def test_big_blobs_packed_as_deltas(empty):
    files = {"a": TEXT + RANDOM[:100_000], "b": TEXT + RANDOM[100_000:200_000]}
    ids = _fast_import(empty, files)
    g = Git(empty)
    g("repack", "-a", "-d", "-f", "-q")
    pack = next((empty / "objects" / "pack").glob("*.pack"))
    listed = [line.split() for line in g.lines("verify-pack", "-v", str(pack))]
    assert any(len(f) == 7 and f[0] in ids.values() for f in listed)   # a delta
    for name, data in files.items():
        _whole_reads_agree(empty, name, data)


def test_a_pack_written_after_the_first_read(empty):
    store = GitStore.open(empty, create=False)
    _fast_import(empty, {"one": TEXT})
    assert store.branches["main"].read("one") == TEXT
    # Another process adds a pack: the store's view of the directory follows.
    _fast_import(empty, {"one": TEXT, "two": TEXT[::-1]})
    assert store.branches["main"].read("two") == TEXT[::-1]
    Git(empty)("repack", "-a", "-d", "-q")
    assert store.branches["main"].read("one") == TEXT
    assert store.branches["main"].read("two") == TEXT[::-1]


def test_packs_that_cannot_be_used_beside_good_ones(empty):
    # Index files without their pack (a merge in another process removing
    # them between the listing and the mapping looks the same): the good
    # packs are read, the others left to libgit2, and nothing is listed twice.
    _fast_import(empty, {"one": TEXT})
    pack_dir = empty / "objects" / "pack"
    good = next(pack_dir.glob("*.idx"))
    for i in range(8):
        (pack_dir / f"pack-{i:040x}.idx").write_bytes(good.read_bytes())
    store = GitStore.open(empty, create=False)
    assert store.branches["main"].read("one") == TEXT
    _fast_import(empty, {"one": TEXT, "two": TEXT[::-1]})
    assert store.branches["main"].read("two") == TEXT[::-1]
    assert store.branches["main"].read("one") == TEXT
    del store
    gc.collect()   # the store's view of the packs is freed here


# ---------------------------------------------------------------------------
# Big blobs git packed whole, read in pieces: from where the last read stopped

# Stored blocks, then deflated ones, then stored again (git's zlib decides
# block by block).
MIXED = RANDOM[:1_500_000] + TEXT[:1_500_000] + RANDOM[1_500_000:2_500_000]


@pytest.fixture(params=["fast-import", "gc"])
def git_packed(request, empty):
    """A repository where git packed MIXED whole, as "f" on main."""
    if request.param == "fast-import":
        sha = _fast_import(empty, {"f": MIXED})["f"]
    else:
        sha = _commit_loose(empty, "f", MIXED)
        Git(empty)("gc", "-q", "--prune=now")
    assert not loose_object_path(empty, sha).exists()
    listed = [line.split() for pack in (empty / "objects" / "pack").glob("*.pack")
              for line in Git(empty).lines("verify-pack", "-v", str(pack))]
    assert [sha, "blob", str(len(MIXED))] in [f[:3] for f in listed if len(f) == 5]  # whole
    return empty


def test_git_packed_blob_in_chunks(git_packed):
    fs = GitStore.open(git_packed, create=False).branches["main"]
    for chunk in (4095, 65536, 1 << 20):
        parts = []
        with fs.open("f") as f:
            buf = bytearray(chunk)
            while n := f.readinto(buf):
                parts.append(bytes(buf[:n]))
        assert b"".join(parts) == MIXED


def test_git_packed_blob_seeks_and_pieces(git_packed):
    _check_reads(git_packed, "f", MIXED)
    fs = GitStore.open(git_packed, create=False).branches["main"]
    with fs.open("f") as f:
        # Forward past the stored part into the deflated one, back to the
        # start, forward again, and to the end.
        for at, n in [(10, 100), (2_000_000, 50_000), (5, 10), (1_499_990, 20),
                      (1_200_000, 2_000_000), (len(MIXED) - 7, 100), (0, 3)]:
            f.seek(at)
            assert f.read(n) == MIXED[at:at + n]
    at = 0
    while at < len(MIXED):
        assert fs.read("f", offset=at, size=300_000) == MIXED[at:at + 300_000]
        at += 300_000


def test_a_pack_merged_away_while_a_file_reads_it(empty):
    """Another process repacks (the pack a file object reads is deleted),
    then the new pack goes too: what was opened reads on, backwards
    included, and new reads follow the packs."""
    _fast_import(empty, {"f": MIXED})
    pack_dir = empty / "objects" / "pack"
    fs = GitStore.open(empty, create=False).branches["main"]
    f = fs.open("f")
    assert f.read(1_000_000) == MIXED[:1_000_000]
    assert fs.read("f", offset=0, size=600_000) == MIXED[:600_000]   # stopped midway
    old = set(pack_dir.glob("pack-*"))
    _fast_import(empty, {"f": MIXED, "g": TEXT})
    Git(empty)("repack", "-a", "-d", "-q")
    assert not old & set(pack_dir.glob("pack-*"))
    assert f.read(1_000_000) == MIXED[1_000_000:2_000_000]
    assert fs.read("f", offset=600_000, size=10) == MIXED[600_000:600_010]
    assert fs.read("f", offset=5, size=10) == MIXED[5:15]
    new_fs = GitStore.open(empty, create=False).branches["main"]
    assert new_fs.read("f", offset=100, size=10) == MIXED[100:110]
    for p in pack_dir.glob("pack-*"):
        p.unlink()
    f.seek(20)
    assert f.read(100) == MIXED[20:120]
    assert f.read() == MIXED[120:]
    f.close()


# A child process, so that nothing the tests did before counts in its peak
# RSS (VmHWM, which starts afresh at exec, where ru_maxrss keeps the
# parent's): a blob git packed whole, read through FS.open in 1 MiB chunks
# and with read(offset=, size=) at offsets across it.  Few objects are made
# on the way, so that a sanitizer's quarantine of freed memory stays small.
MEMORY_CHILD = textwrap.dedent(r"""
    import sys
    from gitstore import GitStore

    def peak():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    fs = GitStore.open(sys.argv[1], create=False).branches["main"]
    size = fs.size("zeros")
    base = peak()
    buf, total = bytearray(1 << 20), 0
    with fs.open("zeros") as f:
        while n := f.readinto(buf):
            assert buf.count(0) == n
            total += n
    for at in range(0, size, size // 16):
        assert fs.read("zeros", offset=at, size=1000).count(0) == 1000
    print(total, size, peak() - base)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is Linux's")
def test_git_packed_blob_streams_in_constant_memory(empty):
    size = 64 << 20
    stream = b"blob\ndata %d\n" % size + bytes(size) + b"\n"
    g = Git(empty)
    g("-c", "core.compression=1", "-c", "fastimport.unpackLimit=0", "fast-import",
      "--quiet", input=stream)
    sha = hashlib.sha1(b"blob %d\0" % size + bytes(size)).hexdigest()
    tree = g("mktree", input=f"100644 blob {sha}\tzeros\n".encode())
    g("update-ref", "refs/heads/main", g("commit-tree", tree, "-m", "zeros"))
    assert not loose_object_path(empty, sha).exists()
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(empty)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    total, expected, grew_kib = map(int, proc.stdout.split())
    assert total == expected == size
    assert grew_kib < 8 * 1024, f"peak RSS grew by {grew_kib / 1024:.1f} MiB reading 64 MiB"


@pytest.mark.parametrize("where", [0.2, 0.5, 0.8])
def test_damaged_packed_blob(empty, where):
    sha = _fast_import(empty, {"f": TEXT})["f"]
    pack = max((empty / "objects" / "pack").glob("*.pack"), key=lambda p: p.stat().st_size)
    body = bytearray(pack.read_bytes())
    at = int(len(body) * where)
    body[at] ^= 0x55
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(body))
    fs = GitStore.open(empty, create=False).branches["main"]
    with pytest.raises(GitError):
        fs.read_by_hash(sha)
    with pytest.raises(GitError):
        fs.read("f")
    with pytest.raises(GitError):
        with fs.open("f") as f:
            while f.read(1 << 20):
                pass


def test_packed_stored_content_is_checked_against_its_checksum(empty):
    """git's zlib keeps random bytes in stored blocks, which carry no check
    of their own: the stream's Adler-32 catches a changed byte on any read
    that reaches the end."""
    _fast_import(empty, {"f": RANDOM})
    pack = max((empty / "objects" / "pack").glob("*.pack"), key=lambda p: p.stat().st_size)
    body = bytearray(pack.read_bytes())
    body[len(body) // 2] ^= 0x55
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(body))
    fs = GitStore.open(empty, create=False).branches["main"]
    with pytest.raises(GitError, match="incorrect data check"):
        fs.read("f")
    with pytest.raises(GitError, match="incorrect data check"):
        with fs.open("f") as f:
            while f.read(1 << 20):
                pass
    with pytest.raises(GitError, match="incorrect data check"):
        at = 0
        while at < len(RANDOM):
            fs.read("f", offset=at, size=1 << 20)
            at += 1 << 20
    assert fs.read("f", offset=0, size=1000) == RANDOM[:1000]
