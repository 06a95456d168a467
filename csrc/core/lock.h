/* lock.h - the repository lock (lock.c): a mutex per repository in this
 * process, then flock(2) on <gitdir>/gitstore.lock.  Blocks until it is
 * free. */
#ifndef GS_LOCK_H
#define GS_LOCK_H

#include "gs.h"

typedef struct gs_lock gs_lock;

int gs_lock_acquire(gs_lock **out, gs_store *store);
/* The same without waiting: *out NULL (and 0) when another holds it. */
int gs_lock_try(gs_lock **out, gs_store *store);
void gs_lock_release(gs_lock *lock);

#endif
