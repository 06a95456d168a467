/* delta.c - making git's binary deltas.  A delta is the base's size and
 * the target's (little-endian base-128 varints), then operations: a byte
 * with the high bit set copies from the base (the low bits say which
 * offset and size bytes follow), a byte of 1..127 inserts that many
 * literal bytes.  The base is indexed by its aligned 16-byte blocks; the
 * target is hashed at every byte, and a block found is extended both
 * ways as far as the bytes agree. */
#include "gs_internal.h"
#include "delta.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 16
/* Blocks with the same hash tried at one place, at most; a match this
 * long is taken without trying the others. */
#define MAX_PROBES 32
#define GOOD_MATCH 4096
/* One copy operation covers at most 64 KiB (what every reader takes). */
#define MAX_COPY 0x10000
#define MAX_INSERT 127

struct gs_delta_index {
	const unsigned char *base;
	size_t len;
	unsigned bits;      /* the table has 1 << bits heads */
	uint32_t *heads;    /* block + 1 of the last block with that hash; 0: none */
	uint32_t *next;     /* per block: block + 1 of the previous one with its hash */
};

static inline uint32_t hash_block(const unsigned char *p, unsigned bits)
{
	uint64_t a, b;
	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	return (uint32_t)(((a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull) >> (64 - bits));
}

void gs_delta_index_free(gs_delta_index *index)
{
	if (!index)
		return;
	free(index->heads);
	free(index->next);
	free(index);
}

int gs_delta_index_new(gs_delta_index **out, const void *base, size_t len)
{
	gs_delta_index *index;
	size_t blocks = len / BLOCK;

	*out = NULL;
	if (len > GS_DELTA_MAX_BASE)
		return gs_error_set(GS_ERR_INVALID, "delta base too large (%zu bytes)", len);
	if (!(index = calloc(1, sizeof(*index))))
		return gs_error_set_os(ENOMEM, "out of memory");
	index->base = base;
	index->len = len;
	index->bits = 4;
	while (((size_t)1 << index->bits) < blocks)
		index->bits++;
	index->heads = calloc((size_t)1 << index->bits, sizeof(*index->heads));
	index->next = malloc((blocks ? blocks : 1) * sizeof(*index->next));
	if (!index->heads || !index->next) {
		gs_delta_index_free(index);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	for (size_t b = 0; b < blocks; b++) {
		uint32_t h = hash_block(index->base + b * BLOCK, index->bits);
		index->next[b] = index->heads[h];
		index->heads[h] = (uint32_t)b + 1;
	}
	*out = index;
	return 0;
}

static void put_varint(unsigned char **p, size_t v)
{
	while (v >= 0x80) {
		*(*p)++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*(*p)++ = (unsigned char)v;
}

/* Encoding state: ops go to out->data + size, never past limit. */
typedef struct {
	unsigned char *p, *end;
} writer;

static int insert(writer *w, const unsigned char *data, size_t len)
{
	while (len) {
		size_t n = len < MAX_INSERT ? len : MAX_INSERT;
		if ((size_t)(w->end - w->p) < n + 1)
			return -1;
		*w->p++ = (unsigned char)n;
		memcpy(w->p, data, n);
		w->p += n;
		data += n;
		len -= n;
	}
	return 0;
}

static int copy(writer *w, size_t offset, size_t len)
{
	while (len) {
		size_t n = len < MAX_COPY ? len : MAX_COPY;
		unsigned char *op = w->p;
		unsigned char bit = 1;

		if (w->end - w->p < 8)
			return -1;
		*w->p++ = 0x80;
		for (int i = 0; i < 4; i++, bit <<= 1)
			if ((offset >> (8 * i)) & 0xff) {
				*op |= bit;
				*w->p++ = (unsigned char)(offset >> (8 * i));
			}
		for (int i = 0; i < 3; i++, bit <<= 1)
			if ((n >> (8 * i)) & 0xff) {
				*op |= bit;
				*w->p++ = (unsigned char)(n >> (8 * i));
			}
		offset += n;
		len -= n;
	}
	return 0;
}

int gs_delta_make(int *made, gs_buf *out, const gs_delta_index *index, const void *target,
		  size_t len, size_t max_len)
{
	const unsigned char *base = index->base, *t = target;
	size_t i = 0, pending = 0;   /* literal bytes start at pending */
	writer w;

	*made = 0;
	out->size = 0;
	/* Room for max_len, and for the longest op written past it. */
	if (gs_buf_grow(out, max_len + 8 + MAX_INSERT + 1) < 0)
		return -1;
	w.p = (unsigned char *)out->data;
	w.end = w.p + max_len;
	if (max_len < 20)
		return 0;
	put_varint(&w.p, index->len);
	put_varint(&w.p, len);
	while (index->len >= BLOCK && i + BLOCK <= len) {
		uint32_t cand = index->heads[hash_block(t + i, index->bits)];
		size_t best = 0, best_at = 0;

		for (int probes = 0; cand && probes < MAX_PROBES; probes++, cand = index->next[cand - 1]) {
			size_t at = (size_t)(cand - 1) * BLOCK, n = BLOCK;
			if (memcmp(base + at, t + i, BLOCK) != 0)
				continue;
			while (at + n < index->len && i + n < len && base[at + n] == t[i + n])
				n++;
			if (n > best) {
				best = n;
				best_at = at;
				if (n >= GOOD_MATCH)
					break;
			}
		}
		if (!best) {
			i++;
			continue;
		}
		while (best_at > 0 && i > pending && base[best_at - 1] == t[i - 1]) {
			best_at--;
			i--;
			best++;
		}
		if (insert(&w, t + pending, i - pending) < 0 || copy(&w, best_at, best) < 0)
			return 0;
		i += best;
		pending = i;
	}
	if (insert(&w, t + pending, len - pending) < 0)
		return 0;
	out->size = (size_t)(w.p - (unsigned char *)out->data);
	*made = 1;
	return 0;
}
