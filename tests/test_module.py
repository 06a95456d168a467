"""The extension module itself: multi-phase init with its state in the
module object (so every load is independent), immutable types except FS,
and loading in a subinterpreter."""

from __future__ import annotations

import gc
import importlib.util
import textwrap
import weakref
from unittest import mock

import pytest

import gitstore
import gitstore._core
from gitstore import FS, Batch, ExcludeFilter, GitError, GitStore, RefDict, StaleSnapshotError


def fresh_core():
    """gitstore._core loaded once more, beside the imported one."""
    spec = importlib.util.find_spec("gitstore._core")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestIndependentLoads:
    def test_a_second_load_has_its_own_types_and_exceptions(self):
        core = fresh_core()
        assert core is not gitstore._core
        for name in ("GitStore", "FS", "RefDict", "Batch", "ExcludeFilter", "SnapshotWriter",
                     "BatchWriter", "NoteDict", "NoteNamespace", "NotesBatch", "GitError",
                     "StaleSnapshotError"):
            assert getattr(core, name) is not getattr(gitstore._core, name), name
            assert getattr(core, name).__name__ == getattr(gitstore._core, name).__name__

    def test_the_second_load_works_with_its_own_objects(self, tmp_path):
        core = fresh_core()
        store = core.GitStore.open(tmp_path / "repo.git")
        fs = store.branches["main"].write("a.txt", b"one")
        assert type(fs) is core.FS and not isinstance(fs, FS)
        assert isinstance(store.branches, core.RefDict)
        assert fs.read("a.txt") == b"one"
        assert [entry.name for entry in fs.listdir()] == ["a.txt"]
        with fs.batch() as batch:
            batch.write("b.txt", b"two")
        assert type(batch) is core.Batch
        assert batch.fs.ls() == ["a.txt", "b.txt"]
        store.notes.commits[batch.fs] = "checked"
        assert isinstance(store.notes, core.NoteDict)
        assert list(store.notes.commits) == [batch.fs.commit_hash]
        # The store was opened by the other module, but it is the same repository.
        assert GitStore.open(tmp_path / "repo.git").branches["main"].ls() == ["a.txt", "b.txt"]

    def test_each_load_raises_its_own_exception_classes(self, tmp_path):
        core = fresh_core()
        (tmp_path / "empty").mkdir()
        with pytest.raises(core.GitError) as caught:
            core.GitStore.open(tmp_path / "empty", create=False)
        assert not isinstance(caught.value, GitError)
        with pytest.raises(GitError) as caught:
            GitStore.open(tmp_path / "empty", create=False)
        assert not isinstance(caught.value, core.GitError)

        store = core.GitStore.open(tmp_path / "repo.git")
        old = store.branches["main"]
        old.write("a", b"1")
        with pytest.raises(core.StaleSnapshotError) as caught:
            old.write("b", b"2")
        assert not isinstance(caught.value, StaleSnapshotError)

    def test_objects_of_one_load_are_foreign_to_the_other(self, tmp_path):
        core = fresh_core()
        fs = core.GitStore.open(tmp_path / "repo.git").branches["main"]
        store = GitStore.open(tmp_path / "repo.git")
        with pytest.raises(TypeError, match="Expected FS"):
            store.branches["other"] = fs
        with pytest.raises(TypeError):
            Batch(fs)

    def test_a_dropped_load_is_collected(self, tmp_path):
        core = fresh_core()
        fs = core.GitStore.open(tmp_path / "repo.git").branches["main"]
        list(fs.walk())
        ref = weakref.ref(core)
        del core, fs
        gc.collect()
        assert ref() is None


class TestTypes:
    @pytest.mark.parametrize("name", ["GitStore", "RefDict", "Batch", "ExcludeFilter",
                                      "SnapshotWriter", "BatchWriter", "NoteDict",
                                      "NoteNamespace", "NotesBatch"])
    def test_immutable(self, name):
        cls = getattr(gitstore._core, name)
        with pytest.raises(TypeError, match="immutable"):
            cls.extra = 1
        some_attribute = next(iter(vars(cls)))
        with pytest.raises(TypeError, match="immutable"):
            delattr(cls, some_attribute)
        assert not hasattr(cls, "extra")

    def test_iterators_are_immutable(self, tmp_path):
        store = GitStore.open(tmp_path / "repo.git")
        fs = store.branches["main"]
        for iterator in (fs.walk(), fs.log(), fs.log(match=1), iter(store.notes.commits)):
            with pytest.raises(TypeError, match="immutable"):
                type(iterator).extra = 1

    def test_subclasses_still_work(self):
        class Mine(ExcludeFilter):
            pass

        assert Mine(patterns=["*.tmp"]).is_excluded("a.tmp")
        Mine.extra = 1          # a subclass is the subclass author's to change
        assert Mine.extra == 1

    def test_fs_stays_patchable(self, tmp_path):
        fs = GitStore.open(tmp_path / "repo.git").branches["main"]
        with mock.patch.object(FS, "write", lambda self, *a, **k: "patched"):
            assert fs.write("x", b"1") == "patched"
        assert isinstance(fs.write("x", b"1"), FS)
        assert "extra" not in vars(FS)

    def test_refdict_is_still_a_mutable_mapping(self, tmp_path):
        from collections.abc import MutableMapping

        store = GitStore.open(tmp_path / "repo.git")
        assert isinstance(store.branches, MutableMapping)
        assert issubclass(RefDict, MutableMapping)
        store.branches["dev"] = store.branches["main"]
        assert store.branches.get("dev") is not None
        assert sorted(store.branches.keys()) == ["dev", "main"]


def test_loads_in_a_subinterpreter(tmp_path):
    interpreters = pytest.importorskip("_xxsubinterpreters")
    interp = interpreters.create()
    try:
        interpreters.run_string(interp, textwrap.dedent(f"""
            import gitstore
            store = gitstore.GitStore.open({str(tmp_path / "repo.git")!r})
            fs = store.branches["main"].write("from-sub", b"sub")
            assert fs.read("from-sub") == b"sub"
            try:
                fs.parent.write("late", b"x")
            except gitstore.StaleSnapshotError:
                pass
            else:
                raise AssertionError("no StaleSnapshotError")
        """))
    finally:
        interpreters.destroy(interp)
    assert GitStore.open(tmp_path / "repo.git").branches["main"].read("from-sub") == b"sub"
