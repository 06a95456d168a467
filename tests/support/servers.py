"""Real git servers on 127.0.0.1 for the transport tests: ``git daemon``,
``git http-backend`` under lighttpd (plain http, a location behind basic
auth, https with a test CA) and ``sshd`` with an ``ssh-agent``.

Each server is a session fixture, started on first use on free loopback
ports and stopped at the end of the session.  Everything a server needs
(configuration, keys, certificates, logs, the repositories it serves) lives
under pytest's temporary directories.  The servers and the tools that set
them up run with a small fixed environment, never the test process's own:
under the sanitizer build that one preloads the ASan runtime.

Import the fixtures into a test module (``from support.servers import
git_daemon, ...``) to use them.  The function-scoped ones (``ssh_home``,
``ssh_agent_home``, ``https_ca``) set HOME, SSH_AUTH_SOCK and GIT_SSL_CAINFO
for gitstore with monkeypatch; git itself is pointed at the same keys and
CA through :meth:`SshServer.cli_env` and :meth:`HttpServer.cli_env`.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .git import GIT_ENV, git_run

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
# A free port is chosen by binding port 0 and closing the socket before the
# server binds it; another process can take it in between, so a server that
# dies before answering is started again on new ports, this many times.
START_ATTEMPTS = 3


def _tool_env(home) -> dict[str, str]:
    """The environment of every server and set-up tool."""
    return {
        "PATH": GIT_ENV["PATH"],
        "HOME": str(home),
        "LC_ALL": "C",
        "TZ": "UTC",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _run(argv, home, env=None) -> subprocess.CompletedProcess:
    full_env = _tool_env(home)
    full_env.update(env or {})
    proc = subprocess.run([str(a) for a in argv], env=full_env, capture_output=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                             f"{proc.stderr.decode(errors='replace')}")
    return proc


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _unix_answers(path: Path) -> bool:
    # the socket file exists from bind() on, but takes connections only
    # after listen()
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child before exec: a server outlives no test run, not even
    one killed before its fixtures could stop it (Linux only)."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Process:
    """A server process whose output goes to a log file."""

    def __init__(self, name: str, argv, log: Path, home: Path):
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         env=_tool_env(home), start_new_session=True,
                                         preexec_fn=_die_with_parent)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"

    def wait_ready(self, ready, deadline: float) -> bool:
        """Poll ``ready()`` until it is true (True) or the process has exited
        (False); past the deadline, stop the process and fail with its log."""
        while not ready():
            if self.proc.poll() is not None:
                return False
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.name} did not come up within {START_TIMEOUT:.0f} s; "
                            f"its log:\n{self.log_text()}", pytrace=False)
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _launch(name: str, nports: int, start, log: Path) -> tuple[Process, list[int]]:
    """``start(ports) -> Process`` on fresh free ports until every port
    answers; the process and its ports."""
    deadline = time.monotonic() + START_TIMEOUT
    for _attempt in range(START_ATTEMPTS):
        ports = _free_ports(nports)
        proc = start(ports)
        if proc.wait_ready(lambda: all(_answers(p) for p in ports), deadline):
            return proc, ports
    pytest.fail(f"{name} exited before it answered; its log:\n{proc.log_text()}", pytrace=False)


class Server:
    """Bare repositories under ``root``, served on 127.0.0.1."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port

    def repo_path(self, name: str) -> Path:
        return self.root / name

    def create(self, name: str) -> Path:
        """An empty bare repository ``name`` on the server (HEAD on main)."""
        path = self.repo_path(name)
        git_run("init", "--bare", "-q", "--initial-branch=main", path)
        return path

    def url(self, name: str) -> str:
        raise NotImplementedError


# ---------------------------------------------------------------------------
# git daemon
# ---------------------------------------------------------------------------

class GitDaemon(Server):
    """``git daemon`` exporting every repository under root, push enabled."""

    def url(self, name: str) -> str:
        return f"git://{HOST}:{self.port}/{name}"


@pytest.fixture(scope="session")
def git_daemon(tmp_path_factory):
    base = tmp_path_factory.mktemp("git-daemon")
    root = base / "repos"
    root.mkdir()

    def start(ports):
        return Process("git daemon", [
            "git", "daemon", f"--listen={HOST}", f"--port={ports[0]}", "--reuseaddr",
            f"--base-path={root}", "--export-all", "--enable=receive-pack",
            "--informative-errors", "--verbose", root,
        ], base / "daemon.log", base)

    proc, (port,) = _launch("git daemon", 1, start, base / "daemon.log")
    yield GitDaemon(root, port)
    proc.stop()


# ---------------------------------------------------------------------------
# git http-backend under lighttpd
# ---------------------------------------------------------------------------

HTTP_USER = "mirror-user"
HTTP_PASSWORD = "pw-4f9c1e7a"


def _make_tls(tls_dir: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed for 127.0.0.1 and
    localhost: (ca.pem, server.pem, server.key)."""
    ca_key, ca = tls_dir / "ca.key", tls_dir / "ca.pem"
    key, csr, cert = tls_dir / "server.key", tls_dir / "server.csr", tls_dir / "server.pem"
    ext = tls_dir / "server.ext"
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]
    _run(["openssl", "req", "-x509", *curve, "-keyout", ca_key, "-out", ca, "-days", "3650",
          "-subj", "/CN=gitstore test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], tls_dir)
    _run(["openssl", "req", *curve, "-keyout", key, "-out", csr, "-subj", f"/CN={HOST}"],
         tls_dir)
    # mbedTLS 2.x (libgit2's TLS here) matches a host only against dNSName
    # entries, an IP address too, so 127.0.0.1 is listed both ways.
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
        f"subjectAltName=IP:{HOST},DNS:localhost,DNS:{HOST}\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
          "-CAcreateserial", "-days", "3650", "-extfile", ext, "-out", cert], tls_dir)
    return ca, cert, key


def _lighttpd_quote(value) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class HttpServer(Server):
    """``git http-backend`` under lighttpd: anonymous ``/git/`` (push
    allowed) and ``/auth/`` behind basic auth (user, password), over plain
    http on ``port`` and https on ``tls_port`` (certificate signed by the
    test CA in ``cafile``)."""

    def __init__(self, root: Path, port: int, tls_port: int, cafile: Path):
        super().__init__(root, port)
        self.tls_port = tls_port
        self.cafile = cafile
        self.user = HTTP_USER
        self.password = HTTP_PASSWORD

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port}/git/{name}"

    def auth_url(self, name: str, user: str | None = None, password: str | None = None) -> str:
        """The basic-auth location; ``user`` / ``password`` go into the URL
        when given."""
        userinfo = ""
        if user is not None:
            userinfo = user + (f":{password}" if password is not None else "") + "@"
        return f"http://{userinfo}{HOST}:{self.port}/auth/{name}"

    def https_url(self, name: str) -> str:
        return f"https://{HOST}:{self.tls_port}/git/{name}"

    def cli_env(self) -> dict[str, str]:
        """For git_run: trust the test CA, never prompt for a password."""
        return {"GIT_SSL_CAINFO": str(self.cafile), "GIT_TERMINAL_PROMPT": "0"}


def _lighttpd_config(base: Path, root: Path, ports, cert: Path, key: Path) -> Path:
    q = _lighttpd_quote
    backend = Path(git_run("--exec-path").stdout.decode().strip()) / "git-http-backend"
    cgi_env = {
        "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": base, "PATH": GIT_ENV["PATH"],
        # anonymous push too (the auth location sets REMOTE_USER, which allows it anyway)
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.receivepack",
        "GIT_CONFIG_VALUE_0": "true",
    }
    env_list = ", ".join(f"{q(k)} => {q(v)}" for k, v in cgi_env.items())
    (base / "htdocs").mkdir(exist_ok=True)
    (base / "upload").mkdir(exist_ok=True)
    config = base / "lighttpd.conf"
    config.write_text(f"""\
server.modules = ("mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi",
                  "mod_openssl")
server.document-root = {q(base / "htdocs")}
server.upload-dirs = ({q(base / "upload")})
server.errorlog = {q(base / "lighttpd.log")}
# lighttpd answers a wrong password only after a pause (against guessing);
# the tests give wrong ones on purpose
server.feature-flags = ("auth.delay-invalid-creds" => "disable")
server.bind = {q(HOST)}
server.port = {ports[0]}
$SERVER["socket"] == {q(f"{HOST}:{ports[1]}")} {{
    ssl.engine = "enable"
    ssl.pemfile = {q(cert)}
    ssl.privkey = {q(key)}
}}
alias.url = ("/git/" => {q(str(backend) + "/")}, "/auth/" => {q(str(backend) + "/")})
$HTTP["url"] =~ "^/(git|auth)/" {{
    cgi.assign = ("" => "")
    setenv.set-environment = ({env_list})
}}
auth.backend = "plain"
auth.backend.plain.userfile = {q(base / "users")}
auth.require = ("/auth/" => ("method" => "basic", "realm" => "gitstore test",
                             "require" => "valid-user"))
""")
    return config


@pytest.fixture(scope="session")
def http_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("lighttpd")
    root = base / "repos"
    root.mkdir()
    (base / "tls").mkdir()
    ca, cert, key = _make_tls(base / "tls")
    users = base / "users"
    users.write_text(f"{HTTP_USER}:{HTTP_PASSWORD}\n")
    users.chmod(0o600)
    log = base / "lighttpd.log"

    def start(ports):
        config = _lighttpd_config(base, root, ports, cert, key)
        return Process("lighttpd", ["lighttpd", "-D", "-f", config], log, base)

    proc, (port, tls_port) = _launch("lighttpd", 2, start, log)
    yield HttpServer(root, port, tls_port, ca)
    proc.stop()


@pytest.fixture
def https_ca(monkeypatch, http_server):
    """gitstore trusts the test CA (GIT_SSL_CAINFO); the http server."""
    monkeypatch.setenv("GIT_SSL_CAINFO", str(http_server.cafile))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    return http_server


# ---------------------------------------------------------------------------
# sshd and ssh-agent
# ---------------------------------------------------------------------------

def _keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at path (+ .pub); the public key line."""
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
         path.parent)
    return path.with_name(path.name + ".pub").read_text().strip()


class SshServer(Server):
    """sshd for ``user`` (the current user; root logs in when the tests run
    as root).  ``key`` (in every :meth:`home` made with keys) and
    ``agent_key`` (only ever in the ssh-agent) are both authorised; the
    server has one ed25519 host key, ``host_key`` (a public key line)."""

    def __init__(self, root: Path, port: int, base: Path, user: str, host_key: str,
                 key: Path, agent_key: Path, other_host_key: str):
        super().__init__(root, port)
        self.base = base
        self.user = user
        self.host_key = host_key
        self.key = key
        self.agent_key = agent_key
        self._other_host_key = other_host_key
        self._homes: dict[tuple[bool, str], Path] = {}

    def url(self, name: str) -> str:
        return f"ssh://{self.user}@{HOST}:{self.port}{self.repo_path(name)}"

    def scp_url(self, name: str) -> str:
        """scp-like form; git's brackets carry the port."""
        return f"{self.user}@[{HOST}:{self.port}]:{self.repo_path(name)}"

    def known_hosts_line(self, key: str | None = None) -> str:
        return f"[{HOST}]:{self.port} {key or self.host_key}\n"

    def home(self, *, keys: bool = True, known_hosts: str = "good") -> Path:
        """A HOME whose .ssh holds id_ed25519 (+ .pub) when ``keys``, and a
        known_hosts that is "good" (the server's host key), "wrong" (another
        key recorded for the server), "empty", or "missing" (no file).
        Made once per variant and shared: do not change it."""
        variant = (keys, known_hosts)
        if variant not in self._homes:
            home = self.base / "homes" / f"{'keys' if keys else 'nokeys'}-{known_hosts}"
            ssh_dir = home / ".ssh"
            ssh_dir.mkdir(parents=True, mode=0o700)
            if keys:
                shutil.copy(self.key, ssh_dir / "id_ed25519")
                shutil.copy(self.key.with_name(self.key.name + ".pub"), ssh_dir / "id_ed25519.pub")
            lines = {"good": self.known_hosts_line(),
                     "wrong": self.known_hosts_line(self._other_host_key),
                     "empty": ""}
            if known_hosts in lines:
                (ssh_dir / "known_hosts").write_text(lines[known_hosts])
            elif known_hosts != "missing":
                raise ValueError(f"known_hosts variant {known_hosts!r}")
            self._homes[variant] = home
        return self._homes[variant]

    def ssh_command(self, home: Path, identity: Path | None = None) -> str:
        """GIT_SSH_COMMAND using home's known_hosts and ``identity`` (default
        home's id_ed25519; a .pub file means: the agent's matching key), and
        nothing of the user's real ~/.ssh."""
        identity = identity or home / ".ssh" / "id_ed25519"
        return shlex.join([
            "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={home / '.ssh' / 'known_hosts'}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-i", str(identity),
        ])

    def cli_env(self, home: Path | None = None, agent: "SshAgent | None" = None) -> dict[str, str]:
        """For git_run: ssh as a HOME from :meth:`home` would (default: keys,
        good known_hosts), or through ``agent`` only."""
        if agent is not None:
            home = home or self.home(keys=False)
            return {"GIT_SSH_COMMAND": self.ssh_command(home, agent.public_key),
                    "SSH_AUTH_SOCK": str(agent.socket)}
        return {"GIT_SSH_COMMAND": self.ssh_command(home or self.home())}


def _sshd_config(base: Path, port: int, user: str, root_login: bool) -> Path:
    config = base / "sshd_config"
    config.write_text(f"""\
ListenAddress {HOST}:{port}
HostKey {base / "host_ed25519"}
PidFile none
AuthorizedKeysFile {base / "authorized_keys"}
AllowUsers {user}
PermitRootLogin {"yes" if root_login else "no"}
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PermitTTY no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
LogLevel VERBOSE
SetEnv GIT_CONFIG_NOSYSTEM=1 HOME={base / "server-home"}
""")
    return config


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("sshd")
    root = base / "repos"
    root.mkdir()
    (base / "server-home").mkdir()
    (base / "keys").mkdir()
    user = pwd.getpwuid(os.getuid()).pw_name
    as_root = os.getuid() == 0
    if as_root:
        # sshd's privilege-separation directory
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    host_key = _keygen(base / "host_ed25519", "gitstore test host")
    other_host_key = _keygen(base / "keys" / "other_host_ed25519", "another host")
    key = base / "keys" / "id_ed25519"
    agent_key = base / "keys" / "agent_ed25519"
    user_pub = _keygen(key, "gitstore test user")
    agent_pub = _keygen(agent_key, "gitstore test agent")
    (base / "authorized_keys").write_text(f"{user_pub}\n{agent_pub}\n")
    log = base / "sshd.log"

    def start(ports):
        config = _sshd_config(base, ports[0], user, as_root)
        return Process("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", config], log, base)

    proc, (port,) = _launch("sshd", 1, start, log)
    yield SshServer(root, port, base, user, host_key.rsplit(" ", 1)[0], key, agent_key,
                    other_host_key.rsplit(" ", 1)[0])
    proc.stop()


class SshAgent:
    """An ssh-agent on its own socket holding the server's agent key;
    ``public_key`` is that key's .pub file."""

    def __init__(self, socket_path: Path, public_key: Path):
        self.socket = socket_path
        self.public_key = public_key


@pytest.fixture(scope="session")
def ssh_agent(tmp_path_factory, ssh_server):
    base = tmp_path_factory.mktemp("ssh-agent")
    short = None
    if len(str(base)) > 90:
        # a unix socket path has a small length limit
        short = Path(tempfile.mkdtemp(prefix="gs-agent-"))
    sock = (short or base) / "agent.sock"
    log = base / "agent.log"
    proc = Process("ssh-agent", ["ssh-agent", "-D", "-a", sock], log, base)
    if not proc.wait_ready(lambda: _unix_answers(sock), time.monotonic() + START_TIMEOUT):
        pytest.fail(f"ssh-agent exited; its log:\n{proc.log_text()}", pytrace=False)
    try:
        _run(["ssh-add", "-q", ssh_server.agent_key], base, env={"SSH_AUTH_SOCK": str(sock)})
    except BaseException:
        proc.stop()
        raise
    public = base / "agent_ed25519.pub"
    shutil.copy(ssh_server.agent_key.with_name(ssh_server.agent_key.name + ".pub"), public)
    yield SshAgent(sock, public)
    proc.stop()
    if short is not None:
        shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def ssh_home(monkeypatch, ssh_server):
    """HOME with the user key and the server's host key; no agent.  The server."""
    monkeypatch.setenv("HOME", str(ssh_server.home()))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return ssh_server


@pytest.fixture
def ssh_agent_home(monkeypatch, ssh_server, ssh_agent):
    """HOME with the server's host key but no key; the agent holds the only
    key.  The server."""
    monkeypatch.setenv("HOME", str(ssh_server.home(keys=False)))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(ssh_agent.socket))
    return ssh_server
