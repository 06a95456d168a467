"""Tests for the pure-Python value types in gitstore._types."""

import copy
import dataclasses
import enum
import pickle
from pathlib import Path

import pytest

from gitstore._types import (
    GIT_FILEMODE_BLOB,
    GIT_FILEMODE_BLOB_EXECUTABLE,
    GIT_FILEMODE_LINK,
    GIT_FILEMODE_TREE,
    GIT_OBJECT_TREE,
    BlobOid,
    ChangeAction,
    ChangeActionKind,
    ChangeError,
    ChangeReport,
    FileEntry,
    FileType,
    MirrorDiff,
    RefChange,
    ReflogEntry,
    Signature,
    StatResult,
    WalkEntry,
    WriteEntry,
    format_commit_message,
)

HEX = "32f95c0d1244a78b2be1bab8de17906fabb2c4a8"
HEXB = HEX.encode()
ZERO = "0" * 40


def field_names(cls):
    return tuple(f.name for f in dataclasses.fields(cls))


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


def test_filemode_constants():
    assert GIT_FILEMODE_TREE == 0o040000 == 16384
    assert GIT_FILEMODE_BLOB == 0o100644 == 33188
    assert GIT_FILEMODE_BLOB_EXECUTABLE == 0o100755 == 33261
    assert GIT_FILEMODE_LINK == 0o120000 == 40960
    assert GIT_OBJECT_TREE == 2


# ---------------------------------------------------------------------------
# FileType
# ---------------------------------------------------------------------------

FILETYPE_TABLE = [
    (FileType.BLOB, "blob", 0o100644),
    (FileType.EXECUTABLE, "executable", 0o100755),
    (FileType.LINK, "link", 0o120000),
    (FileType.TREE, "tree", 0o040000),
]


class TestFileType:
    def test_is_str_enum(self):
        assert issubclass(FileType, enum.Enum)
        assert issubclass(FileType, str)
        assert isinstance(FileType.BLOB, str)

    def test_members_in_order(self):
        assert list(FileType) == [FileType.BLOB, FileType.EXECUTABLE, FileType.LINK, FileType.TREE]
        assert [m.name for m in FileType] == ["BLOB", "EXECUTABLE", "LINK", "TREE"]

    @pytest.mark.parametrize("member,value,mode", FILETYPE_TABLE)
    def test_value_lookup_and_equality(self, member, value, mode):
        assert member.value == value
        assert FileType(value) is member
        assert member == value
        assert value == member
        assert hash(member) == hash(value)
        assert {value: 1}[member] == 1

    @pytest.mark.parametrize("member,value,mode", FILETYPE_TABLE)
    def test_str_and_format_give_value(self, member, value, mode):
        assert str(member) == value
        assert f"{member}" == value
        assert "{}".format(member) == value
        assert format(member, ">12") == value.rjust(12)
        assert f"[{member:^12}]" == f"[{value:^12}]"

    def test_repr_is_enum_default(self):
        assert repr(FileType.BLOB) == "<FileType.BLOB: 'blob'>"
        assert repr(FileType.EXECUTABLE) == "<FileType.EXECUTABLE: 'executable'>"

    def test_unknown_value_raises_value_error(self):
        with pytest.raises(ValueError):
            FileType("file")
        with pytest.raises(ValueError):
            FileType("BLOB")

    @pytest.mark.parametrize("member,value,mode", FILETYPE_TABLE)
    def test_filemode_property(self, member, value, mode):
        assert member.filemode == mode
        assert type(member.filemode) is int

    @pytest.mark.parametrize("member,value,mode", FILETYPE_TABLE)
    def test_from_filemode(self, member, value, mode):
        assert FileType.from_filemode(mode) is member

    @pytest.mark.parametrize("mode", [0o160000, 0o100600, 0o100664, 0, 0o644, -1, 33189])
    def test_from_filemode_unknown_raises_key_error_with_mode(self, mode):
        with pytest.raises(KeyError) as info:
            FileType.from_filemode(mode)
        assert info.value.args == (mode,)

    def test_from_filemode_does_not_accept_names(self):
        with pytest.raises(KeyError):
            FileType.from_filemode("blob")

    def test_filemode_read_only(self):
        with pytest.raises(AttributeError):
            FileType.BLOB.filemode = 1
        assert FileType.BLOB.filemode == 0o100644

    def test_round_trip(self):
        for member in FileType:
            assert FileType.from_filemode(member.filemode) is member


# ---------------------------------------------------------------------------
# StatResult
# ---------------------------------------------------------------------------


def make_stat(**overrides):
    values = dict(mode=33188, file_type=FileType.BLOB, size=6, hash=HEX, nlink=1, mtime=1795492793.0)
    values.update(overrides)
    return StatResult(**values)


class TestStatResult:
    def test_fields_in_order(self):
        assert field_names(StatResult) == ("mode", "file_type", "size", "hash", "nlink", "mtime")

    def test_field_types_introspectable(self):
        types = {f.name: f.type for f in dataclasses.fields(StatResult)}
        assert types["file_type"] is FileType
        assert types["mode"] is int
        assert types["mtime"] is float

    def test_positional_construction(self):
        st = StatResult(33188, FileType.BLOB, 6, HEX, 1, 1795492793.0)
        assert st == make_stat()
        assert st.size == 6 and st.hash == HEX and st.nlink == 1

    def test_repr(self):
        assert repr(make_stat()) == (
            "StatResult(mode=33188, file_type=<FileType.BLOB: 'blob'>, size=6, "
            f"hash='{HEX}', nlink=1, mtime=1795492793.0)"
        )

    def test_equality_and_hash(self):
        assert make_stat() == make_stat()
        assert hash(make_stat()) == hash(make_stat())
        assert make_stat() != make_stat(size=7)
        assert make_stat() != make_stat(mtime=1.0)
        assert len({make_stat(), make_stat(), make_stat(nlink=2)}) == 2

    def test_frozen(self):
        st = make_stat()
        with pytest.raises(dataclasses.FrozenInstanceError):
            st.size = 10
        with pytest.raises(AttributeError):
            st.mode = 0
        assert st.size == 6

    def test_slots(self):
        st = make_stat()
        assert hasattr(StatResult, "__slots__")
        assert not hasattr(st, "__dict__")
        with pytest.raises((AttributeError, TypeError)):
            st.extra = 1

    def test_pickle_and_copy(self):
        st = make_stat(file_type=FileType.TREE, mode=0o040000, size=0, nlink=3)
        assert pickle.loads(pickle.dumps(st)) == st
        assert copy.copy(st) == st
        assert dataclasses.replace(st, size=1).size == 1

    def test_asdict(self):
        assert dataclasses.asdict(make_stat())["file_type"] is FileType.BLOB


# ---------------------------------------------------------------------------
# WalkEntry
# ---------------------------------------------------------------------------


class TestWalkEntry:
    def test_fields(self):
        assert WalkEntry._fields == ("name", "oid", "mode")

    def test_is_tuple(self):
        e = WalkEntry("a.txt", HEXB, 33188)
        assert isinstance(e, tuple)
        assert len(e) == 3
        assert e == ("a.txt", HEXB, 33188)
        assert ("a.txt", HEXB, 33188) == e
        assert hash(e) == hash(("a.txt", HEXB, 33188))

    def test_unpacking_and_indexing(self):
        e = WalkEntry(name="a.txt", oid=HEXB, mode=33188)
        name, oid, mode = e
        assert (name, oid, mode) == ("a.txt", HEXB, 33188)
        assert e[0] == "a.txt" and e[1] == HEXB and e[2] == 33188 and e[-1] == 33188
        assert e.name == "a.txt" and e.oid == HEXB and e.mode == 33188

    def test_replace(self):
        e = WalkEntry("a.txt", HEXB, 33188)
        r = e._replace(mode=33261)
        assert isinstance(r, WalkEntry)
        assert r == ("a.txt", HEXB, 33261)
        assert e.mode == 33188
        assert r.file_type is FileType.EXECUTABLE

    def test_immutable(self):
        e = WalkEntry("a.txt", HEXB, 33188)
        with pytest.raises(AttributeError):
            e.name = "b"

    def test_repr(self):
        e = WalkEntry("a.txt", HEXB, 33188)
        assert repr(e) == f"WalkEntry(name='a.txt', oid=b'{HEX}', mode=33188)"

    @pytest.mark.parametrize("member,value,mode", FILETYPE_TABLE)
    def test_file_type(self, member, value, mode):
        assert WalkEntry("x", HEXB, mode).file_type is member

    def test_file_type_unknown_mode(self):
        with pytest.raises(KeyError) as info:
            WalkEntry("sub", HEXB, 0o160000).file_type
        assert info.value.args == (0o160000,)

    def test_file_type_not_a_field(self):
        e = WalkEntry("x", HEXB, 33188)
        assert "file_type" not in e._fields
        with pytest.raises(AttributeError):
            e.file_type = FileType.LINK

    def test_sorting_like_tuples(self):
        entries = [WalkEntry("b", HEXB, 33188), WalkEntry("a", HEXB, 33188)]
        assert [e.name for e in sorted(entries)] == ["a", "b"]


# ---------------------------------------------------------------------------
# BlobOid
# ---------------------------------------------------------------------------


class TestBlobOid:
    def test_is_bytes(self):
        oid = BlobOid(HEXB)
        assert isinstance(oid, bytes)
        assert type(oid) is BlobOid
        assert len(oid) == 40

    def test_no_instance_dict(self):
        assert BlobOid.__slots__ == ()
        oid = BlobOid(HEXB)
        assert not hasattr(oid, "__dict__")
        with pytest.raises(AttributeError):
            oid.note = "x"

    def test_equality_and_hash_like_bytes(self):
        oid = BlobOid(HEXB)
        assert oid == HEXB
        assert HEXB == oid
        assert hash(oid) == hash(HEXB)
        assert {HEXB: 1}[oid] == 1
        assert oid != HEX  # bytes never equal str

    def test_repr_like_bytes(self):
        assert repr(BlobOid(HEXB)) == repr(HEXB) == f"b'{HEX}'"

    def test_operations_return_plain_bytes(self):
        oid = BlobOid(HEXB)
        joined = oid + b"!"
        assert type(joined) is bytes
        assert joined == HEXB + b"!"
        sliced = oid[:8]
        assert type(sliced) is bytes
        assert sliced == HEXB[:8]
        assert type(oid * 2) is bytes
        assert type(oid.upper()) is bytes
        assert type(bytes(oid)) is bytes

    def test_marker_survives_only_on_the_object(self):
        oid = BlobOid(HEXB)
        assert isinstance(oid, BlobOid)
        assert not isinstance(oid + b"", BlobOid)
        assert not isinstance(HEXB, BlobOid)


# ---------------------------------------------------------------------------
# Signature, ReflogEntry, RefChange, MirrorDiff
# ---------------------------------------------------------------------------


class TestSignature:
    def test_is_dataclass_with_two_fields(self):
        assert dataclasses.is_dataclass(Signature)
        assert field_names(Signature) == ("name", "email")
        assert dataclasses.asdict(Signature("alice", "a@b.com")) == {"name": "alice", "email": "a@b.com"}

    def test_repr(self):
        assert repr(Signature("alice", "a@b.com")) == "Signature(name='alice', email='a@b.com')"
        assert repr(Signature(name="alice", email="a@b.com")) == "Signature(name='alice', email='a@b.com')"

    def test_equality(self):
        assert Signature("alice", "a@b.com") == Signature("alice", "a@b.com")
        assert Signature("alice", "a@b.com") != Signature("alice", "x@b.com")
        assert Signature("alice", "a@b.com") != Signature("bob", "a@b.com")

    def test_unhashable(self):
        assert Signature.__hash__ is None
        with pytest.raises(TypeError):
            hash(Signature("alice", "a@b.com"))

    def test_identity(self):
        assert Signature("gitstore", "gitstore@localhost").identity == "gitstore <gitstore@localhost>"

    def test_identity_follows_fields(self):
        sig = Signature("alice", "a@b.com")
        sig.name = "bob"
        sig.email = "b@c.org"
        assert sig.identity == "bob <b@c.org>"

    def test_missing_argument(self):
        with pytest.raises(TypeError):
            Signature("alice")


class TestReflogEntry:
    def make(self, **kw):
        values = dict(old_sha=ZERO, new_sha=HEX, committer="alice <a@x.org>",
                      timestamp=1700000000.0, message="commit: + a.txt")
        values.update(kw)
        return ReflogEntry(**values)

    def test_fields_in_order(self):
        assert field_names(ReflogEntry) == ("old_sha", "new_sha", "committer", "timestamp", "message")
        assert dataclasses.fields(ReflogEntry)[3].type is float

    def test_positional(self):
        e = ReflogEntry(ZERO, HEX, "alice <a@x.org>", 1700000000.0, "commit: + a.txt")
        assert e == self.make()

    def test_repr(self):
        assert repr(self.make()) == (
            f"ReflogEntry(old_sha='{ZERO}', new_sha='{HEX}', committer='alice <a@x.org>', "
            "timestamp=1700000000.0, message='commit: + a.txt')"
        )

    def test_equality_on_all_fields(self):
        assert self.make() == self.make()
        assert self.make() != self.make(message="x")
        assert self.make() != self.make(timestamp=1.0)
        assert self.make() != self.make(old_sha=HEX)

    def test_mutable_and_unhashable(self):
        e = self.make()
        e.message = "changed"
        assert e.message == "changed"
        with pytest.raises(TypeError):
            hash(e)

    def test_asdict(self):
        d = dataclasses.asdict(self.make())
        assert d["timestamp"] == 1700000000.0 and d["committer"] == "alice <a@x.org>"


class TestRefChange:
    def test_defaults_and_repr(self):
        rc = RefChange("refs/heads/x")
        assert rc.old_target is None and rc.new_target is None
        assert repr(rc) == "RefChange(ref='refs/heads/x', old_target=None, new_target=None)"

    def test_fields_and_equality(self):
        assert field_names(RefChange) == ("ref", "old_target", "new_target")
        assert RefChange("refs/tags/v1", None, HEX) == RefChange(ref="refs/tags/v1", new_target=HEX)
        assert RefChange("refs/tags/v1", HEX) != RefChange("refs/tags/v1", None, HEX)
        with pytest.raises(TypeError):
            hash(RefChange("refs/heads/x"))


class TestMirrorDiff:
    def test_defaults_and_repr(self):
        d = MirrorDiff()
        assert d.add == [] and d.update == [] and d.delete == []
        assert repr(d) == "MirrorDiff(add=[], update=[], delete=[])"
        assert field_names(MirrorDiff) == ("add", "update", "delete")

    def test_fresh_default_lists(self):
        a, b = MirrorDiff(), MirrorDiff()
        a.add.append(RefChange("refs/heads/x"))
        assert b.add == []
        assert a.update is not b.update and a.delete is not b.delete

    def test_in_sync_and_total(self):
        d = MirrorDiff()
        assert d.in_sync is True and d.total == 0
        d = MirrorDiff(add=[RefChange("refs/heads/a", None, HEX)])
        assert d.in_sync is False and d.total == 1
        d = MirrorDiff(
            add=[RefChange("refs/heads/a")],
            update=[RefChange("refs/heads/b"), RefChange("refs/heads/c")],
            delete=[RefChange("refs/tags/t")],
        )
        assert d.in_sync is False and d.total == 4
        assert MirrorDiff(delete=[RefChange("refs/heads/a")]).in_sync is False
        assert MirrorDiff(update=[RefChange("refs/heads/a")]).in_sync is False

    def test_asdict_nested(self):
        d = MirrorDiff(add=[RefChange("refs/heads/a", None, HEX)])
        assert dataclasses.asdict(d) == {
            "add": [{"ref": "refs/heads/a", "old_target": None, "new_target": HEX}],
            "update": [],
            "delete": [],
        }

    def test_repr_with_items(self):
        d = MirrorDiff(delete=[RefChange("refs/heads/x", HEX)])
        assert repr(d) == (
            "MirrorDiff(add=[], update=[], delete=[RefChange(ref='refs/heads/x', "
            f"old_target='{HEX}', new_target=None)])"
        )


# ---------------------------------------------------------------------------
# WriteEntry
# ---------------------------------------------------------------------------


class TestWriteEntry:
    def test_fields_and_positional_order(self):
        assert field_names(WriteEntry) == ("data", "mode", "target")
        e = WriteEntry(b"x")
        assert e.data == b"x" and e.mode is None and e.target is None
        e = WriteEntry(b"x", FileType.EXECUTABLE)
        assert e.mode is FileType.EXECUTABLE

    def test_repr(self):
        assert repr(WriteEntry(b"x")) == "WriteEntry(data=b'x', mode=None, target=None)"
        assert repr(WriteEntry(target="t")) == "WriteEntry(data=None, mode=None, target='t')"

    @pytest.mark.parametrize("data", [b"data", "hello", Path("/tmp/f"), b"", "", bytearray(b"x"), 123])
    def test_data_forms_accepted(self, data):
        e = WriteEntry(data=data)
        assert e.data is data

    @pytest.mark.parametrize("mode", [FileType.EXECUTABLE, FileType.LINK, FileType.TREE, 0o100755, 0o777, -5])
    def test_mode_not_validated(self, mode):
        assert WriteEntry(data=b"x", mode=mode).mode == mode

    def test_symlink(self):
        e = WriteEntry(target="target")
        assert e.target == "target" and e.data is None and e.mode is None
        assert WriteEntry(target="").target == ""

    def test_both_data_and_target(self):
        with pytest.raises(ValueError) as info:
            WriteEntry(data=b"x", target="t")
        assert str(info.value) == "Cannot specify both data and target"

    def test_neither(self):
        with pytest.raises(ValueError) as info:
            WriteEntry()
        assert str(info.value) == "Must specify either data or target"

    def test_mode_with_target(self):
        with pytest.raises(ValueError) as info:
            WriteEntry(target="t", mode=FileType.EXECUTABLE)
        assert str(info.value) == "Cannot specify mode for symlinks"
        with pytest.raises(ValueError, match="Cannot specify mode for symlinks"):
            WriteEntry(target="t", mode=FileType.LINK)

    def test_validation_order(self):
        # rule 1 wins over rule 3
        with pytest.raises(ValueError, match="^Cannot specify both data and target$"):
            WriteEntry(data=b"x", mode=FileType.BLOB, target="t")
        # rule 2 wins over everything a mode could trigger
        with pytest.raises(ValueError, match="^Must specify either data or target$"):
            WriteEntry(mode=FileType.EXECUTABLE)
        # empty values count as given
        with pytest.raises(ValueError, match="^Cannot specify both data and target$"):
            WriteEntry(data=b"", target="")

    def test_equality_and_hash(self):
        assert WriteEntry(b"x") == WriteEntry(data=b"x")
        assert WriteEntry(b"x") != WriteEntry(b"y")
        assert WriteEntry(b"x", 0o100755) == WriteEntry(b"x", 0o100755)
        assert hash(WriteEntry(b"x")) == hash(WriteEntry(b"x"))
        assert len({WriteEntry(b"x"), WriteEntry(b"x"), WriteEntry(target="x")}) == 2

    def test_frozen(self):
        e = WriteEntry(data=b"x")
        with pytest.raises(AttributeError):
            e.data = b"y"
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.mode = FileType.EXECUTABLE
        assert e.data == b"x" and e.mode is None

    def test_slots(self):
        e = WriteEntry(b"x")
        assert hasattr(WriteEntry, "__slots__")
        assert not hasattr(e, "__dict__")

    def test_replace_revalidates(self):
        e = WriteEntry(target="t")
        with pytest.raises(ValueError, match="Cannot specify mode for symlinks"):
            dataclasses.replace(e, mode=FileType.BLOB)


# ---------------------------------------------------------------------------
# FileEntry, ChangeActionKind, ChangeAction, ChangeError
# ---------------------------------------------------------------------------


class TestFileEntry:
    def test_fields_and_defaults(self):
        assert field_names(FileEntry) == ("path", "type", "src")
        e = FileEntry("a", FileType.BLOB)
        assert e.src is None

    def test_repr(self):
        assert repr(FileEntry("a", FileType.BLOB)) == "FileEntry(path='a', type=<FileType.BLOB: 'blob'>, src=None)"
        assert repr(FileEntry("d/l", FileType.LINK, "/tmp/l")) == (
            "FileEntry(path='d/l', type=<FileType.LINK: 'link'>, src='/tmp/l')"
        )

    def test_equality_mutability_unhashable(self):
        assert FileEntry("a", FileType.BLOB) == FileEntry("a", FileType.BLOB, None)
        assert FileEntry("a", FileType.BLOB) != FileEntry("a", FileType.EXECUTABLE)
        assert FileEntry("a", FileType.BLOB) != FileEntry("a", FileType.BLOB, "src")
        e = FileEntry("a", FileType.BLOB)
        e.path = "b"
        assert e.path == "b"
        with pytest.raises(TypeError):
            hash(e)

    def test_type_not_validated(self):
        assert FileEntry("a.txt", "B").type == "B"
        # a plain string equal to a member's value compares equal
        assert FileEntry("a", "blob") == FileEntry("a", FileType.BLOB)

    @pytest.mark.parametrize("member,value,mode", FILETYPE_TABLE)
    def test_from_mode(self, member, value, mode):
        e = FileEntry.from_mode("p/q", mode)
        assert e == FileEntry("p/q", member, None)
        assert e.type is member
        assert FileEntry.from_mode("p", mode, "src").src == "src"
        assert FileEntry.from_mode("p", mode, src="s") == FileEntry("p", member, "s")

    def test_from_mode_unknown(self):
        with pytest.raises(KeyError) as info:
            FileEntry.from_mode("p", 0o100600)
        assert info.value.args == (0o100600,)


class TestChangeActionKind:
    def test_members(self):
        assert issubclass(ChangeActionKind, enum.Enum) and issubclass(ChangeActionKind, str)
        assert [(m.name, m.value) for m in ChangeActionKind] == [
            ("ADD", "add"), ("UPDATE", "update"), ("DELETE", "delete"),
        ]

    def test_str_equality_repr(self):
        assert str(ChangeActionKind.UPDATE) == "update"
        assert f"{ChangeActionKind.DELETE}" == "delete"
        assert ChangeActionKind.ADD == "add"
        assert ChangeActionKind("delete") is ChangeActionKind.DELETE
        assert repr(ChangeActionKind.ADD) == "<ChangeActionKind.ADD: 'add'>"


class TestChangeActionAndError:
    def test_change_action(self):
        assert field_names(ChangeAction) == ("path", "action")
        a = ChangeAction("a.txt", ChangeActionKind.ADD)
        assert a == ChangeAction(path="a.txt", action=ChangeActionKind.ADD)
        assert a.action == "add"
        assert repr(a) == "ChangeAction(path='a.txt', action=<ChangeActionKind.ADD: 'add'>)"
        a.path = "b"
        assert a.path == "b"
        with pytest.raises(TypeError):
            hash(a)

    def test_change_error(self):
        assert field_names(ChangeError) == ("path", "error")
        e = ChangeError("x/y", "Permission denied")
        assert repr(e) == "ChangeError(path='x/y', error='Permission denied')"
        assert e == ChangeError(path="x/y", error="Permission denied")
        assert e != ChangeError("x/y", "other")
        e.error = "changed"
        assert e.error == "changed"
        with pytest.raises(TypeError):
            hash(e)
        assert repr([e]) == "[ChangeError(path='x/y', error='changed')]"


# ---------------------------------------------------------------------------
# ChangeReport
# ---------------------------------------------------------------------------


def entries(*paths, kind=FileType.BLOB):
    return [FileEntry(p, kind) for p in paths]


class TestChangeReport:
    def test_defaults_and_repr(self):
        r = ChangeReport()
        assert field_names(ChangeReport) == ("add", "update", "delete", "errors", "warnings")
        assert repr(r) == "ChangeReport(add=[], update=[], delete=[], errors=[], warnings=[])"

    def test_repr_with_content(self):
        r = ChangeReport(add=entries("a"), errors=[ChangeError("x", "boom")])
        assert repr(r) == (
            "ChangeReport(add=[FileEntry(path='a', type=<FileType.BLOB: 'blob'>, src=None)], "
            "update=[], delete=[], errors=[ChangeError(path='x', error='boom')], warnings=[])"
        )

    def test_fresh_default_lists(self):
        a, b = ChangeReport(), ChangeReport()
        a.add.append(FileEntry("x", FileType.BLOB))
        a.warnings.append(ChangeError("x", "w"))
        assert b.add == [] and b.warnings == []
        for name in field_names(ChangeReport):
            assert getattr(a, name) is not getattr(b, name)

    def test_equality_and_unhashable(self):
        assert ChangeReport(add=entries("a")) == ChangeReport(add=entries("a"))
        assert ChangeReport(add=entries("a")) != ChangeReport(update=entries("a"))
        assert ChangeReport() != ChangeReport(errors=[ChangeError("a", "e")])
        with pytest.raises(TypeError):
            hash(ChangeReport())

    def test_in_sync_ignores_errors_and_warnings(self):
        assert ChangeReport().in_sync is True
        assert ChangeReport(errors=[ChangeError("a", "e")], warnings=[ChangeError("b", "w")]).in_sync is True
        assert ChangeReport(add=entries("a")).in_sync is False
        assert ChangeReport(update=entries("a")).in_sync is False
        assert ChangeReport(delete=entries("a")).in_sync is False

    def test_total(self):
        assert ChangeReport().total == 0
        r = ChangeReport(add=entries("a", "b"), update=entries("c"), delete=entries("d", "e", "f"),
                         errors=[ChangeError("x", "e")], warnings=[ChangeError("y", "w")])
        assert r.total == 6

    def test_actions_empty(self):
        assert ChangeReport().actions() == []
        assert ChangeReport(errors=[ChangeError("x", "e")]).actions() == []

    def test_actions_sorted_by_path(self):
        r = ChangeReport(add=entries("c.txt", "a.txt"), update=entries("b.txt"), delete=entries("0", "d/e"))
        acts = r.actions()
        assert all(type(a) is ChangeAction for a in acts)
        assert [(a.path, a.action) for a in acts] == [
            ("0", ChangeActionKind.DELETE),
            ("a.txt", ChangeActionKind.ADD),
            ("b.txt", ChangeActionKind.UPDATE),
            ("c.txt", ChangeActionKind.ADD),
            ("d/e", ChangeActionKind.DELETE),
        ]

    def test_actions_stable_for_same_path(self):
        r = ChangeReport(delete=entries("p"), update=entries("p"), add=entries("p", "p"))
        assert [a.action for a in r.actions()] == [
            ChangeActionKind.ADD, ChangeActionKind.ADD, ChangeActionKind.UPDATE, ChangeActionKind.DELETE,
        ]

    def test_actions_sort_by_code_point(self):
        r = ChangeReport(add=entries("b", "B", "a/b", "a.b", "a"))
        assert [a.path for a in r.actions()] == ["B", "a", "a.b", "a/b", "b"]

    def test_actions_leaves_report_alone(self):
        r = ChangeReport(add=entries("z", "a"))
        before = copy.deepcopy(r)
        r.actions()
        assert r == before
        assert [e.path for e in r.add] == ["z", "a"]
        assert r.actions() is not r.actions()


# ---------------------------------------------------------------------------
# format_commit_message
# ---------------------------------------------------------------------------


def report(add=(), update=(), delete=()):
    """Build a report; items are paths or (path, FileType) pairs."""

    def conv(items):
        out = []
        for item in items:
            if isinstance(item, tuple):
                out.append(FileEntry(item[0], item[1]))
            else:
                out.append(FileEntry(item, FileType.BLOB))
        return out

    return ChangeReport(add=conv(add), update=conv(update), delete=conv(delete))


AUTO_CASES = [
    # single-commit writes
    (report(add=["notes/todo.md"]), None, "+ notes/todo.md"),
    (report(add=[("run.sh", FileType.EXECUTABLE)]), None, "+ run.sh (executable)"),
    (report(add=[("current", FileType.LINK)]), None, "+ current (link)"),
    (report(update=["a.txt"]), None, "~ a.txt"),
    (report(update=[("a.txt", FileType.EXECUTABLE)]), None, "~ a.txt (executable)"),
    (report(add=[("m3", FileType.TREE)]), None, "+ m3 (tree)"),
    (report(delete=["a.txt"]), None, "- a.txt"),
    (report(delete=[("cache", FileType.TREE)]), None, "- cache"),
    (report(add=["o1", "o2"], delete=["a.txt"]), None, "Batch: +2 -1"),
    (report(add=["o1", "o2"], delete=["a.txt"]), "op", "Batch op: +2 -1"),
    (report(add=["x"]), "imp", "+ x"),
    (report(add=["x", "y"], delete=["a.txt"]), "imp", "Batch imp: +2 -1"),
    (report(add=["m15"], delete=["zzz"]), None, "Batch: +1 -1"),
    # bulk operations (an operation name)
    (report(add=["dest/h.txt"]), "cp", "+ dest/h.txt"),
    (report(add=[("dest/h.txt", FileType.EXECUTABLE)]), "cp", "+ dest/h.txt (executable)"),
    (report(add=[("sl", FileType.LINK)]), "cp", "+ sl (link)"),
    (report(add=["dest/a", "dest/b"]), "cp", "Batch cp: +2"),
    (report(add=["a", "b"], delete=["c", "d", "e"]), "cp", "Batch cp: +2 -3"),
    (report(add=["a", "b"], delete=["c", "d", "e"]), "sync", "Batch sync: +2 -3"),
    (report(add=["dir/n.txt"]), "sync", "+ dir/n.txt"),
    (report(update=["data/foo"]), "sync", "~ data/foo"),
    (report(delete=["a", "b", "c"]), None, "Batch: -3"),
    (report(delete=["existing.txt"]), "rm", "- existing.txt"),
    (report(delete=["d/a", "d/b", "d/c"]), "rm", "Batch rm: -3"),
    (report(delete=["1", "2", "3", "4", "5"]), "rm", "Batch rm: -5"),
    (report(add=["new"], delete=["old"]), "mv", "Batch mv: +1 -1"),
    (report(update=["new"], delete=["old"]), "mv", "Batch mv: ~1 -1"),
    (report(add=["n/a", "n/b", "n/c"], delete=["o/a", "o/b", "o/c"]), "mv", "Batch mv: +3 -3"),
    (report(update=["dir/a.txt"]), "cp", "~ dir/a.txt"),
    # other combinations
    (report(add=["a"], update=["b"], delete=["c"]), None, "Batch: +1 ~1 -1"),
    (report(update=["a", "b"]), None, "Batch: ~2"),
    (report(add=["a"], update=["b"]), "", "Batch: +1 ~1"),
    (report(update=[("a", FileType.LINK)]), None, "~ a (link)"),
    (report(delete=[("run.sh", FileType.EXECUTABLE)]), None, "- run.sh"),
    (report(delete=[("l", FileType.LINK)]), "rm", "- l"),
    (report(add=[("x", FileType.EXECUTABLE), ("y", FileType.LINK)]), None, "Batch: +2"),
    (ChangeReport(), None, "No changes"),
    (ChangeReport(), "cp", "No changes"),
]


class TestAutoMessage:
    @pytest.mark.parametrize("rep,operation,expected", AUTO_CASES)
    def test_auto(self, rep, operation, expected):
        assert format_commit_message(rep, None, operation) == expected
        assert format_commit_message(rep, "", operation) == expected
        assert format_commit_message(rep, operation=operation) == expected

    @pytest.mark.parametrize("rep,operation,expected", AUTO_CASES)
    def test_default_placeholder_matches_auto(self, rep, operation, expected):
        assert format_commit_message(rep, "{default}", operation) == expected

    def test_errors_and_warnings_do_not_count(self):
        rep = ChangeReport(errors=[ChangeError("x", "e")], warnings=[ChangeError("y", "w")])
        assert format_commit_message(rep) == "No changes"
        rep.add.append(FileEntry("a", FileType.BLOB))
        assert format_commit_message(rep) == "+ a"

    def test_string_type_equal_to_blob_gets_no_suffix(self):
        assert format_commit_message(ChangeReport(add=[FileEntry("a", "blob")])) == "+ a"


class TestCustomMessage:
    def test_verbatim_without_brace(self):
        rep = report(add=["a"])
        assert format_commit_message(rep, "Deploy v2") == "Deploy v2"
        assert format_commit_message(rep, "closing } only", "cp") == "closing } only"
        assert format_commit_message(ChangeReport(), "nothing") == "nothing"

    def test_multiline_kept_as_given(self):
        msg = "line1\nline2\n\n"
        assert format_commit_message(report(add=["a"]), msg) == msg

    def test_default_placeholder(self):
        assert format_commit_message(report(add=["x"]), "Nightly: {default}") == "Nightly: + x"

    def test_all_counts(self):
        rep = report(add=["a", "b"], update=["c"])
        msg = "{op}/{add_count}/{update_count}/{delete_count}/{total_count}"
        assert format_commit_message(rep, msg, "sync") == "sync/2/1/0/3"

    def test_op_empty_without_operation(self):
        assert format_commit_message(report(add=["a"]), "[{op}] {total_count}") == "[] 1"
        assert format_commit_message(report(add=["a"]), "[{op}]", "") == "[]"

    def test_escapes_and_conversions(self):
        rep = report(delete=["a", "b"])
        assert format_commit_message(rep, "{{x}} {default!r}") == "{x} 'Batch: -2'"

    def test_copy_in_examples(self):
        two = report(add=["dest/a", "dest/b"])
        assert format_commit_message(two, "imp {default} {add_count}", "cp") == "imp Batch cp: +2 2"
        one = report(add=["f"])
        assert format_commit_message(one, "{{x}} {op}", "cp") == "{x} cp"
        assert format_commit_message(one, "{add_count:03d}", "cp") == "001"

    def test_format_specs(self):
        rep = report(add=["a"], update=["b"], delete=["c"])
        assert format_commit_message(rep, "<{default:>20}>") == "<" + "Batch: +1 ~1 -1".rjust(20) + ">"
        assert format_commit_message(rep, "{total_count:x}|{op!r}", "mv") == "3|'mv'"

    def test_repeated_keys(self):
        rep = report(add=["a"])
        assert format_commit_message(rep, "{default} / {default}") == "+ a / + a"

    def test_unknown_key(self):
        with pytest.raises(KeyError) as info:
            format_commit_message(report(add=["a"]), "bad {foo}")
        assert info.value.args == ("foo",)

    def test_json_like_message_is_a_template(self):
        with pytest.raises(KeyError):
            format_commit_message(report(add=["a"]), '{"a": 1}')
        assert format_commit_message(report(add=["a"]), '{{"a": 1}}') == '{"a": 1}'

    def test_positional_field(self):
        with pytest.raises(IndexError) as info:
            format_commit_message(report(add=["a"]), "{0}")
        assert str(info.value) == "Replacement index 0 out of range for positional args tuple"
        with pytest.raises(IndexError):
            format_commit_message(report(add=["a"]), "x {}")

    def test_unbalanced_brace(self):
        with pytest.raises(ValueError) as info:
            format_commit_message(report(add=["a"]), "a { b")
        assert str(info.value) == "expected '}' before end of string"
        with pytest.raises(ValueError):
            format_commit_message(report(add=["a"]), "{default")

    def test_bad_format_spec(self):
        with pytest.raises(ValueError):
            format_commit_message(report(add=["a"]), "{add_count:q}")

    def test_operation_only_in_multi_form_and_op(self):
        rep = report(add=["a"])
        assert "cp" not in format_commit_message(rep, None, "cp")
        assert format_commit_message(rep, "{op}", "cp") == "cp"
