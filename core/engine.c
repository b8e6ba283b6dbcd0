/*
 * engine.c - the whole pipeline on the caller's thread (engine.h): the
 * router, the shards and the alert stage wired together with direct
 * calls (pipeline.h, which the daemon wires with rings instead). Replay
 * and the tests use it.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "err.h"
#include "pipeline.h"
#include "router.h"
#include "shard.h"
#include "state.h"

struct engine {
    engine_opts_t o;
    pipeline_t *p;   /* the stages, wired with direct calls */
    router_t *rt;    /* p's, for short */
    alerts_t *as;
    engine_stats_t stats;
};

/* The records of the lines fed so far all delivered (pipeline_flush).
 * A call that reads or changes the stages' state brings them up to date
 * first, and one that sends the router's records (a hand-off, an accept, a
 * stall) delivers them before it returns, as before records came in
 * bursts; only feeding a line (and what only sets the router up for the
 * next lines) leaves records waiting. Through a const engine_t it only
 * brings the state up to date. */
static void sync(const engine_t *e)
{
    pipeline_flush(((engine_t *)e)->p);
}

static const detect_params_t *default_detect(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

engine_t *engine_create(const engine_opts_t *opts, const changes_t *reg)
{
    engine_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->o = *opts;
    if (e->o.nshards == 0)
        e->o.nshards = 1;
    if (!e->o.detect_for) {
        static detect_params_t defaults;
        static int init;
        if (!init) {
            detect_params_defaults(&defaults);
            init = 1;
        }
        e->o.detect_for = default_detect;
        e->o.detect_ctx = &defaults;
    }
    pipeline_opts_t po = { .ingest = e->o.ingest, .corr = e->o.corr, .nshards = e->o.nshards,
                           .no_south_summaries = e->o.no_south_summaries,
                           .local_time = e->o.local_time, .detect_for = e->o.detect_for,
                           .detect_ctx = e->o.detect_ctx, .emit = e->o.emit,
                           .emit_ctx = e->o.emit_ctx, .handover = e->o.handover,
                           .check = e->o.check,
                           .publish = e->o.publish, .publish_ctx = e->o.publish_ctx,
                           .explain_user = e->o.explain_user, .explain = e->o.explain,
                           .batch_from = e->o.batch_from };
    if (!(e->p = pipeline_create(&po, reg))) {
        free(e);
        return NULL;
    }
    e->rt = pipeline_router(e->p);
    e->as = pipeline_alerts(e->p);
    return e;
}

void engine_destroy(engine_t *e)
{
    if (!e)
        return;
    pipeline_destroy(e->p);
    free(e);
}

void engine_set_changes(engine_t *e, const changes_t *reg)
{
    sync(e);
    alerts_set_changes(e->as, reg);
}

const engine_stats_t *engine_stats(const engine_t *e)
{
    engine_stats_t *st = &((engine_t *)e)->stats;
    sync(e);
    const router_stats_t *rs = router_stats(e->rt);
    const alerts_stats_t *as = alerts_stats(e->as);
    *st = (engine_stats_t){
        .lines = rs->lines, .bad = rs->bad, .skipped = rs->skipped, .late = rs->late,
        .ahead = rs->ahead,
        .nomem = rs->nomem + as->nomem, .firing = as->firing, .resolved = as->resolved,
        .feed_stalls = rs->feed_stalls, .source_stalls = rs->source_stalls,
        .handed_over = rs->handed_over, .adopted = as->adopted, .handed_off = as->handed_off,
    };
    memcpy(st->by_result, rs->by_result, sizeof(st->by_result));
    for (unsigned i = 0; i < e->o.nshards; i++) {
        const shard_stats_t *ss = shard_stats(pipeline_shard(e->p, i));
        st->samples += ss->samples;
        st->duplicates += ss->duplicates;
        st->conflicts += ss->conflicts;
        st->idle_zeroes += ss->idle_zeroes;
        st->nomem += ss->nomem;
        st->evicted += ss->evicted;
        st->accepts += ss->accepts;
        st->accepts_unknown += ss->accepts_unknown;
        st->refused += ss->refused;
    }
    return st;
}

size_t engine_nseries(const engine_t *e)
{
    sync(e);
    size_t n = 0;
    for (unsigned i = 0; i < e->o.nshards; i++)
        n += st_nseries(shard_table(pipeline_shard(e->p, i)));
    return n;
}

size_t engine_nusers(const engine_t *e)
{
    sync(e);
    size_t n = 0;
    for (unsigned i = 0; i < e->o.nshards; i++)
        n += st_nusers(shard_table(pipeline_shard(e->p, i)));
    return n;
}

/* Users whose transitions' lines are out: their state to opts.publish. */
static void publish_ready(engine_t *e)
{
    sync(e);
    for (unsigned i = 0; i < e->o.nshards; i++)
        if (shard_publish_pending(pipeline_shard(e->p, i)))
            shard_publish_ready(pipeline_shard(e->p, i), alerts_released(e->as));
}

lp_result_t engine_feed_line(engine_t *e, const char *line, size_t len)
{
    lp_result_t r = router_feed_line(e->rt, line, len);
    if (e->o.publish)
        publish_ready(e);
    return r;
}

void engine_set_source(engine_t *e, unsigned src)
{
    router_set_source(e->rt, src);
}

void engine_source_active(engine_t *e, unsigned src, int active)
{
    router_source_active(e->rt, src, active);
    sync(e);
}

int engine_accept(engine_t *e, const char *user, size_t len, int dir)
{
    int rc = router_accept(e->rt, user, len, dir);
    sync(e);
    return rc;
}

void engine_source_stall(engine_t *e, unsigned src)
{
    router_source_stall(e->rt, src);
    sync(e);
}

void engine_handoff(engine_t *e, unsigned src, int publish)
{
    router_handoff(e->rt, src, publish);
    sync(e);
}

size_t engine_publish_all(engine_t *e)
{
    sync(e);
    size_t n = 0;
    for (unsigned i = 0; i < e->o.nshards; i++)
        n += e->o.publish ? shard_publish_all(pipeline_shard(e->p, i), e->o.publish, e->o.publish_ctx) : 0;
    return n;
}

void engine_source_assigned(engine_t *e, unsigned src)
{
    router_source_assigned(e->rt, src);
    sync(e);
}

int engine_adopt(engine_t *e, const unsigned char *blob, size_t len, char *err, size_t errlen)
{
    sync(e);
    state_user_t u;
    int rc = state_decode_user(blob, len, &u, err, errlen);
    if (rc < 0)
        return rc;
    rc = shard_adopt(pipeline_shard(e->p, pipeline_shard_of(e->p, u.user, u.ulen)), &u);
    state_user_free(&u);
    return rc;
}

int64_t engine_done_below(const engine_t *e)
{
    sync(e);
    return router_done_below(e->rt);
}

int engine_resume(engine_t *e, const shard_resume_t *r)
{
    sync(e);
    if (r->kind == ALERT_FEED) {
        int rc = shard_resume(pipeline_shard(e->p, 0), r); /* the feed owner */
        if (rc == SW_OK)
            router_feed_was_stalled(e->rt);
        return rc;
    }
    return shard_resume(pipeline_shard(e->p, pipeline_shard_of(e->p, r->user, strlen(r->user))), r);
}

void engine_count_bad(engine_t *e, lp_result_t res)
{
    router_count_bad(e->rt, res);
}

void engine_finish(engine_t *e)
{
    router_finish(e->rt);
    sync(e);
    alerts_end_of_input(e->as);
    if (e->o.publish)
        publish_ready(e);
    sync(e);
}

int engine_state_save(engine_t *e, unsigned char **buf, size_t *len)
{
    sync(e);
    series_table_t **t = calloc(e->o.nshards, sizeof(*t));
    if (!t)
        return SW_ENOMEM;
    for (unsigned i = 0; i < e->o.nshards; i++)
        t[i] = shard_table(pipeline_shard(e->p, i));
    int rc = state_encode(t, e->o.nshards, buf, len);
    free(t);
    return rc;
}

static series_table_t *table_for(void *ctx, const char *user, size_t len)
{
    engine_t *e = ctx;
    return shard_table(pipeline_shard(e->p, pipeline_shard_of(e->p, user, len)));
}

static const detect_params_t *params_for(void *ctx, const char *user, size_t len)
{
    engine_t *e = ctx;
    return e->o.detect_for(e->o.detect_ctx, user, len);
}

int engine_state_load(engine_t *e, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    sync(e);
    if (router_stats(e->rt)->lines) {
        sw_errf(err, errlen, "state must be loaded before any sample");
        return SW_EINVAL;
    }
    return state_decode(table_for, buf, len, params_for, e, err, errlen);
}
