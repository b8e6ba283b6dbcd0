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
 * drains its router and says so (shards_ingest_done: release); a shard
 * exits once it has seen that (acquire) and an empty ring, then raises its
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
 * The alert thread is daemon_pipeline.c, the answers to the ingest and
 * Kafka modules' hooks daemon_ingest.c, learned state daemon_state.c,
 * the command line daemon_cli.c, the metrics daemon_metrics.c;
 * daemon_int.h is what they share. The ingest thread
 * (adapters/intake/ingest_side.h), the shard threads with their rings
 * (adapters/shards/shard_threads.h), the alert sinks
 * (adapters/sinks/fanout.h), Kafka (adapters/kafka/kafka_side.h) and
 * change coordination (adapters/coord/coord.h) are modules of their own,
 * libraries the daemon links, which do not see daemon_t: their headers
 * say which thread calls what. This file sets the threads up,
 * runs the main thread (signals, reloads, the periodic log line) and
 * tears them down.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "ingest_side.h"
#include "kafka_side.h"

#include <ctype.h>
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
#include "coord.h"
#include "err.h"
#include "log.h"
#include "monotime.h"
#include "netaddr.h"
#include "pipeline.h"
#include "regcheck.h"
#include "version.h"
#include "router.h"
#include "shard.h"
#include "shard_threads.h"
#include "fanout.h"
#include "statefile.h"
#include "timefmt.h"

const detect_params_t *dmn_detect_for(void *ctx, const char *user, size_t len)
{
    return cfg_detect_for(ctx, user, len);
}

/* ---- set-up ------------------------------------------------------------- */

static cfg_t *load_config(const char *path, char *err, size_t errlen)
{
    cfg_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sw_errf(err, errlen, "out of memory");
        return NULL;
    }
    cfg_defaults(c);
    if (path && cfg_load(path, c, err, errlen) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void warn_register(void *ctx, const char *msg)
{
    (void)ctx;
    sw_log(LOG_WARN, "change register: %s", msg);
}

/* HTTP threads and main: a User's share of the traffic, -1 before any is
 * known (d->coord is made after the register is first loaded); change
 * id's check line, malloc'd, or NULL. */
static double user_share(void *ctx, const char *user)
{
    daemon_t *d = ctx;
    return coord_user_share(d->coord, user);
}

static char *check_json(void *ctx, const char *id)
{
    daemon_t *d = ctx;
    return coord_check_json(d->coord, id);
}

/* The change register file at `path` (NULL: an empty register), its
 * warnings and conflicts logged (with the Users' shares once known). */
static changes_t *load_changes(daemon_t *d, const char *path, char *err, size_t errlen)
{
    changes_t *reg = changes_create();
    if (!reg) {
        sw_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (path && changes_load_yaml_ex(path, reg, warn_register, NULL, err, errlen) < 0) {
        changes_destroy(reg);
        return NULL;
    }
    if (path)
        regcheck_conflicts(reg, path, user_share, d, warn_register, NULL);
    return reg;
}

/* An error about file `path` of option `opt` names the option first
 * ("--changes-journal: /var/lib/x: Permission denied"), unless it names a
 * line in the file (a parse error says where already). Returns rc. */
static int name_option(int rc, const char *opt, const char *path, char *err, size_t errlen)
{
    size_t n = path ? strlen(path) : 0;
    if (rc >= 0 || !path || strncmp(err, path, n) != 0 || (err[n] == ':' && isdigit((unsigned char)err[n + 1])))
        return rc;
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", err);
    sw_errf(err, errlen, "--%s: %s", opt, copy);
    return rc;
}

/* Where a file the daemon keeps goes when its option is not given: the
 * state directory (systemd's $STATE_DIRECTORY, else --state's folder),
 * never the working directory, unless there is neither (then logged). */
static const char *default_path(daemon_t *d, const char *name, char *buf, size_t len)
{
    const char *dir = getenv("STATE_DIRECTORY");
    size_t dlen = dir ? strcspn(dir, ":") : 0; /* the first of a list */
    if (!dlen && d->o.r.state && strrchr(d->o.r.state, '/')) {
        dir = d->o.r.state;
        dlen = (size_t)(strrchr(dir, '/') - dir);
        dlen = dlen ? dlen : 1; /* "/state.bin": the root */
    }
    if (!dlen) {
        sw_log(LOG_WARN, "%s goes to the working directory: give --state (or run under "
               "systemd's StateDirectory=) to keep it with the state", name);
        return name;
    }
    snprintf(buf, len, "%.*s/%s", (int)dlen, dir, name);
    return buf;
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
    coord_metrics_write(d->coord, out);
    http_t *h = atomic_load_explicit(&d->web.http, memory_order_acquire);
    if (h)
        http_metrics_write(h, out);
    if (d->web.api)
        changes_api_metrics_write(d->web.api, out);
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
        sw_errf(err, errlen, "%s: %s", path, f ? "empty token file" : strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 16) {
        sw_errf(err, errlen, "%s: the token must be at least 16 characters", path);
        return NULL;
    }
    return strdup(buf);
}

/* HTTP threads: a change declared or withdrawn here, shared over Kafka. */
static void share_declared(void *ctx, const char *stored)
{
    daemon_t *d = ctx;
    dk_share_declared(d->kafka, stored);
}

static void share_withdrawn(void *ctx, const char *id)
{
    daemon_t *d = ctx;
    dk_share_withdrawn(d->kafka, id);
}

/* HTTP threads: a level accepted, queued for the ingest thread. */
static int http_accept(void *ctx, const char *user, int dir, char *err, size_t errlen)
{
    daemon_t *d = ctx;
    return di_accept(d->in, user, dir, err, errlen);
}

static int start_http(daemon_t *d, char *err, size_t errlen)
{
    if (d->o.r.http_token_file && !(d->web.token = read_token(d->o.r.http_token_file, err, errlen)))
        return name_option(SW_ECONFIG, "http-token-file", d->o.r.http_token_file, err, errlen);
    http_opts_t ho = { .addr = d->o.r.http, .token = d->web.token, .changes = d->web.api,
                       .tls_cert = d->o.r.http_tls_cert, .tls_key = d->o.r.http_tls_key,
                       .metrics = http_metrics, .ready = is_ready,
                       .alerts_json = daemon_alerts_json,
                       .change_declared = share_declared, .change_withdrawn = share_withdrawn,
                       .accept = http_accept, .check_json = check_json,
                       .user_share = user_share, .console = 1,
                       .log = http_log, .ctx = d };
    http_t *h = http_start(&ho, err, errlen);
    if (!h)
        return SW_EOPEN;
    /* pairs with the acquire in http_metrics */
    atomic_store_explicit(&d->web.http, h, memory_order_release);
    sw_log(LOG_INFO, "http: serving on %s (port %u)%s", d->o.r.http, http_port(h),
           d->web.token ? "" : "; API writes refused (no token)");
    if (!d->o.r.http_tls_cert && !net_is_local(d->o.r.http))
        sw_log(LOG_WARN, "http: %s is reachable beyond this host in plaintext: the bearer token "
               "and declared changes cross the network readable; use --http-tls-cert/--http-tls-key "
               "or bind to loopback", d->o.r.http);
    return SW_OK;
}

/* SIGHUP: loads the config and the register; publishes them if good. */
static void reload(daemon_t *d)
{
    char err[512];
    /* logrotate moved --alerts and --change-checks: the next lines go to
     * new files */
    fanout_reopen(d->out.fanout);
    coord_reopen(d->coord);
    cfg_t *c = load_config(d->o.config, err, sizeof(err));
    if (!c) {
        sw_log(LOG_ERROR, "reload refused, old config kept: %s", err);
        dmn_note_reload(d, 0);
        return;
    }
    changes_t *reg = load_changes(d, d->o.r.changes, err, sizeof(err));
    if (!reg) {
        sw_log(LOG_ERROR, "reload refused, old change register kept: %s", err);
        dmn_note_reload(d, 0);
        cfg_free(c);
        free(c);
        return;
    }
    /* the register: the alert thread merges the new file with the API's
     * changes, in order with the API's updates */
    struct reg_update *u = calloc(1, sizeof(*u));
    if (!u) {
        sw_log(LOG_ERROR, "reload refused, old config and change register kept: out of memory");
        dmn_note_reload(d, 0);
        changes_destroy(reg);
        cfg_free(c);
        free(c);
        return;
    }
    /* the API's copy first (it answers for the file's ids and schedule) */
    if (d->web.api && changes_api_set_file(d->web.api, reg) < 0)
        sw_log(LOG_ERROR, "reload: out of memory giving the API the new register: it keeps "
               "the old one");
    u->type = UPD_FILE;
    u->file = reg;
    dmn_queue_update(d, u);
    dmn_note_reload(d, 1); /* taken: the threads switch to it below */
    /* the config: publish, then wait until every consumer has switched
     * (the shards: shard_threads.h says how they hand it over) */
    atomic_store_explicit(&d->next_cfg, c, memory_order_release);
    unsigned gen = atomic_fetch_add_explicit(&d->cfg_gen, 1, memory_order_acq_rel) + 1;
    unsigned shards_gen = shards_publish_config(d->shards, c);
    for (int tries = 0; tries < 5000; tries++) {
        int all = atomic_load_explicit(&d->alerts_cfg_ack, memory_order_acquire) == gen ||
                  atomic_load_explicit(&d->alerts_done, memory_order_acquire);
        all &= shards_config_taken(d->shards, shards_gen);
        if (all) {
            cfg_free(d->cfg);
            free(d->cfg);
            d->cfg = c;
            sw_log(LOG_INFO, "reloaded %s and %s", d->o.config ? d->o.config : "(defaults)",
                   d->o.r.changes ? d->o.r.changes : "(no change register)");
            return;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    sw_log(LOG_WARN, "reload: a thread did not switch in 5 s; old config kept in memory");
}

static void log_stats(daemon_t *d, double dt, uint64_t *last_lines)
{
    di_stats_t is;
    di_stats(d->in, &is);
    uint64_t lines = is.lines;
    char rings[256] = "";
    size_t off = 0;
    uint64_t waits = 0, drops = 0, conflicts = 0;
    for (unsigned i = 0; i < d->nshards && off < sizeof(rings) - 32; i++) {
        shards_stat_t st;
        shards_stat(d->shards, i, &st);
        off += (size_t)snprintf(rings + off, sizeof(rings) - off, "%s%zu", i ? "," : "",
                                (size_t)st.ring_depth);
        waits += st.in_waits;
        drops += st.in_drops;
        conflicts += st.conflicts;
    }
    fanout_stats_t fo;
    fanout_stats(d->out.fanout, &fo);
    /* the feed's event time (the newest sample handed to detection) and
     * how far it trails the wall clock (the reordering wait included) */
    char feed[TF_BUFLEN + 48] = "feed time none yet";
    int64_t ft = atomic_load_explicit(&d->feed_time, memory_order_relaxed);
    if (ft > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char at[TF_BUFLEN];
        tf_format(ft, at);
        snprintf(feed, sizeof(feed), "feed time %s, lag %.1f s", at,
                 ((double)now.tv_sec * 1e9 + (double)now.tv_nsec - (double)ft) / 1e9);
    }
    sw_log(LOG_INFO,
           "stats: %.0f lines/s, %" PRIu64 " lines, %" PRIu64 " msgs, %" PRIu64 " bad, %" PRIu64
           " late, %" PRIu64 " conflicting repeats, ring depth [%s], full-ring waits %" PRIu64
           ", dropped %" PRIu64 ", alerts %" PRIu64 ", write errors %" PRIu64 ", %s",
           dt > 0 ? (double)(lines - *last_lines) / dt : 0.0, lines,
           is.msgs, is.bad, is.late, conflicts, rings, waits,
           drops, fo.lines, fo.file.write_errors, feed);
    *last_lines = lines;
}

static void teardown(daemon_t *d)
{
    http_stop(atomic_load(&d->web.http)); /* first: its threads read everything below */
    atomic_store(&d->web.http, NULL);
    dk_close(d->kafka); /* commits what was taken, leaves the group */
    d->kafka = NULL;
    shards_destroy(d->shards); /* its threads joined, or never started */
    d->shards = NULL;
    pipeline_destroy(d->pipe);
    di_close(d->in); /* its sockets, CurveZMQ handler, recording, accepts */
    d->in = NULL;
    fanout_destroy(d->out.fanout); /* before the PUB socket's context ends */
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    coord_close(d->coord);
    d->coord = NULL;
    alertjournal_close(d->out.journal);
    dmn_resumes_free(d);
    statefile_saver_destroy(d->st.saver);
    changes_api_close(d->web.api);
    free(d->web.token);
    regview_destroy(d->out.rv);
    for (struct reg_update *u = d->out.upd_head, *next; u; u = next) {
        next = u->next;
        dmn_update_free(u);
    }
    pthread_mutex_destroy(&d->out.upd_lock);
    if (d->cfg) {
        cfg_free(d->cfg);
        free(d->cfg);
    }
    free(d->out.alerts_snapshot);
    pthread_mutex_destroy(&d->out.snap_lock);
    pthread_mutex_destroy(&d->st.ckpt_lock);
    cfg_run_free(&d->o.r);
}

/* The generatorURL alerts carry: --generator-url, else the live console
 * on --http (a port alone is loopback's), else none. */
static const char *generator_url(const daemon_t *d, char *buf, size_t len)
{
    const run_cfg_t *r = &d->o.r;
    if (r->generator_url || !r->http)
        return r->generator_url;
    int port_only = strspn(r->http, "0123456789") == strlen(r->http);
    snprintf(buf, len, "%s://%s%s/", r->http_tls_cert ? "https" : "http",
             port_only ? "127.0.0.1:" : "", r->http);
    return buf;
}

static int setup(daemon_t *d, run_cfg_t *flags, uint64_t given, char *err, size_t errlen)
{
    if (!(d->cfg = load_config(d->o.config, err, errlen)))
        return name_option(SW_ECONFIG, "config", d->o.config, err, errlen);
    int mrc = dmn_merge_run_config(&d->o, d->cfg, flags, given);
    if (mrc < 0)
        return mrc; /* SW_EINVAL: it has said why */
    cfg_apply_timezone(d->cfg); /* fixed at start: a reload does not move it */
    d->ingest = d->cfg->ingest;
    changes_t *file = load_changes(d, d->o.r.changes, err, errlen);
    if (!file)
        return name_option(SW_ECONFIG, "changes", d->o.r.changes, err, errlen);
    dmn_note_reload(d, 1); /* the metrics' reload state: the start took */
    if (!(d->out.rv = regview_create()) || regview_set_file(d->out.rv, file) < 0) {
        if (!d->out.rv)
            changes_destroy(file);
        return SW_ENOMEM;
    }
    if (d->o.r.http || d->o.r.changes_journal) {
        char dflt[4096];
        const char *journal = d->o.r.changes_journal
                                  ? d->o.r.changes_journal
                                  : default_path(d, "stormwatch-changes.journal", dflt, sizeof(dflt));
        changes_api_opts_t ao = { .strict = d->o.r.strict_files, .on_change = dmn_on_api_change,
                                  .ctx = d };
        if (changes_api_open(journal, &ao, &d->web.api, err, errlen) < 0)
            return name_option(SW_ECONFIG, "changes-journal", journal, err, errlen);
        if (err[0]) /* a corrupt journal set aside */
            sw_log(LOG_WARN, "--changes-journal: %s", err);
        sw_log(LOG_INFO, "changes journal: %s", journal);
        if (changes_api_set_file(d->web.api, file) < 0) /* still valid: rv's, unshared yet */
            return SW_ENOMEM;
        /* what the journal held; what is declared from now on comes as updates */
        changes_t *api = changes_create();
        int rc = api ? changes_api_snapshot(d->web.api, api) : SW_ENOMEM;
        for (size_t i = 0; rc == SW_OK && i < changes_count(api); i++)
            if (regview_declare(d->out.rv, changes_get(api, i)) == 1)
                sw_log(LOG_WARN, "change %s is in the file and the API: the file's is used",
                       changes_get(api, i)->id);
        changes_destroy(api);
        if (rc < 0)
            return rc;
    }
    atomic_store_explicit(&d->out.changes_n, changes_count(regview_merged(d->out.rv)),
                          memory_order_relaxed);
    d->nshards = (unsigned)d->o.r.shards;
    dk_opts_t ko = dmn_kafka_opts(d);
    d->incident_tag = dk_incident_tag(&ko);
    /* the one wiring (pipeline.h), with a ring each way between the stages */
    pipeline_opts_t po = { .ingest = d->cfg->ingest, .corr = d->cfg->corr, .nshards = d->nshards,
                           .local_time = cfg_local_time(d->cfg),
                           .incident_tag = d->incident_tag, .detect_for = dmn_detect_for,
                           .detect_ctx = d->cfg, .emit = dmn_alert_emit, .emit_ctx = d,
                           .handover = dmn_alert_handover, .check = dmn_check_emit,
                           .publish = d->o.r.kafka_state_topic ? dmn_kafka_publish : NULL,
                           .publish_ctx = d, .to_shard = dmn_deliver,
                           .to_alerts = dmn_shard_emit, .transport_ctx = d };
    if (!(d->pipe = pipeline_create(&po, regview_merged(d->out.rv))))
        return SW_ENOMEM;
    d->out.as = pipeline_alerts(d->pipe);
    shards_opts_t so = { .pipe = d->pipe, .ring_size = d->o.r.ring_size,
                         .drop_when_full = d->o.r.drop_when_full, .detect_for = dmn_detect_for,
                         .alerts_released = &d->out.alerts_released };
    if (shards_create(&so, &d->shards) < 0)
        return SW_ENOMEM;
    if (d->o.r.state && dmn_state_load(d, err, errlen) < 0)
        return name_option(SW_ECONFIG, "state", d->o.r.state, err, errlen);
    if (d->o.r.state) {
        /* the alerts open when the run before stopped go on, without a
         * second firing line */
        char path[4096];
        snprintf(path, sizeof(path), "%s.alerts", d->o.r.state);
        if (!(d->out.journal = alertjournal_open(path, d->o.r.strict_files, dmn_keep_resume, d, err,
                                             errlen)))
            return SW_ECONFIG;
        alertjournal_stats_t js;
        alertjournal_stats(d->out.journal, &js);
        if (js.resumed)
            sw_log(LOG_INFO, "alerts journal: %s: %" PRIu64 " alerts open before the restart "
                   "go on", path, js.resumed);
    }

    if (!(d->out.fanout = fanout_create()))
        return SW_ENOMEM;
    if (d->o.r.alerts) {
        char ferr[512];
        if (fanout_add_file(d->out.fanout, d->o.r.alerts, ferr, sizeof(ferr)) < 0) {
            sw_errf(err, errlen, "--alerts: %s", ferr);
            return SW_EOPEN;
        }
    }
    char cerr[512];
    if (!(d->coord = coord_open(d->o.r.change_checks, cerr, sizeof(cerr)))) {
        if (!d->o.r.change_checks)
            return SW_ENOMEM;
        sw_errf(err, errlen, "--change-checks: %s", cerr);
        return SW_EOPEN;
    }
    if (!(d->zctx = zmq_ctx_new())) {
        sw_errf(err, errlen, "ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        return SW_EOPEN;
    }
    int irc = dmn_open_ingest(d, err, errlen);
    if (irc < 0)
        return irc;
    int krc = dmn_open_kafka(d, err, errlen);
    if (krc < 0)
        return krc;
    if (d->o.r.pub && fanout_add_pub(d->out.fanout, d->zctx, d->o.r.pub, err, errlen) < 0)
        return SW_EOPEN;
    if (d->o.r.pub && !net_is_local(d->o.r.pub))
        sw_log(LOG_WARN, "pub: %s is reachable beyond this host in plaintext: anyone who "
               "reaches it reads every alert", d->o.r.pub);
    for (size_t i = 0; i < d->o.r.n_alertmanager; i++)
        if (strncmp(d->o.r.alertmanager[i], "https://", 8) != 0 &&
            !net_is_local(d->o.r.alertmanager[i]))
            sw_log(LOG_WARN, "alertmanager: %s is plain HTTP beyond this host: alerts cross the "
                   "network readable", d->o.r.alertmanager[i]);
    if (d->o.r.n_alertmanager) {
        char dflt[4096], gen[512];
        sink_am_opts_t amo = { .urls = (const char *const *)d->o.r.alertmanager,
                               .nurls = d->o.r.n_alertmanager,
                               .queue_path = d->o.r.alertmanager_queue
                                                 ? d->o.r.alertmanager_queue
                                                 : default_path(d, "stormwatch-alertmanager.queue",
                                                                dflt, sizeof(dflt)),
                               .strict_queue = d->o.r.strict_files,
                               .generator_url = generator_url(d, gen, sizeof(gen)) };
        if (fanout_add_alertmanager(d->out.fanout, &amo, err, errlen) < 0)
            return name_option(SW_ECONFIG, "alertmanager-queue", amo.queue_path, err, errlen);
        sw_log(LOG_INFO, "alertmanager queue: %s", amo.queue_path);
    }
    if (d->o.r.record &&
        di_record(d->in, d->o.r.record, d->o.r.record_max, d->o.r.record_gzip, err, errlen) < 0)
        return name_option(SW_EOPEN, "record", d->o.r.record, err, errlen);
    if (d->o.r.http) {
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
    int rc = pthread_create(&d->out.tid, NULL, dmn_alerts_main, d);
    if (rc) {
        sw_log(LOG_ERROR, "cannot start the alert thread: %s", strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < d->st.nresumes; i++)
        dmn_resume_alert(d, &d->st.resumes[i]);
    dmn_resumes_free(d);
    unsigned failed;
    if ((rc = shards_start(d->shards, &failed))) {
        sw_log(LOG_ERROR, "cannot start shard thread %u: %s", failed, strerror(rc));
    } else {
        if ((rc = di_start(d->in)) == 0)
            return 0;
        sw_log(LOG_ERROR, "cannot start the ingest thread: %s", strerror(rc));
    }
    /* the pipeline ends as after a stop with no input: the shards see
     * ingest done, the alert thread sees every shard done (those not
     * started count as done) */
    shards_ingest_done(d->shards);
    shards_join(d->shards);
    pthread_join(d->out.tid, NULL);
    return -1;
}

/* Appends "; LABEL a, b" for a list of n strings (none: nothing). */
static size_t list_into(char *buf, size_t len, size_t at, const char *label, char *const *v,
                        size_t n)
{
    for (size_t i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : label, v[i]);
    return at < len ? at : len;
}

/* The start-up banner: what runs, from which files, talking to whom. */
static void banner(daemon_t *d)
{
    const run_cfg_t *r = &d->o.r;
    char b[2048];
    size_t at = (size_t)snprintf(b, sizeof(b), "stormwatch %s running: config %s, changes %s, "
                                 "%u shard%s", sw_version_line(), d->o.config ? d->o.config
                                 : "(built-in defaults)", r->changes ? r->changes : "(none)",
                                 d->nshards, d->nshards == 1 ? "" : "s");
    at = list_into(b, sizeof(b), at, "; ingest ", r->ingest, r->n_ingest);
    if (at < sizeof(b))
        at += (size_t)snprintf(b + at, sizeof(b) - at, "; alerts to %s%s%s",
                               r->alerts ? (strcmp(r->alerts, "-") ? r->alerts : "standard output")
                                         : "PUB only",
                               r->pub ? " and PUB " : "", r->pub ? r->pub : "");
    at = list_into(b, sizeof(b), at, "; Alertmanager ", r->alertmanager, r->n_alertmanager);
    const struct {
        const char *label, *value;
    } files[] = { { "http", r->http }, { "change checks", r->change_checks },
                  { "changes journal", r->changes_journal }, { "state", r->state },
                  { "record", r->record }, { "kafka", r->kafka_brokers } };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && at < sizeof(b); i++)
        if (files[i].value)
            at += (size_t)snprintf(b + at, sizeof(b) - at, "; %s %s", files[i].label,
                                   files[i].value);
    sw_log(LOG_INFO, "%s", b);
}

/* `stormwatch run` on daemon d (zeroed): its exit status. */
static int run(daemon_t *d, int argc, char **argv)
{
    pthread_mutex_init(&d->out.snap_lock, NULL);
    pthread_mutex_init(&d->out.upd_lock, NULL);
    pthread_mutex_init(&d->st.ckpt_lock, NULL);
    d->out.alerts_snapshot = strdup("[]");
    run_cfg_t flags;
    uint64_t given;
    int rc = dmn_parse_args(argc, argv, &d->o, &flags, &given);
    if (rc) {
        cfg_run_free(&flags);
        teardown(d);
        return rc == DMN_HELP ? SW_EXIT_OK : sw_exit_status(rc);
    }
    /* a peer gone mid-write (a socket, a pipe) is an error return to the
     * writer, never the end of the daemon */
    signal(SIGPIPE, SIG_IGN);
    /* the signals go to the main loop's sigtimedwait only: blocked before
     * setup, as setup already starts threads (ZeroMQ's, librdkafka's, the
     * HTTP server's, the Alertmanager sender), and a thread that did not
     * block them would take a SIGTERM or SIGHUP by its default action,
     * ending the daemon at once: no drain, no state saved, no handover */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    char err[1024] = "";
    rc = setup(d, &flags, given, err, sizeof(err));
    cfg_run_free(&flags); /* what the file did not take */
    if (rc < 0) {
        if (rc != SW_EINVAL) /* SW_EINVAL: merge_run_config has said why */
            fprintf(stderr, "stormwatch run: %s\n", err[0] ? err : sw_strerror(rc));
        teardown(d);
        return sw_exit_status(rc);
    }

    if (start_threads(d) < 0) {
        teardown(d);
        return SW_EXIT_FAILED;
    }
    atomic_store_explicit(&d->running, 1, memory_order_release);
    banner(d);

    double stats_every = (double)d->o.r.stats_every / SW_NS_PER_S;
    double next_stats = sw_mono_s() + stats_every, last = sw_mono_s();
    double state_every = (double)d->o.r.state_every / SW_NS_PER_S;
    double next_state = sw_mono_s() + state_every;
    double kafka_every = (double)d->o.r.kafka_checkpoint / SW_NS_PER_S;
    double next_kafka = sw_mono_s() + kafka_every;
    uint64_t last_lines = 0;
    for (;;) {
        struct timespec to = { 0, 200000000 };
        int sig = sigtimedwait(&sigs, NULL, &to);
        if (sig == SIGTERM || sig == SIGINT) {
            sw_log(LOG_INFO, "%s: draining and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGHUP)
            reload(d);
        if (stats_every > 0 && sw_mono_s() >= next_stats) {
            double now = sw_mono_s();
            log_stats(d, now - last, &last_lines);
            last = now;
            next_stats = now + stats_every;
        }
        if (d->o.r.state && state_every > 0 && sw_mono_s() >= next_state) {
            dmn_state_checkpoint(d);
            next_state = sw_mono_s() + state_every;
        }
        if (dk_has_state_topic(d->kafka) && sw_mono_s() >= next_kafka) {
            dk_checkpoint(d->kafka);
            next_kafka = sw_mono_s() + kafka_every;
        }
    }
    /* stop reading; the pipeline drains behind it */
    atomic_store_explicit(&d->running, 0, memory_order_release);
    di_stop(d->in);
    di_join(d->in);
    shards_join(d->shards);
    pthread_join(d->out.tid, NULL);
    int status = SW_EXIT_OK;
    if (d->o.r.state && dmn_state_save(d) < 0)
        status = SW_EXIT_FAILED;
    log_stats(d, sw_mono_s() - last, &last_lines);
    di_record_flush(d->in);
    sw_log(LOG_INFO, "stopped");
    teardown(d);
    return status;
}

int run_main(int argc, char **argv)
{
    daemon_t *d = calloc(1, sizeof(*d)); /* a few KiB: one per process, not on the stack */
    if (!d) {
        fprintf(stderr, "stormwatch run: %s\n", sw_strerror(SW_ENOMEM));
        return sw_exit_status(SW_ENOMEM);
    }
    int status = run(d, argc, argv);
    free(d);
    return status;
}
