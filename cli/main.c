/*
** This file implements the skytile command-line entry point: it dispatches to
** one subcommand per file (cli/cmd_*.c).
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "commands.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} COMMANDS[] = {
    {"parquet", cmd_parquet, "Parquet files: schema, meta, cat, convert"},
    {"healpix", cmd_healpix, "HEALPix tools (ang2pix, pix2ang, neighbours, cone)"},
    {"import", cmd_import, "import catalogs (CSV/TSV, FITS, Parquet) into a HATS catalog"},
    {"cone", cmd_cone, "rows within a radius of a point"},
    {"box", cmd_box, "rows within an RA/Dec box (RA may wrap through 0)"},
    {"polygon", cmd_polygon, "rows within a convex spherical polygon"},
    {"pixels", cmd_pixels, "rows in given HEALPix pixels"},
    {"scan", cmd_scan, "all rows (with --where, --columns, --limit)"},
    {"info", cmd_info, "describe a HATS catalog, hive dataset or Parquet dataset"},
    {"verify", cmd_verify, "check a HATS catalog's metadata against its files"},
    {"xmatch", cmd_xmatch, "crossmatch two catalogs by position"},
    {"lightcurves", cmd_lightcurves, "light curves of a target list (tables and PNG plots)"},
    {"plot", cmd_plot, "plot a light curve from a saved light-curve file"},
    {"generate", cmd_generate, "generate a synthetic multi-epoch survey"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
  fprintf(f, "usage: skytile COMMAND [ARGS...]\n\n"
             "skytile %s — HATS astronomical catalogs: import, query, Parquet.\n\n"
             "commands:\n",
          st_version());
  for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
  fprintf(f, "\nRun 'skytile COMMAND --help' for a command's options.\n");
}

int cli_ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcasecmp(s + n - m, suf);
}

int cli_report(const st_error *err) {
  fprintf(stderr, "skytile: %s\n", err->msg[0] ? err->msg : st_code_name(err->code));
  return 1;
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("skytile: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\n", stderr);
  va_end(ap);
  return 2;
}

int cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (cli_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("skytile %s\n", st_version());
    return 0;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
  fprintf(stderr, "skytile: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
