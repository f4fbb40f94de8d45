/*
** This file implements unit tests of the hats module: the properties and
** catalog_info.json parsers, the relative-path check, Norder/Npix path
** parsing, and st_catalog_open on a properties-only catalog made in a temp
** directory (catalogs with data are covered by tests/test_hats_*.py, with
** hats and pyarrow as oracles).
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "hats/hats_int.h"

TEST(hats_props_parse) {
  st_error err = {0};
  ht_props p = {0};
  CHECK_OK(ht_props_parse("#HATS catalog\nobs_collection=abc\n  dataproduct_type = object \r\n"
                          "hats_cols_default=ra dec id\n!comment\nempty=\nx=1\nx=2",
                          &p, &err),
           &err);
  CHECK(strcmp(ht_props_get(&p, "obs_collection"), "abc") == 0);
  CHECK(strcmp(ht_props_get(&p, "dataproduct_type"), "object") == 0);
  CHECK(strcmp(ht_props_get(&p, "hats_cols_default"), "ra dec id") == 0);
  CHECK(strcmp(ht_props_get(&p, "empty"), "") == 0);
  CHECK(strcmp(ht_props_get(&p, "x"), "2") == 0);
  CHECK(ht_props_get(&p, "comment") == NULL);
  CHECK_EQ_I64(p.n, 5);
  ht_props_free(&p);
}

TEST(hats_hipscat_json) {
  st_error err = {0};
  ht_props p = {0};
  CHECK_OK(ht_props_parse_hipscat_json("{\"catalog_name\": \"s\\\"k\", \"catalog_type\": \"source\",\n"
                                       " \"total_rows\": 17161, \"nested\": {\"a\": [1, 2]},"
                                       " \"epoch\": null, \"ra_column\": \"ra\"}",
                                       &p, &err),
           &err);
  CHECK(strcmp(ht_props_get(&p, "obs_collection"), "s\"k") == 0);
  CHECK(strcmp(ht_props_get(&p, "dataproduct_type"), "source") == 0);
  CHECK(strcmp(ht_props_get(&p, "hats_nrows"), "17161") == 0);
  CHECK(strcmp(ht_props_get(&p, "nested"), "{\"a\": [1, 2]}") == 0);
  CHECK(strcmp(ht_props_get(&p, "hats_col_ra"), "ra") == 0);
  CHECK(ht_props_get(&p, "epoch") == NULL);
  ht_props_free(&p);
  /* malformed inputs fail cleanly */
  const char *bad[] = {"", "[1]", "{\"a\" 1}", "{\"a\": \"unterminated", "{\"a\": 1", "{\"a\\"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ht_props q = {0};
    CHECK(ht_props_parse_hipscat_json(bad[i], &q, &err) != 0);
    ht_props_free(&q);
  }
}

TEST(hats_rel_ok) {
  CHECK(ht_rel_ok("Norder=0/Dir=0/Npix=11.parquet"));
  CHECK(ht_rel_ok("a/..b/c"));
  CHECK(ht_rel_ok("./x"));
  CHECK(!ht_rel_ok(""));
  CHECK(!ht_rel_ok("/etc/passwd"));
  CHECK(!ht_rel_ok(".."));
  CHECK(!ht_rel_ok("../x"));
  CHECK(!ht_rel_ok("a/../../x"));
  CHECK(!ht_rel_ok("a/.."));
  CHECK(!ht_rel_ok("a\\..\\x"));
}

TEST(hats_npix_path) {
  int o;
  int64_t p;
  CHECK(ht_parse_npix_path("Norder=2/Dir=0/Npix=187.parquet", &o, &p));
  CHECK_EQ_I64(o, 2);
  CHECK_EQ_I64(p, 187);
  CHECK(ht_parse_npix_path("/x/dataset/Norder=0/Dir=0/Npix=11/part0.parquet", &o, &p));
  CHECK_EQ_I64(p, 11);
  CHECK(ht_parse_npix_path("Norder=0/Dir=0/Npix=11.extra_rows.parquet", &o, &p));
  /* the last pixel at order 29 is 12 * 4^29 - 1 */
  CHECK(ht_parse_npix_path("Norder=29/Dir=0/Npix=3458764513820540927", &o, &p));
  CHECK_EQ_I64(p, 12 * ((int64_t)1 << 58) - 1);
  CHECK(!ht_parse_npix_path("Norder=29/Dir=0/Npix=3458764513820540928", &o, &p));
  CHECK(!ht_parse_npix_path("Norder=0/Dir=0/Npix=12.parquet", &o, &p));   /* pixel out of range */
  CHECK(!ht_parse_npix_path("Norder=30/Dir=0/Npix=1.parquet", &o, &p));
  CHECK(!ht_parse_npix_path("Norder=0/Npix=1.parquet", &o, &p));
  CHECK(!ht_parse_npix_path("Norder=0/Dir=0/Npix=1x", &o, &p));
  CHECK(!ht_parse_npix_path("Norder=0/Dir=0/Npix=99999999999999999999", &o, &p));
}

TEST(hats_open_properties_only) {
  char dir[] = "/tmp/st_hats_unitXXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/hats.properties", dir);
  FILE *fp = fopen(path, "w");
  CHECK(fp != NULL);
  fputs("obs_collection=t\ndataproduct_type=object\nhats_nrows=0\n", fp);
  fclose(fp);
  st_error err = {0};
  st_catalog *c = NULL;
  int rc = st_catalog_open(dir, NULL, &c, &err);
  unlink(path);
  rmdir(dir);
  CHECK_OK(rc, &err);
  CHECK(st_catalog_get_kind(c) == ST_CATALOG_HATS);
  CHECK(strcmp(st_catalog_type(c), "object") == 0);
  CHECK_EQ_I64(st_catalog_n_partitions(c), 0);
  CHECK(st_catalog_schema(c) == NULL);
  CHECK(st_catalog_metadata(c) == NULL);
  CHECK_EQ_I64(st_catalog_num_rows(c), 0);
  st_partition pt;
  CHECK(st_catalog_partition(c, 0, &pt, &err) == ST_ERR_INVALID);
  st_catalog_close(c);
  st_catalog_close(NULL);
}
