/* fsiter.c - the lazy iterators of FS: walk() and log(), and an iterator
 * that raises an error on its first next() (for errors found early). */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

/* Iterators are changed by next() alone, and one next() at a time runs
 * (gsp_claim): a next() from another thread meanwhile raises instead of
 * racing with the core call, which runs with the GIL released. */
static int iter_take(PyObject *iter, int *busy, const char *what)
{
	if (gsp_claim(iter, busy) == 0)
		return 0;
	PyErr_Format(PyExc_RuntimeError, "%s iterator is in use by another thread", what);
	return -1;
}

/* ------------------------------------------------------------------ */
/* walk()                                                              */

typedef struct {
	char *path;       /* "" for the root */
	git_oid tree;
} pending_dir;

/* Names met earlier in the walk, by a hash of their bytes: trees repeat
 * names (every package's __init__.py, every leaf's README.md), and a str
 * shared by its entries is cheaper than one made for each.  A hash picks
 * a pair of slots, which hold the two ASCII names last used of those
 * that hash to it, the latest first (with one slot per hash, two names
 * of one directory that hash alike would push each other out for good). */
#define NAME_BITS 10
#define NAME_SLOTS (1u << NAME_BITS)

typedef struct {
	PyObject *str;
	uint32_t hash;
} name_slot;

typedef struct {
	PyObject_HEAD
	FSObject *fs;
	char *start;      /* NULL: the root */
	int started;
	pending_dir *stack;
	size_t depth, cap;
	name_slot *names; /* NAME_SLOTS, made by the first next() */
	int busy;         /* a next() is running */
} WalkIterObject;

PyObject *gsp_walk_iter_new(FSObject *fs, const char *path)
{
	WalkIterObject *self = PyObject_GC_New(WalkIterObject, gsp_state_of(fs)->WalkIterType);

	if (!self)
		return NULL;
	self->fs = (FSObject *)Py_NewRef(fs);
	self->start = path ? strdup(path) : NULL;
	self->started = 0;
	self->stack = NULL;
	self->depth = self->cap = 0;
	self->names = NULL;
	self->busy = 0;
	PyObject_GC_Track(self);
	if (path && !self->start) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	return (PyObject *)self;
}

static void walk_dealloc(WalkIterObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->fs);
	for (size_t i = 0; i < self->depth; i++)
		free(self->stack[i].path);
	free(self->stack);
	free(self->start);
	if (self->names) {
		for (size_t i = 0; i < NAME_SLOTS; i++)
			Py_XDECREF(self->names[i].str);
		free(self->names);
	}
	PyObject_GC_Del(self);
	Py_DECREF(type);
}

static int walk_traverse(WalkIterObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->fs);
	return 0;
}

static int walk_push(WalkIterObject *self, const char *parent, const gs_dirent *entry)
{
	size_t plen = strlen(parent), nlen = strlen(entry->name);
	pending_dir *dir;
	char *path;

	if (self->depth == self->cap) {
		size_t cap = self->cap ? self->cap * 2 : 16;
		pending_dir *stack = realloc(self->stack, cap * sizeof(*stack));
		if (!stack)
			return -1;
		self->stack = stack;
		self->cap = cap;
	}
	dir = &self->stack[self->depth];
	if (!(path = malloc(plen + nlen + 2)))
		return -1;
	memcpy(path, parent, plen);
	if (plen)
		path[plen++] = '/';
	memcpy(path + plen, entry->name, nlen + 1);
	dir->path = path;
	git_oid_cpy(&dir->tree, &entry->id);
	self->depth++;
	return 0;
}

/* The str of an entry's name: an ASCII name is copied into a new str, or
 * shared with an equal one made before; others are decoded. */
static PyObject *walk_name(WalkIterObject *self, const char *name)
{
	const unsigned char *p = (const unsigned char *)name, *q;
	uint32_t hash = 0;
	unsigned char any = 0;
	name_slot *slot;
	PyObject *str;
	size_t len;

	/* A rotate and xor per byte, mixed once at the end: a multiply per
	 * byte was a tenth of a walk. */
	for (; *p; p++) {
		hash = ((hash << 5) | (hash >> 27)) ^ *p;
		any |= *p;
	}
	if (any & 0x80)
		return gsp_str(name);
	len = (size_t)(p - (const unsigned char *)name);
	slot = &self->names[((hash * 0x9e3779b1u) >> (33 - NAME_BITS)) * 2];
	for (int way = 0; way < 2; way++) {
		if (!slot[way].str || slot[way].hash != hash)
			continue;
		/* Both end in a NUL, which no name holds. */
		p = (const unsigned char *)name;
		q = PyUnicode_1BYTE_DATA(slot[way].str);
		while (*p && *p == *q)
			p++, q++;
		if (*p != *q)
			continue;
		if (way) {
			name_slot latest = slot[1];
			slot[1] = slot[0];
			slot[0] = latest;
		}
		return Py_NewRef(slot[0].str);
	}
	if (!(str = PyUnicode_New((Py_ssize_t)len, 127)))
		return NULL;
	memcpy(PyUnicode_1BYTE_DATA(str), name, len);
	Py_XDECREF(slot[1].str);
	slot[1] = slot[0];
	slot[0].str = Py_NewRef(str);
	slot[0].hash = hash;
	return str;
}

/* (dirpath, dirnames, files) for one listing; subdirectories are pushed
 * in reverse so that they come off the stack in tree order. */
static PyObject *walk_item(WalkIterObject *self, const char *dirpath, gs_dirlist *dir)
{
	gsp_state_t *st = gsp_state_of(self);
	PyObject *dirnames = NULL, *files = NULL, *path = NULL, *result = NULL;
	Py_ssize_t ndirs = 0, nfiles = 0;

	for (size_t i = 0; i < dir->count; i++)
		ndirs += dir->items[i].mode == GS_MODE_TREE;
	/* Sized up front: a failure leaves empty slots, which lists allow. */
	if (!(dirnames = PyList_New(ndirs)) ||
	    !(files = PyList_New((Py_ssize_t)dir->count - ndirs)))
		goto done;
	ndirs = 0;
	for (size_t i = 0; i < dir->count; i++) {
		gs_dirent *e = &dir->items[i];

		if (e->mode == GS_MODE_TREE) {
			PyObject *name = walk_name(self, e->name);
			if (!name)
				goto done;
			PyList_SET_ITEM(dirnames, ndirs++, name);
		} else {
			PyObject *entry = gsp_walk_entry(st, e, walk_name(self, e->name));
			if (!entry)
				goto done;
			PyList_SET_ITEM(files, nfiles++, entry);
		}
	}
	for (size_t i = dir->count; i-- > 0;) {
		if (dir->items[i].mode == GS_MODE_TREE && walk_push(self, dirpath, &dir->items[i]) < 0) {
			PyErr_NoMemory();
			goto done;
		}
	}
	if ((path = gsp_str(dirpath)) && (result = PyTuple_New(3))) {
		PyTuple_SET_ITEM(result, 0, path);
		PyTuple_SET_ITEM(result, 1, dirnames);
		PyTuple_SET_ITEM(result, 2, files);
		return result;
	}
	Py_XDECREF(path);
done:
	Py_XDECREF(dirnames);
	Py_XDECREF(files);
	return result;
}

static PyObject *walk_next(WalkIterObject *self)
{
	gs_store *store = self->fs->store->store;
	gs_dirlist dir;
	PyObject *item = NULL;
	char *dirpath;
	int rc;

	if (iter_take((PyObject *)self, &self->busy, "walk") < 0)
		return NULL;
	if (!self->names && !(self->names = calloc(NAME_SLOTS, sizeof(*self->names)))) {
		PyErr_NoMemory();
		goto done;
	}
	if (!self->started) {
		self->started = 1;
		GSP_CALL(rc, gs_snap_list(&dir, NULL, store, &self->fs->info.tree, self->start));
		if (rc < 0) {
			gsp_raise(gsp_state_of(self));
			goto done;
		}
		item = walk_item(self, self->start ? self->start : "", &dir);
		gs_dirlist_free(&dir);
		goto done;
	}
	if (self->depth == 0)
		goto done;
	self->depth--;
	dirpath = self->stack[self->depth].path;
	GSP_CALL(rc, gs_snap_list_tree(&dir, store, &self->stack[self->depth].tree));
	if (rc < 0) {
		free(dirpath);
		gsp_raise(gsp_state_of(self));
		goto done;
	}
	item = walk_item(self, dirpath, &dir);
	gs_dirlist_free(&dir);
	free(dirpath);
done:
	gsp_unclaim((PyObject *)self, &self->busy);
	return item;
}

static PyType_Slot walk_slots[] = {
	{Py_tp_doc, "Iterator returned by FS.walk()."},
	{Py_tp_dealloc, walk_dealloc},
	{Py_tp_traverse, walk_traverse},
	{Py_tp_iter, PyObject_SelfIter},
	{Py_tp_iternext, walk_next},
	{0, NULL}
};

static PyType_Spec walk_spec = {
	.name = "gitstore._core.WalkIterator",
	.basicsize = sizeof(WalkIterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = walk_slots,
};

/* ------------------------------------------------------------------ */
/* log()                                                               */

typedef struct {
	PyObject_HEAD
	FSObject *start;        /* the snapshot log() was called on */
	gs_history *history;    /* NULL once the walk ended or failed */
	int busy;               /* a next() is walking, the GIL released */
} LogIterObject;

/* POSIX seconds of a datetime; naive values are UTC. */
static int timestamp_of(gsp_state_t *st, PyObject *dt, double *out)
{
	PyObject *tzinfo = PyObject_GetAttrString(dt, "tzinfo"), *aware = dt, *ts;

	if (!tzinfo)
		return -1;
	if (tzinfo == Py_None) {
		PyObject *utc = PyObject_GetAttrString(st->timezone, "utc"), *kw;
		kw = utc ? Py_BuildValue("{s:O}", "tzinfo", utc) : NULL;
		Py_XDECREF(utc);
		if (!kw) {
			Py_DECREF(tzinfo);
			return -1;
		}
		{
			PyObject *replace = PyObject_GetAttrString(dt, "replace"), *noargs = PyTuple_New(0);
			aware = replace && noargs ? PyObject_Call(replace, noargs, kw) : NULL;
			Py_XDECREF(replace);
			Py_XDECREF(noargs);
		}
		Py_DECREF(kw);
		if (!aware) {
			Py_DECREF(tzinfo);
			return -1;
		}
	} else {
		Py_INCREF(aware);
	}
	Py_DECREF(tzinfo);
	ts = PyObject_CallMethod(aware, "timestamp", NULL);
	Py_DECREF(aware);
	if (!ts)
		return -1;
	*out = PyFloat_AsDouble(ts);
	Py_DECREF(ts);
	return PyErr_Occurred() ? -1 : 0;
}

PyObject *gsp_log_iter_new(FSObject *fs, const char *path, PyObject *match, PyObject *before)
{
	gsp_state_t *st = gsp_state_of(fs);
	gs_history_filter filter = {path, NULL, 0, 0};
	LogIterObject *self;
	int rc;

	/* Like a generator's, log()'s failures are raised by the first next(). */
	if (match != Py_None && !(filter.match = PyUnicode_AsUTF8(match)))
		return gsp_failed_iter_new(st);
	if (before != Py_None) {
		if (timestamp_of(st, before, &filter.before) < 0)
			return gsp_failed_iter_new(st);
		filter.has_before = 1;
	}
	if (!(self = PyObject_GC_New(LogIterObject, st->LogIterType)))
		return NULL;
	self->start = (FSObject *)Py_NewRef(fs);
	self->history = NULL;
	self->busy = 0;
	PyObject_GC_Track(self);
	GSP_CALL(rc, gs_history_open(&self->history, fs->store->store, &fs->info.id, &filter));
	if (rc < 0) {
		gsp_raise(st);
		Py_DECREF(self);
		return gsp_failed_iter_new(st);
	}
	return (PyObject *)self;
}

static void log_dealloc(LogIterObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->start);
	gs_history_free(self->history);
	PyObject_GC_Del(self);
	Py_DECREF(type);
}

static int log_traverse(LogIterObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->start);
	return 0;
}

static PyObject *log_next(LogIterObject *self)
{
	gs_commit_info info;
	PyObject *result = NULL;
	int found, rc;

	if (iter_take((PyObject *)self, &self->busy, "log") < 0)
		return NULL;
	if (!self->history)
		goto done;
	GSP_CALL(rc, gs_history_next(&info, &found, self->history));
	if (rc < 0 || !found) {
		gs_history_free(self->history);
		self->history = NULL;
		if (rc < 0)
			gsp_raise(gsp_state_of(self));
		goto done;
	}
	/* The snapshot log() was called on is yielded as itself. */
	if (git_oid_equal(&info.id, &self->start->info.id)) {
		gs_commit_info_clear(&info);
		result = Py_NewRef(self->start);
	} else {
		result = gsp_fs_adopt(self->start, &info);
	}
done:
	gsp_unclaim((PyObject *)self, &self->busy);
	return result;
}

static PyType_Slot log_slots[] = {
	{Py_tp_doc, "Iterator returned by FS.log()."},
	{Py_tp_dealloc, log_dealloc},
	{Py_tp_traverse, log_traverse},
	{Py_tp_iter, PyObject_SelfIter},
	{Py_tp_iternext, log_next},
	{0, NULL}
};

static PyType_Spec log_spec = {
	.name = "gitstore._core.LogIterator",
	.basicsize = sizeof(LogIterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = log_slots,
};

/* ------------------------------------------------------------------ */
/* An iterator holding an exception for its first next()              */

typedef struct {
	PyObject_HEAD
	PyObject *type, *value, *traceback;
} FailedIterObject;

PyObject *gsp_failed_iter_new(gsp_state_t *st)
{
	FailedIterObject *self;
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	self = PyObject_GC_New(FailedIterObject, st->FailedIterType);
	if (!self) {
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
		return NULL;
	}
	self->type = type;
	self->value = value;
	self->traceback = tb;
	PyObject_GC_Track(self);
	return (PyObject *)self;
}

static void failed_dealloc(FailedIterObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->type);
	Py_CLEAR(self->value);
	Py_CLEAR(self->traceback);
	PyObject_GC_Del(self);
	Py_DECREF(type);
}

static int failed_traverse(FailedIterObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->type);
	Py_VISIT(self->value);
	Py_VISIT(self->traceback);
	return 0;
}

static PyObject *failed_next(FailedIterObject *self)
{
	PyObject *type, *value, *tb;

	/* Taken in the critical section: one next() raises it, once. */
	Py_BEGIN_CRITICAL_SECTION(self);
	type = self->type;
	value = self->value;
	tb = self->traceback;
	self->type = self->value = self->traceback = NULL;
	Py_END_CRITICAL_SECTION();
	if (type)
		PyErr_Restore(type, value, tb);
	return NULL;
}

static PyType_Slot failed_slots[] = {
	{Py_tp_doc, "Iterator that reports an argument error when iteration starts."},
	{Py_tp_dealloc, failed_dealloc},
	{Py_tp_traverse, failed_traverse},
	{Py_tp_iter, PyObject_SelfIter},
	{Py_tp_iternext, failed_next},
	{0, NULL}
};

static PyType_Spec failed_spec = {
	.name = "gitstore._core.FailedIterator",
	.basicsize = sizeof(FailedIterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = failed_slots,
};

int gsp_fsiter_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	st->WalkIterType = gsp_add_type(module, &walk_spec, NULL);
	st->LogIterType = gsp_add_type(module, &log_spec, NULL);
	st->FailedIterType = gsp_add_type(module, &failed_spec, NULL);
	return st->WalkIterType && st->LogIterType && st->FailedIterType ? 0 : -1;
}
