/*
 * blobstream.c - a blob whose content arrives in chunks, in constant memory.
 *
 * Content below GS_BIG_BLOB stays in memory and, when the stream is
 * finished, joins the transaction's next pack like any small object.  Once
 * it reaches GS_BIG_BLOB it streams into a loose object instead.
 *
 * The size problem.  A loose object is zlib("blob <size>\0" + content) and
 * its id is SHA-1("blob <size>\0" + content): both begin with the size,
 * which a writer only knows after its last chunk.  Copying the stream to
 * a temporary file and then hashing and compressing the copy (what
 * `git hash-object --stdin` does) writes the content twice.  Here it is
 * compressed once, straight into the file that becomes the object:
 *
 *   - the file starts with a hole of LOOSE_PREFIX bytes, and the content
 *     is deflated behind it as a raw deflate stream while its length and
 *     Adler-32 are counted;
 *   - at the end the header is known.  A deflate stream is a sequence of
 *     blocks, so the hole is filled with the two bytes of the zlib wrapper
 *     and blocks that produce the header: an uncompressed ("stored") block
 *     holding it, after empty blocks chosen so that the prefix is exactly
 *     LOOSE_PREFIX bytes whatever the header's length.  The wrapper's
 *     Adler-32 of header + content is combined from the two parts and
 *     appended;
 *   - the id needs the header first, so it takes one more pass: the file
 *     is read back (just written, so normally from the page cache) and
 *     inflated into SHA-1.
 *
 * The extra pass is a read, never a second write, and memory is a few
 * fixed buffers.  When the size is announced at open (a local file, data
 * already in memory) the id is hashed during the first pass and nothing
 * is read back; the file is built the same way.  A stream abandoned
 * before it is finished, or after a failure, removes its temporary file.
 */
#include "gs_internal.h"
#include "txn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Granularity of compression, file writes and the read-back. */
#define STREAM_CHUNK (1024 * 1024)
/* Sample of a big blob used to decide how hard to compress it. */
#define SAMPLE_SIZE (64 * 1024)
/* The decision is taken again for every span of this much content, from
 * a smaller sample: a file may change from media to text midway. */
#define DECISION_SPAN STREAM_CHUNK
#define SPAN_SAMPLE (8 * 1024)
/* Bytes before the compressed content: wrapper, padding blocks, header
 * block.  37 frames every header from "blob 0\0" to 20 digits. */
#define LOOSE_PREFIX 37
/* Most empty blocks a padding run may need. */
#define MAX_EMPTIES 24

enum stream_state {
	STREAM_SMALL,       /* content in memory */
	STREAM_LOOSE,       /* content streaming into the temporary file */
	STREAM_DONE_SMALL,  /* finished; the content is kept to be put again */
	STREAM_DONE_LOOSE,  /* finished; the loose object is in place */
	STREAM_FAILED       /* a call failed: the content is lost */
};

struct gs_blob_stream {
	gs_store *store;
	uint64_t declared;       /* GS_BLOB_SIZE_UNKNOWN or the size announced */
	uint64_t size;           /* content received so far */
	enum stream_state state;
	gs_buf small;            /* the content while it is small */
	git_oid id;              /* once finished */
	/* Loose mode. */
	char *tmp;               /* the temporary file, removed unless renamed */
	int fd;
	uint64_t end;            /* bytes in the file, the prefix's hole included */
	z_stream z;
	int z_ready;
	int level;               /* the zlib level in use */
	uint64_t span_left;      /* content before the level is decided again */
	uLong adler;             /* of the content */
	gs_sha1 sha;             /* header + content, when the size was announced */
	unsigned char *out;      /* STREAM_CHUNK bytes */
};

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

/* ------------------------------------------------------------------ */
/* The prefix: zlib wrapper and the header as deflate blocks            */

/* Deflate writes bits least significant first. */
typedef struct {
	unsigned char *out;
	size_t pos;
	uint32_t bits;
	int nbits;
} bit_writer;

static void put_bits(bit_writer *w, uint32_t value, int n)
{
	w->bits |= value << w->nbits;
	w->nbits += n;
	while (w->nbits >= 8) {
		w->out[w->pos++] = (unsigned char)w->bits;
		w->bits >>= 8;
		w->nbits -= 8;
	}
}

/* A non-final block with fixed codes holding only its end code. */
static void put_empty_block(bit_writer *w)
{
	put_bits(w, 1u << 1, 3);  /* BFINAL 0, BTYPE 01 */
	put_bits(w, 0, 7);        /* end of block: code 256 is seven 0 bits */
}

/* A non-final stored block: header bits, padding to a byte, LEN, NLEN, data. */
static void put_stored_block(bit_writer *w, const char *data, size_t len)
{
	put_bits(w, 0, 3);
	if (w->nbits)
		put_bits(w, 0, 8 - w->nbits);
	w->out[w->pos++] = (unsigned char)(len & 0xff);
	w->out[w->pos++] = (unsigned char)(len >> 8);
	w->out[w->pos++] = (unsigned char)(~len & 0xff);
	w->out[w->pos++] = (unsigned char)((~len >> 8) & 0xff);
	if (len)
		memcpy(w->out + w->pos, data, len);
	w->pos += len;
}

/* Bytes taken by `empties` empty blocks and a stored block of len bytes,
 * from a byte boundary. */
static size_t run_bytes(unsigned empties, size_t len)
{
	return (10 * empties + 3 + 7) / 8 + 4 + len;
}

/*
 * The LOOSE_PREFIX bytes that start a loose object: the zlib wrapper, then
 * [empty blocks, an empty stored block] (when needed), empty blocks and
 * the header in a stored block.  Each run of empty blocks shifts the
 * stored block after it by a whole number of bytes; two runs reach every
 * length a header can have.
 */
static int loose_prefix(unsigned char out[LOOSE_PREFIX], const char *header, size_t len)
{
	for (unsigned twice = 0; twice <= 1; twice++) {
		for (unsigned first = 0; first <= (twice ? MAX_EMPTIES : 0); first++) {
			for (unsigned second = 0; second <= MAX_EMPTIES; second++) {
				bit_writer w = {out, 0, 0, 0};
				size_t total = 2 + (twice ? run_bytes(first, 0) : 0) +
					       run_bytes(second, len);
				if (total != LOOSE_PREFIX)
					continue;
				/* CMF: deflate, 32K window; FLG: no dictionary,
				 * level bits 0, check bits making 0x7801 % 31 == 0. */
				out[w.pos++] = 0x78;
				out[w.pos++] = 0x01;
				if (twice) {
					for (unsigned i = 0; i < first; i++)
						put_empty_block(&w);
					put_stored_block(&w, NULL, 0);
				}
				for (unsigned i = 0; i < second; i++)
					put_empty_block(&w);
				put_stored_block(&w, header, len);
				return 0;
			}
		}
	}
	return gs_error_set(GS_ERR_GIT, "no zlib framing for an object header of %zu bytes", len);
}

/* ------------------------------------------------------------------ */
/* Loose mode                                                          */

static int write_all(gs_blob_stream *s, const unsigned char *data, size_t len, uint64_t at)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(s->fd, data + done, len - done, (off_t)(at + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gs_error_set_path(n < 0 ? errno : ENOSPC, s->tmp, "cannot write");
		done += (size_t)n;
	}
	return 0;
}

static int deflate_chunk(gs_blob_stream *s, const void *data, size_t len, int flush)
{
	s->z.next_in = (Bytef *)data;
	s->z.avail_in = (uInt)len;
	do {
		size_t produced;
		s->z.next_out = s->out;
		s->z.avail_out = STREAM_CHUNK;
		if (deflate(&s->z, flush) == Z_STREAM_ERROR)
			return gs_error_set(GS_ERR_GIT, "compressing a blob failed");
		produced = STREAM_CHUNK - s->z.avail_out;
		if (write_all(s, s->out, produced, s->end) < 0)
			return -1;
		s->end += produced;
	} while (s->z.avail_out == 0 || s->z.avail_in > 0);
	return 0;
}

/* Switch the zlib level between two pieces of content. */
static int set_level(gs_blob_stream *s, int level)
{
	int zrc;

	if (level == s->level)
		return 0;
	do {
		size_t produced;
		s->z.next_out = s->out;
		s->z.avail_out = STREAM_CHUNK;
		/* What is pending is compressed at the old level first. */
		zrc = deflateParams(&s->z, level, Z_DEFAULT_STRATEGY);
		if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return gs_error_set(GS_ERR_GIT, "compressing a blob failed");
		produced = STREAM_CHUNK - s->z.avail_out;
		if (write_all(s, s->out, produced, s->end) < 0)
			return -1;
		s->end += produced;
	} while (zrc == Z_BUF_ERROR);
	s->level = level;
	return 0;
}

static int loose_add(gs_blob_stream *s, const char *data, size_t len)
{
	while (len > 0) {
		size_t n = len < STREAM_CHUNK ? len : STREAM_CHUNK;

		if (s->span_left == 0) {
			size_t sample = n < SPAN_SAMPLE ? n : SPAN_SAMPLE;
			if (set_level(s, compression_for(data, sample)) < 0)
				return -1;
			s->span_left = DECISION_SPAN;
		}
		if (n > s->span_left)
			n = (size_t)s->span_left;
		s->span_left -= n;
		s->adler = adler32(s->adler, (const Bytef *)data, (uInt)n);
		if (s->declared != GS_BLOB_SIZE_UNKNOWN)
			gs_sha1_update(&s->sha, data, n);
		if (deflate_chunk(s, data, n, Z_NO_FLUSH) < 0)
			return -1;
		data += n;
		len -= n;
	}
	return 0;
}

static int loose_begin(gs_blob_stream *s, const void *sample, size_t sample_len)
{
	if (!(s->out = malloc(STREAM_CHUNK)))
		return gs_error_set_os(ENOMEM, "out of memory");
	if (!(s->tmp = gs_store_file(s->store, "objects/tmp_obj_XXXXXX", "")))
		return -1;
	if ((s->fd = mkostemp(s->tmp, O_CLOEXEC)) < 0) {
		gs_error_set_path(errno, s->tmp, "cannot create");
		free(s->tmp);   /* nothing was created under this name */
		s->tmp = NULL;
		return -1;
	}
	/* Raw deflate: the wrapper is written with the prefix. */
	s->level = compression_for(sample, sample_len);
	if (deflateInit2(&s->z, s->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return gs_error_set_os(ENOMEM, "out of memory");
	s->z_ready = 1;
	s->span_left = DECISION_SPAN;
	s->end = LOOSE_PREFIX;
	s->adler = adler32(0, NULL, 0);
	if (s->declared != GS_BLOB_SIZE_UNKNOWN)
		gs_object_hash_begin(&s->sha, GIT_OBJECT_BLOB, s->declared);
	s->state = STREAM_LOOSE;
	return 0;
}

/* The id of header + content, inflating what the file holds. */
static int hash_back(gs_blob_stream *s, const char *header, size_t header_len)
{
	unsigned char *in = NULL, digest[20];
	z_stream z;
	uint64_t at = LOOSE_PREFIX, produced = 0;
	int zrc = Z_OK, rc = -1;

	memset(&z, 0, sizeof(z));
	if (!(in = malloc(STREAM_CHUNK)) || inflateInit2(&z, -15) != Z_OK) {
		free(in);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	gs_sha1_init(&s->sha);
	gs_sha1_update(&s->sha, header, header_len);
	while (zrc != Z_STREAM_END) {
		/* Inflate may still have output pending once all the input is
		 * in: only inflate itself can tell the stream is cut short. */
		if (z.avail_in == 0 && at < s->end) {
			size_t want = s->end - at < STREAM_CHUNK ? (size_t)(s->end - at) : STREAM_CHUNK;
			ssize_t n = pread(s->fd, in, want, (off_t)at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n < 0)
					gs_error_set_path(errno, s->tmp, "cannot read");
				else
					gs_error_set(GS_ERR_GIT, "%s: compressed content cut short",
						     s->tmp);
				goto done;
			}
			z.next_in = in;
			z.avail_in = (uInt)n;
			at += (uint64_t)n;
		}
		z.next_out = s->out;
		z.avail_out = STREAM_CHUNK;
		zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc == Z_BUF_ERROR && z.avail_in == 0 && at >= s->end) {
			gs_error_set(GS_ERR_GIT, "%s: compressed content cut short", s->tmp);
			goto done;
		}
		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
			gs_error_set(GS_ERR_GIT, "%s: %s", s->tmp, z.msg ? z.msg : "corrupt");
			goto done;
		}
		gs_sha1_update(&s->sha, s->out, STREAM_CHUNK - z.avail_out);
		produced += STREAM_CHUNK - z.avail_out;
	}
	if (produced != s->size || z.avail_in != 0 || at != s->end) {
		gs_error_set(GS_ERR_GIT, "%s: content changed while it was written", s->tmp);
		goto done;
	}
	gs_sha1_final(&s->sha, digest);
	git_oid_fromraw(&s->id, digest);
	rc = 0;
done:
	inflateEnd(&z);
	free(in);
	return rc;
}

/* Complete the file, learn the id and move the file into place. */
static int loose_finish(gs_blob_stream *s)
{
	char header[GS_OBJECT_HEADER_MAX], hex[GIT_OID_HEXSZ + 1], rel[64];
	unsigned char prefix[LOOSE_PREFIX], trailer[4], digest[20];
	size_t header_len = gs_object_header(header, GIT_OBJECT_BLOB, s->size);
	uLong adler;
	char *path = NULL;
	int rc = -1;

	if (deflate_chunk(s, NULL, 0, Z_FINISH) < 0)
		return -1;
	if (s->declared != GS_BLOB_SIZE_UNKNOWN) {
		gs_sha1_final(&s->sha, digest);
		git_oid_fromraw(&s->id, digest);
	} else if (hash_back(s, header, header_len) < 0) {
		return -1;
	}
	adler = adler32_combine(adler32(adler32(0, NULL, 0), (const Bytef *)header,
					(uInt)header_len),
				s->adler, (z_off_t)s->size);
	trailer[0] = (unsigned char)(adler >> 24);
	trailer[1] = (unsigned char)(adler >> 16);
	trailer[2] = (unsigned char)(adler >> 8);
	trailer[3] = (unsigned char)adler;
	if (loose_prefix(prefix, header, header_len) < 0 ||
	    write_all(s, prefix, sizeof(prefix), 0) < 0 ||
	    write_all(s, trailer, sizeof(trailer), s->end) < 0)
		return -1;
	if (gs_close_read_only(s->fd, s->tmp) < 0) {
		s->fd = -1;
		return -1;
	}
	s->fd = -1;
	git_oid_tostr(hex, sizeof(hex), &s->id);
	snprintf(rel, sizeof(rel), "objects/%.2s", hex);
	if (!(path = gs_store_file(s->store, rel, "")))
		return -1;
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		gs_error_set_path(errno, path, "cannot create");
		goto done;
	}
	free(path);
	snprintf(rel, sizeof(rel), "objects/%.2s/%s", hex, hex + 2);
	if (!(path = gs_store_file(s->store, rel, "")))
		return -1;
	/* An object already there has the same content: keep it (the
	 * temporary file goes with the stream). */
	if (access(path, F_OK) == 0) {
		rc = 0;
	} else if (rename(s->tmp, path) == 0) {
		free(s->tmp);
		s->tmp = NULL;
		rc = 0;
	} else {
		gs_error_set_path(errno, path, "cannot create");
	}
done:
	free(path);
	return rc;
}

/* Release what loose mode holds; the temporary file is removed. */
static void loose_end(gs_blob_stream *s)
{
	if (s->z_ready)
		deflateEnd(&s->z);
	s->z_ready = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->tmp)
		unlink(s->tmp);
	free(s->tmp);
	s->tmp = NULL;
	free(s->out);
	s->out = NULL;
}

static int fail(gs_blob_stream *s)
{
	loose_end(s);
	gs_buf_free(&s->small);
	s->state = STREAM_FAILED;
	return -1;
}

/* ------------------------------------------------------------------ */
/* The stream                                                          */

int gs_blob_stream_open(gs_blob_stream **out, gs_store *store, uint64_t size)
{
	gs_blob_stream *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return gs_error_set_os(ENOMEM, "out of memory");
	s->store = store;
	s->declared = size;
	s->fd = -1;
	s->state = STREAM_SMALL;
	/* Announced small content is held whole: one allocation. */
	if (size < GS_BIG_BLOB && gs_buf_grow(&s->small, (size_t)size + 1) < 0) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

static int check_writable(const gs_blob_stream *s, size_t len)
{
	if (s->state == STREAM_FAILED)
		return gs_error_set(GS_ERR_INVALID, "an earlier failure lost this blob's content");
	if (s->state == STREAM_DONE_SMALL || s->state == STREAM_DONE_LOOSE)
		return gs_error_set(GS_ERR_INVALID, "the blob stream is already finished");
	if (s->declared != GS_BLOB_SIZE_UNKNOWN && len > s->declared - s->size)
		return gs_error_set(GS_ERR_INVALID, "blob stream: more than the %llu bytes announced",
				    (unsigned long long)s->declared);
	return 0;
}

int gs_blob_stream_write(gs_blob_stream *s, const void *data, size_t len)
{
	if (check_writable(s, len) < 0)
		return -1;
	if (len == 0)
		return 0;
	if (s->state == STREAM_SMALL) {
		int big = s->declared != GS_BLOB_SIZE_UNKNOWN ? s->declared >= GS_BIG_BLOB
							      : s->size + len >= GS_BIG_BLOB;
		if (!big) {
			if (len && gs_buf_put(&s->small, data, len) < 0)
				return fail(s);
			s->size += len;
			return 0;
		}
		/* Crossing the threshold: what is held goes first, and the
		 * earliest content decides the compression. */
		if (loose_begin(s, s->small.size ? s->small.data : data,
				s->small.size ? s->small.size : len) < 0 ||
		    loose_add(s, s->small.data, s->small.size) < 0)
			return fail(s);
		gs_buf_free(&s->small);
	}
	if (loose_add(s, data, len) < 0)
		return fail(s);
	s->size += len;
	return 0;
}

int gs_blob_stream_finish(git_oid *out, gs_blob_stream *s, gs_txn *txn)
{
	switch (s->state) {
	case STREAM_DONE_LOOSE:
		git_oid_cpy(out, &s->id);
		return 0;
	case STREAM_DONE_SMALL:
	case STREAM_SMALL:
		if (s->declared != GS_BLOB_SIZE_UNKNOWN && s->size != s->declared)
			break;
		/* Put again after a finish: txn may be another transaction. */
		if (gs_txn_put(&s->id, txn, GIT_OBJECT_BLOB, s->small.data ? s->small.data : "",
			       (size_t)s->size) < 0)
			return -1;
		s->state = STREAM_DONE_SMALL;
		git_oid_cpy(out, &s->id);
		return 0;
	case STREAM_LOOSE:
		if (s->declared != GS_BLOB_SIZE_UNKNOWN && s->size != s->declared)
			break;
		if (loose_finish(s) < 0)
			return fail(s);
		loose_end(s);
		s->state = STREAM_DONE_LOOSE;
		git_oid_cpy(out, &s->id);
		return 0;
	case STREAM_FAILED:
		return gs_error_set(GS_ERR_INVALID, "an earlier failure lost this blob's content");
	}
	gs_error_set(GS_ERR_INVALID, "blob stream: %llu bytes announced, %llu written",
		     (unsigned long long)s->declared, (unsigned long long)s->size);
	return fail(s);
}

uint64_t gs_blob_stream_size(const gs_blob_stream *s)
{
	return s->size;
}

int gs_blob_stream_finished(const gs_blob_stream *s)
{
	return s->state == STREAM_DONE_SMALL || s->state == STREAM_DONE_LOOSE;
}

void gs_blob_stream_free(gs_blob_stream *s)
{
	if (!s)
		return;
	loose_end(s);
	gs_buf_free(&s->small);
	free(s);
}
