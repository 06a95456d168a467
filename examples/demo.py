"""gitstore demo: create a store, put files in it, read them back, show history.

Run with `bash scripts/demo.sh` (sets everything up first).  Writing from
Python arrives with the write side of gitstore; until then the demo adds
its commits with `git fast-import`, which also shows that a gitstore
repository is an ordinary git repository.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from gitstore import GitStore


def git_import(repo: Path, branch: str, message: str, files: dict) -> None:
    """Add one commit on `branch` holding `files` (path -> bytes) with git itself."""
    lines = [f"commit refs/heads/{branch}".encode(),
             b"committer demo <demo@example.org> 1700000000 +0100",
             f"data {len(message)}".encode(), message.encode(),
             f"from refs/heads/{branch}^0".encode()]
    for path, data in files.items():
        lines += [f"M 100644 inline {path}".encode(), f"data {len(data)}".encode(), data]
    stream = b"\n".join(lines) + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.git"
        store = GitStore.open(path, author="demo", email="demo@example.org")
        print(f"created {store!r}; branches: {list(store.branches)}")

        git_import(path, "main", "Add notes and code", {
            "notes/todo.md": b"- write the demo\n",
            "src/app.py": b"print('hello')\n",
            "src/lib/util.py": b"def util():\n    return 42\n",
        })
        git_import(path, "main", "Update the todo list", {
            "notes/todo.md": b"- write the demo\n- read it back\n",
        })

        fs = store.branches["main"]
        print(f"\nsnapshot {fs!r}: {fs.message!r} by {fs.author_name} at {fs.time}")
        print("root:", fs.ls())
        print("notes/todo.md:", fs.read_text("notes/todo.md").splitlines())
        print("python files:", fs.glob("**/*.py"))
        for dirpath, dirnames, files in fs.walk():
            print(f"  {dirpath or '.'}: dirs={dirnames} files={[f.name for f in files]}")
        print("stat src/app.py:", fs.stat("src/app.py"))

        print("\nhistory of notes/todo.md:")
        for snap in fs.log(path="notes/todo.md"):
            print(f"  {snap.commit_hash[:7]} {snap.message}")
        print("\nall commits:")
        for snap in fs.log():
            print(f"  {snap.commit_hash[:7]} {snap.time:%Y-%m-%d %H:%M %z} {snap.message}")
        old = fs.back(1)
        print("\nthe todo list one commit back:", old.read_text("notes/todo.md").splitlines())
    return 0


if __name__ == "__main__":
    sys.exit(main())
