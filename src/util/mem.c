/*
** This file implements the memory helpers declared in mem.h.
*/
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

void *st_malloc(size_t n) { return malloc(n ? n : 1); }
void *st_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *st_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void st_free(void *p) { free(p); }
char *st_strdup(const char *s) { return s ? strdup(s) : NULL; }
char *st_strndup(const char *s, size_t n) {
  char *r = malloc(n + 1);
  if (!r) return NULL;
  memcpy(r, s, n);
  r[n] = 0;
  return r;
}

/*
** Aligned blocks carry a 64-byte header just before the returned pointer:
**
**   OFFSET  SIZE  DESCRIPTION
**   -64     8     usable bytes of the block (excluding header, including ST_PAD)
**   -56     8     magic, to catch frees of foreign pointers in debug builds
**
** Large blocks (>= ST_CACHE_MIN) are recycled through a small process-wide
** cache instead of going back to the kernel: decoding a row group allocates
** and frees the same few large buffers again and again, and a fresh mmap'd
** block costs page faults and kernel zeroing on every touch (a fifth of the
** CPU time of a mixed-type scan).  The cache holds at most ST_CACHE_SLOTS
** blocks and ST_CACHE_BYTES in total; a request takes the smallest cached
** block that fits and is at most twice the request.
*/
#define ST_HDR 64
#define ST_MAGIC 0x5354424c4f434bULL /* "STBLOCK" */
#if defined(__SANITIZE_ADDRESS__)
#define ST_CACHE_MIN SIZE_MAX /* no recycling: let ASan see every use after free */
#else
#define ST_CACHE_MIN ((size_t)1 << 20)
#endif
#define ST_CACHE_SLOTS 16
#define ST_CACHE_BYTES ((size_t)256 << 20)

#include <pthread.h>

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *g_cache[ST_CACHE_SLOTS];   /* raw blocks (header at [0])   */
static size_t g_cache_bytes;               /* sum of cached usable sizes    */

static size_t hdr_size(const uint8_t *raw) { return ((const uint64_t *)raw)[0]; }

static uint8_t *cache_take(size_t need) {
  uint8_t *best = NULL;
  int ib = -1;
  pthread_mutex_lock(&g_cache_lock);
  for (int i = 0; i < ST_CACHE_SLOTS; i++) {
    uint8_t *b = g_cache[i];
    if (!b) continue;
    size_t sz = hdr_size(b);
    if (sz >= need && sz / 2 <= need && (!best || sz < hdr_size(best))) {
      best = b;
      ib = i;
    }
  }
  if (best) {
    g_cache[ib] = NULL;
    g_cache_bytes -= hdr_size(best);
  }
  pthread_mutex_unlock(&g_cache_lock);
  return best;
}

static int cache_put(uint8_t *raw) {
  size_t sz = hdr_size(raw);
  int ok = 0;
  pthread_mutex_lock(&g_cache_lock);
  if (g_cache_bytes + sz <= ST_CACHE_BYTES) {
    for (int i = 0; i < ST_CACHE_SLOTS; i++)
      if (!g_cache[i]) {
        g_cache[i] = raw;
        g_cache_bytes += sz;
        ok = 1;
        break;
      }
  }
  pthread_mutex_unlock(&g_cache_lock);
  return ok;
}

void *st_aligned_alloc(size_t n) {
  size_t total;
  if (!st_add_ok(n, ST_PAD, &total)) return NULL;
  total = (total + ST_ALIGN - 1) & ~(size_t)(ST_ALIGN - 1);
  if (total >= ST_CACHE_MIN) {
    uint8_t *raw = cache_take(total);
    if (raw) return raw + ST_HDR;
    /* round large blocks up to 64 KiB so that near sizes can share blocks */
    size_t r = (total + 65535) & ~(size_t)65535;
    if (r >= total) total = r;
  }
  size_t all;
  if (!st_add_ok(total, ST_HDR, &all)) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, ST_ALIGN, all)) return NULL;
  ((uint64_t *)p)[0] = total;
  ((uint64_t *)p)[1] = ST_MAGIC;
  return (uint8_t *)p + ST_HDR;
}

void st_aligned_free(void *p) {
  if (!p) return;
  uint8_t *raw = (uint8_t *)p - ST_HDR;
  if (hdr_size(raw) >= ST_CACHE_MIN && cache_put(raw)) return;
  free(raw);
}

/* Release the cached blocks (e.g. before measuring memory, or at exit). */
void st_mem_trim(void) {
  pthread_mutex_lock(&g_cache_lock);
  for (int i = 0; i < ST_CACHE_SLOTS; i++) {
    free(g_cache[i]);
    g_cache[i] = NULL;
  }
  g_cache_bytes = 0;
  pthread_mutex_unlock(&g_cache_lock);
}

static void mem_destroy_own(st_mem *m) {
  st_aligned_free(m->data);
  free(m);
}

st_mem *st_mem_new(size_t n) {
  st_mem *m = malloc(sizeof *m);
  if (!m) return NULL;
  m->data = st_aligned_alloc(n);
  if (!m->data) {
    free(m);
    return NULL;
  }
  m->refs = 1;
  m->size = n;
  m->destroy = mem_destroy_own;
  m->owner = NULL;
  return m;
}

st_mem *st_mem_wrap(uint8_t *data, size_t size, void (*destroy)(st_mem *), void *owner) {
  st_mem *m = malloc(sizeof *m);
  if (!m) return NULL;
  m->refs = 1;
  m->data = data;
  m->size = size;
  m->destroy = destroy;
  m->owner = owner;
  return m;
}

st_mem *st_mem_ref(st_mem *m) {
  if (m) __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
  return m;
}

void st_mem_unref(st_mem *m) {
  if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0) m->destroy(m);
}

void st_buf_init(st_buf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

void st_buf_free(st_buf *b) {
  st_aligned_free(b->data);
  st_buf_init(b);
}

int st_buf_reserve(st_buf *b, size_t extra, st_error *err) {
  size_t need;
  if (!st_add_ok(b->len, extra, &need)) return st_fail(err, ST_ERR_NOMEM, "buffer size overflow");
  if (need <= b->cap) return ST_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  uint8_t *p = st_aligned_alloc(cap);
  if (!p) return st_fail(err, ST_ERR_NOMEM, "out of memory allocating %zu bytes", cap);
  if (b->len) memcpy(p, b->data, b->len);
  st_aligned_free(b->data);
  b->data = p;
  b->cap = cap;
  return ST_OK;
}

int st_buf_append(st_buf *b, const void *p, size_t n, st_error *err) {
  ST_TRY(st_buf_reserve(b, n, err));
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return ST_OK;
}

static void mem_destroy_buf(st_mem *m) {
  st_aligned_free(m->owner);
  free(m);
}

st_mem *st_buf_detach(st_buf *b) {
  if (!b->data) {
    if (st_buf_reserve(b, 1, NULL)) return NULL;
  }
  st_mem *m = st_mem_wrap(b->data, b->len, mem_destroy_buf, b->data);
  if (!m) return NULL;
  st_buf_init(b);
  return m;
}
