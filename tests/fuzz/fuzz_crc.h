/*
 * fuzz_crc.h - for the targets whose input ends in a CRC-32 trailer (a
 * state file, a User's state): runs one(buf, size) on a copy of exactly
 * the input's size (reads past it are caught), then, when the trailer is
 * not already right, again with it recomputed, so the fuzzer reaches the
 * records behind the checksum.
 */
#ifndef FUZZ_CRC_H
#define FUZZ_CRC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static inline void fuzz_with_crc(const uint8_t *data, size_t size,
                                 void (*one)(const uint8_t *buf, size_t len))
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    one(buf, size);
    if (size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(size - 4));
        uint32_t have = (uint32_t)buf[size - 4] | (uint32_t)buf[size - 3] << 8 |
                        (uint32_t)buf[size - 2] << 16 | (uint32_t)buf[size - 1] << 24;
        if (have != crc) {
            for (int i = 0; i < 4; i++)
                buf[size - 4 + i] = (uint8_t)(crc >> (8 * i));
            one(buf, size);
        }
    }
    free(buf);
}

#endif
