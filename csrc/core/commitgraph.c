/* commitgraph.c - git's commit-graph file (objects/info/commit-graph)
 * for the commits every ref reaches, written when the store packs: with
 * it git and this library read a commit's tree and parents without
 * inflating the commit (history.c reads it).  One file, format version
 * 1: ids (OIDF, OIDL), the data of each commit (CDAT: tree, first two
 * parents, topological level, commit time) and the further parents of
 * octopus merges (EDGE); no Bloom filters, no chain. */
#include "commitgraph.h"

#include "gs_internal.h"
#include "sha1.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRAPH_NO_PARENT 0x70000000u
#define GRAPH_EXTRA_EDGES 0x80000000u
#define GRAPH_LAST_EDGE 0x80000000u
#define GRAPH_LEVEL_MAX 0x3fffffffu
#define GRAPH_TIME_LIMIT ((int64_t)1 << 34)

typedef struct {
	git_oid id, tree;
	int64_t time;
	size_t first_parent; /* in the parents array */
	size_t nparents;
	uint32_t level;
} graph_commit;

typedef struct {
	git_oid id;
	size_t index;
} id_index;

typedef struct {
	graph_commit *commits; /* parents before children */
	size_t count, cap;
	git_oid *parents;
	size_t nparents, parents_cap;
	id_index *by_id;       /* the commits sorted by id: the graph's order */
} graph_build;

static void build_free(graph_build *b)
{
	free(b->commits);
	free(b->parents);
	free(b->by_id);
}

static int grow(void **array, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *grown;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (!(grown = realloc(*array, n * size)))
		return gs_error_set_os(ENOMEM, "out of memory");
	*array = grown;
	*cap = n;
	return 0;
}

static int compare_ids(const void *a, const void *b)
{
	return git_oid_cmp(&((const id_index *)a)->id, &((const id_index *)b)->id);
}

/* The position of `id` in the graph (its rank by id), or -1. */
static long find(const graph_build *b, const git_oid *id)
{
	size_t lo = 0, hi = b->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = git_oid_cmp(id, &b->by_id[mid].id);

		if (cmp == 0)
			return (long)mid;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Every commit a ref (or HEAD) reaches, parents first.  *usable 0: a
 * commit git's format cannot hold (a time before 1970 or past 2514). */
static int collect(graph_build *b, int *usable, git_repository *repo)
{
	git_revwalk *walk = NULL;
	git_oid id;
	int rc = -1, git_rc;

	*usable = 1;
	if ((git_rc = git_revwalk_new(&walk, repo)) < 0 ||
	    (git_rc = git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE)) < 0 ||
	    (git_rc = git_revwalk_push_glob(walk, "*")) < 0) {
		gs_error_set_git(git_rc, "commit-graph");
		goto done;
	}
	/* A detached HEAD; an unborn one names nothing to walk. */
	if (git_reference_name_to_id(&id, repo, "HEAD") == 0 &&
	    (git_rc = git_revwalk_push(walk, &id)) < 0) {
		gs_error_set_git(git_rc, "commit-graph");
		goto done;
	}
	git_error_clear();
	while ((git_rc = git_revwalk_next(&id, walk)) == 0) {
		git_commit *commit = NULL;
		graph_commit *c;
		unsigned n;

		if ((git_rc = git_commit_lookup(&commit, repo, &id)) < 0) {
			gs_error_set_git(git_rc, "commit-graph");
			goto done;
		}
		n = git_commit_parentcount(commit);
		if (grow((void **)&b->commits, &b->cap, b->count + 1, sizeof(*b->commits)) < 0 ||
		    grow((void **)&b->parents, &b->parents_cap, b->nparents + n,
			 sizeof(*b->parents)) < 0) {
			git_commit_free(commit);
			goto done;
		}
		c = &b->commits[b->count++];
		git_oid_cpy(&c->id, &id);
		git_oid_cpy(&c->tree, git_commit_tree_id(commit));
		c->time = git_commit_time(commit);
		c->first_parent = b->nparents;
		c->nparents = n;
		for (unsigned i = 0; i < n; i++)
			git_oid_cpy(&b->parents[b->nparents++], git_commit_parent_id(commit, i));
		if (c->time < 0 || c->time >= GRAPH_TIME_LIMIT)
			*usable = 0;
		git_commit_free(commit);
	}
	if (git_rc != GIT_ITEROVER) {
		gs_error_set_git(git_rc, "commit-graph");
		goto done;
	}
	rc = 0;
done:
	git_revwalk_free(walk);
	return rc;
}

/* Index by id, and each commit's topological level: 1 for a root, else
 * one more than its parents' highest (parents come first). */
static int levels(graph_build *b)
{
	if (!(b->by_id = malloc(b->count * sizeof(*b->by_id))))
		return gs_error_set_os(ENOMEM, "out of memory");
	for (size_t i = 0; i < b->count; i++) {
		git_oid_cpy(&b->by_id[i].id, &b->commits[i].id);
		b->by_id[i].index = i;
	}
	qsort(b->by_id, b->count, sizeof(*b->by_id), compare_ids);
	for (size_t i = 0; i < b->count; i++) {
		graph_commit *c = &b->commits[i];
		uint32_t level = 0;

		for (size_t k = 0; k < c->nparents; k++) {
			long at = find(b, &b->parents[c->first_parent + k]);
			if (at < 0)
				return gs_error_set(GS_ERR_GIT, "commit-graph: a parent was not walked");
			if (b->commits[b->by_id[at].index].level > level)
				level = b->commits[b->by_id[at].index].level;
		}
		c->level = level < GRAPH_LEVEL_MAX ? level + 1 : GRAPH_LEVEL_MAX;
	}
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* The whole file, its checksum last. */
static int serialize(unsigned char **out, size_t *out_len, const graph_build *b)
{
	size_t nedges = 0, nchunks, header, len, edge = 0;
	uint64_t oidf, oidl, cdat, edges, end;
	unsigned char *buf, *p;
	gs_sha1 sha;

	for (size_t i = 0; i < b->count; i++)
		if (b->commits[i].nparents > 2)
			nedges += b->commits[i].nparents - 1;
	nchunks = nedges ? 4 : 3;
	header = 8 + (nchunks + 1) * 12;
	oidf = header;
	oidl = oidf + 256 * 4;
	cdat = oidl + (uint64_t)b->count * GIT_OID_RAWSZ;
	edges = cdat + (uint64_t)b->count * (GIT_OID_RAWSZ + 16);
	end = edges + (uint64_t)nedges * 4;
	len = (size_t)end + GIT_OID_RAWSZ;
	if (!(buf = calloc(1, len)))
		return gs_error_set_os(ENOMEM, "out of memory");
	memcpy(buf, "CGPH", 4);
	buf[4] = 1;              /* format version */
	buf[5] = 1;              /* SHA-1 */
	buf[6] = (unsigned char)nchunks;
	buf[7] = 0;              /* no base graphs */
	p = buf + 8;
	memcpy(p, "OIDF", 4), put64(p + 4, oidf), p += 12;
	memcpy(p, "OIDL", 4), put64(p + 4, oidl), p += 12;
	memcpy(p, "CDAT", 4), put64(p + 4, cdat), p += 12;
	if (nedges)
		memcpy(p, "EDGE", 4), put64(p + 4, edges), p += 12;
	put64(p + 4, end); /* the terminating entry: id 0, the end */
	for (size_t i = 0, k = 0; i < 256; i++) {
		while (k < b->count && b->by_id[k].id.id[0] <= i)
			k++;
		put32(buf + oidf + i * 4, (uint32_t)k);
	}
	for (size_t i = 0; i < b->count; i++) {
		const graph_commit *c = &b->commits[b->by_id[i].index];
		unsigned char *d = buf + cdat + i * (GIT_OID_RAWSZ + 16);
		uint32_t parent[2] = {GRAPH_NO_PARENT, GRAPH_NO_PARENT};
		uint64_t t = (uint64_t)c->time;

		memcpy(buf + oidl + i * GIT_OID_RAWSZ, c->id.id, GIT_OID_RAWSZ);
		memcpy(d, c->tree.id, GIT_OID_RAWSZ);
		for (size_t k = 0; k < c->nparents && k < 2; k++)
			parent[k] = (uint32_t)find(b, &b->parents[c->first_parent + k]);
		if (c->nparents > 2) {
			/* The second parent and on, listed in EDGE, the last marked. */
			parent[1] = GRAPH_EXTRA_EDGES | (uint32_t)edge;
			for (size_t k = 1; k < c->nparents; k++, edge++)
				put32(buf + edges + edge * 4,
				      (uint32_t)find(b, &b->parents[c->first_parent + k]) |
				      (k + 1 == c->nparents ? GRAPH_LAST_EDGE : 0));
		}
		put32(d + GIT_OID_RAWSZ, parent[0]);
		put32(d + GIT_OID_RAWSZ + 4, parent[1]);
		put32(d + GIT_OID_RAWSZ + 8, c->level << 2 | (uint32_t)(t >> 32 & 3));
		put32(d + GIT_OID_RAWSZ + 12, (uint32_t)t);
	}
	gs_sha1_init(&sha);
	gs_sha1_update(&sha, buf, (size_t)end);
	gs_sha1_final(&sha, buf + end);
	*out = buf;
	*out_len = len;
	return 0;
}

/* Write `data` as objects/info/commit-graph, replacing it whole. */
static int replace_file(const char *gitdir, const unsigned char *data, size_t len)
{
	size_t dir_len = strlen(gitdir) + sizeof("objects/info") - 1;
	char *tmp = malloc(dir_len + sizeof("/commit-graph_XXXXXX"));
	char *final = malloc(dir_len + sizeof("/commit-graph"));
	int fd = -1, rc = -1, created = 0;

	if (!tmp || !final) {
		gs_error_set_os(ENOMEM, "out of memory");
		goto done;
	}
	sprintf(final, "%sobjects/info", gitdir);
	if (mkdir(final, 0777) < 0 && errno != EEXIST) {
		gs_error_set_path(errno, final, "cannot create");
		goto done;
	}
	sprintf(tmp, "%sobjects/info/commit-graph_XXXXXX", gitdir);
	sprintf(final, "%sobjects/info/commit-graph", gitdir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		gs_error_set_path(errno, tmp, "cannot create");
		goto done;
	}
	created = 1;
	for (size_t written = 0; written < len;) {
		ssize_t n = write(fd, data + written, len - written);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gs_error_set_path(errno, tmp, "cannot write");
			goto done;
		}
		written += (size_t)n;
	}
	rc = gs_close_read_only(fd, tmp);
	fd = -1;
	if (rc == 0 && rename(tmp, final) < 0)
		rc = gs_error_set_path(errno, final, "cannot write");
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(tmp);
	free(tmp);
	free(final);
	return rc;
}

int gs_commit_graph_write(gs_store *store)
{
	git_repository *repo = NULL;
	graph_build b = {0};
	unsigned char *data = NULL;
	size_t len = 0;
	int usable, rc = -1;

	if (gs_repo_acquire(&repo, store) < 0)
		return -1;
	/* A shallow history's oldest commits name parents it lacks. */
	if (git_repository_is_shallow(repo))
		goto skip;
	if (collect(&b, &usable, repo) < 0)
		goto done;
	if (!usable || b.count == 0)
		goto skip;
	if (levels(&b) < 0 || serialize(&data, &len, &b) < 0 ||
	    replace_file(store->gitdir, data, len) < 0)
		goto done;
skip:
	rc = 0;
done:
	gs_repo_release(store, repo);
	build_free(&b);
	free(data);
	return rc;
}
