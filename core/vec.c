/*
 * vec.c - the growable array (vec.h).
 */
#include "vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int vec_reserve(void *arrayp, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return SW_OK;
    size_t ncap = *cap ? *cap : (first ? first : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return SW_ENOMEM;
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        return SW_ENOMEM;
    void *old;
    memcpy(&old, arrayp, sizeof(old));
    void *grown = realloc(old, ncap * size);
    if (!grown)
        return SW_ENOMEM;
    memcpy(arrayp, &grown, sizeof(grown));
    *cap = ncap;
    return SW_OK;
}
