/*
** This file implements `skytile generate`: it parses the options into an
** st_gen_options, runs st_generate_stats and prints what was written.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

static const char USAGE[] =
    "usage: skytile generate --output DIR [options]\n"
    "\n"
    "Generate a synthetic multi-epoch survey (objects, detections, targets) in DIR:\n"
    "  objects.parquet, detections/part-NNNNN.parquet (or .csv), targets.csv.\n"
    "\n"
    "  --output DIR               directory to create (required)\n"
    "  --objects N                number of objects (default 10000)\n"
    "  --epochs M                 visits (default 40)\n"
    "  --years Y                  survey span in years (default 4; 2 seasons a year)\n"
    "  --detection-prob P         chance of a detection per visit (default 0.9)\n"
    "  --variable-fraction F      fraction of sinusoidal variables (default 0.05)\n"
    "  --astrometric-noise ARCSEC position noise per axis (default 0.3)\n"
    "  --targets N                rows of targets.csv (default 20; variables first)\n"
    "  --cone RA,DEC,RADIUS_DEG   put the objects in this cone (default: whole sky)\n"
    "  --format parquet|csv       detection files (default parquet)\n"
    "  --rows-per-file N          about N detections per file (default 1000000)\n"
    "  --seed S                   random seed (default 1); same seed, same files\n"
    "  --threads N                worker threads (default: cores)\n"
    "  --overwrite                replace the files of an earlier run in DIR\n";

static int parse_num(const char *flag, const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= lo && x <= hi))
    return cli_usage_error("generate: %s: expected a number in %g..%g, got '%s'", flag, lo, hi, v);
  *out = x;
  return 0;
}

static int parse_int(const char *flag, const char *v, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    return cli_usage_error("generate: %s: expected an integer in %lld..%lld, got '%s'", flag, lo,
                           hi, v);
  *out = x;
  return 0;
}

int cmd_generate(int argc, char **argv) {
  st_gen_options o;
  st_gen_options_init(&o);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  o.threads = cores > 0 ? (int)(cores > 64 ? 64 : cores) : 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (!strcmp(a, "--overwrite")) {
      o.overwrite = true;
      continue;
    }
    if (strncmp(a, "--", 2)) return cli_usage_error("generate: unexpected argument '%s'", a);
    if (i + 1 >= argc) return cli_usage_error("generate: %s needs a value", a);
    const char *v = argv[++i];
    long long x;
    double d;
    int rc = 0;
    if (!strcmp(a, "--output")) o.dir = v;
    else if (!strcmp(a, "--objects")) {
      if (!(rc = parse_int(a, v, 0, 2000000000LL, &x))) o.n_objects = x;
    } else if (!strcmp(a, "--epochs")) {
      if (!(rc = parse_int(a, v, 1, 100000, &x))) o.n_epochs = (int)x;
    } else if (!strcmp(a, "--years")) {
      if (!(rc = parse_num(a, v, 1e-6, 1000, &d))) o.years = d;
    } else if (!strcmp(a, "--detection-prob")) {
      if (!(rc = parse_num(a, v, 0, 1, &d))) o.detection_prob = d;
    } else if (!strcmp(a, "--variable-fraction")) {
      if (!(rc = parse_num(a, v, 0, 1, &d))) o.variable_fraction = d;
    } else if (!strcmp(a, "--astrometric-noise")) {
      if (!(rc = parse_num(a, v, 0, 3600, &d))) o.astrometric_noise_arcsec = d;
    } else if (!strcmp(a, "--targets")) {
      if (!(rc = parse_int(a, v, 0, 100000000, &x))) o.n_targets = (int)x;
    } else if (!strcmp(a, "--cone")) {
      double c[3];
      char *end;
      const char *p = v;
      for (int k = 0; k < 3 && !rc; k++) {
        c[k] = strtod(p, &end);
        if (end == p || (k < 2 ? *end != ',' : *end != 0))
          rc = cli_usage_error("generate: --cone: expected RA,DEC,RADIUS_DEG, got '%s'", v);
        p = end + 1;
      }
      if (!rc) o.cone = true, o.cone_ra = c[0], o.cone_dec = c[1], o.cone_radius_deg = c[2];
    } else if (!strcmp(a, "--format")) {
      if (strcmp(v, "parquet") && strcmp(v, "csv"))
        rc = cli_usage_error("generate: --format: expected parquet or csv, got '%s'", v);
      o.detections_format = v;
    } else if (!strcmp(a, "--rows-per-file")) {
      if (!(rc = parse_int(a, v, 1, 2000000000LL, &x))) o.rows_per_file = x;
    } else if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      unsigned long long s = strtoull(v, &end, 10);
      if (errno || end == v || *end || v[0] == '-')
        rc = cli_usage_error("generate: --seed: expected a non-negative integer, got '%s'", v);
      o.seed = s;
    } else if (!strcmp(a, "--threads")) {
      if (!(rc = parse_int(a, v, 1, 64, &x))) o.threads = (int)x;
    } else
      rc = cli_usage_error("generate: unknown option '%s' (see skytile generate --help)", a);
    if (rc) return rc;
  }
  if (!o.dir) return cli_usage_error("generate: --output DIR is required");
  st_error err = {0};
  st_gen_stats s = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (st_generate_stats(&o, &s, &err)) return cli_report(&err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("generated %lld objects (%lld variable), %lld detections in %d file%s, %d targets in "
         "%.2f s\n",
         (long long)s.n_objects, (long long)s.n_variables, (long long)s.n_detections, s.n_files,
         s.n_files == 1 ? "" : "s", s.n_targets, secs);
  printf("  %s/objects.parquet\n  %s/detections/\n  %s/targets.csv\n", o.dir, o.dir, o.dir);
  return 0;
}
