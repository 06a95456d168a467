"""Compatibility module: ``from gitstore.fs import FS``."""
from gitstore._core import FS

__all__ = ["FS"]
