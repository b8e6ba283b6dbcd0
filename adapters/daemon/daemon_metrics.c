/*
 * daemon_metrics.c - what the daemon says of itself: its metrics in the
 * Prometheus text format (GET /metrics), and the JSON array of the alerts
 * firing now (GET /api/v1/alerts), rebuilt by the alert thread.
 *
 * Beside its own counters it gives what Prometheus expects of any process
 * (process_*, read from /proc/self as the official clients do), how the
 * last config reload went, the feed's event time and its lag behind the
 * wall clock, and the series still learning.
 *
 * DESIGN: the metrics read only atomics, ring depths, /proc and the sinks'
 * own locked counters, so any thread may write them (the HTTP server's
 * do); the snapshot is built by the alert thread and swapped under
 * snap_lock.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "daemon_int.h"
#include "alertjournal.h"
#include "kafka_side.h"

#ifndef SW_BUILD_VERSION
#define SW_BUILD_VERSION "dev"
#endif


/* jemalloc's control interface, when the program is linked with it (not in
 * sanitizer builds): weak, so the metrics simply leave those lines out. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

void dmn_metric(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void metric_u64(FILE *out, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    dmn_metric(out, name, type, help);
    fprintf(out, "%s %" PRIu64 "\n", name, v);
}

static void metric_f64(FILE *out, const char *name, const char *type, const char *help,
                       double v)
{
    dmn_metric(out, name, type, help);
    fprintf(out, "%s %.15g\n", name, v);
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dmn_note_reload(daemon_t *d, int ok)
{
    /* relaxed: each is read alone, by the metrics */
    atomic_store_explicit(&d->mon.reload_ok, ok, memory_order_relaxed);
    if (ok)
        atomic_store_explicit(&d->mon.reload_ok_unix, (int64_t)time(NULL), memory_order_relaxed);
}

/* The boot time, Unix s, from /proc/stat's btime; 0 when unknown. */
static double boot_time_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    double btime = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %lf", &btime) == 1)
            break;
    if (f)
        fclose(f);
    return btime;
}

/* Descriptors open now: the entries of /proc/self/fd (less the one the
 * listing holds); -1 when it cannot be read. */
static long open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(dir));)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1;
}

/*
 * The process_* metrics every Prometheus client library exports, from
 * /proc/self/stat (fields 14-15 CPU ticks, 22 start in ticks after boot,
 * 23 virtual bytes, 24 resident pages; counted after the ')' that ends the
 * command name, which may hold spaces). A file that cannot be read leaves
 * its metrics out.
 */
static void process_metrics(FILE *out)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long utime, stime, start, vsize, rss;
    /* from field 3 (state) on: skip 3-13, read 14 15, skip 16-21, read 22 23 24 */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                           "%*d %*d %*d %*d %*d %*d %llu %llu %llu",
                    &utime, &stime, &start, &vsize, &rss) == 5) {
        double tck = (double)sysconf(_SC_CLK_TCK);
        long page = sysconf(_SC_PAGESIZE);
        metric_f64(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.",
                   (double)(utime + stime) / tck);
        metric_u64(out, "process_virtual_memory_bytes", "gauge",
                   "Virtual memory size in bytes.", vsize);
        metric_u64(out, "process_resident_memory_bytes", "gauge",
                   "Resident memory size in bytes.", rss * (unsigned long long)page);
        double boot = boot_time_s();
        if (boot > 0)
            metric_f64(out, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.",
                       boot + (double)start / tck);
    }
    long fds = open_fds();
    if (fds >= 0)
        metric_u64(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                   (uint64_t)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        metric_u64(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
}

/* Bad lines by reason: the short name as the label, the prose in HELP. */
static void bad_lines(const di_stats_t *is, FILE *out)
{
    const char *name = "stormwatch_ingest_bad_lines_total";
    fprintf(out, "# HELP %s Lines skipped as bad input, by reason:", name);
    const char *sep = " ";
    for (int r = 0; r < LP_NRESULTS; r++)
        if (lp_result_is_bad((lp_result_t)r)) {
            fprintf(out, "%s%s = %s", sep, lp_result_name((lp_result_t)r),
                    lp_result_str((lp_result_t)r));
            sep = "; ";
        }
    fprintf(out, ".\n# TYPE %s counter\n", name);
    for (int r = 0; r < LP_NRESULTS; r++)
        if (lp_result_is_bad((lp_result_t)r))
            fprintf(out, "%s{reason=\"%s\"} %" PRIu64 "\n", name, lp_result_name((lp_result_t)r),
                    is->bad_by_result[r]);
}

/* The feed's event time and how far it is behind this host's clock. */
static void feed_time(daemon_t *d, FILE *out)
{
    int64_t t = LOAD(d->feed_time);
    double ts = (double)t / 1e9;
    metric_f64(out, "stormwatch_feed_event_time_seconds", "gauge",
               "Event time of the newest sample handed to detection, Unix s; 0: none yet. "
               "Samples wait up to input.lateness (30 s) to be put in order, except when the "
               "feed stalls.", ts);
    if (t)
        metric_f64(out, "stormwatch_feed_lag_seconds", "gauge",
                   "Wall clock minus stormwatch_feed_event_time_seconds: how far detection is "
                   "behind now (about input.lateness on a live feed; negative: the producer's "
                   "clock is ahead of this host's). Absent before the first sample.",
                   wall_s() - ts);
}

/* Kafka's (kafka_side.h), each part when it is open. */
static void kafka_metrics(const dkafka_t *k, FILE *out)
{
    dk_stats_t ks;
    dk_stats(k, &ks);
    if (ks.ingesting) {
        metric_u64(out, "stormwatch_kafka_messages_total", "counter", "Kafka messages taken.",
                   ks.messages);
        metric_u64(out, "stormwatch_kafka_partitions", "gauge", "Kafka partitions assigned here.",
                   ks.partitions);
        metric_u64(out, "stormwatch_kafka_beyond_partitions_total", "counter",
                   "Messages of partitions beyond those this build reads, dropped.", ks.beyond);
        metric_u64(out, "stormwatch_kafka_commits_total", "counter",
                   "Offset commits of what was processed.", ks.commits);
        metric_u64(out, "stormwatch_kafka_uncommitted_runs", "gauge",
                   "Runs of messages taken and not yet committable (100 ms of event time each).",
                   ks.uncommitted);
    }
    if (ks.has_state_topic) {
        metric_u64(out, "stormwatch_kafka_states_published_total", "counter",
                   "User states produced to the state topic.", ks.states_out);
        metric_u64(out, "stormwatch_kafka_states_failed_total", "counter",
                   "User states not produced or not delivered to the state topic.",
                   ks.states_failed);
        metric_u64(out, "stormwatch_kafka_states_adopted_total", "counter",
                   "Users taken over from states read back.", ks.adopted);
        metric_u64(out, "stormwatch_kafka_states_refused_total", "counter",
                   "States read back that could not be taken (corrupt, other version).",
                   ks.refused);
        metric_u64(out, "stormwatch_kafka_checkpoints_total", "counter",
                   "Checkpoints delivered (every User's state; offsets may follow).",
                   ks.checkpoints);
        metric_u64(out, "stormwatch_kafka_checkpoint_failures_total", "counter",
                   "Checkpoints not delivered whole (offsets stayed behind).",
                   ks.checkpoint_failures);
    }
    if (ks.has_peers) {
        metric_u64(out, "stormwatch_kafka_peer_alerts_total", "counter",
                   "Alert lines of other instances taken from the alerts topic, to group "
                   "incidents.", ks.peer_alerts);
        metric_u64(out, "stormwatch_kafka_peer_alerts_refused_total", "counter",
                   "Alert lines of other instances that could not be read or queued.",
                   ks.peer_refused);
        metric_u64(out, "stormwatch_kafka_peer_alerts_forgotten_total", "counter",
                   "Firing alerts of other instances forgotten unresolved (4096 held at most).",
                   ks.peer_forgotten);
    }
    if (ks.has_alerts_topic) {
        metric_u64(out, "stormwatch_kafka_alerts_sent_total", "counter",
                   "Alert lines Kafka acknowledged.", ks.alerts_sent);
        metric_u64(out, "stormwatch_kafka_alerts_failed_total", "counter",
                   "Alert lines Kafka did not take.", ks.alerts_failed);
    }
}

/*
 * The daemon's own metrics in the Prometheus text exposition format. Any
 * thread may call it: it reads only atomics, ring depths and snapshots.
 */
void daemon_write_metrics(void *ctx, FILE *out)
{
    daemon_t *d = ctx;
    di_stats_t is;
    di_stats(d->in, &is);
    metric_u64(out, "stormwatch_ingest_messages_total", "counter",
               "ZeroMQ messages received.",
               is.msgs);
    metric_u64(out, "stormwatch_ingest_lines_total", "counter",
               "Lines received.",
               is.lines);
    metric_u64(out, "stormwatch_ingest_bytes_total", "counter",
               "Bytes of line protocol received.",
               is.bytes);
    bad_lines(&is, out);
    metric_u64(out, "stormwatch_ingest_disconnects_total", "counter",
               "Producer connections closed: by the producer, or cut off for a message over "
               "run.max_message or a protocol error.",
               is.disconnects);
    metric_u64(out, "stormwatch_ingest_late_total", "counter",
               "Samples older than the allowed lateness, dropped.",
               is.late);
    metric_u64(out, "stormwatch_ahead_samples_total", "counter",
               "Samples far ahead of the feed's time (feed.max_jump) that nothing followed: dropped.",
               is.ahead);
    metric_u64(out, "stormwatch_feed_stalls_total", "counter",
               "Times the whole feed stalled.",
               is.stalls);
    feed_time(d, out);
    if (d->o.r.record) {
        metric_u64(out, "stormwatch_record_write_errors_total", "counter",
                   "Recording writes that failed (disk full...): detection goes on.",
                   is.record_errors);
        metric_u64(out, "stormwatch_record_dropped_bytes_total", "counter",
                   "Bytes of ingested traffic the recording lost to write errors.",
                   is.record_dropped);
    }
    metric_u64(out, "stormwatch_source_stalls_total", "counter",
               "Times one Kafka partition went quiet while the others flowed.",
               is.source_stalls);
    if (d->kafka)
        kafka_metrics(d->kafka, out);
    statefile_stats_t ss = { 0 };
    if (d->st.saver)
        statefile_saver_stats(d->st.saver, &ss);
    metric_u64(out, "stormwatch_state_saves_total", "counter",
               "Learned state written to --state (checkpoints and exit).", ss.saves);
    metric_u64(out, "stormwatch_state_save_failures_total", "counter",
               "State saves that failed (disk full, write error, a shard too slow to stop).",
               ss.failures);
    metric_u64(out, "stormwatch_state_last_save_timestamp_seconds", "gauge",
               "Unix time of the last good state save; 0: none yet.", ss.last_save_unix);
    if (d->out.journal) {
        alertjournal_stats_t js;
        alertjournal_stats(d->out.journal, &js);
        metric_u64(out, "stormwatch_alerts_journal_write_errors_total", "counter",
                   "Transitions the journal of open alerts (--state FILE.alerts) could not keep: "
                   "a restart may not resume them.", js.write_errors);
        metric_u64(out, "stormwatch_alerts_resumed_total", "counter",
                   "Alerts open when the run before stopped, resumed at start.", js.resumed);
    }
    metric_u64(out, "stormwatch_state_moved_aside_total", "counter",
               "Corrupt --state files renamed aside at start (FILE.corrupt-TIME): learning restarted.",
               LOAD(d->st.state_moved_aside));
    uint64_t samples = 0, dups = 0, conflicts = 0, sheds = 0, series = 0, evicted = 0,
             refused = 0, accepts = 0, accepts_unknown = 0;
    for (unsigned i = 0; i < d->nshards; i++) {
        samples += LOAD(d->sh[i].samples);
        dups += LOAD(d->sh[i].duplicates);
        conflicts += LOAD(d->sh[i].conflicts);
        sheds += LOAD(d->sh[i].sheds);
        series += LOAD(d->sh[i].series);
        evicted += LOAD(d->sh[i].evicted);
        refused += LOAD(d->sh[i].refused);
        accepts += LOAD(d->sh[i].accepts);
        accepts_unknown += LOAD(d->sh[i].accepts_unknown);
    }
    metric_u64(out, "stormwatch_samples_total", "counter",
               "Samples accepted into detection.",
               samples);
    metric_u64(out, "stormwatch_duplicates_total", "counter",
               "Repeated samples, merged into the copy kept.",
               dups);
    metric_u64(out, "stormwatch_duplicate_conflicts_total", "counter",
               "Repeated samples whose values disagreed with the copy kept (a producer's bug or "
               "a forgery): the reading that shows more trouble is kept.",
               conflicts);
    metric_u64(out, "stormwatch_shed_runs_total", "counter",
               "Runs of samples shed by drop_when_full: nothing is judged on them.",
               sheds);
    dmn_metric(out, "stormwatch_levels_accepted_total", "counter",
               "Levels accepted as a User's new normal (POST /api/v1/users/.../accept), by "
               "outcome: applied, unknown_user (no such User held), no_data (asked before any "
               "sample).");
    fprintf(out, "stormwatch_levels_accepted_total{outcome=\"applied\"} %" PRIu64 "\n", accepts);
    fprintf(out, "stormwatch_levels_accepted_total{outcome=\"unknown_user\"} %" PRIu64 "\n",
            accepts_unknown);
    fprintf(out, "stormwatch_levels_accepted_total{outcome=\"no_data\"} %" PRIu64 "\n",
            is.accepts_early);
    metric_u64(out, "stormwatch_series", "gauge",
               "Series tracked.",
               series);
    uint64_t learning = 0;
    for (unsigned i = 0; i < d->nshards; i++)
        learning += shard_learning(d->sh[i].shard);
    metric_u64(out, "stormwatch_series_learning", "gauge",
               "Series still learning: their last sample was judged with no history yet for "
               "its time of day and kind of day (a new User, the first day or week), so their "
               "alerts are marked learning and are at most warnings. A series counts from its "
               "second sample.", learning);
    metric_u64(out, "stormwatch_series_evicted_total", "counter",
               "Series evicted to stay under feed.max_series (the least recently read, idle).",
               evicted);
    metric_u64(out, "stormwatch_series_refused_total", "counter",
               "Samples of new series dropped at feed.max_series: every candidate was alerting.",
               refused);
    dmn_metric(out, "stormwatch_ring_depth", "gauge", "Records waiting in each shard's ring.");
    for (unsigned i = 0; i < d->nshards; i++)
        fprintf(out, "stormwatch_ring_depth{shard=\"%u\"} %zu\n", i, ring_depth(d->sh[i].in));
    dmn_metric(out, "stormwatch_ring_full_waits_total", "counter",
           "Times ingest waited for room in a shard's ring.");
    for (unsigned i = 0; i < d->nshards; i++)
        fprintf(out, "stormwatch_ring_full_waits_total{shard=\"%u\"} %" PRIu64 "\n", i,
                (uint64_t)LOAD(d->sh[i].in_waits));
    dmn_metric(out, "stormwatch_ring_drops_total", "counter",
           "Samples shed because a shard's ring stayed full (drop_when_full).");
    for (unsigned i = 0; i < d->nshards; i++)
        fprintf(out, "stormwatch_ring_drops_total{shard=\"%u\"} %" PRIu64 "\n", i,
                (uint64_t)LOAD(d->sh[i].in_drops));
    dmn_metric(out, "stormwatch_alerts_firing", "gauge", "Alerts firing now, by kind.");
    for (int k = 0; k < ALERT_NKINDS; k++)
        fprintf(out, "stormwatch_alerts_firing{alert=\"%s\"} %" PRIu64 "\n",
                alert_kind_name((alert_kind_t)k), (uint64_t)LOAD(d->out.firing_by_kind[k]));
    fanout_stats_t fo;
    fanout_stats(d->out.fanout, &fo);
    metric_u64(out, "stormwatch_alert_lines_total", "counter",
               "Alert transitions written.",
               fo.lines);
    if (fo.has_file) {
        const sink_file_stats_t fs = fo.file;
        metric_u64(out, "stormwatch_alerts_file_lines_total", "counter",
                   "Alert lines written whole to --alerts.", fs.lines);
        metric_u64(out, "stormwatch_alerts_file_write_errors_total", "counter",
                   "Alert lines --alerts could not take (disk full, I/O error): each dropped.",
                   fs.write_errors);
        metric_u64(out, "stormwatch_alerts_file_dropped_bytes_total", "counter",
                   "Bytes of the alert lines dropped by write errors.", fs.dropped_bytes);
        metric_u64(out, "stormwatch_alerts_file_reopens_total", "counter",
                   "Reopens of --alerts (SIGHUP, for logrotate).", fs.reopens);
        metric_u64(out, "stormwatch_alerts_file_reopen_errors_total", "counter",
                   "Reopens of --alerts that failed (the file before kept).", fs.reopen_errors);
    }
    if (fo.has_am) {
        const sink_am_stats_t as = fo.am;
        dmn_metric(out, "stormwatch_alertmanager_queue", "gauge", "Alerts waiting for an Alertmanager.");
        fprintf(out, "stormwatch_alertmanager_queue %zu\n", as.pending);
        metric_u64(out, "stormwatch_alertmanager_sent_total", "counter",
                   "Alerts an Alertmanager accepted.",
                   as.sent);
        metric_u64(out, "stormwatch_alertmanager_failed_total", "counter",
                   "Posts that failed (retried).",
                   as.failed);
        metric_u64(out, "stormwatch_alertmanager_dropped_total", "counter",
                   "Alerts dropped unsent.",
                   as.dropped);
        metric_u64(out, "stormwatch_alertmanager_queue_save_errors_total", "counter",
                   "Failed writes of the queue file (--alertmanager-queue): retried every second.",
                   as.persist_errors);
        metric_u64(out, "stormwatch_alertmanager_queue_moved_aside_total", "counter",
                   "Corrupt queue files renamed aside at start (FILE.corrupt-TIME).",
                   as.queue_moved_aside);
    }
    if (fo.has_pub) {
        metric_u64(out, "stormwatch_pub_sent_total", "counter",
                   "Alerts published on the PUB socket.",
                   fo.pub.sent);
        metric_u64(out, "stormwatch_pub_dropped_total", "counter",
                   "Alerts the PUB socket dropped (a subscriber's queue full).",
                   fo.pub.dropped);
        metric_u64(out, "stormwatch_pub_errors_total", "counter",
                   "Alerts the PUB socket failed to send (an error other than a full queue).",
                   fo.pub.errors);
    }
    metric_u64(out, "stormwatch_changes", "gauge",
               "Declared changes in the register in use.",
               LOAD(d->out.changes_n));
    metric_u64(out, "stormwatch_register_updates_lost_total", "counter",
               "Changes declared or withdrawn over the API that could not reach the register "
               "in use (out of memory): applied at the next reload.",
               LOAD(d->out.upd_lost));
    if (is.has_curve) {
        const curve_auth_stats_t cs = is.curve;
        dmn_metric(out, "stormwatch_curve_handshakes_total", "counter",
                   "CurveZMQ producers let in or refused, by result.");
        fprintf(out, "stormwatch_curve_handshakes_total{result=\"accepted\"} %" PRIu64 "\n",
                cs.accepted);
        fprintf(out, "stormwatch_curve_handshakes_total{result=\"refused_key\"} %" PRIu64 "\n",
                cs.refused_key);
        fprintf(out, "stormwatch_curve_handshakes_total{result=\"refused_other\"} %" PRIu64 "\n",
                cs.refused_other);
    }
    if (mallctl) {
        uint64_t epoch = 1;
        size_t sz = sizeof(epoch), allocated = 0, resident = 0, len = sizeof(size_t);
        mallctl("epoch", &epoch, &sz, &epoch, sz);
        if (mallctl("stats.allocated", &allocated, &len, NULL, 0) == 0 &&
            mallctl("stats.resident", &resident, &len, NULL, 0) == 0) {
            dmn_metric(out, "stormwatch_jemalloc_allocated_bytes", "gauge", "Bytes allocated (jemalloc).");
            fprintf(out, "stormwatch_jemalloc_allocated_bytes %zu\n", allocated);
            dmn_metric(out, "stormwatch_jemalloc_resident_bytes", "gauge", "Bytes resident (jemalloc).");
            fprintf(out, "stormwatch_jemalloc_resident_bytes %zu\n", resident);
        }
    }
    metric_u64(out, "stormwatch_config_last_reload_successful", "gauge",
               "Whether the last config and change register reload (SIGHUP) took: 1, or 0 "
               "when it was refused and the old ones kept. 1 at start.",
               (uint64_t)LOAD(d->mon.reload_ok));
    metric_u64(out, "stormwatch_config_last_reload_success_timestamp_seconds", "gauge",
               "Unix time of the last reload that took (or of the start).",
               (uint64_t)LOAD(d->mon.reload_ok_unix));
    dmn_metric(out, "stormwatch_build_info", "gauge", "The build, as labels; always 1.");
    fprintf(out, "stormwatch_build_info{version=\"%s\"} 1\n", SW_BUILD_VERSION);
    process_metrics(out);
}

/* The alerts firing now, as a JSON array (malloc'd), for the HTTP API. */
char *daemon_alerts_json(void *ctx)
{
    daemon_t *d = ctx;
    pthread_mutex_lock(&d->out.snap_lock);
    char *s = strdup(d->out.alerts_snapshot ? d->out.alerts_snapshot : "[]");
    pthread_mutex_unlock(&d->out.snap_lock);
    return s;
}


/* Appends one firing alert's line to the snapshot being built. */
static void snap_one(void *ctx, const alert_t *a)
{
    char **s = ctx;
    char line[8192];
    size_t n = alert_format_json(a, line, sizeof(line));
    if (n >= sizeof(line) || !*s)
        return;
    line[n - 1] = '\0'; /* no newline inside the array */
    size_t len = strlen(*s);
    char *b = realloc(*s, len + n + 2);
    if (!b)
        return;
    snprintf(b + len, n + 2, "%s%s", len > 1 ? "," : "", line);
    *s = b;
}

/* Rebuilds the JSON array of firing alerts the HTTP API serves. */
void dmn_refresh_snapshot(daemon_t *d)
{
    char *s = strdup("[");
    alerts_each_firing(d->out.as, snap_one, &s);
    if (!s)
        return;
    size_t len = strlen(s);
    char *b = realloc(s, len + 2);
    if (!b) {
        free(s);
        return;
    }
    b[len] = ']';
    b[len + 1] = '\0';
    pthread_mutex_lock(&d->out.snap_lock);
    char *old = d->out.alerts_snapshot;
    d->out.alerts_snapshot = b;
    pthread_mutex_unlock(&d->out.snap_lock);
    free(old);
}

