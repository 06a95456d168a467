/* packed.h - big blobs stored whole in the repository's packs, read in one
 * call (packed.c). */
#ifndef GS_PACKED_H
#define GS_PACKED_H

#include "gs.h"

/* The store's view of its pack directory: indexes and packs, mapped. */
typedef struct gs_packed_index gs_packed_index;
int gs_packed_index_new(gs_packed_index **out, const char *pack_dir);
void gs_packed_index_free(gs_packed_index *ix);

typedef enum {
	GS_PACKED_UNSEEN,   /* no pack seen lists it */
	GS_PACKED_OTHER,    /* listed, but small, a delta or not a blob */
	GS_PACKED_READ      /* read */
} gs_packed_where;

/* Blob `id` from the packs seen so far: its content in a new buffer
 * (*out, malloc'd, *size bytes) when a pack holds it whole and it is at
 * least GS_BIG_BLOB bytes.  libgit2 reads anything else. */
int gs_packed_read_big(char **out, size_t *size, gs_packed_where *where, gs_packed_index *ix,
		       const git_oid *id);
/* Look at the pack directory again if it may have changed since. */
int gs_packed_rescan(gs_packed_index *ix);
/* This store removed packs: the next lookup lets go of them. */
void gs_packed_merged(gs_packed_index *ix);

#endif
