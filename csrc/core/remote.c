/*
 * remote.c - the callbacks libgit2 calls during a push or a fetch.
 *
 * Credentials: the URL's user-info for http(s) basic auth; for ssh the
 * agent (SSH_AUTH_SOCK), then ~/.ssh/id_ed25519, id_ecdsa and id_rsa.
 * libgit2 1.5 accepts any ssh host key unless told otherwise, so every
 * key is looked up in ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts,
 * and an unknown or changed one stops the transfer before anything is
 * sent.  https certificates are verified (against GIT_SSL_CAINFO or
 * SSL_CERT_FILE when set, as git does).  Nothing here ever puts a
 * password into a message.
 */
#include "gs_internal.h"
#include "remote.h"
#include "knownhosts.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* URLs                                                                */

/* Where the user-info of a "scheme://" URL is: [*start, *end), the '@'
 * at *end.  0 when there is none.  The authority is taken to end at the
 * first '/' only: a password holding '?' or '#' unescaped must still
 * count as one. */
static int find_userinfo(const char *url, size_t *start, size_t *end)
{
	const char *sep = strstr(url, "://");
	const char *auth, *at;
	size_t auth_len;

	if (!sep)
		return 0;
	auth = sep + 3;
	auth_len = strcspn(auth, "/");
	at = NULL;
	for (const char *p = auth; p < auth + auth_len; p++)
		if (*p == '@')
			at = p;   /* the last '@': a password may hold one */
	if (!at)
		return 0;
	*start = (size_t)(auth - url);
	*end = (size_t)(at - url);
	return 1;
}

static int is_http_url(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

char *gs_url_hide_credentials(const char *url)
{
	size_t start, end, len = strlen(url);
	char *out;

	if (!find_userinfo(url, &start, &end) ||
	    (!is_http_url(url) && !memchr(url + start, ':', end - start)))
		return strdup(url);
	if (!(out = malloc(len + 4)))
		return NULL;
	memcpy(out, url, start);
	memcpy(out + start, "***", 3);
	memcpy(out + start + 3, url + end, len - end + 1);
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static char *percent_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			out[n++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return out;
}

/* The user, password, host and port of a "scheme://" URL. */
static int parse_authority(gs_transfer *t, const char *url)
{
	const char *sep = strstr(url, "://"), *auth, *host, *end, *colon;
	size_t start, at;

	if (!sep)
		return 0;
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	host = auth;
	if (find_userinfo(url, &start, &at)) {
		const char *info = url + start, *info_end = url + at;
		const char *pw = memchr(info, ':', (size_t)(info_end - info));

		if (!(t->user = percent_decode(info, (size_t)((pw ? pw : info_end) - info))))
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		if (pw && !(t->password = percent_decode(pw + 1, (size_t)(info_end - pw - 1))))
			return gs_error_set(GS_ERR_NOMEM, "out of memory");
		host = info_end + 1;
	}
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (!close)
			close = end;
		t->host = strndup(host + 1, (size_t)(close - host - 1));
		colon = (close < end && close[1] == ':') ? close + 1 : NULL;
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		t->host = strndup(host, (size_t)((colon ? colon : end) - host));
	}
	if (!t->host)
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	if (colon && colon + 1 < end) {
		long port = strtol(colon + 1, NULL, 10);
		if (port > 0 && port < 65536)
			t->port = (int)port;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* https certificates                                                   */

/*
 * libgit2 keeps one set of trusted certificates for the process.  When
 * GIT_SSL_CAINFO (or SSL_CERT_FILE) names a file, that file is the set;
 * when neither is set any more, the system's bundle is put back.  libgit2
 * frees the old set when it is replaced, so every http(s) transfer holds
 * ca_use for reading while it runs, and the set changes only when none
 * does (a change while one runs is an error, not a wait: the transfer
 * may be this thread's own, from a progress callback).
 */
static pthread_rwlock_t ca_use = PTHREAD_RWLOCK_INITIALIZER;
static char *ca_applied;   /* the file last applied; NULL: libgit2's default */

static const char *system_ca_file(void)
{
	static const char *const candidates[] = {
		"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu, Alpine */
		"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
		"/etc/ssl/ca-bundle.pem",               /* openSUSE */
		"/etc/ssl/cert.pem",                    /* macOS, BSDs */
	};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

static const char *wanted_ca_file(void)
{
	const char *wanted = getenv("GIT_SSL_CAINFO");

	if (!wanted || !*wanted)
		wanted = getenv("SSL_CERT_FILE");
	return wanted && *wanted ? wanted : NULL;
}

/* Under the write lock: make libgit2 trust `wanted` (NULL: the system). */
static int change_ca_file(const char *wanted)
{
	const char *file = wanted ? wanted : system_ca_file();
	char *copy = NULL;

	if (!file)
		return 0;   /* nothing to put back: keep what is there */
	if (wanted && !(copy = strdup(wanted)))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, NULL) < 0) {
		free(copy);
		return gs_error_set_git(-1, file);
	}
	free(ca_applied);
	ca_applied = copy;
	return 0;
}

/* Take ca_use for reading, the certificates set as the environment says. */
static int use_ca_file(void)
{
	for (;;) {
		const char *wanted;
		int current, rc;

		pthread_rwlock_rdlock(&ca_use);
		wanted = wanted_ca_file();
		current = wanted ? (ca_applied && strcmp(wanted, ca_applied) == 0) : !ca_applied;
		if (current)
			return 0;
		pthread_rwlock_unlock(&ca_use);
		if ((rc = pthread_rwlock_trywrlock(&ca_use)) != 0)
			return gs_error_set(GS_ERR_GIT, "GIT_SSL_CAINFO changed while another "
					    "http(s) transfer is running");
		rc = change_ca_file(wanted_ca_file());
		pthread_rwlock_unlock(&ca_use);
		if (rc < 0)
			return -1;
	}
}

/* ------------------------------------------------------------------ */
/* The transfer                                                         */

int gs_transfer_init(gs_transfer *t, const char *url, gs_mirror_progress_fn progress, void *ctx,
		     const char *display)
{
	memset(t, 0, sizeof(*t));
	t->url = url;
	t->progress = progress;
	t->progress_ctx = ctx;
	t->thread = pthread_self();
	t->is_http = is_http_url(url);
	if (!(t->display = display ? strdup(display) : gs_url_hide_credentials(url)))
		return gs_error_set(GS_ERR_NOMEM, "out of memory");
	if (parse_authority(t, url) < 0)
		return -1;
	if (t->is_http) {
		/* http:// too: a redirect may lead to https. */
		if (use_ca_file() < 0)
			return -1;
		t->holds_ca = 1;
	}
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		/* volatile: the compiler may not drop the wipe of a dying buffer */
		for (volatile char *p = s; *p; p++)
			*p = 0;
		free(s);
	}
}

void gs_transfer_clear(gs_transfer *t)
{
	if (t->holds_ca)
		pthread_rwlock_unlock(&ca_use);
	free(t->display);
	free_secret(t->user);
	free_secret(t->password);
	free(t->host);
	gs_buf_free(&t->rejected);
	gs_buf_free(&t->advertisement);
	memset(t, 0, sizeof(*t));
}

static int say(gs_transfer *t, const char *text, size_t len)
{
	if (!t->progress || t->stopped || !pthread_equal(pthread_self(), t->thread))
		return 0;
	if (t->progress(t->progress_ctx, text, len) < 0) {
		t->stopped = 1;
		return GIT_EUSER;
	}
	return 0;
}

int gs_transfer_say_len(gs_transfer *t, const char *text, size_t len)
{
	return say(t, text, len) < 0 ? -1 : 0;
}

/* "<what>: 40% (2/5)\r", once per percent; ", done.\n" at the end. */
static int say_stage(gs_transfer *t, int stage, const char *what, size_t done, size_t total,
		     size_t bytes)
{
	char line[160];
	unsigned percent = total ? (unsigned)(done * 100 / total) : 100;
	int n, last = total && done >= total;

	if (!t->progress || t->stage_done[stage] || !total)
		return 0;
	if (!last && t->last_percent[stage] == percent + 1)
		return 0;
	t->last_percent[stage] = percent + 1;
	t->stage_done[stage] = last;
	if (bytes)
		n = snprintf(line, sizeof(line), "%s: %3u%% (%zu/%zu), %zu bytes%s", what,
			     percent, done, total, bytes, last ? ", done.\n" : "\r");
	else
		n = snprintf(line, sizeof(line), "%s: %3u%% (%zu/%zu)%s", what, percent, done,
			     total, last ? ", done.\n" : "\r");
	return say(t, line, (size_t)n);
}

static int on_sideband(const char *text, int len, void *payload)
{
	return len > 0 ? say(payload, text, (size_t)len) : 0;
}

static int on_fetch_progress(const git_indexer_progress *stats, void *payload)
{
	gs_transfer *t = payload;
	int rc = say_stage(t, 0, "Receiving objects", stats->received_objects,
			   stats->total_objects, stats->received_bytes);
	if (rc == 0 && stats->total_deltas)
		rc = say_stage(t, 1, "Resolving deltas", stats->indexed_deltas,
			       stats->total_deltas, 0);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Credentials                                                          */

static char *home_file(const char *relative)
{
	const char *home = getenv("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096];
	char *out;

	if (!home || !*home) {
		if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) != 0 || !found)
			return NULL;
		home = found->pw_dir;
	}
	if (!(out = malloc(strlen(home) + strlen(relative) + 2)))
		return NULL;
	sprintf(out, "%s/%s", home, relative);
	return out;
}

static int local_user(char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	char scratch[4096];

	if (getpwuid_r(getuid(), &pw, scratch, sizeof(scratch), &found) != 0 || !found)
		return -1;
	snprintf(buf, size, "%s", found->pw_name);
	return 0;
}

static int refuse(gs_transfer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(gs_transfer *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->refusal, sizeof(t->refusal), fmt, ap);
	va_end(ap);
	git_error_set_str(GIT_ERROR_NET, t->refusal);
	return GIT_EAUTH;
}

static const char *const ssh_key_files[] = {
	".ssh/id_ed25519", ".ssh/id_ecdsa", ".ssh/id_rsa",
};
#define SSH_KEY_FILE_COUNT (sizeof(ssh_key_files) / sizeof(ssh_key_files[0]))

/* The next ssh key to offer: the agent, then each key file there is. */
static int next_ssh_key(git_credential **out, gs_transfer *t, const char *user)
{
	while (t->ssh_attempt < (int)(1 + SSH_KEY_FILE_COUNT)) {
		int attempt = t->ssh_attempt++;
		char *priv, *pub;
		int rc;

		if (attempt == 0) {
			const char *sock = getenv("SSH_AUTH_SOCK");
			if (sock && *sock)
				return git_credential_ssh_key_from_agent(out, user);
			continue;
		}
		if (!(priv = home_file(ssh_key_files[attempt - 1])))
			continue;
		if (access(priv, R_OK) != 0) {
			free(priv);
			continue;
		}
		if ((pub = malloc(strlen(priv) + 5)) != NULL) {
			sprintf(pub, "%s.pub", priv);
			if (access(pub, R_OK) != 0) {
				free(pub);
				pub = NULL;
			}
		}
		rc = git_credential_ssh_key_new(out, user, pub, priv, NULL);
		free(pub);
		free(priv);
		return rc;
	}
	return refuse(t, "no ssh key was accepted (tried the ssh agent and ~/.ssh/id_ed25519, "
		      "id_ecdsa, id_rsa)");
}

static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	gs_transfer *t = payload;
	char user[256];

	if (user_from_url && *user_from_url)
		snprintf(user, sizeof(user), "%s", user_from_url);
	else if (t->user && *t->user)
		snprintf(user, sizeof(user), "%s", t->user);
	else if (local_user(user, sizeof(user)) < 0)
		user[0] = '\0';

	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		/* libgit2 offers a URL's user and password itself; being asked
		 * means they were refused, or the URL has only a user (a token). */
		if (!t->user || t->password || t->userpass_given)
			return refuse(t, t->user ? "authentication failed: the server refused "
				      "the URL's credentials" : "authentication required: put the "
				      "user name and password (or token) in the URL");
		t->userpass_given = 1;
		return git_credential_userpass_plaintext_new(out, t->user, "");
	}
	if ((allowed & GIT_CREDENTIAL_USERNAME) && !(allowed & GIT_CREDENTIAL_SSH_KEY))
		return git_credential_username_new(out, user);
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return next_ssh_key(out, t, user);
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	return refuse(t, "the server asks for a kind of authentication gitstore does not offer");
}

/* ------------------------------------------------------------------ */
/* Host keys and certificates                                           */

/* How much a lookup's answer weighs when two files answer. */
static int hostkey_weight(gs_hostkey_status status)
{
	switch (status) {
	case GS_HOSTKEY_REVOKED: return 3;
	case GS_HOSTKEY_MATCH: return 2;
	case GS_HOSTKEY_CHANGED: return 1;
	default: return 0;
	}
}

/* ssh reads the user's and the system's known_hosts together: a revoked
 * key in either refuses, a match in either accepts. */
static int check_host_key(gs_transfer *t, const git_cert_hostkey *cert, const char *host)
{
	char *files[2] = {home_file(".ssh/known_hosts"), strdup("/etc/ssh/ssh_known_hosts")};
	gs_hostkey_status status = GS_HOSTKEY_UNKNOWN;
	char fingerprint[GS_HOSTKEY_FINGERPRINT_SIZE];
	const unsigned char *key = (const unsigned char *)cert->hostkey;
	int port = t->port ? t->port : 22, rc = 0;

	if (!(cert->type & GIT_CERT_SSH_RAW) || !cert->hostkey || !cert->hostkey_len)
		rc = refuse(t, "the ssh server's host key cannot be checked");
	if (!host || !*host)
		host = t->host;
	for (int i = 0; rc == 0 && i < 2; i++) {
		gs_hostkey_status found;
		if (!files[i]) {
			rc = refuse(t, "out of memory");
		} else if (gs_known_hosts_check(&found, files[i], host, port, key,
						cert->hostkey_len) < 0) {
			rc = refuse(t, "cannot check the ssh host key: %s", gs_error_last()->message);
		} else if (hostkey_weight(found) > hostkey_weight(status)) {
			status = found;
		}
	}
	free(files[0]);
	free(files[1]);
	if (rc < 0 || status == GS_HOSTKEY_MATCH)
		return rc;
	gs_hostkey_fingerprint(fingerprint, sizeof(fingerprint), key, cert->hostkey_len);
	if (status == GS_HOSTKEY_CHANGED)
		return refuse(t, "the ssh host key of %s has CHANGED (it is now %s, and "
			      "known_hosts records another): refusing to connect", host, fingerprint);
	if (status == GS_HOSTKEY_REVOKED)
		return refuse(t, "the ssh host key of %s (%s) is revoked in known_hosts",
			      host, fingerprint);
	return refuse(t, "the ssh host key of %s (%s) is not in ~/.ssh/known_hosts: add it "
		      "(ssh-keyscan, or connect once with ssh) after checking it", host,
		      fingerprint);
}

static int on_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	gs_transfer *t = payload;
	int rc;

	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
		rc = check_host_key(t, (const git_cert_hostkey *)cert, host);
		return rc == 0 ? 0 : GIT_ECERTIFICATE;
	}
	if (valid)
		return 0;
	refuse(t, "the server's TLS certificate is not trusted (GIT_SSL_CAINFO can name a "
	       "CA bundle that holds its issuer)");
	return GIT_ECERTIFICATE;
}

/* ------------------------------------------------------------------ */
/* Buffered streams                                                     */

/*
 * libgit2's smart protocol hands the pack to the connection an object at
 * a time: over git:// that is two send() calls per object, and a push
 * of a few thousand small objects spent most of its time in them.  The
 * stream below gathers writes into large ones; reading flushes first, so
 * the conversation keeps its order.
 */
#define STREAM_BUFFER (256 * 1024)

typedef struct buffered_subtransport buffered_subtransport;

typedef struct {
	git_smart_subtransport_stream parent;
	git_smart_subtransport_stream *inner;
	buffered_subtransport *owner;
	char *buf;
	size_t used;
	int listing;          /* the ref advertisement: kept for push.c */
} buffered_stream;

struct buffered_subtransport {
	git_smart_subtransport parent;
	git_smart_subtransport *inner;
	gs_transfer *transfer;
	/* A connection that is not RPC (git://, ssh) serves every action on
	 * one stream, and libgit2 checks it gets the same stream back. */
	buffered_stream *current;
};

static int stream_flush(buffered_stream *s)
{
	int rc = 0;

	if (s->used)
		rc = s->inner->write(s->inner, s->buf, s->used);
	s->used = 0;
	return rc;
}

static int stream_read(git_smart_subtransport_stream *stream, char *buffer, size_t size,
		       size_t *bytes_read)
{
	buffered_stream *s = (buffered_stream *)stream;
	gs_buf *advert = &s->owner->transfer->advertisement;
	int rc = stream_flush(s);

	if (rc < 0 || (rc = s->inner->read(s->inner, buffer, size, bytes_read)) < 0)
		return rc;
	if (s->listing && advert->size + *bytes_read <= (1u << 20) &&
	    gs_buf_put(advert, buffer, *bytes_read) < 0) {
		git_error_set_oom();
		return -1;
	}
	return 0;
}

static int stream_write(git_smart_subtransport_stream *stream, const char *data, size_t len)
{
	buffered_stream *s = (buffered_stream *)stream;
	int rc;

	if (s->used + len > STREAM_BUFFER && (rc = stream_flush(s)) < 0)
		return rc;
	if (len >= STREAM_BUFFER)
		return s->inner->write(s->inner, data, len);
	memcpy(s->buf + s->used, data, len);
	s->used += len;
	return 0;
}

static void stream_free(git_smart_subtransport_stream *stream)
{
	buffered_stream *s = (buffered_stream *)stream;

	/* What is still buffered goes out (a last flush packet, say); a
	 * failure here has nobody left to tell. */
	(void)stream_flush(s);
	if (s->owner->current == s)
		s->owner->current = NULL;
	s->inner->free(s->inner);
	free(s->buf);
	free(s);
}

/*
 * libgit2 1.5.1's ssh connection leaks what it reads of known_hosts (the
 * list and two path strings) each time; an ASan build tells the leak
 * checker not to count what libgit2 allocates while connecting.
 */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define LIBGIT2_LEAKS_BEGIN() __lsan_disable()
#define LIBGIT2_LEAKS_END() __lsan_enable()
#else
#define LIBGIT2_LEAKS_BEGIN() ((void)0)
#define LIBGIT2_LEAKS_END() ((void)0)
#endif

static int libgit2_action(git_smart_subtransport_stream **out, git_smart_subtransport *inner,
			  const char *url, git_smart_service_t action)
{
	int rc;

	LIBGIT2_LEAKS_BEGIN();
	rc = inner->action(out, inner, url, action);
	LIBGIT2_LEAKS_END();
	return rc;
}

static int subtransport_action(git_smart_subtransport_stream **out,
			       git_smart_subtransport *transport, const char *url,
			       git_smart_service_t action)
{
	buffered_subtransport *sub = (buffered_subtransport *)transport;
	git_smart_subtransport_stream *inner = NULL;
	buffered_stream *s;
	int rc;

	*out = NULL;
	if ((rc = libgit2_action(&inner, sub->inner, url, action)) < 0)
		return rc;
	if (sub->current && sub->current->inner == inner) {
		sub->current->listing = 0;
		*out = &sub->current->parent;
		return 0;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->buf = malloc(STREAM_BUFFER))) {
		free(s);
		inner->free(inner);
		git_error_set_oom();
		return -1;
	}
	s->parent.subtransport = transport;
	s->parent.read = stream_read;
	s->parent.write = stream_write;
	s->parent.free = stream_free;
	s->inner = inner;
	s->owner = sub;
	s->listing = action == GIT_SERVICE_RECEIVEPACK_LS || action == GIT_SERVICE_UPLOADPACK_LS;
	sub->current = s;
	*out = &s->parent;
	return 0;
}

static int subtransport_close(git_smart_subtransport *transport)
{
	buffered_subtransport *sub = (buffered_subtransport *)transport;
	return sub->inner->close(sub->inner);
}

static void subtransport_free(git_smart_subtransport *transport)
{
	buffered_subtransport *sub = (buffered_subtransport *)transport;
	sub->inner->free(sub->inner);
	free(sub);
}

static int make_subtransport(git_smart_subtransport **out, git_transport *owner, void *param)
{
	gs_transfer *t = param;
	buffered_subtransport *sub;
	int rc;

	*out = NULL;
	if (!(sub = calloc(1, sizeof(*sub)))) {
		git_error_set_oom();
		return -1;
	}
	if (t->is_http)
		rc = git_smart_subtransport_http(&sub->inner, owner, NULL);
	else if (strncmp(t->url, "ssh://", 6) == 0)
		rc = git_smart_subtransport_ssh(&sub->inner, owner, NULL);
	else
		rc = git_smart_subtransport_git(&sub->inner, owner, NULL);
	if (rc < 0) {
		free(sub);
		return rc;
	}
	sub->parent.action = subtransport_action;
	sub->parent.close = subtransport_close;
	sub->parent.free = subtransport_free;
	sub->transfer = t;
	t->connection = &sub->parent;
	*out = &sub->parent;
	return 0;
}

int gs_transfer_push_stream(git_smart_subtransport_stream **out, int *owned, gs_transfer *t)
{
	buffered_subtransport *sub = (buffered_subtransport *)t->connection;
	buffered_stream *before;
	int rc;

	*owned = 0;
	if (!sub)
		return gs_error_set(GS_ERR_GIT, "%s: not connected", t->display);
	before = sub->current;
	rc = t->connection->action(out, t->connection, t->url, GIT_SERVICE_RECEIVEPACK);
	if (rc < 0)
		return gs_transfer_fail(t, rc);
	/* git:// and ssh go on with the listing's stream, which libgit2
	 * frees; an http request is a new stream, ours to free. */
	*owned = (buffered_stream *)*out != before;
	return 0;
}

static int make_transport(git_transport **out, git_remote *owner, void *param)
{
	gs_transfer *t = param;

	t->subtransport.callback = make_subtransport;
	t->subtransport.rpc = (unsigned)t->is_http;
	t->subtransport.param = t;
	return git_transport_smart(out, owner, &t->subtransport);
}

void gs_transfer_callbacks(git_remote_callbacks *cb, gs_transfer *t)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->sideband_progress = on_sideband;
	cb->credentials = on_credentials;
	cb->certificate_check = on_certificate;
	cb->transfer_progress = on_fetch_progress;
	cb->transport = make_transport;
	cb->payload = t;
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */

/* Replace every occurrence of `secret` (len bytes) in buf with "***". */
static void scrub(char *buf, const char *secret, size_t slen)
{
	char *from = buf, *hit;

	if (!secret || slen == 0)
		return;
	while ((hit = memmem(from, strlen(from), secret, slen)) != NULL) {
		size_t tail = strlen(hit + slen);
		size_t mask = slen >= 3 ? 3 : 0;   /* a shorter secret is cut out */
		memcpy(hit, "***", mask);
		memmove(hit + mask, hit + slen, tail + 1);
		from = hit + mask;
	}
}

int gs_transfer_fail(gs_transfer *t, int git_rc)
{
	const git_error *e = git_error_last();
	char detail[1024];
	size_t start, end;

	if (t->stopped)
		return -1;
	if (t->refusal[0])
		snprintf(detail, sizeof(detail), "%s", t->refusal);
	else
		snprintf(detail, sizeof(detail), "%s",
			 (e && e->message) ? e->message : "the transfer failed");
	/* libgit2 quotes URLs in some messages: the user-info as written,
	 * then its parts as decoded (a user name that is a token too). */
	if (find_userinfo(t->url, &start, &end))
		scrub(detail, t->url + start, end - start);
	if (t->password)
		scrub(detail, t->password, strlen(t->password));
	if (t->is_http && t->user && strlen(t->user) >= 8)
		scrub(detail, t->user, strlen(t->user));
	(void)git_rc;
	return gs_error_set(GS_ERR_GIT, "%s: %s", t->display ? t->display : "remote", detail);
}
