/*
** This file implements the error helpers declared in err.h.
*/
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int st_fail(st_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

void st_error_prefix(st_error *err, const char *fmt, ...) {
  if (!err) return;
  char pre[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  if (n <= 0) return;
  size_t lp = strlen(pre), lm = strlen(err->msg);
  if (lp >= sizeof err->msg - 1) return;
  if (lp + lm >= sizeof err->msg) lm = sizeof err->msg - 1 - lp;
  memmove(err->msg + lp, err->msg, lm);
  memcpy(err->msg, pre, lp);
  err->msg[lp + lm] = 0;
}

void st_error_clear(st_error *err) {
  if (err) {
    err->code = 0;
    err->msg[0] = 0;
  }
}

const char *st_code_name(int code) {
  switch (code) {
  case ST_OK: return "ok";
  case ST_ERR_INVALID: return "invalid argument";
  case ST_ERR_IO: return "I/O error";
  case ST_ERR_CORRUPT: return "corrupt data";
  case ST_ERR_UNSUPPORTED: return "not supported";
  case ST_ERR_NOMEM: return "out of memory";
  case ST_ERR_LIMIT: return "limit exceeded";
  case ST_ERR_SCHEMA: return "schema mismatch";
  case ST_ERR_NOTFOUND: return "not found";
  case ST_ERR_INTERRUPTED: return "interrupted";
  default: return "unknown error";
  }
}
