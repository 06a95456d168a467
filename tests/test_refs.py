"""RefDict, read side: branches, tags, HEAD and reflogs.

The repositories are built by git (fast-import, update-ref, symbolic-ref,
pack-refs, hand-written loose objects) and git is the oracle.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import pytest

from gitstore import FS, GitError, GitStore, ReflogEntry

from support import (
    ZERO_SHA, Commit, Git, Tag, build_repo, tag_body, write_loose_object,
)


def _build_refs_repo(path):
    """main (2 commits), feature/x, feature-a, feature.b, alpha, zeta, loose,
    alias (symbolic -> main), treebranch (points at a tree, written by hand);
    tags v1 (light), v2 (annotated), v3 (tag of v2), v4 (tag of v3),
    rel/1.0 (light, nested name), treetag (light -> tree), blobtag (light ->
    blob), annotree (annotated -> tree); refs outside heads/tags.  Refs are
    packed, then some are written loose again (zeta moves)."""
    shas = build_repo(path, [
        Commit({"a.txt": b"one\n"}, message="first\n", time=1700000000, label="c1"),
        Commit({"a.txt": b"two\n"}, message="second\n", time=1700000100, label="c2"),
        Commit({"f.txt": b"f\n"}, branch="feature/x", parents=["c1"], message="feature\n",
               time=1700000200, label="fx"),
    ], tags=[Tag("v2", "c2", message="release two\n")], lightweight={"v1": "c1", "rel/1.0": "c2"})
    g = Git(path)
    c1, c2 = shas["c1"], shas["c2"]
    tree1 = g.rev(f"{c1}^{{tree}}")
    blob = g.rev(f"{c1}:a.txt")
    v2 = g.rev("refs/tags/v2")
    v3 = write_loose_object(path, "tag", tag_body(v2, "tag", "v3", "nested once\n"))
    v4 = write_loose_object(path, "tag", tag_body(v3, "tag", "v4", "nested twice\n"))
    annotree = write_loose_object(path, "tag", tag_body(tree1, "tree", "annotree"))
    for name, target in [("v3", v3), ("v4", v4), ("annotree", annotree), ("treetag", tree1),
                         ("blobtag", blob)]:
        g("update-ref", f"refs/tags/{name}", target)
    for name, target in [("feature-a", c1), ("feature.b", c2), ("alpha", c1), ("zeta", c1)]:
        g("update-ref", f"refs/heads/{name}", target)
    g("update-ref", "refs/remotes/origin/main", c1)
    g("update-ref", "refs/other/thing", c2)
    g("update-ref", "refs/notes/commits", c1)
    g("pack-refs", "--all")
    # loose again after packing: a new branch, and zeta moved (packed value stale)
    g("update-ref", "refs/heads/loose", c2)
    g("update-ref", "refs/heads/zeta", c2)
    g("symbolic-ref", "refs/heads/alias", "refs/heads/main")
    (path / "refs" / "heads" / "treebranch").write_text(tree1 + "\n")
    shas.update(tree1=tree1, blob=blob, v2=v2, v3=v3, v4=v4, annotree=annotree)
    return shas


BRANCHES = sorted(["main", "feature/x", "feature-a", "feature.b", "alpha", "zeta", "loose",
                   "alias", "treebranch"])
TAGS = sorted(["v1", "v2", "v3", "v4", "rel/1.0", "treetag", "blobtag", "annotree"])


@pytest.fixture(scope="module")
def refs_repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("refs") / "refs.git"
    shas = _build_refs_repo(path)
    return path, shas


@pytest.fixture(scope="module")
def store(refs_repo):
    return GitStore.open(refs_repo[0], create=False)


@pytest.fixture
def fresh(tmp_path):
    """A private copy for tests that move HEAD."""
    path = tmp_path / "refs.git"
    shas = _build_refs_repo(path)
    return path, shas, GitStore.open(path, create=False)


# ---------------------------------------------------------------------------
# Mapping protocol
# ---------------------------------------------------------------------------

class TestMappingBasics:
    def test_is_a_mutable_mapping(self, store):
        assert isinstance(store.branches, MutableMapping)
        assert isinstance(store.tags, MutableMapping)
        assert isinstance(store.branches, Mapping)

    def test_fixture_matches_git(self, refs_repo):
        g = Git(refs_repo[0])
        heads = [r[len("refs/heads/"):] for r in
                 g.lines("for-each-ref", "--format=%(refname)", "refs/heads/")]
        tags = [r[len("refs/tags/"):] for r in
                g.lines("for-each-ref", "--format=%(refname)", "refs/tags/")]
        assert sorted(heads) == BRANCHES
        assert sorted(tags) == TAGS

    def test_iteration_is_sorted_and_complete(self, store):
        assert list(store.branches) == BRANCHES
        assert list(store.tags) == TAGS

    def test_iteration_sorted_bytewise(self, store):
        names = list(store.branches)
        encoded = [n.encode() for n in names]
        assert encoded == sorted(encoded)
        # '-' < '.' < '/' bytewise
        assert names.index("feature-a") < names.index("feature.b") < names.index("feature/x")

    def test_keys(self, store):
        assert list(store.branches.keys()) == BRANCHES
        assert list(store.tags.keys()) == TAGS

    def test_len(self, store):
        assert len(store.branches) == len(BRANCHES)
        assert len(store.tags) == len(TAGS)  # non-commit tags are counted

    def test_no_foreign_refs(self, store):
        everything = set(store.branches) | set(store.tags)
        assert "HEAD" not in everything
        assert not any(n.startswith(("origin", "refs/", "remotes")) for n in everything)
        assert "commits" not in everything
        assert "thing" not in everything

    def test_repr(self, store):
        assert repr(store.branches) == f"RefDict('branches', len={len(BRANCHES)})"
        assert repr(store.tags) == f"RefDict('tags', len={len(TAGS)})"

    def test_contains(self, store):
        for name in BRANCHES:
            assert name in store.branches
        for name in TAGS:
            assert name in store.tags
        assert "v1" not in store.branches
        assert "main" not in store.tags
        assert "nope" not in store.branches
        assert "feature" not in store.branches  # a directory of refs, not a ref

    @pytest.mark.parametrize("key", [1, None, 3.5, ("main",)])
    def test_contains_non_string_is_false(self, store, key):
        assert (key in store.branches) is False
        assert (key in store.tags) is False

    def test_get(self, store, refs_repo):
        shas = refs_repo[1]
        fs = store.branches.get("main")
        assert isinstance(fs, FS)
        assert fs.commit_hash == shas["c2"]
        assert store.branches.get("nope") is None
        assert store.branches.get("nope", 42) == 42
        assert store.tags.get("v1").commit_hash == shas["c1"]
        assert store.tags.get("nope", "d") == "d"

    def test_get_does_not_swallow_value_error(self, store):
        with pytest.raises(ValueError):
            store.tags.get("treetag")

    def test_values_and_items(self, fresh):
        path, shas, store = fresh
        g = Git(path)
        for name in ["treetag", "blobtag", "annotree", "treebranch"]:
            g("update-ref", "-d", f"refs/{'heads' if name == 'treebranch' else 'tags'}/{name}")
        expected_b = {n: g.rev(f"refs/heads/{n}") for n in BRANCHES if n != "treebranch"}
        values = list(store.branches.values())
        assert [v.commit_hash for v in values] == [expected_b[n] for n in sorted(expected_b)]
        items = list(store.branches.items())
        assert [k for k, _ in items] == sorted(expected_b)
        for k, v in items:
            assert isinstance(v, FS)
            assert v.ref_name == k
            assert v.writable is True
            assert v.commit_hash == expected_b[k]
        tag_items = dict(store.tags.items())
        assert sorted(tag_items) == sorted(["v1", "v2", "v3", "v4", "rel/1.0"])
        for k, v in tag_items.items():
            assert v.writable is False
            assert v.ref_name == k
            assert v.commit_hash == g.rev(f"refs/tags/{k}^{{commit}}")

    def test_values_propagate_non_commit_tag_error(self, store):
        with pytest.raises(ValueError):
            list(store.tags.values())


# ---------------------------------------------------------------------------
# __getitem__
# ---------------------------------------------------------------------------

class TestGetBranches:
    @pytest.mark.parametrize("name", ["main", "feature/x", "feature-a", "feature.b", "alpha",
                                      "loose"])
    def test_branch_snapshot_matches_git(self, store, refs_repo, name):
        g = Git(refs_repo[0])
        fs = store.branches[name]
        assert isinstance(fs, FS)
        assert fs.commit_hash == g.rev(f"refs/heads/{name}")
        assert fs.tree_hash == g.rev(f"refs/heads/{name}^{{tree}}")
        assert fs.ref_name == name
        assert fs.writable is True

    def test_loose_ref_wins_over_stale_packed_value(self, store, refs_repo):
        path, shas = refs_repo
        assert f"{shas['c1']} refs/heads/zeta" in (path / "packed-refs").read_text()
        assert store.branches["zeta"].commit_hash == shas["c2"]

    def test_packed_only_ref(self, store, refs_repo):
        path, shas = refs_repo
        assert not (path / "refs" / "heads" / "alpha").exists()
        assert store.branches["alpha"].commit_hash == shas["c1"]

    def test_symbolic_branch_is_followed(self, store, refs_repo):
        assert store.branches["alias"].commit_hash == refs_repo[1]["c2"]

    def test_every_call_builds_a_new_object(self, store):
        a = store.branches["main"]
        b = store.branches["main"]
        assert a is not b
        assert a.commit_hash == b.commit_hash

    def test_missing_branch(self, store):
        with pytest.raises(KeyError) as ei:
            store.branches["nope"]
        assert ei.value.args == ("nope",)

    def test_tag_name_is_not_a_branch(self, store):
        with pytest.raises(KeyError):
            store.branches["v1"]

    def test_branch_pointing_at_a_tree(self, store):
        assert "treebranch" in store.branches
        with pytest.raises((ValueError, GitError)):
            store.branches["treebranch"]


class TestGetTags:
    def test_lightweight_tag(self, store, refs_repo):
        fs = store.tags["v1"]
        assert isinstance(fs, FS)
        assert fs.commit_hash == refs_repo[1]["c1"]
        assert fs.ref_name == "v1"
        assert fs.writable is False

    def test_nested_tag_name(self, store, refs_repo):
        fs = store.tags["rel/1.0"]
        assert fs.commit_hash == refs_repo[1]["c2"]
        assert fs.ref_name == "rel/1.0"

    @pytest.mark.parametrize("name", ["v2", "v3", "v4"])
    def test_annotated_tags_are_peeled(self, store, refs_repo, name):
        g = Git(refs_repo[0])
        assert g.cat_type(f"refs/tags/{name}") == "tag"
        fs = store.tags[name]
        assert fs.commit_hash == g.rev(f"refs/tags/{name}^{{commit}}") == refs_repo[1]["c2"]
        assert fs.writable is False
        assert fs.ref_name == name
        assert fs.message == "second"

    @pytest.mark.parametrize("name", ["treetag", "blobtag", "annotree"])
    def test_tag_to_non_commit(self, store, name):
        assert name in store.tags
        with pytest.raises(ValueError) as ei:
            store.tags[name]
        assert str(ei.value) == f"Tag {name!r} does not point to a commit"

    def test_missing_tag(self, store):
        with pytest.raises(KeyError) as ei:
            store.tags["v9"]
        assert ei.value.args == ("v9",)

    def test_branch_name_is_not_a_tag(self, store):
        with pytest.raises(KeyError):
            store.tags["main"]

    def test_tag_snapshot_is_new_each_time(self, store):
        assert store.tags["v2"] is not store.tags["v2"]


class TestOddNames:
    def test_quote_and_unicode_branch_names(self, tmp_path):
        path = tmp_path / "q.git"
        shas = build_repo(path, [Commit({"a": b"a"}, label="c")])
        g = Git(path)
        for name in ["it's", "héllo/wörld", "<b>evil</b>"]:
            g("update-ref", f"refs/heads/{name}", shas["c"])
        store = GitStore.open(path, create=False)
        assert list(store.branches) == sorted(["it's", "héllo/wörld", "<b>evil</b>", "main"])
        fs = store.branches["it's"]
        assert repr(fs) == f"FS(ref_name=\"it's\", commit={shas['c'][:7]})"
        assert store.branches["héllo/wörld"].ref_name == "héllo/wörld"
        with pytest.raises(KeyError) as ei:
            store.branches["héllo/nöpe"]
        assert ei.value.args == ("héllo/nöpe",)
        with pytest.raises(KeyError) as ei:
            store.branches.current = "it's not"
        assert ei.value.args == ('Branch not found: "it\'s not"',)


class TestTagChains:
    def _chain(self, tmp_path, depth):
        path = tmp_path / "chain.git"
        shas = build_repo(path, [Commit({"a": b"a"}, label="c")])
        target, ttype = shas["c"], "commit"
        for i in range(depth):
            target = write_loose_object(path, "tag", tag_body(target, ttype, f"t{i}"))
            ttype = "tag"
        Git(path)("update-ref", "refs/tags/deep", target)
        return path, shas["c"]

    def test_chain_of_49_annotated_tags_resolves(self, tmp_path):
        path, commit = self._chain(tmp_path, 49)
        assert Git(path).rev("refs/tags/deep^{commit}") == commit
        store = GitStore.open(path, create=False)
        assert store.tags["deep"].commit_hash == commit

    def test_chain_of_50_annotated_tags_is_rejected(self, tmp_path):
        path, _commit = self._chain(tmp_path, 50)
        store = GitStore.open(path, create=False)
        with pytest.raises(ValueError) as ei:
            store.tags["deep"]
        assert str(ei.value) == "Tag 'deep' does not point to a commit"


class TestInvalidNamesBehaveAsMissing:
    """Lookups with names git would reject find nothing (KeyError, False),
    even when the file system path they form exists."""

    NAMES = [
        "../heads/main",
        "../heads/loose",     # refs/heads/../heads/loose == refs/heads/loose (a loose file)
        "feature/../zeta",    # == refs/heads/zeta on disk
        "./loose",
        "../../HEAD",
        "../../config",
        "../tags/v1",
        "",
        "a..b",
        ".hidden",
        "x.lock",
        "a b",
        "a:b",
        "x~1",
        "x^1",
        "@{u}",
        "a\\b",
        "main/",
        "/main",
        "feature//x",
        "feature/./x",
        "main.",
        "a?b",
        "a*b",
        "a[b",
        "a\tb",
    ]

    @pytest.mark.parametrize("name", NAMES)
    def test_branches(self, store, name):
        assert (name in store.branches) is False
        with pytest.raises(KeyError):
            store.branches[name]
        assert store.branches.get(name) is None

    @pytest.mark.parametrize("name", ["../heads/main", "../../HEAD", "../tags/v1", "./v1", "v1/",
                                      "/v1", ""])
    def test_tags(self, store, name):
        assert (name in store.tags) is False
        with pytest.raises(KeyError):
            store.tags[name]
        assert store.tags.get(name, "missing") == "missing"

    def test_current_setter_with_invalid_name(self, fresh):
        path, _shas, store = fresh
        with pytest.raises(KeyError):
            store.branches.current = "../heads/main"
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_reflog_with_invalid_name(self, fresh):
        path, shas, store = fresh
        Git(path)("update-ref", "-m", "x", "--create-reflog", "refs/heads/main", shas["c2"],
                  shas["c2"])
        with pytest.raises(KeyError):
            store.branches.reflog("../heads/main")


# ---------------------------------------------------------------------------
# HEAD: current_name, current, current setter
# ---------------------------------------------------------------------------

class TestCurrent:
    def test_current_name_and_current(self, store, refs_repo):
        assert store.branches.current_name == "main"
        fs = store.branches.current
        assert isinstance(fs, FS)
        assert fs.ref_name == "main"
        assert fs.writable is True
        assert fs.commit_hash == refs_repo[1]["c2"]

    def test_tags_have_no_current(self, store):
        with pytest.raises(ValueError) as ei:
            store.tags.current_name
        assert str(ei.value) == "Tags do not have a current branch"
        with pytest.raises(ValueError) as ei:
            store.tags.current
        assert str(ei.value) == "Tags do not have a current branch"

    def test_tags_current_setter(self, fresh):
        path, _shas, store = fresh
        with pytest.raises(ValueError) as ei:
            store.tags.current = "v1"
        assert str(ei.value) == "Tags do not have a current branch"
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_head_on_nested_branch(self, fresh):
        path, shas, store = fresh
        Git(path)("symbolic-ref", "HEAD", "refs/heads/feature/x")
        assert store.branches.current_name == "feature/x"
        assert store.branches.current.commit_hash == shas["fx"]

    def test_head_on_packed_only_branch(self, fresh):
        path, shas, store = fresh
        Git(path)("symbolic-ref", "HEAD", "refs/heads/alpha")
        assert store.branches.current_name == "alpha"
        assert store.branches.current.commit_hash == shas["c1"]

    def test_dangling_head(self, fresh):
        path, _shas, store = fresh
        Git(path)("symbolic-ref", "HEAD", "refs/heads/nope")
        assert store.branches.current_name is None
        assert store.branches.current is None

    def test_detached_head(self, fresh):
        path, shas, store = fresh
        Git(path)("update-ref", "--no-deref", "HEAD", shas["c1"])
        assert (path / "HEAD").read_text().strip() == shas["c1"]
        assert store.branches.current_name is None
        assert store.branches.current is None

    def test_head_on_a_tag(self, fresh):
        path, _shas, store = fresh
        (path / "HEAD").write_text("ref: refs/tags/v1\n")
        assert store.branches.current_name is None
        assert store.branches.current is None

    def test_current_branch_deleted(self, fresh):
        path, _shas, store = fresh
        assert store.branches.current_name == "main"
        Git(path)("update-ref", "-d", "refs/heads/main")
        assert store.branches.current_name is None
        assert store.branches.current is None

    def test_current_returns_new_snapshot(self, store):
        assert store.branches.current is not store.branches.current

    def test_setter_moves_head(self, fresh):
        path, shas, store = fresh
        store.branches.current = "feature/x"
        g = Git(path)
        assert g("symbolic-ref", "HEAD") == "refs/heads/feature/x"
        assert store.branches.current_name == "feature/x"
        assert store.branches.current.commit_hash == shas["fx"]
        assert not (path / "logs" / "HEAD").exists()
        # a second store on the same path sees it too
        assert GitStore.open(path, create=False).branches.current_name == "feature/x"

    def test_setter_to_packed_branch(self, fresh):
        path, _shas, store = fresh
        store.branches.current = "alpha"
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/alpha"

    def test_setter_from_dangling_head(self, fresh):
        path, _shas, store = fresh
        Git(path)("symbolic-ref", "HEAD", "refs/heads/gone")
        store.branches.current = "main"
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"
        assert store.branches.current_name == "main"

    def test_setter_missing_branch(self, fresh):
        path, _shas, store = fresh
        with pytest.raises(KeyError) as ei:
            store.branches.current = "x"
        assert ei.value.args == ("Branch not found: 'x'",)
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_setter_with_tag_name(self, fresh):
        path, _shas, store = fresh
        with pytest.raises(KeyError) as ei:
            store.branches.current = "v1"
        assert ei.value.args == ("Branch not found: 'v1'",)
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_setter_with_snapshot_instead_of_name(self, fresh):
        path, _shas, store = fresh
        fs = store.branches["feature/x"]
        with pytest.raises(KeyError):
            store.branches.current = fs
        assert Git(path)("symbolic-ref", "HEAD") == "refs/heads/main"


# ---------------------------------------------------------------------------
# reflog()
# ---------------------------------------------------------------------------

def _git_move(path, ref, new, msg, when, name="Rita Reflog", email="rita@example.net",
              old=None):
    env = {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when}
    args = ["update-ref", "--create-reflog", "-m", msg, ref, new]
    if old is not None:
        args.append(old)
    Git(path)(*args, env=env)


class TestReflog:
    def test_tags_have_no_reflog(self, store):
        for name in ["v1", "nope"]:
            with pytest.raises(ValueError) as ei:
                store.tags.reflog(name)
            assert str(ei.value) == "Tags do not have reflog"

    def test_missing_branch(self, store):
        with pytest.raises(KeyError) as ei:
            store.branches.reflog("nope")
        assert ei.value.args == ("nope",)

    def test_no_reflog(self, store, refs_repo):
        assert not (refs_repo[0] / "logs" / "refs" / "heads" / "main").exists()
        with pytest.raises(FileNotFoundError) as ei:
            store.branches.reflog("main")
        assert str(ei.value) == "No reflog found for branch 'main'"

    def test_empty_reflog_file(self, fresh):
        path, _shas, store = fresh
        log = path / "logs" / "refs" / "heads" / "feature" / "x"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"")
        with pytest.raises(FileNotFoundError) as ei:
            store.branches.reflog("feature/x")
        assert str(ei.value) == "No reflog found for branch 'feature/x'"

    def test_entries_written_by_git(self, fresh):
        path, shas, store = fresh
        c1, c2 = shas["c1"], shas["c2"]
        _git_move(path, "refs/heads/logged", c1, "branch: Created from first",
                  "1700000100 +0530")
        _git_move(path, "refs/heads/logged", c2, "commit: + a.txt", "1700000200 -0800",
                  name="Zoë Ünicode", email="zoe@example.org")
        _git_move(path, "refs/heads/logged", c1, "undo: move back", "1700000300 +0000")
        entries = store.branches.reflog("logged")
        assert entries == [
            ReflogEntry(ZERO_SHA, c1, "Rita Reflog <rita@example.net>", 1700000100.0,
                        "branch: Created from first"),
            ReflogEntry(c1, c2, "Zoë Ünicode <zoe@example.org>", 1700000200.0,
                        "commit: + a.txt"),
            ReflogEntry(c2, c1, "Rita Reflog <rita@example.net>", 1700000300.0,
                        "undo: move back"),
        ]
        for e in entries:
            assert isinstance(e, ReflogEntry)
            assert type(e.timestamp) is float
            assert isinstance(e.old_sha, str) and isinstance(e.new_sha, str)
        # git agrees on the order (git lists newest first)
        git_view = Git(path).lines("reflog", "show", "--format=%H %gs", "refs/heads/logged")
        assert [f"{e.new_sha} {e.message}" for e in reversed(entries)] == git_view

    def test_entry_field_order(self, fresh):
        path, shas, store = fresh
        _git_move(path, "refs/heads/logged", shas["c1"], "m", "1700000000 +0000")
        (e,) = store.branches.reflog("logged")
        assert (e.old_sha, e.new_sha, e.committer, e.timestamp, e.message) == (
            ZERO_SHA, shas["c1"], "Rita Reflog <rita@example.net>", 1700000000.0, "m")

    def test_reflog_of_nested_and_packed_branch(self, fresh):
        path, shas, store = fresh
        _git_move(path, "refs/heads/feature/x", shas["c2"], "moved", "1700000500 +0100",
                  old=shas["fx"])
        (e,) = store.branches.reflog("feature/x")
        assert (e.old_sha, e.new_sha, e.message, e.timestamp) == (
            shas["fx"], shas["c2"], "moved", 1700000500.0)

    def test_hand_written_reflog(self, fresh):
        path, shas, store = fresh
        c1, c2 = shas["c1"], shas["c2"]
        log = path / "logs" / "refs" / "heads" / "alpha"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(
            f"{ZERO_SHA} {c1} Some One <one@x.org> 1600000000 +1245\tfirst line\n"
            f"{c1} {c2} Some One <one@x.org> 1600000001 -0330\tspaces  inside   kept\n"
            f"{c2} {c1} Some One <one@x.org> 1600000002 +0000\tbranch: set to x: y\n"
            .encode()
        )
        entries = store.branches.reflog("alpha")
        assert [(e.old_sha, e.new_sha) for e in entries] == [(ZERO_SHA, c1), (c1, c2), (c2, c1)]
        assert [e.timestamp for e in entries] == [1600000000.0, 1600000001.0, 1600000002.0]
        assert [e.message for e in entries] == [
            "first line", "spaces  inside   kept", "branch: set to x: y"]
        assert {e.committer for e in entries} == {"Some One <one@x.org>"}

    def test_reflog_entry_without_message(self, fresh):
        path, shas, store = fresh
        log = path / "logs" / "refs" / "heads" / "alpha"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(f"{ZERO_SHA} {shas['c1']} A <a@b> 1600000000 +0000\n".encode())
        (e,) = store.branches.reflog("alpha")
        assert e.message == ""
        assert e.new_sha == shas["c1"]

    def test_reading_reflog_writes_nothing(self, fresh):
        path, shas, store = fresh
        _git_move(path, "refs/heads/logged", shas["c1"], "m", "1700000000 +0000")
        log = path / "logs" / "refs" / "heads" / "logged"
        before = log.read_bytes()
        store.branches.reflog("logged")
        store.branches.reflog("logged")
        assert log.read_bytes() == before
