/*
 * reorder.c - event-time reordering with a FIFO fast path and a heap for
 * the stragglers (reorder.h).
 */
#include "reorder.h"

#include <stdlib.h>

#include "err.h"
#include "vec.h"

struct reorder {
    int64_t lateness;
    int64_t max_ts;      /* newest event time offered */
    int64_t clock;       /* the time lateness is judged from: max_ts unless set */
    int64_t released_ts; /* newest event time released */
    uint32_t seq;
    /* FIFO of in-order records: a ring of power-of-two capacity */
    rec_t *fifo;
    size_t fifo_head, fifo_n, fifo_cap;
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

static int fifo_grow(reorder_t *r)
{
    size_t cap = r->fifo_cap ? r->fifo_cap * 2 : 1024;
    rec_t *v = malloc(cap * sizeof(*v));
    if (!v)
        return SW_ENOMEM;
    for (size_t i = 0; i < r->fifo_n; i++)
        v[i] = r->fifo[(r->fifo_head + i) & (r->fifo_cap - 1)];
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
        if (r->fifo_n == r->fifo_cap && fifo_grow(r) < 0)
            return SW_ENOMEM;
        r->fifo[(r->fifo_head + r->fifo_n) & (r->fifo_cap - 1)] = rec;
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
    const rec_t *f = r->fifo_n ? &r->fifo[r->fifo_head] : NULL;
    const rec_t *h = r->heap_n ? &r->heap[0] : NULL;
    const rec_t *next = f && (!h || rec_before(f, h)) ? f : h;
    if (!next)
        return 0;
    int64_t now = r->clock != INT64_MIN ? r->clock : r->max_ts;
    if (!drain && next->ts >= now - r->lateness)
        return 0;
    if (next == f) {
        *out = *f;
        r->fifo_head = (r->fifo_head + 1) & (r->fifo_cap - 1);
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
