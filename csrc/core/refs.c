/* refs.c - ref names, lookups, HEAD, reflogs and compare-and-swap moves. */
#include "gs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How many annotated tags deep a tag may be peeled. */
#define PEEL_LIMIT 50

char *gs_store_file(const gs_store *store, const char *relative, const char *suffix)
{
	size_t len = strlen(store->gitdir) + strlen(relative) + strlen(suffix) + 1;
	char *path = malloc(len);

	if (!path) {
		gs_error_set_os(ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(path, len, "%s%s%s", store->gitdir, relative, suffix);
	return path;
}

int gs_mkdir_parents(const char *path)
{
	char *copy = strdup(path);
	int rc = 0;

	if (!copy)
		return gs_error_set_os(ENOMEM, "out of memory");
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0777) < 0 && errno != EEXIST) {
			rc = gs_error_set_os(errno, "cannot create directory %s", copy);
			break;
		}
		*p = '/';
	}
	free(copy);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

int gs_refname_check(const char *name)
{
	char quoted[600];
	char *full = NULL;
	int valid = 0;
	size_t len = strlen(name);

	if (strchr(name, ':'))
		return gs_error_set(GS_ERR_INVALID, "Invalid ref name %s: contains colon",
				    gs_repr(quoted, sizeof(quoted), name));
	/* git's rules, as libgit2 applies them to the full name; a few are
	 * spelled out because they are the documented contract. */
	if (len == 0 || strstr(name, "..") || strstr(name, "@{") || strchr(name, '\\') ||
	    name[len - 1] == '/' || name[len - 1] == '.' ||
	    (len >= 5 && strcmp(name + len - 5, ".lock") == 0))
		goto invalid;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || strchr(" ~^:?*[", *p))
			goto invalid;
	full = malloc(len + sizeof(GS_REFS_HEADS));
	if (!full)
		return gs_error_set_os(ENOMEM, "out of memory");
	sprintf(full, GS_REFS_HEADS "%s", name);
	if (git_reference_name_is_valid(&valid, full) < 0 || !valid || strstr(full, "/."))
		goto invalid;
	free(full);
	return 0;
invalid:
	free(full);
	return gs_error_set(GS_ERR_INVALID, "Invalid ref name: %s",
			    gs_repr(quoted, sizeof(quoted), name));
}

static int fullname_valid(const char *fullname)
{
	int valid = 0;
	return git_reference_name_is_valid(&valid, fullname) == 0 && valid;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */

int gs_ref_resolve(git_oid *out, gs_store *store, const char *fullname)
{
	git_repository *repo = NULL;
	int rc;

	if (!fullname_valid(fullname))
		return gs_error_set(GS_ERR_KEY, "%s", fullname);
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	rc = git_reference_name_to_id(out, repo, fullname);
	gs_repo_release(store, repo);
	if (rc == GIT_ENOTFOUND)
		return gs_error_set(GS_ERR_KEY, "%s", fullname);
	if (rc < 0)
		return gs_error_set_git(rc, fullname);
	return 0;
}

int gs_ref_exists(int *out, gs_store *store, const char *fullname)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	int rc;

	*out = 0;
	if (!fullname_valid(fullname))
		return 0;
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	rc = git_reference_lookup(&ref, repo, fullname);
	git_reference_free(ref);
	gs_repo_release(store, repo);
	if (rc == 0)
		*out = 1;
	else if (rc != GIT_ENOTFOUND && rc != GIT_EINVALIDSPEC)
		return gs_error_set_git(rc, fullname);
	return 0;
}

int gs_ref_list(gs_strlist *out, gs_store *store, const char *prefix)
{
	git_repository *repo = NULL;
	git_reference_iterator *iter = NULL;
	const char *name;
	size_t prefix_len = strlen(prefix);
	int rc = -1, git_rc;

	memset(out, 0, sizeof(*out));
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if ((git_rc = git_reference_iterator_new(&iter, repo)) < 0) {
		gs_error_set_git(git_rc, store->path);
		goto done;
	}
	while ((git_rc = git_reference_next_name(&name, iter)) == 0) {
		if (strncmp(name, prefix, prefix_len) == 0 &&
		    gs_strlist_push(out, name + prefix_len) < 0)
			goto done;
	}
	if (git_rc != GIT_ITEROVER) {
		gs_error_set_git(git_rc, store->path);
		goto done;
	}
	gs_strlist_sort(out);
	rc = 0;
done:
	git_reference_iterator_free(iter);
	gs_repo_release(store, repo);
	if (rc < 0)
		gs_strlist_free(out);
	return rc;
}

int gs_tag_peel(git_oid *out, gs_store *store, const char *short_name)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_oid id;
	char *full = NULL;
	char quoted[600];
	int rc = -1;

	full = malloc(strlen(short_name) + sizeof(GS_REFS_TAGS));
	if (!full)
		return gs_error_set_os(ENOMEM, "out of memory");
	sprintf(full, GS_REFS_TAGS "%s", short_name);
	if (gs_ref_resolve(&id, store, full) < 0)
		goto done;
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	for (int depth = 0; depth < PEEL_LIMIT; depth++) {
		git_object *obj = NULL;
		git_object_t type;
		int git_rc = git_object_lookup(&obj, repo, &id, GIT_OBJECT_ANY);

		if (git_rc < 0) {
			gs_error_set_git(git_rc, full);
			if (git_rc == GIT_ENOTFOUND)
				gs_error_set(GS_ERR_GIT, "%s: object %s is missing", full,
					     git_oid_tostr_s(&id));
			goto done;
		}
		type = git_object_type(obj);
		if (type == GIT_OBJECT_COMMIT) {
			git_oid_cpy(out, &id);
			git_object_free(obj);
			rc = 0;
			goto done;
		}
		if (type == GIT_OBJECT_TAG)
			git_oid_cpy(&id, git_tag_target_id((git_tag *)obj));
		git_object_free(obj);
		if (type != GIT_OBJECT_TAG)
			break;
	}
	gs_error_set(GS_ERR_INVALID, "Tag %s does not point to a commit",
		     gs_repr(quoted, sizeof(quoted), short_name));
done:
	git_odb_free(odb);
	gs_repo_release(store, repo);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* HEAD                                                                */

int gs_head_branch(char **out, gs_store *store)
{
	git_repository *repo = NULL;
	git_reference *head = NULL, *target = NULL;
	const char *name;
	int rc = 0, git_rc;

	*out = NULL;
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	git_rc = git_reference_lookup(&head, repo, "HEAD");
	if (git_rc < 0) {
		if (git_rc != GIT_ENOTFOUND)
			rc = gs_error_set_git(git_rc, "HEAD");
		goto done;
	}
	if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC)
		goto done;
	name = git_reference_symbolic_target(head);
	if (strncmp(name, GS_REFS_HEADS, strlen(GS_REFS_HEADS)) != 0)
		goto done;
	if (git_reference_lookup(&target, repo, name) < 0)
		goto done;
	*out = strdup(name + strlen(GS_REFS_HEADS));
	if (!*out)
		rc = gs_error_set_os(ENOMEM, "out of memory");
done:
	git_reference_free(target);
	git_reference_free(head);
	gs_repo_release(store, repo);
	return rc;
}

/* Replace the file `relative` (below the gitdir) with `content`, through
 * git's "<file>.lock" protocol.  With `check`, the current value of the
 * ref `relative` is compared with *expected (NULL: must be absent)
 * while the lock is held. */
static int locked_replace(gs_store *store, const char *relative, const char *content,
			  int check, const git_oid *expected, git_oid *old_out);

int gs_head_write(gs_store *store, const char *target)
{
	char content[4096];

	snprintf(content, sizeof(content), "ref: %s\n", target);
	return locked_replace(store, "HEAD", content, 0, NULL, NULL);
}

int gs_head_set(gs_store *store, const char *name)
{
	char quoted[600];
	char *full = malloc(strlen(name) + sizeof(GS_REFS_HEADS));
	int exists = 0, rc = -1;

	if (!full)
		return gs_error_set_os(ENOMEM, "out of memory");
	sprintf(full, GS_REFS_HEADS "%s", name);
	if (gs_ref_exists(&exists, store, full) < 0)
		goto done;
	if (!exists) {
		gs_error_set(GS_ERR_KEY, "Branch not found: %s",
			     gs_repr(quoted, sizeof(quoted), name));
		goto done;
	}
	rc = gs_head_write(store, full);
done:
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reflogs                                                             */

int gs_reflog_read(gs_reflog_entry **out, size_t *count, gs_store *store,
		   const char *fullname)
{
	git_repository *repo = NULL;
	git_reflog *log = NULL;
	gs_reflog_entry *entries = NULL;
	size_t n = 0, filled = 0;
	int rc = -1, git_rc;

	*out = NULL;
	*count = 0;
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if ((git_rc = git_reflog_read(&log, repo, fullname)) < 0) {
		gs_error_set_git(git_rc, fullname);
		goto done;
	}
	n = git_reflog_entrycount(log);
	if (n == 0) {
		rc = 0;
		goto done;
	}
	entries = calloc(n, sizeof(*entries));
	if (!entries) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	/* libgit2 numbers entries newest first; we return oldest first. */
	for (filled = 0; filled < n; filled++) {
		const git_reflog_entry *e = git_reflog_entry_byindex(log, n - 1 - filled);
		const git_signature *who = git_reflog_entry_committer(e);
		const char *msg = git_reflog_entry_message(e);
		gs_reflog_entry *dst = &entries[filled];
		size_t len = strlen(who->name) + strlen(who->email) + 4;

		git_oid_cpy(&dst->old_id, git_reflog_entry_id_old(e));
		git_oid_cpy(&dst->new_id, git_reflog_entry_id_new(e));
		dst->timestamp = who->when.time;
		dst->committer = malloc(len);
		dst->message = strdup(msg ? msg : "");
		if (!dst->committer || !dst->message) {
			filled++;
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		snprintf(dst->committer, len, "%s <%s>", who->name, who->email);
	}
	*out = entries;
	*count = n;
	entries = NULL;
	rc = 0;
done:
	if (entries)
		gs_reflog_free(entries, filled);
	git_reflog_free(log);
	gs_repo_release(store, repo);
	return rc;
}

void gs_reflog_free(gs_reflog_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(entries[i].committer);
		free(entries[i].message);
	}
	free(entries);
}

/* One reflog line; newlines become spaces and trailing blanks go, so a
 * multi-line commit message cannot split the entry. */
static int reflog_append(gs_store *store, const char *fullname, const git_oid *old_id,
			 const git_oid *new_id, const char *message)
{
	char old_hex[GIT_OID_HEXSZ + 1], new_hex[GIT_OID_HEXSZ + 1];
	char *path = gs_store_file(store, "logs/", fullname);
	gs_buf line = {0};
	size_t end;
	int fd = -1, rc = -1;

	if (!path)
		return -1;
	git_oid_tostr(old_hex, sizeof(old_hex), old_id);
	git_oid_tostr(new_hex, sizeof(new_hex), new_id);
	if (gs_buf_puts(&line, old_hex) < 0 || gs_buf_puts(&line, " ") < 0 ||
	    gs_buf_puts(&line, new_hex) < 0 || gs_buf_puts(&line, " ") < 0 ||
	    gs_buf_puts(&line, store->name) < 0 || gs_buf_puts(&line, " <") < 0 ||
	    gs_buf_puts(&line, store->email) < 0)
		goto done;
	{
		char stamp[64];
		snprintf(stamp, sizeof(stamp), "> %lld +0000\t", (long long)time(NULL));
		if (gs_buf_puts(&line, stamp) < 0)
			goto done;
	}
	end = line.size;
	if (gs_buf_puts(&line, message) < 0)
		goto done;
	for (size_t i = end; i < line.size; i++)
		if (line.data[i] == '\n' || line.data[i] == '\r')
			line.data[i] = ' ';
	while (line.size > end && (line.data[line.size - 1] == ' ' ||
				   line.data[line.size - 1] == '\t'))
		line.size--;
	if (gs_buf_put(&line, "\n", 1) < 0 || gs_mkdir_parents(path) < 0)
		goto done;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || write(fd, line.data, line.size) != (ssize_t)line.size) {
		gs_error_set_os(errno, "cannot append to reflog %s", path);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	gs_buf_free(&line);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Ref moves                                                           */

static int locked_replace(gs_store *store, const char *relative, const char *content,
			  int check, const git_oid *expected, git_oid *old_out)
{
	char *path = gs_store_file(store, relative, "");
	char *lock = gs_store_file(store, relative, ".lock");
	git_repository *repo = NULL;
	size_t len = strlen(content);
	int fd = -1, rc = -1, locked = 0;

	if (!path || !lock)
		goto done;
	if (gs_mkdir_parents(path) < 0)
		goto done;
	fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		if (errno == EEXIST)
			gs_error_set(GS_ERR_GIT, "cannot lock ref %s: %s exists (another "
				     "git process is updating it, or it was left behind)",
				     relative, lock);
		else if (errno == ENOTDIR || errno == EISDIR)
			gs_error_set(GS_ERR_GIT, "cannot create ref %s: it clashes with "
				     "an existing ref", relative);
		else
			gs_error_set_os(errno, "cannot lock ref %s", relative);
		goto done;
	}
	locked = 1;
	if (check) {
		git_oid current;
		int git_rc;

		if (gs_repo_acquire(&repo, store) < 0)
			goto done;
		git_rc = git_reference_name_to_id(&current, repo, relative);
		if (git_rc < 0 && git_rc != GIT_ENOTFOUND) {
			gs_error_set_git(git_rc, relative);
			goto done;
		}
		if (expected == NULL && git_rc == 0) {
			gs_error_set(GS_ERR_EXISTS, "ref %s already exists", relative);
			goto done;
		}
		if (expected && (git_rc != 0 || !git_oid_equal(&current, expected))) {
			gs_error_set(GS_ERR_STALE, "CAS failed updating %s", relative);
			goto done;
		}
		if (old_out)
			git_oid_cpy(old_out, expected ? expected : &(git_oid){{0}});
	}
	if (write(fd, content, len) != (ssize_t)len) {
		gs_error_set_os(errno, "cannot write %s", lock);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		gs_error_set_os(errno, "cannot write %s", lock);
		goto done;
	}
	fd = -1;
	if (rename(lock, path) < 0) {
		gs_error_set_os(errno, "cannot update %s", path);
		goto done;
	}
	locked = 0;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (locked)
		unlink(lock);
	gs_repo_release(store, repo);
	free(path);
	free(lock);
	return rc;
}

int gs_ref_write(gs_store *store, const char *fullname, const git_oid *new_id,
		 const git_oid *expected, const char *reflog_message)
{
	char content[GIT_OID_HEXSZ + 2];
	git_oid old_id;

	if (!fullname_valid(fullname))
		return gs_error_set(GS_ERR_INVALID, "Invalid ref name: %s", fullname);
	git_oid_tostr(content, GIT_OID_HEXSZ + 1, new_id);
	content[GIT_OID_HEXSZ] = '\n';
	content[GIT_OID_HEXSZ + 1] = '\0';
	if (locked_replace(store, fullname, content, 1, expected, &old_id) < 0)
		return -1;
	if (reflog_message)
		return reflog_append(store, fullname, &old_id, new_id, reflog_message);
	return 0;
}
