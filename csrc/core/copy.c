/*
 * copy.c - the disk side of the bulk copies:
 * walking a local tree, turning local files into blobs, and writing
 * blobs out below a destination directory without ever leaving it.
 */
#include "gs_internal.h"
#include "copy.h"
#include "loose.h"
#include "source.h"
#include "tree.h"
#include "txn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#define READ_CHUNK (1024 * 1024)

/* ------------------------------------------------------------------ */
/* Walking a local directory                                           */

void gs_local_list_free(gs_local_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].rel);
		free(list->items[i].local);
		free(list->items[i].message);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* Room for one more entry at the end of `list`. */
static int local_grow(gs_local_list *list)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 256;
		gs_local_entry *grown = realloc(list->items, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		list->items = grown;
		list->cap = cap;
	}
	return 0;
}

static int local_push(gs_local_list *list, const char *rel, gs_local_kind kind, int exec,
		      int64_t mtime, int err)
{
	gs_local_entry *e;

	if (local_grow(list) < 0)
		return -1;
	e = &list->items[list->count];
	memset(e, 0, sizeof(*e));
	if (!(e->rel = strdup(rel)))
		return gs_error_set_os(ENOMEM, "out of memory");
	e->kind = kind;
	e->exec = exec;
	e->mtime = mtime;
	e->err = err;
	list->count++;
	return 0;
}

/* The calling thread's last error as an errno or a message, then cleared. */
static void take_error(int *err, char **message)
{
	const gs_error *last = gs_error_last();

	*err = last->category == GS_ERR_OS ? last->os_errno : 0;
	*message = *err ? NULL : strdup(last->message);
	if (!*err && !*message)
		*err = ENOMEM;
	gs_error_clear();
}

static int local_blob_at(git_oid *out, uint32_t *mode, gs_txn *txn, int dirfd, const char *name,
			 const char *path, int as_link, uint32_t mode_override,
			 const gs_entry *unless);

/* ------------------------------------------------------------------ */
/* Hashing beside the walk                                             */

/*
 * Checking a tree that did not change is mostly open, fstat, read and
 * close per file.  While the walk reads directories, helper threads hash
 * the regular files it has listed so far, a chunk of one directory at a
 * time, relative to a duplicate of that directory's fd.  Only files the
 * tree at the destination also has are worth hashing.
 */
#define HASH_CHUNK 64
#define HASH_HELPERS 3
#define HASH_QUEUED_MAX 16

typedef struct {
	size_t index;         /* of the entry in the walk's list */
	size_t name_at;       /* in the chunk's names */
	int hashed;           /* 1 id and exec are set, -1 err or message say why not,
			       * 0 left for the diff (no fd to spare) */
	git_oid id;
	int exec, err;
	char *message;
} hash_item;

typedef struct hash_chunk {
	int dirfd;
	char *dir;            /* the directory's path, for messages */
	gs_buf names;
	size_t count;
	struct hash_chunk *next_done;
	hash_item items[HASH_CHUNK];
} hash_chunk;

typedef struct {
	const gs_filelist *stored;  /* sorted by path */
	const char *prefix;         /* where the walk root lands below the destination */
	gs_buf key;                 /* prefix/rel, built by the walking thread */
	pthread_mutex_t lock;
	pthread_cond_t queued;      /* a chunk was queued, or the walk ended */
	size_t cursor;              /* in stored: where the last lookup ended */
	hash_chunk **chunks;        /* queued from `next` on */
	size_t count, cap, next;
	hash_chunk *done;           /* hashed, for the walking thread to apply */
	gs_local_list *list;        /* the walk's entries (walking thread only) */
	int walking;
	pthread_t helpers[HASH_HELPERS];
	size_t nhelpers;
} hash_pool;

static void chunk_free(hash_chunk *chunk)
{
	if (!chunk)
		return;
	for (size_t i = 0; i < chunk->count; i++)
		free(chunk->items[i].message);
	if (chunk->dirfd >= 0)
		close(chunk->dirfd);
	free(chunk->dir);
	gs_buf_free(&chunk->names);
	free(chunk);
}

static void chunk_hash(hash_chunk *chunk)
{
	gs_buf path = {0};
	size_t dir_len = strlen(chunk->dir);
	int sep = dir_len && chunk->dir[dir_len - 1] != '/';

	for (size_t i = 0; i < chunk->count; i++) {
		hash_item *item = &chunk->items[i];
		const char *name = chunk->names.data + item->name_at;
		uint32_t mode = 0;

		/* The full path only names the file in an error. */
		path.size = 0;
		if (gs_buf_put(&path, chunk->dir, dir_len) < 0 ||
		    (sep && gs_buf_put(&path, "/", 1) < 0) || gs_buf_puts(&path, name) < 0 ||
		    local_blob_at(&item->id, &mode, NULL, chunk->dirfd, name, path.data, 0, 0,
				  NULL) < 0) {
			int err = gs_error_last()->os_errno;
			item->hashed = err == EMFILE || err == ENFILE ? 0 : -1;
			take_error(&item->err, &item->message);
			if (!item->hashed) {
				item->err = 0;
				free(item->message);
				item->message = NULL;
			}
		} else {
			item->hashed = 1;
			item->exec = mode == GS_MODE_EXEC;
		}
	}
	gs_buf_free(&path);
	close(chunk->dirfd);
	chunk->dirfd = -1;
}

/* The next chunk to hash; NULL once the walk has ended and none is left. */
static hash_chunk *pool_take(hash_pool *pool)
{
	hash_chunk *chunk = NULL;

	pthread_mutex_lock(&pool->lock);
	while (pool->next == pool->count && pool->walking)
		pthread_cond_wait(&pool->queued, &pool->lock);
	if (pool->next < pool->count)
		chunk = pool->chunks[pool->next++];
	pthread_mutex_unlock(&pool->lock);
	return chunk;
}

/* Hash a chunk taken from the queue and hand it back. */
static void pool_hash(hash_pool *pool, hash_chunk *chunk)
{
	chunk_hash(chunk);
	pthread_mutex_lock(&pool->lock);
	chunk->next_done = pool->done;
	pool->done = chunk;
	pthread_mutex_unlock(&pool->lock);
}

static void *pool_helper(void *arg)
{
	hash_pool *pool = arg;
	hash_chunk *chunk;

	while ((chunk = pool_take(pool)))
		pool_hash(pool, chunk);
	return NULL;
}

/* On the walking thread: give the entries of hashed chunks their ids
 * (none when `list` is NULL) and free the chunks. */
static void pool_apply(hash_pool *pool, gs_local_list *list)
{
	hash_chunk *chunk, *next;

	pthread_mutex_lock(&pool->lock);
	chunk = pool->done;
	pool->done = NULL;
	pthread_mutex_unlock(&pool->lock);
	for (; chunk; chunk = next) {
		next = chunk->next_done;
		for (size_t i = 0; list && i < chunk->count; i++) {
			hash_item *item = &chunk->items[i];
			gs_local_entry *e = &list->items[item->index];
			e->hashed = item->hashed;
			if (item->hashed < 0) {
				e->err = item->err;
				e->message = item->message;
				item->message = NULL;
			} else if (item->hashed > 0) {
				e->exec = item->exec;
				git_oid_cpy(&e->id, &item->id);
			}
		}
		chunk_free(chunk);
	}
}

static void pool_init(hash_pool *pool, gs_local_list *list, const gs_filelist *stored,
		      const char *prefix)
{
	memset(pool, 0, sizeof(*pool));
	pool->list = list;
	pool->stored = stored;
	pool->prefix = prefix;
	pool->walking = 1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->queued, NULL);
}

static int compare_file_paths(const void *a, const void *b)
{
	return strcmp(((const gs_file *)a)->path, ((const gs_file *)b)->path);
}

/* 1 when the destination has a file at `rel` (relative to the walk root).
 * The walk asks in path order, so a cursor mostly moves forward; a path
 * behind it (a linked directory walked out of order) is searched for. */
static int pool_wants(hash_pool *pool, const char *rel)
{
	const gs_file *items = pool->stored->items;
	size_t n = pool->stored->count, i = pool->cursor;
	const char *key = rel;
	gs_file probe = {0};
	int c = 1;

	if (*pool->prefix) {
		pool->key.size = 0;
		if (gs_buf_puts(&pool->key, pool->prefix) < 0 || gs_buf_put(&pool->key, "/", 1) < 0 ||
		    gs_buf_puts(&pool->key, rel) < 0) {
			gs_error_clear();   /* not hashed here: the diff hashes it later */
			return 0;
		}
		key = pool->key.data;
	}
	if (i > 0 && strcmp(items[i - 1].path, key) >= 0) {
		probe.path = (char *)key;
		return bsearch(&probe, items, n, sizeof(*items), compare_file_paths) != NULL;
	}
	while (i < n && (c = strcmp(items[i].path, key)) < 0)
		i++;
	pool->cursor = i;
	return i < n && c == 0;
}

/* Queue a chunk; helpers start once there is more than one. */
static int pool_submit(hash_pool *pool, hash_chunk *chunk)
{
	int start_helpers;

	pthread_mutex_lock(&pool->lock);
	if (pool->count == pool->cap) {
		size_t cap = pool->cap ? pool->cap * 2 : 64;
		hash_chunk **grown = realloc(pool->chunks, cap * sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&pool->lock);
			chunk_free(chunk);
			return gs_error_set_os(ENOMEM, "out of memory");
		}
		pool->chunks = grown;
		pool->cap = cap;
	}
	pool->chunks[pool->count++] = chunk;
	start_helpers = pool->count == 2;
	/* Each queued chunk holds an fd: past a few, the walk hashes one
	 * itself instead of running out of them. */
	chunk = pool->count - pool->next > HASH_QUEUED_MAX ? pool->chunks[pool->next++] : NULL;
	pthread_cond_signal(&pool->queued);
	pthread_mutex_unlock(&pool->lock);
	if (chunk)
		pool_hash(pool, chunk);
	if (start_helpers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		size_t want = cpus > 1 ? (size_t)cpus - 1 : 0;
		if (want > HASH_HELPERS)
			want = HASH_HELPERS;
		while (pool->nhelpers < want &&
		       pthread_create(&pool->helpers[pool->nhelpers], NULL, pool_helper, pool) == 0)
			pool->nhelpers++;
	}
	/* Chunks are freed as soon as their results are in: a tree of many
	 * small directories would otherwise keep one per directory. */
	pool_apply(pool, pool->list);
	return 0;
}

/*
 * End the walk's side: hash what is left (with `list`) or drop it (NULL:
 * the walk failed), wait for the helpers, and give each hashed entry of
 * `list` its id.
 */
static void pool_finish(hash_pool *pool, gs_local_list *list)
{
	hash_chunk *chunk;

	pthread_mutex_lock(&pool->lock);
	pool->walking = 0;
	if (!list) {
		for (; pool->next < pool->count; pool->next++)
			chunk_free(pool->chunks[pool->next]);
	}
	pthread_cond_broadcast(&pool->queued);
	pthread_mutex_unlock(&pool->lock);
	while ((chunk = pool_take(pool)))
		pool_hash(pool, chunk);
	for (size_t t = 0; t < pool->nhelpers; t++)
		pthread_join(pool->helpers[t], NULL);
	pool_apply(pool, list);
	free(pool->chunks);
	gs_buf_free(&pool->key);
	pthread_cond_destroy(&pool->queued);
	pthread_mutex_destroy(&pool->lock);
}

/* Add entry `index` (`name` in the directory dirfd, path `dir`) to *chunk,
 * queueing it when full.  Without a spare fd the file is left unhashed. */
static int chunk_add(hash_chunk **chunk, hash_pool *pool, int dirfd, const char *dir,
		     size_t index, const char *name, size_t name_len)
{
	hash_chunk *c = *chunk;
	hash_item *item;

	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return gs_error_set_os(ENOMEM, "out of memory");
		if ((c->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
			free(c);
			return 0;
		}
		if (!(c->dir = strdup(dir))) {
			chunk_free(c);
			return gs_error_set_os(ENOMEM, "out of memory");
		}
		*chunk = c;
	}
	item = &c->items[c->count];
	item->index = index;
	item->name_at = c->names.size;
	if (gs_buf_put(&c->names, name, name_len + 1) < 0)
		return -1;
	c->count++;
	if (c->count == HASH_CHUNK) {
		*chunk = NULL;
		return pool_submit(pool, c);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The walk                                                            */

/*
 * The walk keeps its own stack of open directories instead of recursing,
 * so a deep tree costs heap, not C stack.  Each level holds an open
 * directory, so the depth is bounded: a directory nested deeper is a
 * problem entry of its own, like one that cannot be read.
 */
#define WALK_MAX_DEPTH 256

/* A directory's entries: each name follows a byte saying what readdir
 * knew it as ('f' regular file, 'd' directory, '?' to be stat'ed). */
typedef struct {
	gs_buf names;
	size_t *at;      /* where each entry starts, in walk order */
	size_t count;
} dir_listing;

/* One directory being walked. */
typedef struct {
	DIR *dir;
	int fd;
	char *path;          /* the directory itself, for messages */
	dir_listing listing;
	size_t next;         /* the next entry of listing to look at */
	gs_buf abs, rel;     /* the directory and a separator: children's names go after */
	size_t abs_len, rel_len;
	hash_chunk *chunk;   /* files of this directory waiting to be hashed */
	dev_t dev;           /* a followed symlink leading back here would loop */
	ino_t ino;
} walk_frame;

typedef struct {
	gs_local_list *out;
	gs_exclude_walk exclude;
	int filtering;
	int follow;
	int lazy;           /* regular files: type from readdir, stat left to the caller */
	hash_pool *pool;    /* NULL: nothing is hashed during the walk */
	walk_frame *frames; /* the directories being walked, root first */
	size_t depth, cap;
} walk_ctx;

static int excluded(int *out, walk_ctx *ctx, const char *rel, int is_dir)
{
	*out = 0;
	return ctx->filtering ? gs_exclude_walk_is_excluded(out, &ctx->exclude, rel, is_dir) : 0;
}

static int on_chain(const walk_ctx *ctx, const struct stat *st)
{
	for (size_t i = 0; i < ctx->depth; i++)
		if (ctx->frames[i].dev == st->st_dev && ctx->frames[i].ino == st->st_ino)
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

/* `dir` and a separator (none after "" or a '/'): children's names go after. */
static int child_prefix(gs_buf *buf, const char *dir)
{
	size_t len = strlen(dir);

	if (gs_buf_put(buf, dir, len) < 0)
		return -1;
	return len && dir[len - 1] != '/' ? gs_buf_put(buf, "/", 1) : 0;
}

static const char *child_path(gs_buf *buf, size_t prefix_len, const char *name, size_t len)
{
	buf->size = prefix_len;
	return gs_buf_put(buf, name, len) < 0 ? NULL : buf->data;
}

/* One directory entry (`name` in the open directory dirfd): `st` is its
 * lstat.  *descend = 1 when it is a directory to walk; `st` then holds
 * the directory's own stat. */
static int walk_entry(int *descend, walk_ctx *ctx, int dirfd, const char *name, const char *rel,
		      struct stat *st)
{
	struct stat target;
	int skip, is_dir;

	*descend = 0;
	if (S_ISLNK(st->st_mode)) {
		int resolves = fstatat(dirfd, name, &target, 0) == 0;
		is_dir = resolves && S_ISDIR(target.st_mode);
		if (excluded(&skip, ctx, rel, is_dir) < 0)
			return -1;
		if (skip)
			return 0;
		if (!ctx->follow)
			return local_push(ctx->out, rel, GS_LOCAL_LINK, 0, 0, 0);
		if (!resolves)  /* reading it will say why */
			return local_push(ctx->out, rel, GS_LOCAL_FILE, 0, 0, 0);
		*st = target;
		if (is_dir) {
			*descend = !on_chain(ctx, st);
			return 0;
		}
	} else {
		is_dir = S_ISDIR(st->st_mode);
		if (excluded(&skip, ctx, rel, is_dir) < 0)
			return -1;
		if (skip)
			return 0;
		if (is_dir) {
			*descend = 1;
			return 0;
		}
	}
	return local_push(ctx->out, rel, S_ISREG(st->st_mode) ? GS_LOCAL_FILE : GS_LOCAL_SPECIAL,
			  (st->st_mode & 0111) != 0, (int64_t)st->st_mtime, 0);
}

/* A regular file known from readdir: listed unstat'ed, maybe queued for hashing. */
static int walk_lazy_file(walk_ctx *ctx, hash_chunk **chunk, int dirfd, const char *abs,
			  const char *rel, const char *name, size_t name_len)
{
	int skip;

	if (excluded(&skip, ctx, rel, 0) < 0)
		return -1;
	if (skip)
		return 0;
	if (local_push(ctx->out, rel, GS_LOCAL_FILE, -1, 0, 0) < 0)
		return -1;
	if (!ctx->pool || !pool_wants(ctx->pool, rel))
		return 0;
	return chunk_add(chunk, ctx->pool, dirfd, abs, ctx->out->count - 1, name, name_len);
}

/* Order of names as paths: a directory's name is followed by '/' in its
 * children's paths, so walking in this order lists paths sorted. */
static int compare_listed(const void *a, const void *b, void *arg)
{
	const char *x = (const char *)arg + *(const size_t *)a;
	const char *y = (const char *)arg + *(const size_t *)b;
	const char *nx = x + 1, *ny = y + 1;
	unsigned char cx, cy;

	while (*nx && *nx == *ny) {
		nx++;
		ny++;
	}
	cx = *nx ? (unsigned char)*nx : *x == 'd' ? '/' : 0;
	cy = *ny ? (unsigned char)*ny : *y == 'd' ? '/' : 0;
	return (cx > cy) - (cx < cy);
}

static int list_dir(dir_listing *out, DIR *dir)
{
	struct dirent *de;
	size_t cap = 0;

	while ((errno = 0, de = readdir(dir))) {
		const char *tag = de->d_type == DT_REG ? "f" : de->d_type == DT_DIR ? "d" : "?";
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (out->count == cap) {
			size_t *grown = realloc(out->at, (cap = cap ? cap * 2 : 64) * sizeof(*grown));
			if (!grown)
				return gs_error_set_os(ENOMEM, "out of memory");
			out->at = grown;
		}
		out->at[out->count++] = out->names.size;
		if (gs_buf_put(&out->names, tag, 1) < 0 ||
		    gs_buf_put(&out->names, de->d_name, strlen(de->d_name) + 1) < 0)
			return -1;
	}
	if (errno)
		return errno;
	if (out->count > 1)
		qsort_r(out->at, out->count, sizeof(*out->at), compare_listed, out->names.data);
	return 0;
}

static void frame_clear(walk_frame *f)
{
	chunk_free(f->chunk);
	if (f->dir)
		closedir(f->dir);
	free(f->path);
	gs_buf_free(&f->listing.names);
	free(f->listing.at);
	gs_buf_free(&f->abs);
	gs_buf_free(&f->rel);
	memset(f, 0, sizeof(*f));
}

/* A directory that is not walked: a problem entry saying why. */
static int push_baddir(walk_ctx *ctx, const char *rel, int err, const char *abs)
{
	gs_local_entry *e;

	if (local_push(ctx->out, rel, GS_LOCAL_BADDIR, 0, 0, err) < 0)
		return -1;
	if (err)
		return 0;
	e = &ctx->out->items[ctx->out->count - 1];
	if (!(e->message = malloc(strlen(abs) + 64)))
		return gs_error_set_os(ENOMEM, "out of memory");
	sprintf(e->message, "Directory nested more than %d deep: %s", WALK_MAX_DEPTH, abs);
	return 0;
}

/* Open the directory abs (rel below the walk root; `self` is its stat) as
 * the innermost level of the walk, or list it as a problem. */
static int walk_enter(walk_ctx *ctx, const char *abs, const char *rel, const struct stat *self)
{
	walk_frame *f;
	int fd, err;

	if (ctx->depth == WALK_MAX_DEPTH)
		return push_baddir(ctx, rel, 0, abs);
	if (ctx->depth == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 16;
		walk_frame *grown = realloc(ctx->frames, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		ctx->frames = grown;
		ctx->cap = cap;
	}
	f = &ctx->frames[ctx->depth];
	memset(f, 0, sizeof(*f));
	if ((fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return push_baddir(ctx, rel, errno, abs);
	if (!(f->dir = fdopendir(fd))) {
		err = errno;
		close(fd);
		return push_baddir(ctx, rel, err, abs);
	}
	f->fd = fd;
	if ((err = list_dir(&f->listing, f->dir)) != 0) {
		frame_clear(f);
		return err > 0 ? push_baddir(ctx, rel, err, abs) : -1;
	}
	if (!(f->path = strdup(abs))) {
		frame_clear(f);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	if ((ctx->filtering && gs_exclude_walk_enter_directory(&ctx->exclude, abs, rel) < 0) ||
	    child_prefix(&f->abs, abs) < 0 || child_prefix(&f->rel, rel) < 0) {
		frame_clear(f);
		return -1;
	}
	f->abs_len = f->abs.size;
	f->rel_len = f->rel.size;
	f->dev = self->st_dev;
	f->ino = self->st_ino;
	ctx->depth++;
	return 0;
}

/* Leave the innermost directory, handing its last files to the hashers. */
static int walk_leave(walk_ctx *ctx)
{
	walk_frame *f = &ctx->frames[--ctx->depth];
	hash_chunk *chunk = f->chunk;

	f->chunk = NULL;
	frame_clear(f);
	return chunk ? pool_submit(ctx->pool, chunk) : 0;
}

/* The next entry of the innermost directory. */
static int walk_step(walk_ctx *ctx)
{
	walk_frame *f = &ctx->frames[ctx->depth - 1];
	const char *entry = f->listing.names.data + f->listing.at[f->next++];
	const char *name = entry + 1;
	size_t name_len = strlen(name);
	struct stat st;
	int descend;

	if (!child_path(&f->rel, f->rel_len, name, name_len))
		return -1;
	if (entry[0] == 'f' && ctx->lazy)
		return walk_lazy_file(ctx, &f->chunk, f->fd, f->path, f->rel.data, name, name_len);
	if (!child_path(&f->abs, f->abs_len, name, name_len))
		return -1;
	if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;   /* gone since readdir */
	/* A chunk holds an fd: none waits while a subdirectory is walked. */
	if (f->chunk && (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))) {
		hash_chunk *chunk = f->chunk;
		f->chunk = NULL;
		if (pool_submit(ctx->pool, chunk) < 0)
			return -1;
	}
	if (walk_entry(&descend, ctx, f->fd, name, f->rel.data, &st) < 0)
		return -1;
	/* The child's paths live in f's buffers, which stay put when the
	 * stack of frames grows. */
	return descend ? walk_enter(ctx, f->abs.data, f->rel.data, &st) : 0;
}

static int compare_local(const void *a, const void *b)
{
	return strcmp(((const gs_local_entry *)a)->rel, ((const gs_local_entry *)b)->rel);
}

/* Sort `count` items of `size` bytes, unless they already are: walks and
 * tree listings mostly come sorted. */
static void sort_unless_sorted(void *items, size_t count, size_t size,
			       int (*compare)(const void *, const void *))
{
	for (size_t i = 1; i < count; i++) {
		if (compare((char *)items + (i - 1) * size, (char *)items + i * size) > 0) {
			qsort(items, count, size, compare);
			return;
		}
	}
}

/* gs_local_walk; with `stored`, files the destination also has (below
 * `prefix`) are hashed on helper threads as the walk goes. */
static int walk_local(gs_local_list *out, const char *root, const gs_exclude *filter,
		      int follow_symlinks, int lazy_stat, const gs_filelist *stored,
		      const char *prefix)
{
	walk_ctx ctx = {0};
	hash_pool pool;
	struct stat st;
	int rc;

	memset(out, 0, sizeof(*out));
	ctx.out = out;
	ctx.follow = follow_symlinks;
	ctx.lazy = lazy_stat;
	ctx.filtering = gs_exclude_active(filter);
	if (stored && stored->count && lazy_stat) {
		pool_init(&pool, out, stored, prefix);
		ctx.pool = &pool;
	}
	gs_exclude_walk_begin(&ctx.exclude, ctx.filtering ? filter : NULL);
	if (stat(root, &st) < 0)
		rc = local_push(out, "", GS_LOCAL_BADDIR, 0, 0, errno);
	else
		rc = walk_enter(&ctx, root, "", &st);
	while (rc == 0 && ctx.depth > 0) {
		walk_frame *f = &ctx.frames[ctx.depth - 1];
		rc = f->next < f->listing.count ? walk_step(&ctx) : walk_leave(&ctx);
	}
	while (ctx.depth > 0)
		frame_clear(&ctx.frames[--ctx.depth]);
	free(ctx.frames);
	gs_exclude_walk_end(&ctx.exclude);
	if (ctx.pool)
		pool_finish(ctx.pool, rc < 0 ? NULL : out);
	if (rc < 0) {
		gs_local_list_free(out);
		return -1;
	}
	sort_unless_sorted(out->items, out->count, sizeof(*out->items), compare_local);
	return 0;
}

int gs_local_walk(gs_local_list *out, const char *root, const gs_exclude *filter,
		  int follow_symlinks, int lazy_stat)
{
	return walk_local(out, root, filter, follow_symlinks, lazy_stat, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* What local sources change below a destination                       */

void gs_local_diff_free(gs_local_diff *diff)
{
	gs_local_list_free(&diff->add);
	gs_local_list_free(&diff->update);
	gs_local_list_free(&diff->problems);
	gs_local_list_free(&diff->overlaps);
	gs_filelist_free(&diff->delete);
	diff->unchanged = 0;
}

/* Move an entry to the end of `list` (its strings change owner). */
static int local_move(gs_local_list *list, gs_local_entry *e)
{
	if (local_grow(list) < 0)
		return -1;
	list->items[list->count++] = *e;
	memset(e, 0, sizeof(*e));
	return 0;
}

/* The entries of one source, with rel below dest and the local path.
 * With `stored`, the walk hashes the files both sides have. */
static int source_entries(gs_local_list *out, const gs_local_source *src,
			  const gs_local_diff_opts *opts, const gs_filelist *stored)
{
	gs_local_list found = {0};
	struct stat st;
	size_t start = out->count;

	if (!src->walk) {
		int is_link = lstat(src->path, &st) == 0 && S_ISLNK(st.st_mode);
		if (is_link && !opts->follow_symlinks) {
			if (local_push(out, src->rel, GS_LOCAL_LINK, 0, 0, 0) < 0)
				return -1;
		} else if (stat(src->path, &st) < 0) {
			if (local_push(out, src->rel, GS_LOCAL_FILE, 0, 0, 0) < 0)
				return -1;
		} else if (local_push(out, src->rel,
				      S_ISREG(st.st_mode) ? GS_LOCAL_FILE : GS_LOCAL_SPECIAL,
				      (st.st_mode & 0111) != 0, (int64_t)st.st_mtime, 0) < 0) {
			return -1;
		}
		if (!(out->items[start].local = strdup(src->path)))
			return gs_error_set_os(ENOMEM, "out of memory");
		return 0;
	}
	if (walk_local(&found, src->path, opts->filter, opts->follow_symlinks, 1, stored,
		       src->rel) < 0)
		return -1;
	for (size_t i = 0; i < found.count; i++) {
		gs_local_entry *e = &found.items[i];
		char *rel = NULL, *local;
		if (*src->rel)
			rel = *e->rel ? join2(src->rel, e->rel) : strdup(src->rel);
		local = *e->rel ? join2(src->path, e->rel) : strdup(src->path);
		if ((*src->rel && !rel) || !local) {
			free(rel);
			free(local);
			gs_local_list_free(&found);
			return gs_error_set_os(ENOMEM, "out of memory");
		}
		if (rel) {
			free(e->rel);
			e->rel = rel;
		}
		e->local = local;
		if (local_move(out, e) < 0) {
			gs_local_list_free(&found);
			return -1;
		}
	}
	gs_local_list_free(&found);
	return 0;
}

/* Execute bit and mtime of an entry the walk did not stat. */
static void fill_stat(gs_local_entry *e)
{
	struct stat st;

	if (e->exec >= 0)
		return;
	if (stat(e->local, &st) < 0) {
		e->exec = 0;
		return;
	}
	e->exec = (st.st_mode & 0111) != 0;
	e->mtime = (int64_t)st.st_mtime;
}

/* One file on both sides, to be compared by a worker. */
typedef struct {
	gs_local_entry *entry;
	const gs_file *stored;
	int same;
} comparison;

typedef struct {
	comparison *items;
	size_t count, next, stride;
	uint32_t mode_override;
} compare_job;

/* The directory a worker opened last: files come in path order, so
 * most open relative to it instead of resolving the whole path. */
typedef struct {
	char *path;
	int fd;
} open_dir;

static int dir_fd_for(open_dir *dir, const char *local, const char **name)
{
	const char *slash = strrchr(local, '/');
	size_t len = slash ? (size_t)(slash - local) : 0;

	*name = slash ? slash + 1 : local;
	if (!slash)
		return AT_FDCWD;
	if (dir->path && strlen(dir->path) == len && memcmp(dir->path, local, len) == 0) {
		if (dir->fd < 0)
			*name = local;   /* it could not be opened: the full path says why */
		return dir->fd < 0 ? AT_FDCWD : dir->fd;
	}
	if (dir->fd >= 0)
		close(dir->fd);
	free(dir->path);
	dir->fd = -1;
	if ((dir->path = strndup(local, len)))
		dir->fd = open(len ? dir->path : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir->fd < 0) {
		*name = local;   /* let the full path say what is wrong */
		return AT_FDCWD;
	}
	return dir->fd;
}

/* The mode an entry would be stored with. */
static uint32_t local_mode(const gs_local_entry *e, uint32_t mode_override)
{
	if (e->kind == GS_LOCAL_LINK)
		return GS_MODE_LINK;
	if (mode_override)
		return mode_override;
	return e->exec ? GS_MODE_EXEC : GS_MODE_BLOB;
}

static void compare_one(comparison *c, uint32_t mode_override, open_dir *dir)
{
	gs_local_entry *e = c->entry;

	if (!e->hashed) {
		int is_link = e->kind == GS_LOCAL_LINK;
		const char *name;
		int dirfd = dir_fd_for(dir, e->local, &name);
		uint32_t mode = 0;

		if (local_blob_at(&e->id, &mode, NULL, dirfd, name, e->local, is_link, 0,
				  NULL) < 0) {
			take_error(&e->err, &e->message);
			e->hashed = -1;
		} else {
			e->hashed = 1;
			if (is_link)
				fill_stat(e);
			else
				e->exec = mode == GS_MODE_EXEC;
		}
	}
	if (e->hashed < 0)
		c->same = -1;
	else
		c->same = local_mode(e, mode_override) == c->stored->mode &&
			  git_oid_equal(&e->id, &c->stored->id);
}

static void *compare_worker(void *arg)
{
	compare_job *job = arg;
	open_dir dir = {NULL, -1};
	/* Each worker takes a contiguous run, so its files share directories. */
	size_t per = (job->count + job->stride - 1) / job->stride;
	size_t start = job->next * per, end = start + per < job->count ? start + per : job->count;

	for (size_t i = start; i < end; i++)
		compare_one(&job->items[i], job->mode_override, &dir);
	if (dir.fd >= 0)
		close(dir.fd);
	free(dir.path);
	return NULL;
}

/* Compare every item, hashing the local side of those the walk did not
 * hash on up to 4 threads. */
static void compare_all(comparison *items, size_t count, uint32_t mode_override)
{
	enum { MAX_THREADS = 4 };
	pthread_t threads[MAX_THREADS];
	compare_job jobs[MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = cpus > 1 ? (size_t)cpus : 1, started = 0, unhashed = 0;

	for (size_t i = 0; i < count; i++)
		unhashed += !items[i].entry->hashed;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	if (unhashed < 64)
		nthreads = 1;
	for (size_t t = 0; t < nthreads; t++)
		jobs[t] = (compare_job){items, count, t, nthreads, mode_override};
	/* Workers 1..n-1 run beside this thread, which does share 0. */
	for (size_t t = 1; t < nthreads; t++) {
		if (pthread_create(&threads[t], NULL, compare_worker, &jobs[t]) != 0)
			break;
		started = t;
	}
	compare_worker(&jobs[0]);
	for (size_t t = 1; t <= started; t++)
		pthread_join(threads[t], NULL);
	/* Shares whose thread could not start. */
	for (size_t t = started + 1; t < nthreads; t++)
		compare_worker(&jobs[t]);
}

/* 1 when rel is below a directory that could not be read. */
static int below_unreadable(const gs_local_list *problems, const char *rel)
{
	for (size_t i = 0; i < problems->count; i++) {
		const gs_local_entry *d = &problems->items[i];
		size_t len = strlen(d->rel);
		if (d->kind == GS_LOCAL_BADDIR &&
		    (!len || (strncmp(d->rel, rel, len) == 0 && rel[len] == '/')))
			return 1;
	}
	return 0;
}

int gs_local_diff_compute(gs_local_diff *out, gs_store *store, git_repository *repo,
			  const git_oid *dest_tree, const gs_local_source *sources, size_t nsources,
			  const gs_local_diff_opts *opts)
{
	gs_local_list all = {0};
	gs_filelist stored = {0};
	gs_path_seq *order = NULL;
	comparison *both = NULL;
	char *matched = NULL;
	const char *prev = NULL;   /* rel of the last entry kept */
	size_t nboth = 0, s = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (opts->compare && dest_tree) {
		if (gs_tree_files_by_path(&stored, store, repo, dest_tree) < 0)
			goto done;
		sort_unless_sorted(stored.items, stored.count, sizeof(*stored.items),
				   compare_file_paths);
	}
	for (size_t i = 0; i < nsources; i++)
		if (source_entries(&all, &sources[i], opts, opts->checksum ? &stored : NULL) < 0)
			goto done;
	order = malloc((all.count ? all.count : 1) * sizeof(*order));
	both = malloc((all.count ? all.count : 1) * sizeof(*both));
	matched = calloc(stored.count + 1, 1);
	if (!order || !both || !matched) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	/* Sources were appended in order, so the index is the sequence; one
	 * source comes sorted from its walk. */
	for (size_t i = 0; i < all.count; i++)
		order[i] = (gs_path_seq){all.items[i].rel, i};
	if (nsources > 1)
		gs_path_seq_sort(order, all.count);
	for (size_t i = 0; i < all.count; i++) {
		gs_local_entry *e = &all.items[order[i].seq];
		const char *rel = e->rel;   /* the string outlives a move */
		int c = 1;

		/* A directory that could not be read claims no path. */
		if (e->kind != GS_LOCAL_BADDIR && prev && strcmp(prev, rel) == 0) {
			if (local_move(&out->overlaps, e) < 0)
				goto done;
			continue;
		}
		if (e->kind != GS_LOCAL_BADDIR)
			prev = rel;
		while (s < stored.count && (c = strcmp(stored.items[s].path, rel)) < 0)
			s++;
		if (s < stored.count && c == 0)
			matched[s] = 1;   /* present locally: never deleted */
		else
			c = 1;
		if (e->kind == GS_LOCAL_BADDIR || e->kind == GS_LOCAL_SPECIAL) {
			if (local_move(&out->problems, e) < 0)
				goto done;
			continue;
		}
		if (c == 0) {
			if (!opts->checksum)
				fill_stat(e);
			if (!opts->checksum && e->kind != GS_LOCAL_LINK && e->mtime &&
			    e->mtime <= opts->since)
				out->unchanged++;
			else
				both[nboth++] = (comparison){e, &stored.items[s], 0};
			continue;
		}
		fill_stat(e);
		if (local_move(&out->add, e) < 0)
			goto done;
	}
	compare_all(both, nboth, opts->mode_override);
	for (size_t i = 0; i < nboth; i++) {
		if (both[i].same == 1)
			out->unchanged++;
		else if (local_move(both[i].same < 0 ? &out->problems : &out->update,
				    both[i].entry) < 0)
			goto done;
	}
	for (size_t i = 0; i < stored.count; i++)
		if (!matched[i] && !below_unreadable(&out->problems, stored.items[i].path) &&
		    gs_filelist_push(&out->delete, stored.items[i].path, &stored.items[i].id,
				     stored.items[i].mode) < 0)
			goto done;
	rc = 0;
done:
	free(order);
	free(both);
	free(matched);
	gs_local_list_free(&all);
	gs_filelist_free(&stored);
	if (rc < 0)
		gs_local_diff_free(out);
	return rc;
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
			return gs_error_set_path(errno, path, "");
		if (n == 0)
			return gs_error_set(GS_ERR_OS, "%s changed size while it was read", path);
		done += (size_t)n;
	}
	return 0;
}

/* The blob id of `size` bytes read from fd, streamed. */
static int hash_fd(git_oid *out, int fd, uint64_t size, const char *path)
{
	char chunk[64 * 1024];
	unsigned char raw[20];
	uint64_t done = 0;
	gs_sha1 sha;

	gs_object_hash_begin(&sha, GIT_OBJECT_BLOB, size);
	while (done < size) {
		size_t want = size - done < sizeof(chunk) ? (size_t)(size - done) : sizeof(chunk);
		if (read_full(fd, chunk, want, path) < 0)
			return -1;
		gs_sha1_update(&sha, chunk, want);
		done += want;
	}
	gs_sha1_final(&sha, raw);
	git_oid_fromraw(out, raw);
	return 0;
}

static int same_entry(const gs_entry *unless, const git_oid *id, uint32_t mode)
{
	return unless && unless->mode == mode && git_oid_equal(&unless->id, id);
}

static int link_blob(git_oid *out, gs_txn *txn, int dirfd, const char *name, const char *path,
		     const gs_entry *unless)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf));

	if (n < 0)
		return gs_error_set_path(errno, path, "");
	gs_object_hash(out, GIT_OBJECT_BLOB, buf, (size_t)n);
	if (!txn || same_entry(unless, out, GS_MODE_LINK))
		return 0;
	return gs_txn_put(out, txn, GIT_OBJECT_BLOB, buf, (size_t)n);
}

/* gs_local_blob for `name` in the directory dirfd (`path` in messages). */
static int local_blob_at(git_oid *out, uint32_t *mode, gs_txn *txn, int dirfd, const char *name,
			 const char *path, int as_link, uint32_t mode_override,
			 const gs_entry *unless)
{
	struct stat st;
	char *data = NULL;
	int fd, rc = -1;

	if (as_link) {
		*mode = GS_MODE_LINK;
		return link_blob(out, txn, dirfd, name, path, unless);
	}
	/* O_NONBLOCK: opening a fifo must not hang; it is refused below. */
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return gs_error_set_path(errno, path, "");
	if (fstat(fd, &st) < 0) {
		gs_error_set_path(errno, path, "");
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		gs_error_set_path(EISDIR, path, "");
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
			gs_error_set_path(errno, path, "");
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

int gs_local_blob(git_oid *out, uint32_t *mode, gs_txn *txn, const char *path, int as_link,
		  uint32_t mode_override, const gs_entry *unless)
{
	return local_blob_at(out, mode, txn, AT_FDCWD, path, path, as_link, mode_override, unless);
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
			gs_error_set_path(err, full, "");
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
			return gs_error_set_path(errno, path, "");
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
				gs_error_set_path(errno, full, "");
				goto done;
			}
			free(ex->verified);
			ex->verified = NULL;
		} else if (unlink(full) < 0) {
			gs_error_set_path(errno, full, "");
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
			gs_error_set_path(errno, full, "");
			goto done;
		}
		free(text);
		if (remember_link(ex, rel) < 0)
			goto done;
	} else {
		fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0) {
			gs_error_set_path(errno, full, "");
			goto done;
		}
		if (blob_to_fd(ex, id, fd, full) < 0)
			goto done;
		if (mode == GS_MODE_EXEC && fchmod(fd, 0755) < 0) {
			gs_error_set_path(errno, full, "");
			goto done;
		}
	}
	times[0].tv_sec = times[1].tv_sec = (time_t)ex->mtime;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, full, times, AT_SYMLINK_NOFOLLOW) < 0) {
		gs_error_set_path(errno, full, "");
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	free(full);
	return rc;
}
