/*
** This file implements st_pq_schema_build: the flat, depth-first list of
** SchemaElements becomes (1) the leaf columns with their levels and paths and
** (2) the Arrow-mapped st_field tree with one st_pq_node of level information
** per field node (the rules are documented in meta.h next to st_pq_node).
**
** Pass 1 (iterative, explicit stack): validates the list -- a group root,
** num_children >= 0, children fitting in the list, nesting <= ST_PQ_MAX_DEPTH,
** no element both typed and with children -- and records each element's
** parent and first child.  Leaves are numbered in list order; max_def counts
** OPTIONAL and REPEATED elements on the path (root excluded), max_rep the
** REPEATED ones.  Row groups must have one column chunk per leaf.
**
** Pass 2 (recursive, depth bounded by pass 1): maps element e, given the
** levels of the slot above it (def D, rep R, rep_ancestor_def A), following
** LogicalTypes.md and pyarrow's reading of it:
**
**   bare REPEATED e           -> LIST (not null, def D, rep R) of e itself
**                                (element: def D+1, rep R+1, A = D+1)
**   group LIST  { repeated c } -> LIST (nullable if OPTIONAL); element is
**        c itself when c is primitive, has several fields, or is named
**        "array" or "<list>_tuple" (legacy 2-level), else c's only child
**   group MAP / MAP_KEY_VALUE { repeated group kv { key [value] } }
**                             -> MAP of STRUCT{key, value} named like the map;
**                                without a value field: LIST of key (pyarrow)
**   other group               -> STRUCT;  primitive -> the leaf's Arrow type
**
** "e itself" as an element means e's REPEATED was already counted by the
** list, so e is mapped as a non-null node at the element levels ("consumed").
**
** Primitive mapping (LogicalType first, then ConvertedType, then physical):
** INTEGER/INT_x/UINT_x -> sized ints; DATE -> date32; TIME millis -> time32,
** micros/nanos -> time64; TIMESTAMP -> timestamp[unit, "UTC" if adjusted];
** legacy TIMESTAMP_MILLIS/MICROS -> UTC-adjusted; INT96 -> timestamp[ns];
** DECIMAL -> decimal128 (precision <= 38) else decimal256; FLOAT16 on FLBA(2)
** -> float16; STRING/ENUM/JSON/UTF8 -> string; other BYTE_ARRAY -> binary;
** FLBA -> fixed_size_binary (UUID too); UNKNOWN (NullType) -> null.  An
** annotation that does not fit its physical type, or a LogicalType member we
** do not know (ST_PQ_LT_OTHER), falls back to the physical mapping.
*/
#include <stdio.h>
#include <string.h>

#include "parquet/meta.h"

#define ST_PQ_MAX_DEPTH 100

typedef struct build_ctx {
  const st_pq_file_meta *m;
  st_pq_tree *s;
  int *parent;         /* per element: parent element, -1 for the root     */
  int *first_child;    /* per element: index of first child or -1          */
  int *next;           /* per element: next sibling or -1                  */
  int *leaf_of;        /* per element: leaf index or -1                    */
  int *last_child;     /* per node: last child node added, -1 if none      */
  int cap_nodes;
  int mapped;          /* leaf nodes created so far (leaves come in order)  */
  st_error *err;
} build_ctx;

static int nomem(st_error *err) { return st_fail(err, ST_ERR_NOMEM, "schema: out of memory"); }

static const char *elem_name(const st_pq_schema_elem *e) { return e->name ? e->name : ""; }

static bool is_group(const st_pq_schema_elem *e) { return !e->has_type || e->num_children > 0; }

static int repetition(const st_pq_schema_elem *e) {
  return e->has_repetition ? e->repetition : ST_PQ_REQUIRED;
}

/* ---- pass 1: structure ------------------------------------------------------ */

static int pass1(build_ctx *c) {
  const st_pq_file_meta *m = c->m;
  st_error *err = c->err;
  int n = m->n_schema;
  ST_SAFETY(n >= 1, err, "schema: empty schema");
  ST_SAFETY(is_group(&m->schema[0]), err, "schema: root '%s' is not a group", elem_name(&m->schema[0]));
  struct {
    int elem;        /* group element                     */
    int left;        /* children still to come            */
    int last;        /* previous child, -1 before the first */
    int16_t def, rep;
  } stack[ST_PQ_MAX_DEPTH + 1];
  int sp = 0;
  for (int i = 0; i < n; i++) {
    c->parent[i] = c->first_child[i] = c->next[i] = c->leaf_of[i] = -1;
    c->s->elem_depth[i] = 0;
  }
  ST_SAFETY(m->schema[0].num_children >= 0, err, "schema: root has negative num_children");
  stack[0].elem = 0;
  stack[0].left = m->schema[0].num_children;
  stack[0].last = -1;
  stack[0].def = stack[0].rep = 0;
  sp = 1;
  int n_leaves = 0;
  for (int i = 1; i < n; i++) {
    while (sp > 0 && stack[sp - 1].left == 0) sp--;
    ST_SAFETY(sp > 0, err, "schema: %d elements after the root's children end (element %d '%s')", n - i, i,
              elem_name(&m->schema[i]));
    const st_pq_schema_elem *e = &m->schema[i];
    int p = stack[sp - 1].elem;
    c->parent[i] = p;
    c->s->elem_depth[i] = (int16_t)sp;
    if (stack[sp - 1].last < 0) c->first_child[p] = i;
    else c->next[stack[sp - 1].last] = i;
    stack[sp - 1].last = i;
    stack[sp - 1].left--;
    ST_SAFETY(e->has_repetition, err, "schema: element '%s' has no repetition type", elem_name(e));
    ST_SAFETY(e->repetition >= ST_PQ_REQUIRED && e->repetition <= ST_PQ_REPEATED, err,
              "schema: element '%s' has unsupported repetition %d", elem_name(e), e->repetition);
    ST_SAFETY(e->num_children >= 0, err, "schema: element '%s' has negative num_children", elem_name(e));
    ST_SAFETY(!(e->has_type && e->num_children > 0), err, "schema: element '%s' has a type and children",
              elem_name(e));
    int def = stack[sp - 1].def + (e->repetition != ST_PQ_REQUIRED);
    int rep = stack[sp - 1].rep + (e->repetition == ST_PQ_REPEATED);
    if (is_group(e)) {
      ST_SAFETY(sp <= ST_PQ_MAX_DEPTH - 1, err, "schema: nested deeper than %d levels", ST_PQ_MAX_DEPTH);
      stack[sp].elem = i;
      stack[sp].left = e->num_children;
      stack[sp].last = -1;
      stack[sp].def = (int16_t)def;
      stack[sp].rep = (int16_t)rep;
      sp++;
    } else {
      ST_SAFETY(e->type >= ST_PQ_BOOLEAN && e->type <= ST_PQ_FIXED_LEN_BYTE_ARRAY, err,
                "schema: column '%s' has unknown physical type %d", elem_name(e), e->type);
      if (e->type == ST_PQ_FIXED_LEN_BYTE_ARRAY)
        ST_SAFETY(e->type_length > 0, err, "schema: column '%s': FIXED_LEN_BYTE_ARRAY with width %d",
                  elem_name(e), (int)e->type_length);
      c->leaf_of[i] = n_leaves++;
    }
  }
  while (sp > 0 && stack[sp - 1].left == 0) sp--;
  ST_SAFETY(sp == 0, err, "schema: truncated (group '%s' misses %d children)",
            elem_name(&m->schema[stack[sp - 1].elem]), stack[sp - 1].left);
  ST_SAFETY(n_leaves > 0 || m->n_schema == 1, err, "schema: no columns");
  c->s->n_leaves = n_leaves;
  return 0;
}

/* Leaves: levels, dotted paths, top-level column. */
static int build_leaves(build_ctx *c) {
  const st_pq_file_meta *m = c->m;
  st_pq_tree *s = c->s;
  int n = m->n_schema;
  s->leaves = st_calloc(s->n_leaves ? (size_t)s->n_leaves : 1, sizeof(st_pq_leaf));
  if (!s->leaves) return nomem(c->err);
  int top = -1;
  for (int i = 1; i < n; i++) {
    if (c->parent[i] == 0) top++;
    if (c->leaf_of[i] < 0) continue;
    st_pq_leaf *l = &s->leaves[c->leaf_of[i]];
    const st_pq_schema_elem *e = &m->schema[i];
    l->schema_index = i;
    l->type = e->type;
    l->type_length = e->type_length;
    l->top_column = top;
    l->node = -1;
    size_t plen = 0;
    int d = 0, r = 0;
    for (int j = i; j > 0; j = c->parent[j]) {
      const st_pq_schema_elem *a = &m->schema[j];
      d += a->repetition != ST_PQ_REQUIRED;
      r += a->repetition == ST_PQ_REPEATED;
      plen += strlen(elem_name(a)) + 1;
    }
    l->max_def = (int16_t)d;
    l->max_rep = (int16_t)r;
    l->path = st_malloc(plen);
    if (!l->path) return nomem(c->err);
    size_t pos = plen - 1;
    l->path[pos] = 0;
    for (int j = i; j > 0; j = c->parent[j]) {
      const char *nm = elem_name(&m->schema[j]);
      size_t k = strlen(nm);
      pos -= k;
      memcpy(l->path + pos, nm, k);
      if (pos > 0) l->path[--pos] = '.';
    }
    int li = c->leaf_of[i];
    l->column_order = m->n_column_orders == s->n_leaves ? m->column_orders[li] : ST_PQ_ORDER_UNKNOWN;
  }
  return 0;
}

/* ---- pass 2: Arrow mapping ---------------------------------------------------- */

static bool lt_or_ct(const st_pq_schema_elem *e, int lt, int ct) {
  return e->logical.kind == lt || (e->logical.kind == ST_PQ_LT_NONE && e->converted_type == ct);
}

static void set_int(st_field *f, int bits, bool is_signed) {
  switch (bits) {
  case 8: f->type = is_signed ? ST_T_INT8 : ST_T_UINT8; break;
  case 16: f->type = is_signed ? ST_T_INT16 : ST_T_UINT16; break;
  case 32: f->type = is_signed ? ST_T_INT32 : ST_T_UINT32; break;
  default: f->type = is_signed ? ST_T_INT64 : ST_T_UINT64; break;
  }
}

static void set_decimal(st_field *f, int32_t precision, int32_t scale) {
  f->type = precision <= 38 ? ST_T_DECIMAL128 : ST_T_DECIMAL256;
  f->precision = precision;
  f->scale = scale;
}

static int set_timestamp(st_field *f, int unit, bool utc, st_error *err) {
  f->type = ST_T_TIMESTAMP;
  f->unit = (st_time_unit)unit;
  if (utc && !(f->tz = st_strdup("UTC"))) return nomem(err);
  return 0;
}

static void set_physical(st_field *f, const st_pq_schema_elem *e) {
  switch (e->type) {
  case ST_PQ_BOOLEAN: f->type = ST_T_BOOL; break;
  case ST_PQ_INT32: f->type = ST_T_INT32; break;
  case ST_PQ_INT64: f->type = ST_T_INT64; break;
  case ST_PQ_INT96: f->type = ST_T_TIMESTAMP; f->unit = ST_NANO; break;
  case ST_PQ_FLOAT: f->type = ST_T_FLOAT; break;
  case ST_PQ_DOUBLE: f->type = ST_T_DOUBLE; break;
  case ST_PQ_BYTE_ARRAY: f->type = ST_T_BINARY; break;
  default:
    f->type = ST_T_FIXED_BINARY;
    f->byte_width = e->type_length;
    break;
  }
}

/* Decimal precision fits the physical type (Parquet's limits). */
static bool decimal_ok(const st_pq_schema_elem *e, int32_t precision, int32_t scale) {
  if (precision < 1 || scale < 0 || scale > precision || precision > 76) return false;
  switch (e->type) {
  case ST_PQ_INT32: return precision <= 9;
  case ST_PQ_INT64: return precision <= 18;
  case ST_PQ_BYTE_ARRAY: return true;
  case ST_PQ_FIXED_LEN_BYTE_ARRAY: return e->type_length <= 32;
  default: return false;
  }
}

/* The Arrow type of a primitive column (see the header comment). */
static int map_primitive(const st_pq_schema_elem *e, st_field *f, st_error *err) {
  const st_pq_logical *lt = &e->logical;
  int phys = e->type;
  bool i32 = phys == ST_PQ_INT32, i64 = phys == ST_PQ_INT64, ba = phys == ST_PQ_BYTE_ARRAY;
  bool flba = phys == ST_PQ_FIXED_LEN_BYTE_ARRAY;
  set_physical(f, e);
  if (lt->kind != ST_PQ_LT_NONE) {
    switch (lt->kind) {
    case ST_PQ_LT_STRING:
    case ST_PQ_LT_ENUM:
    case ST_PQ_LT_JSON:
      if (ba) f->type = ST_T_STRING;
      break;
    case ST_PQ_LT_DECIMAL:
      if ((i32 || i64 || ba || flba) && decimal_ok(e, lt->precision, lt->scale))
        set_decimal(f, lt->precision, lt->scale);
      break;
    case ST_PQ_LT_DATE:
      if (i32) f->type = ST_T_DATE32;
      break;
    case ST_PQ_LT_TIME:
      if (i32 && lt->unit == ST_MILLI) {
        f->type = ST_T_TIME32;
        f->unit = ST_MILLI;
      } else if (i64 && (lt->unit == ST_MICRO || lt->unit == ST_NANO)) {
        f->type = ST_T_TIME64;
        f->unit = (st_time_unit)lt->unit;
      }
      break;
    case ST_PQ_LT_TIMESTAMP:
      if (i64 && lt->unit >= ST_MILLI && lt->unit <= ST_NANO)
        ST_TRY(set_timestamp(f, lt->unit, lt->utc_adjusted, err));
      break;
    case ST_PQ_LT_INTEGER: {
      int bw = lt->bit_width;
      bool ok = (bw == 8 || bw == 16 || bw == 32 || bw == 64) && ((i32 && bw <= 32) || (i64 && bw == 64));
      if (ok) set_int(f, bw, lt->is_signed);
      break;
    }
    case ST_PQ_LT_UNKNOWN:
      f->type = ST_T_NULL;
      f->byte_width = 0;
      f->unit = 0;
      break;
    case ST_PQ_LT_FLOAT16:
      if (flba && e->type_length == 2) f->type = ST_T_FLOAT16, f->byte_width = 0;
      break;
    default: /* BSON, UUID, VARIANT, GEOMETRY, GEOGRAPHY, OTHER: physical */
      break;
    }
    return 0;
  }
  switch (e->converted_type) {
  case ST_PQ_CT_UTF8:
  case ST_PQ_CT_ENUM:
  case ST_PQ_CT_JSON:
    if (ba) f->type = ST_T_STRING;
    break;
  case ST_PQ_CT_DECIMAL:
    if (decimal_ok(e, e->precision, e->scale)) set_decimal(f, e->precision, e->scale);
    break;
  case ST_PQ_CT_DATE:
    if (i32) f->type = ST_T_DATE32;
    break;
  case ST_PQ_CT_TIME_MILLIS:
    if (i32) f->type = ST_T_TIME32, f->unit = ST_MILLI;
    break;
  case ST_PQ_CT_TIME_MICROS:
    if (i64) f->type = ST_T_TIME64, f->unit = ST_MICRO;
    break;
  case ST_PQ_CT_TIMESTAMP_MILLIS:
    if (i64) ST_TRY(set_timestamp(f, ST_MILLI, true, err));
    break;
  case ST_PQ_CT_TIMESTAMP_MICROS:
    if (i64) ST_TRY(set_timestamp(f, ST_MICRO, true, err));
    break;
  case ST_PQ_CT_UINT_8: if (i32) set_int(f, 8, false); break;
  case ST_PQ_CT_UINT_16: if (i32) set_int(f, 16, false); break;
  case ST_PQ_CT_UINT_32: if (i32) set_int(f, 32, false); break;
  case ST_PQ_CT_UINT_64: if (i64) set_int(f, 64, false); break;
  case ST_PQ_CT_INT_8: if (i32) set_int(f, 8, true); break;
  case ST_PQ_CT_INT_16: if (i32) set_int(f, 16, true); break;
  case ST_PQ_CT_INT_32: if (i32) set_int(f, 32, true); break;
  case ST_PQ_CT_INT_64: if (i64) set_int(f, 64, true); break;
  default: break;
  }
  return 0;
}

typedef struct levels {
  int16_t def, rep, rad;   /* of the slot above the element */
} levels;

static int map_elem(build_ctx *c, int ei, levels up, bool consumed, const char *name_override,
                    st_field *f, int parent_node, int depth);

/* Append a node for field f; returns its index or -1 (reported). */
static int add_node(build_ctx *c, st_field *f, int kind, int parent, int schema_index, int16_t def,
                    int16_t rep, int16_t rad) {
  st_pq_tree *s = c->s;
  if (s->n_nodes >= c->cap_nodes) {
    st_fail(c->err, ST_ERR_CORRUPT, "schema: too many nodes");
    return -1;
  }
  int k = s->n_nodes++;
  st_pq_node *nd = &s->nodes[k];
  nd->field = f;
  nd->kind = kind;
  nd->parent = parent;
  nd->first_child = nd->next_sibling = -1;
  nd->schema_index = schema_index;
  nd->def = def;
  nd->rep = rep;
  nd->rep_ancestor_def = rad;
  nd->nullable = f->nullable;
  nd->leaf = -1;
  nd->first_leaf = c->mapped;
  nd->n_leaves = 0;
  c->last_child[k] = -1;
  if (parent >= 0) {
    st_pq_node *p = &s->nodes[parent];
    if (p->first_child < 0) p->first_child = k;
    else s->nodes[c->last_child[parent]].next_sibling = k;
    c->last_child[parent] = k;
  }
  return k;
}

static int alloc_children(build_ctx *c, st_field *f, int n) {
  f->children = st_calloc(n > 0 ? (size_t)n : 1, sizeof(st_field));
  if (!f->children) return nomem(c->err);
  f->n_children = n;
  return 0;
}

static int count_children(build_ctx *c, int ei) {
  int n = 0;
  for (int k = c->first_child[ei]; k >= 0; k = c->next[k]) n++;
  return n;
}

/* Leaf range of node k once its subtree is complete (pre-order: contiguous). */
static void finish_node(build_ctx *c, int k) {
  st_pq_node *nd = &c->s->nodes[k];
  nd->n_leaves = c->mapped - nd->first_leaf;
}

static int map_elem(build_ctx *c, int ei, levels up, bool consumed, const char *name_override,
                    st_field *f, int parent_node, int depth) {
  const st_pq_file_meta *m = c->m;
  const st_pq_schema_elem *e = &m->schema[ei];
  st_error *err = c->err;
  ST_SAFETY(depth <= 2 * ST_PQ_MAX_DEPTH + 2, err, "schema: nested too deep");
  const char *name = name_override ? name_override : elem_name(e);
  int rep = repetition(e);

  /* A bare repeated field: a non-null list whose element is the field itself. */
  if (rep == ST_PQ_REPEATED && !consumed) {
    f->type = ST_T_LIST;
    f->nullable = false;
    if (!(f->name = st_strdup(name))) return nomem(err);
    ST_TRY(alloc_children(c, f, 1));
    int k = add_node(c, f, ST_PQ_NODE_LIST, parent_node, ei, up.def, up.rep, up.rad);
    if (k < 0) return ST_ERR_CORRUPT;
    levels el = {(int16_t)(up.def + 1), (int16_t)(up.rep + 1), (int16_t)(up.def + 1)};
    ST_TRY(map_elem(c, ei, el, true, name, &f->children[0], k, depth + 1));
    finish_node(c, k);
    return 0;
  }

  bool nullable = !consumed && rep == ST_PQ_OPTIONAL;
  int16_t def = consumed ? up.def : (int16_t)(up.def + nullable);

  if (!is_group(e)) {
    if (!(f->name = st_strdup(name))) return nomem(err);
    f->nullable = nullable;
    ST_TRY(map_primitive(e, f, err));
    int k = add_node(c, f, ST_PQ_NODE_LEAF, parent_node, ei, def, up.rep, up.rad);
    if (k < 0) return ST_ERR_CORRUPT;
    int li = c->leaf_of[ei];
    ST_SAFETY(li == c->mapped, err, "schema: internal leaf order mismatch at '%s'", elem_name(e));
    c->mapped++;
    c->s->nodes[k].leaf = li;
    c->s->nodes[k].n_leaves = 1;
    c->s->leaves[li].node = k;
    c->s->leaves[li].rep_ancestor_def = up.rad;
    ST_SAFETY(def == c->s->leaves[li].max_def && up.rep == c->s->leaves[li].max_rep, err,
              "schema: internal level mismatch at '%s'", c->s->leaves[li].path);
    return 0;
  }

  int nch = count_children(c, ei);
  if (lt_or_ct(e, ST_PQ_LT_LIST, ST_PQ_CT_LIST) && nch == 1) {
    int child = c->first_child[ei];
    const st_pq_schema_elem *ce = &m->schema[child];
    if (repetition(ce) == ST_PQ_REPEATED) {
      int elem = child;
      bool elem_consumed = true;
      if (is_group(ce)) {
        int gch = count_children(c, child);
        char tuple[512];
        snprintf(tuple, sizeof tuple, "%s_tuple", elem_name(e));
        bool two_level = gch != 1 || !strcmp(elem_name(ce), "array") || !strcmp(elem_name(ce), tuple);
        if (!two_level) {
          elem = c->first_child[child];
          elem_consumed = false;
        }
      }
      int16_t ldef = def; /* consumed: e's repetition was counted by the enclosing list */
      f->type = ST_T_LIST;
      f->nullable = nullable;
      if (!(f->name = st_strdup(name))) return nomem(err);
      ST_TRY(alloc_children(c, f, 1));
      int k = add_node(c, f, ST_PQ_NODE_LIST, parent_node, ei, ldef, up.rep, up.rad);
      if (k < 0) return ST_ERR_CORRUPT;
      levels el = {(int16_t)(ldef + 1), (int16_t)(up.rep + 1), (int16_t)(ldef + 1)};
      ST_TRY(map_elem(c, elem, el, elem_consumed, NULL, &f->children[0], k, depth + 1));
      finish_node(c, k);
      return 0;
    }
    /* a LIST whose child is not repeated: read as a plain group (struct) */
  }

  if ((lt_or_ct(e, ST_PQ_LT_MAP, ST_PQ_CT_MAP) || e->converted_type == ST_PQ_CT_MAP_KEY_VALUE) && nch == 1) {
    int kv = c->first_child[ei];
    const st_pq_schema_elem *kve = &m->schema[kv];
    int kvn = is_group(kve) ? count_children(c, kv) : 0;
    if (repetition(kve) == ST_PQ_REPEATED && is_group(kve) && (kvn == 1 || kvn == 2)) {
      int key = c->first_child[kv];
      int16_t mdef = def;
      levels el = {(int16_t)(mdef + 1), (int16_t)(up.rep + 1), (int16_t)(mdef + 1)};
      if (!(f->name = st_strdup(name))) return nomem(err);
      f->nullable = nullable;
      ST_TRY(alloc_children(c, f, 1));
      if (kvn == 1) { /* map without values: a list of keys, as pyarrow reads it */
        f->type = ST_T_LIST;
        int k = add_node(c, f, ST_PQ_NODE_LIST, parent_node, ei, mdef, up.rep, up.rad);
        if (k < 0) return ST_ERR_CORRUPT;
        ST_TRY(map_elem(c, key, el, false, NULL, &f->children[0], k, depth + 1));
        finish_node(c, k);
        return 0;
      }
      f->type = ST_T_MAP;
      int k = add_node(c, f, ST_PQ_NODE_MAP, parent_node, ei, mdef, up.rep, up.rad);
      if (k < 0) return ST_ERR_CORRUPT;
      st_field *ent = &f->children[0];
      ent->type = ST_T_STRUCT;
      ent->nullable = false;
      if (!(ent->name = st_strdup(name))) return nomem(err);
      ST_TRY(alloc_children(c, ent, 2));
      int ek = add_node(c, ent, ST_PQ_NODE_STRUCT, k, kv, el.def, el.rep, el.rad);
      if (ek < 0) return ST_ERR_CORRUPT;
      ST_TRY(map_elem(c, key, el, false, NULL, &ent->children[0], ek, depth + 2));
      ST_TRY(map_elem(c, c->next[key], el, false, NULL, &ent->children[1], ek, depth + 2));
      finish_node(c, ek);
      finish_node(c, k);
      return 0;
    }
    /* malformed map: read as a plain group */
  }

  /* Plain group: a struct of its children. */
  f->type = ST_T_STRUCT;
  f->nullable = nullable;
  if (!(f->name = st_strdup(name))) return nomem(err);
  ST_TRY(alloc_children(c, f, nch));
  int k = add_node(c, f, ST_PQ_NODE_STRUCT, parent_node, ei, def, up.rep, up.rad);
  if (k < 0) return ST_ERR_CORRUPT;
  levels cl = {def, up.rep, up.rad};
  int i = 0;
  for (int ch = c->first_child[ei]; ch >= 0; ch = c->next[ch], i++)
    ST_TRY(map_elem(c, ch, cl, false, NULL, &f->children[i], k, depth + 1));
  finish_node(c, k);
  return 0;
}

/* File key/value metadata on the root field (values as NUL-terminated text). */
static int root_metadata(build_ctx *c) {
  const st_pq_file_meta *m = c->m;
  st_field *r = &c->s->root;
  if (m->n_kv <= 0) return 0;
  r->meta_keys = st_calloc((size_t)m->n_kv, sizeof(char *));
  r->meta_values = st_calloc((size_t)m->n_kv, sizeof(char *));
  if (!r->meta_keys || !r->meta_values) return nomem(c->err);
  for (int i = 0; i < m->n_kv; i++) {
    r->n_meta = i + 1;
    r->meta_keys[i] = st_strdup(m->kv[i].key ? m->kv[i].key : "");
    r->meta_values[i] = m->kv[i].value ? st_strndup(m->kv[i].value, m->kv[i].value_len) : st_strdup("");
    if (!r->meta_keys[i] || !r->meta_values[i]) return nomem(c->err);
  }
  return 0;
}

static int build(build_ctx *c) {
  const st_pq_file_meta *m = c->m;
  st_pq_tree *s = c->s;
  s->n_elems = m->n_schema;
  s->elem_depth = st_calloc(m->n_schema > 0 ? (size_t)m->n_schema : 1, sizeof(int16_t));
  s->elem_leaf = st_calloc(m->n_schema > 0 ? (size_t)m->n_schema : 1, sizeof(int));
  if (!s->elem_depth || !s->elem_leaf) return nomem(c->err);
  ST_TRY(pass1(c));
  for (int i = 0; i < m->n_schema; i++) s->elem_leaf[i] = c->leaf_of[i];
  for (int g = 0; g < m->n_row_groups; g++)
    ST_SAFETY(m->row_groups[g].n_columns == s->n_leaves, c->err,
              "schema: row group %d has %d column chunks for %d columns", g, m->row_groups[g].n_columns,
              s->n_leaves);
  ST_TRY(build_leaves(c));

  c->cap_nodes = 2 * m->n_schema + 2;
  s->nodes = st_calloc((size_t)c->cap_nodes, sizeof(st_pq_node));
  int ntop = count_children(c, 0);
  s->top_first_leaf = st_calloc(ntop ? (size_t)ntop : 1, sizeof(int));
  s->top_n_leaves = st_calloc(ntop ? (size_t)ntop : 1, sizeof(int));
  s->top_node = st_calloc(ntop ? (size_t)ntop : 1, sizeof(int));
  c->last_child = st_calloc((size_t)c->cap_nodes, sizeof(int));
  if (!c->last_child || !s->nodes || !s->top_first_leaf || !s->top_n_leaves || !s->top_node)
    return nomem(c->err);

  st_field *root = &s->root;
  root->type = ST_T_STRUCT;
  root->nullable = false;
  if (!(root->name = st_strdup(elem_name(&m->schema[0])))) return nomem(c->err);
  ST_TRY(alloc_children(c, root, ntop));
  ST_TRY(root_metadata(c));
  int rk = add_node(c, root, ST_PQ_NODE_STRUCT, -1, 0, 0, 0, 0);
  if (rk < 0) return ST_ERR_CORRUPT;
  levels up = {0, 0, 0};
  int i = 0;
  for (int ch = c->first_child[0]; ch >= 0; ch = c->next[ch], i++) {
    s->top_node[i] = s->n_nodes;
    ST_TRY(map_elem(c, ch, up, false, NULL, &root->children[i], rk, 1));
    const st_pq_node *tn = &s->nodes[s->top_node[i]];
    s->top_first_leaf[i] = tn->first_leaf;
    s->top_n_leaves[i] = tn->n_leaves;
  }
  finish_node(c, rk);
  for (int l = 0; l < s->n_leaves; l++)
    ST_SAFETY(s->leaves[l].node >= 0, c->err, "schema: internal error: column '%s' not mapped",
              s->leaves[l].path);
  return 0;
}

int st_pq_schema_build(const st_pq_file_meta *m, st_pq_tree *out, st_error *err) {
  memset(out, 0, sizeof *out);
  build_ctx c;
  memset(&c, 0, sizeof c);
  c.m = m;
  c.s = out;
  c.err = err;
  size_t n = m->n_schema > 0 ? (size_t)m->n_schema : 1;
  c.parent = st_malloc(n * sizeof(int));
  c.first_child = st_malloc(n * sizeof(int));
  c.next = st_malloc(n * sizeof(int));
  c.leaf_of = st_malloc(n * sizeof(int));
  int rc = (!c.parent || !c.first_child || !c.next || !c.leaf_of) ? nomem(err) : build(&c);
  st_free(c.parent);
  st_free(c.first_child);
  st_free(c.next);
  st_free(c.leaf_of);
  st_free(c.last_child);
  if (rc) st_pq_schema_free(out);
  return rc;
}

void st_pq_schema_free(st_pq_tree *s) {
  if (!s) return;
  if (s->leaves)
    for (int i = 0; i < s->n_leaves; i++) st_free(s->leaves[i].path);
  st_free(s->leaves);
  st_field_clear(&s->root);
  st_free(s->top_first_leaf);
  st_free(s->top_n_leaves);
  st_free(s->nodes);
  st_free(s->top_node);
  st_free(s->elem_depth);
  st_free(s->elem_leaf);
  memset(s, 0, sizeof *s);
}
