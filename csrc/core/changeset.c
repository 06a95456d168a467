/* changeset.c - what one commit writes and removes, and the report of
 * what it changes.  Every write API (single writes, apply, batches,
 * writers, remove, move, copies) stages into a changeset, so the rules
 * for a path staged twice live here only. */
#include "gs_internal.h"
#include "commit.h"
#include "build.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Reports                                                             */

int gs_report_add(gs_report *r, gs_report_kind kind, const char *path, uint32_t mode,
		  const char *source, const char *message)
{
	gs_report_list *list = &r->lists[kind];
	gs_report_item *item;

	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		gs_report_item *grown = realloc(list->items, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		list->items = grown;
		list->cap = cap;
	}
	item = &list->items[list->count];
	memset(item, 0, sizeof(*item));
	item->mode = mode;
	if (!(item->path = strdup(path)) ||
	    (source && !(item->source = strdup(source))) ||
	    (message && !(item->message = strdup(message)))) {
		free(item->path);
		free(item->source);
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	}
	list->count++;
	return 0;
}

static int compare_items(const void *a, const void *b)
{
	const gs_report_item *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	/* qsort is not stable: equal paths keep their order by address. */
	if (c)
		return c;
	return x < y ? -1 : x > y;
}

void gs_report_sort(gs_report *r, gs_report_kind kind)
{
	gs_report_list *list = &r->lists[kind];

	if (list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items), compare_items);
}

int gs_report_empty(const gs_report *r)
{
	for (int k = 0; k < GS_REPORT_KINDS; k++)
		if (r->lists[k].count)
			return 0;
	return 1;
}

void gs_report_free(gs_report *r)
{
	for (int k = 0; k < GS_REPORT_KINDS; k++) {
		gs_report_list *list = &r->lists[k];
		for (size_t i = 0; i < list->count; i++) {
			free(list->items[i].path);
			free(list->items[i].source);
			free(list->items[i].message);
		}
		free(list->items);
	}
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Changesets                                                          */

typedef enum { STAGED_WRITE, STAGED_REMOVE, STAGED_NOTHING } staged_op;

typedef struct {
	gs_write write;      /* path owned; id and mode for writes */
	staged_op op;
} staged;

/*
 * Entries in staging order, and an open-addressing index from path to
 * the newest entry for it.  An entry replaced by one of the other kind
 * (or forgotten) stays in the array as STAGED_NOTHING, so positions
 * never move; the index never loses a path once seen.
 */
struct gs_changeset {
	staged *entries;
	size_t count, cap;
	size_t *index;       /* entry number + 1; 0 for an empty slot */
	size_t index_cap;    /* a power of two */
	size_t paths;        /* distinct paths in the index */
	size_t live;         /* entries that are not STAGED_NOTHING */
};

int gs_changeset_new(gs_changeset **out)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	return 0;
}

void gs_changeset_free(gs_changeset *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->count; i++)
		free((char *)cs->entries[i].write.path);
	free(cs->entries);
	free(cs->index);
	free(cs);
}

static size_t hash_path(const char *path)
{
	size_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* The index slot of path: its entry, or the empty slot it would take. */
static size_t *slot_of(const gs_changeset *cs, const char *path)
{
	size_t mask = cs->index_cap - 1;

	for (size_t i = hash_path(path) & mask;; i = (i + 1) & mask) {
		size_t *slot = &cs->index[i];
		if (!*slot || strcmp(cs->entries[*slot - 1].write.path, path) == 0)
			return slot;
	}
}

static staged *find(const gs_changeset *cs, const char *path)
{
	size_t *slot;

	if (!cs->index_cap)
		return NULL;
	slot = slot_of(cs, path);
	return *slot ? &cs->entries[*slot - 1] : NULL;
}

static int grow_index(gs_changeset *cs)
{
	size_t old_cap = cs->index_cap, *old = cs->index;
	size_t cap = old_cap ? old_cap * 2 : 64;

	if (!(cs->index = calloc(cap, sizeof(*cs->index)))) {
		cs->index = old;
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	}
	cs->index_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*slot_of(cs, cs->entries[old[i] - 1].write.path) = old[i];
	free(old);
	return 0;
}

/* A new entry at the end of the staging order, taking over path's slot. */
static int append(gs_changeset *cs, const char *path, staged_op op, const git_oid *id,
		  uint32_t mode)
{
	staged *entry;
	size_t *slot;

	if ((cs->paths + 1) * 4 > cs->index_cap * 3 && grow_index(cs) < 0)
		return -1;
	if (cs->count == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		staged *grown = realloc(cs->entries, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		cs->entries = grown;
		cs->cap = cap;
	}
	entry = &cs->entries[cs->count];
	memset(entry, 0, sizeof(*entry));
	if (!(entry->write.path = strdup(path)))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	if (id)
		git_oid_cpy(&entry->write.id, id);
	entry->write.mode = mode;
	entry->op = op;
	slot = slot_of(cs, path);
	if (!*slot) {
		cs->paths++;
	} else {
		/* Counted out only now that nothing can fail. */
		staged *old = &cs->entries[*slot - 1];
		if (old->op != STAGED_NOTHING)
			cs->live--;
		old->op = STAGED_NOTHING;
	}
	*slot = ++cs->count;
	cs->live++;
	return 0;
}

int gs_changeset_write(gs_changeset *cs, const char *path, const git_oid *id, uint32_t mode)
{
	staged *entry = find(cs, path);

	if (entry && entry->op == STAGED_WRITE) {
		git_oid_cpy(&entry->write.id, id);
		entry->write.mode = mode;
		return 0;
	}
	return append(cs, path, STAGED_WRITE, id, mode);
}

int gs_changeset_remove(gs_changeset *cs, const char *path)
{
	staged *entry = find(cs, path);

	/* Removals apply before writes, so a staged write of path wins. */
	if (entry && entry->op != STAGED_NOTHING)
		return 0;
	return append(cs, path, STAGED_REMOVE, NULL, 0);
}

int gs_changeset_forget(int *had_write, gs_changeset *cs, const char *path)
{
	staged *entry = find(cs, path);

	*had_write = entry && entry->op == STAGED_WRITE;
	if (entry && entry->op != STAGED_NOTHING) {
		entry->op = STAGED_NOTHING;
		cs->live--;
	}
	return 0;
}

const gs_write *gs_changeset_find_write(const gs_changeset *cs, const char *path)
{
	const staged *entry = find(cs, path);
	return entry && entry->op == STAGED_WRITE ? &entry->write : NULL;
}

size_t gs_changeset_count(const gs_changeset *cs)
{
	return cs->live;
}

const gs_write *gs_changeset_next_write(const gs_changeset *cs, size_t *pos)
{
	while (*pos < cs->count) {
		const staged *entry = &cs->entries[(*pos)++];
		if (entry->op == STAGED_WRITE)
			return &entry->write;
	}
	return NULL;
}

/* The staged writes and removals as the flat arrays the tree builder
 * takes (the writes and paths still belong to cs). */
typedef struct {
	gs_write *writes;
	size_t nwrites;
	const char **removes;
	size_t nremoves;
} flat_changes;

static int flatten(flat_changes *out, const gs_changeset *cs)
{
	memset(out, 0, sizeof(*out));
	out->writes = malloc((cs->live + 1) * sizeof(*out->writes));
	out->removes = malloc((cs->live + 1) * sizeof(*out->removes));
	if (!out->writes || !out->removes) {
		free(out->writes);
		free(out->removes);
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < cs->count; i++) {
		const staged *entry = &cs->entries[i];
		if (entry->op == STAGED_WRITE)
			out->writes[out->nwrites++] = entry->write;
		else if (entry->op == STAGED_REMOVE)
			out->removes[out->nremoves++] = entry->write.path;
	}
	return 0;
}

static void flat_free(flat_changes *flat)
{
	free(flat->writes);
	free(flat->removes);
}

int gs_changeset_report(gs_report *out, gs_txn *txn, const git_oid *root,
			const gs_changeset *cs)
{
	flat_changes flat;
	gs_change *wc = NULL, *rc = NULL;
	int error = -1;

	memset(out, 0, sizeof(*out));
	if (flatten(&flat, cs) < 0)
		return -1;
	wc = calloc(flat.nwrites + 1, sizeof(*wc));
	rc = calloc(flat.nremoves + 1, sizeof(*rc));
	if (!wc || !rc) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (gs_changes_classify(wc, rc, txn, root, flat.writes, flat.nwrites, flat.removes,
				flat.nremoves) < 0)
		goto done;
	for (size_t i = 0; i < flat.nwrites; i++) {
		if (wc[i].kind == GS_CHANGE_NONE)
			continue;
		if (gs_report_add(out, wc[i].kind == GS_CHANGE_ADD ? GS_REPORT_ADD
					: GS_REPORT_UPDATE,
				  flat.writes[i].path, wc[i].mode, NULL, NULL) < 0)
			goto done;
	}
	for (size_t i = 0; i < flat.nremoves; i++)
		if (rc[i].kind == GS_CHANGE_DELETE &&
		    gs_report_add(out, GS_REPORT_DELETE, flat.removes[i], rc[i].mode, NULL,
				  NULL) < 0)
			goto done;
	/* Deletes in path order, so reports do not depend on argument order. */
	gs_report_sort(out, GS_REPORT_DELETE);
	error = 0;
done:
	if (error < 0)
		gs_report_free(out);
	free(wc);
	free(rc);
	flat_free(&flat);
	return error;
}

int gs_changeset_commit(git_oid *commit, git_oid *tree, int64_t *when, int *noop, gs_txn *txn,
			const char *branch, const git_oid *base_commit,
			const git_oid *base_tree, const gs_changeset *cs, const char *message)
{
	flat_changes flat;
	int error;

	if (flatten(&flat, cs) < 0)
		return -1;
	error = gs_tree_apply(tree, txn, base_tree, flat.writes, flat.nwrites, flat.removes,
			      flat.nremoves);
	if (error == 0)
		error = gs_branch_commit(commit, when, noop, txn, branch, base_commit, base_tree,
					 tree, message);
	flat_free(&flat);
	return error;
}
