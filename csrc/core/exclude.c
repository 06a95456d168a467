/* exclude.c - gitignore-style exclusion (being written). */
#include "gs_internal.h"
