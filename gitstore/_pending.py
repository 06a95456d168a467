"""Documented names whose implementation has not landed yet.

They import, so that ``from gitstore import ...`` of the documented API
works today, and say clearly which part of the work brings them when
used.  Each is replaced by the real implementation as it lands.
"""


def _not_yet(name, part):
    message = f"{name} is not implemented yet: it arrives with {part}"

    class _Pending:
        __doc__ = message

        def __init__(self, *args, **kwargs):
            raise NotImplementedError(message)

    _Pending.__name__ = _Pending.__qualname__ = name
    _Pending.__module__ = "gitstore"
    return _Pending


ExcludeFilter = _not_yet("ExcludeFilter", "the bulk copy/sync operations")
NoteDict = _not_yet("NoteDict", "git notes support")
NoteNamespace = _not_yet("NoteNamespace", "git notes support")
NotesBatch = _not_yet("NotesBatch", "git notes support")


def disk_glob(pattern):
    """Glob on the local disk with gitstore's rules (not implemented yet).

    Raises:
        NotImplementedError: Always, until the bulk operations land.
    """
    raise NotImplementedError("disk_glob arrives with the bulk copy/sync operations")


def resolve_credentials(url):
    """Fill in credentials for a URL (not implemented yet).

    Raises:
        NotImplementedError: Always, until backup/restore land.
    """
    raise NotImplementedError("resolve_credentials arrives with backup/restore")
