/*
 * daemon_ingest.c - the ingest thread: ZeroMQ (and Kafka) messages in, records out to
 * the shards' rings through the router, which it alone owns; the levels
 * operators accept join the samples here, in order.
 *
 * daemon_int.h is what the daemon's files share; daemon.c says which
 * thread does what.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "kafka_side.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "alertjournal.h"
#include "alerts.h"
#include "changes_api.h"
#include "http.h"
#include "changes_yaml.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "errburst.h"
#include "fileio.h"
#include "log.h"
#include "netaddr.h"
#include "record.h"
#include "ring.h"
#include "router.h"
#include "shard.h"
#include "sink_am.h"
#include "sink_zmq.h"
#include "state.h"
#include "statefile.h"
#include "timefmt.h"

/* ---- ingest thread ------------------------------------------------------ */

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
    if (r->type == REC_SAMPLE && r->ts > atomic_load_explicit(&d->in.feed_time, memory_order_relaxed))
        atomic_store_explicit(&d->in.feed_time, r->ts, memory_order_relaxed);
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

void dmn_feed_message(daemon_t *d, const char *data, size_t len)
{
    if (d->in.rec)
        record_write(d->in.rec, data, len); /* failures are counted by the recorder */
    const char *p = data, *end = data + len;
    uint64_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lp_result_t res = router_feed_line(d->in.router, p, l);
        if (lp_result_is_bad(res)) {
            atomic_fetch_add_explicit(&d->in.bad_by_result[res], 1, memory_order_relaxed);
            uint64_t bad = atomic_fetch_add_explicit(&d->in.router_bad, 1, memory_order_relaxed);
            if (bad < 10) { /* a sample of what is wrong, not a flood */
                char shown[512];
                sw_log(LOG_WARN, "bad line (%s): %s", lp_result_str(res),
                       log_escape(shown, sizeof(shown), p, l, 120));
            }
        }
        n++;
        p += l + 1;
    }
    atomic_fetch_add_explicit(&d->in.lines, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->in.bytes, len, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->in.msgs, 1, memory_order_relaxed);
}

/* Counts the ingest sockets' producers disconnected since the last call,
 * and logs them once a burst: a producer that closed, or one cut off by
 * ZeroMQ for a message over run.max_message or a broken protocol. */
static void ingest_monitor_events(daemon_t *d)
{
    uint64_t n = 0;
    for (size_t i = 0; i < d->in.nsocks; i++) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        while (d->in.monitors[i] && zmq_msg_recv(&ev, d->in.monitors[i], ZMQ_DONTWAIT) >= 0) {
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
        atomic_fetch_add_explicit(&d->in.ingest_disconnects, n, memory_order_relaxed) + n;
    errburst_fail(&d->in.disconnect_log, errburst_now(), LOG_WARN,
                  "ingest: %" PRIu64 " producer connections closed so far: by the producer, or "
                  "cut off for a message over --max-message (%" PRIu64 " bytes) or a protocol "
                  "error",
                  total, d->o.r.max_message);
}

/* ---- accepting a level as the new normal ------------------------------- */

/* A User's direction whose level an operator accepts (POST .../accept). */
struct accept_req {
    char user[LP_MAX_ID + 1];
    int dir;
    struct accept_req *next;
};

/* The HTTP server's thread: queued for the ingest thread, which owns the
 * router (the level is accepted in order with the samples). */
int dmn_http_accept(void *ctx, const char *user, int dir, char *err, size_t errlen)
{
    daemon_t *d = ctx;
    struct accept_req *a = calloc(1, sizeof(*a));
    if (!a) {
        sw_errf(err, errlen, "out of memory");
        return SW_ENOMEM;
    }
    snprintf(a->user, sizeof(a->user), "%s", user);
    a->dir = dir ? DIR_NORTH : DIR_SOUTH;
    pthread_mutex_lock(&d->in.acc_lock);
    if (d->in.acc_tail)
        d->in.acc_tail->next = a;
    else
        d->in.acc_head = a;
    d->in.acc_tail = a;
    pthread_mutex_unlock(&d->in.acc_lock);
    sw_log(LOG_INFO, "api: %s's %sbound level to be accepted as its new normal", a->user,
           dir_name(dir));
    return SW_OK;
}

/* Ingest thread: hands the queued accepts to the router. */
static void take_accepts(daemon_t *d)
{
    pthread_mutex_lock(&d->in.acc_lock);
    struct accept_req *a = d->in.acc_head;
    d->in.acc_head = d->in.acc_tail = NULL;
    pthread_mutex_unlock(&d->in.acc_lock);
    while (a) {
        struct accept_req *next = a->next;
        int rc = router_accept(d->in.router, a->user, strlen(a->user), a->dir);
        if (rc == SW_ENOTFOUND) {
            atomic_fetch_add_explicit(&d->in.accepts_early, 1, memory_order_relaxed);
            sw_log(LOG_WARN, "api: %s's level not accepted: no sample has been read yet",
                   a->user);
        } else if (rc != SW_OK) {
            sw_log(LOG_ERROR, "api: %s's level not accepted: %s", a->user, sw_strerror(rc));
        }
        free(a);
        a = next;
    }
}

/* Frees what was queued and never taken. */
void dmn_drop_accepts(daemon_t *d)
{
    for (struct accept_req *a = d->in.acc_head, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    d->in.acc_head = d->in.acc_tail = NULL;
}

void *dmn_ingest_main(void *arg)
{
    daemon_t *d = arg;
    zmq_pollitem_t items[MAX_INGEST];
    for (size_t i = 0; i < d->in.nsocks; i++)
        items[i] = (zmq_pollitem_t){ .socket = d->in.socks[i], .events = ZMQ_POLLIN };
    /* the feed is quiet from the first poll that found nothing after data:
     * time this thread spent feeding a shard that was behind is not quiet */
    double quiet_since = 0;
    int seen_data = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    /* stop is read relaxed: it only needs to be seen eventually */
    double next_commit = dmn_mono_s() + KAFKA_COMMIT_S;
    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        /* with Kafka too, ZeroMQ waits less and Kafka is polled after it */
        int kafka_in = dk_reads_ingest(d->kafka);
        int rc = d->in.nsocks ? zmq_poll(items, (int)d->in.nsocks, kafka_in ? KAFKA_POLL_MS : POLL_MS) : 0;
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        int got = 0;
        if (d->kafka) {
            got += dk_poll(d->kafka, d->in.nsocks ? 0 : POLL_MS) > 0;
            dk_sources(d->kafka, (double)router_stall_after(d->in.router) / SW_NS_PER_S);
        }
        for (size_t i = 0; rc > 0 && i < d->in.nsocks; i++) {
            for (int k = 0; k < MSGS_PER_ROUND; k++) {
                if (zmq_msg_recv(&msg, d->in.socks[i], ZMQ_DONTWAIT) < 0)
                    break;
                /* a multipart message: the first frames are topics, the
                 * last carries the lines */
                if (zmq_msg_more(&msg))
                    continue;
                dmn_feed_message(d, zmq_msg_data(&msg), zmq_msg_size(&msg));
                got = 1;
            }
        }
        ingest_monitor_events(d);
        take_accepts(d);
        if (got) {
            seen_data = 1;
            quiet_since = 0;
        } else if (seen_data) {
            double now = dmn_mono_s();
            if (quiet_since == 0)
                quiet_since = now - (kafka_in ? KAFKA_POLL_MS : POLL_MS) / 1000.0;
            /* the feed's own rhythm, once learnt, or feed.stall_after */
            if (now - quiet_since >= (double)router_stall_after(d->in.router) / SW_NS_PER_S)
                router_stall(d->in.router); /* once per stall: the router knows */
        }
        dmn_flush_batches(d);
        if (kafka_in && dmn_mono_s() >= next_commit) {
            dk_commit(d->kafka);
            next_commit = dmn_mono_s() + KAFKA_COMMIT_S;
        }
        const router_stats_t *rs = router_stats(d->in.router);
        atomic_store_explicit(&d->in.router_late, rs->late, memory_order_relaxed);
        atomic_store_explicit(&d->in.router_ahead, rs->ahead, memory_order_relaxed);
        atomic_store_explicit(&d->in.router_stalls, rs->feed_stalls, memory_order_relaxed);
        atomic_store_explicit(&d->in.router_source_stalls, rs->source_stalls, memory_order_relaxed);
        if (d->in.rec) {
            const record_stats_t *rcs = record_stats(d->in.rec);
            atomic_store_explicit(&d->in.record_errors, rcs->write_errors, memory_order_relaxed);
            atomic_store_explicit(&d->in.record_dropped, rcs->dropped_bytes, memory_order_relaxed);
        }
    }
    /* leave the Kafka group first: what it holds is handed over while the
     * shards still run */
    dk_leave(d->kafka);
    /* take what already arrived: read until the sockets are quiet, for at
     * most run.drain_timeout, so a producer that never pauses cannot hold
     * the stop up */
    double give_up = dmn_mono_s() + (double)d->o.r.drain_timeout / SW_NS_PER_S;
    uint64_t drained = 0;
    for (int quiet = 0; !quiet;) {
        quiet = 1;
        if (dmn_mono_s() >= give_up) {
            sw_log(LOG_WARN, "stop: still receiving after --drain-timeout (%.0f s): what the "
                   "producers send from now on is not read",
                   (double)d->o.r.drain_timeout / SW_NS_PER_S);
            break;
        }
        if (zmq_poll(items, (int)d->in.nsocks, POLL_MS) <= 0)
            break;
        for (size_t i = 0; i < d->in.nsocks; i++) {
            for (int k = 0; k < MSGS_PER_ROUND &&
                            zmq_msg_recv(&msg, d->in.socks[i], ZMQ_DONTWAIT) >= 0; k++) {
                quiet = 0;
                if (!zmq_msg_more(&msg)) {
                    dmn_feed_message(d, zmq_msg_data(&msg), zmq_msg_size(&msg));
                    drained++;
                }
            }
        }
        dmn_flush_batches(d);
    }
    if (drained)
        sw_log(LOG_INFO, "stop: %" PRIu64 " messages read after the stop was asked", drained);
    zmq_msg_close(&msg);
    router_finish(d->in.router);
    dmn_flush_batches(d);
    /* pairs with the acquire load in shard_main: every record pushed
     * above is visible to a shard that sees ingest_done */
    atomic_store_explicit(&d->ingest_done, 1, memory_order_release);
    return NULL;
}


int dmn_open_ingest(daemon_t *d, const char *spec, char *err, size_t errlen)
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
    void *s = zmq_socket(d->in.zctx, type);
    if (!s) {
        sw_errf(err, errlen, "%s: %s", spec, zmq_strerror(zmq_errno()));
        return SW_EOPEN;
    }
    int hwm = 1000, linger = 0;
    int64_t maxmsg = (int64_t)d->o.r.max_message; /* a larger message cuts its producer off */
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (d->o.r.curve.secret_key &&
        curve_server_setup(s, d->o.r.curve.secret_key, d->o.r.curve.public_key, err, errlen) < 0) {
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
    snprintf(mon_ep, sizeof(mon_ep), "inproc://sw-ingest-monitor-%zu", d->in.nsocks);
    void *mon = zmq_socket_monitor(s, mon_ep, ZMQ_EVENT_DISCONNECTED) == 0
                    ? zmq_socket(d->in.zctx, ZMQ_PAIR)
                    : NULL;
    if (mon && zmq_connect(mon, mon_ep) < 0) {
        zmq_close(mon);
        mon = NULL;
    }
    if (!mon)
        sw_log(LOG_WARN, "ingest: %s: no connection events (%s): disconnects are not counted",
               spec, zmq_strerror(zmq_errno()));
    d->in.monitors[d->in.nsocks] = mon;
    d->in.socks[d->in.nsocks++] = s;
    sw_log(LOG_INFO, "ingest: %s %s %s%s%s", type == ZMQ_SUB ? "SUB" : "PULL",
           do_bind ? "bound at" : "connected to", endpoint, topic[0] ? " topic " : "", topic);
    if (!d->o.r.curve.secret_key && !net_is_local(spec))
        sw_log(LOG_WARN, "ingest: %s is reachable beyond this host in plaintext, and any "
               "producer that reaches it is let in: use CurveZMQ (--curve-*) or bind to loopback",
               spec);
    return SW_OK;
}

