"""backup / restore over the network transports, against real servers on
127.0.0.1 (tests/support/servers.py): git daemon (git://), git http-backend
under lighttpd (http://, basic auth, https:// with a test CA) and sshd
(ssh:// with a key file or an ssh-agent, scp-like).  Results are checked
with git on the server's repository and through the same server."""

from __future__ import annotations

import itertools

import pytest

from support import HISTORY, Git, Tag, assert_fsck_clean, build_repo, copy_template, git_run
from support.servers import (  # noqa: F401  (fixtures)
    git_daemon,
    http_server,
    https_ca,
    ssh_agent,
    ssh_agent_home,
    ssh_home,
    ssh_server,
)

from gitstore import GitError, GitStore, MirrorDiff, RefChange

_names = itertools.count()


def fresh_name(tag: str = "r") -> str:
    """A repository name no other test of the session uses."""
    return f"{tag}{next(_names)}.git"


def refs(path) -> dict[str, str]:
    """{ref: direct target} of a repository, HEAD left out (an annotated tag
    maps to its tag object)."""
    out = Git(path)("for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ") for line in out.splitlines())


def objects(path) -> set[str]:
    out = Git(path)("cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return set(out.split())


def state(path) -> tuple[dict[str, str], set[str]]:
    return refs(path), objects(path)


def ls_remote(url: str, env: dict) -> dict[str, str]:
    """Refs a server advertises for url (HEAD and peeled entries left out)."""
    out = git_run("ls-remote", url, env=env).stdout.decode()
    pairs = (line.split("\t") for line in out.splitlines())
    return {ref: oid for oid, ref in pairs if ref != "HEAD" and not ref.endswith("^{}")}


def changes(items) -> list[tuple]:
    return sorted((c.ref, c.old_target, c.new_target) for c in items)


def all_added(ref_map) -> list[tuple]:
    return sorted((ref, None, oid) for ref, oid in ref_map.items())


@pytest.fixture(scope="module")
def source_template(tmp_path_factory):
    """A store's repository: branches main and side, a lightweight tag v1,
    an annotated tag v2, a note on main's tip (refs/notes/commits)."""
    path = tmp_path_factory.mktemp("source") / "source.git"
    shas = build_repo(path, HISTORY, tags=[Tag("v2", "c4", message="two\n")],
                      lightweight={"v1": "c1"})
    GitStore.open(path, create=False).notes.commits[shas["c6"]] = "reviewed\n"
    return path


@pytest.fixture
def source(source_template, tmp_path):
    """(store, path) on a fresh copy of source_template."""
    path = tmp_path / "source.git"
    copy_template(source_template, path)
    return GitStore.open(path, create=False), path


# ---------------------------------------------------------------------------
# The servers themselves, through git alone
# ---------------------------------------------------------------------------

def cli_round_trip(source, server_path, push_url, fetch_url, env, tmp_path) -> None:
    """git push --mirror through the server, then a mirror clone through it;
    both equal the source's refs."""
    git_run("--git-dir", source, "push", "-q", "--mirror", push_url, env=env)
    expected = refs(source)
    assert Git(server_path).cat_type(expected["refs/tags/v2"]) == "tag"
    assert "refs/notes/commits" in expected
    assert refs(server_path) == expected
    assert_fsck_clean(server_path)
    clone = tmp_path / f"clone{next(_names)}.git"
    git_run("clone", "-q", "--mirror", fetch_url, clone, env=env)
    assert refs(clone) == expected


def cli_fails(url: str, env: dict) -> str:
    proc = git_run("ls-remote", url, env=env, check=False)
    assert proc.returncode != 0
    return proc.stderr.decode(errors="replace")


class TestServersWithGit:
    def test_git_daemon(self, git_daemon, source_template, tmp_path):
        name = fresh_name("cli")
        path = git_daemon.create(name)
        cli_round_trip(source_template, path, git_daemon.url(name), git_daemon.url(name), {},
                       tmp_path)

    def test_http(self, http_server, source_template, tmp_path):
        name = fresh_name("cli")
        path = http_server.create(name)
        url = http_server.url(name)
        cli_round_trip(source_template, path, url, url, http_server.cli_env(), tmp_path)

    def test_http_basic_auth(self, http_server, source_template, tmp_path):
        name = fresh_name("cli")
        path = http_server.create(name)
        env = http_server.cli_env()
        good = http_server.auth_url(name, http_server.user, http_server.password)
        assert "could not read Username" in cli_fails(http_server.auth_url(name), env)
        assert "Authentication failed" in cli_fails(
            http_server.auth_url(name, http_server.user, "wrong"), env)
        cli_round_trip(source_template, path, good, good, env, tmp_path)

    def test_https(self, http_server, source_template, tmp_path):
        name = fresh_name("cli")
        path = http_server.create(name)
        url = http_server.https_url(name)
        untrusted = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSL_CAINFO": "/dev/null"}
        assert "certificate" in cli_fails(url, untrusted).lower()
        cli_round_trip(source_template, path, url, url, http_server.cli_env(), tmp_path)

    def test_ssh_key_file(self, ssh_server, source_template, tmp_path):
        name = fresh_name("cli")
        path = ssh_server.create(name)
        url = ssh_server.url(name)
        cli_round_trip(source_template, path, url, ssh_server.scp_url(name), ssh_server.cli_env(),
                       tmp_path)

    def test_ssh_agent(self, ssh_server, ssh_agent, source_template, tmp_path):
        name = fresh_name("cli")
        path = ssh_server.create(name)
        url = ssh_server.url(name)
        home = ssh_server.home(keys=False)
        assert not (home / ".ssh" / "id_ed25519").exists()
        cli_round_trip(source_template, path, url, url, ssh_server.cli_env(home, agent=ssh_agent),
                       tmp_path)

    @pytest.mark.parametrize("known_hosts, message", [
        ("empty", "Host key verification failed"),
        ("missing", "Host key verification failed"),
        ("wrong", "REMOTE HOST IDENTIFICATION HAS CHANGED"),
    ])
    def test_ssh_host_key_refused(self, ssh_server, known_hosts, message):
        name = fresh_name("cli")
        ssh_server.create(name)
        env = ssh_server.cli_env(ssh_server.home(known_hosts=known_hosts))
        assert message in cli_fails(ssh_server.url(name), env)

    def test_ssh_without_a_key(self, ssh_server):
        name = fresh_name("cli")
        ssh_server.create(name)
        env = ssh_server.cli_env(ssh_server.home(keys=False))
        assert "Permission denied" in cli_fails(ssh_server.url(name), env)


# ---------------------------------------------------------------------------
# backup / restore through each transport
# ---------------------------------------------------------------------------

class Remote:
    """One way of reaching a server: the URL gitstore is given, the part
    of it an error message must name, and how git reaches the same
    repository (for ls-remote)."""

    def __init__(self, server, url, named, cli_url, cli_env, secrets=()):
        self.server = server
        self.url = url
        self.named = named
        self.cli_url = cli_url
        self.cli_env = cli_env
        self.secrets = secrets

    def create(self, name: str):
        return self.server.create(name)

    def path(self, name: str):
        return self.server.repo_path(name)


TRANSPORTS = ["git", "http", "http-auth", "https", "ssh-key", "ssh-agent", "scp"]


@pytest.fixture(params=TRANSPORTS)
def remote(request) -> Remote:
    kind = request.param
    if kind == "git":
        srv = request.getfixturevalue("git_daemon")
        return Remote(srv, srv.url, srv.url, srv.url, {})
    if kind in ("http", "http-auth", "https"):
        srv = request.getfixturevalue("http_server")
        env = srv.cli_env()
        if kind == "http":
            return Remote(srv, srv.url, srv.url, srv.url, env)
        if kind == "https":
            request.getfixturevalue("https_ca")
            return Remote(srv, srv.https_url, srv.https_url, srv.https_url, env)

        def auth_url(name):
            return srv.auth_url(name, srv.user, srv.password)
        return Remote(srv, auth_url, lambda name: f"127.0.0.1:{srv.port}/auth/{name}",
                      auth_url, env, secrets=(srv.user, srv.password))
    if kind == "ssh-agent":
        srv = request.getfixturevalue("ssh_agent_home")
        agent = request.getfixturevalue("ssh_agent")
        return Remote(srv, srv.url, lambda name: str(srv.repo_path(name)), srv.url,
                      srv.cli_env(agent=agent))
    srv = request.getfixturevalue("ssh_home")
    url = srv.scp_url if kind == "scp" else srv.url
    return Remote(srv, url, lambda name: str(srv.repo_path(name)), url, srv.cli_env())


def check_server(remote: Remote, name: str, expected: dict[str, str]) -> None:
    """The server's repository holds exactly these refs (on disk and as the
    server advertises them) and is fsck-clean."""
    path = remote.path(name)
    assert refs(path) == expected
    assert_fsck_clean(path)
    assert ls_remote(remote.cli_url(name), remote.cli_env) == expected


def check_progress(calls: list, remote: Remote) -> None:
    assert calls, "progress was never called"
    assert all(type(c) is bytes for c in calls)
    text = b"".join(calls)
    for secret in remote.secrets:
        assert secret.encode() not in text


class TestBackup:
    def test_to_an_empty_repository(self, remote, source):
        store, path = source
        name = fresh_name()
        server = remote.create(name)
        url = remote.url(name)
        local = refs(path)
        assert Git(path).cat_type(local["refs/tags/v2"]) == "tag"
        assert {"refs/heads/main", "refs/heads/side", "refs/tags/v1",
                "refs/notes/commits"} <= local.keys()
        calls = []
        diff = store.backup(url, dry_run=True, progress=calls.append)
        assert changes(diff.add) == all_added(local)
        assert diff.update == [] and diff.delete == []
        assert state(server) == ({}, set()), "a dry run moved something"
        assert calls == []

        diff = store.backup(url, progress=calls.append)
        assert changes(diff.add) == all_added(local)
        assert diff.update == [] and diff.delete == []
        check_server(remote, name, local)
        check_progress(calls, remote)
        assert refs(path) == local

    def test_after_one_commit(self, remote, source):
        store, path = source
        name = fresh_name()
        server = remote.create(name)
        url = remote.url(name)
        store.backup(url)
        old = store.branches["main"].commit_hash
        new = store.branches["main"].write("added.txt", b"one more\n").commit_hash
        expected = MirrorDiff(update=[RefChange("refs/heads/main", old, new)])
        before = state(server)
        calls = []
        assert store.backup(url, dry_run=True, progress=calls.append) == expected
        assert state(server) == before and calls == []
        assert store.backup(url) == expected
        assert refs(server) == refs(path)
        assert_fsck_clean(server)
        assert store.backup(url, dry_run=True).in_sync


def fill_server(remote: Remote, name: str, source_path) -> dict[str, str]:
    """The server's repository ``name`` made a copy of source by git
    (server-side, no transport involved); its refs."""
    server = remote.create(name)
    git_run("--git-dir", source_path, "push", "-q", "--mirror", server)
    return refs(server)


class TestRestore:
    def test_into_a_new_store(self, remote, source, tmp_path):
        name = fresh_name()
        expected = fill_server(remote, name, source[1])
        url = remote.url(name)
        target = tmp_path / "restored.git"
        store = GitStore.open(target, create=True)
        initial = store.branches["main"].commit_hash
        main = expected["refs/heads/main"]
        added = all_added({r: t for r, t in expected.items() if r != "refs/heads/main"})
        before = state(target)
        calls = []
        for dry_run in (True, False):
            diff = store.restore(url, dry_run=dry_run, progress=calls.append)
            assert diff.update == [RefChange("refs/heads/main", initial, main)]
            assert changes(diff.add) == added
            assert diff.delete == []
            if dry_run:
                assert state(target) == before, "a dry run changed the store"
                assert calls == []
        assert refs(target) == expected
        assert_fsck_clean(target)
        check_progress(calls, remote)
        assert store.branches["main"].read("a.txt") == b"hello world\n"
        assert store.notes.commits[main] == "reviewed\n"
        assert store.restore(url, dry_run=True).in_sync

    def test_missing_repository(self, remote, tmp_path):
        name = fresh_name("missing")
        store = GitStore.open(tmp_path / "s.git")
        before = state(tmp_path / "s.git")
        for dry_run in (False, True):
            with pytest.raises(GitError) as info:
                store.restore(remote.url(name), dry_run=dry_run)
            message = str(info.value)
            assert remote.named(name) in message
            for secret in remote.secrets:
                assert secret not in message
        assert state(tmp_path / "s.git") == before


class TestInsteadOf:
    def test_backup_and_restore_through_an_alias(self, remote, source, tmp_path):
        """url.<base>.insteadOf in the store's configuration leads a short
        alias to the server, whatever the transport."""
        store, path = source
        name = fresh_name()
        remote.create(name)
        url = remote.url(name)
        assert url.endswith(name)
        rule = (f"url.{url[:-len(name)]}.insteadOf", "srv:")
        Git(path)("config", *rule)
        diff = store.backup("srv:" + name)
        assert changes(diff.add) == all_added(refs(path))
        check_server(remote, name, refs(path))

        target = tmp_path / "restored.git"
        restored = GitStore.open(target, branch=None)
        Git(target)("config", *rule)
        diff = restored.restore("srv:" + name)
        assert changes(diff.add) == all_added(refs(path))
        assert refs(target) == refs(path)
        assert_fsck_clean(target)


# ---------------------------------------------------------------------------
# Refused connections: nothing moves, nothing secret is shown
# ---------------------------------------------------------------------------

def refused_both_ways(store, store_path, url, server_path, named: str,
                      secrets=(), dry_runs: bool = False) -> None:
    """backup and restore (and their dry runs too with ``dry_runs``)
    through url raise GitError naming it (``named``, without ``secrets``);
    neither side changes."""
    server_before = state(server_path)
    local_before = state(store_path)
    for method in (store.backup, store.restore):
        for dry_run in (False, True) if dry_runs else (False,):
            calls = []
            with pytest.raises(GitError) as info:
                method(url, dry_run=dry_run, progress=calls.append)
            message = str(info.value)
            assert named in message
            shown = message + repr(info.value) + b"".join(calls).decode(errors="replace")
            for secret in secrets:
                assert secret not in shown
    assert state(server_path) == server_before
    assert state(store_path) == local_before


class TestHttpAuth:
    @pytest.mark.parametrize("user, password", [
        (None, None),
        ("mirror-user", "wrong-pw-0d1e"),
        ("nobody-b7", "wrong-pw-0d1e"),
        ("mirror-user", None),
    ])
    def test_refused(self, http_server, source, user, password):
        store, path = source
        name = fresh_name()
        server = http_server.create(name)
        url = http_server.auth_url(name, user, password)
        secrets = [s for s in (user, password) if s]
        refused_both_ways(store, path, url, server,
                          f"127.0.0.1:{http_server.port}/auth/{name}", secrets,
                          dry_runs=password is not None)

    def test_right_credentials_never_shown(self, http_server, source):
        # the transport tests check the progress lines; here a failure
        # after authentication (no such repository) must not show them either
        store, _path = source
        name = fresh_name("missing")
        url = http_server.auth_url(name, http_server.user, http_server.password)
        with pytest.raises(GitError) as info:
            store.restore(url)
        shown = str(info.value) + repr(info.value)
        assert http_server.password not in shown and http_server.user not in shown
        assert f"127.0.0.1:{http_server.port}/auth/{name}" in shown


class TestHttps:
    def test_untrusted_certificate(self, http_server, source, monkeypatch):
        monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        store, path = source
        name = fresh_name()
        server = http_server.create(name)
        url = http_server.https_url(name)
        refused_both_ways(store, path, url, server, url, dry_runs=True)

    def test_ssl_cert_file(self, http_server, source, monkeypatch):
        monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)
        monkeypatch.setenv("SSL_CERT_FILE", str(http_server.cafile))
        store, path = source
        name = fresh_name()
        http_server.create(name)
        store.backup(http_server.https_url(name))
        assert refs(http_server.repo_path(name)) == refs(path)


class TestSshRefused:
    @pytest.mark.parametrize("known_hosts, form", [
        ("empty", "ssh"), ("missing", "ssh"), ("wrong", "ssh"), ("wrong", "scp")])
    def test_host_key(self, ssh_server, source, monkeypatch, known_hosts, form):
        monkeypatch.setenv("HOME", str(ssh_server.home(known_hosts=known_hosts)))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        store, path = source
        name = fresh_name()
        server = ssh_server.create(name)
        url = ssh_server.scp_url(name) if form == "scp" else ssh_server.url(name)
        refused_both_ways(store, path, url, server, str(server), dry_runs=True)

    def test_wrong_host_key_with_the_agent(self, ssh_server, ssh_agent, source, monkeypatch):
        monkeypatch.setenv("HOME", str(ssh_server.home(keys=False, known_hosts="wrong")))
        monkeypatch.setenv("SSH_AUTH_SOCK", str(ssh_agent.socket))
        store, path = source
        name = fresh_name()
        server = ssh_server.create(name)
        refused_both_ways(store, path, ssh_server.url(name), server, str(server))

    def test_no_key_and_no_agent(self, ssh_server, source, monkeypatch):
        monkeypatch.setenv("HOME", str(ssh_server.home(keys=False)))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        store, path = source
        name = fresh_name()
        server = ssh_server.create(name)
        refused_both_ways(store, path, ssh_server.url(name), server, str(server))
