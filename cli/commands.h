/*
** The skytile CLI: one file per subcommand, each exporting one entry point.
** The CLI uses only the public API in include/.  Entry points return the
** process exit code: 0 success, 1 failure (message already printed to
** stderr as "skytile: ..."), 2 usage error.
*/
#ifndef SKYTILE_CLI_COMMANDS_H
#define SKYTILE_CLI_COMMANDS_H

#include <stdio.h>
#include "skytile.h"

int cmd_parquet(int argc, char **argv);
int cmd_healpix(int argc, char **argv);
int cmd_import(int argc, char **argv);  /* cli/cmd_import.c */
int cmd_info(int argc, char **argv);
/* Searches (cli/cmd_search.c). */
int cmd_cone(int argc, char **argv);
int cmd_box(int argc, char **argv);
int cmd_polygon(int argc, char **argv);
int cmd_pixels(int argc, char **argv);
int cmd_scan(int argc, char **argv);    /* cli/cmd_info.c   */
int cmd_verify(int argc, char **argv);  /* cli/cmd_verify.c */
int cmd_xmatch(int argc, char **argv);       /* cli/cmd_xmatch.c      */
int cmd_lightcurves(int argc, char **argv);  /* cli/cmd_lightcurves.c */
int cmd_plot(int argc, char **argv);         /* cli/cmd_plot.c        */
int cmd_generate(int argc, char **argv);     /* cli/cmd_generate.c    */
/* `skytile parquet schema|meta` (cli/cmd_parquet_meta.c), dispatched from cmd_parquet. */
int cmd_parquet_schema(int argc, char **argv);
int cmd_parquet_meta(int argc, char **argv);
/* `skytile parquet convert IN OUT` (cli/cmd_parquet_convert.c), argv[0] = "convert". */
int cmd_parquet_convert(int argc, char **argv);

/* Print "skytile: <msg>" for an error and return 1. */
int cli_report(const st_error *err);
/* Print "skytile: <fmt>" and return 2 (usage error). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True if s ends with suf, ignoring ASCII case (output formats by extension). */
int cli_ends_with(const char *s, const char *suf);
/* True if argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
