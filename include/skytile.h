/*
** skytile — HATS astronomical catalogs in C: import, query, Parquet.
**
** This is the public API.  It is split by module, each header documenting its
** functions in prose; this umbrella header includes them all.
**
** Conventions shared by every function:
**  - Fallible functions return int: 0 (ST_OK) or a positive st_code, and fill
**    a caller-owned st_error with a human-readable message naming the file and
**    the problem.  The library never prints, aborts or calls exit().
**  - Handles are opaque; each `*_open`/`*_new` has a matching `*_close`/`*_free`
**    that accepts NULL.
**  - Unless a function says otherwise, a handle may be used by one thread at a
**    time; distinct handles may be used concurrently.
*/
#ifndef SKYTILE_H
#define SKYTILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ST_API __attribute__((visibility("default")))
#else
#define ST_API
#endif

#define SKYTILE_VERSION "0.1.0"
#define SKYTILE_VERSION_MAJOR 0
#define SKYTILE_VERSION_MINOR 1
#define SKYTILE_VERSION_PATCH 0

/* Result codes: coarse and stable.  The message says the rest. */
typedef enum st_code {
  ST_OK = 0,
  ST_ERR_INVALID = 1,      /* bad argument or usage                          */
  ST_ERR_IO = 2,           /* open/read/write/rename failed (errno in msg)   */
  ST_ERR_CORRUPT = 3,      /* input violates its format; msg says where      */
  ST_ERR_UNSUPPORTED = 4,  /* valid input we do not handle (yet)             */
  ST_ERR_NOMEM = 5,        /* allocation failed                              */
  ST_ERR_LIMIT = 6,        /* a configured limit (memory cap, ...) was hit   */
  ST_ERR_SCHEMA = 7,       /* schemas/types do not match                     */
  ST_ERR_NOTFOUND = 8,     /* column, file or key not found                  */
  ST_ERR_INTERRUPTED = 9   /* stopped on request (Ctrl-C)                    */
} st_code;

/* Error details, owned by the caller (usually on the stack). */
typedef struct st_error {
  int code;        /* an st_code; 0 when no error    */
  char msg[1024];  /* NUL-terminated message         */
} st_error;

/* Short name of a code ("corrupt data", ...). Never NULL. */
ST_API const char *st_code_name(int code);

/* Library version string, e.g. "0.1.0". */
ST_API const char *st_version(void);

#ifdef __cplusplus
}
#endif

#include "skytile/table.h"
#include "skytile/parquet.h"
#include "skytile/healpix.h"
#include "skytile/import.h"
#include "skytile/hats.h"
#include "skytile/readers.h"
#include "skytile/query.h"
#include "skytile/xmatch.h"
#include "skytile/plot.h"
#include "skytile/gen.h"

#endif
