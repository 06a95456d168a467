/* module.c - the gitstore._core extension module.
 *
 * Multi-phase init: importing makes a module object whose state (see
 * gsp_state_t) the exec slot fills, so each interpreter, and each load
 * of the extension, has its own types and exception classes and nothing
 * is kept in C globals. */
#include "binding.h"

static int import_attrs(const char *module_name, const char *const *names, PyObject **slots[])
{
	PyObject *module = PyImport_ImportModule(module_name);

	if (!module)
		return -1;
	for (size_t i = 0; names[i]; i++) {
		*slots[i] = PyObject_GetAttrString(module, names[i]);
		if (!*slots[i]) {
			Py_DECREF(module);
			return -1;
		}
	}
	Py_DECREF(module);
	return 0;
}

static int import_values(gsp_state_t *st)
{
	static const char *const type_names[] = {
		"FileType", "StatResult", "WalkEntry", "ReflogEntry", "Signature", "BlobOid",
		"FileEntry", "ChangeError", "ChangeReport", "WriteEntry", "format_commit_message",
		"RefChange", "MirrorDiff", NULL};
	PyObject **type_slots[] = {
		&st->FileType, &st->StatResult, &st->WalkEntry, &st->ReflogEntry,
		&st->Signature, &st->BlobOid, &st->FileEntry, &st->ChangeError, &st->ChangeReport,
		&st->WriteEntry, &st->format_commit_message, &st->RefChange, &st->MirrorDiff};
	static const char *const datetime_names[] = {"timezone", "timedelta", "datetime", NULL};
	PyObject **datetime_slots[] = {&st->timezone, &st->timedelta, &st->datetime};
	static const char *const filetype_names[] = {"BLOB", "EXECUTABLE", "LINK", "TREE"};
	PyObject **filetype_slots[] = {&st->filetype_blob, &st->filetype_exec, &st->filetype_link,
				       &st->filetype_tree};
	static const uint32_t modes[] = {GS_MODE_BLOB, GS_MODE_EXEC, GS_MODE_LINK, GS_MODE_TREE};
	PyObject **mode_slots[] = {&st->mode_blob, &st->mode_exec, &st->mode_link, &st->mode_tree};

	if (import_attrs("gitstore._types", type_names, type_slots) < 0 ||
	    import_attrs("datetime", datetime_names, datetime_slots) < 0)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!(*filetype_slots[i] = PyObject_GetAttrString(st->FileType, filetype_names[i])) ||
		    !(*mode_slots[i] = PyLong_FromUnsignedLong(modes[i])))
			return -1;
	return 0;
}

static int create_exceptions(PyObject *module, gsp_state_t *st)
{
	st->StaleSnapshotError = PyErr_NewExceptionWithDoc(
		"gitstore.StaleSnapshotError",
		"A write was made from a snapshot whose branch has moved since.\n\n"
		"Fetch the branch again (``store.branches[name]``) and retry, or use\n"
		"``gitstore.retry_write``.",
		NULL, NULL);
	st->GitError = PyErr_NewExceptionWithDoc(
		"gitstore.GitError",
		"libgit2 failed, or the repository is not a readable git repository.\n\n"
		"The message names the repository path, ref or object involved.",
		NULL, NULL);
	if (!st->StaleSnapshotError || !st->GitError)
		return -1;
	if (PyModule_AddObjectRef(module, "StaleSnapshotError", st->StaleSnapshotError) < 0 ||
	    PyModule_AddObjectRef(module, "GitError", st->GitError) < 0)
		return -1;
	return 0;
}

static int module_exec(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	if (create_exceptions(module, st) < 0)
		return -1;
	if (gs_global_init() < 0) {
		gsp_raise(st);
		return -1;
	}
	if (import_values(st) < 0 ||
	    gsp_store_register(module) < 0 ||
	    gsp_refdict_register(module) < 0 ||
	    gsp_fs_register(module) < 0 ||
	    gsp_blobfile_register(module) < 0 ||
	    gsp_batch_register(module) < 0 ||
	    gsp_writer_register(module) < 0 ||
	    gsp_exclude_register(module) < 0 ||
	    gsp_fsiter_register(module) < 0 ||
	    gsp_notes_register(module) < 0)
		return -1;
	return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
	gsp_state_t *st = PyModule_GetState(module);

#define VISIT_FIELD(type, name) Py_VISIT(st->name);
	GSP_STATE_OBJECTS(VISIT_FIELD)
#undef VISIT_FIELD
	return 0;
}

static int module_clear(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

#define CLEAR_FIELD(type, name) Py_CLEAR(st->name);
	GSP_STATE_OBJECTS(CLEAR_FIELD)
#undef CLEAR_FIELD
	return 0;
}

static void module_free(void *module)
{
	module_clear((PyObject *)module);
}

static PyObject *libgit2_version(PyObject *self, PyObject *unused)
{
	int major, minor, rev;
	git_libgit2_version(&major, &minor, &rev);
	return PyUnicode_FromFormat("%d.%d.%d", major, minor, rev);
}

static PyMethodDef module_methods[] = {
	{"libgit2_version", libgit2_version, METH_NOARGS,
	 "libgit2_version()\n--\n\nThe version of libgit2 this module runs on, as \"X.Y.Z\"."},
	{"_disk_walk", (PyCFunction)(void (*)(void))gsp_disk_walk, METH_VARARGS | METH_KEYWORDS,
	 "_disk_walk(root, exclude=None, follow_symlinks=False)\n--\n\n"
	 "[(rel, kind, exec, mtime, errno), ...] of every non-directory below\n"
	 "root, sorted by rel (kind: 0 file, 1 link, 2 special, 3 unreadable\n"
	 "directory)."},
	{NULL}
};

static PyModuleDef_Slot module_slots[] = {
	{Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
	/* Nothing is shared between module objects but the core, which is
	 * thread-safe, so interpreters with their own GIL may load it. */
	{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
	/* Objects guard their mutable state with critical sections or claim
	 * flags (see each type), and the core keeps its error record per
	 * thread and its handles in locked pools. */
	{Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
	{0, NULL}
};

PyModuleDef gsp_module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "gitstore._core",
	.m_doc = "The C implementation of gitstore (libgit2 underneath).",
	.m_size = sizeof(gsp_state_t),
	.m_methods = module_methods,
	.m_slots = module_slots,
	.m_traverse = module_traverse,
	.m_clear = module_clear,
	.m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void)
{
	return PyModuleDef_Init(&gsp_module_def);
}
