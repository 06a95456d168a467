"""Compatibility module: filemode constants and BlobOid."""
from gitstore._types import (
    GIT_FILEMODE_BLOB,
    GIT_FILEMODE_BLOB_EXECUTABLE,
    GIT_FILEMODE_LINK,
    GIT_FILEMODE_TREE,
    GIT_OBJECT_TREE,
    BlobOid,
)

__all__ = [
    "BlobOid", "GIT_FILEMODE_BLOB", "GIT_FILEMODE_BLOB_EXECUTABLE",
    "GIT_FILEMODE_LINK", "GIT_FILEMODE_TREE", "GIT_OBJECT_TREE",
]
