"""FS.copy_in and FS.sync_in: disk to repository (sources, dest, the walk,
symlinks, mode=, delete and non-delete modes, checksum=, dry runs, errors,
exclusion, commit messages, sync_in's fallbacks, read-only and stale
snapshots), plus the decisions of this implementation:

* special files (fifo, socket, device) are never opened: each is an
  OSError "Not a regular file ..." (an error entry under ignore_errors);
* an unreadable directory is an error and protects what is below it;
* files become blobs in one pack per commit.

Every test builds real directory trees under tmp_path and reads the
result back with git (ls-tree / cat-file), the oracle.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import socket
import stat
from pathlib import Path

import pytest

from gitstore import (
    ChangeError, ChangeReport, ExcludeFilter, FileEntry, FileType, StaleSnapshotError, disk_glob,
)

from support import (
    Exe, Link, LocalEnv, assert_fsck_clean, assert_single_commit, bounded, loose_object_ids,
    pack_names, pack_object_ids, put_local,
)

BLOB, EXE, LINK = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK
DIR = object()          # marker: an (empty) directory in a local tree description
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
NOT_REGULAR = "Not a regular file"
ALL_FAILED = "All files failed to copy"
READONLY = re.escape("Cannot batch on read-only snapshot (ref 'v1')")
STALE = "has advanced since this snapshot"


def overlap(rel: str) -> str:
    return f"Overlapping destination '{rel}': skipping (kept earlier source)"


def _b(data) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def blob_id(data) -> str:
    data = _b(data)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_tree(root: Path, spec: dict) -> Path:
    """Create a local tree: str/bytes = file (0644), Exe = file (0755),
    Link = symlink, DIR = directory.  Returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in spec.items():
        if content is DIR:
            (root / rel).mkdir(parents=True, exist_ok=True)
        else:
            put_local(root, rel, content)
    return root


def report_lists(report):
    """The five lists of a report (or None) as a comparable tuple."""
    if report is None:
        return None
    return (report.add, report.update, report.delete, report.errors, report.warnings)


class Env(LocalEnv):
    """LocalEnv with this module's local trees and git views."""

    def tree(self, name: str, spec: dict) -> Path:
        return make_tree(self.local / name, spec)

    def snapshot(self, rev: str = "main") -> dict[str, tuple[str, bytes]]:
        """{path: (mode, content)}: content of blobs and link texts, via git."""
        files = self.files(rev)
        if not files:
            return {}
        oids = sorted({oid for _, oid in files.values()})
        raw = self.g.raw("cat-file", "--batch", input=("\n".join(oids) + "\n").encode())
        blobs, pos = {}, 0
        while pos < len(raw):
            end = raw.index(b"\n", pos)
            oid, _typ, size = raw[pos:end].decode().split()
            start = end + 1
            blobs[oid] = raw[start:start + int(size)]
            pos = start + int(size) + 1
        return {path: (mode, blobs[oid]) for path, (mode, oid) in files.items()}


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    if e.tip() != e.initial:
        assert_fsck_clean(e.path)


SRC = {"a.txt": "alpha\n", "sub/b.txt": "beta\n"}


def entries(base: Path, *rels, typ=BLOB, prefix=""):
    """FileEntry list for files rels below local dir base, reported under prefix."""
    return [FileEntry(f"{prefix}{rel}", typ, os.path.join(str(base), rel)) for rel in rels]


# ---------------------------------------------------------------------------
# Source conventions: "base/./rest" pivots, "dir/" for contents, plain paths
# ---------------------------------------------------------------------------

class TestSources:
    def test_single_file(self, env):
        f = env.tree("src", {"h.txt": "hello\n"}) / "h.txt"
        fs = env.fs
        new = fs.copy_in(str(f), "dest")
        assert_single_commit(env.g, new, fs, "+ dest/h.txt")
        assert new.changes == ChangeReport(add=[FileEntry("h.txt", BLOB, str(f))])
        assert env.snapshot() == {"dest/h.txt": ("100644", b"hello\n")}
        assert fs.changes is None

    def test_several_files_one_commit(self, env):
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "c.txt": "c"})
        fs = env.fs
        new = fs.copy_in([str(src / "a.txt"), str(src / "c.txt")], "dest")
        assert_single_commit(env.g, new, fs, "Batch cp: +2")
        assert env.snapshot() == {"dest/a.txt": ("100644", b"a"),
                                  "dest/c.txt": ("100644", b"c")}
        assert new.changes.add == entries(src, "a.txt", "c.txt")

    def test_sources_out_of_order_dry_run_equals_real_run(self, env):
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "d/c.txt": "c"})
        sources = [str(src / "d"), str(src / "b.txt"), str(src / "a.txt")]
        fs = env.fs
        dry = report_lists(fs.copy_in(sources, "dest", dry_run=True).changes)
        new = fs.copy_in(sources, "dest")
        assert report_lists(new.changes) == dry
        assert sorted(e.path for e in new.changes.add) == ["a.txt", "b.txt", "d/c.txt"]

    def test_directory_keeps_its_name(self, env):
        src = env.tree("src", SRC)
        fs = env.fs
        new = fs.copy_in(str(src), "dest")
        assert_single_commit(env.g, new, fs, "Batch cp: +2")
        assert env.snapshot() == {"dest/src/a.txt": ("100644", b"alpha\n"),
                                  "dest/src/sub/b.txt": ("100644", b"beta\n")}
        assert new.changes == ChangeReport(
            add=entries(src, "a.txt", "sub/b.txt", prefix="src/"))

    def test_directory_trailing_slash_copies_contents(self, env):
        src = env.tree("src", SRC)
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert env.snapshot() == {"dest/a.txt": ("100644", b"alpha\n"),
                                  "dest/sub/b.txt": ("100644", b"beta\n")}
        assert new.changes == ChangeReport(add=entries(src, "a.txt", "sub/b.txt"))

    def test_pivot_directory(self, env):
        base = env.tree("base", {"sub/mydir/x.txt": "x", "sub/mydir/deep/y.txt": "y",
                                 "sub/other.txt": "o"})
        new = env.fs.copy_in(f"{base}/./sub/mydir", "dest")
        assert set(env.files()) == {"dest/sub/mydir/x.txt", "dest/sub/mydir/deep/y.txt"}
        assert new.changes.add == entries(base / "sub" / "mydir", "deep/y.txt", "x.txt",
                                          prefix="sub/mydir/")

    def test_pivot_directory_contents(self, env):
        base = env.tree("base", {"sub/mydir/x.txt": "x", "sub/mydir/deep/y.txt": "y"})
        new = env.fs.copy_in(f"{base}/./sub/mydir/", "dest")
        assert set(env.files()) == {"dest/sub/x.txt", "dest/sub/deep/y.txt"}
        assert [e.path for e in new.changes.add] == ["sub/deep/y.txt", "sub/x.txt"]

    def test_pivot_file(self, env):
        base = env.tree("base", {"sub/f.txt": "f", "sub/g.txt": "g"})
        new = env.fs.copy_in(f"{base}/./sub/f.txt", "dest")
        assert env.snapshot() == {"dest/sub/f.txt": ("100644", b"f")}
        assert new.changes == ChangeReport(add=[FileEntry("sub/f.txt", BLOB,
                                                          str(base / "sub" / "f.txt"))])
        assert new.message == "+ dest/sub/f.txt"

    def test_pivot_errors(self, env):
        base = env.tree("base", {"sub/f.txt": "f"})
        with pytest.raises(NotADirectoryError, match="Not a directory"):
            env.fs.copy_in(f"{base}/./sub/f.txt/", "dest")
        with pytest.raises(FileNotFoundError, match="Local file not found"):
            env.fs.copy_in(f"{base}/./sub/nope", "dest")
        assert env.tip() == env.initial

    def test_leading_dot_slash_is_not_a_pivot(self, env, monkeypatch):
        env.tree("mydir", {"x.txt": "x", "f.txt": "f"})
        monkeypatch.chdir(env.local)
        new = env.fs.copy_in("./mydir", "dest")
        assert set(env.files()) == {"dest/mydir/x.txt", "dest/mydir/f.txt"}
        # a relative source stays relative in the report
        assert new.changes.add == [FileEntry("mydir/f.txt", BLOB, "./mydir/f.txt"),
                                   FileEntry("mydir/x.txt", BLOB, "./mydir/x.txt")]
        new = env.fs.copy_in("mydir/f.txt", "other")
        assert new.changes.add == [FileEntry("f.txt", BLOB, "mydir/f.txt")]

    def test_disk_glob_sources(self, env):
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "c.md": "c", ".h.txt": "h",
                               "sub/d.txt": "d"})
        sources = disk_glob(f"{src}/*.txt")
        assert sources == [f"{src}/a.txt", f"{src}/b.txt"]
        new = env.fs.copy_in(sources, "dest")
        assert set(env.files()) == {"dest/a.txt", "dest/b.txt"}
        assert new.message == "Batch cp: +2"
        # a pivot survives the expansion
        sources = disk_glob(f"{env.local}/./src/*.txt")
        assert sources == [f"{env.local}/./src/a.txt", f"{env.local}/./src/b.txt"]
        env.fs.copy_in(sources, "piv")
        assert {p for p in env.files() if p.startswith("piv/")} == {"piv/src/a.txt",
                                                                    "piv/src/b.txt"}

    def test_disk_glob_without_match_copies_nothing(self, env):
        src = env.tree("src", {"a.txt": "a"})
        sources = disk_glob(f"{src}/*.nope")
        assert sources == []
        fs = env.fs
        new = fs.copy_in(sources, "dest")
        assert new is fs and new.changes is None
        assert env.tip() == env.initial

    def test_pathlike_sources(self, env):
        src = env.tree("src", SRC)
        new = env.fs.copy_in(src, "one")
        assert new.changes.add[0] == FileEntry("src/a.txt", BLOB, str(src / "a.txt"))
        env.fs.copy_in([src / "a.txt", src / "sub"], "two")
        env.fs.copy_in((str(src / "a.txt"), str(src / "sub")), "three")   # any iterable
        assert set(env.files()) == {"one/src/a.txt", "one/src/sub/b.txt",
                                    "two/a.txt", "two/sub/b.txt",
                                    "three/a.txt", "three/sub/b.txt"}

    def test_file_and_directory_mixed(self, env):
        src = env.tree("src", {"f.txt": "f", "d/x.txt": "x", "d/y/z.txt": "z"})
        new = env.fs.copy_in([str(src / "f.txt"), str(src / "d")], "dest")
        assert set(env.files()) == {"dest/f.txt", "dest/d/x.txt", "dest/d/y/z.txt"}
        assert sorted(e.path for e in new.changes.add) == ["d/x.txt", "d/y/z.txt", "f.txt"]

    def test_missing_source(self, env):
        src = env.tree("src", {"dl": Link("nowhere")})
        with pytest.raises(FileNotFoundError, match="Local file not found"):
            env.fs.copy_in(str(env.local / "nope.txt"), "dest")
        # a dangling symlink named directly is "not found" too
        with pytest.raises(FileNotFoundError):
            env.fs.copy_in(str(src / "dl"), "dest")
        assert env.tip() == env.initial

    def test_trailing_slash_on_a_non_directory(self, env):
        f = env.tree("src", {"f.txt": "f"}) / "f.txt"
        with pytest.raises(NotADirectoryError, match="Not a directory"):
            env.fs.copy_in(str(f) + "/", "dest")
        with pytest.raises(NotADirectoryError):      # missing, with a slash
            env.fs.copy_in(str(env.local / "nope") + "/", "dest")
        assert env.tip() == env.initial

    def test_bad_source_among_good_ones_commits_nothing(self, env):
        src = env.tree("src", SRC)
        with pytest.raises(FileNotFoundError):
            env.fs.copy_in([str(src / "a.txt"), str(src / "missing")], "dest")
        assert env.tip() == env.initial


# ---------------------------------------------------------------------------
# The dest argument: normalised like any repository path (leading and
# trailing slashes are fine); a file standing where dest goes is replaced
# by the tree without a delete entry
# ---------------------------------------------------------------------------

class TestDest:
    @pytest.mark.parametrize("dest", ["dest/", "/dest", "/dest/", "dest//"])
    def test_slashes_are_normalised(self, env, dest):
        src = env.tree("src", SRC)
        new = env.fs.copy_in(str(src) + "/", dest)
        assert set(env.files()) == {"dest/a.txt", "dest/sub/b.txt"}
        assert new.changes == ChangeReport(add=entries(src, "a.txt", "sub/b.txt"))
        assert new.message == "Batch cp: +2"

    @pytest.mark.parametrize("dest", ["dest/", "/dest", "/dest/"])
    def test_slashes_are_normalised_in_delete_mode(self, env, dest):
        env.seed({"dest/old.txt": "old", "other.txt": "keep"})
        src = env.tree("src", {"a.txt": "a"})
        new = env.fs.copy_in(str(src) + "/", dest, delete=True)
        assert set(env.files()) == {"dest/a.txt", "other.txt"}
        assert new.changes == ChangeReport(
            add=entries(src, "a.txt"), delete=[FileEntry("old.txt", BLOB, "dest/old.txt")])

    @pytest.mark.parametrize("dest, match", [
        ("a//b", "Empty segment"), ("a/../b", "Invalid path segment"),
        ("./a", "Invalid path segment"), ("a/.", "Invalid path segment"),
        ("..", "Invalid path segment")])
    def test_invalid_dest(self, env, dest, match):
        src = env.tree("src", SRC)
        with pytest.raises(ValueError, match=match):
            env.fs.copy_in(str(src) + "/", dest)
        assert env.tip() == env.initial

    @pytest.mark.parametrize("dest", ["", "/"])
    def test_root(self, env, dest):
        src = env.tree("src", SRC)
        new = env.fs.copy_in(str(src) + "/", dest)
        assert set(env.files()) == {"a.txt", "sub/b.txt"}
        assert [e.path for e in new.changes.add] == ["a.txt", "sub/b.txt"]

    def test_dest_is_never_a_rename_target(self, env):
        f = env.tree("src", {"a.txt": "a"}) / "a.txt"
        env.fs.copy_in(str(f), "b.txt")
        assert set(env.files()) == {"b.txt/a.txt"}

    def test_blob_at_dest_is_replaced_by_a_tree(self, env):
        env.seed({"dest": "i am a file"})
        f = env.tree("src", {"a.txt": "a"}) / "a.txt"
        new = env.fs.copy_in(str(f), "dest")
        assert env.snapshot() == {"dest/a.txt": ("100644", b"a")}
        assert new.changes == ChangeReport(add=[FileEntry("a.txt", BLOB, str(f))])


# ---------------------------------------------------------------------------
# What the walk finds and how it is stored
# ---------------------------------------------------------------------------

class TestContent:
    def test_empty_and_binary_files(self, env):
        data = bytes(range(256)) * 3 + b"\0\r\n"
        src = env.tree("src", {"empty": "", "bin.dat": data})
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert env.files() == {"dest/empty": ("100644", EMPTY_BLOB),
                               "dest/bin.dat": ("100644", blob_id(data))}
        assert new.read("dest/empty") == b""

    def test_empty_directories_are_dropped(self, env):
        src = env.tree("src", {"e": DIR, "deep/er/est": DIR, "f.txt": "f"})
        new = env.fs.copy_in(str(src), "dest")
        assert set(env.files()) == {"dest/src/f.txt"}
        assert env.g.lines("ls-tree", "--name-only", "main:dest/src") == ["f.txt"]
        assert [e.path for e in new.changes.add] == ["src/f.txt"]

    def test_only_empty_directories_copies_nothing(self, env):
        src = env.tree("src", {"e": DIR, "x/y": DIR})
        fs = env.fs
        new = fs.copy_in(str(src), "dest")
        assert new is fs and new.changes is None
        assert env.tip() == env.initial

    def test_dot_files_are_included(self, env):
        src = env.tree("src", {".hidden": "h", ".cfg/x": "x", "v.txt": "v"})
        env.fs.copy_in(str(src) + "/", "dest")
        assert set(env.files()) == {"dest/.hidden", "dest/.cfg/x", "dest/v.txt"}

    def test_non_ascii_and_special_names(self, env):
        spec = {"ünï文件.txt": "u", "dir é/ü.txt": "d", "emoji 😀.md": "e",
                "sp ace.txt": "1", "co:lon.txt": "2", "back\\slash.txt": "3",
                "q'uo\"te.txt": "4", "star*.txt": "5"}
        src = env.tree("src", spec)
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert env.snapshot() == {f"dest/{k}": ("100644", v.encode()) for k, v in spec.items()}
        assert new.read("dest/dir é/ü.txt") == b"d"

    def _bytes_name_tree(self, env, *, other: bool) -> Path:
        src = env.local / "raw"
        src.mkdir()
        fd = os.open(os.fsencode(str(src)) + b"/\xff.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"bytes name\n")
        os.close(fd)
        if other:
            (src / "b.txt").write_bytes(b"b")
        return src

    def test_non_utf8_file_name_kept_as_bytes(self, env):
        src = self._bytes_name_tree(env, other=True)
        new = env.fs.copy_in(str(src) + "/", "dest")
        raw = env.g.raw("ls-tree", "-r", "-z", "--name-only", "main")
        assert raw.split(b"\0")[:-1] == [b"dest/b.txt", b"dest/\xff.txt"]
        oid = env.g.rev("main:dest/b.txt")
        assert oid == blob_id(b"b")
        assert env.snapshot()["dest/\udcff.txt"] == ("100644", b"bytes name\n")
        assert new.read("dest/\udcff.txt") == b"bytes name\n"
        assert FileEntry("\udcff.txt", BLOB, os.path.join(str(src), "\udcff.txt")) \
            in new.changes.add

    def test_non_utf8_file_name_alone(self, env):
        src = self._bytes_name_tree(env, other=False)
        env.fs.copy_in(str(src) + "/", "dest")
        assert env.g.raw("ls-tree", "-r", "-z", "--name-only", "main") == b"dest/\xff.txt\0"

    def test_three_mib_file(self, env):
        data = random.Random(3).randbytes(3 * 1024 * 1024)
        src = env.tree("src", {"big.bin": data, "small.txt": "s"})
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert new.read("dest/big.bin") == data
        assert env.g.cat_size("main:dest/big.bin") == len(data)
        assert env.files()["dest/big.bin"] == ("100644", blob_id(data))
        assert env.store.branches["main"].read("dest/big.bin", offset=len(data) - 5) == data[-5:]

    def test_executable_bit(self, env):
        src = env.tree("src", {"run.sh": Exe("#!/bin/sh\n"), "plain.txt": "p"})
        new = env.fs.copy_in(str(src) + "/", "dest")
        modes = {p: m for p, (m, _) in env.files().items()}
        assert modes == {"dest/run.sh": "100755", "dest/plain.txt": "100644"}
        assert new.changes.add == [FileEntry("plain.txt", BLOB, str(src / "plain.txt")),
                                   FileEntry("run.sh", EXE, str(src / "run.sh"))]

    @pytest.mark.parametrize("perm", [0o744, 0o654, 0o645])
    def test_any_execute_bit_makes_an_executable(self, env, perm):
        src = env.tree("src", {"f": "f"})
        (src / "f").chmod(perm)
        new = env.fs.copy_in(str(src / "f"), "")
        assert env.files()["f"][0] == "100755"
        assert new.changes.add[0].type == EXE
        assert new.message == "+ f (executable)"


# ---------------------------------------------------------------------------
# Symlinks: stored as links, or followed with follow_symlinks=True
# ---------------------------------------------------------------------------

LINKS = {
    "a.txt": "alpha",
    "to_a": Link("a.txt"),
    "to_dir": Link("sub"),
    "sub/x.txt": "x",
    "dangling": Link("nowhere/at/all"),
    "abs": Link("/definitely/not/here.txt"),
    "up": Link("../outside/f.txt"),
    "uni": Link("ü/ç.txt"),
    "run": Exe("r"),
    "to_run": Link("run"),
}


class TestSymlinks:
    def test_links_stored_with_exact_text(self, env):
        src = env.tree("src", LINKS)
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert env.snapshot() == {
            "dest/a.txt": ("100644", b"alpha"),
            "dest/to_a": ("120000", b"a.txt"),
            "dest/to_dir": ("120000", b"sub"),
            "dest/sub/x.txt": ("100644", b"x"),
            "dest/dangling": ("120000", b"nowhere/at/all"),
            "dest/abs": ("120000", b"/definitely/not/here.txt"),
            "dest/up": ("120000", b"../outside/f.txt"),
            "dest/uni": ("120000", "ü/ç.txt".encode()),
            "dest/run": ("100755", b"r"),
            "dest/to_run": ("120000", b"run"),
        }
        types = {e.path: e.type for e in new.changes.add}
        assert types == {"a.txt": BLOB, "sub/x.txt": BLOB, "to_a": LINK, "to_dir": LINK,
                         "dangling": LINK, "abs": LINK, "up": LINK, "uni": LINK,
                         "run": EXE, "to_run": LINK}
        assert new.readlink("dest/up") == "../outside/f.txt"
        assert new.file_type("dest/to_dir") == LINK

    def test_non_utf8_link_target_kept_as_bytes(self, env):
        src = env.tree("src", {"a": "a"})
        os.symlink(b"\xfe\xff/t", os.fsencode(str(src / "sl")))
        env.fs.copy_in(str(src) + "/", "dest")
        assert env.g.cat("main:dest/sl") == b"\xfe\xff/t"
        assert env.files()["dest/sl"][0] == "120000"

    def test_dir_mode_source_that_is_a_symlink(self, env):
        src = env.tree("src", {"real/x.txt": "x", "ld": Link("real")})
        new = env.fs.copy_in(str(src / "ld"), "dest")
        assert env.snapshot() == {"dest/ld": ("120000", b"real")}
        assert new.changes.add == [FileEntry("ld", LINK, str(src / "ld"))]

    def test_contents_mode_symlink_root_is_followed(self, env):
        src = env.tree("src", {"real/x.txt": "x", "real/y/z.txt": "z", "ld": Link("real")})
        env.fs.copy_in(str(src / "ld") + "/", "dest")
        assert set(env.files()) == {"dest/x.txt", "dest/y/z.txt"}

    def test_single_link_source_message(self, env):
        src = env.tree("src", {"a.txt": "a", "sl": Link("a.txt")})
        fs = env.fs
        new = fs.copy_in(str(src / "sl"), "")
        assert_single_commit(env.g, new, fs, "+ sl (link)")
        assert env.snapshot() == {"sl": ("120000", b"a.txt")}
        assert new.changes.add == [FileEntry("sl", LINK, str(src / "sl"))]

    def test_links_in_sync_are_not_updates(self, env):
        src = env.tree("src", LINKS)
        fs = env.fs.copy_in(str(src) + "/", "dest")
        again = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert again is fs and again.changes is None

    def test_changed_link_target_is_an_update(self, env):
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "l": Link("a.txt")})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        os.unlink(src / "l")
        os.symlink("b.txt", src / "l")
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=[FileEntry("l", LINK, str(src / "l"))])
        assert new.message == "~ dest/l (link)"
        assert env.snapshot()["dest/l"] == ("120000", b"b.txt")


class TestFollowSymlinks:
    def test_file_link_stored_by_content(self, env):
        src = env.tree("src", {"a.txt": "alpha", "l": Link("a.txt")})
        new = env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True)
        assert env.snapshot() == {"dest/a.txt": ("100644", b"alpha"),
                                  "dest/l": ("100644", b"alpha")}
        assert {e.path: e.type for e in new.changes.add} == {"a.txt": BLOB, "l": BLOB}

    def test_link_to_executable_takes_its_mode(self, env):
        src = env.tree("src", {"run": Exe("#!x"), "lr": Link("run")})
        new = env.fs.copy_in(str(src / "lr"), "", follow_symlinks=True)
        assert env.snapshot() == {"lr": ("100755", b"#!x")}
        assert new.changes.add == [FileEntry("lr", EXE, str(src / "lr"))]

    def test_directory_link_descended(self, env):
        src = env.tree("src", {"real/x.txt": "x", "real/y/z.txt": "z", "ld": Link("real")})
        env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True)
        assert set(env.files()) == {"dest/real/x.txt", "dest/real/y/z.txt",
                                    "dest/ld/x.txt", "dest/ld/y/z.txt"}

    def test_dir_mode_source_that_is_a_symlink_is_walked(self, env):
        src = env.tree("src", {"real/x.txt": "x", "ld": Link("real")})
        new = env.fs.copy_in(str(src / "ld"), "dest", follow_symlinks=True)
        assert set(env.files()) == {"dest/ld/x.txt"}
        assert new.changes.add == [FileEntry("ld/x.txt", BLOB, str(src / "ld" / "x.txt"))]

    def test_two_links_to_the_same_directory_both_copied(self, env):
        src = env.tree("src", {"real/x.txt": "x", "l1": Link("real"), "l2": Link("real")})
        new = env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True)
        assert set(env.files()) == {"dest/real/x.txt", "dest/l1/x.txt", "dest/l2/x.txt"}
        assert [e.path for e in new.changes.add] == ["l1/x.txt", "l2/x.txt", "real/x.txt"]

    def test_link_back_to_an_ancestor_ends(self, env):
        src = env.tree("src", {"d/x.txt": "x", "d/loop": Link(".."), "d/self": Link("."),
                               "d/e/up": Link("../..")})
        new = bounded(lambda: env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True))
        assert set(env.files()) == {"dest/d/x.txt"}
        assert new.changes.errors == []

    def test_dangling_link(self, env):
        src = env.tree("src", {"a.txt": "a", "dl": Link("nowhere")})
        with pytest.raises(FileNotFoundError):
            env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True)
        assert env.tip() == env.initial
        new = env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, ignore_errors=True)
        assert set(env.files()) == {"dest/a.txt"}
        assert new.changes.add == entries(src, "a.txt")
        assert [e.path for e in new.changes.errors] == [str(src / "dl")]
        assert new.message == "+ dest/a.txt"

    def test_no_perpetual_update_and_target_change_detected(self, env):
        src = env.tree("src", {"a.txt": "a", "l": Link("a.txt"), "ld": Link("d"),
                               "d/x": Exe("x")})
        fs = env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True)
        again = fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, delete=True)
        assert again is fs and again.changes is None
        (src / "a.txt").write_text("changed")
        new = fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, delete=True)
        assert [e.path for e in new.changes.update] == ["a.txt", "l"]
        assert env.snapshot()["dest/l"] == ("100644", b"changed")
        assert env.files()["dest/ld/x"][0] == "100755"

    def test_dangling_link_not_trusted_by_mtime(self, env):
        src = env.tree("src", {"x": "x"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        os.unlink(src / "x")
        os.symlink("nowhere", src / "x")
        with pytest.raises(FileNotFoundError):
            fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, delete=True,
                       checksum=False)


# ---------------------------------------------------------------------------
# mode=: overrides the stored mode, and delete mode compares the
# effective mode, so a second run finds nothing to update
# ---------------------------------------------------------------------------

class TestMode:
    def test_forced_executable(self, env):
        src = env.tree("src", {"h.txt": "h"})
        fs = env.fs
        new = fs.copy_in(str(src / "h.txt"), "dest", mode=FileType.EXECUTABLE)
        assert_single_commit(env.g, new, fs, "+ dest/h.txt (executable)")
        assert env.files()["dest/h.txt"][0] == "100755"
        # the report takes the type from disk, not from mode=
        assert new.changes.add == [FileEntry("h.txt", BLOB, str(src / "h.txt"))]
        new.copy_in(str(src / "h.txt"), "raw", mode=0o100755)      # a raw filemode
        assert env.files()["raw/h.txt"][0] == "100755"

    def test_forced_blob_on_an_executable(self, env):
        src = env.tree("src", {"run": Exe("x")})
        new = env.fs.copy_in(str(src) + "/", "", mode=FileType.BLOB)
        assert env.files()["run"][0] == "100644"
        assert new.changes.add[0].type == EXE

    def test_mode_does_not_touch_symlinks(self, env):
        src = env.tree("src", {"a.txt": "a", "l": Link("a.txt")})
        env.fs.copy_in(str(src) + "/", "", mode=FileType.EXECUTABLE)
        assert {p: m for p, (m, _) in env.files().items()} == {"a.txt": "100755",
                                                              "l": "120000"}

    def test_tree_mode_rejected(self, env):
        src = env.tree("src", {"a.txt": "a"})
        with pytest.raises(ValueError):
            env.fs.copy_in(str(src) + "/", "", mode=FileType.TREE)
        assert env.tip() == env.initial

    def test_unknown_int_mode_is_a_key_error(self, env):
        # unknown int modes stay KeyError; only the tree mode is ValueError
        src = env.tree("src", {"a.txt": "a"})
        with pytest.raises(KeyError):
            env.fs.copy_in(str(src) + "/", "", mode=0o777)
        assert env.tip() == env.initial
        with pytest.raises(ValueError):
            env.fs.copy_in(str(src) + "/", "", mode=FileType.TREE)

    def test_forced_mode_with_delete_is_stable(self, env):
        src = env.tree("src", {"a.txt": "a", "sub/b.txt": "b", "l": Link("a.txt")})
        fs = env.fs.copy_in(str(src) + "/", "dest", mode=FileType.EXECUTABLE, delete=True)
        assert {m for m, _ in env.files().values()} == {"100755", "120000"}
        again = fs.copy_in(str(src) + "/", "dest", mode=FileType.EXECUTABLE, delete=True)
        assert again is fs and again.changes is None
        assert env.tip() == fs.commit_hash

    def test_forced_mode_change_is_an_update_in_delete_mode(self, env):
        src = env.tree("src", {"a.txt": "a"})
        fs = env.fs.copy_in(str(src) + "/", "dest", delete=True)
        new = fs.copy_in(str(src) + "/", "dest", mode=FileType.EXECUTABLE, delete=True)
        assert [e.path for e in new.changes.update] == ["a.txt"]
        assert env.files()["dest/a.txt"][0] == "100755"

    def test_chmod_is_an_update_in_delete_mode(self, env):
        src = env.tree("src", {"a.txt": "a", "b.txt": "b"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        (src / "a.txt").chmod(0o755)
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=[FileEntry("a.txt", EXE,
                                                             str(src / "a.txt"))])
        assert new.message == "~ dest/a.txt (executable)"
        assert env.files()["dest/a.txt"] == ("100755", blob_id("a"))


# ---------------------------------------------------------------------------
# Non-delete mode: adds and updates, never deletes
# ---------------------------------------------------------------------------

class TestNonDeleteMode:
    def test_unchanged_files_listed_as_update_no_commit(self, env):
        env.seed({"dest/a.txt": "alpha\n", "dest/sub/b.txt": "beta\n"})
        src = env.tree("src", SRC)
        fs = env.fs
        tip = env.tip()
        new = fs.copy_in(str(src) + "/", "dest")
        assert new is fs
        assert new.changes == ChangeReport(update=entries(src, "a.txt", "sub/b.txt"))
        assert env.tip() == tip

    def test_new_changed_and_unchanged(self, env):
        env.seed({"dest/same.txt": "same", "dest/chg.txt": "old"})
        src = env.tree("src", {"same.txt": "same", "chg.txt": "new", "new.txt": "n"})
        fs = env.fs
        new = fs.copy_in(str(src) + "/", "dest")
        # the report lists the unchanged file, the commit message does not
        assert new.changes == ChangeReport(add=entries(src, "new.txt"),
                                           update=entries(src, "chg.txt", "same.txt"))
        assert_single_commit(env.g, new, fs, "Batch cp: +1 ~1")
        assert env.snapshot()["dest/chg.txt"] == ("100644", b"new")

    def test_never_deletes(self, env):
        env.seed({"dest/old.txt": "old"})
        src = env.tree("src", {"a.txt": "a"})
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert set(env.files()) == {"dest/old.txt", "dest/a.txt"}
        assert new.changes.delete == []

    def test_report_type_comes_from_disk(self, env):
        env.seed({"dest/a.txt": Exe("a"), "dest/l": "not a link"})
        src = env.tree("src", {"a.txt": "a", "l": Link("a.txt")})
        new = env.fs.copy_in(str(src) + "/", "dest")
        assert new.changes.update == [FileEntry("a.txt", BLOB, str(src / "a.txt")),
                                      FileEntry("l", LINK, str(src / "l"))]
        assert {p: m for p, (m, _) in env.files().items()} == {"dest/a.txt": "100644",
                                                              "dest/l": "120000"}

    def test_ignore_existing(self, env):
        env.seed({"dest/a.txt": "repo"})
        src = env.tree("src", {"a.txt": "local", "b.txt": "b"})
        new = env.fs.copy_in(str(src) + "/", "dest", ignore_existing=True)
        assert new.changes == ChangeReport(add=entries(src, "b.txt"))
        assert env.snapshot() == {"dest/a.txt": ("100644", b"repo"),
                                  "dest/b.txt": ("100644", b"b")}
        # everything exists now: nothing to do
        fs = env.fs
        again = fs.copy_in(str(src) + "/", "dest", ignore_existing=True)
        assert again is fs and again.changes is None

    def test_ignore_existing_inside_an_existing_directory(self, env):
        env.seed({"dest/src/a.txt": "repo"})
        src = env.tree("src", SRC)
        new = env.fs.copy_in(str(src), "dest", ignore_existing=True)
        assert new.changes.add == entries(src, "sub/b.txt", prefix="src/")
        assert env.snapshot()["dest/src/a.txt"] == ("100644", b"repo")

    def test_overlapping_sources_first_wins_with_warning(self, env):
        a = env.tree("a", {"x.txt": "A", "only_a": "1"})
        b = env.tree("b", {"x.txt": "B", "only_b": "2"})
        new = env.fs.copy_in([str(a) + "/", str(b) + "/"], "dest")
        assert env.snapshot() == {"dest/x.txt": ("100644", b"A"),
                                  "dest/only_a": ("100644", b"1"),
                                  "dest/only_b": ("100644", b"2")}
        assert sorted(e.path for e in new.changes.add) == ["only_a", "only_b", "x.txt"]
        assert [e.src for e in new.changes.add if e.path == "x.txt"] == [str(a / "x.txt")]
        assert new.changes.warnings == [ChangeError(str(b / "x.txt"), overlap("x.txt"))]


# ---------------------------------------------------------------------------
# Delete mode: the destination mirrors the source; entries compared by
# kind and effective mode; excluded paths are deleted from the repository
# too; the real run reports the deletes its dry run reports
# ---------------------------------------------------------------------------

class TestDeleteMode:
    def test_adds_and_deletes(self, env):
        env.seed({"dest/o1": "1", "dest/o2": "2", "dest/sub/o3": "3", "keep.txt": "k"})
        src = env.tree("src", {"n1": "n1", "sub/n2": "n2"})
        fs = env.fs
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert_single_commit(env.g, new, fs, "Batch cp: +2 -3")
        assert new.changes == ChangeReport(
            add=entries(src, "n1", "sub/n2"),
            delete=[FileEntry("o1", BLOB, "dest/o1"), FileEntry("o2", BLOB, "dest/o2"),
                    FileEntry("sub/o3", BLOB, "dest/sub/o3")])
        assert set(env.files()) == {"dest/n1", "dest/sub/n2", "keep.txt"}

    def test_deleted_types_come_from_the_repo(self, env):
        env.seed({"dest/run": Exe("r"), "dest/ln": Link("run"), "dest/f": "f"})
        src = env.tree("src", {"f": "f"})
        new = env.fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(delete=[FileEntry("ln", LINK, "dest/ln"),
                                                   FileEntry("run", EXE, "dest/run")])
        assert new.message == "Batch cp: -2"

    def test_single_delete_message(self, env):
        env.seed({"dest/a.txt": "a", "dest/old.txt": "o"})
        src = env.tree("src", {"a.txt": "a"})
        new = env.fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.message == "- dest/old.txt"

    def test_in_sync_then_changed_file(self, env):
        src = env.tree("src", SRC)
        fs = env.fs.copy_in(str(src) + "/", "dest")
        again = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert again is fs and again.changes is None
        assert env.tip() == fs.commit_hash
        (src / "sub" / "b.txt").write_text("BETA")
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert_single_commit(env.g, new, fs, "~ dest/sub/b.txt")
        assert new.changes == ChangeReport(update=entries(src, "sub/b.txt"))

    def test_names_that_sort_trickily_stay_in_sync(self, env):
        names = ["a-b", "a.b", "a/b", "a0", "A", "ä", "a b", "a/b-c", "a/b.c", "a/b0",
                 "ab/x", "a.b.c/d", "a/c/d", "a/c-d"]
        src = env.tree("src", {n: n for n in names})
        fs = env.fs.copy_in(str(src) + "/", "dest", delete=True)
        assert sorted(e.path for e in fs.changes.add) == sorted(names)
        for checksum in (True, False):
            again = fs.copy_in(str(src) + "/", "dest", delete=True, checksum=checksum)
            assert again is fs and again.changes is None
        (src / "a" / "c-d").unlink()
        (src / "a.b").write_text("X")
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=entries(src, "a.b"),
                                           delete=[FileEntry("a/c-d", BLOB, "dest/a/c-d")])

    def test_many_files_only_the_changed_ones_update(self, env):
        spec = {f"d{i % 7}/f{i:03d}.txt": f"content {i}\n" * (i % 5 + 1) for i in range(150)}
        src = env.tree("src", spec)
        fs = env.fs.copy_in(str(src) + "/", "dest", delete=True)
        changed = sorted(rel for i, rel in enumerate(sorted(spec)) if i % 11 == 3)
        for rel in changed:
            (src / rel).write_text("changed " + rel)
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=entries(src, *changed))
        snap = env.snapshot()
        for rel, text in spec.items():
            want = ("changed " + rel) if rel in changed else text
            assert snap[f"dest/{rel}"] == ("100644", want.encode())

    def test_executable_content_change_keeps_its_type(self, env):
        src = env.tree("src", {"run": Exe("v1")})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        (src / "run").write_text("v2")
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=[FileEntry("run", EXE, str(src / "run"))])
        assert new.message == "~ dest/run (executable)"
        assert env.files()["dest/run"] == ("100755", blob_id("v2"))

    def test_root_dest(self, env):
        env.seed({"stray.txt": "s", "deep/er.txt": "e"})
        src = env.tree("src", {"a.txt": "a"})
        new = env.fs.copy_in(str(src) + "/", "", delete=True)
        assert set(env.files()) == {"a.txt"}
        assert [e.path for e in new.changes.delete] == ["deep/er.txt", "stray.txt"]
        assert [e.src for e in new.changes.delete] == ["deep/er.txt", "stray.txt"]

    def test_dir_mode_source_syncs_below_its_name(self, env):
        env.seed({"dest/src/old": "o", "dest/other": "keep"})
        src = env.tree("src", {"a.txt": "a"})
        new = env.fs.copy_in(str(src), "dest", delete=True)
        # the sync area is all of dest: dest/other is not provided by the sources
        assert set(env.files()) == {"dest/src/a.txt"}
        assert [e.path for e in new.changes.delete] == ["other", "src/old"]

    def test_empty_source_list_empties_dest(self, env):
        env.seed({"dest/a": "a", "dest/b/c": "c", "keep": "k"})
        fs = env.fs
        dry = fs.copy_in([], "dest", delete=True, dry_run=True)
        assert dry is fs
        assert [e.path for e in dry.changes.delete] == ["a", "b/c"]
        new = fs.copy_in([], "dest", delete=True)
        assert set(env.files()) == {"keep"}
        assert report_lists(new.changes) == report_lists(dry.changes)

    def test_empty_source_list_with_ignore_errors_deletes_nothing(self, env):
        env.seed({"dest/a": "a"})
        fs = env.fs
        new = fs.copy_in([], "dest", delete=True, ignore_errors=True)
        assert new is fs and new.changes is None
        assert set(env.files()) == {"dest/a"}

    def test_file_replaces_directory_and_back(self, env):
        env.seed({"data/foo/a.txt": "a", "data/foo/b.txt": "b", "data/bar": "bar"})
        src = env.tree("src", {"foo": "foo", "bar/x": "x"})
        fs = env.fs
        dry = fs.copy_in(str(src) + "/", "data", delete=True, dry_run=True)
        expected = ChangeReport(
            add=entries(src, "bar/x", "foo"),
            delete=[FileEntry("bar", BLOB, "data/bar"),
                    FileEntry("foo/a.txt", BLOB, "data/foo/a.txt"),
                    FileEntry("foo/b.txt", BLOB, "data/foo/b.txt")])
        assert dry.changes == expected
        new = fs.copy_in(str(src) + "/", "data", delete=True)
        assert new.changes == expected          # the real run reports the same
        assert env.snapshot() == {"data/foo": ("100644", b"foo"),
                                  "data/bar/x": ("100644", b"x")}

    def test_link_and_file_with_same_bytes_differ(self, env):
        env.seed({"dest/l": Link("a.txt")})
        src = env.tree("src", {"l": "a.txt"})
        fs = env.fs
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=[FileEntry("l", BLOB, str(src / "l"))])
        assert env.files()["dest/l"] == ("100644", blob_id("a.txt"))
        assert_single_commit(env.g, new, fs, "~ dest/l")
        # and back: the regular file replaced by a link with the same bytes
        (src / "l").unlink()
        os.symlink("a.txt", src / "l")
        back = new.copy_in(str(src) + "/", "dest", delete=True)
        assert back.changes == ChangeReport(update=[FileEntry("l", LINK, str(src / "l"))])
        assert env.files()["dest/l"] == ("120000", blob_id("a.txt"))
        assert back.message == "~ dest/l (link)"

    def test_ignore_existing_keeps_changed_files(self, env):
        env.seed({"dest/a.txt": "old", "dest/gone.txt": "g"})
        src = env.tree("src", {"a.txt": "new", "b.txt": "b"})
        new = env.fs.copy_in(str(src) + "/", "dest", delete=True, ignore_existing=True)
        assert new.changes == ChangeReport(add=entries(src, "b.txt"),
                                           delete=[FileEntry("gone.txt", BLOB,
                                                             "dest/gone.txt")])
        assert env.snapshot() == {"dest/a.txt": ("100644", b"old"),
                                  "dest/b.txt": ("100644", b"b")}

    def test_overlap_warning_only_report(self, env):
        a = env.tree("a", {"x.txt": "A"})
        b = env.tree("b", {"x.txt": "B"})
        fs = env.fs.copy_in(str(a) + "/", "dest")
        again = fs.copy_in([str(a) + "/", str(b) + "/"], "dest", delete=True)
        assert again is fs
        assert again.changes == ChangeReport(
            warnings=[ChangeError(str(b / "x.txt"), overlap("x.txt"))])
        assert env.tip() == fs.commit_hash

    def test_excluded_repo_files_are_deleted(self, env):
        env.seed({"dest/a.log": "l", "dest/a.txt": "t"})
        src = env.tree("src", {"a.txt": "t", "a.log": "l"})
        new = env.fs.copy_in(str(src) + "/", "dest", delete=True,
                             exclude=ExcludeFilter(patterns=["*.log"]))
        assert set(env.files()) == {"dest/a.txt"}
        assert new.changes == ChangeReport(delete=[FileEntry("a.log", BLOB, "dest/a.log")])


# ---------------------------------------------------------------------------
# checksum=: with False, a file of the same size not modified since the
# snapshot's commit is trusted unchanged
# ---------------------------------------------------------------------------

class TestChecksum:
    def _setup(self, env, when: int):
        src = env.tree("src", {"a.txt": "aaaa", "b.txt": "b"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        (src / "a.txt").write_text("AAAA")            # same size, other bytes
        t = int(fs.time.timestamp()) + when
        os.utime(src / "a.txt", (t, t))
        os.utime(src / "b.txt", (t, t))
        return src, fs

    @pytest.mark.parametrize("when", [-1000, 0])
    def test_mtime_not_after_commit_time_is_trusted(self, env, when):
        src, fs = self._setup(env, when)
        new = fs.copy_in(str(src) + "/", "dest", delete=True, checksum=False)
        assert new is fs and new.changes is None
        assert env.snapshot()["dest/a.txt"] == ("100644", b"aaaa")

    def test_checksum_detects_the_change(self, env):
        src, fs = self._setup(env, -1000)
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=entries(src, "a.txt"))
        assert env.snapshot()["dest/a.txt"] == ("100644", b"AAAA")

    def test_newer_mtime_is_compared(self, env):
        src, fs = self._setup(env, 1000)
        new = fs.copy_in(str(src) + "/", "dest", delete=True, checksum=False)
        # b.txt is newer but identical: hashed, not an update
        assert new.changes == ChangeReport(update=entries(src, "a.txt"))

    def test_links_are_always_compared(self, env):
        src = env.tree("src", {"a": "a", "b": "b", "l": Link("a")})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        os.unlink(src / "l")
        os.symlink("b", src / "l")
        t = int(fs.time.timestamp()) - 1000
        os.utime(src / "l", (t, t), follow_symlinks=False)
        new = fs.copy_in(str(src) + "/", "dest", delete=True, checksum=False)
        assert new.changes == ChangeReport(update=[FileEntry("l", LINK, str(src / "l"))])

    def test_sync_in_checksum_false(self, env):
        src, fs = self._setup(env, -1000)
        assert fs.sync_in(str(src), "dest", checksum=False).changes is None
        assert fs.sync_in(str(src), "dest").changes.update == entries(src, "a.txt")


# ---------------------------------------------------------------------------
# Dry runs: nothing written, the report of the real run, hashing errors
# recorded under ignore_errors as in a real run
# ---------------------------------------------------------------------------

class TestDryRun:
    def test_writes_nothing(self, env):
        env.seed({"dest/old": "o"})
        src = env.tree("src", {**SRC, "big": b"x" * (2 * 1024 * 1024)})
        fs = env.fs
        packs, loose, tip = pack_names(env.path), loose_object_ids(env.path), env.tip()
        for delete in (False, True):
            result = fs.copy_in(str(src) + "/", "dest", dry_run=True, delete=delete)
            assert result is fs
            assert [e.path for e in result.changes.add] == ["a.txt", "big", "sub/b.txt"]
        assert fs.changes.delete == [FileEntry("old", BLOB, "dest/old")]
        assert env.tip() == tip
        assert pack_names(env.path) == packs and loose_object_ids(env.path) == loose

    def _mixed(self, env):
        env.seed({"dest/same": "s", "dest/chg": "old", "dest/gone": "g", "dest/dir/f": "f",
                  "dest/file": "file", "dest/run": "r", "outside": "o"})
        a = env.tree("a", {"same": "s", "chg": "new", "new": "n", "dir": "now a file",
                           "file/inside": "i", "run": Exe("r"), "l": Link("same"),
                           "x/y/z": "deep"})
        b = env.tree("b", {"same": "other", "extra": "e"})
        return [str(a) + "/", str(b) + "/"]

    def test_delete_mode_dry_run_equals_real_run(self, env):
        sources = self._mixed(env)
        fs = env.fs
        dry = report_lists(fs.copy_in(sources, "dest", delete=True, dry_run=True).changes)
        # a second dry run gives the same report
        assert report_lists(fs.copy_in(sources, "dest", delete=True,
                                       dry_run=True).changes) == dry
        new = fs.copy_in(sources, "dest", delete=True)
        assert new is not fs
        assert report_lists(new.changes) == dry
        assert [e.path for e in new.changes.delete] == ["dir/f", "file", "gone"]
        assert len(new.changes.warnings) == 1

    def test_non_delete_dry_run_equals_real_run(self, env):
        sources = self._mixed(env)
        fs = env.fs
        dry = report_lists(fs.copy_in(sources, "dest", dry_run=True).changes)
        new = fs.copy_in(sources, "dest")
        assert report_lists(new.changes) == dry
        assert {e.path for e in new.changes.update} == {"same", "chg", "dir", "run"}
        assert {e.path for e in new.changes.add} == {"new", "file/inside", "l", "x/y/z",
                                                     "extra"}

    def test_dry_run_with_errors_equals_real_run(self, env):
        src = env.tree("src", {"a.txt": "a", "z.txt": "z"})
        os.mkfifo(src / "m.fifo")
        fs = env.fs
        dry = bounded(lambda: report_lists(fs.copy_in(str(src) + "/", "dest", dry_run=True,
                                                      ignore_errors=True).changes))
        new = bounded(lambda: fs.copy_in(str(src) + "/", "dest", ignore_errors=True))
        assert report_lists(new.changes) == dry
        assert [e.path for e in new.changes.errors] == [str(src / "m.fifo")]

    def test_sync_in_dry_run_equals_real_run(self, env):
        sources = self._mixed(env)
        fs = env.fs
        dry = report_lists(fs.sync_in(sources[0], "dest", dry_run=True).changes)
        new = fs.sync_in(sources[0], "dest")
        assert report_lists(new.changes) == dry

    def test_dry_run_in_sync_is_none(self, env):
        src = env.tree("src", SRC)
        fs = env.fs.copy_in(str(src) + "/", "dest")
        assert fs.copy_in(str(src) + "/", "dest", delete=True, dry_run=True).changes is None
        assert fs.sync_in(str(src), "dest", dry_run=True).changes is None

    def test_hash_error_recorded_in_dry_run(self, env):
        src = env.tree("src", {"x": "x", "ok": "ok"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        os.unlink(src / "x")
        os.symlink("nowhere", src / "x")
        dry = fs.copy_in(str(src) + "/", "dest", delete=True, follow_symlinks=True,
                         ignore_errors=True, dry_run=True)
        assert dry is fs
        assert [e.path for e in dry.changes.errors] == [str(src / "x")]
        assert dry.changes.update == [] and dry.changes.delete == []


# ---------------------------------------------------------------------------
# ignore_errors, errors, "All files failed" (a failed file is not listed
# in add/update, each error is recorded once, unchanged files do not count
# as failures)
# ---------------------------------------------------------------------------

class TestIgnoreErrors:
    def test_bad_source_recorded_rest_copied(self, env):
        src = env.tree("src", SRC)
        missing = str(env.local / "missing.txt")
        new = env.fs.copy_in([str(src / "a.txt"), missing, str(env.local / "nodir") + "/"],
                             "dest", ignore_errors=True)
        assert set(env.files()) == {"dest/a.txt"}
        assert [e.path for e in new.changes.errors] == [missing, str(env.local / "nodir") + "/"]
        assert "Local file not found" in new.changes.errors[0].error
        assert new.changes.add == entries(src, "a.txt")

    def test_all_sources_bad(self, env):
        with pytest.raises(RuntimeError, match=ALL_FAILED):
            env.fs.copy_in([str(env.local / "x"), str(env.local / "y")], "dest",
                           ignore_errors=True)
        assert env.tip() == env.initial
        fs = env.fs
        missing = str(env.local / "x")
        dry = fs.copy_in([missing], "dest", ignore_errors=True, dry_run=True)
        assert dry is fs
        assert dry.changes.add == [] and [e.path for e in dry.changes.errors] == [missing]

    def test_all_sources_bad_delete_mode_deletes_nothing(self, env):
        env.seed({"dest/a": "a"})
        tip = env.tip()
        with pytest.raises(RuntimeError, match=ALL_FAILED):
            env.fs.copy_in([str(env.local / "x") + "/"], "dest", delete=True,
                           ignore_errors=True)
        assert env.tip() == tip

    @pytest.mark.parametrize("delete", [False, True])
    def test_failed_file_listed_in_errors_not_in_add(self, env, delete):
        # the dangling link fails when it is read for storing (follow_symlinks)
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "dl": Link("nowhere")})
        new = env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, delete=delete,
                             ignore_errors=True)
        assert new.changes.add == entries(src, "a.txt", "b.txt")
        assert len(new.changes.errors) == 1 and new.changes.errors[0].path == str(src / "dl")
        assert set(env.files()) == {"dest/a.txt", "dest/b.txt"}
        assert new.message == "Batch cp: +2"

    def test_only_failures_raise(self, env):
        src = env.tree("src", {"dl": Link("nowhere")})
        with pytest.raises(RuntimeError, match=ALL_FAILED):
            env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, ignore_errors=True)
        assert env.tip() == env.initial

    def test_failure_plus_unchanged_is_not_all_failed(self, env):
        src = env.tree("src", {"a.txt": "a", "dl": Link("nowhere")})
        fs = env.fs.copy_in(str(src / "a.txt"), "dest")
        new = fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, ignore_errors=True)
        assert new is fs
        assert new.changes.update == entries(src, "a.txt")
        assert [e.path for e in new.changes.errors] == [str(src / "dl")]
        assert new.changes.add == []

    def test_failure_plus_unchanged_delete_mode(self, env):
        src = env.tree("src", {"a.txt": "a", "dl": Link("nowhere")})
        fs = env.fs.copy_in(str(src / "a.txt"), "dest")
        new = fs.copy_in(str(src) + "/", "dest", delete=True, follow_symlinks=True,
                         ignore_errors=True)
        assert new is fs
        assert new.changes == ChangeReport(errors=new.changes.errors)
        assert [e.path for e in new.changes.errors] == [str(src / "dl")]

    def test_hash_failure_recorded_once(self, env):
        src = env.tree("src", {"x": "x", "y": "y"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        os.unlink(src / "x")
        os.symlink("nowhere", src / "x")
        (src / "y").write_text("Y")
        new = fs.copy_in(str(src) + "/", "dest", delete=True, follow_symlinks=True,
                         ignore_errors=True)
        assert [e.path for e in new.changes.errors] == [str(src / "x")]
        assert new.changes.update == entries(src, "y")
        assert new.changes.delete == []
        assert env.snapshot()["dest/x"] == ("100644", b"x")   # kept, not deleted

    def test_hash_failure_raises_without_ignore_errors(self, env):
        src = env.tree("src", {"x": "x", "y": "y"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        os.unlink(src / "x")
        os.symlink("nowhere", src / "x")
        (src / "y").write_text("Y")
        with pytest.raises(FileNotFoundError):
            fs.copy_in(str(src) + "/", "dest", delete=True, follow_symlinks=True)
        assert env.tip() == fs.commit_hash


# ---------------------------------------------------------------------------
# Special files and unreadable directories: errors, never opened, and
# what is below them in the repository is never deleted
# ---------------------------------------------------------------------------

class TestSpecialFiles:
    def test_fifo_in_a_directory_raises(self, env):
        src = env.tree("src", {"a.txt": "a"})
        os.mkfifo(src / "pipe")
        with pytest.raises(OSError):
            bounded(lambda: env.fs.copy_in(str(src) + "/", "dest"))
        with pytest.raises(OSError):
            bounded(lambda: env.fs.copy_in(str(src) + "/", "dest", dry_run=True))
        assert env.tip() == env.initial

    def test_fifo_in_a_directory_message(self, env):
        src = env.tree("src", {"a.txt": "a"})
        os.mkfifo(src / "pipe")
        with pytest.raises(OSError, match=NOT_REGULAR) as info:
            bounded(lambda: env.fs.copy_in(str(src) + "/", "dest"))
        assert str(src / "pipe") in str(info.value)
        new = bounded(lambda: env.fs.copy_in(str(src) + "/", "dest", ignore_errors=True))
        assert NOT_REGULAR in new.changes.errors[0].error

    def test_fifo_named_directly_message(self, env):
        os.mkfifo(env.local / "pipe")
        with pytest.raises(OSError, match=NOT_REGULAR) as info:
            bounded(lambda: env.fs.copy_in(str(env.local / "pipe"), "dest"))
        assert str(env.local / "pipe") in str(info.value)

    def test_fifo_with_ignore_errors(self, env):
        src = env.tree("src", {"a.txt": "a", "z.txt": "z"})
        os.mkfifo(src / "pipe")
        new = bounded(lambda: env.fs.copy_in(str(src) + "/", "dest", ignore_errors=True))
        assert set(env.files()) == {"dest/a.txt", "dest/z.txt"}
        assert new.changes.add == entries(src, "a.txt", "z.txt")
        assert len(new.changes.errors) == 1
        assert new.changes.errors[0].path == str(src / "pipe")

    def test_fifo_named_directly(self, env):
        os.mkfifo(env.local / "pipe")
        with pytest.raises(OSError):
            bounded(lambda: env.fs.copy_in(str(env.local / "pipe"), "dest"))
        with pytest.raises(RuntimeError, match=ALL_FAILED):
            bounded(lambda: env.fs.copy_in(str(env.local / "pipe"), "dest",
                                           ignore_errors=True))
        assert env.tip() == env.initial

    def test_link_to_fifo(self, env):
        src = env.tree("src", {"a.txt": "a", "lp": Link("pipe")})
        os.mkfifo(src / "pipe")
        # not followed: just a link
        bounded(lambda: env.fs.copy_in(str(src / "lp"), "kept"))
        assert env.snapshot() == {"kept/lp": ("120000", b"pipe")}
        # followed: the fifo is an error
        new = bounded(lambda: env.fs.copy_in([str(src / "a.txt"), str(src / "lp")], "dest",
                                             follow_symlinks=True, ignore_errors=True))
        assert set(env.files()) == {"kept/lp", "dest/a.txt"}
        assert [e.path for e in new.changes.errors] == [str(src / "lp")]

    def test_socket(self, env, monkeypatch):
        src = env.tree("src", {"a.txt": "a"})
        monkeypatch.chdir(src)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind("sock")
        finally:
            sock.close()
        os.chmod(src / "sock", 0o777)
        with pytest.raises(OSError):
            bounded(lambda: env.fs.copy_in(str(src) + "/", "dest"))
        new = bounded(lambda: env.fs.copy_in(str(src) + "/", "dest", ignore_errors=True))
        assert set(env.files()) == {"dest/a.txt"}
        assert [e.path for e in new.changes.errors] == [str(src / "sock")]

    def test_device(self, env):
        src = env.tree("src", {"a.txt": "a"})
        try:
            os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except (PermissionError, OSError) as exc:
            pytest.skip(f"cannot create a device node here: {exc}")
        with pytest.raises(OSError):
            bounded(lambda: env.fs.copy_in(str(src) + "/", "dest"))
        assert env.tip() == env.initial

    def test_special_file_protects_its_repo_copy_in_delete_mode(self, env):
        env.seed({"dest/pipe": "was a file", "dest/old": "o"})
        src = env.tree("src", {"a.txt": "a"})
        os.mkfifo(src / "pipe")
        new = bounded(lambda: env.fs.copy_in(str(src) + "/", "dest", delete=True,
                                             ignore_errors=True))
        assert set(env.files()) == {"dest/a.txt", "dest/pipe"}
        assert new.changes.delete == [FileEntry("old", BLOB, "dest/old")]
        assert [e.path for e in new.changes.errors] == [str(src / "pipe")]

    @pytest.mark.skipif(os.geteuid() == 0, reason="root can read any directory")
    def test_unreadable_directory_raises(self, env):
        src = env.tree("src", {"a.txt": "a", "locked/x": "x"})
        (src / "locked").chmod(0)
        try:
            with pytest.raises(OSError):
                env.fs.copy_in(str(src) + "/", "dest")
        finally:
            (src / "locked").chmod(0o755)
        assert env.tip() == env.initial

    @pytest.mark.skipif(os.geteuid() == 0, reason="root can read any directory")
    def test_unreadable_directory_protects_repo_files(self, env):
        src = env.tree("src", {"a.txt": "a", "locked/x": "x", "locked/y": "y"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        (src / "locked").chmod(0)
        try:
            new = fs.copy_in(str(src) + "/", "dest", delete=True, ignore_errors=True)
        finally:
            (src / "locked").chmod(0o755)
        assert [e.path for e in new.changes.errors] == [str(src / "locked")]
        assert new.changes.delete == []
        assert set(env.files()) == {"dest/a.txt", "dest/locked/x", "dest/locked/y"}


# ---------------------------------------------------------------------------
# Exclusion: patterns and .gitignore files, scoped to one walk
# ---------------------------------------------------------------------------

class TestExclude:
    def test_patterns_at_any_depth_and_negation(self, env):
        src = env.tree("src", {"a.txt": "a", "a.log": "l", "sub/b.log": "l", "sub/c.txt": "c",
                               "sub/keep.log": "k"})
        new = env.fs.copy_in(str(src) + "/", "dest",
                             exclude=ExcludeFilter(patterns=["*.log", "!keep.log"]))
        assert set(env.files()) == {"dest/a.txt", "dest/sub/c.txt", "dest/sub/keep.log"}
        assert [e.path for e in new.changes.add] == ["a.txt", "sub/c.txt", "sub/keep.log"]

    def test_directory_pattern_prunes_directories_only(self, env):
        src = env.tree("src", {"build/o.bin": "o", "src/build": "file", "src/main.c": "m",
                               "src/build2/x": "x"})
        env.fs.copy_in(str(src) + "/", "", exclude=ExcludeFilter(patterns=["build/"]))
        assert set(env.files()) == {"src/build", "src/main.c", "src/build2/x"}

    def test_anchored_pattern_relative_to_the_walked_directory(self, env):
        src = env.tree("mydir", {"a.txt": "a", "sub/a.txt": "s"})
        env.fs.copy_in(str(src), "d1", exclude=ExcludeFilter(patterns=["/a.txt"]))
        env.fs.copy_in(str(src), "d2", exclude=ExcludeFilter(patterns=["/mydir/a.txt"]))
        assert set(env.files()) == {"d1/mydir/sub/a.txt",
                                    "d2/mydir/a.txt", "d2/mydir/sub/a.txt"}

    def test_file_source_matched_by_basename(self, env):
        base = env.tree("base", {"sub/a.txt": "a", "x.log": "l"})
        fs = env.fs
        ef = ExcludeFilter(patterns=["*.log", "sub/a.txt"])
        skipped = fs.copy_in(str(base / "x.log"), "dest", exclude=ef)
        assert skipped is fs and skipped.changes is None
        env.fs.copy_in(f"{base}/./sub/a.txt", "dest", exclude=ef)
        assert set(env.files()) == {"dest/sub/a.txt"}

    def test_exclude_from_file(self, env):
        rules = env.local / "rules"
        rules.write_text("# comment\n\n  *.tmp  \nsecret/\n")
        src = env.tree("src", {"a.tmp": "t", "b.txt": "b", "secret/k": "k"})
        env.fs.copy_in(str(src) + "/", "", exclude=ExcludeFilter(exclude_from=str(rules)))
        assert set(env.files()) == {"b.txt"}

    def test_inactive_filter_changes_nothing(self, env):
        src = env.tree("src", {".gitignore": "*\n", "a": "a"})
        env.fs.copy_in(str(src) + "/", "", exclude=ExcludeFilter())
        assert set(env.files()) == {".gitignore", "a"}

    def test_symlinked_directory_tested_as_directory(self, env):
        src = env.tree("src", {"real/x": "x", "ld": Link("real"), "lf": Link("real/x")})
        env.fs.copy_in(str(src) + "/", "", exclude=ExcludeFilter(patterns=["ld/", "lf/"]))
        assert set(env.files()) == {"real/x", "lf"}

    def test_nested_gitignore_files(self, env):
        src = env.tree("src", {
            ".gitignore": "*.log\n",
            "x.log": "", "a.txt": "a",
            "sub/.gitignore": "!debug.log\n",
            "sub/debug.log": "d", "sub/other.log": "o",
            "sub/deep/.gitignore": "debug.log\n",
            "sub/deep/debug.log": "dd", "sub/deep/keep.txt": "k",
        })
        new = env.fs.copy_in(str(src) + "/", "dest", exclude=ExcludeFilter(gitignore=True))
        assert set(env.files()) == {"dest/a.txt", "dest/sub/debug.log",
                                    "dest/sub/deep/keep.txt"}
        assert [e.path for e in new.changes.add] == ["a.txt", "sub/debug.log",
                                                     "sub/deep/keep.txt"]

    def test_gitignore_directory_rule_prunes(self, env):
        src = env.tree("src", {".gitignore": "node_modules/\n/out\n",
                               "node_modules/m/i.js": "i", "app/node_modules/z": "z",
                               "out/o": "o", "app/out/p": "p", "app/main.js": "m"})
        env.fs.copy_in(str(src) + "/", "", exclude=ExcludeFilter(gitignore=True))
        assert set(env.files()) == {"app/out/p", "app/main.js"}

    def test_base_patterns_beat_gitignore(self, env):
        src = env.tree("src", {".gitignore": "!*.md\n", "a.md": "a", "b.txt": "b"})
        env.fs.copy_in(str(src) + "/", "",
                       exclude=ExcludeFilter(patterns=["*.md"], gitignore=True))
        assert set(env.files()) == {"b.txt"}

    def test_gitignore_rules_do_not_leak_between_sources(self, env):
        a = env.tree("a", {".gitignore": "*.txt\n", "x.txt": "x", "keep.md": "k"})
        b = env.tree("b", {"y.txt": "y"})
        ef = ExcludeFilter(gitignore=True)
        env.fs.copy_in([str(a) + "/", str(b) + "/"], "dest", exclude=ef)
        assert set(env.files()) == {"dest/keep.md", "dest/y.txt"}
        # nor between calls using the same filter
        env.fs.copy_in(str(a) + "/", "da", exclude=ef)
        env.fs.copy_in(str(b) + "/", "db", exclude=ef)
        assert {p for p in env.files() if not p.startswith("dest/")} == {"da/keep.md",
                                                                         "db/y.txt"}

    def test_sync_in_with_exclude(self, env):
        env.seed({"dest/a.txt": "a", "dest/cache/c": "c"})
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "cache/c": "c", "cache/d": "d"})
        new = env.fs.sync_in(str(src), "dest", exclude=ExcludeFilter(patterns=["cache/"]))
        assert set(env.files()) == {"dest/a.txt", "dest/b.txt"}
        assert new.changes == ChangeReport(add=entries(src, "b.txt"),
                                           delete=[FileEntry("cache/c", BLOB,
                                                             "dest/cache/c")])


# ---------------------------------------------------------------------------
# Commit messages
# ---------------------------------------------------------------------------

class TestMessages:
    def test_custom_message_verbatim(self, env):
        src = env.tree("src", SRC)
        fs = env.fs
        new = fs.copy_in(str(src) + "/", "dest", message="import data")
        assert_single_commit(env.g, new, fs, "import data")
        # an empty message means the automatic one
        assert new.copy_in(str(src) + "/", "d2", message="").message == "Batch cp: +2"

    @pytest.mark.parametrize("message, expected", [
        ("imp {default} {add_count}", "imp Batch cp: +2 2"),
        ("{{x}} {op}", "{x} cp"),
        ("{add_count:03d}/{update_count}/{delete_count}/{total_count}", "002/0/0/2"),
    ])
    def test_placeholders(self, env, message, expected):
        src = env.tree("src", SRC)
        fs = env.fs
        new = fs.copy_in(str(src) + "/", "dest", message=message)
        assert_single_commit(env.g, new, fs, expected)

    def test_placeholders_count_commit_changes(self, env):
        env.seed({"dest/same": "s", "dest/old": "o"})
        src = env.tree("src", {"same": "s", "n1": "1", "n2": "2"})
        new = env.fs.copy_in(str(src) + "/", "dest",
                             message="{add_count} {update_count} {delete_count} {default}")
        assert new.message == "2 0 0 Batch cp: +2"

    def test_sync_placeholders(self, env):
        env.seed({"dest/old": "o"})
        src = env.tree("src", {"n": "n"})
        new = env.fs.sync_in(str(src), "dest", message="[{op}] {default}")
        assert new.message == "[sync] Batch sync: +1 -1"

    def test_unknown_placeholder_commits_nothing(self, env):
        src = env.tree("src", SRC)
        with pytest.raises(KeyError):
            env.fs.copy_in(str(src) + "/", "dest", message="{nope}")
        assert env.tip() == env.initial

    def test_single_update_message(self, env):
        env.seed({"dest/h.txt": "old"})
        src = env.tree("src", {"h.txt": "new"})
        assert env.fs.copy_in(str(src / "h.txt"), "dest").message == "~ dest/h.txt"

    def test_sync_adds_and_deletes(self, env):
        env.seed({"dest/o1": "1", "dest/o2": "2", "dest/o3": "3"})
        src = env.tree("src", {"n1": "1", "n2": "2"})
        fs = env.fs
        new = fs.sync_in(str(src), "dest")
        assert_single_commit(env.g, new, fs, "Batch sync: +2 -3")

    def test_sync_single_add(self, env):
        env.seed({"dir/a.txt": "a"})
        src = env.tree("src", {"a.txt": "a", "n.txt": "n"})
        new = env.fs.sync_in(str(src), "dir")
        assert new.message == "+ dir/n.txt"
        assert new.changes == ChangeReport(add=entries(src, "n.txt"))


# ---------------------------------------------------------------------------
# sync_in: a missing local directory empties the destination (whatever
# ignore_errors says), committed with the operation name "sync"; a local
# file as the source is an error and deletes nothing
# ---------------------------------------------------------------------------

class TestSyncIn:
    def test_makes_repo_dir_equal(self, env):
        env.seed({"data/a.txt": "old", "data/gone.txt": "g", "data/l": Link("x"),
                  "other/keep": "k"})
        src = env.tree("src", {"a.txt": "new", "n/b.txt": "b", "l": Link("x"),
                               "run": Exe("r")})
        new = env.fs.sync_in(str(src), "data")
        assert new.changes == ChangeReport(
            add=[FileEntry("n/b.txt", BLOB, str(src / "n" / "b.txt")),
                 FileEntry("run", EXE, str(src / "run"))],
            update=entries(src, "a.txt"),
            delete=[FileEntry("gone.txt", BLOB, "data/gone.txt")])
        assert env.snapshot() == {
            "data/a.txt": ("100644", b"new"), "data/n/b.txt": ("100644", b"b"),
            "data/l": ("120000", b"x"), "data/run": ("100755", b"r"),
            "other/keep": ("100644", b"k")}

    @pytest.mark.parametrize("suffix", ["", "/"])
    def test_in_sync_returns_input(self, env, suffix):
        src = env.tree("src", SRC)
        fs = env.fs.sync_in(str(src), "data")
        again = fs.sync_in(str(src) + suffix, "data")
        assert again is fs and again.changes is None

    def test_root_repo_path(self, env):
        env.seed({"stray": "s"})
        src = env.tree("src", SRC)
        new = env.fs.sync_in(str(src), "")
        assert set(env.files()) == {"a.txt", "sub/b.txt"}
        assert new.changes.delete == [FileEntry("stray", BLOB, "stray")]

    def test_repo_path_normalised_and_pathlike_local_path(self, env):
        env.seed({"data/old": "o"})
        src = env.tree("src", SRC)
        new = env.fs.sync_in(src, "/data/")
        assert set(env.files()) == {"data/a.txt", "data/sub/b.txt"}
        assert new.changes.delete == [FileEntry("old", BLOB, "data/old")]

    def test_symlinks_kept_as_links(self, env):
        src = env.tree("src", {"real/x": "x", "ld": Link("real"), "lf": Link("real/x")})
        env.fs.sync_in(str(src), "d")
        assert {p: m for p, (m, _) in env.files().items()} == {
            "d/real/x": "100644", "d/ld": "120000", "d/lf": "120000"}

    def test_repo_path_is_a_blob(self, env):
        env.seed({"data": "blob"})
        src = env.tree("src", SRC)
        new = env.fs.sync_in(str(src), "data")
        assert set(env.files()) == {"data/a.txt", "data/sub/b.txt"}
        assert new.changes == ChangeReport(add=entries(src, "a.txt", "sub/b.txt"))

    def test_missing_local_directory_empties_repo_path(self, env):
        env.seed({"data/a": "a", "data/sub/b": "b", "data/l": Link("a"), "keep": "k"})
        fs = env.fs
        missing = str(env.local / "missing")
        new = fs.sync_in(missing, "data")
        assert_single_commit(env.g, new, fs, "Batch sync: -3")
        assert new.changes == ChangeReport(delete=[
            FileEntry("a", BLOB, "data/a"), FileEntry("l", LINK, "data/l"),
            FileEntry("sub/b", BLOB, "data/sub/b")])
        assert set(env.files()) == {"keep"}

    def test_missing_local_directory_to_root_empties_the_branch(self, env):
        env.seed({"a": "a", "d/b": "b", "d/e/c": "c"})
        new = env.fs.sync_in(str(env.local / "missing"), "")
        assert new.message == "Batch sync: -3"
        assert [e.path for e in new.changes.delete] == ["a", "d/b", "d/e/c"]
        assert env.files() == {}

    def test_missing_local_directory_dry_run(self, env):
        env.seed({"data/a": "a", "data/b": "b"})
        fs = env.fs
        missing = str(env.local / "missing")
        dry = fs.sync_in(missing, "data", dry_run=True)
        assert dry is fs and env.tip() == fs.commit_hash
        new = fs.sync_in(missing, "data")
        assert report_lists(new.changes) == report_lists(dry.changes)
        assert [e.path for e in dry.changes.delete] == ["a", "b"]

    def test_missing_local_directory_one_file(self, env):
        env.seed({"data/x.txt": "x"})
        new = env.fs.sync_in(str(env.local / "missing"), "data")
        assert new.message == "- data/x.txt"

    def test_missing_local_directory_blob_at_repo_path(self, env):
        env.seed({"data": "blob", "keep": "k"})
        fs = env.fs
        new = fs.sync_in(str(env.local / "missing"), "data")
        assert_single_commit(env.g, new, fs, "- data")
        assert new.changes == ChangeReport(delete=[FileEntry("data", BLOB, "data")])
        assert set(env.files()) == {"keep"}

    def test_missing_local_directory_nothing_there(self, env):
        env.seed({"keep": "k"})
        fs = env.fs
        new = fs.sync_in(str(env.local / "missing"), "data")
        assert new is fs and new.changes is None

    def test_missing_local_directory_with_ignore_errors(self, env):
        env.seed({"data/a": "a", "data/b": "b"})
        fs = env.fs
        new = fs.sync_in(str(env.local / "missing"), "data", ignore_errors=True)
        assert_single_commit(env.g, new, fs, "Batch sync: -2")
        assert new.changes.errors == []
        assert set(env.files()) == set()

    def test_local_file_raises_and_deletes_nothing(self, env):
        env.seed({"data/a": "a"})
        f = env.tree("src", {"f.txt": "f"}) / "f.txt"
        tip = env.tip()
        with pytest.raises(NotADirectoryError):
            env.fs.sync_in(str(f), "data")
        # ignore_errors: the source is an error entry and nothing is deleted either
        with pytest.raises((NotADirectoryError, RuntimeError)):
            env.fs.sync_in(str(f), "data", ignore_errors=True)
        assert env.tip() == tip

    def test_empty_local_path(self, env):
        env.seed({"data/a": "a"})
        tip = env.tip()
        with pytest.raises(ValueError):
            env.fs.sync_in("", "data")
        assert env.tip() == tip

    def test_empty_local_directory_empties_repo_path(self, env):
        env.seed({"data/a": "a", "data/b": "b"})
        src = env.tree("src", {"e": DIR})
        new = env.fs.sync_in(str(src), "data")
        assert new.message == "Batch sync: -2"
        assert env.files() == {}

    def test_fifo_in_sync_source(self, env):
        env.seed({"data/a": "a"})
        src = env.tree("src", {"a": "a", "b": "b"})
        os.mkfifo(src / "p")
        tip = env.tip()
        with pytest.raises(OSError):
            bounded(lambda: env.fs.sync_in(str(src), "data"))
        assert env.tip() == tip
        new = bounded(lambda: env.fs.sync_in(str(src), "data", ignore_errors=True))
        assert set(env.files()) == {"data/a", "data/b"}
        assert new.message == "+ data/b"


# ---------------------------------------------------------------------------
# Read-only snapshots, staleness, atomicity
# ---------------------------------------------------------------------------

class TestReadOnlyAndStale:
    def _tagged(self, env):
        src = env.tree("src", SRC)
        fs = env.fs.copy_in(str(src) + "/", "dest")
        env.store.tags["v1"] = fs
        return src, env.store.tags["v1"]

    def test_tag_refuses_a_change(self, env):
        src, tag = self._tagged(env)
        tip = env.tip()
        (src / "a.txt").write_text("changed")
        with pytest.raises(PermissionError, match=READONLY):
            tag.copy_in(str(src) + "/", "dest", delete=True)
        with pytest.raises(PermissionError, match=READONLY):
            tag.sync_in(str(src), "dest")
        with pytest.raises(PermissionError, match=READONLY):
            tag.copy_in(str(src / "a.txt"), "new")
        assert env.tip() == tip
        assert env.g.rev("refs/tags/v1") == tip

    def test_tag_in_sync_is_fine(self, env):
        src, tag = self._tagged(env)
        result = tag.copy_in(str(src) + "/", "dest", delete=True)
        assert result is tag and result.changes is None
        assert tag.sync_in(str(src), "dest").changes is None

    def test_tag_dry_run(self, env):
        src, tag = self._tagged(env)
        dry = tag.copy_in(str(src / "a.txt"), "new", dry_run=True)
        assert dry is tag
        assert dry.changes == ChangeReport(add=entries(src, "a.txt"))

    def test_stale_snapshot(self, env):
        src = env.tree("src", SRC)
        old = env.fs
        newer = old.write("other.txt", b"o")
        with pytest.raises(StaleSnapshotError, match=STALE):
            old.copy_in(str(src) + "/", "dest")
        with pytest.raises(StaleSnapshotError):
            old.sync_in(str(src), "dest")
        assert env.tip() == newer.commit_hash
        assert "dest/a.txt" not in env.files()

    def test_stale_snapshot_with_nothing_to_do(self, env):
        src = env.tree("src", SRC)
        old = env.fs.copy_in(str(src) + "/", "dest")
        old.write("other.txt", b"o")
        result = old.copy_in(str(src) + "/", "dest", delete=True)
        assert result is old and result.changes is None
        # dry runs never check staleness
        (src / "a.txt").write_text("changed")
        dry = old.copy_in(str(src) + "/", "dest", delete=True, dry_run=True)
        assert dry.changes == ChangeReport(update=entries(src, "a.txt"))

    def test_error_late_in_the_list_leaves_the_branch(self, env):
        env.seed({"dest/keep": "k"})
        src = env.tree("src", {"a.txt": "a", "b.txt": "b", "zz": Link("nowhere")})
        tip = env.tip()
        with pytest.raises(FileNotFoundError):
            env.fs.copy_in(str(src) + "/", "dest", follow_symlinks=True, delete=True)
        assert env.tip() == tip
        assert set(env.files()) == {"dest/keep"}

    def test_chained_copies(self, env):
        a = env.tree("a", {"x": "1"})
        b = env.tree("b", {"y": "2"})
        fs = env.fs
        one = fs.copy_in(str(a) + "/", "d")
        two = one.copy_in(str(b) + "/", "d")
        assert env.g.lines("rev-list", "main") == [two.commit_hash, one.commit_hash,
                                                   env.initial]
        assert one.changes.add == entries(a, "x") and two.changes.add == entries(b, "y")
        assert set(env.files()) == {"d/x", "d/y"}


# ---------------------------------------------------------------------------
# Storage: one pack per commit, what other tools see
# ---------------------------------------------------------------------------

class TestStorage:
    def test_one_pack_per_commit_no_loose_objects(self, env):
        spec = {f"f{i}.txt": f"file {i}\n" for i in range(6)}
        spec["sub/g.txt"] = "g\n"
        src = env.tree("src", spec)
        packs, loose = pack_names(env.path), loose_object_ids(env.path)
        new = env.fs.copy_in(str(src) + "/", "dest")
        after = pack_names(env.path)
        assert packs <= after and len(after - packs) == 1
        assert loose_object_ids(env.path) == loose
        (added,) = after - packs
        stored = pack_object_ids(env.path, added)
        assert {blob_id(v) for v in spec.values()} <= stored
        assert new.commit_hash in stored

    def test_unchanged_files_are_not_stored_again(self, env):
        src = env.tree("src", SRC)
        env.fs.copy_in(str(src) + "/", "dest")
        packs, loose = pack_names(env.path), loose_object_ids(env.path)
        fs = env.fs
        assert fs.copy_in(str(src) + "/", "dest") is fs                 # non-delete
        assert fs.copy_in(str(src) + "/", "dest", delete=True) is fs    # delete
        assert pack_names(env.path) == packs and loose_object_ids(env.path) == loose

    def test_unchanged_big_file_is_not_stored_again(self, env):
        data = random.Random(5).randbytes(2 * 1024 * 1024)
        src = env.tree("src", {"big": data, "s": "s"})
        fs = env.fs.copy_in(str(src) + "/", "dest")
        assert env.files()["dest/big"] == ("100644", blob_id(data))
        (src / "s").write_text("S")
        packs, loose = pack_names(env.path), loose_object_ids(env.path)
        new = fs.copy_in(str(src) + "/", "dest", delete=True)
        assert new.changes == ChangeReport(update=entries(src, "s"))
        assert loose_object_ids(env.path) == loose
        assert len(pack_names(env.path) - packs) == 1

    def test_git_sees_exactly_the_files(self, env):
        spec = {"a.txt": "a\n", "run": Exe("#!/bin/sh\n"), "l": Link("a.txt"),
                "d/e/f.bin": bytes(range(10)), "empty": "", ".dot": "."}
        src = env.tree("src", spec)
        new = env.fs.copy_in(str(src), "top")
        expected = {}
        for rel, content in spec.items():
            if isinstance(content, Link):
                expected[f"top/src/{rel}"] = ("120000", content.target.encode())
            elif isinstance(content, Exe):
                expected[f"top/src/{rel}"] = ("100755", _b(content.data))
            else:
                expected[f"top/src/{rel}"] = ("100644", _b(content))
        assert env.snapshot() == expected
        assert env.g.cat_type(f"{new.commit_hash}^{{tree}}") == "tree"
        assert env.g.cat("main:top/src/l") == b"a.txt"


# ---------------------------------------------------------------------------
# The report object
# ---------------------------------------------------------------------------

class TestReport:
    def test_report_fields(self, env):
        env.seed({"dest/b": "old", "dest/c": "c"})
        src = env.tree("src", {"a": "a", "b": "new"})
        new = env.fs.copy_in(str(src) + "/", "dest", delete=True)
        report = new.changes
        assert isinstance(report, ChangeReport)
        assert not report.in_sync and report.total == 3
        assert [(a.path, str(a.action)) for a in report.actions()] == [
            ("a", "add"), ("b", "update"), ("c", "delete")]
        assert all(isinstance(e.type, FileType) for e in report.add + report.update
                   + report.delete)
        assert env.fs.changes is None         # a fresh snapshot of the branch


# ---------------------------------------------------------------------------
# Deep local trees: walked without recursion; past the walk's depth limit
# (one open directory per level) the deeper directory is a clear error
# ---------------------------------------------------------------------------

WALK_LIMIT = 256


def make_chain(root: Path, depth: int, leaf: str) -> None:
    """root/d/d/.../d (depth levels) with an empty file `leaf` at the
    bottom, made through directory fds: the path outgrows PATH_MAX."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def remove_chain(root: Path, leaf: str) -> None:
    """Undo make_chain a level at a time from the top (no recursion, no
    long paths): d/d moves up, the emptied d goes."""
    fd = os.open(root, os.O_RDONLY)
    try:
        while True:
            try:
                os.rename("d/d", "up", src_dir_fd=fd, dst_dir_fd=fd)
            except FileNotFoundError:
                break
            os.rmdir("d", dir_fd=fd)
            os.rename("up", "d", src_dir_fd=fd, dst_dir_fd=fd)
        os.unlink("d/" + leaf, dir_fd=fd)
        os.rmdir("d", dir_fd=fd)
    finally:
        os.close(fd)


class TestDeepTree:
    def test_deep_tree_within_the_limit_is_copied(self, env):
        src = env.tree("src", {"a.txt": "a"})
        make_chain(src, WALK_LIMIT - 1, "leaf.txt")
        try:
            env.fs.copy_in(str(src) + "/", "dest")
        finally:
            remove_chain(src, "leaf.txt")
        assert set(env.files()) == {"dest/a.txt", "dest/" + "d/" * (WALK_LIMIT - 1) + "leaf.txt"}

    @pytest.mark.parametrize("delete", [False, True])
    def test_too_deep_is_a_clear_error(self, env, delete):
        src = env.tree("src", {"a.txt": "a"})
        make_chain(src, 5000, "leaf.txt")
        too_deep = str(src) + "/d" * WALK_LIMIT
        message = f"Directory nested more than {WALK_LIMIT} deep: {too_deep}"
        try:
            with pytest.raises(OSError) as info:
                env.fs.copy_in(str(src) + "/", "dest", delete=delete)
            assert str(info.value) == message
            assert env.tip() == env.initial
            new = env.fs.copy_in(str(src) + "/", "dest", delete=delete, ignore_errors=True)
        finally:
            remove_chain(src, "leaf.txt")
        assert new.changes.errors == [ChangeError(too_deep, message)]
        assert set(env.files()) == {"dest/a.txt"}
