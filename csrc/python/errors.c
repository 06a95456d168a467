/* errors.c - the core's error categories as Python exceptions. */
#include "binding.h"

#include <string.h>

PyObject *gsp_raise(void)
{
	const gs_error *err = gs_error_last();
	PyObject *type;

	switch (err->category) {
	case GS_ERR_NOTFOUND: type = PyExc_FileNotFoundError; break;
	case GS_ERR_ISDIR: type = PyExc_IsADirectoryError; break;
	case GS_ERR_NOTDIR: type = PyExc_NotADirectoryError; break;
	case GS_ERR_EXISTS: type = PyExc_FileExistsError; break;
	case GS_ERR_PERMISSION: type = PyExc_PermissionError; break;
	case GS_ERR_STALE: type = gsp.StaleSnapshotError; break;
	case GS_ERR_INVALID: type = PyExc_ValueError; break;
	case GS_ERR_KEY: type = PyExc_KeyError; break;
	case GS_ERR_NOMEM: return PyErr_NoMemory();
	case GS_ERR_OS: {
		PyObject *args = Py_BuildValue("(isO&)", err->os_errno, strerror(err->os_errno),
					       (PyObject *(*)(const char *))gsp_str, err->message);
		if (args) {
			PyErr_SetObject(PyExc_OSError, args);
			Py_DECREF(args);
		}
		return NULL;
	}
	case GS_ERR_GIT:
	default:
		type = gsp.GitError;
		break;
	}
	{
		PyObject *msg = gsp_str(err->message);
		if (msg) {
			PyErr_SetObject(type, msg);
			Py_DECREF(msg);
		}
	}
	return NULL;
}
