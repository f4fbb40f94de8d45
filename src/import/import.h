/*
** This file declares the internals of the import module (src/import/),
** which implements include/skytile/import.h: the HATS import pipeline
** (plan, map, bin, split, reduce, finish):
**
**   bin.c      st_bin: histogram -> partitions + alignment (hats-exact)
**   finish.c   partition_info.csv, properties, HEALPix FITS skymaps
**   pipeline.c, map.c, split.c, reduce.c, state.c: st_import_run (their
**              shared internals are in pipeline.h)
**
** Helpers shared between the files (and unit-tested on their own) are
** declared here.
*/
#ifndef ST_IMPORT_IMPORT_H
#define ST_IMPORT_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/mem.h"
#include "skytile/import.h"

/* Offset of order o's block in the concatenation of all orders 0..o-1:
** sum_{k<o} 12*4^k = 4^(o+1) - 4. */
static inline int64_t st_imp_level_off(int o) { return ((int64_t)4 << (2 * o)) - 4; }

/* Append the Python repr of float(f"{x:0.5f}") to buf (cap >= 32): hats
** writes moc_sky_fraction so ("0.16667", "1.0", "1e-05"). */
void st_imp_fmt_frac5(double x, char *buf, size_t cap);

/* Append `s` escaped as jproperties escapes a key (is_key) or a value
** written with process_escapes_in_values=False. */
int st_imp_prop_escape(st_buf *b, const char *s, int is_key, st_error *err);

/* Join dir and name into out (cap bytes) with one '/' between them. */
int st_imp_path(char *out, size_t cap, const char *dir, const char *name, st_error *err);

/* Total size in bytes of the regular files under dir (recursive, as hats'
** estimate_dir_size); -1 with err set on failure. */
int st_imp_dir_size(const char *dir, int64_t *out, st_error *err);

#endif
