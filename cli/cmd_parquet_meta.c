/*
** This file implements `skytile parquet schema` and `skytile parquet meta`:
** printing a Parquet file's schema (the Parquet tree and the Arrow types it
** maps to) and its metadata (file, row groups, column chunks, statistics),
** as readable text or, with --json, as one JSON document for scripts.
**
** Only the public API is used (skytile/parquet_meta.h, skytile/table.h).
** Arrow types are printed the way pyarrow prints them ("list<element: int32
** not null>", "timestamp[us, tz=UTC]", "decimal128(10, 2)") so the output can
** be compared with pyarrow's by eye; the JSON form gives the same tree as
** objects {name, type, nullable, unit, tz, precision, scale, byte_width,
** children}.
*/
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* ---- small output helpers -------------------------------------------------------- */

/* True if p[0..n) is valid UTF-8 without NUL bytes. */
static bool utf8_ok(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t k;
    if (c == 0) return false;
    if (c < 0x80) k = 0;
    else if ((c & 0xe0) == 0xc0 && c >= 0xc2) k = 1;
    else if ((c & 0xf0) == 0xe0) k = 2;
    else if ((c & 0xf8) == 0xf0 && c <= 0xf4) k = 3;
    else return false;
    if (i + k >= n) return false;
    for (size_t j = 1; j <= k; j++)
      if ((p[i + j] & 0xc0) != 0x80) return false;
    i += k + 1;
  }
  return true;
}

/* JSON string literal; invalid UTF-8 bytes become \u00XX (Latin-1 reading). */
static void json_str_n(FILE *f, const char *s, size_t n) {
  if (!s) {
    fputs("null", f);
    return;
  }
  bool valid = utf8_ok((const unsigned char *)s, n);
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (c < 0x20 || (c >= 0x80 && !valid)) fprintf(f, "\\u%04x", c);
      else fputc(c, f);
    }
  }
  fputc('"', f);
}

static void json_str(FILE *f, const char *s) { json_str_n(f, s, s ? strlen(s) : 0); }

/* Text for humans: control characters escaped, cut at max bytes. */
static void print_trunc(FILE *f, const char *s, size_t n, size_t max) {
  size_t k = n < max ? n : max;
  for (size_t i = 0; i < k; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
  if (n > max) fprintf(f, "... (%zu bytes)", n);
}

/* Open FILE; prints "skytile: FILE: reason" on failure. */
static int open_file(const char *path, st_pq_reader **r) {
  st_error err;
  memset(&err, 0, sizeof err);
  int rc = st_pq_open(path, NULL, r, &err);
  if (!rc) return 0;
  size_t pl = strlen(path);
  if (!strncmp(err.msg, path, pl) && err.msg[pl] == ':') fprintf(stderr, "skytile: %s\n", err.msg);
  else fprintf(stderr, "skytile: %s: %s\n", path, err.msg[0] ? err.msg : st_code_name(rc));
  return 1;
}

static int report_path(const char *path, const st_error *err) {
  fprintf(stderr, "skytile: %s: %s\n", path, err->msg[0] ? err->msg : st_code_name(err->code));
  return 1;
}

/* ---- Arrow types, pyarrow style ------------------------------------------------------- */

static const char *unit_short(st_time_unit u) {
  switch (u) {
  case ST_SECOND: return "s";
  case ST_MILLI: return "ms";
  case ST_MICRO: return "us";
  default: return "ns";
  }
}

static void arrow_type(FILE *f, const st_field *t, int depth);

static void arrow_child(FILE *f, const st_field *c, int depth) {
  fprintf(f, "%s: ", c->name ? c->name : "");
  arrow_type(f, c, depth + 1);
  if (!c->nullable) fputs(" not null", f);
}

static void arrow_type(FILE *f, const st_field *t, int depth) {
  if (depth > 200) {
    fputs("...", f);
    return;
  }
  if (t->dict_encoded) fputs("dictionary<values=", f);
  switch (t->type) {
  case ST_T_NULL: fputs("null", f); break;
  case ST_T_BOOL: fputs("bool", f); break;
  case ST_T_INT8: fputs("int8", f); break;
  case ST_T_INT16: fputs("int16", f); break;
  case ST_T_INT32: fputs("int32", f); break;
  case ST_T_INT64: fputs("int64", f); break;
  case ST_T_UINT8: fputs("uint8", f); break;
  case ST_T_UINT16: fputs("uint16", f); break;
  case ST_T_UINT32: fputs("uint32", f); break;
  case ST_T_UINT64: fputs("uint64", f); break;
  case ST_T_FLOAT16: fputs("halffloat", f); break;
  case ST_T_FLOAT: fputs("float", f); break;
  case ST_T_DOUBLE: fputs("double", f); break;
  case ST_T_DECIMAL128:
  case ST_T_DECIMAL256:
    fprintf(f, "decimal%d(%d, %d)", t->type == ST_T_DECIMAL128 ? 128 : 256, (int)t->precision, (int)t->scale);
    break;
  case ST_T_STRING: fputs("string", f); break;
  case ST_T_BINARY: fputs("binary", f); break;
  case ST_T_LARGE_STRING: fputs("large_string", f); break;
  case ST_T_LARGE_BINARY: fputs("large_binary", f); break;
  case ST_T_FIXED_BINARY: fprintf(f, "fixed_size_binary[%d]", (int)t->byte_width); break;
  case ST_T_DATE32: fputs("date32[day]", f); break;
  case ST_T_DATE64: fputs("date64[ms]", f); break;
  case ST_T_TIME32: fprintf(f, "time32[%s]", unit_short(t->unit)); break;
  case ST_T_TIME64: fprintf(f, "time64[%s]", unit_short(t->unit)); break;
  case ST_T_TIMESTAMP:
    if (t->tz) fprintf(f, "timestamp[%s, tz=%s]", unit_short(t->unit), t->tz);
    else fprintf(f, "timestamp[%s]", unit_short(t->unit));
    break;
  case ST_T_DURATION: fprintf(f, "duration[%s]", unit_short(t->unit)); break;
  case ST_T_LIST:
  case ST_T_LARGE_LIST:
  case ST_T_FIXED_LIST:
    fputs(t->type == ST_T_LIST ? "list<" : t->type == ST_T_LARGE_LIST ? "large_list<" : "fixed_size_list<",
          f);
    if (t->n_children > 0) arrow_child(f, &t->children[0], depth);
    fputc('>', f);
    if (t->type == ST_T_FIXED_LIST) fprintf(f, "[%d]", (int)t->byte_width);
    break;
  case ST_T_MAP:
    fputs("map<", f);
    if (t->n_children > 0 && t->children[0].n_children == 2) {
      const st_field *kv = &t->children[0];
      arrow_type(f, &kv->children[0], depth + 1);
      fputs(", ", f);
      arrow_type(f, &kv->children[1], depth + 1);
      if (!kv->children[1].nullable) fputs(" not null", f);
    }
    fputc('>', f);
    break;
  case ST_T_STRUCT:
    fputs("struct<", f);
    for (int i = 0; i < t->n_children; i++) {
      if (i) fputs(", ", f);
      arrow_child(f, &t->children[i], depth);
    }
    fputc('>', f);
    break;
  default: fputs("unknown", f); break;
  }
  if (t->dict_encoded) fputs(", indices=int32>", f);
}

static const char *type_id_name(st_type_id t) {
  switch (t) {
  case ST_T_FLOAT16: return "halffloat";
  case ST_T_FIXED_BINARY: return "fixed_size_binary";
  default: return st_type_name(t);
  }
}

static void arrow_json(FILE *f, const st_field *t, int depth) {
  fputs("{\"name\": ", f);
  json_str(f, t->name);
  fprintf(f, ", \"type\": \"%s\", \"nullable\": %s", type_id_name(t->type), t->nullable ? "true" : "false");
  switch (t->type) {
  case ST_T_TIME32:
  case ST_T_TIME64:
  case ST_T_DURATION: fprintf(f, ", \"unit\": \"%s\"", unit_short(t->unit)); break;
  case ST_T_TIMESTAMP:
    fprintf(f, ", \"unit\": \"%s\", \"tz\": ", unit_short(t->unit));
    json_str(f, t->tz);
    break;
  case ST_T_DECIMAL128:
  case ST_T_DECIMAL256:
    fprintf(f, ", \"precision\": %d, \"scale\": %d", (int)t->precision, (int)t->scale);
    break;
  case ST_T_FIXED_BINARY: fprintf(f, ", \"byte_width\": %d", (int)t->byte_width); break;
  default: break;
  }
  if (t->n_children > 0 && depth < 200) {
    fputs(", \"children\": [", f);
    for (int i = 0; i < t->n_children; i++) {
      if (i) fputs(", ", f);
      arrow_json(f, &t->children[i], depth + 1);
    }
    fputc(']', f);
  }
  fputc('}', f);
}

/* ---- schema --------------------------------------------------------------------------- */

static void schema_usage(FILE *f) {
  fprintf(f, "usage: skytile parquet schema [--json] FILE\n\n"
             "Print the schema of a Parquet file: the Parquet tree (repetition,\n"
             "physical type, name, logical type) and the Arrow types it is read as.\n\n"
             "options:\n"
             "  --json     print {\"parquet\": [...elements], \"arrow\": [...fields]}\n");
}

/* Parse "[--json] FILE"; returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, void (*usage)(FILE *), bool *json, const char **path) {
  *json = false;
  *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--json")) {
      *json = true;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      usage(stderr);
      return cli_usage_error("parquet %s: unknown option '%s'", argv[0], argv[i]);
    } else if (*path) {
      usage(stderr);
      return cli_usage_error("parquet %s: more than one FILE", argv[0]);
    } else {
      *path = argv[i];
    }
  }
  if (!*path) {
    usage(stderr);
    return cli_usage_error("parquet %s: missing FILE", argv[0]);
  }
  return -1;
}

static void lower(FILE *f, const char *s) {
  for (; *s; s++) fputc(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, f);
}

static int schema_text(st_pq_reader *r, const char *path) {
  st_error err;
  int n = st_pq_num_elements(r);
  printf("%s: %d columns, %" PRId64 " rows, %d row groups\n\n", path, st_pq_num_columns(r),
         st_pq_footer_num_rows(r), st_pq_num_row_groups(r));
  printf("Parquet schema:\n");
  for (int i = 0; i < n; i++) {
    st_pq_element_info e;
    if (st_pq_describe_element(r, i, &e, &err)) return report_path(path, &err);
    printf("%*s", 2 + 2 * e.depth, "");
    if (i == 0) {
      printf("message %s", e.name);
    } else {
      lower(stdout, e.repetition);
      if (e.column >= 0) {
        putchar(' ');
        lower(stdout, e.physical_type);
        if (e.type_length) printf("(%d)", (int)e.type_length);
      } else {
        printf(" group");
      }
      printf(" %s", e.name);
    }
    if (e.logical_type[0]) printf(" (%s)", e.logical_type);
    else if (e.converted_type[0]) printf(" (%s)", e.converted_type);
    if (e.has_field_id) printf(" = %d", (int)e.field_id);
    if (e.column >= 0) {
      st_pq_column_info c;
      if (st_pq_describe_column(r, e.column, &c, &err)) return report_path(path, &err);
      printf("   [def %d, rep %d]", c.max_def, c.max_rep);
    }
    putchar('\n');
  }
  const st_field *root = st_pq_schema(r);
  printf("\nArrow schema:\n");
  for (int i = 0; root && i < root->n_children; i++) {
    printf("  ");
    arrow_child(stdout, &root->children[i], 0);
    putchar('\n');
  }
  return 0;
}

static int schema_json(st_pq_reader *r, const char *path) {
  st_error err;
  int n = st_pq_num_elements(r);
  printf("{\"file\": ");
  json_str(stdout, path);
  printf(", \"parquet\": [");
  for (int i = 0; i < n; i++) {
    st_pq_element_info e;
    if (st_pq_describe_element(r, i, &e, &err)) return report_path(path, &err);
    printf("%s\n  {\"name\": ", i ? "," : "");
    json_str(stdout, e.name);
    printf(", \"depth\": %d, \"num_children\": %d, \"column\": %d, \"repetition\": ", e.depth, e.num_children,
           e.column);
    json_str(stdout, e.repetition);
    printf(", \"physical_type\": ");
    json_str(stdout, e.physical_type);
    printf(", \"type_length\": %d, \"logical_type\": ", (int)e.type_length);
    json_str(stdout, e.logical_type);
    printf(", \"converted_type\": ");
    json_str(stdout, e.converted_type);
    if (e.has_field_id) printf(", \"field_id\": %d", (int)e.field_id);
    printf("}");
  }
  printf("],\n \"arrow\": [");
  const st_field *root = st_pq_schema(r);
  for (int i = 0; root && i < root->n_children; i++) {
    printf("%s\n  ", i ? "," : "");
    arrow_json(stdout, &root->children[i], 0);
  }
  printf("]}\n");
  return 0;
}

int cmd_parquet_schema(int argc, char **argv) {
  bool json;
  const char *path;
  int rc = parse_args(argc, argv, schema_usage, &json, &path);
  if (rc >= 0) return rc;
  st_pq_reader *r;
  if (open_file(path, &r)) return 1;
  rc = json ? schema_json(r, path) : schema_text(r, path);
  st_pq_close(r);
  if (!rc && (ferror(stdout) || fflush(stdout))) {
    fprintf(stderr, "skytile: write error on standard output\n");
    return 1;
  }
  return rc;
}

/* ---- meta ------------------------------------------------------------------------------ */

static void meta_usage(FILE *f) {
  fprintf(f, "usage: skytile parquet meta [--json] FILE\n\n"
             "Print a Parquet file's metadata: rows, row groups, writer, key/value\n"
             "metadata; per row group its rows, bytes and sorting columns; per column\n"
             "chunk its codec, encodings, sizes, value count and statistics.\n\n"
             "options:\n"
             "  --json     one JSON document (full key/value values, typed statistics)\n");
}

static void print_value(FILE *f, const st_pq_value *v) {
  char buf[256];
  int n = st_pq_value_format(v, buf, sizeof buf);
  if (v->kind == ST_PQ_VALUE_BYTES && v->is_text && !v->is_decimal) {
    fputc('"', f);
    print_trunc(f, (const char *)v->bytes, v->len, 64);
    fputc('"', f);
  } else {
    fputs(buf, f);
    if (n >= (int)sizeof buf) fputs("...", f);
  }
}

static int meta_text(st_pq_reader *r, const char *path) {
  st_error err;
  int ncol = st_pq_num_columns(r), nrg = st_pq_num_row_groups(r);
  const char *cb = st_pq_created_by(r);
  printf("file:        %s\n", path);
  printf("rows:        %" PRId64 "\n", st_pq_footer_num_rows(r));
  printf("row groups:  %d\n", nrg);
  printf("columns:     %d\n", ncol);
  printf("version:     %d\n", st_pq_format_version(r));
  printf("created by:  %s\n", cb ? cb : "(unknown)");
  if (st_pq_is_encrypted(r)) printf("encrypted:   yes (plaintext footer)\n");
  int nkv = st_pq_num_kv(r);
  if (nkv > 0) {
    printf("key/value metadata:\n");
    for (int i = 0; i < nkv; i++) {
      size_t len;
      const char *k = st_pq_kv_key(r, i), *v = st_pq_kv_value(r, i, &len);
      printf("  ");
      print_trunc(stdout, k, strlen(k), 60);
      printf(": ");
      if (v) print_trunc(stdout, v, len, 60);
      else printf("(no value)");
      putchar('\n');
    }
  }
  for (int g = 0; g < nrg; g++) {
    st_pq_row_group_info gi;
    if (st_pq_describe_row_group(r, g, &gi, &err)) return report_path(path, &err);
    printf("\nrow group %d: %" PRId64 " rows, %" PRId64 " bytes", g, gi.num_rows, gi.total_byte_size);
    if (gi.total_compressed_size >= 0) printf(" (%" PRId64 " compressed)", gi.total_compressed_size);
    putchar('\n');
    if (gi.n_sorting > 0) {
      printf("  sorted by:");
      for (int s = 0; s < gi.n_sorting; s++) {
        st_pq_sorting so;
        if (st_pq_row_group_sorting(r, g, s, &so, &err)) return report_path(path, &err);
        st_pq_column_info ci;
        const char *nm = "?";
        if (so.column >= 0 && so.column < ncol && !st_pq_describe_column(r, so.column, &ci,
                                                                         &err)) nm = ci.path;
        printf("%s %s %s nulls %s", s ? "," : "", nm, so.descending ? "desc" : "asc",
               so.nulls_first ? "first" : "last");
      }
      putchar('\n');
    }
    for (int c = 0; c < ncol; c++) {
      st_pq_chunk_info ch;
      if (st_pq_describe_chunk(r, g, c, &ch, &err)) return report_path(path, &err);
      printf("  %s: %s", ch.path, ch.physical_type);
      if (ch.encrypted) {
        printf(" (encrypted column metadata)\n");
        continue;
      }
      printf(" %s", ch.codec);
      printf(" [");
      for (int e = 0; e < ch.n_encodings && e < 16; e++) printf("%s%s", e ? "," : "", ch.encodings[e]);
      printf("] %" PRId64 " values, %" PRId64 " -> %" PRId64 " bytes", ch.num_values, ch.uncompressed_size,
             ch.compressed_size);
      if (ch.file_path) printf(", in %s", ch.file_path);
      putchar('\n');
      if (ch.has_stats) {
        printf("      stats:");
        if (ch.min.kind) {
          printf(" min ");
          print_value(stdout, &ch.min);
          if (ch.has_min_exact && !ch.min_exact) printf(" (inexact)");
        }
        if (ch.max.kind) {
          printf(" max ");
          print_value(stdout, &ch.max);
          if (ch.has_max_exact && !ch.max_exact) printf(" (inexact)");
        }
        if (ch.has_null_count) printf(" nulls %" PRId64, ch.null_count);
        if (ch.has_distinct_count) printf(" distinct %" PRId64, ch.distinct_count);
        if (ch.has_nan_count) printf(" NaNs %" PRId64, ch.nan_count);
        putchar('\n');
      }
    }
  }
  return 0;
}

static void json_value(FILE *f, const char *key, const st_pq_value *v) {
  char buf[256];
  st_pq_value_format(v, buf, sizeof buf);
  switch (v->kind) {
  case ST_PQ_VALUE_BOOL: fprintf(f, ", \"%s\": %s", key, v->b ? "true" : "false"); break;
  case ST_PQ_VALUE_INT: fprintf(f, ", \"%s\": %" PRId64, key, v->i); break;
  case ST_PQ_VALUE_UINT: fprintf(f, ", \"%s\": %" PRIu64, key, v->u); break;
  case ST_PQ_VALUE_DOUBLE:
    if (isfinite(v->d)) fprintf(f, ", \"%s\": %.17g", key, v->d);
    else fprintf(f, ", \"%s\": \"%s\"", key, v->d > 0 ? "inf" : "-inf");
    break;
  case ST_PQ_VALUE_BYTES: {
    fprintf(f, ", \"%s_hex\": \"", key);
    for (size_t i = 0; i < v->len; i++) fprintf(f, "%02x", v->bytes[i]);
    fputc('"', f);
    if (v->is_text && utf8_ok(v->bytes, v->len)) {
      fprintf(f, ", \"%s\": ", key);
      json_str_n(f, (const char *)v->bytes, v->len);
    }
    break;
  }
  default: return;
  }
  if (v->kind != ST_PQ_VALUE_BYTES || v->is_decimal) {
    fprintf(f, ", \"%s_str\": ", key);
    json_str(f, buf);
  }
}

static int meta_json(st_pq_reader *r, const char *path) {
  st_error err;
  int ncol = st_pq_num_columns(r), nrg = st_pq_num_row_groups(r);
  printf("{\"file\": ");
  json_str(stdout, path);
  printf(", \"num_rows\": %" PRId64 ", \"num_row_groups\": %d, \"num_columns\": %d, \"format_version\": %d",
         st_pq_footer_num_rows(r), nrg, ncol, st_pq_format_version(r));
  printf(", \"created_by\": ");
  json_str(stdout, st_pq_created_by(r));
  printf(", \"encrypted\": %s", st_pq_is_encrypted(r) ? "true" : "false");
  printf(",\n \"key_value_metadata\": [");
  for (int i = 0; i < st_pq_num_kv(r); i++) {
    size_t len;
    const char *v = st_pq_kv_value(r, i, &len);
    printf("%s{\"key\": ", i ? ", " : "");
    json_str(stdout, st_pq_kv_key(r, i));
    printf(", \"value\": ");
    json_str_n(stdout, v, len);
    printf("}");
  }
  printf("],\n \"columns\": [");
  for (int c = 0; c < ncol; c++) {
    st_pq_column_info ci;
    if (st_pq_describe_column(r, c, &ci, &err)) return report_path(path, &err);
    printf("%s\n  {\"path\": ", c ? "," : "");
    json_str(stdout, ci.path);
    printf(", \"physical_type\": \"%s\", \"type_length\": %d, \"logical_type\": ", ci.physical_type,
           (int)ci.type_length);
    json_str(stdout, ci.logical_type);
    printf(", \"converted_type\": ");
    json_str(stdout, ci.converted_type);
    printf(", \"max_definition_level\": %d, \"max_repetition_level\": %d, \"column_order\": \"%s\"}",
           ci.max_def,
           ci.max_rep, ci.column_order);
  }
  printf("],\n \"row_groups\": [");
  for (int g = 0; g < nrg; g++) {
    st_pq_row_group_info gi;
    if (st_pq_describe_row_group(r, g, &gi, &err)) return report_path(path, &err);
    printf("%s\n  {\"num_rows\": %" PRId64 ", \"total_byte_size\": %" PRId64, g ? "," : "", gi.num_rows,
           gi.total_byte_size);
    if (gi.total_compressed_size >= 0) printf(", \"total_compressed_size\": %" PRId64,
                                              gi.total_compressed_size);
    if (gi.file_offset >= 0) printf(", \"file_offset\": %" PRId64, gi.file_offset);
    if (gi.ordinal >= 0) printf(", \"ordinal\": %d", gi.ordinal);
    printf(", \"sorting_columns\": [");
    for (int s = 0; s < gi.n_sorting; s++) {
      st_pq_sorting so;
      if (st_pq_row_group_sorting(r, g, s, &so, &err)) return report_path(path, &err);
      printf("%s{\"column\": %d, \"descending\": %s, \"nulls_first\": %s}", s ? ", " : "", so.column,
             so.descending ? "true" : "false", so.nulls_first ? "true" : "false");
    }
    printf("], \"columns\": [");
    for (int c = 0; c < ncol; c++) {
      st_pq_chunk_info ch;
      if (st_pq_describe_chunk(r, g, c, &ch, &err)) return report_path(path, &err);
      printf("%s\n   {\"path\": ", c ? "," : "");
      json_str(stdout, ch.path);
      printf(", \"file_path\": ");
      json_str(stdout, ch.file_path);
      printf(", \"encrypted\": %s, \"physical_type\": \"%s\", \"codec\": \"%s\", \"encodings\": [",
             ch.encrypted ? "true" : "false", ch.physical_type, ch.codec);
      for (int e = 0; e < ch.n_encodings && e < 16; e++) printf("%s\"%s\"", e ? ", " : "", ch.encodings[e]);
      printf("], \"num_values\": %" PRId64 ", \"total_compressed_size\": %" PRId64
             ", \"total_uncompressed_size\": %" PRId64 ", \"file_offset\": %" PRId64
             ", \"data_page_offset\": %" PRId64,
             ch.num_values, ch.compressed_size, ch.uncompressed_size, ch.file_offset, ch.data_page_offset);
      if (ch.dictionary_page_offset >= 0)
        printf(", \"dictionary_page_offset\": %" PRId64, ch.dictionary_page_offset);
      if (ch.index_page_offset >= 0) printf(", \"index_page_offset\": %" PRId64, ch.index_page_offset);
      if (ch.bloom_filter_offset >= 0) printf(", \"bloom_filter_offset\": %" PRId64, ch.bloom_filter_offset);
      if (ch.bloom_filter_length >= 0) printf(", \"bloom_filter_length\": %d", (int)ch.bloom_filter_length);
      if (ch.offset_index_offset >= 0)
        printf(", \"offset_index_offset\": %" PRId64 ", \"offset_index_length\": %d", ch.offset_index_offset,
               (int)ch.offset_index_length);
      if (ch.column_index_offset >= 0)
        printf(", \"column_index_offset\": %" PRId64 ", \"column_index_length\": %d", ch.column_index_offset,
               (int)ch.column_index_length);
      printf(", \"statistics\": ");
      if (!ch.has_stats) {
        printf("null}");
        continue;
      }
      printf("{\"has_min_max\": %s", ch.has_min_max ? "true" : "false");
      json_value(stdout, "min", &ch.min);
      json_value(stdout, "max", &ch.max);
      if (ch.has_null_count) printf(", \"null_count\": %" PRId64, ch.null_count);
      if (ch.has_distinct_count) printf(", \"distinct_count\": %" PRId64, ch.distinct_count);
      if (ch.has_nan_count) printf(", \"nan_count\": %" PRId64, ch.nan_count);
      printf(", \"is_min_value_exact\": %s, \"is_max_value_exact\": %s}}",
             ch.has_min_exact ? (ch.min_exact ? "true" : "false") : "null",
             ch.has_max_exact ? (ch.max_exact ? "true" : "false") : "null");
    }
    printf("]}");
  }
  printf("]}\n");
  return 0;
}

int cmd_parquet_meta(int argc, char **argv) {
  bool json;
  const char *path;
  int rc = parse_args(argc, argv, meta_usage, &json, &path);
  if (rc >= 0) return rc;
  st_pq_reader *r;
  if (open_file(path, &r)) return 1;
  rc = json ? meta_json(r, path) : meta_text(r, path);
  st_pq_close(r);
  if (!rc && (ferror(stdout) || fflush(stdout))) {
    fprintf(stderr, "skytile: write error on standard output\n");
    return 1;
  }
  return rc;
}
