"""Plain value types shared by every part of gitstore.

Nothing in this module touches a repository: it only defines the small
records that the C extension produces or accepts (file types, stat results,
directory entries, reflog entries, mirror and change reports, write
descriptions), the git filemode constants, and the function that turns a
change report into a commit message.

The classes are ordinary Python dataclasses, enums and named tuples, so
``dataclasses.fields``, ``dataclasses.asdict``, ``==`` and ``repr`` behave as
usual for them.
"""

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "GIT_FILEMODE_TREE",
    "GIT_FILEMODE_BLOB",
    "GIT_FILEMODE_BLOB_EXECUTABLE",
    "GIT_FILEMODE_LINK",
    "GIT_OBJECT_TREE",
    "FileType",
    "StatResult",
    "WalkEntry",
    "BlobOid",
    "Signature",
    "ReflogEntry",
    "RefChange",
    "MirrorDiff",
    "WriteEntry",
    "FileEntry",
    "ChangeActionKind",
    "ChangeAction",
    "ChangeError",
    "ChangeReport",
    "format_commit_message",
]

# ---------------------------------------------------------------------------
# Git filemodes and object type numbers
# ---------------------------------------------------------------------------

#: Filemode of a tree (directory) entry.
GIT_FILEMODE_TREE = 0o040000
#: Filemode of a regular, non-executable file.
GIT_FILEMODE_BLOB = 0o100644
#: Filemode of an executable file.
GIT_FILEMODE_BLOB_EXECUTABLE = 0o100755
#: Filemode of a symbolic link (the blob holds the link target).
GIT_FILEMODE_LINK = 0o120000
#: Git's numeric object type for trees.
GIT_OBJECT_TREE = 2


# ---------------------------------------------------------------------------
# File types
# ---------------------------------------------------------------------------


class FileType(str, enum.Enum):
    """Kind of an entry stored in a snapshot.

    Each member is also a ``str`` equal to its value, so
    ``FileType.BLOB == "blob"`` holds and ``FileType("blob")`` returns the
    member. ``str()`` and ``format()`` give the bare value; ``repr()`` is the
    usual enum form, e.g. ``<FileType.BLOB: 'blob'>``.

    Members, in iteration order: ``BLOB`` (regular file), ``EXECUTABLE``
    (file with the executable bit), ``LINK`` (symbolic link) and ``TREE``
    (directory).
    """

    BLOB = "blob"
    EXECUTABLE = "executable"
    LINK = "link"
    TREE = "tree"

    def __str__(self) -> str:
        """Return the member's value, e.g. ``"executable"``."""
        return self.value

    def __format__(self, format_spec: str) -> str:
        """Format the member's value with ``format_spec``.

        Args:
            format_spec: A standard string format specification.

        Returns:
            The formatted value, so ``f"{FileType.LINK}"`` is ``"link"``.
        """
        return format(self.value, format_spec)

    @classmethod
    def from_filemode(cls, mode: int) -> "FileType":
        """Look up the file type that a git filemode stands for.

        Only the four modes gitstore writes are known: ``0o100644``,
        ``0o100755``, ``0o120000`` and ``0o040000``.

        Args:
            mode: A git filemode as an integer.

        Returns:
            The matching member.

        Raises:
            KeyError: ``mode`` is not one of the four known filemodes (for
                example a submodule ``0o160000`` or ``0o100600``); the
                exception argument is ``mode`` itself.
        """
        return _FILEMODE_TO_TYPE[mode]

    @property
    def filemode(self) -> int:
        """int: The git filemode written for entries of this type."""
        return _TYPE_TO_FILEMODE[self]


_FILEMODE_TO_TYPE = {
    GIT_FILEMODE_BLOB: FileType.BLOB,
    GIT_FILEMODE_BLOB_EXECUTABLE: FileType.EXECUTABLE,
    GIT_FILEMODE_LINK: FileType.LINK,
    GIT_FILEMODE_TREE: FileType.TREE,
}
_TYPE_TO_FILEMODE = {kind: mode for mode, kind in _FILEMODE_TO_TYPE.items()}


# ---------------------------------------------------------------------------
# Snapshot reading
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatResult:
    """What ``FS.stat`` reports about one path, in the spirit of ``os.stat``.

    Instances are immutable and hashable; assigning to a field raises
    ``dataclasses.FrozenInstanceError``.

    Attributes:
        mode: The git filemode of the entry (``0o040000`` for directories).
        file_type: The entry's kind as a ``FileType``.
        size: Size of the file contents in bytes (0 for directories).
        hash: Object id of the blob or tree, as 40 lowercase hex characters.
        nlink: Link count: 1 for files, 2 plus the number of subdirectories
            for directories.
        mtime: Time of the snapshot's commit, in POSIX seconds.
    """

    mode: int
    file_type: FileType
    size: int
    hash: str
    nlink: int
    mtime: float


class WalkEntry(NamedTuple):
    """One directory entry, as returned by ``FS.listdir`` and ``FS.walk``.

    A real named tuple: it unpacks, indexes and compares like the tuple
    ``(name, oid, mode)``.

    Attributes:
        name: The entry's name inside its directory (no slashes).
        oid: The object id as 40 ASCII hex characters in ``bytes``.
        mode: The git filemode of the entry.
    """

    name: str
    oid: bytes
    mode: int

    @property
    def file_type(self) -> FileType:
        """FileType: The kind of this entry, derived from ``mode``.

        Raises:
            KeyError: The mode is not one of the four filemodes gitstore
                knows.
        """
        return FileType.from_filemode(self.mode)


class BlobOid(bytes):
    """Id of a blob that is already stored in the repository.

    Used as a value in a write mapping to say "point the entry at this
    existing blob" instead of "store these bytes". The value is the id as
    40 ASCII hex characters (``b'32f95c0d…'``), not the 20 raw bytes.

    Apart from its type the object is plain ``bytes``: same equality, hash,
    ``repr`` and slicing, and operations such as ``+`` produce plain
    ``bytes`` (which no longer carry the marker). Instances have no
    ``__dict__``, so setting an attribute raises ``AttributeError``.
    """

    __slots__ = ()


# ---------------------------------------------------------------------------
# Store, reflog and mirroring
# ---------------------------------------------------------------------------


@dataclass
class Signature:
    """The name and e-mail address a store writes commits and reflogs as.

    Equality compares both fields; instances are mutable and therefore
    unhashable.

    Attributes:
        name: Person or program name, e.g. ``"gitstore"``.
        email: E-mail address, e.g. ``"gitstore@localhost"``.
    """

    name: str
    email: str

    @property
    def identity(self) -> str:
        """str: The git identity string ``"name <email>"``.

        It is built from the current field values each time it is read, so
        it always agrees with ``name`` and ``email``.
        """
        return f"{self.name} <{self.email}>"


@dataclass
class ReflogEntry:
    """One recorded movement of a branch or tag.

    Attributes:
        old_sha: Commit the ref pointed at before, as 40 hex characters;
            forty zeros for the entry that created the ref.
        new_sha: Commit the ref pointed at afterwards, as 40 hex characters.
        committer: Identity string of whoever moved the ref, e.g.
            ``"alice <a@x.org>"``.
        timestamp: When the move happened, in POSIX seconds. Always a
            ``float`` in entries gitstore returns (whole seconds in
            practice).
        message: The reflog message, without a trailing newline.
    """

    old_sha: str
    new_sha: str
    committer: str
    timestamp: float
    message: str


@dataclass
class RefChange:
    """A single ref that a backup or restore creates, moves or deletes.

    Attributes:
        ref: Full ref name, e.g. ``"refs/heads/main"``.
        old_target: Object id (hex) the ref had at the destination before,
            or ``None`` when the ref is being created.
        new_target: Object id (hex) the ref gets, or ``None`` when the ref
            is being deleted.
    """

    ref: str
    old_target: str | None = None
    new_target: str | None = None


@dataclass
class MirrorDiff:
    """The ref changes a backup or restore made (or would make in a dry run).

    Each list defaults to a new empty list per instance.

    Attributes:
        add: Refs created at the destination.
        update: Refs moved at the destination.
        delete: Refs removed from the destination.
    """

    add: list[RefChange] = field(default_factory=list)
    update: list[RefChange] = field(default_factory=list)
    delete: list[RefChange] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """bool: ``True`` when there is nothing to add, update or delete."""
        return not (self.add or self.update or self.delete)

    @property
    def total(self) -> int:
        """int: How many ref changes the three lists hold together."""
        return len(self.add) + len(self.update) + len(self.delete)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteEntry:
    """Description of one path to write with ``FS.apply``.

    Give either ``data`` (file contents) or ``target`` (which makes a
    symbolic link), never both. Empty values such as ``b""``, ``""`` or
    ``target=""`` count as given. The type of ``data`` and the value of
    ``mode`` are not checked here; ``FS.apply`` checks them when it uses
    the entry.

    Instances are immutable; assigning to a field raises
    ``dataclasses.FrozenInstanceError``. They are hashable when their field
    values are.

    Attributes:
        data: The contents: ``bytes`` as they are, ``str`` encoded as UTF-8,
            or a ``pathlib.Path`` naming a local file to read.
        mode: Optional file type or filemode overriding the default, e.g.
            ``FileType.EXECUTABLE``. Not allowed together with ``target``.
        target: Link target for a symbolic link.

    Raises:
        ValueError: When constructed with both ``data`` and ``target``
            (``"Cannot specify both data and target"``), with neither
            (``"Must specify either data or target"``), or with ``target``
            and ``mode`` (``"Cannot specify mode for symlinks"``); the checks
            run in that order.
    """

    data: bytes | str | Path | None = None
    mode: FileType | int | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        """Check that the fields describe exactly one kind of write.

        Raises:
            ValueError: See the class docstring for the three cases.
        """
        has_data = self.data is not None
        has_target = self.target is not None
        if has_data and has_target:
            raise ValueError("Cannot specify both data and target")
        if not has_data and not has_target:
            raise ValueError("Must specify either data or target")
        if has_target and self.mode is not None:
            raise ValueError("Cannot specify mode for symlinks")


# ---------------------------------------------------------------------------
# Change reports
# ---------------------------------------------------------------------------


@dataclass
class FileEntry:
    """A path in a change report, together with its kind.

    Mutable, compared field by field, unhashable. ``type`` is stored as
    given, without validation.

    Attributes:
        path: The path, with ``/`` separators.
        type: The entry's kind, normally a ``FileType``.
        src: Where the entry came from (a local path or a repository path),
            or ``None`` when that is not recorded.
    """

    path: str
    type: FileType
    src: str | None = None

    @classmethod
    def from_mode(cls, path: str, mode: int, src: str | None = None) -> "FileEntry":
        """Build an entry whose kind is given as a git filemode.

        Args:
            path: The path, with ``/`` separators.
            mode: A git filemode, converted with
                ``FileType.from_filemode``.
            src: Optional origin of the entry.

        Returns:
            A new entry.

        Raises:
            KeyError: ``mode`` is not one of the four known filemodes.
        """
        return cls(path, FileType.from_filemode(mode), src)


class ChangeActionKind(str, enum.Enum):
    """What happens to a path: ``ADD``, ``UPDATE`` or ``DELETE``.

    Members are strings equal to their values (``"add"``, ``"update"``,
    ``"delete"``), and ``str()`` / ``format()`` give that value.
    """

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"

    def __str__(self) -> str:
        """Return the member's value, e.g. ``"update"``."""
        return self.value

    def __format__(self, format_spec: str) -> str:
        """Format the member's value with ``format_spec``.

        Args:
            format_spec: A standard string format specification.

        Returns:
            The formatted value.
        """
        return format(self.value, format_spec)


@dataclass
class ChangeAction:
    """A path paired with what happens to it; see ``ChangeReport.actions``.

    Attributes:
        path: The path, with ``/`` separators.
        action: The kind of change.
    """

    path: str
    action: ChangeActionKind


@dataclass
class ChangeError:
    """A problem met while handling one path (used for errors and warnings).

    Attributes:
        path: The path the problem concerns (local or repository path).
        error: A human-readable description.
    """

    path: str
    error: str


@dataclass
class ChangeReport:
    """What an operation changed, or would change in a dry run.

    Each list defaults to a new empty list per instance.

    Attributes:
        add: Entries that did not exist before.
        update: Entries whose contents or kind changed.
        delete: Entries that were removed.
        errors: Paths that could not be handled.
        warnings: Non-fatal remarks, such as overlapping destinations.
    """

    add: list[FileEntry] = field(default_factory=list)
    update: list[FileEntry] = field(default_factory=list)
    delete: list[FileEntry] = field(default_factory=list)
    errors: list[ChangeError] = field(default_factory=list)
    warnings: list[ChangeError] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """bool: ``True`` when add, update and delete are all empty.

        Errors and warnings do not count.
        """
        return not (self.add or self.update or self.delete)

    @property
    def total(self) -> int:
        """int: Number of adds, updates and deletes together."""
        return len(self.add) + len(self.update) + len(self.delete)

    def actions(self) -> list[ChangeAction]:
        """List every add, update and delete as a ``ChangeAction``.

        The list is ordered by path. The sort is stable over adds, then
        updates, then deletes, so for a path that appears in several lists
        the add comes first and the delete last.

        Returns:
            A new list, one action per entry of the three lists.
        """
        result = [ChangeAction(e.path, ChangeActionKind.ADD) for e in self.add]
        result += [ChangeAction(e.path, ChangeActionKind.UPDATE) for e in self.update]
        result += [ChangeAction(e.path, ChangeActionKind.DELETE) for e in self.delete]
        result.sort(key=lambda action: action.path)
        return result


# ---------------------------------------------------------------------------
# Commit messages
# ---------------------------------------------------------------------------


def _describe_one(sign: str, entry: FileEntry, with_type: bool) -> str:
    """Render a single change as ``"<sign> <path>"``, plus ``" (<type>)"``."""
    text = f"{sign} {entry.path}"
    if with_type and entry.type != FileType.BLOB:
        text += f" ({entry.type})"
    return text


def _auto_message(report: ChangeReport, operation: str | None) -> str:
    """Build the generated message described in ``format_commit_message``."""
    total = report.total
    if total == 0:
        return "No changes"
    if total == 1:
        if report.add:
            return _describe_one("+", report.add[0], True)
        if report.update:
            return _describe_one("~", report.update[0], True)
        return _describe_one("-", report.delete[0], False)
    counts = []
    for sign, entries in (("+", report.add), ("~", report.update), ("-", report.delete)):
        if entries:
            counts.append(f"{sign}{len(entries)}")
    head = f"Batch {operation}:" if operation else "Batch:"
    return f"{head} {' '.join(counts)}"


def format_commit_message(
    report: ChangeReport,
    message: str | None = None,
    operation: str | None = None,
) -> str:
    """Produce the commit message for a set of changes.

    Without a message (``None`` or ``""``) the message is generated from the
    report:

    * no change: ``"No changes"``;
    * one change: ``"+ path"``, ``"~ path"`` or ``"- path"`` for an add,
      update or delete; an add or update of a kind other than ``blob`` is
      followed by the kind in parentheses, e.g. ``"+ run.sh (executable)"``;
    * several changes: ``"Batch <operation>: "`` (or ``"Batch: "`` when
      ``operation`` is empty) followed by the non-zero counts among ``+A``,
      ``~U`` and ``-D``, in that order, separated by spaces, e.g.
      ``"Batch cp: +2 -1"``.

    A message without ``{`` is returned unchanged. A message containing
    ``{`` is formatted with ``str.format`` and these keyword arguments:
    ``default`` (the generated message above), ``add_count``,
    ``update_count``, ``delete_count``, ``total_count`` and ``op`` (the
    operation, or ``""``). Format specs, conversions and ``{{``/``}}`` work
    as usual; literal braces must therefore be doubled.

    Args:
        report: The changes the commit records.
        message: Caller-supplied message or template, or ``None``.
        operation: Short operation name such as ``"cp"``, ``"sync"``,
            ``"rm"`` or ``"mv"``, or ``None``.

    Returns:
        The message, without any trailing newline added.

    Raises:
        KeyError: The template names a key other than the six above.
        IndexError: The template has a positional field such as ``{0}``.
        ValueError: The template is malformed, e.g. an unmatched ``{``.
    """
    if not message:
        return _auto_message(report, operation)
    if "{" not in message:
        return message
    return message.format(
        default=_auto_message(report, operation),
        add_count=len(report.add),
        update_count=len(report.update),
        delete_count=len(report.delete),
        total_count=report.total,
        op=operation or "",
    )
