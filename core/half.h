/*
 * half.h - IEEE 754 half precision (binary16) for values kept in bulk or
 * on disk, and a 12-bit cut of it: the learned profiles hold 192 rates a
 * series, and a rate to 0.4 % is as good as a 32-bit one for an
 * expectation (the state file keeps them as halves).
 *
 * Conversions round to nearest, ties to even; values beyond the range
 * become the largest finite half (65504), negative ones and NaN zero: only
 * non-negative rates are stored.
 *
 * DESIGN: pure inline functions; no state.
 */
#ifndef SW_HALF_H
#define SW_HALF_H

#include <stdint.h>
#include <string.h>

#define HALF_MAX 65504.0f

static inline uint16_t half_from_float(float f)
{
    if (!(f > 0)) /* zero, negative or NaN */
        return 0;
    if (f >= HALF_MAX)
        return 0x7bff;
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffff;
    if (e <= 0) { /* a subnormal half, or zero */
        if (e < -10)
            return 0;
        m |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)h;
    }
    uint32_t h = ((uint32_t)e << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* a carry into the exponent is right; into infinity is clamped */
    return (uint16_t)(h > 0x7bff ? 0x7bff : h);
}

static inline float half_to_float(uint16_t h)
{
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) /* zero or subnormal: m * 2^-24 */
        return (float)m * (1.0f / 16777216.0f);
    uint32_t x = ((e - 15 + 127) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, sizeof(f));
    return f;
}

/*
 * A half with its three lowest mantissa bits dropped: 12 bits (5 of
 * exponent, 7 of mantissa: within 0.4 % from 6e-5 to 65504, within 2.4e-7
 * below), for a rate kept beside 4 bits of something else in a 16-bit
 * word. Rounds to nearest, ties to even (after the half's own rounding);
 * never rounds into infinity.
 */
#define HALF12_MAX 0xf7fu

static inline uint16_t half12_from_float(float f)
{
    uint32_t h = half_from_float(f);
    h = (h + 3 + ((h >> 3) & 1)) >> 3;
    return (uint16_t)(h > HALF12_MAX ? HALF12_MAX : h);
}

static inline float half12_to_float(uint16_t c)
{
    return half_to_float((uint16_t)(c << 3));
}

#endif
