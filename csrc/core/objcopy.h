/* objcopy.h - copying objects between two repositories on this machine
 * (objcopy.c), for backups and restores that need no transport. */
#ifndef GS_OBJCOPY_H
#define GS_OBJCOPY_H

#include "gs.h"
#include "pack.h"

/*
 * Write into `to`'s objects/pack one pack of every object reachable from
 * `tips` in `from` that `to` lacks (nothing when it lacks none), without
 * delta search.  `present` are the ids `to`'s refs hold: what they reach
 * is not copied again.  Memory is bounded by a batch of objects, not by
 * the repository's size.
 */
int gs_objects_copy(size_t *copied, git_repository *from, git_repository *to,
		    const git_oid *present, size_t present_count, const git_oid *tips,
		    size_t count, gs_mirror_progress_fn progress, void *progress_ctx);

/*
 * Every object reachable from `tips` in `from`, less what the other side
 * has (`present`: the ids its refs hold; their history and snapshots are
 * left out), as one pack handed to `sink` (a bundle file, a server).
 */
int gs_objects_send(size_t *written, git_repository *from, const git_oid *tips, size_t count,
		    const git_oid *present, size_t present_count, gs_pack_sink sink,
		    void *sink_ctx, gs_mirror_progress_fn progress, void *progress_ctx);

#endif
