"""A store kept open for a long time: descriptors, mappings and the disk
space of merged packs stay bounded however many commits it makes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from gitstore import GitStore

from support import assert_fsck_clean, pack_names


def _deleted_fds() -> list[str]:
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.endswith("(deleted)") and ".pack" in target:
            out.append(target)
    return out


def _deleted_maps() -> list[str]:
    with open("/proc/self/maps") as f:
        return [line for line in f if line.rstrip().endswith("(deleted)")
                and (".pack" in line or ".idx" in line)]


def test_alternating_writes_and_reads_under_a_low_descriptor_limit(tmp_path):
    """3,000 write/read cycles with RLIMIT_NOFILE at 256: before, every
    commit kept the pack a merge had deleted open, and the loop died near
    cycle 250 with "Too many open files"."""
    script = textwrap.dedent("""
        import os, resource, sys
        from gitstore import GitStore
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        fs = GitStore.open(sys.argv[1]).branches["main"]
        most = 0
        for i in range(3000):
            fs = fs.write("f.txt", b"%d" % i)
            assert fs.read("f.txt") == b"%d" % i
            most = max(most, len(os.listdir("/proc/self/fd")))
        print(most)
    """)
    repo = tmp_path / "soak.git"
    proc = subprocess.run([sys.executable, "-c", script, str(repo)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) <= 64
    assert_fsck_clean(repo)


def test_merged_packs_are_released_within_a_few_commits(tmp_path):
    store = GitStore.open(tmp_path / "r.git")
    fs = store.branches["main"]
    for i in range(200):
        fs = fs.write(f"d{i % 7}/f.txt", b"%d" % i)
        assert fs.read(f"d{i % 7}/f.txt") == b"%d" % i
        # Merges happen every ~16 commits: a pack they delete may be held
        # until the next commit, never longer.
        if i % 16 == 15:
            fs = fs.write("x.txt", b"%d" % i)
            fs.read("x.txt")
            assert _deleted_fds() == []
            assert _deleted_maps() == []
    assert len(pack_names(tmp_path / "r.git")) <= 20


def test_pack_releases_what_readers_held(tmp_path):
    """GitStore.pack() merges every pack; the next read lets go of them."""
    store = GitStore.open(tmp_path / "r.git")
    fs = store.branches["main"]
    for i in range(10):
        fs = fs.write(f"f{i}.txt", b"%d" % i)
    snaps = [fs.back(n) for n in range(10)]
    for n, snap in enumerate(snaps):
        assert snap.read(f"f{9 - n}.txt") == b"%d" % (9 - n)
    store.pack()
    assert len(pack_names(tmp_path / "r.git")) == 1
    for n, snap in enumerate(snaps):
        assert snap.read(f"f{9 - n}.txt") == b"%d" % (9 - n)
    assert _deleted_fds() == []
    assert _deleted_maps() == []


def test_packs_another_process_merged_are_released(tmp_path):
    """A reader following a writer in another process lets go of the packs
    that process merged away."""
    repo = tmp_path / "r.git"
    store = GitStore.open(repo)
    reader = GitStore.open(repo)
    writer_script = textwrap.dedent("""
        import sys
        from gitstore import GitStore
        store = GitStore.open(sys.argv[1])
        fs = store.branches["main"]
        for i in range(int(sys.argv[2]), int(sys.argv[3])):
            fs = fs.write("f.txt", b"%d" % i)
    """)
    for start in range(0, 200, 20):
        subprocess.run([sys.executable, "-c", writer_script, str(repo), str(start),
                        str(start + 20)], check=True, timeout=120)
        fs = reader.branches["main"]
        assert fs.read("f.txt") == b"%d" % (start + 19)
    store.branches["main"].read("f.txt")
    assert _deleted_fds() == []
    assert _deleted_maps() == []


def test_many_threads_then_one_keeps_few_handles(tmp_path):
    """Handles opened for a burst of threads do not keep merged packs open
    once the burst is over."""
    from concurrent.futures import ThreadPoolExecutor

    store = GitStore.open(tmp_path / "r.git")
    fs = store.branches["main"]
    for i in range(20):
        fs = fs.write(f"f{i}.txt", b"x" * i)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: [fs.read(f"f{k}.txt") for k in range(20)] * 20, range(64)))
    for i in range(60):
        fs = fs.write("g.txt", b"%d" % i)
        fs.read("g.txt")
    assert _deleted_fds() == []
    assert _deleted_maps() == []
