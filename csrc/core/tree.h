/* tree.h - reading trees and blobs through a libgit2 handle the caller
 * borrowed from the pool (tree.c, glob.c).  The public snapshot reads
 * (gs_snap_*) borrow the handle themselves. */
#ifndef GS_TREE_H
#define GS_TREE_H

#include "gs.h"

/* The tree object `id` (the object database reloaded once when it is
 * missing, as every lookup of an object a ref or tree names does). */
int gs_tree_get(git_tree **out, git_repository *repo, const git_oid *id);
/* The entry at a normalised path below root tree `root`. */
int gs_tree_lookup(gs_entry *out, git_repository *repo, const git_oid *root,
		   const char *path, gs_lookup_style style);
/* The entries of the tree `tree`, in git tree order. */
int gs_tree_list(gs_dirlist *out, git_repository *repo, const git_oid *tree);
/* gs_tree_list and an entry-style gs_tree_lookup that first look among
 * the trees this store's last commit wrote (the write path starts from
 * them; reads use the plain functions). */
int gs_tree_list_recent(gs_dirlist *out, gs_store *store, git_repository *repo,
			const git_oid *id);
int gs_tree_lookup_recent(gs_entry *out, gs_store *store, git_repository *repo,
			  const git_oid *root, const char *path);
/* Number of subtrees directly in `tree`. */
int gs_tree_count_subdirs(size_t *out, git_repository *repo, const git_oid *tree);
/* Size of any object without reading its content. */
int gs_object_size(size_t *out, git_repository *repo, const git_oid *id);

/* Open bytes [offset, offset+size) of a blob for reading (see gs_blob). */
int gs_blob_open(gs_blob *out, gs_store *store, git_repository *repo, const git_oid *id,
		 size_t offset, size_t size);
/* open + fill into a buffer of its own: `data` is always set. */
int gs_blob_read(gs_blob *out, gs_store *store, git_repository *repo, const git_oid *id,
		 size_t offset, size_t size);

/* Every path below `root` matching `pattern` ('/'-separated segments of
 * fnmatch wildcards, "**" for any number of directories), unsorted and
 * without duplicates; the caller sorts when it needs to (glob.c). */
int gs_glob(gs_strlist *out, git_repository *repo, const git_oid *root,
	    const char *pattern);

#endif
