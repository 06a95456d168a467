"""retry_write: a single-file write that retries when its branch moved."""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING

from gitstore._core import StaleSnapshotError

if TYPE_CHECKING:
    from gitstore._core import FS, GitStore
    from gitstore._types import FileType

# Longest pause between two attempts, in seconds.
_MAX_DELAY = 0.2


def retry_write(store: GitStore, branch: str, path: str | os.PathLike[str], data: bytes, *,
                message: str | None = None, mode: FileType | int | None = None,
                retries: int = 5) -> FS:
    """Write one file to the tip of *branch*, retrying on concurrent writes.

    Each attempt fetches the branch tip afresh and writes to it.  When
    another writer moved the branch in between (``StaleSnapshotError``),
    the attempt is retried after a random pause that grows exponentially
    (10 ms, 20 ms, 40 ms, ... capped at 200 ms).

    Args:
        store: The GitStore to write to.
        branch: Name of the branch to write on.
        path: Repository path of the file.
        data: Content of the file (bytes).
        message: Commit message; None for the generated one.
        mode: File mode (a FileType or an int filemode); None for a
            regular file.
        retries: Number of attempts, at least 1.

    Returns:
        FS: The snapshot the successful write made.

    Raises:
        ValueError: *retries* is less than 1.
        KeyError: *branch* does not exist (not retried).
        StaleSnapshotError: Every attempt lost the race.
    """
    if retries < 1:
        raise ValueError(f"retries must be >= 1, got {retries}")
    for attempt in range(retries):
        fs = store.branches[branch]
        try:
            return fs.write(path, data, message=message, mode=mode)
        except StaleSnapshotError:
            if attempt == retries - 1:
                raise
            time.sleep(random.uniform(0, min(0.01 * 2**attempt, _MAX_DELAY)))
    raise AssertionError("unreachable")
