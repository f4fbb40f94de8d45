/*
** This file implements skytile's byte sources (st_file) and atomic outputs
** (st_outfile) declared in io.h.
**
** st_file has three back ends, chosen at open:
**   MAP   a regular, non-empty file mapped read-only with mmap.  The mapping
**         is owned by one st_mem (`whole`) whose destroy calls munmap.  The
**         st_file holds one reference; every read returns another reference
**         to the same st_mem and a pointer inside the mapping.  So reads stay
**         valid after st_file_close until their last st_mem_unref, and a
**         read costs no copy and no lock.
**   MEM   caller memory (st_file_open_memory), or an empty file, or a
**         non-seekable file (pipe, character device) slurped into memory at
**         open.  Same scheme as MAP: `whole` wraps the bytes.
**   PREAD used when mmap fails (or when the environment variable
**         SKYTILE_NO_MMAP=1 is set, for tests): each read allocates a fresh
**         st_mem and fills it with pread(2), which has no shared file offset.
**         st_file_read_into copies into caller memory instead (pread, or
**         memcpy from MAP/MEM), for callers that reuse one buffer
**         (st_file_copies tells them when that saves an allocation).
**
** Invariants: `size` never changes after open; a read of [off, off+len) is
** checked against it before any access (overflow-safe), so an out-of-range
** read is ST_ERR_CORRUPT, never a SIGBUS or an over-read.  Nothing in an
** st_file is mutated after open, so st_file_read is safe from many threads
** at once (refcounts are atomic, pread is positionless).
**
** st_outfile writes "<final>.tmp-<pid>-<n>" (n from a process-wide atomic
** counter, created with O_EXCL) through a 1 MiB buffer.  Commit = flush,
** fsync, close, rename onto the final path, fsync the directory.  Abort, or
** any failure, unlinks the temporary file.  After a write error the outfile
** is "failed": the temporary is already removed and later calls return the
** error again; the caller still frees it with commit or abort.
*/
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ST_SRC_MAP, ST_SRC_MEM, ST_SRC_PREAD };

struct st_file {
  int kind;             /* ST_SRC_MAP, ST_SRC_MEM or ST_SRC_PREAD            */
  char *path;           /* path or name given at open (owned)               */
  uint64_t size;        /* bytes in the source, fixed at open               */
  int fd;               /* open descriptor for PREAD, else -1               */
  st_mem *whole;        /* MAP/MEM: all bytes; st_file holds one reference  */
};

#define ST_OUT_BUF (1u << 20)

struct st_outfile {
  char *final_path;     /* where the file appears at commit (owned)        */
  char *tmp_path;       /* temporary beside it (owned)                      */
  int fd;               /* temp file descriptor, -1 once closed             */
  uint8_t *buf;         /* write buffer of ST_OUT_BUF bytes                 */
  size_t nbuf;          /* bytes pending in buf                             */
  uint64_t pos;         /* total bytes written (incl. pending)              */
  int failed;           /* st_code of the first failure, 0 if none          */
  st_error fail_err;    /* its message, repeated by later calls             */
};

/* ---- st_file ---------------------------------------------------------- */

static void destroy_map(st_mem *m) {
  munmap(m->data, m->size);
  free(m);
}

static void destroy_slurp(st_mem *m) {
  free(m->owner);
  free(m);
}

static void destroy_borrowed(st_mem *m) { free(m); }

static int file_new(const char *path, st_file **out, st_error *err) {
  st_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = st_strdup(path ? path : "<memory>"))) {
    free(f);
    st_fail(err, ST_ERR_NOMEM, "out of memory opening '%s'", path ? path : "<memory>");
    return ST_ERR_NOMEM;
  }
  f->fd = -1;
  *out = f;
  return ST_OK;
}

/* Read a non-seekable descriptor to its end into one malloc'd block. */
static int slurp(int fd, const char *path, st_file *f, st_error *err) {
  size_t cap = 1 << 16, len = 0;
  uint8_t *data = malloc(cap);
  if (!data) return st_fail(err, ST_ERR_NOMEM, "out of memory reading '%s'", path);
  for (;;) {
    if (len == cap) {
      uint8_t *p = cap > SIZE_MAX / 2 ? NULL : realloc(data, cap * 2);
      if (!p) {
        free(data);
        return st_fail(err, ST_ERR_NOMEM, "out of memory reading '%s' (%zu bytes so far)", path,
                       len);
      }
      data = p;
      cap *= 2;
    }
    ssize_t n = read(fd, data + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      free(data);
      return st_fail(err, ST_ERR_IO, "cannot read '%s': %s", path, strerror(e));
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  f->whole = st_mem_wrap(data, len, destroy_slurp, data);
  if (!f->whole) {
    free(data);
    return st_fail(err, ST_ERR_NOMEM, "out of memory reading '%s'", path);
  }
  f->kind = ST_SRC_MEM;
  f->size = len;
  return ST_OK;
}

int st_file_open(const char *path, st_file **out, st_error *err) {
  *out = NULL;
  ST_CHECK(path && *path, err, ST_ERR_INVALID, "open: empty path");
  int fd;
  do fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return st_fail(err, ST_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return st_fail(err, ST_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return st_fail(err, ST_ERR_IO, "cannot open '%s': %s", path, strerror(EISDIR));
  }
  st_file *f = NULL;
  int rc = file_new(path, &f, err);
  if (rc) {
    close(fd);
    return rc;
  }
  if (!S_ISREG(st.st_mode)) {   /* pipe, device: no random access, read it all */
    rc = slurp(fd, path, f, err);
    close(fd);
    if (rc) {
      st_file_close(f);
      return rc;
    }
    *out = f;
    return ST_OK;
  }
  f->size = (uint64_t)st.st_size;
  const char *no_mmap = getenv("SKYTILE_NO_MMAP");
  bool try_map = f->size > 0 && f->size <= SIZE_MAX && !(no_mmap && !strcmp(no_mmap, "1"));
  if (try_map) {
    void *p = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f->whole = st_mem_wrap(p, (size_t)f->size, destroy_map, NULL);
      if (!f->whole) {
        munmap(p, (size_t)f->size);
        close(fd);
        st_file_close(f);
        return st_fail(err, ST_ERR_NOMEM, "out of memory opening '%s'", path);
      }
      close(fd);   /* the mapping outlives the descriptor */
      f->kind = ST_SRC_MAP;
      *out = f;
      return ST_OK;
    }
  }
  if (f->size == 0) {   /* nothing to map: an empty memory source */
    close(fd);
    f->kind = ST_SRC_MEM;
    f->whole = st_mem_wrap(NULL, 0, destroy_borrowed, NULL);
    if (!f->whole) {
      st_file_close(f);
      return st_fail(err, ST_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    *out = f;
    return ST_OK;
  }
  f->kind = ST_SRC_PREAD;
  f->fd = fd;
  *out = f;
  return ST_OK;
}

int st_file_open_memory(const void *data, size_t size, const char *name, st_file **out,
                        st_error *err) {
  *out = NULL;
  ST_CHECK(data || size == 0, err, ST_ERR_INVALID, "open_memory: NULL data of size %zu", size);
  st_file *f = NULL;
  ST_TRY(file_new(name, &f, err));
  f->kind = ST_SRC_MEM;
  f->size = size;
  f->whole = st_mem_wrap((uint8_t *)data, size, destroy_borrowed, NULL);
  if (!f->whole) {
    st_file_close(f);
    return st_fail(err, ST_ERR_NOMEM, "out of memory opening '%s'", name ? name : "<memory>");
  }
  *out = f;
  return ST_OK;
}

void st_file_close(st_file *f) {
  if (!f) return;
  if (f->fd >= 0) close(f->fd);
  st_mem_unref(f->whole);
  free(f->path);
  free(f);
}

uint64_t st_file_size(const st_file *f) { return f->size; }

const char *st_file_path(const st_file *f) { return f->path; }

/* pread(2) exactly len bytes at off into dst (EINTR and short reads retried). */
static int pread_all(st_file *f, uint64_t off, size_t len, uint8_t *dst, st_error *err) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(f->fd, dst + got, len - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      if (n == 0)
        return st_fail(err, ST_ERR_IO,
                       "read of '%s' ended early at offset %llu (file shrank while open?)",
                       f->path, (unsigned long long)(off + got));
      return st_fail(err, ST_ERR_IO, "cannot read '%s' at offset %llu: %s", f->path,
                     (unsigned long long)(off + got), strerror(e));
    }
    got += (size_t)n;
  }
  return ST_OK;
}

/* [off, off+len) must lie within the file (overflow-safe). */
static int check_range(const st_file *f, uint64_t off, size_t len, st_error *err) {
  if (off > f->size || (uint64_t)len > f->size - off)
    return st_fail(err, ST_ERR_CORRUPT,
                   "read past end of file (offset %llu, length %zu, file size %llu)",
                   (unsigned long long)off, len, (unsigned long long)f->size);
  return ST_OK;
}

int st_file_read(st_file *f, uint64_t off, size_t len, st_mem **out_mem, const uint8_t **out_ptr,
                 st_error *err) {
  *out_mem = NULL;
  *out_ptr = NULL;
  ST_TRY(check_range(f, off, len, err));
  if (f->kind != ST_SRC_PREAD) {
    *out_mem = st_mem_ref(f->whole);
    *out_ptr = f->whole->data ? f->whole->data + off : (const uint8_t *)"";
    return ST_OK;
  }
  st_mem *m = st_mem_new(len);
  if (!m) return st_fail(err, ST_ERR_NOMEM, "out of memory reading %zu bytes", len);
  int rc = pread_all(f, off, len, m->data, err);
  if (rc) {
    st_mem_unref(m);
    return rc;
  }
  *out_mem = m;
  *out_ptr = m->data;
  return ST_OK;
}

int st_file_read_into(st_file *f, uint64_t off, size_t len, uint8_t *dst, st_error *err) {
  ST_TRY(check_range(f, off, len, err));
  if (f->kind == ST_SRC_PREAD) return pread_all(f, off, len, dst, err);
  if (len) memcpy(dst, f->whole->data + off, len);
  return ST_OK;
}

bool st_file_copies(const st_file *f) { return f->kind == ST_SRC_PREAD; }

/* ---- st_outfile ------------------------------------------------------- */

static unsigned long g_out_counter;

/* Record the first failure, remove the temporary file; returns the code. */
static int out_fail(st_outfile *o, st_error *err, int code, const char *what, int e) {
  if (!o->failed) {
    o->failed = code;
    st_fail(&o->fail_err, code, "cannot %s '%s': %s", what, o->tmp_path, strerror(e));
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    unlink(o->tmp_path);
  }
  if (err) *err = o->fail_err;
  return o->failed;
}

static int write_all(st_outfile *o, const uint8_t *p, size_t n, st_error *err) {
  while (n > 0) {
    ssize_t w = write(o->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return out_fail(o, err, ST_ERR_IO, "write", w < 0 ? errno : EIO);
    p += w;
    n -= (size_t)w;
  }
  return ST_OK;
}

static int out_flush(st_outfile *o, st_error *err) {
  if (o->nbuf == 0) return ST_OK;
  int rc = write_all(o, o->buf, o->nbuf, err);
  o->nbuf = 0;
  return rc;
}

static void out_free(st_outfile *o) {
  if (o->fd >= 0) close(o->fd);
  free(o->final_path);
  free(o->tmp_path);
  free(o->buf);
  free(o);
}

int st_outfile_open(const char *final_path, st_outfile **out, st_error *err) {
  *out = NULL;
  ST_CHECK(final_path && *final_path, err, ST_ERR_INVALID, "create: empty path");
  st_outfile *o = calloc(1, sizeof *o);
  if (!o) return st_fail(err, ST_ERR_NOMEM, "out of memory creating '%s'", final_path);
  o->fd = -1;
  unsigned long n = __atomic_fetch_add(&g_out_counter, 1, __ATOMIC_RELAXED);
  size_t plen = strlen(final_path) + 64;
  o->final_path = st_strdup(final_path);
  o->tmp_path = malloc(plen);
  o->buf = malloc(ST_OUT_BUF);
  if (!o->final_path || !o->tmp_path || !o->buf) {
    out_free(o);
    return st_fail(err, ST_ERR_NOMEM, "out of memory creating '%s'", final_path);
  }
  snprintf(o->tmp_path, plen, "%s.tmp-%ld-%lu", final_path, (long)getpid(), n);
  do o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  while (o->fd < 0 && errno == EINTR);
  if (o->fd < 0) {
    int e = errno;
    out_free(o);
    return st_fail(err, ST_ERR_IO, "cannot create '%s': %s", final_path, strerror(e));
  }
  *out = o;
  return ST_OK;
}

int st_outfile_write(st_outfile *o, const void *p, size_t n, st_error *err) {
  if (o->failed) return out_fail(o, err, o->failed, "write", 0);
  const uint8_t *src = p;
  if (n < ST_OUT_BUF - o->nbuf) {   /* fits in the buffer */
    if (n) memcpy(o->buf + o->nbuf, src, n);
    o->nbuf += n;
    o->pos += n;
    return ST_OK;
  }
  ST_TRY(out_flush(o, err));
  if (n >= ST_OUT_BUF) {            /* large write: bypass the buffer */
    ST_TRY(write_all(o, src, n, err));
  } else {
    memcpy(o->buf, src, n);
    o->nbuf = n;
  }
  o->pos += n;
  return ST_OK;
}

uint64_t st_outfile_tell(const st_outfile *o) { return o->pos; }

/* fsync the directory holding path so the rename is durable (best effort on
   file systems that cannot sync directories). */
static int sync_dir(const char *path, st_error *err) {
  char *dir = st_strdup(path);
  if (!dir) return st_fail(err, ST_ERR_NOMEM, "out of memory");
  char *slash = strrchr(dir, '/');
  if (!slash) strcpy(dir, ".");
  else if (slash == dir) dir[1] = 0;
  else *slash = 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = ST_OK;
  if (fd >= 0) {
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
      rc = st_fail(err, ST_ERR_IO, "cannot sync directory '%s': %s", dir, strerror(errno));
    close(fd);
  }
  free(dir);
  return rc;
}

int st_outfile_commit(st_outfile *o, st_error *err) {
  if (!o) return st_fail(err, ST_ERR_INVALID, "commit: NULL output");
  int rc = o->failed ? out_fail(o, err, o->failed, "write", 0) : out_flush(o, err);
  if (!rc && fsync(o->fd) != 0) rc = out_fail(o, err, ST_ERR_IO, "sync", errno);
  if (!rc) {
    int fd = o->fd;
    o->fd = -1;
    if (close(fd) != 0) {
      rc = out_fail(o, err, ST_ERR_IO, "close", errno);
    }
  }
  if (!rc && rename(o->tmp_path, o->final_path) != 0) {
    int e = errno;
    unlink(o->tmp_path);
    rc = st_fail(err, ST_ERR_IO, "cannot rename '%s' to '%s': %s", o->tmp_path, o->final_path,
                 strerror(e));
  }
  if (!rc) rc = sync_dir(o->final_path, err);
  out_free(o);
  return rc;
}

void st_outfile_abort(st_outfile *o) {
  if (!o) return;
  if (o->fd >= 0) close(o->fd);
  o->fd = -1;
  if (!o->failed) unlink(o->tmp_path);
  out_free(o);
}
