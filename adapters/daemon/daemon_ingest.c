/*
 * daemon_ingest.c - the daemon's side of the ingest thread: the records the
 * router hands the shards (the pipeline's to_shard transport, on the
 * ingest thread: the feed's time noted, then batched into their rings by
 * the shard threads' module, shard_threads.h), and what the ingest and Kafka
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
#include "shard_threads.h"

/* ---- the records into the shards' rings (ingest thread) ----------------- */

void dmn_deliver(void *ctx, unsigned shard, const rec_t *r)
{
    daemon_t *d = ctx;
    /* the feed's time, for the metrics: relaxed, this thread alone writes it */
    if (r->type == REC_SAMPLE && r->ts > atomic_load_explicit(&d->feed_time, memory_order_relaxed))
        atomic_store_explicit(&d->feed_time, r->ts, memory_order_relaxed);
    shards_deliver(d->shards, shard, r);
}

/* Shard threads (main before they start): the pipeline's to_alerts. */
void dmn_shard_emit(void *ctx, unsigned shard, const event_t *ev)
{
    daemon_t *d = ctx;
    shards_emit(d->shards, shard, ev);
}

/* ---- the ingest module (ingest_side.h): what it asks of the daemon ------ */

static void ingest_flush(void *ctx)
{
    daemon_t *d = ctx;
    shards_flush(d->shards);
}

/* After the last flush: the shards drain and finish (shard_threads.h:
 * a release the shards pair with). */
static void ingest_done(void *ctx)
{
    daemon_t *d = ctx;
    shards_ingest_done(d->shards);
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
 * each handled: shards_processed_below). */
static int64_t kafka_processed_below(void *ctx)
{
    daemon_t *d = ctx;
    return shards_processed_below(d->shards);
}

static void kafka_await_handoffs(void *ctx, unsigned handoffs, double timeout_s)
{
    daemon_t *d = ctx;
    shards_await_handoffs(d->shards, handoffs, timeout_s);
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

