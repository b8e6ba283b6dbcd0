/*
 * window.c - sliding event-time window with running sums (window.h).
 */
#include "window.h"

#include <float.h>
#include <string.h>

/* Drops the oldest sample and recomputes the sums from those left: at
 * most WIN_CAP additions, and no rounding error survives an outlier (a
 * running subtraction of 1e17 would wipe out the small values beside it). */
static void win_evict(win_t *w)
{
    w->head = (uint8_t)((w->head + 1) % WIN_CAP);
    w->n--;
    memset(w->sum, 0, sizeof(w->sum));
    for (unsigned k = 0; k < w->n; k++)
        for (int i = 0; i < WIN_NV; i++)
            w->sum[i] += w->v[(w->head + k) % WIN_CAP][i];
}

void win_push(win_t *w, int64_t ts, const double v[WIN_NV], int64_t span_ns)
{
    if (w->n) { /* older than the newest: taken at the newest's time */
        int64_t newest = w->ts[(w->head + w->n - 1) % WIN_CAP];
        if (ts < newest)
            ts = newest;
    }
    if (w->n == WIN_CAP)
        win_evict(w);
    unsigned slot = (w->head + w->n) % WIN_CAP;
    w->ts[slot] = ts;
    for (int i = 0; i < WIN_NV; i++) {
        /* a double beyond a float's range has no float to be (C11 6.3.1.5) */
        double x = v[i] > FLT_MAX ? FLT_MAX : v[i] < -FLT_MAX ? -FLT_MAX : v[i];
        w->v[slot][i] = (float)x;
        w->sum[i] += w->v[slot][i]; /* what is stored, so evictions agree with it */
    }
    w->n++;
    while (w->n > 1 && w->ts[w->head] <= ts - span_ns)
        win_evict(w);
}

double win_first(const win_t *w, int i)
{
    return w->n ? w->v[w->head][i] : 0;
}

double win_last(const win_t *w, int i)
{
    return w->n ? w->v[(w->head + w->n - 1) % WIN_CAP][i] : 0;
}

int64_t win_span_ns(const win_t *w)
{
    return w->n ? w->ts[(w->head + w->n - 1) % WIN_CAP] - w->ts[w->head] : 0;
}

void win_clear(win_t *w)
{
    memset(w, 0, sizeof(*w));
}
