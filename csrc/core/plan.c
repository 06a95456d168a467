/* plan.c - what remove, move and copy_from_ref change inside a branch,
 * and what Batch.remove stages: the sources resolved and listed, where
 * each file lands, the first source winning where destinations meet, and
 * the errors.  The result is a changeset (and a report); nothing is
 * written here. */
#include "gs_internal.h"
#include "source.h"
#include "tree.h"
#include "txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int out_of_memory(void)
{
	return gs_error_set_os(ENOMEM, "out of memory");
}

/* "a/b" from parts, skipping empty ones; malloc'd. */
static char *join_path(const char *a, const char *b, const char *c)
{
	const char *parts[3] = {a, b, c};
	size_t len = 1;
	char *out;

	for (int i = 0; i < 3; i++)
		len += strlen(parts[i]) + 1;
	if (!(out = malloc(len)))
		return NULL;
	out[0] = '\0';
	for (int i = 0; i < 3; i++) {
		if (!*parts[i])
			continue;
		if (*out)
			strcat(out, "/");
		strcat(out, parts[i]);
	}
	return out;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Entry-style lookup: 1 found, 0 missing, -1 error. */
static int lookup(gs_entry *out, gs_txn *txn, const git_oid *root, const char *path)
{
	if (gs_tree_lookup_recent(out, gs_txn_store(txn), gs_txn_repo(txn), root, path) == 0)
		return 1;
	if (gs_error_last()->category != GS_ERR_NOTFOUND)
		return -1;
	gs_error_clear();
	return 0;
}

/* GS_ERR_NOTFOUND "No matches for <what>: ['a', 'b']" (the sources as
 * Python shows a list of them). */
static int no_matches(const char *what, const char *const *specs, size_t count)
{
	gs_buf shown = {0};
	char *quoted = NULL;
	int failed = gs_buf_puts(&shown, "[");

	for (size_t i = 0; !failed && i < count; i++) {
		/* At most 4 bytes per byte ("\x01"), the quotes and the NUL. */
		size_t size = 4 * strlen(specs[i]) + 3;
		if (!(quoted = malloc(size))) {
			failed = out_of_memory();
			break;
		}
		failed = gs_buf_puts(&shown, i ? ", " : "") < 0 ||
			 gs_buf_puts(&shown, gs_repr(quoted, size, specs[i])) < 0;
		free(quoted);
	}
	if (!failed && gs_buf_puts(&shown, "]") == 0)
		gs_error_set(GS_ERR_NOTFOUND, "No matches for %s: %s", what, shown.data);
	gs_buf_free(&shown);
	return -1;
}

static int directory_refused(const gs_source *src)
{
	return gs_error_set(GS_ERR_ISDIR, "%s is a directory (use recursive=True)", src->path);
}

static void sources_free(gs_source *srcs, size_t count)
{
	for (size_t i = 0; srcs && i < count; i++)
		gs_source_clear(&srcs[i]);
	free(srcs);
}

/* The files a resolved source stands for, each with its destination: a
 * file lands exactly at dest_base; a directory's files land below
 * dest_base with their paths relative to the directory. */
static int source_pairs(gs_filelist *from, gs_strlist *to, gs_txn *txn, const gs_source *src,
			const char *dest_base)
{
	gs_filelist below = {0};
	size_t skip = *src->path ? strlen(src->path) + 1 : 0;
	int rc = -1;

	if (src->mode == GS_SRC_FILE)
		return gs_filelist_push(from, src->path, &src->entry.id, src->entry.mode) < 0 ||
		       gs_strlist_push(to, dest_base) < 0 ? -1 : 0;
	if (gs_tree_files(&below, gs_txn_store(txn), gs_txn_repo(txn), &src->entry.id,
			  src->path) < 0)
		return -1;
	for (size_t i = 0; i < below.count; i++) {
		char *dest = join_path(dest_base, below.items[i].path + skip, "");
		int failed = !dest ? out_of_memory()
			     : gs_filelist_push(from, below.items[i].path, &below.items[i].id,
						below.items[i].mode) < 0 ||
			       gs_strlist_push(to, dest) < 0;
		free(dest);
		if (failed)
			goto done;
	}
	rc = 0;
done:
	gs_filelist_free(&below);
	return rc;
}

/* Where a source lands when it goes into dest rather than being renamed
 * to it: a directory's contents straight into dest, any other source
 * under its last name, below a "/./" pivot's prefix when it has one. */
static char *into_base(const gs_source *src, const char *dest)
{
	if (src->mode == GS_SRC_CONTENTS)
		return join_path(dest, src->prefix, "");
	return join_path(dest, src->prefix, basename_of(src->path));
}

/* repeat[i] = 1 for each path an earlier one in the list equals: only the
 * first source's file reaches a destination. */
static int mark_repeats(char **repeat, const gs_strlist *to)
{
	gs_path_seq *order = malloc((to->count ? to->count : 1) * sizeof(*order));

	*repeat = calloc(to->count + 1, 1);
	if (!order || !*repeat) {
		free(order);
		return out_of_memory();
	}
	for (size_t i = 0; i < to->count; i++)
		order[i] = (gs_path_seq){to->items[i], i};
	gs_path_seq_sort(order, to->count);
	for (size_t i = 1; i < to->count; i++)
		if (strcmp(order[i].path, order[i - 1].path) == 0)
			(*repeat)[order[i].seq] = 1;
	free(order);
	return 0;
}

/* The files in path order, each once (the first of equal paths). */
static int files_by_path(gs_path_seq **out, size_t *count, const gs_filelist *files)
{
	gs_path_seq *order = malloc((files->count ? files->count : 1) * sizeof(*order));
	size_t kept = 0;

	if (!order)
		return out_of_memory();
	for (size_t i = 0; i < files->count; i++)
		order[i] = (gs_path_seq){files->items[i].path, i};
	gs_path_seq_sort(order, files->count);
	for (size_t i = 0; i < files->count; i++)
		if (!kept || strcmp(order[kept - 1].path, order[i].path) != 0)
			order[kept++] = order[i];
	*out = order;
	*count = kept;
	return 0;
}

int gs_plan_remove(gs_changeset *cs, gs_report *report, gs_txn *txn, const git_oid *root,
		   const char *const *sources, size_t nsources, int recursive)
{
	gs_filelist files = {0};
	gs_path_seq *order = NULL;
	size_t count;
	int rc = -1;

	for (size_t i = 0; i < nsources; i++) {
		gs_source src;
		int failed;
		if (gs_source_resolve(&src, gs_txn_repo(txn), root, sources[i]) < 0)
			goto done;
		if (src.mode == GS_SRC_FILE)
			failed = gs_filelist_push(&files, src.path, &src.entry.id, src.entry.mode);
		else if (!recursive)
			failed = directory_refused(&src);
		else
			failed = gs_tree_files(&files, gs_txn_store(txn), gs_txn_repo(txn),
					       &src.entry.id, src.path);
		gs_source_clear(&src);
		if (failed)
			goto done;
	}
	if (files.count == 0) {
		no_matches("sources", sources, nsources);
		goto done;
	}
	if (files_by_path(&order, &count, &files) < 0)
		goto done;
	for (size_t i = 0; i < count; i++) {
		const gs_file *f = &files.items[order[i].seq];
		if (gs_report_add(report, GS_REPORT_DELETE, f->path, f->mode, f->path, NULL) < 0 ||
		    (cs && gs_changeset_remove(cs, f->path) < 0))
			goto done;
	}
	rc = 0;
done:
	free(order);
	gs_filelist_free(&files);
	return rc;
}

int gs_plan_move(gs_changeset *cs, gs_report *report, gs_txn *txn, const git_oid *root,
		 const char *const *sources, size_t nsources, const char *dest_arg, size_t dest_len,
		 int recursive)
{
	gs_source *srcs = calloc(nsources + 1, sizeof(*srcs));
	gs_filelist from = {0};
	gs_strlist to = {0};
	gs_path_seq *order = NULL;
	char *dest = NULL, *repeat = NULL;
	size_t resolved = 0, count;
	int rename, dest_is_dir = 0, rc = -1;

	if (!srcs)
		return out_of_memory();
	for (; resolved < nsources; resolved++)
		if (gs_source_resolve(&srcs[resolved], gs_txn_repo(txn), root, sources[resolved]) < 0)
			goto done;
	if (gs_path_normalize_or_root(&dest, dest_arg, dest_len) < 0)
		goto done;
	if (*dest) {
		gs_entry e;
		int found = lookup(&e, txn, root, dest);
		if (found < 0)
			goto done;
		dest_is_dir = found && e.mode == GS_MODE_TREE;
	}
	/* One file or directory onto a path that is not a directory (nor
	 * written as one, "x/") is a rename; anything else goes into dest. */
	rename = nsources == 1 && srcs[0].mode != GS_SRC_CONTENTS && !dest_is_dir &&
		 !(dest_len && dest_arg[dest_len - 1] == '/');
	for (size_t i = 0; i < nsources; i++) {
		char *base;
		int failed;
		if (rename)
			base = strdup(*dest ? dest : srcs[i].mode == GS_SRC_FILE
						     ? basename_of(srcs[i].path) : "");
		else
			base = into_base(&srcs[i], dest);
		failed = !base ? out_of_memory() : source_pairs(&from, &to, txn, &srcs[i], base);
		free(base);
		if (failed)
			goto done;
	}
	if (from.count == 0) {
		no_matches("patterns", sources, nsources);
		goto done;
	}
	for (size_t i = 0; i < from.count; i++)
		if (strcmp(from.items[i].path, to.items[i]) == 0) {
			gs_error_set(GS_ERR_INVALID, "Source and destination are the same: %s",
				     to.items[i]);
			goto done;
		}
	for (size_t i = 0; i < nsources; i++)
		if (srcs[i].mode != GS_SRC_FILE && !recursive) {
			directory_refused(&srcs[i]);
			goto done;
		}
	if (mark_repeats(&repeat, &to) < 0)
		goto done;
	/* Each destination as the type it moves as, added or updated by
	 * whether something was there. */
	for (size_t i = 0; i < from.count; i++) {
		gs_entry e;
		int found;
		if (repeat[i])
			continue;
		if ((found = lookup(&e, txn, root, to.items[i])) < 0 ||
		    gs_report_add(report, found ? GS_REPORT_UPDATE : GS_REPORT_ADD, to.items[i],
				  from.items[i].mode, from.items[i].path, NULL) < 0 ||
		    gs_changeset_write(cs, to.items[i], &from.items[i].id, from.items[i].mode) < 0)
			goto done;
	}
	/* Each source file goes away, unless another source moves onto it
	 * (it then stays, with new content). */
	if (files_by_path(&order, &count, &from) < 0)
		goto done;
	for (size_t i = 0; i < count; i++) {
		const gs_file *f = &from.items[order[i].seq];
		if (gs_changeset_find_write(cs, f->path))
			continue;
		if (gs_report_add(report, GS_REPORT_DELETE, f->path, f->mode, f->path, NULL) < 0 ||
		    gs_changeset_remove(cs, f->path) < 0)
			goto done;
	}
	rc = 0;
done:
	sources_free(srcs, resolved);
	free(order);
	free(repeat);
	free(dest);
	gs_filelist_free(&from);
	gs_strlist_free(&to);
	return rc;
}

/* Files of the tree `root` under a destination area (a file counts as
 * itself, a missing area has none). */
static int area_files(gs_filelist *out, gs_txn *txn, const git_oid *root, const char *area)
{
	gs_entry e;
	int found;

	if (!*area)
		return gs_tree_files(out, gs_txn_store(txn), gs_txn_repo(txn), root, "");
	if ((found = lookup(&e, txn, root, area)) <= 0)
		return found;
	if (e.mode == GS_MODE_TREE)
		return gs_tree_files(out, gs_txn_store(txn), gs_txn_repo(txn), &e.id, area);
	return gs_filelist_push(out, area, &e.id, e.mode);
}

int gs_plan_copy_from_ref(gs_changeset *cs, gs_report *report, gs_txn *txn, const git_oid *root,
			  const git_oid *from_root, const char *const *sources, size_t nsources,
			  const char *dest_arg, size_t dest_len, int delete)
{
	gs_filelist from = {0}, existing = {0};
	gs_strlist to = {0};
	char *dest = NULL, *repeat = NULL;
	int rc = -1;

	if (gs_path_normalize_or_root(&dest, dest_arg, dest_len) < 0)
		return -1;
	for (size_t i = 0; i < nsources; i++) {
		gs_source src;
		char *base = NULL;
		int failed;
		if (gs_source_resolve(&src, gs_txn_repo(txn), from_root, sources[i]) < 0)
			goto done;
		failed = !(base = into_base(&src, dest)) ? out_of_memory()
			 : source_pairs(&from, &to, txn, &src, base);
		/* With delete, the area is what this source covers at the
		 * destination: its directory, or just the file it writes. */
		if (!failed && delete)
			failed = area_files(&existing, txn, root, base);
		free(base);
		gs_source_clear(&src);
		if (failed)
			goto done;
	}
	if (mark_repeats(&repeat, &to) < 0)
		goto done;
	for (size_t i = 0; i < from.count; i++)
		if (!repeat[i] &&
		    gs_changeset_write(cs, to.items[i], &from.items[i].id, from.items[i].mode) < 0)
			goto done;
	for (size_t i = 0; i < existing.count; i++)
		if (!gs_changeset_find_write(cs, existing.items[i].path) &&
		    gs_changeset_remove(cs, existing.items[i].path) < 0)
			goto done;
	if (report && gs_changeset_report(report, txn, root, cs) < 0)
		goto done;
	rc = 0;
done:
	free(dest);
	free(repeat);
	gs_filelist_free(&from);
	gs_filelist_free(&existing);
	gs_strlist_free(&to);
	return rc;
}

int gs_plan_remove_file(gs_changeset *cs, gs_store *store, const git_oid *root, const char *path)
{
	gs_entry entry;
	int had_write;

	if (gs_snap_entry(&entry, store, root, path, GS_LOOKUP_WALK) == 0) {
		if (entry.mode == GS_MODE_TREE)
			return gs_error_set(GS_ERR_ISDIR, "%s", path);
		/* A staged write would outlast the removal. */
		if (gs_changeset_forget(&had_write, cs, path) < 0)
			return -1;
		return gs_changeset_remove(cs, path);
	}
	if (gs_error_last()->category != GS_ERR_NOTFOUND &&
	    gs_error_last()->category != GS_ERR_NOTDIR)
		return -1;
	gs_error_clear();
	if (!gs_changeset_find_write(cs, path))
		return gs_error_set(GS_ERR_NOTFOUND, "%s", path);
	return gs_changeset_forget(&had_write, cs, path);
}
