/*
 * daemon_ingest.c - the daemon's side of the ingest thread: the records the
 * router hands the shards, batched into their rings (the pipeline's
 * to_shard transport, on the ingest thread), and what the ingest and Kafka
 * modules ask of the daemon (di_hooks_t, dk_hooks_t). The ingest thread
 * itself is a module (adapters/intake/ingest_side.h), as Kafka's side is
 * (adapters/kafka/kafka_side.h): neither sees daemon_t.
 *
 * daemon_int.h is what the daemon's files share; daemon.c says which
 * thread does what.
 */
#include "daemon_int.h"
#include "ingest_side.h"
#include "kafka_side.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "monotime.h"
#include "pipeline.h"
#include "ring.h"

/* ---- the records into the shards' rings (ingest thread) ----------------- */

/*
 * With run.drop_when_full, what is left of shard s's batch from `from` on
 * when its ring stayed full: its samples are shed (counted), its control
 * records kept (the shard needs every tick, stall and gap). The first
 * sample of each run of shed samples becomes a REC_SHED at its time, so
 * the shard stops judging at the point the hole begins: no series reads a
 * shed sample as silence, no idle sweep fills the hole with zeroes.
 */
static void shed(shard_thr_t *s, size_t from)
{
    size_t keep = from, dropped = 0;
    for (size_t i = from; i < s->nbatch; i++) {
        rec_t *r = &s->batch[i];
        if (r->type != REC_SAMPLE) {
            s->batch[keep++] = *r;
            continue;
        }
        dropped++;
        if (!s->in_shed) {
            s->batch[keep++] = (rec_t){ .type = REC_SHED, .ts = r->ts, .aux = r->ts };
            s->in_shed = 1;
        }
    }
    s->nbatch = keep;
    /* counted for the stats thread: relaxed, it only reads a total */
    atomic_fetch_add_explicit(&s->in_drops, dropped, memory_order_relaxed);
}

/* Pushes shard i's batch, waiting while its ring is full; with
 * run.drop_when_full, sheds its samples once the ring has stayed full
 * for DROP_GRACE_NS (a shard that is behind, not one between two naps). */
static void push_batch(daemon_t *d, shard_thr_t *s)
{
    size_t done = 0;
    long idle = IDLE_MIN_NS, waited = 0;
    while (done < s->nbatch) {
        size_t n = ring_push_spsc(s->in, s->batch + done, s->nbatch - done);
        for (size_t i = done; i < done + n && s->in_shed; i++)
            s->in_shed = s->batch[i].type != REC_SAMPLE; /* a sample got through */
        done += n;
        if (done == s->nbatch)
            break;
        if (d->o.r.drop_when_full && waited >= DROP_GRACE_NS) {
            shed(s, done);
            if (done == s->nbatch)
                break;
        }
        atomic_fetch_add_explicit(&s->in_waits, 1, memory_order_relaxed);
        waited += idle;
        dmn_nap(&idle);
    }
    s->nbatch = 0;
}

void dmn_deliver(void *ctx, unsigned shard, const rec_t *r)
{
    daemon_t *d = ctx;
    shard_thr_t *s = &d->sh[shard];
    /* the feed's time, for the metrics: relaxed, this thread alone writes it */
    if (r->type == REC_SAMPLE && r->ts > atomic_load_explicit(&d->feed_time, memory_order_relaxed))
        atomic_store_explicit(&d->feed_time, r->ts, memory_order_relaxed);
    s->batch[s->nbatch++] = *r;
    if (s->nbatch == BATCH)
        push_batch(d, s);
}

void dmn_flush_batches(daemon_t *d)
{
    for (unsigned i = 0; i < d->nshards; i++)
        if (d->sh[i].nbatch)
            push_batch(d, &d->sh[i]);
}

/* ---- the ingest module (ingest_side.h): what it asks of the daemon ------ */

static void ingest_flush(void *ctx)
{
    dmn_flush_batches(ctx);
}

static void ingest_done(void *ctx)
{
    daemon_t *d = ctx;
    /* pairs with the acquire load in shard_main: every record pushed
     * before is visible to a shard that sees ingest_done */
    atomic_store_explicit(&d->ingest_done, 1, memory_order_release);
}

int dmn_open_ingest(daemon_t *d, char *err, size_t errlen)
{
    const run_cfg_t *r = &d->o.r;
    di_opts_t o = { .zctx = d->zctx, .endpoints = r->ingest, .nendpoints = r->n_ingest,
                    .curve_secret_key = r->curve.secret_key,
                    .curve_public_key = r->curve.public_key,
                    .curve_allowed_keys = r->curve.allowed_keys,
                    .max_message = r->max_message, .drain_timeout = r->drain_timeout,
                    .msgs_per_round = MSGS_PER_ROUND };
    di_hooks_t h = { .router = pipeline_router(d->pipe), .flush = ingest_flush,
                     .done = ingest_done, .now = sw_mono_s, .ctx = d };
    return di_open(&o, &h, &d->in, err, errlen);
}

/* ---- Kafka (kafka_side.h): what it asks of the daemon -------------------- */

/* Shard threads: a User's state, to the state topic (d->kafka is set
 * before the shards start). */
void dmn_kafka_publish(void *ctx, const char *user, unsigned src, const unsigned char *blob,
                          size_t len)
{
    daemon_t *d = ctx;
    dk_publish(d->kafka, user, src, blob, len);
}

/* Ingest thread (dk_poll): a message's lines, through the ingest module. */
static void kafka_feed(void *ctx, const char *data, size_t len)
{
    daemon_t *d = ctx;
    di_feed(d->in, data, len);
}

/* Every shard has processed every record older than this (the last tick
 * each handled; acquire pairs with the shard thread's release). */
static int64_t kafka_processed_below(void *ctx)
{
    daemon_t *d = ctx;
    int64_t done = INT64_MAX;
    for (unsigned i = 0; i < d->nshards; i++) {
        int64_t p = atomic_load_explicit(&d->sh[i].processed, memory_order_acquire);
        if (p < done)
            done = p;
    }
    return done;
}

static void kafka_await_handoffs(void *ctx, unsigned handoffs, double timeout_s)
{
    daemon_t *d = ctx;
    dmn_flush_batches(d);
    /* acquire pairs with the shard thread's release after the handoff */
    double give_up = sw_mono_s() + timeout_s;
    long idle = IDLE_MIN_NS;
    for (unsigned i = 0; i < d->nshards; i++)
        while (atomic_load_explicit(&d->sh[i].handoffs, memory_order_acquire) < handoffs &&
               sw_mono_s() < give_up)
            dmn_nap(&idle);
}

/* A Kafka checkpoint (main) or the states read back (ingest thread), one
 * at a time with --state's checkpoints: under ckpt_lock. */
static int kafka_park(void *ctx)
{
    daemon_t *d = ctx;
    pthread_mutex_lock(&d->st.ckpt_lock);
    if (dmn_park_all(d) < 0) {
        pthread_mutex_unlock(&d->st.ckpt_lock);
        return -1;
    }
    return 0;
}

static void kafka_unpark(void *ctx)
{
    daemon_t *d = ctx;
    dmn_unpark_all(d);
    pthread_mutex_unlock(&d->st.ckpt_lock);
}

static int kafka_queue_peer_alert(void *ctx, const char *line, size_t len)
{
    return dmn_queue_peer_alert(ctx, line, len);
}

/* The run settings Kafka is given. */
dk_opts_t dmn_kafka_opts(const daemon_t *d)
{
    const run_cfg_t *r = &d->o.r;
    return (dk_opts_t){ .brokers = r->kafka_brokers, .topic = r->kafka_topic,
                        .group = r->kafka_group, .alerts_topic = r->kafka_alerts_topic,
                        .changes_topic = r->kafka_changes_topic,
                        .state_topic = r->kafka_state_topic, .properties = r->kafka_properties,
                        .nproperties = r->n_kafka_properties, .incident_tag = d->incident_tag,
                        .msgs_per_round = MSGS_PER_ROUND };
}

/* After dmn_open_ingest: the ingest thread polls what dk_open made. */
int dmn_open_kafka(daemon_t *d, char *err, size_t errlen)
{
    dk_opts_t o = dmn_kafka_opts(d);
    dk_hooks_t h = { .pipe = d->pipe, .changes = d->web.api, .feed = kafka_feed,
                     .processed_below = kafka_processed_below,
                     .await_handoffs = kafka_await_handoffs, .park = kafka_park,
                     .unpark = kafka_unpark, .queue_peer_alert = kafka_queue_peer_alert,
                     .ctx = d };
    int rc = dk_open(&o, &h, &d->kafka, err, errlen);
    if (rc == SW_OK)
        di_use_kafka(d->in, d->kafka);
    return rc;
}

