/* bundle.h - reading and writing git bundle files (bundle.c), which
 * libgit2 does not support: a text header naming refs (and, for an
 * incremental bundle, the commits it needs), then a pack. */
#ifndef GS_BUNDLE_H
#define GS_BUNDLE_H

#include "gs.h"

typedef struct {
	char *name;   /* full ref name, or "HEAD" */
	git_oid id;
} gs_bundle_ref;

void gs_bundle_refs_free(gs_bundle_ref *refs, size_t count);

/* The refs a bundle file lists, in file order, "HEAD" included when
 * present.  A file that is not a bundle git can read with SHA-1 objects
 * (v2, or v3 with no capability but object-format=sha1), or a malformed
 * one: GS_ERR_GIT naming the path.  A missing file: GS_ERR_NOTFOUND. */
int gs_bundle_list(gs_bundle_ref **out, size_t *count, const char *path);

/* Add the bundle's objects to repo's object database as one new pack
 * (the caller tells the store a pack was written).  The file is
 * streamed in bounded memory; a thin pack's bases come from the
 * repository.  A prerequisite the repository lacks: GS_ERR_GIT "...
 * needs <oid> ...", before anything is written.  progress (may be NULL)
 * is called from the calling thread only. */
int gs_bundle_unpack(git_repository *repo, const char *path, gs_mirror_progress_fn progress,
		     void *ctx);

/* Write a complete (no prerequisites) v2 bundle at `path` listing `refs`
 * in the order given and holding every object reachable from them.
 * `git clone` of a bundle checks out a branch at HEAD's commit: one named
 * after its default branch ("master") if there is one, else the last one
 * listed; so HEAD's own branch belongs after the other branches.  The file
 * appears whole or not at all: an existing `path` is replaced only once
 * the new bundle is written and synced.  An invalid ref name ("HEAD" is
 * valid): GS_ERR_INVALID.  progress (may be NULL) is called from the
 * calling thread only. */
int gs_bundle_write(git_repository *repo, const char *path, const gs_bundle_ref *refs,
		    size_t count, gs_mirror_progress_fn progress, void *ctx);

#endif
