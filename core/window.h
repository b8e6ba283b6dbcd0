/*
 * window.h - a sliding window over event time with O(1) work per sample.
 *
 * Holds the last samples that fall within `span` ns of the newest, each
 * with WIN_NV values, and keeps the sums of every value so a query costs
 * nothing (an eviction re-adds the at most WIN_CAP samples left).
 * Capacity is fixed (WIN_CAP samples): when samples arrive faster than
 * WIN_CAP per span, the oldest are evicted early and the window is
 * shorter than asked; win_span_ns() tells the span it covers. Times are
 * kept to the millisecond (floored), as 32-bit offsets from the window's
 * own t0, which moves on every 12 days (every northbound User keeps a
 * window: 368 bytes, not 424).
 *
 * DESIGN: value type embedded in detector state; one owner thread.
 */
#ifndef SW_WINDOW_H
#define SW_WINDOW_H

#include <stdint.h>

#define WIN_CAP 16
#define WIN_NV 4

typedef struct {
    int64_t t0;               /* ms[] count from here, ns */
    int32_t ms[WIN_CAP];      /* each sample's time, milliseconds after t0 */
    float v[WIN_CAP][WIN_NV]; /* counts, gauges and seconds: exact enough in a float */
    double sum[WIN_NV];
    uint8_t head;  /* index of the oldest sample */
    uint8_t n;     /* samples held */
} win_t;

/* Adds a sample at `ts` and evicts samples at or before ts - span_ns
 * (their intervals lie outside the span). A sample older than the newest
 * is taken at the newest's time, so the window stays in order (a User's
 * state adopted from another instance can be ahead of a late sample). */
void win_push(win_t *w, int64_t ts, const double v[WIN_NV], int64_t span_ns);

static inline double win_sum(const win_t *w, int i)
{
    return w->sum[i];
}

/* The value i of the oldest / newest sample held (0 when empty). */
double win_first(const win_t *w, int i);
double win_last(const win_t *w, int i);
/* Time between the oldest and newest sample held. */
int64_t win_span_ns(const win_t *w);
/* The time of the k-th oldest sample held (k < n), to the millisecond. */
int64_t win_ts(const win_t *w, unsigned k);
void win_clear(win_t *w);

#endif
