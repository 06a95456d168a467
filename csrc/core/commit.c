/* commit.c - reading commit metadata and writing commit objects. */
#include "gs_internal.h"
#include "commit.h"
#include "lock.h"
#include "refs.h"
#include "txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int gs_commit_info_read(gs_commit_info *out, gs_store *store, const git_oid *id)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	const git_signature *author, *committer;
	const char *message;
	int rc = -1, git_rc;

	memset(out, 0, sizeof(*out));
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	git_rc = git_commit_lookup(&commit, repo, id);
	if (git_rc == GIT_ENOTFOUND && gs_repo_reload(repo) == 0)
		git_rc = git_commit_lookup(&commit, repo, id);
	if (git_rc < 0) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), id);
		gs_error_set_git(git_rc, hex);
		if (git_rc == GIT_ENOTFOUND)
			gs_error_set(GS_ERR_GIT, "commit %s is missing from the repository", hex);
		goto done;
	}
	git_oid_cpy(&out->id, id);
	git_oid_cpy(&out->tree, git_commit_tree_id(commit));
	if (git_commit_parentcount(commit) > 0) {
		git_oid_cpy(&out->parent, git_commit_parent_id(commit, 0));
		out->has_parent = 1;
	}
	committer = git_commit_committer(commit);
	author = git_commit_author(commit);
	out->time = committer->when.time;
	out->offset = committer->when.offset;
	message = git_commit_message_raw(commit);
	out->message = strdup(message ? message : "");
	out->author_name = strdup(author->name ? author->name : "");
	out->author_email = strdup(author->email ? author->email : "");
	if (!out->message || !out->author_name || !out->author_email) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		gs_commit_info_clear(out);
	git_commit_free(commit);
	gs_repo_release(store, repo);
	return rc;
}

void gs_commit_info_clear(gs_commit_info *info)
{
	free(info->message);
	free(info->author_name);
	free(info->author_email);
	memset(info, 0, sizeof(*info));
}

int gs_commit_create(git_oid *out, gs_txn *txn, const git_oid *tree,
		     const git_oid *parent, const char *message, int64_t when)
{
	gs_store *store = gs_txn_store(txn);
	gs_buf buf = {0};
	char hex[GIT_OID_HEXSZ + 1], line[128];
	size_t len = strlen(message);
	int rc = -1;

	if (gs_identity_check(store->name, store->email) < 0)
		return -1;
	/* Whole seconds, +0000, "encoding UTF-8": the bytes the pure-Python
	 * gitstore writes, so equal inputs give equal commit ids. */
	git_oid_tostr(hex, sizeof(hex), tree);
	if (gs_buf_puts(&buf, "tree ") < 0 || gs_buf_puts(&buf, hex) < 0)
		goto done;
	if (parent) {
		git_oid_tostr(hex, sizeof(hex), parent);
		if (gs_buf_puts(&buf, "\nparent ") < 0 || gs_buf_puts(&buf, hex) < 0)
			goto done;
	}
	snprintf(line, sizeof(line), "> %lld +0000", (long long)when);
	for (int who = 0; who < 2; who++)
		if (gs_buf_puts(&buf, who ? "\ncommitter " : "\nauthor ") < 0 ||
		    gs_buf_puts(&buf, store->name) < 0 || gs_buf_puts(&buf, " <") < 0 ||
		    gs_buf_puts(&buf, store->email) < 0 || gs_buf_puts(&buf, line) < 0)
			goto done;
	if (gs_buf_puts(&buf, "\nencoding UTF-8\n\n") < 0 || gs_buf_put(&buf, message, len) < 0)
		goto done;
	if ((len == 0 || message[len - 1] != '\n') && gs_buf_puts(&buf, "\n") < 0)
		goto done;
	rc = gs_txn_put(out, txn, GIT_OBJECT_COMMIT, buf.data, buf.size);
done:
	gs_buf_free(&buf);
	return rc;
}

/* Under the lock: `fullname` is at `expected`, or missing when expected
 * is NULL.  A missing ref that should exist is GS_ERR_KEY (its name). */
static int check_tip(gs_store *store, const char *fullname, const git_oid *expected)
{
	git_oid tip;
	int exists;

	exists = gs_ref_resolve(&tip, store, fullname) == 0;
	if (!exists && gs_error_last()->category != GS_ERR_KEY)
		return -1;
	if (!exists && expected)
		return -1;
	gs_error_clear();
	if (exists != (expected != NULL) || (exists && !git_oid_equal(&tip, expected)))
		return gs_error_set(GS_ERR_STALE, "%s has moved since it was read", fullname);
	return 0;
}

/* A branch's callers see the staleness of their snapshot. */
static int branch_stale(const char *branch)
{
	char quoted[600];

	if (gs_error_last()->category != GS_ERR_STALE)
		return -1;
	return gs_error_set(GS_ERR_STALE, "Branch %s has advanced since this snapshot",
			    gs_repr(quoted, sizeof(quoted), branch));
}

static char *branch_ref(const char *branch)
{
	char *full = malloc(strlen(branch) + sizeof(GS_REFS_HEADS));
	if (!full) {
		gs_error_set_os(ENOMEM, "out of memory");
		return NULL;
	}
	sprintf(full, GS_REFS_HEADS "%s", branch);
	return full;
}

int gs_ref_commit(git_oid *out, int64_t *when, int *noop, gs_txn *txn, const char *fullname,
		  const git_oid *base_commit, const git_oid *base_tree,
		  const git_oid *new_tree, const char *message, const char *reflog_message)
{
	gs_store *store = gs_txn_store(txn);
	gs_lock *lock = NULL;
	int rc = -1;

	*noop = 0;
	if (gs_lock_acquire(&lock, store) < 0)
		goto done;
	if (check_tip(store, fullname, base_commit) < 0)
		goto done;
	if (base_commit && base_tree && git_oid_equal(new_tree, base_tree)) {
		git_oid_cpy(out, base_commit);
		*noop = 1;
		rc = 0;
		goto done;
	}
	*when = gs_now();
	if (gs_commit_create(out, txn, new_tree, base_commit, message, *when) < 0 ||
	    gs_txn_flush_merging(txn) < 0 ||
	    gs_ref_write(store, fullname, out, base_commit, reflog_message) < 0)
		goto done;
	rc = 0;
done:
	gs_lock_release(lock);
	return rc;
}

int gs_branch_commit(git_oid *out, int64_t *when, int *noop, gs_txn *txn, const char *branch,
		     const git_oid *base_commit, const git_oid *base_tree,
		     const git_oid *new_tree, const char *message)
{
	char *full = NULL, *reflog = NULL;
	int rc = -1;

	*noop = 0;
	if (!(full = branch_ref(branch)))
		return -1;
	if (!(reflog = malloc(strlen(message) + sizeof("commit: ")))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	sprintf(reflog, "commit: %s", message);
	rc = gs_ref_commit(out, when, noop, txn, full, base_commit, base_tree, new_tree,
			   message, reflog);
	if (rc < 0)
		branch_stale(branch);
done:
	free(reflog);
	free(full);
	return rc;
}

int gs_branch_move(gs_store *store, const char *branch, const git_oid *expected,
		   const git_oid *target, const char *reflog_message)
{
	gs_lock *lock = NULL;
	char *full = branch_ref(branch);
	int rc = -1;

	if (!full)
		return -1;
	if (gs_lock_acquire(&lock, store) == 0 &&
	    check_tip(store, full, expected) == 0 &&
	    gs_ref_write(store, full, target, expected, reflog_message) == 0)
		rc = 0;
	if (rc < 0)
		branch_stale(branch);
	gs_lock_release(lock);
	free(full);
	return rc;
}
