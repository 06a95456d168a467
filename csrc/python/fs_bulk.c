/* fs_bulk.c - the bulk methods of FS that stay inside the repository:
 * remove, move and copy_from_ref. */
#include "binding.h"
/* transitional: until the copy and bulk plans move into the core */
#include "source.h"
#include "tree.h"
#include "txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* `sources` as a list of str: a str or os.PathLike is one source. */
static PyObject *source_list(PyObject *sources)
{
	PyObject *list, *iter, *item;

	if (PyUnicode_Check(sources) || (!PyList_Check(sources) && !PyTuple_Check(sources) &&
					 PyObject_HasAttrString(sources, "__fspath__"))) {
		PyObject *one = PyOS_FSPath(sources);
		if (!one)
			return NULL;
		list = PyList_New(1);
		if (list)
			PyList_SET_ITEM(list, 0, one);
		else
			Py_DECREF(one);
		return list;
	}
	if (!(list = PyList_New(0)) || !(iter = PyObject_GetIter(sources))) {
		Py_XDECREF(list);
		return NULL;
	}
	while ((item = PyIter_Next(iter))) {
		PyObject *path = PyOS_FSPath(item);
		int rc = -1;
		if (path && !PyUnicode_Check(path))
			PyErr_Format(PyExc_TypeError, "sources must be str, not %s",
				     Py_TYPE(path)->tp_name);
		else if (path)
			rc = PyList_Append(list, path);
		Py_XDECREF(path);
		Py_DECREF(item);
		if (rc < 0) {
			Py_CLEAR(list);
			break;
		}
	}
	Py_DECREF(iter);
	if (PyErr_Occurred())
		Py_CLEAR(list);
	return list;
}

static int compare_files(const void *a, const void *b)
{
	return strcmp(((const gs_file *)a)->path, ((const gs_file *)b)->path);
}

/* Sort by path and drop repeats. */
static void sort_unique(gs_filelist *files)
{
	size_t kept = 0;

	if (files->count > 1)
		qsort(files->items, files->count, sizeof(*files->items), compare_files);
	for (size_t i = 0; i < files->count; i++) {
		if (kept && strcmp(files->items[kept - 1].path, files->items[i].path) == 0) {
			free(files->items[i].path);
			continue;
		}
		files->items[kept++] = files->items[i];
	}
	files->count = kept;
}

int gsp_source_resolve(gsp_state_t *st, gs_source *out, git_repository *repo,
		       const git_oid *root, PyObject *spec)
{
	PyObject *text;
	int rc;

	if (!PyUnicode_Check(spec)) {
		PyErr_Format(PyExc_TypeError, "sources must be str, not %s", Py_TYPE(spec)->tp_name);
		return -1;
	}
	/* Names that are not UTF-8 come back from listings surrogate-escaped. */
	if (!(text = PyUnicode_AsEncodedString(spec, "utf-8", "surrogateescape")))
		return -1;
	GSP_CALL(rc, gs_source_resolve(out, repo, root, PyBytes_AS_STRING(text)));
	Py_DECREF(text);
	if (rc < 0)
		gsp_raise(st);
	return rc;
}

/* The files that removing `sources` means: each source resolved, a
 * directory only with `recursive` (else IsADirectoryError) and then every
 * file below it; sorted, each once. */
static int files_of_sources(gs_filelist *out, gs_txn *txn, FSObject *fs, PyObject *list,
			    int recursive)
{
	gsp_state_t *st = gsp_state_of(fs);

	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
		gs_source src;
		int rc;

		if (gsp_source_resolve(st, &src, gs_txn_repo(txn), &fs->info.tree,
				       PyList_GET_ITEM(list, i)) < 0)
			return -1;
		if (src.mode == GS_SRC_FILE) {
			rc = gs_filelist_push(out, src.path, &src.entry.id, src.entry.mode);
		} else if (!recursive) {
			PyObject *path = gsp_str(src.path);
			if (path) {
				PyErr_Format(PyExc_IsADirectoryError,
					     "%U is a directory (use recursive=True)", path);
				Py_DECREF(path);
			}
			gs_source_clear(&src);
			return -1;
		} else {
			GSP_CALL(rc, gs_tree_files(out, gs_txn_store(txn), gs_txn_repo(txn),
						   &src.entry.id, src.path));
		}
		gs_source_clear(&src);
		if (rc < 0) {
			gsp_raise(st);
			return -1;
		}
	}
	sort_unique(out);
	return 0;
}

/* FileEntry(path, FileType(mode), src=path) for each file. */
static PyObject *entries_of(gsp_state_t *st, gs_filelist *files)
{
	PyObject *list = PyList_New((Py_ssize_t)files->count);

	for (size_t i = 0; list && i < files->count; i++) {
		PyObject *path = gsp_str(files->items[i].path), *type = NULL, *entry = NULL;
		if (path && (type = gsp_filetype(st, files->items[i].mode)))
			entry = PyObject_CallFunction(st->FileEntry, "OOO", path, type, path);
		Py_XDECREF(path);
		Py_XDECREF(type);
		if (!entry) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, entry);
	}
	return list;
}

static PyObject *fs_remove(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "recursive", "dry_run", "message", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *message = Py_None, *list = NULL, *deleted = NULL, *report = NULL;
	PyObject *result = NULL;
	int recursive = 0, dry_run = 0;
	gs_filelist files = {0};
	gs_changeset *cs = NULL;
	gs_txn *txn = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$ppO:remove", kwlist, &sources,
					 &recursive, &dry_run, &message))
		return NULL;
	if (!(list = source_list(sources)) || !(txn = gsp_txn_begin(self->store)) ||
	    !(cs = gsp_changeset_new(st)))
		goto done;
	if (files_of_sources(&files, txn, self, list, recursive) < 0)
		goto done;
	if (files.count == 0) {
		PyErr_Format(PyExc_FileNotFoundError, "No matches for sources: %R", list);
		goto done;
	}
	if (!(deleted = entries_of(st, &files)))
		goto done;
	{
		PyObject *kw = Py_BuildValue("{s:O}", "delete", deleted), *noargs = PyTuple_New(0);
		if (kw && noargs)
			report = PyObject_Call(st->ChangeReport, noargs, kw);
		Py_XDECREF(kw);
		Py_XDECREF(noargs);
		if (!report)
			goto done;
	}
	if (dry_run) {
		gsp_fs_set_changes(self, report);
		result = Py_NewRef(self);
		goto done;
	}
	for (size_t i = 0; i < files.count; i++)
		if (gsp_stage_remove(st, cs, files.items[i].path) < 0)
			goto done;
	{
		PyObject *op = PyUnicode_FromString("rm");
		if (op)
			result = gsp_fs_commit(self, txn, cs, message, op, "batch on", report);
		Py_XDECREF(op);
	}
done:
	gs_changeset_free(cs);
	gs_filelist_free(&files);
	gsp_txn_free(txn);
	Py_XDECREF(report);
	Py_XDECREF(deleted);
	Py_XDECREF(list);
	return result;
}

/* "a/b" from parts, skipping empty ones; malloc'd. */
static char *join_path(const char *a, const char *b, const char *c)
{
	const char *parts[3] = {a, b, c};
	size_t len = 1;
	char *out;

	for (int i = 0; i < 3; i++)
		len += strlen(parts[i]) + 1;
	if (!(out = malloc(len)))
		return NULL;
	out[0] = '\0';
	for (int i = 0; i < 3; i++) {
		if (!*parts[i])
			continue;
		if (*out)
			strcat(out, "/");
		strcat(out, parts[i]);
	}
	return out;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/*
 * The files a resolved source stands for, each with its destination:
 * a file lands exactly at dest_base; a directory's files land below
 * dest_base with their paths relative to the directory.
 */
static int source_pairs(gs_filelist *from, gs_strlist *to, gs_txn *txn, const gs_source *src,
			const char *dest_base)
{
	gs_filelist below = {0};
	size_t skip = *src->path ? strlen(src->path) + 1 : 0;
	int rc = -1;

	if (src->mode == GS_SRC_FILE) {
		if (gs_filelist_push(from, src->path, &src->entry.id, src->entry.mode) < 0 ||
		    gs_strlist_push(to, dest_base) < 0)
			return -1;
		return 0;
	}
	if (gs_tree_files(&below, gs_txn_store(txn), gs_txn_repo(txn), &src->entry.id,
			  src->path) < 0)
		return -1;
	for (size_t i = 0; i < below.count; i++) {
		char *dest = join_path(dest_base, below.items[i].path + skip, "");
		int failed = !dest ? gs_error_set_os(ENOMEM, "out of memory")
			     : gs_filelist_push(from, below.items[i].path, &below.items[i].id,
						below.items[i].mode) < 0 ||
			       gs_strlist_push(to, dest) < 0;
		free(dest);
		if (failed)
			goto done;
	}
	rc = 0;
done:
	gs_filelist_free(&below);
	return rc;
}

/* Where a source lands when it goes into dest rather than being renamed
 * to it: a directory's contents straight into dest, any other source
 * under its last name, below a "/./" pivot's prefix when it has one. */
static char *into_base(const gs_source *src, const char *dest)
{
	if (src->mode == GS_SRC_CONTENTS)
		return join_path(dest, src->prefix, "");
	return join_path(dest, src->prefix, basename_of(src->path));
}


/* A destination argument: "" (or slashes) for the root, else normalised. */
static int dest_arg(gsp_state_t *st, PyObject *dest, char **out)
{
	int rc = gsp_path_arg(st, dest, 1, out);

	if (rc == 0 && !*out && !(*out = strdup(""))) {
		PyErr_NoMemory();
		return -1;
	}
	return rc;
}

static PyObject *report_of(gsp_state_t *st, PyObject *add, PyObject *update, PyObject *delete)
{
	PyObject *kw = Py_BuildValue("{s:O,s:O,s:O}", "add", add, "update", update,
				     "delete", delete);
	PyObject *noargs = PyTuple_New(0), *report = NULL;

	if (kw && noargs)
		report = PyObject_Call(st->ChangeReport, noargs, kw);
	Py_XDECREF(kw);
	Py_XDECREF(noargs);
	return report;
}

static int append_entry(gsp_state_t *st, PyObject *list, const char *path, uint32_t mode,
			const char *src)
{
	PyObject *p = gsp_str(path), *type = NULL, *s = NULL, *entry = NULL;
	int rc = -1;

	if (p && (type = gsp_filetype(st, mode)) && (s = src ? gsp_str(src) : Py_NewRef(Py_None)) &&
	    (entry = PyObject_CallFunction(st->FileEntry, "OOO", p, type, s)))
		rc = PyList_Append(list, entry);
	Py_XDECREF(entry);
	Py_XDECREF(s);
	Py_XDECREF(type);
	Py_XDECREF(p);
	return rc;
}

/* Destinations, sorted, for membership tests in O(log n). */
typedef struct {
	const char **paths;
	size_t count;
} path_set;

static int compare_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int path_set_init(path_set *set, const gs_strlist *list)
{
	set->count = list->count;
	if (!(set->paths = malloc((list->count ? list->count : 1) * sizeof(*set->paths)))) {
		PyErr_NoMemory();
		return -1;
	}
	memcpy(set->paths, list->items, list->count * sizeof(*set->paths));
	if (set->count > 1)
		qsort(set->paths, set->count, sizeof(*set->paths), compare_cstr);
	return 0;
}

static int path_set_has(const path_set *set, const char *path)
{
	return set->count &&
	       bsearch(&path, set->paths, set->count, sizeof(*set->paths), compare_cstr) != NULL;
}

typedef struct {
	const char *path;
	size_t index;
} indexed_path;

static int compare_indexed(const void *a, const void *b)
{
	const indexed_path *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Mark pairs whose destination an earlier pair already has (first wins,
 * as sources that overlap in delete-mode copies do). */
static int mark_repeats(char **repeat, const gs_strlist *to)
{
	indexed_path *order = malloc((to->count ? to->count : 1) * sizeof(*order));

	*repeat = calloc(to->count + 1, 1);
	if (!order || !*repeat) {
		free(order);
		PyErr_NoMemory();
		return -1;
	}
	for (size_t i = 0; i < to->count; i++)
		order[i] = (indexed_path){to->items[i], i};
	if (to->count > 1)
		qsort(order, to->count, sizeof(*order), compare_indexed);
	for (size_t i = 1; i < to->count; i++)
		if (strcmp(order[i].path, order[i - 1].path) == 0)
			(*repeat)[order[i].index] = 1;
	free(order);
	return 0;
}

static PyObject *fs_move(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"sources", "dest", "recursive", "dry_run", "message", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *sources, *dest_obj, *message = Py_None, *list = NULL, *result = NULL;
	PyObject *add = NULL, *update = NULL, *deleted = NULL, *report = NULL;
	int recursive = 0, dry_run = 0, dest_slash = 0, dest_is_dir = 0, rename_mode;
	gs_source *srcs = NULL;
	gs_filelist from = {0}, removed = {0};
	gs_strlist to = {0};
	gs_changeset *cs = NULL;
	gs_txn *txn = NULL;
	char *dest = NULL, *repeat = NULL;
	path_set dests = {0};
	Py_ssize_t n = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$ppO:move", kwlist, &sources, &dest_obj,
					 &recursive, &dry_run, &message))
		return NULL;
	if (!(list = source_list(sources)) || !(txn = gsp_txn_begin(self->store)) ||
	    !(cs = gsp_changeset_new(st)))
		goto done;
	n = PyList_GET_SIZE(list);
	if (!(srcs = calloc((size_t)n + 1, sizeof(*srcs)))) {
		PyErr_NoMemory();
		goto done;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		if (gsp_source_resolve(st, &srcs[i], gs_txn_repo(txn), &self->info.tree, PyList_GET_ITEM(list, i)) < 0)
			goto done;
	{
		PyObject *text = PyOS_FSPath(dest_obj);
		if (!text)
			goto done;
		dest_slash = PyUnicode_Check(text) && PyUnicode_GET_LENGTH(text) > 0 &&
			     PyUnicode_READ_CHAR(text, PyUnicode_GET_LENGTH(text) - 1) == '/';
		Py_DECREF(text);
	}
	if (dest_arg(st, dest_obj, &dest) < 0)
		goto done;
	if (*dest) {
		gs_entry e;
		int found, rc;
		GSP_CALL(rc, gs_snap_entry_opt(&found, &e, self->store->store, &self->info.tree, dest));
		if (rc < 0) {
			gsp_raise(st);
			goto done;
		}
		dest_is_dir = found && e.mode == GS_MODE_TREE;
	}
	rename_mode = n == 1 && srcs[0].mode != GS_SRC_CONTENTS && !dest_slash && !dest_is_dir;
	for (Py_ssize_t i = 0; i < n; i++) {
		char *base;
		int rc;
		if (rename_mode)
			base = strdup(*dest ? dest : (srcs[i].mode == GS_SRC_FILE
						      ? basename_of(srcs[i].path) : ""));
		else
			base = into_base(&srcs[i], dest);
		if (!base) {
			PyErr_NoMemory();
			goto done;
		}
		GSP_CALL(rc, source_pairs(&from, &to, txn, &srcs[i], base));
		free(base);
		if (rc < 0) {
			gsp_raise(st);
			goto done;
		}
	}
	if (from.count == 0) {
		PyErr_Format(PyExc_FileNotFoundError, "No matches for patterns: %R", list);
		goto done;
	}
	for (size_t i = 0; i < from.count; i++) {
		if (strcmp(from.items[i].path, to.items[i]) == 0) {
			PyObject *p = gsp_str(to.items[i]);
			if (p) {
				PyErr_Format(PyExc_ValueError, "Source and destination are the same: %U", p);
				Py_DECREF(p);
			}
			goto done;
		}
	}
	if (files_of_sources(&removed, txn, self, list, recursive) < 0 ||
	    mark_repeats(&repeat, &to) < 0 || path_set_init(&dests, &to) < 0)
		goto done;
	/* Report: each destination as the type it moves as, added or updated
	 * by whether something was there; each source that goes away. */
	if (!(add = PyList_New(0)) || !(update = PyList_New(0)) || !(deleted = PyList_New(0)))
		goto done;
	for (size_t i = 0; i < from.count; i++) {
		gs_entry e;
		int found, rc;
		if (repeat[i])
			continue;
		GSP_CALL(rc, gs_snap_entry_opt(&found, &e, self->store->store, &self->info.tree,
					       to.items[i]));
		if (rc < 0) {
			gsp_raise(st);
			goto done;
		}
		if (append_entry(st, found ? update : add, to.items[i], from.items[i].mode,
				 from.items[i].path) < 0)
			goto done;
		if (gsp_stage_write(st, cs, to.items[i], &from.items[i].id, from.items[i].mode) < 0)
			goto done;
	}
	for (size_t i = 0; i < removed.count; i++) {
		/* A source that another source moves onto stays (with new content). */
		if (path_set_has(&dests, removed.items[i].path))
			continue;
		if (append_entry(st, deleted, removed.items[i].path, removed.items[i].mode,
				 removed.items[i].path) < 0 ||
		    gsp_stage_remove(st, cs, removed.items[i].path) < 0)
			goto done;
	}
	if (!(report = report_of(st, add, update, deleted)))
		goto done;
	if (dry_run) {
		gsp_fs_set_changes(self, report);
		result = Py_NewRef(self);
		goto done;
	}
	{
		PyObject *op = PyUnicode_FromString("mv");
		if (op)
			result = gsp_fs_commit(self, txn, cs, message, op, "batch on", report);
		Py_XDECREF(op);
	}
done:
	for (Py_ssize_t i = 0; srcs && i < n; i++)
		gs_source_clear(&srcs[i]);
	free(srcs);
	free(dest);
	free(repeat);
	free(dests.paths);
	gs_filelist_free(&from);
	gs_filelist_free(&removed);
	gs_strlist_free(&to);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	Py_XDECREF(report);
	Py_XDECREF(add);
	Py_XDECREF(update);
	Py_XDECREF(deleted);
	Py_XDECREF(list);
	return result;
}

/* Files of `self` under a destination area (a file counts as itself). */
static int area_files(gs_filelist *out, gs_txn *txn, const git_oid *root, const char *area)
{
	git_repository *repo = gs_txn_repo(txn);
	gs_entry e;

	if (!*area)
		return gs_tree_files(out, gs_txn_store(txn), repo, root, "");
	if (gs_tree_lookup(&e, repo, root, area, GS_LOOKUP_ENTRY) < 0) {
		if (gs_error_last()->category != GS_ERR_NOTFOUND)
			return -1;
		gs_error_clear();
		return 0;
	}
	if (e.mode == GS_MODE_TREE)
		return gs_tree_files(out, gs_txn_store(txn), repo, &e.id, area);
	return gs_filelist_push(out, area, &e.id, e.mode);
}

static PyObject *fs_copy_from_ref(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"source", "sources", "dest", "delete", "dry_run", "message", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *source, *sources = NULL, *dest_obj = NULL, *message = Py_None;
	PyObject *list = NULL, *result = NULL, *report = NULL, *empty = NULL;
	int delete = 0, dry_run = 0;
	FSObject *from_fs;
	gs_filelist from = {0}, existing = {0};
	gs_strlist to = {0};
	gs_changeset *cs = NULL;
	gs_txn *txn = NULL;
	char *dest = NULL, *repeat = NULL;
	path_set dests = {0};

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|OO$ppO:copy_from_ref", kwlist,
					 st->FSType, &source, &sources, &dest_obj, &delete,
					 &dry_run, &message))
		return NULL;
	from_fs = (FSObject *)source;
	if (from_fs->store != self->store &&
	    !gs_store_same(from_fs->store->store, self->store->store)) {
		PyErr_SetString(PyExc_ValueError, "source must belong to the same repo as self");
		return NULL;
	}
	if (!(empty = PyUnicode_FromString("")) || !(cs = gsp_changeset_new(st)))
		goto done;
	if (!(list = source_list(sources ? sources : empty)) ||
	    dest_arg(st, dest_obj ? dest_obj : empty, &dest) < 0 ||
	    !(txn = gsp_txn_begin(self->store)))
		goto done;
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
		gs_source src;
		char *base = NULL;
		int rc;
		if (gsp_source_resolve(st, &src, gs_txn_repo(txn), &from_fs->info.tree, PyList_GET_ITEM(list, i)) < 0)
			goto done;
		if (!(base = into_base(&src, dest))) {
			gs_source_clear(&src);
			PyErr_NoMemory();
			goto done;
		}
		GSP_CALL(rc, source_pairs(&from, &to, txn, &src, base));
		/* With delete, the area is what this source covers at the
		 * destination: its directory, or just the file it writes. */
		if (rc == 0 && delete)
			GSP_CALL(rc, area_files(&existing, txn, &self->info.tree, base));
		free(base);
		gs_source_clear(&src);
		if (rc < 0) {
			gsp_raise(st);
			goto done;
		}
	}
	if (mark_repeats(&repeat, &to) < 0 || path_set_init(&dests, &to) < 0)
		goto done;
	for (size_t i = 0; i < from.count; i++)
		if (!repeat[i] &&
		    gsp_stage_write(st, cs, to.items[i], &from.items[i].id, from.items[i].mode) < 0)
			goto done;
	for (size_t i = 0; i < existing.count; i++)
		if (!path_set_has(&dests, existing.items[i].path) &&
		    gsp_stage_remove(st, cs, existing.items[i].path) < 0)
			goto done;
	if (dry_run) {
		PyObject *in_sync;
		if (!(report = gsp_changes_report(self, txn, cs)) ||
		    !(in_sync = PyObject_GetAttrString(report, "in_sync")))
			goto done;
		gsp_fs_set_changes(self, PyObject_IsTrue(in_sync) ? Py_None : report);
		Py_DECREF(in_sync);
		result = Py_NewRef(self);
		goto done;
	}
	{
		PyObject *op = PyUnicode_FromString("cp");
		if (op)
			result = gsp_fs_commit(self, txn, cs, message, op, "write to", NULL);
		Py_XDECREF(op);
	}
	/* Nothing changed: say so rather than keep an older report. */
	if (result == (PyObject *)self)
		gsp_fs_set_changes(self, Py_None);
done:
	free(dest);
	free(repeat);
	free(dests.paths);
	gs_filelist_free(&from);
	gs_filelist_free(&existing);
	gs_strlist_free(&to);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	Py_XDECREF(report);
	Py_XDECREF(list);
	Py_XDECREF(empty);
	return result;
}

PyMethodDef gsp_fs_bulk_methods[] = {
	{"remove", (PyCFunction)(void (*)(void))fs_remove, METH_VARARGS | METH_KEYWORDS,
	 "remove($self, /, sources, *, recursive=False, dry_run=False, message=None)\n--\n\n"
	 "Remove files from the branch in one commit.\n\n"
	 "Each source is a file, a directory (with *recursive*), a directory's\n"
	 "contents (``\"dir/\"``) or the root (``\"\"``).  ``.changes`` of the result\n"
	 "lists what was deleted.\n\n"
	 "Args:\n    sources: A repository path or a list of them.\n"
	 "    recursive: Allow directories, removing every file below them.\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``write`` (operation ``rm``).\n\n"
	 "Returns:\n    FS: The new snapshot (or this one for a dry run).\n\n"
	 "Raises:\n    FileNotFoundError: A source does not exist, or nothing matched.\n"
	 "    IsADirectoryError: A directory without *recursive*.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"move", (PyCFunction)(void (*)(void))fs_move, METH_VARARGS | METH_KEYWORDS,
	 "move($self, /, sources, dest, *, recursive=False, dry_run=False, message=None)\n--\n\n"
	 "Move or rename files inside the branch, in one commit (like ``mv``).\n\n"
	 "With one source that is a file or a directory and a *dest* that is not\n"
	 "an existing directory (and does not end with ``/``), the source is\n"
	 "renamed to *dest*.  Otherwise every source moves into the directory\n"
	 "*dest*.  Content is never copied: the stored objects are reused.\n\n"
	 "Args:\n    sources: A repository path or a list of them.\n"
	 "    dest: Destination path or directory.\n"
	 "    recursive: Allow moving directories.\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``write`` (operation ``mv``).\n\n"
	 "Returns:\n    FS: The new snapshot (or this one for a dry run).\n\n"
	 "Raises:\n    FileNotFoundError: A source is missing, or nothing matched.\n"
	 "    IsADirectoryError: A directory without *recursive*.\n"
	 "    ValueError: A source and its destination are the same path.\n"
	 "    PermissionError: The snapshot is read-only.\n"},
	{"copy_from_ref", (PyCFunction)(void (*)(void))fs_copy_from_ref,
	 METH_VARARGS | METH_KEYWORDS,
	 "copy_from_ref($self, /, source, sources='', dest='', *, delete=False, dry_run=False, "
	 "message=None)\n--\n\n"
	 "Copy files from another snapshot of this repository, in one commit.\n\n"
	 "The files' stored objects are reused, never read, so the cost does not\n"
	 "depend on their size.  Sources follow the copy rules: ``\"dir\"`` keeps\n"
	 "the directory's name, ``\"dir/\"`` copies its contents, ``\"\"`` the\n"
	 "whole tree.\n\n"
	 "Args:\n    source: Snapshot to copy from (any branch, tag or commit).\n"
	 "    sources: Paths in *source*; the default is its whole tree.\n"
	 "    dest: Destination directory in this branch; the default is the root.\n"
	 "    delete: Also remove files under each source's destination that the\n"
	 "        source does not have (for a single file: nothing else).\n"
	 "    dry_run: Only report; return this snapshot with ``.changes`` set.\n"
	 "    message: Commit message, as for ``write`` (operation ``cp``).\n\n"
	 "Returns:\n    FS: The new snapshot, or this one when nothing changed.\n\n"
	 "Raises:\n    ValueError: *source* belongs to another repository.\n"
	 "    FileNotFoundError: A source path is missing in *source*.\n"
	 "    PermissionError: This snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{NULL}
};
