/*
 * glob.c - shell-style name matching (Python's fnmatch.fnmatchcase) and
 * glob expansion over a snapshot's trees.
 */
#include "gs_internal.h"
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Name matching                                                       */

/*
 * Decode the code point at s (which must not point at the terminating
 * NUL) and store its length in bytes.  Names are UTF-8, and '?' or a set
 * must consume a whole character.  A malformed byte stands alone as one
 * character (mapped into the lone-surrogate range, which valid UTF-8
 * never produces), so matching always advances and never reads past the
 * NUL: a NUL is not a continuation byte.
 */
static uint32_t utf8_next(const char *s, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t n, i;

	if (u[0] < 0x80) {
		*len = 1;
		return u[0];
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
		cp = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		cp = u[0] & 0x0f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		cp = u[0] & 0x07;
	} else {
		goto malformed;
	}
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			goto malformed;
		cp = (cp << 6) | (u[i] & 0x3f);
	}
	*len = n;
	return cp;

malformed:
	*len = 1;
	return 0xdc00 | u[0];
}

/*
 * Offset of the ']' that closes the set opened by the '[' at pat[0], or 0
 * when there is none (the '[' is then an ordinary character).  As in
 * Python, a '!' right after '[' negates, and a ']' right after that (or
 * right after '[') is a member rather than the end.
 */
static size_t set_close(const char *pat)
{
	size_t j = 1;

	if (pat[j] == '!')
		j++;
	if (pat[j] == ']')
		j++;
	while (pat[j] && pat[j] != ']')
		j++;
	return pat[j] == ']' ? j : 0;
}

/*
 * Whether code point c is in the set whose members are [body, end).
 * Members are read left to right: "x-y" is a range when both ends exist,
 * otherwise '-' is an ordinary member (first, last, or right after a
 * range).  A reversed range matches nothing, its ends included.
 * Backslash has no special meaning.
 *
 * One quirk is Python's (3.11) and kept for fidelity: Python drops
 * reversed ranges before it looks for the negating '!', so when the first
 * member left in a set not opened with "[!" starts with '!', that '!'
 * negates the rest instead: "[z-a!x]" means "[!x]", and "[z-a!-x]" means
 * "[!-x]" ('-' and 'x' are then plain members).
 */
static int set_match(const char *body, const char *end, uint32_t c)
{
	const char *p = body;
	int negate = 0, hit = 0, first = 1;

	if (*p == '!') {
		negate = 1;
		first = 0;
		p++;
	}
	while (p < end) {
		size_t n1, n2 = 0;
		uint32_t lo = utf8_next(p, &n1), hi;
		const char *q = p + n1;
		int range = q + 1 < end && *q == '-';

		hi = range ? utf8_next(q + 1, &n2) : lo;
		p = range ? q + 1 + n2 : q;
		if (lo > hi)
			continue;   /* reversed range: no members */
		if (first) {
			first = 0;
			if (lo == '!') {
				negate = 1;
				if (range && (c == '-' || c == hi))
					hit = 1;
				continue;
			}
		}
		if (lo <= c && c <= hi)
			hit = 1;
	}
	return hit != negate;
}

/*
 * Match the one-character token at *pp ('?', a closed set, or an ordinary
 * character) against code point c; on success move *pp past the token.
 */
static int token_match(const char **pp, uint32_t c)
{
	const char *p = *pp;
	size_t len;

	if (*p == '?') {
		*pp = p + 1;
		return 1;
	}
	if (*p == '[') {
		size_t close = set_close(p);

		if (close) {
			if (!set_match(p + 1, p + close, c))
				return 0;
			*pp = p + close + 1;
			return 1;
		}
	}
	if (utf8_next(p, &len) != c)
		return 0;
	*pp = p + len;
	return 1;
}

/*
 * Every token other than '*' consumes exactly one character, so greedy
 * matching that backtracks only to the most recent '*' is exact and runs
 * in O(len(pattern) * len(name)) instead of exponential time.
 */
int gs_fnmatch(const char *pattern, const char *name)
{
	const char *p = pattern, *n = name;
	const char *star_p = NULL, *star_n = NULL;
	size_t len;

	if (!pattern || !name)
		return 0;
	while (*n) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_n = n;
			continue;
		}
		if (*p && token_match(&p, utf8_next(n, &len))) {
			n += len;
			continue;
		}
		if (!star_p)
			return 0;
		/* Let the last '*' swallow one more character and retry. */
		utf8_next(star_n, &len);
		star_n += len;
		n = star_n;
		p = star_p;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* ------------------------------------------------------------------ */
/* Glob over trees                                                     */

/*
 * The matcher runs the pattern as a set of positions: a directory is
 * visited once with every segment index that some route through the
 * pattern reaches it at, and each entry is tested once against all of
 * them.  Following each route on its own revisits the same (directory,
 * segment) pair once per route, which is exponential in the depth for
 * patterns like "**" repeated.  A position i at a directory means
 * "segments i.. are still to match below this directory".
 */
typedef struct {
	git_repository *repo;
	gs_strlist *out;
	size_t first;         /* out->count on entry: our results start here */
	size_t *slots;        /* open-addressing set: out index + 1, 0 = free */
	size_t nslots;        /* a power of two, or 0 */
	gs_buf path;          /* path of the entry being visited */
	gs_buf scratch;       /* a result rewritten for the pivot */
	const char *pivot;    /* base of a "/./" pivot, or NULL */
	size_t pivot_len;
	char **segs;
	size_t nsegs;
	size_t words;         /* uint64_t words in a set of positions */
	unsigned char *kind;  /* per segment: SEG_LITERAL, SEG_WILD or SEG_GLOBSTAR */
	size_t depth;         /* directories on the current path */
} glob_ctx;

enum { SEG_LITERAL, SEG_WILD, SEG_GLOBSTAR };

static int is_wild(const char *seg)
{
	return strpbrk(seg, "*?") != NULL;
}

/* Raw modes can vary in their permission bits; the type bits cannot. */
static int is_dir(uint32_t mode)
{
	return (mode & 0170000) == GS_MODE_TREE;
}

static int is_globstar(const char *seg)
{
	return seg[0] == '*' && seg[1] == '*' && seg[2] == '\0';
}

/* A wildcard segment matches a dot-name only when it starts with '.'. */
static int segment_match(const char *seg, const char *name)
{
	if (name[0] == '.' && seg[0] != '.')
		return 0;
	return gs_fnmatch(seg, name);
}

static size_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* Double the set; the results it indexes stay where they are. */
static int set_grow(glob_ctx *ctx)
{
	size_t nslots = ctx->nslots ? ctx->nslots * 2 : 64;
	size_t *slots;

	if (nslots > SIZE_MAX / sizeof(*slots))
		return gs_error_set_os(ENOMEM, "out of memory");
	slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return gs_error_set_os(ENOMEM, "out of memory");
	for (size_t i = ctx->first; i < ctx->out->count; i++) {
		const char *s = ctx->out->items[i];
		size_t k = hash_bytes(s, strlen(s)) & (nslots - 1);

		while (slots[k])
			k = (k + 1) & (nslots - 1);
		slots[k] = i + 1;
	}
	free(ctx->slots);
	ctx->slots = slots;
	ctx->nslots = nslots;
	return 0;
}

/*
 * Add s (NUL-terminated, len bytes) to the results unless it is already
 * there: under a pivot with wildcards in its base, two paths can be
 * rewritten to the same result.
 */
static int add_unique(glob_ctx *ctx, const char *s, size_t len)
{
	size_t k;

	/* Keep the load under one half so probe runs stay short. */
	if ((ctx->out->count - ctx->first + 1) * 2 > ctx->nslots &&
	    set_grow(ctx) < 0)
		return -1;
	k = hash_bytes(s, len) & (ctx->nslots - 1);
	for (; ctx->slots[k]; k = (k + 1) & (ctx->nslots - 1)) {
		const char *have = ctx->out->items[ctx->slots[k] - 1];

		if (strcmp(have, s) == 0)
			return 0;
	}
	if (gs_strlist_push_len(ctx->out, s, len) < 0)
		return -1;
	ctx->slots[k] = ctx->out->count;
	return 0;
}

/*
 * Report the current path, rewritten as "<base>/./<rest>" under a pivot.
 * Every path is visited once, so only the pivot's rewriting can repeat a
 * result.
 */
static int emit(glob_ctx *ctx)
{
	const char *r = ctx->path.data;
	size_t rlen = ctx->path.size, n = ctx->pivot_len;

	if (!ctx->pivot)
		return gs_strlist_push_len(ctx->out, r, rlen);
	/* Strip the base again when the match lies below it (it need not,
	 * when the base has wildcards). */
	if (rlen > n && memcmp(r, ctx->pivot, n) == 0 && r[n] == '/') {
		r += n + 1;
		rlen -= n + 1;
	}
	ctx->scratch.size = 0;
	if (gs_buf_put(&ctx->scratch, ctx->pivot, n) < 0 ||
	    gs_buf_put(&ctx->scratch, "/./", 3) < 0 ||
	    gs_buf_put(&ctx->scratch, r, rlen) < 0)
		return -1;
	return add_unique(ctx, ctx->scratch.data, ctx->scratch.size);
}

/* Append "/name" (or "name" at the root); *saved gets the old length. */
static int path_push(glob_ctx *ctx, const char *name, size_t *saved)
{
	*saved = ctx->path.size;
	if (ctx->path.size && gs_buf_put(&ctx->path, "/", 1) < 0)
		return -1;
	return gs_buf_puts(&ctx->path, name);
}

static void path_pop(glob_ctx *ctx, size_t saved)
{
	ctx->path.size = saved;
	if (ctx->path.data)
		ctx->path.data[saved] = '\0';
}

#define SET_HAS(set, i) (((set)[(i) >> 6] >> ((i) & 63)) & 1)
#define SET_ADD(set, i) ((set)[(i) >> 6] |= (uint64_t)1 << ((i) & 63))

/*
 * Visit the directory `tree` (whose path is ctx->path) at the positions
 * in `at` (at least one).  A position on "**" stands for zero levels (the
 * next segment is tested against this directory's entries, where a
 * second "**" is an ordinary wildcard, like "*") and for one level more
 * (the position carries on into every subdirectory that is not a
 * dot-name); a final "**" matches every entry that is not a dot-name.
 * Any other segment is tested against the entries.  Below a file nothing
 * matches.  Each level keeps just its own listing and sets while it
 * recurses, so memory follows the directories on the current path.
 */
static int walk(glob_ctx *ctx, const uint64_t *at, const git_oid *tree)
{
	gs_dirlist dir;
	uint64_t *sets = NULL, *tested, *carry, *next;
	size_t *tests = NULL, ntests = 0, words = ctx->words, n = ctx->nsegs;
	int all = 0, rc = -1;

	memset(&dir, 0, sizeof(dir));
	/* One stack frame per level: a hostile tree must not exhaust it. */
	if (++ctx->depth > GS_MAX_TREE_DEPTH) {
		gs_error_set(GS_ERR_GIT, "trees nested more than %d deep (below %.*s...)",
			     GS_MAX_TREE_DEPTH, (int)(ctx->path.size < 60 ? ctx->path.size : 60),
			     ctx->path.data ? ctx->path.data : "");
		goto done;
	}
	sets = calloc(3 * words, sizeof(*sets));
	tests = malloc(n * sizeof(*tests));
	if (!sets || !tests) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	tested = sets;
	carry = sets + words;
	next = sets + 2 * words;

	/* The segments this directory's entries are tested against. */
	for (size_t i = 0; i < n; i++) {
		if (!SET_HAS(at, i))
			continue;
		if (ctx->kind[i] != SEG_GLOBSTAR) {
			SET_ADD(tested, i);
			continue;
		}
		SET_ADD(carry, i);
		if (i + 1 < n)
			SET_ADD(tested, i + 1);
		else
			all = 1;
	}
	for (size_t i = 0; i < n; i++)
		if (SET_HAS(tested, i))
			tests[ntests++] = i;

	if (gs_tree_list(&dir, ctx->repo, tree) < 0)
		goto done;

	for (size_t k = 0; k < dir.count; k++) {
		const gs_dirent *e = &dir.items[k];
		int dot = e->name[0] == '.', hit = all && !dot, deeper = 0;
		size_t saved;

		for (size_t w = 0; w < words; w++) {
			next[w] = dot ? 0 : carry[w];
			deeper |= next[w] != 0;
		}
		for (size_t t = 0; t < ntests; t++) {
			size_t i = tests[t];
			const char *seg = ctx->segs[i];

			if (ctx->kind[i] == SEG_LITERAL ? strcmp(seg, e->name) != 0
							: !segment_match(seg, e->name))
				continue;
			if (i + 1 == n) {
				hit = 1;
			} else {
				SET_ADD(next, i + 1);
				deeper = 1;
			}
		}
		if (!hit && !(deeper && is_dir(e->mode)))
			continue;
		if (path_push(ctx, e->name, &saved) < 0)
			goto done;
		if ((hit && emit(ctx) < 0) ||
		    (deeper && is_dir(e->mode) && walk(ctx, next, &e->id) < 0))
			goto done;
		path_pop(ctx, saved);
	}
	rc = 0;

done:
	ctx->depth--;
	gs_dirlist_free(&dir);
	free(tests);
	free(sets);
	return rc;
}

/* Split s in place on '/'; empty segments stay (they never match). */
static int split_segments(char ***out, size_t *count, char *s)
{
	size_t n = 1, i = 0;
	char **segs;

	for (const char *p = s; *p; p++)
		n += (*p == '/');
	segs = malloc(n * sizeof(*segs));
	if (!segs)
		return gs_error_set_os(ENOMEM, "out of memory");
	segs[i++] = s;
	for (char *p = s; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			segs[i++] = p + 1;
		}
	}
	*out = segs;
	*count = n;
	return 0;
}

int gs_glob(gs_strlist *out, git_repository *repo, const git_oid *root,
	    const char *pattern)
{
	glob_ctx ctx;
	const char *start;
	char *flat = NULL;
	char **segs = NULL;
	uint64_t *start_at = NULL;
	size_t len, nsegs = 0, k;
	int rc = -1;

	if (!out || !repo || !root || !pattern)
		return gs_error_set(GS_ERR_INVALID, "gs_glob: NULL argument");

	memset(&ctx, 0, sizeof(ctx));
	ctx.repo = repo;
	ctx.out = out;
	ctx.first = out->count;

	/* A trailing '/' does not restrict the match to directories. */
	start = pattern;
	while (*start == '/')
		start++;
	len = strlen(start);
	while (len && start[len - 1] == '/')
		len--;
	if (len == 0)
		return 0;

	flat = malloc(len + 1);
	if (!flat)
		return gs_error_set_os(ENOMEM, "out of memory");

	/* Only the first "/./" is a pivot: match "base/rest" instead and
	 * put the marker back into each result.  Index 0 never counts. */
	for (k = 1; k + 3 <= len; k++)
		if (memcmp(start + k, "/./", 3) == 0)
			break;
	if (k + 3 <= len) {
		ctx.pivot = start;
		ctx.pivot_len = k;
		memcpy(flat, start, k);
		if (k + 3 < len) {
			flat[k] = '/';
			memcpy(flat + k + 1, start + k + 3, len - k - 3);
			flat[len - 2] = '\0';
		} else {
			flat[k] = '\0';   /* no rest: cannot happen once stripped */
		}
	} else {
		memcpy(flat, start, len);
		flat[len] = '\0';
	}

	if (split_segments(&segs, &nsegs, flat) < 0)
		goto done;
	ctx.segs = segs;
	ctx.nsegs = nsegs;
	ctx.words = (nsegs + 63) / 64;
	ctx.kind = malloc(nsegs);
	start_at = calloc(ctx.words, sizeof(*start_at));
	if (!ctx.kind || !start_at) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nsegs; i++)
		ctx.kind[i] = is_globstar(segs[i]) ? SEG_GLOBSTAR :
			      is_wild(segs[i]) ? SEG_WILD : SEG_LITERAL;
	SET_ADD(start_at, 0);
	rc = walk(&ctx, start_at, root);

done:
	if (rc < 0) {
		/* Leave the caller's list as it was. */
		for (size_t i = ctx.first; i < out->count; i++)
			free(out->items[i]);
		out->count = ctx.first;
	}
	free(ctx.slots);
	free(ctx.kind);
	free(start_at);
	gs_buf_free(&ctx.path);
	gs_buf_free(&ctx.scratch);
	free(segs);
	free(flat);
	return rc;
}
