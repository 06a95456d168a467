/* pipeline.c - the one commit path every write takes:
 * permission check, change report, message, new tree, locked commit. */
#include "binding.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

gs_changeset *gsp_changeset_new(gsp_state_t *st)
{
	gs_changeset *cs;

	if (gs_changeset_new(&cs) < 0) {
		gsp_raise(st);
		return NULL;
	}
	return cs;
}

int gsp_stage_write(gsp_state_t *st, gs_changeset *cs, const char *path, const git_oid *id,
		    uint32_t mode)
{
	if (gs_changeset_write(cs, path, id, mode) < 0) {
		gsp_raise(st);
		return -1;
	}
	return 0;
}

int gsp_stage_remove(gsp_state_t *st, gs_changeset *cs, const char *path)
{
	if (gs_changeset_remove(cs, path) < 0) {
		gsp_raise(st);
		return -1;
	}
	return 0;
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

int gsp_mode_arg(gsp_state_t *st, PyObject *mode, uint32_t fallback, uint32_t *out)
{
	long value;

	if (mode == NULL || mode == Py_None) {
		*out = fallback;
		return 0;
	}
	if (PyObject_IsInstance(mode, st->FileType) == 1) {
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

/* One report item as a FileEntry(path, FileType(mode), source), or for
 * errors and warnings a ChangeError(path, message). */
static PyObject *report_item(gsp_state_t *st, const gs_report_item *item, int is_problem)
{
	PyObject *path = gsp_str(item->path), *second = NULL, *source = NULL, *result = NULL;

	if (!path)
		return NULL;
	if (is_problem) {
		if ((second = gsp_str(item->message ? item->message : "")))
			result = PyObject_CallFunctionObjArgs(st->ChangeError, path, second, NULL);
	} else if ((second = gsp_filetype(st, item->mode)) &&
		   (source = !item->source ? Py_NewRef(Py_None)
			     : strcmp(item->source, item->path) == 0 ? Py_NewRef(path)
			     : gsp_str(item->source))) {
		result = PyObject_CallFunctionObjArgs(st->FileEntry, path, second, source, NULL);
	}
	Py_XDECREF(source);
	Py_XDECREF(second);
	Py_DECREF(path);
	return result;
}

PyObject *gsp_report_new(gsp_state_t *st, const gs_report *r)
{
	static const char *const fields[GS_REPORT_KINDS] = {
		[GS_REPORT_ADD] = "add", [GS_REPORT_UPDATE] = "update",
		[GS_REPORT_DELETE] = "delete", [GS_REPORT_ERROR] = "errors",
		[GS_REPORT_WARNING] = "warnings"};
	PyObject *report = PyObject_CallNoArgs(st->ChangeReport);

	for (int k = 0; report && k < GS_REPORT_KINDS; k++) {
		const gs_report_list *list = &r->lists[k];
		PyObject *target = list->count ? PyObject_GetAttrString(report, fields[k]) : NULL;
		int failed = list->count && !target;

		for (size_t i = 0; !failed && i < list->count; i++) {
			PyObject *item = report_item(st, &list->items[i], k >= GS_REPORT_ERROR);
			failed = !item || PyList_Append(target, item) < 0;
			Py_XDECREF(item);
		}
		Py_XDECREF(target);
		if (failed)
			Py_CLEAR(report);
	}
	return report;
}

/* The ChangeReport committing `cs` on fs would give (nothing written). */
static PyObject *changes_report(FSObject *fs, gs_txn *txn, const gs_changeset *cs)
{
	gs_report report;
	gsp_state_t *st = gsp_state_of(fs);
	PyObject *result;
	int status;

	GSP_CALL(status, gs_changeset_report(&report, txn, &fs->info.tree, cs));
	if (status < 0)
		return gsp_raise(st);
	result = gsp_report_new(st, &report);
	gs_report_free(&report);
	return result;
}

PyObject *gsp_fs_commit(FSObject *fs, gs_txn *txn, const gs_changeset *cs, PyObject *message,
			PyObject *operation, const char *verb, PyObject *changes)
{
	gsp_state_t *st = gsp_state_of(fs);
	PyObject *report = NULL, *text = NULL, *encoded = NULL, *result = NULL;
	const char *branch, *msg;
	git_oid tree, commit;
	int64_t when = 0;
	int status, noop = 0;

	if (gsp_check_writable(fs, verb) < 0)
		return NULL;
	if (!(report = changes_report(fs, txn, cs)))
		goto done;
	text = PyObject_CallFunctionObjArgs(st->format_commit_message, report,
					    message ? message : Py_None,
					    operation ? operation : Py_None, NULL);
	if (!text)
		goto done;
	if (!PyUnicode_Check(text)) {
		PyErr_SetString(PyExc_TypeError, "commit message must be str");
		goto done;
	}
	/* Paths that are not UTF-8 reach the message surrogate-escaped. */
	if (!(encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape")) ||
	    !(branch = PyUnicode_AsUTF8(fs->ref_name)))
		goto done;
	msg = PyBytes_AS_STRING(encoded);
	if ((size_t)PyBytes_GET_SIZE(encoded) != strlen(msg)) {
		PyErr_SetString(PyExc_ValueError, "commit message must not contain NUL");
		goto done;
	}
	GSP_CALL(status, gs_changeset_commit(&commit, &tree, &when, &noop, txn, branch,
					     &fs->info.id, &fs->info.tree, cs, msg));
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	if (noop) {
		result = Py_NewRef(fs);
		goto done;
	}
	result = gsp_fs_child(fs, &commit, &tree, when, msg);
	/* A new snapshot, not yet seen by anyone: no lock needed. */
	if (result)
		Py_SETREF(((FSObject *)result)->changes, Py_NewRef(changes ? changes : report));
done:
	Py_XDECREF(encoded);
	Py_XDECREF(text);
	Py_XDECREF(report);
	return result;
}

gs_txn *gsp_txn_begin(GitStoreObject *store)
{
	gs_txn *txn = NULL;
	int status;

	GSP_CALL(status, gs_txn_begin(&txn, store->store));
	if (status < 0) {
		gsp_raise(gsp_state_of(store));
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

int gsp_store_bytes(gsp_state_t *st, git_oid *out, gs_txn *txn, PyObject *data)
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
		gsp_raise(st);
		return -1;
	}
	return 0;
}

int gsp_store_stream(gsp_state_t *st, git_oid *out, gs_txn *txn, gs_blob_stream *stream)
{
	int status;

	GSP_CALL(status, gs_blob_stream_finish(out, stream, txn));
	if (status < 0) {
		gsp_raise(st);
		return -1;
	}
	return 0;
}

int gsp_store_file(gsp_state_t *st, git_oid *out, uint32_t *detected_mode, gs_txn *txn,
		   PyObject *local_path)
{
	PyObject *encoded = NULL, *shown = NULL;
	struct stat sb;
	int fd = -1, status, rc = -1, err = 0;

	if (!PyUnicode_FSConverter(local_path, &encoded))
		return -1;
	Py_BEGIN_ALLOW_THREADS
	/* O_NONBLOCK: opening a fifo must not hang; it is refused below. */
	fd = open(PyBytes_AS_STRING(encoded), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) < 0)
		err = errno;
	Py_END_ALLOW_THREADS
	if (err) {
		PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, local_path);
		goto done;
	}
	if (!(shown = PyOS_FSPath(local_path)))
		goto done;
	if (S_ISDIR(sb.st_mode)) {
		PyErr_SetObject(PyExc_IsADirectoryError, shown);
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		PyErr_Format(PyExc_ValueError, "Not a regular file: %S", shown);
		goto done;
	}
	*detected_mode = (sb.st_mode & 0111) ? GS_MODE_EXEC : GS_MODE_BLOB;
	GSP_CALL(status, gs_txn_write_blob_fd(out, txn, fd, (uint64_t)sb.st_size,
					      PyBytes_AS_STRING(encoded)));
	if (status < 0) {
		gsp_raise(st);
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
