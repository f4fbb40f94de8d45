/*
** This file implements `skytile import`: it parses the options, expands
** the inputs (files; directories, recursively, in sorted order; @list.txt
** holding one path per line) and runs st_import_run, printing one progress
** line per stage on stderr (updated in place on a terminal, periodic plain
** lines otherwise) and every failed input file with its reason.
**
** Ctrl-C: SIGINT (and SIGTERM) set the library's cancel flag; the run stops
** within about a second keeping its state, prints "interrupted; run the
** same command with --resume to continue" and exits with 128 + the signal
** number (130 for SIGINT).  The handler is installed with SA_RESETHAND, so a
** second Ctrl-C kills the process at once (the state stays resumable, as
** after kill -9).
**
** SKYTILE_IMPORT_TIMES=1 prints the wall and CPU seconds of every stage
** ("times: Mapping 0.812 s wall 1.544 s cpu 120 MiB peak"; "Planning" is
** what precedes Mapping: schema inference and the state) and of the whole
** run, with the peak RSS so far.
*/
#include <dirent.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
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
    "  --output DIR               catalog directory to create (required;\n"
    "                             missing parents are created)\n"
    "  --name NAME                catalog name (default: basename of DIR)\n"
    "  --format F                 csv, tsv, psv, fits, parquet or auto (default auto)\n"
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
    "  --overwrite                replace an existing DIR (and discard the\n"
    "                             state of an unfinished import into it)\n"
    "  --resume                   continue an interrupted or failed run (same\n"
    "                             inputs and options; failed inputs may be\n"
    "                             left out, changed ones are read again)\n"
    "  --memory-limit SIZE        memory for rows in flight, e.g. 4G, 512M\n"
    "                             (default: a quarter of the RAM)\n"
    "  --byte-threshold N         max estimated in-memory bytes per partition\n"
    "                             (instead of --pixel-threshold rows)\n"
    "  --existing-pixels FILE     partition_info.csv (or catalog dir) of an\n"
    "                             existing catalog whose partitions are kept\n"
    "  --row-group-subtile-delta D  one row group per pixel of order\n"
    "                             (partition order + D)\n"
    "  --skymap-alt-orders 1,3    also write skymap.K.fits for these orders\n"
    "  --use-healpix-29           position rows by the input's _healpix_29\n"
    "                             column instead of ra/dec\n"
    "Reading:\n"
    "  --columns a,b              read only these columns\n"
    "  --drop-columns a,b         do not import these columns\n"
    "  --schema FILE.parquet      column types from this file's schema\n"
    "  --column-names a,b,c       CSV column names (the file has no header\n"
    "                             unless --header true)\n"
    "  --header true|false        CSV: first line holds the names (default true)\n"
    "  --delimiter C              CSV field delimiter (default by format)\n"
    "  --comment C                CSV: skip lines starting with C\n"
    "  --fits-hdu N               FITS HDU (default: the first binary table)\n"
    "  --filename-regex RE --filename-column NAME\n"
    "                             add NAME = RE's first group in the file path\n";

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

static volatile int g_cancel; /* signal number that asked to stop, or 0 */

static void on_signal(int sig) { g_cancel = sig; }

typedef struct progress_state {
  int tty;
  char stage[32];
  double last;
  int times;      /* SKYTILE_IMPORT_TIMES=1: per-stage wall/CPU on stderr */
  double t0, c0;  /* start of the current stage: wall, process CPU        */
} progress_state;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Peak resident set so far in MiB (Linux /proc/self/status VmHWM), or -1. */
static long peak_rss_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return kb < 0 ? -1 : kb / 1024;
}

/* SKYTILE_IMPORT_TIMES: the wall and CPU time of the stage that ends now
** ("Planning" is everything before Mapping: schema inference, state) and
** the peak RSS so far. */
static void stage_times(progress_state *p) {
  if (!p->times) return;
  double t = now_s(), c = cpu_s();
  if (p->t0 > 0)
    fprintf(stderr, "%stimes: %-10s %7.3f s wall %7.3f s cpu %6ld MiB peak\n", p->tty ? "\n" : "",
            p->stage[0] ? p->stage : "Planning", t - p->t0, c - p->c0, peak_rss_mib());
  p->t0 = t, p->c0 = c;
}

static void on_progress(void *ctx, const char *stage, int64_t done, int64_t total) {
  progress_state *p = ctx;
  int new_stage = strcmp(p->stage, stage) != 0;
  if (new_stage) {
    stage_times(p);
    if (p->tty && p->stage[0]) fputc('\n', stderr);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
  }
  double t = now_s();
  if (p->tty) {
    fprintf(stderr, "\r%-10s %lld/%lld", stage, (long long)done, (long long)total);
    if (done == total && !strcmp(stage, "Finishing")) fputc('\n', stderr);
  } else if (done == 0 && total > 0) {
    p->last = 0; /* a stage starts: its first step prints (plain lines) */
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

/* Split "a,b,c" into v (strings point into a copy kept in *buf). */
static int split_list(const char *flag, const char *v, char **buf, char ***list, int *n) {
  free(*buf), free(*list);
  *buf = strdup(v);
  size_t cap = 1;
  for (const char *p = v; *p; p++) cap += *p == ',';
  *list = calloc(cap, sizeof **list);
  *n = 0;
  if (!*buf || !*list) return cli_usage_error("import: out of memory");
  for (char *p = *buf, *q; p; p = q) {
    q = strchr(p, ',');
    if (q) *q++ = 0;
    if (!*p) return cli_usage_error("import: %s: empty name in '%s'", flag, v);
    (*list)[(*n)++] = p;
  }
  return 0;
}

/* "4G", "512M", "100k", "123" (bytes; powers of 1024). */
static int parse_size(const char *flag, const char *v, int64_t *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  double m = 1;
  if (*end == 'k' || *end == 'K') m = 1024.0, end++;
  else if (*end == 'm' || *end == 'M') m = 1024.0 * 1024, end++;
  else if (*end == 'g' || *end == 'G') m = 1024.0 * 1024 * 1024, end++;
  else if (*end == 't' || *end == 'T') m = 1024.0 * 1024 * 1024 * 1024, end++;
  if (*end == 'B' || *end == 'b') end++;
  if (errno || end == v || *end || !(x > 0) || x * m > 9e18)
    return cli_usage_error("import: %s: expected a size such as 4G, 512M or 1000000, got '%s'",
                           flag, v);
  *out = (int64_t)(x * m);
  return 0;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* --existing-pixels: "Norder,Npix" lines of partition_info.csv (header
** skipped), or DIR/partition_info.csv for a catalog directory. */
static int read_existing(const char *arg, int **orders, int64_t **pixels, int64_t *n) {
  char path[4200];
  struct stat st;
  if (!stat(arg, &st) && S_ISDIR(st.st_mode)) snprintf(path, sizeof path, "%s/partition_info.csv", arg);
  else snprintf(path, sizeof path, "%s", arg);
  FILE *f = fopen(path, "r");
  if (!f) return cli_usage_error("import: --existing-pixels: %s: %s", path, strerror(errno));
  char line[256];
  int64_t cap = 0, lineno = 0;
  int rc = 0;
  *n = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    long long o, p;
    char extra;
    if (lineno == 1 && !strncmp(line, "Norder", 6)) continue;
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) line[--l] = 0;
    if (!l) continue;
    if (sscanf(line, "%lld,%lld%c", &o, &p, &extra) != 2 || o < 0 || o > 29 || p < 0 ||
        p >= 12LL << (2 * o)) {
      rc = cli_usage_error("import: --existing-pixels: %s: line %lld: expected 'order,pixel', got '%s'",
                           path, (long long)lineno, line);
      break;
    }
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      int *no = realloc(*orders, (size_t)cap * sizeof *no);
      if (no) *orders = no;
      int64_t *np = realloc(*pixels, (size_t)cap * sizeof *np);
      if (np) *pixels = np;
      if (!no || !np) {
        rc = cli_usage_error("import: out of memory");
        break;
      }
    }
    (*orders)[*n] = (int)o, (*pixels)[*n] = p, (*n)++;
  }
  fclose(f);
  if (!rc && !*n) rc = cli_usage_error("import: --existing-pixels: %s: no partitions", path);
  return rc;
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
  st_input_options in;
  st_input_options_init(&in);
  o.input = &in;
  char *cols_buf = NULL, *drop_buf = NULL, *names_buf = NULL, *alt_buf = NULL;
  char **cols = NULL, **drop = NULL, **names = NULL, **alt = NULL;
  int ncols = 0, ndrop = 0, nnames = 0, nalt = 0, header = -1;
  int *alt_orders = NULL, *ex_orders = NULL;
  int64_t *ex_pixels = NULL;
  st_field schema;
  bool have_schema = false;
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
    if (!strcmp(a, "--use-healpix-29")) { o.use_healpix_29 = true; continue; }
    if (i + 1 >= argc) {
      rc = cli_usage_error("import: %s needs a value", a);
      break;
    }
    const char *v = argv[++i];
    int64_t x;
    if (!strcmp(a, "--output")) o.output = v;
    else if (!strcmp(a, "--name")) o.name = v;
    else if (!strcmp(a, "--format")) {
      if (strcmp(v, "csv") && strcmp(v, "tsv") && strcmp(v, "psv") && strcmp(v, "fits") &&
          strcmp(v, "parquet") && strcmp(v, "auto"))
        rc = cli_usage_error("import: --format: expected csv, tsv, psv, fits, parquet or auto, got '%s'", v);
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
    else if (!strcmp(a, "--memory-limit")) rc = parse_size(a, v, &o.memory_limit);
    else if (!strcmp(a, "--byte-threshold")) rc = parse_size(a, v, &o.byte_threshold);
    else if (!strcmp(a, "--existing-pixels")) {
      free(ex_orders), free(ex_pixels);
      ex_orders = NULL, ex_pixels = NULL;
      rc = read_existing(v, &ex_orders, &ex_pixels, &o.n_existing);
      o.existing_orders = ex_orders, o.existing_pixels = ex_pixels;
    } else if (!strcmp(a, "--row-group-subtile-delta")) {
      if (!(rc = parse_i64(a, v, 0, 29, &x))) o.row_group_subtile_delta = (int)x;
    } else if (!strcmp(a, "--skymap-alt-orders")) {
      rc = split_list(a, v, &alt_buf, &alt, &nalt);
      free(alt_orders);
      alt_orders = calloc((size_t)nalt + 1, sizeof *alt_orders);
      int k = 0;
      for (int q = 0; !rc && q < nalt; q++)
        if (!(rc = parse_i64(a, alt[q], 0, 14, &x))) alt_orders[k++] = (int)x;
      if (!rc) {
        qsort(alt_orders, (size_t)k, sizeof *alt_orders, cmp_int);
        int u = 0;
        for (int q = 0; q < k; q++)
          if (!u || alt_orders[u - 1] != alt_orders[q]) alt_orders[u++] = alt_orders[q];
        o.skymap_alt_orders = alt_orders, o.n_skymap_alt_orders = u;
      }
    } else if (!strcmp(a, "--columns")) {
      if (!(rc = split_list(a, v, &cols_buf, &cols, &ncols)))
        in.columns = (const char *const *)cols, in.n_columns = ncols;
    } else if (!strcmp(a, "--drop-columns")) {
      if (!(rc = split_list(a, v, &drop_buf, &drop, &ndrop)))
        in.drop_columns = (const char *const *)drop, in.n_drop = ndrop;
    } else if (!strcmp(a, "--column-names")) {
      if (!(rc = split_list(a, v, &names_buf, &names, &nnames)))
        in.column_names = (const char *const *)names, in.n_column_names = nnames;
    } else if (!strcmp(a, "--header")) {
      if (!strcmp(v, "true")) header = 1;
      else if (!strcmp(v, "false")) header = 0;
      else rc = cli_usage_error("import: --header: expected true or false, got '%s'", v);
    } else if (!strcmp(a, "--delimiter") || !strcmp(a, "--comment")) {
      char ch = !strcmp(v, "\\t") || !strcmp(v, "tab") ? '\t' : v[0];
      if (!v[0] || (v[1] && ch != '\t'))
        rc = cli_usage_error("import: %s: expected one character, got '%s'", a, v);
      else if (a[2] == 'd') in.delimiter = ch;
      else in.comment = ch;
    } else if (!strcmp(a, "--fits-hdu")) {
      if (!(rc = parse_i64(a, v, 1, 100000, &x))) in.fits_hdu = (int)x;
    } else if (!strcmp(a, "--filename-regex")) in.filename_regex = v;
    else if (!strcmp(a, "--filename-column")) in.filename_column = v;
    else if (!strcmp(a, "--schema")) {
      st_error e = {0};
      st_pq_reader *r = NULL;
      if (have_schema) st_field_clear(&schema), have_schema = false;
      if (st_pq_open(v, NULL, &r, &e)) rc = cli_usage_error("import: --schema: %s", e.msg);
      else if (st_field_copy(&schema, st_pq_schema(r))) rc = cli_usage_error("import: out of memory");
      else have_schema = true, in.schema = &schema;
      st_pq_close(r);
    }
    else rc = cli_usage_error("import: unknown option '%s' (see skytile import --help)", a);
  }
  if (rc) goto out;
  in.header = header >= 0 ? header == 1 : nnames == 0;
  if ((in.filename_regex != NULL) != (in.filename_column != NULL)) {
    rc = cli_usage_error("import: --filename-regex and --filename-column go together");
    goto out;
  }
  if (o.row_group_rows > 0 && o.row_group_subtile_delta >= 0) {
    rc = cli_usage_error("import: choose --row-group-rows or --row-group-subtile-delta, not both");
    goto out;
  }
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
  o.cancel = &g_cancel;
  g_cancel = 0;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND; /* a second signal: the default action */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  st_error err = {0};
  const char *tenv = getenv("SKYTILE_IMPORT_TIMES");
  ps.times = tenv && *tenv && strcmp(tenv, "0");
  stage_times(&ps);
  double run_t0 = now_s(), run_c0 = cpu_s();
#ifdef __GLIBC__
  /* Allocator policy belongs to the program, not the library: the import
  ** allocates and frees big buffers per batch and per partition (batches,
  ** sort keys, column chunks, pages), which glibc would mmap and munmap one
  ** by one above its threshold, paying page faults and zeroing each time
  ** (~1/3 of the Tycho-2 import's system time).  Blocks up to 32 MiB stay
  ** in the heap, and up to 64 MiB of free heap is kept for reuse (the
  ** pipeline trims the heap itself after splitting). */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
  int run_rc = st_import_run(&o, &err);
  if (ps.times) {
    stage_times(&ps);
    fprintf(stderr, "times: %-10s %7.3f s wall %7.3f s cpu\n", "Total", now_s() - run_t0,
            cpu_s() - run_c0);
  }
  if (run_rc) {
    if (ps.tty) fputc('\n', stderr);
    rc = cli_report(&err);
    if (err.code == ST_ERR_INTERRUPTED) rc = 128 + (g_cancel ? g_cancel : SIGINT);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
out:
  free(cols_buf), free(drop_buf), free(names_buf), free(alt_buf);
  free(cols), free(drop), free(names), free(alt);
  free(alt_orders), free(ex_orders), free(ex_pixels);
  if (have_schema) st_field_clear(&schema);
  for (int i = 0; i < inputs.n; i++) free(inputs.v[i]);
  free(inputs.v);
  return rc;
}
