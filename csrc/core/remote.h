/*
 * remote.h - what a transfer with libgit2 needs around it (remote.c):
 * credentials, ssh host-key and https certificate checks, progress text,
 * and errors that name the URL without its credentials.
 */
#ifndef GS_REMOTE_H
#define GS_REMOTE_H

#include "gs.h"

#include <git2/sys/transport.h>

#include <pthread.h>

typedef struct {
	const char *url;          /* as libgit2 gets it */
	char *display;            /* as errors show it: credentials hidden */
	char *user, *password;    /* the URL's user-info, percent-decoded */
	char *host;
	int port;                 /* 0: the scheme's default */
	int is_http;
	int holds_ca;             /* holds the certificates' read lock */
	gs_mirror_progress_fn progress;
	void *progress_ctx;
	pthread_t thread;         /* the caller's: the only one that reports */
	/* state of the callbacks */
	int ssh_attempt;
	int userpass_given;
	int stopped;              /* the progress callback asked to stop */
	unsigned last_percent[2];
	int stage_done[2];
	char refusal[512];        /* why a callback refused, for the error */
	git_smart_subtransport_definition subtransport;
	git_smart_subtransport *connection;   /* ours, wrapping libgit2's */
	gs_buf advertisement;     /* what the server said first (up to 1 MiB) */
	gs_buf rejected;          /* refs the remote refused to update */
} gs_transfer;

/* Prepare for a transfer with `url`; errors name `display` (credentials
 * already hidden), or url with its credentials hidden when NULL. */
int gs_transfer_init(gs_transfer *t, const char *url, gs_mirror_progress_fn progress, void *ctx,
		     const char *display);
void gs_transfer_clear(gs_transfer *t);
/* Fill libgit2's callbacks for this transfer. */
void gs_transfer_callbacks(git_remote_callbacks *cb, gs_transfer *t);
/* Record libgit2's failure `git_rc` as GS_ERR_GIT naming the URL, with
 * what a callback said, credentials removed.  Always -1.  After the
 * progress callback asked to stop, the error record is left as is. */
int gs_transfer_fail(gs_transfer *t, int git_rc);
/* After git_remote_connect: the stream for the push request itself
 * (for git:// and ssh the connection's own; for http a new request,
 * *owned: the caller frees it). */
int gs_transfer_push_stream(git_smart_subtransport_stream **out, int *owned, gs_transfer *t);
/* Report progress text (the server's). */
int gs_transfer_say_len(gs_transfer *t, const char *text, size_t len);
/* The URL with its user-info replaced by "***" (http and https: any
 * user-info; other schemes: one that holds a password).  malloc'd. */
char *gs_url_hide_credentials(const char *url);

#endif
