/*
** This file implements `skytile parquet schema|meta|cat|convert`: dispatch to
** the subcommands (schema/meta live in cmd_parquet_meta.c, convert in
** cmd_parquet_convert.c) and `cat`, which
** prints rows as CSV or JSON Lines.
**
** cat reads one row group at a time (memory bounded by the largest row
** group of the selected columns), writes it with the table writers (CSV
** header once) and stops reading as soon as --limit rows were printed.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static void parquet_usage(FILE *f) {
  fprintf(f, "usage: skytile parquet COMMAND FILE [OPTIONS]\n\n"
             "commands:\n"
             "  schema     print the schema (Parquet and Arrow types)\n"
             "  meta       print the metadata: row groups, column chunks, statistics\n"
             "  cat        print rows as CSV or JSON Lines\n"
             "  convert    convert CSV or Parquet to Parquet (skytile writer)\n\n"
             "Run 'skytile parquet COMMAND --help' for a command's options.\n");
}

static void cat_usage(FILE *f) {
  fprintf(f, "usage: skytile parquet cat FILE [--columns a,b] [--limit N] [--format csv|jsonl]\n"
             "                            [--verify-crc]\n\n"
             "Print the rows of a Parquet file (row group by row group).\n\n"
             "options:\n"
             "  --columns a,b     only these top-level columns, in this order\n"
             "  --limit N         print at most N rows\n"
             "  --format F        csv (default, with a header line) or jsonl\n"
             "  --verify-crc      check page checksums where the file has them\n");
}

/* Resolve a comma-separated list of column names; prints errors. Returns 0, 1 or 2. */
static int resolve_columns(const st_field *schema, const char *list, int **out, int *n_out) {
  int cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  int *cols = malloc(sizeof(int) * (size_t)cap);
  if (!cols) {
    fprintf(stderr, "skytile: out of memory\n");
    return 1;
  }
  int n = 0;
  const char *p = list;
  while (1) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    int found = -1;
    for (int i = 0; i < schema->n_children; i++) {
      const char *nm = schema->children[i].name;
      if (nm && strlen(nm) == len && !strncmp(nm, p, len)) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      fprintf(stderr, "skytile: parquet cat: unknown column '%.*s'; available columns:", (int)len, p);
      for (int i = 0; i < schema->n_children; i++)
        fprintf(stderr, "%s %s", i ? "," : "", schema->children[i].name);
      fprintf(stderr, "\n");
      free(cols);
      return 2;
    }
    cols[n++] = found;
    if (!e) break;
    p = e + 1;
  }
  *out = cols;
  *n_out = n;
  return 0;
}

static int cmd_parquet_cat(int argc, char **argv) {
  const char *path = NULL, *columns = NULL, *format = "csv";
  long long limit = -1;
  bool verify = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      cat_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--columns") || !strcmp(a, "--limit") || !strcmp(a, "--format")) {
      if (i + 1 >= argc) return cli_usage_error("parquet cat: %s needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "--columns")) {
        columns = v;
      } else if (!strcmp(a, "--format")) {
        format = v;
      } else {
        char *end;
        errno = 0;
        limit = strtoll(v, &end, 10);
        if (errno || *end || end == v || limit < 0)
          return cli_usage_error("parquet cat: bad --limit '%s'", v);
      }
    } else if (!strcmp(a, "--verify-crc")) {
      verify = true;
    } else if (a[0] == '-' && a[1]) {
      return cli_usage_error("parquet cat: unknown option '%s'", a);
    } else if (!path) {
      path = a;
    } else {
      return cli_usage_error("parquet cat: unexpected argument '%s'", a);
    }
  }
  if (!path) {
    cat_usage(stderr);
    return 2;
  }
  bool csv = !strcmp(format, "csv");
  if (!csv && strcmp(format, "jsonl"))
    return cli_usage_error("parquet cat: unknown --format '%s' (csv or jsonl)", format);

  st_error err = {0};
  st_pq_read_options opt;
  st_pq_read_options_init(&opt);
  opt.verify_crc = verify;
  st_pq_reader *r = NULL;
  if (st_pq_open(path, &opt, &r, &err)) return cli_report(&err);
  int *cols = NULL, ncols = 0, rc = 0;
  if (columns) {
    rc = resolve_columns(st_pq_schema(r), columns, &cols, &ncols);
    if (rc) {
      st_pq_close(r);
      return rc;
    }
  }
  bool header = csv;
  long long left = limit;
  int ng = st_pq_num_row_groups(r);
  for (int g = 0; g < ng && left != 0; g++) {
    st_table *t = NULL;
    if (st_pq_read(r, &g, 1, cols, ncols, &t, &err)) {
      rc = cli_report(&err);
      break;
    }
    if (left >= 0 && t->n_rows > left) {
      st_table *s = NULL;
      if (st_table_slice(t, 0, left, &s, &err)) {
        st_table_free(t);
        rc = cli_report(&err);
        break;
      }
      st_table_free(t);
      t = s;
    }
    if (t->n_rows > 0) {
      int w = csv ? st_table_write_csv(t, stdout, header, &err) : st_table_write_jsonl(t, stdout, &err);
      if (w) {
        st_table_free(t);
        rc = cli_report(&err);
        break;
      }
      header = false;
    }
    if (left >= 0) left -= t->n_rows;
    st_table_free(t);
  }
  /* CSV output always has its header line, also with no rows (--limit 0, empty file). */
  if (!rc && header) {
    st_table *t = NULL, *e = NULL;
    int g0 = 0;
    if (st_pq_read(r, ng ? &g0 : NULL, ng ? 1 : 0, cols, ncols, &t, &err) ||
        st_table_slice(t, 0, 0, &e, &err) || st_table_write_csv(e, stdout, true, &err))
      rc = cli_report(&err);
    st_table_free(e);
    st_table_free(t);
  }
  if (!rc && fflush(stdout)) {
    fprintf(stderr, "skytile: parquet cat: write error\n");
    rc = 1;
  }
  free(cols);
  st_pq_close(r);
  return rc;
}

int cmd_parquet(int argc, char **argv) {
  if (argc < 2) {
    parquet_usage(stderr);
    return 2;
  }
  if (cli_is_help(argv[1])) {
    parquet_usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "schema")) return cmd_parquet_schema(argc - 1, argv + 1);
  if (!strcmp(argv[1], "meta")) return cmd_parquet_meta(argc - 1, argv + 1);
  if (!strcmp(argv[1], "cat")) return cmd_parquet_cat(argc - 1, argv + 1);
  if (!strcmp(argv[1], "convert")) return cmd_parquet_convert(argc - 1, argv + 1);
  fprintf(stderr, "skytile: parquet: unknown command '%s'\n", argv[1]);
  parquet_usage(stderr);
  return 2;
}
