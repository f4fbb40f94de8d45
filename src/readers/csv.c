/*
** This file implements the delimited-text plug-in (csv, tsv, psv) of the
** input readers.
**
** Layers:
**   source     bytes of the file: plain read(), gzip (zlib, concatenated
**              members), or the single member of a .zip (stored or raw
**              deflate).  Can be reset to the start (used after inference).
**   buffer     a growable window [pos, len) of decompressed bytes; records
**              never straddle a refill: an incomplete record at the end is
**              moved to the front and more bytes are read.
**   tokenizer  splits up to K records into field descriptors (start, length,
**              flags: quoted / has doubled quotes) in flat arrays; no copy and
**              no allocation per field; unquoted fields end at the first
**              delimiter/CR/LF found 16 bytes at a time (SSE2).  Doubled quotes are removed in place
**              only when the field is converted (so a record re-tokenized after
**              a refill is never seen half-unescaped).
**   columns    each needed column is converted for the K records in one tight
**              loop into its accumulator (values, validity bytes, string
**              offsets/bytes); a batch finishes the accumulators into arrays.
** Numbers: integers by hand (overflow checked); doubles: the digits are read
** 8 at a time (SWAR) into a <= 19-significant-digit mantissa, then Clinger's
** exact fast path (mantissa < 2^53, |exp| <= 22), else one x87 operation
** whose double rounding is checked, else strtod (glibc rounds correctly) —
** so values equal Python's float() on the same text.  Null strings are
** rejected by a (first byte, length) bitmap before any comparison.
** Small regular files get buffers and field slots sized from the file size
** (the many-tiny-files case).
** Type inference classifies fields (bool / int64 / double / string) over the
** first rows (or the whole file: in parts on options.infer_threads threads,
** see infer_all_rows), then the source is reset and parsed for real.  With
** options.hats_import_types (the import) the types are those of hats-import's
** pandas reader: inferred strings are LARGE_STRING (built with int64
** offsets), an integer column holding a null is DOUBLE.
** Parts (options.part/n_parts, the import's parallel map of one big file):
** a part seeks to its byte range and reads the records that start in it,
** recording where it started and stopped so that the caller can check that
** the ranges met at real record starts (seek_part, st_input_part_seam).
*/
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "readers/readers_int.h"

/* ---- source ------------------------------------------------------------------ */

enum { SRC_PLAIN, SRC_GZIP, SRC_ZIP_DEFLATE, SRC_ZIP_STORED };

typedef struct csv_src {
  const char *path;
  int fd;
  int kind;
  z_stream z;               /* gzip / deflate state                     */
  bool z_init;
  uint8_t *in;              /* compressed input buffer                   */
  size_t in_cap;
  bool in_eof;              /* no more bytes in the file                 */
  bool done;                /* stream finished                           */
  uint64_t consumed;        /* file bytes read                           */
  uint64_t member_left;     /* zip: compressed bytes left in the member  */
  uint64_t data_off;        /* zip: offset of the member's data          */
  uint64_t member_size;     /* zip: compressed size (UINT64_MAX: unknown) */
} csv_src;

static int src_read_raw(csv_src *s, uint8_t *dst, size_t cap, size_t *got, st_error *err) {
  *got = 0;
  while (cap) {
    ssize_t r = read(s->fd, dst, cap);
    if (r < 0) {
      if (errno == EINTR) continue;
      return st_fail(err, ST_ERR_IO, "read error: %s", strerror(errno));
    }
    if (r == 0) {
      s->in_eof = true;
      break;
    }
    *got += (size_t)r;
    s->consumed += (uint64_t)r;
    break;
  }
  return 0;
}

static int src_zip_header(csv_src *s, st_error *err) {
  uint8_t h[30];
  size_t got = 0, g;
  while (got < 30) {
    ST_TRY(src_read_raw(s, h + got, 30 - got, &g, err));
    if (!g) break;
    got += g;
  }
  ST_SAFETY(got == 30 && h[0] == 'P' && h[1] == 'K' && h[2] == 3 && h[3] == 4, err,
            "zip: no local file header at the start");
  unsigned flags = h[6] | h[7] << 8, method = h[8] | h[9] << 8;
  uint64_t csize = (uint64_t)h[18] | (uint64_t)h[19] << 8 | (uint64_t)h[20] << 16 | (uint64_t)h[21] << 24;
  unsigned nlen = h[26] | h[27] << 8, xlen = h[28] | h[29] << 8;
  ST_CHECK(!(flags & 1), err, ST_ERR_UNSUPPORTED, "zip: encrypted members are not supported");
  ST_CHECK(method == 0 || method == 8, err, ST_ERR_UNSUPPORTED,
           "zip: compression method %u is not supported (only stored and deflate)", method);
  ST_CHECK(method == 8 || !(flags & 8), err, ST_ERR_UNSUPPORTED,
           "zip: stored member with a data descriptor is not supported");
  ST_CHECK(csize != 0xffffffffu, err, ST_ERR_UNSUPPORTED, "zip64 archives are not supported yet");
  if (lseek(s->fd, (off_t)(30 + nlen + xlen), SEEK_SET) < 0)
    return st_fail(err, ST_ERR_IO, "zip: seek failed: %s", strerror(errno));
  s->data_off = 30 + nlen + xlen;
  s->member_left = (flags & 8) ? UINT64_MAX : csize;
  s->member_size = s->member_left;
  s->kind = method == 8 ? SRC_ZIP_DEFLATE : SRC_ZIP_STORED;
  return 0;
}

static void src_close(csv_src *s) {
  if (s->z_init) inflateEnd(&s->z);
  s->z_init = false;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  free(s->in);
  s->in = NULL;
}

static int src_open(csv_src *s, const char *path, st_error *err) {
  memset(s, 0, sizeof *s);
  s->path = path;
  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  uint8_t m[4] = {0};
  ssize_t r = pread(s->fd, m, 4, 0);
  if (r < 0) return st_fail(err, ST_ERR_IO, "%s: read error: %s", path, strerror(errno));
  s->kind = SRC_PLAIN;
  if (r >= 2 && m[0] == 0x1f && m[1] == 0x8b) s->kind = SRC_GZIP;
  else if (r == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4) ST_TRY(src_zip_header(s, err));
  if (s->kind != SRC_PLAIN) {
    s->in_cap = 1 << 20;
    s->in = malloc(s->in_cap);
    ST_CHECK(s->in, err, ST_ERR_NOMEM, "out of memory");
    int zr = inflateInit2(&s->z, s->kind == SRC_GZIP ? 15 + 32 : -15);
    ST_CHECK(zr == Z_OK, err, ST_ERR_NOMEM, "zlib init failed");
    s->z_init = true;
    s->z.avail_in = 0;
  }
  return 0;
}

static int src_reset(csv_src *s, st_error *err) {
  const char *p = s->path;
  src_close(s);
  return src_open(s, p, err);
}

static int src_read(csv_src *s, uint8_t *dst, size_t cap, size_t *got, st_error *err) {
  *got = 0;
  if (s->done || !cap) return 0;
  if (s->kind == SRC_PLAIN) {
    ST_TRY(src_read_raw(s, dst, cap, got, err));
    if (!*got) s->done = true;
    return 0;
  }
  if (s->kind == SRC_ZIP_STORED) {
    if (s->member_left < cap) cap = (size_t)s->member_left;
    if (!cap) {
      s->done = true;
      uint8_t sig[4];
      if (pread(s->fd, sig, 4, (off_t)(s->data_off + s->member_size)) == 4 && sig[0] == 'P' && sig[1] == 'K' &&
          sig[2] == 3 && sig[3] == 4)
        return st_fail(err, ST_ERR_UNSUPPORTED, "zip archives with several members are not supported yet");
      return 0;
    }
    ST_TRY(src_read_raw(s, dst, cap, got, err));
    ST_SAFETY(*got, err, "zip: member truncated (unexpected end of file)");
    s->member_left -= *got;
    return 0;
  }
  s->z.next_out = dst;
  s->z.avail_out = (uInt)(cap > (1u << 30) ? (1u << 30) : cap);
  while (s->z.avail_out == (uInt)(cap > (1u << 30) ? (1u << 30) : cap)) {
    if (s->z.avail_in == 0 && !s->in_eof) {
      size_t want = s->in_cap, g;
      if (s->kind == SRC_ZIP_DEFLATE && s->member_left < want) want = (size_t)s->member_left;
      if (want) {
        ST_TRY(src_read_raw(s, s->in, want, &g, err));
        if (s->kind == SRC_ZIP_DEFLATE && s->member_left != UINT64_MAX) s->member_left -= g;
      } else {
        g = 0;
        s->in_eof = true;
      }
      s->z.next_in = s->in;
      s->z.avail_in = (uInt)g;
    }
    uInt before_in = s->z.avail_in;
    int zr = inflate(&s->z, Z_NO_FLUSH);
    if (zr == Z_STREAM_END) {
      if (s->kind == SRC_GZIP) {
        /* another member may follow */
        if (s->z.avail_in == 0 && !s->in_eof) {
          size_t g;
          ST_TRY(src_read_raw(s, s->in, s->in_cap, &g, err));
          s->z.next_in = s->in;
          s->z.avail_in = (uInt)g;
        }
        if (s->z.avail_in == 0) {
          s->done = true;
          break;
        }
        if (s->z.next_in[0] != 0x1f) {  /* trailing garbage/padding: ignore, as gzip */
          s->done = true;
          break;
        }
        inflateReset(&s->z);
        continue;
      }
      /* zip: the single member ended; another one is not supported */
      s->done = true;
      uint8_t sig[4];
      if (s->member_size != UINT64_MAX && pread(s->fd, sig, 4, (off_t)(s->data_off + s->member_size)) == 4 &&
          sig[0] == 'P' && sig[1] == 'K' && sig[2] == 3 && sig[3] == 4)
        return st_fail(err, ST_ERR_UNSUPPORTED, "zip archives with several members are not supported yet");
      break;
    }
    if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT)
      return st_fail(err, ST_ERR_CORRUPT, "%s stream: corrupt data (%s)", s->kind == SRC_GZIP ? "gzip" : "zip",
                     s->z.msg ? s->z.msg : "invalid");
    if (zr == Z_MEM_ERROR) return st_fail(err, ST_ERR_NOMEM, "zlib: out of memory");
    if (zr == Z_BUF_ERROR || (zr == Z_OK && before_in == s->z.avail_in && s->z.avail_in == 0)) {
      if (s->in_eof && s->z.avail_in == 0)
        return st_fail(err, ST_ERR_CORRUPT, "%s stream: truncated (unexpected end of file)",
                       s->kind == SRC_GZIP ? "gzip" : "zip");
    }
  }
  *got = (size_t)(s->z.next_out - dst);
  return 0;
}

/* ---- numbers --------------------------------------------------------------------- */

static inline void trim(const uint8_t **p, size_t *n) {
  while (*n && (**p == ' ' || **p == '\t')) (*p)++, (*n)--;
  while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t')) (*n)--;
}

static inline bool parse_i64(const uint8_t *p, size_t n, int64_t *out) {
  trim(&p, &n);
  if (!n) return false;
  bool neg = false;
  if (*p == '-' || *p == '+') {
    neg = *p == '-';
    p++, n--;
    if (!n) return false;
  }
  uint64_t v = 0;
  if (n > 20) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)p[i] - '0';
    if (d > 9) return false;
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return false;
    *out = (int64_t)(0 - v);
  } else {
    if (v > (uint64_t)INT64_MAX) return false;
    *out = (int64_t)v;
  }
  return true;
}

static inline bool parse_u64(const uint8_t *p, size_t n, uint64_t *out) {
  trim(&p, &n);
  if (n && *p == '+') p++, n--;
  if (!n || n > 20) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)p[i] - '0';
    if (d > 9 || v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool word_eq(const uint8_t *p, size_t n, const char *w) {
  return strlen(w) == n && !strncasecmp((const char *)p, w, n);
}

/* The exact double m * 10^e10 from at most 19 significant digits m, without
** strtod when possible: Clinger's fast path (m < 2^53, |e10| <= 22: one
** correctly rounded IEEE operation on exact operands), else on x86-64 one
** x87 operation (see below).  False: the caller must use strtod. */
static inline bool f64_exact(uint64_t m, long e10, bool neg, double *out) {
  if (m < (1ull << 53) && e10 >= -22 && e10 <= 22) {
    double d = (double)m;
    d = e10 < 0 ? d / pow10_tab[-e10] : d * pow10_tab[e10];
    *out = neg ? -d : d;
    return true;
  }
#if LDBL_MANT_DIG == 64 && defined(__x86_64__)
  /* 16-19 digits: one correctly rounded x87 operation (m and 10^k, k <= 27,
     are exact in a 64-bit mantissa), then the rounding to double is exact
     unless the 64-bit result lies within 1 unit of a halfway point between
     two doubles (low 11 bits 0x3ff..0x401): then strtod decides.  Results
     are >= 1e-27 and < 1e47: never subnormal or infinite. */
  if (e10 >= -27 && e10 <= 27) {
    static const long double p10l[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                         1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                         1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
    long double x = (long double)m;
    x = e10 < 0 ? x / p10l[-e10] : x * p10l[e10];
    uint64_t mant;
    memcpy(&mant, &x, 8);
    unsigned low = (unsigned)(mant & 0x7ff);
    if (m == 0 || low < 0x3ff || low > 0x401) {
      double d = (double)x;
      *out = neg ? -d : d;
      return true;
    }
  }
#endif
  return false;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ST_CSV_SWAR 1
/* Eight bytes (first byte lowest) that are all ASCII digits. */
static inline bool swar_8digits(uint64_t v) {
  return (((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ==
          0x3333333333333333ull);
}
/* Their value: pairs, then pairs of pairs, combined by two multiplications. */
static inline uint64_t swar_8value(uint64_t v) {
  v -= 0x3030303030303030ull;
  v = v * 10 + (v >> 8);  /* bytes 0,2,4,6: two-digit values */
  return (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
          (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
}
#endif

/* Digits at p[*i..n) appended to *m (*nd significant digits so far, at most
** 19); false when a 20th significant digit comes (the caller falls back). */
static inline bool fast_digits(const uint8_t *p, size_t n, size_t *i, uint64_t *m, int *nd) {
  size_t k = *i;
  uint64_t v = *m;
  int d = *nd;
#ifdef ST_CSV_SWAR
  while (d <= 11 && k + 8 <= n) {
    uint64_t w;
    memcpy(&w, p + k, 8);
    if (!swar_8digits(w)) break;
    v = v * 100000000u + swar_8value(w);
    d += 8;  /* callers skip leading zeros: every digit here is significant */
    k += 8;
  }
#endif
  for (; k < n && (unsigned)(p[k] - '0') <= 9; k++) {
    if (d >= 19) return false;
    v = v * 10 + (unsigned)(p[k] - '0');
    d++;
  }
  *i = k, *m = v, *nd = d;
  return true;
}

/* An optional exponent "e[+-]digits" at p[*i]: advances *i, sets *e (saturating at 100000).
   False on "e" without digits. */
static inline bool parse_exponent(const uint8_t *p, size_t n, size_t *i, long *e) {
  size_t j = *i;
  if (j >= n || (p[j] != 'e' && p[j] != 'E')) return true;
  j++;
  bool eneg = false;
  if (j < n && (p[j] == '-' || p[j] == '+')) eneg = p[j] == '-', j++;
  if (j >= n || (unsigned)(p[j] - '0') > 9) return false;
  long v = 0;
  for (; j < n && (unsigned)(p[j] - '0') <= 9; j++)
    if (v < 100000) v = v * 10 + (p[j] - '0');
  *e = eneg ? -v : v;
  *i = j;
  return true;
}

/* The common case without strtod or per-digit branches: [sign] digits [.
** digits] [e [sign] digits], no blanks, at most 19 significant digits, a
** result f64_exact can give.  False: not handled here (may still be valid). */
static inline bool fast_f64(const uint8_t *p, size_t n, double *out, bool check_only) {
  size_t i = 0;
  bool neg = false;
  if (n && (p[0] == '-' || p[0] == '+')) neg = p[0] == '-', i = 1;
  size_t s = i;
  while (i < n && p[i] == '0') i++;  /* leading zeros are not significant */
  uint64_t m = 0;
  int nd = 0, frac = 0;
  if (!fast_digits(p, n, &i, &m, &nd)) return false;
  bool digits = i > s;
  if (i < n && p[i] == '.') {
    i++;
    size_t f0 = i;
    if (!m)
      while (i < n && p[i] == '0') i++;
    if (!fast_digits(p, n, &i, &m, &nd)) return false;
    frac = (int)(i - f0);
    digits |= i > f0;
  }
  if (!digits) return false;
  long e = 0;
  if (!parse_exponent(p, n, &i, &e)) return false;
  if (i != n) return false;
  if (check_only) return true;
  return f64_exact(m, e - frac, neg, out);
}

/* Index of the first non-digit at or after i (8 bytes at a time). */
static inline size_t skip_digits(const uint8_t *p, size_t n, size_t i) {
#ifdef ST_CSV_SWAR
  while (i + 8 <= n) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (!swar_8digits(w)) break;
    i += 8;
  }
#endif
  while (i < n && (unsigned)(p[i] - '0') <= 9) i++;
  return i;
}

/* Inference's check of the plain decimal syntax [sign] digits [. digits]
** [e [sign] digits], any number of digits, no blanks: true when p[0..n)
** has it (then it is a valid Python float).  False: not this form (blanks,
** inf/nan, or invalid: parse_f64_ decides). */
static inline bool plain_decimal(const uint8_t *p, size_t n) {
  size_t i = n && (p[0] == '-' || p[0] == '+');
  size_t s = i;
  i = skip_digits(p, n, i);
  bool digits = i > s;
  if (i < n && p[i] == '.') {
    size_t f0 = ++i;
    i = skip_digits(p, n, i);
    digits |= i > f0;
  }
  if (!digits) return false;
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '-' || p[i] == '+')) i++;
    size_t e0 = i;
    i = skip_digits(p, n, i);
    if (i == e0) return false;
  }
  return i == n;
}

/* Python float() syntax (without underscores); exact result. */
/* check_only: validate the syntax, do not compute the value. */
static bool parse_f64_(const uint8_t *p0, size_t n0, double *out, bool as_float, bool check_only) {
  if (check_only && plain_decimal(p0, n0)) return true;
  if (!as_float && fast_f64(p0, n0, out, check_only)) return true;
  const uint8_t *p = p0;
  size_t n = n0;
  trim(&p, &n);
  if (!n) return false;
  size_t i = 0;
  bool neg = false;
  if (p[0] == '-' || p[0] == '+') neg = p[0] == '-', i = 1;
  if (i < n && (p[i] > '9' || p[i] < '0') && p[i] != '.') {
    const uint8_t *w = p + i;
    size_t wn = n - i;
    if (word_eq(w, wn, "inf") || word_eq(w, wn, "infinity")) {
      *out = neg ? -__builtin_inf() : __builtin_inf();
      return true;
    }
    if (word_eq(w, wn, "nan")) {
      *out = neg ? -__builtin_nan("") : __builtin_nan("");
      return true;
    }
    return false;
  }
  uint64_t m = 0;
  int sig = 0, dropped = 0, frac = 0;
  bool digits = false;
  for (; i < n && (unsigned)(p[i] - '0') <= 9; i++) {
    digits = true;
    if (m == 0 && p[i] == '0') continue;
    if (sig < 19) m = m * 10 + (p[i] - '0'), sig++;
    else dropped++;
  }
  if (i < n && p[i] == '.') {
    i++;
    for (; i < n && (unsigned)(p[i] - '0') <= 9; i++) {
      digits = true;
      if (m == 0 && p[i] == '0') {
        frac++;
        continue;
      }
      if (sig < 19) m = m * 10 + (p[i] - '0'), sig++, frac++;
      else dropped++;  /* beyond precision: handled by strtod */
    }
  }
  if (!digits) return false;
  long e = 0;
  if (!parse_exponent(p, n, &i, &e)) return false;
  if (i != n) return false;
  if (check_only) return true;
  long e10 = e - frac;
  if (!as_float && !dropped && f64_exact(m, e10, neg, out)) return true;
  char tmp[400];
  if (n >= sizeof tmp) return false;
  memcpy(tmp, p, n);
  tmp[n] = 0;
  *out = as_float ? (double)strtof(tmp, NULL) : strtod(tmp, NULL);
  return true;
}

static bool parse_f64(const uint8_t *p, size_t n, double *out, bool as_float) {
  return parse_f64_(p, n, out, as_float, false);
}

static inline int parse_bool(const uint8_t *p, size_t n) {
  trim(&p, &n);
  if (n == 4 && (!memcmp(p, "true", 4) || !memcmp(p, "True", 4) || !memcmp(p, "TRUE", 4))) return 1;
  if (n == 5 && (!memcmp(p, "false", 5) || !memcmp(p, "False", 5) || !memcmp(p, "FALSE", 5))) return 0;
  return -1;
}

/* ---- reader state ------------------------------------------------------------------ */

enum { CAN_BOOL = 1, CAN_INT = 2, CAN_DBL = 4 };

typedef struct csv_col {
  char *name;
  st_type_id type;          /* output type                              */
  bool forced;              /* type from options.schema                 */
  unsigned can;             /* inference: kinds still possible          */
  bool seen;                /* inference: a non-null value was seen     */
  bool na;                  /* inference: a null was seen (pandas makes */
                            /* an int column with nulls float64)        */
  bool large;               /* STRING built with int64 offsets (forced  */
                            /* LARGE_STRING, or hats_import_types)      */
  st_buf vals;              /* values, or int32/int64 offsets (strings) */
  st_buf data;              /* string bytes                             */
  st_buf valid;             /* one byte per row                         */
  int64_t nulls;
  int64_t n;                /* rows accumulated                         */
} csv_col;

static const char *const pandas_na[] = {"",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN",
                                        "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",  "NA",      "NULL",
                                        "NaN",  "None", "n/a",   "nan",      "null"};

typedef struct csv {
  csv_src src;
  uint8_t delim, quote, comment;
  uint8_t special[256];     /* delimiter, CR, LF                        */
  uint8_t *buf;             /* window of decompressed bytes (+1 pad)    */
  size_t cap, len, pos;
  bool eof;                 /* source exhausted                         */
  uint64_t max_rec;         /* record size limit                        */
  int64_t line;             /* lines consumed before pos                */
  int ncols;
  bool header_mode;         /* tokenizing the header: any field count   */
  int hdr_nf;
  int K;                    /* records per tokenizer chunk              */
  size_t *fs;               /* K*ncols field starts                     */
  uint32_t *fl;             /* lengths                                  */
  uint8_t *ff;              /* flags: 1 quoted, 2 doubled quotes        */
  int64_t *rline;           /* line of each record                      */
  csv_col *cols;
  const char *const *na;    /* null strings                             */
  int n_na;
  size_t *na_len;           /* lengths of the null strings              */
  uint64_t na_lens[256];    /* per first byte: bit min(len,63) set for  */
                            /* each non-empty null string (fast reject) */
  size_t na_max;
  bool skip_header;         /* header line present                      */
  bool sized;               /* plain regular file: in->file_size bounds */
                            /* the buffer, header fields and records    */
  /* parallel inference (plain files; offsets are file offsets)         */
  int64_t stop_abs;         /* stop before a record starting >= this    */
                            /* (-1: never)                              */
  int64_t stopped_at;       /* start of the record stopped at (-1)      */
  bool track_first;         /* record first_abs                         */
  int64_t first_abs;        /* start of the first record tokenized (-1) */
  bool part_empty;          /* a part > 0 of an unsplittable source     */
  volatile int *cancel;     /* options.cancel (inference polls it)      */
  /* options.values_fn (whole-file inference only)                      */
  const st_input_options *vo;
  int vx, vy;               /* the columns reported (-1: off)           */
  int vpart;                /* reported as this part                    */
  bool vfail;               /* a value failed: no DONE                  */
  double *vbx, *vby;        /* K values each                            */
} csv;

static void col_clear(csv_col *c) {
  st_buf_free(&c->vals);
  st_buf_free(&c->data);
  st_buf_free(&c->valid);
  c->nulls = c->n = 0;
}

static int fill(csv *c, st_error *err) {
  if (c->pos) {
    memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->len -= c->pos;
    c->pos = 0;
  }
  if (c->len + (1 << 16) > c->cap) {
    if (c->cap >= c->max_rec + (4u << 20))
      return st_fail(err, ST_ERR_LIMIT, "line %lld: record longer than %llu bytes (unbalanced quote?)",
                     (long long)c->line + 1, (unsigned long long)c->max_rec);
    size_t nc = c->cap * 2;
    uint8_t *nb = realloc(c->buf, nc + 1);
    ST_CHECK(nb, err, ST_ERR_NOMEM, "out of memory (CSV buffer of %zu bytes)", nc);
    c->buf = nb;
    c->cap = nc;
  }
  size_t got = 0;
  while (!got && !c->src.done) {
    ST_TRY(src_read(&c->src, c->buf + c->len, c->cap - c->len, &got, err));
    c->len += got;
  }
  if (!got) c->eof = true;
  return 0;
}

static size_t count_nl(const uint8_t *p, size_t n) {
  size_t k = 0;
  const uint8_t *e = p + n;
  while ((p = memchr(p, '\n', (size_t)(e - p)))) k++, p++;
  return k;
}

/* First delimiter, CR or LF at or after pos (len if none): 16 bytes per step
** with SSE2, then byte by byte through c->special. */
static inline size_t next_special(const csv *c, const uint8_t *buf, size_t pos, size_t len) {
#ifdef __SSE2__
  const __m128i d = _mm_set1_epi8((char)c->delim), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
  while (pos + 16 <= len) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + pos));
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, nl)), _mm_cmpeq_epi8(v, cr));
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (m) return pos + (size_t)__builtin_ctz(m);
    pos += 16;
  }
#endif
  const uint8_t *sp = c->special;
  while (pos < len && !sp[buf[pos]]) pos++;
  return pos;
}

/* Tokenize up to maxrec records from pos.  *need_more: an incomplete record remains. */
static int tokenize(csv *c, int maxrec, int *nrec, bool *need_more, st_error *err) {
  const uint8_t *buf = c->buf;
  size_t len = c->len, pos = c->pos;
  const uint8_t delim = c->delim, quote = c->quote;
  const int ncols = c->ncols;
  int r = 0;
  *need_more = false;
  while (r < maxrec) {
    if (pos >= len) {
      *need_more = !c->eof;
      break;
    }
    uint8_t ch = buf[pos];
    if (ch == '\n') {
      pos++;
      c->line++;
      continue;
    }
    if (ch == '\r') {
      if (pos + 1 < len) {
        pos += buf[pos + 1] == '\n' ? 2 : 1;
        c->line++;
        continue;
      }
      if (c->eof) {
        pos++;
        continue;
      }
      *need_more = true;
      break;
    }
    if (c->comment && ch == c->comment) {
      const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
      if (!nl && !c->eof) {
        *need_more = true;
        break;
      }
      pos = nl ? (size_t)(nl - buf) + 1 : len;
      c->line++;
      continue;
    }
    if (c->stop_abs >= 0 || (c->track_first && c->first_abs < 0)) {
      /* file offset of this record (plain sources: consumed = bytes read) */
      int64_t at = (int64_t)c->src.consumed - (int64_t)len + (int64_t)pos;
      if (c->track_first && c->first_abs < 0) c->first_abs = at;
      if (c->stop_abs >= 0 && at >= c->stop_abs) {
        c->stopped_at = at;
        break;
      }
    }
    size_t rec_start = pos;
    int64_t lines = 0;
    int nf = 0;
    bool incomplete = false;
    size_t base = (size_t)r * (size_t)ncols;
    for (;;) {
      size_t start = pos, flen;
      uint8_t flags = 0;
      if (quote && pos < len && buf[pos] == quote) {
        flags = 1;
        pos++;
        start = pos;
        for (;;) {
          const uint8_t *q = memchr(buf + pos, quote, len - pos);
          if (!q) {
            if (c->eof)
              return st_fail(err, ST_ERR_CORRUPT, "line %lld: quoted field not closed before the end of the file",
                             (long long)(c->line + 1));
            incomplete = true;
            break;
          }
          lines += (int64_t)count_nl(buf + pos, (size_t)(q - (buf + pos)));
          pos = (size_t)(q - buf) + 1;
          if (pos < len && buf[pos] == quote) {
            flags |= 2;
            pos++;
            continue;
          }
          if (pos >= len && !c->eof) incomplete = true;
          break;
        }
        if (incomplete) break;
        flen = pos - 1 - start - 0;
        if (pos < len && buf[pos] != delim && buf[pos] != '\n' && buf[pos] != '\r')
          return st_fail(err, ST_ERR_CORRUPT, "line %lld: unexpected character after a closing quote",
                         (long long)(c->line + 1 + lines));
      } else {
        pos = next_special(c, buf, pos, len);
        flen = pos - start;
      }
      if (nf < ncols) {
        ST_CHECK(flen < UINT32_MAX, err, ST_ERR_LIMIT, "line %lld: field too long", (long long)c->line + 1);
        c->fs[base + (size_t)nf] = start;
        c->fl[base + (size_t)nf] = (uint32_t)flen;
        c->ff[base + (size_t)nf] = flags;
      }
      nf++;
      if (pos >= len) {
        if (!c->eof) incomplete = true;
        break;
      }
      ch = buf[pos];
      if (ch == delim) {
        pos++;
        continue;
      }
      if (ch == '\r') {
        if (pos + 1 >= len && !c->eof) {
          incomplete = true;
          break;
        }
        pos += (pos + 1 < len && buf[pos + 1] == '\n') ? 2 : 1;
      } else {
        pos++;
      }
      break;
    }
    if (incomplete) {
      pos = rec_start;
      *need_more = true;
      break;
    }
    if (c->header_mode) {
      c->hdr_nf = nf;
      ST_CHECK(nf <= ncols, err, ST_ERR_LIMIT, "line %lld: more than %d columns", (long long)c->line + 1, ncols);
    } else if (nf != ncols) {
      return st_fail(err, ST_ERR_CORRUPT, "line %lld: %d field%s, expected %d", (long long)(c->line + 1), nf,
                     nf == 1 ? "" : "s", ncols);
    }
    c->rline[r] = c->line + 1;
    c->line += 1 + lines;
    r++;
  }
  c->pos = pos;
  *nrec = r;
  return 0;
}

/* Field (r, j): pointer and length, with doubled quotes removed in place. */
static inline const uint8_t *field(csv *c, int r, int j, size_t *n) {
  size_t k = (size_t)r * (size_t)c->ncols + (size_t)j;
  uint8_t *p = c->buf + c->fs[k];
  size_t l = c->fl[k];
  if (c->ff[k] & 2) {
    size_t w = 0;
    for (size_t i = 0; i < l; i++) {
      p[w++] = p[i];
      if (p[i] == c->quote && i + 1 < l && p[i + 1] == c->quote) i++;
    }
    l = w;
    c->fl[k] = (uint32_t)l;
    c->ff[k] &= (uint8_t)~2;
  }
  *n = l;
  return p;
}

static inline bool is_na(const csv *c, const uint8_t *p, size_t n) {
  if (!n) return true;
  if (n > c->na_max || !((c->na_lens[p[0]] >> (n < 63 ? n : 63)) & 1)) return false;
  for (int i = 0; i < c->n_na; i++)
    if (c->na_len[i] == n && c->na[i][n - 1] == (char)p[n - 1] && !memcmp(c->na[i], p, n)) return true;
  return false;
}

static void value_text(const uint8_t *p, size_t n, char *out, size_t cap) {
  size_t k = n < cap - 4 ? n : cap - 4;
  memcpy(out, p, k);
  strcpy(out + k, k < n ? "..." : "");
}

/* Classify records [0, k) for type inference. */
static void classify(csv *c, int k) {
  for (int j = 0; j < c->ncols; j++) {
    csv_col *col = &c->cols[j];
    if (col->forced || !col->can) {
      if (!col->forced && !col->seen) {
        for (int r = 0; r < k && !col->seen; r++) {
          size_t n;
          const uint8_t *p = field(c, r, j, &n);
          col->seen = !is_na(c, p, n);
        }
      }
      continue;
    }
    unsigned can = col->can;
    if ((j == c->vx || j == c->vy) && !c->vfail) {
      /* a column reported to values_fn: its values too (report_values) */
      double *out = j == c->vx ? c->vbx : c->vby;
      for (int r = 0; r < k && can; r++) {
        size_t n;
        const uint8_t *p = field(c, r, j, &n);
        if (is_na(c, p, n)) {
          c->vfail = true;
          col->na = true;
          continue;
        }
        col->seen = true;
        unsigned m = 0;
        int64_t iv;
        double dv = 0;
        if ((can & CAN_INT) && parse_i64(p, n, &iv)) {
          m = CAN_INT | CAN_DBL;
          dv = (double)iv; /* = the text parsed as a double, but "-0" */
          if (!iv && memchr(p, '-', n)) c->vfail = true;
        } else if ((can & CAN_DBL) && parse_f64_(p, n, &dv, false, false)) {
          m = CAN_DBL;
          if (dv == 0 && signbit(dv)) c->vfail = true;
        } else {
          c->vfail = true;
          if ((can & CAN_DBL) && parse_f64_(p, n, &dv, false, true)) m = CAN_DBL;
        }
        if ((can & CAN_BOOL) && parse_bool(p, n) >= 0) m |= CAN_BOOL;
        can &= m;
        out[r] = dv;
      }
      if (!can) c->vfail = true;
      if (c->vx == c->vy && !c->vfail) memcpy(c->vby, c->vbx, (size_t)k * sizeof(double));
      col->can = can;
      continue;
    }
    for (int r = 0; r < k && can; r++) {
      size_t n;
      const uint8_t *p = field(c, r, j, &n);
      if (is_na(c, p, n)) {
        col->na = true;
        continue;
      }
      col->seen = true;
      unsigned m = 0;
      int64_t iv;
      double dv;
      if ((can & CAN_INT) && parse_i64(p, n, &iv)) m = CAN_INT | CAN_DBL;
      else if ((can & CAN_DBL) && parse_f64_(p, n, &dv, false, true)) m = CAN_DBL;
      if ((can & CAN_BOOL) && parse_bool(p, n) >= 0) m |= CAN_BOOL;
      can &= m;
    }
    col->can = can;
  }
}

/* Report the values of columns vx, vy of records [0, k) (options.values_fn),
** which classify() parsed (an integer's value is its double: equal to the
** text parsed as a double, but for "-0", which fails as -0.0 does). */
static void report_values(csv *c, int k) {
  if (c->vx < 0 || c->vfail) return;
  c->vo->values_fn(c->vo->values_ctx, ST_VALUES_ROWS, c->vpart, c->vbx, c->vby, k);
}

static int check_cancel(const csv *c, st_error *err) {
  if (c->cancel && *c->cancel) return st_fail(err, ST_ERR_INTERRUPTED, "interrupted");
  return 0;
}

static int type_width(st_type_id t) {
  switch (t) {
    case ST_T_BOOL: case ST_T_INT8: case ST_T_UINT8: return 1;
    case ST_T_INT16: case ST_T_UINT16: return 2;
    case ST_T_INT32: case ST_T_UINT32: case ST_T_FLOAT: return 4;
    default: return 8;
  }
}

static int bad_value(csv *c, int r, int j, const uint8_t *p, size_t n, st_error *err) {
  char t[64];
  value_text(p, n, t, sizeof t);
  return st_fail(err, ST_ERR_SCHEMA, "line %lld: column '%s': '%s' is not a valid %s%s", (long long)c->rline[r],
                 c->cols[j].name, t, st_type_name(c->cols[j].type),
                 c->cols[j].forced ? " (type from the schema)" : " (type inferred from the first rows; use --schema)");
}

/* Convert records [0, k) of column j into its accumulator. */
static int convert(csv *c, int j, int k, st_error *err) {
  csv_col *col = &c->cols[j];
  st_type_id t = col->type;
  ST_TRY(st_buf_reserve(&col->valid, (size_t)k, err));
  uint8_t *valid = col->valid.data + col->valid.len;
  if (t == ST_T_STRING) {   /* offsets: int64 for large_string, else int32 */
    size_t w = col->large ? 8 : 4;
    if (!col->vals.len) {
      int64_t z = 0;
      ST_TRY(st_buf_append(&col->vals, &z, w, err));
    }
    ST_TRY(st_buf_reserve(&col->vals, (size_t)k * w, err));
    for (int r = 0; r < k; r++) {
      size_t n;
      const uint8_t *p = field(c, r, j, &n);
      bool ok = !is_na(c, p, n);
      valid[r] = ok;
      col->nulls += !ok;
      if (ok) ST_TRY(st_buf_append(&col->data, p, n, err));
      if (w == 8) {
        int64_t o = (int64_t)col->data.len;
        memcpy(col->vals.data + col->vals.len, &o, 8);
      } else {
        ST_CHECK(col->data.len <= INT32_MAX, err, ST_ERR_LIMIT,
                 "column '%s': more than 2 GiB of text in one batch; use a smaller batch size", col->name);
        int32_t o = (int32_t)col->data.len;
        memcpy(col->vals.data + col->vals.len, &o, 4);
      }
      col->vals.len += w;
    }
  } else {
    int w = type_width(t);
    ST_TRY(st_buf_reserve(&col->vals, (size_t)k * (size_t)w, err));
    uint8_t *out = col->vals.data + col->vals.len;
    for (int r = 0; r < k; r++) {
      size_t n;
      const uint8_t *p = field(c, r, j, &n);
      if (is_na(c, p, n)) {
        valid[r] = 0;
        col->nulls++;
        memset(out + (size_t)r * (size_t)w, 0, (size_t)w);
        continue;
      }
      valid[r] = 1;
      uint8_t *o = out + (size_t)r * (size_t)w;
      int64_t iv;
      uint64_t uv;
      double dv;
      switch (t) {
        case ST_T_DOUBLE:
          if (!parse_f64(p, n, &dv, false)) return bad_value(c, r, j, p, n, err);
          memcpy(o, &dv, 8);
          break;
        case ST_T_FLOAT: {
          if (!parse_f64(p, n, &dv, true)) return bad_value(c, r, j, p, n, err);
          float f = (float)dv;
          memcpy(o, &f, 4);
          break;
        }
        case ST_T_BOOL: {
          int b = parse_bool(p, n);
          if (b < 0) {
            if (!parse_i64(p, n, &iv) || (iv != 0 && iv != 1)) return bad_value(c, r, j, p, n, err);
            b = (int)iv;
          }
          *o = (uint8_t)b;
          break;
        }
        case ST_T_UINT64:
          if (!parse_u64(p, n, &uv)) return bad_value(c, r, j, p, n, err);
          memcpy(o, &uv, 8);
          break;
        default: {
          if (!parse_i64(p, n, &iv)) {
            /* a float with an integral value ("3.0") is accepted into an integer column */
            if (!parse_f64(p, n, &dv, false) || dv != (double)(int64_t)dv || dv < -9.2e18 || dv > 9.2e18)
              return bad_value(c, r, j, p, n, err);
            iv = (int64_t)dv;
          }
          bool fits = true;
          switch (t) {
            case ST_T_INT8: fits = iv >= INT8_MIN && iv <= INT8_MAX; { int8_t v = (int8_t)iv; memcpy(o, &v, 1); } break;
            case ST_T_INT16: fits = iv >= INT16_MIN && iv <= INT16_MAX; { int16_t v = (int16_t)iv; memcpy(o, &v, 2); } break;
            case ST_T_INT32: fits = iv >= INT32_MIN && iv <= INT32_MAX; { int32_t v = (int32_t)iv; memcpy(o, &v, 4); } break;
            case ST_T_UINT8: fits = iv >= 0 && iv <= UINT8_MAX; { uint8_t v = (uint8_t)iv; memcpy(o, &v, 1); } break;
            case ST_T_UINT16: fits = iv >= 0 && iv <= UINT16_MAX; { uint16_t v = (uint16_t)iv; memcpy(o, &v, 2); } break;
            case ST_T_UINT32: fits = iv >= 0 && iv <= UINT32_MAX; { uint32_t v = (uint32_t)iv; memcpy(o, &v, 4); } break;
            default: memcpy(o, &iv, 8); break;
          }
          if (!fits) return bad_value(c, r, j, p, n, err);
        }
      }
    }
    col->vals.len += (size_t)k * (size_t)w;
  }
  col->valid.len += (size_t)k;
  col->n += k;
  return 0;
}

static int finish_col(csv_col *col, st_array **out, st_error *err) {
  *out = NULL;
  int64_t n = col->n;
  st_mem *bm = NULL;
  int64_t nulls = 0;
  if (col->nulls) ST_TRY(st_rd_bitmap(col->valid.data, n, &bm, &nulls, err));
  st_mem *vals = NULL;
  if (col->type == ST_T_BOOL) {
    vals = st_mem_new((size_t)(n + 7) / 8 + 1);
    if (!vals) {
      st_mem_unref(bm);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    memset(vals->data, 0, (size_t)(n + 7) / 8 + 1);
    for (int64_t i = 0; i < n; i++)
      if (col->vals.data[i]) vals->data[i >> 3] |= (uint8_t)(1u << (i & 7));
  } else {
    if (col->type == ST_T_STRING && !col->vals.len) {
      int64_t z = 0;
      ST_TRY(st_buf_append(&col->vals, &z, col->large ? 8 : 4, err));
    }
    vals = st_buf_detach(&col->vals);
  }
  st_mem *data = NULL;
  if (col->type == ST_T_STRING) data = st_buf_detach(&col->data);
  col_clear(col);
  if (!vals || (col->type == ST_T_STRING && !data)) {
    st_mem_unref(vals);
    st_mem_unref(data);
    st_mem_unref(bm);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  st_array *a = st_rd_array(n, vals, bm, nulls);
  if (!a) {
    st_mem_unref(data);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  if (col->type == ST_T_STRING) {
    a->n_buffers = 3;
    a->mem[2] = data;
    a->buf[2] = data->data;
  }
  *out = a;
  return 0;
}

static void csv_free(csv *c) {
  if (!c) return;
  src_close(&c->src);
  free(c->buf);
  free(c->fs);
  free(c->fl);
  free(c->ff);
  free(c->rline);
  free(c->na_len);
  free(c->vbx);
  free(c->vby);
  if (c->cols)
    for (int j = 0; j < c->ncols; j++) {
      col_clear(&c->cols[j]);
      free(c->cols[j].name);
    }
  free(c->cols);
  free(c);
}

static int alloc_fields(csv *c, int ncols, int K, st_error *err) {
  free(c->fs);
  free(c->fl);
  free(c->ff);
  free(c->rline);
  c->ncols = ncols;
  c->K = K;
  size_t nf = (size_t)ncols * (size_t)K;
  c->fs = malloc(nf * sizeof(size_t));
  c->fl = malloc(nf * sizeof(uint32_t));
  c->ff = malloc(nf);
  c->rline = malloc((size_t)K * sizeof(int64_t));
  ST_CHECK(c->fs && c->fl && c->ff && c->rline, err, ST_ERR_NOMEM, "out of memory");
  return 0;
}

/* Tokenize up to maxrec records, refilling the buffer as needed.  *k = 0: end. */
static int next_records(csv *c, int maxrec, int *k, st_error *err) {
  for (;;) {
    bool more;
    ST_TRY(tokenize(c, maxrec, k, &more, err));
    if (*k || !more) return 0;
    ST_TRY(fill(c, err));
  }
}

/* Read the header line (or just count the fields of the first record). */
static int read_header(st_input *in, csv *c, st_error *err) {
  /* a plain file of S bytes has at most S + 1 fields per line: small files
     (the 500,000-tiny-files case) do not allocate slots for 65536 */
  int maxc = 65536;
  if (c->sized && in->file_size + 1 < (uint64_t)maxc) maxc = (int)in->file_size + 1;
  ST_TRY(alloc_fields(c, maxc, 1, err));
  c->header_mode = true;
  int k;
  ST_TRY(next_records(c, 1, &k, err));
  c->header_mode = false;
  int nf = k ? c->hdr_nf : 0;
  const st_input_options *o = &in->opt;
  int ncols = nf;
  if (o->n_column_names > 0) ncols = o->n_column_names;
  else if (!o->header && o->schema && !nf) ncols = o->schema->n_children;
  if (!k && !o->n_column_names) return st_fail(err, ST_ERR_CORRUPT, "empty file (no header line)");
  if (k && nf != ncols)
    return st_fail(err, ST_ERR_CORRUPT, "line 1: %d fields, but %d column names were given", nf, ncols);
  c->cols = calloc((size_t)ncols + 1, sizeof(csv_col));
  ST_CHECK(c->cols, err, ST_ERR_NOMEM, "out of memory");
  for (int j = 0; j < ncols; j++) {
    char tmp[32];
    const char *nm = NULL;
    size_t n = 0;
    if (o->n_column_names > 0) nm = o->column_names[j], n = strlen(nm);
    else if (o->header) {
      nm = (const char *)field(c, 0, j, &n);
      if (!n) n = (size_t)snprintf(tmp, sizeof tmp, "Unnamed: %d", j), nm = tmp;
    } else {
      n = (size_t)snprintf(tmp, sizeof tmp, "col_%d", j);
      nm = tmp;
    }
    c->cols[j].name = st_strndup(nm, n);
    ST_CHECK(c->cols[j].name, err, ST_ERR_NOMEM, "out of memory");
  }
  c->ncols = ncols;
  if (!o->header && k) {
    /* the first record is data: rewind to it */
    c->pos = 0;
    c->line = 0;
  }
  return 0;
}

static int csv_restart(st_input *in, csv *c, st_error *err) {
  ST_TRY(src_reset(&c->src, err));
  c->len = c->pos = 0;
  c->eof = false;
  c->line = 0;
  int ncols = c->ncols;
  csv_col *cols = c->cols;
  c->cols = NULL;
  int rc = read_header(in, c, err);  /* re-reads names; keep the inferred columns */
  if (c->cols) {
    for (int j = 0; j < c->ncols; j++) free(c->cols[j].name);
    free(c->cols);
  }
  c->cols = cols;
  c->ncols = ncols;
  return rc;
}

/* Position the plain-file reader c on the first line start after byte
** offset off (the partial line at off is skipped) and track the start of
** its first record (track_first), as the parallel inference's second half
** and a map part do. */
static int seek_after_line(csv *c, int64_t off, st_error *err) {
  if (lseek(c->src.fd, (off_t)off, SEEK_SET) < 0)
    return st_fail(err, ST_ERR_IO, "seek failed: %s", strerror(errno));
  c->src.consumed = (uint64_t)off;
  c->src.done = c->src.in_eof = false;
  c->len = c->pos = 0;
  c->eof = false;
  for (;;) {
    ST_TRY(fill(c, err));
    const uint8_t *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
    if (nl) {
      c->pos = (size_t)(nl - c->buf) + 1;
      break;
    }
    c->pos = c->len;
    if (c->eof) break;
  }
  c->track_first = true;
  return 0;
}

/*
** Parallel inference (whole-file inference of a plain file, several
** threads: options.infer_threads, each part at least PAR_INFER_MIN bytes):
** the file is cut at S_k = size*k/P (k = 1..P-1); helper thread k
** classifies, on its own descriptor and buffers, the records from the first
** line start after S_k up to the first record starting after S_k+1 (the
** last helper: to the end), while this thread classifies from the header up
** to the first record starting after S_1 -- the same ranges as the map's
** parts (seek_part).  The classification is an AND (can) / OR (seen, na)
** over values, so the parts merge -- if every cut was a record boundary of
** the real parse: each part's stop must be exactly where the next part's
** first record starts (a quoted field spanning lines, for example, makes
** them differ).  Otherwise, or when a helper failed, this thread classifies
** the rest itself, so results and errors are those of one pass.
** Values (options.values_fn): part k reports as part k when values_parts
** >= P, else every helper as part 1 under a lock (one call at a time).
*/
#define PAR_INFER_MIN ((uint64_t)4 << 20)
#define PAR_INFER_MAX 64

typedef struct infer_part {
  csv *h;                   /* the helper's reader state                */
  int64_t start;            /* S_k: the helper starts after the next LF */
  int rc;                   /* 0: h's classes cover [first_abs, stop)   */
  bool started;             /* the thread runs (to be joined)           */
  pthread_t th;
  pthread_mutex_t *vlock;   /* serializes values_fn of shared part 1    */
  st_error err;
} infer_part;

static void *infer_part_main(void *arg) {
  infer_part *ip = arg;
  csv *h = ip->h;
  st_error *err = &ip->err;
  int rc = seek_after_line(h, ip->start, err);
  while (!rc) {
    int k;
    if ((rc = check_cancel(h, err)) || (rc = next_records(h, h->K, &k, err)) || !k) break;
    classify(h, k);
    if (ip->vlock) pthread_mutex_lock(ip->vlock);
    report_values(h, k);
    if (ip->vlock) pthread_mutex_unlock(ip->vlock);
  }
  ip->rc = rc;
  return NULL;
}

static void helper_free(csv *h) {
  if (!h) return;
  src_close(&h->src);
  free(h->buf), free(h->fs), free(h->fl), free(h->ff), free(h->rline), free(h->cols);
  free(h->vbx), free(h->vby);
  free(h);
}

/* A helper reader with c's configuration (delimiter, quote, null strings,
** K, forced columns) on its own descriptor; NULL if anything failed. */
static csv *helper_new(const csv *c) {
  csv *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  *h = *c;
  memset(&h->src, 0, sizeof h->src);
  h->src.fd = -1;
  h->buf = NULL, h->fs = NULL, h->fl = NULL, h->ff = NULL, h->rline = NULL, h->cols = NULL;
  h->vbx = h->vby = NULL;
  h->buf = malloc((1u << 20) + 1);
  h->cap = 1u << 20;
  h->len = h->pos = 0;
  h->eof = false;
  h->line = 0;
  h->cols = calloc((size_t)c->ncols, sizeof(csv_col));
  h->first_abs = -1, h->stop_abs = -1, h->stopped_at = -1;
  if (h->vx >= 0) {
    h->vbx = malloc((size_t)c->K * sizeof(double));
    h->vby = malloc((size_t)c->K * sizeof(double));
  }
  st_error e2;
  bool ok = h->buf && h->cols && (h->vx < 0 || (h->vbx && h->vby)) && !alloc_fields(h, c->ncols, c->K, &e2);
  if (ok) {
    for (int j = 0; j < c->ncols; j++) {
      h->cols[j].forced = c->cols[j].forced;
      h->cols[j].can = c->cols[j].can;
    }
    ok = !src_open(&h->src, c->src.path, &e2);
  }
  if (!ok) {
    helper_free(h);
    return NULL;
  }
  return h;
}

/* Number of parts of the whole-file inference of c (1: this thread alone). */
static int infer_parts(const st_input *in, const csv *c) {
  if (!c->sized || c->src.kind != SRC_PLAIN || c->ncols <= 0) return 1;
  int t = in->opt.infer_threads;
  if (t <= 0) t = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
  if (t > PAR_INFER_MAX) t = PAR_INFER_MAX;
  uint64_t min = PAR_INFER_MIN;
  const char *m = getenv("SKYTILE_INFER_PART_MIN"); /* (tests: small files in parts) */
  if (m && *m) {
    char *e;
    unsigned long long v = strtoull(m, &e, 10);
    if (!*e && v > 0) min = v;
  }
  uint64_t p = in->file_size / min;
  return p < (uint64_t)t ? (p < 1 ? 1 : (int)p) : t;
}

/* Classify the whole file (records after the header) into c->cols. */
static int infer_all_rows(st_input *in, csv *c, st_error *err) {
  int P = infer_parts(in, c);
  infer_part ip[PAR_INFER_MAX];
  memset(ip, 0, sizeof ip);
  pthread_mutex_t vlock;
  bool own_parts = in->opt.values_parts >= P, have_lock = false;
  int nrun = 0; /* helpers 1..nrun-1 created and started */
  if (P > 1 && c->vx >= 0 && !own_parts) have_lock = !pthread_mutex_init(&vlock, NULL);
  if (P > 1 && (c->vx < 0 || own_parts || have_lock)) {
    int64_t size = (int64_t)in->file_size;
    int k;
    for (k = 1; k < P; k++) { /* all helpers or none */
      if (!(ip[k].h = helper_new(c))) break;
      ip[k].start = size / P * k + size % P * k / P;
      ip[k].h->vpart = own_parts ? k : 1;
      ip[k].vlock = c->vx >= 0 && !own_parts ? &vlock : NULL;
    }
    if (k == P) {
      for (k = 1; k < P; k++) {
        int64_t s1 = size / P * (k + 1) + size % P * (k + 1) / P;
        ip[k].h->stop_abs = k + 1 < P ? s1 + 1 : -1;
      }
      for (k = 1; k < P; k++) {
        if (pthread_create(&ip[k].th, NULL, infer_part_main, &ip[k])) break;
        ip[k].started = true;
      }
      nrun = k;
      if (nrun > 1) c->stop_abs = ip[1].start + 1;  /* a line start after S is > S */
    }
  }
  int rc = 0;
  bool discard = false; /* the helpers' values were not merged */
  for (;;) {
    int k;
    if ((rc = check_cancel(c, err)) || (rc = next_records(c, c->K, &k, err))) break;
    if (k) {
      classify(c, k);
      report_values(c, k);
      continue;
    }
    if (c->stop_abs < 0) break;
    /* stopped at c->stopped_at (or the end): merge the helpers' parts if
    ** each starts where the previous one stopped, else go on alone */
    for (int q = 1; q < nrun; q++) pthread_join(ip[q].th, NULL), ip[q].started = false;
    bool ok = nrun == P;
    int64_t at = c->stopped_at;
    for (int q = 1; q < P && ok; q++) {
      csv *h = ip[q].h;
      ok = !ip[q].rc && at >= 0 && h->first_abs == at;
      at = h->stopped_at;
    }
    if (ok) {
      for (int q = 1; q < P; q++) {
        csv *h = ip[q].h;
        for (int j = 0; j < c->ncols; j++) {
          c->cols[j].can &= h->cols[j].can;
          c->cols[j].seen |= h->cols[j].seen;
          c->cols[j].na |= h->cols[j].na;
        }
        c->vfail |= h->vfail;
      }
      break;
    }
    discard = true;
    c->stop_abs = -1;
  }
  for (int q = 1; q < P; q++)
    if (ip[q].started) pthread_join(ip[q].th, NULL), ip[q].started = false, discard = true;
  c->stop_abs = -1;
  for (int q = 1; q < P; q++) helper_free(ip[q].h);
  if (have_lock) pthread_mutex_destroy(&vlock);
  if (!rc && c->vx >= 0) {
    if (discard)
      for (int q = 1; q < (own_parts ? nrun : nrun > 1 ? 2 : 1); q++)
        c->vo->values_fn(c->vo->values_ctx, ST_VALUES_DISCARD, q, NULL, NULL, 0);
    if (!c->vfail) c->vo->values_fn(c->vo->values_ctx, ST_VALUES_DONE, 0, NULL, NULL, 0);
  }
  return rc;
}

/* Position the reader on its part (options.part of n_parts > 1; after the
** header): part k reads the records starting in (S_k, S_k+1] + 1, i.e. it
** starts after the first LF at or after S_k = size*k/n (part 0: after the
** header) and stops before the first record starting after S_k+1.  The
** same stop/first mechanism as the parallel inference, so the seams are
** checked the same way (st_input_part_seam).  A source that is not a plain
** regular file is read whole by part 0. */
static int seek_part(st_input *in, csv *c, st_error *err) {
  int64_t k = in->opt.part, n = in->opt.n_parts;
  if (!c->sized) {
    c->part_empty = k > 0;
    return 0;
  }
  int64_t size = (int64_t)in->file_size;
  int64_t s0 = size / n * k + size % n * k / n, s1 = size / n * (k + 1) + size % n * (k + 1) / n;
  if (k + 1 < n) c->stop_abs = s1 + 1;
  if (k == 0) return 0;
  ST_TRY(seek_after_line(c, s0, err));
  c->first_abs = -1;
  return 0;
}

static int csv_open(st_input *in, st_error *err) {
  csv *c = calloc(1, sizeof *c);
  ST_CHECK(c, err, ST_ERR_NOMEM, "out of memory");
  in->state = c;
  c->src.fd = -1;
  c->stop_abs = c->stopped_at = c->first_abs = -1;
  const st_input_options *o = &in->opt;
  ST_TRY(src_open(&c->src, in->path, err));
  struct stat stt;
  if (fstat(c->src.fd, &stt) == 0) {
    in->file_size = (uint64_t)stt.st_size;
    c->sized = S_ISREG(stt.st_mode) && c->src.kind == SRC_PLAIN;
  }
  c->delim = (uint8_t)o->delimiter;
  if (!c->delim) c->delim = !strcmp(in->fmt_name, "tsv") ? '\t' : !strcmp(in->fmt_name, "psv") ? '|' : ',';
  c->quote = (uint8_t)o->quote;
  c->comment = (uint8_t)o->comment;
  ST_CHECK(c->delim != '\n' && c->delim != '\r' && c->delim != c->quote, err, ST_ERR_INVALID,
           "bad CSV delimiter");
  c->special[c->delim] = c->special['\n'] = c->special['\r'] = 1;
  c->max_rec = o->max_line_bytes ? o->max_line_bytes : (64u << 20);
  c->na = o->null_values ? o->null_values : pandas_na;
  c->n_na = o->null_values ? o->n_null_values : (int)(sizeof pandas_na / sizeof pandas_na[0]);
  c->na_len = malloc(((size_t)c->n_na + 1) * sizeof(size_t));
  ST_CHECK(c->na_len, err, ST_ERR_NOMEM, "out of memory");
  for (int i = 0; i < c->n_na; i++) {
    size_t l = strlen(c->na[i]);
    c->na_len[i] = l;
    if (l) c->na_lens[(uint8_t)c->na[i][0]] |= 1ull << (l < 63 ? l : 63);
    if (l > c->na_max) c->na_max = l;
  }
  c->cap = 1 << 20;
  if (c->sized && in->file_size < c->cap - (1u << 16))  /* small file: small buffer */
    c->cap = (size_t)in->file_size + (1u << 16) + 1;
  c->buf = malloc(c->cap + 1);
  ST_CHECK(c->buf, err, ST_ERR_NOMEM, "out of memory");
  ST_TRY(fill(c, err));
  ST_TRY(read_header(in, c, err));
  int ncols = c->ncols;
  int K = (int)((1 << 20) / (ncols ? ncols : 1));
  if (K < 16) K = 16;
  if (K > 16384) K = 16384;
  /* a plain file of S bytes holds at most S / ncols + 1 records */
  if (c->sized && ncols && in->file_size / (uint64_t)ncols + 2 < (uint64_t)K)
    K = (int)(in->file_size / (uint64_t)ncols) + 2;
  /* column types: forced or inferred */
  bool infer = false;
  for (int j = 0; j < ncols; j++) {
    csv_col *col = &c->cols[j];
    const st_field *f = st_rd_forced(in, col->name);
    if (f) {
      col->forced = true;
      col->large = f->type == ST_T_LARGE_STRING;
      col->type = col->large ? ST_T_STRING : f->type;
      bool ok = (col->type >= ST_T_BOOL && col->type <= ST_T_UINT64) || col->type == ST_T_FLOAT ||
                col->type == ST_T_DOUBLE || col->type == ST_T_STRING;
      if (!ok)
        return st_fail(err, ST_ERR_UNSUPPORTED, "column '%s': type %s from the schema cannot be read from CSV yet",
                       col->name, st_type_name(f->type));
    } else {
      col->can = CAN_BOOL | CAN_INT | CAN_DBL;
      infer = true;
    }
  }
  /* keep the header's field slots valid until the arrays are resized */
  ST_TRY(alloc_fields(c, ncols, K, err));
  c->cancel = o->cancel;
  c->vx = c->vy = -1;
  if (infer && in->infer_all && o->infer_rows <= 0 && o->values_fn && o->values_x && o->values_y) {
    for (int j = 0; j < ncols; j++) {
      if (!strcmp(c->cols[j].name, o->values_x)) c->vx = j;
      if (!strcmp(c->cols[j].name, o->values_y)) c->vy = j;
    }
    if (c->vx >= 0 && c->vy >= 0 && !c->cols[c->vx].forced && !c->cols[c->vy].forced) {
      c->vbx = malloc((size_t)K * sizeof(double));
      c->vby = malloc((size_t)K * sizeof(double));
      ST_CHECK(c->vbx && c->vby, err, ST_ERR_NOMEM, "out of memory");
      c->vo = &in->opt;
    } else {
      c->vx = c->vy = -1;
    }
  }
  if (infer) {
    int64_t limit = o->infer_rows > 0 ? o->infer_rows : in->infer_all ? INT64_MAX : in->batch_rows;
    int64_t seen = 0;
    if (limit == INT64_MAX) {
      ST_TRY(infer_all_rows(in, c, err));
      seen = limit;
    }
    while (seen < limit) {
      int k;
      int want = limit - seen < K ? (int)(limit - seen) : K;
      ST_TRY(next_records(c, want, &k, err));
      if (!k) break;
      classify(c, k);
      seen += k;
    }
    for (int j = 0; j < ncols; j++) {
      csv_col *col = &c->cols[j];
      if (col->forced) continue;
      if (!col->seen) col->type = in->infer_all ? ST_T_NULL : ST_T_DOUBLE;
      else if (col->can & CAN_BOOL) col->type = ST_T_BOOL;
      else if ((col->can & CAN_INT) && !(col->na && o->hats_import_types)) col->type = ST_T_INT64;
      else if (col->can & CAN_DBL) col->type = ST_T_DOUBLE;
      else col->type = ST_T_STRING, col->large = o->hats_import_types;
    }
    if (!in->infer_all) {
      ST_TRY(csv_restart(in, c, err));
      ST_TRY(alloc_fields(c, ncols, K, err));
    }
  }
  int rc = st_field_init(&in->raw, "", ST_T_STRUCT, false);
  for (int j = 0; j < ncols && !rc; j++) {
    st_field f;
    const st_field *ff = st_rd_forced(in, c->cols[j].name);
    if (ff) rc = st_field_copy(&f, ff);
    else rc = st_field_init(&f, c->cols[j].name, c->cols[j].large ? ST_T_LARGE_STRING : c->cols[j].type,
                            true);
    if (!rc) {
      f.nullable = true;
      rc = st_field_add_child(&in->raw, &f);
      st_field_clear(&f);
    }
  }
  ST_CHECK(!rc, err, ST_ERR_NOMEM, "out of memory");
  if (in->opt.n_parts > 1) ST_TRY(seek_part(in, c, err));
  return 0;
}

static int csv_next(st_input *in, st_table **out, st_error *err) {
  csv *c = in->state;
  *out = NULL;
  if (in->infer_all || c->part_empty) return 0;  /* inference-only open / empty part */
  int64_t rows = 0;
  while (rows < in->batch_rows) {
    int k;
    int want = in->batch_rows - rows < c->K ? (int)(in->batch_rows - rows) : c->K;
    ST_TRY(next_records(c, want, &k, err));
    if (!k) break;
    for (int i = 0; i < in->n_need; i++) ST_TRY(convert(c, in->need[i], k, err));
    rows += k;
  }
  in->bytes_read = c->src.consumed;
  if (in->opt.n_parts > 1) {
    in->seam_first = in->opt.part > 0 ? c->first_abs : -1;
    in->seam_stop = c->stopped_at;
  }
  if (!rows) return 0;
  st_array **arr = calloc((size_t)in->n_need + 1, sizeof(st_array *));
  ST_CHECK(arr, err, ST_ERR_NOMEM, "out of memory");
  int rc = 0;
  st_field *fields = calloc((size_t)in->n_need + 1, sizeof(st_field));
  if (!fields) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  for (int i = 0; i < in->n_need && !rc; i++) {
    rc = finish_col(&c->cols[in->need[i]], &arr[i], err);
    fields[i] = in->raw.children[in->need[i]];  /* shallow: st_table_new copies */
  }
  if (rc) {
    for (int i = 0; i < in->n_need; i++) st_array_free(arr[i]);
  } else {
    rc = st_table_new(fields, arr, in->n_need, rows, NULL, out, err);
  }
  free(arr);
  free(fields);
  return rc;
}

static void csv_close(st_input *in) {
  csv_free(in->state);
  in->state = NULL;
}

static int csv_bid(const char *path, const uint8_t *head, size_t n) {
  const char *exts[] = {".csv", ".tsv", ".psv", ".txt", ".tab", ".csv.gz", ".tsv.gz", ".psv.gz", ".txt.gz",
                        ".csv.zip", ".zip", ".dat"};
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
    if (st_rd_ends_with(path, exts[i])) return 60;
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return 30;
  if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return 30;
  /* printable text with a comma or tab on the first line */
  size_t i = 0;
  bool delim = false;
  for (; i < n && head[i] != '\n'; i++) {
    if (head[i] < 9 || (head[i] > 13 && head[i] < 32)) return 0;
    delim |= head[i] == ',' || head[i] == '\t' || head[i] == '|';
  }
  return delim && n ? 10 : 0;
}

const st_reader_format st_reader_csv = {"csv", csv_bid, csv_open, csv_next, csv_close};
