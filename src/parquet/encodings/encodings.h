/*
** This file declares Parquet's value and level encodings (decoders for the
** reader, encoders for the writer).  Each is a pure function over byte
** ranges: no I/O, no allocation except into caller-supplied st_buf.
**
** Every decoder treats its input as untrusted: it never reads outside
** [data, data+len) (inputs are padded by ST_PAD bytes by their producers, but
** correctness must not depend on that), and fails with ST_ERR_CORRUPT naming
** the encoding when the input is short or inconsistent.  Decoders write
** exactly n values (dense: no nulls; the caller spreads values over nulls
** using definition levels) and report the bytes they consumed when asked.
**
** Encodings (parquet-format Encodings.md):
**   PLAIN                      fixed width little-endian; BYTE_ARRAY as
**                              [le32 len][bytes]; BOOLEAN bit-packed LSB first
**   RLE/bit-packed hybrid      levels, booleans (RLE encoding), dictionary
**                              indices (1-byte bit width prefix, handled by
**                              the caller)
**   DELTA_BINARY_PACKED        int32/int64
**   DELTA_LENGTH_BYTE_ARRAY    lengths (DELTA_BINARY_PACKED) then bytes
**   DELTA_BYTE_ARRAY           prefix lengths + suffixes (DELTA_LENGTH_...)
**   BYTE_STREAM_SPLIT          any fixed width (2, 4, 8, FLBA n)
*/
#ifndef ST_PARQUET_ENCODINGS_H
#define ST_PARQUET_ENCODINGS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/mem.h"

/* ---- RLE / bit-packed hybrid ------------------------------------------- */
/*
** Decode n values of bit_width (0..32) from a hybrid run stream occupying
** exactly [data, data+len) (no length prefix).  Fewer than n values in the
** stream -> ST_ERR_CORRUPT.  Bit-packed runs may pad past n; that is fine.
*/
int st_rle_decode_u32(const uint8_t *data, size_t len, int bit_width, uint32_t *out, int64_t n,
                      st_error *err);
/* Same, into int16 levels (bit_width <= 16). */
int st_rle_decode_i16(const uint8_t *data, size_t len, int bit_width, int16_t *out, int64_t n,
                      st_error *err);
/* Booleans in RLE encoding, into bits (LSB first) starting at bit out_bit_offset. */
int st_rle_decode_bits(const uint8_t *data, size_t len, uint8_t *out_bits, int64_t out_bit_offset,
                       int64_t n, st_error *err);
/* Append the hybrid encoding of vals to out (no length prefix). */
int st_rle_encode_u32(const uint32_t *vals, int64_t n, int bit_width, st_buf *out, st_error *err);
int st_rle_encode_i16(const int16_t *vals, int64_t n, int bit_width, st_buf *out, st_error *err);
/* Bit width needed for max_value (0 for 0). */
int st_bit_width(uint64_t max_value);

/* ---- PLAIN --------------------------------------------------------------- */
/* BOOLEAN: n bits from data (LSB first) into out_bits at out_bit_offset. */
int st_plain_decode_bool(const uint8_t *data, size_t len, int64_t n, uint8_t *out_bits,
                         int64_t out_bit_offset, size_t *consumed, st_error *err);
/*
** BYTE_ARRAY: n values; appends bytes to *bytes and writes n offsets to
** offsets[1..n] (offsets[0] must hold the current end, i.e. bytes->len).
** Offsets over INT32_MAX -> ST_ERR_LIMIT.
*/
int st_plain_decode_byte_array(const uint8_t *data, size_t len, int64_t n, int32_t *offsets,
                               st_buf *bytes, size_t *consumed, st_error *err);
/* Scan n BYTE_ARRAY values without copying: out_ptrs[i]/out_lens[i] point into data. */
int st_plain_index_byte_array(const uint8_t *data, size_t len, int64_t n, const uint8_t **out_ptrs,
                              uint32_t *out_lens, size_t *consumed, st_error *err);
int st_plain_encode_bool(const uint8_t *bits, int64_t bit_offset, int64_t n, st_buf *out,
                         st_error *err);
int st_plain_encode_byte_array(const int32_t *offsets, const uint8_t *bytes, int64_t n, st_buf *out,
                               st_error *err);

/* ---- DELTA_BINARY_PACKED ------------------------------------------------ */
/* Decode exactly n values (the header's total count must be >= n).
** *consumed is the end of the whole stream (all `total count` values), so a
** following section (DELTA_LENGTH_BYTE_ARRAY bytes) starts there.  Encoders
** use Arrow's parameters (4 miniblocks; 128 values per block for int32, 256
** for int64) and produce the same bytes as pyarrow. */
int st_delta_decode_i32(const uint8_t *data, size_t len, int64_t n, int32_t *out, size_t *consumed,
                        st_error *err);
int st_delta_decode_i64(const uint8_t *data, size_t len, int64_t n, int64_t *out, size_t *consumed,
                        st_error *err);
int st_delta_encode_i32(const int32_t *vals, int64_t n, st_buf *out, st_error *err);
int st_delta_encode_i64(const int64_t *vals, int64_t n, st_buf *out, st_error *err);

/* ---- DELTA_LENGTH_BYTE_ARRAY / DELTA_BYTE_ARRAY ------------------------- */
/* Same output convention as st_plain_decode_byte_array. */
int st_delta_length_decode(const uint8_t *data, size_t len, int64_t n, int32_t *offsets,
                           st_buf *bytes, size_t *consumed, st_error *err);
int st_delta_byte_array_decode(const uint8_t *data, size_t len, int64_t n, int32_t *offsets,
                               st_buf *bytes, size_t *consumed, st_error *err);
int st_delta_length_encode(const int32_t *offsets, const uint8_t *bytes, int64_t n, st_buf *out,
                           st_error *err);
int st_delta_byte_array_encode(const int32_t *offsets, const uint8_t *bytes, int64_t n,
                               st_buf *out, st_error *err);

/* ---- BYTE_STREAM_SPLIT -------------------------------------------------- */
/* n values of width bytes: stream k holds byte k of every value.  The page
** holds exactly `total` values (len == total*width); values [0,n) are taken. */
int st_bss_decode(const uint8_t *data, size_t len, int width, int64_t n, uint8_t *out,
                  st_error *err);
int st_bss_encode(const uint8_t *vals, int width, int64_t n, st_buf *out, st_error *err);

/* ---- Dictionary gather -------------------------------------------------- */
/* out[i] = dict[idx[i]] for fixed-width values; any idx >= dict_n -> ST_ERR_CORRUPT. */
int st_dict_gather_fixed(const uint32_t *idx, int64_t n, const uint8_t *dict, uint32_t dict_n,
                         int width, uint8_t *out, st_error *err);
/* Variable-width: dictionary as offsets/bytes; appends to bytes, writes offsets[1..n]. */
int st_dict_gather_binary(const uint32_t *idx, int64_t n, const int32_t *dict_offsets,
                          const uint8_t *dict_bytes, uint32_t dict_n, int32_t *offsets,
                          st_buf *bytes, st_error *err);

/*
** (Added by the encodings module.)  Fused dictionary decode for fixed-width
** values: RLE/bit-packed indices of bit_width (the data page's 1-byte prefix,
** already stripped) straight into out[0..n) (n * width bytes).  RLE runs
** become fills; bit-packed runs are unpacked and gathered in chunks.  Same
** errors as st_rle_decode_u32 + st_dict_gather_fixed; faster than the two.
*/
int st_dict_decode_fixed(const uint8_t *data, size_t len, int bit_width, const uint8_t *dict,
                         uint32_t dict_n, int width, uint8_t *out, int64_t n, st_error *err);

/* Values at ranks[0..nr) (ascending, each < n) of an RLE/bit-packed hybrid
   stream of n values of bit_width (no length prefix) into out[0..nr),
   without unpacking the rest (rle.c). */
int st_rle_gather_u32(const uint8_t *data, size_t len, int bit_width, int64_t n, const int64_t *ranks,
                      int64_t nr, uint32_t *out, st_error *err);

/* ---- Snappy view (snappy_view.c) ----------------------------------------- */
/* Random access into a raw Snappy block without decompressing it. */
typedef struct st_snappy_elem {
  uint32_t start;          /* output offset of the element                  */
  uint32_t len;            /* output bytes                                  */
  uint32_t src;            /* literal: input offset; copy: back offset      */
  uint32_t lit;            /* 1 literal, 0 copy                             */
} st_snappy_elem;

typedef struct st_snappy_view {
  const uint8_t *in;       /* the block (not owned)                         */
  uint64_t ulen;           /* uncompressed length                           */
  st_snappy_elem *el;      /* elements in output order                      */
  size_t n, cap;
  size_t hint;             /* element of the last read (search starts there) */
} st_snappy_view;

/* Parse in[0..len) (the view keeps pointing into it); 0, or -1 when the
   block is malformed or out of memory (then decompress it instead). */
int st_snappy_view_parse(st_snappy_view *v, const uint8_t *in, size_t len);
/* The bytes of a raw Snappy block that is exactly one literal of ulen bytes
   ending at the end of the input (incompressible data), else NULL. */
const uint8_t *st_snappy_single_literal(const uint8_t *in, size_t len, uint64_t ulen);
/* Output bytes [pos, pos + w) into out; 0, or -1 (out of range, or a copy
   chain too long to follow: decompress instead). */
int st_snappy_view_get(st_snappy_view *v, uint64_t pos, size_t w, uint8_t *out);
void st_snappy_view_free(st_snappy_view *v);   /* keeps nothing; v reusable after init to 0 */

/* Resumable decode of a raw Snappy block into out (ulen + 32 bytes of room). */
typedef struct st_snappy_stream {
  const uint8_t *in;       /* the block (not owned)                         */
  size_t ilen, ip;         /* its length; next element                      */
  uint8_t *out;            /* output (not owned)                            */
  uint64_t ulen, op;       /* uncompressed length; bytes decoded so far     */
} st_snappy_stream;

/* 0, or -1 when the length prefix is bad or out_cap < ulen + 32. */
int st_snappy_stream_init(st_snappy_stream *s, const uint8_t *in, size_t len, uint8_t *out, uint64_t out_cap);
/* Decode whole elements until at least min(want, ulen) bytes are out; 0, or
   -1 on a malformed block (then decompress it with the codec for the error). */
int st_snappy_stream_upto(st_snappy_stream *s, uint64_t want);

#endif
