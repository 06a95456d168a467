/* bundle.c - git bundle files, read and written here because libgit2
 * has no support for them.  A bundle is a text header, then a pack that
 * runs to the end of the file:
 *
 *   # v2 git bundle         ("# v3 git bundle", then "@key=value" lines)
 *   -<oid> <subject>        a prerequisite, zero or more
 *   <oid> <refname>         a ref, zero or more
 *   <empty line>
 *   PACK...
 *
 * Prerequisites are commits the reader must have already: the pack
 * leaves out what they reach and may hold deltas against it (a thin
 * pack). */
#include "gs_internal.h"
#include "bundle.h"
#include "objcopy.h"
#include "staged.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads and writes go through a buffer of this size. */
#define CHUNK (128 * 1024)
/* Longest header line taken; a ref name is far shorter.  Only a
 * prerequisite's line may be longer (see read_line). */
#define LINE_LIMIT (64 * 1024)

#define SIGNATURE_V2 "# v2 git bundle"
#define SIGNATURE_V3 "# v3 git bundle"

/* ------------------------------------------------------------------ */
/* Progress                                                            */

typedef struct {
	gs_mirror_progress_fn fn;   /* may be NULL */
	void *ctx;
	pthread_t caller;           /* the only thread fn is called from */
	int stopped;                /* fn said stop: it is not called again */
} progress_out;

/* One counted stage ("Writing objects"): a line each time the percent
 * changes, then one "done" line. */
typedef struct {
	const char *title;
	int shown;   /* percent last shown; -1 for none */
	int done;
} stage;

static int say(progress_out *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int say(progress_out *p, const char *fmt, ...)
{
	char text[128];
	va_list ap;
	int len;

	if (p->stopped)
		return -1;
	if (!p->fn)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (len < 0)
		return 0;
	if ((size_t)len >= sizeof(text))
		len = (int)sizeof(text) - 1;
	if (p->fn(p->ctx, text, (size_t)len) < 0) {
		p->stopped = 1;
		return -1;
	}
	return 0;
}

static int stage_show(progress_out *p, stage *s, uint64_t current, uint64_t total)
{
	int percent;

	if (s->done || total == 0)
		return 0;
	if (current >= total) {
		s->done = 1;
		return say(p, "%s: 100%% (%llu/%llu), done.\n", s->title,
			   (unsigned long long)total, (unsigned long long)total);
	}
	percent = (int)(current * 100 / total);
	if (percent == s->shown)
		return 0;
	s->shown = percent;
	return say(p, "%s: %3d%% (%llu/%llu)\r", s->title, percent,
		   (unsigned long long)current, (unsigned long long)total);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

typedef struct {
	int fd;
	const char *path;
	char *buf;         /* CHUNK bytes */
	size_t pos, len;   /* buf[pos..len) is read but not yet taken */
	char *line;        /* LINE_LIMIT + 1 bytes */
} reader;

static int reader_open(reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return gs_error_set(GS_ERR_NOTFOUND, "Bundle not found: %s", path);
		return gs_error_set_path(errno, path, "cannot open");
	}
	r->buf = malloc(CHUNK);
	r->line = malloc(LINE_LIMIT + 1);
	if (!r->buf || !r->line)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	return 0;
}

static void reader_close(reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r->line);
}

/* Read more after what is not taken yet; *got = 0 at the end of the file. */
static int reader_fill(size_t *got, reader *r)
{
	ssize_t n;

	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	do
		n = read(r->fd, r->buf + r->len, CHUNK - r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return gs_error_set_path(errno, r->path, "cannot read");
	r->len += (size_t)n;
	*got = (size_t)n;
	return 0;
}

enum { LINE_READ, LINE_EOF, LINE_TOO_LONG };

/*
 * The next header line, without its '\n', into r->line (NUL-terminated,
 * *len bytes).  *status is LINE_EOF when the file ends before a '\n',
 * LINE_TOO_LONG past LINE_LIMIT bytes -- except on a prerequisite's line:
 * git writes the commit's subject there, of any length and read by
 * nobody, so what passes the limit is skipped instead.
 */
static int read_line(int *status, size_t *len, reader *r)
{
	*len = 0;
	for (;;) {
		const char *start, *nl;
		size_t avail, take, keep;

		if (r->pos == r->len) {
			size_t got;
			if (reader_fill(&got, r) < 0)
				return -1;
			if (!got) {
				*status = LINE_EOF;
				return 0;
			}
		}
		start = r->buf + r->pos;
		avail = r->len - r->pos;
		nl = memchr(start, '\n', avail);
		take = nl ? (size_t)(nl - start) : avail;
		r->pos += take + (nl != NULL);
		keep = take;
		if (*len + keep > LINE_LIMIT) {
			char first = *len ? r->line[0] : start[0];
			if (first != '-') {
				*status = LINE_TOO_LONG;
				return 0;
			}
			keep = LINE_LIMIT - *len;
		}
		memcpy(r->line + *len, start, keep);
		*len += keep;
		r->line[*len] = '\0';
		if (nl) {
			*status = LINE_READ;
			return 0;
		}
	}
}

/* 1 when s starts with a full SHA-1 in hex, parsed into *out. */
static int parse_oid(git_oid *out, const char *s, size_t len)
{
	if (len < GIT_OID_HEXSZ)
		return 0;
	for (size_t i = 0; i < GIT_OID_HEXSZ; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return git_oid_fromstrn(out, s, GIT_OID_HEXSZ) == 0;
}

/* Whether repo has the object, looking again in a fresh object database
 * on a miss (a pack written in the same second can go unseen). */
static int has_object(int *out, git_repository *repo, const git_oid *id)
{
	*out = 0;
	for (int attempt = 0; attempt < 2 && !*out; attempt++) {
		git_odb *odb;
		int err;

		if (attempt && gs_repo_reload(repo) < 0)
			break;
		if ((err = git_repository_odb(&odb, repo)) < 0)
			return gs_error_set_git(err, git_repository_path(repo));
		*out = git_odb_exists(odb, id);
		git_odb_free(odb);
	}
	return 0;
}

typedef struct {
	gs_bundle_ref *items;
	size_t count;
	size_t cap;
} ref_list;

static int ref_list_push(ref_list *list, const char *name, const git_oid *id)
{
	char *copy;

	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		gs_bundle_ref *items = realloc(list->items, cap * sizeof(*items));
		if (!items)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		list->items = items;
		list->cap = cap;
	}
	if (!(copy = strdup(name)))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	list->items[list->count].name = copy;
	git_oid_cpy(&list->items[list->count].id, id);
	list->count++;
	return 0;
}

/*
 * Read the header up to the pack, which r is then at.  The refs go into
 * `refs` when it is not NULL; each prerequisite is looked for in `repo`
 * when it is not NULL.
 */
static int read_header(reader *r, ref_list *refs, git_repository *repo)
{
	const char *path = r->path;
	size_t len, number = 1, got;
	int status, capabilities;

	if (read_line(&status, &len, r) < 0)
		return -1;
	if (status != LINE_READ ||
	    (strcmp(r->line, SIGNATURE_V2) != 0 && strcmp(r->line, SIGNATURE_V3) != 0))
		return gs_error_set(GS_ERR_GIT, "%s: not a git bundle", path);
	/* a v3 bundle's capabilities come first */
	capabilities = strcmp(r->line, SIGNATURE_V3) == 0;
	for (;;) {
		const char *line = r->line;
		git_oid id;

		if (read_line(&status, &len, r) < 0)
			return -1;
		number++;
		if (status == LINE_EOF)
			return gs_error_set(GS_ERR_GIT, "%s: the bundle ends inside its header", path);
		if (status == LINE_TOO_LONG || memchr(line, '\0', len))
			return gs_error_set(GS_ERR_GIT, "%s: malformed bundle header (line %zu)",
					    path, number);
		if (len == 0)
			break;
		capabilities = capabilities && line[0] == '@';
		if (capabilities) {
			/* Any other capability changes how the bundle reads
			 * (SHA-256 ids, a filtered pack). */
			if (strcmp(line, "@object-format=sha1") != 0)
				return gs_error_set(GS_ERR_GIT,
						    "%s: unsupported bundle capability %s",
						    path, line);
		} else if (line[0] == '-' && parse_oid(&id, line + 1, len - 1) &&
			   (len == GIT_OID_HEXSZ + 1 || line[GIT_OID_HEXSZ + 1] == ' ')) {
			int present;
			char hex[GIT_OID_HEXSZ + 1];

			if (!repo)
				continue;
			if (has_object(&present, repo, &id) < 0)
				return -1;
			if (!present)
				return gs_error_set(GS_ERR_GIT,
						    "%s: the bundle needs %s, which the repository lacks",
						    path, git_oid_tostr(hex, sizeof(hex), &id));
		} else if (parse_oid(&id, line, len) && len > GIT_OID_HEXSZ + 1 &&
			   line[GIT_OID_HEXSZ] == ' ') {
			const char *name = line + GIT_OID_HEXSZ + 1;
			int valid = 0;

			if (git_reference_name_is_valid(&valid, name) < 0)
				return gs_error_set_git(-1, path);
			if (!valid)
				return gs_error_set(GS_ERR_GIT, "%s: invalid ref name in bundle: %s",
						    path, name);
			if (refs && ref_list_push(refs, name, &id) < 0)
				return -1;
		} else {
			return gs_error_set(GS_ERR_GIT, "%s: malformed bundle header (line %zu)",
					    path, number);
		}
	}
	while (r->len - r->pos < 4) {
		if (reader_fill(&got, r) < 0)
			return -1;
		if (!got)
			return gs_error_set(GS_ERR_GIT, "%s: the bundle holds no pack", path);
	}
	if (memcmp(r->buf + r->pos, "PACK", 4) != 0)
		return gs_error_set(GS_ERR_GIT, "%s: the bundle holds no pack", path);
	return 0;
}

void gs_bundle_refs_free(gs_bundle_ref *refs, size_t count)
{
	if (!refs)
		return;
	for (size_t i = 0; i < count; i++)
		free(refs[i].name);
	free(refs);
}

int gs_bundle_list(gs_bundle_ref **out, size_t *count, const char *path)
{
	ref_list refs = {NULL, 0, 0};
	reader r;
	int rc = -1;

	*out = NULL;
	*count = 0;
	if (reader_open(&r, path) < 0 || read_header(&r, &refs, NULL) < 0)
		goto done;
	*out = refs.items;
	*count = refs.count;
	refs.items = NULL;
	rc = 0;
done:
	gs_bundle_refs_free(refs.items, refs.count);
	reader_close(&r);
	return rc;
}

typedef struct {
	progress_out out;
	stage receiving, resolving;
} unpacking;

static int unpack_progress(const git_indexer_progress *stats, void *payload)
{
	unpacking *u = payload;

	if (stage_show(&u->out, &u->receiving, stats->received_objects, stats->total_objects) < 0 ||
	    stage_show(&u->out, &u->resolving, stats->indexed_deltas, stats->total_deltas) < 0)
		return -1;
	return 0;
}

int gs_bundle_unpack(git_repository *repo, const char *path, gs_mirror_progress_fn progress,
		     void *ctx)
{
	unpacking u = {{progress, ctx, pthread_self(), 0},
		       {"Receiving objects", -1, 0}, {"Resolving deltas", -1, 0}};
	git_indexer_progress stats = {0};
	git_odb *odb = NULL;
	git_odb_writepack *pack = NULL;
	reader r;
	int rc = -1, err = 0;

	if (reader_open(&r, path) < 0 || read_header(&r, NULL, repo) < 0)
		goto done;
	if ((err = git_repository_odb(&odb, repo)) < 0 ||
	    (err = git_odb_write_pack(&pack, odb, unpack_progress, &u)) < 0)
		goto done;
	for (;;) {
		size_t got;

		if (r.pos < r.len &&
		    (err = pack->append(pack, r.buf + r.pos, r.len - r.pos, &stats)) < 0)
			goto done;
		r.pos = r.len;
		if (reader_fill(&got, &r) < 0)
			goto done;
		if (!got)
			break;
	}
	if ((err = pack->commit(pack, &stats)) < 0)
		goto done;
	/* Done lines, should the indexer not have reported the last count. */
	if (unpack_progress(&stats, &u) < 0)
		goto done;
	rc = 0;
done:
	if (err < 0 && !u.out.stopped)
		gs_error_set_git(err, path);
	if (pack)
		pack->free(pack);
	git_odb_free(odb);
	reader_close(&r);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

typedef struct {
	const char *path;
	int fd;
	char *buf;      /* CHUNK bytes */
	size_t len;
} bundle_writer;

static int write_all(bundle_writer *w, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(w->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gs_error_set_path(n < 0 ? errno : ENOSPC, w->path, "cannot write");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int flush_out(bundle_writer *w)
{
	size_t len = w->len;

	w->len = 0;
	return write_all(w, w->buf, len);
}

static int put(bundle_writer *w, const void *data, size_t len)
{
	if (w->len + len > CHUNK && flush_out(w) < 0)
		return -1;
	if (len >= CHUNK)
		return write_all(w, data, len);
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

static int pack_sink(void *ctx, const void *data, size_t len)
{
	return put(ctx, data, len);
}

/* Make the rename itself durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, err = 0;

	if (!dir)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Some file systems cannot sync a directory (EINVAL): nothing to do. */
	if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL))
		err = errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return err ? gs_error_set_path(err, path, "cannot write") : 0;
}

/*
 * The pack is gitstore's own (objcopy.c): the objects as they are, no
 * delta search, which made libgit2's packbuilder take several times what
 * `git bundle create` takes.
 */
int gs_bundle_write(git_repository *repo, const char *path, const gs_bundle_ref *refs,
		    size_t count, gs_mirror_progress_fn progress, void *ctx)
{
	bundle_writer w = {path, -1, NULL, 0};
	gs_staged staged = {NULL, -1, 0};
	git_oid *tips = NULL;
	size_t written;
	int rc = -1, err;

	if (!(tips = malloc((count ? count : 1) * sizeof(*tips))) || !(w.buf = malloc(CHUNK))) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < count; i++) {
		int valid = 0;
		if ((err = git_reference_name_is_valid(&valid, refs[i].name)) < 0) {
			gs_error_set_git(err, path);
			goto done;
		}
		if (!valid && strcmp(refs[i].name, "HEAD") != 0) {
			gs_error_set(GS_ERR_INVALID, "Invalid ref name: %s", refs[i].name);
			goto done;
		}
		git_oid_cpy(&tips[i], &refs[i].id);
	}
	/* A new file beside path, renamed over it once whole and synced
	 * (mode 0666 less the umask: the mode any new file gets). */
	if (gs_staged_file(&staged, path) < 0)
		goto done;
	w.fd = staged.fd;
	if (put(&w, SIGNATURE_V2 "\n", sizeof(SIGNATURE_V2 "\n") - 1) < 0)
		goto done;
	for (size_t i = 0; i < count; i++) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), &refs[i].id);
		if (put(&w, hex, GIT_OID_HEXSZ) < 0 || put(&w, " ", 1) < 0 ||
		    put(&w, refs[i].name, strlen(refs[i].name)) < 0 || put(&w, "\n", 1) < 0)
			goto done;
	}
	if (put(&w, "\n", 1) < 0 ||
	    gs_objects_send(&written, repo, tips, count, NULL, 0, pack_sink, &w, progress,
			    ctx) < 0 ||
	    flush_out(&w) < 0)
		goto done;
	/* The file stays open until renamed: that keeps it ours. */
	if (fsync(w.fd) < 0) {
		gs_error_set_path(errno, path, "cannot write");
		goto done;
	}
	if (gs_staged_commit(&staged, path) < 0)
		goto done;
	rc = sync_dir(path);
done:
	gs_staged_discard(&staged);
	free(w.buf);
	free(tips);
	return rc;
}
