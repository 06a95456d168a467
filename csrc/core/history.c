/* history.c - a snapshot's history: its first-parent chain, filtered by
 * time, message and path, and the ancestor n commits back.  A commit the
 * walk does not yield is read for its links only (tree, first parent):
 * from a process-wide cache of links already read, else git's
 * commit-graph, else the start of the commit in its pack, else libgit2.
 * With a path filter each commit's trees along the path are traced once,
 * read raw, and a parent's trace stops at the first level whose id
 * equals the child's: the rest of the path is the same below it, as in
 * git's tree comparison. */
#include "gs_internal.h"
#include "packidx.h"
#include "packread.h"

#include <git2/sys/odb_backend.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The commit-graph file git writes (objects/info/commit-graph, one file,
 * no chain of base graphs): the tree and first parent of each commit in
 * it, found by bisecting its sorted ids instead of inflating the commit.
 * Commits it does not hold are read from the object database. */
typedef struct {
	unsigned char *map;
	size_t size;
	const unsigned char *fanout, *ids, *data;
	uint32_t count;
} commit_graph;

#define GRAPH_DATA_WIDTH (GIT_OID_RAWSZ + 16)
#define GRAPH_NO_PARENT 0x70000000u


static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)gs_be32(p) << 32 | gs_be32(p + 4);
}

/* Map and check the file; anything unexpected leaves the graph unused. */
static void graph_open(commit_graph *g, git_repository *repo)
{
	char *path = NULL;
	struct stat st;
	uint64_t data_size = 0;
	unsigned nchunks;
	int fd = -1;

	memset(g, 0, sizeof(*g));
	path = malloc(strlen(git_repository_path(repo)) + sizeof("objects/info/commit-graph"));
	if (path)
		sprintf(path, "%sobjects/info/commit-graph", git_repository_path(repo));
	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    st.st_size < 8 + 12)
		goto done;
	g->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		goto done;
	}
	g->size = (size_t)st.st_size;
	nchunks = g->map[6];
	/* Signature, version 1, SHA-1, no base graphs. */
	if (memcmp(g->map, "CGPH", 4) || g->map[4] != 1 || g->map[5] != 1 || g->map[7] != 0 ||
	    8 + ((size_t)nchunks + 1) * 12 > g->size)
		goto fail;
	for (unsigned i = 0; i < nchunks; i++) {
		const unsigned char *c = g->map + 8 + (size_t)i * 12;
		uint64_t start = be64(c + 4), end = be64(c + 16);
		const unsigned char *at = g->map + start;

		if (start > end || end > g->size)
			goto fail;
		if (!memcmp(c, "OIDF", 4) && end - start == 256 * 4)
			g->fanout = at;
		else if (!memcmp(c, "OIDL", 4))
			g->ids = at, g->count = (uint32_t)((end - start) / GIT_OID_RAWSZ);
		else if (!memcmp(c, "CDAT", 4))
			g->data = at, data_size = end - start;
	}
	if (g->fanout && g->ids && g->data && gs_be32(g->fanout + 255 * 4) == g->count &&
	    data_size >= (uint64_t)g->count * GRAPH_DATA_WIDTH)
		goto done;
fail:
	munmap(g->map, g->size);
	memset(g, 0, sizeof(*g));
done:
	if (fd >= 0)
		close(fd);
	free(path);
}

static void graph_close(commit_graph *g)
{
	if (g->map)
		munmap(g->map, g->size);
	memset(g, 0, sizeof(*g));
}

/* The links of commit `id` from the graph: 1 when it holds the commit. */
static int graph_links(gs_commit_info *out, const commit_graph *g, const git_oid *id)
{
	uint32_t pos, parent;
	const unsigned char *entry;

	if (!g->map || !gs_fanout_find(&pos, g->fanout, g->ids, g->count, id))
		return 0;
	entry = g->data + (size_t)pos * GRAPH_DATA_WIDTH;
	parent = gs_be32(entry + GIT_OID_RAWSZ);
	if (parent != GRAPH_NO_PARENT && parent >= g->count)
		return 0;
	memset(out, 0, sizeof(*out));
	git_oid_cpy(&out->id, id);
	git_oid_fromraw(&out->tree, entry);
	if (parent != GRAPH_NO_PARENT) {
		git_oid_fromraw(&out->parent, g->ids + (size_t)parent * GIT_OID_RAWSZ);
		out->has_parent = 1;
	}
	return 1;
}

/* Where a walk reads the links of commits from, first to last: the
 * links cache (below), git's commit-graph, the packs read directly, and
 * libgit2.  The files are mapped at the first commit the cache does
 * not hold: a walk the cache answers opens none. */
typedef struct {
	uint64_t tag;           /* the repository's, in the links cache */
	commit_graph graph;
	int graph_tried;
	gs_pack_reader *packs;
	int packs_tried;
} link_source;

static uint64_t repo_tag(git_repository *repo);

static void source_open(link_source *src, git_repository *repo)
{
	memset(src, 0, sizeof(*src));
	src->tag = repo_tag(repo);
}

static void source_close(link_source *src)
{
	graph_close(&src->graph);
	gs_pack_reader_free(src->packs);
	memset(src, 0, sizeof(*src));
}

/* The objects along the path in one commit: level 0 is the root tree,
 * level i the entry named by the i-th segment in the tree at level i-1.
 * `depth` levels are known; the path is there when all nseg + 1 are. */
typedef struct {
	git_oid *ids;
	uint32_t *modes;
	unsigned char *is_tree;
	size_t depth;
} path_trace;

struct gs_history {
	gs_store *store;
	char *path;             /* its segments, NUL-separated */
	char **segs;
	size_t nseg;
	char *match;
	int has_before;
	double before;
	int before_reached;     /* once a commit is old enough, stop checking */
	gs_commit_info current; /* the commit to consider next */
	int has_current;
	int current_full;       /* all of it read, not only its links */
	/* The trace of the path in `current`, when the last step made it. */
	int current_traced;
	path_trace traces[2];
	path_trace *mine, *theirs;
	link_source links;
};

static int trace_alloc(path_trace *t, size_t levels)
{
	t->ids = calloc(levels, sizeof(*t->ids));
	t->modes = calloc(levels, sizeof(*t->modes));
	t->is_tree = calloc(levels, 1);
	return t->ids && t->modes && t->is_tree ? 0 : -1;
}

static void trace_free(path_trace *t)
{
	free(t->ids);
	free(t->modes);
	free(t->is_tree);
}

static int split_path(gs_history *h, const char *path)
{
	size_t n = 1;

	if (!(h->path = strdup(path)))
		return -1;
	for (const char *c = path; *c; c++)
		n += *c == '/';
	if (!(h->segs = calloc(n, sizeof(*h->segs))))
		return -1;
	h->segs[0] = h->path;
	for (char *c = h->path; *c; c++)
		if (*c == '/') {
			*c = '\0';
			h->segs[++h->nseg] = c + 1;
		}
	h->nseg = n;
	h->mine = &h->traces[0];
	h->theirs = &h->traces[1];
	return trace_alloc(&h->traces[0], n + 1) < 0 || trace_alloc(&h->traces[1], n + 1) < 0
		? -1 : 0;
}

/* The error for a failed read of object `id`, a `what` (-1). */
static int read_error(int git_rc, const git_oid *id, const char *what)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	if (git_rc == GIT_ENOTFOUND)
		return gs_error_set(GS_ERR_GIT, "%s %s is missing from the repository", what, hex);
	if (git_rc < 0)
		return gs_error_set_git(git_rc, hex);
	return gs_error_set(GS_ERR_GIT, "object %s is not a valid %s", hex, what);
}

/* An object read from the repository's backends directly (see
 * raw_read), or through git_odb_read (`obj`). */
typedef struct {
	const char *data;
	size_t len;
	git_object_t type;
	git_odb_backend *backend; /* owns data, when it came from one */
	git_odb_object *obj;
} raw_object;

static void raw_free(raw_object *o)
{
	if (o->backend)
		git_odb_backend_data_free(o->backend, (void *)o->data);
	git_odb_object_free(o->obj);
	memset(o, 0, sizeof(*o));
}

/* Object `id` as the backends (packs, loose objects) hold it.  The walk
 * reads thousands of small objects once each: git_odb_read would hash
 * every one again (a third of the time; git itself leaves that to fsck)
 * and put it in the object cache.  What no backend has yet goes through
 * git_odb_read, which knows built-in objects and rescans for new packs,
 * then through a reloaded database. */
static int raw_read(raw_object *out, git_repository *repo, const git_oid *id, const char *what)
{
	git_odb *odb = NULL;
	size_t count;
	int git_rc;

	memset(out, 0, sizeof(*out));
	if ((git_rc = git_repository_odb(&odb, repo)) < 0)
		return gs_error_set_git(git_rc, "object database");
	count = git_odb_num_backends(odb);
	for (size_t i = 0; i < count; i++) {
		git_odb_backend *backend;
		void *data;

		if (git_odb_get_backend(&backend, odb, i) < 0 || !backend->read)
			continue;
		git_rc = backend->read(&data, &out->len, &out->type, backend, id);
		if (git_rc == 0) {
			out->data = data;
			out->backend = backend;
			git_odb_free(odb);
			return 0;
		}
		if (git_rc != GIT_ENOTFOUND && git_rc != GIT_PASSTHROUGH)
			break;
	}
	git_error_clear();
	git_rc = git_odb_read(&out->obj, odb, id);
	git_odb_free(odb);
	if (git_rc == GIT_ENOTFOUND && gs_repo_reload(repo) == 0) {
		if ((git_rc = git_repository_odb(&odb, repo)) == 0)
			git_rc = git_odb_read(&out->obj, odb, id);
		git_odb_free(odb);
	}
	if (git_rc < 0)
		return read_error(git_rc, id, what);
	out->data = git_odb_object_data(out->obj);
	out->len = git_odb_object_size(out->obj);
	out->type = git_odb_object_type(out->obj);
	return 0;
}

/* The value of each hex digit plus one; 0 for anything else. */
static const unsigned char hex_values[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
	['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
	['F'] = 16,
};

/* Id `out` from 40 hex digits: 0, or -1 on anything else.
 * git_oid_fromstrn took a fifth of a commit's reading time. */
static int hex_id(git_oid *out, const char *hex)
{
	const unsigned char *h = (const unsigned char *)hex;

	for (size_t i = 0; i < GIT_OID_RAWSZ; i++) {
		int hi = hex_values[h[2 * i]], lo = hex_values[h[2 * i + 1]];

		if (!hi || !lo)
			return -1;
		out->id[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
	}
	return 0;
}

/* The links of a raw commit: its header starts with the tree, then
 * the parents, each "<key> <hex id>\n"; 0, or -1 when it does not. */
static int parse_links(gs_commit_info *out, const char *data, size_t len)
{
	const size_t line = 5 + GIT_OID_HEXSZ + 1, parent_line = 7 + GIT_OID_HEXSZ + 1;

	if (len < line || memcmp(data, "tree ", 5) || data[line - 1] != '\n' ||
	    hex_id(&out->tree, data + 5) < 0)
		return -1;
	data += line;
	len -= line;
	if (len >= 7 && !memcmp(data, "parent ", 7)) {
		if (len < parent_line || data[parent_line - 1] != '\n' ||
		    hex_id(&out->parent, data + 7) < 0)
			return -1;
		out->has_parent = 1;
	}
	return 0;
}

/*
 * The links of commits read so far, for the whole process, each with a
 * tag of the repository it was read from (a hash of its path): back(n)
 * asked again, or log() walked again, follows these instead of reading
 * the commits, and a commit missing from one repository is not found
 * through another.  Open addressing on the id's first bytes (uniformly
 * spread); kept at most half full, it grows to LINKS_MAX slots, then
 * starts over.
 */
typedef struct {
	git_oid id, tree, parent;
	uint64_t repo;
	unsigned char used, has_parent;
} link_slot;

#define LINKS_MIN 4096
#define LINKS_MAX ((size_t)1 << 18)

static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;
static link_slot *link_table;
static size_t link_table_size, link_table_count;

/* The tag of a repository: FNV-1a of its path. */
static uint64_t repo_tag(git_repository *repo)
{
	uint64_t tag = 14695981039346656037u;

	for (const char *c = git_repository_path(repo); *c; c++)
		tag = (tag ^ (unsigned char)*c) * 1099511628211u;
	return tag;
}

static link_slot *links_slot(link_slot *table, size_t size, uint64_t repo, const git_oid *id)
{
	size_t i = (size_t)(gs_be32(id->id) ^ repo) & (size - 1);

	while (table[i].used && (table[i].repo != repo || !git_oid_equal(&table[i].id, id)))
		i = (i + 1) & (size - 1);
	return &table[i];
}

/* The cached links of `id`: 1 found.  The caller holds links_lock. */
static int links_find_locked(gs_commit_info *out, uint64_t repo, const git_oid *id)
{
	link_slot *s;

	if (!link_table)
		return 0;
	s = links_slot(link_table, link_table_size, repo, id);
	if (!s->used)
		return 0;
	memset(out, 0, sizeof(*out));
	git_oid_cpy(&out->id, id);
	git_oid_cpy(&out->tree, &s->tree);
	git_oid_cpy(&out->parent, &s->parent);
	out->has_parent = s->has_parent;
	return 1;
}

static int links_find(gs_commit_info *out, uint64_t repo, const git_oid *id)
{
	int found;

	pthread_mutex_lock(&links_lock);
	found = links_find_locked(out, repo, id);
	pthread_mutex_unlock(&links_lock);
	return found;
}

/* Remember `info`'s links; without memory the cache just stays as is. */
static void links_add(uint64_t repo, const gs_commit_info *info)
{
	link_slot *s;

	pthread_mutex_lock(&links_lock);
	if ((link_table_count + 1) * 2 > link_table_size) {
		size_t size = link_table_size ? link_table_size * 2 : LINKS_MIN;
		link_slot *table;

		if (size > LINKS_MAX)
			size = LINKS_MAX;
		if ((table = calloc(size, sizeof(*table)))) {
			link_table_count = 0;
			if (size > link_table_size)
				for (size_t i = 0; i < link_table_size; i++)
					if (link_table[i].used) {
						*links_slot(table, size, link_table[i].repo,
							    &link_table[i].id) = link_table[i];
						link_table_count++;
					}
			free(link_table);
			link_table = table;
			link_table_size = size;
		}
	}
	if (link_table && (link_table_count + 1) * 2 <= link_table_size) {
		s = links_slot(link_table, link_table_size, repo, &info->id);
		if (!s->used) {
			s->used = 1;
			s->repo = repo;
			git_oid_cpy(&s->id, &info->id);
			git_oid_cpy(&s->tree, &info->tree);
			git_oid_cpy(&s->parent, &info->parent);
			s->has_parent = (unsigned char)info->has_parent;
			link_table_count++;
		}
	}
	pthread_mutex_unlock(&links_lock);
}

/* The links of a commit from the start of it in a pack: 1 found. */
static int pack_links(gs_commit_info *out, link_source *src, git_repository *repo,
		      const git_oid *id)
{
	char head[5 + GIT_OID_HEXSZ + 1 + 7 + GIT_OID_HEXSZ + 1];
	git_object_t type;
	size_t len;

	if (!src->packs_tried) {
		src->packs_tried = 1;
		if (gs_pack_reader_open(&src->packs, repo) < 0)
			gs_error_clear();
	}
	if (!src->packs || !gs_pack_reader_head(&type, &len, src->packs, id, head, sizeof(head)) ||
	    type != GIT_OBJECT_COMMIT)
		return 0;
	memset(out, 0, sizeof(*out));
	if (parse_links(out, head, len) < 0)
		return 0;
	git_oid_cpy(&out->id, id);
	return 1;
}

/* Only the id, tree and first parent of commit `id`: the walk needs no
 * more from commits it does not yield.  From the cache, the
 * commit-graph, the start of the commit in its pack, or the commit read
 * through libgit2. */
static int read_links(gs_commit_info *out, git_repository *repo, link_source *src,
		      const git_oid *id)
{
	raw_object raw;
	int rc;

	if (links_find(out, src->tag, id))
		return 0;
	if (!src->graph_tried) {
		src->graph_tried = 1;
		graph_open(&src->graph, repo);
	}
	if (graph_links(out, &src->graph, id) || pack_links(out, src, repo, id)) {
		links_add(src->tag, out);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	if (raw_read(&raw, repo, id, "commit") < 0)
		return -1;
	git_oid_cpy(&out->id, id);
	rc = raw.type == GIT_OBJECT_COMMIT && parse_links(out, raw.data, raw.len) == 0
		? 0 : read_error(0, id, "commit");
	raw_free(&raw);
	if (rc == 0)
		links_add(src->tag, out);
	return rc;
}

/* Commit `id` read whole, or only its links (see read_links). */
static int read_commit(gs_commit_info *out, gs_history *h, const git_oid *id, int whole)
{
	git_repository *repo = NULL;
	int rc;

	if (whole)
		return gs_commit_info_read(out, h->store, id);
	if (gs_repo_acquire(&repo, h->store) < 0)
		return -1;
	rc = read_links(out, repo, &h->links, id);
	gs_repo_release(h->store, repo);
	return rc;
}

/* Whether the next commit is wanted whole: when the filters look into it,
 * or when no path can turn it away (it is yielded, so its links alone
 * would be read twice). */
static int need_whole(const gs_history *h)
{
	return !h->path || h->match || (h->has_before && !h->before_reached);
}

int gs_history_open(gs_history **out, gs_store *store, const git_oid *start,
		    const gs_history_filter *filter)
{
	gs_history *h = calloc(1, sizeof(*h));
	git_repository *repo = NULL;

	*out = NULL;
	if (!h)
		return gs_error_set_os(ENOMEM, "out of memory");
	h->store = store;
	h->has_before = filter->has_before;
	h->before = filter->before;
	if ((filter->path && split_path(h, filter->path) < 0) ||
	    (filter->match && !(h->match = strdup(filter->match)))) {
		gs_history_free(h);
		return gs_error_set_os(ENOMEM, "out of memory");
	}
	if (gs_commit_info_read(&h->current, store, start) < 0) {
		gs_history_free(h);
		return -1;
	}
	h->has_current = 1;
	h->current_full = 1;
	if (gs_repo_acquire(&repo, store) < 0) {
		gs_history_free(h);
		return -1;
	}
	source_open(&h->links, repo);
	gs_repo_release(store, repo);
	*out = h;
	return 0;
}

void gs_history_free(gs_history *h)
{
	if (!h)
		return;
	gs_commit_info_clear(&h->current);
	source_close(&h->links);
	trace_free(&h->traces[0]);
	trace_free(&h->traces[1]);
	free(h->segs);
	free(h->path);
	free(h->match);
	free(h);
}

/* The message matched against the pattern without its trailing newlines. */
static int message_matches(int *out, const char *message, const char *pattern)
{
	size_t len = strlen(message);
	char *trimmed;

	while (len > 0 && message[len - 1] == '\n')
		len--;
	if (!(trimmed = strndup(message, len)))
		return gs_error_set_os(ENOMEM, "out of memory");
	*out = gs_fnmatch(pattern, trimmed);
	free(trimmed);
	return 0;
}

static int path_found(const gs_history *h, const path_trace *t)
{
	return t->depth == h->nseg + 1;
}

/* The entry `name` of tree `id`, scanned in the raw object (a trace
 * needs one entry of each tree, not the tree parsed): 1 found, 0 not. */
static int raw_entry(git_oid *entry_id, uint32_t *mode, git_repository *repo,
		     const git_oid *id, const char *name)
{
	raw_object obj;
	const char *data, *end;
	size_t name_len = strlen(name);
	int rc = -1;

	if (raw_read(&obj, repo, id, "tree") < 0)
		return -1;
	if (obj.type != GIT_OBJECT_TREE) {
		read_error(0, id, "tree");
		goto done;
	}
	data = obj.data;
	end = data + obj.len;
	rc = 0;
	while (data < end) {
		const char *space = memchr(data, ' ', (size_t)(end - data)), *nul;
		uint32_t m = 0;

		nul = space ? memchr(space, '\0', (size_t)(end - space)) : NULL;
		if (!nul || end - nul < 1 + GIT_OID_RAWSZ) {
			rc = read_error(0, id, "tree");
			break;
		}
		for (const char *c = data; c < space; c++)
			m = m * 8 + (uint32_t)(*c - '0');
		if ((size_t)(nul - space - 1) == name_len && !memcmp(space + 1, name, name_len)) {
			git_oid_fromraw(entry_id, (const unsigned char *)nul + 1);
			*mode = m;
			rc = 1;
			break;
		}
		data = nul + 1 + GIT_OID_RAWSZ;
	}
done:
	raw_free(&obj);
	return rc;
}

/* Trace the path below root tree `root` into `out`; from a level whose
 * object and mode equal those of `known` (NULL: none) on, copy `known`. */
static int trace_path(path_trace *out, gs_history *h, const git_oid *root,
		      const path_trace *known)
{
	git_repository *repo = NULL;
	size_t k;
	int rc = -1, has;

	git_oid_cpy(&out->ids[0], root);
	out->modes[0] = GS_MODE_TREE;
	out->is_tree[0] = 1;
	out->depth = 1;
	for (k = 0;; k++) {
		if (known && k < known->depth && out->modes[k] == known->modes[k] &&
		    git_oid_equal(&out->ids[k], &known->ids[k])) {
			size_t rest = known->depth - k - 1;
			memcpy(&out->ids[k + 1], &known->ids[k + 1], rest * sizeof(*out->ids));
			memcpy(&out->modes[k + 1], &known->modes[k + 1], rest * sizeof(*out->modes));
			memcpy(&out->is_tree[k + 1], &known->is_tree[k + 1], rest);
			out->depth = known->depth;
			break;
		}
		if (k == h->nseg || !out->is_tree[k])
			break;
		if (!repo && gs_repo_acquire(&repo, h->store) < 0)
			return -1;
		has = raw_entry(&out->ids[k + 1], &out->modes[k + 1], repo, &out->ids[k],
				h->segs[k]);
		if (has < 0)
			goto done;
		if (!has)
			break;
		/* As git_tree_entry_type: a directory mode names a tree. */
		out->is_tree[k + 1] = (out->modes[k + 1] & 0170000) == 0040000;
		out->depth = k + 2;
	}
	rc = 0;
done:
	if (repo)
		gs_repo_release(h->store, repo);
	return rc;
}

/* Whether the entry at the path differs between `current` and `parent`
 * (NULL: a root commit, which changed the path when it has it). */
static int path_changed(int *out, gs_history *h, const gs_commit_info *parent)
{
	path_trace *swap;
	size_t n = h->nseg;

	if (!h->current_traced && trace_path(h->mine, h, &h->current.tree, NULL) < 0)
		return -1;
	if (!parent) {
		*out = path_found(h, h->mine);
		h->current_traced = 0;
		return 0;
	}
	if (trace_path(h->theirs, h, &parent->tree, h->mine) < 0)
		return -1;
	if (path_found(h, h->mine) != path_found(h, h->theirs))
		*out = 1;
	else
		*out = path_found(h, h->mine) &&
		       (h->mine->modes[n] != h->theirs->modes[n] ||
			!git_oid_equal(&h->mine->ids[n], &h->theirs->ids[n]));
	/* The parent is considered next: its trace is kept. */
	swap = h->mine;
	h->mine = h->theirs;
	h->theirs = swap;
	h->current_traced = 1;
	return 0;
}

int gs_history_next(gs_commit_info *out, int *found, gs_history *h)
{
	*found = 0;
	memset(out, 0, sizeof(*out));
	while (h->has_current) {
		gs_commit_info parent = {0};
		int has_parent = h->current.has_parent, keep = 1, parent_full;

		parent_full = need_whole(h);
		if (has_parent &&
		    read_commit(&parent, h, &h->current.parent, parent_full) < 0)
			return -1;
		if (h->has_before && !h->before_reached) {
			if ((double)h->current.time > h->before)
				keep = 0;
			else
				h->before_reached = 1;
		}
		if (keep && h->match && message_matches(&keep, h->current.message, h->match) < 0)
			goto fail;
		if (keep && h->path) {
			if (path_changed(&keep, h, has_parent ? &parent : NULL) < 0)
				goto fail;
		} else {
			h->current_traced = 0;
		}
		if (keep && !h->current_full) {
			git_oid id;
			git_oid_cpy(&id, &h->current.id);
			gs_commit_info_clear(&h->current);
			if (gs_commit_info_read(&h->current, h->store, &id) < 0)
				goto fail;
		}
		if (keep) {
			*out = h->current;
			*found = 1;
		} else {
			gs_commit_info_clear(&h->current);
		}
		h->current = parent;
		h->has_current = has_parent;
		h->current_full = parent_full;
		if (keep)
			return 0;
		continue;
fail:
		gs_commit_info_clear(&parent);
		return -1;
	}
	return 0;
}

int gs_history_ancestor(git_oid *out, int *found, gs_store *store, const git_oid *start,
			size_t n)
{
	gs_commit_info links = {0};
	git_repository *repo = NULL;
	link_source src;
	size_t i = 0;
	int rc = -1;

	*found = 0;
	git_oid_cpy(&links.parent, start);
	links.has_parent = 1;
	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	source_open(&src, repo);
	/* n + 1 commits are read: the ancestor must be one too. */
	while (i <= n) {
		git_oid next;

		if (!links.has_parent) {
			rc = 0;
			goto done;
		}
		git_oid_cpy(&next, &links.parent);
		if (read_links(&links, repo, &src, &next) < 0)
			goto done;
		i++;
		/* Cached links are followed under one hold of the lock. */
		pthread_mutex_lock(&links_lock);
		while (i <= n && links.has_parent && link_table) {
			const link_slot *slot =
				links_slot(link_table, link_table_size, src.tag, &links.parent);
			if (!slot->used)
				break;
			git_oid_cpy(&links.id, &slot->id);
			git_oid_cpy(&links.tree, &slot->tree);
			git_oid_cpy(&links.parent, &slot->parent);
			links.has_parent = slot->has_parent;
			i++;
		}
		pthread_mutex_unlock(&links_lock);
	}
	git_oid_cpy(out, &links.id);
	*found = 1;
	rc = 0;
done:
	gs_repo_release(store, repo);
	source_close(&src);
	return rc;
}
