"""Helpers shared by the test modules (``from support import ...``).

* ``support.git`` -- git as the oracle: the deterministic environment,
  ``git_run`` / ``Git``, and checks of a repository on disk;
* ``support.repo`` -- repositories built with git fast-import from Python
  descriptions (``Commit``, ``Tag``, ``build_repo``), hand-written loose
  objects, the shared example repositories, ``RepoEnv``;
* ``support.local`` -- local trees (``Exe``, ``Link``, ``put_local``),
  ``bounded``, ``LocalEnv``.

Importing this package sets the environment for git and libgit2, so it must
be imported before gitstore opens a repository (conftest imports it first).
"""

from .git import (
    EMPTY_TREE,
    GIT_ENV,
    ZERO_SHA,
    Git,
    assert_fsck_clean,
    assert_single_commit,
    fsck_problems,
    git_run,
    loose_object_ids,
    pack_names,
    pack_object_ids,
    reflog_lines,
)
from .local import Exe, Link, LocalEnv, bounded, measuring_env, put_local
from .repo import (
    BIN_DATA,
    EXAMPLE_TREE,
    HISTORY,
    Commit,
    RepoEnv,
    Tag,
    build_repo,
    copy_template,
    loose_object_path,
    make_loose_objects,
    tag_body,
    write_loose_object,
)

__all__ = [
    "BIN_DATA", "EMPTY_TREE", "EXAMPLE_TREE", "GIT_ENV", "HISTORY", "ZERO_SHA",
    "Commit", "Exe", "Git", "Link", "LocalEnv", "RepoEnv", "Tag",
    "assert_fsck_clean", "assert_single_commit", "bounded", "build_repo",
    "copy_template", "fsck_problems", "git_run", "loose_object_ids",
    "loose_object_path", "make_loose_objects", "pack_names", "pack_object_ids",
    "put_local", "reflog_lines", "tag_body", "write_loose_object",
]
