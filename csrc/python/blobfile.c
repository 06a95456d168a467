/* blobfile.c - BlobFile: a file of a snapshot as a read-only, seekable
 * binary file object (FS.open).
 *
 * It is an io.RawIOBase: the C type derives from _io._RawIOBase, whose
 * methods (read loops, readline, iteration, context manager, `closed`)
 * build on readinto, seek and tell, and io.RawIOBase knows it as a
 * subclass.  The base's instance layout is private, so our fields follow
 * it at the base's size, found when the type is made. */
#include "binding.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
	PyObject *fs;        /* the snapshot: keeps the store open */
	PyObject *name;      /* the path as given */
	gs_blob blob;        /* the whole content, open while the file is */
	size_t pos;
	int open;
	int busy;            /* a read runs without the GIL (gsp_claim) */
} blobfile_fields;

/* Where our fields start: the same for every module object, since the
 * base is a static type. */
static Py_ssize_t fields_at;

static blobfile_fields *fields(PyObject *self)
{
	return (blobfile_fields *)((char *)self + fields_at);
}

static void release(blobfile_fields *f)
{
	if (f->open) {
		Py_BEGIN_ALLOW_THREADS
		gs_blob_free(&f->blob);
		Py_END_ALLOW_THREADS
		f->open = 0;
	}
	Py_CLEAR(f->fs);
	Py_CLEAR(f->name);
}

PyObject *gsp_blobfile_new(FSObject *fs, PyObject *path_obj)
{
	gsp_state_t *st = gsp_state_of(fs);
	PyObject *self;
	blobfile_fields *f;
	char *path;
	int rc;

	if (gsp_path_arg(st, path_obj, 0, &path) < 0)
		return NULL;
	if (!(self = st->BlobFileType->tp_alloc(st->BlobFileType, 0))) {
		free(path);
		return NULL;
	}
	f = fields(self);
	GSP_CALL(rc, gs_snap_read(&f->blob, fs->store->store, &fs->info.tree, path, 0, SIZE_MAX));
	f->name = gsp_str(path);
	free(path);
	if (rc < 0) {
		gsp_raise(st);
		Py_DECREF(self);
		return NULL;
	}
	f->open = 1;
	f->fs = Py_NewRef((PyObject *)fs);
	if (!f->name) {
		Py_DECREF(self);
		return NULL;
	}
	return self;
}

static int check_open(blobfile_fields *f)
{
	if (f->open)
		return 0;
	PyErr_SetString(PyExc_ValueError, "I/O operation on closed file.");
	return -1;
}

/* Up to len bytes at the position into dst, which moves past them. */
static int read_at(PyObject *self, char *dst, size_t len, size_t *got)
{
	blobfile_fields *f = fields(self);
	int rc;

	if (check_open(f) < 0)
		return -1;
	if (gsp_claim(self, &f->busy) < 0) {
		PyErr_SetString(PyExc_RuntimeError, "the file is in use by another thread");
		return -1;
	}
	GSP_CALL(rc, gs_blob_pread(got, &f->blob, f->pos, dst, len));
	gsp_unclaim(self, &f->busy);
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	f->pos += *got;
	return 0;
}

/* Bytes left after the position (0 past the end). */
static size_t remaining(blobfile_fields *f)
{
	return f->pos < f->blob.total ? f->blob.total - f->pos : 0;
}

static PyObject *read_bytes(PyObject *self, size_t want)
{
	PyObject *result;
	size_t got;

	if (!(result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)want)))
		return NULL;
	if (read_at(self, PyBytes_AS_STRING(result), want, &got) < 0) {
		Py_DECREF(result);
		return NULL;
	}
	if (got < want) {
		/* The content ended early: only a changed object does that. */
		PyObject *shorter = PyBytes_FromStringAndSize(PyBytes_AS_STRING(result),
							      (Py_ssize_t)got);
		Py_DECREF(result);
		return shorter;
	}
	return result;
}

static PyObject *blobfile_readinto(PyObject *self, PyObject *arg)
{
	Py_buffer buf;
	size_t got;
	int rc;

	if (PyObject_GetBuffer(arg, &buf, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
		return NULL;
	rc = read_at(self, buf.buf, (size_t)buf.len, &got);
	PyBuffer_Release(&buf);
	return rc < 0 ? NULL : PyLong_FromSize_t(got);
}

static PyObject *blobfile_readall(PyObject *self, PyObject *unused)
{
	blobfile_fields *f = fields(self);

	if (check_open(f) < 0)
		return NULL;
	return read_bytes(self, remaining(f));
}

static PyObject *blobfile_read(PyObject *self, PyObject *args)
{
	blobfile_fields *f = fields(self);
	Py_ssize_t size = -1;

	if (!PyArg_ParseTuple(args, "|n:read", &size))
		return NULL;
	if (check_open(f) < 0)
		return NULL;
	if (size < 0 || (size_t)size > remaining(f))
		size = (Py_ssize_t)remaining(f);
	return read_bytes(self, (size_t)size);
}

static PyObject *blobfile_seek(PyObject *self, PyObject *args)
{
	blobfile_fields *f = fields(self);
	long long offset, base;
	int whence = 0;

	if (!PyArg_ParseTuple(args, "L|i:seek", &offset, &whence))
		return NULL;
	if (check_open(f) < 0)
		return NULL;
	switch (whence) {
	case 0: base = 0; break;
	case 1: base = (long long)f->pos; break;
	case 2: base = (long long)f->blob.total; break;
	default:
		return PyErr_Format(PyExc_ValueError, "invalid whence (%d, should be 0, 1 or 2)",
				    whence);
	}
	if ((offset > 0 && base > LLONG_MAX - offset) || base + offset < 0)
		return PyErr_Format(PyExc_ValueError, "negative seek position %lld",
				    base + offset);
	f->pos = (size_t)(base + offset);
	return PyLong_FromSize_t(f->pos);
}

static PyObject *blobfile_tell(PyObject *self, PyObject *unused)
{
	blobfile_fields *f = fields(self);

	if (check_open(f) < 0)
		return NULL;
	return PyLong_FromSize_t(f->pos);
}

static PyObject *blobfile_true(PyObject *self, PyObject *unused)
{
	if (check_open(fields(self)) < 0)
		return NULL;
	Py_RETURN_TRUE;
}

static PyObject *blobfile_close(PyObject *self, PyObject *unused)
{
	blobfile_fields *f = fields(self);
	PyObject *base_close, *result;

	if (f->busy) {
		PyErr_SetString(PyExc_RuntimeError, "the file is in use by another thread");
		return NULL;
	}
	release(f);
	/* The base marks the file closed. */
	base_close = PyObject_GetAttrString((PyObject *)Py_TYPE(self)->tp_base, "close");
	if (!base_close)
		return NULL;
	result = PyObject_CallOneArg(base_close, self);
	Py_DECREF(base_close);
	return result;
}

static PyObject *blobfile_get_name(PyObject *self, void *c)
{
	blobfile_fields *f = fields(self);

	if (!f->name)
		return PyErr_Format(PyExc_ValueError, "I/O operation on closed file.");
	return Py_NewRef(f->name);
}

static PyObject *blobfile_get_size(PyObject *self, void *c)
{
	blobfile_fields *f = fields(self);

	if (check_open(f) < 0)
		return NULL;
	return PyLong_FromSize_t(f->blob.total);
}

static PyObject *blobfile_repr(PyObject *self)
{
	blobfile_fields *f = fields(self);

	if (!f->name)
		return PyUnicode_FromString("<gitstore.BlobFile (closed)>");
	return PyUnicode_FromFormat("<gitstore.BlobFile name=%R size=%zu>", f->name,
				    f->blob.total);
}

static int blobfile_traverse(PyObject *self, visitproc visit, void *arg)
{
	blobfile_fields *f = fields(self);

	Py_VISIT(Py_TYPE(self));
	Py_VISIT(f->fs);
	Py_VISIT(f->name);
	return Py_TYPE(self)->tp_base->tp_traverse(self, visit, arg);
}

static int blobfile_clear(PyObject *self)
{
	release(fields(self));
	return Py_TYPE(self)->tp_base->tp_clear(self);
}

/* The base's dealloc closes the file (its finalizer calls close()) and
 * frees it; it may resurrect it instead, taking a reference to the type
 * that the decref below gives back. */
static void blobfile_dealloc(PyObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	type->tp_base->tp_dealloc(self);
	Py_DECREF(type);
}

static PyMethodDef blobfile_methods[] = {
	{"readinto", blobfile_readinto, METH_O,
	 "readinto($self, buffer, /)\n--\n\n"
	 "Read into a writable buffer.\n\n"
	 "Returns:\n"
	 "    int: Bytes read; 0 at the end of the file.\n"},
	{"read", blobfile_read, METH_VARARGS,
	 "read($self, size=-1, /)\n--\n\n"
	 "Read up to size bytes (all the rest when size is negative).\n\n"
	 "Returns:\n"
	 "    bytes: Empty at the end of the file.\n"},
	{"readall", blobfile_readall, METH_NOARGS,
	 "readall($self)\n--\n\n"
	 "Read from the position to the end.\n\n"
	 "Returns:\n"
	 "    bytes: The rest of the file.\n"},
	{"seek", blobfile_seek, METH_VARARGS,
	 "seek($self, offset, whence=0, /)\n--\n\n"
	 "Move the position (past the end is allowed; reads there return b\"\").\n\n"
	 "Args:\n"
	 "    offset: Bytes from the reference point.\n"
	 "    whence: 0 (start, ``os.SEEK_SET``), 1 (position) or 2 (end).\n\n"
	 "Returns:\n"
	 "    int: The new position.\n\n"
	 "Raises:\n"
	 "    ValueError: A negative position or an unknown whence.\n"},
	{"tell", blobfile_tell, METH_NOARGS,
	 "tell($self)\n--\n\n"
	 "Returns:\n"
	 "    int: The position.\n"},
	{"readable", blobfile_true, METH_NOARGS,
	 "readable($self)\n--\n\n"
	 "Returns:\n"
	 "    bool: True.\n"},
	{"seekable", blobfile_true, METH_NOARGS,
	 "seekable($self)\n--\n\n"
	 "Returns:\n"
	 "    bool: True.\n"},
	{"close", blobfile_close, METH_NOARGS,
	 "close($self)\n--\n\n"
	 "Close the file; closing again does nothing.\n"},
	{NULL}
};

static PyGetSetDef blobfile_getset[] = {
	{"name", blobfile_get_name, NULL, "str: The path the file was opened with.\n", NULL},
	{"size", blobfile_get_size, NULL, "int: The file's size in bytes.\n", NULL},
	{NULL}
};

static PyType_Slot blobfile_slots[] = {
	{Py_tp_doc,
	 "A file of a snapshot, open for reading: a read-only, seekable binary\n"
	 "file object (an ``io.RawIOBase``) from ``FS.open``.\n\n"
	 "Reads of a file stored whole stream: memory stays a few buffers\n"
	 "whatever its size, and sequential reads cost what they return (see\n"
	 "``FS.open`` for the files git stores otherwise).  The file keeps\n"
	 "reading the snapshot it was opened from.\n"},
	{Py_tp_dealloc, blobfile_dealloc},
	{Py_tp_traverse, blobfile_traverse},
	{Py_tp_clear, blobfile_clear},
	{Py_tp_repr, blobfile_repr},
	{Py_tp_methods, blobfile_methods},
	{Py_tp_getset, blobfile_getset},
	{0, NULL}
};

int gsp_blobfile_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);
	PyObject *io = NULL, *base = NULL, *abc = NULL, *done = NULL, *type = NULL;
	PyType_Spec spec = {
		.name = "gitstore.BlobFile",
		.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
			 Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
		.slots = blobfile_slots,
	};
	int rc = -1;

	if (!(io = PyImport_ImportModule("_io")) ||
	    !(base = PyObject_GetAttrString(io, "_RawIOBase")))
		goto done;
	fields_at = (((PyTypeObject *)base)->tp_basicsize + 15) & ~(Py_ssize_t)15;
	spec.basicsize = (int)(fields_at + (Py_ssize_t)sizeof(blobfile_fields));
	if (!(type = PyType_FromModuleAndSpec(module, &spec, base)))
		goto done;
	Py_DECREF(io);
	if (!(io = PyImport_ImportModule("io")) ||
	    !(abc = PyObject_GetAttrString(io, "RawIOBase")) ||
	    !(done = PyObject_CallMethod(abc, "register", "O", type)))
		goto done;
	if (PyModule_AddObjectRef(module, "BlobFile", type) < 0)
		goto done;
	st->BlobFileType = (PyTypeObject *)Py_NewRef(type);
	rc = 0;
done:
	Py_XDECREF(done);
	Py_XDECREF(abc);
	Py_XDECREF(type);
	Py_XDECREF(base);
	Py_XDECREF(io);
	return rc;
}
