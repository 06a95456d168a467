/* txn.h - what the core's units do with a transaction (txn.c) beyond
 * the public gs_txn_* calls: the borrowed handle, objects of any type,
 * and flushing. */
#ifndef GS_TXN_H
#define GS_TXN_H

#include "gs.h"

/* Pending content past this size is written out as a pack early. */
#define GS_TXN_SPILL (16 * 1024 * 1024)

/* The pooled handle the transaction borrowed. */
git_repository *gs_txn_repo(gs_txn *txn);
/* Add an object (any type) to the next pack; *out is its id. */
int gs_txn_put(git_oid *out, gs_txn *txn, git_object_t type, const void *data, size_t len);
/* The content of an object still held in memory by txn (1), or 0. */
int gs_txn_pending(const char **data, size_t *len, gs_txn *txn, const git_oid *id);
/* older was replaced by newer at one path (for merges' deltas; best
 * effort: nothing fails). */
void gs_txn_note_version(gs_txn *txn, const git_oid *older, const git_oid *newer);
/* Write the pending objects as one pack. */
int gs_txn_flush(gs_txn *txn);
/* The same under the repository lock, and a step of merging the small
 * packs (gs_pack_merge_next): a small merge goes into this pack. */
int gs_txn_flush_merging(gs_txn *txn);

#endif
