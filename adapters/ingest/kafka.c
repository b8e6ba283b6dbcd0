/*
 * kafka.c - the Kafka consumer, partition reader and producer (kafka.h).
 *
 * A thin layer over librdkafka: the high-level consumer with the
 * rebalance callback its documentation describes (incremental assign and
 * unassign under the cooperative protocol, whole assignments under the
 * eager one), explicit offset commits, and a plain assign-and-read
 * consumer for reading partitions back.
 */
#include "kafka.h"
#include "err.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errburst.h"
#include "log.h"
#include "monotime.h"

#define MAX_ASSIGNED 1024
#define SEND_TRIES 100         /* a full queue is waited on 50 ms at a time, 5 s in all */

struct kafka_in {
    rd_kafka_t *rk;
    char *topic;
    void (*on_assign)(void *ctx, const int32_t *parts, size_t n);
    void (*on_revoke)(void *ctx, const int32_t *parts, size_t n, int lost);
    void *ctx;
    kafka_in_stats_t st;
    int32_t assigned[MAX_ASSIGNED];
    size_t nassigned;
};

struct kafka_reader {
    rd_kafka_t *rk;
    char *topic;
};

struct kafka_out {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    /* updated by the delivery callback, on whichever thread polls: a
     * producer may be shared (librdkafka's produce is thread-safe); relaxed,
     * they are only counts */
    atomic_uint_fast64_t sent, failed;
    /* failures are logged once per burst: a broker outage fails every
     * queued message (every User's state at a checkpoint), one line each
     * would bury the log. The burst is guarded by log_mu, as deliveries
     * are reported on whichever thread polls; `failing` mirrors its flag so
     * a delivery that went well checks it without the lock. */
    pthread_mutex_t log_mu;
    errburst_t burst;
    atomic_int failing;
    char *origin;         /* KAFKA_ORIGIN_HEADER of every message; NULL: none */
};

/* A message that did not reach Kafka: counted, logged once per burst. */
static void out_failed(kafka_out_t *k, const char *why)
{
    atomic_fetch_add_explicit(&k->failed, 1, memory_order_relaxed);
    pthread_mutex_lock(&k->log_mu);
    errburst_fail(&k->burst, errburst_now(), LOG_WARN, "kafka: messages to %s not delivered: %s",
                  rd_kafka_topic_name(k->topic), why);
    /* relaxed: a hint for the next delivery, which takes the lock to act */
    atomic_store_explicit(&k->failing, 1, memory_order_relaxed);
    pthread_mutex_unlock(&k->log_mu);
}

static void out_delivered(kafka_out_t *k)
{
    atomic_fetch_add_explicit(&k->sent, 1, memory_order_relaxed);
    if (!atomic_load_explicit(&k->failing, memory_order_relaxed))
        return;
    pthread_mutex_lock(&k->log_mu);
    errburst_ok(&k->burst, errburst_now(), "kafka: messages to %s delivered again",
                rd_kafka_topic_name(k->topic));
    atomic_store_explicit(&k->failing, 0, memory_order_relaxed);
    pthread_mutex_unlock(&k->log_mu);
}

/* Sets one property; 0, or -1 with "KEY: reason" in err. */
static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(c, k, v, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    sw_errf(err, errlen, "kafka property %s: %s", k, why);
    return -1;
}

/* librdkafka's own log lines (syslog levels) into ours. A setting meant
 * for consumers given to a producer (run.kafka_properties serve both)
 * is not worth a warning. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    log_level_t l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO
                                                                                : LOG_DEBUG;
    if (strcmp(fac, "CONFWARN") == 0)
        l = LOG_DEBUG;
    sw_log(l, "kafka: librdkafka %s: %s", fac, buf);
}

/* The bootstrap servers, `defaults` (key, value, ... NULL) unless the
 * operator's properties set them, then the operator's properties. */
static rd_kafka_conf_t *base_conf(const char *brokers, const kafka_props_t *p,
                                  const char *const *defaults, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c) {
        sw_errf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(c, on_log);
    if (set(c, "bootstrap.servers", brokers, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; defaults && defaults[i]; i += 2) {
        int given = 0;
        for (size_t k = 0; k < p->n && !given; k++)
            given = strcmp(p->keys[k], defaults[i]) == 0;
        if (!given && set(c, defaults[i], defaults[i + 1], err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < p->n; i++)
        if (set(c, p->keys[i], p->values[i], err, errlen) < 0)
            goto fail;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

/* ---- consumer in a group ------------------------------------------------ */

static void list_parts(const rd_kafka_topic_partition_list_t *parts, int32_t *out, size_t *n)
{
    *n = 0;
    for (int i = 0; i < parts->cnt && *n < MAX_ASSIGNED; i++)
        out[(*n)++] = parts->elems[i].partition;
}

static void log_parts(const char *what, const rd_kafka_topic_partition_list_t *parts)
{
    char list[256] = "";
    size_t n = 0;
    for (int i = 0; i < parts->cnt && n + 12 < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "",
                              parts->elems[i].partition);
    sw_log(LOG_INFO, "kafka: %s: %s partitions [%s]", parts->cnt ? parts->elems[0].topic : "-",
           what, list);
}

static void check(rd_kafka_error_t *e, const char *what)
{
    if (e) {
        sw_log(LOG_ERROR, "kafka: %s: %s", what, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_in_t *k = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    int32_t got[MAX_ASSIGNED];
    size_t n;
    list_parts(parts, got, &n);
    k->st.rebalances++;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_parts("assigned", parts);
        if (!coop)
            k->nassigned = 0; /* eager: the whole assignment, after a revoke of all */
        if (k->on_assign && n) /* before any message of theirs is fetched */
            k->on_assign(k->ctx, got, n);
        if (coop)
            check(rd_kafka_incremental_assign(rk, parts), "incremental assign");
        else
            rd_kafka_assign(rk, parts);
        for (size_t i = 0; i < n && k->nassigned < MAX_ASSIGNED; i++)
            k->assigned[k->nassigned++] = got[i];
    } else {
        int lost = e != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk);
        log_parts(lost ? "lost" : "revoked", parts);
        if (k->on_revoke && n)
            k->on_revoke(k->ctx, got, n, lost);
        if (coop)
            check(rd_kafka_incremental_unassign(rk, parts), "incremental unassign");
        else
            rd_kafka_assign(rk, NULL);
        size_t keep = 0;
        for (size_t i = 0; i < k->nassigned; i++) {
            int gone = !coop;
            for (size_t j = 0; j < n && !gone; j++)
                gone = k->assigned[i] == got[j];
            if (!gone)
                k->assigned[keep++] = k->assigned[i];
        }
        k->nassigned = keep;
    }
    k->st.partitions = (int32_t)k->nassigned;
    for (size_t i = 1; i < k->nassigned; i++) /* in order, for the log and its readers */
        for (size_t j = i; j > 0 && k->assigned[j - 1] > k->assigned[j]; j--) {
            int32_t x = k->assigned[j];
            k->assigned[j] = k->assigned[j - 1];
            k->assigned[j - 1] = x;
        }
    char list[256] = "";
    size_t off = 0;
    for (size_t i = 0; i < k->nassigned && off + 12 < sizeof(list); i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d", i ? "," : "",
                                k->assigned[i]);
    sw_log(LOG_INFO, "kafka: %s: holding partitions [%s]", k->topic, list);
}

kafka_in_t *kafka_in_open(const kafka_in_opts_t *o, char *err, size_t errlen)
{
    kafka_in_t *k = calloc(1, sizeof(*k));
    if (!k || !(k->topic = strdup(o->topic))) {
        free(k);
        sw_errf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    /* librdkafka's default assignment (range, roundrobin: eager) stays: its
     * cooperative-sticky can stall a group in Debian's 2.0 (rebalances
     * that wait out session timeouts, seen against the mock cluster). Both
     * work here; run.kafka_properties may ask for cooperative-sticky. */
    static const char *const defaults[] = {
        "auto.offset.reset", "earliest", /* a new group reads the topic from its start */
        /* a dead instance's partitions move after this (librdkafka: 45 s);
         * what came meanwhile must still be within input.lateness */
        "session.timeout.ms", "10000",
        NULL,
    };
    rd_kafka_conf_t *c = base_conf(o->brokers, &o->props, defaults, err, errlen);
    if (!c || set(c, "group.id", o->group, err, errlen) < 0 ||
        set(c, "enable.auto.commit", "false", err, errlen) < 0 ||
        set(c, "enable.auto.offset.store", "false", err, errlen) < 0) {
        if (c)
            rd_kafka_conf_destroy(c);
        free(k->topic);
        free(k);
        return NULL;
    }
    k->on_assign = o->on_assign;
    k->on_revoke = o->on_revoke;
    k->ctx = o->ctx;
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_opaque(c, k);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof(why));
    if (!k->rk) {
        sw_errf(err, errlen, "kafka: %s", why);
        free(k->topic);
        free(k);
        return NULL;
    }
    rd_kafka_poll_set_consumer(k->rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        sw_errf(err, errlen, "kafka: subscribe to %s: %s", o->topic, rd_kafka_err2str(e));
        rd_kafka_destroy(k->rk);
        free(k->topic);
        free(k);
        return NULL;
    }
    return k;
}

static void hand(const rd_kafka_message_t *m, kafka_msg_fn on_msg, void *ctx)
{
    kafka_msg_t km = { .data = m->payload, .len = m->payload ? m->len : 0, .key = m->key,
                       .keylen = m->key_len, .partition = m->partition, .offset = m->offset };
    rd_kafka_headers_t *h = NULL;
    const void *origin;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, KAFKA_ORIGIN_HEADER, &origin, &km.originlen) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
        km.origin = origin;
    on_msg(ctx, &km);
}

int kafka_in_poll(kafka_in_t *k, int timeout_ms, int max, kafka_msg_fn on_msg, void *ctx)
{
    int n = 0;
    while (n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, n ? 0 : timeout_ms);
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                k->st.errors++;
                sw_log(LOG_WARN, "kafka: %s", rd_kafka_message_errstr(m));
            }
        } else {
            k->st.messages++;
            k->st.bytes += m->len;
            hand(m, on_msg, ctx);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    return n;
}

size_t kafka_in_assigned(const kafka_in_t *k, int32_t *out, size_t max)
{
    size_t n = k->nassigned < max ? k->nassigned : max;
    memcpy(out, k->assigned, n * sizeof(*out));
    return n;
}

int kafka_in_commit(kafka_in_t *k, const int32_t *parts, const int64_t *next, size_t n, int sync)
{
    if (!n)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    if (!l)
        return -1;
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, k->topic, parts[i])->offset = next[i];
    rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, l, !sync);
    rd_kafka_topic_partition_list_destroy(l);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        k->st.commit_failures++;
        sw_log(LOG_WARN, "kafka: commit to %s: %s", k->topic, rd_kafka_err2str(e));
        return -1;
    }
    k->st.commits++;
    return 0;
}

void kafka_in_stats(const kafka_in_t *k, kafka_in_stats_t *out)
{
    *out = k->st;
}

void kafka_in_close(kafka_in_t *k)
{
    if (!k)
        return;
    rd_kafka_consumer_close(k->rk); /* the revoke callback runs in here */
    rd_kafka_destroy(k->rk);
    free(k->topic);
    free(k);
}

/* ---- reading partitions back -------------------------------------------- */

kafka_reader_t *kafka_reader_open(const char *brokers, const char *topic, const kafka_props_t *p,
                                  char *err, size_t errlen)
{
    kafka_reader_t *r = calloc(1, sizeof(*r));
    if (!r || !(r->topic = strdup(topic))) {
        free(r);
        sw_errf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_t *c = base_conf(brokers, p, NULL, err, errlen);
    /* assigned, never subscribed or committed: the group id is a formality */
    if (!c || set(c, "group.id", "stormwatch-reader", err, errlen) < 0 ||
        set(c, "enable.auto.commit", "false", err, errlen) < 0 ||
        set(c, "enable.partition.eof", "true", err, errlen) < 0) {
        if (c)
            rd_kafka_conf_destroy(c);
        free(r->topic);
        free(r);
        return NULL;
    }
    char why[512];
    if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof(why)))) {
        sw_errf(err, errlen, "kafka: %s", why);
        free(r->topic);
        free(r);
        return NULL;
    }
    rd_kafka_poll_set_consumer(r->rk);
    return r;
}

int kafka_reader_partitions(kafka_reader_t *r, int timeout_ms)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, r->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = t ? rd_kafka_metadata(r->rk, 0, t, &md, timeout_ms)
                              : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    int n = -1;
    if (!e && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else
        sw_log(LOG_ERROR, "kafka: %s: no metadata: %s", r->topic,
               rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err : e));
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

long kafka_reader_read(kafka_reader_t *r, const int32_t *parts, size_t n, int timeout_ms,
                       kafka_msg_fn on_msg, void *ctx)
{
    double deadline = sw_mono_s() + timeout_ms / 1000.0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    int64_t *end = calloc(n ? n : 1, sizeof(*end)); /* offset past the last message */
    size_t open = 0;
    long got = 0;
    if (!l || !end) {
        rd_kafka_topic_partition_list_destroy(l);
        free(end);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(r->rk, r->topic, parts[i], &lo, &hi, timeout_ms);
        if (e) {
            sw_log(LOG_ERROR, "kafka: %s[%d]: %s", r->topic, parts[i], rd_kafka_err2str(e));
            got = -1;
            goto out;
        }
        end[i] = hi;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(l, r->topic, parts[i])->offset =
                RD_KAFKA_OFFSET_BEGINNING;
            open++;
        }
    }
    if (open)
        rd_kafka_assign(r->rk, l);
    while (open && sw_mono_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (!m)
            continue;
        size_t i = 0;
        while (i < n && parts[i] != m->partition)
            i++;
        int at_end = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
                     (!m->err && i < n && m->offset + 1 >= end[i]);
        if (!m->err && i < n && end[i] >= 0) {
            hand(m, on_msg, ctx);
            got++;
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            sw_log(LOG_WARN, "kafka: %s: %s", r->topic, rd_kafka_message_errstr(m));
        }
        if (at_end && i < n && end[i] >= 0) {
            end[i] = -1; /* done */
            open--;
        }
        rd_kafka_message_destroy(m);
    }
    if (open) {
        sw_log(LOG_ERROR, "kafka: %s: %zu partition%s not read to the end within %d ms", r->topic,
               open, open == 1 ? "" : "s", timeout_ms);
        got = -1;
    }
    if (l->cnt)
        rd_kafka_assign(r->rk, NULL);
out:
    rd_kafka_topic_partition_list_destroy(l);
    free(end);
    return got;
}

void kafka_reader_close(kafka_reader_t *r)
{
    if (!r)
        return;
    rd_kafka_destroy(r->rk);
    free(r->topic);
    free(r);
}

/* ---- producer ----------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_out_t *k = opaque;
    if (m->err)
        out_failed(k, rd_kafka_err2str(m->err));
    else
        out_delivered(k);
}

kafka_out_t *kafka_out_open(const kafka_out_opts_t *o, char *err, size_t errlen)
{
    kafka_out_t *k = calloc(1, sizeof(*k));
    if (!k || pthread_mutex_init(&k->log_mu, NULL) != 0) {
        sw_errf(err, errlen, "kafka: out of memory");
        free(k);
        return NULL;
    }
    rd_kafka_conf_t *c = base_conf(o->brokers, &o->props, NULL, err, errlen);
    if (!c || set(c, "enable.idempotence", "true", err, errlen) < 0) {
        if (c)
            rd_kafka_conf_destroy(c);
        pthread_mutex_destroy(&k->log_mu);
        free(k);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, k);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
    if (!k->rk) {
        sw_errf(err, errlen, "kafka: %s", why);
        pthread_mutex_destroy(&k->log_mu);
        free(k);
        return NULL;
    }
    k->topic = rd_kafka_topic_new(k->rk, o->topic, NULL);
    if (!k->topic) {
        sw_errf(err, errlen, "kafka: topic %s: %s", o->topic, rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(k->rk);
        pthread_mutex_destroy(&k->log_mu);
        free(k);
        return NULL;
    }
    if (o->origin && !(k->origin = strdup(o->origin))) {
        sw_errf(err, errlen, "kafka: out of memory");
        kafka_out_close(k, 0);
        return NULL;
    }
    return k;
}

int kafka_out_send_to(kafka_out_t *k, int32_t partition, const char *key, const char *data,
                      size_t len)
{
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e;
        if (k->origin)
            e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->topic), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_VALUE((void *)data, len),
                                  RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                  RD_KAFKA_V_HEADER(KAFKA_ORIGIN_HEADER, k->origin, -1),
                                  RD_KAFKA_V_END);
        else
            e = rd_kafka_produce(k->topic, partition, RD_KAFKA_MSG_F_COPY, (void *)data, len, key,
                                 key ? strlen(key) : 0, NULL) == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
                                                                   : rd_kafka_last_error();
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries == SEND_TRIES) {
            out_failed(k, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(k->rk, 50); /* deliveries make room */
    }
    rd_kafka_poll(k->rk, 0); /* delivery reports */
    return 0;
}

int kafka_out_send(kafka_out_t *k, const char *key, const char *data, size_t len)
{
    return kafka_out_send_to(k, RD_KAFKA_PARTITION_UA, key, data, len);
}

int kafka_out_flush(kafka_out_t *k, int timeout_ms)
{
    return rd_kafka_flush(k->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void kafka_out_poll(kafka_out_t *k)
{
    rd_kafka_poll(k->rk, 0);
}

void kafka_out_counts(const kafka_out_t *k, uint64_t *sent, uint64_t *failed)
{
    *sent = atomic_load_explicit(&k->sent, memory_order_relaxed);
    *failed = atomic_load_explicit(&k->failed, memory_order_relaxed);
}

void kafka_out_close(kafka_out_t *k, int timeout_ms)
{
    if (!k)
        return;
    rd_kafka_flush(k->rk, timeout_ms);
    rd_kafka_topic_destroy(k->topic);
    rd_kafka_destroy(k->rk);
    pthread_mutex_destroy(&k->log_mu);
    free(k->origin);
    free(k);
}
