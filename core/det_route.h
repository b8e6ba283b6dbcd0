/*
 * det_route.h - a blocked route: the messages queued for a User pile up
 * while deliveries stall or fall to a fraction of what is queued (a
 * firewall change on the User's side).
 *
 * Over the last `window` of event time, deliveries below
 * delivery_ratio_fire x what was queued, with a backlog of at least
 * min_backlog messages that grew over the window: hot. Deliveries back
 * above delivery_ratio_clear x, or the backlog under min_backlog: cool.
 *
 * DESIGN: a value embedded in each User's northbound direction; the
 * shard's thread.
 */
#ifndef SW_DET_ROUTE_H
#define SW_DET_ROUTE_H

#include "detector.h"
#include "params.h"
#include "window.h"

typedef struct {
    win_t win;            /* recent buckets: queued, delivered, backlog before, seconds */
    double prev_backlog;  /* the backlog when the last bucket closed */
    int64_t low_since;    /* first bucket of the current low-delivery run; 0: none */
} det_route_t;

/* A northbound bucket: what was queued and delivered, and the backlog
 * after it. */
typedef struct {
    det_in_t in;          /* ts, dt; count is what was queued */
    double delivered, backlog;
} route_in_t;

void route_judge(det_route_t *r, const route_in_t *in, const detect_params_t *p,
                 det_out_t *out);

#endif
