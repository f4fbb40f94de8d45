/*
** This file implements unit tests of st_pq_schema_build (schema.c): the
** schema of every parquet-testing fixture builds, and its node levels obey
** the rules documented in meta.h (checked node by node, independently of how
** schema.c computes them); malformed schema lists are rejected with
** ST_ERR_CORRUPT; small hand-made schemas give known trees and levels
** (the levels are those of LogicalTypes.md's examples).
*/
#include <dirent.h>
#include <stdlib.h>

#include "test.h"
#include "parquet/meta.h"
#include "test_thrift_util.h"

/* The level rules of meta.h, checked on every node.  Returns NULL or a reason. */
static const char *check_tree(const st_pq_file_meta *m, const st_pq_tree *s) {
  if (s->n_nodes < 1 || s->nodes[0].field != &s->root || s->nodes[0].parent != -1) return "root node";
  int leaves_seen = 0;
  for (int i = 0; i < s->n_nodes; i++) {
    const st_pq_node *n = &s->nodes[i];
    if (n->nullable != n->field->nullable) return "nullable mismatch";
    if (n->schema_index < 0 || n->schema_index >= m->n_schema) return "schema index";
    if (n->kind == ST_PQ_NODE_LEAF) {
      if (n->leaf != leaves_seen++) return "leaves out of order";
      const st_pq_leaf *l = &s->leaves[n->leaf];
      if (l->node != i) return "leaf->node";
      if (n->def != l->max_def || n->rep != l->max_rep) return "leaf levels != max levels";
      if (l->rep_ancestor_def != n->rep_ancestor_def) return "leaf rep_ancestor_def";
      if (n->field->n_children != 0) return "leaf with children";
    } else if (n->leaf != -1) {
      return "non-leaf with leaf index";
    }
    if (n->kind == ST_PQ_NODE_LIST && (n->field->type != ST_T_LIST || n->field->n_children != 1))
      return "LIST";
    if (n->kind == ST_PQ_NODE_MAP && (n->field->type != ST_T_MAP || n->field->n_children != 1)) return "MAP";
    if (n->kind == ST_PQ_NODE_STRUCT && n->field->type != ST_T_STRUCT) return "STRUCT";
    /* children: count, order, field pointers, levels */
    int k = 0;
    for (int c = n->first_child; c >= 0; c = s->nodes[c].next_sibling, k++) {
      const st_pq_node *ch = &s->nodes[c];
      if (c <= i || ch->parent != i) return "child links";
      if (k >= n->field->n_children || ch->field != &n->field->children[k]) return "child field pointer";
      if (n->kind == ST_PQ_NODE_LIST || n->kind == ST_PQ_NODE_MAP) {
        if (ch->rep != n->rep + 1) return "list child rep";
        if (ch->rep_ancestor_def != n->def + 1) return "list child rep_ancestor_def";
        if (ch->def != n->def + 1 + ch->nullable) return "list child def";
      } else {
        if (ch->rep != n->rep || ch->rep_ancestor_def != n->rep_ancestor_def) return "struct child rep";
        if (ch->def != n->def + ch->nullable) return "struct child def";
      }
      if (n->kind == ST_PQ_NODE_MAP && ch->field->n_children != 2) return "map entries";
    }
    if (k != n->field->n_children) return "child count";
    /* leaf range: contiguous, covering exactly the leaves below */
    if (n->first_leaf < 0 || n->n_leaves < 0 || n->first_leaf + n->n_leaves > s->n_leaves)
      return "leaf range";
  }
  if (leaves_seen != s->n_leaves) return "not every leaf has a node";
  if (s->n_elems != m->n_schema || s->elem_depth[0] != 0) return "element arrays";
  int n_leaf_elems = 0;
  for (int i = 0; i < m->n_schema; i++) {
    int l = s->elem_leaf[i];
    if (l >= 0 && (l >= s->n_leaves || s->leaves[l].schema_index != i)) return "elem_leaf";
    n_leaf_elems += l >= 0;
    if (m->schema[i].num_children > 0 && i + 1 < m->n_schema && s->elem_depth[i + 1] != s->elem_depth[i] + 1)
      return "elem_depth of a first child";
    if (i > 0 && (s->elem_depth[i] < 1 || s->elem_depth[i] > s->elem_depth[i - 1] + 1)) return "elem_depth";
  }
  if (n_leaf_elems != s->n_leaves) return "elem_leaf count";
  if (s->nodes[0].n_leaves != s->n_leaves) return "root leaf range";
  for (int t = 0; t < s->root.n_children; t++) {
    const st_pq_node *tn = &s->nodes[s->top_node[t]];
    if (tn->parent != 0 || tn->field != &s->root.children[t]) return "top node";
    if (s->top_first_leaf[t] != tn->first_leaf || s->top_n_leaves[t] != tn->n_leaves) return "top leaf range";
    for (int l = tn->first_leaf; l < tn->first_leaf + tn->n_leaves; l++)
      if (s->leaves[l].top_column != t) return "leaf top_column";
  }
  return NULL;
}

TEST(schema_fixtures_build) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/fixtures/parquet-testing/data", st_test_shared());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *de;
  int built = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (!(l > 8 && !strcmp(de->d_name + l - 8, ".parquet")) &&
        !(l > 18 && !strcmp(de->d_name + l - 18, ".parquet.encrypted")))
      continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    pqf_footer f;
    st_error err;
    int rc = pqf_read_footer(path, &f, &err);
    if (rc == ST_ERR_UNSUPPORTED) continue;
    CHECK_OK(rc, &err);
    st_pq_file_meta m;
    CHECK_OK(st_pq_meta_decode(f.data, f.len, &m, &err), &err);
    st_pq_tree s;
    rc = st_pq_schema_build(&m, &s, &err);
    if (rc) fprintf(stderr, "%s: %s\n", de->d_name, err.msg);
    CHECK_OK(rc, &err);
    const char *why = check_tree(&m, &s);
    if (why) fprintf(stderr, "%s: %s\n", de->d_name, why);
    CHECK(why == NULL);
    built++;
    st_pq_schema_free(&s);
    st_pq_meta_free(&m);
    pqf_footer_free(&f);
  }
  closedir(d);
  CHECK(built >= 50);
}

/* ---- hand-made schemas ------------------------------------------------------- */

typedef struct el_spec {
  const char *name;
  int type;          /* -1 group */
  int rep;           /* -1 none (root) */
  int nch;
  int ct;            /* converted type */
  int lt;            /* logical kind */
} el_spec;

static int build_from(const el_spec *sp, int n, st_pq_file_meta *m, st_pq_schema_elem *els, st_pq_tree *s,
                      st_error *err) {
  memset(m, 0, sizeof *m);
  memset(els, 0, sizeof(*els) * (size_t)n);
  for (int i = 0; i < n; i++) {
    els[i].name = (char *)sp[i].name;
    els[i].has_type = sp[i].type >= 0;
    els[i].type = sp[i].type >= 0 ? sp[i].type : 0;
    els[i].type_length = sp[i].type == ST_PQ_FIXED_LEN_BYTE_ARRAY ? 4 : 0;
    els[i].has_repetition = sp[i].rep >= 0;
    els[i].repetition = sp[i].rep >= 0 ? sp[i].rep : 0;
    els[i].num_children = sp[i].nch;
    els[i].converted_type = sp[i].ct;
    els[i].logical.kind = sp[i].lt;
  }
  m->schema = els;
  m->n_schema = n;
  return st_pq_schema_build(m, s, err);
}

enum { G = -1, REQ = ST_PQ_REQUIRED, OPT = ST_PQ_OPTIONAL, REP = ST_PQ_REPEATED };

TEST(schema_list_layouts) {
  /* LogicalTypes.md: 3-level list, legacy 2-level forms, bare repeated field */
  el_spec sp[] = {
      {"schema", G, -1, 6, 0, 0},
      {"a", G, OPT, 1, ST_PQ_CT_LIST, ST_PQ_LT_LIST},      /* optional group a (LIST)      */
      {"list", G, REP, 1, 0, 0},                           /*   repeated group list        */
      {"element", ST_PQ_INT32, OPT, 0, 0, 0},              /*     optional int32 element   */
      {"b", G, REQ, 1, ST_PQ_CT_LIST, 0},                  /* required group b (LIST)      */
      {"array", ST_PQ_BYTE_ARRAY, REP, 0, ST_PQ_CT_UTF8, 0}, /*   repeated binary array (UTF8) */
      {"c", G, OPT, 1, ST_PQ_CT_LIST, 0},                  /* optional group c (LIST)      */
      {"array", G, REP, 1, 0, 0},                          /*   repeated group array { x } */
      {"x", ST_PQ_INT64, REQ, 0, 0, 0},
      {"d", G, OPT, 1, ST_PQ_CT_LIST, 0},                  /* optional group d (LIST)      */
      {"d_tuple", G, REP, 1, 0, 0},                        /*   repeated group d_tuple {y} */
      {"y", ST_PQ_INT64, OPT, 0, 0, 0},
      {"e", G, OPT, 1, ST_PQ_CT_LIST, 0},                  /* optional group e (LIST)      */
      {"pair", G, REP, 2, 0, 0},                           /*   repeated group pair {p, q} */
      {"p", ST_PQ_INT32, REQ, 0, 0, 0},
      {"q", ST_PQ_DOUBLE, OPT, 0, 0, 0},
      {"f", ST_PQ_FLOAT, REP, 0, 0, 0},                    /* repeated float f (bare)      */
  };
  int n = (int)(sizeof sp / sizeof sp[0]);
  st_pq_file_meta m;
  st_pq_schema_elem els[32];
  st_pq_tree s;
  st_error err;
  CHECK_OK(build_from(sp, n, &m, els, &s, &err), &err);
  CHECK(check_tree(&m, &s) == NULL);
  const st_field *r = &s.root;
  CHECK(r->n_children == 6);
  /* a: list<element: int32>, nullable list and element */
  CHECK(r->children[0].type == ST_T_LIST && r->children[0].nullable);
  CHECK(r->children[0].children[0].type == ST_T_INT32 && r->children[0].children[0].nullable);
  CHECK(!strcmp(r->children[0].children[0].name, "element"));
  /* b: list<array: string not null> not null */
  CHECK(r->children[1].type == ST_T_LIST && !r->children[1].nullable);
  CHECK(r->children[1].children[0].type == ST_T_STRING && !r->children[1].children[0].nullable);
  /* c: list<array: struct<x: int64 not null> not null> */
  CHECK(r->children[2].children[0].type == ST_T_STRUCT && !r->children[2].children[0].nullable);
  CHECK(!strcmp(r->children[2].children[0].name, "array"));
  CHECK(r->children[2].children[0].children[0].type == ST_T_INT64);
  /* d: list<d_tuple: struct<y: int64>> */
  CHECK(r->children[3].children[0].type == ST_T_STRUCT && !strcmp(r->children[3].children[0].name,
                                                                  "d_tuple"));
  /* e: list<pair: struct<p, q>> */
  CHECK(r->children[4].children[0].type == ST_T_STRUCT && r->children[4].children[0].n_children == 2);
  /* f: list<f: float not null> not null */
  CHECK(r->children[5].type == ST_T_LIST && !r->children[5].nullable);
  CHECK(r->children[5].children[0].type == ST_T_FLOAT && !strcmp(r->children[5].children[0].name, "f"));
  /* levels of a (meta.h example): list def 1 rep 0, element def 3 rep 1 rad 2 */
  const st_pq_node *na = &s.nodes[s.top_node[0]];
  CHECK(na->kind == ST_PQ_NODE_LIST && na->def == 1 && na->rep == 0 && na->rep_ancestor_def == 0);
  const st_pq_node *ne = &s.nodes[na->first_child];
  CHECK(ne->kind == ST_PQ_NODE_LEAF && ne->def == 3 && ne->rep == 1 && ne->rep_ancestor_def == 2);
  /* f: bare repeated at top level: list def 0, element def 1 rep 1 rad 1 */
  const st_pq_node *nf = &s.nodes[s.top_node[5]];
  CHECK(nf->kind == ST_PQ_NODE_LIST && nf->def == 0 && nf->rep == 0);
  const st_pq_node *nfe = &s.nodes[nf->first_child];
  CHECK(nfe->def == 1 && nfe->rep == 1 && nfe->rep_ancestor_def == 1);
  /* leaf paths */
  CHECK(s.n_leaves == 7);
  CHECK(!strcmp(s.leaves[0].path, "a.list.element"));
  CHECK(!strcmp(s.leaves[2].path, "c.array.x"));
  CHECK(s.leaves[2].max_def == 2 && s.leaves[2].max_rep == 1);
  st_pq_schema_free(&s);
}

TEST(schema_map_layouts) {
  el_spec sp[] = {
      {"schema", G, -1, 3, 0, 0},
      {"m", G, OPT, 1, ST_PQ_CT_MAP, ST_PQ_LT_MAP},          /* optional group m (MAP)     */
      {"key_value", G, REP, 2, 0, 0},
      {"key", ST_PQ_BYTE_ARRAY, REQ, 0, ST_PQ_CT_UTF8, 0},
      {"value", ST_PQ_INT32, OPT, 0, 0, 0},
      {"k", G, REQ, 1, ST_PQ_CT_MAP, 0},                     /* map without values          */
      {"key_value", G, REP, 1, 0, 0},
      {"key", ST_PQ_INT32, REQ, 0, 0, 0},
      {"s", G, OPT, 2, 0, 0},                                /* plain struct                */
      {"u", ST_PQ_INT32, REQ, 0, ST_PQ_CT_UINT_8, 0},
      {"w", ST_PQ_FIXED_LEN_BYTE_ARRAY, OPT, 0, 0, 0},
  };
  int n = (int)(sizeof sp / sizeof sp[0]);
  st_pq_file_meta m;
  st_pq_schema_elem els[32];
  st_pq_tree s;
  st_error err;
  CHECK_OK(build_from(sp, n, &m, els, &s, &err), &err);
  CHECK(check_tree(&m, &s) == NULL);
  const st_field *f = &s.root.children[0];
  CHECK(f->type == ST_T_MAP && f->nullable && f->n_children == 1);
  CHECK(f->children[0].type == ST_T_STRUCT && !f->children[0].nullable && f->children[0].n_children == 2);
  CHECK(f->children[0].children[0].type == ST_T_STRING && !f->children[0].children[0].nullable);
  CHECK(f->children[0].children[1].type == ST_T_INT32 && f->children[0].children[1].nullable);
  const st_pq_node *nm = &s.nodes[s.top_node[0]];
  CHECK(nm->kind == ST_PQ_NODE_MAP && nm->def == 1);
  const st_pq_node *ent = &s.nodes[nm->first_child];
  CHECK(ent->kind == ST_PQ_NODE_STRUCT && ent->def == 2 && ent->rep == 1 && ent->rep_ancestor_def == 2);
  CHECK(ent->schema_index == 2);
  /* k: list<key: int32 not null> not null (pyarrow's reading) */
  CHECK(s.root.children[1].type == ST_T_LIST && !s.root.children[1].nullable);
  CHECK(s.root.children[1].children[0].type == ST_T_INT32);
  /* s: struct<u: uint8 not null, w: fixed_size_binary[4]> */
  CHECK(s.root.children[2].type == ST_T_STRUCT && s.root.children[2].children[0].type == ST_T_UINT8);
  CHECK(s.root.children[2].children[1].type == ST_T_FIXED_BINARY);
  CHECK(s.root.children[2].children[1].byte_width == 4);
  CHECK(s.leaves[3].max_def == 1 && s.leaves[4].max_def == 2 && s.leaves[4].top_column == 2);
  st_pq_schema_free(&s);
}

TEST(schema_rejects_malformed) {
  st_pq_file_meta m;
  st_pq_schema_elem els[300];
  st_pq_tree s;
  st_error err;
  /* root claims 3 children, only 2 follow */
  el_spec a[] = {{"r", G, -1, 3, 0, 0}, {"x", ST_PQ_INT32, REQ, 0, 0, 0}, {"y", ST_PQ_INT32, REQ, 0, 0, 0}};
  CHECK(build_from(a, 3, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* elements after the root's children */
  el_spec b[] = {{"r", G, -1, 1, 0, 0}, {"x", ST_PQ_INT32, REQ, 0, 0, 0}, {"y", ST_PQ_INT32, REQ, 0, 0, 0}};
  CHECK(build_from(b, 3, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* negative num_children */
  el_spec c[] = {{"r", G, -1, -1, 0, 0}};
  CHECK(build_from(c, 1, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* primitive root */
  el_spec d[] = {{"r", ST_PQ_INT32, -1, 0, 0, 0}};
  CHECK(build_from(d, 1, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* empty schema */
  CHECK(build_from(d, 0, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* missing repetition on a column */
  el_spec e[] = {{"r", G, -1, 1, 0, 0}, {"x", ST_PQ_INT32, -1, 0, 0, 0}};
  CHECK(build_from(e, 2, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* nesting 150 deep: over the limit of 100 */
  el_spec deep[152];
  deep[0] = (el_spec){"r", G, -1, 1, 0, 0};
  for (int i = 1; i <= 150; i++) deep[i] = (el_spec){"g", G, OPT, 1, 0, 0};
  deep[151] = (el_spec){"x", ST_PQ_INT32, OPT, 0, 0, 0};
  CHECK(build_from(deep, 152, &m, els, &s, &err) == ST_ERR_CORRUPT);
  /* 90 deep is fine, levels count the optional groups */
  deep[90] = (el_spec){"x", ST_PQ_INT32, OPT, 0, 0, 0};
  CHECK_OK(build_from(deep, 91, &m, els, &s, &err), &err);
  CHECK(s.n_leaves == 1 && s.leaves[0].max_def == 90);
  CHECK(check_tree(&m, &s) == NULL);
  st_pq_schema_free(&s);
  /* row group with the wrong number of column chunks */
  el_spec ok[] = {{"r", G, -1, 1, 0, 0}, {"x", ST_PQ_INT32, REQ, 0, 0, 0}};
  st_pq_row_group rg;
  memset(&rg, 0, sizeof rg);
  rg.n_columns = 2;
  memset(&m, 0, sizeof m);
  CHECK_OK(build_from(ok, 2, &m, els, &s, &err), &err);
  st_pq_schema_free(&s);
  m.row_groups = &rg;
  m.n_row_groups = 1;
  CHECK(st_pq_schema_build(&m, &s, &err) == ST_ERR_CORRUPT);
}

TEST(schema_primitive_mapping) {
  st_pq_file_meta m;
  st_pq_schema_elem els[16];
  st_pq_tree s;
  st_error err;
  el_spec sp[] = {
      {"r", G, -1, 9, 0, 0},
      {"ts_legacy", ST_PQ_INT64, OPT, 0, ST_PQ_CT_TIMESTAMP_MILLIS, 0},
      {"ts_local", ST_PQ_INT64, OPT, 0, 0, ST_PQ_LT_TIMESTAMP},
      {"i96", ST_PQ_INT96, OPT, 0, 0, 0},
      {"date_on_i64", ST_PQ_INT64, OPT, 0, ST_PQ_CT_DATE, 0}, /* misapplied: physical mapping */
      {"dec", ST_PQ_FIXED_LEN_BYTE_ARRAY, OPT, 0, ST_PQ_CT_DECIMAL, 0},
      {"u64", ST_PQ_INT64, REQ, 0, ST_PQ_CT_UINT_64, 0},
      {"j", ST_PQ_BYTE_ARRAY, OPT, 0, ST_PQ_CT_JSON, 0},
      {"bson", ST_PQ_BYTE_ARRAY, OPT, 0, ST_PQ_CT_BSON, 0},
      {"t", ST_PQ_INT32, OPT, 0, ST_PQ_CT_TIME_MILLIS, 0},
  };
  int n = (int)(sizeof sp / sizeof sp[0]);
  memset(els, 0, sizeof els);
  (void)build_from(sp, n, &m, els, &s, &err); /* fills m/els; rebuilt below */
  st_pq_schema_free(&s);
  /* logical details that el_spec cannot express */
  els[2].logical.unit = ST_MICRO;
  els[2].logical.utc_adjusted = false;
  els[5].precision = 9;
  els[5].scale = 3;
  CHECK_OK(st_pq_schema_build(&m, &s, &err), &err);
  const st_field *c = s.root.children;
  CHECK(c[0].type == ST_T_TIMESTAMP && c[0].unit == ST_MILLI && c[0].tz && !strcmp(c[0].tz, "UTC"));
  CHECK(c[1].type == ST_T_TIMESTAMP && c[1].unit == ST_MICRO && c[1].tz == NULL);
  CHECK(c[2].type == ST_T_TIMESTAMP && c[2].unit == ST_NANO && c[2].tz == NULL);
  CHECK(c[3].type == ST_T_INT64);
  CHECK(c[4].type == ST_T_DECIMAL128 && c[4].precision == 9 && c[4].scale == 3);
  CHECK(c[5].type == ST_T_UINT64 && !c[5].nullable);
  CHECK(c[6].type == ST_T_STRING);
  CHECK(c[7].type == ST_T_BINARY);
  CHECK(c[8].type == ST_T_TIME32 && c[8].unit == ST_MILLI);
  st_pq_schema_free(&s);
}
