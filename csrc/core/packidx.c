/* packidx.c - finding an object's entry through a pack's version 2 index:
 * the fan-out table by the id's first byte, then bisection among the
 * sorted ids, then the 32-bit offset (or, with its top bit set, an index
 * into the table of 64-bit ones). */
#include "gs_internal.h"
#include "packidx.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDX_HEADER (8 + 256 * 4)   /* magic, version, fan-out table */
#define CHECKSUMS (2 * GIT_OID_RAWSZ)


static const unsigned char *map_file(size_t *len, const char *path, size_t min)
{
	struct stat st;
	void *map = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= min && st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			map = NULL;
		else
			*len = (size_t)st.st_size;
	}
	close(fd);
	return map;
}

void gs_mapped_pack_close(gs_mapped_pack *p)
{
	if (p->idx)
		munmap((void *)p->idx, p->idx_len);
	if (p->pack)
		munmap((void *)p->pack, p->pack_len);
	memset(p, 0, sizeof(*p));
}

int gs_mapped_pack_open(gs_mapped_pack *out, const char *base)
{
	size_t len = strlen(base) + sizeof(".pack");
	char *path = malloc(len);
	gs_mapped_pack p = {0};

	memset(out, 0, sizeof(*out));
	if (!path)
		return 0;
	snprintf(path, len, "%s.idx", base);
	p.idx = map_file(&p.idx_len, path, IDX_HEADER + CHECKSUMS);
	if (!p.idx || memcmp(p.idx, "\377tOc", 4) != 0 || gs_be32(p.idx + 4) != 2)
		goto unusable;
	p.count = gs_be32(p.idx + 8 + 255 * 4);
	/* ids, CRCs and offsets, then the two checksums */
	if ((uint64_t)p.idx_len < IDX_HEADER + (uint64_t)p.count * (GIT_OID_RAWSZ + 8) + CHECKSUMS)
		goto unusable;
	snprintf(path, len, "%s.pack", base);
	p.pack = map_file(&p.pack_len, path, 12 + GIT_OID_RAWSZ);
	if (!p.pack || memcmp(p.pack, "PACK", 4) != 0)
		goto unusable;
	free(path);
	*out = p;
	return 1;
unusable:
	free(path);
	gs_mapped_pack_close(&p);
	return 0;
}

int gs_fanout_find(uint32_t *pos, const unsigned char *fanout, const unsigned char *ids,
		   uint32_t count, const git_oid *id)
{
	uint32_t lo = id->id[0] ? gs_be32(fanout + (id->id[0] - 1) * 4) : 0;
	uint32_t hi = gs_be32(fanout + id->id[0] * 4);

	if (hi > count || lo > hi)
		return 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int cmp = memcmp(id->id, ids + (size_t)mid * GIT_OID_RAWSZ, GIT_OID_RAWSZ);

		if (cmp == 0) {
			*pos = mid;
			return 1;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

int gs_mapped_pack_find(uint64_t *offset, const gs_mapped_pack *p, const git_oid *id)
{
	const unsigned char *ids = p->idx + IDX_HEADER;
	const unsigned char *offsets = ids + (size_t)p->count * (GIT_OID_RAWSZ + 4);
	uint32_t pos, off;

	if (!gs_fanout_find(&pos, p->idx + 8, ids, p->count, id))
		return 0;
	off = gs_be32(offsets + (size_t)pos * 4);
	if (off & 0x80000000u) {
		const unsigned char *big =
			offsets + (size_t)p->count * 4 + (size_t)(off & 0x7fffffffu) * 8;
		if (big + 8 > p->idx + p->idx_len - CHECKSUMS)
			return 0;
		*offset = (uint64_t)gs_be32(big) << 32 | gs_be32(big + 4);
	} else {
		*offset = off;
	}
	return 1;
}

int gs_mapped_pack_entry(unsigned *type, uint64_t *size, const unsigned char **data,
			 const unsigned char **end, const gs_mapped_pack *p, uint64_t offset)
{
	const unsigned char *at, *stop = p->pack + p->pack_len - GIT_OID_RAWSZ;
	unsigned c, shift = 4;
	uint64_t len;

	if (offset < 12 || offset >= (uint64_t)(stop - p->pack))
		return 0;
	at = p->pack + offset;
	c = *at++;
	*type = (c >> 4) & 7;
	len = c & 15;
	while (c & 0x80) {
		if (at >= stop || shift > 57)
			return 0;
		c = *at++;
		len |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	*size = len;
	*data = at;
	*end = stop;
	return 1;
}
