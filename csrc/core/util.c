/* util.c - the per-thread error record, the clock, and small containers. */
#include "gs_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The record of each thread; its message buffer is freed when the thread
 * ends (pthread key destructor), so messages can be as long as a path. */
static _Thread_local gs_error last_error = { GS_ERR_NONE, 0, "", NULL, NULL };
static _Thread_local char *message_buf;
static _Thread_local size_t message_cap;
/* "<action>\0<path>\0" of the last error about one file. */
static _Thread_local char *path_buf;
static pthread_key_t message_key, path_key;
static pthread_once_t message_key_once = PTHREAD_ONCE_INIT;

static void make_message_key(void)
{
	pthread_key_create(&message_key, free);
	pthread_key_create(&path_key, free);
}

const gs_error *gs_error_last(void)
{
	return &last_error;
}

void gs_error_clear(void)
{
	last_error.category = GS_ERR_NONE;
	last_error.os_errno = 0;
	last_error.message = "";
	last_error.path = last_error.action = NULL;
}

static void error_vset(gs_error_t category, int err, const char *fmt, va_list ap)
{
	va_list again;
	int len;

	last_error.category = category;
	last_error.os_errno = err;
	last_error.path = last_error.action = NULL;
	va_copy(again, ap);
	len = vsnprintf(message_buf, message_cap, fmt, ap);
	if (len >= 0 && (size_t)len >= message_cap) {
		char *grown = realloc(message_buf, (size_t)len + 1);
		if (grown) {
			pthread_once(&message_key_once, make_message_key);
			pthread_setspecific(message_key, grown);
			message_buf = grown;
			message_cap = (size_t)len + 1;
			vsnprintf(message_buf, message_cap, fmt, again);
		}
	}
	va_end(again);
	last_error.message = message_buf && message_cap ? message_buf : "out of memory";
}

int gs_error_set(gs_error_t category, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(category, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int gs_error_set_os(int err, const char *fmt, ...)
{
	va_list ap;
	gs_error_t category = GS_ERR_OS;

	if (err == ENOMEM)
		category = GS_ERR_NOMEM;
	va_start(ap, fmt);
	error_vset(category, err, fmt, ap);
	va_end(ap);
	return -1;
}

int gs_error_set_path(int err, const char *path, const char *action)
{
	size_t alen = strlen(action), plen = strlen(path);
	char *both;

	if (alen)
		gs_error_set_os(err, "%s %s", action, path);
	else
		gs_error_set_os(err, "%s", path);
	if (err == ENOMEM || !(both = malloc(alen + plen + 2)))
		return -1;
	memcpy(both, action, alen + 1);
	memcpy(both + alen + 1, path, plen + 1);
	pthread_once(&message_key_once, make_message_key);
	pthread_setspecific(path_key, both);
	free(path_buf);
	path_buf = both;
	last_error.action = path_buf;
	last_error.path = path_buf + alen + 1;
	return -1;
}

int gs_close_read_only(int fd, const char *path)
{
	int err = fchmod(fd, 0444) < 0 ? errno : 0;

	if (close(fd) < 0 && !err)
		err = errno;
	return err ? gs_error_set_path(err, path, "cannot write") : 0;
}

int gs_error_set_git(int git_rc, const char *context)
{
	const git_error *e = git_error_last();
	const char *detail = (e && e->message) ? e->message : "unknown libgit2 error";
	gs_error_t category = GS_ERR_GIT;

	if (git_rc == GIT_ENOTFOUND)
		category = GS_ERR_KEY;
	else if (e && e->klass == GIT_ERROR_NOMEMORY)
		category = GS_ERR_NOMEM;
	if (context && *context)
		return gs_error_set(category, "%s: %s", context, detail);
	return gs_error_set(category, "%s", detail);
}

const char *gs_repr(char *buf, size_t bufsize, const char *s)
{
	/* Python picks double quotes only when the text has a single quote
	 * and no double quote. */
	char quote = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
	size_t n = 0;

#define PUT(c) do { if (n + 1 < bufsize) buf[n++] = (c); } while (0)
	PUT(quote);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if (c == '\\' || c == (unsigned char)quote) {
			PUT('\\');
			PUT(c);
		} else if (c == '\n') {
			PUT('\\'); PUT('n');
		} else if (c == '\r') {
			PUT('\\'); PUT('r');
		} else if (c == '\t') {
			PUT('\\'); PUT('t');
		} else if (c < 0x20 || c == 0x7f) {
			char hex[5];
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			for (int i = 0; i < 4; i++)
				PUT(hex[i]);
		} else {
			PUT(c);
		}
	}
	PUT(quote);
#undef PUT
	buf[n] = '\0';
	return buf;
}

int64_t gs_now(void)
{
	/* Not time(): it may read a coarse clock that lags a second behind
	 * what Python's time.time() says at a second's edge. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* ------------------------------------------------------------------ */

int gs_strlist_push_len(gs_strlist *list, const char *s, size_t len)
{
	char *copy;

	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		char **items = realloc(list->items, cap * sizeof(*items));
		if (!items)
			return gs_error_set_os(ENOMEM, "out of memory");
		list->items = items;
		list->cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return gs_error_set_os(ENOMEM, "out of memory");
	memcpy(copy, s, len);
	copy[len] = '\0';
	list->items[list->count++] = copy;
	return 0;
}

int gs_strlist_push(gs_strlist *list, const char *s)
{
	return gs_strlist_push_len(list, s, strlen(s));
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void gs_strlist_sort(gs_strlist *list)
{
	if (list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items), compare_strings);
}

static int compare_path_seq(const void *a, const void *b)
{
	const gs_path_seq *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

void gs_path_seq_sort(gs_path_seq *items, size_t count)
{
	size_t sorted = 1;

	/* Tree listings often come in path order already. */
	while (sorted < count && compare_path_seq(&items[sorted - 1], &items[sorted]) <= 0)
		sorted++;
	if (sorted < count)
		qsort(items, count, sizeof(*items), compare_path_seq);
}

void gs_strlist_free(gs_strlist *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

/* ------------------------------------------------------------------ */

int gs_buf_grow(gs_buf *buf, size_t need)
{
	size_t cap;
	char *data;

	if (need <= buf->cap)
		return 0;
	cap = buf->cap ? buf->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	data = realloc(buf->data, cap);
	if (!data)
		return gs_error_set_os(ENOMEM, "out of memory");
	buf->data = data;
	buf->cap = cap;
	return 0;
}

int gs_buf_put(gs_buf *buf, const void *data, size_t len)
{
	if (gs_buf_grow(buf, buf->size + len + 1) < 0)
		return -1;
	memcpy(buf->data + buf->size, data, len);
	buf->size += len;
	buf->data[buf->size] = '\0';
	return 0;
}

int gs_buf_puts(gs_buf *buf, const char *s)
{
	return gs_buf_put(buf, s, strlen(s));
}

void gs_buf_free(gs_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->size = buf->cap = 0;
}
