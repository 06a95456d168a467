/* store.c - opening and creating repositories; the pool of libgit2 handles. */
#include "gs_internal.h"
#include "loose.h"
#include "pack.h"
#include "packed.h"
#include "build.h"
#include "commit.h"
#include "refs.h"
#include "txn.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The handle pool.  libgit2 handles are single-threaded, so each
 * operation borrows one; idle ones are kept for their object caches, at
 * most POOL_MAX of them.
 *
 * A handle's object database lists the packs that were there when it was
 * loaded and only ever adds to that list: packs that a merge deleted
 * would stay open and mapped for as long as the handle lives (a
 * descriptor and two mappings each, their disk space never freed).  So a
 * handle lent out after a merge of this store's, or after the pack
 * directory changed in a way this store's own last write does not
 * explain (another process wrote or merged), gets a fresh object
 * database; packs that are still there are shared between databases by
 * libgit2, so that reopens nothing.  Its object cache, though, keeps
 * every commit and tree it ever read (libgit2 counts their raw size, a
 * fraction of what they take), so a handle is replaced once this store
 * has merged HANDLE_MERGES times since it was opened: about every 130
 * commits, one open (a few hundred microseconds) that bounds the cache.
 * A store's own new packs need no reload: libgit2 looks for new packs by
 * itself when an object is missing.
 */
#define POOL_MAX 16
#define HANDLE_MERGES 32

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void)
{
	global_rc = git_libgit2_init() < 0 ? -1 : 0;
	if (global_rc == 0) {
		/* Our tree and commit writers only reference objects they
		 * just wrote or read; re-checking each one costs a lookup. */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
		/* Objects are not hashed again on every read, as git does not
		 * (git fsck does): hashing a blob cost as much as inflating it,
		 * and loose blobs, which we inflate ourselves, never were. */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
		/* libgit2 caches only trees up to 4 KiB: every lookup in a big
		 * directory would read and parse it again. */
		git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
				 (size_t)16 * 1024 * 1024);
	}
}

int gs_global_init(void)
{
	pthread_once(&global_once, global_init_once);
	if (global_rc < 0)
		return gs_error_set(GS_ERR_GIT, "libgit2 failed to initialise");
	return 0;
}

const char *gs_store_name(const gs_store *store)
{
	return store->name;
}

const char *gs_store_email(const gs_store *store)
{
	return store->email;
}

int gs_store_same(const gs_store *a, const gs_store *b)
{
	struct stat sa, sb;

	if (stat(a->gitdir, &sa) < 0 || stat(b->gitdir, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int open_handle(git_repository **out, const char *path)
{
	git_odb *odb;

	if (git_repository_open_ext(out, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		*out = NULL;
		return gs_error_set(GS_ERR_GIT, "No git repository was found at %s", path);
	}
	/* The object database lists the packs when it is made: made now,
	 * it shares the packs other handles have open (see gs_repo_acquire). */
	if (git_repository_odb(&odb, *out) == 0)
		git_odb_free(odb);
	return 0;
}

static void packs_mtime(struct timespec *out, const gs_store *store)
{
	struct stat st;

	if (stat(store->pack_dir, &st) == 0)
		*out = st.st_mtim;
	else
		out->tv_sec = out->tv_nsec = 0;
}

/*
 * The pack directory's mtime as last seen, looked at again once it is
 * older than PACKS_RECHECK_NS (the pool lock held).  A stat per lent
 * handle would cost more than a cached read (a path walk of a few
 * microseconds); other processes' merges need not be noticed sooner.
 */
#define PACKS_RECHECK_NS 10000000LL

static void packs_mtime_recent(struct timespec *out, gs_store *store)
{
	struct timespec clock;
	long long now_ns;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &clock);
	now_ns = (long long)clock.tv_sec * 1000000000LL + clock.tv_nsec;
	if (!store->packs_checked_ns || now_ns - store->packs_checked_ns >= PACKS_RECHECK_NS) {
		packs_mtime(&store->packs_mtime, store);
		store->packs_checked_ns = now_ns ? now_ns : 1;
	}
	*out = store->packs_mtime;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

void gs_store_packs_changed(gs_store *store, int removed)
{
	struct timespec now;

	packs_mtime(&now, store);
	if (removed)
		gs_packed_merged(store->packed);
	pthread_mutex_lock(&store->pool_lock);
	store->packs_removed += removed != 0;
	store->packs_written_at = now;
	store->packs_mtime = now;
	pthread_mutex_unlock(&store->pool_lock);
}

/* Add a handle to the table (the pool lock held). */
static int handle_add(gs_store *store, git_repository *repo, const struct timespec *seen,
		      int lent)
{
	if (store->handle_count == store->handle_cap) {
		size_t cap = store->handle_cap ? store->handle_cap * 2 : 4;
		struct gs_handle *grown = realloc(store->handles, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		store->handles = grown;
		store->handle_cap = cap;
	}
	store->handles[store->handle_count].repo = repo;
	store->handles[store->handle_count].packs_seen = *seen;
	store->handles[store->handle_count].packs_removed = store->packs_removed;
	store->handles[store->handle_count].opened_at = store->packs_removed;
	store->handles[store->handle_count].lent = lent;
	store->handle_count++;
	return 0;
}

static void handle_remove(gs_store *store, size_t i)
{
	memmove(&store->handles[i], &store->handles[i + 1],
		(store->handle_count - i - 1) * sizeof(*store->handles));
	store->handle_count--;
}

int gs_repo_acquire(git_repository **out, gs_store *store)
{
	struct timespec now;
	git_repository *dropped[POOL_MAX], *repo = NULL;
	size_t ndropped = 0;
	int reload = 0, rc = 0;

	*out = NULL;
	pthread_mutex_lock(&store->pool_lock);
	packs_mtime_recent(&now, store);
	/* The most recently returned idle handle has the warmest caches.
	 * Other idle handles that predate a merge of ours, and those due
	 * for replacement, are closed. */
	for (size_t i = store->handle_count; i-- > 0;) {
		struct gs_handle *h = &store->handles[i];
		if (h->lent)
			continue;
		if (!repo && store->packs_removed - h->opened_at < HANDLE_MERGES) {
			repo = h->repo;
			h->lent = 1;
			reload = h->packs_removed != store->packs_removed ||
				 (!same_time(&h->packs_seen, &now) &&
				  !same_time(&store->packs_written_at, &now));
			h->packs_seen = now;
			h->packs_removed = store->packs_removed;
		} else if ((h->packs_removed != store->packs_removed ||
			    store->packs_removed - h->opened_at >= HANDLE_MERGES) &&
			   ndropped < POOL_MAX) {
			dropped[ndropped++] = h->repo;
			handle_remove(store, i);
		}
	}
	pthread_mutex_unlock(&store->pool_lock);

	if (repo) {
		/* A failed reload leaves the old database, which still works. */
		if (reload)
			gs_repo_reload(repo);
	} else if (open_handle(&repo, store->gitdir) == 0) {
		pthread_mutex_lock(&store->pool_lock);
		rc = handle_add(store, repo, &now, 1);
		pthread_mutex_unlock(&store->pool_lock);
		if (rc < 0) {
			git_repository_free(repo);
			repo = NULL;
		}
	}
	/* Freed only now: libgit2 shares open packs between handles, so
	 * the new handle's database, listed above, keeps the mappings and
	 * indexes of packs that are still there; freed first, they would
	 * all be unmapped and read in again (a big pack cost milliseconds). */
	for (size_t i = 0; i < ndropped; i++)
		git_repository_free(dropped[i]);
	*out = repo;
	return repo ? 0 : -1;
}

void gs_repo_release(gs_store *store, git_repository *repo)
{
	size_t idle = 0, found = SIZE_MAX;

	if (!repo)
		return;
	pthread_mutex_lock(&store->pool_lock);
	for (size_t i = 0; i < store->handle_count; i++) {
		if (store->handles[i].repo == repo)
			found = i;
		else if (!store->handles[i].lent)
			idle++;
	}
	if (found != SIZE_MAX) {
		struct gs_handle h = store->handles[found];
		handle_remove(store, found);
		if (idle < POOL_MAX) {
			/* Last in the table: the next one lent out. */
			h.lent = 0;
			store->handles[store->handle_count++] = h;
			repo = NULL;
		}
	}
	pthread_mutex_unlock(&store->pool_lock);
	git_repository_free(repo);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int store_alloc(gs_store **out, git_repository *repo, const char *path,
		       const gs_open_opts *opts)
{
	gs_store *store = calloc(1, sizeof(*store));
	const char *gitdir = git_repository_path(repo);
	char *resolved = NULL;
	struct timespec seen;

	*out = NULL;
	if (!store)
		return gs_error_set_os(ENOMEM, "out of memory");
	resolved = realpath(gitdir, NULL);
	store->path = strdup(path);
	store->name = dup_or_null(opts->name ? opts->name : "gitstore");
	store->email = dup_or_null(opts->email ? opts->email : "gitstore@localhost");
	if (resolved) {
		store->gitdir = malloc(strlen(resolved) + 2);
		if (store->gitdir)
			sprintf(store->gitdir, "%s%s", resolved,
				resolved[strlen(resolved) - 1] == '/' ? "" : "/");
	} else {
		store->gitdir = strdup(gitdir);
	}
	free(resolved);
	if (store->gitdir)
		store->pack_dir = gs_store_file(store, "objects/pack", "");
	/* The locks first: gs_store_free destroys them whenever handles is set. */
	pthread_mutex_init(&store->pool_lock, NULL);
	pthread_mutex_init(&store->tree_cache_lock, NULL);
	pthread_mutex_init(&store->parked_lock, NULL);
	store->handles = calloc(4, sizeof(*store->handles));
	store->handle_cap = 4;
	if (!store->path || !store->name || !store->email || !store->gitdir ||
	    !store->pack_dir || !store->handles ||
	    gs_packed_index_new(&store->packed, store->pack_dir) < 0) {
		gs_store_free(store);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	packs_mtime(&seen, store);
	store->packs_written_at = seen;
	handle_add(store, repo, &seen, 0);
	*out = store;
	return 0;
}

void gs_store_free(gs_store *store)
{
	if (!store)
		return;
	gs_pack_merge_close(store);
	free(store->versions);
	if (store->handles) {
		for (size_t i = 0; i < store->handle_count; i++)
			git_repository_free(store->handles[i].repo);
		pthread_mutex_destroy(&store->pool_lock);
		gs_tree_cache_set(store, NULL, 0);
		pthread_mutex_destroy(&store->tree_cache_lock);
		gs_loose_close(store->parked);
		pthread_mutex_destroy(&store->parked_lock);
	}
	free(store->handles);
	gs_packed_index_free(store->packed);
	free(store->pack_dir);
	free(store->path);
	free(store->gitdir);
	free(store->name);
	free(store->email);
	free(store);
}

/* The parent directory of `path` must exist: we create only the last
 * component, like mkdir(2). */
static int check_parent_exists(const char *path)
{
	char *copy = strdup(path), *slash;
	struct stat st;
	int rc = 0;

	if (!copy)
		return gs_error_set_os(ENOMEM, "out of memory");
	while ((slash = strrchr(copy, '/')) && slash[1] == '\0' && slash != copy)
		*slash = '\0';
	slash = strrchr(copy, '/');
	if (slash && slash != copy) {
		*slash = '\0';
		if (stat(copy, &st) < 0)
			rc = gs_error_set(GS_ERR_NOTFOUND, "Parent directory does not exist: %s",
					  copy);
		else if (!S_ISDIR(st.st_mode))
			rc = gs_error_set(GS_ERR_NOTDIR, "Not a directory: %s", copy);
	}
	free(copy);
	return rc;
}

/* Empty tree, "Initialize <branch>" root commit, the branch, HEAD. */
/* Empty tree, "Initialize <branch>" root commit, the branch, HEAD. */
static int write_initial_branch(gs_store *store, const char *branch)
{
	git_oid tree_id, commit_id;
	gs_txn *txn = NULL;
	char *message = NULL, *fullname = NULL;
	int rc = -1;

	message = malloc(strlen(branch) + sizeof("Initialize "));
	fullname = malloc(strlen(branch) + sizeof(GS_REFS_HEADS));
	if (!message || !fullname) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	sprintf(message, "Initialize %s", branch);
	sprintf(fullname, GS_REFS_HEADS "%s", branch);
	if (gs_txn_begin(&txn, store) < 0 ||
	    gs_tree_apply(&tree_id, txn, NULL, NULL, 0, NULL, 0) < 0 ||
	    gs_commit_create(&commit_id, txn, &tree_id, NULL, message, gs_now()) < 0 ||
	    gs_txn_flush(txn) < 0 ||
	    gs_ref_write(store, fullname, &commit_id, NULL, NULL) < 0 ||
	    gs_head_write(store, fullname) < 0)
		goto done;
	rc = 0;
done:
	gs_txn_free(txn);
	free(message);
	free(fullname);
	return rc;
}

int gs_identity_check(const char *name, const char *email)
{
	/* git's signature syntax has no way to quote these. */
	if (strpbrk(name, "<>\n") || strpbrk(email, "<>\n"))
		return gs_error_set(GS_ERR_INVALID, "invalid author or email: %s <%s>", name, email);
	return 0;
}

static int open_existing(gs_store **out, const char *path, const gs_open_opts *opts);

/* Fill the new repository at `path` (a bare repository is made there). */
static int build_repository(const char *path, const gs_open_opts *opts)
{
	git_repository *repo = NULL;
	git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_config *config = NULL;
	gs_store *store = NULL;
	int rc = -1;

	init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(&repo, path, &init) < 0)
		return gs_error_set_git(-1, path);
	if (store_alloc(&store, repo, path, opts) < 0) {
		git_repository_free(repo);
		return -1;
	}
	/* The pool owns repo now; borrow it back for the initial commit. */
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	if (opts->branch && write_initial_branch(store, opts->branch) < 0)
		goto done;
	/* Turned on only now, so that the initial branch has no reflog
	 * entry; git itself then logs the branch moves it makes. */
	if (git_repository_config(&config, repo) < 0 ||
	    git_config_set_bool(config, "core.logallrefupdates", 1) < 0) {
		gs_error_set_git(-1, path);
		goto done;
	}
	rc = 0;
done:
	git_config_free(config);
	gs_repo_release(store, repo);
	gs_store_free(store);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A new, empty directory beside `path`, named after it: ".<name>.new-<n>". */
static int make_sibling_dir(char **out, const char *path)
{
	static unsigned counter;
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t len = strlen(path) + 64;
	char *tmp = malloc(len);

	*out = NULL;
	if (!tmp)
		return gs_error_set_os(ENOMEM, "out of memory");
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
		snprintf(tmp, len, "%.*s.%s.new-%ld-%u", (int)dirlen, path, path + dirlen,
			 (long)getpid(), n);
		if (mkdir(tmp, 0777) == 0) {
			*out = tmp;
			return 0;
		}
		if (errno != EEXIST) {
			gs_error_set_path(errno, tmp, "cannot create directory");
			free(tmp);
			return -1;
		}
	}
	free(tmp);
	return gs_error_set(GS_ERR_EXISTS, "cannot create a directory beside %s", path);
}

/*
 * A new repository is built in a directory beside `path` and renamed into
 * place once complete, so that a crash part-way leaves no half-made
 * repository at `path` (only a hidden sibling), and of two processes
 * creating the same store one wins and both end up opening its work.
 */
static int create_repository(gs_store **out, const char *path, const gs_open_opts *opts)
{
	char *tmp = NULL;
	size_t len = strlen(path);
	int rc = -1;

	*out = NULL;
	if (opts->branch && gs_refname_check(opts->branch) < 0)
		return -1;
	if (gs_identity_check(opts->name ? opts->name : "gitstore",
			      opts->email ? opts->email : "gitstore@localhost") < 0)
		return -1;
	if (check_parent_exists(path) < 0)
		return -1;
	/* "a.git/" names a.git: the rename wants no trailing slash. */
	while (len > 1 && path[len - 1] == '/')
		len--;
	{
		char *target = strndup(path, len);
		if (!target)
			return gs_error_set_os(ENOMEM, "out of memory");
		if (make_sibling_dir(&tmp, target) < 0 || build_repository(tmp, opts) < 0) {
			free(target);
			goto done;
		}
		if (rename(tmp, target) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
			gs_error_set_path(errno, target, "cannot create repository");
			free(target);
			goto done;
		}
		free(target);
	}
	/* Ours, or the one another process put there first. */
	rc = 0;
done:
	if (tmp) {
		nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		free(tmp);
	}
	if (rc < 0)
		return -1;
	return open_existing(out, path, opts);
}

static int open_existing(gs_store **out, const char *path, const gs_open_opts *opts)
{
	git_repository *repo = NULL;

	if (open_handle(&repo, path) < 0)
		return -1;
	if (store_alloc(out, repo, path, opts) < 0) {
		git_repository_free(repo);
		return -1;
	}
	return 0;
}

int gs_store_open(gs_store **out, const char *path, const gs_open_opts *opts)
{
	struct stat st;

	*out = NULL;
	if (gs_global_init() < 0)
		return -1;
	if (stat(path, &st) == 0)
		return open_existing(out, path, opts);
	if (errno != ENOENT && errno != ENOTDIR)
		return gs_error_set_path(errno, path, "");
	if (!opts->create)
		return gs_error_set(GS_ERR_NOTFOUND, "Repository not found: %s", path);
	return create_repository(out, path, opts);
}
