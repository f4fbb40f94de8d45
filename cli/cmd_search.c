/*
** This file implements the searches: `skytile cone|box|polygon|pixels|scan`.
**
** Every search parses its positional arguments (the region) and the shared
** options, builds an st_query, runs it on the opened catalog and writes the
** result: CSV with a header to stdout, or --output FILE (.parquet, .csv,
** .jsonl by extension).  --explain prints the pruning counters to stderr.
** Arguments starting with "--" are options; anything else is positional
** (so negative numbers need no quoting).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

typedef struct search_opts {
  const char *columns, *where, *output, *ra_col, *dec_col, *ra_range, *dec_range;
  int64_t limit;
  int threads, order;
  bool explain;
  const char *pos[4096];
  int npos;
} search_opts;

static int usage(const char *cmd) {
  fprintf(stderr,
          "usage: skytile %s CATALOG %s [options]\n"
          "options:\n"
          "  --columns a,b      output columns (default: hats_cols_default, else all)\n"
          "  --where EXPR       filter, e.g. \"mag < 12 and (cls == 'star' or id in (1,2))\"\n"
          "  --limit N          at most N rows\n"
          "  --output FILE      write .parquet, .csv or .jsonl (default: CSV to stdout)\n"
          "  --threads N        worker threads (default 1)\n"
          "  --ra-col NAME, --dec-col NAME   position columns\n"
          "  --explain          print partitions/row groups/bytes considered vs read\n",
          cmd,
          !strcmp(cmd, "cone") ? "RA DEC RADIUS_ARCSEC"
          : !strcmp(cmd, "box") ? "--ra LO,HI --dec LO,HI"
          : !strcmp(cmd, "polygon") ? "RA1,DEC1 RA2,DEC2 RA3,DEC3 ..."
          : !strcmp(cmd, "pixels") ? "--order K PIX..." : "");
  return 0;
}

static int parse_num(const char *cmd, const char *what, const char *s, double *out) {
  char *end = NULL;
  errno = 0;
  *out = strtod(s, &end);
  if (end == s || *end || errno) return cli_usage_error("%s: %s '%s' is not a number", cmd, what, s);
  return 0;
}

static int parse_pair(const char *cmd, const char *what, const char *s, double *a, double *b) {
  const char *comma = strchr(s, ',');
  if (!comma) return cli_usage_error("%s: %s '%s' must be A,B", cmd, what, s);
  char buf[256];
  size_t n = (size_t)(comma - s);
  if (n >= sizeof buf) return cli_usage_error("%s: %s too long", cmd, what);
  memcpy(buf, s, n);
  buf[n] = 0;
  if (parse_num(cmd, what, buf, a) || parse_num(cmd, what, comma + 1, b)) return 2;
  return 0;
}

static int parse_args(const char *cmd, int argc, char **argv, search_opts *o) {
  memset(o, 0, sizeof *o);
  o->limit = -1;
  o->threads = 1;
  o->order = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) return -1;
    if (strncmp(a, "--", 2)) {
      if (o->npos >= (int)(sizeof o->pos / sizeof o->pos[0])) return cli_usage_error("%s: too many arguments", cmd);
      o->pos[o->npos++] = a;
      continue;
    }
    if (!strcmp(a, "--explain")) { o->explain = true; continue; }
    if (i + 1 >= argc) return cli_usage_error("%s: option %s needs a value", cmd, a);
    const char *v = argv[++i];
    if (!strcmp(a, "--columns")) o->columns = v;
    else if (!strcmp(a, "--where")) o->where = v;
    else if (!strcmp(a, "--output") || !strcmp(a, "-o")) o->output = v;
    else if (!strcmp(a, "--ra-col")) o->ra_col = v;
    else if (!strcmp(a, "--dec-col")) o->dec_col = v;
    else if (!strcmp(a, "--ra")) o->ra_range = v;
    else if (!strcmp(a, "--dec")) o->dec_range = v;
    else if (!strcmp(a, "--limit") || !strcmp(a, "--threads") || !strcmp(a, "--order")) {
      char *end = NULL;
      errno = 0;
      long long n = strtoll(v, &end, 10);
      if (end == v || *end || errno || n < 0) return cli_usage_error("%s: %s '%s' is not a non-negative integer", cmd, a, v);
      if (!strcmp(a, "--limit")) o->limit = n;
      else if (!strcmp(a, "--threads")) o->threads = n > 256 ? 256 : (int)n;
      else o->order = n > 29 ? 30 : (int)n;
    } else return cli_usage_error("%s: unknown option '%s'", cmd, a);
  }
  if (o->npos < 1) return cli_usage_error("%s: missing CATALOG (see skytile %s --help)", cmd, cmd);
  return 0;
}

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcasecmp(s + n - m, suf);
}

static int write_result(const st_table *t, const char *output, st_error *err) {
  if (!output) return st_table_write_csv(t, stdout, true, err);
  if (ends_with(output, ".parquet") || ends_with(output, ".parq") || ends_with(output, ".pq"))
    return st_pq_write_table_path(output, t, NULL, err);
  if (ends_with(output, ".jsonl") || ends_with(output, ".ndjson")) return st_table_write_jsonl_path(t, output, false, err);
  return st_table_write_csv_path(t, output, true, false, err);
}

/* Configure the shared options, run, write. */
static int run_search(const char *cmd, search_opts *o, st_query *q) {
  st_error err = {0};
  st_catalog *c = NULL;
  st_table *t = NULL;
  st_query_stats stats;
  char **names = NULL;
  int rc = 0, n = 0;
  if (o->columns) {
    size_t len = strlen(o->columns);
    names = calloc(len + 1, sizeof *names);
    char *copy = strdup(o->columns);
    if (!names || !copy) { free(names); free(copy); fprintf(stderr, "skytile: out of memory\n"); return 1; }
    for (char *s = strtok(copy, ","); s; s = strtok(NULL, ",")) {
      while (*s == ' ') s++;
      if (*s) names[n++] = s;
    }
    rc = st_query_set_columns(q, (const char *const *)names, n, &err);
    free(copy);
    free(names);
    if (rc) goto fail;
  }
  if (o->where && (rc = st_query_set_where(q, o->where, &err))) goto fail;
  if ((o->ra_col || o->dec_col) && (rc = st_query_set_radec_columns(q, o->ra_col, o->dec_col, &err))) goto fail;
  st_query_set_limit(q, o->limit);
  st_query_set_threads(q, o->threads);
  if ((rc = st_catalog_open(o->pos[0], NULL, &c, &err))) goto fail;
  if ((rc = st_query_run(q, c, &t, &stats, &err))) goto fail;
  if (o->explain)
    fprintf(stderr,
            "%s: partitions %d considered, %d meet the region (MOC order %d); files opened %d\n"
            "%s: row groups %lld considered, %lld after _healpix_29 stats, %lld read (after --where stats)\n"
            "%s: bytes %lld considered, %lld read; rows %lld read, %lld matched\n",
            cmd, stats.partitions_total, stats.partitions_region, stats.moc_order, stats.files_opened, cmd,
            (long long)stats.row_groups_total, (long long)stats.row_groups_hpx, (long long)stats.row_groups_read, cmd,
            (long long)stats.bytes_total, (long long)stats.bytes_read, (long long)stats.rows_read,
            (long long)stats.rows_matched);
  if ((rc = write_result(t, o->output, &err))) goto fail;
  if (!o->output && fflush(stdout)) { fprintf(stderr, "skytile: %s: writing stdout failed\n", cmd); rc = 1; }
  st_table_free(t);
  st_catalog_close(c);
  st_query_free(q);
  return rc ? 1 : 0;
fail:
  st_table_free(t);
  st_catalog_close(c);
  st_query_free(q);
  return cli_report(&err);
}

static int new_query(st_query **q) {
  st_error err = {0};
  if (st_query_new(q, &err)) return cli_report(&err);
  return 0;
}

int cmd_cone(int argc, char **argv) {
  search_opts o;
  int rc = parse_args("cone", argc, argv, &o);
  if (rc < 0) return usage("cone");
  if (rc) return rc;
  if (o.npos != 4) return cli_usage_error("cone: expected CATALOG RA DEC RADIUS_ARCSEC");
  double ra, dec, r;
  if (parse_num("cone", "RA", o.pos[1], &ra) || parse_num("cone", "DEC", o.pos[2], &dec) ||
      parse_num("cone", "RADIUS_ARCSEC", o.pos[3], &r))
    return 2;
  st_query *q;
  if ((rc = new_query(&q))) return rc;
  st_error err = {0};
  if (st_query_set_cone(q, ra, dec, r / 3600.0, &err)) { st_query_free(q); return cli_report(&err); }
  return run_search("cone", &o, q);
}

int cmd_box(int argc, char **argv) {
  search_opts o;
  int rc = parse_args("box", argc, argv, &o);
  if (rc < 0) return usage("box");
  if (rc) return rc;
  if (o.npos != 1 || !o.ra_range || !o.dec_range) return cli_usage_error("box: expected CATALOG --ra LO,HI --dec LO,HI");
  double r0, r1, d0, d1;
  if (parse_pair("box", "--ra", o.ra_range, &r0, &r1) || parse_pair("box", "--dec", o.dec_range, &d0, &d1)) return 2;
  st_query *q;
  if ((rc = new_query(&q))) return rc;
  st_error err = {0};
  if (st_query_set_box(q, r0, r1, d0, d1, &err)) { st_query_free(q); return cli_report(&err); }
  return run_search("box", &o, q);
}

int cmd_polygon(int argc, char **argv) {
  search_opts o;
  int rc = parse_args("polygon", argc, argv, &o);
  if (rc < 0) return usage("polygon");
  if (rc) return rc;
  if (o.npos < 4) return cli_usage_error("polygon: expected CATALOG and at least 3 vertices RA,DEC");
  int n = o.npos - 1;
  double ra[4096], dec[4096];
  for (int i = 0; i < n; i++)
    if (parse_pair("polygon", "vertex", o.pos[i + 1], &ra[i], &dec[i])) return 2;
  st_query *q;
  if ((rc = new_query(&q))) return rc;
  st_error err = {0};
  if (st_query_set_polygon(q, ra, dec, n, &err)) { st_query_free(q); return cli_report(&err); }
  return run_search("polygon", &o, q);
}

int cmd_pixels(int argc, char **argv) {
  search_opts o;
  int rc = parse_args("pixels", argc, argv, &o);
  if (rc < 0) return usage("pixels");
  if (rc) return rc;
  if (o.order < 0 || o.npos < 2) return cli_usage_error("pixels: expected CATALOG --order K PIX...");
  int n = o.npos - 1;
  int64_t pix[4096];
  for (int i = 0; i < n; i++) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(o.pos[i + 1], &end, 10);
    if (end == o.pos[i + 1] || *end || errno) return cli_usage_error("pixels: '%s' is not a pixel index", o.pos[i + 1]);
    pix[i] = v;
  }
  st_query *q;
  if ((rc = new_query(&q))) return rc;
  st_error err = {0};
  if (st_query_set_pixels(q, o.order, pix, n, &err)) { st_query_free(q); return cli_report(&err); }
  return run_search("pixels", &o, q);
}

int cmd_scan(int argc, char **argv) {
  search_opts o;
  int rc = parse_args("scan", argc, argv, &o);
  if (rc < 0) return usage("scan");
  if (rc) return rc;
  if (o.npos != 1) return cli_usage_error("scan: expected CATALOG");
  st_query *q;
  if ((rc = new_query(&q))) return rc;
  return run_search("scan", &o, q);
}
