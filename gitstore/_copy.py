"""The rules of copy_in, copy_out, sync_in and sync_out.

The FS methods of the same names hand their arguments to the functions
here.  What runs per file in bulk (walking a directory, hashing and
storing files, writing blobs out) is in the C module; this file decides
which files go where and what the ChangeReport says.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._core import _disk_walk
from ._types import ChangeError, ChangeReport, FileEntry, FileType

if TYPE_CHECKING:
    from ._core import FS

# Kinds of the entries _disk_walk and FS._local_diff return (0 file, 2 special).
_LINK, _BADDIR = 1, 3

_ALL_FAILED = "All files failed to copy: "


# ---------------------------------------------------------------------------
# Small helpers


def _source_list(sources) -> list[str]:
    """`sources` as a list of str: a str or os.PathLike is one source."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    result = []
    for item in sources:
        path = os.fspath(item)
        if not isinstance(path, str):
            raise TypeError(f"sources must be str, not {type(path).__name__}")
        result.append(path)
    return result


def _repo_dir(dest) -> str:
    """A repository directory argument, normalised ("" for the root)."""
    text = os.fspath(dest)
    if not isinstance(text, str):
        raise TypeError(f"dest must be str, not {type(text).__name__}")
    text = text.strip("/")
    if not text:
        return ""
    for segment in text.split("/"):
        if not segment:
            raise ValueError(f"Empty segment in path: {text!r}")
        if segment in (".", ".."):
            raise ValueError(f"Invalid path segment: {segment!r}")
        if "\0" in segment:
            raise ValueError(f"Path must not contain NUL: {text}")
    return text


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _type_of_mode(mode: int) -> FileType:
    return FileType.from_filemode(mode)


def _local_type(kind: int, executable: bool) -> FileType:
    if kind == _LINK:
        return FileType.LINK
    return FileType.EXECUTABLE if executable else FileType.BLOB


def _finish(fs, report: ChangeReport):
    """Attach the report (None when all five lists are empty) and return fs."""
    empty = not (report.add or report.update or report.delete or report.errors
                 or report.warnings)
    fs._set_changes(None if empty else report)
    return fs


def _all_failed(report: ChangeReport) -> RuntimeError:
    return RuntimeError(_ALL_FAILED + repr(report.errors))


def _drop_failed(report: ChangeReport, failed_rels: set[str]) -> None:
    """Files that failed are reported as errors, not as added or updated."""
    if failed_rels:
        report.add[:] = [e for e in report.add if e.path not in failed_rels]
        report.update[:] = [e for e in report.update if e.path not in failed_rels]


def _overlap_warning(path: str, rel: str) -> ChangeError:
    return ChangeError(path, f"Overlapping destination '{rel}': skipping (kept earlier source)")


# ---------------------------------------------------------------------------
# Local sources: "base/./rest" pivots, "dir/" for contents, plain paths


def _resolve_local(spec: str) -> tuple[str, str, str]:
    """(path, mode, prefix) of a local source; mode is file, dir or contents."""
    text = spec.replace(os.sep, "/") if os.sep != "/" else spec
    marker = text.find("/./")
    if marker > 0:
        base, rest = spec[:marker], spec[marker + 3:]
        contents = rest.endswith("/")
        rest = rest.rstrip("/")
        target = os.path.join(base, rest) if rest else base
        if not os.path.exists(target):
            raise FileNotFoundError(f"Local file not found: {target}")
        prefix = rest.rpartition("/")[0]
        if os.path.isdir(target):
            return target, "contents" if contents else "dir", prefix
        if contents:
            raise NotADirectoryError(f"Not a directory: {target}")
        return target, "file", prefix
    if text.endswith("/"):
        path = spec.rstrip("/" + os.sep)
        if not os.path.isdir(path):
            raise NotADirectoryError(f"Not a directory: {path}")
        return path, "contents", ""
    if os.path.isdir(spec):
        return spec, "dir", ""
    if os.path.exists(spec):
        return spec, "file", ""
    raise FileNotFoundError(f"Local file not found: {spec}")


def _local_sources(resolved, follow: bool, exclude) -> list[tuple[str, bool, str]]:
    """(path, walk, rel) for the C diff: what each source provides and where."""
    result = []
    for path, mode, prefix in resolved:
        name = os.path.basename(path.rstrip("/" + os.sep))
        if mode == "file":
            if exclude is not None and exclude.active and exclude.is_excluded(name):
                continue
            result.append((path, False, _join(prefix, name)))
        elif mode == "dir":
            # A directory named through a symlink is that symlink, unless followed.
            walk = follow or not os.path.islink(path)
            result.append((path, walk, _join(prefix, name)))
        else:
            result.append((path, True, prefix))
    return result


# ---------------------------------------------------------------------------
# Disk to repository


def _resolve_all(specs, resolve, report, ignore_errors):
    """Resolve every source; with ignore_errors a bad one becomes an error."""
    resolved = []
    for spec in specs:
        try:
            resolved.append(resolve(spec))
        except (FileNotFoundError, NotADirectoryError) as exc:
            if not ignore_errors:
                raise
            report.errors.append(ChangeError(spec, str(exc)))
    return resolved


def _problem(report: ChangeReport, ignore_errors: bool, local: str, exc: OSError) -> None:
    if not ignore_errors:
        raise exc
    report.errors.append(ChangeError(local, str(exc)))


def copy_in(fs, sources, dest, *, dry_run=False, follow_symlinks=False, message=None, mode=None,
            ignore_existing=False, delete=False, ignore_errors=False, checksum=True,
            exclude=None, _operation="cp") -> FS:
    specs = _source_list(sources)
    dest = _repo_dir(dest)
    report = ChangeReport()
    resolved = _resolve_all(specs, _resolve_local, report, ignore_errors)
    if ignore_errors and not resolved:
        if report.errors and not dry_run:
            raise _all_failed(report)
        return _finish(fs, report)
    adds, updates, gone, problems, overlaps, unchanged = fs._local_diff(
        _local_sources(resolved, follow_symlinks, exclude), dest, exclude, follow_symlinks,
        delete, checksum, mode)
    for rel, local, exc in problems:
        _problem(report, ignore_errors, local, exc)
    report.warnings.extend(_overlap_warning(local, rel) for rel, local, _, _ in overlaps)
    removes: list[str] = []
    prefix = dest + "/" if dest else ""
    if not delete:
        entries = []
        # Below a destination that is missing or empty nothing exists yet.
        occupied = fs.exists(dest) if dest else bool(fs.ls(""))
        for entry in adds:
            rel, local, kind, executable = entry
            exists = occupied and fs.exists(prefix + rel)
            if exists and ignore_existing:
                continue
            entries.append(entry)
            target = report.update if exists else report.add
            target.append(FileEntry(rel, _local_type(kind, executable), local))
    else:
        if ignore_existing:
            updates = []
        entries = sorted(adds + updates)
        report.add.extend(FileEntry(rel, _local_type(kind, executable), local)
                          for rel, local, kind, executable in adds)
        report.update.extend(FileEntry(rel, _local_type(kind, executable), local)
                             for rel, local, kind, executable in updates)
        for rel, fmode in gone:
            report.delete.append(FileEntry(rel, _type_of_mode(fmode), _join(dest, rel)))
            removes.append(_join(dest, rel))
    if dry_run:
        report.add.sort(key=_path_key)
        report.update.sort(key=_path_key)
        return _finish(fs, report)
    if not entries and not removes:
        if ignore_errors and report.errors and not unchanged:
            raise _all_failed(report)
        return _finish(fs, report)
    items = [(prefix + rel, local, kind == _LINK) for rel, local, kind, _ in entries]
    result, failures = fs._import_local(items, removes, message, _operation, mode,
                                        ignore_errors)
    for index, exc in failures:
        report.errors.append(ChangeError(entries[index][1], str(exc)))
    _drop_failed(report, {entries[index][0] for index, _ in failures})
    if failures and result is fs and len(failures) == len(items) and not unchanged:
        raise _all_failed(report)
    return _finish(result, report)


def _rel_key(entry: "_Stored") -> str:
    return entry.rel


def _path_key(entry: FileEntry) -> str:
    return entry.path


def sync_in(fs, local_path, repo_path, *, dry_run=False, message=None, ignore_errors=False,
            checksum=True, exclude=None):
    local = os.fspath(local_path)
    if not isinstance(local, str):
        raise TypeError(f"local_path must be str, not {type(local).__name__}")
    if not local:
        raise ValueError("local_path must not be empty")
    if not os.path.lexists(local.rstrip("/" + os.sep) or local):
        return _sync_in_from_nothing(fs, repo_path, dry_run, message)
    source = local if local.endswith(("/", os.sep)) else local + "/"
    return copy_in(fs, [source], repo_path, dry_run=dry_run, message=message, delete=True,
                   ignore_errors=ignore_errors, checksum=checksum, exclude=exclude,
                   _operation="sync")


def _sync_in_from_nothing(fs, repo_path, dry_run, message):
    """sync_in from a local directory that does not exist: empty repo_path."""
    dest = _repo_dir(repo_path)
    report = ChangeReport()
    entry = fs.stat(dest) if dest and fs.exists(dest) else None
    if entry is not None and entry.file_type != FileType.TREE:
        report.delete.append(FileEntry(dest, entry.file_type, dest))
        removes = [dest]
    else:
        files = fs._files_below(dest)
        removes = sorted(_join(dest, rel) for rel, _, _ in files)
        for rel, fmode, _ in sorted(files):
            report.delete.append(FileEntry(rel, _type_of_mode(fmode), _join(dest, rel)))
    if dry_run or not removes:
        return _finish(fs, report)
    result, _ = fs._import_local([], removes, message, "sync")
    return _finish(result, report)


# ---------------------------------------------------------------------------
# Repository to disk


class _Stored:
    """One file of the snapshot and where it lands, relative to dest."""

    __slots__ = ("repo", "rel", "mode", "id", "local")

    def __init__(self, repo, rel, mode, oid, local):
        self.repo = repo
        self.rel = rel
        self.mode = mode
        self.id = oid
        self.local = local


def _stored_entries(fs, resolved, dest, report):
    """The snapshot's files for every source, first source winning an overlap."""
    entries, seen = [], set()
    for mode, path, prefix, fmode, oid in resolved:
        if mode == "file":
            found = [(_join(prefix, path.rpartition("/")[2]), path, fmode, oid)]
        else:
            base = _join(prefix, path.rpartition("/")[2]) if mode == "dir" else prefix
            found = [(_join(base, rel), _join(path, rel), m, i)
                     for rel, m, i in fs._files_below(path)]
        for rel, repo_path, m, i in found:
            if rel in seen:
                report.warnings.append(_overlap_warning(repo_path, rel))
                continue
            seen.add(rel)
            entries.append(_Stored(repo_path, rel, m, i, os.path.join(dest, rel)))
    return entries


def _local_files(dest: str) -> dict[str, tuple[int, bool, int]]:
    """rel -> (kind, exec, mtime) of every non-directory below dest."""
    if not os.path.isdir(dest):
        return {}
    return {rel: (kind, executable, mtime)
            for rel, kind, executable, mtime, _ in _disk_walk(dest)
            if kind != _BADDIR}


def _prune_empty_dirs(dest: str) -> None:
    """Remove every empty directory below dest, bottom-up (never dest)."""
    for root, dirs, files in os.walk(dest, topdown=False):
        if root == dest:
            continue
        try:
            os.rmdir(root)
        except OSError:
            pass


def _check_dest_dir(dest: str) -> None:
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise FileExistsError(17, os.strerror(17), dest)


def copy_out(fs, sources, dest, *, dry_run=False, ignore_existing=False, delete=False,
             ignore_errors=False, checksum=True) -> FS:
    specs = _source_list(sources)
    dest = os.fspath(dest)
    report = ChangeReport()
    resolved = _resolve_all(specs, fs._resolve_source, report, ignore_errors)
    if ignore_errors and not resolved:
        if report.errors and not dry_run:
            raise _all_failed(report)
        return _finish(fs, report)
    entries = _stored_entries(fs, resolved, dest, report)
    deletes: list[str] = []
    unchanged = 0
    compare_failed: set[str] = set()
    if not delete:
        if ignore_existing:
            entries = [e for e in entries if not os.path.lexists(e.local)]
        if not entries:
            if ignore_errors and report.errors and not dry_run:
                raise _all_failed(report)
            return _finish(fs, report)
        for e in entries:
            target = report.update if os.path.lexists(e.local) else report.add
            target.append(FileEntry(e.rel, _type_of_mode(e.mode), e.repo))
        if dry_run:
            report.add.sort(key=_path_key)
            report.update.sort(key=_path_key)
            return _finish(fs, report)
        try:
            _check_dest_dir(dest)
            os.makedirs(dest, exist_ok=True)
        except OSError as exc:
            if not ignore_errors:
                raise
            report.errors.extend(ChangeError(e.local, str(exc)) for e in entries)
            _drop_failed(report, {e.rel for e in entries})
            raise _all_failed(report) from None
    else:
        if not dry_run:
            _check_dest_dir(dest)
            os.makedirs(dest, exist_ok=True)
        local = _local_files(dest)
        wanted = {e.rel for e in entries}
        adds = [e for e in entries if e.rel not in local]
        both = [e for e in entries if e.rel in local]
        unchanged = len(both)
        if not checksum:
            since = int(fs.time.timestamp())
            both = [e for e in both
                    if local[e.rel][0] == _LINK or local[e.rel][2] is None
                    or local[e.rel][2] > since]
        verdicts = fs._compare_local([(e.repo, e.local, local[e.rel][0] == _LINK)
                                      for e in both])
        changed = []
        compare_failed = set()
        for e, verdict in zip(both, verdicts):
            if isinstance(verdict, BaseException):
                # Whatever stands there unreadable is replaced (written anew).
                if not ignore_errors:
                    raise verdict
                report.errors.append(ChangeError(e.local, str(verdict)))
                compare_failed.add(e.rel)
            if verdict is not True:
                changed.append(e)
        unchanged -= len(changed)
        if ignore_existing:
            changed = []
        entries = sorted(adds, key=_rel_key) + sorted(changed, key=_rel_key)
        report.add.extend(FileEntry(e.rel, _type_of_mode(e.mode), e.repo)
                          for e in sorted(adds, key=_rel_key))
        report.update.extend(FileEntry(e.rel, _type_of_mode(e.mode), e.repo)
                             for e in sorted(changed, key=_rel_key))
        deletes = sorted(rel for rel in local if rel not in wanted)
        report.delete.extend(FileEntry(rel, FileType.BLOB) for rel in deletes)
        if dry_run or not (entries or deletes):
            return _finish(fs, report)
    failed = 0
    for rel in deletes:
        path = os.path.join(dest, rel)
        try:
            os.unlink(path)
        except OSError as exc:
            if not ignore_errors:
                raise
            report.errors.append(ChangeError(path, str(exc)))
            failed += 1
    failures = fs._export(dest, [(e.rel, e.id, e.mode) for e in entries], ignore_errors)
    for index, error in failures:
        if entries[index].rel not in compare_failed:   # said once is enough
            report.errors.append(ChangeError(entries[index].local, str(error)))
    _drop_failed(report, {entries[index].rel for index, _ in failures})
    failed += len(failures)
    if delete:
        _prune_empty_dirs(dest)
    attempted = len(entries) + len(deletes)
    if ignore_errors and attempted and failed >= attempted and not unchanged:
        raise _all_failed(report)
    return _finish(fs, report)


def sync_out(fs, repo_path, local_path, *, dry_run=False, ignore_errors=False, checksum=True):
    path = os.fspath(repo_path)
    if not isinstance(path, str):
        raise TypeError(f"repo_path must be str, not {type(path).__name__}")
    source = path.rstrip("/") + "/" if path.strip("/") else ""
    try:
        fs._resolve_source(source)
    except (FileNotFoundError, NotADirectoryError):
        return _sync_out_to_nothing(fs, os.fspath(local_path), dry_run)
    return copy_out(fs, [source], local_path, dry_run=dry_run, delete=True,
                    ignore_errors=ignore_errors, checksum=checksum)


def _sync_out_to_nothing(fs, dest: str, dry_run: bool):
    """sync_out from a repository path that does not exist: empty dest."""
    report = ChangeReport()
    if not dry_run:
        _check_dest_dir(dest)
    local = sorted(_local_files(dest))
    report.delete.extend(FileEntry(rel, FileType.BLOB) for rel in local)
    if not dry_run:
        os.makedirs(dest, exist_ok=True)
        for rel in local:
            os.unlink(os.path.join(dest, rel))
        _prune_empty_dirs(dest)
    return _finish(fs, report)
