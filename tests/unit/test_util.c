/* Unit tests for src/util: error messages and buffers. */
#include "test.h"
#include "util/err.h"
#include "util/mem.h"

TEST(error_prefix_and_code) {
  st_error err = {0};
  int rc = st_fail(&err, ST_ERR_CORRUPT, "page header: size %d too large", 7);
  CHECK_EQ_I64(rc, ST_ERR_CORRUPT);
  st_error_prefix(&err, "%s: ", "x.parquet");
  CHECK(!strcmp(err.msg, "x.parquet: page header: size 7 too large"));
  CHECK(!strcmp(st_code_name(ST_ERR_CORRUPT), "corrupt data"));
}

TEST(buf_grow_and_detach) {
  st_buf b;
  st_buf_init(&b);
  st_error err = {0};
  for (int i = 0; i < 10000; i++) CHECK_OK(st_buf_append(&b, &i, sizeof i, &err), &err);
  CHECK_EQ_I64(b.len, 40000);
  CHECK_EQ_I64(((int *)b.data)[9999], 9999);
  CHECK_EQ_I64((uintptr_t)b.data % ST_ALIGN, 0);
  st_mem *m = st_buf_detach(&b);
  CHECK(m && m->size == 40000 && b.data == NULL);
  st_mem_ref(m);
  st_mem_unref(m);
  CHECK_EQ_I64(((int *)m->data)[5], 5);
  st_mem_unref(m);
}
