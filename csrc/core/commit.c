/* commit.c - reading commit metadata and writing commit objects. */
#include "gs_internal.h"

#include <git2/sys/commit.h>

#include <errno.h>
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
	if ((git_rc = git_commit_lookup(&commit, repo, id)) < 0) {
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

int gs_commit_create(git_oid *out, gs_store *store, git_repository *repo,
		     const git_oid *tree, const git_oid *parent, const char *message)
{
	git_signature *sig = NULL;
	const git_oid *parents[1] = { parent };
	char *text = NULL;
	size_t len = strlen(message);
	int rc = -1;

	/* Whole seconds, +0000: the same bytes the reference writes. */
	if (git_signature_new(&sig, store->name, store->email, (git_time_t)time(NULL), 0) < 0) {
		gs_error_set_git(-1, "invalid author");
		gs_error_set(GS_ERR_INVALID, "invalid author or email: %s <%s>",
			     store->name, store->email);
		goto done;
	}
	text = malloc(len + 2);
	if (!text) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	memcpy(text, message, len);
	if (len == 0 || message[len - 1] != '\n')
		text[len++] = '\n';
	text[len] = '\0';
	if (git_commit_create_from_ids(out, repo, NULL, sig, sig, "UTF-8", text, tree,
				       parent ? 1 : 0, parents) < 0) {
		gs_error_set_git(-1, store->path);
		goto done;
	}
	rc = 0;
done:
	free(text);
	git_signature_free(sig);
	return rc;
}
