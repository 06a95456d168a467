/*
 * gs.h - the gitstore core: a versioned filesystem over a bare git
 * repository, in plain C on libgit2.  Never includes Python.h.
 *
 * Conventions (libgit2's own): functions return 0 on success and -1 on
 * failure, results come back through out-parameters placed first, and a
 * failure leaves a message and a category in the calling thread's error
 * record (gs_error_last()).  Memory returned through an out-parameter
 * belongs to the caller and has a matching free function.
 *
 * This is the core's public API, the one the binding uses; what the
 * core's units share among themselves is in gs_internal.h and in the
 * units' own headers (pack.h, loose.h, tree.h, txn.h, ...).
 */
#ifndef GS_H
#define GS_H

#include <stddef.h>
#include <stdint.h>
#include <git2.h>

/* ------------------------------------------------------------------ */
/* Errors                                                              */

typedef enum {
	GS_ERR_NONE = 0,
	GS_ERR_NOTFOUND,   /* a path, ref or repository is missing */
	GS_ERR_ISDIR,      /* a file was expected, a directory found */
	GS_ERR_NOTDIR,     /* a directory was expected, a file found */
	GS_ERR_EXISTS,     /* something is already there */
	GS_ERR_PERMISSION, /* read-only snapshot, or the OS refused */
	GS_ERR_STALE,      /* a ref is not where the caller expected */
	GS_ERR_INVALID,    /* a bad argument (bad path, bad name, ...) */
	GS_ERR_KEY,        /* a missing key (ref, object id) */
	GS_ERR_GIT,        /* libgit2 failed, or the repository is corrupt */
	GS_ERR_OS,         /* a system call failed; see os_errno */
	GS_ERR_NOMEM,
	GS_ERR_FAILED      /* every item of an operation that goes on past failures failed */
} gs_error_t;

typedef struct {
	gs_error_t category;
	int os_errno;
	const char *message;   /* never NULL; valid until the next error */
	/* For an OS error about one file: that file, and what was being done
	 * to it ("cannot write"; may be empty).  NULL otherwise. */
	const char *path;
	const char *action;
} gs_error;

/* The calling thread's last error. */
const gs_error *gs_error_last(void);
void gs_error_clear(void);
/* Record an error; always returns -1 so callers can `return gs_error_set(...)`. */
int gs_error_set(gs_error_t category, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Record errno (already set by the failing call) with a message. */
int gs_error_set_os(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Initialise libgit2 once per process (idempotent). */
int gs_global_init(void);

/* ------------------------------------------------------------------ */
/* Small containers                                                    */

typedef struct {
	char **items;
	size_t count;
	size_t cap;
} gs_strlist;

int gs_strlist_push(gs_strlist *list, const char *s);
int gs_strlist_push_len(gs_strlist *list, const char *s, size_t len);
void gs_strlist_sort(gs_strlist *list);
void gs_strlist_free(gs_strlist *list);

typedef struct {
	char *data;
	size_t size;
	size_t cap;
} gs_buf;

int gs_buf_grow(gs_buf *buf, size_t need);
int gs_buf_put(gs_buf *buf, const void *data, size_t len);
int gs_buf_puts(gs_buf *buf, const char *s);
void gs_buf_free(gs_buf *buf);

/* ------------------------------------------------------------------ */
/* Paths inside a snapshot (path.c)                                    */

/* Normalise a repository path: strip leading/trailing '/', reject empty
 * paths, empty segments, "." and ".." and NUL (GS_ERR_INVALID). */
int gs_path_normalize(char **out, const char *path, size_t len);
/* 1 when path is a root form: empty or made only of '/'. */
int gs_path_is_root(const char *path, size_t len);

/* ------------------------------------------------------------------ */
/* The store (store.c)                                                 */

typedef struct gs_store gs_store;
typedef struct gs_txn gs_txn;

typedef struct {
	int create;          /* create the repository when the path is missing */
	const char *branch;  /* initial branch, or NULL for none */
	const char *name;    /* identity used for commits and reflogs */
	const char *email;
} gs_open_opts;

int gs_store_open(gs_store **out, const char *path, const gs_open_opts *opts);
void gs_store_free(gs_store *store);
const char *gs_store_name(const gs_store *store);
const char *gs_store_email(const gs_store *store);

/* 1 when both stores open the same repository directory. */
int gs_store_same(const gs_store *a, const gs_store *b);
/* Take the lock and merge every pack that can be merged. */
int gs_store_pack(gs_store *store);

/* ------------------------------------------------------------------ */
/* Writing objects (txn.c)                                             */

/* Blobs of at least this size stream to loose objects (bounded memory,
 * partial reads inflate only what they need); smaller objects collect
 * in memory and are written as one pack when the transaction commits. */
#define GS_BIG_BLOB (1024 * 1024)

/* A transaction borrows one pooled handle (for reading what is stored)
 * until gs_txn_free, which drops every object not yet flushed. */
int gs_txn_begin(gs_txn **out, gs_store *store);
void gs_txn_free(gs_txn *txn);
gs_store *gs_txn_store(gs_txn *txn);
int gs_txn_write_blob(git_oid *out, gs_txn *txn, const void *data, size_t len);
/* A blob of exactly `size` bytes read from fd; `what` names it in errors. */
int gs_txn_write_blob_fd(git_oid *out, gs_txn *txn, int fd, uint64_t size,
			 const char *what);
/*
 * A blob written in chunks (blobstream.c), in bounded memory.  `size` is
 * the content's length when known in advance (the writes must then add
 * up to it exactly), else GS_BLOB_SIZE_UNKNOWN.  Content below
 * GS_BIG_BLOB is held in memory and becomes a pending object of the
 * transaction given to finish; bigger content streams into a loose
 * object as it arrives.  finish gives the blob's id; once finished the
 * stream takes no more content, but finish may be called again (with
 * another transaction, after a commit that failed).  A failed call loses
 * the content: later calls fail.  Freeing a stream that is not finished
 * leaves nothing behind.  One thread at a time.
 */
#define GS_BLOB_SIZE_UNKNOWN UINT64_MAX
typedef struct gs_blob_stream gs_blob_stream;
int gs_blob_stream_open(gs_blob_stream **out, gs_store *store, uint64_t size);
int gs_blob_stream_write(gs_blob_stream *stream, const void *data, size_t len);
int gs_blob_stream_finish(git_oid *out, gs_blob_stream *stream, gs_txn *txn);
/* Content received so far. */
uint64_t gs_blob_stream_size(const gs_blob_stream *stream);
/* 1 once finish succeeded. */
int gs_blob_stream_finished(const gs_blob_stream *stream);
void gs_blob_stream_free(gs_blob_stream *stream);

/* ------------------------------------------------------------------ */
/* Refs (refs.c)                                                       */

#define GS_REFS_HEADS "refs/heads/"
#define GS_REFS_TAGS "refs/tags/"

/* git's ref-name rules plus "no colon"; GS_ERR_INVALID with the
 * message "Invalid ref name: <name>" (or "... contains colon").  `name`
 * is a short name. */
int gs_refname_check(const char *name);

/* Create or move a branch or tag as `store.branches[name] = fs` does,
 * under the lock: a tag that exists is GS_ERR_KEY "Tag 'x' already
 * exists"; a branch already at `target` is left alone; otherwise the
 * reflog gets "branch: set to <subject>" or "branch: Created from
 * <subject>". */
int gs_ref_assign(gs_store *store, const char *fullname, const git_oid *target, int is_tag);
/* Delete a ref (loose and packed) and its reflog; GS_ERR_KEY if missing. */
int gs_ref_delete(gs_store *store, const char *fullname);

/* The object a full ref name points at (symbolic refs followed).
 * GS_ERR_KEY when missing or when the name is not a valid ref name. */
int gs_ref_resolve(git_oid *out, gs_store *store, const char *fullname);
/* *out = 1 when the ref exists (any target). */
int gs_ref_exists(int *out, gs_store *store, const char *fullname);
/* Short names of every ref below prefix ("refs/heads/"), sorted bytewise. */
int gs_ref_list(gs_strlist *out, gs_store *store, const char *prefix);
/* Peel a tag's target to a commit (at most 50 annotated tags deep). */
int gs_tag_peel(git_oid *out, gs_store *store, const char *short_name);
/* HEAD's branch (short name) when HEAD names an existing branch, else
 * *out = NULL.  Free with free(). */
int gs_head_branch(char **out, gs_store *store);
/* Point HEAD at refs/heads/<name> (which must exist: GS_ERR_KEY). */
int gs_head_set(gs_store *store, const char *name);

typedef struct {
	git_oid old_id;
	git_oid new_id;
	char *committer;     /* "name <email>" */
	int64_t timestamp;
	char *message;
} gs_reflog_entry;

/* Entries of logs/<fullname>, oldest first; count 0 when there are none. */
int gs_reflog_read(gs_reflog_entry **out, size_t *count, gs_store *store,
		   const char *fullname);
void gs_reflog_free(gs_reflog_entry *entries, size_t count);

/* ------------------------------------------------------------------ */
/* Commits (commit.c)                                                  */

typedef struct {
	git_oid id;
	git_oid tree;
	git_oid parent;      /* first parent */
	int has_parent;
	int64_t time;        /* committer time */
	int offset;          /* committer offset, minutes east of UTC */
	char *message;       /* raw message */
	char *author_name;
	char *author_email;
} gs_commit_info;

int gs_commit_info_read(gs_commit_info *out, gs_store *store, const git_oid *id);
void gs_commit_info_clear(gs_commit_info *info);

/* History (history.c): the first-parent chain from a commit, the start
 * included, keeping the commits that pass every filter given. */
typedef struct gs_history gs_history;
typedef struct {
	const char *path;    /* only commits that changed the entry at path */
	const char *match;   /* only messages matching this fnmatch pattern */
	int has_before;      /* only commits from the first one at or before */
	double before;       /* this time (POSIX seconds) on */
} gs_history_filter;

int gs_history_open(gs_history **out, gs_store *store, const git_oid *start,
		    const gs_history_filter *filter);
/* The next commit kept (*found 0 at the end); *out is the caller's to clear. */
int gs_history_next(gs_commit_info *out, int *found, gs_history *h);
void gs_history_free(gs_history *h);
/* The commit `n` first parents back from `start` (*found 0 when the
 * chain is shorter); only the parent links are read. */
int gs_history_ancestor(git_oid *out, int *found, gs_store *store, const git_oid *start,
			size_t n);

/* Move refs/heads/<branch> from `expected` to `target` under the lock
 * (undo/redo): GS_ERR_KEY when the branch is missing, GS_ERR_STALE when
 * it is not at `expected`. */
int gs_branch_move(gs_store *store, const char *branch, const git_oid *expected,
		   const git_oid *target, const char *reflog_message);

/* ------------------------------------------------------------------ */
/* Notes (notes.c)                                                     */

/* A namespace `ns` is the ref refs/notes/<ns>: commits whose trees map
 * object ids to note blobs, as `git notes --ref <ns>` keeps them.  Keys
 * are 40 lowercase hex digits; they need not name an existing object. */
#define GS_REFS_NOTES "refs/notes/"
#define GS_NOTE_KEY_LEN 40

/* 1 when key[0..len) is a note key. */
int gs_note_key_valid(const char *key, size_t len);
/* GS_ERR_INVALID "Invalid notes namespace: '<ns>'" unless refs/notes/<ns>
 * follows git's ref-name rules (and has no colon). */
int gs_notes_namespace_check(const char *ns);

/* The note on `key` in `ns` (text may be NULL: existence only).  A
 * missing namespace, an invalid one included, has no notes: *found 0. */
int gs_note_get(int *found, gs_buf *text, gs_store *store, const char *ns, const char *key);

/*
 * The notes of `ns` as the tip was when opened, in key order, each key
 * once (a key stored both flat and in fan-out gives the flat note, as a
 * lookup does).  The iterator holds one pooled handle until freed and
 * reads one tree per fan-out level at a time, never a list of all the
 * keys.  One thread at a time.
 */
typedef struct gs_notes_iter gs_notes_iter;
int gs_notes_iter_open(gs_notes_iter **out, gs_store *store, const char *ns);
/* The next note (*found 0 at the end): its key, and its content when
 * text is not NULL. */
int gs_notes_iter_next(int *found, char key[GS_NOTE_KEY_LEN + 1], gs_buf *text,
		       gs_notes_iter *it);
void gs_notes_iter_free(gs_notes_iter *it);
/* How many notes the iterator would give. */
int gs_notes_count(size_t *out, gs_store *store, const char *ns);

typedef struct {
	const char *key;     /* a note key; each key at most once per call */
	const char *text;    /* the new note (UTF-8 bytes), or NULL to remove it */
	size_t len;
} gs_note_edit;

/*
 * Apply `edits` to `ns` as one commit with `message` (also the reflog
 * entry's), the ref created when missing.  Removing a note that does
 * not exist is GS_ERR_KEY (the key) and nothing is written.  A written
 * note is stored flat at the root; a removed or rewritten one leaves no
 * form behind at any fan-out depth, and emptied fan-out directories
 * disappear.  The ref moves under the repository lock by
 * compare-and-swap; when another writer moved it since it was read, the
 * edits are made again on the new tip, so concurrent writers all land.
 * An invalid namespace is GS_ERR_INVALID.
 */
int gs_notes_apply(git_oid *out, gs_store *store, const char *ns, const gs_note_edit *edits,
		   size_t count, const char *message);

/* ------------------------------------------------------------------ */
/* Trees and blobs (tree.c)                                            */

#define GS_MODE_TREE 0040000
#define GS_MODE_BLOB 0100644
#define GS_MODE_EXEC 0100755
#define GS_MODE_LINK 0120000

typedef struct {
	git_oid id;
	uint32_t mode;
} gs_entry;

typedef struct {
	char *name;
	git_oid id;
	uint32_t mode;
} gs_dirent;

typedef struct {
	gs_dirent *items;
	size_t count;
	char *names;   /* when set, one block holding every item's name */
	git_tree *tree;   /* when set, the tree every name points into */
} gs_dirlist;

void gs_dirlist_free(gs_dirlist *list);

/*
 * How a lookup reports a path that runs through a file ("a.txt/x"):
 *   GS_LOOKUP_WALK:  NotADirectory naming the prefix up to the file;
 *   GS_LOOKUP_ENTRY: NotFound naming the whole path.
 * A missing path is GS_ERR_NOTFOUND with the path as the whole message.
 */
typedef enum { GS_LOOKUP_WALK, GS_LOOKUP_ENTRY } gs_lookup_style;

/*
 * Reading bytes [offset, offset+size) of a blob (size == SIZE_MAX: to the
 * end); reading past the end truncates.  GS_ERR_KEY for an unknown id,
 * GS_ERR_INVALID for an object that is not a blob.
 *
 * Opening a blob learns the size.  A blob stored whole (loose, or a big
 * one in a pack) is inflated only by gs_blob_fill or gs_blob_pread, into
 * the caller's buffer: one copy of a big blob, made without the GIL.  For
 * anything else (a delta, a small packed object) libgit2 reads the whole
 * object when it is opened, and `data` points at the content.
 */
typedef struct gs_loose gs_loose;

typedef struct {
	git_odb_object *obj;  /* an object libgit2 read, or */
	gs_loose *loose;      /* a blob stored whole being inflated */
	char *owned;          /* gs_blob_read's buffer */
	const char *data;     /* the content, once in memory */
	size_t size;          /* bytes the read yields */
	int at_end;           /* the read reaches the end of the blob */
	/* For gs_blob_pread. */
	gs_store *store;
	git_oid id;
	size_t total;         /* the blob's size */
} gs_blob;

/* Copy the blob's `size` bytes to dst. */
int gs_blob_fill(gs_blob *blob, char *dst);
/*
 * Up to len bytes at `offset` of a blob opened at offset 0 (a file
 * object's reads); *got is less than len only at the end.  A blob stored
 * whole goes on from where the last read stopped, so sequential reads cost
 * what they return; an offset after that is reached by inflating what lies
 * between, an offset before it by starting again from the beginning.
 */
int gs_blob_pread(size_t *got, gs_blob *blob, size_t offset, char *dst, size_t len);
void gs_blob_free(gs_blob *blob);

/* ------------------------------------------------------------------ */
/* One staged write (changesets, build.c)                              */

typedef struct {
	const char *path;    /* normalised */
	git_oid id;          /* a blob already written */
	uint32_t mode;       /* a file mode (never GS_MODE_TREE) */
} gs_write;

/* ------------------------------------------------------------------ */
/* Changesets and reports (changeset.c)                                */

/* Reports: what an operation changed or would change. */
typedef enum {
	GS_REPORT_ADD, GS_REPORT_UPDATE, GS_REPORT_DELETE,
	GS_REPORT_ERROR, GS_REPORT_WARNING,
	GS_REPORT_KINDS
} gs_report_kind;

typedef struct {
	char *path;       /* the entry's path (relative to a destination for copies) */
	uint32_t mode;    /* file entries: the git file mode (0 for errors/warnings) */
	char *source;     /* where it came from (local or repository path), or NULL */
	char *message;    /* errors and warnings: what went wrong; NULL otherwise */
} gs_report_item;

typedef struct {
	gs_report_item *items;
	size_t count, cap;
} gs_report_list;

typedef struct {
	gs_report_list lists[GS_REPORT_KINDS];
} gs_report;

int gs_report_add(gs_report *r, gs_report_kind kind, const char *path, uint32_t mode,
		  const char *source, const char *message);
/* Sort one list by path (bytewise, stable). */
void gs_report_sort(gs_report *r, gs_report_kind kind);
/* 1 when all five lists are empty. */
int gs_report_empty(const gs_report *r);
void gs_report_free(gs_report *r);

/* Changesets: the writes and removals of one commit.  Removals apply
 * before writes (removing "d" and writing "d/x" leaves "d" holding only
 * "x").  A path is staged at most once: a later write replaces an
 * earlier one in its place, a write drops a staged removal of the same
 * path (the write goes to the end of the staging order), and removing a
 * path with a staged write changes nothing. */
typedef struct gs_changeset gs_changeset;

int gs_changeset_new(gs_changeset **out);
void gs_changeset_free(gs_changeset *cs);
int gs_changeset_write(gs_changeset *cs, const char *path, const git_oid *id, uint32_t mode);
int gs_changeset_remove(gs_changeset *cs, const char *path);
/* Forget whatever is staged for path; *had_write = 1 when it was a write. */
int gs_changeset_forget(int *had_write, gs_changeset *cs, const char *path);
/* The staged write of path, or NULL. */
const gs_write *gs_changeset_find_write(const gs_changeset *cs, const char *path);
size_t gs_changeset_count(const gs_changeset *cs);     /* writes + removals staged */
/* Staged writes in staging order: *pos starts at 0; NULL at the end. */
const gs_write *gs_changeset_next_write(const gs_changeset *cs, size_t *pos);

/* What committing cs on the tree `root` changes: add and update in
 * staging order, delete sorted by path (removals of missing paths are
 * left out; writes that change nothing too). */
int gs_changeset_report(gs_report *out, gs_txn *txn, const git_oid *root,
			const gs_changeset *cs);
/* Commit cs on refs/heads/<branch> on top of base_commit/base_tree, under
 * the repository lock: the branch missing is GS_ERR_KEY, moved since
 * base_commit GS_ERR_STALE; a tree equal to base_tree writes nothing and
 * sets *noop. */
int gs_changeset_commit(git_oid *commit, git_oid *tree, int64_t *when, int *noop, gs_txn *txn,
			const char *branch, const git_oid *base_commit,
			const git_oid *base_tree, const gs_changeset *cs, const char *message);

/* ------------------------------------------------------------------ */
/* Snapshot reads (snapshot.c): each borrows a handle from the pool    */
/* for the duration of the call, so they are safe from any thread.     */
/* `root` is the snapshot's root tree; `path` is normalised, or NULL   */
/* for the root where the function says so.                            */

/* The entry at path (style: see gs_lookup_style). */
int gs_snap_entry(gs_entry *out, gs_store *store, const git_oid *root,
		  const char *path, gs_lookup_style style);
/* Like gs_snap_entry (entry style) but a missing path is *found = 0. */
int gs_snap_entry_opt(int *found, gs_entry *out, gs_store *store,
		      const git_oid *root, const char *path);
/* Entries of the directory at path (NULL: root); walk style; a file is
 * GS_ERR_NOTDIR.  *dir_id receives the directory's tree id if not NULL. */
int gs_snap_list(gs_dirlist *out, git_oid *dir_id, gs_store *store,
		 const git_oid *root, const char *path);
/* Entries of a tree by id. */
int gs_snap_list_tree(gs_dirlist *out, gs_store *store, const git_oid *tree);

typedef struct {
	uint32_t mode;
	git_oid id;
	size_t size;    /* blob size; 0 for a directory */
	size_t nlink;   /* 1 for a file; 2 + subdirectories for a directory */
} gs_stat;

/* stat of path (NULL: root); entry style. */
int gs_snap_stat(gs_stat *out, gs_store *store, const git_oid *root, const char *path);
/* Size of the object at path (entry style): a tree's serialized size. */
int gs_snap_size(size_t *out, gs_store *store, const git_oid *root, const char *path);
/* Open the content of the file at path for reading (walk style; a
 * directory is GS_ERR_ISDIR); see gs_blob.  A read of at most
 * GS_SMALL_READ bytes comes back in memory (`data` set, nothing left
 * open), so that its caller can copy it and free it at once. */
#define GS_SMALL_READ ((size_t)64 * 1024)
int gs_snap_read(gs_blob *out, gs_store *store, const git_oid *root, const char *path,
		 size_t offset, size_t size);
/* Open a blob by id for reading. */
int gs_snap_read_blob(gs_blob *out, gs_store *store, const git_oid *id,
		      size_t offset, size_t size);
/* Target of the symlink at path; GS_ERR_INVALID "Not a symlink: <path>". */
int gs_snap_readlink(char **out, gs_store *store, const git_oid *root, const char *path);
/* Every path below `root` matching `pattern` ('/'-separated segments of
 * fnmatch wildcards, "**" for any number of directories), unsorted and
 * without duplicates; the caller sorts when it needs to. */
int gs_snap_glob(gs_strlist *out, gs_store *store, const git_oid *root,
		 const char *pattern);

/* ------------------------------------------------------------------ */
/* Sources of the bulk operations (source.c)                           */

typedef struct {
	char *path;
	git_oid id;
	uint32_t mode;
} gs_file;

typedef struct {
	gs_file *items;
	size_t count, cap;
} gs_filelist;

int gs_filelist_push(gs_filelist *list, const char *path, const git_oid *id, uint32_t mode);
void gs_filelist_free(gs_filelist *list);

/* ------------------------------------------------------------------ */
/* Exclusion (exclude.c) and globbing on disk (diskglob.c)             */

typedef struct gs_exclude gs_exclude;

/*
 * A filter built from gitignore-style patterns (used verbatim, in order)
 * followed by the lines of the file exclude_from (NULL: none; trimmed,
 * blank and '#' lines skipped; a missing file is an OS error).  With
 * gitignore set, walks also honour the .gitignore file of each directory
 * they enter.  Patterns git refuses (an unclosed '[') are left out.  A
 * filter never changes once built, so threads may share it.
 */
int gs_exclude_new(gs_exclude **out, const char *const *patterns, size_t npatterns,
		   const char *exclude_from, int gitignore);
void gs_exclude_free(gs_exclude *ex);
/* 1 when there is at least one base pattern (even "") or gitignore is on;
 * an inactive filter (or NULL) excludes nothing. */
int gs_exclude_active(const gs_exclude *ex);
int gs_exclude_uses_gitignore(const gs_exclude *ex);
/* *out = 1 when the base patterns exclude `rel` ('/'-separated, relative
 * to the walk root; is_dir or a trailing '/' marks a directory). */
int gs_exclude_is_excluded(int *out, const gs_exclude *ex, const char *rel, int is_dir);

/*
 * The state of one walk: the .gitignore files loaded so far, by the
 * directory (relative to the walk root) that holds them.  The caller
 * owns it (it may live on the stack); one walk, one thread.  The fields
 * are private.
 */
typedef struct gs_exclude_walk {
	const gs_exclude *filter;
	struct gs_exclude_dir *dirs;   /* open-addressing table */
	size_t count, cap;
} gs_exclude_walk;

/* Start a walk with `filter` (NULL: nothing is excluded).  Cannot fail. */
void gs_exclude_walk_begin(gs_exclude_walk *walk, const gs_exclude *filter);
/* Call for each directory the walk reaches, parents first: with gitignore
 * on, load <abs_dir>/.gitignore (when it is a regular file, symlinks
 * followed) as the rules of rel_dir ("" for the walk root).  A directory
 * already entered keeps the rules it got first.  A .gitignore that exists
 * but cannot be read is an OS error. */
int gs_exclude_walk_enter_directory(gs_exclude_walk *walk, const char *abs_dir,
				    const char *rel_dir);
/* *out = 1 when `rel` is excluded: by the base patterns, or (gitignore
 * on) because it is a file named .gitignore, or by the .gitignore files
 * of the directories above it, the deepest with an opinion winning. */
int gs_exclude_walk_is_excluded(int *out, const gs_exclude_walk *walk, const char *rel,
				int is_dir);
/* Free what the walk loaded; the walk may then begin again. */
void gs_exclude_walk_end(gs_exclude_walk *walk);

/*
 * Expand a glob against the local disk: '*', '?',
 * "[seq]" within a segment (a leading '.' only matched by a segment that
 * starts with '.'), "**" for any number of non-dot directories (symlinks
 * followed, a directory already on the current chain never entered
 * again).  Paths are bytes, returned in the pattern's own style and
 * sorted bytewise, duplicates kept.  Unreadable or missing directories
 * contribute nothing; only running out of memory is an error.
 */
int gs_disk_glob(gs_strlist *out, const char *pattern);

/* ------------------------------------------------------------------ */
/* The disk side of copies (copy.c)                                    */

typedef enum {
	GS_LOCAL_FILE,      /* a regular file (or, following links, a link to one) */
	GS_LOCAL_LINK,      /* a symlink kept as a link */
	GS_LOCAL_SPECIAL,   /* a fifo, socket or device: never opened */
	GS_LOCAL_BADDIR     /* a directory that could not be read (err says why) */
} gs_local_kind;

typedef struct {
	char *rel;          /* '/'-separated, relative to the walk root */
	char *local;        /* the local path (gs_local_diff only) */
	gs_local_kind kind;
	int exec;           /* any execute bit (links followed); -1: not stat'ed */
	int64_t mtime;      /* whole seconds (links followed) */
	int err;            /* errno of a failure (GS_LOCAL_BADDIR, reading) */
	char *message;      /* a failure without errno */
	int hashed;         /* gs_local_diff: 1 id is the blob, -1 reading failed */
	git_oid id;
} gs_local_entry;

typedef struct {
	gs_local_entry *items;
	size_t count, cap;
} gs_local_list;

/*
 * Every non-directory below the directory `root`, sorted by rel.  Without follow_symlinks a symlink is one entry, never
 * descended; with it, linked directories are walked unless they lead back
 * to a directory being walked, and dangling links are files (reading them
 * fails).  `filter` (may be NULL) prunes directories and drops files,
 * honouring .gitignore files when it asks to.  Directories that cannot be
 * read become GS_LOCAL_BADDIR entries.  With lazy_stat, regular files
 * known as such from readdir are not stat'ed (exec -1, mtime 0).
 */
int gs_local_walk(gs_local_list *out, const char *root, const gs_exclude *filter,
		  int follow_symlinks, int lazy_stat);
void gs_local_list_free(gs_local_list *list);

/* ------------------------------------------------------------------ */
/* Copies between the disk and a snapshot (sync.c)                     */

typedef struct {
	int dry_run;             /* plan and report only */
	int follow_symlinks;     /* in: store what symlinks point at, walk linked directories */
	int ignore_existing;     /* leave paths the receiving side has alone */
	int delete;              /* make the destination match the sources */
	int ignore_errors;       /* a file that fails is a report error, not a failure */
	int checksum;            /* with delete: compare content; 0: trust mtimes */
	const gs_exclude *filter;    /* in: applied while walking (NULL: none) */
	uint32_t mode_override;  /* in: the mode of every file that is not a link (0: none) */
	int64_t since;           /* the snapshot's commit time: files are written out
				  * with it and, without checksum, a file not modified
				  * after it counts as unchanged */
} gs_copy_opts;

/*
 * Copy local files into the tree `root` below the directory `dest`
 * (normalised, "" for the root).  Sources follow rsync: "dir" lands as
 * dest/dir, "dir/" gives its contents, "base/./rest" keeps rest; a
 * missing source is GS_ERR_NOTFOUND "Local file not found: ...".  The
 * writes and removals to commit go to `cs`, their blobs into `txn`
 * (nothing for a dry run); `report` lists adds and updates (relative to
 * dest, with the local path), deletes, per-file errors (with
 * ignore_errors) and warnings (overlapping sources: the first one wins).
 * With ignore_errors, nothing but failures is GS_ERR_FAILED "All files
 * failed to copy: [...]".
 */
int gs_copy_in(gs_report *report, gs_changeset *cs, gs_txn *txn, const git_oid *root,
	       const char *const *sources, size_t nsources, const char *dest,
	       const gs_copy_opts *opts);
/* Make dest equal to the local directory `local` (gs_copy_in of "local/"
 * with delete); a local path that does not exist counts as an empty
 * directory (a file at dest included). */
int gs_sync_in(gs_report *report, gs_changeset *cs, gs_txn *txn, const git_oid *root,
	       const char *local, const char *dest, const gs_copy_opts *opts);
/*
 * Copy files of the tree `root` to the local directory `dest` (the
 * sources as gs_source_resolve reads them), never writing outside it;
 * with delete, local files the sources lack are removed and empty
 * directories below dest pruned.  Errors and the report as gs_copy_in.
 */
int gs_copy_out(gs_report *report, gs_store *store, const git_oid *root,
		const char *const *sources, size_t nsources, const char *dest,
		const gs_copy_opts *opts);
/* Make the local directory dest equal to the repository directory
 * `path` (gs_copy_out of "path/" with delete); a path that is missing or
 * a file counts as an empty directory. */
int gs_sync_out(gs_report *report, gs_store *store, const git_oid *root, const char *path,
		const char *dest, const gs_copy_opts *opts);

/* ------------------------------------------------------------------ */
/* Plans of the operations inside a branch (plan.c)                    */
/*
 * What an operation writes and removes in the branch whose tree is
 * `root`, staged into `cs` (nothing is written).  Sources are given as
 * the caller wrote them: a path for the entry itself, "dir/" for a
 * directory's contents, "" (or slashes) for the root, "base/./rest" to
 * keep rest's directories below the destination.  The first source that
 * cannot be resolved, in order, is the error (GS_ERR_NOTFOUND "File not
 * found in repo: <path>", GS_ERR_NOTDIR "Not a directory in repo: <path>",
 * GS_ERR_INVALID for a bad path).
 */

/* remove: each source is a file or, with `recursive`, a directory (every
 * file below it; without: GS_ERR_ISDIR "<path> is a directory (use
 * recursive=True)").  The report's delete list has each file once, in
 * path order, with itself as source.  No file at all: GS_ERR_NOTFOUND
 * "No matches for sources: [<the sources as Python shows a list>]".  cs
 * may be NULL when only the report is wanted (a dry run). */
int gs_plan_remove(gs_changeset *cs, gs_report *report, gs_txn *txn, const git_oid *root,
		   const char *const *sources, size_t nsources, int recursive);

/* move (like mv): one source that is a file or a directory, with a dest
 * that is not a directory and does not end with '/', is renamed to dest;
 * otherwise each source goes into the directory dest.  dest is dest_len
 * bytes as the caller wrote it (a root form is the root).  Content is
 * never copied.  Errors, in this order: a source that cannot be
 * resolved, a bad dest (GS_ERR_INVALID), no file (GS_ERR_NOTFOUND "No
 * matches for patterns: [...]"), a file moving onto itself
 * (GS_ERR_INVALID "Source and destination are the same: <path>"), a
 * directory without `recursive` (GS_ERR_ISDIR as for remove).  Where
 * destinations meet, the first source wins.  The report lists each
 * destination (add or update by whether the tree has it, with the mode it
 * moves as and its source path), then each source file that goes away
 * (delete, in path order); a source another source moves onto stays. */
int gs_plan_move(gs_changeset *cs, gs_report *report, gs_txn *txn, const git_oid *root,
		 const char *const *sources, size_t nsources, const char *dest, size_t dest_len,
		 int recursive);

/* copy_from_ref: the sources, resolved in the tree `from_root` of the
 * same repository, copied into dest as copies place them ("dir" under its
 * name, "dir/" its contents, "" everything), the first source winning
 * where destinations meet.  With `delete`, the files under each source's
 * destination that it does not provide are removed.  dest (dest_len
 * bytes as the caller wrote it, a root form for the root) is checked
 * first.  With a report (may be NULL), it gets what committing cs on root
 * would change. */
int gs_plan_copy_from_ref(gs_changeset *cs, gs_report *report, gs_txn *txn, const git_oid *root,
			  const git_oid *from_root, const char *const *sources, size_t nsources,
			  const char *dest, size_t dest_len, int delete);

/* Batch.remove: stage the removal of the file at path in the tree root
 * (dropping a staged write of it), or only drop a staged write when root
 * does not have the path.  GS_ERR_NOTFOUND (the path) when neither has
 * it, GS_ERR_ISDIR (the path) when root has a directory there. */
int gs_plan_remove_file(gs_changeset *cs, gs_store *store, const git_oid *root,
			const char *path);

/* ------------------------------------------------------------------ */
/* Archives (archive.c): snapshots as zip and tar files, on libarchive */

typedef enum {
	GS_ARCHIVE_ANY = 0,   /* reading: whatever the content turns out to be */
	GS_ARCHIVE_ZIP,
	GS_ARCHIVE_TAR,
	GS_ARCHIVE_TAR_GZ,
	GS_ARCHIVE_TAR_BZ2,
	GS_ARCHIVE_TAR_XZ,
	GS_ARCHIVE_TAR_ZST
} gs_archive_format;

/* The names accepted, for messages. */
#define GS_ARCHIVE_ACCEPTED \
	"zip, tar, tar.gz (tgz), tar.bz2 (tbz2), tar.xz (txz), tar.zst (tzst)"

/* A format by its name ("zip", "tar", "tar.gz" or "tgz", ...), or by the
 * suffix of a file name (case-insensitive).  GS_ERR_INVALID listing the
 * accepted names when nothing fits. */
int gs_archive_format_parse(gs_archive_format *out, const char *name);
int gs_archive_format_of_file(gs_archive_format *out, const char *filename);

/*
 * Callbacks.  Each returns -1 to stop the operation, with its reason in
 * the error record or nothing there (the caller then knows why).
 *   write: take all `len` bytes;
 *   read: point *data at the next bytes and return their count, 0 at
 *         the end (the bytes stay valid until the next call);
 *   seek: lseek's contract (NULL: the input is a stream);
 *   progress: `done` of `total` entries (total 0: not known yet).
 */
typedef int (*gs_archive_write_fn)(void *ctx, const void *data, size_t len);
typedef int64_t (*gs_archive_read_fn)(void *ctx, const void **data);
typedef int64_t (*gs_archive_seek_fn)(void *ctx, int64_t offset, int whence);
typedef int (*gs_archive_progress_fn)(void *ctx, size_t done, size_t total);

typedef struct {
	gs_archive_format format;          /* never GS_ARCHIVE_ANY */
	const char *path;                  /* a directory or file to export; NULL: root */
	int64_t mtime;                     /* every entry's time (the commit's) */
	gs_archive_progress_fn progress;   /* may be NULL; called at least once a
					    * second and once at the end */
	void *progress_ctx;
} gs_archive_out_opts;

/*
 * Write the snapshot whose root tree is `root` as one archive, in bounded
 * memory: entries in path order, each directory before its contents, the
 * same time on every entry, so the same snapshot always gives the same
 * bytes (the compressed formats included).  `out` gets an add for every
 * file and link written (archive name, mode) and a warning for every
 * submodule skipped.  A missing opts->path is GS_ERR_NOTFOUND.
 */
int gs_archive_write(gs_report *out, gs_store *store, const git_oid *root,
		     const gs_archive_out_opts *opts, gs_archive_write_fn write, void *ctx);
/* The same into the file `dest`, created or replaced: written under a
 * temporary name in its directory and renamed at the end, so that a
 * failure leaves neither a partial archive nor a temporary file. */
int gs_archive_write_file(gs_report *out, gs_store *store, const git_oid *root,
			  const gs_archive_out_opts *opts, const char *dest);

typedef struct {
	gs_archive_format format;          /* GS_ARCHIVE_ANY, or what the content must be */
	const char *dest;                  /* normalised directory to import under; NULL: root */
	const char *source;                /* names the input in errors */
	int dry_run;                       /* hash only: nothing is stored */
	gs_archive_progress_fn progress;
	void *progress_ctx;
} gs_archive_in_opts;

typedef struct {
	gs_archive_read_fn read;
	gs_archive_seek_fn seek;           /* NULL for a stream */
	void *ctx;
} gs_archive_reader;

/*
 * Stage every entry of an archive (format and compression found from the
 * content) below opts->dest in `cs`, storing blobs through txn (big ones
 * stream into loose objects), and report in `out` what committing cs on
 * the tree `root` would change, with a warning for every entry skipped.
 * Names lose their leading "./" and "/", then follow the repository's
 * path rules; a ".." segment or any other bad name is GS_ERR_INVALID
 * naming the entry.  Regular files (0755 when any execute bit is set),
 * symlinks and hard links (the linked entry's content) are staged, the
 * last of equal names winning; directories add nothing; fifos, devices
 * and sockets are skipped.  Input that is not an archive, or is corrupt
 * or cut short, is GS_ERR_INVALID naming opts->source.  A zip that comes
 * as a stream (no seek) is first copied to an unnamed file beside the
 * repository's objects: its modes are in its directory, at its end.
 */
int gs_archive_read(gs_report *out, gs_changeset *cs, gs_txn *txn, const git_oid *root,
		    const gs_archive_in_opts *opts, const gs_archive_reader *reader);
/* The same from the file at `path` (a fifo or a device is a stream). */
int gs_archive_read_file(gs_report *out, gs_changeset *cs, gs_txn *txn, const git_oid *root,
			 const gs_archive_in_opts *opts, const char *path);

/* ------------------------------------------------------------------ */
/* Mirroring: backup and restore (mirror.c, remote.c, bundle.c)        */

/* Progress text for a transfer ("Receiving objects:  40% (2/5)\r",
 * "...done.\n", or what the remote sends); -1 stops the transfer. */
typedef int (*gs_mirror_progress_fn)(void *ctx, const char *text, size_t len);

/* One ref a backup or restore creates (no old id), moves, or deletes
 * (no new id).  `ref` is the full name on the side that changes. */
typedef struct {
	char *ref;
	git_oid old_id, new_id;
	int has_old, has_new;
} gs_ref_change;

typedef struct {
	int dry_run;                /* compare only: nothing is created or moved */
	int bundle;                 /* a bundle file, whatever its name */
	int local_path;             /* url is a local path, even if it looks like a URL */
	/* The refs to mirror: names on the source side (short names look in
	 * refs/heads/, refs/tags/, refs/notes/), and their names on the
	 * destination (NULL: the same; short ones take the source's prefix).
	 * ref_count 0 with refs NULL: every ref. */
	const char *const *refs;
	const char *const *rename;
	size_t ref_count;
	gs_mirror_progress_fn progress;
	void *progress_ctx;
} gs_mirror_opts;

/*
 * Make the refs at `url` (minus HEAD) equal this store's, or with
 * opts->refs those refs only: objects the destination lacks are sent,
 * refs forced, the destination's other refs deleted.  `url` is first
 * rewritten as git's url.<base>.pushInsteadOf, else url.<base>.insteadOf
 * settings say (not with opts->local_path).  A missing local
 * destination is created as a bare repository whose HEAD names the
 * store's current branch.  A local path ending ".bundle" (or
 * opts->bundle) is written as a git bundle instead.  The repository lock
 * is held throughout.  `out` lists the changes (made, or for a dry run
 * to be made), sorted by ref.  Transport, authentication and repository
 * failures are GS_ERR_GIT naming the URL, its credentials hidden.
 */
int gs_backup(gs_ref_change **out, size_t *count, gs_store *store, const char *url,
	      const gs_mirror_opts *opts);
/*
 * The reverse (url.<base>.insteadOf applies, pushInsteadOf does not):
 * fetch what the refs at `url` need, then under the lock
 * make this store's refs equal them (forced, no reflog), deleting local
 * refs the source lacks.  When HEAD's branch is gone afterwards, HEAD
 * moves to the source's HEAD branch.
 */
int gs_restore(gs_ref_change **out, size_t *count, gs_store *store, const char *url,
	       const gs_mirror_opts *opts);
void gs_ref_changes_free(gs_ref_change *changes, size_t count);

#endif
