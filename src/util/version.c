/* This file implements the library version query. */
#include "skytile.h"

const char *st_version(void) { return SKYTILE_VERSION; }
