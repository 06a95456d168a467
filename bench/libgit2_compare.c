/*
 * libgit2_compare.c - the core's own replacements for libgit2 facilities
 * against the facilities themselves: hashing (sha1.c), writing small
 * objects (packwrite.c), reading loose blobs (loose.c), ref moves and
 * reflogs (refs.c), merging packs (pack.c).  The opening comments of
 * those files quote its numbers.  Each figure is the best of a few
 * rounds (a busy machine only ever slows a round down); hashing is
 * timed in CPU time, the rest in wall time.
 *
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -pthread -Icsrc/core \
 *       $(find csrc/core -name '*.c') bench/libgit2_compare.c \
 *       -o /tmp/libgit2_compare $(pkg-config --cflags --libs libgit2 zlib)
 *   /tmp/libgit2_compare SCRATCH_DIR        (SCRATCH_DIR must not exist)
 */
#include "gs_internal.h"
#include "lock.h"
#include "loose.h"
#include "refs.h"
#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ROUNDS 3

#define CHECK(x) do { \
	if ((x) < 0) { \
		const git_error *e = git_error_last(); \
		fprintf(stderr, "%s:%d: %s: %s %s\n", __FILE__, __LINE__, #x, \
			gs_error_last()->message, e ? e->message : ""); \
		exit(1); \
	} \
} while (0)

static const char *scratch;
static int scratch_count;

static double clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static double best(double a, double b)
{
	return a < b ? a : b;
}

/* A new repository in the scratch directory. */
static gs_store *new_store(void)
{
	gs_open_opts opts = {1, "main", "bench", "bench@example.invalid"};
	char path[4096];
	gs_store *store;

	snprintf(path, sizeof(path), "%s/%d", scratch, scratch_count++);
	CHECK(gs_store_open(&store, path, &opts));
	return store;
}

/* Text-like content (a few words in a pseudo-random order), so that it
 * deflates as files usually do. */
static void fill(char *buf, size_t len, unsigned seed)
{
	static const char *words[] = {"alpha ", "beta ", "gamma ", "delta\n",
				      "epsilon ", "zeta ", "eta ", "theta\n"};
	unsigned x = seed * 2654435761u + 1;
	size_t i = 0;

	while (i < len) {
		const char *w;
		size_t n;

		x = x * 1103515245u + 12345u;
		w = words[(x >> 16) & 7];
		n = strlen(w) < len - i ? strlen(w) : len - i;
		memcpy(buf + i, w, n);
		i += n;
	}
}

static void bench_hash(void)
{
	size_t len = (size_t)64 << 20;
	char *buf = malloc(len);
	double t_git = 1e9, t_gs = 1e9, t0;
	git_oid a, b;

	fill(buf, len, 1);
	for (int r = 0; r < ROUNDS; r++) {
		t0 = cpu();
		CHECK(git_odb_hash(&a, buf, len, GIT_OBJECT_BLOB));
		t_git = best(t_git, cpu() - t0);
		t0 = cpu();
		gs_object_hash(&b, GIT_OBJECT_BLOB, buf, len);
		t_gs = best(t_gs, cpu() - t0);
	}
	if (!git_oid_equal(&a, &b))
		exit(1);
	printf("hashing a 64 MiB blob: git_odb_hash %.2f GB/s, gs_object_hash %.2f GB/s\n",
	       (double)len / t_git / 1e9, (double)len / t_gs / 1e9);
	free(buf);
}

static void bench_write(int n)
{
	double t_git = 1e9, t_gs = 1e9, t0;
	char buf[128];
	git_oid id;

	for (int r = 0; r < ROUNDS; r++) {
		gs_store *store = new_store();
		git_repository *repo;
		git_odb *odb;
		gs_txn *txn;

		CHECK(gs_repo_acquire(&repo, store));
		CHECK(git_repository_odb(&odb, repo));
		t0 = wall();
		for (int i = 0; i < n; i++) {
			int len = snprintf(buf, sizeof(buf), "file %d of round %d\n", i, r);
			CHECK(git_odb_write(&id, odb, buf, (size_t)len, GIT_OBJECT_BLOB));
		}
		t_git = best(t_git, wall() - t0);
		git_odb_free(odb);
		gs_repo_release(store, repo);
		gs_store_free(store);

		store = new_store();
		t0 = wall();
		CHECK(gs_txn_begin(&txn, store));
		for (int i = 0; i < n; i++) {
			int len = snprintf(buf, sizeof(buf), "file %d of round %d\n", i, r);
			CHECK(gs_txn_put(&id, txn, GIT_OBJECT_BLOB, buf, (size_t)len));
		}
		CHECK(gs_txn_flush(txn));
		gs_txn_free(txn);
		t_gs = best(t_gs, wall() - t0);
		gs_store_free(store);
	}
	printf("writing %d small objects: git_odb_write %.2f ms, one pack %.2f ms\n", n,
	       t_git * 1e3, t_gs * 1e3);
}

static void bench_loose(void)
{
	size_t len = (size_t)64 << 20, total;
	char *buf = malloc(len), head[4096];
	double t_git_head = 1e9, t_git_all = 1e9, t_gs_head = 1e9, t_gs_all = 1e9, t0;
	gs_store *store = new_store();
	git_repository *repo;
	git_oid id;
	int found;

	fill(buf, len, 7);
	CHECK(gs_repo_acquire(&repo, store));
	CHECK(git_blob_create_from_buffer(&id, repo, buf, len));   /* written loose */
	gs_repo_release(store, repo);
	for (int r = 0; r < ROUNDS; r++) {
		git_odb_object *obj;
		git_odb *odb;
		gs_loose *loose;

		CHECK(gs_repo_acquire(&repo, store));
		CHECK(git_repository_odb(&odb, repo));
		t0 = wall();
		CHECK(git_odb_read(&obj, odb, &id));
		memcpy(head, git_odb_object_data(obj), sizeof(head));
		t_git_head = best(t_git_head, wall() - t0);
		git_odb_object_free(obj);
		t0 = wall();
		CHECK(git_odb_read(&obj, odb, &id));
		memcpy(buf, git_odb_object_data(obj), len);
		t_git_all = best(t_git_all, wall() - t0);
		git_odb_object_free(obj);
		git_odb_free(odb);
		gs_repo_release(store, repo);

		t0 = wall();
		CHECK(gs_loose_open(&loose, &found, &total, store, &id));
		CHECK(gs_loose_read(loose, head, sizeof(head)));
		gs_loose_close(loose);
		t_gs_head = best(t_gs_head, wall() - t0);
		t0 = wall();
		CHECK(gs_loose_open(&loose, &found, &total, store, &id));
		CHECK(gs_loose_read(loose, buf, len));
		CHECK(gs_loose_finish(loose));
		gs_loose_close(loose);
		t_gs_all = best(t_gs_all, wall() - t0);
	}
	printf("a 64 MiB loose blob, first 4 KiB: git_odb_read %.1f ms, gs_loose %.2f ms; "
	       "all of it into a buffer: %.1f ms, %.1f ms\n",
	       t_git_head * 1e3, t_gs_head * 1e3, t_git_all * 1e3, t_gs_all * 1e3);
	gs_store_free(store);
	free(buf);
}

static void bench_refs(int n)
{
	git_oid *ids = calloc((size_t)n + 1, sizeof(git_oid));
	double t_git = 1e9, t_gs = 1e9, t_git_log = 1e9, t_gs_log = 1e9, t0;
	char buf[32];

	for (int i = 0; i <= n; i++) {
		int len = snprintf(buf, sizeof(buf), "%d", i);
		gs_object_hash(&ids[i], GIT_OBJECT_BLOB, buf, (size_t)len);
	}
	for (int r = 0; r < ROUNDS; r++) {
		gs_store *store = new_store();
		gs_reflog_entry *entries;
		git_repository *repo;
		git_reference *ref;
		git_config *config;
		git_reflog *log;
		gs_lock *lock;
		size_t count;

		CHECK(gs_repo_acquire(&repo, store));
		CHECK(git_repository_config(&config, repo));
		CHECK(git_config_set_bool(config, "core.logAllRefUpdates", 1));
		git_config_free(config);
		CHECK(git_reference_create(&ref, repo, "refs/heads/b", &ids[0], 0, "created"));
		git_reference_free(ref);
		t0 = wall();
		for (int i = 1; i <= n; i++) {
			CHECK(git_reference_create_matching(&ref, repo, "refs/heads/b", &ids[i], 1,
							    &ids[i - 1], "commit: a message"));
			git_reference_free(ref);
		}
		t_git = best(t_git, (wall() - t0) / n);
		t0 = wall();
		CHECK(git_reflog_read(&log, repo, "refs/heads/b"));
		t_git_log = best(t_git_log, wall() - t0);
		git_reflog_free(log);
		gs_repo_release(store, repo);
		gs_store_free(store);

		store = new_store();
		CHECK(gs_lock_acquire(&lock, store));
		CHECK(gs_ref_write(store, "refs/heads/b", &ids[0], NULL, "created"));
		t0 = wall();
		for (int i = 1; i <= n; i++)
			CHECK(gs_ref_write(store, "refs/heads/b", &ids[i], &ids[i - 1],
					   "commit: a message"));
		t_gs = best(t_gs, (wall() - t0) / n);
		gs_lock_release(lock);
		t0 = wall();
		CHECK(gs_reflog_read(&entries, &count, store, "refs/heads/b"));
		t_gs_log = best(t_gs_log, wall() - t0);
		gs_reflog_free(entries, count);
		gs_store_free(store);
	}
	printf("a ref move with its reflog entry: git_reference_create_matching %.0f us, "
	       "gs_ref_write %.0f us; reading %d entries: git_reflog_read %.2f ms, "
	       "gs_reflog_read %.2f ms\n",
	       t_git * 1e6, t_gs * 1e6, n + 1, t_git_log * 1e3, t_gs_log * 1e3);
	free(ids);
}

/* The blob number `i` of pack `p`, as many_packs writes it. */
static size_t blob(char *buf, int p, int i, int per)
{
	size_t len = 200 + (size_t)((i * 37) % 1500);
	int k;

	fill(buf, len, (unsigned)(p * per + i));
	k = snprintf(buf, 64, "%d/%d ", p, i);
	buf[k] = ' ';
	return len;
}

/* A repository holding `packs` packs of `per` blobs each. */
static gs_store *many_packs(int packs, int per)
{
	gs_store *store = new_store();
	char buf[2048];
	git_oid id;

	for (int p = 0; p < packs; p++) {
		gs_txn *txn;

		CHECK(gs_txn_begin(&txn, store));
		for (int i = 0; i < per; i++) {
			size_t len = blob(buf, p, i, per);
			CHECK(gs_txn_put(&id, txn, GIT_OBJECT_BLOB, buf, len));
		}
		CHECK(gs_txn_flush(txn));
		gs_txn_free(txn);
	}
	return store;
}

static int insert_object(const git_oid *id, void *payload)
{
	return git_packbuilder_insert(payload, id, NULL);
}

/* Reading the header of every blob, in a scattered order. */
static double lookups(gs_store *store, int packs, int per)
{
	size_t n = (size_t)packs * (size_t)per, k = 0;
	git_oid *ids = malloc(n * sizeof(git_oid));
	git_repository *repo;
	git_odb *odb;
	char buf[2048];
	double t0, t;

	for (int p = 0; p < packs; p++)
		for (int i = 0; i < per; i++) {
			size_t len = blob(buf, p, i, per);
			gs_object_hash(&ids[k++], GIT_OBJECT_BLOB, buf, len);
		}
	CHECK(gs_repo_acquire(&repo, store));
	CHECK(git_repository_odb(&odb, repo));
	t0 = wall();
	for (size_t i = 0; i < n; i++) {
		git_object_t type;
		size_t size;
		CHECK(git_odb_read_header(&size, &type, odb, &ids[(i * 7919) % n]));
	}
	t = (wall() - t0) / (double)n;
	git_odb_free(odb);
	gs_repo_release(store, repo);
	free(ids);
	return t;
}

static void bench_merge(int packs, int per)
{
	double t_git = 1e9, t_gs = 1e9, t_many = 1e9, t_one = 1e9, t0;

	for (int r = 0; r < ROUNDS; r++) {
		gs_store *store = many_packs(packs, per);
		git_packbuilder *pb;
		git_repository *repo;
		git_odb *odb;

		t_many = best(t_many, lookups(store, packs, per));
		CHECK(gs_repo_acquire(&repo, store));
		CHECK(git_repository_odb(&odb, repo));
		t0 = wall();
		CHECK(git_packbuilder_new(&pb, repo));
		git_packbuilder_set_threads(pb, 0);
		CHECK(git_odb_foreach(odb, insert_object, pb));
		CHECK(git_packbuilder_write(pb, NULL, 0, NULL, NULL));
		t_git = best(t_git, wall() - t0);
		git_packbuilder_free(pb);
		git_odb_free(odb);
		gs_repo_release(store, repo);
		gs_store_free(store);

		store = many_packs(packs, per);
		t0 = wall();
		CHECK(gs_store_pack(store));
		t_gs = best(t_gs, wall() - t0);
		t_one = best(t_one, lookups(store, packs, per));
		gs_store_free(store);
	}
	printf("merging %d packs of %d blobs: git_packbuilder %.0f ms, gs_store_pack %.1f ms; "
	       "an object lookup among %d packs %.2f us, in one %.2f us\n",
	       packs, per, t_git * 1e3, t_gs * 1e3, packs, t_many * 1e6, t_one * 1e6);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	scratch = argv[1];
	if (mkdir(scratch, 0777) < 0) {
		perror(scratch);
		return 1;
	}
	CHECK(gs_global_init());
	printf("libgit2 %s\n", LIBGIT2_VERSION);
	bench_hash();
	bench_write(5);
	bench_write(1000);
	bench_loose();
	bench_refs(1000);
	bench_merge(16, 1000);
	return 0;
}
