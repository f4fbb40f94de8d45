/*
** This file implements the searches: `skytile cone|box|polygon|pixels|scan`.
**
** Every search parses its positional arguments (the region) and the shared
** options, builds an st_query, runs it on the opened catalog and writes the
** result: CSV with a header to stdout, or --output FILE (.parquet, .csv,
** .jsonl by extension).  The result is streamed: st_query_run_stream hands
** over one partition's rows at a time, written at once (CSV/JSONL to a
** temporary file renamed into place at the end; Parquet through
** st_pq_writer, row groups cut at 1M rows or ~16 MiB), so a scan of a big
** catalog runs in bounded memory.  --explain prints the pruning counters to stderr.
** Arguments starting with "--" are options; anything else is positional
** (so negative numbers need no quoting).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

typedef struct search_opts {
  const char *columns, *where, *output, *ra_col, *dec_col, *ra_range, *dec_range;
  int64_t limit, batch_rows;
  int threads, order;
  bool explain;
  bool allow_parent;          /* --allow-parent-paths                       */
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
          "  --batch-rows N     read big partitions/files in pieces of ~N rows (default 1048576)\n"
          "  --ra-col NAME, --dec-col NAME   position columns\n"
          "  --explain          print partitions/row groups/bytes considered vs read\n"
          "  --allow-parent-paths  open a collection whose hats_primary_table_url is\n"
          "                     \"../name\" (a sibling directory), as hats does\n",
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
    if (!strcmp(a, "--allow-parent-paths")) { o->allow_parent = true; continue; }
    if (i + 1 >= argc) return cli_usage_error("%s: option %s needs a value", cmd, a);
    const char *v = argv[++i];
    if (!strcmp(a, "--columns")) o->columns = v;
    else if (!strcmp(a, "--where")) o->where = v;
    else if (!strcmp(a, "--output") || !strcmp(a, "-o")) o->output = v;
    else if (!strcmp(a, "--ra-col")) o->ra_col = v;
    else if (!strcmp(a, "--dec-col")) o->dec_col = v;
    else if (!strcmp(a, "--ra")) o->ra_range = v;
    else if (!strcmp(a, "--dec")) o->dec_range = v;
    else if (!strcmp(a, "--limit") || !strcmp(a, "--threads") || !strcmp(a, "--order") || !strcmp(a, "--batch-rows")) {
      char *end = NULL;
      errno = 0;
      long long n = strtoll(v, &end, 10);
      if (end == v || *end || errno || n < 0) return cli_usage_error("%s: %s '%s' is not a non-negative integer", cmd, a, v);
      if (!strcmp(a, "--limit")) o->limit = n;
      else if (!strcmp(a, "--threads")) o->threads = n > 256 ? 256 : (int)n;
      else if (!strcmp(a, "--batch-rows")) o->batch_rows = n;
      else o->order = n > 29 ? 30 : (int)n;
    } else return cli_usage_error("%s: unknown option '%s'", cmd, a);
  }
  if (o->npos < 1) return cli_usage_error("%s: missing CATALOG (see skytile %s --help)", cmd, cmd);
  return 0;
}

/* Set err (the CLI has no st_fail) and return its code. */
static int fail_with(st_error *err, int code, const char *fmt, const char *a, const char *b) {
  err->code = code;
  snprintf(err->msg, sizeof err->msg, fmt, a, b);
  return code;
}

/* Output sink fed batch by batch by st_query_run_stream. */
typedef enum { OUT_CSV_STDOUT, OUT_CSV, OUT_JSONL, OUT_PARQUET } out_kind;

typedef struct sink {
  out_kind kind;
  const char *path;          /* --output                                    */
  char *tmp;                 /* CSV/JSONL: written here, renamed at the end */
  FILE *fp;
  st_pq_writer *pw;
  bool started;              /* first batch seen (header, writer opened)    */
} sink;

static int sink_batch(void *arg, const st_table *t, st_error *err) {
  sink *k = arg;
  bool first = !k->started;
  k->started = true;
  switch (k->kind) {
  case OUT_CSV_STDOUT: return st_table_write_csv(t, stdout, first, err);
  case OUT_CSV: return st_table_write_csv(t, k->fp, first, err);
  case OUT_JSONL: return st_table_write_jsonl(t, k->fp, err);
  case OUT_PARQUET:
    if (first) {
      st_pq_write_options opt;
      st_pq_write_options_init(&opt);
      opt.row_group_bytes = 16 << 20;   /* bounds the rows the writer buffers */
      if (st_pq_writer_open(k->path, &t->schema, &opt, &k->pw, err)) return err->code ? err->code : 1;
    }
    return st_pq_writer_write(k->pw, t, err);
  }
  return 0;
}

static int sink_open(sink *k, const char *output, st_error *err) {
  memset(k, 0, sizeof *k);
  k->path = output;
  if (!output) { k->kind = OUT_CSV_STDOUT; return 0; }
  if (cli_ends_with(output, ".parquet") || cli_ends_with(output, ".parq") || cli_ends_with(output, ".pq")) {
    k->kind = OUT_PARQUET;
    return 0;
  }
  k->kind = cli_ends_with(output, ".jsonl") || cli_ends_with(output, ".ndjson") ? OUT_JSONL : OUT_CSV;
  size_t n = strlen(output) + 32;
  if (!(k->tmp = malloc(n))) return fail_with(err, ST_ERR_NOMEM, "%s%s", "out of memory", "");
  snprintf(k->tmp, n, "%s.tmp-%ld", output, (long)getpid());
  if (!(k->fp = fopen(k->tmp, "wb")))
    return fail_with(err, ST_ERR_IO, "%s: cannot create: %s", k->tmp, strerror(errno));
  return 0;
}

/* Finish (ok) or discard the output. */
static int sink_close(sink *k, bool ok, st_error *err) {
  int rc = 0;
  if (k->pw) {
    if (ok) rc = st_pq_writer_close(k->pw, err);
    else st_pq_writer_abort(k->pw);
    k->pw = NULL;
  }
  if (k->fp) {
    bool bad = ferror(k->fp) != 0;
    if (fclose(k->fp) || bad) {
      if (ok) rc = fail_with(err, ST_ERR_IO, "%s: write failed%s", k->path, "");
      ok = false;
    }
    k->fp = NULL;
    if (ok && rename(k->tmp, k->path)) rc = fail_with(err, ST_ERR_IO, "%s: cannot rename into place: %s", k->path, strerror(errno));
    if (!ok || rc) remove(k->tmp);
  }
  free(k->tmp);
  k->tmp = NULL;
  return rc;
}

/* Configure the shared options, run, write. */
static int run_search(const char *cmd, search_opts *o, st_query *q) {
  st_error err = {0};
  st_catalog *c = NULL;
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
  st_query_set_batch_rows(q, o->batch_rows);
  st_catalog_options copts;
  st_catalog_options_init(&copts);
  copts.allow_parent_paths = o->allow_parent;
  if ((rc = st_catalog_open(o->pos[0], &copts, &c, &err))) goto fail;
  sink k;
  if ((rc = sink_open(&k, o->output, &err))) { sink_close(&k, false, &err); goto fail; }
  rc = st_query_run_stream(q, c, sink_batch, &k, &stats, &err);
  if (rc) { sink_close(&k, false, &err); goto fail; }
  if ((rc = sink_close(&k, true, &err))) goto fail;
  if (o->explain)
    fprintf(stderr,
            "%s: partitions %d considered, %d meet the region (MOC order %d); files opened %d\n"
            "%s: row groups %lld considered, %lld after _healpix_29 stats, %lld read (after --where stats)\n"
            "%s: bytes %lld considered, %lld read; rows %lld read, %lld matched\n",
            cmd, stats.partitions_total, stats.partitions_region, stats.moc_order, stats.files_opened, cmd,
            (long long)stats.row_groups_total, (long long)stats.row_groups_hpx, (long long)stats.row_groups_read, cmd,
            (long long)stats.bytes_total, (long long)stats.bytes_read, (long long)stats.rows_read,
            (long long)stats.rows_matched);
  if (!o->output && fflush(stdout)) { fprintf(stderr, "skytile: %s: writing stdout failed\n", cmd); rc = 1; }
  st_catalog_close(c);
  st_query_free(q);
  return rc ? 1 : 0;
fail:
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
