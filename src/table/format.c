/*
** This file implements value formatting (st_format_value) and the CSV and
** JSON Lines writers declared in skytile/table.h; the text forms are
** documented there.
**
** Writers work in batches of ST_FMT_BATCH rows.  For each column the batch's
** cells are formatted into one per-column text buffer (cell i is
** text[off[i] .. off[i+1]), with a null flag), with the type dispatch done
** once per column for the common scalar types; then the rows are interleaved
** into one output buffer (adding CSV quoting or JSON keys) and written with a
** single fwrite.  No allocation per value: buffers grow geometrically and are
** reused across batches.
**
** Floating point: the shortest decimal that reads back (strtod/strtof) to the
** same value, found among %.15g/%.16g/%.17g (float: %.6g..%.9g) and their
** one-unit neighbours (see fmt_shortest), printed in %g style.  Uses the C locale's
** decimal point: callers must not switch LC_NUMERIC.  Decimals: two's complement
** little-endian 128/256-bit integers converted with 32-bit limb division by
** 10^9.  Dates: days -> proleptic Gregorian civil date with 400-year eras
** (valid for every int64 day count used here).  Formatting assumes a valid
** array (st_array_validate for untrusted data).
*/
#include "table/table_int.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_FMT_BATCH 1024

/* ---- st_text ---------------------------------------------------------------- */

void st_text_free(st_text *t) {
  if (!t) return;
  free(t->data);
  t->data = NULL;
  t->len = t->cap = 0;
}

static int tx_reserve(st_text *t, size_t extra) {
  if (t->len + extra + 1 <= t->cap) return ST_OK;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < t->len + extra + 1) {
    if (cap > SIZE_MAX / 2) return ST_ERR_NOMEM;
    cap *= 2;
  }
  char *p = realloc(t->data, cap);
  if (!p) return ST_ERR_NOMEM;
  t->data = p;
  t->cap = cap;
  return ST_OK;
}

/* Unchecked appends: callers reserve first. */
static inline void tx_c(st_text *t, char c) { t->data[t->len++] = c; }
static inline void tx_s(st_text *t, const char *s, size_t n) {
  memcpy(t->data + t->len, s, n);
  t->len += n;
}
static inline void tx_z(st_text *t) {
  if (t->data) t->data[t->len] = 0;
}

/* ---- scalars -------------------------------------------------------------------- */

static size_t fmt_u64(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
  return (size_t)n;
}

static size_t fmt_i64(char *p, int64_t v) {
  if (v < 0) {
    p[0] = '-';
    return 1 + fmt_u64(p + 1, (uint64_t)0 - (uint64_t)v);
  }
  return fmt_u64(p, (uint64_t)v);
}

/* Renders the decimal d1.d2d3... x 10^x (nd digits) the way printf's %.{P}g would. */
static size_t render_g(char *p, bool neg, const char *dig, int nd, int x, int P) {
  size_t n = 0;
  if (neg) p[n++] = '-';
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  if (x < -4 || x >= P) {
    p[n++] = dig[0];
    if (nd > 1) {
      p[n++] = '.';
      memcpy(p + n, dig + 1, (size_t)nd - 1);
      n += (size_t)nd - 1;
    }
    n += (size_t)sprintf(p + n, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
  } else if (x >= 0) {
    for (int i = 0; i <= x; i++) p[n++] = i < nd ? dig[i] : '0';
    if (nd > x + 1) {
      p[n++] = '.';
      for (int i = x + 1; i < nd; i++) p[n++] = dig[i];
    }
  } else {
    p[n++] = '0';
    p[n++] = '.';
    for (int i = 0; i < -x - 1; i++) p[n++] = '0';
    memcpy(p + n, dig, (size_t)nd);
    n += (size_t)nd;
  }
  p[n] = 0;
  return n;
}

static bool reads_back(const char *s, double v, bool f32) {
  return f32 ? strtof(s, NULL) == (float)v : strtod(s, NULL) == v;
}

/*
** Shortest round-tripping text of a finite double (f32: of a float); returns its length.
** For each precision the nearest decimal (%.{prec}g) is tried, then its two
** neighbours: just above a power of two the gap below is half the gap above, so
** the nearest decimal may fail while a neighbour reads back.  Any decimal of
** fewer than 15 (float: 6) digits that reads back is the nearest one at 15 digits
** with zeros stripped (the grid is coarser than half an ulp), so normal numbers
** start there; subnormals start from one digit.
*/
static size_t fmt_shortest_slow(char *p, double v, bool f32) {
  double av = fabs(v);
  int lo = f32 ? (av < FLT_MIN ? 1 : 6) : (av < DBL_MIN ? 1 : 15);
  int hi = f32 ? 9 : 17;
  char e[64], cand[64], dig[32];
  for (int prec = lo; prec < hi; prec++) {
    int n = snprintf(p, 40, "%.*g", prec, v);
    if (reads_back(p, v, f32)) return (size_t)n;
    snprintf(e, sizeof e, "%.*e", prec - 1, av);
    uint64_t m = 0;
    const char *q = e;
    for (; *q && *q != 'e'; q++)
      if (*q >= '0' && *q <= '9') m = m * 10 + (uint64_t)(*q - '0');
    int x = *q ? atoi(q + 1) : 0;
    for (int d = -1; d <= 1; d += 2) {
      uint64_t m2 = m + (uint64_t)(int64_t)d;
      if (m2 == 0) continue;
      snprintf(cand, sizeof cand, "%llue%d", (unsigned long long)m2, x - prec + 1);
      if (!reads_back(cand, av, f32)) continue;
      int nd = snprintf(dig, sizeof dig, "%llu", (unsigned long long)m2);
      return render_g(p, signbit(v) != 0, dig, nd, x + (nd - prec), prec);
    }
  }
  return (size_t)snprintf(p, 40, "%.*g", hi, v);
}

/* 10^k in long double for |k| <= 400, built once (powl is accurate to about one ulp). */
#define P10_MAX 400
static long double g_p10[2 * P10_MAX + 1];
static pthread_once_t g_p10_once = PTHREAD_ONCE_INIT;
static void p10_init(void) {
  for (int k = -P10_MAX; k <= P10_MAX; k++) g_p10[k + P10_MAX] = powl(10.0L, (long double)k);
}

/*
** Does the decimal c * 10^e read back to av (a normal, positive, non-power-of-two
** value with `mbits` significand bits, so its rounding interval is av +- ulp/2)?
** Long double evaluation errs by about 2^-62 relative, i.e. under 2^-9 ulp of av;
** within 1/64 ulp of the interval's edge (including exact ties) strtod/strtof
** decides.  Returns true when it reads back.
*/
static bool dec_reads_back(uint64_t c, int e, double av, int ex, bool f32) {
  long double x = (long double)c * g_p10[e + P10_MAX];
  long double r = fabsl(x - (long double)av) / ldexpl(1.0L, ex - (f32 ? 24 : 53));
  if (fabsl(r - 0.5L) > 1.0L / 64) return r < 0.5L;
  char cand[48];
  snprintf(cand, sizeof cand, "%llue%d", (unsigned long long)c, e);
  return reads_back(cand, av, f32);
}

/*
** Fast path for normal numbers that are not powers of two (symmetric rounding
** gaps, so at each precision P only the decimal nearest to v can read back):
** the P leading digits are computed as av * 10^(P-1-X) in long double; when
** its fraction is within the product's error bound of .5, printf's correctly
** rounded digits are used instead.  Each candidate is verified by dec_reads_back.
** Zero, subnormals, powers of two and anything undecided take the printf path.
*/
static size_t fmt_shortest(char *p, double v, bool f32) {
  double av = fabs(v);
  int ex;
  if (!(av >= (f32 ? FLT_MIN : DBL_MIN)) || frexp(av, &ex) == 0.5) return fmt_shortest_slow(p, v, f32);
  pthread_once(&g_p10_once, p10_init);
  int lo = f32 ? 6 : 15, hi = f32 ? 9 : 17;
  int X = (int)floor(log10(av));
  long double m = (long double)av * g_p10[lo - 1 - X + P10_MAX];
  if (m >= g_p10[lo + P10_MAX]) X++;
  else if (m < g_p10[lo - 1 + P10_MAX]) X--;
  char dig[32];
  for (int P = lo; P <= hi; P++) {
    int e = X - (P - 1);
    m = (long double)av * g_p10[-e + P10_MAX];
    if (!(m >= 0 && m < 1e19L)) break;
    uint64_t c0 = (uint64_t)m;
    long double fr = m - (long double)c0;
    uint64_t cand[2];
    int nc = 0;
    if (fabsl(fr - 0.5L) <= m * 0x1p-59L) { /* the product errs by < m * 2^-61: */
      char e10[48];                            /* let printf round correctly */
      snprintf(e10, sizeof e10, "%.*e", P - 1, av);
      uint64_t c = 0;
      for (const char *q = e10; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') c = c * 10 + (uint64_t)(*q - '0');
      int x10 = atoi(strchr(e10, 'e') + 1);
      if (x10 != X) break;                     /* rounded up to 10^P: rare, slow path */
      cand[nc++] = c;
    } else {
      cand[nc++] = fr < 0.5L ? c0 : c0 + 1;
    }
    for (int k = 0; k < nc; k++) {
      if (!cand[k] || !dec_reads_back(cand[k], e, av, ex, f32)) continue;
      int nd = snprintf(dig, sizeof dig, "%llu", (unsigned long long)cand[k]);
      return render_g(p, signbit(v) != 0, dig, nd, e + nd - 1, P);
    }
  }
  return fmt_shortest_slow(p, v, f32);
}

static size_t fmt_double_finite(char *p, double v) { return fmt_shortest(p, v, false); }
static size_t fmt_float_finite(char *p, float v) { return fmt_shortest(p, (double)v, true); }

/* Non-finite forms: CSV nan/inf/-inf; JSON strings. */
static size_t fmt_nonfinite(char *p, double v, int style) {
  const char *s;
  if (isnan(v)) s = style == ST_FMT_JSON ? "\"NaN\"" : "nan";
  else if (v > 0) s = style == ST_FMT_JSON ? "\"Infinity\"" : "inf";
  else s = style == ST_FMT_JSON ? "\"-Infinity\"" : "-inf";
  size_t n = strlen(s);
  memcpy(p, s, n);
  return n;
}

static size_t fmt_double(char *p, double v, int style) {
  return isfinite(v) ? fmt_double_finite(p, v) : fmt_nonfinite(p, v, style);
}

/* Decimal: nbytes (16/32) little-endian two's complement, scale.  Needs up to 80 + |scale| chars. */
static int fmt_decimal(st_text *t, const uint8_t *p, int nbytes, int scale) {
  uint32_t limb[8];
  int nl = nbytes / 4;
  memcpy(limb, p, (size_t)nbytes);
  bool neg = limb[nl - 1] >> 31;
  if (neg) {
    uint64_t carry = 1;
    for (int i = 0; i < nl; i++) {
      uint64_t x = (uint64_t)(uint32_t)~limb[i] + carry;
      limb[i] = (uint32_t)x;
      carry = x >> 32;
    }
  }
  char rev[96];
  int nd = 0;
  int top = nl;
  while (top > 0 && !limb[top - 1]) top--;
  while (top > 0) {
    uint64_t rem = 0;
    for (int i = top - 1; i >= 0; i--) {
      uint64_t cur = (rem << 32) | limb[i];
      limb[i] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    for (int k = 0; k < 9; k++) {
      rev[nd++] = (char)('0' + rem % 10);
      rem /= 10;
    }
    while (top > 0 && !limb[top - 1]) top--;
  }
  while (nd > 1 && rev[nd - 1] == '0') nd--;
  if (nd == 0) rev[nd++] = '0';
  bool zero = nd == 1 && rev[0] == '0';
  size_t absscale = (size_t)(scale < 0 ? -(int64_t)scale : scale);
  if (tx_reserve(t, 100 + absscale)) return ST_ERR_NOMEM;
  if (neg && !zero) tx_c(t, '-');
  if (scale <= 0) {
    for (int i = nd - 1; i >= 0; i--) tx_c(t, rev[i]);
    if (!zero)
      for (size_t i = 0; i < absscale; i++) tx_c(t, '0');
  } else if (nd > scale) {
    for (int i = nd - 1; i >= scale; i--) tx_c(t, rev[i]);
    tx_c(t, '.');
    for (int i = scale - 1; i >= 0; i--) tx_c(t, rev[i]);
  } else {
    tx_s(t, "0.", 2);
    for (int i = 0; i < scale - nd; i++) tx_c(t, '0');
    for (int i = nd - 1; i >= 0; i--) tx_c(t, rev[i]);
  }
  return ST_OK;
}

/* Days since 1970-01-01 -> proleptic Gregorian y/m/d. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;                                     /* [0, 146096] */
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399]    */
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365]    */
  int64_t mp = (5 * doy + 2) / 153;                                   /* [0, 11]     */
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static size_t fmt_date(char *p, int64_t days) {
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  int n;
  if (y < 0) n = snprintf(p, 40, "-%04lld-%02d-%02d", -(long long)y, m, d);
  else n = snprintf(p, 40, "%04lld-%02d-%02d", (long long)y, m, d);
  return (size_t)n;
}

static const int64_t g_per_sec[4] = {1, 1000, 1000000, 1000000000};
static const int g_frac_digits[4] = {0, 3, 6, 9};

static size_t fmt_hms(char *p, int64_t sod, int64_t frac, st_time_unit u) {
  int n = snprintf(p, 40, "%02d:%02d:%02d", (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
  if (u != ST_SECOND) n += snprintf(p + n, 40, ".%0*lld", g_frac_digits[u], (long long)frac);
  return (size_t)n;
}

static size_t fmt_timestamp(char *p, int64_t v, st_time_unit u, bool utc) {
  int64_t per = g_per_sec[u];
  int64_t frac = v % per, secs = v / per;
  if (frac < 0) {
    frac += per;
    secs -= 1;
  }
  int64_t days = secs / 86400, sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  size_t n = fmt_date(p, days);
  p[n++] = 'T';
  n += fmt_hms(p + n, sod, frac, u);
  if (utc) p[n++] = 'Z';
  return n;
}

static size_t fmt_time(char *p, int64_t v, st_time_unit u) {
  int64_t per = g_per_sec[u];
  if (v < 0 || v / per >= 86400) return fmt_i64(p, v);
  return fmt_hms(p, v / per, v % per, u);
}

static int fmt_hex(st_text *t, const uint8_t *p, size_t n, bool quote) {
  static const char hx[] = "0123456789abcdef";
  if (tx_reserve(t, 2 * n + 2)) return ST_ERR_NOMEM;
  if (quote) tx_c(t, '"');
  for (size_t i = 0; i < n; i++) {
    tx_c(t, hx[p[i] >> 4]);
    tx_c(t, hx[p[i] & 15]);
  }
  if (quote) tx_c(t, '"');
  return ST_OK;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 when invalid. */
static int utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0;
    if (c == 0xed && s[1] > 0x9f) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80) return 0;
    if (c == 0xf0 && s[1] < 0x90) return 0;
    if (c == 0xf4 && s[1] > 0x8f) return 0;
    return 4;
  }
  return 0;
}

static int fmt_json_string(st_text *t, const uint8_t *s, size_t n) {
  if (tx_reserve(t, 6 * n + 2)) return ST_ERR_NOMEM;
  static const char hx[] = "0123456789abcdef";
  tx_c(t, '"');
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\') j++;
    if (j > i) {
      tx_s(t, (const char *)s + i, j - i);
      i = j;
      if (i >= n) break;
    }
    uint8_t c = s[i];
    if (c >= 0x80) {
      int l = utf8_len(s + i, n - i);
      if (l) {
        tx_s(t, (const char *)s + i, (size_t)l);
        i += (size_t)l;
      } else {
        tx_s(t, "\\ufffd", 6);
        i++;
      }
      continue;
    }
    tx_c(t, '\\');
    switch (c) {
    case '"': tx_c(t, '"'); break;
    case '\\': tx_c(t, '\\'); break;
    case '\n': tx_c(t, 'n'); break;
    case '\r': tx_c(t, 'r'); break;
    case '\t': tx_c(t, 't'); break;
    case '\b': tx_c(t, 'b'); break;
    case '\f': tx_c(t, 'f'); break;
    default:
      tx_s(t, "u00", 3);
      tx_c(t, hx[c >> 4]);
      tx_c(t, hx[c & 15]);
    }
    i++;
  }
  tx_c(t, '"');
  return ST_OK;
}

/* ---- values ------------------------------------------------------------------- */

static int fmt_rec(const st_field *f, const st_array *a, int64_t row, int style, st_text *t, int depth);

/* Appends a scalar held in a fixed-width layout; `quote` wraps string-like forms for JSON. */
static int fmt_fixed(const st_field *f, const st_array *a, int64_t row, int style, st_text *t) {
  int64_t j = a->offset + row;
  const uint8_t *b = a->buf[1];
  bool json = style == ST_FMT_JSON;
  if (tx_reserve(t, 128)) return ST_ERR_NOMEM;
  char *p = t->data + t->len;
  size_t n = 0;
  switch (f->type) {
  case ST_T_INT8: n = fmt_i64(p, ((const int8_t *)b)[j]); break;
  case ST_T_INT16: n = fmt_i64(p, ((const int16_t *)b)[j]); break;
  case ST_T_INT32: n = fmt_i64(p, ((const int32_t *)b)[j]); break;
  case ST_T_INT64: n = fmt_i64(p, ((const int64_t *)b)[j]); break;
  case ST_T_UINT8: n = fmt_u64(p, b[j]); break;
  case ST_T_UINT16: n = fmt_u64(p, ((const uint16_t *)b)[j]); break;
  case ST_T_UINT32: n = fmt_u64(p, ((const uint32_t *)b)[j]); break;
  case ST_T_UINT64: n = fmt_u64(p, ((const uint64_t *)b)[j]); break;
  case ST_T_DURATION: n = fmt_i64(p, ((const int64_t *)b)[j]); break;
  case ST_T_FLOAT16: n = fmt_double(p, st_half_to_double(((const uint16_t *)b)[j]), style); break;
  case ST_T_FLOAT: {
    float v = ((const float *)b)[j];
    n = isfinite(v) ? fmt_float_finite(p, v) : fmt_nonfinite(p, v, style);
    break;
  }
  case ST_T_DOUBLE: n = fmt_double(p, ((const double *)b)[j], style); break;
  case ST_T_DECIMAL128: case ST_T_DECIMAL256: {
    int w = f->type == ST_T_DECIMAL128 ? 16 : 32;
    return fmt_decimal(t, b + (size_t)j * (size_t)w, w, f->scale);
  }
  case ST_T_FIXED_BINARY:
    return fmt_hex(t, b + (size_t)j * (size_t)f->byte_width, (size_t)f->byte_width, json);
  case ST_T_DATE32: case ST_T_DATE64: case ST_T_TIME32: case ST_T_TIME64: case ST_T_TIMESTAMP: {
    char *q = p + json;
    int64_t v;
    switch (f->type) {
    case ST_T_DATE32: n = fmt_date(q, ((const int32_t *)b)[j]); break;
    case ST_T_DATE64: {
      v = ((const int64_t *)b)[j];
      int64_t days = v / 86400000;
      if (v % 86400000 < 0) days--;
      n = fmt_date(q, days);
      break;
    }
    case ST_T_TIME32: n = fmt_time(q, ((const int32_t *)b)[j], f->unit); break;
    case ST_T_TIME64: n = fmt_time(q, ((const int64_t *)b)[j], f->unit); break;
    default: n = fmt_timestamp(q, ((const int64_t *)b)[j], f->unit, f->tz && f->tz[0]); break;
    }
    if (json) {
      p[0] = '"';
      p[n + 1] = '"';
      n += 2;
    }
    break;
  }
  default: return ST_ERR_UNSUPPORTED;
  }
  t->len += n;
  return ST_OK;
}

static int fmt_rec(const st_field *f, const st_array *a, int64_t row, int style, st_text *t, int depth) {
  if (depth > ST_TAB_MAX_DEPTH) return ST_ERR_LIMIT;
  bool json = style == ST_FMT_JSON;
  st_layout l = st_tab_layout(f);
  if (l == ST_L_NULL || !st_array_is_valid(a, row)) {
    if (json) {
      if (tx_reserve(t, 4)) return ST_ERR_NOMEM;
      tx_s(t, "null", 4);
    }
    return ST_OK;
  }
  int64_t j = a->offset + row;
  if (f->dict_encoded) {
    int32_t ix = ((const int32_t *)a->buf[1])[j];
    st_field vf = *f;
    vf.dict_encoded = false;
    if (ix < 0 || ix >= a->dictionary->length) return ST_ERR_CORRUPT;
    return fmt_rec(&vf, a->dictionary, ix, style, t, depth + 1);
  }
  switch (l) {
  case ST_L_BOOL: {
    if (tx_reserve(t, 5)) return ST_ERR_NOMEM;
    if (st_bit_get(a->buf[1], j)) tx_s(t, "true", 4);
    else tx_s(t, "false", 5);
    return ST_OK;
  }
  case ST_L_FIXED: return fmt_fixed(f, a, row, style, t);
  case ST_L_VAR32: case ST_L_VAR64: {
    bool wide = l == ST_L_VAR64;
    int64_t s = st_tab_off(a, wide, row), e = st_tab_off(a, wide, row + 1);
    const uint8_t *d = a->buf[2] + s;
    size_t n = (size_t)(e - s);
    if (f->type == ST_T_BINARY || f->type == ST_T_LARGE_BINARY) return fmt_hex(t, d, n, json);
    if (json) return fmt_json_string(t, d, n);
    if (tx_reserve(t, n)) return ST_ERR_NOMEM;
    tx_s(t, (const char *)d, n);
    return ST_OK;
  }
  case ST_L_LIST32: case ST_L_LIST64: case ST_L_FIXLIST: {
    int64_t s, e;
    if (l == ST_L_FIXLIST) {
      s = j * f->byte_width;
      e = s + f->byte_width;
    } else {
      s = st_tab_off(a, l == ST_L_LIST64, row);
      e = st_tab_off(a, l == ST_L_LIST64, row + 1);
    }
    const st_array *c = a->children[0];
    if (tx_reserve(t, 2)) return ST_ERR_NOMEM;
    tx_c(t, '[');
    for (int64_t k = s; k < e; k++) {
      if (k > s) {
        if (tx_reserve(t, 1)) return ST_ERR_NOMEM;
        tx_c(t, ',');
      }
      if (f->type == ST_T_MAP) {
        const st_field *ef = &f->children[0];
        int64_t ej = c->offset + k;
        if (tx_reserve(t, 8)) return ST_ERR_NOMEM;
        tx_s(t, "{\"key\":", 7);
        ST_TRY(fmt_rec(&ef->children[0], c->children[0], ej, ST_FMT_JSON, t, depth + 2));
        if (tx_reserve(t, 10)) return ST_ERR_NOMEM;
        tx_s(t, ",\"value\":", 9);
        ST_TRY(fmt_rec(&ef->children[1], c->children[1], ej, ST_FMT_JSON, t, depth + 2));
        if (tx_reserve(t, 1)) return ST_ERR_NOMEM;
        tx_c(t, '}');
      } else {
        ST_TRY(fmt_rec(&f->children[0], c, k, ST_FMT_JSON, t, depth + 1));
      }
    }
    if (tx_reserve(t, 1)) return ST_ERR_NOMEM;
    tx_c(t, ']');
    return ST_OK;
  }
  case ST_L_STRUCT: {
    if (tx_reserve(t, 2)) return ST_ERR_NOMEM;
    tx_c(t, '{');
    for (int i = 0; i < f->n_children; i++) {
      const char *nm = f->children[i].name ? f->children[i].name : "";
      if (i) {
        if (tx_reserve(t, 1)) return ST_ERR_NOMEM;
        tx_c(t, ',');
      }
      ST_TRY(fmt_json_string(t, (const uint8_t *)nm, strlen(nm)));
      if (tx_reserve(t, 1)) return ST_ERR_NOMEM;
      tx_c(t, ':');
      ST_TRY(fmt_rec(&f->children[i], a->children[i], j, ST_FMT_JSON, t, depth + 1));
    }
    if (tx_reserve(t, 1)) return ST_ERR_NOMEM;
    tx_c(t, '}');
    return ST_OK;
  }
  default: return ST_ERR_UNSUPPORTED;
  }
}

int st_format_value(const st_field *f, const st_array *a, int64_t row, int style, st_text *out, st_error *err) {
  ST_CHECK(row >= 0 && row < a->length, err, ST_ERR_INVALID, "format: row %lld outside array of length %lld",
           (long long)row, (long long)a->length);
  ST_CHECK(style == ST_FMT_TEXT || style == ST_FMT_JSON, err, ST_ERR_INVALID, "format: unknown style %d", style);
  int rc = fmt_rec(f, a, row, style, out, 0);
  tx_z(out);
  if (rc == ST_ERR_NOMEM) return st_fail(err, rc, "format: out of memory");
  if (rc) return st_fail(err, rc, "format: column '%s': cannot format %s value", f->name ? f->name : "",
                         st_type_name(f->type));
  return ST_OK;
}

/* ---- writers ------------------------------------------------------------------ */

typedef struct colbuf {
  st_text txt;          /* the batch's cells, concatenated        */
  size_t *off;          /* ST_FMT_BATCH+1 cell boundaries          */
  uint8_t *null;        /* ST_FMT_BATCH null flags                 */
  bool may_quote;       /* CSV: cells may need quoting             */
} colbuf;

/* Formats rows [r0, r1) of a column into cb; columnar loops for common scalars. */
static int fmt_column(const st_field *f, const st_array *a, int64_t r0, int64_t r1, int style, colbuf *cb) {
  st_text *t = &cb->txt;
  t->len = 0;
  int64_t n = r1 - r0;
  for (int64_t i = 0; i < n; i++) cb->null[i] = !st_array_is_valid(a, r0 + i);
  if (f->dict_encoded && a->dictionary->buf[0]) /* a null dictionary entry is a null too */
    for (int64_t i = 0; i < n; i++)
      if (!cb->null[i])
        cb->null[i] = !st_array_is_valid(a->dictionary, ((const int32_t *)a->buf[1])[a->offset + r0 + i]);
  bool json = style == ST_FMT_JSON;
  if (!f->dict_encoded && (f->type == ST_T_DOUBLE || f->type == ST_T_INT64 || f->type == ST_T_INT32 ||
                           f->type == ST_T_FLOAT)) {
    if (tx_reserve(t, (size_t)n * 40)) return ST_ERR_NOMEM;
    const uint8_t *b = a->buf[1];
    for (int64_t i = 0; i < n; i++) {
      cb->off[i] = t->len;
      int64_t j = a->offset + r0 + i;
      char *p = t->data + t->len;
      if (cb->null[i]) {
        if (json) {
          memcpy(p, "null", 4);
          t->len += 4;
        }
        continue;
      }
      switch (f->type) {
      case ST_T_DOUBLE: t->len += fmt_double(p, ((const double *)b)[j], style); break;
      case ST_T_INT64: t->len += fmt_i64(p, ((const int64_t *)b)[j]); break;
      case ST_T_INT32: t->len += fmt_i64(p, ((const int32_t *)b)[j]); break;
      default: {
        float v = ((const float *)b)[j];
        t->len += isfinite(v) ? fmt_float_finite(p, v) : fmt_nonfinite(p, v, style);
      }
      }
    }
    cb->off[n] = t->len;
    return ST_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    cb->off[i] = t->len;
    ST_TRY(fmt_rec(f, a, r0 + i, style, t, 0));
  }
  cb->off[n] = t->len;
  return ST_OK;
}

static bool csv_needs_quote(const char *s, size_t n) {
  if (n == 0) return true;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == ',' || c == '"' || c == '\n' || c == '\r') return true;
  }
  return false;
}

static int csv_cell(st_text *o, const char *s, size_t n, bool may_quote) {
  if (!may_quote || !csv_needs_quote(s, n)) {
    if (tx_reserve(o, n)) return ST_ERR_NOMEM;
    tx_s(o, s, n);
    return ST_OK;
  }
  if (tx_reserve(o, 2 * n + 2)) return ST_ERR_NOMEM;
  tx_c(o, '"');
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') tx_c(o, '"');
    tx_c(o, s[i]);
  }
  tx_c(o, '"');
  return ST_OK;
}

static int write_out(FILE *fp, st_text *o, st_error *err) {
  if (o->len && fwrite(o->data, 1, o->len, fp) != o->len)
    return st_fail(err, ST_ERR_IO, "write: %s", strerror(errno ? errno : EIO));
  o->len = 0;
  return ST_OK;
}

static int write_table(const st_table *t, FILE *fp, bool csv, bool header, st_error *err) {
  ST_CHECK(t->n_columns == t->schema.n_children, err, ST_ERR_INVALID, "write: table has %d columns but %d fields",
           t->n_columns, t->schema.n_children);
  int nc = t->n_columns;
  int rc = ST_OK;
  st_text out = {0};
  st_text keys = {0};                  /* JSON: "\"name\":" per column, concatenated */
  size_t *koff = calloc((size_t)nc + 1, sizeof(size_t));
  colbuf *cb = calloc((size_t)(nc ? nc : 1), sizeof(colbuf));
  if (!koff || !cb) goto oom;
  for (int c = 0; c < nc; c++) {
    const st_field *f = &t->schema.children[c];
    cb[c].off = malloc((ST_FMT_BATCH + 1) * sizeof(size_t));
    cb[c].null = malloc(ST_FMT_BATCH);
    if (!cb[c].off || !cb[c].null) goto oom;
    st_layout l = st_tab_layout(f);
    cb[c].may_quote = f->dict_encoded || l == ST_L_LIST32 || l == ST_L_LIST64 || l == ST_L_FIXLIST ||
                      l == ST_L_STRUCT || l == ST_L_VAR32 || l == ST_L_VAR64;
    const char *nm = f->name ? f->name : "";
    koff[c] = keys.len;
    if (!csv) {
      if (fmt_json_string(&keys, (const uint8_t *)nm, strlen(nm)) || tx_reserve(&keys, 1)) goto oom;
      tx_c(&keys, ':');
    }
  }
  koff[nc] = keys.len;
  if (csv && header) {
    for (int c = 0; c < nc; c++) {
      const char *nm = t->schema.children[c].name ? t->schema.children[c].name : "";
      if (c && tx_reserve(&out, 1)) goto oom;
      if (c) tx_c(&out, ',');
      if (csv_cell(&out, nm, strlen(nm), true)) goto oom;
    }
    if (tx_reserve(&out, 1)) goto oom;
    tx_c(&out, '\n');
  }
  for (int64_t r0 = 0; r0 < t->n_rows; r0 += ST_FMT_BATCH) {
    int64_t r1 = r0 + ST_FMT_BATCH < t->n_rows ? r0 + ST_FMT_BATCH : t->n_rows;
    for (int c = 0; c < nc; c++) {
      rc = fmt_column(&t->schema.children[c], t->columns[c], r0, r1, csv ? ST_FMT_TEXT : ST_FMT_JSON, &cb[c]);
      if (rc == ST_ERR_NOMEM) goto oom;
      if (rc) {
        rc = st_fail(err, rc, "write: column '%s': cannot format its values",
                     t->schema.children[c].name ? t->schema.children[c].name : "");
        goto done;
      }
    }
    for (int64_t i = 0; i < r1 - r0; i++) {
      if (!csv) {
        if (tx_reserve(&out, 1)) goto oom;
        tx_c(&out, '{');
      }
      for (int c = 0; c < nc; c++) {
        const char *s = cb[c].txt.data + cb[c].off[i];
        size_t n = cb[c].off[i + 1] - cb[c].off[i];
        if (tx_reserve(&out, 1 + (csv ? 0 : koff[c + 1] - koff[c]))) goto oom;
        if (c) tx_c(&out, ',');
        if (csv) {
          if (!cb[c].null[i] && csv_cell(&out, s, n, cb[c].may_quote)) goto oom;
        } else {
          tx_s(&out, keys.data + koff[c], koff[c + 1] - koff[c]);
          if (tx_reserve(&out, n)) goto oom;
          tx_s(&out, s, n);
        }
      }
      if (tx_reserve(&out, 2)) goto oom;
      if (!csv) tx_c(&out, '}');
      tx_c(&out, '\n');
    }
    if ((rc = write_out(fp, &out, err))) goto done;
  }
  rc = write_out(fp, &out, err);
  if (!rc && fflush(fp)) rc = st_fail(err, ST_ERR_IO, "write: %s", strerror(errno));
  goto done;
oom:
  rc = st_fail(err, ST_ERR_NOMEM, "write: out of memory");
done:
  if (cb)
    for (int c = 0; c < nc; c++) {
      st_text_free(&cb[c].txt);
      free(cb[c].off);
      free(cb[c].null);
    }
  free(cb);
  free(koff);
  st_text_free(&keys);
  st_text_free(&out);
  return rc;
}

int st_table_write_csv(const st_table *t, FILE *fp, bool header, st_error *err) {
  return write_table(t, fp, true, header, err);
}

int st_table_write_jsonl(const st_table *t, FILE *fp, st_error *err) { return write_table(t, fp, false, false, err); }

static int write_path(const st_table *t, const char *path, bool csv, bool header, bool append, st_error *err) {
  FILE *fp = fopen(path, append ? "ab" : "wb");
  if (!fp) return st_fail(err, ST_ERR_IO, "%s: %s", path, strerror(errno));
  int rc = write_table(t, fp, csv, header, err);
  if (fclose(fp) && !rc) rc = st_fail(err, ST_ERR_IO, "%s: %s", path, strerror(errno));
  else if (rc) st_error_prefix(err, "%s: ", path);
  return rc;
}

int st_table_write_csv_path(const st_table *t, const char *path, bool header, bool append, st_error *err) {
  return write_path(t, path, true, header, append, err);
}

int st_table_write_jsonl_path(const st_table *t, const char *path, bool append, st_error *err) {
  return write_path(t, path, false, false, append, err);
}
