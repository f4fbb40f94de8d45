/*
** This file implements (declares) the helpers shared by the table module's
** sources: physical layout per type, bit-range helpers and array cloning.
**
** Physical layout (see skytile/table.h): a dictionary-encoded field has the
** layout of INT32 (validity + int32 indices) whatever its value type; every
** other field follows its type.  st_tab_width() is the byte width of the value
** buffer for fixed-width layouts (-1 BOOL, 0 others).
*/
#ifndef ST_TABLE_INT_H
#define ST_TABLE_INT_H

#include "skytile.h"
#include "util/mem.h"

#include <string.h>

#define ST_TAB_MAX_DEPTH 64   /* nesting bound for recursion on fields/arrays */

/* Layout class of a field (dictionary-encoded fields are INT32 indices). */
typedef enum st_layout {
  ST_L_NULL,      /* no buffers                             */
  ST_L_BOOL,      /* validity, bits                         */
  ST_L_FIXED,     /* validity, values of st_tab_width bytes */
  ST_L_VAR32,     /* validity, int32 offsets, bytes         */
  ST_L_VAR64,     /* validity, int64 offsets, bytes         */
  ST_L_LIST32,    /* validity, int32 offsets; child         */
  ST_L_LIST64,    /* validity, int64 offsets; child         */
  ST_L_FIXLIST,   /* validity; child                        */
  ST_L_STRUCT     /* validity; children                     */
} st_layout;

st_layout st_tab_layout(const st_field *f);
int st_tab_width(const st_field *f);           /* value bytes for ST_L_FIXED     */
int st_tab_n_buffers(st_layout l);             /* Arrow buffer count             */

/* Bits. */
static inline bool st_bit_get(const uint8_t *b, int64_t i) { return (b[i >> 3] >> (i & 7)) & 1; }
static inline void st_bit_set(uint8_t *b, int64_t i) { b[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static inline void st_bit_clear(uint8_t *b, int64_t i) { b[i >> 3] &= (uint8_t) ~(1u << (i & 7)); }
int64_t st_tab_bits_count(const uint8_t *b, int64_t off, int64_t n);          /* set bits */
/* Copy n bits from src (bit offset so) to dst (bit offset dof). */
void st_tab_bits_copy(uint8_t *dst, int64_t dof, const uint8_t *src, int64_t so, int64_t n);
void st_tab_bits_fill(uint8_t *dst, int64_t dof, int64_t n, bool v);

/* Shallow clone of the array tree (nodes copied, blocks referenced). NULL on OOM. */
st_array *st_tab_clone(const st_array *a);
/* New block of n bytes (zero-filled when zero); sets *p.  NULL on OOM. */
st_mem *st_tab_alloc(size_t n, bool zero, uint8_t **p);

/* Offsets of list/var arrays as int64 regardless of width. */
static inline int64_t st_tab_off(const st_array *a, bool wide, int64_t i) {
  return wide ? ((const int64_t *)a->buf[1])[a->offset + i] : ((const int32_t *)a->buf[1])[a->offset + i];
}

#endif
