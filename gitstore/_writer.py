"""Buffered file-like writers returned by FS.writer() and Batch.writer().

They collect what is written in memory and hand it over in one piece on
close: a commit for a snapshot writer, a staged write for a batch writer.
"""

from __future__ import annotations

_MODES = ("wb", "w")


class _Writer:
    """Common part of the two writers: buffering, modes, closing rules."""

    def __init__(self, path, mode):
        if mode is None:
            mode = "wb"
        if mode not in _MODES:
            raise ValueError(f"writer() mode must be 'wb' or 'w', got {mode!r}")
        self._path = str(path)
        self._text = mode == "w"
        self._chunks = []
        self._closed = False

    def write(self, data) -> int:
        """Append *data*; returns the number of bytes added.

        Args:
            data: ``str`` for a text writer, a bytes-like object otherwise.

        Returns:
            int: Bytes appended (UTF-8 bytes for text).

        Raises:
            ValueError: The writer is closed.
            TypeError: *data* has the wrong type for the writer's mode.
        """
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if self._text:
            if not isinstance(data, str):
                raise TypeError("expected str for text mode writer")
            data = data.encode("utf-8")
        elif not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("expected bytes for binary mode writer")
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    @property
    def closed(self) -> bool:
        """bool: Whether the writer has been closed."""
        return self._closed

    def readable(self) -> bool:
        """Writers cannot be read: always False."""
        return False

    def writable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Writers cannot seek: always False."""
        return False

    def close(self) -> None:
        """Hand the content over; a second call does nothing.

        If handing over fails (say the branch moved), the writer stays open
        so that ``close()`` can be called again.
        """
        if self._closed:
            return
        self._deliver(b"".join(self._chunks))
        self._closed = True
        self._chunks = []

    def _deliver(self, data: bytes) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._closed = True
            self._chunks = []
        return False


class SnapshotWriter(_Writer):
    """A writer that commits its content to a file of a snapshot on close.

    Attributes:
        fs: None until a successful close, then the snapshot it made.
    """

    def __init__(self, snapshot, path, mode):
        super().__init__(path, mode)
        self._snapshot = snapshot
        self.fs = None

    def _deliver(self, data: bytes) -> None:
        self.fs = self._snapshot.write(self._path, data)


class BatchWriter(_Writer):
    """A writer that stages its content in a batch on close."""

    def __init__(self, batch, path, mode):
        super().__init__(path, mode)
        self._batch = batch

    def _deliver(self, data: bytes) -> None:
        self._batch.write(self._path, data)


def _snapshot_writer(snapshot, path, mode):
    return SnapshotWriter(snapshot, path, mode)


def _batch_writer(batch, path, mode):
    return BatchWriter(batch, path, mode)
