/* temporary stub */
#include "gs_internal.h"
#include "bundle.h"
void gs_bundle_refs_free(gs_bundle_ref *refs, size_t count) { (void)refs; (void)count; }
int gs_bundle_list(gs_bundle_ref **out, size_t *count, const char *path) { *out=NULL; *count=0; return gs_error_set(GS_ERR_GIT, "bundles not yet"); }
int gs_bundle_unpack(git_repository *repo, const char *path, gs_mirror_progress_fn progress, void *ctx) { return gs_error_set(GS_ERR_GIT, "bundles not yet"); }
int gs_bundle_write(git_repository *repo, const char *path, const gs_bundle_ref *refs, size_t count, gs_mirror_progress_fn progress, void *ctx) { return gs_error_set(GS_ERR_GIT, "bundles not yet"); }
