/*
 * diskglob.c - glob expansion on the local disk (spec 30, section 15).
 *
 * The pattern is cut into '/'-separated segments and the walk follows
 * them one directory level at a time:
 *   - a segment with '*' or '?' lists the directory and keeps the names
 *     it matches (gs_fnmatch; a dot name only for a segment starting
 *     with '.');
 *   - "**" stands for zero or more directory levels: the rest of the
 *     pattern is tried at this level, then in every non-dot directory
 *     below (symlinks followed); as the last segment it yields every
 *     non-dot entry at this level and below;
 *   - any other segment is a literal, only checked for existence at the
 *     end of the pattern.
 * Paths keep the spelling of the pattern ("./", "/./", absolute).
 *
 * Following symlinks under "**" could loop forever, so the walk keeps
 * the device and inode of the directories on its current chain and
 * never enters one of them again.
 */
#include "gs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
	dev_t dev;
	ino_t ino;
} dg_key;

typedef struct {
	gs_strlist *out;
	char **segs;
	size_t nsegs;
	gs_buf path;          /* the path being visited */
	dg_key *chain;        /* directories entered by "**", outermost first */
	size_t depth, cap;
} dg_ctx;

static int dg_walk(dg_ctx *ctx, size_t seg);

/* Append `name` to the path the way os.path.join does; *mark receives the
 * old length so that the caller can put the path back. */
static int path_join(dg_ctx *ctx, size_t *mark, const char *name)
{
	gs_buf *p = &ctx->path;

	*mark = p->size;
	if (p->size && p->data[p->size - 1] != '/' && gs_buf_put(p, "/", 1) < 0)
		return -1;
	return gs_buf_puts(p, name);
}

static void path_restore(dg_ctx *ctx, size_t mark)
{
	ctx->path.size = mark;
	if (ctx->path.data)
		ctx->path.data[mark] = '\0';
}

static const char *scan_dir(dg_ctx *ctx)
{
	return ctx->path.size ? ctx->path.data : ".";
}

/*
 * The names in the directory being visited (without "." and ".."), and
 * its identity.  *ok = 0 when it cannot be listed: a missing, unreadable
 * or non-directory level contributes nothing.
 */
static int list_dir(gs_strlist *names, dg_key *key, int *ok, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	struct stat st;
	int rc = -1;

	*ok = 0;
	if (!d)
		return 0;
	if (key) {
		if (fstat(dirfd(d), &st) < 0) {
			rc = 0;
			goto done;
		}
		key->dev = st.st_dev;
		key->ino = st.st_ino;
	}
	while ((ent = readdir(d)) != NULL) {
		const char *n = ent->d_name;

		if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
			continue;
		if (gs_strlist_push(names, n) < 0)
			goto done;
	}
	*ok = 1;
	rc = 0;
done:
	closedir(d);
	return rc;
}

static int is_wild(const char *seg)
{
	return strpbrk(seg, "*?") != NULL;
}

static int is_globstar(const char *seg)
{
	return seg[0] == '*' && seg[1] == '*' && seg[2] == '\0';
}

static int emit_path(dg_ctx *ctx)
{
	return gs_strlist_push_len(ctx->out, ctx->path.data ? ctx->path.data : "",
				   ctx->path.size);
}

static int on_chain(const dg_ctx *ctx, const struct stat *st)
{
	for (size_t i = 0; i < ctx->depth; i++)
		if (ctx->chain[i].dev == st->st_dev && ctx->chain[i].ino == st->st_ino)
			return 1;
	return 0;
}

static int chain_push(dg_ctx *ctx, const dg_key *key)
{
	if (ctx->depth == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 16;
		dg_key *chain = realloc(ctx->chain, cap * sizeof(*chain));

		if (!chain)
			return gs_error_set_os(ENOMEM, "out of memory");
		ctx->chain = chain;
		ctx->cap = cap;
	}
	ctx->chain[ctx->depth++] = *key;
	return 0;
}

/* "**" at segment `seg`, visiting the current path. */
static int walk_globstar(dg_ctx *ctx, size_t seg)
{
	gs_strlist names = {0};
	dg_key key;
	size_t i, mark;
	int ok, pushed = 0, rc = -1;
	int last = seg + 1 == ctx->nsegs;

	if (list_dir(&names, &key, &ok, scan_dir(ctx)) < 0)
		goto done;
	if (!ok) {
		rc = 0;
		goto done;
	}
	if (chain_push(ctx, &key) < 0)
		goto done;
	pushed = 1;

	/* Zero levels: the rest of the pattern here, or every entry. */
	if (!last) {
		if (dg_walk(ctx, seg + 1) < 0)
			goto done;
	} else {
		for (i = 0; i < names.count; i++) {
			if (names.items[i][0] == '.')
				continue;
			if (path_join(ctx, &mark, names.items[i]) < 0 || emit_path(ctx) < 0)
				goto done;
			path_restore(ctx, mark);
		}
	}

	/* One level more: every non-dot directory not already on the chain. */
	for (i = 0; i < names.count; i++) {
		struct stat st;

		if (names.items[i][0] == '.')
			continue;
		if (path_join(ctx, &mark, names.items[i]) < 0)
			goto done;
		if (stat(ctx->path.data, &st) == 0 && S_ISDIR(st.st_mode) && !on_chain(ctx, &st) &&
		    walk_globstar(ctx, seg) < 0)
			goto done;
		path_restore(ctx, mark);
	}
	rc = 0;
done:
	if (pushed)
		ctx->depth--;
	gs_strlist_free(&names);
	return rc;
}

/* A segment with '*' or '?'. */
static int walk_wild(dg_ctx *ctx, size_t seg)
{
	gs_strlist names = {0};
	const char *pat = ctx->segs[seg];
	int last = seg + 1 == ctx->nsegs, ok, rc = -1;
	size_t mark;

	if (list_dir(&names, NULL, &ok, scan_dir(ctx)) < 0)
		goto done;
	for (size_t i = 0; ok && i < names.count; i++) {
		const char *name = names.items[i];

		if (name[0] == '.' && pat[0] != '.')
			continue;
		if (!gs_fnmatch(pat, name))
			continue;
		if (path_join(ctx, &mark, name) < 0)
			goto done;
		if (last ? emit_path(ctx) < 0 : dg_walk(ctx, seg + 1) < 0)
			goto done;
		path_restore(ctx, mark);
	}
	rc = 0;
done:
	gs_strlist_free(&names);
	return rc;
}

static int dg_walk(dg_ctx *ctx, size_t seg)
{
	const char *s = ctx->segs[seg];
	size_t mark;
	int rc;

	if (is_globstar(s))
		return walk_globstar(ctx, seg);
	if (is_wild(s))
		return walk_wild(ctx, seg);
	/* A literal: only the last one is checked, for existence. */
	if (path_join(ctx, &mark, s) < 0)
		return -1;
	if (seg + 1 < ctx->nsegs) {
		rc = dg_walk(ctx, seg + 1);
	} else {
		struct stat st;

		rc = 0;
		if (ctx->path.size && stat(ctx->path.data, &st) == 0)
			rc = emit_path(ctx);
	}
	path_restore(ctx, mark);
	return rc;
}

int gs_disk_glob(gs_strlist *out, const char *pattern)
{
	dg_ctx ctx;
	char *pat = NULL, *rest, *p;
	size_t len = strlen(pattern), n;
	int rc = -1;

	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	/* Trailing '/' first, then '\\' counts as a separator too. */
	while (len > 0 && pattern[len - 1] == '/')
		len--;
	if (len == 0)
		return 0;
	if (!(pat = malloc(len + 1)))
		return gs_error_set_os(ENOMEM, "out of memory");
	memcpy(pat, pattern, len);
	pat[len] = '\0';
	for (p = pat; *p; p++)
		if (*p == '\\')
			*p = '/';

	rest = pat;
	if (pat[0] == '/') {
		while (*rest == '/')
			rest++;
		if (!*rest) {
			rc = 0;
			goto done;
		}
		if (gs_buf_puts(&ctx.path, "/") < 0)
			goto done;
	}
	for (n = 1, p = rest; *p; p++)
		n += *p == '/';
	if (!(ctx.segs = malloc(n * sizeof(*ctx.segs)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	ctx.segs[ctx.nsegs++] = rest;
	for (p = rest; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			ctx.segs[ctx.nsegs++] = p + 1;
		}
	}
	rc = dg_walk(&ctx, 0);
	if (rc == 0)
		gs_strlist_sort(out);
done:
	free(ctx.segs);
	free(ctx.chain);
	gs_buf_free(&ctx.path);
	free(pat);
	return rc;
}
