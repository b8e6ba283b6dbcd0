/*
 * ingest_side.h - the daemon's ingest thread (ingest_side.c): ZeroMQ
 * PULL/SUB messages (and Kafka's, through the dkafka_t it is handed) in,
 * their lines to the router, the feed's stalls by the wall clock, the
 * levels operators accept handed to the router in order with the samples,
 * and the --record recording of what came in.
 *
 * A module of its own: it sees the settings it was given (di_opts_t), the
 * pipeline's router (a core object), Kafka's side (kafka_side.h), and asks
 * the rest of the daemon for the little it must (di_hooks_t): pushing the
 * records the router gave the shards into their rings, saying that the
 * last one is pushed, and the clock. It never sees daemon_t: a library of
 * its own (adapters/intake), which the daemon links and which cannot
 * include the daemon's headers. The records' way into the shards' rings
 * (batches, drop_when_full) is the daemon's: the router hands each record
 * to the pipeline's to_shard transport, on this thread.
 *
 * Threads (the daemon's names):
 *   main           di_open(), di_record(), di_use_kafka() and di_start()
 *                  before the pipeline runs; di_stop() and di_join() to end
 *                  it; di_record_flush() and di_close() once it is joined
 *                  (di_close after the HTTP server is stopped too).
 *   ingest thread  the one di_start() starts: it alone touches the
 *                  sockets, the router (from di_start to its end), the
 *                  recorder and the Kafka side's ingest calls (dk_poll,
 *                  dk_sources, dk_commit, dk_leave); di_feed() is called
 *                  on it (Kafka's feed hook, from dk_poll).
 *   HTTP threads   di_accept(): queued under the module's lock, taken by
 *                  the ingest thread each round.
 *   any thread     di_stats() (atomics; the CurveZMQ handler's own
 *                  counters).
 *
 * Ownership: di_open makes the dingest_t, di_close frees it and all it
 * opened: sockets, their monitors, the CurveZMQ handler, the recording,
 * the accepts never taken. The ZeroMQ context, the router and the dkafka_t
 * are borrowed: the context is the caller's to end after di_close, the
 * router and dkafka_t must outlive the thread. The strings of di_opts_t
 * are borrowed for di_open; both structs are copied. Bytes and Users
 * passed in are borrowed for the call. Every function takes NULL too (no
 * ingest set up): it does nothing, or answers 0 (di_accept refuses).
 */
#ifndef SW_INGEST_SIDE_H
#define SW_INGEST_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "curve.h"
#include "kafka_side.h"
#include "lineproto.h"
#include "router.h"

typedef struct dingest dingest_t;

/* The run settings ingest needs (run: section; config.h says each). */
typedef struct {
    void *zctx;                    /* the ZeroMQ context the sockets are made in */
    char *const *endpoints;        /* --ingest: bind:, connect: or sub: (CFG_MAX_INGEST at most) */
    size_t nendpoints;
    const char *curve_secret_key;  /* the server key pair; NULL: plaintext */
    const char *curve_public_key;
    const char *curve_allowed_keys; /* producer keys let in; NULL: any */
    uint64_t max_message;          /* a larger message cuts its producer off */
    int64_t drain_timeout;         /* at the stop, read what is queued this long at most (ns) */
    int msgs_per_round;            /* messages read per socket before the batches are pushed */
} di_opts_t;

/* What ingest asks of the rest of the daemon. Each hook gets ctx; all are
 * called on the ingest thread. */
typedef struct {
    router_t *router;              /* the pipeline's: the ingest thread's alone */
    /* Pushes every shard's waiting records into its ring (waiting while a
     * ring is full, or shedding as configured). */
    void (*flush)(void *ctx);
    /* Last, after the final flush: every record is pushed (release). */
    void (*done)(void *ctx);
    /* A monotonic clock, in seconds. */
    double (*now)(void);
    void *ctx;
} di_hooks_t;

/* What ingest did, for /metrics and the log. */
typedef struct {
    uint64_t msgs, lines, bytes;   /* messages, lines and bytes received */
    uint64_t bad;                  /* bad lines, every reason */
    uint64_t bad_by_result[LP_NRESULTS];
    uint64_t disconnects;          /* producers' connections closed */
    /* the router's, as of the ingest thread's last round */
    uint64_t late, ahead, stalls, source_stalls;
    uint64_t waiting, buffer_bytes; /* the reorder buffer: records waiting, bytes allocated */
    uint64_t record_errors, record_dropped; /* the recording's, as of the last round */
    uint64_t accepts_early;        /* levels accepted before any sample: nothing to accept */
    int has_curve;                 /* the CurveZMQ handler runs (curve_allowed_keys) */
    curve_auth_stats_t curve;
} di_stats_t;

/* Main, before the threads start: starts the CurveZMQ handler (if allowed
 * keys are given), then opens every endpoint. SW_OK, or SW_ECONFIG /
 * SW_EOPEN / SW_ENOMEM with a message; *out is set as soon as it exists,
 * so that on failure what was opened is closed by di_close. */
int di_open(const di_opts_t *o, const di_hooks_t *h, dingest_t **out, char *err, size_t errlen);
/* Main, before di_start: records what is ingested to path (record.h).
 * SW_OK, or SW_EOPEN with a message. */
int di_record(dingest_t *k, const char *path, uint64_t max_bytes, int gzip, char *err,
              size_t errlen);
/* Main, before di_start: Kafka, polled after ZeroMQ each round (NULL: none). */
void di_use_kafka(dingest_t *k, dkafka_t *kafka);
/* Main: starts the ingest thread. 0, or pthread_create's error. */
int di_start(dingest_t *k);
/* Main: asks the ingest thread to stop (it leaves Kafka's group, drains
 * the sockets for drain_timeout at most, finishes the router, flushes and
 * calls done); di_join waits for it. */
void di_stop(dingest_t *k);
void di_join(dingest_t *k);
/* Ingest thread: one message's bytes, recorded, then line by line to the
 * router. */
void di_feed(dingest_t *k, const char *data, size_t len);
/* HTTP threads: queues User's level in direction dir (nonzero: north) to
 * be accepted as its new normal. 0, or an SW_E* code with the reason in
 * err (SW_EINVAL without an ingest: nothing would take it). */
int di_accept(dingest_t *k, const char *user, int dir, char *err, size_t errlen);
/* Main, the ingest thread joined: flushes the recording and logs what it
 * lost. */
void di_record_flush(dingest_t *k);
/* Any thread: the counters now; di_stats(NULL, out) gives zeros. */
void di_stats(const dingest_t *k, di_stats_t *out);
/* Main, the ingest thread joined and the HTTP server stopped: closes and
 * frees. */
void di_close(dingest_t *k);

#endif
