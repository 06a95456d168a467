/* refs.h - moving refs (refs.c), for the units that hold the lock. */
#ifndef GS_REFS_H
#define GS_REFS_H

#include "gs.h"

/*
 * Move or create a ref following git's lock-file protocol.
 *   expected == NULL: the ref must not exist (GS_ERR_EXISTS otherwise);
 *   expected != NULL: the ref must point at *expected (GS_ERR_STALE).
 * reflog_message == NULL writes no reflog entry.  Callers hold the
 * repository lock (lock.c).
 */
int gs_ref_write(gs_store *store, const char *fullname, const git_oid *new_id,
		 const git_oid *expected, const char *reflog_message);

/* Point HEAD at the full ref name `target` (no reflog). */
int gs_head_write(gs_store *store, const char *target);

#endif
