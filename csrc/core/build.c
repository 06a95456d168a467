/* build.c - new root trees from a set of writes and removes (spec 20 §6.5,
 * with removals applied before writes), and the change classification. */
#include "gs_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A directory level of the change set: one node per name touched. */
typedef struct change_node {
	char *name;
	int has_write;
	git_oid id;
	uint32_t mode;
	int removed;
	int has_deep_write;          /* a write somewhere below this name */
	struct change_node **children;
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

static change_node *node_child(change_node *node, const char *name, size_t len)
{
	change_node *child;

	for (size_t i = 0; i < node->count; i++)
		if (strlen(node->children[i]->name) == len &&
		    memcmp(node->children[i]->name, name, len) == 0)
			return node->children[i];
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

/* The node for a whole path, creating the levels on the way. */
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

static int tree_of(git_tree **out, git_repository *repo, const git_oid *id)
{
	*out = NULL;
	if (!id)
		return 0;
	if (git_tree_lookup(out, repo, id) < 0)
		return gs_error_set_git(-1, git_oid_tostr_s(id));
	return 0;
}

/* Rebuild one directory: removals, then writes, then subdirectories.
 * *out is unset (and *empty = 1) when nothing is left in it. */
static int apply_dir(git_oid *out, int *empty, gs_txn *txn, const git_oid *old,
		     change_node *node, const char *prefix)
{
	git_repository *repo = gs_txn_repo(txn);
	git_tree *tree = NULL;
	git_treebuilder *bld = NULL;
	char *path = NULL;
	int rc = -1;

	*empty = 0;
	if (tree_of(&tree, repo, old) < 0)
		goto done;
	if (git_treebuilder_new(&bld, repo, tree) < 0) {
		gs_error_set_git(-1, prefix);
		goto done;
	}
	for (size_t i = 0; i < node->count; i++) {
		change_node *c = node->children[i];
		if (c->removed && git_treebuilder_get(bld, c->name) &&
		    git_treebuilder_remove(bld, c->name) < 0) {
			gs_error_set_git(-1, c->name);
			goto done;
		}
	}
	for (size_t i = 0; i < node->count; i++) {
		change_node *c = node->children[i];
		if (c->has_write && git_treebuilder_insert(NULL, bld, c->name, &c->id,
							   (git_filemode_t)c->mode) < 0) {
			gs_error_set(GS_ERR_INVALID, "Invalid file name %s%s%s: %s", prefix,
				     *prefix ? "/" : "", c->name, git_error_last()->message);
			goto done;
		}
	}
	for (size_t i = 0; i < node->count; i++) {
		change_node *c = node->children[i];
		const git_tree_entry *existing;
		git_oid sub_old, sub_new;
		int has_sub_old = 0, sub_empty;
		size_t len;

		if (c->count == 0)
			continue;
		existing = git_treebuilder_get(bld, c->name);
		if (existing && git_tree_entry_type(existing) == GIT_OBJECT_TREE) {
			git_oid_cpy(&sub_old, git_tree_entry_id(existing));
			has_sub_old = 1;
		} else if (existing && !c->has_deep_write) {
			continue;  /* only removals below a file: nothing is there */
		}
		len = strlen(prefix) + strlen(c->name) + 2;
		free(path);
		if (!(path = malloc(len))) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		snprintf(path, len, "%s%s%s", prefix, *prefix ? "/" : "", c->name);
		if (apply_dir(&sub_new, &sub_empty, txn, has_sub_old ? &sub_old : NULL, c, path) < 0)
			goto done;
		if (sub_empty) {
			if (existing && git_treebuilder_remove(bld, c->name) < 0) {
				gs_error_set_git(-1, path);
				goto done;
			}
		} else if (git_treebuilder_insert(NULL, bld, c->name, &sub_new,
						  GIT_FILEMODE_TREE) < 0) {
			gs_error_set(GS_ERR_INVALID, "Invalid file name %s: %s", path,
				     git_error_last()->message);
			goto done;
		}
	}
	if (git_treebuilder_entrycount(bld) == 0 && *prefix) {
		*empty = 1;
		rc = 0;
		goto done;
	}
	if (git_treebuilder_write(out, bld) < 0) {
		gs_error_set_git(-1, prefix);
		goto done;
	}
	rc = gs_txn_note_write(txn, out);
done:
	free(path);
	git_treebuilder_free(bld);
	git_tree_free(tree);
	return rc;
}

int gs_tree_apply(git_oid *out, gs_txn *txn, const git_oid *root,
		  const gs_write *writes, size_t nwrites,
		  const char *const *removes, size_t nremoves)
{
	change_node *top = calloc(1, sizeof(*top));
	int empty, rc = -1;

	if (!top)
		return gs_error_set_os(ENOMEM, "out of memory");
	for (size_t i = 0; i < nremoves; i++) {
		change_node *node = node_path(top, removes[i], 0);
		if (!node)
			goto nomem;
		node->removed = 1;
	}
	for (size_t i = 0; i < nwrites; i++) {
		change_node *node;
		if (writes[i].mode == GS_MODE_TREE) {
			gs_error_set(GS_ERR_INVALID, "A file cannot have the tree mode: %s",
				     writes[i].path);
			goto done;
		}
		if (!(node = node_path(top, writes[i].path, 1)))
			goto nomem;
		node->has_write = 1;
		git_oid_cpy(&node->id, &writes[i].id);
		node->mode = writes[i].mode;
	}
	rc = apply_dir(out, &empty, txn, root, top, "");
	goto done;
nomem:
	gs_error_set_os(ENOMEM, "out of memory");
done:
	node_free(top);
	return rc;
}

int gs_changes_classify(gs_change *write_changes, gs_change *remove_changes, gs_txn *txn,
			const git_oid *root, const gs_write *writes, size_t nwrites,
			const char *const *removes, size_t nremoves)
{
	git_repository *repo = gs_txn_repo(txn);
	gs_entry entry;

	for (size_t i = 0; i < nwrites; i++) {
		gs_change *c = &write_changes[i];
		c->mode = writes[i].mode;
		if (gs_tree_lookup(&entry, repo, root, writes[i].path, GS_LOOKUP_ENTRY) < 0) {
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
		if (gs_tree_lookup(&entry, repo, root, removes[i], GS_LOOKUP_ENTRY) < 0) {
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
