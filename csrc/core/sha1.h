/* sha1.h - a small SHA-1 for object ids and pack and index checksums. */
#ifndef GS_SHA1_H
#define GS_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[5];
	uint64_t length;
	unsigned char block[64];
	size_t used;
} gs_sha1;

void gs_sha1_init(gs_sha1 *ctx);
void gs_sha1_update(gs_sha1 *ctx, const void *data, size_t len);
void gs_sha1_final(gs_sha1 *ctx, unsigned char out[20]);

#endif
