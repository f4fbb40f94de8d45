/*
** This file implements `skytile plot` (not supported yet: placeholder until
** its issue lands).
*/
#include "commands.h"

int cmd_plot(int argc, char **argv) {
  (void)argc;
  (void)argv;
  st_error err = {ST_ERR_UNSUPPORTED, "plot: not supported yet"};
  return cli_report(&err);
}
