/*
** This file implements `skytile lightcurves` (not supported yet: placeholder until
** its issue lands).
*/
#include "commands.h"

int cmd_lightcurves(int argc, char **argv) {
  (void)argc;
  (void)argv;
  st_error err = {ST_ERR_UNSUPPORTED, "lightcurves: not supported yet"};
  return cli_report(&err);
}
