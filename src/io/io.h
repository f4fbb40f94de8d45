/*
** This file declares skytile's byte sources and atomic outputs (module io).
**
** st_file: a read-only random-access source (a local file, memory-mapped when
** possible, else read with pread; or a caller's memory block).  Reads return
** a pointer plus an st_mem reference that keeps the bytes alive, so decoded
** arrays can point straight into a mapped file (zero copy).  Reads outside
** the file are ST_ERR_CORRUPT ("read past end of file"), never a crash.
** An st_file may be read from several threads at once.
**
** st_outfile: output that appears atomically.  Bytes go to a temporary file
** beside the target ("<path>.tmp-<pid>-<n>"); st_outfile_commit flushes,
** fsyncs and renames it into place; st_outfile_abort (or an error) removes it.
** A reader never sees a half-written file at the final path.
*/
#ifndef ST_IO_IO_H
#define ST_IO_IO_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "util/mem.h"

typedef struct st_file st_file;

int st_file_open(const char *path, st_file **out, st_error *err);
/* Wrap caller memory (not copied; must outlive the st_file and its reads). */
int st_file_open_memory(const void *data, size_t size, const char *name, st_file **out, st_error *err);
void st_file_close(st_file *f);               /* NULL-safe; outstanding st_mem refs stay valid */
uint64_t st_file_size(const st_file *f);
const char *st_file_path(const st_file *f);   /* the path or name given at open */
/*
** Make bytes [off, off+len) available: *out_ptr points at them and *out_mem
** holds a reference (release with st_mem_unref) that keeps them valid.
** Past-the-end ranges fail with ST_ERR_CORRUPT.
*/
int st_file_read(st_file *f, uint64_t off, size_t len, st_mem **out_mem, const uint8_t **out_ptr,
                 st_error *err);
/*
** Copy bytes [off, off+len) into dst (len bytes of caller memory): pread(2)
** for a file read by pread, memcpy otherwise.  Same range checks.
*/
int st_file_read_into(st_file *f, uint64_t off, size_t len, uint8_t *dst, st_error *err);
/* True when st_file_read allocates and copies (the file is read by pread):
   a caller reading many ranges may then prefer st_file_read_into a buffer
   it reuses. */
bool st_file_copies(const st_file *f);

typedef struct st_outfile st_outfile;
int st_outfile_open(const char *final_path, st_outfile **out, st_error *err);
int st_outfile_write(st_outfile *o, const void *p, size_t n, st_error *err);
uint64_t st_outfile_tell(const st_outfile *o);
int st_outfile_commit(st_outfile *o, st_error *err);  /* flush, fsync, rename; frees o */
void st_outfile_abort(st_outfile *o);                 /* remove temp; frees o; NULL-safe */

#endif
