/* history.c - a snapshot's history: its first-parent chain, filtered by
 * time, message and path.  Each commit is read once.  With a path filter
 * each commit's trees along the path are traced once, and a parent's
 * trace stops at the first level whose id equals the child's: the rest
 * of the path is the same below it, as in git's tree comparison. */
#include "gs_internal.h"
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The objects along the path in one commit: level 0 is the root tree,
 * level i the entry named by the i-th segment in the tree at level i-1.
 * `depth` levels are known; the path is there when all nseg + 1 are. */
typedef struct {
	git_oid *ids;
	uint32_t *modes;
	unsigned char *is_tree;
	size_t depth;
} path_trace;

struct gs_history {
	gs_store *store;
	char *path;             /* its segments, NUL-separated */
	char **segs;
	size_t nseg;
	char *match;
	int has_before;
	double before;
	int before_reached;     /* once a commit is old enough, stop checking */
	gs_commit_info current; /* the commit to consider next */
	int has_current;
	int current_full;       /* all of it read, not only its links */
	/* The trace of the path in `current`, when the last step made it. */
	int current_traced;
	path_trace traces[2];
	path_trace *mine, *theirs;
};

static int trace_alloc(path_trace *t, size_t levels)
{
	t->ids = calloc(levels, sizeof(*t->ids));
	t->modes = calloc(levels, sizeof(*t->modes));
	t->is_tree = calloc(levels, 1);
	return t->ids && t->modes && t->is_tree ? 0 : -1;
}

static void trace_free(path_trace *t)
{
	free(t->ids);
	free(t->modes);
	free(t->is_tree);
}

static int split_path(gs_history *h, const char *path)
{
	size_t n = 1;

	if (!(h->path = strdup(path)))
		return -1;
	for (const char *c = path; *c; c++)
		n += *c == '/';
	if (!(h->segs = calloc(n, sizeof(*h->segs))))
		return -1;
	h->segs[0] = h->path;
	for (char *c = h->path; *c; c++)
		if (*c == '/') {
			*c = '\0';
			h->segs[++h->nseg] = c + 1;
		}
	h->nseg = n;
	h->mine = &h->traces[0];
	h->theirs = &h->traces[1];
	return trace_alloc(&h->traces[0], n + 1) < 0 || trace_alloc(&h->traces[1], n + 1) < 0
		? -1 : 0;
}

/* Only the id, tree and first parent of commit `id`, parsed from the raw
 * object: the walk needs no more from commits it does not yield. */
static int read_links(gs_commit_info *out, gs_store *store, const git_oid *id)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	const char *data, *end;
	int rc = -1, git_rc;

	memset(out, 0, sizeof(*out));
	git_oid_tostr(hex, sizeof(hex), id);
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	if ((git_rc = git_repository_odb(&odb, repo)) < 0) {
		gs_error_set_git(git_rc, hex);
		goto done;
	}
	git_rc = git_odb_read(&obj, odb, id);
	if (git_rc == GIT_ENOTFOUND && gs_repo_reload(repo) == 0) {
		git_odb_free(odb);
		odb = NULL;
		if ((git_rc = git_repository_odb(&odb, repo)) == 0)
			git_rc = git_odb_read(&obj, odb, id);
	}
	if (git_rc == GIT_ENOTFOUND) {
		gs_error_set(GS_ERR_GIT, "commit %s is missing from the repository", hex);
		goto done;
	}
	if (git_rc < 0) {
		gs_error_set_git(git_rc, hex);
		goto done;
	}
	data = git_odb_object_data(obj);
	end = data + git_odb_object_size(obj);
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT || end - data < 46 ||
	    memcmp(data, "tree ", 5) || data[45] != '\n' ||
	    git_oid_fromstrn(&out->tree, data + 5, GIT_OID_HEXSZ) < 0) {
		gs_error_set(GS_ERR_GIT, "object %s is not a valid commit", hex);
		goto done;
	}
	data += 46;
	if (end - data >= 48 && !memcmp(data, "parent ", 7) && data[47] == '\n') {
		if (git_oid_fromstrn(&out->parent, data + 7, GIT_OID_HEXSZ) < 0) {
			gs_error_set(GS_ERR_GIT, "object %s is not a valid commit", hex);
			goto done;
		}
		out->has_parent = 1;
	}
	git_oid_cpy(&out->id, id);
	rc = 0;
done:
	git_odb_object_free(obj);
	git_odb_free(odb);
	gs_repo_release(store, repo);
	return rc;
}

/* Commit `id` read whole, or only its links (see read_links). */
static int read_commit(gs_commit_info *out, gs_store *store, const git_oid *id, int whole)
{
	return whole ? gs_commit_info_read(out, store, id) : read_links(out, store, id);
}

/* Whether the filters need more of a commit than its links. */
static int need_whole(const gs_history *h)
{
	return h->match || (h->has_before && !h->before_reached);
}

int gs_history_open(gs_history **out, gs_store *store, const git_oid *start,
		    const gs_history_filter *filter)
{
	gs_history *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return gs_error_set_os(ENOMEM, "out of memory");
	h->store = store;
	h->has_before = filter->has_before;
	h->before = filter->before;
	if ((filter->path && split_path(h, filter->path) < 0) ||
	    (filter->match && !(h->match = strdup(filter->match)))) {
		gs_history_free(h);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	if (gs_commit_info_read(&h->current, store, start) < 0) {
		gs_history_free(h);
		return -1;
	}
	h->has_current = 1;
	h->current_full = 1;
	*out = h;
	return 0;
}

void gs_history_free(gs_history *h)
{
	if (!h)
		return;
	gs_commit_info_clear(&h->current);
	trace_free(&h->traces[0]);
	trace_free(&h->traces[1]);
	free(h->segs);
	free(h->path);
	free(h->match);
	free(h);
}

/* The message matched against the pattern without its trailing newlines. */
static int message_matches(int *out, const char *message, const char *pattern)
{
	size_t len = strlen(message);
	char *trimmed;

	while (len > 0 && message[len - 1] == '\n')
		len--;
	if (!(trimmed = strndup(message, len)))
		return gs_error_set_os(ENOMEM, "out of memory");
	*out = gs_fnmatch(pattern, trimmed);
	free(trimmed);
	return 0;
}

static int path_found(const gs_history *h, const path_trace *t)
{
	return t->depth == h->nseg + 1;
}

/* Trace the path below root tree `root` into `out`; from a level whose
 * object and mode equal those of `known` (NULL: none) on, copy `known`. */
static int trace_path(path_trace *out, gs_history *h, const git_oid *root,
		      const path_trace *known)
{
	git_repository *repo = NULL;
	size_t k;
	int rc = -1;

	git_oid_cpy(&out->ids[0], root);
	out->modes[0] = GS_MODE_TREE;
	out->is_tree[0] = 1;
	out->depth = 1;
	for (k = 0;; k++) {
		git_tree *tree = NULL;
		const git_tree_entry *entry;

		if (known && k < known->depth && out->modes[k] == known->modes[k] &&
		    git_oid_equal(&out->ids[k], &known->ids[k])) {
			size_t rest = known->depth - k - 1;
			memcpy(&out->ids[k + 1], &known->ids[k + 1], rest * sizeof(*out->ids));
			memcpy(&out->modes[k + 1], &known->modes[k + 1], rest * sizeof(*out->modes));
			memcpy(&out->is_tree[k + 1], &known->is_tree[k + 1], rest);
			out->depth = known->depth;
			break;
		}
		if (k == h->nseg || !out->is_tree[k])
			break;
		if (!repo && gs_repo_acquire(&repo, h->store) < 0)
			return -1;
		if (gs_tree_get(&tree, repo, &out->ids[k]) < 0)
			goto done;
		entry = git_tree_entry_byname(tree, h->segs[k]);
		if (entry) {
			git_oid_cpy(&out->ids[k + 1], git_tree_entry_id(entry));
			out->modes[k + 1] = git_tree_entry_filemode_raw(entry);
			out->is_tree[k + 1] = git_tree_entry_type(entry) == GIT_OBJECT_TREE;
			out->depth = k + 2;
		}
		git_tree_free(tree);
		if (!entry)
			break;
	}
	rc = 0;
done:
	if (repo)
		gs_repo_release(h->store, repo);
	return rc;
}

/* Whether the entry at the path differs between `current` and `parent`
 * (NULL: a root commit, which changed the path when it has it). */
static int path_changed(int *out, gs_history *h, const gs_commit_info *parent)
{
	path_trace *swap;
	size_t n = h->nseg;

	if (!h->current_traced && trace_path(h->mine, h, &h->current.tree, NULL) < 0)
		return -1;
	if (!parent) {
		*out = path_found(h, h->mine);
		h->current_traced = 0;
		return 0;
	}
	if (trace_path(h->theirs, h, &parent->tree, h->mine) < 0)
		return -1;
	if (path_found(h, h->mine) != path_found(h, h->theirs))
		*out = 1;
	else
		*out = path_found(h, h->mine) &&
		       (h->mine->modes[n] != h->theirs->modes[n] ||
			!git_oid_equal(&h->mine->ids[n], &h->theirs->ids[n]));
	/* The parent is considered next: its trace is kept. */
	swap = h->mine;
	h->mine = h->theirs;
	h->theirs = swap;
	h->current_traced = 1;
	return 0;
}

int gs_history_next(gs_commit_info *out, int *found, gs_history *h)
{
	*found = 0;
	memset(out, 0, sizeof(*out));
	while (h->has_current) {
		gs_commit_info parent = {0};
		int has_parent = h->current.has_parent, keep = 1, parent_full;

		parent_full = need_whole(h);
		if (has_parent &&
		    read_commit(&parent, h->store, &h->current.parent, parent_full) < 0)
			return -1;
		if (h->has_before && !h->before_reached) {
			if ((double)h->current.time > h->before)
				keep = 0;
			else
				h->before_reached = 1;
		}
		if (keep && h->match && message_matches(&keep, h->current.message, h->match) < 0)
			goto fail;
		if (keep && h->path) {
			if (path_changed(&keep, h, has_parent ? &parent : NULL) < 0)
				goto fail;
		} else {
			h->current_traced = 0;
		}
		if (keep && !h->current_full) {
			git_oid id;
			git_oid_cpy(&id, &h->current.id);
			gs_commit_info_clear(&h->current);
			if (gs_commit_info_read(&h->current, h->store, &id) < 0)
				goto fail;
		}
		if (keep) {
			*out = h->current;
			*found = 1;
		} else {
			gs_commit_info_clear(&h->current);
		}
		h->current = parent;
		h->has_current = has_parent;
		h->current_full = parent_full;
		if (keep)
			return 0;
		continue;
fail:
		gs_commit_info_clear(&parent);
		return -1;
	}
	return 0;
}

int gs_history_ancestor(git_oid *out, int *found, gs_store *store, const git_oid *start,
			size_t n)
{
	gs_commit_info links = {0};

	*found = 0;
	git_oid_cpy(&links.parent, start);
	links.has_parent = 1;
	for (size_t i = 0; i <= n; i++) {
		git_oid next;

		if (!links.has_parent)
			return 0;
		git_oid_cpy(&next, &links.parent);
		if (read_links(&links, store, &next) < 0)
			return -1;
	}
	git_oid_cpy(out, &links.id);
	*found = 1;
	return 0;
}
