/*
** This file implements the vectorised ang2pix used by the import hot path
** (st_hpx_ang2pix_batch).  Its results are bit-identical to the scalar
** st_hpx_ang2pix_exact (and so to healpy); only the way z = cos(theta) is
** obtained differs.
**
** Paths, chosen once at run time (SKYTILE_HPX_ISA=scalar|avx2 forces a
** lesser one, for tests and benchmarks): AVX-512 F+DQ (8 points per step),
** AVX2+FMA (4 points per step), portable scalar (st_hpx_ang2pix_exact per
** point).  The two vector paths run the same algorithm:
**  1. Validate the block of points with two compares (|dec| <= 90, |ra| < inf); a
**     block with a bad point is redone in scalar code, which reports it.
**  2. theta = pi/2 - dec*(pi/180) exactly as the scalar code.  Then
**     r = pi/2 - theta is exact (Sterbenz), and cos(theta) = sin(r + d)
**     with d = pi/2 - fl(pi/2) = 6.12e-17.  sin is a degree-21 Taylor
**     polynomial (truncation < 2e-18 on |u| <= pi/2, Horner with FMA); its
**     result zq is within ~5e-16 of the true cosine and so of glibc's cos
**     (which is within 1 ulp).
**  3. Bracketing: every later step (t2 = nside*(z*0.75), t1 -/+ t2, sqrt,
**     products, trunc) is a monotone function of z, and the branch
**     |z| <= 2/3 too.  So the edge indices (jp, jm) and branch are evaluated
**     for z_lo = zq - EPS and z_hi = zq + EPS (EPS = 2e-15 covers both
**     errors).  When they agree, they equal those of the exact cos(theta):
**     the lane is final.  Lanes that disagree (a point within ~1e-6 pixel
**     widths of an edge line at order 29: a few per million) and lanes in
**     the have_sth caps (theta < 0.01 or > pi - 0.01) are recomputed by the
**     exact scalar code.
**  4. RA outside [0, 360): healpy first reduces phi modulo 2 pi (fmodulo);
**     wrap_phi replicates that exactly with an FMA (see there).
**  5. Face, x, y and the bit interleave are done with 64-bit integer lanes
**     (magic-number spreading, no pdep).
** Apart from the polynomial and wrap_phi, no FMA is used: every other
** product and sum is rounded as in the scalar code.
** The tail (n mod 8 or n mod 4) goes through the scalar code.
*/
/* Bit-identity with healpy needs every product and sum rounded on its own,
** whatever -std/-ffp-contract the build uses. */
#pragma GCC optimize("fp-contract=off")

#include "healpix/hpx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HPX_HAVE_AVX2 1
#include <immintrin.h>
#endif

#define HPX_PI 3.141592653589793238462643383279502884197
#define HPX_HALFPI (HPX_PI / 2.0)
#define HPX_TWOPI 6.283185307179586476925286766559005768394
#define HPX_D2R (HPX_PI / 180.0)
#define HPX_INV_HALFPI 0.6366197723675813430755350534900574
#define HPX_HALFPI_LO 6.123233995736766035868820147291818e-17 /* pi/2 - fl(pi/2) */
#define HPX_Z_EPS 2e-15

/* Report the first bad point of ra/dec[from, to) through the scalar check. */
static int report_bad(const double *ra, const double *dec, int64_t from, int64_t to,
                      st_error *err) {
  for (int64_t i = from; i < to; i++) {
    int rc = st_hpx_check_point(ra[i], dec[i], err);
    if (rc) {
      st_error_prefix(err, "point %lld: ", (long long)i);
      return rc;
    }
  }
  return 0;
}

static int batch_scalar(int order, const double *ra, const double *dec, int64_t from, int64_t to,
                        int64_t *out, st_error *err) {
  for (int64_t i = from; i < to; i++) {
    if (ST_UNLIKELY(!(dec[i] >= -90.0 && dec[i] <= 90.0 && isfinite(ra[i]))))
      return report_bad(ra, dec, i, i + 1, err);
    out[i] = st_hpx_ang2pix_exact(order, ra[i], dec[i]);
  }
  return 0;
}

#ifdef HPX_HAVE_AVX2

#define AVX2 __attribute__((target("avx2,fma")))

/* Integer-valued doubles in [0, 2^52) -> int64 lanes. */
AVX2 static inline __m256i d2i(__m256d x) {
  const __m256d magic = _mm256_set1_pd(4503599627370496.0);
  return _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(x, magic)),
                          _mm256_castpd_si256(magic));
}

AVX2 static inline __m256i spread4(__m256i v) {
  v = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 16)),
                       _mm256_set1_epi64x(0x0000FFFF0000FFFFll));
  v = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 8)),
                       _mm256_set1_epi64x(0x00FF00FF00FF00FFll));
  v = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 4)),
                       _mm256_set1_epi64x(0x0F0F0F0F0F0F0F0Fll));
  v = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 2)),
                       _mm256_set1_epi64x(0x3333333333333333ll));
  v = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 1)),
                       _mm256_set1_epi64x(0x5555555555555555ll));
  return v;
}

/* Edge-line indices (as integer-valued doubles) for a given z; eq is the
** equatorial-branch mask.  Mirrors st_hpx_loc2nest exactly. */
AVX2 static inline void edges(__m256d z, __m256d tt, __m256d tp, __m256d ns, __m256d nsm1,
                              __m256d *jp, __m256d *jm, __m256d *eq) {
  const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
  __m256d za = _mm256_and_pd(z, absmask);
  *eq = _mm256_cmp_pd(za, _mm256_set1_pd(2.0 / 3.0), _CMP_LE_OQ);
  __m256d t1 = _mm256_mul_pd(ns, _mm256_add_pd(_mm256_set1_pd(0.5), tt));
  __m256d t2 = _mm256_mul_pd(ns, _mm256_mul_pd(z, _mm256_set1_pd(0.75)));
  __m256d a = _mm256_round_pd(_mm256_sub_pd(t1, t2), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256d b = _mm256_round_pd(_mm256_add_pd(t1, t2), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256d tmp = _mm256_mul_pd(
      ns, _mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(3.0),
                                       _mm256_sub_pd(_mm256_set1_pd(1.0), za))));
  __m256d pa = _mm256_round_pd(_mm256_mul_pd(tp, tmp), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256d pb = _mm256_round_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), tp), tmp),
                               _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  pa = _mm256_min_pd(pa, nsm1);
  pb = _mm256_min_pd(pb, nsm1);
  *jp = _mm256_blendv_pd(pa, a, *eq);
  *jm = _mm256_blendv_pd(pb, b, *eq);
}

/* fmodulo(phi, 2pi) on the lanes in `wrap`.  fmod's exact result is
** phi - n 2pi for n = trunc(phi / 2pi); with a correct n, fma(-n, 2pi, phi)
** is exactly that (the result is representable).  A quotient off by one
** (phi near a multiple of 2pi) leaves the remainder out of range: such
** lanes are marked special and redone by the scalar code.  Negative phi
** then follows fmodulo: r + 2pi, or 0 when that rounds to 2pi. */
AVX2 static inline __m256d wrap_phi(__m256d phi, __m256d wrap, __m256d *special) {
  const __m256d twopi = _mm256_set1_pd(HPX_TWOPI), zero = _mm256_setzero_pd();
  __m256d n = _mm256_round_pd(_mm256_mul_pd(phi, _mm256_set1_pd(1.0 / HPX_TWOPI)),
                              _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, twopi, phi);
  __m256d neg = _mm256_cmp_pd(phi, zero, _CMP_LT_OQ);
  /* phi >= 0: need 0 <= r < 2pi;  phi < 0: need -2pi < r <= 0 */
  __m256d ok_pos = _mm256_and_pd(_mm256_cmp_pd(r, zero, _CMP_GE_OQ),
                                 _mm256_cmp_pd(r, twopi, _CMP_LT_OQ));
  __m256d ok_neg = _mm256_and_pd(_mm256_cmp_pd(r, zero, _CMP_LE_OQ),
                                 _mm256_cmp_pd(r, _mm256_sub_pd(zero, twopi), _CMP_GT_OQ));
  __m256d ok = _mm256_blendv_pd(ok_pos, ok_neg, neg);
  *special = _mm256_or_pd(*special, _mm256_andnot_pd(ok, wrap));
  __m256d rn = _mm256_add_pd(r, twopi);
  rn = _mm256_andnot_pd(_mm256_cmp_pd(rn, twopi, _CMP_EQ_OQ), rn);
  __m256d res = _mm256_blendv_pd(r, rn, neg);
  return _mm256_blendv_pd(phi, res, wrap);
}

/* AVX2 path: processes [0, n4) with n4 a multiple of 4. 0 or an error. */
AVX2 static int batch_avx2(int order, const double *ra, const double *dec, int64_t n4,
                           int64_t *out, st_error *err) {
  const int64_t nside = INT64_C(1) << order;
  const __m256d ns = _mm256_set1_pd((double)nside), nsm1 = _mm256_set1_pd((double)(nside - 1));
  const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
  const __m256d c90 = _mm256_set1_pd(90.0), cinf = _mm256_set1_pd(INFINITY);
  const __m256d halfpi = _mm256_set1_pd(HPX_HALFPI), halfpi_lo = _mm256_set1_pd(HPX_HALFPI_LO);
  const __m256d d2r = _mm256_set1_pd(HPX_D2R), invhp = _mm256_set1_pd(HPX_INV_HALFPI);
  const __m256d four = _mm256_set1_pd(4.0), zero = _mm256_setzero_pd();
  const __m256d eps = _mm256_set1_pd(HPX_Z_EPS), one = _mm256_set1_pd(1.0);
  const __m256d mone = _mm256_set1_pd(-1.0), twopi = _mm256_set1_pd(HPX_TWOPI);
  const __m256d th_lo = _mm256_set1_pd(0.01), th_hi = _mm256_set1_pd(3.14159 - 0.01);
  const __m256i imask = _mm256_set1_epi64x(nside - 1), insm1 = _mm256_set1_epi64x(nside - 1);
  const __m128i sh_order = _mm_cvtsi32_si128(order), sh_face = _mm_cvtsi32_si128(2 * order);
  const __m256i i4 = _mm256_set1_epi64x(4), i8 = _mm256_set1_epi64x(8);
  /* Taylor coefficients of sin: (-1)^k / (2k+1)!, k = 1..10. */
  const double c3 = -1.0 / 6.0, c5 = 1.0 / 120.0, c7 = -1.0 / 5040.0, c9 = 1.0 / 362880.0,
               c11 = -1.0 / 39916800.0, c13 = 1.0 / 6227020800.0, c15 = -1.0 / 1307674368000.0,
               c17 = 1.0 / 355687428096000.0, c19 = -1.0 / 121645100408832000.0,
               c21 = 1.0 / 51090942171709440000.0;

  for (int64_t i = 0; i < n4; i += 4) {
    __m256d vra = _mm256_loadu_pd(ra + i), vdec = _mm256_loadu_pd(dec + i);
    __m256d ok = _mm256_and_pd(_mm256_cmp_pd(_mm256_and_pd(vdec, absmask), c90, _CMP_LE_OQ),
                               _mm256_cmp_pd(_mm256_and_pd(vra, absmask), cinf, _CMP_LT_OQ));
    if (ST_UNLIKELY(_mm256_movemask_pd(ok) != 0xF)) return report_bad(ra, dec, i, i + 4, err);

    /* z ~ cos(theta) */
    __m256d theta = _mm256_sub_pd(halfpi, _mm256_mul_pd(vdec, d2r));
    __m256d u = _mm256_add_pd(_mm256_sub_pd(halfpi, theta), halfpi_lo);
    __m256d u2 = _mm256_mul_pd(u, u);
    /* Horner with FMA: only its error bound matters (bracketed below) */
    __m256d p = _mm256_set1_pd(c21);
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c19));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c17));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c15));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c13));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c11));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c9));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c7));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c5));
    p = _mm256_fmadd_pd(p, u2, _mm256_set1_pd(c3));
    __m256d z = _mm256_fmadd_pd(_mm256_mul_pd(u, u2), p, u);
    __m256d zlo = _mm256_max_pd(_mm256_sub_pd(z, eps), mone);
    __m256d zhi = _mm256_min_pd(_mm256_add_pd(z, eps), one);
    __m256d special = _mm256_or_pd(_mm256_cmp_pd(theta, th_lo, _CMP_LT_OQ),
                                   _mm256_cmp_pd(theta, th_hi, _CMP_GT_OQ));

    /* phi = fmodulo(ra * pi/180, 2pi) as healpy (rare: RA outside [0, 360)) */
    __m256d phi = _mm256_mul_pd(vra, d2r);
    __m256d wrap = _mm256_or_pd(_mm256_cmp_pd(phi, zero, _CMP_LT_OQ),
                                _mm256_cmp_pd(phi, twopi, _CMP_GE_OQ));
    if (ST_UNLIKELY(_mm256_movemask_pd(wrap))) {
      phi = wrap_phi(phi, wrap, &special);
    }
    /* tt = fmodulo(phi * 2/pi, 4) */
    __m256d t = _mm256_mul_pd(phi, invhp);
    __m256d q = _mm256_round_pd(_mm256_mul_pd(t, _mm256_set1_pd(0.25)),
                                _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256d fm = _mm256_sub_pd(t, _mm256_mul_pd(q, four));
    __m256d fneg = _mm256_add_pd(fm, four);
    fneg = _mm256_andnot_pd(_mm256_cmp_pd(fneg, four, _CMP_EQ_OQ), fneg);
    __m256d tt = _mm256_blendv_pd(fm, fneg, _mm256_cmp_pd(t, zero, _CMP_LT_OQ));
    __m256d ntt = _mm256_min_pd(_mm256_floor_pd(tt), _mm256_set1_pd(3.0));
    __m256d tp = _mm256_sub_pd(tt, ntt);

    __m256d jp_lo, jm_lo, eq_lo, jp_hi, jm_hi, eq_hi;
    edges(zlo, tt, tp, ns, nsm1, &jp_lo, &jm_lo, &eq_lo);
    edges(zhi, tt, tp, ns, nsm1, &jp_hi, &jm_hi, &eq_hi);
    __m256d same = _mm256_and_pd(_mm256_cmp_pd(jp_lo, jp_hi, _CMP_EQ_OQ),
                                 _mm256_cmp_pd(jm_lo, jm_hi, _CMP_EQ_OQ));
    /* branch masks are all-ones/zero bit patterns: compare them as integers */
    same = _mm256_and_pd(same, _mm256_castsi256_pd(_mm256_cmpeq_epi64(
                                   _mm256_castpd_si256(eq_lo), _mm256_castpd_si256(eq_hi))));
    same = _mm256_andnot_pd(special, same);

    /* integer part */
    __m256i jp = d2i(jp_lo), jm = d2i(jm_lo), it = d2i(ntt);
    __m256i eq = _mm256_castpd_si256(eq_lo);
    __m256i ifp = _mm256_srl_epi64(jp, sh_order), ifm = _mm256_srl_epi64(jm, sh_order);
    __m256i f_same = _mm256_or_si256(ifp, i4);
    __m256i f_diff = _mm256_blendv_epi8(_mm256_add_epi64(ifm, i8), ifp,
                                        _mm256_cmpgt_epi64(ifm, ifp));
    __m256i face_eq = _mm256_blendv_epi8(f_diff, f_same, _mm256_cmpeq_epi64(ifp, ifm));
    __m256i x_eq = _mm256_and_si256(jm, imask);
    __m256i y_eq = _mm256_sub_epi64(insm1, _mm256_and_si256(jp, imask));
    __m256i north = _mm256_castpd_si256(_mm256_cmp_pd(z, zero, _CMP_GE_OQ));
    __m256i x_po = _mm256_blendv_epi8(jp, _mm256_sub_epi64(insm1, jm), north);
    __m256i y_po = _mm256_blendv_epi8(jm, _mm256_sub_epi64(insm1, jp), north);
    __m256i f_po = _mm256_blendv_epi8(_mm256_add_epi64(it, i8), it, north);
    __m256i x = _mm256_blendv_epi8(x_po, x_eq, eq);
    __m256i y = _mm256_blendv_epi8(y_po, y_eq, eq);
    __m256i face = _mm256_blendv_epi8(f_po, face_eq, eq);
    __m256i pix = _mm256_or_si256(_mm256_sll_epi64(face, sh_face),
                                  _mm256_or_si256(spread4(x), _mm256_slli_epi64(spread4(y), 1)));
    _mm256_storeu_si256((__m256i *)(out + i), pix);
    int m = _mm256_movemask_pd(same);
    if (ST_UNLIKELY(m != 0xF)) {
      for (int k = 0; k < 4; k++)
        if (!(m & (1 << k))) out[i + k] = st_hpx_ang2pix_exact(order, ra[i + k], dec[i + k]);
    }
  }
  return 0;
}
#endif

#ifdef HPX_HAVE_AVX2
/* ---- AVX-512 (F + DQ): the same algorithm, 8 points per step --------------- */

#define AVX512 __attribute__((target("avx512f,avx512dq,fma")))
#define TRUNC8(x) _mm512_roundscale_pd((x), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)

AVX512 static inline __m512i spread8(__m512i v) {
  v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi64(v, 16)),
                       _mm512_set1_epi64(0x0000FFFF0000FFFFll));
  v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi64(v, 8)),
                       _mm512_set1_epi64(0x00FF00FF00FF00FFll));
  v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi64(v, 4)),
                       _mm512_set1_epi64(0x0F0F0F0F0F0F0F0Fll));
  v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi64(v, 2)),
                       _mm512_set1_epi64(0x3333333333333333ll));
  v = _mm512_and_si512(_mm512_or_si512(v, _mm512_slli_epi64(v, 1)),
                       _mm512_set1_epi64(0x5555555555555555ll));
  return v;
}

AVX512 static inline void edges8(__m512d z, __m512d tt, __m512d tp, __m512d ns, __m512d nsm1,
                                 __m512d *jp, __m512d *jm, __mmask8 *eq) {
  __m512d za = _mm512_abs_pd(z);
  *eq = _mm512_cmp_pd_mask(za, _mm512_set1_pd(2.0 / 3.0), _CMP_LE_OQ);
  __m512d t1 = _mm512_mul_pd(ns, _mm512_add_pd(_mm512_set1_pd(0.5), tt));
  __m512d t2 = _mm512_mul_pd(ns, _mm512_mul_pd(z, _mm512_set1_pd(0.75)));
  __m512d a = TRUNC8(_mm512_sub_pd(t1, t2));
  __m512d b = TRUNC8(_mm512_add_pd(t1, t2));
  __m512d tmp = _mm512_mul_pd(
      ns, _mm512_sqrt_pd(_mm512_mul_pd(_mm512_set1_pd(3.0),
                                       _mm512_sub_pd(_mm512_set1_pd(1.0), za))));
  __m512d pa = _mm512_min_pd(TRUNC8(_mm512_mul_pd(tp, tmp)), nsm1);
  __m512d pb = _mm512_min_pd(TRUNC8(_mm512_mul_pd(_mm512_sub_pd(_mm512_set1_pd(1.0), tp), tmp)),
                             nsm1);
  *jp = _mm512_mask_blend_pd(*eq, pa, a);
  *jm = _mm512_mask_blend_pd(*eq, pb, b);
}

/* fmodulo(phi, 2pi) on the lanes of `wrap`, as wrap_phi. */
AVX512 static inline __m512d wrap_phi8(__m512d phi, __mmask8 wrap, __mmask8 *special) {
  const __m512d twopi = _mm512_set1_pd(HPX_TWOPI), zero = _mm512_setzero_pd();
  __m512d n = TRUNC8(_mm512_mul_pd(phi, _mm512_set1_pd(1.0 / HPX_TWOPI)));
  __m512d r = _mm512_fnmadd_pd(n, twopi, phi);
  __mmask8 neg = _mm512_cmp_pd_mask(phi, zero, _CMP_LT_OQ);
  __mmask8 ok_pos = _mm512_cmp_pd_mask(r, zero, _CMP_GE_OQ) & _mm512_cmp_pd_mask(r, twopi, _CMP_LT_OQ);
  __mmask8 ok_neg = _mm512_cmp_pd_mask(r, zero, _CMP_LE_OQ) &
                    _mm512_cmp_pd_mask(r, _mm512_sub_pd(zero, twopi), _CMP_GT_OQ);
  __mmask8 ok = (__mmask8)((ok_pos & ~neg) | (ok_neg & neg));
  *special |= (__mmask8)(wrap & ~ok);
  __m512d rn = _mm512_add_pd(r, twopi);
  rn = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(rn, twopi, _CMP_EQ_OQ), rn, zero);
  __m512d res = _mm512_mask_blend_pd(neg, r, rn);
  return _mm512_mask_blend_pd(wrap, phi, res);
}

/* Processes [0, n8) with n8 a multiple of 8; see batch_avx2. */
AVX512 static int batch_avx512(int order, const double *ra, const double *dec, int64_t n8,
                               int64_t *out, st_error *err) {
  const int64_t nside = INT64_C(1) << order;
  const __m512d ns = _mm512_set1_pd((double)nside), nsm1 = _mm512_set1_pd((double)(nside - 1));
  const __m512d c90 = _mm512_set1_pd(90.0), cinf = _mm512_set1_pd(INFINITY);
  const __m512d halfpi = _mm512_set1_pd(HPX_HALFPI), halfpi_lo = _mm512_set1_pd(HPX_HALFPI_LO);
  const __m512d d2r = _mm512_set1_pd(HPX_D2R), invhp = _mm512_set1_pd(HPX_INV_HALFPI);
  const __m512d four = _mm512_set1_pd(4.0), zero = _mm512_setzero_pd();
  const __m512d eps = _mm512_set1_pd(HPX_Z_EPS), one = _mm512_set1_pd(1.0);
  const __m512d mone = _mm512_set1_pd(-1.0), twopi = _mm512_set1_pd(HPX_TWOPI);
  const __m512d th_lo = _mm512_set1_pd(0.01), th_hi = _mm512_set1_pd(3.14159 - 0.01);
  const __m512i imask = _mm512_set1_epi64(nside - 1);
  const __m128i sh_order = _mm_cvtsi32_si128(order), sh_face = _mm_cvtsi32_si128(2 * order);
  const __m512i i4 = _mm512_set1_epi64(4), i8 = _mm512_set1_epi64(8);
  const double c3 = -1.0 / 6.0, c5 = 1.0 / 120.0, c7 = -1.0 / 5040.0, c9 = 1.0 / 362880.0,
               c11 = -1.0 / 39916800.0, c13 = 1.0 / 6227020800.0, c15 = -1.0 / 1307674368000.0,
               c17 = 1.0 / 355687428096000.0, c19 = -1.0 / 121645100408832000.0,
               c21 = 1.0 / 51090942171709440000.0;

  for (int64_t i = 0; i < n8; i += 8) {
    __m512d vra = _mm512_loadu_pd(ra + i), vdec = _mm512_loadu_pd(dec + i);
    __mmask8 ok = _mm512_cmp_pd_mask(_mm512_abs_pd(vdec), c90, _CMP_LE_OQ) &
                  _mm512_cmp_pd_mask(_mm512_abs_pd(vra), cinf, _CMP_LT_OQ);
    if (ST_UNLIKELY(ok != 0xFF)) return report_bad(ra, dec, i, i + 8, err);

    __m512d theta = _mm512_sub_pd(halfpi, _mm512_mul_pd(vdec, d2r));
    __m512d u = _mm512_add_pd(_mm512_sub_pd(halfpi, theta), halfpi_lo);
    __m512d u2 = _mm512_mul_pd(u, u);
    __m512d p = _mm512_set1_pd(c21);
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c19));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c17));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c15));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c13));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c11));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c9));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c7));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c5));
    p = _mm512_fmadd_pd(p, u2, _mm512_set1_pd(c3));
    __m512d z = _mm512_fmadd_pd(_mm512_mul_pd(u, u2), p, u);
    __m512d zlo = _mm512_max_pd(_mm512_sub_pd(z, eps), mone);
    __m512d zhi = _mm512_min_pd(_mm512_add_pd(z, eps), one);
    __mmask8 special = _mm512_cmp_pd_mask(theta, th_lo, _CMP_LT_OQ) |
                       _mm512_cmp_pd_mask(theta, th_hi, _CMP_GT_OQ);

    __m512d phi = _mm512_mul_pd(vra, d2r);
    __mmask8 wrap = _mm512_cmp_pd_mask(phi, zero, _CMP_LT_OQ) |
                    _mm512_cmp_pd_mask(phi, twopi, _CMP_GE_OQ);
    if (ST_UNLIKELY(wrap)) phi = wrap_phi8(phi, wrap, &special);
    __m512d t = _mm512_mul_pd(phi, invhp);
    __m512d q = TRUNC8(_mm512_mul_pd(t, _mm512_set1_pd(0.25)));
    __m512d fm = _mm512_sub_pd(t, _mm512_mul_pd(q, four));
    __m512d fneg = _mm512_add_pd(fm, four);
    fneg = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(fneg, four, _CMP_EQ_OQ), fneg, zero);
    __m512d tt = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, zero, _CMP_LT_OQ), fm, fneg);
    __m512d ntt = _mm512_min_pd(_mm512_roundscale_pd(tt, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC),
                                _mm512_set1_pd(3.0));
    __m512d tp = _mm512_sub_pd(tt, ntt);

    __m512d jp_lo, jm_lo, jp_hi, jm_hi;
    __mmask8 eq, eq_hi;
    edges8(zlo, tt, tp, ns, nsm1, &jp_lo, &jm_lo, &eq);
    edges8(zhi, tt, tp, ns, nsm1, &jp_hi, &jm_hi, &eq_hi);
    __mmask8 same = _mm512_cmp_pd_mask(jp_lo, jp_hi, _CMP_EQ_OQ) &
                    _mm512_cmp_pd_mask(jm_lo, jm_hi, _CMP_EQ_OQ) & (__mmask8)~(eq ^ eq_hi) &
                    (__mmask8)~special;

    __m512i jp = _mm512_cvttpd_epi64(jp_lo), jm = _mm512_cvttpd_epi64(jm_lo);
    __m512i it = _mm512_cvttpd_epi64(ntt);
    __m512i ifp = _mm512_srl_epi64(jp, sh_order), ifm = _mm512_srl_epi64(jm, sh_order);
    __m512i f_diff = _mm512_mask_blend_epi64(_mm512_cmpgt_epi64_mask(ifm, ifp),
                                             _mm512_add_epi64(ifm, i8), ifp);
    __m512i face_eq = _mm512_mask_blend_epi64(_mm512_cmpeq_epi64_mask(ifp, ifm), f_diff,
                                              _mm512_or_si512(ifp, i4));
    __m512i x_eq = _mm512_and_si512(jm, imask);
    __m512i y_eq = _mm512_sub_epi64(imask, _mm512_and_si512(jp, imask));
    __mmask8 north = _mm512_cmp_pd_mask(z, zero, _CMP_GE_OQ);
    __m512i x_po = _mm512_mask_blend_epi64(north, jp, _mm512_sub_epi64(imask, jm));
    __m512i y_po = _mm512_mask_blend_epi64(north, jm, _mm512_sub_epi64(imask, jp));
    __m512i f_po = _mm512_mask_blend_epi64(north, _mm512_add_epi64(it, i8), it);
    __m512i x = _mm512_mask_blend_epi64(eq, x_po, x_eq);
    __m512i y = _mm512_mask_blend_epi64(eq, y_po, y_eq);
    __m512i face = _mm512_mask_blend_epi64(eq, f_po, face_eq);
    __m512i pix = _mm512_or_si512(_mm512_sll_epi64(face, sh_face),
                                  _mm512_or_si512(spread8(x), _mm512_slli_epi64(spread8(y), 1)));
    _mm512_storeu_si512((void *)(out + i), pix);
    if (ST_UNLIKELY(same != 0xFF)) {
      for (int k = 0; k < 8; k++)
        if (!(same & (1 << k))) out[i + k] = st_hpx_ang2pix_exact(order, ra[i + k], dec[i + k]);
    }
  }
  return 0;
}
#endif

/* The instruction sets this CPU offers (bit 1: AVX2+FMA, bit 2: AVX-512 F+DQ). */
static int cpu_isas(void) {
#ifdef HPX_HAVE_AVX2
  __builtin_cpu_init();
  int m = 0;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) m |= 1 << ST_HPX_ISA_AVX2;
  if ((m & (1 << ST_HPX_ISA_AVX2)) && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq"))
    m |= 1 << ST_HPX_ISA_AVX512;
  return m | 1;
#else
  return 1;
#endif
}

/* Best available path, unless SKYTILE_HPX_ISA=scalar|avx2|avx512 (or the
** older SKYTILE_NO_AVX2) asks for a lesser one; chosen once. */
static int default_isa(void) {
  static int cached = -1;
  int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (v < 0) {
    int m = cpu_isas();
    v = (m & (1 << ST_HPX_ISA_AVX512)) ? ST_HPX_ISA_AVX512
        : (m & (1 << ST_HPX_ISA_AVX2)) ? ST_HPX_ISA_AVX2 : ST_HPX_ISA_SCALAR;
    const char *want = getenv("SKYTILE_HPX_ISA");
    int cap = getenv("SKYTILE_NO_AVX2") ? ST_HPX_ISA_SCALAR
              : !want ? v
              : !strcmp(want, "scalar") ? ST_HPX_ISA_SCALAR
              : !strcmp(want, "avx2") ? ST_HPX_ISA_AVX2 : v;
    if (cap < v) v = cap;
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
  }
  return v;
}

int st_hpx_ang2pix_batch_isa(int isa, int order, const double *ra, const double *dec, int64_t n,
                             int64_t *out, st_error *err) {
  ST_TRY(st_hpx_check_order(order, err));
  ST_CHECK(n >= 0, err, ST_ERR_INVALID, "healpix: negative point count %lld", (long long)n);
  ST_CHECK(isa >= 0 && isa <= ST_HPX_ISA_AVX512 && (cpu_isas() & (1 << isa)), err,
           ST_ERR_UNSUPPORTED, "healpix: instruction set %d not available", isa);
  int64_t done = 0;
#ifdef HPX_HAVE_AVX2
  if (isa == ST_HPX_ISA_AVX512) {
    done = n & ~INT64_C(7);
    ST_TRY(batch_avx512(order, ra, dec, done, out, err));
  } else if (isa == ST_HPX_ISA_AVX2) {
    done = n & ~INT64_C(3);
    ST_TRY(batch_avx2(order, ra, dec, done, out, err));
  }
#endif
  return batch_scalar(order, ra, dec, done, n, out, err);
}

int st_hpx_ang2pix_batch(int order, const double *ra, const double *dec, int64_t n, int64_t *out,
                         st_error *err) {
  return st_hpx_ang2pix_batch_isa(default_isa(), order, ra, dec, n, out, err);
}
