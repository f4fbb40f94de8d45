/*
** This file implements light curves (skytile/xmatch.h): placeholder.
*/
#include <string.h>

#include "skytile.h"
#include "util/err.h"

void st_lc_options_init(st_lc_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->id_column = "id";
  o->target_ra_column = "ra";
  o->target_dec_column = "dec";
}

int st_lightcurves_run(const st_catalog *const *catalogs, int n_catalogs, const st_table *targets,
                       const st_lc_options *o, st_table **out, st_lc_stats *stats, st_error *err) {
  (void)catalogs; (void)n_catalogs; (void)targets; (void)o; (void)out; (void)stats;
  return st_fail(err, ST_ERR_UNSUPPORTED, "lightcurves: not supported yet");
}
