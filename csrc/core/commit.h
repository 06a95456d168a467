/* commit.h - writing commit objects (commit.c). */
#ifndef GS_COMMIT_H
#define GS_COMMIT_H

#include "gs.h"

/* Write a commit object (author = committer = the store identity, now,
 * +0000, "encoding UTF-8"); the message gets a trailing '\n' if missing. */
int gs_commit_create(git_oid *out, gs_txn *txn, const git_oid *tree,
		     const git_oid *parent, const char *message, int64_t when);

#endif
