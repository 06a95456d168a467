"""Fixtures for the gitstore test-suite.  The helpers they use, and that
the test modules import, are in the ``support`` package (imported first, so
that its deterministic git environment is set before gitstore is)."""

from __future__ import annotations

import pytest

from support import EXAMPLE_TREE, GIT_ENV, HISTORY, Commit, Git, Tag, build_repo

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

@pytest.fixture
def git_env():
    return dict(GIT_ENV)


@pytest.fixture
def repo_factory(tmp_path):
    """``repo_factory(commits, name=..., **kw) -> (path, {label: sha})``."""
    counter = [0]

    def make(commits=(), *, name: str | None = None, **kw):
        counter[0] += 1
        path = tmp_path / (name or f"repo{counter[0]}.git")
        shas = build_repo(path, commits, **kw)
        return path, shas

    return make


@pytest.fixture(scope="session")
def example_tree_repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("example") / "example.git"
    shas = build_repo(path, [Commit(EXAMPLE_TREE, message="example tree\n", label="c1")])
    return path, shas


@pytest.fixture(scope="session")
def history_repo(tmp_path_factory):
    """(path, {label: sha}) of the HISTORY repository; tags v1 (light, c1),
    v2 (annotated, c4); an unreferenced loose blob as "orphan"."""
    path = tmp_path_factory.mktemp("history") / "history.git"
    shas = build_repo(path, HISTORY, tags=[Tag("v2", "c4", message="two\n")],
                      lightweight={"v1": "c1"})
    shas["orphan"] = Git(path)("hash-object", "-w", "--stdin", input=b"orphan blob\n")
    return path, shas
