/*
 * diskglob.c - glob expansion on the local disk.
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
 * Each way of splitting the levels among the "**" segments reports its
 * match once more ("**" then "**" reports a file two levels down three
 * times).  Following each such route on its own is exponential in the
 * depth, so the walk visits every path once, carrying for each segment
 * index the number of routes that reach the path there, and reports a
 * match as many times as routes end on it.
 *
 * Following symlinks under "**" could loop forever, so a "**" never
 * descends into a directory (by device and inode) that a "**" is
 * already walking higher up the current path.
 */
#include "gs_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
	dev_t dev;
	ino_t ino;
} dg_key;

/* Past this many repeated reports of matches the walk gives up: repeated
 * "**" segments make the count grow as a binomial in the depth. */
#define DG_MAX_REPEATS ((uint64_t)1 << 22)

enum { SEG_LITERAL, SEG_WILD, SEG_GLOBSTAR };

typedef struct {
	gs_strlist *out;
	char **segs;
	unsigned char *kind;  /* per segment: SEG_LITERAL, SEG_WILD or SEG_GLOBSTAR */
	size_t nsegs;
	gs_buf path;          /* the path being visited */
	dg_key *chain;        /* directories a "**" is walking, outermost first */
	size_t depth, cap;
	uint64_t repeats;     /* reports beyond the first of each match */
} dg_ctx;

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
	if (fstat(dirfd(d), &st) < 0) {
		rc = 0;
		goto done;
	}
	key->dev = st.st_dev;
	key->ino = st.st_ino;
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

/* Report the current path `times` times. */
static int emit_path(dg_ctx *ctx, uint64_t times)
{
	if (times > 1) {
		ctx->repeats += times - 1;
		if (times - 1 > DG_MAX_REPEATS || ctx->repeats > DG_MAX_REPEATS)
			return gs_error_set(GS_ERR_INVALID,
					    "disk_glob: the pattern repeats its matches more than "
					    "%llu times (repeated '**' segments)",
					    (unsigned long long)DG_MAX_REPEATS);
	}
	for (uint64_t i = 0; i < times; i++)
		if (gs_strlist_push_len(ctx->out, ctx->path.data ? ctx->path.data : "",
					ctx->path.size) < 0)
			return -1;
	return 0;
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

/* a += b, failing rather than wrapping around. */
static int count_add(uint64_t *a, uint64_t b)
{
	if (*a > UINT64_MAX - b)
		return gs_error_set(GS_ERR_INVALID,
				    "disk_glob: the pattern repeats its matches too often "
				    "(repeated '**' segments)");
	*a += b;
	return 0;
}

static int dg_visit(dg_ctx *ctx, const uint64_t *at);

/*
 * What the routes in `here` (their counts per segment index, "**"
 * zero-level moves included) do with the child `name` of the current
 * path: how many report it (`lit` of them only if it exists) and where
 * they arrive in it (`next`).  Only literal segments count for a name
 * that was not `listed`; the globstar descent only when `descend` is set.
 */
static int child_routes(dg_ctx *ctx, uint64_t *next, uint64_t *wild, uint64_t *lit,
			const uint64_t *here, const char *name, int listed, int descend)
{
	size_t n = ctx->nsegs;
	int dot = name[0] == '.';

	*wild = *lit = 0;
	memset(next, 0, n * sizeof(*next));
	for (size_t i = 0; i < n; i++) {
		const char *seg = ctx->segs[i];
		uint64_t c = here[i];
		int last = i + 1 == n;

		if (!c || (!listed && ctx->kind[i] != SEG_LITERAL))
			continue;
		switch (ctx->kind[i]) {
		case SEG_GLOBSTAR:
			if (dot)
				break;
			if (last && count_add(wild, c) < 0)
				return -1;
			if (descend && count_add(&next[i], c) < 0)
				return -1;
			break;
		case SEG_WILD:
			if ((dot && seg[0] != '.') || !gs_fnmatch(seg, name))
				break;
			if (count_add(last ? wild : &next[i + 1], c) < 0)
				return -1;
			break;
		default:
			if (strcmp(seg, name) != 0)
				break;
			if (count_add(last ? lit : &next[i + 1], c) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

static int any_count(const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i])
			return 1;
	return 0;
}

/* Report and descend into the child `name` as child_routes() found. */
static int dg_child(dg_ctx *ctx, const char *name, const uint64_t *next, uint64_t wild,
		    uint64_t lit)
{
	size_t mark;
	int rc = -1;

	if (path_join(ctx, &mark, name) < 0)
		goto done;
	if (lit) {
		struct stat st;

		/* A final literal must exist, following symlinks. */
		if (ctx->path.size && stat(ctx->path.data, &st) == 0 && count_add(&wild, lit) < 0)
			goto done;
	}
	if (wild && emit_path(ctx, wild) < 0)
		goto done;
	if (any_count(next, ctx->nsegs) && dg_visit(ctx, next) < 0)
		goto done;
	rc = 0;
done:
	path_restore(ctx, mark);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Visit the current path, reached by at[i] routes at segment i (the
 * segments from i on are still to match here).
 */
static int dg_visit(dg_ctx *ctx, const uint64_t *at)
{
	gs_strlist names = {0};
	uint64_t *here = NULL, *next = NULL, wild, lit;
	size_t n = ctx->nsegs, i;
	int need_list = 0, ok = 0, pushed = 0, globstar = 0, rc = -1;
	dg_key key;

	for (i = 0; i < n; i++)
		if (at[i] && ctx->kind[i] != SEG_LITERAL)
			need_list = 1;
	if (need_list && list_dir(&names, &key, &ok, scan_dir(ctx)) < 0)
		goto done;
	if (!(here = calloc(2 * n, sizeof(*here)))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	next = here + n;

	/*
	 * A "**" takes zero levels too: its routes go on to the next segment
	 * here.  Nothing comes of a "**" or a wildcard at a level that
	 * cannot be listed.
	 */
	for (i = 0; i < n; i++) {
		here[i] = at[i];
		if (i > 0 && ctx->kind[i - 1] == SEG_GLOBSTAR && ok &&
		    count_add(&here[i], here[i - 1]) < 0)
			goto done;
		if (ctx->kind[i] == SEG_GLOBSTAR && at[i] && ok)
			globstar = 1;
	}
	if (!ok)
		for (i = 0; i < n; i++)
			if (ctx->kind[i] != SEG_LITERAL)
				here[i] = 0;
	if (globstar) {
		if (chain_push(ctx, &key) < 0)
			goto done;
		pushed = 1;
	}

	/* The listed names, literals that name one of them included. */
	if (ok && names.count > 1)
		qsort(names.items, names.count, sizeof(*names.items), cmp_name);
	for (size_t k = 0; ok && k < names.count; k++) {
		const char *name = names.items[k];
		int descend = 0;

		if (globstar && name[0] != '.') {
			struct stat st;
			size_t mark;

			if (path_join(ctx, &mark, name) < 0)
				goto done;
			descend = stat(ctx->path.data, &st) == 0 && S_ISDIR(st.st_mode) &&
				  !on_chain(ctx, &st);
			path_restore(ctx, mark);
		}
		if (child_routes(ctx, next, &wild, &lit, here, name, 1, descend) < 0)
			goto done;
		if ((wild || lit || any_count(next, n)) && dg_child(ctx, name, next, wild, lit) < 0)
			goto done;
	}

	/* Literals naming nothing listed (or no listing): each name once. */
	for (i = 0; i < n; i++) {
		const char *seg = ctx->segs[i];
		size_t j;

		if (!here[i] || ctx->kind[i] != SEG_LITERAL)
			continue;
		if (ok && bsearch(&seg, names.items, names.count, sizeof(*names.items), cmp_name))
			continue;
		for (j = 0; j < i; j++)
			if (here[j] && ctx->kind[j] == SEG_LITERAL && strcmp(ctx->segs[j], seg) == 0)
				break;
		if (j < i)
			continue;   /* that name was done already */
		/* Only literal routes can reach a name that was not listed. */
		if (child_routes(ctx, next, &wild, &lit, here, seg, 0, 0) < 0 ||
		    dg_child(ctx, seg, next, wild, lit) < 0)
			goto done;
	}
	rc = 0;
done:
	if (pushed)
		ctx->depth--;
	free(here);
	gs_strlist_free(&names);
	return rc;
}

int gs_disk_glob(gs_strlist *out, const char *pattern)
{
	dg_ctx ctx;
	char *pat = NULL, *rest, *p;
	uint64_t *start_at = NULL;
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
	ctx.kind = malloc(ctx.nsegs);
	start_at = calloc(ctx.nsegs, sizeof(*start_at));
	if (!ctx.kind || !start_at) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < ctx.nsegs; i++)
		ctx.kind[i] = is_globstar(ctx.segs[i]) ? SEG_GLOBSTAR :
			      is_wild(ctx.segs[i]) ? SEG_WILD : SEG_LITERAL;
	start_at[0] = 1;
	rc = dg_visit(&ctx, start_at);
	if (rc == 0)
		gs_strlist_sort(out);
done:
	free(start_at);
	free(ctx.kind);
	free(ctx.segs);
	free(ctx.chain);
	gs_buf_free(&ctx.path);
	free(pat);
	return rc;
}
