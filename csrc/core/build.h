/* build.h - new root trees from writes and removals, and what they
 * change (build.c). */
#ifndef GS_BUILD_H
#define GS_BUILD_H

#include "gs.h"

typedef enum {
	GS_CHANGE_NONE = 0,  /* same content and mode, or nothing to remove */
	GS_CHANGE_ADD,
	GS_CHANGE_UPDATE,
	GS_CHANGE_DELETE
} gs_change_kind;

typedef struct {
	gs_change_kind kind;
	uint32_t mode;       /* new mode for writes, old mode for deletes */
} gs_change;

/* How each write and remove changes the tree `root` (entry-style
 * lookups: a path below a file counts as missing). */
int gs_changes_classify(gs_change *write_changes, gs_change *remove_changes, gs_txn *txn,
			const git_oid *root, const gs_write *writes, size_t nwrites,
			const char *const *removes, size_t nremoves);

/* The root tree after removing `removes` and then writing `writes` below
 * `root` (NULL: empty).  Untouched subtrees keep their ids, directories
 * left empty disappear, a removal below a file changes nothing. */
int gs_tree_apply(git_oid *out, gs_txn *txn, const git_oid *root,
		  const gs_write *writes, size_t nwrites,
		  const char *const *removes, size_t nremoves);

#endif
