/*
 * daemon_state.c - learned state: loaded at start (with the alerts it held open),
 * saved at checkpoints and on exit, with the shards parked meanwhile.
 *
 * daemon_int.h is what the daemon's files share; daemon.c says which
 * thread does what.
 */
#include "daemon_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
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
#include "log.h"
#include "monotime.h"
#include "pipeline.h"
#include "router.h"
#include "shard.h"
#include "shard_threads.h"
#include "state.h"
#include "statefile.h"
#include "vec.h"

static series_table_t *table_for(void *ctx, const char *user, size_t len)
{
    daemon_t *d = ctx;
    return shard_table(pipeline_shard(d->pipe, router_shard_of(user, len, d->nshards)));
}

static const detect_params_t *params_for(void *ctx, const char *user, size_t len)
{
    daemon_t *d = ctx;
    return cfg_detect_for(d->cfg, user, len);
}

/* Set-up: keeps an alert open when the run before stopped, to resume once
 * the alert thread runs (start_threads). */
void dmn_keep_resume(void *ctx, const shard_resume_t *r)
{
    daemon_t *d = ctx;
    if (r->kind == ALERT_WIDESPREAD) { /* the alert stage's own: resumed there, now */
        int rc = alerts_resume_widespread(d->out.as, r);
        if (rc < 0 && rc != SW_EEXISTS)
        {
            char id[INCIDENT_ID_LEN];
            incident_id_format(r->fire.incident, id);
            sw_log(LOG_WARN, "alerts journal: a widespread alert (%s) not resumed: %s", id,
                   sw_strerror(rc));
        }
        return;
    }
    if (r->kind == ALERT_FORECAST) { /* the day's count starts again: it fires again
                                        if the day still runs ahead */
        sw_log(LOG_INFO, "alerts journal: the forecast_exceeded alert of %s is not resumed: "
               "its day is counted afresh", r->user);
        return;
    }
    if (VEC_RESERVE(d->st.resumes, d->st.resumes_cap, d->st.nresumes + 1, 16) < 0) {
        sw_log(LOG_ERROR, "alerts journal: out of memory: a %s alert of %s not resumed",
               alert_kind_name(r->kind), r->user);
        return;
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
    d->st.resumes[d->st.nresumes++] = k;
}

void dmn_resumes_free(daemon_t *d)
{
    for (size_t i = 0; i < d->st.nresumes; i++) {
        free((char *)d->st.resumes[i].user);
        free((char *)d->st.resumes[i].cls);
    }
    free(d->st.resumes);
    d->st.resumes = NULL;
    d->st.nresumes = d->st.resumes_cap = 0;
}

/* An alert open when the run before stopped, to its shard (the shards are
 * not running yet). */
void dmn_resume_alert(void *ctx, const shard_resume_t *r)
{
    daemon_t *d = ctx;
    unsigned i = r->kind == ALERT_FEED ? 0 : router_shard_of(r->user, strlen(r->user), d->nshards);
    int rc = shard_resume(pipeline_shard(d->pipe, i), r);
    if (rc == SW_OK && r->kind == ALERT_FEED)
        router_feed_was_stalled(pipeline_router(d->pipe));
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
int dmn_state_load(daemon_t *d, char *err, size_t errlen)
{
    int rc = statefile_read(d->o.r.state, d->o.r.strict_files ? STATEFILE_STRICT : 0, decode_state,
                            d, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == STATEFILE_MISSING)
        sw_log(LOG_INFO, "state: %s: none yet, learning from scratch", d->o.r.state);
    else if (rc == STATEFILE_MOVED_ASIDE)
        atomic_store_explicit(&d->st.state_moved_aside, 1, memory_order_relaxed);
    else {
        struct stat sb;
        size_t series = 0;
        for (unsigned i = 0; i < d->nshards; i++)
            series += st_nseries(shard_table(pipeline_shard(d->pipe, i)));
        double age = stat(d->o.r.state, &sb) == 0 ? difftime(time(NULL), sb.st_mtime) : -1;
        sw_log(LOG_INFO, "state: %s: learned baselines loaded: %zu series, saved %.0f s ago",
               d->o.r.state, series, age);
    }
    char werr[512];
    if (!(d->st.saver = statefile_saver_create(d->o.r.state, werr, sizeof(werr)))) {
        sw_errf(err, errlen, "--state: %s", werr);
        return SW_EOPEN;
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
        t[i] = shard_table(pipeline_shard(d->pipe, i));
    int rc = state_encode(t, d->nshards, buf, len);
    free(t);
    return rc;
}

/* Writes an encoded state atomically: a crash mid-write, a full disk,
 * leave the previous file whole (counted and logged by the saver). */
static int state_write(daemon_t *d, unsigned char *buf, size_t len)
{
    int rc = statefile_saver_save(d->st.saver, buf, len);
    free(buf);
    if (rc == SW_OK)
        sw_log(LOG_DEBUG, "state: %s: saved (%zu bytes)", d->o.r.state, len);
    return rc;
}

/* On exit, every thread joined: saves the shards' baselines. */
int dmn_state_save(daemon_t *d)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = state_encode_all(d, &buf, &len);
    if (rc < 0) {
        statefile_saver_skip(d->st.saver, sw_strerror(rc));
        return rc;
    }
    rc = state_write(d, buf, len);
    if (rc == SW_OK)
        sw_log(LOG_INFO, "state: %s: saved (%zu bytes)", d->o.r.state, len);
    return rc;
}

#define PARK_WAIT_S 2.0 /* a checkpoint gives up when a shard takes longer to stop */

/*
 * Parks every shard between bursts (ingest queues up behind them, or drops
 * if told to) so that their tables may be read or filled. 0, or -1 when a
 * shard did not stop within PARK_WAIT_S (logged; nothing is parked then).
 * shard_threads.h says how parking orders the tables' reads and writes.
 */
int dmn_park_all(daemon_t *d)
{
    unsigned stuck;
    if (shards_park_all(d->shards, PARK_WAIT_S, &stuck) < 0) {
        sw_log(LOG_WARN, "state: shard %u did not stop within %.0f s", stuck, PARK_WAIT_S);
        return -1;
    }
    return 0;
}

void dmn_unpark_all(daemon_t *d)
{
    shards_unpark_all(d->shards);
}

/*
 * While running (main thread): encodes the shards' tables with them
 * parked, then writes the state file. The pause lasts the encoding.
 */
void dmn_state_checkpoint(daemon_t *d)
{
    pthread_mutex_lock(&d->st.ckpt_lock);
    if (dmn_park_all(d) < 0) {
        pthread_mutex_unlock(&d->st.ckpt_lock);
        statefile_saver_skip(d->st.saver, "a shard did not stop for the checkpoint");
        return;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = state_encode_all(d, &buf, &len);
    dmn_unpark_all(d);
    pthread_mutex_unlock(&d->st.ckpt_lock);
    if (rc < 0) {
        statefile_saver_skip(d->st.saver, sw_strerror(rc));
        return;
    }
    state_write(d, buf, len);
}

