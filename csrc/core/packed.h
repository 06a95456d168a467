/* packed.h - big blobs stored whole in the repository's packs, found
 * through the packs' indexes and read as loose blobs are (packed.c). */
#ifndef GS_PACKED_H
#define GS_PACKED_H

#include "gs.h"

/* The store's view of its pack directory: indexes and packs, mapped. */
typedef struct gs_packed_index gs_packed_index;
int gs_packed_index_new(gs_packed_index **out, const char *pack_dir);
void gs_packed_index_free(gs_packed_index *ix);

typedef enum {
	GS_PACKED_UNSEEN,   /* no pack seen lists it (or that pack is gone) */
	GS_PACKED_OTHER,    /* listed, but small, a delta or not a blob */
	GS_PACKED_OPEN      /* opened */
} gs_packed_where;

/* A reader of blob `id` (loose.h) when a pack seen so far holds it whole
 * and it is at least GS_BIG_BLOB bytes; *size is its size.  libgit2 reads
 * anything else. */
int gs_packed_open_big(gs_loose **out, size_t *size, gs_packed_where *where,
		       gs_packed_index *ix, const git_oid *id);
/* Look at the pack directory again if it may have changed since. */
int gs_packed_rescan(gs_packed_index *ix);
/* This store removed packs: the next lookup lets go of them. */
void gs_packed_merged(gs_packed_index *ix);

#endif
