/* snapshot.c - the read operations of a snapshot, one pooled handle each. */
#include "gs_internal.h"
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gs_snap_entry(gs_entry *out, gs_store *store, const git_oid *root,
		  const char *path, gs_lookup_style style)
{
	git_repository *repo = NULL;
	int rc;

	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	rc = gs_tree_lookup(out, repo, root, path, style);
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_entry_opt(int *found, gs_entry *out, gs_store *store,
		      const git_oid *root, const char *path)
{
	*found = 0;
	if (gs_snap_entry(out, store, root, path, GS_LOOKUP_ENTRY) < 0) {
		if (gs_error_last()->category != GS_ERR_NOTFOUND)
			return -1;
		gs_error_clear();
		return 0;
	}
	*found = 1;
	return 0;
}

int gs_snap_list(gs_dirlist *out, git_oid *dir_id, gs_store *store,
		 const git_oid *root, const char *path)
{
	git_repository *repo = NULL;
	gs_entry entry = { .mode = GS_MODE_TREE };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	git_oid_cpy(&entry.id, root);
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if (path && gs_tree_lookup(&entry, repo, root, path, GS_LOOKUP_WALK) < 0)
		goto done;
	if (entry.mode != GS_MODE_TREE) {
		gs_error_set(GS_ERR_NOTDIR, "%s", path);
		goto done;
	}
	if (dir_id)
		git_oid_cpy(dir_id, &entry.id);
	rc = gs_tree_list(out, repo, &entry.id);
done:
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_list_tree(gs_dirlist *out, gs_store *store, const git_oid *tree)
{
	git_repository *repo = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	rc = gs_tree_list(out, repo, tree);
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_stat(gs_stat *out, gs_store *store, const git_oid *root, const char *path)
{
	git_repository *repo = NULL;
	gs_entry entry = { .mode = GS_MODE_TREE };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	git_oid_cpy(&entry.id, root);
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if (path && gs_tree_lookup(&entry, repo, root, path, GS_LOOKUP_ENTRY) < 0)
		goto done;
	out->mode = entry.mode;
	git_oid_cpy(&out->id, &entry.id);
	if (entry.mode == GS_MODE_TREE) {
		size_t subdirs;
		if (gs_tree_count_subdirs(&subdirs, repo, &entry.id) < 0)
			goto done;
		out->nlink = 2 + subdirs;
	} else {
		out->nlink = 1;
		if (gs_object_size(&out->size, repo, &entry.id) < 0)
			goto done;
	}
	rc = 0;
done:
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_size(size_t *out, gs_store *store, const git_oid *root, const char *path)
{
	git_repository *repo = NULL;
	gs_entry entry;
	int rc = -1;

	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if (gs_tree_lookup(&entry, repo, root, path, GS_LOOKUP_ENTRY) == 0)
		rc = gs_object_size(out, repo, &entry.id);
	gs_repo_release(store, repo);
	return rc;
}

/* Inflate an opened loose blob's bytes into a buffer of its own and close
 * its stream: the caller then copies and frees them cheaply, in one go. */
static int read_now(gs_blob *blob)
{
	gs_blob done;
	char *buf = malloc(blob->size ? blob->size : 1);

	if (!buf) {
		gs_blob_free(blob);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	if (gs_blob_fill(blob, buf) < 0) {
		free(buf);
		gs_blob_free(blob);
		return -1;
	}
	done = *blob;
	done.loose = NULL;
	done.owned = buf;
	done.data = buf;
	blob->owned = NULL;
	gs_blob_free(blob);   /* its stream: parked or closed */
	*blob = done;
	return 0;
}

int gs_snap_read(gs_blob *out, gs_store *store, const git_oid *root, const char *path,
		 size_t offset, size_t size)
{
	git_repository *repo = NULL;
	gs_entry entry;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if (gs_tree_lookup(&entry, repo, root, path, GS_LOOKUP_WALK) < 0)
		goto done;
	if (entry.mode == GS_MODE_TREE) {
		gs_error_set(GS_ERR_ISDIR, "%s", path);
		goto done;
	}
	rc = gs_blob_open(out, store, repo, &entry.id, offset, size);
	if (rc < 0 && gs_error_last()->category == GS_ERR_KEY)
		gs_error_set(GS_ERR_GIT, "%s: blob %s is missing from the repository", path,
			     git_oid_tostr_s(&entry.id));
	if (rc == 0 && !out->data && out->size <= GS_SMALL_READ)
		rc = read_now(out);
done:
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_read_blob(gs_blob *out, gs_store *store, const git_oid *id,
		      size_t offset, size_t size)
{
	git_repository *repo = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	rc = gs_blob_open(out, store, repo, id, offset, size);
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_readlink(char **out, gs_store *store, const git_oid *root, const char *path)
{
	git_repository *repo = NULL;
	gs_entry entry;
	gs_blob blob = {0};
	int rc = -1;

	*out = NULL;
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if (gs_tree_lookup(&entry, repo, root, path, GS_LOOKUP_ENTRY) < 0)
		goto done;
	if (entry.mode != GS_MODE_LINK) {
		gs_error_set(GS_ERR_INVALID, "Not a symlink: %s", path);
		goto done;
	}
	if (gs_blob_read(&blob, store, repo, &entry.id, 0, SIZE_MAX) < 0)
		goto done;
	*out = malloc(blob.size + 1);
	if (!*out) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	memcpy(*out, blob.data, blob.size);
	(*out)[blob.size] = '\0';
	rc = 0;
done:
	gs_blob_free(&blob);
	gs_repo_release(store, repo);
	return rc;
}

int gs_snap_glob(gs_strlist *out, gs_store *store, const git_oid *root,
		 const char *pattern)
{
	git_repository *repo = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	rc = gs_glob(out, repo, root, pattern);
	gs_repo_release(store, repo);
	return rc;
}
