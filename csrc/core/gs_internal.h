/* gs_internal.h - what the core's files share and the binding never sees. */
#ifndef GS_INTERNAL_H
#define GS_INTERNAL_H

#include "gs.h"

#include <pthread.h>

struct gs_store {
	char *path;     /* as the caller gave it */
	char *gitdir;   /* absolute, with a trailing '/' */
	char *name;     /* identity for commits and reflogs */
	char *email;
	pthread_mutex_t pool_lock;
	git_repository **pool;
	size_t pool_count;
	unsigned packs_written;   /* since packs were last counted (under the lock) */
	/* The trees this store's last commit wrote, raw: the next commit
	 * starts from them, and reading them back through libgit2 would mean
	 * finding, mapping and inflating the pack just written. */
	pthread_mutex_t tree_cache_lock;
	struct gs_cached_tree *tree_cache;
	size_t tree_cache_count;
};

struct gs_cached_tree {
	git_oid id;
	char *data;
	size_t len;
};

/* Replace the cache of recent trees (takes ownership of `trees`). */
void gs_tree_cache_set(gs_store *store, struct gs_cached_tree *trees, size_t count);

/* Point HEAD at the full ref name `target` (no reflog). */
int gs_head_write(gs_store *store, const char *target);

/* "<gitdir><relative>", malloc'd; NULL (and GS_ERR_NOMEM) on failure. */
char *gs_store_file(const gs_store *store, const char *relative, const char *suffix);

/* Create the parent directories of `path` (which is below the gitdir). */
int gs_mkdir_parents(const char *path);

#endif
