/* packread.c - the start of whole objects read straight from a
 * repository's packs.  A history walk needs only the first two lines of
 * each commit (tree and first parent): found through the pack index and
 * inflated only that far, without the zlib set-up, copy, locking and
 * checksum of a whole read through libgit2.  Anything unusual (a delta,
 * an index git no longer writes, a damaged entry) is left to libgit2. */
#include "packread.h"

#include "gs_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct {
	const unsigned char *idx, *pack;
	size_t idx_size, pack_size;
	uint32_t count;
} mapped_pack;

struct gs_pack_reader {
	mapped_pack *packs;
	size_t count;
	z_stream z;
	int z_ready;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const void *map_file(size_t *size, const char *path)
{
	struct stat st;
	void *map = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			map = NULL;
		else
			*size = (size_t)st.st_size;
	}
	close(fd);
	return map;
}

/* Map the pack whose path without .idx/.pack is the first `base_len`
 * bytes of `path` (room for ".pack" after them): 0 when it is not a
 * version 2 index and its pack, the pack then left out. */
static int map_pack(mapped_pack *p, char *path, size_t base_len)
{
	memset(p, 0, sizeof(*p));
	strcpy(path + base_len, ".idx");
	p->idx = map_file(&p->idx_size, path);
	strcpy(path + base_len, ".pack");
	p->pack = map_file(&p->pack_size, path);
	if (p->idx && p->pack && p->idx_size >= 8 + 256 * 4 + 2 * GIT_OID_RAWSZ &&
	    !memcmp(p->idx, "\377tOc", 4) && be32(p->idx + 4) == 2 && p->pack_size >= 12 + GIT_OID_RAWSZ &&
	    !memcmp(p->pack, "PACK", 4)) {
		uint64_t n = be32(p->idx + 8 + 255 * 4);

		/* ids, CRCs and offsets, then the two checksums */
		if (8 + 256 * 4 + n * (GIT_OID_RAWSZ + 8) + 2 * GIT_OID_RAWSZ <= p->idx_size) {
			p->count = (uint32_t)n;
			return 1;
		}
	}
	if (p->idx)
		munmap((void *)p->idx, p->idx_size);
	if (p->pack)
		munmap((void *)p->pack, p->pack_size);
	memset(p, 0, sizeof(*p));
	return 0;
}

void gs_pack_reader_free(gs_pack_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++) {
		munmap((void *)r->packs[i].idx, r->packs[i].idx_size);
		munmap((void *)r->packs[i].pack, r->packs[i].pack_size);
	}
	free(r->packs);
	if (r->z_ready)
		inflateEnd(&r->z);
	free(r);
}

int gs_pack_reader_open(gs_pack_reader **out, git_repository *repo)
{
	const char *git_dir = git_repository_path(repo);
	size_t dir_len = strlen(git_dir) + sizeof("objects/pack/") - 1, cap = 0;
	gs_pack_reader *r = calloc(1, sizeof(*r));
	char *path = NULL;
	DIR *dir = NULL;
	struct dirent *e;

	*out = NULL;
	if (!r || !(path = malloc(dir_len + 1)))
		goto nomem;
	sprintf(path, "%sobjects/pack/", git_dir);
	if (!(dir = opendir(path))) {
		/* No packs: every read goes to libgit2. */
		free(path);
		*out = r;
		return 0;
	}
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		char *full;

		if (len <= 4 || strcmp(e->d_name + len - 4, ".idx"))
			continue;
		if (r->count == cap) {
			mapped_pack *grown = realloc(r->packs, (cap ? cap * 2 : 8) * sizeof(*grown));
			if (!grown)
				goto nomem;
			r->packs = grown;
			cap = cap ? cap * 2 : 8;
		}
		if (!(full = malloc(dir_len + len + 2)))
			goto nomem;
		memcpy(full, path, dir_len);
		memcpy(full + dir_len, e->d_name, len - 4);
		r->count += (size_t)map_pack(&r->packs[r->count], full, dir_len + len - 4);
		free(full);
	}
	closedir(dir);
	free(path);
	*out = r;
	return 0;
nomem:
	if (dir)
		closedir(dir);
	free(path);
	gs_pack_reader_free(r);
	return gs_error_set_os(ENOMEM, "out of memory");
}

/* The offset of `id` in pack `p`: 1 found. */
static int find_offset(uint64_t *offset, const mapped_pack *p, const git_oid *id)
{
	const unsigned char *fanout = p->idx + 8, *ids = fanout + 256 * 4;
	const unsigned char *offsets = ids + (size_t)p->count * (GIT_OID_RAWSZ + 4);
	uint32_t lo = id->id[0] ? be32(fanout + (id->id[0] - 1) * 4) : 0;
	uint32_t hi = be32(fanout + id->id[0] * 4);

	if (hi > p->count)
		return 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int cmp = memcmp(id->id, ids + (size_t)mid * GIT_OID_RAWSZ, GIT_OID_RAWSZ);

		if (cmp == 0) {
			uint32_t off = be32(offsets + (size_t)mid * 4);
			if (off & 0x80000000u) {
				/* An index into the table of 64-bit offsets. */
				const unsigned char *big =
					offsets + (size_t)p->count * 4 + (size_t)(off & 0x7fffffffu) * 8;
				if (big + 8 > p->idx + p->idx_size - 2 * GIT_OID_RAWSZ)
					return 0;
				*offset = (uint64_t)be32(big) << 32 | be32(big + 4);
			} else {
				*offset = off;
			}
			return 1;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

int gs_pack_reader_head(git_object_t *type, size_t *len, gs_pack_reader *r, const git_oid *id,
			char *buf, size_t cap)
{
	*len = 0;
	for (size_t i = 0; i < r->count; i++) {
		const mapped_pack *p = &r->packs[i];
		const unsigned char *at, *end = p->pack + p->pack_size - GIT_OID_RAWSZ;
		uint64_t offset, size;
		unsigned shift = 4, kind;
		int zrc;

		if (!find_offset(&offset, p, id))
			continue;
		if (offset < 12 || offset >= (uint64_t)(end - p->pack))
			return 0;
		/* The entry's header: its type, then its size 7 bits a byte. */
		at = p->pack + offset;
		kind = (*at >> 4) & 7;
		size = *at & 15;
		while (*at++ & 0x80) {
			if (at >= end || shift > 57)
				return 0;
			size |= (uint64_t)(*at & 0x7f) << shift;
			shift += 7;
		}
		if (kind < GIT_OBJECT_COMMIT || kind > GIT_OBJECT_TAG)
			return 0;
		/* The zlib header, then raw deflate: no checksum of a part. */
		if (end - at < 2 || (at[0] & 0x0f) != 8 || (at[0] >> 4) > 7 || (at[1] & 0x20) ||
		    ((unsigned)at[0] << 8 | at[1]) % 31)
			return 0;
		at += 2;
		if (!r->z_ready) {
			memset(&r->z, 0, sizeof(r->z));
			if (inflateInit2(&r->z, -15) != Z_OK)
				return 0;
			r->z_ready = 1;
		} else if (inflateReset(&r->z) != Z_OK) {
			return 0;
		}
		if (cap > size)
			cap = (size_t)size;
		r->z.next_in = (unsigned char *)at;
		r->z.avail_in = (uInt)((size_t)(end - at) > UINT32_MAX ? UINT32_MAX : end - at);
		r->z.next_out = (unsigned char *)buf;
		r->z.avail_out = (uInt)cap;
		while (r->z.avail_out > 0) {
			zrc = inflate(&r->z, Z_SYNC_FLUSH);
			if (zrc == Z_STREAM_END)
				break;
			if (zrc != Z_OK)
				return 0;
		}
		if (r->z.total_out != cap)
			return 0;
		*type = (git_object_t)kind;
		*len = cap;
		return 1;
	}
	return 0;
}
