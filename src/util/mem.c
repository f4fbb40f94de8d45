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

void *st_aligned_alloc(size_t n) {
  size_t total;
  if (!st_add_ok(n, ST_PAD, &total)) return NULL;
  total = (total + ST_ALIGN - 1) & ~(size_t)(ST_ALIGN - 1);
  void *p = NULL;
  if (posix_memalign(&p, ST_ALIGN, total)) return NULL;
  return p;
}
void st_aligned_free(void *p) { free(p); }

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
