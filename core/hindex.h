/*
 * hindex.h - the one hash index of stormwatch: open addressing with linear
 * probing over (hash, position) pairs, at most half full, with
 * backward-shift deletion (no tombstones). Every lookup, insert and removal
 * is O(1) on average, whatever the order keys come in.
 *
 * The index holds no keys: a slot keeps the key's 32-bit hash and the
 * position of its entry in the owner's array, and the owner compares its
 * own keys for the candidates the index hands it:
 *
 *   size_t j = hix_home(ix, h);
 *   for (ptrdiff_t p; (p = hix_next(ix, h, &j)) >= 0;)
 *       if (same_key(&entries[p], key))
 *           return p;
 *
 * Users: the series table (series and Users), the alert stage (Users), and
 * idindex.h (string ids), which adds the keys.
 *
 * DESIGN: plain memory, not thread-safe; the owner's lock (if any) guards it.
 */
#ifndef SW_HINDEX_H
#define SW_HINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t hash;
    uint32_t pos1;  /* position + 1; 0: a free slot */
} hix_slot_t;

typedef struct {
    hix_slot_t *slots; /* cap slots; NULL while cap is 0 */
    size_t cap;        /* 0 or a power of two */
    size_t n;          /* entries */
    uint64_t probes;   /* slots looked at by inserts and removals (not by
                          lookups, so readers never write): a cost measure */
} hindex_t;

/* Frees the slots and leaves an empty index (a zeroed one is empty too). */
void hix_free(hindex_t *ix);

/* Room for `n` entries in all: hix_put() cannot fail until there are
 * more. 0, or SW_ENOMEM with the index unchanged. */
int hix_reserve(hindex_t *ix, size_t n);

/* Adds position pos (< UINT32_MAX) under hash; hix_reserve() made room.
 * The caller makes sure its key is not in the index already. */
void hix_put(hindex_t *ix, uint32_t hash, uint32_t pos);

/* Removes position pos (filed under hash): 0, or SW_ENOTFOUND. */
int hix_del(hindex_t *ix, uint32_t hash, uint32_t pos);

/* Files position `from` (under hash) as `to` instead: 0, or SW_ENOTFOUND. */
int hix_move(hindex_t *ix, uint32_t hash, uint32_t from, uint32_t to);

/* Where the probe for hash starts (any value when the index is empty). */
static inline size_t hix_home(const hindex_t *ix, uint32_t hash)
{
    return ix->cap ? hash & (ix->cap - 1) : 0;
}

/* The next position filed under hash from slot *j on (moving *j past it),
 * or -1 once the probe reaches a free slot. */
static inline ptrdiff_t hix_next(const hindex_t *ix, uint32_t hash, size_t *j)
{
    if (!ix->cap)
        return -1;
    for (size_t mask = ix->cap - 1;; *j = (*j + 1) & mask) {
        hix_slot_t s = ix->slots[*j];
        if (!s.pos1)
            return -1;
        if (s.hash == hash) {
            *j = (*j + 1) & mask;
            return (ptrdiff_t)s.pos1 - 1;
        }
    }
}

#endif
