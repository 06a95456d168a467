/*
 * knownhosts.c - ssh host keys looked up in OpenSSH known_hosts files,
 * by the rules ssh(1) applies (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"),
 * so that a server is accepted exactly when ssh would accept it.
 *
 * The file is untrusted text: it is read a line at a time into a buffer
 * of fixed size, every field is bounded by its line, and matching a
 * line costs at most its length times the host name's.
 */
#include "gs_internal.h"
#include "knownhosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longer lines are judged on their first KH_LINE_MAX bytes when their
 * key ends within them (only the comment was cut), skipped otherwise. */
#define KH_LINE_MAX (64 * 1024)

/* ssh gives up on a line with a host pattern longer than this. */
#define KH_PATTERN_MAX 1022

/* Longest host name looked up (DNS names have at most 253 bytes). */
#define KH_HOST_MAX 255

/* ------------------------------------------------------------------ */
/* Base64                                                              */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode with '=' padding; out holds 4 * ((len + 2) / 3) + 1 bytes.
 * Returns the length written before the NUL. */
static size_t b64_encode(char *out, const unsigned char *in, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode len characters as strictly as ssh does: whole groups of four,
 * '=' only to pad the last one, the bits padding leaves unused zero (so
 * each byte string has one encoding).  out may be in itself: a group's
 * bytes are written where earlier groups were read.  -1 when malformed.
 */
static int b64_decode(unsigned char *out, size_t *out_len, const char *in, size_t len)
{
	size_t o = 0;

	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int last = i + 4 == len;
		int pad = 0, v[4];
		uint32_t bits = 0;

		if (last && in[i + 3] == '=')
			pad = in[i + 2] == '=' ? 2 : 1;
		for (int k = 0; k < 4 - pad; k++) {
			if ((v[k] = b64_value((unsigned char)in[i + k])) < 0)
				return -1;
			bits |= (uint32_t)v[k] << (18 - 6 * k);
		}
		if ((pad == 2 && (bits & 0xffff)) || (pad == 1 && (bits & 0xff)))
			return -1;
		out[o++] = (unsigned char)(bits >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(bits >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)bits;
	}
	*out_len = o;
	return 0;
}

/* ------------------------------------------------------------------ */
/* SHA-256 (fingerprints) and HMAC-SHA1 (hashed host names)            */

typedef struct {
	uint32_t h[8];
	uint64_t length;
	unsigned char block[64];
	size_t used;
} sha256;

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(sha256 *ctx, const unsigned char *p)
{
	uint32_t w[64], s[8];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(s, ctx->h, sizeof(s));
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = s[7] + (ror(s[4], 6) ^ ror(s[4], 11) ^ ror(s[4], 25)) +
			      ((s[4] & s[5]) ^ (~s[4] & s[6])) + sha256_k[i] + w[i];
		uint32_t t2 = (ror(s[0], 2) ^ ror(s[0], 13) ^ ror(s[0], 22)) +
			      ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
		memmove(s + 1, s, 7 * sizeof(s[0]));
		s[4] += t1;
		s[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		ctx->h[i] += s[i];
}

static void sha256_init(sha256 *ctx)
{
	static const uint32_t start[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->h, start, sizeof(start));
	ctx->length = 0;
	ctx->used = 0;
}

static void sha256_update(sha256 *ctx, const unsigned char *p, size_t len)
{
	ctx->length += len;
	while (len) {
		size_t n = 64 - ctx->used < len ? 64 - ctx->used : len;

		memcpy(ctx->block + ctx->used, p, n);
		ctx->used += n;
		p += n;
		len -= n;
		if (ctx->used == 64) {
			sha256_block(ctx, ctx->block);
			ctx->used = 0;
		}
	}
}

static void sha256_final(sha256 *ctx, unsigned char out[32])
{
	uint64_t bits = ctx->length * 8;
	unsigned char tail[72] = {0x80};
	size_t pad = (ctx->used < 56 ? 56 : 120) - ctx->used;

	for (int i = 0; i < 8; i++)
		tail[pad + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(ctx, tail, pad + 8);
	for (int i = 0; i < 32; i++)
		out[i] = (unsigned char)(ctx->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* HMAC-SHA1 with a key of at most one block (a salt of 20 bytes). */
static void hmac_sha1(unsigned char out[20], const unsigned char *key, size_t key_len,
		      const char *msg, size_t msg_len)
{
	unsigned char pad[64], inner[20];
	gs_sha1 ctx;

	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	gs_sha1_init(&ctx);
	gs_sha1_update(&ctx, pad, sizeof(pad));
	gs_sha1_update(&ctx, msg, msg_len);
	gs_sha1_final(&ctx, inner);
	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	gs_sha1_init(&ctx);
	gs_sha1_update(&ctx, pad, sizeof(pad));
	gs_sha1_update(&ctx, inner, sizeof(inner));
	gs_sha1_final(&ctx, out);
}

void gs_hostkey_fingerprint(char *buf, size_t bufsize, const unsigned char *key, size_t key_len)
{
	unsigned char digest[32];
	char text[7 + 44 + 1] = "SHA256:";
	size_t len;
	sha256 ctx;

	if (!bufsize)
		return;
	sha256_init(&ctx);
	sha256_update(&ctx, key, key_len);
	sha256_final(&ctx, digest);
	len = 7 + b64_encode(text + 7, digest, sizeof(digest));
	while (text[len - 1] == '=')
		len--;
	if (len > bufsize - 1)
		len = bufsize - 1;
	memcpy(buf, text, len);
	buf[len] = '\0';
}

/* ------------------------------------------------------------------ */
/* Host names                                                          */

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * Whether a pattern of '*' (any run of bytes) and '?' (one byte) matches
 * the whole of name (already lowercase), ignoring ASCII case.  After a
 * mismatch only the last '*' is retried one byte further on: an earlier
 * '*' can never do better, so the work is at most the product of the
 * lengths, never exponential.
 */
static int wildcard_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
	size_t p = 0, n = 0, star = SIZE_MAX, resume = 0;

	while (n < nlen) {
		if (p < plen && pat[p] == '*') {
			star = p++;
			resume = n;
		} else if (p < plen && (pat[p] == '?' || lower((unsigned char)pat[p]) ==
					(unsigned char)name[n])) {
			p++;
			n++;
		} else if (star != SIZE_MAX) {
			p = star + 1;
			n = ++resume;
		} else {
			return 0;
		}
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

/* Whether the comma-separated patterns name the host: one matches and
 * no negated one ("!pattern") does. */
static int patterns_match(const char *list, size_t len, const char *name, size_t nlen)
{
	int positive = 0;
	size_t i = 0;

	while (i < len) {
		int negated = list[i] == '!';
		const char *sub, *comma;
		size_t sublen;

		if (negated)
			i++;
		sub = list + i;
		comma = memchr(sub, ',', len - i);
		sublen = comma ? (size_t)(comma - sub) : len - i;
		if (sublen > KH_PATTERN_MAX)
			return 0;
		i += sublen;
		if (i < len)
			i++;
		if (wildcard_match(sub, sublen, name, nlen)) {
			if (negated)
				return 0;
			positive = 1;
		}
	}
	return positive;
}

/* Whether a hashed name, "|1|" base64(salt) "|" base64(HMAC-SHA1(salt,
 * name)), is the host's. */
static int hashed_match(const char *field, size_t len, const char *name, size_t nlen)
{
	unsigned char salt[28], mac[20];
	char expect[28 + 1];
	size_t salt_len;

	/* both parts encode 20 bytes: 28 characters each */
	if (len != 3 + 28 + 1 + 28 || memcmp(field, "|1|", 3) || field[3 + 28] != '|')
		return 0;
	if (b64_decode(salt, &salt_len, field + 3, 28) < 0 || salt_len != 20)
		return 0;
	hmac_sha1(mac, salt, salt_len, name, nlen);
	b64_encode(expect, mac, sizeof(mac));
	return memcmp(field + 3 + 28 + 1, expect, 28) == 0;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */

/* What the lines say about one name of the host. */
typedef struct {
	char name[1 + KH_HOST_MAX + sizeof("]:65535")];   /* as lines name it */
	size_t len;
	int named, matched, revoked;
} host_name;

typedef struct {
	host_name names[2];   /* "host", or "[host]:port" and then "host" */
	size_t count;
	const unsigned char *key;
	size_t key_len;
} lookup;

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_blanks(char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

static char *field_end(char *p, const char *end)
{
	while (p < end && !is_blank(*p))
		p++;
	return p;
}

static int field_is(const char *p, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(p, word, len) == 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Whether a key blob is well formed and of the type `type`: public key
 * blobs (rsa, dsa, ecdsa, ed25519, security keys) are SSH strings, their
 * type first, that fill them exactly; a cut or padded blob is malformed.
 */
static int blob_valid(const unsigned char *blob, size_t len, const char *type, size_t type_len)
{
	size_t at = 0;

	if (len < 4 || be32(blob) != type_len || len - 4 < type_len ||
	    memcmp(blob + 4, type, type_len) != 0)
		return 0;
	while (at < len) {
		if (len - at < 4 || be32(blob + at) > len - at - 4)
			return 0;
		at += 4 + be32(blob + at);
	}
	return 1;
}

/*
 * Judge one line (without its newline; decoded in place):
 *   [@revoked|@cert-authority] hosts keytype base64-key [comment]
 * `cut` says the line went on past its end.  Lines that name none of
 * the host's names, or are malformed, leave the lookup as it was.
 */
static void check_line(lookup *l, char *line, size_t len, int cut)
{
	char *end = line + len, *p, *hosts, *type, *blob;
	size_t hosts_len, type_len, blob_len;
	int revoked = 0, named[2] = {0, 0}, any = 0, same;

	if (!cut && len && line[len - 1] == '\r')
		end--;
	p = skip_blanks(line, end);
	if (p == end || *p == '#')
		return;
	if (*p == '@') {
		char *marker = p;

		p = field_end(p, end);
		if (field_is(marker, (size_t)(p - marker), "@revoked"))
			revoked = 1;
		else
			return;   /* @cert-authority (no certificates here), or unknown */
		p = skip_blanks(p, end);
		if (p < end && *p == '@')
			return;   /* one marker at most */
	}

	hosts = p;
	p = field_end(p, end);
	hosts_len = (size_t)(p - hosts);
	if (p == end)
		return;   /* no key */
	for (size_t i = 0; i < l->count; i++) {
		const host_name *n = &l->names[i];

		named[i] = *hosts == '|' ? hashed_match(hosts, hosts_len, n->name, n->len)
					 : patterns_match(hosts, hosts_len, n->name, n->len);
		any |= named[i];
	}
	if (!any)
		return;

	type = skip_blanks(p, end);
	p = field_end(type, end);
	type_len = (size_t)(p - type);
	if (p == end || *type == '#')
		return;
	blob = skip_blanks(p, end);
	p = field_end(blob, end);
	if (p == blob || (p == end && cut))
		return;
	if (b64_decode((unsigned char *)blob, &blob_len, blob, (size_t)(p - blob)) < 0 ||
	    !blob_valid((unsigned char *)blob, blob_len, type, type_len))
		return;

	same = blob_len == l->key_len && memcmp(blob, l->key, blob_len) == 0;
	for (size_t i = 0; i < l->count; i++) {
		host_name *n = &l->names[i];

		if (!named[i])
			continue;
		if (revoked) {
			n->revoked |= same;
		} else {
			n->named = 1;
			n->matched |= same;
		}
	}
}

typedef struct {
	int fd;
	const char *path;
	char *buf;          /* KH_LINE_MAX bytes */
	size_t start, end;  /* what is read and not yet returned */
	size_t scanned;     /* bytes from start known to hold no newline */
	int eof;
	int skipping;       /* the rest of a cut line is still to come */
} line_reader;

static int fill(line_reader *r)
{
	ssize_t got;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	while ((got = read(r->fd, r->buf + r->end, KH_LINE_MAX - r->end)) < 0) {
		if (errno != EINTR)
			return gs_error_set_path(errno, r->path, "cannot read");
	}
	if (got == 0)
		r->eof = 1;
	r->end += (size_t)got;
	return 0;
}

/*
 * The next line, without its newline: 1, or 0 at the end of the file.
 * A line longer than the buffer comes back cut (*cut set) to its first
 * KH_LINE_MAX bytes, and its rest is read past.  A NUL ends a line's
 * text, as it does for ssh.
 */
static int next_line(char **line, size_t *len, int *cut, line_reader *r)
{
	char *nl;

	*cut = 0;
	for (;;) {
		nl = memchr(r->buf + r->start + r->scanned, '\n', r->end - r->start - r->scanned);
		if (nl && r->skipping) {
			r->start = (size_t)(nl + 1 - r->buf);
			r->scanned = 0;
			r->skipping = 0;
			continue;
		}
		if (nl || (r->eof && r->start < r->end && !r->skipping)) {
			*line = r->buf + r->start;
			*len = nl ? (size_t)(nl - *line) : r->end - r->start;
			r->start += *len + (nl != NULL);
			r->scanned = 0;
			break;
		}
		if (r->eof)
			return 0;
		if (r->skipping) {
			r->start = r->end;
		} else if (r->start == 0 && r->end == KH_LINE_MAX) {
			*line = r->buf;
			*len = KH_LINE_MAX;
			*cut = 1;
			r->start = r->end;
			r->scanned = 0;
			r->skipping = 1;
			break;
		}
		r->scanned = r->end - r->start;
		if (fill(r) < 0)
			return -1;
	}
	if ((nl = memchr(*line, '\0', *len)) != NULL) {
		*len = (size_t)(nl - *line);
		*cut = 0;
	}
	return 1;
}

/* ssh looks a host up by its lowercase name, on another port than 22
 * as "[host]:port". */
static void set_name(host_name *n, const char *host, size_t host_len, int port)
{
	size_t at = 0;

	if (port)
		n->name[at++] = '[';
	for (size_t i = 0; i < host_len; i++)
		n->name[at++] = (char)lower((unsigned char)host[i]);
	if (port)
		at += (size_t)snprintf(n->name + at, sizeof(n->name) - at, "]:%d", port);
	n->len = at;
}

static gs_hostkey_status verdict(const host_name *n)
{
	if (n->revoked)
		return GS_HOSTKEY_REVOKED;
	if (n->matched)
		return GS_HOSTKEY_MATCH;
	return n->named ? GS_HOSTKEY_CHANGED : GS_HOSTKEY_UNKNOWN;
}

int gs_known_hosts_check(gs_hostkey_status *out, const char *path, const char *host,
			 int port, const unsigned char *key, size_t key_len)
{
	size_t host_len = strlen(host);
	line_reader r = {.fd = -1, .path = path};
	lookup l = {.key = key, .key_len = key_len};
	int rc = -1, got, cut;
	char *line;
	size_t len;

	*out = GS_HOSTKEY_UNKNOWN;
	if (host_len == 0 || host_len > KH_HOST_MAX)
		return gs_error_set(GS_ERR_INVALID, "bad ssh host name (%zu bytes)", host_len);
	if (port < 0 || port > 65535)
		return gs_error_set(GS_ERR_INVALID, "bad ssh port %d", port);
	if (key_len < 4 || be32(key) == 0 || be32(key) > key_len - 4)
		return gs_error_set(GS_ERR_INVALID, "malformed ssh host key");
	if (port == 0 || port == 22) {
		set_name(&l.names[0], host, host_len, 0);
		l.count = 1;
	} else {
		set_name(&l.names[0], host, host_len, port);
		set_name(&l.names[1], host, host_len, 0);
		l.count = 2;
	}

	if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return gs_error_set_path(errno, path, "cannot open");
	}
	if (!(r.buf = malloc(KH_LINE_MAX))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	while (!l.names[0].revoked && (got = next_line(&line, &len, &cut, &r)) != 0) {
		if (got < 0)
			goto done;
		check_line(&l, line, len, cut);
	}
	*out = verdict(&l.names[0]);
	/* As ssh does, a port no line names falls back on the host's bare
	 * name, but only to accept the key there (or to refuse a revoked one):
	 * a server on another port may share the host's keys, or not. */
	if (*out == GS_HOSTKEY_UNKNOWN && l.count == 2 &&
	    verdict(&l.names[1]) != GS_HOSTKEY_CHANGED)
		*out = verdict(&l.names[1]);
	rc = 0;
done:
	free(r.buf);
	close(r.fd);
	return rc;
}
