/* packidx.h - a pack and its version 2 index, mapped read-only, for the
 * readers that take objects straight from packs (packidx.c). */
#ifndef GS_PACKIDX_H
#define GS_PACKIDX_H

#include "gs.h"

#include <stdint.h>

typedef struct {
	const unsigned char *idx, *pack;
	size_t idx_len, pack_len;
	uint32_t count;   /* objects the index lists */
} gs_mapped_pack;

/* Map "<base>.idx" and "<base>.pack": 1 mapped; 0 and nothing mapped when
 * they cannot be used here (gone meanwhile, another index version, cut
 * short), which leaves the pack's objects to libgit2. */
int gs_mapped_pack_open(gs_mapped_pack *out, const char *base);
void gs_mapped_pack_close(gs_mapped_pack *p);

/* A big-endian 32-bit number, as git's index and graph files hold them. */
static inline uint32_t gs_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* `id`'s position among `count` sorted raw ids behind a fan-out table of
 * 256 big-endian counts (a pack index, a commit-graph): 1 found, 0 not
 * there or the table is inconsistent. */
int gs_fanout_find(uint32_t *pos, const unsigned char *fanout, const unsigned char *ids,
		   uint32_t count, const git_oid *id);

/* Where `id`'s entry starts in the pack: 1 found, 0 not listed. */
int gs_mapped_pack_find(uint64_t *offset, const gs_mapped_pack *p, const git_oid *id);

/* The entry at `offset`: its type (git's pack type, 1 to 7), the size its
 * header gives, and where its data start (*data, before *end, the pack's
 * checksum): 1; 0 when the header is not within the pack. */
int gs_mapped_pack_entry(unsigned *type, uint64_t *size, const unsigned char **data,
			 const unsigned char **end, const gs_mapped_pack *p, uint64_t offset);

#endif
