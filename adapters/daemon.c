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
 * DESIGN: each ring has exactly one producer and one consumer thread at a
 * time (ring.h: an event ring's producer is main before its shard starts,
 * and the ingest thread while it adopts Kafka states into a parked shard).
 * Stopping flows down the pipeline: the ingest thread stops reading,
 * drains its router and raises ingest_done (release); a shard exits once
 * it has seen ingest_done (acquire) and an empty ring, then raises its
 * done flag; the alert thread exits once every shard is done and every
 * event ring empty, after releasing all held events. Nothing is resolved
 * on the way out. A reload's config is handed over through an atomic
 * pointer: the main thread publishes it and a generation; each consuming
 * thread switches between two bursts and acknowledges; the main thread
 * frees the old one only when every consumer has acknowledged. A reload's
 * change register is queued for the alert thread, which takes it over
 * (daemon_int.h: the register's updates).
 * A full ring makes its producer wait (counted), so ZeroMQ's high-water
 * mark pushes back on the DSP; or, when so configured, drop (counted).
 *
 * The command line is daemon_cli.c, the metrics daemon_metrics.c, Kafka
 * daemon_kafka.c; daemon_int.h is what they share.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "daemon_kafka.h"

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

/* The alert thread needs no microseconds: alerts are wanted within a
 * second, and on two cores its wake-ups are CPU taken from the pipeline. */
#define ALERTS_IDLE_NS 1000000
#define KAFKA_POLL_MS 10       /* ZeroMQ's wait when Kafka is read too */
#define SNAPSHOT_EVERY_S 1.0   /* /api/v1/alerts may lag a busy second behind */
#define KAFKA_COMMIT_S 1.0     /* Kafka offsets are committed this often */

double dmn_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void dmn_nap(long *ns)
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
        if (d->o.drop_when_full && waited >= DROP_GRACE_NS) {
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

static void deliver(void *ctx, unsigned shard, const rec_t *r)
{
    daemon_t *d = ctx;
    shard_thr_t *s = &d->sh[shard];
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

/* Counts the ingest sockets' producers disconnected since the last call,
 * and logs them once a burst: a producer that closed, or one cut off by
 * ZeroMQ for a message over run.max_message or a broken protocol. */
static void ingest_monitor_events(daemon_t *d)
{
    uint64_t n = 0;
    for (size_t i = 0; i < d->nsocks; i++) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        while (d->monitors[i] && zmq_msg_recv(&ev, d->monitors[i], ZMQ_DONTWAIT) >= 0) {
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
        atomic_fetch_add_explicit(&d->ingest_disconnects, n, memory_order_relaxed) + n;
    errburst_fail(&d->disconnect_log, errburst_now(), LOG_WARN,
                  "ingest: %" PRIu64 " producer connections closed so far: by the producer, or "
                  "cut off for a message over --max-message (%" PRIu64 " bytes) or a protocol "
                  "error",
                  total, d->o.max_message);
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
static int http_accept(void *ctx, const char *user, int dir, char *err, size_t errlen)
{
    daemon_t *d = ctx;
    struct accept_req *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return SW_ENOMEM;
    }
    snprintf(a->user, sizeof(a->user), "%s", user);
    a->dir = dir ? DIR_NORTH : DIR_SOUTH;
    pthread_mutex_lock(&d->acc_lock);
    if (d->acc_tail)
        d->acc_tail->next = a;
    else
        d->acc_head = a;
    d->acc_tail = a;
    pthread_mutex_unlock(&d->acc_lock);
    sw_log(LOG_INFO, "api: %s's %sbound level to be accepted as its new normal", a->user,
           dir_name(dir));
    return SW_OK;
}

/* Ingest thread: hands the queued accepts to the router. */
static void take_accepts(daemon_t *d)
{
    pthread_mutex_lock(&d->acc_lock);
    struct accept_req *a = d->acc_head;
    d->acc_head = d->acc_tail = NULL;
    pthread_mutex_unlock(&d->acc_lock);
    while (a) {
        struct accept_req *next = a->next;
        int rc = router_accept(d->router, a->user, strlen(a->user), a->dir);
        if (rc == SW_ENOTFOUND) {
            atomic_fetch_add_explicit(&d->accepts_early, 1, memory_order_relaxed);
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
static void drop_accepts(daemon_t *d)
{
    for (struct accept_req *a = d->acc_head, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    d->acc_head = d->acc_tail = NULL;
}

static void *ingest_main(void *arg)
{
    daemon_t *d = arg;
    zmq_pollitem_t items[MAX_INGEST];
    for (size_t i = 0; i < d->nsocks; i++)
        items[i] = (zmq_pollitem_t){ .socket = d->socks[i], .events = ZMQ_POLLIN };
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
        int kafka_in = dk_reads_ingest(d);
        int rc = d->nsocks ? zmq_poll(items, (int)d->nsocks, kafka_in ? KAFKA_POLL_MS : POLL_MS) : 0;
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        int got = 0;
        if (d->kafka) {
            got += dk_poll(d, d->nsocks ? 0 : POLL_MS) > 0;
            dk_sources(d, (double)router_stall_after(d->router) / SW_NS_PER_S);
        }
        for (size_t i = 0; rc > 0 && i < d->nsocks; i++) {
            for (int k = 0; k < MSGS_PER_ROUND; k++) {
                if (zmq_msg_recv(&msg, d->socks[i], ZMQ_DONTWAIT) < 0)
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
            if (now - quiet_since >= (double)router_stall_after(d->router) / SW_NS_PER_S)
                router_stall(d->router); /* once per stall: the router knows */
        }
        dmn_flush_batches(d);
        if (kafka_in && dmn_mono_s() >= next_commit) {
            dk_commit(d);
            next_commit = dmn_mono_s() + KAFKA_COMMIT_S;
        }
        const router_stats_t *rs = router_stats(d->router);
        atomic_store_explicit(&d->router_late, rs->late, memory_order_relaxed);
        atomic_store_explicit(&d->router_ahead, rs->ahead, memory_order_relaxed);
        atomic_store_explicit(&d->router_stalls, rs->feed_stalls, memory_order_relaxed);
        atomic_store_explicit(&d->router_source_stalls, rs->source_stalls, memory_order_relaxed);
        if (d->rec) {
            const record_stats_t *rcs = record_stats(d->rec);
            atomic_store_explicit(&d->record_errors, rcs->write_errors, memory_order_relaxed);
            atomic_store_explicit(&d->record_dropped, rcs->dropped_bytes, memory_order_relaxed);
        }
    }
    /* leave the Kafka group first: what it holds is handed over while the
     * shards still run */
    dk_leave(d);
    /* take what already arrived: read until the sockets are quiet, for at
     * most run.drain_timeout, so a producer that never pauses cannot hold
     * the stop up */
    double give_up = dmn_mono_s() + (double)d->o.drain_timeout / SW_NS_PER_S;
    uint64_t drained = 0;
    for (int quiet = 0; !quiet;) {
        quiet = 1;
        if (dmn_mono_s() >= give_up) {
            sw_log(LOG_WARN, "stop: still receiving after --drain-timeout (%.0f s): what the "
                   "producers send from now on is not read", (double)d->o.drain_timeout / SW_NS_PER_S);
            break;
        }
        if (zmq_poll(items, (int)d->nsocks, POLL_MS) <= 0)
            break;
        for (size_t i = 0; i < d->nsocks; i++) {
            for (int k = 0; k < MSGS_PER_ROUND &&
                            zmq_msg_recv(&msg, d->socks[i], ZMQ_DONTWAIT) >= 0; k++) {
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
    router_finish(d->router);
    dmn_flush_batches(d);
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
        dmn_nap(&idle);
    }
}

/* Any thread: the incident the alert stage gave one of this shard's alerts
 * (d->as is made before the threads start). */
static int shard_incident_of(void *ctx, uint32_t id, uint64_t *incident, int *role, int *severity)
{
    shard_thr_t *s = ctx;
    return alerts_incident_of(s->d->as, s->index, id, incident, role, severity);
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
        dmn_nap(&idle);
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
                dmn_nap(&idle);
                continue;
            }
        }
        idle = IDLE_MIN_NS;
        int64_t tick = INT64_MIN;
        unsigned handoffs = 0;
        for (size_t i = 0; i < n; i++) {
            shard_record(s->shard, &buf[i]);
            if (buf[i].type == REC_TICK)
                tick = buf[i].ts;
            handoffs += buf[i].type == REC_HANDOFF;
        }
        /* release: what the shard did before is done when these are seen
         * (the ingest thread's acquire, to commit offsets or go on after a
         * handoff) */
        if (tick != INT64_MIN)
            atomic_store_explicit(&s->processed, tick, memory_order_release);
        if (handoffs)
            atomic_fetch_add_explicit(&s->handoffs, handoffs, memory_order_release);
        if (shard_publish_pending(s->shard))
            shard_publish_ready(s->shard, atomic_load_explicit(&d->alerts_released,
                                                               memory_order_acquire));
        /* for the metrics: relaxed, readers only want a recent total */
        const shard_stats_t *st = shard_stats(s->shard);
        atomic_store_explicit(&s->samples, st->samples, memory_order_relaxed);
        atomic_store_explicit(&s->duplicates, st->duplicates, memory_order_relaxed);
        if (st->conflicts != atomic_load_explicit(&s->conflicts, memory_order_relaxed)) {
            errburst_fail(&s->conflict_log, errburst_now(), LOG_WARN,
                          "shard %u: %" PRIu64 " repeated samples disagreed with the copy kept "
                          "(the reading that shows more trouble is kept); the last: User %s at "
                          "%" PRId64 " ns",
                          s->index, st->conflicts, st->conflict_user, st->conflict_ts);
            atomic_store_explicit(&s->conflicts, st->conflicts, memory_order_relaxed);
        }
        atomic_store_explicit(&s->series, st_nseries(shard_table(s->shard)), memory_order_relaxed);
        atomic_store_explicit(&s->evicted, st->evicted, memory_order_relaxed);
        atomic_store_explicit(&s->refused, st->refused, memory_order_relaxed);
        atomic_store_explicit(&s->sheds, st->sheds, memory_order_relaxed);
        atomic_store_explicit(&s->accepts, st->accepts, memory_order_relaxed);
        atomic_store_explicit(&s->accepts_unknown, st->accepts_unknown, memory_order_relaxed);
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
            sw_log(LOG_ERROR, "out of memory formatting an alert line of %zu bytes: dropped", n);
            return;
        }
        d->line_buf = b;
        d->line_cap = n + 1;
        n = alert_format_json(a, d->line_buf, d->line_cap);
    }
    if (d->alerts_file)
        sink_file_write(d->alerts_file, d->line_buf, n); /* counted and logged there */
    if (d->journal) /* after its line: a restart resumes what was written open */
        alertjournal_record(d->journal, a);
    if (d->pub) {
        sink_zmq_send(d->pub, alert_kind_name(a->kind), d->line_buf, n);
        const sink_zmq_stats_t *ps = sink_zmq_stats(d->pub); /* this thread's own */
        atomic_store_explicit(&d->pub_sent, ps->sent, memory_order_relaxed);
        atomic_store_explicit(&d->pub_dropped, ps->dropped, memory_order_relaxed);
        atomic_store_explicit(&d->pub_errors, ps->errors, memory_order_relaxed);
    }
    if (d->am)
        sink_am_send(d->am, a); /* queued; its own thread delivers */
    if (d->kafka) /* the line without its newline, keyed by User */
        dk_alert(d, a, d->line_buf, n && d->line_buf[n - 1] == '\n' ? n - 1 : n);
    atomic_fetch_add_explicit(&d->alerts_out_n, 1, memory_order_relaxed);
    if (a->kind < ALERT_NKINDS) {
        if (a->firing)
            atomic_fetch_add_explicit(&d->firing_by_kind[a->kind], 1, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(&d->firing_by_kind[a->kind], 1, memory_order_relaxed);
    }
    d->transitions++;
}

/* Alert thread: an alert goes on at another instance, or came from one.
 * No line is written; Alertmanager hears of it from whichever holds it
 * (the same labels and start: one alert there), and the gauge follows. */
static void alert_handover(void *ctx, const alert_t *a, int adopted)
{
    daemon_t *d = ctx;
    if (d->journal) { /* open here now, or no longer ours */
        alert_t j = *a;
        j.firing = adopted;
        alertjournal_record(d->journal, &j);
    }
    if (d->am) {
        if (adopted)
            sink_am_send(d->am, a);
        else
            sink_am_forget(d->am, a);
    }
    if (a->kind < ALERT_NKINDS) {
        if (adopted)
            atomic_fetch_add_explicit(&d->firing_by_kind[a->kind], 1, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(&d->firing_by_kind[a->kind], 1, memory_order_relaxed);
    }
    d->transitions++; /* the snapshot of firing alerts changed */
}

/* ---- the change register ------------------------------------------------ */

/* An update of the register, queued for the alert thread. */
struct reg_update {
    enum { UPD_DECLARE, UPD_WITHDRAW, UPD_FILE, UPD_PEER_ALERT } type;
    change_t change;              /* UPD_DECLARE: an owned copy */
    char *line;                   /* UPD_PEER_ALERT: another instance's alert line (NUL-ended) */
    char *id;                     /* UPD_WITHDRAW */
    changes_t *file;              /* UPD_FILE: the new file register, owned */
    struct reg_update *next;
};

static void update_free(struct reg_update *u)
{
    if (u->type == UPD_DECLARE)
        change_free_strings(&u->change);
    free(u->id);
    free(u->line);
    changes_destroy(u->file);
    free(u);
}

static void queue_update(daemon_t *d, struct reg_update *u)
{
    pthread_mutex_lock(&d->upd_lock);
    if (d->upd_tail)
        d->upd_tail->next = u;
    else
        d->upd_head = u;
    d->upd_tail = u;
    pthread_mutex_unlock(&d->upd_lock);
}

/* Ingest thread (Kafka): another instance's alert line, for the alert
 * thread to take in order with the register's updates. 0, or SW_ENOMEM. */
int dmn_queue_peer_alert(daemon_t *d, const char *line, size_t len)
{
    struct reg_update *u = calloc(1, sizeof(*u));
    if (!u || !(u->line = strndup(line, len))) {
        free(u);
        return SW_ENOMEM;
    }
    u->type = UPD_PEER_ALERT;
    queue_update(d, u);
    return SW_OK;
}

/* The API's thread, under its lock, once a change is on disk: queued for
 * the alert thread, O(1), in journal order. */
static void on_api_change(void *ctx, const change_t *declared, const char *withdrawn)
{
    daemon_t *d = ctx;
    struct reg_update *u = calloc(1, sizeof(*u));
    int ok = u != NULL;
    if (ok && declared) {
        u->type = UPD_DECLARE;
        ok = change_copy(&u->change, declared) == SW_OK;
        if (!ok)
            u->type = UPD_WITHDRAW; /* nothing copied: freed as such */
    } else if (ok) {
        u->type = UPD_WITHDRAW;
        ok = (u->id = strdup(withdrawn)) != NULL;
    }
    if (!ok) {
        free(u);
        atomic_fetch_add_explicit(&d->upd_lost, 1, memory_order_relaxed);
        sw_log(LOG_ERROR, "out of memory: change %s is journalled but not used until a reload",
               declared ? declared->id : withdrawn);
        return;
    }
    queue_update(d, u);
}

/* Alert thread: applies the queued updates in order, then hands the
 * alert stage the register as it is now. */
static void apply_updates(daemon_t *d)
{
    pthread_mutex_lock(&d->upd_lock);
    struct reg_update *u = d->upd_head;
    d->upd_head = d->upd_tail = NULL;
    pthread_mutex_unlock(&d->upd_lock);
    if (!u)
        return;
    for (struct reg_update *next; u; u = next) {
        next = u->next;
        int rc = 0;
        switch (u->type) {
        case UPD_DECLARE:
            rc = regview_declare(d->rv, &u->change);
            if (rc == 1)
                sw_log(LOG_WARN, "change %s is in the file and the API: the file's is used",
                       u->change.id);
            break;
        case UPD_WITHDRAW:
            rc = regview_withdraw(d->rv, u->id);
            break;
        case UPD_FILE:
            rc = regview_set_file(d->rv, u->file);
            u->file = NULL; /* taken, even on failure */
            break;
        case UPD_PEER_ALERT:
            dk_peer_alert(d, u->line);
            break;
        }
        if (rc < 0 && rc != SW_ENOTFOUND && rc != SW_EEXISTS)
            sw_log(LOG_ERROR, "change register update refused (%s); the register may lag the API "
                   "until the next reload", sw_strerror(rc));
        update_free(u);
    }
    const changes_t *reg = regview_merged(d->rv);
    alerts_set_changes(d->as, reg);
    atomic_store_explicit(&d->changes_n, changes_count(reg), memory_order_relaxed);
}

static void alerts_take_updates(daemon_t *d)
{
    apply_updates(d);
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
    double next_snap = 0;
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
            /* the lines are written (sink_file writes each at once):
             * pairs with the shards' acquire before publishing states */
            atomic_store_explicit(&d->alerts_released, alerts_released(d->as),
                                  memory_order_release);
        }
        /* the API's copy of the alerts firing, rebuilt when they changed,
         * at most once every SNAPSHOT_EVERY_S while events flow (thousands
         * firing at once cost a rebuild each), at once when they stop */
        if (d->transitions != d->snap_transitions && (!got || dmn_mono_s() >= next_snap)) {
            dmn_refresh_snapshot(d);
            d->snap_transitions = d->transitions;
            next_snap = dmn_mono_s() + SNAPSHOT_EVERY_S;
        }
        if (got) {
            idle = ALERTS_IDLE_NS;
            continue;
        }
        int all_done = 1;
        for (unsigned i = 0; i < d->nshards; i++)
            all_done &= atomic_load_explicit(&d->sh[i].done, memory_order_acquire) &&
                        ring_depth(d->sh[i].out) == 0;
        if (all_done)
            break;
        dmn_nap(&idle);
    }
    alerts_flush(d->as);
    dmn_refresh_snapshot(d);
    atomic_store_explicit(&d->alerts_done, 1, memory_order_release);
    return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

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
    int64_t maxmsg = (int64_t)d->o.max_message; /* a larger message cuts its producer off */
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
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
    /* its connection events, to count producers cut off (a message over
     * max_message, a protocol error) */
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://sw-ingest-monitor-%zu", d->nsocks);
    void *mon = zmq_socket_monitor(s, mon_ep, ZMQ_EVENT_DISCONNECTED) == 0
                    ? zmq_socket(d->zctx, ZMQ_PAIR)
                    : NULL;
    if (mon && zmq_connect(mon, mon_ep) < 0) {
        zmq_close(mon);
        mon = NULL;
    }
    if (!mon)
        sw_log(LOG_WARN, "ingest: %s: no connection events (%s): disconnects are not counted",
               spec, zmq_strerror(zmq_errno()));
    d->monitors[d->nsocks] = mon;
    d->socks[d->nsocks++] = s;
    sw_log(LOG_INFO, "ingest: %s %s %s%s%s", type == ZMQ_SUB ? "SUB" : "PULL",
           do_bind ? "bound at" : "connected to", endpoint, topic[0] ? " topic " : "", topic);
    if (!d->o.curve_secret && !net_is_local(spec))
        sw_log(LOG_WARN, "ingest: %s is reachable beyond this host in plaintext, and any "
               "producer that reaches it is let in: use CurveZMQ (--curve-*) or bind to loopback",
               spec);
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
                       .alerts_json = daemon_alerts_json,
                       .change_declared = dk_share_declared, .change_withdrawn = dk_share_withdrawn,
                       .accept = http_accept,
                       .log = http_log, .ctx = d };
    http_t *h = http_start(&ho, err, errlen);
    if (!h)
        return SW_EIO;
    /* pairs with the acquire in http_metrics */
    atomic_store_explicit(&d->http, h, memory_order_release);
    sw_log(LOG_INFO, "http: serving on %s (port %u)%s", d->o.http, http_port(h),
           d->token ? "" : "; API writes refused (no token)");
    if (!d->o.tls_cert && !net_is_local(d->o.http))
        sw_log(LOG_WARN, "http: %s is reachable beyond this host in plaintext: the bearer token "
               "and declared changes cross the network readable; use --http-tls-cert/--http-tls-key "
               "or bind to loopback", d->o.http);
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

/* Set-up: keeps an alert open when the run before stopped, to resume once
 * the alert thread runs (start_threads). */
static void keep_resume(void *ctx, const shard_resume_t *r)
{
    daemon_t *d = ctx;
    if (r->kind == ALERT_WIDESPREAD) { /* the alert stage's own: resumed there, now */
        int rc = alerts_resume_widespread(d->as, r);
        if (rc < 0 && rc != SW_EEXISTS)
        {
            char id[INCIDENT_ID_LEN];
            incident_id_format(r->fire.incident, id);
            sw_log(LOG_WARN, "alerts journal: a widespread alert (%s) not resumed: %s", id,
                   sw_strerror(rc));
        }
        return;
    }
    if (d->nresumes == d->resumes_cap) {
        size_t cap = d->resumes_cap ? d->resumes_cap * 2 : 16;
        shard_resume_t *v = realloc(d->resumes, cap * sizeof(*v));
        if (!v) {
            sw_log(LOG_ERROR, "alerts journal: out of memory: a %s alert of %s not resumed",
                   alert_kind_name(r->kind), r->user);
            return;
        }
        d->resumes = v;
        d->resumes_cap = cap;
    }
    shard_resume_t k = *r;
    k.user = strdup(r->user);
    k.cls = strdup(r->cls ? r->cls : "all");
    if (!k.user || !k.cls) {
        free((char *)k.user);
        free((char *)k.cls);
        sw_log(LOG_ERROR, "alerts journal: out of memory: a %s alert not resumed",
               alert_kind_name(r->kind));
        return;
    }
    d->resumes[d->nresumes++] = k;
}

static void resumes_free(daemon_t *d)
{
    for (size_t i = 0; i < d->nresumes; i++) {
        free((char *)d->resumes[i].user);
        free((char *)d->resumes[i].cls);
    }
    free(d->resumes);
    d->resumes = NULL;
    d->nresumes = d->resumes_cap = 0;
}

/* An alert open when the run before stopped, to its shard (the shards are
 * not running yet). */
static void resume_alert(void *ctx, const shard_resume_t *r)
{
    daemon_t *d = ctx;
    unsigned i = r->kind == ALERT_FEED ? 0 : router_shard_of(r->user, strlen(r->user), d->nshards);
    int rc = shard_resume(d->sh[i].shard, r);
    if (rc == SW_OK && r->kind == ALERT_FEED)
        router_feed_was_stalled(d->router);
    else if (rc < 0 && rc != SW_EEXISTS)
        sw_log(LOG_WARN, "alerts journal: a %s alert of %s not resumed: %s",
               alert_kind_name(r->kind), r->user, sw_strerror(rc));
}

static int decode_state(void *ctx, const unsigned char *buf, size_t len, char *why,
                        size_t whylen)
{
    return state_decode(table_for, buf, len, params_for, ctx, why, whylen);
}

/* Loads --state: a corrupt file is set aside (logged there) and learning
 * starts afresh, unless run.strict_files; then the saver checks the path
 * can be written, so an unwritable one is found now, not at the first
 * save. */
static int state_load(daemon_t *d, char *err, size_t errlen)
{
    int rc = statefile_read(d->o.state, d->o.strict_files ? STATEFILE_STRICT : 0, decode_state, d,
                            err, errlen);
    if (rc < 0)
        return rc;
    if (rc == STATEFILE_MISSING)
        sw_log(LOG_INFO, "state: %s: none yet, learning from scratch", d->o.state);
    else if (rc == STATEFILE_MOVED_ASIDE)
        atomic_store_explicit(&d->state_moved_aside, 1, memory_order_relaxed);
    else
        sw_log(LOG_INFO, "state: %s: learned baselines loaded", d->o.state);
    char werr[512];
    if (!(d->saver = statefile_saver_create(d->o.state, werr, sizeof(werr)))) {
        snprintf(err, errlen, "--state: %s", werr);
        return SW_EIO;
    }
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

/* Writes an encoded state atomically: a crash mid-write, a full disk,
 * leave the previous file whole (counted and logged by the saver). */
static int state_write(daemon_t *d, unsigned char *buf, size_t len)
{
    int rc = statefile_saver_save(d->saver, buf, len);
    free(buf);
    if (rc == SW_OK)
        sw_log(LOG_DEBUG, "state: %s: saved (%zu bytes)", d->o.state, len);
    return rc;
}

/* On exit, every thread joined: saves the shards' baselines. */
static int state_save(daemon_t *d)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = state_encode_all(d, &buf, &len);
    if (rc < 0) {
        statefile_saver_skip(d->saver, sw_strerror(rc));
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
int dmn_park_all(daemon_t *d)
{
    atomic_store_explicit(&d->pause_req, 1, memory_order_release);
    double give_up = dmn_mono_s() + PARK_WAIT_S;
    long idle = IDLE_MIN_NS;
    for (unsigned i = 0; i < d->nshards; i++) {
        /* acquire pairs with park()'s release (or shard_main's on exit) */
        while (!atomic_load_explicit(&d->sh[i].parked, memory_order_acquire) &&
               !atomic_load_explicit(&d->sh[i].done, memory_order_acquire)) {
            if (dmn_mono_s() > give_up) {
                atomic_store_explicit(&d->pause_req, 0, memory_order_release);
                sw_log(LOG_WARN, "state: shard %u did not stop within %.0f s", i, PARK_WAIT_S);
                return -1;
            }
            dmn_nap(&idle);
        }
    }
    return 0;
}

/* Lets the shards go: pairs with the acquire in park(), so everything read
 * or written in their tables meanwhile comes before their next write. */
void dmn_unpark_all(daemon_t *d)
{
    atomic_store_explicit(&d->pause_req, 0, memory_order_release);
}

/*
 * While running (main thread): encodes the shards' tables with them
 * parked, then writes the state file. The pause lasts the encoding.
 */
static void state_checkpoint(daemon_t *d)
{
    pthread_mutex_lock(&d->ckpt_lock);
    if (dmn_park_all(d) < 0) {
        pthread_mutex_unlock(&d->ckpt_lock);
        statefile_saver_skip(d->saver, "a shard did not stop for the checkpoint");
        return;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = state_encode_all(d, &buf, &len);
    dmn_unpark_all(d);
    pthread_mutex_unlock(&d->ckpt_lock);
    if (rc < 0) {
        statefile_saver_skip(d->saver, sw_strerror(rc));
        return;
    }
    state_write(d, buf, len);
}

/* SIGHUP: loads the config and the register; publishes them if good. */
static void reload(daemon_t *d)
{
    char err[512];
    if (d->alerts_file) /* logrotate moved it: the next line goes to a new file */
        sink_file_reopen(d->alerts_file);
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
    /* the register: the alert thread merges the new file with the API's
     * changes, in order with the API's updates */
    struct reg_update *u = calloc(1, sizeof(*u));
    if (!u) {
        sw_log(LOG_ERROR, "reload refused, old config and change register kept: out of memory");
        changes_destroy(reg);
        cfg_free(c);
        free(c);
        return;
    }
    u->type = UPD_FILE;
    u->file = reg;
    queue_update(d, u);
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
    uint64_t waits = 0, drops = 0, conflicts = 0;
    for (unsigned i = 0; i < d->nshards && off < sizeof(rings) - 32; i++) {
        off += (size_t)snprintf(rings + off, sizeof(rings) - off, "%s%zu", i ? "," : "",
                                ring_depth(d->sh[i].in));
        waits += atomic_load_explicit(&d->sh[i].in_waits, memory_order_relaxed);
        drops += atomic_load_explicit(&d->sh[i].in_drops, memory_order_relaxed);
        conflicts += atomic_load_explicit(&d->sh[i].conflicts, memory_order_relaxed);
    }
    sink_file_stats_t fs = { 0 };
    if (d->alerts_file)
        sink_file_stats(d->alerts_file, &fs);
    sw_log(LOG_INFO,
           "stats: %.0f lines/s, %" PRIu64 " lines, %" PRIu64 " msgs, %" PRIu64 " bad, %" PRIu64
           " late, %" PRIu64 " conflicting repeats, ring depth [%s], full-ring waits %" PRIu64
           ", dropped %" PRIu64 ", alerts %" PRIu64 ", write errors %" PRIu64,
           dt > 0 ? (double)(lines - *last_lines) / dt : 0.0, lines,
           atomic_load_explicit(&d->msgs, memory_order_relaxed),
           atomic_load_explicit(&d->router_bad, memory_order_relaxed),
           atomic_load_explicit(&d->router_late, memory_order_relaxed), conflicts, rings, waits,
           drops, atomic_load_explicit(&d->alerts_out_n, memory_order_relaxed),
           fs.write_errors);
    *last_lines = lines;
}

static void teardown(daemon_t *d)
{
    http_stop(atomic_load(&d->http)); /* first: its threads read everything below */
    atomic_store(&d->http, NULL);
    dk_close(d); /* commits what was taken, leaves the group */
    for (unsigned i = 0; d->sh && i < d->nshards; i++) {
        shard_destroy(d->sh[i].shard);
        ring_destroy(d->sh[i].in);
        ring_destroy(d->sh[i].out);
    }
    free(d->sh);
    router_destroy(d->router);
    alerts_destroy(d->as);
    for (size_t i = 0; i < d->nsocks; i++) {
        zmq_close(d->socks[i]);
        if (d->monitors[i])
            zmq_close(d->monitors[i]);
    }
    sink_zmq_destroy(d->pub);
    sink_am_destroy(d->am); /* delivers what it can in a short grace, persists the rest */
    curve_auth_stop(d->auth);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    record_close(d->rec);
    sink_file_close(d->alerts_file);
    alertjournal_close(d->journal);
    resumes_free(d);
    statefile_saver_destroy(d->saver);
    changes_api_close(d->api);
    free(d->token);
    regview_destroy(d->rv);
    for (struct reg_update *u = d->upd_head, *next; u; u = next) {
        next = u->next;
        update_free(u);
    }
    pthread_mutex_destroy(&d->upd_lock);
    drop_accepts(d);
    pthread_mutex_destroy(&d->acc_lock);
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
    if (dmn_merge_run_config(&d->o, d->cfg))
        return SW_EINVAL;
    cfg_apply_timezone(d->cfg); /* fixed at start: a reload does not move it */
    d->ingest = d->cfg->ingest;
    changes_t *file = load_changes(d->o.changes, err, errlen);
    if (!file)
        return SW_ECONFIG;
    if (!(d->rv = regview_create()) || regview_set_file(d->rv, file) < 0) {
        if (!d->rv)
            changes_destroy(file);
        return SW_ENOMEM;
    }
    if (d->o.http || d->o.journal) {
        const char *journal = d->o.journal ? d->o.journal : "stormwatch-changes.journal";
        changes_api_opts_t ao = { .strict = d->o.strict_files, .on_change = on_api_change,
                                  .ctx = d };
        if (changes_api_open(journal, &ao, &d->api, err, errlen) < 0)
            return SW_ECONFIG;
        if (err[0]) /* a corrupt journal set aside */
            sw_log(LOG_WARN, "--changes-journal: %s", err);
        /* what the journal held; what is declared from now on comes as updates */
        changes_t *api = changes_create();
        int rc = api ? changes_api_snapshot(d->api, api) : SW_ENOMEM;
        for (size_t i = 0; rc == SW_OK && i < changes_count(api); i++)
            if (regview_declare(d->rv, changes_get(api, i)) == 1)
                sw_log(LOG_WARN, "change %s is in the file and the API: the file's is used",
                       changes_get(api, i)->id);
        changes_destroy(api);
        if (rc < 0)
            return rc;
    }
    atomic_store_explicit(&d->changes_n, changes_count(regview_merged(d->rv)),
                          memory_order_relaxed);
    d->nshards = d->o.nshards;
    d->sh = calloc(d->nshards, sizeof(*d->sh));
    if (!d->sh)
        return SW_ENOMEM;
    for (unsigned i = 0; i < d->nshards; i++) {
        shard_thr_t *s = &d->sh[i];
        s->d = d;
        s->index = i;
        shard_opts_t so = { .ingest = d->cfg->ingest, .local_time = cfg_local_time(d->cfg),
                            .detect_for = detect_for,
                            .detect_ctx = d->cfg, .emit = shard_emit, .emit_ctx = s,
                            .feed_owner = i == 0,
                            .max_series = shard_share(d->cfg->ingest.max_series, d->nshards),
                            .publish = d->o.kafka_state_topic ? dk_publish : NULL,
                            .publish_ctx = d, .incident_of = shard_incident_of,
                            .incident_ctx = s };
        atomic_init(&s->processed, INT64_MIN);
        s->shard = shard_create(&so);
        s->in = ring_create(d->o.ring_size, sizeof(rec_t));
        s->out = ring_create(d->o.ring_size / 4, sizeof(event_t));
        if (!s->shard || !s->in || !s->out)
            return SW_ENOMEM;
    }
    router_opts_t ro = { .ingest = d->cfg->ingest, .nshards = d->nshards, .deliver = deliver,
                         .ctx = d };
    d->incident_tag = dk_incident_tag(d);
    alerts_opts_t ao = { .corr = d->cfg->corr, .nshards = d->nshards, .detect_for = detect_for,
                         .detect_ctx = d->cfg, .emit = alert_emit, .emit_ctx = d,
                         .handover = alert_handover, .incident_tag = d->incident_tag };
    d->router = router_create(&ro);
    d->as = alerts_create(&ao, regview_merged(d->rv));
    if (!d->router || !d->as)
        return SW_ENOMEM;
    if (d->o.state && state_load(d, err, errlen) < 0)
        return SW_ECONFIG;
    if (d->o.state) {
        /* the alerts open when the run before stopped go on, without a
         * second firing line */
        char path[4096];
        snprintf(path, sizeof(path), "%s.alerts", d->o.state);
        if (!(d->journal = alertjournal_open(path, d->o.strict_files, keep_resume, d, err,
                                             errlen)))
            return SW_ECONFIG;
        alertjournal_stats_t js;
        alertjournal_stats(d->journal, &js);
        if (js.resumed)
            sw_log(LOG_INFO, "alerts journal: %s: %" PRIu64 " alerts open before the restart "
                   "go on", path, js.resumed);
    }

    if (d->o.alerts) {
        char ferr[512];
        if (!(d->alerts_file = sink_file_open(d->o.alerts, ferr, sizeof(ferr)))) {
            snprintf(err, errlen, "--alerts: %s", ferr);
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
    int krc = dk_open(d, err, errlen);
    if (krc < 0)
        return krc;
    if (d->o.pub && !(d->pub = sink_zmq_create(d->zctx, d->o.pub, err, errlen)))
        return SW_EIO;
    if (d->o.pub && !net_is_local(d->o.pub))
        sw_log(LOG_WARN, "pub: %s is reachable beyond this host in plaintext: anyone who "
               "reaches it reads every alert", d->o.pub);
    for (size_t i = 0; i < d->o.nam; i++)
        if (strncmp(d->o.am[i], "https://", 8) != 0 && !net_is_local(d->o.am[i]))
            sw_log(LOG_WARN, "alertmanager: %s is plain HTTP beyond this host: alerts cross the "
                   "network readable", d->o.am[i]);
    if (d->o.nam) {
        sink_am_opts_t amo = { .urls = d->o.am, .nurls = d->o.nam,
                               .queue_path = d->o.am_queue ? d->o.am_queue
                                                           : "stormwatch-alertmanager.queue",
                               .strict_queue = d->o.strict_files };
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

/*
 * Starts the alert thread, resumes the alerts open before the restart (their
 * events need it running: there may be more than a ring holds), then the
 * shards and ingest. 0, or -1 when a thread could not start (logged): those
 * started are stopped and joined, nothing is left running.
 */
static int start_threads(daemon_t *d)
{
    int rc = pthread_create(&d->alerts_tid, NULL, alerts_main, d);
    if (rc) {
        sw_log(LOG_ERROR, "cannot start the alert thread: %s", strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < d->nresumes; i++)
        resume_alert(d, &d->resumes[i]);
    resumes_free(d);
    unsigned started = 0;
    for (; started < d->nshards; started++) {
        if ((rc = pthread_create(&d->sh[started].tid, NULL, shard_main, &d->sh[started]))) {
            sw_log(LOG_ERROR, "cannot start shard thread %u: %s", started, strerror(rc));
            break;
        }
    }
    if (started == d->nshards) {
        if ((rc = pthread_create(&d->ingest_tid, NULL, ingest_main, d)) == 0)
            return 0;
        sw_log(LOG_ERROR, "cannot start the ingest thread: %s", strerror(rc));
    }
    /* the pipeline ends as after a stop with no input: the shards see
     * ingest done, the alert thread sees every shard done */
    for (unsigned i = started; i < d->nshards; i++)
        atomic_store_explicit(&d->sh[i].done, 1, memory_order_release);
    atomic_store_explicit(&d->ingest_done, 1, memory_order_release);
    for (unsigned i = 0; i < started; i++)
        pthread_join(d->sh[i].tid, NULL);
    pthread_join(d->alerts_tid, NULL);
    return -1;
}

int run_main(int argc, char **argv)
{
    static daemon_t d; /* large; one per process */
    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.snap_lock, NULL);
    pthread_mutex_init(&d.upd_lock, NULL);
    pthread_mutex_init(&d.acc_lock, NULL);
    pthread_mutex_init(&d.ckpt_lock, NULL);
    d.alerts_snapshot = strdup("[]");
    int rc = dmn_parse_args(argc, argv, &d.o);
    if (rc)
        return rc < 0 ? 0 : rc;
    /* a peer gone mid-write (a socket, a pipe) is an error return to the
     * writer, never the end of the daemon */
    signal(SIGPIPE, SIG_IGN);
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

    if (start_threads(&d) < 0) {
        teardown(&d);
        return 1;
    }
    atomic_store_explicit(&d.running, 1, memory_order_release);
    sw_log(LOG_INFO, "running: %u shard%s, %zu ingest endpoint%s, alerts to %s%s%s", d.nshards,
           d.nshards == 1 ? "" : "s", d.nsocks, d.nsocks == 1 ? "" : "s",
           d.o.alerts ? (strcmp(d.o.alerts, "-") ? d.o.alerts : "standard output") : "PUB only",
           d.o.pub ? " and PUB " : "", d.o.pub ? d.o.pub : "");

    double next_stats = dmn_mono_s() + d.o.stats_every, last = dmn_mono_s();
    double state_every = (double)d.o.state_every / SW_NS_PER_S;
    double next_state = dmn_mono_s() + state_every;
    double kafka_every = (double)d.o.kafka_checkpoint / SW_NS_PER_S;
    double next_kafka = dmn_mono_s() + kafka_every;
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
        if (d.o.stats_every > 0 && dmn_mono_s() >= next_stats) {
            double now = dmn_mono_s();
            log_stats(&d, now - last, &last_lines);
            last = now;
            next_stats = now + d.o.stats_every;
        }
        if (d.o.state && state_every > 0 && dmn_mono_s() >= next_state) {
            state_checkpoint(&d);
            next_state = dmn_mono_s() + state_every;
        }
        if (dk_has_state_topic(&d) && dmn_mono_s() >= next_kafka) {
            dk_checkpoint(&d);
            next_kafka = dmn_mono_s() + kafka_every;
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
    log_stats(&d, dmn_mono_s() - last, &last_lines);
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
