/*
** This file implements the unit-test runner behind tests/unit/test.h.
*/
#include "test.h"

#include <stdlib.h>

#define MAX_TESTS 4096
static struct {
  const char *name;
  st_test_fn fn;
} g_tests[MAX_TESTS];
static int g_ntests;
int st_test_failed;

void st_test_register(const char *name, st_test_fn fn) {
  if (g_ntests < MAX_TESTS) {
    g_tests[g_ntests].name = name;
    g_tests[g_ntests].fn = fn;
    g_ntests++;
  }
}

const char *st_test_shared(void) {
  const char *s = getenv("SKYTILE_SHARED");
  return s ? s : "../shared";
}

static int run_one(int i) {
  st_test_failed = 0;
  g_tests[i].fn();
  printf("%s %s\n", st_test_failed ? "FAIL" : "ok  ", g_tests[i].name);
  fflush(stdout);
  return st_test_failed;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--list")) {
    for (int i = 0; i < g_ntests; i++) printf("%s\n", g_tests[i].name);
    return 0;
  }
  int passed = 0, failed = 0;
  for (int i = 0; i < g_ntests; i++) {
    int want = argc == 1;
    for (int a = 1; a < argc; a++)
      if (!strcmp(argv[a], g_tests[i].name)) want = 1;
    if (!want) continue;
    if (run_one(i)) failed++;
    else passed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
