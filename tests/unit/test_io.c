/*
** Unit tests for src/io/io.c: st_file over mmap, pread (SKYTILE_NO_MMAP=1),
** memory and pipes; bounds errors; reads outliving st_file_close; concurrent
** reads; st_outfile buffering, commit, abort and temp-file hygiene.
** Files live in a fresh mkdtemp directory under /tmp; contents are checked
** with stdio (fopen/fread), independent of the code under test.
*/
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "util/err.h"
#include "util/mem.h"

static char g_dir[64];

static const char *tmpdir(void) {
  strcpy(g_dir, "/tmp/skytile-io-XXXXXX");
  return mkdtemp(g_dir);
}

/* Remove every file in dir, then dir itself. */
static void rmdir_all(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)((i * 2654435761u) >> 13); }

static int write_plain(const char *path, size_t n) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return -1;
  for (size_t i = 0; i < n; i++) fputc(pattern(i), fp);
  return fclose(fp);
}

static uint8_t *slurp_stdio(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long sz = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *p = malloc(sz ? (size_t)sz : 1);
  *n = fread(p, 1, (size_t)sz, fp);
  fclose(fp);
  return p;
}

static void set_no_mmap(int on) {
  if (on) setenv("SKYTILE_NO_MMAP", "1", 1);
  else unsetenv("SKYTILE_NO_MMAP");
}

TEST(io_open_errors_name_path_and_reason) {
  st_error err = {0};
  st_file *f = (st_file *)1;
  CHECK_EQ_I64(st_file_open("/nonexistent-dir/x.parquet", &f, &err), ST_ERR_IO);
  CHECK(f == NULL);
  CHECK(strstr(err.msg, "/nonexistent-dir/x.parquet") != NULL);
  CHECK(strstr(err.msg, strerror(ENOENT)) != NULL);
  CHECK_EQ_I64(st_file_open("/tmp", &f, &err), ST_ERR_IO);
  CHECK(strstr(err.msg, "/tmp") != NULL && strstr(err.msg, strerror(EISDIR)) != NULL);
  st_file_close(NULL);
}

static void check_reads(const char *path, size_t n, int no_mmap) {
  set_no_mmap(no_mmap);
  st_error err = {0};
  st_file *f = NULL;
  int rc = st_file_open(path, &f, &err);
  set_no_mmap(0);
  CHECK_OK(rc, &err);
  CHECK_EQ_I64(st_file_size(f), n);
  CHECK(!strcmp(st_file_path(f), path));
  static const uint64_t offs[] = {0, 1, 4095, 4096, 65537};
  static const size_t lens[] = {0, 1, 7, 4096, 100000};
  st_mem *keep = NULL;
  const uint8_t *keep_ptr = NULL;
  for (size_t a = 0; a < 5; a++)
    for (size_t b = 0; b < 5; b++) {
      uint64_t off = offs[a];
      size_t len = lens[b];
      if (off + len > n) continue;
      st_mem *m = NULL;
      const uint8_t *p = NULL;
      CHECK_OK(st_file_read(f, off, len, &m, &p, &err), &err);
      CHECK(m != NULL && p != NULL);
      for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(off + i)) {
          fprintf(stderr, "mismatch at %llu (no_mmap=%d)\n", (unsigned long long)(off + i),
                  no_mmap);
          CHECK(0);
        }
      if (!keep && len == 100000) {
        keep = m;
        keep_ptr = p;
      } else {
        st_mem_unref(m);
      }
    }
  /* mmap reads share the mapping's st_mem; pread reads get their own block. */
  st_mem *m = NULL, *m2 = NULL;
  const uint8_t *p = NULL;
  CHECK_OK(st_file_read(f, 1, 1, &m, &p, &err), &err);
  CHECK_OK(st_file_read(f, 1, 1, &m2, &p, &err), &err);
  int shared = m == m2;
  st_mem_unref(m);
  st_mem_unref(m2);
  CHECK_EQ_I64(shared, !no_mmap);
  /* Whole file, and the exact end. */
  CHECK_OK(st_file_read(f, 0, n, &m, &p, &err), &err);
  CHECK(p[n - 1] == pattern(n - 1));
  st_mem_unref(m);
  CHECK_OK(st_file_read(f, n, 0, &m, &p, &err), &err);
  st_mem_unref(m);
  /* Past the end: exact message. */
  CHECK_EQ_I64(st_file_read(f, n - 10, 11, &m, &p, &err), ST_ERR_CORRUPT);
  CHECK(m == NULL && p == NULL);
  char want[200];
  snprintf(want, sizeof want, "read past end of file (offset %zu, length 11, file size %zu)",
           n - 10, n);
  CHECK(!strcmp(err.msg, want));
  CHECK_EQ_I64(st_file_read(f, n + 1, 0, &m, &p, &err), ST_ERR_CORRUPT);
  CHECK_EQ_I64(st_file_read(f, UINT64_MAX, 2, &m, &p, &err), ST_ERR_CORRUPT);
  CHECK_EQ_I64(st_file_read(f, 5, SIZE_MAX, &m, &p, &err), ST_ERR_CORRUPT);
  /* A read stays valid after close until its last reference goes. */
  st_file_close(f);
  CHECK(keep != NULL);
  int ok = 1;
  for (size_t i = 0; i < 100000; i++) ok &= keep_ptr[i] == pattern(0 + i);
  st_mem_unref(keep);
  CHECK(ok);
}

TEST(io_read_mmap_and_pread) {
  const char *dir = tmpdir();
  CHECK(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/data.bin", dir);
  size_t n = 300001;
  CHECK(write_plain(path, n) == 0);
  check_reads(path, n, 0);
  int failed = st_test_failed;
  if (!failed) check_reads(path, n, 1);
  rmdir_all(dir);
}

TEST(io_empty_file_memory_and_pipe) {
  const char *dir = tmpdir();
  CHECK(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/empty", dir);
  CHECK(write_plain(path, 0) == 0);
  st_error err = {0};
  st_file *f = NULL;
  st_mem *m = NULL;
  const uint8_t *p = NULL;
  int rc = st_file_open(path, &f, &err);
  rmdir_all(dir);
  CHECK_OK(rc, &err);
  CHECK_EQ_I64(st_file_size(f), 0);
  CHECK_OK(st_file_read(f, 0, 0, &m, &p, &err), &err);
  st_mem_unref(m);
  CHECK_EQ_I64(st_file_read(f, 0, 1, &m, &p, &err), ST_ERR_CORRUPT);
  st_file_close(f);

  static const char text[] = "PAR1 hello PAR1";
  CHECK_OK(st_file_open_memory(text, sizeof text - 1, "mem.parquet", &f, &err), &err);
  CHECK(!strcmp(st_file_path(f), "mem.parquet"));
  CHECK_EQ_I64(st_file_size(f), sizeof text - 1);
  CHECK_OK(st_file_read(f, 5, 5, &m, &p, &err), &err);
  CHECK(p == (const uint8_t *)text + 5);   /* zero copy */
  st_file_close(f);
  CHECK(!memcmp(p, "hello", 5));           /* still valid after close */
  st_mem_unref(m);
  CHECK_OK(st_file_open_memory(NULL, 0, NULL, &f, &err), &err);
  CHECK_EQ_I64(st_file_size(f), 0);
  st_file_close(f);

  /* A pipe has no random access: it is read whole at open. */
  int fds[2];
  CHECK(pipe(fds) == 0);
  CHECK(write(fds[1], text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
  close(fds[1]);
  char ppath[64];
  snprintf(ppath, sizeof ppath, "/proc/self/fd/%d", fds[0]);
  rc = st_file_open(ppath, &f, &err);
  close(fds[0]);
  CHECK_OK(rc, &err);
  CHECK_EQ_I64(st_file_size(f), sizeof text - 1);
  CHECK_OK(st_file_read(f, 11, 4, &m, &p, &err), &err);
  CHECK(!memcmp(p, "PAR1", 4));
  st_mem_unref(m);
  st_file_close(f);
}

struct reader_arg {
  st_file *f;
  size_t n;
  uint32_t seed;
  int bad;
};

static void *reader_main(void *argp) {
  struct reader_arg *a = argp;
  uint32_t x = a->seed;
  for (int it = 0; it < 2000; it++) {
    x = x * 1664525u + 1013904223u;
    uint64_t off = (x >> 4) % a->n;
    x = x * 1664525u + 1013904223u;
    size_t len = (x >> 8) % 5000;
    if (off + len > a->n) len = a->n - off;
    st_mem *m;
    const uint8_t *p;
    st_error err = {0};
    if (st_file_read(a->f, off, len, &m, &p, &err)) {
      a->bad++;
      continue;
    }
    for (size_t i = 0; i < len; i++)
      if (p[i] != pattern(off + i)) {
        a->bad++;
        break;
      }
    st_mem_unref(m);
  }
  return NULL;
}

TEST(io_concurrent_reads) {
  const char *dir = tmpdir();
  CHECK(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/data.bin", dir);
  size_t n = 1 << 18;
  CHECK(write_plain(path, n) == 0);
  for (int mode = 0; mode < 2; mode++) {
    st_error err = {0};
    st_file *f = NULL;
    set_no_mmap(mode);
    int rc = st_file_open(path, &f, &err);
    set_no_mmap(0);
    CHECK_OK(rc, &err);
    pthread_t th[4];
    struct reader_arg args[4];
    for (int t = 0; t < 4; t++) {
      args[t] = (struct reader_arg){f, n, (uint32_t)(t * 7919 + 1), 0};
      pthread_create(&th[t], NULL, reader_main, &args[t]);
    }
    int bad = 0;
    for (int t = 0; t < 4; t++) {
      pthread_join(th[t], NULL);
      bad += args[t].bad;
    }
    st_file_close(f);
    CHECK_EQ_I64(bad, 0);
  }
  rmdir_all(dir);
}

TEST(io_outfile_commit) {
  const char *dir = tmpdir();
  CHECK(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/out.parquet", dir);
  CHECK(write_plain(path, 10) == 0);   /* an older file to be replaced */
  st_error err = {0};
  st_outfile *o = NULL;
  CHECK_OK(st_outfile_open(path, &o, &err), &err);
  /* Mixed sizes: tiny writes, one spanning the 1 MiB buffer, one larger than it. */
  size_t total = 3u << 20, pos = 0;
  uint8_t *src = malloc(total);
  for (size_t i = 0; i < total; i++) src[i] = pattern(i);
  static const size_t chunks[] = {0, 1, 5, 1000, (1u << 20) - 3, 7, (1u << 20) + 11, 4096};
  for (size_t c = 0; pos < total; c++) {
    size_t k = chunks[c % 8];
    if (k > total - pos) k = total - pos;
    if (st_outfile_write(o, src + pos, k, &err)) break;
    pos += k;
    if (st_outfile_tell(o) != pos) break;
  }
  int wrote_all = pos == total;
  /* Before commit the final path still holds the old file; a temp sits beside it. */
  size_t old_n = 0;
  uint8_t *old = slurp_stdio(path, &old_n);
  int entries = count_entries(dir);
  int rc = st_outfile_commit(o, &err);
  size_t got_n = 0;
  uint8_t *got = slurp_stdio(path, &got_n);
  int same = got && got_n == total && !memcmp(got, src, total);
  int entries_after = count_entries(dir);
  free(got);
  free(old);
  free(src);
  rmdir_all(dir);
  CHECK(wrote_all);
  CHECK_EQ_I64(old_n, 10);
  CHECK_EQ_I64(entries, 2);
  CHECK_OK(rc, &err);
  CHECK(same);
  CHECK_EQ_I64(entries_after, 1);
}

TEST(io_outfile_abort_and_errors) {
  const char *dir = tmpdir();
  CHECK(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/x.parquet", dir);
  st_error err = {0};
  st_outfile *o = NULL, *o2 = NULL;
  CHECK_OK(st_outfile_open(path, &o, &err), &err);
  CHECK_OK(st_outfile_open(path, &o2, &err), &err);   /* distinct temp names */
  CHECK_OK(st_outfile_write(o, "abc", 3, &err), &err);
  /* The temp file is named "<path>.tmp-<pid>-<n>". */
  char prefix[160];
  snprintf(prefix, sizeof prefix, "x.parquet.tmp-%ld-", (long)getpid());
  DIR *d = opendir(dir);
  int n_tmp = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, prefix, strlen(prefix))) n_tmp++;
  if (d) closedir(d);
  st_outfile_abort(o);
  st_outfile_abort(o2);
  st_outfile_abort(NULL);
  int left = count_entries(dir);
  struct stat st;
  int exists = stat(path, &st) == 0;
  rmdir_all(dir);
  CHECK_EQ_I64(n_tmp, 2);
  CHECK_EQ_I64(left, 0);
  CHECK(!exists);
  /* Missing directory: an I/O error naming the path. */
  CHECK_EQ_I64(st_outfile_open("/nonexistent-dir/y.parquet", &o, &err), ST_ERR_IO);
  CHECK(o == NULL);
  CHECK(strstr(err.msg, "/nonexistent-dir/y.parquet") != NULL);
  CHECK(strstr(err.msg, strerror(ENOENT)) != NULL);
}

TEST(io_outfile_write_error_removes_temp) {
  /* A file-size limit makes write(2) fail with EFBIG (SIGXFSZ ignored). */
  const char *dir = tmpdir();
  CHECK(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/z.parquet", dir);
  st_error err = {0};
  st_outfile *o = NULL;
  CHECK_OK(st_outfile_open(path, &o, &err), &err);
  struct rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  struct rlimit lim = old;
  lim.rlim_cur = 4096;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &lim);
  static uint8_t big[(1u << 20) + 100];
  int rc1 = st_outfile_write(o, big, sizeof big, &err);
  int entries = count_entries(dir);
  int rc2 = st_outfile_write(o, "x", 1, &err);   /* failed state persists */
  int rc3 = st_outfile_commit(o, &err);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  struct stat st;
  int exists = stat(path, &st) == 0;
  rmdir_all(dir);
  CHECK_EQ_I64(rc1, ST_ERR_IO);
  CHECK_EQ_I64(entries, 0);
  CHECK_EQ_I64(rc2, ST_ERR_IO);
  CHECK_EQ_I64(rc3, ST_ERR_IO);
  CHECK(strstr(err.msg, strerror(EFBIG)) != NULL);
  CHECK(!exists);
}
