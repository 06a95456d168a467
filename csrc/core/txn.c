/* txn.c - writing objects.  The objects of one commit collect in memory
 * and reach the disk as one pack and its index (packwrite.c; two files,
 * no per-object work in libgit2), taking in the small packs when they
 * are due for a merge (pack.c); big blobs stream to loose objects,
 * written here, so that memory stays bounded.  Object ids are hashed
 * here with sha1.c. */
#include "gs_internal.h"


#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Read and write granularity when streaming big blobs. */
#define STREAM_CHUNK (1024 * 1024)

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

/* A big blob being written as a loose object: deflated into a temporary
 * file while its id is hashed, then renamed into place. */
typedef struct {
	gs_txn *txn;
	char *tmp;
	int fd;
	z_stream z;
	int z_ready;
	gs_sha1 sha;
	unsigned char out[STREAM_CHUNK];
} loose_writer;

static int loose_flush_output(loose_writer *w, size_t produced)
{
	for (size_t done = 0; done < produced;) {
		ssize_t n = write(w->fd, w->out + done, produced - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gs_error_set_path(errno, w->tmp, "cannot write");
		done += (size_t)n;
	}
	return 0;
}

static int loose_deflate(loose_writer *w, const void *data, size_t len, int flush)
{
	w->z.next_in = (Bytef *)data;
	w->z.avail_in = (uInt)len;
	do {
		int zrc;
		w->z.next_out = w->out;
		w->z.avail_out = sizeof(w->out);
		zrc = deflate(&w->z, flush);
		if (zrc == Z_STREAM_ERROR)
			return gs_error_set(GS_ERR_GIT, "compressing a blob failed");
		if (loose_flush_output(w, sizeof(w->out) - w->z.avail_out) < 0)
			return -1;
	} while (w->z.avail_out == 0 || (flush == Z_FINISH && w->z.avail_in > 0));
	return 0;
}

static int loose_begin(loose_writer *w, gs_txn *txn, uint64_t size, int level)
{
	char header[GS_OBJECT_HEADER_MAX];
	size_t len = gs_object_header(header, GIT_OBJECT_BLOB, size);

	memset(w, 0, offsetof(loose_writer, out));
	w->txn = txn;
	w->fd = -1;
	if (!(w->tmp = gs_store_file(txn->store, "objects/tmp_obj_XXXXXX", "")))
		return -1;
	if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) < 0)
		return gs_error_set_path(errno, w->tmp, "cannot create");
	if (deflateInit(&w->z, level) != Z_OK)
		return gs_error_set_os(ENOMEM, "out of memory");
	w->z_ready = 1;
	gs_sha1_init(&w->sha);
	gs_sha1_update(&w->sha, header, len);
	return loose_deflate(w, header, len, Z_NO_FLUSH);
}

static int loose_add(loose_writer *w, const void *data, size_t len)
{
	gs_sha1_update(&w->sha, data, len);
	return loose_deflate(w, data, len, Z_NO_FLUSH);
}

static int loose_finish(git_oid *out, loose_writer *w)
{
	unsigned char raw[20];
	char hex[GIT_OID_HEXSZ + 1], rel[64];
	char *path = NULL;
	int rc = -1;

	if (loose_deflate(w, NULL, 0, Z_FINISH) < 0)
		return -1;
	if (fchmod(w->fd, 0444) < 0 || close(w->fd) < 0) {
		w->fd = -1;
		return gs_error_set_path(errno, w->tmp, "cannot write");
	}
	w->fd = -1;
	gs_sha1_final(&w->sha, raw);
	git_oid_fromraw(out, raw);
	git_oid_tostr(hex, sizeof(hex), out);
	snprintf(rel, sizeof(rel), "objects/%.2s", hex);
	if (!(path = gs_store_file(w->txn->store, rel, "")))
		return -1;
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		gs_error_set_path(errno, path, "cannot create");
		goto done;
	}
	free(path);
	snprintf(rel, sizeof(rel), "objects/%.2s/%s", hex, hex + 2);
	if (!(path = gs_store_file(w->txn->store, rel, "")))
		return -1;
	/* An object already there has the same content: keep it. */
	if (access(path, F_OK) == 0 || rename(w->tmp, path) == 0) {
		rc = 0;
		goto done;
	}
	gs_error_set_path(errno, path, "cannot create");
done:
	free(path);
	return rc;
}

static void loose_end(loose_writer *w)
{
	if (w->z_ready)
		deflateEnd(&w->z);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);  /* gone already after a successful rename */
	free(w->tmp);
}

/* Sample of a big blob used to decide how hard to compress it. */
#define SAMPLE_SIZE (64 * 1024)

/*
 * zlib level for a big blob: data that does not shrink (media, archives,
 * random bytes) is stored in zlib's uncompressed blocks, ten times faster
 * and no bigger; git reads both the same way.
 */
static int compression_for(const void *sample, size_t len)
{
	static _Thread_local unsigned char out[SAMPLE_SIZE + SAMPLE_SIZE / 8 + 64];
	uLongf out_len = sizeof(out);

	if (len > SAMPLE_SIZE)
		len = SAMPLE_SIZE;
	if (compress2(out, &out_len, sample, (uLong)len, Z_BEST_SPEED) != Z_OK)
		return Z_BEST_SPEED;
	return out_len * 10 > len * 9 ? Z_NO_COMPRESSION : Z_BEST_SPEED;
}

int gs_txn_write_blob(git_oid *out, gs_txn *txn, const void *data, size_t len)
{
	loose_writer *w;
	int rc = -1;

	if (len < GS_BIG_BLOB)
		return gs_txn_put(out, txn, GIT_OBJECT_BLOB, data, len);
	if (!(w = malloc(sizeof(*w))))
		return gs_error_set_os(ENOMEM, "out of memory");
	if (loose_begin(w, txn, len, compression_for(data, len)) == 0) {
		rc = 0;
		for (size_t done = 0; rc == 0 && done < len; done += STREAM_CHUNK)
			rc = loose_add(w, (const char *)data + done,
				       len - done < STREAM_CHUNK ? len - done : STREAM_CHUNK);
		if (rc == 0)
			rc = loose_finish(out, w);
	}
	loose_end(w);
	free(w);
	return rc;
}

static int read_exactly(int fd, char *buf, uint64_t size, const char *what)
{
	uint64_t done = 0;

	while (done < size) {
		size_t want = size - done < STREAM_CHUNK ? (size_t)(size - done) : STREAM_CHUNK;
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
	loose_writer *w = NULL;
	char *chunk = NULL;
	uint64_t done = 0;
	int rc = -1, started = 0;

	if (size < GS_BIG_BLOB) {
		/* Small: read it whole and let it join the pack. */
		if (!(chunk = malloc(size ? size : 1)))
			return gs_error_set_os(ENOMEM, "out of memory");
		if (read_exactly(fd, chunk, size, what) == 0)
			rc = gs_txn_put(out, txn, GIT_OBJECT_BLOB, chunk, size);
		free(chunk);
		return rc;
	}
	if (!(chunk = malloc(STREAM_CHUNK)) || !(w = malloc(sizeof(*w)))) {
		free(chunk);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	while (done < size) {
		size_t want = size - done < STREAM_CHUNK ? (size_t)(size - done) : STREAM_CHUNK;
		if (read_exactly(fd, chunk, want, what) < 0)
			goto done;
		/* The first chunk decides the compression. */
		if (!started) {
			started = 1;
			if (loose_begin(w, txn, size, compression_for(chunk, want)) < 0)
				goto done;
		}
		if (loose_add(w, chunk, want) < 0)
			goto done;
		done += want;
	}
	rc = loose_finish(out, w);
done:
	if (started)
		loose_end(w);
	free(w);
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
	if (gs_packwriter_begin(&w, txn->store, (uint32_t)count) < 0 ||
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
	if (gs_pack_merge_plan(&merge, txn->store, GS_PACK_LIMIT) < 0)
		gs_error_clear();
	rc = flush(txn, merge);
	if (rc < 0 && merge) {
		gs_error_clear();
		rc = flush(txn, NULL);
	}
	gs_pack_merge_free(merge);
	return rc;
}
