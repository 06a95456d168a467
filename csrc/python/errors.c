/* errors.c - the core's error categories as Python exceptions. */
#include "binding.h"

#include <string.h>

/* OSError(errno, text, filename): Python picks the subclass from errno,
 * `filename` is the file (decoded as os.fsdecode does), and the text
 * says what was being done ("cannot write: No space left on device"). */
static PyObject *raise_os_error(const gs_error *err)
{
	const char *reason = strerror(err->os_errno);
	PyObject *args = NULL;

	if (err->path) {
		PyObject *text = *err->action ? PyUnicode_FromFormat("%s: %s", err->action, reason)
					      : PyUnicode_FromString(reason);
		PyObject *filename = PyUnicode_DecodeFSDefault(err->path);
		if (text && filename)
			args = Py_BuildValue("(iOO)", err->os_errno, text, filename);
		Py_XDECREF(text);
		Py_XDECREF(filename);
	} else if (err->os_errno) {
		args = Py_BuildValue("(iN)", err->os_errno,
				     PyUnicode_FromFormat("%s: %s", err->message, reason));
	} else {
		/* A failure the system did not report (a fifo refused, a file
		 * that changed size): the message says it all. */
		args = Py_BuildValue("(N)", gsp_str(err->message));
	}
	if (args) {
		PyErr_SetObject(PyExc_OSError, args);
		Py_DECREF(args);
	}
	return NULL;
}

static PyObject *raise_record(gsp_state_t *st, const gs_error *err)
{
	PyObject *type;

	switch (err->category) {
	case GS_ERR_NONE:
		PyErr_SetString(PyExc_SystemError, "gitstore: an operation failed without "
				"saying why (please report this)");
		return NULL;
	case GS_ERR_NOTFOUND: type = PyExc_FileNotFoundError; break;
	case GS_ERR_ISDIR: type = PyExc_IsADirectoryError; break;
	case GS_ERR_NOTDIR: type = PyExc_NotADirectoryError; break;
	case GS_ERR_EXISTS: type = PyExc_FileExistsError; break;
	case GS_ERR_PERMISSION: type = PyExc_PermissionError; break;
	case GS_ERR_STALE: type = st->StaleSnapshotError; break;
	case GS_ERR_INVALID: type = PyExc_ValueError; break;
	case GS_ERR_KEY: type = PyExc_KeyError; break;
	case GS_ERR_FAILED: type = PyExc_RuntimeError; break;
	case GS_ERR_NOMEM: return PyErr_NoMemory();
	case GS_ERR_OS:
		return raise_os_error(err);
	case GS_ERR_GIT:
	default:
		type = st->GitError;
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

PyObject *gsp_raise(gsp_state_t *st)
{
	raise_record(st, gs_error_last());
	gs_error_clear();
	return NULL;
}
