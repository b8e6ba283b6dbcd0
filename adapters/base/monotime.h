/*
 * monotime.h - the monotonic clock, as everything outside core/ reads it:
 * timeouts, back-offs, rates, the age of an error burst. Never event time
 * (core/ reads no clock: it runs on the samples' own times).
 *
 * DESIGN: no state; any thread. sw_nap() is the bounded back-off of a
 * thread waiting on another (a full or empty ring, a flag).
 */
#ifndef SW_MONOTIME_H
#define SW_MONOTIME_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds since an arbitrary start that never goes back. */
static inline int64_t sw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The same in seconds. */
static inline double sw_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps *ns, then doubles it, up to max_ns: a bounded back-off. */
static inline void sw_nap(long *ns, long max_ns)
{
    struct timespec ts = { 0, *ns };
    nanosleep(&ts, NULL);
    *ns = *ns * 2 > max_ns ? max_ns : *ns * 2;
}

#endif
