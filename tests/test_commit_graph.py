"""GitStore.pack() writes git's commit-graph file: git verifies it, its
chunks are the ones git writes for the same commits, and history read
through it answers as git does."""

from __future__ import annotations

import shutil
import struct

from gitstore import GitStore

from support import Commit, Git, assert_fsck_clean, build_repo

GRAPH = ("objects", "info", "commit-graph")


def chunks(path) -> dict[bytes, bytes]:
    data = path.joinpath(*GRAPH).read_bytes()
    assert data[:8] == b"CGPH\x01\x01" + bytes([data[6]]) + b"\x00"
    table = [(data[8 + 12 * i:12 + 12 * i], struct.unpack(">Q", data[12 + 12 * i:20 + 12 * i])[0])
             for i in range(data[6] + 1)]
    return {name: data[start:table[i + 1][1]] for i, (name, start) in enumerate(table[:-1])}


def history(path):
    """Merges (an octopus among them), a second branch and a tag."""
    def files(i):
        return {f"d{i % 3}/f{i % 4}.txt": b"%d" % i, "top": b"t%d" % (i // 5)}
    commits = [Commit(files(i), label=f"c{i}", time=1700000000 + i) for i in range(12)]
    commits += [
        Commit(files(20), branch="side", parents=["c3"], label="s1", time=1700000100),
        Commit(files(21), branch="other", parents=["c5"], label="o1", time=1700000101),
        Commit(files(22), parents=["c11", "s1", "o1"], label="octopus", time=1700000102),
        Commit(files(23), parents=["octopus", "s1"], label="merge", time=1700000103),
        Commit(files(24), label="last", time=1700000104),
    ]
    return build_repo(path, commits, lightweight={"v1": "c7"})


def test_pack_writes_the_graph_git_writes(tmp_path):
    path = tmp_path / "g.git"
    history(path)
    store = GitStore.open(path, create=False)
    store.pack()
    assert path.joinpath(*GRAPH).exists()
    g = Git(path)
    g("commit-graph", "verify")
    assert_fsck_clean(path)
    theirs = tmp_path / "theirs.git"
    shutil.copytree(path, theirs)
    theirs.joinpath(*GRAPH).unlink()
    Git(theirs)("commit-graph", "write", "--reachable", "--no-changed-paths")
    mine, git_chunks = chunks(path), chunks(theirs)
    assert set(mine) == {b"OIDF", b"OIDL", b"CDAT", b"EDGE"}
    for name in mine:
        assert mine[name] == git_chunks[name], name


def test_history_through_the_graph_and_past_it(tmp_path):
    path = tmp_path / "h.git"
    history(path)
    store = GitStore.open(path, create=False)
    store.pack()
    fs = store.branches["main"]
    for i in range(8):
        fs = fs.write(f"d{i % 3}/f{i % 4}.txt", b"after %d" % i)
    g = Git(path)
    for check in (GitStore.open(path, create=False), store):
        fs = check.branches["main"]
        for p in ["d1/f1.txt", "d0", "top", "none", "d2/f3.txt"]:
            want = g.lines("log", "--first-parent", "--format=%H", "main", "--", p)
            assert [s.commit_hash for s in fs.log(path=p)] == want, p
        top = int(g("rev-list", "--count", "--first-parent", "main"))
        for n in [0, 1, 8, 9, top - 1]:
            assert fs.back(n).commit_hash == g.rev(f"main~{n}")
    store.pack()
    g("commit-graph", "verify")
    assert int(g("rev-list", "--count", "--all")) == len(chunks(path)[b"OIDL"]) // 20
    assert_fsck_clean(path)


def test_empty_store_packs_without_a_graph(tmp_path):
    path = tmp_path / "e.git"
    store = GitStore.open(path, branch=None)
    store.pack()
    assert not path.joinpath(*GRAPH).exists()
