"""Compatibility module: ExcludeFilter under its old path."""
from gitstore._core import ExcludeFilter

__all__ = ["ExcludeFilter"]
