/* path.c - the one place where repository paths are normalised. */
#include "gs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gs_path_is_root(const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (path[i] != '/')
			return 0;
	return 1;
}

int gs_path_normalize(char **out, const char *path, size_t len)
{
	const char *start = path, *end = path + len;
	char quoted[600];
	char *result = NULL, *copy = NULL;

	*out = NULL;
	if (memchr(path, '\0', len))
		return gs_error_set(GS_ERR_INVALID, "Path must not contain NUL: %s",
				    path);
	while (start < end && *start == '/')
		start++;
	while (end > start && end[-1] == '/')
		end--;
	if (start == end)
		return gs_error_set(GS_ERR_INVALID, "Path must not be empty");

	copy = malloc((size_t)(end - start) + 1);
	if (!copy)
		return gs_error_set_os(ENOMEM, "out of memory");
	memcpy(copy, start, (size_t)(end - start));
	copy[end - start] = '\0';

	for (const char *seg = copy; ; ) {
		const char *slash = strchr(seg, '/');
		size_t seglen = slash ? (size_t)(slash - seg) : strlen(seg);

		if (seglen == 0) {
			gs_error_set(GS_ERR_INVALID, "Empty segment in path: %s",
				     gs_repr(quoted, sizeof(quoted), copy));
			goto done;
		}
		if ((seglen == 1 && seg[0] == '.') ||
		    (seglen == 2 && seg[0] == '.' && seg[1] == '.')) {
			gs_error_set(GS_ERR_INVALID, "Invalid path segment: '%.*s'",
				     (int)seglen, seg);
			goto done;
		}
		if (!slash)
			break;
		seg = slash + 1;
	}
	result = copy;
	copy = NULL;

done:
	free(copy);
	*out = result;
	return result ? 0 : -1;
}

int gs_path_normalize_or_root(char **out, const char *path, size_t len)
{
	*out = NULL;
	if (gs_path_is_root(path, len))
		return (*out = strdup("")) ? 0 : gs_error_set_os(ENOMEM, "out of memory");
	return gs_path_normalize(out, path, len);
}
