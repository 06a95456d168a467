/* pipeline.c - the one commit path every write takes:
 * permission check, change report, message, new tree, locked commit. */
#include "binding.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

void gsp_changeset_clear(gsp_changeset *cs)
{
	for (size_t i = 0; i < cs->nwrites; i++)
		free((char *)cs->writes[i].path);
	for (size_t i = 0; i < cs->nremoves; i++)
		free(cs->removes[i]);
	free(cs->writes);
	free(cs->removes);
	memset(cs, 0, sizeof(*cs));
}

int gsp_changeset_write(gsp_changeset *cs, const char *path, const git_oid *id, uint32_t mode)
{
	gs_write *w;

	if (cs->nwrites == cs->wcap) {
		size_t cap = cs->wcap ? cs->wcap * 2 : 8;
		gs_write *grown = realloc(cs->writes, cap * sizeof(*grown));
		if (!grown)
			goto nomem;
		cs->writes = grown;
		cs->wcap = cap;
	}
	w = &cs->writes[cs->nwrites];
	if (!(w->path = strdup(path)))
		goto nomem;
	git_oid_cpy(&w->id, id);
	w->mode = mode;
	cs->nwrites++;
	return 0;
nomem:
	PyErr_NoMemory();
	return -1;
}

int gsp_changeset_remove(gsp_changeset *cs, const char *path)
{
	if (cs->nremoves == cs->rcap) {
		size_t cap = cs->rcap ? cs->rcap * 2 : 8;
		char **grown = realloc(cs->removes, cap * sizeof(*grown));
		if (!grown)
			goto nomem;
		cs->removes = grown;
		cs->rcap = cap;
	}
	if (!(cs->removes[cs->nremoves] = strdup(path)))
		goto nomem;
	cs->nremoves++;
	return 0;
nomem:
	PyErr_NoMemory();
	return -1;
}

int gsp_check_writable(FSObject *fs, const char *verb)
{
	if (fs->writable)
		return 0;
	if (fs->ref_name != Py_None)
		PyErr_Format(PyExc_PermissionError, "Cannot %s read-only snapshot (ref %R)", verb,
			     fs->ref_name);
	else
		PyErr_Format(PyExc_PermissionError, "Cannot %s read-only snapshot", verb);
	return -1;
}

int gsp_mode_arg(PyObject *mode, uint32_t fallback, uint32_t *out)
{
	long value;

	if (mode == NULL || mode == Py_None) {
		*out = fallback;
		return 0;
	}
	if (PyObject_IsInstance(mode, gsp.FileType) == 1) {
		PyObject *fm = PyObject_GetAttrString(mode, "filemode");
		if (!fm)
			return -1;
		value = PyLong_AsLong(fm);
		Py_DECREF(fm);
	} else if (PyLong_Check(mode)) {
		value = PyLong_AsLong(mode);
	} else {
		PyErr_Format(PyExc_TypeError, "mode must be a FileType or an int filemode, not %s",
			     Py_TYPE(mode)->tp_name);
		return -1;
	}
	if (value == -1 && PyErr_Occurred())
		return -1;
	if (value == GS_MODE_TREE) {
		PyErr_SetString(PyExc_ValueError,
				"mode must be a file mode, not the tree mode (0o040000)");
		return -1;
	}
	if (value < 0 || value > 0xffffffffL) {
		PyErr_SetObject(PyExc_KeyError, mode);
		return -1;
	}
	*out = (uint32_t)value;
	return 0;
}

/* FileEntry(path, FileType(mode)) appended to report.<field>. */
static int report_add(PyObject *report, const char *field, const char *path, uint32_t mode)
{
	PyObject *list = PyObject_GetAttrString(report, field), *type = NULL, *entry = NULL,
		 *name = NULL;
	int rc = -1;

	if (!list)
		return -1;
	if ((type = gsp_filetype(mode)) && (name = gsp_str(path)) &&
	    (entry = PyObject_CallFunction(gsp.FileEntry, "OO", name, type)))
		rc = PyList_Append(list, entry);
	Py_XDECREF(entry);
	Py_XDECREF(name);
	Py_XDECREF(type);
	Py_DECREF(list);
	return rc;
}

typedef struct {
	const char *path;
	uint32_t mode;
} deleted_file;

static int compare_deleted(const void *a, const void *b)
{
	return strcmp(((const deleted_file *)a)->path, ((const deleted_file *)b)->path);
}

static PyObject *build_report(gsp_changeset *cs, gs_change *wc, gs_change *rc)
{
	PyObject *report = PyObject_CallNoArgs(gsp.ChangeReport);
	deleted_file *deleted = NULL;
	size_t ndeleted = 0;

	if (!report)
		return NULL;
	for (size_t i = 0; i < cs->nwrites; i++) {
		if (wc[i].kind == GS_CHANGE_NONE)
			continue;
		if (report_add(report, wc[i].kind == GS_CHANGE_ADD ? "add" : "update",
			       cs->writes[i].path, wc[i].mode) < 0)
			goto fail;
	}
	/* Deletes in path order, so reports do not depend on argument order. */
	deleted = malloc((cs->nremoves ? cs->nremoves : 1) * sizeof(*deleted));
	if (!deleted) {
		PyErr_NoMemory();
		goto fail;
	}
	for (size_t i = 0; i < cs->nremoves; i++)
		if (rc[i].kind == GS_CHANGE_DELETE)
			deleted[ndeleted++] = (deleted_file){cs->removes[i], rc[i].mode};
	if (ndeleted > 1)
		qsort(deleted, ndeleted, sizeof(*deleted), compare_deleted);
	for (size_t i = 0; i < ndeleted; i++)
		if (report_add(report, "delete", deleted[i].path, deleted[i].mode) < 0)
			goto fail;
	free(deleted);
	return report;
fail:
	free(deleted);
	Py_DECREF(report);
	return NULL;
}

PyObject *gsp_changes_report(FSObject *fs, gs_txn *txn, gsp_changeset *cs)
{
	gs_change *wc = calloc(cs->nwrites + 1, sizeof(*wc));
	gs_change *rc = calloc(cs->nremoves + 1, sizeof(*rc));
	PyObject *report = NULL;
	int status;

	if (!wc || !rc) {
		PyErr_NoMemory();
		goto done;
	}
	GSP_CALL(status, gs_changes_classify(wc, rc, txn, &fs->info.tree, cs->writes,
					     cs->nwrites, (const char *const *)cs->removes,
					     cs->nremoves));
	if (status < 0)
		gsp_raise();
	else
		report = build_report(cs, wc, rc);
done:
	free(wc);
	free(rc);
	return report;
}

PyObject *gsp_fs_commit(FSObject *fs, gs_txn *txn, gsp_changeset *cs, PyObject *message,
			PyObject *operation, const char *verb, PyObject *changes)
{
	gs_change *wc = NULL, *rc = NULL;
	PyObject *report = NULL, *text = NULL, *encoded = NULL, *result = NULL;
	const char *branch, *msg;
	git_oid tree, commit;
	int64_t when = 0;
	int status, noop = 0;

	if (gsp_check_writable(fs, verb) < 0)
		return NULL;
	wc = calloc(cs->nwrites + 1, sizeof(*wc));
	rc = calloc(cs->nremoves + 1, sizeof(*rc));
	if (!wc || !rc) {
		PyErr_NoMemory();
		goto done;
	}
	GSP_CALL(status, gs_changes_classify(wc, rc, txn, &fs->info.tree, cs->writes,
					     cs->nwrites, (const char *const *)cs->removes,
					     cs->nremoves));
	if (status < 0) {
		gsp_raise();
		goto done;
	}
	if (!(report = build_report(cs, wc, rc)))
		goto done;
	text = PyObject_CallFunctionObjArgs(gsp.format_commit_message, report,
					    message ? message : Py_None,
					    operation ? operation : Py_None, NULL);
	if (!text)
		goto done;
	if (!PyUnicode_Check(text)) {
		PyErr_SetString(PyExc_TypeError, "commit message must be str");
		goto done;
	}
	{
		/* Paths that are not UTF-8 reach the message surrogate-escaped. */
		if (!(encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape")) ||
		    !(branch = PyUnicode_AsUTF8(fs->ref_name)))
			goto done;
		msg = PyBytes_AS_STRING(encoded);
		if ((size_t)PyBytes_GET_SIZE(encoded) != strlen(msg)) {
			PyErr_SetString(PyExc_ValueError, "commit message must not contain NUL");
			goto done;
		}
	}
	GSP_CALL(status, gs_tree_apply(&tree, txn, &fs->info.tree, cs->writes, cs->nwrites,
				       (const char *const *)cs->removes, cs->nremoves));
	if (status == 0)
		GSP_CALL(status, gs_branch_commit(&commit, &when, &noop, txn, branch, &fs->info.id,
						  &fs->info.tree, &tree, msg));
	if (status < 0) {
		gsp_raise();
		goto done;
	}
	if (noop) {
		result = Py_NewRef(fs);
		goto done;
	}
	result = gsp_fs_child(fs, &commit, &tree, when, msg);
	if (result)
		Py_SETREF(((FSObject *)result)->changes, Py_NewRef(changes ? changes : report));
done:
	Py_XDECREF(encoded);
	Py_XDECREF(text);
	Py_XDECREF(report);
	free(wc);
	free(rc);
	return result;
}

gs_txn *gsp_txn_begin(GitStoreObject *store)
{
	gs_txn *txn = NULL;
	int status;

	GSP_CALL(status, gs_txn_begin(&txn, store->store));
	if (status < 0) {
		gsp_raise();
		return NULL;
	}
	return txn;
}

void gsp_txn_free(gs_txn *txn)
{
	Py_BEGIN_ALLOW_THREADS
	gs_txn_free(txn);
	Py_END_ALLOW_THREADS
}

int gsp_store_bytes(git_oid *out, gs_txn *txn, PyObject *data)
{
	Py_buffer view;
	int status;

	if (PyUnicode_Check(data)) {
		PyErr_SetString(PyExc_TypeError, "data must be bytes-like, not str "
				"(use write_text for text)");
		return -1;
	}
	if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
		return -1;
	GSP_CALL(status, gs_txn_write_blob(out, txn, view.buf, (size_t)view.len));
	PyBuffer_Release(&view);
	if (status < 0) {
		gsp_raise();
		return -1;
	}
	return 0;
}

int gsp_store_stream(git_oid *out, gs_txn *txn, gs_blob_stream *stream)
{
	int status;

	GSP_CALL(status, gs_blob_stream_finish(out, stream, txn));
	if (status < 0) {
		gsp_raise();
		return -1;
	}
	return 0;
}

int gsp_store_file(git_oid *out, uint32_t *detected_mode, gs_txn *txn, PyObject *local_path)
{
	PyObject *encoded = NULL, *shown = NULL;
	struct stat st;
	int fd = -1, status, rc = -1, err = 0;

	if (!PyUnicode_FSConverter(local_path, &encoded))
		return -1;
	Py_BEGIN_ALLOW_THREADS
	/* O_NONBLOCK: opening a fifo must not hang; it is refused below. */
	fd = open(PyBytes_AS_STRING(encoded), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		err = errno;
	Py_END_ALLOW_THREADS
	if (err) {
		PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, local_path);
		goto done;
	}
	if (!(shown = PyOS_FSPath(local_path)))
		goto done;
	if (S_ISDIR(st.st_mode)) {
		PyErr_SetObject(PyExc_IsADirectoryError, shown);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		PyErr_Format(PyExc_ValueError, "Not a regular file: %S", shown);
		goto done;
	}
	*detected_mode = (st.st_mode & 0111) ? GS_MODE_EXEC : GS_MODE_BLOB;
	GSP_CALL(status, gs_txn_write_blob_fd(out, txn, fd, (uint64_t)st.st_size,
					      PyBytes_AS_STRING(encoded)));
	if (status < 0) {
		gsp_raise();
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	Py_XDECREF(shown);
	Py_XDECREF(encoded);
	return rc;
}
