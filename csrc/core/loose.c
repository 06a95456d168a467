/* loose.c - reading blobs stored whole ourselves, not with git_odb_read,
 * which inflates the whole object before returning any of it: the first
 * 4 KiB of a 64 MiB blob take 0.1 ms here against 0.7 s
 * (bench/libgit2_compare.c).  A truncated object is an error, not a hang
 * (libgit2 1.5 can spin on one).
 *
 * Two kinds of file hold such a blob as one zlib stream: a loose object
 * (the stream starts the file and holds "blob <size>\0" before the
 * content), and an entry of a pack that is not a delta (the stream starts
 * after the entry's header, which gives the size, and holds only the
 * content).  Only big files are stored loose; git packs big files whole
 * (it deltifies nothing above core.bigFileThreshold).  Both are read the
 * same way, from a descriptor the reader keeps: a pack another process
 * deletes meanwhile stays readable through it.
 *
 * Incompressible big files are stored in deflate's uncompressed ("stored")
 * blocks (blobstream.c; git's zlib does the same with what it cannot
 * shrink, in smaller blocks).  Those are read without zlib: each block's bytes
 * go from the file straight into the caller's buffer, and skipping to an
 * offset only steps over block headers.  Through zlib the same read costs
 * two more passes over the data (copying out of the input buffer and the
 * Adler-32), twice the time of reading the file.  Stored blocks carry their
 * own framing (each length is followed by its complement), which catches a
 * cut or misframed object.  The content is checked against the stream's
 * Adler-32 as well: libdeflate's sum, taken block by block while the block
 * is still in the cache, costs some 0.04 s of CPU per GiB, nothing
 * measurable in a whole read and a tenth of a read through FS.open (zlib's
 * took a quarter of a whole read).  So stored content is checked whenever
 * the reader has seen every byte before the end; a read that skipped part
 * of the object cannot sum it, and `git fsck` checks the object id.  At the
 * first block that is not stored the reader starts over with zlib and
 * skips what it has already produced.  A read before the reader's place
 * starts over from the beginning of the stream (gs_loose_rewind).
 *
 * A read of the whole content (gs_loose_read_all) decodes deflated blocks
 * with libdeflate in one call over the mapped file, in half zlib's time
 * (256 MiB of log lines): straight into the caller's buffer when the
 * content starts a block of its own (blobstream.c's layout, and any pack
 * entry), else the header and content together into a buffer of ours,
 * then copied (git's layout for loose objects: the header shares the first
 * block). */
#include "gs_internal.h"
#include "loose.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#define INPUT_CHUNK (64 * 1024)
#define HEADER_MAX 64
/* Payloads shorter than this are copied through the input buffer. */
#define DIRECT_MIN 4096

/* Result of a stored-block step that meets a block zlib must decode. */
#define NEED_ZLIB 1

typedef struct {
	int fd;
	uint64_t start;       /* file offset of the zlib stream */
	const char *kind;     /* "loose object" or "packed object", for errors */
	char hex[GIT_OID_HEXSZ + 1];
	int zlib_mode;        /* reading through zlib (else stored blocks) */
	uint64_t out_pos;     /* bytes of header + content produced so far */
	unsigned char in[INPUT_CHUNK];
	size_t in_pos, in_len;
	uint64_t fpos;        /* file offset just after the buffered bytes */
	/* Stored blocks. */
	uint32_t bits;
	int nbits;
	size_t left;          /* bytes left in the current block */
	int last;             /* the current block is the final one */
	uint32_t adler;       /* Adler-32 of what they produced, */
	int adler_known;      /* unless some of it was skipped unread */
	/* zlib. */
	z_stream z;
	int z_ready;
	int at_end;           /* Z_STREAM_END seen */
} loose_reader;

static int corrupt(const loose_reader *r, const char *why)
{
	return gs_error_set(GS_ERR_GIT, "corrupt %s %s: %s", r->kind, r->hex, why);
}

static int unreadable(const loose_reader *r, int err)
{
	return gs_error_set_os(err, "cannot read %s %s", r->kind, r->hex);
}

/* Up to `want` more bytes of input at fpos; running out of it here means
 * a cut object. */
static int fill_up_to(loose_reader *r, size_t want)
{
	ssize_t n;

	do
		n = pread(r->fd, r->in, want, (off_t)r->fpos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return unreadable(r, errno);
	if (n == 0)
		return corrupt(r, "truncated");
	r->in_pos = 0;
	r->in_len = (size_t)n;
	r->fpos += (uint64_t)n;
	return 0;
}

static int fill(loose_reader *r)
{
	return fill_up_to(r, sizeof(r->in));
}

/* ------------------------------------------------------------------ */
/* zlib                                                                 */

/* Inflate exactly `len` bytes into dst (NULL: discard them). */
static int zlib_read(loose_reader *r, char *dst, size_t len)
{
	char scratch[INPUT_CHUNK];

	while (len > 0) {
		size_t want = dst ? len : (len < sizeof(scratch) ? len : sizeof(scratch));
		char *out = dst ? dst : scratch;
		size_t produced;
		int zrc;

		if (r->at_end)
			return corrupt(r, "content shorter than its header says");
		if (r->z.avail_in == 0) {
			if (fill(r) < 0)
				return -1;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)r->in_len;
		}
		r->z.next_out = (Bytef *)out;
		r->z.avail_out = (uInt)(want > UINT32_MAX ? UINT32_MAX : want);
		zrc = inflate(&r->z, Z_NO_FLUSH);
		if (zrc == Z_STREAM_END)
			r->at_end = 1;
		else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return corrupt(r, r->z.msg ? r->z.msg : "invalid compressed data");
		produced = (size_t)((char *)r->z.next_out - out);
		len -= produced;
		r->out_pos += produced;
		if (dst)
			dst += produced;
	}
	return 0;
}

/* After the content the zlib stream must end (which also makes zlib
 * check its checksum). */
static int zlib_check_end(loose_reader *r)
{
	char extra;

	while (!r->at_end) {
		int zrc;
		if (r->z.avail_in == 0) {
			if (fill(r) < 0)
				return -1;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)r->in_len;
		}
		r->z.next_out = (Bytef *)&extra;
		r->z.avail_out = 1;
		zrc = inflate(&r->z, Z_NO_FLUSH);
		if (r->z.avail_out == 0)
			return corrupt(r, "content longer than its header says");
		if (zrc == Z_STREAM_END)
			r->at_end = 1;
		else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return corrupt(r, r->z.msg ? r->z.msg : "invalid compressed data");
	}
	return 0;
}

/* Start over with zlib and skip what stored blocks already produced. */
static int switch_to_zlib(loose_reader *r)
{
	uint64_t done = r->out_pos;

	if (!r->z_ready) {
		if (inflateInit(&r->z) != Z_OK)
			return gs_error_set_os(ENOMEM, "out of memory");
		r->z_ready = 1;
	} else if (inflateReset(&r->z) != Z_OK) {
		return corrupt(r, "invalid compressed data");
	}
	r->zlib_mode = 1;
	r->at_end = 0;
	r->fpos = r->start;
	r->in_pos = r->in_len = 0;
	r->z.avail_in = 0;
	r->out_pos = 0;
	while (done > 0) {
		size_t n = done > INPUT_CHUNK ? INPUT_CHUNK : (size_t)done;
		if (zlib_read(r, NULL, n) < 0)
			return -1;
		done -= n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Stored blocks                                                        */

/* Block headers are read a few bytes at a time: stepping over blocks
 * reads nothing else. */
#define HEADER_READ 16

static int next_byte(loose_reader *r, unsigned *out)
{
	if (r->in_pos == r->in_len && fill_up_to(r, HEADER_READ) < 0)
		return -1;
	*out = r->in[r->in_pos++];
	return 0;
}

/* Bytes are taken only as bits are needed: fewer than 8 stay held. */
static int need_bits(loose_reader *r, int n)
{
	while (r->nbits < n) {
		unsigned b;
		if (next_byte(r, &b) < 0)
			return -1;
		r->bits |= (uint32_t)b << r->nbits;
		r->nbits += 8;
	}
	return 0;
}

static void drop_bits(loose_reader *r, int n)
{
	r->bits >>= n;
	r->nbits -= n;
}

/* The zlib wrapper's two bytes: deflate, no preset dictionary. */
static int stored_begin(loose_reader *r)
{
	unsigned cmf, flg;

	if (next_byte(r, &cmf) < 0 || next_byte(r, &flg) < 0)
		return -1;
	if ((cmf & 0x0f) != 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 || (flg & 0x20))
		return NEED_ZLIB;   /* zlib names what is wrong */
	return 0;
}

/* The next block's header: a stored block, or an empty block with fixed
 * codes (the padding blobstream.c writes).  NEED_ZLIB for anything else. */
static int next_block(loose_reader *r)
{
	int type;

	if (need_bits(r, 3) < 0)
		return -1;
	r->last = r->bits & 1;
	type = (r->bits >> 1) & 3;
	drop_bits(r, 3);
	if (type == 1) {
		if (need_bits(r, 7) < 0)
			return -1;
		if (r->bits & 0x7f)
			return NEED_ZLIB;
		drop_bits(r, 7);
		r->left = 0;
		return 0;
	}
	if (type != 0)
		return NEED_ZLIB;
	{
		unsigned b[4];
		drop_bits(r, r->nbits);   /* to the byte boundary */
		for (int i = 0; i < 4; i++)
			if (next_byte(r, &b[i]) < 0)
				return -1;
		if ((b[0] | b[1] << 8) != (~(b[2] | b[3] << 8) & 0xffff))
			return corrupt(r, "invalid stored block lengths");
		r->left = b[0] | b[1] << 8;
	}
	return 0;
}

/* Copy (or skip) up to `*len` bytes; *dst and *len follow the progress. */
static int stored_read(loose_reader *r, char **dst, size_t *len)
{
	while (*len > 0) {
		size_t n, k;
		if (r->left == 0) {
			int rc;
			if (r->last)
				return corrupt(r, "content shorter than its header says");
			if ((rc = next_block(r)) != 0)
				return rc;
			continue;
		}
		n = *len < r->left ? *len : r->left;
		if (r->in_pos < r->in_len) {
			k = r->in_len - r->in_pos < n ? r->in_len - r->in_pos : n;
			if (*dst)
				memcpy(*dst, r->in + r->in_pos, k);
			r->adler = libdeflate_adler32(r->adler, r->in + r->in_pos, k);
			r->in_pos += k;
		} else if (!*dst) {
			/* A later read meets the end of a cut file. */
			k = n;
			r->fpos += k;
			r->adler_known = 0;
		} else if (n >= DIRECT_MIN) {
			/* The payload straight into dst, the next header behind it. */
			struct iovec iov[2] = {{*dst, n}, {r->in, 8}};
			ssize_t got;
			do
				got = preadv(r->fd, iov, 2, (off_t)r->fpos);
			while (got < 0 && errno == EINTR);
			if (got < 0)
				return unreadable(r, errno);
			if (got == 0)
				return corrupt(r, "truncated");
			r->fpos += (uint64_t)got;
			k = (size_t)got < n ? (size_t)got : n;
			r->in_pos = 0;
			r->in_len = (size_t)got - k;
			r->adler = libdeflate_adler32(r->adler, *dst, k);
		} else {
			if (fill(r) < 0)
				return -1;
			continue;
		}
		r->left -= k;
		r->out_pos += k;
		*len -= k;
		if (*dst)
			*dst += k;
	}
	return 0;
}

/* The stream must end after the content: empty blocks up to the final
 * one, then the four bytes of the checksum. */
static int stored_check_end(loose_reader *r)
{
	uint32_t sum = 0;
	unsigned b;
	int rc;

	while (r->left == 0 && !r->last)
		if ((rc = next_block(r)) != 0)
			return rc;
	if (r->left)
		return corrupt(r, "content longer than its header says");
	drop_bits(r, r->nbits);
	for (int i = 0; i < 4; i++) {
		if (next_byte(r, &b) < 0)
			return -1;
		sum = sum << 8 | b;
	}
	if (r->adler_known && sum != r->adler)
		return corrupt(r, "incorrect data check");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Either way                                                          */

static int raw_read(loose_reader *r, char *dst, size_t len)
{
	if (!r->zlib_mode) {
		int rc = stored_read(r, &dst, &len);
		if (rc <= 0)
			return rc;
		if (switch_to_zlib(r) < 0)
			return -1;
	}
	return zlib_read(r, dst, len);
}

/* "blob <size>\0": read one byte at a time, it is tiny. */
static int read_header(loose_reader *r, size_t *size)
{
	char header[HEADER_MAX];
	size_t n = 0;
	char *end;
	unsigned long long value;

	for (;;) {
		if (n == sizeof(header))
			return corrupt(r, "bad header");
		if (raw_read(r, &header[n], 1) < 0)
			return -1;
		if (header[n++] == '\0')
			break;
	}
	if (strncmp(header, "blob ", 5) != 0)
		return gs_error_set(GS_ERR_INVALID, "Not a blob: %s", r->hex);
	errno = 0;
	value = strtoull(header + 5, &end, 10);
	if (errno || *end != '\0' || end == header + 5)
		return corrupt(r, "bad size in header");
	*size = (size_t)value;
	return 0;
}

struct gs_loose {
	loose_reader r;
	int packed;            /* a pack entry: no header in the stream */
	size_t size;
	uint64_t header_len;   /* out_pos where the content starts */
	int failed;
	int read_all;          /* gs_loose_read_all took the rest */
};

/* Take the stream from its start: the wrapper, then a loose object's
 * header, whose size goes to *size. */
static int begin(gs_loose *l, size_t *size)
{
	loose_reader *r = &l->r;
	int begun;

	r->zlib_mode = 0;
	r->out_pos = 0;
	r->in_pos = r->in_len = 0;
	r->fpos = r->start;
	r->bits = 0;
	r->nbits = 0;
	r->left = 0;
	r->last = 0;
	r->adler = 1;
	r->adler_known = 1;
	r->at_end = 0;
	l->failed = 0;
	l->read_all = 0;
	if ((begun = stored_begin(r)) < 0 || (begun == NEED_ZLIB && switch_to_zlib(r) < 0))
		return -1;
	if (!l->packed && read_header(r, size) < 0)
		return -1;
	l->header_len = r->out_pos;
	return 0;
}

static gs_loose *reader_new(int fd, uint64_t start, int packed, const git_oid *id)
{
	gs_loose *l = calloc(1, sizeof(*l));

	if (!l) {
		gs_error_set_os(ENOMEM, "out of memory");
		return NULL;
	}
	l->r.fd = fd;
	l->r.start = start;
	l->r.kind = packed ? "packed object" : "loose object";
	git_oid_tostr(l->r.hex, sizeof(l->r.hex), id);
	l->packed = packed;
	return l;
}

int gs_loose_open(gs_loose **out, int *found, size_t *total, const gs_store *store,
		  const git_oid *id)
{
	char rel[64], hex[GIT_OID_HEXSZ + 1];
	char *path = NULL;
	gs_loose *l;
	int fd;

	*out = NULL;
	*found = 0;
	git_oid_tostr(hex, sizeof(hex), id);
	snprintf(rel, sizeof(rel), "objects/%.2s/%s", hex, hex + 2);
	if (!(path = gs_store_file(store, rel, "")))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = errno == ENOENT ? 0 : gs_error_set_path(errno, path, "cannot open");
		free(path);
		return rc;
	}
	free(path);
	*found = 1;
	if (!(l = reader_new(fd, 0, 0, id))) {
		close(fd);
		return -1;
	}
	if (begin(l, &l->size) < 0) {
		gs_loose_close(l);
		return -1;
	}
	*total = l->size;
	*out = l;
	return 0;
}

int gs_loose_open_packed(gs_loose **out, int fd, uint64_t at, size_t size, const git_oid *id)
{
	gs_loose *l;

	*out = NULL;
	if (!(l = reader_new(fd, at, 1, id))) {
		close(fd);
		return -1;
	}
	l->size = size;
	if (begin(l, NULL) < 0) {
		gs_loose_close(l);
		return -1;
	}
	*out = l;
	return 0;
}

int gs_loose_rewind(gs_loose *l)
{
	size_t size = l->size;

	if (begin(l, &size) < 0) {
		l->failed = 1;
		return -1;
	}
	if (size != l->size) {
		l->failed = 1;
		return gs_error_set(GS_ERR_GIT, "%s %s changed while it was read", l->r.kind,
				    l->r.hex);
	}
	return 0;
}

size_t gs_loose_size(const gs_loose *l)
{
	return l->size;
}

size_t gs_loose_tell(const gs_loose *l)
{
	if (l->failed)
		return SIZE_MAX;
	return l->read_all ? l->size : (size_t)(l->r.out_pos - l->header_len);
}

static int spent(const gs_loose *l)
{
	if (l->failed)
		return gs_error_set(GS_ERR_GIT, "%s %s: read after a failure", l->r.kind, l->r.hex);
	return gs_error_set(GS_ERR_GIT, "%s %s: read past the end", l->r.kind, l->r.hex);
}

int gs_loose_read(gs_loose *l, char *dst, size_t len)
{
	if (l->failed || (l->read_all && len))
		return spent(l);
	if (!len)
		return 0;
	if (raw_read(&l->r, dst, len) < 0) {
		l->failed = 1;
		return -1;
	}
	return 0;
}

static int check_end(gs_loose *l)
{
	if (!l->r.zlib_mode) {
		int rc = stored_check_end(&l->r);
		if (rc <= 0)
			return rc;
		if (switch_to_zlib(&l->r) < 0)
			return -1;
	}
	return zlib_check_end(&l->r);
}

int gs_loose_finish(gs_loose *l)
{
	if (l->failed)
		return spent(l);
	if (l->read_all)
		return 0;
	if (check_end(l) < 0) {
		l->failed = 1;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The whole content in one call                                       */

typedef struct {
	const unsigned char *data;
	size_t len;
} mapped;

static int map_file(mapped *out, const loose_reader *r)
{
	struct stat st;
	void *p;

	if (fstat(r->fd, &st) < 0)
		return unreadable(r, errno);
	if (st.st_size == 0)
		return corrupt(r, "truncated");
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, r->fd, 0);
	if (p == MAP_FAILED)
		return gs_error_set_os(errno, "cannot map %s %s", r->kind, r->hex);
	out->data = p;
	out->len = (size_t)st.st_size;
	return 0;
}

static const char *libdeflate_says(enum libdeflate_result rc)
{
	switch (rc) {
	case LIBDEFLATE_SHORT_OUTPUT:
		return "content shorter than its header says";
	case LIBDEFLATE_INSUFFICIENT_SPACE:
		return "content longer than its header says";
	default:
		return "invalid compressed data";
	}
}

/* The content as a raw deflate stream at file offset `start` (a block
 * boundary), followed by the Adler-32 of everything: `adler` is the sum
 * of the header.  1 when the stream is not one that can be read from
 * there (a back-reference into the header): the caller tries the whole
 * stream. */
static int inflate_content(gs_loose *l, struct libdeflate_decompressor *d, const mapped *m,
			   uint64_t start, uint32_t adler, char *dst)
{
	const unsigned char *tail;
	size_t used;

	if (start > m->len ||
	    libdeflate_deflate_decompress_ex(d, m->data + start, m->len - start, dst, l->size,
					     &used, NULL) != LIBDEFLATE_SUCCESS)
		return 1;
	if (m->len - start - used < 4)
		return 1;
	tail = m->data + start + used;
	if (libdeflate_adler32(adler, dst, l->size) !=
	    ((uint32_t)tail[0] << 24 | (uint32_t)tail[1] << 16 | (uint32_t)tail[2] << 8 | tail[3]))
		return 1;
	return 0;
}

/* The whole zlib stream, header and content, into a buffer of ours (into
 * dst when there is no header); libdeflate checks the Adler-32. */
static int inflate_whole(gs_loose *l, struct libdeflate_decompressor *d, const mapped *m,
			 char *dst)
{
	size_t header_len = (size_t)l->header_len, all;
	uint64_t start = l->r.start;
	enum libdeflate_result rc;
	char *buf;

	if (l->size > SIZE_MAX - header_len)
		return gs_error_set_os(ENOMEM, "out of memory");
	all = header_len + l->size;
	if (!header_len)
		buf = dst;
	else if (!(buf = malloc(all)))
		return gs_error_set_os(ENOMEM, "out of memory");
	rc = start < m->len ? libdeflate_zlib_decompress(d, m->data + start, m->len - start, buf,
							 all, NULL)
			    : LIBDEFLATE_SHORT_OUTPUT;
	if (buf != dst) {
		if (rc == LIBDEFLATE_SUCCESS)
			memcpy(dst, buf + header_len, l->size);
		free(buf);
	}
	return rc == LIBDEFLATE_SUCCESS ? 0 : corrupt(&l->r, libdeflate_says(rc));
}

/* Nothing after the header read yet: stored blocks are copied as
 * gs_loose_read copies them (the Adler-32 summed on the way); the first
 * deflated block hands the whole content to libdeflate. */
static int read_whole(gs_loose *l, char *dst)
{
	loose_reader *r = &l->r;
	struct libdeflate_decompressor *d = NULL;
	mapped m = {NULL, 0};
	uint64_t start = 0;
	uint32_t adler = r->adler;
	int own_block = 0, rc;

	if (!r->zlib_mode) {
		char *at = dst;
		size_t len = l->size;

		/* The content starts a block of its own after blobstream.c's
		 * header block, and at the start of a pack entry's stream. */
		own_block = r->left == 0 && !r->last && r->nbits == 0;
		start = r->fpos - (r->in_len - r->in_pos);
		rc = stored_read(r, &at, &len);
		if (rc == 0)
			rc = stored_check_end(r);
		if (rc <= 0)
			return rc;
	}
	if (!(d = libdeflate_alloc_decompressor()))
		return gs_error_set_os(ENOMEM, "out of memory");
	if ((rc = map_file(&m, r)) == 0) {
		rc = own_block ? inflate_content(l, d, &m, start, adler, dst) : 1;
		if (rc > 0)
			rc = inflate_whole(l, d, &m, dst);
		munmap((void *)m.data, m.len);
	}
	libdeflate_free_decompressor(d);
	return rc;
}

int gs_loose_read_all(gs_loose *l, char *dst)
{
	size_t at = gs_loose_tell(l);

	if (l->failed)
		return spent(l);
	if (l->read_all)
		return 0;
	if (at != 0)
		return gs_loose_read(l, dst, l->size - at) < 0 ? -1 : gs_loose_finish(l);
	if (read_whole(l, dst) < 0) {
		l->failed = 1;
		return -1;
	}
	l->read_all = 1;
	return 0;
}

void gs_loose_close(gs_loose *l)
{
	if (!l)
		return;
	if (l->r.z_ready)
		inflateEnd(&l->r.z);
	close(l->r.fd);
	free(l);
}
