/*
** This file declares the internal building blocks shared by the Parquet
** encodings: bit-unpacking/packing kernels, ULEB128/zigzag varints and bit
** copies.  Nothing here is untrusted-input aware by itself: callers check
** that the bytes exist before calling, and pass `avail` (bytes readable from
** `in`) so the kernels can decide when a fast 8-byte-load path is safe.
**
** Bit-packing order (parquet-format RLE/bit-packed hybrid, also used by
** DELTA_BINARY_PACKED miniblocks): value i of width w occupies bits
** [i*w, (i+1)*w) of the little-endian bit stream, LSB first.  32 values of
** width w occupy exactly 4*w bytes, so groups of 32 start on byte boundaries.
**
** The unpack kernels are specialised per width: for each w there is a
** straight-line routine that unpacks 32 values with constant shifts, each
** value taken from one unaligned 64-bit load.  Such a load may touch up to
** 16 bytes past the 4*w bytes of the group, so the fast path runs only while
** avail >= 4*w + 16; the last group(s) go through a zero-padded stack copy.
** The kernels write exactly `count` values to out.
*/
#ifndef ST_PARQUET_BITPACK_H
#define ST_PARQUET_BITPACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "skytile's encodings assume a little-endian host"
#endif

/* Unpack `count` values of width w starting at in (byte aligned). */
void st_unpack_u32(const uint8_t *in, size_t avail, int w, uint32_t *out, int64_t count); /* w 0..32 */
void st_unpack_u16(const uint8_t *in, size_t avail, int w, uint16_t *out, int64_t count); /* w 0..16 */
void st_unpack_u64(const uint8_t *in, size_t avail, int w, uint64_t *out, int64_t count); /* w 0..64 */

/* Pack count values (masked to w bits) into ceil(count*w/8) bytes at out; returns bytes written.
** out must have room for that many bytes rounded up to a multiple of 8. */
size_t st_pack_u32(const uint32_t *v, int64_t count, int w, uint8_t *out);
size_t st_pack_u16(const uint16_t *v, int64_t count, int w, uint8_t *out);
size_t st_pack_u64(const uint64_t *v, int64_t count, int w, uint8_t *out);

/* Bits [off, off+n) of dst := val (other bits untouched). */
void st_bits_fill(uint8_t *dst, int64_t off, int64_t n, int val);
/* Bits [doff, doff+n) of dst := bits [0, n) of src (reads ceil(n/8) bytes of src). */
void st_bits_copy(uint8_t *dst, int64_t doff, const uint8_t *src, int64_t n);

static inline uint64_t st_ld64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint32_t st_ld32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ULEB128 from [*p, end): returns 0 on success (advances *p), -1 if truncated or > 64 bits. */
static inline int st_uleb_read(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  const uint8_t *q = *p;
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (q >= end) return -1;
    uint8_t b = *q++;
    if (shift == 63 && (b & 0x7e)) return -1;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *p = q;
      *out = v;
      return 0;
    }
  }
  return -1;
}
/* Write ULEB128 of v to out (room for 10 bytes); returns bytes written. */
static inline size_t st_uleb_write(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}
static inline int64_t st_zigzag_dec(uint64_t v) { return (int64_t)((v >> 1) ^ (0 - (v & 1))); }
static inline uint64_t st_zigzag_enc(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

#endif
