/* writer.c - the file-like writers of FS.writer() and Batch.writer().
 *
 * What is written goes straight into a core blob stream (small content
 * in memory, big content deflated into a loose object as it arrives), so
 * a writer holds a bounded amount of memory whatever the file's size.
 * close() hands the stream to fs.write / batch.write, which store and
 * commit (or stage) it exactly as they do bytes. */
#include "binding.h"

/* Chunks smaller than this, while the content is still held in memory,
 * are copied with the GIL held: releasing it would cost more than the
 * copy.  Anything that may compress or write runs without it. */
#define GIL_FREE_WRITE (64 * 1024)

/* owner, path, text and batch are set before the writer is returned.
 * busy and closed are read and changed in the writer's critical section;
 * the call that set busy (writer_take) owns the stream until
 * writer_release, with the GIL released or not.  fs is replaced and read
 * in the critical section too. */
typedef struct {
	PyObject_HEAD
	PyObject *owner;          /* the FS or Batch */
	PyObject *path;           /* str(path), validated at close */
	PyObject *fs;             /* snapshot writers: the new snapshot, or None */
	gs_blob_stream *stream;   /* NULL once closed */
	int text;                 /* "w": str chunks, UTF-8 */
	int batch;                /* stages in a Batch rather than committing */
	int closed;
	int busy;                 /* a call is using the stream */
} WriterObject;

static void stream_free(gs_blob_stream *stream)
{
	if (stream) {
		/* May remove a temporary file. */
		Py_BEGIN_ALLOW_THREADS
		gs_blob_stream_free(stream);
		Py_END_ALLOW_THREADS
	}
}

enum { WRITER_TAKEN, WRITER_CLOSED, WRITER_BUSY };

/* Begin a call that uses the stream: WRITER_TAKEN with busy set, unless
 * the writer is closed or another thread is using it (the stream is not
 * shared between threads).  busy is tested and set in one critical
 * section, so two threads never both get it.  No exception is set. */
static int writer_take(WriterObject *self)
{
	int rc;

	Py_BEGIN_CRITICAL_SECTION(self);
	if (self->closed) {
		rc = WRITER_CLOSED;
	} else if (self->busy) {
		rc = WRITER_BUSY;
	} else {
		self->busy = 1;
		rc = WRITER_TAKEN;
	}
	Py_END_CRITICAL_SECTION();
	return rc;
}

static void busy_error(void)
{
	PyErr_SetString(PyExc_RuntimeError, "Writer is in use by another thread");
}

/* End a call writer_take began.  With `close` the writer is closed too,
 * its stream dropped and, for a snapshot writer, `fs` (a reference taken
 * over, or NULL) recorded as its snapshot. */
static void writer_release(WriterObject *self, int close, PyObject *fs)
{
	gs_blob_stream *stream = NULL;
	PyObject *old = NULL;

	Py_BEGIN_CRITICAL_SECTION(self);
	self->busy = 0;
	if (close) {
		self->closed = 1;
		stream = self->stream;
		self->stream = NULL;
		if (fs) {
			old = self->fs;
			self->fs = fs;
		}
	}
	Py_END_CRITICAL_SECTION();
	Py_XDECREF(old);
	stream_free(stream);
}

PyObject *gsp_writer_new(PyObject *owner, gs_store *store, PyObject *path, PyObject *mode,
			 int batch)
{
	gsp_state_t *st = gsp_state_of(owner);
	PyTypeObject *type = batch ? st->BatchWriterType : st->SnapshotWriterType;
	WriterObject *self;
	int text, status;

	if (!mode || mode == Py_None) {
		text = 0;
	} else if (PyUnicode_Check(mode) && PyUnicode_CompareWithASCIIString(mode, "wb") == 0) {
		text = 0;
	} else if (PyUnicode_Check(mode) && PyUnicode_CompareWithASCIIString(mode, "w") == 0) {
		text = 1;
	} else {
		PyErr_Format(PyExc_ValueError, "writer() mode must be 'wb' or 'w', got %R", mode);
		return NULL;
	}
	if (!(self = PyObject_GC_New(WriterObject, type)))
		return NULL;
	self->owner = Py_NewRef(owner);
	self->fs = Py_NewRef(Py_None);
	self->stream = NULL;
	self->text = text;
	self->batch = batch;
	self->closed = 0;
	self->busy = 0;
	self->path = PyObject_Str(path);
	PyObject_GC_Track(self);
	if (!self->path) {
		Py_DECREF(self);
		return NULL;
	}
	gs_error_clear();
	status = gs_blob_stream_open(&self->stream, store, GS_BLOB_SIZE_UNKNOWN);
	if (status < 0) {
		gsp_raise(st);
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void writer_dealloc(WriterObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	stream_free(self->stream);
	self->stream = NULL;
	Py_CLEAR(self->owner);
	Py_CLEAR(self->path);
	Py_CLEAR(self->fs);
	type->tp_free(self);
	Py_DECREF(type);
}

static int writer_traverse(WriterObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->owner);
	Py_VISIT(self->fs);
	return 0;
}

static int writer_clear(WriterObject *self)
{
	Py_CLEAR(self->owner);
	Py_CLEAR(self->fs);
	return 0;
}

static PyObject *writer_write(WriterObject *self, PyObject *data)
{
	PyObject *encoded = NULL, *result = NULL;
	Py_buffer view;
	int status;

	switch (writer_take(self)) {
	case WRITER_CLOSED:
		PyErr_SetString(PyExc_ValueError, "I/O operation on closed file.");
		return NULL;
	case WRITER_BUSY:
		busy_error();
		return NULL;
	}
	if (gs_blob_stream_finished(self->stream)) {
		PyErr_SetString(PyExc_ValueError,
				"cannot write after close() stored the content (close() can be retried)");
		goto done;
	}
	if (self->text) {
		if (!PyUnicode_Check(data)) {
			PyErr_SetString(PyExc_TypeError, "expected str for text mode writer");
			goto done;
		}
		/* A str's UTF-8 form is cached on it for life: encode a copy. */
		if (!(encoded = PyUnicode_AsUTF8String(data)))
			goto done;
		data = encoded;
	} else if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
		PyErr_SetString(PyExc_TypeError, "expected bytes for binary mode writer");
		goto done;
	} else if (PyMemoryView_Check(data) &&
		   !PyBuffer_IsContiguous(PyMemoryView_GET_BUFFER(data), 'C')) {
		/* Its bytes in order, as bytes(view) gives them. */
		if (!(encoded = PyBytes_FromObject(data)))
			goto done;
		data = encoded;
	}
	if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
		goto done;
	if (view.len >= GIL_FREE_WRITE ||
	    gs_blob_stream_size(self->stream) + (uint64_t)view.len >= GS_BIG_BLOB) {
		GSP_CALL(status, gs_blob_stream_write(self->stream, view.buf, (size_t)view.len));
	} else {
		gs_error_clear();
		status = gs_blob_stream_write(self->stream, view.buf, (size_t)view.len);
	}
	PyBuffer_Release(&view);
	result = status < 0 ? gsp_raise(gsp_state_of(self)) : PyLong_FromSsize_t(view.len);
done:
	writer_release(self, 0, NULL);
	Py_XDECREF(encoded);
	return result;
}

static PyObject *writer_close(WriterObject *self, PyObject *unused)
{
	PyObject *result = NULL;

	switch (writer_take(self)) {
	case WRITER_CLOSED:
		Py_RETURN_NONE;
	case WRITER_BUSY:
		busy_error();
		return NULL;
	}
	if (self->batch)
		result = gsp_batch_write_stream(self->owner, self->path, self->stream) == 0
			 ? Py_NewRef(Py_None) : NULL;
	else
		result = gsp_fs_write_stream((FSObject *)self->owner, self->path, self->stream);
	if (!result) {
		writer_release(self, 0, NULL);
		return NULL;   /* still open: close() may be called again */
	}
	if (self->batch) {
		Py_DECREF(result);
		result = NULL;
	}
	writer_release(self, 1, result);
	Py_RETURN_NONE;
}

static PyObject *writer_false(PyObject *self, PyObject *unused)
{
	Py_RETURN_FALSE;
}

static PyObject *writer_true(PyObject *self, PyObject *unused)
{
	Py_RETURN_TRUE;
}

static PyObject *writer_enter(PyObject *self, PyObject *unused)
{
	return Py_NewRef(self);
}

static PyObject *writer_exit(WriterObject *self, PyObject *args)
{
	PyObject *exc_type, *exc, *tb, *result;

	if (!PyArg_ParseTuple(args, "OOO:__exit__", &exc_type, &exc, &tb))
		return NULL;
	if (exc_type == Py_None) {
		if (!(result = writer_close(self, NULL)))
			return NULL;
		Py_DECREF(result);
		Py_RETURN_FALSE;
	}
	/* The block failed: nothing is committed, and what was written so
	 * far (a temporary file for big content) goes now, unless another
	 * thread is inside a call (dealloc drops the stream then). */
	if (writer_take(self) == WRITER_TAKEN)
		writer_release(self, 1, NULL);
	Py_RETURN_FALSE;
}

static PyObject *writer_get_closed(WriterObject *self, void *c)
{
	int closed;

	Py_BEGIN_CRITICAL_SECTION(self);
	closed = self->closed;
	Py_END_CRITICAL_SECTION();
	return PyBool_FromLong(closed);
}

static PyObject *writer_get_fs(WriterObject *self, void *c)
{
	PyObject *fs;

	Py_BEGIN_CRITICAL_SECTION(self);
	fs = Py_NewRef(self->fs);
	Py_END_CRITICAL_SECTION();
	return fs;
}

#define FN(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef writer_methods[] = {
	{"write", FN(writer_write), METH_O,
	 "write($self, data, /)\n--\n\n"
	 "Append *data* to the file.\n\n"
	 "The content goes to the repository as it comes (small files are\n"
	 "held in memory until close), so memory stays bounded.\n\n"
	 "Args:\n    data: ``str`` for a text writer (written as UTF-8), a\n"
	 "        bytes-like object (``bytes``, ``bytearray``, ``memoryview``)\n"
	 "        for a binary one.\n\n"
	 "Returns:\n    int: The number of bytes appended (UTF-8 bytes for text).\n\n"
	 "Raises:\n    ValueError: The writer is closed.\n"
	 "    TypeError: *data* has the wrong type for the writer's mode.\n"},
	{"close", FN(writer_close), METH_NOARGS,
	 "close($self, /)\n--\n\n"
	 "Store the content at the writer's path; a second call does nothing.\n\n"
	 "A snapshot writer commits the file (a regular file, automatic\n"
	 "message) and sets ``fs`` to the new snapshot; a batch writer stages\n"
	 "it in its batch.  The path is checked here.  If this fails (a bad\n"
	 "path, the branch moved, the batch is closed) the writer stays open\n"
	 "and ``close()`` can be called again; once the content was stored,\n"
	 "no more can be written.\n\n"
	 "Raises:\n    ValueError: The path is not a valid repository path.\n"
	 "    StaleSnapshotError: The branch moved since the snapshot.\n"
	 "    RuntimeError: The batch is closed (batch writers).\n"},
	{"readable", FN(writer_false), METH_NOARGS,
	 "readable($self, /)\n--\n\nWriters cannot be read.\n\n"
	 "Returns:\n    bool: Always False.\n"},
	{"writable", FN(writer_true), METH_NOARGS,
	 "writable($self, /)\n--\n\nWriters can be written.\n\n"
	 "Returns:\n    bool: Always True.\n"},
	{"seekable", FN(writer_false), METH_NOARGS,
	 "seekable($self, /)\n--\n\nWriters cannot seek.\n\n"
	 "Returns:\n    bool: Always False.\n"},
	{"__enter__", FN(writer_enter), METH_NOARGS,
	 "__enter__($self, /)\n--\n\nReturn the writer."},
	{"__exit__", FN(writer_exit), METH_VARARGS,
	 "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
	 "Close on a clean exit; on an exception close without storing anything.\n"
	 "Never suppresses the exception."},
	{NULL}
};

#define CLOSED_DOC "bool: Whether the writer was closed (content stored, or abandoned)."

static PyGetSetDef snapshot_writer_getset[] = {
	{"fs", (getter)writer_get_fs, NULL,
	 "FS | None: The snapshot the commit made (the same snapshot when the\n"
	 "content was already there), None until a successful close.", NULL},
	{"closed", (getter)writer_get_closed, NULL, CLOSED_DOC, NULL},
	{NULL}
};

static PyGetSetDef batch_writer_getset[] = {
	{"closed", (getter)writer_get_closed, NULL, CLOSED_DOC, NULL},
	{NULL}
};

static PyType_Slot snapshot_writer_slots[] = {
	{Py_tp_doc,
	 "A file-like writer whose content is committed to one file on close.\n\n"
	 "Made by ``FS.writer(path, mode)``; use it as a context manager:\n\n"
	 "    with fs.writer(\"big.bin\") as w:\n"
	 "        for chunk in chunks:\n"
	 "            w.write(chunk)\n"
	 "    fs = w.fs\n\n"
	 "Content streams into the repository as it is written, so memory stays\n"
	 "bounded whatever the size.  An exception in the block commits nothing.\n"},
	{Py_tp_dealloc, writer_dealloc},
	{Py_tp_traverse, writer_traverse},
	{Py_tp_clear, writer_clear},
	{Py_tp_methods, writer_methods},
	{Py_tp_getset, snapshot_writer_getset},
	{0, NULL}
};

static PyType_Slot batch_writer_slots[] = {
	{Py_tp_doc,
	 "A file-like writer whose content is staged in a Batch on close.\n\n"
	 "Made by ``Batch.writer(path, mode)``; the batch's commit includes the\n"
	 "file.  Content streams into the repository as it is written, so memory\n"
	 "stays bounded whatever the size.  An exception in the ``with`` block\n"
	 "stages nothing.\n"},
	{Py_tp_dealloc, writer_dealloc},
	{Py_tp_traverse, writer_traverse},
	{Py_tp_clear, writer_clear},
	{Py_tp_methods, writer_methods},
	{Py_tp_getset, batch_writer_getset},
	{0, NULL}
};

static PyType_Spec snapshot_writer_spec = {
	.name = "gitstore._core.SnapshotWriter",
	.basicsize = sizeof(WriterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = snapshot_writer_slots,
};

static PyType_Spec batch_writer_spec = {
	.name = "gitstore._core.BatchWriter",
	.basicsize = sizeof(WriterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = batch_writer_slots,
};

int gsp_writer_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	st->SnapshotWriterType = gsp_add_type(module, &snapshot_writer_spec, "SnapshotWriter");
	st->BatchWriterType = gsp_add_type(module, &batch_writer_spec, "BatchWriter");
	return st->SnapshotWriterType && st->BatchWriterType ? 0 : -1;
}
