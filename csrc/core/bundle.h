/* bundle.h - reading and writing git bundle files (bundle.c), which
 * libgit2 does not support: a text header naming refs (and, for an
 * incremental bundle, the commits it needs), then a pack. */
#ifndef GS_BUNDLE_H
#define GS_BUNDLE_H

#include "gs.h"

#ifndef GS_MIRROR_PROGRESS_FN
#define GS_MIRROR_PROGRESS_FN
/* Progress text, git's way: "Writing objects:  40% (2/5)\r", then
 * "Writing objects: 100% (5/5), done.\n".  Returning -1 stops the
 * operation, which then fails without touching the error record (it
 * already says why, or the caller knows). */
typedef int (*gs_mirror_progress_fn)(void *ctx, const char *text, size_t len);
#endif

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
 * in the order given ("HEAD" first makes `git clone` check out HEAD's
 * branch) and holding every object reachable from them.  The file
 * appears whole or not at all: an existing `path` is replaced only once
 * the new bundle is written and synced.  A name git cannot take as a ref
 * (besides "HEAD"): GS_ERR_INVALID.  progress (may be NULL) is called
 * from the calling thread only. */
int gs_bundle_write(git_repository *repo, const char *path, const gs_bundle_ref *refs,
		    size_t count, gs_mirror_progress_fn progress, void *ctx);

#endif
