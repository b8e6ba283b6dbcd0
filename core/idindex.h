/*
 * idindex.h - a hash index from string ids to positions: the change
 * register, the change API and the config loader find an id in O(1)
 * instead of scanning their arrays.
 *
 * The index does not own its keys: each entry borrows the caller's string
 * (key, len), which must stay valid and unchanged while the entry is in the
 * index. Keys are compared as bytes, so they need not be NUL-terminated.
 * The entries sit packed in an array, found through the one hash index
 * (hindex.h), so every operation is O(1) on average.
 *
 * DESIGN: not thread-safe; the owner's lock (if any) guards it.
 */
#ifndef SW_IDINDEX_H
#define SW_IDINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "hindex.h"

typedef struct idx_entry idx_entry_t;

typedef struct {
    hindex_t h;        /* positions in e[] by the key's hash */
    idx_entry_t *e;    /* the entries, packed (a removal moves the last one in) */
    size_t n, cap;     /* entries, and room in e[] */
    uint64_t probes;   /* slots looked at by inserts, updates and removals
                          so far (lookups count none, so that readers never
                          write): a cost measure for tests and benchmarks */
} idindex_t;

/* An empty index (nothing allocated). Zero-initialising one does the same. */
void idx_init(idindex_t *ix);
/* Frees the slots (not the keys) and leaves an empty index. */
void idx_free(idindex_t *ix);

/* The value of `key`, or -1 when it is not in the index. */
ptrdiff_t idx_find(const idindex_t *ix, const char *key, size_t len);
/*
 * Adds key -> value. 0; SW_EEXISTS when the key is there already (its
 * value unchanged); SW_ENOMEM (the index unchanged). Cannot fail for want
 * of memory while the index holds fewer entries than idx_reserve() asked for.
 */
int idx_insert(idindex_t *ix, const char *key, size_t len, size_t value);
/* Points an existing key at a new value (and at the string `key`, which
 * may be another copy of the same bytes): 0, or SW_ENOTFOUND. */
int idx_update(idindex_t *ix, const char *key, size_t len, size_t value);
/* Removes the key: 0, or SW_ENOTFOUND. */
int idx_remove(idindex_t *ix, const char *key, size_t len);
/* Room for `n` entries in all, so that inserts up to there cannot fail:
 * 0 or SW_ENOMEM (no entry added or lost; one of the two tables may have
 * grown already). */
int idx_reserve(idindex_t *ix, size_t n);

#endif
