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


NoteDict = _not_yet("NoteDict", "git notes support")
NoteNamespace = _not_yet("NoteNamespace", "git notes support")
NotesBatch = _not_yet("NotesBatch", "git notes support")


def resolve_credentials(url):
    """Fill in credentials for a URL (not implemented yet).

    Raises:
        NotImplementedError: Always, until backup/restore land.
    """
    raise NotImplementedError("resolve_credentials arrives with backup/restore")
