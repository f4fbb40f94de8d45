/*
** This file implements the columnar table type declared in skytile/table.h.
** (Minimal core; the table module owner completes it.)
*/
#include "skytile.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

st_array *st_array_new(void) { return calloc(1, sizeof(st_array)); }

void st_array_free(st_array *a) {
  if (!a) return;
  for (int i = 0; i < 3; i++) st_mem_unref(a->mem[i]);
  for (int i = 0; i < a->n_children; i++) st_array_free(a->children[i]);
  free(a->children);
  st_array_free(a->dictionary);
  free(a);
}
