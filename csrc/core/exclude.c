/*
 * exclude.c - gitignore-style exclusion for the disk side of copy_in and
 * sync_in.
 *
 * A pattern is compiled once into a small program for a Thompson-style
 * matcher (a set of live states advanced one byte at a time), so a
 * pattern can never take more than O(len(pattern) * len(path)) steps,
 * whatever its stars.  Matching is on bytes, as git's own is: '?' and a
 * bracket expression consume one byte.
 *
 * How a rule set decides, and the shape of each pattern, follow git's
 * gitignore rules as dulwich 1.x reads them:
 *   - the last matching rule wins; '!' re-includes; an exclusion of a
 *     parent directory cannot be undone below it;
 *   - no '/' before the end: the rule applies at any depth; otherwise
 *     it is anchored at the rule set's directory;
 *   - a trailing '/' makes a rule match directories only;
 *   - '*', '?' and brackets never cross '/'; a lone '*' segment needs one
 *     byte; '**' segments span directories.
 *
 * The filter is immutable once built; the .gitignore files met during a
 * walk live in a gs_exclude_walk that belongs to that one walk.
 */
#include "gs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Programs                                                            */

enum {
	OP_BYTE,     /* consume the byte `arg` */
	OP_NOSLASH,  /* consume any byte but '/' */
	OP_ANY,      /* consume any byte */
	OP_SET,      /* consume a byte of set number `arg` */
	OP_SPLIT,    /* continue at `arg` and at `arg2` */
	OP_JMP,      /* continue at `arg` */
	OP_MATCH     /* the whole subject matched */
};

typedef struct {
	uint8_t op;
	uint32_t arg;
	uint32_t arg2;
} ex_inst;

typedef struct {
	uint8_t bits[32];
} ex_set;

typedef struct {
	ex_inst *code;
	size_t len, cap;
	ex_set *sets;
	size_t nsets, setcap;
} ex_prog;

static void prog_free(ex_prog *p)
{
	free(p->code);
	free(p->sets);
	memset(p, 0, sizeof(*p));
}

static int emit(ex_prog *p, uint8_t op, uint32_t arg, uint32_t arg2)
{
	if (p->len == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		ex_inst *code = realloc(p->code, cap * sizeof(*code));

		if (!code)
			return gs_error_set_os(ENOMEM, "out of memory");
		p->code = code;
		p->cap = cap;
	}
	p->code[p->len].op = op;
	p->code[p->len].arg = arg;
	p->code[p->len].arg2 = arg2;
	p->len++;
	return 0;
}

static int emit_set(ex_prog *p, const ex_set *set)
{
	if (p->nsets == p->setcap) {
		size_t cap = p->setcap ? p->setcap * 2 : 4;
		ex_set *sets = realloc(p->sets, cap * sizeof(*sets));

		if (!sets)
			return gs_error_set_os(ENOMEM, "out of memory");
		p->sets = sets;
		p->setcap = cap;
	}
	p->sets[p->nsets] = *set;
	return emit(p, OP_SET, (uint32_t)p->nsets++, 0);
}

/* Zero or more bytes accepted by `op` (OP_NOSLASH or OP_ANY). */
static int emit_star(ex_prog *p, uint8_t op)
{
	size_t split = p->len;

	if (emit(p, OP_SPLIT, (uint32_t)split + 1, 0) < 0 ||
	    emit(p, op, 0, 0) < 0 ||
	    emit(p, OP_JMP, (uint32_t)split, 0) < 0)
		return -1;
	p->code[split].arg2 = (uint32_t)p->len;
	return 0;
}

/* An optional '/'. */
static int emit_opt_slash(ex_prog *p)
{
	size_t split = p->len;

	if (emit(p, OP_SPLIT, (uint32_t)split + 1, 0) < 0 || emit(p, OP_BYTE, '/', 0) < 0)
		return -1;
	p->code[split].arg2 = (uint32_t)p->len;
	return 0;
}

/* Any number of leading directories, none included: "(anything/)?". */
static int emit_leading_dirs(ex_prog *p)
{
	size_t split = p->len;

	if (emit(p, OP_SPLIT, (uint32_t)split + 1, 0) < 0 ||
	    emit_star(p, OP_ANY) < 0 || emit(p, OP_BYTE, '/', 0) < 0)
		return -1;
	p->code[split].arg2 = (uint32_t)p->len;
	return 0;
}

/* Zero or more whole directories: "(name/)*" with non-empty names. */
static int emit_inner_dirs(ex_prog *p)
{
	size_t split = p->len;

	if (emit(p, OP_SPLIT, (uint32_t)split + 1, 0) < 0 ||
	    emit(p, OP_NOSLASH, 0, 0) < 0 || emit_star(p, OP_NOSLASH) < 0 ||
	    emit(p, OP_BYTE, '/', 0) < 0 || emit(p, OP_JMP, (uint32_t)split, 0) < 0)
		return -1;
	p->code[split].arg2 = (uint32_t)p->len;
	return 0;
}

/* Scratch space for running programs: live state lists, a work stack
 * and the step at which each state was last added. */
typedef struct {
	uint32_t *mem;
	size_t cap;          /* program length the memory is sized for */
	uint32_t local[1024];
	gs_buf path;         /* paths built for contents checks */
} ex_scratch;

#define SCRATCH_WORDS(n) (6 * (n) + 4)

static void scratch_init(ex_scratch *s)
{
	s->mem = s->local;
	s->cap = (sizeof(s->local) / sizeof(s->local[0]) - 4) / 6;
	memset(&s->path, 0, sizeof(s->path));
}

static void scratch_free(ex_scratch *s)
{
	if (s->mem != s->local)
		free(s->mem);
	gs_buf_free(&s->path);
}

static int scratch_reserve(ex_scratch *s, size_t proglen)
{
	uint32_t *mem;

	if (proglen <= s->cap)
		return 0;
	mem = malloc(SCRATCH_WORDS(proglen) * sizeof(*mem));
	if (!mem)
		return gs_error_set_os(ENOMEM, "out of memory");
	if (s->mem != s->local)
		free(s->mem);
	s->mem = mem;
	s->cap = proglen;
	return 0;
}

/* Add state pc and everything reachable from it without input. */
static void add_state(const ex_prog *p, uint32_t *list, size_t *count, uint32_t *stack,
		      uint32_t *mark, uint32_t step, uint32_t pc)
{
	size_t top = 0;

	stack[top++] = pc;
	while (top) {
		pc = stack[--top];
		if (mark[pc] == step)
			continue;
		mark[pc] = step;
		switch (p->code[pc].op) {
		case OP_JMP:
			stack[top++] = p->code[pc].arg;
			break;
		case OP_SPLIT:
			stack[top++] = p->code[pc].arg2;
			stack[top++] = p->code[pc].arg;
			break;
		default:
			list[(*count)++] = pc;
			break;
		}
	}
}

/* 1 when the program matches all of s[0, n), else 0.  The scratch must
 * be reserved for the program's length. */
static int prog_run(const ex_prog *p, ex_scratch *scratch, const char *s, size_t n)
{
	size_t len = p->len, ccount = 0, ncount, i;
	uint32_t *clist = scratch->mem, *nlist = clist + len, *stack = nlist + len;
	uint32_t *mark = stack + 2 * len + 2, *tmp, step = 1;

	for (i = 0; i < len; i++)
		mark[i] = 0;
	add_state(p, clist, &ccount, stack, mark, step, 0);
	for (i = 0; i < n && ccount; i++) {
		unsigned char c = (unsigned char)s[i];

		step++;
		ncount = 0;
		for (size_t k = 0; k < ccount; k++) {
			const ex_inst *in = &p->code[clist[k]];
			int ok;

			switch (in->op) {
			case OP_BYTE: ok = c == in->arg; break;
			case OP_NOSLASH: ok = c != '/'; break;
			case OP_ANY: ok = 1; break;
			case OP_SET: ok = (p->sets[in->arg].bits[c >> 3] >> (c & 7)) & 1; break;
			default: ok = 0; break;
			}
			if (ok)
				add_state(p, nlist, &ncount, stack, mark, step, clist[k] + 1);
		}
		tmp = clist;
		clist = nlist;
		nlist = tmp;
		ccount = ncount;
	}
	if (i < n)
		return 0;
	for (size_t k = 0; k < ccount; k++)
		if (p->code[clist[k]].op == OP_MATCH)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Compiling a pattern                                                 */

/* What compiling reports besides success: git refuses the pattern
 * (an unterminated bracket, an unknown character class). */
#define MALFORMED 1

static void set_add(ex_set *set, unsigned lo, unsigned hi)
{
	for (unsigned c = lo; c <= hi; c++)
		set->bits[c >> 3] |= (uint8_t)(1u << (c & 7));
}

/* The ASCII character classes git knows inside brackets. */
static int add_class(ex_set *set, const char *name, size_t len)
{
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
	if (IS("alnum")) {
		set_add(set, '0', '9'); set_add(set, 'A', 'Z'); set_add(set, 'a', 'z');
	} else if (IS("alpha")) {
		set_add(set, 'A', 'Z'); set_add(set, 'a', 'z');
	} else if (IS("blank")) {
		set_add(set, '\t', '\t'); set_add(set, ' ', ' ');
	} else if (IS("cntrl")) {
		set_add(set, 0x00, 0x1f); set_add(set, 0x7f, 0x7f);
	} else if (IS("digit")) {
		set_add(set, '0', '9');
	} else if (IS("graph")) {
		set_add(set, 0x21, 0x7e);
	} else if (IS("lower")) {
		set_add(set, 'a', 'z');
	} else if (IS("print")) {
		set_add(set, 0x20, 0x7e);
	} else if (IS("punct")) {
		set_add(set, 0x21, 0x2f); set_add(set, 0x3a, 0x40);
		set_add(set, 0x5b, 0x60); set_add(set, 0x7b, 0x7e);
	} else if (IS("space")) {
		set_add(set, '\t', '\t'); set_add(set, '\n', '\n');
		set_add(set, '\r', '\r'); set_add(set, ' ', ' ');
	} else if (IS("upper")) {
		set_add(set, 'A', 'Z');
	} else if (IS("xdigit")) {
		set_add(set, '0', '9'); set_add(set, 'A', 'F'); set_add(set, 'a', 'f');
	} else {
		return MALFORMED;
	}
	return 0;
#undef IS
}

/*
 * Read the bracket expression whose '[' is just before pat[i]: fill
 * *set with the bytes it accepts ('/' never) and *end with the index just
 * past its ']'.  MALFORMED when it does not close or names an unknown
 * class.  '!' or '^' first negates; a ']' first is a member; a backslash
 * makes the next byte a member; "a-z" is a range (a reversed range keeps
 * only its first byte); "[:name:]" is a class.
 */
static int parse_bracket(ex_set *set, size_t *end, const char *pat, size_t n, size_t i)
{
	int negated = 0, first = 1, have_prev = 0;
	unsigned prev = 0;

	memset(set, 0, sizeof(*set));
	if (i < n && (pat[i] == '!' || pat[i] == '^')) {
		negated = 1;
		i++;
	}
	for (;; i++) {
		unsigned char c;

		if (i >= n)
			return MALFORMED;
		c = (unsigned char)pat[i];
		if (c == ']' && !first)
			break;
		first = 0;
		if (c == '\\') {
			if (++i >= n)
				return MALFORMED;
			prev = (unsigned char)pat[i];
			have_prev = 1;
			set_add(set, prev, prev);
		} else if (c == '-' && have_prev && i + 1 < n && pat[i + 1] != ']') {
			unsigned hi;

			i++;
			if (pat[i] == '\\' && ++i >= n)
				return MALFORMED;
			hi = (unsigned char)pat[i];
			if (prev <= hi)
				set_add(set, prev, hi);
			have_prev = 0;
		} else if (c == '[' && i + 1 < n && pat[i + 1] == ':') {
			size_t start = i + 2, j = start;

			while (j < n && pat[j] != ']')
				j++;
			if (j >= n)
				return MALFORMED;
			if (j == start || pat[j - 1] != ':') {
				/* No ":]": the '[' is an ordinary member. */
				prev = '[';
				have_prev = 1;
				set_add(set, '[', '[');
			} else {
				if (add_class(set, pat + start, j - 1 - start))
					return MALFORMED;
				have_prev = 0;
				i = j;
			}
		} else {
			prev = c;
			have_prev = 1;
			set_add(set, c, c);
		}
	}
	if (negated)
		for (size_t k = 0; k < sizeof(set->bits); k++)
			set->bits[k] = (uint8_t)~set->bits[k];
	set->bits['/' >> 3] &= (uint8_t)~(1u << ('/' & 7));
	*end = i + 1;
	return 0;
}

/* One segment (no '**' of its own) of a pattern. */
static int compile_segment(ex_prog *p, const char *seg, size_t n)
{
	size_t i = 0;
	int rc;

	if (n == 1 && seg[0] == '*')
		return emit(p, OP_NOSLASH, 0, 0) < 0 ? -1 : emit_star(p, OP_NOSLASH);
	while (i < n) {
		char c = seg[i++];

		switch (c) {
		case '*':
			while (i < n && seg[i] == '*')
				i++;
			if (emit_star(p, OP_NOSLASH) < 0)
				return -1;
			break;
		case '?':
			if (emit(p, OP_NOSLASH, 0, 0) < 0)
				return -1;
			break;
		case '\\':
			if (i < n)
				c = seg[i++];
			if (emit(p, OP_BYTE, (unsigned char)c, 0) < 0)
				return -1;
			break;
		case '[': {
			ex_set set;
			size_t end;

			if ((rc = parse_bracket(&set, &end, seg, n, i)) != 0)
				return rc;
			i = end;
			if (emit_set(p, &set) < 0)
				return -1;
			break;
		}
		default:
			if (emit(p, OP_BYTE, (unsigned char)c, 0) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

typedef struct {
	size_t start, len;
} ex_span;

static int is_globstar(const char *pat, const ex_span *s)
{
	return s->len == 2 && pat[s->start] == '*' && pat[s->start + 1] == '*';
}

/*
 * The path part of a pattern: segments split on '/'; runs of "**"
 * segments count as one.  When the pattern has a '[', a '/' inside a
 * bracket or after a backslash does not split (dulwich's reading: a
 * pattern without brackets splits at every '/', escaped or not).
 */
static int compile_path(ex_prog *p, const char *pat, size_t n)
{
	ex_span *segs = NULL;
	size_t nsegs = 0, cap = 0, start = 0, i = 0;
	int brackets = memchr(pat, '[', n) != NULL, rc = -1;

	if (n == 2 && pat[0] == '*' && pat[1] == '*')
		return emit_star(p, OP_ANY);
	for (;;) {
		int at_end = i >= n;

		if (at_end || pat[i] == '/') {
			ex_span span = { start, i - start };

			if (!(nsegs && is_globstar(pat, &span) && is_globstar(pat, &segs[nsegs - 1]))) {
				if (nsegs == cap) {
					size_t ncap = cap ? cap * 2 : 8;
					ex_span *grown = realloc(segs, ncap * sizeof(*grown));

					if (!grown) {
						gs_error_set_os(ENOMEM, "out of memory");
						goto done;
					}
					segs = grown;
					cap = ncap;
				}
				segs[nsegs++] = span;
			}
			if (at_end)
				break;
			start = ++i;
		} else if (brackets && pat[i] == '\\' && i + 1 < n) {
			i += 2;
		} else if (brackets && pat[i] == '[') {
			ex_set set;
			size_t end;

			if ((rc = parse_bracket(&set, &end, pat, n, i + 1)) != 0)
				goto done;
			rc = -1;
			i = end;
		} else {
			i++;
		}
	}

	for (i = 0; i < nsegs; i++) {
		const ex_span *s = &segs[i];

		if (i > 0 && !is_globstar(pat, &segs[i - 1]) && emit(p, OP_BYTE, '/', 0) < 0)
			goto done;
		if (is_globstar(pat, s)) {
			size_t k = i + 1;

			while (k < nsegs && segs[k].len == 0)
				k++;
			if (k == nsegs && i + 1 < nsegs) {
				/* A trailing globstar and slash: at least one directory. */
				if (emit_star(p, OP_ANY) < 0 || emit(p, OP_BYTE, '/', 0) < 0)
					goto done;
			} else if (k == nsegs) {
				/* A final globstar: everything below. */
				if (emit_star(p, OP_ANY) < 0)
					goto done;
				break;
			} else if (i == 0) {
				if (emit_leading_dirs(p) < 0)
					goto done;
			} else if (emit_inner_dirs(p) < 0) {
				goto done;
			}
		} else if ((rc = compile_segment(p, pat + s->start, s->len)) != 0) {
			goto done;
		}
	}
	rc = 0;
done:
	free(segs);
	return rc;
}

/* A whole gitignore pattern (no '!', no directory suffix handling). */
static int compile_pattern(ex_prog *p, const char *pat, size_t n)
{
	int rc;

	/* No '/' before the last byte: the rule applies at any depth. */
	if (n == 0 || !memchr(pat, '/', n - 1))
		if (emit_leading_dirs(p) < 0)
			return -1;
	if (n >= 4 && memcmp(pat, "/**/", 4) == 0) {
		pat += 4, n -= 4;
		if (emit_leading_dirs(p) < 0)
			return -1;
	} else if (n >= 3 && memcmp(pat, "**/", 3) == 0) {
		pat += 3, n -= 3;
		if (emit_leading_dirs(p) < 0)
			return -1;
	} else if (n >= 1 && pat[0] == '/') {
		pat += 1, n -= 1;
	}
	if ((rc = compile_path(p, pat, n)) != 0)
		return rc;
	if (!(n > 0 && pat[n - 1] == '/') && emit_opt_slash(p) < 0)
		return -1;
	return emit(p, OP_MATCH, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Rule sets                                                           */

typedef struct {
	unsigned exclude : 1;     /* not a '!' rule */
	unsigned dir_only : 1;    /* written with a trailing '/' */
	unsigned empty : 1;       /* nothing left but slashes: never matches */
	unsigned contents : 1;    /* ends in a star segment: speaks for the contents */
	ex_prog name;             /* an entry's own path, no trailing '/' */
	ex_prog full;             /* the pattern as written (contents rules only) */
} ex_rule;

typedef struct {
	ex_rule *items;
	size_t count, cap;
	size_t maxprog;           /* longest program, for scratch sizing */
} ex_rules;

static void rules_clear(ex_rules *rs)
{
	for (size_t i = 0; i < rs->count; i++) {
		prog_free(&rs->items[i].name);
		prog_free(&rs->items[i].full);
	}
	free(rs->items);
	memset(rs, 0, sizeof(*rs));
}

/* Append one pattern; a pattern git would refuse is left out. */
static int rules_add(ex_rules *rs, const char *pat, size_t n)
{
	ex_rule rule;
	size_t stripped;
	int rc = -1;

	memset(&rule, 0, sizeof(rule));
	rule.exclude = 1;
	if (n > 0 && pat[0] == '!') {
		rule.exclude = 0;
		pat++, n--;
	} else if (n > 1 && pat[0] == '\\' && (pat[1] == '!' || pat[1] == '#')) {
		pat++, n--;
	}
	rule.dir_only = n > 0 && pat[n - 1] == '/';
	stripped = n;
	while (stripped > 0 && pat[stripped - 1] == '/')
		stripped--;
	rule.empty = stripped == 0;
	rule.contents = (stripped >= 2 && pat[stripped - 2] == '/' && pat[stripped - 1] == '*') ||
			(stripped >= 3 && pat[stripped - 3] == '/' && pat[stripped - 2] == '*' &&
			 pat[stripped - 1] == '*');

	if ((rc = compile_pattern(&rule.name, pat, stripped)) != 0 ||
	    (rc = compile_pattern(&rule.full, pat, n)) != 0)
		goto done;
	if (!rule.contents)
		prog_free(&rule.full);
	if (rs->count == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 8;
		ex_rule *items = realloc(rs->items, cap * sizeof(*items));

		if (!items) {
			rc = gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		rs->items = items;
		rs->cap = cap;
	}
	if (rule.name.len > rs->maxprog)
		rs->maxprog = rule.name.len;
	if (rule.full.len > rs->maxprog)
		rs->maxprog = rule.full.len;
	rs->items[rs->count++] = rule;
	return 0;
done:
	prog_free(&rule.name);
	prog_free(&rule.full);
	return rc == MALFORMED ? 0 : -1;
}

/* The last rule deciding the entry `name` (no trailing '/'), or NULL. */
static const ex_rule *last_match(const ex_rules *rs, ex_scratch *sc, const char *name,
				 size_t n, int is_dir)
{
	for (size_t i = rs->count; i-- > 0;) {
		const ex_rule *r = &rs->items[i];

		if (r->empty || (r->dir_only && !is_dir))
			continue;
		if (prog_run(&r->name, sc, name, n))
			return r;
	}
	return NULL;
}

/* The rule as written against a path (which may end with '/'). */
static int full_match(const ex_rule *r, ex_scratch *sc, const char *path, size_t n)
{
	int slash_end = n > 0 && path[n - 1] == '/';
	const char *last;

	if (r->dir_only && !r->exclude && !slash_end)
		return 0;
	if (prog_run(&r->full, sc, path, n))
		return 1;
	if (r->dir_only && r->exclude && !slash_end && (last = memrchr(path, '/', n)) != NULL)
		return prog_run(&r->full, sc, path, (size_t)(last - path) + 1);
	return 0;
}

/*
 * Whether the last rule ending in a star segment ("dir/" then '*' or
 * "**") that speaks for what directory `name` holds excludes it, so that
 * asking about the directory honours such a rule.
 */
static int rules_exclude_inside(int *out, const ex_rules *rs, ex_scratch *sc,
				const char *name, size_t n)
{
	*out = 0;
	for (size_t i = rs->count; i-- > 0;) {
		const ex_rule *r = &rs->items[i];
		gs_buf *b = &sc->path;

		if (!r->contents || r->empty)
			continue;
		b->size = 0;
		if (gs_buf_put(b, name, n) < 0 || gs_buf_put(b, "/x/", 3) < 0)
			return -1;
		if (full_match(r, sc, b->data, n + 2) || full_match(r, sc, b->data, n + 3)) {
			*out = r->exclude;
			return 0;
		}
	}
	return 0;
}

/*
 * What one rule set says about `path` (relative to its directory; a
 * trailing '/' or is_dir marks a directory): 1 excluded, 0 included,
 * -1 no opinion.  A parent excluded by its last matching rule excludes
 * everything below it.
 */
static int rules_decide(int *out, const ex_rules *rs, ex_scratch *sc, const char *path,
			size_t n, int is_dir)
{
	const ex_rule *r;
	int inside;

	*out = -1;
	if (rs->count == 0)
		return 0;
	if (scratch_reserve(sc, rs->maxprog) < 0)
		return -1;
	if (n > 0 && path[n - 1] == '/')
		is_dir = 1;
	while (n > 0 && path[n - 1] == '/')
		n--;
	for (size_t k = 0; k < n; k++) {
		if (path[k] != '/')
			continue;
		r = last_match(rs, sc, path, k, 1);
		if (r && r->exclude) {
			*out = 1;
			return 0;
		}
	}
	r = last_match(rs, sc, path, n, is_dir);
	if (r && r->exclude) {
		*out = 1;
		return 0;
	}
	if (is_dir) {
		if (rules_exclude_inside(&inside, rs, sc, path, n) < 0)
			return -1;
		if (inside) {
			*out = 1;
			return 0;
		}
	}
	*out = r ? 0 : -1;
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The lines of a .gitignore file, as git reads them. */
static int rules_parse_gitignore(ex_rules *rs, const char *data, size_t size)
{
	gs_buf line = {0};
	size_t pos = 0;
	int rc = -1;

	while (pos < size) {
		const char *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) + 1 : size;
		const char *s = data + pos;
		size_t n = end - pos, k, blank = 1;

		pos = end;
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			n--;
		for (k = 0; k < n && blank; k++)
			blank = is_space(s[k]);
		if (blank || s[0] == '#')
			continue;
		/* Trailing spaces go unless the last one is escaped. */
		while (n > 0 && s[n - 1] == ' ' && !(n > 1 && s[n - 2] == '\\'))
			n--;
		line.size = 0;
		for (k = 0; k < n; k++) {
			if (s[k] == '\\' && k + 1 < n && s[k + 1] == ' ')
				k++;
			if (gs_buf_put(&line, s + k, 1) < 0)
				goto done;
		}
		if (rules_add(rs, line.data ? line.data : "", line.size) < 0)
			goto done;
	}
	rc = 0;
done:
	gs_buf_free(&line);
	return rc;
}

/* The lines of an exclude_from file: trimmed, blank and '#' lines skipped. */
static int rules_parse_list(ex_rules *rs, size_t *nlines, const char *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		size_t start = pos, n;

		while (pos < size && data[pos] != '\n' && data[pos] != '\r')
			pos++;
		n = pos - start;
		if (pos < size && data[pos] == '\r' && pos + 1 < size && data[pos + 1] == '\n')
			pos += 2;
		else if (pos < size)
			pos++;
		while (n > 0 && is_space(data[start])) {
			start++;
			n--;
		}
		while (n > 0 && is_space(data[start + n - 1]))
			n--;
		if (n == 0 || data[start] == '#')
			continue;
		(*nlines)++;
		if (rules_add(rs, data + start, n) < 0)
			return -1;
	}
	return 0;
}

/* Read all of the open file fd; `path` names it in errors. */
static int read_fd(gs_buf *out, int fd, const char *path)
{
	for (;;) {
		ssize_t got;

		if (gs_buf_grow(out, out->size + 65536 + 1) < 0)
			return -1;
		got = read(fd, out->data + out->size, out->cap - out->size - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return gs_error_set_path(errno, path, "");
		}
		if (got == 0)
			break;
		out->size += (size_t)got;
	}
	out->data[out->size] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* The filter                                                          */

struct gs_exclude {
	ex_rules base;        /* patterns, then the exclude_from lines */
	size_t nbase;         /* base lines given, valid or not */
	int gitignore;
};

int gs_exclude_new(gs_exclude **out, const char *const *patterns, size_t npatterns,
		   const char *exclude_from, int gitignore)
{
	gs_exclude *ex;
	gs_buf data = {0};
	int fd = -1, rc = -1;

	*out = NULL;
	if (!(ex = calloc(1, sizeof(*ex))))
		return gs_error_set_os(ENOMEM, "out of memory");
	ex->gitignore = gitignore != 0;
	for (size_t i = 0; i < npatterns; i++) {
		ex->nbase++;
		if (rules_add(&ex->base, patterns[i], strlen(patterns[i])) < 0)
			goto done;
	}
	if (exclude_from) {
		if ((fd = open(exclude_from, O_RDONLY | O_CLOEXEC)) < 0) {
			gs_error_set_path(errno, exclude_from, "");
			goto done;
		}
		if (read_fd(&data, fd, exclude_from) < 0 ||
		    rules_parse_list(&ex->base, &ex->nbase, data.data, data.size) < 0)
			goto done;
	}
	*out = ex;
	ex = NULL;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	gs_buf_free(&data);
	gs_exclude_free(ex);
	return rc;
}

void gs_exclude_free(gs_exclude *ex)
{
	if (!ex)
		return;
	rules_clear(&ex->base);
	free(ex);
}

int gs_exclude_active(const gs_exclude *ex)
{
	return ex && (ex->nbase > 0 || ex->gitignore);
}

int gs_exclude_uses_gitignore(const gs_exclude *ex)
{
	return ex && ex->gitignore;
}

static int base_excludes(int *out, const gs_exclude *ex, ex_scratch *sc, const char *rel,
			 int is_dir)
{
	int verdict;

	*out = 0;
	if (rules_decide(&verdict, &ex->base, sc, rel, strlen(rel), is_dir) < 0)
		return -1;
	*out = verdict == 1;
	return 0;
}

int gs_exclude_is_excluded(int *out, const gs_exclude *ex, const char *rel, int is_dir)
{
	ex_scratch sc;
	int rc;

	*out = 0;
	if (!ex)
		return 0;
	scratch_init(&sc);
	rc = base_excludes(out, ex, &sc, rel, is_dir);
	scratch_free(&sc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Walks                                                               */

struct gs_exclude_dir {
	char *rel;            /* NULL: free slot */
	size_t len;
	uint64_t hash;
	ex_rules rules;
};

#define FNV_START 1469598103934665603ULL

static uint64_t fnv_add(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void gs_exclude_walk_begin(gs_exclude_walk *walk, const gs_exclude *filter)
{
	memset(walk, 0, sizeof(*walk));
	walk->filter = filter;
}

void gs_exclude_walk_end(gs_exclude_walk *walk)
{
	for (size_t i = 0; i < walk->cap; i++) {
		if (walk->dirs[i].rel) {
			free(walk->dirs[i].rel);
			rules_clear(&walk->dirs[i].rules);
		}
	}
	free(walk->dirs);
	memset(walk, 0, sizeof(*walk));
}

static struct gs_exclude_dir *walk_find(const gs_exclude_walk *walk, const char *rel,
					size_t len, uint64_t hash)
{
	size_t mask, i;

	if (!walk->cap)
		return NULL;
	mask = walk->cap - 1;
	for (i = (size_t)hash & mask; walk->dirs[i].rel; i = (i + 1) & mask) {
		struct gs_exclude_dir *d = &walk->dirs[i];

		if (d->hash == hash && d->len == len && memcmp(d->rel, rel, len) == 0)
			return d;
	}
	return NULL;
}

static int walk_grow(gs_exclude_walk *walk)
{
	size_t cap = walk->cap ? walk->cap * 2 : 16;
	struct gs_exclude_dir *dirs = calloc(cap, sizeof(*dirs));

	if (!dirs)
		return gs_error_set_os(ENOMEM, "out of memory");
	for (size_t i = 0; i < walk->cap; i++) {
		size_t k;

		if (!walk->dirs[i].rel)
			continue;
		for (k = (size_t)walk->dirs[i].hash & (cap - 1); dirs[k].rel; k = (k + 1) & (cap - 1))
			;
		dirs[k] = walk->dirs[i];
	}
	free(walk->dirs);
	walk->dirs = dirs;
	walk->cap = cap;
	return 0;
}

/*
 * Open <abs_dir>/.gitignore when it is a regular file (symlinks followed):
 * *fd = -1 when there is none.  A file that exists but cannot be read is
 * an error, so that nothing is copied that its rules would have kept out.
 */
static int open_gitignore(int *fd, const char *path)
{
	struct stat st;
	int err;

	*fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		err = errno;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return gs_error_set_path(err, path, "");
		return 0;
	}
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
	}
	return 0;
}

int gs_exclude_walk_enter_directory(gs_exclude_walk *walk, const char *abs_dir, const char *rel_dir)
{
	size_t len = strlen(rel_dir), alen = strlen(abs_dir);
	uint64_t hash = fnv_add(FNV_START, rel_dir, len);
	gs_buf path = {0}, data = {0};
	ex_rules rules = {0};
	struct gs_exclude_dir *slot;
	int fd = -1, rc = -1;
	size_t i;

	if (!walk->filter || !walk->filter->gitignore || walk_find(walk, rel_dir, len, hash))
		return 0;
	if (gs_buf_put(&path, abs_dir, alen) < 0 ||
	    ((alen && abs_dir[alen - 1] != '/') && gs_buf_put(&path, "/", 1) < 0) ||
	    gs_buf_puts(&path, ".gitignore") < 0)
		goto done;
	if (open_gitignore(&fd, path.data) < 0)
		goto done;
	if (fd < 0) {
		rc = 0;
		goto done;
	}
	if (read_fd(&data, fd, path.data) < 0 ||
	    rules_parse_gitignore(&rules, data.data, data.size) < 0)
		goto done;
	if (rules.count == 0) {
		rc = 0;
		goto done;
	}
	if ((walk->count + 1) * 2 > walk->cap && walk_grow(walk) < 0)
		goto done;
	for (i = (size_t)hash & (walk->cap - 1); walk->dirs[i].rel; i = (i + 1) & (walk->cap - 1))
		;
	slot = &walk->dirs[i];
	if (!(slot->rel = malloc(len + 1))) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	memcpy(slot->rel, rel_dir, len + 1);
	slot->len = len;
	slot->hash = hash;
	slot->rules = rules;
	memset(&rules, 0, sizeof(rules));
	walk->count++;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	rules_clear(&rules);
	gs_buf_free(&path);
	gs_buf_free(&data);
	return rc;
}

int gs_exclude_walk_is_excluded(int *out, const gs_exclude_walk *walk, const char *rel,
				int is_dir)
{
	const gs_exclude *ex = walk->filter;
	size_t len = strlen(rel), key_len = 0;
	const char *base, *sub = rel, *slash;
	uint64_t hash = FNV_START;
	int verdict = -1, rc = -1;
	ex_scratch sc;

	*out = 0;
	if (!ex)
		return 0;
	scratch_init(&sc);
	if (base_excludes(out, ex, &sc, rel, is_dir) < 0)
		goto done;
	if (*out || !ex->gitignore) {
		rc = 0;
		goto done;
	}
	base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	if (!is_dir && strcmp(base, ".gitignore") == 0) {
		*out = 1;
		rc = 0;
		goto done;
	}
	/*
	 * Each directory above the path, the walk root ("") first; the
	 * deepest .gitignore with an opinion has the last word.  The key of
	 * each directory is the path up to a '/', hashed as the scan goes.
	 */
	while (walk->count) {
		const struct gs_exclude_dir *d = walk_find(walk, rel, key_len, hash);

		if (d) {
			int v;

			if (rules_decide(&v, &d->rules, &sc, sub, len - (size_t)(sub - rel), is_dir) < 0)
				goto done;
			if (v >= 0)
				verdict = v;
		}
		if (!(slash = memchr(sub, '/', len - (size_t)(sub - rel))))
			break;
		hash = fnv_add(hash, rel + key_len, (size_t)(slash - rel) - key_len);
		key_len = (size_t)(slash - rel);
		sub = slash + 1;
	}
	*out = verdict == 1;
	rc = 0;
done:
	scratch_free(&sc);
	return rc;
}
