"""Documented names whose implementation has not landed yet.

They import, so that ``from gitstore import ...`` of the documented API
works today, and say clearly which part of the work brings them when
used.  Each is replaced by the real implementation as it lands.
"""


def resolve_credentials(url: str) -> str:
    """Fill in credentials for a URL (not implemented yet).

    Raises:
        NotImplementedError: Always, until backup/restore land.
    """
    raise NotImplementedError("resolve_credentials arrives with backup/restore")
