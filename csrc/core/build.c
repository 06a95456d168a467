/* build.c - new root trees from a set of writes and removes (removals
 * apply before writes, so writing "d/x" while removing "d" leaves "d"
 * holding only "x"), and the change classification.
 * Trees are merged and serialized here and added to the transaction's
 * pack; untouched subtrees keep their ids. */
#include "gs_internal.h"
#include "build.h"
#include "gitname.h"
#include "tree.h"
#include "txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

/* One name touched in a directory, and what happens to it. */
typedef struct change_node {
	char *name;
	int has_write;
	git_oid id;
	uint32_t mode;
	int removed;
	int has_deep_write;          /* a write somewhere below this name */
	struct change_node **children;   /* sorted by name (strcmp) */
	size_t count, cap;
} change_node;

static void node_free(change_node *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->count; i++)
		node_free(node->children[i]);
	free(node->children);
	free(node->name);
	free(node);
}

/* Paths arrive sorted segment by segment, so a child that exists is
 * always the last one added. */
static change_node *node_child(change_node *node, const char *name, size_t len)
{
	change_node *child;

	if (node->count) {
		child = node->children[node->count - 1];
		if (strlen(child->name) == len && memcmp(child->name, name, len) == 0)
			return child;
	}
	if (node->count == node->cap) {
		size_t cap = node->cap ? node->cap * 2 : 4;
		change_node **children = realloc(node->children, cap * sizeof(*children));
		if (!children)
			return NULL;
		node->children = children;
		node->cap = cap;
	}
	child = calloc(1, sizeof(*child));
	if (!child || !(child->name = strndup(name, len))) {
		free(child);
		return NULL;
	}
	node->children[node->count++] = child;
	return child;
}

static change_node *node_path(change_node *root, const char *path, int deep_write)
{
	change_node *node = root;

	for (const char *seg = path;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (!(node = node_child(node, seg, len)))
			return NULL;
		if (!slash)
			return node;
		if (deep_write)
			node->has_deep_write = 1;
		seg = slash + 1;
	}
}

/* Path order with '/' below every other byte: "a" < "a/b" < "a-x". */
static int compare_segments(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x == '/')
			x = 1;
		if (y == '/')
			y = 1;
		if (x != y || !x)
			return (int)x - (int)y;
	}
}

typedef struct {
	const char *path;
	int is_write;
	size_t index;
} change_ref;

static int compare_changes(const void *a, const void *b)
{
	const change_ref *x = a, *y = b;
	int c = compare_segments(x->path, y->path);
	/* The same path: removal first, so the write wins (removes apply first). */
	return c ? c : x->is_write - y->is_write;
}

/* ------------------------------------------------------------------ */

/* git's tree order: names compared as if directories ended with '/'. */
static int compare_git_order(const void *a, const void *b)
{
	const gs_dirent *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name), n = lx < ly ? lx : ly;
	int c = memcmp(x->name, y->name, n);
	unsigned char cx, cy;

	if (c)
		return c;
	cx = lx > n ? (unsigned char)x->name[n] : (x->mode == GS_MODE_TREE ? '/' : 0);
	cy = ly > n ? (unsigned char)y->name[n] : (y->mode == GS_MODE_TREE ? '/' : 0);
	return (int)cx - (int)cy;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(((const gs_dirent *)a)->name, ((const gs_dirent *)b)->name);
}

/* Sort entries unless they already are in order: a tree read back
 * is, and sorting 10,000 sorted names cost a third of a commit that
 * changes one of them. */
static void sort_entries(gs_dirent *entries, size_t n, int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++)
		if (cmp(&entries[i - 1], &entries[i]) > 0) {
			qsort(entries, n, sizeof(*entries), cmp);
			return;
		}
}

/* "<octal mode> " without printf (this runs for every entry of every
 * tree a commit rewrites). */
static size_t format_mode(char out[16], uint32_t mode)
{
	char digits[12];
	size_t n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + (mode & 7));
		mode >>= 3;
	} while (mode);
	while (n)
		out[len++] = digits[--n];
	out[len++] = ' ';
	return len;
}

/* Serialize entries (sorted here) as a tree object into the transaction. */
static int put_tree(git_oid *out, gs_txn *txn, gs_dirent *entries, size_t n)
{
	gs_buf buf = {0};
	char mode[16];
	int rc = -1;

	sort_entries(entries, n, compare_git_order);
	for (size_t i = 0; i < n; i++) {
		size_t len = format_mode(mode, entries[i].mode);
		if (gs_buf_put(&buf, mode, len) < 0 ||
		    gs_buf_put(&buf, entries[i].name, strlen(entries[i].name) + 1) < 0 ||
		    gs_buf_put(&buf, entries[i].id.id, GIT_OID_RAWSZ) < 0)
			goto done;
	}
	rc = gs_txn_put(out, txn, GIT_OBJECT_TREE, buf.data ? buf.data : "", buf.size);
done:
	gs_buf_free(&buf);
	return rc;
}

/*
 * Every name a write creates passes git's own rules (gitname.c): no alias
 * of ".git", no .gitmodules or .gitattributes that is a directory or a
 * link or holds what git fsck refuses, no .gitignore or .mailmap link.
 * Names already in a tree are left alone, so repositories made by git
 * keep working.  mode is GS_MODE_TREE (and id NULL) for a directory.
 */
static int check_entry(gs_txn *txn, const char *prefix, const char *name, uint32_t mode,
		       const git_oid *id)
{
	unsigned kind = gs_gitname_kind(name);
	gs_blob blob = {0};
	char *path = NULL;
	const char *data;
	size_t len, size;
	int rc = -1;

	if (!kind)
		return 0;
	len = strlen(prefix) + strlen(name) + 2;
	if (!(path = malloc(len)))
		return gs_error_set_os(ENOMEM, "out of memory");
	snprintf(path, len, "%s%s%s", prefix, *prefix ? "/" : "", name);
	if (gs_gitname_check(path, kind, mode) < 0)
		goto done;
	if ((kind & (GS_GITNAME_GITMODULES | GS_GITNAME_GITATTRIBUTES)) &&
	    (mode == GS_MODE_BLOB || mode == GS_MODE_EXEC)) {
		if (!gs_txn_pending(&data, &len, txn, id)) {
			gs_store *store = gs_txn_store(txn);
			git_repository *repo = gs_txn_repo(txn);
			if (gs_object_size(&size, repo, id) < 0 ||
			    gs_gitfile_check_size(path, kind, size) < 0 ||
			    gs_blob_read(&blob, store, repo, id, 0, SIZE_MAX) < 0)
				goto done;
			data = blob.data;
			len = blob.size;
		}
		if (gs_gitfile_check(path, kind, data, len) < 0)
			goto done;
	}
	rc = 0;
done:
	gs_blob_free(&blob);
	free(path);
	return rc;
}

static int push_entry(gs_dirent **items, size_t *n, size_t *cap, const char *name,
		      const git_oid *id, uint32_t mode)
{
	if (*n == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 16;
		gs_dirent *grown = realloc(*items, grown_cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		*items = grown;
		*cap = grown_cap;
	}
	(*items)[*n].name = (char *)name;   /* borrowed: lives in old or node */
	git_oid_cpy(&(*items)[*n].id, id);
	(*items)[*n].mode = mode;
	(*n)++;
	return 0;
}

static int apply_dir(git_oid *out, int *empty, gs_txn *txn, const git_oid *old,
		     change_node *node, const char *prefix);

static int is_file_mode(uint32_t mode)
{
	return mode == GS_MODE_BLOB || mode == GS_MODE_EXEC;
}

/* What becomes of one touched name, given what was there. */
static int apply_child(gs_dirent **items, size_t *n, size_t *cap, gs_txn *txn,
		       change_node *c, const gs_dirent *existing, const char *prefix)
{
	int present = existing != NULL;
	git_oid id;
	uint32_t mode = 0;
	char *path = NULL;
	int rc = -1;

	if (existing) {
		git_oid_cpy(&id, &existing->id);
		mode = existing->mode;
	}
	if (c->removed)
		present = 0;
	if (c->has_write) {
		/* (a write with others below it becomes a directory, checked so) */
		if (!c->has_deep_write && check_entry(txn, prefix, c->name, c->mode, &c->id) < 0)
			return -1;
		present = 1;
		git_oid_cpy(&id, &c->id);
		mode = c->mode;
	}
	if (c->count > 0 && (c->has_deep_write || (present && mode == GS_MODE_TREE))) {
		int sub_empty, had_tree = present && mode == GS_MODE_TREE;
		git_oid sub;
		size_t len = strlen(prefix) + strlen(c->name) + 2;

		if (c->has_deep_write && check_entry(txn, prefix, c->name, GS_MODE_TREE, NULL) < 0)
			return -1;
		if (!(path = malloc(len)))
			return gs_error_set_os(ENOMEM, "out of memory");
		snprintf(path, len, "%s%s%s", prefix, *prefix ? "/" : "", c->name);
		if (apply_dir(&sub, &sub_empty, txn, had_tree ? &id : NULL, c, path) < 0)
			goto done;
		present = !sub_empty;
		git_oid_cpy(&id, &sub);
		mode = GS_MODE_TREE;
	}
	if (present && existing && is_file_mode(existing->mode) && is_file_mode(mode) &&
	    !git_oid_equal(&existing->id, &id))
		gs_txn_note_version(txn, &existing->id, &id);
	rc = present ? push_entry(items, n, cap, c->name, &id, mode) : 0;
done:
	free(path);
	return rc;
}

/* Rebuild one directory from its old entries and the changes below it.
 * *empty = 1 (and no tree written) when nothing is left, except at the
 * root, which is always written. */
static int apply_dir(git_oid *out, int *empty, gs_txn *txn, const git_oid *old,
		     change_node *node, const char *prefix)
{
	gs_dirlist before = {0};
	gs_dirent *items = NULL;
	size_t n = 0, cap = 0, i = 0, j = 0;
	int rc = -1;

	*empty = 0;
	if (old && gs_tree_list_recent(&before, gs_txn_store(txn), gs_txn_repo(txn), old) < 0)
		return -1;
	sort_entries(before.items, before.count, compare_names);
	while (i < before.count || j < node->count) {
		int c = i == before.count ? 1 : j == node->count ? -1
			: strcmp(before.items[i].name, node->children[j]->name);
		if (c < 0) {
			if (push_entry(&items, &n, &cap, before.items[i].name, &before.items[i].id,
				       before.items[i].mode) < 0)
				goto done;
			i++;
		} else {
			if (apply_child(&items, &n, &cap, txn, node->children[j],
					c == 0 ? &before.items[i] : NULL, prefix) < 0)
				goto done;
			if (c == 0)
				i++;
			j++;
		}
	}
	if (n == 0 && *prefix) {
		*empty = 1;
		rc = 0;
		goto done;
	}
	if ((rc = put_tree(out, txn, items, n)) == 0 && old && !git_oid_equal(old, out))
		gs_txn_note_version(txn, old, out);
done:
	free(items);
	gs_dirlist_free(&before);
	return rc;
}

int gs_tree_apply(git_oid *out, gs_txn *txn, const git_oid *root,
		  const gs_write *writes, size_t nwrites,
		  const char *const *removes, size_t nremoves)
{
	change_node *top = calloc(1, sizeof(*top));
	change_ref *order = calloc(nwrites + nremoves + 1, sizeof(*order));
	int empty, rc = -1;

	if (!top || !order) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nremoves; i++)
		order[i] = (change_ref){removes[i], 0, i};
	for (size_t i = 0; i < nwrites; i++) {
		if (writes[i].mode == GS_MODE_TREE) {
			gs_error_set(GS_ERR_INVALID, "A file cannot have the tree mode: %s",
				     writes[i].path);
			goto done;
		}
		order[nremoves + i] = (change_ref){writes[i].path, 1, i};
	}
	if (nwrites + nremoves > 1)
		qsort(order, nwrites + nremoves, sizeof(*order), compare_changes);
	for (size_t k = 0; k < nwrites + nremoves; k++) {
		change_node *node;
		size_t depth = 1;

		/* Trees are built one stack frame per level. */
		for (const char *c = order[k].path; *c; c++)
			depth += *c == '/';
		if (depth > GS_MAX_TREE_DEPTH) {
			gs_error_set(GS_ERR_INVALID, "Path is nested more than %d deep",
				     GS_MAX_TREE_DEPTH);
			goto done;
		}
		node = node_path(top, order[k].path, order[k].is_write);
		if (!node) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		if (order[k].is_write) {
			const gs_write *w = &writes[order[k].index];
			node->has_write = 1;
			git_oid_cpy(&node->id, &w->id);
			node->mode = w->mode;
		} else {
			node->removed = 1;
		}
	}
	rc = apply_dir(out, &empty, txn, root, top, "");
done:
	free(order);
	node_free(top);
	return rc;
}

int gs_changes_classify(gs_change *write_changes, gs_change *remove_changes, gs_txn *txn,
			const git_oid *root, const gs_write *writes, size_t nwrites,
			const char *const *removes, size_t nremoves)
{
	git_repository *repo = gs_txn_repo(txn);
	gs_store *store = gs_txn_store(txn);
	gs_entry entry;

	for (size_t i = 0; i < nwrites; i++) {
		gs_change *c = &write_changes[i];
		c->mode = writes[i].mode;
		if (gs_tree_lookup_recent(&entry, store, repo, root, writes[i].path) < 0) {
			if (gs_error_last()->category != GS_ERR_NOTFOUND)
				return -1;
			c->kind = GS_CHANGE_ADD;
		} else if (entry.mode == writes[i].mode && git_oid_equal(&entry.id, &writes[i].id)) {
			c->kind = GS_CHANGE_NONE;
		} else {
			c->kind = GS_CHANGE_UPDATE;
		}
	}
	for (size_t i = 0; i < nremoves; i++) {
		gs_change *c = &remove_changes[i];
		if (gs_tree_lookup_recent(&entry, store, repo, root, removes[i]) < 0) {
			if (gs_error_last()->category != GS_ERR_NOTFOUND)
				return -1;
			c->kind = GS_CHANGE_NONE;
			c->mode = 0;
		} else {
			c->kind = GS_CHANGE_DELETE;
			c->mode = entry.mode;
		}
	}
	gs_error_clear();
	return 0;
}
