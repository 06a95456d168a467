/*
 * sync.c - copy_in, copy_out, sync_in and sync_out: which files go where,
 * what the report says, and when a failure stops the operation.  The
 * per-file work (walking, hashing, storing, writing out) is in copy.c.
 *
 * Report errors read as the exceptions the binding raises for the same
 * failures would print, so that a failure reads the same whether it
 * stops the operation or is recorded under ignore_errors.
 */
#include "gs_internal.h"
#include "copy.h"
#include "source.h"
#include "tree.h"
#include "txn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVERLAP "Overlapping destination '%s': skipping (kept earlier source)"

/* Levels below a destination that pruning looks into (one open
 * directory each). */
#define PRUNE_MAX_DEPTH 256

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int nomem(void)
{
	return gs_error_set_os(ENOMEM, "out of memory");
}

/* The parts that are not empty, joined with '/'. */
static char *join_parts(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 2);

	if (!out)
		return NULL;
	memcpy(out, a, la);
	if (la && lb)
		out[la++] = '/';
	memcpy(out + la, b, lb + 1);
	return out;
}

/* A local path below a directory, as os.path.join makes it. */
static char *join_local(const char *dir, const char *name)
{
	size_t ld = strlen(dir), ln = strlen(name);
	char *out;

	if (name[0] == '/')
		return strdup(name);
	if (!(out = malloc(ld + ln + 2)))
		return NULL;
	memcpy(out, dir, ld);
	if (ld && dir[ld - 1] != '/')
		out[ld++] = '/';
	memcpy(out + ld, name, ln + 1);
	return out;
}

/* The last segment of a path with its trailing '/' ignored. */
static char *base_name(const char *path)
{
	size_t len = strlen(path);
	const char *start;

	while (len && path[len - 1] == '/')
		len--;
	start = path + len;
	while (start > path && start[-1] != '/')
		start--;
	return strndup(start, (size_t)(path + len - start));
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int lexists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int put_repr(gs_buf *out, const char *s)
{
	size_t room = 4 * strlen(s) + 3;

	if (gs_buf_grow(out, out->size + room + 1) < 0)
		return -1;
	gs_repr(out->data + out->size, room + 1, s);
	out->size += strlen(out->data + out->size);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Errors as report entries                                            */

/* What str() of the exception the binding raises for the calling
 * thread's last error shows (see the binding's errors.c). */
static int error_text(gs_buf *out)
{
	const gs_error *err = gs_error_last();
	char head[32];

	out->size = 0;
	if (err->category == GS_ERR_NOMEM)
		return gs_buf_puts(out, "");
	if (err->category == GS_ERR_KEY)
		return put_repr(out, err->message);
	if (err->category != GS_ERR_OS || !err->os_errno)
		return gs_buf_puts(out, err->message);
	snprintf(head, sizeof(head), "[Errno %d] ", err->os_errno);
	if (gs_buf_puts(out, head) < 0)
		return -1;
	if (!err->path)
		return gs_buf_puts(out, err->message) < 0 || gs_buf_puts(out, ": ") < 0 ? -1
			: gs_buf_puts(out, strerror(err->os_errno));
	if ((*err->action && (gs_buf_puts(out, err->action) < 0 || gs_buf_puts(out, ": ") < 0)) ||
	    gs_buf_puts(out, strerror(err->os_errno)) < 0 || gs_buf_puts(out, ": ") < 0)
		return -1;
	return put_repr(out, err->path);
}

/* Record the calling thread's last error as a report error about path. */
static int report_error(gs_report *report, const char *path)
{
	gs_buf text = {0};
	int rc = error_text(&text);

	if (rc == 0) {
		gs_error_clear();
		rc = gs_report_add(report, GS_REPORT_ERROR, path, 0, NULL, text.data ? text.data : "");
	}
	gs_buf_free(&text);
	return rc;
}

/* 1 when the last error says that a source is missing or is not a
 * directory: what ignore_errors records instead of failing. */
static int source_missing(void)
{
	gs_error_t c = gs_error_last()->category;
	return c == GS_ERR_NOTFOUND || c == GS_ERR_NOTDIR;
}

static int report_has_errors(const gs_report *report)
{
	return report->lists[GS_REPORT_ERROR].count > 0;
}

/* GS_ERR_FAILED with the report's errors, as the list of ChangeError
 * the binding would show. */
static int all_failed(const gs_report *report)
{
	const gs_report_list *errors = &report->lists[GS_REPORT_ERROR];
	gs_buf text = {0};

	if (gs_buf_puts(&text, "All files failed to copy: [") < 0)
		goto nomem;
	for (size_t i = 0; i < errors->count; i++) {
		if ((i && gs_buf_puts(&text, ", ") < 0) ||
		    gs_buf_puts(&text, "ChangeError(path=") < 0 ||
		    put_repr(&text, errors->items[i].path) < 0 ||
		    gs_buf_puts(&text, ", error=") < 0 ||
		    put_repr(&text, errors->items[i].message ? errors->items[i].message : "") < 0 ||
		    gs_buf_puts(&text, ")") < 0)
			goto nomem;
	}
	if (gs_buf_puts(&text, "]") < 0)
		goto nomem;
	gs_error_set(GS_ERR_FAILED, "%s", text.data);
	gs_buf_free(&text);
	return -1;
nomem:
	gs_buf_free(&text);
	return -1;
}

/* Record a problem the local diff found as the thread's error. */
static int problem_error(const gs_local_entry *e)
{
	if (e->err)
		return gs_error_set_path(e->err, e->local, "");
	if (e->kind == GS_LOCAL_SPECIAL)
		return gs_error_set(GS_ERR_OS, "Not a regular file (fifo, socket or device): %s",
				    e->local);
	return gs_error_set(GS_ERR_OS, "%s", e->message ? e->message : "");
}

/* The warning for a file left out because an earlier source provides
 * rel: the first source wins. */
static int warn_overlap(gs_report *report, const char *path, const char *rel)
{
	size_t len = strlen(rel) + sizeof(OVERLAP);
	char *message = malloc(len);
	int rc;

	if (!message)
		return nomem();
	snprintf(message, len, OVERLAP, rel);
	rc = gs_report_add(report, GS_REPORT_WARNING, path, 0, NULL, message);
	free(message);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Local sources: "base/./rest" pivots, "dir/" for contents, plain paths */

typedef struct {
	char *path;            /* on disk */
	gs_source_mode mode;
	char *prefix;          /* kept below the destination by a pivot */
} local_source;

static void local_source_clear(local_source *src)
{
	free(src->path);
	free(src->prefix);
	memset(src, 0, sizeof(*src));
}

static int resolve_local(local_source *out, const char *spec)
{
	gs_source_spec split;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (gs_source_split(&split, spec) < 0)
		return -1;
	if (split.pivot) {
		out->path = *split.rest ? join_local(split.base, split.rest) : strdup(split.base);
		if (!out->path) {
			nomem();
			goto done;
		}
		if (!exists(out->path)) {
			gs_error_set(GS_ERR_NOTFOUND, "Local file not found: %s", out->path);
			goto done;
		}
		if (is_dir(out->path)) {
			out->mode = split.contents ? GS_SRC_CONTENTS : GS_SRC_DIR;
		} else if (split.contents) {
			gs_error_set(GS_ERR_NOTDIR, "Not a directory: %s", out->path);
			goto done;
		} else {
			out->mode = GS_SRC_FILE;
		}
		out->prefix = split.prefix;
		split.prefix = NULL;
	} else {
		out->path = split.base;
		split.base = NULL;
		if (!(out->prefix = strdup(""))) {
			nomem();
			goto done;
		}
		if (split.contents) {
			if (!is_dir(out->path)) {
				gs_error_set(GS_ERR_NOTDIR, "Not a directory: %s", out->path);
				goto done;
			}
			out->mode = GS_SRC_CONTENTS;
		} else if (is_dir(out->path)) {
			out->mode = GS_SRC_DIR;
		} else if (exists(out->path)) {
			out->mode = GS_SRC_FILE;
		} else {
			gs_error_set(GS_ERR_NOTFOUND, "Local file not found: %s", out->path);
			goto done;
		}
	}
	rc = 0;
done:
	if (rc < 0)
		local_source_clear(out);
	gs_source_spec_clear(&split);
	return rc;
}

/* What a resolved local source provides and where it lands: a file under
 * its name (unless the filter excludes the name), a directory under its
 * name (a symlink to one stays a link unless followed), contents as they
 * are.  *skip = 1 for an excluded file. */
static int local_input(gs_local_source *out, char **rel, int *skip, const local_source *src,
		       const gs_copy_opts *opts)
{
	char *name = NULL;
	struct stat st;
	int rc = -1;

	*rel = NULL;
	*skip = 0;
	out->path = src->path;
	out->walk = 1;
	if (src->mode == GS_SRC_CONTENTS) {
		if (!(*rel = strdup(src->prefix)))
			return nomem();
		out->rel = *rel;
		return 0;
	}
	if (!(name = base_name(src->path))) {
		nomem();
		goto done;
	}
	if (src->mode == GS_SRC_FILE) {
		out->walk = 0;
		if (gs_exclude_active(opts->filter) &&
		    gs_exclude_is_excluded(skip, opts->filter, name, 0) < 0)
			goto done;
	} else {
		out->walk = opts->follow_symlinks || !(lstat(src->path, &st) == 0 &&
						       S_ISLNK(st.st_mode));
	}
	if (!(*rel = join_parts(src->prefix, name))) {
		nomem();
		goto done;
	}
	out->rel = *rel;
	rc = 0;
done:
	free(name);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Disk to repository                                                  */

/* One file to store. */
typedef struct {
	gs_local_entry *entry;   /* from the diff */
	int update;              /* reported as an update, else as an add */
	int has_stored;          /* `stored` is what the tree has there */
	gs_entry stored;
	int failed;
} planned_file;

typedef struct {
	planned_file *items;
	size_t count, cap;
} plan;

static int plan_push(plan *p, gs_local_entry *e, int update, const gs_entry *stored)
{
	planned_file *f;

	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		planned_file *grown = realloc(p->items, cap * sizeof(*grown));
		if (!grown)
			return nomem();
		p->items = grown;
		p->cap = cap;
	}
	f = &p->items[p->count++];
	memset(f, 0, sizeof(*f));
	f->entry = e;
	f->update = update;
	if (stored) {
		f->has_stored = 1;
		f->stored = *stored;
	}
	return 0;
}

/* The type a local file is reported with. */
static uint32_t local_type(const gs_local_entry *e)
{
	if (e->kind == GS_LOCAL_LINK)
		return GS_MODE_LINK;
	return e->exec ? GS_MODE_EXEC : GS_MODE_BLOB;
}

/* The adds and updates of a plan, leaving out the files that failed. */
static int report_plan(gs_report *report, const plan *p)
{
	for (size_t i = 0; i < p->count; i++) {
		const planned_file *f = &p->items[i];
		if (!f->failed &&
		    gs_report_add(report, f->update ? GS_REPORT_UPDATE : GS_REPORT_ADD,
				  f->entry->rel, local_type(f->entry), f->entry->local, NULL) < 0)
			return -1;
	}
	return 0;
}

/* What the tree has at path (entry style): *found 0 when nothing. */
static int tree_entry(int *found, gs_entry *out, gs_txn *txn, const git_oid *tree,
		      const char *path)
{
	*found = 1;
	if (!*path) {
		git_oid_cpy(&out->id, tree);
		out->mode = GS_MODE_TREE;
		return 0;
	}
	if (gs_tree_lookup_recent(out, gs_txn_store(txn), gs_txn_repo(txn), tree, path) == 0)
		return 0;
	*found = 0;
	if (gs_error_last()->category != GS_ERR_NOTFOUND)
		return -1;
	gs_error_clear();
	return 0;
}

/* Without delete: every file is written, listed as an update where the
 * destination has something at its path (skipped with ignore_existing). */
static int plan_copy(plan *p, gs_local_diff *diff, gs_txn *txn, const gs_entry *dest_entry,
		     const gs_copy_opts *opts)
{
	int occupied = dest_entry && dest_entry->mode == GS_MODE_TREE;

	for (size_t i = 0; i < diff->add.count; i++) {
		gs_local_entry *e = &diff->add.items[i];
		gs_entry have;
		int found = 0;

		if (occupied && tree_entry(&found, &have, txn, &dest_entry->id, e->rel) < 0)
			return -1;
		if (found && opts->ignore_existing)
			continue;
		if (plan_push(p, e, found, found && have.mode != GS_MODE_TREE ? &have : NULL) < 0)
			return -1;
	}
	return 0;
}

/* With delete: the adds and (unless ignore_existing) the updates, in path
 * order; what only the destination has is removed. */
static int plan_sync(plan *p, gs_strlist *removes, gs_report *report, gs_local_diff *diff,
		     const char *dest, const gs_copy_opts *opts)
{
	size_t a = 0, u = 0, nu = opts->ignore_existing ? 0 : diff->update.count;

	while (a < diff->add.count || u < nu) {
		int take_add = u == nu || (a < diff->add.count &&
					   strcmp(diff->add.items[a].rel, diff->update.items[u].rel) < 0);
		if (plan_push(p, take_add ? &diff->add.items[a++] : &diff->update.items[u++],
			      !take_add, NULL) < 0)
			return -1;
	}
	for (size_t i = 0; i < diff->delete.count; i++) {
		const gs_file *f = &diff->delete.items[i];
		char *full = join_parts(dest, f->path);
		int rc = full ? gs_report_add(report, GS_REPORT_DELETE, f->path, f->mode, full, NULL)
			      : nomem();
		if (rc == 0)
			rc = gs_strlist_push(removes, full);
		free(full);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Store each planned file and stage it in cs; a file that fails is a
 * report error with ignore_errors.  *failed counts those. */
static int stage_plan(size_t *failed, plan *p, gs_report *report, gs_changeset *cs,
		      gs_txn *txn, const char *dest, const gs_copy_opts *opts)
{
	*failed = 0;
	for (size_t i = 0; i < p->count; i++) {
		planned_file *f = &p->items[i];
		gs_local_entry *e = f->entry;
		int as_link = e->kind == GS_LOCAL_LINK;
		char *path;
		uint32_t mode;
		git_oid id;
		int rc;

		if (gs_local_blob(&id, &mode, txn, e->local, as_link,
				  as_link ? 0 : opts->mode_override,
				  f->has_stored ? &f->stored : NULL) < 0) {
			if (!opts->ignore_errors || report_error(report, e->local) < 0)
				return -1;
			f->failed = 1;
			(*failed)++;
			continue;
		}
		if (!(path = join_parts(dest, e->rel)))
			return nomem();
		rc = gs_changeset_write(cs, path, &id, mode);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

typedef struct {
	local_source *resolved;
	size_t count;
	gs_local_source *inputs;
	char **rels;
	size_t ninputs;
} local_inputs;

static void local_inputs_clear(local_inputs *in)
{
	for (size_t i = 0; i < in->count; i++)
		local_source_clear(&in->resolved[i]);
	for (size_t i = 0; i < in->ninputs; i++)
		free(in->rels[i]);
	free(in->resolved);
	free(in->inputs);
	free(in->rels);
	memset(in, 0, sizeof(*in));
}

/* Resolve every source; with ignore_errors a missing one is a report
 * error (named as given). */
static int resolve_locals(local_inputs *in, gs_report *report, const char *const *specs,
			  size_t nspecs, const gs_copy_opts *opts)
{
	size_t n = nspecs ? nspecs : 1;

	memset(in, 0, sizeof(*in));
	if (!(in->resolved = calloc(n, sizeof(*in->resolved))) ||
	    !(in->inputs = calloc(n, sizeof(*in->inputs))) ||
	    !(in->rels = calloc(n, sizeof(*in->rels))))
		return nomem();
	for (size_t i = 0; i < nspecs; i++) {
		if (resolve_local(&in->resolved[in->count], specs[i]) == 0) {
			in->count++;
			continue;
		}
		if (!opts->ignore_errors || !source_missing() || report_error(report, specs[i]) < 0)
			return -1;
	}
	for (size_t i = 0; i < in->count; i++) {
		int skip;
		if (local_input(&in->inputs[in->ninputs], &in->rels[in->ninputs], &skip,
				&in->resolved[i], opts) < 0)
			return -1;
		if (skip) {
			free(in->rels[in->ninputs]);
			in->rels[in->ninputs] = NULL;
		} else {
			in->ninputs++;
		}
	}
	return 0;
}

int gs_copy_in(gs_report *report, gs_changeset *cs, gs_txn *txn, const git_oid *root,
	       const char *const *sources, size_t nsources, const char *dest,
	       const gs_copy_opts *opts)
{
	gs_local_diff_opts dopts = {
		.filter = opts->filter, .follow_symlinks = opts->follow_symlinks,
		.compare = opts->delete, .checksum = opts->checksum, .since = opts->since,
		.mode_override = opts->mode_override};
	local_inputs in;
	gs_local_diff diff;
	gs_entry dest_entry;
	gs_strlist removes = {0};
	plan p = {0};
	size_t failed;
	int computed = 0, found, rc = -1;

	if (resolve_locals(&in, report, sources, nsources, opts) < 0)
		goto done;
	if (opts->ignore_errors && in.count == 0) {
		rc = report_has_errors(report) && !opts->dry_run ? all_failed(report) : 0;
		goto done;
	}
	if (tree_entry(&found, &dest_entry, txn, root, dest) < 0)
		goto done;
	if (gs_local_diff_compute(&diff, gs_txn_store(txn), gs_txn_repo(txn),
				  opts->delete && found && dest_entry.mode == GS_MODE_TREE
				  ? &dest_entry.id : NULL,
				  in.inputs, in.ninputs, &dopts) < 0)
		goto done;
	computed = 1;
	for (size_t i = 0; i < diff.problems.count; i++) {
		problem_error(&diff.problems.items[i]);
		if (!opts->ignore_errors || report_error(report, diff.problems.items[i].local) < 0)
			goto done;
	}
	for (size_t i = 0; i < diff.overlaps.count; i++)
		if (warn_overlap(report, diff.overlaps.items[i].local, diff.overlaps.items[i].rel) < 0)
			goto done;
	if ((opts->delete ? plan_sync(&p, &removes, report, &diff, dest, opts)
			  : plan_copy(&p, &diff, txn, found ? &dest_entry : NULL, opts)) < 0)
		goto done;
	if (opts->dry_run) {
		if (report_plan(report, &p) < 0)
			goto done;
		gs_report_sort(report, GS_REPORT_ADD);
		gs_report_sort(report, GS_REPORT_UPDATE);
		rc = 0;
		goto done;
	}
	if (p.count == 0 && removes.count == 0) {
		rc = opts->ignore_errors && report_has_errors(report) && !diff.unchanged
			? all_failed(report) : 0;
		goto done;
	}
	if (stage_plan(&failed, &p, report, cs, txn, dest, opts) < 0)
		goto done;
	for (size_t i = 0; i < removes.count; i++)
		if (gs_changeset_remove(cs, removes.items[i]) < 0)
			goto done;
	if (report_plan(report, &p) < 0)
		goto done;
	/* Nothing stored and nothing removed: the snapshot stays as it is. */
	if (failed && failed == p.count && removes.count == 0 && !diff.unchanged) {
		all_failed(report);
		goto done;
	}
	rc = 0;
done:
	free(p.items);
	gs_strlist_free(&removes);
	if (computed)
		gs_local_diff_free(&diff);
	local_inputs_clear(&in);
	return rc;
}

static int compare_file_paths(const void *a, const void *b)
{
	return strcmp(((const gs_file *)a)->path, ((const gs_file *)b)->path);
}

/* sync_in from a local directory that does not exist: what is at dest
 * goes, a file there included. */
static int sync_in_from_nothing(gs_report *report, gs_changeset *cs, gs_txn *txn,
				const git_oid *root, const char *dest, const gs_copy_opts *opts)
{
	gs_filelist files = {0};
	gs_entry entry;
	int found, rc = -1;

	if (tree_entry(&found, &entry, txn, root, dest) < 0)
		return -1;
	if (found && entry.mode != GS_MODE_TREE) {
		if (gs_report_add(report, GS_REPORT_DELETE, dest, entry.mode, dest, NULL) < 0 ||
		    (!opts->dry_run && gs_changeset_remove(cs, dest) < 0))
			return -1;
		return 0;
	}
	if (found && gs_tree_files(&files, gs_txn_store(txn), gs_txn_repo(txn), &entry.id, "") < 0)
		return -1;
	if (files.count > 1)
		qsort(files.items, files.count, sizeof(*files.items), compare_file_paths);
	for (size_t i = 0; i < files.count; i++) {
		char *full = join_parts(dest, files.items[i].path);
		int status = full ? gs_report_add(report, GS_REPORT_DELETE, files.items[i].path,
						  files.items[i].mode, full, NULL) : nomem();
		if (status == 0 && !opts->dry_run)
			status = gs_changeset_remove(cs, full);
		free(full);
		if (status < 0)
			goto done;
	}
	rc = 0;
done:
	gs_filelist_free(&files);
	return rc;
}

int gs_sync_in(gs_report *report, gs_changeset *cs, gs_txn *txn, const git_oid *root,
	       const char *local, const char *dest, const gs_copy_opts *opts)
{
	size_t len = strlen(local), stripped = len;
	gs_copy_opts sync = *opts;
	char *source, *named;
	const char *spec;
	int present, rc;

	while (stripped && local[stripped - 1] == '/')
		stripped--;
	if (!(named = strndup(local, stripped ? stripped : len)))
		return nomem();
	present = lexists(named);
	free(named);
	if (!present)
		return sync_in_from_nothing(report, cs, txn, root, dest, opts);
	if (!(source = malloc(len + 2)))
		return nomem();
	memcpy(source, local, len + 1);
	if (!len || local[len - 1] != '/')
		strcat(source, "/");
	spec = source;
	sync.delete = 1;
	rc = gs_copy_in(report, cs, txn, root, &spec, 1, dest, &sync);
	free(source);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The local side of copies out                                        */

/* os.makedirs(path, exist_ok=True): the missing parents first; a level
 * that cannot be made fails unless a directory stands there. */
static int make_dirs(const char *path)
{
	gs_strlist chain = {0};
	int rc = -1;

	/* chain[0] is path, each next one the parent that is missing. */
	if (gs_strlist_push(&chain, path) < 0)
		return -1;
	for (;;) {
		const char *cur = chain.items[chain.count - 1], *slash;
		size_t len = strlen(cur), head_len;
		char *head;

		while (len && cur[len - 1] == '/')
			len--;
		if (!(slash = len ? memrchr(cur, '/', len) : NULL))
			break;
		head_len = (size_t)(slash - cur) + 1;
		while (head_len > 1 && cur[head_len - 1] == '/')
			head_len--;
		if (!(head = strndup(cur, head_len))) {
			nomem();
			goto done;
		}
		if (exists(head)) {
			free(head);
			break;
		}
		if (gs_strlist_push(&chain, head) < 0) {
			free(head);
			goto done;
		}
		free(head);
	}
	for (size_t i = chain.count; i-- > 0;) {
		const char *cur = chain.items[i], *tail;
		size_t len = strlen(cur);
		int err;

		/* A level named "." is there once its parent is. */
		while (len && cur[len - 1] == '/')
			len--;
		for (tail = cur + len; tail > cur && tail[-1] != '/'; tail--)
			;
		if (i + 1 < chain.count && cur + len - tail == 1 && *tail == '.')
			continue;
		if (mkdir(cur, 0777) == 0)
			continue;
		err = errno;
		/* A parent that exists by now is someone else's doing. */
		if (is_dir(cur) || (i > 0 && err == EEXIST))
			continue;
		gs_error_set_path(err, cur, "");
		goto done;
	}
	rc = 0;
done:
	gs_strlist_free(&chain);
	return rc;
}

/* dest must be a directory (or a link to one) when it exists. */
static int check_dest_dir(const char *dest)
{
	if (lexists(dest) && !is_dir(dest))
		return gs_error_set_path(EEXIST, dest, "");
	return 0;
}

/* Every file, link and special file below the directory dest (none when
 * dest is not one), sorted by rel; what cannot be read is left out. */
static int local_files(gs_local_list *out, const char *dest)
{
	size_t kept = 0;

	memset(out, 0, sizeof(*out));
	if (!is_dir(dest))
		return 0;
	if (gs_local_walk(out, dest, NULL, 0, 0) < 0)
		return -1;
	for (size_t i = 0; i < out->count; i++) {
		gs_local_entry *e = &out->items[i];
		if (e->kind == GS_LOCAL_BADDIR) {
			free(e->rel);
			free(e->local);
			free(e->message);
			continue;
		}
		out->items[kept++] = *e;
	}
	out->count = kept;
	return 0;
}

static const gs_local_entry *local_find(const gs_local_list *list, const char *rel)
{
	size_t lo = 0, hi = list->count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(list->items[mid].rel, rel);
		if (c == 0)
			return &list->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One pruning level: an open directory and its name in the level above. */
typedef struct {
	DIR *dir;
	char *name;
} prune_level;

/* Remove every empty directory below dest, deepest first (never dest
 * itself); symlinks are not followed, what cannot be read or removed is
 * left alone. */
static void prune_empty_dirs(const char *dest)
{
	prune_level levels[PRUNE_MAX_DEPTH];
	size_t depth = 0;
	DIR *top = opendir(dest);

	if (!top)
		return;
	levels[depth++] = (prune_level){top, NULL};
	while (depth) {
		prune_level *level = &levels[depth - 1];
		struct dirent *de = readdir(level->dir);
		int fd;
		DIR *sub;

		if (!de) {
			closedir(level->dir);
			depth--;
			if (level->name)
				unlinkat(dirfd(levels[depth - 1].dir), level->name, AT_REMOVEDIR);
			free(level->name);
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    depth == PRUNE_MAX_DEPTH)
			continue;
		if (de->d_type != DT_DIR) {
			struct stat st;
			if (de->d_type != DT_UNKNOWN ||
			    fstatat(dirfd(level->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
		}
		fd = openat(dirfd(level->dir), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!(sub = fdopendir(fd))) {
			close(fd);
			continue;
		}
		levels[depth] = (prune_level){sub, strdup(de->d_name)};
		if (!levels[depth].name) {
			closedir(sub);
			continue;
		}
		depth++;
	}
}

/* ------------------------------------------------------------------ */
/* Repository to disk                                                  */

/* One file of the snapshot and where it lands. */
typedef struct {
	char *rel;        /* below dest */
	char *repo;       /* its repository path */
	char *local;      /* dest/rel */
	git_oid id;
	uint32_t mode;
	int update;       /* something is there locally */
	int failed;       /* reading what is there, or writing, failed */
	int said;         /* its failure is already a report error */
} stored_file;

typedef struct {
	stored_file *items;
	size_t count, cap;
} stored_list;

static void stored_list_free(stored_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].rel);
		free(list->items[i].repo);
		free(list->items[i].local);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* Takes rel and repo over. */
static int stored_push(stored_list *list, char *rel, char *repo, const char *dest,
		       const git_oid *id, uint32_t mode)
{
	stored_file *f;
	char *local = rel && repo ? join_local(dest, rel) : NULL;

	if (!local) {
		free(rel);
		free(repo);
		free(local);
		return nomem();
	}
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 64;
		stored_file *grown = realloc(list->items, cap * sizeof(*grown));
		if (!grown) {
			free(rel);
			free(repo);
			free(local);
			return nomem();
		}
		list->items = grown;
		list->cap = cap;
	}
	f = &list->items[list->count++];
	memset(f, 0, sizeof(*f));
	f->rel = rel;
	f->repo = repo;
	f->local = local;
	git_oid_cpy(&f->id, id);
	f->mode = mode;
	return 0;
}

/* The files each source provides, in source and walk order. */
static int stored_files(stored_list *out, gs_store *store, git_repository *repo,
			const gs_source *sources, size_t nsources, const char *dest)
{
	for (size_t s = 0; s < nsources; s++) {
		const gs_source *src = &sources[s];
		gs_filelist below = {0};
		char *name = base_name(src->path), *base = NULL;
		int rc = -1;

		if (!name) {
			nomem();
			goto next;
		}
		if (src->mode == GS_SRC_FILE) {
			rc = stored_push(out, join_parts(src->prefix, name), strdup(src->path), dest,
					 &src->entry.id, src->entry.mode);
			goto next;
		}
		base = src->mode == GS_SRC_DIR ? join_parts(src->prefix, name) : strdup(src->prefix);
		if (!base) {
			nomem();
			goto next;
		}
		if (gs_tree_files(&below, store, repo, &src->entry.id, "") < 0)
			goto next;
		for (size_t i = 0; i < below.count; i++) {
			const gs_file *f = &below.items[i];
			if (stored_push(out, join_parts(base, f->path), join_parts(src->path, f->path),
					dest, &f->id, f->mode) < 0)
				goto next;
		}
		rc = 0;
next:
		gs_filelist_free(&below);
		free(base);
		free(name);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The first source wins a path: the files of later ones landing there
 * are dropped, each with a warning. */
static int drop_overlaps(stored_list *list, gs_report *report)
{
	gs_path_seq *order = malloc((list->count ? list->count : 1) * sizeof(*order));
	char *repeat = calloc(list->count + 1, 1);
	size_t kept = 0;
	int rc = -1;

	if (!order || !repeat) {
		nomem();
		goto done;
	}
	for (size_t i = 0; i < list->count; i++)
		order[i] = (gs_path_seq){list->items[i].rel, i};
	gs_path_seq_sort(order, list->count);
	for (size_t i = 1; i < list->count; i++)
		if (strcmp(order[i].path, order[i - 1].path) == 0)
			repeat[order[i].seq] = 1;
	for (size_t i = 0; i < list->count; i++)
		if (repeat[i] && warn_overlap(report, list->items[i].repo, list->items[i].rel) < 0)
			goto done;
	for (size_t i = 0; i < list->count; i++) {
		stored_file *f = &list->items[i];
		if (!repeat[i]) {
			list->items[kept++] = *f;
			continue;
		}
		free(f->rel);
		free(f->repo);
		free(f->local);
	}
	list->count = kept;
	rc = 0;
done:
	free(order);
	free(repeat);
	return rc;
}

static int compare_stored(const void *a, const void *b)
{
	return strcmp((*(stored_file *const *)a)->rel, (*(stored_file *const *)b)->rel);
}

/* The adds and updates of a copy out, leaving out the files that failed. */
static int report_stored(gs_report *report, stored_file **files, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const stored_file *f = files[i];
		if (f->failed)
			continue;
		if (gs_report_add(report, f->update ? GS_REPORT_UPDATE : GS_REPORT_ADD, f->rel,
				  f->mode, f->repo, NULL) < 0)
			return -1;
	}
	return 0;
}

/* Hash what stands locally at each file that is there: *same 1 when it
 * has the stored id and mode. */
static int local_same(int *same, const stored_file *f, const gs_local_entry *local)
{
	int as_link = local->kind == GS_LOCAL_LINK;
	uint32_t mode;
	git_oid id;

	*same = 0;
	if (gs_local_blob(&id, &mode, NULL, f->local, as_link, 0, NULL) < 0)
		return -1;
	*same = mode == f->mode && git_oid_equal(&id, &f->id);
	return 0;
}

/* Decide, for delete mode, which files go out (adds, then changed files,
 * each in path order) and which local files go; *unchanged counts the
 * files already equal. */
static int plan_out_sync(stored_file ***out, size_t *nout, gs_strlist *deletes,
			 size_t *unchanged, stored_list *files, gs_report *report,
			 const char *dest, const gs_copy_opts *opts)
{
	gs_local_list local;
	stored_file **adds = NULL, **changed = NULL;
	size_t nadds = 0, nchanged = 0, nboth = 0;
	char *wanted = NULL;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	*unchanged = 0;
	if (local_files(&local, dest) < 0)
		return -1;
	adds = malloc((files->count ? files->count : 1) * sizeof(*adds));
	changed = malloc((files->count ? files->count : 1) * sizeof(*changed));
	wanted = calloc(local.count + 1, 1);
	if (!adds || !changed || !wanted) {
		nomem();
		goto done;
	}
	for (size_t i = 0; i < files->count; i++) {
		stored_file *f = &files->items[i];
		const gs_local_entry *there = local_find(&local, f->rel);
		int same = 0;

		if (!there) {
			adds[nadds++] = f;
			continue;
		}
		wanted[there - local.items] = 1;
		nboth++;
		f->update = 1;
		if (!opts->checksum && there->kind != GS_LOCAL_LINK && there->mtime <= opts->since)
			continue;
		if (local_same(&same, f, there) < 0) {
			/* Whatever stands there unreadable is written anew. */
			if (!opts->ignore_errors || report_error(report, f->local) < 0)
				goto done;
			f->said = 1;
		}
		if (!same)
			changed[nchanged++] = f;
	}
	*unchanged = nboth - nchanged;
	if (opts->ignore_existing)
		nchanged = 0;
	if (nadds > 1)
		qsort(adds, nadds, sizeof(*adds), compare_stored);
	if (nchanged > 1)
		qsort(changed, nchanged, sizeof(*changed), compare_stored);
	memcpy(adds + nadds, changed, nchanged * sizeof(*changed));
	for (size_t i = 0; i < local.count; i++) {
		if (wanted[i])
			continue;
		if (gs_strlist_push(deletes, local.items[i].rel) < 0 ||
		    gs_report_add(report, GS_REPORT_DELETE, local.items[i].rel, GS_MODE_BLOB, NULL,
				  NULL) < 0)
			goto done;
	}
	*out = adds;
	*nout = nadds + nchanged;
	adds = NULL;
	rc = 0;
done:
	free(adds);
	free(changed);
	free(wanted);
	gs_local_list_free(&local);
	return rc;
}

/* Write the planned files out (after removing the local files to
 * delete); failures are report errors with ignore_errors. */
static int write_out(size_t *failed, gs_report *report, gs_store *store, git_repository *repo,
		     stored_file **files, size_t count, const gs_strlist *deletes,
		     const char *dest, const gs_copy_opts *opts)
{
	gs_export ex;
	int rc = -1;

	*failed = 0;
	for (size_t i = 0; i < deletes->count; i++) {
		char *path = join_local(dest, deletes->items[i]);
		if (!path)
			return nomem();
		if (unlink(path) < 0) {
			gs_error_set_path(errno, path, "");
			if (!opts->ignore_errors || report_error(report, path) < 0) {
				free(path);
				return -1;
			}
			(*failed)++;
		}
		free(path);
	}
	gs_export_init(&ex, store, repo, dest, opts->since);
	for (size_t i = 0; i < count; i++) {
		stored_file *f = files[i];
		if (gs_export_file(&ex, f->rel, &f->id, f->mode) == 0)
			continue;
		if (!opts->ignore_errors)
			goto done;
		/* said once is enough */
		if (f->said)
			gs_error_clear();
		else if (report_error(report, f->local) < 0)
			goto done;
		f->failed = 1;
		(*failed)++;
	}
	rc = 0;
done:
	gs_export_clear(&ex);
	return rc;
}

/* Without delete: every file goes out, as an update where something is
 * there locally (left alone with ignore_existing). */
static int plan_out_copy(stored_file ***out, size_t *nout, stored_list *files,
			 const gs_copy_opts *opts)
{
	stored_file **order = malloc((files->count ? files->count : 1) * sizeof(*order));
	size_t count = 0;

	if (!order)
		return nomem();
	for (size_t i = 0; i < files->count; i++) {
		stored_file *f = &files->items[i];
		f->update = lexists(f->local);
		if (!(f->update && opts->ignore_existing))
			order[count++] = f;
	}
	*out = order;
	*nout = count;
	return 0;
}

/* dest exists as a directory (or a link to one) once this succeeds. */
static int prepare_dest(const char *dest)
{
	return check_dest_dir(dest) < 0 ? -1 : make_dirs(dest);
}

/* dest could not be made: with ignore_errors, each file fails with that
 * error.  Always -1. */
static int dest_failed(gs_report *report, stored_file **files, size_t count,
		       const gs_copy_opts *opts)
{
	gs_buf text = {0};

	if (!opts->ignore_errors || error_text(&text) < 0)
		goto done;
	gs_error_clear();
	for (size_t i = 0; i < count; i++)
		if (gs_report_add(report, GS_REPORT_ERROR, files[i]->local, 0, NULL,
				  text.data ? text.data : "") < 0)
			goto done;
	all_failed(report);
done:
	gs_buf_free(&text);
	return -1;
}

static int copy_out_resolved(gs_report *report, gs_store *store, git_repository *repo,
			     const gs_source *sources, size_t nsources, const char *dest,
			     const gs_copy_opts *opts)
{
	stored_list files = {0};
	stored_file **order = NULL;
	gs_strlist deletes = {0};
	size_t count = 0, unchanged = 0, failed;
	int rc = -1;

	if (stored_files(&files, store, repo, sources, nsources, dest) < 0 ||
	    drop_overlaps(&files, report) < 0)
		goto done;
	if (opts->delete) {
		if ((!opts->dry_run && prepare_dest(dest) < 0) ||
		    plan_out_sync(&order, &count, &deletes, &unchanged, &files, report, dest,
				  opts) < 0)
			goto done;
	} else {
		if (plan_out_copy(&order, &count, &files, opts) < 0)
			goto done;
		if (count == 0) {
			rc = opts->ignore_errors && report_has_errors(report) && !opts->dry_run
				? all_failed(report) : 0;
			goto done;
		}
		if (!opts->dry_run && prepare_dest(dest) < 0) {
			dest_failed(report, order, count, opts);
			goto done;
		}
	}
	if (!opts->dry_run && count + deletes.count > 0) {
		if (write_out(&failed, report, store, repo, order, count, &deletes, dest, opts) < 0)
			goto done;
		if (opts->delete)
			prune_empty_dirs(dest);
		if (opts->ignore_errors && failed >= count + deletes.count && !unchanged) {
			all_failed(report);
			goto done;
		}
	}
	if (report_stored(report, order, count) < 0)
		goto done;
	if (opts->dry_run) {
		gs_report_sort(report, GS_REPORT_ADD);
		gs_report_sort(report, GS_REPORT_UPDATE);
	}
	rc = 0;
done:
	free(order);
	gs_strlist_free(&deletes);
	stored_list_free(&files);
	return rc;
}

int gs_copy_out(gs_report *report, gs_store *store, const git_oid *root,
		const char *const *sources, size_t nsources, const char *dest,
		const gs_copy_opts *opts)
{
	git_repository *repo = NULL;
	gs_source *resolved = calloc(nsources ? nsources : 1, sizeof(*resolved));
	size_t count = 0;
	int rc = -1;

	if (!resolved)
		return nomem();
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	for (size_t i = 0; i < nsources; i++) {
		if (gs_source_resolve(&resolved[count], repo, root, sources[i]) == 0) {
			count++;
			continue;
		}
		if (!opts->ignore_errors || !source_missing() || report_error(report, sources[i]) < 0)
			goto done;
	}
	if (opts->ignore_errors && count == 0) {
		rc = report_has_errors(report) && !opts->dry_run ? all_failed(report) : 0;
		goto done;
	}
	rc = copy_out_resolved(report, store, repo, resolved, count, dest, opts);
done:
	for (size_t i = 0; i < count; i++)
		gs_source_clear(&resolved[i]);
	free(resolved);
	if (repo)
		gs_repo_release(store, repo);
	return rc;
}

/* sync_out from a repository path that is missing or a file: every local
 * file below dest goes. */
static int sync_out_to_nothing(gs_report *report, const char *dest, const gs_copy_opts *opts)
{
	gs_local_list local;
	int rc = -1;

	if (!opts->dry_run && check_dest_dir(dest) < 0)
		return -1;
	if (local_files(&local, dest) < 0)
		return -1;
	for (size_t i = 0; i < local.count; i++)
		if (gs_report_add(report, GS_REPORT_DELETE, local.items[i].rel, GS_MODE_BLOB, NULL,
				  NULL) < 0)
			goto done;
	if (!opts->dry_run) {
		if (make_dirs(dest) < 0)
			goto done;
		for (size_t i = 0; i < local.count; i++) {
			char *path = join_local(dest, local.items[i].rel);
			int status = !path ? nomem()
				     : unlink(path) < 0 ? gs_error_set_path(errno, path, "") : 0;
			free(path);
			if (status < 0)
				goto done;
		}
		prune_empty_dirs(dest);
	}
	rc = 0;
done:
	gs_local_list_free(&local);
	return rc;
}

int gs_sync_out(gs_report *report, gs_store *store, const git_oid *root, const char *path,
		const char *dest, const gs_copy_opts *opts)
{
	size_t len = strlen(path);
	gs_copy_opts sync = *opts;
	git_repository *repo = NULL;
	gs_source src;
	char *source;
	int rc = -1;

	/* "path/": the directory's contents; "" (the root) for only slashes. */
	while (len && path[len - 1] == '/')
		len--;
	if (gs_path_is_root(path, len))
		len = 0;
	if (!(source = malloc(len + 2)))
		return nomem();
	memcpy(source, path, len);
	strcpy(source + len, len ? "/" : "");
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	if (gs_source_resolve(&src, repo, root, source) < 0) {
		if (!source_missing())
			goto done;
		gs_error_clear();
		rc = sync_out_to_nothing(report, dest, opts);
		goto done;
	}
	sync.delete = 1;
	rc = copy_out_resolved(report, store, repo, &src, 1, dest, &sync);
	gs_source_clear(&src);
done:
	if (repo)
		gs_repo_release(store, repo);
	free(source);
	return rc;
}
