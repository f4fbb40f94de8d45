/*
** skytile/gen.h — a synthetic multi-epoch survey, for demos, tests and
** benchmarks (no network, no external data).
**
** st_generate writes into `dir` (created; an existing non-empty dir is an
** error unless overwrite, which first removes the files a previous run
** wrote there):
**   objects.parquet     one row per object: object_id (int64, 1..N), ra, dec
**                       (float64 degrees, uniform on the sphere, or within
**                       the optional cone), mean_mag (float64, r band; a
**                       number-count law p(m) ~ 10^(0.3 m) on [14, 22]),
**                       is_variable (bool), period_days (log-uniform
**                       0.5..400), amplitude_mag (semi-amplitude, uniform
**                       0.1..1.0), phase (cycles, uniform 0..1); period,
**                       amplitude and phase are 0 for constant objects
**   detections/part-NNNNN.parquet   (or .csv)  one row per detection:
**                       source_id (int64, unique: object_id * n_epochs +
**                       epoch), object_id (int64), ra, dec (object position
**                       + Gaussian astrometric noise of
**                       astrometric_noise_arcsec per axis), mjd (float64),
**                       band (string), mag, mag_err, flux, flux_err
**                       (float64; flux in µJy = 10^((23.9 - mag) / 2.5), the
**                       AB zero point, from the noisy mag; flux_err = flux *
**                       mag_err * ln(10) / 2.5)
**   targets.csv         id,ra,dec of n_targets objects (variables first,
**                       then constant objects, each group brightest first:
**                       by mean_mag, then object_id), for light-curve
**                       extraction
** Epochs: n_epochs visits spread over `years` years in round(2 * years)
** seasons (at least 1, at most n_epochs; season s starts at MJD 58000 + s *
** years * 365.25 / n_seasons), each a block of visits about 1 day apart (at
** most a third of the season spacing in all), so seasons are separated by
** gaps of months, like NEOWISE.  Visit k observes band "g", "r", "i" in turn
** (k mod 3).  Each object is detected at each visit with probability
** detection_prob; a detection's mjd is its visit's time plus up to 0.01 day.
** True magnitude at time t in band b:
**     mean_mag + offset(b) + amplitude_mag * sin(2 pi (t / period_days + phase))
** with offset(g) = +0.4, offset(r) = 0, offset(i) = -0.25; the observed mag
** adds Gaussian noise of mag_err = sqrt(0.005^2 + (0.02 * 10^(0.4 (m - 20)))^2)
** (m the true magnitude).  Each object draws from its own random stream
** (xoshiro256** seeded by splitmix64 from seed and object_id), so the output
** is identical for a seed whatever the number of threads.
** Detection files hold whole objects, about rows_per_file detections each
** (object_id ranges in order: part-00000 has the first objects).  Files
** appear atomically (temporary name + rename).
*/
#ifndef SKYTILE_GEN_H
#define SKYTILE_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;

typedef struct st_gen_options {
  size_t struct_size;            /* sizeof(st_gen_options)                   */
  const char *dir;               /* output directory (required)              */
  int64_t n_objects;             /* default 10000                            */
  int n_epochs;                  /* visits (default 40)                      */
  double years;                  /* survey span (default 4)                  */
  double detection_prob;         /* default 0.9                              */
  double variable_fraction;      /* default 0.05                             */
  double astrometric_noise_arcsec; /* default 0.3                            */
  int n_targets;                 /* rows of targets.csv (default 20)         */
  bool cone;                     /* restrict objects to a cone:              */
  double cone_ra, cone_dec, cone_radius_deg;
  const char *detections_format; /* "parquet" (default) or "csv"             */
  int64_t rows_per_file;         /* about this many detections per file      */
                                 /* (default 1000000)                        */
  uint64_t seed;                 /* default 1                                */
  bool overwrite;
  int threads;                   /* <= 0: 1                                  */
} st_gen_options;

/* What a run wrote. */
typedef struct st_gen_stats {
  int64_t n_objects;             /* rows of objects.parquet                  */
  int64_t n_variables;           /* objects with is_variable                 */
  int64_t n_detections;          /* rows over all detection files            */
  int n_files;                   /* detection files                          */
  int n_targets;                 /* rows of targets.csv                      */
} st_gen_stats;

ST_API void st_gen_options_init(st_gen_options *o);
/* Generate the survey; stats may be NULL. */
ST_API int st_generate(const st_gen_options *o, struct st_error *err);
ST_API int st_generate_stats(const st_gen_options *o, st_gen_stats *stats, struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
