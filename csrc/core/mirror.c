/*
 * mirror.c - backup and restore: make one repository's refs equal
 * another's, over any transport libgit2 has, or through a bundle file.
 *
 * Both directions work the same way: list the source's refs and the
 * destination's (HEAD left out, annotated tags by their tag object),
 * optionally narrowed and renamed by the caller's ref list, diff them,
 * then move objects and refs.  A backup holds the repository lock from
 * the listing of the store's refs to the end of the push, so the diff it
 * returns is what it pushed; a restore fetches first and takes the lock
 * only to list and move the store's refs.
 */
#include "gs_internal.h"
#include "bundle.h"
#include "lock.h"
#include "objcopy.h"
#include "push.h"
#include "refs.h"
#include "remote.h"
#include "staged.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Ref lists                                                           */

typedef struct {
	char *name;
	git_oid id;
} ref_item;

typedef struct {
	ref_item *items;
	size_t count, cap;
} ref_list;

static int ref_list_add(ref_list *list, const char *name, const git_oid *id)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		ref_item *items = realloc(list->items, cap * sizeof(*items));
		if (!items)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		list->items = items;
		list->cap = cap;
	}
	if (!(list->items[list->count].name = strdup(name)))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	git_oid_cpy(&list->items[list->count].id, id);
	list->count++;
	return 0;
}

static void ref_list_free(ref_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].name);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const ref_item *)a)->name, ((const ref_item *)b)->name);
}

static void ref_list_sort(ref_list *list)
{
	if (list->count)
		qsort(list->items, list->count, sizeof(ref_item), item_cmp);
}

/* In a sorted list. */
static const ref_item *ref_list_find(const ref_list *list, const char *name)
{
	ref_item key = {(char *)name, {{0}}};
	return list->count ? bsearch(&key, list->items, list->count, sizeof(ref_item), item_cmp)
			   : NULL;
}

/* Only refs/... names count: HEAD, peeled "^{}" entries and anything
 * else a server advertises are not refs a mirror moves. */
static int mirrored_name(const char *name)
{
	size_t len = strlen(name);
	return strncmp(name, "refs/", 5) == 0 && !(len > 3 && strcmp(name + len - 3, "^{}") == 0);
}

/* The store's refs: direct ones only (a symbolic ref is an alias). */
static int list_local(ref_list *out, git_repository *repo, const char *context)
{
	git_reference_iterator *iter = NULL;
	git_reference *ref = NULL;
	int rc = -1, git_rc;

	if ((git_rc = git_reference_iterator_new(&iter, repo)) < 0) {
		gs_error_set_git(git_rc, context);
		goto done;
	}
	while ((git_rc = git_reference_next(&ref, iter)) == 0) {
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    mirrored_name(git_reference_name(ref)) &&
		    ref_list_add(out, git_reference_name(ref), git_reference_target(ref)) < 0)
			goto done;
		git_reference_free(ref);
		ref = NULL;
	}
	if (git_rc != GIT_ITEROVER) {
		gs_error_set_git(git_rc, context);
		goto done;
	}
	ref_list_sort(out);
	rc = 0;
done:
	git_reference_free(ref);
	git_reference_iterator_free(iter);
	return rc;
}

static int list_remote(ref_list *out, git_remote *remote, gs_transfer *t)
{
	const git_remote_head **heads;
	size_t count;
	int git_rc;

	if ((git_rc = git_remote_ls(&heads, &count, remote)) < 0)
		return gs_transfer_fail(t, git_rc);
	for (size_t i = 0; i < count; i++)
		if (mirrored_name(heads[i]->name) &&
		    ref_list_add(out, heads[i]->name, &heads[i]->oid) < 0)
			return -1;
	ref_list_sort(out);
	return 0;
}

/* A bundle's refs; *head_branch gets the last branch in the file at
 * HEAD's commit (a bundle names no branch for HEAD, and that is the one
 * git clone takes), or NULL. */
static int list_bundle(ref_list *out, char **head_branch, const char *path)
{
	gs_bundle_ref *refs = NULL;
	const git_oid *head = NULL;
	size_t count = 0;
	int rc = -1;

	if (head_branch)
		*head_branch = NULL;
	if (gs_bundle_list(&refs, &count, path) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(refs[i].name, "HEAD") == 0) {
			head = &refs[i].id;
		} else if (mirrored_name(refs[i].name) &&
			   ref_list_add(out, refs[i].name, &refs[i].id) < 0) {
			goto done;
		}
	}
	/* Sorted once, at the end; a name listed twice is kept once. */
	ref_list_sort(out);
	if (out->count > 1) {
		size_t kept = 1;
		for (size_t i = 1; i < out->count; i++) {
			if (strcmp(out->items[i].name, out->items[kept - 1].name) == 0)
				free(out->items[i].name);
			else
				out->items[kept++] = out->items[i];
		}
		out->count = kept;
	}
	for (size_t i = count; head && head_branch && !*head_branch && i-- > 0;)
		if (strncmp(refs[i].name, GS_REFS_HEADS, strlen(GS_REFS_HEADS)) == 0 &&
		    git_oid_equal(&refs[i].id, head) && !(*head_branch = strdup(refs[i].name))) {
			gs_error_set(GS_ERR_NOMEM, "out of memory");
			goto done;
		}
	rc = 0;
done:
	gs_bundle_refs_free(refs, count);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The caller's ref selection                                          */

static const char *const short_prefixes[] = {"refs/heads/", "refs/tags/", "refs/notes/"};
#define SHORT_PREFIX_COUNT 3

static char *join(const char *a, const char *b)
{
	char *out = malloc(strlen(a) + strlen(b) + 1);
	if (out)
		sprintf(out, "%s%s", a, b);
	return out;
}

/* The full name a short one stands for among `source`'s refs. */
static int resolve_name(char **out, const ref_list *source, const char *name,
			const char *source_display)
{
	char quoted[600];

	*out = NULL;
	if (strncmp(name, "refs/", 5) == 0) {
		if (ref_list_find(source, name))
			*out = strdup(name);
	} else {
		for (size_t i = 0; i < SHORT_PREFIX_COUNT && !*out; i++) {
			char *full = join(short_prefixes[i], name);
			if (!full)
				return gs_error_set(GS_ERR_NOMEM, "out of memory");
			if (ref_list_find(source, full))
				*out = full;
			else
				free(full);
		}
	}
	if (!*out)
		return gs_error_set(GS_ERR_KEY, "no ref %s in %s", gs_repr(quoted, sizeof(quoted), name),
				    source_display);
	return 0;
}

/* A destination name given short takes its source's namespace. */
static char *destination_name(const char *source_full, const char *given)
{
	const char *slash;

	if (strncmp(given, "refs/", 5) == 0)
		return strdup(given);
	for (size_t i = 0; i < SHORT_PREFIX_COUNT; i++)
		if (strncmp(source_full, short_prefixes[i], strlen(short_prefixes[i])) == 0)
			return join(short_prefixes[i], given);
	slash = strrchr(source_full, '/');
	{
		size_t keep = (size_t)(slash - source_full) + 1;
		char *out = malloc(keep + strlen(given) + 1);
		if (out) {
			memcpy(out, source_full, keep);
			strcpy(out + keep, given);
		}
		return out;
	}
}

/*
 * The refs to move, as (source name, destination name, id): every ref of
 * `source` under its own name, or the caller's selection.  `wanted` gets
 * the destination names, sorted, and `sources` the matching source names
 * in the same order.
 */
typedef struct {
	ref_list wanted;      /* destination name -> id */
	char **sources;       /* parallel to wanted.items */
	int selective;        /* the caller named the refs */
} selection;

static void selection_free(selection *sel)
{
	if (sel->sources)
		for (size_t i = 0; i < sel->wanted.count; i++)
			free(sel->sources[i]);
	free(sel->sources);
	ref_list_free(&sel->wanted);
	memset(sel, 0, sizeof(*sel));
}

typedef struct {
	const char *source;
	const char *dest;
	git_oid id;
} pair;

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const pair *)a)->dest, ((const pair *)b)->dest);
}

static int select_refs(selection *sel, const ref_list *source, const gs_mirror_opts *opts,
		       const char *source_display)
{
	char **full = NULL, **dest = NULL;
	pair *pairs = NULL;
	size_t n = opts->refs ? opts->ref_count : source->count;
	int rc = -1;

	memset(sel, 0, sizeof(*sel));
	sel->selective = opts->refs != NULL;
	if (n && (!(full = calloc(n, sizeof(char *))) || !(dest = calloc(n, sizeof(char *))) ||
		  !(pairs = calloc(n, sizeof(pair))) ||
		  !(sel->sources = calloc(n, sizeof(char *))))) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const ref_item *item;
		int valid = 0;

		if (opts->refs) {
			const char *given = opts->rename ? opts->rename[i] : opts->refs[i];
			if (resolve_name(&full[i], source, opts->refs[i], source_display) < 0)
				goto done;
			dest[i] = destination_name(full[i], given);
		} else {
			full[i] = strdup(source->items[i].name);
			dest[i] = strdup(source->items[i].name);
		}
		if (!full[i] || !dest[i]) {
			gs_error_set(GS_ERR_NOMEM, "out of memory");
			goto done;
		}
		if (git_reference_name_is_valid(&valid, dest[i]) < 0 || !valid) {
			gs_error_set(GS_ERR_INVALID, "Invalid ref name: %s", dest[i]);
			goto done;
		}
		item = ref_list_find(source, full[i]);
		pairs[i].source = full[i];
		pairs[i].dest = dest[i];
		git_oid_cpy(&pairs[i].id, &item->id);
	}
	if (n)
		qsort(pairs, n, sizeof(pair), pair_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(pairs[i].dest, pairs[i - 1].dest) == 0) {
			if (strcmp(pairs[i].source, pairs[i - 1].source) == 0)
				continue;   /* the same ref named twice */
			gs_error_set(GS_ERR_INVALID, "two refs would both become %s", pairs[i].dest);
			goto done;
		}
		if (ref_list_add(&sel->wanted, pairs[i].dest, &pairs[i].id) < 0 ||
		    !(sel->sources[sel->wanted.count - 1] = strdup(pairs[i].source))) {
			gs_error_set(GS_ERR_NOMEM, "out of memory");
			goto done;
		}
	}
	rc = 0;
done:
	for (size_t i = 0; i < n; i++) {
		if (full)
			free(full[i]);
		if (dest)
			free(dest[i]);
	}
	free(full);
	free(dest);
	free(pairs);
	if (rc < 0)
		selection_free(sel);
	return rc;
}

/* The destination name the source's ref `name` gets, or NULL. */
static const char *renamed(const selection *sel, const char *name)
{
	for (size_t i = 0; i < sel->wanted.count; i++)
		if (strcmp(sel->sources[i], name) == 0)
			return sel->wanted.items[i].name;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The diff                                                            */

static int change_add(gs_ref_change **changes, size_t *count, size_t *cap, const char *ref,
		      const git_oid *old_id, const git_oid *new_id)
{
	gs_ref_change *c;

	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		gs_ref_change *grown = realloc(*changes, ncap * sizeof(*grown));
		if (!grown)
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		*changes = grown;
		*cap = ncap;
	}
	c = &(*changes)[*count];
	memset(c, 0, sizeof(*c));
	if (!(c->ref = strdup(ref)))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	if (old_id) {
		c->has_old = 1;
		git_oid_cpy(&c->old_id, old_id);
	}
	if (new_id) {
		c->has_new = 1;
		git_oid_cpy(&c->new_id, new_id);
	}
	(*count)++;
	return 0;
}

void gs_ref_changes_free(gs_ref_change *changes, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(changes[i].ref);
	free(changes);
}

/* What makes `dest` equal sel->wanted; with a selection, refs outside it
 * are left alone.  Both lists sorted; so is the result. */
static int diff_refs(gs_ref_change **out, size_t *count, const selection *sel,
		     const ref_list *dest)
{
	const ref_list *want = &sel->wanted;
	size_t i = 0, j = 0, cap = 0;

	*out = NULL;
	*count = 0;
	while (i < want->count || j < dest->count) {
		int cmp = i == want->count ? 1 : j == dest->count ? -1 :
			  strcmp(want->items[i].name, dest->items[j].name);
		int rc = 0;

		if (cmp < 0) {
			rc = change_add(out, count, &cap, want->items[i].name, NULL,
					&want->items[i].id);
			i++;
		} else if (cmp > 0) {
			if (!sel->selective)
				rc = change_add(out, count, &cap, dest->items[j].name,
						&dest->items[j].id, NULL);
			j++;
		} else {
			if (!git_oid_equal(&want->items[i].id, &dest->items[j].id))
				rc = change_add(out, count, &cap, want->items[i].name,
						&dest->items[j].id, &want->items[i].id);
			i++;
			j++;
		}
		if (rc < 0) {
			gs_ref_changes_free(*out, *count);
			*out = NULL;
			*count = 0;
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Where the other repository is                                        */

typedef struct {
	char *display;   /* for messages: credentials hidden */
	char *local;     /* a local path (bundle or repository), or NULL */
	char *remote;    /* the URL libgit2 gets, or NULL */
	int bundle;
} location;

static void location_free(location *loc)
{
	free(loc->display);
	free(loc->local);
	free(loc->remote);
	memset(loc, 0, sizeof(*loc));
}

static char *expand_home(const char *path)
{
	const char *rest = path + 1, *home = NULL;
	struct passwd pw, *found = NULL;
	char buf[4096];
	size_t name_len = strcspn(rest, "/");

	if (name_len == 0) {
		home = getenv("HOME");
		if ((!home || !*home) &&
		    getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) == 0 && found)
			home = found->pw_dir;
	} else {
		char name[256];
		if (name_len < sizeof(name)) {
			memcpy(name, rest, name_len);
			name[name_len] = '\0';
			if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found)
				home = found->pw_dir;
		}
	}
	if (!home)
		return strdup(path);   /* as git does with an unknown user */
	return join(home, rest + name_len);
}

/* An scp-like "[user@]host:path", or "[user@][host:port]:path", as the
 * ssh:// URL libgit2 takes (a relative path is relative to the home). */
static char *scp_to_ssh(const char *url, const char *colon)
{
	const char *path = colon + 1;
	const char *host = url, *at = memchr(url, '@', (size_t)(colon - url));
	size_t user_len = 0;
	char *out;

	if (at) {
		user_len = (size_t)(at - url) + 1;
		host = at + 1;
	}
	out = malloc(strlen(url) + 16);
	if (!out)
		return NULL;
	{
		size_t host_len = (size_t)(colon - host);
		char *p = out;
		p += sprintf(p, "ssh://%.*s", (int)user_len, url);
		if (host[0] == '[' && host_len > 2 && host[host_len - 1] == ']') {
			/* [host:port] gives a port; [v6 address] stays bracketed */
			const char *inner = host + 1;
			size_t inner_len = host_len - 2;
			const char *colon = memchr(inner, ':', inner_len);
			if (colon && !memchr(colon + 1, ':', inner_len - (size_t)(colon + 1 - inner)))
				p += sprintf(p, "%.*s", (int)inner_len, inner);
			else
				p += sprintf(p, "[%.*s]", (int)inner_len, inner);
		} else {
			p += sprintf(p, "%.*s", (int)host_len, host);
		}
		if (path[0] == '/')
			sprintf(p, "%s", path);
		else if (path[0] == '~')
			sprintf(p, "/%s", path);
		else
			sprintf(p, "/~/%s", path);
	}
	return out;
}

static int ends_with_bundle(const char *path)
{
	size_t len = strlen(path);
	return len >= 7 && strcasecmp(path + len - 7, ".bundle") == 0;
}

/*
 * Classify a URL: http(s)://, git://, ssh:// (schemes in any case) and
 * scp-like "[user@]host:path" are remote; file:// and everything else is
 * a local path ("~" expanded).  Another scheme is GS_ERR_INVALID.
 */
static int classify(location *loc, const char *url, int force_bundle, int local_path)
{
	static const char *const remote_schemes[] = {"http", "https", "git", "ssh"};
	const char *sep = strstr(url, "://");
	size_t scheme_len = sep ? (size_t)(sep - url) : 0;
	int has_scheme = sep && scheme_len > 0;
	char quoted[600];

	memset(loc, 0, sizeof(*loc));
	if (local_path) {
		if (!(loc->local = strdup(url)))
			goto nomem;
		goto local;
	}
	for (size_t i = 0; has_scheme && i < scheme_len; i++)
		if (!isalnum((unsigned char)url[i]) && !strchr("+-.", url[i]))
			has_scheme = 0;
	if (has_scheme && !isalpha((unsigned char)url[0]))
		has_scheme = 0;
	if (has_scheme) {
		for (size_t i = 0; i < 4; i++) {
			if (scheme_len == strlen(remote_schemes[i]) &&
			    strncasecmp(url, remote_schemes[i], scheme_len) == 0) {
				if (!(loc->remote = strdup(url)))
					goto nomem;
				for (size_t k = 0; k < scheme_len; k++)
					loc->remote[k] = (char)tolower((unsigned char)url[k]);
				goto remote;
			}
		}
		if (scheme_len == 4 && strncasecmp(url, "file", 4) == 0) {
			if (!(loc->local = strdup(url + 7)))
				goto nomem;
			goto local;
		}
		return gs_error_set(GS_ERR_INVALID, "unsupported URL scheme in %s: use a local path, "
				    "file://, http://, https://, git:// or ssh://",
				    gs_repr(quoted, sizeof(quoted), (loc->display =
				    gs_url_hide_credentials(url)) ? loc->display : "URL"));
	}
	if (url[0] != '/' && strncmp(url, "./", 2) != 0 && strncmp(url, "../", 3) != 0 &&
	    url[0] != '~') {
		/* git's rule: a ':' before any '/' makes it scp-like; a single
		 * letter before it is a drive, and brackets may hold one. */
		const char *colon, *slash = strchr(url, '/');
		const char *search = url;
		const char *at = strchr(url, '@');

		if (at && (!slash || at < slash) && at[1] == '[')
			search = at + 1;
		if (search[0] == '[') {
			const char *close = strchr(search, ']');
			colon = close ? strchr(close, ':') : NULL;
			if (colon && colon != close + 1)
				colon = NULL;
		} else {
			colon = strchr(url, ':');
		}
		if (colon && (!slash || colon < slash) && colon > url &&
		    !(colon == url + 1 && isalpha((unsigned char)url[0]))) {
			if (!(loc->remote = scp_to_ssh(url, colon)))
				goto nomem;
			goto remote;
		}
	}
	loc->local = url[0] == '~' ? expand_home(url) : strdup(url);
	if (!loc->local)
		goto nomem;
local:
	if (!*loc->local)
		return gs_error_set(GS_ERR_INVALID, "empty path in %s",
				    gs_repr(quoted, sizeof(quoted), url));
	loc->bundle = force_bundle || ends_with_bundle(loc->local);
	if (!(loc->display = strdup(url)))
		goto nomem;
	return 0;
remote:
	if (force_bundle)
		return gs_error_set(GS_ERR_INVALID, "a bundle is a local file, not %s",
				    gs_repr(quoted, sizeof(quoted), (loc->display =
				    gs_url_hide_credentials(url)) ? loc->display : "URL"));
	if (!(loc->display = gs_url_hide_credentials(url)))
		goto nomem;
	return 0;
nomem:
	return gs_error_set(GS_ERR_NOMEM, "out of memory");
}

/*
 * url.<base>.insteadOf, as git applies it: a URL that starts with the
 * setting's value is rewritten to start with <base> instead.  The
 * longest value that matches wins; of equal ones, the base that comes
 * first in the configuration.  A push looks at pushInsteadOf first and
 * falls back to insteadOf when none matches.  (libgit2's own lookup in
 * git_remote_create is not used: in 1.5 it leaks a regex match for every
 * configuration entry.)
 */
typedef struct {
	const char *key;   /* "insteadof" or "pushinsteadof" */
	char **bases;      /* in order of first appearance, as git ranks them */
	size_t count, cap;
	size_t best;       /* index into bases, or SIZE_MAX */
	size_t best_len;   /* the length of the prefix it replaces */
} url_rewrite;

static void url_rewrite_free(url_rewrite *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->bases[i]);
	free(r->bases);
}

/* One configuration entry url.<base>.<r->key> = value, against url. */
static int url_rewrite_consider(url_rewrite *r, const char *base, size_t base_len,
				const char *value, const char *url)
{
	size_t i, len = strlen(value);

	for (i = 0; i < r->count; i++)
		if (strlen(r->bases[i]) == base_len && memcmp(r->bases[i], base, base_len) == 0)
			break;
	if (i == r->count) {
		if (r->count == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 8;
			char **grown = realloc(r->bases, cap * sizeof(*grown));
			if (!grown)
				return gs_error_set(GS_ERR_NOMEM, "out of memory");
			r->bases = grown;
			r->cap = cap;
		}
		if (!(r->bases[i] = strndup(base, base_len)))
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		r->count++;
	}
	if (strncmp(url, value, len) == 0 &&
	    (r->best == SIZE_MAX || len > r->best_len || (len == r->best_len && i < r->best))) {
		r->best = i;
		r->best_len = len;
	}
	return 0;
}

/* *out: url rewritten by the store's git configuration (its own, the
 * user's and the system's), malloc'd. */
static int rewrite_url(char **out, gs_store *store, const char *url, int push)
{
	url_rewrite rules[2] = {{"pushinsteadof", NULL, 0, 0, SIZE_MAX, 0},
				{"insteadof", NULL, 0, 0, SIZE_MAX, 0}};
	git_repository *repo = NULL;
	git_config *config = NULL;
	git_config_iterator *iter = NULL;
	git_config_entry *entry;
	int rc = -1, git_rc;

	*out = NULL;
	if (gs_repo_acquire(&repo, store) < 0)
		goto done;
	if ((git_rc = git_repository_config_snapshot(&config, repo)) < 0 ||
	    (git_rc = git_config_iterator_new(&iter, config)) < 0) {
		gs_error_set_git(git_rc, store->path);
		goto done;
	}
	while ((git_rc = git_config_next(&entry, iter)) == 0) {
		const char *name = entry->name, *dot = strrchr(name, '.');

		/* "url.<base>.<key>": the base may hold dots, the key none */
		if (!entry->value || strncasecmp(name, "url.", 4) != 0 || dot < name + 4)
			continue;
		for (size_t k = push ? 0 : 1; k < 2; k++)
			if (strcasecmp(dot + 1, rules[k].key) == 0 &&
			    url_rewrite_consider(&rules[k], name + 4, (size_t)(dot - name - 4),
						 entry->value, url) < 0)
				goto done;
	}
	if (git_rc != GIT_ITEROVER) {
		gs_error_set_git(git_rc, store->path);
		goto done;
	}
	for (size_t k = 0; k < 2 && !*out; k++) {
		if (rules[k].best == SIZE_MAX)
			continue;
		if (!(*out = join(rules[k].bases[rules[k].best], url + rules[k].best_len)))
			goto nomem;
	}
	if (!*out && !(*out = strdup(url)))
		goto nomem;
	rc = 0;
	goto done;
nomem:
	gs_error_set(GS_ERR_NOMEM, "out of memory");
done:
	url_rewrite_free(&rules[0]);
	url_rewrite_free(&rules[1]);
	git_config_iterator_free(iter);
	git_config_free(config);
	gs_repo_release(store, repo);
	return rc;
}

/* Where `url` leads, for a backup (push) or a restore: a str is first
 * rewritten as git's url.<base>.insteadOf settings say; an os.PathLike
 * (opts->local_path) is a path as it is. */
static int locate(location *loc, gs_store *store, const char *url, int push,
		  const gs_mirror_opts *opts)
{
	char *rewritten = NULL;
	int rc;

	if (opts->local_path)
		return classify(loc, url, opts->bundle, 1);
	if (rewrite_url(&rewritten, store, url, push) < 0) {
		memset(loc, 0, sizeof(*loc));
		return -1;
	}
	rc = classify(loc, rewritten, opts->bundle, 0);
	free(rewritten);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Local destinations and sources                                       */

/* Is `path` a git repository?  (A directory holding HEAD and objects/.) */
static int is_repository(const char *path)
{
	git_repository *repo = NULL;
	int rc = git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	git_repository_free(repo);
	return rc == 0;
}

static int dir_is_empty(const char *path, int *empty)
{
	DIR *dir = opendir(path);
	struct dirent *e;

	*empty = 1;
	if (!dir)
		return gs_error_set_path(errno, path, "cannot read");
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			*empty = 0;
			break;
		}
	closedir(dir);
	return 0;
}

/*
 * A new bare repository at loc->local (missing, or an empty directory),
 * HEAD on `head`: made under a staged name beside it and renamed into
 * place, so that a process killed meanwhile leaves no half-made
 * repository where backups go (and the next backup there removes what
 * it left).
 */
static int create_repository(const location *loc, const char *head)
{
	git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_repository *repo = NULL;
	gs_staged staged;
	int rc = -1, git_rc;

	if (gs_staged_dir(&staged, loc->local) < 0)
		return -1;
	init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT;
	init.initial_head = head;
	if ((git_rc = git_repository_init_ext(&repo, staged.path, &init)) < 0) {
		gs_error_set_git(git_rc, loc->display);
		goto done;
	}
	git_repository_free(repo);
	/* rename() replaces a missing path or an empty directory alike. */
	if (gs_staged_commit(&staged, loc->local) < 0)
		goto done;
	rc = 0;
done:
	gs_staged_discard(&staged);
	return rc;
}

/*
 * A backup's local destination: it must be a repository, or missing (or
 * an empty directory), in which case it is made a bare one whose HEAD is
 * `head` (NULL: libgit2's default).  *created says whether it is new.
 */
static int prepare_destination(int *missing, const location *loc, const char *head,
			       int dry_run)
{
	struct stat st;
	int empty = 0;

	*missing = 0;
	if (stat(loc->local, &st) < 0) {
		if (errno != ENOENT)
			return gs_error_set_path(errno, loc->local, "cannot read");
		*missing = 1;
		if (dry_run) {
			/* Nothing is created; the parent must still be there. */
			char *parent = strdup(loc->local), *slash;
			int rc = 0;
			if (!parent)
				return gs_error_set(GS_ERR_NOMEM, "out of memory");
			while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash > parent)
				*slash = '\0';
			slash = strrchr(parent, '/');
			if (slash && slash > parent) {
				*slash = '\0';
				if (stat(parent, &st) < 0)
					rc = gs_error_set_path(errno, loc->local, "cannot create");
			}
			free(parent);
			return rc;
		}
	} else if (S_ISDIR(st.st_mode)) {
		if (is_repository(loc->local)) {
			if (!dry_run)
				gs_staged_clean(loc->local);
			return 0;
		}
		if (dir_is_empty(loc->local, &empty) < 0)
			return -1;
		if (!empty)
			return gs_error_set(GS_ERR_GIT, "%s: not a git repository (and not empty)",
					    loc->display);
		*missing = 1;
		if (dry_run)
			return 0;
	} else {
		return gs_error_set(GS_ERR_GIT, "%s: not a git repository", loc->display);
	}
	return create_repository(loc, head);
}


/* A local repository, opened: GS_ERR_GIT naming it when it is not one. */
static int open_local(git_repository **out, const location *loc)
{
	int git_rc = git_repository_open_ext(out, loc->local, GIT_REPOSITORY_OPEN_NO_SEARCH,
					     NULL);
	if (git_rc < 0) {
		*out = NULL;
		return gs_error_set(GS_ERR_GIT, "%s: not a git repository", loc->display);
	}
	return 0;
}

/* The ids the changes give refs: what the objects must reach. */
static int new_tips(git_oid **out, size_t *n, const gs_ref_change *changes, size_t count)
{
	*n = 0;
	if (!(*out = malloc((count ? count : 1) * sizeof(git_oid))))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < count; i++)
		if (changes[i].has_new)
			git_oid_cpy(&(*out)[(*n)++], &changes[i].new_id);
	return 0;
}

/* The ids a ref list holds. */
static int ref_ids(git_oid **out, const ref_list *refs)
{
	if (!(*out = malloc((refs->count + 1) * sizeof(git_oid))))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < refs->count; i++)
		git_oid_cpy(&(*out)[i], &refs->items[i].id);
	return 0;
}

/*
 * Move a local destination's refs (another repository: libgit2's own
 * lock files, compare-and-swap against the values the diff saw, so a
 * concurrent writer there is an error rather than lost).
 */
static int move_destination_refs(git_repository *dest, const gs_ref_change *changes,
				 size_t count, const char *display)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < count; i++) {
			const gs_ref_change *c = &changes[i];
			git_reference *ref = NULL;
			int git_rc = 0;

			if (pass == 0 && !c->has_new) {
				git_rc = git_reference_lookup(&ref, dest, c->ref);
				if (git_rc == 0 && git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
				    !git_oid_equal(git_reference_target(ref), &c->old_id))
					git_rc = GIT_EMODIFIED;
				else if (git_rc == 0)
					git_rc = git_reference_delete(ref);
			} else if (pass == 1 && c->has_new) {
				git_rc = c->has_old ?
					git_reference_create_matching(&ref, dest, c->ref, &c->new_id,
								      1, &c->old_id, NULL) :
					git_reference_create(&ref, dest, c->ref, &c->new_id, 0, NULL);
			}
			git_reference_free(ref);
			if (git_rc == GIT_EMODIFIED || git_rc == GIT_EEXISTS)
				return gs_error_set(GS_ERR_GIT, "%s: %s changed during the backup",
						    display, c->ref);
			if (git_rc < 0 && git_rc != GIT_ENOTFOUND) {
				const git_error *e = git_error_last();
				return gs_error_set(GS_ERR_GIT, "%s: %s", display,
						    e && e->message ? e->message : c->ref);
			}
		}
	}
	return 0;
}

static int say_done(const gs_mirror_opts *opts, size_t refs)
{
	char line[64];
	int n;

	if (!opts->progress)
		return 0;
	n = snprintf(line, sizeof(line), "Updated %zu ref%s.\n", refs, refs == 1 ? "" : "s");
	return opts->progress(opts->progress_ctx, line, (size_t)n);
}

/* Backup to a repository on this machine: objects copied, refs moved. */
static int backup_local(gs_ref_change **out, size_t *count, git_repository *repo,
			const location *loc, const selection *sel, const gs_mirror_opts *opts)
{
	git_repository *dest = NULL;
	ref_list existing = {0};
	git_oid *tips = NULL, *present = NULL;
	size_t ntips, copied;
	int rc = -1;

	if (open_local(&dest, loc) < 0 ||
	    list_local(&existing, dest, loc->display) < 0 ||
	    diff_refs(out, count, sel, &existing) < 0)
		goto done;
	if (opts->dry_run || !*count) {
		rc = 0;
		goto done;
	}
	if (new_tips(&tips, &ntips, *out, *count) < 0 ||
	    ref_ids(&present, &existing) < 0 ||
	    gs_objects_copy(&copied, repo, dest, present, existing.count, tips, ntips,
			    opts->progress, opts->progress_ctx) < 0 ||
	    move_destination_refs(dest, *out, *count, loc->display) < 0 ||
	    say_done(opts, *count) < 0)
		goto done;
	rc = 0;
done:
	free(tips);
	free(present);
	ref_list_free(&existing);
	git_repository_free(dest);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Backup                                                               */

/* The full name of the store's current branch, or NULL. */
static int head_target(char **out, git_repository *repo)
{
	git_reference *head = NULL;
	int rc = 0;

	*out = NULL;
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    !(*out = strdup(git_reference_symbolic_target(head))))
		rc = gs_error_set(GS_ERR_NOMEM, "out of memory");
	git_reference_free(head);
	return rc;
}

static int write_bundle(git_repository *repo, const location *loc, const selection *sel,
			const char *head_name, gs_transfer *t)
{
	gs_bundle_ref *refs = calloc(sel->wanted.count + 1, sizeof(*refs));
	const ref_item *head = head_name ? ref_list_find(&sel->wanted, head_name) : NULL;
	size_t n = 0;
	int rc;

	if (!refs)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	/* HEAD first and its branch last: of the branches at HEAD's commit,
	 * git clone checks out the last one listed. */
	if (head) {
		refs[n].name = (char *)"HEAD";
		git_oid_cpy(&refs[n++].id, &head->id);
	}
	for (size_t i = 0; i < sel->wanted.count; i++) {
		if (head && &sel->wanted.items[i] == head)
			continue;
		refs[n].name = sel->wanted.items[i].name;
		git_oid_cpy(&refs[n++].id, &sel->wanted.items[i].id);
	}
	if (head) {
		refs[n].name = head->name;
		git_oid_cpy(&refs[n++].id, &head->id);
	}
	rc = gs_bundle_write(repo, loc->local, refs, n, t->progress, t->progress_ctx);
	free(refs);   /* the names belong to sel */
	return rc;
}

static int connect_remote(git_remote **out, git_repository *repo, const char *url,
			  gs_transfer *t, git_direction direction)
{
	git_remote_callbacks callbacks;
	int git_rc;

	git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;

	*out = NULL;
	/* url.<base>.insteadOf was applied already (locate). */
	create.repository = repo;
	create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((git_rc = git_remote_create_with_opts(out, url, &create)) < 0)
		return gs_transfer_fail(t, git_rc);
	gs_transfer_callbacks(&callbacks, t);
	if ((git_rc = git_remote_connect(*out, direction, &callbacks, NULL, NULL)) < 0)
		return gs_transfer_fail(t, git_rc);
	return 0;
}

int gs_backup(gs_ref_change **out, size_t *count, gs_store *store, const char *url,
	      const gs_mirror_opts *opts)
{
	location loc;
	gs_transfer t;
	selection sel;
	ref_list local = {0}, dest = {0};
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	gs_lock *lock = NULL;
	char *head = NULL;
	const char *dest_head = NULL;
	int rc = -1, missing = 0;

	*out = NULL;
	*count = 0;
	memset(&sel, 0, sizeof(sel));
	memset(&t, 0, sizeof(t));
	if (locate(&loc, store, url, 1, opts) < 0)
		goto done;
	if (!opts->dry_run && gs_lock_acquire(&lock, store) < 0)
		goto done;
	if (gs_repo_acquire(&repo, store) < 0 ||
	    list_local(&local, repo, store->path) < 0 ||
	    select_refs(&sel, &local, opts, store->path) < 0 ||
	    head_target(&head, repo) < 0)
		goto done;
	if (head)
		dest_head = sel.selective ? renamed(&sel, head) : head;

	if (loc.bundle) {
		if (access(loc.local, F_OK) == 0 && list_bundle(&dest, NULL, loc.local) < 0)
			goto done;
		if (gs_transfer_init(&t, loc.local, opts->progress, opts->progress_ctx,
				     loc.display) < 0 ||
		    diff_refs(out, count, &sel, &dest) < 0)
			goto done;
		if (!opts->dry_run && write_bundle(repo, &loc, &sel, dest_head, &t) < 0)
			goto done;
		rc = 0;
		goto done;
	}
	if (loc.local) {
		if (prepare_destination(&missing, &loc, dest_head, opts->dry_run) < 0)
			goto done;
		rc = missing && opts->dry_run ? diff_refs(out, count, &sel, &dest)
					      : backup_local(out, count, repo, &loc, &sel, opts);
		goto done;
	}
	if (gs_transfer_init(&t, loc.remote, opts->progress, opts->progress_ctx, loc.display) < 0 ||
	    connect_remote(&remote, repo, t.url, &t, GIT_DIRECTION_PUSH) < 0 ||
	    list_remote(&dest, remote, &t) < 0 ||
	    diff_refs(out, count, &sel, &dest) < 0)
		goto done;
	if (!opts->dry_run) {
		git_oid *present = NULL;
		int failed = ref_ids(&present, &dest) < 0 ||
			     gs_push(&t, repo, *out, *count, present, dest.count) < 0;
		free(present);
		if (failed)
			goto done;
	}
	rc = 0;
done:
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	if (repo)
		gs_repo_release(store, repo);
	gs_lock_release(lock);
	if (rc < 0) {
		gs_ref_changes_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	gs_transfer_clear(&t);
	selection_free(&sel);
	ref_list_free(&local);
	ref_list_free(&dest);
	location_free(&loc);
	free(head);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Restore                                                              */

static int fetch_objects(git_remote *remote, gs_transfer *t, const selection *sel)
{
	git_fetch_options fetch = GIT_FETCH_OPTIONS_INIT;
	git_strarray specs = {NULL, 0};
	int rc = -1, git_rc;

	if (!sel->wanted.count)
		return 0;
	if (!(specs.strings = calloc(sel->wanted.count, sizeof(char *)))) {
		gs_error_set(GS_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < sel->wanted.count; i++) {
		/* Fetch by the source's name; no ref of ours is written here. */
		if (!(specs.strings[i] = strdup(sel->sources[i]))) {
			gs_error_set(GS_ERR_NOMEM, "out of memory");
			goto done;
		}
		specs.count++;
	}
	fetch.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fetch.update_fetchhead = 0;
	gs_transfer_callbacks(&fetch.callbacks, t);
	if ((git_rc = git_remote_download(remote, &specs, &fetch)) < 0) {
		gs_transfer_fail(t, git_rc);
		goto done;
	}
	rc = 0;
done:
	for (size_t i = 0; i < specs.count; i++)
		free(specs.strings[i]);
	free(specs.strings);
	return rc;
}

/* Every object the new refs name must now be here. */
static int check_objects(git_repository *repo, const selection *sel, const char *display)
{
	git_odb *odb = NULL;
	int rc = 0, git_rc;

	if ((git_rc = git_repository_odb(&odb, repo)) < 0)
		return gs_error_set_git(git_rc, display);
	for (size_t i = 0; i < sel->wanted.count && rc == 0; i++)
		if (!git_odb_exists(odb, &sel->wanted.items[i].id))
			rc = gs_error_set(GS_ERR_GIT, "%s: %s names object %s, which did not arrive",
					  display, sel->sources[i],
					  git_oid_tostr_s(&sel->wanted.items[i].id));
	git_odb_free(odb);
	return rc;
}

/* Move the store's refs as `changes` say: deletions first, so that a ref
 * may replace a directory of refs and the other way round. */
static int apply_changes(gs_store *store, git_repository *repo, const gs_ref_change *changes,
			 size_t count)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < count; i++) {
			const gs_ref_change *c = &changes[i];
			if (pass == 0 && !c->has_new) {
				git_reference *ref = NULL;
				int git_rc = git_reference_lookup(&ref, repo, c->ref);
				if (git_rc == 0)
					git_rc = git_reference_delete(ref);
				git_reference_free(ref);
				if (git_rc < 0 && git_rc != GIT_ENOTFOUND)
					return gs_error_set_git(git_rc, c->ref);
			} else if (pass == 1 && c->has_new &&
				   gs_ref_write(store, c->ref, &c->new_id,
						c->has_old ? &c->old_id : NULL, NULL) < 0) {
				return -1;
			}
		}
	}
	return 0;
}

/* When HEAD names a branch that no longer exists, point it at `branch`
 * (the source's HEAD branch, under its name here). */
static int repair_head(gs_store *store, git_repository *repo, const char *branch)
{
	git_reference *head = NULL, *target = NULL;
	int rc = 0;

	if (!branch || git_reference_lookup(&head, repo, "HEAD") < 0)
		return 0;
	if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    git_reference_lookup(&target, repo, git_reference_symbolic_target(head)) ==
	    GIT_ENOTFOUND && git_reference_lookup(&target, repo, branch) == 0)
		rc = gs_head_write(store, branch);
	git_reference_free(target);
	git_reference_free(head);
	return rc;
}

/* The branch the remote's HEAD names, or NULL. */
static int remote_head(char **out, git_remote *remote)
{
	git_buf buf = GIT_BUF_INIT;
	int rc = 0;

	*out = NULL;
	if (git_remote_default_branch(&buf, remote) == 0 && buf.ptr && !(*out = strdup(buf.ptr)))
		rc = gs_error_set(GS_ERR_NOMEM, "out of memory");
	git_buf_dispose(&buf);
	git_error_clear();
	return rc;
}

int gs_restore(gs_ref_change **out, size_t *count, gs_store *store, const char *url,
	       const gs_mirror_opts *opts)
{
	location loc;
	gs_transfer t;
	selection sel;
	ref_list source = {0}, local = {0};
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	gs_lock *lock = NULL;
	git_repository *source_repo = NULL;
	char *head = NULL;
	int rc = -1;

	*out = NULL;
	*count = 0;
	memset(&sel, 0, sizeof(sel));
	memset(&t, 0, sizeof(t));
	if (locate(&loc, store, url, 0, opts) < 0 || gs_repo_acquire(&repo, store) < 0)
		goto done;
	if (loc.local) {
		struct stat st;
		if (stat(loc.local, &st) < 0) {
			gs_error_set(GS_ERR_GIT, "%s: %s", loc.display, errno == ENOENT ?
				     "no such file or directory" : strerror(errno));
			goto done;
		}
	}
	if (loc.bundle) {
		if (list_bundle(&source, &head, loc.local) < 0)
			goto done;
	} else if (loc.local) {
		if (open_local(&source_repo, &loc) < 0 ||
		    list_local(&source, source_repo, loc.display) < 0 ||
		    head_target(&head, source_repo) < 0)
			goto done;
	} else {
		if (gs_transfer_init(&t, loc.remote, opts->progress, opts->progress_ctx,
				     loc.display) < 0 ||
		    connect_remote(&remote, repo, t.url, &t, GIT_DIRECTION_FETCH) < 0 ||
		    list_remote(&source, remote, &t) < 0)
			goto done;
	}
	if (select_refs(&sel, &source, opts, loc.display) < 0)
		goto done;
	if (opts->dry_run) {
		if (list_local(&local, repo, store->path) < 0 ||
		    diff_refs(out, count, &sel, &local) < 0)
			goto done;
		rc = 0;
		goto done;
	}
	if (loc.bundle) {
		if (gs_bundle_unpack(repo, loc.local, opts->progress, opts->progress_ctx) < 0)
			goto done;
	} else if (source_repo) {
		ref_list mine = {0};
		git_oid *tips = NULL, *present = NULL;
		size_t copied;
		int failed = list_local(&mine, repo, store->path) < 0 ||
			     ref_ids(&present, &mine) < 0 || ref_ids(&tips, &sel.wanted) < 0 ||
			     gs_objects_copy(&copied, source_repo, repo, present, mine.count, tips,
					     sel.wanted.count, opts->progress,
					     opts->progress_ctx) < 0;

		free(tips);
		free(present);
		ref_list_free(&mine);
		if (failed)
			goto done;
	} else if (fetch_objects(remote, &t, &sel) < 0) {
		goto done;
	}
	gs_store_packs_changed(store, 0);
	if (gs_repo_reload(repo) < 0 || check_objects(repo, &sel, loc.display) < 0 ||
	    (remote && remote_head(&head, remote) < 0))
		goto done;
	if (gs_lock_acquire(&lock, store) < 0 ||
	    list_local(&local, repo, store->path) < 0 ||
	    diff_refs(out, count, &sel, &local) < 0 ||
	    apply_changes(store, repo, *out, *count) < 0 ||
	    repair_head(store, repo, head && sel.selective ? renamed(&sel, head) : head) < 0)
		goto done;
	rc = 0;
done:
	gs_lock_release(lock);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	if (repo)
		gs_repo_release(store, repo);
	if (rc < 0) {
		gs_ref_changes_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	gs_transfer_clear(&t);
	selection_free(&sel);
	ref_list_free(&source);
	ref_list_free(&local);
	location_free(&loc);
	git_repository_free(source_repo);
	free(head);
	return rc;
}
