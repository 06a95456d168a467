/* tree.c - resolving paths in trees, listing trees, reading blobs. */
#include "gs_internal.h"
#include "loose.h"
#include "packed.h"
#include "tree.h"

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gs_repo_reload(git_repository *repo)
{
	git_odb *odb = NULL;
	char *path = malloc(strlen(git_repository_path(repo)) + sizeof("objects"));
	int rc = -1;

	if (!path)
		return -1;
	sprintf(path, "%sobjects", git_repository_path(repo));
	if (git_odb_open(&odb, path) == 0 && git_repository_set_odb(repo, odb) == 0)
		rc = 0;
	git_odb_free(odb);
	free(path);
	return rc;
}

int gs_tree_get(git_tree **out, git_repository *repo, const git_oid *id)
{
	int rc = git_tree_lookup(out, repo, id);
	if (rc == GIT_ENOTFOUND && gs_repo_reload(repo) == 0)
		rc = git_tree_lookup(out, repo, id);
	if (rc < 0) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), id);
		if (rc == GIT_ENOTFOUND)
			return gs_error_set(GS_ERR_GIT, "tree %s is missing from the repository",
					    hex);
		return gs_error_set_git(rc, hex);
	}
	return 0;
}

int gs_tree_lookup(gs_entry *out, git_repository *repo, const git_oid *root,
		   const char *path, gs_lookup_style style)
{
	git_tree *tree = NULL;
	git_oid current;
	const char *seg = path;
	char name[4096];
	int rc = -1;

	git_oid_cpy(&current, root);
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		const git_tree_entry *entry;

		if (len >= sizeof(name)) {
			gs_error_set(GS_ERR_NOTFOUND, "%s", path);
			goto done;
		}
		memcpy(name, seg, len);
		name[len] = '\0';
		git_tree_free(tree);
		tree = NULL;
		if (gs_tree_get(&tree, repo, &current) < 0)
			goto done;
		entry = git_tree_entry_byname(tree, name);
		if (!entry) {
			gs_error_set(GS_ERR_NOTFOUND, "%s", path);
			goto done;
		}
		if (!slash) {
			git_oid_cpy(&out->id, git_tree_entry_id(entry));
			out->mode = git_tree_entry_filemode_raw(entry);
			rc = 0;
			goto done;
		}
		if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
			if (style == GS_LOOKUP_WALK)
				gs_error_set(GS_ERR_NOTDIR, "%.*s", (int)(slash - path), path);
			else
				gs_error_set(GS_ERR_NOTFOUND, "%s", path);
			goto done;
		}
		git_oid_cpy(&current, git_tree_entry_id(entry));
		seg = slash + 1;
	}
done:
	git_tree_free(tree);
	return rc;
}

void gs_dirlist_free(gs_dirlist *list)
{
	git_tree_free(list->tree);
	free(list->names);
	free(list->items);
	list->items = NULL;
	list->names = NULL;
	list->tree = NULL;
	list->count = 0;
}

/* The names are not copied: the list keeps the tree they are in (libgit2
 * keeps a tree's data, and the tree outlives the handle it came from). A
 * walk lists every tree, and copying the names was a tenth of it. */
int gs_tree_list(gs_dirlist *out, git_repository *repo, const git_oid *id)
{
	git_tree *tree = NULL;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (gs_tree_get(&tree, repo, id) < 0)
		return -1;
	if ((n = git_tree_entrycount(tree)) && !(out->items = malloc(n * sizeof(*out->items)))) {
		git_tree_free(tree);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *entry = git_tree_entry_byindex(tree, i);

		out->items[i].name = (char *)git_tree_entry_name(entry);   /* borrowed from tree */
		git_oid_cpy(&out->items[i].id, git_tree_entry_id(entry));
		out->items[i].mode = git_tree_entry_filemode_raw(entry);
	}
	out->count = n;
	out->tree = tree;
	return 0;
}

int gs_tree_count_subdirs(size_t *out, git_repository *repo, const git_oid *id)
{
	git_tree *tree = NULL;
	size_t n;

	*out = 0;
	if (gs_tree_get(&tree, repo, id) < 0)
		return -1;
	n = git_tree_entrycount(tree);
	for (size_t i = 0; i < n; i++)
		if (git_tree_entry_type(git_tree_entry_byindex(tree, i)) == GIT_OBJECT_TREE)
			(*out)++;
	git_tree_free(tree);
	return 0;
}

int gs_object_size(size_t *out, git_repository *repo, const git_oid *id)
{
	git_odb *odb = NULL;
	git_object_t type;
	int rc;

	if ((rc = git_repository_odb(&odb, repo)) < 0)
		return gs_error_set_git(rc, "object database");
	rc = git_odb_read_header(out, &type, odb, id);
	git_odb_free(odb);
	if (rc == GIT_ENOTFOUND && gs_repo_reload(repo) == 0 &&
	    git_repository_odb(&odb, repo) == 0) {
		rc = git_odb_read_header(out, &type, odb, id);
		git_odb_free(odb);
	}
	if (rc < 0) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), id);
		if (rc == GIT_ENOTFOUND)
			return gs_error_set(GS_ERR_GIT, "object %s is missing from the repository",
					    hex);
		return gs_error_set_git(rc, hex);
	}
	return 0;
}

/* Whether the pack backend (the first: libgit2 ranks it above the loose
 * one) has id. */
static int in_packs(git_odb *odb, const git_oid *id)
{
	git_odb_backend *packs = NULL;

	if (git_odb_num_backends(odb) < 1 || git_odb_get_backend(&packs, odb, 0) < 0 ||
	    !packs->exists)
		return 0;
	return packs->exists(packs, id) == 1;
}

/* The tag parked_tag holds for a reader of blob id: never 0. */
static unsigned parked_tag(const git_oid *id)
{
	return ((unsigned)id->id[0] << 24 | (unsigned)id->id[1] << 16 |
		(unsigned)id->id[2] << 8 | id->id[3]) | 1;
}

/* The parked reader of blob id when it stands at or before offset:
 * *at is where. */
static gs_loose *unpark(size_t *at, gs_store *store, const git_oid *id, size_t offset)
{
	gs_loose *taken = NULL;

	if (atomic_load_explicit(&store->parked_tag, memory_order_relaxed) != parked_tag(id))
		return NULL;
	pthread_mutex_lock(&store->parked_lock);
	if (store->parked && git_oid_equal(&store->parked_id, id) &&
	    gs_loose_tell(store->parked) <= offset) {
		taken = store->parked;
		*at = gs_loose_tell(taken);
		store->parked = NULL;
		atomic_store_explicit(&store->parked_tag, 0, memory_order_relaxed);
	}
	pthread_mutex_unlock(&store->parked_lock);
	return taken;
}

/* Keep a reader that stopped before the end, and did not fail, for the
 * next read; close any other. */
static void park(gs_store *store, gs_loose *loose, const git_oid *id)
{
	gs_loose *old;

	if (gs_loose_tell(loose) >= gs_loose_size(loose)) {
		gs_loose_close(loose);
		return;
	}
	pthread_mutex_lock(&store->parked_lock);
	old = store->parked;
	store->parked = loose;
	git_oid_cpy(&store->parked_id, id);
	atomic_store_explicit(&store->parked_tag, parked_tag(id), memory_order_relaxed);
	pthread_mutex_unlock(&store->parked_lock);
	gs_loose_close(old);
}

/* A reader of blob id stored whole: loose, or big in a pack; NULL when it
 * is neither (libgit2 reads it).  *at is where it stands. */
static int open_stored_whole(gs_loose **out, size_t *total, size_t *at, gs_store *store,
			     git_odb *odb, const git_oid *id, size_t offset)
{
	gs_packed_where where;
	int found;

	*at = 0;
	if ((*out = unpark(at, store, id, offset))) {
		*total = gs_loose_size(*out);
		return 0;
	}
	/* A pack the store has not mapped yet is looked for once libgit2 has
	 * found the object packed. */
	if (gs_packed_open_big(out, total, &where, store->packed, id) < 0)
		return -1;
	if (where == GS_PACKED_UNSEEN && in_packs(odb, id)) {
		if (gs_packed_rescan(store->packed) < 0 ||
		    gs_packed_open_big(out, total, &where, store->packed, id) < 0)
			return -1;
		if (where == GS_PACKED_UNSEEN)
			where = GS_PACKED_OTHER;
	}
	if (where == GS_PACKED_UNSEEN)
		return gs_loose_open(out, &found, total, store, id);
	return 0;
}

int gs_blob_open(gs_blob *out, gs_store *store, git_repository *repo, const git_oid *id,
		 size_t offset, size_t size)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	size_t total, at;
	int rc;

	memset(out, 0, sizeof(*out));
	out->store = store;
	git_oid_cpy(&out->id, id);
	git_oid_tostr(hex, sizeof(hex), id);
	if ((rc = git_repository_odb(&odb, repo)) < 0)
		return gs_error_set_git(rc, "object database");
	/* Blobs stored whole we inflate ourselves, only as far as the read
	 * needs; libgit2 reads the rest (deltas, small packed objects). */
	if (open_stored_whole(&out->loose, &total, &at, store, odb, id, offset) < 0) {
		git_odb_free(odb);
		return -1;
	}
	if (out->loose) {
		git_odb_free(odb);
		if (offset > total)
			offset = total;
		if (size > total - offset)
			size = total - offset;
		out->size = size;
		out->at_end = offset + size == total;
		out->total = total;
		if (gs_loose_read(out->loose, NULL, offset - at) < 0) {
			gs_blob_free(out);
			return -1;
		}
		return 0;
	}
	rc = git_odb_read(&obj, odb, id);
	git_odb_free(odb);
	if (rc == GIT_ENOTFOUND && gs_repo_reload(repo) == 0 &&
	    git_repository_odb(&odb, repo) == 0) {
		rc = git_odb_read(&obj, odb, id);
		git_odb_free(odb);
	}
	if (rc == GIT_ENOTFOUND)
		return gs_error_set(GS_ERR_KEY, "%s", hex);
	if (rc < 0)
		return gs_error_set_git(rc, hex);
	if (git_odb_object_type(obj) != GIT_OBJECT_BLOB) {
		git_odb_object_free(obj);
		return gs_error_set(GS_ERR_INVALID, "Not a blob: %s", hex);
	}
	total = git_odb_object_size(obj);
	if (offset > total)
		offset = total;
	if (size > total - offset)
		size = total - offset;
	out->obj = obj;
	out->data = (const char *)git_odb_object_data(obj) + offset;
	out->size = size;
	out->total = total;
	return 0;
}

int gs_blob_pread(size_t *got, gs_blob *blob, size_t offset, char *dst, size_t len)
{
	*got = 0;
	if (offset >= blob->total)
		return 0;
	if (len > blob->total - offset)
		len = blob->total - offset;
	if (blob->data) {
		memcpy(dst, blob->data + offset, len);
		*got = len;
		return 0;
	}
	/* Before the stream's place, or after a failure: from the start. */
	if (offset < gs_loose_tell(blob->loose) && gs_loose_rewind(blob->loose) < 0)
		return -1;
	if (gs_loose_read(blob->loose, NULL, offset - gs_loose_tell(blob->loose)) < 0)
		return -1;
	/* Reaching the end lets the stream's own end be checked. */
	if (offset + len == blob->total ? gs_loose_read_all(blob->loose, dst) < 0
					: gs_loose_read(blob->loose, dst, len) < 0)
		return -1;
	*got = len;
	return 0;
}

int gs_blob_fill(gs_blob *blob, char *dst)
{
	if (blob->data) {
		memcpy(dst, blob->data, blob->size);
		return 0;
	}
	/* A read to the end lets the whole stream be checked. */
	if (blob->at_end)
		return gs_loose_read_all(blob->loose, dst);
	return gs_loose_read(blob->loose, dst, blob->size);
}

int gs_blob_read(gs_blob *out, gs_store *store, git_repository *repo, const git_oid *id,
		 size_t offset, size_t size)
{
	if (gs_blob_open(out, store, repo, id, offset, size) < 0)
		return -1;
	if (out->data)
		return 0;
	if (!(out->owned = malloc(out->size ? out->size : 1))) {
		gs_blob_free(out);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	if (gs_blob_fill(out, out->owned) < 0) {
		gs_blob_free(out);
		return -1;
	}
	out->data = out->owned;
	return 0;
}

void gs_blob_free(gs_blob *blob)
{
	git_odb_object_free(blob->obj);
	if (blob->loose)
		park(blob->store, blob->loose, &blob->id);
	free(blob->owned);
	memset(blob, 0, sizeof(*blob));
}

/* ------------------------------------------------------------------ */
/* Trees a commit starts from                                          */

static int compare_cached(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct gs_cached_tree *)a)->id,
			   &((const struct gs_cached_tree *)b)->id);
}

void gs_tree_cache_set(gs_store *store, struct gs_cached_tree *trees, size_t count)
{
	struct gs_cached_tree *old;
	size_t old_count;

	/* Sorted by id: an import writes tens of thousands of trees. */
	if (count > 1)
		qsort(trees, count, sizeof(*trees), compare_cached);
	pthread_mutex_lock(&store->tree_cache_lock);
	old = store->tree_cache;
	old_count = store->tree_cache_count;
	store->tree_cache = trees;
	store->tree_cache_count = count;
	pthread_mutex_unlock(&store->tree_cache_lock);
	for (size_t i = 0; i < old_count; i++) {
		free(old[i].data);
		if (old[i].entries) {
			gs_dirlist_free(old[i].entries);
			free(old[i].entries);
		}
	}
	free(old);
}

/* Entries of a raw tree object ("<octal mode> <name>\0<20-byte id>"...),
 * their names in one block: a root tree of 10,000 notes is parsed on
 * every commit that changes it. */
static int parse_tree(gs_dirlist *out, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	size_t n = 0, name_bytes = 0;
	char *next;

	memset(out, 0, sizeof(*out));
	for (const char *q = data; q < end; n++) {
		const char *nul = memchr(q, '\0', (size_t)(end - q));
		if (!nul || (size_t)(end - nul) < 1 + GIT_OID_RAWSZ)
			return gs_error_set(GS_ERR_GIT, "corrupt tree object");
		name_bytes += (size_t)(nul - q) + 1;   /* bounds the name and its NUL */
		q = nul + 1 + GIT_OID_RAWSZ;
	}
	if (!n)
		return 0;
	if (!(out->items = calloc(n, sizeof(*out->items))) || !(out->names = malloc(name_bytes))) {
		gs_dirlist_free(out);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	next = out->names;
	for (size_t i = 0; i < n; i++) {
		gs_dirent *e = &out->items[i];
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		uint32_t mode = 0;
		const char *name = p;

		while (name < nul && *name >= '0' && *name <= '7')
			mode = mode * 8 + (uint32_t)(*name++ - '0');
		if (name >= nul || *name != ' ')
			goto corrupt;
		name++;
		e->name = next;
		memcpy(next, name, (size_t)(nul - name) + 1);
		next += (size_t)(nul - name) + 1;
		out->count++;
		e->mode = mode;
		git_oid_fromraw(&e->id, (const unsigned char *)nul + 1);
		p = nul + 1 + GIT_OID_RAWSZ;
	}
	return 0;
corrupt:
	gs_dirlist_free(out);
	return gs_error_set(GS_ERR_GIT, "corrupt tree object");
}

/* The cached tree `id`, parsed (on its first use), or NULL; the caller
 * holds the cache lock.  *rc is -1 when parsing failed. */
static struct gs_cached_tree *cached_parsed(int *rc, gs_store *store, const git_oid *id)
{
	struct gs_cached_tree key, *t = NULL;

	*rc = 0;
	git_oid_cpy(&key.id, id);
	if (store->tree_cache_count)
		t = bsearch(&key, store->tree_cache, store->tree_cache_count,
			    sizeof(*store->tree_cache), compare_cached);
	if (!t || t->entries)
		return t;
	if (!(t->entries = calloc(1, sizeof(*t->entries)))) {
		*rc = gs_error_set_os(ENOMEM, "out of memory");
		return NULL;
	}
	if (parse_tree(t->entries, t->data, t->len) < 0) {
		free(t->entries);
		t->entries = NULL;
		*rc = -1;
		return NULL;
	}
	return t;
}

/* A copy of a parsed list whose names share one block. */
static int copy_parsed(gs_dirlist *out, const gs_dirlist *src)
{
	const gs_dirent *last;
	size_t name_bytes;

	memset(out, 0, sizeof(*out));
	if (!src->count)
		return 0;
	last = &src->items[src->count - 1];
	name_bytes = (size_t)(last->name - src->names) + strlen(last->name) + 1;
	if (!(out->items = malloc(src->count * sizeof(*out->items))) ||
	    !(out->names = malloc(name_bytes))) {
		gs_dirlist_free(out);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	memcpy(out->items, src->items, src->count * sizeof(*out->items));
	memcpy(out->names, src->names, name_bytes);
	for (size_t i = 0; i < src->count; i++)
		out->items[i].name = out->names + (src->items[i].name - src->names);
	out->count = src->count;
	return 0;
}

int gs_tree_list_recent(gs_dirlist *out, gs_store *store, git_repository *repo,
			const git_oid *id)
{
	struct gs_cached_tree *t;
	int rc;

	pthread_mutex_lock(&store->tree_cache_lock);
	t = cached_parsed(&rc, store, id);
	if (t)
		rc = copy_parsed(out, t->entries);
	pthread_mutex_unlock(&store->tree_cache_lock);
	if (t || rc < 0)
		return rc;
	return gs_tree_list(out, repo, id);
}

/* Git's order of tree entries: a tree's name sorts as if followed by '/'. */
static int compare_tree_order(const char *a, size_t alen, int a_tree, const gs_dirent *e)
{
	size_t blen = strlen(e->name), n = alen < blen ? alen : blen;
	int c = memcmp(a, e->name, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = alen > n ? (unsigned char)a[n] : a_tree ? '/' : 0;
	cb = blen > n ? (unsigned char)e->name[n] : e->mode == GS_MODE_TREE ? '/' : 0;
	return (ca > cb) - (ca < cb);
}

/* The entry `name` of a tree's entries in git's order, by bisection as
 * libgit2 does (once as a file, once as a tree); NULL when absent. */
static const gs_dirent *find_entry(const gs_dirlist *dir, const char *name, size_t len)
{
	for (int as_tree = 0; as_tree < 2; as_tree++) {
		size_t lo = 0, hi = dir->count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = compare_tree_order(name, len, as_tree, &dir->items[mid]);
			if (c == 0)
				return &dir->items[mid];
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return NULL;
}

/*
 * Look `name` up in the cached tree `id`: 1 when the tree is cached
 * (*found says whether it has the name, *entry is a copy), 0 when it is
 * not, -1 on error.  A cached tree is parsed once, on its first lookup:
 * an import looks up every file of one big directory.
 */
static int cached_lookup(gs_dirent *entry, int *found, gs_store *store, const git_oid *id,
			 const char *name, size_t len)
{
	struct gs_cached_tree *t;
	const gs_dirent *e;
	int rc;

	pthread_mutex_lock(&store->tree_cache_lock);
	t = cached_parsed(&rc, store, id);
	if (t) {
		e = find_entry(t->entries, name, len);
		*found = e != NULL;
		if (e) {
			git_oid_cpy(&entry->id, &e->id);
			entry->mode = e->mode;
		}
		rc = 1;
	}
	pthread_mutex_unlock(&store->tree_cache_lock);
	return rc;
}

int gs_tree_lookup_recent(gs_entry *out, gs_store *store, git_repository *repo,
			  const git_oid *root, const char *path)
{
	git_oid current;
	const char *seg = path;

	git_oid_cpy(&current, root);
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		gs_dirent found = {0};
		int cached, has = 0;

		if ((cached = cached_lookup(&found, &has, store, &current, seg, len)) < 0)
			return -1;
		if (!cached) {   /* the rest is in the repository: libgit2 bisects trees too */
			if (gs_tree_lookup(out, repo, &current, seg, GS_LOOKUP_ENTRY) == 0)
				return 0;
			return gs_error_last()->category == GS_ERR_NOTFOUND
				? gs_error_set(GS_ERR_NOTFOUND, "%s", path) : -1;
		}
		if (!has || (slash && found.mode != GS_MODE_TREE))
			return gs_error_set(GS_ERR_NOTFOUND, "%s", path);
		git_oid_cpy(&current, &found.id);
		if (!slash) {
			git_oid_cpy(&out->id, &found.id);
			out->mode = found.mode;
			return 0;
		}
		seg = slash + 1;
	}
}
