/*
** This file implements the Arrow C Data Interface export and import of
** skytile arrays and tables (https://arrow.apache.org/docs/format/CDataInterface.html).
**
** Export (zero-copy, O(number of arrays in the tree)):
**   Every exported ArrowSchema node owns an exp_schema (format string, name,
**   encoded metadata, child structs); every ArrowArray node owns an exp_array
**   holding one st_mem reference per buffer, the buffer pointer array and the
**   child/dictionary structs.  So the st_table may be freed right after the
**   export, and the consumer's release drops the references.  Releasing a node
**   releases its children that were not moved out (release != NULL), as the
**   spec requires.  A NULL non-validity buffer (empty arrays) is exported as a
**   pointer to a static zero block, since some consumers dereference offsets.
**
** Formats (field -> format):
**   n b c C s S i I l L e f g         null, bool, int8..uint64, half/float/double
**   d:P,S  d:P,S,256                  decimal128 / decimal256
**   u z U Z  w:N                      string, binary, large variants, fixed binary
**   tdD tdm  tts ttm ttu ttn          date32/64, time32 s/ms, time64 us/ns
**   tsX:TZ  tDX  (X = s m u n)        timestamp with optional zone, duration
**   +l +L +w:N +s +m                  list, large list, fixed list, struct, map
**   dictionary: format "i" (int32 indices) + dictionary schema of the values.
**   Metadata: int32 pair count, then per pair int32 length + key bytes, int32
**   length + value bytes (native endianness); keys/values must not contain NUL.
**
** Import (moves ownership, O(number of arrays) except dictionary indices that
** are not int32, which are converted): the caller's ArrowArray is moved into a
** heap copy kept alive by one st_mem block ("keeper") whose destroy calls the
** Arrow release; every imported buffer holds a reference on the keeper, so the
** producer's memory lives exactly as long as some array uses it.  The schema is
** converted to st_fields and released at once.  Ownership is taken also on
** failure (both inputs are released), like Arrow C++'s importers.
*/
#include "table/table_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t g_zero[16] __attribute__((aligned(64)));

/* ---- export: schema ------------------------------------------------------- */

typedef struct exp_schema {
  char format[64];                  /* format unless long (timestamp with tz)  */
  char *format_long;                /* owned, for timestamp:TZ                 */
  char *name;                       /* owned                                   */
  char *metadata;                   /* owned encoded metadata or NULL          */
  struct ArrowSchema **child_ptrs;  /* n_children pointers into childs         */
  struct ArrowSchema *childs;       /* the child structs                       */
  struct ArrowSchema *dict;         /* dictionary value schema or NULL         */
} exp_schema;

static void exp_schema_release(struct ArrowSchema *s) {
  if (!s || !s->release) return;
  exp_schema *p = s->private_data;
  for (int64_t i = 0; i < s->n_children; i++)
    if (p->childs[i].release) p->childs[i].release(&p->childs[i]);
  if (p->dict && p->dict->release) p->dict->release(p->dict);
  free(p->dict);
  free(p->child_ptrs);
  free(p->childs);
  free(p->format_long);
  free(p->name);
  free(p->metadata);
  free(p);
  s->release = NULL;
}

static char unit_char(st_time_unit u) {
  switch (u) {
  case ST_SECOND: return 's';
  case ST_MILLI: return 'm';
  case ST_MICRO: return 'u';
  default: return 'n';
  }
}

/* Format string for a (non-dictionary view of a) field; NULL + err when unsupported. */
static int format_of(const st_field *f, exp_schema *p, st_error *err) {
  char *b = p->format;
  size_t cap = sizeof p->format;
  const char *simple = NULL;
  switch (f->type) {
  case ST_T_NULL: simple = "n"; break;
  case ST_T_BOOL: simple = "b"; break;
  case ST_T_INT8: simple = "c"; break;
  case ST_T_UINT8: simple = "C"; break;
  case ST_T_INT16: simple = "s"; break;
  case ST_T_UINT16: simple = "S"; break;
  case ST_T_INT32: simple = "i"; break;
  case ST_T_UINT32: simple = "I"; break;
  case ST_T_INT64: simple = "l"; break;
  case ST_T_UINT64: simple = "L"; break;
  case ST_T_FLOAT16: simple = "e"; break;
  case ST_T_FLOAT: simple = "f"; break;
  case ST_T_DOUBLE: simple = "g"; break;
  case ST_T_STRING: simple = "u"; break;
  case ST_T_BINARY: simple = "z"; break;
  case ST_T_LARGE_STRING: simple = "U"; break;
  case ST_T_LARGE_BINARY: simple = "Z"; break;
  case ST_T_DATE32: simple = "tdD"; break;
  case ST_T_DATE64: simple = "tdm"; break;
  case ST_T_LIST: simple = "+l"; break;
  case ST_T_LARGE_LIST: simple = "+L"; break;
  case ST_T_STRUCT: simple = "+s"; break;
  case ST_T_MAP: simple = "+m"; break;
  case ST_T_DECIMAL128: snprintf(b, cap, "d:%d,%d", (int)f->precision, (int)f->scale); return ST_OK;
  case ST_T_DECIMAL256: snprintf(b, cap, "d:%d,%d,256", (int)f->precision, (int)f->scale); return ST_OK;
  case ST_T_FIXED_BINARY: snprintf(b, cap, "w:%d", (int)f->byte_width); return ST_OK;
  case ST_T_FIXED_LIST: snprintf(b, cap, "+w:%d", (int)f->byte_width); return ST_OK;
  case ST_T_TIME32:
    ST_CHECK(f->unit == ST_SECOND || f->unit == ST_MILLI, err, ST_ERR_INVALID,
             "export: time32 column '%s' needs unit s or ms", f->name ? f->name : "");
    snprintf(b, cap, "tt%c", unit_char(f->unit));
    return ST_OK;
  case ST_T_TIME64:
    ST_CHECK(f->unit == ST_MICRO || f->unit == ST_NANO, err, ST_ERR_INVALID,
             "export: time64 column '%s' needs unit us or ns", f->name ? f->name : "");
    snprintf(b, cap, "tt%c", unit_char(f->unit));
    return ST_OK;
  case ST_T_DURATION: snprintf(b, cap, "tD%c", unit_char(f->unit)); return ST_OK;
  case ST_T_TIMESTAMP: {
    const char *tz = f->tz ? f->tz : "";
    size_t n = strlen(tz) + 8;
    p->format_long = malloc(n);
    if (!p->format_long) return st_fail(err, ST_ERR_NOMEM, "export: out of memory");
    snprintf(p->format_long, n, "ts%c:%s", unit_char(f->unit), tz);
    return ST_OK;
  }
  default: break;
  }
  if (!simple)
    return st_fail(err, ST_ERR_UNSUPPORTED, "export: type %s of column '%s' not supported",
                   st_type_name(f->type), f->name ? f->name : "");
  snprintf(b, cap, "%s", simple);
  return ST_OK;
}

static char *encode_meta(const st_field *f) {
  size_t n = 4;
  for (int i = 0; i < f->n_meta; i++) n += 8 + strlen(f->meta_keys[i]) + strlen(f->meta_values[i]);
  char *m = malloc(n), *q = m;
  if (!m) return NULL;
  int32_t c = f->n_meta;
  memcpy(q, &c, 4);
  q += 4;
  for (int i = 0; i < f->n_meta; i++) {
    const char *kv[2] = {f->meta_keys[i], f->meta_values[i]};
    for (int j = 0; j < 2; j++) {
      int32_t l = (int32_t)strlen(kv[j]);
      memcpy(q, &l, 4);
      memcpy(q + 4, kv[j], (size_t)l);
      q += 4 + l;
    }
  }
  return m;
}

static int export_schema(const st_field *f, struct ArrowSchema *s, int depth, st_error *err) {
  memset(s, 0, sizeof *s);
  ST_CHECK(depth <= ST_TAB_MAX_DEPTH, err, ST_ERR_LIMIT, "export: nesting deeper than %d", ST_TAB_MAX_DEPTH);
  exp_schema *p = calloc(1, sizeof *p);
  if (!p) return st_fail(err, ST_ERR_NOMEM, "export: out of memory");
  s->private_data = p;
  s->release = exp_schema_release;
  int rc;
  if (!(p->name = strdup(f->name ? f->name : ""))) goto oom;
  s->name = p->name;
  s->flags = f->nullable ? ARROW_FLAG_NULLABLE : 0;
  if (f->type == ST_T_MAP && f->keys_sorted) s->flags |= ARROW_FLAG_MAP_KEYS_SORTED;
  if (f->n_meta > 0) {
    if (!(p->metadata = encode_meta(f))) goto oom;
    s->metadata = p->metadata;
  }
  if (f->dict_encoded) {
    snprintf(p->format, sizeof p->format, "i");
    s->format = p->format;
    if (!(p->dict = calloc(1, sizeof *p->dict))) goto oom;
    st_field vf = *f;    /* value field: same type, not encoded, unnamed, no metadata */
    vf.dict_encoded = false;
    vf.name = NULL;
    vf.n_meta = 0;
    vf.nullable = true;
    rc = export_schema(&vf, p->dict, depth + 1, err);
    if (rc) goto fail;
    s->dictionary = p->dict;
    return ST_OK;
  }
  if ((rc = format_of(f, p, err))) goto fail;
  s->format = p->format_long ? p->format_long : p->format;
  if (f->n_children > 0) {
    p->childs = calloc((size_t)f->n_children, sizeof(struct ArrowSchema));
    p->child_ptrs = calloc((size_t)f->n_children, sizeof(struct ArrowSchema *));
    if (!p->childs || !p->child_ptrs) goto oom;
    for (int i = 0; i < f->n_children; i++) {
      p->child_ptrs[i] = &p->childs[i];
      s->n_children = i + 1;
      if ((rc = export_schema(&f->children[i], &p->childs[i], depth + 1, err))) goto fail;
    }
    s->children = p->child_ptrs;
  }
  return ST_OK;
oom:
  rc = st_fail(err, ST_ERR_NOMEM, "export: out of memory");
fail:
  exp_schema_release(s);
  return rc;
}

/* ---- export: array -------------------------------------------------------- */

typedef struct exp_array {
  st_mem *mem[3];                   /* references keeping the buffers alive    */
  const void *bufs[3];              /* the exported buffer pointers            */
  struct ArrowArray **child_ptrs;
  struct ArrowArray *childs;
  struct ArrowArray *dict;
} exp_array;

static void exp_array_release(struct ArrowArray *a) {
  if (!a || !a->release) return;
  exp_array *p = a->private_data;
  for (int64_t i = 0; i < a->n_children; i++)
    if (p->childs[i].release) p->childs[i].release(&p->childs[i]);
  if (p->dict && p->dict->release) p->dict->release(p->dict);
  free(p->dict);
  free(p->child_ptrs);
  free(p->childs);
  for (int i = 0; i < 3; i++) st_mem_unref(p->mem[i]);
  free(p);
  a->release = NULL;
}

static int export_array(const st_field *f, const st_array *a, struct ArrowArray *o, int depth, st_error *err) {
  memset(o, 0, sizeof *o);
  ST_CHECK(depth <= ST_TAB_MAX_DEPTH, err, ST_ERR_LIMIT, "export: nesting deeper than %d", ST_TAB_MAX_DEPTH);
  st_layout l = st_tab_layout(f);
  int nb = st_tab_n_buffers(l);
  int nc = (l == ST_L_LIST32 || l == ST_L_LIST64 || l == ST_L_FIXLIST) ? 1 : l == ST_L_STRUCT ? f->n_children : 0;
  const char *nm = f->name ? f->name : "";
  ST_CHECK(a->n_children == nc && f->n_children >= nc, err, ST_ERR_INVALID,
           "export: column '%s' has %d child arrays, its type needs %d", nm, a->n_children, nc);
  ST_CHECK(!f->dict_encoded || a->dictionary, err, ST_ERR_INVALID,
           "export: dictionary column '%s' has no dictionary", nm);
  exp_array *p = calloc(1, sizeof *p);
  if (!p) return st_fail(err, ST_ERR_NOMEM, "export: out of memory");
  o->private_data = p;
  o->release = exp_array_release;
  o->length = a->length;
  o->offset = a->length ? a->offset : 0; /* empty arrays may carry the static zero buffer */
  o->n_buffers = nb;
  if (l == ST_L_NULL) o->null_count = a->length;
  else o->null_count = a->buf[0] ? a->null_count : 0;
  for (int i = 0; i < nb; i++) {
    p->mem[i] = st_mem_ref(a->mem[i]);
    p->bufs[i] = a->buf[i] ? (const void *)a->buf[i] : i == 0 ? NULL : (const void *)g_zero;
  }
  o->buffers = p->bufs;
  int rc;
  if (nc > 0) {
    p->childs = calloc((size_t)nc, sizeof(struct ArrowArray));
    p->child_ptrs = calloc((size_t)nc, sizeof(struct ArrowArray *));
    if (!p->childs || !p->child_ptrs) goto oom;
    for (int i = 0; i < nc; i++) {
      p->child_ptrs[i] = &p->childs[i];
      o->n_children = i + 1;
      if ((rc = export_array(&f->children[i], a->children[i], &p->childs[i], depth + 1, err))) goto fail;
    }
    o->children = p->child_ptrs;
  }
  if (f->dict_encoded) {
    if (!(p->dict = calloc(1, sizeof *p->dict))) goto oom;
    st_field vf = *f;
    vf.dict_encoded = false;
    if ((rc = export_array(&vf, a->dictionary, p->dict, depth + 1, err))) goto fail;
    o->dictionary = p->dict;
  }
  return ST_OK;
oom:
  rc = st_fail(err, ST_ERR_NOMEM, "export: out of memory");
fail:
  exp_array_release(o);
  return rc;
}

int st_array_export_arrow(const st_field *f, const st_array *a, struct ArrowSchema *out_schema,
                          struct ArrowArray *out_array, st_error *err) {
  ST_TRY(export_schema(f, out_schema, 0, err));
  int rc = export_array(f, a, out_array, 0, err);
  if (rc) out_schema->release(out_schema);
  return rc;
}

int st_table_export_arrow(const st_table *t, struct ArrowSchema *out_schema, struct ArrowArray *out_array,
                          st_error *err) {
  ST_CHECK(t->n_columns == t->schema.n_children, err, ST_ERR_INVALID,
           "export: table has %d columns but %d fields", t->n_columns, t->schema.n_children);
  st_array root;
  memset(&root, 0, sizeof root);
  root.length = t->n_rows;
  root.n_buffers = 1;
  root.n_children = t->n_columns;
  root.children = t->columns;
  st_field sf = t->schema;
  sf.type = ST_T_STRUCT;
  sf.dict_encoded = false;
  sf.nullable = false;
  return st_array_export_arrow(&sf, &root, out_schema, out_array, err);
}

/* ---- import --------------------------------------------------------------- */

static void keeper_destroy(st_mem *m) {
  struct ArrowArray *a = m->owner;
  if (a->release) a->release(a);
  free(a);
  free(m);
}

static int parse_int(const char **s, int64_t *v) {
  const char *p = *s;
  int neg = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (*p < '0' || *p > '9') return -1;
  int64_t x = 0;
  while (*p >= '0' && *p <= '9') {
    if (x > 100000000) return -1;
    x = x * 10 + (*p++ - '0');
  }
  *v = neg ? -x : x;
  *s = p;
  return 0;
}

static int unit_of(char c, st_time_unit *u) {
  switch (c) {
  case 's': *u = ST_SECOND; return 0;
  case 'm': *u = ST_MILLI; return 0;
  case 'u': *u = ST_MICRO; return 0;
  case 'n': *u = ST_NANO; return 0;
  default: return -1;
  }
}

/* Parses fmt into f->type and parameters; n_children expected via *nc. */
static int parse_format(const char *fmt, st_field *f, st_error *err) {
  const char *nm = f->name ? f->name : "";
#define UNSUP() return st_fail(err, ST_ERR_UNSUPPORTED, "import: column '%s': Arrow format \"%s\" not supported", nm, fmt)
  if (!fmt) return st_fail(err, ST_ERR_CORRUPT, "import: column '%s': NULL format", nm);
  if (fmt[0] && !fmt[1]) {
    switch (fmt[0]) {
    case 'n': f->type = ST_T_NULL; return ST_OK;
    case 'b': f->type = ST_T_BOOL; return ST_OK;
    case 'c': f->type = ST_T_INT8; return ST_OK;
    case 'C': f->type = ST_T_UINT8; return ST_OK;
    case 's': f->type = ST_T_INT16; return ST_OK;
    case 'S': f->type = ST_T_UINT16; return ST_OK;
    case 'i': f->type = ST_T_INT32; return ST_OK;
    case 'I': f->type = ST_T_UINT32; return ST_OK;
    case 'l': f->type = ST_T_INT64; return ST_OK;
    case 'L': f->type = ST_T_UINT64; return ST_OK;
    case 'e': f->type = ST_T_FLOAT16; return ST_OK;
    case 'f': f->type = ST_T_FLOAT; return ST_OK;
    case 'g': f->type = ST_T_DOUBLE; return ST_OK;
    case 'u': f->type = ST_T_STRING; return ST_OK;
    case 'z': f->type = ST_T_BINARY; return ST_OK;
    case 'U': f->type = ST_T_LARGE_STRING; return ST_OK;
    case 'Z': f->type = ST_T_LARGE_BINARY; return ST_OK;
    default: UNSUP();
    }
  }
  const char *p;
  int64_t v, v2;
  if (fmt[0] == 'd' && fmt[1] == ':') {
    p = fmt + 2;
    if (parse_int(&p, &v) || *p++ != ',' || parse_int(&p, &v2)) goto bad;
    f->type = ST_T_DECIMAL128;
    if (*p == ',') {
      p++;
      int64_t bits;
      if (parse_int(&p, &bits)) goto bad;
      if (bits == 256) f->type = ST_T_DECIMAL256;
      else if (bits != 128) UNSUP();
    }
    if (*p) goto bad;
    int maxp = f->type == ST_T_DECIMAL128 ? 38 : 76;
    if (v < 1 || v > maxp || v2 < -maxp * 4 || v2 > maxp * 4) goto bad;
    f->precision = (int32_t)v;
    f->scale = (int32_t)v2;
    return ST_OK;
  }
  if ((fmt[0] == 'w' && fmt[1] == ':') || (fmt[0] == '+' && fmt[1] == 'w' && fmt[2] == ':')) {
    bool list = fmt[0] == '+';
    p = fmt + (list ? 3 : 2);
    if (parse_int(&p, &v) || *p || v < 0 || v > INT32_MAX / 2) goto bad;
    f->type = list ? ST_T_FIXED_LIST : ST_T_FIXED_BINARY;
    f->byte_width = (int32_t)v;
    return ST_OK;
  }
  if (fmt[0] == '+' && fmt[1] && !fmt[2]) {
    switch (fmt[1]) {
    case 'l': f->type = ST_T_LIST; return ST_OK;
    case 'L': f->type = ST_T_LARGE_LIST; return ST_OK;
    case 's': f->type = ST_T_STRUCT; return ST_OK;
    case 'm': f->type = ST_T_MAP; return ST_OK;
    default: UNSUP();
    }
  }
  if (fmt[0] == 't' && fmt[1] && fmt[2]) {
    if (fmt[1] == 'd' && !fmt[3]) {
      if (fmt[2] == 'D') f->type = ST_T_DATE32;
      else if (fmt[2] == 'm') f->type = ST_T_DATE64;
      else UNSUP();
      return ST_OK;
    }
    if (fmt[1] == 't' && !fmt[3]) {
      if (unit_of(fmt[2], &f->unit)) UNSUP();
      f->type = f->unit <= ST_MILLI ? ST_T_TIME32 : ST_T_TIME64;
      return ST_OK;
    }
    if (fmt[1] == 'D' && !fmt[3]) {
      if (unit_of(fmt[2], &f->unit)) UNSUP();
      f->type = ST_T_DURATION;
      return ST_OK;
    }
    if (fmt[1] == 's' && fmt[3] == ':') {
      if (unit_of(fmt[2], &f->unit)) UNSUP();
      f->type = ST_T_TIMESTAMP;
      if (fmt[4] && !(f->tz = strdup(fmt + 4))) return st_fail(err, ST_ERR_NOMEM, "import: out of memory");
      return ST_OK;
    }
  }
  UNSUP();
bad:
  return st_fail(err, ST_ERR_CORRUPT, "import: column '%s': malformed Arrow format \"%s\"", nm, fmt);
#undef UNSUP
}

static int decode_meta(const char *m, st_field *f, st_error *err) {
  if (!m) return ST_OK;
  int32_t n;
  memcpy(&n, m, 4);
  m += 4;
  ST_CHECK(n >= 0 && n <= (1 << 20), err, ST_ERR_CORRUPT, "import: metadata count %d invalid", (int)n);
  for (int32_t i = 0; i < n; i++) {
    char *kv[2];
    for (int j = 0; j < 2; j++) {
      int32_t l;
      memcpy(&l, m, 4);
      m += 4;
      if (l < 0 || l > (1 << 30)) {
        if (j) free(kv[0]);
        return st_fail(err, ST_ERR_CORRUPT, "import: metadata length %d invalid", (int)l);
      }
      kv[j] = strndup(m, (size_t)l);
      m += l;
      if (!kv[j]) {
        if (j) free(kv[0]);
        return st_fail(err, ST_ERR_NOMEM, "import: out of memory");
      }
    }
    int rc = st_field_set_meta(f, kv[0], kv[1]);
    free(kv[0]);
    free(kv[1]);
    if (rc) return st_fail(err, rc, "import: out of memory");
  }
  return ST_OK;
}

/* Field from a schema node (recursively), dictionary included. */
static int import_field(const struct ArrowSchema *s, st_field *f, int depth, st_error *err) {
  memset(f, 0, sizeof *f);
  ST_CHECK(depth <= ST_TAB_MAX_DEPTH, err, ST_ERR_LIMIT, "import: nesting deeper than %d", ST_TAB_MAX_DEPTH);
  if (!(f->name = strdup(s->name ? s->name : ""))) return st_fail(err, ST_ERR_NOMEM, "import: out of memory");
  f->nullable = (s->flags & ARROW_FLAG_NULLABLE) != 0;
  ST_TRY(decode_meta(s->metadata, f, err));
  if (s->dictionary) {
    st_field idx;
    memset(&idx, 0, sizeof idx);
    idx.name = f->name;
    ST_TRY(parse_format(s->format, &idx, err));
    ST_CHECK(idx.type >= ST_T_INT8 && idx.type <= ST_T_UINT64, err, ST_ERR_CORRUPT,
             "import: column '%s': dictionary index format \"%s\" is not an integer", f->name, s->format);
    st_field vf;
    ST_TRY(import_field(s->dictionary, &vf, depth + 1, err));
    if (vf.dict_encoded) {
      st_field_clear(&vf);
      return st_fail(err, ST_ERR_UNSUPPORTED, "import: column '%s': nested dictionary encoding", f->name);
    }
    /* Take the value type; keep name, nullability and metadata of the column. */
    f->type = vf.type;
    f->byte_width = vf.byte_width;
    f->precision = vf.precision;
    f->scale = vf.scale;
    f->unit = vf.unit;
    f->tz = vf.tz;
    f->keys_sorted = vf.keys_sorted;
    f->n_children = vf.n_children;
    f->children = vf.children;
    vf.tz = NULL;
    vf.children = NULL;
    vf.n_children = 0;
    st_field_clear(&vf);
    f->dict_encoded = true;
    return ST_OK;
  }
  ST_TRY(parse_format(s->format, f, err));
  if (f->type == ST_T_MAP && (s->flags & ARROW_FLAG_MAP_KEYS_SORTED)) f->keys_sorted = true;
  int want = -1;
  switch (f->type) {
  case ST_T_LIST: case ST_T_LARGE_LIST: case ST_T_FIXED_LIST: case ST_T_MAP: want = 1; break;
  case ST_T_STRUCT: want = (int)s->n_children; break;
  default: want = 0; break;
  }
  ST_CHECK(s->n_children == want && s->n_children >= 0 && s->n_children < (1 << 20) &&
               (want == 0 || s->children),
           err, ST_ERR_CORRUPT, "import: column '%s' (format \"%s\") has %lld children", f->name, s->format,
           (long long)s->n_children);
  if (want > 0) {
    f->children = calloc((size_t)want, sizeof(st_field));
    if (!f->children) return st_fail(err, ST_ERR_NOMEM, "import: out of memory");
    for (int i = 0; i < want; i++) {
      f->n_children = i + 1;
      ST_TRY(import_field(s->children[i], &f->children[i], depth + 1, err));
    }
  }
  if (f->type == ST_T_MAP) {
    const st_field *e = &f->children[0];
    ST_CHECK(e->type == ST_T_STRUCT && e->n_children == 2 && !e->dict_encoded, err, ST_ERR_CORRUPT,
             "import: map column '%s' entries are not a struct of key and value", f->name);
  }
  return ST_OK;
}

/* Convert non-int32 dictionary indices to a fresh int32 buffer. */
static int convert_indices(const st_field *f, st_type_id it, st_array *o, const struct ArrowArray *a, st_error *err) {
  int64_t n = a->length;
  uint8_t *p;
  st_mem *m = st_tab_alloc((size_t)(n > 0 ? n : 0) * 4, false, &p);
  if (!m) return st_fail(err, ST_ERR_NOMEM, "import: out of memory");
  int32_t *dst = (int32_t *)p;
  const uint8_t *src = a->buffers[1];
  const uint8_t *valid = a->buffers[0];
  for (int64_t i = 0; i < n; i++) {
    int64_t j = a->offset + i;
    int64_t v;
    switch (it) {
    case ST_T_INT8: v = ((const int8_t *)src)[j]; break;
    case ST_T_UINT8: v = src[j]; break;
    case ST_T_INT16: v = ((const int16_t *)src)[j]; break;
    case ST_T_UINT16: v = ((const uint16_t *)src)[j]; break;
    case ST_T_UINT32: v = ((const uint32_t *)src)[j]; break;
    case ST_T_INT64: v = ((const int64_t *)src)[j]; break;
    default: {
      uint64_t u = ((const uint64_t *)src)[j];
      v = u > INT32_MAX ? -1 : (int64_t)u;
    }
    }
    if (v < 0 || v > INT32_MAX) {
      if (valid && !st_bit_get(valid, j)) v = 0;
      else {
        st_mem_unref(m);
        return st_fail(err, ST_ERR_CORRUPT, "import: column '%s': dictionary index out of range",
                       f->name ? f->name : "");
      }
    }
    dst[i] = (int32_t)v;
  }
  st_mem_unref(o->mem[1]);
  o->mem[1] = m;
  o->buf[1] = p;
  return ST_OK;
}

static int import_array(const st_field *f, const struct ArrowSchema *s, const struct ArrowArray *a, st_mem *keep,
                        st_array **out, int depth, st_error *err) {
  *out = NULL;
  const char *idx_fmt = s->dictionary ? s->format : NULL;
  const char *nm = f->name ? f->name : "";
  ST_CHECK(depth <= ST_TAB_MAX_DEPTH, err, ST_ERR_LIMIT, "import: nesting deeper than %d", ST_TAB_MAX_DEPTH);
  ST_CHECK(a && a->release, err, ST_ERR_CORRUPT, "import: column '%s': missing or released array", nm);
  st_layout l = st_tab_layout(f);
  int nb = st_tab_n_buffers(l);
  int nc = (l == ST_L_LIST32 || l == ST_L_LIST64 || l == ST_L_FIXLIST) ? 1 : l == ST_L_STRUCT ? f->n_children : 0;
  ST_CHECK(a->n_buffers == nb && (nb == 0 || a->buffers), err, ST_ERR_CORRUPT,
           "import: column '%s': %lld buffers, type %s needs %d", nm, (long long)a->n_buffers,
           st_type_name(f->type), nb);
  ST_CHECK(a->n_children == nc && (nc == 0 || a->children), err, ST_ERR_CORRUPT,
           "import: column '%s': %lld children, type %s needs %d", nm, (long long)a->n_children,
           st_type_name(f->type), nc);
  ST_CHECK(a->length >= 0 && a->offset >= 0 && a->null_count >= -1 && a->null_count <= a->length, err,
           ST_ERR_CORRUPT, "import: column '%s': bad length %lld / offset %lld / null count %lld", nm,
           (long long)a->length, (long long)a->offset, (long long)a->null_count);
  ST_CHECK(!f->dict_encoded || a->dictionary, err, ST_ERR_CORRUPT,
           "import: dictionary column '%s' has no dictionary array", nm);
  st_array *o = st_array_new();
  if (!o) return st_fail(err, ST_ERR_NOMEM, "import: out of memory");
  int rc;
  o->length = a->length;
  o->offset = a->length ? a->offset : 0; /* empty: buffers may be replaced by the zero block */
  o->null_count = a->null_count;
  o->n_buffers = nb;
  if (l == ST_L_NULL) o->null_count = a->length;
  for (int i = 0; i < nb; i++) {
    const void *b = a->buffers[i];
    if (b) {
      o->buf[i] = b;
      o->mem[i] = st_mem_ref(keep);
    } else if (i > 0) {
      bool offsets = i == 1 && (l == ST_L_VAR32 || l == ST_L_VAR64 || l == ST_L_LIST32 || l == ST_L_LIST64);
      if (a->length > 0 && (offsets || (i == 1 && l != ST_L_VAR32 && l != ST_L_VAR64))) {
        rc = st_fail(err, ST_ERR_CORRUPT, "import: column '%s': buffer %d is NULL", nm, i);
        goto fail;
      }
      o->buf[i] = (const uint8_t *)g_zero;
    }
  }
  if (nb > 0 && !o->buf[0]) {
    if (o->null_count > 0) {
      rc = st_fail(err, ST_ERR_CORRUPT, "import: column '%s': %lld nulls but no validity bitmap", nm,
                   (long long)o->null_count);
      goto fail;
    }
    o->null_count = 0;
  }
  if (f->dict_encoded && idx_fmt && strcmp(idx_fmt, "i")) {
    st_field it;
    memset(&it, 0, sizeof it);
    it.name = f->name;
    if ((rc = parse_format(idx_fmt, &it, err))) goto fail;
    if (a->length > 0 && (rc = convert_indices(f, it.type, o, a, err))) goto fail;
    /* converted indices start at slot 0; move the validity offset into a fresh copy if needed */
    if (a->offset > 0 && a->length > 0) {
      if (o->buf[0]) {
        uint8_t *vb;
        st_mem *vm = st_tab_alloc((size_t)(a->length + 7) / 8, true, &vb);
        if (!vm) {
          rc = st_fail(err, ST_ERR_NOMEM, "import: out of memory");
          goto fail;
        }
        st_tab_bits_copy(vb, 0, o->buf[0], a->offset, a->length);
        st_mem_unref(o->mem[0]);
        o->mem[0] = vm;
        o->buf[0] = vb;
      }
    }
    if (a->length > 0) o->offset = 0;
  }
  if (nc > 0) {
    if (!(o->children = calloc((size_t)nc, sizeof(st_array *)))) {
      rc = st_fail(err, ST_ERR_NOMEM, "import: out of memory");
      goto fail;
    }
    o->n_children = nc;
    for (int i = 0; i < nc; i++)
      if ((rc = import_array(&f->children[i], s->children[i], a->children[i], keep, &o->children[i], depth + 1,
                             err)))
        goto fail;
  }
  if (f->dict_encoded) {
    st_field vf = *f;
    vf.dict_encoded = false;
    if ((rc = import_array(&vf, s->dictionary, a->dictionary, keep, &o->dictionary, depth + 1, err))) goto fail;
  }
  *out = o;
  return ST_OK;
fail:
  st_array_free(o);
  return rc;
}

static int import_common(struct ArrowSchema *schema, struct ArrowArray *array, st_field *f, st_mem **keep_out,
                         st_error *err) {
  *keep_out = NULL;
  int rc = ST_OK;
  struct ArrowArray *moved = NULL;
  memset(f, 0, sizeof *f);
  if (!schema || !array || !schema->release || !array->release) {
    rc = st_fail(err, ST_ERR_INVALID, "import: released or NULL Arrow struct");
    goto fail;
  }
  if ((rc = import_field(schema, f, 0, err))) goto fail;
  moved = malloc(sizeof *moved);
  if (!moved) goto oom;
  *moved = *array;
  array->release = NULL;
  st_mem *keep = st_mem_wrap(NULL, 0, keeper_destroy, moved);
  if (!keep) goto oom;
  *keep_out = keep;
  return ST_OK;
oom:
  rc = st_fail(err, ST_ERR_NOMEM, "import: out of memory");
fail:
  st_field_clear(f);
  if (moved) {
    if (moved->release) moved->release(moved);
    free(moved);
  }
  if (array && array->release) array->release(array);
  if (schema && schema->release) schema->release(schema);
  return rc;
}

int st_array_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array, st_field *out_field, st_array **out,
                          st_error *err) {
  *out = NULL;
  st_mem *keep;
  ST_TRY(import_common(schema, array, out_field, &keep, err));
  int rc = import_array(out_field, schema, keep->owner, keep, out, 0, err);
  schema->release(schema);
  st_mem_unref(keep);
  if (rc) st_field_clear(out_field);
  return rc;
}

int st_table_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array, st_table **out, st_error *err) {
  *out = NULL;
  st_field f;
  st_array *a = NULL;
  if (schema && schema->release && schema->format && strcmp(schema->format, "+s")) {
    int rc = st_fail(err, ST_ERR_SCHEMA, "import: a record batch must be a struct (\"+s\"), got \"%s\"",
                     schema->format);
    schema->release(schema);
    if (array && array->release) array->release(array);
    return rc;
  }
  ST_TRY(st_array_import_arrow(schema, array, &f, &a, err));
  int rc = ST_OK;
  if (f.dict_encoded || f.type != ST_T_STRUCT) {
    rc = st_fail(err, ST_ERR_SCHEMA, "import: a record batch must be a struct array");
    goto done;
  }
  if (st_array_null_count(a) > 0) {
    rc = st_fail(err, ST_ERR_UNSUPPORTED, "import: record batch struct has null rows");
    goto done;
  }
  st_array **cols = calloc((size_t)(a->n_children ? a->n_children : 1), sizeof(st_array *));
  if (!cols) {
    rc = st_fail(err, ST_ERR_NOMEM, "import: out of memory");
    goto done;
  }
  for (int i = 0; i < a->n_children; i++) {
    /* The struct's offset/length apply to its children (Arrow semantics). */
    if (a->offset == 0 && a->children[i]->length == a->length) {
      cols[i] = a->children[i];
      a->children[i] = NULL;
    } else {
      if (a->children[i]->length < a->offset + a->length) {
        rc = st_fail(err, ST_ERR_CORRUPT, "import: column %d shorter than the record batch", i);
      } else {
        rc = st_array_slice(a->children[i], a->offset, a->length, &cols[i], err);
      }
      if (rc) {
        for (int j = 0; j < i; j++) st_array_free(cols[j]);
        free(cols);
        goto done;
      }
    }
  }
  st_field meta = f;
  rc = st_table_new(f.children, cols, a->n_children, a->length, &meta, out, err);
  free(cols);
done:
  st_array_free(a);
  st_field_clear(&f);
  return rc;
}
