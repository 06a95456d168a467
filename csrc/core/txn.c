/* txn.c - writing objects.  The objects of one commit collect in memory
 * and reach the disk as one pack and its index, written here directly
 * (two files, no per-object work in libgit2); big blobs stream to loose
 * objects so that memory stays bounded. */
#include "gs_internal.h"
#include "sha1.h"

#include <git2/sys/odb_backend.h>

#include <arpa/inet.h>
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
	uint64_t offset;   /* in the pack, once written */
	uint32_t crc;
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

int gs_txn_put(git_oid *out, gs_txn *txn, git_object_t type, const void *data, size_t len)
{
	pending_object *obj;
	size_t s;

	if (git_odb_hash(out, data, len, type) < 0)
		return gs_error_set_git(-1, "hashing an object");
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

/* A loose-object stream into the repository's objects directory. */
static int open_loose_stream(git_odb **odb_out, git_odb_stream **out, gs_txn *txn,
			     uint64_t size)
{
	git_odb_backend *loose = NULL;
	char *objects = gs_store_file(txn->store, "objects", "");
	int rc = -1;

	*odb_out = NULL;
	*out = NULL;
	if (!objects)
		return -1;
	if (git_odb_new(odb_out) < 0 || git_odb_backend_loose(&loose, objects, -1, 0, 0, 0) < 0) {
		gs_error_set_git(-1, objects);
		goto done;
	}
	if (git_odb_add_backend(*odb_out, loose, 1) < 0) {
		loose->free(loose);
		gs_error_set_git(-1, objects);
		goto done;
	}
	if (git_odb_open_wstream(out, *odb_out, (git_object_size_t)size, GIT_OBJECT_BLOB) < 0) {
		gs_error_set_git(-1, objects);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0) {
		git_odb_free(*odb_out);
		*odb_out = NULL;
	}
	free(objects);
	return rc;
}

int gs_txn_write_blob(git_oid *out, gs_txn *txn, const void *data, size_t len)
{
	git_odb *odb = NULL;
	git_odb_stream *stream = NULL;
	int rc = -1;

	if (len < GS_BIG_BLOB)
		return gs_txn_put(out, txn, GIT_OBJECT_BLOB, data, len);
	if (open_loose_stream(&odb, &stream, txn, len) < 0)
		return -1;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < STREAM_CHUNK ? len - done : STREAM_CHUNK;
		if (git_odb_stream_write(stream, (const char *)data + done, n) < 0) {
			gs_error_set_git(-1, txn->store->path);
			goto done;
		}
		done += n;
	}
	if (git_odb_stream_finalize_write(out, stream) < 0) {
		gs_error_set_git(-1, txn->store->path);
		goto done;
	}
	rc = 0;
done:
	git_odb_stream_free(stream);
	git_odb_free(odb);
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
			return gs_error_set_os(errno, "cannot read %s", what);
		if (n == 0)
			return gs_error_set(GS_ERR_OS, "%s changed size while it was read", what);
		done += (uint64_t)n;
	}
	return 0;
}

int gs_txn_write_blob_fd(git_oid *out, gs_txn *txn, int fd, uint64_t size,
			 const char *what)
{
	git_odb *odb = NULL;
	git_odb_stream *stream = NULL;
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
	if (!(chunk = malloc(STREAM_CHUNK)))
		return gs_error_set_os(ENOMEM, "out of memory");
	if (open_loose_stream(&odb, &stream, txn, size) < 0)
		goto done;
	while (done < size) {
		size_t want = size - done < STREAM_CHUNK ? (size_t)(size - done) : STREAM_CHUNK;
		if (read_exactly(fd, chunk, want, what) < 0)
			goto done;
		if (git_odb_stream_write(stream, chunk, want) < 0) {
			gs_error_set_git(-1, txn->store->path);
			goto done;
		}
		done += want;
	}
	if (git_odb_stream_finalize_write(out, stream) < 0) {
		gs_error_set_git(-1, txn->store->path);
		goto done;
	}
	rc = 0;
done:
	free(chunk);
	git_odb_stream_free(stream);
	git_odb_free(odb);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Pack and index files (git's formats, version 2)                     */

static int put_be32(gs_buf *buf, uint32_t v)
{
	uint32_t be = htonl(v);
	return gs_buf_put(buf, &be, 4);
}

/* One pack entry: the type-and-size header, then the zlib stream. */
static int pack_entry(gs_buf *pack, pending_object *obj)
{
	unsigned char header[16];
	size_t n = 0, size = obj->len;
	z_stream z = {0};
	uLong bound;
	int zrc;

	obj->offset = pack->size;
	header[n] = (unsigned char)((obj->type << 4) | (size & 15));
	for (size >>= 4; size; size >>= 7) {
		header[n++] |= 0x80;
		header[n] = size & 0x7f;
	}
	n++;
	if (gs_buf_put(pack, header, n) < 0)
		return -1;
	if (deflateInit(&z, Z_BEST_SPEED) != Z_OK)
		return gs_error_set_os(ENOMEM, "out of memory");
	bound = deflateBound(&z, (uLong)obj->len);
	if (gs_buf_grow(pack, pack->size + bound + 1) < 0) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)obj->data;
	z.avail_in = (uInt)obj->len;
	z.next_out = (Bytef *)pack->data + pack->size;
	z.avail_out = (uInt)bound;
	zrc = deflate(&z, Z_FINISH);
	pack->size += bound - z.avail_out;
	deflateEnd(&z);
	if (zrc != Z_STREAM_END)
		return gs_error_set(GS_ERR_GIT, "compressing an object failed");
	obj->crc = (uint32_t)crc32(0, (const Bytef *)pack->data + obj->offset,
				   (uInt)(pack->size - obj->offset));
	return 0;
}

static int compare_ids(const void *a, const void *b)
{
	return git_oid_cmp(&(*(pending_object *const *)a)->id, &(*(pending_object *const *)b)->id);
}

static int build_index(gs_buf *idx, pending_object **sorted, size_t n,
		       const unsigned char pack_sum[20])
{
	uint32_t fanout[256] = {0};
	size_t nlarge = 0;
	unsigned char sum[20];
	gs_sha1 sha;

	for (size_t i = 0; i < n; i++)
		fanout[sorted[i]->id.id[0]]++;
	for (int i = 1; i < 256; i++)
		fanout[i] += fanout[i - 1];
	if (gs_buf_put(idx, "\377tOc", 4) < 0 || put_be32(idx, 2) < 0)
		return -1;
	for (int i = 0; i < 256; i++)
		if (put_be32(idx, fanout[i]) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (gs_buf_put(idx, sorted[i]->id.id, GIT_OID_RAWSZ) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (put_be32(idx, sorted[i]->crc) < 0)
			return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = sorted[i]->offset;
		if (put_be32(idx, off < 0x80000000u ? (uint32_t)off
						    : (uint32_t)(0x80000000u | nlarge++)) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t off = sorted[i]->offset;
		if (off >= 0x80000000u &&
		    (put_be32(idx, (uint32_t)(off >> 32)) < 0 || put_be32(idx, (uint32_t)off) < 0))
			return -1;
	}
	if (gs_buf_put(idx, pack_sum, 20) < 0)
		return -1;
	gs_sha1_init(&sha);
	gs_sha1_update(&sha, idx->data, idx->size);
	gs_sha1_final(&sha, sum);
	return gs_buf_put(idx, sum, 20);
}

/* Write data to a new temporary file in dir; its name comes back. */
static int write_temp(char **out, const char *dir, const gs_buf *data)
{
	size_t len = strlen(dir) + sizeof("/tmp_pack_XXXXXX");
	char *path = malloc(len);
	int fd;

	*out = NULL;
	if (!path)
		return gs_error_set_os(ENOMEM, "out of memory");
	snprintf(path, len, "%s/tmp_pack_XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		gs_error_set_os(errno, "cannot create a file in %s", dir);
		free(path);
		return -1;
	}
	for (size_t done = 0; done < data->size;) {
		ssize_t n = write(fd, data->data + done, data->size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			gs_error_set_os(errno, "cannot write %s", path);
			close(fd);
			unlink(path);
			free(path);
			return -1;
		}
		done += (size_t)n;
	}
	/* Pack files are read-only, as git makes them. */
	if (fchmod(fd, 0444) < 0 || close(fd) < 0) {
		gs_error_set_os(errno, "cannot write %s", path);
		unlink(path);
		free(path);
		return -1;
	}
	*out = path;
	return 0;
}

int gs_txn_flush(gs_txn *txn)
{
	gs_buf pack = {0}, idx = {0};
	pending_object **sorted = NULL;
	char *dir = NULL, *tmp_pack = NULL, *tmp_idx = NULL, *final = NULL;
	unsigned char sum[20];
	char hex[41];
	gs_sha1 sha;
	int rc = -1;

	if (txn->count == 0)
		return 0;
	if (!(dir = gs_store_file(txn->store, "objects/pack", "")))
		return -1;
	if (!(sorted = malloc(txn->count * sizeof(*sorted)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	if (gs_buf_put(&pack, "PACK", 4) < 0 || put_be32(&pack, 2) < 0 ||
	    put_be32(&pack, (uint32_t)txn->count) < 0)
		goto done;
	for (size_t i = 0; i < txn->count; i++) {
		if (pack_entry(&pack, &txn->objects[i]) < 0)
			goto done;
		sorted[i] = &txn->objects[i];
	}
	gs_sha1_init(&sha);
	gs_sha1_update(&sha, pack.data, pack.size);
	gs_sha1_final(&sha, sum);
	if (gs_buf_put(&pack, sum, 20) < 0)
		goto done;
	qsort(sorted, txn->count, sizeof(*sorted), compare_ids);
	if (build_index(&idx, sorted, txn->count, sum) < 0)
		goto done;
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	if (write_temp(&tmp_pack, dir, &pack) < 0 || write_temp(&tmp_idx, dir, &idx) < 0)
		goto done;
	if (!(final = malloc(strlen(dir) + 64))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	/* The pack first: an index must never name a missing pack. */
	sprintf(final, "%s/pack-%s.pack", dir, hex);
	if (rename(tmp_pack, final) < 0) {
		gs_error_set_os(errno, "cannot create %s", final);
		goto done;
	}
	free(tmp_pack);
	tmp_pack = NULL;
	sprintf(final, "%s/pack-%s.idx", dir, hex);
	if (rename(tmp_idx, final) < 0) {
		gs_error_set_os(errno, "cannot create %s", final);
		goto done;
	}
	free(tmp_idx);
	tmp_idx = NULL;
	drop_pending(txn);
	rc = 0;
done:
	if (tmp_pack)
		unlink(tmp_pack);
	if (tmp_idx)
		unlink(tmp_idx);
	free(tmp_pack);
	free(tmp_idx);
	free(final);
	free(sorted);
	gs_buf_free(&pack);
	gs_buf_free(&idx);
	free(dir);
	return rc;
}
