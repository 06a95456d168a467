#!/usr/bin/env python3
"""Read benchmark: gitstore vs vost vs hand-rolled pygit2.

Builds one bare repository with the git CLI (``git init --bare`` +
``git fast-import``), then times the same read workloads on each
implementation against that repository and prints per-op times, the
speed-up of gitstore over the others, and PASS/FAIL against the targets.

    python bench/bench_read.py [--quick] [--json FILE] [--dir DIR] [--keep]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import importlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BRANCH = "main"

# --------------------------------------------------------------------------
# The test repository
#
# 5 top-level directories x 5 subdirectories = 25 directories at depth 2,
# each with an "archive" child = 25 directories at depth 3; 100 files in
# each of those 50 directories = 5,000 files, plus the small-read target.

TOPS = ["alpha", "beta", "gamma", "delta", "epsilon"]
SUBS = ["src", "docs", "data", "logs", "misc"]
DEEP = "archive"
FILES_PER_DIR = 100
EXTENSIONS = [("txt", 70), ("md", 10), ("json", 8), ("py", 7), ("csv", 5)]

TARGET_FILE = "gamma/data/archive/small.txt"         # depth 3
TARGET_DATA = b"a small file read over and over by the benchmark\n"
MISSING_PATH = "gamma/data/archive/no-such-file.txt"  # parent dirs exist
LS_DIR = "gamma/data"                                 # 100 files + 1 dir
GLOB_PATTERN = "**/*.txt"

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua").split()


def leaf_dirs() -> list[str]:
    """The 50 directories that hold files: 25 at depth 2, 25 at depth 3."""
    depth2 = [f"{top}/{sub}" for top in TOPS for sub in SUBS]
    return depth2 + [f"{d}/{DEEP}" for d in depth2]


def generate_files(seed: int = 1234) -> dict[str, bytes]:
    """Deterministic path -> content map for the test repository."""
    rng = random.Random(seed)
    names, weights = zip(*EXTENSIONS)
    files: dict[str, bytes] = {}
    for directory in leaf_dirs():
        for i in range(FILES_PER_DIR):
            ext = rng.choices(names, weights)[0]
            path = f"{directory}/file{i:03d}.{ext}"
            words = " ".join(rng.choices(WORDS, k=rng.randint(5, 60)))
            files[path] = f"{path}\n{words}\n".encode()
    files[TARGET_FILE] = TARGET_DATA
    return files


def fast_import_stream(files: dict[str, bytes]) -> bytes:
    """A git fast-import stream committing `files` to refs/heads/<BRANCH>."""
    message = b"benchmark fixture\n"
    out = [
        f"commit refs/heads/{BRANCH}\n".encode(),
        b"committer Bench <bench@example.com> 1700000000 +0000\n",
        b"data %d\n" % len(message), message,
    ]
    for path, data in sorted(files.items()):
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(b"data %d\n" % len(data))
        out.append(data + b"\n")
    return b"".join(out)


def build_repo(parent: Path, files: dict[str, bytes]) -> Path:
    """Create a bare repository under `parent` holding `files` on main."""
    repo = parent / "bench.git"
    subprocess.run(["git", "init", "--quiet", "--bare",
                    f"--initial-branch={BRANCH}", str(repo)], check=True)
    subprocess.run(["git", "--git-dir", str(repo), "fast-import", "--quiet"],
                   input=fast_import_stream(files), check=True)
    return repo


def default_parent_dir() -> str:
    """/var/tmp if usable (on disk, unlike a tmpfs /tmp), else the cwd."""
    var_tmp = Path("/var/tmp")
    if var_tmp.is_dir() and os.access(var_tmp, os.W_OK):
        return str(var_tmp)
    return os.getcwd()


# --------------------------------------------------------------------------
# Hand-rolled pygit2 equivalent


@dataclass(frozen=True)
class Pygit2Stat:
    mode: int
    size: int
    hash: str


class Pygit2Snapshot:
    """The minimal pygit2 code a user would write for the same reads."""

    def __init__(self, repo_path: Path, branch: str):
        import pygit2

        self._pygit2 = pygit2
        self.repo = pygit2.Repository(str(repo_path))
        ref = self.repo.references[f"refs/heads/{branch}"]
        self.tree = ref.peel(pygit2.Commit).tree

    def _lookup(self, path: str):
        """Walk the tree one path segment at a time; KeyError if missing."""
        obj = self.tree
        for segment in path.strip("/").split("/"):
            if not isinstance(obj, self._pygit2.Tree):
                raise KeyError(path)
            obj = obj[segment]
        return obj

    def read(self, path: str) -> bytes:
        return self._lookup(path).data

    def stat(self, path: str) -> Pygit2Stat:
        obj = self._lookup(path)
        _, size = self.repo.odb.read_header(obj.id)
        return Pygit2Stat(mode=obj.filemode, size=size, hash=str(obj.id))

    def exists(self, path: str) -> bool:
        try:
            self._lookup(path)
        except KeyError:
            return False
        return True

    def ls(self, path: str) -> list[str]:
        return [entry.name for entry in self._lookup(path)]

    def walk(self) -> Iterator[tuple[str, list[str], list[str]]]:
        """os.walk-style: (dirpath, dirnames, filenames), top-down."""
        stack = [("", self.tree)]
        while stack:
            dirpath, tree = stack.pop()
            dirs, files = [], []
            for entry in tree:
                if isinstance(entry, self._pygit2.Tree):
                    dirs.append(entry.name)
                    stack.append((f"{dirpath}/{entry.name}".lstrip("/"), entry))
                else:
                    files.append(entry.name)
            yield dirpath, dirs, files

    def glob(self, pattern: str) -> list[str]:
        """Recursive walk + fnmatch ('*' spans '/', so '**/' is just '*/')."""
        return sorted(
            path
            for dirpath, _, files in self.walk()
            for path in (f"{dirpath}/{name}" if dirpath else name for name in files)
            if fnmatch.fnmatchcase(path, pattern)
        )


# --------------------------------------------------------------------------
# Implementations under test


@dataclass
class Impl:
    name: str
    snapshot: Any = None          # object with read/stat/exists/ls/walk/glob
    handle: Any = None            # keeps the store alive
    version: str = ""
    note: str = ""                # why it is missing, if it is

    @property
    def available(self) -> bool:
        return self.snapshot is not None


def import_gitstore():
    """Import the built gitstore package (installed, or built in place)."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))   # after site-packages
    module = importlib.import_module("gitstore")
    if not hasattr(module, "GitStore"):
        raise ImportError("`gitstore` has no GitStore: the extension is not "
                          "built/installed yet")
    return module


def open_gitstore(repo: Path) -> Impl:
    module = import_gitstore()
    store = module.GitStore.open(str(repo), create=False)
    version = getattr(module, "__version__", "") or "?"
    return Impl("gitstore", store.branches[BRANCH], store,
                f"{version} ({module.__file__})")


def open_vost(repo: Path) -> Impl:
    import vost
    from importlib.metadata import version

    store = vost.GitStore.open(str(repo), create=False)
    return Impl("vost", store.branches[BRANCH], store, version("vost"))


def open_pygit2(repo: Path) -> Impl:
    import pygit2

    return Impl("pygit2", Pygit2Snapshot(repo, BRANCH), None,
                f"{pygit2.__version__} (libgit2 {pygit2.LIBGIT2_VERSION})")


OPENERS: dict[str, Callable[[Path], Impl]] = {
    "gitstore": open_gitstore,
    "vost": open_vost,
    "pygit2": open_pygit2,
}


def load_impls(repo: Path) -> list[Impl]:
    impls = []
    for name, opener in OPENERS.items():
        try:
            impls.append(opener(repo))
        except ImportError as exc:
            impls.append(Impl(name, note=f"not importable: {exc}"))
        except Exception as exc:  # a half-built module must not stop the run
            impls.append(Impl(name, note=f"failed to open: {exc!r}"))
    return impls


# --------------------------------------------------------------------------
# Workloads


def count_walked_files(snapshot) -> int:
    return sum(len(files) for _, _, files in snapshot.walk())


def stat_size(result) -> Any:
    return getattr(result, "size", None)


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    op: Callable[[Any], Any]              # one operation on a snapshot
    target: float | None = None           # required vost/gitstore ratio
    normalize: Callable[[Any], Any] = lambda result: result  # for cross-checks


WORKLOADS = [
    Workload("read", "read small file (depth 3)",
             lambda s: s.read(TARGET_FILE), target=20),
    Workload("stat", "stat small file",
             lambda s: s.stat(TARGET_FILE), target=20, normalize=stat_size),
    Workload("exists_missing", "exists(missing path)",
             lambda s: s.exists(MISSING_PATH)),
    Workload("ls", f"ls({LS_DIR})",
             lambda s: s.ls(LS_DIR), normalize=sorted),
    Workload("walk", "walk() all files",
             count_walked_files, target=5),
    Workload("glob", f"glob({GLOB_PATTERN})",
             lambda s: s.glob(GLOB_PATTERN), target=5, normalize=sorted),
]


# --------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class TimingConfig:
    repeats: int      # independent runs; the minimum is reported
    min_time: float   # seconds each run should last at least


def calibrate(timer: timeit.Timer, min_time: float) -> int:
    """Smallest number of loops (1, 2, 5, 10, 20, ...) lasting >= min_time."""
    scale = 1
    while True:
        for factor in (1, 2, 5):
            number = scale * factor
            if timer.timeit(number) >= min_time:
                return number
        scale *= 10


@dataclass
class Contender:
    """One implementation's calibrated timer for the current workload."""
    name: str
    timer: timeit.Timer
    number: int
    best: float = float("inf")   # best per-op time seen so far

    def run_once(self) -> None:
        self.best = min(self.best, self.timer.timeit(self.number) / self.number)


def time_interleaved(contenders: list[Contender], repeats: int) -> None:
    """Run the contenders in turn, `repeats` rounds, keeping each one's best.

    Interleaving spreads a burst of machine noise over all implementations
    instead of penalising whichever one happened to be running.
    """
    for _ in range(repeats):
        for contender in contenders:
            contender.run_once()


@dataclass
class Result:
    workload: str
    title: str
    target: float | None
    seconds: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def ratio(self, other: str) -> float | None:
        ours, theirs = self.seconds.get("gitstore"), self.seconds.get(other)
        if not ours or not theirs:
            return None
        return theirs / ours

    @property
    def status(self) -> str:
        if self.target is None:
            return "-"
        ratio = self.ratio("vost")
        if ratio is None:
            return "n/a"
        return "PASS" if ratio >= self.target else "FAIL"


def run_workload(workload: Workload, impls: list[Impl], cfg: TimingConfig) -> Result:
    result = Result(workload.key, workload.title, workload.target)
    answers: dict[str, Any] = {}
    contenders: list[Contender] = []
    for impl in impls:
        result.seconds[impl.name] = None
        if not impl.available:
            continue
        fn = lambda snapshot=impl.snapshot: workload.op(snapshot)  # noqa: E731
        try:
            answers[impl.name] = workload.normalize(fn())  # warm-up + check
            timer = timeit.Timer(fn)
            contenders.append(Contender(impl.name, timer,
                                        calibrate(timer, cfg.min_time)))
        except Exception as exc:
            result.errors[impl.name] = repr(exc)
    time_interleaved(contenders, cfg.repeats)
    result.seconds.update({c.name: c.best for c in contenders})
    result.mismatches = cross_check(answers)
    return result


def cross_check(answers: dict[str, Any]) -> list[str]:
    """Names of implementations whose answer differs from the first one."""
    if not answers:
        return []
    reference_name, reference = next(iter(answers.items()))
    return [f"{name} != {reference_name}"
            for name, answer in answers.items() if answer != reference]


# --------------------------------------------------------------------------
# Report


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x"


def render_table(results: list[Result], impls: list[Impl]) -> str:
    """Per-op times and ratios; columns of missing implementations are left out."""
    names = [impl.name for impl in impls if impl.available]
    compared = [n for n in ("vost", "pygit2") if n in names and "gitstore" in names]
    header = ["workload", *names, *(f"{n}/gitstore" for n in compared),
              "target", "result"]
    rows = [header]
    for r in results:
        target = "-" if r.target is None else f">= {r.target:g}x"
        rows.append([r.title, *(fmt_time(r.seconds.get(n)) for n in names),
                     *(fmt_ratio(r.ratio(n)) for n in compared),
                     target, r.status])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_notes(results: list[Result], impls: list[Impl]) -> list[str]:
    notes = [f"{impl.name}: MISSING, column skipped ({impl.note})"
             for impl in impls if not impl.available]
    for r in results:
        notes += [f"{r.title}: {name} raised {err}" for name, err in r.errors.items()]
        notes += [f"{r.title}: results differ: {m}" for m in r.mismatches]
    return notes


def write_json(path: str, results: list[Result], impls: list[Impl],
               repo_info: dict, cfg: TimingConfig, quick: bool) -> None:
    payload = {
        "meta": {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "quick": quick,
            "timing": asdict(cfg),
        },
        "implementations": {
            impl.name: {"available": impl.available, "version": impl.version,
                        "note": impl.note}
            for impl in impls
        },
        "repo": repo_info,
        "results": [
            {**asdict(r), "ratios": {"vost/gitstore": r.ratio("vost"),
                                     "pygit2/gitstore": r.ratio("pygit2")},
             "status": r.status}
            for r in results
        ],
    }
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")


# --------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter repeats (smoke test)")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON")
    parser.add_argument("--dir", metavar="DIR", default=None,
                        help="where to create the temporary repository "
                             "(default: /var/tmp, else the current directory)")
    parser.add_argument("--keep", action="store_true",
                        help="do not delete the temporary repository")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = (TimingConfig(repeats=3, min_time=0.02) if args.quick
           else TimingConfig(repeats=10, min_time=0.1))

    files = generate_files()
    parent = Path(tempfile.mkdtemp(prefix="gitstore-bench-",
                                   dir=args.dir or default_parent_dir()))
    try:
        started = time.perf_counter()
        repo = build_repo(parent, files)
        repo_info = {"path": str(repo), "files": len(files),
                     "dirs_with_files": len(leaf_dirs()),
                     "target": TARGET_FILE}
        print(f"repository: {repo} ({len(files)} files in {len(leaf_dirs())} "
              f"directories, built in {time.perf_counter() - started:.2f} s)")

        impls = load_impls(repo)
        for impl in impls:
            state = impl.version if impl.available else f"MISSING - {impl.note}"
            print(f"  {impl.name:8s} {state}")
        print(f"timing: per-op time = min of {cfg.repeats} interleaved runs, "
              f"each >= {cfg.min_time:g} s"
              f"{' (--quick)' if args.quick else ''}\n")

        results = []
        for workload in WORKLOADS:
            gc.collect()
            results.append(run_workload(workload, impls, cfg))

        print(render_table(results, impls))
        print("\nratios: other implementation's per-op time / gitstore's (how many "
              "times faster gitstore is);\ntargets apply to vost/gitstore.")
        notes = render_notes(results, impls)
        if notes:
            print("\nnotes:")
            print("\n".join(f"  - {note}" for note in notes))
        if args.json:
            write_json(args.json, results, impls, repo_info, cfg, args.quick)
            print(f"\nwrote {args.json}")
    finally:
        if args.keep:
            print(f"\nkept {parent}")
        else:
            shutil.rmtree(parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
