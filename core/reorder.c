/*
 * reorder.c - event-time reordering with a FIFO fast path and a heap for
 * the stragglers (reorder.h).
 *
 * The FIFO holds input.lateness of the whole feed (30 s of every series),
 * so it is most of the daemon's memory after the series themselves: its
 * records are packed, the fixed fields and then only the key bytes used
 * (a 24-byte User and a short class make 96 bytes instead of 192), in a
 * byte ring whose records may wrap around its end, grown by half.
 */
#include "reorder.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "vec.h"

struct reorder {
    int64_t lateness;
    int64_t max_ts;      /* newest event time offered */
    int64_t clock;       /* the time lateness is judged from: max_ts unless set */
    int64_t released_ts; /* newest event time released */
    uint32_t seq;
    /* FIFO of in-order records, packed (packed_size()) in a byte ring */
    unsigned char *fifo;
    size_t fifo_head, fifo_used, fifo_cap; /* bytes */
    size_t fifo_n;                         /* records */
    /* min-heap of out-of-order records, by (ts, seq) */
    rec_t *heap;
    size_t heap_n, heap_cap;
};

reorder_t *reorder_create(int64_t lateness_ns)
{
    reorder_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->lateness = lateness_ns;
    r->max_ts = r->released_ts = r->clock = INT64_MIN;
    return r;
}

void reorder_destroy(reorder_t *r)
{
    if (!r)
        return;
    free(r->fifo);
    free(r->heap);
    free(r);
}

static int rec_before(const rec_t *a, const rec_t *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts;
    return (int32_t)(a->seq - b->seq) < 0;
}

/* A record's fixed fields: everything before its key. */
#define REC_HEAD offsetof(rec_t, key)

/* Bytes a record takes in the FIFO: its fixed fields and the key bytes it
 * uses, rounded up to 8. */
_Static_assert(((offsetof(rec_t, key) + sizeof(((rec_t *)0)->key) + 7) & ~(size_t)7) <=
                   sizeof(rec_t),
               "a packed record fits its rec_t");

static size_t packed_size(const rec_t *rec)
{
    return (REC_HEAD + rec->ulen + rec->clen + 7) & ~(size_t)7;
}

/* Copies n bytes into the ring at offset `at`, wrapping at its end. */
static inline void ring_put(reorder_t *r, size_t at, const void *src, size_t n)
{
    if (at >= r->fifo_cap) /* offsets come in below twice the capacity */
        at -= r->fifo_cap;
    if (at + n <= r->fifo_cap) { /* the common case: no wrap */
        memcpy(r->fifo + at, src, n);
        return;
    }
    size_t first = r->fifo_cap - at;
    memcpy(r->fifo + at, src, first);
    memcpy(r->fifo, (const unsigned char *)src + first, n - first);
}

/* Copies n bytes out of the ring from offset `at`, wrapping at its end. */
static inline void ring_get(const reorder_t *r, size_t at, void *dst, size_t n)
{
    if (at >= r->fifo_cap)
        at -= r->fifo_cap;
    if (at + n <= r->fifo_cap) {
        memcpy(dst, r->fifo + at, n);
        return;
    }
    size_t first = r->fifo_cap - at;
    memcpy(dst, r->fifo + at, first);
    memcpy((unsigned char *)dst + first, r->fifo, n - first);
}

/* Room for `need` more bytes: the ring grows by half, its bytes in order
 * from 0. By half, not double: a ring's head goes round its whole
 * capacity, so every byte of it ends up resident, and the FIFO is the
 * daemon's largest buffer after the series. */
static int fifo_reserve(reorder_t *r, size_t need)
{
    if (r->fifo_cap - r->fifo_used >= need)
        return SW_OK;
    size_t cap = r->fifo_cap ? r->fifo_cap : 64 * 1024;
    while (cap - r->fifo_used < need) {
        if (cap > SIZE_MAX / 4)
            return SW_ENOMEM;
        cap += cap / 2;
    }
    unsigned char *v = malloc(cap);
    if (!v)
        return SW_ENOMEM;
    if (r->fifo_used)
        ring_get(r, r->fifo_head, v, r->fifo_used);
    free(r->fifo);
    r->fifo = v;
    r->fifo_cap = cap;
    r->fifo_head = 0;
    return SW_OK;
}

static int heap_push(reorder_t *r, const rec_t *rec)
{
    if (VEC_RESERVE(r->heap, r->heap_cap, r->heap_n + 1, 256) < 0)
        return SW_ENOMEM;
    size_t i = r->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!rec_before(rec, &r->heap[parent]))
            break;
        r->heap[i] = r->heap[parent];
        i = parent;
    }
    r->heap[i] = *rec;
    return SW_OK;
}

static void heap_pop(reorder_t *r, rec_t *out)
{
    *out = r->heap[0];
    rec_t last = r->heap[--r->heap_n];
    size_t i = 0, n = r->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && rec_before(&r->heap[c + 1], &r->heap[c]))
            c++;
        if (!rec_before(&r->heap[c], &last))
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (n)
        r->heap[i] = last;
}

int reorder_push(reorder_t *r, const rec_t *in)
{
    if (r->released_ts != INT64_MIN && in->ts < r->released_ts)
        return 1;
    int64_t now = r->clock != INT64_MIN ? r->clock : r->max_ts;
    if (now != INT64_MIN && in->ts < now - r->lateness)
        return 1;
    rec_t rec = *in;
    rec.seq = r->seq++;
    if (rec.ts >= r->max_ts) {
        size_t n = packed_size(&rec);
        if (fifo_reserve(r, n) < 0)
            return SW_ENOMEM;
        /* the padding too: the ring's bytes are all defined */
        ring_put(r, r->fifo_head + r->fifo_used, &rec, n);
        r->fifo_used += n;
        r->fifo_n++;
        r->max_ts = rec.ts;
        return 0;
    }
    return heap_push(r, &rec);
}

int reorder_push_control(reorder_t *r, const rec_t *in)
{
    rec_t rec = *in;
    if (r->released_ts != INT64_MIN && rec.ts < r->released_ts)
        rec.ts = r->released_ts;
    rec.seq = r->seq++;
    return heap_push(r, &rec); /* the heap takes any order; the FIFO stays sorted */
}

int reorder_pop(reorder_t *r, rec_t *out, int drain)
{
    /* the FIFO's first record: what orders it (ts, seq) to peek, the rest
     * once it is taken */
    rec_t front;
    const rec_t *f = NULL;
    if (r->fifo_n) {
        ring_get(r, r->fifo_head + offsetof(rec_t, ts), &front.ts, sizeof(front.ts));
        ring_get(r, r->fifo_head + offsetof(rec_t, seq), &front.seq, sizeof(front.seq));
        f = &front;
    }
    const rec_t *h = r->heap_n ? &r->heap[0] : NULL;
    const rec_t *next = f && (!h || rec_before(f, h)) ? f : h;
    if (!next)
        return 0;
    int64_t now = r->clock != INT64_MIN ? r->clock : r->max_ts;
    if (!drain && next->ts >= now - r->lateness)
        return 0;
    if (next == f) {
        ring_get(r, r->fifo_head, out, REC_HEAD);
        size_t n = packed_size(out);
        /* the key and the padding to 8: within the rec_t (n <= its size) */
        ring_get(r, r->fifo_head + REC_HEAD, (unsigned char *)out + REC_HEAD, n - REC_HEAD);
        r->fifo_head += n;
        if (r->fifo_head >= r->fifo_cap)
            r->fifo_head -= r->fifo_cap;
        r->fifo_used -= n;
        r->fifo_n--;
    } else {
        heap_pop(r, out);
    }
    r->released_ts = out->ts;
    return 1;
}

void reorder_set_clock(reorder_t *r, int64_t ts)
{
    r->clock = ts;
}

int64_t reorder_released_ts(const reorder_t *r)
{
    return r->released_ts;
}

int64_t reorder_max_ts(const reorder_t *r)
{
    return r->max_ts;
}

size_t reorder_depth(const reorder_t *r)
{
    return r->fifo_n + r->heap_n;
}
