/*
** This file declares the helpers shared by the hats module's files: small
** text files, sorted directory listings, safe relative paths, properties
** (key=value) and hipscat catalog_info.json parsing, and Norder/Npix path
** parsing.
**
** A property list is two parallel arrays of owned strings; later duplicates
** replace earlier values.  Directory listings skip "." and ".." and entries
** starting with "." (hidden files), and are sorted by name so results do not
** depend on the file system's order.
*/
#ifndef ST_HATS_INT_H
#define ST_HATS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "util/err.h"
#include "util/mem.h"

#define HT_MAX_TEXT (16u << 20)   /* cap on properties/csv/json file sizes */
#define HT_MAX_DEPTH 16           /* cap on directory recursion            */

typedef struct ht_props {
  int n, cap;
  char **keys;                    /* owned                                 */
  char **vals;                    /* owned                                 */
} ht_props;

typedef struct ht_strs {
  int n, cap;
  char **v;                       /* owned strings                         */
} ht_strs;

char *ht_join(const char *a, const char *b);            /* a "/" b; NULL on OOM */
bool ht_is_dir(const char *p);
bool ht_is_file(const char *p);
/* Read a whole small file (NUL-terminated). ST_ERR_NOTFOUND when absent. */
int ht_read_text(const char *path, char **out, size_t *len, st_error *err);
/* Names in dir (sorted), dirs only / files only / both. */
enum { HT_LS_FILES = 1, HT_LS_DIRS = 2 };
int ht_list(const char *dir, int what, ht_strs *out, st_error *err);
int ht_strs_push(ht_strs *s, const char *str, st_error *err);
void ht_strs_free(ht_strs *s);
void ht_strs_sort(ht_strs *s);
/* Relative path check: non-empty, not absolute, no ".." component. */
bool ht_rel_ok(const char *rel);

int ht_props_set(ht_props *p, const char *k, const char *v, st_error *err);
const char *ht_props_get(const ht_props *p, const char *k);
void ht_props_free(ht_props *p);
/* Parse Java-style properties text (key=value lines, # and ! comments). */
int ht_props_parse(const char *text, ht_props *p, st_error *err);
/* Parse hipscat's catalog_info.json (flat object), mapping keys to HATS names. */
int ht_props_parse_hipscat_json(const char *text, ht_props *p, st_error *err);

/* Parse ".../Norder=K/Dir=D/Npix=P<anything>": order and pixel, or false. */
bool ht_parse_npix_path(const char *path, int *order, int64_t *pixel);
/* True for names ending in .parquet / .parq / .pq. */
bool ht_is_parquet_name(const char *name);

#endif
