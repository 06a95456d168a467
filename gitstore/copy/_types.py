"""Compatibility module: the change-report types under their old path."""
from gitstore._types import (
    ChangeAction,
    ChangeActionKind,
    ChangeError,
    ChangeReport,
    FileEntry,
    FileType,
    format_commit_message,
)

__all__ = [
    "ChangeAction", "ChangeActionKind", "ChangeError", "ChangeReport",
    "FileEntry", "FileType", "format_commit_message",
]
