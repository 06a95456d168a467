/* mirror.c - GitStore.backup and GitStore.restore: arguments and the
 * MirrorDiff result around the core's mirror unit. */
#include "binding.h"

#include <string.h>

/* The progress callable, called back for each line of text. */
typedef struct {
	gsp_callout call;
	PyObject *progress;
} mirror_call;

static int call_progress(void *ctx, const char *text, size_t len)
{
	mirror_call *m = ctx;
	PyObject *r;

	gsp_callout_enter(&m->call);
	r = PyObject_CallFunction(m->progress, "y#", text, (Py_ssize_t)len);
	Py_XDECREF(r);
	return gsp_callout_leave(&m->call, !r);
}

/* refs: None, a mapping {source: destination} or an iterable of names. */
static int refs_arg(PyObject *arg, PyObject **names, PyObject **renames)
{
	PyObject *items = NULL;
	Py_ssize_t n;

	*names = *renames = NULL;
	if (arg == Py_None)
		return 0;
	if (PyUnicode_Check(arg) || PyBytes_Check(arg)) {
		PyErr_Format(PyExc_TypeError, "refs must be a list of ref names or a dict, not %s",
			     Py_TYPE(arg)->tp_name);
		return -1;
	}
	if (PyDict_Check(arg) || (PyMapping_Check(arg) && PyObject_HasAttrString(arg, "items"))) {
		/* A copy as a dict: its items are (key, value) pairs for sure. */
		PyObject *copy = PyDict_New();
		if (copy && PyDict_Merge(copy, arg, 1) == 0)
			items = PyDict_Items(copy);
		Py_XDECREF(copy);
	} else {
		*names = PySequence_List(arg);
		if (!*names) {
			if (PyErr_ExceptionMatches(PyExc_TypeError)) {
				PyErr_Clear();
				PyErr_Format(PyExc_TypeError, "refs must be a list of ref names or a "
					     "dict, not %s", Py_TYPE(arg)->tp_name);
			}
			return -1;
		}
		goto check;
	}
	if (!items)
		return -1;
	n = PyList_GET_SIZE(items);
	*names = PyList_New(n);
	*renames = PyList_New(n);
	if (!*names || !*renames)
		goto fail;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *pair = PyList_GET_ITEM(items, i);
		PyList_SET_ITEM(*names, i, Py_NewRef(PyTuple_GET_ITEM(pair, 0)));
		PyList_SET_ITEM(*renames, i, Py_NewRef(PyTuple_GET_ITEM(pair, 1)));
	}
	Py_CLEAR(items);
check:
	for (int k = 0; k < 2; k++) {
		PyObject *list = k ? *renames : *names;
		for (Py_ssize_t i = 0; list && i < PyList_GET_SIZE(list); i++) {
			PyObject *name = PyList_GET_ITEM(list, i);
			const char *s;
			Py_ssize_t len;
			if (!PyUnicode_Check(name)) {
				PyErr_Format(PyExc_TypeError, "ref names must be str, not %s",
					     Py_TYPE(name)->tp_name);
				goto fail;
			}
			if (!(s = PyUnicode_AsUTF8AndSize(name, &len)))
				goto fail;
			if (!len || strlen(s) != (size_t)len) {
				PyErr_Format(PyExc_ValueError, "invalid ref name: %R", name);
				goto fail;
			}
		}
	}
	return 0;
fail:
	Py_XDECREF(items);
	Py_CLEAR(*names);
	Py_CLEAR(*renames);
	return -1;
}

/* MirrorDiff(add=[RefChange...], update=[...], delete=[...]). */
static PyObject *diff_new(gsp_state_t *st, const gs_ref_change *changes, size_t count)
{
	PyObject *lists[3] = {PyList_New(0), PyList_New(0), PyList_New(0)};
	PyObject *result = NULL;

	if (!lists[0] || !lists[1] || !lists[2])
		goto done;
	for (size_t i = 0; i < count; i++) {
		const gs_ref_change *c = &changes[i];
		PyObject *ref = gsp_str(c->ref);
		PyObject *old = c->has_old ? gsp_hex(&c->old_id) : Py_NewRef(Py_None);
		PyObject *new = c->has_new ? gsp_hex(&c->new_id) : Py_NewRef(Py_None);
		PyObject *change = (ref && old && new) ?
			PyObject_CallFunctionObjArgs(st->RefChange, ref, old, new, NULL) : NULL;
		int kind = !c->has_old ? 0 : c->has_new ? 1 : 2;
		int rc = change ? PyList_Append(lists[kind], change) : -1;

		Py_XDECREF(ref);
		Py_XDECREF(old);
		Py_XDECREF(new);
		Py_XDECREF(change);
		if (rc < 0)
			goto done;
	}
	result = PyObject_CallFunctionObjArgs(st->MirrorDiff, lists[0], lists[1], lists[2], NULL);
done:
	for (int k = 0; k < 3; k++)
		Py_XDECREF(lists[k]);
	return result;
}

typedef int (*mirror_fn)(gs_ref_change **, size_t *, gs_store *, const char *,
			 const gs_mirror_opts *);

static PyObject *mirror(GitStoreObject *self, PyObject *args, PyObject *kwargs, mirror_fn fn,
			const char *fname)
{
	static char *kwlist[] = {"url", "dry_run", "progress", "refs", "format", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *url_obj, *progress = Py_None, *refs = Py_None, *format = Py_None;
	PyObject *url = NULL, *names = NULL, *renames = NULL, *result = NULL;
	const char **ref_names = NULL, **ref_renames = NULL;
	gs_mirror_opts opts = {0};
	gs_ref_change *changes = NULL;
	mirror_call call = {0};
	size_t count = 0;
	int dry_run = 0, rc;
	char format_spec[32];

	snprintf(format_spec, sizeof(format_spec), "O|$pOOO:%s", fname);
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, format_spec, kwlist, &url_obj, &dry_run,
					 &progress, &refs, &format))
		return NULL;
	if (!PyUnicode_Check(url_obj) && !PyObject_HasAttrString(url_obj, "__fspath__")) {
		PyErr_Format(PyExc_TypeError, "url must be str or os.PathLike, not %s",
			     Py_TYPE(url_obj)->tp_name);
		return NULL;
	}
	if (gsp_progress_arg(progress, &call.progress) < 0)
		return NULL;
	if (format != Py_None) {
		if (!PyUnicode_Check(format)) {
			PyErr_Format(PyExc_TypeError, "format must be str or None, not %s",
				     Py_TYPE(format)->tp_name);
			return NULL;
		}
		if (PyUnicode_CompareWithASCIIString(format, "bundle") != 0) {
			PyErr_Format(PyExc_ValueError, "format must be 'bundle' or None, not %R",
				     format);
			return NULL;
		}
		opts.bundle = 1;
	}
	if (!(url = gsp_path_encoded(url_obj)) || refs_arg(refs, &names, &renames) < 0)
		goto done;
	if (memchr(PyBytes_AS_STRING(url), '\0', (size_t)PyBytes_GET_SIZE(url))) {
		PyErr_SetString(PyExc_ValueError, "url contains a NUL character");
		goto done;
	}
	/* An os.PathLike names a local path, whatever it looks like. */
	opts.local_path = !PyUnicode_Check(url_obj);
	if (names) {
		Py_ssize_t n = PyList_GET_SIZE(names);
		ref_names = PyMem_Calloc((size_t)n + 1, sizeof(char *));
		ref_renames = renames ? PyMem_Calloc((size_t)n + 1, sizeof(char *)) : NULL;
		if (!ref_names || (renames && !ref_renames)) {
			PyErr_NoMemory();
			goto done;
		}
		for (Py_ssize_t i = 0; i < n; i++) {
			ref_names[i] = PyUnicode_AsUTF8(PyList_GET_ITEM(names, i));
			if (renames)
				ref_renames[i] = PyUnicode_AsUTF8(PyList_GET_ITEM(renames, i));
		}
		opts.refs = ref_names;
		opts.rename = ref_renames;
		opts.ref_count = (size_t)n;
	}
	opts.dry_run = dry_run;
	if (call.progress) {
		opts.progress = call_progress;
		opts.progress_ctx = &call;
	}
	GSP_CALLOUT(call.call, rc, fn(&changes, &count, self->store, PyBytes_AS_STRING(url), &opts));
	if (rc < 0) {
		gsp_callout_raise(st, &call.call);
		goto done;
	}
	result = diff_new(st, changes, count);
done:
	gsp_callout_clear(&call.call);
	gs_ref_changes_free(changes, count);
	PyMem_Free(ref_names);
	PyMem_Free(ref_renames);
	Py_XDECREF(names);
	Py_XDECREF(renames);
	Py_XDECREF(url);
	return result;
}

static PyObject *store_backup(GitStoreObject *self, PyObject *args, PyObject *kwargs)
{
	return mirror(self, args, kwargs, gs_backup, "backup");
}

static PyObject *store_restore(GitStoreObject *self, PyObject *args, PyObject *kwargs)
{
	return mirror(self, args, kwargs, gs_restore, "restore");
}

#define MIRROR_ARGS_DOC \
	"    dry_run: Only compare: nothing is created, sent or moved.\n" \
	"    progress: Callable taking one ``bytes`` argument, called with\n" \
	"        lines of progress text from the transfer (not in a dry run).\n" \
	"    refs: Only these refs: a list of names, or a dict mapping names\n" \
	"        on the source to names on the destination.  Short names look\n" \
	"        in ``refs/heads/``, then ``refs/tags/``, then ``refs/notes/``\n" \
	"        on the source; a short destination name takes its source's\n" \
	"        prefix.  Only these refs are compared and moved, and nothing\n" \
	"        else is deleted.\n" \
	"    format: ``\"bundle\"`` to use a bundle file whatever its name.\n\n"

#define MIRROR_RAISES_DOC \
	"    ValueError: *url* has a scheme other than those above, or *format*\n" \
	"        is not ``\"bundle\"``, or two refs would get the same name.\n" \
	"    KeyError: A name in *refs* is not a ref of the source.\n" \
	"    GitError: The transfer failed: the other side is unreachable or not\n" \
	"        a git repository, authentication failed, an ssh host key is\n" \
	"        unknown or changed, a certificate is not trusted, or the\n" \
	"        remote refused a ref.  The message names *url*, without its\n" \
	"        credentials.\n"

PyMethodDef gsp_store_mirror_methods[] = {
	{"backup", (PyCFunction)(void (*)(void))store_backup, METH_VARARGS | METH_KEYWORDS,
	 "backup($self, /, url, *, dry_run=False, progress=None, refs=None, format=None)\n--\n\n"
	 "Make the repository at *url* an exact copy of this store's refs.\n\n"
	 "Every ref (branches, tags, notes; not HEAD) is pushed, forced, with\n"
	 "the objects the destination lacks, and refs only the destination has\n"
	 "are deleted; the destination's HEAD is left alone.  *url* is a local\n"
	 "path (``~`` expanded), a ``file://``, ``git://``, ``http://``,\n"
	 "``https://`` or ``ssh://`` URL, or scp-like ``user@host:path`` (git's\n"
	 "``user@[host:port]:path`` gives a port); a str is first rewritten by\n"
	 "git's ``url.<base>.pushInsteadOf``, else ``url.<base>.insteadOf``\n"
	 "settings (the store's, the user's and the system's git configuration;\n"
	 "the longest match wins, as in git).  A missing local destination\n"
	 "is created as a bare repository whose HEAD names this store's current\n"
	 "branch; its parent directory must exist.  A local path ending in\n"
	 "``.bundle`` is written as a git bundle file instead (replaced whole,\n"
	 "with HEAD), which ``git clone`` and ``restore`` read.  A new\n"
	 "repository or bundle is made as ``<dest>.gitstore-new-<pid>-<n>``\n"
	 "beside it and renamed into place; what a killed backup left under\n"
	 "such a name is removed by the next backup there.\n\n"
	 "Credentials: ``https://user:password@host/...`` for HTTP basic auth;\n"
	 "for ssh the ssh agent, then ``~/.ssh/id_ed25519``, ``id_ecdsa`` and\n"
	 "``id_rsa``.  ssh host keys must be in ``~/.ssh/known_hosts`` (or\n"
	 "``/etc/ssh/ssh_known_hosts``); https certificates are verified,\n"
	 "against ``GIT_SSL_CAINFO`` or ``SSL_CERT_FILE`` when set.  The\n"
	 "repository lock is held until the push is done, so the refs sent\n"
	 "are the ones compared.\n\n"
	 "Args:\n"
	 "    url: Where to back up to (str or os.PathLike).\n"
	 MIRROR_ARGS_DOC
	 "Returns:\n"
	 "    MirrorDiff: The refs added, updated and deleted at *url* (to be,\n"
	 "    for a dry run), each list sorted by ref name.\n\n"
	 "Raises:\n"
	 "    FileNotFoundError: The parent of a missing local destination is\n"
	 "        missing.\n"
	 MIRROR_RAISES_DOC},
	{"restore", (PyCFunction)(void (*)(void))store_restore, METH_VARARGS | METH_KEYWORDS,
	 "restore($self, /, url, *, dry_run=False, progress=None, refs=None, format=None)\n--\n\n"
	 "Make this store's refs an exact copy of those of the repository at *url*.\n\n"
	 "The objects the store lacks are fetched first; then, under the\n"
	 "repository lock, every ref is set to the source's value (forced,\n"
	 "without a reflog entry) and refs the source lacks are deleted, tags\n"
	 "and notes included.  *url* takes the same forms as for ``backup``,\n"
	 "``url.<base>.insteadOf`` included (not ``pushInsteadOf``), and a\n"
	 "bundle file (including one ``git bundle create --all`` wrote)\n"
	 "can be read.  HEAD keeps its branch; when that branch is gone, HEAD\n"
	 "moves to the source's current branch.  Snapshots taken before stay\n"
	 "readable; writing from one whose branch moved raises\n"
	 "``StaleSnapshotError``.\n\n"
	 "Args:\n"
	 "    url: Where to restore from (str or os.PathLike).\n"
	 MIRROR_ARGS_DOC
	 "Returns:\n"
	 "    MirrorDiff: The refs added, updated and deleted in this store (to\n"
	 "    be, for a dry run), each list sorted by ref name.\n\n"
	 "Raises:\n"
	 MIRROR_RAISES_DOC},
	{NULL}
};
