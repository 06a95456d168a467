/* fs_bulk.c - the bulk methods of FS (spec 30): remove, ... */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

/* `sources` as a list of str: a str or os.PathLike is one source. */
static PyObject *source_list(PyObject *sources)
{
	PyObject *list, *iter, *item;

	if (PyUnicode_Check(sources) || (!PyList_Check(sources) && !PyTuple_Check(sources) &&
					 PyObject_HasAttrString(sources, "__fspath__"))) {
		PyObject *one = PyOS_FSPath(sources);
		if (!one)
			return NULL;
		list = PyList_New(1);
		if (list)
			PyList_SET_ITEM(list, 0, one);
		else
			Py_DECREF(one);
		return list;
	}
	if (!(list = PyList_New(0)) || !(iter = PyObject_GetIter(sources))) {
		Py_XDECREF(list);
		return NULL;
	}
	while ((item = PyIter_Next(iter))) {
		PyObject *path = PyOS_FSPath(item);
		int rc = -1;
		if (path && !PyUnicode_Check(path))
			PyErr_Format(PyExc_TypeError, "sources must be str, not %s",
				     Py_TYPE(path)->tp_name);
		else if (path)
			rc = PyList_Append(list, path);
		Py_XDECREF(path);
		Py_DECREF(item);
		if (rc < 0) {
			Py_CLEAR(list);
			break;
		}
	}
	Py_DECREF(iter);
	if (PyErr_Occurred())
		Py_CLEAR(list);
	return list;
}

static int compare_files(const void *a, const void *b)
{
	return strcmp(((const gs_file *)a)->path, ((const gs_file *)b)->path);
}

/* Sort by path and drop repeats. */
static void sort_unique(gs_filelist *files)
{
	size_t kept = 0;

	if (files->count > 1)
		qsort(files->items, files->count, sizeof(*files->items), compare_files);
	for (size_t i = 0; i < files->count; i++) {
		if (kept && strcmp(files->items[kept - 1].path, files->items[i].path) == 0) {
			free(files->items[i].path);
			continue;
		}
		files->items[kept++] = files->items[i];
	}
	files->count = kept;
}

/* The files that removing `sources` means (spec 30 §9 steps 1-3). */
static int files_of_sources(gs_filelist *out, gs_txn *txn, FSObject *fs, PyObject *list,
			    int recursive)
{
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
		const char *spec = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i));
		gs_source src;
		int rc;

		if (!spec)
			return -1;
		GSP_CALL(rc, gs_source_resolve(&src, gs_txn_repo(txn), &fs->info.tree, spec));
		if (rc < 0) {
			gsp_raise();
			return -1;
		}
		if (src.mode == GS_SRC_FILE) {
			rc = gs_filelist_push(out, src.path, &src.entry.id, src.entry.mode);
		} else if (!recursive) {
			PyObject *path = gsp_str(src.path);
			if (path) {
				PyErr_Format(PyExc_IsADirectoryError,
					     "%U is a directory (use recursive=True)", path);
				Py_DECREF(path);
			}
			gs_source_clear(&src);
			return -1;
		} else {
			GSP_CALL(rc, gs_tree_files(out, gs_txn_repo(txn), &src.entry.id, src.path));
		}
		gs_source_clear(&src);
		if (rc < 0) {
			gsp_raise();
			return -1;
		}
	}
	sort_unique(out);
	return 0;
}

/* FileEntry(path, FileType(mode), src=path) for each file. */
static PyObject *entries_of(gs_filelist *files)
{
	PyObject *list = PyList_New((Py_ssize_t)files->count);

	for (size_t i = 0; list && i < files->count; i++) {
		PyObject *path = gsp_str(files->items[i].path), *type = NULL, *entry = NULL;
		if (path && (type = gsp_filetype(files->items[i].mode)))
			entry = PyObject_CallFunction(gsp.FileEntry, "OOO", path, type, path);
		Py_XDECREF(path);
		Py_XDECREF(type);
		if (!entry) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, entry);
	}
	return list;
}

static PyObject *fs_remove(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "recursive", "dry_run", "message", NULL};
	PyObject *sources, *message = Py_None, *list = NULL, *deleted = NULL, *report = NULL;
	PyObject *result = NULL;
	int recursive = 0, dry_run = 0;
	gs_filelist files = {0};
	gsp_changeset cs = {0};
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$ppO:remove", kwlist, &sources,
					 &recursive, &dry_run, &message))
		return NULL;
	if (!(list = source_list(sources)) || !(txn = gsp_txn_begin(self->store)))
		goto done;
	if (files_of_sources(&files, txn, self, list, recursive) < 0)
		goto done;
	if (files.count == 0) {
		PyErr_Format(PyExc_FileNotFoundError, "No matches for sources: %R", list);
		goto done;
	}
	if (!(deleted = entries_of(&files)))
		goto done;
	{
		PyObject *kw = Py_BuildValue("{s:O}", "delete", deleted), *noargs = PyTuple_New(0);
		if (kw && noargs)
			report = PyObject_Call(gsp.ChangeReport, noargs, kw);
		Py_XDECREF(kw);
		Py_XDECREF(noargs);
		if (!report)
			goto done;
	}
	if (dry_run) {
		Py_SETREF(self->changes, Py_NewRef(report));
		result = Py_NewRef(self);
		goto done;
	}
	for (size_t i = 0; i < files.count; i++)
		if (gsp_changeset_remove(&cs, files.items[i].path) < 0)
			goto done;
	{
		PyObject *op = PyUnicode_FromString("rm");
		if (op)
			result = gsp_fs_commit(self, txn, &cs, message, op, "batch on", report);
		Py_XDECREF(op);
	}
done:
	gsp_changeset_clear(&cs);
	gs_filelist_free(&files);
	gsp_txn_free(txn);
	Py_XDECREF(report);
	Py_XDECREF(deleted);
	Py_XDECREF(list);
	return result;
}

PyMethodDef gsp_fs_bulk_methods[] = {
	{"remove", (PyCFunction)(void (*)(void))fs_remove, METH_VARARGS | METH_KEYWORDS,
	 "remove($self, /, sources, *, recursive=False, dry_run=False, message=None)\n--\n\n"
	 "Remove files from the branch in one commit.\n\n"
	 "Each source is a file, a directory (with *recursive*), a directory's\n"
	 "contents (``\"dir/\"``) or the root (``\"\"``).  ``.changes`` of the result\n"
	 "lists what was deleted.\n\n"
	 "Args:\n    sources: A repository path or a list of them.\n"
	 "    recursive: Allow directories, removing every file below them.\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for :meth:`write` (operation ``rm``).\n\n"
	 "Returns:\n    FS: The new snapshot (or this one for a dry run).\n\n"
	 "Raises:\n    FileNotFoundError: A source does not exist, or nothing matched.\n"
	 "    IsADirectoryError: A directory without *recursive*.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{NULL}
};
