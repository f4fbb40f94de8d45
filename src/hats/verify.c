/*
** This file implements st_catalog_verify (skytile/hats.h): the checks of
** hats-import's verifier, run on a HATS or hipscat catalog directory.
**
** It works from the files themselves rather than st_catalog_open, so that a
** broken catalog still gets a full report.  Steps:
**   1. properties (hats.properties, properties or catalog_info.json) and
**      _common_metadata; partition_info.csv pixels vs _metadata pixels vs
**      pixels of the Norder=/Dir=/Npix= entries on disk  -> "valid hats"
**   2. data files on disk (every file below <data>/Norder=*) vs _metadata's
**      file_paths                                        -> "file sets"
**   3. footer rows: total vs hats_nrows, per file vs _metadata -> "num rows"
**   4. schemas of _metadata and each footer vs _common_metadata -> "schema"
** For a collection, the primary catalog and then each margin and index
** catalog (targets prefixed with the sub-catalog's name).
** Each result keeps owned strings; the report owns everything.  Pixel sets
** are sorted arrays of (order << 58 | pixel) keys compared as sets.
*/
#include "skytile.h"
#include "skytile/hats.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hats/hats_int.h"

typedef struct vr_item {
  st_verify_result pub;
  char *test, *target, *desc;
  ht_strs bad;
} vr_item;

struct st_verify_report {
  vr_item *items;
  int n, cap;
  const char *prefix;         /* sub-catalog name prefixed to targets, or NULL */
};

int st_verify_n_results(const st_verify_report *r) { return r ? r->n : 0; }
const st_verify_result *st_verify_get(const st_verify_report *r, int i) {
  return r && i >= 0 && i < r->n ? &r->items[i].pub : NULL;
}
bool st_verify_passed(const st_verify_report *r) {
  for (int i = 0; r && i < r->n; i++)
    if (!r->items[i].pub.passed) return false;
  return true;
}
void st_verify_free(st_verify_report *r) {
  if (!r) return;
  for (int i = 0; i < r->n; i++) {
    st_free(r->items[i].test);
    st_free(r->items[i].target);
    st_free(r->items[i].desc);
    ht_strs_free(&r->items[i].bad);
  }
  st_free(r->items);
  st_free(r);
}

/* Append a result; takes ownership of desc and bad (bad may be NULL). */
static int add_result(st_verify_report *r, const char *test, const char *target, bool passed, char *desc,
                      ht_strs *bad, st_error *err) {
  if (r->n == r->cap) {
    int nc = r->cap ? r->cap * 2 : 8;
    vr_item *it = st_realloc(r->items, (size_t)nc * sizeof *it);
    if (!it) {
      st_free(desc);
      if (bad) ht_strs_free(bad);
      return st_fail(err, ST_ERR_NOMEM, "out of memory");
    }
    r->items = it;
    r->cap = nc;
  }
  vr_item *it = &r->items[r->n];
  memset(it, 0, sizeof *it);
  it->test = st_strdup(test);
  if (r->prefix && strcmp(test, "valid hats") != 0) {
    size_t n = strlen(r->prefix) + strlen(target) + 3;
    it->target = st_malloc(n);
    if (it->target) snprintf(it->target, n, "%s: %s", r->prefix, target);
  } else
    it->target = st_strdup(target);
  it->desc = desc ? desc : st_strdup("");
  if (bad) {
    it->bad = *bad;
    memset(bad, 0, sizeof *bad);
  }
  r->n++;
  if (!it->test || !it->target || !it->desc) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  it->pub.test = it->test;
  it->pub.target = it->target;
  it->pub.passed = passed;
  it->pub.description = it->desc;
  it->pub.n_bad = it->bad.n;
  it->pub.bad = (const char *const *)it->bad.v;
  return 0;
}

/* A growable text for descriptions. */
typedef struct vtext {
  char *s;
  size_t len, cap;
  bool oom;
} vtext;

static void vt_add(vtext *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vt_add(vtext *t, const char *fmt, ...) {
  if (t->oom) return;
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t nc = (t->len + (size_t)n + 1) * 2;
    char *s = st_realloc(t->s, nc);
    if (!s) {
      t->oom = true;
      va_end(ap2);
      return;
    }
    t->s = s;
    t->cap = nc;
  }
  vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap2);
  va_end(ap2);
  t->len += (size_t)n;
}

/* ---- pixel sets -------------------------------------------------------------- */
typedef struct pixset {
  int64_t *v;
  int n, cap;
} pixset;

static int ps_add(pixset *p, int order, int64_t pix, st_error *err) {
  if (p->n == p->cap) {
    int nc = p->cap ? p->cap * 2 : 64;
    int64_t *v = st_realloc(p->v, (size_t)nc * sizeof *v);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    p->v = v;
    p->cap = nc;
  }
  p->v[p->n++] = ((int64_t)order << 58) | pix;
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void ps_finish(pixset *p) {
  if (p->n > 1) qsort(p->v, (size_t)p->n, sizeof *p->v, cmp_i64);
  int w = 0;
  for (int i = 0; i < p->n; i++)
    if (!w || p->v[w - 1] != p->v[i]) p->v[w++] = p->v[i];
  p->n = w;
}

static bool ps_has(const pixset *p, int64_t k) {
  return p->n && bsearch(&k, p->v, (size_t)p->n, sizeof k, cmp_i64) != NULL;
}

/* Describe a - b and b - a as "extra [...], missing [...]"; returns true if equal. */
static bool ps_compare(const pixset *expect, const pixset *got, vtext *t, const char *what) {
  bool eq = true;
  for (int pass = 0; pass < 2; pass++) {
    const pixset *x = pass ? expect : got, *y = pass ? got : expect;
    bool first = true;
    for (int i = 0; i < x->n; i++) {
      if (ps_has(y, x->v[i])) continue;
      if (eq) vt_add(t, "%spartition pixels differ between %s:", t->len ? "; " : "", what);
      eq = false;
      vt_add(t, "%s%s Norder=%d Npix=%" PRId64, first ? (pass ? " missing" : " extra") : ",", first ? ":" : "",
             (int)(x->v[i] >> 58), x->v[i] & (((int64_t)1 << 58) - 1));
      first = false;
    }
  }
  return eq;
}

/* ---- schema comparison ------------------------------------------------------- */
static bool field_same(const st_field *a, const st_field *b, int depth) {
  if (depth > 64) return false;
  if (strcmp(a->name, b->name) != 0 || a->nullable != b->nullable || a->n_children != b->n_children) return false;
  if (!st_field_equal(a, b)) return false;
  for (int i = 0; i < a->n_children; i++)
    if (!field_same(&a->children[i], &b->children[i], depth + 1)) return false;
  return true;
}

/* Explain the first difference between two top-level schemas. */
static void schema_diff(const st_field *truth, const st_field *got, vtext *t) {
  char ta[128], tb[128];
  for (int i = 0; i < got->n_children; i++) {
    const st_field *g = &got->children[i];
    const st_field *m = NULL;
    for (int j = 0; j < truth->n_children; j++)
      if (strcmp(truth->children[j].name, g->name) == 0) m = &truth->children[j];
    if (!m) {
      vt_add(t, "%sextra column '%s'", t->len ? ", " : "", g->name);
      continue;
    }
    if (!field_same(m, g, 0)) {
      st_field_type_string(g, ta, sizeof ta);
      st_field_type_string(m, tb, sizeof tb);
      vt_add(t, "%scolumn '%s' is %s%s, expected %s%s", t->len ? ", " : "", g->name, ta,
             g->nullable ? "" : " not null", tb, m->nullable ? "" : " not null");
    }
  }
  for (int j = 0; j < truth->n_children; j++) {
    bool found = false;
    for (int i = 0; i < got->n_children; i++)
      if (strcmp(truth->children[j].name, got->children[i].name) == 0) found = true;
    if (!found) vt_add(t, "%smissing column '%s'", t->len ? ", " : "", truth->children[j].name);
  }
  if (!t->len && truth->n_children == got->n_children) vt_add(t, "column order differs");
}

/* ---- the walk of data files ------------------------------------------------- */
static int list_files_rec(const char *root, const char *rel, int depth, ht_strs *out, st_error *err) {
  if (depth > HT_MAX_DEPTH) return st_fail(err, ST_ERR_LIMIT, "%s/%s: nested too deeply", root, rel);
  char *dir = ht_join(root, rel);
  if (!dir) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  ht_strs names = {0};
  int rc = ht_list(dir, HT_LS_FILES | HT_LS_DIRS, &names, err);
  for (int i = 0; !rc && i < names.n; i++) {
    char *sub = ht_join(rel, names.v[i]);
    char *full = ht_join(dir, names.v[i]);
    if (!sub || !full) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    else if (ht_is_dir(full)) rc = list_files_rec(root, sub, depth + 1, out, err);
    else rc = ht_strs_push(out, sub, err);
    st_free(sub);
    st_free(full);
  }
  ht_strs_free(&names);
  st_free(dir);
  return rc;
}

typedef struct vfile {
  const char *rel;
  int64_t footer_rows;        /* -1: could not be read */
  int64_t md_rows;            /* -1: not in _metadata  */
  bool on_disk;
} vfile;

static int cmp_vfile(const void *a, const void *b) {
  return strcmp(((const vfile *)a)->rel, ((const vfile *)b)->rel);
}

static bool known_type(const char *t) {
  static const char *const T[] = {"object", "source", "margin", "index", "association", "map"};
  for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
    if (t && strcmp(t, T[i]) == 0) return true;
  return false;
}

static int verify_catalog(const char *path, st_verify_report *rep, st_error *err) {
  int rc = 0;
  ht_props props = {0};
  vtext vd = {0};
  char *text = NULL, *data_root = NULL, *p = NULL;
  st_pq_reader *cm = NULL, *md = NULL;
  pixset pi = {0}, mdp = {0}, disk = {0};
  ht_strs disk_files = {0}, md_files = {0}, bad = {0}, sbad = {0};
  vtext ts = {0};             /* per-file schema problems, filled with the row counts */
  vfile *vf = NULL;
  int nvf = 0;
  bool legacy = false;

  /* ---- 1. valid hats ---- */
  const char *pnames[3] = {"hats.properties", "properties", "catalog_info.json"};
  bool have_props = false;
  for (int i = 0; i < 3 && !have_props; i++) {
    p = ht_join(path, pnames[i]);
    if (!p) goto nomem;
    if (ht_is_file(p)) {
      have_props = true;
      legacy = i == 2;
      st_error e2 = {0};
      int prc = ht_read_text(p, &text, NULL, &e2);
      if (!prc) prc = legacy ? ht_props_parse_hipscat_json(text, &props, &e2) : ht_props_parse(text, &props, &e2);
      if (prc) vt_add(&vd, "%sproperties file is invalid: %s", vd.len ? "; " : "", e2.msg);
      st_free(text);
      text = NULL;
    }
    st_free(p);
    p = NULL;
  }
  if (!have_props) vt_add(&vd, "%sproperties file does not exist", vd.len ? "; " : "");
  const char *type = ht_props_get(&props, "dataproduct_type");
  if (have_props && !ht_props_get(&props, "obs_collection"))
    vt_add(&vd, "%sproperties: obs_collection is missing", vd.len ? "; " : "");
  if (have_props && !known_type(type))
    vt_add(&vd, "%sproperties: dataproduct_type '%s' is missing or unknown", vd.len ? "; " : "", type ? type : "");
  const char *nrows_s = ht_props_get(&props, "hats_nrows");
  char *end = NULL;
  long long nrows = nrows_s ? strtoll(nrows_s, &end, 10) : -1;
  if (nrows_s && (end == nrows_s || *end)) {
    vt_add(&vd, "%sproperties: hats_nrows '%s' is not an integer", vd.len ? "; " : "", nrows_s);
    nrows = -1;
  }
  data_root = legacy ? st_strdup(path) : ht_join(path, "dataset");
  if (!data_root) goto nomem;
  p = ht_join(data_root, "_common_metadata");
  if (!p) goto nomem;
  if (!ht_is_file(p)) vt_add(&vd, "%s_common_metadata file does not exist", vd.len ? "; " : "");
  else {
    st_error e2 = {0};
    if (st_pq_open(p, NULL, &cm, &e2)) vt_add(&vd, "%s_common_metadata: %s", vd.len ? "; " : "", e2.msg);
  }
  st_free(p);
  p = ht_join(data_root, "_metadata");
  if (!p) goto nomem;
  if (ht_is_file(p)) {
    st_error e2 = {0};
    if (st_pq_open(p, NULL, &md, &e2)) vt_add(&vd, "%s_metadata: %s", vd.len ? "; " : "", e2.msg);
  } else if (type && strcmp(type, "index") == 0)
    vt_add(&vd, "%s_metadata file does not exist", vd.len ? "; " : "");
  st_free(p);
  p = NULL;
  /* _metadata file list and pixels */
  if (md) {
    int nrg = st_pq_num_row_groups(md);
    for (int rg = 0; rg < nrg && st_pq_num_columns(md) > 0; rg++) {
      st_pq_chunk_info ci;
      if (st_pq_describe_chunk(md, rg, 0, &ci, err)) goto fail;
      const char *fp = ci.file_path ? ci.file_path : "";
      while (fp[0] == '.' && fp[1] == '/') fp += 2;
      if (legacy)
        while (*fp == '/') fp++;
      if (!ht_rel_ok(fp)) {
        vt_add(&vd, "%s_metadata: row group %d: file_path '%s' is not inside the catalog", vd.len ? "; " : "", rg,
               ci.file_path ? ci.file_path : "");
        continue;
      }
      if (!md_files.n || strcmp(md_files.v[md_files.n - 1], fp) != 0)
        if (ht_strs_push(&md_files, fp, err)) goto fail;
    }
    ht_strs_sort(&md_files);
    int w = 0;
    for (int i = 0; i < md_files.n; i++) {
      if (w && strcmp(md_files.v[w - 1], md_files.v[i]) == 0) {
        st_free(md_files.v[i]);
        continue;
      }
      md_files.v[w++] = md_files.v[i];
    }
    md_files.n = w;
    for (int i = 0; i < md_files.n; i++) {
      int o;
      int64_t px;
      if (ht_parse_npix_path(md_files.v[i], &o, &px)) {
        if (ps_add(&mdp, o, px, err)) goto fail;
      } else if (type && strcmp(type, "index") != 0)
        vt_add(&vd, "%scould not derive partition pixel from parquet path: %s", vd.len ? "; " : "", md_files.v[i]);
    }
    ps_finish(&mdp);
  }
  /* data files on disk: everything below Norder* directories */
  {
    ht_strs top = {0};
    int lrc = ht_list(data_root, HT_LS_DIRS, &top, err);
    if (lrc && lrc != ST_ERR_NOTFOUND) goto fail;
    st_error_clear(err);
    bool is_index = type && strcmp(type, "index") == 0;
    for (int i = 0; i < top.n; i++) {
      if (!is_index && strncmp(top.v[i], "Norder", 6) != 0) continue;
      if (top.v[i][0] == '_') continue;
      if (list_files_rec(data_root, top.v[i], 0, &disk_files, err)) {
        ht_strs_free(&top);
        goto fail;
      }
    }
    ht_strs_free(&top);
    ht_strs_sort(&disk_files);
    for (int i = 0; i < disk_files.n; i++) {
      int o;
      int64_t px;
      if (ht_parse_npix_path(disk_files.v[i], &o, &px) && ps_add(&disk, o, px, err)) goto fail;
    }
    ps_finish(&disk);
  }
  if (type && strcmp(type, "index") != 0) {
    p = ht_join(path, "partition_info.csv");
    if (!p) goto nomem;
    if (!ht_is_file(p)) vt_add(&vd, "%spartition_info.csv file does not exist", vd.len ? "; " : "");
    else {
      st_error e2 = {0};
      if (ht_read_text(p, &text, NULL, &e2)) vt_add(&vd, "%spartition_info.csv: %s", vd.len ? "; " : "", e2.msg);
      else {
        int co = -1, cp = -1, line = 0;
        char *s = text;
        while (*s) {
          char *e = s;
          while (*e && *e != '\n') e++;
          char save = *e;
          *e = 0;
          line++;
          int col = 0;
          long long vo = -1, vp = -1;
          char *f = s;
          while (*s) {
            char *comma = strchr(f, ',');
            if (comma) *comma = 0;
            if (line == 1) {
              if (strncmp(f, "Norder", 6) == 0) co = col;
              if (strncmp(f, "Npix", 4) == 0) cp = col;
            } else if (col == co)
              vo = strtoll(f, NULL, 10);
            else if (col == cp)
              vp = strtoll(f, NULL, 10);
            col++;
            if (!comma) break;
            f = comma + 1;
          }
          if (line > 1 && *s) {
            if (vo < 0 || vo > 29 || vp < 0 || vp >= st_hpx_npix((int)vo))
              vt_add(&vd, "%spartition_info.csv: line %d: bad pixel", vd.len ? "; " : "", line);
            else if (ps_add(&pi, (int)vo, vp, err)) {
              *e = save;
              goto fail;
            }
          } else if (line == 1 && (co < 0 || cp < 0))
            vt_add(&vd, "%spartition_info.csv: header lacks Norder/Npix", vd.len ? "; " : "");
          *e = save;
          s = *e ? e + 1 : e;
        }
        ps_finish(&pi);
        if (md) ps_compare(&pi, &mdp, &vd, "partition_info.csv and _metadata");
        ps_compare(&pi, &disk, &vd, "partition_info.csv and parquet paths on disk");
      }
      st_free(text);
      text = NULL;
    }
    st_free(p);
    p = NULL;
  }
  {
    bool ok = vd.len == 0;
    char *desc = NULL;
    if (ok) desc = st_strdup("Test hats.io.validation.is_valid_catalog (strict).");
    else {
      desc = vd.s;
      vd.s = NULL;
    }
    memset(&vd, 0, sizeof vd);
    if (add_result(rep, "valid hats", path, ok, desc, NULL, err)) goto fail;
  }

  /* ---- 2. file sets ---- */
  {
    nvf = 0;
    vf = st_calloc((size_t)(disk_files.n + md_files.n + 1), sizeof *vf);
    if (!vf) goto nomem;
    for (int i = 0; i < disk_files.n; i++) vf[nvf++] = (vfile){disk_files.v[i], -1, -1, true};
    for (int i = 0; i < md_files.n; i++) vf[nvf++] = (vfile){md_files.v[i], -1, -1, false};
    qsort(vf, (size_t)nvf, sizeof *vf, cmp_vfile);
    int w = 0;
    for (int i = 0; i < nvf; i++) {
      if (w && strcmp(vf[w - 1].rel, vf[i].rel) == 0) {
        vf[w - 1].md_rows = 0;   /* mark: in both */
        vf[w - 1].on_disk = true;
        continue;
      }
      vf[w++] = vf[i];
    }
    nvf = w;
    /* md_rows == 0 here marks "in both"; compute the symmetric difference */
    for (int i = 0; i < nvf; i++)
      if (vf[i].md_rows != 0 && ht_strs_push(&bad, vf[i].rel, err)) goto fail;
    vtext t = {0};
    vt_add(&t, "Test that files in _metadata match the data files on disk (%d on disk, %d in _metadata).",
           disk_files.n, md_files.n);
    for (int i = 0; i < bad.n; i++) {
      bool in_md = false;
      for (int j = 0; j < md_files.n; j++)
        if (strcmp(md_files.v[j], bad.v[i]) == 0) in_md = true;
      vt_add(&t, " %s: %s.", bad.v[i], in_md ? "listed in _metadata but not on disk" : "on disk but not in _metadata");
    }
    if (t.oom) goto nomem;
    if (add_result(rep, "file sets", "_metadata vs data files", bad.n == 0, t.s, &bad, err)) goto fail;
  }

  /* ---- 3. num rows ---- */
  {
    for (int i = 0; i < nvf; i++) {
      vf[i].md_rows = -1;
      vf[i].footer_rows = -1;
    }
    int64_t md_total = 0;
    if (md) {
      int nrg = st_pq_num_row_groups(md);
      for (int rg = 0; rg < nrg && st_pq_num_columns(md) > 0; rg++) {
        st_pq_chunk_info ci;
        if (st_pq_describe_chunk(md, rg, 0, &ci, err)) goto fail;
        const char *fp = ci.file_path ? ci.file_path : "";
        while (fp[0] == '.' && fp[1] == '/') fp += 2;
        if (legacy)
          while (*fp == '/') fp++;
        int64_t rws = st_pq_row_group_num_rows(md, rg);
        md_total += rws;
        vfile key = {.rel = fp};
        vfile *hit = bsearch(&key, vf, (size_t)nvf, sizeof *vf, cmp_vfile);
        if (hit) hit->md_rows = (hit->md_rows < 0 ? 0 : hit->md_rows) + rws;
      }
    }
    int64_t footer_total = 0;
    vtext t = {0}, t2 = {0};
    for (int i = 0; i < nvf; i++) {
      if (!vf[i].on_disk) continue;
      char *fpath = ht_join(data_root, vf[i].rel);
      if (!fpath) goto nomem;
      st_pq_reader *r = NULL;
      st_error e2 = {0};
      const st_field *truth = cm ? st_pq_schema(cm) : NULL;
      if (st_pq_open(fpath, NULL, &r, &e2) == 0) {
        vf[i].footer_rows = st_pq_footer_num_rows(r);
        footer_total += vf[i].footer_rows;
        if (!truth || !field_same(truth, st_pq_schema(r), 0)) {
          vtext d = {0};
          if (truth) schema_diff(truth, st_pq_schema(r), &d);
          vt_add(&ts, " %s: %s.", vf[i].rel, d.s ? d.s : "no truth schema");
          st_free(d.s);
          if (ht_strs_push(&sbad, vf[i].rel, err)) {
            st_pq_close(r);
            st_free(fpath);
            goto fail;
          }
        }
        st_pq_close(r);
      } else {
        vt_add(&t2, " %s: cannot read footer: %s.", vf[i].rel, e2.msg);
        vt_add(&ts, " %s: %s.", vf[i].rel, e2.msg);
        if (ht_strs_push(&sbad, vf[i].rel, err)) {
          st_free(fpath);
          goto fail;
        }
      }
      st_free(fpath);
    }
    bool pass_cat = nrows >= 0 && nrows == footer_total;
    vt_add(&t, "Test that number of rows are equal. file footers (%" PRId64 ") vs catalog properties (", footer_total);
    if (nrows >= 0) vt_add(&t, "%lld).", nrows);
    else vt_add(&t, "hats_nrows missing).");
    if (t.oom) goto nomem;
    if (add_result(rep, "num rows", "file footers vs catalog properties", pass_cat, t.s, NULL, err)) goto fail;
    memset(&t, 0, sizeof t);
    vt_add(&t, "Test that number of rows are equal. file footers (%" PRId64 ") vs _metadata (%" PRId64 ").",
           footer_total, md_total);
    for (int i = 0; i < nvf; i++) {
      if (vf[i].footer_rows == vf[i].md_rows && vf[i].footer_rows >= 0) continue;
      if (ht_strs_push(&bad, vf[i].rel, err)) goto fail;
      if (vf[i].md_rows < 0) vt_add(&t, " %s: %" PRId64 " rows in footer, not in _metadata.", vf[i].rel, vf[i].footer_rows);
      else if (vf[i].footer_rows < 0 && !vf[i].on_disk)
        vt_add(&t, " %s: %" PRId64 " rows in _metadata, file missing.", vf[i].rel, vf[i].md_rows);
      else
        vt_add(&t, " %s: %" PRId64 " rows in footer, %" PRId64 " in _metadata.", vf[i].rel, vf[i].footer_rows,
               vf[i].md_rows);
    }
    if (t2.s) vt_add(&t, "%s", t2.s);
    st_free(t2.s);
    if (t.oom) goto nomem;
    if (add_result(rep, "num rows", "file footers vs _metadata", bad.n == 0, t.s, &bad, err)) goto fail;
  }

  /* ---- 4. schema ---- */
  {
    const st_field *truth = cm ? st_pq_schema(cm) : NULL;
    const char *dsc = "Test that schemas are equal, excluding metadata.";
    if (add_result(rep, "schema", "_common_metadata vs truth", truth != NULL,
                   st_strdup(truth ? dsc : "_common_metadata is missing or unreadable."), NULL, err))
      goto fail;
    vtext t = {0};
    vt_add(&t, "%s", dsc);
    bool ok = truth && md && field_same(truth, st_pq_schema(md), 0);
    if (!ok && truth && md) {
      vtext d = {0};
      schema_diff(truth, st_pq_schema(md), &d);
      vt_add(&t, " _metadata: %s.", d.s ? d.s : "differs");
      st_free(d.s);
    } else if (!md)
      vt_add(&t, " _metadata is missing or unreadable.");
    if (t.oom) goto nomem;
    if (add_result(rep, "schema", "_metadata vs truth", ok, t.s, NULL, err)) goto fail;
    memset(&t, 0, sizeof t);
    vt_add(&t, "%s%s", dsc, ts.s ? ts.s : "");
    if (t.oom) goto nomem;
    if (ts.oom) goto nomem;
    if (add_result(rep, "schema", "file footers vs truth", sbad.n == 0, t.s, &sbad, err)) goto fail;
  }
  goto done;
nomem:
  rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  goto done;
fail:
  rc = err && err->code ? err->code : ST_ERR_IO;
done:
  st_free(vf);
  st_free(vd.s);
  st_free(text);
  st_free(p);
  st_free(data_root);
  st_pq_close(cm);
  st_pq_close(md);
  st_free(pi.v);
  st_free(mdp.v);
  st_free(disk.v);
  ht_strs_free(&disk_files);
  ht_strs_free(&md_files);
  ht_strs_free(&bad);
  ht_strs_free(&sbad);
  st_free(ts.s);
  ht_props_free(&props);
  return rc;
}

int st_catalog_verify(const char *path, st_verify_report **out, st_error *err) {
  if (err) st_error_clear(err);
  if (!path || !out) return st_fail(err, ST_ERR_INVALID, "st_catalog_verify: NULL argument");
  *out = NULL;
  if (!ht_is_dir(path)) return st_fail(err, ST_ERR_NOTFOUND, "%s: not a directory", path);
  st_verify_report *r = st_calloc(1, sizeof *r);
  if (!r) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  int rc = 0;
  char *cp = ht_join(path, "collection.properties");
  if (!cp) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
  else if (ht_is_file(cp)) {
    /* a collection: verify its primary catalog */
    char *text = NULL;
    ht_props props = {0};
    rc = ht_read_text(cp, &text, NULL, err);
    if (!rc) rc = ht_props_parse(text, &props, err);
    const char *prim = rc ? NULL : ht_props_get(&props, "hats_primary_table_url");
    if (!rc && (!prim || !ht_rel_ok(prim)))
      rc = st_fail(err, ST_ERR_CORRUPT, "%s: hats_primary_table_url '%s' is missing or leaves the collection", cp,
                   prim ? prim : "");
    if (!rc) {
      char *sub = ht_join(path, prim);
      rc = sub ? verify_catalog(sub, r, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
      st_free(sub);
    }
    /* then every margin and index catalog of the collection (as hats'
       is_valid_collection does); all_indexes holds "column catalog" pairs */
    const char *lists[2] = {rc ? NULL : ht_props_get(&props, "all_margins"),
                            rc ? NULL : ht_props_get(&props, "all_indexes")};
    for (int l = 0; l < 2 && !rc; l++) {
      const char *s = lists[l];
      int tok = 0;
      while (s && *s && !rc) {
        while (*s == ' ' || *s == ',' || *s == '\t') s++;
        const char *e = s;
        while (*e && *e != ' ' && *e != ',' && *e != '\t') e++;
        if (e > s && (l == 0 || tok % 2 == 1)) {
          char *name = st_strndup(s, (size_t)(e - s));
          if (!name) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
          else if (!ht_rel_ok(name))
            rc = st_fail(err, ST_ERR_CORRUPT, "%s: sub-catalog '%s' leaves the collection", cp, name);
          else {
            char *sub = ht_join(path, name);
            r->prefix = name;
            rc = sub ? verify_catalog(sub, r, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
            r->prefix = NULL;
            st_free(sub);
          }
          st_free(name);
        }
        if (e > s) tok++;
        s = e;
      }
    }
    st_free(text);
    ht_props_free(&props);
  } else
    rc = verify_catalog(path, r, err);
  st_free(cp);
  if (rc) {
    st_verify_free(r);
    return rc;
  }
  *out = r;
  return 0;
}
