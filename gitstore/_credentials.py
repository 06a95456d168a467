"""resolve_credentials: put stored credentials into an https URL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import urllib.parse

# Longest run of each program asked, in seconds.
_TIMEOUT = 5.0

# Nothing may ask the user: no terminal prompt, no askpass program (git's own,
# or the one ssh's variable names), no Git Credential Manager dialog.
_QUIET = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
          "GCM_INTERACTIVE": "never"}

# git refuses URLs holding these, even percent-encoded: in the credential
# protocol they would end a line early and could ask about another host.
_CONTROL = frozenset(map(chr, [*range(0x20), 0x7F]))


def resolve_credentials(url: str) -> str:
    """Put stored credentials into an https URL, for a backup or restore.

    An ``https://`` URL (scheme in any case) without user information
    gets the credentials git would use for it.  ``git credential fill``
    is asked first, about the same things ``git clone`` asks (protocol,
    host with its port when the URL has one, path); its user name and
    password are used when both are non-empty.  Otherwise the GitHub CLI
    is asked (``gh auth token --hostname <host>``) and a non-empty token
    is used as the password of user ``x-access-token``.  Any other URL,
    one that already names a user, and one for which neither program
    answers are returned unchanged.

    In the result only the network location differs from *url*: user
    name and password (or token) percent-encoded, the host lower-cased
    (an IPv6 literal keeps its brackets), the port kept; path, query and
    fragment stay as written.  A URL holding a control character (raw,
    or percent-encoded in its path) is returned unchanged, as git
    refuses such URLs.

    Nothing asks the user: terminal prompts and askpass programs are
    disabled, and each program runs without a controlling terminal,
    reading an empty standard input.  A program missing from ``PATH``
    (or not executable there), one that fails, and one still running
    after 5 seconds count as no answer; a program that times out is
    stopped together with any helper it started.  What the programs
    print is never shown or logged.

    Args:
        url: The URL of a backup destination or restore source.

    Returns:
        str: *url* with credentials in it, or *url* itself.

    Raises:
        ValueError: The URL's port is not a number from 0 to 65535, or
            its brackets are unbalanced.
        OSError: ``git`` or ``gh`` was found but could not be started
            (for instance a file that is not a program).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "https" or not _CONTROL.isdisjoint(url):
        return url
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote_to_bytes(parts.path).strip(b"/")
    if "@" in parts.netloc or not parts.hostname:
        return url
    if not _CONTROL.isdisjoint(path.decode("latin-1")):
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    hostport = host if port is None else f"{host}:{port}"
    after_netloc = rest[len(parts.netloc):]

    def with_user(user: bytes, password: bytes) -> str:
        quote = urllib.parse.quote_from_bytes
        userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"{scheme}://{userinfo}@{hostport}{after_netloc}"

    request = b"protocol=https\nhost=" + hostport.encode()
    if path:
        request += b"\npath=" + path
    answer = _run(["git", "credential", "fill"], request + b"\n\n")
    if answer is not None:
        fields = {}
        for line in answer.splitlines():
            key, _, value = line.partition(b"=")
            fields[key] = value
        if fields.get(b"username") and fields.get(b"password"):
            return with_user(fields[b"username"], fields[b"password"])
    token = _run(["gh", "auth", "token", "--hostname", host], b"")
    if token is not None and token.strip():
        return with_user(b"x-access-token", token.strip())
    return url


def _run(argv: list[str], stdin: bytes) -> bytes | None:
    """Standard output of *argv* fed *stdin*; None when the program is not on
    PATH, exits non-zero or outlasts the timeout."""
    program = shutil.which(argv[0])
    if program is None:
        return None
    with subprocess.Popen([program, *argv[1:]], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env={**os.environ, **_QUIET}, start_new_session=True) as process:
        try:
            output, _ = process.communicate(stdin, timeout=_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(process)
            return None
    return output if process.returncode == 0 else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill *process* and, where sessions exist, everything it started (a
    credential helper git runs would otherwise outlive it)."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        process.kill()
