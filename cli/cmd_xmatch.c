/*
** This file implements `skytile xmatch LEFT RIGHT --radius-arcsec R ...`:
** a positional crossmatch (st_xmatch_run, semantics in skytile/xmatch.h).
**
** LEFT and RIGHT are anything st_catalog_open opens (HATS catalog or
** collection, hipscat, hive dataset, Parquet file or directory); a file
** ending in .csv/.tsv/.psv/.fits/.fit (optionally .gz) is read into memory
** with st_input_read_table.  For a collection on the right, its default
** margin is opened and passed along (--right-margin DIR names one
** explicitly).  The result is written like the searches' (cmd_search.c):
** CSV with a header to stdout, or --output FILE (.parquet, .csv, .jsonl).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"

static int usage(void) {
  fprintf(stderr,
          "usage: skytile xmatch LEFT RIGHT --radius-arcsec R [options]\n"
          "Crossmatch two catalogs by position (LSDB crossmatch semantics).\n"
          "LEFT/RIGHT: HATS catalog/collection, hive dataset, Parquet file/dir, or a\n"
          ".csv/.tsv/.fits file.\n"
          "options:\n"
          "  --radius-arcsec R          match radius (required, > 0)\n"
          "  --n-neighbors K|all        nearest matches kept per left row (default 1)\n"
          "  --min-radius-arcsec R0     ignore matches closer than R0 (default 0)\n"
          "  --how inner|left           left: keep unmatched left rows (default inner)\n"
          "  --suffixes _l,_r           column name suffixes (default _l,_r)\n"
          "  --columns-left a,b         left columns (default: hats_cols_default, else all)\n"
          "  --columns-right a,b        right columns (likewise)\n"
          "  --where-right EXPR         filter on right rows (search --where syntax)\n"
          "  --left-ra/--left-dec/--right-ra/--right-dec NAME   position columns\n"
          "  --right-margin DIR         margin catalog of RIGHT\n"
          "  --threads N                worker threads (default 1)\n"
          "  --output FILE              .parquet, .csv or .jsonl (default: CSV to stdout)\n"
          "  --stats                    print counters to stderr\n");
  return 0;
}

static bool is_table_file(const char *p) {
  static const char *const ext[] = {".csv", ".tsv", ".psv", ".fits", ".fit", ".fts",
                                    ".csv.gz", ".tsv.gz", ".psv.gz", ".fits.gz", ".csv.zip"};
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    if (cli_ends_with(p, ext[i])) return true;
  return false;
}

static int write_result(const st_table *t, const char *output, st_error *err) {
  if (!output) return st_table_write_csv(t, stdout, true, err);
  if (cli_ends_with(output, ".parquet") || cli_ends_with(output, ".parq") || cli_ends_with(output, ".pq"))
    return st_pq_write_table_path(output, t, NULL, err);
  if (cli_ends_with(output, ".jsonl") || cli_ends_with(output, ".ndjson"))
    return st_table_write_jsonl_path(t, output, false, err);
  return st_table_write_csv_path(t, output, true, false, err);
}

/* Split "a,b,c" into names (pointers into a copy owned by *buf). */
static int split_list(const char *s, char **buf, const char ***names, int *n) {
  *n = 0;
  *buf = strdup(s);
  *names = calloc(strlen(s) + 1, sizeof **names);
  if (!*buf || !*names) return 1;
  for (char *t = strtok(*buf, ","); t; t = strtok(NULL, ",")) {
    while (*t == ' ') t++;
    if (*t) (*names)[(*n)++] = t;
  }
  return 0;
}

static int fail_oom(st_error *err) {
  err->code = ST_ERR_NOMEM;
  snprintf(err->msg, sizeof err->msg, "xmatch: out of memory");
  return ST_ERR_NOMEM;
}

typedef struct xside_cli {
  st_catalog *cat, *margin;
  st_table *table;
} xside_cli;

static int open_side(const char *path, xside_cli *s, st_error *err) {
  if (is_table_file(path)) {
    int rc = st_input_read_table(path, NULL, &s->table, err);
    if (rc && !strstr(err->msg, path)) {
      char m[sizeof err->msg];
      snprintf(m, sizeof m, "%.200s: %.800s", path, err->msg);
      memcpy(err->msg, m, sizeof m);
    }
    return rc;
  }
  return st_catalog_open(path, NULL, &s->cat, err);
}

int cmd_xmatch(int argc, char **argv) {
  const char *pos[2];
  int npos = 0;
  const char *radius = NULL, *nn = NULL, *minr = NULL, *how = NULL, *suffixes = NULL;
  const char *cl = NULL, *cr = NULL, *where = NULL, *lra = NULL, *ldec = NULL, *rra = NULL,
             *rdec = NULL, *margin = NULL, *threads = NULL, *output = NULL;
  bool want_stats = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) return usage();
    if (strncmp(a, "--", 2)) {
      if (npos >= 2) return cli_usage_error("xmatch: unexpected argument '%s'", a);
      pos[npos++] = a;
      continue;
    }
    if (!strcmp(a, "--stats")) { want_stats = true; continue; }
    if (i + 1 >= argc) return cli_usage_error("xmatch: option %s needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--radius-arcsec")) radius = v;
    else if (!strcmp(a, "--n-neighbors")) nn = v;
    else if (!strcmp(a, "--min-radius-arcsec")) minr = v;
    else if (!strcmp(a, "--how")) how = v;
    else if (!strcmp(a, "--suffixes")) suffixes = v;
    else if (!strcmp(a, "--columns-left")) cl = v;
    else if (!strcmp(a, "--columns-right")) cr = v;
    else if (!strcmp(a, "--where-right")) where = v;
    else if (!strcmp(a, "--left-ra")) lra = v;
    else if (!strcmp(a, "--left-dec")) ldec = v;
    else if (!strcmp(a, "--right-ra")) rra = v;
    else if (!strcmp(a, "--right-dec")) rdec = v;
    else if (!strcmp(a, "--right-margin")) margin = v;
    else if (!strcmp(a, "--threads")) threads = v;
    else if (!strcmp(a, "--output") || !strcmp(a, "-o")) output = v;
    else return cli_usage_error("xmatch: unknown option '%s'", a);
  }
  if (npos != 2) return cli_usage_error("xmatch: expected LEFT RIGHT (see skytile xmatch --help)");
  if (!radius) return cli_usage_error("xmatch: --radius-arcsec is required");

  st_xmatch_options o;
  st_xmatch_options_init(&o);
  char *end = NULL;
  errno = 0;
  o.radius_arcsec = strtod(radius, &end);
  if (end == radius || *end || errno || !(o.radius_arcsec > 0))
    return cli_usage_error("xmatch: --radius-arcsec '%s' must be a number > 0", radius);
  if (minr) {
    errno = 0;
    o.min_radius_arcsec = strtod(minr, &end);
    if (end == minr || *end || errno || !(o.min_radius_arcsec >= 0))
      return cli_usage_error("xmatch: --min-radius-arcsec '%s' must be a number >= 0", minr);
  }
  if (nn) {
    if (!strcasecmp(nn, "all")) o.n_neighbors = ST_XMATCH_ALL;
    else {
      errno = 0;
      long k = strtol(nn, &end, 10);
      if (end == nn || *end || errno || k < 1 || k > 1000000000)
        return cli_usage_error("xmatch: --n-neighbors '%s' must be an integer >= 1 or 'all'", nn);
      o.n_neighbors = (int)k;
    }
  }
  if (how) {
    if (!strcmp(how, "inner")) o.how = ST_XMATCH_INNER;
    else if (!strcmp(how, "left")) o.how = ST_XMATCH_LEFT;
    else return cli_usage_error("xmatch: --how '%s' must be inner or left", how);
  }
  char sufbuf[512];
  if (suffixes) {
    const char *comma = strchr(suffixes, ',');
    if (!comma || strlen(suffixes) >= sizeof sufbuf)
      return cli_usage_error("xmatch: --suffixes '%s' must be LEFT,RIGHT (e.g. _l,_r)", suffixes);
    strcpy(sufbuf, suffixes);
    sufbuf[comma - suffixes] = 0;
    o.suffix_left = sufbuf;
    o.suffix_right = sufbuf + (comma - suffixes) + 1;
  }
  if (threads) {
    errno = 0;
    long t = strtol(threads, &end, 10);
    if (end == threads || *end || errno || t < 0)
      return cli_usage_error("xmatch: --threads '%s' is not a non-negative integer", threads);
    o.threads = t > 256 ? 256 : (int)t;
  }
  o.where_right = where;

  st_error err = {0};
  xside_cli L = {0}, R = {0};
  char *bl = NULL, *br = NULL;
  const char **nl = NULL, **nr = NULL;
  st_table *out = NULL;
  st_xmatch_stats stats;
  int rc = 0;
  if (cl) {
    if (split_list(cl, &bl, &nl, &o.n_columns_left)) { rc = fail_oom(&err); goto done; }
    o.columns_left = nl;
  }
  if (cr) {
    if (split_list(cr, &br, &nr, &o.n_columns_right)) { rc = fail_oom(&err); goto done; }
    o.columns_right = nr;
  }
  if ((rc = open_side(pos[0], &L, &err))) goto done;
  if ((rc = open_side(pos[1], &R, &err))) goto done;
  if (margin) {
    if ((rc = st_catalog_open(margin, NULL, &R.margin, &err))) goto done;
  } else if (R.cat && st_catalog_is_collection(R.cat)) {
    st_error e2 = {0};
    if (st_catalog_open_subcatalog(R.cat, NULL, NULL, &R.margin, &e2)) R.margin = NULL;
  }
  st_xmatch_input li = {L.cat, NULL, L.table, lra, ldec};
  st_xmatch_input ri = {R.cat, R.margin, R.table, rra, rdec};
  if ((rc = st_xmatch_run(&li, &ri, &o, &out, &stats, &err))) goto done;
  if (want_stats)
    fprintf(stderr,
            "xmatch: left rows %lld in %d partitions; right rows read %lld (%d partition reads, "
            "%lld bytes read); pairs %lld\n",
            (long long)stats.left_rows, stats.left_partitions, (long long)stats.right_rows_read,
            stats.right_partitions_read, (long long)stats.bytes_read, (long long)stats.pairs);
  if ((rc = write_result(out, output, &err))) goto done;
  if (!output && fflush(stdout)) {
    fprintf(stderr, "skytile: xmatch: writing stdout failed\n");
    rc = -1;
  }
done:
  st_table_free(out);
  st_catalog_close(L.cat);
  st_catalog_close(R.cat);
  st_catalog_close(R.margin);
  st_table_free(L.table);
  st_table_free(R.table);
  free(bl);
  free(br);
  free(nl);
  free(nr);
  if (rc > 0) return cli_report(&err);
  return rc ? 1 : 0;
}
