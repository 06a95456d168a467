/* binding.h - what the files of the CPython binding share. */
#ifndef GSP_BINDING_H
#define GSP_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "gs.h"

/* store, display_path and signature are set before open() returns;
 * branches, tags and notes are made on first use, in the store's
 * critical section (store.c). */
typedef struct {
	PyObject_HEAD
	gs_store *store;
	PyObject *display_path;  /* str(Path(path)) as given to open() */
	PyObject *signature;     /* gitstore.Signature */
	PyObject *branches;
	PyObject *tags;
	PyObject *notes;
} GitStoreObject;

/* Everything but changes is set before the snapshot is returned;
 * changes goes through gsp_fs_set_changes. */
typedef struct {
	PyObject_HEAD
	GitStoreObject *store;
	gs_commit_info info;
	PyObject *ref_name;      /* str or None */
	int writable;
	PyObject *changes;       /* ChangeReport or None */
} FSObject;

/* The module's state: our types, the exception classes and the Python
 * value types we build.  Each module object has its own (multi-phase
 * init), filled by its exec slot and read-only from then on.  The list
 * is written once: the struct and module.c's traverse and clear are made
 * from it. */
#define GSP_STATE_OBJECTS(X) \
	X(PyTypeObject, GitStoreType) \
	X(PyTypeObject, FSType) \
	X(PyTypeObject, BlobFileType) \
	X(PyTypeObject, RefDictBaseType) \
	X(PyTypeObject, BatchType) \
	X(PyTypeObject, SnapshotWriterType) \
	X(PyTypeObject, BatchWriterType) \
	X(PyObject, RefDict)               /* RefDictBase + MutableMapping */ \
	X(PyTypeObject, WalkIterType) \
	X(PyTypeObject, LogIterType) \
	X(PyTypeObject, FailedIterType) \
	X(PyTypeObject, ExcludeFilterType) \
	X(PyTypeObject, NoteDictBaseType) \
	X(PyTypeObject, NoteNamespaceBaseType) \
	X(PyTypeObject, NotesBatchType) \
	X(PyTypeObject, NoteIterType) \
	X(PyObject, NoteDict)              /* NoteDictBase + Mapping */ \
	X(PyObject, NoteNamespace)         /* NoteNamespaceBase + MutableMapping */ \
	X(PyObject, NoteItemsView)         /* ItemsView reading the core iterator */ \
	X(PyObject, NoteValuesView)        /* ValuesView reading the core iterator */ \
	X(PyObject, StaleSnapshotError) \
	X(PyObject, GitError) \
	X(PyObject, FileType)              /* from gitstore._types */ \
	X(PyObject, filetype_blob) \
	X(PyObject, filetype_exec) \
	X(PyObject, filetype_link) \
	X(PyObject, filetype_tree) \
	X(PyObject, mode_blob)             /* the four filemodes as ints */ \
	X(PyObject, mode_exec) \
	X(PyObject, mode_link) \
	X(PyObject, mode_tree) \
	X(PyObject, StatResult) \
	X(PyObject, WalkEntry) \
	X(PyObject, ReflogEntry) \
	X(PyObject, Signature) \
	X(PyObject, BlobOid) \
	X(PyObject, FileEntry) \
	X(PyObject, ChangeError) \
	X(PyObject, ChangeReport) \
	X(PyObject, WriteEntry) \
	X(PyObject, RefChange) \
	X(PyObject, MirrorDiff) \
	X(PyObject, format_commit_message) \
	X(PyObject, timezone)              /* from datetime */ \
	X(PyObject, timedelta) \
	X(PyObject, datetime)

typedef struct {
#define GSP_STATE_FIELD(type, name) type *name;
	GSP_STATE_OBJECTS(GSP_STATE_FIELD)
#undef GSP_STATE_FIELD
} gsp_state_t;

extern PyModuleDef gsp_module_def;

#if PY_VERSION_HEX < 0x030B0000
/* Python 3.10 lacks PyType_GetModuleByDef: the first heap type in the
 * MRO that one of our modules defined. */
static inline PyObject *PyType_GetModuleByDef(PyTypeObject *type, PyModuleDef *def)
{
	PyObject *mro = type->tp_mro;

	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
		PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
		PyObject *module;

		if (!(base->tp_flags & Py_TPFLAGS_HEAPTYPE))
			continue;
		module = ((PyHeapTypeObject *)base)->ht_module;
		if (module && PyModule_GetDef(module) == def)
			return module;
	}
	PyErr_Format(PyExc_TypeError, "%s is not a type of gitstore._core", type->tp_name);
	return NULL;
}
#endif

/* The state of the module that defined `type` (or the base of it that
 * is ours: RefDict and subclasses made in Python find it through the
 * MRO).  Every object of ours reaches its module's state this way. */
static inline gsp_state_t *gsp_state_by_type(PyTypeObject *type)
{
	PyObject *module = PyType_GetModuleByDef(type, &gsp_module_def);

	assert(module != NULL);
	return (gsp_state_t *)PyModule_GetState(module);
}

/* The module state an object of one of our types belongs to. */
#define gsp_state_of(obj) gsp_state_by_type(Py_TYPE(obj))

/* Critical sections guard the little mutable state binding objects have
 * (see each use).  They exist from Python 3.13, and lock only in the
 * free-threaded build; before 3.13 the GIL does their work. */
#ifndef Py_BEGIN_CRITICAL_SECTION
#define Py_BEGIN_CRITICAL_SECTION(op) {
#define Py_END_CRITICAL_SECTION() }
#endif

/* A claim on an object's state that is not shared between threads (a
 * core iterator, say) for one call, which may release the GIL: *busy is
 * tested and set in the object's critical section, so two threads never
 * both hold it.  0 when claimed; -1, with no exception set, when another
 * thread holds it. */
static inline int gsp_claim(PyObject *obj, int *busy)
{
	int taken;

	Py_BEGIN_CRITICAL_SECTION(obj);
	taken = !*busy;
	*busy = 1;
	Py_END_CRITICAL_SECTION();
	return taken ? 0 : -1;
}

static inline void gsp_unclaim(PyObject *obj, int *busy)
{
	Py_BEGIN_CRITICAL_SECTION(obj);
	*busy = 0;
	Py_END_CRITICAL_SECTION();
}

/* errors.c: turn the core's error record into a Python exception (and
 * clear it, so that no later failure can report it again).  st gives
 * the module's own exception classes. */
PyObject *gsp_raise(gsp_state_t *st);
/* Run a core call with the GIL released.  The error record is cleared
 * first, so that what the call leaves there is its own. */
#define GSP_CALL(status_var, call) do { \
	gs_error_clear(); \
	Py_BEGIN_ALLOW_THREADS \
	status_var = (call); \
	Py_END_ALLOW_THREADS \
} while (0)

/* callout.c: a core call run without the GIL whose callbacks (progress
 * callables, file objects) take it back one at a time.  A callback brackets
 * its Python work with enter/leave; leave keeps the first exception and
 * returns -1 for a failure, which tells the core to stop.  After a failed
 * call, raise re-raises that exception, else the core's error. */
typedef struct {
	PyThreadState *tstate;
	PyObject *exc_type, *exc_value, *exc_tb;
} gsp_callout;
void gsp_callout_enter(gsp_callout *c);
int gsp_callout_leave(gsp_callout *c, int failed);
PyObject *gsp_callout_raise(gsp_state_t *st, gsp_callout *c);
void gsp_callout_clear(gsp_callout *c);
#define GSP_CALLOUT(c, status_var, call) do { \
	gs_error_clear(); \
	(c).tstate = PyEval_SaveThread(); \
	status_var = (call); \
	PyEval_RestoreThread((c).tstate); \
	(c).tstate = NULL; \
} while (0)
/* A progress argument: None (*out NULL) or a callable (borrowed). */
int gsp_progress_arg(PyObject *arg, PyObject **out);

/* convert.c */
/* A repository path argument: str or os.PathLike[str].  With allow_root,
 * root forms (None, "", "/") give *out = NULL.  Otherwise normalised. */
int gsp_path_arg(gsp_state_t *st, PyObject *arg, int allow_root, char **out);
/* The UTF-8 of a path argument (str or os.PathLike[str]; lone surrogates
 * encoded with surrogateescape), not normalised, borrowed: valid while
 * *holder lives.  -1: exception set. */
int gsp_path_view(PyObject *arg, PyObject **holder, const char **data, size_t *len);
/* Arguments of a METH_FASTCALL | METH_KEYWORDS method, as
 * PyArg_ParseTupleAndKeywords parses them; 0: exception set.  The usual
 * call, one object (for a first unit "O") or none by position, builds no
 * tuple or dict. */
int gsp_fast_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
		  const char *fmt, char **kwlist, ...);
/* The bytes the core takes for a path argument (str or os.PathLike[str],
 * UTF-8 with surrogateescape), not normalised.  NULL: exception set. */
PyObject *gsp_path_encoded(PyObject *arg);
PyObject *gsp_str(const char *s);          /* UTF-8, surrogateescape */
/* The bytes of a path gsp_str made (names that are not UTF-8 come back
 * as they were); valid while *holder lives.  NULL: exception set. */
const char *gsp_path_utf8(PyObject *text, PyObject **holder);
PyObject *gsp_hex(const git_oid *id);      /* 40-hex str */
PyObject *gsp_hex_bytes(const git_oid *id);
/* A 40-hex str or bytes object id; ValueError when malformed. */
int gsp_oid_arg(PyObject *arg, git_oid *out);
PyObject *gsp_filetype(gsp_state_t *st, uint32_t mode);  /* FileType member, KeyError */
/* A WalkEntry for entry named `name`, a reference it takes (NULL: making
 * the name failed, and so does this). */
PyObject *gsp_walk_entry(gsp_state_t *st, const gs_dirent *entry, PyObject *name);
/* A non-negative int or None (SIZE_MAX) for offset/size arguments. */
int gsp_size_arg(PyObject *arg, const char *what, size_t *out);

/* store.c */
int gsp_store_register(PyObject *module);
/* mirror.c: backup and restore, in GitStore's method table. */
extern PyMethodDef gsp_store_mirror_methods[];
/* refdict.c */
/* Short names of the refs below prefix, sorted (a list of str). */
PyObject *gsp_ref_names(gsp_state_t *st, gs_store *store, const char *prefix);
int gsp_refdict_register(PyObject *module);
PyObject *gsp_refdict_new(GitStoreObject *store, int tags);
/* notes.c: NoteDict, NoteNamespace, NotesBatch. */
int gsp_notes_register(PyObject *module);
PyObject *gsp_notedict_new(GitStoreObject *store);
/* fs.c */
int gsp_fs_register(PyObject *module);
PyObject *gsp_fs_new(GitStoreObject *store, const git_oid *commit, PyObject *ref_name,
		     int writable);
/* Same store, ref name and writability as `like`. */
PyObject *gsp_fs_derive(FSObject *like, const git_oid *commit);
/* The same, for a commit already read: takes *info over (cleared). */
PyObject *gsp_fs_adopt(FSObject *like, gs_commit_info *info);
/* The snapshot of a commit just made on top of `parent` by this store
 * (built from what was written, without reading the commit back). */
PyObject *gsp_fs_child(FSObject *parent, const git_oid *commit, const git_oid *tree,
		       int64_t when, const char *message);
/* fs.changes = changes (a new reference is taken).  Dry runs set it on
 * a snapshot other threads may be reading: the FS's critical section
 * guards it. */
void gsp_fs_set_changes(FSObject *fs, PyObject *changes);
/* fs.write(path, <the stream's content>): the new FS (or fs for a no-op). */
PyObject *gsp_fs_write_stream(FSObject *fs, PyObject *path, gs_blob_stream *stream);
/* blobfile.c: BlobFile, the file objects FS.open returns. */
int gsp_blobfile_register(PyObject *module);
PyObject *gsp_blobfile_new(FSObject *fs, PyObject *path);
/* fs_bulk.c: the bulk methods of FS (remove, ...), in FS's method table. */
extern PyMethodDef gsp_fs_bulk_methods[];
/* A `sources` argument as the core takes it: a str or os.PathLike is one
 * source, any other iterable several (each str or os.PathLike[str]). */
int gsp_source_list(gsp_state_t *st, gs_strlist *out, PyObject *sources);
/* fs_copy.c: copy_in, copy_out, sync_in and sync_out; _disk_walk. */
extern PyMethodDef gsp_fs_copy_methods[];
PyObject *gsp_disk_walk(PyObject *module, PyObject *args, PyObject *kwargs);
/* archive.c: archive_out and archive_in, in FS's method table. */
extern PyMethodDef gsp_fs_archive_methods[];
/* exclude.c: the ExcludeFilter type and disk_glob(). */
int gsp_exclude_register(PyObject *module);
/* The core filter behind an ExcludeFilter object, or NULL (with a
 * TypeError) when obj is not one; None gives *out = NULL and 0. */
int gsp_exclude_arg(gsp_state_t *st, PyObject *obj, struct gs_exclude **out);
/* batch.c */
int gsp_batch_register(PyObject *module);
/* batch.write(path, <the stream's content>). */
int gsp_batch_write_stream(PyObject *batch, PyObject *path, gs_blob_stream *stream);
/* writer.c: the writers FS.writer() (batch 0) and Batch.writer() (batch 1)
 * return; owner is the FS or Batch, store its repository. */
int gsp_writer_register(PyObject *module);
PyObject *gsp_writer_new(PyObject *owner, gs_store *store, PyObject *path, PyObject *mode,
			 int batch);
/* fsiter.c */
int gsp_fsiter_register(PyObject *module);
PyObject *gsp_walk_iter_new(FSObject *fs, const char *path);
PyObject *gsp_log_iter_new(FSObject *fs, const char *path, PyObject *match, PyObject *before);
/* An iterator that raises the pending exception on its first next(). */
PyObject *gsp_failed_iter_new(gsp_state_t *st);

/* pipeline.c: the one commit path, and what it reports. */
/* The core changeset calls, raising on failure (gsp_raise; NULL / -1). */
gs_changeset *gsp_changeset_new(gsp_state_t *st);
int gsp_stage_write(gsp_state_t *st, gs_changeset *cs, const char *path, const git_oid *id,
		    uint32_t mode);
int gsp_stage_remove(gsp_state_t *st, gs_changeset *cs, const char *path);
/* PermissionError "Cannot <verb> read-only snapshot ..." unless writable. */
int gsp_check_writable(FSObject *fs, const char *verb);
/* None -> fallback; FileType or int filemode; the tree mode is refused. */
int gsp_mode_arg(gsp_state_t *st, PyObject *mode, uint32_t fallback, uint32_t *out);
gs_txn *gsp_txn_begin(GitStoreObject *store);
void gsp_txn_free(gs_txn *txn);
/* Store any bytes-like object as a blob. */
int gsp_store_bytes(gsp_state_t *st, git_oid *out, gs_txn *txn, PyObject *data);
/* A core report as a ChangeReport. */
PyObject *gsp_report_new(gsp_state_t *st, const gs_report *report);
/* Finish a writer's stream into txn: the blob's id. */
int gsp_store_stream(gsp_state_t *st, git_oid *out, gs_txn *txn, gs_blob_stream *stream);
/* Store a local file as a blob; *detected_mode from its execute bits. */
int gsp_store_file(gsp_state_t *st, git_oid *out, uint32_t *detected_mode, gs_txn *txn,
		   PyObject *local_path);
/* Commit `cs` on fs's branch: a new FS, or fs itself when nothing changed.
 * A read-only fs raises "Cannot <verb> read-only snapshot"; the new FS's
 * .changes is `changes` when given, else the report of what changed. */
PyObject *gsp_fs_commit(FSObject *fs, gs_txn *txn, const gs_changeset *cs, PyObject *message,
			PyObject *operation, const char *verb, PyObject *changes);

/* Create a heap type from a spec and add it to the module. */
PyTypeObject *gsp_add_type(PyObject *module, PyType_Spec *spec, const char *attr);
/* The class `name` of module gitstore deriving from `base` and the ABC
 * collections.abc.<abc> (whose mixin methods it gets), with base's
 * docstring, added to the module. */
PyObject *gsp_abc_subclass(PyObject *module, const char *name, PyTypeObject *base,
			   const char *abc);

#endif
