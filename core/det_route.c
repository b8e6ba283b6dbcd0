/*
 * det_route.c - deliveries stall while the backlog grows (det_route.h).
 */
#include "det_route.h"

/* The window's value columns; W_BACKLOG0 is the backlog before the
 * bucket, so the oldest tells where the window started. */
enum { W_QUEUED, W_DELIVERED, W_BACKLOG0, W_SECONDS };

void route_judge(det_route_t *r, const route_in_t *in, const detect_params_t *p,
                 det_out_t *out)
{
    double secs = (double)in->in.dt / SW_NS_PER_S, queued = in->in.count;
    double v[WIN_NV] = { [W_QUEUED] = queued, [W_DELIVERED] = in->delivered,
                         [W_BACKLOG0] = r->prev_backlog, [W_SECONDS] = secs };
    r->prev_backlog = in->backlog;
    win_push(&r->win, in->in.ts, v, p->blocked_window);
    double q = win_sum(&r->win, W_QUEUED), d = win_sum(&r->win, W_DELIVERED);
    double wsecs = win_sum(&r->win, W_SECONDS);
    if (in->delivered < p->blocked_ratio_fire * queued) {
        if (!r->low_since)
            r->low_since = in->in.ts;
    } else {
        r->low_since = 0;
    }
    out->hot = q > 0 && d < p->blocked_ratio_fire * q && in->backlog >= p->blocked_min_backlog &&
               in->backlog > win_first(&r->win, W_BACKLOG0);
    out->cool = d >= p->blocked_ratio_clear * q || in->backlog < p->blocked_min_backlog;
    out->value = wsecs > 0 ? d / wsecs : 0;
    out->baseline = wsecs > 0 ? q / wsecs : 0;
    out->onset = r->low_since ? r->low_since : INT64_MAX;
    out->end = INT64_MAX;
}
