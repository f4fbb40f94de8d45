/*
** This file implements light-curve plots (skytile/plot.h): placeholder.
*/
#include <string.h>

#include "skytile.h"
#include "util/err.h"

void st_plot_options_init(st_plot_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->gap_days = 30;
  o->width = 1000;
  o->height = 500;
}

int st_plot_lightcurve(const st_table *t, long long row0, long long nrows, const st_plot_options *o,
                       const char *png_path, st_error *err) {
  (void)t; (void)row0; (void)nrows; (void)o; (void)png_path;
  return st_fail(err, ST_ERR_UNSUPPORTED, "plot: not supported yet");
}
