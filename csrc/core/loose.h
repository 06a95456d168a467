/* loose.h - blobs stored whole, loose or as a pack entry that is not a
 * delta, read with zlib directly (loose.c): partial reads inflate only what
 * they need and corruption is an error, never a hang. */
#ifndef GS_LOOSE_H
#define GS_LOOSE_H

#include "gs.h"

int gs_loose_open(gs_loose **out, int *found, size_t *total, const gs_store *store,
		  const git_oid *id);
/* Blob `id` as the zlib stream at offset `at` of the pack open as fd, its
 * size `size` from the entry's header.  The reader takes fd, even when
 * this fails. */
int gs_loose_open_packed(gs_loose **out, int fd, uint64_t at, size_t size, const git_oid *id);
int gs_loose_read(gs_loose *loose, char *dst, size_t len);   /* dst NULL: skip */
int gs_loose_finish(gs_loose *loose);   /* the stream must end here */
/* The rest of the content into dst, and the end checked: gs_loose_read
 * then gs_loose_finish, in one call from the start (see loose.c). */
int gs_loose_read_all(gs_loose *loose, char *dst);
/* Back to the start of the content, from the file already open; it also
 * clears a failure. */
int gs_loose_rewind(gs_loose *loose);
size_t gs_loose_size(const gs_loose *loose);   /* the blob's size, from its header */
/* Where the next read starts in the content; SIZE_MAX after a failure
 * (the stream's place is then unknown). */
size_t gs_loose_tell(const gs_loose *loose);
void gs_loose_close(gs_loose *loose);

#endif
