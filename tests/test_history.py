"""undo / redo, the reflog contract (one entry per ref move, its message
and identity), RefDict assignment and deletion, and retry_write.

Reflogs are checked three ways: RefDict.reflog, the raw ``logs/`` file and
``git reflog``.
"""

from __future__ import annotations

import shutil
import time
from unittest import mock

import pytest

import gitstore
from gitstore import (
    FS, FileType, GitError, GitStore, ReflogEntry, StaleSnapshotError, retry_write,
)

from support import (
    ZERO_SHA, Commit, Git, assert_fsck_clean, build_repo, loose_object_path, reflog_lines,
)

NAME, EMAIL = "Hist Orian", "hist@example.org"
IDENT = f"{NAME} <{EMAIL}>"


class Env:
    def __init__(self, path):
        self.path = path
        self.before = int(time.time())
        self.store = GitStore.open(path, author=NAME, email=EMAIL)
        self.g = Git(path)
        self.initial = self.store.branches["main"]

    @property
    def fs(self) -> FS:
        return self.store.branches["main"]

    def tip(self, branch: str = "main") -> str:
        return self.g.rev(f"refs/heads/{branch}")

    def messages(self, branch: str = "main") -> list[str]:
        return [e.message for e in self.store.branches.reflog(branch)]

    def git_reflog(self, ref: str = "refs/heads/main") -> list[tuple[str, str]]:
        """(new sha, message) per entry, oldest first, as git reports them."""
        out = self.g.lines("reflog", "show", "--format=%H %gs", ref)
        return [tuple(line.split(" ", 1)) for line in reversed(out)]


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path / "h.git")
    yield e
    assert_fsck_clean(e.path)


def _chain(env, n):
    """n writes on main; returns [initial, s1, ..., sn]."""
    snaps = [env.initial]
    fs = env.initial
    for i in range(1, n + 1):
        fs = fs.write(f"f{i}.txt", b"%d" % i)
        snaps.append(fs)
    return snaps


# ---------------------------------------------------------------------------
# undo
# ---------------------------------------------------------------------------

class TestUndo:
    def test_undo_one(self, env):
        s0, s1, s2 = _chain(env, 2)
        back = s2.undo()
        assert isinstance(back, FS)
        assert back.commit_hash == s1.commit_hash
        assert env.tip() == s1.commit_hash
        assert back.ref_name == "main"
        assert back.writable is True
        assert back.changes is None
        assert back.exists("f1.txt") and not back.exists("f2.txt")
        assert env.messages()[-1] == "undo: move back"
        entry = env.store.branches.reflog("main")[-1]
        assert (entry.old_sha, entry.new_sha) == (s2.commit_hash, s1.commit_hash)

    def test_undo_several_steps_one_entry(self, env):
        s0, s1, s2, s3 = _chain(env, 3)
        back = s3.undo(3)
        assert back.commit_hash == s0.commit_hash
        assert back.message == "Initialize main"
        assert env.messages() == ["commit: + f1.txt", "commit: + f2.txt", "commit: + f3.txt",
                                  "undo: move back"]
        entry = env.store.branches.reflog("main")[-1]
        assert (entry.old_sha, entry.new_sha) == (s3.commit_hash, s0.commit_hash)

    @pytest.mark.parametrize("steps", [0, -1])
    def test_bad_steps(self, env, steps):
        s0, s1 = _chain(env, 1)
        with pytest.raises(ValueError) as ei:
            s1.undo(steps)
        assert str(ei.value) == f"steps must be >= 1, got {steps}"
        assert env.tip() == s1.commit_hash

    def test_history_too_short(self, env):
        s0, s1 = _chain(env, 1)
        with pytest.raises(ValueError) as ei:
            s1.undo(2)
        assert str(ei.value) == "Cannot undo 2 steps - only 1 commit(s) in history"
        with pytest.raises(ValueError) as ei:
            s0.undo()
        assert str(ei.value) == "Cannot undo 1 steps - only 0 commit(s) in history"
        assert env.tip() == s1.commit_hash
        assert env.messages() == ["commit: + f1.txt"]

    def test_stale(self, env):
        s0, s1, s2 = _chain(env, 2)
        with pytest.raises(StaleSnapshotError) as ei:
            s1.undo()
        assert str(ei.value) == "Branch 'main' has advanced since this snapshot"
        assert env.tip() == s2.commit_hash

    def test_readonly(self, env):
        s0, s1 = _chain(env, 1)
        env.store.tags["t"] = s1
        with pytest.raises(PermissionError) as ei:
            env.store.tags["t"].undo()
        assert str(ei.value) == "Cannot undo on read-only snapshot (ref 't')"

    def test_deleted_branch(self, env):
        s0, s1 = _chain(env, 1)
        env.store.branches["gone"] = s1
        gone = env.store.branches["gone"]
        del env.store.branches["gone"]
        with pytest.raises(KeyError):
            gone.undo()

    def test_write_after_undo(self, env):
        s0, s1, s2 = _chain(env, 2)
        back = s2.undo()
        new = back.write("after.txt", b"a")
        assert env.g.rev("main^") == s1.commit_hash
        assert new.parent.commit_hash == s1.commit_hash
        # the old tip is now stale
        with pytest.raises(StaleSnapshotError):
            s2.write("x", b"x")

    def test_parent_snapshot_can_write_after_undo(self, env):
        s0, s1, s2 = _chain(env, 2)
        s2.undo()
        new = s2.parent.write("p.txt", b"p")   # the ancestor is the tip again
        assert new.parent.commit_hash == s1.commit_hash


# ---------------------------------------------------------------------------
# redo
# ---------------------------------------------------------------------------

class TestRedo:
    def test_fresh_store_has_no_reflog(self, env):
        with pytest.raises(ValueError) as ei:
            env.initial.redo()
        assert str(ei.value) == "No reflog found for branch 'main'"

    def test_after_undo(self, env):
        s0, s1, s2 = _chain(env, 2)
        back = s2.undo()
        fwd = back.redo()
        assert fwd.commit_hash == s2.commit_hash
        assert env.tip() == s2.commit_hash
        assert fwd.ref_name == "main" and fwd.writable and fwd.changes is None
        assert env.messages()[-2:] == ["undo: move back", "redo: move forward"]
        entry = env.store.branches.reflog("main")[-1]
        assert (entry.old_sha, entry.new_sha) == (s1.commit_hash, s2.commit_hash)

    def test_after_undo_several(self, env):
        s0, s1, s2, s3 = _chain(env, 3)
        back = s3.undo(2)
        assert back.redo().commit_hash == s3.commit_hash

    def test_multiple_undos_then_multiple_redos(self, env):
        s0, s1, s2, s3 = _chain(env, 3)
        b1 = s3.undo()
        b2 = b1.undo()
        assert b2.commit_hash == s1.commit_hash
        f = b2.redo(2)
        assert f.commit_hash == s3.commit_hash
        assert env.messages()[-3:] == ["undo: move back", "undo: move back",
                                       "redo: move forward"]

    def test_redo_toggles(self, env):
        s0, s1, s2, s3 = _chain(env, 3)
        b = s3.undo().undo()               # at s1
        r1 = b.redo()                      # -> s2
        assert r1.commit_hash == s2.commit_hash
        r2 = r1.redo()                     # the previous reflog position: s1
        assert r2.commit_hash == s1.commit_hash
        r3 = r2.redo()
        assert r3.commit_hash == s2.commit_hash

    def test_after_normal_commit_acts_like_undo(self, env):
        s0, s1, s2 = _chain(env, 2)
        r = s2.redo()
        assert r.commit_hash == s1.commit_hash
        assert env.tip() == s1.commit_hash

    def test_fresh_store_after_one_write(self, env):
        s0, s1 = _chain(env, 1)
        r = s1.redo()
        assert r.commit_hash == s0.commit_hash
        assert r.message == "Initialize main"
        assert env.messages() == ["commit: + f1.txt", "redo: move forward"]

    def test_too_many_steps(self, env):
        s0, s1 = _chain(env, 1)
        tip = env.tip()
        with pytest.raises(ValueError) as ei:
            s1.redo(2)
        assert str(ei.value) == "Cannot redo 2 steps - only 1 step(s) available"
        assert env.tip() == tip

    def test_divergent_history(self, env):
        s0, s1, s2 = _chain(env, 2)
        back = s2.undo()
        s3 = back.write("new.txt", b"n")
        r = s3.redo()
        assert r.commit_hash == s1.commit_hash

    def test_branch_creation_point(self, env):
        s0, s1 = _chain(env, 1)
        env.store.branches["feat"] = s1
        feat = env.store.branches["feat"]
        with pytest.raises(ValueError) as ei:
            feat.redo()
        assert str(ei.value) == ("Cannot redo 1 step(s) \u2014 reaches branch creation point "
                                 "(no prior commit)")
        f2 = feat.write("x", b"x")
        assert f2.redo().commit_hash == s1.commit_hash
        # from s1 (newest entry with new == s1 is the redo itself, old = f2)
        with pytest.raises(ValueError, match="branch creation point"):
            env.store.branches["feat"].redo(3)

    @pytest.mark.parametrize("steps", [0, -3])
    def test_bad_steps(self, env, steps):
        s0, s1 = _chain(env, 1)
        with pytest.raises(ValueError) as ei:
            s1.redo(steps)
        assert str(ei.value) == f"steps must be >= 1, got {steps}"

    def test_stale(self, env):
        s0, s1, s2 = _chain(env, 2)
        back = s2.undo()
        with pytest.raises(StaleSnapshotError, match="advanced"):
            s2.redo()
        assert env.tip() == back.commit_hash

    def test_current_commit_not_in_reflog(self, env):
        s0, s1 = _chain(env, 1)
        other = env.g("commit-tree", f"{s1.commit_hash}^{{tree}}", "-p", s1.commit_hash,
                      "-m", "outside")
        # move the ref behind git's back, without a reflog entry
        (env.path / "refs" / "heads" / "main").write_text(other + "\n")
        snap = env.store.branches["main"]
        assert snap.commit_hash == other
        with pytest.raises(ValueError) as ei:
            snap.redo()
        assert str(ei.value) == ("Cannot redo - current commit not in reflog "
                                 "(you may have a stale snapshot)")

    def test_readonly(self, env):
        s0, s1 = _chain(env, 1)
        env.store.tags["t"] = s1
        with pytest.raises(PermissionError) as ei:
            env.store.tags["t"].redo()
        assert str(ei.value) == "Cannot redo on read-only snapshot (ref 't')"

    def test_deleted_branch(self, env):
        s0, s1 = _chain(env, 1)
        env.store.branches["gone"] = s1
        gone = env.store.branches["gone"]
        del env.store.branches["gone"]
        with pytest.raises(KeyError):
            gone.redo()

    def test_undo_redo_with_batch(self, env):
        fs = env.initial
        with fs.batch() as b:
            b.write("a", b"1")
            b.write("b", b"2")
        one = b.fs
        two = one.write("c", b"3")
        back = two.undo()
        assert back.commit_hash == one.commit_hash
        assert back.redo().commit_hash == two.commit_hash


# ---------------------------------------------------------------------------
# reflog contract
# ---------------------------------------------------------------------------

def _parse_raw(line: str):
    head, message = line.split("\t", 1)
    old, new, rest = head.split(" ", 2)
    ident, secs, tz = rest.rsplit(" ", 2)
    return old, new, ident, int(secs), tz, message


class TestReflog:
    def test_undo_redo_set_reflog_entries(self, env):
        s0 = env.initial
        s1 = s0.write("a.txt", b"a")
        s2 = s1.write("b.txt", b"b", message="second")
        s3 = s2.undo()
        s4 = s3.redo()
        env.store.branches.set("main", s0)
        after = int(time.time())
        expected = ["commit: + a.txt", "commit: second", "undo: move back",
                    "redo: move forward", "branch: set to Initialize main"]
        entries = env.store.branches.reflog("main")
        assert [e.message for e in entries] == expected
        moves = [(s0, s1), (s1, s2), (s2, s3), (s3, s4), (s4, s0)]
        for e, (a, b) in zip(entries, moves):
            assert isinstance(e, ReflogEntry)
            assert (e.old_sha, e.new_sha) == (a.commit_hash, b.commit_hash)
            assert e.committer == IDENT
            assert isinstance(e.timestamp, float)
            assert env.before <= e.timestamp <= after + 1
            assert e.timestamp == int(e.timestamp)
        stamps = [e.timestamp for e in entries]
        assert stamps == sorted(stamps)
        # the raw file
        raw = reflog_lines(env.path)
        assert len(raw) == 5
        for line, e in zip(raw, entries):
            old, new, ident, secs, tz, message = _parse_raw(line)
            assert (old, new, ident, float(secs), tz, message) == (
                e.old_sha, e.new_sha, IDENT, e.timestamp, "+0000", e.message)
        # git agrees
        assert env.git_reflog() == [(e.new_sha, e.message) for e in entries]

    def test_every_write_method_logs_its_message(self, env, tmp_path):
        local = tmp_path / "f"
        local.write_bytes(b"f")
        fs = env.initial
        fs = fs.write("w", b"1")
        fs = fs.write_text("t", "1", message="custom")
        fs = fs.write_from_file("f", local)
        fs = fs.write_symlink("s", "w")
        fs = fs.apply({"x": b"1", "y": b"2"}, removes="w", operation="imp")
        with fs.writer("wr") as w:
            w.write(b"w")
        with w.fs.batch(operation="op") as b:
            b.write("b1", b"1")
            b.write("b2", b"2")
        assert env.messages() == [
            "commit: + w", "commit: custom", "commit: + f", "commit: + s (link)",
            "commit: Batch imp: +2 -1", "commit: + wr", "commit: Batch op: +2"]
        assert [m for _sha, m in env.git_reflog()] == env.messages()

    @pytest.mark.parametrize("message, logged", [
        ("line1\nline2\n\n", "commit: line1 line2"),
        ("subject\n\nbody line\nmore", "commit: subject  body line more"),
        ("trailing spaces   ", "commit: trailing spaces"),
        ("\r\nwindows\r\n", None),
    ])
    def test_multiline_messages_keep_reflog_parseable(self, env, message, logged):
        s1 = env.initial.write("x", b"1", message=message)
        s2 = s1.write("y", b"2")
        entries = env.store.branches.reflog("main")
        assert len(entries) == 2
        assert "\n" not in entries[0].message
        if logged is not None:
            assert entries[0].message == logged
        assert entries[1].message == "commit: + y"
        assert entries[1].old_sha == s1.commit_hash
        # every raw line parses; git reads the log
        for line in reflog_lines(env.path):
            _parse_raw(line)
        assert [sha for sha, _m in env.git_reflog()] == [s1.commit_hash, s2.commit_hash]
        # and redo still works on it
        assert s2.redo().commit_hash == s1.commit_hash
        # the commit itself keeps the message as given
        _h, raw = env.g.commit_header(s1.commit_hash)
        assert raw == (message if message.endswith("\n") else message + "\n").encode()

    def test_no_entry_for_noop_or_rejected_writes(self, env):
        s1 = env.initial.write("x", b"1")
        assert s1.write("x", b"1") is s1
        with pytest.raises(StaleSnapshotError):
            env.initial.write("y", b"2")
        with pytest.raises(KeyError):
            s1.write("y", b"2", message="{nope}")
        assert env.messages() == ["commit: + x"]

    def test_initial_branch_has_no_reflog(self, env):
        with pytest.raises(FileNotFoundError) as ei:
            env.store.branches.reflog("main")
        assert str(ei.value) == "No reflog found for branch 'main'"

    def test_reflog_errors(self, env):
        with pytest.raises(ValueError) as ei:
            env.store.tags.reflog("nope")
        assert str(ei.value) == "Tags do not have reflog"
        with pytest.raises(KeyError):
            env.store.branches.reflog("nope")

    def test_set_to_same_commit_writes_nothing(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.branches["main"] = s1
        assert env.messages() == ["commit: + x"]

    def test_created_and_set_messages(self, env):
        s1 = env.initial.write("x", b"1", message="subject line\n\nbody")
        env.store.branches["feat"] = s1
        log = env.store.branches.reflog("feat")
        assert [(e.old_sha, e.new_sha, e.message) for e in log] == [
            (ZERO_SHA, s1.commit_hash, "branch: Created from subject line")]
        env.store.branches["feat"] = env.initial
        log = env.store.branches.reflog("feat")
        assert log[-1].message == "branch: set to Initialize main"
        assert (log[-1].old_sha, log[-1].new_sha) == (s1.commit_hash, env.initial.commit_hash)
        assert [m for _s, m in env.git_reflog("refs/heads/feat")] == [e.message for e in log]

    def test_tag_creation_log(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.tags["v1"] = s1
        lines = reflog_lines(env.path, "refs/tags/v1")
        assert len(lines) == 1
        old, new, ident, _secs, tz, message = _parse_raw(lines[0])
        assert (old, new, ident, tz, message) == (ZERO_SHA, s1.commit_hash, IDENT, "+0000",
                                                  "branch: Created from + x")

    def test_deleting_removes_reflog(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.branches["feat"] = s1
        env.store.branches["feat"].write("y", b"2")
        assert (env.path / "logs" / "refs" / "heads" / "feat").exists()
        del env.store.branches["feat"]
        assert not (env.path / "logs" / "refs" / "heads" / "feat").exists()
        assert not env.g.ok("reflog", "exists", "refs/heads/feat")
        env.store.branches["feat"] = env.initial
        log = env.store.branches.reflog("feat")
        assert len(log) == 1
        assert log[0].old_sha == ZERO_SHA
        assert log[0].message == "branch: Created from Initialize main"

    def test_deleting_tag_removes_reflog(self, env):
        env.store.tags["v1"] = env.initial
        del env.store.tags["v1"]
        assert reflog_lines(env.path, "refs/tags/v1") == []
        env.store.tags["v1"] = env.initial
        assert len(reflog_lines(env.path, "refs/tags/v1")) == 1

    def test_other_store_identity_in_reflog(self, env):
        other = GitStore.open(env.path, author="Other", email="o@x.org")
        other.branches["main"].write("o", b"o")
        env.fs.write("e", b"e")
        log = env.store.branches.reflog("main")
        assert [e.committer for e in log] == ["Other <o@x.org>", IDENT]
        headers, _ = env.g.commit_header("main~1")
        assert headers["author"][0].startswith("Other <o@x.org> ")


# ---------------------------------------------------------------------------
# RefDict assignment / deletion
# ---------------------------------------------------------------------------

INVALID = ["my branch", "my\tbranch", "my\nbranch", "..foo", "foo.lock", "foo@{bar}",
           "foo~1", "foo^2", "a..b", ".x", "a/.b", "x/", "x.", "", "a\\b", "a?b", "a*b",
           "a[b"]


class TestAssign:
    def test_create_branch(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.branches["feature/x"] = s1
        assert env.tip("feature/x") == s1.commit_hash
        fs = env.store.branches["feature/x"]
        assert fs.ref_name == "feature/x" and fs.writable
        assert "feature/x" in env.store.branches
        assert (env.path / "gitstore.lock").exists()

    def test_set_returns_new_writable_fs(self, env):
        env.store.tags["t"] = env.initial
        tag_fs = env.store.tags["t"]
        out = env.store.branches.set("from-tag", tag_fs)
        assert out is not tag_fs
        assert out.writable is True
        assert out.ref_name == "from-tag"
        assert out.commit_hash == env.initial.commit_hash
        out.write("x", b"1")
        assert env.store.tags["t"].commit_hash == env.initial.commit_hash

    def test_detached_snapshot_accepted(self, env):
        det = FS(env.store, env.initial.commit_hash.encode())
        env.store.branches["det"] = det
        assert env.tip("det") == env.initial.commit_hash

    def test_force_move(self, env):
        s0, s1, s2 = _chain(env, 2)
        env.store.branches["main"] = s0          # backwards, no staleness check
        assert env.tip() == s0.commit_hash
        env.store.branches["main"] = s2          # and forwards again
        assert env.tip() == s2.commit_hash
        assert env.messages()[-2:] == ["branch: set to Initialize main", "branch: set to + f2.txt"]
        # a stale snapshot can still be assigned
        env.store.branches["main"] = s1
        assert env.tip() == s1.commit_hash

    def test_create_tag_is_lightweight(self, env):
        s1 = env.initial.write("x", b"1")
        out = env.store.tags.set("rel/1.0", s1)
        assert out.writable is False
        assert out.ref_name == "rel/1.0"
        assert env.g.cat_type("refs/tags/rel/1.0") == "commit"
        assert env.g.rev("refs/tags/rel/1.0") == s1.commit_hash

    def test_tag_overwrite_refused(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.tags["v1"] = env.initial
        with pytest.raises(KeyError) as ei:
            env.store.tags["v1"] = s1
        assert ei.value.args == ("Tag 'v1' already exists",)
        with pytest.raises(KeyError):
            env.store.tags.set("v1", env.initial)    # even to the same commit
        assert env.g.rev("refs/tags/v1") == env.initial.commit_hash

    @pytest.mark.parametrize("name", INVALID)
    @pytest.mark.parametrize("which", ["branches", "tags"])
    def test_invalid_names(self, env, name, which):
        refs = env.g("for-each-ref")
        with pytest.raises(ValueError) as ei:
            getattr(env.store, which)[name] = env.initial
        assert str(ei.value) == f"Invalid ref name: {name!r}"
        assert env.g("for-each-ref") == refs

    @pytest.mark.parametrize("which", ["branches", "tags"])
    def test_colon(self, env, which):
        with pytest.raises(ValueError) as ei:
            getattr(env.store, which)["my:branch"] = env.initial
        assert str(ei.value) == "Invalid ref name 'my:branch': contains colon"

    @pytest.mark.parametrize("name", ["main2", "feature/my-thing.v2", "<b>evil</b>", "-x", "@",
                                      "héllo"])
    def test_valid_unusual_names(self, env, name):
        env.store.branches[name] = env.initial
        assert name in env.store.branches
        assert env.g.rev(f"refs/heads/{name}") == env.initial.commit_hash

    def test_validation_before_type_check(self, env):
        with pytest.raises(ValueError):
            env.store.branches["a:b"] = "s"
        with pytest.raises(ValueError):
            env.store.branches["bad name"] = 42
        with pytest.raises(ValueError):
            env.store.tags["x."] = None

    @pytest.mark.parametrize("value, tname", [("s", "str"), (42, "int"), (None, "NoneType")])
    def test_type_check(self, env, value, tname):
        with pytest.raises(TypeError) as ei:
            env.store.branches["ok"] = value
        assert str(ei.value) == f"Expected FS, got {tname}"
        with pytest.raises(TypeError):
            env.store.tags.set("ok", value)
        assert "ok" not in env.store.branches

    def test_cross_repo_refused(self, env, tmp_path):
        other = GitStore.open(tmp_path / "other.git")
        ofs = other.branches["main"].write("o", b"o")
        with pytest.raises(ValueError) as ei:
            env.store.branches["x"] = ofs
        assert str(ei.value) == "FS belongs to a different repository"
        with pytest.raises(ValueError):
            env.store.tags["x"] = ofs
        with pytest.raises(ValueError):
            env.store.branches["main"] = ofs
        assert "x" not in env.store.branches
        assert env.tip() == env.initial.commit_hash

    def test_same_repo_other_store_object(self, env):
        other = GitStore.open(env.path)
        ofs = other.branches["main"].write("o", b"o")
        env.store.branches["copy"] = ofs
        assert env.tip("copy") == ofs.commit_hash

    def test_same_repo_through_symlink(self, env, tmp_path):
        link = tmp_path / "alias.git"
        link.symlink_to(env.path)
        via = GitStore.open(link)
        vfs = via.branches["main"].write("v", b"v")
        env.store.branches["from-link"] = vfs
        via.branches["back"] = env.fs
        assert env.tip("from-link") == vfs.commit_hash
        assert env.tip("back") == vfs.commit_hash

    def test_relative_path_same_repo(self, env, monkeypatch):
        monkeypatch.chdir(env.path.parent)
        rel = GitStore.open(env.path.name)
        env.store.branches["rel"] = rel.branches["main"]
        assert env.tip("rel") == env.initial.commit_hash

    def test_mapping_mixins(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.branches.update({"u1": s1, "u2": env.initial})
        assert env.tip("u1") == s1.commit_hash
        assert env.tip("u2") == env.initial.commit_hash
        got = env.store.branches.setdefault("u1", env.initial)
        assert got.commit_hash == s1.commit_hash
        popped = env.store.branches.pop("u2")
        assert popped.commit_hash == env.initial.commit_hash
        assert "u2" not in env.store.branches
        assert not env.g.ok("rev-parse", "--verify", "-q", "refs/heads/u2")

    def test_file_directory_clash_changes_nothing(self, env):
        refs = env.g("for-each-ref")
        with pytest.raises(Exception):
            env.store.branches["main/sub"] = env.initial
        assert env.g("for-each-ref") == refs
        env.store.branches["a/b"] = env.initial
        refs = env.g("for-each-ref")
        with pytest.raises(Exception):
            env.store.branches["a"] = env.initial
        assert env.g("for-each-ref") == refs
        assert "a" not in env.store.branches


class TestDelete:
    def test_delete_branch(self, env):
        env.store.branches["x"] = env.initial
        del env.store.branches["x"]
        assert "x" not in env.store.branches
        assert not env.g.ok("rev-parse", "--verify", "-q", "refs/heads/x")
        with pytest.raises(KeyError):
            env.store.branches["x"]

    def test_delete_missing(self, env):
        with pytest.raises(KeyError) as ei:
            del env.store.branches["nope"]
        assert ei.value.args == ("nope",)
        with pytest.raises(KeyError):
            del env.store.tags["nope"]

    def test_delete_packed_and_loose(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.branches["p"] = s1
        env.store.tags["tp"] = s1
        env.g("pack-refs", "--all")
        env.store.branches["p"].write("y", b"2")        # now loose and packed
        del env.store.branches["p"]
        del env.store.tags["tp"]
        assert env.g.lines("for-each-ref", "--format=%(refname)") == ["refs/heads/main"]
        assert not env.g.ok("rev-parse", "--verify", "-q", "refs/heads/p")

    def test_delete_current_branch(self, env):
        del env.store.branches["main"]
        assert env.store.branches.current_name is None
        assert env.store.branches.current is None
        assert env.g("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_delete_writes_no_reflog_entry(self, env):
        s1 = env.initial.write("x", b"1")
        env.store.branches["f"] = s1
        before = reflog_lines(env.path)
        del env.store.branches["f"]
        assert reflog_lines(env.path) == before


# ---------------------------------------------------------------------------
# retry_write
# ---------------------------------------------------------------------------

class TestRetryWrite:
    def test_basic(self, env):
        out = retry_write(env.store, "main", "r/x.txt", b"data")
        assert isinstance(out, FS)
        assert out.commit_hash == env.tip()
        assert out.read("r/x.txt") == b"data"
        assert out.message == "+ r/x.txt"
        assert gitstore.retry_write is retry_write

    def test_message_and_mode(self, env):
        out = retry_write(env.store, "main", "tool", b"#!", message="m {default}",
                          mode=FileType.EXECUTABLE)
        assert out.message == "m + tool (executable)"
        assert env.g.entry(env.tip(), "tool")[1] == 0o100755

    @pytest.mark.parametrize("retries", [0, -1])
    def test_retries_below_one(self, env, retries):
        with pytest.raises(ValueError):
            retry_write(env.store, "main", "x", b"1", retries=retries)
        assert env.tip() == env.initial.commit_hash

    def test_missing_branch(self, env):
        with pytest.raises(KeyError) as ei:
            retry_write(env.store, "nope", "x", b"1")
        assert ei.value.args == ("nope",)

    def test_retries_on_stale_through_patched_write(self, env):
        real = FS.write
        calls = []

        def flaky(self, path, data, *, message=None, mode=None):
            calls.append(self.commit_hash)
            if len(calls) <= 2:
                # someone else commits first: this snapshot is now stale
                real(env.store.branches["main"], f"other{len(calls)}", b"o")
            return real(self, path, data, message=message, mode=mode)

        sleeps = []
        with mock.patch.object(FS, "write", flaky), \
                mock.patch("time.sleep", side_effect=lambda s: sleeps.append(s)):
            out = retry_write(env.store, "main", "mine", b"m", retries=5)
        assert len(calls) == 3
        assert len(set(calls)) == 3                  # a fresh snapshot each time
        assert out.read("mine") == b"m"
        assert out.exists("other1") and out.exists("other2")
        assert env.tip() == out.commit_hash
        assert len(sleeps) == 2
        for attempt, delay in enumerate(sleeps):
            assert 0 <= delay <= min(0.01 * 2 ** attempt, 0.2)

    def test_gives_up_after_retries(self, env):
        calls = []

        def always_stale(self, *args, **kwargs):
            calls.append(1)
            raise StaleSnapshotError("Branch 'main' has advanced since this snapshot")

        sleeps = []
        with mock.patch.object(FS, "write", always_stale), \
                mock.patch("time.sleep", side_effect=lambda s: sleeps.append(s)):
            with pytest.raises(StaleSnapshotError):
                retry_write(env.store, "main", "x", b"1", retries=7)
        assert len(calls) == 7
        assert len(sleeps) == 6                      # no sleep after the last attempt
        for attempt, delay in enumerate(sleeps):
            assert 0 <= delay <= min(0.01 * 2 ** attempt, 0.2)

    def test_other_errors_not_retried(self, env):
        calls = []

        def broken(self, *args, **kwargs):
            calls.append(1)
            raise PermissionError("nope")

        with mock.patch.object(FS, "write", broken):
            with pytest.raises(PermissionError):
                retry_write(env.store, "main", "x", b"1")
        assert calls == [1]

    def test_patch_is_undone(self, env):
        with mock.patch.object(FS, "write", lambda *a, **k: "patched"):
            assert env.fs.write("x", b"1") == "patched"
            assert retry_write(env.store, "main", "x", b"1") == "patched"
        assert isinstance(env.fs.write("x", b"1"), FS)



# ---------------------------------------------------------------------------
# refs and reflogs written by git, packed refs, foreign locks
# ---------------------------------------------------------------------------

class TestGitInterplay:
    def test_write_on_packed_branch(self, env):
        s1 = env.initial.write("a", b"1")
        env.g("pack-refs", "--all")
        assert not (env.path / "refs" / "heads" / "main").exists()
        s2 = env.store.branches["main"].write("b", b"2")
        assert env.tip() == s2.commit_hash
        with pytest.raises(StaleSnapshotError):
            s1.write("c", b"3")
        assert env.messages() == ["commit: + a", "commit: + b"]

    def test_packed_tag_counts_as_existing(self, env):
        env.g("tag", "vp", env.initial.commit_hash)
        env.g("pack-refs", "--all")
        with pytest.raises(KeyError):
            env.store.tags["vp"] = env.initial

    def test_reflog_entry_written_by_git(self, env):
        s0, s1, s2 = _chain(env, 2)
        env.g("update-ref", "-m", "moved by git", "refs/heads/main", s1.commit_hash)
        log = env.store.branches.reflog("main")
        assert log[-1].message == "moved by git"
        assert (log[-1].old_sha, log[-1].new_sha) == (s2.commit_hash, s1.commit_hash)
        assert env.store.branches["main"].redo().commit_hash == s2.commit_hash

    def test_nested_branch_reflog_and_name_reuse(self, env):
        s1 = env.initial.write("a", b"1")
        env.store.branches["feature/x"] = s1
        assert [e.message for e in env.store.branches.reflog("feature/x")] == [
            "branch: Created from + a"]
        assert env.git_reflog("refs/heads/feature/x") == [
            (s1.commit_hash, "branch: Created from + a")]
        del env.store.branches["feature/x"]
        # the now-empty directories must not block a branch named "feature"
        env.store.branches["feature"] = s1
        assert env.tip("feature") == s1.commit_hash
        assert len(env.store.branches.reflog("feature")) == 1

    def test_foreign_ref_lock_fails_cleanly(self, env):
        s1 = env.initial.write("a", b"1")
        lock = env.path / "refs" / "heads" / "main.lock"
        lock.write_text("held by someone else\n")
        try:
            with pytest.raises(Exception) as ei:
                env.store.branches["main"].write("b", b"2")
            assert not isinstance(ei.value, (KeyError, PermissionError))
            assert env.tip() == s1.commit_hash
            assert env.messages() == ["commit: + a"]
        finally:
            lock.unlink()
        s2 = env.store.branches["main"].write("b", b"2")
        assert env.tip() == s2.commit_hash

    def test_undo_follows_first_parent_of_a_merge(self, tmp_path):
        path = tmp_path / "merge.git"
        shas = build_repo(path, [
            Commit({"a": b"1"}, message="c1\n", label="c1"),
            Commit({"a": b"2"}, message="c2\n", label="c2"),
            Commit({"a": b"1", "s": b"s"}, branch="side", parents=["c1"], message="s1\n",
                   label="s1"),
            Commit({"a": b"2", "s": b"s"}, parents=["c2", "s1"], message="merge\n",
                   label="m"),
        ])
        store = GitStore.open(path, create=False)
        tip = store.branches["main"]
        back = tip.undo()
        assert back.commit_hash == shas["c2"]
        assert Git(path).rev("main") == shas["c2"]
        assert back.redo().commit_hash == shas["m"]
        assert store.branches["main"].undo(2).commit_hash == shas["c1"]
        assert_fsck_clean(path)

    def test_log_and_back_through_a_commit_graph(self, env):
        """History read partly from the commit-graph git wrote, partly (the
        commits written after it) from the objects: the same answers as git."""
        fs = env.initial
        for i in range(1, 31):
            fs = fs.write(f"d{i % 3}/s{i % 2}/f{i % 5}.txt", b"%d" % i)
        env.g("commit-graph", "write", "--reachable")
        assert (env.path / "objects" / "info" / "commit-graph").exists()
        for i in range(31, 41):
            fs = fs.write(f"d{i % 3}/s{i % 2}/f{i % 5}.txt", b"%d" % i)
        fs = env.fs
        for path in ["d1/s0/f2.txt", "d1/s0", "d2", "d0/s1/f3.txt/x", "none"]:
            want = env.g.lines("log", "--first-parent", "--format=%H", "main", "--", path)
            assert [s.commit_hash for s in fs.log(path=path)] == want, path
        for n in [0, 1, 9, 10, 11, 40]:
            assert fs.back(n).commit_hash == env.g.rev(f"main~{n}")
        with pytest.raises(ValueError, match="history too short"):
            fs.back(41)

    def test_log_and_back_through_packs_and_loose_objects(self, tmp_path):
        """History in one pack git fast-import wrote (trees deltified, no
        commit-graph), the same repacked by git with deltas recomputed,
        and the same as loose objects plus packs gitstore wrote on top:
        the same answers as git, each walked twice (the second time from
        the links the first one kept)."""
        first = tmp_path / "fi.git"
        commits = [Commit({f"d{i % 3}/s{i % 2}/f{i % 5}.txt": b"%d" % i for i in range(8)},
                          time=1700000000)]
        for i in range(1, 60):
            files = dict(commits[-1].files)
            files[f"d{i % 3}/s{i % 2}/f{i % 5}.txt"] = b"v%d" % i
            if i % 7 == 0:
                files.pop(f"d{i % 3}/s{(i + 1) % 2}/f{i % 5}.txt", None)
            commits.append(Commit(files, time=1700000000 + i,
                                  message=f"commit {i}\n\n" + "a long body\n" * 200))
        build_repo(first, commits)
        repacked, loose = tmp_path / "repacked.git", tmp_path / "loose.git"
        shutil.copytree(first, repacked)
        Git(repacked)("repack", "-a", "-d", "-f", "-q", "--window=50", "--depth=50")
        shutil.copytree(first, loose)
        pack = next((loose / "objects" / "pack").glob("*.pack"))
        data = pack.read_bytes()
        for f in (loose / "objects" / "pack").iterdir():
            f.unlink()
        Git(loose).raw("unpack-objects", "-q", input=data)
        fs = GitStore.open(loose, create=False).branches["main"]
        for i in range(5):
            fs = fs.write(f"d{i % 3}/s1/f{i}.txt", b"new %d" % i)
        for path in (first, repacked, loose):
            g = Git(path)
            assert not (path / "objects" / "info" / "commit-graph").exists()
            top = int(g("rev-list", "--count", "main"))
            for _ in range(2):
                fs = GitStore.open(path, create=False).branches["main"]
                for p in ["d1/s0/f2.txt", "d1/s1", "d2", "d0/s1/f3.txt/x", "none",
                          "d0/s0/f0.txt"]:
                    want = g.lines("log", "--first-parent", "--format=%H", "main", "--", p)
                    assert [s.commit_hash for s in fs.log(path=p)] == want, (path, p)
                for n in [0, 1, 25, top - 2, top - 1]:
                    assert fs.back(n).commit_hash == g.rev(f"main~{n}")
                with pytest.raises(ValueError, match="history too short"):
                    fs.back(top)

    def test_back_reads_each_repository_for_itself(self, tmp_path):
        """Two repositories holding the same commits: what back() learnt
        in one does not stand in for a commit missing from the other."""
        commits = [Commit({"a": b"%d" % i}, label=f"c{i}") for i in range(4)]
        shas = build_repo(tmp_path / "one.git", commits)
        assert build_repo(tmp_path / "two.git", commits) == shas
        one = GitStore.open(tmp_path / "one.git", create=False).branches["main"]
        assert one.back(3).commit_hash == shas["c0"]
        two = tmp_path / "two.git"
        g = Git(two)
        g("repack", "-a", "-d", "-q")
        pack = next((two / "objects" / "pack").glob("*.pack"))
        data = pack.read_bytes()
        for f in (two / "objects" / "pack").iterdir():
            f.unlink()
        g.raw("unpack-objects", "-q", input=data)
        loose_object_path(two, shas["c1"]).unlink()
        fs = GitStore.open(two, create=False).branches["main"]
        assert fs.back(1).commit_hash == shas["c2"]
        with pytest.raises(GitError):
            fs.back(3)
        with pytest.raises(GitError):
            list(fs.log(path="a"))
