"""FS.sync_in and FS.copy_in(..., delete=True) over larger local trees.

The disk side of a delete-mode copy is hashed on helper threads while the
local directory is walked (in chunks of 64 files per directory), and the
walk visits each directory's entries in sorted path order (a directory name
sorts as if followed by "/").  Files are compared with the destination tree
by blob id and mode (a symlink and a file with the same bytes differ; with
mode= the effective mode is compared).

These tests build trees with more than 64 files in a directory (so several
chunks are hashed concurrently), names whose sorted order is tricky, and
every kind of change (content with and without a size change, execute bit,
file <-> symlink, deletes, adds) and check that

* the report lists exactly the expected adds, updates and deletes;
* the resulting tree, read back with the public API and with git, equals
  the local tree;
* a sync with nothing to do returns the input snapshot (no commit).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitstore import ChangeError, ChangeReport, FileEntry, FileType, GitStore

from support import (
    Exe, Link, LocalEnv, assert_fsck_clean, assert_single_commit, bounded, put_local as put,
)

BLOB, EXE, LINK = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK
M_BLOB, M_EXE, M_LINK = 0o100644, 0o100755, 0o120000
NOT_REGULAR = "Not a regular file"

non_root = pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _b(data) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def blob_id(data) -> str:
    data = _b(data)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def overlap(rel: str) -> str:
    return f"Overlapping destination '{rel}': skipping (kept earlier source)"


def make_tree(root: Path, spec: dict) -> Path:
    """str/bytes = file (0644), Exe = file (0755), Link = symlink."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in spec.items():
        put(root, rel, content)
    return root


def rewrite_keeping_mtime(path: Path, data) -> None:
    """New bytes, same mtime (and, by the caller's choice, the same size)."""
    st = path.stat()
    path.write_bytes(_b(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def set_mtime(path: Path, t: float) -> None:
    os.utime(path, (t, t))


def disk_state(root: Path, follow: bool = False) -> dict[str, tuple[int, bytes]]:
    """{rel: (git filemode, bytes)} of what a sync of root must store."""
    out: dict[str, tuple[int, bytes]] = {}

    def visit(d: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            rel = prefix + entry.name
            if entry.is_symlink() and not follow:
                out[rel] = (M_LINK, os.fsencode(os.readlink(entry.path)))
            elif entry.is_dir():
                visit(Path(entry.path), rel + "/")
            else:
                st = os.stat(entry.path)
                mode = M_EXE if st.st_mode & 0o111 else M_BLOB
                out[rel] = (mode, Path(entry.path).read_bytes())

    visit(root, "")
    return out


def repo_state(fs, base: str) -> dict[str, tuple[int, bytes]]:
    """{rel: (filemode, bytes)} of the files below base, via the public API."""
    if base and not fs.exists(base):
        return {}
    out = {}
    for dirpath, _dirs, files in fs.walk(base):
        for we in files:
            full = f"{dirpath}/{we.name}" if dirpath else we.name
            rel = full[len(base) + 1:] if base else full
            if we.mode == M_LINK:
                data = os.fsencode(fs.readlink(full))
            else:
                data = fs.read(full)
            st = fs.stat(full)
            assert (st.mode, st.size) == (we.mode, len(data))
            assert st.hash == bytes(we.oid).decode() == blob_id(data)
            out[rel] = (we.mode, data)
    return out


def fe(src: Path, rel: str, typ) -> FileEntry:
    """A report entry for a local file: path rel, src = the local path."""
    return FileEntry(rel, typ, os.path.join(str(src), rel))


def de(dest: str, rel: str, typ) -> FileEntry:
    """A report entry for a deleted repo file: src = the full repo path."""
    return FileEntry(rel, typ, f"{dest}/{rel}" if dest else rel)


def by_path(entries):
    return sorted(entries, key=lambda e: e.path)


def report_lists(report):
    if report is None:
        return None
    return (report.add, report.update, report.delete, report.errors, report.warnings)


def batch_message(op: str, add: int, update: int, delete: int) -> str:
    parts = [f"{c}{n}" for c, n in (("+", add), ("~", update), ("-", delete)) if n]
    return f"Batch {op}: " + " ".join(parts)


class Env(LocalEnv):
    """LocalEnv with this module's local trees and git views."""

    def tree(self, name: str, spec: dict) -> Path:
        return make_tree(self.local / name, spec)

    def git_files(self, rev: str = "main") -> dict[str, tuple[int, str]]:
        """{path: (mode as a number, oid)} of every non-tree entry."""
        return {path: (int(mode, 8), oid) for path, (mode, oid) in self.files(rev).items()}

    def check(self, fs, dest: str, expected: dict[str, tuple[int, bytes]],
              outside: dict[str, tuple[int, bytes]] | None = None) -> None:
        """The tip is fs; below dest the repo holds exactly `expected`
        (public API and git agree); elsewhere exactly `outside`."""
        assert self.tip() == fs.commit_hash
        assert repo_state(fs, dest) == expected
        want = {(f"{dest}/{rel}" if dest else rel): (mode, blob_id(data))
                for rel, (mode, data) in expected.items()}
        for rel, (mode, data) in (outside or {}).items():
            want[rel] = (mode, blob_id(data))
        assert self.git_files(fs.commit_hash) == want


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    if e.tip() != e.initial:
        assert_fsck_clean(e.path)


# ---------------------------------------------------------------------------
# The big tree: 205 entries in one flat directory (4 hashing chunks), five
# nested directories of 40 files (some two levels deep), a few top-level ones.
# ---------------------------------------------------------------------------

def big_spec() -> dict:
    spec = {}
    for i in range(200):
        data = f"flat file {i:03d}\n" * (i % 4 + 1)
        spec[f"flat/f{i:03d}"] = Exe(data) if i % 17 == 0 else data
    for i in range(5):
        spec[f"flat/l{i:02d}"] = Link(f"f{i * 3 + 6:03d}")
    for k in range(5):
        for j in range(40):
            if j < 25:
                rel = f"d{k}/g{j:02d}.txt"
            elif j < 35:
                rel = f"d{k}/sub/h{j:02d}.txt"
            else:
                rel = f"d{k}/sub/deeper/i{j:02d}.txt"
            spec[rel] = f"nested {k} {j:02d}\n"
    spec["d2/run.sh"] = Exe("#!/bin/sh\necho run\n")
    spec["top.txt"] = "top\n"
    spec[".hidden"] = "hidden\n"
    return spec


def mutate_big(src: Path):
    """Change the big tree; returns the expected (add, update, delete) as
    lists of (rel, type) -- types of add/update from disk, of delete from
    the repo (i.e. the original tree)."""
    spec = big_spec()
    update = []
    # content change, same size, same mtime (only hashing can see it)
    rewrite_keeping_mtime(src / "flat/f010", "FLAT FILE 010\n" * 3)
    update.append(("flat/f010", BLOB))
    rewrite_keeping_mtime(src / "d2/sub/h30.txt", "NESTED 2 30\n")
    update.append(("d2/sub/h30.txt", BLOB))
    rewrite_keeping_mtime(src / "flat/f068", "FLAT FILE 068\n")      # 68 = 4 * 17: executable
    update.append(("flat/f068", EXE))
    # content change with a different size
    (src / "flat/f100").write_text("flat file 100\nmore\n")
    update.append(("flat/f100", BLOB))
    (src / "flat/f101").write_bytes(b"")
    update.append(("flat/f101", BLOB))
    (src / "d4/g05.txt").write_text("x")
    update.append(("d4/g05.txt", BLOB))
    # execute bit on / off (content unchanged)
    (src / "flat/f150").chmod(0o755)
    update.append(("flat/f150", EXE))
    (src / "flat/f017").chmod(0o644)                                  # was executable
    update.append(("flat/f017", BLOB))
    (src / "d1/g03.txt").chmod(0o654)                                 # group x only
    update.append(("d1/g03.txt", EXE))
    # regular file -> symlink
    put(src, "flat/f120", Link("f121"))
    update.append(("flat/f120", LINK))
    put(src, "d1/g07.txt", Link("g08.txt"))
    update.append(("d1/g07.txt", LINK))
    # symlink -> regular file (one with the link text as its bytes: same blob id)
    put(src, "flat/l02", "was a link\n")
    update.append(("flat/l02", BLOB))
    put(src, "flat/l03", spec["flat/l03"].target)
    update.append(("flat/l03", BLOB))
    # symlink retargeted
    put(src, "flat/l04", Link("f198"))
    update.append(("flat/l04", LINK))
    # deletes (types from the repo)
    delete = []
    for rel in ("flat/f000", "flat/f050", "flat/f199", "d0/g00.txt"):
        (src / rel).unlink()
        delete.append((rel, EXE if rel == "flat/f000" else BLOB))
    for rel in sorted(spec):
        if rel.startswith(("d3/sub/deeper/", "d4/sub/")):
            (src / rel).unlink()
            delete.append((rel, BLOB))
    (src / "d3/sub/deeper").rmdir()
    (src / "d4/sub/deeper").rmdir()
    (src / "d4/sub").rmdir()
    # adds
    add = []
    for rel, content, typ in (("flat/f200", "new 200\n", BLOB),
                              ("flat/f0995", "between\n", BLOB),
                              ("flat/a_first", "first in flat\n", BLOB),
                              ("flat/new_exe", Exe("#!/bin/sh\n"), EXE),
                              ("d2/new/x.txt", "new dir\n", BLOB),
                              ("d5/y.txt", "new top dir\n", BLOB),
                              ("d3/link", Link("sub"), LINK),
                              ("0first", "zero\n", BLOB),
                              ("flat/f0500", "new beside a deleted one\n", BLOB)):
        put(src, rel, content)
        add.append((rel, typ))
    return add, update, delete


OUTSIDE = {"deep/er.txt": "sibling file\n", "deep/er-x/y": "sibling dir\n",
           "deep/er0": "after\n", "deep/keep.txt": "keep\n", "other/x": Exe("x")}


def _outside_state(dest: str) -> dict:
    if dest == "":
        return {}
    return {rel: (M_EXE if isinstance(c, Exe) else M_BLOB, _b(c.data if isinstance(c, Exe) else c))
            for rel, c in OUTSIDE.items()}


class TestBigTree:
    @pytest.mark.parametrize("dest", ["data", "deep/er", ""])
    def test_sync_in_reports_exact_changes(self, env, dest):
        spec = big_spec()
        src = env.tree("src", spec)
        # beside dest: siblings whose names sort right around it (kept); at the
        # root nothing is beside it
        env.seed({**(OUTSIDE if dest else {}), (f"{dest}/stray" if dest else "stray"): "stray\n"})
        outside = _outside_state(dest)
        fs0 = env.fs

        # first sync: everything is an add, the stray file a delete
        fs1 = fs0.sync_in(str(src), dest)
        assert fs1.changes == ChangeReport(
            add=[fe(src, rel, LINK if isinstance(c, Link) else EXE if isinstance(c, Exe)
                    else BLOB) for rel, c in sorted(spec.items())],
            delete=[de(dest, "stray", BLOB)])
        assert_single_commit(env.g, fs1, fs0, batch_message("sync", len(spec), 0, 1))
        first = disk_state(src)
        assert len(first) == len(spec) == 408
        env.check(fs1, dest, first, outside)

        # nothing changed: the same snapshot, no commit (both checksum modes)
        for checksum in (True, False):
            again = fs1.sync_in(str(src), dest, checksum=checksum)
            assert again is fs1 and again.changes is None
            assert again.commit_hash == fs1.commit_hash == env.tip()

        add, update, delete = mutate_big(src)
        expected = ChangeReport(
            add=by_path(fe(src, rel, t) for rel, t in add),
            update=by_path(fe(src, rel, t) for rel, t in update),
            delete=by_path(de(dest, rel, t) for rel, t in delete))
        # the test's own bookkeeping agrees with the disk
        second = disk_state(src)
        assert set(second) - set(first) == {rel for rel, _ in add}
        assert set(first) - set(second) == {rel for rel, _ in delete}
        assert {r for r in first.keys() & second.keys() if first[r] != second[r]} == \
            {rel for rel, _ in update}

        dry = fs1.sync_in(str(src), dest, dry_run=True)
        assert dry is fs1 and dry.changes == expected
        assert env.tip() == fs1.commit_hash

        fs2 = fs1.sync_in(str(src), dest)
        assert fs2.changes == expected
        assert_single_commit(env.g, fs2, fs1,
                             batch_message("sync", len(add), len(update), len(delete)))
        env.check(fs2, dest, second, outside)
        # the changed entries, one by one through stat/read
        p = (lambda rel: f"{dest}/{rel}" if dest else rel)
        assert fs2.stat(p("flat/f150")).mode == M_EXE
        assert fs2.stat(p("flat/f017")).mode == M_BLOB
        assert fs2.stat(p("d1/g03.txt")).mode == M_EXE
        assert fs2.file_type(p("flat/f120")) == LINK and fs2.readlink(p("flat/f120")) == "f121"
        assert fs2.file_type(p("flat/l03")) == BLOB and fs2.read(p("flat/l03")) == b"f015"
        assert fs2.read(p("flat/f010")) == b"FLAT FILE 010\n" * 3
        assert fs2.read(p("flat/f101")) == b""
        assert not fs2.exists(p("d4/sub")) and not fs2.exists(p("flat/f000"))
        # unchanged entries keep their blob ids
        before, after = env.git_files(fs1.commit_hash), env.git_files(fs2.commit_hash)
        changed = {p(rel) for rel, _ in add + update + delete}
        assert {k: v for k, v in before.items() if k not in changed} == \
            {k: v for k, v in after.items() if k not in changed}

        # third sync, nothing changed: no commit
        for checksum in (True, False):
            third = fs2.sync_in(str(src), dest, checksum=checksum)
            assert third is fs2 and third.changes is None
            assert env.tip() == fs2.commit_hash

    def test_copy_in_delete_equals_sync_in(self, env):
        src = env.tree("src", big_spec())
        fs1 = env.fs.copy_in(str(src) + "/", "cp", delete=True)
        add, update, delete = mutate_big(src)
        fs2 = fs1.copy_in(str(src) + "/", "cp", delete=True)
        assert fs2.changes == ChangeReport(
            add=by_path(fe(src, rel, t) for rel, t in add),
            update=by_path(fe(src, rel, t) for rel, t in update),
            delete=by_path(de("cp", rel, t) for rel, t in delete))
        assert fs2.message == batch_message("cp", len(add), len(update), len(delete))
        env.check(fs2, "cp", disk_state(src))
        again = fs2.copy_in(str(src) + "/", "cp", delete=True)
        assert again is fs2 and again.changes is None


class TestChunkBoundaries:
    @pytest.mark.parametrize("n", [1, 63, 64, 65, 128, 129, 200])
    def test_changes_at_chunk_edges(self, env, n):
        spec = {f"d/f{i:03d}": f"file {i:03d}\n" for i in range(n)}
        spec["d/sub/x"] = "below\n"              # a subdirectory sorted after the files
        spec["c"] = "before d\n"
        src = env.tree("src", spec)
        fs1 = env.fs.sync_in(str(src), "s")
        assert fs1.changes == ChangeReport(add=[fe(src, r, BLOB) for r in sorted(spec)])
        edges = sorted({i for i in (0, 1, 62, 63, 64, 65, 126, 127, 128, 129, n - 1)
                        if 0 <= i < n})
        # same size, same mtime: only the hash shows the change
        for i in edges:
            rewrite_keeping_mtime(src / f"d/f{i:03d}", f"FILE {i:03d}\n")
        # a delete in the middle and an add that sorts right after f064
        gone = n // 2 if n > 2 and n // 2 not in edges else None
        if gone is not None:
            (src / f"d/f{gone:03d}").unlink()
        put(src, "d/f064x", "sorts after f064\n")
        fs2 = fs1.sync_in(str(src), "s")
        assert fs2.changes == ChangeReport(
            add=[fe(src, "d/f064x", BLOB)],
            update=[fe(src, f"d/f{i:03d}", BLOB) for i in edges],
            delete=[de("s", f"d/f{gone:03d}", BLOB)] if gone is not None else [])
        env.check(fs2, "s", disk_state(src))
        again = fs2.sync_in(str(src), "s")
        assert again is fs2 and again.changes is None

    def test_big_and_small_files_mixed(self, env):
        # a few larger files among small ones: hashing jobs finish out of order
        spec = {}
        for i in range(150):
            spec[f"m/f{i:03d}"] = (bytes([i]) * (300_000 + i)) if i % 20 == 0 else f"s{i}\n"
        src = env.tree("src", spec)
        fs1 = env.fs.sync_in(str(src), "m")
        env.check(fs1, "m", disk_state(src))
        # flip one byte in the middle of two big files (same size, same mtime),
        # change the small files right after them
        for i in (40, 120):
            data = bytearray((src / f"m/f{i:03d}").read_bytes())
            data[len(data) // 2] ^= 0xFF
            rewrite_keeping_mtime(src / f"m/f{i:03d}", bytes(data))
            rewrite_keeping_mtime(src / f"m/f{i + 1:03d}", f"S{i + 1}\n")
        fs2 = fs1.sync_in(str(src), "m")
        assert fs2.changes == ChangeReport(
            update=[fe(src, f"m/f{i:03d}", BLOB) for i in (40, 41, 120, 121)])
        env.check(fs2, "m", disk_state(src))
        again = fs2.sync_in(str(src), "m")
        assert again is fs2 and again.changes is None


# ---------------------------------------------------------------------------
# Names whose sorted order is tricky
# ---------------------------------------------------------------------------

TRICKY = ["a/x", "a/b", "a/b.c", "a/b0", "a/b-c", "a/c/d", "a/c-d", "a/E", "a/é",
          "a.b", "a-b", "a0", "a b", "ab/x", "ab/y", "A", "é.txt", "e.txt", "f.txt",
          ".dot", ".dotdir/f", "a.b.c/d", "Z", "_u", "~t", "a/ b", "a/.z"]


def tricky_spec() -> dict:
    spec = {n: f"<{n}>\n" for n in TRICKY}
    for i in range(70):                       # > 64 files inside a/ ...
        spec[f"a/f{i:03d}"] = f"a file {i}\n"
    for i in range(70):                       # ... and at the top level
        spec[f"n{i:03d}"] = f"top file {i}\n"
    return spec


class TestTrickyNames:
    @pytest.mark.parametrize("dest", ["t", ""])
    def test_only_the_modified_files_update(self, env, dest):
        spec = tricky_spec()
        src = env.tree("src", spec)
        fs1 = env.fs.sync_in(str(src), dest)
        assert fs1.changes == ChangeReport(add=[fe(src, rel, BLOB) for rel in sorted(spec)])
        env.check(fs1, dest, disk_state(src))
        for checksum in (True, False):
            again = fs1.sync_in(str(src), dest, checksum=checksum)
            assert again is fs1 and again.changes is None

        rewrite_keeping_mtime(src / "a/b.c", "<A/B.C>\n")
        rewrite_keeping_mtime(src / "a.b", "<A.B>\n")
        (src / "é.txt").write_text("accent, longer now\n")
        fs2 = fs1.sync_in(str(src), dest)
        assert fs2.changes == ChangeReport(update=[fe(src, "a.b", BLOB),
                                                   fe(src, "a/b.c", BLOB),
                                                   fe(src, "é.txt", BLOB)])
        assert fs2.message == batch_message("sync", 0, 3, 0)
        env.check(fs2, dest, disk_state(src))
        again = fs2.sync_in(str(src), dest)
        assert again is fs2 and again.changes is None

        # a file becomes a directory and a directory becomes a file
        (src / "a0").unlink()
        put(src, "a0/x", "now a dir\n")
        for rel in ("ab/x", "ab/y"):
            (src / rel).unlink()
        (src / "ab").rmdir()
        put(src, "ab", "now a file\n")
        expected = ChangeReport(add=[fe(src, "a0/x", BLOB), fe(src, "ab", BLOB)],
                                delete=[de(dest, "a0", BLOB), de(dest, "ab/x", BLOB),
                                        de(dest, "ab/y", BLOB)])
        dry = fs2.sync_in(str(src), dest, dry_run=True)
        assert dry.changes == expected
        fs3 = fs2.sync_in(str(src), dest)
        assert fs3.changes == expected
        env.check(fs3, dest, disk_state(src))
        again = fs3.sync_in(str(src), dest)
        assert again is fs3 and again.changes is None


# ---------------------------------------------------------------------------
# copy_in(mode=...) with delete=True: the effective mode is compared, so a
# second run finds nothing to update
# ---------------------------------------------------------------------------

def mode_spec() -> dict:
    spec = {}
    for i in range(80):
        spec[f"flat/f{i:02d}"] = Exe(f"exe {i}\n") if i % 5 == 0 else f"file {i}\n"
    spec["flat/l1"] = Link("f01")
    spec["flat/l2"] = Link("nowhere")
    spec["sub/s.txt"] = "s\n"
    return spec


class TestForcedMode:
    def test_mode_override_compares_the_effective_mode(self, env):
        spec = mode_spec()
        src = env.tree("src", spec)
        regular = sorted(r for r, c in spec.items() if not isinstance(c, Link))
        exe = sorted(r for r, c in spec.items() if isinstance(c, Exe))
        plain = sorted(set(regular) - set(exe))
        local = disk_state(src)
        fs1 = env.fs.copy_in(str(src) + "/", "m", delete=True)
        env.check(fs1, "m", local)

        # mode=EXECUTABLE: unchanged plain files are updates (their stored mode
        # changes); executables and symlinks are not; types come from disk
        fs2 = fs1.copy_in(str(src) + "/", "m", delete=True, mode=FileType.EXECUTABLE)
        assert fs2.changes == ChangeReport(update=[fe(src, r, BLOB) for r in plain])
        assert fs2.message == batch_message("cp", 0, len(plain), 0)
        forced = {r: ((M_EXE, d) if m != M_LINK else (m, d)) for r, (m, d) in local.items()}
        env.check(fs2, "m", forced)
        assert fs2.stat("m/flat/f01").mode == M_EXE
        assert fs2.file_type("m/flat/l1") == LINK
        # stable: the same override again changes nothing
        for checksum in (True, False):
            again = fs2.copy_in(str(src) + "/", "m", delete=True, mode=FileType.EXECUTABLE,
                                checksum=checksum)
            assert again is fs2 and again.changes is None
            assert env.tip() == fs2.commit_hash

        # a raw filemode 0o100644 turns every regular file back (all updates)
        fs3 = fs2.copy_in(str(src) + "/", "m", delete=True, mode=0o100644)
        assert fs3.changes == ChangeReport(
            update=[fe(src, r, EXE if r in exe else BLOB) for r in regular])
        blobbed = {r: ((M_BLOB, d) if m != M_LINK else (m, d)) for r, (m, d) in local.items()}
        env.check(fs3, "m", blobbed)
        again = fs3.copy_in(str(src) + "/", "m", delete=True, mode=FileType.BLOB)
        assert again is fs3 and again.changes is None

        # no override: the executables on disk are updates again
        fs4 = fs3.copy_in(str(src) + "/", "m", delete=True)
        assert fs4.changes == ChangeReport(update=[fe(src, r, EXE) for r in exe])
        env.check(fs4, "m", local)

        # the override together with real changes
        rewrite_keeping_mtime(src / "flat/f03", "FILE 3\n")           # same size
        (src / "flat/f10").write_text("exe 10 changed\n")           # was 0755 on disk
        (src / "flat/f77").unlink()
        put(src, "flat/zz", "new\n")
        fs5 = fs4.copy_in(str(src) + "/", "m", delete=True, mode=FileType.EXECUTABLE)
        assert fs5.changes == ChangeReport(
            add=[fe(src, "flat/zz", BLOB)],
            update=[fe(src, r, EXE if r in exe else BLOB)
                    for r in regular if r in plain or r == "flat/f10"
                    if r != "flat/f77"],
            delete=[de("m", "flat/f77", BLOB)])
        now = disk_state(src)
        env.check(fs5, "m", {r: ((M_EXE, d) if m != M_LINK else (m, d))
                             for r, (m, d) in now.items()})


# ---------------------------------------------------------------------------
# Several sources, delete=True: the first source wins, with warnings
# ---------------------------------------------------------------------------

class TestSeveralSources:
    def test_first_source_wins_over_many_files(self, env):
        d1 = env.tree("one", {**{f"flat/f{i:03d}": f"one {i}\n" for i in range(100)},
                              "only1.txt": "1\n"})
        d2 = env.tree("two", {**{f"flat/f{i:03d}": f"two {i}\n" for i in range(50, 150)},
                              "extra/e.txt": "e\n"})
        env.seed({"flat/f000": "one 0\n", "flat/f060": "stale\n", "flat/f120": "two 120\n",
                  "gone/x": "x\n"})
        sources = [str(d1) + "/", str(d2) + "/"]
        fs0 = env.fs

        def origin(rel: str) -> Path:
            return d1 if (d1 / rel).exists() else d2

        overlapped = [f"flat/f{i:03d}" for i in range(50, 100)]
        warnings = [ChangeError(str(d2 / rel), overlap(rel)) for rel in overlapped]
        provided = sorted({*(f"flat/f{i:03d}" for i in range(150)), "only1.txt",
                           "extra/e.txt"})
        fs1 = fs0.copy_in(sources, "", delete=True)
        assert fs1.changes == ChangeReport(
            add=[fe(origin(r), r, BLOB) for r in provided
                 if r not in ("flat/f000", "flat/f060", "flat/f120")],
            update=[fe(d1, "flat/f060", BLOB)],
            delete=[de("", "gone/x", BLOB)],
            warnings=warnings)
        assert_single_commit(env.g, fs1, fs0, batch_message("cp", len(provided) - 3, 1, 1))
        want = {**disk_state(d2), **disk_state(d1)}
        env.check(fs1, "", want)
        assert fs1.read("flat/f070") == b"one 70\n"

        # in sync: the input back with a warnings-only report
        again = fs1.copy_in(sources, "", delete=True)
        assert again is fs1 and again.changes == ChangeReport(warnings=warnings)
        assert env.tip() == fs1.commit_hash

        (d2 / "flat/f070").write_text("shadowed change\n")     # hidden by d1
        (d1 / "flat/f080").write_text("one 80 changed\n")      # overlapped, d1 wins
        (d2 / "flat/f130").write_text("two 130 changed\n")     # only in d2
        (d1 / "flat/f010").unlink()                            # only in d1: deleted
        (d1 / "flat/f090").unlink()                            # d2 provides it now
        put(d2, "flat/f150", "two 150\n")                       # new, in d2
        fs2 = fs1.copy_in(sources, "", delete=True)
        assert fs2.changes == ChangeReport(
            add=[fe(d2, "flat/f150", BLOB)],
            update=[fe(d1, "flat/f080", BLOB), fe(d2, "flat/f090", BLOB),
                    fe(d2, "flat/f130", BLOB)],
            delete=[de("", "flat/f010", BLOB)],
            warnings=[w for w in warnings if not w.path.endswith("flat/f090")])
        env.check(fs2, "", {**disk_state(d2), **disk_state(d1)})
        assert fs2.read("flat/f070") == b"one 70\n"
        assert fs2.read("flat/f090") == b"two 90\n"


# ---------------------------------------------------------------------------
# follow_symlinks=True: a link to a directory walked under its own name
# ---------------------------------------------------------------------------

def follow_spec() -> dict:
    spec = {f"z/f{i:03d}": f"z {i}\n" for i in range(70)}
    spec["z/run"] = Exe("#!/bin/sh\n")
    spec["z/in/deep.txt"] = "deep\n"
    spec["b"] = Link("z")
    spec["b.txt"] = "b dot txt\n"
    spec["b-c"] = "b dash c\n"
    spec["b0/x"] = "b0 x\n"
    spec["a"] = "a\n"
    spec["bl"] = Link("b.txt")             # a link to a file: stored by content
    return spec


class TestFollowSymlinks:
    def test_link_to_directory_sorts_as_a_directory(self, env):
        src = env.tree("src", follow_spec())
        zfiles = sorted(r[2:] for r in follow_spec() if r.startswith("z/"))
        expected_paths = sorted(["a", "b-c", "b.txt", "b0/x", "bl"]
                                + [f"b/{r}" for r in zfiles] + [f"z/{r}" for r in zfiles])
        fs1 = env.fs.copy_in(str(src) + "/", "f", follow_symlinks=True, delete=True)
        types = {p: (EXE if p.endswith("/run") else BLOB) for p in expected_paths}
        assert fs1.changes == ChangeReport(add=[fe(src, p, types[p]) for p in expected_paths])
        followed = disk_state(src, follow=True)
        assert sorted(followed) == expected_paths
        env.check(fs1, "f", followed)
        assert fs1.read("f/b/f003") == b"z 3\n" and fs1.stat("f/b/run").mode == M_EXE
        assert fs1.read("f/bl") == b"b dot txt\n"

        for checksum in (True, False):
            again = fs1.copy_in(str(src) + "/", "f", follow_symlinks=True, delete=True,
                                checksum=checksum)
            assert again is fs1 and again.changes is None
            assert env.tip() == fs1.commit_hash

        (src / "z/f005").write_text("z 5 changed, longer\n")
        rewrite_keeping_mtime(src / "z/f064", "Z 64\n")
        (src / "z/f020").chmod(0o755)
        (src / "z/f010").unlink()
        put(src, "z/new", "new in z\n")
        (src / "b.txt").write_text("B DOT TXT\n")
        fs2 = fs1.copy_in(str(src) + "/", "f", follow_symlinks=True, delete=True)
        upd = {"b/f005": BLOB, "z/f005": BLOB, "b/f064": BLOB, "z/f064": BLOB,
               "b/f020": EXE, "z/f020": EXE, "b.txt": BLOB, "bl": BLOB}
        assert fs2.changes == ChangeReport(
            add=[fe(src, "b/new", BLOB), fe(src, "z/new", BLOB)],
            update=[fe(src, p, upd[p]) for p in sorted(upd)],
            delete=[de("f", "b/f010", BLOB), de("f", "z/f010", BLOB)])
        env.check(fs2, "f", disk_state(src, follow=True))
        again = fs2.copy_in(str(src) + "/", "f", follow_symlinks=True, delete=True)
        assert again is fs2 and again.changes is None


# ---------------------------------------------------------------------------
# checksum=False over the big tree: a file of the same size whose mtime is
# not after the snapshot's commit is trusted without being read
# ---------------------------------------------------------------------------

class TestChecksumFalse:
    def test_mtime_decides_over_a_big_tree(self, env):
        src = env.tree("src", big_spec())
        fs1 = env.fs.sync_in(str(src), "data", checksum=False)
        env.check(fs1, "data", disk_state(src))
        again = fs1.sync_in(str(src), "data", checksum=False)
        assert again is fs1 and again.changes is None
        assert env.tip() == fs1.commit_hash

        t = int(fs1.time.timestamp())
        # same size, newer than the commit: detected
        (src / "flat/f010").write_text("FLAT FILE 010\n" * 3)
        set_mtime(src / "flat/f010", t + 1000)
        (src / "d3/sub/h31.txt").write_text("NESTED 3 31\n")
        set_mtime(src / "d3/sub/h31.txt", t + 1000)
        # chmod with a newer mtime: detected
        (src / "flat/f150").chmod(0o755)
        set_mtime(src / "flat/f150", t + 1000)
        # newer but identical: hashed, not an update
        set_mtime(src / "flat/f151", t + 1000)
        # same size, mtime not after the commit: trusted, not seen (the
        # documented price of checksum=False)
        (src / "flat/f011").write_text("FLAT FILE 011\n" * 4)
        set_mtime(src / "flat/f011", t - 1000)
        # a retargeted link is always compared, whatever its mtime
        put(src, "flat/l01", Link("f199"))
        os.utime(src / "flat/l01", (t - 1000, t - 1000), follow_symlinks=False)
        # adds and deletes do not depend on mtimes
        (src / "flat/f060").unlink()
        put(src, "flat/f999", "new\n")
        set_mtime(src / "flat/f999", t - 1000)

        fs2 = fs1.sync_in(str(src), "data", checksum=False)
        assert fs2.changes == ChangeReport(
            add=[fe(src, "flat/f999", BLOB)],
            update=[fe(src, "d3/sub/h31.txt", BLOB), fe(src, "flat/f010", BLOB),
                    fe(src, "flat/f150", EXE), fe(src, "flat/l01", LINK)],
            delete=[de("data", "flat/f060", BLOB)])
        assert fs2.read("data/flat/f010") == b"FLAT FILE 010\n" * 3
        assert fs2.read("data/flat/f011") == b"flat file 011\n" * 4
        assert fs2.stat("data/flat/f150").mode == M_EXE
        assert fs2.readlink("data/flat/l01") == "f199"
        # with checksum=True the trusted edit is found
        fs3 = fs2.sync_in(str(src), "data")
        assert fs3.changes == ChangeReport(update=[fe(src, "flat/f011", BLOB)])
        env.check(fs3, "data", disk_state(src))
        for checksum in (True, False):
            again = fs3.sync_in(str(src), "data", checksum=checksum)
            assert again is fs3 and again.changes is None


# ---------------------------------------------------------------------------
# Errors among many files: unreadable file (non-root), fifo (any user)
# ---------------------------------------------------------------------------

def errors_setup(env):
    spec = {f"flat/f{i:03d}": f"file {i}\n" for i in range(100)}
    spec["other.txt"] = "other\n"
    src = env.tree("src", spec)
    fs1 = env.fs.sync_in(str(src), "data")
    env.check(fs1, "data", disk_state(src))
    # changes that must still happen
    (src / "flat/f080").write_text("file 80 changed\n")
    (src / "flat/f090").unlink()
    put(src, "flat/fnew", "new\n")
    return src, fs1


def errors_expected(src):
    return dict(add=[fe(src, "flat/fnew", BLOB)], update=[fe(src, "flat/f080", BLOB)],
                delete=[de("data", "flat/f090", BLOB)])


class TestErrors:
    @non_root
    def test_unreadable_file_with_ignore_errors(self, env):
        src, fs1 = errors_setup(env)
        locked = src / "flat/f042"
        locked.write_text("file 42 changed, unreadable\n")
        locked.chmod(0)
        try:
            dry = fs1.sync_in(str(src), "data", ignore_errors=True, dry_run=True)
            fs2 = fs1.sync_in(str(src), "data", ignore_errors=True)
        finally:
            locked.chmod(0o644)
        assert dry is fs1
        assert [e.path for e in fs2.changes.errors] == [str(locked)]
        assert fs2.changes == ChangeReport(**errors_expected(src), errors=fs2.changes.errors)
        assert report_lists(dry.changes) == report_lists(fs2.changes)
        assert fs2.message == batch_message("sync", 1, 1, 1)
        # the repo copy of the unreadable file is kept as it was
        assert fs2.read("data/flat/f042") == b"file 42\n"
        assert fs2.read("data/flat/f080") == b"file 80 changed\n"
        assert not fs2.exists("data/flat/f090") and fs2.read("data/flat/fnew") == b"new\n"
        assert env.tip() == fs2.commit_hash

    @non_root
    def test_unreadable_file_raises(self, env):
        src, fs1 = errors_setup(env)
        locked = src / "flat/f042"
        # newer than the commit: checksum=False must read it too
        t = int(fs1.time.timestamp()) + 1000
        os.utime(locked, (t, t))
        locked.chmod(0)
        try:
            with pytest.raises(PermissionError) as info:
                fs1.sync_in(str(src), "data")
            with pytest.raises(PermissionError):
                fs1.copy_in(str(src) + "/", "data", delete=True, checksum=False)
            with pytest.raises(PermissionError):
                fs1.sync_in(str(src), "data", dry_run=True)
        finally:
            locked.chmod(0o644)
        assert str(locked) in str(info.value)
        assert env.tip() == fs1.commit_hash

    @non_root
    def test_unreadable_file_only_change(self, env):
        src = env.tree("src", {f"flat/f{i:03d}": f"file {i}\n" for i in range(100)})
        fs1 = env.fs.sync_in(str(src), "data")
        locked = src / "flat/f099"
        locked.chmod(0)
        try:
            res = fs1.sync_in(str(src), "data", ignore_errors=True)
        finally:
            locked.chmod(0o644)
        assert res is fs1 and env.tip() == fs1.commit_hash
        assert res.changes == ChangeReport(errors=res.changes.errors)
        assert [e.path for e in res.changes.errors] == [str(locked)]

    def test_fifo_where_the_repo_has_a_file(self, env):
        src, fs1 = errors_setup(env)
        (src / "flat/f042").unlink()
        os.mkfifo(src / "flat/f042")
        os.mkfifo(src / "flat/pnew")              # a fifo the repo does not have
        fifos = [str(src / "flat/f042"), str(src / "flat/pnew")]

        with pytest.raises(OSError, match=NOT_REGULAR) as info:
            bounded(lambda: fs1.sync_in(str(src), "data"))
        assert any(f in str(info.value) for f in fifos)
        assert env.tip() == fs1.commit_hash

        dry = bounded(lambda: fs1.sync_in(str(src), "data", ignore_errors=True,
                                          dry_run=True))
        fs2 = bounded(lambda: fs1.sync_in(str(src), "data", ignore_errors=True))
        assert sorted(e.path for e in fs2.changes.errors) == fifos
        assert all(NOT_REGULAR in e.error for e in fs2.changes.errors)
        assert fs2.changes == ChangeReport(**errors_expected(src), errors=fs2.changes.errors)
        assert dry is fs1 and report_lists(dry.changes) == report_lists(fs2.changes)
        assert fs2.read("data/flat/f042") == b"file 42\n"      # kept, not deleted
        assert not fs2.exists("data/flat/pnew")
        assert fs2.read("data/flat/f080") == b"file 80 changed\n"
        assert not fs2.exists("data/flat/f090")
        assert env.tip() == fs2.commit_hash

        # the fifos as the only difference: no commit, an errors-only report
        res = bounded(lambda: fs2.sync_in(str(src), "data", ignore_errors=True))
        assert res is fs2 and env.tip() == fs2.commit_hash
        assert res.changes == ChangeReport(errors=res.changes.errors)
        assert sorted(e.path for e in res.changes.errors) == fifos


FEW_FDS = """
import resource, sys
from gitstore import GitStore
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
fs = GitStore.open(sys.argv[1], create=False).branches["main"]
new = fs.sync_in(sys.argv[2], "")
report = new.changes
print(sorted(e.path for e in report.update), len(report.add), len(report.delete),
      len(report.errors))
"""


def test_many_directories_with_few_file_descriptors(tmp_path):
    # Hashing beside the walk holds a directory fd per queued chunk: a big
    # tree must not run the process out of descriptors (which would make
    # directories look unreadable).
    src = tmp_path / "src"
    for d in range(60):
        for f in range(70):
            path = src / f"d{d:02d}" / f"f{f:02d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"%d %d\n" % (d, f))
    repo = tmp_path / "repo.git"
    fs = GitStore.open(str(repo), branch="main").branches["main"]
    fs.sync_in(str(src), "")
    (src / "d59" / "f69.txt").write_bytes(b"changed\n")
    proc = subprocess.run([sys.executable, "-c", FEW_FDS, str(repo), str(src)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "['d59/f69.txt'] 0 0 0"
