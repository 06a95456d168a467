/* delta.h - git's binary deltas (delta.c): an object written as copies
 * out of a base object and literal bytes, as packs store them. */
#ifndef GS_DELTA_H
#define GS_DELTA_H

#include "gs.h"

/* Bases up to this size are indexed (copy offsets have 32 bits). */
#define GS_DELTA_MAX_BASE ((size_t)0xffffffffu)

/* Where the blocks of a base object are, to find them in a target. */
typedef struct gs_delta_index gs_delta_index;
int gs_delta_index_new(gs_delta_index **out, const void *base, size_t len);
void gs_delta_index_free(gs_delta_index *index);

/* The delta that makes `target` out of the index's base, into out (its
 * contents replaced).  *made is 0, and out's contents meaningless, when
 * the delta would take more than max_len bytes. */
int gs_delta_make(int *made, gs_buf *out, const gs_delta_index *index, const void *target,
		  size_t len, size_t max_len);

#endif
