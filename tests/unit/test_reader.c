/*
** This file implements unit tests of the Parquet reader's nested assembly
** (src/parquet/assemble.c): schemas and definition/repetition levels are
** built by hand, following the Dremel rules of the Parquet spec, and the
** assembled Arrow arrays (offsets, validity, child lengths) are checked
** against values worked out by hand.
*/
#include "test.h"

#include <stdlib.h>

#include "parquet/meta.h"
#include "parquet/reader_priv.h"

/* A schema element. */
static st_pq_schema_elem E(const char *name, int rep, int nchild, int type, int ct) {
  st_pq_schema_elem e;
  memset(&e, 0, sizeof e);
  e.name = (char *)name;
  e.has_repetition = true;
  e.repetition = rep;
  e.num_children = nchild;
  if (nchild == 0) {
    e.has_type = true;
    e.type = type;
  }
  e.converted_type = ct;
  return e;
}

typedef struct fixture {
  st_pq_file_meta m;
  st_pq_tree s;
  st_pq_leafspec specs[4];
  st_pq_leafdata leaves[4];
  int nl;
} fixture;

/* Build the schema and, for leaf i, levels d/r (n entries) and int32 values for valid slots. */
static int fx_init(fixture *f, st_pq_schema_elem *el, int n_el, st_error *err) {
  memset(f, 0, sizeof *f);
  f->m.n_schema = n_el;
  f->m.schema = el;
  return st_pq_schema_build(&f->m, &f->s, err);
}

static int fx_leaf(fixture *f, int leaf, const int16_t *d, const int16_t *r, int n,
                   const int32_t *vals, st_error *err) {
  st_pq_leafspec *sp = &f->specs[leaf];
  st_pq_leafdata *ld = &f->leaves[leaf];
  ST_TRY(st_pq_leafspec_init(sp, &f->s, leaf, true, false, err));
  st_pq_leafdata_init(ld);
  ST_TRY(st_pq_leafdata_reserve(ld, sp, n, 1 << 30, err));
  if (sp->max_def) memset(ld->valid.data, 0, ld->valid.cap);   /* reserve does not zero */
  int vi = 0;
  for (int i = 0; i < n; i++) {
    if (sp->max_def) ((int16_t *)(void *)ld->def.data)[i] = d[i];
    if (sp->max_rep) ((int16_t *)(void *)ld->rep.data)[i] = r[i];
    int dv = sp->max_def ? d[i] : 0;
    if (dv < sp->rad) continue;
    int64_t s = ld->n_slots++;
    if (dv >= sp->max_def) {
      if (sp->max_def) ld->valid.data[s >> 3] |= (uint8_t)(1u << (s & 7));
      ((int32_t *)(void *)ld->values.data)[s] = vals[vi++];
    } else {
      ld->null_count++;
      ((int32_t *)(void *)ld->values.data)[s] = 0;
    }
  }
  ld->n_levels = n;
  if (leaf + 1 > f->nl) f->nl = leaf + 1;
  return ST_OK;
}

static void fx_free(fixture *f) {
  for (int i = 0; i < f->nl; i++) st_pq_leafdata_free(&f->leaves[i]);
  st_pq_schema_free(&f->s);
}

static bool valid_at(const st_array *a, int64_t i) { return st_array_is_valid(a, i); }
static int32_t off_at(const st_array *a, int64_t i) { return ((const int32_t *)(const void *)a->buf[1])[i]; }
static int32_t i32_at(const st_array *a, int64_t i) { return ((const int32_t *)(const void *)a->buf[1])[i]; }

/* optional group a (LIST) { repeated group list { optional int32 element } }
** rows: null, [], [null], [1, 2], [3] */
TEST(reader_assemble_list_nulls_vs_empty) {
  st_pq_schema_elem el[] = {E("schema", ST_PQ_REQUIRED, 1, 0, 0),
                            E("a", ST_PQ_OPTIONAL, 1, 0, ST_PQ_CT_LIST),
                            E("list", ST_PQ_REPEATED, 1, 0, 0),
                            E("element", ST_PQ_OPTIONAL, 0, ST_PQ_INT32, 0)};
  fixture f;
  st_error err = {0};
  CHECK_OK(fx_init(&f, el, 4, &err), &err);
  int16_t d[] = {0, 1, 2, 3, 3, 3};
  int16_t r[] = {0, 0, 0, 0, 1, 0};
  int32_t v[] = {1, 2, 3};
  CHECK_OK(fx_leaf(&f, 0, d, r, 6, v, &err), &err);
  st_array *a = NULL;
  CHECK_OK(st_pq_assemble(&f.s, f.s.top_node[0], 0, f.specs, f.leaves, 5, &a, &err), &err);
  CHECK_EQ_I64(a->length, 5);
  CHECK(!valid_at(a, 0) && valid_at(a, 1) && valid_at(a, 2) && valid_at(a, 3) && valid_at(a, 4));
  int32_t want_off[] = {0, 0, 0, 1, 3, 4};
  for (int i = 0; i < 6; i++) CHECK_EQ_I64(off_at(a, i), want_off[i]);
  CHECK_EQ_I64(a->n_children, 1);
  st_array *c = a->children[0];
  CHECK_EQ_I64(c->length, 4);
  CHECK(!valid_at(c, 0) && valid_at(c, 1) && valid_at(c, 2) && valid_at(c, 3));
  CHECK_EQ_I64(i32_at(c, 1), 1);
  CHECK_EQ_I64(i32_at(c, 2), 2);
  CHECK_EQ_I64(i32_at(c, 3), 3);
  st_array_free(a);
  fx_free(&f);
}

/* required group a (LIST) { repeated group list { required group element (LIST) {
**   repeated group list { optional int32 element } } } }
** rows: [[1, 2], []], [], [[null], [3]] */
TEST(reader_assemble_nested_lists) {
  st_pq_schema_elem el[] = {E("schema", ST_PQ_REQUIRED, 1, 0, 0),
                            E("a", ST_PQ_REQUIRED, 1, 0, ST_PQ_CT_LIST),
                            E("list", ST_PQ_REPEATED, 1, 0, 0),
                            E("element", ST_PQ_REQUIRED, 1, 0, ST_PQ_CT_LIST),
                            E("list", ST_PQ_REPEATED, 1, 0, 0),
                            E("element", ST_PQ_OPTIONAL, 0, ST_PQ_INT32, 0)};
  fixture f;
  st_error err = {0};
  CHECK_OK(fx_init(&f, el, 6, &err), &err);
  /* max_def = 3 (outer list elem present 1, inner elem present 2, value 3), max_rep = 2 */
  CHECK_EQ_I64(f.s.leaves[0].max_def, 3);
  CHECK_EQ_I64(f.s.leaves[0].max_rep, 2);
  int16_t d[] = {3, 3, 1, 0, 2, 3};
  int16_t r[] = {0, 2, 1, 0, 0, 1};
  int32_t v[] = {1, 2, 3};
  CHECK_OK(fx_leaf(&f, 0, d, r, 6, v, &err), &err);
  st_array *a = NULL;
  CHECK_OK(st_pq_assemble(&f.s, f.s.top_node[0], 0, f.specs, f.leaves, 3, &a, &err), &err);
  CHECK_EQ_I64(a->length, 3);
  CHECK_EQ_I64(a->null_count, 0);
  int32_t want0[] = {0, 2, 2, 4};
  for (int i = 0; i < 4; i++) CHECK_EQ_I64(off_at(a, i), want0[i]);
  st_array *in = a->children[0];
  CHECK_EQ_I64(in->length, 4);
  int32_t want1[] = {0, 2, 2, 3, 4};
  for (int i = 0; i < 5; i++) CHECK_EQ_I64(off_at(in, i), want1[i]);
  st_array *v2 = in->children[0];
  CHECK_EQ_I64(v2->length, 4);
  CHECK(valid_at(v2, 0) && valid_at(v2, 1) && !valid_at(v2, 2) && valid_at(v2, 3));
  CHECK_EQ_I64(i32_at(v2, 3), 3);
  st_array_free(a);
  fx_free(&f);
}

/* optional group s { optional int32 x; required int32 y }
** rows: null, {x: null, y: 5}, {x: 7, y: 8} */
TEST(reader_assemble_struct_null_vs_null_child) {
  st_pq_schema_elem el[] = {E("schema", ST_PQ_REQUIRED, 1, 0, 0), E("s", ST_PQ_OPTIONAL, 2, 0, 0),
                            E("x", ST_PQ_OPTIONAL, 0, ST_PQ_INT32, 0),
                            E("y", ST_PQ_REQUIRED, 0, ST_PQ_INT32, 0)};
  fixture f;
  st_error err = {0};
  CHECK_OK(fx_init(&f, el, 4, &err), &err);
  int16_t dx[] = {0, 1, 2}, dy[] = {0, 1, 1};
  int32_t vx[] = {7}, vy[] = {5, 8};
  CHECK_OK(fx_leaf(&f, 0, dx, NULL, 3, vx, &err), &err);
  CHECK_OK(fx_leaf(&f, 1, dy, NULL, 3, vy, &err), &err);
  st_array *a = NULL;
  CHECK_OK(st_pq_assemble(&f.s, f.s.top_node[0], 0, f.specs, f.leaves, 3, &a, &err), &err);
  CHECK_EQ_I64(a->length, 3);
  CHECK(!valid_at(a, 0) && valid_at(a, 1) && valid_at(a, 2));
  CHECK_EQ_I64(a->n_children, 2);
  st_array *x = a->children[0], *y = a->children[1];
  CHECK_EQ_I64(x->length, 3);
  CHECK_EQ_I64(y->length, 3);
  CHECK(!valid_at(x, 0) && !valid_at(x, 1) && valid_at(x, 2));
  CHECK_EQ_I64(i32_at(x, 2), 7);
  CHECK(valid_at(y, 1) && valid_at(y, 2));
  CHECK_EQ_I64(i32_at(y, 1), 5);
  CHECK_EQ_I64(i32_at(y, 2), 8);
  st_array_free(a);
  fx_free(&f);
}

/* Legacy: a bare `repeated int32 r` is a non-nullable list.  rows: [], [4, 5], [6] */
TEST(reader_assemble_bare_repeated) {
  st_pq_schema_elem el[] = {E("schema", ST_PQ_REQUIRED, 1, 0, 0),
                            E("r", ST_PQ_REPEATED, 0, ST_PQ_INT32, 0)};
  fixture f;
  st_error err = {0};
  CHECK_OK(fx_init(&f, el, 2, &err), &err);
  int16_t d[] = {0, 1, 1, 1}, r[] = {0, 0, 1, 0};
  int32_t v[] = {4, 5, 6};
  CHECK_OK(fx_leaf(&f, 0, d, r, 4, v, &err), &err);
  st_array *a = NULL;
  CHECK_OK(st_pq_assemble(&f.s, f.s.top_node[0], 0, f.specs, f.leaves, 3, &a, &err), &err);
  CHECK_EQ_I64(a->length, 3);
  CHECK_EQ_I64(a->null_count, 0);
  int32_t want[] = {0, 0, 2, 3};
  for (int i = 0; i < 4; i++) CHECK_EQ_I64(off_at(a, i), want[i]);
  CHECK_EQ_I64(a->children[0]->length, 3);
  CHECK_EQ_I64(i32_at(a->children[0], 2), 6);
  st_array_free(a);
  fx_free(&f);
}

/* optional group m (MAP) { repeated group key_value { required int32 key; optional int32 value } }
** rows: {1: 10, 2: null}, null, {} */
TEST(reader_assemble_map) {
  st_pq_schema_elem el[] = {E("schema", ST_PQ_REQUIRED, 1, 0, 0),
                            E("m", ST_PQ_OPTIONAL, 1, 0, ST_PQ_CT_MAP),
                            E("key_value", ST_PQ_REPEATED, 2, 0, 0),
                            E("key", ST_PQ_REQUIRED, 0, ST_PQ_INT32, 0),
                            E("value", ST_PQ_OPTIONAL, 0, ST_PQ_INT32, 0)};
  fixture f;
  st_error err = {0};
  CHECK_OK(fx_init(&f, el, 5, &err), &err);
  int16_t dk[] = {2, 2, 0, 1}, rk[] = {0, 1, 0, 0};
  int16_t dv[] = {3, 2, 0, 1}, rv[] = {0, 1, 0, 0};
  int32_t vk[] = {1, 2}, vv[] = {10};
  CHECK_OK(fx_leaf(&f, 0, dk, rk, 4, vk, &err), &err);
  CHECK_OK(fx_leaf(&f, 1, dv, rv, 4, vv, &err), &err);
  st_array *a = NULL;
  CHECK_OK(st_pq_assemble(&f.s, f.s.top_node[0], 0, f.specs, f.leaves, 3, &a, &err), &err);
  CHECK_EQ_I64(a->length, 3);
  CHECK(valid_at(a, 0) && !valid_at(a, 1) && valid_at(a, 2));
  int32_t want[] = {0, 2, 2, 2};
  for (int i = 0; i < 4; i++) CHECK_EQ_I64(off_at(a, i), want[i]);
  st_array *kv = a->children[0];
  CHECK_EQ_I64(kv->length, 2);
  CHECK_EQ_I64(kv->n_children, 2);
  CHECK_EQ_I64(i32_at(kv->children[0], 1), 2);
  CHECK(valid_at(kv->children[1], 0) && !valid_at(kv->children[1], 1));
  CHECK_EQ_I64(i32_at(kv->children[1], 0), 10);
  st_array_free(a);
  fx_free(&f);
}

/* Siblings whose levels disagree (different slot counts) are a corrupt file, not a crash. */
TEST(reader_assemble_inconsistent_siblings) {
  st_pq_schema_elem el[] = {E("schema", ST_PQ_REQUIRED, 1, 0, 0),
                            E("a", ST_PQ_OPTIONAL, 1, 0, ST_PQ_CT_LIST),
                            E("list", ST_PQ_REPEATED, 1, 0, 0),
                            E("element", ST_PQ_REQUIRED, 2, 0, 0),
                            E("x", ST_PQ_REQUIRED, 0, ST_PQ_INT32, 0),
                            E("y", ST_PQ_REQUIRED, 0, ST_PQ_INT32, 0)};
  fixture f;
  st_error err = {0};
  CHECK_OK(fx_init(&f, el, 6, &err), &err);
  int16_t d1[] = {2, 2}, r1[] = {0, 1};
  int16_t d2[] = {2, 1}, r2[] = {0, 0};
  int32_t v[] = {1, 2};
  CHECK_OK(fx_leaf(&f, 0, d1, r1, 2, v, &err), &err);
  CHECK_OK(fx_leaf(&f, 1, d2, r2, 2, v, &err), &err);
  st_array *a = NULL;
  int rc = st_pq_assemble(&f.s, f.s.top_node[0], 0, f.specs, f.leaves, 1, &a, &err);
  CHECK(rc == ST_ERR_CORRUPT);
  CHECK(a == NULL);
  fx_free(&f);
}

/* Legacy BIT_PACKED levels (encoding 4): MSB-first, no length prefix.  Values
** 0..7 at 3 bits: 000 001 010 011 100 101 110 111 -> bytes 0x05 0x39 0x77. */
TEST(reader_levels_bit_packed_legacy) {
  const uint8_t p[] = {0x05, 0x39, 0x77, 0xAA};
  int16_t out[8];
  size_t used = 0;
  st_error err = {0};
  CHECK_OK(st_pq_decode_levels_v1(p, sizeof p, ST_PQ_ENC_BIT_PACKED, 7, out, 8, &used, &err), &err);
  CHECK_EQ_I64(used, 3);
  for (int i = 0; i < 8; i++) CHECK_EQ_I64(out[i], i);
  /* too short */
  CHECK(st_pq_decode_levels_v1(p, 2, ST_PQ_ENC_BIT_PACKED, 7, out, 8, &used, &err) == ST_ERR_CORRUPT);
  /* RLE with length prefix: one run of 5 x value 1 (bit width 1) */
  const uint8_t q[] = {2, 0, 0, 0, 5 << 1, 1};
  CHECK_OK(st_pq_decode_levels_v1(q, sizeof q, ST_PQ_ENC_RLE, 1, out, 5, &used, &err), &err);
  CHECK_EQ_I64(used, 6);
  for (int i = 0; i < 5; i++) CHECK_EQ_I64(out[i], 1);
  /* length prefix past the end */
  const uint8_t r[] = {200, 0, 0, 0, 5 << 1, 1};
  CHECK(st_pq_decode_levels_v1(r, sizeof r, ST_PQ_ENC_RLE, 1, out, 5, &used, &err) == ST_ERR_CORRUPT);
}

/* ---- bad metadata, crafted by re-encoding a real footer ------------------ */

#include "parquet/codec.h"

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)sz);
  if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *n = (size_t)sz;
  return b;
}

typedef void (*meta_edit)(st_pq_file_meta *m);

/* Read alltypes_plain.parquet with its footer edited; returns st_pq_read's (or open's) code.
   When text is given, the CSV text of column `col` is appended to it. */
static int read_edited_col(meta_edit edit, int col, st_text *text, st_error *err) {
  char path[1024];
  snprintf(path, sizeof path, "%s/fixtures/parquet-testing/data/alltypes_plain.parquet",
           st_test_shared());
  size_t n = 0;
  uint8_t *b = slurp(path, &n);
  if (!b) return st_fail(err, ST_ERR_IO, "cannot read %s", path);
  uint32_t flen = (uint32_t)b[n - 8] | (uint32_t)b[n - 7] << 8 | (uint32_t)b[n - 6] << 16 |
                  (uint32_t)b[n - 5] << 24;
  size_t body = n - 8 - flen;
  st_pq_file_meta m;
  memset(&m, 0, sizeof m);
  int rc = st_pq_meta_decode(b + body, flen, &m, err);
  st_buf out;
  st_buf_init(&out);
  if (!rc) {
    edit(&m);
    rc = st_pq_meta_encode(&m, &out, err);
  }
  st_pq_meta_free(&m);
  uint8_t *file = NULL;
  size_t fn = 0;
  if (!rc) {
    fn = body + out.len + 8;
    file = malloc(fn);
    memcpy(file, b, body);
    memcpy(file + body, out.data, out.len);
    uint32_t l = (uint32_t)out.len;
    uint8_t tail[8] = {(uint8_t)l, (uint8_t)(l >> 8), (uint8_t)(l >> 16), (uint8_t)(l >> 24),
                       'P', 'A', 'R', '1'};
    memcpy(file + body + out.len, tail, 8);
    st_pq_reader *r = NULL;
    rc = st_pq_open_memory(file, fn, "edited.parquet", NULL, &r, err);
    if (!rc) {
      st_table *t = NULL;
      rc = st_pq_read(r, NULL, 0, NULL, 0, &t, err);
      for (int64_t i = 0; !rc && text && i < t->n_rows; i++) {
        rc = st_format_value(&t->schema.children[col], t->columns[col], i, ST_FMT_TEXT, text, err);
      }
      st_table_free(t);
      st_pq_close(r);
    }
  }
  st_buf_free(&out);
  free(file);
  free(b);
  return rc;
}

static int read_edited(meta_edit edit, st_error *err) { return read_edited_col(edit, 0, NULL, err); }

static void edit_none(st_pq_file_meta *m) { (void)m; }
static void edit_file_path(st_pq_file_meta *m) {
  m->row_groups[0].columns[1].file_path = strdup("other.parquet");
}
static void edit_huge_chunk(st_pq_file_meta *m) {
  m->row_groups[0].columns[0].meta.total_compressed_size = (int64_t)1 << 40;
}
static void edit_huge_values(st_pq_file_meta *m) {
  m->row_groups[0].columns[0].meta.num_values = (int64_t)1 << 36;
}
static void edit_rows(st_pq_file_meta *m) { m->row_groups[0].num_rows += 1; }
static void edit_offset0(st_pq_file_meta *m) {
  m->row_groups[0].columns[2].meta.data_page_offset = 0;
  m->row_groups[0].columns[2].meta.has_dictionary_page_offset = false;
}
static void edit_type(st_pq_file_meta *m) { m->row_groups[0].columns[0].meta.type = ST_PQ_DOUBLE; }
/* A wrong dictionary_page_offset (pointing at another column's data page) is
   ignored: bool_col has no dictionary; offset 49 is id's first data page. */
static void edit_dict_offset(st_pq_file_meta *m) {
  m->row_groups[0].columns[1].meta.has_dictionary_page_offset = true;
  m->row_groups[0].columns[1].meta.dictionary_page_offset = 49;
}

TEST(reader_bad_metadata_errors) {
  st_error err = {0};
  CHECK_OK(read_edited(edit_none, &err), &err);   /* the round trip itself is fine */
  CHECK(read_edited(edit_file_path, &err) == ST_ERR_UNSUPPORTED);
  CHECK(strstr(err.msg, "external file") && strstr(err.msg, "edited.parquet: column '"));
  CHECK(read_edited(edit_huge_chunk, &err) == ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "outside the file"));
  CHECK(read_edited(edit_huge_values, &err) == ST_ERR_CORRUPT);   /* before any allocation */
  CHECK(strstr(err.msg, "inconsistent"));
  CHECK(read_edited(edit_rows, &err) == ST_ERR_CORRUPT);
  CHECK(strstr(err.msg, "row group 0"));
  CHECK(read_edited(edit_offset0, &err) != 0);
  CHECK(strstr(err.msg, "edited.parquet: column '"));
  CHECK(read_edited(edit_type, &err) == ST_ERR_CORRUPT);
  st_text want = {0}, got = {0};
  CHECK_OK(read_edited_col(edit_none, 1, &want, &err), &err);
  CHECK_OK(read_edited_col(edit_dict_offset, 1, &got, &err), &err);
  CHECK(want.len > 0 && got.len == want.len && !memcmp(got.data, want.data, want.len));
  st_text_free(&want);
  st_text_free(&got);
}
