/*
** This file implements `skytile info CAT [--json] [--allow-parent-paths]`: what a catalog is (kind,
** dataproduct type, name), its rows, partitions per order, columns and
** types, default columns, sky fraction and size on disk.
**
** CAT is anything st_catalog_open accepts (HATS, collection, hipscat, hive
** HEALPix dataset, Parquet file/directory).  Row counts come from _metadata
** when present, else from the leaf files' footers.  --json prints one JSON
** object (keys: path, kind, type, name, collection, has_metadata, rows, n_partitions,
** n_files, partitions_per_order, partitions [{order, pixel, rows, files}],
** columns [{name, type, nullable}], default_columns, sky_fraction,
** disk_bytes, properties) for scripts.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "skytile/hats.h"

static const char *USAGE =
    "usage: skytile info CAT [--json] [--allow-parent-paths]\n"
    "\n"
    "Describe a HATS catalog or collection, a legacy hipscat catalog, a hive HEALPix\n"
    "dataset (healpix_kN=... directories) or a Parquet file/directory: type, rows,\n"
    "partitions per order, columns and types, default columns, sky fraction and\n"
    "size on disk.  --json prints the same as one JSON object.\n"
    "--allow-parent-paths accepts a collection whose hats_primary_table_url or\n"
    "margin names a sibling directory (\"../cat\"), as hats does; by default paths\n"
    "in metadata must stay inside the catalog.\n";

/* The collection's name: obs_collection, or `name` as older hats-import wrote it. */
static const char *coll_name(const st_catalog *c) {
  const char *n = st_catalog_collection_property(c, "obs_collection");
  return n ? n : st_catalog_collection_property(c, "name");
}

static void json_str(FILE *fp, const char *s) {
  if (!s) {
    fputs("null", fp);
    return;
  }
  fputc('"', fp);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    if (*p == '"' || *p == '\\') fprintf(fp, "\\%c", *p++);
    else if (*p < 0x20) fprintf(fp, "\\u%04x", *p++);
    else if (*p < 0x80) fputc(*p++, fp);
    else {
      /* a well-formed UTF-8 sequence is copied; any other byte becomes U+FFFD */
      int n = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
      int k = 1;
      while (n && k < n && (p[k] & 0xC0) == 0x80) k++;
      bool ok = n >= 2 && k == n;
      if (ok && n == 2) ok = *p >= 0xC2;                                  /* overlong */
      if (ok && n == 3) ok = !(*p == 0xE0 && p[1] < 0xA0) && !(*p == 0xED && p[1] >= 0xA0);
      if (ok && n == 4) ok = *p <= 0xF4 && !(*p == 0xF0 && p[1] < 0x90) && !(*p == 0xF4 && p[1] >= 0x90);
      if (ok) {
        fwrite(p, 1, (size_t)n, fp);
        p += n;
      } else {
        fputs("\\ufffd", fp);
        p++;
      }
    }
  }
  fputc('"', fp);
}

/* Split the default columns (blank or comma separated) and print them. */
static void print_defaults(FILE *fp, const char *s, bool json) {
  bool first = true;
  if (json) fputc('[', fp);
  if (s) {
    const char *p = s;
    while (*p) {
      while (*p == ' ' || *p == ',' || *p == '\t') p++;
      const char *q = p;
      while (*q && *q != ' ' && *q != ',' && *q != '\t') q++;
      if (q > p) {
        if (json) {
          char buf[512];
          size_t n = (size_t)(q - p) < sizeof buf - 1 ? (size_t)(q - p) : sizeof buf - 1;
          memcpy(buf, p, n);
          buf[n] = 0;
          fputs(first ? "" : ", ", fp);
          json_str(fp, buf);
        } else
          fprintf(fp, "%s%.*s", first ? "" : " ", (int)(q - p), p);
        first = false;
      }
      p = q;
    }
  }
  if (json) fputc(']', fp);
}

int cmd_info(int argc, char **argv) {
  const char *path = NULL;
  bool json = false;
  st_catalog_options opts;
  st_catalog_options_init(&opts);
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--json")) json = true;
    else if (!strcmp(argv[i], "--allow-parent-paths")) opts.allow_parent_paths = true;
    else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("info: unknown option '%s'", argv[i]);
    else if (path) return cli_usage_error("info: more than one catalog given");
    else path = argv[i];
  }
  if (!path) {
    fputs(USAGE, stderr);
    return 2;
  }
  st_error err = {0};
  st_catalog *c = NULL;
  if (st_catalog_open(path, &opts, &c, &err)) return cli_report(&err);
  uint64_t bytes = 0;
  if (st_catalog_load_rows(c, &err) || st_catalog_disk_bytes(c, &bytes, &err)) {
    st_catalog_close(c);
    return cli_report(&err);
  }
  int np = st_catalog_n_partitions(c);
  int per_order[31] = {0};
  for (int i = 0; i < np; i++) {
    st_partition p;
    st_catalog_partition(c, i, &p, &err);
    per_order[p.order < 0 ? 30 : p.order]++;
  }
  const st_field *schema = st_catalog_schema(c);
  const char *name = st_catalog_property(c, "obs_collection");
  const char *defaults = st_catalog_property(c, "hats_cols_default");
  FILE *fp = stdout;
  char type[256];
  if (json) {
    fputs("{\"path\": ", fp);
    json_str(fp, st_catalog_path(c));
    fprintf(fp, ", \"kind\": \"%s\", \"type\": ", st_catalog_kind_name(st_catalog_get_kind(c)));
    json_str(fp, st_catalog_type(c));
    fputs(", \"name\": ", fp);
    json_str(fp, name);
    fputs(", \"collection\": ", fp);
    if (st_catalog_is_collection(c)) {
      fputs("{\"name\": ", fp);
      json_str(fp, coll_name(c));
      fputs(", \"primary\": ", fp);
      json_str(fp, st_catalog_collection_property(c, "hats_primary_table_url"));
      fputs(", \"default_margin\": ", fp);
      json_str(fp, st_catalog_collection_property(c, "default_margin"));
      fputs(", \"default_index\": ", fp);
      json_str(fp, st_catalog_collection_property(c, "default_index"));
      fputc('}', fp);
    } else
      fputs("null", fp);
    fprintf(fp, ", \"has_metadata\": %s", st_catalog_metadata(c) ? "true" : "false");
    fprintf(fp, ", \"rows\": %" PRId64 ", \"n_partitions\": %d, \"n_files\": %d, \"partitions_per_order\": {",
            st_catalog_num_rows(c), np, st_catalog_n_files(c));
    bool first = true;
    for (int k = 0; k < 31; k++)
      if (per_order[k]) {
        fprintf(fp, "%s\"%d\": %d", first ? "" : ", ", k == 30 ? -1 : k, per_order[k]);
        first = false;
      }
    fputs("}, \"partitions\": [", fp);
    for (int i = 0; i < np; i++) {
      st_partition p;
      st_catalog_partition(c, i, &p, &err);
      fprintf(fp, "%s{\"order\": %d, \"pixel\": %" PRId64 ", \"rows\": %" PRId64 ", \"files\": %d}",
              i ? ", " : "", p.order, p.pixel, p.rows, p.n_files);
    }
    fputs("], \"columns\": [", fp);
    for (int i = 0; schema && i < schema->n_children; i++) {
      const st_field *f = &schema->children[i];
      st_field_type_string(f, type, sizeof type);
      fputs(i ? ", {\"name\": " : "{\"name\": ", fp);
      json_str(fp, f->name);
      fputs(", \"type\": ", fp);
      json_str(fp, type);
      fprintf(fp, ", \"nullable\": %s}", f->nullable ? "true" : "false");
    }
    fputs("], \"default_columns\": ", fp);
    print_defaults(fp, defaults, true);
    fprintf(fp, ", \"sky_fraction\": %.17g, \"disk_bytes\": %" PRIu64 ", \"properties\": {",
            st_catalog_sky_fraction(c), bytes);
    for (int i = 0; i < st_catalog_n_properties(c); i++) {
      fputs(i ? ", " : "", fp);
      json_str(fp, st_catalog_property_key(c, i));
      fputs(": ", fp);
      json_str(fp, st_catalog_property_value(c, i));
    }
    fputs("}}\n", fp);
  } else {
    fprintf(fp, "path:          %s\n", st_catalog_path(c));
    fprintf(fp, "kind:          %s\n", st_catalog_kind_name(st_catalog_get_kind(c)));
    if (st_catalog_type(c)) fprintf(fp, "type:          %s\n", st_catalog_type(c));
    if (name) fprintf(fp, "name:          %s\n", name);
    if (st_catalog_is_collection(c)) {
      const char *cn = coll_name(c);
      const char *dm = st_catalog_collection_property(c, "default_margin");
      fprintf(fp, "collection:    %s (default margin: %s)\n", cn ? cn : "?", dm ? dm : "none");
    }
    fprintf(fp, "rows:          %" PRId64 "\n", st_catalog_num_rows(c));
    fprintf(fp, "partitions:    %d", np);
    bool first = true;
    for (int k = 0; k < 31; k++)
      if (per_order[k] && k < 30) {
        fprintf(fp, "%sorder %d: %d", first ? " (" : ", ", k, per_order[k]);
        first = false;
      }
    fprintf(fp, "%s\n", first ? (np ? " (unpartitioned)" : "") : ")");
    fprintf(fp, "files:         %d\n", st_catalog_n_files(c));
    fprintf(fp, "sky fraction:  %.6f\n", st_catalog_sky_fraction(c));
    fprintf(fp, "size on disk:  %" PRIu64 " bytes (%.1f MiB)\n", bytes, (double)bytes / 1048576.0);
    if (defaults) {
      fputs("default cols:  ", fp);
      print_defaults(fp, defaults, false);
      fputc('\n', fp);
    }
    if (schema) {
      fprintf(fp, "columns (%d):\n", schema->n_children);
      for (int i = 0; i < schema->n_children; i++) {
        const st_field *f = &schema->children[i];
        st_field_type_string(f, type, sizeof type);
        fprintf(fp, "  %-24s %s%s\n", f->name, type, f->nullable ? "" : " not null");
      }
    }
  }
  st_catalog_close(c);
  return 0;
}
