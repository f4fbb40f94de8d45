/*
** This file implements `skytile import`: it parses the options, expands
** the inputs (files; directories, recursively, in sorted order; @list.txt
** holding one path per line) and runs st_import_run, printing one progress
** line per stage on stderr (updated in place on a terminal, periodic plain
** lines otherwise) and every failed input file with its reason.
*/
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "skytile/readers.h"

static const char USAGE[] =
    "usage: skytile import INPUT... --output DIR [options]\n"
    "\n"
    "Import catalog files into a HATS catalog (as hats-import does).\n"
    "INPUT: files, directories (read recursively, sorted) or @list.txt.\n"
    "\n"
    "  --output DIR               catalog directory to create (required)\n"
    "  --name NAME                catalog name (default: basename of DIR)\n"
    "  --format F                 csv, tsv, fits, parquet or auto (default auto)\n"
    "  --ra-column C              right ascension column (default ra)\n"
    "  --dec-column C             declination column (default dec)\n"
    "  --catalog-type T           object or source (default object)\n"
    "  --highest-order K          mapping order (default 10)\n"
    "  --lowest-order K           coarsest partition order (default 0)\n"
    "  --constant-order K         partition every non-empty pixel at order K\n"
    "  --pixel-threshold N        max rows per partition (default 1000000)\n"
    "  --drop-empty-siblings B    true|false (default true)\n"
    "  --sort-columns a,b         sort rows by _healpix_29 then these\n"
    "  --row-group-rows N         rows per row group (default: one per file)\n"
    "  --compression C            leaf codec (default zstd:15)\n"
    "  --threads N                worker threads (default: cores)\n"
    "  --tmp-dir DIR              where state and intermediates go\n"
    "  --overwrite                replace an existing DIR\n"
    "  --resume                   reuse the mapping results of a failed run\n"
    "  --memory-limit SIZE        (not supported yet)\n";

typedef struct strvec {
  char **v;
  int n, cap;
} strvec;

static int sv_push(strvec *s, const char *p) {
  if (s->n == s->cap) {
    int nc = s->cap ? 2 * s->cap : 16;
    char **v = realloc(s->v, (size_t)nc * sizeof *v);
    if (!v) return -1;
    s->v = v, s->cap = nc;
  }
  if (!(s->v[s->n] = strdup(p))) return -1;
  s->n++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add path: a file, or a directory's files recursively in sorted order. */
static int add_path(strvec *out, const char *path, int depth) {
  struct stat st;
  if (stat(path, &st)) {
    fprintf(stderr, "skytile: import: %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) return sv_push(out, path) ? (fprintf(stderr, "skytile: out of memory\n"), -1) : 0;
  if (depth > 64) {
    fprintf(stderr, "skytile: import: %s: directories nested too deep\n", path);
    return -1;
  }
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "skytile: import: %s: %s\n", path, strerror(errno));
    return -1;
  }
  strvec names = {0};
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue; /* ., .., hidden files */
    size_t l = strlen(path) + strlen(e->d_name) + 2;
    char *p = malloc(l);
    if (!p) rc = -1;
    else {
      snprintf(p, l, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", e->d_name);
      rc = sv_push(&names, p);
      free(p);
    }
  }
  closedir(d);
  if (names.n) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
  for (int i = 0; !rc && i < names.n; i++) rc = add_path(out, names.v[i], depth + 1);
  for (int i = 0; i < names.n; i++) free(names.v[i]);
  free(names.v);
  return rc;
}

static int add_input(strvec *out, const char *arg) {
  if (arg[0] != '@') return add_path(out, arg, 0);
  FILE *f = fopen(arg + 1, "r");
  if (!f) {
    fprintf(stderr, "skytile: import: %s: %s\n", arg + 1, strerror(errno));
    return -1;
  }
  char line[8192];
  int rc = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) line[--l] = 0;
    if (!l || line[0] == '#') continue;
    rc = add_path(out, line, 0);
  }
  fclose(f);
  return rc;
}

typedef struct progress_state {
  int tty;
  char stage[32];
  double last;
} progress_state;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_progress(void *ctx, const char *stage, int64_t done, int64_t total) {
  progress_state *p = ctx;
  int new_stage = strcmp(p->stage, stage) != 0;
  if (new_stage) {
    if (p->tty && p->stage[0]) fputc('\n', stderr);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
  }
  double t = now_s();
  if (p->tty) {
    fprintf(stderr, "\r%-10s %lld/%lld", stage, (long long)done, (long long)total);
    if (done == total && !strcmp(stage, "Finishing")) fputc('\n', stderr);
  } else if (new_stage || done == total || t - p->last >= 2.0) {
    fprintf(stderr, "%s: %lld/%lld\n", stage, (long long)done, (long long)total);
    p->last = t;
  }
  fflush(stderr);
}

static void on_file_error(void *ctx, const char *path, const st_error *e) {
  progress_state *p = ctx;
  if (p->tty) fputc('\n', stderr);
  size_t l = strlen(path);
  if (!strncmp(e->msg, path, l) && e->msg[l] == ':')  /* the message names the file already */
    fprintf(stderr, "skytile: input file failed: %s\n", e->msg);
  else
    fprintf(stderr, "skytile: input file failed: %s: %s\n", path, e->msg);
}

static int parse_i64(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    return cli_usage_error("import: %s: expected an integer in %lld..%lld, got '%s'", flag,
                           (long long)lo, (long long)hi, v);
  *out = x;
  return 0;
}

int cmd_import(int argc, char **argv) {
  st_import_options o;
  st_import_options_init(&o);
  strvec inputs = {0};
  progress_state ps = {0};
  int rc = 0;
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      fputs(USAGE, stdout);
      goto out;
    }
    if (strncmp(a, "--", 2) || !a[2]) {
      if (add_input(&inputs, a)) rc = 1;
      continue;
    }
    if (!strcmp(a, "--overwrite")) { o.overwrite = true; continue; }
    if (!strcmp(a, "--resume")) { o.resume = true; continue; }
    if (i + 1 >= argc) {
      rc = cli_usage_error("import: %s needs a value", a);
      break;
    }
    const char *v = argv[++i];
    int64_t x;
    if (!strcmp(a, "--output")) o.output = v;
    else if (!strcmp(a, "--name")) o.name = v;
    else if (!strcmp(a, "--format")) {
      if (strcmp(v, "csv") && strcmp(v, "tsv") && strcmp(v, "fits") && strcmp(v, "parquet") &&
          strcmp(v, "auto"))
        rc = cli_usage_error("import: --format: expected csv, tsv, fits, parquet or auto, got '%s'", v);
      o.format = v;
    } else if (!strcmp(a, "--ra-column")) o.ra_column = v;
    else if (!strcmp(a, "--dec-column")) o.dec_column = v;
    else if (!strcmp(a, "--catalog-type")) {
      if (strcmp(v, "object") && strcmp(v, "source"))
        rc = cli_usage_error("import: --catalog-type: expected object or source, got '%s'", v);
      o.catalog_type = v;
    } else if (!strcmp(a, "--highest-order")) {
      if (!(rc = parse_i64(a, v, 0, 14, &x))) o.highest_order = (int)x;
    } else if (!strcmp(a, "--lowest-order")) {
      if (!(rc = parse_i64(a, v, 0, 14, &x))) o.lowest_order = (int)x;
    } else if (!strcmp(a, "--constant-order")) {
      if (!(rc = parse_i64(a, v, 0, 14, &x))) o.constant_order = (int)x;
    } else if (!strcmp(a, "--pixel-threshold")) {
      if (!(rc = parse_i64(a, v, 1, INT64_MAX, &x))) o.pixel_threshold = x;
    } else if (!strcmp(a, "--drop-empty-siblings")) {
      if (!strcmp(v, "true")) o.drop_empty_siblings = true;
      else if (!strcmp(v, "false")) o.drop_empty_siblings = false;
      else rc = cli_usage_error("import: --drop-empty-siblings: expected true or false, got '%s'", v);
    } else if (!strcmp(a, "--sort-columns")) o.sort_columns = v;
    else if (!strcmp(a, "--row-group-rows")) {
      if (!(rc = parse_i64(a, v, 1, INT64_MAX, &x))) o.row_group_rows = x;
    } else if (!strcmp(a, "--compression")) {
      st_error e = {0};
      if (st_pq_parse_compression(v, &o.compression, &o.compression_level, &e))
        rc = cli_usage_error("import: --compression: %s", e.msg);
    } else if (!strcmp(a, "--threads")) {
      if (!(rc = parse_i64(a, v, 1, 256, &x))) o.threads = (int)x;
    } else if (!strcmp(a, "--tmp-dir")) o.tmp_dir = v;
    else if (!strcmp(a, "--memory-limit"))
      rc = cli_usage_error("import: --memory-limit is not supported yet");
    else rc = cli_usage_error("import: unknown option '%s' (see skytile import --help)", a);
  }
  if (rc) goto out;
  if (!o.output) {
    rc = cli_usage_error("import: --output DIR is required");
    goto out;
  }
  if (!inputs.n) {
    rc = cli_usage_error("import: no input files");
    goto out;
  }
  ps.tty = isatty(2);
  o.inputs = (const char *const *)inputs.v;
  o.n_inputs = inputs.n;
  o.progress = on_progress;
  o.file_error = on_file_error;
  o.ctx = &ps;
  st_error err = {0};
  if (st_import_run(&o, &err)) {
    if (ps.tty) fputc('\n', stderr);
    rc = cli_report(&err);
  }
out:
  for (int i = 0; i < inputs.n; i++) free(inputs.v[i]);
  free(inputs.v);
  return rc;
}
