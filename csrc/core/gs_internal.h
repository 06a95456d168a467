/*
 * gs_internal.h - what several of the core's units share and the binding
 * never sees: the store's own state and its pool of libgit2 handles,
 * error helpers, object hashing.  A unit's private API lives in its own
 * header (pack.h, loose.h, tree.h, txn.h, ...); gs.h is the public one.
 */
#ifndef GS_INTERNAL_H
#define GS_INTERNAL_H

#include "gs.h"
#include "sha1.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Errors, time, limits (util.c)                                       */

/* Record errno for one file: the message is "<action> <path>". */
int gs_error_set_path(int err, const char *path, const char *action);
/* Record libgit2's last error, prefixed with a context (a path, a ref). */
int gs_error_set_git(int git_rc, const char *context);
/* Quote a string the way Python's repr() does, into buf. */
const char *gs_repr(char *buf, size_t bufsize, const char *s);

/* The current time in whole seconds (commit and reflog timestamps). */
int64_t gs_now(void);

/* How deep trees may nest for the walks that recurse (git's own limit,
 * core.maxTreeDepth, has the same default). */
#define GS_MAX_TREE_DEPTH 4096

/* Python fnmatch semantics (glob.c): '*', '?', '[seq]', '[!seq]', no
 * escapes, whole-string match, case-sensitive. '*' spans '/' and
 * newlines. */
int gs_fnmatch(const char *pattern, const char *name);

/* ------------------------------------------------------------------ */
/* The store (store.c)                                                 */

struct gs_store {
	char *path;     /* as the caller gave it */
	char *gitdir;   /* absolute, with a trailing '/' */
	char *name;     /* identity for commits and reflogs */
	char *email;
	char *pack_dir;  /* <gitdir>objects/pack */
	/* Every libgit2 handle the store has open, lent or idle (see store.c). */
	pthread_mutex_t pool_lock;
	struct gs_handle *handles;
	size_t handle_count;
	size_t handle_cap;
	unsigned packs_removed;        /* merges this store has made */
	struct timespec packs_written_at; /* objects/pack's mtime after our last change */
	struct timespec packs_mtime;   /* objects/pack's mtime when last looked at, */
	long long packs_checked_ns;    /* and when that was (CLOCK_MONOTONIC_COARSE) */
	unsigned packs_written;   /* since packs were last counted (under the lock) */
	size_t packs_kept;        /* left out of the last merge as too big (pack.c) */
	struct gs_pack_merge *merging; /* in progress over commits (pack.c; under the lock) */
	struct gs_version_pair *versions; /* noted for merges (pack.c; under the lock) */
	size_t version_count, version_cap;
	/* The trees this store's last commit wrote, raw: the next commit
	 * starts from them, and reading them back through libgit2 would mean
	 * finding, mapping and inflating the pack just written. */
	pthread_mutex_t tree_cache_lock;
	struct gs_cached_tree *tree_cache;
	size_t tree_cache_count;
	/* The blob stored whole a read stopped in the middle of (tree.c): a
	 * read of the same blob at or after that place goes on from there, so
	 * a big file read in pieces costs what the pieces hold.  Its file
	 * stays open until another reader takes its place, a pack deleted
	 * meanwhile included. */
	pthread_mutex_t parked_lock;
	gs_loose *parked;
	git_oid parked_id;
	/* parked_id's first bytes, or 0 with nothing parked: read without the
	 * lock, so that reads of other blobs do not contend for it. */
	atomic_uint parked_tag;
	/* The packs, mapped, to find big blobs stored whole (packed.c). */
	struct gs_packed_index *packed;
};

struct gs_handle {
	git_repository *repo;
	/* objects/pack's mtime, and the store's merge count, when the
	 * handle's object database was loaded or last found current */
	struct timespec packs_seen;
	unsigned packs_removed;
	unsigned opened_at;   /* the store's merge count when it was opened */
	int lent;
};

struct gs_cached_tree {
	git_oid id;
	char *data;
	size_t len;
	gs_dirlist *entries;   /* data parsed, on the first lookup in it */
};

/*
 * libgit2 handles are not safe to use from two threads at once, so the
 * store keeps a pool: a caller borrows a handle for one operation and
 * gives it back.  Readers in different threads get different handles.
 */
int gs_repo_acquire(git_repository **out, gs_store *store);
void gs_repo_release(gs_store *store, git_repository *repo);

/*
 * Give a handle a fresh object database (tree.c).  libgit2 rescans the
 * pack directory only when its mtime (in seconds) changed, so a pack
 * another handle or process wrote in the same second can go unseen:
 * every lookup of an object a ref or tree names reloads once on a miss
 * and retries.
 */
int gs_repo_reload(git_repository *repo);

/* An author name and email git can record (no '<', '>' or newline). */
int gs_identity_check(const char *name, const char *email);

/* Tell the pool that this store wrote a pack, or removed packs. */
void gs_store_packs_changed(gs_store *store, int removed);

/* Replace the cache of recent trees (takes ownership of `trees`). */
void gs_tree_cache_set(gs_store *store, struct gs_cached_tree *trees, size_t count);

/* "<gitdir><relative>", malloc'd; NULL (and GS_ERR_NOMEM) on failure. */
char *gs_store_file(const gs_store *store, const char *relative, const char *suffix);

/* Make a finished file read-only (as git keeps object files) and close
 * it; the descriptor is closed whatever fails. */
int gs_close_read_only(int fd, const char *path);

/* Create the parent directories of `path` (which is below the gitdir). */
int gs_mkdir_parents(const char *path);

/* gs_path_normalize with the root allowed (path.c): a root form gives "". */
int gs_path_normalize_or_root(char **out, const char *path, size_t len);

/* A destination and the place of its source in the order the sources
 * came in. */
typedef struct {
	const char *path;
	size_t seq;
} gs_path_seq;

/* Sort by path, the earlier place first among equal paths.  Where
 * sources meet at a destination the first source wins: the first of a
 * run of equal paths is the one kept, the others overlap it. */
void gs_path_seq_sort(gs_path_seq *items, size_t count);

/* ------------------------------------------------------------------ */
/* Object ids (txn.c, with sha1.c)                                     */

/* An object's id: SHA-1 of "<type> <size>\0" and the content. */
void gs_object_hash(git_oid *out, git_object_t type, const void *data, size_t len);
/* An object's "<type> <size>\0" header into out (GS_OBJECT_HEADER_MAX
 * bytes); returns its length, the NUL included. */
#define GS_OBJECT_HEADER_MAX 32
size_t gs_object_header(char *out, git_object_t type, uint64_t size);
/* Start the id of an object of `size` bytes with its header. */
void gs_object_hash_begin(gs_sha1 *sha, git_object_t type, uint64_t size);

#endif
