/*
** A minimal unit-test framework: each TEST(name) registers itself at start-up;
** build/unit_tests runs all (or those named on the command line), `--list`
** prints their names.  pytest (tests/test_unit.py) runs each as its own case.
**
**   TEST(rle_roundtrip) {
**     CHECK(x == 3);
**     CHECK_EQ_I64(got, want);
**     CHECK_OK(rc, &err);          // rc == 0, else prints err.msg
**   }
*/
#ifndef ST_TEST_H
#define ST_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "skytile.h"

typedef void (*st_test_fn)(void);
void st_test_register(const char *name, st_test_fn fn);
extern int st_test_failed;

#define TEST(name)                                                             \
  static void test_##name(void);                                              \
  __attribute__((constructor)) static void test_reg_##name(void) {            \
    st_test_register(#name, test_##name);                                    \
  }                                                                            \
  static void test_##name(void)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      st_test_failed = 1;                                                      \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_EQ_I64(a, b)                                                     \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) {                                                            \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,       \
              __LINE__, #a, #b, a_, b_);                                       \
      st_test_failed = 1;                                                      \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_OK(rc, errp)                                                     \
  do {                                                                         \
    int rc_ = (rc);                                                            \
    const st_error *e_ = (errp);                                               \
    if (rc_ != 0) {                                                            \
      fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #rc,   \
              rc_, e_ ? e_->msg : "");                                         \
      st_test_failed = 1;                                                      \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Path of the shared fixtures directory (../shared from the repo root). */
const char *st_test_shared(void);

#endif
