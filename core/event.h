/*
 * event.h - what a shard tells the alert stage: alert transitions, the
 * sums of each User bucket (the northbound backlog for the blast radius;
 * both directions' levels for change checks and forecasts), and its
 * progress in event time. Fixed size and self-contained, so it can cross
 * threads through a ring.
 */
#ifndef SW_EVENT_H
#define SW_EVENT_H

#include <stdint.h>

#include "alert.h"
#include "lineproto.h"

typedef enum {
    EV_SUMMARY,  /* a User's direction's bucket closed: its sums, its backlog */
    EV_RESOLVE,  /* an alert ended */
    EV_FIRE,     /* an alert started */
    EV_PROGRESS, /* every event of this shard with `at` below this is sent */
    EV_EVICT,    /* User `user` left the shard's table (series limit): forget it */
    EV_HANDOFF,  /* alert `id` goes on at another instance: drop it, write nothing */
    EV_ADOPT,    /* an alert that fired at another instance goes on here as `id` */
} event_type_t;

typedef struct {
    int64_t at;          /* event time of the decision: the order of output */
    int64_t starts_at, detected_at, ends_at;
    int64_t since;       /* storms: impact counts from samples after this */
    int64_t dt;          /* summaries: the bucket's interval, ns */
    double value, baseline, backlog, limit;
    /* summaries: value is the messages counted by warm series and baseline
     * what their baselines expected (messages, not rates); queued every
     * series' count and delivered their deliveries */
    double queued, delivered;
    uint32_t id;         /* the alert, unique within its shard */
    uint8_t type;        /* event_type_t */
    uint8_t kind;        /* alert_kind_t */
    uint8_t dir;         /* ALERT_DIR_* */
    uint8_t alerting;    /* summaries: the User's direction is alerting */
    uint8_t learning;    /* fire: the series had no history for that time yet */
    uint8_t role;        /* adopt: its place in its incident (ROLE_*) ... */
    uint8_t severity;    /* ... and the incident's severity (SEV_*) */
    uint16_t src;        /* feed_stalled of one source (a Kafka partition); 0: the feed */
    uint64_t incident;   /* adopt: the incident it belongs to (0: none known) */
    char user[LP_MAX_ID + 1];
    char cls[LP_MAX_ID + 1];
} event_t;

#endif
