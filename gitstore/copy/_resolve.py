"""Compatibility module: the local walk under its old name."""
from gitstore._core import _disk_walk

_BADDIR = 3


def _walk_local_paths(local_path, follow_symlinks=False, exclude=None):
    """The set of '/'-separated paths below local_path that copy_in would copy."""
    return {rel for rel, kind, _exec, _mtime, _err in
            _disk_walk(local_path, exclude, follow_symlinks) if kind != _BADDIR}
