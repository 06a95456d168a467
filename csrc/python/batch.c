/* batch.c - Batch: writes and removals collected for one commit. */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

/* base, message and operation are set before the batch is returned.
 * busy and closed are read and changed in the batch's critical section;
 * a call that holds busy (batch_take) owns txn and changes until
 * batch_release, with the GIL released or not.  fs is replaced in the
 * critical section and read there (batch_get_fs). */
typedef struct {
	PyObject_HEAD
	FSObject *base;
	PyObject *message;
	PyObject *operation;
	gs_changeset *changes; /* what is staged for the commit */
	PyObject *fs;         /* the committed snapshot, or None */
	gs_txn *txn;          /* where staged blobs live until the commit */
	int closed;
	int busy;             /* a call is using the batch */
} BatchObject;

static void batch_release_txn(BatchObject *self)
{
	if (self->txn) {
		gsp_txn_free(self->txn);
		self->txn = NULL;
	}
}

static int batch_is_closed(BatchObject *self)
{
	int closed;

	Py_BEGIN_CRITICAL_SECTION(self);
	closed = self->closed;
	Py_END_CRITICAL_SECTION();
	return closed;
}

static PyObject *batch_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"fs", "message", "operation", NULL};
	PyObject *fs, *message = Py_None, *operation = Py_None;
	BatchObject *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|OO:Batch", kwlist,
					 gsp_state_by_type(cls)->FSType, &fs, &message, &operation))
		return NULL;
	if (gsp_check_writable((FSObject *)fs, "batch on") < 0)
		return NULL;
	if (!(self = (BatchObject *)cls->tp_alloc(cls, 0)))
		return NULL;
	self->base = (FSObject *)Py_NewRef(fs);
	self->message = Py_NewRef(message);
	self->operation = Py_NewRef(operation);
	self->fs = Py_NewRef(Py_None);
	if (!(self->changes = gsp_changeset_new(gsp_state_by_type(cls))))
		Py_CLEAR(self);
	return (PyObject *)self;
}

static void batch_dealloc(BatchObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	batch_release_txn(self);
	gs_changeset_free(self->changes);
	Py_CLEAR(self->base);
	Py_CLEAR(self->message);
	Py_CLEAR(self->operation);
	Py_CLEAR(self->fs);
	type->tp_free(self);
	Py_DECREF(type);
}

static int batch_traverse(BatchObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->base);
	Py_VISIT(self->message);
	Py_VISIT(self->operation);
	Py_VISIT(self->fs);
	return 0;
}

static int batch_clear(BatchObject *self)
{
	Py_CLEAR(self->fs);
	return 0;
}

/* End a call that batch_take began.  With `committed`, the batch is now
 * committed: fs is set and the batch closed in the same critical section,
 * so that no other call slips in between. */
static void batch_release(BatchObject *self, PyObject *committed)
{
	gs_txn *txn = NULL;

	Py_BEGIN_CRITICAL_SECTION(self);
	self->busy = 0;
	if (committed) {
		Py_SETREF(self->fs, Py_NewRef(committed));
		self->closed = 1;
		txn = self->txn;
		self->txn = NULL;
	}
	Py_END_CRITICAL_SECTION();
	if (txn)
		gsp_txn_free(txn);
}

/* Begin a call that uses the batch: refused when it is closed or another
 * thread is using it (a batch is not shared between threads; refuse
 * rather than race).  busy is tested and set in one critical section, so
 * two threads never both get it. */
static int batch_take(BatchObject *self)
{
	int rc = -1;

	Py_BEGIN_CRITICAL_SECTION(self);
	if (self->closed)
		PyErr_SetString(PyExc_RuntimeError, "Batch is closed");
	else if (self->busy)
		PyErr_SetString(PyExc_RuntimeError, "Batch is in use by another thread");
	else {
		self->busy = 1;
		rc = 0;
	}
	Py_END_CRITICAL_SECTION();
	if (rc == 0 && !self->txn && !(self->txn = gsp_txn_begin(self->base->store))) {
		batch_release(self, NULL);
		rc = -1;
	}
	return rc;
}

/* write() and friends once the content is bytes-like, and a writer's
 * close() with its stream instead of data. */
static int stage_content(BatchObject *self, PyObject *path_obj, PyObject *data,
			 gs_blob_stream *stream, PyObject *mode_obj, uint32_t fallback)
{
	gsp_state_t *st = gsp_state_of(self);
	char *path = NULL;
	uint32_t mode;
	git_oid id;
	int rc = -1;

	if (batch_take(self) < 0)
		return -1;
	if (gsp_path_arg(st, path_obj, 0, &path) == 0 &&
	    gsp_mode_arg(st, mode_obj, fallback, &mode) == 0 &&
	    (stream ? gsp_store_stream(st, &id, self->txn, stream)
		    : gsp_store_bytes(st, &id, self->txn, data)) == 0)
		rc = gsp_stage_write(st, self->changes, path, &id, mode);
	batch_release(self, NULL);
	free(path);
	return rc;
}

static int stage_bytes(BatchObject *self, PyObject *path_obj, PyObject *data, PyObject *mode_obj,
		       uint32_t fallback)
{
	return stage_content(self, path_obj, data, NULL, mode_obj, fallback);
}

int gsp_batch_write_stream(PyObject *batch, PyObject *path, gs_blob_stream *stream)
{
	return stage_content((BatchObject *)batch, path, NULL, stream, NULL, GS_MODE_BLOB);
}

static PyObject *batch_write(BatchObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "data", "mode", NULL};
	PyObject *path, *data, *mode = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:write", kwlist, &path, &data, &mode))
		return NULL;
	if (stage_bytes(self, path, data, mode, GS_MODE_BLOB) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *batch_write_text(BatchObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "text", "encoding", "mode", NULL};
	PyObject *path, *text, *mode = Py_None, *data;
	const char *encoding = "utf-8";
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$sO:write_text", kwlist, &path, &text,
					 &encoding, &mode))
		return NULL;
	if (!PyUnicode_Check(text))
		return PyErr_Format(PyExc_TypeError, "text must be str, not %s",
				    Py_TYPE(text)->tp_name);
	if (!(data = PyUnicode_AsEncodedString(text, encoding, "strict")))
		return NULL;
	rc = stage_bytes(self, path, data, mode, GS_MODE_BLOB);
	Py_DECREF(data);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *batch_write_symlink(BatchObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "target", NULL};
	PyObject *path, *target, *data;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:write_symlink", kwlist, &path, &target))
		return NULL;
	if (!PyUnicode_Check(target))
		return PyErr_Format(PyExc_TypeError, "target must be str, not %s",
				    Py_TYPE(target)->tp_name);
	if (!(data = PyUnicode_AsEncodedString(target, "utf-8", "surrogateescape")))
		return NULL;
	rc = stage_bytes(self, path, data, NULL, GS_MODE_LINK);
	Py_DECREF(data);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *batch_write_from_file(BatchObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "local_path", "mode", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj, *local, *mode_obj = Py_None;
	char *path = NULL;
	uint32_t detected, mode;
	git_oid id;
	int rc = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:write_from_file", kwlist, &path_obj,
					 &local, &mode_obj))
		return NULL;
	if (batch_take(self) < 0)
		return NULL;
	if (gsp_path_arg(st, path_obj, 0, &path) == 0 &&
	    gsp_store_file(st, &id, &detected, self->txn, local) == 0 &&
	    gsp_mode_arg(st, mode_obj, detected, &mode) == 0)
		rc = gsp_stage_write(st, self->changes, path, &id, mode);
	batch_release(self, NULL);
	free(path);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *batch_remove(BatchObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj, *result = NULL;
	char *path = NULL;
	int status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:remove", kwlist, &path_obj))
		return NULL;
	if (batch_take(self) < 0)
		return NULL;
	if (gsp_path_arg(st, path_obj, 0, &path) == 0) {
		GSP_CALL(status, gs_plan_remove_file(self->changes, self->base->store->store,
						     &self->base->info.tree, path));
		result = status < 0 ? gsp_raise(st) : Py_NewRef(Py_None);
	}
	batch_release(self, NULL);
	free(path);
	return result;
}

static PyObject *batch_writer(BatchObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "mode", NULL};
	PyObject *path, *mode = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:writer", kwlist, &path, &mode))
		return NULL;
	if (batch_is_closed(self)) {
		PyErr_SetString(PyExc_RuntimeError, "Batch is closed");
		return NULL;
	}
	return gsp_writer_new((PyObject *)self, self->base->store->store, path, mode, 1);
}

/* Abandon the batch (an exception left its with block). */
static void batch_close(BatchObject *self)
{
	gs_txn *txn = NULL;

	Py_BEGIN_CRITICAL_SECTION(self);
	self->closed = 1;
	/* If another thread is inside a call, dealloc releases the txn. */
	if (!self->busy) {
		txn = self->txn;
		self->txn = NULL;
	}
	Py_END_CRITICAL_SECTION();
	if (txn)
		gsp_txn_free(txn);
}

static PyObject *batch_commit(BatchObject *self, PyObject *unused)
{
	PyObject *result;

	if (batch_take(self) < 0)
		return NULL;
	if (gs_changeset_count(self->changes) == 0) {
		batch_release(self, (PyObject *)self->base);
		return Py_NewRef(self->base);
	}
	result = gsp_fs_commit(self->base, self->txn, self->changes, self->message,
			       self->operation, "write to", NULL);
	/* A failed commit (the branch moved) leaves the batch open. */
	batch_release(self, result);
	return result;
}

static PyObject *batch_enter(BatchObject *self, PyObject *unused)
{
	return Py_NewRef(self);
}

static PyObject *batch_exit(BatchObject *self, PyObject *args)
{
	PyObject *exc_type, *exc, *tb, *result;

	if (!PyArg_ParseTuple(args, "OOO:__exit__", &exc_type, &exc, &tb))
		return NULL;
	if (exc_type != Py_None) {
		batch_close(self);
		Py_RETURN_FALSE;
	}
	if (batch_is_closed(self))
		Py_RETURN_FALSE;
	result = batch_commit(self, NULL);
	if (!result)
		return NULL;
	Py_DECREF(result);
	Py_RETURN_FALSE;
}

static PyObject *batch_get_closed(BatchObject *self, void *c)
{
	return PyBool_FromLong(batch_is_closed(self));
}

static PyObject *batch_get_fs(BatchObject *self, void *c)
{
	PyObject *fs;

	Py_BEGIN_CRITICAL_SECTION(self);
	fs = Py_NewRef(self->fs);
	Py_END_CRITICAL_SECTION();
	return fs;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FN(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef batch_methods[] = {
	{"write", FN(batch_write), KW,
	 "write($self, /, path, data, *, mode=None)\n--\n\n"
	 "Stage *data* for the file at *path*.\n\n"
	 "The content is stored right away; the batch keeps only its id.\n"
	 "Writing the same path again replaces the staged content.\n\n"
	 "Args:\n    path: Repository path.\n    data: Content; any bytes-like object.\n"
	 "    mode: FileType or int filemode; None for a regular file.\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"
	 "    TypeError: *data* is not bytes-like.\n"},
	{"write_text", FN(batch_write_text), KW,
	 "write_text($self, /, path, text, *, encoding='utf-8', mode=None)\n--\n\n"
	 "Stage *text*, encoded, for the file at *path*.\n\n"
	 "Args:\n    path: Repository path.\n    text: The text.\n"
	 "    encoding: Encoding used (strict).\n    mode: FileType or int filemode.\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"},
	{"write_from_file", FN(batch_write_from_file), KW,
	 "write_from_file($self, /, path, local_path, *, mode=None)\n--\n\n"
	 "Stage the local file *local_path* (streamed) for *path*.\n\n"
	 "Args:\n    path: Repository path.\n    local_path: File on disk.\n"
	 "    mode: Overrides the mode detected from the execute bits.\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"
	 "    FileNotFoundError: *local_path* does not exist.\n"
	 "    IsADirectoryError: *local_path* is a directory.\n"},
	{"write_symlink", FN(batch_write_symlink), KW,
	 "write_symlink($self, /, path, target)\n--\n\n"
	 "Stage a symlink at *path* pointing to *target*.\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"},
	{"remove", FN(batch_remove), KW,
	 "remove($self, /, path)\n--\n\n"
	 "Stage the removal of the file at *path* (or drop a staged write).\n\n"
	 "Args:\n    path: Repository path of a file in the snapshot or staged here.\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"
	 "    FileNotFoundError: The path is neither in the snapshot nor staged.\n"
	 "    IsADirectoryError: The path is a directory in the snapshot.\n"},
	{"writer", FN(batch_writer), KW,
	 "writer($self, /, path, mode='wb')\n--\n\n"
	 "A file-like object whose content is staged at *path* on close.\n\n"
	 "The content streams into the repository as it is written: memory\n"
	 "stays bounded whatever the file's size.\n\n"
	 "Args:\n    path: Repository path.\n    mode: ``\"wb\"`` or ``\"w\"`` (UTF-8 text).\n\n"
	 "Returns:\n    BatchWriter: A file-like writer (``write``, ``close``, context\n"
	 "    manager).\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"
	 "    ValueError: *mode* is neither ``\"wb\"`` nor ``\"w\"``.\n"},
	{"commit", FN(batch_commit), METH_NOARGS,
	 "commit($self, /)\n--\n\n"
	 "Commit everything staged as one commit and close the batch.\n\n"
	 "With nothing staged no commit is made and ``fs`` is the base snapshot.\n"
	 "If the commit fails (e.g. the branch moved) the batch stays open.\n\n"
	 "Returns:\n    FS: The new snapshot (also in ``fs``).\n\n"
	 "Raises:\n    RuntimeError: The batch is closed.\n"
	 "    StaleSnapshotError: The branch has moved since the base snapshot.\n"},
	{"__enter__", FN(batch_enter), METH_NOARGS, "__enter__($self, /)\n--\n\nReturn the batch."},
	{"__exit__", FN(batch_exit), METH_VARARGS,
	 "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
	 "Commit on a clean exit; on an exception close without committing."},
	{NULL}
};

/* {path: (BlobOid, mode)} of the staged writes, in staging order: a new
 * dict, so what is staged is not changed from outside. */
static PyObject *batch_get_writes(BatchObject *self, void *c)
{
	gsp_state_t *st = gsp_state_of(self);
	PyObject *writes;
	const gs_write *w;
	size_t pos = 0;

	if (gsp_claim((PyObject *)self, &self->busy) < 0) {
		PyErr_SetString(PyExc_RuntimeError, "Batch is in use by another thread");
		return NULL;
	}
	if (!(writes = PyDict_New()))
		goto done;
	while ((w = gs_changeset_next_write(self->changes, &pos))) {
		PyObject *path = gsp_str(w->path), *hex = NULL, *oid = NULL, *value = NULL;
		int rc = -1;
		if (path && (hex = gsp_hex_bytes(&w->id)) &&
		    (oid = PyObject_CallOneArg(st->BlobOid, hex)) &&
		    (value = Py_BuildValue("(OI)", oid, (unsigned int)w->mode)))
			rc = PyDict_SetItem(writes, path, value);
		Py_XDECREF(value);
		Py_XDECREF(oid);
		Py_XDECREF(hex);
		Py_XDECREF(path);
		if (rc < 0) {
			Py_CLEAR(writes);
			break;
		}
	}
done:
	gsp_unclaim((PyObject *)self, &self->busy);
	return writes;
}

static PyGetSetDef batch_getset[] = {
	{"fs", (getter)batch_get_fs, NULL,
	 "FS | None: The snapshot the commit made, None until then.", NULL},
	{"closed", (getter)batch_get_closed, NULL,
	 "bool: Whether the batch was committed or abandoned.", NULL},
	/* The names the pure-Python gitstore's tests inspect. */
	{"_closed", (getter)batch_get_closed, NULL, NULL, NULL},
	{"_writes", (getter)batch_get_writes, NULL, NULL, NULL},
	{NULL}
};

static PyType_Slot batch_slots[] = {
	{Py_tp_doc,
	 "Batch(fs, message=None, operation=None)\n--\n\n"
	 "Writes and removals on a branch snapshot, committed together.\n\n"
	 "Usually made by ``FS.batch`` and used as a context manager:\n\n"
	 "    with fs.batch() as b:\n"
	 "        b.write(\"a.txt\", b\"one\")\n"
	 "        b.remove(\"old.txt\")\n"
	 "    new_fs = b.fs\n\n"
	 "The block's clean end commits (one commit); an exception in the\n"
	 "block commits nothing.  A closed batch refuses every call.\n\n"
	 "Args:\n    fs: A writable snapshot (the base).\n"
	 "    message: Commit message, as for ``FS.write``.\n"
	 "    operation: Name used in a generated message (``Batch op: +2``).\n\n"
	 "Raises:\n    PermissionError: *fs* is read-only.\n"},
	{Py_tp_new, batch_new},
	{Py_tp_dealloc, batch_dealloc},
	{Py_tp_traverse, batch_traverse},
	{Py_tp_clear, batch_clear},
	{Py_tp_methods, batch_methods},
	{Py_tp_getset, batch_getset},
	{0, NULL}
};

static PyType_Spec batch_spec = {
	.name = "gitstore.Batch",
	.basicsize = sizeof(BatchObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
	.slots = batch_slots,
};

int gsp_batch_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	st->BatchType = gsp_add_type(module, &batch_spec, "Batch");
	return st->BatchType ? 0 : -1;
}
