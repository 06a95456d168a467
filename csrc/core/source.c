/* source.c - resolving repository sources of the bulk operations: a
 * "/./" pivot keeps what follows it below the destination, a trailing
 * slash means the directory's contents, a plain path the entry itself. */
#include "gs_internal.h"
#include "source.h"
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Entry-style lookup: 1 found, 0 missing, -1 error. */
static int lookup(gs_entry *out, git_repository *repo, const git_oid *root, const char *path)
{
	if (!*path) {
		git_oid_cpy(&out->id, root);
		out->mode = GS_MODE_TREE;
		return 1;
	}
	if (gs_tree_lookup(out, repo, root, path, GS_LOOKUP_ENTRY) == 0)
		return 1;
	if (gs_error_last()->category == GS_ERR_NOTFOUND) {
		gs_error_clear();
		return 0;
	}
	return -1;
}

void gs_source_clear(gs_source *src)
{
	free(src->path);
	free(src->prefix);
	memset(src, 0, sizeof(*src));
}

int gs_source_split(gs_source_spec *out, const char *spec)
{
	const char *pivot = strstr(spec, "/./");
	size_t len;

	memset(out, 0, sizeof(*out));
	out->pivot = pivot && pivot != spec;
	if (out->pivot) {
		out->base = strndup(spec, (size_t)(pivot - spec));
		out->rest = strdup(pivot + 3);
	} else {
		out->base = strdup(spec);
		out->rest = strdup("");
	}
	if (!out->base || !out->rest) {
		gs_source_spec_clear(out);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	{
		/* The trailing '/' asks for the contents; the name is without it. */
		char *named = out->pivot ? out->rest : out->base;
		len = strlen(named);
		out->contents = len > 0 && named[len - 1] == '/';
		while (len > 0 && named[len - 1] == '/')
			named[--len] = '\0';
	}
	{
		char *slash = strrchr(out->rest, '/');
		out->prefix = slash ? strndup(out->rest, (size_t)(slash - out->rest)) : strdup("");
	}
	if (!out->prefix) {
		gs_source_spec_clear(out);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	return 0;
}

void gs_source_spec_clear(gs_source_spec *s)
{
	free(s->base);
	free(s->rest);
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

int gs_source_resolve(gs_source *out, git_repository *repo, const git_oid *root,
		      const char *spec)
{
	gs_source_spec split = {0};
	char *mapped = strdup(spec), *joined = NULL;
	const char *named;
	gs_entry entry;
	int found, rc = -1;

	memset(out, 0, sizeof(*out));
	if (!mapped)
		return gs_error_set_os(ENOMEM, "out of memory");
	/* A pivot may be written with backslashes ("base\\.\\sub"); the whole
	 * source is then read with '/' for '\\'. */
	for (char *c = mapped; *c; c++)
		if (*c == '\\')
			*c = '/';
	if (gs_source_split(&split, mapped) < 0)
		goto done;
	if (!split.pivot) {
		gs_source_spec_clear(&split);
		if (gs_source_split(&split, spec) < 0)
			goto done;
	}
	if (split.pivot && *split.rest) {
		size_t base_len = strlen(split.base), rest_len = strlen(split.rest);
		if (!(joined = malloc(base_len + rest_len + 2))) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		memcpy(joined, split.base, base_len);
		joined[base_len] = '/';
		memcpy(joined + base_len + 1, split.rest, rest_len + 1);
	}
	named = joined ? joined : split.base;
	if (gs_path_normalize_or_root(&out->path, named, strlen(named)) < 0 ||
	    (found = lookup(&entry, repo, root, out->path)) < 0)
		goto done;
	if (!split.pivot && split.contents) {
		if (!found || entry.mode != GS_MODE_TREE) {
			gs_error_set(GS_ERR_NOTDIR, "Not a directory in repo: %s", out->path);
			goto done;
		}
		out->mode = GS_SRC_CONTENTS;
	} else if (!found) {
		gs_error_set(GS_ERR_NOTFOUND, "File not found in repo: %s", out->path);
		goto done;
	} else if (entry.mode == GS_MODE_TREE) {
		out->mode = split.contents || (!split.pivot && !*out->path) ? GS_SRC_CONTENTS
									  : GS_SRC_DIR;
	} else if (split.contents) {
		gs_error_set(GS_ERR_NOTDIR, "Not a directory in repo: %s", out->path);
		goto done;
	} else {
		out->mode = GS_SRC_FILE;
	}
	out->prefix = split.prefix;
	split.prefix = NULL;
	out->entry = entry;
	rc = 0;
done:
	if (rc < 0)
		gs_source_clear(out);
	gs_source_spec_clear(&split);
	free(joined);
	free(mapped);
	return rc;
}

/* Walk order: a directory's files first, then each subdirectory; in
 * path order, each entry where it sorts (a tree as its name and '/'),
 * which is the order git keeps tree entries in. */
static int collect(gs_filelist *out, gs_store *store, git_repository *repo, const git_oid *tree,
		   const char *dir, int path_order, int depth)
{
	gs_dirlist list;
	gs_buf path = {0};
	int rc = -1;

	/* One stack frame per level: a hostile tree must not exhaust it. */
	if (depth > GS_MAX_TREE_DEPTH)
		return gs_error_set(GS_ERR_GIT, "trees nested more than %d deep (below %.60s...)",
				    GS_MAX_TREE_DEPTH, dir);
	if ((store ? gs_tree_list_recent(&list, store, repo, tree) : gs_tree_list(&list, repo, tree)) < 0)
		return -1;
	for (int pass = 0; pass < (path_order ? 1 : 2); pass++) {
		for (size_t i = 0; i < list.count; i++) {
			gs_dirent *e = &list.items[i];
			int is_dir = e->mode == GS_MODE_TREE;
			if (!path_order && is_dir != pass)
				continue;
			/* A crafted tree could hide a path in a name. */
			if (strchr(e->name, '/')) {
				gs_error_set(GS_ERR_INVALID, "Unsafe name in the tree: %s", e->name);
				goto done;
			}
			path.size = 0;
			if ((*dir && (gs_buf_puts(&path, dir) < 0 || gs_buf_puts(&path, "/") < 0)) ||
			    gs_buf_puts(&path, e->name) < 0)
				goto done;
			if (is_dir ? collect(out, store, repo, &e->id, path.data, path_order,
					     depth + 1) < 0
				   : gs_filelist_push(out, path.data, &e->id, e->mode) < 0)
				goto done;
		}
	}
	rc = 0;
done:
	gs_buf_free(&path);
	gs_dirlist_free(&list);
	return rc;
}

int gs_tree_files(gs_filelist *out, gs_store *store, git_repository *repo, const git_oid *tree,
		  const char *dir)
{
	return collect(out, store, repo, tree, dir, 0, 0);
}

int gs_tree_files_by_path(gs_filelist *out, gs_store *store, git_repository *repo,
			  const git_oid *tree)
{
	return collect(out, store, repo, tree, "", 1, 0);
}

int gs_filelist_push(gs_filelist *list, const char *path, const git_oid *id, uint32_t mode)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 64;
		gs_file *grown = realloc(list->items, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		list->items = grown;
		list->cap = cap;
	}
	if (!(list->items[list->count].path = strdup(path)))
		return gs_error_set_os(ENOMEM, "out of memory");
	git_oid_cpy(&list->items[list->count].id, id);
	list->items[list->count].mode = mode;
	list->count++;
	return 0;
}

void gs_filelist_free(gs_filelist *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].path);
	free(list->items);
	memset(list, 0, sizeof(*list));
}
