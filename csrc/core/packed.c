/* packed.c - big blobs stored whole in a pack, read as loose ones are.
 *
 * libgit2 reads a packed object by inflating all of it with zlib into a
 * buffer of its own and hashing the result again (strict hash
 * verification): a 128 MiB blob packed by `git fast-import` took twice as
 * long as `git cat-file` (bench/bench_bigread.py), a partial read as long
 * as a whole one, and memory as much as the blob.  Here the blob's entry is
 * found through the pack's index and handed to loose.c's reader, which
 * reads a pack entry's zlib stream as it reads a loose object's: whole
 * reads in one libdeflate call, partial reads and file objects inflating
 * only what they need, from where the last read stopped.  Only blobs of
 * GS_BIG_BLOB bytes or more, stored whole: a delta, or anything small, is
 * left to libgit2.  The lookup here replaces libgit2's own "is it packed"
 * lookup, so small reads pay nothing for it.
 *
 * The store keeps the indexes and packs it has seen mapped.  The directory
 * is looked at again when libgit2 finds packed an object they do not list,
 * at the first read after this store merged packs, and otherwise at most
 * every RECHECK_NS, as the store's handles do (store.c): each time only if
 * its mtime moved (or may have moved unseen).  A pack another process
 * merged away stays mapped until then, and its objects stay readable: a
 * pack never changes once written.  A reader opens the pack's file again
 * for itself (under the read lock that keeps the mapping from a rescan,
 * checking it is the same pack), so it needs neither the mapping nor the
 * file's name afterwards: a pack deleted while a file object reads it is
 * read to the end.
 */
#include "gs_internal.h"
#include "loose.h"
#include "packed.h"
#include "packidx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECHECK_NS 10000000LL

typedef struct {
	char *name;                 /* "pack-<hex>" */
	gs_mapped_pack map;
	int seen;                   /* still in the directory (during a scan) */
} pack_map;

struct gs_packed_index {
	pthread_rwlock_t lock;
	char *dir;
	pack_map *packs;
	size_t count;
	struct timespec scanned_mtime;   /* the directory's mtime at the last scan, */
	time_t scanned_at;               /* and when that scan was */
	int scanned;
	atomic_int merged;               /* this store removed packs since */
	atomic_llong checked_ns;         /* CLOCK_MONOTONIC_COARSE of the last look */
};

static void unmap_pack(pack_map *p)
{
	gs_mapped_pack_close(&p->map);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

/* Map pack `name`; 0 and nothing mapped for a pack that cannot be used
 * here: libgit2 reads its objects. */
static int map_pack(pack_map *out, const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *base = malloc(len);

	memset(out, 0, sizeof(*out));
	if (!base || !(out->name = strdup(name))) {
		free(base);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	snprintf(base, len, "%s/%s", dir, name);
	if (!gs_mapped_pack_open(&out->map, base))
		unmap_pack(out);
	free(base);
	return 0;
}

static int dir_mtime(struct timespec *out, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return -1;
	*out = st.st_mtim;
	return 0;
}

/* Whether the directory may hold packs the last scan did not see: its
 * mtime moved, or the scan was so soon after that mtime that a pack added
 * in the same tick would not have moved it. */
static int may_have_changed(const gs_packed_index *ix)
{
	struct timespec now;

	if (!ix->scanned)
		return 1;
	if (dir_mtime(&now, ix->dir) < 0)
		return 0;
	return now.tv_sec != ix->scanned_mtime.tv_sec ||
	       now.tv_nsec != ix->scanned_mtime.tv_nsec ||
	       ix->scanned_at <= ix->scanned_mtime.tv_sec + 1;
}

/* Map the packs not mapped yet and unmap those that are gone (the write
 * lock held). */
static int rescan(gs_packed_index *ix)
{
	struct timespec mtime = {0, 0};
	struct dirent *e;
	DIR *d;
	size_t kept = 0;

	dir_mtime(&mtime, ix->dir);
	/* What cannot be listed here, libgit2 reads. */
	if (!(d = opendir(ix->dir)))
		return 0;
	for (size_t i = 0; i < ix->count; i++)
		ix->packs[i].seen = 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), i;
		char name[256];
		pack_map p;

		if (len < 10 || strncmp(e->d_name, "pack-", 5) != 0 ||
		    strcmp(e->d_name + len - 4, ".idx") != 0 || len - 4 >= sizeof(name))
			continue;
		memcpy(name, e->d_name, len - 4);
		name[len - 4] = '\0';
		for (i = 0; i < ix->count && strcmp(ix->packs[i].name, name) != 0; i++)
			;
		if (i < ix->count) {
			ix->packs[i].seen = 1;
			continue;
		}
		if (map_pack(&p, ix->dir, name) < 0) {
			closedir(d);
			return -1;
		}
		if (!p.map.idx)
			continue;
		{
			pack_map *grown = realloc(ix->packs, (ix->count + 1) * sizeof(*grown));
			if (!grown) {
				unmap_pack(&p);
				closedir(d);
				return gs_error_set_os(ENOMEM, "out of memory");
			}
			ix->packs = grown;
		}
		p.seen = 1;
		ix->packs[ix->count++] = p;
	}
	closedir(d);
	for (size_t i = 0; i < ix->count; i++) {
		if (ix->packs[i].seen)
			ix->packs[kept++] = ix->packs[i];
		else
			unmap_pack(&ix->packs[i]);
	}
	ix->count = kept;
	ix->scanned_mtime = mtime;
	ix->scanned_at = time(NULL);
	ix->scanned = 1;
	return 0;
}

/* The pack `p` maps, opened again: -1 and errno ENOENT when the file of
 * that name is gone or is no longer that pack. */
static int open_pack(const gs_packed_index *ix, const pack_map *p)
{
	size_t len = strlen(ix->dir) + strlen(p->name) + sizeof("/.pack");
	unsigned char trailer[GIT_OID_RAWSZ];
	char *path = malloc(len);
	struct stat st;
	ssize_t got;
	int fd, err;

	if (!path) {
		errno = ENOMEM;
		return -1;
	}
	snprintf(path, len, "%s/%s.pack", ix->dir, p->name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto fail;
	}
	/* A pack's name comes from its content, but some writers name packs
	 * after the objects they hold: the checksum tells. */
	err = ENOENT;
	if ((uint64_t)st.st_size != p->map.pack_len)
		goto fail;
	do
		got = pread(fd, trailer, sizeof(trailer), st.st_size - (off_t)sizeof(trailer));
	while (got < 0 && errno == EINTR);
	if (got < 0)
		err = errno;
	if (got != (ssize_t)sizeof(trailer) ||
	    memcmp(trailer, p->map.pack + p->map.pack_len - sizeof(trailer), sizeof(trailer)) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

/* A reader of the entry at `offset` when it is a big whole blob (the read
 * lock held). */
static int open_entry(gs_loose **out, size_t *size, gs_packed_where *where,
		      const gs_packed_index *ix, const pack_map *p, uint64_t offset,
		      const git_oid *id)
{
	const unsigned char *at, *end;
	uint64_t len;
	unsigned type;
	int fd;

	*where = GS_PACKED_OTHER;
	if (!gs_mapped_pack_entry(&type, &len, &at, &end, &p->map, offset) ||
	    type != GIT_OBJECT_BLOB || len < GS_BIG_BLOB || len > SIZE_MAX)
		return 0;
	if ((fd = open_pack(ix, p)) < 0) {
		if (errno != ENOENT)
			return gs_error_set_os(errno, "cannot open pack %s", p->name);
		*where = GS_PACKED_UNSEEN;   /* gone since the last look */
		return 0;
	}
	if (gs_loose_open_packed(out, fd, (uint64_t)(at - p->map.pack), (size_t)len, id) < 0)
		return -1;
	*size = (size_t)len;
	*where = GS_PACKED_OPEN;
	return 0;
}

/* Whether the directory is due for a look before this lookup. */
static int look_due(gs_packed_index *ix)
{
	struct timespec clock;
	long long now_ns;

	if (atomic_load_explicit(&ix->merged, memory_order_relaxed))
		return 1;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &clock);
	now_ns = (long long)clock.tv_sec * 1000000000LL + clock.tv_nsec;
	return now_ns - atomic_load_explicit(&ix->checked_ns, memory_order_relaxed) >= RECHECK_NS;
}

int gs_packed_open_big(gs_loose **out, size_t *size, gs_packed_where *where,
		       gs_packed_index *ix, const git_oid *id)
{
	int rc = 0;

	*out = NULL;
	*size = 0;
	*where = GS_PACKED_UNSEEN;
	if (look_due(ix) && gs_packed_rescan(ix) < 0)
		return -1;
	pthread_rwlock_rdlock(&ix->lock);
	for (size_t i = 0; i < ix->count; i++) {
		uint64_t offset;
		if (gs_mapped_pack_find(&offset, &ix->packs[i].map, id)) {
			rc = open_entry(out, size, where, ix, &ix->packs[i], offset, id);
			break;
		}
	}
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

int gs_packed_rescan(gs_packed_index *ix)
{
	struct timespec clock;
	int rc, merged;

	pthread_rwlock_wrlock(&ix->lock);
	merged = atomic_exchange(&ix->merged, 0);
	rc = merged || may_have_changed(ix) ? rescan(ix) : 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &clock);
	atomic_store(&ix->checked_ns, (long long)clock.tv_sec * 1000000000LL + clock.tv_nsec);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

void gs_packed_merged(gs_packed_index *ix)
{
	atomic_store(&ix->merged, 1);
}

int gs_packed_index_new(gs_packed_index **out, const char *pack_dir)
{
	gs_packed_index *ix = calloc(1, sizeof(*ix));

	*out = NULL;
	if (!ix || !(ix->dir = strdup(pack_dir))) {
		free(ix);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	pthread_rwlock_init(&ix->lock, NULL);
	*out = ix;
	return 0;
}

void gs_packed_index_free(gs_packed_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->count; i++)
		unmap_pack(&ix->packs[i]);
	free(ix->packs);
	free(ix->dir);
	pthread_rwlock_destroy(&ix->lock);
	free(ix);
}
