/* store.c - the GitStore type. */
#include "binding.h"

#include <string.h>
#include <sys/stat.h>

static void store_dealloc(GitStoreObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->display_path);
	Py_CLEAR(self->signature);
	Py_CLEAR(self->branches);
	Py_CLEAR(self->tags);
	Py_CLEAR(self->notes);
	/* Freeing may finish a merge in progress: other threads go on. */
	Py_BEGIN_ALLOW_THREADS
	gs_store_free(self->store);
	Py_END_ALLOW_THREADS
	type->tp_free(self);
	Py_DECREF(type);
}

static int store_traverse(GitStoreObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->signature);
	Py_VISIT(self->branches);
	Py_VISIT(self->tags);
	Py_VISIT(self->notes);
	return 0;
}

static int store_clear(GitStoreObject *self)
{
	Py_CLEAR(self->branches);
	Py_CLEAR(self->tags);
	Py_CLEAR(self->notes);
	return 0;
}

/* str(pathlib.Path(path)): how the store shows its path. */
static PyObject *display_path(PyObject *path)
{
	PyObject *pathlib = PyImport_ImportModule("pathlib"), *p = NULL, *s = NULL;

	if (!pathlib)
		return NULL;
	p = PyObject_CallMethod(pathlib, "Path", "O", path);
	if (p)
		s = PyObject_Str(p);
	Py_XDECREF(p);
	Py_DECREF(pathlib);
	return s;
}

static PyObject *store_open(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "create", "branch", "author", "email", NULL};
	PyObject *path, *branch_obj = NULL, *shown = NULL, *encoded = NULL;
	const char *author = "gitstore", *email = "gitstore@localhost", *branch = "main";
	int create = 1, rc;
	gsp_state_t *st = gsp_state_by_type(cls);
	GitStoreObject *self = NULL;
	gs_store *store = NULL;
	gs_open_opts opts = {0};

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$pOss:open", kwlist, &path,
					 &create, &branch_obj, &author, &email))
		return NULL;
	if (branch_obj == Py_None) {
		branch = NULL;
	} else if (branch_obj) {
		if (!PyUnicode_Check(branch_obj))
			return PyErr_Format(PyExc_TypeError, "branch must be str or None, not %s",
					    Py_TYPE(branch_obj)->tp_name);
		Py_ssize_t len;
		branch = PyUnicode_AsUTF8AndSize(branch_obj, &len);
		if (!branch)
			return NULL;
		if ((size_t)len != strlen(branch))
			return PyErr_Format(PyExc_ValueError, "Invalid ref name: %R", branch_obj);
	}
	if (!PyUnicode_FSConverter(path, &encoded))
		return NULL;
	shown = display_path(path);
	if (!shown)
		goto done;
	opts.create = create;
	opts.branch = branch;
	opts.name = author;
	opts.email = email;
	{
		/* The message of a missing repository shows the normalised path. */
		PyObject *shown_bytes = PyUnicode_EncodeFSDefault(shown);
		if (!shown_bytes)
			goto done;
		GSP_CALL(rc, gs_store_open(&store, PyBytes_AS_STRING(encoded), &opts));
		if (rc < 0 && gs_error_last()->category == GS_ERR_NOTFOUND && !create)
			gs_error_set(GS_ERR_NOTFOUND, "Repository not found: %s",
				     PyBytes_AS_STRING(shown_bytes));
		Py_DECREF(shown_bytes);
	}
	if (rc < 0) {
		gsp_raise(st);
		goto done;
	}
	self = (GitStoreObject *)cls->tp_alloc(cls, 0);
	if (!self)
		goto done;
	self->store = store;
	store = NULL;
	self->display_path = shown;
	shown = NULL;
	self->signature = PyObject_CallFunction(st->Signature, "ss", author, email);
	if (!self->signature)
		Py_CLEAR(self);
done:
	gs_store_free(store);
	Py_XDECREF(shown);
	Py_XDECREF(encoded);
	return (PyObject *)self;
}

static PyObject *store_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
	PyErr_SetString(PyExc_TypeError,
			"GitStore objects are made with GitStore.open(path, ...)");
	return NULL;
}

static PyObject *store_repr(GitStoreObject *self)
{
	PyObject *shown, *result;
	struct stat st;
	PyObject *encoded = NULL;
	int is_dir = 0;

	if (PyUnicode_FSConverter(self->display_path, &encoded)) {
		is_dir = stat(PyBytes_AS_STRING(encoded), &st) == 0 && S_ISDIR(st.st_mode);
		Py_DECREF(encoded);
	} else {
		PyErr_Clear();
	}
	shown = is_dir ? PyUnicode_FromFormat("%U/", self->display_path)
		       : Py_NewRef(self->display_path);
	if (!shown)
		return NULL;
	result = PyUnicode_FromFormat("GitStore(%R)", shown);
	Py_DECREF(shown);
	return result;
}

/* branches, tags and notes are made on first use and kept in their slot,
 * which is read and filled in the store's critical section.  Two threads
 * may both make one; only the first is kept, so every caller gets the
 * same object. */
static PyObject *cached(GitStoreObject *self, PyObject **slot)
{
	PyObject *kept;

	Py_BEGIN_CRITICAL_SECTION(self);
	kept = Py_XNewRef(*slot);
	Py_END_CRITICAL_SECTION();
	return kept;
}

/* Keep `made` (a new reference, taken over; NULL on failure) unless the
 * slot was filled meanwhile: what the slot holds. */
static PyObject *cache(GitStoreObject *self, PyObject **slot, PyObject *made)
{
	PyObject *kept;

	if (!made)
		return NULL;
	Py_BEGIN_CRITICAL_SECTION(self);
	if (!*slot)
		*slot = Py_NewRef(made);
	kept = Py_NewRef(*slot);
	Py_END_CRITICAL_SECTION();
	Py_DECREF(made);
	return kept;
}

static PyObject *store_get_branches(GitStoreObject *self, void *closure)
{
	PyObject *kept = cached(self, &self->branches);

	return kept ? kept : cache(self, &self->branches, gsp_refdict_new(self, 0));
}

static PyObject *store_get_tags(GitStoreObject *self, void *closure)
{
	PyObject *kept = cached(self, &self->tags);

	return kept ? kept : cache(self, &self->tags, gsp_refdict_new(self, 1));
}

static PyObject *store_get_notes(GitStoreObject *self, void *closure)
{
	PyObject *kept = cached(self, &self->notes);

	return kept ? kept : cache(self, &self->notes, gsp_notedict_new(self));
}

static PyObject *store_pack(GitStoreObject *self, PyObject *unused)
{
	int rc;

	GSP_CALL(rc, gs_store_pack(self->store));
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	Py_RETURN_NONE;
}

static PyMethodDef store_methods[] = {
	{"pack", (PyCFunction)store_pack, METH_NOARGS,
	 "pack($self, /)\n--\n\n"
	 "Merge the repository's packs of objects into one, compact pack.\n\n"
	 "Every commit stores its new objects as one small pack, and gitstore\n"
	 "merges the small ones by itself as they pile up, so calling this is\n"
	 "never required; packs past half a MiB (or a sixteenth of all of them)\n"
	 "are left whole by commits, so that no commit pays for rewriting them.\n"
	 "The pack it writes is smaller: every object is compressed, and each\n"
	 "older version of a file or directory is stored as a delta against the\n"
	 "newer version at the same path, much as ``git gc`` would store it;\n"
	 "use it before copying or archiving a repository.  It holds the\n"
	 "repository lock while it works; readers are not disturbed.  Packs\n"
	 "marked with a ``.keep`` file are left alone.\n\n"
	 "It also writes git's commit-graph file (``objects/info/commit-graph``)\n"
	 "for every commit the refs reach: git, ``FS.log()`` and ``FS.back()``\n"
	 "then read a commit's tree and parents without inflating it.\n\n"
	 "Raises:\n    GitError: The objects could not be read or written.\n"},
	{"open", (PyCFunction)(void (*)(void))store_open,
	 METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	 "open($cls, /, path, *, create=True, branch='main', author='gitstore', "
	 "email='gitstore@localhost')\n--\n\n"
	 "Open the repository at *path*, creating a bare one when it is missing.\n\n"
	 "When something exists at *path* it is opened as it is: *create* and\n"
	 "*branch* are ignored and nothing is written.  Otherwise, with\n"
	 "*create*, a bare repository is made (only the last path component is\n"
	 "created) holding one commit, ``Initialize <branch>``, on *branch*,\n"
	 "which HEAD names.  ``branch=None`` makes a repository with no commit\n"
	 "and no branch.\n\n"
	 "Args:\n"
	 "    path: Repository directory (str or os.PathLike), taken as given.\n"
	 "    create: Create the repository when *path* does not exist.\n"
	 "    branch: Name of the initial branch of a new repository, or None.\n"
	 "    author: Name recorded as author and committer of every commit this\n"
	 "        store object writes (it is not saved in the repository).\n"
	 "    email: Email recorded with *author*.\n\n"
	 "Returns:\n"
	 "    GitStore: The opened store.\n\n"
	 "Raises:\n"
	 "    FileNotFoundError: *path* is missing and *create* is false, or its\n"
	 "        parent directory is missing.\n"
	 "    ValueError: *branch* is not a valid branch name (nothing is created).\n"
	 "    GitError: *path* exists but is not a git repository.\n"},
	{NULL}
};

static PyGetSetDef store_getset[] = {
	{"branches", (getter)store_get_branches, NULL,
	 "RefDict: The branches (``refs/heads/``), as a mapping of name to writable FS.", NULL},
	{"tags", (getter)store_get_tags, NULL,
	 "RefDict: The tags (``refs/tags/``), as a mapping of name to read-only FS.", NULL},
	{"notes", (getter)store_get_notes, NULL,
	 "NoteDict: The git notes (``refs/notes/``), by namespace.", NULL},
	{NULL}
};

static PyType_Slot store_slots[] = {
	{Py_tp_doc,
	 "A versioned filesystem kept in a bare git repository.\n\n"
	 "Make one with ``GitStore.open``.  Each branch is a line of\n"
	 "snapshots (``FS``): every write is a commit, and every older\n"
	 "snapshot stays readable.  The repository stays an ordinary git\n"
	 "repository that ``git`` can inspect, push and clone.\n\n"
	 "Attributes:\n"
	 "    branches (RefDict): Branch name to writable snapshot.\n"
	 "    tags (RefDict): Tag name to read-only snapshot.\n"
	 "    notes (NoteDict): Notes namespace name to its notes.\n"},
	{Py_tp_new, store_new},
	{Py_tp_dealloc, store_dealloc},
	{Py_tp_traverse, store_traverse},
	{Py_tp_clear, store_clear},
	{Py_tp_repr, store_repr},
	{Py_tp_methods, NULL},   /* all_methods, filled in by gsp_store_register */
	{Py_tp_getset, store_getset},
	{0, NULL}
};

static PyType_Spec store_spec = {
	.name = "gitstore.GitStore",
	.basicsize = sizeof(GitStoreObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
	.slots = store_slots,
};

/* store_methods and mirror.c's, in one table (the type is immutable, so
 * methods cannot be added after it is made). */
static PyMethodDef all_methods[8];

int gsp_store_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);
	PyMethodDef *tables[] = {store_methods, gsp_store_mirror_methods};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++)
		for (PyMethodDef *def = tables[i]; def->ml_name; def++) {
			if (n + 1 >= sizeof(all_methods) / sizeof(*all_methods)) {
				PyErr_SetString(PyExc_SystemError, "GitStore: too many methods");
				return -1;
			}
			all_methods[n++] = *def;
		}
	for (PyType_Slot *slot = store_slots; slot->slot; slot++)
		if (slot->slot == Py_tp_methods)
			slot->pfunc = all_methods;

	st->GitStoreType = gsp_add_type(module, &store_spec, "GitStore");
	return st->GitStoreType ? 0 : -1;
}
