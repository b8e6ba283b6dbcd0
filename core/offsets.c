/*
 * offsets.c - committable Kafka offsets of a partition (offsets.h).
 */
#include "offsets.h"

#include <stdlib.h>

#include "err.h"
#include "vec.h"

void off_init(off_track_t *t)
{
    *t = (off_track_t){ .newest = INT64_MIN };
}

void off_free(off_track_t *t)
{
    free(t->runs);
    off_init(t);
}

void off_reset(off_track_t *t)
{
    t->head = t->n = 0;
    t->newest = INT64_MIN;
}

static off_run_t *run_at(off_track_t *t, size_t i)
{
    return &t->runs[(t->head + i) & (t->cap - 1)];
}

static int grow(off_track_t *t)
{
    return VEC_RING_GROW(t->runs, t->cap, t->head, t->n, 64, 0);
}

int off_taken(off_track_t *t, int64_t offset, int64_t newest)
{
    if (newest > t->newest)
        t->newest = newest;
    off_run_t *tail = t->n ? run_at(t, t->n - 1) : NULL;
    /* the newest time only grows along the runs, so a run is done once
     * its newest time is: extending a run never commits anything early */
    if (tail && (tail->first == INT64_MIN ? t->newest == INT64_MIN
                                          : t->newest - tail->first < OFF_RUN_NS)) {
        tail->last = offset;
        tail->newest = t->newest;
        return SW_OK;
    }
    int rc = SW_OK;
    if (t->n == t->cap && (rc = grow(t)) < 0) {
        if (tail) {
            tail->last = offset;
            tail->newest = t->newest;
        }
        return rc;
    }
    t->n++;
    *run_at(t, t->n - 1) = (off_run_t){ offset, t->newest, t->newest };
    return SW_OK;
}

int64_t off_committable(off_track_t *t, int64_t done)
{
    int64_t next = -1;
    while (t->n && run_at(t, 0)->newest < done) {
        next = run_at(t, 0)->last + 1;
        t->head = (t->head + 1) & (t->cap - 1);
        t->n--;
    }
    return next;
}

size_t off_pending(const off_track_t *t)
{
    return t->n;
}
