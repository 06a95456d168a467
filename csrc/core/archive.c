/*
 * archive.c - snapshots as zip and tar archives, and archives imported
 * into changesets, on libarchive.
 *
 * Both directions stream.  Out, each blob goes from the object database
 * to libarchive in chunks (a loose blob is inflated a chunk at a time),
 * and what libarchive produces reaches the caller's write callback in
 * chunks.  In, an entry's data goes from libarchive into a blob stream,
 * which turns big content into a loose object as it arrives.
 *
 * Exports are deterministic: entries in path order (the order of git's
 * trees, which is also `git archive`'s), each directory before its
 * contents, every time the commit's, owner root, and no compressor
 * timestamps, so a snapshot always gives the same bytes.
 */
#include "gs_internal.h"
#include "gitname.h"
#include "loose.h"
#include "source.h"
#include "tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bytes given to a write callback at once, and read from a blob at once. */
#define ARCHIVE_CHUNK (256 * 1024)
/* Bytes read from a file source at once. */
#define READ_BLOCK (128 * 1024)
/* How often progress is reported during long work, in nanoseconds. */
#define PROGRESS_INTERVAL 500000000LL

static const struct {
	const char *name;
	gs_archive_format format;
} format_names[] = {
	{"zip", GS_ARCHIVE_ZIP},
	{"tar", GS_ARCHIVE_TAR},
	{"tar.gz", GS_ARCHIVE_TAR_GZ}, {"tgz", GS_ARCHIVE_TAR_GZ},
	{"tar.bz2", GS_ARCHIVE_TAR_BZ2}, {"tbz2", GS_ARCHIVE_TAR_BZ2},
	{"tar.xz", GS_ARCHIVE_TAR_XZ}, {"txz", GS_ARCHIVE_TAR_XZ},
	{"tar.zst", GS_ARCHIVE_TAR_ZST}, {"tzst", GS_ARCHIVE_TAR_ZST},
};
#define FORMAT_COUNT (sizeof(format_names) / sizeof(format_names[0]))

static const char *format_name(gs_archive_format format)
{
	for (size_t i = 0; i < FORMAT_COUNT; i++)
		if (format_names[i].format == format)
			return format_names[i].name;
	return "archive";
}

int gs_archive_format_parse(gs_archive_format *out, const char *name)
{
	char quoted[300];

	for (size_t i = 0; i < FORMAT_COUNT; i++) {
		if (strcasecmp(name, format_names[i].name) == 0) {
			*out = format_names[i].format;
			return 0;
		}
	}
	return gs_error_set(GS_ERR_INVALID,
			    "Unknown archive format %s; accepted: " GS_ARCHIVE_ACCEPTED,
			    gs_repr(quoted, sizeof(quoted), name));
}

int gs_archive_format_of_file(gs_archive_format *out, const char *filename)
{
	size_t len = strlen(filename);
	char quoted[600];

	for (size_t i = 0; i < FORMAT_COUNT; i++) {
		size_t n = strlen(format_names[i].name);
		if (len > n && filename[len - n - 1] == '.' &&
		    strcasecmp(filename + len - n, format_names[i].name) == 0) {
			*out = format_names[i].format;
			return 0;
		}
	}
	return gs_error_set(GS_ERR_INVALID,
			    "Cannot tell the archive format from the name %s; accepted: "
			    GS_ARCHIVE_ACCEPTED, gs_repr(quoted, sizeof(quoted), filename));
}

/* A callback failed: keep its reason, or give one. */
static int callback_failed(void)
{
	if (gs_error_last()->category == GS_ERR_NONE)
		gs_error_set(GS_ERR_INVALID, "stopped by a callback");
	return -1;
}

static long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct {
	gs_archive_progress_fn fn;
	void *ctx;
	long long last;
} progress;

/* Report unless it was done recently (always when `force`). */
static int progress_tick(progress *p, size_t done, size_t total, int force)
{
	long long now;

	if (!p->fn)
		return 0;
	now = monotonic_ns();
	if (!force && now - p->last < PROGRESS_INTERVAL)
		return 0;
	p->last = now;
	return p->fn(p->ctx, done, total) < 0 ? callback_failed() : 0;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

/* What libarchive writes, gathered into chunks for the callback. */
typedef struct {
	gs_archive_write_fn write;
	void *ctx;
	gs_buf pending;
	int failed;      /* the error record says why */
	int discard;     /* the export failed: nothing more reaches the caller */
} sink;

static int sink_flush(sink *s)
{
	if (s->pending.size && s->write(s->ctx, s->pending.data, s->pending.size) < 0) {
		s->failed = 1;
		return callback_failed();
	}
	s->pending.size = 0;
	return 0;
}

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
	sink *s = data;

	if (s->discard)
		return (la_ssize_t)len;
	if (s->pending.size + len > ARCHIVE_CHUNK && sink_flush(s) < 0)
		return -1;
	if (len >= ARCHIVE_CHUNK) {
		if (s->write(s->ctx, buf, len) < 0) {
			s->failed = 1;
			callback_failed();
			return -1;
		}
	} else if (gs_buf_put(&s->pending, buf, len) < 0) {
		s->failed = 1;
		return -1;
	}
	return (la_ssize_t)len;
}

/* libarchive failed: the callback's reason when it was the callback. */
static int write_failed(struct archive *a, const sink *s)
{
	const char *why = archive_error_string(a);

	if (s->failed)
		return -1;
	if (archive_errno(a) == ENOMEM)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	return gs_error_set(GS_ERR_INVALID, "writing the archive failed: %s",
			    why ? why : "no reason given");
}

static int writer_open(struct archive **out, gs_archive_format format, sink *s)
{
	struct archive *a = archive_write_new();
	int r;

	if (!a)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	/* pax-restricted: plain ustar, with a pax header only for what ustar
	 * cannot hold (long or non-ASCII names, big files). */
	r = format == GS_ARCHIVE_ZIP ? archive_write_set_format_zip(a)
				     : archive_write_set_format_pax_restricted(a);
	switch (format) {
	case GS_ARCHIVE_TAR_GZ:
		if (r >= ARCHIVE_WARN && (r = archive_write_add_filter_gzip(a)) >= ARCHIVE_WARN)
			/* No time in the gzip header. */
			r = archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
		break;
	case GS_ARCHIVE_TAR_BZ2:
		if (r >= ARCHIVE_WARN)
			r = archive_write_add_filter_bzip2(a);
		break;
	case GS_ARCHIVE_TAR_XZ:
		if (r >= ARCHIVE_WARN)
			r = archive_write_add_filter_xz(a);
		break;
	case GS_ARCHIVE_TAR_ZST:
		if (r >= ARCHIVE_WARN)
			r = archive_write_add_filter_zstd(a);
		break;
	default:
		break;
	}
	if (r < ARCHIVE_WARN) {
		gs_error_set(GS_ERR_INVALID, "cannot write %s archives: %s", format_name(format),
			     archive_error_string(a) ? archive_error_string(a) : "not supported");
		archive_write_free(a);
		return -1;
	}
	/* A plain tar is padded to whole 10 KiB records, as tar and git
	 * archive write it; other formats end where their data ends. */
	if (format != GS_ARCHIVE_TAR)
		archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open2(a, s, NULL, sink_write, NULL, NULL) < ARCHIVE_WARN) {
		write_failed(a, s);
		archive_write_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/*
 * Blobs read ahead while the archive is written: AHEAD_READERS threads,
 * each with a handle of its own, open the files' blobs (reader k takes
 * every AHEAD_READERS-th file from the k-th; a packed blob is then in
 * memory, a loose one ready to be inflated in chunks), and the writer
 * takes them in order.  Reading a packed blob (inflating it, checking
 * its id) costs about what writing it costs, hence the readers.  At most
 * AHEAD_COUNT entries, and past AHEAD_BYTES of content only the next
 * one, wait: memory stays bounded.
 */
#define AHEAD_READERS 2
#define AHEAD_COUNT 256
#define AHEAD_BYTES (8 * 1024 * 1024)

typedef struct {
	gs_blob blob;
	int ready;
} ahead_slot;

typedef struct ahead ahead;

typedef struct {
	ahead *owner;
	size_t first;
	git_repository *repo;
	pthread_t thread;
	int started;
} ahead_reader;

struct ahead {
	gs_store *store;
	const gs_filelist *files;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	ahead_reader readers[AHEAD_READERS];
	ahead_slot slots[AHEAD_COUNT];
	size_t taken;               /* files taken by the writer */
	size_t bytes;               /* content held in slots */
	int stop;                   /* the writer gave up */
	/* The failure of the earliest file that failed, for the writer. */
	int failed;
	size_t failed_at;
	gs_error_t category;
	int os_errno;
	char *message, *path, *action;
};

static int exportable(uint32_t mode)
{
	return mode == GS_MODE_BLOB || mode == GS_MODE_EXEC || mode == GS_MODE_LINK;
}

/* Under the lock. */
static void ahead_fail(ahead *r, size_t at)
{
	const gs_error *err = gs_error_last();

	if (r->failed && r->failed_at < at)
		return;
	free(r->message);
	free(r->path);
	free(r->action);
	r->category = err->category;
	r->os_errno = err->os_errno;
	r->message = strdup(err->message);
	r->path = err->path ? strdup(err->path) : NULL;
	r->action = err->action ? strdup(err->action) : NULL;
	r->failed = 1;
	r->failed_at = at;
}

static void *ahead_run(void *arg)
{
	ahead_reader *me = arg;
	ahead *r = me->owner;

	for (size_t i = me->first; i < r->files->count; i += AHEAD_READERS) {
		const gs_file *f = &r->files->items[i];
		gs_blob blob = {0};
		int rc = 0, go;

		pthread_mutex_lock(&r->lock);
		while (!r->stop && !(r->failed && r->failed_at < i) &&
		       (i - r->taken >= AHEAD_COUNT || (r->bytes >= AHEAD_BYTES && i > r->taken)))
			pthread_cond_wait(&r->cond, &r->lock);
		go = !r->stop && !(r->failed && r->failed_at < i);
		pthread_mutex_unlock(&r->lock);
		if (!go)
			break;
		if (exportable(f->mode))
			rc = gs_blob_open(&blob, r->store, me->repo, &f->id, 0, SIZE_MAX);
		pthread_mutex_lock(&r->lock);
		if (rc < 0) {
			ahead_fail(r, i);
		} else {
			r->slots[i % AHEAD_COUNT].blob = blob;
			r->slots[i % AHEAD_COUNT].ready = 1;
			r->bytes += blob.data ? blob.size : 0;
		}
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
		if (rc < 0)
			break;
	}
	return NULL;
}

static void ahead_end(ahead *r);

static int ahead_start(ahead *r, gs_store *store, const gs_filelist *files)
{
	memset(r, 0, sizeof(*r));
	r->store = store;
	r->files = files;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	for (size_t k = 0; k < AHEAD_READERS; k++) {
		ahead_reader *reader = &r->readers[k];
		reader->owner = r;
		reader->first = k;
		if (gs_repo_acquire(&reader->repo, store) < 0)
			goto fail;
		if (pthread_create(&reader->thread, NULL, ahead_run, reader) != 0) {
			gs_error_set_os(errno, "cannot start a thread");
			goto fail;
		}
		reader->started = 1;
	}
	return 0;
fail:
	ahead_end(r);
	return -1;
}

/* The blob of files->items[i], the next one in order. */
static int ahead_take(gs_blob *out, ahead *r, size_t i)
{
	ahead_slot *slot = &r->slots[i % AHEAD_COUNT];
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	while (!slot->ready && !(r->failed && r->failed_at <= i))
		pthread_cond_wait(&r->cond, &r->lock);
	if (!slot->ready) {
		if (r->path)
			gs_error_set_path(r->os_errno, r->path, r->action ? r->action : "");
		else if (r->category == GS_ERR_OS || r->category == GS_ERR_NOMEM)
			gs_error_set_os(r->os_errno, "%s", r->message ? r->message : "");
		else
			gs_error_set(r->category, "%s", r->message ? r->message : "");
		rc = -1;
	} else {
		*out = slot->blob;
		slot->ready = 0;
		r->bytes -= out->data ? out->size : 0;
		r->taken++;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static void ahead_end(ahead *r)
{
	if (!r->store)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (size_t k = 0; k < AHEAD_READERS; k++) {
		if (r->readers[k].started)
			pthread_join(r->readers[k].thread, NULL);
		if (r->readers[k].repo)
			gs_repo_release(r->store, r->readers[k].repo);
	}
	for (size_t i = 0; i < AHEAD_COUNT; i++)
		if (r->slots[i].ready)
			gs_blob_free(&r->slots[i].blob);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r->message);
	free(r->path);
	free(r->action);
	memset(r, 0, sizeof(*r));
}

typedef struct {
	git_repository *repo;       /* for the listing */
	struct archive *a;
	struct archive_entry *entry;
	sink sink;
	int64_t mtime;
	char *chunk;
	gs_buf name;
} exporter;

/* 1 for valid UTF-8, 2 for plain ASCII, 0 otherwise. */
static int text_kind(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int ascii = 1;

	while (*p) {
		int extra = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
			  : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (extra < 0)
			return 0;
		ascii &= extra == 0;
		p++;
		for (int i = 0; i < extra; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return ascii ? 2 : 1;
}

/*
 * Names and link targets are bytes as the repository holds them.  Other
 * UTF-8 is handed over as such, so that it is stored as UTF-8 whatever
 * the locale; ASCII and bytes that are not UTF-8 go as they are.
 */
static void set_text(struct archive_entry *e, const char *s,
		     void (*as_is)(struct archive_entry *, const char *),
		     void (*utf8)(struct archive_entry *, const char *))
{
	if (text_kind(s) == 1)
		utf8(e, s);
	else
		as_is(e, s);
}

/* One entry object serves every header: what all entries share (owner,
 * time) is set once, before the first. */
static int put_header(exporter *x, const char *name, mode_t type, mode_t perm, int64_t size,
		      const char *target)
{
	struct archive_entry *e = x->entry;

	set_text(e, name, archive_entry_copy_pathname, archive_entry_set_pathname_utf8);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, size);
	if (target)
		set_text(e, target, archive_entry_copy_symlink, archive_entry_set_symlink_utf8);
	else
		archive_entry_copy_symlink(e, NULL);
	if (archive_write_header(x->a, e) < ARCHIVE_WARN)
		return write_failed(x->a, &x->sink);
	return 0;
}

static int put_data(exporter *x, const char *data, size_t len)
{
	while (len > 0) {
		la_ssize_t n = archive_write_data(x->a, data, len);
		if (n <= 0)
			return write_failed(x->a, &x->sink);
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A directory entry: "dir/". */
static int put_dir(exporter *x, const char *path, size_t len)
{
	x->name.size = 0;
	if (gs_buf_put(&x->name, path, len) < 0 || gs_buf_put(&x->name, "/", 2) < 0)
		return -1;
	return put_header(x, x->name.data, AE_IFDIR, 0755, 0, NULL);
}

/* Directory entries for every directory of `path` not yet entered, given
 * the directory of the entry before (*dir, *dir_len: "" at first). */
static int put_parents(exporter *x, const char *path, const char **dir, size_t *dir_len)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0, common = 0;

	/* The longest common prefix that ends a segment in both. */
	for (size_t i = 0; i <= len && i <= *dir_len; i++) {
		int end_new = i == len || path[i] == '/';
		int end_old = i == *dir_len || (*dir)[i] == '/';
		if (end_new && end_old)
			common = i;
		if (i == len || i == *dir_len || path[i] != (*dir)[i])
			break;
	}
	for (size_t i = common ? common + 1 : 0; i <= len && len > common; i++)
		if ((i == len || path[i] == '/') && put_dir(x, path, i) < 0)
			return -1;
	*dir = path;
	*dir_len = len;
	return 0;
}

/* One file whose blob is open (and freed here). */
static int put_file(exporter *x, const char *name, const gs_file *file, gs_blob *blob)
{
	int rc = -1;

	if (file->mode == GS_MODE_LINK) {
		/* A link's target is small: read it whole. */
		char *target = malloc(blob->size + 1);
		if (!target) {
			gs_error_set(GS_ERR_NOMEM, "out of memory");
		} else if (gs_blob_fill(blob, target) == 0) {
			target[blob->size] = '\0';
			rc = put_header(x, name, AE_IFLNK, 0777, 0, target);
		}
		free(target);
		goto done;
	}
	if (put_header(x, name, AE_IFREG, file->mode == GS_MODE_EXEC ? 0755 : 0644,
		       (int64_t)blob->size, NULL) < 0)
		goto done;
	if (blob->data) {
		rc = put_data(x, blob->data, blob->size);
		goto done;
	}
	for (size_t left = blob->size; left > 0;) {
		size_t n = left < ARCHIVE_CHUNK ? left : ARCHIVE_CHUNK;
		if (gs_loose_read(blob->loose, x->chunk, n) < 0 || put_data(x, x->chunk, n) < 0)
			goto done;
		left -= n;
	}
	rc = gs_loose_finish(blob->loose);
done:
	gs_blob_free(blob);
	return rc;
}

/* The files to export, with names relative to what is exported. */
static int export_list(gs_filelist *out, gs_store *store, git_repository *repo,
		       const git_oid *root, const char *path)
{
	gs_entry top;
	const char *base;

	if (!path)
		return gs_tree_files_by_path(out, store, repo, root);
	if (gs_tree_lookup(&top, repo, root, path, GS_LOOKUP_WALK) < 0)
		return -1;
	if (top.mode == GS_MODE_TREE)
		return gs_tree_files_by_path(out, store, repo, &top.id);
	base = strrchr(path, '/');
	return gs_filelist_push(out, base ? base + 1 : path, &top.id, top.mode);
}

int gs_archive_write(gs_report *out, gs_store *store, const git_oid *root,
		     const gs_archive_out_opts *opts, gs_archive_write_fn write, void *ctx)
{
	exporter x;
	ahead reader = {0};
	gs_filelist files = {0};
	progress prog = {opts->progress, opts->progress_ctx, monotonic_ns()};
	const char *dir = "";
	size_t dir_len = 0, done = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	x.mtime = opts->mtime;
	x.sink.write = write;
	x.sink.ctx = ctx;
	if (opts->format == GS_ARCHIVE_ANY)
		return gs_error_set(GS_ERR_INVALID, "no archive format given");
	if (gs_repo_acquire(&x.repo, store) < 0)
		return -1;
	if (export_list(&files, store, x.repo, root, opts->path) < 0)
		goto done;
	if (!(x.chunk = malloc(ARCHIVE_CHUNK)) || !(x.entry = archive_entry_new())) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	archive_entry_set_mtime(x.entry, (time_t)x.mtime, 0);
	archive_entry_set_uid(x.entry, 0);
	archive_entry_set_gid(x.entry, 0);
	archive_entry_copy_uname(x.entry, "root");
	archive_entry_copy_gname(x.entry, "root");
	if (writer_open(&x.a, opts->format, &x.sink) < 0)
		goto done;
	if (ahead_start(&reader, store, &files) < 0)
		goto done;
	for (size_t i = 0; i < files.count; i++) {
		const gs_file *f = &files.items[i];
		gs_blob blob;
		if (progress_tick(&prog, done, files.count, 0) < 0 ||
		    ahead_take(&blob, &reader, i) < 0)
			goto done;
		if (!exportable(f->mode)) {
			if (gs_report_add(out, GS_REPORT_WARNING, f->path, 0, NULL,
					  "submodule skipped: an archive cannot hold it") < 0)
				goto done;
			continue;
		}
		if (put_parents(&x, f->path, &dir, &dir_len) < 0) {
			gs_blob_free(&blob);
			goto done;
		}
		if (put_file(&x, f->path, f, &blob) < 0 ||
		    gs_report_add(out, GS_REPORT_ADD, f->path, f->mode, NULL, NULL) < 0)
			goto done;
		done++;
	}
	/* libarchive does not report a close callback's failure: the last
	 * chunk is written here instead. */
	if (archive_write_close(x.a) < ARCHIVE_WARN) {
		write_failed(x.a, &x.sink);
		goto done;
	}
	if (sink_flush(&x.sink) < 0)
		goto done;
	rc = progress_tick(&prog, done, files.count, 1);
done:
	ahead_end(&reader);
	if (x.a) {
		/* Freeing closes the archive; a failed export writes no ending
		 * to the caller.  (archive_write_fail would skip the close, but
		 * leaks libarchive's buffers.) */
		x.sink.discard = rc < 0;
		archive_write_free(x.a);
	}
	if (x.entry)
		archive_entry_free(x.entry);
	gs_buf_free(&x.sink.pending);
	gs_buf_free(&x.name);
	free(x.chunk);
	gs_filelist_free(&files);
	gs_repo_release(store, x.repo);
	if (rc < 0)
		gs_report_free(out);
	return rc;
}

typedef struct {
	int fd;
	const char *dest;
} file_out;

static int file_write(void *ctx, const void *data, size_t len)
{
	file_out *f = ctx;
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(f->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gs_error_set_path(n < 0 ? errno : ENOSPC, f->dest, "cannot write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int gs_archive_write_file(gs_report *out, gs_store *store, const git_oid *root,
			  const gs_archive_out_opts *opts, const char *dest)
{
	static unsigned counter;
	const char *slash = strrchr(dest, '/');
	size_t dir_len = slash ? (size_t)(slash - dest) + 1 : 0;
	file_out f = {-1, dest};
	char *tmp = malloc(dir_len + 64);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!tmp)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	/* A short name of our own in the same directory, so that the rename
	 * is atomic whatever the length of dest's name; O_EXCL with the
	 * process id and a counter makes it unique, mode 0666 minus the
	 * umask gives the archive the mode any new file gets. */
	for (int attempt = 0; f.fd < 0; attempt++) {
		snprintf(tmp, dir_len + 64, "%.*s.gitstore-archive-%ld-%u.tmp", (int)dir_len, dest,
			 (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
		f.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (f.fd < 0 && (errno != EEXIST || attempt >= 100)) {
			gs_error_set_path(errno, dest, "cannot create");
			free(tmp);
			return -1;
		}
	}
	if (gs_archive_write(out, store, root, opts, file_write, &f) < 0)
		goto done;
	if (close(f.fd) < 0) {
		f.fd = -1;
		gs_error_set_path(errno, dest, "cannot write");
		goto done;
	}
	f.fd = -1;
	if (rename(tmp, dest) < 0) {
		gs_error_set_path(errno, dest, "cannot create");
		goto done;
	}
	rc = 0;
done:
	if (rc < 0) {
		if (f.fd >= 0)
			close(f.fd);
		unlink(tmp);
		gs_report_free(out);
	}
	free(tmp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

typedef struct {
	const gs_archive_reader *reader;
	const void *first;   /* bytes read to tell a zip, not yet given on */
	int64_t first_len;
	int failed;          /* the error record says why */
} source;

static la_ssize_t source_read(struct archive *a, void *data, const void **buf)
{
	source *s = data;
	int64_t n;

	if (s->first_len > 0) {
		*buf = s->first;
		n = s->first_len;
		s->first_len = 0;
		return (la_ssize_t)n;
	}
	n = s->reader->read(s->reader->ctx, buf);

	if (n < 0) {
		s->failed = 1;
		callback_failed();
		return -1;
	}
	return (la_ssize_t)n;
}

static la_int64_t source_seek(struct archive *a, void *data, la_int64_t offset, int whence)
{
	source *s = data;
	int64_t at = s->reader->seek(s->reader->ctx, offset, whence);

	if (at < 0) {
		s->failed = 1;
		callback_failed();
		return ARCHIVE_FATAL;
	}
	return at;
}

typedef struct {
	struct archive *a;
	const source *src;
	gs_changeset *cs;
	gs_txn *txn;
	const gs_archive_in_opts *opts;
	gs_report warnings;
	gs_buf data;         /* a small entry's content */
	gs_buf name;
	size_t dest_len;     /* strlen(dest) + 1, or 0 at the root */
} importer;

/* libarchive could not read on: the callback's reason when it was the
 * callback, else what libarchive says, naming the source. */
static int read_failed(importer *im)
{
	const char *why = archive_error_string(im->a);

	if (im->src->failed)
		return -1;
	if (archive_errno(im->a) == ENOMEM)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	return gs_error_set(GS_ERR_INVALID, "Cannot read archive %s: %s", im->opts->source,
			    why ? why : "unreadable");
}

/*
 * The repository path of an entry name (*out NULL for a name that is the
 * destination itself, "./" or "/", which directories have).  Names come
 * from libarchive as C strings, so an embedded NUL already ends them.
 */
static int entry_path(char **out, importer *im, const char *raw)
{
	const char *name = raw, *seg;
	char quoted[600];
	size_t len;

	*out = NULL;
	for (;;) {
		if (name[0] == '/')
			name++;
		else if (name[0] == '.' && name[1] == '/')
			name += 2;
		else
			break;
	}
	if (strcmp(name, ".") == 0)
		name++;
	for (seg = name;;) {
		const char *end = strchrnul(seg, '/');
		if (end - seg == 2 && seg[0] == '.' && seg[1] == '.')
			return gs_error_set(GS_ERR_INVALID,
					    "Unsafe entry %s in archive %s: '..' leaves the destination",
					    gs_repr(quoted, sizeof(quoted), raw), im->opts->source);
		if (!*end)
			break;
		seg = end + 1;
	}
	len = strlen(name);
	while (len > 0 && name[len - 1] == '/')
		len--;
	if (len == 0)
		return 0;
	im->name.size = 0;
	if ((im->dest_len && (gs_buf_puts(&im->name, im->opts->dest) < 0 ||
			      gs_buf_puts(&im->name, "/") < 0)) ||
	    gs_buf_put(&im->name, name, len) < 0)
		return -1;
	if (gs_path_normalize(out, im->name.data, im->name.size) < 0) {
		char why[600];
		snprintf(why, sizeof(why), "%s", gs_error_last()->message);
		return gs_error_set(GS_ERR_INVALID, "Invalid entry %s in archive %s: %s",
				    gs_repr(quoted, sizeof(quoted), raw), im->opts->source, why);
	}
	return 0;
}

/* git's rules for special names, on every segment of a path being
 * written with `mode` (the rules the commit applies, checked before
 * anything is stored, so that a dry run refuses what the run would). */
static int check_names(const char *path, uint32_t mode)
{
	for (const char *seg = path;;) {
		const char *end = strchrnul(seg, '/');
		char name[256];
		size_t n = (size_t)(end - seg);
		unsigned kind;
		if (n < sizeof(name)) {
			memcpy(name, seg, n);
			name[n] = '\0';
			if ((kind = gs_gitname_kind(name)) &&
			    gs_gitname_check(path, kind, *end ? GS_MODE_TREE : mode) < 0)
				return -1;
		}
		if (!*end)
			return 0;
		seg = end + 1;
	}
}

static unsigned leaf_kind(const char *path)
{
	const char *slash = strrchr(path, '/');

	return gs_gitname_kind(slash ? slash + 1 : path);
}

static const char *entry_name(struct archive_entry *e)
{
	const char *name = archive_entry_pathname_utf8(e);

	return name ? name : archive_entry_pathname(e);
}

/* Where an entry's data goes. */
typedef struct {
	gs_buf *memory;            /* small content, or */
	gs_sha1 *sha;              /* a dry run's hash, or */
	gs_blob_stream *stream;    /* a big blob */
	uint64_t size;
} data_sink;

static int data_put(data_sink *d, const void *buf, size_t len)
{
	d->size += len;
	if (d->memory)
		return gs_buf_put(d->memory, buf, len);
	if (d->sha) {
		gs_sha1_update(d->sha, buf, len);
		return 0;
	}
	return gs_blob_stream_write(d->stream, buf, len);
}

/* The current entry's data, holes of sparse entries as zeros. */
static int copy_data(importer *im, data_sink *d)
{
	static const char zeros[4096];
	const void *buf;
	size_t len;
	la_int64_t offset;

	for (;;) {
		int r = archive_read_data_block(im->a, &buf, &len, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		/* A warning here is a checksum that does not match. */
		if (r != ARCHIVE_OK)
			return read_failed(im);
		while ((uint64_t)offset > d->size) {
			uint64_t gap = (uint64_t)offset - d->size;
			if (data_put(d, zeros, gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros)) < 0)
				return -1;
		}
		if (len && data_put(d, buf, len) < 0)
			return -1;
	}
}

/* The blob of a regular entry: small ones through memory (content rules
 * checked), big ones streamed; a dry run only hashes. */
static int entry_blob(git_oid *id, importer *im, struct archive_entry *e, const char *path)
{
	int known = archive_entry_size_is_set(e) && archive_entry_size(e) >= 0;
	uint64_t size = known ? (uint64_t)archive_entry_size(e) : GS_BLOB_SIZE_UNKNOWN;
	unsigned kind = leaf_kind(path) & (GS_GITNAME_GITMODULES | GS_GITNAME_GITATTRIBUTES);
	data_sink d = {0};
	gs_sha1 sha;
	int rc = -1;

	if (kind && known && gs_gitfile_check_size(path, kind, size) < 0)
		return -1;
	/* A dry run keeps an entry of unknown size in memory: nothing may be
	 * written, and its id needs its size first. */
	if ((known && size < GS_BIG_BLOB) || (!known && im->opts->dry_run) || kind) {
		im->data.size = 0;
		d.memory = &im->data;
		if (copy_data(im, &d) < 0 ||
		    (kind && gs_gitfile_check(path, kind, im->data.data, im->data.size) < 0))
			return -1;
		if (im->opts->dry_run) {
			gs_object_hash(id, GIT_OBJECT_BLOB, im->data.data ? im->data.data : "",
				       im->data.size);
			return 0;
		}
		return gs_txn_write_blob(id, im->txn, im->data.data ? im->data.data : "",
					 im->data.size);
	}
	if (im->opts->dry_run) {
		unsigned char digest[20];
		gs_object_hash_begin(&sha, GIT_OBJECT_BLOB, size);
		d.sha = &sha;
		if (copy_data(im, &d) < 0)
			return -1;
		if (d.size != size)
			return gs_error_set(GS_ERR_INVALID, "Cannot read archive %s: %s holds %llu "
					    "bytes, not the %llu its header says", im->opts->source,
					    path, (unsigned long long)d.size,
					    (unsigned long long)size);
		gs_sha1_final(&sha, digest);
		git_oid_fromraw(id, digest);
		return 0;
	}
	if (gs_blob_stream_open(&d.stream, gs_txn_store(im->txn), size) < 0)
		return -1;
	if (copy_data(im, &d) == 0 && gs_blob_stream_finish(id, d.stream, im->txn) == 0)
		rc = 0;
	gs_blob_stream_free(d.stream);
	return rc;
}

static int warn(importer *im, const char *path, const char *message)
{
	return gs_report_add(&im->warnings, GS_REPORT_WARNING, path + im->dest_len, 0, NULL,
			     message);
}

static const char *special_kind(mode_t type)
{
	switch (type) {
	case AE_IFIFO: return "fifo skipped";
	case AE_IFCHR: return "character device skipped";
	case AE_IFBLK: return "block device skipped";
	case AE_IFSOCK: return "socket skipped";
	default: return "entry of an unknown type skipped";
	}
}

static int import_entry(importer *im, struct archive_entry *e)
{
	const char *raw = entry_name(e), *hardlink = archive_entry_hardlink_utf8(e);
	mode_t type = archive_entry_filetype(e);
	char *path = NULL, *target_path = NULL;
	git_oid id;
	uint32_t mode;
	int rc = -1;

	if (!hardlink)
		hardlink = archive_entry_hardlink(e);
	if (!raw)
		return gs_error_set(GS_ERR_INVALID, "Cannot read archive %s: an entry has no name",
				    im->opts->source);
	if (entry_path(&path, im, raw) < 0)
		return -1;
	if (!path) {
		if (type == AE_IFDIR || (!hardlink && type == 0))
			return 0;
		return gs_error_set(GS_ERR_INVALID, "Invalid entry '%s' in archive %s: "
				    "the name is empty", raw, im->opts->source);
	}
	/* A hard link with data of its own (pax can store one) is a file. */
	if (hardlink && !(archive_entry_size_is_set(e) && archive_entry_size(e) > 0)) {
		const gs_write *linked;
		if (entry_path(&target_path, im, hardlink) < 0)
			goto done;
		linked = target_path ? gs_changeset_find_write(im->cs, target_path) : NULL;
		if (!linked) {
			rc = warn(im, path, "hard link skipped: its target is not an earlier file "
				  "of the archive");
			goto done;
		}
		id = linked->id;
		mode = linked->mode;
		if (check_names(path, mode) < 0)
			goto done;
	} else if (type == AE_IFREG || hardlink) {
		mode = archive_entry_perm(e) & 0111 ? GS_MODE_EXEC : GS_MODE_BLOB;
		if (check_names(path, mode) < 0 || entry_blob(&id, im, e, path) < 0)
			goto done;
	} else if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink_utf8(e);
		if (!target)
			target = archive_entry_symlink(e);
		mode = GS_MODE_LINK;
		if (!target)
			target = "";
		if (check_names(path, mode) < 0)
			goto done;
		if (im->opts->dry_run)
			gs_object_hash(&id, GIT_OBJECT_BLOB, target, strlen(target));
		else if (gs_txn_write_blob(&id, im->txn, target, strlen(target)) < 0)
			goto done;
	} else if (type == AE_IFDIR) {
		rc = check_names(path, GS_MODE_TREE);
		goto done;
	} else {
		rc = warn(im, path, special_kind(type));
		goto done;
	}
	rc = gs_changeset_write(im->cs, path, &id, mode);
done:
	free(target_path);
	free(path);
	return rc;
}

/* The format libarchive found, as one of ours (GS_ARCHIVE_ANY: another). */
static gs_archive_format detected(struct archive *a)
{
	int base = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;

	if (base == ARCHIVE_FORMAT_ZIP)
		return archive_filter_count(a) <= 1 ? GS_ARCHIVE_ZIP : GS_ARCHIVE_ANY;
	if (base != ARCHIVE_FORMAT_TAR)
		return GS_ARCHIVE_ANY;
	switch (archive_filter_code(a, 0)) {
	case ARCHIVE_FILTER_NONE: return GS_ARCHIVE_TAR;
	case ARCHIVE_FILTER_GZIP: return GS_ARCHIVE_TAR_GZ;
	case ARCHIVE_FILTER_BZIP2: return GS_ARCHIVE_TAR_BZ2;
	case ARCHIVE_FILTER_XZ: return GS_ARCHIVE_TAR_XZ;
	case ARCHIVE_FILTER_ZSTD: return GS_ARCHIVE_TAR_ZST;
	default: return GS_ARCHIVE_ANY;
	}
}

static int import_all(gs_report *out, importer *im, const git_oid *root)
{
	struct archive_entry *e;
	progress prog = {im->opts->progress, im->opts->progress_ctx, monotonic_ns()};
	size_t done = 0;

	for (;;) {
		int r = archive_read_next_header(im->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* A warning here is about a name's character set: the entry
		 * is still whole. */
		if (r < ARCHIVE_WARN)
			return read_failed(im);
		if (done == 0 && im->opts->format != GS_ARCHIVE_ANY &&
		    detected(im->a) != im->opts->format)
			return gs_error_set(GS_ERR_INVALID, "Archive %s is not a %s archive (%s)",
					    im->opts->source, format_name(im->opts->format),
					    archive_format_name(im->a) ? archive_format_name(im->a)
									: "unknown");
		if (import_entry(im, e) < 0 || progress_tick(&prog, ++done, 0, 0) < 0)
			return -1;
	}
	if (done == 0 && im->opts->format != GS_ARCHIVE_ANY && detected(im->a) != im->opts->format)
		return gs_error_set(GS_ERR_INVALID, "Archive %s is not a %s archive",
				    im->opts->source, format_name(im->opts->format));
	if (gs_changeset_report(out, im->txn, root, im->cs) < 0)
		return -1;
	/* Paths relative to the destination, as copies report them. */
	for (int k = GS_REPORT_ADD; k <= GS_REPORT_DELETE; k++) {
		gs_report_list *list = &out->lists[k];
		for (size_t i = 0; i < list->count && im->dest_len; i++)
			memmove(list->items[i].path, list->items[i].path + im->dest_len,
				strlen(list->items[i].path + im->dest_len) + 1);
	}
	for (size_t i = 0; i < im->warnings.lists[GS_REPORT_WARNING].count; i++) {
		const gs_report_item *w = &im->warnings.lists[GS_REPORT_WARNING].items[i];
		if (gs_report_add(out, GS_REPORT_WARNING, w->path, 0, NULL, w->message) < 0)
			return -1;
	}
	return progress_tick(&prog, done, done, 1);
}

static int write_fd(int fd, const char *path, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gs_error_set_path(n < 0 ? errno : ENOSPC, path, "cannot write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A zip keeps its files' modes in the directory at its end, which a
 * reader of a stream never reaches: a zip that arrives as a stream is
 * copied to an unnamed file beside the repository's objects (memory stays
 * bounded whatever its size) and read from there.  *fd is -1 for
 * anything else, whose first bytes src then gives to libarchive first.
 */
static int spool_zip(int *fd, gs_store *store, source *src)
{
	const gs_archive_reader *reader = src->reader;
	const void *buf;
	char *path;
	int64_t n;
	int rc = -1;

	*fd = -1;
	if ((src->first_len = reader->read(reader->ctx, &src->first)) < 0) {
		src->failed = 1;
		return callback_failed();
	}
	if (src->first_len < 2 || memcmp(src->first, "PK", 2) != 0)
		return 0;
	if (!(path = gs_store_file(store, "objects/tmp_archive_XXXXXX", "")))
		return -1;
	if ((*fd = mkostemp(path, O_CLOEXEC)) < 0) {
		gs_error_set_path(errno, path, "cannot create");
		goto done;
	}
	unlink(path);
	for (buf = src->first, n = src->first_len; n > 0; n = reader->read(reader->ctx, &buf))
		if (write_fd(*fd, path, buf, (size_t)n) < 0)
			goto done;
	if (n < 0) {
		src->failed = 1;
		callback_failed();
		goto done;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0) {
		gs_error_set_path(errno, path, "cannot read");
		goto done;
	}
	src->first_len = 0;
	rc = 0;
done:
	if (rc < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(path);
	return rc;
}

static int import_archive(gs_report *out, gs_changeset *cs, gs_txn *txn, const git_oid *root,
			  const gs_archive_in_opts *opts, const gs_archive_reader *reader, int fd)
{
	source src = {reader, NULL, 0, 0};
	importer im;
	int r, rc = -1, spooled = -1;

	memset(out, 0, sizeof(*out));
	memset(&im, 0, sizeof(im));
	im.src = &src;
	im.cs = cs;
	im.txn = txn;
	im.opts = opts;
	im.dest_len = opts->dest && *opts->dest ? strlen(opts->dest) + 1 : 0;
	if (reader && !reader->seek && spool_zip(&spooled, gs_txn_store(txn), &src) < 0)
		return -1;
	if (spooled >= 0) {
		reader = NULL;
		fd = spooled;
	}
	if (!(im.a = archive_read_new())) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	archive_read_support_format_tar(im.a);
	archive_read_support_format_gnutar(im.a);
	archive_read_support_format_zip(im.a);
	archive_read_support_filter_all(im.a);
	if (reader) {
		if (reader->seek)
			archive_read_set_seek_callback(im.a, source_seek);
		r = archive_read_open2(im.a, &src, NULL, source_read, NULL, NULL);
	} else {
		r = archive_read_open_fd(im.a, fd, READ_BLOCK);
	}
	if (r < ARCHIVE_WARN) {
		read_failed(&im);
		goto done;
	}
	rc = import_all(out, &im, root);
done:
	if (rc < 0)
		gs_report_free(out);
	if (im.a)
		archive_read_free(im.a);
	if (spooled >= 0)
		close(spooled);
	gs_report_free(&im.warnings);
	gs_buf_free(&im.data);
	gs_buf_free(&im.name);
	return rc;
}

int gs_archive_read(gs_report *out, gs_changeset *cs, gs_txn *txn, const git_oid *root,
		    const gs_archive_in_opts *opts, const gs_archive_reader *reader)
{
	return import_archive(out, cs, txn, root, opts, reader, -1);
}

/* A file that is not regular (a fifo, a device) read as a stream. */
typedef struct {
	int fd;
	const char *path;
	char *buf;
} fd_stream;

static int64_t fd_stream_read(void *ctx, const void **data)
{
	fd_stream *f = ctx;

	for (;;) {
		ssize_t n = read(f->fd, f->buf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gs_error_set_path(errno, f->path, "cannot read");
		*data = f->buf;
		return n;
	}
}

int gs_archive_read_file(gs_report *out, gs_changeset *cs, gs_txn *txn, const git_oid *root,
			 const gs_archive_in_opts *opts, const char *path)
{
	struct stat st;
	fd_stream stream = {open(path, O_RDONLY | O_CLOEXEC), path, NULL};
	gs_archive_reader reader = {fd_stream_read, NULL, &stream};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (stream.fd < 0)
		return gs_error_set_path(errno, path, "cannot open");
	if (fstat(stream.fd, &st) < 0) {
		gs_error_set_path(errno, path, "cannot read");
	} else if (S_ISDIR(st.st_mode)) {
		gs_error_set_path(EISDIR, path, "cannot read");
	} else if (S_ISREG(st.st_mode)) {
		rc = import_archive(out, cs, txn, root, opts, NULL, stream.fd);
	} else if (!(stream.buf = malloc(READ_BLOCK))) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
	} else {
		rc = import_archive(out, cs, txn, root, opts, &reader, -1);
	}
	free(stream.buf);
	close(stream.fd);
	return rc;
}
