/* exclude.c - ExcludeFilter and disk_glob (being written). */
#include "binding.h"

int gsp_exclude_register(PyObject *module)
{
	return 0;
}

int gsp_exclude_arg(PyObject *obj, struct gs_exclude **out)
{
	*out = NULL;
	if (obj == Py_None)
		return 0;
	PyErr_SetString(PyExc_TypeError, "exclude must be an ExcludeFilter or None");
	return -1;
}
