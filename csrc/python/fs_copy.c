/*
 * fs_copy.c - copy_in, copy_out, sync_in and sync_out.  The rules of
 * these operations (sources, flags, reports) are in gitstore/_copy.py;
 * what touches the disk or the object store in bulk is here, on the
 * core's copy.c, with the GIL released.
 */
#include "binding.h"
/* transitional: until the copy and bulk plans move into the core */
#include "gs_internal.h"
#include "copy.h"
#include "source.h"
#include "tree.h"
#include "txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The pending exception as an instance, cleared. */
static PyObject *take_exception(void)
{
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (value && tb)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
}

/* A local path argument as bytes (os.fsencode). */
static PyObject *fs_bytes(PyObject *path)
{
	PyObject *out = NULL;

	return PyUnicode_FSConverter(path, &out) ? out : NULL;
}

PyObject *gsp_disk_walk(PyObject *module, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"root", "exclude", "follow_symlinks", NULL};
	gsp_state_t *st = PyModule_GetState(module);
	PyObject *root, *exclude = Py_None, *encoded, *result = NULL;
	struct gs_exclude *filter = NULL;
	gs_local_list found;
	int follow = 0, status;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|Op:_disk_walk", kwlist, &root, &exclude,
					 &follow))
		return NULL;
	if (gsp_exclude_arg(st, exclude, &filter) < 0 || !(encoded = fs_bytes(root)))
		return NULL;
	GSP_CALL(status, gs_local_walk(&found, PyBytes_AS_STRING(encoded), filter, follow, 0));
	Py_DECREF(encoded);
	if (status < 0)
		return gsp_raise(st);
	if (!(result = PyList_New((Py_ssize_t)found.count)))
		goto done;
	for (size_t i = 0; i < found.count; i++) {
		gs_local_entry *e = &found.items[i];
		PyObject *item = Py_BuildValue("(O&iNLi)", (PyObject *(*)(const char *))gsp_str,
					       e->rel, (int)e->kind, PyBool_FromLong(e->exec),
					       (long long)e->mtime, e->err);
		if (!item) {
			Py_CLEAR(result);
			break;
		}
		PyList_SET_ITEM(result, (Py_ssize_t)i, item);
	}
done:
	gs_local_list_free(&found);
	return result;
}

/* An entry's failure as an OSError instance. */
static PyObject *entry_error(const gs_local_entry *e)
{
	PyObject *local = PyUnicode_DecodeFSDefault(e->local ? e->local : e->rel), *exc;

	if (!local)
		return NULL;
	if (e->err)
		exc = PyObject_CallFunction(PyExc_OSError, "isO", e->err, strerror(e->err), local);
	else if (e->kind == GS_LOCAL_SPECIAL)
		exc = PyObject_CallFunction(PyExc_OSError, "N", PyUnicode_FromFormat(
			"Not a regular file (fifo, socket or device): %U", local));
	else
		exc = PyObject_CallFunction(PyExc_OSError, "N", gsp_str(e->message ? e->message : ""));
	Py_DECREF(local);
	return exc;
}

static PyObject *local_path_str(const char *path)
{
	return PyUnicode_DecodeFSDefault(path);
}

/* [(rel, local, kind, exec), ...] */
static PyObject *entries_list(const gs_local_list *list, int with_error)
{
	PyObject *result = PyList_New((Py_ssize_t)list->count);

	for (size_t i = 0; result && i < list->count; i++) {
		const gs_local_entry *e = &list->items[i];
		PyObject *item;
		if (with_error)
			item = Py_BuildValue("(O&O&N)", (PyObject *(*)(const char *))gsp_str, e->rel,
					     local_path_str, e->local ? e->local : "",
					     entry_error(e));
		else
			item = Py_BuildValue("(O&O&iN)", (PyObject *(*)(const char *))gsp_str, e->rel,
					     local_path_str, e->local ? e->local : "", (int)e->kind,
					     PyBool_FromLong(e->exec));
		if (!item) {
			Py_CLEAR(result);
			break;
		}
		PyList_SET_ITEM(result, (Py_ssize_t)i, item);
	}
	return result;
}

static PyObject *fs_local_diff(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "dest", "exclude", "follow_symlinks", "compare",
				 "checksum", "mode", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *dest_obj, *exclude = Py_None, *mode_obj = Py_None, *seq = NULL;
	PyObject *keep = NULL, *result = NULL;
	gs_local_diff_opts opts = {0};
	gs_local_source *srcs = NULL;
	gs_local_diff diff;
	git_repository *repo = NULL;
	git_oid dest_tree;
	int has_tree = 0, status, computed = 0;
	char *dest = NULL;
	Py_ssize_t n;

	opts.checksum = 1;
	opts.compare = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OpppO:_local_diff", kwlist, &sources,
					 &dest_obj, &exclude, &opts.follow_symlinks, &opts.compare,
					 &opts.checksum, &mode_obj) ||
	    gsp_exclude_arg(st, exclude, (struct gs_exclude **)&opts.filter) < 0 ||
	    gsp_mode_arg(st, mode_obj, 0, &opts.mode_override) < 0 ||
	    gsp_path_arg(st, dest_obj, 1, &dest) < 0 ||
	    !(seq = PySequence_Fast(sources, "sources must be a sequence")) ||
	    !(keep = PyList_New(0)))
		goto done;
	opts.since = self->info.time;
	n = PySequence_Fast_GET_SIZE(seq);
	if (!(srcs = calloc((size_t)n + 1, sizeof(*srcs)))) {
		PyErr_NoMemory();
		goto done;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *path, *rel, *path_b = NULL, *rel_b;
		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "OpU", &path, &srcs[i].walk,
				      &rel) ||
		    !(path_b = fs_bytes(path)) || PyList_Append(keep, path_b) < 0) {
			Py_XDECREF(path_b);
			goto done;
		}
		Py_DECREF(path_b);
		if (!(rel_b = PyUnicode_AsEncodedString(rel, "utf-8", "surrogateescape")))
			goto done;
		if (PyList_Append(keep, rel_b) < 0) {
			Py_DECREF(rel_b);
			goto done;
		}
		Py_DECREF(rel_b);
		srcs[i].path = PyBytes_AS_STRING(path_b);
		srcs[i].rel = PyBytes_AS_STRING(rel_b);
	}
	if (opts.compare) {
		gs_entry e;
		int found = 1;
		if (dest)
			GSP_CALL(status, gs_snap_entry_opt(&found, &e, self->store->store,
							   &self->info.tree, dest));
		else {
			status = 0;
			e.mode = GS_MODE_TREE;
			git_oid_cpy(&e.id, &self->info.tree);
		}
		if (status < 0) {
			gsp_raise(st);
			goto done;
		}
		if (found && e.mode == GS_MODE_TREE) {
			git_oid_cpy(&dest_tree, &e.id);
			has_tree = 1;
		}
	}
	GSP_CALL(status, gs_repo_acquire(&repo, self->store->store));
	if (status == 0) {
		GSP_CALL(status, gs_local_diff_compute(&diff, self->store->store, repo,
						       has_tree ? &dest_tree : NULL, srcs, (size_t)n,
						       &opts));
		gs_repo_release(self->store->store, repo);
	}
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	computed = 1;
	{
		PyObject *deleted = PyList_New((Py_ssize_t)diff.delete.count), *overlaps;
		for (size_t i = 0; deleted && i < diff.delete.count; i++) {
			PyObject *item = Py_BuildValue("(O&I)", (PyObject *(*)(const char *))gsp_str,
						       diff.delete.items[i].path,
						       (unsigned int)diff.delete.items[i].mode);
			if (!item)
				Py_CLEAR(deleted);
			else
				PyList_SET_ITEM(deleted, (Py_ssize_t)i, item);
		}
		overlaps = entries_list(&diff.overlaps, 0);
		result = Py_BuildValue("(NNNNNn)", entries_list(&diff.add, 0),
				       entries_list(&diff.update, 0), deleted,
				       entries_list(&diff.problems, 1), overlaps,
				       (Py_ssize_t)diff.unchanged);
	}
done:
	if (computed)
		gs_local_diff_free(&diff);
	free(srcs);
	free(dest);
	Py_XDECREF(keep);
	Py_XDECREF(seq);
	return result;
}

/* One (repo_path, local_path, as_link) item, converted. */
typedef struct {
	char *repo_path;     /* normalised */
	PyObject *local;     /* bytes */
	int as_link;
} local_item;

static int local_item_arg(gsp_state_t *st, local_item *out, PyObject *item)
{
	PyObject *repo_path, *local;

	memset(out, 0, sizeof(*out));
	if (!PyArg_ParseTuple(item, "OOp", &repo_path, &local, &out->as_link))
		return -1;
	if (gsp_path_arg(st, repo_path, 0, &out->repo_path) < 0)
		return -1;
	if (!(out->local = fs_bytes(local))) {
		free(out->repo_path);
		out->repo_path = NULL;
		return -1;
	}
	return 0;
}

static void local_item_clear(local_item *item)
{
	free(item->repo_path);
	Py_XDECREF(item->local);
	memset(item, 0, sizeof(*item));
}

/* What the snapshot has at repo_path: *found = 0 when nothing (or a tree). */
static int entry_at(int *found, gs_entry *out, gs_txn *txn, FSObject *fs, const char *path)
{
	int rc = gs_tree_lookup_recent(out, gs_txn_store(txn), gs_txn_repo(txn), &fs->info.tree,
				       path);
	*found = 0;
	if (rc < 0) {
		if (gs_error_last()->category != GS_ERR_NOTFOUND)
			return -1;
		gs_error_clear();
		return 0;
	}
	*found = out->mode != GS_MODE_TREE;
	return 0;
}

/* The blob of one item: hashed only (txn NULL) or also staged.  `cmp`
 * receives what the snapshot has there, if anything. */
static int item_blob(git_oid *id, uint32_t *mode, int *found, gs_entry *cmp, gs_txn *txn,
		     int stage, FSObject *fs, const local_item *item, uint32_t mode_override)
{
	if (entry_at(found, cmp, txn, fs, item->repo_path) < 0)
		return -1;
	return gs_local_blob(id, mode, stage ? txn : NULL, PyBytes_AS_STRING(item->local),
			     item->as_link, mode_override, *found ? cmp : NULL);
}

static PyObject *fs_compare_local(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"items", "mode", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *items, *mode_obj = Py_None, *result = NULL, *seq = NULL;
	uint32_t mode_override;
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:_compare_local", kwlist, &items,
					 &mode_obj) ||
	    gsp_mode_arg(st, mode_obj, 0, &mode_override) < 0 ||
	    !(seq = PySequence_Fast(items, "items must be a sequence")) ||
	    !(txn = gsp_txn_begin(self->store)) ||
	    !(result = PyList_New(PySequence_Fast_GET_SIZE(seq))))
		goto done;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		local_item item;
		gs_entry cmp;
		git_oid id;
		uint32_t mode;
		int found, status;
		PyObject *value;

		if (local_item_arg(st, &item, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
			Py_CLEAR(result);
			goto done;
		}
		GSP_CALL(status, item_blob(&id, &mode, &found, &cmp, txn, 0, self, &item,
					   item.as_link ? 0 : mode_override));
		local_item_clear(&item);
		if (status < 0) {
			gsp_raise(st);
			value = take_exception();
		} else {
			value = PyBool_FromLong(found && cmp.mode == mode && git_oid_equal(&cmp.id, &id));
		}
		if (!value) {
			Py_CLEAR(result);
			goto done;
		}
		PyList_SET_ITEM(result, i, value);
	}
done:
	gsp_txn_free(txn);
	Py_XDECREF(seq);
	return result;
}

static PyObject *fs_import_local(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"items", "removes", "message", "operation", "mode",
				 "ignore_errors", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *items, *removes, *message = Py_None, *operation = Py_None, *mode_obj = Py_None;
	PyObject *seq = NULL, *errors = NULL, *result = NULL, *committed = NULL;
	int ignore_errors = 0;
	uint32_t mode_override;
	gs_changeset *cs = NULL;
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OOOp:_import_local", kwlist, &items,
					 &removes, &message, &operation, &mode_obj, &ignore_errors) ||
	    gsp_mode_arg(st, mode_obj, 0, &mode_override) < 0 ||
	    !(seq = PySequence_Fast(items, "items must be a sequence")) ||
	    !(errors = PyList_New(0)) || !(txn = gsp_txn_begin(self->store)) ||
	    !(cs = gsp_changeset_new(st)))
		goto done;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		local_item item;
		gs_entry cmp;
		git_oid id;
		uint32_t mode;
		int found, status, rc;

		if (local_item_arg(st, &item, PySequence_Fast_GET_ITEM(seq, i)) < 0)
			goto done;
		GSP_CALL(status, item_blob(&id, &mode, &found, &cmp, txn, 1, self, &item,
					   item.as_link ? 0 : mode_override));
		if (status == 0) {
			rc = gsp_stage_write(st, cs, item.repo_path, &id, mode);
		} else {
			PyObject *pair;
			gsp_raise(st);
			if (!ignore_errors) {
				local_item_clear(&item);
				goto done;
			}
			pair = Py_BuildValue("(nN)", i, take_exception());
			rc = pair ? PyList_Append(errors, pair) : -1;
			Py_XDECREF(pair);
		}
		local_item_clear(&item);
		if (rc < 0)
			goto done;
	}
	{
		PyObject *rseq = PySequence_Fast(removes, "removes must be a sequence");
		if (!rseq)
			goto done;
		for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(rseq); i++) {
			char *path;
			int rc = gsp_path_arg(st, PySequence_Fast_GET_ITEM(rseq, i), 0, &path);
			if (rc == 0)
				rc = gsp_stage_remove(st, cs, path);
			free(path);
			if (rc < 0) {
				Py_DECREF(rseq);
				goto done;
			}
		}
		Py_DECREF(rseq);
	}
	/* Nothing staged: no commit, and no writability or staleness check. */
	if (gs_changeset_count(cs) == 0)
		committed = Py_NewRef(self);
	else
		committed = gsp_fs_commit(self, txn, cs, message,
					  operation == Py_None ? NULL : operation, "batch on", NULL);
	if (committed)
		result = PyTuple_Pack(2, committed, errors);
done:
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	Py_XDECREF(committed);
	Py_XDECREF(errors);
	Py_XDECREF(seq);
	return result;
}

static PyObject *fs_export(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"dest", "items", "ignore_errors", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *dest_obj, *items, *dest = NULL, *seq = NULL, *errors = NULL, *result = NULL;
	int ignore_errors = 0;
	git_repository *repo = NULL;
	gs_export ex;
	int status, started = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|p:_export", kwlist, &dest_obj, &items,
					 &ignore_errors) ||
	    !(dest = fs_bytes(dest_obj)) ||
	    !(seq = PySequence_Fast(items, "items must be a sequence")) ||
	    !(errors = PyList_New(0)))
		goto done;
	GSP_CALL(status, gs_repo_acquire(&repo, self->store->store));
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	gs_export_init(&ex, self->store->store, repo, PyBytes_AS_STRING(dest), self->info.time);
	started = 1;
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		PyObject *rel_obj, *id_obj, *rel;
		unsigned int mode;
		git_oid id;
		int rc = 0;

		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "OSI", &rel_obj, &id_obj,
				      &mode))
			goto done;
		if (PyBytes_GET_SIZE(id_obj) != GIT_OID_RAWSZ) {
			PyErr_SetString(PyExc_ValueError, "object ids are 20 raw bytes");
			goto done;
		}
		git_oid_fromraw(&id, (const unsigned char *)PyBytes_AS_STRING(id_obj));
		if (!(rel = PyUnicode_AsEncodedString(rel_obj, "utf-8", "surrogateescape")))
			goto done;
		GSP_CALL(status, gs_export_file(&ex, PyBytes_AS_STRING(rel), &id, mode));
		Py_DECREF(rel);
		if (status < 0) {
			PyObject *pair;
			gsp_raise(st);
			if (!ignore_errors)
				goto done;
			pair = Py_BuildValue("(nN)", i, take_exception());
			rc = pair ? PyList_Append(errors, pair) : -1;
			Py_XDECREF(pair);
		}
		if (rc < 0)
			goto done;
	}
	result = Py_NewRef(errors);
done:
	if (started)
		gs_export_clear(&ex);
	if (repo)
		gs_repo_release(self->store->store, repo);
	Py_XDECREF(errors);
	Py_XDECREF(seq);
	Py_XDECREF(dest);
	return result;
}

static PyObject *fs_files_below(FSObject *self, PyObject *arg)
{
	gsp_state_t *st = gsp_state_of(self);
	gs_filelist files = {0};
	gs_entry entry;
	char *path = NULL;
	int found, status;
	PyObject *result = NULL;

	if (gsp_path_arg(st, arg, 1, &path) < 0)
		return NULL;
	if (path)
		GSP_CALL(status, gs_snap_entry_opt(&found, &entry, self->store->store,
						   &self->info.tree, path));
	else {
		status = 0;
		found = 1;
		entry.mode = GS_MODE_TREE;
		git_oid_cpy(&entry.id, &self->info.tree);
	}
	if (status == 0 && found && entry.mode == GS_MODE_TREE) {
		git_repository *repo;
		GSP_CALL(status, gs_repo_acquire(&repo, self->store->store));
		if (status == 0) {
			GSP_CALL(status, gs_tree_files(&files, self->store->store, repo, &entry.id, ""));
			gs_repo_release(self->store->store, repo);
		}
	}
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	if (!(result = PyList_New((Py_ssize_t)files.count)))
		goto done;
	for (size_t i = 0; i < files.count; i++) {
		PyObject *item = Py_BuildValue("(O&Iy#)", (PyObject *(*)(const char *))gsp_str,
					       files.items[i].path,
					       (unsigned int)files.items[i].mode,
					       (const char *)files.items[i].id.id,
					       (Py_ssize_t)GIT_OID_RAWSZ);
		if (!item) {
			Py_CLEAR(result);
			break;
		}
		PyList_SET_ITEM(result, (Py_ssize_t)i, item);
	}
done:
	gs_filelist_free(&files);
	free(path);
	return result;
}

static PyObject *fs_resolve_source(FSObject *self, PyObject *arg)
{
	gsp_state_t *st = gsp_state_of(self);
	static const char *const modes[] = {"file", "dir", "contents"};
	gs_source src;
	git_repository *repo;
	int status;
	PyObject *result;

	GSP_CALL(status, gs_repo_acquire(&repo, self->store->store));
	if (status < 0)
		return gsp_raise(st);
	status = gsp_source_resolve(st, &src, repo, &self->info.tree, arg);
	gs_repo_release(self->store->store, repo);
	if (status < 0)
		return NULL;
	result = Py_BuildValue("(sO&O&Iy#)", modes[src.mode], (PyObject *(*)(const char *))gsp_str,
			       src.path, (PyObject *(*)(const char *))gsp_str, src.prefix,
			       (unsigned int)src.entry.mode, (const char *)src.entry.id.id,
			       (Py_ssize_t)GIT_OID_RAWSZ);
	gs_source_clear(&src);
	return result;
}

static PyObject *fs_set_changes(FSObject *self, PyObject *report)
{
	gsp_fs_set_changes(self, report);
	Py_RETURN_NONE;
}

/* The public methods hand over to gitstore._copy with the same arguments. */
static PyObject *forward(const char *name, FSObject *self, PyObject *args, PyObject *kwargs)
{
	PyObject *module = PyImport_ImportModule("gitstore._copy"), *func = NULL, *full = NULL;
	PyObject *result = NULL;
	Py_ssize_t n = PyTuple_GET_SIZE(args);

	if (!module || !(func = PyObject_GetAttrString(module, name)) ||
	    !(full = PyTuple_New(n + 1)))
		goto done;
	PyTuple_SET_ITEM(full, 0, Py_NewRef(self));
	for (Py_ssize_t i = 0; i < n; i++)
		PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
	result = PyObject_Call(func, full, kwargs);
done:
	Py_XDECREF(full);
	Py_XDECREF(func);
	Py_XDECREF(module);
	return result;
}

static PyObject *fs_copy_in(FSObject *self, PyObject *args, PyObject *kwargs)
{
	return forward("copy_in", self, args, kwargs);
}

static PyObject *fs_copy_out(FSObject *self, PyObject *args, PyObject *kwargs)
{
	return forward("copy_out", self, args, kwargs);
}

static PyObject *fs_sync_in(FSObject *self, PyObject *args, PyObject *kwargs)
{
	return forward("sync_in", self, args, kwargs);
}

static PyObject *fs_sync_out(FSObject *self, PyObject *args, PyObject *kwargs)
{
	return forward("sync_out", self, args, kwargs);
}

#define KW METH_VARARGS | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef gsp_fs_copy_methods[] = {
	{"_local_diff", FN(fs_local_diff), KW,
	 "_local_diff($self, /, sources, dest, exclude=None, follow_symlinks=False, compare=True, "
	 "checksum=True, mode=None)\n--\n\n"
	 "What the local sources [(path, walk, rel), ...] change below dest:\n"
	 "(add, update, delete, problems, overlaps, unchanged_count)."},
	{"_compare_local", FN(fs_compare_local), KW,
	 "_compare_local($self, /, items, mode=None)\n--\n\n"
	 "For each (repo_path, local_path, as_link): True when the local file\n"
	 "(or link text) has the id and mode stored at repo_path, else False,\n"
	 "or the OSError that reading it raised."},
	{"_import_local", FN(fs_import_local), KW,
	 "_import_local($self, /, items, removes, message=None, operation=None, mode=None, "
	 "ignore_errors=False)\n--\n\n"
	 "Store local files at repository paths and remove paths, in one\n"
	 "commit.  Returns (snapshot, [(index, error), ...]); without\n"
	 "ignore_errors the first error is raised and nothing is committed."},
	{"_export", FN(fs_export), KW,
	 "_export($self, /, dest, items, ignore_errors=False)\n--\n\n"
	 "Write (rel, raw_id, mode) blobs below the local directory dest.\n"
	 "Returns [(index, error), ...]."},
	{"_files_below", (PyCFunction)fs_files_below, METH_O,
	 "_files_below($self, path, /)\n--\n\n"
	 "[(relative path, mode, raw_id), ...] of the files below the directory\n"
	 "path (empty when it is missing or a file)."},
	{"_resolve_source", (PyCFunction)fs_resolve_source, METH_O,
	 "_resolve_source($self, spec, /)\n--\n\n"
	 "(mode, path, prefix, filemode, raw_id) of a repository source."},
	{"_set_changes", (PyCFunction)fs_set_changes, METH_O,
	 "_set_changes($self, report, /)\n--\n\nSet ``.changes``."},
	{"copy_in", FN(fs_copy_in), KW,
	 "copy_in($self, /, sources, dest, *, dry_run=False, follow_symlinks=False, "
	 "message=None, mode=None, ignore_existing=False, delete=False, ignore_errors=False, "
	 "checksum=True, exclude=None)\n--\n\n"
	 "Copy local files and directories into the branch, in one commit.\n"
	 "\n"
	 "Sources follow rsync's conventions: ``\"dir\"`` lands as ``dest/dir/...``,\n"
	 "``\"dir/\"`` copies the directory's contents into *dest*, a file lands as\n"
	 "``dest/name``, and ``\"base/./sub/dir\"`` keeps ``sub/dir`` below *dest*.\n"
	 "Directories are walked with dot files and without empty directories;\n"
	 "symlinks are stored as symlinks unless *follow_symlinks*.  Special files\n"
	 "(fifos, sockets, devices) are never opened: each is an error.  Files\n"
	 "become blobs streamed into one pack; unchanged files are not stored again.\n"
	 "\n"
	 "Without *delete* every source file is written and listed (``add`` when the\n"
	 "path is new, else ``update``).  With *delete* only differences are written\n"
	 "and listed, and files under *dest* that the sources lack are removed\n"
	 "(excluded ones too, as rsync without ``--delete-excluded`` would not; a\n"
	 "directory that cannot be read protects what is below it).  Overlapping\n"
	 "sources: the first one wins and each later one adds a warning.\n"
	 "\n"
	 "Args:\n"
	 "    sources: A local path or a list of them (str or os.PathLike).\n"
	 "    dest: Repository directory to copy into (``\"\"`` for the root).\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    follow_symlinks: Store what symlinks point at and walk linked\n"
	 "        directories (a link back to a directory being walked is skipped).\n"
	 "    message: Commit message; ``{default}``, ``{add_count}``, ... are\n"
	 "        filled in as for ``write`` (operation ``cp``).\n"
	 "    mode: File mode forced on every file that is not a symlink.\n"
	 "    ignore_existing: Never overwrite a path the branch already has.\n"
	 "    delete: Make *dest* match the sources (see above).\n"
	 "    ignore_errors: Record per-file failures in ``.changes.errors`` and go\n"
	 "        on; raise RuntimeError only when nothing could be copied.\n"
	 "    checksum: With *delete*, compare content.  False trusts a local file\n"
	 "        whose modification time is not newer than this snapshot's commit\n"
	 "        (faster; a later unrelated commit can hide an older local edit).\n"
	 "    exclude: An ExcludeFilter applied while walking directories.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: The new snapshot, or this one when nothing changed or for a dry\n"
	 "        run; ``.changes`` holds the ChangeReport (None when there was\n"
	 "        nothing to report).\n"
	 "\n"
	 "Raises:\n"
	 "    FileNotFoundError: A source is missing.\n"
	 "    NotADirectoryError: A ``dir/`` source is not a directory.\n"
	 "    OSError: A file could not be read (nothing is committed).\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"
	 "    PermissionError: The snapshot is read-only and something would change.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"copy_out", FN(fs_copy_out), KW,
	 "copy_out($self, /, sources, dest, *, dry_run=False, ignore_existing=False, "
	 "delete=False, ignore_errors=False, checksum=True)\n--\n\n"
	 "Copy files from this snapshot to a local directory.\n"
	 "\n"
	 "Sources follow the rules of ``copy_in`` in the other direction\n"
	 "(``\"\"`` is the whole tree).  Each file is written anew (never through an\n"
	 "existing file or symlink), executables get mode 0755, symlinks are created\n"
	 "as symlinks, and every file's times are set to this snapshot's commit\n"
	 "time.  Nothing outside *dest* is ever touched: symlinks or files standing\n"
	 "where a directory is needed are replaced by directories, and a tree entry\n"
	 "whose name would leave *dest* (``..``) or that goes through a symlink\n"
	 "written by this copy is refused.  Like rsync, a local directory standing\n"
	 "where a file goes is replaced by the file.\n"
	 "\n"
	 "Args:\n"
	 "    sources: A repository path or a list of them.\n"
	 "    dest: Local directory, created when missing.\n"
	 "    dry_run: Only report; nothing is created.\n"
	 "    ignore_existing: Leave local paths that already exist alone.\n"
	 "    delete: Make *dest* match the sources: only differences are written,\n"
	 "        local files the sources lack are deleted, and empty directories\n"
	 "        below *dest* are removed afterwards (also ones that were empty\n"
	 "        before).\n"
	 "    ignore_errors: Record per-file failures in ``.changes.errors`` and go\n"
	 "        on; raise RuntimeError only when every file failed.\n"
	 "    checksum: With *delete*, compare content.  False trusts a local file\n"
	 "        whose modification time is not newer than this snapshot's commit.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: This snapshot, with ``.changes`` set (None when in sync).\n"
	 "\n"
	 "Raises:\n"
	 "    FileNotFoundError: A source is missing.\n"
	 "    NotADirectoryError: A ``dir/`` source is not a directory.\n"
	 "    ValueError: A tree entry would be written outside *dest*.\n"
	 "    OSError: A file could not be written (files already written stay).\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"},
	{"sync_in", FN(fs_sync_in), KW,
	 "sync_in($self, /, local_path, repo_path, *, dry_run=False, message=None, "
	 "ignore_errors=False, checksum=True, exclude=None)\n--\n\n"
	 "Make a repository directory equal to a local directory, in one commit.\n"
	 "\n"
	 "The same as ``copy_in(local_path + \"/\", repo_path, delete=True)`` with the\n"
	 "operation name ``sync``: new and changed files are written, files the\n"
	 "local directory lacks are removed.  A local directory that does not exist\n"
	 "counts as empty, so everything under *repo_path* is removed (a file at\n"
	 "*repo_path* included).\n"
	 "\n"
	 "Args:\n"
	 "    local_path: Local directory.\n"
	 "    repo_path: Repository directory (``\"\"`` for the root).\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``copy_in`` (operation ``sync``).\n"
	 "    ignore_errors: Record per-file failures and go on.\n"
	 "    checksum: Compare content (False: trust modification times).\n"
	 "    exclude: An ExcludeFilter applied while walking.\n"
	 "\n"
	 "Returns:\n"
	 "    FS: The new snapshot, or this one when already in sync.\n"
	 "\n"
	 "Raises:\n"
	 "    OSError: A file could not be read (nothing is committed).\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"
	 "    PermissionError: The snapshot is read-only and something would change.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"sync_out", FN(fs_sync_out), KW,
	 "sync_out($self, /, repo_path, local_path, *, dry_run=False, ignore_errors=False, "
	 "checksum=True)\n--\n\n"
	 "Make a local directory equal to a repository directory.\n"
	 "\n"
	 "The same as ``copy_out(repo_path + \"/\", local_path, delete=True)``: new\n"
	 "and changed files are written, local files the snapshot lacks are deleted\n"
	 "and empty directories pruned (*local_path* itself stays, created when\n"
	 "missing).  A *repo_path* that does not exist (or is a file) counts as\n"
	 "empty, so every local file is deleted.\n"
	 "\n"
	 "Args:\n"
	 "    repo_path: Repository directory (``\"\"`` for the root).\n"
	 "    local_path: Local directory.\n"
	 "    dry_run: Only report; nothing on disk changes.\n"
	 "    ignore_errors: Record per-file failures and go on.\n"
	 "    checksum: Compare content (False: trust modification times).\n"
	 "\n"
	 "Returns:\n"
	 "    FS: This snapshot, with ``.changes`` set (None when in sync).\n"
	 "\n"
	 "Raises:\n"
	 "    FileExistsError: *local_path* exists and is not a directory.\n"
	 "    ValueError: A tree entry would be written outside *local_path*.\n"
	 "    OSError: A file could not be written or deleted.\n"
	 "    RuntimeError: With *ignore_errors*, every file failed.\n"},
	{NULL}
};
