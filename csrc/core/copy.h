/* copy.h - comparing local sources with a tree and writing blobs out
 * below a local directory (copy.c), through a borrowed libgit2 handle. */
#ifndef GS_COPY_H
#define GS_COPY_H

#include "gs.h"

/* A local source of a copy into the repository. */
typedef struct {
	const char *path;   /* on disk */
	int walk;           /* 1: every file below the directory; 0: path itself */
	const char *rel;    /* where it lands, relative to the destination */
} gs_local_source;

typedef struct {
	gs_local_list add;       /* local only (every file when not comparing) */
	gs_local_list update;    /* on both sides, different */
	gs_local_list problems;  /* unreadable directories, special files, read errors */
	gs_local_list overlaps;  /* files a source earlier in the list already provides */
	gs_filelist delete;      /* under dest only (paths relative to dest) */
	size_t unchanged;        /* on both sides, equal */
} gs_local_diff;

typedef struct {
	const gs_exclude *filter;
	int follow_symlinks;
	int compare;             /* 0: list the sources only (add) */
	int checksum;            /* 0: trust files not modified after `since` */
	int64_t since;
	uint32_t mode_override;  /* 0: modes from the execute bits */
} gs_local_diff_opts;

/*
 * Everything the local sources provide, first source winning, compared
 * with the files of the tree `dest_tree` (NULL: none): what to add,
 * update and delete.  Files on both sides are hashed on several threads.
 * A delete never reaches below an unreadable directory or a path that
 * exists locally.
 */
int gs_local_diff_compute(gs_local_diff *out, gs_store *store, git_repository *repo,
			  const git_oid *dest_tree, const gs_local_source *sources, size_t nsources,
			  const gs_local_diff_opts *opts);
void gs_local_diff_free(gs_local_diff *diff);

/* Writing blobs below a local directory, never outside it. */
typedef struct {
	gs_store *store;
	git_repository *repo;
	const char *dest;
	int64_t mtime;        /* stamped on every file written */
	gs_strlist links;     /* symlinks written so far, sorted */
	char *verified;       /* the last directory made sure of */
} gs_export;

void gs_export_init(gs_export *ex, gs_store *store, git_repository *repo, const char *dest,
		    int64_t mtime);
void gs_export_clear(gs_export *ex);
/*
 * Write blob `id` to dest/rel: parents become real directories (a file
 * or symlink in the way is removed, top-down, so nothing outside dest is
 * touched), whatever is at the path is replaced, a link is created as a
 * link, an executable gets 0755, and times are set to ex->mtime.  A rel
 * with an empty, "." or ".." segment, or one going through a symlink this
 * export wrote, is GS_ERR_INVALID.
 */
int gs_export_file(gs_export *ex, const char *rel, const git_oid *id, uint32_t mode);

/*
 * The blob of a local file (following links) or of a symlink's text
 * (as_link).  *mode is mode_override when non-zero, else from the file's
 * execute bits (GS_MODE_LINK for links).  With txn the blob is also
 * stored, unless `unless` is given and already has this id and mode; a
 * NULL txn only hashes.  A fifo, socket or device is refused without
 * being opened.
 */
int gs_local_blob(git_oid *out, uint32_t *mode, gs_txn *txn, const char *path, int as_link,
		  uint32_t mode_override, const gs_entry *unless);

#endif
