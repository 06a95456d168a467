/* refdict.c - RefDict: branches and tags as a mutable mapping of snapshots. */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	PyObject_HEAD
	GitStoreObject *store;
	int tags;
} RefDictObject;

static const char *prefix_of(RefDictObject *self)
{
	return self->tags ? GS_REFS_TAGS : GS_REFS_HEADS;
}

PyObject *gsp_refdict_new(GitStoreObject *store, int tags)
{
	RefDictObject *self = (RefDictObject *)PyObject_CallNoArgs(gsp_state_of(store)->RefDict);

	if (!self)
		return NULL;
	self->store = (GitStoreObject *)Py_NewRef(store);
	self->tags = tags;
	return (PyObject *)self;
}

static RefDictObject *checked(PyObject *self)
{
	RefDictObject *rd = (RefDictObject *)self;
	if (!rd->store) {
		PyErr_SetString(PyExc_TypeError, "RefDict objects come from GitStore.branches/.tags");
		return NULL;
	}
	return rd;
}

static void refdict_dealloc(RefDictObject *self)
{
	PyTypeObject *type = Py_TYPE(self);
	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->store);
	type->tp_free(self);
	Py_DECREF(type);
}

static int refdict_traverse(RefDictObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->store);
	return 0;
}

static int refdict_clear(RefDictObject *self)
{
	Py_CLEAR(self->store);
	return 0;
}

/* "<prefix><name>" for a str key; NULL with no exception for a key that
 * cannot name a ref (the mapping treats it as missing). */
static char *full_name(RefDictObject *self, PyObject *key)
{
	const char *name, *prefix = prefix_of(self);
	Py_ssize_t len;
	char *full;

	if (!PyUnicode_Check(key))
		return NULL;
	name = PyUnicode_AsUTF8AndSize(key, &len);
	if (!name) {
		PyErr_Clear();
		return NULL;
	}
	if ((size_t)len != strlen(name))
		return NULL;
	full = PyMem_Malloc(strlen(prefix) + (size_t)len + 1);
	if (!full) {
		PyErr_NoMemory();
		return NULL;
	}
	strcpy(full, prefix);
	strcat(full, name);
	return full;
}

static PyObject *refdict_getitem(PyObject *op, PyObject *key)
{
	RefDictObject *self = checked(op);
	git_oid id;
	char *full;
	int rc;

	if (!self)
		return NULL;
	full = full_name(self, key);
	if (!full) {
		if (!PyErr_Occurred())
			PyErr_SetObject(PyExc_KeyError, key);
		return NULL;
	}
	if (self->tags) {
		const char *name = full + strlen(GS_REFS_TAGS);
		GSP_CALL(rc, gs_tag_peel(&id, self->store->store, name));
	} else {
		GSP_CALL(rc, gs_ref_resolve(&id, self->store->store, full));
	}
	PyMem_Free(full);
	if (rc < 0) {
		if (gs_error_last()->category == GS_ERR_KEY)
			PyErr_SetObject(PyExc_KeyError, key);
		else
			gsp_raise(gsp_state_of(self));
		return NULL;
	}
	return gsp_fs_new(self->store, &id, key, !self->tags);
}

static int refdict_contains(PyObject *op, PyObject *key)
{
	RefDictObject *self = checked(op);
	char *full;
	int rc, exists = 0;

	if (!self)
		return -1;
	full = full_name(self, key);
	if (!full)
		return PyErr_Occurred() ? -1 : 0;
	GSP_CALL(rc, gs_ref_exists(&exists, self->store->store, full));
	PyMem_Free(full);
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	return exists;
}

PyObject *gsp_ref_names(gsp_state_t *st, gs_store *store, const char *prefix)
{
	gs_strlist names;
	PyObject *list;
	int rc;

	GSP_CALL(rc, gs_ref_list(&names, store, prefix));
	if (rc < 0)
		return gsp_raise(st);
	list = PyList_New((Py_ssize_t)names.count);
	for (size_t i = 0; list && i < names.count; i++) {
		PyObject *s = gsp_str(names.items[i]);
		if (!s) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, s);
	}
	gs_strlist_free(&names);
	return list;
}

static PyObject *names_list(RefDictObject *self)
{
	return gsp_ref_names(gsp_state_of(self), self->store->store, prefix_of(self));
}

static PyObject *refdict_iter(PyObject *op)
{
	RefDictObject *self = checked(op);
	PyObject *list, *iter;

	if (!self || !(list = names_list(self)))
		return NULL;
	iter = PyObject_GetIter(list);
	Py_DECREF(list);
	return iter;
}

static Py_ssize_t refdict_len(PyObject *op)
{
	RefDictObject *self = checked(op);
	PyObject *list;
	Py_ssize_t n;

	if (!self || !(list = names_list(self)))
		return -1;
	n = PyList_GET_SIZE(list);
	Py_DECREF(list);
	return n;
}

static int refdict_delete(RefDictObject *self, PyObject *key)
{
	char *full = full_name(self, key);
	int rc;

	if (!full) {
		if (!PyErr_Occurred())
			PyErr_SetObject(PyExc_KeyError, key);
		return -1;
	}
	GSP_CALL(rc, gs_ref_delete(self->store->store, full));
	PyMem_Free(full);
	if (rc < 0) {
		if (gs_error_last()->category == GS_ERR_KEY)
			PyErr_SetObject(PyExc_KeyError, key);
		else
			gsp_raise(gsp_state_of(self));
	}
	return rc;
}

static int refdict_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
	RefDictObject *self = checked(op);
	gsp_state_t *st = gsp_state_of(op);
	FSObject *fs;
	const char *name;
	char *full;
	Py_ssize_t len;
	int rc;

	if (!self)
		return -1;
	if (!value)
		return refdict_delete(self, key);
	if (!PyUnicode_Check(key)) {
		PyErr_Format(PyExc_TypeError, "ref names are str, not %s", Py_TYPE(key)->tp_name);
		return -1;
	}
	if (!(name = PyUnicode_AsUTF8AndSize(key, &len)))
		return -1;
	GSP_CALL(rc, (size_t)len == strlen(name) ? gs_refname_check(name)
		 : gs_error_set(GS_ERR_INVALID, "Invalid ref name: contains NUL"));
	if (rc < 0) {
		gsp_raise(st);
		return -1;
	}
	if (!PyObject_TypeCheck(value, st->FSType)) {
		PyErr_Format(PyExc_TypeError, "Expected FS, got %s", Py_TYPE(value)->tp_name);
		return -1;
	}
	fs = (FSObject *)value;
	if (fs->store != self->store && !gs_store_same(fs->store->store, self->store->store)) {
		PyErr_SetString(PyExc_ValueError, "FS belongs to a different repository");
		return -1;
	}
	if (!(full = full_name(self, key)))
		return -1;
	GSP_CALL(rc, gs_ref_assign(self->store->store, full, &fs->info.id, self->tags));
	PyMem_Free(full);
	if (rc < 0) {
		gsp_raise(st);
		return -1;
	}
	return 0;
}

static PyObject *refdict_set(PyObject *op, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"name", "fs", NULL};
	PyObject *name, *fs;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:set", kwlist, &name, &fs))
		return NULL;
	if (refdict_ass_subscript(op, name, fs) < 0)
		return NULL;
	return refdict_getitem(op, name);
}

static PyObject *refdict_repr(PyObject *op)
{
	RefDictObject *self = checked(op);
	Py_ssize_t n;

	if (!self)
		return NULL;
	n = refdict_len(op);
	if (n < 0)
		return NULL;
	return PyUnicode_FromFormat("RefDict('%s', len=%zd)", self->tags ? "tags" : "branches",
				    n);
}

static int no_tags(RefDictObject *self)
{
	if (self->tags) {
		PyErr_SetString(PyExc_ValueError, "Tags do not have a current branch");
		return -1;
	}
	return 0;
}

static PyObject *refdict_get_current_name(PyObject *op, void *closure)
{
	RefDictObject *self = checked(op);
	char *name = NULL;
	PyObject *result;
	int rc;

	if (!self || no_tags(self) < 0)
		return NULL;
	GSP_CALL(rc, gs_head_branch(&name, self->store->store));
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	if (!name)
		Py_RETURN_NONE;
	result = gsp_str(name);
	free(name);
	return result;
}

static PyObject *refdict_get_current(PyObject *op, void *closure)
{
	PyObject *name = refdict_get_current_name(op, closure), *fs;

	if (!name || name == Py_None)
		return name;
	fs = refdict_getitem(op, name);
	Py_DECREF(name);
	return fs;
}

static int refdict_set_current(PyObject *op, PyObject *value, void *closure)
{
	RefDictObject *self = checked(op);
	const char *name;
	int rc;

	if (!self || no_tags(self) < 0)
		return -1;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "the current branch cannot be deleted");
		return -1;
	}
	name = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
	if (!name || refdict_contains(op, value) != 1) {
		if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_UnicodeError))
			return -1;
		PyErr_Clear();
		PyErr_Format(PyExc_KeyError, "Branch not found: %R", value);
		return -1;
	}
	GSP_CALL(rc, gs_head_set(self->store->store, name));
	if (rc < 0) {
		gsp_raise(gsp_state_of(self));
		return -1;
	}
	return 0;
}

static PyObject *refdict_reflog(PyObject *op, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"name", NULL};
	RefDictObject *self = checked(op);
	PyObject *name, *list = NULL;
	gs_reflog_entry *entries = NULL;
	size_t count = 0;
	char *full = NULL;
	int rc, exists;

	if (!self || !PyArg_ParseTupleAndKeywords(args, kwargs, "O:reflog", kwlist, &name))
		return NULL;
	if (self->tags) {
		PyErr_SetString(PyExc_ValueError, "Tags do not have reflog");
		return NULL;
	}
	exists = refdict_contains(op, name);
	if (exists < 0)
		return NULL;
	if (!exists) {
		PyErr_SetObject(PyExc_KeyError, name);
		return NULL;
	}
	full = full_name(self, name);
	if (!full)
		return NULL;
	GSP_CALL(rc, gs_reflog_read(&entries, &count, self->store->store, full));
	PyMem_Free(full);
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	if (count == 0)
		return PyErr_Format(PyExc_FileNotFoundError, "No reflog found for branch %R", name);
	list = PyList_New((Py_ssize_t)count);
	for (size_t i = 0; list && i < count; i++) {
		gs_reflog_entry *e = &entries[i];
		PyObject *old_hex = gsp_hex(&e->old_id), *new_hex = gsp_hex(&e->new_id);
		PyObject *who = gsp_str(e->committer), *msg = gsp_str(e->message);
		PyObject *entry = NULL;

		if (old_hex && new_hex && who && msg)
			entry = PyObject_CallFunction(gsp_state_of(self)->ReflogEntry, "OOOdO", old_hex, new_hex,
						      who, (double)e->timestamp, msg);
		Py_XDECREF(old_hex);
		Py_XDECREF(new_hex);
		Py_XDECREF(who);
		Py_XDECREF(msg);
		if (!entry) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, entry);
	}
	gs_reflog_free(entries, count);
	return list;
}

static PyMethodDef refdict_methods[] = {
	{"set", (PyCFunction)(void (*)(void))refdict_set, METH_VARARGS | METH_KEYWORDS,
	 "set($self, /, name, fs)\n--\n\n"
	 "Point *name* at *fs*'s commit and return the resulting snapshot.\n\n"
	 "Same as ``self[name] = fs`` followed by ``self[name]``: a branch is\n"
	 "created or moved (a force move: newer commits stay only in the reflog);\n"
	 "a tag is created, never moved.\n\n"
	 "Args:\n    name: Branch or tag name (git's rules; no ``:``).\n"
	 "    fs: Any snapshot of this repository (read-only ones too).\n\n"
	 "Returns:\n    FS: A new snapshot of *name* (writable for branches).\n\n"
	 "Raises:\n    ValueError: Invalid name, or *fs* from another repository.\n"
	 "    TypeError: *fs* is not an FS.\n"
	 "    KeyError: The tag already exists.\n"},
	{"reflog", (PyCFunction)(void (*)(void))refdict_reflog, METH_VARARGS | METH_KEYWORDS,
	 "reflog($self, /, name)\n--\n\n"
	 "The reflog of branch *name*: every recorded move, oldest first.\n\n"
	 "Args:\n"
	 "    name: Branch name.\n\n"
	 "Returns:\n"
	 "    list[ReflogEntry]: One entry per move of the branch.\n\n"
	 "Raises:\n"
	 "    ValueError: Called on ``store.tags`` (tags have no reflog).\n"
	 "    KeyError: The branch does not exist.\n"
	 "    FileNotFoundError: The branch has no reflog entries (a branch made\n"
	 "        by ``GitStore.open`` has none until it first moves).\n"},
	{NULL}
};

static PyGetSetDef refdict_getset[] = {
	{"current_name", refdict_get_current_name, NULL,
	 "str | None: The branch HEAD names, or None when HEAD names no existing\n"
	 "branch (no branch yet, a deleted branch, a detached HEAD).\n\n"
	 "Raises:\n"
	 "    ValueError: On ``store.tags``.\n", NULL},
	{"current", refdict_get_current, refdict_set_current,
	 "FS | None: A writable snapshot of the branch HEAD names, or None.\n\n"
	 "Assign a branch name to point HEAD at that branch\n"
	 "(``store.branches.current = \"dev\"``).\n\n"
	 "Raises:\n"
	 "    ValueError: On ``store.tags``.\n"
	 "    KeyError: Assigning a name that is not an existing branch.\n", NULL},
	{NULL}
};

static PyType_Slot refdict_slots[] = {
	{Py_tp_doc,
	 "Branches or tags of a store, as a mutable mapping of name to snapshot.\n\n"
	 "``store.branches[name]`` is a writable ``FS`` on the branch tip;\n"
	 "``store.tags[name]`` a read-only one (annotated tags are peeled).\n"
	 "Iteration yields names sorted by their full ref name; every mapping\n"
	 "method (``get``, ``keys``, ``items``, ...) works.\n"},
	{Py_tp_dealloc, refdict_dealloc},
	{Py_tp_traverse, refdict_traverse},
	{Py_tp_clear, refdict_clear},
	{Py_tp_repr, refdict_repr},
	{Py_tp_iter, refdict_iter},
	{Py_mp_subscript, refdict_getitem},
	{Py_mp_ass_subscript, refdict_ass_subscript},
	{Py_mp_length, refdict_len},
	{Py_sq_contains, refdict_contains},
	{Py_tp_methods, refdict_methods},
	{Py_tp_getset, refdict_getset},
	{0, NULL}
};

static PyType_Spec refdict_spec = {
	.name = "gitstore._core.RefDictBase",
	.basicsize = sizeof(RefDictObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = refdict_slots,
};

/* RefDict = RefDictBase + collections.abc.MutableMapping, so the mixin
 * methods (get, keys, items, pop, update, ...) come from the ABC. */
int gsp_refdict_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	st->RefDictBaseType = gsp_add_type(module, &refdict_spec, NULL);
	if (!st->RefDictBaseType)
		return -1;
	st->RefDict = gsp_abc_subclass(module, "RefDict", st->RefDictBaseType, "MutableMapping");
	return st->RefDict ? 0 : -1;
}
