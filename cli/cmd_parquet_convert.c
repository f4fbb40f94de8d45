/*
** This file implements `skytile parquet convert IN OUT`: CSV or Parquet in,
** Parquet out through the skytile writer.
**
** Parquet input is re-encoded row group by row group through our reader.
** CSV input (RFC 4180: comma separated, double-quoted fields with "" as an
** escaped quote, quoted fields may span lines, LF or CRLF line ends, one
** header row) is read in two streaming passes: the first infers each
** column's type (int64, else double, else string; empty unquoted cells are
** null and do not vote), the second parses batches of at most one row group
** of rows column by column and hands each batch to the writer.  With
** --schema FILE.parquet the column types come from that file instead
** (booleans, integers, floats and strings can be parsed).  Memory is bounded
** by one batch.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>

#include "commands.h"

/* Fill err (code ST_ERR_INVALID unless set) and return 1. */
__attribute__((format(printf, 2, 3))) static int st_fail_cli(st_error *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  err->code = ST_ERR_INVALID;
  return 1;
}

static void convert_usage(FILE *f) {
  fprintf(f,
          "usage: skytile parquet convert IN OUT [--compression C] [--row-group-rows N]\n"
          "                                [--schema FILE.parquet]\n\n"
          "Write IN (CSV with a header row, or Parquet) as the Parquet file OUT.\n\n"
          "options:\n"
          "  --compression C     zstd[:LEVEL] (default zstd), snappy, gzip[:LEVEL], lz4_raw, none\n"
          "  --row-group-rows N  rows per row group (default 1048576)\n"
          "  --schema FILE       take the CSV column types from this Parquet file's schema\n"
          "                      (default: inferred per column: int64, double, else string)\n");
}

/* ---- CSV record reader ----------------------------------------------------------- */

typedef struct csv {
  FILE *fp;
  const char *path;
  char buf[1 << 16];
  size_t pos, len;
  bool eof;
  int64_t line;              /* line number of the current record's start      */
  int64_t cur_line;          /* line of the reader position                    */
  /* current record: fields as offsets into data */
  char *data;
  size_t data_len, data_cap;
  size_t *fstart, *flen;
  bool *fquoted;
  int nf, capf;
} csv;

static int csv_getc(csv *c) {
  if (c->pos == c->len) {
    if (c->eof) return EOF;
    c->len = fread(c->buf, 1, sizeof c->buf, c->fp);
    c->pos = 0;
    if (c->len == 0) {
      c->eof = true;
      return EOF;
    }
  }
  return (unsigned char)c->buf[c->pos++];
}

static int csv_put(csv *c, char ch, st_error *err) {
  if (c->data_len + 1 >= c->data_cap) {
    size_t nc = c->data_cap ? c->data_cap * 2 : 4096;
    char *p = realloc(c->data, nc);
    if (!p) return st_fail_cli(err, "out of memory");
    c->data = p;
    c->data_cap = nc;
  }
  c->data[c->data_len++] = ch;
  return 0;
}

static int csv_field_end(csv *c, size_t start, bool quoted, st_error *err) {
  if (c->nf == c->capf) {
    int nc = c->capf ? c->capf * 2 : 16;
    size_t *s = realloc(c->fstart, sizeof(size_t) * (size_t)nc);
    if (s) c->fstart = s;
    size_t *l = realloc(c->flen, sizeof(size_t) * (size_t)nc);
    if (l) c->flen = l;
    bool *q = realloc(c->fquoted, sizeof(bool) * (size_t)nc);
    if (q) c->fquoted = q;
    if (!s || !l || !q) return st_fail_cli(err, "out of memory");
    c->capf = nc;
  }
  c->fstart[c->nf] = start;
  c->flen[c->nf] = c->data_len - start;
  c->fquoted[c->nf] = quoted;
  c->nf++;
  return csv_put(c, 0, err);   /* NUL-terminate each field for strtoll/strtod */
}

/* Read one record; *got = false at end of input. */
static int csv_record(csv *c, bool *got, st_error *err) {
  c->nf = 0;
  c->data_len = 0;
  c->line = c->cur_line;
  int ch = csv_getc(c);
  if (ch == EOF) {
    *got = false;
    return 0;
  }
  *got = true;
  size_t start = 0;
  bool quoted = false;
  for (;;) {
    if (ch == '"' && c->data_len == start && !quoted) {
      quoted = true;
      for (;;) {
        ch = csv_getc(c);
        if (ch == EOF) {
          return st_fail_cli(err, "%s: line %lld: unterminated quoted field", c->path,
                             (long long)c->line);
        }
        if (ch == '"') {
          int n2 = csv_getc(c);
          if (n2 == '"') {
            if (csv_put(c, '"', err)) return 1;
            continue;
          }
          ch = n2;
          break;
        }
        if (ch == '\n') c->cur_line++;
        if (csv_put(c, (char)ch, err)) return 1;
      }
      continue;   /* ch holds the character after the closing quote */
    }
    if (ch == ',' ) {
      if (csv_field_end(c, start, quoted, err)) return 1;
      start = c->data_len;
      quoted = false;
    } else if (ch == '\n' || ch == EOF) {
      size_t l = c->data_len;
      if (!quoted && l > start && c->data[l - 1] == '\r') c->data_len--;
      if (csv_field_end(c, start, quoted, err)) return 1;
      c->cur_line++;
      return 0;
    } else if (ch == '\r' && quoted) {
      /* CR after a closing quote: part of CRLF */
    } else {
      if (quoted)
        return st_fail_cli(err, "%s: line %lld: characters after a closing quote", c->path,
                           (long long)c->line);
      if (csv_put(c, (char)ch, err)) return 1;
    }
    ch = csv_getc(c);
  }
}

static void csv_free(csv *c) {
  free(c->data);
  free(c->fstart);
  free(c->flen);
  free(c->fquoted);
}

/* Skip a UTF-8 byte order mark at the start of the file. */
static void csv_skip_bom(csv *c) {
  c->len = fread(c->buf, 1, sizeof c->buf, c->fp);
  c->pos = c->len >= 3 && !memcmp(c->buf, "\xef\xbb\xbf", 3) ? 3 : 0;
  c->eof = c->len == 0;
}

static int csv_open(csv *c, const char *path, st_error *err) {
  memset(c, 0, sizeof *c);
  c->path = path;
  c->cur_line = 1;
  c->fp = fopen(path, "rb");
  if (!c->fp) {
    st_fail_cli(err, "%s: cannot open: %s", path, strerror(errno));
    err->code = ST_ERR_IO;
    return 1;
  }
  csv_skip_bom(c);
  return 0;
}

static void csv_rewind(csv *c) {
  rewind(c->fp);
  c->pos = c->len = 0;
  c->eof = false;
  c->cur_line = 1;
  csv_skip_bom(c);
}

/* ---- cell parsing ------------------------------------------------------------------- */

static bool parse_i64(const char *s, int64_t *v) {
  if (!*s) return false;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (*end || errno || end == s || *s == ' ' || *s == '\t' || *s == '+') return false;
  *v = x;
  return true;
}

static bool parse_f64(const char *s, double *v) {
  if (!*s || *s == ' ' || *s == '\t') return false;
  char *end;
  double x = strtod(s, &end);
  if (*end || end == s) return false;
  /* no hex floats */
  for (const char *p = s; *p; p++)
    if (*p == 'x' || *p == 'X') return false;
  *v = x;
  return true;
}

enum { K_INT = 0, K_DOUBLE = 1, K_STRING = 2 };

/* Column description for parsing. */
typedef struct col {
  st_field field;            /* output field (owned)                           */
  int width;                 /* value bytes for fixed types, 0 strings, -1 bool */
  uint8_t *vals;             /* batch values (fixed)                            */
  uint8_t *valid;            /* batch validity (1 byte per row)                 */
  char *bytes;               /* strings: data                                   */
  size_t nbytes, capbytes;
  int64_t *offs;             /* strings: n+1 offsets                            */
} col;

static int col_width(const st_field *f) {
  switch (f->type) {
  case ST_T_BOOL: return -1;
  case ST_T_INT8: case ST_T_UINT8: return 1;
  case ST_T_INT16: case ST_T_UINT16: return 2;
  case ST_T_INT32: case ST_T_UINT32: case ST_T_FLOAT: return 4;
  case ST_T_INT64: case ST_T_UINT64: case ST_T_DOUBLE: return 8;
  case ST_T_STRING: case ST_T_BINARY: case ST_T_LARGE_STRING: case ST_T_LARGE_BINARY: return 0;
  default: return -2;
  }
}

/* Parse cell text s (not null) into slot i of column c. */
static int put_cell(col *c, int64_t i, const char *s, size_t len, st_error *err, const char *path,
                    int64_t line) {
  const st_field *f = &c->field;
  if (c->width == 0) {
    if (c->nbytes + len > c->capbytes) {
      size_t nc = c->capbytes ? c->capbytes : 1 << 16;
      while (nc < c->nbytes + len) nc *= 2;
      char *p = realloc(c->bytes, nc);
      if (!p) return st_fail_cli(err, "out of memory");
      c->bytes = p;
      c->capbytes = nc;
    }
    memcpy(c->bytes + c->nbytes, s, len);
    c->nbytes += len;
    c->offs[i + 1] = (int64_t)c->nbytes;
    return 0;
  }
  int64_t iv = 0;
  double dv = 0;
  bool ok;
  uint8_t *o = c->vals + (size_t)i * (size_t)(c->width < 0 ? 1 : c->width);
  switch (f->type) {
  case ST_T_BOOL:
    ok = true;
    if (!strcasecmp(s, "true") || !strcmp(s, "1")) *o = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0")) *o = 0;
    else ok = false;
    break;
  case ST_T_FLOAT: {
    ok = parse_f64(s, &dv);
    float x = (float)dv;
    memcpy(o, &x, 4);
    break;
  }
  case ST_T_DOUBLE:
    ok = parse_f64(s, &dv);
    memcpy(o, &dv, 8);
    break;
  case ST_T_UINT64: {
    char *end;
    errno = 0;
    unsigned long long u = strtoull(s, &end, 10);
    ok = *s && *s != '-' && !*end && !errno;
    memcpy(o, &u, 8);
    break;
  }
  default: {
    ok = parse_i64(s, &iv);
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    switch (f->type) {
    case ST_T_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case ST_T_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case ST_T_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case ST_T_UINT8: lo = 0; hi = UINT8_MAX; break;
    case ST_T_UINT16: lo = 0; hi = UINT16_MAX; break;
    case ST_T_UINT32: lo = 0; hi = UINT32_MAX; break;
    default: break;
    }
    ok = ok && iv >= lo && iv <= hi;
    if (ok) {
      if (c->width == 1) { int8_t x = (int8_t)iv; memcpy(o, &x, 1); }
      else if (c->width == 2) { int16_t x = (int16_t)iv; memcpy(o, &x, 2); }
      else if (c->width == 4) { int32_t x = (int32_t)iv; memcpy(o, &x, 4); }
      else memcpy(o, &iv, 8);
    }
    break;
  }
  }
  if (!ok) {
    char tn[64];
    st_field_type_string(f, tn, sizeof tn);
    return st_fail_cli(err, "%s: line %lld, column '%s': '%.*s' is not a valid %s", path,
                       (long long)line, f->name, (int)(len > 40 ? 40 : len), s, tn);
  }
  return 0;
}

static void cols_free(col *cols, int n) {
  if (!cols) return;
  for (int i = 0; i < n; i++) {
    st_field_clear(&cols[i].field);
    free(cols[i].vals);
    free(cols[i].valid);
    free(cols[i].bytes);
    free(cols[i].offs);
  }
  free(cols);
}

/* Turn the batch of n rows into a table and write it. */
static int flush_batch(st_pq_writer *w, col *cols, int nc, int64_t n, st_error *err) {
  st_array **arrs = calloc((size_t)nc, sizeof *arrs);
  st_field *fields = calloc((size_t)nc, sizeof *fields);
  if (!arrs || !fields) {
    free(arrs);
    free(fields);
    return st_fail_cli(err, "out of memory");
  }
  int rc = 0;
  for (int j = 0; j < nc && !rc; j++) {
    col *c = &cols[j];
    fields[j] = c->field;   /* shallow: st_table_new deep-copies */
    st_builder *b = NULL;
    rc = st_builder_new(&c->field, &b, err);
    if (!rc) {
      if (c->width == 0)
        rc = st_builder_append_strings(b, (const uint8_t *)c->bytes, c->offs, n, c->valid, err);
      else
        rc = st_builder_append_values(b, c->vals, n, c->valid, err);
    }
    if (!rc) rc = st_builder_finish(b, &arrs[j], err);
    st_builder_free(b);
  }
  st_table *t = NULL;
  if (!rc) {
    rc = st_table_new(fields, arrs, nc, n, NULL, &t, err);
  } else {
    for (int j = 0; j < nc; j++) st_array_free(arrs[j]);
  }
  free(arrs);
  free(fields);
  if (!rc) rc = st_pq_writer_write(w, t, err);
  st_table_free(t);
  return rc ? 1 : 0;
}

static int convert_csv(const char *in, const char *out, const st_pq_write_options *opt,
                       const char *schema_path, st_error *err) {
  csv c;
  if (csv_open(&c, in, err)) return 1;
  int rc = 0, nc = 0;
  col *cols = NULL;
  st_pq_writer *w = NULL;
  int *kind = NULL;
  bool got;
  if ((rc = csv_record(&c, &got, err))) goto done;
  if (!got) {
    rc = st_fail_cli(err, "%s: empty file (no header row)", in);
    goto done;
  }
  nc = c.nf;
  cols = calloc((size_t)nc, sizeof *cols);
  kind = calloc((size_t)nc, sizeof *kind);
  if (!cols || !kind) {
    rc = st_fail_cli(err, "out of memory");
    goto done;
  }
  for (int j = 0; j < nc; j++) cols[j].field.name = NULL;
  if (schema_path) {
    st_pq_reader *r = NULL;
    if ((rc = st_pq_open(schema_path, NULL, &r, err) ? 1 : 0)) goto done;
    const st_field *s = st_pq_schema(r);
    if (s->n_children != nc) {
      rc = st_fail_cli(err, "%s: %d columns, but the schema of %s has %d", in, nc, schema_path,
                       s->n_children);
    }
    for (int j = 0; j < nc && !rc; j++) {
      const char *hn = c.data + c.fstart[j];
      if (strcmp(hn, s->children[j].name)) {
        rc = st_fail_cli(err, "%s: column %d is '%s', but the schema of %s has '%s'", in, j + 1, hn,
                         schema_path, s->children[j].name);
        break;
      }
      if (col_width(&s->children[j]) < -1 || s->children[j].dict_encoded) {
        char tn[64];
        st_field_type_string(&s->children[j], tn, sizeof tn);
        rc = st_fail_cli(err, "%s: column '%s': type %s cannot be read from CSV", schema_path, hn,
                         tn);
        break;
      }
      if (st_field_copy(&cols[j].field, &s->children[j])) rc = st_fail_cli(err, "out of memory");
    }
    st_pq_close(r);
    if (rc) goto done;
  } else {
    /* pass 1: infer */
    char **names = calloc((size_t)nc, sizeof *names);
    if (!names) {
      rc = st_fail_cli(err, "out of memory");
      goto done;
    }
    for (int j = 0; j < nc; j++) names[j] = strdup(c.data + c.fstart[j]);
    for (;;) {
      if ((rc = csv_record(&c, &got, err))) break;
      if (!got) break;
      if (c.nf == 1 && c.flen[0] == 0 && !c.fquoted[0]) continue;   /* blank line */
      if (c.nf != nc) {
        rc = st_fail_cli(err, "%s: line %lld: %d fields, expected %d", in, (long long)c.line, c.nf,
                         nc);
        break;
      }
      for (int j = 0; j < nc; j++) {
        if (kind[j] == K_STRING) continue;
        const char *s = c.data + c.fstart[j];
        if (!c.flen[j]) continue;
        int64_t iv;
        double dv;
        if (kind[j] == K_INT && parse_i64(s, &iv)) continue;
        if (parse_f64(s, &dv)) kind[j] = K_DOUBLE;
        else kind[j] = K_STRING;
      }
    }
    for (int j = 0; j < nc && !rc; j++) {
      st_type_id t = kind[j] == K_INT ? ST_T_INT64 : kind[j] == K_DOUBLE ? ST_T_DOUBLE : ST_T_STRING;
      if (!names[j] || st_field_init(&cols[j].field, names[j], t, true))
        rc = st_fail_cli(err, "out of memory");
    }
    for (int j = 0; j < nc; j++) free(names[j]);
    free(names);
    if (rc) goto done;
    csv_rewind(&c);
    if ((rc = csv_record(&c, &got, err))) goto done;   /* header again */
  }
  int64_t batch = opt->row_group_rows > 0 && opt->row_group_rows < (1 << 20) ? opt->row_group_rows
                                                                              : (1 << 20);
  for (int j = 0; j < nc; j++) {
    cols[j].width = col_width(&cols[j].field);
    int vw = cols[j].width < 0 ? 1 : cols[j].width;
    cols[j].valid = malloc((size_t)batch);
    if (cols[j].width == 0) cols[j].offs = malloc(sizeof(int64_t) * (size_t)(batch + 1));
    else cols[j].vals = calloc((size_t)batch, (size_t)vw);
    if (!cols[j].valid || (cols[j].width == 0 ? !cols[j].offs : !cols[j].vals)) {
      rc = st_fail_cli(err, "out of memory");
      goto done;
    }
  }
  st_field schema;
  memset(&schema, 0, sizeof schema);
  schema.name = (char *)"schema";
  schema.type = ST_T_STRUCT;
  schema.n_children = nc;
  st_field *fl = calloc((size_t)nc, sizeof *fl);
  if (!fl) {
    rc = st_fail_cli(err, "out of memory");
    goto done;
  }
  for (int j = 0; j < nc; j++) fl[j] = cols[j].field;
  schema.children = fl;
  rc = st_pq_writer_open(out, &schema, opt, &w, err) ? 1 : 0;
  free(fl);
  if (rc) goto done;
  /* pass 2: parse batches */
  int64_t n = 0;
  for (;;) {
    if ((rc = csv_record(&c, &got, err))) goto done;
    if (got && c.nf == 1 && c.flen[0] == 0 && !c.fquoted[0] && nc != 1) continue;
    if (got) {
      if (c.nf != nc) {
        rc = st_fail_cli(err, "%s: line %lld: %d fields, expected %d", in, (long long)c.line, c.nf,
                         nc);
        goto done;
      }
      for (int j = 0; j < nc; j++) {
        col *cj = &cols[j];
        if (cj->width == 0 && n == 0) {
          cj->nbytes = 0;
          cj->offs[0] = 0;
        }
        bool null = c.flen[j] == 0 && (!c.fquoted[j] || cj->width != 0);
        cj->valid[n] = !null;
        if (null) {
          if (cj->width == 0) cj->offs[n + 1] = (int64_t)cj->nbytes;
          continue;
        }
        if (put_cell(cj, n, c.data + c.fstart[j], c.flen[j], err, in, c.line)) {
          rc = 1;
          goto done;
        }
      }
      n++;
    }
    if (n == batch || (!got && n > 0)) {
      if ((rc = flush_batch(w, cols, nc, n, err))) goto done;
      n = 0;
    }
    if (!got) break;
  }
  rc = st_pq_writer_close(w, err) ? 1 : 0;
  w = NULL;
done:
  st_pq_writer_abort(w);
  cols_free(cols, nc);
  free(kind);
  fclose(c.fp);
  csv_free(&c);
  return rc;
}

static int convert_parquet(const char *in, const char *out, const st_pq_write_options *opt,
                           st_error *err) {
  st_pq_reader *r = NULL;
  if (st_pq_open(in, NULL, &r, err)) return 1;
  st_pq_writer *w = NULL;
  /* the schema is written unchanged: keep the Arrow schema pyarrow stored */
  st_pq_write_options o2 = *opt;
  const char *arrow = st_field_get_meta(st_pq_schema(r), "ARROW:schema");
  const char *key = "ARROW:schema";
  if (arrow) {
    o2.n_kv = 1;
    o2.kv_keys = &key;
    o2.kv_values = &arrow;
  }
  int rc = st_pq_writer_open(out, st_pq_schema(r), &o2, &w, err) ? 1 : 0;
  for (int g = 0; !rc && g < st_pq_num_row_groups(r); g++) {
    st_table *t = NULL;
    rc = st_pq_read(r, &g, 1, NULL, 0, &t, err) ? 1 : 0;
    if (!rc) rc = st_pq_writer_write(w, t, err) ? 1 : 0;
    st_table_free(t);
  }
  if (!rc) {
    rc = st_pq_writer_close(w, err) ? 1 : 0;
    w = NULL;
  }
  st_pq_writer_abort(w);
  st_pq_close(r);
  return rc;
}

static bool is_parquet(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char m[4] = {0};
  size_t n = fread(m, 1, 4, f);
  fclose(f);
  return n == 4 && !memcmp(m, "PAR1", 4);
}

int cmd_parquet_convert(int argc, char **argv) {
  const char *pos[2] = {NULL, NULL};
  int npos = 0;
  const char *schema = NULL;
  st_error err = {0, ""};
  st_pq_write_options opt;
  st_pq_write_options_init(&opt);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      convert_usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--compression") || !strcmp(a, "--row-group-rows") || !strcmp(a, "--schema")) {
      if (i + 1 >= argc) return cli_usage_error("parquet convert: %s needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "--compression")) {
        if (st_pq_parse_compression(v, &opt.compression, &opt.compression_level, &err))
          return cli_usage_error("parquet convert: %s", err.msg);
      } else if (!strcmp(a, "--row-group-rows")) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (*end || n <= 0) return cli_usage_error("parquet convert: bad --row-group-rows '%s'", v);
        opt.row_group_rows = n;
      } else {
        schema = v;
      }
    } else if (a[0] == '-' && a[1]) {
      return cli_usage_error("parquet convert: unknown option '%s'", a);
    } else if (npos < 2) {
      pos[npos++] = a;
    } else {
      return cli_usage_error("parquet convert: too many arguments");
    }
  }
  if (npos != 2) {
    convert_usage(stderr);
    return 2;
  }
  int rc;
  if (is_parquet(pos[0])) {
    if (schema) return cli_usage_error("parquet convert: --schema applies to CSV input only");
    rc = convert_parquet(pos[0], pos[1], &opt, &err);
  } else {
    rc = convert_csv(pos[0], pos[1], &opt, schema, &err);
  }
  return rc ? cli_report(&err) : 0;
}
