/*
** This file implements skytile's error convention, used by every module.
**
** A fallible function returns an int: 0 (ST_OK) on success or one of the named
** positive codes below, and fills a caller-owned `st_error` with a message that
** says where and why.  Nothing in the library prints, aborts or calls exit().
**
**     int rc = st_something(..., err);
**     if (rc) return rc;                       -- or ST_TRY(st_something(..., err));
**
**     ST_CHECK(n <= cap, err, ST_ERR_CORRUPT, "page header: size %lld too large", n);
**
** Higher layers add context with st_error_prefix(err, "%s: ", path), so the
** message the CLI prints reads "file.parquet: column 'x', row group 3: page
** header: ...".  Codes are coarse and stable; messages are for humans.
*/
#ifndef ST_UTIL_ERR_H
#define ST_UTIL_ERR_H

#include <stddef.h>
#include <stdint.h>

#include "skytile.h"   /* st_code, st_error */

#if defined(__GNUC__)
#define ST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ST_LIKELY(x) __builtin_expect(!!(x), 1)
#define ST_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ST_PRINTF(a, b)
#define ST_LIKELY(x) (x)
#define ST_UNLIKELY(x) (x)
#endif

/* Set err (may be NULL) to code + formatted message; returns code. */
int st_fail(st_error *err, int code, const char *fmt, ...) ST_PRINTF(3, 4);
/* Prepend formatted context to err's message (no-op if err is NULL). */
void st_error_prefix(st_error *err, const char *fmt, ...) ST_PRINTF(2, 3);
void st_error_clear(st_error *err);

#define ST_TRY(expr)                                                           \
  do {                                                                         \
    int st_rc_ = (expr);                                                       \
    if (ST_UNLIKELY(st_rc_)) return st_rc_;                                    \
  } while (0)

#define ST_CHECK(cond, err, code, ...)                                         \
  do {                                                                         \
    if (ST_UNLIKELY(!(cond))) return st_fail((err), (code), __VA_ARGS__);      \
  } while (0)

/* Corruption checks on untrusted input: a failed check is "corrupt", never a crash. */
#define ST_SAFETY(cond, err, ...) ST_CHECK(cond, err, ST_ERR_CORRUPT, __VA_ARGS__)

#endif
