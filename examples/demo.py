"""gitstore demo: create a store, write files, read them back, show history,
export and import an archive.

Run with `bash scripts/demo.sh` (it sets everything up first).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from gitstore import FileType, GitStore


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.git"
        store = GitStore.open(path, author="demo", email="demo@example.org")
        print(f"created {store!r}; branches: {list(store.branches)}")

        # Every write is a commit and returns a new snapshot.
        fs = store.branches["main"]
        fs = fs.write_text("notes/todo.md", "- write the demo\n")
        fs = fs.write("src/app.py", b"print('hello')\n")
        fs = fs.write("bin/run", b"#!/bin/sh\nexec python3 src/app.py\n", mode=FileType.EXECUTABLE)
        # Several changes in one commit.
        with fs.batch(message="Add the library and a link") as batch:
            batch.write("src/lib/util.py", b"def util():\n    return 42\n")
            batch.write_symlink("latest", "src/app.py")
        fs = batch.fs
        fs = fs.write_text("notes/todo.md", "- write the demo\n- read it back\n")

        print(f"\nsnapshot {fs!r}: {fs.message!r} by {fs.author_name} at {fs.time}")
        print("root:", fs.ls())
        print("notes/todo.md:", fs.read_text("notes/todo.md").splitlines())
        print("python files:", fs.glob("**/*.py"))
        print("bin/run is", fs.file_type("bin/run").value, "| latest ->", fs.readlink("latest"))
        for dirpath, dirnames, files in fs.walk():
            print(f"  {dirpath or '.'}: dirs={dirnames} files={[f.name for f in files]}")

        print("\nhistory of notes/todo.md:")
        for snap in fs.log(path="notes/todo.md"):
            print(f"  {snap.commit_hash[:7]} {snap.message}")
        print("\nall commits:")
        for snap in fs.log():
            print(f"  {snap.commit_hash[:7]} {snap.time:%H:%M:%S} {snap.message}")

        # Undo moves the branch back; old snapshots stay readable.
        undone = fs.undo()
        print("\nafter undo, the todo list is:", undone.read_text("notes/todo.md").splitlines())
        store.tags["v1"] = undone
        print("tags:", list(store.tags), "| reflog:",
              [entry.message for entry in store.branches.reflog("main")][-3:])

        # Notes annotate commits without changing them; git shows them too.
        store.notes.commits[undone] = "reviewed"
        print("note on v1:", store.notes.commits[undone.commit_hash])

        # A snapshot out as an archive, and an archive in as one commit.
        archive = Path(tmp) / "snapshot.tar.gz"
        fs = store.branches["main"]
        fs.archive_out(archive)
        print(f"\narchive_out wrote {len(fs.changes.add)} files to {archive.name}")
        fs = fs.archive_in(archive, "copy")
        print(f"archive_in committed {fs.message!r}; copy/ holds {fs.ls('copy')}")

        # A backup makes another repository (here a bundle file too) an
        # exact copy of every ref; a restore brings a store back from one.
        mirror = Path(tmp) / "backup.git"
        diff = store.backup(mirror)
        print(f"\nbackup to {mirror.name}: {len(diff.add)} refs added")
        store.backup(Path(tmp) / "offline.bundle")
        copy = GitStore.open(Path(tmp) / "restored.git", branch=None)
        diff = copy.restore(Path(tmp) / "offline.bundle")
        print(f"restore from offline.bundle: {len(diff.add)} refs; main holds "
              f"{copy.branches['main'].ls()}")

        # It is a plain git repository.
        git_log = subprocess.run(["git", "-C", str(path), "log", "--oneline", "main"],
                                 capture_output=True, text=True, check=True).stdout
        print("\n`git log --oneline main` says:\n" + git_log.rstrip())
        git_note = subprocess.run(["git", "-C", str(path), "notes", "show", "v1"],
                                  capture_output=True, text=True, check=True).stdout
        print("`git notes show v1` says:", git_note.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
