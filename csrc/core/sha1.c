/* sha1.c - SHA-1 (FIPS 180-4), for the checksums of the pack and index
 * files we write; object ids themselves come from git_odb_hash. */
#include "sha1.h"

#include <string.h>

static uint32_t rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(gs_sha1 *ctx, const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = ctx->h[0];
	b = ctx->h[1];
	c = ctx->h[2];
	d = ctx->h[3];
	e = ctx->h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	ctx->h[0] += a;
	ctx->h[1] += b;
	ctx->h[2] += c;
	ctx->h[3] += d;
	ctx->h[4] += e;
}

void gs_sha1_init(gs_sha1 *ctx)
{
	static const uint32_t start[5] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	memcpy(ctx->h, start, sizeof(start));
	ctx->length = 0;
	ctx->used = 0;
}

void gs_sha1_update(gs_sha1 *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;

	ctx->length += len;
	if (ctx->used) {
		size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
		memcpy(ctx->block + ctx->used, p, take);
		ctx->used += take;
		p += take;
		len -= take;
		if (ctx->used < 64)
			return;
		sha1_block(ctx, ctx->block);
		ctx->used = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha1_block(ctx, p);
	memcpy(ctx->block, p, len);
	ctx->used = len;
}

void gs_sha1_final(gs_sha1 *ctx, unsigned char out[20])
{
	uint64_t bits = ctx->length * 8;
	unsigned char pad[72] = {0x80};
	size_t padlen = ctx->used < 56 ? 56 - ctx->used : 120 - ctx->used;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	gs_sha1_update(ctx, pad, padlen + 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(ctx->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)ctx->h[i];
	}
}
