/*
** This file implements the FITS binary-table plug-in of the input readers,
** on top of cfitsio.
**
** Layout: a BINTABLE row is NAXIS1 bytes holding the columns back to back in
** TFORM order, all numbers big-endian.  We compute each column's byte offset
** from its TFORM (checking the sum against NAXIS1), read CH rows at a time
** as raw bytes with fits_read_tblbytes (one call per ~4 MiB), and decode
** each needed column with a tight byte-swapping loop into the batch's
** output buffer — no per-value cfitsio call and no slow path for
** big-endian data.  Then per column:
**   - unsigned conventions (TZERO = 2^(bits-1), TSCAL = 1; B with TZERO=-128)
**     flip the sign bit in place -> uint16/uint32/uint64 / int8;
**   - other TSCAL/TZERO turn the column into double (value*scale + zero);
**   - TNULL on integer columns marks nulls (compared on the raw value);
**   - L: 'T' is true, anything else false (as astropy); X: bits MSB first;
**   - A: one string per row (or a fixed-size list of strings when TDIM/the
**     TFORM width splits it), cut at the first NUL and trailing blanks removed;
**   - C/M complex: a fixed-size list of 2 (real, imaginary);
**   - repeat > 1: fixed-size lists; TDIM (d1, ..., dk): nested fixed-size
**     lists, dk outermost (numpy shape order).
**   - P/Q variable-length arrays (L B I J K E D A elements) become lists (A:
**     strings), read row by row with cfitsio (which byte-swaps and scales).
** A .gz
** file is decompressed into memory by cfitsio.  A part (options.part of
** n_parts, the import's parallel map of one file) reads the rows
** [N*part/n, N*(part+1)/n) (a .gz file: all of them in part 0, none in the
** others).
*/
#include <fitsio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "readers/readers_int.h"

enum { K_BOOL, K_BITS, K_INT, K_FLOAT, K_STRING, K_VLA };

typedef struct fits_col {
  char name[72];
  char code;                /* TFORM letter                              */
  int kind;
  int es;                   /* element size in bytes (1 for bits/strings) */
  int64_t repeat;           /* TFORM repeat                              */
  int64_t cnt;              /* output elements per row (flattened)       */
  int64_t off;              /* byte offset in the row                    */
  int64_t bytes;            /* bytes in the row                          */
  int64_t swidth;           /* strings: width of one string              */
  int ndim;                 /* list dimensions, innermost first          */
  int64_t dims[8];
  st_type_id out;           /* output element type                       */
  bool flip;                /* unsigned convention: flip the sign bit    */
  bool scaled;              /* generic scaling -> double                 */
  double scal, zero;
  bool has_null;
  int64_t tnull;
  int vla_type;             /* VLA: cfitsio datatype the elements are read as */
  char vla_code;            /* VLA: element TFORM letter                  */
} fits_col;

typedef struct fits_state {
  fitsfile *fp;
  int ncols;
  fits_col *cols;
  int64_t width;            /* NAXIS1                                    */
  int64_t nrows;            /* NAXIS2                                    */
  int64_t next_row;         /* 0-based                                   */
  int64_t end_row;          /* rows [next_row, end_row) remain (a part)  */
  uint8_t *raw;             /* CH rows of raw bytes                      */
  int64_t ch;
} fits_state;

static int fits_err(int status, st_error *err, const char *what) {
  char txt[32] = "";
  fits_get_errstatus(status, txt);
  fits_clear_errmsg();
  return st_fail(err, status == MEMORY_ALLOCATION ? ST_ERR_NOMEM : ST_ERR_CORRUPT, "FITS: %s: %s (cfitsio status %d)",
                 what, txt, status);
}

static int fits_bid(const char *path, const uint8_t *head, size_t n) {
  if (n >= 9 && !memcmp(head, "SIMPLE  =", 9)) return 90;
  if (st_rd_ends_with(path, ".fits") || st_rd_ends_with(path, ".fit") || st_rd_ends_with(path, ".fts"))
    return 40;
  if (st_rd_ends_with(path, ".fits.gz") || st_rd_ends_with(path, ".fit.gz") || st_rd_ends_with(path, ".fts.gz"))
    return 70;
  return 0;
}

static bool key_double(fitsfile *fp, const char *key, double *v) {
  int st = 0;
  if (fits_read_key(fp, TDOUBLE, key, v, NULL, &st)) {
    fits_clear_errmsg();
    return false;
  }
  return true;
}

static int setup_col(fits_state *s, int i, st_error *err) {
  fits_col *c = &s->cols[i];
  int st = 0;
  char key[24], val[FLEN_VALUE];
  snprintf(key, sizeof key, "TTYPE%d", i + 1);
  if (fits_read_key(s->fp, TSTRING, key, val, NULL, &st)) {
    st = 0;
    fits_clear_errmsg();
    snprintf(val, sizeof val, "col%d", i + 1);
  }
  snprintf(c->name, sizeof c->name, "%s", val);
  snprintf(key, sizeof key, "TFORM%d", i + 1);
  if (fits_read_key(s->fp, TSTRING, key, val, NULL, &st)) return fits_err(st, err, key);
  /* parse rTa */
  const char *p = val;
  while (*p == ' ') p++;
  int64_t r = 1;
  if (*p >= '0' && *p <= '9') {
    r = 0;
    while (*p >= '0' && *p <= '9') {
      if (r > (int64_t)1 << 40) return st_fail(err, ST_ERR_CORRUPT, "FITS: column %d: bad %s '%s'", i + 1, key, val);
      r = r * 10 + (*p++ - '0');
    }
  }
  c->code = *p;
  c->repeat = r;
  c->cnt = r;
  c->scal = 1;
  c->zero = 0;
  switch (c->code) {
    case 'L': c->kind = K_BOOL; c->es = 1; c->out = ST_T_BOOL; c->bytes = r; break;
    case 'X': c->kind = K_BITS; c->es = 1; c->out = ST_T_BOOL; c->bytes = (r + 7) / 8; break;
    case 'B': c->kind = K_INT; c->es = 1; c->out = ST_T_UINT8; c->bytes = r; break;
    case 'I': c->kind = K_INT; c->es = 2; c->out = ST_T_INT16; c->bytes = 2 * r; break;
    case 'J': c->kind = K_INT; c->es = 4; c->out = ST_T_INT32; c->bytes = 4 * r; break;
    case 'K': c->kind = K_INT; c->es = 8; c->out = ST_T_INT64; c->bytes = 8 * r; break;
    case 'E': c->kind = K_FLOAT; c->es = 4; c->out = ST_T_FLOAT; c->bytes = 4 * r; break;
    case 'D': c->kind = K_FLOAT; c->es = 8; c->out = ST_T_DOUBLE; c->bytes = 8 * r; break;
    case 'C': c->kind = K_FLOAT; c->es = 4; c->out = ST_T_FLOAT; c->bytes = 8 * r; c->cnt = 2 * r; break;
    case 'M': c->kind = K_FLOAT; c->es = 8; c->out = ST_T_DOUBLE; c->bytes = 16 * r; c->cnt = 2 * r; break;
    case 'A': c->kind = K_STRING; c->es = 1; c->out = ST_T_STRING; c->bytes = r; break;
    case 'P': case 'Q': {
      c->kind = K_VLA;
      c->bytes = r * (c->code == 'P' ? 8 : 16);
      c->cnt = 1;
      c->vla_code = p[1];
      double sc = 1, ze = 0;
      snprintf(key, sizeof key, "TSCAL%d", i + 1);
      key_double(s->fp, key, &sc);
      snprintf(key, sizeof key, "TZERO%d", i + 1);
      key_double(s->fp, key, &ze);
      bool plain = sc == 1 && ze == 0;
      switch (c->vla_code) {
        case 'L': c->vla_type = TLOGICAL; c->out = ST_T_BOOL; c->es = 1; break;
        case 'B': c->vla_type = TBYTE; c->out = ST_T_UINT8; c->es = 1;
          if (sc == 1 && ze == -128) c->vla_type = TSBYTE, c->out = ST_T_INT8, plain = true;
          break;
        case 'I': c->vla_type = TSHORT; c->out = ST_T_INT16; c->es = 2;
          if (sc == 1 && ze == 32768) c->vla_type = TUSHORT, c->out = ST_T_UINT16, plain = true;
          break;
        case 'J': c->vla_type = TINT; c->out = ST_T_INT32; c->es = 4;
          if (sc == 1 && ze == 2147483648.0) c->vla_type = TUINT, c->out = ST_T_UINT32, plain = true;
          break;
        case 'K': c->vla_type = TLONGLONG; c->out = ST_T_INT64; c->es = 8;
          if (sc == 1 && ze == 9223372036854775808.0) c->vla_type = TULONGLONG, c->out = ST_T_UINT64, plain = true;
          break;
        case 'E': c->vla_type = TFLOAT; c->out = ST_T_FLOAT; c->es = 4; break;
        case 'D': c->vla_type = TDOUBLE; c->out = ST_T_DOUBLE; c->es = 8; break;
        case 'A': c->vla_type = TSTRING; c->out = ST_T_STRING; c->es = 1; break;
        default:
          return st_fail(err, ST_ERR_UNSUPPORTED,
                         "FITS: column '%s': variable-length arrays of '%c' (TFORM %s) are not supported yet", c->name,
                         c->vla_code, val);
      }
      if (!plain && c->vla_type != TSTRING && c->vla_type != TLOGICAL)
        c->vla_type = TDOUBLE, c->out = ST_T_DOUBLE, c->es = 8;
      return 0;
    }
    default:
      return st_fail(err, ST_ERR_CORRUPT, "FITS: column '%s': unknown TFORM '%s'", c->name, val);
  }
  /* scaling and nulls */
  snprintf(key, sizeof key, "TSCAL%d", i + 1);
  key_double(s->fp, key, &c->scal);
  snprintf(key, sizeof key, "TZERO%d", i + 1);
  key_double(s->fp, key, &c->zero);
  if (c->kind == K_INT) {
    snprintf(key, sizeof key, "TNULL%d", i + 1);
    long long tn;
    int st2 = 0;
    if (!fits_read_key(s->fp, TLONGLONG, key, &tn, NULL, &st2)) {
      c->has_null = true;
      c->tnull = tn;
    } else {
      fits_clear_errmsg();
    }
    if (c->scal == 1 && c->zero != 0) {
      if (c->es == 1 && c->zero == -128) c->flip = true, c->out = ST_T_INT8;
      else if (c->es == 2 && c->zero == 32768) c->flip = true, c->out = ST_T_UINT16;
      else if (c->es == 4 && c->zero == 2147483648.0) c->flip = true, c->out = ST_T_UINT32;
      else if (c->es == 8 && c->zero == 9223372036854775808.0) c->flip = true, c->out = ST_T_UINT64;
    }
    if (!c->flip && (c->scal != 1 || c->zero != 0)) c->scaled = true, c->out = ST_T_DOUBLE;
  } else if (c->kind == K_FLOAT && (c->scal != 1 || c->zero != 0)) {
    c->scaled = true;
    c->out = ST_T_DOUBLE;
  }
  /* dimensions */
  int naxis = 0;
  long long naxes[8];
  snprintf(key, sizeof key, "TDIM%d", i + 1);
  char tdim[FLEN_VALUE];
  int st3 = 0;
  bool has_tdim = !fits_read_key(s->fp, TSTRING, key, tdim, NULL, &st3);
  if (!has_tdim) fits_clear_errmsg();
  if (has_tdim) {
    st3 = 0;
    if (fits_read_tdimll(s->fp, i + 1, 8, &naxis, naxes, &st3)) {
      fits_clear_errmsg();
      naxis = 0;
    }
  }
  if (c->kind == K_STRING) {
    c->swidth = r;
    if (naxis >= 2) {
      c->swidth = naxes[0];
      for (int d = 1; d < naxis; d++) c->dims[c->ndim++] = naxes[d];
    } else {
      /* rAw: substrings of width w */
      const char *q = strchr(val, 'A');
      int w = q && q[1] >= '0' && q[1] <= '9' ? atoi(q + 1) : 0;
      if (w > 0 && w < r) {
        c->swidth = w;
        c->dims[c->ndim++] = r / w;
      }
    }
    if (c->swidth <= 0) c->swidth = 1;
    int64_t prod = c->swidth;
    for (int d = 0; d < c->ndim; d++) prod *= c->dims[d];
    ST_SAFETY(prod <= r, err, "FITS: column '%s': TDIM does not fit TFORM", c->name);
    c->cnt = prod / c->swidth;
    return 0;
  }
  if (c->code == 'C' || c->code == 'M') c->dims[c->ndim++] = 2;
  if (naxis >= 1 && !(naxis == 1 && naxes[0] == r && r == 1)) {
    int64_t prod = 1;
    for (int d = 0; d < naxis; d++) prod *= naxes[d];
    ST_SAFETY(prod == r, err, "FITS: column '%s': TDIM product %lld != repeat %lld", c->name, (long long)prod,
              (long long)r);
    for (int d = 0; d < naxis && c->ndim < 8; d++) c->dims[c->ndim++] = naxes[d];
  } else if (r != 1) {
    c->dims[c->ndim++] = r;
  }
  return 0;
}

static int make_field(const fits_col *c, st_field *f) {
  st_field leaf;
  if (c->kind == K_VLA && c->out != ST_T_STRING) {
    if (st_field_init(&leaf, "item", c->out, false)) return ST_ERR_NOMEM;
    if (st_field_init(f, c->name, ST_T_LIST, false) || st_field_add_child(f, &leaf)) {
      st_field_clear(&leaf);
      st_field_clear(f);
      return ST_ERR_NOMEM;
    }
    st_field_clear(&leaf);
    return 0;
  }
  if (st_field_init(&leaf, c->ndim ? "item" : c->name, c->out, c->has_null)) return ST_ERR_NOMEM;
  for (int d = 0; d < c->ndim; d++) {
    st_field outer;
    if (st_field_init(&outer, d == c->ndim - 1 ? c->name : "item", ST_T_FIXED_LIST, false)) {
      st_field_clear(&leaf);
      return ST_ERR_NOMEM;
    }
    outer.byte_width = (int32_t)c->dims[d];
    int rc = st_field_add_child(&outer, &leaf);
    st_field_clear(&leaf);
    if (rc) {
      st_field_clear(&outer);
      return ST_ERR_NOMEM;
    }
    leaf = outer;
  }
  *f = leaf;
  return 0;
}

static int fits_open_(st_input *in, st_error *err) {
  fits_state *s = calloc(1, sizeof *s);
  ST_CHECK(s, err, ST_ERR_NOMEM, "out of memory");
  in->state = s;
  int st = 0;
  /* .gz: cfitsio decompresses into memory (fits_open_file, whose extended
     file-name syntax is avoided for paths with brackets) */
  bool gz = st_rd_ends_with(in->path, ".gz") && !strpbrk(in->path, "[]()");
  if (gz ? fits_open_file(&s->fp, in->path, READONLY, &st) : fits_open_diskfile(&s->fp, in->path, READONLY, &st)) {
    s->fp = NULL;
    return fits_err(st, err, "cannot open");
  }
  int nhdu = 0, type = 0;
  if (fits_get_num_hdus(s->fp, &nhdu, &st)) return fits_err(st, err, "reading HDUs");
  int hdu = in->opt.fits_hdu;
  if (hdu > 0) {
    ST_CHECK(hdu <= nhdu, err, ST_ERR_NOTFOUND, "FITS: HDU %d does not exist (the file has %d)", hdu, nhdu);
    if (fits_movabs_hdu(s->fp, hdu, &type, &st)) return fits_err(st, err, "moving to the HDU");
    ST_CHECK(type == BINARY_TBL, err, ST_ERR_UNSUPPORTED, "FITS: HDU %d is not a binary table", hdu);
  } else {
    for (hdu = 1; hdu <= nhdu; hdu++) {
      if (fits_movabs_hdu(s->fp, hdu, &type, &st)) return fits_err(st, err, "moving to an HDU");
      if (type == BINARY_TBL) break;
    }
    ST_CHECK(hdu <= nhdu, err, ST_ERR_UNSUPPORTED, "FITS: no binary table HDU");
  }
  long long nrows = 0, w = 0;
  int ncols = 0;
  if (fits_get_num_rowsll(s->fp, &nrows, &st) || fits_get_num_cols(s->fp, &ncols, &st) ||
      fits_read_key(s->fp, TLONGLONG, "NAXIS1", &w, NULL, &st))
    return fits_err(st, err, "reading the table header");
  s->nrows = nrows;
  s->width = w;
  s->ncols = ncols;
  in->num_rows = nrows;
  s->cols = calloc((size_t)ncols + 1, sizeof(fits_col));
  ST_CHECK(s->cols, err, ST_ERR_NOMEM, "out of memory");
  int64_t off = 0;
  for (int i = 0; i < ncols; i++) {
    ST_TRY(setup_col(s, i, err));
    s->cols[i].off = off;
    off += s->cols[i].bytes;
  }
  ST_SAFETY(off == s->width, err, "FITS: columns take %lld bytes but NAXIS1 is %lld", (long long)off,
            (long long)s->width);
  ST_CHECK(!st_field_init(&in->raw, "", ST_T_STRUCT, false), err, ST_ERR_NOMEM, "out of memory");
  for (int i = 0; i < ncols; i++) {
    st_field f;
    ST_CHECK(!make_field(&s->cols[i], &f), err, ST_ERR_NOMEM, "out of memory");
    int rc = st_field_add_child(&in->raw, &f);
    st_field_clear(&f);
    ST_CHECK(!rc, err, ST_ERR_NOMEM, "out of memory");
  }
  s->ch = s->width > 0 ? (4 << 20) / s->width : 65536;
  if (s->ch < 1) s->ch = 1;
  if (s->ch > in->batch_rows) s->ch = in->batch_rows;
  if (s->ch > s->nrows) s->ch = s->nrows > 0 ? s->nrows : 1;
  s->raw = malloc((size_t)(s->ch * (s->width ? s->width : 1)));
  ST_CHECK(s->raw, err, ST_ERR_NOMEM, "out of memory (%lld rows of %lld bytes)", (long long)s->ch,
           (long long)s->width);
  long long fsize = 0;
  int st4 = 0;
  (void)fsize;
  (void)st4;
  in->file_size = (uint64_t)(s->width * s->nrows);
  /* a part: rows [N*part/n, N*(part+1)/n); a .gz file (decompressed whole
  ** by every open) is read whole by part 0 */
  int64_t k = in->opt.part, n = in->opt.n_parts;
  if (gz) k = k ? 1 : 0, n = 1;
  s->next_row = k >= n ? s->nrows : s->nrows / n * k + s->nrows % n * k / n;
  s->end_row = k >= n ? s->nrows : s->nrows / n * (k + 1) + s->nrows % n * (k + 1) / n;
  return 0;
}

/* ---- decoding -------------------------------------------------------------- */

static void decode_fixed(const fits_col *c, const uint8_t *raw, int64_t W, int64_t rows, uint8_t *dst) {
  const int64_t cnt = c->cnt;
  const uint8_t *src = raw + c->off;
  switch (c->es) {
    case 1:
      for (int64_t r = 0; r < rows; r++) memcpy(dst + r * cnt, src + r * W, (size_t)cnt);
      break;
    case 2: {
      uint16_t *d = (uint16_t *)dst;
      for (int64_t r = 0; r < rows; r++) {
        const uint8_t *p = src + r * W;
        for (int64_t k = 0; k < cnt; k++) {
          uint16_t v;
          memcpy(&v, p + 2 * k, 2);
          d[r * cnt + k] = __builtin_bswap16(v);
        }
      }
      break;
    }
    case 4: {
      uint32_t *d = (uint32_t *)dst;
      for (int64_t r = 0; r < rows; r++) {
        const uint8_t *p = src + r * W;
        for (int64_t k = 0; k < cnt; k++) {
          uint32_t v;
          memcpy(&v, p + 4 * k, 4);
          d[r * cnt + k] = __builtin_bswap32(v);
        }
      }
      break;
    }
    default: {
      uint64_t *d = (uint64_t *)dst;
      for (int64_t r = 0; r < rows; r++) {
        const uint8_t *p = src + r * W;
        for (int64_t k = 0; k < cnt; k++) {
          uint64_t v;
          memcpy(&v, p + 8 * k, 8);
          d[r * cnt + k] = __builtin_bswap64(v);
        }
      }
    }
  }
}

/* Per-batch accumulator of one column. */
typedef struct fits_acc {
  st_mem *vals;             /* fixed: rows*cnt elements (raw type, then converted) */
  st_mem *dbl;              /* scaled: doubles                                     */
  uint8_t *valid;           /* TNULL: one byte per element                         */
  st_buf offs, data;        /* strings                                             */
} fits_acc;

static int64_t load_raw_int(const uint8_t *p, int es, int64_t i) {
  switch (es) {
    case 1: return p[i];
    case 2: return ((const int16_t *)p)[i];
    case 4: return ((const int32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
  }
}

static int decode_chunk(fits_state *s, const fits_col *c, fits_acc *a, int64_t row0, int64_t rows,
                        st_error *err) {
  const int64_t W = s->width, cnt = c->cnt;
  if (c->kind == K_STRING) {
    const uint8_t *src = s->raw + c->off;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < cnt; k++) {
        const uint8_t *p = src + r * W + k * c->swidth;
        size_t n = (size_t)c->swidth;
        const uint8_t *z = memchr(p, 0, n);
        if (z) n = (size_t)(z - p);
        while (n && p[n - 1] == ' ') n--;
        ST_TRY(st_buf_append(&a->data, p, n, err));
        ST_CHECK(a->data.len <= INT32_MAX, err, ST_ERR_LIMIT, "FITS: column '%s': over 2 GiB of text in a batch",
                 c->name);
        int32_t o = (int32_t)a->data.len;
        ST_TRY(st_buf_append(&a->offs, &o, 4, err));
      }
    return 0;
  }
  if (c->kind == K_VLA) {
    for (int64_t r = 0; r < rows; r++) {
      long long row = s->next_row + r + 1, len = 0, heap = 0;
      int st = 0, anynul = 0;
      if (fits_read_descriptll(s->fp, (int)(c - s->cols) + 1, row, &len, &heap, &st))
        return fits_err(st, err, "reading a variable-length array descriptor");
      ST_SAFETY(len >= 0 && (uint64_t)len <= (uint64_t)1 << 31, err, "FITS: column '%s', row %lld: bad array length %lld",
                c->name, row, len);
      if (c->vla_type == TSTRING) {
        ST_TRY(st_buf_reserve(&a->data, (size_t)len + 1, err));
        char *dst = (char *)a->data.data + a->data.len;
        char *ptrs[1] = {dst};
        if (len > 0 && fits_read_col(s->fp, TSTRING, (int)(c - s->cols) + 1, row, 1, 1, NULL, ptrs, &anynul, &st))
          return fits_err(st, err, "reading a variable-length string");
        size_t n = len > 0 ? strnlen(dst, (size_t)len) : 0;
        while (n && dst[n - 1] == ' ') n--;
        a->data.len += n;
      } else if (len > 0) {
        ST_TRY(st_buf_reserve(&a->data, (size_t)len * (size_t)c->es, err));
        if (fits_read_col(s->fp, c->vla_type, (int)(c - s->cols) + 1, row, 1, len, NULL,
                          a->data.data + a->data.len, &anynul, &st))
          return fits_err(st, err, "reading a variable-length array");
        a->data.len += (size_t)len * (size_t)c->es;
      }
      int64_t end = c->vla_type == TSTRING ? (int64_t)a->data.len : (int64_t)(a->data.len / (size_t)c->es);
      ST_CHECK(end <= INT32_MAX, err, ST_ERR_LIMIT, "FITS: column '%s': over 2^31 values in a batch", c->name);
      int32_t o = (int32_t)end;
      ST_TRY(st_buf_append(&a->offs, &o, 4, err));
    }
    return 0;
  }
  if (c->kind == K_BITS) {
    uint8_t *d = a->vals->data + row0 * cnt;
    const uint8_t *src = s->raw + c->off;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < cnt; k++) d[r * cnt + k] = (src[r * W + k / 8] >> (7 - k % 8)) & 1;
    return 0;
  }
  if (c->kind == K_BOOL) {
    uint8_t *d = a->vals->data + row0 * cnt;
    const uint8_t *src = s->raw + c->off;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < cnt; k++) d[r * cnt + k] = src[r * W + k] == 'T';
    return 0;
  }
  uint8_t *d = a->vals->data + row0 * cnt * c->es;
  decode_fixed(c, s->raw, W, rows, d);
  int64_t n = rows * cnt;
  if (c->has_null) {
    for (int64_t i = 0; i < n; i++) a->valid[row0 * cnt + i] = load_raw_int(d, c->es, i) != c->tnull;
  }
  if (c->flip) {
    switch (c->es) {
      case 1: for (int64_t i = 0; i < n; i++) d[i] ^= 0x80; break;
      case 2: for (int64_t i = 0; i < n; i++) ((uint16_t *)d)[i] ^= 0x8000u; break;
      case 4: for (int64_t i = 0; i < n; i++) ((uint32_t *)d)[i] ^= 0x80000000u; break;
      default: for (int64_t i = 0; i < n; i++) ((uint64_t *)d)[i] ^= 0x8000000000000000ull; break;
    }
  } else if (c->scaled) {
    double *o = (double *)a->dbl->data + row0 * cnt;
    if (c->kind == K_FLOAT) {
      if (c->es == 4)
        for (int64_t i = 0; i < n; i++) o[i] = (double)((const float *)d)[i] * c->scal + c->zero;
      else
        for (int64_t i = 0; i < n; i++) o[i] = ((const double *)d)[i] * c->scal + c->zero;
    } else {
      if (c->es == 1)
        for (int64_t i = 0; i < n; i++) o[i] = (double)d[i] * c->scal + c->zero;
      else
        for (int64_t i = 0; i < n; i++) o[i] = (double)load_raw_int(d, c->es, i) * c->scal + c->zero;
    }
  }
  return 0;
}

static int wrap_lists(const fits_col *c, int64_t rows, st_array **leaf, st_error *err) {
  int64_t len = rows * c->cnt;
  st_array *cur = *leaf;
  for (int d = 0; d < c->ndim; d++) {
    len /= c->dims[d];
    st_array *l = st_array_new();
    if (!l) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    l->children = calloc(1, sizeof(st_array *));
    if (!l->children) {
      st_array_free(l);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    l->length = len;
    l->null_count = 0;
    l->n_buffers = 1;
    l->n_children = 1;
    l->children[0] = cur;
    cur = l;
    *leaf = cur;
  }
  return 0;
}

static int finish_acc(const fits_col *c, fits_acc *a, int64_t rows, st_array **out, st_error *err) {
  int64_t n = rows * c->cnt;
  st_array *leaf = NULL;
  if (c->kind == K_VLA && c->out != ST_T_STRING) {
    int64_t nv = a->offs.len / 4 ? (int64_t)((const int32_t *)a->offs.data)[a->offs.len / 4 - 1] : 0;
    st_mem *vals;
    if (c->out == ST_T_BOOL) {
      vals = st_mem_new((size_t)(nv + 7) / 8 + 1);
      if (!vals) return st_fail(err, ST_ERR_NOMEM, "out of memory");
      memset(vals->data, 0, (size_t)(nv + 7) / 8 + 1);
      for (int64_t i = 0; i < nv; i++)
        if (a->data.data[i]) vals->data[i >> 3] |= (uint8_t)(1u << (i & 7));
      st_buf_free(&a->data);
    } else {
      vals = st_buf_detach(&a->data);
    }
    st_mem *o = st_buf_detach(&a->offs);
    st_array *child = vals ? st_rd_array(nv, vals, NULL, 0) : NULL;
    st_array *l = o ? st_rd_array(rows, o, NULL, 0) : NULL;
    if (l) l->children = calloc(1, sizeof(st_array *));
    if (!child || !l || !l->children) {
      if (!vals || !child) st_mem_unref(vals);
      if (!l) st_mem_unref(o);
      st_array_free(child);
      st_array_free(l);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    l->n_children = 1;
    l->children[0] = child;
    *out = l;
    return 0;
  }
  if (c->kind == K_STRING || c->kind == K_VLA) {
    st_mem *o = st_buf_detach(&a->offs), *d = st_buf_detach(&a->data);
    if (!o || !d) {
      st_mem_unref(o);
      st_mem_unref(d);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    leaf = st_rd_array(n, o, NULL, 0);
    if (!leaf) {
      st_mem_unref(d);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    leaf->n_buffers = 3;
    leaf->mem[2] = d;
    leaf->buf[2] = d->data;
  } else {
    st_mem *vals;
    if (c->out == ST_T_BOOL) {
      vals = st_mem_new((size_t)(n + 7) / 8 + 1);
      if (!vals) return st_fail(err, ST_ERR_NOMEM, "out of memory");
      memset(vals->data, 0, (size_t)(n + 7) / 8 + 1);
      for (int64_t i = 0; i < n; i++)
        if (a->vals->data[i]) vals->data[i >> 3] |= (uint8_t)(1u << (i & 7));
    } else if (c->scaled) {
      vals = a->dbl;
      a->dbl = NULL;
    } else {
      vals = a->vals;
      a->vals = NULL;
    }
    st_mem *bm = NULL;
    int64_t nulls = 0;
    if (a->valid && st_rd_bitmap(a->valid, n, &bm, &nulls, err)) {
      st_mem_unref(vals);
      return err->code;
    }
    leaf = st_rd_array(n, vals, bm, nulls);
    if (!leaf) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  int rc = wrap_lists(c, rows, &leaf, err);
  if (rc) {
    st_array_free(leaf);
    return rc;
  }
  *out = leaf;
  return 0;
}

static void acc_free(fits_acc *a) {
  st_mem_unref(a->vals);
  st_mem_unref(a->dbl);
  free(a->valid);
  st_buf_free(&a->offs);
  st_buf_free(&a->data);
}

static int fits_next(st_input *in, st_table **out, st_error *err) {
  fits_state *s = in->state;
  *out = NULL;
  int64_t rows = s->end_row - s->next_row;
  if (rows <= 0) return 0;
  if (rows > in->batch_rows) rows = in->batch_rows;
  int nn = in->n_need;
  fits_acc *acc = calloc((size_t)nn + 1, sizeof(fits_acc));
  st_array **arr = calloc((size_t)nn + 1, sizeof(st_array *));
  st_field *fields = calloc((size_t)nn + 1, sizeof(st_field));
  int rc = (acc && arr && fields) ? 0 : st_fail(err, ST_ERR_NOMEM, "out of memory");
  for (int i = 0; i < nn && !rc; i++) {
    const fits_col *c = &s->cols[in->need[i]];
    fields[i] = in->raw.children[in->need[i]];
    if (c->kind == K_STRING || c->kind == K_VLA) {
      int32_t z = 0;
      rc = st_buf_append(&acc[i].offs, &z, 4, err);
      continue;
    }
    size_t n = (size_t)(rows * c->cnt);
    acc[i].vals = st_mem_new(n * (size_t)c->es + 1);
    if (c->scaled) acc[i].dbl = st_mem_new(n * 8 + 1);
    if (c->has_null) acc[i].valid = malloc(n + 1);
    if (!acc[i].vals || (c->scaled && !acc[i].dbl) || (c->has_null && !acc[i].valid))
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  for (int64_t done = 0; done < rows && !rc;) {
    int64_t k = rows - done < s->ch ? rows - done : s->ch;
    int st = 0;
    if (s->width > 0 &&
        fits_read_tblbytes(s->fp, s->next_row + 1, 1, k * s->width, s->raw, &st)) {
      char what[64];
      snprintf(what, sizeof what, "reading rows %lld..%lld", (long long)s->next_row + 1,
               (long long)(s->next_row + k));
      rc = fits_err(st, err, what);
      break;
    }
    for (int i = 0; i < nn && !rc; i++) rc = decode_chunk(s, &s->cols[in->need[i]], &acc[i], done, k, err);
    s->next_row += k;
    done += k;
  }
  for (int i = 0; i < nn && !rc; i++) rc = finish_acc(&s->cols[in->need[i]], &acc[i], rows, &arr[i], err);
  if (!rc) {
    rc = st_table_new(fields, arr, nn, rows, NULL, out, err);
  } else if (arr) {
    for (int i = 0; i < nn; i++) st_array_free(arr[i]);
  }
  if (acc)
    for (int i = 0; i < nn; i++) acc_free(&acc[i]);
  free(acc);
  free(arr);
  free(fields);
  in->bytes_read = (uint64_t)(s->next_row * s->width);
  return rc;
}

static void fits_close_(st_input *in) {
  fits_state *s = in->state;
  if (!s) return;
  int st = 0;
  if (s->fp) fits_close_file(s->fp, &st);
  free(s->cols);
  free(s->raw);
  free(s);
  in->state = NULL;
}

const st_reader_format st_reader_fits = {"fits", fits_bid, fits_open_, fits_next, fits_close_};
