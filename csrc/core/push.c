/*
 * push.c - the push itself, in git's receive-pack protocol, over the
 * connection libgit2 opened (git://, ssh, http(s)).
 *
 * libgit2 builds the pack it pushes with a delta search over every
 * object and deflates them again one by one; a backup of a few thousand
 * small files spent most of its time there and took twice what
 * `git push --mirror` takes.  Here the pack is gitstore's own
 * (objcopy.c), written straight to the connection, and what the
 * server already has (its refs' commits and their snapshots) is left
 * out.  libgit2 still does the connecting, authentication, host-key and
 * certificate checks, and the ref listing.
 */
#include "gs_internal.h"
#include "objcopy.h"
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* pkt-lines                                                           */

typedef struct {
	git_smart_subtransport_stream *stream;
	gs_transfer *transfer;
	char buf[65536];
	size_t start, end;
} pkt_reader;

static int fill(pkt_reader *r, size_t need)
{
	if (r->end - r->start >= need)
		return 0;
	memmove(r->buf, r->buf + r->start, r->end - r->start);
	r->end -= r->start;
	r->start = 0;
	while (r->end < need) {
		size_t got = 0;
		int rc = r->stream->read(r->stream, r->buf + r->end, sizeof(r->buf) - r->end, &got);
		if (rc < 0)
			return gs_transfer_fail(r->transfer, rc);
		if (got == 0)
			return gs_error_set(GS_ERR_GIT, "%s: the server hung up during the push",
					    r->transfer->display);
		r->end += got;
	}
	return 0;
}

/* The next pkt-line: *len 0 with *flush for "0000". */
static int read_pkt(const char **data, size_t *len, int *flush, pkt_reader *r)
{
	unsigned n = 0;

	if (fill(r, 4) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = r->buf[r->start + i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return gs_error_set(GS_ERR_GIT, "%s: the server sent a malformed reply",
					    r->transfer->display);
		n = n * 16 + (unsigned)v;
	}
	*flush = n == 0;
	if (n == 0 || n == 1 || n == 2) {   /* flush, delim, response-end */
		r->start += 4;
		*data = NULL;
		*len = 0;
		return 0;
	}
	if (n < 4 || fill(r, n) < 0)
		return n < 4 ? gs_error_set(GS_ERR_GIT, "%s: the server sent a malformed reply",
					    r->transfer->display) : -1;
	*data = r->buf + r->start + 4;
	*len = n - 4;
	r->start += n;
	return 0;
}

static int put_pkt(gs_buf *out, const char *data, size_t len)
{
	char head[5];

	if (len + 4 > 65520)
		return gs_error_set(GS_ERR_INVALID, "a ref name is too long to push");
	snprintf(head, sizeof(head), "%04zx", len + 4);
	return gs_buf_put(out, head, 4) < 0 || gs_buf_put(out, data, len) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* What the server can do                                               */

/* The capabilities on the advertisement's first ref line. */
static int server_capabilities(char **out, const gs_buf *advert)
{
	size_t pos = 0;

	*out = NULL;
	while (pos + 4 <= advert->size) {
		unsigned n = 0;
		const char *line;
		for (int i = 0; i < 4; i++) {
			char c = advert->data[pos + i];
			int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (v < 0)
				return 0;
			n = n * 16 + (unsigned)v;
		}
		if (n < 4) {
			pos += 4;
			continue;
		}
		if (pos + n > advert->size)
			return 0;
		line = advert->data + pos + 4;
		if (!(n - 4 >= 10 && memcmp(line, "# service=", 10) == 0)) {
			const char *nul = memchr(line, '\0', n - 4);
			size_t caps_len;
			if (!nul)
				return 0;
			caps_len = (size_t)(line + n - 4 - (nul + 1));
			if (caps_len && nul[caps_len] == '\n')
				caps_len--;
			if (!(*out = strndup(nul + 1, caps_len)))
				return gs_error_set(GS_ERR_NOMEM, "out of memory");
			return 0;
		}
		pos += n;
	}
	return 0;
}

static int has_capability(const char *caps, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = caps; p && *p;) {
		const char *end = strchr(p, ' ');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == len && memcmp(p, name, len) == 0)
			return 1;
		p = end ? end + 1 : p + n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The reply                                                            */

/* What report-status said: "unpack ok", then "ok <ref>" or "ng <ref>
 * <why>" for every command. */
typedef struct {
	int unpacked;
	size_t answered;
} push_report;

static int check_report(gs_transfer *t, push_report *report, const char *line, size_t len)
{
	while (len && line[len - 1] == '\n')
		len--;
	if (len >= 7 && memcmp(line, "unpack ", 7) == 0) {
		if (len == 9 && memcmp(line + 7, "ok", 2) == 0) {
			report->unpacked = 1;
			return 0;
		}
		return gs_error_set(GS_ERR_GIT, "%s: the remote could not store the objects: %.*s",
				    t->display, (int)(len - 7), line + 7);
	}
	if (len >= 3 && memcmp(line, "ok ", 3) == 0) {
		report->answered++;
	} else if (len >= 3 && memcmp(line, "ng ", 3) == 0) {
		report->answered++;
		if ((t->rejected.size && gs_buf_puts(&t->rejected, ", ") < 0) ||
		    gs_buf_put(&t->rejected, line + 3, len - 3) < 0)
			return -1;
	}
	return 0;
}

/* A report larger than this is not one. */
#define REPORT_LIMIT (1u << 20)

static int read_reply(pkt_reader *r, int sideband, size_t commands)
{
	push_report result = {0, 0};
	gs_buf report = {0};
	const char *data = NULL;
	size_t len = 0;
	int flush = 0, rc = -1;

	for (;;) {
		if (read_pkt(&data, &len, &flush, r) < 0)
			goto done;
		if (flush)
			break;
		if (!sideband) {
			if (check_report(r->transfer, &result, data, len) < 0)
				goto done;
			continue;
		}
		if (len < 1)
			continue;
		if (data[0] == 1) {
			if (report.size + len > REPORT_LIMIT) {
				gs_error_set(GS_ERR_GIT, "%s: the server's reply is too long",
					     r->transfer->display);
				goto done;
			}
			if (gs_buf_put(&report, data + 1, len - 1) < 0)
				goto done;
		} else if (data[0] == 2) {
			if (gs_transfer_say_len(r->transfer, data + 1, len - 1) < 0)
				goto done;
		} else if (data[0] == 3) {
			gs_error_set(GS_ERR_GIT, "%s: %.*s", r->transfer->display, (int)(len - 1),
				     data + 1);
			goto done;
		}
	}
	/* The report rode on band 1 as pkt-lines of its own. */
	for (size_t pos = 0; pos + 4 <= report.size;) {
		unsigned n;
		char head[5] = {0};
		memcpy(head, report.data + pos, 4);
		n = (unsigned)strtoul(head, NULL, 16);
		if (n < 4) {
			pos += 4;
			continue;
		}
		if (pos + n > report.size)
			break;
		if (check_report(r->transfer, &result, report.data + pos + 4, n - 4) < 0)
			goto done;
		pos += n;
	}
	if (!result.unpacked || result.answered < commands) {
		gs_error_set(GS_ERR_GIT, "%s: the server did not report on the push",
			     r->transfer->display);
		goto done;
	}
	rc = 0;
done:
	gs_buf_free(&report);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The push                                                             */

static int stream_sink(void *ctx, const void *data, size_t len)
{
	pkt_reader *r = ctx;
	int rc = r->stream->write(r->stream, data, len);
	return rc < 0 ? gs_transfer_fail(r->transfer, rc) : 0;
}

int gs_push(gs_transfer *t, git_repository *repo, const gs_ref_change *changes, size_t count,
	    const git_oid *present, size_t present_count)
{
	pkt_reader *r = NULL;
	gs_buf request = {0};
	git_oid *tips = NULL;
	char *caps = NULL, zero[GIT_OID_HEXSZ + 1];
	size_t ntips = 0, written;
	int rc = -1, report, sideband, deletes = 0, owned = 0;

	if (!count)
		return 0;
	memset(zero, '0', GIT_OID_HEXSZ);
	zero[GIT_OID_HEXSZ] = '\0';
	if (server_capabilities(&caps, &t->advertisement) < 0)
		goto done;
	report = has_capability(caps, "report-status");
	sideband = has_capability(caps, "side-band-64k");
	if (!report) {
		/* Without a report nothing would tell a refused push. */
		gs_error_set(GS_ERR_GIT, "%s: the server does not report on pushes "
			     "(report-status); git older than 1.6 cannot be pushed to", t->display);
		goto done;
	}
	if (!(r = calloc(1, sizeof(*r))) || !(tips = malloc(count * sizeof(*tips)))) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < count; i++) {
		const gs_ref_change *c = &changes[i];
		char line[2 * GIT_OID_HEXSZ + 512 + 128];
		char old_hex[GIT_OID_HEXSZ + 1], new_hex[GIT_OID_HEXSZ + 1];
		int n;

		git_oid_tostr(old_hex, sizeof(old_hex), &c->old_id);
		git_oid_tostr(new_hex, sizeof(new_hex), &c->new_id);
		if (c->has_new)
			git_oid_cpy(&tips[ntips++], &c->new_id);
		else
			deletes = 1;
		if (strlen(c->ref) > 512) {
			gs_error_set(GS_ERR_INVALID, "%s: ref name too long to push", c->ref);
			goto done;
		}
		n = snprintf(line, sizeof(line), "%s %s %s", c->has_old ? old_hex : zero,
			     c->has_new ? new_hex : zero, c->ref);
		if (i == 0)
			/* Our capabilities ride after a NUL on the first command;
			 * atomic: the server moves all the refs or none. */
			n += snprintf(line + n + 1, sizeof(line) - (size_t)n - 1, "%s%s%sagent=gitstore",
				      "report-status ",
				      sideband ? "side-band-64k " : "",
				      has_capability(caps, "atomic") ? "atomic " : "") + 1;
		if (put_pkt(&request, line, (size_t)n) < 0)
			goto done;
	}
	if (deletes && !has_capability(caps, "delete-refs")) {
		gs_error_set(GS_ERR_GIT, "%s: the server does not allow deleting refs", t->display);
		goto done;
	}
	if (gs_buf_put(&request, "0000", 4) < 0)
		goto done;
	r->transfer = t;
	if (gs_transfer_push_stream(&r->stream, &owned, t) < 0 ||
	    stream_sink(r, request.data, request.size) < 0)
		goto done;
	/* Deletions alone send no pack. */
	if (ntips && gs_objects_send(&written, repo, tips, ntips, present, present_count,
				     stream_sink, r, t->progress, t->progress_ctx) < 0)
		goto done;
	if (read_reply(r, sideband, count) < 0)
		goto done;
	if (t->rejected.size) {
		gs_error_set(GS_ERR_GIT, "%s: the remote refused to update %.*s", t->display,
			     (int)t->rejected.size, t->rejected.data);
		goto done;
	}
	rc = 0;
done:
	if (owned)
		r->stream->free(r->stream);
	free(caps);
	free(tips);
	free(r);
	gs_buf_free(&request);
	return rc;
}
