/* fs.c - FS: one immutable snapshot (commit) of a store. */
#include "binding.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#define STORE(self) ((self)->store->store)
#define ROOT(self) (&(self)->info.tree)

PyObject *gsp_fs_new(GitStoreObject *store, const git_oid *commit, PyObject *ref_name,
		     int writable)
{
	gsp_state_t *st = gsp_state_of(store);
	FSObject *self;
	int rc;

	self = (FSObject *)st->FSType->tp_alloc(st->FSType, 0);
	if (!self)
		return NULL;
	self->store = (GitStoreObject *)Py_NewRef(store);
	self->ref_name = Py_NewRef(ref_name ? ref_name : Py_None);
	self->writable = writable;
	self->changes = Py_NewRef(Py_None);
	GSP_CALL(rc, gs_commit_info_read(&self->info, store->store, commit));
	if (rc < 0) {
		gsp_raise(st);
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

PyObject *gsp_fs_adopt(FSObject *like, gs_commit_info *info)
{
	PyTypeObject *type = gsp_state_of(like)->FSType;
	FSObject *self = (FSObject *)type->tp_alloc(type, 0);

	if (!self) {
		gs_commit_info_clear(info);
		return NULL;
	}
	self->store = (GitStoreObject *)Py_NewRef(like->store);
	self->ref_name = Py_NewRef(like->ref_name);
	self->writable = like->writable;
	self->changes = Py_NewRef(Py_None);
	self->info = *info;
	memset(info, 0, sizeof(*info));
	return (PyObject *)self;
}

PyObject *gsp_fs_derive(FSObject *like, const git_oid *commit)
{
	return gsp_fs_new(like->store, commit, like->ref_name, like->writable);
}

PyObject *gsp_fs_child(FSObject *parent, const git_oid *commit, const git_oid *tree,
		       int64_t when, const char *message)
{
	PyTypeObject *type = gsp_state_of(parent)->FSType;
	FSObject *self = (FSObject *)type->tp_alloc(type, 0);
	gs_commit_info *info;
	size_t len = strlen(message);

	if (!self)
		return NULL;
	self->store = (GitStoreObject *)Py_NewRef(parent->store);
	self->ref_name = Py_NewRef(parent->ref_name);
	self->writable = parent->writable;
	self->changes = Py_NewRef(Py_None);
	info = &self->info;
	git_oid_cpy(&info->id, commit);
	git_oid_cpy(&info->tree, tree);
	git_oid_cpy(&info->parent, &parent->info.id);
	info->has_parent = 1;
	info->time = when;
	info->offset = 0;
	/* Stored with one trailing newline added when missing. */
	info->message = malloc(len + 2);
	info->author_name = strdup(gs_store_name(parent->store->store));
	info->author_email = strdup(gs_store_email(parent->store->store));
	if (!info->message || !info->author_name || !info->author_email) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	memcpy(info->message, message, len + 1);
	if (len == 0 || message[len - 1] != '\n')
		strcpy(info->message + len, "\n");
	return (PyObject *)self;
}

static PyObject *fs_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"store", "commit_oid", "ref_name", "writable", NULL};
	PyObject *store, *commit, *ref_name = Py_None, *writable = Py_None;
	git_oid id;
	int is_writable;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O|O$O:FS", kwlist,
					 gsp_state_by_type(cls)->GitStoreType, &store, &commit, &ref_name,
					 &writable))
		return NULL;
	if (ref_name != Py_None && !PyUnicode_Check(ref_name))
		return PyErr_Format(PyExc_TypeError, "ref_name must be str or None");
	if (gsp_oid_arg(commit, &id) < 0)
		return NULL;
	is_writable = writable == Py_None ? ref_name != Py_None : PyObject_IsTrue(writable);
	if (is_writable < 0)
		return NULL;
	return gsp_fs_new((GitStoreObject *)store, &id, ref_name, is_writable);
}

static void fs_dealloc(FSObject *self)
{
	PyTypeObject *type = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->store);
	Py_CLEAR(self->ref_name);
	Py_CLEAR(self->changes);
	gs_commit_info_clear(&self->info);
	type->tp_free(self);
	Py_DECREF(type);
}

static int fs_traverse(FSObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->store);
	Py_VISIT(self->changes);
	return 0;
}

static int fs_clear(FSObject *self)
{
	Py_CLEAR(self->changes);
	return 0;
}

static PyObject *fs_repr(FSObject *self)
{
	char hex[8];

	git_oid_tostr(hex, sizeof(hex), &self->info.id);
	if (self->ref_name != Py_None)
		return PyUnicode_FromFormat("FS(ref_name=%R, commit=%s%s)", self->ref_name, hex,
					    self->writable ? "" : ", readonly");
	return PyUnicode_FromFormat("FS(commit=%s%s)", hex, self->writable ? "" : ", readonly");
}

/* ------------------------------------------------------------------ */
/* Properties                                                          */

static PyObject *fs_get_writable(FSObject *self, void *c)
{
	return PyBool_FromLong(self->writable);
}

static PyObject *fs_get_commit_hash(FSObject *self, void *c)
{
	return gsp_hex(&self->info.id);
}

static PyObject *fs_get_ref_name(FSObject *self, void *c)
{
	return Py_NewRef(self->ref_name);
}

static PyObject *fs_get_tree_hash(FSObject *self, void *c)
{
	return gsp_hex(ROOT(self));
}

static PyObject *fs_get_message(FSObject *self, void *c)
{
	const char *msg = self->info.message;
	size_t len = strlen(msg);

	while (len > 0 && msg[len - 1] == '\n')
		len--;
	return PyUnicode_DecodeUTF8(msg, (Py_ssize_t)len, "replace");
}

static PyObject *fs_get_time(FSObject *self, void *c)
{
	gsp_state_t *st = gsp_state_of(self);
	PyObject *delta, *tz, *result;

	delta = PyObject_CallFunction(st->timedelta, "ii", 0, self->info.offset * 60);
	if (!delta)
		return NULL;
	tz = PyObject_CallOneArg(st->timezone, delta);
	Py_DECREF(delta);
	if (!tz)
		return NULL;
	result = PyObject_CallMethod(st->datetime, "fromtimestamp", "LO",
				     (long long)self->info.time, tz);
	Py_DECREF(tz);
	return result;
}

static PyObject *fs_get_author_name(FSObject *self, void *c)
{
	return PyUnicode_DecodeUTF8(self->info.author_name,
				    (Py_ssize_t)strlen(self->info.author_name), "replace");
}

static PyObject *fs_get_author_email(FSObject *self, void *c)
{
	return PyUnicode_DecodeUTF8(self->info.author_email,
				    (Py_ssize_t)strlen(self->info.author_email), "replace");
}

/* changes is the one field of an FS that changes after it is made (dry
 * runs set it): it is read and replaced in the FS's critical section. */
static PyObject *fs_get_changes(FSObject *self, void *c)
{
	PyObject *changes;

	Py_BEGIN_CRITICAL_SECTION(self);
	changes = Py_NewRef(self->changes);
	Py_END_CRITICAL_SECTION();
	return changes;
}

void gsp_fs_set_changes(FSObject *fs, PyObject *changes)
{
	PyObject *old;

	Py_BEGIN_CRITICAL_SECTION(fs);
	old = fs->changes;
	fs->changes = Py_NewRef(changes);
	Py_END_CRITICAL_SECTION();
	/* Outside the section: dropping a report may run arbitrary code. */
	Py_DECREF(old);
}

static PyObject *fs_get_parent(FSObject *self, void *c)
{
	if (!self->info.has_parent)
		Py_RETURN_NONE;
	return gsp_fs_derive(self, &self->info.parent);
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */

/* Parse the single `path` argument of a query. */
static int one_path(FSObject *self, PyObject *args, PyObject *kwargs, const char *fmt,
		    int allow_root, char **out)
{
	static char *kwlist[] = {"path", NULL};
	PyObject *path = Py_None;

	*out = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &path))
		return -1;
	if (path == Py_None && !allow_root) {
		PyErr_SetString(PyExc_TypeError, "path must be str or os.PathLike[str], not None");
		return -1;
	}
	return gsp_path_arg(gsp_state_of(self), path, allow_root, out);
}

/*
 * The queries that run most often (exists, stat, read, read_text) take
 * their path as the str's own UTF-8 and normalise it without the GIL, in
 * the one release that also looks it up and reads: the GIL is held for as
 * little as possible, so threads reading through one FS run side by side.
 */

/* gs_path_normalize, root forms (and NULL) giving NULL when allow_root. */
static int normalized(char **out, const char *path, size_t len, int allow_root)
{
	*out = NULL;
	if (allow_root && (!path || gs_path_is_root(path, len)))
		return 0;
	return gs_path_normalize(out, path, len);
}

static int entry_given(gs_entry *out, gs_store *store, const git_oid *root, const char *path,
		       size_t len, gs_lookup_style style)
{
	char *norm;
	int rc;

	if (normalized(&norm, path, len, 0) < 0)
		return -1;
	rc = gs_snap_entry(out, store, root, norm, style);
	free(norm);
	return rc;
}

static int stat_given(gs_stat *out, gs_store *store, const git_oid *root, const char *path,
		      size_t len)
{
	char *norm;
	int rc;

	if (normalized(&norm, path, len, 1) < 0)
		return -1;
	rc = gs_snap_stat(out, store, root, norm);
	free(norm);
	return rc;
}

static int read_given(gs_blob *out, gs_store *store, const git_oid *root, const char *path,
		      size_t len, size_t offset, size_t size)
{
	char *norm;
	int rc;

	memset(out, 0, sizeof(*out));
	if (normalized(&norm, path, len, 0) < 0)
		return -1;
	rc = gs_snap_read(out, store, root, norm, offset, size);
	free(norm);
	return rc;
}

static PyObject *fs_exists(FSObject *self, PyObject *const *args, Py_ssize_t nargs,
			   PyObject *kwnames)
{
	static char *kwlist[] = {"path", NULL};
	PyObject *path_obj, *holder;
	const char *path;
	size_t len;
	gs_entry entry;
	int rc;

	if (!gsp_fast_args(args, nargs, kwnames, "O:exists", kwlist, &path_obj))
		return NULL;
	if (path_obj == Py_None) {
		PyErr_SetString(PyExc_TypeError, "path must be str or os.PathLike[str], not None");
		return NULL;
	}
	if (gsp_path_view(path_obj, &holder, &path, &len) < 0)
		return NULL;
	GSP_CALL(rc, entry_given(&entry, STORE(self), ROOT(self), path, len, GS_LOOKUP_WALK));
	Py_DECREF(holder);
	if (rc < 0) {
		gs_error_t cat = gs_error_last()->category;
		if (cat == GS_ERR_NOTFOUND || cat == GS_ERR_NOTDIR)
			Py_RETURN_FALSE;
		return gsp_raise(gsp_state_of(self));
	}
	Py_RETURN_TRUE;
}

static PyObject *fs_is_dir(FSObject *self, PyObject *args, PyObject *kwargs)
{
	char *path;
	gs_entry entry;
	int rc, found;

	if (one_path(self, args, kwargs, "O:is_dir", 0, &path) < 0)
		return NULL;
	GSP_CALL(rc, gs_snap_entry_opt(&found, &entry, STORE(self), ROOT(self), path));
	free(path);
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	return PyBool_FromLong(found && entry.mode == GS_MODE_TREE);
}

/* The entry at a path given as the only argument (entry style). */
static int entry_arg(FSObject *self, PyObject *args, PyObject *kwargs, const char *fmt,
		     gs_entry *entry)
{
	char *path;
	int rc;

	if (one_path(self, args, kwargs, fmt, 0, &path) < 0)
		return -1;
	GSP_CALL(rc, gs_snap_entry(entry, STORE(self), ROOT(self), path, GS_LOOKUP_ENTRY));
	free(path);
	if (rc < 0)
		gsp_raise(gsp_state_of(self));
	return rc;
}

static PyObject *fs_file_type(FSObject *self, PyObject *args, PyObject *kwargs)
{
	gs_entry entry;

	if (entry_arg(self, args, kwargs, "O:file_type", &entry) < 0)
		return NULL;
	return gsp_filetype(gsp_state_of(self), entry.mode);
}

static PyObject *fs_object_hash(FSObject *self, PyObject *args, PyObject *kwargs)
{
	gs_entry entry;

	if (entry_arg(self, args, kwargs, "O:object_hash", &entry) < 0)
		return NULL;
	return gsp_hex(&entry.id);
}

static PyObject *fs_size(FSObject *self, PyObject *args, PyObject *kwargs)
{
	char *path;
	size_t size;
	int rc;

	if (one_path(self, args, kwargs, "O:size", 0, &path) < 0)
		return NULL;
	GSP_CALL(rc, gs_snap_size(&size, STORE(self), ROOT(self), path));
	free(path);
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	return PyLong_FromSize_t(size);
}

static PyObject *fs_stat(FSObject *self, PyObject *const *args, Py_ssize_t nargs,
			 PyObject *kwnames)
{
	static char *kwlist[] = {"path", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj = Py_None, *holder = NULL;
	const char *path = NULL;
	size_t len = 0;
	gs_stat meta;
	PyObject *type, *hash, *result = NULL;
	int rc;

	if (!gsp_fast_args(args, nargs, kwnames, "|O:stat", kwlist, &path_obj))
		return NULL;
	if (path_obj != Py_None && gsp_path_view(path_obj, &holder, &path, &len) < 0)
		return NULL;
	GSP_CALL(rc, stat_given(&meta, STORE(self), ROOT(self), path, len));
	Py_XDECREF(holder);
	if (rc < 0)
		return gsp_raise(st);
	type = gsp_filetype(st, meta.mode);
	hash = type ? gsp_hex(&meta.id) : NULL;
	if (hash)
		result = PyObject_CallFunction(st->StatResult, "IOnOnd", (unsigned int)meta.mode,
					       type, (Py_ssize_t)meta.size, hash,
					       (Py_ssize_t)meta.nlink, (double)self->info.time);
	Py_XDECREF(type);
	Py_XDECREF(hash);
	return result;
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */

/* The content of an opened blob as bytes.  A small read is in memory
 * already: copied and freed with the GIL held (the read was the one
 * release).  A bigger one is copied, or a loose blob inflated, straight
 * into the new object without the GIL. */
static PyObject *blob_bytes(gsp_state_t *st, gs_blob *blob)
{
	PyObject *result = NULL;
	int rc = 0;

	if (blob->data && !blob->loose && blob->size <= GS_SMALL_READ) {
		result = PyBytes_FromStringAndSize(blob->data, (Py_ssize_t)blob->size);
		gs_blob_free(blob);
		return result;
	}
	if ((result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)blob->size))) {
		char *dst = PyBytes_AS_STRING(result);
		GSP_CALL(rc, gs_blob_fill(blob, dst));
		if (rc < 0) {
			gsp_raise(st);
			Py_CLEAR(result);
		}
	}
	Py_BEGIN_ALLOW_THREADS
	gs_blob_free(blob);
	Py_END_ALLOW_THREADS
	return result;
}

static PyObject *fs_read(FSObject *self, PyObject *const *args, Py_ssize_t nargs,
			 PyObject *kwnames)
{
	static char *kwlist[] = {"path", "offset", "size", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj, *offset_obj = NULL, *size_obj = Py_None, *holder;
	const char *path;
	size_t len, offset, size;
	gs_blob blob;
	int rc;

	if (!gsp_fast_args(args, nargs, kwnames, "O|$OO:read", kwlist, &path_obj, &offset_obj,
			   &size_obj))
		return NULL;
	if (gsp_path_view(path_obj, &holder, &path, &len) < 0)
		return NULL;
	if (gsp_size_arg(offset_obj ? offset_obj : Py_None, "offset", &offset) < 0 ||
	    gsp_size_arg(size_obj, "size", &size) < 0) {
		Py_DECREF(holder);
		return NULL;
	}
	if (!offset_obj || offset_obj == Py_None)
		offset = 0;
	GSP_CALL(rc, read_given(&blob, STORE(self), ROOT(self), path, len, offset, size));
	Py_DECREF(holder);
	if (rc < 0)
		return gsp_raise(st);
	return blob_bytes(st, &blob);
}

static PyObject *fs_open(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", NULL};
	PyObject *path;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:open", kwlist, &path))
		return NULL;
	return gsp_blobfile_new(self, path);
}

static PyObject *fs_read_text(FSObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	static char *kwlist[] = {"path", "encoding", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj, *holder;
	const char *encoding = "utf-8", *path;
	size_t len;
	gs_blob blob;
	PyObject *result, *content;
	int rc;

	if (!gsp_fast_args(args, nargs, kwnames, "O|s:read_text", kwlist, &path_obj, &encoding))
		return NULL;
	if (gsp_path_view(path_obj, &holder, &path, &len) < 0)
		return NULL;
	GSP_CALL(rc, read_given(&blob, STORE(self), ROOT(self), path, len, 0, SIZE_MAX));
	Py_DECREF(holder);
	if (rc < 0)
		return gsp_raise(st);
	if (!(content = blob_bytes(st, &blob)))
		return NULL;
	result = PyUnicode_Decode(PyBytes_AS_STRING(content), PyBytes_GET_SIZE(content), encoding,
				  "strict");
	Py_DECREF(content);
	return result;
}

static PyObject *fs_read_by_hash(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"hash", "offset", "size", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *hash, *offset_obj = NULL, *size_obj = Py_None;
	size_t offset, size;
	git_oid id;
	gs_blob blob;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OO:read_by_hash", kwlist, &hash,
					 &offset_obj, &size_obj))
		return NULL;
	if (gsp_oid_arg(hash, &id) < 0 ||
	    gsp_size_arg(offset_obj ? offset_obj : Py_None, "offset", &offset) < 0 ||
	    gsp_size_arg(size_obj, "size", &size) < 0)
		return NULL;
	if (!offset_obj || offset_obj == Py_None)
		offset = 0;
	GSP_CALL(rc, gs_snap_read_blob(&blob, STORE(self), &id, offset, size));
	if (rc < 0)
		return gsp_raise(st);
	return blob_bytes(st, &blob);
}

static PyObject *fs_readlink(FSObject *self, PyObject *args, PyObject *kwargs)
{
	char *path, *target = NULL;
	PyObject *result;
	int rc;

	if (one_path(self, args, kwargs, "O:readlink", 0, &path) < 0)
		return NULL;
	GSP_CALL(rc, gs_snap_readlink(&target, STORE(self), ROOT(self), path));
	free(path);
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	result = gsp_str(target);
	free(target);
	return result;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */

static int list_dir(FSObject *self, PyObject *args, PyObject *kwargs, const char *fmt,
		    gs_dirlist *out)
{
	char *path;
	int rc;

	if (one_path(self, args, kwargs, fmt, 1, &path) < 0)
		return -1;
	GSP_CALL(rc, gs_snap_list(out, NULL, STORE(self), ROOT(self), path));
	free(path);
	if (rc < 0)
		gsp_raise(gsp_state_of(self));
	return rc;
}

static PyObject *fs_ls(FSObject *self, PyObject *args, PyObject *kwargs)
{
	gs_dirlist dir;
	PyObject *list;

	if (list_dir(self, args, kwargs, "|O:ls", &dir) < 0)
		return NULL;
	list = PyList_New((Py_ssize_t)dir.count);
	for (size_t i = 0; list && i < dir.count; i++) {
		PyObject *name = gsp_str(dir.items[i].name);
		if (!name) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, name);
	}
	gs_dirlist_free(&dir);
	return list;
}

static PyObject *fs_listdir(FSObject *self, PyObject *args, PyObject *kwargs)
{
	gsp_state_t *st = gsp_state_of(self);
	gs_dirlist dir;
	PyObject *list;

	if (list_dir(self, args, kwargs, "|O:listdir", &dir) < 0)
		return NULL;
	list = PyList_New((Py_ssize_t)dir.count);
	for (size_t i = 0; list && i < dir.count; i++) {
		PyObject *entry = gsp_walk_entry(st, &dir.items[i], gsp_str(dir.items[i].name));
		if (!entry) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, entry);
	}
	gs_dirlist_free(&dir);
	return list;
}

static PyObject *fs_walk(FSObject *self, PyObject *args, PyObject *kwargs)
{
	char *path;
	PyObject *iter;

	if (one_path(self, args, kwargs, "|O:walk", 1, &path) < 0)
		return gsp_failed_iter_new(gsp_state_of(self));
	iter = gsp_walk_iter_new(self, path);
	free(path);
	return iter;
}

/* Unsorted matches of a glob pattern, as a list of str. */
static PyObject *glob_list(FSObject *self, PyObject *args, PyObject *kwargs, const char *fmt)
{
	static char *kwlist[] = {"pattern", NULL};
	PyObject *pattern_obj, *list;
	const char *pattern;
	Py_ssize_t len;
	gs_strlist matches;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &pattern_obj))
		return NULL;
	if (!PyUnicode_Check(pattern_obj))
		return PyErr_Format(PyExc_TypeError, "pattern must be str, not %s",
				    Py_TYPE(pattern_obj)->tp_name);
	pattern = PyUnicode_AsUTF8AndSize(pattern_obj, &len);
	if (!pattern)
		return NULL;
	if ((size_t)len != strlen(pattern))
		return PyList_New(0);  /* a NUL matches no name */
	GSP_CALL(rc, gs_snap_glob(&matches, STORE(self), ROOT(self), pattern));
	if (rc < 0) {
		gs_strlist_free(&matches);
		return gsp_raise(gsp_state_of(self));
	}
	list = PyList_New((Py_ssize_t)matches.count);
	for (size_t i = 0; list && i < matches.count; i++) {
		PyObject *s = gsp_str(matches.items[i]);
		if (!s) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, s);
	}
	gs_strlist_free(&matches);
	return list;
}

static PyObject *fs_glob(FSObject *self, PyObject *args, PyObject *kwargs)
{
	PyObject *list = glob_list(self, args, kwargs, "O:glob");

	if (list && PyList_Sort(list) < 0)
		Py_CLEAR(list);
	return list;
}

static PyObject *fs_iglob(FSObject *self, PyObject *args, PyObject *kwargs)
{
	PyObject *list = glob_list(self, args, kwargs, "O:iglob"), *iter;

	if (!list)
		return NULL;
	iter = PyObject_GetIter(list);
	Py_DECREF(list);
	return iter;
}

/* ------------------------------------------------------------------ */
/* History                                                             */

static PyObject *fs_back(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"n", NULL};
	Py_ssize_t n = 1;
	git_oid target;
	int found, rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|n:back", kwlist, &n))
		return NULL;
	if (n < 0)
		return PyErr_Format(PyExc_ValueError, "back() requires n >= 0, got %zd", n);
	if (n == 0)
		return Py_NewRef(self);
	GSP_CALL(rc, gs_history_ancestor(&target, &found, STORE(self), &self->info.id, (size_t)n));
	if (rc < 0)
		return gsp_raise(gsp_state_of(self));
	if (!found) {
		char msg[128];
		/* The dash is U+2014, which PyErr_Format cannot take. */
		snprintf(msg, sizeof(msg),
			 "Cannot go back %zd commits \xe2\x80\x94 history too short", n);
		PyErr_SetString(PyExc_ValueError, msg);
		return NULL;
	}
	return gsp_fs_derive(self, &target);
}

static PyObject *fs_log(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "match", "before", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj = Py_None, *match = Py_None, *before = Py_None, *iter;
	char *path = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O$OO:log", kwlist, &path_obj, &match,
					 &before))
		return NULL;
	/* A generator reports bad arguments when iteration starts. */
	if (path_obj != Py_None && gsp_path_arg(st, path_obj, 0, &path) < 0)
		return gsp_failed_iter_new(st);
	if (match != Py_None && !PyUnicode_Check(match)) {
		free(path);
		PyErr_Format(PyExc_TypeError, "match must be str, not %s", Py_TYPE(match)->tp_name);
		return gsp_failed_iter_new(st);
	}
	if (before != Py_None && PyObject_IsInstance(before, st->datetime) != 1) {
		free(path);
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_TypeError, "before must be a datetime, not %s",
				     Py_TYPE(before)->tp_name);
		return gsp_failed_iter_new(st);
	}
	iter = gsp_log_iter_new(self, path, match, before);
	free(path);
	return iter;
}

static PyObject *fs_close(FSObject *self, PyObject *unused)
{
	/* Reads borrow pooled handles per call, so a snapshot holds nothing
	 * open between calls; close() is kept for API compatibility. */
	Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* Writes                                                              */

/* One file, given as a blob id and mode, committed on its own. */
static PyObject *commit_one(FSObject *self, gs_txn *txn, const char *path, const git_oid *id,
			    uint32_t mode, PyObject *message)
{
	gsp_state_t *st = gsp_state_of(self);
	gs_changeset *cs = NULL;
	PyObject *result = NULL;

	if ((cs = gsp_changeset_new(st)) && gsp_stage_write(st, cs, path, id, mode) == 0)
		result = gsp_fs_commit(self, txn, cs, message, Py_None, "write to", NULL);
	gs_changeset_free(cs);
	return result;
}

/* write() and write_text() once the content is bytes-like, and a
 * writer's close() with its stream instead of data. */
static PyObject *write_content(FSObject *self, PyObject *path_obj, PyObject *data,
			       gs_blob_stream *stream, PyObject *message, PyObject *mode_obj)
{
	gsp_state_t *st = gsp_state_of(self);
	char *path = NULL;
	uint32_t mode;
	gs_txn *txn = NULL;
	git_oid id;
	PyObject *result = NULL;

	if (gsp_path_arg(st, path_obj, 0, &path) < 0)
		return NULL;
	if (gsp_check_writable(self, "write to") < 0 ||
	    gsp_mode_arg(st, mode_obj, GS_MODE_BLOB, &mode) < 0)
		goto done;
	if (!(txn = gsp_txn_begin(self->store)))
		goto done;
	if ((stream ? gsp_store_stream(st, &id, txn, stream)
		    : gsp_store_bytes(st, &id, txn, data)) == 0)
		result = commit_one(self, txn, path, &id, mode, message);
done:
	gsp_txn_free(txn);
	free(path);
	return result;
}

static PyObject *write_data(FSObject *self, PyObject *path_obj, PyObject *data,
			    PyObject *message, PyObject *mode_obj)
{
	return write_content(self, path_obj, data, NULL, message, mode_obj);
}

PyObject *gsp_fs_write_stream(FSObject *fs, PyObject *path, gs_blob_stream *stream)
{
	return write_content(fs, path, NULL, stream, Py_None, Py_None);
}

static PyObject *fs_write(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "data", "message", "mode", NULL};
	PyObject *path, *data, *message = Py_None, *mode = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$OO:write", kwlist, &path, &data,
					 &message, &mode))
		return NULL;
	return write_data(self, path, data, message, mode);
}

static PyObject *fs_write_text(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "text", "encoding", "message", "mode", NULL};
	PyObject *path, *text, *message = Py_None, *mode = Py_None, *data, *result;
	const char *encoding = "utf-8";

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$sOO:write_text", kwlist, &path,
					 &text, &encoding, &message, &mode))
		return NULL;
	if (!PyUnicode_Check(text))
		return PyErr_Format(PyExc_TypeError, "text must be str, not %s",
				    Py_TYPE(text)->tp_name);
	if (!(data = PyUnicode_AsEncodedString(text, encoding, "strict")))
		return NULL;
	result = write_data(self, path, data, message, mode);
	Py_DECREF(data);
	return result;
}

static PyObject *fs_write_from_file(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "local_path", "message", "mode", NULL};
	gsp_state_t *st = gsp_state_of(self);
	PyObject *path_obj, *local, *message = Py_None, *mode_obj = Py_None, *result = NULL;
	char *path = NULL;
	uint32_t mode, detected;
	gs_txn *txn = NULL;
	git_oid id;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$OO:write_from_file", kwlist,
					 &path_obj, &local, &message, &mode_obj))
		return NULL;
	if (gsp_path_arg(st, path_obj, 0, &path) < 0)
		return NULL;
	if (!(txn = gsp_txn_begin(self->store)))
		goto done;
	/* Local-file errors come first (as in the pure-Python gitstore); the
	 * content is only read once the snapshot is known to be writable. */
	{
		PyObject *encoded = NULL;
		struct stat sb;
		int err = 0;
		if (!PyUnicode_FSConverter(local, &encoded))
			goto done;
		if (stat(PyBytes_AS_STRING(encoded), &sb) < 0)
			err = errno;
		Py_DECREF(encoded);
		if (err) {
			errno = err;
			PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, local);
			goto done;
		}
		if (S_ISDIR(sb.st_mode)) {
			PyObject *shown = PyOS_FSPath(local);
			if (shown) {
				PyErr_SetObject(PyExc_IsADirectoryError, shown);
				Py_DECREF(shown);
			}
			goto done;
		}
	}
	if (gsp_check_writable(self, "write to") < 0 ||
	    gsp_store_file(st, &id, &detected, txn, local) < 0 ||
	    gsp_mode_arg(st, mode_obj, detected, &mode) < 0)
		goto done;
	result = commit_one(self, txn, path, &id, mode, message);
done:
	gsp_txn_free(txn);
	free(path);
	return result;
}

static PyObject *fs_write_symlink(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "target", "message", NULL};
	PyObject *path, *target, *message = Py_None, *data, *result;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:write_symlink", kwlist, &path,
					 &target, &message))
		return NULL;
	if (!PyUnicode_Check(target))
		return PyErr_Format(PyExc_TypeError, "target must be str, not %s",
				    Py_TYPE(target)->tp_name);
	if (!(data = PyUnicode_AsEncodedString(target, "utf-8", "surrogateescape")))
		return NULL;
	{
		PyObject *mode = PyLong_FromLong(GS_MODE_LINK);
		result = mode ? write_data(self, path, data, message, mode) : NULL;
		Py_XDECREF(mode);
	}
	Py_DECREF(data);
	return result;
}

/* One value of apply()'s `writes` mapping, stored as a blob. */
static int apply_value(gsp_state_t *st, git_oid *out_id, uint32_t *out_mode, gs_txn *txn,
		       const char *path, PyObject *value)
{
	PyObject *entry = NULL, *data = NULL, *mode_obj = NULL, *target = NULL, *pathlib = NULL,
		 *path_type = NULL;
	uint32_t mode = GS_MODE_BLOB;
	git_oid id;
	int rc = -1;

	if (!(pathlib = PyImport_ImportModule("pathlib")) ||
	    !(path_type = PyObject_GetAttrString(pathlib, "Path")))
		goto done;
	if (PyObject_IsInstance(value, st->WriteEntry) == 1) {
		entry = Py_NewRef(value);
	} else if (PyBytes_Check(value) || PyUnicode_Check(value) || PyByteArray_Check(value) ||
		   PyMemoryView_Check(value) || PyObject_IsInstance(value, path_type) == 1) {
		entry = PyObject_CallOneArg(st->WriteEntry, value);
	} else if (!PyErr_Occurred()) {
		PyObject *shown = gsp_str(path);
		if (shown)
			PyErr_Format(PyExc_TypeError,
				     "Expected WriteEntry, bytes, str, or Path for %R, got %s",
				     shown, Py_TYPE(value)->tp_name);
		Py_XDECREF(shown);
	}
	if (!entry)
		goto done;
	if (!(data = PyObject_GetAttrString(entry, "data")) ||
	    !(mode_obj = PyObject_GetAttrString(entry, "mode")) ||
	    !(target = PyObject_GetAttrString(entry, "target")))
		goto done;
	if (target != Py_None) {
		PyObject *bytes;
		if (!PyUnicode_Check(target)) {
			PyErr_SetString(PyExc_TypeError, "WriteEntry.target must be str");
			goto done;
		}
		if (!(bytes = PyUnicode_AsEncodedString(target, "utf-8", "surrogateescape")))
			goto done;
		rc = gsp_store_bytes(st, &id, txn, bytes);
		Py_DECREF(bytes);
		mode = GS_MODE_LINK;
	} else if (PyObject_IsInstance(data, st->BlobOid) == 1) {
		rc = gsp_oid_arg(data, &id);
		if (rc == 0)
			rc = gsp_mode_arg(st, mode_obj, GS_MODE_BLOB, &mode);
	} else if (PyUnicode_Check(data)) {
		PyObject *bytes = PyUnicode_AsUTF8String(data);
		rc = bytes ? gsp_store_bytes(st, &id, txn, bytes) : -1;
		Py_XDECREF(bytes);
		if (rc == 0)
			rc = gsp_mode_arg(st, mode_obj, GS_MODE_BLOB, &mode);
	} else if (PyObject_CheckBuffer(data)) {
		rc = gsp_mode_arg(st, mode_obj, GS_MODE_BLOB, &mode);
		if (rc == 0)
			rc = gsp_store_bytes(st, &id, txn, data);
	} else if (PyObject_IsInstance(data, path_type) == 1) {
		uint32_t detected;
		rc = gsp_store_file(st, &id, &detected, txn, data);
		if (rc == 0)
			rc = gsp_mode_arg(st, mode_obj, detected, &mode);
	} else if (!PyErr_Occurred()) {
		PyObject *shown = gsp_str(path);
		if (shown)
			PyErr_Format(PyExc_TypeError, "WriteEntry data for %R must be bytes, str, "
				     "pathlib.Path or BlobOid, not %s", shown, Py_TYPE(data)->tp_name);
		Py_XDECREF(shown);
	}
	if (rc == 0) {
		git_oid_cpy(out_id, &id);
		*out_mode = mode;
	}
done:
	Py_XDECREF(entry);
	Py_XDECREF(data);
	Py_XDECREF(mode_obj);
	Py_XDECREF(target);
	Py_XDECREF(path_type);
	Py_XDECREF(pathlib);
	return rc;
}

/* apply()'s `writes`, converted and staged entry by entry (key, then
 * value) in the mapping's order. */
static int apply_writes(gsp_state_t *st, gs_changeset *cs, gs_txn *txn, PyObject *writes)
{
	PyObject *items = NULL, *iter = NULL, *item;
	int rc = -1;

	if (writes == Py_None)
		return 0;
	if (!(items = PyObject_CallMethod(writes, "items", NULL)) ||
	    !(iter = PyObject_GetIter(items)))
		goto done;
	while ((item = PyIter_Next(iter))) {
		char *path = NULL;
		git_oid id;
		uint32_t mode;
		int ok = PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2;

		if (!ok)
			PyErr_SetString(PyExc_TypeError, "writes.items() must yield (path, value) pairs");
		ok = ok && gsp_path_arg(st, PyTuple_GET_ITEM(item, 0), 0, &path) == 0 &&
		     apply_value(st, &id, &mode, txn, path, PyTuple_GET_ITEM(item, 1)) == 0 &&
		     gsp_stage_write(st, cs, path, &id, mode) == 0;
		free(path);
		Py_DECREF(item);
		if (!ok)
			goto done;
	}
	rc = PyErr_Occurred() ? -1 : 0;
done:
	Py_XDECREF(iter);
	Py_XDECREF(items);
	return rc;
}

/* apply()'s `removes`: a str or os.PathLike is one path, any other
 * iterable several. */
static int apply_removes(gsp_state_t *st, gs_changeset *cs, PyObject *removes)
{
	PyObject *iter, *item;
	char *path;
	int rc = 0;

	if (removes == Py_None)
		return 0;
	if (PyUnicode_Check(removes) ||
	    (!PyObject_CheckBuffer(removes) && PyObject_HasAttrString(removes, "__fspath__"))) {
		if (gsp_path_arg(st, removes, 0, &path) < 0)
			return -1;
		rc = gsp_stage_remove(st, cs, path);
		free(path);
		return rc;
	}
	if (!(iter = PyObject_GetIter(removes)))
		return -1;
	while (rc == 0 && (item = PyIter_Next(iter))) {
		rc = gsp_path_arg(st, item, 0, &path);
		if (rc == 0)
			rc = gsp_stage_remove(st, cs, path);
		free(path);
		Py_DECREF(item);
	}
	Py_DECREF(iter);
	return PyErr_Occurred() ? -1 : rc;
}

static PyObject *fs_apply(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"writes", "removes", "message", "operation", NULL};
	PyObject *writes = Py_None, *removes = Py_None, *message = Py_None, *operation = Py_None;
	PyObject *result = NULL;
	gsp_state_t *st = gsp_state_of(self);
	gs_changeset *cs = NULL;
	gs_txn *txn;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO$OO:apply", kwlist, &writes, &removes,
					 &message, &operation))
		return NULL;
	if (!(txn = gsp_txn_begin(self->store)))
		return NULL;
	if ((cs = gsp_changeset_new(st)) && apply_writes(st, cs, txn, writes) == 0 &&
	    apply_removes(st, cs, removes) == 0)
		result = gsp_fs_commit(self, txn, cs, message, operation, "write to", NULL);
	gs_changeset_free(cs);
	gsp_txn_free(txn);
	return result;
}

static PyObject *fs_writer(FSObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"path", "mode", NULL};
	PyObject *path, *mode = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:writer", kwlist, &path, &mode))
		return NULL;
	if (gsp_check_writable(self, "write to") < 0)
		return NULL;
	return gsp_writer_new((PyObject *)self, self->store->store, path, mode, 0);
}

static PyObject *fs_batch(FSObject *self, PyObject *args, PyObject *kwargs)
{
	Py_ssize_t n = PyTuple_GET_SIZE(args);
	PyObject *full = PyTuple_New(n + 1), *result;

	if (!full)
		return NULL;
	PyTuple_SET_ITEM(full, 0, Py_NewRef(self));
	for (Py_ssize_t i = 0; i < n; i++)
		PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
	result = PyObject_Call((PyObject *)gsp_state_of(self)->BatchType, full, kwargs);
	Py_DECREF(full);
	return result;
}

/* ------------------------------------------------------------------ */
/* undo / redo                                                         */

static int steps_arg(PyObject *args, PyObject *kwargs, const char *fmt, Py_ssize_t *steps)
{
	static char *kwlist[] = {"steps", NULL};

	*steps = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, steps))
		return -1;
	if (*steps < 1) {
		PyErr_Format(PyExc_ValueError, "steps must be >= 1, got %zd", *steps);
		return -1;
	}
	return 0;
}

static PyObject *move_branch(FSObject *self, const git_oid *target, const char *message)
{
	const char *branch = PyUnicode_AsUTF8(self->ref_name);
	int status;

	if (!branch)
		return NULL;
	GSP_CALL(status, gs_branch_move(STORE(self), branch, &self->info.id, target, message));
	if (status < 0)
		return gsp_raise(gsp_state_of(self));
	return gsp_fs_derive(self, target);
}

static PyObject *fs_undo(FSObject *self, PyObject *args, PyObject *kwargs)
{
	Py_ssize_t steps;
	FSObject *target;
	PyObject *result;

	if (steps_arg(args, kwargs, "|n:undo", &steps) < 0 || gsp_check_writable(self, "undo on") < 0)
		return NULL;
	target = (FSObject *)Py_NewRef(self);
	for (Py_ssize_t i = 0; i < steps; i++) {
		FSObject *parent;
		if (!target->info.has_parent) {
			Py_DECREF(target);
			return PyErr_Format(PyExc_ValueError,
					    "Cannot undo %zd steps - only %zd commit(s) in history",
					    steps, i);
		}
		parent = (FSObject *)gsp_fs_derive(target, &target->info.parent);
		Py_DECREF(target);
		if (!parent)
			return NULL;
		target = parent;
	}
	result = move_branch(self, &target->info.id, "undo: move back");
	Py_DECREF(target);
	return result;
}

static PyObject *fs_redo(FSObject *self, PyObject *args, PyObject *kwargs)
{
	gsp_state_t *st = gsp_state_of(self);
	Py_ssize_t steps;
	gs_reflog_entry *entries = NULL;
	size_t count = 0;
	const char *branch;
	char *full = NULL;
	git_oid tip, target;
	Py_ssize_t i;
	int status;
	PyObject *result = NULL;

	if (steps_arg(args, kwargs, "|n:redo", &steps) < 0 || gsp_check_writable(self, "redo on") < 0)
		return NULL;
	if (!(branch = PyUnicode_AsUTF8(self->ref_name)))
		return NULL;
	if (!(full = malloc(strlen(branch) + sizeof(GS_REFS_HEADS))))
		return PyErr_NoMemory();
	sprintf(full, GS_REFS_HEADS "%s", branch);
	GSP_CALL(status, gs_ref_resolve(&tip, STORE(self), full));
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	if (!git_oid_equal(&tip, &self->info.id)) {
		PyErr_Format(st->StaleSnapshotError, "Branch %R has advanced since this snapshot",
			     self->ref_name);
		goto done;
	}
	GSP_CALL(status, gs_reflog_read(&entries, &count, STORE(self), full));
	if (status < 0) {
		gsp_raise(st);
		goto done;
	}
	if (count == 0) {
		PyErr_Format(PyExc_ValueError, "No reflog found for branch %R", self->ref_name);
		goto done;
	}
	for (i = (Py_ssize_t)count - 1; i >= 0; i--)
		if (git_oid_equal(&entries[i].new_id, &self->info.id))
			break;
	if (i < 0) {
		PyErr_SetString(PyExc_ValueError, "Cannot redo - current commit not in reflog "
				"(you may have a stale snapshot)");
		goto done;
	}
	for (Py_ssize_t step = 0; step < steps; step++, i--) {
		if (i < 0) {
			PyErr_Format(PyExc_ValueError, "Cannot redo %zd steps - only %zd step(s) available",
				     steps, step);
			goto done;
		}
		git_oid_cpy(&target, &entries[i].old_id);
		if (git_oid_is_zero(&target)) {
			char msg[160];
			snprintf(msg, sizeof(msg), "Cannot redo %zd step(s) \xe2\x80\x94 reaches branch "
				 "creation point (no prior commit)", steps);
			PyErr_SetString(PyExc_ValueError, msg);
			goto done;
		}
	}
	result = move_branch(self, &target, "redo: move forward");
done:
	gs_reflog_free(entries, count);
	free(full);
	return result;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FAST (METH_FASTCALL | METH_KEYWORDS)
#define FN(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef fs_methods[] = {
	{"exists", FN(fs_exists), FAST,
	 "exists($self, /, path)\n--\n\n"
	 "Whether a file or directory is at *path*.\n\n"
	 "Args:\n    path: Repository path (str or os.PathLike).\n\n"
	 "Returns:\n    bool: False also when the path runs through a file.\n\n"
	 "Raises:\n    ValueError: *path* is empty, the root, or malformed.\n"},
	{"is_dir", FN(fs_is_dir), KW,
	 "is_dir($self, /, path)\n--\n\n"
	 "Whether *path* is a directory.\n\n"
	 "Args:\n    path: Repository path.\n\n"
	 "Returns:\n    bool: False for files and for missing paths.\n\n"
	 "Raises:\n    ValueError: *path* is empty, the root, or malformed.\n"},
	{"file_type", FN(fs_file_type), KW,
	 "file_type($self, /, path)\n--\n\n"
	 "The kind of entry at *path*.\n\n"
	 "Args:\n    path: Repository path.\n\n"
	 "Returns:\n    FileType: BLOB, EXECUTABLE, LINK or TREE.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    ValueError: *path* is empty or malformed.\n"},
	{"size", FN(fs_size), KW,
	 "size($self, /, path)\n--\n\n"
	 "Size in bytes of the object at *path*, without reading its content.\n\n"
	 "For a file this is its length (for a symlink, the length of its\n"
	 "target); for a directory, the length of the git tree object.\n\n"
	 "Args:\n    path: Repository path.\n\n"
	 "Returns:\n    int: The size.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    ValueError: *path* is empty or malformed.\n"},
	{"object_hash", FN(fs_object_hash), KW,
	 "object_hash($self, /, path)\n--\n\n"
	 "The git object id of the blob or tree at *path*.\n\n"
	 "Args:\n    path: Repository path.\n\n"
	 "Returns:\n    str: 40 lowercase hex characters.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    ValueError: *path* is empty or malformed (use ``tree_hash`` for the root).\n"},
	{"stat", FN(fs_stat), FAST,
	 "stat($self, /, path=None)\n--\n\n"
	 "Mode, type, size, object id, link count and time of *path*.\n\n"
	 "Directories report size 0 and ``nlink`` 2 plus their number of\n"
	 "subdirectories; ``mtime`` is the snapshot's commit time for every path.\n\n"
	 "Args:\n    path: Repository path; None, \"\" or \"/\" for the root.\n\n"
	 "Returns:\n    StatResult: The entry's metadata.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    ValueError: *path* is malformed.\n"},
	{"read", FN(fs_read), FAST,
	 "read($self, /, path, *, offset=0, size=None)\n--\n\n"
	 "The content of the file at *path* (a symlink gives its target).\n\n"
	 "Args:\n    path: Repository path.\n"
	 "    offset: First byte to return.\n"
	 "    size: Most bytes to return; None reads to the end.  Reading past\n"
	 "        the end returns what there is.\n\n"
	 "Returns:\n    bytes: The content, or the requested slice of it.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    IsADirectoryError: *path* is a directory.\n"
	 "    NotADirectoryError: *path* runs through a file.\n"
	 "    ValueError: *path* is malformed, or *offset*/*size* is negative.\n"},
	{"open", FN(fs_open), KW,
	 "open($self, /, path)\n--\n\n"
	 "The file at *path* as a read-only, seekable binary file object.\n\n"
	 "It works wherever a binary file does (``shutil.copyfileobj``,\n"
	 "``zipfile.ZipFile``, ``pandas.read_csv``) and as a context manager.\n\n"
	 "A file stored whole streams: memory stays a few buffers whatever its\n"
	 "size, sequential reads cost what they return, a read further on costs\n"
	 "at most inflating what lies between, and a read further back starts\n"
	 "again from the beginning.  Stored whole are loose objects (how this\n"
	 "store writes files of 1 MiB and more) and files of 1 MiB and more that\n"
	 "git packed whole (by ``git gc``, a clone or ``git fast-import``).  A\n"
	 "file git packed as a delta against another, or a packed file under\n"
	 "1 MiB, is read into memory when it is opened; git makes no deltas of\n"
	 "files above ``core.bigFileThreshold`` (512 MiB by default).  The file\n"
	 "reads on when another process repacks the repository meanwhile.\n\n"
	 "Args:\n    path: Repository path (a symlink gives its target).\n\n"
	 "Returns:\n    BlobFile: An ``io.RawIOBase`` positioned at the start.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    IsADirectoryError: *path* is a directory.\n"
	 "    NotADirectoryError: *path* runs through a file.\n"
	 "    ValueError: *path* is malformed.\n"},
	{"read_text", FN(fs_read_text), FAST,
	 "read_text($self, /, path, encoding='utf-8')\n--\n\n"
	 "The content of the file at *path*, decoded.\n\n"
	 "Args:\n    path: Repository path.\n    encoding: Text encoding (strict decoding).\n\n"
	 "Returns:\n    str: The decoded content.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    IsADirectoryError: *path* is a directory.\n"
	 "    UnicodeDecodeError: The content is not valid in *encoding*.\n"},
	{"read_by_hash", FN(fs_read_by_hash), KW,
	 "read_by_hash($self, /, hash, *, offset=0, size=None)\n--\n\n"
	 "The content of a blob named by its object id, with no path lookup.\n\n"
	 "The blob need not be reachable from this snapshot.\n\n"
	 "Args:\n    hash: 40-hex object id, as str or bytes.\n"
	 "    offset: First byte to return.\n    size: Most bytes to return; None reads to the end.\n\n"
	 "Returns:\n    bytes: The content, or the requested slice of it.\n\n"
	 "Raises:\n    KeyError: No object has that id.\n"
	 "    ValueError: The id is malformed or names something other than a blob.\n"},
	{"readlink", FN(fs_readlink), KW,
	 "readlink($self, /, path)\n--\n\n"
	 "The target of the symlink at *path*.\n\n"
	 "Args:\n    path: Repository path.\n\n"
	 "Returns:\n    str: The target, as stored.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    ValueError: The entry is not a symlink.\n"},
	{"ls", FN(fs_ls), KW,
	 "ls($self, /, path=None)\n--\n\n"
	 "Names in the directory at *path*, in git tree order.\n\n"
	 "Args:\n    path: Directory path; None, \"\" or \"/\" for the root.\n\n"
	 "Returns:\n    list[str]: File and directory names, dot-names included.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    NotADirectoryError: *path* is a file, or runs through one.\n"},
	{"listdir", FN(fs_listdir), KW,
	 "listdir($self, /, path=None)\n--\n\n"
	 "Entries of the directory at *path*, with object ids and modes.\n\n"
	 "Args:\n    path: Directory path; None, \"\" or \"/\" for the root.\n\n"
	 "Returns:\n    list[WalkEntry]: One per entry, in git tree order.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path*.\n"
	 "    NotADirectoryError: *path* is a file, or runs through one.\n"},
	{"walk", FN(fs_walk), KW,
	 "walk($self, /, path=None)\n--\n\n"
	 "Walk the tree below *path*, like ``os.walk``, top-down.\n\n"
	 "Yields ``(dirpath, dirnames, files)`` for the start directory and\n"
	 "every directory below it: *dirpath* is the full repository path\n"
	 "(\"\" for the root), *dirnames* the subdirectory names and *files* a\n"
	 "WalkEntry per file.  Changing *dirnames* does not prune the walk.\n\n"
	 "Args:\n    path: Start directory; None, \"\" or \"/\" for the root.\n\n"
	 "Returns:\n    Iterator[tuple[str, list[str], list[WalkEntry]]]: The walk.\n\n"
	 "Raises:\n    FileNotFoundError: Nothing is at *path* (on first iteration).\n"
	 "    NotADirectoryError: *path* is a file (on first iteration).\n"},
	{"glob", FN(fs_glob), KW,
	 "glob($self, /, pattern)\n--\n\n"
	 "Paths of files and directories matching *pattern*, sorted.\n\n"
	 "``*`` and ``?`` match within one name, ``[seq]`` a set of characters,\n"
	 "``**`` any number of directories.  Wildcards skip names starting with\n"
	 "``.`` unless the pattern segment starts with ``.`` too.  ``base/./rest``\n"
	 "matches ``base/rest`` and reports paths with the ``/./`` kept.\n\n"
	 "Args:\n    pattern: Glob pattern, relative to the root.\n\n"
	 "Returns:\n    list[str]: The matching paths.\n"},
	{"iglob", FN(fs_iglob), KW,
	 "iglob($self, /, pattern)\n--\n\n"
	 "Like ``glob``, as an iterator in no particular order.\n\n"
	 "Args:\n    pattern: Glob pattern.\n\n"
	 "Returns:\n    Iterator[str]: The matching paths, each once.\n"},
	{"back", FN(fs_back), KW,
	 "back($self, /, n=1)\n--\n\n"
	 "The snapshot *n* commits back along the first-parent chain.\n\n"
	 "Args:\n    n: Number of commits to go back; 0 returns this snapshot.\n\n"
	 "Returns:\n    FS: The ancestor (same ref name and writability).\n\n"
	 "Raises:\n    ValueError: *n* is negative or the history is shorter than *n*.\n"},
	{"log", FN(fs_log), KW,
	 "log($self, /, path=None, *, match=None, before=None)\n--\n\n"
	 "This snapshot and its first-parent ancestors, newest first.\n\n"
	 "Args:\n    path: Only commits that changed this path (content, mode,\n"
	 "        addition or removal; anything below it for a directory).\n"
	 "    match: Only commits whose message matches this fnmatch pattern.\n"
	 "    before: Only commits made at or before this datetime (a naive\n"
	 "        datetime is taken as UTC).\n\n"
	 "Returns:\n    Iterator[FS]: The matching snapshots; this snapshot itself\n"
	 "        comes first when it matches.\n"},
	{"write", FN(fs_write), KW,
	 "write($self, /, path, data, *, message=None, mode=None)\n--\n\n"
	 "Write *data* to the file at *path* and commit.\n\n"
	 "Missing parent directories are created; a file or directory already at\n"
	 "*path* is replaced.  Writing the content and mode a file already has\n"
	 "makes no commit and returns this snapshot.\n\n"
	 "Names git itself refuses are refused by this and every other write, so\n"
	 "that ``git fsck --strict`` stays clean: any name git reads as ``.git``\n"
	 "(``.GIT``, ``git~1``, ``.git.``, ``.git::$DATA``, ``.g\\u200cit``, ...);\n"
	 "a ``.gitmodules`` or ``.gitattributes`` (or one of its aliases such as\n"
	 "``GITMOD~1``) that is a directory or a symlink, or whose content git\n"
	 "rejects; a ``.gitignore`` or ``.mailmap`` that is a symlink.\n\n"
	 "Args:\n    path: Repository path of the file.\n"
	 "    data: Content; any bytes-like object.\n"
	 "    message: Commit message; None for a generated one (``+ path``,\n"
	 "        ``~ path``).  ``{default}``, ``{add_count}``, ``{update_count}``,\n"
	 "        ``{delete_count}``, ``{total_count}`` and ``{op}`` are filled in.\n"
	 "    mode: FileType or int filemode; None for a regular file.\n\n"
	 "Returns:\n    FS: The new snapshot on the same branch.\n\n"
	 "Raises:\n    PermissionError: The snapshot is read-only (a tag or detached).\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"
	 "    ValueError: *path* is malformed or a name git refuses, *data* is\n"
	 "        content git refuses there, or *mode* is the tree mode.\n"
	 "    TypeError: *data* is not bytes-like.\n"},
	{"write_text", FN(fs_write_text), KW,
	 "write_text($self, /, path, text, *, encoding='utf-8', message=None, mode=None)\n--\n\n"
	 "Write *text*, encoded, to the file at *path* and commit.\n\n"
	 "Args:\n    path: Repository path of the file.\n    text: The text.\n"
	 "    encoding: Encoding used (strict).\n    message: Commit message, as for ``write``.\n"
	 "    mode: FileType or int filemode; None for a regular file.\n\n"
	 "Returns:\n    FS: The new snapshot.\n\n"
	 "Raises:\n    UnicodeEncodeError: *text* cannot be encoded.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"write_from_file", FN(fs_write_from_file), KW,
	 "write_from_file($self, /, path, local_path, *, message=None, mode=None)\n--\n\n"
	 "Store the local file *local_path* at *path* and commit.\n\n"
	 "The file is streamed: memory use does not grow with its size.  It\n"
	 "becomes executable in the repository when any execute bit is set on\n"
	 "disk, unless *mode* says otherwise.\n\n"
	 "Args:\n    path: Repository path of the file.\n"
	 "    local_path: File on disk (str, bytes or os.PathLike).\n"
	 "    message: Commit message, as for ``write``.\n"
	 "    mode: FileType or int filemode overriding the detected one.\n\n"
	 "Returns:\n    FS: The new snapshot.\n\n"
	 "Raises:\n    FileNotFoundError: *local_path* does not exist.\n"
	 "    IsADirectoryError: *local_path* is a directory.\n"
	 "    PermissionError: The snapshot is read-only, or the file is unreadable.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"write_symlink", FN(fs_write_symlink), KW,
	 "write_symlink($self, /, path, target, *, message=None)\n--\n\n"
	 "Make *path* a symlink to *target* and commit.\n\n"
	 "The target is stored as given (it may dangle or be absolute).\n\n"
	 "Args:\n    path: Repository path of the link.\n    target: Link target.\n"
	 "    message: Commit message, as for ``write``.\n\n"
	 "Returns:\n    FS: The new snapshot.\n\n"
	 "Raises:\n    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"
	 "    ValueError: *path* is malformed or a name git refuses for a link\n"
	 "        (see `write`).\n"},
	{"apply", FN(fs_apply), KW,
	 "apply($self, /, writes=None, removes=None, *, message=None, operation=None)\n--\n\n"
	 "Apply many writes and removals in one commit.\n\n"
	 "Removals are applied first, then writes, so\n"
	 "``apply({\"d/x\": b\"1\"}, removes=\"d\")`` leaves ``d`` holding only ``x``.\n"
	 "Removing a path that does not exist changes nothing.\n\n"
	 "Args:\n    writes: Mapping of path to content: bytes-like, str (UTF-8 text),\n"
	 "        pathlib.Path (a local file), BlobOid (a stored blob) or WriteEntry.\n"
	 "    removes: A path or an iterable of paths; directories go recursively.\n"
	 "    message: Commit message, as for ``write``.\n"
	 "    operation: Name shown in a generated multi-change message\n"
	 "        (``Batch <operation>: +2 -1``) and as ``{op}``.\n\n"
	 "Returns:\n    FS: The new snapshot, or this one when nothing changed.\n\n"
	 "Raises:\n    TypeError: A value of an unsupported type.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"writer", FN(fs_writer), KW,
	 "writer($self, /, path, mode='wb')\n--\n\n"
	 "A file-like object whose content is committed to *path* on close.\n\n"
	 "Use it as a context manager; after a clean exit its ``fs`` attribute is\n"
	 "the new snapshot.  An exception inside the block commits nothing.\n\n"
	 "Args:\n    path: Repository path of the file.\n"
	 "    mode: ``\"wb\"`` for bytes or ``\"w\"`` for text (UTF-8).\n\n"
	 "The content streams into the repository as it is written: memory\n"
	 "stays bounded whatever the file's size.\n\n"
	 "Returns:\n    SnapshotWriter: A file-like writer (``write``, ``close``, context\n"
	 "    manager).\n\n"
	 "Raises:\n    PermissionError: The snapshot is read-only.\n"
	 "    ValueError: *mode* is neither ``\"wb\"`` nor ``\"w\"``.\n"},
	{"batch", FN(fs_batch), KW,
	 "batch($self, /, message=None, operation=None)\n--\n\n"
	 "A Batch collecting writes and removals for one commit.\n\n"
	 "Args:\n    message: Commit message, as for ``write``.\n"
	 "    operation: Name used in a generated message.\n\n"
	 "Returns:\n    Batch: Commits when its ``with`` block ends without error.\n\n"
	 "Raises:\n    PermissionError: The snapshot is read-only.\n"},
	{"undo", FN(fs_undo), KW,
	 "undo($self, /, steps=1)\n--\n\n"
	 "Move the branch back *steps* commits (first parents).\n\n"
	 "Args:\n    steps: Number of commits to go back, at least 1.\n\n"
	 "Returns:\n    FS: The snapshot the branch now points at.\n\n"
	 "Raises:\n    ValueError: *steps* < 1 or the history is shorter.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"redo", FN(fs_redo), KW,
	 "redo($self, /, steps=1)\n--\n\n"
	 "Move the branch to where it was before its last *steps* moves.\n\n"
	 "Uses the branch's reflog: after ``undo()``, ``redo()`` goes back to the\n"
	 "commit that was undone.\n\n"
	 "Args:\n    steps: Number of reflog entries to go back, at least 1.\n\n"
	 "Returns:\n    FS: The snapshot the branch now points at.\n\n"
	 "Raises:\n    ValueError: *steps* < 1, or the reflog has no such history.\n"
	 "    PermissionError: The snapshot is read-only.\n"
	 "    StaleSnapshotError: The branch has moved since this snapshot.\n"},
	{"close", FN(fs_close), METH_NOARGS,
	 "close($self, /)\n--\n\n"
	 "Release what the snapshot holds open.  Safe to call more than once;\n"
	 "the snapshot stays usable afterwards.\n"},
	{NULL}
};

static PyObject *fs_get_commit_oid(FSObject *self, void *c)
{
	return gsp_hex_bytes(&self->info.id);
}

static PyObject *fs_get_tree_oid(FSObject *self, void *c)
{
	return gsp_hex_bytes(ROOT(self));
}

static PyGetSetDef fs_getset[] = {
	/* The names the pure-Python gitstore's tests use (hex bytes). */
	{"_commit_oid", (getter)fs_get_commit_oid, NULL, NULL, NULL},
	{"_tree_oid", (getter)fs_get_tree_oid, NULL, NULL, NULL},
	{"writable", (getter)fs_get_writable, NULL,
	 "bool: Whether writes are allowed (branch snapshots are writable;\n"
	 "tags and detached snapshots are not).", NULL},
	{"commit_hash", (getter)fs_get_commit_hash, NULL,
	 "str: The snapshot's commit id (40 hex characters).", NULL},
	{"ref_name", (getter)fs_get_ref_name, NULL,
	 "str | None: The branch or tag this snapshot came from, or None.", NULL},
	{"tree_hash", (getter)fs_get_tree_hash, NULL,
	 "str: The id of the snapshot's root tree.", NULL},
	{"message", (getter)fs_get_message, NULL,
	 "str: The commit message, without trailing newlines.", NULL},
	{"time", (getter)fs_get_time, NULL,
	 "datetime: The commit time, timezone-aware, in the commit's own offset.", NULL},
	{"author_name", (getter)fs_get_author_name, NULL, "str: The commit author's name.", NULL},
	{"author_email", (getter)fs_get_author_email, NULL,
	 "str: The commit author's email.", NULL},
	{"changes", (getter)fs_get_changes, NULL,
	 "ChangeReport | None: What the operation that made this snapshot\n"
	 "changed; None for snapshots obtained any other way.", NULL},
	{"parent", (getter)fs_get_parent, NULL,
	 "FS | None: The first parent commit's snapshot, or None for a root commit.", NULL},
	{NULL}
};

static PyType_Slot fs_slots[] = {
	{Py_tp_doc,
	 "FS(store, commit_oid, ref_name=None, *, writable=None)\n--\n\n"
	 "An immutable snapshot of a store: one commit's tree.\n\n"
	 "Get one from ``store.branches[name]`` (writable), ``store.tags[name]``\n"
	 "(read-only) or a snapshot's history.  A snapshot never changes;\n"
	 "writes return new snapshots.  Paths are ``/``-separated and relative\n"
	 "to the root; symlinks are never followed.\n"},
	{Py_tp_new, fs_new},
	{Py_tp_dealloc, fs_dealloc},
	{Py_tp_traverse, fs_traverse},
	{Py_tp_clear, fs_clear},
	{Py_tp_repr, fs_repr},
	{Py_tp_methods, fs_methods},
	{Py_tp_getset, fs_getset},
	{0, NULL}
};

/* FS is the one mutable type: its methods may be patched, as with
 * unittest.mock.patch.object(FS, "write", ...) to stage a lost race
 * (retry_write calls fs.write through ordinary lookup, so such a patch
 * applies).  gsp_fs_register adds fs_bulk.c's and fs_copy.c's methods
 * the same way. */
static PyType_Spec fs_spec = {
	.name = "gitstore.FS",
	.basicsize = sizeof(FSObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.slots = fs_slots,
};

static int add_method(PyTypeObject *type, PyMethodDef *def)
{
	PyObject *descr = PyDescr_NewMethod(type, def);
	int rc = descr ? PyObject_SetAttrString((PyObject *)type, def->ml_name, descr) : -1;

	Py_XDECREF(descr);
	return rc;
}

int gsp_fs_register(PyObject *module)
{
	gsp_state_t *st = PyModule_GetState(module);

	st->FSType = gsp_add_type(module, &fs_spec, "FS");
	if (!st->FSType)
		return -1;
	/* The bulk, copy and archive methods live in files of their own. */
	PyMethodDef *tables[] = {gsp_fs_bulk_methods, gsp_fs_copy_methods, gsp_fs_archive_methods};
	for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++)
		for (PyMethodDef *def = tables[i]; def->ml_name; def++)
			if (add_method(st->FSType, def) < 0)
				return -1;
	return 0;
}
