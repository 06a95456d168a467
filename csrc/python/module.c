/* module.c - the gitstore._core extension module. */
#include "binding.h"

gsp_state_t gsp;

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

static int load_filetypes(void)
{
	static const char *const names[] = {"BLOB", "EXECUTABLE", "LINK", "TREE"};
	PyObject **slots[] = {&gsp.filetype_blob, &gsp.filetype_exec, &gsp.filetype_link,
			      &gsp.filetype_tree};

	for (int i = 0; i < 4; i++)
		if (!(*slots[i] = PyObject_GetAttrString(gsp.FileType, names[i])))
			return -1;
	return 0;
}

static int create_exceptions(PyObject *module)
{
	gsp.StaleSnapshotError = PyErr_NewExceptionWithDoc(
		"gitstore.StaleSnapshotError",
		"A write was made from a snapshot whose branch has moved since.\n\n"
		"Fetch the branch again (``store.branches[name]``) and retry, or use\n"
		"``gitstore.retry_write``.",
		NULL, NULL);
	gsp.GitError = PyErr_NewExceptionWithDoc(
		"gitstore.GitError",
		"libgit2 failed, or the repository is not a readable git repository.\n\n"
		"The message names the repository path, ref or object involved.",
		NULL, NULL);
	if (!gsp.StaleSnapshotError || !gsp.GitError)
		return -1;
	if (PyModule_AddObjectRef(module, "StaleSnapshotError", gsp.StaleSnapshotError) < 0 ||
	    PyModule_AddObjectRef(module, "GitError", gsp.GitError) < 0)
		return -1;
	return 0;
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

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "gitstore._core",
	.m_doc = "The C implementation of gitstore (libgit2 underneath).",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__core(void)
{
	static const char *const type_names[] = {
		"FileType", "StatResult", "WalkEntry", "ReflogEntry", "Signature", "BlobOid",
		"FileEntry", "ChangeError", "ChangeReport", "WriteEntry", "format_commit_message", NULL};
	PyObject **type_slots[] = {
		&gsp.FileType, &gsp.StatResult, &gsp.WalkEntry, &gsp.ReflogEntry,
		&gsp.Signature, &gsp.BlobOid, &gsp.FileEntry, &gsp.ChangeError, &gsp.ChangeReport,
		&gsp.WriteEntry, &gsp.format_commit_message};
	static const char *const datetime_names[] = {"timezone", "timedelta", "datetime", NULL};
	PyObject **datetime_slots[] = {&gsp.timezone, &gsp.timedelta, &gsp.datetime};
	PyObject *module;

	if (gs_global_init() < 0)
		return gsp_raise();
	module = PyModule_Create(&module_def);
	if (!module)
		return NULL;
	if (import_attrs("gitstore._types", type_names, type_slots) < 0 ||
	    import_attrs("datetime", datetime_names, datetime_slots) < 0 ||
	    load_filetypes() < 0 ||
	    create_exceptions(module) < 0 ||
	    gsp_store_register(module) < 0 ||
	    gsp_refdict_register(module) < 0 ||
	    gsp_fs_register(module) < 0 ||
	    gsp_batch_register(module) < 0 ||
	    gsp_writer_register(module) < 0 ||
	    gsp_exclude_register(module) < 0 ||
	    gsp_fsiter_register(module) < 0 ||
	    gsp_notes_register(module) < 0) {
		Py_DECREF(module);
		return NULL;
	}
	return module;
}
