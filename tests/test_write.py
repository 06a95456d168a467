"""Single-commit writes: write, write_text,
write_from_file, write_symlink and apply.

The starting repository is built by git (fast-import); every commit gitstore
makes is checked with the git command line: the object bytes (cat-file), the
tree (ls-tree), the reflog, the pack that holds the new objects (show-index)
and ``git fsck --strict``.
"""

from __future__ import annotations

import array
import os
import pathlib
import random
import shutil
import time

import pytest

from gitstore import (
    FS, BlobOid, ChangeReport, FileEntry, FileType, GitStore, StaleSnapshotError, WriteEntry,
)

from support import (
    EMPTY_TREE, Commit, Exe, Git, Link, Tag, assert_fsck_clean, build_repo,
    loose_object_ids, pack_names, pack_object_ids, reflog_lines,
)

BLOB, EXE, LINK, TREE = FileType.BLOB, FileType.EXECUTABLE, FileType.LINK, FileType.TREE

IDENT = "Tess Ter <tess@example.org>"

BASE_FILES = {
    "a.txt": b"hello\n",
    "run.sh": Exe(b"#!/bin/sh\necho hi\n"),
    "link": Link("a.txt"),
    "dir/x.txt": b"x\n",
    "dir/sub/deep.txt": b"deep\n",
    "notes/todo.txt": b"todo\n",
    "cache/one": b"1\n",
    "cache/two": b"2\n",
}


class Env:
    """A store opened on a git-built repository, plus git bound to it."""

    def __init__(self, path, shas):
        self.path = path
        self.shas = shas
        self.g = Git(path)
        self.store = GitStore.open(path, create=False, author="Tess Ter",
                                   email="tess@example.org")

    @property
    def fs(self) -> FS:
        return self.store.branches["main"]

    def tip(self) -> str:
        return self.g.rev("refs/heads/main")

    def read(self, commit: str, path: str) -> bytes:
        return self.g.raw("cat-file", "blob", f"{commit}:{path}")

    def mode(self, commit: str, path: str):
        entry = self.g.entry(commit, path)
        return None if entry is None else entry[1]

    def files(self, commit: str) -> dict[str, tuple[int, bytes]]:
        """{path: (mode, content)} of every file in commit (git's view)."""
        rows = []
        for line in self.g.raw("ls-tree", "-r", "-z", commit).split(b"\0"):
            if not line:
                continue
            meta, name = line.split(b"\t", 1)
            mode, _typ, oid = meta.decode().split()
            rows.append((name.decode(), int(mode, 8), oid))
        batch = self.g.raw("cat-file", "--batch",
                           input="".join(oid + "\n" for _n, _m, oid in rows).encode())
        out = {}
        pos = 0
        for name, mode, _oid in rows:
            header_end = batch.index(b"\n", pos)
            size = int(batch[pos:header_end].split()[2])
            out[name] = (mode, batch[header_end + 1:header_end + 1 + size])
            pos = header_end + 1 + size + 1
        return out


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "w.git"
    shas = build_repo(path, [Commit(BASE_FILES, message="base\n", label="base")],
                      tags=[Tag("v2", "base", message="annotated\n")],
                      lightweight={"v1": "base"})
    return path, shas


@pytest.fixture
def env(template, tmp_path):
    path = tmp_path / "w.git"
    shutil.copytree(template[0], path, symlinks=True)
    e = Env(path, dict(template[1]))
    yield e
    assert_fsck_clean(path)


def _commit_headers(g: Git, sha: str):
    headers, message = g.commit_header(sha)
    return headers, message


def check_commit(env: Env, sha: str, *, parent: str, message: bytes,
                 before: int, after: int) -> None:
    """The commit gitstore made has the documented shape."""
    headers, msg = _commit_headers(env.g, sha)
    assert headers["parent"] == [parent]
    assert len(headers["tree"]) == 1
    assert headers["encoding"] == ["UTF-8"]
    for key in ("author", "committer"):
        (value,) = headers[key]
        ident, when, tz = value.rsplit(" ", 2)
        assert ident == IDENT
        assert tz == "+0000"
        assert before <= int(when) <= after + 1
    assert msg == message


# ---------------------------------------------------------------------------
# write
# ---------------------------------------------------------------------------

class TestWrite:
    def test_new_file_commit(self, env):
        fs = env.fs
        base = env.tip()
        before = int(time.time())
        new = fs.write("new.txt", b"brand new\n")
        after = int(time.time())
        assert isinstance(new, FS)
        assert new is not fs
        assert new.commit_hash != fs.commit_hash
        assert env.tip() == new.commit_hash
        assert new.ref_name == "main"
        assert new.writable is True
        assert new.tree_hash == env.g.rev(f"{new.commit_hash}^{{tree}}")
        assert env.read(new.commit_hash, "new.txt") == b"brand new\n"
        assert env.mode(new.commit_hash, "new.txt") == 0o100644
        check_commit(env, new.commit_hash, parent=base, message=b"+ new.txt\n",
                     before=before, after=after)
        assert new.message == "+ new.txt"
        assert new.author_name == "Tess Ter"
        assert new.author_email == "tess@example.org"
        assert new.time.utcoffset().total_seconds() == 0
        assert new.parent.commit_hash == base
        assert new.read("new.txt") == b"brand new\n"

    def test_everything_else_is_kept(self, env):
        old = env.files(env.tip())
        new = env.fs.write("new.txt", b"n")
        files = env.files(new.commit_hash)
        assert files.pop("new.txt") == (0o100644, b"n")
        assert files == old

    def test_old_snapshot_unchanged(self, env):
        fs = env.fs
        old_commit, old_tree = fs.commit_hash, fs.tree_hash
        new = fs.write("a.txt", b"changed\n")
        assert fs.commit_hash == old_commit
        assert fs.tree_hash == old_tree
        assert fs.read("a.txt") == b"hello\n"
        assert new.read("a.txt") == b"changed\n"
        assert env.read(old_commit, "a.txt") == b"hello\n"

    def test_chain_of_writes(self, env):
        fs = env.fs
        chain = [fs.commit_hash]
        for i in range(3):
            fs = fs.write(f"f{i}", b"%d" % i)
            chain.append(fs.commit_hash)
        assert env.g.first_parent_chain("main")[:4] == chain[::-1]
        assert env.g.lines("log", "--format=%s", "-3", "main") == ["+ f2", "+ f1", "+ f0"]

    def test_pathlike_path(self, env):
        new = env.fs.write(pathlib.PurePosixPath("p/q.txt"), b"pq")
        assert env.read(new.commit_hash, "p/q.txt") == b"pq"

    def test_path_is_normalised(self, env):
        new = env.fs.write("/dir/norm.txt/", b"n")
        assert env.read(new.commit_hash, "dir/norm.txt") == b"n"
        assert new.changes.add == [FileEntry("dir/norm.txt", BLOB)]
        assert new.message == "+ dir/norm.txt"

    @pytest.mark.parametrize("path, message", [
        ("", "Path must not be empty"),
        ("/", "Path must not be empty"),
        ("a//b", "Empty segment in path: 'a//b'"),
        ("a/./b", "Invalid path segment: '.'"),
        ("../x", "Invalid path segment: '..'"),
    ])
    def test_bad_paths(self, env, path, message):
        tip = env.tip()
        with pytest.raises(ValueError) as ei:
            env.fs.write(path, b"x")
        assert str(ei.value) == message
        assert env.tip() == tip

    @pytest.mark.parametrize("path", [".git", "a/.git/b", ".GIT", "sub/.Git"])
    def test_reserved_git_names_refused(self, env, path):
        # a tree entry named .git is something git fsck rejects
        tip = env.tip()
        with pytest.raises(ValueError):
            env.fs.write(path, b"x")
        with pytest.raises(ValueError):
            env.fs.apply({path: b"x"})
        assert env.tip() == tip

    def test_nul_in_path_refused(self, env):
        tip = env.tip()
        with pytest.raises(ValueError):
            env.fs.write("a\0b", b"x")
        assert env.tip() == tip

    @pytest.mark.parametrize("path", ["back\\slash", "new\nline", "tab\there", "sp ace",
                                      "co:lon", ".gitignore", "..dots", "-dash"])
    def test_unusual_names_stored_as_given(self, env, path):
        new = env.fs.write(f"odd/{path}", b"odd")
        assert [row[3] for row in env.g.ls_tree(f"{new.commit_hash}:odd")] == [path]
        assert new.read(f"odd/{path}") == b"odd"

    @pytest.mark.parametrize("path", [b"bytes.txt", 3, None])
    def test_non_str_path_is_type_error(self, env, path):
        with pytest.raises(TypeError):
            env.fs.write(path, b"x")

    def test_empty_content(self, env):
        new = env.fs.write("empty", b"")
        assert env.read(new.commit_hash, "empty") == b""
        assert env.g.rev(f"{new.commit_hash}:empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"

    def test_binary_content(self, env):
        data = bytes(range(256)) * 3 + b"\0\r\n"
        new = env.fs.write("bin", data)
        assert env.read(new.commit_hash, "bin") == data
        assert env.g.rev(f"{new.commit_hash}:bin") == env.g(
            "hash-object", "--stdin", input=data)

    @pytest.mark.parametrize("data, expected", [
        (bytearray(b"from bytearray"), b"from bytearray"),
        (memoryview(b"from memoryview"), b"from memoryview"),
        (memoryview(b"0123456789")[2:5], b"234"),
        (array.array("B", b"arr"), b"arr"),
        (array.array("I", [1, 2]), array.array("I", [1, 2]).tobytes()),
    ], ids=["bytearray", "memoryview", "memoryview-slice", "array-B", "array-I"])
    def test_bytes_like_data(self, env, data, expected):
        new = env.fs.write("bl", data)
        assert env.read(new.commit_hash, "bl") == expected

    @pytest.mark.parametrize("data", ["text", 42, None, [1, 2]])
    def test_non_bytes_data_is_type_error(self, env, data):
        tip = env.tip()
        with pytest.raises(TypeError):
            env.fs.write("q", data)
        assert env.tip() == tip

    def test_unicode_path(self, env):
        new = env.fs.write("ünï/文件.txt", b"u")
        assert "ünï/文件.txt".encode() in env.g.raw(
            "ls-tree", "-r", "-z", "--name-only", new.commit_hash).split(b"\0")
        assert env.read(new.commit_hash, "ünï/文件.txt") == b"u"
        assert new.message == "+ ünï/文件.txt"
        _h, msg = env.g.commit_header(new.commit_hash)
        assert msg == "+ ünï/文件.txt\n".encode()


class TestWriteText:
    def test_default_utf8(self, env):
        new = env.fs.write_text("t.txt", "café ✓\n")
        assert env.read(new.commit_hash, "t.txt") == "café ✓\n".encode()
        assert env.mode(new.commit_hash, "t.txt") == 0o100644
        assert new.message == "+ t.txt"

    def test_encoding(self, env):
        new = env.fs.write_text("l.txt", "café", encoding="latin-1")
        assert env.read(new.commit_hash, "l.txt") == b"caf\xe9"

    def test_mode_and_message(self, env):
        new = env.fs.write_text("s.sh", "#!/bin/sh\n", mode=EXE, message="script")
        assert env.mode(new.commit_hash, "s.sh") == 0o100755
        assert new.message == "script"

    def test_unencodable_raises_first(self, env):
        tip = env.tip()
        with pytest.raises(UnicodeEncodeError):
            env.fs.write_text("x", "snowman ☃", encoding="ascii")
        # before the read-only check too
        with pytest.raises(UnicodeEncodeError):
            env.store.tags["v1"].write_text("x", "☃", encoding="ascii")
        assert env.tip() == tip

    def test_identical_text_is_noop(self, env):
        fs = env.fs
        assert fs.write_text("a.txt", "hello\n") is fs


class TestWriteFromFile:
    def test_regular_file(self, env, tmp_path):
        local = tmp_path / "plain.txt"
        local.write_bytes(b"from disk\n")
        os.chmod(local, 0o644)
        new = env.fs.write_from_file("disk/plain.txt", local)
        assert env.read(new.commit_hash, "disk/plain.txt") == b"from disk\n"
        assert env.mode(new.commit_hash, "disk/plain.txt") == 0o100644
        assert new.message == "+ disk/plain.txt"
        assert new.changes.add == [FileEntry("disk/plain.txt", BLOB)]

    @pytest.mark.parametrize("perm", [0o755, 0o744, 0o654, 0o645, 0o100])
    def test_any_execute_bit_makes_executable(self, env, tmp_path, perm):
        local = tmp_path / "tool"
        local.write_bytes(b"#!/bin/sh\n")
        os.chmod(local, perm)
        new = env.fs.write_from_file("tool", local)
        assert env.mode(new.commit_hash, "tool") == 0o100755
        assert new.message == "+ tool (executable)"
        assert new.changes.add == [FileEntry("tool", EXE)]

    def test_mode_overrides_detection(self, env, tmp_path):
        exe = tmp_path / "exe"
        exe.write_bytes(b"e")
        os.chmod(exe, 0o755)
        plain = tmp_path / "plain"
        plain.write_bytes(b"p")
        os.chmod(plain, 0o644)
        fs = env.fs.write_from_file("exe", exe, mode=BLOB)
        assert env.mode(fs.commit_hash, "exe") == 0o100644
        fs = fs.write_from_file("plain", plain, mode=0o100755)
        assert env.mode(fs.commit_hash, "plain") == 0o100755
        fs = fs.write_from_file("asLink", plain, mode=LINK)
        assert env.mode(fs.commit_hash, "asLink") == 0o120000
        assert fs.readlink("asLink") == "p"

    @pytest.mark.parametrize("kind", ["str", "bytes", "path"])
    def test_local_path_types(self, env, tmp_path, kind):
        local = tmp_path / "lp.txt"
        local.write_bytes(b"lp")
        arg = {"str": str(local), "bytes": os.fsencode(local), "path": local}[kind]
        new = env.fs.write_from_file("lp.txt", arg)
        assert env.read(new.commit_hash, "lp.txt") == b"lp"

    def test_follows_local_symlink(self, env, tmp_path):
        target = tmp_path / "target.sh"
        target.write_bytes(b"target content")
        os.chmod(target, 0o755)
        link = tmp_path / "link"
        link.symlink_to(target)
        new = env.fs.write_from_file("via-link", link)
        assert env.read(new.commit_hash, "via-link") == b"target content"
        assert env.mode(new.commit_hash, "via-link") == 0o100755

    def test_empty_file(self, env, tmp_path):
        local = tmp_path / "empty"
        local.write_bytes(b"")
        new = env.fs.write_from_file("empty", local)
        assert env.read(new.commit_hash, "empty") == b""

    def test_missing_local_file(self, env, tmp_path):
        tip = env.tip()
        with pytest.raises(FileNotFoundError):
            env.fs.write_from_file("x", tmp_path / "missing")
        assert env.tip() == tip

    def test_directory_local_path(self, env, tmp_path):
        tip = env.tip()
        with pytest.raises(IsADirectoryError):
            env.fs.write_from_file("x", tmp_path)
        assert env.tip() == tip

    def test_identical_file_is_noop(self, env, tmp_path):
        local = tmp_path / "a.txt"
        local.write_bytes(b"hello\n")
        os.chmod(local, 0o644)
        fs = env.fs
        assert fs.write_from_file("a.txt", local) is fs

    def test_exec_file_over_regular_is_update(self, env, tmp_path):
        local = tmp_path / "a.txt"
        local.write_bytes(b"hello\n")
        os.chmod(local, 0o755)
        new = env.fs.write_from_file("a.txt", local)
        assert new.changes.update == [FileEntry("a.txt", EXE)]
        assert new.message == "~ a.txt (executable)"

    def test_bad_repo_path_before_local_errors(self, env, tmp_path):
        with pytest.raises(ValueError):
            env.fs.write_from_file("", tmp_path / "missing")


class TestWriteSymlink:
    def test_new_symlink(self, env):
        new = env.fs.write_symlink("current", "v2")
        assert env.mode(new.commit_hash, "current") == 0o120000
        assert env.read(new.commit_hash, "current") == b"v2"
        assert new.readlink("current") == "v2"
        assert new.read("current") == b"v2"
        assert new.file_type("current") == LINK
        assert new.message == "+ current (link)"
        assert new.changes.add == [FileEntry("current", LINK)]

    @pytest.mark.parametrize("target", ["/abs/path", "../../up", "does/not/exist", "",
                                        "ünï/文件"])
    def test_targets_not_validated(self, env, target):
        new = env.fs.write_symlink("l", target)
        assert env.read(new.commit_hash, "l") == target.encode()
        assert new.readlink("l") == target

    def test_over_regular_file_is_update(self, env):
        new = env.fs.write_symlink("a.txt", "t")
        assert new.changes.update == [FileEntry("a.txt", LINK)]
        assert new.message == "~ a.txt (link)"
        assert env.mode(new.commit_hash, "a.txt") == 0o120000

    def test_same_symlink_is_noop(self, env):
        fs = env.fs
        assert fs.write_symlink("link", "a.txt") is fs

    def test_custom_message(self, env):
        new = env.fs.write_symlink("nested/l", "../a.txt", message="link it")
        assert new.message == "link it"
        assert env.mode(new.commit_hash, "nested/l") == 0o120000


# ---------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------

class TestModes:
    @pytest.mark.parametrize("mode, git_mode, ftype", [
        (FileType.BLOB, 0o100644, BLOB),
        (FileType.EXECUTABLE, 0o100755, EXE),
        (FileType.LINK, 0o120000, LINK),
        (0o100644, 0o100644, BLOB),
        (0o100755, 0o100755, EXE),
        (0o120000, 0o120000, LINK),
        (None, 0o100644, BLOB),
    ])
    def test_accepted_modes(self, env, mode, git_mode, ftype):
        new = env.fs.write("m", b"content", mode=mode)
        assert env.mode(new.commit_hash, "m") == git_mode
        assert new.file_type("m") == ftype
        assert new.changes.add == [FileEntry("m", ftype)]

    def test_link_mode_with_data_makes_symlink(self, env):
        new = env.fs.write("ln", b"a.txt", mode=FileType.LINK)
        assert new.readlink("ln") == "a.txt"

    @pytest.mark.parametrize("mode", [FileType.TREE, 0o040000])
    def test_tree_mode_is_value_error(self, env, mode):
        tip = env.tip()
        with pytest.raises(ValueError):
            env.fs.write("m3", b"m", mode=mode)
        assert env.tip() == tip

    @pytest.mark.parametrize("mode", [0o100600, 0o100664, 0o644, 0])
    def test_unknown_int_mode_is_key_error(self, env, mode):
        tip = env.tip()
        with pytest.raises(KeyError):
            env.fs.write("m", b"m", mode=mode)
        assert env.tip() == tip
        assert env.g("fsck", "--unreachable", "--no-progress").count("commit") == 0

    def test_gitlink_mode_is_refused(self, env):
        tip = env.tip()
        with pytest.raises((KeyError, ValueError)):
            env.fs.write("m", b"m", mode=0o160000)
        assert env.tip() == tip

    def test_no_mode_inheritance(self, env):
        new = env.fs.write("run.sh", b"#!/bin/sh\necho hi\n")
        assert env.mode(new.commit_hash, "run.sh") == 0o100644
        assert new.changes.update == [FileEntry("run.sh", BLOB)]
        assert new.message == "~ run.sh"

    def test_mode_only_change(self, env):
        new = env.fs.write("a.txt", b"hello\n", mode=0o100755)
        assert env.g.rev(f"{new.commit_hash}:a.txt") == env.g.rev(f"{env.shas['base']}:a.txt")
        assert env.mode(new.commit_hash, "a.txt") == 0o100755
        assert new.changes.update == [FileEntry("a.txt", EXE)]
        assert new.message == "~ a.txt (executable)"

    def test_same_content_same_mode_executable_is_noop(self, env):
        fs = env.fs
        assert fs.write("run.sh", b"#!/bin/sh\necho hi\n", mode=EXE) is fs


# ---------------------------------------------------------------------------
# trees: implicit directories, replacement, pruning, sharing
# ---------------------------------------------------------------------------

class TestTrees:
    def test_implicit_directories(self, env):
        new = env.fs.write("a/b/c/d.txt", b"deep")
        c = new.commit_hash
        assert env.g.cat_type(f"{c}:a") == "tree"
        assert env.g.cat_type(f"{c}:a/b") == "tree"
        assert env.g.cat_type(f"{c}:a/b/c") == "tree"
        assert env.g.ls_tree(f"{c}:a/b/c") == [
            ("100644", "blob", env.g.rev(f"{c}:a/b/c/d.txt"), "d.txt")]
        assert new.changes.add == [FileEntry("a/b/c/d.txt", BLOB)]
        assert new.is_dir("a/b")

    def test_file_replaces_directory(self, env):
        new = env.fs.write("dir", b"now a file")
        assert env.g.entry(new.commit_hash, "dir")[1] == 0o100644
        assert env.read(new.commit_hash, "dir") == b"now a file"
        assert not any(p.startswith("dir/") for p in env.files(new.commit_hash))
        assert new.changes.update == [FileEntry("dir", BLOB)]
        assert new.changes.add == [] and new.changes.delete == []
        assert new.message == "~ dir"

    def test_directory_replaces_file(self, env):
        new = env.fs.write("a.txt/inner", b"in")
        assert env.g.cat_type(f"{new.commit_hash}:a.txt") == "tree"
        assert env.read(new.commit_hash, "a.txt/inner") == b"in"
        assert new.changes.add == [FileEntry("a.txt/inner", BLOB)]
        assert new.message == "+ a.txt/inner"

    def test_directory_below_symlink_replaces_it(self, env):
        new = env.fs.write("link/x", b"x")
        assert new.is_dir("link")
        assert new.read("link/x") == b"x"

    def test_removing_last_file_prunes_directories(self, env):
        new = env.fs.apply(removes="dir/sub/deep.txt")
        c = new.commit_hash
        assert env.g.entry(c, "dir/sub") is None
        assert env.g.entry(c, "dir/x.txt") is not None
        # and cascading upward
        new2 = new.apply(removes="dir/x.txt")
        assert env.g.entry(new2.commit_hash, "dir") is None
        assert "dir" not in new2.ls()

    def test_pruning_cascades_through_several_levels(self, env):
        fs = env.fs.write("p/q/r/s.txt", b"s")
        fs = fs.apply(removes="p/q/r/s.txt")
        assert env.g.entry(fs.commit_hash, "p") is None
        assert fs.tree_hash == env.g.rev(f"{env.shas['base']}^{{tree}}")

    def test_removing_everything_gives_empty_tree(self, env):
        new = env.fs.apply(removes=["a.txt", "run.sh", "link", "dir", "notes", "cache"])
        assert new.tree_hash == EMPTY_TREE
        assert env.g.rev(f"{new.commit_hash}^{{tree}}") == EMPTY_TREE
        assert new.ls() == []

    def test_structural_sharing(self, env):
        base = env.shas["base"]
        new = env.fs.write("dir/x.txt", b"x2\n")
        c = new.commit_hash
        for untouched in ("notes", "cache", "dir/sub", "a.txt", "run.sh", "link"):
            assert env.g.rev(f"{c}:{untouched}") == env.g.rev(f"{base}:{untouched}"), untouched
        assert env.g.rev(f"{c}:dir") != env.g.rev(f"{base}:dir")
        assert new.object_hash("dir/sub") == env.g.rev(f"{base}:dir/sub")

    def test_tree_order_and_modes_are_canonical(self, env):
        # names that sort differently as files and as directories
        new = env.fs.apply({"a-b": b"1", "a.b": b"2", "ab/x": b"3", "a/x": b"4", "B": b"5"})
        names = [row[3] for row in env.g.ls_tree(new.commit_hash)]
        git_sorted = env.g.lines("ls-tree", "--name-only", new.commit_hash)
        assert names == git_sorted
        # mktree agrees on the serialisation (same id)
        listing = env.g.raw("ls-tree", new.commit_hash)
        assert env.g("mktree", input=listing) == new.tree_hash


# ---------------------------------------------------------------------------
# no-op
# ---------------------------------------------------------------------------

class TestNoOp:
    def test_identical_write_returns_same_object(self, env):
        fs = env.fs
        tip, log = env.tip(), reflog_lines(env.path)
        packs = pack_names(env.path)
        same = fs.write("a.txt", b"hello\n")
        assert same is fs
        assert env.tip() == tip
        assert reflog_lines(env.path) == log
        assert env.g("fsck", "--unreachable", "--no-progress").count("commit") == 0
        assert pack_names(env.path) >= packs

    def test_noop_keeps_changes(self, env):
        new = env.fs.write("n.txt", b"n")
        report = new.changes
        same = new.write("n.txt", b"n")
        assert same is new
        assert same.changes is report
        assert same.changes.add == [FileEntry("n.txt", BLOB)]

    def test_empty_apply(self, env):
        fs = env.fs
        assert fs.apply() is fs
        assert fs.apply({}, []) is fs
        assert fs.changes is None

    def test_removing_missing_path_is_noop(self, env):
        fs = env.fs
        tip = env.tip()
        assert fs.apply(removes="nope") is fs
        assert fs.apply(removes=["nope", "dir/nope", "a.txt/below"]) is fs
        assert env.tip() == tip

    def test_identical_apply(self, env):
        fs = env.fs
        assert fs.apply({"a.txt": b"hello\n", "dir/x.txt": "x\n"}) is fs

    def test_write_then_revert_makes_two_commits(self, env):
        fs = env.fs
        a = fs.write("a.txt", b"other")
        b = a.write("a.txt", b"hello\n")
        assert b is not a
        assert b.tree_hash == fs.tree_hash
        assert b.commit_hash != fs.commit_hash


# ---------------------------------------------------------------------------
# changes reports
# ---------------------------------------------------------------------------

def _report(add=(), update=(), delete=()):
    return ChangeReport(add=list(add), update=list(update), delete=list(delete))


class TestChanges:
    def test_branch_snapshot_has_no_changes(self, env):
        assert env.fs.changes is None

    @pytest.mark.parametrize("op, expected", [
        (lambda fs: fs.write("new.txt", b"n"), _report(add=[FileEntry("new.txt", BLOB)])),
        (lambda fs: fs.write("a.txt", b"other"), _report(update=[FileEntry("a.txt", BLOB)])),
        (lambda fs: fs.write("a.txt", b"hello\n", mode=EXE),
         _report(update=[FileEntry("a.txt", EXE)])),
        (lambda fs: fs.write("run.sh", b"#!/bin/sh\necho hi\n"),
         _report(update=[FileEntry("run.sh", BLOB)])),
        (lambda fs: fs.write_symlink("a.txt", "t"), _report(update=[FileEntry("a.txt", LINK)])),
        (lambda fs: fs.write("dir", b"f"), _report(update=[FileEntry("dir", BLOB)])),
        (lambda fs: fs.write("a.txt/inner", b"i"),
         _report(add=[FileEntry("a.txt/inner", BLOB)])),
        (lambda fs: fs.apply(removes="a.txt"), _report(delete=[FileEntry("a.txt", BLOB)])),
        (lambda fs: fs.apply(removes="run.sh"), _report(delete=[FileEntry("run.sh", EXE)])),
        (lambda fs: fs.apply(removes="link"), _report(delete=[FileEntry("link", LINK)])),
        (lambda fs: fs.apply(removes="dir"), _report(delete=[FileEntry("dir", TREE)])),
        (lambda fs: fs.apply(removes="cache/"), _report(delete=[FileEntry("cache", TREE)])),
    ], ids=["add", "update", "mode-exe", "exe-to-blob", "symlink-over-file", "file-over-dir",
            "dir-over-file", "rm-blob", "rm-exe", "rm-link", "rm-dir", "rm-dir-slash"])
    def test_table(self, env, op, expected):
        new = op(env.fs)
        assert new.changes == expected
        assert new.changes.errors == [] and new.changes.warnings == []
        assert all(e.src is None for e in new.changes.add + new.changes.update
                   + new.changes.delete)

    def test_order_follows_writes(self, env):
        new = env.fs.apply({"z": b"1", "a.txt": b"u", "m": b"2", "b": b"3"})
        assert [e.path for e in new.changes.add] == ["z", "m", "b"]
        assert new.changes.update == [FileEntry("a.txt", BLOB)]

    def test_identical_entries_are_skipped(self, env):
        new = env.fs.apply({"a.txt": b"hello\n", "new": b"n"})
        assert new.changes == _report(add=[FileEntry("new", BLOB)])
        assert new.message == "+ new"

    def test_report_totals(self, env):
        new = env.fs.apply({"o1": b"1", "o2": b"2", "a.txt": b"u"}, removes=["dir", "link"])
        assert new.changes.total == 5
        assert not new.changes.in_sync
        assert sorted(e.path for e in new.changes.delete) == ["dir", "link"]
        assert [a.path for a in new.changes.actions()] == ["a.txt", "dir", "link", "o1", "o2"]


# ---------------------------------------------------------------------------
# commit messages
# ---------------------------------------------------------------------------

class TestMessages:
    @pytest.mark.parametrize("op, expected", [
        (lambda fs: fs.write("notes/todo.md", b"x"), "+ notes/todo.md"),
        (lambda fs: fs.write("run2.sh", b"x", mode=FileType.EXECUTABLE), "+ run2.sh (executable)"),
        (lambda fs: fs.write_symlink("current", "v2"), "+ current (link)"),
        (lambda fs: fs.write("a.txt", b"changed"), "~ a.txt"),
        (lambda fs: fs.write("a.txt", b"hello\n", mode=0o100755), "~ a.txt (executable)"),
        (lambda fs: fs.apply(removes="a.txt"), "- a.txt"),
        (lambda fs: fs.apply(removes="cache/"), "- cache"),
        (lambda fs: fs.apply(removes="run.sh"), "- run.sh"),
        (lambda fs: fs.apply({"o1": b"1", "o2": b"2"}, removes="a.txt"), "Batch: +2 -1"),
        (lambda fs: fs.apply({"o1": b"1", "o2": b"2"}, removes="a.txt", operation="op"),
         "Batch op: +2 -1"),
        (lambda fs: fs.apply({"x": b"1"}, operation="imp"), "+ x"),
        (lambda fs: fs.apply({"x": b"1", "y": b"2"}, removes="a.txt", operation="imp"),
         "Batch imp: +2 -1"),
        (lambda fs: fs.apply({"a.txt": b"1", "dir/x.txt": b"2"}), "Batch: ~2"),
        (lambda fs: fs.apply({"n": b"1", "a.txt": b"2"}, removes=["link", "dir"]),
         "Batch: +1 ~1 -2"),
        (lambda fs: fs.apply(removes=["link", "dir"], operation=""), "Batch: -2"),
        (lambda fs: fs.apply({"m15": b"x"}, removes=["zzz"]), "+ m15"),
        (lambda fs: fs.write("x", b"1", message="Nightly: {default}"), "Nightly: + x"),
        (lambda fs: fs.apply({"n1": b"1", "n2": b"2", "a.txt": b"3"}, operation="sync",
                             message="{op}/{add_count}/{update_count}/{delete_count}/{total_count}"),
         "sync/2/1/0/3"),
        (lambda fs: fs.write("x", b"1", message="[{op}] {total_count}"), "[] 1"),
        (lambda fs: fs.apply(removes=["a.txt", "link"], message="{{x}} {default!r}"),
         "{x} 'Batch: -2'"),
        (lambda fs: fs.write("x", b"1", message="{total_count:03d}|{default:>6}|{op!r}"),
         "001|   + x|''"),
        (lambda fs: fs.write("x", b"1", message=""), "+ x"),
        (lambda fs: fs.write("x", b"1", message=None), "+ x"),
        (lambda fs: fs.write("x", b"1", message="plain words"), "plain words"),
        (lambda fs: fs.write("x", b"1", message="braces } alone"), "braces } alone"),
    ])
    def test_messages(self, env, op, expected):
        new = op(env.fs)
        assert new.message == expected
        _h, raw = env.g.commit_header(new.commit_hash)
        assert raw == expected.encode() + b"\n"
        assert env.g("log", "-1", "--format=%B", "main") == expected

    def test_multiline_message_stored_as_given(self, env):
        new = env.fs.write("x", b"1", message="line1\nline2\n\n")
        _h, raw = env.g.commit_header(new.commit_hash)
        assert raw == b"line1\nline2\n\n"
        assert new.message == "line1\nline2"

    def test_trailing_newline_not_doubled(self, env):
        new = env.fs.write("x", b"1", message="one line\n")
        _h, raw = env.g.commit_header(new.commit_hash)
        assert raw == b"one line\n"

    def test_non_ascii_message(self, env):
        new = env.fs.write("x", b"1", message="Zoë: ünï 文件")
        _h, raw = env.g.commit_header(new.commit_hash)
        assert raw == "Zoë: ünï 文件\n".encode()
        assert new.message == "Zoë: ünï 文件"

    @pytest.mark.parametrize("message, exc", [
        ("{nope}", KeyError),
        ("{0}", IndexError),
        ("{}", IndexError),
        ("a { b", ValueError),
        ('{"a": 1}', KeyError),
        ("{default!z}", ValueError),
    ])
    def test_format_errors_before_any_commit(self, env, message, exc):
        tip, log = env.tip(), reflog_lines(env.path)
        with pytest.raises(exc):
            env.fs.write("x", b"1", message=message)
        with pytest.raises(exc):
            env.fs.apply({"x": b"1"}, removes="a.txt", message=message)
        assert env.tip() == tip
        assert reflog_lines(env.path) == log
        assert env.g("fsck", "--unreachable", "--no-progress").count("commit") == 0

    def test_nul_in_message_is_not_silently_truncated(self, env):
        # git tools stop at NUL; either refuse it or keep all of it
        tip = env.tip()
        try:
            new = env.fs.write("x", b"1", message="before\0after")
        except ValueError:
            assert env.tip() == tip
            return
        _h, raw = env.g.commit_header(new.commit_hash)
        assert raw == b"before\0after\n"

    def test_format_error_messages_are_pythons(self, env):
        with pytest.raises(KeyError) as ei:
            env.fs.write("x", b"1", message="{nope}")
        assert ei.value.args == ("nope",)
        with pytest.raises(IndexError) as ei:
            env.fs.write("x", b"1", message="{0}")
        assert str(ei.value) == "Replacement index 0 out of range for positional args tuple"
        with pytest.raises(ValueError) as ei:
            env.fs.write("x", b"1", message="a { b")
        assert str(ei.value) == "expected '}' before end of string"


# ---------------------------------------------------------------------------
# apply
# ---------------------------------------------------------------------------

class TestApply:
    def test_value_kinds(self, env, tmp_path):
        local = tmp_path / "local.sh"
        local.write_bytes(b"#!/bin/sh\nlocal\n")
        os.chmod(local, 0o755)
        blob = BlobOid(env.g.rev(f"{env.shas['base']}:run.sh").encode())
        new = env.fs.apply({
            "bytes": b"b",
            "text": "caf\u00e9",
            "path": local,
            "blobid": blob,
            "we/bytes": WriteEntry(b"web"),
            "we/exe": WriteEntry(b"wee", mode=FileType.EXECUTABLE),
            "we/intmode": WriteEntry("wei", mode=0o100755),
            "we/link": WriteEntry(target="../bytes"),
            "we/path": WriteEntry(local, mode=FileType.BLOB),
            "we/pathlink": WriteEntry(local, mode=FileType.LINK),
            "ba": bytearray(b"ba"),
            "mv": memoryview(b"mv"),
        })
        files = env.files(new.commit_hash)
        assert files["bytes"] == (0o100644, b"b")
        assert files["text"] == (0o100644, "café".encode())
        assert files["path"] == (0o100755, b"#!/bin/sh\nlocal\n")
        assert files["blobid"] == (0o100644, b"#!/bin/sh\necho hi\n")
        assert files["we/bytes"] == (0o100644, b"web")
        assert files["we/exe"] == (0o100755, b"wee")
        assert files["we/intmode"] == (0o100755, b"wei")
        assert files["we/link"] == (0o120000, b"../bytes")
        assert files["we/path"] == (0o100644, b"#!/bin/sh\nlocal\n")
        assert files["we/pathlink"] == (0o120000, b"#!/bin/sh\nlocal\n")
        assert files["ba"] == (0o100644, b"ba")
        assert files["mv"] == (0o100644, b"mv")
        assert len(new.changes.add) == 12
        assert new.message == "Batch: +12"

    def test_str_is_content_not_a_file_name(self, env, tmp_path):
        local = tmp_path / "exists.txt"
        local.write_bytes(b"disk")
        new = env.fs.apply({"s": str(local)})
        assert new.read("s") == str(local).encode()

    def test_blob_oid_reuses_object(self, env):
        blob = env.g.rev(f"{env.shas['base']}:a.txt")
        new = env.fs.apply({"copy.txt": BlobOid(blob.encode())})
        assert env.g.rev(f"{new.commit_hash}:copy.txt") == blob
        assert env.mode(new.commit_hash, "copy.txt") == 0o100644

    @pytest.mark.parametrize("value, tname", [
        (42, "int"), (None, "NoneType"), (pathlib.PurePosixPath("x"), "PurePosixPath"),
        ([b"x"], "list"),
    ])
    def test_bad_value_type(self, env, value, tname):
        tip = env.tip()
        with pytest.raises(TypeError) as ei:
            env.fs.apply({"/q/": value})
        assert str(ei.value) == f"Expected WriteEntry, bytes, str, or Path for 'q', got {tname}"
        assert env.tip() == tip

    def test_keys_are_normalised_and_deduplicated(self, env):
        new = env.fs.apply({"/k/v.txt": b"1", "k/v.txt/": b"2", "other": b"3"})
        assert env.read(new.commit_hash, "k/v.txt") == b"2"
        assert [e.path for e in new.changes.add] == ["k/v.txt", "other"]

    def test_bad_key(self, env):
        with pytest.raises(ValueError, match="Empty segment"):
            env.fs.apply({"ok": b"1", "a//b": b"2"})

    @pytest.mark.parametrize("removes", [
        "a.txt", ["a.txt"], ("a.txt",), {"a.txt"}, (p for p in ["a.txt"]),
        "/a.txt/", [pathlib.PurePosixPath("a.txt")],
    ], ids=["str", "list", "tuple", "set", "generator", "slashes", "pathlike"])
    def test_removes_forms(self, env, removes):
        new = env.fs.apply(removes=removes)
        assert env.g.entry(new.commit_hash, "a.txt") is None
        assert new.changes.delete == [FileEntry("a.txt", BLOB)]

    def test_remove_directory_recursively(self, env):
        new = env.fs.apply(removes=["dir/"])
        assert env.g.entry(new.commit_hash, "dir") is None
        assert not any(p.startswith("dir/") for p in env.files(new.commit_hash))
        assert new.message == "- dir"

    def test_bad_remove_path(self, env):
        with pytest.raises(ValueError, match="Path must not be empty"):
            env.fs.apply(removes="")
        with pytest.raises(ValueError, match="Invalid path segment"):
            env.fs.apply(removes=["a.txt", "x/../y"])

    def test_removes_before_writes_F35(self, env):
        new = env.fs.apply({"dir/new": b"n"}, removes="dir")
        files = env.files(new.commit_hash)
        assert [p for p in files if p.startswith("dir/")] == ["dir/new"]
        assert FileEntry("dir/new", BLOB) in new.changes.add

    def test_remove_and_write_same_path_keeps_write(self, env):
        new = env.fs.apply({"a.txt": b"rewritten"}, removes="a.txt")
        assert env.read(new.commit_hash, "a.txt") == b"rewritten"

    def test_remove_below_file_changes_nothing_F3(self, env):
        fs = env.fs
        assert fs.apply(removes="a.txt/x") is fs
        new = fs.apply({"n": b"1"}, removes=["a.txt/x", "run.sh/deeper/still"])
        assert env.read(new.commit_hash, "a.txt") == b"hello\n"
        assert env.mode(new.commit_hash, "run.sh") == 0o100755
        assert new.changes.delete == []
        assert new.message == "+ n"

    def test_missing_removes_not_reported(self, env):
        new = env.fs.apply({"n": b"1"}, removes=["zzz", "dir/zzz", "nope/deeper"])
        assert new.changes.delete == []
        assert new.changes.add == [FileEntry("n", BLOB)]
        assert new.message == "+ n"
        # the existing directory kept its content
        assert env.g.rev(f"{new.commit_hash}:dir") == env.g.rev(f"{env.shas['base']}:dir")

    def test_write_file_and_below_it(self, env):
        new = env.fs.apply({"q": b"file", "q/inner": b"inner"})
        assert new.is_dir("q")
        assert new.read("q/inner") == b"inner"

    def test_writes_none_and_removes_none(self, env):
        fs = env.fs
        assert fs.apply(None, None) is fs

    def test_mapping_like_writes(self, env):
        class OnlyItems:
            def items(self):
                return [("mi", b"1")]
        new = env.fs.apply(OnlyItems())
        assert new.read("mi") == b"1"

    def test_local_path_errors_raised_before_pipeline(self, env, tmp_path):
        with pytest.raises(FileNotFoundError):
            env.store.tags["v1"].apply({"x": tmp_path / "missing"})
        with pytest.raises(IsADirectoryError):
            env.fs.apply({"x": tmp_path})


# ---------------------------------------------------------------------------
# read-only snapshots, staleness
# ---------------------------------------------------------------------------

def _readonly_snapshots(env):
    sha = env.shas["base"]
    return {
        "tag": (env.store.tags["v1"], " (ref 'v1')"),
        "annotated": (env.store.tags["v2"], " (ref 'v2')"),
        "detached": (FS(env.store, sha.encode()), ""),
    }


class TestReadOnly:
    @pytest.mark.parametrize("which", ["tag", "annotated", "detached"])
    def test_every_write_refused(self, env, which, tmp_path):
        fs, suffix = _readonly_snapshots(env)[which]
        assert fs.writable is False
        local = tmp_path / "l"
        local.write_bytes(b"l")
        expected = f"Cannot write to read-only snapshot{suffix}"
        calls = [
            lambda: fs.write("x", b"1"),
            lambda: fs.write_text("x", "1"),
            lambda: fs.write_from_file("x", local),
            lambda: fs.write_symlink("x", "y"),
            lambda: fs.apply({"x": b"1"}),
            lambda: fs.apply(),
            lambda: fs.apply(removes="a.txt"),
            lambda: fs.write("a.txt", b"hello\n"),  # even a no-op
            lambda: fs.writer("x"),
        ]
        tip = env.tip()
        tags = env.g("for-each-ref")
        for call in calls:
            with pytest.raises(PermissionError) as ei:
                call()
            assert str(ei.value) == expected
        assert env.tip() == tip
        assert env.g("for-each-ref") == tags

    @pytest.mark.parametrize("method", ["batch", "undo", "redo"])
    def test_other_verbs(self, env, method):
        fs, suffix = _readonly_snapshots(env)["tag"]
        with pytest.raises(PermissionError) as ei:
            getattr(fs, method)()
        assert str(ei.value) == f"Cannot {method} on read-only snapshot{suffix}"

    def test_batch_on_detached(self, env):
        det, _ = _readonly_snapshots(env)["detached"]
        with pytest.raises(PermissionError) as ei:
            det.batch()
        assert str(ei.value) == "Cannot batch on read-only snapshot"

    def test_repr_says_readonly(self, env):
        assert repr(env.store.tags["v1"]).endswith("readonly)")


class TestStale:
    def test_stale_write(self, env):
        fs = env.fs
        fs.write("one", b"1")
        tip = env.tip()
        with pytest.raises(StaleSnapshotError) as ei:
            fs.write("two", b"2")
        assert str(ei.value) == "Branch 'main' has advanced since this snapshot"
        assert "advanced" in str(ei.value)
        assert env.tip() == tip
        # a rejected write leaves no commit object behind
        assert env.g("fsck", "--unreachable", "--no-progress").count("commit") == 0

    def test_stale_even_when_noop(self, env):
        fs = env.fs
        fs.write("one", b"1")
        with pytest.raises(StaleSnapshotError):
            fs.write("a.txt", b"hello\n")
        with pytest.raises(StaleSnapshotError):
            fs.apply(removes="nope")

    @pytest.mark.parametrize("method", ["write_text", "write_symlink", "apply",
                                        "write_from_file"])
    def test_every_method_checks(self, env, method, tmp_path):
        fs = env.fs
        fs.write("one", b"1")
        local = tmp_path / "f"
        local.write_bytes(b"f")
        call = {
            "write_text": lambda: fs.write_text("t", "t"),
            "write_symlink": lambda: fs.write_symlink("t", "t"),
            "apply": lambda: fs.apply({"t": b"t"}),
            "write_from_file": lambda: fs.write_from_file("t", local),
        }[method]
        with pytest.raises(StaleSnapshotError, match="advanced"):
            call()

    def test_stale_after_branch_moved_back(self, env):
        fs = env.fs
        new = fs.write("one", b"1")
        env.g("update-ref", "refs/heads/main", fs.commit_hash)
        with pytest.raises(StaleSnapshotError, match="advanced"):
            new.write("two", b"2")
        # while the old one is current again
        assert fs.write("two", b"2").parent.commit_hash == fs.commit_hash

    def test_ref_moved_by_git(self, env):
        fs = env.fs
        other = env.g("commit-tree", f"{fs.commit_hash}^{{tree}}", "-p", fs.commit_hash,
                      "-m", "by git")
        env.g("update-ref", "refs/heads/main", other)
        with pytest.raises(StaleSnapshotError):
            fs.write("x", b"1")
        assert env.tip() == other

    def test_ancestor_is_writable_but_stale(self, env):
        new = env.fs.write("one", b"1")
        parent = new.parent
        assert parent.writable is True
        with pytest.raises(StaleSnapshotError):
            parent.write("x", b"1")

    def test_deleted_branch(self, env):
        fs = env.fs.write("one", b"1")
        env.store.branches["gone"] = fs
        gone = env.store.branches["gone"]
        del env.store.branches["gone"]
        with pytest.raises(KeyError):
            gone.write("x", b"2")
        assert "gone" not in env.store.branches


# ---------------------------------------------------------------------------
# error precedence
# ---------------------------------------------------------------------------

class TestPrecedence:
    def test_path_before_permission(self, env):
        tag = env.store.tags["v1"]
        with pytest.raises(ValueError):
            tag.write("", b"x")
        with pytest.raises(ValueError):
            tag.write_symlink("a//b", "t")
        with pytest.raises(ValueError):
            tag.apply(removes="")

    @pytest.mark.parametrize("kwargs", [
        dict(data=bytearray(b"x")), dict(data=42), dict(data=b"x", mode=0o100600),
        dict(data=b"x", mode=FileType.TREE), dict(data=b"x", message="{nope}"),
        dict(data=b"x", message="{0}"),
    ])
    def test_permission_before_content_mode_message(self, env, kwargs):
        tag = env.store.tags["v1"]
        data = kwargs.pop("data")
        with pytest.raises(PermissionError):
            tag.write("q", data, **kwargs)

    def test_conversion_before_permission_in_apply(self, env):
        tag = env.store.tags["v1"]
        with pytest.raises(TypeError):
            tag.apply({"q": 42})
        with pytest.raises(ValueError):
            tag.apply({"": b"x"})

    def test_apply_entries_in_order(self, env):
        with pytest.raises(ValueError):
            env.fs.apply({"": b"x", "b": 42})
        with pytest.raises(TypeError):
            env.fs.apply({"b": 42, "": b"x"})
        with pytest.raises(TypeError):
            env.fs.apply({"b": 42}, removes="")

    def test_data_before_mode(self, env):
        with pytest.raises(TypeError):
            env.fs.write("q", 42, mode=0o100600)

    def test_mode_before_message(self, env):
        with pytest.raises(KeyError) as ei:
            env.fs.write("q", b"x", mode=0o100600, message="{0}")
        assert ei.value.args == (0o100600,)

    def test_message_before_staleness(self, env):
        fs = env.fs
        fs.write("one", b"1")
        with pytest.raises(IndexError):
            fs.write("q", b"x", message="{0}")
        with pytest.raises(KeyError):
            fs.write("q", b"x", mode=0o100600)

    def test_write_from_file_local_errors_before_permission(self, env, tmp_path):
        tag = env.store.tags["v1"]
        with pytest.raises(FileNotFoundError):
            tag.write_from_file("x", tmp_path / "missing")
        with pytest.raises(IsADirectoryError):
            tag.write_from_file("x", tmp_path)
        local = tmp_path / "ok"
        local.write_bytes(b"ok")
        with pytest.raises(PermissionError):
            tag.write_from_file("x", local)

    def test_writer_permission_before_mode(self, env):
        with pytest.raises(PermissionError):
            env.store.tags["v1"].writer("x", "rb")
        with pytest.raises(ValueError) as ei:
            env.fs.writer("x", "rb")
        assert str(ei.value) == "writer() mode must be 'wb' or 'w', got 'rb'"

    def test_undo_redo_steps_before_permission(self, env):
        tag = env.store.tags["v1"]
        for call in (lambda: tag.undo(0), lambda: tag.redo(0)):
            with pytest.raises(ValueError) as ei:
                call()
            assert str(ei.value) == "steps must be >= 1, got 0"


# ---------------------------------------------------------------------------
# storage: commits, packs, fsck
# ---------------------------------------------------------------------------

class TestStorage:
    def test_every_commit_is_well_formed(self, env, tmp_path):
        local = tmp_path / "f"
        local.write_bytes(b"file")
        base = env.tip()
        before = int(time.time())
        fs = env.fs
        fs = fs.write("w", b"1")
        fs = fs.write_text("t", "2")
        fs = fs.write_from_file("f", local)
        fs = fs.write_symlink("s", "w")
        fs = fs.apply({"ap": b"3"}, removes="a.txt")
        with fs.writer("wr") as w:
            w.write(b"4")
        fs = w.fs
        with fs.batch() as b:
            b.write("bt", b"5")
            b.remove("link")
        fs = b.fs
        after = int(time.time())
        commits = env.g.lines("rev-list", f"{base}..main")
        assert len(commits) == 7
        for sha in commits:
            headers, _msg = env.g.commit_header(sha)
            assert list(headers) == ["tree", "parent", "author", "committer", "encoding"]
            check_commit(env, sha, parent=env.g.rev(f"{sha}^"), message=_msg,
                         before=before, after=after)

    def test_one_pack_per_commit_holding_exactly_the_new_objects(self, env):
        fs = env.fs
        packs = pack_names(env.path)
        loose = loose_object_ids(env.path)  # fast-import left the base loose
        new = fs.write("dir/new.txt", b"unique content 1\n")
        added = pack_names(env.path) - packs
        assert len(added) == 1
        (name,) = added
        assert (env.path / "objects" / "pack" / f"{name}.idx").exists()
        c = new.commit_hash
        expected = {c, env.g.rev(f"{c}^{{tree}}"), env.g.rev(f"{c}:dir"),
                    env.g.rev(f"{c}:dir/new.txt")}
        assert pack_object_ids(env.path, name) == expected
        assert loose_object_ids(env.path) == loose
        # git reads the pack
        assert env.g("verify-pack", str(env.path / "objects" / "pack" / f"{name}.idx")) == ""

    @pytest.mark.parametrize("how", ["write", "write_text", "write_from_file", "write_symlink",
                                     "apply", "writer", "batch"])
    def test_each_method_adds_one_pack_no_loose(self, env, how, tmp_path):
        local = tmp_path / "f"
        local.write_bytes(b"small local file")
        fs = env.fs
        packs = pack_names(env.path)
        loose = loose_object_ids(env.path)  # fast-import left the base loose
        count_before = int(dict(line.split(": ") for line in
                                env.g.lines("count-objects", "-v"))["count"])
        if how == "write":
            new = fs.write("p", b"p-data")
        elif how == "write_text":
            new = fs.write_text("p", "p-text")
        elif how == "write_from_file":
            new = fs.write_from_file("p", local)
        elif how == "write_symlink":
            new = fs.write_symlink("p", "p-target")
        elif how == "apply":
            new = fs.apply({"p": b"p1", "q/r": b"p2"}, removes="a.txt")
        elif how == "writer":
            with fs.writer("p") as w:
                w.write(b"p-writer")
            new = w.fs
        else:
            with fs.batch() as b:
                b.write("p", b"p-batch")
                b.write_symlink("q", "p")
            new = b.fs
        assert new.commit_hash == env.tip()
        added = pack_names(env.path) - packs
        assert len(added) == 1
        assert new.commit_hash in pack_object_ids(env.path, added.pop())
        counts = dict(line.split(": ") for line in env.g.lines("count-objects", "-v"))
        assert int(counts["count"]) == count_before == len(loose)
        assert loose_object_ids(env.path) == loose

    @pytest.mark.parametrize("count", [0, 1, 1092, 1093, 3000])
    def test_trees_of_every_size_read_by_git(self, env, count):
        # Trees are stored uncompressed, in blocks of at most 65535 bytes.
        # An entry here is 60 bytes: 1092 fit one block, 1093 need two.
        with env.fs.batch() as b:
            for i in range(count):
                b.write(f"big/{i:0>{32}}", b"x")
            b.write("other/keep", b"keep")
        fs = b.fs
        if count:
            assert int(env.g("cat-file", "-s", f"{fs.commit_hash}:big")) == 60 * count
            names = env.g.lines("ls-tree", "--name-only", f"{fs.commit_hash}:big")
            assert names == [f"{i:0>{32}}" for i in range(count)]
            assert len(fs.ls("big")) == count
        else:
            assert not fs.exists("big")
        assert env.g("cat-file", "-p", f"{fs.commit_hash}:other/keep") == "keep"
        assert_fsck_clean(env.path)

    def test_lookups_in_the_trees_just_written(self, env):
        # The next write looks paths up in the trees the last commit wrote
        # (kept in memory, searched in git's order, where a tree sorts as
        # its name and "/"): every name must be found, none invented.
        names = ["a", "a.b", "a-b", "a0", "a b", "A", "é", "ab/x", "a.c/y", "b/c/d"]
        names += [f"many/{i:04d}" for i in range(3000)]
        with env.fs.batch() as b:
            for name in names:
                b.write(name, name.encode())
        fs = b.fs
        for name in ["a", "a.b", "ab/x", "a.c/y", "b/c/d", "many/0000", "many/2999"]:
            assert fs.write(name, name.encode()).commit_hash == fs.commit_hash, name
        changed = fs.apply({"a.b": b"new", "many/1500": b"new", "a.a": b"added"},
                           removes=["a0"])
        assert changed.message == "Batch: +1 ~2 -1"
        assert sorted(e.path for e in changed.changes.update) == ["a.b", "many/1500"]
        assert [e.path for e in changed.changes.delete] == ["a0"]
        assert [e.path for e in changed.changes.add] == ["a.a"]
        assert env.g("cat-file", "-p", "main:many/1500") == "new"
        assert_fsck_clean(env.path)

    def test_store_pack_merges_every_small_pack(self, env):
        fs = env.fs
        for i in range(6):
            fs = fs.write(f"p/{i}.txt", b"pack %d\n" % i)
        before = pack_names(env.path)
        assert len(before) >= 3   # commits merge small packs as they go
        all_ids = set().union(*(pack_object_ids(env.path, name) for name in before))
        env.store.pack()
        after = pack_names(env.path)
        assert len(after) == 1
        assert all_ids <= pack_object_ids(env.path, after.pop())
        assert [fs.read(f"p/{i}.txt") for i in range(6)] == [b"pack %d\n" % i for i in range(6)]
        env.store.pack()   # nothing left to merge
        assert len(pack_names(env.path)) == 1
        assert_fsck_clean(env.path)

    def test_commits_merge_small_packs_as_they_go(self, env):
        # Every commit writes its own pack; now and then a commit also
        # puts in place a pack merged from small ones (a merge is spread
        # over a few commits), whose objects all stay readable: a merged
        # pack's objects are all in the pack that replaced it.
        fs = env.fs
        merges = 0
        snaps = []
        known = {name: pack_object_ids(env.path, name) for name in pack_names(env.path)}
        for i in range(70):
            before = set(known)
            fs = fs.write(f"m/{i:02d}.txt", b"merge %d\n" % i)
            snaps.append(fs)
            after = pack_names(env.path)
            added = after - before
            assert 1 <= len(added) <= 2, f"commit {i} created {len(added)} packs"
            for name in added:
                known[name] = pack_object_ids(env.path, name)
            assert any(fs.commit_hash in known[name] for name in added)
            gone = before - after
            if gone:
                merges += 1
                assert len(gone) >= 2
                merged = set().union(*(known[name] for name in added))
                for old in gone:
                    assert known.pop(old) <= merged, f"objects of {old} were lost"
            assert len(after) <= 20, "small packs pile up"
        assert merges >= 2
        for i, snap in enumerate(snaps):
            assert snap.read(f"m/{i:02d}.txt") == b"merge %d\n" % i
        assert env.g("cat-file", "-p", "main:m/00.txt") == "merge 0"
        assert_fsck_clean(env.path)

    def test_commits_never_rewrite_a_big_pack(self, env):
        # A commit-time merge copies at most a MiB (in a store this
        # small): a pack past that is left whole, whatever piles up beside
        # it, and only GitStore.pack() takes it in.
        rng = random.Random(15)
        with env.fs.batch() as b:
            for i in range(18):
                b.write(f"big/{i:02d}.bin", rng.randbytes(64 * 1024))
        fs = b.fs
        sizes = {name: (env.path / "objects" / "pack" / f"{name}.pack").stat().st_size
                 for name in pack_names(env.path)}
        big = {name for name, size in sizes.items() if size > 1024 * 1024}
        assert len(big) == 1
        merges = 0
        for i in range(60):
            # 16 KiB each: before, the small packs soon outweighed half
            # the big one, and the next merge copied it whole.
            fs = fs.write(f"small/{i:02d}.bin", b"small %d\n" % i + rng.randbytes(16 * 1024))
            after = pack_names(env.path)
            gone = set(sizes) - after
            assert big <= after, f"commit {i} rewrote the big pack"
            assert sum(sizes.pop(name) for name in gone) <= 1024 * 1024
            merges += bool(gone)
            for name in after - set(sizes):
                sizes[name] = (env.path / "objects" / "pack" / f"{name}.pack").stat().st_size
            # (a merge in progress lets a few more wait)
            assert len(after) <= 16, "small packs pile up beside the big one"
        assert merges >= 5
        env.store.pack()
        (merged,) = pack_names(env.path)
        assert fs.commit_hash in pack_object_ids(env.path, merged)
        again = random.Random(15)
        assert [fs.read(f"big/{i:02d}.bin") for i in range(18)] == [
            again.randbytes(64 * 1024) for _ in range(18)]
        assert fs.read("small/59.bin").startswith(b"small 59\n")
        assert env.g("cat-file", "-s", "main:small/59.bin") == str(len(b"small 59\n") + 16384)
        assert_fsck_clean(env.path)

    def test_objects_readable_by_git_after_many_commits(self, env):
        fs = env.fs
        for i in range(5):
            fs = fs.write(f"many/{i}.txt", b"%d\n" % i)
        assert env.g.lines("ls-tree", "--name-only", "-r", "main", "--", "many") == [
            f"many/{i}.txt" for i in range(5)]
        assert env.g("cat-file", "-p", "main:many/3.txt") == "3"
        assert_fsck_clean(env.path)

    @pytest.mark.parametrize("author, email", [("Evil <x>", "e@x"), ("ok", "e>x"),
                                               ("line\nbreak", "e@x")])
    def test_unusable_identity_is_refused_before_creating(self, tmp_path, author, email):
        # an identity that cannot be written into a commit header must not
        # produce a malformed commit, nor a half-made repository
        path = tmp_path / "ident.git"
        with pytest.raises(ValueError):
            GitStore.open(path, author=author, email=email)
        assert not path.exists()

    def test_new_store_writes(self, tmp_path):
        path = tmp_path / "fresh.git"
        store = GitStore.open(path)
        fs = store.branches["main"]
        for i in range(3):
            fs = fs.write(f"f{i}", b"x" * i)
        g = Git(path)
        assert g.lines("log", "--format=%s", "main") == ["+ f2", "+ f1", "+ f0",
                                                          "Initialize main"]
        headers, _ = g.commit_header("main")
        assert headers["author"][0].startswith("gitstore <gitstore@localhost> ")
        assert loose_object_ids(path) == set()
        assert_fsck_clean(path)
