/*
** This file implements the hats module's small helpers (hats_int.h): text
** files read whole with a size cap, sorted directory listings, the relative
** path check used on every path taken from metadata, the properties and
** catalog_info.json parsers, and parsing of Norder=/Npix= leaf paths.
**
** The JSON parser accepts a flat object whose values are strings, numbers,
** booleans or null; nested arrays/objects are skipped (depth-bounded) and
** kept as their raw text.  It never reads past the terminating NUL.
*/
#include "hats/hats_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *ht_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  while (la > 1 && a[la - 1] == '/') la--;
  char *s = st_malloc(la + lb + 2);
  if (!s) return NULL;
  memcpy(s, a, la);
  s[la] = '/';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

bool ht_is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool ht_is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int ht_read_text(const char *path, char **out, size_t *len, st_error *err) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return st_fail(err, errno == ENOENT ? ST_ERR_NOTFOUND : ST_ERR_IO, "%s: %s", path,
                   strerror(errno));
  struct stat st;
  if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(fp);
    return st_fail(err, ST_ERR_IO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > HT_MAX_TEXT) {
    fclose(fp);
    return st_fail(err, ST_ERR_LIMIT, "%s: file too large (%lld bytes)", path, (long long)st.st_size);
  }
  size_t n = (size_t)st.st_size;
  char *s = st_malloc(n + 1);
  if (!s) {
    fclose(fp);
    return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
  }
  size_t got = fread(s, 1, n, fp);
  fclose(fp);
  s[got] = 0;
  *out = s;
  if (len) *len = got;
  return 0;
}

int ht_strs_push(ht_strs *s, const char *str, st_error *err) {
  if (s->n == s->cap) {
    int nc = s->cap ? s->cap * 2 : 16;
    char **v = st_realloc(s->v, (size_t)nc * sizeof *v);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    s->v = v;
    s->cap = nc;
  }
  char *d = st_strdup(str);
  if (!d) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  s->v[s->n++] = d;
  return 0;
}

void ht_strs_free(ht_strs *s) {
  for (int i = 0; i < s->n; i++) st_free(s->v[i]);
  st_free(s->v);
  memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void ht_strs_sort(ht_strs *s) {
  if (s->n > 1) qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_str);
}

int ht_list(const char *dir, int what, ht_strs *out, st_error *err) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return st_fail(err, errno == ENOENT ? ST_ERR_NOTFOUND : ST_ERR_IO, "%s: %s", dir, strerror(errno));
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char *p = ht_join(dir, e->d_name);
    if (!p) {
      rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
      break;
    }
    bool isdir = ht_is_dir(p), isfile = !isdir && ht_is_file(p);
    st_free(p);
    if ((isdir && (what & HT_LS_DIRS)) || (isfile && (what & HT_LS_FILES))) {
      rc = ht_strs_push(out, e->d_name, err);
      if (rc) break;
    }
  }
  closedir(d);
  if (rc) {
    ht_strs_free(out);
    return rc;
  }
  ht_strs_sort(out);
  return 0;
}

bool ht_rel_ok(const char *rel) {
  if (!rel || !*rel || rel[0] == '/' || rel[0] == '\\') return false;
  const char *p = rel;
  while (*p) {
    const char *q = p;
    while (*q && *q != '/' && *q != '\\') q++;
    if (q - p == 2 && p[0] == '.' && p[1] == '.') return false;
    p = *q ? q + 1 : q;
  }
  return true;
}

int ht_props_set(ht_props *p, const char *k, const char *v, st_error *err) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->keys[i], k) == 0) {
      char *nv = st_strdup(v);
      if (!nv) return st_fail(err, ST_ERR_NOMEM, "out of memory");
      st_free(p->vals[i]);
      p->vals[i] = nv;
      return 0;
    }
  if (p->n == p->cap) {
    int nc = p->cap ? p->cap * 2 : 32;
    char **nk = st_realloc(p->keys, (size_t)nc * sizeof *nk);
    if (!nk) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    p->keys = nk;
    char **nv = st_realloc(p->vals, (size_t)nc * sizeof *nv);
    if (!nv) return st_fail(err, ST_ERR_NOMEM, "out of memory");
    p->vals = nv;
    p->cap = nc;
  }
  char *dk = st_strdup(k), *dv = st_strdup(v);
  if (!dk || !dv) {
    st_free(dk);
    st_free(dv);
    return st_fail(err, ST_ERR_NOMEM, "out of memory");
  }
  p->keys[p->n] = dk;
  p->vals[p->n] = dv;
  p->n++;
  return 0;
}

const char *ht_props_get(const ht_props *p, const char *k) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->keys[i], k) == 0) return p->vals[i];
  return NULL;
}

void ht_props_free(ht_props *p) {
  for (int i = 0; i < p->n; i++) {
    st_free(p->keys[i]);
    st_free(p->vals[i]);
  }
  st_free(p->keys);
  st_free(p->vals);
  memset(p, 0, sizeof *p);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f'; }

int ht_props_parse(const char *text, ht_props *p, st_error *err) {
  const char *s = text;
  while (*s) {
    const char *e = s;
    while (*e && *e != '\n') e++;
    const char *a = s, *b = e;
    while (a < b && is_ws(*a)) a++;
    while (b > a && is_ws(b[-1])) b--;
    if (a < b && *a != '#' && *a != '!') {
      const char *eq = a;
      while (eq < b && *eq != '=' && *eq != ':') eq++;
      const char *ke = eq, *vs = eq < b ? eq + 1 : b;
      while (ke > a && is_ws(ke[-1])) ke--;
      while (vs < b && is_ws(*vs)) vs++;
      if (ke > a) {
        char *k = st_strndup(a, (size_t)(ke - a)), *v = st_strndup(vs, (size_t)(b - vs));
        int rc = (!k || !v) ? st_fail(err, ST_ERR_NOMEM, "out of memory") : ht_props_set(p, k, v, err);
        st_free(k);
        st_free(v);
        if (rc) return rc;
      }
    }
    s = *e ? e + 1 : e;
  }
  return 0;
}

/* hipscat catalog_info.json names -> HATS property names. */
static const char *const HIPSCAT_KEYS[][2] = {
  {"catalog_name", "obs_collection"},
  {"catalog_type", "dataproduct_type"},
  {"total_rows", "hats_nrows"},
  {"ra_column", "hats_col_ra"},
  {"dec_column", "hats_col_dec"},
  {"primary_catalog", "hats_primary_table_url"},
  {"margin_threshold", "hats_margin_threshold"},
  {"primary_column", "hats_col_assn_primary"},
  {"primary_column_association", "hats_col_assn_primary_assn"},
  {"join_catalog", "hats_assn_join_table_url"},
  {"join_column", "hats_col_assn_join"},
  {"join_column_association", "hats_col_assn_join_assn"},
  {"contains_leaf_files", "hats_assn_leaf_files"},
  {"indexing_column", "hats_index_column"},
  {"extra_columns", "hats_index_extra_column"},
};

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
  return s;
}

/* Parse a JSON string at *s (after the quote) into buf; returns end or NULL. */
static const char *json_string(const char *s, st_buf *buf, st_error *err) {
  buf->len = 0;
  while (*s && *s != '"') {
    char c = *s++;
    if (c == '\\') {
      char e = *s;
      if (!e) return NULL;
      s++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u':
          for (int i = 0; i < 4; i++)
            if (!*s++) return NULL;
          c = '?';
          break;
        default: c = e; break;
      }
    }
    if (st_buf_append(buf, &c, 1, err)) return NULL;
  }
  if (*s != '"') return NULL;
  char z = 0;
  if (st_buf_append(buf, &z, 1, err)) return NULL;
  return s + 1;
}

int ht_props_parse_hipscat_json(const char *text, ht_props *p, st_error *err) {
  st_buf key, val;
  st_buf_init(&key);
  st_buf_init(&val);
  int rc = 0;
  const char *s = skip_ws(text);
  if (*s != '{') {
    rc = st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: expected a JSON object");
    goto done;
  }
  s = skip_ws(s + 1);
  while (*s && *s != '}') {
    if (*s != '"' || !(s = json_string(s + 1, &key, err))) {
      rc = err && err->code ? err->code : st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: bad key");
      goto done;
    }
    s = skip_ws(s);
    if (*s != ':') {
      rc = st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: expected ':' after \"%s\"", (char *)key.data);
      goto done;
    }
    s = skip_ws(s + 1);
    if (*s == '"') {
      if (!(s = json_string(s + 1, &val, err))) {
        rc = st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: bad string value");
        goto done;
      }
    } else {
      const char *a = s;
      int depth = 0;
      bool in_str = false;
      while (*s) {
        if (in_str) {
          if (*s == '\\' && s[1]) s++;
          else if (*s == '"') in_str = false;
        } else if (*s == '"') in_str = true;
        else if (*s == '[' || *s == '{') {
          if (++depth > 64) break;
        } else if (*s == ']' || *s == '}') {
          if (depth == 0) break;
          depth--;
        } else if (*s == ',' && depth == 0) break;
        s++;
      }
      const char *b = s;
      while (b > a && (b[-1] == ' ' || b[-1] == '\n' || b[-1] == '\r' || b[-1] == '\t')) b--;
      if (b == a) {
        rc = st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: missing value for \"%s\"", (char *)key.data);
        goto done;
      }
      val.len = 0;
      char z = 0;
      if (st_buf_append(&val, a, (size_t)(b - a), err) || st_buf_append(&val, &z, 1, err)) {
        rc = ST_ERR_NOMEM;
        goto done;
      }
    }
    const char *k = (const char *)key.data;
    for (size_t i = 0; i < sizeof HIPSCAT_KEYS / sizeof HIPSCAT_KEYS[0]; i++)
      if (strcmp(k, HIPSCAT_KEYS[i][0]) == 0) k = HIPSCAT_KEYS[i][1];
    if (strcmp((const char *)val.data, "null") != 0) {
      rc = ht_props_set(p, k, (const char *)val.data, err);
      if (rc) goto done;
    }
    s = skip_ws(s);
    if (*s == ',') s = skip_ws(s + 1);
    else if (*s != '}') {
      rc = st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: expected ',' or '}'");
      goto done;
    }
  }
  if (*s != '}') rc = st_fail(err, ST_ERR_CORRUPT, "catalog_info.json: unterminated object");
done:
  st_buf_free(&key);
  st_buf_free(&val);
  return rc;
}

static bool parse_num(const char **s, int64_t *v) {
  const char *p = *s;
  int64_t x = 0;
  int n = 0;
  while (*p >= '0' && *p <= '9') {
    if (++n > 19 || __builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *p - '0', &x)) return false;
    p++;
  }
  if (!n) return false;
  *s = p;
  *v = x;
  return true;
}

bool ht_parse_npix_path(const char *path, int *order, int64_t *pixel) {
  const char *o = NULL, *q = path;
  for (;;) {  /* last "Norder=" */
    const char *f = strstr(q, "Norder=");
    if (!f) break;
    o = f;
    q = f + 1;
  }
  if (!o) return false;
  const char *s = o + 7;
  int64_t k, d, p;
  if (!parse_num(&s, &k) || k > 29) return false;
  if (strncmp(s, "/Dir=", 5) != 0) return false;
  s += 5;
  if (!parse_num(&s, &d)) return false;
  if (strncmp(s, "/Npix=", 6) != 0) return false;
  s += 6;
  if (!parse_num(&s, &p)) return false;
  if (*s && *s != '.' && *s != '/') return false;
  if (p >= 12 * ((int64_t)1 << (2 * k))) return false;
  *order = (int)k;
  *pixel = p;
  return true;
}

bool ht_is_parquet_name(const char *name) {
  size_t n = strlen(name);
  return (n > 8 && strcmp(name + n - 8, ".parquet") == 0) || (n > 5 && strcmp(name + n - 5, ".parq") == 0) ||
         (n > 3 && strcmp(name + n - 3, ".pq") == 0);
}
