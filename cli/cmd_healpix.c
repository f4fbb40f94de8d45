/*
** This file implements `skytile healpix ...`.
*/
#include "commands.h"

int cmd_healpix(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage_error("healpix: not supported yet");
}
