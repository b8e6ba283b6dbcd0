/*
 * kafka_side.c - the daemon's Kafka side (kafka_side.h).
 *
 * Ingest: each assigned partition is a source of the router (partition p
 * is source p + 1, ZeroMQ source 0), in order by itself but not with the
 * others, so the feed's clock follows the slowest partition that flows.
 * A partition quiet for feed.stall_after on the wall clock while the
 * others flow is stalled on its own: its feed_stalled names it, and its
 * Users are not judged silent until it resumes. When every partition goes
 * quiet together it is the whole feed's stall, reported once.
 *
 * Offsets: every message taken is noted with the newest sample it brought
 * (offsets.h); a partition's offsets are committed only up to what every
 * shard has processed (the last tick each handled), and with a state topic
 * only up to what the last delivered checkpoint holds. A crash therefore
 * re-reads what was in flight, and what was processed twice is dropped as
 * duplicates (each series knows the time of its last sample).
 *
 * State (--kafka-state-topic): each User's whole state (state.h) keyed by
 * User, in the state topic's partition of the same number as the User's
 * ingest partition, so an instance that gains a partition reads only that
 * partition back. It is published at every checkpoint (kafka_checkpoint),
 * once the lines of a User's transitions are written, and for every User
 * of a partition about to be revoked. On assignment the partition's
 * states are read back and adopted before any of its messages: the User
 * goes on where it was, its firing alerts with it, nothing relearnt and no
 * alert fired twice. A partition revoked is handed off: its Users leave
 * this instance, so two instances never both own one.
 *
 * Changes declared over any instance's API are produced to the changes
 * topic (keyed by id) and every instance follows the whole topic.
 *
 * Size: about 900 lines, kept whole on purpose: the partition sources,
 * the offsets and the state handover are one protocol with librdkafka's
 * rebalance callback, and each part reads the others' fields under one lock.
 */
#include "kafka_side.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "kafka.h"
#include "log.h"
#include "monotime.h"
#include "offsets.h"
#include "state.h"
#include "timefmt.h"
#include "vec.h"

#define READ_STATE_MS 30000    /* a partition's states are read back within this */
#define FLUSH_MS 10000         /* published states are delivered within this */
#define HANDOFF_WAIT_S 30.0    /* shards finish a handoff within this */

/* A state staged at a checkpoint (encoded with the shards parked, sent after). */
typedef struct {
    char *user;
    unsigned src;
    unsigned char *blob;
    size_t len;
} staged_t;

/* A state read back from the state topic. */
typedef struct {
    char *user;
    int64_t offset;
    int32_t partition;
    unsigned char *blob; /* NULL: a tombstone */
    size_t len;
} readback_t;

struct dkafka {
    dk_opts_t o;                  /* the run settings (strings borrowed) */
    dk_hooks_t h;                 /* the rest of the daemon */
    router_t *router;             /* h.pipe's (ingest thread) */
    kafka_in_t *in;               /* ingest (ingest thread) */
    kafka_out_t *alerts;          /* alert lines (alert thread; the ingest thread
                                     polls its delivery reports) */
    kafka_in_t *peer_in;          /* the other instances' alert lines (ingest thread) */
    char origin[16];              /* this instance on its messages: its incident tag */
    kafka_in_t *chg_in;           /* the shared changes topic (ingest thread) */
    kafka_out_t *chg_out;         /* changes declared here, to it (HTTP threads) */
    kafka_out_t *st_out;          /* User states (any thread) */
    kafka_reader_t *st_reader;    /* User states read back (ingest thread) */
    atomic_int st_partitions;     /* the state topic's partitions; 0: not known yet
                                   * (written by the ingest thread, read by all) */
    char **prop_keys, **prop_values;
    size_t nprops;
    /* ingest thread: per source (partition + 1) */
    double seen[REC_MAX_SOURCES], assigned_at[REC_MAX_SOURCES];
    uint8_t active[REC_MAX_SOURCES], held[REC_MAX_SOURCES];
    off_track_t off[REC_MAX_SOURCES];
    unsigned handoffs_sent;       /* REC_HANDOFF broadcast so far */
    int closing;                  /* leaving the group: the daemon stops */
    atomic_int ingesting;         /* set once the ingest consumer is open (the metrics
                                     read it on HTTP threads; `in` is the ingest thread's) */
    uint64_t beyond;              /* messages of partitions past REC_MAX_SOURCES */
    readback_t *rb;               /* on_assign's states read back */
    size_t nrb, rb_cap;
    /* main thread, a checkpoint */
    staged_t *stage;
    size_t nstage, stage_cap;
    /* with a state topic: offsets are committed below this (main -> ingest) */
    _Atomic int64_t commit_below;
    /* mirrored for the metrics */
    atomic_uint_fast64_t msgs, partitions, beyond_n, commits;
    atomic_uint_fast64_t states_out, states_failed, adopted, refused, checkpoints, ckpt_failed;
    atomic_uint_fast64_t pending;
    atomic_uint_fast64_t peer_alerts, peer_refused, peer_forgotten;
};

static kafka_props_t props_of(const dkafka_t *k)
{
    return (kafka_props_t){ (const char *const *)k->prop_keys,
                            (const char *const *)k->prop_values, k->nprops };
}

/* Every shard has processed every record older than this. */
static int64_t processed_below(dkafka_t *k)
{
    return k->h.processed_below(k->h.ctx);
}

/* ---- ingest ------------------------------------------------------------- */

static void ingest_message(void *ctx, const kafka_msg_t *m)
{
    dkafka_t *k = ctx;
    unsigned src = REC_SRC_OF_PARTITION(m->partition);
    if (m->partition < 0 || src >= REC_MAX_SOURCES) {
        if (k->beyond++ == 0)
            sw_log(LOG_ERROR, "kafka: partition %d is beyond the %d this build reads; its "
                   "messages are dropped (counted)", m->partition, REC_MAX_SOURCES - 1);
        atomic_store_explicit(&k->beyond_n, k->beyond, memory_order_relaxed);
        return;
    }
    k->seen[src] = sw_mono_s();
    router_take_newest(k->router); /* what came before is not this message's */
    router_set_source(k->router, src);
    if (m->data)
        k->h.feed(k->h.ctx, m->data, m->len);
    router_set_source(k->router, 0);
    if (off_taken(&k->off[src], m->offset, router_take_newest(k->router)) < 0)
        sw_log(LOG_WARN, "kafka: out of memory noting offsets; committed later");
}

/*
 * Tells the router which partitions flow. The feed's clock waits for the
 * slowest partition held, so partitions read unevenly do not make each
 * other late; one that falls quiet for the stall time while the others
 * flow stops holding them back, and is stalled on its own (its
 * feed_stalled, its Users not silent) until it speaks again. When all fall
 * quiet together they keep holding the clock (the ingest loop reports the
 * whole feed's stall): whichever speaks first must not run ahead of the rest.
 */
void dk_sources(dkafka_t *k, double stall_s)
{
    if (!k || !k->in)
        return;
    double now = sw_mono_s(), newest = 0;
    for (unsigned src = 1; src < REC_MAX_SOURCES; src++)
        if (k->held[src] && k->seen[src] > newest)
            newest = k->seen[src];
    for (unsigned src = 1; src < REC_MAX_SOURCES; src++) {
        if (!k->held[src])
            continue;
        if (!k->assigned_at[src])
            k->assigned_at[src] = now;
        double last = k->seen[src] > k->assigned_at[src] ? k->seen[src] : k->assigned_at[src];
        if (now - last < stall_s) {
            if (!k->active[src])
                router_source_active(k->router, src, 1);
            k->active[src] = 1;
        } else if (k->active[src] && now - newest < stall_s / 2) {
            /* the others sent within half the stall time: this one alone is quiet */
            router_source_stall(k->router, src);
            router_source_active(k->router, src, 0);
            k->active[src] = 0;
            if (k->seen[src])
                sw_log(LOG_WARN, "kafka: partition %d quiet for %.0f s while the others flow",
                       REC_PARTITION_OF_SRC(src), now - last);
        }
    }
}

/* Commits, for the n partitions, what is done below `done`; sync or not. */
static void commit_parts(dkafka_t *k, const int32_t *parts, size_t n, int64_t done, int sync)
{
    int32_t p[REC_MAX_SOURCES] = { 0 };
    int64_t next[REC_MAX_SOURCES] = { 0 };
    size_t m = 0;
    uint64_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned src = REC_SRC_OF_PARTITION(parts[i]);
        int64_t o = off_committable(&k->off[src], done);
        if (o >= 0) {
            p[m] = parts[i];
            next[m++] = o;
        }
        pending += off_pending(&k->off[src]);
    }
    if (kafka_in_commit(k->in, p, next, m, sync) == 0 && m)
        atomic_fetch_add_explicit(&k->commits, 1, memory_order_relaxed);
    atomic_store_explicit(&k->pending, pending, memory_order_relaxed);
}

/* What may be committed: processed, and with a state topic also in the
 * last checkpoint that reached Kafka. */
static int64_t committable_below(dkafka_t *k)
{
    int64_t done = processed_below(k);
    if (k->st_out) {
        int64_t c = atomic_load_explicit(&k->commit_below, memory_order_acquire);
        if (c < done)
            done = c;
    }
    return done;
}

void dk_commit(dkafka_t *k)
{
    if (!k || !k->in)
        return;
    int32_t parts[REC_MAX_SOURCES];
    size_t n = 0;
    for (unsigned src = 1; src < REC_MAX_SOURCES; src++)
        if (k->held[src])
            parts[n++] = REC_PARTITION_OF_SRC(src);
    commit_parts(k, parts, n, committable_below(k), 0);
    kafka_in_stats_t ks;
    kafka_in_stats(k->in, &ks);
    atomic_store_explicit(&k->msgs, ks.messages, memory_order_relaxed);
    atomic_store_explicit(&k->partitions, (uint64_t)ks.partitions, memory_order_relaxed);
}

/* ---- User states -------------------------------------------------------- */

int dk_has_state_topic(const dkafka_t *k)
{
    return k && k->st_out;
}

/* Sends one User's state to its partition's number in the state topic;
 * one not sent is counted. */
static void send_state(dkafka_t *k, const char *user, unsigned src, const unsigned char *blob,
                       size_t len)
{
    int32_t part = REC_PARTITION_OF_SRC(src);
    /* a partition past the state topic's: said once, when it was assigned */
    int nparts = atomic_load_explicit(&k->st_partitions, memory_order_relaxed);
    if ((nparts > 0 && part >= nparts) ||
        kafka_out_send_to(k->st_out, part, user, (const char *)blob, len) < 0)
        atomic_fetch_add_explicit(&k->states_failed, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&k->states_out, 1, memory_order_relaxed);
}

/* The failures so far, of sending and of delivery, to compare after. */
static uint64_t state_failures(const dkafka_t *k)
{
    uint64_t sent, failed;
    kafka_out_counts(k->st_out, &sent, &failed);
    return failed + atomic_load_explicit(&k->states_failed, memory_order_relaxed);
}

/* Waits for the states sent to be delivered: 0 when every one since
 * `before` (state_failures()) was. */
static int states_delivered(dkafka_t *k, uint64_t before)
{
    int rc = kafka_out_flush(k->st_out, FLUSH_MS);
    return rc == 0 && state_failures(k) == before ? 0 : -1;
}

/* Shard threads (transitions, handoffs): a User's state, to the topic. */
void dk_publish(dkafka_t *k, const char *user, unsigned src, const unsigned char *blob,
                size_t len)
{
    if (k && k->st_out)
        send_state(k, user, src, blob, len);
}

/* Main thread, shards parked: a checkpoint's state, staged to send after. */
static void stage_state(void *ctx, const char *user, unsigned src, const unsigned char *blob,
                        size_t len)
{
    dkafka_t *k = ctx;
    if (VEC_RESERVE(k->stage, k->stage_cap, k->nstage + 1, 256) < 0)
        goto nomem;
    staged_t *s = &k->stage[k->nstage];
    s->user = strdup(user);
    s->blob = malloc(len);
    if (!s->user || !s->blob) {
        free(s->user);
        free(s->blob);
        goto nomem;
    }
    memcpy(s->blob, blob, len);
    s->len = len;
    s->src = src;
    k->nstage++;
    return;
nomem:
    atomic_fetch_add_explicit(&k->states_failed, 1, memory_order_relaxed);
}

void dk_checkpoint(dkafka_t *k)
{
    if (!k || !k->st_out)
        return;
    if (k->h.park(k->h.ctx) < 0) {
        atomic_fetch_add_explicit(&k->ckpt_failed, 1, memory_order_relaxed);
        sw_log(LOG_WARN, "kafka: checkpoint skipped: a shard did not stop");
        return;
    }
    int64_t done = processed_below(k); /* everything older is in the tables now */
    for (unsigned i = 0; i < pipeline_nshards(k->h.pipe); i++)
        shard_publish_all(pipeline_shard(k->h.pipe, i), stage_state, k);
    k->h.unpark(k->h.ctx);

    uint64_t before = state_failures(k);
    for (size_t i = 0; i < k->nstage; i++) {
        send_state(k, k->stage[i].user, k->stage[i].src, k->stage[i].blob, k->stage[i].len);
        free(k->stage[i].user);
        free(k->stage[i].blob);
    }
    size_t n = k->nstage;
    k->nstage = 0;
    if (states_delivered(k, before) == 0) {
        /* release pairs with the ingest thread's acquire in committable_below */
        atomic_store_explicit(&k->commit_below, done, memory_order_release);
        atomic_fetch_add_explicit(&k->checkpoints, 1, memory_order_relaxed);
        sw_log(LOG_DEBUG, "kafka: checkpoint: %zu User states", n);
    } else {
        atomic_fetch_add_explicit(&k->ckpt_failed, 1, memory_order_relaxed);
        sw_log(LOG_WARN, "kafka: checkpoint of %zu User states not all delivered; offsets stay "
               "where the last one left them", n);
    }
}

static void readback(void *ctx, const kafka_msg_t *m)
{
    dkafka_t *k = ctx;
    if (!m->key || !m->keylen)
        return;
    if (VEC_RESERVE(k->rb, k->rb_cap, k->nrb + 1, 256) < 0)
        return;
    readback_t *r = &k->rb[k->nrb];
    r->user = strndup(m->key, m->keylen);
    r->blob = m->len ? malloc(m->len) : NULL;
    if (!r->user || (m->len && !r->blob)) {
        free(r->user);
        free(r->blob);
        return;
    }
    if (m->len)
        memcpy(r->blob, m->data, m->len);
    r->len = m->len;
    r->offset = m->offset;
    r->partition = m->partition;
    k->nrb++;
}

/* By User, then newest first: the first of each User is its latest. */
static int by_user_newest(const void *a, const void *b)
{
    const readback_t *x = a, *y = b;
    int c = strcmp(x->user, y->user);
    if (c)
        return c;
    return x->offset > y->offset ? -1 : x->offset < y->offset;
}

/*
 * Ingest thread, partitions assigned, before any of their messages: their
 * Users' latest states, read back from the state topic, are adopted with
 * the shards parked, so the Users go on here as they were.
 */
static void take_states(dkafka_t *k, const int32_t *parts, size_t n)
{
    int nparts = atomic_load_explicit(&k->st_partitions, memory_order_relaxed);
    if (!nparts) {
        nparts = kafka_reader_partitions(k->st_reader, READ_STATE_MS);
        if (nparts > 0) /* else asked again at the next assignment */
            atomic_store_explicit(&k->st_partitions, nparts, memory_order_relaxed);
    }
    int32_t want[REC_MAX_SOURCES];
    size_t nw = 0;
    for (size_t i = 0; i < n; i++) {
        if (nparts > 0 && parts[i] >= nparts) {
            sw_log(LOG_ERROR, "kafka: the state topic %s has %d partitions: partition %d's "
                   "Users cannot keep their state (give it as many as the ingest topic)",
                   k->o.state_topic, nparts, parts[i]);
            continue;
        }
        want[nw++] = parts[i];
    }
    if (!nw || nparts <= 0)
        return;
    double t0 = sw_mono_s();
    long got = kafka_reader_read(k->st_reader, want, nw, READ_STATE_MS, readback, k);
    if (k->nrb)
        qsort(k->rb, k->nrb, sizeof(*k->rb), by_user_newest);
    size_t adopted = 0, refused = 0;
    int parked = k->h.park(k->h.ctx) == 0;
    for (size_t i = 0; parked && i < k->nrb; i++) {
        readback_t *r = &k->rb[i];
        if ((i && strcmp(r->user, k->rb[i - 1].user) == 0) || !r->blob)
            continue; /* an older state, or the User was deleted */
        state_user_t u;
        char why[256];
        int rc = state_decode_user(r->blob, r->len, &u, why, sizeof(why));
        if (rc == SW_OK) {
            u.src = REC_SRC_OF_PARTITION(r->partition); /* read from there now */
            unsigned sh = pipeline_shard_of(k->h.pipe, u.user, u.ulen);
            rc = shard_adopt(pipeline_shard(k->h.pipe, sh), &u);
            snprintf(why, sizeof(why), "%s", sw_strerror(rc));
            state_user_free(&u);
        }
        if (rc == SW_OK) {
            adopted++;
        } else {
            if (refused++ < 10)
                sw_log(LOG_WARN, "kafka: %s[%d] offset %" PRId64 ": the state of %s refused: %s",
                       k->o.state_topic, r->partition, r->offset, r->user, why);
        }
    }
    if (parked)
        k->h.unpark(k->h.ctx);
    for (size_t i = 0; i < k->nrb; i++) {
        free(k->rb[i].user);
        free(k->rb[i].blob);
    }
    k->nrb = 0;
    atomic_fetch_add_explicit(&k->adopted, adopted, memory_order_relaxed);
    atomic_fetch_add_explicit(&k->refused, refused, memory_order_relaxed);
    if (!parked)
        sw_log(LOG_ERROR, "kafka: a shard did not stop: the states read back were not taken");
    else
        sw_log(LOG_INFO, "kafka: took the state of %zu Users (%ld states read in %.1f s)%s",
               adopted, got, sw_mono_s() - t0, got < 0 ? "; not all could be read" : "");
}

static void on_assigned(void *ctx, const int32_t *parts, size_t n)
{
    dkafka_t *k = ctx;
    if (k->st_reader)
        take_states(k, parts, n);
    for (size_t i = 0; i < n; i++) {
        unsigned src = REC_SRC_OF_PARTITION(parts[i]);
        if (parts[i] < 0 || src >= REC_MAX_SOURCES)
            continue;
        router_source_assigned(k->router, src);
        off_reset(&k->off[src]);
        k->held[src] = 1;
        k->seen[src] = k->assigned_at[src] = 0;
    }
}

/*
 * Ingest thread, partitions about to go (or gone: `lost`): each shard hands
 * their Users over after everything it was given of them, their states
 * published first (unless lost: the new owner may have newer ones); then
 * what was processed is committed, so the next owner reads the rest. When
 * the daemon stops without a state topic, its Users stay for --state.
 */
static void on_revoked(void *ctx, const int32_t *parts, size_t n, int lost)
{
    dkafka_t *k = ctx;
    int publish = !lost && k->st_out;
    int keep = k->closing && !k->st_out;
    uint64_t before = publish ? state_failures(k) : 0;
    for (size_t i = 0; i < n && !keep; i++) {
        unsigned src = REC_SRC_OF_PARTITION(parts[i]);
        if (parts[i] < 0 || src >= REC_MAX_SOURCES)
            continue;
        router_handoff(k->router, src, publish);
        k->handoffs_sent++;
    }
    /* the records out to the shards, then their handoffs handled (none
     * to wait for when the Users stay) */
    k->h.await_handoffs(k->h.ctx, keep ? 0 : k->handoffs_sent, HANDOFF_WAIT_S);
    int delivered = 0;
    if (publish) {
        delivered = states_delivered(k, before) == 0;
        if (!delivered)
            sw_log(LOG_WARN, "kafka: not every state of the partitions revoked was delivered");
    }
    if (!lost) {
        /* handed off: all that was delivered to the shards is processed; its
         * state is out when delivered, else only the last checkpoint holds */
        int64_t done = keep ? processed_below(k) : router_done_below(k->router);
        if (k->st_out && !delivered) {
            int64_t c = atomic_load_explicit(&k->commit_below, memory_order_acquire);
            done = c < done ? c : done;
        }
        commit_parts(k, parts, n, done, 1);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned src = REC_SRC_OF_PARTITION(parts[i]);
        if (parts[i] < 0 || src >= REC_MAX_SOURCES)
            continue;
        off_reset(&k->off[src]);
        k->held[src] = k->active[src] = 0;
        k->assigned_at[src] = 0;
    }
}

/* ---- shared changes ----------------------------------------------------- */

void dk_share_declared(dkafka_t *k, const char *stored)
{
    if (!k || !k->chg_out || !stored)
        return;
    json_t *o = json_loads(stored, 0, NULL);
    const char *id = o ? json_string_value(json_object_get(o, "id")) : NULL;
    if (id && kafka_out_send(k->chg_out, id, stored, strlen(stored)) < 0)
        sw_log(LOG_WARN, "kafka: change %s not shared (queue full)", id);
    json_decref(o);
}

/* A withdrawal goes to the shared topic as {"withdrawn": ID}. */
void dk_share_withdrawn(dkafka_t *k, const char *id)
{
    if (!k || !k->chg_out)
        return;
    json_t *o = json_pack("{s:s}", "withdrawn", id);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text && kafka_out_send(k->chg_out, id, text, strlen(text)) < 0)
        sw_log(LOG_WARN, "kafka: withdrawal of %s not shared (queue full)", id);
    free(text);
    json_decref(o);
}

/*
 * Ingest thread: a change shared by any instance (this one's come back
 * too, and are already known). Declared or withdrawn here as over the API,
 * journalled, and so applied to the register (on_api_change in daemon.c).
 */
static void shared_change(void *ctx, const kafka_msg_t *m)
{
    dkafka_t *k = ctx;
    if (!m->data)
        return;
    json_t *o = json_loadb(m->data, m->len, 0, NULL);
    const char *gone = o ? json_string_value(json_object_get(o, "withdrawn")) : NULL;
    int rc = gone ? changes_api_withdraw(k->h.changes, gone)
                  : changes_api_declare(k->h.changes, m->data, m->len, NULL, 0);
    if (rc == SW_OK) /* the API's on_change queues it for the register */
        sw_log(LOG_INFO, "kafka: shared change %s", gone ? "withdrawn" : "declared");
    else if (rc != SW_EEXISTS && rc != SW_ENOTFOUND) {
        sw_log(LOG_WARN, "kafka: a shared change was refused: %s", sw_strerror(rc));
    }
    json_decref(o);
}

unsigned dk_incident_tag(const dk_opts_t *o)
{
    if (!o->brokers || !o->topic)
        return 0;
    unsigned char b[3] = { 0 };
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) { /* a weaker one will do */
        unsigned long x = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 8);
        b[0] = (unsigned char)x, b[1] = (unsigned char)(x >> 8), b[2] = (unsigned char)(x >> 16);
    }
    unsigned tag = ((unsigned)b[0] << 16 | (unsigned)b[1] << 8 | b[2]) & INCIDENT_TAG_MAX;
    tag = tag ? tag : 1;
    char id[INCIDENT_ID_LEN];
    incident_id_format((incident_id_t)tag << 32 | 1, id);
    sw_log(LOG_INFO, "kafka: this instance numbers its incidents %s and on", id);
    return tag;
}

/* ---- the other instances' alerts ---------------------------------------- */

/* Ingest thread: an alert line from the alerts topic. This instance's own
 * come back too (its origin header says so) and are skipped. */
static void peer_message(void *ctx, const kafka_msg_t *m)
{
    dkafka_t *k = ctx;
    if (!m->data || !m->len)
        return;
    if (m->origin && m->originlen == strlen(k->origin) &&
        memcmp(m->origin, k->origin, m->originlen) == 0)
        return;
    atomic_fetch_add_explicit(&k->peer_alerts, 1, memory_order_relaxed);
    if (k->h.queue_peer_alert(k->h.ctx, m->data, m->len) < 0)
        atomic_fetch_add_explicit(&k->peer_refused, 1, memory_order_relaxed);
}

static int kind_of(const char *name)
{
    for (int k = 0; name && k < ALERT_NKINDS; k++)
        if (!strcmp(alert_kind_name((alert_kind_t)k), name))
            return k;
    return -1;
}

static int64_t time_of(json_t *o, const char *key)
{
    int64_t ns = INT64_MAX;
    const char *s = json_string_value(json_object_get(o, key));
    if (s && tf_parse_rfc3339(s, &ns) < 0)
        ns = INT64_MIN;
    return ns;
}

void dk_peer_alert(dkafka_t *k, const char *line)
{
    if (!k)
        return;
    alerts_t *as = pipeline_alerts(k->h.pipe);
    json_t *o = json_loads(line, 0, NULL);
    const char *status = json_string_value(json_object_get(o, "status"));
    const char *dir = json_string_value(json_object_get(o, "dir"));
    const char *inc = json_string_value(json_object_get(o, "incident"));
    const char *role = json_string_value(json_object_get(o, "incident_role"));
    const char *sev = json_string_value(json_object_get(o, "severity"));
    const char *corr = json_string_value(json_object_get(o, "correlation"));
    const char *summary = json_string_value(json_object_get(o, "summary"));
    json_t *chg = json_object_get(o, "change");
    alerts_remote_t r = {
        .firing = status && !strcmp(status, "firing"),
        .user = json_string_value(json_object_get(o, "user")),
        .cls = json_string_value(json_object_get(o, "class")),
        .dir = dir && !strcmp(dir, "north") ? DIR_NORTH : DIR_SOUTH,
        .starts_at = time_of(o, "starts_at"),
        .detected_at = time_of(o, "detected_at"),
        .ends_at = time_of(o, "ends_at"),
        .role = role && !strcmp(role, "member") ? ROLE_MEMBER : ROLE_PRIMARY,
        .severity = !sev ? SEV_WARNING : !strcmp(sev, "critical") ? SEV_CRITICAL
                                        : !strcmp(sev, "info") ? SEV_INFO : SEV_WARNING,
        .change_id = corr && !strcmp(corr, "maintenance")
                         ? json_string_value(json_object_get(chg, "id")) : NULL,
    };
    int kind = kind_of(json_string_value(json_object_get(o, "alert")));
    /* a widespread line names its symptom in its summary (alert.c) */
    char symptom[32] = "";
    if (kind == ALERT_WIDESPREAD && summary)
        sscanf(summary, "%*u Users show %31s", symptom);
    int sym = kind_of(symptom);
    int ok = o && status && r.user && r.cls && kind >= 0 && inc &&
             incident_id_parse(inc, &r.incident) == 0 && r.starts_at != INT64_MIN &&
             r.starts_at != INT64_MAX && r.detected_at != INT64_MIN &&
             r.detected_at != INT64_MAX && r.ends_at != INT64_MIN &&
             (r.firing || r.ends_at != INT64_MAX) && (kind != ALERT_WIDESPREAD || sym >= 0);
    if (ok) {
        r.kind = (alert_kind_t)kind;
        r.symptom = (alert_kind_t)(sym < 0 ? 0 : sym);
        alerts_remote(as, &r);
        sw_log(LOG_DEBUG, "kafka: another instance's %s of %s %s (%s)", alert_kind_name(r.kind),
               r.user, r.firing ? "fired" : "resolved", inc);
        atomic_store_explicit(&k->peer_forgotten, alerts_stats(as)->remote_dropped,
                              memory_order_relaxed);
    } else if (inc || !o) { /* a line without an incident has nothing to share */
        atomic_fetch_add_explicit(&k->peer_refused, 1, memory_order_relaxed);
    }
    json_decref(o);
}

/* ---- the ingest thread's round ------------------------------------------ */

int dk_reads_ingest(const dkafka_t *k)
{
    return k && k->in;
}

int dk_poll(dkafka_t *k, int timeout_ms)
{
    if (!k)
        return 0;
    int n = 0, per = k->o.msgs_per_round;
    if (k->in)
        n = kafka_in_poll(k->in, timeout_ms, per, ingest_message, k);
    if (k->chg_in)
        kafka_in_poll(k->chg_in, 0, per, shared_change, k);
    if (k->peer_in)
        kafka_in_poll(k->peer_in, 0, per, peer_message, k);
    if (k->alerts) /* the alert lines' deliveries, counted also between alerts */
        kafka_out_poll(k->alerts);
    return n;
}

void dk_leave(dkafka_t *k)
{
    if (!k || !k->in)
        return;
    k->closing = 1;
    kafka_in_close(k->in); /* on_revoked runs in here for what is held */
    k->in = NULL;
    sw_log(LOG_INFO, "kafka: left the group");
}

/* ---- alerts ------------------------------------------------------------- */

void dk_alert(dkafka_t *k, const alert_t *a, const char *line, size_t len)
{
    if (!k || !k->alerts)
        return;
    kafka_out_send(k->alerts, a->user, line, len); /* failures are counted */
}

/* ---- metrics ------------------------------------------------------------ */

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void dk_stats(const dkafka_t *k, dk_stats_t *out)
{
    *out = (dk_stats_t){ 0 };
    if (!k)
        return;
    out->ingesting = LOAD(k->ingesting);
    out->messages = LOAD(k->msgs);
    out->partitions = LOAD(k->partitions);
    out->beyond = LOAD(k->beyond_n);
    out->commits = LOAD(k->commits);
    out->uncommitted = LOAD(k->pending);
    out->has_state_topic = k->st_out != NULL;
    if (k->st_out)
        out->states_failed = state_failures(k);
    out->states_out = LOAD(k->states_out);
    out->adopted = LOAD(k->adopted);
    out->refused = LOAD(k->refused);
    out->checkpoints = LOAD(k->checkpoints);
    out->checkpoint_failures = LOAD(k->ckpt_failed);
    out->has_peers = k->peer_in != NULL;
    out->peer_alerts = LOAD(k->peer_alerts);
    out->peer_refused = LOAD(k->peer_refused);
    out->peer_forgotten = LOAD(k->peer_forgotten);
    out->has_alerts_topic = k->alerts != NULL;
    if (k->alerts)
        kafka_out_counts(k->alerts, &out->alerts_sent, &out->alerts_failed);
}

/* ---- set-up ------------------------------------------------------------- */

/* run.kafka_properties ("key=value") split for librdkafka. */
static int split_props(dkafka_t *k, char *err, size_t errlen)
{
    size_t n = k->o.nproperties;
    k->prop_keys = calloc(n + 1, sizeof(char *));
    k->prop_values = calloc(n + 1, sizeof(char *));
    if (!k->prop_keys || !k->prop_values)
        return SW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *kv = k->o.properties[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            sw_errf(err, errlen, "run.kafka_properties: '%s': want key=value", kv);
            return SW_ECONFIG;
        }
        k->prop_keys[i] = strndup(kv, (size_t)(eq - kv));
        k->prop_values[i] = strdup(eq + 1);
        k->nprops++;
        if (!k->prop_keys[i] || !k->prop_values[i])
            return SW_ENOMEM;
    }
    return SW_OK;
}

static int open_out(dkafka_t *k, const char *topic, kafka_out_t **out, char *err, size_t errlen)
{
    kafka_out_opts_t o = { .brokers = k->o.brokers, .topic = topic, .props = props_of(k) };
    return (*out = kafka_out_open(&o, err, errlen)) ? SW_OK : SW_ECONFIG;
}

int dk_open(const dk_opts_t *o, const dk_hooks_t *h, dkafka_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->brokers)
        return SW_OK;
    dkafka_t *k = *out = calloc(1, sizeof(**out));
    if (!k)
        return SW_ENOMEM;
    k->o = *o;
    k->h = *h;
    k->router = pipeline_router(h->pipe);
    for (unsigned i = 0; i < REC_MAX_SOURCES; i++)
        off_init(&k->off[i]);
    atomic_store_explicit(&k->commit_below, INT64_MIN, memory_order_relaxed);
    int rc = split_props(k, err, errlen);
    if (rc < 0)
        return rc;
    kafka_props_t props = props_of(k);
    if (k->o.alerts_topic) {
        /* with several instances on one feed, each follows the others'
         * lines, so an incident whose symptoms fall on Users of different
         * instances is one: this instance's own are known by their origin */
        snprintf(k->origin, sizeof(k->origin), "%06X", k->o.incident_tag);
        kafka_out_opts_t ao = { .brokers = k->o.brokers, .topic = k->o.alerts_topic,
                                .props = props, .origin = k->o.incident_tag ? k->origin : NULL };
        if (!(k->alerts = kafka_out_open(&ao, err, errlen)))
            return SW_ECONFIG;
        if (k->o.incident_tag) {
            char host[64] = "host", group[200];
            gethostname(host, sizeof(host) - 1);
            snprintf(group, sizeof(group), "stormwatch-alerts-%s-%ld", host, (long)getpid());
            /* from the topic's start (its retention bounds it): an instance
             * that joins mid-incident learns what fires elsewhere, and a
             * line is never missed for a fetch position set late */
            kafka_in_opts_t pi = { .brokers = k->o.brokers,
                                   .topic = k->o.alerts_topic, .group = group,
                                   .props = props };
            if (!(k->peer_in = kafka_in_open(&pi, err, errlen)))
                return SW_ECONFIG;
            sw_log(LOG_INFO, "kafka: grouping incidents with the other instances through %s",
                   k->o.alerts_topic);
        }
    }
    if (k->o.state_topic) {
        if ((rc = open_out(k, k->o.state_topic, &k->st_out, err, errlen)) < 0)
            return rc;
        if (!(k->st_reader = kafka_reader_open(k->o.brokers, k->o.state_topic, &props,
                                               err, errlen)))
            return SW_ECONFIG;
        sw_log(LOG_INFO, "kafka: User states move with partitions through %s",
               k->o.state_topic);
    }
    if (k->o.changes_topic) {
        /* every instance reads the whole topic: a group of its own, never committed */
        char host[64] = "host", group[200];
        gethostname(host, sizeof(host) - 1);
        snprintf(group, sizeof(group), "stormwatch-changes-%s-%ld", host, (long)getpid());
        kafka_in_opts_t ci = { .brokers = k->o.brokers, .topic = k->o.changes_topic,
                               .group = group, .props = props };
        if (!(k->chg_in = kafka_in_open(&ci, err, errlen)) ||
            (rc = open_out(k, k->o.changes_topic, &k->chg_out, err, errlen)) < 0)
            return rc < 0 ? rc : SW_ECONFIG;
        sw_log(LOG_INFO, "kafka: sharing declared changes on %s", k->o.changes_topic);
    }
    if (k->o.topic) { /* last: the group may assign at once */
        kafka_in_opts_t ko = { .brokers = k->o.brokers, .topic = k->o.topic,
                               .group = k->o.group ? k->o.group : "stormwatch",
                               .props = props, .on_assign = on_assigned,
                               .on_revoke = on_revoked, .ctx = k };
        if (!(k->in = kafka_in_open(&ko, err, errlen)))
            return SW_ECONFIG;
        atomic_store_explicit(&k->ingesting, 1, memory_order_relaxed);
        sw_log(LOG_INFO, "kafka: reading %s from %s in group %s", ko.topic, ko.brokers, ko.group);
    }
    return SW_OK;
}

void dk_close(dkafka_t *k)
{
    if (!k)
        return;
    kafka_in_close(k->in); /* set-up failed before the daemon ran: nothing held */
    kafka_out_close(k->alerts, 5000);
    kafka_in_close(k->peer_in);
    kafka_in_close(k->chg_in);
    kafka_out_close(k->chg_out, 5000);
    kafka_out_close(k->st_out, FLUSH_MS);
    kafka_reader_close(k->st_reader);
    for (unsigned i = 0; i < REC_MAX_SOURCES; i++)
        off_free(&k->off[i]);
    for (size_t i = 0; i < k->nprops; i++) {
        free(k->prop_keys[i]);
        free(k->prop_values[i]);
    }
    free(k->prop_keys);
    free(k->prop_values);
    free(k->rb);
    free(k->stage);
    free(k);
}
