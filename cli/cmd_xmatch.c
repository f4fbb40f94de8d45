/*
** This file implements `skytile xmatch` (not supported yet: placeholder until
** its issue lands).
*/
#include "commands.h"

int cmd_xmatch(int argc, char **argv) {
  (void)argc;
  (void)argv;
  st_error err = {ST_ERR_UNSUPPORTED, "xmatch: not supported yet"};
  return cli_report(&err);
}
