"""GitStore.open: creating and opening repositories.

Every new repository is inspected with the git command line.
"""

from __future__ import annotations

import os
import pathlib
import time

import pytest

import gitstore
from gitstore import FS, GitError, GitStore

from support import EMPTY_TREE, Commit, Git, build_repo, git_run


class _PathLike:
    def __init__(self, p):
        self._p = str(p)

    def __fspath__(self):
        return self._p


def _initial_commit_bytes(branch: str, ident: str, when: int) -> bytes:
    return (
        f"tree {EMPTY_TREE}\n"
        f"author {ident} {when} +0000\n"
        f"committer {ident} {when} +0000\n"
        f"encoding UTF-8\n"
        f"\n"
        f"Initialize {branch}\n"
    ).encode()


# ---------------------------------------------------------------------------
# Creating a store
# ---------------------------------------------------------------------------

class TestCreateDefault:
    @pytest.fixture
    def created(self, tmp_path):
        path = tmp_path / "new.git"
        before = int(time.time())
        store = GitStore.open(path)
        after = int(time.time())
        return path, store, before, after

    def test_directory_is_a_bare_repository(self, created):
        path, _store, _b, _a = created
        assert path.is_dir()
        assert Git(path)("rev-parse", "--is-bare-repository") == "true"

    def test_head_is_symbolic_to_main(self, created):
        path, _store, _b, _a = created
        g = Git(path)
        assert g("symbolic-ref", "HEAD") == "refs/heads/main"
        assert (path / "HEAD").read_text().strip() == "ref: refs/heads/main"

    def test_only_ref_is_main(self, created):
        path, _store, _b, _a = created
        assert Git(path).lines("for-each-ref", "--format=%(refname)") == ["refs/heads/main"]

    def test_initial_commit_exact_bytes(self, created):
        path, _store, before, after = created
        g = Git(path)
        sha = g.rev("refs/heads/main")
        assert g.cat_type(sha) == "commit"
        raw = g.raw("cat-file", "commit", sha)
        headers, message = g.commit_header(sha)
        when = int(headers["committer"][0].rsplit(" ", 2)[1])
        assert before <= when <= after + 1
        assert raw == _initial_commit_bytes("main", "gitstore <gitstore@localhost>", when)
        assert message == b"Initialize main\n"
        assert "parent" not in headers

    def test_initial_commit_has_empty_tree(self, created):
        path, _store, _b, _a = created
        g = Git(path)
        assert g.rev("main^{tree}") == EMPTY_TREE
        assert g.cat_type(EMPTY_TREE) == "tree"
        assert g.raw("cat-file", "tree", EMPTY_TREE) == b""

    def test_exactly_one_commit(self, created):
        path, _store, _b, _a = created
        assert len(Git(path).lines("rev-list", "--all")) == 1

    def test_fsck_strict_is_clean(self, created):
        path, _store, _b, _a = created
        proc = git_run("--git-dir", path, "fsck", "--strict", "--no-dangling", "--no-progress",
                       check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        assert b"error" not in proc.stderr.lower()
        assert b"warning" not in proc.stderr.lower()

    def test_no_reflog_for_initial_branch(self, created):
        path, store, _b, _a = created
        log = path / "logs" / "refs" / "heads" / "main"
        assert not log.exists() or log.read_bytes() == b""
        assert not (path / "logs" / "HEAD").exists() or (path / "logs" / "HEAD").read_bytes() == b""
        assert Git(path)("reflog", "show", "--format=%H", "refs/heads/main") == ""
        with pytest.raises(FileNotFoundError) as ei:
            store.branches.reflog("main")
        assert str(ei.value) == "No reflog found for branch 'main'"

    def test_store_view_of_new_repo(self, created):
        path, store, _b, _a = created
        g = Git(path)
        assert list(store.branches) == ["main"]
        assert len(store.branches) == 1
        assert len(store.tags) == 0
        assert list(store.tags) == []
        assert store.branches.current_name == "main"
        fs = store.branches["main"]
        assert isinstance(fs, FS)
        assert fs.commit_hash == g.rev("main")
        assert fs.tree_hash == EMPTY_TREE
        assert fs.message == "Initialize main"
        assert fs.author_name == "gitstore"
        assert fs.author_email == "gitstore@localhost"
        assert fs.parent is None
        assert fs.ls() == []
        assert fs.time.utcoffset().total_seconds() == 0

    def test_fs_time_matches_commit_time(self, created):
        path, store, _b, _a = created
        ct = int(Git(path)("log", "-1", "--format=%ct", "main"))
        assert store.branches["main"].time.timestamp() == ct


class TestCreateOptions:
    def test_custom_branch(self, tmp_path):
        path = tmp_path / "dev.git"
        store = GitStore.open(path, branch="dev")
        g = Git(path)
        assert g("symbolic-ref", "HEAD") == "refs/heads/dev"
        assert g.lines("for-each-ref", "--format=%(refname)") == ["refs/heads/dev"]
        assert g.commit_header("dev")[1] == b"Initialize dev\n"
        assert store.branches.current_name == "dev"
        assert store.branches["dev"].message == "Initialize dev"
        assert "main" not in store.branches

    @pytest.mark.parametrize("branch", [
        "feature/x", "feature/my-thing.v2", "-x", "@", "héllo", "<b>evil</b>", "HEAD",
    ])
    def test_unusual_but_valid_branch_names(self, tmp_path, branch):
        path = tmp_path / "r.git"
        store = GitStore.open(path, branch=branch)
        g = Git(path)
        assert g("symbolic-ref", "HEAD") == f"refs/heads/{branch}"
        assert g.commit_header(f"refs/heads/{branch}")[1] == f"Initialize {branch}\n".encode()
        assert list(store.branches) == [branch]
        assert store.branches.current_name == branch
        assert store.branches[branch].message == f"Initialize {branch}"

    def test_custom_author_and_email(self, tmp_path):
        path = tmp_path / "a.git"
        store = GitStore.open(path, author="Alice Liddell", email="alice@wonder.land")
        g = Git(path)
        headers, _ = g.commit_header("main")
        when = int(headers["committer"][0].rsplit(" ", 2)[1])
        assert g.raw("cat-file", "commit", "main") == _initial_commit_bytes(
            "main", "Alice Liddell <alice@wonder.land>", when)
        fs = store.branches["main"]
        assert fs.author_name == "Alice Liddell"
        assert fs.author_email == "alice@wonder.land"

    def test_non_ascii_author_is_utf8(self, tmp_path):
        path = tmp_path / "u.git"
        store = GitStore.open(path, author="Zoë Ångström", email="zoë@exämple.org")
        raw = Git(path).raw("cat-file", "commit", "main")
        assert "author Zoë Ångström <zoë@exämple.org> ".encode() in raw
        assert "committer Zoë Ångström <zoë@exämple.org> ".encode() in raw
        assert b"\nencoding UTF-8\n" in raw
        fs = store.branches["main"]
        assert fs.author_name == "Zoë Ångström"
        assert fs.author_email == "zoë@exämple.org"

    def test_branch_none_creates_no_commit(self, tmp_path):
        path = tmp_path / "empty.git"
        store = GitStore.open(path, branch=None)
        g = Git(path)
        assert g("rev-parse", "--is-bare-repository") == "true"
        assert g("for-each-ref") == ""
        assert g("rev-list", "--all") == ""
        head = (path / "HEAD").read_text().strip()
        assert head.startswith("ref: refs/heads/")
        unborn = head[len("ref: "):]
        assert not g.ok("rev-parse", "--verify", "-q", unborn)
        assert len(store.branches) == 0
        assert list(store.branches) == []
        assert store.branches.current_name is None
        assert store.branches.current is None
        assert repr(store.branches) == "RefDict('branches', len=0)"

    def test_pathlike_argument(self, tmp_path):
        p1 = tmp_path / "p1.git"
        store = GitStore.open(p1)
        assert Git(p1)("symbolic-ref", "HEAD") == "refs/heads/main"
        assert list(store.branches) == ["main"]
        p2 = tmp_path / "p2.git"
        store2 = GitStore.open(_PathLike(p2))
        assert Git(p2)("symbolic-ref", "HEAD") == "refs/heads/main"
        assert list(store2.branches) == ["main"]
        # and opening an existing one through a PathLike
        again = GitStore.open(_PathLike(p1), create=False)
        assert again.branches["main"].commit_hash == store.branches["main"].commit_hash

    def test_keyword_only_arguments(self, tmp_path):
        with pytest.raises(TypeError):
            GitStore.open(tmp_path / "k.git", True)  # noqa: FBT003
        assert not (tmp_path / "k.git").exists()

    def test_missing_parent_directory(self, tmp_path):
        path = tmp_path / "no" / "such" / "r.git"
        with pytest.raises(FileNotFoundError):
            GitStore.open(path)
        assert not (tmp_path / "no").exists()


class TestInvalidBranchName:
    @pytest.mark.parametrize("name", [
        "my branch", "my\tbranch", "my\nbranch", "..foo", "a..b", "foo.lock", "foo@{bar}",
        "foo~1", "foo^2", "a?b", "a*b", "a[b", "a\\b", ".x", "a/.b", "x/", "x.", "",
        "a\x7fb",
    ])
    def test_rejected_before_anything_is_created(self, tmp_path, name):
        path = tmp_path / "bad.git"
        with pytest.raises(ValueError) as ei:
            GitStore.open(path, branch=name)
        assert str(ei.value) == f"Invalid ref name: {name!r}"
        assert not path.exists()

    def test_colon_rejected_with_its_own_message(self, tmp_path):
        path = tmp_path / "bad.git"
        with pytest.raises(ValueError) as ei:
            GitStore.open(path, branch="my:branch")
        assert str(ei.value) == "Invalid ref name 'my:branch': contains colon"
        assert not path.exists()

    def test_invalid_branch_ignored_for_existing_repo(self, tmp_path):
        # branch is only used when creating; an existing store opens fine
        path = tmp_path / "ok.git"
        GitStore.open(path)
        store = GitStore.open(path, branch="my branch")
        assert list(store.branches) == ["main"]


# ---------------------------------------------------------------------------
# Opening existing repositories
# ---------------------------------------------------------------------------

class TestOpenExisting:
    def test_reopen_is_idempotent(self, tmp_path):
        path = tmp_path / "r.git"
        s1 = GitStore.open(path)
        commits = Git(path).lines("rev-list", "--all")
        s2 = GitStore.open(path)
        s3 = GitStore.open(path, create=False)
        assert Git(path).lines("rev-list", "--all") == commits
        assert s1.branches["main"].commit_hash == s2.branches["main"].commit_hash
        assert s3.branches["main"].commit_hash == commits[0]

    def test_create_and_branch_ignored_when_path_exists(self, tmp_path):
        path = tmp_path / "r.git"
        GitStore.open(path)
        g = Git(path)
        refs = g("for-each-ref")
        store = GitStore.open(path, create=True, branch="other")
        assert g("for-each-ref") == refs
        assert "other" not in store.branches
        assert g("symbolic-ref", "HEAD") == "refs/heads/main"

    def test_branch_none_on_existing_repo_changes_nothing(self, tmp_path):
        path = tmp_path / "r.git"
        GitStore.open(path)
        store = GitStore.open(path, branch=None)
        assert store.branches.current_name == "main"

    def test_opens_repository_built_by_git(self, tmp_path):
        path = tmp_path / "git.git"
        shas = build_repo(path, [
            Commit({"a.txt": b"a"}, label="c1"),
            Commit({"b.txt": b"b"}, branch="other", parents=["c1"], label="c2"),
        ])
        store = GitStore.open(path, create=False)
        assert list(store.branches) == ["main", "other"]
        assert store.branches["main"].commit_hash == shas["c1"]
        assert store.branches["other"].commit_hash == shas["c2"]
        assert store.branches["other"].read("b.txt") == b"b"

    def test_non_bare_repository_is_accepted(self, tmp_path):
        work = tmp_path / "work"
        git_run("init", "-q", "-b", "trunk", work)
        (work / "f.txt").write_text("hi\n")
        git_run("-C", work, "add", "f.txt")
        git_run("-C", work, "commit", "-q", "-m", "c")
        store = GitStore.open(work, create=False)
        assert list(store.branches) == ["trunk"]
        assert store.branches["trunk"].read("f.txt") == b"hi\n"

    def test_missing_with_create_false(self, tmp_path):
        path = tmp_path / "missing.git"
        with pytest.raises(FileNotFoundError) as ei:
            GitStore.open(path, create=False)
        assert str(ei.value) == f"Repository not found: {path}"
        assert not path.exists()

    def test_missing_message_uses_normalised_path(self, tmp_path):
        given = str(tmp_path) + "/missing.git/"
        with pytest.raises(FileNotFoundError) as ei:
            GitStore.open(given, create=False)
        assert str(ei.value) == f"Repository not found: {pathlib.Path(given)}"
        assert str(ei.value).endswith("missing.git")

    def test_missing_relative_path_stays_relative(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(FileNotFoundError) as ei:
            GitStore.open("./sub/../nothere.git", create=False)
        assert str(ei.value) == f"Repository not found: {pathlib.Path('./sub/../nothere.git')}"

    def test_empty_directory_is_not_a_repository(self, tmp_path):
        path = tmp_path / "empty"
        path.mkdir()
        with pytest.raises(GitError) as ei:
            GitStore.open(path)
        assert str(path) in str(ei.value)
        assert list(path.iterdir()) == []

    def test_plain_file_is_not_a_repository(self, tmp_path):
        path = tmp_path / "file.git"
        path.write_bytes(b"not a repo")
        with pytest.raises(GitError) as ei:
            GitStore.open(path, create=True)
        assert str(path) in str(ei.value)
        assert path.read_bytes() == b"not a repo"

    def test_directory_with_junk_is_not_a_repository(self, tmp_path):
        path = tmp_path / "junk.git"
        path.mkdir()
        (path / "HEAD").write_text("garbage\n")
        with pytest.raises(GitError):
            GitStore.open(path, create=False)

    def test_git_error_is_an_exception_class(self):
        assert issubclass(GitError, Exception)
        assert gitstore.GitError is GitError


# ---------------------------------------------------------------------------
# Attributes and repr
# ---------------------------------------------------------------------------

class TestAttributesAndRepr:
    def test_repr_absolute_path(self, tmp_path):
        path = tmp_path / "r.git"
        store = GitStore.open(path)
        assert repr(store) == f"GitStore('{path}/')"

    def test_repr_quotes_like_python(self, tmp_path):
        path = tmp_path / "it's-é.git"
        store = GitStore.open(path)
        assert repr(store) == f"GitStore({str(path) + '/'!r})"
        assert '"' in repr(store)  # repr() switched to double quotes

    def test_repr_relative_path(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        store = GitStore.open("data.git")
        assert repr(store) == "GitStore('data.git/')"
        assert repr(GitStore.open("./data.git")) == "GitStore('data.git/')"
        assert repr(GitStore.open("data.git/")) == "GitStore('data.git/')"

    def test_repr_of_git_built_repository(self, tmp_path):
        path = tmp_path / "g.git"
        build_repo(path, [Commit({"x": b"1"})])
        assert repr(GitStore.open(path, create=False)) == f"GitStore('{path}/')"

    def test_branches_and_tags_are_stable_objects(self, tmp_path):
        store = GitStore.open(tmp_path / "r.git")
        assert store.branches is store.branches
        assert store.tags is store.tags
        assert store.branches is not store.tags
        assert type(store.branches) is gitstore.RefDict
        assert repr(store.branches) == "RefDict('branches', len=1)"
        assert repr(store.tags) == "RefDict('tags', len=0)"

    def test_two_stores_on_one_path_see_the_same_refs(self, tmp_path):
        path = tmp_path / "r.git"
        a = GitStore.open(path)
        b = GitStore.open(path, author="other", email="o@x")
        assert a.branches["main"].commit_hash == b.branches["main"].commit_hash
        assert list(a.branches) == list(b.branches)

    def test_open_through_symlink(self, tmp_path):
        path = tmp_path / "r.git"
        GitStore.open(path)
        link = tmp_path / "link.git"
        os.symlink(path, link)
        store = GitStore.open(link, create=False)
        assert store.branches["main"].commit_hash == Git(path).rev("main")
