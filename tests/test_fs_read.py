"""FS read side: properties, lookups, reads, errors, history.  The repository is built by git fast-import
(support.HISTORY) and git is the oracle."""

from __future__ import annotations

import dataclasses
import pathlib
import time as _time
from datetime import datetime, timedelta, timezone

import pytest

from gitstore import FS, FileType, GitStore, StatResult

from support import BIN_DATA, HISTORY, Commit, Git, build_repo


class P:
    """A minimal os.PathLike."""

    def __init__(self, p):
        self._p = p

    def __fspath__(self):
        return self._p


@pytest.fixture(scope="module")
def repo(history_repo):
    return history_repo


@pytest.fixture(scope="module")
def g(repo):
    return Git(repo[0])


@pytest.fixture(scope="module")
def store(repo):
    return GitStore.open(repo[0], create=False)


@pytest.fixture
def fs(store):
    return store.branches["main"]


LABELS = ["c1", "c2", "c3", "c4", "c5", "c6"]
MESSAGES = {c.label: c.message for c in HISTORY}


def _snapshot(store, repo, label):
    """FS of commit `label` reached through the history of main."""
    chain = Git(repo[0]).first_parent_chain("main")
    fs = store.branches["main"]
    return fs.back(chain.index(repo[1][label]))


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

class TestProperties:
    def test_commit_and_tree_hash(self, fs, g):
        assert fs.commit_hash == g.rev("main")
        assert fs.tree_hash == g.rev("main^{tree}")
        assert isinstance(fs.commit_hash, str) and isinstance(fs.tree_hash, str)

    def test_ref_name_and_writable(self, store):
        b = store.branches["main"]
        t = store.tags["v1"]
        assert (b.ref_name, b.writable) == ("main", True)
        assert (t.ref_name, t.writable) == ("v1", False)

    @pytest.mark.parametrize("label", LABELS)
    def test_per_commit_properties_match_git(self, store, repo, g, label):
        fs = _snapshot(store, repo, label)
        sha = repo[1][label]
        assert fs.commit_hash == sha
        assert fs.tree_hash == g.rev(f"{sha}^{{tree}}")
        raw_msg = MESSAGES[label]
        assert fs.message == raw_msg.rstrip("\n")
        assert fs.author_name == g("log", "-1", "--format=%an", sha)
        assert fs.author_email == g("log", "-1", "--format=%ae", sha)

    @pytest.mark.parametrize("label", LABELS)
    def test_time_in_commit_offset(self, store, repo, g, label):
        fs = _snapshot(store, repo, label)
        sha = repo[1][label]
        t = fs.time
        assert isinstance(t, datetime)
        assert t.tzinfo is not None
        assert t.isoformat() == g("log", "-1", "--format=%cI", sha)
        assert t.timestamp() == int(g("log", "-1", "--format=%ct", sha))
        tz = g("log", "-1", "--format=%ci", sha).rsplit(" ", 1)[1]
        sign = -1 if tz[0] == "-" else 1
        expected = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
        assert t.utcoffset() == expected

    def test_time_is_committer_not_author_time(self, store, repo):
        fs = _snapshot(store, repo, "c4")
        assert fs.time.timestamp() == 1700010800
        assert fs.time.utcoffset() == timedelta(hours=1)

    def test_message_strips_only_newlines(self, fs):
        assert fs.message == "subject line  \r\n\nbody text \t"

    def test_author_not_committer(self, store, repo):
        fs = _snapshot(store, repo, "c1")
        assert fs.author_name == "Alice Example"
        assert fs.author_email == "alice@example.com"

    def test_non_ascii_author(self, fs):
        assert fs.author_name == "Zoë Ünicode"
        assert fs.author_email == "zoe@example.org"

    def test_changes_is_none_for_read_snapshots(self, fs, store):
        assert fs.changes is None
        assert store.tags["v2"].changes is None
        assert fs.parent.changes is None

    @pytest.mark.parametrize("attr", ["commit_hash", "tree_hash", "message", "ref_name",
                                      "writable", "time", "author_name", "author_email"])
    def test_properties_are_read_only(self, fs, attr):
        with pytest.raises(AttributeError):
            setattr(fs, attr, getattr(fs, attr))

    def test_identity_semantics(self, store):
        a = store.branches["main"]
        b = store.branches["main"]
        assert a == a
        assert a != b
        assert len({a, b}) == 2

    def test_tag_snapshot_properties(self, store, repo):
        t = store.tags["v2"]
        assert t.commit_hash == repo[1]["c4"]
        assert t.message == "edit a.txt"


class TestRepr:
    def test_branch(self, fs, g):
        assert repr(fs) == f"FS(ref_name='main', commit={g.rev('main')[:7]})"

    def test_tag(self, store, repo):
        assert repr(store.tags["v1"]) == f"FS(ref_name='v1', commit={repo[1]['c1'][:7]}, readonly)"
        assert repr(store.tags["v2"]) == f"FS(ref_name='v2', commit={repo[1]['c4'][:7]}, readonly)"

    def test_ancestors_inherit(self, fs, store, repo):
        assert repr(fs.parent) == f"FS(ref_name='main', commit={repo[1]['c5'][:7]})"
        assert repr(store.tags["v2"].parent) == \
            f"FS(ref_name='v2', commit={repo[1]['c3'][:7]}, readonly)"

    def test_detached(self, store, repo):
        sha = repo[1]["c2"]
        fs = FS(store, sha.encode())
        assert fs.ref_name is None
        assert fs.writable is False
        assert fs.commit_hash == sha
        assert repr(fs) == f"FS(commit={sha[:7]}, readonly)"


# ---------------------------------------------------------------------------
# exists / is_dir / file_type / size / object_hash
# ---------------------------------------------------------------------------

class TestExists:
    @pytest.mark.parametrize("path", ["a.txt", "dir", "dir/sub", "dir/sub/deep.txt", "link",
                                      "dirlink", "run.sh", "tool", "odd/.dot", "odd/sp ace.txt",
                                      "odd/co:lon.txt", "odd/back\\slash.txt", "odd/ünï文件.txt",
                                      "/a.txt", "dir/", "//dir/sub//"])
    def test_existing(self, fs, path):
        assert fs.exists(path) is True

    @pytest.mark.parametrize("path", ["nope", "dir/nope", "a.txt/x", "a.txt/x/y",
                                      "dirlink/deep.txt", "link/x", "DIR", "A.txt",
                                      "dir/x.txt"])
    def test_missing(self, fs, path):
        assert fs.exists(path) is False

    def test_removed_path_exists_in_older_snapshot(self, store, repo):
        assert _snapshot(store, repo, "c4").exists("dir/x.txt") is True
        assert _snapshot(store, repo, "c1").exists("dir") is False


class TestIsDir:
    @pytest.mark.parametrize("path,expected", [
        ("dir", True), ("dir/sub", True), ("notes", True), ("odd/", True), ("/dir/sub/", True),
        ("a.txt", False), ("dir/sub/deep.txt", False), ("run.sh", False),
        ("dirlink", False),  # a symlink to a directory is not a directory
        ("nope", False), ("a.txt/x", False), ("dirlink/deep.txt", False),
    ])
    def test_is_dir(self, fs, path, expected):
        assert fs.is_dir(path) is expected


class TestFileType:
    @pytest.mark.parametrize("path,expected", [
        ("a.txt", FileType.BLOB), ("empty.txt", FileType.BLOB), ("run.sh", FileType.BLOB),
        ("tool", FileType.EXECUTABLE), ("link", FileType.LINK), ("dirlink", FileType.LINK),
        ("dir", FileType.TREE), ("dir/sub", FileType.TREE), ("dir/sub/deep.txt", FileType.BLOB),
    ])
    def test_types(self, fs, path, expected):
        assert fs.file_type(path) is expected

    def test_executable_in_older_commit(self, store, repo):
        assert _snapshot(store, repo, "c2").file_type("run.sh") is FileType.EXECUTABLE
        assert _snapshot(store, repo, "c3").file_type("run.sh") is FileType.BLOB

    def test_matches_git_modes(self, fs, g):
        for mode, _typ, _oid, name in g.ls_tree("main"):
            assert fs.file_type(name).filemode == int(mode, 8)


class TestSize:
    @pytest.mark.parametrize("path", ["a.txt", "bin.dat", "empty.txt", "run.sh", "tool",
                                      "dir/sub/deep.txt", "latin1.txt", "odd/ünï文件.txt"])
    def test_blob_size_matches_git(self, fs, g, path):
        assert fs.size(path) == g.cat_size(f"main:{path}")
        assert fs.size(path) == len(fs.read(path))

    def test_symlink_size_is_target_length(self, fs):
        assert fs.size("link") == len("a.txt")
        assert fs.size("dirlink") == len("dir/sub")

    @pytest.mark.parametrize("path", ["dir", "dir/sub", "odd", "notes"])
    def test_tree_size_is_serialized_length(self, fs, g, path):
        assert fs.size(path) == g.cat_size(f"main:{path}")

    def test_tree_size_by_hand(self, fs):
        # dir/sub holds exactly "100644 deep.txt\0" + 20 raw bytes
        assert fs.size("dir/sub") == len(b"100644 deep.txt\0") + 20
        assert fs.size("dir/sub") == 36

    def test_size_is_int(self, fs):
        assert type(fs.size("bin.dat")) is int
        assert fs.size("bin.dat") == len(BIN_DATA)


class TestObjectHash:
    def test_blobs_and_trees_match_git(self, fs, g):
        for _mode, _typ, oid, name in g.ls_tree("main"):
            assert fs.object_hash(name) == oid
        assert fs.object_hash("dir/sub") == g.rev("main:dir/sub")
        assert fs.object_hash("dir/sub/deep.txt") == g.rev("main:dir/sub/deep.txt")

    def test_same_content_same_hash(self, store, repo, g):
        head = store.branches["main"]
        old = _snapshot(store, repo, "c2")
        # run.sh changed mode only: same blob
        assert head.object_hash("run.sh") == old.object_hash("run.sh")
        assert head.object_hash("a.txt") != old.object_hash("a.txt")
        assert head.object_hash("link") == g("hash-object", "--stdin", input=b"a.txt")
        assert head.object_hash("dir/sub") == old.object_hash("dir/sub")
        assert head.object_hash("dir") != old.object_hash("dir")

    def test_hash_is_lowercase_hex(self, fs):
        h = fs.object_hash("a.txt")
        assert len(h) == 40 and h == h.lower() and int(h, 16) >= 0


# ---------------------------------------------------------------------------
# stat
# ---------------------------------------------------------------------------

class TestStat:
    @pytest.mark.parametrize("args", [(None,), ("",), ("/",), ("//",), ()],
                             ids=["None", "empty", "slash", "two-slashes", "no-argument"])
    def test_root(self, fs, g, args):
        mtime = float(g("log", "-1", "--format=%ct", "main"))
        subdirs = sum(1 for m, *_ in g.ls_tree("main") if m == "040000")
        expected = StatResult(mode=0o040000, file_type=FileType.TREE, size=0,
                              hash=g.rev("main^{tree}"), nlink=2 + subdirs, mtime=mtime)
        assert subdirs == 3
        assert fs.stat(*args) == expected

    def test_file(self, fs, g):
        mtime = float(g("log", "-1", "--format=%ct", "main"))
        st = fs.stat("a.txt")
        assert st == StatResult(mode=0o100644, file_type=FileType.BLOB, size=12,
                                hash=g.rev("main:a.txt"), nlink=1, mtime=mtime)
        assert type(st.mtime) is float
        assert type(st.size) is int

    def test_executable_and_symlink(self, fs, g):
        st = fs.stat("tool")
        assert (st.mode, st.file_type, st.size, st.nlink) == (0o100755, FileType.EXECUTABLE, 10, 1)
        st = fs.stat("link")
        assert (st.mode, st.file_type, st.size, st.nlink) == (0o120000, FileType.LINK, 5, 1)
        assert st.hash == g.rev("main:link")

    def test_directories(self, fs, g):
        st = fs.stat("dir")
        assert (st.mode, st.file_type, st.size, st.nlink) == (0o040000, FileType.TREE, 0, 3)
        assert st.hash == g.rev("main:dir")
        assert fs.stat("dir/sub").nlink == 2
        assert fs.stat("/dir/sub/").hash == g.rev("main:dir/sub")

    def test_mtime_is_the_commit_time_everywhere(self, store, repo, g):
        fs = _snapshot(store, repo, "c2")
        expected = float(g("log", "-1", "--format=%ct", repo[1]["c2"]))
        for p in [None, "a.txt", "dir", "dir/sub/deep.txt", "link", "run.sh"]:
            assert fs.stat(p).mtime == expected

    def test_stat_agrees_with_other_queries(self, fs):
        for p in ["a.txt", "bin.dat", "link", "tool", "odd/sp ace.txt"]:
            st = fs.stat(p)
            assert st.size == fs.size(p)
            assert st.hash == fs.object_hash(p)
            assert st.file_type == fs.file_type(p)

    def test_stat_result_is_frozen(self, fs):
        st = fs.stat("a.txt")
        with pytest.raises(dataclasses.FrozenInstanceError):
            st.size = 3
        assert hash(st) == hash(fs.stat("a.txt"))


# ---------------------------------------------------------------------------
# read / read_text / read_by_hash / readlink
# ---------------------------------------------------------------------------

def _all_files(g, rev="main"):
    out = g.raw("ls-tree", "-r", "-z", rev)
    for item in out.split(b"\0"):
        if item:
            meta, name = item.split(b"\t", 1)
            yield meta.decode().split(" ")[2], name.decode()


class TestRead:
    def test_every_file_matches_git(self, fs, g):
        files = list(_all_files(g))
        assert len(files) >= 15
        for oid, name in files:
            assert fs.read(name) == g.raw("cat-file", "blob", oid), name

    def test_return_type(self, fs):
        assert type(fs.read("a.txt")) is bytes

    def test_binary_and_empty(self, fs):
        assert fs.read("bin.dat") == BIN_DATA
        assert fs.read("empty.txt") == b""

    def test_symlink_returns_target(self, fs):
        assert fs.read("link") == b"a.txt"
        assert fs.read("dirlink") == b"dir/sub"

    def test_older_snapshot(self, store, repo):
        assert _snapshot(store, repo, "c1").read("a.txt") == b"hello\n"
        assert store.tags["v1"].read("a.txt") == b"hello\n"
        assert store.tags["v2"].read("a.txt") == b"hello world\n"
        assert _snapshot(store, repo, "c4").read("dir/x.txt") == b"x\n"

    @pytest.mark.parametrize("offset,size", [
        (0, None), (0, 0), (0, 1), (1, 3), (100, 50), (1023, None), (1023, 1), (1023, 10),
        (1024, None), (1024, 5), (5000, None), (0, 5000), (512, 0), (None, 7),
    ])
    def test_offset_and_size(self, fs, offset, size):
        kw = {}
        if offset is not None:
            kw["offset"] = offset
        if size is not None:
            kw["size"] = size
        start = offset or 0
        end = None if size is None else start + size
        assert fs.read("bin.dat", **kw) == BIN_DATA[start:end]

    def test_explicit_defaults(self, fs):
        assert fs.read("bin.dat", offset=0, size=None) == BIN_DATA
        assert fs.read("bin.dat", size=None) == BIN_DATA

    def test_offset_on_symlink_and_empty(self, fs):
        assert fs.read("link", offset=2) == b"txt"
        assert fs.read("link", offset=1, size=2) == b".t"
        assert fs.read("empty.txt", offset=3, size=2) == b""

    @pytest.mark.parametrize("kw", [{"offset": -1}, {"size": -1}, {"offset": -5, "size": 2},
                                    {"offset": 2, "size": -2}])
    def test_negative_values_rejected(self, fs, kw):
        with pytest.raises(ValueError):
            fs.read("bin.dat", **kw)

    def test_offset_and_size_are_keyword_only(self, fs):
        with pytest.raises(TypeError):
            fs.read("bin.dat", 1, 2)

    def test_directory(self, fs):
        with pytest.raises(IsADirectoryError) as ei:
            fs.read("/dir/sub/")
        assert type(ei.value) is IsADirectoryError
        assert ei.value.args == ("dir/sub",)

    def test_directory_with_range(self, fs):
        with pytest.raises(IsADirectoryError):
            fs.read("dir", offset=1, size=1)

    def test_leading_and_trailing_slashes(self, fs):
        assert fs.read("/a.txt") == fs.read("a.txt/") == fs.read("//a.txt//") == b"hello world\n"

    def test_names_with_special_characters(self, fs):
        assert fs.read("odd/sp ace.txt") == b"space\n"
        assert fs.read("odd/co:lon.txt") == b"colon\n"
        assert fs.read("odd/back\\slash.txt") == b"backslash\n"
        assert fs.read("odd/.dot") == b"dot\n"
        assert fs.read("odd/ünï文件.txt") == "unicode\n".encode()


class TestReadText:
    def test_default_utf8(self, fs):
        assert fs.read_text("a.txt") == "hello world\n"
        assert fs.read_text("odd/ünï文件.txt") == "unicode\n"
        assert type(fs.read_text("a.txt")) is str

    def test_encoding_argument(self, fs):
        assert fs.read_text("latin1.txt", encoding="latin-1") == "café\n"
        assert fs.read_text("latin1.txt", "latin-1") == "café\n"

    def test_strict_decoding(self, fs):
        with pytest.raises(UnicodeDecodeError):
            fs.read_text("latin1.txt")

    def test_symlink_and_empty(self, fs):
        assert fs.read_text("link") == "a.txt"
        assert fs.read_text("empty.txt") == ""

    def test_errors(self, fs):
        with pytest.raises(IsADirectoryError):
            fs.read_text("dir")
        with pytest.raises(FileNotFoundError):
            fs.read_text("nope")


class TestReadByHash:
    def test_str_and_bytes_ids(self, fs, g):
        oid = g.rev("main:bin.dat")
        assert fs.read_by_hash(oid) == BIN_DATA
        assert fs.read_by_hash(oid.encode()) == BIN_DATA
        assert fs.read_by_hash(fs.object_hash("a.txt")) == fs.read("a.txt")

    def test_blob_id_from_listdir(self, fs):
        for e in fs.listdir("odd"):
            assert fs.read_by_hash(e.oid) == fs.read(f"odd/{e.name}")

    def test_ranges(self, fs, g):
        oid = g.rev("main:bin.dat")
        assert fs.read_by_hash(oid, offset=10, size=5) == BIN_DATA[10:15]
        assert fs.read_by_hash(oid, offset=1000) == BIN_DATA[1000:]
        assert fs.read_by_hash(oid, size=3) == BIN_DATA[:3]
        assert fs.read_by_hash(oid, offset=4096) == b""
        assert fs.read_by_hash(oid, size=0) == b""

    def test_negative_range_rejected(self, fs, g):
        oid = g.rev("main:bin.dat")
        with pytest.raises(ValueError):
            fs.read_by_hash(oid, offset=-1)
        with pytest.raises(ValueError):
            fs.read_by_hash(oid, size=-1)

    def test_blob_not_reachable_from_snapshot(self, store, repo, g):
        old = store.tags["v1"]
        new_blob = g.rev("main:bin.dat")
        assert old.read_by_hash(new_blob) == BIN_DATA
        assert old.read_by_hash(repo[1]["orphan"]) == b"orphan blob\n"

    def test_symlink_blob(self, fs, g):
        assert fs.read_by_hash(g.rev("main:link")) == b"a.txt"

    def test_unknown_id(self, fs):
        with pytest.raises(KeyError):
            fs.read_by_hash("1" * 40)
        with pytest.raises(KeyError):
            fs.read_by_hash(b"2" * 40)

    @pytest.mark.parametrize("kind", ["tree", "commit", "tag"])
    def test_non_blob_ids(self, fs, g, repo, kind):
        oid = {"tree": g.rev("main^{tree}"), "commit": repo[1]["c6"],
               "tag": g.rev("refs/tags/v2")}[kind]
        assert g.cat_type(oid) == kind
        with pytest.raises(ValueError):
            fs.read_by_hash(oid)

    @pytest.mark.parametrize("bad", ["", "abc", "a" * 39, "a" * 41, "g" * 40, "zz" * 20,
                                     " " + "a" * 39, b"abc", b"\xff" * 40, "a" * 20])
    def test_malformed_ids(self, fs, bad):
        with pytest.raises(ValueError):
            fs.read_by_hash(bad)


class TestReadlink:
    def test_targets(self, fs):
        assert fs.readlink("link") == "a.txt"
        assert fs.readlink("/dirlink/") == "dir/sub"
        assert type(fs.readlink("link")) is str

    @pytest.mark.parametrize("path,p", [("a.txt", "a.txt"), ("tool", "tool"), ("dir", "dir"),
                                        ("/dir/sub/", "dir/sub"), ("empty.txt", "empty.txt")])
    def test_not_a_symlink(self, fs, path, p):
        with pytest.raises(ValueError) as ei:
            fs.readlink(path)
        assert str(ei.value) == f"Not a symlink: {p}"

    def test_missing(self, fs):
        with pytest.raises(FileNotFoundError) as ei:
            fs.readlink("nope/x")
        assert ei.value.args == ("nope/x",)


# ---------------------------------------------------------------------------
# The walk-style vs entry-style error table
# ---------------------------------------------------------------------------

WALK_READERS = {
    "read": lambda fs, p: fs.read(p),
    "read_range": lambda fs, p: fs.read(p, offset=1, size=1),
    "read_text": lambda fs, p: fs.read_text(p),
    "ls": lambda fs, p: fs.ls(p),
    "listdir": lambda fs, p: fs.listdir(p),
    "walk": lambda fs, p: list(fs.walk(p)),
}
ENTRY_READERS = {
    "file_type": lambda fs, p: fs.file_type(p),
    "size": lambda fs, p: fs.size(p),
    "object_hash": lambda fs, p: fs.object_hash(p),
    "stat": lambda fs, p: fs.stat(p),
    "readlink": lambda fs, p: fs.readlink(p),
}

# (given path, normalised path, walk-style error, walk-style message)
MISSING = [
    ("nope", "nope"),
    ("nope/deeper", "nope/deeper"),
    ("/dir/nope/", "dir/nope"),
    ("dir/sub/nope.txt", "dir/sub/nope.txt"),
    ("A.txt", "A.txt"),
]
THROUGH_FILE = [
    ("a.txt/x", "a.txt/x", "a.txt"),
    ("a.txt/x/y", "a.txt/x/y", "a.txt"),
    ("/a.txt/x/", "a.txt/x", "a.txt"),
    ("dir/sub/deep.txt/z", "dir/sub/deep.txt/z", "dir/sub/deep.txt"),
    ("dirlink/deep.txt", "dirlink/deep.txt", "dirlink"),   # symlinks are not followed
    ("link/x/y/z", "link/x/y/z", "link"),
    ("tool/x", "tool/x", "tool"),
]


class TestErrorTable:
    @pytest.mark.parametrize("method", sorted(WALK_READERS))
    @pytest.mark.parametrize("given,p", MISSING)
    def test_walk_style_missing(self, fs, method, given, p):
        with pytest.raises(FileNotFoundError) as ei:
            WALK_READERS[method](fs, given)
        assert type(ei.value) is FileNotFoundError
        assert ei.value.args == (p,)
        assert str(ei.value) == p

    @pytest.mark.parametrize("method", sorted(WALK_READERS))
    @pytest.mark.parametrize("given,p,prefix", THROUGH_FILE)
    def test_walk_style_through_file(self, fs, method, given, p, prefix):
        with pytest.raises(NotADirectoryError) as ei:
            WALK_READERS[method](fs, given)
        assert type(ei.value) is NotADirectoryError
        assert ei.value.args == (prefix,)
        assert str(ei.value) == prefix

    @pytest.mark.parametrize("method", sorted(ENTRY_READERS))
    @pytest.mark.parametrize("given,p", MISSING)
    def test_entry_style_missing(self, fs, method, given, p):
        with pytest.raises(FileNotFoundError) as ei:
            ENTRY_READERS[method](fs, given)
        assert type(ei.value) is FileNotFoundError
        assert ei.value.args == (p,)
        assert str(ei.value) == p

    @pytest.mark.parametrize("method", sorted(ENTRY_READERS))
    @pytest.mark.parametrize("given,p,prefix", THROUGH_FILE)
    def test_entry_style_through_file_is_missing(self, fs, method, given, p, prefix):
        with pytest.raises(FileNotFoundError) as ei:
            ENTRY_READERS[method](fs, given)
        assert type(ei.value) is FileNotFoundError
        assert ei.value.args == (p,)

    @pytest.mark.parametrize("given", [m[0] for m in MISSING] + [t[0] for t in THROUGH_FILE])
    def test_exists_and_is_dir_never_raise(self, fs, given):
        assert fs.exists(given) is False
        assert fs.is_dir(given) is False

    @pytest.mark.parametrize("method", ["ls", "listdir", "walk"])
    @pytest.mark.parametrize("given,p", [("a.txt", "a.txt"), ("/dir/sub/deep.txt/", "dir/sub/deep.txt"),
                                         ("link", "link"), ("dirlink", "dirlink")])
    def test_listing_a_file(self, fs, method, given, p):
        with pytest.raises(NotADirectoryError) as ei:
            WALK_READERS[method](fs, given)
        assert ei.value.args == (p,)

    def test_errors_are_not_oserror_with_errno(self, fs):
        with pytest.raises(FileNotFoundError) as ei:
            fs.read("nope")
        assert ei.value.errno is None
        assert ei.value.filename is None


# ---------------------------------------------------------------------------
# Path arguments
# ---------------------------------------------------------------------------

PATH_METHODS = {
    "read": lambda fs, p: fs.read(p),
    "read_text": lambda fs, p: fs.read_text(p),
    "exists": lambda fs, p: fs.exists(p),
    "is_dir": lambda fs, p: fs.is_dir(p),
    "file_type": lambda fs, p: fs.file_type(p),
    "size": lambda fs, p: fs.size(p),
    "object_hash": lambda fs, p: fs.object_hash(p),
    "readlink": lambda fs, p: fs.readlink(p),
    "log": lambda fs, p: list(fs.log(path=p)),
}
ROOT_OK_METHODS = {
    "ls": lambda fs, p: fs.ls(p),
    "listdir": lambda fs, p: fs.listdir(p),
    "walk": lambda fs, p: list(fs.walk(p)),
    "stat": lambda fs, p: fs.stat(p),
}
ALL_METHODS = {**PATH_METHODS, **ROOT_OK_METHODS}


class TestPathNormalisation:
    @pytest.mark.parametrize("method", sorted(PATH_METHODS))
    @pytest.mark.parametrize("root", ["", "/", "//", "///"])
    def test_root_forms_rejected(self, fs, method, root):
        with pytest.raises(ValueError) as ei:
            PATH_METHODS[method](fs, root)
        assert str(ei.value) == "Path must not be empty"

    @pytest.mark.parametrize("method", sorted(ROOT_OK_METHODS))
    def test_root_forms_accepted(self, fs, method):
        results = [ROOT_OK_METHODS[method](fs, r) for r in ("", "/", "//")]
        assert results[0] == results[1] == results[2]

    @pytest.mark.parametrize("method", sorted(ALL_METHODS))
    @pytest.mark.parametrize("given,msg", [
        ("a//b", "Empty segment in path: 'a//b'"),
        ("/dir//sub/", "Empty segment in path: 'dir//sub'"),
        ("dir///sub/deep.txt", "Empty segment in path: 'dir///sub/deep.txt'"),
        ("./a.txt", "Invalid path segment: '.'"),
        ("dir/./sub", "Invalid path segment: '.'"),
        ("dir/../a.txt", "Invalid path segment: '..'"),
        ("dir/sub/..", "Invalid path segment: '..'"),
        ("..", "Invalid path segment: '..'"),
        ("/./", "Invalid path segment: '.'"),
    ])
    def test_bad_segments(self, fs, method, given, msg):
        with pytest.raises(ValueError) as ei:
            ALL_METHODS[method](fs, given)
        assert str(ei.value) == msg

    def test_dots_inside_names_are_fine(self, fs):
        assert fs.exists("odd/.dot")
        assert not fs.exists("odd/...")
        assert not fs.exists("a.txt.")


class TestPathTypes:
    @pytest.mark.parametrize("make", [pathlib.PurePosixPath, pathlib.Path, P],
                             ids=["PurePosixPath", "Path", "custom"])
    def test_pathlike_accepted_everywhere(self, fs, make):
        assert fs.read(make("dir/sub/deep.txt")) == b"deep\n"
        assert fs.read(make("dir/sub/deep.txt"), offset=1, size=2) == b"ee"
        assert fs.read_text(make("a.txt")) == "hello world\n"
        assert fs.exists(make("dir/sub"))
        assert fs.is_dir(make("dir/sub"))
        assert fs.file_type(make("tool")) is FileType.EXECUTABLE
        assert fs.size(make("a.txt")) == 12
        assert fs.object_hash(make("a.txt")) == fs.object_hash("a.txt")
        assert fs.stat(make("a.txt")) == fs.stat("a.txt")
        assert fs.readlink(make("link")) == "a.txt"
        assert fs.ls(make("dir")) == fs.ls("dir")
        assert fs.listdir(make("dir")) == fs.listdir("dir")
        assert list(fs.walk(make("dir"))) == list(fs.walk("dir"))
        assert [x.commit_hash for x in fs.log(path=make("a.txt"))] == \
            [x.commit_hash for x in fs.log(path="a.txt")]

    def test_pathlike_errors_use_normalised_string(self, fs):
        with pytest.raises(FileNotFoundError) as ei:
            fs.read(pathlib.PurePosixPath("/dir/nope"))
        assert ei.value.args == ("dir/nope",)

    @pytest.mark.parametrize("method", sorted(ALL_METHODS))
    @pytest.mark.parametrize("bad", [b"a.txt", P(b"a.txt"), 42, 1.5, ["a.txt"], object()],
                             ids=["bytes", "bytes-pathlike", "int", "float", "list", "object"])
    def test_non_str_paths_rejected(self, fs, method, bad):
        with pytest.raises(TypeError):
            ALL_METHODS[method](fs, bad)

    @pytest.mark.parametrize("method", sorted(m for m in PATH_METHODS if m != "log"))
    def test_none_where_a_path_is_required(self, fs, method):
        with pytest.raises(TypeError):
            PATH_METHODS[method](fs, None)

    def test_none_means_root_for_listings(self, fs):
        assert fs.ls(None) == fs.ls()
        assert fs.listdir(None) == fs.listdir()
        assert list(fs.walk(None)) == list(fs.walk())
        assert fs.stat(None) == fs.stat()


# ---------------------------------------------------------------------------
# close()
# ---------------------------------------------------------------------------

class TestClose:
    def test_close_twice_then_keep_working(self, store):
        fs = store.branches["main"]
        assert fs.size("bin.dat") == 1024
        assert fs.close() is None
        assert fs.close() is None
        assert fs.size("bin.dat") == 1024
        assert fs.stat("a.txt").size == 12
        assert fs.read("a.txt") == b"hello world\n"
        fs.close()
        assert fs.read_by_hash(fs.object_hash("bin.dat")) == BIN_DATA

    def test_close_unused_snapshot(self, store):
        fs = store.tags["v1"]
        fs.close()
        assert fs.read("a.txt") == b"hello\n"

    def test_close_one_snapshot_leaves_others_alone(self, store):
        a = store.branches["main"]
        b = store.branches["main"]
        a.size("a.txt")
        b.size("a.txt")
        a.close()
        assert b.size("bin.dat") == 1024


# ---------------------------------------------------------------------------
# parent / back
# ---------------------------------------------------------------------------

class TestParentAndBack:
    def test_parent_chain_is_first_parent_history(self, fs, g):
        chain = g.first_parent_chain("main")
        seen = []
        cur = fs
        while cur is not None:
            seen.append(cur.commit_hash)
            cur = cur.parent
        assert seen == chain
        assert len(chain) == 6

    def test_merge_parent_is_first_parent(self, fs, g, repo):
        assert fs.parent.commit_hash == g.rev("main^1") == repo[1]["c5"]

    def test_root_commit_has_no_parent(self, store, repo):
        assert _snapshot(store, repo, "c1").parent is None

    def test_parent_is_a_new_object_each_time(self, fs):
        assert fs.parent is not fs.parent
        assert fs.parent.commit_hash == fs.parent.commit_hash

    def test_parent_inherits_ref_and_writable(self, store):
        b = store.branches["main"].parent
        assert (b.ref_name, b.writable) == ("main", True)
        t = store.tags["v2"].parent
        assert (t.ref_name, t.writable) == ("v2", False)

    def test_back(self, fs, g):
        chain = g.first_parent_chain("main")
        assert fs.back(0) is fs
        assert fs.back().commit_hash == chain[1]
        for n in range(len(chain)):
            assert fs.back(n).commit_hash == chain[n]
        assert fs.back(3).ref_name == "main"

    def test_back_negative(self, fs):
        with pytest.raises(ValueError) as ei:
            fs.back(-1)
        assert str(ei.value) == "back() requires n >= 0, got -1"

    def test_back_too_far(self, fs):
        with pytest.raises(ValueError) as ei:
            fs.back(6)
        assert str(ei.value) == "Cannot go back 6 commits \u2014 history too short"
        with pytest.raises(ValueError) as ei:
            fs.back(100)
        assert str(ei.value) == "Cannot go back 100 commits \u2014 history too short"


# ---------------------------------------------------------------------------
# log
# ---------------------------------------------------------------------------

def _hashes(it):
    return [x.commit_hash for x in it]


def _git_path_log(g, rev, path):
    """First-parent commits whose entry (oid, mode) at path differs from the
    first parent's (git ls-tree as the oracle)."""
    chain = g.first_parent_chain(rev)
    out = []
    for i, c in enumerate(chain):
        mine = g.entry(c, path)
        parent = g.entry(chain[i + 1], path) if i + 1 < len(chain) else None
        if mine != parent:
            out.append(c)
    return out


class TestLog:
    def test_is_an_iterator(self, fs):
        it = fs.log()
        assert iter(it) is it

    def test_yields_self_first(self, fs):
        it = fs.log()
        assert next(it) is fs

    def test_whole_first_parent_history(self, fs, g):
        assert _hashes(fs.log()) == g.first_parent_chain("main")

    def test_yielded_snapshots_inherit(self, store):
        for x in store.branches["main"].log():
            assert (x.ref_name, x.writable) == ("main", True)
        for x in store.tags["v2"].log():
            assert (x.ref_name, x.writable) == ("v2", False)

    def test_log_of_tag(self, store, g):
        assert _hashes(store.tags["v2"].log()) == g.first_parent_chain("refs/tags/v2")

    @pytest.mark.parametrize("path", ["a.txt", "run.sh", "dir", "dir/x.txt", "dir/sub",
                                      "dir/sub/deep.txt", "side.txt", "link", "README.md",
                                      "odd", "nope", "a.txt/x"])
    def test_path_filter_matches_git(self, fs, g, path):
        assert _hashes(fs.log(path=path)) == _git_path_log(g, "main", path)

    def test_path_filter_expected_commits(self, fs, repo):
        s = repo[1]
        assert _hashes(fs.log(path="a.txt")) == [s["c4"], s["c1"]]
        assert _hashes(fs.log(path="run.sh")) == [s["c3"], s["c2"]]   # c3: mode only
        assert _hashes(fs.log(path="dir/x.txt")) == [s["c5"], s["c2"]]  # removed, added
        assert _hashes(fs.log(path="dir")) == [s["c5"], s["c2"]]
        assert _hashes(fs.log(path="side.txt")) == [s["c6"]]
        assert _hashes(fs.log(path="nope")) == []

    def test_path_is_normalised(self, fs):
        assert _hashes(fs.log(path="/a.txt/")) == _hashes(fs.log(path="a.txt"))

    def test_path_filter_yields_self_when_it_changed(self, store):
        fs = store.branches["main"]
        assert next(fs.log(path="side.txt")) is fs

    @pytest.mark.parametrize("pattern,labels", [
        ("edit*", ["c4"]),
        ("*", ["c6", "c5", "c4", "c3", "c2", "c1"]),
        ("?emove x", ["c5"]),
        ("[ae]*", ["c4", "c2"]),
        ("subject*body*", ["c6"]),   # '*' spans the newline
        ("EDIT*", []),              # case-sensitive
        ("edit", []),               # whole-message match
        ("*a.txt", ["c4"]),
        ("*i*", ["c6", "c4", "c1"]),
    ])
    def test_match(self, fs, repo, pattern, labels):
        assert _hashes(fs.log(match=pattern)) == [repo[1][lab] for lab in labels]

    def test_before_aware(self, fs, repo):
        s = repo[1]
        c4_time = datetime.fromtimestamp(1700010800, tz=timezone(timedelta(hours=-7)))
        assert _hashes(fs.log(before=c4_time)) == [s["c4"], s["c3"], s["c2"], s["c1"]]
        assert _hashes(fs.log(before=c4_time - timedelta(seconds=1))) == \
            [s["c3"], s["c2"], s["c1"]]
        early = datetime(2000, 1, 1, tzinfo=timezone.utc)
        assert _hashes(fs.log(before=early)) == []
        late = datetime(2100, 1, 1, tzinfo=timezone.utc)
        assert _hashes(fs.log(before=late)) == _hashes(fs.log())

    def test_before_naive_is_utc(self, fs, repo, monkeypatch):
        # Make local time differ from UTC, so treating the naive value as
        # local time would give another answer.
        monkeypatch.setenv("TZ", "XXX+07")
        _time.tzset()
        try:
            s = repo[1]
            naive = datetime(2023, 11, 15, 0, 13, 20)  # == c3, 1700007200 UTC
            assert naive.replace(tzinfo=timezone.utc).timestamp() == 1700007200
            assert _hashes(fs.log(before=naive)) == [s["c3"], s["c2"], s["c1"]]
            assert _hashes(fs.log(before=naive - timedelta(seconds=1))) == [s["c2"], s["c1"]]
        finally:
            monkeypatch.undo()
            _time.tzset()

    def test_filters_combine(self, fs, repo):
        s = repo[1]
        assert _hashes(fs.log(path="a.txt", match="initial*")) == [s["c1"]]
        assert _hashes(fs.log(path="run.sh", match="add*")) == [s["c2"]]
        c3_time = datetime.fromtimestamp(1700007200, tz=timezone.utc)
        assert _hashes(fs.log(path="a.txt", before=c3_time)) == [s["c1"]]
        assert _hashes(fs.log(path="dir", match="*x", before=c3_time)) == []

    def test_before_stops_checking_after_first_pass(self, tmp_path):
        # Times go 3000 (root), 1000, 2000 (tip): once one commit passed the
        # cutoff, older ones are not time-checked again.
        path = tmp_path / "t.git"
        shas = build_repo(path, [
            Commit({"f": b"1"}, time=3000, label="a"),
            Commit({"f": b"2"}, time=1000, label="b"),
            Commit({"f": b"3"}, time=2000, label="c"),
        ])
        fs = GitStore.open(path, create=False).branches["main"]
        cutoff = datetime.fromtimestamp(1500, tz=timezone.utc)
        assert _hashes(fs.log(before=cutoff)) == [shas["b"], shas["a"]]

    def test_root_path_rejected(self, fs):
        for bad in ("", "/"):
            with pytest.raises(ValueError):
                list(fs.log(path=bad))

    def test_log_does_not_include_second_parent_history(self, fs, repo):
        assert repo[1]["s1"] not in _hashes(fs.log())
