"""git notes: store.notes (NoteDict), NoteNamespace, NotesBatch, with git's
own ``notes`` command, ``fast-import``, ``fsck`` and ``gc`` as the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import pytest

from support import Git, assert_fsck_clean, git_run, reflog_lines

import gitstore
from gitstore import GitStore, NoteDict, NoteNamespace, NotesBatch

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    return GitStore.open(tmp_path / "n.git")


@pytest.fixture
def git(store, tmp_path):
    return Git(tmp_path / "n.git")


def commits(store, n):
    """n commit hashes of a chain on main (the initial commit first)."""
    fs = store.branches["main"]
    out = [fs.commit_hash]
    for i in range(n - 1):
        fs = fs.write(f"f{i}", b"x")
        out.append(fs.commit_hash)
    return out


def notes_list(git, ref="commits"):
    """{object: note blob} as ``git notes list`` sees them."""
    rows = git.lines("notes", "--ref", ref, "list")
    return {obj: blob for blob, obj in (row.split() for row in rows)}


def git_show(git, h, ref="commits") -> bytes:
    return git.raw("notes", "--ref", ref, "show", h)


def notes_commit_chain(git, ref="refs/notes/commits"):
    """[(commit, [parents], subject)], newest first."""
    rows = git.lines("log", "--format=%H %P%x09%s", ref)
    out = []
    for row in rows:
        ids, subject = row.split("\t", 1)
        first, *parents = ids.split()
        out.append((first, parents, subject))
    return out


def fast_import_notes(git, count, ref="refs/notes/commits", text=lambda i: f"note {i}\n"):
    """count commits on refs/heads/many and a note on each, in one notes
    commit written by git fast-import (which picks the fan-out itself).
    Returns the commit hashes, in order."""
    parts = []
    for i in range(1, count + 1):
        parts.append(f"commit refs/heads/many\nmark :{i}\n"
                     f"committer A <a@b> {1600000000 + i} +0000\ndata {len(str(i)) + 1}\nc{i}\n")
        if i > 1:
            parts.append(f"from :{i - 1}\n")
        parts.append("\n")
    parts.append(f"commit {ref}\ncommitter A <a@b> 1700000000 +0000\ndata 6\nnotes\n")
    for i in range(1, count + 1):
        data = text(i).encode()
        parts.append(f"N inline :{i}\ndata {len(data)}\n")
        parts.append(data.decode() + "\n")
    parts.append("\n")
    git.raw("fast-import", "--quiet", input="".join(parts).encode())
    return git.lines("rev-list", "--reverse", "refs/heads/many")


def mktree(git, entries):
    """A tree from [(mode, type, oid, name)]."""
    body = "".join(f"{m} {t} {o}\t{n}\n" for m, t, o, n in entries)
    return git("mktree", input=body.encode())


def commit_notes_tree(git, tree, ref="refs/notes/commits"):
    parent = git.lines("rev-parse", "--verify", "-q", ref) if git.ok(
        "rev-parse", "--verify", "-q", ref) else []
    args = ["commit-tree", tree, "-m", "hand-made notes"]
    for p in parent:
        args += ["-p", p]
    commit = git(*args)
    git("update-ref", ref, commit)
    return commit


# ---------------------------------------------------------------------------
# The surface
# ---------------------------------------------------------------------------

class TestSurface:
    def test_types(self, store):
        assert isinstance(store.notes, NoteDict)
        assert isinstance(store.notes, Mapping)
        assert not isinstance(store.notes, MutableMapping)
        assert isinstance(store.notes.commits, NoteNamespace)
        assert isinstance(store.notes.commits, MutableMapping)
        assert gitstore.NotesBatch is NotesBatch

    def test_reprs(self, store):
        assert repr(store.notes) == f"NoteDict({store!r})"
        assert repr(store.notes.commits) == "NoteNamespace('commits', len=0)"
        h = store.branches["main"].commit_hash
        store.notes["sub/ns"][h] = "x"
        assert repr(store.notes["sub/ns"]) == "NoteNamespace('sub/ns', len=1)"

    def test_constructors_are_internal(self):
        with pytest.raises(TypeError):
            len(NoteNamespace())
        with pytest.raises(TypeError):
            list(NoteDict())
        with pytest.raises(TypeError):
            NotesBatch(42)

    def test_new_namespace_object_each_time(self, store):
        assert store.notes.commits is not store.notes.commits
        assert store.notes is store.notes

    def test_note_dict_lists_existing_namespaces_sorted(self, store, git):
        h = store.branches["main"].commit_hash
        assert list(store.notes) == [] and len(store.notes) == 0
        assert "commits" not in store.notes
        for name in ("zeta", "commits", "sub/inner", "alpha"):
            store.notes[name][h] = name
        git("notes", "--ref", "fromgit", "add", "-m", "g", h)
        assert list(store.notes) == ["alpha", "commits", "fromgit", "sub/inner", "zeta"]
        assert len(store.notes) == 5
        assert "sub/inner" in store.notes and "sub" not in store.notes
        assert 3 not in store.notes and "a b" not in store.notes
        assert store.notes["fromgit"][h] == "g\n"
        assert dict(store.notes.items())["zeta"][h] == "zeta"

    def test_note_dict_is_read_only(self, store):
        with pytest.raises(TypeError):
            store.notes["x"] = store.notes.commits
        with pytest.raises(TypeError):
            store.notes[3]

    def test_invalid_namespace_reads_empty_and_refuses_writes(self, store, git):
        h = store.branches["main"].commit_hash
        for name in ("a b", "", "x..y", "bad:colon", "end/", "nul\0x"):
            ns = store.notes[name]
            assert len(ns) == 0 and list(ns) == [] and h not in ns
            with pytest.raises(KeyError):
                ns[h]
            with pytest.raises(ValueError, match="Invalid notes namespace"):
                ns[h] = "x"
            with pytest.raises(ValueError):
                with ns.batch() as b:
                    b[h] = "x"
        assert git.lines("for-each-ref", "refs/notes/") == []


# ---------------------------------------------------------------------------
# Keys and values
# ---------------------------------------------------------------------------

class TestKeys:
    @pytest.mark.parametrize("key", ["a" * 39, "a" * 41, "A" * 40, "g" * 40, "a" * 40 + "\n",
                                     "\n" + "a" * 39, " " + "a" * 40, "", "\udcff" * 40])
    def test_invalid_hash(self, store, key):
        ns = store.notes.commits
        message = "must be 40-char lowercase hex"
        with pytest.raises(ValueError, match=message):
            ns[key] = "x"
        with pytest.raises(ValueError, match=message):
            ns[key]
        with pytest.raises(ValueError, match=message):
            del ns[key]
        with pytest.raises(ValueError, match=message):
            ns.get(key)
        assert key not in ns
        assert len(ns) == 0

    def test_message_shows_the_repr(self, store):
        with pytest.raises(ValueError) as info:
            store.notes.commits["abc"] = "x"
        assert str(info.value) == "Invalid commit hash: 'abc' (must be 40-char lowercase hex)"

    @pytest.mark.parametrize("key", [42, None, b"a" * 40, 1.5])
    def test_non_str_key(self, store, key):
        ns = store.notes.commits
        with pytest.raises(TypeError, match=f"Expected str, got {type(key).__name__}"):
            ns[key] = "x"
        with pytest.raises(TypeError):
            ns[key]
        assert key not in ns

    @pytest.mark.parametrize("value", [42, b"bytes", None])
    def test_non_str_value(self, store, value):
        h = store.branches["main"].commit_hash
        with pytest.raises(TypeError, match=f"Expected str value, got {type(value).__name__}"):
            store.notes.commits[h] = value
        assert len(store.notes.commits) == 0

    def test_fs_key_is_its_commit(self, store, git):
        fs = store.branches["main"]
        store.notes.commits[fs] = "reviewed"
        assert store.notes.commits[fs.commit_hash] == "reviewed"
        assert fs in store.notes.commits
        assert git_show(git, fs.commit_hash) == b"reviewed"
        del store.notes.commits[fs]
        assert fs not in store.notes.commits

    def test_key_need_not_exist(self, store, git):
        store.notes.commits["a" * 40] = "orphan"
        assert store.notes.commits["a" * 40] == "orphan"
        assert notes_list(git) == {"a" * 40: git("hash-object", "--stdin", input=b"orphan")}

    @pytest.mark.parametrize("text", ["", "one line", "multi\nline\n\n", "\n",
                                      "caf\u00e9 \u2603 \U0001f600 \u4e2d\u6587",
                                      "tab\tand\r\nCRLF", "x" * 100_000])
    def test_text_round_trips_and_git_reads_it(self, store, git, text):
        h = store.branches["main"].commit_hash
        store.notes.commits[h] = text
        assert store.notes.commits[h] == text
        assert git_show(git, h) == text.encode()

    def test_non_utf8_note_raises_unicode_error(self, store, git):
        h = store.branches["main"].commit_hash
        blob = git("hash-object", "-w", "--stdin", input=b"\xff\xfe latin")
        git("notes", "add", "-C", blob, h)
        with pytest.raises(UnicodeDecodeError):
            store.notes.commits[h]
        assert h in store.notes.commits


# ---------------------------------------------------------------------------
# Writing: commits, messages, reflog
# ---------------------------------------------------------------------------

class TestWrites:
    def test_each_write_is_one_commit_in_a_chain(self, store, git):
        hs = commits(store, 3)
        ns = store.notes.commits
        ns[hs[0]] = "a"
        ns[hs[1]] = "b"
        ns[hs[0]] = "a"            # the same text still commits
        del ns[hs[1]]
        chain = notes_commit_chain(git)
        assert [subject for _, _, subject in chain] == [
            f"Notes removed by 'git notes' on {hs[1][:7]}",
            f"Notes added by 'git notes' on {hs[0][:7]}",
            f"Notes added by 'git notes' on {hs[1][:7]}",
            f"Notes added by 'git notes' on {hs[0][:7]}",
        ]
        assert chain[-1][1] == []
        for (_, parents, _), (older, _, _) in zip(chain, chain[1:]):
            assert parents == [older]
        headers, _ = git.commit_header(chain[0][0])
        assert headers["author"][0].startswith("gitstore <gitstore@localhost> ")
        assert headers["committer"][0].startswith("gitstore <gitstore@localhost> ")
        assert notes_list(git) == {hs[0]: git("hash-object", "--stdin", input=b"a")}
        assert_fsck_clean(git.path)

    def test_reflog_records_every_move(self, store, git):
        h = store.branches["main"].commit_hash
        ns = store.notes.commits
        ns[h] = "x"
        with ns.batch() as b:
            b["b" * 40] = "y"
        del ns[h]
        lines = reflog_lines(git.path, "refs/notes/commits")
        messages = [line.split("\t", 1)[1] for line in lines]
        assert messages == [f"Notes added by 'git notes' on {h[:7]}",
                            "Notes batch update (1 changes)",
                            f"Notes removed by 'git notes' on {h[:7]}"]
        olds = [line.split()[0] for line in lines]
        news = [line.split()[1] for line in lines]
        assert olds[0] == "0" * 40 and olds[1:] == news[:-1]
        assert news[-1] == git.rev("refs/notes/commits")

    def test_deleting_the_last_note_keeps_an_empty_tree(self, store, git):
        h = store.branches["main"].commit_hash
        store.notes.commits[h] = "x"
        del store.notes.commits[h]
        assert git.rev("refs/notes/commits^{tree}") == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        assert len(store.notes.commits) == 0
        with pytest.raises(KeyError):
            del store.notes.commits[h]

    def test_missing_delete_commits_nothing(self, store, git):
        h = store.branches["main"].commit_hash
        with pytest.raises(KeyError) as info:
            del store.notes.commits[h]
        assert info.value.args == (h,)
        assert not git.ok("rev-parse", "--verify", "-q", "refs/notes/commits")

    def test_namespaces_are_independent(self, store, git):
        h = store.branches["main"].commit_hash
        store.notes.commits[h] = "default"
        store.notes["reviews"][h] = "review"
        assert store.notes.commits[h] == "default"
        assert store.notes["reviews"][h] == "review"
        assert git_show(git, h, "reviews") == b"review"

    def test_mapping_mixins(self, store, git):
        hs = commits(store, 4)
        ns = store.notes.commits
        assert ns.get(hs[0]) is None and ns.get(hs[0], "d") == "d"
        ns.update({hs[0]: "0", hs[1]: "1"})
        assert ns.setdefault(hs[1], "z") == "1"
        assert ns.setdefault(hs[2], "2") == "2"
        assert ns.pop(hs[0]) == "0"
        assert ns.pop(hs[0], "gone") == "gone"
        assert sorted(ns.keys()) == sorted(hs[1:3])
        assert sorted(ns.values()) == ["1", "2"]
        assert sorted(ns.items()) == sorted([(hs[1], "1"), (hs[2], "2")])
        key, value = ns.popitem()
        assert key == min(hs[1:3]) and value in ("1", "2")
        ns.clear()
        assert len(ns) == 0
        # update 2 + setdefault 1 + pop 1 + popitem 1 + clear 1
        assert len(notes_commit_chain(git)) == 6

    def test_for_current_branch(self, store, git):
        ns = store.notes.commits
        fs = store.branches["main"]
        with pytest.raises(KeyError):
            ns.for_current_branch
        ns.for_current_branch = "on tip"
        assert ns[fs.commit_hash] == "on tip"
        assert ns.for_current_branch == "on tip"
        fs2 = fs.write("a", b"a")
        with pytest.raises(KeyError):
            ns.for_current_branch
        ns.for_current_branch = "newer"
        assert ns[fs2.commit_hash] == "newer" and ns[fs.commit_hash] == "on tip"
        store.branches["dev"] = fs
        store.branches.current = "dev"
        assert ns.for_current_branch == "on tip"

    def test_for_current_branch_dangling_head(self, tmp_path):
        store = GitStore.open(tmp_path / "empty.git", branch=None)
        with pytest.raises(RuntimeError, match="HEAD is dangling"):
            store.notes.commits.for_current_branch
        with pytest.raises(RuntimeError, match="HEAD is dangling"):
            store.notes.commits.for_current_branch = "x"


# ---------------------------------------------------------------------------
# git writes, we read (and the other way round), fan-out included
# ---------------------------------------------------------------------------

class TestInterop:
    def test_git_notes_add_is_read(self, store, git, tmp_path):
        hs = commits(store, 3)
        text = "first line\nzweite Zeile \u00fc\n\n\u2603 last"
        (tmp_path / "msg").write_text(text, encoding="utf-8")
        git("notes", "add", "-F", str(tmp_path / "msg"), hs[0])
        git("notes", "add", "-m", "short", hs[1])
        git("notes", "add", "--allow-empty", "-m", "", hs[2])
        ns = store.notes.commits
        assert ns[hs[0]] == git_show(git, hs[0]).decode()
        assert ns[hs[1]] == "short\n"
        assert ns[hs[2]] == ""
        assert list(ns) == sorted(hs)
        # and git reads the chain we continue
        ns[hs[1]] = "replaced"
        git("notes", "append", "-m", "more", hs[0])
        assert ns[hs[0]] == git_show(git, hs[0]).decode()
        assert git_show(git, hs[1]) == b"replaced"
        assert_fsck_clean(git.path)

    def test_git_fanout(self, store, git):
        hs = fast_import_notes(git, 300)
        roots = git.ls_tree("refs/notes/commits")
        assert roots and all(typ == "tree" and len(name) == 2 for _, typ, _, name in roots)
        ns = store.notes.commits
        assert len(ns) == 300
        assert list(ns) == sorted(hs) == sorted(notes_list(git))
        assert ns[hs[0]] == "note 1\n" and ns[hs[-1]] == "note 300\n"
        assert hs[5] in ns and "f" * 40 not in ns
        assert dict(ns.items())[hs[7]] == "note 8\n"

        # overwrite: the note becomes flat, its fan-out form is gone
        ns[hs[0]] = "flat"
        assert git.entry("refs/notes/commits", hs[0])[1] == 0o100644
        assert git.entry("refs/notes/commits", f"{hs[0][:2]}/{hs[0][2:]}") is None
        assert git_show(git, hs[0]) == b"flat"
        # delete a fan-out note
        del ns[hs[1]]
        assert hs[1] not in ns and hs[1] not in notes_list(git)
        assert len(ns) == 299
        assert list(ns) == sorted(notes_list(git))
        # git keeps working on the mixed layout, and so do we
        git("notes", "add", "-f", "-m", "from git", hs[0])
        git("notes", "add", "-m", "back", hs[1])
        assert ns[hs[0]] == "from git\n" and ns[hs[1]] == "back\n"
        assert list(ns) == sorted(notes_list(git)) and len(ns) == 300
        assert_fsck_clean(git.path)

    def test_deeper_fanout(self, store, git):
        """2/2/36 and 2/2/2/34 (what git writes for very large namespaces),
        next to flat and 2/38 notes in one tree."""
        ids = ["ab" + "cd" + "ef" + "1" * 34, "ab" + "cd" + "2" * 36, "ab" + "3" * 38,
               "ab" + "4" * 38, "9" * 40]
        blobs = {h: git("hash-object", "-w", "--stdin", input=f"note {h[:4]}{i}".encode())
                 for i, h in enumerate(ids)}
        ef = mktree(git, [("100644", "blob", blobs[ids[0]], ids[0][6:])])
        cd = mktree(git, [("040000", "tree", ef, "ef"),
                          ("100644", "blob", blobs[ids[1]], ids[1][4:])])
        ab = mktree(git, [("100644", "blob", blobs[ids[2]], ids[2][2:]),
                          ("040000", "tree", cd, "cd")])
        root = mktree(git, [("040000", "tree", ab, "ab"),
                            ("100644", "blob", blobs[ids[3]], ids[3]),
                            ("100644", "blob", blobs[ids[4]], ids[4]),
                            ("100644", "blob", blobs[ids[4]], "README")])
        commit_notes_tree(git, root)
        assert sorted(notes_list(git)) == sorted(ids)
        ns = store.notes.commits
        assert list(ns) == sorted(ids)
        for i, h in enumerate(ids):
            assert ns[h] == f"note {h[:4]}{i}"
            assert ns[h] == git_show(git, h).decode()
        del ns[ids[0]]
        ns[ids[1]] = "now flat"
        assert git.entry("refs/notes/commits", "ab/cd/ef") is None   # emptied, dropped
        assert git.entry("refs/notes/commits", ids[1])[1] == 0o100644
        assert git.entry("refs/notes/commits", "README") is not None   # not a note: kept
        assert list(ns) == sorted(ids[1:]) == sorted(notes_list(git))
        assert git_show(git, ids[1]) == b"now flat"
        assert_fsck_clean(git.path)

    def test_twin_layouts_count_once(self, store, git):
        h = "c" * 40
        flat = git("hash-object", "-w", "--stdin", input=b"flat")
        deep = git("hash-object", "-w", "--stdin", input=b"deep")
        sub = mktree(git, [("100644", "blob", deep, h[2:])])
        commit_notes_tree(git, mktree(git, [("040000", "tree", sub, h[:2]),
                                            ("100644", "blob", flat, h)]))
        ns = store.notes.commits
        assert list(ns) == [h] and len(ns) == 1 and ns[h] == "flat"
        del ns[h]
        assert h not in ns and len(ns) == 0
        assert git.ls_tree("refs/notes/commits") == []

    def test_reads_after_gc(self, store, git):
        hs = fast_import_notes(git, 40)
        ns = store.notes.commits
        for h in hs[:20]:
            ns[h] = "ours " + h[:6]
        git("gc", "--quiet", "--prune=now")
        assert len(ns) == 40
        assert ns[hs[0]] == "ours " + hs[0][:6] and ns[hs[-1]] == "note 40\n"
        ns[hs[-1]] = "after gc"
        assert git_show(git, hs[-1]) == b"after gc"
        assert list(ns) == sorted(notes_list(git))
        assert_fsck_clean(git.path)

    def test_iteration_is_a_snapshot(self, store):
        hs = commits(store, 5)
        ns = store.notes.commits
        for h in hs:
            ns[h] = h
        seen = []
        for h in ns:
            seen.append(h)
            if len(seen) == 1:
                del ns[sorted(hs)[-1]]
                ns["0" * 40] = "new"
        assert seen == sorted(hs)
        assert list(ns) == ["0" * 40] + sorted(hs)[:-1]

    def test_items_and_values_views(self, store, git):
        """items()/values() are the ABC views, read in one pass of the
        namespace, across git's fan-out and our flat notes alike."""
        from collections.abc import ItemsView, ValuesView
        hs = fast_import_notes(git, 300)
        ns = store.notes.commits
        ns[hs[3]] = "flat \u00fc"
        ns["0" * 40] = ""
        expected = {h: git_show(git, h).decode() for h in notes_list(git)}
        items, values = ns.items(), ns.values()
        assert isinstance(items, ItemsView) and isinstance(values, ValuesView)
        assert list(items) == sorted(expected.items())
        assert list(values) == [expected[h] for h in sorted(expected)]
        assert len(items) == len(values) == 301
        assert (hs[3], "flat \u00fc") in items and (hs[3], "other") not in items
        assert "" in values and "nowhere" not in values
        assert dict(items) == expected
        assert items & {(hs[3], "flat \u00fc")} == {(hs[3], "flat \u00fc")}
        # an iterator is a snapshot of the tip it started on
        it = iter(ns.items())
        first = next(it)
        ns[hs[5]] = "changed later"
        assert [first, *it] == sorted(expected.items())
        assert ns.items() is not ns.items()
        assert list(store.notes["empty"].items()) == []
        assert list(store.notes["empty"].values()) == []


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------

class TestBatch:
    def test_one_commit_for_all_edits(self, store, git):
        hs = commits(store, 4)
        ns = store.notes.commits
        ns[hs[0]] = "old"
        with ns.batch() as b:
            assert isinstance(b, NotesBatch)
            b[hs[1]] = "one"
            b[hs[2]] = "two"
            del b[hs[0]]
            b[hs[3]] = "three"
            b[hs[3]] = "last wins"
        chain = notes_commit_chain(git)
        assert [s for _, _, s in chain] == ["Notes batch update (4 changes)",
                                            f"Notes added by 'git notes' on {hs[0][:7]}"]
        assert dict(ns) == {hs[1]: "one", hs[2]: "two", hs[3]: "last wins"}

    def test_constructor_and_repr(self, store):
        b = NotesBatch(store.notes["x"])
        assert repr(b) == "NotesBatch('x', pending=0)"
        b["a" * 40] = "t"
        assert repr(b) == "NotesBatch('x', pending=1)"
        with b:
            pass
        assert repr(b) == "NotesBatch('x', closed)"
        assert store.notes["x"]["a" * 40] == "t"

    def test_no_reading(self, store):
        b = store.notes.commits.batch()
        with pytest.raises(TypeError):
            b["a" * 40]
        with pytest.raises(TypeError):
            len(b)
        with pytest.raises(TypeError):
            "a" * 40 in b

    def test_nothing_pending_makes_nothing(self, store, git):
        with store.notes.commits.batch():
            pass
        assert not git.ok("rev-parse", "--verify", "-q", "refs/notes/commits")

    def test_exception_aborts(self, store, git):
        h = store.branches["main"].commit_hash
        with pytest.raises(RuntimeError, match="abort"):
            with store.notes.commits.batch() as b:
                b[h] = "no"
                raise RuntimeError("abort")
        assert not git.ok("rev-parse", "--verify", "-q", "refs/notes/commits")

    def test_validation_is_immediate(self, store):
        b = store.notes.commits.batch()
        with pytest.raises(ValueError, match="40-char"):
            b["bad"] = "x"
        with pytest.raises(TypeError, match="Expected str value"):
            b["a" * 40] = 1
        with pytest.raises(TypeError, match="Expected str, got int"):
            del b[5]

    def test_missing_delete_raises_at_exit_and_commits_nothing(self, store, git):
        hs = commits(store, 2)
        with pytest.raises(KeyError):
            with store.notes.commits.batch() as b:
                b[hs[0]] = "x"
                del b[hs[1]]
        assert not git.ok("rev-parse", "--verify", "-q", "refs/notes/commits")

    def test_set_then_delete(self, store, git):
        h = store.branches["main"].commit_hash
        with pytest.raises(KeyError):
            with store.notes.commits.batch() as b:
                b[h] = "x"
                del b[h]
        store.notes.commits[h] = "prior"
        with store.notes.commits.batch() as b:
            b[h] = "x"
            del b[h]
        assert h not in store.notes.commits
        assert notes_commit_chain(git)[0][2] == "Notes batch update (1 changes)"

    def test_delete_then_set(self, store):
        h = store.branches["main"].commit_hash
        store.notes.commits[h] = "prior"
        with store.notes.commits.batch() as b:
            del b[h]
            b[h] = "restored"
        assert store.notes.commits[h] == "restored"

    def test_single_use(self, store, git):
        h = store.branches["main"].commit_hash
        b = store.notes.commits.batch()
        with b:
            b[h] = "once"
        with pytest.raises(RuntimeError, match="closed"):
            b[h] = "twice"
        with pytest.raises(RuntimeError, match="closed"):
            del b[h]
        with pytest.raises(RuntimeError, match="closed"):
            with b:
                pass
        assert len(notes_commit_chain(git)) == 1

    def test_edits_in_one_fanout_bucket_are_cumulative(self, store, git):
        hs = fast_import_notes(git, 300)
        bucket = {}
        for h in hs:
            bucket.setdefault(h[:2], []).append(h)
        same = next(v for v in bucket.values() if len(v) >= 3)
        x, y, z = same[:3]
        with store.notes.commits.batch() as b:
            del b[x]
            b[y] = "y"
            b[z] = "z"
        ns = store.notes.commits
        assert x not in ns and ns[y] == "y" and ns[z] == "z"
        assert len(ns) == 299
        assert list(ns) == sorted(notes_list(git))
        assert git.entry("refs/notes/commits", f"{y[:2]}/{y[2:]}") is None
        assert git.entry("refs/notes/commits", f"{z[:2]}/{z[2:]}") is None
        assert_fsck_clean(git.path)

    def test_batch_uses_the_tip_at_exit(self, store):
        hs = commits(store, 2)
        ns = store.notes.commits
        with ns.batch() as b:
            b[hs[0]] = "batch"
            ns[hs[1]] = "meanwhile"
        assert dict(ns) == {hs[0]: "batch", hs[1]: "meanwhile"}


# ---------------------------------------------------------------------------
# Concurrent writers
# ---------------------------------------------------------------------------

WRITER = """
import sys
from gitstore import GitStore
store = GitStore.open(sys.argv[1], create=False)
ns = store.notes.commits
tag, count = sys.argv[2], int(sys.argv[3])
for i in range(count):
    if i % 5 == 4:
        with ns.batch() as b:
            b[f"{tag}{i:039x}"] = f"{tag} {i}"
    else:
        ns[f"{tag}{i:039x}"] = f"{tag} {i}"
"""


class TestConcurrency:
    def test_two_processes_both_land(self, store, git, tmp_path):
        script = tmp_path / "writer.py"
        script.write_text(WRITER)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        procs = [subprocess.Popen([sys.executable, str(script), str(git.path), tag, "30"],
                                  env=env, stderr=subprocess.PIPE)
                 for tag in ("a", "b")]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err.decode()
        ns = store.notes.commits
        expected = {f"{tag}{i:039x}": f"{tag} {i}" for tag in "ab" for i in range(30)}
        assert dict(ns) == expected
        assert len(notes_commit_chain(git)) == 60
        assert len(reflog_lines(git.path, "refs/notes/commits")) == 60
        assert_fsck_clean(git.path)

    def test_threads_both_land(self, store, git):
        errors = []

        def write(tag):
            try:
                ns = store.notes.commits
                for i in range(25):
                    ns[f"{tag}{i:039x}"] = tag
            except Exception as exc:   # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(t,)) for t in "cdef"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.notes.commits) == 100
        assert len(notes_commit_chain(git)) == 100

    def test_git_moving_the_ref_meanwhile_is_not_lost(self, store, git):
        hs = commits(store, 3)
        ns = store.notes.commits
        ns[hs[0]] = "ours"
        with ns.batch() as b:
            b[hs[1]] = "batch"
            git("notes", "add", "-m", "git's", hs[2])
        assert ns[hs[2]] == "git's\n" and ns[hs[1]] == "batch" and ns[hs[0]] == "ours"


def test_git_run_is_the_oracle(tmp_path):
    # git itself agrees that a namespace this module wrote is a notes ref
    store = GitStore.open(tmp_path / "o.git")
    h = store.branches["main"].commit_hash
    store.notes.commits[h] = "hello"
    out = git_run("--git-dir", tmp_path / "o.git", "log", "--format=%N", "-1", "main").stdout
    assert out.strip() == b"hello"
