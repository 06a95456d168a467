"""GitStore.pack() writes one compact pack: trees deflated, older versions
of a tree or blob stored as deltas against the newer version at the same
path, delta entries of merged packs copied as they are.  git is the
oracle: `git verify-pack -v`, `git fsck --strict`, and every object read
back by `git cat-file` equal to what it was before."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from gitstore import GitStore

from support import assert_fsck_clean, git_run, pack_names

LINES = 12


@pytest.fixture(autouse=True)
def free_stores():
    """Stores a test leaves in reference cycles go with it: they may hold
    packs these tests delete open, which tests counting open packs see."""
    yield
    gc.collect()


def paths_of(files: int) -> list[str]:
    return [f"d{i // 50}/f{i % 50}.txt" for i in range(files)]


def history(files: int, commits: int, seed: int = 0):
    """(message, {path: bytes}) per commit: the first writes every file,
    each later one rewrites one line of one file."""
    paths = paths_of(files)
    text = {p: [b"%s line %d stays the same\n" % (p.encode(), k) for k in range(LINES)]
            for p in paths}
    yield "initial", {p: b"".join(text[p]) for p in paths}
    for c in range(1, commits + 1):
        p = paths[(c * 7 + seed) % files]
        text[p][c % LINES] = b"%s line %d edited by %d.%d\n" % (p.encode(), c % LINES, seed, c)
        yield f"commit {seed}.{c}", {p: b"".join(text[p])}


def write_history(fs, files: int, commits: int, seed: int = 0):
    """The history on fs; with a seed, without its first commit (the files
    are there already)."""
    for message, changes in history(files, commits, seed):
        if seed and message == "initial":
            continue
        if len(changes) > 1:
            with fs.batch(message=message) as b:
                for p, data in changes.items():
                    b.write(p, data)
            fs = b.fs
        else:
            (p, data), = changes.items()
            fs = fs.write(p, data, message=message)
    return fs


def all_objects(path) -> bytes:
    """Every object of the repository, as `git cat-file` reads it."""
    return git_run("--git-dir", path, "cat-file", "--batch-all-objects", "--batch").stdout


def verify_pack(path) -> dict[str, tuple[str, int]]:
    """`git verify-pack -v` of every pack: id -> (type, delta depth, 0 when whole)."""
    objects = {}
    for idx in sorted((Path(path) / "objects" / "pack").glob("*.idx")):
        out = git_run("verify-pack", "-v", idx).stdout.decode()
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 5 and len(f[0]) == 40:
                objects[f[0]] = (f[1], int(f[5]) if len(f) >= 7 else 0)
    return objects


def objects_size(path) -> int:
    return sum(f.stat().st_size for f in (Path(path) / "objects").rglob("*") if f.is_file())


def deltas(objects: dict[str, tuple[str, int]]) -> int:
    return sum(depth > 0 for _, depth in objects.values())


def fast_import(path, files: int, commits: int) -> None:
    stream = []
    for i, (message, changes) in enumerate(history(files, commits)):
        msg = message.encode() + b"\n"
        stream.append(b"commit refs/heads/main\n")
        stream.append(b"committer T <t@example.com> %d +0000\n" % (1600000000 + i))
        stream.append(b"data %d\n" % len(msg) + msg)
        for p, data in changes.items():
            stream.append(f"M 100644 inline {p}\n".encode() + b"data %d\n" % len(data) + data)
        stream.append(b"\n")
    git_run("init", "--quiet", "--bare", path)
    git_run("--git-dir", path, "fast-import", "--quiet", input=b"".join(stream))


def test_pack_stores_older_versions_as_deltas(tmp_path):
    repo = tmp_path / "r.git"
    store = GitStore.open(repo)
    fs = write_history(store.branches["main"], 300, 200)
    before = all_objects(repo)
    size_before = objects_size(repo)
    store.pack()
    assert len(pack_names(repo)) == 1
    assert all_objects(repo) == before
    assert_fsck_clean(repo)
    objects = verify_pack(repo)
    # Each commit left one older blob and two older trees (root, directory).
    blob_deltas = sum(t == "blob" and d > 0 for t, d in objects.values())
    tree_deltas = sum(t == "tree" and d > 0 for t, d in objects.values())
    assert blob_deltas == 200
    assert tree_deltas >= 2 * 200 - 10
    # The newest version of every file is whole.
    tip_blobs = git_run("--git-dir", repo, "ls-tree", "-r", "main").stdout.decode().split()[2::4]
    assert all(objects[b][1] == 0 for b in tip_blobs)
    root = git_run("--git-dir", repo, "rev-parse", "main^{tree}").stdout.decode().strip()
    assert objects[root][1] == 0
    assert objects_size(repo) < size_before
    assert fs.back(150).read("d0/f7.txt") == git_run(
        "--git-dir", repo, "cat-file", "blob", f"{fs.back(150).commit_hash}:d0/f7.txt").stdout


def test_pack_is_as_small_as_git_gc(tmp_path):
    ours, theirs = tmp_path / "ours.git", tmp_path / "git.git"
    write_history(GitStore.open(ours).branches["main"], 500, 300)
    fast_import(theirs, 500, 300)
    assert (git_run("--git-dir", ours, "rev-parse", "main^{tree}").stdout
            == git_run("--git-dir", theirs, "rev-parse", "main^{tree}").stdout)
    GitStore.open(ours).pack()
    git_run("--git-dir", theirs, "gc", "--quiet")
    assert objects_size(ours) <= 1.2 * objects_size(theirs)
    # git gc on ours keeps it so: it reuses the deltas.
    git_run("--git-dir", ours, "gc", "--quiet")
    assert objects_size(ours) <= 1.2 * objects_size(theirs)
    assert_fsck_clean(ours)


def test_delta_chains_stay_within_fifty(tmp_path):
    repo = tmp_path / "r.git"
    store = GitStore.open(repo)
    fs = store.branches["main"]
    versions = []
    for i in range(130):
        data = b"".join(b"line %d of the one file\n" % k for k in range(40)) + b"version %d\n" % i
        fs = fs.write("one.txt", data)
        versions.append(data)
    store.pack()
    objects = verify_pack(repo)
    blobs = [d for t, d in objects.values() if t == "blob"]
    assert len(blobs) == 130
    # Commits' merges made chains already, which pack() keeps: none
    # longer than 50, and few versions whole.
    assert max(blobs) <= 50
    assert sum(d == 0 for d in blobs) <= 6
    assert_fsck_clean(repo)
    assert [fs.back(129 - i).read("one.txt") for i in range(130)] == versions


def test_pack_again_after_more_commits(tmp_path):
    repo = tmp_path / "r.git"
    store = GitStore.open(repo)
    fs = write_history(store.branches["main"], 100, 60)
    store.pack()
    first = verify_pack(repo)
    fs = write_history(fs, 100, 60, seed=1)
    before = all_objects(repo)
    store.pack()
    again = verify_pack(repo)
    assert all_objects(repo) == before
    assert_fsck_clean(repo)
    # The deltas of the first pack were kept, and the versions the new
    # commits replaced became deltas too.
    assert all(again[i][1] > 0 for i, (_, d) in first.items() if d > 0)
    assert deltas(again) >= deltas(first) + 60
    assert max(d for _, d in again.values()) <= 50
    # Nothing new: the same pack comes out again.
    name = pack_names(repo)
    store.pack()
    assert pack_names(repo) == name
    assert_fsck_clean(repo)


def test_a_file_changed_back_and_forth(tmp_path):
    repo = tmp_path / "r.git"
    store = GitStore.open(repo)
    fs = store.branches["main"]
    a = b"".join(b"A line %d\n" % k for k in range(30))
    b = a.replace(b"A line 7", b"B line 7")
    for i in range(9):
        fs = fs.write("f.txt", a if i % 2 == 0 else b)
    before = all_objects(repo)
    store.pack()
    assert all_objects(repo) == before
    assert_fsck_clean(repo)
    objects = verify_pack(repo)
    assert sorted(d for t, d in objects.values() if t == "blob") == [0, 1]
    assert [fs.back(n).read("f.txt") for n in range(9)] == [a, b] * 4 + [a]


def object_ids(path) -> list[str]:
    return git_run("--git-dir", path, "cat-file", "--batch-all-objects",
                   "--batch-check=%(objectname)").stdout.decode().split()


def read_objects(path, ids: list[str]) -> bytes:
    return git_run("--git-dir", path, "cat-file", "--batch",
                   input="\n".join(ids).encode() + b"\n").stdout


def pack_objects(repo, name: str, tip: str, exclude: str | None = None, ofs: bool = True):
    """The objects reachable from tip (not from exclude) as a pack git
    writes, its deltas OFS_DELTA or REF_DELTA."""
    objs = git_run("--git-dir", repo, "rev-list", "--objects", tip,
                   *(["--not", exclude] if exclude else [])).stdout
    git_run("--git-dir", repo, "pack-objects", "--quiet", "--window=10",
            *(["--delta-base-offset"] if ofs else []),
            Path(repo) / "objects" / "pack" / name, input=objs)


def remove_packs(repo, names) -> None:
    for name in names:
        for ext in (".pack", ".idx", ".rev"):
            (Path(repo) / "objects" / "pack" / (name + ext)).unlink(missing_ok=True)


def test_pack_copies_the_deltas_of_packs_git_wrote(tmp_path):
    """git's packs, with OFS_DELTA and with REF_DELTA entries, merged with
    ours: their deltas are copied, their bases named anew."""
    repo = tmp_path / "r.git"
    fs = write_history(GitStore.open(repo).branches["main"], 100, 40)
    git_run("--git-dir", repo, "repack", "-a", "-d", "-f", "--quiet")   # OFS_DELTA
    git_objects = verify_pack(repo)
    assert deltas(git_objects) > 40
    repacked, = pack_names(repo)
    keep = Path(repo) / "objects" / "pack" / (repacked + ".keep")
    keep.touch()
    fs = write_history(fs, 100, 40, seed=1)
    ours = pack_names(repo) - {repacked}
    # What those commits wrote, packed by git with REF_DELTA entries instead.
    pack_objects(repo, "pack", fs.commit_hash, fs.back(40).commit_hash, ofs=False)
    remove_packs(repo, ours)
    keep.unlink()
    ref_objects = {i: v for i, v in verify_pack(repo).items() if i not in git_objects}
    assert deltas(ref_objects) > 20
    store = GitStore.open(repo)
    store.branches["main"].write("after.txt", b"one more commit\n")
    ids = object_ids(repo)
    before = read_objects(repo, ids)
    store.pack()
    assert len(pack_names(repo)) == 1
    assert read_objects(repo, ids) == before
    assert_fsck_clean(repo)
    objects = verify_pack(repo)
    kept = {i for i, (_, d) in {**git_objects, **ref_objects}.items() if d > 0}
    assert all(objects[i][1] > 0 for i in kept)


def test_commit_time_merges_copy_deltas(tmp_path):
    """Small packs git wrote with deltas, merged at a commit: the deltas
    are copied, OFS_DELTA and REF_DELTA alike."""
    repo = tmp_path / "r.git"
    base = b"".join(b"shared line %d\n" % k for k in range(60))
    stream = []
    for i in range(48):
        msg = b"commit %d\n" % i
        data = base + b"version %d of %d\n" % (i % 2, i // 2)
        stream += [b"commit refs/heads/main\n", b"committer T <t@example.com> %d +0000\n" % i,
                   b"data %d\n%s" % (len(msg), msg),
                   b"M 100644 inline f%d.txt\ndata %d\n%s\n" % (i // 2, len(data), data)]
    git_run("init", "--quiet", "--bare", repo)
    git_run("--git-dir", repo, "fast-import", "--quiet", input=b"".join(stream))
    imported = pack_names(repo)
    commits = git_run("--git-dir", repo, "rev-list", "--reverse", "main").stdout.decode().split()
    for k in range(24):
        pack_objects(repo, "pack", commits[2 * k + 1], commits[2 * k - 1] if k else None,
                     ofs=k % 2 == 0)
    remove_packs(repo, imported)
    packed = verify_pack(repo)
    assert len(pack_names(repo)) == 24 and deltas(packed) >= 24
    ids = object_ids(repo)
    before = read_objects(repo, ids)
    fs = GitStore.open(repo).branches["main"]
    for i in range(8):
        fs = fs.write("tick.txt", b"%d\n" % i)
    assert len(pack_names(repo)) < 24
    after = verify_pack(repo)
    assert all(after[i][1] > 0 for i, (_, d) in packed.items() if d > 0)
    assert read_objects(repo, ids) == before
    assert_fsck_clean(repo)


def test_backup_and_reads_of_a_packed_store(tmp_path):
    """What reads pack entries itself (a backup's object copy) and every
    read path take delta entries."""
    repo = tmp_path / "r.git"
    store = GitStore.open(repo)
    fs = write_history(store.branches["main"], 100, 50)
    big = bytes(range(256)) * 8192          # 2 MiB: streamed to a loose object
    fs = fs.write("big.bin", big)
    fs = fs.write("big.bin", big[:1000] + b"changed" + big[1000:])
    expected = {n: {p: fs.back(n).read(p) for p in ("d0/f7.txt", "d1/f14.txt")}
                for n in range(0, 52, 5)}
    store.pack()
    assert {n: {p: fs.back(n).read(p) for p in ("d0/f7.txt", "d1/f14.txt")}
            for n in range(0, 52, 5)} == expected
    with fs.open("d0/f7.txt") as f:
        assert f.read() == expected[0]["d0/f7.txt"]
    assert fs.read("big.bin", offset=1000, size=7) == b"changed"
    dest = tmp_path / "backup.git"
    store.backup(str(dest))
    assert_fsck_clean(dest)
    assert all_objects(dest) == all_objects(repo)
    copy = GitStore.open(dest, create=False).branches["main"]
    assert copy.back(50).read("d0/f7.txt") == fs.back(50).read("d0/f7.txt")
