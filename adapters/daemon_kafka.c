/*
 * daemon_kafka.c - the daemon's Kafka side (daemon_kafka.h).
 *
 * Ingest: each assigned partition is a source of the router (partition p
 * is source p + 1, ZeroMQ source 0), in order by itself but not with the
 * others, so the feed's clock follows the slowest partition that flows.
 * A partition quiet for feed.stall_after on the wall clock while the
 * others flow is stalled on its own: its feed_stalled names it, and its
 * Users are not judged silent until it resumes. When every partition goes
 * quiet together it is the whole feed's stall, reported once.
 *
 * Changes declared over any instance's API are produced to the changes
 * topic (keyed by id) and every instance follows the whole topic.
 */
#include "daemon_kafka.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "kafka.h"
#include "log.h"
#include "state.h"

#define KSTATE_MAX 64          /* instances whose state is kept from the state topic */

struct dkafka {
    kafka_in_t *in;               /* ingest (ingest thread) */
    kafka_out_t *alerts;          /* alert lines (alert thread) */
    kafka_in_t *chg_in;           /* the shared changes topic (ingest thread) */
    kafka_out_t *chg_out;         /* changes declared here, to it (HTTP threads) */
    kafka_in_t *st_in;            /* the state topic, followed (ingest thread) */
    kafka_out_t *st_out;          /* our state to it (main and ingest threads) */
    struct { char *key; unsigned char *blob; size_t len; } kst[KSTATE_MAX];
    size_t nkst;                  /* ingest thread */
    char st_id[160];              /* this instance's key in the state topic */
    char **prop_keys, **prop_values;
    size_t nprops;
    /* ingest thread: per source (partition + 1) */
    double seen[REC_MAX_SOURCES], assigned_at[REC_MAX_SOURCES];
    uint8_t active[REC_MAX_SOURCES];
    uint64_t beyond;              /* messages of partitions past REC_MAX_SOURCES */
    /* mirrored for the metrics */
    atomic_uint_fast64_t msgs, partitions, alerts_sent, alerts_failed, beyond_n;
};

/* ---- ingest ------------------------------------------------------------- */

static void ingest_message(void *ctx, const char *data, size_t len, int32_t partition,
                           const char *key, size_t keylen)
{
    (void)key;
    (void)keylen;
    daemon_t *d = ctx;
    dkafka_t *k = d->kafka;
    unsigned src = REC_SRC_OF_PARTITION(partition);
    if (partition < 0 || src >= REC_MAX_SOURCES) {
        if (k->beyond++ == 0)
            sw_log(LOG_ERROR, "kafka: partition %d is beyond the %d this build reads; its "
                   "messages are dropped (counted)", partition, REC_MAX_SOURCES - 1);
        atomic_store_explicit(&k->beyond_n, k->beyond, memory_order_relaxed);
        return;
    }
    k->seen[src] = dmn_mono_s();
    router_set_source(d->router, src);
    dmn_feed_message(d, data, len);
    router_set_source(d->router, 0);
}

/*
 * Tells the router which partitions flow: assigned, and a message (or the
 * assignment) within the stall time. The feed's clock then waits for the
 * slowest of them, and a quiet one stops holding the rest back. A quiet
 * one is stalled on its own (its feed_stalled, its Users not silent) while
 * the others flow; when all fall quiet together, the ingest loop reports
 * the whole feed's stall instead.
 */
void dk_sources(daemon_t *d, double stall_s)
{
    dkafka_t *k = d->kafka;
    if (!k || !k->in)
        return;
    int32_t parts[REC_MAX_SOURCES];
    size_t n = kafka_in_assigned(k->in, parts, REC_MAX_SOURCES);
    uint8_t assigned[REC_MAX_SOURCES] = { 0 };
    double now = dmn_mono_s(), newest = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned src = REC_SRC_OF_PARTITION(parts[i]);
        if (parts[i] < 0 || src >= REC_MAX_SOURCES)
            continue;
        assigned[src] = 1;
        if (!k->assigned_at[src])
            k->assigned_at[src] = now;
        if (k->seen[src] > newest)
            newest = k->seen[src];
    }
    for (unsigned src = 1; src < REC_MAX_SOURCES; src++) {
        if (!assigned[src]) {
            k->assigned_at[src] = 0; /* assigned again later: a fresh start */
            if (k->active[src]) {
                router_source_active(d->router, src, 0);
                k->active[src] = 0;
            }
            continue;
        }
        double last = k->seen[src] > k->assigned_at[src] ? k->seen[src] : k->assigned_at[src];
        int flowing = now - last < stall_s;
        if (flowing && !k->active[src]) {
            router_source_active(d->router, src, 1);
        } else if (!flowing && k->active[src]) {
            /* the others sent within half the stall time: this one alone is quiet */
            if (now - newest < stall_s / 2) {
                router_source_stall(d->router, src);
                sw_log(LOG_WARN, "kafka: partition %d quiet for %.0f s while the others flow",
                       REC_PARTITION_OF_SRC(src), now - last);
            }
            router_source_active(d->router, src, 0);
        }
        k->active[src] = (uint8_t)flowing;
    }
}

/* ---- learned state over Kafka -------------------------------------------- */

/* state_decode() callbacks that fill only Users a shard does not hold: the
 * state of another instance never overwrites what this one has learnt. */
typedef struct {
    daemon_t *d;
    series_table_t *scratch;  /* takes the series of Users already held: dropped */
    series_table_t *loading;  /* the Users this load brings in (as a set) */
} kload_t;

static const detect_params_t *missing_params_for(void *ctx, const char *user, size_t len)
{
    kload_t *l = ctx;
    return cfg_detect_for(l->d->cfg, user, len);
}

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

/* Ingest thread: the latest state blob of each other instance, from the state topic. */
static void state_blob(void *ctx, const char *data, size_t len, int32_t partition,
                       const char *key, size_t keylen)
{
    (void)partition;
    daemon_t *d = ctx;
    dkafka_t *k = d->kafka;
    if (!key || (keylen == strlen(k->st_id) && !memcmp(key, k->st_id, keylen)))
        return; /* our own */
    size_t i = 0;
    while (i < k->nkst && !(strlen(k->kst[i].key) == keylen && !memcmp(k->kst[i].key, key, keylen)))
        i++;
    if (i == KSTATE_MAX) {
        sw_log(LOG_WARN, "kafka: more than %d instances in the state topic; ignored", KSTATE_MAX);
        return;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    if (i == k->nkst) {
        k->kst[i].key = strndup(key, keylen);
        if (!k->kst[i].key) {
            free(copy);
            return;
        }
        k->nkst++;
    }
    free(k->kst[i].blob);
    k->kst[i].blob = copy;
    k->kst[i].len = len;
}

int dk_has_state_topic(const daemon_t *d)
{
    return d->kafka && d->kafka->st_out;
}

/* Our state, keyed by this instance's id (the latest is what counts). */
void dk_publish_state(daemon_t *d, const unsigned char *buf, size_t len)
{
    dkafka_t *k = d->kafka;
    if (k && k->st_out && kafka_out_send(k->st_out, k->st_id, (const char *)buf, len) < 0)
        sw_log(LOG_WARN, "kafka: state not published (queue full)");
}

/*
 * Ingest thread, partitions assigned, before any of their messages: the
 * learned state the other instances published (the last checkpoint of one
 * that died included) fills in the Users this instance does not hold, so
 * the partitions that moved here need no relearning.
 */
static void on_assigned(void *ctx)
{
    daemon_t *d = ctx;
    dkafka_t *k = d->kafka;
    if (!k->st_in)
        return;
    for (int i = 0; i < 40; i++) /* catch up with the state topic (up to ~2 s) */
        if (kafka_in_poll(k->st_in, 50, 1000, state_blob, d) == 0 && i >= 4)
            break;
    kload_t l = { d, st_create(), st_create() };
    if (!l.scratch || !l.loading) {
        st_destroy(l.scratch);
        st_destroy(l.loading);
        return;
    }
    pthread_mutex_lock(&d->ckpt_lock);
    if (dmn_park_all(d) == 0) {
        size_t before = 0, after = 0;
        for (unsigned i = 0; i < d->nshards; i++)
            before += st_nseries(shard_table(d->sh[i].shard));
        for (size_t i = 0; i < k->nkst; i++) {
            char why[256];
            if (state_decode(missing_table_for, k->kst[i].blob, k->kst[i].len, missing_params_for,
                             &l, why, sizeof(why)) < 0)
                sw_log(LOG_WARN, "kafka: state of %s refused: %s", k->kst[i].key, why);
        }
        for (unsigned i = 0; i < d->nshards; i++)
            after += st_nseries(shard_table(d->sh[i].shard));
        dmn_unpark_all(d);
        sw_log(LOG_INFO, "kafka: learned state of %zu series taken from %zu other instance%s",
               after - before, k->nkst, k->nkst == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&d->ckpt_lock);
    st_destroy(l.scratch);
    st_destroy(l.loading);
}

/* Ingest thread, before partitions are revoked: what was learnt goes out. */
static void on_revoked(void *ctx)
{
    daemon_t *d = ctx;
    if (d->kafka->st_out)
        dmn_state_checkpoint(d);
}

/* ---- shared changes ----------------------------------------------------- */

void dk_share_declared(void *ctx, const char *stored)
{
    daemon_t *d = ctx;
    if (!d->kafka || !d->kafka->chg_out || !stored)
        return;
    json_t *o = json_loads(stored, 0, NULL);
    const char *id = o ? json_string_value(json_object_get(o, "id")) : NULL;
    if (id && kafka_out_send(d->kafka->chg_out, id, stored, strlen(stored)) < 0)
        sw_log(LOG_WARN, "kafka: change %s not shared (queue full)", id);
    json_decref(o);
}

/* A withdrawal goes to the shared topic as {"withdrawn": ID}. */
void dk_share_withdrawn(void *ctx, const char *id)
{
    daemon_t *d = ctx;
    if (!d->kafka || !d->kafka->chg_out)
        return;
    json_t *o = json_pack("{s:s}", "withdrawn", id);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text && kafka_out_send(d->kafka->chg_out, id, text, strlen(text)) < 0)
        sw_log(LOG_WARN, "kafka: withdrawal of %s not shared (queue full)", id);
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
        dmn_publish_register(d);
    } else if (rc != SW_EEXISTS && rc != SW_ENOTFOUND) {
        sw_log(LOG_WARN, "kafka: a shared change was refused: %s", sw_strerror(rc));
    }
    json_decref(o);
}

/* ---- the ingest thread's round ------------------------------------------ */

int dk_reads_ingest(const daemon_t *d)
{
    return d->kafka && d->kafka->in;
}

int dk_poll(daemon_t *d, int timeout_ms)
{
    dkafka_t *k = d->kafka;
    int n = 0;
    if (k->in)
        n = kafka_in_poll(k->in, timeout_ms, MSGS_PER_ROUND, ingest_message, d);
    if (k->chg_in)
        kafka_in_poll(k->chg_in, 0, MSGS_PER_ROUND, shared_change, d);
    if (k->st_in)
        kafka_in_poll(k->st_in, 0, MSGS_PER_ROUND, state_blob, d);
    return n;
}

void dk_commit(daemon_t *d)
{
    dkafka_t *k = d->kafka;
    if (!k || !k->in)
        return;
    /* what went into the pipeline is committed: a crash re-reads at most a
     * second of it, and repeats are dropped as duplicates */
    kafka_in_commit(k->in);
    kafka_in_stats_t ks;
    kafka_in_stats(k->in, &ks);
    atomic_store_explicit(&k->msgs, ks.messages, memory_order_relaxed);
    atomic_store_explicit(&k->partitions, (uint64_t)ks.partitions, memory_order_relaxed);
}

/* ---- alerts ------------------------------------------------------------- */

void dk_alert(daemon_t *d, const alert_t *a, const char *line, size_t len)
{
    dkafka_t *k = d->kafka;
    if (!k || !k->alerts)
        return;
    kafka_out_send(k->alerts, a->user, line, len); /* failures are counted */
    uint64_t sent, failed;
    kafka_out_counts(k->alerts, &sent, &failed);
    atomic_store_explicit(&k->alerts_sent, sent, memory_order_relaxed);
    atomic_store_explicit(&k->alerts_failed, failed, memory_order_relaxed);
}

/* ---- metrics ------------------------------------------------------------ */

#define LOAD(x) ((uint64_t)atomic_load_explicit(&(x), memory_order_relaxed))

void dk_metrics(daemon_t *d, FILE *out)
{
    dkafka_t *k = d->kafka;
    if (k->in) {
        dmn_metric(out, "stormwatch_kafka_messages_total", "counter", "Kafka messages taken.");
        fprintf(out, "stormwatch_kafka_messages_total %" PRIu64 "\n", LOAD(k->msgs));
        dmn_metric(out, "stormwatch_kafka_partitions", "gauge", "Kafka partitions assigned here.");
        fprintf(out, "stormwatch_kafka_partitions %" PRIu64 "\n", LOAD(k->partitions));
        dmn_metric(out, "stormwatch_kafka_beyond_partitions_total", "counter",
                   "Messages of partitions beyond those this build reads, dropped.");
        fprintf(out, "stormwatch_kafka_beyond_partitions_total %" PRIu64 "\n", LOAD(k->beyond_n));
    }
    if (k->alerts) {
        dmn_metric(out, "stormwatch_kafka_alerts_sent_total", "counter",
                   "Alert lines Kafka acknowledged.");
        fprintf(out, "stormwatch_kafka_alerts_sent_total %" PRIu64 "\n", LOAD(k->alerts_sent));
        dmn_metric(out, "stormwatch_kafka_alerts_failed_total", "counter",
                   "Alert lines Kafka did not take.");
        fprintf(out, "stormwatch_kafka_alerts_failed_total %" PRIu64 "\n", LOAD(k->alerts_failed));
    }
}

/* ---- set-up ------------------------------------------------------------- */

/* run.kafka_properties ("key=value") split for librdkafka. */
static int split_props(daemon_t *d, char *err, size_t errlen)
{
    dkafka_t *k = d->kafka;
    size_t n = d->o.nkafka_props;
    k->prop_keys = calloc(n + 1, sizeof(char *));
    k->prop_values = calloc(n + 1, sizeof(char *));
    if (!k->prop_keys || !k->prop_values)
        return SW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *kv = d->o.kafka_props[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            snprintf(err, errlen, "run.kafka_properties: '%s': want key=value", kv);
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

/* A consumer that reads the whole of `topic` in a group of its own (never
 * committed) and a producer to it. */
static int open_follower(daemon_t *d, const char *topic, const char *what, kafka_in_t **in,
                         kafka_out_t **out, char *err, size_t errlen)
{
    dkafka_t *k = d->kafka;
    kafka_props_t props = { (const char *const *)k->prop_keys,
                            (const char *const *)k->prop_values, k->nprops };
    char host[64] = "host", group[200];
    gethostname(host, sizeof(host) - 1);
    snprintf(group, sizeof(group), "stormwatch-%s-%s-%ld", what, host, (long)getpid());
    kafka_in_opts_t ci = { .brokers = d->o.kafka_brokers, .topic = topic, .group = group,
                           .props = props };
    kafka_out_opts_t co = { .brokers = d->o.kafka_brokers, .topic = topic, .props = props };
    if (!(*in = kafka_in_open(&ci, err, errlen)) || !(*out = kafka_out_open(&co, err, errlen)))
        return SW_ECONFIG;
    return SW_OK;
}

int dk_open(daemon_t *d, char *err, size_t errlen)
{
    if (!d->o.kafka_brokers)
        return SW_OK;
    dkafka_t *k = d->kafka = calloc(1, sizeof(*d->kafka));
    if (!k)
        return SW_ENOMEM;
    int rc = split_props(d, err, errlen);
    if (rc < 0)
        return rc;
    kafka_props_t props = { (const char *const *)k->prop_keys,
                            (const char *const *)k->prop_values, k->nprops };
    if (d->o.kafka_topic) {
        kafka_in_opts_t ko = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_topic,
                               .group = d->o.kafka_group ? d->o.kafka_group : "stormwatch",
                               .props = props, .on_assign = on_assigned,
                               .on_revoke = on_revoked, .ctx = d };
        if (!(k->in = kafka_in_open(&ko, err, errlen)))
            return SW_ECONFIG;
        sw_log(LOG_INFO, "kafka: reading %s from %s in group %s", ko.topic, ko.brokers, ko.group);
    }
    if (d->o.kafka_alerts_topic) {
        kafka_out_opts_t ko = { .brokers = d->o.kafka_brokers, .topic = d->o.kafka_alerts_topic,
                                .props = props };
        if (!(k->alerts = kafka_out_open(&ko, err, errlen)))
            return SW_ECONFIG;
    }
    if (d->o.kafka_state_topic) {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(k->st_id, sizeof(k->st_id), "%s-%ld", host, (long)getpid());
        if ((rc = open_follower(d, d->o.kafka_state_topic, "state", &k->st_in, &k->st_out, err,
                                errlen)) < 0)
            return rc;
        sw_log(LOG_INFO, "kafka: learned state moves with partitions through %s (as %s)",
               d->o.kafka_state_topic, k->st_id);
    }
    if (d->o.kafka_changes_topic) {
        if ((rc = open_follower(d, d->o.kafka_changes_topic, "changes", &k->chg_in, &k->chg_out,
                                err, errlen)) < 0)
            return rc;
        sw_log(LOG_INFO, "kafka: sharing declared changes on %s", d->o.kafka_changes_topic);
    }
    return SW_OK;
}

void dk_close(daemon_t *d)
{
    dkafka_t *k = d->kafka;
    if (!k)
        return;
    kafka_in_close(k->in); /* commits what was taken, leaves the group */
    kafka_out_close(k->alerts, 5000);
    kafka_in_close(k->chg_in);
    kafka_out_close(k->chg_out, 5000);
    kafka_in_close(k->st_in);
    kafka_out_close(k->st_out, 5000);
    for (size_t i = 0; i < k->nkst; i++) {
        free(k->kst[i].key);
        free(k->kst[i].blob);
    }
    for (size_t i = 0; i < k->nprops; i++) {
        free(k->prop_keys[i]);
        free(k->prop_values[i]);
    }
    free(k->prop_keys);
    free(k->prop_values);
    free(k);
    d->kafka = NULL;
}
