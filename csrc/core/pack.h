/* pack.h - writing packs (packwrite.c) and merging them (pack.c). */
#ifndef GS_PACK_H
#define GS_PACK_H

#include "gs.h"

/* Each commit writes one small pack; the packs are counted every few
 * commits, and once there are this many small ones a merge starts.  Few
 * at a time: a merge's cost is mostly per pack (listing, index, mapping,
 * removal, and the handles' reload after), so merging 4 packs every 4
 * commits keeps a merging commit within about twice a plain one, where
 * 16 every 16 cost four times as much. */
#define GS_PACK_LIMIT 4

/* Writing one pack and its index as a stream (packwrite.c) into a
 * repository's objects/pack directory: exactly `count` objects, then
 * finish (renames both into place). */
typedef struct gs_packwriter gs_packwriter;
int gs_packwriter_begin(gs_packwriter **out, const char *pack_dir, uint32_t count);
/* The same as a stream handed to `sink` (into a bundle, or to a
 * server): finish writes the checksum, and neither an index nor a rename
 * follows.  A sink returns -1 to stop, its reason in the error record. */
typedef int (*gs_pack_sink)(void *ctx, const void *data, size_t len);
int gs_packwriter_begin_sink(gs_packwriter **out, gs_pack_sink sink, void *ctx, uint32_t count);
int gs_packwriter_add(gs_packwriter *w, const git_oid *id, git_object_t type, const void *data,
		      size_t len);
/* Many objects at once, deflated on several threads when worth it. */
typedef struct {
	git_oid id;
	git_object_t type;
	const void *data;
	size_t len;
} gs_pack_object;
int gs_packwriter_add_all(gs_packwriter *w, const gs_pack_object *objects, size_t count);
/* An entry copied as it is from another pack (header and zlib data of a
 * whole, non-delta object), with the CRC-32 that pack's index gives it. */
int gs_packwriter_add_raw(gs_packwriter *w, const git_oid *id, const void *entry, size_t len,
			  uint32_t crc);
/* Write the rest compact: trees deflated too, and every object deflated
 * at zlib's default level rather than the fastest; for packs meant to
 * last. */
void gs_packwriter_compact(gs_packwriter *w);
/* Where the next entry goes: a delta names its base by that offset. */
uint64_t gs_packwriter_offset(const gs_packwriter *w);
/* A delta entry (git's delta format, see delta.h): its base is the entry
 * at base_offset in this pack (OFS_DELTA), or, when base_offset is 0,
 * the object base_id, which the pack holds too (REF_DELTA).  The delta is
 * deflated here; the _raw form takes its zlib data as copied from
 * another pack's entry. */
int gs_packwriter_add_delta(gs_packwriter *w, const git_oid *id, uint64_t base_offset,
			    const git_oid *base_id, const void *delta, size_t len);
int gs_packwriter_add_delta_raw(gs_packwriter *w, const git_oid *id, uint64_t base_offset,
				const git_oid *base_id, size_t delta_len, const void *zdata,
				size_t zlen);
int gs_packwriter_finish(gs_packwriter *w, char hex[GIT_OID_HEXSZ + 1]);
void gs_packwriter_free(gs_packwriter *w);

/*
 * Merging packs, under the repository lock.  A plan picks the packs to
 * merge once there are at least `threshold` (*out NULL: none now; 0:
 * every pack, even a single one, as GitStore.pack() does); skip
 * marks the objects the new pack has anyway (`written` says which) and
 * returns how many are left to copy; copy adds those to the writer;
 * remove deletes the merged packs once the new one (`hex`) is in place.
 * Objects stay readable throughout.
 */
typedef struct gs_pack_merge gs_pack_merge;
int gs_pack_merge_plan(gs_pack_merge **out, gs_store *store, size_t threshold);
size_t gs_pack_merge_skip(gs_pack_merge *m, int (*written)(void *ctx, const git_oid *id),
			  void *ctx);
int gs_pack_merge_copy(gs_pack_merge *m, gs_packwriter *writer);
void gs_pack_merge_remove(gs_pack_merge *m, const char *hex);
void gs_pack_merge_free(gs_pack_merge *m);

/*
 * What a commit does towards merging, under the repository lock, before
 * it writes its pack.  A merge small enough for one commit is handed
 * back (*small) for the commit's pack to take in, as gs_pack_merge_copy
 * does.  A bigger one is spread over the commits that follow, so that
 * none pays for all of it: each copies a slice (larger as the commit
 * writes more: `writing` bytes) into a pack of the
 * merge's own and the last puts that pack in place and removes the
 * merged ones.  A step that fails drops the merge: the packs wait for
 * the next one.  The merge in progress is the store's (store->merging);
 * close finishes it (the store is going away; it takes the lock), drop
 * abandons it.
 */
void gs_pack_merge_next(gs_pack_merge **small, gs_store *store, uint64_t writing);
/* Which object replaced which at the same path in a commit of this
 * store's: a merge that holds both stores the older as a delta against
 * the newer (git gc would not try: it takes objects a pack holds whole
 * as tried already).  Kept by the store, some thousands at most, under
 * the repository lock. */
typedef struct gs_version_pair {
	git_oid older, newer;
} gs_version_pair;
void gs_pack_note_versions(gs_store *store, const gs_version_pair *pairs, size_t count);
void gs_pack_merge_close(gs_store *store);
void gs_pack_merge_drop(gs_store *store);

/* A repository's packs, indexed, to copy objects out of them byte for
 * byte (whole objects; a delta is left to the caller). */
typedef struct gs_pack_source gs_pack_source;
int gs_pack_source_open(gs_pack_source **out, const char *pack_dir);
/* *copied 1: `id` went into writer as its packed entry; 0: no pack
 * holds it whole. */
int gs_pack_source_copy(int *copied, gs_pack_source *src, gs_packwriter *writer,
			const git_oid *id);
void gs_pack_source_free(gs_pack_source *src);

#endif
