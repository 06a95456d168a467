"""Compatibility module: ``from gitstore.repo import GitStore``."""
from gitstore._core import GitStore, RefDict

__all__ = ["GitStore", "RefDict"]
