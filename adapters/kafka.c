/*
 * kafka.c - the Kafka ingest consumer and alert producer (kafka.h).
 *
 * A thin layer over librdkafka's high-level consumer: cooperative-sticky
 * assignment is left to the library's defaults, rebalances are only
 * counted and logged here (assignment goes through rd_kafka_assign in the
 * callback, the library's documented pattern), and offsets are stored and
 * committed by the daemon after it has taken the messages.
 */
#include "kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_ASSIGNED 1024

struct kafka_in {
    rd_kafka_t *rk;
    void (*on_assign)(void *ctx), (*on_revoke)(void *ctx);
    void *ctx;
    kafka_in_stats_t st;
    int pending;           /* messages taken since the last commit */
    int32_t assigned[MAX_ASSIGNED];
    size_t nassigned;
};

struct kafka_out {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    /* updated by the delivery callback, on whichever thread polls: a
     * producer may be shared (librdkafka's produce is thread-safe); relaxed,
     * they are only counts */
    atomic_uint_fast64_t sent, failed;
};

/* Sets one property; 0, or -1 with "KEY: reason" in err. */
static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(c, k, v, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "kafka property %s: %s", k, why);
    return -1;
}

static rd_kafka_conf_t *base_conf(const char *brokers, const kafka_props_t *p, char *err,
                                  size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    if (set(c, "bootstrap.servers", brokers, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < p->n; i++)
        if (set(c, p->keys[i], p->values[i], err, errlen) < 0)
            goto fail;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_in_t *k = opaque;
    k->st.rebalances++;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        char list[256] = "";
        size_t n = 0;
        for (int i = 0; i < parts->cnt && n + 12 < sizeof(list); i++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "",
                                  parts->elems[i].partition);
        sw_log(LOG_INFO, "kafka: %s: assigned partitions [%s]",
               parts->cnt ? parts->elems[0].topic : "-", list);
        if (k->on_assign) /* before any message of theirs is fetched */
            k->on_assign(k->ctx);
        rd_kafka_assign(rk, parts);
        k->st.partitions = parts->cnt;
        k->nassigned = 0;
        for (int i = 0; i < parts->cnt && k->nassigned < MAX_ASSIGNED; i++)
            k->assigned[k->nassigned++] = parts->elems[i].partition;
    } else {
        /* what was taken is committed before the partitions go */
        if (k->on_revoke)
            k->on_revoke(k->ctx);
        if (k->pending)
            rd_kafka_commit(rk, NULL, 0);
        k->pending = 0;
        sw_log(LOG_INFO, "kafka: %s: %d partitions revoked",
               parts->cnt ? parts->elems[0].topic : "-", parts->cnt);
        rd_kafka_assign(rk, NULL);
        k->st.partitions = 0;
        k->nassigned = 0;
    }
}

kafka_in_t *kafka_in_open(const kafka_in_opts_t *o, char *err, size_t errlen)
{
    kafka_in_t *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_t *c = base_conf(o->brokers, &o->props, err, errlen);
    if (!c || set(c, "group.id", o->group, err, errlen) < 0 ||
        set(c, "enable.auto.commit", "false", err, errlen) < 0 ||
        set(c, "enable.auto.offset.store", "true", err, errlen) < 0 ||
        set(c, "auto.offset.reset", "earliest", err, errlen) < 0) {
        if (c)
            rd_kafka_conf_destroy(c);
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
        snprintf(err, errlen, "kafka: %s", why);
        free(k);
        return NULL;
    }
    rd_kafka_poll_set_consumer(k->rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        snprintf(err, errlen, "kafka: subscribe to %s: %s", o->topic, rd_kafka_err2str(e));
        rd_kafka_destroy(k->rk);
        free(k);
        return NULL;
    }
    return k;
}

int kafka_in_poll(kafka_in_t *k, int timeout_ms, int max,
                  void (*on_msg)(void *ctx, const char *data, size_t len, int32_t partition,
                                 const char *key, size_t keylen),
                  void *ctx)
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
            on_msg(ctx, m->payload, m->len, m->partition, m->key, m->key_len);
            k->pending++;
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

void kafka_in_commit(kafka_in_t *k)
{
    if (!k->pending)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, NULL, 1);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        sw_log(LOG_WARN, "kafka: commit: %s", rd_kafka_err2str(e));
    k->pending = 0;
}

void kafka_in_stats(const kafka_in_t *k, kafka_in_stats_t *out)
{
    *out = k->st;
}

void kafka_in_close(kafka_in_t *k)
{
    if (!k)
        return;
    if (k->pending)
        rd_kafka_commit(k->rk, NULL, 0);
    rd_kafka_consumer_close(k->rk);
    rd_kafka_destroy(k->rk);
    free(k);
}

/* ---- alerts ------------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_out_t *k = opaque;
    if (m->err) {
        atomic_fetch_add_explicit(&k->failed, 1, memory_order_relaxed);
        sw_log(LOG_WARN, "kafka: message to %s not delivered: %s", rd_kafka_topic_name(m->rkt),
               rd_kafka_err2str(m->err));
    } else {
        atomic_fetch_add_explicit(&k->sent, 1, memory_order_relaxed);
    }
}

kafka_out_t *kafka_out_open(const kafka_out_opts_t *o, char *err, size_t errlen)
{
    kafka_out_t *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_t *c = base_conf(o->brokers, &o->props, err, errlen);
    if (!c || set(c, "enable.idempotence", "true", err, errlen) < 0) {
        if (c)
            rd_kafka_conf_destroy(c);
        free(k);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, k);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
    if (!k->rk) {
        snprintf(err, errlen, "kafka: %s", why);
        free(k);
        return NULL;
    }
    k->topic = rd_kafka_topic_new(k->rk, o->topic, NULL);
    if (!k->topic) {
        snprintf(err, errlen, "kafka: topic %s: %s", o->topic, rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(k->rk);
        free(k);
        return NULL;
    }
    return k;
}

int kafka_out_send(kafka_out_t *k, const char *user, const char *line, size_t len)
{
    int rc = rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)line,
                              len, user, strlen(user), NULL);
    rd_kafka_poll(k->rk, 0); /* delivery reports */
    if (rc < 0) {
        atomic_fetch_add_explicit(&k->failed, 1, memory_order_relaxed);
        return -1;
    }
    return 0;
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
    free(k);
}
