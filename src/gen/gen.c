/*
** This file implements the synthetic survey generator (skytile/gen.h).
**
** Randomness: xoshiro256** (Blackman & Vigna) seeded through splitmix64.
** Every object i (0-based; object_id = i + 1) owns two streams, seeded from
** (seed, i, stream): stream 0 draws its properties, stream 1 its detections.
** The visit schedule uses a stream of its own (object index -1).  Output is
** therefore a pure function of the options (threads only change speed).
**
** Run:
**   1. prepare dir (create; refuse a non-empty one unless overwrite, which
**      removes objects.parquet, targets.csv and detections/part-*.{parquet,csv}).
**   2. schedule  n_epochs visit times and bands (see gen.h).
**   3. objects   columnar arrays for all objects (threads split the range),
**                written as objects.parquet.
**   4. detections  files of whole objects: objects_per_file = ceil(
**                rows_per_file / (n_epochs * detection_prob)); worker threads
**                take file numbers from an atomic counter and generate each
**                file's rows straight into st_mem blocks (no per-row
**                allocation) that become the table's columns, then write it
**                (Parquet, zstd level 1, or CSV; both atomically).
**   5. targets.csv  variables first, then constant objects, each group
**                brightest (smallest mean_mag) first, n_targets rows.
*/
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "skytile.h"
#include "util/err.h"
#include "util/mem.h"

#define MJD0 58000.0
#define N_BANDS 3
static const char BAND_NAMES[N_BANDS] = {'g', 'r', 'i'};
static const double BAND_OFFSET[N_BANDS] = {0.4, 0.0, -0.25};
#define MAX_FILES 1000000

void st_gen_options_init(st_gen_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->n_objects = 10000;
  o->n_epochs = 40;
  o->years = 4;
  o->detection_prob = 0.9;
  o->variable_fraction = 0.05;
  o->astrometric_noise_arcsec = 0.3;
  o->n_targets = 20;
  o->detections_format = "parquet";
  o->rows_per_file = 1000000;
  o->seed = 1;
}

/* ---- random numbers ------------------------------------------------------- */

typedef struct rng {
  uint64_t s[4];    /* xoshiro256** state                    */
  double spare;     /* second Box-Muller normal              */
  bool has_spare;   /* spare holds an unused normal          */
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, int64_t index, int stream) {
  uint64_t x = seed;
  x = splitmix64(&x) ^ ((uint64_t)index * 0xD1B54A32D192ED03ull);
  x = splitmix64(&x) ^ ((uint64_t)stream * 0x8CB92BA72F3D8DD7ull);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  r->has_spare = false;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

/* Uniform in [0, 1). */
static inline double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Standard normal (Box-Muller, both values used). */
static inline double rng_normal(rng *r) {
  if (r->has_spare) {
    r->has_spare = false;
    return r->spare;
  }
  double u = 1.0 - rng_uniform(r), v = rng_uniform(r);  /* u in (0, 1] */
  double m = sqrt(-2.0 * log(u)), a = 2 * M_PI * v;
  r->spare = m * sin(a);
  r->has_spare = true;
  return m * cos(a);
}

/* ---- the model ------------------------------------------------------------- */

typedef struct gen_objects {
  int64_t n;                  /* objects; object_id = index + 1           */
  double *ra, *dec;           /* true positions (degrees)                 */
  double *mag;                /* mean r magnitude                         */
  double *period, *amp, *phase; /* sinusoid (0 for constant objects)      */
  uint8_t *var;               /* 1 = variable                             */
} gen_objects;

typedef struct gen_ctx {
  const st_gen_options *o;
  gen_objects obj;
  int n_epochs;
  double *visit_t;       /* n_epochs visit times (MJD)                  */
  int64_t per_file;      /* objects per detection file                  */
  int n_files;
  bool csv;
  atomic_int next_file;
  atomic_llong n_detections;
  atomic_int failed;
  pthread_mutex_t lock;
  st_error first_err;    /* first failure of any worker                 */
  int first_rc;
} gen_ctx;

static const double D2R = M_PI / 180.0;

/* Properties of objects [i0, i1). */
static void make_objects(const st_gen_options *o, gen_objects *ob, int64_t i0, int64_t i1) {
  const double m_lo = 14.0, m_hi = 22.0, slope = 0.3;
  const double q = pow(10.0, -slope * (m_hi - m_lo));
  double cr = o->cone_ra * D2R, cd = o->cone_dec * D2R, cosr = cos(o->cone_radius_deg * D2R);
  double cx = cos(cd) * cos(cr), cy = cos(cd) * sin(cr), cz = sin(cd);
  double ex = -sin(cr), ey = cos(cr);                       /* east  */
  double nx = -sin(cd) * cos(cr), ny = -sin(cd) * sin(cr), nz = cos(cd);  /* north */
  for (int64_t i = i0; i < i1; i++) {
    rng r;
    rng_seed(&r, o->seed, i, 0);
    double u1 = rng_uniform(&r), u2 = rng_uniform(&r);
    double ra, dec;
    if (o->cone) {
      double ct = 1.0 - u1 * (1.0 - cosr), st = sqrt(fmax(0.0, 1.0 - ct * ct));
      double ph = 2 * M_PI * u2, a = st * cos(ph), b = st * sin(ph);
      double px = ct * cx + a * ex + b * nx, py = ct * cy + a * ey + b * ny, pz = ct * cz + b * nz;
      ra = atan2(py, px) / D2R;
      dec = asin(fmax(-1.0, fmin(1.0, pz))) / D2R;
    } else {
      ra = 360.0 * u1;
      dec = asin(2.0 * u2 - 1.0) / D2R;
    }
    if (ra < 0) ra += 360.0;
    if (ra >= 360.0) ra -= 360.0;
    ob->ra[i] = ra;
    ob->dec[i] = dec;
    ob->mag[i] = m_hi + log10(1.0 - rng_uniform(&r) * (1.0 - q)) / slope;
    bool v = rng_uniform(&r) < o->variable_fraction;
    double p = rng_uniform(&r), a = rng_uniform(&r), ph = rng_uniform(&r);
    ob->var[i] = v;
    ob->period[i] = v ? 0.5 * pow(800.0, p) : 0.0;   /* log-uniform 0.5..400 */
    ob->amp[i] = v ? 0.1 + 0.9 * a : 0.0;
    ob->phase[i] = v ? ph : 0.0;
  }
}

/* An st_array of n fixed-width values over a fresh block (uninitialised). */
static st_array *new_fixed(size_t width, int64_t n, void **data) {
  st_array *a = st_array_new();
  st_mem *m = a ? st_mem_new((size_t)(n ? n : 1) * width) : NULL;
  if (!m) {
    st_array_free(a);
    return NULL;
  }
  a->length = n;
  a->null_count = 0;
  a->n_buffers = 2;
  a->buf[1] = m->data;
  a->mem[1] = m;
  *data = m->data;
  return a;
}

static int nomem(st_error *err) { return st_fail(err, ST_ERR_NOMEM, "generate: out of memory"); }

/* Write a table as Parquet or CSV at path, atomically. */
static int write_table(const st_table *t, const char *path, bool csv, st_error *err) {
  if (!csv) {
    st_pq_write_options wo;
    st_pq_write_options_init(&wo);
    wo.compression = ST_PQ_CODEC_ZSTD;
    wo.compression_level = 1;
    return st_pq_write_table_path(path, t, &wo, err);
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  int rc = st_table_write_csv_path(t, tmp, true, false, err);
  if (!rc && rename(tmp, path))
    rc = st_fail(err, ST_ERR_IO, "%s: rename: %s", path, strerror(errno));
  if (rc) unlink(tmp);
  return rc;
}

enum { C_SRC, C_OBJ, C_RA, C_DEC, C_MJD, C_BAND, C_MAG, C_MAGERR, C_FLUX, C_FLUXERR, N_DCOLS };
static const char *const DCOL_NAMES[N_DCOLS] = {"source_id", "object_id", "ra",   "dec",
                                                 "mjd",       "band",      "mag",  "mag_err",
                                                 "flux",      "flux_err"};

/* Generate and write detection file f. */
static int make_file(gen_ctx *g, int f, st_error *err) {
  const st_gen_options *o = g->o;
  int64_t i0 = (int64_t)f * g->per_file, i1 = i0 + g->per_file;
  if (i1 > g->obj.n) i1 = g->obj.n;
  int64_t cap = (i1 - i0) * g->n_epochs;
  st_array *cols[N_DCOLS] = {0};
  void *p[N_DCOLS];
  int rc = 0;
  for (int c = 0; c < N_DCOLS; c++) {
    if (c == C_BAND) continue;
    cols[c] = new_fixed(8, cap, &p[c]);
    if (!cols[c]) rc = nomem(err);
  }
  /* band: STRING with int32 offsets and one byte per row */
  st_array *band = st_array_new();
  st_mem *boff = st_mem_new((size_t)(cap + 1) * 4), *bdat = st_mem_new((size_t)(cap ? cap : 1));
  if (!band || !boff || !bdat) rc = rc ? rc : nomem(err);
  if (rc) {
    for (int c = 0; c < N_DCOLS; c++) st_array_free(cols[c]);
    st_array_free(band);
    st_mem_unref(boff);
    st_mem_unref(bdat);
    return rc;
  }
  int64_t *src = p[C_SRC], *oid = p[C_OBJ];
  double *ra = p[C_RA], *dec = p[C_DEC], *mjd = p[C_MJD], *mag = p[C_MAG], *merr = p[C_MAGERR];
  double *flux = p[C_FLUX], *ferr = p[C_FLUXERR];
  int32_t *off = (int32_t *)boff->data;
  uint8_t *bch = bdat->data;
  const double sig = o->astrometric_noise_arcsec / 3600.0, pd = o->detection_prob;
  const double k_flux = log(10.0) / 2.5;
  int64_t n = 0;
  for (int64_t i = i0; i < i1; i++) {
    rng r;
    rng_seed(&r, o->seed, i, 1);
    double ra0 = g->obj.ra[i], dec0 = g->obj.dec[i], m0 = g->obj.mag[i];
    double cosd = fmax(cos(dec0 * D2R), 1e-6);
    bool var = g->obj.var[i];
    double per = g->obj.period[i], amp = g->obj.amp[i], ph = g->obj.phase[i];
    for (int k = 0; k < g->n_epochs; k++) {
      if (!(rng_uniform(&r) < pd)) continue;
      double t = g->visit_t[k] + 0.01 * rng_uniform(&r);
      int b = k % N_BANDS;
      double m = m0 + BAND_OFFSET[b];
      if (var) m += amp * sin(2 * M_PI * (t / per + ph));
      double e20 = 0.02 * pow(10.0, 0.4 * (m - 20.0));
      double me = sqrt(0.005 * 0.005 + e20 * e20);
      double mo = m + me * rng_normal(&r);
      double d = dec0 + sig * rng_normal(&r);
      double a = ra0 + sig * rng_normal(&r) / cosd;
      if (d > 90) d = 90;
      if (d < -90) d = -90;
      if (a < 0) a += 360;
      if (a >= 360) a -= 360;
      src[n] = (i + 1) * (int64_t)g->n_epochs + k;
      oid[n] = i + 1;
      ra[n] = a;
      dec[n] = d;
      mjd[n] = t;
      mag[n] = mo;
      merr[n] = me;
      double fl = pow(10.0, (23.9 - mo) / 2.5);
      flux[n] = fl;
      ferr[n] = fl * me * k_flux;
      off[n] = (int32_t)n;
      bch[n] = (uint8_t)BAND_NAMES[b];
      n++;
    }
  }
  off[n] = (int32_t)n;
  for (int c = 0; c < N_DCOLS; c++)
    if (cols[c]) cols[c]->length = n;
  band->length = n;
  band->null_count = 0;
  band->n_buffers = 3;
  band->buf[1] = boff->data;
  band->mem[1] = boff;
  band->buf[2] = bdat->data;
  band->mem[2] = bdat;
  cols[C_BAND] = band;

  st_field fields[N_DCOLS];
  memset(fields, 0, sizeof fields);
  for (int c = 0; c < N_DCOLS && !rc; c++) {
    st_type_id ty = c <= C_OBJ ? ST_T_INT64 : c == C_BAND ? ST_T_STRING : ST_T_DOUBLE;
    if (st_field_init(&fields[c], DCOL_NAMES[c], ty, false)) rc = nomem(err);
  }
  st_table *t = NULL;
  if (!rc) rc = st_table_new(fields, cols, N_DCOLS, n, NULL, &t, err);
  else
    for (int c = 0; c < N_DCOLS; c++) st_array_free(cols[c]);
  for (int c = 0; c < N_DCOLS; c++) st_field_clear(&fields[c]);
  if (!rc) {
    char path[4200];
    snprintf(path, sizeof path, "%s/detections/part-%05d.%s", o->dir, f, g->csv ? "csv" : "parquet");
    rc = write_table(t, path, g->csv, err);
  }
  st_table_free(t);
  if (!rc) atomic_fetch_add(&g->n_detections, n);
  return rc;
}

static void *worker(void *arg) {
  gen_ctx *g = arg;
  for (;;) {
    if (atomic_load(&g->failed)) break;
    int f = atomic_fetch_add(&g->next_file, 1);
    if (f >= g->n_files) break;
    st_error e = {0};
    int rc = make_file(g, f, &e);
    if (rc) {
      pthread_mutex_lock(&g->lock);
      if (!g->first_rc) {
        g->first_rc = rc;
        g->first_err = e;
      }
      pthread_mutex_unlock(&g->lock);
      atomic_store(&g->failed, 1);
      break;
    }
  }
  return NULL;
}

typedef struct obj_job {
  const st_gen_options *o;    /* options (seed, cone)                     */
  gen_objects *ob;            /* arrays to fill                           */
  int64_t i0, i1;             /* object index range [i0, i1)              */
} obj_job;

static void *obj_worker(void *arg) {
  obj_job *j = arg;
  make_objects(j->o, j->ob, j->i0, j->i1);
  return NULL;
}

/* ---- output files ------------------------------------------------------- */

static int write_objects(gen_ctx *g, st_error *err) {
  const gen_objects *ob = &g->obj;
  int64_t n = ob->n;
  static const char *const names[8] = {"object_id", "ra", "dec", "mean_mag", "is_variable",
                                       "period_days", "amplitude_mag", "phase"};
  const double *src[8] = {NULL, ob->ra, ob->dec, ob->mag, NULL, ob->period, ob->amp, ob->phase};
  st_field fields[8];
  st_array *cols[8] = {0};
  memset(fields, 0, sizeof fields);
  int rc = 0;
  for (int c = 0; c < 8 && !rc; c++) {
    st_type_id ty = c == 0 ? ST_T_INT64 : c == 4 ? ST_T_BOOL : ST_T_DOUBLE;
    if (st_field_init(&fields[c], names[c], ty, false)) {
      rc = nomem(err);
      break;
    }
    if (c == 4) {
      st_builder *b = NULL;
      rc = st_builder_new(&fields[c], &b, err);
      if (!rc) rc = st_builder_append_values(b, ob->var, n, NULL, err);
      if (!rc) rc = st_builder_finish(b, &cols[c], err);
      st_builder_free(b);
      continue;
    }
    void *d;
    if (!(cols[c] = new_fixed(8, n, &d))) {
      rc = nomem(err);
      break;
    }
    if (c == 0)
      for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i] = i + 1;
    else if (n)
      memcpy(d, src[c], (size_t)n * sizeof(double));
  }
  st_table *t = NULL;
  if (!rc) rc = st_table_new(fields, cols, 8, n, NULL, &t, err);
  else
    for (int c = 0; c < 8; c++) st_array_free(cols[c]);
  for (int c = 0; c < 8; c++) st_field_clear(&fields[c]);
  if (!rc) {
    char path[4200];
    snprintf(path, sizeof path, "%s/objects.parquet", g->o->dir);
    rc = write_table(t, path, false, err);
  }
  st_table_free(t);
  return rc;
}

static int cmp_by_mag(const void *x, const void *y, void *ctx) {
  const double *mag = ctx;
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  double ma = mag[a], mb = mag[b];
  if (ma != mb) return ma < mb ? -1 : 1;
  return (a > b) - (a < b);
}

/* targets.csv: variables (brightest first), then constant objects (brightest first). */
static int write_targets(gen_ctx *g, int *n_written, st_error *err) {
  char path[4200], tmp[4300];
  int64_t n = g->obj.n, want = g->o->n_targets < n ? g->o->n_targets : n, m = 0;
  int64_t *idx = st_malloc((size_t)(n ? n : 1) * sizeof *idx);
  if (!idx) return nomem(err);
  for (int pass = 1; pass >= 0 && m < want; pass--) {
    int64_t start = m;
    for (int64_t i = 0; i < n; i++)
      if (g->obj.var[i] == pass) idx[m++] = i;
    qsort_r(idx + start, (size_t)(m - start), sizeof *idx, cmp_by_mag, g->obj.mag);
  }
  snprintf(path, sizeof path, "%s/targets.csv", g->o->dir);
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  FILE *fp = fopen(tmp, "w");
  if (!fp) {
    st_free(idx);
    return st_fail(err, ST_ERR_IO, "%s: %s", tmp, strerror(errno));
  }
  fputs("id,ra,dec\n", fp);
  for (int64_t k = 0; k < want; k++) {
    int64_t i = idx[k];
    fprintf(fp, "%lld,%.12f,%.12f\n", (long long)(i + 1), g->obj.ra[i], g->obj.dec[i]);
  }
  st_free(idx);
  *n_written = (int)want;
  bool bad = ferror(fp) != 0;
  if (fclose(fp) || bad) {
    unlink(tmp);
    return st_fail(err, ST_ERR_IO, "%s: write failed", tmp);
  }
  if (rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return st_fail(err, ST_ERR_IO, "%s: rename: %s", path, strerror(e));
  }
  return 0;
}

/* Create dir (and dir/detections); refuse a non-empty dir unless overwrite. */
static int prepare_dir(const st_gen_options *o, st_error *err) {
  const char *dir = o->dir;
  if (mkdir(dir, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "generate: cannot create %s: %s", dir, strerror(errno));
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode))
    return st_fail(err, ST_ERR_INVALID, "generate: %s exists and is not a directory", dir);
  DIR *d = opendir(dir);
  if (!d) return st_fail(err, ST_ERR_IO, "generate: %s: %s", dir, strerror(errno));
  struct dirent *e;
  bool empty = true;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
  closedir(d);
  char path[4200];
  if (!empty) {
    if (!o->overwrite)
      return st_fail(err, ST_ERR_INVALID, "generate: %s exists and is not empty (use --overwrite)",
                     dir);
    snprintf(path, sizeof path, "%s/objects.parquet", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/targets.csv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/detections", dir);
    if ((d = opendir(path))) {
      while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        bool ours = !strncmp(e->d_name, "part-", 5) &&
                    ((l > 8 && !strcmp(e->d_name + l - 8, ".parquet")) ||
                     (l > 4 && !strcmp(e->d_name + l - 4, ".csv")));
        if (!ours) continue;
        char fp[4500];
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        unlink(fp);
      }
      closedir(d);
    }
  }
  snprintf(path, sizeof path, "%s/detections", dir);
  if (mkdir(path, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "generate: cannot create %s: %s", path, strerror(errno));
  return 0;
}

static int check_options(const st_gen_options *o, st_error *err) {
  ST_CHECK(o && o->struct_size >= sizeof *o, err, ST_ERR_INVALID,
           "generate: options not initialised (st_gen_options_init)");
  ST_CHECK(o->dir && o->dir[0], err, ST_ERR_INVALID, "generate: no output directory");
  ST_CHECK(strlen(o->dir) < 4000, err, ST_ERR_INVALID, "generate: output path too long");
  ST_CHECK(o->n_objects >= 0 && o->n_objects <= 2000000000LL, err, ST_ERR_INVALID,
           "generate: objects %lld out of range (0..2e9)", (long long)o->n_objects);
  ST_CHECK(o->n_epochs >= 1 && o->n_epochs <= 100000, err, ST_ERR_INVALID,
           "generate: epochs %d out of range (1..100000)", o->n_epochs);
  ST_CHECK(o->years > 0 && o->years <= 1000, err, ST_ERR_INVALID,
           "generate: years %g out of range (0..1000]", o->years);
  ST_CHECK(o->detection_prob >= 0 && o->detection_prob <= 1, err, ST_ERR_INVALID,
           "generate: detection probability %g out of range [0, 1]", o->detection_prob);
  ST_CHECK(o->variable_fraction >= 0 && o->variable_fraction <= 1, err, ST_ERR_INVALID,
           "generate: variable fraction %g out of range [0, 1]", o->variable_fraction);
  ST_CHECK(o->astrometric_noise_arcsec >= 0 && o->astrometric_noise_arcsec <= 3600, err,
           ST_ERR_INVALID, "generate: astrometric noise %g arcsec out of range [0, 3600]",
           o->astrometric_noise_arcsec);
  ST_CHECK(o->n_targets >= 0, err, ST_ERR_INVALID, "generate: negative number of targets");
  ST_CHECK(o->rows_per_file >= 1, err, ST_ERR_INVALID, "generate: rows per file must be >= 1");
  if (o->cone)
    ST_CHECK(isfinite(o->cone_ra) && o->cone_dec >= -90 && o->cone_dec <= 90 &&
                 o->cone_radius_deg > 0 && o->cone_radius_deg <= 180,
             err, ST_ERR_INVALID,
             "generate: cone (%g, %g, radius %g): need -90 <= dec <= 90 and 0 < radius <= 180",
             o->cone_ra, o->cone_dec, o->cone_radius_deg);
  const char *f = o->detections_format ? o->detections_format : "parquet";
  ST_CHECK(!strcmp(f, "parquet") || !strcmp(f, "csv"), err, ST_ERR_INVALID,
           "generate: detections format '%s' (expected parquet or csv)", f);
  return 0;
}

int st_generate_stats(const st_gen_options *o, st_gen_stats *stats, st_error *err) {
  ST_TRY(check_options(o, err));
  ST_TRY(prepare_dir(o, err));
  gen_ctx *g = st_calloc(1, sizeof *g);
  if (!g) return nomem(err);
  int rc = 0;
  g->o = o;
  g->n_epochs = o->n_epochs;
  g->csv = o->detections_format && !strcmp(o->detections_format, "csv");
  pthread_mutex_init(&g->lock, NULL);
  int64_t n = o->n_objects;
  size_t nb = (size_t)(n ? n : 1) * sizeof(double);
  g->obj.n = n;
  g->obj.ra = st_malloc(nb), g->obj.dec = st_malloc(nb), g->obj.mag = st_malloc(nb);
  g->obj.period = st_malloc(nb), g->obj.amp = st_malloc(nb), g->obj.phase = st_malloc(nb);
  g->obj.var = st_malloc((size_t)(n ? n : 1));
  g->visit_t = st_malloc((size_t)o->n_epochs * sizeof(double));
  if (!g->obj.ra || !g->obj.dec || !g->obj.mag || !g->obj.period || !g->obj.amp ||
      !g->obj.phase || !g->obj.var || !g->visit_t) {
    rc = nomem(err);
    goto done;
  }

  /* schedule */
  {
    int ns = (int)lround(2.0 * o->years);
    if (ns < 1) ns = 1;
    if (ns > o->n_epochs) ns = o->n_epochs;
    double spacing = o->years * 365.25 / ns;
    rng r;
    rng_seed(&r, o->seed, -1, 2);
    int k = 0;
    for (int s = 0; s < ns; s++) {
      int nv = o->n_epochs / ns + (s < o->n_epochs % ns);
      double cadence = fmin(1.0, spacing / 3.0 / nv);
      for (int j = 0; j < nv; j++)
        g->visit_t[k++] = MJD0 + s * spacing + j * cadence + 0.1 * cadence * rng_uniform(&r);
    }
  }

  /* objects (parallel over ranges) */
  int nt = o->threads > 0 ? o->threads : 1;
  if (nt > 64) nt = 64;
  {
    pthread_t th[64];
    obj_job jobs[64];
    int started = 0;
    for (int t = 0; t < nt; t++) {
      jobs[t] = (obj_job){o, &g->obj, n * t / nt, n * (t + 1) / nt};
      if (t < nt - 1 && !pthread_create(&th[started], NULL, obj_worker, &jobs[t])) started++;
      else obj_worker(&jobs[t]);
    }
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
  }
  rc = write_objects(g, err);
  if (rc) goto done;

  /* detections */
  {
    double per_obj = o->n_epochs * o->detection_prob;
    int64_t pf = per_obj > 0 ? (int64_t)ceil((double)o->rows_per_file / per_obj) : n;
    if (pf < 1) pf = 1;
    if (pf > n) pf = n ? n : 1;
    /* keep each file below 2^31 rows x epochs (int32 string offsets) */
    int64_t max_pf = (INT32_MAX - 1) / o->n_epochs;
    if (pf > max_pf) pf = max_pf;
    g->per_file = pf;
    int64_t nf = n ? (n + pf - 1) / pf : 0;
    if (nf > MAX_FILES) {
      rc = st_fail(err, ST_ERR_INVALID,
                   "generate: %lld detection files would be written (max %d); raise rows per file",
                   (long long)nf, MAX_FILES);
      goto done;
    }
    g->n_files = (int)nf;
    int nw = nt < g->n_files ? nt : g->n_files;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nw; t++)
      if (!pthread_create(&th[started], NULL, worker, g)) started++;
    worker(g);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    if (g->first_rc) {
      *err = g->first_err;
      rc = g->first_rc;
      goto done;
    }
  }
  int n_targets = 0;
  rc = write_targets(g, &n_targets, err);
  if (!rc && stats) {
    stats->n_objects = n;
    stats->n_variables = 0;
    for (int64_t i = 0; i < n; i++) stats->n_variables += g->obj.var[i];
    stats->n_detections = atomic_load(&g->n_detections);
    stats->n_files = g->n_files;
    stats->n_targets = n_targets;
  }
done:
  st_free(g->obj.ra), st_free(g->obj.dec), st_free(g->obj.mag);
  st_free(g->obj.period), st_free(g->obj.amp), st_free(g->obj.phase), st_free(g->obj.var);
  st_free(g->visit_t);
  pthread_mutex_destroy(&g->lock);
  st_free(g);
  return rc;
}

int st_generate(const st_gen_options *o, st_error *err) { return st_generate_stats(o, NULL, err); }
