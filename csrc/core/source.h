/* source.h - repository sources of the bulk operations and the files
 * below a tree (source.c), through a borrowed libgit2 handle. */
#ifndef GS_SOURCE_H
#define GS_SOURCE_H

#include "gs.h"

typedef enum {
	GS_SRC_FILE,      /* a single file */
	GS_SRC_DIR,       /* a directory, landing under its own name */
	GS_SRC_CONTENTS   /* a directory's contents (trailing '/', or the root) */
} gs_source_mode;

typedef struct gs_source {
	char *path;           /* normalised; "" for the root */
	gs_source_mode mode;
	char *prefix;         /* kept by a "/./" pivot, else "" */
	gs_entry entry;       /* what is at path */
} gs_source;

/* Resolve a repository source below the tree `root` ("/./" pivot,
 * trailing slash for contents, or a plain path; see source.c). */
int gs_source_resolve(gs_source *out, git_repository *repo, const git_oid *root,
		      const char *spec);
void gs_source_clear(gs_source *src);

/* Every file (non-tree entry) below `tree`, with paths prefixed by dir.
 * With `store` (may be NULL), trees its last commit wrote are read from
 * memory. */
int gs_tree_files(gs_filelist *out, gs_store *store, git_repository *repo, const git_oid *tree,
		  const char *dir);
/* The same in path order (sorted bytewise, when the trees are sorted as
 * git writes them). */
int gs_tree_files_by_path(gs_filelist *out, gs_store *store, git_repository *repo,
			  const git_oid *tree);

#endif
