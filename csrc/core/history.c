/* history.c - a snapshot's history: its first-parent chain, filtered by
 * time, message and path.  Each commit is read once; with a path filter,
 * the entry at the path in a parent is kept for the next step, so the
 * path is looked up once per commit, not twice. */
#include "gs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gs_history {
	gs_store *store;
	char *path;
	char *match;
	int has_before;
	double before;
	int before_reached;     /* once a commit is old enough, stop checking */
	gs_commit_info current; /* the commit to consider next */
	int has_current;
	/* The entry at path in `current`, when the last step found it out. */
	int entry_known, entry_found;
	gs_entry entry;
};

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
	if ((filter->path && !(h->path = strdup(filter->path))) ||
	    (filter->match && !(h->match = strdup(filter->match)))) {
		gs_history_free(h);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	if (gs_commit_info_read(&h->current, store, start) < 0) {
		gs_history_free(h);
		return -1;
	}
	h->has_current = 1;
	*out = h;
	return 0;
}

void gs_history_free(gs_history *h)
{
	if (!h)
		return;
	gs_commit_info_clear(&h->current);
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

/* Whether the entry at the path differs between `current` and `parent`
 * (NULL: a root commit, which changed the path when it has it). */
static int path_changed(int *out, gs_history *h, const gs_commit_info *parent)
{
	gs_entry theirs;
	int found_theirs = 0;

	if (!h->entry_known &&
	    gs_snap_entry_opt(&h->entry_found, &h->entry, h->store, &h->current.tree,
			      h->path) < 0)
		return -1;
	if (parent && gs_snap_entry_opt(&found_theirs, &theirs, h->store, &parent->tree,
					h->path) < 0)
		return -1;
	if (h->entry_found != found_theirs)
		*out = 1;
	else
		*out = h->entry_found && (h->entry.mode != theirs.mode ||
					  !git_oid_equal(&h->entry.id, &theirs.id));
	/* The parent is considered next: what was found there stays known. */
	h->entry_known = parent != NULL;
	h->entry_found = found_theirs;
	if (found_theirs)
		h->entry = theirs;
	return 0;
}

int gs_history_next(gs_commit_info *out, int *found, gs_history *h)
{
	*found = 0;
	memset(out, 0, sizeof(*out));
	while (h->has_current) {
		gs_commit_info parent = {0};
		int has_parent = h->current.has_parent, keep = 1;

		if (has_parent && gs_commit_info_read(&parent, h->store, &h->current.parent) < 0)
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
			h->entry_known = 0;
		}
		if (keep) {
			*out = h->current;
			*found = 1;
		} else {
			gs_commit_info_clear(&h->current);
		}
		h->current = parent;
		h->has_current = has_parent;
		if (keep)
			return 0;
		continue;
fail:
		gs_commit_info_clear(&parent);
		return -1;
	}
	return 0;
}
