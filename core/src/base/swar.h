/* Sixteen bytes at a time (SSE2, part of every x86-64) or eight (a 64-bit word elsewhere: "SIMD
 * within a register"), for the JSON scanners of base/ and the line escaping of format/ (not a
 * public header). A block test gives
 * a mask with one bit per byte that matches; dfw__blk_first gives the first matching byte. On a
 * big-endian machine without SSE2 DFW_BLK is 0 and the callers keep their byte loops only. */
#ifndef DFW_BASE_SWAR_H
#define DFW_BASE_SWAR_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define DFW_BLK 16
typedef __m128i dfw__blk;

static inline dfw__blk dfw__blk_load(const char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Bytes equal to c. */
static inline uint64_t dfw__blk_eq(dfw__blk x, char c)
{
    return (uint64_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c)));
}

/* Bytes below 0x20 or at or above 0x80 (signed compare: those are the bytes below 0x20). */
static inline uint64_t dfw__blk_ctl_or_high(dfw__blk x)
{
    return (uint64_t)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
}

static inline unsigned dfw__blk_first(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m);
}

#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Each test sets the high bit of the bytes it matches; the lowest set bit is always exact (a
 * borrow can only mark bytes above a true match), so the first match is exact. */
#define DFW_BLK   8
typedef uint64_t dfw__blk;
#define DFW__ONES 0x0101010101010101ULL
#define DFW__HIGH 0x8080808080808080ULL

static inline dfw__blk dfw__blk_load(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static inline uint64_t dfw__blk_eq(dfw__blk x, char c)
{
    uint64_t v = x ^ (DFW__ONES * (unsigned char)c);
    return (v - DFW__ONES) & ~v & DFW__HIGH;
}

static inline uint64_t dfw__blk_ctl_or_high(dfw__blk x)
{
    return ((x - DFW__ONES * 0x20) & ~x & DFW__HIGH) | (x & DFW__HIGH);
}

static inline unsigned dfw__blk_first(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m) / 8;
}

#else
#define DFW_BLK 0
#endif

#endif
