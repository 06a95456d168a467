"""resolve_credentials: credentials from ``git credential fill``, then from
``gh auth token``, put into https URLs.

The programs are fakes on a PATH of their own (shell scripts recording their
arguments, standard input, environment and session, and printing a canned
answer); a last group runs the real git with a credential store.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from gitstore import _credentials, resolve_credentials

CAT = shutil.which("cat")
SLEEP = shutil.which("sleep")
GIT = shutil.which("git")

URL = "https://example.test/team/repo.git"
ANSWER = b"protocol=https\nhost=example.test\nusername=alice\npassword=s3cret\n"
WITH_TOKEN = "https://x-access-token:gho_token@example.test/team/repo.git"


class Fakes:
    """Fake programs in *bin* (the only directory on PATH), recording into *log*."""

    def __init__(self, bin: Path, log: Path):
        self.bin = bin
        self.log = log
        log.mkdir()

    def add(self, name: str, answer: bytes = b"", *, status: int = 0, hang: bool = False,
            stderr: str = "", session: bool = False) -> None:
        """A program *name* printing *answer* and exiting with *status*; with
        *hang*, one that starts a child and waits for it (30 s)."""
        record = self.log / name
        (self.log / f"{name}.answer").write_bytes(answer)
        script = [
            "#!/bin/sh",
            f"printf '%s\\n' \"$@\" > '{record}.argv'",
            f"while IFS= read -r line; do printf '%s\\n' \"$line\"; done > '{record}.stdin'",
            "printf 'GIT_TERMINAL_PROMPT=%s\\nGIT_ASKPASS=%s%s\\nSSH_ASKPASS=%s%s\\n"
            "GCM_INTERACTIVE=%s\\n' \"$GIT_TERMINAL_PROMPT\" \"${GIT_ASKPASS+set:}\" "
            "\"$GIT_ASKPASS\" \"${SSH_ASKPASS+set:}\" \"$SSH_ASKPASS\" \"$GCM_INTERACTIVE\""
            f" > '{record}.env'",
        ]
        if session:
            script.append(f"echo $$ > '{record}.pid'")
            script.append(f"'{sys.executable}' -c 'import os; print(os.getsid(0))'"
                          f" > '{record}.sid'")
        if stderr:
            script.append(f"printf '%s\\n' '{stderr}' >&2")
        if hang:
            script.append(f"'{SLEEP}' 30 & echo $! > '{record}.child'; wait")
        script.append(f"'{CAT}' '{record}.answer'")
        script.append(f"exit {status}")
        path = self.bin / name
        path.write_text("\n".join(script) + "\n")
        path.chmod(0o755)

    def argv(self, name: str) -> list[str] | None:
        """The arguments *name* was last called with; None if never called."""
        path = self.log / f"{name}.argv"
        return path.read_text().splitlines() if path.exists() else None

    def stdin(self, name: str) -> bytes:
        return (self.log / f"{name}.stdin").read_bytes()

    def env(self, name: str) -> dict[str, str]:
        lines = (self.log / f"{name}.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def number(self, name: str, what: str) -> int:
        return int((self.log / f"{name}.{what}").read_text())


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    bin = tmp_path / "bin"
    bin.mkdir()
    monkeypatch.setenv("PATH", str(bin))
    # The programs are not the extension: under the sanitizer build they run
    # without its preloaded runtime.
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    return Fakes(bin, tmp_path / "log")


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


# ---------------------------------------------------------------------------
# URLs left alone
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://example.test/repo.git",
    "ssh://git@example.test/repo.git",
    "git://example.test/repo.git",
    "file:///srv/repo.git",
    "/srv/repo.git",
    "./https://example.test/repo.git",
    "git@example.test:repo.git",
    "https:/example.test/repo.git",
])
def test_other_urls_are_returned_unchanged_without_asking(fakes, url):
    fakes.add("git", ANSWER)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(url) == url
    assert fakes.argv("git") is None and fakes.argv("gh") is None


@pytest.mark.parametrize("url", [
    "https://bob@example.test/repo.git",
    "https://bob:pw@example.test/repo.git",
    "https://:pw@example.test/repo.git",
    "https://@example.test/repo.git",
])
def test_a_url_with_user_information_is_returned_unchanged(fakes, url):
    fakes.add("git", ANSWER)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(url) == url
    assert fakes.argv("git") is None and fakes.argv("gh") is None


@pytest.mark.parametrize("url", ["https://", "https:///repo.git", "https://:443/repo.git"])
def test_a_url_without_host_is_returned_unchanged(fakes, url):
    fakes.add("git", ANSWER)
    assert resolve_credentials(url) == url
    assert fakes.argv("git") is None


@pytest.mark.parametrize("url", [
    "https://example.test/a%0Ahost=evil.test/repo.git",
    "https://example.test/a%0d/repo.git",
    "https://example.test/a%00/repo.git",
    "https://example.test/a\x01/repo.git",
    "https://example.test/a\nb/repo.git",
])
def test_a_url_with_control_characters_is_returned_unchanged(fakes, url):
    fakes.add("git", ANSWER)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(url) == url
    assert fakes.argv("git") is None and fakes.argv("gh") is None


@pytest.mark.parametrize("url", ["https://example.test:http/repo.git",
                                 "https://example.test:70000/repo.git",
                                 "https://[::1/repo.git"])
def test_a_malformed_url_raises_value_error(fakes, url):
    fakes.add("git", ANSWER)
    with pytest.raises(ValueError):
        resolve_credentials(url)
    assert fakes.argv("git") is None


# ---------------------------------------------------------------------------
# git credential fill
# ---------------------------------------------------------------------------

def test_git_credential_fill_answers(fakes):
    fakes.add("git", ANSWER)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(URL) == "https://alice:s3cret@example.test/team/repo.git"
    assert fakes.argv("git") == ["credential", "fill"]
    assert fakes.stdin("git") == b"protocol=https\nhost=example.test\npath=team/repo.git\n\n"
    assert fakes.argv("gh") is None


def test_user_and_password_are_percent_encoded(fakes):
    fakes.add("git", "username=me@corp.example\npassword=p:w/d%?#@ é=x\n".encode())
    assert resolve_credentials(URL) == (
        "https://me%40corp.example:p%3Aw%2Fd%25%3F%23%40%20%C3%A9%3Dx@example.test/team/repo.git")


def test_the_scheme_is_recognised_in_any_case_and_kept(fakes):
    fakes.add("git", ANSWER)
    assert resolve_credentials("HTTPS://example.test/r") == "HTTPS://alice:s3cret@example.test/r"


def test_the_host_is_lower_cased(fakes):
    fakes.add("git", ANSWER)
    fakes.add("gh", b"")
    assert resolve_credentials("https://Example.TEST/r") == "https://alice:s3cret@example.test/r"
    assert b"host=example.test\n" in fakes.stdin("git")
    fakes.add("git", b"", status=1)
    resolve_credentials("https://Example.TEST/r")
    assert fakes.argv("gh") == ["auth", "token", "--hostname", "example.test"]


def test_the_port_is_kept_and_passed_to_the_helper(fakes):
    fakes.add("git", ANSWER)
    assert resolve_credentials("https://example.test:8443/r.git") == (
        "https://alice:s3cret@example.test:8443/r.git")
    assert fakes.stdin("git") == b"protocol=https\nhost=example.test:8443\npath=r.git\n\n"


def test_an_ipv6_host_keeps_its_brackets(fakes):
    fakes.add("git", ANSWER)
    assert resolve_credentials("https://[FE80::1]:8443/r.git") == (
        "https://alice:s3cret@[fe80::1]:8443/r.git")
    assert fakes.stdin("git") == b"protocol=https\nhost=[fe80::1]:8443\npath=r.git\n\n"
    assert resolve_credentials("https://[::1]/r") == "https://alice:s3cret@[::1]/r"


def test_path_parameters_query_and_fragment_are_kept(fakes):
    fakes.add("git", ANSWER)
    url = "https://example.test/a/b%20c.git;p=1?q=1&r=%2F#frag"
    assert resolve_credentials(url) == (
        "https://alice:s3cret@example.test/a/b%20c.git;p=1?q=1&r=%2F#frag")
    assert fakes.stdin("git") == b"protocol=https\nhost=example.test\npath=a/b c.git;p=1\n\n"


@pytest.mark.parametrize("url, expected", [
    ("https://example.test", "https://alice:s3cret@example.test"),
    ("https://example.test/", "https://alice:s3cret@example.test/"),
    ("https://example.test?x#y", "https://alice:s3cret@example.test?x#y"),
])
def test_a_url_without_path_asks_without_path(fakes, url, expected):
    fakes.add("git", ANSWER)
    assert resolve_credentials(url) == expected
    assert fakes.stdin("git") == b"protocol=https\nhost=example.test\n\n"


@pytest.mark.parametrize("answer", [
    b"username=alice\n",
    b"password=s3cret\n",
    b"username=\npassword=s3cret\n",
    b"username=alice\npassword=\n",
    b"",
    b"alice\ns3cret\n",
])
def test_missing_fields_fall_back_to_gh(fakes, answer):
    fakes.add("git", answer)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(URL) == WITH_TOKEN
    assert fakes.argv("gh") == ["auth", "token", "--hostname", "example.test"]


def test_a_failing_git_is_not_believed(fakes):
    fakes.add("git", ANSWER, status=1)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(URL) == WITH_TOKEN


def test_without_git_gh_is_asked(fakes):
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(URL) == WITH_TOKEN
    assert fakes.stdin("gh") == b""


def test_a_git_that_is_not_executable_counts_as_missing(fakes):
    fakes.add("git", ANSWER)
    (fakes.bin / "git").chmod(0o644)
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials(URL) == WITH_TOKEN
    assert fakes.argv("git") is None


def test_gh_token_is_stripped_and_percent_encoded(fakes):
    fakes.add("git", b"", status=1)
    fakes.add("gh", b"  to/k@n \n\n")
    assert resolve_credentials(URL) == (
        "https://x-access-token:to%2Fk%40n@example.test/team/repo.git")


def test_gh_is_asked_about_the_host_without_port(fakes):
    fakes.add("gh", b"gho_token\n")
    assert resolve_credentials("https://[::1]:8443/r") == (
        "https://x-access-token:gho_token@[::1]:8443/r")
    assert fakes.argv("gh") == ["auth", "token", "--hostname", "[::1]"]


@pytest.mark.parametrize("status, answer", [(1, b"gho_token\n"), (0, b""), (0, b" \n\n")])
def test_no_usable_gh_answer_leaves_the_url_unchanged(fakes, status, answer):
    fakes.add("git", b"", status=1)
    fakes.add("gh", answer, status=status)
    assert resolve_credentials(URL) == URL


def test_neither_program_installed_leaves_the_url_unchanged(fakes):
    assert resolve_credentials(URL) == URL


def test_git_missing_fields_and_no_gh_leave_the_url_unchanged(fakes):
    fakes.add("git", b"username=alice\n")
    assert resolve_credentials(URL) == URL


# ---------------------------------------------------------------------------
# Timeouts
# ---------------------------------------------------------------------------

def test_a_git_that_hangs_is_stopped_with_its_children(fakes, monkeypatch):
    monkeypatch.setattr(_credentials, "_TIMEOUT", 0.3)
    fakes.add("git", ANSWER, hang=True)
    fakes.add("gh", b"gho_token\n")
    start = time.monotonic()
    assert resolve_credentials(URL) == WITH_TOKEN
    assert time.monotonic() - start < 5
    child = fakes.number("git", "child")
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(child)


def test_a_gh_that_hangs_leaves_the_url_unchanged(fakes, monkeypatch):
    monkeypatch.setattr(_credentials, "_TIMEOUT", 0.3)
    fakes.add("gh", b"gho_token\n", hang=True)
    start = time.monotonic()
    assert resolve_credentials(URL) == URL
    assert time.monotonic() - start < 5


# ---------------------------------------------------------------------------
# Never asking the user, never showing what the programs print
# ---------------------------------------------------------------------------

def test_the_programs_cannot_prompt(fakes, monkeypatch):
    monkeypatch.setenv("GIT_ASKPASS", "/usr/bin/ssh-askpass")
    monkeypatch.setenv("SSH_ASKPASS", "/usr/bin/ssh-askpass")
    monkeypatch.delenv("GIT_TERMINAL_PROMPT", raising=False)
    fakes.add("git", b"", status=1, session=True)
    fakes.add("gh", b"", session=True)
    assert resolve_credentials(URL) == URL
    for name in ("git", "gh"):
        assert fakes.env(name) == {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "set:",
                                   "SSH_ASKPASS": "set:", "GCM_INTERACTIVE": "never"}
        # A session of its own: no controlling terminal to prompt on.
        assert fakes.number(name, "sid") == fakes.number(name, "pid")


def test_what_the_programs_print_is_not_shown_or_logged(fakes, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    fakes.add("git", ANSWER, status=1, stderr="warning: password s3cret")
    fakes.add("gh", b"gho_token\n", stderr="token gho_token")
    resolve_credentials(URL)
    out, err = capfd.readouterr()
    assert "s3cret" not in out + err and "gho_token" not in out + err
    assert not caplog.records


# ---------------------------------------------------------------------------
# Programs found that cannot run
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["git", "gh"])
def test_a_program_that_cannot_start_raises(fakes, name):
    program = fakes.bin / name
    program.write_bytes(b"\x7fELF\x00not really a program\x00")
    program.chmod(0o755)
    with pytest.raises(OSError) as info:
        resolve_credentials(URL)
    assert not isinstance(info.value, FileNotFoundError)


# ---------------------------------------------------------------------------
# The real git
# ---------------------------------------------------------------------------

@pytest.fixture
def real_git(fakes, tmp_path, monkeypatch):
    """The real git alone on PATH, HOME in tmp_path with a credential store
    holding one credential for example.test and another for port 8443."""
    (fakes.bin / "git").symlink_to(GIT)
    monkeypatch.setenv("HOME", str(tmp_path))
    store = tmp_path / "credentials"
    store.write_text("https://alice:s3cret@example.test\n"
                     "https://carol:p%40ss@example.test:8443\n")
    (tmp_path / ".gitconfig").write_text(f"[credential]\n\thelper = store --file={store}\n")


def test_real_git_finds_the_credential_for_the_host(real_git):
    assert resolve_credentials(URL) == "https://alice:s3cret@example.test/team/repo.git"


def test_real_git_finds_the_credential_for_the_port(real_git):
    assert resolve_credentials("https://example.test:8443/r.git") == (
        "https://carol:p%40ss@example.test:8443/r.git")


def test_real_git_without_a_credential_does_not_prompt(real_git, monkeypatch):
    monkeypatch.setattr(_credentials, "_TIMEOUT", 30.0)
    start = time.monotonic()
    assert resolve_credentials("https://other.test/r.git") == "https://other.test/r.git"
    assert time.monotonic() - start < 10
