/*
 * hash.h - the one hash function of stormwatch, for interning Users and
 * series. Reads 8 bytes at a time and mixes with multiply-xorshift steps
 * (the finaliser of splitmix64); good spread for short ASCII ids, and
 * cheap: a 24-byte User id costs three multiplies.
 */
#ifndef SW_HASH_H
#define SW_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sw_mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return h;
}

/*
 * The last n (< 8) bytes at p as a little-endian number, zero above them:
 * what copying them into a zeroed word gives on a little-endian machine,
 * from at most three loads and no call (a copy of a run-time length is a
 * call to memcpy, and was a third of the hash's cost). Two overlapping
 * 4-byte loads cover 4 to 7 bytes; the first, middle and last byte cover
 * 1 to 3 (some of them the same byte, in the same place).
 */
static inline uint64_t sw_tail(const unsigned char *p, size_t n)
{
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        return (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    }
    if (n == 0)
        return 0;
    return (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
}

static inline uint64_t sw_hash(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ (n * UINT64_C(0x9e3779b97f4a7c15));
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    return sw_mix64(h ^ sw_tail(p, n));
}

/*
 * Whether the n bytes at a and b are the same: what the lookups of the
 * interning tables ask of every sample, for ids of a few dozen bytes,
 * inline (memcmp is a call, and ranks them, which no caller needs). Reads
 * only the n bytes: 8 at a time, the last 1-8 by an overlapping load or
 * sw_tail().
 */
static inline int sw_memeq(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    if (n < 8)
        return sw_tail(p, n) == sw_tail(q, n);
    uint64_t diff = 0;
    for (size_t i = 0; i + 8 < n; i += 8) {
        uint64_t x, y;
        memcpy(&x, p + i, 8);
        memcpy(&y, q + i, 8);
        diff |= x ^ y;
    }
    uint64_t x, y;
    memcpy(&x, p + n - 8, 8);
    memcpy(&y, q + n - 8, 8);
    return (diff | (x ^ y)) == 0;
}

#endif
