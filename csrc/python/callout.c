/* callout.c - core calls that run without the GIL and call back into
 * Python (progress callables, file objects): each callback takes the GIL
 * for its own duration, and the first exception one raises is kept and
 * re-raised once the core has stopped. */
#include "binding.h"

void gsp_callout_enter(gsp_callout *c)
{
	PyEval_RestoreThread(c->tstate);
}

int gsp_callout_leave(gsp_callout *c, int failed)
{
	if (failed && PyErr_Occurred() && !c->exc_type)
		PyErr_Fetch(&c->exc_type, &c->exc_value, &c->exc_tb);
	PyErr_Clear();
	c->tstate = PyEval_SaveThread();
	return failed ? -1 : 0;
}

PyObject *gsp_callout_raise(gsp_state_t *st, gsp_callout *c)
{
	if (c->exc_type) {
		PyErr_Restore(c->exc_type, c->exc_value, c->exc_tb);
		c->exc_type = c->exc_value = c->exc_tb = NULL;
		gs_error_clear();
		return NULL;
	}
	return gsp_raise(st);
}

void gsp_callout_clear(gsp_callout *c)
{
	Py_CLEAR(c->exc_type);
	Py_CLEAR(c->exc_value);
	Py_CLEAR(c->exc_tb);
}

int gsp_progress_arg(PyObject *arg, PyObject **out)
{
	*out = NULL;
	if (arg == Py_None)
		return 0;
	if (!PyCallable_Check(arg)) {
		PyErr_Format(PyExc_TypeError, "progress must be callable or None, not %s",
			     Py_TYPE(arg)->tp_name);
		return -1;
	}
	*out = arg;
	return 0;
}
