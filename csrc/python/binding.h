/* binding.h - what the files of the CPython binding share. */
#ifndef GSP_BINDING_H
#define GSP_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "gs.h"

typedef struct {
	PyObject_HEAD
	gs_store *store;
	PyObject *display_path;  /* str(Path(path)) as given to open() */
	PyObject *signature;     /* gitstore.Signature */
	PyObject *branches;
	PyObject *tags;
} GitStoreObject;

typedef struct {
	PyObject_HEAD
	GitStoreObject *store;
	gs_commit_info info;
	PyObject *ref_name;      /* str or None */
	int writable;
	PyObject *changes;       /* ChangeReport or None */
} FSObject;

/* Types, exception classes and the Python value types we build. */
typedef struct {
	PyTypeObject *GitStoreType;
	PyTypeObject *FSType;
	PyTypeObject *RefDictBaseType;
	PyTypeObject *BatchType;
	PyTypeObject *SnapshotWriterType;
	PyTypeObject *BatchWriterType;
	PyObject *RefDict;           /* RefDictBase + MutableMapping */
	PyTypeObject *WalkIterType;
	PyTypeObject *LogIterType;
	PyTypeObject *FailedIterType;
	PyObject *StaleSnapshotError;
	PyObject *GitError;
	/* from gitstore._types */
	PyObject *FileType;
	PyObject *filetype_blob, *filetype_exec, *filetype_link, *filetype_tree;
	PyObject *StatResult;
	PyObject *WalkEntry;
	PyObject *ReflogEntry;
	PyObject *Signature;
	PyObject *BlobOid;
	PyObject *FileEntry;
	PyObject *ChangeError;
	PyObject *ChangeReport;
	PyObject *WriteEntry;
	PyObject *format_commit_message;
	/* from datetime */
	PyObject *timezone;
	PyObject *timedelta;
	PyObject *datetime;
} gsp_state_t;

extern gsp_state_t gsp;

/* errors.c: turn the core's error record into a Python exception (and
 * clear it, so that no later failure can report it again). */
PyObject *gsp_raise(void);
/* Run a core call with the GIL released.  The error record is cleared
 * first, so that what the call leaves there is its own. */
#define GSP_CALL(status_var, call) do { \
	gs_error_clear(); \
	Py_BEGIN_ALLOW_THREADS \
	status_var = (call); \
	Py_END_ALLOW_THREADS \
} while (0)

/* convert.c */
/* A repository path argument: str or os.PathLike[str].  With allow_root,
 * root forms (None, "", "/") give *out = NULL.  Otherwise normalised. */
int gsp_path_arg(PyObject *arg, int allow_root, char **out);
PyObject *gsp_str(const char *s);          /* UTF-8, surrogateescape */
/* The bytes of a path gsp_str made (names that are not UTF-8 come back
 * as they were); valid while *holder lives.  NULL: exception set. */
const char *gsp_path_utf8(PyObject *text, PyObject **holder);
PyObject *gsp_hex(const git_oid *id);      /* 40-hex str */
PyObject *gsp_hex_bytes(const git_oid *id);
/* A 40-hex str or bytes object id; ValueError when malformed. */
int gsp_oid_arg(PyObject *arg, git_oid *out);
PyObject *gsp_filetype(uint32_t mode);     /* FileType member, KeyError */
PyObject *gsp_walk_entry(const gs_dirent *entry);
/* A non-negative int or None (SIZE_MAX) for offset/size arguments. */
int gsp_size_arg(PyObject *arg, const char *what, size_t *out);

/* store.c */
int gsp_store_register(PyObject *module);
/* refdict.c */
int gsp_refdict_register(PyObject *module);
PyObject *gsp_refdict_new(GitStoreObject *store, int tags);
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
/* fs.write(path, <the stream's content>): the new FS (or fs for a no-op). */
PyObject *gsp_fs_write_stream(FSObject *fs, PyObject *path, gs_blob_stream *stream);
/* fs_bulk.c: the bulk methods of FS (remove, ...), in FS's method table. */
extern PyMethodDef gsp_fs_bulk_methods[];
/* Resolve a str source below root (see gs_source_resolve), raising on
 * failure. */
int gsp_source_resolve(gs_source *out, git_repository *repo, const git_oid *root,
		       PyObject *spec);
/* fs_copy.c: copy_in/copy_out/sync_in/sync_out and their helpers; _disk_walk. */
extern PyMethodDef gsp_fs_copy_methods[];
PyObject *gsp_disk_walk(PyObject *module, PyObject *args, PyObject *kwargs);
/* archive.c: archive_out and archive_in, in FS's method table. */
extern PyMethodDef gsp_fs_archive_methods[];
/* exclude.c: the ExcludeFilter type and disk_glob(). */
int gsp_exclude_register(PyObject *module);
/* The core filter behind an ExcludeFilter object, or NULL (with a
 * TypeError) when obj is not one; None gives *out = NULL and 0. */
int gsp_exclude_arg(PyObject *obj, struct gs_exclude **out);
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
PyObject *gsp_failed_iter_new(void);

/* pipeline.c: the one commit path, and what it reports. */
/* The core changeset calls, raising on failure (gsp_raise; NULL / -1). */
gs_changeset *gsp_changeset_new(void);
int gsp_stage_write(gs_changeset *cs, const char *path, const git_oid *id, uint32_t mode);
int gsp_stage_remove(gs_changeset *cs, const char *path);
/* PermissionError "Cannot <verb> read-only snapshot ..." unless writable. */
int gsp_check_writable(FSObject *fs, const char *verb);
/* None -> fallback; FileType or int filemode; the tree mode is refused. */
int gsp_mode_arg(PyObject *mode, uint32_t fallback, uint32_t *out);
gs_txn *gsp_txn_begin(GitStoreObject *store);
void gsp_txn_free(gs_txn *txn);
/* Store any bytes-like object as a blob. */
int gsp_store_bytes(git_oid *out, gs_txn *txn, PyObject *data);
/* The ChangeReport committing `cs` on fs would give (nothing written). */
PyObject *gsp_changes_report(FSObject *fs, gs_txn *txn, const gs_changeset *cs);
/* A core report as a ChangeReport. */
PyObject *gsp_report_new(const gs_report *report);
/* Finish a writer's stream into txn: the blob's id. */
int gsp_store_stream(git_oid *out, gs_txn *txn, gs_blob_stream *stream);
/* Store a local file as a blob; *detected_mode from its execute bits. */
int gsp_store_file(git_oid *out, uint32_t *detected_mode, gs_txn *txn, PyObject *local_path);
/* Commit `cs` on fs's branch: a new FS, or fs itself when nothing changed.
 * A read-only fs raises "Cannot <verb> read-only snapshot"; the new FS's
 * .changes is `changes` when given, else the report of what changed. */
PyObject *gsp_fs_commit(FSObject *fs, gs_txn *txn, const gs_changeset *cs, PyObject *message,
			PyObject *operation, const char *verb, PyObject *changes);

/* Create a heap type from a spec and add it to the module. */
PyTypeObject *gsp_add_type(PyObject *module, PyType_Spec *spec, const char *attr);

#endif
