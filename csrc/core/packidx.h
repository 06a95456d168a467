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

/* Where `id`'s entry starts in the pack: 1 found, 0 not listed. */
int gs_mapped_pack_find(uint64_t *offset, const gs_mapped_pack *p, const git_oid *id);

/* The entry at `offset`: its type (git's pack type, 1 to 7), the size its
 * header gives, and where its data start (*data, before *end, the pack's
 * checksum): 1; 0 when the header is not within the pack. */
int gs_mapped_pack_entry(unsigned *type, uint64_t *size, const unsigned char **data,
			 const unsigned char **end, const gs_mapped_pack *p, uint64_t offset);

#endif
