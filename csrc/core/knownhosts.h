/*
 * knownhosts.h - ssh host keys looked up in OpenSSH known_hosts files
 * (knownhosts.c).  libgit2 does not check an ssh server's host key
 * itself; its certificate-check callback asks this.
 */
#ifndef GS_KNOWNHOSTS_H
#define GS_KNOWNHOSTS_H

#include <stddef.h>

typedef enum {
	GS_HOSTKEY_UNKNOWN = 0,  /* no line names this host */
	GS_HOSTKEY_MATCH,        /* a line names the host with exactly this key */
	GS_HOSTKEY_CHANGED,      /* the host is named, but never with this key */
	GS_HOSTKEY_REVOKED       /* an @revoked line naming the host holds this key */
} gs_hostkey_status;

/*
 * Look `host` (and `port`, 22 or 0 meaning the default) up in the
 * OpenSSH known_hosts file at `path`, as ssh does: plain, wildcard and
 * negated patterns, hashed names, "[host]:port" names for other ports
 * (where no line names "[host]:port", a line naming the bare host with
 * this key still matches), @revoked lines, which win over every other
 * line; @cert-authority lines are ignored, malformed lines skipped.
 * `key` is the server's public host key blob in SSH wire format (what
 * libssh2_session_hostkey returns, the base64-decoded second field of a
 * known_hosts line).  A missing file is GS_HOSTKEY_UNKNOWN, not an
 * error; an unreadable one is an OS error naming the file.  A host name
 * over 255 bytes, a port out of range or a key blob without its type is
 * GS_ERR_INVALID.
 */
int gs_known_hosts_check(gs_hostkey_status *out, const char *path, const char *host,
			 int port, const unsigned char *key, size_t key_len);

/* "SHA256:" and 43 base64 characters, and the NUL. */
#define GS_HOSTKEY_FINGERPRINT_SIZE 51

/* "SHA256:<base64 without padding>" of a key blob, as ssh prints
 * fingerprints, into buf (cut to fit, always terminated). */
void gs_hostkey_fingerprint(char *buf, size_t bufsize, const unsigned char *key, size_t key_len);

#endif
