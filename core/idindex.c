/*
 * idindex.c - the id -> position hash index (see idindex.h).
 *
 * Each slot keeps the key's full hash, so a probe compares bytes only when
 * the hashes agree, and growing never rehashes a key.
 */
#include "idindex.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"

#define IDX_MIN_CAP 16               /* slots of a first table: small registers stay small */
#define IDX_SEED UINT64_C(0x1d1de8) /* any constant: the layout only, never the order seen */

struct idx_slot {
    const char *key; /* NULL: the slot is free */
    size_t len;
    uint64_t hash;
    size_t value;
};

void idx_init(idindex_t *ix)
{
    *ix = (idindex_t){ 0 };
}

void idx_free(idindex_t *ix)
{
    free(ix->slots);
    idx_init(ix);
}

static uint64_t hash_of(const char *key, size_t len)
{
    return sw_hash(key, len, IDX_SEED);
}

/* The slot holding key, or the free slot where it would go; adds the
 * slots looked at to *probes. */
static idx_slot_t *lookup(const idindex_t *ix, const char *key, size_t len, uint64_t h,
                          uint64_t *probes)
{
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        idx_slot_t *s = &ix->slots[i];
        ++*probes;
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

static int grow(idindex_t *ix, size_t cap)
{
    idx_slot_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return SW_ENOMEM;
    idindex_t next = { .slots = slots, .cap = cap, .n = ix->n, .probes = ix->probes };
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].key)
            *lookup(&next, ix->slots[i].key, ix->slots[i].len, ix->slots[i].hash,
                    &next.probes) = ix->slots[i];
    free(ix->slots);
    *ix = next;
    return SW_OK;
}

int idx_reserve(idindex_t *ix, size_t n)
{
    size_t cap = ix->cap ? ix->cap : IDX_MIN_CAP;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 2 / sizeof(idx_slot_t))
            return SW_ENOMEM;
        cap *= 2;
    }
    return cap == ix->cap ? SW_OK : grow(ix, cap);
}

ptrdiff_t idx_find(const idindex_t *ix, const char *key, size_t len)
{
    uint64_t uncounted = 0;
    if (!ix->n)
        return -1;
    const idx_slot_t *s = lookup(ix, key, len, hash_of(key, len), &uncounted);
    return s->key ? (ptrdiff_t)s->value : -1;
}

int idx_insert(idindex_t *ix, const char *key, size_t len, size_t value)
{
    if (idx_reserve(ix, ix->n + 1) < 0)
        return SW_ENOMEM;
    uint64_t h = hash_of(key, len);
    idx_slot_t *s = lookup(ix, key, len, h, &ix->probes);
    if (s->key)
        return SW_EEXISTS;
    *s = (idx_slot_t){ .key = key, .len = len, .hash = h, .value = value };
    ix->n++;
    return SW_OK;
}

int idx_update(idindex_t *ix, const char *key, size_t len, size_t value)
{
    if (!ix->n)
        return SW_ENOTFOUND;
    idx_slot_t *s = lookup(ix, key, len, hash_of(key, len), &ix->probes);
    if (!s->key)
        return SW_ENOTFOUND;
    s->key = key;
    s->value = value;
    return SW_OK;
}

int idx_remove(idindex_t *ix, const char *key, size_t len)
{
    if (!ix->n)
        return SW_ENOTFOUND;
    idx_slot_t *s = lookup(ix, key, len, hash_of(key, len), &ix->probes);
    if (!s->key)
        return SW_ENOTFOUND;
    /*
     * Backward shift: pull each later entry of the run into the hole when
     * its home slot is not between the hole and itself (cyclically), so
     * that every entry stays reachable from its home without tombstones.
     */
    size_t mask = ix->cap - 1, hole = (size_t)(s - ix->slots);
    for (size_t i = (hole + 1) & mask; ix->slots[i].key; i = (i + 1) & mask) {
        size_t home = (size_t)ix->slots[i].hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            ix->slots[hole] = ix->slots[i];
            hole = i;
        }
    }
    ix->slots[hole].key = NULL;
    ix->n--;
    return SW_OK;
}
