/*
** Unit tests of st_imp_radix_sort's digit handling (8-bit digits, digits
** equal for every key skipped, keys-only mode): keys with constant high,
** middle and low digits, full 64-bit keys, n = 0 and 1.  Oracle: qsort of
** (key, original index) pairs, which gives the stable order.
*/
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "import/pipeline.h"

typedef struct kv { uint64_t k; int64_t v; } kv;

static int kv_cmp(const void *a, const void *b) {
  const kv *x = a, *y = b;
  if (x->k != y->k) return x->k < y->k ? -1 : 1;
  return (x->v > y->v) - (x->v < y->v);
}

TEST(imb_radix_sort_digits) {
  enum { N = 5000 };
  uint64_t *k = malloc(N * 8), *tk = malloc(N * 8), *k2 = malloc(N * 8);
  int64_t *v = malloc(N * 8), *tv = malloc(N * 8);
  kv *e = malloc(N * sizeof *e);
  uint64_t seed = 987654321;
  /* (base, mask): keys = base | (random & mask) */
  uint64_t cases[][2] = {
      {(uint64_t)7 << 50, 0x7ff},                     /* only the lowest digit varies   */
      {(uint64_t)3 << 40, (uint64_t)0x3ff << 22},     /* one middle digit varies        */
      {0x5a5, (uint64_t)0xfff << 44},                 /* high digits vary, low constant */
      {0, ~(uint64_t)0},                              /* all 64 bits                    */
      {0, 3},                                         /* many ties                      */
      {123456789, 0},                                 /* all equal                      */
  };
  for (int m = 0; m < 6; m++) {
    uint64_t mx = 0;
    for (int i = 0; i < N; i++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      uint64_t r = seed ^ (seed >> 29) * 0x9e3779b97f4a7c15ULL;
      k[i] = k2[i] = cases[m][0] | (r & cases[m][1]);
      v[i] = i;
      e[i] = (kv){k[i], i};
      if (k[i] > mx) mx = k[i];
    }
    qsort(e, N, sizeof *e, kv_cmp);
    st_imp_radix_sort(k, v, N, mx, tk, tv);
    st_imp_radix_sort(k2, NULL, N, mx, tk, NULL);
    for (int i = 0; i < N; i++) {
      CHECK_EQ_I64(k[i], e[i].k);
      CHECK_EQ_I64(v[i], e[i].v);
      CHECK_EQ_I64(k2[i], e[i].k);
    }
  }
  /* n = 0 and n = 1 leave the arrays alone */
  k[0] = 42, v[0] = 7;
  st_imp_radix_sort(k, v, 0, 100, tk, tv);
  st_imp_radix_sort(k, v, 1, 100, tk, tv);
  CHECK_EQ_I64(k[0], 42);
  CHECK_EQ_I64(v[0], 7);
  free(k), free(tk), free(k2), free(v), free(tv), free(e);
}
