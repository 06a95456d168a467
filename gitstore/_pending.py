"""Documented names whose implementation has not landed yet.

They import, so that ``from gitstore import ...`` of the documented API
works today, and say clearly which part of the work brings them when
used.  Each is replaced by the real implementation as it lands.
"""


def _refuse(self: object, *args: object, **kwargs: object) -> None:
    raise NotImplementedError(f"{type(self).__name__}: {type(self).__doc__}")


class NoteDict:
    """Not implemented yet: it arrives with git notes support."""

    __module__ = "gitstore"
    __init__ = _refuse


class NoteNamespace:
    """Not implemented yet: it arrives with git notes support."""

    __module__ = "gitstore"
    __init__ = _refuse


class NotesBatch:
    """Not implemented yet: it arrives with git notes support."""

    __module__ = "gitstore"
    __init__ = _refuse


def resolve_credentials(url: str) -> str:
    """Fill in credentials for a URL (not implemented yet).

    Raises:
        NotImplementedError: Always, until backup/restore land.
    """
    raise NotImplementedError("resolve_credentials arrives with backup/restore")
