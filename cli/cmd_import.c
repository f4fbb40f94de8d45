/*
** This file implements `skytile import`.
*/
#include "commands.h"

int cmd_import(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage_error("import: not supported yet");
}
