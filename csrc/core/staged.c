/*
 * staged.c - new files and directories made under a temporary name
 * beside their destination, and what killed processes left of them.
 *
 * Whose is a leftover?  Its maker holds an exclusive flock() on it from
 * creating it to renaming (or removing) it, and the kernel drops that
 * lock with the process, so a staged name that can be locked has no
 * live maker.  The moment between creating the name and locking it is
 * covered by a second lock, on the directory that holds them: a maker
 * holds it to create and lock, a cleaner to look and remove.  Anything
 * not exactly ours is left alone: another name, a symbolic link, what
 * another user owns.  Where locks cannot be taken (some network file
 * systems) nothing is cleaned.
 */
#include "gs_internal.h"
#include "staged.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARK ".gitstore-new-"
#define MARK_LEN (sizeof(MARK) - 1)
/* Deeper than anything staged here holds (a new repository: 3). */
#define REMOVE_DEPTH 64

static int lock_fd(int fd, int how)
{
	int rc;

	while ((rc = flock(fd, how)) < 0 && errno == EINTR)
		;
	return rc;
}

/* dest's length without trailing slashes, and where its last name starts. */
static size_t split_dest(const char *dest, size_t *base)
{
	size_t len = strlen(dest), at;

	while (len > 1 && dest[len - 1] == '/')
		len--;
	for (at = len; at > 0 && dest[at - 1] != '/'; at--)
		;
	*base = at;
	return len;
}

/*
 * The directory holding dest, opened and locked; -1 when that cannot be
 * (missing, unreadable, no locks there).  Holders let go within
 * milliseconds, but a child forked meanwhile keeps the lock for as long
 * as it lives: after PARENT_WAIT_MS the caller goes on without it, and
 * cleans nothing.
 */
#define PARENT_WAIT_MS 2000

static int lock_parent(const char *dest, size_t base)
{
	char *dir = base == 0 ? strdup(".") : strndup(dest, base > 1 ? base - 1 : 1);
	int fd, waited = 0;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	while (fd >= 0 && lock_fd(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited >= PARENT_WAIT_MS) {
			close(fd);
			return -1;
		}
		usleep(1000);
		waited++;
	}
	return fd;
}

/* Is `name` "<base>.gitstore-new-<digits>-<digits>"?  (base: base_len
 * bytes.) */
static int is_staged_name(const char *name, const char *base, size_t base_len)
{
	const char *p = name + base_len + MARK_LEN;
	size_t n;

	if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, MARK, MARK_LEN) != 0)
		return 0;
	n = strspn(p, "0123456789");
	if (!n || p[n] != '-')
		return 0;
	p += n + 1;
	n = strspn(p, "0123456789");
	return n && p[n] == '\0';
}

/* Remove `name` in the directory dirfd, with all it holds; no symbolic
 * link is followed.  Best effort: what cannot be removed stays. */
static void remove_at(int dirfd, const char *name, int depth)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		int fd = depth < REMOVE_DEPTH ?
			 openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;

		if (!dir) {
			if (fd >= 0)
				close(fd);
			return;
		}
		while ((e = readdir(dir)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				remove_at(fd, e->d_name, depth + 1);
		closedir(dir);
		(void)unlinkat(dirfd, name, AT_REMOVEDIR);
	} else {
		(void)unlinkat(dirfd, name, 0);
	}
}

/* Under the directory's lock: remove `name` if it is ours and no live
 * process holds it. */
static void remove_if_left(int dirfd, const char *name)
{
	struct stat named, held;
	int fd;

	if (fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) < 0 || named.st_uid != geteuid() ||
	    !(S_ISDIR(named.st_mode) || S_ISREG(named.st_mode)))
		return;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	/* Locked now, and still under that name: its maker is gone (a maker
	 * renames before it lets go). */
	if (lock_fd(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 &&
	    fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
	    held.st_dev == named.st_dev && held.st_ino == named.st_ino)
		remove_at(dirfd, name, 0);
	close(fd);
}

/* Under the directory's lock: every leftover of the name base (base_len
 * bytes, not NUL-terminated). */
static void clean_locked(int dirfd, const char *base, size_t base_len)
{
	int fd = dup(dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char **names = NULL;
	size_t count = 0, cap = 0;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* Listed first, removed after: the listing does not see its own
	 * changes. */
	while ((e = readdir(dir)) != NULL) {
		if (!is_staged_name(e->d_name, base, base_len))
			continue;
		if (count == cap) {
			size_t grown_cap = cap ? cap * 2 : 4;
			char **grown = realloc(names, grown_cap * sizeof(*grown));
			if (!grown)
				break;
			names = grown;
			cap = grown_cap;
		}
		if (!(names[count] = strdup(e->d_name)))
			break;
		count++;
	}
	closedir(dir);
	for (size_t i = 0; i < count; i++) {
		remove_if_left(dirfd, names[i]);
		free(names[i]);
	}
	free(names);
}

/* Lock the directory holding dest and remove the leftovers beside it:
 * the lock's descriptor, or -1 when it cannot be taken (nothing is
 * removed then). */
static int lock_and_clean(const char *dest)
{
	size_t base, len = split_dest(dest, &base);
	int parent = lock_parent(dest, base);

	if (parent >= 0 && len > base)
		clean_locked(parent, dest + base, len - base);
	return parent;
}

void gs_staged_clean(const char *dest)
{
	int parent = lock_and_clean(dest);

	if (parent >= 0)
		close(parent);
}

static int stage(gs_staged *out, const char *dest, int is_dir)
{
	static unsigned counter;
	size_t base, len = split_dest(dest, &base);
	char *path = malloc(len + MARK_LEN + 48);
	int parent = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!path) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	parent = lock_and_clean(dest);
	for (int attempt = 0;; attempt++) {
		int fd = -1;

		snprintf(path, len + MARK_LEN + 48, "%.*s" MARK "%ld-%u", (int)len, dest,
			 (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
		if (!is_dir) {
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		} else if (mkdir(path, 0777) == 0) {
			if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				int err = errno;
				rmdir(path);
				errno = err;
			}
		}
		if (fd >= 0) {
			out->fd = fd;
			break;
		}
		if (errno != EEXIST || attempt >= 100) {
			gs_error_set_path(errno, dest, "cannot create");
			goto done;
		}
	}
	/* Where locks cannot be taken, nothing is cleaned either. */
	(void)lock_fd(out->fd, LOCK_EX | LOCK_NB);
	out->path = path;
	out->is_dir = is_dir;
	path = NULL;
	rc = 0;
done:
	if (parent >= 0)
		close(parent);
	free(path);
	return rc;
}

int gs_staged_file(gs_staged *out, const char *dest)
{
	return stage(out, dest, 0);
}

int gs_staged_dir(gs_staged *out, const char *dest)
{
	return stage(out, dest, 1);
}

int gs_staged_commit(gs_staged *staged, const char *dest)
{
	if (rename(staged->path, dest) < 0)
		return gs_error_set_path(errno, dest, "cannot create");
	/* The lock goes only now: until the rename the name was held. */
	close(staged->fd);
	free(staged->path);
	staged->path = NULL;
	staged->fd = -1;
	return 0;
}

void gs_staged_discard(gs_staged *staged)
{
	if (!staged->path)
		return;
	if (staged->is_dir)
		remove_at(AT_FDCWD, staged->path, 0);
	else
		unlink(staged->path);
	close(staged->fd);
	free(staged->path);
	staged->path = NULL;
	staged->fd = -1;
}
