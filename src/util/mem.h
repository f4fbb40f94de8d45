/*
** This file implements memory helpers: checked allocation, growable byte
** buffers and reference-counted memory blocks.
**
** st_mem is the unit of shared ownership behind every array buffer: a column
** may point into a decompressed page, a dictionary, a memory-mapped file or a
** freshly allocated block, and an Arrow C Data export keeps the blocks alive
** by holding references.  Refcounts are atomic, so a block may be released
** from any thread.
**
** Allocations of array buffers are 64-byte aligned and padded by 64 bytes so
** that bit-unpacking and SIMD loops may over-read/over-write the tail safely.
*/
#ifndef ST_UTIL_MEM_H
#define ST_UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "util/err.h"

#define ST_ALIGN 64
#define ST_PAD 64

/* Checked helpers: on failure they return NULL (callers report ST_ERR_NOMEM). */
void *st_malloc(size_t n);
void *st_calloc(size_t n, size_t size);
void *st_realloc(void *p, size_t n);
void st_free(void *p);
char *st_strdup(const char *s);
char *st_strndup(const char *s, size_t n);
/* 64-byte aligned, padded block (free with st_aligned_free). */
void *st_aligned_alloc(size_t n);
void st_aligned_free(void *p);
/* Return recycled large blocks to the system (they are otherwise kept, up to 256 MiB). */
void st_mem_trim(void);

/* Overflow-checked size arithmetic: returns false on overflow. */
static inline bool st_mul_ok(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline bool st_add_ok(size_t a, size_t b, size_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

/* ---- Reference-counted memory block ---------------------------------- */
typedef struct st_mem st_mem;
struct st_mem {
  int refs;                         /* atomic refcount                      */
  uint8_t *data;                    /* start of the bytes                   */
  size_t size;                      /* bytes usable at data                 */
  void (*destroy)(st_mem *m);       /* frees data and m itself              */
  void *owner;                      /* e.g. an mmap handle, for destroy     */
};
/* New zero-filled? No: uninitialised aligned block of n bytes (+padding). */
st_mem *st_mem_new(size_t n);
/* Wrap memory owned elsewhere; destroy(m) is called at the last release. */
st_mem *st_mem_wrap(uint8_t *data, size_t size, void (*destroy)(st_mem *), void *owner);
st_mem *st_mem_ref(st_mem *m);      /* +1, returns m (NULL-safe)            */
void st_mem_unref(st_mem *m);       /* -1, destroys at 0 (NULL-safe)        */

/* ---- Growable byte buffer (single owner) ----------------------------- */
typedef struct st_buf {
  uint8_t *data;  /* aligned, padded; NULL when cap == 0 */
  size_t len;     /* bytes in use                        */
  size_t cap;     /* bytes allocated (excluding padding) */
} st_buf;

void st_buf_init(st_buf *b);
void st_buf_free(st_buf *b);
/* Ensure room for `extra` more bytes beyond len; returns ST_OK or ST_ERR_NOMEM. */
int st_buf_reserve(st_buf *b, size_t extra, st_error *err);
int st_buf_append(st_buf *b, const void *p, size_t n, st_error *err);
/* Move the contents into a new st_mem (buffer becomes empty). NULL on OOM. */
st_mem *st_buf_detach(st_buf *b);

#endif
