/* pack.c - consolidating packs.  Every commit writes a small pack, and a
 * lookup searches pack by pack (4.9 us among 16, 0.6 us in one), so once
 * GS_PACK_LIMIT of them pile up the next commit's pack takes in their
 * objects and they are removed.  Entries are copied byte for byte, not
 * rebuilt with git_packbuilder, which searches for deltas: 16 packs of
 * 1,000 blobs merge in 34 ms, against 4.7 s (bench/libgit2_compare.c). */
#include "commitgraph.h"
#include "gs_internal.h"
#include "lock.h"
#include "pack.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pack base names are built in PATH_BUF; a suffix must still fit. */
#define PATH_BUF 4096
#define SUFFIXED_BUF (PATH_BUF + 16)

typedef struct {
	char *base;    /* "<gitdir>objects/pack/pack-<hex>" */
	off_t size;    /* of the .pack file */
} pack_file;

static void packs_free(pack_file *packs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(packs[i].base);
	free(packs);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int file_exists(const char *base, const char *suffix)
{
	char path[SUFFIXED_BUF];
	struct stat st;

	if (strlen(base) + strlen(suffix) >= sizeof(path))
		return 0;
	memcpy(path, base, strlen(base) + 1);
	strcat(path, suffix);
	return stat(path, &st) == 0;
}

/* The packs of the repository that may be merged (no .keep). */
static int list_packs(pack_file **out, size_t *count, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	pack_file *packs = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : gs_error_set_path(errno, dir, "cannot list");
	while ((e = readdir(d))) {
		char path[SUFFIXED_BUF];
		struct stat st;
		size_t len = strlen(e->d_name);

		if (strncmp(e->d_name, "pack-", 5) != 0 || !has_suffix(e->d_name, ".pack"))
			continue;
		if (strlen(dir) + len + 2 > PATH_BUF)
			continue;
		memcpy(path, dir, strlen(dir));
		path[strlen(dir)] = '/';
		memcpy(path + strlen(dir) + 1, e->d_name, len - 5);
		path[strlen(dir) + 1 + len - 5] = '\0';
		if (file_exists(path, ".keep") || !file_exists(path, ".idx") ||
		    stat(strcat(path, ".pack"), &st) < 0)
			continue;
		path[strlen(path) - 5] = '\0';
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 32;
			pack_file *grown = realloc(packs, grown_cap * sizeof(*grown));
			if (!grown)
				goto nomem;
			packs = grown;
			cap = grown_cap;
		}
		if (!(packs[n].base = strdup(path)))
			goto nomem;
		packs[n++].size = st.st_size;
	}
	closedir(d);
	*out = packs;
	*count = n;
	return 0;
nomem:
	closedir(d);
	packs_free(packs, n);
	return gs_error_set_os(ENOMEM, "out of memory");
}

static int read_all(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* One object of a pack being merged. */
typedef struct {
	git_oid id;
	uint64_t offset;
	uint64_t length;   /* of the whole entry in its pack */
	uint32_t crc;      /* of the entry, from its pack's index */
	size_t pack;       /* index into the merged packs */
} packed_entry;

static int push_entry(packed_entry **list, size_t *n, size_t *cap, const packed_entry *e)
{
	if (*n == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 1024;
		packed_entry *grown = realloc(*list, grown_cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		*list = grown;
		*cap = grown_cap;
	}
	(*list)[(*n)++] = *e;
	return 0;
}

static int compare_offsets(const void *a, const void *b)
{
	uint64_t x = ((const packed_entry *)a)->offset, y = ((const packed_entry *)b)->offset;
	return x < y ? -1 : x > y;
}

/* The objects of one pack (index version 2): ids, offsets, lengths. */
static int read_pack_entries(packed_entry **list, size_t *n, size_t *cap, const char *base,
			     size_t pack, uint64_t pack_size)
{
	char path[SUFFIXED_BUF];
	unsigned char *idx = NULL;
	struct stat st;
	uint32_t count;
	size_t first = *n;
	int fd = -1, rc = -1;

	if (strlen(base) + 5 > sizeof(path))
		return gs_error_set(GS_ERR_GIT, "pack path too long: %s", base);
	strcpy(path, base);
	strcat(path, ".idx");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		gs_error_set_path(errno, path, "cannot read");
		goto done;
	}
	if (st.st_size < 8 + 1024 + 40 || !(idx = malloc((size_t)st.st_size)) ||
	    read_all(fd, idx, (size_t)st.st_size) < 0 || memcmp(idx, "\377tOc", 4) != 0)
		goto corrupt;
	memcpy(&count, idx + 8 + 255 * 4, 4);
	count = ntohl(count);
	if ((uint64_t)st.st_size < 8 + 1024 + (uint64_t)count * 28 + 40)
		goto corrupt;
	{
		const unsigned char *ids = idx + 8 + 1024;
		const unsigned char *crcs = ids + (size_t)count * GIT_OID_RAWSZ;
		const unsigned char *offsets = ids + (size_t)count * 24;
		const unsigned char *large = offsets + (size_t)count * 4;
		for (uint32_t i = 0; i < count; i++) {
			packed_entry e = { .pack = pack };
			uint32_t off;
			git_oid_fromraw(&e.id, ids + (size_t)i * GIT_OID_RAWSZ);
			/* Copied entries keep it: not computed again over a merge's bytes. */
			memcpy(&e.crc, crcs + (size_t)i * 4, 4);
			e.crc = ntohl(e.crc);
			memcpy(&off, offsets + (size_t)i * 4, 4);
			off = ntohl(off);
			if (off & 0x80000000u) {
				uint32_t hi, lo, k = off & 0x7fffffffu;
				if (large + (size_t)k * 8 + 8 > idx + st.st_size)
					goto corrupt;
				memcpy(&hi, large + (size_t)k * 8, 4);
				memcpy(&lo, large + (size_t)k * 8 + 4, 4);
				e.offset = (uint64_t)ntohl(hi) << 32 | ntohl(lo);
			} else {
				e.offset = off;
			}
			if (push_entry(list, n, cap, &e) < 0)
				goto done;
		}
	}
	/* An entry runs to the next one, the last to the trailing checksum. */
	if (*n - first > 1)
		qsort(*list + first, *n - first, sizeof(**list), compare_offsets);
	for (size_t i = first; i < *n; i++) {
		uint64_t end = i + 1 < *n ? (*list)[i + 1].offset : pack_size - 20;
		if (end <= (*list)[i].offset || end > pack_size - 20)
			goto corrupt;
		(*list)[i].length = end - (*list)[i].offset;
	}
	rc = 0;
	goto done;
corrupt:
	gs_error_set(GS_ERR_GIT, "corrupt or unsupported pack index %s", path);
done:
	if (fd >= 0)
		close(fd);
	free(idx);
	return rc;
}

static int compare_entry_ids(const void *a, const void *b)
{
	const packed_entry *x = a, *y = b;
	int c = git_oid_cmp(&x->id, &y->id);
	if (c)
		return c;
	return x->pack < y->pack ? -1 : x->pack > y->pack;
}

static void remove_pack(const char *base)
{
	static const char *const suffixes[] = {".pack", ".idx", ".rev", ".bitmap", NULL};
	char path[SUFFIXED_BUF];

	/* The index goes last: git treats a .pack without .idx as garbage. */
	for (size_t i = 0; suffixes[i]; i++) {
		if (strcmp(suffixes[i], ".idx") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s", base, suffixes[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s.idx", base);
	unlink(path);
}

static int compare_size_desc(const void *a, const void *b)
{
	off_t x = ((const pack_file *)a)->size, y = ((const pack_file *)b)->size;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Number of .pack files, by name only: this runs after every commit. */
static size_t count_packs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "pack-", 5) == 0 && has_suffix(e->d_name, ".pack"))
			n++;
	closedir(d);
	return n;
}

/*
 * Which packs to merge: the largest ones are kept as they are while each
 * outweighs everything smaller put together (twice over); the rest are
 * merged.  Sizes then grow geometrically and every object is rewritten
 * only a logarithmic number of times.  `packs` is sorted largest first.
 */
static size_t packs_to_keep(const pack_file *packs, size_t count)
{
	off_t rest = 0;
	size_t keep;

	for (size_t i = 0; i < count; i++)
		rest += packs[i].size;
	for (keep = 0; keep < count; keep++) {
		rest -= packs[keep].size;   /* now: everything smaller than it */
		if (packs[keep].size < 2 * rest)
			break;
	}
	return keep;
}

/* Map a pack file read-only; *size is its length. */
static int map_pack(unsigned char **out, uint64_t *size, const char *base)
{
	char path[SUFFIXED_BUF];
	struct stat st;
	void *map;
	int fd, err;

	*out = NULL;
	if (strlen(base) + 6 > sizeof(path))
		return gs_error_set(GS_ERR_GIT, "pack path too long: %s", base);
	strcpy(path, base);
	strcat(path, ".pack");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return gs_error_set_path(errno, path, "cannot read");
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return gs_error_set_path(err, path, "cannot read");
	}
	/* A header (12 bytes) and a trailing checksum (20) at the least. */
	if (st.st_size < 32) {
		close(fd);
		return gs_error_set(GS_ERR_GIT, "%s: not a pack file (%lld bytes)", path,
				    (long long)st.st_size);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	err = errno;
	close(fd);
	if (map == MAP_FAILED)
		return gs_error_set_path(err, path, "cannot map");
	*out = map;
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Packs chosen to be merged: their objects, each listed once, go into the
 * next pack written, and the packs are removed once it is in place.
 */
struct gs_pack_merge {
	gs_store *store;
	pack_file *packs;          /* largest first; those from `keep` on merge */
	size_t count, keep;
	unsigned char **maps;      /* the merged packs, mapped */
	uint64_t *map_sizes;
	packed_entry *entries;     /* sorted by id, each once */
	size_t nentries;
	char *skipped;             /* entries the new pack has already */
	git_repository *repo;      /* for deltas, read whole */
	git_odb *odb;
};

void gs_pack_merge_free(gs_pack_merge *m)
{
	if (!m)
		return;
	git_odb_free(m->odb);
	gs_repo_release(m->store, m->repo);
	for (size_t i = 0; m->maps && i < m->count - m->keep; i++)
		if (m->maps[i])
			munmap(m->maps[i], (size_t)m->map_sizes[i]);
	free(m->maps);
	free(m->map_sizes);
	free(m->entries);
	free(m->skipped);
	packs_free(m->packs, m->count);
	free(m);
}

int gs_pack_merge_plan(gs_pack_merge **out, gs_store *store, size_t threshold)
{
	gs_pack_merge *m = NULL;
	char *dir = gs_store_file(store, "objects/pack", "");
	size_t nmerge, cap = 0, unique = 0;
	int rc = -1;

	*out = NULL;
	if (!dir)
		return -1;
	/* Listing the directory for every commit costs more than the commit
	 * itself on a fast disk: look only every few packs (other processes'
	 * packs are found at the next look). */
	if (threshold > 1 && ++store->packs_written < threshold / 4) {
		free(dir);
		return 0;
	}
	store->packs_written = 0;
	if (count_packs(dir) < threshold) {
		free(dir);
		return 0;
	}
	if (!(m = calloc(1, sizeof(*m)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	m->store = store;
	if (list_packs(&m->packs, &m->count, dir) < 0)
		goto done;
	if (m->count > 1)
		qsort(m->packs, m->count, sizeof(*m->packs), compare_size_desc);
	m->keep = packs_to_keep(m->packs, m->count);
	nmerge = m->count - m->keep;
	if (nmerge < 2) {
		rc = 0;
		goto done;
	}
	m->maps = calloc(nmerge + 1, sizeof(*m->maps));
	m->map_sizes = calloc(nmerge + 1, sizeof(*m->map_sizes));
	if (!m->maps || !m->map_sizes) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nmerge; i++)
		if (map_pack(&m->maps[i], &m->map_sizes[i], m->packs[m->keep + i].base) < 0 ||
		    read_pack_entries(&m->entries, &m->nentries, &cap, m->packs[m->keep + i].base,
				      i, m->map_sizes[i]) < 0)
			goto done;
	/* An object in several packs is written once. */
	if (m->nentries > 1)
		qsort(m->entries, m->nentries, sizeof(*m->entries), compare_entry_ids);
	for (size_t i = 0; i < m->nentries; i++)
		if (unique == 0 || !git_oid_equal(&m->entries[unique - 1].id, &m->entries[i].id))
			m->entries[unique++] = m->entries[i];
	m->nentries = unique;
	if (!(m->skipped = calloc(unique + 1, 1))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	if (gs_repo_acquire(&m->repo, store) < 0)
		goto done;
	if (git_repository_odb(&m->odb, m->repo) < 0) {
		gs_error_set_git(-1, store->path);
		goto done;
	}
	*out = m;
	m = NULL;
	rc = 0;
done:
	gs_pack_merge_free(m);
	free(dir);
	return rc;
}

size_t gs_pack_merge_skip(gs_pack_merge *m, int (*written)(void *ctx, const git_oid *id),
			  void *ctx)
{
	size_t left = 0;

	for (size_t i = 0; i < m->nentries; i++) {
		m->skipped[i] = written(ctx, &m->entries[i].id) != 0;
		left += !m->skipped[i];
	}
	return left;
}

/* Copy one object into the merged pack: whole objects byte for byte,
 * deltas (from packs git wrote) through a full read. */
static int copy_entry(gs_packwriter *writer, git_odb *odb, const packed_entry *e,
		      const unsigned char *pack)
{
	const unsigned char *raw = pack + e->offset;
	int type = (raw[0] >> 4) & 7;
	git_odb_object *obj = NULL;
	int rc;

	if (type >= GIT_OBJECT_COMMIT && type <= GIT_OBJECT_TAG)
		return gs_packwriter_add_raw(writer, &e->id, raw, (size_t)e->length, e->crc);
	if (git_odb_read(&obj, odb, &e->id) < 0)
		return gs_error_set_git(-1, git_oid_tostr_s(&e->id));
	rc = gs_packwriter_add(writer, &e->id, git_odb_object_type(obj), git_odb_object_data(obj),
			       git_odb_object_size(obj));
	git_odb_object_free(obj);
	return rc;
}

int gs_pack_merge_copy(gs_pack_merge *m, gs_packwriter *writer)
{
	for (size_t i = 0; i < m->nentries; i++)
		if (!m->skipped[i] &&
		    copy_entry(writer, m->odb, &m->entries[i], m->maps[m->entries[i].pack]) < 0)
			return -1;
	return 0;
}

void gs_pack_merge_remove(gs_pack_merge *m, const char *hex)
{
	/* Never the pack just written (same objects, same name). */
	for (size_t i = m->keep; i < m->count; i++)
		if (!has_suffix(m->packs[i].base, hex))
			remove_pack(m->packs[i].base);
}

static int never_written(void *ctx, const git_oid *id)
{
	(void)ctx;
	(void)id;
	return 0;
}

/* Merge every pack that can be merged into one; the caller holds the lock. */
static int consolidate(gs_store *store)
{
	gs_pack_merge *m = NULL;
	gs_packwriter *writer = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = -1;

	if (gs_pack_merge_plan(&m, store, 1) < 0)
		return -1;
	if (!m)
		return 0;
	if (gs_packwriter_begin(&writer, store->pack_dir,
				(uint32_t)gs_pack_merge_skip(m, never_written, NULL)) < 0 ||
	    gs_pack_merge_copy(m, writer) < 0 || gs_packwriter_finish(writer, hex) < 0)
		goto done;
	gs_pack_merge_remove(m, hex);
	gs_store_packs_changed(store, 1);
	rc = 0;
done:
	gs_packwriter_free(writer);
	gs_pack_merge_free(m);
	return rc;
}

int gs_store_pack(gs_store *store)
{
	gs_lock *lock = NULL;
	int rc;

	if (gs_lock_acquire(&lock, store) < 0)
		return -1;
	rc = consolidate(store);
	if (rc == 0) rc = gs_commit_graph_write(store);
	gs_lock_release(lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Copying objects out of a repository's packs byte for byte            */

struct gs_pack_source {
	pack_file *packs;
	size_t count;
	unsigned char **maps;
	uint64_t *map_sizes;
	packed_entry *entries;     /* sorted by id */
	size_t nentries;
};

void gs_pack_source_free(gs_pack_source *src)
{
	if (!src)
		return;
	for (size_t i = 0; src->maps && i < src->count; i++)
		if (src->maps[i])
			munmap(src->maps[i], (size_t)src->map_sizes[i]);
	free(src->maps);
	free(src->map_sizes);
	free(src->entries);
	packs_free(src->packs, src->count);
	free(src);
}

int gs_pack_source_open(gs_pack_source **out, const char *pack_dir)
{
	gs_pack_source *src = calloc(1, sizeof(*src));
	size_t cap = 0;

	*out = NULL;
	if (!src)
		return gs_error_set_os(ENOMEM, "out of memory");
	if (list_packs(&src->packs, &src->count, pack_dir) < 0)
		goto fail;
	src->maps = calloc(src->count + 1, sizeof(*src->maps));
	src->map_sizes = calloc(src->count + 1, sizeof(*src->map_sizes));
	if (!src->maps || !src->map_sizes) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < src->count; i++) {
		size_t before = src->nentries;
		if (map_pack(&src->maps[i], &src->map_sizes[i], src->packs[i].base) == 0 &&
		    read_pack_entries(&src->entries, &src->nentries, &cap, src->packs[i].base, i,
				      src->map_sizes[i]) == 0)
			continue;
		/* A pack another process merged away meanwhile: its objects
		 * are read through libgit2 instead. */
		if (gs_error_last()->os_errno != ENOENT)
			goto fail;
		gs_error_clear();
		src->nentries = before;
	}
	if (src->nentries > 1)
		qsort(src->entries, src->nentries, sizeof(*src->entries), compare_entry_ids);
	*out = src;
	return 0;
fail:
	gs_pack_source_free(src);
	return -1;
}

int gs_pack_source_copy(int *copied, gs_pack_source *src, gs_packwriter *writer,
			const git_oid *id)
{
	size_t lo = 0, hi = src->nentries;

	*copied = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = git_oid_cmp(&src->entries[mid].id, id);
		if (c == 0) {
			const packed_entry *e = &src->entries[mid];
			const unsigned char *raw = src->maps[e->pack] + e->offset;
			int type = (raw[0] >> 4) & 7;

			/* A delta needs its base: the caller reads it whole. */
			if (type < GIT_OBJECT_COMMIT || type > GIT_OBJECT_TAG)
				return 0;
			*copied = 1;
			return gs_packwriter_add_raw(writer, id, raw, (size_t)e->length, e->crc);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
