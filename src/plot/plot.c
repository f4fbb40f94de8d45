/*
** This file implements light-curve plots (skytile/plot.h) with cairo.
**
** Pipeline of st_plot_lightcurve:
**   1. extract   the time column and every y / err column of the row range
**                are converted to double arrays (any integer or float type,
**                dictionary-encoded numeric columns included); a null slot
**                becomes NaN.  A point is drawable when its time and value
**                are finite; an error bar is drawn when the err value is
**                finite and > 0.
**   2. epochs    the distinct times of drawable points are sorted; a gap
**                larger than gap_days starts a new epoch.  Each epoch is a
**                panel with its own x range; all panels share the y range
**                (min/max of value -/+ error over every drawable point,
**                padded 5%).  When the panels would be narrower than
**                ST_PLOT_MIN_PANEL_PX the plot falls back to one panel.
**   3. layout    (pixels, origin top-left)
**                  top     title line (when a title is given) + legend row
**                  left    y tick labels and the rotated y label
**                  bottom  x tick labels and the x label
**                  panels  equal widths, PANEL_GAP pixels apart, each framed
**                          by a 1-px black rectangle (so a plot with P panels
**                          has 2P vertical frame lines), labelled "epoch k"
**                          at its top-left corner when there are several.
**   4. ticks     "nice" steps 1, 2, 5 x 10^k aiming at one tick per ~50 px
**                (y) or ~90 px (x); the x step grows until the labels of a
**                panel do not overlap.  With `magnitude` the y axis runs
**                downwards (small values at the top).
**   5. draw      grid, error bars, markers (filled circles, one colour per
**                series from a 10-colour palette), frames, ticks, labels,
**                legend, title; "no data" in the middle of an empty plot.
**   6. write     cairo_surface_write_to_png_stream into an st_outfile, which
**                writes a temporary file and renames it into place, so the
**                PNG appears atomically or not at all.
** Every cairo object created here is destroyed before returning; the global
** caches that cairo and fontconfig keep (font faces, configuration) are
** released only by st_plot_cleanup, which callers may call once at exit.
** Degenerate data (one point, equal values, times near DBL_MAX) still maps
** to finite pixels: ranges are computed on halves and padded so that they
** never collapse, and a degenerate range maps to the middle.
*/
#include <cairo.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skytile.h"
#include "io/io.h"
#include "util/err.h"
#include "util/mem.h"

#define ST_PLOT_MIN_PANEL_PX 60.0  /* narrower epochs: one panel instead  */
#define PANEL_GAP 12.0             /* pixels between epoch panels         */
#define MAX_SERIES 64

/* tab10 palette (0..255). */
static const unsigned char PALETTE[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

void st_plot_options_init(st_plot_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->gap_days = 30;
  o->width = 1000;
  o->height = 500;
}

/* ---- 1. extraction -------------------------------------------------------- */

/* Rows [row0, row0+n) of column `name` as doubles (null -> NaN). */
static int column_doubles(const st_table *t, const char *name, const char *role, int64_t row0,
                          int64_t n, double *out, st_error *err) {
  int c = st_table_column_index(t, name);
  if (c < 0) return st_fail(err, ST_ERR_NOTFOUND, "plot: %s column '%s' not found", role, name);
  int rc = st_table_column_doubles(t, c, row0, n, out, err);
  if (rc) st_error_prefix(err, "plot: %s ", role);
  return rc;
}

/* ---- 4. ticks ------------------------------------------------------------- */

static double nice_step(double range, double target) {
  if (!(range > 0) || !isfinite(range)) return 1;
  double raw = range / (target < 1 ? 1 : target);
  double p = pow(10, floor(log10(raw)));
  double f = raw / p;
  double m = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return m * p;
}

/* Ticks k0*step .. (k0+n-1)*step within [lo, hi]; n = 0 when none, -1 when too many. */
static int tick_range(double lo, double hi, double step, double *k0) {
  double a = ceil(lo / step - 1e-9), b = floor(hi / step + 1e-9);
  *k0 = a;
  if (!isfinite(a) || !isfinite(b)) return 0;
  if (b - a > 1000) return -1;
  return b < a ? 0 : (int)(b - a) + 1;
}

static double next_step(double step) {
  double p = pow(10, floor(log10(step) + 1e-9));
  double f = step / p;
  return (f < 1.5 ? 2 : f < 3 ? 5 : 10) * p;
}

/* Tick label text for v at the given step. */
static void tick_label(double v, double step, char *buf, size_t cap) {
  if (fabs(v) < step * 1e-6) v = 0;
  double av = fabs(v);
  if ((av >= 1e7 || (av > 0 && av < 1e-4)) && step < av) {
    int digits = (int)ceil(log10(av / step) + 1e-9) + 1;  /* enough to tell ticks apart */
    snprintf(buf, cap, "%.*g", digits < 3 ? 3 : digits > 17 ? 17 : digits, v);
    return;
  }
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (dec > 12) dec = 12;
  snprintf(buf, cap, "%.*f", dec, v);
}

/* ---- drawing helpers ------------------------------------------------------ */

typedef struct pl_panel {
  double t_lo, t_hi;  /* time range of the epoch's points              */
  double x0, x1;      /* pixel extent of the panel                     */
  double v_lo, v_hi;  /* padded x range mapped onto x0..x1             */
} pl_panel;

/* Fraction of v along [lo, hi], computed on halves so that ranges near
   DBL_MAX do not overflow; 0.5 for a degenerate range. */
static double frac(double v, double lo, double hi) {
  double den = hi / 2 - lo / 2;
  if (!(den > 0) || !isfinite(den)) return 0.5;
  return (v / 2 - lo / 2) / den;
}

static double px_x(const pl_panel *p, double t) {
  return p->x0 + frac(t, p->v_lo, p->v_hi) * (p->x1 - p->x0);
}

typedef struct pl_yaxis {
  double lo, hi;      /* value range                                   */
  double y0, y1;      /* pixel rows: top, bottom                       */
  bool inverted;      /* magnitudes: lo at the top                     */
} pl_yaxis;

static double px_y(const pl_yaxis *a, double v) {
  double f = frac(v, a->lo, a->hi);
  return a->inverted ? a->y0 + f * (a->y1 - a->y0) : a->y1 - f * (a->y1 - a->y0);
}

static double crisp(double x) { return floor(x) + 0.5; }

static void set_rgb(cairo_t *cr, int k) {
  const unsigned char *c = PALETTE[k % 10];
  cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
}

static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  cairo_move_to(cr, x - e.x_bearing - ax * e.width, y - e.y_bearing - ay * e.height);
  cairo_show_text(cr, s);
}

static double text_width(cairo_t *cr, const char *s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  return e.x_advance;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* PNG output into an st_outfile. */
typedef struct png_sink {
  st_outfile *out;    /* temporary file, renamed into place at commit  */
  st_error *err;      /* where a write error is reported               */
  int rc;             /* first write error (then cairo stops writing)  */
} png_sink;

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len) {
  png_sink *s = closure;
  if (s->rc) return CAIRO_STATUS_WRITE_ERROR;
  s->rc = st_outfile_write(s->out, data, len, s->err);
  return s->rc ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* ---- the plot ------------------------------------------------------------- */

typedef struct pl_data {
  int64_t n;          /* rows                                          */
  int n_y;            /* series                                        */
  double *t;          /* n times                                       */
  double *y;          /* n_y * n values (series-major)                 */
  double *e;          /* n_y * n errors (NaN: none)                    */
} pl_data;

static bool drawable(const pl_data *d, int s, int64_t i) {
  return isfinite(d->t[i]) && isfinite(d->y[(int64_t)s * d->n + i]);
}

static void draw_plot(cairo_t *cr, const pl_data *d, const st_plot_options *o, pl_panel *panels,
                      int n_panels, bool empty, cairo_font_face_t *font, cairo_font_face_t *bold) {
  double W = o->width, H = o->height;
  /* background */
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  double title_h = (o->title && o->title[0]) ? 30 : 8;
  double legend_h = 22;
  double top = title_h + legend_h, bottom = 52, left = 80, right = 18;
  double area_x0 = left, area_x1 = W - right;
  pl_yaxis ya = {0, 1, top, H - bottom, o->magnitude};

  /* y range over drawable points (value -/+ error) */
  if (!empty) {
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < d->n_y; s++)
      for (int64_t i = 0; i < d->n; i++) {
        if (!drawable(d, s, i)) continue;
        double v = d->y[(int64_t)s * d->n + i], e = d->e[(int64_t)s * d->n + i];
        if (!(isfinite(e) && e > 0 && isfinite(v - e) && isfinite(v + e))) e = 0;
        if (v - e < lo) lo = v - e;
        if (v + e > hi) hi = v + e;
      }
    double half = hi / 2 - lo / 2;   /* no overflow near DBL_MAX */
    if (!(half > 0)) half = fabs(lo) > 0 ? fabs(lo) * 0.05 : 0.5;
    ya.lo = lo - 0.1 * half;
    ya.hi = hi + 0.1 * half;
    if (!isfinite(ya.lo)) ya.lo = lo;
    if (!isfinite(ya.hi)) ya.hi = hi;
    if (!(ya.hi > ya.lo)) ya.lo = lo - fmax(1, fabs(lo) * 1e-6), ya.hi = hi + fmax(1, fabs(hi) * 1e-6);
  }

  /* panels: pixel extents and padded x ranges */
  double pw = (area_x1 - area_x0 - PANEL_GAP * (n_panels - 1)) / n_panels;
  for (int p = 0; p < n_panels; p++) {
    pl_panel *P = &panels[p];
    P->x0 = area_x0 + p * (pw + PANEL_GAP);
    P->x1 = P->x0 + pw;
    double half = P->t_hi / 2 - P->t_lo / 2;
    double pad = half > 0 ? 0.16 * half : 0.5;
    P->v_lo = P->t_lo - pad;
    P->v_hi = P->t_hi + pad;
    if (!isfinite(P->v_lo)) P->v_lo = P->t_lo;
    if (!isfinite(P->v_hi)) P->v_hi = P->t_hi;
    if (!(P->v_hi > P->v_lo)) {  /* a single time too large for a 0.5-day pad */
      P->v_lo = P->t_lo - fmax(0.5, fabs(P->t_lo) * 1e-6);
      P->v_hi = P->t_hi + fmax(0.5, fabs(P->t_hi) * 1e-6);
    }
  }

  /* y ticks and grid */
  cairo_set_font_face(cr, font);
  cairo_set_font_size(cr, 11);
  double ystep = nice_step(ya.hi - ya.lo, (ya.y1 - ya.y0) / 50);
  double ymaxw = 0;
  cairo_set_line_width(cr, 1);
  double yk0;
  int nyt = tick_range(ya.lo, ya.hi, ystep, &yk0);
  for (int k = 0; k < nyt; k++) {
    double v = (yk0 + k) * ystep;
    double y = crisp(px_y(&ya, v));
    char lab[64];
    tick_label(v, ystep, lab, sizeof lab);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    for (int p = 0; p < n_panels; p++) {
      cairo_move_to(cr, panels[p].x0, y);
      cairo_line_to(cr, panels[p].x1, y);
    }
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int p = 0; p < n_panels; p++) {
      cairo_move_to(cr, panels[p].x0, y);
      cairo_line_to(cr, panels[p].x0 + 5, y);
    }
    cairo_stroke(cr);
    text_at(cr, lab, area_x0 - 6, y, 1.0, 0.5);
    double w = text_width(cr, lab);
    if (w > ymaxw) ymaxw = w;
  }

  /* x ticks per panel: the step grows until the labels fit, but not so far
     that the panel is left without a tick (overlapping labels are skipped
     when drawn) */
  for (int p = 0; p < n_panels; p++) {
    pl_panel *P = &panels[p];
    double span = P->v_hi - P->v_lo, wpx = P->x1 - P->x0, k0_;
    double step = nice_step(span, wpx / 90);
    while (tick_range(P->v_lo, P->v_hi, step, &k0_) == 0 && step > span * 1e-6)
      step = nice_step(step / 2, 1);
    for (int guard = 0; guard < 40; guard++) {
      double maxw = 0, k0;
      int count = tick_range(P->v_lo, P->v_hi, step, &k0);
      for (int k = 0; k < count; k++) {
        double v = (k0 + k) * step;
        char lab[64];
        tick_label(v, step, lab, sizeof lab);
        double w = text_width(cr, lab);
        if (w > maxw) maxw = w;
      }
      if (count >= 0 && (count <= 1 || maxw + 10 <= step / span * wpx)) break;
      if (count > 0 && tick_range(P->v_lo, P->v_hi, next_step(step), &k0) == 0) break;
      step = next_step(step);
    }
    double k0, last_end = -1e9;
    int nxt = tick_range(P->v_lo, P->v_hi, step, &k0);
    for (int k = 0; k < nxt; k++) {
      double v = (k0 + k) * step;
      double x = crisp(px_x(P, v));
      char lab[64];
      tick_label(v, step, lab, sizeof lab);
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      cairo_move_to(cr, x, ya.y0);
      cairo_line_to(cr, x, ya.y1);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      cairo_move_to(cr, x, ya.y1);
      cairo_line_to(cr, x, ya.y1 - 5);
      cairo_stroke(cr);
      /* the label is centred on its tick but kept within the panel's width
         (the outer margins allowed), and skipped if it would touch the
         previous one */
      double w = text_width(cr, lab), lx = x - w / 2;
      double lo = P->x0 - (p > 0 ? 0 : 40), hi = P->x1 + (p < n_panels - 1 ? 0 : 16);
      if (lx < lo) lx = lo;
      if (lx + w > hi) lx = hi - w;
      if (lx < lo || lx < last_end + 6) continue;
      text_at(cr, lab, lx, ya.y1 + 6, 0.0, 0.0);
      last_end = lx + w;
    }
  }

  /* data: error bars then markers, clipped to their panel */
  double radius = H < 340 ? 2.5 : 3.5;
  if (!empty) {
    for (int p = 0; p < n_panels; p++) {
      pl_panel *P = &panels[p];
      cairo_save(cr);
      cairo_rectangle(cr, P->x0, ya.y0, P->x1 - P->x0, ya.y1 - ya.y0);
      cairo_clip(cr);
      for (int s = 0; s < d->n_y; s++) {
        const double *ys = d->y + (int64_t)s * d->n, *es = d->e + (int64_t)s * d->n;
        set_rgb(cr, s);
        cairo_set_line_width(cr, 1.2);
        int pending = 0;
        for (int64_t i = 0; i < d->n; i++) {
          if (!drawable(d, s, i) || d->t[i] < P->t_lo || d->t[i] > P->t_hi) continue;
          if (!(isfinite(es[i]) && es[i] > 0)) continue;
          double x = px_x(P, d->t[i]);
          cairo_move_to(cr, x, px_y(&ya, ys[i] - es[i]));
          cairo_line_to(cr, x, px_y(&ya, ys[i] + es[i]));
          if (++pending == 512) cairo_stroke(cr), pending = 0;
        }
        cairo_stroke(cr);
      }
      for (int s = 0; s < d->n_y; s++) {
        const double *ys = d->y + (int64_t)s * d->n;
        set_rgb(cr, s);
        int pending = 0;
        for (int64_t i = 0; i < d->n; i++) {
          if (!drawable(d, s, i) || d->t[i] < P->t_lo || d->t[i] > P->t_hi) continue;
          double x = px_x(P, d->t[i]), y = px_y(&ya, ys[i]);
          cairo_new_sub_path(cr);
          cairo_arc(cr, x, y, radius, 0, 2 * M_PI);
          if (++pending == 512) cairo_fill(cr), pending = 0;
        }
        cairo_fill(cr);
      }
      cairo_restore(cr);
    }
  }

  /* frames and epoch labels */
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  for (int p = 0; p < n_panels; p++) {
    double x0 = crisp(panels[p].x0), x1 = crisp(panels[p].x1);
    cairo_rectangle(cr, x0, crisp(ya.y0), x1 - x0, crisp(ya.y1) - crisp(ya.y0));
  }
  cairo_stroke(cr);
  if (n_panels > 1) {
    cairo_set_font_size(cr, 10);
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    for (int p = 0; p < n_panels; p++) {
      char lab[32];
      snprintf(lab, sizeof lab, "epoch %d", p + 1);
      if (text_width(cr, lab) + 8 < panels[p].x1 - panels[p].x0)
        text_at(cr, lab, panels[p].x0 + 4, ya.y0 + 4, 0.0, 0.0);
    }
  }

  /* axis labels */
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, 12);
  const char *xl = o->x_label ? o->x_label : o->time_column;
  text_at(cr, xl, (area_x0 + area_x1) / 2, H - 8, 0.5, 1.0);
  const char *yl = o->y_label ? o->y_label : (o->n_y == 1 ? o->y_columns[0] : "value");
  char ylab[256];
  snprintf(ylab, sizeof ylab, "%s%s", yl, o->magnitude ? " (inverted)" : "");
  cairo_save(cr);
  double ylx = area_x0 - 6 - ymaxw - 10;
  if (ylx < 14) ylx = 14;
  cairo_translate(cr, ylx, (ya.y0 + ya.y1) / 2);
  cairo_rotate(cr, -M_PI / 2);
  text_at(cr, ylab, 0, 0, 0.5, 1.0);
  cairo_restore(cr);

  /* legend: one row above the panels, right-aligned */
  cairo_set_font_size(cr, 11);
  double lw = 0;
  for (int s = 0; s < d->n_y; s++) lw += 2 * radius + 6 + text_width(cr, o->y_columns[s]) + 16;
  double lx = area_x1 - lw, ly = title_h + legend_h / 2;
  if (lx < area_x0) lx = area_x0;
  for (int s = 0; s < d->n_y; s++) {
    set_rgb(cr, s);
    cairo_new_sub_path(cr);
    cairo_arc(cr, lx + radius, ly, radius + 0.5, 0, 2 * M_PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, o->y_columns[s], lx + 2 * radius + 6, ly, 0.0, 0.5);
    lx += 2 * radius + 6 + text_width(cr, o->y_columns[s]) + 16;
  }

  /* title */
  if (o->title && o->title[0]) {
    cairo_set_font_face(cr, bold);
    cairo_set_font_size(cr, 15);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, o->title, W / 2, 8, 0.5, 0.0);
  }
  if (empty) {
    cairo_set_font_face(cr, font);
    cairo_set_font_size(cr, 18);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    text_at(cr, "no data", (area_x0 + area_x1) / 2, (ya.y0 + ya.y1) / 2, 0.5, 0.5);
  }
}

/* Split the sorted distinct drawable times into epochs (panels). */
static int make_panels(const pl_data *d, double gap, double area_px, pl_panel **out, int *n_out,
                       bool *empty, st_error *err) {
  double *ts = st_malloc((size_t)(d->n ? d->n : 1) * sizeof *ts);
  if (!ts) return st_fail(err, ST_ERR_NOMEM, "plot: out of memory");
  int64_t m = 0;
  for (int64_t i = 0; i < d->n; i++) {
    bool any = false;
    for (int s = 0; s < d->n_y && !any; s++) any = drawable(d, s, i);
    if (any) ts[m++] = d->t[i];
  }
  *empty = m == 0;
  int np = 1;
  if (m > 1) qsort(ts, (size_t)m, sizeof *ts, cmp_double);
  if (m > 1 && gap > 0)
    for (int64_t i = 1; i < m; i++)
      if (ts[i] - ts[i - 1] > gap) np++;
  int max_panels = (int)((area_px + PANEL_GAP) / (ST_PLOT_MIN_PANEL_PX + PANEL_GAP));
  bool split = np > 1 && np <= max_panels;
  if (!split) np = 1;
  pl_panel *P = st_calloc((size_t)np, sizeof *P);
  if (!P) {
    st_free(ts);
    return st_fail(err, ST_ERR_NOMEM, "plot: out of memory");
  }
  if (m == 0) {
    P[0].t_lo = 0, P[0].t_hi = 1;
  } else {
    int p = 0;
    P[0].t_lo = ts[0];
    for (int64_t i = 1; i < m; i++)
      if (split && ts[i] - ts[i - 1] > gap) {
        P[p].t_hi = ts[i - 1];
        P[++p].t_lo = ts[i];
      }
    P[p].t_hi = ts[m - 1];
  }
  st_free(ts);
  *out = P;
  *n_out = np;
  return 0;
}

int st_plot_lightcurve(const st_table *t, long long row0, long long nrows, const st_plot_options *o,
                       const char *png_path, st_error *err) {
  ST_CHECK(t && o && png_path, err, ST_ERR_INVALID, "plot: missing table, options or output path");
  ST_CHECK(o->struct_size >= sizeof *o, err, ST_ERR_INVALID,
           "plot: options struct_size %zu is too small (init with st_plot_options_init)",
           o->struct_size);
  ST_CHECK(o->time_column, err, ST_ERR_INVALID, "plot: no time column given");
  ST_CHECK(o->n_y >= 1 && o->n_y <= MAX_SERIES && o->y_columns, err, ST_ERR_INVALID,
           "plot: need 1 to %d y columns, got %d", MAX_SERIES, o->n_y);
  for (int s = 0; s < o->n_y; s++)
    ST_CHECK(o->y_columns[s], err, ST_ERR_INVALID, "plot: y column %d is NULL", s);
  st_plot_options opt = *o;
  if (opt.width == 0) opt.width = 1000;
  if (opt.height == 0) opt.height = 500;
  ST_CHECK(opt.width >= 200 && opt.width <= 16384 && opt.height >= 150 && opt.height <= 16384, err,
           ST_ERR_INVALID, "plot: size %dx%d out of range (200..16384 x 150..16384)", opt.width,
           opt.height);
  ST_CHECK(row0 >= 0 && row0 <= t->n_rows, err, ST_ERR_INVALID,
           "plot: first row %lld outside the table (%lld rows)", row0, (long long)t->n_rows);
  if (nrows < 0) nrows = t->n_rows - row0;
  ST_CHECK(nrows <= t->n_rows - row0, err, ST_ERR_INVALID,
           "plot: rows %lld..%lld outside the table (%lld rows)", row0, row0 + nrows,
           (long long)t->n_rows);

  pl_data d = {nrows, opt.n_y, NULL, NULL, NULL};
  size_t nd;
  if (!st_mul_ok((size_t)nrows + 1, (size_t)(1 + 2 * opt.n_y) * sizeof(double), &nd))
    return st_fail(err, ST_ERR_NOMEM, "plot: too many rows");
  double *mem = st_malloc(nd);
  if (!mem) return st_fail(err, ST_ERR_NOMEM, "plot: out of memory");
  d.t = mem;
  d.y = mem + nrows;
  d.e = d.y + (int64_t)opt.n_y * nrows;
  int rc = column_doubles(t, opt.time_column, "time", row0, nrows, d.t, err);
  for (int s = 0; !rc && s < opt.n_y; s++) {
    rc = column_doubles(t, opt.y_columns[s], "y", row0, nrows, d.y + (int64_t)s * nrows, err);
    const char *ec = opt.err_columns ? opt.err_columns[s] : NULL;
    double *es = d.e + (int64_t)s * nrows;
    if (!rc && ec && ec[0]) rc = column_doubles(t, ec, "error", row0, nrows, es, err);
    else
      for (int64_t i = 0; i < nrows; i++) es[i] = NAN;
  }
  pl_panel *panels = NULL;
  int n_panels = 0;
  bool empty = true;
  if (!rc)
    rc = make_panels(&d, opt.gap_days, opt.width - 98, &panels, &n_panels, &empty, err);
  if (rc) {
    st_free(mem);
    return rc;
  }

  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, opt.width, opt.height);
  cairo_t *cr = cairo_create(surf);
  cairo_font_face_t *font =
      cairo_toy_font_face_create("sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_font_face_t *bold =
      cairo_toy_font_face_create("sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
    rc = st_fail(err, ST_ERR_NOMEM, "plot: cairo: %s", cairo_status_to_string(cairo_status(cr)));
  } else {
    draw_plot(cr, &d, &opt, panels, n_panels, empty, font, bold);
    cairo_surface_flush(surf);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
      rc = st_fail(err, ST_ERR_INVALID, "plot: drawing failed: %s",
                   cairo_status_to_string(cairo_status(cr)));
  }
  cairo_destroy(cr);
  cairo_font_face_destroy(font);
  cairo_font_face_destroy(bold);
  if (!rc) {
    png_sink sink = {NULL, err, 0};
    rc = st_outfile_open(png_path, &sink.out, err);
    if (!rc) {
      cairo_status_t cs = cairo_surface_write_to_png_stream(surf, png_write, &sink);
      if (sink.rc) rc = sink.rc;
      else if (cs != CAIRO_STATUS_SUCCESS)
        rc = st_fail(err, ST_ERR_IO, "%s: writing PNG: %s", png_path, cairo_status_to_string(cs));
      if (rc) st_outfile_abort(sink.out);
      else rc = st_outfile_commit(sink.out, err);
    }
  }
  cairo_surface_destroy(surf);
  st_free(panels);
  st_free(mem);
  return rc;
}

/* cairo's caches, then fontconfig's configuration (FcFini, looked up at run
   time since we do not link fontconfig directly). */
void st_plot_cleanup(void) {
  cairo_debug_reset_static_data();
  void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
  if (fc_fini) fc_fini();
}
