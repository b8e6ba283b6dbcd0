/*
 * engine.c - the whole pipeline on the caller's thread (engine.h): the
 * router, the shards and the alert stage wired together with direct
 * calls. Replay and the tests use it; the daemon runs the same three
 * stages on their own threads, joined by rings, and so detects the same.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "err.h"
#include "router.h"
#include "shard.h"
#include "state.h"

typedef struct {
    struct engine *e;
    unsigned index;
} shard_ctx_t;

struct engine {
    engine_opts_t o;
    router_t *rt;
    shard_t **shards;
    shard_ctx_t *sctx;
    alerts_t *as;
    engine_stats_t stats;
};

static const detect_params_t *default_detect(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

static void deliver(void *ctx, unsigned shard, const rec_t *r)
{
    engine_t *e = ctx;
    shard_record(e->shards[shard], r);
}

static void shard_emit(void *ctx, const event_t *ev)
{
    shard_ctx_t *sc = ctx;
    alerts_event(sc->e->as, sc->index, ev);
}

static int shard_incident_of(void *ctx, uint32_t id, uint64_t *incident, int *role, int *severity)
{
    shard_ctx_t *sc = ctx;
    return alerts_incident_of(sc->e->as, sc->index, id, incident, role, severity);
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
    unsigned n = e->o.nshards;
    e->shards = calloc(n, sizeof(*e->shards));
    e->sctx = calloc(n, sizeof(*e->sctx));
    router_opts_t ro = { .ingest = e->o.ingest, .nshards = n, .deliver = deliver, .ctx = e };
    alerts_opts_t ao = { .corr = e->o.corr, .nshards = n, .detect_for = e->o.detect_for,
                         .detect_ctx = e->o.detect_ctx, .emit = e->o.emit,
                         .emit_ctx = e->o.emit_ctx, .handover = e->o.handover };
    e->rt = router_create(&ro);
    e->as = alerts_create(&ao, reg);
    if (!e->shards || !e->sctx || !e->rt || !e->as) {
        engine_destroy(e);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        e->sctx[i] = (shard_ctx_t){ e, i };
        shard_opts_t so = { .ingest = e->o.ingest, .local_time = e->o.local_time,
                            .detect_for = e->o.detect_for,
                            .detect_ctx = e->o.detect_ctx, .emit = shard_emit,
                            .emit_ctx = &e->sctx[i], .feed_owner = i == 0,
                            .max_series = shard_share(e->o.ingest.max_series, n),
                            .publish = e->o.publish, .publish_ctx = e->o.publish_ctx,
                            .incident_of = shard_incident_of, .incident_ctx = &e->sctx[i],
                            .explain_user = e->o.explain_user, .explain = e->o.explain };
        e->shards[i] = shard_create(&so);
        if (!e->shards[i]) {
            engine_destroy(e);
            return NULL;
        }
    }
    return e;
}

void engine_destroy(engine_t *e)
{
    if (!e)
        return;
    router_destroy(e->rt);
    for (unsigned i = 0; e->shards && i < e->o.nshards; i++)
        shard_destroy(e->shards[i]);
    alerts_destroy(e->as);
    free(e->shards);
    free(e->sctx);
    free(e);
}

void engine_set_changes(engine_t *e, const changes_t *reg)
{
    alerts_set_changes(e->as, reg);
}

const engine_stats_t *engine_stats(const engine_t *e)
{
    engine_stats_t *st = &((engine_t *)e)->stats;
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
        const shard_stats_t *ss = shard_stats(e->shards[i]);
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
    size_t n = 0;
    for (unsigned i = 0; i < e->o.nshards; i++)
        n += st_nseries(shard_table(e->shards[i]));
    return n;
}

size_t engine_nusers(const engine_t *e)
{
    size_t n = 0;
    for (unsigned i = 0; i < e->o.nshards; i++)
        n += st_nusers(shard_table(e->shards[i]));
    return n;
}

/* Users whose transitions' lines are out: their state to opts.publish. */
static void publish_ready(engine_t *e)
{
    for (unsigned i = 0; i < e->o.nshards; i++)
        if (shard_publish_pending(e->shards[i]))
            shard_publish_ready(e->shards[i], alerts_released(e->as));
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
}

int engine_accept(engine_t *e, const char *user, size_t len, int dir)
{
    return router_accept(e->rt, user, len, dir);
}

void engine_source_stall(engine_t *e, unsigned src)
{
    router_source_stall(e->rt, src);
}

void engine_handoff(engine_t *e, unsigned src, int publish)
{
    router_handoff(e->rt, src, publish);
}

size_t engine_publish_all(engine_t *e)
{
    size_t n = 0;
    for (unsigned i = 0; i < e->o.nshards; i++)
        n += e->o.publish ? shard_publish_all(e->shards[i], e->o.publish, e->o.publish_ctx) : 0;
    return n;
}

void engine_source_assigned(engine_t *e, unsigned src)
{
    router_source_assigned(e->rt, src);
}

int engine_adopt(engine_t *e, const unsigned char *blob, size_t len, char *err, size_t errlen)
{
    state_user_t u;
    int rc = state_decode_user(blob, len, &u, err, errlen);
    if (rc < 0)
        return rc;
    rc = shard_adopt(e->shards[router_shard_of(u.user, u.ulen, e->o.nshards)], &u);
    state_user_free(&u);
    return rc;
}

int64_t engine_done_below(const engine_t *e)
{
    return router_done_below(e->rt);
}

int engine_resume(engine_t *e, const shard_resume_t *r)
{
    if (r->kind == ALERT_FEED) {
        int rc = shard_resume(e->shards[0], r); /* the feed owner */
        if (rc == SW_OK)
            router_feed_was_stalled(e->rt);
        return rc;
    }
    return shard_resume(e->shards[router_shard_of(r->user, strlen(r->user), e->o.nshards)], r);
}

void engine_count_bad(engine_t *e, lp_result_t res)
{
    router_count_bad(e->rt, res);
}

void engine_finish(engine_t *e)
{
    router_finish(e->rt);
    alerts_flush(e->as);
    if (e->o.publish)
        publish_ready(e);
}

int engine_state_save(engine_t *e, unsigned char **buf, size_t *len)
{
    series_table_t **t = calloc(e->o.nshards, sizeof(*t));
    if (!t)
        return SW_ENOMEM;
    for (unsigned i = 0; i < e->o.nshards; i++)
        t[i] = shard_table(e->shards[i]);
    int rc = state_encode(t, e->o.nshards, buf, len);
    free(t);
    return rc;
}

static series_table_t *table_for(void *ctx, const char *user, size_t len)
{
    engine_t *e = ctx;
    return shard_table(e->shards[router_shard_of(user, len, e->o.nshards)]);
}

static const detect_params_t *params_for(void *ctx, const char *user, size_t len)
{
    engine_t *e = ctx;
    return e->o.detect_for(e->o.detect_ctx, user, len);
}

int engine_state_load(engine_t *e, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    if (router_stats(e->rt)->lines) {
        sw_errf(err, errlen, "state must be loaded before any sample");
        return SW_EINVAL;
    }
    return state_decode(table_for, buf, len, params_for, e, err, errlen);
}
