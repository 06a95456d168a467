/* notes.c - git notes: refs/notes/<namespace> is a chain of commits
 * whose trees map object ids (40 lowercase hex digits) to note blobs.
 * git keeps a note either flat ("<40 hex>") or below fan-out
 * directories named by two hex digits ("ab/<38 hex>", "ab/cd/<36 hex>",
 * ...), choosing the depth by itself as a namespace grows, and one tree
 * may mix the layouts.  Reads understand every depth; a write always
 * leaves the note flat at the root and removes the other forms, so a
 * key never has two notes. */
#include "gs_internal.h"
#include "commit.h"
#include "build.h"
#include "tree.h"
#include "txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN GS_NOTE_KEY_LEN
/* Fan-out levels: two digits each, at least two digits left for a name. */
#define MAX_LEVELS (KEY_LEN / 2)
/* How often a write is rebuilt on a tip another writer moved meanwhile. */
#define MAX_ATTEMPTS 100

/* Without a branch per digit: in random hex, whether the next one is a
 * letter is a coin toss, and the mispredictions were half the time of
 * iterating a namespace. */
static int is_lower_hex(const char *s, size_t len)
{
	static const unsigned char hex[256] = {
		['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
		['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
		['e'] = 1, ['f'] = 1,
	};
	unsigned char all = 1;

	for (size_t i = 0; i < len; i++)
		all &= hex[(unsigned char)s[i]];
	return all;
}

int gs_note_key_valid(const char *key, size_t len)
{
	return len == KEY_LEN && is_lower_hex(key, len);
}

/* "refs/notes/<ns>", malloc'd. */
static char *notes_ref(const char *ns)
{
	char *full = malloc(strlen(ns) + sizeof(GS_REFS_NOTES));

	if (!full) {
		gs_error_set_os(ENOMEM, "out of memory");
		return NULL;
	}
	sprintf(full, GS_REFS_NOTES "%s", ns);
	return full;
}

int gs_notes_namespace_check(const char *ns)
{
	char quoted[600];

	if (gs_refname_check(ns) < 0)
		return gs_error_set(GS_ERR_INVALID, "Invalid notes namespace: %s",
				    gs_repr(quoted, sizeof(quoted), ns));
	return 0;
}

/* The tip of the namespace ref and its tree; *found 0 when the ref is
 * missing (or its name invalid, which reads treat the same way). */
static int read_tip(int *found, git_oid *commit, git_oid *tree, gs_store *store,
		    const char *fullname)
{
	gs_commit_info info;

	*found = 0;
	if (gs_ref_resolve(commit, store, fullname) < 0) {
		if (gs_error_last()->category != GS_ERR_KEY)
			return -1;
		gs_error_clear();
		return 0;
	}
	if (gs_commit_info_read(&info, store, commit) < 0)
		return -1;
	git_oid_cpy(tree, &info.tree);
	gs_commit_info_clear(&info);
	*found = 1;
	return 0;
}

/* One place a key's note is stored: its path in the notes tree. */
typedef struct {
	char path[KEY_LEN + MAX_LEVELS + 1];
	git_oid blob;
} note_place;

/* The entry at path, or *found 0. */
static int lookup(int *found, gs_entry *out, gs_store *store, git_repository *repo,
		  const git_oid *root, const char *path)
{
	*found = 0;
	if (gs_tree_lookup_recent(out, store, repo, root, path) < 0) {
		if (gs_error_last()->category != GS_ERR_NOTFOUND)
			return -1;
		gs_error_clear();
		return 0;
	}
	*found = 1;
	return 0;
}

/*
 * Where `key` has a note below `root`, shallowest first, as git finds
 * notes: at each level a non-tree entry named by the rest of the key is
 * the note, and a tree named by its next two digits goes one level down.
 * With `first`, stop at the first place found.
 */
static int locate(note_place *places, size_t *count, gs_store *store, git_repository *repo,
		  const git_oid *root, const char *key, int first)
{
	char dir[KEY_LEN + MAX_LEVELS + 1] = "";
	size_t dir_len = 0, used = 0;
	gs_entry entry;
	int found;

	*count = 0;
	for (;;) {
		note_place *p = &places[*count];

		snprintf(p->path, sizeof(p->path), "%s%s", dir, key + used);
		if (lookup(&found, &entry, store, repo, root, p->path) < 0)
			return -1;
		if (found && entry.mode != GS_MODE_TREE) {
			git_oid_cpy(&p->blob, &entry.id);
			if (++*count && first)
				return 0;
		}
		if (used + 2 >= KEY_LEN)
			return 0;
		memcpy(dir + dir_len, key + used, 2);
		dir[dir_len + 2] = '\0';
		if (lookup(&found, &entry, store, repo, root, dir) < 0)
			return -1;
		if (!found || entry.mode != GS_MODE_TREE)
			return 0;
		dir[dir_len + 2] = '/';
		dir[dir_len + 3] = '\0';
		dir_len += 3;
		used += 2;
	}
}

static int read_blob(gs_buf *text, gs_store *store, git_repository *repo, const git_oid *id)
{
	gs_blob blob = {0};
	int rc = -1;

	text->size = 0;
	if (gs_blob_read(&blob, store, repo, id, 0, SIZE_MAX) < 0)
		return -1;
	/* gs_buf_put keeps a NUL after the content, even when it is empty. */
	if (gs_buf_put(text, blob.data ? blob.data : "", blob.size) < 0)
		goto done;
	rc = 0;
done:
	gs_blob_free(&blob);
	return rc;
}

int gs_note_get(int *found, gs_buf *text, gs_store *store, const char *ns, const char *key)
{
	git_repository *repo = NULL;
	note_place place;
	git_oid tip, tree;
	char *full;
	size_t count = 0;
	int has_tip, rc = -1;

	*found = 0;
	if (!(full = notes_ref(ns)))
		return -1;
	if (read_tip(&has_tip, &tip, &tree, store, full) < 0)
		goto done;
	if (!has_tip) {
		rc = 0;
		goto done;
	}
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	if (locate(&place, &count, store, repo, &tree, key, 1) < 0)
		goto done;
	if (count && text && read_blob(text, store, repo, &place.blob) < 0)
		goto done;
	*found = count > 0;
	rc = 0;
done:
	gs_repo_release(store, repo);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Iteration                                                           */

/*
 * One tree being read.  A fan-out subtree "ab" holds keys that sort
 * among the flat names "ab..." next to it, so a frame with an open
 * subtree (the next frame) merges the two sorted streams.  `has`, `key`
 * and `blob` hold the frame's next note once filled.
 */
typedef struct {
	git_tree *tree;
	size_t pos, count;
	size_t used;           /* key digits the directories above name */
	char prefix[KEY_LEN + 1];
	int child;             /* the next frame is open */
	int has;
	char key[KEY_LEN + 1];
	git_oid blob;
} note_frame;

struct gs_notes_iter {
	gs_store *store;
	git_repository *repo;
	note_frame frames[MAX_LEVELS];
};

typedef enum { ENTRY_END, ENTRY_OTHER, ENTRY_NOTE, ENTRY_FANOUT } entry_kind;

static entry_kind classify(const git_tree_entry *e, size_t used)
{
	const char *name;
	size_t len;

	if (!e)
		return ENTRY_END;
	name = git_tree_entry_name(e);
	len = strlen(name);
	if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
		return len == 2 && used + 2 < KEY_LEN && is_lower_hex(name, 2) ? ENTRY_FANOUT
			: ENTRY_OTHER;
	return len == KEY_LEN - used && is_lower_hex(name, len) ? ENTRY_NOTE : ENTRY_OTHER;
}

static int frame_open(note_frame *f, git_repository *repo, const git_oid *tree,
		      const char *prefix, size_t used)
{
	memset(f, 0, sizeof(*f));
	if (gs_tree_get(&f->tree, repo, tree) < 0)
		return -1;
	f->count = git_tree_entrycount(f->tree);
	f->used = used;
	memcpy(f->prefix, prefix, used);
	return 0;
}

static void frame_close(note_frame *f)
{
	git_tree_free(f->tree);
	memset(f, 0, sizeof(*f));
}

static void emit_entry(note_frame *f, const git_tree_entry *e)
{
	memcpy(f->key, f->prefix, f->used);
	memcpy(f->key + f->used, git_tree_entry_name(e), KEY_LEN - f->used);
	f->key[KEY_LEN] = '\0';
	git_oid_cpy(&f->blob, git_tree_entry_id(e));
	f->has = 1;
	f->pos++;
}

/* Fill frames[k] with its next note (has 0 at its end). */
static int frame_fill(gs_notes_iter *it, size_t k)
{
	note_frame *f = &it->frames[k];

	f->has = 0;
	for (;;) {
		const git_tree_entry *e = f->pos < f->count
			? git_tree_entry_byindex(f->tree, f->pos) : NULL;
		entry_kind kind = classify(e, f->used);

		if (f->child) {
			note_frame *c = &it->frames[k + 1];
			int cmp;

			if (!c->has) {
				frame_close(c);
				f->child = 0;
				continue;
			}
			if (kind == ENTRY_OTHER) {
				f->pos++;
				continue;
			}
			if (kind == ENTRY_NOTE) {
				cmp = memcmp(f->prefix, c->key, f->used);
				if (cmp == 0)
					cmp = memcmp(git_tree_entry_name(e), c->key + f->used,
						     KEY_LEN - f->used);
				if (cmp <= 0) {
					emit_entry(f, e);
					/* The same key in both layouts counts once. */
					return cmp == 0 ? frame_fill(it, k + 1) : 0;
				}
			}
			memcpy(f->key, c->key, sizeof(f->key));
			git_oid_cpy(&f->blob, &c->blob);
			f->has = 1;
			return frame_fill(it, k + 1);
		}
		switch (kind) {
		case ENTRY_END:
			return 0;
		case ENTRY_NOTE:
			emit_entry(f, e);
			return 0;
		case ENTRY_FANOUT: {
			char prefix[KEY_LEN + 1];

			memcpy(prefix, f->prefix, f->used);
			memcpy(prefix + f->used, git_tree_entry_name(e), 2);
			f->pos++;
			if (frame_open(&it->frames[k + 1], it->repo, git_tree_entry_id(e), prefix,
				       f->used + 2) < 0)
				return -1;
			f->child = 1;
			if (frame_fill(it, k + 1) < 0)
				return -1;
			break;
		}
		default:
			f->pos++;
			break;
		}
	}
}

int gs_notes_iter_open(gs_notes_iter **out, gs_store *store, const char *ns)
{
	gs_notes_iter *it = calloc(1, sizeof(*it));
	git_oid tip, tree;
	char *full = NULL;
	int has_tip;

	*out = NULL;
	if (!it)
		return gs_error_set_os(ENOMEM, "out of memory");
	it->store = store;
	if (!(full = notes_ref(ns)) || read_tip(&has_tip, &tip, &tree, store, full) < 0)
		goto fail;
	free(full);
	full = NULL;
	if (has_tip && (gs_repo_acquire(&it->repo, store) < 0 ||
			frame_open(&it->frames[0], it->repo, &tree, "", 0) < 0))
		goto fail;
	*out = it;
	return 0;
fail:
	free(full);
	gs_notes_iter_free(it);
	return -1;
}

int gs_notes_iter_next(int *found, char key[GS_NOTE_KEY_LEN + 1], gs_buf *text,
		       gs_notes_iter *it)
{
	note_frame *top = &it->frames[0];

	*found = 0;
	if (!top->tree)
		return 0;
	if (frame_fill(it, 0) < 0)
		return -1;
	if (!top->has)
		return 0;
	if (text && read_blob(text, it->store, it->repo, &top->blob) < 0)
		return -1;
	memcpy(key, top->key, KEY_LEN + 1);
	*found = 1;
	return 0;
}

void gs_notes_iter_free(gs_notes_iter *it)
{
	if (!it)
		return;
	for (size_t k = 0; k < MAX_LEVELS; k++)
		git_tree_free(it->frames[k].tree);
	if (it->repo)
		gs_repo_release(it->store, it->repo);
	free(it);
}

int gs_notes_count(size_t *out, gs_store *store, const char *ns)
{
	gs_notes_iter *it = NULL;
	char key[KEY_LEN + 1];
	int found = 1;

	*out = 0;
	if (gs_notes_iter_open(&it, store, ns) < 0)
		return -1;
	while (found) {
		if (gs_notes_iter_next(&found, key, NULL, it) < 0) {
			gs_notes_iter_free(it);
			return -1;
		}
		*out += (size_t)found;
	}
	gs_notes_iter_free(it);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

/* One attempt: the edits against the tip as it is now, committed only
 * if the ref is still there when the lock is held (else GS_ERR_STALE). */
static int apply_once(git_oid *out, gs_store *store, const char *fullname,
		      const gs_note_edit *edits, size_t count, const char *message)
{
	gs_txn *txn = NULL;
	gs_write *writes = calloc(count + 1, sizeof(*writes));
	gs_strlist removes = {0};
	note_place places[MAX_LEVELS];
	git_oid tip, tree, new_tree;
	size_t nwrites = 0, nplaces;
	int64_t when;
	int has_tip, noop, rc = -1;

	if (!writes)
		return gs_error_set_os(ENOMEM, "out of memory");
	if (read_tip(&has_tip, &tip, &tree, store, fullname) < 0 ||
	    gs_txn_begin(&txn, store) < 0)
		goto done;
	for (size_t i = 0; i < count; i++) {
		const gs_note_edit *e = &edits[i];

		nplaces = 0;
		if (has_tip && locate(places, &nplaces, store, gs_txn_repo(txn), &tree, e->key,
				      0) < 0)
			goto done;
		if (!e->text && nplaces == 0) {
			gs_error_set(GS_ERR_KEY, "%s", e->key);
			goto done;
		}
		/* Every stored form goes; a write then puts the note flat. */
		for (size_t j = 0; j < nplaces; j++)
			if (gs_strlist_push(&removes, places[j].path) < 0)
				goto done;
		if (e->text) {
			if (gs_txn_write_blob(&writes[nwrites].id, txn, e->text, e->len) < 0)
				goto done;
			writes[nwrites].path = e->key;
			writes[nwrites].mode = GS_MODE_BLOB;
			nwrites++;
		}
	}
	if (gs_tree_apply(&new_tree, txn, has_tip ? &tree : NULL, writes, nwrites,
			  (const char *const *)removes.items, removes.count) < 0 ||
	    gs_ref_commit(out, &when, &noop, txn, fullname, has_tip ? &tip : NULL, NULL,
			  &new_tree, message, message) < 0)
		goto done;
	rc = 0;
done:
	gs_txn_free(txn);
	gs_strlist_free(&removes);
	free(writes);
	return rc;
}

int gs_notes_apply(git_oid *out, gs_store *store, const char *ns, const gs_note_edit *edits,
		   size_t count, const char *message)
{
	char *full = NULL;
	int rc = -1;

	for (size_t i = 0; i < count; i++)
		if (!gs_note_key_valid(edits[i].key, strlen(edits[i].key)))
			return gs_error_set(GS_ERR_INVALID, "Invalid commit hash: %s",
					    edits[i].key);
	if (gs_notes_namespace_check(ns) < 0 || !(full = notes_ref(ns)))
		return -1;
	/* The lock is held only to commit; another writer may have moved the
	 * tip since it was read, and then the edits are made again on the
	 * new one, so no writer's note is lost. */
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		rc = apply_once(out, store, full, edits, count, message);
		if (rc == 0 || gs_error_last()->category != GS_ERR_STALE)
			goto done;
	}
	gs_error_set(GS_ERR_STALE, "Notes ref %s changed during update", full);
done:
	free(full);
	return rc;
}
