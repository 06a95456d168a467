/* exclude.c - ExcludeFilter and disk_glob(). */
#include "binding.h"

#include <string.h>

/* Everything but `walk` is set before the object is returned and never
 * changes; `walk` is read and changed in the object's critical section. */
typedef struct {
	PyObject_HEAD
	gs_exclude *filter;
	gs_exclude_walk walk;     /* what enter_directory() has loaded */
	PyObject *patterns;       /* tuple of str, or NULL when none were given */
	PyObject *exclude_from;   /* as given, or NULL */
	int gitignore;
} ExcludeFilterObject;

/*
 * A str (or os.PathLike[str]) as the bytes os.fsencode() would give;
 * `what` names the argument in errors.  New reference.
 */
static PyObject *encode_str(PyObject *arg, const char *what)
{
	PyObject *path = PyOS_FSPath(arg), *encoded;

	if (!path)
		return NULL;
	if (!PyUnicode_Check(path)) {
		PyErr_Format(PyExc_TypeError, "%s must be str or os.PathLike[str], not %s", what,
			     Py_TYPE(path)->tp_name);
		Py_DECREF(path);
		return NULL;
	}
	encoded = PyUnicode_EncodeFSDefault(path);
	Py_DECREF(path);
	if (encoded && strlen(PyBytes_AS_STRING(encoded)) != (size_t)PyBytes_GET_SIZE(encoded)) {
		PyErr_Format(PyExc_ValueError, "embedded null character in %s", what);
		Py_CLEAR(encoded);
	}
	return encoded;
}

/* ------------------------------------------------------------------ */
/* ExcludeFilter                                                       */

static PyObject *exclude_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"patterns", "exclude_from", "gitignore", NULL};
	PyObject *patterns = Py_None, *exclude_from = Py_None, *tuple = NULL;
	PyObject *encoded = NULL, *from_bytes = NULL;
	ExcludeFilterObject *self = NULL;
	const char **lines = NULL;
	Py_ssize_t count = 0, i;
	gs_exclude *filter = NULL;
	int gitignore = 0, status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOp:ExcludeFilter", kwlist, &patterns,
					 &exclude_from, &gitignore))
		return NULL;
	if (patterns != Py_None) {
		if (PyUnicode_Check(patterns) || PyBytes_Check(patterns)) {
			PyErr_Format(PyExc_TypeError,
				     "patterns must be a sequence of str, not a single %s",
				     Py_TYPE(patterns)->tp_name);
			return NULL;
		}
		if (!(tuple = PySequence_Tuple(patterns)))
			return NULL;
		count = PyTuple_GET_SIZE(tuple);
		if (!(encoded = PyTuple_New(count)) ||
		    !(lines = PyMem_Calloc(count ? (size_t)count : 1, sizeof(*lines))))
			goto done;
		for (i = 0; i < count; i++) {
			PyObject *item = PyTuple_GET_ITEM(tuple, i), *bytes;

			if (!PyUnicode_Check(item)) {
				PyErr_Format(PyExc_TypeError, "patterns must be str, not %s",
					     Py_TYPE(item)->tp_name);
				goto done;
			}
			if (!(bytes = encode_str(item, "pattern")))
				goto done;
			PyTuple_SET_ITEM(encoded, i, bytes);
			lines[i] = PyBytes_AS_STRING(bytes);
		}
	}
	if (exclude_from != Py_None && !PyUnicode_FSConverter(exclude_from, &from_bytes))
		goto done;

	GSP_CALL(status, gs_exclude_new(&filter, lines, (size_t)count,
					from_bytes ? PyBytes_AS_STRING(from_bytes) : NULL,
					gitignore));
	if (status < 0) {
		gsp_raise(gsp_state_by_type(cls));
		goto done;
	}
	if (!(self = (ExcludeFilterObject *)cls->tp_alloc(cls, 0)))
		goto done;
	self->filter = filter;
	filter = NULL;
	gs_exclude_walk_begin(&self->walk, self->filter);
	self->patterns = tuple ? Py_NewRef(tuple) : NULL;
	self->exclude_from = exclude_from != Py_None ? Py_NewRef(exclude_from) : NULL;
	self->gitignore = gitignore;
done:
	gs_exclude_free(filter);
	PyMem_Free(lines);
	Py_XDECREF(encoded);
	Py_XDECREF(from_bytes);
	Py_XDECREF(tuple);
	return (PyObject *)self;
}

static int exclude_traverse(ExcludeFilterObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->patterns);
	Py_VISIT(self->exclude_from);
	return 0;
}

static int exclude_clear(ExcludeFilterObject *self)
{
	Py_CLEAR(self->patterns);
	Py_CLEAR(self->exclude_from);
	return 0;
}

static void exclude_dealloc(ExcludeFilterObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	gs_exclude_walk_end(&self->walk);
	gs_exclude_free(self->filter);
	self->filter = NULL;
	exclude_clear(self);
	type->tp_free(self);
	Py_DECREF(type);
}

static PyObject *exclude_repr(ExcludeFilterObject *self)
{
	PyObject *parts = PyList_New(0), *sep = NULL, *joined = NULL, *result = NULL, *part;

	if (!parts)
		return NULL;
	if (self->patterns) {
		PyObject *list = PySequence_List(self->patterns);

		part = list ? PyUnicode_FromFormat("patterns=%R", list) : NULL;
		Py_XDECREF(list);
		if (!part || PyList_Append(parts, part) < 0)
			goto fail;
		Py_DECREF(part);
	}
	if (self->exclude_from) {
		if (!(part = PyUnicode_FromFormat("exclude_from=%R", self->exclude_from)) ||
		    PyList_Append(parts, part) < 0)
			goto fail;
		Py_DECREF(part);
	}
	if (self->gitignore) {
		if (!(part = PyUnicode_FromString("gitignore=True")) || PyList_Append(parts, part) < 0)
			goto fail;
		Py_DECREF(part);
	}
	part = NULL;
	if ((sep = PyUnicode_FromString(", ")) && (joined = PyUnicode_Join(sep, parts)))
		result = PyUnicode_FromFormat("%s(%U)", _PyType_Name(Py_TYPE(self)), joined);
fail:
	Py_XDECREF(part);
	Py_XDECREF(sep);
	Py_XDECREF(joined);
	Py_DECREF(parts);
	return result;
}

static PyObject *exclude_get_active(ExcludeFilterObject *self, void *c)
{
	return PyBool_FromLong(gs_exclude_active(self->filter));
}

/* The arguments (rel_path, *, is_dir=False) shared by two methods. */
static PyObject *parse_rel(PyObject *args, PyObject *kwargs, const char *fmt, int *is_dir)
{
	static char *kwlist[] = {"rel_path", "is_dir", NULL};
	PyObject *rel;

	*is_dir = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &rel, is_dir))
		return NULL;
	return encode_str(rel, "rel_path");
}

static PyObject *exclude_is_excluded(ExcludeFilterObject *self, PyObject *args,
				     PyObject *kwargs)
{
	int is_dir, excluded, status;
	PyObject *rel = parse_rel(args, kwargs, "O|$p:is_excluded", &is_dir);

	if (!rel)
		return NULL;
	status = gs_exclude_is_excluded(&excluded, self->filter, PyBytes_AS_STRING(rel), is_dir);
	Py_DECREF(rel);
	if (status < 0)
		return gsp_raise(gsp_state_of(self));
	return PyBool_FromLong(excluded);
}

static PyObject *exclude_is_excluded_in_walk(ExcludeFilterObject *self, PyObject *args,
					     PyObject *kwargs)
{
	int is_dir, excluded, status;
	PyObject *rel = parse_rel(args, kwargs, "O|$p:is_excluded_in_walk", &is_dir);

	if (!rel)
		return NULL;
	Py_BEGIN_CRITICAL_SECTION(self);
	status = gs_exclude_walk_is_excluded(&excluded, &self->walk, PyBytes_AS_STRING(rel),
					     is_dir);
	Py_END_CRITICAL_SECTION();
	Py_DECREF(rel);
	if (status < 0)
		return gsp_raise(gsp_state_of(self));
	return PyBool_FromLong(excluded);
}

/*
 * The walk state is changed here in the object's critical section, the
 * GIL held (reading a .gitignore is quick), so two threads sharing the
 * object cannot corrupt it.
 */
static PyObject *exclude_enter_directory(ExcludeFilterObject *self, PyObject *args,
					 PyObject *kwargs)
{
	static char *kwlist[] = {"abs_dir", "rel_dir", NULL};
	PyObject *abs_obj, *rel_obj, *abs_dir = NULL, *rel_dir = NULL, *result = NULL;
	const char *rel;
	int status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:enter_directory", kwlist, &abs_obj,
					 &rel_obj))
		return NULL;
	if (!PyUnicode_FSConverter(abs_obj, &abs_dir) ||
	    !(rel_dir = encode_str(rel_obj, "rel_dir")))
		goto done;
	if (!gs_exclude_uses_gitignore(self->filter)) {
		result = Py_NewRef(Py_None);
		goto done;
	}
	rel = PyBytes_AS_STRING(rel_dir);
	Py_BEGIN_CRITICAL_SECTION(self);
	if (rel[0] == '\0') {
		/* The root of a walk: forget what an earlier walk loaded. */
		gs_exclude_walk_end(&self->walk);
		gs_exclude_walk_begin(&self->walk, self->filter);
	}
	status = gs_exclude_walk_enter_directory(&self->walk, PyBytes_AS_STRING(abs_dir), rel);
	Py_END_CRITICAL_SECTION();
	if (status < 0) {
		gsp_raise(gsp_state_of(self));
		goto done;
	}
	result = Py_NewRef(Py_None);
done:
	Py_XDECREF(abs_dir);
	Py_XDECREF(rel_dir);
	return result;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FN(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef exclude_methods[] = {
	{"is_excluded", FN(exclude_is_excluded), KW,
	 "is_excluded($self, /, rel_path, *, is_dir=False)\n--\n\n"
	 "Whether the base patterns (``patterns`` and ``exclude_from``) exclude a path.\n\n"
	 ".gitignore files play no part here, even with ``gitignore=True``.\n\n"
	 "Args:\n"
	 "    rel_path: A ``/``-separated path relative to the directory being\n"
	 "        copied (a trailing ``/`` also marks a directory).\n"
	 "    is_dir: The path is a directory, so rules ending in ``/`` apply.\n\n"
	 "Returns:\n    bool: True when the last rule deciding the path excludes it.\n"},
	{"enter_directory", FN(exclude_enter_directory), KW,
	 "enter_directory($self, /, abs_dir, rel_dir)\n--\n\n"
	 "Load the ``.gitignore`` of a directory the walk has reached.\n\n"
	 "Does nothing unless the filter was made with ``gitignore=True``.\n"
	 "Otherwise ``abs_dir/.gitignore``, when it is a file, becomes the rule\n"
	 "set of *rel_dir*; a directory entered twice keeps its first rules.\n"
	 "Entering ``rel_dir=\"\"`` starts a new walk: rules loaded for an\n"
	 "earlier walk root are forgotten, so one filter can serve several\n"
	 "directories in turn.\n\n"
	 "Args:\n"
	 "    abs_dir: The directory on disk (str, bytes or os.PathLike).\n"
	 "    rel_dir: Its path relative to the walk root, ``\"\"`` for the root.\n\n"
	 "Raises:\n"
	 "    OSError: The ``.gitignore`` exists but cannot be read.\n"},
	{"is_excluded_in_walk", FN(exclude_is_excluded_in_walk), KW,
	 "is_excluded_in_walk($self, /, rel_path, *, is_dir=False)\n--\n\n"
	 "Whether a path met during a walk is excluded.\n\n"
	 "The base patterns are asked first, and what they exclude stays\n"
	 "excluded.  With ``gitignore=True``, files named ``.gitignore`` are\n"
	 "excluded too, and then the ``.gitignore`` files loaded by\n"
	 "``enter_directory`` for the directories above the path are asked\n"
	 "from the root down, each seeing the path relative to its own\n"
	 "directory; the deepest one that matches decides.\n\n"
	 "Args:\n"
	 "    rel_path: A ``/``-separated path relative to the walk root.\n"
	 "    is_dir: The path is a directory.\n\n"
	 "Returns:\n    bool: True when the path is to be left out.\n"},
	{NULL}
};

static PyGetSetDef exclude_getset[] = {
	{"active", (getter)exclude_get_active, NULL,
	 "bool: Whether the filter can exclude anything: at least one base\n"
	 "pattern (an empty string counts) or ``gitignore=True``.", NULL},
	{NULL}
};

static PyType_Slot exclude_slots[] = {
	{Py_tp_doc,
	 "ExcludeFilter(*, patterns=None, exclude_from=None, gitignore=False)\n--\n\n"
	 "Gitignore-style rules that keep local paths out of copy_in and sync_in.\n\n"
	 "Rules follow git's ``.gitignore`` syntax: the last matching rule wins,\n"
	 "``!pattern`` brings a path back (but not one below an excluded\n"
	 "directory), a rule without an inner ``/`` matches a name at any depth,\n"
	 "a leading or inner ``/`` anchors it at the top, a trailing ``/``\n"
	 "limits it to directories, ``*`` and ``?`` stay within one path\n"
	 "segment and ``**`` spans directories.  Matching is case-sensitive and,\n"
	 "as in git, works on the bytes of the path.  A pattern git would refuse\n"
	 "(an unclosed ``[``) is ignored.\n\n"
	 "The filter itself never changes, so it can be shared and reused;\n"
	 "``enter_directory`` and ``is_excluded_in_walk`` keep the\n"
	 "``.gitignore`` rules of the walk in progress.\n\n"
	 "Example of use, with ``copy_in``:\n\n"
	 "    ef = ExcludeFilter(patterns=[\"*.pyc\", \"build/\"], gitignore=True)\n"
	 "    fs = fs.copy_in(\"./project\", \"project\", exclude=ef)\n\n"
	 "Args:\n"
	 "    patterns: Rules used exactly as given (no trimming, no comments).\n"
	 "    exclude_from: A file of further rules, one a line; lines are\n"
	 "        trimmed, blank lines and lines starting with ``#`` skipped.\n"
	 "        Read once, here.\n"
	 "    gitignore: Also honour the ``.gitignore`` file of every directory\n"
	 "        walked (never those above the walk root), and never copy the\n"
	 "        ``.gitignore`` files themselves.\n\n"
	 "Raises:\n"
	 "    FileNotFoundError: *exclude_from* does not exist.\n"
	 "    TypeError: *patterns* is a single string or holds a non-string.\n"},
	{Py_tp_new, exclude_new},
	{Py_tp_dealloc, exclude_dealloc},
	{Py_tp_traverse, exclude_traverse},
	{Py_tp_clear, exclude_clear},
	{Py_tp_repr, exclude_repr},
	{Py_tp_methods, exclude_methods},
	{Py_tp_getset, exclude_getset},
	{0, NULL}
};

static PyType_Spec exclude_spec = {
	.name = "gitstore.ExcludeFilter",
	.basicsize = sizeof(ExcludeFilterObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
		 Py_TPFLAGS_IMMUTABLETYPE,
	.slots = exclude_slots,
};

int gsp_exclude_arg(gsp_state_t *st, PyObject *obj, struct gs_exclude **out)
{
	*out = NULL;
	if (obj == Py_None)
		return 0;
	if (!PyObject_TypeCheck(obj, st->ExcludeFilterType)) {
		PyErr_Format(PyExc_TypeError, "exclude must be an ExcludeFilter or None, not %s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	*out = ((ExcludeFilterObject *)obj)->filter;
	return 0;
}

/* ------------------------------------------------------------------ */
/* disk_glob                                                           */

static PyObject *disk_glob(PyObject *module, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"pattern", NULL};
	PyObject *arg, *pattern, *result = NULL;
	gs_strlist found = {0};
	int status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:disk_glob", kwlist, &arg))
		return NULL;
	if (!(pattern = encode_str(arg, "pattern")))
		return NULL;
	GSP_CALL(status, gs_disk_glob(&found, PyBytes_AS_STRING(pattern)));
	if (status < 0) {
		gsp_raise(PyModule_GetState(module));
		goto done;
	}
	if (!(result = PyList_New((Py_ssize_t)found.count)))
		goto done;
	for (size_t i = 0; i < found.count; i++) {
		PyObject *item = PyUnicode_DecodeFSDefault(found.items[i]);

		if (!item) {
			Py_CLEAR(result);
			goto done;
		}
		PyList_SET_ITEM(result, (Py_ssize_t)i, item);
	}
	/* Bytewise order is code point order except for undecodable bytes. */
	if (PyList_Sort(result) < 0)
		Py_CLEAR(result);
done:
	gs_strlist_free(&found);
	Py_DECREF(pattern);
	return result;
}

static PyMethodDef disk_glob_def = {
	"disk_glob", FN(disk_glob), KW,
	"disk_glob(pattern)\n--\n\n"
	"Expand a glob pattern against the local filesystem.\n\n"
	"Segments are separated by ``/`` (``\\`` counts as a separator too, so\n"
	"it cannot escape anything); a trailing ``/`` is ignored.  In a segment\n"
	"``*`` matches any run of characters, ``?`` one character and ``[seq]``\n"
	"/ ``[!seq]`` one character of a set, case-sensitively; names starting\n"
	"with ``.`` only match a segment that starts with ``.`` too.  A ``**``\n"
	"segment stands for any number of directory levels, none included,\n"
	"following symlinks to directories but never into a directory it is\n"
	"already inside (so link cycles end); it does not enter or yield dot\n"
	"entries, and as the last segment it yields everything below.  Other\n"
	"segments are literal names; a literal last segment must exist\n"
	"(symlinks followed).\n\n"
	"Matches keep the pattern's spelling: relative stays relative, ``./``\n"
	"and ``/./`` stay in place, absolute stays absolute.  Directories that\n"
	"are missing or unreadable contribute nothing instead of raising.\n\n"
	"Example, run from a project's root:\n\n"
	"    disk_glob(\"src/**/*.py\")   # ['src/a.py', 'src/pkg/b.py']\n\n"
	"Args:\n"
	"    pattern: The pattern (str or os.PathLike[str]).\n\n"
	"Returns:\n"
	"    list[str]: The matching paths in code point order.  A path can\n"
	"        appear more than once when several ``**`` segments reach it.\n\n"
	"Raises:\n"
	"    TypeError: *pattern* is not a string.\n"
	"    ValueError: *pattern* contains a NUL character.\n"
};

int gsp_exclude_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);
	PyObject *modname, *func;
	int rc;

	if (!(st->ExcludeFilterType = gsp_add_type(module, &exclude_spec, "ExcludeFilter")))
		return -1;
	if (!(modname = PyUnicode_FromString("gitstore")))
		return -1;
	/* Bound to the module, like the functions of its method table, for
	 * the module's state; shown as gitstore.disk_glob. */
	func = PyCFunction_NewEx(&disk_glob_def, module, modname);
	Py_DECREF(modname);
	if (!func)
		return -1;
	rc = PyModule_AddObjectRef(module, "disk_glob", func);
	Py_DECREF(func);
	return rc;
}
