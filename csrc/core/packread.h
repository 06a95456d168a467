/* packread.h - the start of objects read straight from a repository's
 * packs (packread.c). */
#ifndef GS_PACKREAD_H
#define GS_PACKREAD_H

#include "gs.h"

/* The packs in objects/pack when opened, their indexes mapped.  A pack
 * added later is not seen, and one removed stays readable (mapped): a
 * caller reads what this does not find through libgit2. */
typedef struct gs_pack_reader gs_pack_reader;
int gs_pack_reader_open(gs_pack_reader **out, git_repository *repo);
void gs_pack_reader_free(gs_pack_reader *r);

/* The first bytes of object `id`'s content, up to `cap`, into `buf`
 * (*len of them), and its type: 1.  0 when no pack holds it whole (a
 * delta, or in no pack mapped) or its entry does not inflate.  Nothing
 * is checked against the id: for a walk's links, not for content. */
int gs_pack_reader_head(git_object_t *type, size_t *len, gs_pack_reader *r, const git_oid *id,
			char *buf, size_t cap);

#endif
