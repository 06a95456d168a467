/* packread.c - the start of whole objects read straight from a
 * repository's packs.  A history walk needs only the first two lines of
 * each commit (tree and first parent): found through the pack index and
 * inflated only that far, without the zlib set-up, copy, locking and
 * checksum of a whole read through libgit2.  Anything unusual (a delta,
 * an index git no longer writes, a damaged entry) is left to libgit2. */
#include "packread.h"

#include "gs_internal.h"
#include "packidx.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct gs_pack_reader {
	gs_mapped_pack *packs;
	size_t count;
	z_stream z;
	int z_ready;
};

void gs_pack_reader_free(gs_pack_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		gs_mapped_pack_close(&r->packs[i]);
	free(r->packs);
	if (r->z_ready)
		inflateEnd(&r->z);
	free(r);
}

int gs_pack_reader_open(gs_pack_reader **out, git_repository *repo)
{
	const char *git_dir = git_repository_path(repo);
	size_t dir_len = strlen(git_dir) + sizeof("objects/pack/") - 1, cap = 0;
	gs_pack_reader *r = calloc(1, sizeof(*r));
	char *path = NULL;
	DIR *dir = NULL;
	struct dirent *e;

	*out = NULL;
	if (!r || !(path = malloc(dir_len + 1)))
		goto nomem;
	sprintf(path, "%sobjects/pack/", git_dir);
	if (!(dir = opendir(path))) {
		/* No packs: every read goes to libgit2. */
		free(path);
		*out = r;
		return 0;
	}
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		char *full;

		if (len <= 4 || strcmp(e->d_name + len - 4, ".idx"))
			continue;
		if (r->count == cap) {
			gs_mapped_pack *grown = realloc(r->packs, (cap ? cap * 2 : 8) * sizeof(*grown));
			if (!grown)
				goto nomem;
			r->packs = grown;
			cap = cap ? cap * 2 : 8;
		}
		if (!(full = malloc(dir_len + len + 1)))
			goto nomem;
		memcpy(full, path, dir_len);
		memcpy(full + dir_len, e->d_name, len - 4);
		full[dir_len + len - 4] = '\0';
		r->count += (size_t)gs_mapped_pack_open(&r->packs[r->count], full);
		free(full);
	}
	closedir(dir);
	free(path);
	*out = r;
	return 0;
nomem:
	if (dir)
		closedir(dir);
	free(path);
	gs_pack_reader_free(r);
	return gs_error_set_os(ENOMEM, "out of memory");
}

int gs_pack_reader_head(git_object_t *type, size_t *len, gs_pack_reader *r, const git_oid *id,
			char *buf, size_t cap)
{
	*len = 0;
	for (size_t i = 0; i < r->count; i++) {
		const unsigned char *at, *end;
		uint64_t offset, size;
		unsigned kind;
		int zrc;

		if (!gs_mapped_pack_find(&offset, &r->packs[i], id))
			continue;
		if (!gs_mapped_pack_entry(&kind, &size, &at, &end, &r->packs[i], offset) ||
		    kind < GIT_OBJECT_COMMIT || kind > GIT_OBJECT_TAG)
			return 0;
		/* The zlib header, then raw deflate: no checksum of a part. */
		if (end - at < 2 || (at[0] & 0x0f) != 8 || (at[0] >> 4) > 7 || (at[1] & 0x20) ||
		    ((unsigned)at[0] << 8 | at[1]) % 31)
			return 0;
		at += 2;
		if (!r->z_ready) {
			memset(&r->z, 0, sizeof(r->z));
			if (inflateInit2(&r->z, -15) != Z_OK)
				return 0;
			r->z_ready = 1;
		} else if (inflateReset(&r->z) != Z_OK) {
			return 0;
		}
		if (cap > size)
			cap = (size_t)size;
		r->z.next_in = (unsigned char *)at;
		r->z.avail_in = (uInt)((size_t)(end - at) > UINT32_MAX ? UINT32_MAX : end - at);
		r->z.next_out = (unsigned char *)buf;
		r->z.avail_out = (uInt)cap;
		while (r->z.avail_out > 0) {
			zrc = inflate(&r->z, Z_SYNC_FLUSH);
			if (zrc == Z_STREAM_END)
				break;
			if (zrc != Z_OK)
				return 0;
		}
		if (r->z.total_out != cap)
			return 0;
		*type = (git_object_t)kind;
		*len = cap;
		return 1;
	}
	return 0;
}
