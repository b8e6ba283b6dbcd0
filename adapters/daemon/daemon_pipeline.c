/*
 * daemon_pipeline.c - the alert thread: the shards' events in (their out
 * rings, shard_threads.h), alert lines out; the change register's updates
 * reach the alert thread here.
 *
 * daemon_int.h is what the daemon's files share; daemon.c says which
 * thread does what.
 */
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
#include "err.h"
#include "errburst.h"
#include "log.h"
#include "monotime.h"
#include "router.h"
#include "shard.h"
#include "statefile.h"

/* ---- alert thread ------------------------------------------------------- */

/* One log line per transition: what, whose, which way, and why. */
static void log_transition(const alert_t *a)
{
    char inc[INCIDENT_ID_LEN] = "-";
    if (a->incident)
        incident_id_format(a->incident, inc);
    sw_log(a->firing && a->severity != SEV_INFO ? LOG_WARN : LOG_INFO,
           "alert %s: %s %s user %s dir %s class %s; incident %s (%s); change %s (%s)",
           a->firing ? "firing" : "resolved", alert_kind_name(a->kind),
           a->severity == SEV_KIND ? alert_severity(a->kind) : severity_name(a->severity),
           a->user, dir_name(a->dir), a->cls, inc, a->role == ROLE_MEMBER ? "member" : "primary",
           a->change ? a->change->id : "none", corr_type_name(a->corr));
}

void dmn_alert_emit(void *ctx, const alert_t *a)
{
    daemon_t *d = ctx;
    size_t n;
    /* counted as it is formatted: before any sink has it */
    const char *line = fanout_format(d->out.fanout, a, &n);
    if (!line)
        return; /* out of memory, logged there */
    /* the log, the metrics and the console know of a transition before its
     * line reaches a sink: whoever reads the line finds it everywhere else */
    log_transition(a);
    if (a->kind < ALERT_NKINDS) {
        if (a->firing)
            atomic_fetch_add_explicit(&d->out.firing_by_kind[a->kind], 1, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(&d->out.firing_by_kind[a->kind], 1, memory_order_relaxed);
    }
    dmn_console_transition(d, a, line, n);
    fanout_write(d->out.fanout); /* --alerts */
    if (d->out.journal) /* after its line: a restart resumes what was written open */
        alertjournal_record(d->out.journal, a);
    fanout_publish(d->out.fanout, a); /* PUB, Alertmanager */
    if (d->kafka) /* the line without its newline, keyed by User */
        dk_alert(d->kafka, a, line, n && line[n - 1] == '\n' ? n - 1 : n);
    d->out.transitions++;
}

/* Alert thread: an alert goes on at another instance, or came from one.
 * No line is written; Alertmanager hears of it from whichever holds it
 * (the same labels and start: one alert there), and the gauge follows. */
void dmn_alert_handover(void *ctx, const alert_t *a, int adopted)
{
    daemon_t *d = ctx;
    if (d->out.journal) { /* open here now, or no longer ours */
        alert_t j = *a;
        j.firing = adopted;
        alertjournal_record(d->out.journal, &j);
    }
    fanout_handover(d->out.fanout, a, adopted);
    if (a->kind < ALERT_NKINDS) {
        if (adopted)
            atomic_fetch_add_explicit(&d->out.firing_by_kind[a->kind], 1, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(&d->out.firing_by_kind[a->kind], 1, memory_order_relaxed);
    }
    d->out.transitions++; /* the snapshot of firing alerts changed */
}

void dmn_check_emit(void *ctx, const change_check_t *c)
{
    daemon_t *d = ctx;
    coord_check(d->coord, c);
}

/* Users whose shares are kept: every one of 1% or more fits. */
#define MAX_SHARES 100

typedef struct {
    coord_share_t v[MAX_SHARES];
    size_t n;
} shares_t;

static void add_share(void *ctx, const char *user, double share)
{
    shares_t *s = ctx;
    if (s->n < MAX_SHARES) {
        snprintf(s->v[s->n].user, sizeof(s->v[s->n].user), "%s", user);
        s->v[s->n++].share = share;
    }
}

/* The Users' shares of the traffic, from the alert stage's baselines, for
 * the busy-hour conflicts of changes declared over HTTP or reloaded. */
static void refresh_shares(daemon_t *d)
{
    shares_t s;
    s.n = 0;
    /* a User under 1% is never large (CONFLICT_LARGE_SHARE is 10%) */
    alerts_each_share(d->out.as, 0.01, add_share, &s);
    /* out of memory, the shares before stay: they moved little in 30 s */
    (void)coord_set_shares(d->coord, s.v, s.n);
}

/* ---- the change register ------------------------------------------------ */

void dmn_update_free(struct reg_update *u)
{
    if (u->type == UPD_DECLARE)
        change_free_strings(&u->change);
    free(u->id);
    free(u->line);
    changes_destroy(u->file);
    free(u);
}

void dmn_queue_update(daemon_t *d, struct reg_update *u)
{
    pthread_mutex_lock(&d->out.upd_lock);
    if (d->out.upd_tail)
        d->out.upd_tail->next = u;
    else
        d->out.upd_head = u;
    d->out.upd_tail = u;
    pthread_mutex_unlock(&d->out.upd_lock);
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
    dmn_queue_update(d, u);
    return SW_OK;
}

/* The API's thread, under its lock, once a change is on disk: queued for
 * the alert thread, O(1), in journal order. */
void dmn_on_api_change(void *ctx, const change_t *declared, const char *withdrawn)
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
        atomic_fetch_add_explicit(&d->out.upd_lost, 1, memory_order_relaxed);
        sw_log(LOG_ERROR, "out of memory: change %s is journalled but not used until a reload",
               declared ? declared->id : withdrawn);
        return;
    }
    dmn_queue_update(d, u);
}

/* Alert thread: applies the queued updates in order, then hands the
 * alert stage the register as it is now. */
static void apply_updates(daemon_t *d)
{
    pthread_mutex_lock(&d->out.upd_lock);
    struct reg_update *u = d->out.upd_head;
    d->out.upd_head = d->out.upd_tail = NULL;
    pthread_mutex_unlock(&d->out.upd_lock);
    if (!u)
        return;
    int changed = 0; /* the register (not only peers' lines) */
    for (struct reg_update *next; u; u = next) {
        next = u->next;
        int rc = 0;
        changed |= u->type != UPD_PEER_ALERT;
        switch (u->type) {
        case UPD_DECLARE:
            rc = regview_declare(d->out.rv, &u->change);
            if (rc == 1)
                sw_log(LOG_WARN, "change %s is in the file and the API: the file's is used",
                       u->change.id);
            break;
        case UPD_WITHDRAW:
            rc = regview_withdraw(d->out.rv, u->id);
            break;
        case UPD_FILE:
            rc = regview_set_file(d->out.rv, u->file);
            u->file = NULL; /* taken, even on failure */
            break;
        case UPD_PEER_ALERT:
            dk_peer_alert(d->kafka, u->line);
            break;
        }
        if (rc < 0 && rc != SW_ENOTFOUND && rc != SW_EEXISTS)
            sw_log(LOG_ERROR, "change register update refused (%s); the register may lag the API "
                   "until the next reload", sw_strerror(rc));
        dmn_update_free(u);
    }
    if (!changed)
        return;
    const changes_t *reg = regview_merged(d->out.rv);
    alerts_set_changes(d->out.as, reg);
    atomic_store_explicit(&d->out.changes_n, changes_count(reg), memory_order_relaxed);
}

static void alerts_take_updates(daemon_t *d)
{
    apply_updates(d);
    unsigned gen = atomic_load_explicit(&d->cfg_gen, memory_order_acquire);
    if (gen != atomic_load_explicit(&d->alerts_cfg_ack, memory_order_relaxed)) {
        cfg_t *c = atomic_load_explicit(&d->next_cfg, memory_order_acquire);
        if (c)
            alerts_rebind(d->out.as, dmn_detect_for, c);
        atomic_store_explicit(&d->alerts_cfg_ack, gen, memory_order_release);
    }
}

void *dmn_alerts_main(void *arg)
{
    daemon_t *d = arg;
    event_t buf[BATCH];
    long idle = ALERTS_IDLE_NS;
    double next_snap = 0, next_shares = sw_mono_s() + SHARES_EVERY_S;
    for (;;) {
        alerts_take_updates(d);
        size_t got = 0;
        for (unsigned i = 0; i < d->nshards; i++) {
            size_t n = shards_pop_events(d->shards, i, buf, BATCH);
            for (size_t k = 0; k < n; k++)
                alerts_event(d->out.as, i, &buf[k]);
            got += n;
        }
        if (got) {
            /* the lines are written (sink_file writes each at once):
             * pairs with the shards' acquire before publishing states
             * (shard_threads.h) */
            atomic_store_explicit(&d->out.alerts_released, alerts_released(d->out.as),
                                  memory_order_release);
            atomic_store_explicit(&d->out.alerts_held, alerts_stats(d->out.as)->held,
                                  memory_order_relaxed);
        }
        /* the API's copy of the alerts firing, rebuilt when they changed,
         * at most once every SNAPSHOT_EVERY_S while events flow (thousands
         * firing at once cost a rebuild each), at once when they stop */
        if (d->out.transitions != d->out.snap_transitions && (!got || sw_mono_s() >= next_snap)) {
            dmn_refresh_snapshot(d);
            d->out.snap_transitions = d->out.transitions;
            next_snap = sw_mono_s() + SNAPSHOT_EVERY_S;
        }
        dmn_console_tick(d); /* the console's Users, while someone looks */
        if (sw_mono_s() >= next_shares) { /* for the busy-hour conflicts */
            refresh_shares(d);
            next_shares = sw_mono_s() + SHARES_EVERY_S;
        }
        if (got) {
            idle = ALERTS_IDLE_NS;
            continue;
        }
        /* every shard done (acquire, pairing with its release on exit)
         * and its ring empty */
        if (shards_all_done(d->shards))
            break;
        sw_nap(&idle, IDLE_MAX_NS);
    }
    alerts_flush(d->out.as);
    dmn_refresh_snapshot(d);
    atomic_store_explicit(&d->alerts_done, 1, memory_order_release);
    return NULL;
}

