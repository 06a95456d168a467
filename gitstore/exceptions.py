"""Compatibility module: the exception classes under their old path."""
from gitstore._core import GitError, StaleSnapshotError

__all__ = ["GitError", "StaleSnapshotError"]
