/* txn.c - writing objects.  The objects of one commit collect in memory
 * and reach the disk as one pack and its index (packwrite.c; two files,
 * no per-object work in libgit2), with a step of merging the small
 * packs (pack.c); big blobs stream to loose objects
 * (blobstream.c) so that memory stays bounded.  Object ids are hashed
 * here with sha1.c. */
#include "gs_internal.h"
#include "pack.h"
#include "txn.h"


#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	git_oid id;
	git_object_t type;
	char *data;
	size_t len;
} pending_object;

struct gs_txn {
	gs_store *store;
	git_repository *repo;   /* for reading what is already stored */
	pending_object *objects;
	size_t count, cap;
	size_t *slots;          /* open-addressing set of indexes + 1 */
	size_t nslots;
	size_t bytes;           /* content held in memory */
	gs_version_pair *versions;  /* noted, handed to the store by a commit */
	size_t version_count, version_cap;
};

int gs_txn_begin(gs_txn **out, gs_store *store)
{
	gs_txn *txn = calloc(1, sizeof(*txn));

	*out = NULL;
	if (!txn)
		return gs_error_set_os(ENOMEM, "out of memory");
	txn->store = store;
	if (gs_repo_acquire(&txn->repo, store) < 0) {
		free(txn);
		return -1;
	}
	*out = txn;
	return 0;
}

static void drop_pending(gs_txn *txn)
{
	for (size_t i = 0; i < txn->count; i++)
		free(txn->objects[i].data);
	txn->count = 0;
	txn->bytes = 0;
	if (txn->slots)
		memset(txn->slots, 0, txn->nslots * sizeof(*txn->slots));
}

void gs_txn_free(gs_txn *txn)
{
	if (!txn)
		return;
	/* Whatever was not flushed is dropped: a failed write leaves nothing. */
	drop_pending(txn);
	free(txn->objects);
	free(txn->slots);
	free(txn->versions);
	gs_repo_release(txn->store, txn->repo);
	free(txn);
}

git_repository *gs_txn_repo(gs_txn *txn)
{
	return txn->repo;
}

gs_store *gs_txn_store(gs_txn *txn)
{
	return txn->store;
}

static size_t slot_of(const gs_txn *txn, const git_oid *id)
{
	size_t h;
	memcpy(&h, id->id, sizeof(h));
	return h & (txn->nslots - 1);
}

/* Index + 1 of a pending object with this id, or 0. */
static size_t find_pending(const gs_txn *txn, const git_oid *id)
{
	if (!txn->nslots)
		return 0;
	for (size_t s = slot_of(txn, id);; s = (s + 1) & (txn->nslots - 1)) {
		size_t at = txn->slots[s];
		if (!at || git_oid_equal(&txn->objects[at - 1].id, id))
			return at;
	}
}

int gs_txn_pending(const char **data, size_t *len, gs_txn *txn, const git_oid *id)
{
	size_t at = find_pending(txn, id);

	if (!at)
		return 0;
	*data = txn->objects[at - 1].data;
	*len = txn->objects[at - 1].len;
	return 1;
}

static int grow_slots(gs_txn *txn)
{
	size_t nslots = txn->nslots ? txn->nslots * 2 : 256;
	size_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return gs_error_set_os(ENOMEM, "out of memory");
	free(txn->slots);
	txn->slots = slots;
	txn->nslots = nslots;
	for (size_t i = 0; i < txn->count; i++) {
		size_t s = slot_of(txn, &txn->objects[i].id);
		while (txn->slots[s])
			s = (s + 1) & (nslots - 1);
		txn->slots[s] = i + 1;
	}
	return 0;
}

size_t gs_object_header(char *out, git_object_t type, uint64_t size)
{
	/* Written by hand: snprintf is a measurable part of hashing small files. */
	char digits[24], *d = digits + sizeof(digits);
	const char *name = git_object_type2string(type);
	size_t name_len = strlen(name), len;

	do
		*--d = (char)('0' + size % 10);
	while ((size /= 10) != 0);
	len = (size_t)(digits + sizeof(digits) - d);
	memcpy(out, name, name_len);
	out[name_len] = ' ';
	memcpy(out + name_len + 1, d, len);
	out[name_len + 1 + len] = '\0';
	return name_len + len + 2;
}

void gs_object_hash_begin(gs_sha1 *sha, git_object_t type, uint64_t size)
{
	char header[GS_OBJECT_HEADER_MAX];

	gs_sha1_init(sha);
	gs_sha1_update(sha, header, gs_object_header(header, type, size));
}

void gs_object_hash(git_oid *out, git_object_t type, const void *data, size_t len)
{
	unsigned char raw[20];
	gs_sha1 sha;

	gs_object_hash_begin(&sha, type, len);
	gs_sha1_update(&sha, data, len);
	gs_sha1_final(&sha, raw);
	git_oid_fromraw(out, raw);
}

int gs_txn_put(git_oid *out, gs_txn *txn, git_object_t type, const void *data, size_t len)
{
	pending_object *obj;
	size_t s;

	gs_object_hash(out, type, data, len);
	if (find_pending(txn, out))
		return 0;
	if ((txn->count + 1) * 2 > txn->nslots && grow_slots(txn) < 0)
		return -1;
	if (txn->count == txn->cap) {
		size_t cap = txn->cap ? txn->cap * 2 : 64;
		pending_object *grown = realloc(txn->objects, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		txn->objects = grown;
		txn->cap = cap;
	}
	obj = &txn->objects[txn->count];
	memset(obj, 0, sizeof(*obj));
	if (!(obj->data = malloc(len ? len : 1)))
		return gs_error_set_os(ENOMEM, "out of memory");
	memcpy(obj->data, data, len);
	obj->len = len;
	obj->type = type;
	git_oid_cpy(&obj->id, out);
	for (s = slot_of(txn, out); txn->slots[s]; s = (s + 1) & (txn->nslots - 1))
		;
	txn->slots[s] = ++txn->count;
	txn->bytes += len;
	/* A long batch must not hold all its content in memory: write what
	 * there is as a pack now; the commit references it later. */
	if (txn->bytes >= GS_TXN_SPILL)
		return gs_txn_flush(txn);
	return 0;
}

/* Read granularity when streaming big files. */
#define READ_CHUNK (1024 * 1024)

int gs_txn_write_blob(git_oid *out, gs_txn *txn, const void *data, size_t len)
{
	gs_blob_stream *stream = NULL;
	int rc = -1;

	/* Small content needs no stream: it is copied into the pack once. */
	if (len < GS_BIG_BLOB)
		return gs_txn_put(out, txn, GIT_OBJECT_BLOB, data, len);
	if (gs_blob_stream_open(&stream, txn->store, len) == 0 &&
	    gs_blob_stream_write(stream, data, len) == 0)
		rc = gs_blob_stream_finish(out, stream, txn);
	gs_blob_stream_free(stream);
	return rc;
}

static int read_exactly(int fd, char *buf, uint64_t size, const char *what)
{
	uint64_t done = 0;

	while (done < size) {
		size_t want = size - done < READ_CHUNK ? (size_t)(size - done) : READ_CHUNK;
		ssize_t n = read(fd, buf + done, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gs_error_set_path(errno, what, "cannot read");
		if (n == 0)
			return gs_error_set(GS_ERR_OS, "%s changed size while it was read", what);
		done += (uint64_t)n;
	}
	return 0;
}

int gs_txn_write_blob_fd(git_oid *out, gs_txn *txn, int fd, uint64_t size,
			 const char *what)
{
	gs_blob_stream *stream = NULL;
	char *chunk = NULL;
	uint64_t done = 0;
	int rc = -1;

	if (size < GS_BIG_BLOB) {
		/* Small: read it whole and let it join the pack. */
		if (!(chunk = malloc(size ? size : 1)))
			return gs_error_set_os(ENOMEM, "out of memory");
		if (read_exactly(fd, chunk, size, what) == 0)
			rc = gs_txn_put(out, txn, GIT_OBJECT_BLOB, chunk, size);
		free(chunk);
		return rc;
	}
	if (!(chunk = malloc(READ_CHUNK)))
		return gs_error_set_os(ENOMEM, "out of memory");
	if (gs_blob_stream_open(&stream, txn->store, size) < 0)
		goto done;
	while (done < size) {
		size_t want = size - done < READ_CHUNK ? (size_t)(size - done) : READ_CHUNK;
		if (read_exactly(fd, chunk, want, what) < 0 ||
		    gs_blob_stream_write(stream, chunk, want) < 0)
			goto done;
		done += want;
	}
	rc = gs_blob_stream_finish(out, stream, txn);
done:
	gs_blob_stream_free(stream);
	free(chunk);
	return rc;
}

/* Hand the trees just written to the store's cache (their buffers move). */
static void keep_trees(gs_txn *txn)
{
	struct gs_cached_tree *trees;
	size_t n = 0;

	for (size_t i = 0; i < txn->count; i++)
		n += txn->objects[i].type == GIT_OBJECT_TREE;
	if (!(trees = malloc((n ? n : 1) * sizeof(*trees))))
		return;  /* only a cache */
	n = 0;
	for (size_t i = 0; i < txn->count; i++) {
		pending_object *obj = &txn->objects[i];
		if (obj->type != GIT_OBJECT_TREE)
			continue;
		git_oid_cpy(&trees[n].id, &obj->id);
		trees[n].data = obj->data;
		trees[n].len = obj->len;
		trees[n].entries = NULL;
		obj->data = NULL;
		n++;
	}
	gs_tree_cache_set(txn->store, trees, n);
}

static int pending_has(void *txn, const git_oid *id)
{
	return find_pending(txn, id) != 0;
}

/* The pending objects (and those of `merge`, when given) as one pack. */
static int flush(gs_txn *txn, gs_pack_merge *merge)
{
	gs_pack_object *objects = NULL;
	gs_packwriter *w = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	size_t count = txn->count;
	int rc = -1;

	if (txn->count == 0)
		return 0;
	if (merge)
		count += gs_pack_merge_skip(merge, pending_has, txn);
	if (!(objects = malloc(txn->count * sizeof(*objects))))
		return gs_error_set_os(ENOMEM, "out of memory");
	for (size_t i = 0; i < txn->count; i++) {
		pending_object *obj = &txn->objects[i];
		objects[i] = (gs_pack_object){obj->id, obj->type, obj->data, obj->len};
	}
	if (gs_packwriter_begin(&w, txn->store->pack_dir, (uint32_t)count) < 0 ||
	    gs_packwriter_add_all(w, objects, txn->count) < 0)
		goto done;
	if ((merge && gs_pack_merge_copy(merge, w) < 0) || gs_packwriter_finish(w, hex) < 0)
		goto done;
	if (merge)
		gs_pack_merge_remove(merge, hex);
	gs_store_packs_changed(txn->store, merge != NULL);
	keep_trees(txn);
	drop_pending(txn);
	rc = 0;
done:
	gs_packwriter_free(w);
	free(objects);
	return rc;
}

void gs_txn_note_version(gs_txn *txn, const git_oid *older, const git_oid *newer)
{
	if (txn->version_count == txn->version_cap) {
		size_t cap = txn->version_cap ? txn->version_cap * 2 : 8;
		gs_version_pair *grown = realloc(txn->versions, cap * sizeof(*grown));
		if (!grown)
			return;
		txn->versions = grown;
		txn->version_cap = cap;
	}
	git_oid_cpy(&txn->versions[txn->version_count].older, older);
	git_oid_cpy(&txn->versions[txn->version_count].newer, newer);
	txn->version_count++;
}

int gs_txn_flush(gs_txn *txn)
{
	return flush(txn, NULL);
}

int gs_txn_flush_merging(gs_txn *txn)
{
	gs_pack_merge *merge = NULL;
	int rc;

	if (txn->count == 0)
		return 0;
	/* Merging is housekeeping: when it cannot be done, the commit's
	 * pack is written alone and the packs wait for the next try. */
	gs_pack_merge_next(&merge, txn->store, txn->bytes);
	rc = flush(txn, merge);
	if (rc < 0 && merge) {
		gs_error_clear();
		rc = flush(txn, NULL);
	}
	gs_pack_merge_free(merge);
	if (rc == 0) {
		gs_pack_note_versions(txn->store, txn->versions, txn->version_count);
		txn->version_count = 0;
	}
	return rc;
}
