/*
 * router.h - the ingest side of the pipeline: parses lines, puts samples
 * back in event-time order within the allowed lateness (dropping and
 * counting late ones), notices a feed that stalled, and routes each
 * sample to the shard that owns its User (hash of the User id).
 *
 * Every shard also receives the control records it needs to move on in
 * event time when it has no samples of its own (REC_TICK), and to hear of
 * a stalled feed (REC_STALL, REC_GAP), so a shard's decisions depend only
 * on its Users' samples, never on how Users are spread.
 *
 * DESIGN: one router per ingest thread, and one thread at a time calls it:
 * the daemon creates it and calls router_feed_was_stalled() before the
 * ingest thread starts, and destroys it after joining it; in between only
 * the ingest thread (with the Kafka callbacks it runs) touches it.
 * router_shard_of() is a pure function: any thread. Nothing in a router is
 * locked or atomic; router_stats() points into it, so other threads see
 * only what the ingest thread copies out. deliver() is called
 * synchronously, on that thread, with records for one shard at a time, in
 * event-time order per shard. The router owns its reorder buffer; lines are
 * borrowed for the call.
 */
#ifndef SW_ROUTER_H
#define SW_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "lineproto.h"
#include "params.h"
#include "reorder.h"

typedef struct {
    ingest_params_t ingest;
    unsigned nshards;
    /* hands record r to shard `shard` (r is valid during the call only: the
     * callee copies it); it cannot refuse, so a shard that cannot take it
     * now is the callee's to wait for or shed */
    void (*deliver)(void *ctx, unsigned shard, const rec_t *r);
    void *ctx;
} router_opts_t;

typedef struct {
    uint64_t lines;        /* lines offered */
    uint64_t bytes;        /* bytes of lines offered */
    uint64_t records;      /* samples accepted for ordering */
    uint64_t bad;          /* bad lines */
    uint64_t skipped;      /* other measurements */
    uint64_t late;         /* older than the allowed lateness */
    uint64_t ahead;        /* far ahead of the feed's time and not followed: dropped */
    uint64_t nomem;
    uint64_t feed_stalls;
    uint64_t source_stalls; /* one source quiet while others flowed */
    uint64_t handed_over;   /* records of a source handed off before they were delivered */
    uint64_t caught_up;     /* samples of a source taken over, behind the clock, taken in */
    uint64_t by_result[LP_NRESULTS];
} router_stats_t;

typedef struct router router_t;

router_t *router_create(const router_opts_t *o);
void router_destroy(router_t *rt);

/* Parses and routes one line (without its newline). Returns the outcome;
 * bad lines are counted and skipped. */
lp_result_t router_feed_line(router_t *rt, const char *line, size_t len);

/*
 * The lines fed next come from source `src` (rec_t.src: 0 by default, the
 * main feed; a source beyond REC_MAX_SOURCES counts as 0). Each source is
 * in event-time order within the lateness, not with the others.
 */
void router_set_source(router_t *rt, unsigned src);

/*
 * Declares source `src` flowing (1) or quiet (0). Once any source is
 * declared, the feed's clock is the slowest flowing source (nothing is
 * released while one has sent nothing yet), so that sources read unevenly
 * (Kafka partitions) do not make each other late; a quiet one no longer
 * holds the others back. With none declared: the newest sample, as for a
 * single stream.
 */
void router_source_active(router_t *rt, unsigned src, int active);

/*
 * Source `src` has sent nothing for the stall time (on the wall clock,
 * live) while others flow: a REC_SRC_STALL goes to every shard in
 * event-time order, at the source's last sample + ingest.stall_after, and
 * the source stops holding the clock back (router_source_active(src, 0)).
 * Its first sample afterwards sends a REC_SRC_RESUME at that sample's time.
 * Shards then report the source's own feed_stalled and do not judge its
 * Users silent meanwhile. No-op for a source that has sent nothing yet or
 * is already stalled.
 */
void router_source_stall(router_t *rt, unsigned src);

/* Non-zero from router_source_stall() until the source resumes. */
int router_source_stalled(const router_t *rt, unsigned src);

/*
 * Source `src` goes to another instance (its Kafka partition was revoked):
 * it stops holding the clock back, every shard gets a REC_HANDOFF now
 * (after all it was given of the source, so it hands over what it
 * processed), and the source's records still buffered here are dropped
 * (counted: the next owner reads them from the committed offset). `publish`
 * goes in the record: whether the Users' state is published first.
 */
void router_handoff(router_t *rt, unsigned src, int publish);

/* Source `src` is read here (again): its records are delivered; when
 * others were already released, its first samples may be up to a lateness
 * behind them and are still taken (each to its shard, in its own order). */
void router_source_assigned(router_t *rt, unsigned src);

/* The newest time of the samples taken into ordering since the last call
 * (INT64_MIN: none): what a Kafka message brought, for offsets.h. */
int64_t router_take_newest(router_t *rt);

/* Every record older than this has been delivered to the shards (the
 * watermark of the last release); INT64_MIN before the first. */
int64_t router_done_below(const router_t *rt);

/* Counts a bad line found outside the parser (e.g. too long to read). */
void router_count_bad(router_t *rt, lp_result_t res);

/*
 * The feed had stalled when the run before stopped (its feed_stalled is
 * resumed): the first sample sends a REC_FEED_BACK at its time to every
 * shard, in event-time order with the samples, which resolves it.
 */
void router_feed_was_stalled(router_t *rt);

/*
 * An operator accepts the level of `user` (len bytes) in direction `dir`
 * (DIR_SOUTH or DIR_NORTH) as its new normal: in event-time order with the
 * samples, at the feed's time now, its series rebase their profiles to
 * the level of the last hour and a shift alert resolves (shard.h). 0,
 * SW_EINVAL for a bad User or direction, SW_ENOTFOUND before any sample,
 * SW_ENOMEM.
 */
int router_accept(router_t *rt, const char *user, size_t len, int dir);

/* How long the feed may say nothing before it has stalled: feed.stall_after,
 * or stall_cadences of its own rhythm (learnt from its steps of event time,
 * two alike in a row) when that is longer: a feed of 5-minute samples is
 * not stalled between them. */
int64_t router_stall_after(const router_t *rt);

/*
 * The wall clock says nothing arrived for the stall time (live mode):
 * delivers every buffered sample and tells the shards the feed stalled,
 * once per stall. Replay never calls it: there the stall is seen when the
 * feed resumes, with the same result.
 */
void router_stall(router_t *rt);

/* End of input: delivers every buffered sample and a final tick. */
void router_finish(router_t *rt);

/* The shard that owns `user`. */
unsigned router_shard_of(const char *user, size_t len, unsigned nshards);

const router_stats_t *router_stats(const router_t *rt);
/* Records waiting in the reorder buffer, and the bytes it has allocated
 * (reorder_bytes()). */
size_t router_depth(const router_t *rt);
size_t router_buffer_bytes(const router_t *rt);

#endif
