/*
** This file implements the assembly of nested Arrow arrays (STRUCT, LIST,
** MAP) from Parquet definition/repetition levels (Dremel record shredding,
** inverted), using the per-node levels of st_pq_schema (parquet/meta.h).
**
** For a node N and the levels (d, r) of the first leaf below it, entry i:
**   starts a slot of N      when r <= N.rep and d >= N.rep_ancestor_def
**   that slot is valid      when d >= N.def
**   LIST/MAP: the entry starts an element (a child slot) when
**             r <= N.rep + 1 and d >= N.def + 1,
**             so offsets[k] = number of element slots before N's slot k.
** A STRUCT's children have the same slots as the struct; each child is
** assembled from its own first leaf, and the slot counts must agree (a
** mismatch means the leaves' levels are inconsistent: corrupt file).  Leaf
** arrays come from the column reader, already spread over their slots.
**
** Each node is one pass over the levels of one leaf: O(levels x depth).
** Recursion depth is bounded by the schema depth, which the schema builder
** bounds.
*/
#include "parquet/reader_priv.h"

#include <stdlib.h>
#include <string.h>

typedef struct asm_ctx {
  const st_pq_tree *s;
  int first_leaf;
  const st_pq_leafspec *specs;
  st_pq_leafdata *leaves;
} asm_ctx;

static int new_bits(int64_t n, st_mem **out, st_error *err) {
  size_t nb = (size_t)(n + 7) / 8;
  st_mem *m = st_mem_new(nb ? nb : 1);
  ST_CHECK(m, err, ST_ERR_NOMEM, "out of memory");
  memset(m->data, 0, nb ? nb : 1);
  *out = m;
  return ST_OK;
}

static int build(const asm_ctx *c, int ni, int depth, st_array **out, st_error *err) {
  const st_pq_tree *s = c->s;
  ST_SAFETY(depth < 256, err, "schema nesting too deep");
  const st_pq_node *N = &s->nodes[ni];
  if (N->kind == ST_PQ_NODE_LEAF) {
    int li = N->leaf - c->first_leaf;
    return st_pq_leaf_to_array(&c->specs[li], &c->leaves[li], out, err);
  }
  ST_SAFETY(N->n_leaves > 0 && N->first_leaf >= c->first_leaf, err, "schema: group without leaves");
  int li = N->first_leaf - c->first_leaf;
  const st_pq_leafdata *L = &c->leaves[li];
  const st_pq_leafspec *sp = &c->specs[li];
  const int16_t *d = sp->max_def > 0 ? (const int16_t *)(const void *)L->def.data : NULL;
  const int16_t *r = sp->max_rep > 0 ? (const int16_t *)(const void *)L->rep.data : NULL;
  int64_t n = L->n_levels;
  int16_t nrep = N->rep, nrad = N->rep_ancestor_def, ndef = N->def;
  bool is_list = N->kind == ST_PQ_NODE_LIST || N->kind == ST_PQ_NODE_MAP;

  /* One branch-free pass; buffers are sized for n slots (an upper bound:
     only the ns slots actually written are touched). */
  st_array *a = st_array_new();
  ST_CHECK(a, err, ST_ERR_NOMEM, "out of memory");
  int rc = ST_OK;
  st_mem *vm = NULL, *om = NULL;
  int16_t *zero = NULL;   /* stands in for absent levels (max_def or max_rep 0) */
  if (!d || !r) {
    zero = calloc((size_t)(n ? n : 1), sizeof *zero);
    if (!zero) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      goto fail;
    }
    if (!d) d = zero;
    if (!r) r = zero;
  }
  if ((rc = new_bits(n, &vm, err))) goto fail;
  if (is_list) {
    if (n >= INT32_MAX) {
      rc = st_fail(err, ST_ERR_LIMIT, "list column too long (%lld levels)", (long long)n);
      goto fail;
    }
    om = st_mem_new((size_t)(n + 1) * 4);
    if (!om) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      goto fail;
    }
  }
  int64_t ns;
  {
    uint8_t *vb = vm->data;
    int32_t *off = om ? (int32_t *)(void *)om->data : NULL;
    int64_t k = 0, child = 0, nulls = 0;
    if (off) {
      for (int64_t i = 0; i < n; i++) {
        int dv = d[i], rv = r[i];
        int slot = (rv <= nrep) & (dv >= nrad);
        int valid = slot & (dv >= ndef);
        off[k] = (int32_t)child;   /* final value written by the entry that starts slot k */
        vb[k >> 3] |= (uint8_t)(valid << (k & 7));
        nulls += slot & !valid;
        k += slot;
        child += (rv <= nrep + 1) & (dv >= ndef + 1);
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        int dv = d[i], rv = r[i];
        int slot = (rv <= nrep) & (dv >= nrad);
        int valid = slot & (dv >= ndef);
        vb[k >> 3] |= (uint8_t)(valid << (k & 7));
        nulls += slot & !valid;
        k += slot;
      }
    }
    ns = k;
    if (off) off[ns] = (int32_t)child;
    a->length = ns;
    a->null_count = nulls;
    if (nulls) {
      a->mem[0] = vm;
      a->buf[0] = vm->data;
      vm = NULL;
    }
    int nch = 0;
    for (int ch = N->first_child; ch >= 0; ch = s->nodes[ch].next_sibling) nch++;
    a->children = calloc((size_t)(nch ? nch : 1), sizeof *a->children);
    if (!a->children) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      goto fail;
    }
    if (is_list) {
      a->n_buffers = 2;
      a->mem[1] = om;
      a->buf[1] = om->data;
      om = NULL;
      if (nch != 1) {
        rc = st_fail(err, ST_ERR_CORRUPT, "schema: list/map node with %d children", nch);
        goto fail;
      }
    } else {
      a->n_buffers = 1;
    }
    int ci = 0;
    for (int ch = N->first_child; ch >= 0; ch = s->nodes[ch].next_sibling, ci++) {
      st_array *sub = NULL;
      if ((rc = build(c, ch, depth + 1, &sub, err))) goto fail;
      a->children[ci] = sub;
      a->n_children = ci + 1;
      int64_t want = is_list ? child : ns;
      if (sub->length != want) {
        rc = st_fail(err, ST_ERR_CORRUPT,
                     "levels of column '%s' disagree with its siblings (%lld vs %lld slots)",
                     c->specs[s->nodes[ch].first_leaf - c->first_leaf].path,
                     (long long)sub->length, (long long)want);
        goto fail;
      }
    }
  }
  st_mem_unref(vm);
  free(zero);
  *out = a;
  return ST_OK;
fail:
  free(zero);
  st_mem_unref(vm);
  st_mem_unref(om);
  st_array_free(a);
  return rc;
}

int st_pq_assemble(const st_pq_tree *s, int node, int first_leaf, const st_pq_leafspec *specs,
                   st_pq_leafdata *leaves, int64_t n_rows, st_array **out, st_error *err) {
  asm_ctx c = {s, first_leaf, specs, leaves};
  st_array *a = NULL;
  ST_TRY(build(&c, node, 0, &a, err));
  if (a->length != n_rows) {
    int64_t got = a->length;
    st_array_free(a);
    return st_fail(err, ST_ERR_CORRUPT, "column has %lld rows, expected %lld", (long long)got,
                   (long long)n_rows);
  }
  *out = a;
  return ST_OK;
}
