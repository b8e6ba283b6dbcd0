/*
 * daemon.c - `stormwatch run`: the live detector (contract section 5).
 *
 * Threads and what joins them:
 *
 *   ingest (1)  ZeroMQ PULL/SUB sockets -> router: parse, order, route
 *        |      one SPSC ring of records per shard
 *   shard (N)   shard_record(): series, baselines, detectors
 *        |      one SPSC ring of events per shard
 *   alerts (1)  alerts_event(): merge, correlate, blast radius -> sinks
 *   main        signals, reloads, the periodic log line, state on exit
 *
 * DESIGN: each ring has exactly one producer and one consumer thread.
 * Stopping flows down the pipeline: the ingest thread stops reading,
 * drains its router and raises ingest_done (release); a shard exits once
 * it has seen ingest_done (acquire) and an empty ring, then raises its
 * done flag; the alert thread exits once every shard is done and every
 * event ring empty, after releasing all held events. Nothing is resolved
 * on the way out. A reload is handed over through atomic pointers: the
 * main thread publishes a new config or register and a generation; each
 * consuming thread switches between two bursts and acknowledges; the main
 * thread frees the old one only when every consumer has acknowledged.
 * A full ring makes its producer wait (counted), so ZeroMQ's high-water
 * mark pushes back on the DSP; or, when so configured, drop (counted).
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>

#include "alerts.h"
#include "changes_api.h"
#include "http.h"
#include "changes_yaml.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "fileio.h"
#include "log.h"
#include "record.h"
#include "ring.h"
#include "router.h"
#include "shard.h"
#include "sink_am.h"
#include "sink_zmq.h"
#include "state.h"
#include "statefile.h"
#include "kafka.h"
#include "timefmt.h"

#ifndef SW_BUILD_VERSION
#define SW_BUILD_VERSION "dev"
#endif

#define MAX_INGEST 16
#define BATCH 64               /* records or events moved per ring call */
#define POLL_MS 100            /* ingest wakes this often to check the clock */
#define MSGS_PER_ROUND 64      /* messages read before flushing batches */
#define KAFKA_POLL_MS 10       /* ZeroMQ's wait when Kafka is read too */
#define KAFKA_COMMIT_S 1.0     /* offsets of what was taken are committed this often */
#define KSTATE_MAX 64          /* instances whose state is kept from the state topic */
#define IDLE_MIN_NS 20000      /* idle shards back off from 20 us ... */
#define IDLE_MAX_NS 2000000    /* ... to 2 ms */
/* The alert thread needs no microseconds: alerts are wanted within a
 * second, and on two cores its wake-ups are CPU taken from the pipeline. */
#define ALERTS_IDLE_NS 1000000

static const char usage[] =
    "usage: stormwatch run [--config FILE] [--changes FILE] [--state FILE]\n"
    "                      [--ingest ENDPOINT]... [--alerts FILE] [--pub ENDPOINT]\n"
    "                      [--shards N] [--record FILE] [options]\n"
    "\n"
    "Runs the detector live on the DSP's counter feed over ZeroMQ and writes alert\n"
    "lines as they happen. Runs in the foreground and logs to standard error.\n"
    "Every flag overrides the same setting of the config file's run: section.\n"
    "\n"
    "  -c, --config FILE      detection settings (YAML); built-in defaults otherwise\n"
    "  -C, --changes FILE     declared changes (YAML); SIGHUP reloads it and the config\n"
    "  -s, --state FILE       load learned baselines at start, save them on exit\n"
    "  -i, --ingest ENDPOINT  receive samples (repeatable):\n"
    "                           tcp://127.0.0.1:5557          bind a PULL socket\n"
    "                           connect:tcp://HOST:PORT       connect a PULL socket\n"
    "                           sub:tcp://HOST:PORT[#TOPIC]   connect a SUB socket\n"
    "  -a, --alerts FILE      append alert lines to FILE ('-': standard output, the\n"
    "                         default when no other sink is given)\n"
    "      --pub ENDPOINT     publish alerts on a ZeroMQ PUB socket (topic: the kind)\n"
    "      --alertmanager URL send alerts to the Alertmanager at URL (API v2), e.g.\n"
    "                         http://127.0.0.1:9093; repeatable: each gets every alert\n"
    "      --alertmanager-queue FILE  where alerts not yet delivered persist (default\n"
    "                         stormwatch-alertmanager.queue)\n"
    "      --shards N         detection threads (default: cores - 1, at least 1)\n"
    "      --ring-size N      records per shard ring (default 65536)\n"
    "      --drop-when-full   drop samples when a shard is behind (counted), instead\n"
    "                         of pausing ingest so ZeroMQ pushes back on producers\n"
    "      --record FILE      record what was ingested as line protocol\n"
    "      --record-max BYTES rotate the recording at this size (default 1 GiB)\n"
    "      --record-gzip      gzip the recording\n"
    "      --curve-secret FILE, --curve-public FILE\n"
    "                         CurveZMQ server key pair (Z85 files) for ingest sockets\n"
    "      --curve-allow FILE producer public keys allowed to connect (all three\n"
    "                         curve options go together)\n"
    "      --kafka-brokers HOST:PORT,...  read line protocol from Kafka (as well as or\n"
    "                         instead of --ingest), in a consumer group\n"
    "      --kafka-topic T    the topic (messages keyed by User)\n"
    "      --kafka-group G    instances in one group share the partitions (default\n"
    "                         stormwatch); more settings: run.kafka_properties\n"
    "      --kafka-alerts-topic T  also produce each alert line there, keyed by User\n"
    "      --kafka-changes-topic T  share changes declared over the API with every\n"
    "                         instance reading T (and take theirs)\n"
    "      --kafka-state-topic T  publish the learned state there at every checkpoint\n"
    "                         and when partitions go; take the others' when they come\n"
    "      --stats-every SECS a log line of rates, rings and drops (default 10; 0: off)\n"
    "      --state-every D    save --state this often while running, e.g. 5m (default;\n"
    "                         0: on exit only), so a crash loses little learning\n"
    "      --http ADDR:PORT   serve /metrics, /healthz, /readyz, /api/v1/alerts and\n"
    "                         /api/v1/changes there (e.g. 127.0.0.1:9110)\n"
    "      --http-token-file FILE  bearer token for the API's writes (none: refused)\n"
    "      --http-tls-cert FILE, --http-tls-key FILE  serve HTTPS (PEM files)\n"
    "      --changes-journal FILE  where changes declared over the API persist\n"
    "                         (default stormwatch-changes.journal)\n"
    "      --log-level LEVEL  error, warn, info (default) or debug\n"
    "  -h, --help             this help\n"
    "\n"
    "SIGTERM or SIGINT drains what was received, writes the remaining alert lines,\n"
    "saves state and exits 0. SIGHUP reloads the config file and the change register;\n"
    "a bad new one is refused and the old one kept.\n"
    "Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad usage,\n"
    "configuration, change register or state file.\n";

typedef struct {
    const char *config, *changes, *state, *alerts, *pub, *record;
    const char *curve_secret, *curve_public, *curve_allow;
    const char *http, *http_token_file, *journal, *tls_cert, *tls_key;
    const char *am[MAX_INGEST];   /* Alertmanager base URLs */
    size_t nam;
    const char *am_queue;
    const char *kafka_brokers, *kafka_topic, *kafka_group, *kafka_alerts_topic;
    const char *kafka_changes_topic, *kafka_state_topic;
    const char *const *kafka_props; /* "key=value", from the config file */
    size_t nkafka_props;
    const char *ingest[MAX_INGEST];
    size_t ningest;
    unsigned nshards;
    size_t ring_size;
    int drop_when_full, record_gzip;
    uint64_t record_max;          /* UINT64_MAX: not given */
    double stats_every;           /* < 0: not given */
    int64_t state_every;          /* ns; < 0: not given */
    int log_level_given;
    char *owned[48];              /* strings taken from the config file */
    size_t nowned;
} run_opts_t;

typedef struct daemon daemon_t;

typedef struct {
    daemon_t *d;
    unsigned index;
    shard_t *shard;
    ring_t *in, *out;
    pthread_t tid;
    atomic_int done;
    atomic_int parked;            /* stopped for a checkpoint: its table may be read */
    atomic_uint cfg_ack;          /* config generation this shard uses */
    atomic_uint_fast64_t in_waits, in_drops, out_waits;
    /* published by the shard thread after each burst, for the metrics */
    atomic_uint_fast64_t samples, duplicates, series, evicted, refused;
    rec_t batch[BATCH];           /* ingest side: records waiting to be pushed */
    size_t nbatch;
} shard_thr_t;

struct daemon {
    run_opts_t o;
    ingest_params_t ingest;       /* fixed at start: a reload does not change ingest */
    cfg_t *cfg;                   /* owned by main; shards and alerts read the copy
                                     handed to them, never this pointer */
    _Atomic(cfg_t *) next_cfg;    /* published by main, taken by consumers */
    atomic_uint cfg_gen;
    atomic_uint alerts_cfg_ack;
    changes_t *reg;               /* in use by the alert thread */
    changes_t *file_reg;          /* the YAML register; guarded by reg_lock */
    changes_api_t *api;           /* changes declared over HTTP (journalled) */
    _Atomic(http_t *) http;       /* set once started; server threads read it */
    char *token;
    pthread_mutex_t reg_lock;     /* building a merged register: main and HTTP */
    atomic_int running;
    _Atomic(changes_t *) next_reg;
    _Atomic(changes_t *) old_reg; /* handed back by the alert thread to free */
    void *zctx;
    void *socks[MAX_INGEST];
    size_t nsocks;
    curve_auth_t *auth;
    router_t *router;
    shard_thr_t *sh;
    unsigned nshards;
    alerts_t *as;
    FILE *alerts_out;
    sink_zmq_t *pub;
    sink_am_t *am;
    record_t *rec;
    kafka_in_t *kin;              /* Kafka ingest (ingest thread) */
    kafka_out_t *kout;            /* alert lines to Kafka (alert thread) */
    kafka_in_t *kchg_in;          /* the shared changes topic (ingest thread) */
    kafka_in_t *kst_in;           /* the state topic, followed (ingest thread) */
    kafka_out_t *kst_out;         /* our state to it (main and ingest threads) */
    pthread_mutex_t kst_lock;     /* guards kst_out and kst[] */
    pthread_mutex_t ckpt_lock;    /* one checkpoint or state load at a time */
    struct { char *key; unsigned char *blob; size_t len; } kst[KSTATE_MAX];
    size_t nkst;
    char kst_id[160];             /* this instance's key in the state topic */
    kafka_out_t *kchg_out;        /* changes declared here, to it (HTTP threads) */
    pthread_mutex_t kchg_lock;    /* guards kchg_out */
    char **kprop_keys, **kprop_values;
    size_t nkprops;
    atomic_uint_fast64_t kafka_msgs, kafka_partitions, kafka_out_sent, kafka_out_failed;
    /* ingest thread: per router source (Kafka partition + 1) */
    double ksrc_seen[ROUTER_MAX_SOURCES], ksrc_assigned_at[ROUTER_MAX_SOURCES];
    uint8_t ksrc_active[ROUTER_MAX_SOURCES];
    char *line_buf;
    size_t line_cap;
    pthread_t ingest_tid, alerts_tid;
    uint64_t transitions, snap_transitions; /* alert thread only */
    atomic_int stop, ingest_done, alerts_done;
    atomic_uint_fast64_t msgs, lines, bytes, alerts_out_n, write_errors;
    atomic_uint_fast64_t bad_by_result[LP_NRESULTS];
    atomic_uint_fast64_t firing_by_kind[ALERT_NKINDS]; /* alerts firing now */
    atomic_uint_fast64_t changes_n;                    /* size of the register in use */
    atomic_uint_fast64_t pub_sent, pub_dropped;        /* mirrored by the alert thread */
    pthread_mutex_t snap_lock;    /* guards alerts_snapshot (not the hot path) */
    char *alerts_snapshot;        /* JSON array of the alerts firing now */
    atomic_uint_fast64_t router_bad, router_late, router_stalls, router_ahead;
    atomic_uint_fast64_t record_errors, record_dropped; /* mirrored by the ingest thread */
    atomic_int pause_req;         /* main asks the shards to park for a checkpoint */
    atomic_uint_fast64_t state_saves, state_failures, state_last_unix;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(long *ns)
{
    struct timespec ts = { 0, *ns };
    nanosleep(&ts, NULL);
    *ns = *ns * 2 > IDLE_MAX_NS ? IDLE_MAX_NS : *ns * 2;
}

static const detect_params_t *detect_for(void *ctx, const char *user, size_t len)
{
    return cfg_detect_for(ctx, user, len);
}

/* ---- ingest thread ------------------------------------------------------ */

/* Pushes shard i's batch, waiting while its ring is full (or dropping). */
static void push_batch(daemon_t *d, shard_thr_t *s)
{
    size_t done = 0;
    long idle = IDLE_MIN_NS;
    while (done < s->nbatch) {
        done += ring_push_spsc(s->in, s->batch + done, s->nbatch - done);
        if (done == s->nbatch)
            break;
        if (d->o.drop_when_full) {
            /* counted for the stats thread: relaxed, it only reads a total */
            atomic_fetch_add_explicit(&s->in_drops, s->nbatch - done, memory_order_relaxed);
            break;
        }
        atomic_fetch_add_explicit(&s->in_waits, 1, memory_order_relaxed);
        nap(&idle);
    }
    s->nbatch = 0;
}

static void deliver(void *ctx, unsigned shard, const rec_t *r)
{
    daemon_t *d = ctx;
    shard_thr_t *s = &d->sh[shard];
    s->batch[s->nbatch++] = *r;
    if (s->nbatch == BATCH)
        push_batch(d, s);
}

static void flush_batches(daemon_t *d)
{
    for (unsigned i = 0; i < d->nshards; i++)
        if (d->sh[i].nbatch)
            push_batch(d, &d->sh[i]);
}

/* Feeds one message's bytes, line by line, to the router. */
static void feed_message(daemon_t *d, const char *data, size_t len)
{
    if (d->rec)
        record_write(d->rec, data, len); /* failures are counted by the recorder */
    const char *p = data, *end = data + len;
    uint64_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lp_result_t res = router_feed_line(d->router, p, l);
        if (lp_result_is_bad(res)) {
            atomic_fetch_add_explicit(&d->bad_by_result[res], 1, memory_order_relaxed);
            uint64_t bad = atomic_fetch_add_explicit(&d->router_bad, 1, memory_order_relaxed);
            if (bad < 10) { /* a sample of what is wrong, not a flood */
                char shown[512];
                sw_log(LOG_WARN, "bad line (%s): %s", lp_result_str(res),
                       log_escape(shown, sizeof(shown), p, l, 120));
            }
        }
        n++;
        p += l + 1;
    }
    atomic_fetch_add_explicit(&d->lines, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->bytes, len, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->msgs, 1, memory_order_relaxed);
}

/* Partition p is the router's source p + 1 (ZeroMQ is source 0): each
 * partition is in order by itself, not with the others. */
static void shared_change(void *ctx, const char *data, size_t len, int32_t partition,
                          const char *key, size_t keylen);
static void state_blob(void *ctx, const char *data, size_t len, int32_t partition,
                       const char *key, size_t keylen);
static int park_all(daemon_t *d);
static void unpark_all(daemon_t *d);
static void state_checkpoint(daemon_t *d);

static void kafka_message(void *ctx, const char *data, size_t len, int32_t partition,
                          const char *key, size_t keylen)
{
    (void)key;
    (void)keylen;
    daemon_t *d = ctx;
    unsigned src = ((unsigned)partition + 1) % ROUTER_MAX_SOURCES;
    d->ksrc_seen[src] = mono_s();
    router_set_source(d->router, src);
    feed_message(d, data, len);
    router_set_source(d->router, 0);
}

/*
 * Tells the router which partitions are flowing: assigned, and a message
 * (or the assignment) within the stall time. The feed's clock then waits
 * for the slowest of them, and a quiet one stops holding the rest back.
 */
static void kafka_sources(daemon_t *d, double stall_s)
{
    int32_t parts[ROUTER_MAX_SOURCES];
    size_t n = kafka_in_assigned(d->kin, parts, ROUTER_MAX_SOURCES);
    uint8_t want[ROUTER_MAX_SOURCES] = { 0 }, assigned[ROUTER_MAX_SOURCES] = { 0 };
    double now = mono_s();
    for (size_t i = 0; i < n; i++) {
        unsigned src = ((unsigned)parts[i] + 1) % ROUTER_MAX_SOURCES;
        assigned[src] = 1;
        if (!d->ksrc_assigned_at[src])
            d->ksrc_assigned_at[src] = now;
        double last = d->ksrc_seen[src] > d->ksrc_assigned_at[src] ? d->ksrc_seen[src]
                                                                    : d->ksrc_assigned_at[src];
        want[src] = now - last < stall_s;
    }
    for (unsigned src = 0; src < ROUTER_MAX_SOURCES; src++) {
        if (!assigned[src])
            d->ksrc_assigned_at[src] = 0; /* assigned again later: a fresh start */
        if (want[src] != d->ksrc_active[src]) {
            router_source_active(d->router, src, want[src]);
            d->ksrc_active[src] = want[src];
        }
    }
}

static void *ingest_main(void *arg)
{
    daemon_t *d = arg;
    zmq_pollitem_t items[MAX_INGEST];
    for (size_t i = 0; i < d->nsocks; i++)
        items[i] = (zmq_pollitem_t){ .socket = d->socks[i], .events = ZMQ_POLLIN };
    double stall_s = (double)d->ingest.stall_after / SW_NS_PER_S;
    double last_data = mono_s();
    int seen_data = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    /* stop is read relaxed: it only needs to be seen eventually */
    double next_commit = mono_s() + KAFKA_COMMIT_S;
    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        /* with Kafka too, ZeroMQ waits less and Kafka is polled after it */
        int rc = d->nsocks ? zmq_poll(items, (int)d->nsocks, d->kin ? KAFKA_POLL_MS : POLL_MS) : 0;
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        if (d->kin) {
            if (kafka_in_poll(d->kin, d->nsocks ? 0 : POLL_MS, MSGS_PER_ROUND, kafka_message, d) >
                0) {
                last_data = mono_s();
                seen_data = 1;
            }
            kafka_sources(d, stall_s);
        }
        if (d->kchg_in)
            kafka_in_poll(d->kchg_in, 0, MSGS_PER_ROUND, shared_change, d);
        if (d->kst_in)
            kafka_in_poll(d->kst_in, 0, MSGS_PER_ROUND, state_blob, d);
        for (size_t i = 0; rc > 0 && i < d->nsocks; i++) {
            for (int k = 0; k < MSGS_PER_ROUND; k++) {
                if (zmq_msg_recv(&msg, d->socks[i], ZMQ_DONTWAIT) < 0)
                    break;
                /* a multipart message: the first frames are topics, the
                 * last carries the lines */
                if (zmq_msg_more(&msg))
                    continue;
                feed_message(d, zmq_msg_data(&msg), zmq_msg_size(&msg));
                last_data = mono_s();
                seen_data = 1;
            }
        }
        if (seen_data && mono_s() - last_data >= stall_s) {
            router_stall(d->router); /* once per stall: the router knows */
        }
        flush_batches(d);
        if (d->kin && mono_s() >= next_commit) {
            /* what went into the pipeline is committed: a crash re-reads at
             * most a second of it, and repeats are dropped as duplicates */
            kafka_in_commit(d->kin);
            kafka_in_stats_t ks;
            kafka_in_stats(d->kin, &ks);
            atomic_store_explicit(&d->kafka_msgs, ks.messages, memory_order_relaxed);
            atomic_store_explicit(&d->kafka_partitions, (uint64_t)ks.partitions,
                                  memory_order_relaxed);
            next_commit = mono_s() + KAFKA_COMMIT_S;
        }
        const router_stats_t *rs = router_stats(d->router);
        atomic_store_explicit(&d->router_late, rs->late, memory_order_relaxed);
        atomic_store_explicit(&d->router_ahead, rs->ahead, memory_order_relaxed);
        atomic_store_explicit(&d->router_stalls, rs->feed_stalls, memory_order_relaxed);
        if (d->rec) {
            const record_stats_t *rcs = record_stats(d->rec);
            atomic_store_explicit(&d->record_errors, rcs->write_errors, memory_order_relaxed);
            atomic_store_explicit(&d->record_dropped, rcs->dropped_bytes, memory_order_relaxed);
        }
    }
    /* take what already arrived: read until the sockets are quiet */
    for (int quiet = 0; !quiet;) {
        quiet = 1;
        if (zmq_poll(items, (int)d->nsocks, POLL_MS) <= 0)
            break;
        for (size_t i = 0; i < d->nsocks; i++) {
            while (zmq_msg_recv(&msg, d->socks[i], ZMQ_DONTWAIT) >= 0) {
                quiet = 0;
                if (!zmq_msg_more(&msg))
                    feed_message(d, zmq_msg_data(&msg), zmq_msg_size(&msg));
            }
        }
        flush_batches(d);
    }
    zmq_msg_close(&msg);
    router_finish(d->router);
    flush_batches(d);
    /* pairs with the acquire load in shard_main: every record pushed
     * above is visible to a shard that sees ingest_done */
    atomic_store_explicit(&d->ingest_done, 1, memory_order_release);
    return NULL;
}

/* ---- shard threads ------------------------------------------------------ */

static void shard_emit(void *ctx, const event_t *ev)
{
    shard_thr_t *s = ctx;
    long idle = IDLE_MIN_NS;
    while (ring_push_spsc(s->out, ev, 1) == 0) {
        atomic_fetch_add_explicit(&s->out_waits, 1, memory_order_relaxed);
        nap(&idle);
    }
}

/* Switches to a newly published config between two bursts. */
static void shard_take_config(shard_thr_t *s)
{
    daemon_t *d = s->d;
    unsigned gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
    if (gen == atomic_load_explicit(&s->cfg_ack, memory_order_relaxed))
        return;
    /* the acquire above pairs with the release in main's publish: next_cfg is complete */
    cfg_t *c = atomic_load_explicit(&d->next_cfg, memory_order_acquire);
    if (c)
        shard_rebind(s->shard, detect_for, c);
    /* pairs with main's acquire: this shard no longer reads the old config */
    atomic_store_explicit(&s->cfg_ack, gen, memory_order_release);
}

/*
 * A checkpoint: the shard stops between bursts until main has read its
 * table. The release store of `parked` publishes every write to the table
 * to main (which loads it with acquire); main's release store of pause_req
 * = 0, loaded here with acquire, orders main's reads before our next write.
 */
static void park(shard_thr_t *s)
{
    daemon_t *d = s->d;
    long idle = IDLE_MIN_NS;
    atomic_store_explicit(&s->parked, 1, memory_order_release);
    while (atomic_load_explicit(&d->pause_req, memory_order_acquire))
        nap(&idle);
    atomic_store_explicit(&s->parked, 0, memory_order_relaxed);
}

static void *shard_main(void *arg)
{
    shard_thr_t *s = arg;
    daemon_t *d = s->d;
    rec_t buf[BATCH];
    long idle = IDLE_MIN_NS;
    for (;;) {
        shard_take_config(s);
        if (atomic_load_explicit(&d->pause_req, memory_order_acquire))
            park(s);
        size_t n = ring_pop_spsc(s->in, buf, BATCH);
        if (n == 0) {
            /* acquire pairs with ingest's release: after seeing done, a
             * last pop sees every record it pushed */
            if (atomic_load_explicit(&d->ingest_done, memory_order_acquire)) {
                n = ring_pop_spsc(s->in, buf, BATCH);
                if (n == 0)
                    break;
            } else {
                nap(&idle);
                continue;
            }
        }
        idle = IDLE_MIN_NS;
        for (size_t i = 0; i < n; i++)
            shard_record(s->shard, &buf[i]);
        /* for the metrics: relaxed, readers only want a recent total */
        const shard_stats_t *st = shard_stats(s->shard);
        atomic_store_explicit(&s->samples, st->samples, memory_order_relaxed);
        atomic_store_explicit(&s->duplicates, st->duplicates, memory_order_relaxed);
        atomic_store_explicit(&s->series, st_nseries(shard_table(s->shard)), memory_order_relaxed);
        atomic_store_explicit(&s->evicted, st->evicted, memory_order_relaxed);
        atomic_store_explicit(&s->refused, st->refused, memory_order_relaxed);
    }
    /* pairs with the acquire in alerts_main: all events pushed are visible */
    atomic_store_explicit(&s->done, 1, memory_order_release);
    return NULL;
}

/* ---- alert thread ------------------------------------------------------- */

static void alert_emit(void *ctx, const alert_t *a)
{
    daemon_t *d = ctx;
    size_t n = alert_format_json(a, d->line_buf, d->line_cap);
    if (n >= d->line_cap) {
        char *b = realloc(d->line_buf, n + 1);
        if (!b) {
            atomic_fetch_add_explicit(&d->write_errors, 1, memory_order_relaxed);
            return;
        }
        d->line_buf = b;
        d->line_cap = n + 1;
        n = alert_format_json(a, d->line_buf, d->line_cap);
    }
    if (d->alerts_out && fwrite(d->line_buf, 1, n, d->alerts_out) != n)
        atomic_fetch_add_explicit(&d->write_errors, 1, memory_order_relaxed);
    if (d->pub) {
        sink_zmq_send(d->pub, alert_kind_name(a->kind), d->line_buf, n);
        const sink_zmq_stats_t *ps = sink_zmq_stats(d->pub); /* this thread's own */
        atomic_store_explicit(&d->pub_sent, ps->sent, memory_order_relaxed);
        atomic_store_explicit(&d->pub_dropped, ps->dropped + ps->errors, memory_order_relaxed);
    }
    if (d->am)
        sink_am_send(d->am, a); /* queued; its own thread delivers */
    if (d->kout) {
        /* the line without its newline, keyed by User */
        kafka_out_send(d->kout, a->user, d->line_buf, n && d->line_buf[n - 1] == '\n' ? n - 1 : n);
        uint64_t sent, failed;
        kafka_out_counts(d->kout, &sent, &failed);
        atomic_store_explicit(&d->kafka_out_sent, sent, memory_order_relaxed);
        atomic_store_explicit(&d->kafka_out_failed, failed, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&d->alerts_out_n, 1, memory_order_relaxed);
    if (a->kind < ALERT_NKINDS) {
        if (a->firing)
            atomic_fetch_add_explicit(&d->firing_by_kind[a->kind], 1, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(&d->firing_by_kind[a->kind], 1, memory_order_relaxed);
    }
    d->transitions++;
}

/* Appends one firing alert's line to the snapshot being built. */
static void snap_one(void *ctx, const alert_t *a)
{
    char **s = ctx;
    char line[8192];
    size_t n = alert_format_json(a, line, sizeof(line));
    if (n >= sizeof(line) || !*s)
        return;
    line[n - 1] = '\0'; /* no newline inside the array */
    size_t len = strlen(*s);
    char *b = realloc(*s, len + n + 2);
    if (!b)
        return;
    snprintf(b + len, n + 2, "%s%s", len > 1 ? "," : "", line);
    *s = b;
}

/* Rebuilds the JSON array of firing alerts the HTTP API serves. */
static void refresh_snapshot(daemon_t *d)
{
    char *s = strdup("[");
    alerts_each_firing(d->as, snap_one, &s);
    if (!s)
        return;
    size_t len = strlen(s);
    char *b = realloc(s, len + 2);
    if (!b) {
        free(s);
        return;
    }
    b[len] = ']';
    b[len + 1] = '\0';
    pthread_mutex_lock(&d->snap_lock);
    char *old = d->alerts_snapshot;
    d->alerts_snapshot = b;
    pthread_mutex_unlock(&d->snap_lock);
    free(old);
}

static void alerts_take_updates(daemon_t *d)
{
    /* acquire pairs with main's release exchange: the register is complete */
    changes_t *reg = atomic_exchange_explicit(&d->next_reg, NULL, memory_order_acq_rel);
    if (reg) {
        alerts_set_changes(d->as, reg);
        atomic_store_explicit(&d->changes_n, changes_count(reg), memory_order_relaxed);
        changes_t *old = d->reg;
        d->reg = reg;
        /* handed back for main to free: release pairs with its acquire */
        atomic_store_explicit(&d->old_reg, old, memory_order_release);
    }
    unsigned gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
    if (gen != atomic_load_explicit(&d->alerts_cfg_ack, memory_order_relaxed)) {
        cfg_t *c = atomic_load_explicit(&d->next_cfg, memory_order_acquire);
        if (c)
            alerts_rebind(d->as, detect_for, c);
        atomic_store_explicit(&d->alerts_cfg_ack, gen, memory_order_release);
    }
}

static void *alerts_main(void *arg)
{
    daemon_t *d = arg;
    event_t buf[BATCH];
    long idle = ALERTS_IDLE_NS;
    for (;;) {
        alerts_take_updates(d);
        size_t got = 0;
        for (unsigned i = 0; i < d->nshards; i++) {
            size_t n = ring_pop_spsc(d->sh[i].out, buf, BATCH);
            for (size_t k = 0; k < n; k++)
                alerts_event(d->as, i, &buf[k]);
            got += n;
        }
        if (got) {
            idle = ALERTS_IDLE_NS;
            if (d->transitions != d->snap_transitions) {
                refresh_snapshot(d);
                d->snap_transitions = d->transitions;
            }
            continue;
        }
        if (d->alerts_out)
            fflush(d->alerts_out);
        int all_done = 1;
        for (unsigned i = 0; i < d->nshards; i++)
            all_done &= atomic_load_explicit(&d->sh[i].done, memory_order_acquire) &&
                        ring_depth(d->sh[i].out) == 0;
        if (all_done)
            break;
        nap(&idle);
    }
    alerts_flush(d->as);
    refresh_snapshot(d);
    if (d->alerts_out)
        fflush(d->alerts_out);
    atomic_store_explicit(&d->alerts_done, 1, memory_order_release);
    return NULL;
}

/* ---- metrics ------------------------------------------------------------ */

/* jemalloc's control interface, when the program is linked with it (not in
 * sanitizer builds): weak, so the metrics simply leave those lines out. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

static void metric(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/*
 * The daemon's own metrics in the Prometheus text exposition format. Any
 * thread may call it: it reads only atomics, ring depths and snapshots.
 */
void daemon_write_metrics(void *ctx, FILE *out)
{
    daemon_t *d = ctx;
    metric(out, "stormwatch_ingest_messages_total", "counter", "ZeroMQ messages received.");
    fprintf(out, "stormwatch_ingest_messages_total %" PRIu64 "\n", (uint64_t)LOAD(d->msgs));
    metric(out, "stormwatch_ingest_lines_total", "counter", "Lines received.");
    fprintf(out, "stormwatch_ingest_lines_total %" PRIu64 "\n", (uint64_t)LOAD(d->lines));
    metric(out, "stormwatch_ingest_bytes_total", "counter", "Bytes of line protocol received.");
    fprintf(out, "stormwatch_ingest_bytes_total %" PRIu64 "\n", (uint64_t)LOAD(d->bytes));
    metric(out, "stormwatch_ingest_bad_lines_total", "counter", "Bad lines, by reason.");
    for (int r = 0; r < LP_NRESULTS; r++)
        if (lp_result_is_bad((lp_result_t)r))
            fprintf(out, "stormwatch_ingest_bad_lines_total{reason=\"%s\"} %" PRIu64 "\n",
                    lp_result_str((lp_result_t)r), (uint64_t)LOAD(d->bad_by_result[r]));
    metric(out, "stormwatch_ingest_late_total", "counter",
           "Samples older than the allowed lateness, dropped.");
    fprintf(out, "stormwatch_ingest_late_total %" PRIu64 "\n", (uint64_t)LOAD(d->router_late));
    metric(out, "stormwatch_ahead_samples_total", "counter",
           "Samples far ahead of the feed's time (feed.max_jump) that nothing followed: dropped.");
    fprintf(out, "stormwatch_ahead_samples_total %" PRIu64 "\n", (uint64_t)LOAD(d->router_ahead));
    metric(out, "stormwatch_feed_stalls_total", "counter", "Times the whole feed stalled.");
    fprintf(out, "stormwatch_feed_stalls_total %" PRIu64 "\n", (uint64_t)LOAD(d->router_stalls));
    if (d->o.record) {
        metric(out, "stormwatch_record_write_errors_total", "counter",
               "Recording writes that failed (disk full...): detection goes on.");
        fprintf(out, "stormwatch_record_write_errors_total %" PRIu64 "\n",
                (uint64_t)LOAD(d->record_errors));
        metric(out, "stormwatch_record_dropped_bytes_total", "counter",
               "Bytes of ingested traffic the recording lost to write errors.");
        fprintf(out, "stormwatch_record_dropped_bytes_total %" PRIu64 "\n",
                (uint64_t)LOAD(d->record_dropped));
    }
    if (d->kin) {
        metric(out, "stormwatch_kafka_messages_total", "counter", "Kafka messages taken.");
        fprintf(out, "stormwatch_kafka_messages_total %" PRIu64 "\n", (uint64_t)LOAD(d->kafka_msgs));
        metric(out, "stormwatch_kafka_partitions", "gauge", "Kafka partitions assigned here.");
        fprintf(out, "stormwatch_kafka_partitions %" PRIu64 "\n",
                (uint64_t)LOAD(d->kafka_partitions));
    }
    if (d->kout) {
        metric(out, "stormwatch_kafka_alerts_sent_total", "counter",
               "Alert lines Kafka acknowledged.");
        fprintf(out, "stormwatch_kafka_alerts_sent_total %" PRIu64 "\n",
                (uint64_t)LOAD(d->kafka_out_sent));
        metric(out, "stormwatch_kafka_alerts_failed_total", "counter",
               "Alert lines Kafka did not take.");
        fprintf(out, "stormwatch_kafka_alerts_failed_total %" PRIu64 "\n",
                (uint64_t)LOAD(d->kafka_out_failed));
    }
    metric(out, "stormwatch_state_saves_total", "counter",
           "Learned state written to --state (checkpoints and exit).");
    fprintf(out, "stormwatch_state_saves_total %" PRIu64 "\n", (uint64_t)LOAD(d->state_saves));
    metric(out, "stormwatch_state_save_failures_total", "counter",
           "State saves that failed (disk full, write error, a shard too slow to stop).");
    fprintf(out, "stormwatch_state_save_failures_total %" PRIu64 "\n",
            (uint64_t)LOAD(d->state_failures));
    metric(out, "stormwatch_state_last_save_timestamp_seconds", "gauge",
           "Unix time of the last good state save; 0: none yet.");
    fprintf(out, "stormwatch_state_last_save_timestamp_seconds %" PRIu64 "\n",
            (uint64_t)LOAD(d->state_last_unix));
    uint64_t samples = 0, dups = 0, series = 0, evicted = 0, refused = 0;
    for (unsigned i = 0; i < d->nshards; i++) {
        samples += LOAD(d->sh[i].samples);
        dups += LOAD(d->sh[i].duplicates);
        series += LOAD(d->sh[i].series);
        evicted += LOAD(d->sh[i].evicted);
        refused += LOAD(d->sh[i].refused);
    }
    metric(out, "stormwatch_samples_total", "counter", "Samples accepted into detection.");
    fprintf(out, "stormwatch_samples_total %" PRIu64 "\n", samples);
    metric(out, "stormwatch_duplicates_total", "counter", "Repeated samples, dropped.");
    fprintf(out, "stormwatch_duplicates_total %" PRIu64 "\n", dups);
    metric(out, "stormwatch_series", "gauge", "Series tracked.");
    fprintf(out, "stormwatch_series %" PRIu64 "\n", series);
    metric(out, "stormwatch_series_evicted_total", "counter",
           "Series evicted to stay under feed.max_series (the least recently read, idle).");
    fprintf(out, "stormwatch_series_evicted_total %" PRIu64 "\n", evicted);
    metric(out, "stormwatch_series_refused_total", "counter",
           "Samples of new series dropped at feed.max_series: every candidate was alerting.");
    fprintf(out, "stormwatch_series_refused_total %" PRIu64 "\n", refused);
    metric(out, "stormwatch_ring_depth", "gauge", "Records waiting in each shard's ring.");
    for (unsigned i = 0; i < d->nshards; i++)
        fprintf(out, "stormwatch_ring_depth{shard=\"%u\"} %zu\n", i, ring_depth(d->sh[i].in));
    metric(out, "stormwatch_ring_full_waits_total", "counter",
           "Times ingest waited for room in a shard's ring.");
    for (unsigned i = 0; i < d->nshards; i++)
        fprintf(out, "stormwatch_ring_full_waits_total{shard=\"%u\"} %" PRIu64 "\n", i,
                (uint64_t)LOAD(d->sh[i].in_waits));
    metric(out, "stormwatch_ring_drops_total", "counter",
           "Samples dropped because a shard's ring was full (drop_when_full).");
    for (unsigned i = 0; i < d->nshards; i++)
        fprintf(out, "stormwatch_ring_drops_total{shard=\"%u\"} %" PRIu64 "\n", i,
                (uint64_t)LOAD(d->sh[i].in_drops));
    metric(out, "stormwatch_alerts_firing", "gauge", "Alerts firing now, by kind.");
    for (int k = 0; k < ALERT_NKINDS; k++)
        fprintf(out, "stormwatch_alerts_firing{alert=\"%s\"} %" PRIu64 "\n",
                alert_kind_name((alert_kind_t)k), (uint64_t)LOAD(d->firing_by_kind[k]));
    metric(out, "stormwatch_alert_lines_total", "counter", "Alert transitions written.");
    fprintf(out, "stormwatch_alert_lines_total %" PRIu64 "\n", (uint64_t)LOAD(d->alerts_out_n));
    metric(out, "stormwatch_sink_errors_total", "counter", "Alert lines that could not be written.");
    fprintf(out, "stormwatch_sink_errors_total{sink=\"jsonl\"} %" PRIu64 "\n",
            (uint64_t)LOAD(d->write_errors));
    if (d->am) {
        sink_am_stats_t as;
        sink_am_stats(d->am, &as);
        metric(out, "stormwatch_alertmanager_queue", "gauge", "Alerts waiting for an Alertmanager.");
        fprintf(out, "stormwatch_alertmanager_queue %zu\n", as.pending);
        metric(out, "stormwatch_alertmanager_sent_total", "counter", "Alerts an Alertmanager accepted.");
        fprintf(out, "stormwatch_alertmanager_sent_total %" PRIu64 "\n", as.sent);
        metric(out, "stormwatch_alertmanager_failed_total", "counter", "Posts that failed (retried).");
        fprintf(out, "stormwatch_alertmanager_failed_total %" PRIu64 "\n", as.failed);
        metric(out, "stormwatch_alertmanager_dropped_total", "counter", "Alerts dropped unsent.");
        fprintf(out, "stormwatch_alertmanager_dropped_total %" PRIu64 "\n", as.dropped);
    }
    if (d->pub) {
        metric(out, "stormwatch_pub_sent_total", "counter", "Alerts published on the PUB socket.");
        fprintf(out, "stormwatch_pub_sent_total %" PRIu64 "\n", (uint64_t)LOAD(d->pub_sent));
        metric(out, "stormwatch_pub_dropped_total", "counter",
               "Alerts the PUB socket refused (a subscriber's queue full, or an error).");
        fprintf(out, "stormwatch_pub_dropped_total %" PRIu64 "\n", (uint64_t)LOAD(d->pub_dropped));
    }
    metric(out, "stormwatch_changes", "gauge", "Declared changes in the register in use.");
    fprintf(out, "stormwatch_changes %" PRIu64 "\n", (uint64_t)LOAD(d->changes_n));
    if (mallctl) {
        uint64_t epoch = 1;
        size_t sz = sizeof(epoch), allocated = 0, resident = 0, len = sizeof(size_t);
        mallctl("epoch", &epoch, &sz, &epoch, sz);
        if (mallctl("stats.allocated", &allocated, &len, NULL, 0) == 0 &&
            mallctl("stats.resident", &resident, &len, NULL, 0) == 0) {
            metric(out, "stormwatch_jemalloc_allocated_bytes", "gauge", "Bytes allocated (jemalloc).");
            fprintf(out, "stormwatch_jemalloc_allocated_bytes %zu\n", allocated);
            metric(out, "stormwatch_jemalloc_resident_bytes", "gauge", "Bytes resident (jemalloc).");
            fprintf(out, "stormwatch_jemalloc_resident_bytes %zu\n", resident);
        }
    }
    metric(out, "stormwatch_build_info", "gauge", "The build, as labels; always 1.");
    fprintf(out, "stormwatch_build_info{version=\"%s\"} 1\n", SW_BUILD_VERSION);
}

/* The alerts firing now, as a JSON array (malloc'd), for the HTTP API. */
char *daemon_alerts_json(void *ctx)
{
    daemon_t *d = ctx;
    pthread_mutex_lock(&d->snap_lock);
    char *s = strdup(d->alerts_snapshot ? d->alerts_snapshot : "[]");
    pthread_mutex_unlock(&d->snap_lock);
    return s;
}

/* ---- set-up ------------------------------------------------------------- */

/* ---- learned state over Kafka -------------------------------------------- */

/* state_decode() callbacks that fill only Users a shard does not hold: the
 * state of another instance never overwrites what this one has learnt. */
typedef struct {
    daemon_t *d;
    series_table_t *scratch;  /* takes the series of Users already held: dropped */
    series_table_t *loading;  /* the Users this load brings in (as a set) */
} kload_t;

static const detect_params_t *missing_params_for(void *ctx, const char *user, size_t len);

static series_table_t *missing_table_for(void *ctx, const char *user, size_t len)
{
    kload_t *l = ctx;
    series_table_t *t = shard_table(l->d->sh[router_shard_of(user, len, l->d->nshards)].shard);
    if (st_has_user(l->loading, user, len))
        return t; /* a further series of a User this load brought in */
    if (st_has_user(t, user, len))
        return l->scratch; /* held before: what was learnt here stays */
    if (st_intern(l->loading, user, len, 0, "", 0, missing_params_for, ctx) < 0)
        return l->scratch;
    return t;
}

static const detect_params_t *missing_params_for(void *ctx, const char *user, size_t len)
{
    kload_t *l = ctx;
    return cfg_detect_for(l->d->cfg, user, len);
}

/* Ingest thread: the latest state blob of each other instance, from the state topic. */
static void state_blob(void *ctx, const char *data, size_t len, int32_t partition,
                       const char *key, size_t keylen)
{
    (void)partition;
    daemon_t *d = ctx;
    if (!key || (keylen == strlen(d->kst_id) && !memcmp(key, d->kst_id, keylen)))
        return; /* our own */
    size_t i = 0;
    while (i < d->nkst && !(strlen(d->kst[i].key) == keylen && !memcmp(d->kst[i].key, key, keylen)))
        i++;
    if (i == KSTATE_MAX) {
        sw_log(LOG_WARN, "kafka: more than %d instances in the state topic; ignored", KSTATE_MAX);
        return;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    pthread_mutex_lock(&d->kst_lock);
    if (i == d->nkst) {
        d->kst[i].key = strndup(key, keylen);
        if (!d->kst[i].key) {
            pthread_mutex_unlock(&d->kst_lock);
            free(copy);
            return;
        }
        d->nkst++;
    }
    free(d->kst[i].blob);
    d->kst[i].blob = copy;
    d->kst[i].len = len;
    pthread_mutex_unlock(&d->kst_lock);
}

/* Our state, keyed by this instance's id (the latest is what counts). */
static void kafka_state_publish(daemon_t *d, const unsigned char *buf, size_t len)
{
    pthread_mutex_lock(&d->kst_lock);
    if (kafka_out_send(d->kst_out, d->kst_id, (const char *)buf, len) < 0)
        sw_log(LOG_WARN, "kafka: state not published (queue full)");
    pthread_mutex_unlock(&d->kst_lock);
}

/*
 * Ingest thread, partitions assigned, before any of their messages: the
 * learned state the other instances published (the last checkpoint of one
 * that died included) fills in the Users this instance does not hold, so
 * the partitions that moved here need no relearning.
 */
static void kafka_assigned(void *ctx)
{
    daemon_t *d = ctx;
    if (!d->kst_in)
        return;
    for (int i = 0; i < 40; i++) /* catch up with the state topic (up to ~2 s) */
        if (kafka_in_poll(d->kst_in, 50, 1000, state_blob, d) == 0 && i >= 4)
            break;
    kload_t l = { d, st_create(), st_create() };
    if (!l.scratch || !l.loading) {
        st_destroy(l.scratch);
        st_destroy(l.loading);
        return;
    }
    pthread_mutex_lock(&d->ckpt_lock);
    if (park_all(d) == 0) {
        size_t before = 0, after = 0;
        for (unsigned i = 0; i < d->nshards; i++)
            before += st_nseries(shard_table(d->sh[i].shard));
        pthread_mutex_lock(&d->kst_lock);
        for (size_t i = 0; i < d->nkst; i++) {
            char why[256];
            if (state_decode(missing_table_for, d->kst[i].blob, d->kst[i].len, missing_params_for,
                             &l, why, sizeof(why)) < 0)
                sw_log(LOG_WARN, "kafka: state of %s refused: %s", d->kst[i].key, why);
        }
        size_t nblobs = d->nkst;
        pthread_mutex_unlock(&d->kst_lock);
        for (unsigned i = 0; i < d->nshards; i++)
            after += st_nseries(shard_table(d->sh[i].shard));
        unpark_all(d);
        sw_log(LOG_INFO, "kafka: learned state of %zu series taken from %zu other instance%s",
               after - before, nblobs, nblobs == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&d->ckpt_lock);
    st_destroy(l.scratch);
    st_destroy(l.loading);
}

/* Ingest thread, before partitions are revoked: what was learnt goes out. */
static void kafka_revoked(void *ctx)
{
    daemon_t *d = ctx;
    if (d->kst_out)
        state_checkpoint(d);
}

static void publish_register(daemon_t *d);

/* run.kafka_properties ("key=value") split for librdkafka; then the consumer
 * and the alert producer. */
static int open_kafka(daemon_t *d, char *err, size_t errlen)
{
    size_t n = d->o.nkafka_props;
    d->kprop_keys = calloc(n + 1, sizeof(char *));
    d->kprop_values = calloc(n + 1, sizeof(char *));
    if (!d->kprop_keys || !d->kprop_values)
        return SW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *kv = d->o.kafka_props[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            snprintf(err, errlen, "run.kafka_properties: '%s': want key=value", kv);
            return SW_ECONFIG;
        }
        d->kprop_keys[i] = strndup(kv, (size_t)(eq - kv));
        d->kprop_values[i] = strdup(eq + 1);
        d->nkprops++;
        if (!d->kprop_keys[i] || !d->kprop_values[i])
            return SW_ENOMEM;
    }
    kafka_props_t props = { (const char *const *)d->kprop_keys,
                            (const char *const *)d->kprop_values, d->nkprops };
    if (d->o.kafka_topic) {
        kafka_in_opts_t ko = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_topic,
                               .group = d->o.kafka_group ? d->o.kafka_group : "stormwatch",
                               .props = props, .on_assign = kafka_assigned,
                               .on_revoke = kafka_revoked, .ctx = d };
        if (!(d->kin = kafka_in_open(&ko, err, errlen)))
            return SW_ECONFIG;
        sw_log(LOG_INFO, "kafka: reading %s from %s in group %s", ko.topic, ko.brokers, ko.group);
    }
    if (d->o.kafka_alerts_topic) {
        kafka_out_opts_t ko = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_alerts_topic,
                                .props = props };
        if (!(d->kout = kafka_out_open(&ko, err, errlen)))
            return SW_ECONFIG;
    }
    if (d->o.kafka_state_topic) {
        char host[64] = "host", group[200];
        gethostname(host, sizeof(host) - 1);
        snprintf(d->kst_id, sizeof(d->kst_id), "%s-%ld", host, (long)getpid());
        snprintf(group, sizeof(group), "stormwatch-state-%s", d->kst_id);
        kafka_in_opts_t si = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_state_topic,
                               .group = group, .props = props };
        kafka_out_opts_t so = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_state_topic,
                                .props = props };
        if (!(d->kst_in = kafka_in_open(&si, err, errlen)) ||
            !(d->kst_out = kafka_out_open(&so, err, errlen)))
            return SW_ECONFIG;
        sw_log(LOG_INFO, "kafka: learned state moves with partitions through %s (as %s)",
               d->o.kafka_state_topic, d->kst_id);
    }
    if (d->o.kafka_changes_topic) {
        /* every instance reads the whole topic: a group of its own, never committed */
        char group[160], host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(group, sizeof(group), "stormwatch-changes-%s-%ld", host, (long)getpid());
        kafka_in_opts_t ci = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_changes_topic,
                               .group = group, .props = props };
        kafka_out_opts_t co = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_changes_topic,
                                .props = props };
        if (!(d->kchg_in = kafka_in_open(&ci, err, errlen)) ||
            !(d->kchg_out = kafka_out_open(&co, err, errlen)))
            return SW_ECONFIG;
        pthread_mutex_init(&d->kchg_lock, NULL);
        sw_log(LOG_INFO, "kafka: sharing declared changes on %s", d->o.kafka_changes_topic);
    }
    return SW_OK;
}

/* HTTP thread: a change declared here goes to the shared topic (keyed by its id). */
static void share_declared(void *ctx, const char *stored)
{
    daemon_t *d = ctx;
    if (!d->kchg_out || !stored)
        return;
    json_t *o = json_loads(stored, 0, NULL);
    const char *id = o ? json_string_value(json_object_get(o, "id")) : NULL;
    pthread_mutex_lock(&d->kchg_lock);
    if (id && kafka_out_send(d->kchg_out, id, stored, strlen(stored)) < 0)
        sw_log(LOG_WARN, "kafka: change %s not shared (queue full)", id);
    pthread_mutex_unlock(&d->kchg_lock);
    json_decref(o);
}

/* HTTP thread: a withdrawal goes to the shared topic as {"withdrawn": ID}. */
static void share_withdrawn(void *ctx, const char *id)
{
    daemon_t *d = ctx;
    if (!d->kchg_out)
        return;
    json_t *o = json_pack("{s:s}", "withdrawn", id);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    pthread_mutex_lock(&d->kchg_lock);
    if (text && kafka_out_send(d->kchg_out, id, text, strlen(text)) < 0)
        sw_log(LOG_WARN, "kafka: withdrawal of %s not shared (queue full)", id);
    pthread_mutex_unlock(&d->kchg_lock);
    free(text);
    json_decref(o);
}

/*
 * Ingest thread: a change shared by any instance (this one's come back
 * too, and are already known). Declared or withdrawn here as over the API,
 * journalled, then the register is rebuilt.
 */
static void shared_change(void *ctx, const char *data, size_t len, int32_t partition,
                          const char *key, size_t keylen)
{
    (void)partition;
    (void)key;
    (void)keylen;
    daemon_t *d = ctx;
    json_t *o = json_loadb(data, len, 0, NULL);
    const char *gone = o ? json_string_value(json_object_get(o, "withdrawn")) : NULL;
    int rc = gone ? changes_api_withdraw(d->api, gone) : changes_api_declare(d->api, data, len, NULL, 0);
    if (rc == SW_OK) {
        sw_log(LOG_INFO, "kafka: shared change %s", gone ? "withdrawn" : "declared");
        publish_register(d);
    } else if (rc != SW_EEXISTS && rc != SW_ENOTFOUND) {
        sw_log(LOG_WARN, "kafka: a shared change was refused: %s", sw_strerror(rc));
    }
    json_decref(o);
}

static int open_ingest(daemon_t *d, const char *spec, char *err, size_t errlen)
{
    int type = ZMQ_PULL, do_bind = 1;
    const char *ep = spec;
    char topic[256] = "";
    if (strncmp(spec, "connect:", 8) == 0) {
        ep = spec + 8;
        do_bind = 0;
    } else if (strncmp(spec, "bind:", 5) == 0) {
        ep = spec + 5;
    } else if (strncmp(spec, "sub:", 4) == 0) {
        ep = spec + 4;
        type = ZMQ_SUB;
        do_bind = 0;
    }
    char endpoint[512];
    snprintf(endpoint, sizeof(endpoint), "%s", ep);
    char *hash = type == ZMQ_SUB ? strchr(endpoint, '#') : NULL;
    if (hash) {
        snprintf(topic, sizeof(topic), "%s", hash + 1);
        *hash = '\0';
    }
    void *s = zmq_socket(d->zctx, type);
    if (!s) {
        snprintf(err, errlen, "%s: %s", spec, zmq_strerror(zmq_errno()));
        return SW_EIO;
    }
    int hwm = 1000, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (d->o.curve_secret &&
        curve_server_setup(s, d->o.curve_secret, d->o.curve_public, err, errlen) < 0) {
        zmq_close(s);
        return SW_ECONFIG;
    }
    int rc = do_bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", spec, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return SW_EIO;
    }
    d->socks[d->nsocks++] = s;
    sw_log(LOG_INFO, "ingest: %s %s %s%s%s", type == ZMQ_SUB ? "SUB" : "PULL",
           do_bind ? "bound at" : "connected to", endpoint, topic[0] ? " topic " : "", topic);
    return SW_OK;
}

static cfg_t *load_config(const char *path, char *err, size_t errlen)
{
    cfg_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cfg_defaults(c);
    if (path && cfg_load(path, c, err, errlen) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static changes_t *load_changes(const char *path, char *err, size_t errlen)
{
    changes_t *reg = changes_create();
    if (!reg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (path && changes_load_yaml(path, reg, err, errlen) < 0) {
        changes_destroy(reg);
        return NULL;
    }
    return reg;
}

/*
 * The register the alert stage uses: the YAML file's changes and those
 * declared over the API (a file change wins over an API change of the same
 * id). Call with reg_lock held. NULL when out of memory.
 */
static changes_t *merged_register(daemon_t *d)
{
    changes_t *reg = changes_create(), *api = d->api ? changes_create() : NULL;
    if (!reg || (d->api && (!api || changes_api_snapshot(d->api, api) < 0))) {
        changes_destroy(reg);
        changes_destroy(api);
        return NULL;
    }
    for (size_t i = 0; i < changes_count(d->file_reg); i++)
        changes_add(reg, changes_get(d->file_reg, i));
    for (size_t i = 0; i < changes_count(api); i++)
        if (changes_add(reg, changes_get(api, i)) == SW_EEXISTS)
            sw_log(LOG_WARN, "change %s is in the file and the API: the file's is used",
                   changes_get(api, i)->id);
    changes_destroy(api);
    return reg;
}

/* Hands a new merged register to the alert thread. */
static void publish_register(daemon_t *d)
{
    pthread_mutex_lock(&d->reg_lock);
    changes_t *reg = merged_register(d);
    pthread_mutex_unlock(&d->reg_lock);
    if (!reg) {
        sw_log(LOG_ERROR, "out of memory building the change register; the old one stays");
        return;
    }
    changes_t *pending = atomic_exchange_explicit(&d->next_reg, reg, memory_order_acq_rel);
    changes_destroy(pending); /* never taken: superseded */
}

/* HTTP thread: a change was declared or withdrawn (already journalled). */
static void on_api_changes(void *ctx)
{
    publish_register(ctx);
}

static int is_ready(void *ctx)
{
    daemon_t *d = ctx;
    return atomic_load_explicit(&d->running, memory_order_acquire);
}

static void http_metrics(void *ctx, FILE *out)
{
    daemon_t *d = ctx;
    daemon_write_metrics(d, out);
    http_t *h = atomic_load_explicit(&d->http, memory_order_acquire);
    if (h)
        http_metrics_write(h, out);
    if (d->api)
        changes_api_metrics_write(d->api, out);
}

static void http_log(void *ctx, const char *msg)
{
    (void)ctx;
    sw_log(LOG_WARN, "http: %s", msg);
}

/* Reads the bearer token: the first line of the file, trimmed. */
static char *read_token(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    if (!f || !fgets(buf, sizeof(buf), f)) {
        snprintf(err, errlen, "%s: %s", path, f ? "empty token file" : strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 16) {
        snprintf(err, errlen, "%s: the token must be at least 16 characters", path);
        return NULL;
    }
    return strdup(buf);
}

static int start_http(daemon_t *d, char *err, size_t errlen)
{
    if (d->o.http_token_file && !(d->token = read_token(d->o.http_token_file, err, errlen)))
        return SW_ECONFIG;
    http_opts_t ho = { .addr = d->o.http, .token = d->token, .changes = d->api,
                       .tls_cert = d->o.tls_cert, .tls_key = d->o.tls_key,
                       .metrics = http_metrics, .ready = is_ready,
                       .alerts_json = daemon_alerts_json, .changes_updated = on_api_changes,
                       .change_declared = share_declared, .change_withdrawn = share_withdrawn,
                       .log = http_log, .ctx = d };
    http_t *h = http_start(&ho, err, errlen);
    if (!h)
        return SW_EIO;
    /* pairs with the acquire in http_metrics */
    atomic_store_explicit(&d->http, h, memory_order_release);
    sw_log(LOG_INFO, "http: serving on %s (port %u)%s", d->o.http, http_port(h),
           d->token ? "" : "; API writes refused (no token)");
    return SW_OK;
}

static series_table_t *table_for(void *ctx, const char *user, size_t len)
{
    daemon_t *d = ctx;
    return shard_table(d->sh[router_shard_of(user, len, d->nshards)].shard);
}

static const detect_params_t *params_for(void *ctx, const char *user, size_t len)
{
    daemon_t *d = ctx;
    return cfg_detect_for(d->cfg, user, len);
}

static int state_load(daemon_t *d, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc = fio_read(d->o.state, STATE_MAX_BYTES, &buf, &len);
    if (rc == 1) {
        sw_log(LOG_INFO, "state: %s: none yet, learning from scratch", d->o.state);
        return SW_OK;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", d->o.state,
                 errno == EINVAL ? "not a regular file" : strerror(errno));
        return SW_EIO;
    }
    char why[256];
    rc = state_decode(table_for, buf, len, params_for, d, why, sizeof(why));
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", d->o.state, why);
        return rc;
    }
    sw_log(LOG_INFO, "state: %s: learned baselines loaded", d->o.state);
    return SW_OK;
}

/* Encodes the shards' tables (the caller makes sure no shard writes them). */
static int state_encode_all(daemon_t *d, unsigned char **buf, size_t *len)
{
    series_table_t **t = calloc(d->nshards, sizeof(*t));
    if (!t)
        return SW_ENOMEM;
    for (unsigned i = 0; i < d->nshards; i++)
        t[i] = shard_table(d->sh[i].shard);
    int rc = state_encode(t, d->nshards, buf, len);
    free(t);
    return rc;
}

/* Writes an encoded state atomically (fio_replace): a crash mid-write, a
 * full disk, leave the previous file whole. Counted for the metrics. */
static int state_write(daemon_t *d, unsigned char *buf, size_t len)
{
    int rc = fio_replace(d->o.state, buf, len);
    free(buf);
    if (rc < 0) {
        atomic_fetch_add_explicit(&d->state_failures, 1, memory_order_relaxed);
        sw_log(LOG_ERROR, "state: %s: cannot save: %s; the previous state is kept", d->o.state,
               strerror(errno));
        return SW_EIO;
    }
    atomic_fetch_add_explicit(&d->state_saves, 1, memory_order_relaxed);
    atomic_store_explicit(&d->state_last_unix, (uint64_t)time(NULL), memory_order_relaxed);
    sw_log(LOG_DEBUG, "state: %s: saved (%zu bytes)", d->o.state, len);
    return SW_OK;
}

/* On exit, every thread joined: saves the shards' baselines. */
static int state_save(daemon_t *d)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = state_encode_all(d, &buf, &len);
    if (rc < 0) {
        sw_log(LOG_ERROR, "state: %s: cannot encode: %s", d->o.state, sw_strerror(rc));
        return rc;
    }
    rc = state_write(d, buf, len);
    if (rc == SW_OK)
        sw_log(LOG_INFO, "state: %s: saved (%zu bytes)", d->o.state, len);
    return rc;
}

#define PARK_WAIT_S 2.0 /* a checkpoint gives up when a shard takes longer to stop */

/*
 * While running: parks every shard between bursts (ingest queues up behind
 * them, or drops if told to), encodes their tables, lets them go, then
 * writes the file. The pause lasts the encoding only.
 */
/*
 * Parks every shard between bursts (ingest queues up behind them, or drops
 * if told to) so that their tables may be read or filled. 0, or -1 when a
 * shard did not stop within PARK_WAIT_S (nothing is parked then).
 */
static int park_all(daemon_t *d)
{
    atomic_store_explicit(&d->pause_req, 1, memory_order_release);
    double give_up = mono_s() + PARK_WAIT_S;
    long idle = IDLE_MIN_NS;
    for (unsigned i = 0; i < d->nshards; i++) {
        /* acquire pairs with park()'s release (or shard_main's on exit) */
        while (!atomic_load_explicit(&d->sh[i].parked, memory_order_acquire) &&
               !atomic_load_explicit(&d->sh[i].done, memory_order_acquire)) {
            if (mono_s() > give_up) {
                atomic_store_explicit(&d->pause_req, 0, memory_order_release);
                sw_log(LOG_WARN, "state: shard %u did not stop within %.0f s", i, PARK_WAIT_S);
                return -1;
            }
            nap(&idle);
        }
    }
    return 0;
}

/* Lets the shards go: pairs with the acquire in park(), so everything read
 * or written in their tables meanwhile comes before their next write. */
static void unpark_all(daemon_t *d)
{
    atomic_store_explicit(&d->pause_req, 0, memory_order_release);
}

static void kafka_state_publish(daemon_t *d, const unsigned char *buf, size_t len);

/*
 * While running (main thread, or the ingest thread before partitions are
 * revoked): encodes the shards' tables with them parked, then writes the
 * file and/or publishes the state to Kafka. The pause lasts the encoding.
 */
static void state_checkpoint(daemon_t *d)
{
    pthread_mutex_lock(&d->ckpt_lock);
    if (park_all(d) < 0) {
        pthread_mutex_unlock(&d->ckpt_lock);
        atomic_fetch_add_explicit(&d->state_failures, 1, memory_order_relaxed);
        sw_log(LOG_WARN, "state: checkpoint skipped");
        return;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = state_encode_all(d, &buf, &len);
    unpark_all(d);
    pthread_mutex_unlock(&d->ckpt_lock);
    if (rc < 0) {
        atomic_fetch_add_explicit(&d->state_failures, 1, memory_order_relaxed);
        sw_log(LOG_ERROR, "state: checkpoint: cannot encode: %s", sw_strerror(rc));
        return;
    }
    if (d->kst_out)
        kafka_state_publish(d, buf, len);
    if (d->o.state)
        state_write(d, buf, len);
    else
        free(buf);
}

/* SIGHUP: loads the config and the register; publishes them if good. */
static void reload(daemon_t *d)
{
    char err[512];
    cfg_t *c = load_config(d->o.config, err, sizeof(err));
    if (!c) {
        sw_log(LOG_ERROR, "reload refused, old config kept: %s", err);
        return;
    }
    changes_t *reg = load_changes(d->o.changes, err, sizeof(err));
    if (!reg) {
        sw_log(LOG_ERROR, "reload refused, old change register kept: %s", err);
        cfg_free(c);
        free(c);
        return;
    }
    /* the register: the file's changes merged with the API's; the alert
     * thread swaps it in and hands the old one back */
    pthread_mutex_lock(&d->reg_lock);
    changes_destroy(d->file_reg);
    d->file_reg = reg;
    pthread_mutex_unlock(&d->reg_lock);
    publish_register(d);
    /* the config: publish, then wait until every consumer has switched */
    atomic_store_explicit(&d->next_cfg, c, memory_order_release);
    unsigned gen = atomic_fetch_add_explicit(&d->cfg_gen, 1, memory_order_acq_rel) + 1;
    for (int tries = 0; tries < 5000; tries++) {
        int all = atomic_load_explicit(&d->alerts_cfg_ack, memory_order_acquire) == gen ||
                  atomic_load_explicit(&d->alerts_done, memory_order_acquire);
        for (unsigned i = 0; i < d->nshards; i++)
            all &= atomic_load_explicit(&d->sh[i].cfg_ack, memory_order_acquire) == gen ||
                   atomic_load_explicit(&d->sh[i].done, memory_order_acquire);
        if (all) {
            cfg_free(d->cfg);
            free(d->cfg);
            d->cfg = c;
            sw_log(LOG_INFO, "reloaded %s and %s", d->o.config ? d->o.config : "(defaults)",
                   d->o.changes ? d->o.changes : "(no change register)");
            return;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    sw_log(LOG_WARN, "reload: a thread did not switch in 5 s; old config kept in memory");
}

static void log_stats(daemon_t *d, double dt, uint64_t *last_lines)
{
    uint64_t lines = atomic_load_explicit(&d->lines, memory_order_relaxed);
    char rings[256] = "";
    size_t off = 0;
    uint64_t waits = 0, drops = 0;
    for (unsigned i = 0; i < d->nshards && off < sizeof(rings) - 32; i++) {
        off += (size_t)snprintf(rings + off, sizeof(rings) - off, "%s%zu", i ? "," : "",
                                ring_depth(d->sh[i].in));
        waits += atomic_load_explicit(&d->sh[i].in_waits, memory_order_relaxed);
        drops += atomic_load_explicit(&d->sh[i].in_drops, memory_order_relaxed);
    }
    sw_log(LOG_INFO,
           "stats: %.0f lines/s, %" PRIu64 " lines, %" PRIu64 " msgs, %" PRIu64 " bad, %" PRIu64
           " late, ring depth [%s], full-ring waits %" PRIu64 ", dropped %" PRIu64
           ", alerts %" PRIu64 ", write errors %" PRIu64,
           dt > 0 ? (double)(lines - *last_lines) / dt : 0.0, lines,
           atomic_load_explicit(&d->msgs, memory_order_relaxed),
           atomic_load_explicit(&d->router_bad, memory_order_relaxed),
           atomic_load_explicit(&d->router_late, memory_order_relaxed), rings, waits, drops,
           atomic_load_explicit(&d->alerts_out_n, memory_order_relaxed),
           atomic_load_explicit(&d->write_errors, memory_order_relaxed));
    *last_lines = lines;
}

static int parse_args(int argc, char **argv, run_opts_t *o)
{
    enum { O_PUB = 256, O_SHARDS, O_RING, O_DROP, O_RECORD, O_RECMAX, O_RECGZ, O_CSEC, O_CPUB,
           O_CALLOW, O_STATS, O_STATE_EVERY, O_KBROKERS, O_KTOPIC, O_KGROUP, O_KALERTS, O_KCHANGES, O_KSTATE, O_LOG, O_AM, O_HTTP, O_TOKEN, O_JOURNAL, O_AMQ, O_CERT, O_KEY };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "changes", required_argument, NULL, 'C' },
        { "state", required_argument, NULL, 's' },
        { "ingest", required_argument, NULL, 'i' },
        { "alerts", required_argument, NULL, 'a' },
        { "pub", required_argument, NULL, O_PUB },
        { "shards", required_argument, NULL, O_SHARDS },
        { "ring-size", required_argument, NULL, O_RING },
        { "drop-when-full", no_argument, NULL, O_DROP },
        { "record", required_argument, NULL, O_RECORD },
        { "record-max", required_argument, NULL, O_RECMAX },
        { "record-gzip", no_argument, NULL, O_RECGZ },
        { "curve-secret", required_argument, NULL, O_CSEC },
        { "curve-public", required_argument, NULL, O_CPUB },
        { "curve-allow", required_argument, NULL, O_CALLOW },
        { "stats-every", required_argument, NULL, O_STATS },
        { "state-every", required_argument, NULL, O_STATE_EVERY },
        { "kafka-brokers", required_argument, NULL, O_KBROKERS },
        { "kafka-topic", required_argument, NULL, O_KTOPIC },
        { "kafka-group", required_argument, NULL, O_KGROUP },
        { "kafka-alerts-topic", required_argument, NULL, O_KALERTS },
        { "kafka-changes-topic", required_argument, NULL, O_KCHANGES },
        { "kafka-state-topic", required_argument, NULL, O_KSTATE },
        { "log-level", required_argument, NULL, O_LOG },
        { "alertmanager", required_argument, NULL, O_AM },
        { "http", required_argument, NULL, O_HTTP },
        { "http-token-file", required_argument, NULL, O_TOKEN },
        { "changes-journal", required_argument, NULL, O_JOURNAL },
        { "alertmanager-queue", required_argument, NULL, O_AMQ },
        { "http-tls-cert", required_argument, NULL, O_CERT },
        { "http-tls-key", required_argument, NULL, O_KEY },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* zero, NULL or the markers below: not given, the config file decides */
    *o = (run_opts_t){ .record_max = UINT64_MAX, .stats_every = -1, .state_every = -1 };
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:s:i:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'C': o->changes = optarg; break;
        case 's': o->state = optarg; break;
        case 'i':
            if (o->ningest == MAX_INGEST) {
                fprintf(stderr, "stormwatch run: at most %d --ingest endpoints\n", MAX_INGEST);
                return 2;
            }
            o->ingest[o->ningest++] = optarg;
            break;
        case 'a': o->alerts = optarg; break;
        case O_PUB: o->pub = optarg; break;
        case O_SHARDS:
            o->nshards = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->nshards < 1 || o->nshards > 256) {
                fprintf(stderr, "stormwatch run: --shards: want 1 to 256, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_RING:
            o->ring_size = strtoul(optarg, &end, 10);
            if (*end || o->ring_size < CFG_MIN_RING_SIZE || o->ring_size > CFG_MAX_RING_SIZE) {
                fprintf(stderr, "stormwatch run: --ring-size: want 64 or more, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DROP: o->drop_when_full = 1; break;
        case O_RECORD: o->record = optarg; break;
        case O_RECMAX:
            o->record_max = strtoull(optarg, &end, 10);
            if (*end) {
                fprintf(stderr, "stormwatch run: --record-max: not a number: '%s'\n", optarg);
                return 2;
            }
            break;
        case O_RECGZ: o->record_gzip = 1; break;
        case O_CSEC: o->curve_secret = optarg; break;
        case O_CPUB: o->curve_public = optarg; break;
        case O_CALLOW: o->curve_allow = optarg; break;
        case O_STATS:
            o->stats_every = strtod(optarg, &end);
            if (*end || o->stats_every < 0) {
                fprintf(stderr, "stormwatch run: --stats-every: want seconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_KBROKERS: o->kafka_brokers = optarg; break;
        case O_KTOPIC: o->kafka_topic = optarg; break;
        case O_KGROUP: o->kafka_group = optarg; break;
        case O_KALERTS: o->kafka_alerts_topic = optarg; break;
        case O_KCHANGES: o->kafka_changes_topic = optarg; break;
        case O_KSTATE: o->kafka_state_topic = optarg; break;
        case O_STATE_EVERY:
            if (tf_parse_duration(optarg, &o->state_every) < 0) {
                fprintf(stderr, "stormwatch run: --state-every: want a duration such as 5m, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case O_LOG:
            if (log_set_level(optarg) < 0) {
                fprintf(stderr, "stormwatch run: --log-level: want error, warn, info or debug\n");
                return 2;
            }
            o->log_level_given = 1;
            break;
        case O_AM:
            if (o->nam == MAX_INGEST) {
                fprintf(stderr, "stormwatch run: at most %d --alertmanager URLs\n", MAX_INGEST);
                return 2;
            }
            o->am[o->nam++] = optarg;
            break;
        case O_AMQ: o->am_queue = optarg; break;
        case O_CERT: o->tls_cert = optarg; break;
        case O_KEY: o->tls_key = optarg; break;
        case O_HTTP: o->http = optarg; break;
        case O_TOKEN: o->http_token_file = optarg; break;
        case O_JOURNAL: o->journal = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stormwatch run: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    return 0;
}

/* Keeps a copy of a config string the daemon needs after a reload. */
static const char *own(run_opts_t *o, const char *s)
{
    if (!s || o->nowned == sizeof(o->owned) / sizeof(o->owned[0]))
        return NULL;
    return o->owned[o->nowned++] = strdup(s);
}

/*
 * Fills what the command line did not give from the config file's `run:`
 * section, then checks the whole. Returns 0, or 2 with a message.
 */
static int merge_run_config(run_opts_t *o, const cfg_t *c)
{
    const run_cfg_t *r = &c->run;
    if (o->ningest == 0)
        for (size_t i = 0; i < r->n_ingest && o->ningest < MAX_INGEST; i++)
            o->ingest[o->ningest++] = own(o, r->ingest[i]);
    if (!o->alerts)
        o->alerts = own(o, r->alerts);
    if (!o->pub)
        o->pub = own(o, r->pub);
    if (!o->changes)
        o->changes = own(o, r->changes);
    if (!o->state)
        o->state = own(o, r->state);
    if (!o->record)
        o->record = own(o, r->record);
    if (o->record_max == UINT64_MAX)
        o->record_max = r->record_max;
    o->record_gzip |= r->record_gzip;
    o->drop_when_full |= r->drop_when_full;
    if (!o->nshards)
        o->nshards = (unsigned)r->shards;
    if (!o->nshards) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o->nshards = cores > 1 ? (unsigned)(cores - 1) : 1;
    }
    if (!o->ring_size)
        o->ring_size = r->ring_size;
    if (o->stats_every < 0)
        o->stats_every = (double)r->stats_every / SW_NS_PER_S;
    if (o->state_every < 0)
        o->state_every = r->state_every;
    if (o->nam == 0)
        for (size_t i = 0; i < r->n_alertmanager && o->nam < MAX_INGEST; i++)
            o->am[o->nam++] = own(o, r->alertmanager[i]);
    if (!o->am_queue)
        o->am_queue = own(o, r->alertmanager_queue);
    if (!o->http)
        o->http = own(o, r->http);
    if (!o->http_token_file)
        o->http_token_file = own(o, r->http_token_file);
    if (!o->tls_cert)
        o->tls_cert = own(o, r->http_tls_cert);
    if (!o->tls_key)
        o->tls_key = own(o, r->http_tls_key);
    if (!o->journal)
        o->journal = own(o, r->changes_journal);
    if (!!o->tls_cert != !!o->tls_key) {
        fprintf(stderr, "stormwatch run: HTTPS needs both the certificate and the key\n");
        return 2;
    }
    if (!o->curve_secret)
        o->curve_secret = own(o, r->curve.secret_key);
    if (!o->curve_public)
        o->curve_public = own(o, r->curve.public_key);
    if (!o->curve_allow)
        o->curve_allow = own(o, r->curve.allowed_keys);
    if (!o->log_level_given) {
        static const char *const levels[] = { "error", "warn", "info", "debug" };
        log_set_level(levels[r->log_level]);
    }
    if (!o->kafka_brokers)
        o->kafka_brokers = own(o, r->kafka_brokers);
    if (!o->kafka_topic)
        o->kafka_topic = own(o, r->kafka_topic);
    if (!o->kafka_group)
        o->kafka_group = own(o, r->kafka_group);
    if (!o->kafka_alerts_topic)
        o->kafka_alerts_topic = own(o, r->kafka_alerts_topic);
    if (!o->kafka_changes_topic)
        o->kafka_changes_topic = own(o, r->kafka_changes_topic);
    if (!o->kafka_state_topic)
        o->kafka_state_topic = own(o, r->kafka_state_topic);
    if (o->kafka_state_topic && !o->kafka_topic) {
        fprintf(stderr, "stormwatch run: --kafka-state-topic moves state with --kafka-topic's "
                        "partitions: it needs --kafka-topic\n");
        return 2;
    }
    o->kafka_props = (const char *const *)r->kafka_properties;
    o->nkafka_props = r->n_kafka_properties;
    if (o->kafka_brokers && !o->kafka_topic && !o->kafka_alerts_topic && !o->kafka_changes_topic) {
        fprintf(stderr, "stormwatch run: --kafka-brokers needs a Kafka topic to read or write\n");
        return 2;
    }
    if (o->kafka_changes_topic && !o->http) {
        fprintf(stderr, "stormwatch run: --kafka-changes-topic shares the change API's changes: "
                        "it needs --http\n");
        return 2;
    }
    if ((o->kafka_topic || o->kafka_alerts_topic || o->kafka_changes_topic) && !o->kafka_brokers) {
        fprintf(stderr, "stormwatch run: a Kafka topic needs --kafka-brokers\n");
        return 2;
    }
    if (o->ningest == 0 && !o->kafka_topic) {
        fprintf(stderr, "stormwatch run: no --ingest endpoint or --kafka-topic given "
                        "(nor run.ingest or run.kafka_topic in a config)\n");
        return 2;
    }
    if ((o->curve_secret || o->curve_public || o->curve_allow) &&
        !(o->curve_secret && o->curve_public && o->curve_allow)) {
        /* without the allow list libzmq admits any client key: encrypted,
         * but nobody kept out - not what an operator asking for curve wants */
        fprintf(stderr, "stormwatch run: CurveZMQ needs the secret key, the public key and the "
                        "allowed keys together\n");
        return 2;
    }
    if (!o->alerts && !o->pub && !o->nam)
        o->alerts = "-";
    return 0;
}

static void teardown(daemon_t *d)
{
    http_stop(atomic_load(&d->http)); /* first: its threads read everything below */
    atomic_store(&d->http, NULL);
    for (unsigned i = 0; d->sh && i < d->nshards; i++) {
        shard_destroy(d->sh[i].shard);
        ring_destroy(d->sh[i].in);
        ring_destroy(d->sh[i].out);
    }
    free(d->sh);
    router_destroy(d->router);
    alerts_destroy(d->as);
    for (size_t i = 0; i < d->nsocks; i++)
        zmq_close(d->socks[i]);
    kafka_in_close(d->kin); /* commits what was taken, leaves the group */
    kafka_out_close(d->kout, 5000);
    kafka_in_close(d->kchg_in);
    kafka_in_close(d->kst_in);
    kafka_out_close(d->kst_out, 5000);
    for (size_t i = 0; i < d->nkst; i++) {
        free(d->kst[i].key);
        free(d->kst[i].blob);
    }
    if (d->kchg_out) {
        kafka_out_close(d->kchg_out, 5000);
        pthread_mutex_destroy(&d->kchg_lock);
    }
    for (size_t i = 0; i < d->nkprops; i++) {
        free(d->kprop_keys[i]);
        free(d->kprop_values[i]);
    }
    free(d->kprop_keys);
    free(d->kprop_values);
    sink_zmq_destroy(d->pub);
    sink_am_destroy(d->am); /* delivers what it can in a short grace, persists the rest */
    curve_auth_stop(d->auth);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    record_close(d->rec);
    if (d->alerts_out && d->alerts_out != stdout)
        fclose(d->alerts_out);
    changes_api_close(d->api);
    free(d->token);
    changes_destroy(d->reg);
    changes_destroy(d->file_reg);
    pthread_mutex_destroy(&d->reg_lock);
    changes_destroy(atomic_load(&d->next_reg));
    changes_destroy(atomic_load(&d->old_reg));
    if (d->cfg) {
        cfg_free(d->cfg);
        free(d->cfg);
    }
    free(d->line_buf);
    free(d->alerts_snapshot);
    pthread_mutex_destroy(&d->snap_lock);
    for (size_t i = 0; i < d->o.nowned; i++)
        free(d->o.owned[i]);
}

static int setup(daemon_t *d, char *err, size_t errlen)
{
    if (!(d->cfg = load_config(d->o.config, err, errlen)))
        return SW_ECONFIG;
    if (merge_run_config(&d->o, d->cfg))
        return SW_EINVAL;
    d->ingest = d->cfg->ingest;
    if (!(d->file_reg = load_changes(d->o.changes, err, errlen)))
        return SW_ECONFIG;
    if (d->o.http || d->o.journal) {
        const char *journal = d->o.journal ? d->o.journal : "stormwatch-changes.journal";
        if (changes_api_open(journal, NULL, &d->api, err, errlen) < 0)
            return SW_ECONFIG;
    }
    if (!(d->reg = merged_register(d)))
        return SW_ENOMEM;
    atomic_store_explicit(&d->changes_n, changes_count(d->reg), memory_order_relaxed);
    d->nshards = d->o.nshards;
    d->sh = calloc(d->nshards, sizeof(*d->sh));
    if (!d->sh)
        return SW_ENOMEM;
    for (unsigned i = 0; i < d->nshards; i++) {
        shard_thr_t *s = &d->sh[i];
        s->d = d;
        s->index = i;
        shard_opts_t so = { .ingest = d->cfg->ingest, .detect_for = detect_for,
                            .detect_ctx = d->cfg, .emit = shard_emit, .emit_ctx = s,
                            .feed_owner = i == 0,
                            .max_series = shard_share(d->cfg->ingest.max_series, d->nshards) };
        s->shard = shard_create(&so);
        s->in = ring_create(d->o.ring_size, sizeof(rec_t));
        s->out = ring_create(d->o.ring_size / 4, sizeof(event_t));
        if (!s->shard || !s->in || !s->out)
            return SW_ENOMEM;
    }
    router_opts_t ro = { .ingest = d->cfg->ingest, .nshards = d->nshards, .deliver = deliver,
                         .ctx = d };
    alerts_opts_t ao = { .corr = d->cfg->corr, .nshards = d->nshards, .detect_for = detect_for,
                         .detect_ctx = d->cfg, .emit = alert_emit, .emit_ctx = d };
    d->router = router_create(&ro);
    d->as = alerts_create(&ao, d->reg);
    if (!d->router || !d->as)
        return SW_ENOMEM;
    if (d->o.state && state_load(d, err, errlen) < 0)
        return SW_ECONFIG;

    if (d->o.alerts) {
        d->alerts_out = strcmp(d->o.alerts, "-") == 0 ? stdout : fopen(d->o.alerts, "a");
        if (!d->alerts_out) {
            snprintf(err, errlen, "%s: %s", d->o.alerts, strerror(errno));
            return SW_EIO;
        }
    }
    if (!(d->zctx = zmq_ctx_new())) {
        snprintf(err, errlen, "ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        return SW_EIO;
    }
    if (d->o.curve_allow && !(d->auth = curve_auth_start(d->zctx, d->o.curve_allow, err, errlen)))
        return SW_ECONFIG;
    for (size_t i = 0; i < d->o.ningest; i++) {
        int rc = open_ingest(d, d->o.ingest[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    if (d->o.kafka_brokers) {
        int rc = open_kafka(d, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (d->o.pub && !(d->pub = sink_zmq_create(d->zctx, d->o.pub, err, errlen)))
        return SW_EIO;
    if (d->o.nam) {
        sink_am_opts_t amo = { .urls = d->o.am, .nurls = d->o.nam,
                               .queue_path = d->o.am_queue ? d->o.am_queue
                                                           : "stormwatch-alertmanager.queue" };
        if (!(d->am = sink_am_create(&amo, err, errlen)))
            return SW_ECONFIG;
    }
    if (d->o.record &&
        !(d->rec = record_open(d->o.record, d->o.record_max, d->o.record_gzip, err, errlen)))
        return SW_EIO;
    if (d->o.http) {
        int rc = start_http(d, err, errlen);
        if (rc < 0)
            return rc;
    }
    return SW_OK;
}

int run_main(int argc, char **argv)
{
    static daemon_t d; /* large; one per process */
    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.snap_lock, NULL);
    pthread_mutex_init(&d.reg_lock, NULL);
    pthread_mutex_init(&d.kst_lock, NULL);
    pthread_mutex_init(&d.ckpt_lock, NULL);
    d.alerts_snapshot = strdup("[]");
    int rc = parse_args(argc, argv, &d.o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char err[1024] = "";
    rc = setup(&d, err, sizeof(err));
    if (rc < 0) {
        if (rc != SW_EINVAL) /* SW_EINVAL: merge_run_config has said why */
            fprintf(stderr, "stormwatch run: %s\n", err[0] ? err : sw_strerror(rc));
        teardown(&d);
        return rc == SW_ECONFIG || rc == SW_EIO || rc == SW_EINVAL ? 2 : 1;
    }

    /* signals go to the main thread only: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    for (unsigned i = 0; i < d.nshards; i++)
        pthread_create(&d.sh[i].tid, NULL, shard_main, &d.sh[i]);
    pthread_create(&d.alerts_tid, NULL, alerts_main, &d);
    pthread_create(&d.ingest_tid, NULL, ingest_main, &d);
    atomic_store_explicit(&d.running, 1, memory_order_release);
    sw_log(LOG_INFO, "running: %u shard%s, %zu ingest endpoint%s, alerts to %s%s%s", d.nshards,
           d.nshards == 1 ? "" : "s", d.nsocks, d.nsocks == 1 ? "" : "s",
           d.o.alerts ? (strcmp(d.o.alerts, "-") ? d.o.alerts : "standard output") : "PUB only",
           d.o.pub ? " and PUB " : "", d.o.pub ? d.o.pub : "");

    double next_stats = mono_s() + d.o.stats_every, last = mono_s();
    double state_every = (double)d.o.state_every / SW_NS_PER_S;
    double next_state = mono_s() + state_every;
    uint64_t last_lines = 0;
    for (;;) {
        struct timespec to = { 0, 200000000 };
        int sig = sigtimedwait(&sigs, NULL, &to);
        if (sig == SIGTERM || sig == SIGINT) {
            sw_log(LOG_INFO, "%s: draining and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGHUP)
            reload(&d);
        changes_t *old = atomic_exchange_explicit(&d.old_reg, NULL, memory_order_acq_rel);
        changes_destroy(old);
        if (d.o.stats_every > 0 && mono_s() >= next_stats) {
            double now = mono_s();
            log_stats(&d, now - last, &last_lines);
            last = now;
            next_stats = now + d.o.stats_every;
        }
        if ((d.o.state || d.kst_out) && state_every > 0 && mono_s() >= next_state) {
            state_checkpoint(&d);
            next_state = mono_s() + state_every;
        }
    }
    /* stop reading; the pipeline drains behind it */
    atomic_store_explicit(&d.running, 0, memory_order_release);
    atomic_store_explicit(&d.stop, 1, memory_order_relaxed);
    pthread_join(d.ingest_tid, NULL);
    for (unsigned i = 0; i < d.nshards; i++)
        pthread_join(d.sh[i].tid, NULL);
    pthread_join(d.alerts_tid, NULL);
    int status = 0;
    if (d.o.state && state_save(&d) < 0)
        status = 1;
    log_stats(&d, mono_s() - last, &last_lines);
    if (d.rec) {
        record_flush(d.rec);
        const record_stats_t *rs = record_stats(d.rec);
        if (rs->write_errors)
            sw_log(LOG_WARN, "record: %" PRIu64 " write errors, %" PRIu64 " bytes dropped",
                   rs->write_errors, rs->dropped_bytes);
    }
    sw_log(LOG_INFO, "stopped");
    teardown(&d);
    return status;
}
