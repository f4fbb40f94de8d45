/*
** skytile/gen.h — a synthetic multi-epoch survey, for demos, tests and
** benchmarks (no network, no external data).
**
** st_generate writes into `dir` (created; an existing non-empty dir is an
** error unless overwrite):
**   objects.parquet     one row per object: object_id (int64), ra, dec
**                       (float64 degrees, uniform on the sphere, or within
**                       the optional cone), mean_mag (float64), is_variable
**                       (bool), period_days, amplitude_mag (float64; 0 for
**                       constant objects)
**   detections/part-NNNNN.parquet   (or .csv)  one row per detection:
**                       source_id (int64, unique), object_id (int64),
**                       ra, dec (object position + Gaussian astrometric
**                       noise of astrometric_noise_arcsec), mjd (float64),
**                       band (string, "g"/"r"/... cycling per epoch),
**                       mag, mag_err, flux, flux_err (float64; flux in
**                       µJy from mag via the AB zero point, noise added)
**   targets.csv         id,ra,dec of n_targets objects (variables first),
**                       for light-curve extraction
** Epochs: n_epochs visits spread over `years` years in seasons (each
** season a block of visits, with gaps of months between seasons, like
** NEOWISE); each object is detected at each visit with probability
** detection_prob.  Variables (a fraction variable_fraction of objects) vary
** sinusoidally with their period and amplitude.  Deterministic for a seed.
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
  int64_t rows_per_file;         /* detections per file (default 1000000)    */
  uint64_t seed;                 /* default 1                                */
  bool overwrite;
  int threads;                   /* <= 0: 1                                  */
} st_gen_options;

ST_API void st_gen_options_init(st_gen_options *o);
ST_API int st_generate(const st_gen_options *o, struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
