/* lock.c - the repository lock: a per-repository mutex within the process,
 * then flock(2) on <gitdir>/gitstore.lock across processes (the file the
 * pure-Python gitstore locks, so the two exclude each other). */
#include "gs_internal.h"
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* One mutex per repository directory, shared by every store object that
 * opens it (found by device and inode), never freed. */
typedef struct repo_mutex {
	dev_t dev;
	ino_t ino;
	pthread_mutex_t mutex;
	/* Who holds it: a thread asking again (a progress callback writing
	 * to the store a backup is pushing, say) would wait for itself. */
	pthread_t owner;
	int held;
	struct repo_mutex *next;
} repo_mutex;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static repo_mutex *registry;

struct gs_lock {
	repo_mutex *mutex;
	int fd;
};

static int find_mutex(repo_mutex **out, const char *gitdir)
{
	struct stat st;
	repo_mutex *m;

	if (stat(gitdir, &st) < 0)
		return gs_error_set_path(errno, gitdir, "cannot lock");
	pthread_mutex_lock(&registry_lock);
	for (m = registry; m; m = m->next)
		if (m->dev == st.st_dev && m->ino == st.st_ino)
			break;
	if (!m && (m = calloc(1, sizeof(*m)))) {
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		pthread_mutex_init(&m->mutex, NULL);
		m->next = registry;
		registry = m;
	}
	pthread_mutex_unlock(&registry_lock);
	if (!m)
		return gs_error_set_os(ENOMEM, "out of memory");
	*out = m;
	return 0;
}

static int lock_take(gs_lock **out, gs_store *store, int wait)
{
	gs_lock *lock = NULL;
	char *path = NULL;
	int rc = -1;

	*out = NULL;
	lock = calloc(1, sizeof(*lock));
	if (!lock)
		return gs_error_set_os(ENOMEM, "out of memory");
	lock->fd = -1;
	if (find_mutex(&lock->mutex, store->gitdir) < 0)
		goto done;
	if (!(path = gs_store_file(store, "gitstore.lock", "")))
		goto done;
	if (__atomic_load_n(&lock->mutex->held, __ATOMIC_ACQUIRE) &&
	    pthread_equal(lock->mutex->owner, pthread_self())) {
		if (!wait) {
			rc = 0;
			goto done;
		}
		gs_error_set(GS_ERR_GIT, "the repository lock is already held by this thread "
			     "(a callback may not write to the store whose operation called it)");
		goto done;
	}
	if (!wait) {
		if (pthread_mutex_trylock(&lock->mutex->mutex) != 0) {
			rc = 0;
			goto done;
		}
	} else {
		pthread_mutex_lock(&lock->mutex->mutex);
	}
	lock->mutex->owner = pthread_self();
	__atomic_store_n(&lock->mutex->held, 1, __ATOMIC_RELEASE);
	lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0777);
	if (lock->fd < 0) {
		gs_error_set_path(errno, path, "cannot open lock file");
		goto unlock;
	}
	while (flock(lock->fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
		if (!wait && errno == EWOULDBLOCK) {
			rc = 0;
			goto unlock;
		}
		if (errno != EINTR) {
			gs_error_set_path(errno, path, "cannot lock");
			goto unlock;
		}
	}
	*out = lock;
	lock = NULL;
	rc = 0;
	goto done;
unlock:
	if (lock->fd >= 0)
		close(lock->fd);
	__atomic_store_n(&lock->mutex->held, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock->mutex->mutex);
done:
	free(lock);
	free(path);
	return rc;
}

int gs_lock_acquire(gs_lock **out, gs_store *store)
{
	return lock_take(out, store, 1);
}

int gs_lock_try(gs_lock **out, gs_store *store)
{
	return lock_take(out, store, 0);
}

void gs_lock_release(gs_lock *lock)
{
	if (!lock)
		return;
	/* Closing the descriptor drops the flock. */
	close(lock->fd);
	__atomic_store_n(&lock->mutex->held, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock->mutex->mutex);
	free(lock);
}
