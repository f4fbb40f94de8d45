/*
** This file implements `skytile healpix ...`: HEALPix tools for users and
** for checks against other implementations.
**
**   skytile healpix ang2pix    --order K              stdin "ra dec" -> pixel
**   skytile healpix pix2ang    --order K              stdin pixel -> "ra dec"
**   skytile healpix neighbours --order K PIX          8 neighbours (or -1)
**   skytile healpix cone       --order K RA DEC R     inclusive pixel list
**
** Streams are processed in blocks of BLOCK lines through the batch API; each
** value keeps its input line number so errors name the line.  Blank lines
** and lines starting with '#' are skipped.  Exit codes: 0 ok, 1 bad input
** (message "skytile: line N: ..."), 2 usage.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define BLOCK 65536

static const char *USAGE =
    "usage: skytile healpix COMMAND --order K [ARGS]\n"
    "\n"
    "HEALPix tools, NESTED scheme, orders 0..29 (nside = 2^K).\n"
    "\n"
    "commands:\n"
    "  ang2pix    --order K              read 'ra dec' (degrees) per line from stdin,\n"
    "                                    print the pixel containing each point\n"
    "  pix2ang    --order K              read one pixel per line from stdin, print\n"
    "                                    'ra dec' of its centre (17 significant digits)\n"
    "  neighbours --order K PIX          print the 8 neighbours of PIX on one line in\n"
    "                                    the order SW W NW N NE E SE S (-1: none)\n"
    "  cone       --order K RA DEC R     print, one per line and sorted, every pixel\n"
    "                                    that may intersect the cone of radius R degrees\n"
    "                                    around (RA, DEC) (inclusive: never misses one)\n"
    "\n"
    "Blank lines and lines starting with '#' are skipped.  A bad line stops with\n"
    "an error naming its line number (exit 1).\n";

static const char *SUB_USAGE[] = {
    "usage: skytile healpix ang2pix --order K < points.txt\n"
    "Reads 'ra dec' in degrees (separated by blanks or a comma) per line; prints the NESTED\n"
    "pixel at order K (0..29) of each, one per line.  RA wraps modulo 360; Dec must\n"
    "be within [-90, 90].  Identical to healpy.ang2pix(2**K, ra, dec, nest=True,\n"
    "lonlat=True).\n",
    "usage: skytile healpix pix2ang --order K < pixels.txt\n"
    "Reads one NESTED pixel per line; prints 'ra dec' of its centre in degrees with\n"
    "17 significant digits (round-trips through ang2pix).\n",
    "usage: skytile healpix neighbours --order K PIX\n"
    "Prints the 8 neighbours of NESTED pixel PIX on one line, in the order\n"
    "SW W NW N NE E SE S (as healpy.get_all_neighbours); -1 where none exists.\n",
    "usage: skytile healpix cone --order K RA DEC RADIUS\n"
    "Prints, sorted and one per line, every NESTED pixel at order K that may\n"
    "intersect the cone of RADIUS degrees around (RA, DEC): a superset of the exact\n"
    "answer, never missing a pixel.\n",
};

enum { C_ANG2PIX, C_PIX2ANG, C_NEIGHBOURS, C_CONE };

/* Parse a whole string as a double / int64; 0 on success. */
static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end) return -1;
  *out = v;
  return 0;
}

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno) return -1;
  *out = v;
  return 0;
}

/* Read one line (any length) into *buf; returns length or -1 at EOF. */
static long read_line(FILE *f, char **buf, size_t *cap) {
  ssize_t n = getline(buf, cap, f);
  if (n < 0) return -1;
  while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) (*buf)[--n] = 0;
  return (long)n;
}

/* Skip blanks; true if the line is blank or a comment. */
static int skip_line(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return *s == 0 || *s == '#';
}

static int ang2pix_stream(int order) {
  double *ra = malloc(BLOCK * sizeof *ra), *dec = malloc(BLOCK * sizeof *dec);
  int64_t *pix = malloc(BLOCK * sizeof *pix), *lineno = malloc(BLOCK * sizeof *lineno);
  char *line = NULL;
  size_t cap = 0;
  int64_t ln = 0;
  int rc = 0, eof = 0;
  if (!ra || !dec || !pix || !lineno) {
    fprintf(stderr, "skytile: out of memory\n");
    rc = 1;
    eof = 1;
  }
  while (!eof) {
    int n = 0;
    while (n < BLOCK) {
      if (read_line(stdin, &line, &cap) < 0) {
        eof = 1;
        break;
      }
      ln++;
      if (skip_line(line)) continue;
      char *end, *p = line;
      double a = strtod(p, &end);
      int ok = end != p;
      p = end;
      while (*p == ' ' || *p == '\t' || *p == ',') p++; /* "ra dec" or "ra,dec" */
      double b = ok ? strtod(p, &end) : 0;
      ok = ok && end != p;
      p = end;
      while (*p == ' ' || *p == '\t' || *p == ',') p++;
      if (!ok || *p) {
        fprintf(stderr, "skytile: line %" PRId64 ": expected 'ra dec', got '%.60s'\n", ln, line);
        rc = 1;
        goto done;
      }
      ra[n] = a;
      dec[n] = b;
      lineno[n] = ln;
      n++;
    }
    st_error err = {0};
    if (st_hpx_ang2pix_batch(order, ra, dec, n, pix, &err)) {
      /* The message starts "point I: ..."; report by line instead. */
      long long idx = -1;
      sscanf(err.msg, "point %lld", &idx);
      const char *why = strstr(err.msg, ": ");
      fprintf(stderr, "skytile: line %" PRId64 ": %s\n",
              idx >= 0 && idx < n ? lineno[idx] : ln, why ? why + 2 : err.msg);
      rc = 1;
      goto done;
    }
    for (int i = 0; i < n; i++) printf("%" PRId64 "\n", pix[i]);
  }
done:
  free(line);
  free(ra);
  free(dec);
  free(pix);
  free(lineno);
  return rc;
}

static int pix2ang_stream(int order) {
  char *line = NULL;
  size_t cap = 0;
  int64_t ln = 0;
  int rc = 0;
  while (read_line(stdin, &line, &cap) >= 0) {
    ln++;
    if (skip_line(line)) continue;
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
    int64_t pix;
    double ra, dec;
    st_error err = {0};
    if (parse_i64(s, &pix)) {
      fprintf(stderr, "skytile: line %" PRId64 ": expected a pixel number, got '%.60s'\n", ln, line);
      rc = 1;
      break;
    }
    if (st_hpx_pix2ang(order, pix, &ra, &dec, &err)) {
      fprintf(stderr, "skytile: line %" PRId64 ": %s\n", ln, err.msg);
      rc = 1;
      break;
    }
    printf("%.17g %.17g\n", ra, dec);
  }
  free(line);
  return rc;
}

int cmd_healpix(int argc, char **argv) {
  if (argc < 2 || cli_is_help(argv[1])) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  static const char *NAMES[] = {"ang2pix", "pix2ang", "neighbours", "cone"};
  int cmd = -1;
  for (int i = 0; i < 4; i++)
    if (!strcmp(argv[1], NAMES[i])) cmd = i;
  if (!strcmp(argv[1], "neighbors")) cmd = C_NEIGHBOURS;
  if (cmd < 0) return cli_usage_error("healpix: unknown command '%s' (try --help)", argv[1]);

  int order = -1;
  const char *pos[4];
  int npos = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      fputs(SUB_USAGE[cmd], stdout);
      return 0;
    }
    const char *val = NULL;
    if (!strcmp(a, "--order") || !strcmp(a, "-k")) {
      if (i + 1 >= argc) return cli_usage_error("healpix %s: --order needs a value", NAMES[cmd]);
      val = argv[++i];
    } else if (!strncmp(a, "--order=", 8)) {
      val = a + 8;
    } else if (a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.') {
      return cli_usage_error("healpix %s: unknown option '%s'", NAMES[cmd], a);
    } else {
      if (npos >= 4) return cli_usage_error("healpix %s: too many arguments", NAMES[cmd]);
      pos[npos++] = a;
      continue;
    }
    int64_t k;
    if (parse_i64(val, &k) || k < 0 || k > ST_HPX_MAX_ORDER)
      return cli_usage_error("healpix %s: --order must be 0..29, got '%s'", NAMES[cmd], val);
    order = (int)k;
  }
  if (order < 0) return cli_usage_error("healpix %s: --order K is required", NAMES[cmd]);
  static const int NPOS[] = {0, 0, 1, 3};
  if (npos != NPOS[cmd])
    return cli_usage_error("healpix %s: expected %d argument(s), got %d (try --help)",
                           NAMES[cmd], NPOS[cmd], npos);

  static char obuf[1 << 16];
  setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
  st_error err = {0};
  int rc = 0;
  switch (cmd) {
  case C_ANG2PIX:
    rc = ang2pix_stream(order);
    break;
  case C_PIX2ANG:
    rc = pix2ang_stream(order);
    break;
  case C_NEIGHBOURS: {
    int64_t pix, nb[8];
    if (parse_i64(pos[0], &pix))
      return cli_usage_error("healpix neighbours: PIX must be an integer, got '%s'", pos[0]);
    if (st_hpx_neighbours(order, pix, nb, &err)) return cli_report(&err);
    for (int i = 0; i < 8; i++) printf("%" PRId64 "%c", nb[i], i == 7 ? '\n' : ' ');
    break;
  }
  case C_CONE: {
    double v[3];
    for (int i = 0; i < 3; i++)
      if (parse_double(pos[i], &v[i]))
        return cli_usage_error("healpix cone: '%s' is not a number", pos[i]);
    st_moc moc;
    st_moc_init(&moc, order);
    if (st_hpx_cone_moc(order, v[0], v[1], v[2], &moc, &err)) {
      st_moc_free(&moc);
      return cli_report(&err);
    }
    int64_t n = st_moc_npix(&moc, order);
    if (n > (INT64_C(1) << 28)) {
      st_moc_free(&moc);
      fprintf(stderr, "skytile: cone: %" PRId64 " pixels at order %d; use a lower order\n", n,
              order);
      return 1;
    }
    int64_t *pix = malloc((size_t)(n ? n : 1) * sizeof *pix), got = 0;
    if (!pix) {
      st_moc_free(&moc);
      fprintf(stderr, "skytile: out of memory\n");
      return 1;
    }
    rc = st_moc_pixels(&moc, order, pix, n, &got, &err);
    if (!rc)
      for (int64_t i = 0; i < got; i++) printf("%" PRId64 "\n", pix[i]);
    free(pix);
    st_moc_free(&moc);
    if (rc) return cli_report(&err);
    break;
  }
  }
  if (fflush(stdout) != 0 && !rc) {
    fprintf(stderr, "skytile: writing output: %s\n", strerror(errno));
    return 1;
  }
  return rc;
}
