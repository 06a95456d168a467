/* archive.c - FS.archive_out and FS.archive_in: arguments, file objects
 * and results around the core's archive unit. */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Python side of an archive call: the file object and progress
 * callable the core calls back, and the last buffer a read returned. */
typedef struct {
	gsp_callout call;
	PyObject *file;
	PyObject *progress;
	Py_buffer view;
	int has_view;
} py_io;

static void io_clear(py_io *io)
{
	if (io->has_view)
		PyBuffer_Release(&io->view);
	io->has_view = 0;
	gsp_callout_clear(&io->call);
}

static int io_write(void *ctx, const void *data, size_t len)
{
	py_io *io = ctx;
	const char *p = data;
	int failed = 0;

	gsp_callout_enter(&io->call);
	while (len > 0 && !failed) {
		PyObject *chunk = PyBytes_FromStringAndSize(p, (Py_ssize_t)len), *n = NULL;
		Py_ssize_t written = (Py_ssize_t)len;
		if (!chunk || !(n = PyObject_CallMethod(io->file, "write", "O", chunk))) {
			failed = 1;
		} else if (n != Py_None) {
			/* A raw file may take part of it. */
			written = PyLong_AsSsize_t(n);
			if (written == -1 && PyErr_Occurred())
				failed = 1;
			else if (written <= 0 || (size_t)written > len) {
				PyErr_Format(PyExc_OSError, "write() returned %zd for %zu bytes",
					     written, len);
				failed = 1;
			}
		}
		Py_XDECREF(n);
		Py_XDECREF(chunk);
		if (!failed) {
			p += written;
			len -= (size_t)written;
		}
	}
	return gsp_callout_leave(&io->call, failed);
}

/* Bytes asked of a file object at once. */
#define READ_SIZE (256 * 1024)

static int64_t io_read(void *ctx, const void **data)
{
	py_io *io = ctx;
	PyObject *chunk;
	int64_t n = -1;

	gsp_callout_enter(&io->call);
	if (io->has_view) {
		PyBuffer_Release(&io->view);
		io->has_view = 0;
	}
	chunk = PyObject_CallMethod(io->file, "read", "n", (Py_ssize_t)READ_SIZE);
	if (chunk && chunk == Py_None) {
		PyErr_SetString(PyExc_OSError, "the source is non-blocking and has no data");
	} else if (chunk && PyObject_GetBuffer(chunk, &io->view, PyBUF_SIMPLE) == 0) {
		io->has_view = 1;
		*data = io->view.buf;
		n = io->view.len;
	}
	Py_XDECREF(chunk);
	gsp_callout_leave(&io->call, n < 0);
	return n;
}

static int64_t io_seek(void *ctx, int64_t offset, int whence)
{
	py_io *io = ctx;
	PyObject *at;
	int64_t pos = -1;

	gsp_callout_enter(&io->call);
	at = PyObject_CallMethod(io->file, "seek", "Li", (long long)offset, whence);
	if (at) {
		pos = PyLong_AsLongLong(at);
		if (pos == -1 && PyErr_Occurred())
			pos = -1;
	}
	Py_XDECREF(at);
	gsp_callout_leave(&io->call, pos < 0);
	return pos;
}

static int io_progress(void *ctx, size_t done, size_t total)
{
	py_io *io = ctx;
	PyObject *r;

	gsp_callout_enter(&io->call);
	r = total ? PyObject_CallFunction(io->progress, "nn", (Py_ssize_t)done, (Py_ssize_t)total)
		  : PyObject_CallFunction(io->progress, "nO", (Py_ssize_t)done, Py_None);
	Py_XDECREF(r);
	return gsp_callout_leave(&io->call, !r);
}

/* A str, bytes or os.PathLike argument: its file system bytes, else
 * NULL without an exception (a file object). */
static int fs_path_arg(PyObject *arg, PyObject **encoded)
{
	*encoded = NULL;
	if (!PyUnicode_Check(arg) && !PyBytes_Check(arg) &&
	    !PyObject_HasAttrString(arg, "__fspath__"))
		return 0;
	return PyUnicode_FSConverter(arg, encoded) ? 0 : -1;
}

static int format_arg(gsp_state_t *st, PyObject *arg, gs_archive_format *out)
{
	const char *name;

	*out = GS_ARCHIVE_ANY;
	if (arg == Py_None)
		return 0;
	if (!PyUnicode_Check(arg)) {
		PyErr_Format(PyExc_TypeError, "format must be str or None, not %s",
			     Py_TYPE(arg)->tp_name);
		return -1;
	}
	if (!(name = PyUnicode_AsUTF8(arg)))
		return -1;
	if (gs_archive_format_parse(out, name) < 0) {
		gsp_raise(st);
		return -1;
	}
	return 0;
}

static PyObject *fs_archive_out(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"dest", "path", "format", "progress", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *dest, *path_obj = Py_None, *format_obj = Py_None, *progress_obj = Py_None;
	PyObject *encoded = NULL, *report_obj = NULL;
	gs_archive_out_opts opts = {0};
	gs_report report;
	char *path = NULL;
	py_io io = {0};
	int status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOO:archive_out", kwlist, &dest,
					 &path_obj, &format_obj, &progress_obj) ||
	    gsp_path_arg(st, path_obj, 1, &path) < 0 || format_arg(st, format_obj, &opts.format) < 0 ||
	    gsp_progress_arg(progress_obj, &io.progress) < 0 || fs_path_arg(dest, &encoded) < 0)
		goto done;
	if (!encoded && !PyObject_HasAttrString(dest, "write")) {
		PyErr_Format(PyExc_TypeError, "dest must be a path or a writable binary file "
			     "object, not %s", Py_TYPE(dest)->tp_name);
		goto done;
	}
	if (opts.format == GS_ARCHIVE_ANY) {
		if (!encoded) {
			PyErr_SetString(PyExc_ValueError, "format is needed to write to a file "
					"object; accepted: " GS_ARCHIVE_ACCEPTED);
			goto done;
		}
		if (gs_archive_format_of_file(&opts.format, PyBytes_AS_STRING(encoded)) < 0) {
			gsp_raise(st);
			goto done;
		}
	}
	opts.path = path;
	opts.mtime = self->info.time;
	if (io.progress) {
		opts.progress = io_progress;
		opts.progress_ctx = &io;
	}
	io.file = dest;
	if (encoded)
		GSP_CALLOUT(io.call, status,
			    gs_archive_write_file(&report, self->store->store, &self->info.tree,
						  &opts, PyBytes_AS_STRING(encoded)));
	else
		GSP_CALLOUT(io.call, status,
			    gs_archive_write(&report, self->store->store, &self->info.tree,
					     &opts, io_write, &io));
	if (status < 0) {
		gsp_callout_raise(st, &io.call);
		goto done;
	}
	report_obj = gsp_report_new(st, &report);
	gs_report_free(&report);
	if (report_obj) {
		gsp_fs_set_changes(self, report_obj);
		Py_DECREF(report_obj);
	}
done:
	io_clear(&io);
	free(path);
	Py_XDECREF(encoded);
	return report_obj ? Py_NewRef(self) : NULL;
}

/* How a file object is named in errors: its `name`, else its repr. */
static PyObject *source_name(PyObject *file)
{
	PyObject *name = PyObject_GetAttrString(file, "name");

	if (name && PyUnicode_Check(name))
		return name;
	Py_XDECREF(name);
	PyErr_Clear();
	return PyObject_Repr(file);
}

static int is_seekable(PyObject *file)
{
	PyObject *r = PyObject_CallMethod(file, "seekable", NULL);
	int yes = r ? PyObject_IsTrue(r) : 0;

	Py_XDECREF(r);
	PyErr_Clear();
	return yes == 1;
}

static PyObject *fs_archive_in(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"source", "dest", "format", "message", "dry_run", "progress",
				 NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *source, *dest_obj = NULL, *format_obj = Py_None, *message = Py_None;
	PyObject *progress_obj = Py_None, *encoded = NULL, *name = NULL, *name_bytes = NULL;
	PyObject *report_obj = NULL, *result = NULL, *op = NULL;
	gs_archive_in_opts opts = {0};
	gs_archive_reader reader = {0};
	gs_changeset *cs = NULL;
	gs_txn *txn = NULL;
	gs_report report = {0};
	char *dest = NULL;
	py_io io = {0};
	int status, dry_run = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$OOpO:archive_in", kwlist, &source,
					 &dest_obj, &format_obj, &message, &dry_run,
					 &progress_obj) ||
	    gsp_check_writable(self, "write to") < 0 ||
	    (dest_obj && gsp_path_arg(st, dest_obj, 1, &dest) < 0) ||
	    format_arg(st, format_obj, &opts.format) < 0 || gsp_progress_arg(progress_obj, &io.progress) < 0 ||
	    fs_path_arg(source, &encoded) < 0)
		goto done;
	if (encoded) {
		name = PyOS_FSPath(source);
		if (name && PyBytes_Check(name))
			Py_SETREF(name, PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(name)));
	} else if (!PyObject_HasAttrString(source, "read")) {
		PyErr_Format(PyExc_TypeError, "source must be a path or a readable binary file "
			     "object, not %s", Py_TYPE(source)->tp_name);
		goto done;
	} else {
		name = source_name(source);
	}
	if (!name || !(opts.source = gsp_path_utf8(name, &name_bytes)))
		goto done;
	opts.dest = dest;
	opts.dry_run = dry_run;
	if (io.progress) {
		opts.progress = io_progress;
		opts.progress_ctx = &io;
	}
	io.file = source;
	reader.read = io_read;
	reader.seek = !encoded && is_seekable(source) ? io_seek : NULL;
	reader.ctx = &io;
	if (!(txn = gsp_txn_begin(self->store)) || !(cs = gsp_changeset_new(st)))
		goto done;
	if (encoded)
		GSP_CALLOUT(io.call, status,
			    gs_archive_read_file(&report, cs, txn, &self->info.tree, &opts,
						 PyBytes_AS_STRING(encoded)));
	else
		GSP_CALLOUT(io.call, status,
			    gs_archive_read(&report, cs, txn, &self->info.tree, &opts, &reader));
	if (status < 0) {
		gsp_callout_raise(st, &io.call);
		goto done;
	}
	if (!(report_obj = gsp_report_new(st, &report)))
		goto done;
	/* Nothing to change: no commit, this snapshot comes back. */
	if (dry_run || (!report.lists[GS_REPORT_ADD].count && !report.lists[GS_REPORT_UPDATE].count &&
			!report.lists[GS_REPORT_DELETE].count)) {
		gsp_fs_set_changes(self, report_obj);
		result = Py_NewRef(self);
		goto done;
	}
	if ((op = PyUnicode_FromString("ar")))
		result = gsp_fs_commit(self, txn, cs, message, op, "write to", report_obj);
done:
	gs_report_free(&report);
	gs_changeset_free(cs);
	if (txn)
		gsp_txn_free(txn);
	io_clear(&io);
	free(dest);
	Py_XDECREF(op);
	Py_XDECREF(report_obj);
	Py_XDECREF(name_bytes);
	Py_XDECREF(name);
	Py_XDECREF(encoded);
	return result;
}

#define FN(f) (PyCFunction)(void (*)(void))(f)
#define KW METH_VARARGS | METH_KEYWORDS

PyMethodDef gsp_fs_archive_methods[] = {
	{"archive_out", FN(fs_archive_out), KW,
	 "archive_out($self, /, dest, *, path=None, format=None, progress=None)\n--\n\n"
	 "Write this snapshot as one zip or tar archive.\n"
	 "\n"
	 "Entries come in path order, each directory (mode 0755) before its\n"
	 "contents, files with mode 0644 or 0755, symlinks as links; every entry's\n"
	 "time is the commit's, so two exports of a snapshot are byte for byte the\n"
	 "same.  Content streams from the repository in chunks, without the GIL:\n"
	 "a file of any size takes bounded memory.  Submodules are skipped, each\n"
	 "with a warning.  Formats: ``zip`` (deflate), ``tar`` (ustar, pax headers\n"
	 "for long or non-ASCII names), ``tar.gz``/``tgz``, ``tar.bz2``/``tbz2``,\n"
	 "``tar.xz``/``txz`` and ``tar.zst``/``tzst``.\n"
	 "\n"
	 "Args:\n"
	 "    dest: A path (str or os.PathLike; created or replaced, written under a\n"
	 "        temporary name and renamed at the end) or a writable binary file\n"
	 "        object.\n"
	 "    path: A directory of the snapshot to export (names are relative to\n"
	 "        it) or a file (stored under its base name); None for the root.\n"
	 "    format: One of the formats above; None takes it from the name of a\n"
	 "        path *dest*.\n"
	 "    progress: Called as ``progress(done, total)`` with counts of files,\n"
	 "        about twice a second and once at the end.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: This snapshot, with ``.changes.add`` listing every file and link\n"
	 "        written (archive names) and ``.changes.warnings`` the skipped\n"
	 "        submodules.\n"
	 "\n"
	 "Raises:\n"
	 "    ValueError: Unknown format, or none given for a file object or a\n"
	 "        name without a known suffix.\n"
	 "    FileNotFoundError: *path* is missing, or *dest*'s directory is.\n"
	 "    PermissionError: *dest* cannot be written.\n"
	 "    OSError: Writing failed; a path *dest* is left as it was.\n"},
	{"archive_in", FN(fs_archive_in), KW,
	 "archive_in($self, /, source, dest='', *, format=None, message=None, dry_run=False, "
	 "progress=None)\n--\n\n"
	 "Import every file of a zip or tar archive under *dest*, in one commit.\n"
	 "\n"
	 "The format and compression are found from the content (any of those\n"
	 "``archive_out`` writes).  Entries stream into the repository without the\n"
	 "GIL, big ones straight into objects of their own.  Leading ``./`` and\n"
	 "``/`` are dropped from names; a name with a ``..`` segment, or one that\n"
	 "is not a valid repository path, is refused and nothing is committed.\n"
	 "Regular files get mode 0755 when any execute bit is set, symlinks stay\n"
	 "links, hard links become copies of the linked file, directories add\n"
	 "nothing of their own, and fifos, devices and sockets are skipped with a\n"
	 "warning.  Of entries with the same name the last one wins.  A zip\n"
	 "keeps its modes at its end: one read from a stream that cannot seek is\n"
	 "first copied to a temporary file in the repository.\n"
	 "\n"
	 "Args:\n"
	 "    source: A path (str or os.PathLike) or a readable binary file object;\n"
	 "        pipes and other streams work.\n"
	 "    dest: Repository directory to import into (``\"\"`` for the root).\n"
	 "    format: When given, what the content must be (see ``archive_out``).\n"
	 "    message: Commit message; ``{default}``, ``{add_count}``, ... are\n"
	 "        filled in as for ``write`` (operation ``ar``).\n"
	 "    dry_run: Only report; nothing is written to the repository.\n"
	 "    progress: Called as ``progress(done, None)`` with the count of\n"
	 "        entries read, about twice a second, and ``progress(n, n)`` at the\n"
	 "        end.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: The new snapshot, or this one when nothing changed or for a dry\n"
	 "        run; ``.changes`` lists each file added or updated (paths\n"
	 "        relative to *dest*) and the entries skipped as warnings.\n"
	 "\n"
	 "Raises:\n"
	 "    ValueError: The input is not an archive, is corrupt or cut short, is\n"
	 "        not the *format* given, or holds an unsafe name.\n"
	 "    FileNotFoundError: *source* is missing.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{NULL}
};
