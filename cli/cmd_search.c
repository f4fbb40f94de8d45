/*
** This file implements the searches: `skytile cone|box|polygon|pixels|scan`.
*/
#include "commands.h"

static int not_yet(const char *what) { return cli_usage_error("%s: not supported yet", what); }
int cmd_cone(int argc, char **argv) { (void)argc; (void)argv; return not_yet("cone"); }
int cmd_box(int argc, char **argv) { (void)argc; (void)argv; return not_yet("box"); }
int cmd_polygon(int argc, char **argv) { (void)argc; (void)argv; return not_yet("polygon"); }
int cmd_pixels(int argc, char **argv) { (void)argc; (void)argv; return not_yet("pixels"); }
int cmd_scan(int argc, char **argv) { (void)argc; (void)argv; return not_yet("scan"); }
