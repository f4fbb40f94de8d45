/*
** This file implements the catalog-level files an import writes when it
** finishes (include/skytile/import.h), in the exact form hats / hats-import
** write them:
**
**  partition_info.csv  "Norder,Npix\n" then "<order>,<pixel>\n" per
**      partition, sorted breadth first (hats sort_pixels: stable argsort of
**      pixel * 4^(max_order - order); we sort by pixel << 2*(29 - order),
**      the same key scaled, ties by order as hats' input order has them).
**
**  hats.properties and properties  (the same text; TableProperties
**      .to_properties_file through jproperties, timestamp off):
**        #HATS catalog
**        key=value            one per line, UTF-8, "\n" line ends
**      Key order = pydantic model_dump(by_alias, exclude_none): first the
**      TableProperties fields in class order (kDeclared below), then the
**      "extra" keys in insertion order: the caller's additional keys, then
**      hats_builder, hats_creation_date, hats_release_date, hats_version
**      (provenance, overriding a caller key of the same name in place),
**      then hats_cols_sort and hats_order.  Escapes: keys get \r \n \f \t
**      # ! = : \ and spaces backslashed; values only \r \n \f and one
**      leading space (process_escapes_in_values=False).  moc_sky_fraction
**      is the Python repr of float(f"{x:0.5f}").
**
**  HEALPix FITS maps  (hats write_fits_image -> cdshealpix SkymapImplicit,
**      or .to_explicit() when more than half the values are 0):
**        OFFSET  SIZE        CONTENT
**        0       2880        primary header: SIMPLE, BITPIX=8, NAXIS=0,
**                            EXTEND, END, blank-padded
**        2880    2880*k      BINTABLE header (cards below), blank-padded
**        ...     rows*width  big-endian int64 rows, zero-padded to 2880
**      IMPLICIT: 1 column VALUE ('K'), one row per pixel, cards
**        XTENSION BITPIX NAXIS NAXIS1=8 NAXIS2 PCOUNT GCOUNT TFIELDS=1
**        TTYPE1 TFORM1 PIXTYPE INDXSCHM ORDERING NSIDE FIRSTPIX LASTPIX
**        OBJECT=FULLSKY COORDSYS=C EXTNAME CREATOR
**      EXPLICIT: columns PIXEL, VALUE ('K'), one row per non-zero pixel:
**        XTENSION BITPIX NAXIS NAXIS1=16 NAXIS2 PCOUNT GCOUNT TFIELDS=2
**        TTYPE1 TTYPE2 TFORM1 TFORM2 PIXTYPE INDXSCHM ORDERING COORDSYS
**        EXTNAME NSIDE OBS_NPIX CREATOR
**      Cards: 80 columns, "KEYWORD = value"; integers and logicals right
**      aligned to column 30, strings quoted and padded to >= 8 characters.
**
** Every file goes through st_outfile, so it appears atomically.
*/
#include "import/import.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/io.h"

int st_imp_path(char *out, size_t cap, const char *dir, const char *name, st_error *err) {
  ST_CHECK(dir && name, err, ST_ERR_INVALID, "no directory or file name");
  size_t dl = strlen(dir);
  const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
  int n = snprintf(out, cap, "%s%s%s", dir, sep, name);
  ST_CHECK(n >= 0 && (size_t)n < cap, err, ST_ERR_INVALID, "%s: path too long", dir);
  return 0;
}

/* Write a whole buffer to `path` atomically. */
static int write_file(const char *path, const void *data, size_t n, st_error *err) {
  st_outfile *o = NULL;
  ST_TRY(st_outfile_open(path, &o, err));
  int rc = st_outfile_write(o, data, n, err);
  if (rc) {
    st_outfile_abort(o);
    return rc;
  }
  return st_outfile_commit(o, err);
}

/* ---- partition_info.csv ------------------------------------------------- */

typedef struct pkey {
  int64_t key;
  int order;
  int64_t pixel;
} pkey;

static int cmp_pkey(const void *a, const void *b) {
  const pkey *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  if (x->order != y->order) return x->order < y->order ? -1 : 1;
  return (x->pixel > y->pixel) - (x->pixel < y->pixel);
}

int st_import_write_partition_info(const char *catalog_dir, const st_bin_partition *parts,
                                   int64_t nparts, st_error *err) {
  char path[4096];
  ST_TRY(st_imp_path(path, sizeof path, catalog_dir, "partition_info.csv", err));
  ST_CHECK(nparts >= 0 && (nparts == 0 || parts), err, ST_ERR_INVALID,
           "partition_info: bad partition list");
  ST_CHECK((uint64_t)nparts < SIZE_MAX / sizeof(pkey), err, ST_ERR_LIMIT,
           "partition_info: too many partitions");
  pkey *k = st_malloc((size_t)(nparts ? nparts : 1) * sizeof *k);
  ST_CHECK(k, err, ST_ERR_NOMEM, "partition_info: out of memory");
  for (int64_t i = 0; i < nparts; i++) {
    int o = parts[i].order;
    int64_t p = parts[i].pixel;
    if (o < 0 || o > ST_HPX_MAX_ORDER || p < 0 || p >= st_hpx_npix(o)) {
      st_free(k);
      return st_fail(err, ST_ERR_INVALID, "partition_info: partition %lld: bad (order %d, pixel %lld)",
                     (long long)i, o, (long long)p);
    }
    k[i] = (pkey){p << (2 * (ST_HPX_MAX_ORDER - o)), o, p};
  }
  qsort(k, (size_t)nparts, sizeof *k, cmp_pkey);
  st_buf b;
  st_buf_init(&b);
  int rc = st_buf_append(&b, "Norder,Npix\n", 12, err);
  for (int64_t i = 0; i < nparts && !rc; i++) {
    char line[64];
    int n = snprintf(line, sizeof line, "%d,%lld\n", k[i].order, (long long)k[i].pixel);
    rc = st_buf_append(&b, line, (size_t)n, err);
  }
  st_free(k);
  if (!rc) rc = write_file(path, b.data, b.len, err);
  st_buf_free(&b);
  return rc;
}

/* ---- FITS HEALPix maps -------------------------------------------------- */

#define FITS_BLOCK 2880

typedef struct fits_hdr {
  char a[FITS_BLOCK * 2];   /* room for 72 cards                             */
  size_t n;                 /* bytes used                                    */
} fits_hdr;

static void card_raw(fits_hdr *h, const char *text) {
  size_t l = strlen(text);
  if (l > 80) l = 80;
  if (h->n + 80 > sizeof h->a) return;  /* never happens: < 36 cards */
  memset(h->a + h->n, ' ', 80);
  memcpy(h->a + h->n, text, l);
  h->n += 80;
}
static void card_int(fits_hdr *h, const char *key, long long v) {
  char t[96];
  snprintf(t, sizeof t, "%-8.8s= %20lld", key, v);
  card_raw(h, t);
}
static void card_logical(fits_hdr *h, const char *key, int v) {
  char t[96];
  snprintf(t, sizeof t, "%-8.8s= %20s", key, v ? "T" : "F");
  card_raw(h, t);
}
static void card_str(fits_hdr *h, const char *key, const char *v) {
  char t[96];
  snprintf(t, sizeof t, "%-8.8s= '%-8.60s'", key, v);
  card_raw(h, t);
}
/* END, then blanks to the block boundary. */
static void card_end(fits_hdr *h) {
  card_raw(h, "END");
  size_t padded = (h->n + FITS_BLOCK - 1) / FITS_BLOCK * FITS_BLOCK;
  memset(h->a + h->n, ' ', padded - h->n);
  h->n = padded;
}

/*
** Write the map of `values` (order `order`) to each of paths[0..n): the
** bytes are rendered once, in 1 MiB pieces, and each piece is written to
** every file (point_map.fits and skymap.fits are the same map).
*/
static int write_healpix_fits_multi(const char *const *paths, int n, const int64_t *values,
                                    int order, st_error *err) {
  ST_CHECK(paths && values && n >= 1 && n <= 4, err, ST_ERR_INVALID, "FITS map: no path or values");
  ST_CHECK(order >= 0 && order <= ST_HPX_MAX_ORDER, err, ST_ERR_INVALID,
           "%s: FITS map: bad order %d", paths[0], order);
  int64_t npix = st_hpx_npix(order), nzero = 0;
  for (int64_t p = 0; p < npix; p++) nzero += values[p] == 0;
  /* hats: num_zeroes / len(histogram) > 0.5 -> explicit */
  int explicit_ = 2 * nzero > npix;
  int64_t nrows = explicit_ ? npix - nzero : npix;
  int width = explicit_ ? 16 : 8;
  char creator[64];
  snprintf(creator, sizeof creator, "skytile %s", SKYTILE_VERSION);

  fits_hdr *h = st_malloc(sizeof *h);
  ST_CHECK(h, err, ST_ERR_NOMEM, "%s: FITS map: out of memory", paths[0]);
  h->n = 0;
  card_logical(h, "SIMPLE", 1);
  card_int(h, "BITPIX", 8);
  card_int(h, "NAXIS", 0);
  card_logical(h, "EXTEND", 1);
  card_end(h);
  card_str(h, "XTENSION", "BINTABLE");
  card_int(h, "BITPIX", 8);
  card_int(h, "NAXIS", 2);
  card_int(h, "NAXIS1", width);
  card_int(h, "NAXIS2", nrows);
  card_int(h, "PCOUNT", 0);
  card_int(h, "GCOUNT", 1);
  if (explicit_) {
    card_int(h, "TFIELDS", 2);
    card_str(h, "TTYPE1", "PIXEL");
    card_str(h, "TTYPE2", "VALUE");
    card_str(h, "TFORM1", "K");
    card_str(h, "TFORM2", "K");
    card_str(h, "PIXTYPE", "HEALPIX");
    card_str(h, "INDXSCHM", "EXPLICIT");
    card_str(h, "ORDERING", "NESTED");
    card_str(h, "COORDSYS", "C");
    card_str(h, "EXTNAME", "xtension");
    card_int(h, "NSIDE", (long long)1 << order);
    card_int(h, "OBS_NPIX", nrows);
    card_str(h, "CREATOR", creator);
  } else {
    card_int(h, "TFIELDS", 1);
    card_str(h, "TTYPE1", "VALUE");
    card_str(h, "TFORM1", "K");
    card_str(h, "PIXTYPE", "HEALPIX");
    card_str(h, "INDXSCHM", "IMPLICIT");
    card_str(h, "ORDERING", "NESTED");
    card_int(h, "NSIDE", (long long)1 << order);
    card_int(h, "FIRSTPIX", 0);
    card_int(h, "LASTPIX", npix - 1);
    card_str(h, "OBJECT", "FULLSKY");
    card_str(h, "COORDSYS", "C");
    card_str(h, "EXTNAME", "xtension");
    card_str(h, "CREATOR", creator);
  }
  card_end(h);

  st_outfile *o[4] = {NULL};
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) rc = st_outfile_open(paths[i], &o[i], err);
  for (int i = 0; i < n && !rc; i++) rc = st_outfile_write(o[i], h->a, h->n, err);
  st_free(h);
  /* rows in pieces of CHUNK rows (at most 1 MiB) */
  enum { CHUNK = 65536 };
  uint8_t *buf = rc ? NULL : st_malloc(CHUNK * 16);
  if (!rc && !buf) rc = st_fail(err, ST_ERR_NOMEM, "%s: FITS map: out of memory", paths[0]);
  size_t fill = 0, full = (size_t)CHUNK * (size_t)width;
  for (int64_t p0 = 0; p0 < npix && !rc; p0 += CHUNK) {
    int64_t p1 = p0 + CHUNK < npix ? p0 + CHUNK : npix;
    if (explicit_) {
      for (int64_t p = p0; p < p1; p++) {
        if (!values[p]) continue;
        uint64_t be[2] = {__builtin_bswap64((uint64_t)p), __builtin_bswap64((uint64_t)values[p])};
        memcpy(buf + fill, be, 16);
        fill += 16;
        if (fill == full) {
          for (int i = 0; i < n && !rc; i++) rc = st_outfile_write(o[i], buf, fill, err);
          fill = 0;
        }
      }
    } else {
      for (int64_t p = p0; p < p1; p++) {
        uint64_t be = __builtin_bswap64((uint64_t)values[p]);
        memcpy(buf + fill + (size_t)(p - p0) * 8, &be, 8);
      }
      fill += (size_t)(p1 - p0) * 8;
      for (int i = 0; i < n && !rc; i++) rc = st_outfile_write(o[i], buf, fill, err);
      fill = 0;
    }
  }
  for (int i = 0; i < n && !rc && fill; i++) rc = st_outfile_write(o[i], buf, fill, err);
  uint64_t data = (uint64_t)nrows * (uint64_t)width;
  size_t pad = (size_t)((FITS_BLOCK - data % FITS_BLOCK) % FITS_BLOCK);
  if (!rc && pad) {
    memset(buf, 0, pad);  /* pad < 2880 <= CHUNK*16 */
    for (int i = 0; i < n && !rc; i++) rc = st_outfile_write(o[i], buf, pad, err);
  }
  st_free(buf);
  for (int i = 0; i < n; i++) {
    if (!o[i]) continue;
    if (rc) st_outfile_abort(o[i]);
    else rc = st_outfile_commit(o[i], err);
  }
  return rc;
}

int st_import_write_healpix_fits(const char *path, const int64_t *values, int order,
                                 st_error *err) {
  ST_CHECK(path && values, err, ST_ERR_INVALID, "FITS map: no path or values");
  return write_healpix_fits_multi(&path, 1, values, order, err);
}

int st_import_write_skymaps(const char *catalog_dir, const int64_t *hist, int order,
                            const int *alt_orders, int n_alt, st_error *err) {
  char path[4096];
  ST_CHECK(hist && order >= 0 && order <= ST_HPX_MAX_ORDER, err, ST_ERR_INVALID,
           "skymap: bad histogram or order %d", order);
  ST_CHECK(n_alt >= 0 && (n_alt == 0 || alt_orders), err, ST_ERR_INVALID, "skymap: bad orders");
  for (int i = 0; i < n_alt; i++)
    ST_CHECK(alt_orders[i] >= 0 && alt_orders[i] <= order, err, ST_ERR_INVALID,
             "skymap: alternative order %d must be between 0 and the skymap order %d",
             alt_orders[i], order);
  char path2[4096];
  ST_TRY(st_imp_path(path, sizeof path, catalog_dir, "point_map.fits", err));
  ST_TRY(st_imp_path(path2, sizeof path2, catalog_dir, "skymap.fits", err));
  const char *both[2] = {path, path2};
  ST_TRY(write_healpix_fits_multi(both, 2, hist, order, err));
  for (int i = 0; i < n_alt; i++) {
    int k = alt_orders[i];
    int64_t n = st_hpx_npix(k), group = (int64_t)1 << (2 * (order - k));
    int64_t *v = st_malloc((size_t)n * sizeof *v);
    ST_CHECK(v, err, ST_ERR_NOMEM, "skymap: out of memory for order %d", k);
    for (int64_t p = 0; p < n; p++) {
      int64_t s = 0;
      for (int64_t j = 0; j < group; j++) s += hist[p * group + j];
      v[p] = s;
    }
    char name[64];
    snprintf(name, sizeof name, "skymap.%d.fits", k);
    int rc = st_imp_path(path, sizeof path, catalog_dir, name, err);
    if (!rc) rc = st_import_write_healpix_fits(path, v, k, err);
    st_free(v);
    if (rc) return rc;
  }
  return 0;
}

/* ---- sky fraction --------------------------------------------------------- */

double st_import_sky_fraction(const st_bin_partition *parts, int64_t nparts) {
  /* hats: sum over distinct orders (ascending) of pixarea_deg2(order) *
  ** count, divided by 360^2/pi. */
  int64_t cnt[ST_HPX_MAX_ORDER + 1] = {0};
  for (int64_t i = 0; i < nparts; i++)
    if (parts[i].order >= 0 && parts[i].order <= ST_HPX_MAX_ORDER) cnt[parts[i].order]++;
  const double deg = 180.0 / M_PI;
  double sum = 0;
  for (int o = 0; o <= ST_HPX_MAX_ORDER; o++) {
    if (!cnt[o]) continue;
    double area = 4 * M_PI / (double)st_hpx_npix(o) * (deg * deg);
    sum += area * (double)cnt[o];
  }
  return sum / (360.0 * 360.0 / M_PI);
}

/* ---- properties ----------------------------------------------------------- */

void st_imp_fmt_frac5(double x, char *buf, size_t cap) {
  char s[64];
  snprintf(s, sizeof s, "%.5f", x);
  double v = strtod(s, NULL);
  if (isnan(v) || isinf(v)) {
    snprintf(buf, cap, "%s", isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
    return;
  }
  if (v == 0) {
    snprintf(buf, cap, "%s", signbit(v) ? "-0.0" : "0.0");
    return;
  }
  if (fabs(v) < 1e-4) {  /* "0.0000d": Python repr switches to "de-05" */
    const char *d = strchr(s, '.');
    snprintf(buf, cap, "%s%ce-05", v < 0 ? "-" : "", d[5]);
    return;
  }
  size_t l = strlen(s);
  while (l > 0 && s[l - 1] == '0') l--;
  if (l > 0 && s[l - 1] == '.') s[l++] = '0';
  s[l] = 0;
  snprintf(buf, cap, "%s", s);
}

int st_imp_prop_escape(st_buf *b, const char *s, int is_key, st_error *err) {
  for (size_t i = 0; s[i]; i++) {
    char c = s[i];
    const char *rep = NULL;
    char two[3] = {'\\', c, 0};
    switch (c) {
      case '\r': rep = "\\r"; break;
      case '\n': rep = "\\n"; break;
      case '\f': rep = "\\f"; break;
      case '\t': if (is_key) rep = "\\t"; break;
      case '#': case '!': case '=': case ':': case '\\':
        if (is_key) rep = two;
        break;
      case ' ':
        if (is_key || i == 0) rep = "\\ ";
        break;
      default: break;
    }
    if (rep)
      ST_TRY(st_buf_append(b, rep, strlen(rep), err));
    else
      ST_TRY(st_buf_append(b, &c, 1, err));
  }
  return 0;
}

/* TableProperties fields, in class order (aliases). */
static const char *const kDeclared[] = {
  "obs_collection", "dataproduct_type", "hats_nrows", "hats_col_ra", "hats_col_dec",
  "hats_cols_default", "hats_col_healpix", "hats_col_healpix_order", "hats_primary_table_url",
  "hats_margin_threshold", "hats_col_assn_primary", "hats_col_assn_primary_assn",
  "hats_assn_join_table_url", "hats_col_assn_join", "hats_col_assn_join_assn",
  "hats_assn_max_separation", "hats_assn_leaf_files", "hats_index_column",
  "hats_index_extra_column", "hats_npix_suffix", "hats_skymap_order", "hats_skymap_alt_orders",
  "hats_max_rows", "hats_max_bytes", "hats_estsize", "moc_sky_fraction",
};
#define N_DECLARED ((int)(sizeof kDeclared / sizeof kDeclared[0]))

static int declared_index(const char *key) {
  for (int i = 0; i < N_DECLARED; i++)
    if (!strcmp(kDeclared[i], key)) return i;
  return -1;
}

/* An ordered key -> value list (values owned). */
typedef struct kv {
  const char *key;
  char *val;
} kv;

typedef struct kvlist {
  kv a[256];
  int n;
} kvlist;

/* Set key (keeping the position of an existing key). */
static int kv_set(kvlist *l, const char *key, const char *val, st_error *err) {
  char *v = st_strdup(val);
  ST_CHECK(v, err, ST_ERR_NOMEM, "properties: out of memory");
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->a[i].key, key)) {
      st_free(l->a[i].val);
      l->a[i].val = v;
      return 0;
    }
  if (l->n == (int)(sizeof l->a / sizeof l->a[0])) {
    st_free(v);
    return st_fail(err, ST_ERR_LIMIT, "properties: more than %d keys",
                   (int)(sizeof l->a / sizeof l->a[0]));
  }
  l->a[l->n++] = (kv){key, v};
  return 0;
}

static void kv_del(kvlist *l, const char *key) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->a[i].key, key)) {
      st_free(l->a[i].val);
      memmove(l->a + i, l->a + i + 1, (size_t)(l->n - i - 1) * sizeof l->a[0]);
      l->n--;
      return;
    }
}

static void kv_free(kvlist *l) {
  for (int i = 0; i < l->n; i++) st_free(l->a[i].val);
  l->n = 0;
}

/* hats space_delimited_list + serializer: split on ; space , \n, join with
** one space.  Writes "" when there is no item (the key is then omitted). */
static void norm_list(const char *s, char *out, size_t cap) {
  size_t n = 0;
  int first = 1;
  for (size_t i = 0; s[i];) {
    while (s[i] && strchr("; ,\n", s[i])) i++;
    size_t j = i;
    while (s[j] && !strchr("; ,\n", s[j])) j++;
    if (j > i) {
      if (!first && n + 1 < cap) out[n++] = ' ';
      for (size_t k = i; k < j && n + 1 < cap; k++) out[n++] = s[k];
      first = 0;
    }
    i = j;
  }
  out[n] = 0;
}

void st_import_props_init(st_import_props *p) {
  memset(p, 0, sizeof *p);
  p->total_rows = -1;
  p->healpix_order = -1;
  p->skymap_order = -1;
  p->max_rows = -1;
  p->estsize_kb = -1;
  p->moc_sky_fraction = NAN;
  p->hats_order = -1;
}


static int dir_size_rec(const char *dir, int depth, int64_t *tot, st_error *err) {
  ST_CHECK(depth < 64, err, ST_ERR_LIMIT, "%s: directories nested too deep", dir);
  DIR *d = opendir(dir);
  ST_CHECK(d, err, ST_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
  int rc = 0;
  struct dirent *e;
  char path[4096];
  while (!rc && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    rc = st_imp_path(path, sizeof path, dir, e->d_name, err);
    if (rc) break;
    struct stat st;
    if (stat(path, &st) != 0) continue;  /* vanished (e.g. a temp file) */
    if (S_ISDIR(st.st_mode))
      rc = dir_size_rec(path, depth + 1, tot, err);
    else
      *tot += (int64_t)st.st_size;
  }
  closedir(d);
  return rc;
}

int st_imp_dir_size(const char *dir, int64_t *out, st_error *err) {
  *out = 0;
  return dir_size_rec(dir, 0, out, err);
}

static int build_properties(const char *catalog_dir, const st_import_props *p, st_buf *b,
                            st_error *err) {
  ST_CHECK(p && p->catalog_name && p->catalog_type, err, ST_ERR_INVALID,
           "properties: catalog name and type are required");
  ST_CHECK(p->n_extra >= 0 && (p->n_extra == 0 || (p->extra_keys && p->extra_values)), err,
           ST_ERR_INVALID, "properties: bad additional properties");
  const char *decl[N_DECLARED] = {0};
  char num[N_DECLARED][64];
  char alt[128];
  char *cols = NULL, *extracols = NULL;
  /* caller's additional keys first: declared ones take their slot */
  kvlist *ex = st_calloc(1, sizeof *ex);
  ST_CHECK(ex, err, ST_ERR_NOMEM, "properties: out of memory");
  int rc = 0;
  for (int i = 0; i < p->n_extra && !rc; i++) {
    const char *k = p->extra_keys[i], *v = p->extra_values[i];
    if (!k || !v || !*k) {
      rc = st_fail(err, ST_ERR_INVALID, "properties: additional property %d has no key or value", i);
      break;
    }
    int di = declared_index(k);
    if (di >= 0)
      decl[di] = v;
    else
      rc = kv_set(ex, k, v, err);
  }
#define SETNUM(key, val)                                                   \
  do {                                                                     \
    int i_ = declared_index(key);                                          \
    snprintf(num[i_], sizeof num[i_], "%lld", (long long)(val));           \
    decl[i_] = num[i_];                                                    \
  } while (0)
  if (!rc) {
    decl[declared_index("obs_collection")] = p->catalog_name;
    decl[declared_index("dataproduct_type")] = p->catalog_type;
    if (p->total_rows >= 0) SETNUM("hats_nrows", p->total_rows);
    if (p->ra_column) decl[declared_index("hats_col_ra")] = p->ra_column;
    if (p->dec_column) decl[declared_index("hats_col_dec")] = p->dec_column;
    if (p->default_columns) decl[declared_index("hats_cols_default")] = p->default_columns;
    if (p->healpix_column) decl[declared_index("hats_col_healpix")] = p->healpix_column;
    if (p->healpix_order >= 0) SETNUM("hats_col_healpix_order", p->healpix_order);
    decl[declared_index("hats_npix_suffix")] = p->npix_suffix ? p->npix_suffix : ".parquet";
    if (p->skymap_order >= 0) SETNUM("hats_skymap_order", p->skymap_order);
    if (p->n_skymap_alt_orders > 0 && p->skymap_alt_orders) {
      uint32_t seen = 0;  /* hats sorts and de-duplicates the orders */
      for (int i = 0; i < p->n_skymap_alt_orders && !rc; i++) {
        int k = p->skymap_alt_orders[i];
        if (k < 0 || k > ST_HPX_MAX_ORDER)
          rc = st_fail(err, ST_ERR_INVALID, "properties: bad skymap order %d", k);
        else
          seen |= (uint32_t)1 << k;
      }
      size_t at = 0;
      alt[0] = 0;
      for (int k = 0; k <= ST_HPX_MAX_ORDER; k++)
        if (seen >> k & 1) at += (size_t)snprintf(alt + at, sizeof alt - at, "%s%d", at ? " " : "", k);
      decl[declared_index("hats_skymap_alt_orders")] = alt;
    }
    if (p->max_rows >= 0) SETNUM("hats_max_rows", p->max_rows);
    int64_t est = p->estsize_kb;
    if (est < 0 && !rc) {
      int64_t bytes = 0;
      rc = st_imp_dir_size(catalog_dir, &bytes, err);
      est = bytes / 1024;
    }
    SETNUM("hats_estsize", est);
    if (!isnan(p->moc_sky_fraction)) {
      int i = declared_index("moc_sky_fraction");
      st_imp_fmt_frac5(p->moc_sky_fraction, num[i], sizeof num[i]);
      decl[i] = num[i];
    }
    /* list-valued fields are normalised as hats' validators do */
    int ic = declared_index("hats_cols_default"), ie = declared_index("hats_index_extra_column");
    if (!rc && decl[ic]) {
      cols = st_malloc(strlen(decl[ic]) + 1);
      if (!cols) rc = st_fail(err, ST_ERR_NOMEM, "properties: out of memory");
      else norm_list(decl[ic], cols, strlen(decl[ic]) + 1);
      decl[ic] = cols && *cols ? cols : NULL;
    }
    if (!rc && decl[ie]) {
      extracols = st_malloc(strlen(decl[ie]) + 1);
      if (!extracols) rc = st_fail(err, ST_ERR_NOMEM, "properties: out of memory");
      else norm_list(decl[ie], extracols, strlen(decl[ie]) + 1);
      decl[ie] = extracols && *extracols ? extracols : NULL;
    }
  }
#undef SETNUM
  /* provenance and the remaining import keys */
  char builder[256], date[64];
  if (!rc) {
    if (p->builder)
      snprintf(builder, sizeof builder, "%s", p->builder);
    else
      snprintf(builder, sizeof builder, "skytile v%s", SKYTILE_VERSION);
    if (p->creation_date) {
      snprintf(date, sizeof date, "%s", p->creation_date);
    } else {
      time_t now = time(NULL);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(date, sizeof date, "%Y-%m-%dT%H:%MUTC", &tm);
    }
    rc = kv_set(ex, "hats_builder", builder, err);
    if (!rc) rc = kv_set(ex, "hats_creation_date", date, err);
    if (!rc) rc = kv_set(ex, "hats_release_date", "2025-08-22", err);
    if (!rc) rc = kv_set(ex, "hats_version", "v1.0", err);
    if (!rc && p->cols_sort) rc = kv_set(ex, "hats_cols_sort", p->cols_sort, err);
    if (!rc && !p->cols_sort) kv_del(ex, "hats_cols_sort");
    if (!rc && p->hats_order >= 0) {
      char o[32];
      snprintf(o, sizeof o, "%d", p->hats_order);
      rc = kv_set(ex, "hats_order", o, err);
    }
  }
  if (!rc) rc = st_buf_append(b, "#HATS catalog\n", 14, err);
  for (int i = 0; i < N_DECLARED && !rc; i++) {
    if (!decl[i]) continue;
    rc = st_imp_prop_escape(b, kDeclared[i], 1, err);
    if (!rc) rc = st_buf_append(b, "=", 1, err);
    if (!rc) rc = st_imp_prop_escape(b, decl[i], 0, err);
    if (!rc) rc = st_buf_append(b, "\n", 1, err);
  }
  for (int i = 0; i < ex->n && !rc; i++) {
    rc = st_imp_prop_escape(b, ex->a[i].key, 1, err);
    if (!rc) rc = st_buf_append(b, "=", 1, err);
    if (!rc) rc = st_imp_prop_escape(b, ex->a[i].val, 0, err);
    if (!rc) rc = st_buf_append(b, "\n", 1, err);
  }
  kv_free(ex);
  st_free(ex);
  st_free(cols);
  st_free(extracols);
  return rc;
}

int st_import_write_properties(const char *catalog_dir, const st_import_props *p,
                               st_error *err) {
  char path[4096];
  ST_TRY(st_imp_path(path, sizeof path, catalog_dir, "hats.properties", err));
  st_buf b;
  st_buf_init(&b);
  int rc = build_properties(catalog_dir, p, &b, err);
  if (!rc) rc = write_file(path, b.data, b.len, err);
  if (!rc) rc = st_imp_path(path, sizeof path, catalog_dir, "properties", err);
  if (!rc) rc = write_file(path, b.data, b.len, err);
  st_buf_free(&b);
  return rc;
}
