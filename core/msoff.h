/*
 * msoff.h - event times kept as 32-bit offsets in milliseconds from a
 * base t0: half the bytes of a time, for the short histories every User
 * keeps (the blocked-route window, the blast radius's backlogs). An offset
 * reaches 24 days; the owner moves its base on once its newest time is 12
 * days past it (MSOFF_REBASE_AT), shifting what it holds (msoff_shift()).
 *
 * DESIGN: pure inline functions; no state.
 */
#ifndef SW_MSOFF_H
#define SW_MSOFF_H

#include <stdint.h>

#define MSOFF_NS INT64_C(1000000)
/* The offset past which the owner moves its base on. */
#define MSOFF_REBASE_AT (INT32_MAX / 2)

/* ts floored to a whole millisecond. */
static inline int64_t msoff_floor(int64_t ts)
{
    return ts - ((ts % MSOFF_NS) + MSOFF_NS) % MSOFF_NS;
}

/* Milliseconds from t0 to ts, floored (t0 moved on by as many, ts is 0
 * after it), and the same within int32_t. */
static inline int64_t msoff_between(int64_t t0, int64_t ts)
{
    return ts / MSOFF_NS - t0 / MSOFF_NS - (ts % MSOFF_NS < 0) + (t0 % MSOFF_NS < 0);
}

static inline int32_t msoff_after(int64_t t0, int64_t ts)
{
    int64_t d = msoff_between(t0, ts);
    return d > INT32_MAX ? INT32_MAX : d < INT32_MIN ? INT32_MIN : (int32_t)d;
}

/* Takes `shift` ms off the n offsets of a ring of cap from head on (a base
 * moved on by as much); one that would fall below `lowest` becomes it. */
static inline void msoff_shift(int32_t *ms, unsigned head, unsigned n, unsigned cap,
                               int64_t shift, int32_t lowest)
{
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (head + k) % cap;
        int64_t v = (int64_t)ms[i] - shift;
        ms[i] = v < lowest ? lowest : (int32_t)v;
    }
}

#endif
