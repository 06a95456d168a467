/* push.h - pushing in git's receive-pack protocol (push.c). */
#ifndef GS_PUSH_H
#define GS_PUSH_H

#include "remote.h"

/*
 * Send `changes` (ref names on the server; no old id: create, no new
 * id: delete) and the objects they need to the server `t` is connected
 * to (git_remote_connect for a push).  `present` are the ids the
 * server's refs hold: what they reach is not sent.  A ref the server
 * refuses, or a pack it cannot store, is GS_ERR_GIT naming the URL.
 */
int gs_push(gs_transfer *t, git_repository *repo, const gs_ref_change *changes, size_t count,
	    const git_oid *present, size_t present_count);

#endif
