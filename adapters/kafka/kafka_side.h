/*
 * kafka_side.h - the daemon's Kafka side (kafka_side.c): ingest from a
 * consumer group, the partitions as sources, the alerts topic, the shared
 * changes topic and the learned state that moves with partitions.
 *
 * A module of its own: it sees the run settings it was given (dk_opts_t),
 * the pipeline's stages (router, shards, alert stage: core objects), the
 * change API, and asks the rest of the daemon for the little it must
 * (dk_hooks_t): feeding a message's lines, parking the shards, how far
 * they have processed, waiting for their handoffs, queueing another
 * instance's alert line for the alert thread. It never sees daemon_t: a
 * library of its own (adapters/kafka), which the daemon links and which
 * cannot include the daemon's headers.
 *
 * DESIGN: dk_reads_ingest, dk_poll, dk_sources, dk_commit and dk_leave
 * run on the ingest thread (the consumers' callbacks with them:
 * rebalances, shared changes, other instances' alert lines, queued for the
 * alert thread); dk_alert and dk_peer_alert on the alert thread;
 * dk_share_* on HTTP threads; dk_has_state_topic and dk_checkpoint on the
 * main thread; dk_publish on shard threads; dk_stats on any thread (HTTP
 * threads, for /metrics); dk_incident_tag, dk_open and dk_close on main,
 * before the threads start and after they are joined. The producers are
 * shared (librdkafka's produce is thread-safe); the counters read by
 * dk_stats and the checkpoint's commit limit are atomics; a checkpoint's
 * staged states are main's; everything else belongs to the ingest thread.
 * A checkpoint and the states read back on assignment each park the shards
 * (dk_hooks_t.park: the daemon's checkpoint lock, held until unpark).
 *
 * Ownership: dk_open makes the dkafka_t, dk_close frees it and all it
 * opened. The strings of dk_opts_t and the handles of dk_hooks_t are
 * borrowed until dk_close (the daemon's run options and pipeline live that
 * long); both structs are copied. Lines, blobs and ids passed in are
 * borrowed for the call. Every function that takes a dkafka_t takes NULL
 * too (no Kafka): it does nothing, or answers 0.
 */
#ifndef SW_KAFKA_SIDE_H
#define SW_KAFKA_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "alerts.h"
#include "changes_api.h"
#include "pipeline.h"

typedef struct dkafka dkafka_t;

/* The run settings Kafka needs (run: section; config.h says each). */
typedef struct {
    const char *brokers;           /* NULL: no Kafka at all */
    const char *topic;             /* ingest; NULL: none */
    const char *group;             /* NULL: "stormwatch" */
    const char *alerts_topic;      /* NULL: none */
    const char *changes_topic;     /* NULL: none */
    const char *state_topic;       /* NULL: none */
    char *const *properties;       /* "key=value", for librdkafka */
    size_t nproperties;
    unsigned incident_tag;         /* dk_incident_tag()'s */
    int msgs_per_round;            /* messages taken per poll before the caller flushes */
} dk_opts_t;

/* What Kafka asks of the rest of the daemon. Each hook gets ctx. */
typedef struct {
    pipeline_t *pipe;              /* its router (ingest thread), shards (parked) and
                                      alert stage (alert thread) */
    changes_api_t *changes;        /* the shared changes are declared there (ingest thread) */
    /* Ingest thread: one message's bytes, line by line, to the router. */
    void (*feed)(void *ctx, const char *data, size_t len);
    /* Every shard has processed every record older than this (the last
     * tick each handled; acquire). Ingest and main threads. */
    int64_t (*processed_below)(void *ctx);
    /* Ingest thread: pushes the records the router gave the shards, then
     * waits up to timeout_s until every shard has handled `handoffs`
     * handoff records (acquire). */
    void (*await_handoffs)(void *ctx, unsigned handoffs, double timeout_s);
    /* Takes the checkpoint lock and parks every shard between bursts, so
     * that their tables may be read or filled: 0, or -1 when a shard did
     * not stop (logged; nothing parked, the lock released). unpark lets
     * them go and releases the lock. Main and ingest threads. */
    int (*park)(void *ctx);
    void (*unpark)(void *ctx);
    /* Ingest thread: another instance's alert line, queued for the alert
     * thread (which hands it to dk_peer_alert). 0, or SW_ENOMEM. */
    int (*queue_peer_alert)(void *ctx, const char *line, size_t len);
    void *ctx;
} dk_hooks_t;

/* What Kafka did, for /metrics. A part not open has its has_ flag 0. */
typedef struct {
    int ingesting;                 /* the ingest consumer was opened */
    uint64_t messages, partitions, beyond, commits, uncommitted;
    int has_state_topic;
    uint64_t states_out, states_failed, adopted, refused, checkpoints, checkpoint_failures;
    int has_peers;                 /* other instances' alert lines are read */
    uint64_t peer_alerts, peer_refused, peer_forgotten;
    int has_alerts_topic;
    uint64_t alerts_sent, alerts_failed;
} dk_stats_t;

/* Set-up, before dk_open: the tag of this instance's incident ids: 0
 * unless it reads a Kafka topic (where several instances may share the
 * work), else a random one, logged. */
unsigned dk_incident_tag(const dk_opts_t *o);

/* Main, before the threads start: opens what o asks for (*out stays NULL
 * without o->brokers). SW_OK, or SW_ECONFIG / SW_ENOMEM with a message;
 * *out is set as soon as it exists, so that on failure what was opened is
 * closed by dk_close with the rest. */
int dk_open(const dk_opts_t *o, const dk_hooks_t *h, dkafka_t **out, char *err, size_t errlen);
/* Main, the threads joined: commits what was taken, leaves the group,
 * flushes the producers, frees. */
void dk_close(dkafka_t *k);
/* Ingest thread: an ingest topic is read (until dk_leave). */
int dk_reads_ingest(const dkafka_t *k);

/* Ingest thread: waits up to timeout_ms for ingest messages and feeds them
 * to the router, then takes shared changes, other instances' alert lines
 * and the delivery reports of this one's. Returns the number of ingest
 * messages taken. */
int dk_poll(dkafka_t *k, int timeout_ms);
/* Ingest thread, each round: which partitions flow, which went quiet. */
void dk_sources(dkafka_t *k, double stall_s);
/* Ingest thread, every second: commits the offsets of what was taken. */
void dk_commit(dkafka_t *k);
/* Ingest thread, the daemon stopping: leaves the group, handing over what
 * it holds (with a state topic) and committing what was processed. */
void dk_leave(dkafka_t *k);

/* Alert thread: the alert line (without its newline) to the alerts topic. */
void dk_alert(dkafka_t *k, const alert_t *a, const char *line, size_t len);
/* Alert thread: another instance's alert line (the alerts topic), for the
 * alert stage to group with (alerts_remote). A line it cannot read is
 * counted and skipped. */
void dk_peer_alert(dkafka_t *k, const char *line);

/* With a state topic: every User's state out, then offsets may follow
 * (main thread, every kafka_checkpoint). */
int dk_has_state_topic(const dkafka_t *k);
void dk_checkpoint(dkafka_t *k);
/* Shard threads: a User's state to the state topic (shard_opts_t.publish). */
void dk_publish(dkafka_t *k, const char *user, unsigned src, const unsigned char *blob,
                size_t len);

/* HTTP threads: a change declared or withdrawn here, to the changes topic. */
void dk_share_declared(dkafka_t *k, const char *stored);
void dk_share_withdrawn(dkafka_t *k, const char *id);

/* Any thread: the counters now; dk_stats(NULL, out) gives zeros. */
void dk_stats(const dkafka_t *k, dk_stats_t *out);

#endif
