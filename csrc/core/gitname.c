/* gitname.c - the names and files git itself treats specially.
 *
 * git refuses to check out a path component that a filesystem could take
 * for ".git" (HFS+ ignores some Unicode code points and folds case; NTFS
 * drops trailing dots and spaces, opens alternate streams after ':' and
 * knows 8.3 short names such as GIT~1), and `git fsck` reports a tree
 * holding one.  It also reads .gitmodules, .gitattributes, .gitignore and
 * .mailmap from trees (under the same aliases), so fsck checks that those
 * are regular files and that .gitmodules and .gitattributes hold nothing
 * it considers dangerous.  The rules here follow git's own tests for each
 * name (its path verification and fsck) so that a repository we write
 * passes `git fsck --strict` without a word, and no name git accepts is
 * refused.  Names are raw bytes: they need not be UTF-8. */
#include "gs.h"
#include "gitname.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Whether s starts with the first n bytes of prefix (lower case ASCII),
 * ignoring case whatever the locale. */
static int has_iprefix(const char *s, const char *prefix, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != prefix[i])
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* HFS+: case folding and code points it ignores                      */

/* The next code point of a UTF-8 name, or 0 at the end or at a byte
 * sequence that is not UTF-8 (then *p stays where it was).  Overlong
 * forms, surrogates, U+FFFE/U+FFFF and values past U+10FFFF count as
 * not UTF-8, as they do for git. */
static uint32_t next_utf8(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c;
	size_t n;

	if (s[0] < 0x80) {
		c = s[0];
		n = 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		if ((s[1] & 0xc0) != 0x80 || (s[0] & 0x3e) == 0)
			return 0;
		c = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		n = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[0] == 0xe0 && (s[1] & 0xe0) == 0x80) ||
		    (s[0] == 0xed && (s[1] & 0xe0) == 0xa0) ||
		    (s[0] == 0xef && s[1] == 0xbf && (s[2] & 0xfe) == 0xbe))
			return 0;
		c = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
		    (s[2] & 0x3f);
		n = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80 ||
		    (s[0] == 0xf0 && (s[1] & 0xf0) == 0x80) ||
		    (s[0] == 0xf4 && s[1] > 0x8f) || s[0] > 0xf4)
			return 0;
		c = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		    ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
		n = 4;
	} else {
		return 0;
	}
	if (c == 0)
		return 0;
	*p = s + n;
	return c;
}

/* The next code point HFS+ does not ignore (joiners, direction marks,
 * shaping controls and the BOM vanish from its names). */
static uint32_t next_hfs_char(const unsigned char **p)
{
	for (;;) {
		uint32_t c = next_utf8(p);
		if ((c >= 0x200c && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
		    (c >= 0x206a && c <= 0x206f) || c == 0xfeff)
			continue;
		return c;
	}
}

/* Whether HFS+ reads name as "." + needle (needle lower case ASCII).
 * As in git, bytes that are not UTF-8 end the name. */
static int is_hfs_dot(const char *name, const char *needle)
{
	const unsigned char *p = (const unsigned char *)name;
	uint32_t c = next_hfs_char(&p);

	if (c != '.')
		return 0;
	for (; *needle; needle++) {
		c = next_hfs_char(&p);
		if (c > 127 || (uint32_t)lower((int)c) != (unsigned char)*needle)
			return 0;
	}
	return next_hfs_char(&p) == 0;
}

/* ------------------------------------------------------------------ */
/* NTFS: trailing dots and spaces, streams, 8.3 short names           */

/* What may follow a name NTFS still opens as that name: dots and
 * spaces, then the end or a ':' (an alternate stream). */
static int ntfs_tail(const char *s, int backslash_ends)
{
	for (;; s++) {
		if (!*s || *s == ':' || (backslash_ends && *s == '\\'))
			return 1;
		if (*s != ' ' && *s != '.')
			return 0;
	}
}

/* ".git" or its short name "git~1", as NTFS reads them.  A backslash
 * also ends the name: Windows takes it for a directory separator. */
static int is_ntfs_dotgit(const char *name)
{
	if (name[0] == '.' && has_iprefix(name + 1, "git", 3))
		return ntfs_tail(name + 4, 1);
	if (has_iprefix(name, "git~1", 5))
		return ntfs_tail(name + 5, 1);
	return 0;
}

/*
 * "." + base as NTFS reads it.  Besides the long name and the usual short
 * name (the first six characters, '~', 1 to 4), Windows makes up short
 * names from a hash once four exist; git fixes one such prefix per file
 * (`hashed`) and accepts any name of the form <up to 6 of its characters>
 * '~' <digit 1-9> <digits> filling eight characters.
 */
static int is_ntfs_dot(const char *name, const char *base, const char *hashed)
{
	size_t len = strlen(base), i;
	int saw_tilde = 0;

	if (name[0] == '.' && has_iprefix(name + 1, base, len))
		return ntfs_tail(name + 1 + len, 0);
	if (has_iprefix(name, base, 6) && name[6] == '~' && name[7] >= '1' && name[7] <= '4')
		return ntfs_tail(name + 8, 0);
	for (i = 0; i < 8; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!c)
			return 0;
		if (saw_tilde) {
			if (c < '0' || c > '9')
				return 0;
		} else if (c == '~') {
			i++;
			if (name[i] < '1' || name[i] > '9')
				return 0;
			saw_tilde = 1;
		} else if (i >= 6 || (c & 0x80) || lower(c) != (unsigned char)hashed[i]) {
			return 0;
		}
	}
	return ntfs_tail(name + 8, 0);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

unsigned gs_gitname_kind(const char *name)
{
	unsigned kind = 0;

	if (is_hfs_dot(name, "git") || is_ntfs_dotgit(name))
		kind |= GS_GITNAME_DOTGIT;
	if (is_hfs_dot(name, "gitmodules") || is_ntfs_dot(name, "gitmodules", "gi7eba"))
		kind |= GS_GITNAME_GITMODULES;
	if (is_hfs_dot(name, "gitattributes") || is_ntfs_dot(name, "gitattributes", "gi7d29"))
		kind |= GS_GITNAME_GITATTRIBUTES;
	if (is_hfs_dot(name, "gitignore") || is_ntfs_dot(name, "gitignore", "gi250a"))
		kind |= GS_GITNAME_GITIGNORE;
	if (is_hfs_dot(name, "mailmap") || is_ntfs_dot(name, "mailmap", "maba30"))
		kind |= GS_GITNAME_MAILMAP;
	/* fsck also reads each part after a backslash as a Windows path
	 * component would be read. */
	for (const char *bs = strchr(name, '\\'); bs; bs = strchr(bs + 1, '\\')) {
		if (is_ntfs_dotgit(bs + 1))
			kind |= GS_GITNAME_DOTGIT;
		if (is_ntfs_dot(bs + 1, "gitmodules", "gi7eba"))
			kind |= GS_GITNAME_GITMODULES;
	}
	return kind;
}

static const char *special_name(unsigned kind)
{
	return kind & GS_GITNAME_GITMODULES ? ".gitmodules"
	       : kind & GS_GITNAME_GITATTRIBUTES ? ".gitattributes"
	       : kind & GS_GITNAME_GITIGNORE ? ".gitignore" : ".mailmap";
}

int gs_gitname_check(const char *path, unsigned kind, uint32_t mode)
{
	if (kind & GS_GITNAME_DOTGIT)
		return gs_error_set(GS_ERR_INVALID,
				    "Invalid file name '%s': git reserves names that read as '.git'",
				    path);
	/* git looks for .gitmodules and .gitattributes blobs; a tree there is
	 * an error to fsck. */
	if (mode == GS_MODE_TREE && (kind & (GS_GITNAME_GITMODULES | GS_GITNAME_GITATTRIBUTES)))
		return gs_error_set(GS_ERR_INVALID,
				    "Invalid file name '%s': git reads it as %s, which must be a "
				    "file, not a directory", path, special_name(kind));
	/* git never follows these links (a checkout could be made to read
	 * any file through them), and fsck reports each one. */
	if (mode == GS_MODE_LINK && kind)
		return gs_error_set(GS_ERR_INVALID,
				    "Invalid file name '%s': git reads it as %s, which must not be "
				    "a symbolic link", path, special_name(kind));
	return 0;
}

/* ------------------------------------------------------------------ */
/* .gitattributes                                                      */

/* git ignores longer lines and bigger files, and fsck reports them. */
#define ATTR_MAX_LINE 2048
#define ATTR_MAX_SIZE ((uint64_t)100 << 20)
/* fsck cannot parse a .gitmodules past git's big-file threshold (512 MiB
 * by default) and reports it as an error. */
#define GITMODULES_MAX_SIZE ((uint64_t)512 << 20)

static int check_gitattributes(const char *path, const char *data, size_t len)
{
	/* Like git, the scan stops at a NUL byte. */
	const char *end = memchr(data, '\0', len);

	if (!end)
		end = data + len;
	for (const char *line = data; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if (eol - line >= ATTR_MAX_LINE)
			return gs_error_set(GS_ERR_INVALID,
					    "Invalid content for '%s': git reads it as .gitattributes, "
					    "whose lines must be shorter than %d bytes", path,
					    ATTR_MAX_LINE);
		line = eol + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* .gitmodules: git's config syntax, and what fsck refuses in it       */

/* The reader keeps git's view of the text: CR LF reads as LF, and the
 * end of the text reads as a final LF with `eof` set.  git reads a blob's
 * bytes as signed chars, so a 0xff byte reads as the end too (`eof` set,
 * though reading goes on after it), and one right after a CR is lost. */
typedef struct {
	const unsigned char *p, *end;
	int eof;
} cfg_reader;

static int cfg_next(cfg_reader *r)
{
	int c;

	if (r->p >= r->end) {
		r->eof = 1;
		return '\n';
	}
	c = *r->p++;
	if (c == '\r' && r->p < r->end && (*r->p == '\n' || *r->p == 0xff))
		c = *r->p++ == '\n' ? '\n' : '\r';
	if (c == 0xff) {
		r->eof = 1;
		c = '\n';
	}
	return c;
}

/* git's own character classes: ASCII only, whatever the locale. */
static int cfg_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int cfg_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int cfg_keychar(int c)
{
	return cfg_alpha(c) || (c >= '0' && c <= '9') || c == '-';
}

static int cfg_put(gs_buf *buf, int c)
{
	char ch = (char)c;
	return gs_buf_put(buf, &ch, 1);
}

/* The parsers below return 1 for text git accepts, 0 for text it does
 * not, and -1 when out of memory. */

/* The rest of `[section "subsection"]` once white space followed the
 * section name. */
static int cfg_subsection(cfg_reader *r, gs_buf *var, int c)
{
	do {
		if (c == '\n')
			return 0;
		c = cfg_next(r);
	} while (cfg_space(c));
	if (c != '"')
		return 0;
	if (cfg_put(var, '.') < 0)
		return -1;
	for (;;) {
		c = cfg_next(r);
		if (c == '\n')
			return 0;
		if (c == '"')
			break;
		if (c == '\\' && (c = cfg_next(r)) == '\n')
			return 0;
		if (cfg_put(var, c) < 0)
			return -1;
	}
	return cfg_next(r) == ']';
}

/* A section header after its '[': "section" or "section.sub" lower
 * cased, or "section" + '.' + "subsection" as written. */
static int cfg_section(cfg_reader *r, gs_buf *var)
{
	for (;;) {
		int c = cfg_next(r);
		if (r->eof)
			return 0;
		if (c == ']')
			return 1;
		if (cfg_space(c))
			return cfg_subsection(r, var, c);
		if (!cfg_keychar(c) && c != '.')
			return 0;
		if (cfg_put(var, lower(c)) < 0)
			return -1;
	}
}

/* A value after its '=': quotes removed, escapes and continuation lines
 * resolved, comments and outer white space dropped. */
static int cfg_value(cfg_reader *r, gs_buf *value)
{
	int quote = 0, comment = 0;
	size_t space = 0;

	value->size = 0;
	if (gs_buf_put(value, "", 0) < 0)
		return -1;
	for (;;) {
		int c = cfg_next(r);
		if (c == '\n')
			return !quote;
		if (comment)
			continue;
		if (cfg_space(c) && !quote) {
			if (value->size)
				space++;
			continue;
		}
		if (!quote && (c == ';' || c == '#')) {
			comment = 1;
			continue;
		}
		for (; space; space--)
			if (cfg_put(value, ' ') < 0)
				return -1;
		if (c == '\\') {
			switch (c = cfg_next(r)) {
			case '\n':
				continue;
			case 't':
				c = '\t';
				break;
			case 'b':
				c = '\b';
				break;
			case 'n':
				c = '\n';
				break;
			case '\\':
			case '"':
				break;
			default:
				return 0;
			}
		} else if (c == '"') {
			quote = !quote;
			continue;
		}
		if (cfg_put(value, c) < 0)
			return -1;
	}
}

/* A submodule name that could climb out of .git/modules/. */
static int bad_submodule_name(const char *name)
{
	if (!*name)
		return 1;
	for (const char *s = name;; s++) {
		/* s is at the start of a component */
		if (s[0] == '.' && s[1] == '.' && (!s[2] || s[2] == '/' || s[2] == '\\'))
			return 1;
		s += strcspn(s, "/\\");
		if (!*s)
			return 0;
	}
}

static int is_sep(char c)
{
	return c == '/' || c == '\\';
}

/* git's URL decoding: %XX becomes a byte (except %00), and nothing
 * before the first ':' is decoded. */
static int url_decode(gs_buf *out, const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	static const char hex[] = "0123456789abcdef";

	out->size = 0;
	if (gs_buf_put(out, "", 0) < 0)
		return -1;
	if (colon && colon > s) {
		if (gs_buf_put(out, s, (size_t)(colon - s)) < 0)
			return -1;
		len -= (size_t)(colon - s);
		s = colon;
	}
	while (len && *s) {
		if (*s == '%' && len >= 3 && s[1] && s[2]) {
			const char *hi = strchr(hex, lower((unsigned char)s[1]));
			const char *lo = strchr(hex, lower((unsigned char)s[2]));
			if (hi && lo && (hi != hex || lo != hex)) {
				if (cfg_put(out, (int)(((hi - hex) << 4) | (lo - hex))) < 0)
					return -1;
				s += 3;
				len -= 3;
				continue;
			}
		}
		if (cfg_put(out, (unsigned char)*s) < 0)
			return -1;
		s++;
		len--;
	}
	return 0;
}

/* 1 when the decoded s[0..len) holds a newline (-1: out of memory). */
static int decoded_has_newline(gs_buf *scratch, const char *s, size_t len)
{
	if (url_decode(scratch, s, len) < 0)
		return -1;
	return memchr(scratch->data, '\n', scratch->size) != NULL;
}

/*
 * A submodule URL fsck refuses: one that reads as an option; a relative
 * or git:// URL with an encoded newline (credential helpers read lines),
 * or whose leading "../" steps climb into the scheme or host; an
 * http(s)/ftp(s) URL with a newline in any part, or no host.
 * Returns 1 when bad, 0 when fine, -1 when out of memory.
 */
static int bad_submodule_url(gs_buf *scratch, const char *url)
{
	const char *curl = NULL;

	if (url[0] == '-')
		return 1;
	if ((url[0] == '.' && is_sep(url[1])) ||
	    (url[0] == '.' && url[1] == '.' && is_sep(url[2])) ||
	    strncmp(url, "git://", 6) == 0) {
		const char *next = url;
		int dotdots = 0, nl = decoded_has_newline(scratch, url, strlen(url));

		if (nl)
			return nl;
		for (;;) {
			if (next[0] == '.' && next[1] == '.' && is_sep(next[2])) {
				dotdots++;
				next += 3;
			} else if (next[0] == '.' && is_sep(next[1])) {
				next += 2;
			} else {
				break;
			}
		}
		return dotdots > 0 && (*next == ':' || *next == '/');
	}
	if (strncmp(url, "http::", 6) == 0 || strncmp(url, "ftp::", 5) == 0 ||
	    strncmp(url, "https::", 7) == 0 || strncmp(url, "ftps::", 6) == 0)
		curl = strstr(url, "::") + 2;
	else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0 ||
		 strncmp(url, "ftp://", 6) == 0 || strncmp(url, "ftps://", 7) == 0)
		curl = url;
	if (curl) {
		/* Split as a credential helper would: scheme://user:pass@host/path */
		const char *proto_end = strstr(curl, "://"), *cp, *at, *colon, *slash, *host;
		int nl;

		if (!proto_end || proto_end == curl)
			return 1;
		if (memchr(curl, '\n', (size_t)(proto_end - curl)))
			return 1;
		cp = proto_end + 3;
		at = strchr(cp, '@');
		colon = strchr(cp, ':');
		slash = cp + strcspn(cp, "/?#");
		if (!at || slash <= at) {
			host = cp;
		} else if (!colon || at <= colon) {
			if ((nl = decoded_has_newline(scratch, cp, (size_t)(at - cp))) != 0)
				return nl;
			host = at + 1;
		} else {
			if ((nl = decoded_has_newline(scratch, cp, (size_t)(colon - cp))) != 0 ||
			    (nl = decoded_has_newline(scratch, colon + 1,
						      (size_t)(at - colon - 1))) != 0)
				return nl;
			host = at + 1;
		}
		if (slash == host)
			return 1;
		if ((nl = decoded_has_newline(scratch, host, (size_t)(slash - host))) != 0)
			return nl;
		while (*slash == '/')
			slash++;
		if (*slash && (nl = decoded_has_newline(scratch, slash, strlen(slash))) != 0)
			return nl;
	}
	return 0;
}

/* One `key = value` of the file (value NULL for a bare key): what fsck
 * checks in submodule.<name>.* entries.  var and value are read as git
 * reads them, up to a NUL byte. */
static int check_submodule_entry(const char *path, gs_buf *scratch, const char *var,
				 const char *value)
{
	const char *sub, *dot, *key, *what = NULL, *shown = value;
	char *name = NULL;
	int bad = 0, rc = -1;

	if (strncmp(var, "submodule.", 10) != 0)
		return 0;
	sub = var + 10;
	dot = strrchr(var + 9, '.');
	if (dot == var + 9)
		return 0;
	key = dot + 1;
	if (!(name = strndup(sub, (size_t)(dot - sub))))
		return gs_error_set_os(ENOMEM, "out of memory");
	if (bad_submodule_name(name)) {
		what = "name";
		shown = name;
	} else if (value && strcmp(key, "url") == 0) {
		if ((bad = bad_submodule_url(scratch, value)) < 0) {
			gs_error_set_os(ENOMEM, "out of memory");
			goto done;
		}
		what = bad ? "url" : NULL;
	} else if (value && strcmp(key, "path") == 0 && value[0] == '-') {
		what = "path";
	} else if (value && strcmp(key, "update") == 0 && value[0] == '!') {
		what = "update setting";
	}
	if (what) {
		gs_error_set(GS_ERR_INVALID,
			     "Invalid content for '%s': git reads it as .gitmodules and refuses "
			     "the submodule %s '%s'", path, what, shown);
		goto done;
	}
	rc = 0;
done:
	free(name);
	return rc;
}

static int check_gitmodules(const char *path, const char *data, size_t len)
{
	cfg_reader r = { (const unsigned char *)data, (const unsigned char *)data + len, 0 };
	gs_buf var = {0}, value = {0}, scratch = {0};
	size_t base = 0;
	int comment = 0, rc = -1, ok = 0, got;

	if (gs_buf_put(&var, "", 0) < 0)
		goto done;
	for (;;) {
		int c = cfg_next(&r), has_value = 0;

		if (c == '\n') {
			if (r.eof) {
				ok = 1;
				break;
			}
			comment = 0;
			continue;
		}
		if (comment)
			continue;
		if (cfg_space(c))
			continue;
		if (c == '#' || c == ';') {
			comment = 1;
			continue;
		}
		if (c == '[') {
			var.size = 0;
			if ((got = cfg_section(&r, &var)) < 0)
				goto done;
			if (!got || var.size < 1)
				break;
			if (cfg_put(&var, '.') < 0)
				goto done;
			base = var.size;
			continue;
		}
		if (!cfg_alpha(c))
			break;
		/* key: letters, digits, '-', lower cased */
		var.size = base;
		if (cfg_put(&var, lower(c)) < 0)
			goto done;
		for (;;) {
			c = cfg_next(&r);
			if (r.eof || !cfg_keychar(c))
				break;
			if (cfg_put(&var, lower(c)) < 0)
				goto done;
		}
		while (c == ' ' || c == '\t')
			c = cfg_next(&r);
		if (c != '\n') {
			if (c != '=')
				break;
			if ((got = cfg_value(&r, &value)) < 0)
				goto done;
			if (!got)
				break;
			has_value = 1;
		}
		if (check_submodule_entry(path, &scratch, var.data, has_value ? value.data : NULL) < 0)
			goto done;
	}
	if (!ok) {
		/* fsck warns; git would not read the file either. */
		gs_error_set(GS_ERR_INVALID,
			     "Invalid content for '%s': git reads it as .gitmodules, which must "
			     "be in git's config syntax", path);
		goto done;
	}
	rc = 0;
done:
	gs_buf_free(&var);
	gs_buf_free(&value);
	gs_buf_free(&scratch);
	return rc;
}

int gs_gitfile_check_size(const char *path, unsigned kind, uint64_t size)
{
	if ((kind & GS_GITNAME_GITMODULES) && size >= GITMODULES_MAX_SIZE)
		return gs_error_set(GS_ERR_INVALID,
				    "Invalid content for '%s': git reads it as .gitmodules and "
				    "cannot parse one this large", path);
	if ((kind & GS_GITNAME_GITATTRIBUTES) && size > ATTR_MAX_SIZE)
		return gs_error_set(GS_ERR_INVALID,
				    "Invalid content for '%s': git reads it as .gitattributes and "
				    "ignores one this large", path);
	return 0;
}

int gs_gitfile_check(const char *path, unsigned kind, const char *data, size_t len)
{
	if (gs_gitfile_check_size(path, kind, len) < 0)
		return -1;
	if ((kind & GS_GITNAME_GITMODULES) && check_gitmodules(path, data, len) < 0)
		return -1;
	if ((kind & GS_GITNAME_GITATTRIBUTES) && check_gitattributes(path, data, len) < 0)
		return -1;
	return 0;
}
