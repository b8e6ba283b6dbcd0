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
    uint64_t v = 0;
    memcpy(&v, p, n);
    return sw_mix64(h ^ v);
}

#endif
