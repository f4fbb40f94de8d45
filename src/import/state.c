/*
** This file implements the state directory of the import pipeline: the
** per-file histograms of the mapping stage, so that a resumed run (--resume)
** does not read those files again.
**
** Layout: STATE/map/F.hist for input file number F (its position in the
** input list), written to F.hist.tmp and renamed (a file present is
** complete).  Content, little-endian:
**   "STHIST02"  magic (8 bytes)
**   int32       order of the histogram
**   int32       1 if byte sizes follow each count (--byte-threshold), else 0
**   int32       length L of the input path, then L bytes of the path
**   int64       n, then n (pixel, count[, bytes]) int64 records, pixels
**               ascending
**   int64       sum of the counts (check)
** A file whose path, order, byte flag or check does not match is ignored
** (the input is mapped again).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/pipeline.h"

static int hist_path(char *out, size_t cap, const char *state_dir, int file, const char *suffix,
                     st_error *err) {
  int k = snprintf(out, cap, "%s/map/%d.hist%s", state_dir, file, suffix);
  ST_CHECK(k > 0 && (size_t)k < cap, err, ST_ERR_INVALID, "state path too long");
  return 0;
}

int st_imp_state_save_hist(const char *state_dir, int file, const char *path, int order,
                           const int64_t *pix, const int64_t *cnt, const int64_t *bytes, int64_t n,
                           st_error *err) {
  char dir[4096], tmp[4096], fin[4096];
  int k = snprintf(dir, sizeof dir, "%s/map", state_dir);
  ST_CHECK(k > 0 && (size_t)k < sizeof dir, err, ST_ERR_INVALID, "state path too long");
  if (mkdir(dir, 0777) && errno != EEXIST)
    return st_fail(err, ST_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  ST_TRY(hist_path(tmp, sizeof tmp, state_dir, file, ".tmp", err));
  ST_TRY(hist_path(fin, sizeof fin, state_dir, file, "", err));
  FILE *f = fopen(tmp, "wb");
  if (!f) return st_fail(err, ST_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  int32_t ord = order, len = (int32_t)strlen(path), hb = bytes != NULL;
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) sum += cnt[i];
  int ok = fwrite("STHIST02", 1, 8, f) == 8 && fwrite(&ord, 4, 1, f) == 1 &&
           fwrite(&hb, 4, 1, f) == 1 && fwrite(&len, 4, 1, f) == 1 &&
           fwrite(path, 1, (size_t)len, f) == (size_t)len && fwrite(&n, 8, 1, f) == 1;
  for (int64_t i = 0; ok && i < n; i++)
    ok = fwrite(&pix[i], 8, 1, f) == 1 && fwrite(&cnt[i], 8, 1, f) == 1 &&
         (!hb || fwrite(&bytes[i], 8, 1, f) == 1);
  ok = ok && fwrite(&sum, 8, 1, f) == 1;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, fin)) {
    remove(tmp);
    return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", fin, strerror(errno));
  }
  return 0;
}

int st_imp_state_load_hist(const char *state_dir, int file, const char *path, int order,
                           int64_t *hist, int64_t *bytes_hist, int64_t npix, int *found,
                           st_error *err) {
  char fin[4096];
  *found = 0;
  ST_TRY(hist_path(fin, sizeof fin, state_dir, file, "", err));
  FILE *f = fopen(fin, "rb");
  if (!f) return 0;
  char magic[8];
  int32_t ord = -1, len = -1, hb = -1, want = bytes_hist != NULL;
  int64_t n = -1, sum = 0, check = -1, w = want ? 3 : 2;
  size_t plen = strlen(path);
  char *buf = NULL;
  int64_t *rec = NULL;
  int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "STHIST02", 8) &&
           fread(&ord, 4, 1, f) == 1 && ord == order && fread(&hb, 4, 1, f) == 1 && hb == want &&
           fread(&len, 4, 1, f) == 1 && len == (int32_t)plen;
  if (ok) {
    buf = malloc(plen + 1);
    ok = buf && fread(buf, 1, plen, f) == plen && !memcmp(buf, path, plen);
  }
  ok = ok && fread(&n, 8, 1, f) == 1 && n >= 0 && n <= npix;
  if (ok) {
    rec = malloc((size_t)(n ? n : 1) * (size_t)w * 8);
    ok = rec && fread(rec, (size_t)w * 8, (size_t)n, f) == (size_t)n && fread(&check, 8, 1, f) == 1;
  }
  for (int64_t i = 0; ok && i < n; i++) {
    const int64_t *r = rec + w * i;
    ok = r[0] >= 0 && r[0] < npix && r[1] >= 0 && (!want || r[2] >= 0);
    sum += ok ? r[1] : 0;
  }
  ok = ok && sum == check;
  for (int64_t i = 0; ok && i < n; i++) {
    hist[rec[w * i]] += rec[w * i + 1];
    if (want) bytes_hist[rec[w * i]] += rec[w * i + 2];
  }
  fclose(f);
  free(buf);
  free(rec);
  *found = ok;
  return 0;
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
