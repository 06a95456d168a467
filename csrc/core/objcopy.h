/* objcopy.h - copying objects between two repositories on this machine
 * (objcopy.c), for backups and restores that need no transport. */
#ifndef GS_OBJCOPY_H
#define GS_OBJCOPY_H

#include "gs.h"

/*
 * Write into `to`'s objects/pack one pack of every object reachable from
 * `tips` in `from` that `to` lacks (nothing when it lacks none), without
 * delta search.  With to_is_empty (`to` has no refs) nothing is looked up
 * there: everything is copied.  *copied gets the number of objects written.  Memory is
 * bounded by a batch of objects, not by the repository's size.
 */
int gs_objects_copy(size_t *copied, git_repository *from, git_repository *to, int to_is_empty,
		    const git_oid *tips, size_t count, gs_mirror_progress_fn progress,
		    void *progress_ctx);

/* Every object reachable from `tips` in `from`, as a pack written to
 * `fd` from its current position (a bundle's); `name` is for errors. */
int gs_objects_write_fd(size_t *written, git_repository *from, const git_oid *tips,
			size_t count, int fd, const char *name, gs_mirror_progress_fn progress,
			void *progress_ctx);

#endif
