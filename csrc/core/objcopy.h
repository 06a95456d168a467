/* objcopy.h - copying objects between two repositories on this machine
 * (objcopy.c), for backups and restores that need no transport. */
#ifndef GS_OBJCOPY_H
#define GS_OBJCOPY_H

#include "gs.h"

/*
 * Write into `to`'s objects/pack one pack of every object reachable from
 * `tips` in `from` that `to` lacks (nothing when it lacks none), without
 * delta search.  *copied gets the number of objects written.  Memory is
 * bounded by a batch of objects, not by the repository's size.
 */
int gs_objects_copy(size_t *copied, git_repository *from, git_repository *to,
		    const git_oid *tips, size_t count, gs_mirror_progress_fn progress,
		    void *progress_ctx);

#endif
