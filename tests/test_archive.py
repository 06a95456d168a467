"""Archives: FS.archive_out and FS.archive_in.

Oracles: ``git archive`` (same files, modes, link targets and order for
the same commit), GNU ``tar`` and ``unzip`` (they read what we write, and
write what we read), Python's ``tarfile`` and ``zipfile`` (entry by entry,
and for hand-made hostile archives), and ``git fsck --strict`` after
imports.  Memory for a 1 GiB file each way is measured in subprocesses.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import textwrap
import threading
import zipfile

import pytest

from gitstore import FS, FileType, StaleSnapshotError, WriteEntry
from support import (Exe, Link, LocalEnv, assert_fsck_clean, bounded, git_run,
                     loose_object_ids, loose_object_path, measuring_env, pack_names)

SAMPLE = {
    "README.md": b"# readme\n",
    "a-b": b"dash sorts before the directory a\n",
    "a.txt": b"dot too\n",
    "a/x.txt": b"x\n",
    "a/deep/er/most.bin": bytes(range(256)) * 40,
    "bin/run.sh": Exe(b"#!/bin/sh\necho hi\n"),
    "empty": b"",
    "link": Link("a/x.txt"),
    "dirlink": Link("a/deep"),
    "\u00fcn\u00efcode/na\u00efve.txt": "\u00e9\n".encode(),
    "long/" + "n" * 120 + "/" + "f" * 150 + ".txt": b"long name\n",
}

# tar, zip and the others run without the sanitizer the ASan pass preloads.
TOOL_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}

TAR_FORMATS = ["tar", "tar.gz", "tar.bz2", "tar.xz", "tar.zst"]
ALL_FORMATS = ["zip", *TAR_FORMATS]


@pytest.fixture
def env(tmp_path):
    e = LocalEnv(tmp_path)
    e.seed(SAMPLE)
    return e


def empty_branch(env, name="imp"):
    """A writable branch at the store's first (empty) commit."""
    env.store.branches[name] = FS(env.store, env.initial)
    return env.store.branches[name]


def tar_entries(data: bytes):
    """(name, kind, executable, link target) of every entry, in order."""
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return [(m.name.rstrip("/"), "d" if m.isdir() else "l" if m.issym() else "f",
                 bool(m.mode & 0o111) and m.isfile(), m.linkname if m.issym() else None)
                for m in t.getmembers()]


def zip_entries(data: bytes):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        out = []
        for i in z.infolist():
            mode = i.external_attr >> 16
            kind = "d" if i.is_dir() else "l" if stat.S_ISLNK(mode) else "f"
            out.append((i.filename.rstrip("/"), kind, kind == "f" and bool(mode & 0o111),
                        z.read(i).decode() if kind == "l" else None))
        return out


def git_archive(env, fmt: str) -> bytes:
    return git_run("archive", f"--format={fmt}", env.tip(), cwd=env.path).stdout


# ---------------------------------------------------------------------------
# Out
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_round_trip_every_format_gives_the_same_tree(env, tmp_path, fmt):
    dest = tmp_path / f"snap.{fmt}"
    fs = env.fs
    assert fs.archive_out(dest) is fs
    assert sorted(e.path for e in fs.changes.add) == sorted(SAMPLE)
    assert {e.path: e.type for e in fs.changes.add}["bin/run.sh"] == FileType.EXECUTABLE
    assert {e.path: e.type for e in fs.changes.add}["link"] == FileType.LINK
    back = empty_branch(env).archive_in(dest)
    assert back.tree_hash == fs.tree_hash
    assert back.message == f"Batch ar: +{len(SAMPLE)}"
    assert_fsck_clean(env.path)


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_same_files_modes_links_and_order_as_git_archive(env, tmp_path, fmt):
    buf = io.BytesIO()
    env.fs.archive_out(buf, format=fmt)
    parse = tar_entries if fmt == "tar" else zip_entries
    assert parse(buf.getvalue()) == parse(git_archive(env, fmt))


def test_directories_come_before_their_contents_in_path_order(env):
    buf = io.BytesIO()
    env.fs.archive_out(buf, format="tar")
    names = [n for n, *_ in tar_entries(buf.getvalue())]
    assert names[:6] == ["README.md", "a-b", "a.txt", "a", "a/deep", "a/deep/er"]
    for i, name in enumerate(names):
        if "/" in name:
            assert name.rsplit("/", 1)[0] in names[:i]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_two_exports_are_byte_identical_and_times_are_the_commit_time(env, tmp_path, fmt):
    fs = env.fs
    fs.archive_out(tmp_path / f"one.{fmt}")
    buf = io.BytesIO()
    fs.archive_out(buf, format=fmt)
    assert (tmp_path / f"one.{fmt}").read_bytes() == buf.getvalue()
    stamp = int(fs.time.timestamp())
    if fmt == "zip":
        with zipfile.ZipFile(buf) as z:
            assert {_zip_mtime(i) for i in z.infolist()} == {stamp}
            assert len({i.date_time for i in z.infolist()}) == 1
    elif fmt != "tar.zst" or shutil.which("zstd"):
        data = buf.getvalue()
        if fmt == "tar.zst":  # tarfile reads every other compression itself
            data = subprocess.run(["zstd", "-dc"], input=data, capture_output=True,
                                  check=True, env=TOOL_ENV).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            assert {m.mtime for m in t.getmembers()} == {stamp}


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    """The Unix time of the extended-timestamp extra field (0x5455)."""
    extra = info.extra
    while extra:
        tag, size = struct.unpack("<HH", extra[:4])
        if tag == 0x5455:
            return struct.unpack("<I", extra[5:9])[0]
        extra = extra[4 + size:]
    raise AssertionError(f"no timestamp field for {info.filename}")


def test_gnu_tar_and_unzip_extract_what_we_write(env, tmp_path):
    fs = env.fs
    fs.archive_out(tmp_path / "s.tar.gz")
    fs.archive_out(tmp_path / "s.zip")
    out_tar, out_zip = tmp_path / "t", tmp_path / "z"
    out_tar.mkdir()
    out_zip.mkdir()
    subprocess.run(["tar", "-xzf", str(tmp_path / "s.tar.gz"), "-C", str(out_tar)], check=True,
                   env=TOOL_ENV)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(tmp_path / "s.zip"), "-d", str(out_zip)], check=True,
                       env=TOOL_ENV)
    else:
        with zipfile.ZipFile(tmp_path / "s.zip") as z:
            z.extractall(out_zip)
    for root in (out_tar, out_zip):
        for path, content in SAMPLE.items():
            local = root / path
            if isinstance(content, Link):
                if root is out_zip and not shutil.which("unzip"):
                    continue  # zipfile does not make symlinks
                assert os.readlink(local) == content.target
            elif isinstance(content, Exe):
                assert local.read_bytes() == content.data
                assert local.stat().st_mode & 0o111
            else:
                assert local.read_bytes() == content
                assert not local.stat().st_mode & 0o100


def test_path_exports_a_directory_or_a_single_file(env):
    buf = io.BytesIO()
    env.fs.archive_out(buf, path="a", format="tar")
    assert [n for n, *_ in tar_entries(buf.getvalue())] == [
        "deep", "deep/er", "deep/er/most.bin", "x.txt"]
    buf = io.BytesIO()
    fs = env.fs.archive_out(buf, path="bin/run.sh", format="zip")
    assert zip_entries(buf.getvalue()) == [("run.sh", "f", True, None)]
    assert [e.path for e in fs.changes.add] == ["run.sh"]
    with pytest.raises(FileNotFoundError, match="nope/x"):
        env.fs.archive_out(io.BytesIO(), path="nope/x", format="tar")


def test_format_names_and_errors(env, tmp_path):
    env.fs.archive_out(tmp_path / "UPPER.TGZ")
    with tarfile.open(tmp_path / "UPPER.TGZ", "r:gz") as t:
        assert "README.md" in t.getnames()
    for bad in [dict(dest=tmp_path / "x.rar"), dict(dest=io.BytesIO()),
                dict(dest=tmp_path / "x.tar", format="rar")]:
        with pytest.raises(ValueError, match="zip, tar, tar.gz"):
            env.fs.archive_out(**bad)
    assert not (tmp_path / "x.tar").exists()


def test_a_failed_export_leaves_nothing_behind(env, tmp_path):
    with pytest.raises(FileNotFoundError):
        env.fs.archive_out(tmp_path / "missing" / "x.tar")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.zip").write_bytes(b"old")

    def stop(done, total):
        raise KeyboardInterrupt("stop here")

    with pytest.raises(KeyboardInterrupt, match="stop here"):
        env.fs.archive_out(out / "keep.zip", progress=stop)
    assert sorted(os.listdir(out)) == ["keep.zip"]
    assert (out / "keep.zip").read_bytes() == b"old"

    class Broken(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise OSError(28, "disk full (simulated)")

    with pytest.raises(OSError, match="simulated"):
        env.fs.archive_out(Broken(), format="tar")
    if os.geteuid() != 0:
        out.chmod(0o500)
        try:
            with pytest.raises(PermissionError):
                env.fs.archive_out(out / "x.tar")
        finally:
            out.chmod(0o700)


def test_a_missing_object_fails_the_export_and_leaves_no_file(env, tmp_path):
    fs = env.fs.write("zz/big.bin", b"z" * (2 << 20))      # big: a loose object
    os.chmod(loose_object_path(env.path, fs.object_hash("zz/big.bin")), 0o600)
    os.unlink(loose_object_path(env.path, fs.object_hash("zz/big.bin")))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyError, match=fs.object_hash("zz/big.bin")):
        fs.archive_out(out / "x.tar")
    assert os.listdir(out) == []


def test_progress_reports_the_end_and_submodules_are_warnings(env):
    calls = []
    env.fs.archive_out(io.BytesIO(), format="tar", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (len(SAMPLE), len(SAMPLE))
    # A gitlink, added by git itself.
    g = env.g
    tree = g("mktree", input=(g("ls-tree", "main").strip() + "\n"
                              f"160000 commit {env.initial}\tsub\n").encode())
    commit = g("commit-tree", tree, "-p", env.tip(), "-m", "sub")
    g("update-ref", "refs/heads/main", commit)
    fs = env.store.branches["main"].archive_out(io.BytesIO(), format="zip")
    assert [w.path for w in fs.changes.warnings] == ["sub"]
    assert "sub" not in [e.path for e in fs.changes.add]


def test_export_to_a_pipe(env):
    proc = subprocess.Popen(["tar", "-tf", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=TOOL_ENV)
    env.fs.archive_out(proc.stdin, format="tar")
    proc.stdin.close()
    listed = proc.stdout.read().decode().split()
    assert proc.wait() == 0
    assert "bin/run.sh" in listed and "a/deep/" in listed


# ---------------------------------------------------------------------------
# In
# ---------------------------------------------------------------------------

def test_import_gnu_tar_with_dot_prefixes_and_zip_r(env, tmp_path):
    src = tmp_path / "src"
    (src / "d" / "e").mkdir(parents=True)
    (src / "d" / "e" / "f.txt").write_bytes(b"f\n")
    (src / "top.txt").write_bytes(b"top\n")
    (src / "run").write_bytes(b"#!/bin/sh\n")
    (src / "run").chmod(0o755)
    os.symlink("top.txt", src / "ln")
    subprocess.run(["tar", "-C", str(src), "-cf", str(tmp_path / "g.tar"), "."], check=True,
                   env=TOOL_ENV)
    with tarfile.open(tmp_path / "g.tar") as t:
        assert all(n == "." or n.startswith("./") for n in t.getnames())
    fs = env.fs.archive_in(tmp_path / "g.tar", "gnu")
    assert fs.read("gnu/d/e/f.txt") == b"f\n"
    assert fs.file_type("gnu/run") == FileType.EXECUTABLE
    assert fs.readlink("gnu/ln") == "top.txt"
    assert sorted(e.path for e in fs.changes.add) == ["d/e/f.txt", "ln", "run", "top.txt"]
    if shutil.which("zip"):
        subprocess.run(["zip", "-qry", str(tmp_path / "z.zip"), "."], cwd=src, check=True,
                       env=TOOL_ENV)
        fs = fs.archive_in(tmp_path / "z.zip", "zipped")
        assert {p: fs.object_hash(f"zipped/{p}") for p in ["d/e/f.txt", "ln", "run", "top.txt"]} \
            == {p: fs.object_hash(f"gnu/{p}") for p in ["d/e/f.txt", "ln", "run", "top.txt"]}
        assert fs.file_type("zipped/ln") == FileType.LINK
        assert fs.file_type("zipped/run") == FileType.EXECUTABLE
    assert_fsck_clean(env.path)


class Pipe:
    """The read end of a pipe that a thread fills with `data`."""

    def __init__(self, data: bytes):
        r, w = os.pipe()
        self.reader = os.fdopen(r, "rb")
        self.thread = threading.Thread(target=self._feed, args=(os.fdopen(w, "wb"), data))
        self.thread.start()

    @staticmethod
    def _feed(f, data):
        with f:
            try:
                f.write(data)
            except BrokenPipeError:
                pass

    def __enter__(self):
        return self.reader

    def __exit__(self, *exc):
        self.reader.close()
        self.thread.join()


def test_import_what_git_archive_writes_through_a_pipe(env):
    with Pipe(git_archive(env, "tar.gz")) as stream:
        assert not stream.seekable()
        fs = empty_branch(env).archive_in(stream)
    assert fs.tree_hash == env.fs.tree_hash
    # A zip keeps its modes at its end: a stream of one is spooled first.
    with Pipe(git_archive(env, "zip")) as stream:
        fs = empty_branch(env, "z").archive_in(stream)
    assert fs.tree_hash == env.fs.tree_hash
    tip, loose, packs = env.tip(), loose_object_ids(env.path), pack_names(env.path)
    with Pipe(git_archive(env, "zip")) as stream:
        assert env.fs.archive_in(stream, "x", dry_run=True).changes.total == len(SAMPLE)
    assert (env.tip(), loose_object_ids(env.path), pack_names(env.path)) == (tip, loose, packs)
    assert not [n for n in os.listdir(env.path / "objects") if n.startswith("tmp")]


def test_import_from_a_fifo(env, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    buf = io.BytesIO()
    env.fs.archive_out(buf, format="tar.xz")
    for name, data in (("xz", buf.getvalue()), ("zip", git_archive(env, "zip"))):

        def feed():
            with open(fifo, "wb") as f:
                f.write(data)

        t = threading.Thread(target=feed)
        t.start()
        fs = bounded(lambda: empty_branch(env, name).archive_in(fifo))
        t.join()
        assert fs.tree_hash == env.fs.tree_hash


def test_content_decides_the_format_and_format_must_match(env, tmp_path):
    buf = io.BytesIO()
    env.fs.archive_out(buf, format="zip")
    (tmp_path / "data.bin").write_bytes(buf.getvalue())
    fs = empty_branch(env).archive_in(tmp_path / "data.bin", format="zip")
    assert fs.tree_hash == env.fs.tree_hash
    with pytest.raises(ValueError, match="data.bin.*tar"):
        env.fs.archive_in(tmp_path / "data.bin", format="tar")
    buf = io.BytesIO()
    env.fs.archive_out(buf, format="tgz")
    buf.seek(0)
    with pytest.raises(ValueError, match="not a tar archive"):
        env.fs.archive_in(buf, format="tar")
    with pytest.raises(ValueError, match="accepted"):
        env.fs.archive_in(buf, format="7z")


def _tar(entries) -> bytes:
    """A tar from (TarInfo fields, data) pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for fields, data in entries:
            info = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "./../evil", "ok/..", "a//b",
                                  ".git/config", "x/.GIT/hooks/post"])
def test_unsafe_names_are_refused_and_nothing_is_committed(env, name):
    data = _tar([({"name": "fine.txt"}, b"fine"), ({"name": name}, b"evil")])
    tip, loose, packs = env.tip(), loose_object_ids(env.path), pack_names(env.path)
    for dry_run in (True, False):
        with pytest.raises(ValueError, match=name.replace(".", r"\.").replace("/", "/")):
            env.fs.archive_in(io.BytesIO(data), "dest", dry_run=dry_run)
    assert env.tip() == tip
    assert pack_names(env.path) == packs and loose_object_ids(env.path) == loose


def test_leading_slashes_and_dots_are_dropped(env):
    data = _tar([({"name": "/abs/a.txt"}, b"a"), ({"name": "./rel/b.txt"}, b"b"),
                 ({"name": ".//./c.txt"}, b"c"), ({"name": "./", "type": tarfile.DIRTYPE}, None)])
    fs = env.fs.archive_in(io.BytesIO(data), "in")
    assert [e.path for e in fs.changes.add] == ["abs/a.txt", "rel/b.txt", "c.txt"]
    assert fs.read("in/abs/a.txt") == b"a"


def test_specials_are_skipped_hard_links_copied_last_entry_wins(env):
    data = _tar([
        ({"name": "f.txt", "mode": 0o755}, b"first"),
        ({"name": "fifo", "type": tarfile.FIFOTYPE}, None),
        ({"name": "dev/null", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None),
        ({"name": "dev/sda", "type": tarfile.BLKTYPE, "devmajor": 8}, None),
        ({"name": "hard", "type": tarfile.LNKTYPE, "linkname": "f.txt"}, None),
        ({"name": "f.txt"}, b"second"),
        ({"name": "dangling", "type": tarfile.LNKTYPE, "linkname": "nowhere"}, None),
        ({"name": "sym", "type": tarfile.SYMTYPE, "linkname": "../outside"}, None),
    ])
    fs = env.fs.archive_in(io.BytesIO(data), "x")
    assert fs.read("x/f.txt") == b"second"
    assert fs.file_type("x/f.txt") == FileType.BLOB
    assert fs.read("x/hard") == b"first"
    assert fs.file_type("x/hard") == FileType.EXECUTABLE
    assert fs.readlink("x/sym") == "../outside"
    assert [w.path for w in fs.changes.warnings] == ["fifo", "dev/null", "dev/sda", "dangling"]
    assert "fifo" in fs.changes.warnings[0].error
    assert not fs.exists("x/fifo") and not fs.exists("x/dev")
    assert_fsck_clean(env.path)


@pytest.mark.parametrize("damage", ["truncated", "corrupt_gz", "corrupt_zip", "not_archive",
                                    "empty"])
def test_bad_input_is_a_value_error_naming_the_source(env, tmp_path, damage):
    big = bytes(range(256)) * 400
    if damage == "truncated":
        data = _tar([({"name": "big"}, big)])[:60000]
    elif damage == "corrupt_gz":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            info = tarfile.TarInfo("big")
            info.size = len(big)
            t.addfile(info, io.BytesIO(big))
        data = bytearray(buf.getvalue())
        data[len(data) // 2] ^= 0xFF
    elif damage == "corrupt_zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("big", big)
        data = bytearray(buf.getvalue())
        data[200] ^= 0xFF
    elif damage == "not_archive":
        data = b"this is not an archive, just text\n" * 100
    else:
        data = b""
    path = tmp_path / f"input-{damage}.bin"
    path.write_bytes(bytes(data))
    tip = env.tip()
    with pytest.raises(ValueError, match=f"input-{damage}.bin"):
        env.fs.archive_in(path)
    with pytest.raises(ValueError):
        env.fs.archive_in(io.BytesIO(bytes(data)))
    assert env.tip() == tip
    with pytest.raises(FileNotFoundError):
        env.fs.archive_in(tmp_path / "missing.tar")


def test_dry_run_reports_what_the_run_does_and_writes_nothing(env, tmp_path):
    fs = env.fs.write("dest/a.txt", b"old")
    changed = dict(SAMPLE, **{"a.txt": b"new content\n", "big.bin": b"B" * (3 << 20)})
    fs = fs.apply({p: (WriteEntry(data=c.data, mode=FileType.EXECUTABLE) if isinstance(c, Exe)
                       else WriteEntry(target=c.target) if isinstance(c, Link) else c)
                   for p, c in changed.items()}, message="more")
    fs.archive_out(tmp_path / "s.tar")
    base = env.fs.write("dest/a.txt", b"old")
    tip, loose, packs = env.tip(), loose_object_ids(env.path), pack_names(env.path)
    dry = base.archive_in(tmp_path / "s.tar", "dest", dry_run=True)
    assert dry is base and env.tip() == tip
    assert loose_object_ids(env.path) == loose and pack_names(env.path) == packs
    real = base.archive_in(tmp_path / "s.tar", "dest")
    assert real.changes == dry.changes
    assert [e.path for e in real.changes.update] == ["a.txt"]
    assert sorted(e.path for e in real.changes.add) == sorted(
        {*changed, "dest/a.txt"} - {"a.txt"})
    assert real.parent.commit_hash == tip
    assert real.read("dest/big.bin") == b"B" * (3 << 20)
    assert_fsck_clean(env.path)


def test_no_commit_when_nothing_changes_and_messages(env, tmp_path):
    env.fs.archive_out(tmp_path / "s.zip")
    fs = empty_branch(env).archive_in(tmp_path / "s.zip", message="import {add_count} ({op})")
    assert fs.message == f"import {len(SAMPLE)} (ar)"
    again = fs.archive_in(tmp_path / "s.zip")
    assert again.commit_hash == fs.commit_hash
    assert again.changes.in_sync and again.changes.total == 0
    calls = []
    fs.archive_in(tmp_path / "s.zip", "other", progress=lambda d, t: calls.append((d, t)))
    n = len(zip_entries((tmp_path / "s.zip").read_bytes()))
    assert calls[-1] == (n, n)


def test_read_only_and_stale_snapshots(env, tmp_path):
    env.fs.archive_out(tmp_path / "s.tar")
    env.store.tags["v1"] = env.fs
    with pytest.raises(PermissionError):
        env.store.tags["v1"].archive_in(tmp_path / "s.tar", "x")
    old = env.fs
    env.fs.write("moved", b"on")
    with pytest.raises(StaleSnapshotError):
        old.archive_in(tmp_path / "s.tar", "x")


# ---------------------------------------------------------------------------
# Memory: a 1 GiB file out and back in, each in a subprocess
# ---------------------------------------------------------------------------

CHILD = textwrap.dedent(r"""
    import io, json, resource, sys, tarfile
    from gitstore import GitStore

    repo, direction = sys.argv[1:3]
    GIB = 1 << 30
    ZEROS = bytes(1 << 20)
    ZERO_VIEW = memoryview(ZEROS)

    def peak():
        with open("/proc/self/status") as f:   # VmHWM: ru_maxrss keeps the parent's peak across exec
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    class TarOfZeros:
        # A stream (no seek) holding one tar entry of GIB zero bytes.
        def __init__(self):
            info = tarfile.TarInfo("big.bin")
            info.size = GIB
            self.parts = [info.tobuf(format=tarfile.USTAR_FORMAT)]
            self.left = GIB + 1024

        def read(self, n):
            if self.parts:
                return self.parts.pop()
            n = min(n, self.left, len(ZEROS))
            self.left -= n
            return ZERO_VIEW[:n]

    class Counter:
        size = 0

        def write(self, b):
            self.size += len(b)
            return len(b)

    store = GitStore.open(repo)
    fs = store.branches["main"]
    # Lazy set-up (libarchive, the first write) before the baseline.
    fs.write("warm.txt", b"x").archive_out(io.BytesIO(), format="tar", path="warm.txt")
    fs = store.branches["main"]
    base = peak()
    if direction == "in":
        fs = fs.archive_in(TarOfZeros())
        out = {"size": fs.size("big.bin")}
    else:
        sink = Counter()
        fs.archive_out(sink, format="tar", path="big.bin")
        out = {"size": sink.size}
    out["growth_kib"] = peak() - base
    print(json.dumps(out))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is Linux's")
def test_one_gib_each_way_in_bounded_memory(tmp_path):
    repo = tmp_path / "big.git"
    from gitstore import GitStore
    GitStore.open(str(repo), branch="main")
    results = {}
    for direction in ("in", "out"):
        proc = subprocess.run([sys.executable, "-c", CHILD, str(repo), direction],
                              capture_output=True, text=True, timeout=300, env=measuring_env(),
                              cwd=os.path.dirname(os.path.dirname(__file__)))
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[direction] = json.loads(proc.stdout)
    assert results["in"]["size"] == 1 << 30
    assert results["out"]["size"] >= (1 << 30) + 1024
    assert results["in"]["growth_kib"] <= 32 * 1024, results
    assert results["out"]["growth_kib"] <= 32 * 1024, results
    assert_fsck_clean(repo)
