"""backup/restore at their edges: odd arguments, credentials in odd URLs,
and a server that does not answer as git does."""
from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from gitstore import GitError, GitStore
from support import git_run


@pytest.fixture
def store(tmp_path):
    s = GitStore.open(tmp_path / "src.git")
    s.branches["main"].write("a.txt", b"a")
    return s


class ListItems(Mapping):
    """A mapping whose items() gives lists, not (key, value) tuples."""

    def __init__(self, data):
        self._data = dict(data)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def items(self):
        return [[k, v] for k, v in self._data.items()]


def test_refs_mapping_of_any_kind_renames(store, tmp_path):
    diff = store.backup(tmp_path / "dest.git", refs=ListItems({"main": "copy"}))
    assert [c.ref for c in diff.add] == ["refs/heads/copy"]
    out = git_run("for-each-ref", "--format=%(refname)", cwd=tmp_path / "dest.git")
    assert out.stdout.decode().split() == ["refs/heads/copy"]


@pytest.mark.parametrize("refs", [{"main": 1}, {1: "main"}, {"main": ""}, ["main", ""]])
def test_bad_ref_names_raise_and_move_nothing(store, tmp_path, refs):
    with pytest.raises((TypeError, ValueError)):
        store.backup(tmp_path / "dest.git", refs=refs)
    assert not (tmp_path / "dest.git").exists()


def test_pathlike_is_a_local_path_even_with_a_colon(store, tmp_path):
    dest = tmp_path / "back:up.git"
    store.backup(dest)
    assert git_run("rev-parse", "--is-bare-repository", cwd=dest).stdout.decode().strip() == "true"
    # The same text as a str is scp-like: an ssh host "back".
    with pytest.raises(GitError):
        store.backup("back:up.git", dry_run=True)


def test_nul_in_url_is_refused(store, tmp_path):
    with pytest.raises(ValueError):
        store.backup(str(tmp_path / "good\0.bundle"))
    assert list(tmp_path.iterdir()) == [tmp_path / "src.git"]


@pytest.mark.parametrize("password", ["***", "p%40ss", "p#w", "p?w", "s3cr3t-token-value"])
def test_passwords_never_shown(store, password):
    url = f"https://user:{password}@127.0.0.1:99999/x.git"
    with pytest.raises(GitError) as info:
        store.backup(url, dry_run=True)
    message = str(info.value)
    assert "127.0.0.1" in message
    if password != "***":
        assert password not in message
    assert "user:" not in message


class MuteServer:
    """A git:// server that advertises an empty repository, takes the push
    and then answers with a bare flush: no report."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def pkt(text: bytes) -> bytes:
        return b"%04x" % (len(text) + 4) + text

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(4096)    # the git-receive-pack request
            caps = b"report-status side-band-64k delete-refs"
            conn.sendall(self.pkt(b"0" * 40 + b" capabilities^{}\0" + caps + b"\n") + b"0000")
            # Take the commands and the pack: until the client goes quiet.
            conn.settimeout(0.5)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            conn.sendall(b"0000")

    def close(self):
        self.sock.close()


def test_push_without_a_report_is_an_error(store):
    server = MuteServer()
    try:
        with pytest.raises(GitError, match="did not report"):
            store.backup(f"git://127.0.0.1:{server.port}/x.git")
    finally:
        server.close()


def test_progress_callback_writing_to_the_store_fails_instead_of_hanging(store, tmp_path):
    def progress(line):
        store.branches["main"].write("b.txt", b"b")

    with pytest.raises(GitError, match="already held by this thread"):
        store.backup(tmp_path / "dest.git", progress=progress)
    assert store.branches["main"].ls() == ["a.txt"]
