/* gs_internal.h - what the core's files share and the binding never sees. */
#ifndef GS_INTERNAL_H
#define GS_INTERNAL_H

#include "gs.h"
#include "sha1.h"

#include <pthread.h>
#include <time.h>

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
	/* The trees this store's last commit wrote, raw: the next commit
	 * starts from them, and reading them back through libgit2 would mean
	 * finding, mapping and inflating the pack just written. */
	pthread_mutex_t tree_cache_lock;
	struct gs_cached_tree *tree_cache;
	size_t tree_cache_count;
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

/* Tell the pool that this store wrote a pack, or removed packs. */
void gs_store_packs_changed(gs_store *store, int removed);

/* Replace the cache of recent trees (takes ownership of `trees`). */
void gs_tree_cache_set(gs_store *store, struct gs_cached_tree *trees, size_t count);

/* An object's "<type> <size>\0" header into out (GS_OBJECT_HEADER_MAX
 * bytes); returns its length, the NUL included. */
#define GS_OBJECT_HEADER_MAX 32
size_t gs_object_header(char *out, git_object_t type, uint64_t size);
/* Start the id of an object of `size` bytes with its header. */
void gs_object_hash_begin(gs_sha1 *sha, git_object_t type, uint64_t size);

/* The tree object `id` (the object database reloaded once when it is
 * missing, as every lookup of an object a ref or tree names does). */
int gs_tree_get(git_tree **out, git_repository *repo, const git_oid *id);

/* Point HEAD at the full ref name `target` (no reflog). */
int gs_head_write(gs_store *store, const char *target);

/* "<gitdir><relative>", malloc'd; NULL (and GS_ERR_NOMEM) on failure. */
char *gs_store_file(const gs_store *store, const char *relative, const char *suffix);

/* Make a finished file read-only (as git keeps object files) and close
 * it; the descriptor is closed whatever fails. */
int gs_close_read_only(int fd, const char *path);

/* Create the parent directories of `path` (which is below the gitdir). */
int gs_mkdir_parents(const char *path);

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

#endif
