/* packwrite.c - writing a pack and its index (git's formats, version 2)
 * as a stream; only the index entries stay in memory.  It replaces
 * git_odb_write, which makes every object a loose file of its own: 1,000
 * small blobs take 470 ms that way and 8 ms as one pack, a 5-object
 * commit 0.8 ms and 0.2 ms (bench/libgit2_compare.c).  Trees are stored,
 * not deflated: deflating them cost a fifth of a commit.  Packs meant to
 * last (GitStore.pack()) are written compact instead: every object
 * deflated at zlib's default level, and deltas among the entries. */
#include "gs_internal.h"
#include "pack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct {
	git_oid id;
	uint64_t offset;
	uint32_t crc;
} index_entry;

/* Reused: deflateInit costs more than deflating a small object. */
typedef struct {
	z_stream z;
	int ready;
	int compact;   /* see gs_packwriter_compact */
} deflater;

static void deflater_end(deflater *d)
{
	if (d->ready)
		deflateEnd(&d->z);
	d->ready = 0;
}

struct gs_packwriter {
	char *dir;            /* NULL: writing to the caller's sink */
	char *tmp_pack;       /* its name; for an unnamed one, only for messages */
	int fd;
	int unnamed;          /* made with O_TMPFILE: linked in by finish */
	pid_t pid;            /* the process that made tmp_pack */
	gs_pack_sink sink;
	void *sink_ctx;
	gs_sha1 sha;
	uint64_t offset;
	uint32_t expected, count;
	index_entry *entries;
	gs_buf scratch;       /* one encoded entry */
	gs_buf pending;       /* bytes not yet written: few large writes */
	deflater z;
	int compact;          /* gs_packwriter_compact */
};

static int write_all(int fd, const void *data, size_t len, const char *what)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gs_error_set_path(errno, what, "cannot write");
		done += (size_t)n;
	}
	return 0;
}

#define WRITE_CHUNK (256 * 1024)

static int pack_write(gs_packwriter *w, const void *data, size_t len)
{
	return w->sink ? w->sink(w->sink_ctx, data, len) : write_all(w->fd, data, len, w->tmp_pack);
}

static int pack_flush(gs_packwriter *w)
{
	int rc = pack_write(w, w->pending.data, w->pending.size);
	w->pending.size = 0;
	return rc;
}

/* Append to the pack file and to its running checksum. */
static int pack_put(gs_packwriter *w, const void *data, size_t len)
{
	gs_sha1_update(&w->sha, data, len);
	w->offset += len;
	if (len >= WRITE_CHUNK)
		return pack_flush(w) < 0 ? -1 : pack_write(w, data, len);
	if (gs_buf_put(&w->pending, data, len) < 0)
		return -1;
	return w->pending.size >= WRITE_CHUNK ? pack_flush(w) : 0;
}

/*
 * The pack is written to an unnamed file that finish links into place,
 * so that a process killed meanwhile leaves nothing behind (a merge may
 * keep one open across many commits).  Linking it needs /proc; where
 * that or O_TMPFILE is missing, a named temporary file instead.
 */
static int open_unnamed(const char *dir)
{
#ifdef O_TMPFILE
	static int proc_usable = -1;

	if (proc_usable < 0)
		proc_usable = access("/proc/self/fd", X_OK) == 0;
	if (proc_usable)
		return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#else
	(void)dir;
#endif
	return -1;
}

int gs_packwriter_begin(gs_packwriter **out, const char *pack_dir, uint32_t count)
{
	gs_packwriter *w = calloc(1, sizeof(*w));
	unsigned char header[12] = {'P', 'A', 'C', 'K'};
	uint32_t be;

	*out = NULL;
	if (!w)
		return gs_error_set_os(ENOMEM, "out of memory");
	w->fd = -1;
	w->pid = getpid();
	w->expected = count;
	if (!(w->dir = strdup(pack_dir)) ||
	    !(w->tmp_pack = malloc(strlen(pack_dir) + sizeof("/tmp_pack_XXXXXX (unnamed)")))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto fail;
	}
	sprintf(w->tmp_pack, "%s/tmp_pack_XXXXXX", pack_dir);
	if (!(w->entries = malloc((count ? count : 1) * sizeof(*w->entries)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto fail;
	}
	if ((w->fd = open_unnamed(pack_dir)) >= 0) {
		w->unnamed = 1;
		sprintf(w->tmp_pack, "%s/tmp_pack (unnamed)", pack_dir);
	}
	else if ((w->fd = mkostemp(w->tmp_pack, O_CLOEXEC)) < 0) {
		gs_error_set_path(errno, w->dir, "cannot create a file in");
		goto fail;
	}
	gs_sha1_init(&w->sha);
	be = htonl(2);
	memcpy(header + 4, &be, 4);
	be = htonl(count);
	memcpy(header + 8, &be, 4);
	if (pack_put(w, header, sizeof(header)) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	gs_packwriter_free(w);
	return -1;
}

int gs_packwriter_begin_sink(gs_packwriter **out, gs_pack_sink sink, void *ctx, uint32_t count)
{
	gs_packwriter *w = calloc(1, sizeof(*w));
	unsigned char header[12] = {'P', 'A', 'C', 'K'};
	uint32_t be;

	*out = NULL;
	if (!w || !(w->entries = malloc((count ? count : 1) * sizeof(*w->entries)))) {
		free(w);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	w->fd = -1;
	w->sink = sink;
	w->sink_ctx = ctx;
	w->expected = count;
	gs_sha1_init(&w->sha);
	be = htonl(2);
	memcpy(header + 4, &be, 4);
	be = htonl(count);
	memcpy(header + 8, &be, 4);
	if (pack_put(w, header, sizeof(header)) < 0) {
		gs_packwriter_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

/*
 * `len` bytes as a zlib stream of stored (uncompressed) blocks, appended
 * to buf.  Trees are written this way: their object ids do not compress,
 * and deflating them costs more than the rest of a commit put together.
 * They stay stored through our merges; `git gc` deltifies most of them,
 * and `git repack -a -d -F` deflates every object again.
 */
static int zlib_stored(gs_buf *buf, const unsigned char *data, size_t len)
{
	enum { BLOCK = 65535 };
	uLong adler = adler32_z(1, data, len);
	unsigned char *out;
	size_t blocks = len ? (len + BLOCK - 1) / BLOCK : 1;

	if (gs_buf_grow(buf, buf->size + 2 + len + 5 * blocks + 4 + 1) < 0)
		return -1;
	out = (unsigned char *)buf->data + buf->size;
	*out++ = 0x78;   /* deflate, 32K window */
	*out++ = 0x01;   /* no dictionary, fastest; (0x78 << 8 | 0x01) % 31 == 0 */
	for (size_t b = 0; b < blocks; b++) {
		size_t n = len - b * BLOCK < BLOCK ? len - b * BLOCK : BLOCK;
		*out++ = b + 1 == blocks;   /* BFINAL, BTYPE 00 */
		*out++ = (unsigned char)(n & 0xff);
		*out++ = (unsigned char)(n >> 8);
		*out++ = (unsigned char)(~n & 0xff);
		*out++ = (unsigned char)((~n >> 8) & 0xff);
		memcpy(out, data + b * BLOCK, n);
		out += n;
	}
	*out++ = (unsigned char)(adler >> 24);
	*out++ = (unsigned char)(adler >> 16);
	*out++ = (unsigned char)(adler >> 8);
	*out++ = (unsigned char)adler;
	buf->size = (size_t)(out - (unsigned char *)buf->data);
	return 0;
}

/*
 * zlib counts in uInt, so deflate() is handed at most this much input
 * at a time (and at most UINT_MAX of room for output): an object of
 * 4 GiB or more is deflated whole, not cut at its size modulo 2^32.  The
 * step is small enough that every object over 16 MiB takes the loop
 * more than once, in the tests too.
 */
#define DEFLATE_STEP (16u << 20)

/* `len` bytes deflated (fastest level, or zlib's default when compact),
 * appended to buf. */
static int deflated(gs_buf *buf, deflater *d, const void *data, size_t len)
{
	z_stream *z = &d->z;
	size_t in_left = len, out_left;
	uLong bound;
	int zrc;

	if (!d->ready) {
		if (deflateInit(z, d->compact ? Z_DEFAULT_COMPRESSION : Z_BEST_SPEED) != Z_OK)
			return gs_error_set_os(ENOMEM, "out of memory");
		d->ready = 1;
	} else if (deflateReset(z) != Z_OK) {
		return gs_error_set(GS_ERR_GIT, "compressing an object failed");
	}
	bound = deflateBound(z, (uLong)len);
	if (gs_buf_grow(buf, buf->size + bound + 1) < 0)
		return -1;
	z->next_in = (Bytef *)data;
	z->next_out = (Bytef *)buf->data + buf->size;
	out_left = bound;
	do {
		uInt in = in_left > DEFLATE_STEP ? DEFLATE_STEP : (uInt)in_left;
		uInt out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;

		z->avail_in = in;
		z->avail_out = out;
		/* Z_FINISH once the rest is in hand, and from then on */
		zrc = deflate(z, in_left > in ? Z_NO_FLUSH : Z_FINISH);
		in_left -= in - z->avail_in;
		out_left -= out - z->avail_out;
	} while (zrc == Z_OK);
	buf->size += bound - out_left;
	if (zrc != Z_STREAM_END)
		return gs_error_set(GS_ERR_GIT, "compressing an object failed");
	return 0;
}

#define ENTRY_HEADER_MAX (10 + 10 + GIT_OID_RAWSZ)

/* An entry's header into out: its type and size; for a delta, where its
 * base is, either `distance` bytes back in this pack (OFS_DELTA) or, when
 * distance is 0, the object `base` (REF_DELTA).  Returns its length. */
static size_t entry_header(unsigned char out[ENTRY_HEADER_MAX], int type, size_t size,
			   uint64_t distance, const git_oid *base)
{
	size_t n = 0;

	out[n] = (unsigned char)((type << 4) | (size & 15));
	for (size >>= 4; size; size >>= 7) {
		out[n++] |= 0x80;
		out[n] = size & 0x7f;
	}
	n++;
	if (type == GIT_OBJECT_OFS_DELTA) {
		/* Big-endian base 128, each continued byte standing for one more. */
		unsigned char ofs[10];
		size_t k = sizeof(ofs) - 1;
		ofs[k] = distance & 0x7f;
		while (distance >>= 7)
			ofs[--k] = 0x80 | (--distance & 0x7f);
		memcpy(out + n, ofs + k, sizeof(ofs) - k);
		n += sizeof(ofs) - k;
	} else if (type == GIT_OBJECT_REF_DELTA) {
		memcpy(out + n, base->id, GIT_OID_RAWSZ);
		n += GIT_OID_RAWSZ;
	}
	return n;
}

/* An object as a pack entry into out: its type-and-size header, then
 * its zlib data; *crc is the entry's CRC-32 for the index. */
static int encode_entry(gs_buf *out, uint32_t *crc, deflater *d, git_object_t type,
			const void *data, size_t len)
{
	unsigned char header[ENTRY_HEADER_MAX];
	size_t n = entry_header(header, type, len, 0, NULL);

	out->size = 0;
	if (gs_buf_put(out, header, n) < 0 ||
	    (type == GIT_OBJECT_TREE && !d->compact ? zlib_stored(out, data, len)
						    : deflated(out, d, data, len)) < 0)
		return -1;
	*crc = (uint32_t)crc32_z(0, (const Bytef *)out->data, out->size);
	return 0;
}

static int put_entry(gs_packwriter *w, const git_oid *id, const void *entry, size_t len,
		     uint32_t crc)
{
	if (w->count == w->expected)
		return gs_error_set(GS_ERR_GIT, "pack writer: more objects than announced");
	git_oid_cpy(&w->entries[w->count].id, id);
	w->entries[w->count].offset = w->offset;
	w->entries[w->count].crc = crc;
	w->count++;
	return pack_put(w, entry, len);
}

int gs_packwriter_add(gs_packwriter *w, const git_oid *id, git_object_t type, const void *data,
		      size_t len)
{
	uint32_t crc;

	if (encode_entry(&w->scratch, &crc, &w->z, type, data, len) < 0)
		return -1;
	return put_entry(w, id, w->scratch.data, w->scratch.size, crc);
}

/*
 * Many objects: deflating is most of the work, so batches of them are
 * encoded on several threads, then written in order by this one.
 */
#define ENCODE_BATCH 1024
#define ENCODE_BATCH_BYTES (8 * 1024 * 1024)
#define ENCODE_HELPERS 3

typedef struct {
	const gs_pack_object *objects;   /* the batch */
	size_t count, next;              /* next: taken atomically */
	int compact;
	gs_buf *entries;
	uint32_t *crcs;
	char *failed;
} encode_job;

static void *encode_worker(void *arg)
{
	encode_job *job = arg;
	deflater d = {.compact = job->compact};
	size_t i;

	while ((i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) < job->count) {
		const gs_pack_object *o = &job->objects[i];
		if (encode_entry(&job->entries[i], &job->crcs[i], &d, o->type, o->data, o->len) < 0) {
			job->failed[i] = 1;
			gs_error_clear();   /* this thread's; the writer encodes it again */
		}
	}
	deflater_end(&d);
	return NULL;
}

static void encode_batch(encode_job *job)
{
	pthread_t helpers[ENCODE_HELPERS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cpus > 1 ? (size_t)cpus - 1 : 0, started = 0;

	if (want > ENCODE_HELPERS)
		want = ENCODE_HELPERS;
	while (started < want && pthread_create(&helpers[started], NULL, encode_worker, job) == 0)
		started++;
	encode_worker(job);
	for (size_t t = 0; t < started; t++)
		pthread_join(helpers[t], NULL);
}

int gs_packwriter_add_all(gs_packwriter *w, const gs_pack_object *objects, size_t count)
{
	encode_job job = {0};
	size_t done = 0, cap = count < ENCODE_BATCH ? count : ENCODE_BATCH;
	int rc = -1;

	if (count < 64 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		for (size_t i = 0; i < count; i++)
			if (gs_packwriter_add(w, &objects[i].id, objects[i].type, objects[i].data,
					      objects[i].len) < 0)
				return -1;
		return 0;
	}
	job.compact = w->compact;
	job.entries = calloc(cap, sizeof(*job.entries));
	job.crcs = calloc(cap, sizeof(*job.crcs));
	job.failed = calloc(cap, 1);
	if (!job.entries || !job.crcs || !job.failed) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	while (done < count) {
		size_t n = 0, bytes = 0;
		while (done + n < count && n < cap && bytes < ENCODE_BATCH_BYTES)
			bytes += objects[done + n++].len;
		job.objects = objects + done;
		job.count = n;
		job.next = 0;
		memset(job.failed, 0, n);
		encode_batch(&job);
		for (size_t i = 0; i < n; i++) {
			const gs_pack_object *o = &objects[done + i];
			if (job.failed[i] ? gs_packwriter_add(w, &o->id, o->type, o->data, o->len) < 0
					  : put_entry(w, &o->id, job.entries[i].data, job.entries[i].size,
						      job.crcs[i]) < 0)
				goto done;
			/* A slot keeps its buffer for the next batch, unless it is big. */
			if (job.entries[i].cap > 64 * 1024)
				gs_buf_free(&job.entries[i]);
		}
		done += n;
	}
	rc = 0;
done:
	for (size_t i = 0; job.entries && i < cap; i++)
		gs_buf_free(&job.entries[i]);
	free(job.entries);
	free(job.crcs);
	free(job.failed);
	return rc;
}

int gs_packwriter_add_raw(gs_packwriter *w, const git_oid *id, const void *entry, size_t len,
			  uint32_t crc)
{
	return put_entry(w, id, entry, len, crc);
}

void gs_packwriter_compact(gs_packwriter *w)
{
	w->compact = w->z.compact = 1;
	deflater_end(&w->z);
}

uint64_t gs_packwriter_offset(const gs_packwriter *w)
{
	return w->offset;
}

/* A delta entry: its header, then zdata (zlib data of a delta of
 * delta_len bytes). */
static int put_delta(gs_packwriter *w, const git_oid *id, uint64_t base_offset,
		     const git_oid *base, size_t delta_len, const void *zdata, size_t zlen)
{
	unsigned char header[ENTRY_HEADER_MAX];
	size_t n;
	uint32_t crc;

	if (base_offset >= w->offset)
		return gs_error_set(GS_ERR_GIT, "pack writer: a delta's base must come first");
	n = entry_header(header, base_offset ? GIT_OBJECT_OFS_DELTA : GIT_OBJECT_REF_DELTA,
			 delta_len, base_offset ? w->offset - base_offset : 0, base);
	w->scratch.size = 0;
	if (gs_buf_put(&w->scratch, header, n) < 0 || gs_buf_put(&w->scratch, zdata, zlen) < 0)
		return -1;
	crc = (uint32_t)crc32_z(0, (const Bytef *)w->scratch.data, w->scratch.size);
	return put_entry(w, id, w->scratch.data, w->scratch.size, crc);
}

int gs_packwriter_add_delta(gs_packwriter *w, const git_oid *id, uint64_t base_offset,
			    const git_oid *base, const void *delta, size_t len)
{
	gs_buf z = {0};
	int rc = deflated(&z, &w->z, delta, len) < 0
		 ? -1 : put_delta(w, id, base_offset, base, len, z.data, z.size);
	gs_buf_free(&z);
	return rc;
}

int gs_packwriter_add_delta_raw(gs_packwriter *w, const git_oid *id, uint64_t base_offset,
				const git_oid *base, size_t delta_len, const void *zdata,
				size_t zlen)
{
	return put_delta(w, id, base_offset, base, delta_len, zdata, zlen);
}

static int put_be32(gs_buf *buf, uint32_t v)
{
	uint32_t be = htonl(v);
	return gs_buf_put(buf, &be, 4);
}

static int compare_entries(const void *a, const void *b)
{
	return git_oid_cmp(&((const index_entry *)a)->id, &((const index_entry *)b)->id);
}

static int build_index(gs_buf *idx, index_entry *e, size_t n, const unsigned char pack_sum[20])
{
	uint32_t fanout[256] = {0};
	uint32_t nlarge = 0;
	unsigned char sum[20];
	gs_sha1 sha;

	if (n > 1)
		qsort(e, n, sizeof(*e), compare_entries);
	for (size_t i = 0; i < n; i++)
		fanout[e[i].id.id[0]]++;
	for (int i = 1; i < 256; i++)
		fanout[i] += fanout[i - 1];
	if (gs_buf_put(idx, "\377tOc", 4) < 0 || put_be32(idx, 2) < 0)
		return -1;
	for (int i = 0; i < 256; i++)
		if (put_be32(idx, fanout[i]) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (gs_buf_put(idx, e[i].id.id, GIT_OID_RAWSZ) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (put_be32(idx, e[i].crc) < 0)
			return -1;
	/* Offsets past 2 GiB go to the table of 8-byte offsets. */
	for (size_t i = 0; i < n; i++)
		if (put_be32(idx, e[i].offset < 0x80000000u ? (uint32_t)e[i].offset
							 : 0x80000000u | nlarge++) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (e[i].offset >= 0x80000000u &&
		    (put_be32(idx, (uint32_t)(e[i].offset >> 32)) < 0 ||
		     put_be32(idx, (uint32_t)e[i].offset) < 0))
			return -1;
	if (gs_buf_put(idx, pack_sum, 20) < 0)
		return -1;
	gs_sha1_init(&sha);
	gs_sha1_update(&sha, idx->data, idx->size);
	gs_sha1_final(&sha, sum);
	return gs_buf_put(idx, sum, 20);
}

int gs_packwriter_finish(gs_packwriter *w, char hex[GIT_OID_HEXSZ + 1])
{
	unsigned char sum[20];
	gs_buf idx = {0};
	char *tmp_idx = NULL, *final = NULL;
	int fd = -1, rc = -1;

	if (w->count != w->expected)
		return gs_error_set(GS_ERR_GIT, "pack writer: fewer objects than announced");
	gs_sha1_final(&w->sha, sum);
	if (gs_buf_put(&w->pending, sum, sizeof(sum)) < 0 || pack_flush(w) < 0)
		return -1;
	if (!w->dir) {
		/* The caller's sink: no index, no rename. */
		git_oid name;
		git_oid_fromraw(&name, sum);
		git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &name);
		return 0;
	}
	/* Pack files are read-only, as git makes them. */
	if (w->unnamed) {
		if (fchmod(w->fd, 0444) < 0)
			return gs_error_set_path(errno, w->tmp_pack, "cannot write");
	} else {
		if (gs_close_read_only(w->fd, w->tmp_pack) < 0) {
			w->fd = -1;
			return -1;
		}
		w->fd = -1;
	}
	{
		git_oid name;
		git_oid_fromraw(&name, sum);
		git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &name);
	}
	if (build_index(&idx, w->entries, w->count, sum) < 0)
		goto done;
	if (!(tmp_idx = malloc(strlen(w->dir) + 64)) || !(final = malloc(strlen(w->dir) + 64))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	sprintf(tmp_idx, "%s/tmp_idx_XXXXXX", w->dir);
	if ((fd = mkostemp(tmp_idx, O_CLOEXEC)) < 0) {
		gs_error_set_path(errno, w->dir, "cannot create a file in");
		goto done;
	}
	if (write_all(fd, idx.data, idx.size, tmp_idx) < 0)
		goto done;
	if (gs_close_read_only(fd, tmp_idx) < 0) {
		fd = -1;
		goto done;
	}
	fd = -1;
	/* The pack first: an index must never name a missing pack. */
	sprintf(final, "%s/pack-%s.pack", w->dir, hex);
	if (w->unnamed) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
		/* Already there: the same bytes, since it has the same checksum. */
		if (linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW) < 0 &&
		    errno != EEXIST) {
			gs_error_set_path(errno, final, "cannot create");
			goto done;
		}
		close(w->fd);
		w->fd = -1;
	} else if (rename(w->tmp_pack, final) < 0) {
		gs_error_set_path(errno, final, "cannot create");
		goto done;
	}
	free(w->tmp_pack);
	w->tmp_pack = NULL;
	sprintf(final, "%s/pack-%s.idx", w->dir, hex);
	if (rename(tmp_idx, final) < 0) {
		gs_error_set_path(errno, final, "cannot create");
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp_idx)
		unlink(tmp_idx);
	free(tmp_idx);
	free(final);
	gs_buf_free(&idx);
	return rc;
}

void gs_packwriter_free(gs_packwriter *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_pack) {
		/* Not finished: drop the partial pack, unless a parent
		 * process (this is a fork) is still writing it. */
		if (!w->unnamed && w->pid == getpid())
			unlink(w->tmp_pack);
		free(w->tmp_pack);
	}
	deflater_end(&w->z);
	free(w->dir);
	free(w->entries);
	gs_buf_free(&w->scratch);
	gs_buf_free(&w->pending);
	free(w);
}
