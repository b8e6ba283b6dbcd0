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

int vec_ring_grow(void *arrayp, size_t *cap, size_t *head, size_t n, size_t size, size_t first,
                  size_t max)
{
    if (*cap > SIZE_MAX / 2)
        return SW_ENOMEM;
    size_t ncap = *cap ? *cap * 2 : (first ? first : 1);
    if (max && ncap > max)
        ncap = max;
    if (ncap <= *cap || (size && ncap > SIZE_MAX / size))
        return SW_ENOMEM;
    char *old;
    memcpy(&old, arrayp, sizeof(old));
    char *grown = malloc(ncap * size);
    if (!grown)
        return SW_ENOMEM;
    if (n) { /* from head up to the end, then from the start */
        size_t part = *cap - *head < n ? *cap - *head : n;
        memcpy(grown, old + *head * size, part * size);
        memcpy(grown + part * size, old, (n - part) * size);
    }
    free(old);
    memcpy(arrayp, &grown, sizeof(grown));
    *cap = ncap;
    *head = 0;
    return SW_OK;
}
