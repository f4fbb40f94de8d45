/*
** This file implements `skytile parquet schema` and `skytile parquet meta`.
*/
#include "commands.h"

int cmd_parquet_schema(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage_error("parquet schema: not supported yet");
}

int cmd_parquet_meta(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage_error("parquet meta: not supported yet");
}
