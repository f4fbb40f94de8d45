/*
** This file implements `skytile verify CAT`: hats-import's verification of a
** HATS catalog (or collection, or hipscat catalog) against its files, with a
** report of every check and the files at fault.  Exit 0 when all checks
** pass, 1 when any fails (or the catalog cannot be examined), 2 on usage.
**
** Output: one line per check, "PASSED|FAILED  test: target", then, for a
** failure, the description (numbers, problems) and the bad files indented.
*/
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "skytile/hats.h"

static const char *USAGE =
    "usage: skytile verify CAT\n"
    "\n"
    "Check a HATS catalog like hats-import's verifier: the properties parse;\n"
    "partition_info.csv pixels = _metadata pixels = leaf files on disk; files in\n"
    "_metadata = data files on disk; row counts in the footers = _metadata =\n"
    "hats_nrows; _metadata's and every footer's schema = _common_metadata's.\n"
    "Prints a report; exits 1 when a check fails.\n";

int cmd_verify(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("verify: unknown option '%s'", argv[i]);
    if (path) return cli_usage_error("verify: more than one catalog given");
    path = argv[i];
  }
  if (!path) {
    fputs(USAGE, stderr);
    return 2;
  }
  st_error err = {0};
  st_verify_report *r = NULL;
  if (st_catalog_verify(path, &r, &err)) return cli_report(&err);
  int n = st_verify_n_results(r), failed = 0;
  printf("verifying %s\n", path);
  for (int i = 0; i < n; i++) {
    const st_verify_result *v = st_verify_get(r, i);
    printf("%s  %s: %s\n", v->passed ? "PASSED" : "FAILED", v->test, v->target);
    if (!v->passed) {
      failed++;
      printf("    %s\n", v->description);
      for (int j = 0; j < v->n_bad; j++) printf("    bad file: %s\n", v->bad[j]);
    }
  }
  printf("%s: %d of %d checks failed\n", failed ? "FAILED" : "PASSED", failed, n);
  st_verify_free(r);
  return failed ? 1 : 0;
}
