"""Names and files git itself refuses: whatever the API is given, the
repository stays ``git fsck --strict`` clean (no error, no warning).

What ``git fsck --strict`` (2.39.5) checks, and how gitstore keeps each
check quiet -- R: the write is refused with ValueError naming the path and
nothing is committed; S: what gitstore writes cannot trip it.  Probed by
crafting trees and commits with git mktree / hash-object and running fsck.

Trees
  hasDotgit (error)             R  every name git reads as ".git": any case;
                                   HFS+ ignorable code points anywhere
                                   (U+200C..200F, U+202A..202E, U+206A..206F,
                                   U+FEFF); NTFS trailing dots/spaces, ':'
                                   streams, the short name GIT~1, a backslash
                                   ending it, each part after a backslash;
                                   bytes that are not UTF-8 right after it.
  gitmodulesSymlink (error)     R  .gitmodules and every alias (.GITMODULES,
                                   GITMOD~1 .. ~4, hashed short names
                                   gi7eba~N / g~NNNNNN / ~NNNNNNN, HFS+ and
                                   NTFS forms, a part after a backslash) as a
                                   symlink.
  gitmodulesBlob (error)        R  the same names as a directory.
  gitattributesBlob (error)     R  .gitattributes (and aliases: GITATT~1,
                                   gi7d29~1, ...) as a directory.
  gitattributesSymlink,
  gitignoreSymlink,
  mailmapSymlink (warnings)     R  .gitattributes, .gitignore (gi250a~1),
                                   .mailmap (maba30~1) and aliases as symlinks.
  hasDot, hasDotdot, emptyName,
  fullPathname                  S  path normalisation refuses ".", ".." and
                                   empty segments; a name cannot hold '/'.
  badFilemode, zeroPaddedFilemode,
  treeNotSorted, duplicateEntries S  only git's modes are accepted, trees are
                                   written in git order, one entry a name.
  symlink targets               -  2.39.5 checks none (no symlinkPointsToGitDir
                                   or symlinkTargetLength): targets are free.
Blobs read through those names (at any depth, any alias, file or executable)
  gitmodulesName (error)        R  a submodule name that is empty or has a
                                   ".." component ('/' or '\\' separated).
  gitmodulesUrl (error)         R  a url starting with '-'; a relative or
                                   git:// url with an encoded newline or whose
                                   leading ../ climb into ':' or '/'; an
                                   http(s)/ftp(s) url (or http:: etc.) with a
                                   newline in a part, no scheme or no host.
  gitmodulesPath (error)        R  a path starting with '-'.
  gitmodulesUpdate (error)      R  update = !command.
  gitmodulesParse (warning)     R  text git's config parser rejects (as git
                                   reads a blob: bytes are signed, so 0xff ends
                                   the text and a UTF-8 BOM is an error).
  gitmodulesLarge (error)       R  512 MiB or more (not exercised here).
  gitattributesLineLength (error) R a line of 2048 bytes or more (before a NUL).
  gitattributesLarge (error)    R  more than 100 MiB.
Commits
  nulInCommit (warning), nulInHeader (error)
                                R  a message, author or email holding NUL.
  badName, badEmail, missingEmail, ...
                                R  '<', '>' or a newline in author or email.
  badDate, badTimezone, ...     S  the current time, whole seconds, +0000.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from gitstore import FileType, GitStore, WriteEntry

from support import Commit, Git, Link, assert_fsck_clean, build_repo, fsck_problems, git_run

IGNORABLE = ["\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d",
             "\u202e", "\u206a", "\u206b", "\u206c", "\u206d", "\u206e", "\u206f", "\ufeff"]

# Names git reads as ".git": never stored, whatever the entry is.
DOTGIT = [
    ".git", ".GIT", ".Git", ".gIT",
    "git~1", "GIT~1", "Git~1",
    ".git ", ".git.", ".git. . ", ".GIT..",
    "git~1 ", "git~1.", "GIT~1. ",
    ".git:", ".git:x", ".git::$DATA", ".Git::$INDEX_ALLOCATION", "git~1:stream",
    ".git\\", ".git\\x", "git~1\\x", "a\\.git", "a\\b\\GIT~1", "x\\.git. ",
    *[f".g{cp}it" for cp in IGNORABLE],
    *[f"{cp}.git" for cp in IGNORABLE[::3]],
    *[f".git{cp}" for cp in IGNORABLE[1::3]],
    f".\u200cG\u200dI\u200eT\ufeff",
]

# Names that are not UTF-8 reach gitstore from local directories (and
# write() takes them surrogate-escaped): a byte that is not UTF-8 ends the
# name for git's HFS+ test, so ".git\xff" reads as ".git".
NON_UTF8_DOTGIT = [".git\udcff", ".GIT\udcfe"]
NON_UTF8_FINE = ["\udcff.git", ".g\udcffit", "x\udcff"]

# Names git reads as .gitmodules (a file only, its content checked).
GITMODULES = [
    ".gitmodules", ".GITMODULES", ".GitModules", ".gitmodules ", ".gitmodules.",
    ".gitmodules:x", "gitmod~1", "GITMOD~1", "GitMod~4", "gitmod~1. ", "gi7eba~1", "GI7EBA~9",
    "gi7eb~12", "gi7~1234", "g~123456", "~1234567", "a\\.gitmodules", "x\\GITMOD~1",
    ".g\u200citmodules", "\ufeff.gitmodules", ".gitmodules\u206f",
]
GITATTRIBUTES = [".gitattributes", ".GITATTRIBUTES", "gitatt~1", "GITATT~2", "gi7d29~1",
                 ".gitattributes. ", ".git\u200dattributes"]
GITIGNORE = [".gitignore", ".GitIgnore", "gitign~1", "gi250a~1", ".gitignore:x",
             ".gitign\u200core"]
MAILMAP = [".mailmap", ".MAILMAP", "mailma~1", "maba30~1", ".mailmap "]

# Names git accepts in every role: they must keep working.
FINE = [
    ".gitx", ".github", "gitmodules", ".git-blame-ignore-revs", "x.git", "..x", "...",
    "git", "GIT", ".g", "git~", "git~0", "git~2", "git~10", "GIT~9", ".git~1", "git~1x",
    ".git.x", ".git x", "a.git.", "x:.git", "dir\\x", "x\\.gitx", "a\\gitmod~1x",
    ".gitmodules2", ".gitmodulesx", "gitmod~5", "gitmod~0", "gi7eba~0", "gitmod~1x",
    "gi7eb~1", "~123456", "g~12345x", ".gitignore2", "gitign~5", ".mailmapx", ".gitattributesx",
    ".\u200bgit", ".git\u2060", ".g\u00edt", ".gİt", "\u00e9t\u00e9", "日本語", "sp ace",
    "new\nline", "-dash", "tab\there",
]

BAD_FILE = DOTGIT                                               # refused as a file
BAD_LINK = DOTGIT + GITMODULES + GITATTRIBUTES + GITIGNORE + MAILMAP
BAD_DIR = DOTGIT + GITMODULES + GITATTRIBUTES


def ident(name: str) -> str:
    return ascii(name)


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


class Env:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.path = tmp_path / "r.git"
        self.store = GitStore.open(str(self.path), branch="main")
        self.g = Git(self.path)
        self.local = tmp_path / "local"
        self.local.mkdir()
        self.fs.apply({"src.txt": b"source\n", "srcdir/f.txt": b"f\n",
                       "keep/k.txt": b"k\n"}, message="seed")
        self.store.branches["worker"] = self.fs

    @property
    def fs(self):
        return self.store.branches["main"]

    def tip(self) -> str:
        return self.g.rev("refs/heads/main")

    def names(self, rev: str = "main") -> set[str]:
        raw = self.g.raw("ls-tree", "-r", "-z", "--name-only", rev)
        return {n.decode("utf-8", "surrogateescape") for n in raw.split(b"\0") if n}


def local_name(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def put_local(root: Path, rel: str, kind: str) -> Path:
    """A local file, symlink or directory (holding one file) named rel."""
    path = Path(os.fsdecode(os.path.join(os.fsencode(root), local_name(rel))))
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "file":
        path.write_bytes(b"x\n")
    elif kind == "link":
        os.symlink("target", path)
    else:
        path.mkdir()
        (path / "f").write_bytes(b"x\n")
    return path


def expect_refused(env: Env, path: str, action) -> None:
    """ValueError naming path, and the branch left where it was (asked of
    gitstore here, which is quick; tests compare git's tip at the end)."""
    tip = env.fs.commit_hash
    with pytest.raises(ValueError) as ei:
        action()
    assert path in str(ei.value), (path, str(ei.value))
    assert env.fs.commit_hash == tip


# ---------------------------------------------------------------------------
# Every entry point refuses every bad name, at the top and nested
# ---------------------------------------------------------------------------

def _batch_write(fs, path):
    with fs.batch() as b:
        b.write("ok.txt", b"fine")
        b.write(path, b"x")


def _batch_writer(fs, path):
    with fs.batch() as b:
        with b.writer(path) as w:
            w.write(b"x")


def _writer(fs, path):
    with fs.writer(path) as w:
        w.write(b"x")


def _write_from_file(env, path):
    local = env.tmp / "from_file.txt"
    local.write_bytes(b"x")
    return env.fs.write_from_file(path, str(local))


# (entry point, kind of entry it creates, action(env, repo path))
FILE_ENTRY_POINTS = {
    "write": lambda env, p: env.fs.write(p, b"x"),
    "write_text": lambda env, p: env.fs.write_text(p, "x"),
    "write_from_file": _write_from_file,
    "write_exec": lambda env, p: env.fs.write(p, b"x", mode=FileType.EXECUTABLE),
    "apply": lambda env, p: env.fs.apply({"ok.txt": b"fine", p: b"x"}),
    "apply_entry": lambda env, p: env.fs.apply({p: WriteEntry(data=b"x")}),
    "batch": lambda env, p: _batch_write(env.fs, p),
    "batch_writer": lambda env, p: _batch_writer(env.fs, p),
    "writer": lambda env, p: _writer(env.fs, p),
    "move": lambda env, p: env.fs.move("src.txt", p),
}
LINK_ENTRY_POINTS = {
    "write_symlink": lambda env, p: env.fs.write_symlink(p, "target"),
    "apply_link": lambda env, p: env.fs.apply({p: WriteEntry(target="target")}),
    "batch_symlink": lambda env, p: _batch_symlink(env.fs, p),
}
DIR_ENTRY_POINTS = {
    "write_below": lambda env, p: env.fs.write(p + "/f", b"x"),
    "move_dir": lambda env, p: env.fs.move("srcdir", p, recursive=True),
    "copy_from_ref": lambda env, p: env.fs.copy_from_ref(env.store.branches["worker"],
                                                         "src.txt", p),
    "copy_from_ref_dir": lambda env, p: env.fs.copy_from_ref(env.store.branches["worker"],
                                                             "srcdir/", p),
}


def _batch_symlink(fs, path):
    with fs.batch() as b:
        b.write_symlink(path, "target")


def _cases(names):
    for name in names:
        for prefix in ("", "a/b/"):
            yield pytest.param(prefix + name, id=ident(prefix + name))


REFUSED = {"file": (FILE_ENTRY_POINTS, BAD_FILE), "link": (LINK_ENTRY_POINTS, BAD_LINK),
           "dir": (DIR_ENTRY_POINTS, BAD_DIR)}


@pytest.mark.parametrize("kind,how", [(kind, how) for kind, (points, _) in REFUSED.items()
                                      for how in sorted(points)])
def test_reserved_names_refused(env, kind, how):
    """Each name git refuses for this kind of entry, top level and nested,
    through each entry point: ValueError, and nothing committed."""
    points, names = REFUSED[kind]
    tip = env.tip()
    for path in _cases_list(names):
        expect_refused(env, path, lambda: points[how](env, path))
    assert env.tip() == tip
    assert_fsck_clean(env.path)


def _cases_list(names):
    return [p.values[0] for p in _cases(names)]


@pytest.mark.parametrize("kind,names", [("file", BAD_FILE + NON_UTF8_DOTGIT),
                                        ("link", BAD_LINK), ("dir", BAD_DIR)])
@pytest.mark.parametrize("how", ["copy_in", "copy_in_contents", "sync_in"])
def test_local_trees_with_reserved_names_refused(env, how, kind, names):
    tip = env.tip()
    for i, name in enumerate(names):
        root = env.local / f"t{i}"
        put_local(root / "deep", name, kind)
        path = "dst/deep/" + name
        if how == "copy_in":
            action = lambda: env.fs.copy_in([str(root / "deep")], "dst")      # noqa: E731
        elif how == "copy_in_contents":
            action = lambda: env.fs.copy_in([str(root) + "/"], "dst")         # noqa: E731
        else:
            action = lambda: env.fs.sync_in(str(root), "dst")                 # noqa: E731
        expect_refused(env, path, action)
    assert env.tip() == tip
    assert_fsck_clean(env.path)


def test_message_names_the_path_and_the_reason(env):
    with pytest.raises(ValueError) as ei:
        env.fs.write("a/GIT~1/x", b"x")
    assert str(ei.value) == "Invalid file name 'a/GIT~1': git reserves names that read as '.git'"
    with pytest.raises(ValueError) as ei:
        env.fs.write_symlink("d/.gitmodules", "x")
    assert "'d/.gitmodules'" in str(ei.value) and "symbolic link" in str(ei.value)
    with pytest.raises(ValueError) as ei:
        env.fs.write("GITMOD~1/x", b"x")
    assert "'GITMOD~1'" in str(ei.value) and "directory" in str(ei.value)


# ---------------------------------------------------------------------------
# git is the oracle: refused exactly when fsck would complain
# ---------------------------------------------------------------------------

def _oracle_repo(tmp_path: Path, names: list[str], kind: str) -> set[str]:
    """Names whose entry (file, link or dir) makes `git fsck --strict` say
    anything, each in a tree of its own so that reports can be told apart."""
    path = tmp_path / f"oracle-{kind}.git"
    git_run("init", "-q", "--bare", path)
    g = Git(path)
    blob = g("hash-object", "-w", "--stdin", input=b"x\n")
    owner: dict[str, str] = {}
    top = []
    for i, name in enumerate(names):
        if kind == "dir":
            inner = g("mktree", input=f"100644 blob {blob}\tf{i}\n".encode())
            owner[inner] = name
            entry = f"040000 tree {inner}".encode()
        else:
            entry = f"{'120000' if kind == 'link' else '100644'} blob {blob}".encode()
        tree = g("mktree", "-z", input=entry + b"\t" + local_name(name) + b"\0")
        owner[tree] = name
        top.append(f"040000 tree {tree}\tn{i}")
    root = g("mktree", input=("\n".join(sorted(top)) + "\n").encode())
    g("update-ref", "refs/heads/main", g("commit-tree", root, "-m", "oracle"))
    flagged = set()
    for line in fsck_problems(path).splitlines():
        for oid, name in owner.items():
            if oid in line:
                flagged.add(name)
    return flagged


@pytest.mark.parametrize("kind", ["file", "link", "dir"])
def test_refused_exactly_when_git_fsck_complains(env, tmp_path, kind):
    names = sorted(set(DOTGIT + GITMODULES + GITATTRIBUTES + GITIGNORE + MAILMAP + FINE
                       + NON_UTF8_DOTGIT + NON_UTF8_FINE))
    flagged = _oracle_repo(tmp_path, names, kind)
    expected = set({"file": BAD_FILE, "link": BAD_LINK, "dir": BAD_DIR}[kind] + NON_UTF8_DOTGIT)
    assert flagged == expected          # the lists above say what git says
    accepted = []
    for i, name in enumerate(names):
        path = f"n{i}/{name}"
        try:
            if kind == "file":
                env.fs.write(path, b"x\n")
            elif kind == "link":
                env.fs.write_symlink(path, "target")
            else:
                env.fs.write(path + "/f", b"x\n")
        except ValueError as exc:
            assert name in flagged, f"{name!r} refused, git accepts it: {exc}"
            assert path in str(exc)
        else:
            assert name not in flagged, f"{name!r} stored, git fsck flags it"
            accepted.append(path)
    assert_fsck_clean(env.path)
    # what was accepted reads back as written
    fs = env.fs
    for path in accepted:
        if kind == "file":
            assert fs.read(path) == b"x\n"
        elif kind == "link":
            assert fs.readlink(path) == "target"
        else:
            assert fs.read(path + "/f") == b"x\n"


# ---------------------------------------------------------------------------
# .gitmodules and .gitattributes content
# ---------------------------------------------------------------------------

BAD_GITMODULES = [
    b'[submodule "../x"]\n\tpath = x\n\turl = https://example.com/x\n',
    b'[submodule "a/../b"]\n\tpath = x\n',
    b'[submodule "a\\\\..\\\\b"]\n\tpath = x\n',     # backslash-separated ..
    b'[submodule ".."]\n\tpath = x\n',
    b'[submodule ""]\n\tpath = x\n',
    b'[submodule "x"]\n\turl = -oProxyCommand=evil\n',
    b'[submodule "x"]\n\turl = "-u"\n',
    b'[submodule "x"]\n\turl = \\\n-x\n',            # continuation line
    b'[submodule.x]\n\turl = -x\n',                  # old-style subsection
    b'[SubModule "x"]\n\tURL = -x\n',
    b'[submodule "x"]\n\tpath = -x\n',
    b'[submodule "x"]\n\tupdate = !rm -rf /\n',
    b'[submodule "x"]\n\turl = https://a%0a@example.com/\n',
    b'[submodule "x"]\n\turl = https://example.com%0a/x\n',
    b'[submodule "x"]\n\turl = https:///x\n',        # no host
    b'[submodule "x"]\n\turl = http::example.com\n',  # no scheme
    b'[submodule "x"]\n\turl = ./%0a\n',
    b'[submodule "x"]\n\turl = git://h/%0a\n',
    b'[submodule "x"]\n\turl = ../../:x\n',
    b'[submodule "x"]\n\turl = ..\\\\/x\n',
    b'[submodule "x"]\r\n\turl = -x\r\n',
    b'[submodule "x"\n',                             # parse errors (fsck warns)
    b'[submodule "x"]\n\turl = "open\n',
    b'[submodule "x"]\n\turl = \\q\n',
    b'garbage [[[\n',
    b'\xef\xbb\xbf[submodule "x"]\n\tpath = x\n',   # git reads blobs' bytes signed
    b'[submodule "\xff"]\n\tpath = x\n',
]
GOOD_GITMODULES = [
    b'',
    b'# nothing\n',
    b'[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n',
    b'[submodule "a/b"]\n\tpath = a/b\n\turl = ../b.git\n\tbranch = main\n\tupdate = rebase\n',
    b'[submodule "x"]\n\turl = " -x"\n',             # quoted: does not start with '-'
    b'[submodule "x"]\n\turl = ./x ; -x\n',          # comment
    b'[submodule "a..b"]\n\tpath = x\n',
    b'[submodule "x"]\n\turl = git@example.com:x.git\n',
    b'[submodule "x"]\n\turl = ssh://example.com/x\n',
    b'[submodule "x"]\n\turl = ./%0\n',
    b'[submodule "x"]\n\turl = x%0a:./\n',           # before ':' nothing is decoded
    b'[submodule "x"]\n\turl\n',                     # no value: nothing to check
    b'[core]\n\turl = -x\n',                         # not a submodule
    b'[submodule "x"]\n\tpath = x\n\xff[submodule "y"]\n\turl = -x\n',  # 0xff ends the text
    b'[submodule "x"]\n\tpath = x\x00-y\n\turl = \x00-x\n',   # values end at a NUL
]
BAD_GITATTRIBUTES = [b"a" * 2048, b"x\n" + b"a" * 2048 + b"\n", b"a" * 5000 + b"\r\n"]
GOOD_GITATTRIBUTES = [b"", b"*.bin binary\n", b"a" * 2047, b"a" * 2047 + b"\n" + b"b" * 2047,
                      b"x\0" + b"a" * 5000]


@pytest.mark.parametrize("name", [".gitmodules", "sub/.GITMODULES", "GITMOD~1", "d/gi7eba~1"])
def test_gitmodules_content_git_refuses(env, name):
    tip = env.tip()
    for content in BAD_GITMODULES:
        expect_refused(env, name, lambda: env.fs.write(name, content))
    assert env.tip() == tip
    # the same blobs, stored under an innocent name, cannot move in
    for i, content in enumerate(BAD_GITMODULES):
        fs = env.fs.write(f"innocent{i}", content)
        expect_refused(env, name, lambda: fs.move(f"innocent{i}", name))
    assert_fsck_clean(env.path)


@pytest.mark.parametrize("name", [".gitmodules", "deep/er/GITMOD~1"])
def test_gitmodules_content_git_accepts(env, name):
    fs = env.fs
    for content in GOOD_GITMODULES:
        fs = fs.write(name, content)
        assert fs.read(name) == content
    assert_fsck_clean(env.path)
    expect_refused(env, name, lambda: env.fs.write(name, BAD_GITMODULES[0]))


ENTRY_POINTS = {
    "write_text": lambda env, bad: env.fs.write_text(".gitmodules", bad.decode()),
    "write_from_file": lambda env, bad: env.fs.write_from_file(".gitmodules",
                                                               str(env.tmp / "bad.cfg")),
    "apply": lambda env, bad: env.fs.apply({".gitmodules": bad}),
    "batch_writer": lambda env, bad: _batch_writer_data(env.fs, ".gitmodules", bad),
    "copy_in": lambda env, bad: env.fs.copy_in([str(env.local / "m") + "/"], ""),
    "sync_in": lambda env, bad: env.fs.sync_in(str(env.local / "m"), ""),
}


@pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))
def test_gitmodules_checked_through_every_entry_point(env, entry_point):
    bad = BAD_GITMODULES[5]
    (env.local / "m").mkdir()
    (env.local / "m" / ".gitmodules").write_bytes(bad)
    (env.tmp / "bad.cfg").write_bytes(bad)
    expect_refused(env, ".gitmodules", lambda: ENTRY_POINTS[entry_point](env, bad))
    assert_fsck_clean(env.path)


def _batch_writer_data(fs, path, data):
    with fs.batch() as b:
        with b.writer(path) as w:
            w.write(data)


@pytest.mark.parametrize("name", [".gitattributes", "x/GITATT~1", "gi7d29~1"])
def test_gitattributes_long_lines_refused(env, name):
    for i, content in enumerate(BAD_GITATTRIBUTES):
        expect_refused(env, name, lambda: env.fs.write(name, content))
        fs = env.fs.write(f"innocent{i}", content)
        expect_refused(env, name, lambda: fs.move(f"innocent{i}", name))
    assert_fsck_clean(env.path)


def test_gitattributes_content_git_accepts(env):
    fs = env.fs
    for content in GOOD_GITATTRIBUTES:
        fs = fs.write(".gitattributes", content)
        fs = fs.write("sub/GITATT~1", content, mode=FileType.EXECUTABLE)
    assert_fsck_clean(env.path)
    expect_refused(env, ".gitattributes", lambda: env.fs.write(".gitattributes", b"a" * 4096))


def test_big_gitattributes(env):
    # Big blobs stream to loose objects: their content is read back to be
    # checked.  Over 100 MiB git ignores the file and fsck reports it.
    line = b"*.x binary\n"
    ok = line * (3 * 1024 * 1024 // len(line))
    env.fs.write(".gitattributes", ok)
    expect_refused(env, "d/.gitattributes",
                   lambda: env.fs.write("d/.gitattributes", ok + b"y" * 3000 + b"\n"))
    huge = (line * (100 * 1024 * 1024 // len(line) + 1))
    expect_refused(env, "e/.gitattributes", lambda: env.fs.write("e/.gitattributes", huge))
    assert_fsck_clean(env.path)


# ---------------------------------------------------------------------------
# Repositories made by git with such names stay readable
# ---------------------------------------------------------------------------

def test_odd_names_made_by_git_read_and_kept(tmp_path):
    path = tmp_path / "odd.git"
    build_repo(path, [Commit({
        "d/git~1": b"a\n", "d/.GIT./y": b"b\n", ".gitmodules": Link("elsewhere"),
        "d/.gitignore": Link("x"), "d/plain": b"p\n", ".g\u200cit/z": b"z\n",
    })])
    fs = GitStore.open(str(path)).branches["main"]
    assert fs.read("d/git~1") == b"a\n"
    assert fs.exists("d/.GIT./y") and fs.is_dir("d/.GIT.")
    assert fs.readlink(".gitmodules") == "elsewhere"
    assert sorted(fs.ls("d")) == [".GIT.", ".gitignore", "git~1", "plain"]
    assert fs.read(".g\u200cit/z") == b"z\n"
    assert len(list(fs.walk())) >= 3
    # writes beside them keep them; removing them works
    fs = fs.write("d/new", b"n\n")
    assert fs.read("d/git~1") == b"a\n" and fs.readlink("d/.gitignore") == "x"
    fs = fs.remove(["d/git~1", ".gitmodules"])
    assert not fs.exists("d/git~1") and not fs.exists(".gitmodules")
    # but nothing new of the kind can be written there
    tip = Git(path).rev("refs/heads/main")
    for bad in ("d/git~1", "d/.GIT./w", "d/GIT~1/w"):
        with pytest.raises(ValueError):
            fs.write(bad, b"x")
    with pytest.raises(ValueError):
        fs.write_symlink("d/.GITIGNORE", "x")
    assert Git(path).rev("refs/heads/main") == tip


# ---------------------------------------------------------------------------
# Fuzz: hostile names, modes, contents, messages and identities
# ---------------------------------------------------------------------------

PIECES = [".git", "git~1", "GIT~1", ".gitmodules", "GITMOD~1", "gi7eba~1", ".gitattributes",
          "gi7d29~1", ".gitignore", ".mailmap", "maba30~1", "~1234567", "g~123456", ".", " ",
          ":", "::$DATA", "\\", "~", "1", "x", "é", "\udcff", "\n", "\t", "\x01", "-", "..",
          *IGNORABLE[::2]]
CONTENTS = [b"", b"x", b"\0\xff", b"-x\n", b"a" * 2100,
            *BAD_GITMODULES[::4], *GOOD_GITMODULES[::3]]
MESSAGE_BITS = ["", "m", "\n", "\0", "\r", "\x1b[31m", "\udcff", "é", "{", "}", "%s", "\t"]


def _hostile_name(rng: random.Random) -> str:
    while True:
        name = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 3)))
        if name not in (".", ".."):
            return name


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_git_fsck_stays_clean(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "fuzz.git"
    GitStore.open(str(path), branch="main")
    refused = stored = 0
    for _ in range(150):
        author = rng.choice(["gitstore", "", " ", "a b", "é\x01", "\udcff"])
        email = rng.choice(["e@x", "", " ", "a b", "\t"])
        if rng.random() < 0.15:
            author += rng.choice(["\0", "<", ">", "\n"])
        try:
            store = GitStore.open(str(path), author=author, email=email)
        except ValueError:          # UnicodeEncodeError for the surrogate
            assert any(c in author for c in "\0<>\n\udcff")
            continue
        fs = store.branches["main"]
        segs = [_hostile_name(rng) for _ in range(rng.randint(1, 3))]
        repo_path = "/".join(segs)
        message = "".join(rng.choice(MESSAGE_BITS) for _ in range(rng.randint(0, 4)))
        content = rng.choice(CONTENTS)
        how = rng.choice(["write", "exec", "link", "apply", "batch", "move", "copy_in"])
        try:
            if how == "write":
                fs.write(repo_path, content, message=message)
            elif how == "exec":
                fs.write(repo_path, content, mode=FileType.EXECUTABLE, message=message)
            elif how == "link":
                fs.write_symlink(repo_path, content.decode("utf-8", "surrogateescape"),
                                 message=message)
            elif how == "apply":
                fs.apply({repo_path: content, "ok/" + segs[-1]: WriteEntry(target="t")},
                         message=message)
            elif how == "batch":
                with fs.batch(message=message) as b:
                    b.write(repo_path, content)
            elif how == "move":
                fs = fs.write("mv-src", content)
                fs.move("mv-src", repo_path, message=message)
            else:
                root = tmp_path / f"local{rng.random()}"
                parent = os.path.join(os.fsencode(root), *map(local_name, segs[:-1]))
                os.makedirs(parent)
                with open(os.path.join(parent, local_name(segs[-1])), "wb") as f:
                    f.write(content)
                fs.copy_in([str(root) + "/"], "in", message=message)
            stored += 1
        except ValueError:
            refused += 1
        except (KeyError, IndexError):
            assert "{" in message or "}" in message    # a bad message placeholder
    assert refused and stored
    assert_fsck_clean(path)
