/*
** This file implements the bit-unpacking/packing kernels declared in
** bitpack.h, plus bit-range copies for booleans.
**
** Unpacking: unpack32_*_w(W) is a straight-line sequence of 32 statements
** (REP32); with W a compile-time constant every value becomes "load 8 bytes
** at a constant offset, shift by a constant, mask, store".  One switch per
** call selects the width, then a loop runs the specialised kernel over whole
** groups of 32 while at least 4*W+16 input bytes remain (so each 8-byte load,
** and for 64-bit values the ninth byte, stays inside the input).  A trailing
** partial group is unpacked in place into a 32-value stack buffer when the
** input is long enough; groups near the end of the input are unpacked from a
** zero-padded stack copy of their bytes.  Nothing outside [in, in+avail) is
** read, and exactly `count` values are written.
**
** Packing (writer side, not hot) uses a 64-bit accumulator flushed 8 bytes
** at a time.
*/
#include "parquet/encodings/bitpack.h"

#define ST_AI static inline __attribute__((always_inline))

#define REP8(M, b) M(b + 0) M(b + 1) M(b + 2) M(b + 3) M(b + 4) M(b + 5) M(b + 6) M(b + 7)
#define REP32(M) REP8(M, 0) REP8(M, 8) REP8(M, 16) REP8(M, 24)

/* ---- 32 values per call, width W constant after inlining -------------- */

#define ONE_NARROW(i) out[i] = (T)((st_ld64(in + ((i) * W) / 8) >> (((i) * W) % 8)) & mask);

/* W <= 32: a value spans at most 7+32 bits of one 8-byte load. */
ST_AI void unpack32_u32_w(const uint8_t *in, uint32_t *out, const int W) {
  typedef uint32_t T;
  const uint64_t mask = (W == 32) ? 0xffffffffu : ((1ull << W) - 1);
  REP32(ONE_NARROW)
}
ST_AI void unpack32_u16_w(const uint8_t *in, uint16_t *out, const int W) {
  typedef uint16_t T;
  const uint64_t mask = (1ull << W) - 1;
  REP32(ONE_NARROW)
}

/* W <= 64: a value may spill into the ninth byte. */
#define ONE_WIDE(i)                                                                   \
  {                                                                                   \
    const unsigned b_ = (unsigned)(i) * (unsigned)W, s_ = b_ % 8;                     \
    uint64_t v_ = st_ld64(in + b_ / 8) >> s_;                                         \
    if (s_ + (unsigned)W > 64) v_ |= (uint64_t)in[b_ / 8 + 8] << ((64 - s_) & 63);         \
    out[i] = v_ & mask;                                                               \
  }
ST_AI void unpack32_u64_w(const uint8_t *in, uint64_t *out, const int W) {
  const uint64_t mask = (W == 64) ? ~0ull : ((1ull << W) - 1);
  REP32(ONE_WIDE)
}

#define C4(M, b) M(b + 0) M(b + 1) M(b + 2) M(b + 3)
#define CASES_1_16(M) C4(M, 1) C4(M, 5) C4(M, 9) C4(M, 13)
#define CASES_17_32(M) C4(M, 17) C4(M, 21) C4(M, 25) C4(M, 29)
#define CASES_33_64(M) \
  C4(M, 33) C4(M, 37) C4(M, 41) C4(M, 45) C4(M, 49) C4(M, 53) C4(M, 57) C4(M, 61)

/* One group of 32 from a buffer with >= 4*w+16 readable bytes. */
static void unpack32_u32_any(const uint8_t *in, uint32_t *out, int w) {
  switch (w) {
#define K(W) \
  case W: unpack32_u32_w(in, out, W); return;
    CASES_1_16(K) CASES_17_32(K)
#undef K
    default: memset(out, 0, 32 * sizeof *out); return;
  }
}
static void unpack32_u16_any(const uint8_t *in, uint16_t *out, int w) {
  switch (w) {
#define K(W) \
  case W: unpack32_u16_w(in, out, W); return;
    CASES_1_16(K)
#undef K
    default: memset(out, 0, 32 * sizeof *out); return;
  }
}
static void unpack32_u64_any(const uint8_t *in, uint64_t *out, int w) {
  switch (w) {
#define K(W) \
  case W: unpack32_u64_w(in, out, W); return;
    CASES_1_16(K) CASES_17_32(K) CASES_33_64(K)
#undef K
    default: memset(out, 0, 32 * sizeof *out); return;
  }
}

/*
** Shared driver: fast loop over whole groups, then the tail through a
** zero-padded copy.  TYPE/ANY/KERNEL/CASES name the variant.
*/
#define DEFINE_UNPACK(NAME, TYPE, ANY, KERNEL, CASES)                                  \
  void NAME(const uint8_t *in, size_t avail, int w, TYPE *out, int64_t count) {       \
    if (count <= 0) return;                                                           \
    if (w == 0) {                                                                     \
      memset(out, 0, (size_t)count * sizeof *out);                                    \
      return;                                                                         \
    }                                                                                 \
    switch (w) {                                                                      \
      CASES                                                                           \
      default: break;                                                                 \
    }                                                                                 \
    while (count > 0) {                                                               \
      TYPE o[32];                                                                     \
      size_t gbytes = (size_t)4 * (size_t)w;                                          \
      size_t take = gbytes < avail ? gbytes : avail;                                  \
      if (avail >= gbytes + 16) {                                                     \
        ANY(in, o, w); /* partial group, input long enough to read in place */        \
      } else {                                                                        \
        uint8_t tmp[4 * 64 + 16];                                                     \
        memset(tmp, 0, sizeof tmp);                                                   \
        memcpy(tmp, in, take);                                                        \
        ANY(tmp, o, w);                                                               \
      }                                                                               \
      int64_t k = count < 32 ? count : 32;                                            \
      memcpy(out, o, (size_t)k * sizeof *out);                                        \
      out += k;                                                                       \
      count -= k;                                                                     \
      in += take;                                                                     \
      avail -= take;                                                                  \
    }                                                                                 \
  }

#define FAST_CASE(W, KERNEL)                                                             \
  case W:                                                                                \
    for (; count >= 32 && avail >= 4 * (size_t)(W) + 16;                                 \
         count -= 32, in += 4 * (W), avail -= 4 * (size_t)(W), out += 32)                \
      KERNEL(in, out, W);                                                                \
    break;
#define FC32(W) FAST_CASE(W, unpack32_u32_w)
#define FC16(W) FAST_CASE(W, unpack32_u16_w)
#define FC64(W) FAST_CASE(W, unpack32_u64_w)

DEFINE_UNPACK(st_unpack_u32, uint32_t, unpack32_u32_any, unpack32_u32_w,
              CASES_1_16(FC32) CASES_17_32(FC32))
DEFINE_UNPACK(st_unpack_u16, uint16_t, unpack32_u16_any, unpack32_u16_w, CASES_1_16(FC16))
DEFINE_UNPACK(st_unpack_u64, uint64_t, unpack32_u64_any, unpack32_u64_w,
              CASES_1_16(FC64) CASES_17_32(FC64) CASES_33_64(FC64))

/* ---- Packing ------------------------------------------------------------ */

#define DEFINE_PACK(NAME, TYPE)                                                        \
  size_t NAME(const TYPE *v, int64_t count, int w, uint8_t *out) {                    \
    if (w == 0 || count <= 0) return 0;                                               \
    const uint64_t mask = w >= 64 ? ~0ull : ((1ull << w) - 1);                        \
    uint64_t acc = 0;                                                                 \
    int nb = 0;                                                                       \
    size_t o = 0;                                                                     \
    for (int64_t i = 0; i < count; i++) {                                             \
      uint64_t x = (uint64_t)v[i] & mask;                                             \
      acc |= x << nb;                                                                 \
      if (nb + w >= 64) {                                                             \
        memcpy(out + o, &acc, 8);                                                     \
        o += 8;                                                                       \
        acc = nb ? x >> (64 - nb) : 0;                                                \
        nb = nb + w - 64;                                                             \
      } else {                                                                        \
        nb += w;                                                                      \
      }                                                                               \
    }                                                                                 \
    while (nb > 0) {                                                                  \
      out[o++] = (uint8_t)acc;                                                        \
      acc >>= 8;                                                                      \
      nb -= 8;                                                                        \
    }                                                                                 \
    return o;                                                                         \
  }
DEFINE_PACK(st_pack_u32, uint32_t)
DEFINE_PACK(st_pack_u16, uint16_t)
DEFINE_PACK(st_pack_u64, uint64_t)

/* ---- Bit ranges ----------------------------------------------------------- */

void st_bits_fill(uint8_t *dst, int64_t off, int64_t n, int val) {
  if (n <= 0) return;
  uint8_t *d = dst + off / 8;
  int s = (int)(off & 7);
  uint8_t fill = val ? 0xff : 0;
  if (s) {
    int k = 8 - s;
    if (k > n) k = (int)n;
    uint8_t m = (uint8_t)(((1u << k) - 1) << s);
    *d = (uint8_t)((*d & ~m) | (fill & m));
    d++;
    n -= k;
  }
  if (n >= 8) {
    memset(d, fill, (size_t)(n / 8));
    d += n / 8;
    n &= 7;
  }
  if (n) {
    uint8_t m = (uint8_t)((1u << n) - 1);
    *d = (uint8_t)((*d & ~m) | (fill & m));
  }
}

void st_bits_copy(uint8_t *dst, int64_t doff, const uint8_t *src, int64_t n) {
  if (n <= 0) return;
  uint8_t *d = dst + doff / 8;
  int s = (int)(doff & 7);
  int64_t nfull = n / 8;
  int rem = (int)(n & 7);
  if (s == 0) {
    memcpy(d, src, (size_t)nfull);
  } else {
    unsigned lo = (1u << s) - 1;
    for (int64_t j = 0; j < nfull; j++) {
      unsigned b = src[j];
      d[j] = (uint8_t)((d[j] & lo) | (b << s));
      d[j + 1] = (uint8_t)((d[j + 1] & ~lo) | (b >> (8 - s)));
    }
  }
  if (rem) {
    unsigned b = src[nfull];
    int64_t base = doff + nfull * 8;
    for (int t = 0; t < rem; t++) {
      int64_t pos = base + t;
      uint8_t m = (uint8_t)(1u << (pos & 7));
      if ((b >> t) & 1) dst[pos / 8] |= m;
      else dst[pos / 8] &= (uint8_t)~m;
    }
  }
}
