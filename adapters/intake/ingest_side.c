/*
 * ingest_side.c - the daemon's ingest thread: ZeroMQ (and Kafka) messages
 * in, their lines to the router, which it alone owns while it runs; the
 * levels operators accept join the samples here, in order.
 *
 * ingest_side.h says which thread calls what and who owns what; the
 * records the router hands the shards go through the daemon's transport
 * (di_hooks_t.flush pushes them into the rings).
 */
#include "ingest_side.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "config.h"
#include "dir.h"
#include "err.h"
#include "errburst.h"
#include "kafka_side.h"
#include "log.h"
#include "netaddr.h"
#include "record.h"

#define MAX_INGEST CFG_MAX_INGEST
#define POLL_MS 100            /* ingest wakes this often to check the clock */
#define KAFKA_POLL_MS 10       /* ZeroMQ's wait when Kafka is read too */
#define KAFKA_COMMIT_S 1.0     /* Kafka offsets are committed this often */

/* A User's direction whose level an operator accepts (POST .../accept). */
struct accept_req {
    char user[LP_MAX_ID + 1];
    int dir;
    struct accept_req *next;
};

struct dingest {
    di_opts_t o;                  /* its strings are not kept: see di_open */
    di_hooks_t h;
    dkafka_t *kafka;              /* NULL without Kafka */
    pthread_t tid;
    int started;
    atomic_int stop;              /* main asks; read relaxed, seen eventually */
    void *socks[MAX_INGEST];
    void *monitors[MAX_INGEST];   /* each socket's connection events */
    size_t nsocks;
    errburst_t disconnect_log;
    curve_auth_t *auth;
    record_t *rec;                /* --record; NULL: none */
    /* levels to accept as normal (HTTP threads), for the ingest thread to
     * hand the router in order and free */
    pthread_mutex_t acc_lock;
    struct accept_req *acc_head, *acc_tail;
    atomic_uint_fast64_t accepts_early; /* asked before any sample: nothing to accept */
    atomic_uint_fast64_t msgs, lines, bytes, ingest_disconnects;
    atomic_uint_fast64_t bad_by_result[LP_NRESULTS];
    atomic_uint_fast64_t router_bad, router_late, router_stalls, router_ahead;
    atomic_uint_fast64_t router_waiting, router_buffer_bytes; /* the reorder buffer */
    atomic_uint_fast64_t router_source_stalls;
    atomic_uint_fast64_t record_errors, record_dropped;
};

void di_feed(dingest_t *k, const char *data, size_t len)
{
    if (!k)
        return;
    if (k->rec)
        record_write(k->rec, data, len); /* failures are counted by the recorder */
    const char *p = data, *end = data + len;
    uint64_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lp_result_t res = router_feed_line(k->h.router, p, l);
        if (lp_result_is_bad(res)) {
            atomic_fetch_add_explicit(&k->bad_by_result[res], 1, memory_order_relaxed);
            uint64_t bad = atomic_fetch_add_explicit(&k->router_bad, 1, memory_order_relaxed);
            if (bad < 10) { /* a sample of what is wrong, not a flood */
                char shown[512];
                sw_log(LOG_WARN, "bad line (%s): %s", lp_result_str(res),
                       log_escape(shown, sizeof(shown), p, l, 120));
            }
        }
        n++;
        p += l + 1;
    }
    atomic_fetch_add_explicit(&k->lines, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&k->bytes, len, memory_order_relaxed);
    atomic_fetch_add_explicit(&k->msgs, 1, memory_order_relaxed);
}

/* Counts the ingest sockets' producers disconnected since the last call,
 * and logs them once a burst: a producer that closed, or one cut off by
 * ZeroMQ for a message over run.max_message or a broken protocol. */
static void ingest_monitor_events(dingest_t *k)
{
    uint64_t n = 0;
    for (size_t i = 0; i < k->nsocks; i++) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        while (k->monitors[i] && zmq_msg_recv(&ev, k->monitors[i], ZMQ_DONTWAIT) >= 0) {
            /* a monitor message: the event frame (u16 event, u32 value),
             * then the endpoint frame */
            if (zmq_msg_more(&ev))
                n++;
        }
        zmq_msg_close(&ev);
    }
    if (!n)
        return;
    uint64_t total =
        atomic_fetch_add_explicit(&k->ingest_disconnects, n, memory_order_relaxed) + n;
    errburst_fail(&k->disconnect_log, errburst_now(), LOG_WARN,
                  "ingest: %" PRIu64 " producer connections closed so far: by the producer, or "
                  "cut off for a message over --max-message (%" PRIu64 " bytes) or a protocol "
                  "error",
                  total, k->o.max_message);
}

/* ---- accepting a level as the new normal ------------------------------- */

/* The HTTP server's thread: queued for the ingest thread, which owns the
 * router (the level is accepted in order with the samples). */
int di_accept(dingest_t *k, const char *user, int dir, char *err, size_t errlen)
{
    if (!k) { /* nothing would ever take it: refused, not lost */
        sw_errf(err, errlen, "no ingest is running: nothing to accept");
        return SW_EINVAL;
    }
    struct accept_req *a = calloc(1, sizeof(*a));
    if (!a) {
        sw_errf(err, errlen, "out of memory");
        return SW_ENOMEM;
    }
    snprintf(a->user, sizeof(a->user), "%s", user);
    a->dir = dir ? DIR_NORTH : DIR_SOUTH;
    pthread_mutex_lock(&k->acc_lock);
    if (k->acc_tail)
        k->acc_tail->next = a;
    else
        k->acc_head = a;
    k->acc_tail = a;
    pthread_mutex_unlock(&k->acc_lock);
    sw_log(LOG_INFO, "api: %s's %sbound level to be accepted as its new normal", a->user,
           dir_name(dir));
    return SW_OK;
}

/* Ingest thread: hands the queued accepts to the router. */
static void take_accepts(dingest_t *k)
{
    pthread_mutex_lock(&k->acc_lock);
    struct accept_req *a = k->acc_head;
    k->acc_head = k->acc_tail = NULL;
    pthread_mutex_unlock(&k->acc_lock);
    while (a) {
        struct accept_req *next = a->next;
        int rc = router_accept(k->h.router, a->user, strlen(a->user), a->dir);
        if (rc == SW_ENOTFOUND) {
            atomic_fetch_add_explicit(&k->accepts_early, 1, memory_order_relaxed);
            sw_log(LOG_WARN, "api: %s's level not accepted: no sample has been read yet",
                   a->user);
        } else if (rc != SW_OK) {
            sw_log(LOG_ERROR, "api: %s's level not accepted: %s", a->user, sw_strerror(rc));
        }
        free(a);
        a = next;
    }
}

/* ---- the ingest thread -------------------------------------------------- */

/* Ingest thread, each round: the router's and the recorder's counters,
 * mirrored for the metrics. */
static void mirror_stats(dingest_t *k)
{
    const router_stats_t *rs = router_stats(k->h.router);
    atomic_store_explicit(&k->router_late, rs->late, memory_order_relaxed);
    atomic_store_explicit(&k->router_ahead, rs->ahead, memory_order_relaxed);
    atomic_store_explicit(&k->router_stalls, rs->feed_stalls, memory_order_relaxed);
    atomic_store_explicit(&k->router_source_stalls, rs->source_stalls, memory_order_relaxed);
    atomic_store_explicit(&k->router_waiting, router_depth(k->h.router), memory_order_relaxed);
    atomic_store_explicit(&k->router_buffer_bytes, router_buffer_bytes(k->h.router),
                          memory_order_relaxed);
    if (k->rec) {
        const record_stats_t *rcs = record_stats(k->rec);
        atomic_store_explicit(&k->record_errors, rcs->write_errors, memory_order_relaxed);
        atomic_store_explicit(&k->record_dropped, rcs->dropped_bytes, memory_order_relaxed);
    }
}

/* The stop asked: takes what already arrived, reading until the sockets
 * are quiet, for at most run.drain_timeout, so a producer that never
 * pauses cannot hold the stop up. */
static void drain(dingest_t *k, zmq_pollitem_t *items, zmq_msg_t *msg)
{
    double give_up = k->h.now() + (double)k->o.drain_timeout / SW_NS_PER_S;
    uint64_t drained = 0;
    for (int quiet = 0; !quiet;) {
        quiet = 1;
        if (k->h.now() >= give_up) {
            sw_log(LOG_WARN, "stop: still receiving after --drain-timeout (%.0f s): what the "
                   "producers send from now on is not read",
                   (double)k->o.drain_timeout / SW_NS_PER_S);
            break;
        }
        if (zmq_poll(items, (int)k->nsocks, POLL_MS) <= 0)
            break;
        for (size_t i = 0; i < k->nsocks; i++) {
            for (int n = 0; n < k->o.msgs_per_round &&
                            zmq_msg_recv(msg, k->socks[i], ZMQ_DONTWAIT) >= 0; n++) {
                quiet = 0;
                if (!zmq_msg_more(msg)) {
                    di_feed(k, zmq_msg_data(msg), zmq_msg_size(msg));
                    drained++;
                }
            }
        }
        k->h.flush(k->h.ctx);
    }
    if (drained)
        sw_log(LOG_INFO, "stop: %" PRIu64 " messages read after the stop was asked", drained);
}

static void *ingest_main(void *arg)
{
    dingest_t *k = arg;
    zmq_pollitem_t items[MAX_INGEST];
    for (size_t i = 0; i < k->nsocks; i++)
        items[i] = (zmq_pollitem_t){ .socket = k->socks[i], .events = ZMQ_POLLIN };
    /* the feed is quiet from the first poll that found nothing after data:
     * time this thread spent feeding a shard that was behind is not quiet */
    double quiet_since = 0;
    int seen_data = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    /* stop is read relaxed: it only needs to be seen eventually */
    double next_commit = k->h.now() + KAFKA_COMMIT_S;
    while (!atomic_load_explicit(&k->stop, memory_order_relaxed)) {
        /* with Kafka too, ZeroMQ waits less and Kafka is polled after it */
        int kafka_in = dk_reads_ingest(k->kafka);
        int rc = k->nsocks ? zmq_poll(items, (int)k->nsocks, kafka_in ? KAFKA_POLL_MS : POLL_MS) : 0;
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        int got = 0;
        if (k->kafka) {
            got += dk_poll(k->kafka, k->nsocks ? 0 : POLL_MS) > 0;
            dk_sources(k->kafka, (double)router_stall_after(k->h.router) / SW_NS_PER_S);
        }
        for (size_t i = 0; rc > 0 && i < k->nsocks; i++) {
            for (int n = 0; n < k->o.msgs_per_round; n++) {
                if (zmq_msg_recv(&msg, k->socks[i], ZMQ_DONTWAIT) < 0)
                    break;
                /* a multipart message: the first frames are topics, the
                 * last carries the lines */
                if (zmq_msg_more(&msg))
                    continue;
                di_feed(k, zmq_msg_data(&msg), zmq_msg_size(&msg));
                got = 1;
            }
        }
        ingest_monitor_events(k);
        take_accepts(k);
        if (got) {
            seen_data = 1;
            quiet_since = 0;
        } else if (seen_data) {
            double now = k->h.now();
            if (quiet_since == 0)
                quiet_since = now - (kafka_in ? KAFKA_POLL_MS : POLL_MS) / 1000.0;
            /* the feed's own rhythm, once learnt, or feed.stall_after */
            if (now - quiet_since >= (double)router_stall_after(k->h.router) / SW_NS_PER_S)
                router_stall(k->h.router); /* once per stall: the router knows */
        }
        k->h.flush(k->h.ctx);
        if (kafka_in && k->h.now() >= next_commit) {
            dk_commit(k->kafka);
            next_commit = k->h.now() + KAFKA_COMMIT_S;
        }
        mirror_stats(k);
    }
    /* leave the Kafka group first: what it holds is handed over while the
     * shards still run */
    dk_leave(k->kafka);
    drain(k, items, &msg);
    zmq_msg_close(&msg);
    router_finish(k->h.router);
    k->h.flush(k->h.ctx);
    /* every record pushed above is visible to a shard that sees it done
     * (the hook's release) */
    k->h.done(k->h.ctx);
    return NULL;
}

int di_start(dingest_t *k)
{
    if (!k)
        return 0;
    int rc = pthread_create(&k->tid, NULL, ingest_main, k);
    k->started = rc == 0;
    return rc;
}

void di_stop(dingest_t *k)
{
    if (k)
        atomic_store_explicit(&k->stop, 1, memory_order_relaxed);
}

void di_join(dingest_t *k)
{
    if (k && k->started) {
        pthread_join(k->tid, NULL);
        k->started = 0;
    }
}

void di_use_kafka(dingest_t *k, dkafka_t *kafka)
{
    if (k)
        k->kafka = kafka;
}

/* ---- set-up and teardown ------------------------------------------------ */

/* Opens one --ingest endpoint (bind, connect: or sub:). */
static int open_endpoint(dingest_t *k, const char *spec, char *err, size_t errlen)
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
    void *s = zmq_socket(k->o.zctx, type);
    if (!s) {
        sw_errf(err, errlen, "%s: %s", spec, zmq_strerror(zmq_errno()));
        return SW_EOPEN;
    }
    int hwm = 1000, linger = 0;
    int64_t maxmsg = (int64_t)k->o.max_message; /* a larger message cuts its producer off */
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (k->o.curve_secret_key &&
        curve_server_setup(s, k->o.curve_secret_key, k->o.curve_public_key, err, errlen) < 0) {
        zmq_close(s);
        return SW_ECONFIG;
    }
    int rc = do_bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    if (rc < 0) {
        sw_errf(err, errlen, "%s: %s", spec, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return SW_EOPEN;
    }
    /* its connection events, to count producers cut off (a message over
     * max_message, a protocol error) */
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://sw-ingest-monitor-%zu", k->nsocks);
    void *mon = zmq_socket_monitor(s, mon_ep, ZMQ_EVENT_DISCONNECTED) == 0
                    ? zmq_socket(k->o.zctx, ZMQ_PAIR)
                    : NULL;
    if (mon && zmq_connect(mon, mon_ep) < 0) {
        zmq_close(mon);
        mon = NULL;
    }
    if (!mon)
        sw_log(LOG_WARN, "ingest: %s: no connection events (%s): disconnects are not counted",
               spec, zmq_strerror(zmq_errno()));
    k->monitors[k->nsocks] = mon;
    k->socks[k->nsocks++] = s;
    sw_log(LOG_INFO, "ingest: %s %s %s%s%s", type == ZMQ_SUB ? "SUB" : "PULL",
           do_bind ? "bound at" : "connected to", endpoint, topic[0] ? " topic " : "", topic);
    if (!k->o.curve_secret_key && !net_is_local(spec))
        sw_log(LOG_WARN, "ingest: %s is reachable beyond this host in plaintext, and any "
               "producer that reaches it is let in: use CurveZMQ (--curve-*) or bind to loopback",
               spec);
    return SW_OK;
}

int di_open(const di_opts_t *o, const di_hooks_t *h, dingest_t **out, char *err, size_t errlen)
{
    dingest_t *k = calloc(1, sizeof(*k));
    *out = k;
    if (!k) {
        sw_errf(err, errlen, "out of memory");
        return SW_ENOMEM;
    }
    k->o = *o;
    k->h = *h;
    pthread_mutex_init(&k->acc_lock, NULL);
    if (o->curve_allowed_keys &&
        !(k->auth = curve_auth_start(o->zctx, o->curve_allowed_keys, err, errlen)))
        return SW_ECONFIG;
    for (size_t i = 0; i < o->nendpoints && i < MAX_INGEST; i++) {
        int rc = open_endpoint(k, o->endpoints[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    /* the strings were for the set-up: keep no pointer to them */
    k->o.endpoints = NULL;
    k->o.nendpoints = 0;
    k->o.curve_secret_key = k->o.curve_public_key = k->o.curve_allowed_keys = NULL;
    return SW_OK;
}

int di_record(dingest_t *k, const char *path, uint64_t max_bytes, int gzip, char *err,
              size_t errlen)
{
    if (!k)
        return SW_OK;
    return (k->rec = record_open(path, max_bytes, gzip, err, errlen)) ? SW_OK : SW_EOPEN;
}

void di_record_flush(dingest_t *k)
{
    if (!k || !k->rec)
        return;
    record_flush(k->rec);
    const record_stats_t *rs = record_stats(k->rec);
    if (rs->write_errors)
        sw_log(LOG_WARN, "record: %" PRIu64 " write errors, %" PRIu64 " bytes dropped",
               rs->write_errors, rs->dropped_bytes);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void di_stats(const dingest_t *k, di_stats_t *out)
{
    *out = (di_stats_t){ 0 };
    if (!k)
        return;
    out->msgs = LOAD(k->msgs);
    out->lines = LOAD(k->lines);
    out->bytes = LOAD(k->bytes);
    out->bad = LOAD(k->router_bad);
    for (int r = 0; r < LP_NRESULTS; r++)
        out->bad_by_result[r] = LOAD(k->bad_by_result[r]);
    out->disconnects = LOAD(k->ingest_disconnects);
    out->late = LOAD(k->router_late);
    out->ahead = LOAD(k->router_ahead);
    out->stalls = LOAD(k->router_stalls);
    out->source_stalls = LOAD(k->router_source_stalls);
    out->waiting = LOAD(k->router_waiting);
    out->buffer_bytes = LOAD(k->router_buffer_bytes);
    out->record_errors = LOAD(k->record_errors);
    out->record_dropped = LOAD(k->record_dropped);
    out->accepts_early = LOAD(k->accepts_early);
    if ((out->has_curve = k->auth != NULL))
        curve_auth_stats(k->auth, &out->curve);
}

void di_close(dingest_t *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->nsocks; i++) {
        zmq_close(k->socks[i]);
        if (k->monitors[i])
            zmq_close(k->monitors[i]);
    }
    curve_auth_stop(k->auth); /* after the sockets it let in: curve.h */
    record_close(k->rec);
    for (struct accept_req *a = k->acc_head, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    pthread_mutex_destroy(&k->acc_lock);
    free(k);
}
