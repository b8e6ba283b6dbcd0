/*
 * pipeline.h - the one wiring of detection: router -> shards -> alert stage.
 *
 * Which stages there are, what options each gets (the shards' share of the
 * series limit, the one shard that owns the feed's clock, who answers a
 * shard's question about an alert's incident) and who feeds whom is set
 * here, once. Replay and the tests run the pipeline on one thread with
 * direct calls between the stages (engine.h); the daemon runs each stage on
 * threads of its own and gives the two transports below, which put rings
 * between them. Either way the same records reach the same stages in the
 * same order per shard, so both detect the same.
 *
 * DESIGN: the pipeline owns its router, shards and alert stage, and frees
 * them; it runs nothing itself. With direct transports everything happens
 * on the caller's thread. With the daemon's: the router is the ingest
 * thread's, shard i its thread's, the alert stage the alert thread's
 * (alerts_incident_of, which the shards ask, takes the stage's lock).
 */
#ifndef SW_PIPELINE_H
#define SW_PIPELINE_H

#include <stdio.h>

#include "alerts.h"
#include "changes.h"
#include "event.h"
#include "params.h"
#include "reorder.h"
#include "router.h"
#include "shard.h"

typedef struct {
    ingest_params_t ingest;
    corr_params_t corr;
    unsigned nshards;      /* 0 or 1: one */
    int local_time;        /* profiles in the process's local time */
    unsigned incident_tag; /* the instance's tag in incident ids (alert.h) */
    int no_south_summaries; /* nothing reads southbound levels (shard.h): replay
                               with no change or forecast to judge */
    /* the detection settings of a User */
    const detect_params_t *(*detect_for)(void *ctx, const char *user, size_t len);
    void *detect_ctx;
    /* the alert stage's output: each transition, and alerts handed over */
    void (*emit)(void *ctx, const alert_t *a);
    void *emit_ctx;
    void (*handover)(void *ctx, const alert_t *a, int adopted);
    /* each change's check, with emit_ctx (alerts.h); NULL: none made */
    void (*check)(void *ctx, const change_check_t *c);
    /* a User's state for another instance (shard.h); NULL: never made */
    shard_publish_fn publish;
    void *publish_ctx;
    /* explain every judgement of this User (shard.h); NULL: no */
    const char *explain_user;
    FILE *explain;
    /* Transports. NULL: a direct call (router -> shard_record, shard ->
     * alerts_event). Otherwise the record for shard `shard`, or the event
     * of shard `shard`, goes here; the caller delivers it to that stage
     * later, in the same order (the daemon: one ring per shard each way). */
    void (*to_shard)(void *ctx, unsigned shard, const rec_t *r);
    void (*to_alerts)(void *ctx, unsigned shard, const event_t *ev);
    void *transport_ctx;
    /* The direct transport to shards: a shard holding this many series or
     * more gets its records in bursts of PIPELINE_BURST (shard_records,
     * which fetches a burst's series ahead: their state no longer fits the
     * cache); 0: PIPELINE_BATCH_FROM. The same records in the same order
     * either way. */
    size_t batch_from;
} pipeline_opts_t;

#define PIPELINE_BURST 64
#define PIPELINE_BATCH_FROM 4096 /* series: 3 MB of their state */

typedef struct pipeline pipeline_t;

/* A new pipeline, or NULL when out of memory. `reg` (may be NULL) is not
 * owned: it must outlive the pipeline or be replaced first. */
pipeline_t *pipeline_create(const pipeline_opts_t *o, const changes_t *reg);
/* Frees the three stages; NULL is a no-op. Nothing firing is resolved. */
void pipeline_destroy(pipeline_t *p);

unsigned pipeline_nshards(const pipeline_t *p);
router_t *pipeline_router(const pipeline_t *p);
shard_t *pipeline_shard(const pipeline_t *p, unsigned i);
alerts_t *pipeline_alerts(const pipeline_t *p);
/* With the direct transport, up to PIPELINE_BURST records for each shard
 * may wait to be delivered together: this delivers them. Whoever reads or
 * changes a stage's state other than through records (the engine's calls
 * other than feeding a line) flushes first. A no-op with rings. */
void pipeline_flush(pipeline_t *p);

/* The shard that owns User `user` (router_shard_of). */
unsigned pipeline_shard_of(const pipeline_t *p, const char *user, size_t len);

#endif
