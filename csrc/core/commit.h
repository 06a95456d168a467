/* commit.h - writing commit objects (commit.c). */
#ifndef GS_COMMIT_H
#define GS_COMMIT_H

#include "gs.h"

/* Write a commit object (author = committer = the store identity, now,
 * +0000, "encoding UTF-8"); the message gets a trailing '\n' if missing. */
int gs_commit_create(git_oid *out, gs_txn *txn, const git_oid *tree,
		     const git_oid *parent, const char *message, int64_t when);


/*
 * Commit `new_tree` on top of `base_commit` and move the ref `fullname`
 * there, all under the repository lock:
 *   - base_commit NULL: a first commit (no parent); the ref must not
 *     exist yet, else GS_ERR_STALE;
 *   - base_commit given: the ref must exist (GS_ERR_KEY, its name) and
 *     point there (GS_ERR_STALE);
 *   - base_tree given and equal to new_tree: nothing is written, *noop = 1;
 *   - otherwise the commit is written, the transaction's objects are
 *     flushed as one pack, and the ref moves (compare-and-swap) with the
 *     reflog entry `reflog_message`; *when is the commit's time.
 */
int gs_ref_commit(git_oid *out, int64_t *when, int *noop, gs_txn *txn, const char *fullname,
		  const git_oid *base_commit, const git_oid *base_tree,
		  const git_oid *new_tree, const char *message, const char *reflog_message);

/*
 * gs_ref_commit on refs/heads/<branch>, which must exist:
 *   - the branch is missing: GS_ERR_KEY "refs/heads/<branch>";
 *   - it is not at base_commit: GS_ERR_STALE "Branch '<branch>' has
 *     advanced since this snapshot";
 *   - the reflog entry is "commit: <message>".
 */
int gs_branch_commit(git_oid *out, int64_t *when, int *noop, gs_txn *txn, const char *branch,
		     const git_oid *base_commit, const git_oid *base_tree,
		     const git_oid *new_tree, const char *message);

#endif
