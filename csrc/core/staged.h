/*
 * staged.h - a new file or directory made beside its destination and
 * renamed into place (staged.c), so that the destination appears whole
 * or not at all.
 *
 * The staged name is "<dest>.gitstore-new-<pid>-<n>".  A process killed
 * before the rename leaves it behind; the next staging beside the same
 * destination (or gs_staged_clean) removes it, once no live process
 * holds it.
 */
#ifndef GS_STAGED_H
#define GS_STAGED_H

#include "gs.h"

typedef struct {
	char *path;   /* the staged name */
	int fd;       /* open on it (a file's is for writing); holds its lock */
	int is_dir;
} gs_staged;

/* A new empty file (mode 0666 less the umask) or directory (0777 less
 * the umask) beside `dest`, leftovers beside it removed first. */
int gs_staged_file(gs_staged *out, const char *dest);
int gs_staged_dir(gs_staged *out, const char *dest);
/* Rename the staged file or directory to `dest` (replacing a file, or an
 * empty directory), and let go of it. */
int gs_staged_commit(gs_staged *staged, const char *dest);
/* Remove the staged file or directory, if it is still there.  Safe on a
 * zeroed gs_staged and after gs_staged_commit. */
void gs_staged_discard(gs_staged *staged);
/* Remove what killed processes left beside `dest`, as far as that can
 * be done: a leftover that cannot be removed stays, silently. */
void gs_staged_clean(const char *dest);

#endif
