/*
** This file implements the synthetic survey generator (skytile/gen.h): placeholder.
*/
#include <string.h>

#include "skytile.h"
#include "util/err.h"

void st_gen_options_init(st_gen_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->n_objects = 10000;
  o->n_epochs = 40;
  o->years = 4;
  o->detection_prob = 0.9;
  o->variable_fraction = 0.05;
  o->astrometric_noise_arcsec = 0.3;
  o->n_targets = 20;
  o->detections_format = "parquet";
  o->rows_per_file = 1000000;
  o->seed = 1;
}

int st_generate(const st_gen_options *o, st_error *err) {
  (void)o;
  return st_fail(err, ST_ERR_UNSUPPORTED, "generate: not supported yet");
}
