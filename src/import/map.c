/*
** This file implements the mapping stage of the import pipeline: each
** input file is read (ra/dec only matter) and its rows are counted per
** HEALPix pixel at highest_order, as hats-import's map_to_pixels does.
**
** A worker keeps the histogram of the file it reads as a sparse list
** (pixels ascending, counts), merging each batch's sorted pixels into it,
** so memory is O(batch + non-empty pixels of the file).  When the file is
** done its list is saved in the state directory (state.c) and added to the
** dense catalog histogram under the lock.  With --resume, a file whose
** saved list is present is not read.
*/
#include <stdlib.h>
#include <string.h>

#include "import/pipeline.h"
#include "skytile/healpix.h"

typedef struct sparse {
  int64_t *pix, *cnt;
  int64_t n, cap;
} sparse;

/* Merge sorted batch pixels p[0..m) into s. */
static int sparse_merge(sparse *s, const uint64_t *p, int64_t m, st_error *err) {
  /* run-length the batch first */
  int64_t k = 0;
  int64_t *bp = malloc((size_t)(m ? m : 1) * 8), *bc = malloc((size_t)(m ? m : 1) * 8);
  if (!bp || !bc) {
    free(bp);
    free(bc);
    return st_fail(err, ST_ERR_NOMEM, "map: out of memory");
  }
  for (int64_t i = 0; i < m; i++) {
    if (k && bp[k - 1] == (int64_t)p[i]) bc[k - 1]++;
    else bp[k] = (int64_t)p[i], bc[k++] = 1;
  }
  int64_t cap = s->n + k;
  int64_t *np = malloc((size_t)(cap ? cap : 1) * 8), *nc = malloc((size_t)(cap ? cap : 1) * 8);
  if (!np || !nc) {
    free(np);
    free(nc);
    free(bp);
    free(bc);
    return st_fail(err, ST_ERR_NOMEM, "map: out of memory");
  }
  int64_t i = 0, j = 0, o = 0;
  while (i < s->n || j < k) {
    if (j >= k || (i < s->n && s->pix[i] < bp[j])) np[o] = s->pix[i], nc[o++] = s->cnt[i++];
    else if (i >= s->n || bp[j] < s->pix[i]) np[o] = bp[j], nc[o++] = bc[j++];
    else np[o] = s->pix[i], nc[o++] = s->cnt[i++] + bc[j++];
  }
  free(s->pix);
  free(s->cnt);
  free(bp);
  free(bc);
  s->pix = np, s->cnt = nc, s->n = o, s->cap = cap;
  return 0;
}

static int map_file(st_imp_ctx *c, int f, st_error *err) {
  const char *path = c->o->inputs[f];
  int order = c->o->highest_order, found = 0, rc;
  pthread_mutex_lock(&c->lock);
  rc = c->o->resume ? st_imp_state_load_hist(c->state_dir, f, path, order, c->hist, c->hist_npix,
                                             &found, err)
                    : 0;
  pthread_mutex_unlock(&c->lock);
  if (rc || found) return rc;
  st_input *in = NULL;
  st_table *t = NULL;
  sparse s = {0};
  double *ra = NULL, *dec = NULL;
  uint64_t *pix = NULL, *tmp = NULL;
  int64_t cap = 0;
  ST_TRY(st_input_open(path, &c->in_opt, &in, err));
  for (;;) {
    rc = st_input_next(in, &t, err);
    if (rc || !t) break;
    int64_t n = t->n_rows;
    if (n > cap) {
      free(ra), free(dec), free(pix), free(tmp);
      cap = n;
      ra = malloc((size_t)n * 8), dec = malloc((size_t)n * 8);
      pix = malloc((size_t)n * 8), tmp = malloc((size_t)n * 8);
      if (!ra || !dec || !pix || !tmp) {
        rc = st_fail(err, ST_ERR_NOMEM, "map: out of memory for %lld rows", (long long)n);
        break;
      }
    }
    rc = st_imp_coords(t, c->ra_idx, c->dec_idx, ra, dec, err);
    if (!rc) rc = st_hpx_ang2pix_batch(order, ra, dec, n, (int64_t *)pix, err);
    if (rc) {
      st_error_prefix(err, "%s: rows %lld..: ", path, (long long)(st_input_rows_read(in) - n));
      break;
    }
    st_imp_radix_sort(pix, NULL, n, (uint64_t)c->hist_npix - 1, tmp, NULL);
    rc = sparse_merge(&s, pix, n, err);
    st_table_free(t);
    t = NULL;
    if (rc) break;
  }
  st_table_free(t);
  st_input_close(in);
  free(ra), free(dec), free(pix), free(tmp);
  if (!rc) rc = st_imp_state_save_hist(c->state_dir, f, path, order, s.pix, s.cnt, s.n, err);
  if (!rc) {
    pthread_mutex_lock(&c->lock);
    for (int64_t i = 0; i < s.n; i++) c->hist[s.pix[i]] += s.cnt[i];
    pthread_mutex_unlock(&c->lock);
  }
  free(s.pix);
  free(s.cnt);
  return rc;
}

typedef struct map_job {
  int next;   /* next file (atomic) */
} map_job;

static int map_worker(st_imp_ctx *c, int worker, void *arg, st_error *err) {
  map_job *j = arg;
  for (;;) {
    int f = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (f >= c->o->n_inputs) return 0;
    st_error e = {0};
    if (c->failed[f]) {
      st_imp_progress(c, "Mapping", 1, c->o->n_inputs);
      continue;
    }
    if (map_file(c, f, &e)) c->failed[f] = 1, st_imp_file_failed(c, f, &e);
    st_imp_progress(c, "Mapping", 1, c->o->n_inputs);
  }
}

int st_imp_map(st_imp_ctx *c, st_error *err) {
  map_job j = {0};
  return st_imp_parallel(c, map_worker, &j, err);
}
