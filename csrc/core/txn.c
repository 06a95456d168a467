/* txn.c - writing objects: small ones collect in the handle's in-memory
 * backend and reach the disk as one pack per flush; big blobs stream to
 * loose objects so that memory stays bounded. */
#include "gs_internal.h"

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read and write granularity when streaming big blobs. */
#define STREAM_CHUNK (1024 * 1024)

struct gs_txn {
	gs_store *store;
	git_repository *repo;
	git_odb *odb;
	git_odb_backend *mempack;
	git_oid *pending;     /* ids of the objects in the mempack, to flush */
	size_t npending, cap;
};

int gs_txn_begin(gs_txn **out, gs_store *store)
{
	gs_txn *txn = calloc(1, sizeof(*txn));

	*out = NULL;
	if (!txn)
		return gs_error_set_os(ENOMEM, "out of memory");
	txn->store = store;
	if (gs_repo_acquire(&txn->repo, store) < 0)
		goto fail;
	if (git_repository_odb(&txn->odb, txn->repo) < 0 ||
	    git_odb_get_backend(&txn->mempack, txn->odb, 0) < 0) {
		gs_error_set_git(-1, store->path);
		goto fail;
	}
	*out = txn;
	return 0;
fail:
	gs_txn_free(txn);
	return -1;
}

void gs_txn_free(gs_txn *txn)
{
	if (!txn)
		return;
	/* Whatever was not flushed is dropped: a failed write leaves nothing. */
	if (txn->mempack && txn->npending)
		git_mempack_reset(txn->mempack);
	free(txn->pending);
	git_odb_free(txn->odb);
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

int gs_txn_note_write(gs_txn *txn, const git_oid *id)
{
	if (txn->npending == txn->cap) {
		size_t cap = txn->cap ? txn->cap * 2 : 64;
		git_oid *grown = realloc(txn->pending, cap * sizeof(*grown));
		if (!grown)
			return gs_error_set_os(ENOMEM, "out of memory");
		txn->pending = grown;
		txn->cap = cap;
	}
	git_oid_cpy(&txn->pending[txn->npending++], id);
	return 0;
}

/* A loose-object stream that bypasses the in-memory backend. */
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
	if (git_odb_new(odb_out) < 0 ||
	    git_odb_backend_loose(&loose, objects, -1, 0, 0, 0) < 0 ||
	    git_odb_add_backend(*odb_out, loose, 1) < 0) {
		if (loose && !*odb_out)
			loose->free(loose);
		gs_error_set_git(-1, objects);
		goto done;
	}
	loose = NULL;
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

	if (len < GS_BIG_BLOB) {
		if (git_odb_write(out, txn->odb, data, len, GIT_OBJECT_BLOB) < 0)
			return gs_error_set_git(-1, txn->store->path);
		return gs_txn_note_write(txn, out);
	}
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
		chunk = malloc(size ? size : 1);
		if (!chunk)
			return gs_error_set_os(ENOMEM, "out of memory");
		while (done < size) {
			ssize_t n = read(fd, chunk + done, size - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			done += (uint64_t)n;
		}
		if (done != size) {
			gs_error_set(GS_ERR_OS, "%s changed size while it was read", what);
			goto done;
		}
		rc = gs_txn_write_blob(out, txn, chunk, size);
		goto done;
	}
	chunk = malloc(STREAM_CHUNK);
	if (!chunk)
		return gs_error_set_os(ENOMEM, "out of memory");
	if (open_loose_stream(&odb, &stream, txn, size) < 0)
		goto done;
	while (done < size) {
		size_t want = size - done < STREAM_CHUNK ? (size_t)(size - done) : STREAM_CHUNK;
		ssize_t n = read(fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gs_error_set_os(errno, "cannot read %s", what);
			goto done;
		}
		if (n == 0)
			break;
		if (git_odb_stream_write(stream, chunk, (size_t)n) < 0) {
			gs_error_set_git(-1, txn->store->path);
			goto done;
		}
		done += (uint64_t)n;
	}
	if (done != size) {
		gs_error_set(GS_ERR_OS, "%s changed size while it was read", what);
		goto done;
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

/*
 * Exactly the objects this transaction wrote go into the pack (the
 * packbuilder reads them back from the in-memory backend); what they
 * reference is already on disk.
 */
int gs_txn_flush(gs_txn *txn)
{
	git_packbuilder *builder = NULL;
	int rc = -1;

	if (txn->npending == 0)
		return 0;
	if (git_packbuilder_new(&builder, txn->repo) < 0)
		goto fail;
	git_packbuilder_set_threads(builder, 1);
	for (size_t i = 0; i < txn->npending; i++)
		if (git_packbuilder_insert(builder, &txn->pending[i], NULL) < 0)
			goto fail;
	if (git_packbuilder_write(builder, NULL, 0, NULL, NULL) < 0)
		goto fail;
	git_mempack_reset(txn->mempack);
	txn->npending = 0;
	rc = 0;
	goto done;
fail:
	gs_error_set_git(-1, txn->store->path);
done:
	git_packbuilder_free(builder);
	return rc;
}
