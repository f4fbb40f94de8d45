/*
** This file implements st_catalog (skytile/hats.h): detecting and opening
** HATS, hipscat, hive HEALPix and plain Parquet datasets.
**
** Opening builds one flat list of leaf files, each tagged with its (order,
** pixel) and its path relative to the data root (HATS: <cat>/dataset;
** hipscat, hive, parquet: the path itself).  The list is sorted by (order,
** pixel, rel) and grouped into partitions, so a partition's files are the
** contiguous run [first_file, first_file + n_files).
**
** Sources of the file list, by kind:
**   HATS/hipscat  partition_info.csv (Norder, Npix columns) with the leaf
**                 name built from hats_npix_suffix; else _metadata's
**                 file_paths; else the Norder=/Dir=/Npix= directories; types
**                 without pixels (index) list the Parquet files below the
**                 data root as one unpartitioned partition (order -1).
**   hive          a bounded recursive walk (Parquet-named files only: .parquet,
**                 .parq, .pq; names starting with '_' or '.' skipped); each
**                 healpix_k<N>=<V> directory
**                 level pushes (N, V); a file takes the deepest pair; nested
**                 levels must agree (V_deep >> 2*(N_deep-N) == V).
**   parquet       every Parquet file below the path (or the file itself).
**
** _metadata, when present, stays open: its row groups are grouped by
** file_path (a sorted table, looked up by binary search) to give each file
** its row count and row-group range without opening the file.  A hive tree
** may hold one _metadata per dataset (e.g. per year, in the directory above
** its healpix_k levels): each is opened and its paths prefixed with its
** directory.
*/
#include "skytile.h"
#include "skytile/hats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "hats/hats_int.h"

typedef struct ht_file {
  char *path;                 /* data root + rel (owned)                    */
  char *rel;                  /* relative to the data root (owned)          */
  int order;                  /* -1 for unpartitioned                       */
  int64_t pixel;
  int partition;
  int64_t rows;               /* -1 unknown                                 */
  int md_first_rg, md_n_rg;
  int md;                     /* index into mds, -1 when not listed         */
} ht_file;

typedef struct ht_md_entry {
  char *rel;                  /* normalised file_path (owned), relative to  */
                              /* the data root                              */
  int md;                     /* index into mds                             */
  int64_t rows;
  int first_rg, n_rg;
  bool contiguous;
} ht_md_entry;

struct st_catalog {
  st_catalog_kind kind;
  char *path;                 /* as opened, trailing '/' removed            */
  char *data_root;            /* files' rel paths start here                */
  ht_props props;
  ht_props coll;              /* collection properties                      */
  bool is_coll;
  char *coll_dir;             /* the collection's directory (owned)         */
  ht_file *files;
  int n_files, cap_files;
  st_partition *parts;
  int n_parts;
  st_field schema;
  bool have_schema;
  st_pq_reader *md;           /* the data root's _metadata, or NULL         */
  st_pq_reader **mds;         /* every _metadata opened (md among them)     */
  int n_mds;
  ht_md_entry *mde;
  int n_mde;
};

void st_catalog_options_init(st_catalog_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
}

const char *st_catalog_kind_name(st_catalog_kind k) {
  switch (k) {
    case ST_CATALOG_HATS: return "hats";
    case ST_CATALOG_HIPSCAT: return "hipscat";
    case ST_CATALOG_HIVE: return "hive";
    case ST_CATALOG_PARQUET: return "parquet";
  }
  return "unknown";
}

void st_catalog_close(st_catalog *c) {
  if (!c) return;
  for (int i = 0; i < c->n_files; i++) {
    st_free(c->files[i].path);
    st_free(c->files[i].rel);
  }
  st_free(c->files);
  st_free(c->parts);
  for (int i = 0; i < c->n_mde; i++) st_free(c->mde[i].rel);
  st_free(c->mde);
  for (int i = 0; i < c->n_mds; i++) st_pq_close(c->mds[i]);
  st_free(c->mds);
  if (c->have_schema) st_field_clear(&c->schema);
  ht_props_free(&c->props);
  ht_props_free(&c->coll);
  st_free(c->path);
  st_free(c->data_root);
  st_free(c->coll_dir);
  st_free(c);
}

static int add_file(st_catalog *c, const char *rel, int order, int64_t pixel, st_error *err) {
  if (c->n_files == c->cap_files) {
    int nc = c->cap_files ? c->cap_files * 2 : 64;
    ht_file *f = st_realloc(c->files, (size_t)nc * sizeof *f);
    if (!f) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    c->files = f;
    c->cap_files = nc;
  }
  ht_file *f = &c->files[c->n_files];
  memset(f, 0, sizeof *f);
  f->rel = st_strdup(rel);
  f->path = ht_join(c->data_root, rel);
  if (!f->rel || !f->path) {
    st_free(f->rel);
    st_free(f->path);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  f->order = order;
  f->pixel = pixel;
  f->rows = -1;
  f->md = -1;
  c->n_files++;
  return 0;
}

static int cmp_file(const void *a, const void *b) {
  const ht_file *x = a, *y = b;
  if (x->order != y->order) return x->order < y->order ? -1 : 1;
  if (x->pixel != y->pixel) return x->pixel < y->pixel ? -1 : 1;
  return strcmp(x->rel, y->rel);
}

static int cmp_mde(const void *a, const void *b) {
  return strcmp(((const ht_md_entry *)a)->rel, ((const ht_md_entry *)b)->rel);
}

static ht_md_entry *md_find(const st_catalog *c, const char *rel) {
  if (!c->n_mde) return NULL;
  ht_md_entry key = {.rel = (char *)rel};
  return bsearch(&key, c->mde, (size_t)c->n_mde, sizeof key, cmp_mde);
}

/* Normalise a file_path from _metadata: strip "./" and (hipscat) a leading '/'. */
static const char *md_norm(const char *fp, bool legacy) {
  while (fp[0] == '.' && fp[1] == '/') fp += 2;
  if (legacy)
    while (fp[0] == '/') fp++;
  return fp;
}

/*
** Open <data root>/<dir>/_metadata (if present; dir "" = the data root) and
** add its file_path -> row groups entries (paths made relative to the data
** root) to the sorted table.
*/
static int load_metadata(st_catalog *c, const char *dir, st_error *err) {
  char *d = *dir ? ht_join(c->data_root, dir) : st_strdup(c->data_root);
  char *mp = d ? ht_join(d, "_metadata") : NULL;
  st_free(d);
  if (!mp) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (!ht_is_file(mp)) {
    st_free(mp);
    return 0;
  }
  st_pq_reader **nm = st_realloc(c->mds, (size_t)(c->n_mds + 1) * sizeof *nm);
  if (!nm) {
    st_free(mp);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  c->mds = nm;
  st_pq_reader *r = NULL;
  int rc = st_pq_open(mp, NULL, &r, err);
  if (rc) {
    st_free(mp);
    return rc;
  }
  int mdi = c->n_mds;
  c->mds[c->n_mds++] = r;
  if (!*dir) c->md = r;
  int nrg = st_pq_num_row_groups(r);
  if (nrg <= 0 || st_pq_num_columns(r) <= 0) {
    st_free(mp);
    return 0;
  }
  ht_md_entry *ne = st_realloc(c->mde, (size_t)(c->n_mde + nrg) * sizeof *ne);
  if (!ne) {
    st_free(mp);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  c->mde = ne;
  bool legacy = c->kind == ST_CATALOG_HIPSCAT;
  int start = c->n_mde;
  /* Consecutive row groups of one file share an entry; then sort and merge. */
  for (int rg = 0; rg < nrg && !rc; rg++) {
    st_pq_chunk_info ci;
    rc = st_pq_describe_chunk(r, rg, 0, &ci, err);
    if (rc || !ci.file_path) continue;
    const char *fp = md_norm(ci.file_path, legacy);
    if (!ht_rel_ok(fp)) {
      rc = st_fail(err, ST_ERR_CORRUPT,
                   "%s: row group %d: file_path '%s' is not a relative path inside the catalog", mp, rg,
                   ci.file_path);
      break;
    }
    int64_t rows = st_pq_row_group_num_rows(r, rg);
    ht_md_entry *last = c->n_mde > start ? &c->mde[c->n_mde - 1] : NULL;
    char *rel = *dir ? ht_join(dir, fp) : st_strdup(fp);
    if (!rel) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      break;
    }
    if (last && strcmp(last->rel, rel) == 0 && last->first_rg + last->n_rg == rg) {
      last->rows += rows;
      last->n_rg++;
      st_free(rel);
      continue;
    }
    ht_md_entry *e = &c->mde[c->n_mde++];
    e->rel = rel;
    e->md = mdi;
    e->rows = rows;
    e->first_rg = rg;
    e->n_rg = 1;
    e->contiguous = true;
  }
  st_free(mp);
  qsort(c->mde, (size_t)c->n_mde, sizeof *c->mde, cmp_mde);
  int w = 0;
  for (int i = 0; i < c->n_mde; i++) {
    if (w && strcmp(c->mde[w - 1].rel, c->mde[i].rel) == 0) {
      c->mde[w - 1].rows += c->mde[i].rows;
      c->mde[w - 1].contiguous = false;
      st_free(c->mde[i].rel);
      continue;
    }
    c->mde[w++] = c->mde[i];
  }
  c->n_mde = w;
  return rc;
}

/* Parse partition_info.csv into (order, pixel) leaves. found=false when absent. */
static int load_partition_info(st_catalog *c, const char *suffix, bool *found, st_error *err) {
  *found = false;
  char *pp = ht_join(c->path, "partition_info.csv");
  if (!pp) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  char *text = NULL;
  int rc = ht_read_text(pp, &text, NULL, err);
  if (rc == ST_ERR_NOTFOUND) {
    st_free(pp);
    st_error_clear(err);
    return 0;
  }
  if (rc) {
    st_free(pp);
    return rc;
  }
  *found = true;
  int col_order = -1, col_pix = -1, line = 0;
  char *s = text;
  bool is_dir = strcmp(suffix, "/") == 0;
  while (*s && !rc) {
    char *e = s;
    while (*e && *e != '\n') e++;
    char save = *e;
    *e = 0;
    char *cr = strchr(s, '\r');
    if (cr) *cr = 0;
    line++;
    if (*s) {
      int64_t vals[2] = {-1, -1};
      int col = 0;
      char *f = s;
      for (;;) {
        char *comma = strchr(f, ',');
        if (comma) *comma = 0;
        while (*f == ' ') f++;
        if (line == 1) {
          if (strcmp(f, "Norder") == 0) col_order = col;
          if (strcmp(f, "Npix") == 0) col_pix = col;
        } else if (col == col_order || col == col_pix) {
          char *end;
          long long v = strtoll(f, &end, 10);
          if (end == f || v < 0) {
            rc = st_fail(err, ST_ERR_CORRUPT, "%s: line %d: bad number '%s'", pp, line, f);
            break;
          }
          vals[col == col_order ? 0 : 1] = v;
        }
        col++;
        if (!comma) break;
        f = comma + 1;
      }
      if (line == 1) {
        if (col_order < 0 || col_pix < 0)
          rc = st_fail(err, ST_ERR_CORRUPT, "%s: header lacks Norder and Npix columns", pp);
      } else if (!rc) {
        if (vals[0] < 0 || vals[1] < 0 || vals[0] > 29 || vals[1] >= st_hpx_npix((int)vals[0]))
          rc = st_fail(err, ST_ERR_CORRUPT, "%s: line %d: bad pixel (order %lld, pixel %lld)", pp, line,
                       (long long)vals[0], (long long)vals[1]);
        else {
          char rel[128];
          int order = (int)vals[0];
          long long pix = (long long)vals[1];
          snprintf(rel, sizeof rel, "Norder=%d/Dir=%lld/Npix=%lld", order, pix / 10000 * 10000, pix);
          if (is_dir) {
            char *dir = ht_join(c->data_root, rel);
            ht_strs names = {0};
            rc = dir ? ht_list(dir, HT_LS_FILES, &names, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
            st_free(dir);
            for (int i = 0; !rc && i < names.n; i++) {
              char sub[512];
              snprintf(sub, sizeof sub, "%s/%s", rel, names.v[i]);
              rc = add_file(c, sub, order, (int64_t)pix, err);
            }
            ht_strs_free(&names);
          } else {
            char full[600];
            snprintf(full, sizeof full, "%s%s", rel, suffix);
            rc = add_file(c, full, order, (int64_t)pix, err);
          }
        }
      }
    }
    *e = save;
    s = *e ? e + 1 : e;
  }
  st_free(text);
  st_free(pp);
  return rc;
}

/* Files below dir (relative prefix rel), recursively; hive levels tracked. */
typedef struct walk_ctx {
  st_catalog *c;
  int hv_n;
  int hv_order[HT_MAX_DEPTH];
  int64_t hv_pix[HT_MAX_DEPTH];
  int n_hive, n_plain;
  int64_t n_dirs;             /* directories visited (capped: symlink loops) */
} walk_ctx;

#define HT_MAX_DIRS 2000000

static bool parse_hive_dir(const char *name, int *order, int64_t *pix) {
  if (strncmp(name, "healpix_k", 9) != 0) return false;
  char *end;
  long o = strtol(name + 9, &end, 10);
  if (end == name + 9 || *end != '=' || o < 0 || o > 29) return false;
  const char *v = end + 1;
  long long p = strtoll(v, &end, 10);
  if (end == v || *end || p < 0 || p >= st_hpx_npix((int)o)) return false;
  *order = (int)o;
  *pix = p;
  return true;
}

static int walk(walk_ctx *w, const char *rel, int depth, st_error *err) {
  if (depth > HT_MAX_DEPTH) return st_fail(err, ST_ERR_LIMIT, "%s/%s: directories nested too deeply", w->c->path, rel);
  if (++w->n_dirs > HT_MAX_DIRS)
    return st_fail(err, ST_ERR_LIMIT, "%s: more than %d directories (symbolic link loop?)", w->c->path, HT_MAX_DIRS);
  char *dir = *rel ? ht_join(w->c->data_root, rel) : st_strdup(w->c->data_root);
  if (!dir) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  ht_strs names;
  int rc = w->hv_n == 0 ? load_metadata(w->c, rel, err) : 0;   /* a dataset's _metadata */
  if (!rc) rc = ht_list(dir, HT_LS_FILES | HT_LS_DIRS, &names, err);
  if (rc) {
    st_free(dir);
    return rc;
  }
  for (int i = 0; !rc && i < names.n; i++) {
    const char *nm = names.v[i];
    if (nm[0] == '_' ) continue;   /* _metadata, _common_metadata, _SUCCESS */
    char *sub = *rel ? ht_join(rel, nm) : st_strdup(nm);
    char *full = ht_join(dir, nm);
    if (!sub || !full) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    else if (ht_is_dir(full)) {
      int o;
      int64_t p;
      bool hv = parse_hive_dir(nm, &o, &p);
      if (hv) {
        if (w->hv_n > 0) {
          int po = w->hv_order[w->hv_n - 1];
          int64_t pp = w->hv_pix[w->hv_n - 1];
          if (o <= po || (p >> (2 * (o - po))) != pp)
            rc = st_fail(err, ST_ERR_CORRUPT, "%s: healpix_k%d=%lld is not inside healpix_k%d=%lld", full, o,
                         (long long)p, po, (long long)pp);
        }
        if (!rc) {
          w->hv_order[w->hv_n] = o;
          w->hv_pix[w->hv_n] = p;
          w->hv_n++;
        }
      }
      if (!rc) rc = walk(w, sub, depth + 1, err);
      if (hv && !rc) w->hv_n--;
    } else if (ht_is_parquet_name(nm)) {
      if (w->hv_n > 0) {
        rc = add_file(w->c, sub, w->hv_order[w->hv_n - 1], w->hv_pix[w->hv_n - 1], err);
        w->n_hive++;
      } else {
        rc = add_file(w->c, sub, -1, -1, err);
        w->n_plain++;
      }
    }
    st_free(sub);
    st_free(full);
  }
  ht_strs_free(&names);
  st_free(dir);
  return rc;
}

/* Leaves from the Norder=/Dir=/Npix= directories below the data root. */
static int scan_npix_dirs(st_catalog *c, st_error *err) {
  ht_strs on;
  int rc = ht_list(c->data_root, HT_LS_DIRS, &on, err);
  if (rc == ST_ERR_NOTFOUND) {
    st_error_clear(err);
    return 0;
  }
  if (rc) return rc;
  for (int i = 0; !rc && i < on.n; i++) {
    if (strncmp(on.v[i], "Norder=", 7) != 0) continue;
    char *d1 = ht_join(c->data_root, on.v[i]);
    ht_strs dn = {0};
    rc = d1 ? ht_list(d1, HT_LS_DIRS, &dn, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
    for (int j = 0; !rc && j < dn.n; j++) {
      if (strncmp(dn.v[j], "Dir=", 4) != 0) continue;
      char *d2 = ht_join(d1, dn.v[j]);
      ht_strs pn = {0};
      rc = d2 ? ht_list(d2, HT_LS_DIRS | HT_LS_FILES, &pn, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
      for (int k = 0; !rc && k < pn.n; k++) {
        char rel[1024];
        snprintf(rel, sizeof rel, "%s/%s/%s", on.v[i], dn.v[j], pn.v[k]);
        int order;
        int64_t pix;
        if (!ht_parse_npix_path(rel, &order, &pix)) continue;
        char *full = ht_join(c->data_root, rel);
        if (!full) {
          rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
          break;
        }
        if (ht_is_dir(full)) {
          ht_strs lf = {0};
          rc = ht_list(full, HT_LS_FILES, &lf, err);
          for (int m = 0; !rc && m < lf.n; m++) {
            char r2[1200];
            snprintf(r2, sizeof r2, "%s/%s", rel, lf.v[m]);
            rc = add_file(c, r2, order, pix, err);
          }
          ht_strs_free(&lf);
        } else {
          rc = add_file(c, rel, order, pix, err);
        }
        st_free(full);
      }
      ht_strs_free(&pn);
      st_free(d2);
    }
    ht_strs_free(&dn);
    st_free(d1);
  }
  ht_strs_free(&on);
  return rc;
}

static int load_schema(st_catalog *c, st_error *err) {
  const char *cands[2] = {"_common_metadata", "_metadata"};
  st_pq_reader *r = NULL;
  int rc = 0;
  for (int i = 0; i < 2 && !r; i++) {
    char *p = ht_join(c->data_root, cands[i]);
    if (!p) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    if (ht_is_file(p)) rc = st_pq_open(p, NULL, &r, err);
    st_free(p);
    if (rc) return rc;
  }
  if (!r && c->n_files > 0) {
    const char *lf = ht_props_get(&c->props, "hats_assn_leaf_files");
    bool no_leaves = lf && (strcmp(lf, "false") == 0 || strcmp(lf, "False") == 0);
    if (!no_leaves || ht_is_file(c->files[0].path)) ST_TRY(st_pq_open(c->files[0].path, NULL, &r, err));
  }
  if (!r) return 0;
  rc = st_field_copy(&c->schema, st_pq_schema(r));
  st_pq_close(r);
  if (rc) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  c->have_schema = true;
  return 0;
}

static int finish(st_catalog *c, st_error *err) {
  if (c->n_files > 1) qsort(c->files, (size_t)c->n_files, sizeof *c->files, cmp_file);
  /* drop exact duplicates (same rel) */
  int w = 0;
  for (int i = 0; i < c->n_files; i++) {
    if (w && strcmp(c->files[w - 1].rel, c->files[i].rel) == 0) {
      st_free(c->files[i].path);
      st_free(c->files[i].rel);
      continue;
    }
    c->files[w++] = c->files[i];
  }
  c->n_files = w;
  c->parts = st_calloc((size_t)(c->n_files ? c->n_files : 1), sizeof *c->parts);
  if (!c->parts) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  for (int i = 0; i < c->n_files; i++) {
    ht_file *f = &c->files[i];
    ht_md_entry *e = md_find(c, f->rel);
    if (e) {
      f->rows = e->rows;
      if (e->contiguous) {
        f->md = e->md;
        f->md_first_rg = e->first_rg;
        f->md_n_rg = e->n_rg;
      }
    }
    st_partition *p = c->n_parts ? &c->parts[c->n_parts - 1] : NULL;
    if (!p || p->order != f->order || p->pixel != f->pixel) {
      p = &c->parts[c->n_parts++];
      p->order = f->order;
      p->pixel = f->pixel;
      p->first_file = i;
      p->n_files = 0;
      p->rows = 0;
    }
    p->n_files++;
    f->partition = c->n_parts - 1;
    if (p->rows >= 0) p->rows = f->rows < 0 ? -1 : p->rows + f->rows;
  }
  return load_schema(c, err);
}

static bool has_healpix_pixels(const char *type) {
  return !type || strcmp(type, "index") != 0;
}

static int open_hats(st_catalog *c, st_error *err) {
  const char *suffix = ht_props_get(&c->props, "hats_npix_suffix");
  if (!suffix || !*suffix) suffix = ".parquet";
  if (strchr(suffix, '/') && strcmp(suffix, "/") != 0)
    return st_fail(err, ST_ERR_CORRUPT, "%s: hats_npix_suffix '%s' is not a file suffix or '/'", c->path, suffix);
  ST_TRY(load_metadata(c, "", err));
  const char *type = ht_props_get(&c->props, "dataproduct_type");
  bool found = false;
  if (has_healpix_pixels(type)) ST_TRY(load_partition_info(c, suffix, &found, err));
  if (!found && c->n_mde > 0) {
    for (int i = 0; i < c->n_mde; i++) {
      int order;
      int64_t pix;
      if (ht_parse_npix_path(c->mde[i].rel, &order, &pix)) ST_TRY(add_file(c, c->mde[i].rel, order, pix, err));
      else ST_TRY(add_file(c, c->mde[i].rel, -1, -1, err));
    }
    found = true;
  }
  if (!found) {
    ST_TRY(scan_npix_dirs(c, err));
    if (c->n_files == 0 && ht_is_dir(c->data_root)) {
      walk_ctx w = {.c = c};
      ST_TRY(walk(&w, "", 0, err));
    }
  }
  return finish(c, err);
}

static int open_dir_hats(st_catalog *c, const char *props_name, st_error *err) {
  char *pp = ht_join(c->path, props_name);
  if (!pp) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  char *text = NULL;
  int rc = ht_read_text(pp, &text, NULL, err);
  if (!rc) {
    rc = c->kind == ST_CATALOG_HIPSCAT ? ht_props_parse_hipscat_json(text, &c->props, err)
                                       : ht_props_parse(text, &c->props, err);
    if (rc) st_error_prefix(err, "%s: ", pp);
  }
  st_free(text);
  st_free(pp);
  if (rc) return rc;
  if (c->kind == ST_CATALOG_HIPSCAT && !ht_props_get(&c->props, "hats_col_healpix")) {
    ST_TRY(ht_props_set(&c->props, "hats_col_healpix", "_hipscat_index", err));
    ST_TRY(ht_props_set(&c->props, "hats_col_healpix_order", "29", err));
  }
  c->data_root = c->kind == ST_CATALOG_HATS ? ht_join(c->path, "dataset") : st_strdup(c->path);
  if (!c->data_root) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  return open_hats(c, err);
}

static int open_any(const char *path, const st_catalog_options *o, int depth, st_catalog **out, st_error *err);

static int open_collection(st_catalog *c, const st_catalog_options *o, int depth, st_catalog **out,
                           st_error *err) {
  char *pp = ht_join(c->path, "collection.properties");
  char *text = NULL;
  int rc = pp ? ht_read_text(pp, &text, NULL, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (!rc) rc = ht_props_parse(text, &c->coll, err);
  st_free(text);
  const char *prim = rc ? NULL : ht_props_get(&c->coll, "hats_primary_table_url");
  if (!rc && !prim) rc = st_fail(err, ST_ERR_CORRUPT, "%s: no hats_primary_table_url", pp);
  if (!rc && !(ht_rel_ok(prim) || (o->allow_parent_paths && prim[0] != '/')))
    rc = st_fail(err, ST_ERR_CORRUPT, "%s: hats_primary_table_url '%s' leaves the collection", pp, prim);
  st_free(pp);
  if (rc) return rc;
  char *sub = ht_join(c->path, prim);
  if (!sub) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  st_catalog *inner = NULL;
  rc = open_any(sub, o, depth + 1, &inner, err);
  st_free(sub);
  if (rc) return rc;
  inner->coll = c->coll;
  memset(&c->coll, 0, sizeof c->coll);
  inner->is_coll = true;
  inner->coll_dir = c->path;
  c->path = NULL;
  *out = inner;
  return 0;
}

static int open_any(const char *path, const st_catalog_options *o, int depth, st_catalog **out, st_error *err) {
  *out = NULL;
  if (depth > 2) return st_fail(err, ST_ERR_CORRUPT, "%s: collections nested too deeply", path);
  struct stat st;
  if (stat(path, &st) != 0) return st_fail(err, ST_ERR_NOTFOUND, "%s: no such file or directory", path);
  st_catalog *c = st_calloc(1, sizeof *c);
  if (!c) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  c->path = st_strndup(path, n);
  if (!c->path) {
    st_free(c);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  int rc = 0;
  if (S_ISREG(st.st_mode)) {
    c->kind = ST_CATALOG_PARQUET;
    const char *slash = strrchr(c->path, '/');
    c->data_root = slash ? st_strndup(c->path, (size_t)(slash - c->path)) : st_strdup(".");
    rc = c->data_root ? add_file(c, slash ? slash + 1 : c->path, -1, -1, err) : ST_ERR_NOMEM;
    if (!rc) rc = finish(c, err);
    if (rc == ST_ERR_CORRUPT || rc == ST_ERR_UNSUPPORTED) {
      st_error_prefix(err, "not a HATS catalog, hipscat catalog, hive HEALPix dataset or Parquet file/directory: ");
      rc = ST_ERR_NOTFOUND;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    rc = st_fail(err, ST_ERR_NOTFOUND, "%s: not a file or directory", path);
  } else {
    char *p1 = ht_join(c->path, "collection.properties"), *p2 = ht_join(c->path, "hats.properties"),
         *p3 = ht_join(c->path, "properties"), *p4 = ht_join(c->path, "catalog_info.json");
    if (!p1 || !p2 || !p3 || !p4) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    else if (ht_is_file(p1)) {
      st_catalog *inner = NULL;
      rc = open_collection(c, o, depth, &inner, err);
      if (!rc) {
        st_catalog_close(c);
        c = inner;
      }
    } else if (ht_is_file(p2) || ht_is_file(p3)) {
      c->kind = ST_CATALOG_HATS;
      rc = open_dir_hats(c, ht_is_file(p2) ? "hats.properties" : "properties", err);
    } else if (ht_is_file(p4)) {
      c->kind = ST_CATALOG_HIPSCAT;
      rc = open_dir_hats(c, "catalog_info.json", err);
    } else {
      c->data_root = st_strdup(c->path);
      walk_ctx w = {.c = c};
      rc = c->data_root ? walk(&w, "", 0, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
      if (!rc && w.n_hive > 0) {
        /* hive: keep only the files under healpix_k directories */
        int k = 0;
        for (int i = 0; i < c->n_files; i++) {
          if (c->files[i].order < 0) {
            st_free(c->files[i].path);
            st_free(c->files[i].rel);
          } else
            c->files[k++] = c->files[i];
        }
        c->n_files = k;
        c->kind = ST_CATALOG_HIVE;
        rc = finish(c, err);
      } else if (!rc && w.n_plain > 0) {
        c->kind = ST_CATALOG_PARQUET;
        rc = finish(c, err);
      } else if (!rc) {
        rc = st_fail(err, ST_ERR_NOTFOUND,
                     "%s: not a HATS catalog, hipscat catalog, hive HEALPix dataset or Parquet file/directory "
                     "(no properties, collection.properties, catalog_info.json, healpix_kN= directories or "
                     "Parquet files)",
                     c->path);
      }
    }
    st_free(p1);
    st_free(p2);
    st_free(p3);
    st_free(p4);
  }
  if (rc) {
    st_catalog_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

int st_catalog_open(const char *path, const st_catalog_options *opts, st_catalog **out, st_error *err) {
  if (err) st_error_clear(err);
  if (!path || !out) return st_fail(err, ST_ERR_INVALID, "st_catalog_open: NULL argument");
  st_catalog_options o;
  st_catalog_options_init(&o);
  if (opts) {
    size_t n = opts->struct_size < sizeof o ? opts->struct_size : sizeof o;
    memcpy(&o, opts, n);
  }
  return open_any(path, &o, 0, out, err);
}

st_catalog_kind st_catalog_get_kind(const st_catalog *c) { return c->kind; }
const char *st_catalog_type(const st_catalog *c) { return ht_props_get(&c->props, "dataproduct_type"); }
const char *st_catalog_path(const st_catalog *c) { return c->path; }
const char *st_catalog_property(const st_catalog *c, const char *key) { return ht_props_get(&c->props, key); }
int st_catalog_n_properties(const st_catalog *c) { return c->props.n; }
const char *st_catalog_property_key(const st_catalog *c, int i) {
  return i >= 0 && i < c->props.n ? c->props.keys[i] : NULL;
}
const char *st_catalog_property_value(const st_catalog *c, int i) {
  return i >= 0 && i < c->props.n ? c->props.vals[i] : NULL;
}
const char *st_catalog_collection_property(const st_catalog *c, const char *key) {
  return c->is_coll ? ht_props_get(&c->coll, key) : NULL;
}
bool st_catalog_is_collection(const st_catalog *c) { return c->is_coll; }
int st_catalog_n_partitions(const st_catalog *c) { return c->n_parts; }
int st_catalog_n_files(const st_catalog *c) { return c->n_files; }
const struct st_field *st_catalog_schema(const st_catalog *c) { return c->have_schema ? &c->schema : NULL; }
const st_pq_reader *st_catalog_metadata(const st_catalog *c) { return c->md; }

int st_catalog_partition(const st_catalog *c, int i, st_partition *out, st_error *err) {
  ST_CHECK(i >= 0 && i < c->n_parts, err, ST_ERR_INVALID, "partition %d out of range (%d)", i, c->n_parts);
  *out = c->parts[i];
  return 0;
}

int st_catalog_file_info(const st_catalog *c, int i, st_catalog_file *out, st_error *err) {
  ST_CHECK(i >= 0 && i < c->n_files, err, ST_ERR_INVALID, "file %d out of range (%d)", i, c->n_files);
  const ht_file *f = &c->files[i];
  out->path = f->path;
  out->rel = f->rel;
  out->partition = f->partition;
  out->rows = f->rows;
  out->md_first_rg = f->md_first_rg;
  out->md_n_rg = f->md_n_rg;
  out->md = f->md >= 0 ? c->mds[f->md] : NULL;
  return 0;
}

int st_catalog_load_rows(st_catalog *c, st_error *err) {
  /* association catalogs may have no leaf files (hats_assn_leaf_files=false) */
  const char *lf = ht_props_get(&c->props, "hats_assn_leaf_files");
  if (lf && (strcmp(lf, "false") == 0 || strcmp(lf, "False") == 0)) return 0;
  for (int p = 0; p < c->n_parts; p++) {
    st_partition *pt = &c->parts[p];
    if (pt->rows >= 0) continue;
    int64_t sum = 0;
    for (int i = pt->first_file; i < pt->first_file + pt->n_files; i++) {
      ht_file *f = &c->files[i];
      if (f->rows < 0) {
        st_pq_reader *r;
        ST_TRY(st_pq_open(f->path, NULL, &r, err));
        f->rows = st_pq_num_rows(r);
        st_pq_close(r);
      }
      sum += f->rows;
    }
    pt->rows = sum;
  }
  return 0;
}

int64_t st_catalog_num_rows(const st_catalog *c) {
  int64_t s = 0;
  for (int p = 0; p < c->n_parts; p++) {
    if (c->parts[p].rows < 0) return -1;
    s += c->parts[p].rows;
  }
  return s;
}

double st_catalog_sky_fraction(const st_catalog *c) {
  double f = 0;
  for (int p = 0; p < c->n_parts; p++)
    if (c->parts[p].order >= 0) f += 1.0 / (double)st_hpx_npix(c->parts[p].order);
  return f;
}

static int du(const char *p, int depth, uint64_t *acc, st_error *err) {
  struct stat st;
  if (lstat(p, &st) != 0) return 0;
  if (S_ISREG(st.st_mode)) {
    *acc += (uint64_t)st.st_size;
    return 0;
  }
  if (!S_ISDIR(st.st_mode)) return 0;
  if (depth > HT_MAX_DEPTH) return st_fail(err, ST_ERR_LIMIT, "%s: directories nested too deeply", p);
  DIR *d = opendir(p);
  if (!d) return 0;
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *q = ht_join(p, e->d_name);
    rc = q ? du(q, depth + 1, acc, err) : st_fail(err, ST_ERR_NOMEM, "out of memory");
    st_free(q);
  }
  closedir(d);
  return rc;
}

int st_catalog_disk_bytes(const st_catalog *c, uint64_t *out, st_error *err) {
  *out = 0;
  return du(c->path, 0, out, err);
}

int st_catalog_open_subcatalog(const st_catalog *c, const char *name, const st_catalog_options *opts,
                               st_catalog **out, st_error *err) {
  if (err) st_error_clear(err);
  *out = NULL;
  ST_CHECK(c->is_coll && c->coll_dir, err, ST_ERR_INVALID, "%s: not opened from a collection", c->path);
  if (!name) name = ht_props_get(&c->coll, "default_margin");
  ST_CHECK(name, err, ST_ERR_NOTFOUND, "%s: the collection has no default_margin", c->coll_dir);
  ST_CHECK(ht_rel_ok(name), err, ST_ERR_CORRUPT, "%s: sub-catalog '%s' leaves the collection", c->coll_dir, name);
  char *sub = ht_join(c->coll_dir, name);
  if (!sub) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  int rc = st_catalog_open(sub, opts, out, err);
  st_free(sub);
  return rc;
}
