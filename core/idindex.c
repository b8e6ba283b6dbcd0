/*
 * idindex.c - the id -> position hash index (see idindex.h), on hindex.h:
 * the index files entries by hash, and each entry keeps its hash, so a
 * probe compares bytes only when the hashes agree and growing never
 * rehashes a key.
 */
#include "idindex.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"
#include "vec.h"

#define IDX_SEED UINT64_C(0x1d1de8) /* any constant: the layout only, never the order seen */

struct idx_entry {
    const char *key;
    size_t len;
    size_t value;
    uint32_t hash;
};

void idx_init(idindex_t *ix)
{
    *ix = (idindex_t){ 0 };
}

void idx_free(idindex_t *ix)
{
    hix_free(&ix->h);
    free(ix->e);
    idx_init(ix);
}

static uint32_t hash_of(const char *key, size_t len)
{
    return (uint32_t)sw_hash(key, len, IDX_SEED);
}

/* The position of key in e[], or -1. */
static ptrdiff_t find(const idindex_t *ix, const char *key, size_t len, uint32_t h)
{
    size_t j = hix_home(&ix->h, h);
    for (ptrdiff_t p; (p = hix_next(&ix->h, h, &j)) >= 0;)
        if (ix->e[p].len == len && memcmp(ix->e[p].key, key, len) == 0)
            return p;
    return -1;
}

int idx_reserve(idindex_t *ix, size_t n)
{
    if (n >= UINT32_MAX)
        return SW_ENOMEM;
    return hix_reserve(&ix->h, n) < 0 || VEC_RESERVE(ix->e, ix->cap, n, 16) < 0 ? SW_ENOMEM
                                                                              : SW_OK;
}

ptrdiff_t idx_find(const idindex_t *ix, const char *key, size_t len)
{
    ptrdiff_t p = ix->n ? find(ix, key, len, hash_of(key, len)) : -1;
    return p < 0 ? -1 : (ptrdiff_t)ix->e[p].value;
}

int idx_insert(idindex_t *ix, const char *key, size_t len, size_t value)
{
    if (idx_reserve(ix, ix->n + 1) < 0)
        return SW_ENOMEM;
    uint32_t h = hash_of(key, len);
    if (find(ix, key, len, h) >= 0)
        return SW_EEXISTS;
    ix->e[ix->n] = (idx_entry_t){ .key = key, .len = len, .value = value, .hash = h };
    hix_put(&ix->h, h, (uint32_t)ix->n++);
    ix->probes = ix->h.probes;
    return SW_OK;
}

int idx_update(idindex_t *ix, const char *key, size_t len, size_t value)
{
    ptrdiff_t p = ix->n ? find(ix, key, len, hash_of(key, len)) : -1;
    if (p < 0)
        return SW_ENOTFOUND;
    ix->e[p].key = key;
    ix->e[p].value = value;
    ix->probes++;
    return SW_OK;
}

int idx_remove(idindex_t *ix, const char *key, size_t len)
{
    uint32_t h = hash_of(key, len);
    ptrdiff_t p = ix->n ? find(ix, key, len, h) : -1;
    if (p < 0)
        return SW_ENOTFOUND;
    hix_del(&ix->h, h, (uint32_t)p);
    size_t last = --ix->n;
    if ((size_t)p != last) { /* keep e[] packed: the last entry takes the place */
        ix->e[p] = ix->e[last];
        hix_move(&ix->h, ix->e[p].hash, (uint32_t)last, (uint32_t)p);
    }
    ix->probes = ix->h.probes;
    return SW_OK;
}
