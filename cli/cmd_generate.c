/*
** This file implements `skytile generate` (not supported yet: placeholder until
** its issue lands).
*/
#include "commands.h"

int cmd_generate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  st_error err = {ST_ERR_UNSUPPORTED, "generate: not supported yet"};
  return cli_report(&err);
}
