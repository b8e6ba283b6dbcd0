/*
 * shard_threads.h - the daemon's shard threads: one thread per shard of
 * the pipeline, fed records through a ring from the ingest thread, handing
 * its events through a ring to the alert thread.
 *
 * A module of its own: it sees the pipeline's shards (pipeline.h,
 * shard.h), never the alert stage's insides or daemon_t. What it reads
 * from elsewhere it is given: the pipeline, plain settings, the function
 * that rebinds a shard's detection settings to a config, and the alert
 * thread's "alerts released" event time (read with acquire). The end of
 * ingest, a new config, a checkpoint's pause reach it through calls.
 *
 * Threads (the daemon's names):
 *   main          shards_create() after the pipeline, before anything is
 *                 resumed into a shard; shards_start() and shards_join();
 *                 shards_destroy() after joining. Before shards_start(),
 *                 main may emit into the out rings (resumed alerts:
 *                 shard_resume() through the pipeline's to_alerts).
 *                 shards_publish_config() and shards_config_taken() on a
 *                 reload; shards_park_all()/shards_unpark_all() at a
 *                 checkpoint.
 *   ingest        shards_deliver() (the pipeline's to_shard transport),
 *                 shards_flush(), shards_ingest_done(); for Kafka
 *                 shards_processed_below() and shards_await_handoffs(),
 *                 and shards_park_all()/shards_unpark_all() to adopt
 *                 states into parked shards. The batches and the shed
 *                 state are this thread's alone.
 *   shard i       shards_emit(shards, i, ...) (the pipeline's to_alerts
 *                 transport): the one producer of out ring i while it runs
 *                 a burst; whoever calls into a shard that is not running
 *                 (main before start, the ingest thread adopting Kafka
 *                 states into a parked shard) produces for it meanwhile.
 *   alert thread  shards_pop_events() and shards_all_done(): the one
 *                 consumer of every out ring.
 *   any thread    shards_count(), shards_stat() (atomics and ring depths).
 * Park and unpark are called by one thread at a time (the daemon holds
 * its checkpoint lock around each pair).
 *
 * Memory orderings that pair across threads:
 *   - shards_ingest_done() stores `ingest done` with release; a shard
 *     thread loads it with acquire, so a last pop after seeing it finds
 *     every record pushed before.
 *   - a shard thread raises its `done` with release on exit; the alert
 *     thread (shards_all_done) loads it with acquire: every event the
 *     shard pushed is visible, and an empty out ring then stays empty.
 *   - a shard publishes the event time of the last tick it handled
 *     (`processed`) and its count of handoffs with release after the
 *     burst; shards_processed_below() and shards_await_handoffs() load
 *     them with acquire: what the shard did before is done.
 *   - shards_park_all() stores the pause request with release; a shard
 *     stores `parked` with release once stopped between bursts (every
 *     write to its table before it), which park_all loads with acquire;
 *     shards_unpark_all() clears the request with release, which the
 *     parked shard loads with acquire: the caller's reads and writes of
 *     the tables come before the shard's next write.
 *   - shards_publish_config() stores the config with release and bumps
 *     the generation (acq_rel); a shard loads the generation, then the
 *     config, with acquire, rebinds, and acknowledges with release;
 *     shards_config_taken() loads the acknowledgements with acquire: no
 *     shard reads the old config after it says yes.
 *   - before publishing states (the pipeline's publish), a shard loads
 *     the alert thread's alerts_released with acquire, pairing with that
 *     thread's release once the lines below it are written.
 *
 * Ownership: shards_create() makes the shards_t and its rings;
 * shards_destroy() frees them (the threads joined first). The pipeline,
 * its shards and the alerts_released atomic are borrowed and must outlive
 * the shards_t. A published config is borrowed until shards_config_taken()
 * says every shard has left it for a newer one. Records and events are
 * copied into the rings.
 */
#ifndef SW_SHARD_THREADS_H
#define SW_SHARD_THREADS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "params.h"
#include "pipeline.h"
#include "reorder.h"

typedef struct shards shards_t;

typedef struct {
    pipeline_t *pipe;            /* shard i is pipeline_shard(pipe, i): one thread each */
    size_t ring_size;            /* records per in ring (a power of two); out rings hold
                                    a quarter as many events */
    int drop_when_full;          /* run.drop_when_full: shed samples (counted) when a
                                    ring stays full, rather than wait */
    /* a User's detection settings in a published config (ctx), for
     * shard_rebind() */
    const detect_params_t *(*detect_for)(void *ctx, const char *user, size_t len);
    /* the alert thread's: every line below this event time is written
     * (loaded with acquire before a shard publishes states) */
    const _Atomic int64_t *alerts_released;
} shards_opts_t;

/* One shard's counters, for the metrics and the stats line. */
typedef struct {
    uint64_t ring_depth;         /* records in its in ring now */
    uint64_t in_waits, in_drops; /* full in ring: waits of the ingest thread, samples shed */
    uint64_t out_waits;          /* full out ring: waits of the shard thread */
    /* as the shard thread published them after its last burst */
    uint64_t samples, duplicates, conflicts, series, evicted, refused, sheds;
    uint64_t accepts, accepts_unknown;
    uint64_t learning;           /* series still learning (shard_learning) */
} shards_stat_t;

/* Main: the threads of o->pipe's shards, not started, with their rings.
 * SW_OK, or SW_ENOMEM with nothing made. */
int shards_create(const shards_opts_t *o, shards_t **out);
/* Main, after shards_join() (or before shards_start()): frees the rings
 * and the shards_t. NULL is a no-op. */
void shards_destroy(shards_t *s);
/* Any thread: the number of shards. */
unsigned shards_count(const shards_t *s);

/* Main: starts every shard's thread. 0, or pthread_create's error with
 * *failed the shard that did not start: the ones before it run, the rest
 * count as done (so the alert thread can finish); the caller then calls
 * shards_ingest_done() and shards_join(). */
int shards_start(shards_t *s, unsigned *failed);
/* Main: joins the threads started (they finish after shards_ingest_done()). */
void shards_join(shards_t *s);

/* Ingest thread, as the pipeline's to_shard transport: batches a record
 * for shard `shard`'s ring (pushed when the batch is full). */
void shards_deliver(shards_t *s, unsigned shard, const rec_t *r);
/* Ingest thread: pushes every shard's waiting records into its ring,
 * waiting while a ring is full, or shedding samples after a grace with
 * drop_when_full. */
void shards_flush(shards_t *s);
/* Ingest thread, after its last flush: the shards drain their rings and
 * finish (release: see above). */
void shards_ingest_done(shards_t *s);
/* Ingest thread (Kafka): every shard has processed every record older
 * than this (the last tick each handled; INT64_MIN before any). */
int64_t shards_processed_below(const shards_t *s);
/* Ingest thread (Kafka): flushes, then waits up to timeout_s until every
 * shard has handled `handoffs` REC_HANDOFF records. */
void shards_await_handoffs(shards_t *s, unsigned handoffs, double timeout_s);

/* Shard thread `shard`, as the pipeline's to_alerts transport (or whoever
 * calls into the shard while it does not run: see above): an event into
 * its out ring, waiting (counted) while the ring is full. */
void shards_emit(shards_t *s, unsigned shard, const event_t *ev);

/* Alert thread: up to max events of shard `shard`, in its order. */
size_t shards_pop_events(shards_t *s, unsigned shard, event_t *buf, size_t max);
/* Alert thread: 1 when every shard has finished and its out ring is empty. */
int shards_all_done(const shards_t *s);

/* Main or the ingest thread, one at a time: parks every shard between
 * bursts (ingest queues up behind them, or sheds if told to) so that their
 * tables may be read or filled by the caller. 0, or -1 when shard *stuck
 * did not stop within wait_s (nothing is parked then). A finished shard
 * counts as parked. */
int shards_park_all(shards_t *s, double wait_s, unsigned *stuck);
/* The caller of a successful shards_park_all(): lets the shards go. */
void shards_unpark_all(shards_t *s);

/* Main, on a reload: publishes detect_ctx (a config, borrowed) for the
 * shards to rebind to between two bursts. The generation to wait for. */
unsigned shards_publish_config(shards_t *s, void *detect_ctx);
/* Main: 1 when every shard has acknowledged generation gen (or finished):
 * none reads an older config any more. */
int shards_config_taken(const shards_t *s, unsigned gen);

/* Any thread: shard i's counters (relaxed: recent totals). */
void shards_stat(const shards_t *s, unsigned i, shards_stat_t *st);

#endif
