/* fs_bulk.c - the bulk methods of FS that stay inside the repository:
 * remove, move and copy_from_ref.  The core plans them (plan.c); here
 * they are parsed, run without the GIL, reported and committed. */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

/* One source: str or os.PathLike[str], as the core takes it. */
static int push_source(gsp_state_t *st, gs_strlist *out, PyObject *source)
{
	PyObject *path = PyOS_FSPath(source), *encoded = NULL;
	int rc = -1;

	if (!path)
		return -1;
	if (!PyUnicode_Check(path))
		PyErr_Format(PyExc_TypeError, "sources must be str, not %s", Py_TYPE(path)->tp_name);
	/* Names that are not UTF-8 come back from listings surrogate-escaped. */
	else if ((encoded = PyUnicode_AsEncodedString(path, "utf-8", "surrogateescape"))) {
		const char *data = PyBytes_AS_STRING(encoded);
		size_t len = (size_t)PyBytes_GET_SIZE(encoded);
		/* The core takes C strings: a NUL would cut the source short. */
		if (memchr(data, '\0', len))
			PyErr_Format(PyExc_ValueError, "Path must not contain NUL: %R", path);
		else
			rc = gs_strlist_push_len(out, data, len);
	}
	if (rc < 0 && !PyErr_Occurred())
		gsp_raise(st);
	Py_XDECREF(encoded);
	Py_DECREF(path);
	return rc;
}

int gsp_source_list(gsp_state_t *st, gs_strlist *out, PyObject *sources)
{
	PyObject *iter, *item;
	int rc = 0;

	if (PyUnicode_Check(sources) || (!PyList_Check(sources) && !PyTuple_Check(sources) &&
					 PyObject_HasAttrString(sources, "__fspath__")))
		return push_source(st, out, sources);
	if (!(iter = PyObject_GetIter(sources)))
		return -1;
	while (rc == 0 && (item = PyIter_Next(iter))) {
		rc = push_source(st, out, item);
		Py_DECREF(item);
	}
	Py_DECREF(iter);
	return PyErr_Occurred() ? -1 : 0;
}

/* What remove and move return once planned: for a dry run this snapshot
 * with the report as .changes, else the commit's snapshot. */
static PyObject *dry_run_or_commit(FSObject *self, gs_txn *txn, const gs_changeset *cs,
				   const gs_report *report, int dry_run, PyObject *message,
				   const char *operation)
{
	PyObject *changes = gsp_report_new(gsp_state_of(self), report), *op = NULL, *result = NULL;

	if (!changes)
		return NULL;
	if (dry_run) {
		gsp_fs_set_changes(self, changes);
		Py_DECREF(changes);
		return Py_NewRef(self);
	}
	if ((op = PyUnicode_FromString(operation)))
		result = gsp_fs_commit(self, txn, cs, message, op, "batch on", changes);
	Py_XDECREF(op);
	Py_DECREF(changes);
	return result;
}

static PyObject *fs_remove(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "recursive", "dry_run", "message", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *message = Py_None, *result = NULL;
	int recursive = 0, dry_run = 0, status;
	gs_strlist list = {0};
	gs_changeset *cs = NULL;
	gs_report report = {0};
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$ppO:remove", kwlist, &sources,
					 &recursive, &dry_run, &message))
		return NULL;
	if (gsp_source_list(st, &list, sources) < 0 || !(txn = gsp_txn_begin(self->store)) ||
	    (!dry_run && !(cs = gsp_changeset_new(st))))
		goto done;
	GSP_CALL(status, gs_plan_remove(cs, &report, txn, &self->info.tree,
					(const char *const *)list.items, list.count, recursive));
	if (status < 0)
		gsp_raise(st);
	else
		result = dry_run_or_commit(self, txn, cs, &report, dry_run, message, "rm");
done:
	gs_report_free(&report);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	gs_strlist_free(&list);
	return result;
}

static PyObject *fs_move(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "dest", "recursive", "dry_run", "message", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *dest_arg, *message = Py_None, *dest = NULL, *result = NULL;
	int recursive = 0, dry_run = 0, status;
	gs_strlist list = {0};
	gs_changeset *cs = NULL;
	gs_report report = {0};
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$ppO:move", kwlist, &sources, &dest_arg,
					 &recursive, &dry_run, &message))
		return NULL;
	if (gsp_source_list(st, &list, sources) < 0 || !(dest = gsp_path_encoded(dest_arg)) ||
	    !(txn = gsp_txn_begin(self->store)) || !(cs = gsp_changeset_new(st)))
		goto done;
	GSP_CALL(status, gs_plan_move(cs, &report, txn, &self->info.tree,
				      (const char *const *)list.items, list.count,
				      PyBytes_AS_STRING(dest), (size_t)PyBytes_GET_SIZE(dest),
				      recursive));
	if (status < 0)
		gsp_raise(st);
	else
		result = dry_run_or_commit(self, txn, cs, &report, dry_run, message, "mv");
done:
	gs_report_free(&report);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	gs_strlist_free(&list);
	Py_XDECREF(dest);
	return result;
}

static PyObject *fs_copy_from_ref(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"source", "sources", "dest", "delete", "dry_run", "message", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *source, *sources = NULL, *dest_arg = NULL, *message = Py_None;
	PyObject *dest = NULL, *result = NULL, *op = NULL;
	int delete = 0, dry_run = 0, status;
	FSObject *from;
	gs_strlist list = {0};
	gs_changeset *cs = NULL;
	gs_report report = {0};
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|OO$ppO:copy_from_ref", kwlist,
					 st->FSType, &source, &sources, &dest_arg, &delete,
					 &dry_run, &message))
		return NULL;
	from = (FSObject *)source;
	if (from->store != self->store && !gs_store_same(from->store->store, self->store->store)) {
		PyErr_SetString(PyExc_ValueError, "source must belong to the same repo as self");
		return NULL;
	}
	/* The whole tree into the root unless told otherwise. */
	if (sources ? gsp_source_list(st, &list, sources) < 0 : gs_strlist_push(&list, "") < 0)
		goto done;
	dest = dest_arg && dest_arg != Py_None ? gsp_path_encoded(dest_arg) : PyBytes_FromString("");
	if (!dest || !(txn = gsp_txn_begin(self->store)) || !(cs = gsp_changeset_new(st)))
		goto done;
	GSP_CALL(status, gs_plan_copy_from_ref(cs, dry_run ? &report : NULL, txn, &self->info.tree,
					       &from->info.tree, (const char *const *)list.items,
					       list.count, PyBytes_AS_STRING(dest),
					       (size_t)PyBytes_GET_SIZE(dest), delete));
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	if (dry_run) {
		/* In sync: say so rather than keep an older report. */
		PyObject *changes = gs_report_empty(&report) ? Py_NewRef(Py_None)
							     : gsp_report_new(st, &report);
		if (changes) {
			gsp_fs_set_changes(self, changes);
			Py_DECREF(changes);
			result = Py_NewRef(self);
		}
		goto done;
	}
	if ((op = PyUnicode_FromString("cp")))
		result = gsp_fs_commit(self, txn, cs, message, op, "write to", NULL);
	/* Nothing changed: say so rather than keep an older report. */
	if (result == (PyObject *)self)
		gsp_fs_set_changes(self, Py_None);
done:
	gs_report_free(&report);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	gs_strlist_free(&list);
	Py_XDECREF(dest);
	Py_XDECREF(op);
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
	 "    message: Commit message, as for ``write`` (operation ``rm``).\n\n"
	 "Returns:\n    FS: The new snapshot (or this one for a dry run).\n\n"
	 "Raises:\n    FileNotFoundError: A source does not exist, or nothing matched.\n"
	 "    IsADirectoryError: A directory without *recursive*.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"move", (PyCFunction)(void (*)(void))fs_move, METH_VARARGS | METH_KEYWORDS,
	 "move($self, /, sources, dest, *, recursive=False, dry_run=False, message=None)\n--\n\n"
	 "Move or rename files inside the branch, in one commit (like ``mv``).\n\n"
	 "With one source that is a file or a directory and a *dest* that is not\n"
	 "an existing directory (and does not end with ``/``), the source is\n"
	 "renamed to *dest*.  Otherwise every source moves into the directory\n"
	 "*dest*.  Content is never copied: the stored objects are reused.\n\n"
	 "Args:\n    sources: A repository path or a list of them.\n"
	 "    dest: Destination path or directory.\n"
	 "    recursive: Allow moving directories.\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``write`` (operation ``mv``).\n\n"
	 "Returns:\n    FS: The new snapshot (or this one for a dry run).\n\n"
	 "Raises:\n    FileNotFoundError: A source is missing, or nothing matched.\n"
	 "    IsADirectoryError: A directory without *recursive*.\n"
	 "    ValueError: A source and its destination are the same path.\n"
	 "    PermissionError: The snapshot is read-only.\n"},
	{"copy_from_ref", (PyCFunction)(void (*)(void))fs_copy_from_ref,
	 METH_VARARGS | METH_KEYWORDS,
	 "copy_from_ref($self, /, source, sources='', dest='', *, delete=False, dry_run=False, "
	 "message=None)\n--\n\n"
	 "Copy files from another snapshot of this repository, in one commit.\n\n"
	 "The files' stored objects are reused, never read, so the cost does not\n"
	 "depend on their size.  Sources follow the copy rules: ``\"dir\"`` keeps\n"
	 "the directory's name, ``\"dir/\"`` copies its contents, ``\"\"`` the\n"
	 "whole tree.\n\n"
	 "Args:\n    source: Snapshot to copy from (any branch, tag or commit).\n"
	 "    sources: Paths in *source*; the default is its whole tree.\n"
	 "    dest: Destination directory in this branch; the default is the root.\n"
	 "    delete: Also remove files under each source's destination that the\n"
	 "        source does not have (for a single file: nothing else).\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``write`` (operation ``cp``).\n\n"
	 "Returns:\n    FS: The new snapshot, or this one when nothing changed.\n\n"
	 "Raises:\n    ValueError: *source* belongs to another repository.\n"
	 "    FileNotFoundError: A source path is missing in *source*.\n"
	 "    PermissionError: This snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{NULL}
};
