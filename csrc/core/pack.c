/* pack.c - consolidating packs.  Every commit writes a small pack; when
 * too many pile up, the small ones are merged (like `git gc --auto`) so
 * that lookups do not have to search dozens of indexes. */
#include "gs_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pack base names are built in PATH_BUF; a suffix must still fit. */
#define PATH_BUF 4096
#define SUFFIXED_BUF (PATH_BUF + 16)

typedef struct {
	char *base;    /* "<gitdir>objects/pack/pack-<hex>" */
	off_t size;    /* of the .pack file */
} pack_file;

static void packs_free(pack_file *packs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(packs[i].base);
	free(packs);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int file_exists(const char *base, const char *suffix)
{
	char path[SUFFIXED_BUF];
	struct stat st;

	if (strlen(base) + strlen(suffix) >= sizeof(path))
		return 0;
	memcpy(path, base, strlen(base) + 1);
	strcat(path, suffix);
	return stat(path, &st) == 0;
}

/* The packs of the repository that may be merged (no .keep). */
static int list_packs(pack_file **out, size_t *count, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	pack_file *packs = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : gs_error_set_os(errno, "cannot list %s", dir);
	while ((e = readdir(d))) {
		char path[SUFFIXED_BUF];
		struct stat st;
		size_t len = strlen(e->d_name);

		if (strncmp(e->d_name, "pack-", 5) != 0 || !has_suffix(e->d_name, ".pack"))
			continue;
		if (strlen(dir) + len + 2 > PATH_BUF)
			continue;
		memcpy(path, dir, strlen(dir));
		path[strlen(dir)] = '/';
		memcpy(path + strlen(dir) + 1, e->d_name, len - 5);
		path[strlen(dir) + 1 + len - 5] = '\0';
		if (file_exists(path, ".keep") || !file_exists(path, ".idx") ||
		    stat(strcat(path, ".pack"), &st) < 0)
			continue;
		path[strlen(path) - 5] = '\0';
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 32;
			pack_file *grown = realloc(packs, grown_cap * sizeof(*grown));
			if (!grown)
				goto nomem;
			packs = grown;
			cap = grown_cap;
		}
		if (!(packs[n].base = strdup(path)))
			goto nomem;
		packs[n++].size = st.st_size;
	}
	closedir(d);
	*out = packs;
	*count = n;
	return 0;
nomem:
	closedir(d);
	packs_free(packs, n);
	return gs_error_set_os(ENOMEM, "out of memory");
}

static int read_all(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Insert every object named by a pack index (version 1 or 2). */
static int insert_index(git_packbuilder *builder, const char *base)
{
	char path[SUFFIXED_BUF];
	unsigned char header[8];
	uint32_t fanout[256], n;
	unsigned char entry[24];
	int fd, v2, rc = -1;

	snprintf(path, sizeof(path), "%s.idx", base);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return gs_error_set_os(errno, "cannot read %s", path);
	if (read_all(fd, header, sizeof(header)) < 0)
		goto corrupt;
	v2 = memcmp(header, "\377tOc", 4) == 0;
	if (v2) {
		if (read_all(fd, fanout, sizeof(fanout)) < 0)
			goto corrupt;
	} else {
		memcpy(fanout, header, sizeof(header));
		if (read_all(fd, (char *)fanout + sizeof(header), sizeof(fanout) - sizeof(header)) < 0)
			goto corrupt;
	}
	n = ntohl(fanout[255]);
	for (uint32_t i = 0; i < n; i++) {
		git_oid id;
		size_t width = v2 ? GIT_OID_RAWSZ : 4 + GIT_OID_RAWSZ;
		if (read_all(fd, entry, width) < 0)
			goto corrupt;
		git_oid_fromraw(&id, entry + (v2 ? 0 : 4));
		if (git_packbuilder_insert(builder, &id, NULL) < 0) {
			gs_error_set_git(-1, path);
			goto done;
		}
	}
	rc = 0;
	goto done;
corrupt:
	gs_error_set(GS_ERR_GIT, "corrupt pack index %s", path);
done:
	close(fd);
	return rc;
}

static void remove_pack(const char *base)
{
	static const char *const suffixes[] = {".pack", ".idx", ".rev", ".bitmap", NULL};
	char path[SUFFIXED_BUF];

	/* The index goes last: git treats a .pack without .idx as garbage. */
	for (size_t i = 0; suffixes[i]; i++) {
		if (strcmp(suffixes[i], ".idx") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s", base, suffixes[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s.idx", base);
	unlink(path);
}

static int compare_size_desc(const void *a, const void *b)
{
	off_t x = ((const pack_file *)a)->size, y = ((const pack_file *)b)->size;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Number of .pack files, by name only: this runs after every commit. */
static size_t count_packs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "pack-", 5) == 0 && has_suffix(e->d_name, ".pack"))
			n++;
	closedir(d);
	return n;
}

int gs_pack_consolidate(gs_store *store, size_t threshold)
{
	git_repository *repo = NULL;
	git_packbuilder *builder = NULL;
	pack_file *packs = NULL;
	size_t count = 0, first = 0;
	char *dir = gs_store_file(store, "objects/pack", "");
	off_t rest = 0;
	int rc = -1;

	if (!dir)
		return -1;
	if (count_packs(dir) <= threshold) {
		free(dir);
		return 0;
	}
	if (list_packs(&packs, &count, dir) < 0)
		goto done;
	if (count <= threshold || count < 2) {
		rc = 0;
		goto done;
	}
	/* Merge the small packs into one; keep the largest as it is when it
	 * outweighs the others, so repeated merges stay cheap. */
	qsort(packs, count, sizeof(*packs), compare_size_desc);
	for (size_t i = 1; i < count; i++)
		rest += packs[i].size;
	if (packs[0].size >= 2 * rest)
		first = 1;
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	if (git_packbuilder_new(&builder, repo) < 0) {
		gs_error_set_git(-1, store->path);
		goto done;
	}
	git_packbuilder_set_threads(builder, 1);
	for (size_t i = first; i < count; i++)
		if (insert_index(builder, packs[i].base) < 0)
			goto done;
	if (git_packbuilder_write(builder, dir, 0, NULL, NULL) < 0) {
		gs_error_set_git(-1, dir);
		goto done;
	}
	for (size_t i = first; i < count; i++) {
		const git_oid *written = git_packbuilder_hash(builder);
		char hex[GIT_OID_HEXSZ + 1];
		/* Never delete the pack just written (same content, same name). */
		git_oid_tostr(hex, sizeof(hex), written);
		if (!has_suffix(packs[i].base, hex))
			remove_pack(packs[i].base);
	}
	rc = 0;
done:
	git_packbuilder_free(builder);
	gs_repo_release(store, repo);
	packs_free(packs, count);
	free(dir);
	return rc;
}

int gs_store_pack(gs_store *store)
{
	gs_lock *lock = NULL;
	int rc;

	if (gs_lock_acquire(&lock, store) < 0)
		return -1;
	rc = gs_pack_consolidate(store, 1);
	gs_lock_release(lock);
	return rc;
}
