/*
 * copy.c - the disk side of the bulk copies (spec 30 sections 3, 4, 6.3):
 * walking a local tree, turning local files into blobs, and writing
 * blobs out below a destination directory without ever leaving it.
 */
#include "gs_internal.h"
#include "sha1.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1024 * 1024)

/* ------------------------------------------------------------------ */
/* Walking a local directory                                           */

void gs_local_list_free(gs_local_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].rel);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

static int local_push(gs_local_list *list, const char *rel, gs_local_kind kind, int exec,
		      int64_t mtime, int err)
{
	gs_local_entry *e;

	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 256;
		gs_local_entry *grown = realloc(list->items, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		list->items = grown;
		list->cap = cap;
	}
	e = &list->items[list->count];
	if (!(e->rel = strdup(rel)))
		return gs_error_set_os(ENOMEM, "out of memory");
	e->kind = kind;
	e->exec = exec;
	e->mtime = mtime;
	e->err = err;
	list->count++;
	return 0;
}

/* The directories being walked, root first: a followed symlink that
 * leads back to one of them would loop, anything else is walked. */
typedef struct {
	dev_t dev;
	ino_t ino;
} dir_id;

typedef struct {
	gs_local_list *out;
	gs_exclude_walk exclude;
	int filtering;
	int follow;
	dir_id chain[256];
	size_t depth;
} walk_ctx;

static int excluded(int *out, walk_ctx *ctx, const char *rel, int is_dir)
{
	*out = 0;
	return ctx->filtering ? gs_exclude_walk_is_excluded(out, &ctx->exclude, rel, is_dir) : 0;
}

static int on_chain(const walk_ctx *ctx, const struct stat *st)
{
	for (size_t i = 0; i < ctx->depth; i++)
		if (ctx->chain[i].dev == st->st_dev && ctx->chain[i].ino == st->st_ino)
			return 1;
	return 0;
}

static char *join2(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 2);

	if (!out)
		return NULL;
	memcpy(out, a, la);
	if (la && a[la - 1] != '/')
		out[la++] = '/';
	memcpy(out + la, b, lb + 1);
	return out;
}

static int walk_dir(walk_ctx *ctx, const char *abs, const char *rel, const struct stat *self);

/* One directory entry: `st` is its lstat. */
static int walk_entry(walk_ctx *ctx, const char *abs, const char *rel, struct stat *st)
{
	struct stat target;
	int skip, is_dir;

	if (S_ISLNK(st->st_mode)) {
		int resolves = stat(abs, &target) == 0;
		is_dir = resolves && S_ISDIR(target.st_mode);
		if (excluded(&skip, ctx, rel, is_dir) < 0)
			return -1;
		if (skip)
			return 0;
		if (!ctx->follow)
			return local_push(ctx->out, rel, GS_LOCAL_LINK, 0, 0, 0);
		if (!resolves)  /* reading it will say why */
			return local_push(ctx->out, rel, GS_LOCAL_FILE, 0, 0, 0);
		if (is_dir)
			return on_chain(ctx, &target) ? 0 : walk_dir(ctx, abs, rel, &target);
		st = &target;
	} else {
		is_dir = S_ISDIR(st->st_mode);
		if (excluded(&skip, ctx, rel, is_dir) < 0)
			return -1;
		if (skip)
			return 0;
		if (is_dir)
			return walk_dir(ctx, abs, rel, st);
	}
	return local_push(ctx->out, rel, S_ISREG(st->st_mode) ? GS_LOCAL_FILE : GS_LOCAL_SPECIAL,
			  (st->st_mode & 0111) != 0, (int64_t)st->st_mtime, 0);
}

static int walk_dir(walk_ctx *ctx, const char *abs, const char *rel, const struct stat *self)
{
	gs_strlist names = {0};
	struct dirent *de;
	DIR *dir;
	int rc = -1;

	if (ctx->depth == sizeof(ctx->chain) / sizeof(ctx->chain[0]))
		return local_push(ctx->out, rel, GS_LOCAL_BADDIR, 0, 0, ELOOP);
	if (!(dir = opendir(abs)))
		return local_push(ctx->out, rel, GS_LOCAL_BADDIR, 0, 0, errno);
	while ((errno = 0, de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (gs_strlist_push(&names, de->d_name) < 0) {
			closedir(dir);
			goto done;
		}
	}
	if (errno) {
		int err = errno;
		closedir(dir);
		gs_strlist_free(&names);
		return local_push(ctx->out, rel, GS_LOCAL_BADDIR, 0, 0, err);
	}
	closedir(dir);
	if (ctx->filtering && gs_exclude_walk_enter_directory(&ctx->exclude, abs, rel) < 0)
		goto done;
	ctx->chain[ctx->depth].dev = self->st_dev;
	ctx->chain[ctx->depth].ino = self->st_ino;
	ctx->depth++;
	for (size_t i = 0; i < names.count; i++) {
		char *child_abs = join2(abs, names.items[i]);
		char *child_rel = *rel ? join2(rel, names.items[i]) : strdup(names.items[i]);
		struct stat st;
		int failed;

		if (!child_abs || !child_rel) {
			free(child_abs);
			free(child_rel);
			gs_error_set_os(ENOMEM, "out of memory");
			ctx->depth--;
			goto done;
		}
		if (lstat(child_abs, &st) < 0)  /* gone since readdir */
			failed = 0;
		else
			failed = walk_entry(ctx, child_abs, child_rel, &st) < 0;
		free(child_abs);
		free(child_rel);
		if (failed) {
			ctx->depth--;
			goto done;
		}
	}
	ctx->depth--;
	rc = 0;
done:
	gs_strlist_free(&names);
	return rc;
}

static int compare_local(const void *a, const void *b)
{
	return strcmp(((const gs_local_entry *)a)->rel, ((const gs_local_entry *)b)->rel);
}

int gs_local_walk(gs_local_list *out, const char *root, const gs_exclude *filter,
		  int follow_symlinks)
{
	walk_ctx ctx = {0};
	struct stat st;
	int rc;

	memset(out, 0, sizeof(*out));
	ctx.out = out;
	ctx.follow = follow_symlinks;
	ctx.filtering = gs_exclude_active(filter);
	gs_exclude_walk_begin(&ctx.exclude, ctx.filtering ? filter : NULL);
	if (stat(root, &st) < 0)
		rc = local_push(out, "", GS_LOCAL_BADDIR, 0, 0, errno);
	else
		rc = walk_dir(&ctx, root, "", &st);
	gs_exclude_walk_end(&ctx.exclude);
	if (rc < 0) {
		gs_local_list_free(out);
		return -1;
	}
	if (out->count > 1)
		qsort(out->items, out->count, sizeof(*out->items), compare_local);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Local files as blobs                                                */

static int read_full(int fd, char *buf, size_t size, const char *path)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gs_error_set_os(errno, "%s", path);
		if (n == 0)
			return gs_error_set(GS_ERR_OS, "%s changed size while it was read", path);
		done += (size_t)n;
	}
	return 0;
}

/* The blob id of `size` bytes read from fd, streamed. */
static int hash_fd(git_oid *out, int fd, uint64_t size, const char *path)
{
	char header[64];
	unsigned char raw[20];
	char *chunk = malloc(READ_CHUNK);
	uint64_t done = 0;
	gs_sha1 sha;
	int len;

	if (!chunk)
		return gs_error_set_os(ENOMEM, "out of memory");
	len = snprintf(header, sizeof(header), "blob %llu", (unsigned long long)size);
	gs_sha1_init(&sha);
	gs_sha1_update(&sha, header, (size_t)len + 1);
	while (done < size) {
		size_t want = size - done < READ_CHUNK ? (size_t)(size - done) : READ_CHUNK;
		if (read_full(fd, chunk, want, path) < 0) {
			free(chunk);
			return -1;
		}
		gs_sha1_update(&sha, chunk, want);
		done += want;
	}
	free(chunk);
	gs_sha1_final(&sha, raw);
	git_oid_fromraw(out, raw);
	return 0;
}

static int same_entry(const gs_entry *unless, const git_oid *id, uint32_t mode)
{
	return unless && unless->mode == mode && git_oid_equal(&unless->id, id);
}

static int link_blob(git_oid *out, gs_txn *txn, const char *path, const gs_entry *unless)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlink(path, buf, sizeof(buf));

	if (n < 0)
		return gs_error_set_os(errno, "%s", path);
	gs_object_hash(out, GIT_OBJECT_BLOB, buf, (size_t)n);
	if (!txn || same_entry(unless, out, GS_MODE_LINK))
		return 0;
	return gs_txn_put(out, txn, GIT_OBJECT_BLOB, buf, (size_t)n);
}

int gs_local_blob(git_oid *out, uint32_t *mode, gs_txn *txn, const char *path, int as_link,
		  uint32_t mode_override, const gs_entry *unless)
{
	struct stat st;
	char *data = NULL;
	int fd, rc = -1;

	if (as_link) {
		*mode = GS_MODE_LINK;
		return link_blob(out, txn, path, unless);
	}
	/* O_NONBLOCK: opening a fifo must not hang; it is refused below. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return gs_error_set_os(errno, "%s", path);
	if (fstat(fd, &st) < 0) {
		gs_error_set_os(errno, "%s", path);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		gs_error_set_os(EISDIR, "%s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		gs_error_set(GS_ERR_OS, "Not a regular file (fifo, socket or device): %s", path);
		goto done;
	}
	*mode = mode_override ? mode_override : (st.st_mode & 0111) ? GS_MODE_EXEC : GS_MODE_BLOB;
	if ((uint64_t)st.st_size >= GS_BIG_BLOB || !txn) {
		/* Hash first: an unchanged big file is not stored again. */
		if (hash_fd(out, fd, (uint64_t)st.st_size, path) < 0)
			goto done;
		if (!txn || same_entry(unless, out, *mode)) {
			rc = 0;
			goto done;
		}
		if (lseek(fd, 0, SEEK_SET) < 0) {
			gs_error_set_os(errno, "%s", path);
			goto done;
		}
		rc = gs_txn_write_blob_fd(out, txn, fd, (uint64_t)st.st_size, path);
		goto done;
	}
	if (!(data = malloc(st.st_size ? (size_t)st.st_size : 1))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	if (read_full(fd, data, (size_t)st.st_size, path) < 0)
		goto done;
	gs_object_hash(out, GIT_OBJECT_BLOB, data, (size_t)st.st_size);
	rc = same_entry(unless, out, *mode) ? 0
		: gs_txn_put(out, txn, GIT_OBJECT_BLOB, data, (size_t)st.st_size);
done:
	free(data);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writing blobs out below a directory                                 */

void gs_export_init(gs_export *ex, gs_store *store, git_repository *repo, const char *dest,
		    int64_t mtime)
{
	memset(ex, 0, sizeof(*ex));
	ex->store = store;
	ex->repo = repo;
	ex->dest = dest;
	ex->mtime = mtime;
}

void gs_export_clear(gs_export *ex)
{
	gs_strlist_free(&ex->links);
	free(ex->verified);
	ex->verified = NULL;
}

/* A tree entry path that stays below the destination: no empty, "." or
 * ".." segment and no leading '/'. */
static int check_rel(const char *rel)
{
	const char *seg = rel;

	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return gs_error_set(GS_ERR_INVALID,
					    "Unsafe path in the tree (would leave the destination): %s",
					    rel);
		if (!slash)
			return 0;
		seg = slash + 1;
	}
}

static int link_index(const gs_strlist *links, const char *rel, size_t len, size_t *at)
{
	size_t lo = 0, hi = links->count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *s = links->items[mid];
		int c = strncmp(s, rel, len);
		if (c == 0)
			c = s[len] ? 1 : 0;
		if (c == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

static int remember_link(gs_export *ex, const char *rel)
{
	size_t at;
	char *item;

	if (link_index(&ex->links, rel, strlen(rel), &at))
		return 0;
	if (gs_strlist_push(&ex->links, rel) < 0)
		return -1;
	item = ex->links.items[ex->links.count - 1];
	memmove(&ex->links.items[at + 1], &ex->links.items[at],
		(ex->links.count - 1 - at) * sizeof(char *));
	ex->links.items[at] = item;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Length of the longest leading run of whole directories that `dir`
 * (dir_len bytes of rel) shares with the directory verified last. */
static size_t verified_prefix(const gs_export *ex, const char *dir, size_t dir_len)
{
	const char *v = ex->verified;
	size_t common = 0, i;

	if (!v)
		return 0;
	for (i = 0; i < dir_len && v[i] && v[i] == dir[i]; i++)
		if (dir[i] == '/')
			common = i;
	if (i == dir_len && (v[i] == '\0' || v[i] == '/'))
		return dir_len;
	if (!v[i] && dir[i] == '/')
		return i;
	return common;
}

/* Make every parent of dest/rel a real directory, top-down: a symlink or
 * a file in the way is unlinked (it is inside dest, since everything
 * above it was just checked) and a missing directory is created.
 * `full` is dest/rel; it is changed and restored. */
static int make_parents(gs_export *ex, char *full, size_t dest_len, const char *rel)
{
	const char *last = strrchr(rel, '/');
	size_t dir_len = last ? (size_t)(last - rel) : 0, at;
	char *base = full + dest_len + 1;
	int missing = 0;

	if (!dir_len)
		return 0;
	for (size_t i = verified_prefix(ex, rel, dir_len) + 1; i <= dir_len; i++) {
		struct stat st;
		int err = 0;

		if (rel[i] != '/')
			continue;
		if (link_index(&ex->links, rel, i, &at))
			return gs_error_set(GS_ERR_INVALID,
					    "Refusing to write through a symlink this copy wrote: %s",
					    rel);
		base[i] = '\0';
		if (!missing) {
			if (lstat(full, &st) == 0) {
				if (S_ISDIR(st.st_mode)) {
					base[i] = '/';
					continue;
				}
				if (unlink(full) < 0)
					err = errno;
			} else if (errno != ENOENT) {
				err = errno;
			}
			missing = 1;
		}
		if (!err && mkdir(full, 0777) < 0 && errno != EEXIST)
			err = errno;
		if (err) {
			gs_error_set_os(err, "%s", full);
			base[i] = '/';
			return -1;
		}
		base[i] = '/';
	}
	free(ex->verified);
	if (!(ex->verified = strndup(rel, dir_len)))
		return gs_error_set_os(ENOMEM, "out of memory");
	return 0;
}

static int write_all(int fd, const char *data, size_t len, const char *path)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gs_error_set_os(errno, "%s", path);
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The blob's content into fd, a chunk at a time for loose objects. */
static int blob_to_fd(gs_export *ex, const git_oid *id, int fd, const char *path)
{
	gs_blob blob;
	char *chunk = NULL;
	size_t done = 0;
	int rc = -1;

	if (gs_blob_open(&blob, ex->store, ex->repo, id, 0, SIZE_MAX) < 0)
		return -1;
	if (blob.data) {
		rc = write_all(fd, blob.data, blob.size, path);
		goto done;
	}
	if (!(chunk = malloc(READ_CHUNK))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	while (done < blob.size) {
		size_t want = blob.size - done < READ_CHUNK ? blob.size - done : READ_CHUNK;
		if (gs_loose_read(blob.loose, chunk, want) < 0 ||
		    write_all(fd, chunk, want, path) < 0)
			goto done;
		done += want;
	}
	rc = gs_loose_finish(blob.loose);
done:
	free(chunk);
	gs_blob_free(&blob);
	return rc;
}

int gs_export_file(gs_export *ex, const char *rel, const git_oid *id, uint32_t mode)
{
	size_t dest_len = strlen(ex->dest);
	char *full = NULL;
	struct stat st;
	struct timespec times[2];
	int rc = -1, fd = -1;

	if (check_rel(rel) < 0)
		return -1;
	while (dest_len > 1 && ex->dest[dest_len - 1] == '/')
		dest_len--;
	if (!(full = malloc(dest_len + strlen(rel) + 2)))
		return gs_error_set_os(ENOMEM, "out of memory");
	memcpy(full, ex->dest, dest_len);
	full[dest_len] = '/';
	strcpy(full + dest_len + 1, rel);
	if (make_parents(ex, full, dest_len, rel) < 0)
		goto done;
	if (lstat(full, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			if (nftw(full, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0) {
				gs_error_set_os(errno, "%s", full);
				goto done;
			}
			free(ex->verified);
			ex->verified = NULL;
		} else if (unlink(full) < 0) {
			gs_error_set_os(errno, "%s", full);
			goto done;
		}
	}
	if (mode == GS_MODE_LINK) {
		gs_blob target;
		char *text;
		if (gs_blob_read(&target, ex->store, ex->repo, id, 0, SIZE_MAX) < 0)
			goto done;
		text = strndup(target.data, target.size);
		gs_blob_free(&target);
		if (!text) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		if (symlink(text, full) < 0) {
			free(text);
			gs_error_set_os(errno, "%s", full);
			goto done;
		}
		free(text);
		if (remember_link(ex, rel) < 0)
			goto done;
	} else {
		fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0) {
			gs_error_set_os(errno, "%s", full);
			goto done;
		}
		if (blob_to_fd(ex, id, fd, full) < 0)
			goto done;
		if (mode == GS_MODE_EXEC && fchmod(fd, 0755) < 0) {
			gs_error_set_os(errno, "%s", full);
			goto done;
		}
	}
	times[0].tv_sec = times[1].tv_sec = (time_t)ex->mtime;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, full, times, AT_SYMLINK_NOFOLLOW) < 0) {
		gs_error_set_os(errno, "%s", full);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	free(full);
	return rc;
}
