/*
 * objcopy.c - move the objects some refs need from one repository on
 * this machine to another, as one new pack.
 *
 * libgit2's local transport builds its pack with a full delta search,
 * which costs several times what git's push takes; between two
 * repositories on one disk the objects are simply copied, deflated as
 * they are, the way gitstore stores them anyway.  The walk stops at every
 * commit and tree the destination already has: a git repository holds
 * everything its commits and trees reach.
 */
#include "gs_internal.h"
#include "objcopy.h"
#include "pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* A set of object ids, open addressing                                */

typedef struct {
	git_oid *slots;
	unsigned char *used;
	size_t cap, count;
} oid_set;

static size_t oid_hash(const git_oid *id)
{
	size_t h;
	memcpy(&h, id->id, sizeof(h));
	return h;
}

static int oid_set_grow(oid_set *set)
{
	oid_set bigger = {0};

	bigger.cap = set->cap ? set->cap * 2 : 1024;
	bigger.slots = malloc(bigger.cap * sizeof(git_oid));
	bigger.used = calloc(bigger.cap, 1);
	if (!bigger.slots || !bigger.used) {
		free(bigger.slots);
		free(bigger.used);
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < set->cap; i++) {
		if (set->used[i]) {
			size_t k = oid_hash(&set->slots[i]) & (bigger.cap - 1);
			while (bigger.used[k])
				k = (k + 1) & (bigger.cap - 1);
			bigger.used[k] = 1;
			git_oid_cpy(&bigger.slots[k], &set->slots[i]);
		}
	}
	bigger.count = set->count;
	free(set->slots);
	free(set->used);
	*set = bigger;
	return 0;
}

/* 1 if added, 0 if it was there, -1 on failure. */
static int oid_set_add(oid_set *set, const git_oid *id)
{
	size_t k;

	if ((set->count + 1) * 2 > set->cap && oid_set_grow(set) < 0)
		return -1;
	for (k = oid_hash(id) & (set->cap - 1); set->used[k]; k = (k + 1) & (set->cap - 1))
		if (git_oid_equal(&set->slots[k], id))
			return 0;
	set->used[k] = 1;
	git_oid_cpy(&set->slots[k], id);
	set->count++;
	return 1;
}

static void oid_set_free(oid_set *set)
{
	free(set->slots);
	free(set->used);
	memset(set, 0, sizeof(*set));
}

/* ------------------------------------------------------------------ */
/* The walk                                                             */

typedef struct {
	git_oid id;
	git_object_t type;
} wanted_object;

typedef struct {
	git_repository *from;
	git_odb *to;               /* NULL: the destination has nothing yet */
	oid_set seen;
	wanted_object *list;       /* what the destination lacks, in pack order */
	size_t count, cap;
	git_oid *stack;            /* commits, tags and trees still to look at */
	size_t depth, stack_cap;
	gs_mirror_progress_fn progress;
	void *progress_ctx;
} copy_walk;

static int push_pending(copy_walk *w, const git_oid *id)
{
	if (w->depth == w->stack_cap) {
		size_t cap = w->stack_cap ? w->stack_cap * 2 : 256;
		git_oid *grown = realloc(w->stack, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		w->stack = grown;
		w->stack_cap = cap;
	}
	git_oid_cpy(&w->stack[w->depth++], id);
	return 0;
}

static int want(copy_walk *w, const git_oid *id, git_object_t type)
{
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		wanted_object *grown = realloc(w->list, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		w->list = grown;
		w->cap = cap;
	}
	git_oid_cpy(&w->list[w->count].id, id);
	w->list[w->count++].type = type;
	return 0;
}

/*
 * Is `id` new to the walk, and not at the destination?  What the
 * destination's refs reach is marked seen before the walk; beyond that
 * only a blob's presence there is trusted: a commit or tree the
 * destination merely holds (left over from an interrupted transfer, say)
 * may lack what it points to.
 */
static int needed(int *out, copy_walk *w, const git_oid *id, int is_blob)
{
	int added = oid_set_add(&w->seen, id);

	if (added < 0)
		return -1;
	*out = added && !(is_blob && w->to &&
			  git_odb_exists_ext(w->to, id, GIT_ODB_LOOKUP_NO_REFRESH));
	return 0;
}

static int visit_tree(copy_walk *w, const git_tree *tree)
{
	size_t n = git_tree_entrycount(tree);

	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		git_object_t type = git_tree_entry_type(e);
		int need;

		if (type != GIT_OBJECT_BLOB && type != GIT_OBJECT_TREE)
			continue;   /* a submodule's commit lives elsewhere */
		if (needed(&need, w, git_tree_entry_id(e), type == GIT_OBJECT_BLOB) < 0)
			return -1;
		if (!need)
			continue;
		if (type == GIT_OBJECT_BLOB ? want(w, git_tree_entry_id(e), type) < 0
					    : push_pending(w, git_tree_entry_id(e)) < 0)
			return -1;
	}
	return 0;
}

/* Look at one commit, tag or tree the destination lacks. */
static int visit(copy_walk *w, const git_oid *id)
{
	git_object *obj = NULL;
	git_object_t type;
	int rc = -1, git_rc, need;

	if ((git_rc = git_object_lookup(&obj, w->from, id, GIT_OBJECT_ANY)) < 0) {
		gs_error_set_git(git_rc, git_oid_tostr_s(id));
		return -1;
	}
	type = git_object_type(obj);
	if (want(w, id, type) < 0)
		goto done;
	switch (type) {
	case GIT_OBJECT_COMMIT: {
		const git_commit *c = (const git_commit *)obj;
		unsigned parents = git_commit_parentcount(c);

		if (needed(&need, w, git_commit_tree_id(c), 0) < 0 ||
		    (need && push_pending(w, git_commit_tree_id(c)) < 0))
			goto done;
		for (unsigned i = 0; i < parents; i++)
			if (needed(&need, w, git_commit_parent_id(c, i), 0) < 0 ||
			    (need && push_pending(w, git_commit_parent_id(c, i)) < 0))
				goto done;
		break;
	}
	case GIT_OBJECT_TAG: {
		const git_oid *target = git_tag_target_id((const git_tag *)obj);
		if (needed(&need, w, target, 0) < 0 || (need && push_pending(w, target) < 0))
			goto done;
		break;
	}
	case GIT_OBJECT_TREE:
		if (visit_tree(w, (const git_tree *)obj) < 0)
			goto done;
		break;
	default:
		break;
	}
	rc = 0;
done:
	git_object_free(obj);
	return rc;
}

static int say_count(copy_walk *w, const char *what, size_t done, size_t total, int last)
{
	char line[128];
	int n;

	if (!w->progress)
		return 0;
	if (total)
		n = snprintf(line, sizeof(line), "%s: %3zu%% (%zu/%zu)%s", what,
			     done * 100 / total, done, total, last ? ", done.\n" : "\r");
	else
		n = snprintf(line, sizeof(line), "%s: %zu%s", what, done, last ? ", done.\n" : "\r");
	return w->progress(w->progress_ctx, line, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* The pack                                                             */

/* Objects are read and deflated this many at a time (or up to this many
 * bytes), so memory stays bounded whatever the repository's size. */
#define BATCH_OBJECTS 2048
#define BATCH_BYTES (64u << 20)

/* Every listed object into `writer`: entries of `from`'s packs byte for
 * byte where they hold the object whole, the rest read and deflated. */
static int write_objects(copy_walk *w, gs_packwriter *writer)
{
	git_odb *from_odb = NULL;
	gs_pack_source *packs = NULL;
	git_odb_object *held[BATCH_OBJECTS];
	gs_pack_object batch[BATCH_OBJECTS];
	char *pack_dir = NULL;
	const char *gitdir = git_repository_path(w->from);
	size_t done = 0, held_count = 0, next = 0;
	int rc = -1, git_rc;

	if ((git_rc = git_repository_odb(&from_odb, w->from)) < 0) {
		gs_error_set_git(git_rc, "objects");
		return -1;
	}
	if (!(pack_dir = malloc(strlen(gitdir) + sizeof("objects/pack")))) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	sprintf(pack_dir, "%sobjects/pack", gitdir);
	if (gs_pack_source_open(&packs, pack_dir) < 0)
		goto done;
	while (next < w->count) {
		size_t bytes = 0;

		held_count = 0;
		while (next < w->count && held_count < BATCH_OBJECTS && bytes < BATCH_BYTES) {
			const wanted_object *o = &w->list[next++];
			git_odb_object *obj = NULL;
			int copied;

			if (gs_pack_source_copy(&copied, packs, writer, &o->id) < 0)
				goto done;
			if (copied) {
				done++;
				continue;
			}
			if ((git_rc = git_odb_read(&obj, from_odb, &o->id)) < 0) {
				gs_error_set_git(git_rc, git_oid_tostr_s(&o->id));
				goto done;
			}
			held[held_count] = obj;
			git_oid_cpy(&batch[held_count].id, &o->id);
			batch[held_count].type = git_odb_object_type(obj);
			batch[held_count].data = git_odb_object_data(obj);
			batch[held_count].len = git_odb_object_size(obj);
			bytes += batch[held_count].len;
			held_count++;
		}
		if (gs_packwriter_add_all(writer, batch, held_count) < 0)
			goto done;
		for (size_t i = 0; i < held_count; i++)
			git_odb_object_free(held[i]);
		done += held_count;
		held_count = 0;
		if (say_count(w, "Writing objects", done, w->count, done == w->count) < 0)
			goto done;
	}
	rc = 0;
done:
	for (size_t i = 0; i < held_count; i++)
		git_odb_object_free(held[i]);
	gs_pack_source_free(packs);
	free(pack_dir);
	git_odb_free(from_odb);
	return rc;
}

static int walk_all(copy_walk *w, const git_oid *tips, size_t count)
{
	int need;

	for (size_t i = 0; i < count; i++)
		if (needed(&need, w, &tips[i], 0) < 0 || (need && push_pending(w, &tips[i]) < 0))
			return -1;
	while (w->depth) {
		git_oid id;
		git_oid_cpy(&id, &w->stack[--w->depth]);
		if (visit(w, &id) < 0)
			return -1;
		if ((w->count & 4095) == 0 && say_count(w, "Counting objects", w->count, 0, 0) < 0)
			return -1;
	}
	return say_count(w, "Counting objects", w->count, 0, 1);
}

static void walk_free(copy_walk *w)
{
	free(w->list);
	free(w->stack);
	oid_set_free(&w->seen);
	git_odb_free(w->to);
}

/* Mark what the other side has: `id` and, for a tree, all it holds. */
static int mark_tree(copy_walk *w, const git_oid *id, int depth)
{
	git_tree *tree = NULL;
	int added = oid_set_add(&w->seen, id), rc = 0;

	if (added <= 0)
		return added;
	if (depth > GS_MAX_TREE_DEPTH || git_tree_lookup(&tree, w->from, id) < 0) {
		git_error_clear();
		return 0;   /* not ours to read: it is only not sent again */
	}
	for (size_t i = 0; rc == 0 && i < git_tree_entrycount(tree); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
			rc = mark_tree(w, git_tree_entry_id(e), depth + 1);
		else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
			rc = oid_set_add(&w->seen, git_tree_entry_id(e)) < 0 ? -1 : 0;
	}
	git_tree_free(tree);
	return rc;
}

/* The other side has `id` (a ref's target there): neither it nor the
 * snapshot it holds is sent.  Older history is found by the walk
 * stopping at `id`; objects only older commits hold may be sent again,
 * which costs bytes, never correctness. */
static int mark_present(copy_walk *w, const git_oid *id)
{
	git_oid current;

	git_oid_cpy(&current, id);
	/* Through chains of tags, as far as peeling goes elsewhere. */
	for (int hops = 0; hops < 64; hops++) {
		git_object *obj = NULL;
		git_object_t type;
		int rc = 0;

		if (git_object_lookup(&obj, w->from, &current, GIT_OBJECT_ANY) < 0) {
			git_error_clear();
			return 0;   /* we do not have it: nothing to leave out */
		}
		type = git_object_type(obj);
		if (type == GIT_OBJECT_TREE)
			rc = mark_tree(w, &current, 0);
		else if (oid_set_add(&w->seen, &current) < 0)
			rc = -1;
		else if (type == GIT_OBJECT_COMMIT)
			rc = mark_tree(w, git_commit_tree_id((git_commit *)obj), 0);
		else if (type == GIT_OBJECT_TAG)
			git_oid_cpy(&current, git_tag_target_id((git_tag *)obj));
		git_object_free(obj);
		if (rc < 0 || type != GIT_OBJECT_TAG)
			return rc;
	}
	return 0;
}

int gs_objects_send(size_t *written, git_repository *from, const git_oid *tips, size_t count,
		    const git_oid *present, size_t present_count, gs_pack_sink sink,
		    void *sink_ctx, gs_mirror_progress_fn progress, void *progress_ctx)
{
	copy_walk w;
	gs_packwriter *writer = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = -1;

	memset(&w, 0, sizeof(w));
	*written = 0;
	w.from = from;
	w.progress = progress;
	w.progress_ctx = progress_ctx;
	for (size_t i = 0; i < present_count; i++)
		if (mark_present(&w, &present[i]) < 0)
			goto done;
	if (walk_all(&w, tips, count) < 0 ||
	    gs_packwriter_begin_sink(&writer, sink, sink_ctx, (uint32_t)w.count) < 0 ||
	    write_objects(&w, writer) < 0 ||
	    gs_packwriter_finish(writer, hex) < 0)
		goto done;
	*written = w.count;
	rc = 0;
done:
	gs_packwriter_free(writer);
	walk_free(&w);
	return rc;
}

int gs_objects_copy(size_t *copied, git_repository *from, git_repository *to,
		    const git_oid *present, size_t present_count, const git_oid *tips,
		    size_t count, gs_mirror_progress_fn progress, void *progress_ctx)
{
	copy_walk w;
	const char *gitdir = git_repository_path(to);
	gs_packwriter *writer = NULL;
	char *pack_dir = NULL, hex[GIT_OID_HEXSZ + 1];
	int rc = -1, git_rc;

	memset(&w, 0, sizeof(w));
	*copied = 0;
	w.from = from;
	w.progress = progress;
	w.progress_ctx = progress_ctx;
	/* A destination without refs is not asked about each blob: that
	 * costs a failed lookup in every pack and a stat() each. */
	if (present_count) {
		if ((git_rc = git_repository_odb(&w.to, to)) < 0) {
			gs_error_set_git(git_rc, gitdir);
			goto done;
		}
		/* What another process packed since the handle was opened counts. */
		git_odb_refresh(w.to);
	}
	for (size_t i = 0; i < present_count; i++)
		if (mark_present(&w, &present[i]) < 0)
			goto done;
	if (walk_all(&w, tips, count) < 0)
		goto done;
	if (w.count) {
		if (!(pack_dir = malloc(strlen(gitdir) + sizeof("objects/pack")))) {
			gs_error_set(GS_ERR_NOMEM, "out of memory");
			goto done;
		}
		sprintf(pack_dir, "%sobjects/pack", gitdir);
		if (gs_packwriter_begin(&writer, pack_dir, (uint32_t)w.count) < 0 ||
		    write_objects(&w, writer) < 0 || gs_packwriter_finish(writer, hex) < 0)
			goto done;
	}
	*copied = w.count;
	rc = 0;
done:
	gs_packwriter_free(writer);
	free(pack_dir);
	walk_free(&w);
	return rc;
}
