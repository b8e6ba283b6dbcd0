/*
 * hindex.c - the hash index (hindex.h).
 */
#include "hindex.h"

#include <stdlib.h>

#include "err.h"

#define HIX_MIN_CAP 16 /* slots of a first table: small tables stay small */

void hix_free(hindex_t *ix)
{
    free(ix->slots);
    *ix = (hindex_t){ 0 };
}

/* Files a slot in a table known to have a free one; counts the probes. */
static void place(hix_slot_t *slots, size_t cap, hix_slot_t s, uint64_t *probes)
{
    size_t j = s.hash & (cap - 1);
    for (++*probes; slots[j].pos1; ++*probes)
        j = (j + 1) & (cap - 1);
    slots[j] = s;
}

int hix_reserve(hindex_t *ix, size_t n)
{
    size_t cap = ix->cap ? ix->cap : HIX_MIN_CAP;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 2 / sizeof(hix_slot_t))
            return SW_ENOMEM;
        cap *= 2;
    }
    if (cap == ix->cap)
        return SW_OK;
    hix_slot_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return SW_ENOMEM;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].pos1)
            place(slots, cap, ix->slots[i], &ix->probes);
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return SW_OK;
}

void hix_put(hindex_t *ix, uint32_t hash, uint32_t pos)
{
    place(ix->slots, ix->cap, (hix_slot_t){ hash, pos + 1 }, &ix->probes);
    ix->n++;
}

/* The slot of position pos under hash, or -1. */
static ptrdiff_t slot_of(hindex_t *ix, uint32_t hash, uint32_t pos)
{
    if (!ix->cap)
        return -1;
    size_t mask = ix->cap - 1;
    for (size_t j = hash & mask;; j = (j + 1) & mask) {
        ix->probes++;
        if (!ix->slots[j].pos1)
            return -1;
        if (ix->slots[j].pos1 == pos + 1)
            return (ptrdiff_t)j;
    }
}

int hix_del(hindex_t *ix, uint32_t hash, uint32_t pos)
{
    ptrdiff_t at = slot_of(ix, hash, pos);
    if (at < 0)
        return SW_ENOTFOUND;
    /*
     * Backward shift: pull each later entry of the run into the hole when
     * its home slot is not between the hole and itself (cyclically), so
     * that every entry stays reachable from its home without tombstones.
     */
    size_t mask = ix->cap - 1, hole = (size_t)at;
    for (size_t i = (hole + 1) & mask; ix->slots[i].pos1; i = (i + 1) & mask) {
        ix->probes++;
        size_t home = ix->slots[i].hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            ix->slots[hole] = ix->slots[i];
            hole = i;
        }
    }
    ix->slots[hole] = (hix_slot_t){ 0, 0 };
    ix->n--;
    return SW_OK;
}

int hix_move(hindex_t *ix, uint32_t hash, uint32_t from, uint32_t to)
{
    ptrdiff_t at = slot_of(ix, hash, from);
    if (at < 0)
        return SW_ENOTFOUND;
    ix->slots[at].pos1 = to + 1;
    return SW_OK;
}
