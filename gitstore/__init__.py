"""gitstore: a versioned filesystem kept in a bare git repository.

Every write is a commit, every older snapshot stays readable, and the
repository stays an ordinary git repository.  The implementation is a C
extension on libgit2 (``gitstore._core``); this package re-exports the
documented names.
"""

from gitstore._types import (
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
)
from gitstore._core import (
    FS,
    Batch,
    BlobFile,
    ExcludeFilter,
    GitError,
    GitStore,
    NoteDict,
    NoteNamespace,
    NotesBatch,
    RefDict,
    StaleSnapshotError,
    disk_glob,
)
from gitstore._retry import retry_write
from gitstore._credentials import resolve_credentials

__version__ = "0.1.0"

__all__ = [
    "GitStore", "RefDict", "ReflogEntry", "Signature", "MirrorDiff", "RefChange",
    "resolve_credentials", "NoteDict", "NoteNamespace", "NotesBatch", "FS",
    "StatResult", "WriteEntry", "retry_write", "StaleSnapshotError", "Batch",
    "BlobOid", "GitError", "ChangeReport", "ChangeAction", "ChangeActionKind",
    "ChangeError", "ExcludeFilter", "FileEntry", "FileType", "disk_glob",
    "WalkEntry", "BlobFile",
]
