/*
 * pipeline.c - the one wiring of detection (pipeline.h).
 */
#include "pipeline.h"

#include <stdlib.h>

#include "series.h"

struct pipeline {
    pipeline_opts_t o;
    router_t *rt;
    shard_t **shards;
    struct stage_ref {
        pipeline_t *p;
        unsigned index;
    } *refs; /* what each shard's callbacks get: the pipeline and its number */
    alerts_t *as;
    /* the direct transport's bursts (pipeline_opts_t.batch_from): each
     * shard's records waiting, oldest first; NULL with rings */
    rec_t (*burst)[PIPELINE_BURST];
    unsigned *nburst;
    size_t batch_from;
};

/* A record for a shard on this thread: at once while its series fit the
 * cache, else in a burst (a burst once begun is filled, so the order of
 * records stays theirs). */
static void to_shard_direct(void *ctx, unsigned shard, const rec_t *r)
{
    pipeline_t *p = ctx;
    unsigned n = p->nburst[shard];
    if (n == 0 && st_nseries(shard_table(p->shards[shard])) < p->batch_from) {
        shard_record(p->shards[shard], r);
        return;
    }
    p->burst[shard][n++] = *r;
    if (n == PIPELINE_BURST) {
        shard_records(p->shards[shard], p->burst[shard], n);
        n = 0;
    }
    p->nburst[shard] = n;
}

void pipeline_flush(pipeline_t *p)
{
    for (unsigned i = 0; p->nburst && i < p->o.nshards; i++)
        if (p->nburst[i]) {
            unsigned n = p->nburst[i];
            p->nburst[i] = 0;
            shard_records(p->shards[i], p->burst[i], n);
        }
}

static void to_alerts(void *ctx, const event_t *ev)
{
    struct stage_ref *ref = ctx;
    pipeline_t *p = ref->p;
    if (p->o.to_alerts)
        p->o.to_alerts(p->o.transport_ctx, ref->index, ev);
    else
        alerts_event(p->as, ref->index, ev);
}

static int incident_of(void *ctx, uint32_t id, uint64_t *incident, int *role, int *severity)
{
    struct stage_ref *ref = ctx;
    return alerts_incident_of(ref->p->as, ref->index, id, incident, role, severity);
}

pipeline_t *pipeline_create(const pipeline_opts_t *o, const changes_t *reg)
{
    pipeline_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->o = *o;
    unsigned n = p->o.nshards = o->nshards ? o->nshards : 1;
    p->shards = calloc(n, sizeof(*p->shards));
    p->refs = calloc(n, sizeof(*p->refs));
    p->batch_from = o->batch_from ? o->batch_from : PIPELINE_BATCH_FROM;
    if (!o->to_shard) {
        p->burst = calloc(n, sizeof(*p->burst));
        p->nburst = calloc(n, sizeof(*p->nburst));
        if (!p->burst || !p->nburst) {
            pipeline_destroy(p);
            return NULL;
        }
    }
    router_opts_t ro = { .ingest = o->ingest, .nshards = n,
                         .deliver = o->to_shard ? o->to_shard : to_shard_direct,
                         .ctx = o->to_shard ? o->transport_ctx : p };
    alerts_opts_t ao = { .corr = o->corr, .nshards = n, .incident_tag = o->incident_tag,
                         .detect_for = o->detect_for, .detect_ctx = o->detect_ctx,
                         .emit = o->emit, .emit_ctx = o->emit_ctx, .handover = o->handover,
                         .check = o->check };
    p->rt = router_create(&ro);
    p->as = alerts_create(&ao, reg);
    if (!p->shards || !p->refs || !p->rt || !p->as) {
        pipeline_destroy(p);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        p->refs[i] = (struct stage_ref){ p, i };
        shard_opts_t so = { .ingest = o->ingest, .local_time = o->local_time,
                            .detect_for = o->detect_for, .detect_ctx = o->detect_ctx,
                            .emit = to_alerts, .emit_ctx = &p->refs[i],
                            .feed_owner = i == 0, /* exactly one reports the feed */
                            .no_south_summaries = o->no_south_summaries,
                            .max_series = shard_share(o->ingest.max_series, n),
                            .publish = o->publish, .publish_ctx = o->publish_ctx,
                            .incident_of = incident_of, .incident_ctx = &p->refs[i],
                            .explain_user = o->explain_user, .explain = o->explain };
        if (!(p->shards[i] = shard_create(&so))) {
            pipeline_destroy(p);
            return NULL;
        }
    }
    return p;
}

void pipeline_destroy(pipeline_t *p)
{
    if (!p)
        return;
    router_destroy(p->rt);
    for (unsigned i = 0; p->shards && i < p->o.nshards; i++)
        shard_destroy(p->shards[i]);
    alerts_destroy(p->as);
    free(p->shards);
    free(p->refs);
    free(p->burst);
    free(p->nburst);
    free(p);
}

unsigned pipeline_nshards(const pipeline_t *p)
{
    return p->o.nshards;
}

router_t *pipeline_router(const pipeline_t *p)
{
    return p->rt;
}

shard_t *pipeline_shard(const pipeline_t *p, unsigned i)
{
    return p->shards[i];
}

alerts_t *pipeline_alerts(const pipeline_t *p)
{
    return p->as;
}

unsigned pipeline_shard_of(const pipeline_t *p, const char *user, size_t len)
{
    return router_shard_of(user, len, p->o.nshards);
}
