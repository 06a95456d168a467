/* gitname.h - the names git treats specially (gitname.c), as its fsck
 * recognises them: the names themselves and every alias HFS+ or NTFS
 * would open as them (".GIT", ".git.", "git~1", ".git\u200c",
 * "GITMOD~1", ...). */
#ifndef GS_GITNAME_H
#define GS_GITNAME_H

#include "gs.h"

/* The kinds, a bit set. */
#define GS_GITNAME_DOTGIT        0x01u   /* never stored */
#define GS_GITNAME_GITMODULES    0x02u   /* a regular file, content checked */
#define GS_GITNAME_GITATTRIBUTES 0x04u   /* a regular file, content checked */
#define GS_GITNAME_GITIGNORE     0x08u   /* not a symlink */
#define GS_GITNAME_MAILMAP       0x10u   /* not a symlink */
unsigned gs_gitname_kind(const char *name);
/* GS_ERR_INVALID naming `path` when an entry of this kind may not have
 * this mode (GS_MODE_TREE for a directory). */
int gs_gitname_check(const char *path, unsigned kind, uint32_t mode);
/* The same for the content of a regular file of this kind: the size
 * alone (before reading), or the content. */
int gs_gitfile_check_size(const char *path, unsigned kind, uint64_t size);
int gs_gitfile_check(const char *path, unsigned kind, const char *data, size_t len);

#endif
