/*
 * engine.h - detection in event time: samples in, alert transitions out.
 *
 * The engine parses lines, interns series, puts samples back in order,
 * learns baselines, runs the detectors (storm per series; blocked_route,
 * silence and fixed limits per User and direction; feed_stalled for the
 * whole feed), correlates each alert with the change register and hands
 * every transition to the caller's emit function, in event-time order.
 *
 * Time is the samples' own: the engine's clock advances with the data, so
 * the same input always gives the same transitions, whatever the machine
 * or the speed of reading.
 *
 * DESIGN: one engine is owned by one thread. It performs no I/O; emit is
 * called synchronously from engine_feed_line() and engine_finish().
 * Allocation happens only when a new series, User or alert appears or a
 * buffer grows, never per sample.
 */
#ifndef SW_ENGINE_H
#define SW_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "changes.h"
#include "checks.h"
#include "lineproto.h"
#include "params.h"
#include "shard.h"

typedef struct {
    ingest_params_t ingest;
    corr_params_t corr;
    unsigned nshards;      /* shards Users are spread over (0 or 1: one) */
    int no_south_summaries; /* no southbound levels to the alert stage (pipeline.h):
                               replay with an empty register sets it */
    int local_time;        /* profiles in the process's local time (baseline.timezone) */
    /* the detection settings of a User; called once per new User */
    const detect_params_t *(*detect_for)(void *ctx, const char *user, size_t len);
    void *detect_ctx;
    /* receives each alert transition; the alert is valid during the call */
    void (*emit)(void *ctx, const alert_t *a);
    void *emit_ctx;
    /* alerts handed to or taken from another instance (alerts.h), with
     * emit_ctx; NULL: not told */
    void (*handover)(void *ctx, const alert_t *a, int adopted);
    /* each declared change's check (checks.h), with emit_ctx; NULL: none */
    void (*check)(void *ctx, const change_check_t *c);
    /* a User's state for another instance (shard.h); NULL: never made */
    void (*publish)(void *ctx, const char *user, unsigned src, const unsigned char *blob,
                    size_t len);
    void *publish_ctx;
    /* explain every judgement of this User to `explain` (shard.h); NULL: no */
    const char *explain_user;
    FILE *explain;
    /* a shard with this many series or more gets its records in bursts
     * (pipeline_opts_t.batch_from); 0: the default */
    size_t batch_from;
} engine_opts_t;

typedef struct {
    uint64_t lines;        /* lines offered */
    uint64_t samples;      /* samples accepted into detection */
    uint64_t bad;          /* bad lines (sum of by_result over LP_BAD_*) */
    uint64_t skipped;      /* other measurements */
    uint64_t duplicates;   /* repeated (series, timestamp) */
    uint64_t conflicts;    /* repeats whose values differ from the copy kept */
    uint64_t late;         /* older than the allowed lateness */
    uint64_t ahead;        /* far ahead of the feed's time, never followed (feed.max_jump) */
    uint64_t nomem;        /* dropped: out of memory */
    uint64_t by_result[LP_NRESULTS];
    uint64_t firing;       /* firing transitions emitted */
    uint64_t resolved;     /* resolved transitions emitted */
    uint64_t feed_stalls;
    uint64_t source_stalls; /* a Kafka partition quiet while the others flowed */
    uint64_t idle_zeroes;  /* intervals filled with zero for silent series */
    uint64_t evicted;      /* series evicted under ingest.max_series */
    uint64_t refused;      /* samples of new series dropped: nothing could be evicted */
    uint64_t accepts;      /* levels accepted as normal (engine_accept), applied ... */
    uint64_t accepts_unknown; /* ... or naming a User not known */
    uint64_t handed_over;  /* samples of a source handed off before they were processed */
    uint64_t adopted;      /* alerts taken over from another instance */
    uint64_t handed_off;   /* alerts handed to another instance */
} engine_stats_t;

typedef struct engine engine_t;

/* A new engine, or NULL when out of memory. `reg` (may be NULL) is not
 * owned and must outlive the engine or be replaced first. */
engine_t *engine_create(const engine_opts_t *opts, const changes_t *reg);
/* Frees the engine; engine_destroy(NULL) is a no-op. Alerts still firing
 * are not resolved: nothing is falsely resolved on the way out. */
void engine_destroy(engine_t *e);

/* Replaces the change register used for alerts raised from now on. */
void engine_set_changes(engine_t *e, const changes_t *reg);

/* Parses and ingests one line (without its newline). Returns the parse
 * outcome; bad lines are counted in the stats and skipped. */
lp_result_t engine_feed_line(engine_t *e, const char *line, size_t len);

/*
 * Learned baselines as bytes (state.h): a new buffer in *buf that the
 * caller frees. Returns 0 or SW_ENOMEM.
 */
int engine_state_save(engine_t *e, unsigned char **buf, size_t *len);

/*
 * Loads baselines saved by engine_state_save(), before any sample is fed.
 * Returns 0, SW_EPARSE with the reason in err (nothing loaded), SW_ENOMEM,
 * or SW_EINVAL when samples were already fed.
 */
int engine_state_load(engine_t *e, const unsigned char *buf, size_t len, char *err, size_t errlen);

/* An operator accepts `user`'s level in `dir` as its new normal
 * (router_accept): 0, SW_EINVAL, SW_ENOTFOUND before any sample, SW_ENOMEM. */
int engine_accept(engine_t *e, const char *user, size_t len, int dir);

/*
 * Sources, as the daemon's router has them (router.h): the lines fed next
 * come from source `src` (a Kafka partition + 1; 0, the main feed, by
 * default); a source declared flowing or quiet; a source that went quiet
 * while the others flow. Tests drive partitions through these exactly as
 * the daemon does, on one thread.
 */
void engine_set_source(engine_t *e, unsigned src);
void engine_source_active(engine_t *e, unsigned src, int active);
void engine_source_stall(engine_t *e, unsigned src);

/*
 * Moving Users between instances, as the daemon does when Kafka moves a
 * partition: engine_handoff() hands over every User of source `src` (their
 * state to opts.publish when `publish`), drops what is buffered of it and
 * stops reading it; engine_source_assigned() reads it again; engine_adopt()
 * takes over a User from its state blob (SW_EPARSE with the reason in err,
 * SW_EINVAL, SW_ENOMEM). engine_done_below() is the event time below which
 * every sample read has been processed: what an instance may commit.
 * A User's state also goes to opts.publish once the lines of its
 * transitions are written, so an instance that dies loses none of them.
 */
void engine_handoff(engine_t *e, unsigned src, int publish);
/* Every User read from a source to opts.publish (a checkpoint). */
size_t engine_publish_all(engine_t *e);
void engine_source_assigned(engine_t *e, unsigned src);
int engine_adopt(engine_t *e, const unsigned char *blob, size_t len, char *err, size_t errlen);
int64_t engine_done_below(const engine_t *e);

/* Counts a bad line found outside the parser (e.g. too long to read). */
void engine_count_bad(engine_t *e, lp_result_t res);

/*
 * Resumes an alert that was firing when the run before stopped (shard.h:
 * shard_resume), before any sample: it goes on without a firing line and
 * resolves, with the start it fired with, when its detector clears.
 */
int engine_resume(engine_t *e, const shard_resume_t *r);

/* End of input: releases every buffered sample and closes open buckets. */
void engine_finish(engine_t *e);

const engine_stats_t *engine_stats(const engine_t *e);
size_t engine_nseries(const engine_t *e);
size_t engine_nusers(const engine_t *e);

#endif
