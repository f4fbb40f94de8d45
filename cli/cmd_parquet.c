/*
** This file implements `skytile parquet schema|meta|cat`.
*/
#include "commands.h"

int cmd_parquet(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage_error("parquet: not supported yet");
}
