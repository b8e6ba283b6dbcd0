/*
 * window.c - sliding event-time window with running sums (window.h).
 */
#include "window.h"

#include <float.h>
#include <string.h>

#include "msoff.h"

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

/* Moves t0 on by `shift` ms (a sample's offset from it): the samples held
 * keep their times (one older than 24 days before the new t0, which only
 * a window that long holds, is kept as the oldest time there is). */
static void rebase(win_t *w, int64_t shift)
{
    msoff_shift(w->ms, w->head, w->n, WIN_CAP, shift, INT32_MIN);
    w->t0 += shift * MSOFF_NS;
}

void win_push(win_t *w, int64_t ts, const double v[WIN_NV], int64_t span_ns)
{
    if (!w->n)
        w->t0 = msoff_floor(ts);
    int32_t at = msoff_after(w->t0, ts);
    if (at >= MSOFF_REBASE_AT) { /* ts becomes the new t0, however far on */
        rebase(w, msoff_between(w->t0, ts));
        at = 0;
    }
    if (w->n) { /* older than the newest: taken at the newest's time */
        int32_t newest = w->ms[(w->head + w->n - 1) % WIN_CAP];
        if (at < newest)
            at = newest;
    }
    if (w->n == WIN_CAP)
        win_evict(w);
    unsigned slot = (w->head + w->n) % WIN_CAP;
    w->ms[slot] = at;
    for (int i = 0; i < WIN_NV; i++) {
        /* a double beyond a float's range has no float to be (C11 6.3.1.5) */
        double x = v[i] > FLT_MAX ? FLT_MAX : v[i] < -FLT_MAX ? -FLT_MAX : v[i];
        w->v[slot][i] = (float)x;
        w->sum[i] += w->v[slot][i]; /* what is stored, so evictions agree with it */
    }
    w->n++;
    int64_t cut_ns = span_ns > 0 && ts < INT64_MIN + span_ns ? INT64_MIN : ts - span_ns;
    int32_t cut = msoff_after(w->t0, cut_ns);
    while (w->n > 1 && w->ms[w->head] <= cut)
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
    return w->n ? ((int64_t)w->ms[(w->head + w->n - 1) % WIN_CAP] - w->ms[w->head]) * MSOFF_NS
                : 0;
}

int64_t win_ts(const win_t *w, unsigned k)
{
    return w->t0 + (int64_t)w->ms[(w->head + k) % WIN_CAP] * MSOFF_NS;
}

void win_clear(win_t *w)
{
    memset(w, 0, sizeof(*w));
}
