/* sha1.c - SHA-1 for everything gitstore hashes itself: object ids
 * (gs_object_hash and gs_object_hash_begin in txn.c) and the checksums
 * of the packs and indexes we write.  It replaced git_odb_hash for ids
 * because with the CPU's SHA extensions it hashes a 64 MiB blob at
 * 1.4 GB/s where git_odb_hash manages 0.3 GB/s (bench/libgit2_compare.c);
 * the portable code, used without them, manages 0.14 GB/s. */
#include "sha1.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI 1
#endif

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

#ifdef HAVE_SHA_NI
/*
 * The same compression with the CPU's SHA extensions (about ten times
 * faster).  Q[i] holds message words 4i..4i+3; each sha1rnds4 runs four
 * rounds, sha1nexte derives the next E from the previous ABCD.
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void sha1_blocks_ni(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
	__m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
	__m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);

	for (; nblocks--; p += 64) {
		__m128i q[20], saved_abcd = abcd, saved_e = e0, prev, e;
		for (int i = 0; i < 4; i++)
			q[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
		for (int i = 4; i < 20; i++)
			q[i] = _mm_sha1msg2_epu32(
				_mm_xor_si128(_mm_sha1msg1_epu32(q[i - 4], q[i - 3]), q[i - 2]),
				q[i - 1]);
		e = _mm_add_epi32(e0, q[0]);
		prev = abcd;
		abcd = _mm_sha1rnds4_epu32(abcd, e, 0);
		for (int i = 1; i < 5; i++) {
			e = _mm_sha1nexte_epu32(prev, q[i]);
			prev = abcd;
			abcd = _mm_sha1rnds4_epu32(abcd, e, 0);
		}
		for (int i = 5; i < 10; i++) {
			e = _mm_sha1nexte_epu32(prev, q[i]);
			prev = abcd;
			abcd = _mm_sha1rnds4_epu32(abcd, e, 1);
		}
		for (int i = 10; i < 15; i++) {
			e = _mm_sha1nexte_epu32(prev, q[i]);
			prev = abcd;
			abcd = _mm_sha1rnds4_epu32(abcd, e, 2);
		}
		for (int i = 15; i < 20; i++) {
			e = _mm_sha1nexte_epu32(prev, q[i]);
			prev = abcd;
			abcd = _mm_sha1rnds4_epu32(abcd, e, 3);
		}
		e0 = _mm_sha1nexte_epu32(prev, saved_e);
		abcd = _mm_add_epi32(abcd, saved_abcd);
	}
	_mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
	h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static int cpu_has_sha(void)
{
	static int known = -1;
	unsigned int a, b, c, d;

	if (known < 0)
		known = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
			__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9));
	return known;
}
#endif

/* Compress whole 64-byte blocks. */
static void sha1_blocks(gs_sha1 *ctx, const unsigned char *p, size_t nblocks)
{
#ifdef HAVE_SHA_NI
	if (cpu_has_sha()) {
		sha1_blocks_ni(ctx->h, p, nblocks);
		return;
	}
#endif
	for (; nblocks--; p += 64)
		sha1_block(ctx, p);
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
		sha1_blocks(ctx, ctx->block, 1);
		ctx->used = 0;
	}
	sha1_blocks(ctx, p, len / 64);
	p += len / 64 * 64;
	len %= 64;
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
