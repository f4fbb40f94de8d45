/*
** This file implements the state directory of the import pipeline, which
** lets a resumed run (--resume) skip the work already done:
**
**   STATE/options.txt     the options that shape the catalog (pipeline.c)
**   STATE/inputs.lst      the input list of the run that created the state
**   STATE/map/log-W.bin   append-only logs of the mapping stage, one per map
**                         worker W: one record per input file mapped
**   STATE/split/...       spill files and the split index (split.c, below)
**
** So the number of state files is O(threads), not O(inputs).
**
** inputs.lst (written once, atomically, when the state is created; a
** resumed run keeps the original): "STINLST1", int64 n, then n times
** (uint32 length, the path's bytes), then the CRC-32 (zlib) of all the
** bytes before it.  Map records name inputs by their index in this list.
**
** A map log: "STMAPLG1", int32 mapping order, int32 1 if byte sizes follow
** the counts (--byte-threshold) else 0; then records, each framed as
**   uint32 payload length, uint32 CRC-32 of the payload, payload
** with the payload a sequence of LEB128 varints:
**   input index (in inputs.lst), file size, modification time (ns),
**   n, then n times (pixel - previous pixel, count[, bytes])
** (pixels ascending, the first delta from 0).  A worker writes its records
** through a 64 KiB buffer (written out at least every half second) and
** fsyncs its log every 2 s and when the stage ends or stops, so a kill -9
** loses at most the last half second of mapping.  A torn or corrupt record
** (length past the end of the file, CRC mismatch, bad varints) ends the
** log's valid part: it and everything after it are cut off (ftruncate)
** before the resumed run appends, and the inputs it named are mapped again.
**
** A failure record (tombstone) says that an input failed in the splitting
** stage although it was mapped (a damaged column other than ra/dec, see
** split.c): its payload is the varints
**   input index, file size, modification time (ns), 2^63
** (2^63 stands where a histogram record has n; nothing follows).  It is
** appended to log-0.bin by the run whose split failed (st_imp_state_add_
** failures), naming the version (size, mtime) whose histogram that run
** used, and fsynced before the run ends.  It voids every histogram record
** of that input with the same size and mtime, wherever it is in the logs
** (records are not ordered across logs), so a resumed run maps the input
** again if it is unchanged (it then fails again with the same message),
** maps the new version if it was fixed, and lets it be left out of the
** inputs.  (A version that failed for a passing reason, e.g. a read error,
** and then split fine is mapped once more if that run is interrupted
** later: a cost, never a wrong catalog.)
**
** Resume rules (st_imp_state_map_begin): every current input must be in
** inputs.lst (else a clear error: a different input set); an input of
** inputs.lst that has a complete, not voided record must still be an
** input (else an error; inputs without a record, e.g. ones that failed in
** mapping, or whose record a tombstone voids, may be left out); a record
** is reused only if the file's size and modification time are unchanged
** and no tombstone voids it — otherwise the file is mapped again and the
** saved split is not reused (an input that has records but no valid one;
** older versions beside a valid record of the current one do not count).
** Duplicate records of one input: the first valid one counts.  The logs
** are read twice: the first pass checks the records, cuts each log after
** its last valid one and gathers the tombstones; the second applies the
** histogram records.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "import/pipeline.h"
#include "io/io.h"
#include "util/mem.h"

#define LOG_MAGIC "STMAPLG1"
#define LOG_HEAD 16            /* magic + order + bytes flag             */
#define LOG_BUF (64 * 1024)    /* records buffered before a write        */
#define LOG_WRITE_NS 500000000 /* write the buffer at least this often   */
#define LOG_SYNC_NS 2000000000 /* fsync at least this often              */
#define MAX_RECORD (1u << 30)  /* a record longer than this is corrupt   */

static uint32_t crc(const void *p, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  const uint8_t *b = p;
  while (n) { /* zlib takes uInt lengths */
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, b, k);
    b += k, n -= k;
  }
  return (uint32_t)c;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
  *p++ = (uint8_t)v;
  return p;
}

/* Decode one varint from [*p, end); 0 on success, -1 if truncated/too long. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int s = 0; s < 64 && *p < end; s += 7) {
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) return *v = x, 0;
  }
  return -1;
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w, n -= (size_t)w;
  }
  return 0;
}

/* ---- the input list --------------------------------------------------------- */

static int write_inputs(const st_imp_ctx *c, const char *path, st_error *err) {
  st_buf b;
  st_buf_init(&b);
  int64_t n = c->o->n_inputs;
  int rc = st_buf_append(&b, "STINLST1", 8, err);
  if (!rc) rc = st_buf_append(&b, &n, 8, err);
  for (int64_t i = 0; i < n && !rc; i++) {
    uint32_t l = (uint32_t)strlen(c->o->inputs[i]);
    rc = st_buf_append(&b, &l, 4, err);
    if (!rc) rc = st_buf_append(&b, c->o->inputs[i], l, err);
  }
  uint32_t k = rc ? 0 : crc(b.data, b.len);
  if (!rc) rc = st_buf_append(&b, &k, 4, err);
  st_outfile *f = NULL;
  if (!rc) rc = st_outfile_open(path, &f, err);
  if (!rc) rc = st_outfile_write(f, b.data, b.len, err);
  if (!rc) rc = st_outfile_commit(f, err);
  else st_outfile_abort(f);
  st_buf_free(&b);
  return rc;
}

/* Read inputs.lst: *data holds it, offs[j] / lens[j] locate path j.
** *n = -1 if absent or unusable. */
static int read_inputs(const char *path, uint8_t **data, int64_t **offs, uint32_t **lens,
                       int64_t *n, st_error *err) {
  *data = NULL, *offs = NULL, *lens = NULL, *n = -1;
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  struct stat st;
  if (fstat(fileno(f), &st) || st.st_size < 20) return fclose(f), 0;
  size_t sz = (size_t)st.st_size;
  uint8_t *d = malloc(sz);
  if (!d) {
    fclose(f);
    return st_fail(err, ST_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, sz);
  }
  int ok = fread(d, 1, sz, f) == sz;
  fclose(f);
  uint32_t k;
  int64_t m = -1;
  if (ok) memcpy(&k, d + sz - 4, 4), memcpy(&m, d + 8, 8);
  ok = ok && !memcmp(d, "STINLST1", 8) && k == crc(d, sz - 4) && m >= 0 &&
       m <= (int64_t)(sz - 20) / 4;
  int64_t *o = ok ? malloc((size_t)(m ? m : 1) * 8) : NULL;
  uint32_t *l = ok ? malloc((size_t)(m ? m : 1) * 4) : NULL;
  if (ok && (!o || !l)) {
    free(d), free(o), free(l);
    return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
  }
  size_t p = 16;
  for (int64_t j = 0; ok && j < m; j++) {
    uint32_t len;
    ok = p + 4 <= sz - 4;
    if (!ok) break;
    memcpy(&len, d + p, 4);
    p += 4;
    ok = len <= sz - 4 - p;
    o[j] = (int64_t)p, l[j] = len;
    p += len;
  }
  if (!ok || p != sz - 4) {
    free(d), free(o), free(l);
    return 0;
  }
  *data = d, *offs = o, *lens = l, *n = m;
  return 0;
}

static uint64_t hash_path(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
  return h;
}

/* state_idx[i] = index in the saved list of current input i (each saved
** entry matches at most one current input with the same path);
** cur_of[j] = current input of saved entry j, or -1.  Fails naming the
** first current input absent from the saved list. */
static int match_inputs(st_imp_ctx *c, const uint8_t *data, const int64_t *offs,
                        const uint32_t *lens, int64_t m, int64_t *cur_of, st_error *err) {
  int64_t n = c->o->n_inputs, cap = 16;
  while (cap < 2 * n) cap *= 2;
  int64_t *slot = malloc((size_t)cap * 8);
  ST_CHECK(slot, err, ST_ERR_NOMEM, "out of memory");
  for (int64_t s = 0; s < cap; s++) slot[s] = -1;
  for (int64_t i = 0; i < n; i++) {
    const char *p = c->o->inputs[i];
    int64_t s = (int64_t)(hash_path(p, strlen(p)) & (uint64_t)(cap - 1));
    while (slot[s] >= 0) s = (s + 1) & (cap - 1);
    slot[s] = i;
    c->state_idx[i] = -1;
  }
  for (int64_t j = 0; j < m; j++) {
    const char *p = (const char *)data + offs[j];
    size_t l = lens[j];
    int64_t s = (int64_t)(hash_path(p, l) & (uint64_t)(cap - 1));
    cur_of[j] = -1;
    for (; slot[s] >= 0; s = (s + 1) & (cap - 1)) {
      int64_t i = slot[s];
      const char *q = c->o->inputs[i];
      if (c->state_idx[i] < 0 && strlen(q) == l && !memcmp(q, p, l)) {
        c->state_idx[i] = j, cur_of[j] = i;
        break;
      }
    }
  }
  free(slot);
  for (int64_t i = 0; i < n; i++)
    if (c->state_idx[i] < 0)
      return st_fail(err, ST_ERR_INVALID,
                     "--resume: %s is not among the inputs of the interrupted import (%s/"
                     "inputs.lst); give the same inputs (failed ones may be left out), or use "
                     "--overwrite to discard the saved state and start over",
                     c->o->inputs[i], c->state_dir);
  return 0;
}

/* ---- reading the logs ------------------------------------------------------------ */

#define TOMB_N ((uint64_t)1 << 63) /* n of a failure record (tombstone) */

typedef struct tomb {
  uint64_t j, size, mt;      /* input (in inputs.lst) and its version    */
} tomb;

typedef struct log_scan {
  st_imp_ctx *c;
  const int64_t *cur_of;     /* saved input -> current input (or -1)     */
  int64_t m;                 /* saved inputs                             */
  const uint8_t *list;       /* inputs.lst bytes, for messages           */
  const int64_t *offs;
  const uint32_t *lens;
  int pass;                  /* 0: check, cut, gather tombstones; 1: apply */
  tomb *tombs;               /* pass 0 gathers them (sorted for pass 1)  */
  int64_t ntombs, tcap;
  char *seen;                /* per current input: it has a record       */
  int64_t reused;
} log_scan;

static int tomb_cmp(const void *a, const void *b) {
  const tomb *x = a, *y = b;
  if (x->j != y->j) return x->j < y->j ? -1 : 1;
  if (x->size != y->size) return x->size < y->size ? -1 : 1;
  return x->mt < y->mt ? -1 : x->mt > y->mt;
}

/* Decode a record's histogram from [p, end) (pixels at order npix), adding
** it to hist/bytes_hist unless they are NULL; 1 if malformed. */
static int decode_hist(const uint8_t *p, const uint8_t *end, uint64_t n, bool hb, int64_t npix,
                       int64_t *hist, int64_t *bytes_hist) {
  uint64_t px = 0, v, w, b = 0;
  for (uint64_t k = 0; k < n; k++) {
    if (get_varint(&p, end, &v)) return 1;
    px += v;
    if ((k && v == 0) || v >= (uint64_t)npix || px >= (uint64_t)npix) return 1;
    if (get_varint(&p, end, &w) || w > (uint64_t)INT64_MAX / 2) return 1;
    if (hb && (get_varint(&p, end, &b) || b > (uint64_t)INT64_MAX / 2)) return 1;
    if (hist) hist[px] += (int64_t)w;
    if (bytes_hist) bytes_hist[px] += (int64_t)b;
  }
  return p != end;
}

/* Pass 0: check one record's payload (1 if malformed: it ends the log) and
** gather it if it is a tombstone.  Pass 1: apply it. */
static int apply_record(log_scan *ls, const uint8_t *p, const uint8_t *end, bool hb, st_error *err,
                        int *rc) {
  st_imp_ctx *c = ls->c;
  uint64_t j, size, mt, n;
  if (get_varint(&p, end, &j) || get_varint(&p, end, &size) || get_varint(&p, end, &mt) ||
      get_varint(&p, end, &n) || j >= (uint64_t)ls->m)
    return 1;
  if (n == TOMB_N) {
    if (p != end) return 1;
    if (ls->pass == 1) return 0;
    if (ls->ntombs == ls->tcap) {
      int64_t nc = ls->tcap ? 2 * ls->tcap : 16;
      tomb *t = realloc(ls->tombs, (size_t)nc * sizeof *t);
      if (!t) {
        *rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
        return 0;
      }
      ls->tombs = t, ls->tcap = nc;
    }
    ls->tombs[ls->ntombs++] = (tomb){j, size, mt};
    return 0;
  }
  if (n > (uint64_t)c->hist_npix || decode_hist(p, end, n, hb, c->hist_npix, NULL, NULL)) return 1;
  if (ls->pass == 0) return 0;
  tomb key = {j, size, mt};
  bool voided = ls->ntombs && bsearch(&key, ls->tombs, (size_t)ls->ntombs, sizeof key, tomb_cmp);
  int64_t i = ls->cur_of[j];
  if (i >= 0) ls->seen[i] = 1;
  if (voided) return 0; /* it failed in splitting: mapped again (or left out) */
  if (i < 0) {
    *rc = st_fail(err, ST_ERR_INVALID,
                  "--resume: %.*s was mapped by the interrupted import but is not among the "
                  "inputs now; give the same inputs, or use --overwrite to discard the saved "
                  "state and start over",
                  (int)ls->lens[j], (const char *)ls->list + ls->offs[j]);
    return 0;
  }
  if (c->mapped[i]) return 0;
  struct stat st;
  if (stat(c->o->inputs[i], &st) || (uint64_t)st.st_size != size ||
      (uint64_t)((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec) != mt)
    return 0; /* an older version */
  decode_hist(p, end, n, hb, c->hist_npix, c->hist, c->bytes_hist);
  c->mapped[i] = 1;
  if (c->ver_size) c->ver_size[i] = (int64_t)size, c->ver_mtime[i] = (int64_t)mt;
  ls->reused++;
  return 0;
}

/* Read one log and pass its records to apply_record; pass 0 cuts it after
** its last valid record (pass 1 then sees valid records only). */
static int scan_log(log_scan *ls, const char *path, st_error *err) {
  st_imp_ctx *c = ls->c;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  uint8_t *d = NULL;
  int rc = 0;
  if (fstat(fd, &st)) rc = st_fail(err, ST_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  size_t sz = rc ? 0 : (size_t)st.st_size, good = 0;
  if (!rc && sz >= LOG_HEAD) {
    d = malloc(sz);
    if (!d) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, sz);
    size_t got = 0;
    while (!rc && got < sz) {
      ssize_t r = pread(fd, d + got, sz - got, (off_t)got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    sz = got;
  }
  int32_t hd[2] = {-1, -1};
  if (d && sz >= LOG_HEAD) memcpy(hd, d + 8, 8);
  bool hb = hd[1] == 1;
  if (!rc && d && sz >= LOG_HEAD && !memcmp(d, LOG_MAGIC, 8) && hd[0] == c->map_order &&
      hb == (c->bytes_hist != NULL)) {
    good = LOG_HEAD;
    while (!rc && good + 8 <= sz) {
      uint32_t len, k;
      memcpy(&len, d + good, 4), memcpy(&k, d + good + 4, 4);
      if (len > MAX_RECORD || len > sz - good - 8 || crc(d + good + 8, len) != k) break;
      if (apply_record(ls, d + good + 8, d + good + 8 + len, hb, err, &rc)) break;
      good += 8 + (size_t)len;
    }
  }
  free(d);
  /* a log with a bad header restarts empty (its records are not trusted) */
  if (!rc && ls->pass == 0 && good < (size_t)st.st_size && ftruncate(fd, (off_t)good))
    rc = st_fail(err, ST_ERR_IO, "%s: cannot truncate: %s", path, strerror(errno));
  close(fd);
  return rc;
}

int st_imp_state_map_begin(st_imp_ctx *c, bool fresh, bool *same_inputs, st_error *err) {
  char path[4200], dir[4200];
  int64_t n = c->o->n_inputs;
  *same_inputs = false;
  c->state_idx = malloc((size_t)n * sizeof *c->state_idx);
  c->mapped = calloc((size_t)n, 1);
  ST_CHECK(c->state_idx && c->mapped, err, ST_ERR_NOMEM, "out of memory");
  snprintf(path, sizeof path, "%s/inputs.lst", c->state_dir);
  int k = snprintf(dir, sizeof dir, "%s/map", c->state_dir);
  ST_CHECK(k > 0 && (size_t)k < sizeof dir, err, ST_ERR_INVALID, "state path too long");
  uint8_t *data = NULL;
  int64_t *offs = NULL, m = -1;
  uint32_t *lens = NULL;
  if (!fresh) ST_TRY(read_inputs(path, &data, &offs, &lens, &m, err));
  if (m < 0) { /* a new state: no log is meaningful without the list */
    DIR *dd = opendir(dir);
    struct dirent *e;
    while (dd && (e = readdir(dd)))
      if (e->d_name[0] != '.') {
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
      }
    if (dd) closedir(dd);
    for (int64_t i = 0; i < n; i++) c->state_idx[i] = i;
    ST_TRY(write_inputs(c, path, err));
  }
  if (mkdir(dir, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  if (m < 0) return *same_inputs = true, 0;
  int64_t *cur_of = malloc((size_t)(m ? m : 1) * 8);
  log_scan ls = {.c = c, .cur_of = cur_of, .m = m, .list = data, .offs = offs, .lens = lens};
  ls.seen = calloc((size_t)(n ? n : 1), 1);
  int rc = cur_of && ls.seen ? 0 : st_fail(err, ST_ERR_NOMEM, "out of memory");
  if (!rc) rc = match_inputs(c, data, offs, lens, m, cur_of, err);
  DIR *dd = rc ? NULL : opendir(dir);
  struct dirent *e;
  /* logs in name order, so that "the first valid record" is well defined */
  char **names = NULL;
  size_t nn = 0, cap = 0;
  while (!rc && dd && (e = readdir(dd))) {
    if (strncmp(e->d_name, "log-", 4) || !strstr(e->d_name, ".bin")) continue;
    if (nn == cap) {
      cap = cap ? 2 * cap : 16;
      char **x = realloc(names, cap * sizeof *x);
      if (!x) {
        rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
        break;
      }
      names = x;
    }
    if (!(names[nn] = st_strdup(e->d_name))) rc = st_fail(err, ST_ERR_NOMEM, "out of memory");
    else nn++;
  }
  if (dd) closedir(dd);
  for (size_t a = 1; a < nn; a++) /* insertion sort: O(threads) names */
    for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
      char *t = names[b];
      names[b] = names[b - 1], names[b - 1] = t;
    }
  /* pass 0: check and cut every log, gather the tombstones; pass 1: apply */
  for (ls.pass = 0; ls.pass < 2 && !rc; ls.pass++) {
    for (size_t a = 0; a < nn && !rc; a++) {
      char lp[4500];
      snprintf(lp, sizeof lp, "%s/%s", dir, names[a]);
      rc = scan_log(&ls, lp, err);
    }
    if (ls.ntombs) qsort(ls.tombs, (size_t)ls.ntombs, sizeof *ls.tombs, tomb_cmp);
  }
  free(ls.tombs);
  for (size_t a = 0; a < nn; a++) free(names[a]);
  free(names);
  /* the same inputs: the saved list in order, and no input has a record
  ** (of an older version, or voided) but no valid one */
  if (!rc) {
    *same_inputs = m == n;
    for (int64_t i = 0; i < n && *same_inputs; i++)
      *same_inputs = c->state_idx[i] == i && (!ls.seen[i] || c->mapped[i]);
  }
  free(ls.seen);
  free(cur_of);
  free(data), free(offs), free(lens);
  return rc;
}

/* ---- writing a log ----------------------------------------------------------------- */

struct st_imp_maplog {
  int fd;
  char path[4200];
  st_buf buf;
  int64_t last_write, last_sync;
};

int st_imp_maplog_open(const st_imp_ctx *c, int worker, st_imp_maplog **out, st_error *err) {
  *out = NULL;
  st_imp_maplog *l = calloc(1, sizeof *l);
  ST_CHECK(l, err, ST_ERR_NOMEM, "out of memory");
  st_buf_init(&l->buf);
  int k = snprintf(l->path, sizeof l->path, "%s/map/log-%d.bin", c->state_dir, worker);
  if (k <= 0 || (size_t)k >= sizeof l->path) {
    free(l);
    return st_fail(err, ST_ERR_INVALID, "state path too long");
  }
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  struct stat st;
  if (l->fd < 0 || fstat(l->fd, &st)) {
    int e = errno;
    if (l->fd >= 0) close(l->fd);
    free(l);
    return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", c->state_dir, strerror(e));
  }
  int rc = 0;
  if (st.st_size == 0) {
    int32_t hd[2] = {c->map_order, c->bytes_hist != NULL};
    rc = st_buf_append(&l->buf, LOG_MAGIC, 8, err);
    if (!rc) rc = st_buf_append(&l->buf, hd, 8, err);
  }
  l->last_write = l->last_sync = now_ns();
  *out = l;
  return rc;
}

static int log_write(st_imp_maplog *l, st_error *err) {
  if (!l->buf.len) return 0;
  if (write_all(l->fd, l->buf.data, l->buf.len))
    return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", l->path, strerror(errno));
  l->buf.len = 0;
  return 0;
}

int st_imp_maplog_add(st_imp_maplog *l, int64_t input, int64_t size, int64_t mtime_ns,
                      const int64_t *pix, const int64_t *cnt, const int64_t *bytes, int64_t n,
                      st_error *err) {
  size_t need = 8 + 4 * 10 + (size_t)n * 30;
  ST_TRY(st_buf_reserve(&l->buf, need, err));
  uint8_t *h = l->buf.data + l->buf.len, *p = h + 8;
  p = put_varint(p, (uint64_t)input);
  p = put_varint(p, (uint64_t)size);
  p = put_varint(p, (uint64_t)mtime_ns);
  p = put_varint(p, (uint64_t)n);
  int64_t prev = 0;
  for (int64_t i = 0; i < n; i++) {
    p = put_varint(p, (uint64_t)(pix[i] - prev));
    prev = pix[i];
    p = put_varint(p, (uint64_t)cnt[i]);
    if (bytes) p = put_varint(p, (uint64_t)bytes[i]);
  }
  uint32_t len = (uint32_t)(p - h - 8), k = crc(h + 8, len);
  memcpy(h, &len, 4), memcpy(h + 4, &k, 4);
  l->buf.len += 8 + (size_t)len;
  int64_t t = now_ns();
  if (l->buf.len >= LOG_BUF || t - l->last_write >= LOG_WRITE_NS) {
    ST_TRY(log_write(l, err));
    l->last_write = t;
  }
  if (t - l->last_sync >= LOG_SYNC_NS) {
    if (fdatasync(l->fd))
      return st_fail(err, ST_ERR_IO, "%s: cannot sync: %s", l->path, strerror(errno));
    l->last_sync = t;
  }
  return 0;
}

int st_imp_maplog_close(st_imp_maplog *l, st_error *err) {
  if (!l) return 0;
  int rc = log_write(l, err);
  if (!rc && fdatasync(l->fd))
    rc = st_fail(err, ST_ERR_IO, "%s: cannot sync: %s", l->path, strerror(errno));
  close(l->fd);
  st_buf_free(&l->buf);
  free(l);
  return rc;
}

int st_imp_state_add_failures(st_imp_ctx *c, st_error *err) {
  st_imp_maplog *l = NULL;
  int rc = 0;
  for (int f = 0; f < c->o->n_inputs && !rc; f++) {
    if (!c->failed[f]) continue;
    if (!l) rc = st_imp_maplog_open(c, 0, &l, err);
    if (rc) break;
    rc = st_buf_reserve(&l->buf, 8 + 4 * 10, err);
    if (rc) break;
    uint8_t *h = l->buf.data + l->buf.len, *p = h + 8;
    p = put_varint(p, (uint64_t)c->state_idx[f]);
    p = put_varint(p, (uint64_t)c->ver_size[f]);
    p = put_varint(p, (uint64_t)c->ver_mtime[f]);
    p = put_varint(p, TOMB_N);
    uint32_t len = (uint32_t)(p - h - 8), k = crc(h + 8, len);
    memcpy(h, &len, 4), memcpy(h + 4, &k, 4);
    l->buf.len += 8 + (size_t)len;
  }
  int r2 = st_imp_maplog_close(l, rc ? NULL : err);
  return rc ? rc : r2;
}

/*
** The split index, STATE/split/index.bin, written (via index.bin.tmp and a
** rename) once the whole splitting stage has succeeded; its presence marks
** the stage done.  Content, little-endian:
**   "STSPLIT2"  magic
**   int32 mapping order, int64 nparts, then per partition int32 order,
**   int64 pixel, int64 rows (must equal the binning of the resumed run)
**   int64 nruns, then the st_imp_run structs as in memory
**   int64 sum of the runs' rows (check)
*/
int st_imp_state_save_split(const char *state_dir, const st_bin_result *b, const st_imp_run *runs,
                            int64_t nruns, st_error *err) {
  char tmp[4096], fin[4096];
  snprintf(tmp, sizeof tmp, "%s/split/index.bin.tmp", state_dir);
  int k = snprintf(fin, sizeof fin, "%s/split/index.bin", state_dir);
  ST_CHECK(k > 0 && (size_t)k < sizeof fin, err, ST_ERR_INVALID, "state path too long");
  FILE *f = fopen(tmp, "wb");
  if (!f) return st_fail(err, ST_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  int32_t mo = b->mapping_order;
  int64_t sum = 0;
  int ok = fwrite("STSPLIT2", 1, 8, f) == 8 && fwrite(&mo, 4, 1, f) == 1 &&
           fwrite(&b->nparts, 8, 1, f) == 1;
  for (int64_t p = 0; ok && p < b->nparts; p++) {
    int32_t o = b->parts[p].order;
    ok = fwrite(&o, 4, 1, f) == 1 && fwrite(&b->parts[p].pixel, 8, 1, f) == 1 &&
         fwrite(&b->parts[p].rows, 8, 1, f) == 1;
  }
  ok = ok && fwrite(&nruns, 8, 1, f) == 1 &&
       fwrite(runs, sizeof *runs, (size_t)nruns, f) == (size_t)nruns;
  for (int64_t r = 0; r < nruns; r++) sum += runs[r].rows;
  ok = ok && fwrite(&sum, 8, 1, f) == 1;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, fin)) {
    remove(tmp);
    return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", fin, strerror(errno));
  }
  return 0;
}

int st_imp_state_load_split(const char *state_dir, const st_bin_result *b, int nspill,
                            st_imp_run **runs, int64_t *nruns, int *found, st_error *err) {
  char fin[4096];
  *found = 0;
  *runs = NULL;
  *nruns = 0;
  snprintf(fin, sizeof fin, "%s/split/index.bin", state_dir);
  FILE *f = fopen(fin, "rb");
  if (!f) return 0;
  char magic[8];
  int32_t mo = -1;
  int64_t np = -1, n = -1, check = -1, sum = 0;
  st_imp_run *r = NULL;
  int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "STSPLIT2", 8) &&
           fread(&mo, 4, 1, f) == 1 && mo == b->mapping_order && fread(&np, 8, 1, f) == 1 &&
           np == b->nparts;
  for (int64_t p = 0; ok && p < np; p++) {
    int32_t o;
    int64_t pix, rows;
    ok = fread(&o, 4, 1, f) == 1 && fread(&pix, 8, 1, f) == 1 && fread(&rows, 8, 1, f) == 1 &&
         o == b->parts[p].order && pix == b->parts[p].pixel && rows == b->parts[p].rows;
  }
  ok = ok && fread(&n, 8, 1, f) == 1 && n >= 0 && n < ((int64_t)1 << 40);
  if (ok) {
    r = malloc((size_t)(n ? n : 1) * sizeof *r);
    ok = r && fread(r, sizeof *r, (size_t)n, f) == (size_t)n && fread(&check, 8, 1, f) == 1;
  }
  for (int64_t i = 0; ok && i < n; i++) {
    ok = r[i].part >= 0 && r[i].part < np && r[i].spill >= 0 && r[i].spill < nspill &&
         r[i].row_group >= 0 && r[i].rows > 0 && r[i].offset >= 0;
    sum += ok ? r[i].rows : 0;
  }
  ok = ok && sum == check;
  fclose(f);
  if (!ok) {
    free(r);
    return 0;
  }
  *runs = r;
  *nruns = n;
  *found = 1;
  (void)err;
  return 0;
}
