/*
** This file implements CLI-free unit tests of the input readers (module
** readers), mainly so that ASan/UBSan see the CSV tokenizer, the gzip/zip
** sources, the FITS decoder and the schema code: small generated files with
** values checked against the text written, every truncation of a CSV, a
** gzip stream and a FITS file (must fail cleanly or read a prefix, never
** crash), and the error messages (path, line, column).
*/
#include <dirent.h>
#include <fitsio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test.h"

const char *st_test_shared(void);

static void write_file(const char *path, const void *data, size_t n) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return;
  fwrite(data, 1, n, fp);
  fclose(fp);
}

static char tmpdir[64];

/* Remove the scratch directory at exit. */
__attribute__((destructor)) static void rm_tmpdir(void) {
  if (!tmpdir[0]) return;
  DIR *d = opendir(tmpdir);
  if (d) {
    struct dirent *e;
    char p[352];
    while ((e = readdir(d)))
      if (e->d_name[0] != '.') {
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
      }
    closedir(d);
  }
  rmdir(tmpdir);
}
static const char *tmp(const char *name) {
  static char buf[4][160];
  static int k;
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/st_rdrs_XXXXXX");
    if (!mkdtemp(tmpdir)) return NULL;
  }
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* Read a whole file; returns the total rows (or -1 with err set), frees batches. */
static int64_t read_rows(const char *path, const st_input_options *o, st_error *err, st_table **first) {
  st_input *in = NULL;
  if (first) *first = NULL;
  if (st_input_open(path, o, &in, err)) return -1;
  int64_t n = 0;
  for (;;) {
    st_table *t = NULL;
    if (st_input_next(in, &t, err)) {
      st_input_close(in);
      return -1;
    }
    if (!t) break;
    if (st_table_validate(t, err)) {
      st_table_free(t);
      st_input_close(in);
      return -2;
    }
    n += t->n_rows;
    if (first && !*first) *first = t;
    else st_table_free(t);
  }
  st_input_close(in);
  return n;
}

static const char *CSV_TEXT =
    "id,name,val,flag\n"
    "1,\"a, b\",1.5,true\n"
    "2,\"say \"\"hi\"\"\",NA,false\r\n"
    "3,\"multi\nline\",-2.25e3,True\n"
    "4,,0.1,FALSE\n";

TEST(readers_csv_basic) {
  st_error err = {0};
  const char *p = tmp("basic.csv");
  write_file(p, CSV_TEXT, strlen(CSV_TEXT));
  st_table *t = NULL;
  CHECK_EQ_I64(read_rows(p, NULL, &err, &t), 4);
  CHECK(t && t->n_columns == 4);
  CHECK(t->schema.children[0].type == ST_T_INT64);
  CHECK(t->schema.children[1].type == ST_T_STRING);
  CHECK(t->schema.children[2].type == ST_T_DOUBLE);
  CHECK(t->schema.children[3].type == ST_T_BOOL);
  const int64_t *ids = (const int64_t *)t->columns[0]->buf[1];
  CHECK(ids[0] == 1 && ids[3] == 4);
  const double *v = (const double *)t->columns[2]->buf[1];
  CHECK(v[0] == 1.5 && v[2] == -2250.0 && v[3] == 0.1);
  CHECK(!st_array_is_valid(t->columns[2], 1));
  const int32_t *off = (const int32_t *)t->columns[1]->buf[1];
  const char *s = (const char *)t->columns[1]->buf[2];
  CHECK(off[1] - off[0] == 4 && !memcmp(s + off[0], "a, b", 4));
  CHECK(off[2] - off[1] == 8 && !memcmp(s + off[1], "say \"hi\"", 8));
  CHECK(off[3] - off[2] == 10 && !memcmp(s + off[2], "multi\nline", 10));
  CHECK(!st_array_is_valid(t->columns[1], 3));
  const uint8_t *b = t->columns[3]->buf[1];
  CHECK((b[0] & 0xf) == 0x5);
  st_table_free(t);
}

TEST(readers_csv_gzip_batches) {
  st_error err = {0};
  const char *p = tmp("many.csv.gz");
  gzFile g = gzopen(p, "wb");
  CHECK(g);
  gzprintf(g, "i,d\n");
  for (int i = 0; i < 5000; i++) gzprintf(g, "%d,%d.25\n", i * 7 - 100, i);
  gzclose(g);
  st_input_options o;
  st_input_options_init(&o);
  o.batch_rows = 333;
  st_input *in = NULL;
  CHECK_OK(st_input_open(p, &o, &in, &err), &err);
  int64_t row = 0;
  for (;;) {
    st_table *t = NULL;
    CHECK_OK(st_input_next(in, &t, &err), &err);
    if (!t) break;
    CHECK(t->n_rows <= 333);
    const int64_t *iv = (const int64_t *)t->columns[0]->buf[1];
    const double *dv = (const double *)t->columns[1]->buf[1];
    for (int64_t k = 0; k < t->n_rows; k++, row++) {
      if (iv[k] != row * 7 - 100 || dv[k] != (double)row + 0.25) {
        st_table_free(t);
        st_input_close(in);
        CHECK(0);
      }
    }
    st_table_free(t);
  }
  CHECK_EQ_I64(row, 5000);
  CHECK(st_input_bytes_read(in) > 0);
  st_input_close(in);
}

TEST(readers_csv_truncations_never_crash) {
  st_error err = {0};
  const char *p = tmp("trunc.csv");
  size_t n = strlen(CSV_TEXT);
  for (size_t k = 0; k <= n; k++) {
    write_file(p, CSV_TEXT, k);
    int64_t r = read_rows(p, NULL, &err, NULL);
    CHECK(r >= -1);
    if (r < 0) CHECK(strstr(err.msg, p) != NULL);
  }
  /* gzip: every truncation fails cleanly (or reads, for the full stream) */
  const char *gp = tmp("trunc.csv.gz");
  gzFile g = gzopen(gp, "wb");
  CHECK(g);
  gzwrite(g, CSV_TEXT, (unsigned)n);
  gzclose(g);
  FILE *fp = fopen(gp, "rb");
  CHECK(fp);
  uint8_t gz[4096];
  size_t gn = fread(gz, 1, sizeof gz, fp);
  fclose(fp);
  const char *gp2 = tmp("cut.csv.gz");
  for (size_t k = 0; k < gn; k++) {
    write_file(gp2, gz, k);
    int64_t r = read_rows(gp2, NULL, &err, NULL);
    CHECK(r == -1 || r >= 0);
    if (k > 10 && k < gn - 8) CHECK(r == -1 && strstr(err.msg, gp2));
  }
  /* flipped bytes in the deflate stream */
  for (size_t k = 10; k < gn; k += 3) {
    uint8_t c[4096];
    memcpy(c, gz, gn);
    c[k] ^= 0x5a;
    write_file(gp2, c, gn);
    int64_t r = read_rows(gp2, NULL, &err, NULL);
    CHECK(r >= -1);
  }
}

TEST(readers_csv_errors_name_line) {
  st_error err = {0};
  const char *p = tmp("bad.csv");
  const char *txt = "a,b\n1,2\n3,4,5\n";
  write_file(p, txt, strlen(txt));
  CHECK_EQ_I64(read_rows(p, NULL, &err, NULL), -1);
  CHECK(strstr(err.msg, p) && strstr(err.msg, "line 3"));
  const char *q = "a,b\n1,\"open\n";
  write_file(p, q, strlen(q));
  CHECK_EQ_I64(read_rows(p, NULL, &err, NULL), -1);
  CHECK(strstr(err.msg, "not closed"));
}

TEST(readers_infer_and_unify) {
  st_error err = {0};
  char a[160], b[160], c[160];
  snprintf(a, sizeof a, "%s", tmp("ua.csv"));
  snprintf(b, sizeof b, "%s", tmp("ub.csv"));
  snprintf(c, sizeof c, "%s", tmp("uc.csv"));
  write_file(a, "x,y,z\n1,2,\n", 11);
  write_file(b, "x,y,z\n1,2.5,\n", 13);
  write_file(c, "x,y,z\n1,str,\n", 13);
  const char *ab[] = {a, b};
  st_field f;
  CHECK_OK(st_input_infer_schema(ab, 2, NULL, &f, &err), &err);
  CHECK(f.n_children == 3);
  CHECK(f.children[0].type == ST_T_INT64);
  CHECK(f.children[1].type == ST_T_DOUBLE);
  CHECK(f.children[2].type == ST_T_DOUBLE);  /* all null: double, as pandas */
  st_input_options o;
  st_input_options_init(&o);
  o.schema = &f;
  st_table *t = NULL;
  CHECK_EQ_I64(read_rows(a, &o, &err, &t), 1);
  CHECK(t->schema.children[1].type == ST_T_DOUBLE && ((const double *)t->columns[1]->buf[1])[0] == 2.0);
  st_table_free(t);
  st_field_clear(&f);
  const char *abc[] = {a, b, c};
  CHECK(st_input_infer_schema(abc, 3, NULL, &f, &err) == ST_ERR_SCHEMA);
  CHECK(strstr(err.msg, "'y'") && strstr(err.msg, c) && (strstr(err.msg, a) || strstr(err.msg, b)));
}

TEST(readers_filename_column) {
  st_error err = {0};
  const char *p = tmp("ztf_0065_1990_g.csv");
  write_file(p, "a\n1\n2\n", 6);
  st_input_options o;
  st_input_options_init(&o);
  o.filename_regex = "_([a-z])\\.csv$";
  o.filename_column = "band";
  st_table *t = NULL;
  CHECK_EQ_I64(read_rows(p, &o, &err, &t), 2);
  CHECK(t->n_columns == 2 && !strcmp(t->schema.children[1].name, "band"));
  const int32_t *off = (const int32_t *)t->columns[1]->buf[1];
  CHECK(off[2] == 2 && !memcmp(t->columns[1]->buf[2], "gg", 2));
  st_table_free(t);
}

TEST(readers_fits_fixture_and_truncations) {
  st_error err = {0};
  char path[512];
  snprintf(path, sizeof path, "%s/fixtures/hats-import/test_formats/tess_gam02_10rows.fits", st_test_shared());
  if (access(path, R_OK)) return;  /* fixtures absent */
  st_table *t = NULL;
  CHECK_EQ_I64(read_rows(path, NULL, &err, &t), 10);
  int k = st_table_column_index(t, "FLUX");
  CHECK(k >= 0 && t->schema.children[k].type == ST_T_FIXED_LIST && t->schema.children[k].byte_width == 5);
  st_table_free(t);
  FILE *fp = fopen(path, "rb");
  CHECK(fp);
  static uint8_t data[65536];
  size_t n = fread(data, 1, sizeof data, fp);
  fclose(fp);
  const char *p = tmp("cut.fits");
  for (size_t cut = 0; cut < n; cut += 2880 / 4) {
    write_file(p, data, cut);
    int64_t r = read_rows(p, NULL, &err, NULL);
    CHECK(r == -1 || r == 10);
  }
}

TEST(readers_forced_types) {
  st_error err = {0};
  const char *p = tmp("forced.csv");
  write_file(p, "s,i,u\nab,1,7\n,2,8\ncd,3,9\n", 24);
  st_field sch, f;
  CHECK_OK(st_field_init(&sch, "", ST_T_STRUCT, false), &err);
  st_field_init(&f, "s", ST_T_LARGE_STRING, true);
  st_field_add_child(&sch, &f);
  st_field_clear(&f);
  st_field_init(&f, "i", ST_T_INT16, true);
  st_field_add_child(&sch, &f);
  st_field_clear(&f);
  st_field_init(&f, "u", ST_T_FLOAT, true);
  st_field_add_child(&sch, &f);
  st_field_clear(&f);
  st_input_options o;
  st_input_options_init(&o);
  o.schema = &sch;
  o.batch_rows = 2;
  st_input *in = NULL;
  CHECK_OK(st_input_open(p, &o, &in, &err), &err);
  st_table *t = NULL;
  CHECK_OK(st_input_next(in, &t, &err), &err);
  CHECK(t && t->n_rows == 2);
  CHECK(t->schema.children[0].type == ST_T_LARGE_STRING && t->schema.children[1].type == ST_T_INT16 &&
        t->schema.children[2].type == ST_T_FLOAT);
  const int64_t *o64 = (const int64_t *)t->columns[0]->buf[1];
  CHECK(o64[0] == 0 && o64[1] == 2 && o64[2] == 2 && !st_array_is_valid(t->columns[0], 1));
  CHECK(((const int16_t *)t->columns[1]->buf[1])[1] == 2);
  CHECK(((const float *)t->columns[2]->buf[1])[0] == 7.0f);
  CHECK_OK(st_table_validate(t, &err), &err);
  st_table_free(t);
  st_input_close(in);
  st_field_clear(&sch);
}

TEST(readers_csv_random_bytes) {
  /* random mixes of delimiters, quotes, line ends and digits: any outcome but a crash */
  st_error err = {0};
  const char *p = tmp("rand.csv");
  const char alphabet[] = "ab01.,\"\n\r\t-e5 |#";
  uint32_t x = 12345;
  char buf[300];
  for (int it = 0; it < 400; it++) {
    size_t n = 1 + (size_t)(it % 290);
    for (size_t i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
    }
    write_file(p, buf, n);
    st_input_options o;
    st_input_options_init(&o);
    o.batch_rows = 1 + it % 5;
    o.comment = (it & 1) ? '#' : 0;
    o.header = (it & 2) != 0;
    int64_t r = read_rows(p, &o, &err, NULL);
    CHECK(r >= -1);
  }
}

TEST(readers_fits_vla_and_strings) {
  /* a table written with cfitsio: a variable-length int32 column, a
     variable-length string, a 2x3 TDIM double column, an unsigned short */
  st_error err = {0};
  char path[200];
  snprintf(path, sizeof path, "!%s", tmp("vla.fits"));
  fitsfile *fp = NULL;
  int st = 0;
  char *ttype[] = {"vj", "vs", "arr", "u"};
  char *tform[] = {"1PJ", "1PA", "6D", "1U"};
  fits_create_file(&fp, path, &st);
  fits_create_tbl(fp, BINARY_TBL, 0, 4, ttype, tform, NULL, "T", &st);
  long naxes[2] = {3, 2};
  fits_write_tdim(fp, 3, 2, naxes, &st);
  for (int r = 1; r <= 5; r++) {
    int v[4] = {r, -r, 10 * r, 7};
    fits_write_col(fp, TINT, 1, r, 1, r % 4, v, &st);
    char sbuf[16];
    snprintf(sbuf, sizeof sbuf, "s%d  ", r);
    char *sp[1] = {sbuf};
    fits_write_col(fp, TSTRING, 2, r, 1, 1, sp, &st);
    double d[6];
    for (int k = 0; k < 6; k++) d[k] = r * 10 + k;
    fits_write_col(fp, TDOUBLE, 3, r, 1, 6, d, &st);
    unsigned short u = (unsigned short)(60000 + r);
    fits_write_col(fp, TUSHORT, 4, r, 1, 1, &u, &st);
  }
  fits_close_file(fp, &st);
  CHECK_EQ_I64(st, 0);
  st_input_options o;
  st_input_options_init(&o);
  o.batch_rows = 2;
  st_input *in = NULL;
  CHECK_OK(st_input_open(path + 1, &o, &in, &err), &err);
  const st_field *sch = st_input_schema(in);
  CHECK(sch->n_children == 4 && sch->children[0].type == ST_T_LIST && sch->children[1].type == ST_T_STRING);
  CHECK(sch->children[2].type == ST_T_FIXED_LIST && sch->children[2].byte_width == 2 &&
        sch->children[2].children[0].byte_width == 3);
  CHECK(sch->children[3].type == ST_T_UINT16);
  int64_t row = 0;
  for (;;) {
    st_table *t = NULL;
    CHECK_OK(st_input_next(in, &t, &err), &err);
    if (!t) break;
    CHECK_OK(st_table_validate(t, &err), &err);
    const int32_t *off = (const int32_t *)t->columns[0]->buf[1];
    const int32_t *vals = (const int32_t *)t->columns[0]->children[0]->buf[1];
    const int32_t *soff = (const int32_t *)t->columns[1]->buf[1];
    const char *sdata = (const char *)t->columns[1]->buf[2];
    const double *d = (const double *)t->columns[2]->children[0]->children[0]->buf[1];
    const uint16_t *u = (const uint16_t *)t->columns[3]->buf[1];
    bool ok = true;
    for (int64_t k = 0; k < t->n_rows; k++) {
      int r = (int)(row + k + 1);
      ok &= off[k + 1] - off[k] == r % 4;
      if (r % 4 >= 1) ok &= vals[off[k]] == r;
      char want[16];
      int wl = snprintf(want, sizeof want, "s%d", r);
      ok &= soff[k + 1] - soff[k] == wl && !memcmp(sdata + soff[k], want, (size_t)wl);
      ok &= d[k * 6 + 4] == r * 10 + 4;
      ok &= u[k] == 60000 + r;
    }
    row += t->n_rows;
    st_table_free(t);
    if (!ok) st_input_close(in);
    CHECK(ok);
  }
  CHECK_EQ_I64(row, 5);
  st_input_close(in);
}

TEST(readers_csv_doubles_equal_strtod) {
  /* digit runs of every length around the point (the 8-digits-at-a-time path
     and its fallbacks), leading zeros, signs, exponents; each file is small
     (tight buffer) and each value must be bit-identical to glibc strtod's
     (correctly rounded) */
  st_error err = {0};
  const char *p = tmp("dbl.csv");
  uint32_t x = 777;
  enum { N = 400 };
  static char text[N * 64 + 8];
  static char vals[N][64];
  for (int it = 0; it < 20; it++) {
    size_t len = 0;
    len += (size_t)sprintf(text, "v\n");
    for (int r = 0; r < N; r++) {
      char *v = vals[r];
      int k = 0;
      x = x * 1103515245u + 12345u;
      if ((x >> 8) % 4 == 0) v[k++] = (x >> 12) & 1 ? '-' : '+';
      x = x * 1103515245u + 12345u;
      int ni = (int)((x >> 16) % 23), nf = (int)((x >> 4) % 23);
      if ((x >> 28) % 3 == 0) v[k++] = '0', v[k++] = '0';
      for (int i = 0; i < ni; i++) x = x * 1103515245u + 12345u, v[k++] = (char)('0' + (x >> 16) % 10);
      v[k++] = '.';
      if (!ni && !nf) v[k++] = '7';
      for (int i = 0; i < nf; i++) x = x * 1103515245u + 12345u, v[k++] = (char)('0' + (x >> 16) % 10);
      x = x * 1103515245u + 12345u;
      if ((x >> 16) % 3 == 0) k += sprintf(v + k, "e%d", (int)((x >> 4) % 61) - 30);
      v[k] = 0;
      len += (size_t)sprintf(text + len, "%s\n", v);
    }
    write_file(p, text, len);
    st_table *t = NULL;
    st_input_options o;
    st_input_options_init(&o);
    o.batch_rows = N;
    CHECK(read_rows(p, &o, &err, &t) == N);
    CHECK(t && t->schema.children[0].type == ST_T_DOUBLE);
    if (!t) return;
    const double *d = (const double *)t->columns[0]->buf[1];
    int bad = 0;
    for (int r = 0; r < N; r++) {
      double want = strtod(vals[r], NULL);
      if (memcmp(&want, &d[r], 8)) bad++;
    }
    CHECK(bad == 0);
    st_table_free(t);
  }
}
