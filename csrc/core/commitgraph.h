/* commitgraph.h - writing git's commit-graph file (commitgraph.c). */
#ifndef GS_COMMITGRAPH_H
#define GS_COMMITGRAPH_H

#include "gs.h"

/* objects/info/commit-graph for every commit the refs and HEAD reach,
 * replacing the one there; none for a shallow repository, or one with
 * a commit time the format cannot hold.  The caller holds the lock. */
int gs_commit_graph_write(gs_store *store);

#endif
