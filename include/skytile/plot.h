/*
** skytile/plot.h — light-curve plots as PNG files (cairo).
**
** st_plot_lightcurve draws the rows of a table (one target's detections) as
** value vs time: one series per y column (e.g. one per band: w1flux,
** w2flux), distinct colours and a legend, error bars when an error column is
** given, axes with ticks and labels, a title.  When the time series has gaps
** longer than gap_days, the plot is split into one panel per epoch (a run of
** times without such a gap), side by side, sharing the y axis, each with its
** own x range — the layout of the IRSA NEOWISE light-curve notebook.
** Magnitudes (magnitude = true) are drawn with the y axis inverted.
** Rows whose time or value is null/NaN are skipped.  A table with no
** drawable points still gives a PNG (empty axes, "no data").
** The PNG is written atomically (temp file + rename).
**
** Columns may be of any integer or floating-point type (dictionary-encoded
** too); values are converted to double.  Series colours follow matplotlib's
** "tab10" cycle (#1f77b4, #ff7f0e, #2ca02c, ...); markers are filled circles,
** error bars vertical lines of the same colour.  Panels narrower than 60 px
** (too many epochs for the width) fall back to a single panel.
** Errors: a missing column is ST_ERR_NOTFOUND and a non-numeric one
** ST_ERR_SCHEMA ("plot: y column 'band' is string, not numeric"); bad options
** or rows ST_ERR_INVALID (size must be 200..16384 x 150..16384, 1..64 y
** columns); failure to write ST_ERR_IO.  Nothing is left at png_path on
** error.  Thread-safe: distinct calls may run concurrently (cairo is).
*/
#ifndef SKYTILE_PLOT_H
#define SKYTILE_PLOT_H

#include <stddef.h>
#include <stdbool.h>

#ifndef ST_API
#define ST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct st_error;
struct st_table;

typedef struct st_plot_options {
  size_t struct_size;            /* sizeof(st_plot_options)                  */
  const char *time_column;       /* x (required), any numeric column         */
  const char *const *y_columns;  /* series, numeric (required, >= 1)         */
  const char *const *err_columns;/* parallel to y_columns; NULL or NULL      */
                                 /* entries: no error bars                   */
  int n_y;
  const char *title;             /* NULL: none                               */
  const char *x_label;           /* NULL: time_column                        */
  const char *y_label;           /* NULL: the y column when n_y == 1, else   */
                                 /* "value"                                  */
  double gap_days;               /* epoch split (default 30; <= 0: never)    */
  bool magnitude;                /* invert the y axis                        */
  int width, height;             /* pixels (default 1000 x 500)              */
} st_plot_options;

ST_API void st_plot_options_init(st_plot_options *o);

/* Draw rows [row0, row0+nrows) of t (nrows < 0: to the end) to png_path. */
ST_API int st_plot_lightcurve(const struct st_table *t, long long row0, long long nrows,
                              const st_plot_options *o, const char *png_path,
                              struct st_error *err);

/*
** Release the global caches of cairo (font faces, scaled fonts) and
** fontconfig's configuration that plotting filled.  Optional: call it once
** before exit, when no thread is plotting, to keep leak checkers (valgrind,
** LeakSanitizer) quiet.  Plotting again afterwards works, but fontconfig
** then re-reads its configuration and a second cleanup leaks ~1 KB.
*/
ST_API void st_plot_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
