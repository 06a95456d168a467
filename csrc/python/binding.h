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
	PyObject *RefDict;           /* RefDictBase + MutableMapping */
	PyTypeObject *WalkIterType;
	PyTypeObject *LogIterType;
	PyTypeObject *FailedIterType;
	PyObject *StaleSnapshotError;
	PyObject *GitError;
	/* from gitstore._types */
	PyObject *FileType;
	PyObject *StatResult;
	PyObject *WalkEntry;
	PyObject *ReflogEntry;
	PyObject *Signature;
	PyObject *BlobOid;
	/* from datetime */
	PyObject *timezone;
	PyObject *timedelta;
	PyObject *datetime;
} gsp_state_t;

extern gsp_state_t gsp;

/* errors.c: turn the core's error record into a Python exception. */
PyObject *gsp_raise(void);
/* Raise for a core failure that happened while the GIL was released. */
#define GSP_CALL(status_var, call) do { \
	Py_BEGIN_ALLOW_THREADS \
	status_var = (call); \
	Py_END_ALLOW_THREADS \
} while (0)

/* convert.c */
/* A repository path argument: str or os.PathLike[str].  With allow_root,
 * root forms (None, "", "/") give *out = NULL.  Otherwise normalised. */
int gsp_path_arg(PyObject *arg, int allow_root, char **out);
PyObject *gsp_str(const char *s);          /* UTF-8, surrogateescape */
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
/* fsiter.c */
int gsp_fsiter_register(PyObject *module);
PyObject *gsp_walk_iter_new(FSObject *fs, const char *path);
PyObject *gsp_log_iter_new(FSObject *fs, const char *path, PyObject *match, PyObject *before);
/* An iterator that raises the pending exception on its first next(). */
PyObject *gsp_failed_iter_new(void);

/* Create a heap type from a spec and add it to the module. */
PyTypeObject *gsp_add_type(PyObject *module, PyType_Spec *spec, const char *attr);

#endif
