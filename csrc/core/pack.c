/* pack.c - consolidating packs.  Every commit writes a small pack, and a
 * lookup searches pack by pack (4.9 us among 16, 0.6 us in one), so once
 * GS_PACK_LIMIT of them pile up they are merged into one, a slice per
 * commit, and removed; big packs are left to GitStore.pack().
 * Entries are copied byte for byte, deltas included, not rebuilt with
 * git_packbuilder, which searches for deltas: 16 packs of 1,000 blobs
 * merge in 34 ms, against 4.7 s (bench/libgit2_compare.c).
 *
 * GitStore.pack() merges every pack and makes it compact: an older
 * version of a tree or blob becomes a delta against the newer version at
 * the same path, found by comparing each commit's tree with its parent's
 * (git gc would not do it: it never tries a delta between two objects a
 * pack holds whole, taking it that they were tried already). */
#include "gs_internal.h"
#include "commitgraph.h"
#include "delta.h"
#include "lock.h"
#include "pack.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Pack base names are built in PATH_BUF; a suffix must still fit. */
#define PATH_BUF 4096
#define SUFFIXED_BUF (PATH_BUF + 16)

typedef struct {
	char *base;    /* "<gitdir>objects/pack/pack-<hex>" */
	off_t size;    /* of the .pack file */
	unsigned extras;  /* which of pack_extras were listed beside it */
} pack_file;

/* A pack's files but its .pack and .idx (and .keep), as they may be
 * listed beside it. */
static const char *const pack_extras[] = {".rev", ".bitmap", NULL};

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

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int name_listed(char *const *names, size_t n, const char *name)
{
	return bsearch(&name, names, n, sizeof(*names), compare_names) != NULL;
}

/*
 * The packs of the repository that may be merged (an index, no .keep);
 * none when there are fewer than `at_least` .pack files.  This runs every
 * few commits: the directory's names are read once, and a pack's
 * siblings looked up among them, so that a pack costs one stat (its
 * size), not three.
 */
static int list_packs(pack_file **out, size_t *count, const char *dir, size_t at_least)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	pack_file *packs = NULL;
	size_t nnames = 0, names_cap = 0, listed, n = 0, cap = 0, dir_len = strlen(dir);
	int rc = -1;

	*out = NULL;
	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : gs_error_set_path(errno, dir, "cannot list");
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "pack-", 5) != 0)
			continue;
		if (nnames == names_cap) {
			size_t grown_cap = names_cap ? names_cap * 2 : 64;
			char **grown = realloc(names, grown_cap * sizeof(*grown));
			if (!grown)
				goto nomem;
			names = grown;
			names_cap = grown_cap;
		}
		if (!(names[nnames] = strdup(e->d_name)))
			goto nomem;
		nnames++;
	}
	for (size_t i = 0; i < nnames; i++)
		n += has_suffix(names[i], ".pack");
	listed = n >= at_least ? nnames : 0;
	n = 0;
	if (listed > 1)
		qsort(names, listed, sizeof(*names), compare_names);
	for (size_t i = 0; i < listed; i++) {
		char sibling[PATH_BUF], path[SUFFIXED_BUF];
		size_t stem = strlen(names[i]) - 5;
		struct stat st;

		if (!has_suffix(names[i], ".pack") || stem + 8 > sizeof(sibling) ||
		    dir_len + stem + 2 > PATH_BUF)
			continue;
		memcpy(sibling, names[i], stem);
		strcpy(sibling + stem, ".keep");
		if (name_listed(names, listed, sibling))
			continue;
		strcpy(sibling + stem, ".idx");
		if (!name_listed(names, listed, sibling))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) < 0)
			continue;   /* merged away meanwhile */
		path[dir_len + 1 + stem] = '\0';
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
		packs[n].size = st.st_size;
		packs[n].extras = 0;
		for (size_t x = 0; pack_extras[x]; x++) {
			strcpy(sibling + stem, pack_extras[x]);
			if (name_listed(names, listed, sibling))
				packs[n].extras |= 1u << x;
		}
		n++;
	}
	*out = packs;
	*count = n;
	packs = NULL;
	n = 0;
	rc = 0;
	goto done;
nomem:
	gs_error_set_os(ENOMEM, "out of memory");
done:
	closedir(d);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	packs_free(packs, n);
	return rc;
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

/* One object of a pack being merged. */
typedef struct {
	git_oid id;
	uint64_t offset;
	uint64_t length;   /* of the whole entry in its pack */
	uint32_t crc;      /* of the entry, from its pack's index */
	size_t pack;       /* index into the merged packs */
	int type;          /* of the entry: an object's, or OFS_DELTA, REF_DELTA */
} packed_entry;

static int is_delta(int type)
{
	return type == GIT_OBJECT_OFS_DELTA || type == GIT_OBJECT_REF_DELTA;
}

static int push_entry(packed_entry **list, size_t *n, size_t *cap, const packed_entry *e)
{
	if (*n == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 1024;
		packed_entry *grown = realloc(*list, grown_cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		*list = grown;
		*cap = grown_cap;
	}
	(*list)[(*n)++] = *e;
	return 0;
}

static int compare_offsets(const void *a, const void *b)
{
	uint64_t x = ((const packed_entry *)a)->offset, y = ((const packed_entry *)b)->offset;
	return x < y ? -1 : x > y;
}

/* The objects of one pack (index version 2, the pack mapped at map):
 * ids, offsets, lengths, types. */
static int read_pack_entries(packed_entry **list, size_t *n, size_t *cap, const char *base,
			     size_t pack, const unsigned char *map, uint64_t pack_size)
{
	char path[SUFFIXED_BUF];
	unsigned char *idx = NULL;
	struct stat st;
	uint32_t count;
	size_t first = *n;
	int fd = -1, rc = -1;

	if (strlen(base) + 5 > sizeof(path))
		return gs_error_set(GS_ERR_GIT, "pack path too long: %s", base);
	strcpy(path, base);
	strcat(path, ".idx");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		gs_error_set_path(errno, path, "cannot read");
		goto done;
	}
	if (st.st_size < 8 + 1024 + 40 || !(idx = malloc((size_t)st.st_size)) ||
	    read_all(fd, idx, (size_t)st.st_size) < 0 || memcmp(idx, "\377tOc", 4) != 0)
		goto corrupt;
	memcpy(&count, idx + 8 + 255 * 4, 4);
	count = ntohl(count);
	if ((uint64_t)st.st_size < 8 + 1024 + (uint64_t)count * 28 + 40)
		goto corrupt;
	{
		const unsigned char *ids = idx + 8 + 1024;
		const unsigned char *crcs = ids + (size_t)count * GIT_OID_RAWSZ;
		const unsigned char *offsets = ids + (size_t)count * 24;
		const unsigned char *large = offsets + (size_t)count * 4;
		for (uint32_t i = 0; i < count; i++) {
			packed_entry e = { .pack = pack };
			uint32_t off;
			git_oid_fromraw(&e.id, ids + (size_t)i * GIT_OID_RAWSZ);
			/* Copied entries keep it: not computed again over a merge's bytes. */
			memcpy(&e.crc, crcs + (size_t)i * 4, 4);
			e.crc = ntohl(e.crc);
			memcpy(&off, offsets + (size_t)i * 4, 4);
			off = ntohl(off);
			if (off & 0x80000000u) {
				uint32_t hi, lo, k = off & 0x7fffffffu;
				if (large + (size_t)k * 8 + 8 > idx + st.st_size)
					goto corrupt;
				memcpy(&hi, large + (size_t)k * 8, 4);
				memcpy(&lo, large + (size_t)k * 8 + 4, 4);
				e.offset = (uint64_t)ntohl(hi) << 32 | ntohl(lo);
			} else {
				e.offset = off;
			}
			if (push_entry(list, n, cap, &e) < 0)
				goto done;
		}
	}
	/* An entry runs to the next one, the last to the trailing checksum. */
	if (*n - first > 1)
		qsort(*list + first, *n - first, sizeof(**list), compare_offsets);
	for (size_t i = first; i < *n; i++) {
		uint64_t end = i + 1 < *n ? (*list)[i + 1].offset : pack_size - 20;
		if (end <= (*list)[i].offset || end > pack_size - 20)
			goto corrupt;
		(*list)[i].length = end - (*list)[i].offset;
		(*list)[i].type = (map[(*list)[i].offset] >> 4) & 7;
	}
	rc = 0;
	goto done;
corrupt:
	gs_error_set(GS_ERR_GIT, "corrupt or unsupported pack index %s", path);
done:
	if (fd >= 0)
		close(fd);
	free(idx);
	return rc;
}

/* By id; among copies of one object, whole ones first. */
static int compare_entry_ids(const void *a, const void *b)
{
	const packed_entry *x = a, *y = b;
	int c = git_oid_cmp(&x->id, &y->id);
	if (c)
		return c;
	if (is_delta(x->type) != is_delta(y->type))
		return is_delta(x->type) - is_delta(y->type);
	return x->pack < y->pack ? -1 : x->pack > y->pack;
}

static void remove_pack(const pack_file *pack)
{
	char path[SUFFIXED_BUF];

	/* The index goes last: git treats a .pack without .idx as garbage. */
	snprintf(path, sizeof(path), "%s.pack", pack->base);
	unlink(path);
	for (size_t i = 0; pack_extras[i]; i++)
		if (pack->extras & (1u << i)) {
			snprintf(path, sizeof(path), "%s%s", pack->base, pack_extras[i]);
			unlink(path);
		}
	snprintf(path, sizeof(path), "%s.idx", pack->base);
	unlink(path);
}

static int compare_size_desc(const void *a, const void *b)
{
	off_t x = ((const pack_file *)a)->size, y = ((const pack_file *)b)->size;
	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Which packs to merge: the largest ones are kept as they are while each
 * outweighs everything smaller put together (twice over), or while the
 * merge would copy more than `budget` bytes; the rest are merged.  Sizes
 * then grow geometrically and every object is rewritten only a
 * logarithmic number of times.  `packs` is sorted largest first.
 */
static size_t packs_to_keep(const pack_file *packs, size_t count, off_t budget)
{
	off_t rest = 0;
	size_t keep;

	for (size_t i = 0; i < count; i++)
		rest += packs[i].size;
	for (keep = 0; keep < count; keep++) {
		rest -= packs[keep].size;   /* now: everything smaller than it */
		if (packs[keep].size < 2 * rest && packs[keep].size + rest <= budget)
			break;
	}
	return keep;
}

/*
 * What a merge at commit time may copy: the commits that carry it must
 * not spend long on rewriting a big pack (merging the 6 MB pack of a
 * 100,000-file tree took a third of a second, several hundred commits'
 * worth), so packs beyond this stay as they are until GitStore.pack().
 * A MiB is some sixteen slices.  The budget grows with the store (a
 * sixteenth of all its packs) so that the packs left whole stay few:
 * each was at least a sixteenth of the store when written, so there are
 * at most about sixteen per doubling of its size.
 */
#define MERGE_BUDGET_MIN ((off_t)1024 * 1024)

static off_t merge_budget(const pack_file *packs, size_t count)
{
	off_t total = 0;

	for (size_t i = 0; i < count; i++)
		total += packs[i].size;
	return total / 16 > MERGE_BUDGET_MIN ? total / 16 : MERGE_BUDGET_MIN;
}

/* Map a pack file read-only; *size is its length. */
static int map_pack(unsigned char **out, uint64_t *size, const char *base)
{
	char path[SUFFIXED_BUF];
	struct stat st;
	void *map;
	int fd, err;

	*out = NULL;
	if (strlen(base) + 6 > sizeof(path))
		return gs_error_set(GS_ERR_GIT, "pack path too long: %s", base);
	strcpy(path, base);
	strcat(path, ".pack");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return gs_error_set_path(errno, path, "cannot read");
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return gs_error_set_path(err, path, "cannot read");
	}
	/* A header (12 bytes) and a trailing checksum (20) at the least. */
	if (st.st_size < 32) {
		close(fd);
		return gs_error_set(GS_ERR_GIT, "%s: not a pack file (%lld bytes)", path,
				    (long long)st.st_size);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	err = errno;
	close(fd);
	if (map == MAP_FAILED)
		return gs_error_set_path(err, path, "cannot map");
	*out = map;
	*size = (uint64_t)st.st_size;
	return 0;
}

typedef struct merge_progress merge_progress;
static void progress_free(merge_progress *p);

/*
 * Packs chosen to be merged: their objects, each listed once, go into the
 * next pack written, and the packs are removed once it is in place.
 */
struct gs_pack_merge {
	gs_store *store;
	pack_file *packs;          /* largest first; those from `keep` on merge */
	size_t count, keep;
	unsigned char **maps;      /* the merged packs, mapped */
	uint64_t *map_sizes;
	packed_entry *entries;     /* sorted by id, each once */
	size_t nentries;
	char *skipped;             /* entries the new pack has already */
	git_repository *repo;      /* for objects read whole */
	git_odb *odb;
	int compact;               /* stored trees deflated (see consolidate()) */
	int deltas;                /* older versions made deltas against newer ones */
	z_stream inflater;         /* for objects read whole from the maps */
	int inflating;
	merge_progress *progress;  /* once copying has started */
	gs_packwriter *writer;     /* a merge spread over commits: its own pack */
	pid_t pid;                 /* of the process that planned it */
};

/* The object database, for what the maps do not hold: borrowed when
 * first needed and returned after each step of a merge spread over
 * commits, so that it never keeps a handle (and its warm caches) from
 * the commits in between. */
static git_odb *merge_odb(gs_pack_merge *m)
{
	if (!m->odb && gs_repo_acquire(&m->repo, m->store) == 0 &&
	    git_repository_odb(&m->odb, m->repo) < 0) {
		gs_error_set_git(-1, m->store->path);
		m->odb = NULL;
	}
	return m->odb;
}

static void merge_odb_return(gs_pack_merge *m)
{
	git_odb_free(m->odb);
	gs_repo_release(m->store, m->repo);
	m->odb = NULL;
	m->repo = NULL;
}

void gs_pack_merge_free(gs_pack_merge *m)
{
	if (!m)
		return;
	if (m->inflating)
		inflateEnd(&m->inflater);
	progress_free(m->progress);
	gs_packwriter_free(m->writer);
	merge_odb_return(m);
	for (size_t i = 0; m->maps && i < m->count - m->keep; i++)
		if (m->maps[i])
			munmap(m->maps[i], (size_t)m->map_sizes[i]);
	free(m->maps);
	free(m->map_sizes);
	free(m->entries);
	free(m->skipped);
	packs_free(m->packs, m->count);
	free(m);
}

/* Commits between two counts of the packs. */
#define COUNT_EVERY 4

/* threshold 0: every pack, even a single one (GitStore.pack()). */
int gs_pack_merge_plan(gs_pack_merge **out, gs_store *store, size_t threshold)
{
	gs_pack_merge *m = NULL;
	char *dir = gs_store_file(store, "objects/pack", "");
	size_t nmerge, cap = 0, unique = 0;
	int rc = -1;

	*out = NULL;
	if (!dir)
		return -1;
	/* Listing the directory for every commit costs more than the commit
	 * itself on a fast disk: look only every COUNT_EVERY packs (other
	 * processes' packs are found at the next look). */
	if (threshold > 1 && ++store->packs_written < COUNT_EVERY) {
		free(dir);
		return 0;
	}
	store->packs_written = 0;
	if (!(m = calloc(1, sizeof(*m)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	m->store = store;
	/* Packs too big to merge now do not count towards the threshold. */
	if (list_packs(&m->packs, &m->count, dir,
		       threshold > 1 ? threshold + store->packs_kept : 0) < 0)
		goto done;
	if (m->count == 0) {
		rc = 0;
		goto done;
	}
	if (m->count > 1)
		qsort(m->packs, m->count, sizeof(*m->packs), compare_size_desc);
	m->keep = threshold > 1 ? packs_to_keep(m->packs, m->count,
						merge_budget(m->packs, m->count)) : 0;
	store->packs_kept = m->keep;
	nmerge = m->count - m->keep;
	if (nmerge < (threshold ? 2u : 1u)) {
		rc = 0;
		goto done;
	}
	m->maps = calloc(nmerge + 1, sizeof(*m->maps));
	m->map_sizes = calloc(nmerge + 1, sizeof(*m->map_sizes));
	if (!m->maps || !m->map_sizes) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nmerge; i++)
		if (map_pack(&m->maps[i], &m->map_sizes[i], m->packs[m->keep + i].base) < 0 ||
		    read_pack_entries(&m->entries, &m->nentries, &cap, m->packs[m->keep + i].base,
				      i, m->maps[i], m->map_sizes[i]) < 0)
			goto done;
	/* An object in several packs is written once. */
	if (m->nentries > 1)
		qsort(m->entries, m->nentries, sizeof(*m->entries), compare_entry_ids);
	for (size_t i = 0; i < m->nentries; i++)
		if (unique == 0 || !git_oid_equal(&m->entries[unique - 1].id, &m->entries[i].id))
			m->entries[unique++] = m->entries[i];
	m->nentries = unique;
	if (!(m->skipped = calloc(unique + 1, 1))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	*out = m;
	m = NULL;
	rc = 0;
done:
	gs_pack_merge_free(m);
	free(dir);
	return rc;
}

size_t gs_pack_merge_skip(gs_pack_merge *m, int (*written)(void *ctx, const git_oid *id),
			  void *ctx)
{
	size_t left = 0;

	for (size_t i = 0; i < m->nentries; i++) {
		m->skipped[i] = written(ctx, &m->entries[i].id) != 0;
		left += !m->skipped[i];
	}
	return left;
}

/* ------------------------------------------------------------------ */
/* How each merged object goes into the new pack                        */

#define NONE ((size_t)-1)
/* Chains of deltas made here are at most this long (git's default);
 * chains copied from other packs are taken as they are. */
#define MAX_DEPTH 50
/* Objects from this size up are never deltas, nor tiny ones: a delta
 * entry's header would take most of them. */
#define MAX_DELTA_OBJECT ((size_t)64 << 20)
#define MIN_DELTA_OBJECT 64

enum {
	COPY_WHOLE,   /* its entry byte for byte */
	COPY_DELTA,   /* its delta entry, the base named anew */
	READ_WHOLE,   /* read and deflated again: a tree made compact, a delta whose base is lost */
	NEW_DELTA,    /* a delta against a newer version, made here */
	WRITTEN       /* skipped: the caller wrote it */
};

typedef struct {
	size_t base;       /* entry index of its base; NONE when whole */
	size_t root;       /* the whole object its chain of copied deltas ends in */
	unsigned depth;    /* along copied deltas; then in the new pack */
	unsigned height;   /* of a root: its longest chain of copied deltas */
	int how;
	int type;          /* of its entry */
	int state;         /* of a chain walk: 0 not seen, 1 on the stack, 2 done */
	uint64_t offset;   /* in the new pack, once written */
} merge_item;

static size_t find_entry(const gs_pack_merge *m, const git_oid *id)
{
	size_t lo = 0, hi = m->nentries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = git_oid_cmp(&m->entries[mid].id, id);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

/* Length of a pack entry's type-and-size header; *size the size it
 * gives (-1: malformed). */
static int entry_size(size_t *header_len, size_t *size, const unsigned char *raw, uint64_t len)
{
	size_t n = 1, shift = 4;
	unsigned char c = raw[0];

	*size = c & 15;
	while (c & 0x80) {
		if (n >= len || shift > 8 * sizeof(size_t) - 7)
			return -1;
		c = raw[n++];
		*size |= (size_t)(c & 0x7f) << shift;
		shift += 7;
	}
	*header_len = n;
	return 0;
}

/* A delta entry: *delta_len the delta's size, *data_at where its zlib
 * data starts in the entry; its base is at *base_offset in the same pack
 * (OFS_DELTA) or is the object *base_id (REF_DELTA). */
static int parse_delta(size_t *delta_len, size_t *data_at, uint64_t *base_offset,
		       git_oid *base_id, const packed_entry *e, const unsigned char *raw)
{
	size_t n;

	*base_offset = 0;
	if (entry_size(&n, delta_len, raw, e->length) < 0)
		return -1;
	if (e->type == GIT_OBJECT_OFS_DELTA) {
		uint64_t distance;
		unsigned char c;
		if (n >= e->length)
			return -1;
		c = raw[n++];
		distance = c & 0x7f;
		while (c & 0x80) {
			if (n >= e->length || distance >> 56)
				return -1;
			c = raw[n++];
			distance = ((distance + 1) << 7) | (c & 0x7f);
		}
		/* The base is an entry after the pack's 12-byte header. */
		if (distance == 0 || distance > e->offset || e->offset - distance < 12)
			return -1;
		*base_offset = e->offset - distance;
	} else {
		if (n + GIT_OID_RAWSZ > e->length)
			return -1;
		git_oid_fromraw(base_id, raw + n);
		n += GIT_OID_RAWSZ;
	}
	if (n >= e->length)
		return -1;
	*data_at = n;
	return 0;
}

/* Whether a whole entry goes in as it is: not when the pack is made
 * compact and it is a tree stored without compression. */
static int copies_whole(const gs_pack_merge *m, const packed_entry *e)
{
	const unsigned char *raw = m->maps[e->pack] + e->offset;
	size_t n, size;

	if (e->type < GIT_OBJECT_COMMIT || e->type > GIT_OBJECT_TAG)
		return 0;
	if (!m->compact || e->type != GIT_OBJECT_TREE)
		return 1;
	/* The zlib header (2 bytes), then the first block's: BTYPE 00 is stored. */
	if (entry_size(&n, &size, raw, e->length) < 0 || n + 3 > e->length)
		return 0;
	return ((raw[n + 2] >> 1) & 3) != 0;
}

/* Where OFS_DELTA bases are: every entry of the merged packs (those the
 * merge lists once included), by pack and offset. */
typedef struct {
	packed_entry *list;
	size_t count;
} locator;

static int locator_open(locator *loc, const gs_pack_merge *m)
{
	size_t cap = 0;

	for (size_t i = 0; i < m->count - m->keep; i++)
		if (read_pack_entries(&loc->list, &loc->count, &cap, m->packs[m->keep + i].base, i,
				      m->maps[i], m->map_sizes[i]) < 0)
			return -1;
	return 0;
}

/* The entry at offset in pack: listed pack by pack, each by offset. */
static const packed_entry *locate(const locator *loc, size_t pack, uint64_t offset)
{
	size_t lo = 0, hi = loc->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const packed_entry *e = &loc->list[mid];
		if (e->pack == pack && e->offset == offset)
			return e;
		if (e->pack < pack || (e->pack == pack && e->offset < offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* How each entry goes in, as it stands in its pack. */
static int classify(merge_item *items, const gs_pack_merge *m)
{
	locator loc = {0};
	int rc = -1;

	for (size_t i = 0; i < m->nentries; i++) {
		const packed_entry *e = &m->entries[i];
		merge_item *it = &items[i];
		size_t delta_len, data_at;
		uint64_t base_offset;
		git_oid base_id;

		it->base = NONE;
		it->type = e->type;
		if (m->skipped[i]) {
			it->how = WRITTEN;
			continue;
		}
		if (!is_delta(e->type)) {
			it->how = copies_whole(m, e) ? COPY_WHOLE : READ_WHOLE;
			continue;
		}
		it->how = READ_WHOLE;
		if (parse_delta(&delta_len, &data_at, &base_offset, &base_id, e,
				m->maps[e->pack] + e->offset) < 0)
			continue;
		if (base_offset) {
			const packed_entry *b;
			if (!loc.list && locator_open(&loc, m) < 0)
				goto done;
			if (!(b = locate(&loc, e->pack, base_offset)))
				continue;
			git_oid_cpy(&base_id, &b->id);
		}
		if ((it->base = find_entry(m, &base_id)) != NONE)
			it->how = COPY_DELTA;
	}
	rc = 0;
done:
	free(loc.list);
	return rc;
}

/* Depths along the copied deltas.  Copies of one object taken from
 * different packs can make a cycle; it is broken by reading one whole. */
static void resolve_copied_chains(merge_item *items, size_t n, size_t *stack)
{
	for (size_t i = 0; i < n; i++) {
		size_t top = 0, x = i;

		while (items[x].state != 2) {
			if (items[x].state == 1) {
				items[stack[top - 1]].base = NONE;
				items[stack[top - 1]].how = READ_WHOLE;
				break;
			}
			items[x].state = 1;
			stack[top++] = x;
			if (items[x].base == NONE)
				break;
			x = items[x].base;
		}
		while (top) {
			size_t y = stack[--top];
			merge_item *it = &items[y];
			it->state = 2;
			it->depth = it->base == NONE ? 0 : items[it->base].depth + 1;
			it->root = it->base == NONE ? y : items[it->base].root;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (items[items[i].root].height < items[i].depth)
			items[items[i].root].height = items[i].depth;
		items[i].state = 0;
	}
}

/* The size of entry i's object when the entry holds it whole; -1 when
 * it is a delta (or malformed). */
static int whole_size(size_t *size, const gs_pack_merge *m, size_t i)
{
	const packed_entry *e = &m->entries[i];
	size_t header;

	if (e->type < GIT_OBJECT_COMMIT || e->type > GIT_OBJECT_TAG)
		return -1;
	return entry_size(&header, size, m->maps[e->pack] + e->offset, e->length);
}

/* Whether entry i may be the base or the target of a new delta. */
static int delta_size_ok(gs_pack_merge *m, size_t i)
{
	size_t size;
	git_object_t type;

	if (whole_size(&size, m, i) < 0 &&
	    (!merge_odb(m) ||
	     git_odb_read_header(&size, &type, m->odb, &m->entries[i].id) < 0)) {
		gs_error_clear();
		return 0;
	}
	return size >= MIN_DELTA_OBJECT && size <= MAX_DELTA_OBJECT;
}

/* Objects read whole for pairing and for new deltas: inflated straight
 * from the mapped packs (libgit2 would search every pack for each). */
static int inflate_entry(gs_buf *out, gs_pack_merge *m, const packed_entry *e)
{
	const unsigned char *raw = m->maps[e->pack] + e->offset;
	z_stream *z = &m->inflater;
	size_t header, size;
	int zrc;

	if (entry_size(&header, &size, raw, e->length) < 0)
		return gs_error_set(GS_ERR_GIT, "corrupt pack entry %s", git_oid_tostr_s(&e->id));
	if (!m->inflating) {
		memset(z, 0, sizeof(*z));
		if (inflateInit(z) != Z_OK)
			return gs_error_set_os(ENOMEM, "out of memory");
		m->inflating = 1;
	} else if (inflateReset(z) != Z_OK) {
		return gs_error_set(GS_ERR_GIT, "inflating %s failed", git_oid_tostr_s(&e->id));
	}
	out->size = 0;
	if (gs_buf_grow(out, size + 1) < 0)
		return -1;
	z->next_in = (Bytef *)raw + header;
	z->avail_in = (uInt)(e->length - header);
	z->next_out = (Bytef *)out->data;
	z->avail_out = (uInt)size + 1;
	zrc = inflate(z, Z_FINISH);
	if (zrc != Z_STREAM_END || z->total_out != size)
		return gs_error_set(GS_ERR_GIT, "corrupt pack entry %s", git_oid_tostr_s(&e->id));
	out->size = size;
	out->data[size] = '\0';   /* parsers of commit text stop there */
	return 0;
}

/* Object id whole into out, *type its type: from the merged packs when
 * they hold it whole, else through libgit2. */
static int read_whole(gs_buf *out, git_object_t *type, gs_pack_merge *m, const git_oid *id)
{
	size_t i = find_entry(m, id), size;
	git_odb_object *obj = NULL;
	int rc;

	if (i != NONE && whole_size(&size, m, i) == 0 && size < UINT32_MAX &&
	    m->entries[i].length < UINT32_MAX) {
		*type = (git_object_t)m->entries[i].type;
		return inflate_entry(out, m, &m->entries[i]);
	}
	if (!merge_odb(m))
		return -1;
	if ((rc = git_odb_read(&obj, m->odb, id)) < 0)
		return gs_error_set_git(rc, git_oid_tostr_s(id));
	*type = git_odb_object_type(obj);
	out->size = 0;
	rc = gs_buf_put(out, git_odb_object_data(obj), git_odb_object_size(obj));
	git_odb_object_free(obj);
	return rc;
}

/* Finding which object a newer one replaced at the same path. */
typedef struct {
	gs_pack_merge *m;
	const merge_item *items;
	size_t *newer;   /* per entry: the newer version's entry, NONE */
} pairing;

/* The first pair found for an object wins: commits go newest first. */
static void pair(pairing *p, const git_oid *older, const git_oid *newer)
{
	size_t i = find_entry(p->m, older), j;

	if (i == NONE || p->newer[i] != NONE || is_delta(p->m->entries[i].type) ||
	    (p->items[i].how != COPY_WHOLE && p->items[i].how != READ_WHOLE))
		return;
	if ((j = find_entry(p->m, newer)) != NONE && j != i && delta_size_ok(p->m, i) &&
	    delta_size_ok(p->m, j))
		p->newer[i] = j;
}

/* One entry of a raw tree. */
typedef struct {
	const char *name;
	size_t len;
	unsigned mode;
	git_oid id;
} tree_item;

/* The entry at *at of the tree data, *at moved past it; 0 at the end or
 * where the tree is malformed. */
static int next_tree_item(tree_item *t, const gs_buf *tree, size_t *at)
{
	const char *p = tree->data + *at, *end = tree->data + tree->size, *nul;

	t->mode = 0;
	while (p < end && *p >= '0' && *p <= '7')
		t->mode = t->mode * 8 + (unsigned)(*p++ - '0');
	if (p >= end || *p++ != ' ' || !(nul = memchr(p, '\0', (size_t)(end - p))) ||
	    (size_t)(end - nul) < 1 + GIT_OID_RAWSZ)
		return 0;
	t->name = p;
	t->len = (size_t)(nul - p);
	git_oid_fromraw(&t->id, (const unsigned char *)nul + 1);
	*at = (size_t)(nul + 1 + GIT_OID_RAWSZ - tree->data);
	return 1;
}

#define MODE_TREE 0040000u

static int is_blob_mode(unsigned mode)
{
	return (mode & 0170000u) == 0100000u || (mode & 0170000u) == 0120000u;
}

/* git's order of tree entries: a tree's name as if it ended in '/'. */
static int tree_order(const tree_item *a, const tree_item *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->name, b->name, n), ca, cb;

	if (c)
		return c;
	ca = a->len > n ? (unsigned char)a->name[n] : a->mode == MODE_TREE ? '/' : 0;
	cb = b->len > n ? (unsigned char)b->name[n] : b->mode == MODE_TREE ? '/' : 0;
	return ca - cb;
}

/* Pair what tree `older` held with what `newer` holds at the same
 * paths, going down only into subtrees that changed.  A tree that cannot
 * be read (a shallow history's parent) pairs nothing. */
static void pair_trees(pairing *p, const git_oid *older, const git_oid *newer, unsigned depth)
{
	gs_buf a = {0}, b = {0};
	git_object_t ta, tb;
	tree_item x, y;
	size_t i = 0, j = 0;
	int more_x, more_y;

	if (git_oid_equal(older, newer))
		return;
	pair(p, older, newer);
	/* Deeper than git nests trees: pair no further. */
	if (depth >= GS_MAX_TREE_DEPTH)
		return;
	if (read_whole(&a, &ta, p->m, older) < 0 || read_whole(&b, &tb, p->m, newer) < 0 ||
	    ta != GIT_OBJECT_TREE || tb != GIT_OBJECT_TREE) {
		gs_error_clear();
		goto done;
	}
	more_x = next_tree_item(&x, &a, &i);
	more_y = next_tree_item(&y, &b, &j);
	while (more_x && more_y) {
		int c = tree_order(&x, &y);
		if (c == 0 && !git_oid_equal(&x.id, &y.id)) {
			if (x.mode == MODE_TREE)
				pair_trees(p, &x.id, &y.id, depth + 1);
			else if (is_blob_mode(x.mode) && is_blob_mode(y.mode))
				pair(p, &x.id, &y.id);
		}
		if (c <= 0)
			more_x = next_tree_item(&x, &a, &i);
		if (c >= 0)
			more_y = next_tree_item(&y, &b, &j);
	}
done:
	gs_buf_free(&a);
	gs_buf_free(&b);
}

typedef struct {
	int64_t time;
	size_t index;
	git_oid tree, parent;
} commit_link;

static int compare_newest_first(const void *a, const void *b)
{
	const commit_link *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? 1 : -1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* A commit's tree, first parent and committer time; 0 when it has no
 * parent or is malformed. */
static int parse_commit(commit_link *c, const gs_buf *raw)
{
	const char *p = raw->data, *end = raw->data + raw->size, *line, *gt;

	if (raw->size < 5 + GIT_OID_HEXSZ + 1 || memcmp(p, "tree ", 5) != 0 ||
	    git_oid_fromstrn(&c->tree, p + 5, GIT_OID_HEXSZ) < 0)
		return 0;
	p += 5 + GIT_OID_HEXSZ + 1;
	if ((size_t)(end - p) < 7 + GIT_OID_HEXSZ || memcmp(p, "parent ", 7) != 0 ||
	    git_oid_fromstrn(&c->parent, p + 7, GIT_OID_HEXSZ) < 0)
		return 0;
	for (line = p; line < end; line++) {
		const char *eol;
		if (line != p && line[-1] != '\n')
			continue;
		if (line[0] == '\n')
			break;
		if ((size_t)(end - line) < 10 || memcmp(line, "committer ", 10) != 0)
			continue;
		eol = memchr(line, '\n', (size_t)(end - line));
		gt = memrchr(line, '>', (size_t)((eol ? eol : end) - line));
		c->time = gt ? strtoll(gt + 1, NULL, 10) : 0;
		return 1;
	}
	return 0;
}

/* For each merged commit (newest first), its tree against its first
 * parent's: newer[i] is the entry that replaced entry i at its path. */
static int find_newer_versions(size_t *newer, gs_pack_merge *m, const merge_item *items)
{
	pairing p = {m, items, newer};
	commit_link *commits = NULL;
	gs_buf raw = {0};
	git_object_t type;
	size_t n = 0;
	int rc = -1;

	for (size_t i = 0; i < m->nentries; i++)
		n += m->entries[i].type == GIT_OBJECT_COMMIT;
	if (!(commits = malloc((n ? n : 1) * sizeof(*commits)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	n = 0;
	for (size_t i = 0; i < m->nentries; i++) {
		if (m->entries[i].type != GIT_OBJECT_COMMIT)
			continue;
		if (read_whole(&raw, &type, m, &m->entries[i].id) < 0)
			goto done;
		commits[n].index = i;
		n += parse_commit(&commits[n], &raw);
	}
	if (n > 1)
		qsort(commits, n, sizeof(*commits), compare_newest_first);
	for (size_t i = 0; i < n; i++) {
		commit_link parent;
		if (read_whole(&raw, &type, m, &commits[i].parent) < 0) {
			gs_error_clear();   /* a shallow history's edge */
			continue;
		}
		if (type == GIT_OBJECT_COMMIT && raw.size > 5 + GIT_OID_HEXSZ &&
		    memcmp(raw.data, "tree ", 5) == 0 &&
		    git_oid_fromstrn(&parent.tree, raw.data + 5, GIT_OID_HEXSZ) == 0)
			pair_trees(&p, &parent.tree, &commits[i].tree, 0);
	}
	rc = 0;
done:
	gs_buf_free(&raw);
	free(commits);
	return rc;
}

/*
 * Which whole objects become deltas against their newer version: each
 * chain (newest first) as long as it stays within MAX_DEPTH, counting the
 * copied deltas that hang below each object; then every entry's depth in
 * the new pack.  A cycle (a file changed back) loses its last link.
 */
static void resolve_new_deltas(merge_item *items, size_t n, size_t *newer, size_t *stack)
{
	for (size_t r = 0; r < n; r++) {
		size_t top = 0, x = r;

		if (items[r].root != r)
			continue;
		while (items[x].state != 2) {
			if (items[x].state == 1) {
				newer[stack[top - 1]] = NONE;
				break;
			}
			items[x].state = 1;
			stack[top++] = x;
			if (newer[x] == NONE)
				break;
			x = items[newer[x]].root;
		}
		while (top) {
			size_t y = stack[--top], b = newer[y];
			unsigned depth = 0;
			if (b != NONE) {
				size_t rb = items[b].root;
				depth = items[rb].depth + (b != rb ? items[b].depth : 0) + 1;
				if (depth + items[y].height > MAX_DEPTH) {
					newer[y] = NONE;
					depth = 0;
				}
			}
			items[y].depth = depth;
			items[y].state = 2;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].root != i)
			items[i].depth += items[items[i].root].depth;
		if (newer[i] != NONE) {
			items[i].how = NEW_DELTA;
			items[i].base = newer[i];
		}
	}
}

/*
 * Versions noted per store: a table by older object (open addressing,
 * a zero id free), the newest note for an object winning.  It grows to
 * VERSIONS_MAX slots, the objects of some thousands of commits (40 bytes
 * each); when that fills, it starts again empty.  Nothing is removed
 * otherwise: an object a merge made a delta is never paired again.
 */
#define VERSIONS_MAX 16384

static size_t version_slot(const gs_version_pair *table, size_t cap, const git_oid *older)
{
	size_t h;

	memcpy(&h, older->id, sizeof(h));
	for (h &= cap - 1;; h = (h + 1) & (cap - 1))
		if (git_oid_is_zero(&table[h].older) || git_oid_equal(&table[h].older, older))
			return h;
}

static int versions_grow(gs_store *store)
{
	size_t cap = store->version_cap ? store->version_cap * 2 : 256;
	gs_version_pair *table;

	if (cap > VERSIONS_MAX) {
		/* Full: start again. */
		memset(store->versions, 0, store->version_cap * sizeof(*store->versions));
		store->version_count = 0;
		return 0;
	}
	if (!(table = calloc(cap, sizeof(*table))))
		return -1;
	for (size_t i = 0; i < store->version_cap; i++)
		if (!git_oid_is_zero(&store->versions[i].older))
			table[version_slot(table, cap, &store->versions[i].older)] =
				store->versions[i];
	free(store->versions);
	store->versions = table;
	store->version_cap = cap;
	return 0;
}

void gs_pack_note_versions(gs_store *store, const gs_version_pair *pairs, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		size_t slot;
		if ((store->version_count + 1) * 4 > store->version_cap * 3 &&
		    versions_grow(store) < 0)
			return;
		slot = version_slot(store->versions, store->version_cap, &pairs[k].older);
		store->version_count += git_oid_is_zero(&store->versions[slot].older);
		store->versions[slot] = pairs[k];
	}
}

/* The versions the store noted for the objects of this merge. */
static void pair_noted_versions(size_t *newer, gs_pack_merge *m, const merge_item *items)
{
	pairing p = {m, items, newer};
	const gs_store *store = m->store;

	for (size_t i = 0; i < m->nentries; i++) {
		const gs_version_pair *v = &store->versions[version_slot(
			store->versions, store->version_cap, &m->entries[i].id)];
		if (!git_oid_is_zero(&v->older))
			pair(&p, &v->older, &v->newer);
	}
}

/* Contents kept between deltas: a chain's next delta has for base the
 * object the last one was made for. */
typedef struct {
	gs_buf base, target, delta;
	size_t base_index;        /* the entry `base` holds; NONE */
	git_object_t base_type;
} delta_work;

static void delta_work_free(delta_work *d)
{
	gs_buf_free(&d->base);
	gs_buf_free(&d->target);
	gs_buf_free(&d->delta);
}

/* A delta against the newer version when it takes at most half the
 * object; the object whole when not. */
static int write_new_delta(gs_pack_merge *m, gs_packwriter *w, const merge_item *items,
			   size_t i, delta_work *d)
{
	const packed_entry *e = &m->entries[i];
	size_t b = items[i].base, len;
	gs_delta_index *index = NULL;
	git_object_t type;
	gs_buf held;
	int made = 0, rc = -1;

	/* Both sizes were checked when paired. */
	if (read_whole(&d->target, &type, m, &e->id) < 0)
		return -1;
	len = d->target.size;
	if (d->base_index != b) {
		d->base_index = NONE;
		if (read_whole(&d->base, &d->base_type, m, &m->entries[b].id) < 0)
			gs_error_clear();   /* then stored whole */
		else
			d->base_index = b;
	}
	if (d->base_index == b && d->base_type == type &&
	    len >= 64 && (gs_delta_index_new(&index, d->base.data, d->base.size) < 0 ||
			  gs_delta_make(&made, &d->delta, index, d->target.data, len,
					len / 2 - 20) < 0))
		goto done;
	if (made)
		rc = gs_packwriter_add_delta(w, &e->id, items[b].offset, &m->entries[b].id,
					     d->delta.data, d->delta.size);
	else if (copies_whole(m, e))
		rc = gs_packwriter_add_raw(w, &e->id, m->maps[e->pack] + e->offset,
					   (size_t)e->length, e->crc);
	else
		rc = gs_packwriter_add(w, &e->id, type, d->target.data, len);
	/* This object is the base of the next delta of its chain. */
	held = d->base;
	d->base = d->target;
	d->target = held;
	d->base_index = i;
	d->base_type = type;
done:
	gs_delta_index_free(index);
	return rc;
}

static int write_item(gs_pack_merge *m, gs_packwriter *w, merge_item *items, size_t i,
		      delta_work *d)
{
	const packed_entry *e = &m->entries[i];
	const unsigned char *raw = m->maps[e->pack] + e->offset;
	git_odb_object *obj = NULL;
	size_t delta_len, data_at;
	uint64_t base_offset;
	git_oid base_id;
	int rc;

	items[i].offset = gs_packwriter_offset(w);
	switch (items[i].how) {
	case COPY_WHOLE:
		return gs_packwriter_add_raw(w, &e->id, raw, (size_t)e->length, e->crc);
	case COPY_DELTA:
		/* Parsed when classified: it cannot fail here. */
		if (parse_delta(&delta_len, &data_at, &base_offset, &base_id, e, raw) < 0)
			return gs_error_set(GS_ERR_GIT, "corrupt pack entry %s",
					    git_oid_tostr_s(&e->id));
		return gs_packwriter_add_delta_raw(w, &e->id, items[items[i].base].offset,
						   &m->entries[items[i].base].id, delta_len,
						   raw + data_at, (size_t)e->length - data_at);
	case NEW_DELTA:
		return write_new_delta(m, w, items, i, d);
	}
	if (!merge_odb(m))
		return -1;
	if ((rc = git_odb_read(&obj, m->odb, &e->id)) < 0)
		return gs_error_set_git(rc, git_oid_tostr_s(&e->id));
	rc = gs_packwriter_add(w, &e->id, git_odb_object_type(obj), git_odb_object_data(obj),
			       git_odb_object_size(obj));
	git_odb_object_free(obj);
	return rc;
}

/*
 * The order entries are written in: commits and tags first, then each
 * other object not a delta followed by the deltas that hang from it,
 * depth first, so that every base comes before its deltas and a chain's
 * next delta has for base the object just written.
 */
static int write_order(size_t *order, size_t *count, const merge_item *items, size_t n)
{
	size_t *first = malloc((n + 1) * sizeof(*first));
	size_t *sibling = malloc((n + 1) * sizeof(*sibling));
	size_t *stack = malloc((n + 1) * sizeof(*stack));

	*count = 0;
	if (!first || !sibling || !stack) {
		free(first);
		free(sibling);
		free(stack);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		first[i] = NONE;
	for (size_t i = n; i-- > 0;) {
		size_t b = items[i].base;
		if (items[i].how != WRITTEN && b != NONE && items[b].how != WRITTEN) {
			sibling[i] = first[b];
			first[b] = i;
		}
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			size_t b = items[i].base, top = 0;
			int type = items[i].type;
			if (items[i].how == WRITTEN || (b != NONE && items[b].how != WRITTEN) ||
			    (pass == 0) != (type == GIT_OBJECT_COMMIT || type == GIT_OBJECT_TAG))
				continue;
			stack[top++] = i;
			while (top) {
				size_t x = stack[--top];
				order[(*count)++] = x;
				for (size_t c = first[x]; c != NONE; c = sibling[c])
					stack[top++] = c;
			}
		}
	free(first);
	free(sibling);
	free(stack);
	return 0;
}

/* What is left of a merge being written: the order its entries go in,
 * and how far the writer has got. */
struct merge_progress {
	merge_item *items;
	size_t *order;
	size_t count, next;
	delta_work work;
};

static void progress_free(merge_progress *p)
{
	if (!p)
		return;
	delta_work_free(&p->work);
	free(p->items);
	free(p->order);
	free(p);
}

/*
 * How the merged objects go into the new pack.  Whole entries and deltas
 * are copied as they are (a delta's base named by its new offset, or by
 * its id when the caller wrote the base).  GitStore.pack()'s merge also
 * deflates stored trees and makes an older version of a tree or blob a
 * delta against the newer one at the same path.  Commit-time merges do
 * not: the commit walk and the deltas took a quarter more time over
 * 1,000 commits (bench/bench_storage.py's history).
 */
static int progress_start(gs_pack_merge *m)
{
	size_t n = m->nentries;
	merge_progress *p = calloc(1, sizeof(*p));
	size_t *stack = NULL, *newer = NULL;
	int rc = -1;

	if (!p || !(p->items = calloc(n + 1, sizeof(*p->items))) ||
	    !(p->order = malloc((n + 1) * sizeof(*p->order))) ||
	    !(stack = malloc((n + 1) * sizeof(*stack)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	p->work.base_index = NONE;
	if (classify(p->items, m) < 0)
		goto done;
	resolve_copied_chains(p->items, n, stack);
	if (m->deltas) {
		if (!(newer = malloc((n + 1) * sizeof(*newer)))) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			newer[i] = NONE;
		if (find_newer_versions(newer, m, p->items) < 0)
			goto done;
		resolve_new_deltas(p->items, n, newer, stack);
	} else if (m->store->version_count) {
		if (!(newer = malloc((n + 1) * sizeof(*newer)))) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			newer[i] = NONE;
		pair_noted_versions(newer, m, p->items);
		resolve_new_deltas(p->items, n, newer, stack);
	}
	if (write_order(p->order, &p->count, p->items, n) < 0)
		goto done;
	m->progress = p;
	p = NULL;
	rc = 0;
done:
	progress_free(p);
	free(newer);
	free(stack);
	return rc;
}

/* The next entries into the writer, until entries of `budget` bytes
 * (as the merged packs hold them: a delta made here costs by its
 * object, not its few bytes) are written; *finished once all are. */
/* What making a delta costs at the least, in bytes copied in as long:
 * reading both objects, indexing one, deflating the result. */
#define DELTA_COST 4096

static int progress_write(int *finished, uint64_t *used, gs_pack_merge *m,
			  gs_packwriter *writer, uint64_t budget)
{
	merge_progress *p = m->progress;

	*used = 0;
	while (p->next < p->count && *used < budget) {
		size_t i = p->order[p->next++];
		uint64_t length = m->entries[i].length;
		*used += p->items[i].how == NEW_DELTA && length < DELTA_COST ? DELTA_COST : length;
		if (write_item(m, writer, p->items, i, &p->work) < 0)
			return -1;
	}
	*finished = p->next == p->count;
	return 0;
}

int gs_pack_merge_copy(gs_pack_merge *m, gs_packwriter *writer)
{
	uint64_t used;
	int finished;

	if (!m->progress && progress_start(m) < 0)
		return -1;
	return progress_write(&finished, &used, m, writer, UINT64_MAX);
}

void gs_pack_merge_remove(gs_pack_merge *m, const char *hex)
{
	/* Never the pack just written (same objects, same name). */
	for (size_t i = m->keep; i < m->count; i++)
		if (!has_suffix(m->packs[i].base, hex))
			remove_pack(&m->packs[i]);
}

static int never_written(void *ctx, const git_oid *id)
{
	(void)ctx;
	(void)id;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Merges spread over commits                                           */

/* What one commit may copy of a merge in progress: a commit that does
 * stays within about two and a half times a plain one (bench_tails.py,
 * on tmpfs), and the merges need about a third of it per commit in the
 * long run. */
#define MERGE_SLICE ((uint64_t)64 * 1024)
/* A merge this small goes into the commit's own pack: one pack written,
 * not two. */
#define MERGE_SMALL (MERGE_SLICE / 2)
/* And this much more per byte the commit writes itself. */
#define MERGE_PER_BYTE 4

/* Whether every merged pack is still there: another process may have
 * merged them meanwhile, and a second copy of their objects is waste. */
static int sources_present(const gs_pack_merge *m)
{
	char path[SUFFIXED_BUF];

	for (size_t i = m->keep; i < m->count; i++) {
		snprintf(path, sizeof(path), "%s.pack", m->packs[i].base);
		if (access(path, F_OK) < 0)
			return 0;
	}
	return 1;
}

static uint64_t merge_size(const gs_pack_merge *m)
{
	uint64_t size = 0;

	for (size_t i = m->keep; i < m->count; i++)
		size += (uint64_t)m->packs[i].size;
	return size;
}

/* A merge too big for one commit becomes the store's, in progress. */
static int merge_start(gs_store *store, gs_pack_merge *m)
{
	store->merging = m;
	m->pid = getpid();
	if (gs_packwriter_begin(&m->writer, store->pack_dir,
				(uint32_t)gs_pack_merge_skip(m, never_written, NULL)) < 0)
		return -1;
	return progress_start(m);
}

/* The merge in progress a slice further (up to `budget` bytes), put in
 * place once all is copied. */
static int merge_continue(gs_store *store, uint64_t budget)
{
	gs_pack_merge *m = store->merging;
	char hex[GIT_OID_HEXSZ + 1];
	uint64_t used;
	int finished;

	/* Another process merged them meanwhile: a second copy is waste. */
	if (!sources_present(m)) {
		gs_pack_merge_drop(store);
		return 0;
	}
	if (progress_write(&finished, &used, m, m->writer, budget) < 0)
		return -1;
	/* Ending writes the index and removes the packs: with half a
	 * slice left, or in the next step. */
	if (!finished || used > budget / 2)
		return 0;
	if (gs_packwriter_finish(m->writer, hex) < 0)
		return -1;
	gs_pack_merge_remove(m, hex);
	gs_store_packs_changed(store, 1);
	gs_pack_merge_drop(store);
	return 0;
}

void gs_pack_merge_next(gs_pack_merge **small, gs_store *store, uint64_t writing)
{
	/* Bigger commits copy more, so that merges keep up with what
	 * commits add (each byte is copied a few times over, one merge per
	 * level) and a commit's share stays in proportion to its own cost. */
	uint64_t slice = MERGE_SLICE + MERGE_PER_BYTE * writing;
	gs_pack_merge *m = NULL;
	int rc;

	*small = NULL;
	/* Inherited over fork(): the parent's to finish. */
	if (store->merging && store->merging->pid != getpid())
		gs_pack_merge_drop(store);
	if (store->merging) {
		rc = merge_continue(store, slice);
	} else if ((rc = gs_pack_merge_plan(&m, store, GS_PACK_LIMIT)) < 0 || !m) {
		/* none due */
	} else if (merge_size(m) <= MERGE_SMALL) {
		*small = m;
		return;
	} else if ((rc = merge_start(store, m)) == 0) {
		rc = merge_continue(store, slice / 2);
	}
	if (rc < 0) {
		gs_error_clear();
		gs_pack_merge_drop(store);
	} else if (store->merging) {
		merge_odb_return(store->merging);
	}
}

void gs_pack_merge_drop(gs_store *store)
{
	gs_pack_merge_free(store->merging);
	store->merging = NULL;
}

void gs_pack_merge_close(gs_store *store)
{
	gs_lock *lock = NULL;

	if (!store->merging)
		return;
	/* Only if the lock is free: the store may be going away in a thread
	 * whose wait would block the lock's holder (a callback of its). A
	 * merge dropped is merely started again later. */
	if (store->merging->pid == getpid()) {
		if (gs_lock_try(&lock, store) < 0)
			gs_error_clear();
		if (lock && merge_continue(store, UINT64_MAX) < 0)
			gs_error_clear();
		gs_lock_release(lock);
	}
	gs_pack_merge_drop(store);
}

/* Merge every pack (but those marked .keep) into one, compact; the
 * caller holds the lock. */
static int consolidate(gs_store *store)
{
	gs_pack_merge *m = NULL;
	gs_packwriter *writer = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = -1;

	/* This merge takes in every pack, those of one in progress too. */
	gs_pack_merge_drop(store);
	if (gs_pack_merge_plan(&m, store, 0) < 0)
		return -1;
	if (!m)
		return 0;
	m->compact = m->deltas = 1;
	if (gs_packwriter_begin(&writer, store->pack_dir,
				(uint32_t)gs_pack_merge_skip(m, never_written, NULL)) < 0)
		goto done;
	gs_packwriter_compact(writer);
	if (gs_pack_merge_copy(m, writer) < 0 || gs_packwriter_finish(writer, hex) < 0)
		goto done;
	gs_pack_merge_remove(m, hex);
	gs_store_packs_changed(store, 1);
	rc = 0;
done:
	gs_packwriter_free(writer);
	gs_pack_merge_free(m);
	return rc;
}

int gs_store_pack(gs_store *store)
{
	gs_lock *lock = NULL;
	int rc;

	if (gs_lock_acquire(&lock, store) < 0)
		return -1;
	rc = consolidate(store);
	if (rc == 0)
		rc = gs_commit_graph_write(store);
	gs_lock_release(lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Copying objects out of a repository's packs byte for byte            */

struct gs_pack_source {
	pack_file *packs;
	size_t count;
	unsigned char **maps;
	uint64_t *map_sizes;
	packed_entry *entries;     /* sorted by id */
	size_t nentries;
};

void gs_pack_source_free(gs_pack_source *src)
{
	if (!src)
		return;
	for (size_t i = 0; src->maps && i < src->count; i++)
		if (src->maps[i])
			munmap(src->maps[i], (size_t)src->map_sizes[i]);
	free(src->maps);
	free(src->map_sizes);
	free(src->entries);
	packs_free(src->packs, src->count);
	free(src);
}

int gs_pack_source_open(gs_pack_source **out, const char *pack_dir)
{
	gs_pack_source *src = calloc(1, sizeof(*src));
	size_t cap = 0;

	*out = NULL;
	if (!src)
		return gs_error_set_os(ENOMEM, "out of memory");
	if (list_packs(&src->packs, &src->count, pack_dir, 0) < 0)
		goto fail;
	src->maps = calloc(src->count + 1, sizeof(*src->maps));
	src->map_sizes = calloc(src->count + 1, sizeof(*src->map_sizes));
	if (!src->maps || !src->map_sizes) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < src->count; i++) {
		size_t before = src->nentries;
		if (map_pack(&src->maps[i], &src->map_sizes[i], src->packs[i].base) == 0 &&
		    read_pack_entries(&src->entries, &src->nentries, &cap, src->packs[i].base, i,
				      src->maps[i], src->map_sizes[i]) == 0)
			continue;
		/* A pack another process merged away meanwhile: its objects
		 * are read through libgit2 instead. */
		if (gs_error_last()->os_errno != ENOENT)
			goto fail;
		gs_error_clear();
		src->nentries = before;
	}
	if (src->nentries > 1)
		qsort(src->entries, src->nentries, sizeof(*src->entries), compare_entry_ids);
	*out = src;
	return 0;
fail:
	gs_pack_source_free(src);
	return -1;
}

int gs_pack_source_copy(int *copied, gs_pack_source *src, gs_packwriter *writer,
			const git_oid *id)
{
	size_t lo = 0, hi = src->nentries;

	*copied = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = git_oid_cmp(&src->entries[mid].id, id);
		if (c == 0) {
			const packed_entry *e = &src->entries[mid];
			const unsigned char *raw = src->maps[e->pack] + e->offset;

			/* A delta needs its base: the caller reads it whole. */
			if (e->type < GIT_OBJECT_COMMIT || e->type > GIT_OBJECT_TAG)
				return 0;
			*copied = 1;
			return gs_packwriter_add_raw(writer, id, raw, (size_t)e->length, e->crc);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
