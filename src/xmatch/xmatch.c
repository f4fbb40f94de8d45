/*
** This file implements the crossmatch (skytile/xmatch.h): placeholder.
*/
#include <string.h>

#include "skytile.h"
#include "util/err.h"

void st_xmatch_options_init(st_xmatch_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->n_neighbors = 1;
  o->suffix_left = "_l";
  o->suffix_right = "_r";
}

int st_xmatch_run(const st_xmatch_input *left, const st_xmatch_input *right,
                  const st_xmatch_options *o, st_table **out, st_xmatch_stats *stats,
                  st_error *err) {
  (void)left; (void)right; (void)o; (void)out; (void)stats;
  return st_fail(err, ST_ERR_UNSUPPORTED, "xmatch: not supported yet");
}
