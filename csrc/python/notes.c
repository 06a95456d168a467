/* notes.c - git notes: NoteDict (store.notes), NoteNamespace (one
 * refs/notes/<ns>, a mutable mapping of commit hash to text), NotesBatch
 * (edits committed together) and the namespace's iterator. */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

/* NoteDict and NoteNamespace are set before they are returned and never
 * change.  A NotesBatch's writes, deletes and closed are changed in its
 * critical section; once closed, nothing changes them but the __exit__
 * that closed it.  The iterator is changed by a next() holding its claim
 * (gsp_claim). */
typedef struct {
	PyObject_HEAD
	GitStoreObject *store;
} NoteDictObject;

typedef struct {
	PyObject_HEAD
	GitStoreObject *store;
	PyObject *name;          /* str */
} NoteNamespaceObject;

typedef struct {
	PyObject_HEAD
	NoteNamespaceObject *ns;
	PyObject *writes;        /* key -> text, in the order given */
	PyObject *deletes;       /* key -> None */
	int closed;
} NotesBatchObject;

/* What an iterator yields: keys, note texts, or (key, text) pairs. */
typedef enum { YIELD_KEYS, YIELD_VALUES, YIELD_ITEMS } yield_kind;

typedef struct {
	PyObject_HEAD
	GitStoreObject *store;
	gs_notes_iter *iter;
	yield_kind kind;
	gs_buf text;             /* the last note read, reused */
	int busy;
} NoteIterObject;

#define KEY_SIZE (GS_NOTE_KEY_LEN + 1)

/* ------------------------------------------------------------------ */
/* Keys, values, namespaces                                            */

/* The key `key` names: a 40-hex str, or an FS (its commit).  1 with
 * out filled; 0 when it names none, with the documented TypeError or
 * ValueError set unless quiet; -1 on another error. */
static int key_arg(gsp_state_t *st, PyObject *key, char out[KEY_SIZE], int quiet)
{
	const char *s;
	Py_ssize_t len;

	if (PyObject_TypeCheck(key, st->FSType)) {
		git_oid_tostr(out, KEY_SIZE, &((FSObject *)key)->info.id);
		return 1;
	}
	if (!PyUnicode_Check(key)) {
		if (!quiet)
			PyErr_Format(PyExc_TypeError, "Expected str, got %s", Py_TYPE(key)->tp_name);
		return 0;
	}
	s = PyUnicode_AsUTF8AndSize(key, &len);
	if (!s)
		PyErr_Clear();   /* lone surrogates: not hex either */
	if (!s || !gs_note_key_valid(s, (size_t)len)) {
		if (!quiet)
			PyErr_Format(PyExc_ValueError,
				     "Invalid commit hash: %R (must be 40-char lowercase hex)", key);
		return 0;
	}
	memcpy(out, s, KEY_SIZE);
	return 1;
}

static const char *text_arg(PyObject *text, Py_ssize_t *len)
{
	if (!PyUnicode_Check(text)) {
		PyErr_Format(PyExc_TypeError, "Expected str value, got %s", Py_TYPE(text)->tp_name);
		return NULL;
	}
	return PyUnicode_AsUTF8AndSize(text, len);
}

/* The namespace's name as the core takes it; NULL without an exception
 * when it cannot name a ref at all (embedded NUL, lone surrogates):
 * reads find nothing there. */
static const char *ns_utf8(NoteNamespaceObject *self)
{
	Py_ssize_t len;
	const char *s = PyUnicode_AsUTF8AndSize(self->name, &len);

	if (!s) {
		PyErr_Clear();
		return NULL;
	}
	return (size_t)len == strlen(s) ? s : NULL;
}

static PyObject *decode_note(const gs_buf *text)
{
	return PyUnicode_DecodeUTF8(text->data ? text->data : "", (Py_ssize_t)text->size,
				    "strict");
}

/* Apply edits as one commit with `message`. */
static int apply(NoteNamespaceObject *self, const gs_note_edit *edits, size_t count,
		 const char *message)
{
	const char *ns = ns_utf8(self);
	git_oid commit;
	int rc;

	if (!ns) {
		PyErr_Format(PyExc_ValueError, "Invalid notes namespace: %R", self->name);
		return -1;
	}
	GSP_CALL(rc, gs_notes_apply(&commit, self->store->store, ns, edits, count, message));
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The iterator                                                        */

static PyObject *note_iter_new(NoteNamespaceObject *ns, yield_kind kind)
{
	gsp_state_t *st = gsp_state_of(ns);
	NoteIterObject *self;
	gs_notes_iter *iter = NULL;
	const char *name = ns_utf8(ns);
	int rc = 0;

	if (name)
		GSP_CALL(rc, gs_notes_iter_open(&iter, ns->store->store, name));
	if (rc < 0)
		return gsp_raise(st);
	self = PyObject_GC_New(NoteIterObject, st->NoteIterType);
	if (!self) {
		gs_notes_iter_free(iter);
		return NULL;
	}
	self->store = (GitStoreObject *)Py_NewRef(ns->store);
	self->iter = iter;
	self->kind = kind;
	memset(&self->text, 0, sizeof(self->text));
	self->busy = 0;
	PyObject_GC_Track(self);
	return (PyObject *)self;
}

static void note_iter_dealloc(NoteIterObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	gs_notes_iter_free(self->iter);
	gs_buf_free(&self->text);
	Py_CLEAR(self->store);
	PyObject_GC_Del(self);
	Py_DECREF(type);
}

static int note_iter_traverse(NoteIterObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->store);
	return 0;
}

static PyObject *note_iter_next(NoteIterObject *self)
{
	char key[KEY_SIZE];
	gs_buf *text = self->kind == YIELD_KEYS ? NULL : &self->text;
	PyObject *result = NULL, *hex;
	int rc, found = 0;

	/* The core iterator is not shared between threads. */
	if (gsp_claim((PyObject *)self, &self->busy) < 0) {
		PyErr_SetString(PyExc_ValueError, "note iterator already executing");
		return NULL;
	}
	if (!self->iter)
		goto done;
	GSP_CALL(rc, gs_notes_iter_next(&found, key, text, self->iter));
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
	} else if (!found) {
		gs_notes_iter_free(self->iter);
		self->iter = NULL;
		gs_buf_free(&self->text);
	} else if (self->kind == YIELD_KEYS) {
		result = PyUnicode_FromStringAndSize(key, GS_NOTE_KEY_LEN);
	} else if (self->kind == YIELD_VALUES) {
		result = decode_note(text);
	} else if ((hex = PyUnicode_FromStringAndSize(key, GS_NOTE_KEY_LEN))) {
		PyObject *value = decode_note(text);
		result = value ? PyTuple_Pack(2, hex, value) : NULL;
		Py_XDECREF(value);
		Py_DECREF(hex);
	}
done:
	gsp_unclaim((PyObject *)self, &self->busy);
	return result;
}

static PyType_Slot note_iter_slots[] = {
	{Py_tp_dealloc, note_iter_dealloc},
	{Py_tp_traverse, note_iter_traverse},
	{Py_tp_iter, PyObject_SelfIter},
	{Py_tp_iternext, note_iter_next},
	{0, NULL}
};

static PyType_Spec note_iter_spec = {
	.name = "gitstore._core.NoteIterator",
	.basicsize = sizeof(NoteIterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = note_iter_slots,
};

/* ------------------------------------------------------------------ */
/* NoteNamespace                                                       */

static PyObject *namespace_new(GitStoreObject *store, PyObject *name)
{
	NoteNamespaceObject *self =
		(NoteNamespaceObject *)PyObject_CallNoArgs(gsp_state_of(store)->NoteNamespace);

	if (!self)
		return NULL;
	self->store = (GitStoreObject *)Py_NewRef(store);
	self->name = Py_NewRef(name);
	return (PyObject *)self;
}

static NoteNamespaceObject *ns_checked(PyObject *op)
{
	NoteNamespaceObject *self = (NoteNamespaceObject *)op;

	if (!self->store) {
		PyErr_SetString(PyExc_TypeError,
				"NoteNamespace objects come from store.notes[namespace]");
		return NULL;
	}
	return self;
}

static void ns_dealloc(NoteNamespaceObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->store);
	Py_CLEAR(self->name);
	type->tp_free(self);
	Py_DECREF(type);
}

static int ns_traverse(NoteNamespaceObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->store);
	Py_VISIT(self->name);
	return 0;
}

static int ns_clear(NoteNamespaceObject *self)
{
	Py_CLEAR(self->store);
	Py_CLEAR(self->name);
	return 0;
}

/* The note on key (text NULL: existence only): 1 found, 0 not, -1 error. */
static int ns_lookup(NoteNamespaceObject *self, const char *key, gs_buf *text)
{
	const char *ns = ns_utf8(self);
	int rc, found = 0;

	if (!ns)
		return 0;
	GSP_CALL(rc, gs_note_get(&found, text, self->store->store, ns, key));
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	return found;
}

static PyObject *ns_getitem(PyObject *op, PyObject *key)
{
	NoteNamespaceObject *self = ns_checked(op);
	gs_buf text = {0};
	char hex[KEY_SIZE];
	PyObject *result = NULL;
	int found;

	if (!self || key_arg(gsp_state_of(self), key, hex, 0) != 1)
		return NULL;
	found = ns_lookup(self, hex, &text);
	if (found == 0)
		PyErr_SetObject(PyExc_KeyError, key);
	else if (found > 0)
		result = decode_note(&text);
	gs_buf_free(&text);
	return result;
}

static int ns_contains(PyObject *op, PyObject *key)
{
	NoteNamespaceObject *self = ns_checked(op);
	char hex[KEY_SIZE];
	int rc;

	if (!self)
		return -1;
	rc = key_arg(gsp_state_of(self), key, hex, 1);
	return rc == 1 ? ns_lookup(self, hex, NULL) : rc;
}

static int ns_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
	NoteNamespaceObject *self = ns_checked(op);
	gs_note_edit edit = {0};
	char hex[KEY_SIZE], message[80];
	Py_ssize_t len = 0;

	if (!self || key_arg(gsp_state_of(self), key, hex, 0) != 1)
		return -1;
	edit.key = hex;
	if (value) {
		if (!(edit.text = text_arg(value, &len)))
			return -1;
		edit.len = (size_t)len;
	}
	snprintf(message, sizeof(message), "Notes %s by 'git notes' on %.7s",
		 value ? "added" : "removed", hex);
	if (apply(self, &edit, 1, message) < 0) {
		/* A missing note is the caller's key, as a dict reports it. */
		if (!value && PyErr_ExceptionMatches(PyExc_KeyError)) {
			PyErr_Clear();
			PyErr_SetObject(PyExc_KeyError, key);
		}
		return -1;
	}
	return 0;
}

static PyObject *ns_iter(PyObject *op)
{
	NoteNamespaceObject *self = ns_checked(op);
	return self ? note_iter_new(self, YIELD_KEYS) : NULL;
}

static Py_ssize_t ns_len(PyObject *op)
{
	NoteNamespaceObject *self = ns_checked(op);
	const char *ns;
	size_t count = 0;
	int rc = 0;

	if (!self)
		return -1;
	if ((ns = ns_utf8(self)))
		GSP_CALL(rc, gs_notes_count(&count, self->store->store, ns));
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	return (Py_ssize_t)count;
}

static PyObject *ns_repr(PyObject *op)
{
	NoteNamespaceObject *self = ns_checked(op);
	Py_ssize_t n;

	if (!self || (n = ns_len(op)) < 0)
		return NULL;
	return PyUnicode_FromFormat("NoteNamespace(%R, len=%zd)", self->name, n);
}

/* The commit of the branch HEAD names, as a key. */
static int current_key(NoteNamespaceObject *self, char hex[KEY_SIZE])
{
	char *branch = NULL, *full = NULL;
	git_oid id;
	int rc;

	GSP_CALL(rc, gs_head_branch(&branch, self->store->store));
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	if (!branch) {
		PyErr_SetString(PyExc_RuntimeError, "HEAD is dangling \u2014 no current branch");
		return -1;
	}
	full = PyMem_Malloc(strlen(branch) + sizeof(GS_REFS_HEADS));
	if (!full) {
		free(branch);
		PyErr_NoMemory();
		return -1;
	}
	sprintf(full, GS_REFS_HEADS "%s", branch);
	free(branch);
	GSP_CALL(rc, gs_ref_resolve(&id, self->store->store, full));
	PyMem_Free(full);
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	git_oid_tostr(hex, KEY_SIZE, &id);
	return 0;
}

static PyObject *ns_get_for_current_branch(PyObject *op, void *closure)
{
	NoteNamespaceObject *self = ns_checked(op);
	char hex[KEY_SIZE];
	PyObject *key, *result;

	if (!self || current_key(self, hex) < 0 ||
	    !(key = PyUnicode_FromStringAndSize(hex, GS_NOTE_KEY_LEN)))
		return NULL;
	result = ns_getitem(op, key);
	Py_DECREF(key);
	return result;
}

static int ns_set_for_current_branch(PyObject *op, PyObject *value, void *closure)
{
	NoteNamespaceObject *self = ns_checked(op);
	char hex[KEY_SIZE];
	PyObject *key;
	int rc;

	if (!self)
		return -1;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "for_current_branch cannot be deleted; "
				"use del ns[fs] on the branch's snapshot");
		return -1;
	}
	if (current_key(self, hex) < 0 ||
	    !(key = PyUnicode_FromStringAndSize(hex, GS_NOTE_KEY_LEN)))
		return -1;
	rc = ns_ass_subscript(op, key, value);
	Py_DECREF(key);
	return rc;
}

/*
 * items() and values() are the ABCs' views (len, in, set operations,
 * repr), but their iteration reads each note's text with the core's
 * iterator, once, instead of looking every key up again.
 */
static PyObject *view_iter(PyObject *view, yield_kind kind)
{
	PyObject *mapping = PyObject_GetAttrString(view, "_mapping"), *result = NULL;

	if (!mapping)
		return NULL;
	if (PyObject_TypeCheck(mapping, gsp_state_of(mapping)->NoteNamespaceBaseType)) {
		NoteNamespaceObject *ns = ns_checked(mapping);
		result = ns ? note_iter_new(ns, kind) : NULL;
	} else {
		PyErr_SetString(PyExc_TypeError, "the view's mapping is not a NoteNamespace");
	}
	Py_DECREF(mapping);
	return result;
}

static PyObject *items_view_iter(PyObject *view, PyObject *unused)
{
	return view_iter(view, YIELD_ITEMS);
}

static PyObject *values_view_iter(PyObject *view, PyObject *unused)
{
	return view_iter(view, YIELD_VALUES);
}

static PyMethodDef items_view_iter_def = {
	"__iter__", items_view_iter, METH_NOARGS,
	"__iter__($self, /)\n--\n\nThe (hash, text) pairs, sorted by hash."};
static PyMethodDef values_view_iter_def = {
	"__iter__", values_view_iter, METH_NOARGS,
	"__iter__($self, /)\n--\n\nThe note texts, in the order of their hashes."};

static PyObject *ns_items(PyObject *op, PyObject *unused)
{
	NoteNamespaceObject *self = ns_checked(op);
	return self ? PyObject_CallOneArg(gsp_state_of(self)->NoteItemsView, op) : NULL;
}

static PyObject *ns_values(PyObject *op, PyObject *unused)
{
	NoteNamespaceObject *self = ns_checked(op);
	return self ? PyObject_CallOneArg(gsp_state_of(self)->NoteValuesView, op) : NULL;
}

/* A subclass of collections.abc.<abc> whose __iter__ is `iter`. */
static PyObject *view_class(const char *name, const char *abc, PyMethodDef *iter)
{
	PyObject *abcs, *base = NULL, *cls = NULL, *descr;

	if (!(abcs = PyImport_ImportModule("collections.abc")))
		return NULL;
	if ((base = PyObject_GetAttrString(abcs, abc)))
		cls = PyObject_CallFunction((PyObject *)Py_TYPE(base), "s(O){s:s,s:()}", name, base,
					    "__module__", "gitstore._core", "__slots__");
	if (cls && (!(descr = PyDescr_NewMethod((PyTypeObject *)cls, iter)) ||
		    PyObject_SetAttrString(cls, "__iter__", descr) < 0)) {
		Py_XDECREF(descr);
		Py_CLEAR(cls);
	} else if (cls) {
		Py_DECREF(descr);
		((PyTypeObject *)cls)->tp_flags |= Py_TPFLAGS_IMMUTABLETYPE;
	}
	Py_XDECREF(base);
	Py_DECREF(abcs);
	return cls;
}

static PyObject *batch_new_for(NoteNamespaceObject *ns);

static PyObject *ns_batch(PyObject *op, PyObject *unused)
{
	NoteNamespaceObject *self = ns_checked(op);
	return self ? batch_new_for(self) : NULL;
}

static PyMethodDef ns_methods[] = {
	{"items", ns_items, METH_NOARGS,
	 "items($self, /)\n--\n\n"
	 "A view of the (hash, text) pairs; iterating it reads the namespace once.\n\n"
	 "Returns:\n    ItemsView[str, str]: Pairs sorted by hash.\n"},
	{"values", ns_values, METH_NOARGS,
	 "values($self, /)\n--\n\n"
	 "A view of the note texts; iterating it reads the namespace once.\n\n"
	 "Returns:\n    ValuesView[str]: Texts in the order of their hashes.\n"},
	{"batch", ns_batch, METH_NOARGS,
	 "batch($self, /)\n--\n\n"
	 "A new ``NotesBatch`` on this namespace: edits committed together.\n\n"
	 "Use it as a context manager; the edits made in the block become one\n"
	 "commit when it ends normally:\n\n"
	 "    with store.notes.commits.batch() as b:\n"
	 "        b[h1] = \"reviewed\"\n"
	 "        del b[h2]\n\n"
	 "Returns:\n    NotesBatch: A batch not yet used.\n"},
	{NULL}
};

static PyGetSetDef ns_getset[] = {
	{"for_current_branch", ns_get_for_current_branch, ns_set_for_current_branch,
	 "str: The note on the tip commit of the branch HEAD names.\n\n"
	 "Resolved on every access, so it follows the branch as it moves.\n"
	 "Assigning writes that note (one commit, as ``ns[h] = text``).\n\n"
	 "Raises:\n"
	 "    RuntimeError: HEAD names no existing branch.\n"
	 "    KeyError: Reading, and the tip commit has no note.\n"
	 "    TypeError: Assigning something that is not a str.\n", NULL},
	{NULL}
};

static PyType_Slot ns_slots[] = {
	{Py_tp_doc,
	 "One notes namespace, ``refs/notes/<name>``: commit hash to note text.\n\n"
	 "Made by ``store.notes[name]`` or ``store.notes.commits``; it holds no\n"
	 "state, every operation reads the ref again.  Keys are 40-character\n"
	 "lowercase hex object ids (they need not name an existing object) or\n"
	 "``FS`` snapshots, which stand for their commit.  Values are ``str``,\n"
	 "stored as UTF-8 exactly as given (no newline is added).\n\n"
	 "Each assignment or deletion is one commit on the namespace's ref,\n"
	 "with the messages ``git notes`` uses (``Notes added by 'git notes'\n"
	 "on <hash[:7]>``, ``Notes removed by ...``) and a reflog entry, so\n"
	 "``git notes --ref <name>`` reads what is written here, and notes git\n"
	 "writes (in its fan-out directories too) read here.  Concurrent\n"
	 "writers, in threads or processes, all land.  Iteration yields the\n"
	 "hashes sorted; every mapping method works (``get``, ``pop``,\n"
	 "``update``, ...; the mixins make one commit per key they change).\n\n"
	 "Raises:\n"
	 "    TypeError: A key that is neither str nor FS, or a value that is\n"
	 "        not str.\n"
	 "    ValueError: A str key that is not 40 lowercase hex digits, or a\n"
	 "        write to a namespace whose name git refuses.\n"
	 "    KeyError: Reading or deleting a note that does not exist.\n"
	 "    UnicodeDecodeError: A note another tool wrote is not UTF-8.\n"},
	{Py_tp_dealloc, ns_dealloc},
	{Py_tp_traverse, ns_traverse},
	{Py_tp_clear, ns_clear},
	{Py_tp_repr, ns_repr},
	{Py_tp_iter, ns_iter},
	{Py_mp_subscript, ns_getitem},
	{Py_mp_ass_subscript, ns_ass_subscript},
	{Py_mp_length, ns_len},
	{Py_sq_contains, ns_contains},
	{Py_tp_methods, ns_methods},
	{Py_tp_getset, ns_getset},
	{0, NULL}
};

static PyType_Spec ns_spec = {
	.name = "gitstore._core.NoteNamespaceBase",
	.basicsize = sizeof(NoteNamespaceObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = ns_slots,
};

/* ------------------------------------------------------------------ */
/* NotesBatch                                                          */

static PyObject *batch_new_for(NoteNamespaceObject *ns)
{
	NotesBatchObject *self = PyObject_GC_New(NotesBatchObject, gsp_state_of(ns)->NotesBatchType);

	if (!self)
		return NULL;
	self->ns = (NoteNamespaceObject *)Py_NewRef(ns);
	self->writes = PyDict_New();
	self->deletes = PyDict_New();
	self->closed = 0;
	PyObject_GC_Track(self);
	if (!self->writes || !self->deletes) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static PyObject *batch_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"ns", NULL};
	PyObject *ns;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:NotesBatch", kwlist, &ns))
		return NULL;
	if (!PyObject_TypeCheck(ns, gsp_state_by_type(cls)->NoteNamespaceBaseType))
		return PyErr_Format(PyExc_TypeError, "Expected NoteNamespace, got %s",
				    Py_TYPE(ns)->tp_name);
	if (!ns_checked(ns))
		return NULL;
	return batch_new_for((NoteNamespaceObject *)ns);
}

static void batch_dealloc(NotesBatchObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->ns);
	Py_CLEAR(self->writes);
	Py_CLEAR(self->deletes);
	PyObject_GC_Del(self);
	Py_DECREF(type);
}

static int batch_traverse(NotesBatchObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->ns);
	Py_VISIT(self->writes);
	Py_VISIT(self->deletes);
	return 0;
}

static int batch_clear(NotesBatchObject *self)
{
	Py_CLEAR(self->ns);
	Py_CLEAR(self->writes);
	Py_CLEAR(self->deletes);
	return 0;
}

/* Drop key from a dict of pending edits, if it is there. */
static int forget(PyObject *pending, PyObject *key)
{
	int has = PyDict_Contains(pending, key);
	return has > 0 ? PyDict_DelItem(pending, key) : has;
}

static int batch_closed(NotesBatchObject *self)
{
	int closed;

	Py_BEGIN_CRITICAL_SECTION(self);
	closed = self->closed;
	Py_END_CRITICAL_SECTION();
	return closed;
}

static int batch_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
	NotesBatchObject *self = (NotesBatchObject *)op;
	char hex[KEY_SIZE];
	Py_ssize_t len;
	PyObject *k;
	int rc = -1;

	if (batch_closed(self)) {
		PyErr_SetString(PyExc_RuntimeError, "NotesBatch is closed");
		return -1;
	}
	if (key_arg(gsp_state_of(self), key, hex, 0) != 1 || (value && !text_arg(value, &len)))
		return -1;
	if (!(k = PyUnicode_FromStringAndSize(hex, GS_NOTE_KEY_LEN)))
		return -1;
	/* Checked again and staged in one critical section: an __exit__
	 * flushing the dicts never sees them change. */
	Py_BEGIN_CRITICAL_SECTION(self);
	if (self->closed) {
		PyErr_SetString(PyExc_RuntimeError, "NotesBatch is closed");
	} else {
		/* The last edit of a key wins. */
		rc = forget(value ? self->deletes : self->writes, k);
		if (rc == 0)
			rc = PyDict_SetItem(value ? self->writes : self->deletes, k,
					    value ? value : Py_None);
	}
	Py_END_CRITICAL_SECTION();
	Py_DECREF(k);
	return rc;
}

/* Commit what is pending (nothing: no commit). */
static int batch_flush(NotesBatchObject *self)
{
	Py_ssize_t nw = PyDict_GET_SIZE(self->writes), nd = PyDict_GET_SIZE(self->deletes);
	Py_ssize_t pos = 0, i = 0, len;
	gs_note_edit *edits;
	PyObject *key, *value;
	char message[64];
	int rc = -1;

	if (nw + nd == 0)
		return 0;
	if (!(edits = PyMem_Calloc((size_t)(nw + nd), sizeof(*edits)))) {
		PyErr_NoMemory();
		return -1;
	}
	/* The strings stay alive in the dicts, which nothing changes once
	 * the batch is closed. */
	while (PyDict_Next(self->deletes, &pos, &key, &value))
		edits[i++].key = PyUnicode_AsUTF8(key);
	pos = 0;
	while (PyDict_Next(self->writes, &pos, &key, &value)) {
		edits[i].key = PyUnicode_AsUTF8(key);
		if (!(edits[i].text = PyUnicode_AsUTF8AndSize(value, &len)))
			goto done;
		edits[i++].len = (size_t)len;
	}
	snprintf(message, sizeof(message), "Notes batch update (%zd changes)", nw + nd);
	rc = apply(self->ns, edits, (size_t)(nw + nd), message);
done:
	PyMem_Free(edits);
	return rc;
}

static PyObject *batch_enter(PyObject *op, PyObject *unused)
{
	NotesBatchObject *self = (NotesBatchObject *)op;

	if (batch_closed(self)) {
		PyErr_SetString(PyExc_RuntimeError, "NotesBatch is closed");
		return NULL;
	}
	return Py_NewRef(op);
}

static PyObject *batch_exit(PyObject *op, PyObject *args)
{
	NotesBatchObject *self = (NotesBatchObject *)op;
	PyObject *exc_type, *exc, *tb;
	int rc = 0, was_closed;

	if (!PyArg_ParseTuple(args, "OOO:__exit__", &exc_type, &exc, &tb))
		return NULL;
	Py_BEGIN_CRITICAL_SECTION(self);
	was_closed = self->closed;
	self->closed = 1;
	Py_END_CRITICAL_SECTION();
	if (was_closed)
		Py_RETURN_FALSE;
	if (exc_type == Py_None)
		rc = batch_flush(self);
	PyDict_Clear(self->writes);
	PyDict_Clear(self->deletes);
	if (rc < 0)
		return NULL;
	Py_RETURN_FALSE;
}

static PyObject *batch_repr(PyObject *op)
{
	NotesBatchObject *self = (NotesBatchObject *)op;
	Py_ssize_t pending = -1;

	Py_BEGIN_CRITICAL_SECTION(self);
	if (!self->closed)
		pending = PyDict_GET_SIZE(self->writes) + PyDict_GET_SIZE(self->deletes);
	Py_END_CRITICAL_SECTION();
	if (pending < 0)
		return PyUnicode_FromFormat("NotesBatch(%R, closed)", self->ns->name);
	return PyUnicode_FromFormat("NotesBatch(%R, pending=%zd)", self->ns->name, pending);
}

static PyMethodDef batch_methods[] = {
	{"__enter__", batch_enter, METH_NOARGS,
	 "__enter__($self, /)\n--\n\nReturn the batch.\n\n"
	 "Raises:\n    RuntimeError: The batch was used already.\n"},
	{"__exit__", batch_exit, METH_VARARGS,
	 "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
	 "Commit the pending edits, unless the block raised.\n\n"
	 "Returns:\n    bool: False (exceptions propagate).\n\n"
	 "Raises:\n"
	 "    KeyError: A deleted note does not exist (nothing is committed).\n"},
	{NULL}
};

static PyType_Slot batch_slots[] = {
	{Py_tp_doc,
	 "NotesBatch(ns)\n--\n\n"
	 "Note edits on one namespace, committed together.\n\n"
	 "Usually made by ``NoteNamespace.batch`` and used as a context\n"
	 "manager.  ``b[h] = text`` and ``del b[h]`` check the key (and the\n"
	 "text) at once and record the edit, the last edit of a key winning;\n"
	 "there is no reading.  When the block ends normally the edits become\n"
	 "one commit, ``Notes batch update (<n> changes)``, made against the\n"
	 "namespace as it is then; nothing pending makes no commit.  When the\n"
	 "block raises, nothing is written.  A batch serves once: after the\n"
	 "block it refuses further use.\n\n"
	 "Args:\n    ns: The namespace (a ``NoteNamespace``).\n\n"
	 "Raises:\n"
	 "    TypeError, ValueError: Invalid keys or values, as for\n"
	 "        ``NoteNamespace``.\n"
	 "    KeyError: At the end of the block, a deleted note that does not\n"
	 "        exist; nothing is committed.\n"
	 "    RuntimeError: The batch is used after its block ended.\n"},
	{Py_tp_new, batch_new},
	{Py_tp_dealloc, batch_dealloc},
	{Py_tp_traverse, batch_traverse},
	{Py_tp_clear, batch_clear},
	{Py_tp_repr, batch_repr},
	{Py_mp_ass_subscript, batch_ass_subscript},
	{Py_tp_methods, batch_methods},
	{0, NULL}
};

static PyType_Spec batch_spec = {
	.name = "gitstore.NotesBatch",
	.basicsize = sizeof(NotesBatchObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
	.slots = batch_slots,
};

/* ------------------------------------------------------------------ */
/* NoteDict                                                            */

PyObject *gsp_notedict_new(GitStoreObject *store)
{
	NoteDictObject *self = (NoteDictObject *)PyObject_CallNoArgs(gsp_state_of(store)->NoteDict);

	if (!self)
		return NULL;
	self->store = (GitStoreObject *)Py_NewRef(store);
	return (PyObject *)self;
}

static NoteDictObject *dict_checked(PyObject *op)
{
	NoteDictObject *self = (NoteDictObject *)op;

	if (!self->store) {
		PyErr_SetString(PyExc_TypeError, "NoteDict objects come from GitStore.notes");
		return NULL;
	}
	return self;
}

static void dict_dealloc(NoteDictObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->store);
	type->tp_free(self);
	Py_DECREF(type);
}

static int dict_traverse(NoteDictObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->store);
	return 0;
}

static int dict_clear(NoteDictObject *self)
{
	Py_CLEAR(self->store);
	return 0;
}

static PyObject *dict_getitem(PyObject *op, PyObject *name)
{
	NoteDictObject *self = dict_checked(op);

	if (!self)
		return NULL;
	if (!PyUnicode_Check(name))
		return PyErr_Format(PyExc_TypeError, "Expected str, got %s", Py_TYPE(name)->tp_name);
	return namespace_new(self->store, name);
}

/* The namespaces that exist, sorted. */
static PyObject *dict_names(NoteDictObject *self)
{
	return gsp_ref_names(gsp_state_of(self), self->store->store, GS_REFS_NOTES);
}

static PyObject *dict_iter(PyObject *op)
{
	NoteDictObject *self = dict_checked(op);
	PyObject *list, *iter;

	if (!self || !(list = dict_names(self)))
		return NULL;
	iter = PyObject_GetIter(list);
	Py_DECREF(list);
	return iter;
}

static Py_ssize_t dict_len(PyObject *op)
{
	NoteDictObject *self = dict_checked(op);
	PyObject *list;
	Py_ssize_t n;

	if (!self || !(list = dict_names(self)))
		return -1;
	n = PyList_GET_SIZE(list);
	Py_DECREF(list);
	return n;
}

static int dict_contains(PyObject *op, PyObject *name)
{
	NoteDictObject *self = dict_checked(op);
	const char *s;
	char *full;
	Py_ssize_t len;
	int rc, exists = 0;

	if (!self)
		return -1;
	if (!PyUnicode_Check(name))
		return 0;
	if (!(s = PyUnicode_AsUTF8AndSize(name, &len))) {
		PyErr_Clear();
		return 0;
	}
	if ((size_t)len != strlen(s))
		return 0;
	if (!(full = PyMem_Malloc((size_t)len + sizeof(GS_REFS_NOTES))))
		return (PyErr_NoMemory(), -1);
	sprintf(full, GS_REFS_NOTES "%s", s);
	GSP_CALL(rc, gs_ref_exists(&exists, self->store->store, full));
	PyMem_Free(full);
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	return exists;
}

static PyObject *dict_repr(PyObject *op)
{
	NoteDictObject *self = dict_checked(op);
	return self ? PyUnicode_FromFormat("NoteDict(%R)", (PyObject *)self->store) : NULL;
}

static PyObject *dict_get_commits(PyObject *op, void *closure)
{
	NoteDictObject *self = dict_checked(op);
	PyObject *name, *ns;

	if (!self || !(name = PyUnicode_FromString("commits")))
		return NULL;
	ns = namespace_new(self->store, name);
	Py_DECREF(name);
	return ns;
}

static PyGetSetDef dict_getset[] = {
	{"commits", dict_get_commits, NULL,
	 "NoteNamespace: The default namespace, ``refs/notes/commits`` (the one\n"
	 "``git notes`` uses without ``--ref``).", NULL},
	{NULL}
};

static PyType_Slot dict_slots[] = {
	{Py_tp_doc,
	 "The git notes of a store, by namespace (``store.notes``).\n\n"
	 "``store.notes[name]`` is the namespace ``refs/notes/<name>`` (a new\n"
	 "``NoteNamespace`` on each access, empty until something is written;\n"
	 "``\"sub/name\"`` works); ``store.notes.commits`` is the default one.\n"
	 "As a read-only mapping it holds the namespaces that exist: iteration\n"
	 "yields their names sorted, ``in`` and ``len`` count them.\n\n"
	 "Raises:\n    TypeError: A namespace name that is not a str.\n"},
	{Py_tp_dealloc, dict_dealloc},
	{Py_tp_traverse, dict_traverse},
	{Py_tp_clear, dict_clear},
	{Py_tp_repr, dict_repr},
	{Py_tp_iter, dict_iter},
	{Py_mp_subscript, dict_getitem},
	{Py_mp_length, dict_len},
	{Py_sq_contains, dict_contains},
	{Py_tp_getset, dict_getset},
	{0, NULL}
};

static PyType_Spec dict_spec = {
	.name = "gitstore._core.NoteDictBase",
	.basicsize = sizeof(NoteDictObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = dict_slots,
};

int gsp_notes_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	if (!(st->NoteIterType = gsp_add_type(module, &note_iter_spec, NULL)) ||
	    !(st->NotesBatchType = gsp_add_type(module, &batch_spec, "NotesBatch")) ||
	    !(st->NoteDictBaseType = gsp_add_type(module, &dict_spec, NULL)) ||
	    !(st->NoteNamespaceBaseType = gsp_add_type(module, &ns_spec, NULL)))
		return -1;
	if (!(st->NoteDict = gsp_abc_subclass(module, "NoteDict", st->NoteDictBaseType, "Mapping")) ||
	    !(st->NoteNamespace = gsp_abc_subclass(module, "NoteNamespace", st->NoteNamespaceBaseType,
					       "MutableMapping")) ||
	    !(st->NoteItemsView = view_class("NoteItemsView", "ItemsView", &items_view_iter_def)) ||
	    !(st->NoteValuesView = view_class("NoteValuesView", "ValuesView", &values_view_iter_def)))
		return -1;
	return 0;
}
