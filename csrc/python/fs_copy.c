/*
 * fs_copy.c - copy_in, copy_out, sync_in and sync_out: the arguments are
 * converted here, the core's sync.c decides and does everything with the
 * GIL released, and its report becomes the ChangeReport in `.changes`.
 */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

PyObject *gsp_disk_walk(PyObject *module, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"root", "exclude", "follow_symlinks", NULL};
	gsp_state_t *st = PyModule_GetState(module);
	PyObject *root, *exclude = Py_None, *encoded = NULL, *result = NULL;
	struct gs_exclude *filter = NULL;
	gs_local_list found;
	int follow = 0, status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|Op:_disk_walk", kwlist, &root, &exclude,
					 &follow))
		return NULL;
	if (gsp_exclude_arg(st, exclude, &filter) < 0 || !PyUnicode_FSConverter(root, &encoded))
		return NULL;
	GSP_CALL(status, gs_local_walk(&found, PyBytes_AS_STRING(encoded), filter, follow, 0));
	Py_DECREF(encoded);
	if (status < 0)
		return gsp_raise(st);
	if (!(result = PyList_New((Py_ssize_t)found.count)))
		goto done;
	for (size_t i = 0; i < found.count; i++) {
		gs_local_entry *e = &found.items[i];
		PyObject *item = Py_BuildValue("(O&iNLi)", (PyObject *(*)(const char *))gsp_str,
					       e->rel, (int)e->kind, PyBool_FromLong(e->exec),
					       (long long)e->mtime, e->err);
		if (!item) {
			Py_CLEAR(result);
			break;
		}
		PyList_SET_ITEM(result, (Py_ssize_t)i, item);
	}
done:
	gs_local_list_free(&found);
	return result;
}

/* os.fspath(arg), which must be a str: TypeError "<what> must be str". */
static PyObject *str_arg(PyObject *arg, const char *what)
{
	PyObject *path = PyOS_FSPath(arg);

	if (path && !PyUnicode_Check(path)) {
		PyErr_Format(PyExc_TypeError, "%s must be str, not %s", what,
			     Py_TYPE(path)->tp_name);
		Py_CLEAR(path);
	}
	return path;
}

/* The bytes of a path for the core: local paths as os.fsencode makes
 * them, repository paths as UTF-8 (names that are not UTF-8 come back
 * from listings surrogate-escaped).  A NUL cannot reach the core. */
static PyObject *path_bytes(PyObject *path, int local)
{
	PyObject *out = NULL;

	if (local)
		return PyUnicode_FSConverter(path, &out) ? out : NULL;
	if (!(out = PyUnicode_AsEncodedString(path, "utf-8", "surrogateescape")))
		return NULL;
	if (strlen(PyBytes_AS_STRING(out)) != (size_t)PyBytes_GET_SIZE(out)) {
		PyErr_Format(PyExc_ValueError, "Path must not contain NUL: %R", path);
		Py_CLEAR(out);
	}
	return out;
}

/* A repository directory argument, normalised ("" for the root). */
static char *repo_dir_arg(gsp_state_t *st, PyObject *arg, const char *what)
{
	PyObject *path = str_arg(arg, what);
	char *out = NULL;

	if (!path)
		return NULL;
	if (gsp_path_arg(st, path, 1, &out) == 0 && !out && !(out = strdup("")))
		PyErr_NoMemory();
	Py_DECREF(path);
	return out;
}

/* The report as `.changes`: None when there is nothing to report. */
static PyObject *changes_of(gsp_state_t *st, const gs_report *report)
{
	return gs_report_empty(report) ? Py_NewRef(Py_None) : gsp_report_new(st, report);
}

/* copy_in and sync_in: plan and store (GIL released), then commit. */
static PyObject *copy_into(FSObject *self, const char *const *sources, size_t nsources,
			   const char *local, const char *dest, const gs_copy_opts *opts,
			   PyObject *message, const char *operation)
{
	gsp_state_t *st = gsp_state_of(self);
	gs_report report = {0};
	gs_changeset *cs = NULL;
	gs_txn *txn = NULL;
	PyObject *result = NULL, *changes = NULL, *op = NULL;
	int status;

	if (!(txn = gsp_txn_begin(self->store)) || !(cs = gsp_changeset_new(st)))
		goto done;
	if (local)
		GSP_CALL(status, gs_sync_in(&report, cs, txn, &self->info.tree, local, dest, opts));
	else
		GSP_CALL(status, gs_copy_in(&report, cs, txn, &self->info.tree, sources, nsources,
					    dest, opts));
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	if (!(changes = changes_of(st, &report)))
		goto done;
	/* Nothing staged: no commit, and no writability or staleness check. */
	if (gs_changeset_count(cs) == 0)
		result = Py_NewRef(self);
	else if ((op = PyUnicode_FromString(operation)))
		result = gsp_fs_commit(self, txn, cs, message, op, "batch on", changes);
	if (result == (PyObject *)self)
		gsp_fs_set_changes(self, changes);
done:
	Py_XDECREF(op);
	Py_XDECREF(changes);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	gs_report_free(&report);
	return result;
}

static PyObject *fs_copy_in(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "dest", "dry_run", "follow_symlinks", "message", "mode",
				 "ignore_existing", "delete", "ignore_errors", "checksum",
				 "exclude", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *dest_obj, *message = Py_None, *mode = Py_None, *exclude = Py_None;
	PyObject *result = NULL;
	gs_copy_opts opts = {0};
	gs_strlist specs = {0};
	char *dest = NULL;

	opts.checksum = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$ppOOppppO:copy_in", kwlist, &sources,
					 &dest_obj, &opts.dry_run, &opts.follow_symlinks, &message,
					 &mode, &opts.ignore_existing, &opts.delete,
					 &opts.ignore_errors, &opts.checksum, &exclude) ||
	    gsp_source_list(st, &specs, sources) < 0 || !(dest = repo_dir_arg(st, dest_obj, "dest")) ||
	    gsp_mode_arg(st, mode, 0, &opts.mode_override) < 0 ||
	    gsp_exclude_arg(st, exclude, (struct gs_exclude **)&opts.filter) < 0)
		goto done;
	opts.since = self->info.time;
	result = copy_into(self, (const char *const *)specs.items, specs.count, NULL, dest, &opts,
			   message, "cp");
done:
	free(dest);
	gs_strlist_free(&specs);
	return result;
}

static PyObject *fs_sync_in(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"local_path", "repo_path", "dry_run", "message", "ignore_errors",
				 "checksum", "exclude", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *local_obj, *dest_obj, *message = Py_None, *exclude = Py_None;
	PyObject *local = NULL, *encoded = NULL, *result = NULL;
	gs_copy_opts opts = {0};
	char *dest = NULL;

	opts.checksum = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$pOppO:sync_in", kwlist, &local_obj,
					 &dest_obj, &opts.dry_run, &message, &opts.ignore_errors,
					 &opts.checksum, &exclude) ||
	    !(local = str_arg(local_obj, "local_path")))
		goto done;
	if (PyUnicode_GET_LENGTH(local) == 0) {
		PyErr_SetString(PyExc_ValueError, "local_path must not be empty");
		goto done;
	}
	if (!(encoded = path_bytes(local, 1)) || !(dest = repo_dir_arg(st, dest_obj, "dest")) ||
	    gsp_exclude_arg(st, exclude, (struct gs_exclude **)&opts.filter) < 0)
		goto done;
	opts.since = self->info.time;
	result = copy_into(self, NULL, 0, PyBytes_AS_STRING(encoded), dest, &opts, message,
			   "sync");
done:
	free(dest);
	Py_XDECREF(encoded);
	Py_XDECREF(local);
	return result;
}

/* copy_out and sync_out: the core writes below dest (GIL released). */
static PyObject *copy_from(FSObject *self, const char *const *sources, size_t nsources,
			   const char *path, const char *dest, const gs_copy_opts *opts)
{
	gsp_state_t *st = gsp_state_of(self);
	gs_report report = {0};
	PyObject *result = NULL, *changes;
	int status;

	if (path)
		GSP_CALL(status, gs_sync_out(&report, self->store->store, &self->info.tree, path,
					     dest, opts));
	else
		GSP_CALL(status, gs_copy_out(&report, self->store->store, &self->info.tree,
					     sources, nsources, dest, opts));
	if (status < 0) {
		gsp_raise(st);
	} else if ((changes = changes_of(st, &report))) {
		gsp_fs_set_changes(self, changes);
		Py_DECREF(changes);
		result = Py_NewRef(self);
	}
	gs_report_free(&report);
	return result;
}

static PyObject *fs_copy_out(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "dest", "dry_run", "ignore_existing", "delete",
				 "ignore_errors", "checksum", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *dest_obj, *dest = NULL, *result = NULL;
	gs_copy_opts opts = {0};
	gs_strlist specs = {0};

	opts.checksum = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$ppppp:copy_out", kwlist, &sources,
					 &dest_obj, &opts.dry_run, &opts.ignore_existing,
					 &opts.delete, &opts.ignore_errors, &opts.checksum) ||
	    gsp_source_list(st, &specs, sources) < 0 ||
	    !PyUnicode_FSConverter(dest_obj, &dest))
		goto done;
	opts.since = self->info.time;
	result = copy_from(self, (const char *const *)specs.items, specs.count, NULL,
			   PyBytes_AS_STRING(dest), &opts);
done:
	gs_strlist_free(&specs);
	Py_XDECREF(dest);
	return result;
}

static PyObject *fs_sync_out(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"repo_path", "local_path", "dry_run", "ignore_errors", "checksum",
				 NULL};
	PyObject *path_obj, *dest_obj, *path = NULL, *encoded = NULL, *dest = NULL;
	PyObject *result = NULL;
	gs_copy_opts opts = {0};

	opts.checksum = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$ppp:sync_out", kwlist, &path_obj,
					 &dest_obj, &opts.dry_run, &opts.ignore_errors,
					 &opts.checksum) ||
	    !(path = str_arg(path_obj, "repo_path")) || !(encoded = path_bytes(path, 0)) ||
	    !PyUnicode_FSConverter(dest_obj, &dest))
		goto done;
	opts.since = self->info.time;
	result = copy_from(self, NULL, 0, PyBytes_AS_STRING(encoded), PyBytes_AS_STRING(dest),
			   &opts);
done:
	Py_XDECREF(dest);
	Py_XDECREF(encoded);
	Py_XDECREF(path);
	return result;
}

#define KW METH_VARARGS | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef gsp_fs_copy_methods[] = {
	{"copy_in", FN(fs_copy_in), KW,
	 "copy_in($self, /, sources, dest, *, dry_run=False, follow_symlinks=False, "
	 "message=None, mode=None, ignore_existing=False, delete=False, ignore_errors=False, "
	 "checksum=True, exclude=None)\n--\n\n"
	 "Copy local files and directories into the branch, in one commit.\n"
	 "\n"
	 "Sources follow rsync's conventions: ``\"dir\"`` lands as ``dest/dir/...``,\n"
	 "``\"dir/\"`` copies the directory's contents into *dest*, a file lands as\n"
	 "``dest/name``, and ``\"base/./sub/dir\"`` keeps ``sub/dir`` below *dest*.\n"
	 "Directories are walked with dot files and without empty directories;\n"
	 "symlinks are stored as symlinks unless *follow_symlinks*.  Special files\n"
	 "(fifos, sockets, devices) are never opened: each is an error.  Files\n"
	 "become blobs streamed into one pack; unchanged files are not stored again.\n"
	 "\n"
	 "Without *delete* every source file is written and listed (``add`` when the\n"
	 "path is new, else ``update``).  With *delete* only differences are written\n"
	 "and listed, and files under *dest* that the sources lack are removed\n"
	 "(excluded ones too, as rsync without ``--delete-excluded`` would not; a\n"
	 "directory that cannot be read protects what is below it).  Overlapping\n"
	 "sources: the first one wins and each later one adds a warning.\n"
	 "\n"
	 "Args:\n"
	 "    sources: A local path or a list of them (str or os.PathLike).\n"
	 "    dest: Repository directory to copy into (``\"\"`` for the root).\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    follow_symlinks: Store what symlinks point at and walk linked\n"
	 "        directories (a link back to a directory being walked is skipped).\n"
	 "    message: Commit message; ``{default}``, ``{add_count}``, ... are\n"
	 "        filled in as for ``write`` (operation ``cp``).\n"
	 "    mode: File mode forced on every file that is not a symlink.\n"
	 "    ignore_existing: Never overwrite a path the branch already has.\n"
	 "    delete: Make *dest* match the sources (see above).\n"
	 "    ignore_errors: Record per-file failures in ``.changes.errors`` and go\n"
	 "        on; raise RuntimeError only when nothing could be copied.\n"
	 "    checksum: With *delete*, compare content.  False trusts a local file\n"
	 "        whose modification time is not newer than this snapshot's commit\n"
	 "        (faster; a later unrelated commit can hide an older local edit).\n"
	 "    exclude: An ExcludeFilter applied while walking directories.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: The new snapshot, or this one when nothing changed or for a dry\n"
	 "        run; ``.changes`` holds the ChangeReport (None when there was\n"
	 "        nothing to report).\n"
	 "\n"
	 "Raises:\n"
	 "    FileNotFoundError: A source is missing.\n"
	 "    NotADirectoryError: A ``dir/`` source is not a directory.\n"
	 "    OSError: A file could not be read (nothing is committed).\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"
	 "    PermissionError: The snapshot is read-only and something would change.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"copy_out", FN(fs_copy_out), KW,
	 "copy_out($self, /, sources, dest, *, dry_run=False, ignore_existing=False, "
	 "delete=False, ignore_errors=False, checksum=True)\n--\n\n"
	 "Copy files from this snapshot to a local directory.\n"
	 "\n"
	 "Sources follow the rules of ``copy_in`` in the other direction\n"
	 "(``\"\"`` is the whole tree).  Each file is written anew (never through an\n"
	 "existing file or symlink), executables get mode 0755, symlinks are created\n"
	 "as symlinks, and every file's times are set to this snapshot's commit\n"
	 "time.  Nothing outside *dest* is ever touched: symlinks or files standing\n"
	 "where a directory is needed are replaced by directories, and a tree entry\n"
	 "whose name would leave *dest* (``..``) or that goes through a symlink\n"
	 "written by this copy is refused.  Like rsync, a local directory standing\n"
	 "where a file goes is replaced by the file.\n"
	 "\n"
	 "Args:\n"
	 "    sources: A repository path or a list of them.\n"
	 "    dest: Local directory, created when missing.\n"
	 "    dry_run: Only report; nothing is created.\n"
	 "    ignore_existing: Leave local paths that already exist alone.\n"
	 "    delete: Make *dest* match the sources: only differences are written,\n"
	 "        local files the sources lack are deleted, and empty directories\n"
	 "        below *dest* are removed afterwards (also ones that were empty\n"
	 "        before).\n"
	 "    ignore_errors: Record per-file failures in ``.changes.errors`` and go\n"
	 "        on; raise RuntimeError only when every file failed.\n"
	 "    checksum: With *delete*, compare content.  False trusts a local file\n"
	 "        whose modification time is not newer than this snapshot's commit.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: This snapshot, with ``.changes`` set (None when in sync).\n"
	 "\n"
	 "Raises:\n"
	 "    FileNotFoundError: A source is missing.\n"
	 "    NotADirectoryError: A ``dir/`` source is not a directory.\n"
	 "    ValueError: A tree entry would be written outside *dest*.\n"
	 "    OSError: A file could not be written (files already written stay).\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"},
	{"sync_in", FN(fs_sync_in), KW,
	 "sync_in($self, /, local_path, repo_path, *, dry_run=False, message=None, "
	 "ignore_errors=False, checksum=True, exclude=None)\n--\n\n"
	 "Make a repository directory equal to a local directory, in one commit.\n"
	 "\n"
	 "The same as ``copy_in(local_path + \"/\", repo_path, delete=True)`` with the\n"
	 "operation name ``sync``: new and changed files are written, files the\n"
	 "local directory lacks are removed.  A local directory that does not exist\n"
	 "counts as empty, so everything under *repo_path* is removed (a file at\n"
	 "*repo_path* included).\n"
	 "\n"
	 "Args:\n"
	 "    local_path: Local directory.\n"
	 "    repo_path: Repository directory (``\"\"`` for the root).\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``copy_in`` (operation ``sync``).\n"
	 "    ignore_errors: Record per-file failures and go on.\n"
	 "    checksum: Compare content (False: trust modification times).\n"
	 "    exclude: An ExcludeFilter applied while walking.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: The new snapshot, or this one when already in sync.\n"
	 "\n"
	 "Raises:\n"
	 "    OSError: A file could not be read (nothing is committed).\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"
	 "    PermissionError: The snapshot is read-only and something would change.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"sync_out", FN(fs_sync_out), KW,
	 "sync_out($self, /, repo_path, local_path, *, dry_run=False, ignore_errors=False, "
	 "checksum=True)\n--\n\n"
	 "Make a local directory equal to a repository directory.\n"
	 "\n"
	 "The same as ``copy_out(repo_path + \"/\", local_path, delete=True)``: new\n"
	 "and changed files are written, local files the snapshot lacks are deleted\n"
	 "and empty directories pruned (*local_path* itself stays, created when\n"
	 "missing).  A *repo_path* that does not exist (or is a file) counts as\n"
	 "empty, so every local file is deleted.\n"
	 "\n"
	 "Args:\n"
	 "    repo_path: Repository directory (``\"\"`` for the root).\n"
	 "    local_path: Local directory.\n"
	 "    dry_run: Only report; nothing on disk changes.\n"
	 "    ignore_errors: Record per-file failures and go on.\n"
	 "    checksum: Compare content (False: trust modification times).\n"
	 "\n"
	 "Returns:\n"
	 "    FS: This snapshot, with ``.changes`` set (None when in sync).\n"
	 "\n"
	 "Raises:\n"
	 "    FileExistsError: *local_path* exists and is not a directory.\n"
	 "    ValueError: A tree entry would be written outside *local_path*.\n"
	 "    OSError: A file could not be written or deleted.\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"},
	{NULL}
};
