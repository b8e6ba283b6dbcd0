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
 * The metrics are one table, metrics[] below, in the order they are
 * written: each row gives a metric's name, type and HELP, the part of the
 * daemon it belongs to (left out while that part is not open: no
 * --record, no Kafka state topic...) and where its value is in a
 * scrape_t, the values one scrape reads at its start; a labelled family
 * (per shard, per kind, per reason) names the function that writes its
 * samples instead. daemon_write_metrics() walks the table.
 *
 * DESIGN: the metrics read only atomics, the shard threads' counters
 * (shards_stat: atomics and ring depths), /proc and the sinks' own locked
 * counters, so any thread may write them (the HTTP server's
 * do); the snapshot is built by the alert thread and swapped under
 * snap_lock.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
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

/* ---- what one scrape reads ---------------------------------------------- */

/* The parts of the daemon and of the host a metric may belong to: the
 * metrics of a part not open (no --record, no Kafka state topic, /proc
 * unreadable...) are left out. */
typedef enum {
    ALWAYS,
    FED,          /* a sample has been handed to detection */
    RECORDING,    /* --record */
    KAFKA_IN,     /* the Kafka consumer of the traffic topic */
    KAFKA_STATE,  /* --kafka-state-topic */
    KAFKA_PEERS,  /* other instances' alert lines are read */
    KAFKA_ALERTS, /* --kafka-alerts-topic */
    JOURNAL,      /* --state's journal of open alerts */
    FILE_SINK,    /* --alerts */
    AM_SINK,      /* --alertmanager */
    PUB_SINK,     /* --pub */
    CURVE,        /* CurveZMQ's handler */
    JEMALLOC,     /* linked with jemalloc, and it answered */
    PROC_STAT,    /* /proc/self/stat read */
    PROC_START,   /* ... and /proc/stat's boot time */
    PROC_FDS,     /* /proc/self/fd listed */
    FD_LIMIT,     /* getrlimit answered */
    NPARTS
} part_t;

/*
 * Everything one scrape reads, taken at its start: each module's stats,
 * the shards' counters summed, and the process's. The table below names
 * its fields; a value of another type than its field's is copied into one
 * of its own here (as the metric gives it), so that the table holds only
 * uint64_t and double values.
 */
typedef struct {
    const daemon_t *d;               /* the families per shard and per kind read it */
    int open[NPARTS];
    di_stats_t in;
    dk_stats_t kafka;
    statefile_stats_t state;
    alertjournal_stats_t journal;
    fanout_stats_t out;
    uint64_t last_save, am_pending;  /* state.last_save_unix, out.am.pending */
    uint64_t samples, duplicates, conflicts, sheds, series, learning, evicted, refused;
    uint64_t accepts, accepts_unknown;
    uint64_t moved_aside, changes, updates_lost, reload_ok, reload_ok_unix;
    double feed_time, feed_lag;      /* Unix s, s */
    uint64_t jemalloc_allocated, jemalloc_resident;
    uint64_t jemalloc_background; /* 1: a thread returns freed pages (adapters/main.c) */
    uint64_t alerts_held;         /* events the alert stage holds */
    double cpu_s, start_s;
    uint64_t virtual_bytes, resident_bytes, open_fds, max_fds;
} scrape_t;

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
 * What every Prometheus client library exports as process_*, from
 * /proc/self/stat (fields 14-15 CPU ticks, 22 start in ticks after boot,
 * 23 virtual bytes, 24 resident pages; counted after the ')' that ends the
 * command name, which may hold spaces). A file that cannot be read leaves
 * its part closed.
 */
static void scrape_process(scrape_t *s)
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
        s->open[PROC_STAT] = 1;
        s->cpu_s = (double)(utime + stime) / tck;
        s->virtual_bytes = vsize;
        s->resident_bytes = rss * (unsigned long long)page;
        double boot = boot_time_s();
        s->open[PROC_START] = boot > 0;
        s->start_s = boot + (double)start / tck;
    }
    long fds = open_fds();
    if (fds >= 0) {
        s->open[PROC_FDS] = 1;
        s->open_fds = (uint64_t)fds;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        s->open[FD_LIMIT] = 1;
        s->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    }
}

/* jemalloc's allocated and resident bytes, when it answers. */
static void scrape_jemalloc(scrape_t *s)
{
    if (!mallctl)
        return;
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), allocated = 0, resident = 0, len = sizeof(size_t);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    s->open[JEMALLOC] = mallctl("stats.allocated", &allocated, &len, NULL, 0) == 0 &&
                        mallctl("stats.resident", &resident, &len, NULL, 0) == 0;
    s->jemalloc_allocated = allocated;
    s->jemalloc_resident = resident;
    bool background = false;
    size_t blen = sizeof(background);
    if (mallctl("background_thread", &background, &blen, NULL, 0) == 0)
        s->jemalloc_background = background;
}

/* Fills s for one scrape. Any thread: it reads only atomics, ring depths,
 * the modules' stats calls and /proc. */
static void scrape(daemon_t *d, scrape_t *s)
{
    *s = (scrape_t){ .d = d };
    s->open[ALWAYS] = 1;
    di_stats(d->in, &s->in);
    s->open[RECORDING] = d->o.r.record != NULL;
    s->open[CURVE] = s->in.has_curve;
    int64_t t = LOAD(d->feed_time);
    s->feed_time = (double)t / 1e9;
    s->open[FED] = t != 0;
    s->feed_lag = wall_s() - s->feed_time;
    if (d->kafka) {
        dk_stats(d->kafka, &s->kafka);
        s->open[KAFKA_IN] = s->kafka.ingesting;
        s->open[KAFKA_STATE] = s->kafka.has_state_topic;
        s->open[KAFKA_PEERS] = s->kafka.has_peers;
        s->open[KAFKA_ALERTS] = s->kafka.has_alerts_topic;
    }
    if (d->st.saver)
        statefile_saver_stats(d->st.saver, &s->state);
    s->last_save = (uint64_t)s->state.last_save_unix;
    if (d->out.journal) {
        alertjournal_stats(d->out.journal, &s->journal);
        s->open[JOURNAL] = 1;
    }
    s->moved_aside = LOAD(d->st.state_moved_aside);
    for (unsigned i = 0; i < d->nshards; i++) {
        shards_stat_t st;
        shards_stat(d->shards, i, &st);
        s->samples += st.samples;
        s->duplicates += st.duplicates;
        s->conflicts += st.conflicts;
        s->sheds += st.sheds;
        s->series += st.series;
        s->evicted += st.evicted;
        s->refused += st.refused;
        s->accepts += st.accepts;
        s->accepts_unknown += st.accepts_unknown;
        s->learning += st.learning;
    }
    fanout_stats(d->out.fanout, &s->out);
    s->open[FILE_SINK] = s->out.has_file;
    s->open[AM_SINK] = s->out.has_am;
    s->open[PUB_SINK] = s->out.has_pub;
    s->am_pending = s->out.am.pending;
    s->changes = LOAD(d->out.changes_n);
    s->alerts_held = LOAD(d->out.alerts_held);
    s->updates_lost = LOAD(d->out.upd_lost);
    s->reload_ok = (uint64_t)LOAD(d->mon.reload_ok);
    s->reload_ok_unix = (uint64_t)LOAD(d->mon.reload_ok_unix);
    scrape_jemalloc(s);
    scrape_process(s);
}

/* ---- the metrics -------------------------------------------------------- */

typedef struct metric metric_t;

/* A labelled family's samples: sample() for each member. */
typedef void members_fn(const scrape_t *s, const metric_t *m, FILE *out);

struct metric {
    const char *name;
    const char *type;          /* counter or gauge */
    part_t part;               /* written only while this part is open */
    /* a value: where it is in scrape_t, a uint64_t or a double */
    size_t at;
    int is_double;
    /* or a labelled family: its label's name and what writes its samples */
    const char *label;
    members_fn *members;
    uint64_t (*shard_value)(const shards_stat_t *t); /* per_shard()'s: one shard's */
    const char *help;          /* NULL: the members write HELP and TYPE too */
};

/* The offset of a scrape_t field of that type: any other fails to compile. */
#define U64_AT(f) _Generic(((scrape_t *)0)->f, uint64_t: offsetof(scrape_t, f))
#define F64_AT(f) _Generic(((scrape_t *)0)->f, double: offsetof(scrape_t, f))

#define COUNTER(n, p, f, h) { .name = n, .type = "counter", .part = p, .at = U64_AT(f), .help = h }
#define GAUGE(n, p, f, h) { .name = n, .type = "gauge", .part = p, .at = U64_AT(f), .help = h }
#define COUNTER_F64(n, p, f, h) \
    { .name = n, .type = "counter", .part = p, .at = F64_AT(f), .is_double = 1, .help = h }
#define GAUGE_F64(n, p, f, h) \
    { .name = n, .type = "gauge", .part = p, .at = F64_AT(f), .is_double = 1, .help = h }
#define FAMILY(n, t, p, l, m, h) \
    { .name = n, .type = t, .part = p, .label = l, .members = m, .help = h }
#define PER_SHARD(n, t, v, h) { .name = n, .type = t, .part = ALWAYS, .label = "shard", \
                                .members = per_shard, .shard_value = v, .help = h }

/* One sample of a family: name{label="value"} v. */
static void sample(FILE *out, const metric_t *m, const char *value, uint64_t v)
{
    fprintf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", m->name, m->label, value, v);
}

/* Bad lines by reason: the short name as the label, the prose in HELP. */
static void bad_lines(const scrape_t *s, const metric_t *m, FILE *out)
{
    fprintf(out, "# HELP %s Lines skipped as bad input, by reason:", m->name);
    const char *sep = " ";
    for (int r = 0; r < LP_NRESULTS; r++)
        if (lp_result_is_bad((lp_result_t)r)) {
            fprintf(out, "%s%s = %s", sep, lp_result_name((lp_result_t)r),
                    lp_result_str((lp_result_t)r));
            sep = "; ";
        }
    fprintf(out, ".\n# TYPE %s %s\n", m->name, m->type);
    for (int r = 0; r < LP_NRESULTS; r++)
        if (lp_result_is_bad((lp_result_t)r))
            sample(out, m, lp_result_name((lp_result_t)r), s->in.bad_by_result[r]);
}

static void level_outcomes(const scrape_t *s, const metric_t *m, FILE *out)
{
    sample(out, m, "applied", s->accepts);
    sample(out, m, "unknown_user", s->accepts_unknown);
    sample(out, m, "no_data", s->in.accepts_early);
}

/* A family per shard: each shard's value, labelled by its index. */
static void per_shard(const scrape_t *s, const metric_t *m, FILE *out)
{
    for (unsigned i = 0; i < s->d->nshards; i++) {
        char index[16];
        snprintf(index, sizeof(index), "%u", i);
        shards_stat_t st;
        shards_stat(s->d->shards, i, &st);
        sample(out, m, index, m->shard_value(&st));
    }
}

static uint64_t ring_depth_of(const shards_stat_t *t) { return t->ring_depth; }
static uint64_t full_waits_of(const shards_stat_t *t) { return t->in_waits; }
static uint64_t drops_of(const shards_stat_t *t) { return t->in_drops; }

static void firing_by_kind(const scrape_t *s, const metric_t *m, FILE *out)
{
    for (int k = 0; k < ALERT_NKINDS; k++)
        sample(out, m, alert_kind_name((alert_kind_t)k), LOAD(s->d->out.firing_by_kind[k]));
}

static void curve_results(const scrape_t *s, const metric_t *m, FILE *out)
{
    sample(out, m, "accepted", s->in.curve.accepted);
    sample(out, m, "refused_key", s->in.curve.refused_key);
    sample(out, m, "refused_other", s->in.curve.refused_other);
}

static void build_version(const scrape_t *s, const metric_t *m, FILE *out)
{
    (void)s;
    sample(out, m, SW_BUILD_VERSION, 1);
}

/* Every metric of daemon_write_metrics(), in the order written. */
static const metric_t metrics[] = {
    /* ingest */
    COUNTER("stormwatch_ingest_messages_total", ALWAYS, in.msgs,
            "ZeroMQ messages received."),
    COUNTER("stormwatch_ingest_lines_total", ALWAYS, in.lines,
            "Lines received."),
    COUNTER("stormwatch_ingest_bytes_total", ALWAYS, in.bytes,
            "Bytes of line protocol received."),
    FAMILY("stormwatch_ingest_bad_lines_total", "counter", ALWAYS, "reason", bad_lines, NULL),
    COUNTER("stormwatch_ingest_disconnects_total", ALWAYS, in.disconnects,
            "Producer connections closed: by the producer, or cut off for a message over "
            "run.max_message or a protocol error."),
    COUNTER("stormwatch_ingest_late_total", ALWAYS, in.late,
            "Samples older than the allowed lateness, dropped."),
    COUNTER("stormwatch_ahead_samples_total", ALWAYS, in.ahead,
            "Samples far ahead of the feed's time (feed.max_jump) that nothing followed: dropped."),
    COUNTER("stormwatch_feed_stalls_total", ALWAYS, in.stalls,
            "Times the whole feed stalled."),
    GAUGE("stormwatch_reorder_waiting_records", ALWAYS, in.waiting,
          "Samples (and control records) waiting in the reorder buffer for input.lateness "
          "to pass, as of the ingest thread's last round."),
    GAUGE("stormwatch_reorder_buffer_bytes", ALWAYS, in.buffer_bytes,
          "Bytes the reorder buffer has allocated: it grows with the feed's rate times "
          "input.lateness and never shrinks."),
    GAUGE("stormwatch_alert_stage_held_events", ALWAYS, alerts_held,
          "Events the alert stage holds until every shard has passed them and the incident "
          "settle: mostly the User buckets' summaries, about two a User each settle."),
    GAUGE_F64("stormwatch_feed_event_time_seconds", ALWAYS, feed_time,
              "Event time of the newest sample handed to detection, Unix s; 0: none yet. "
              "Samples wait up to input.lateness (30 s) to be put in order, except when the "
              "feed stalls."),
    GAUGE_F64("stormwatch_feed_lag_seconds", FED, feed_lag,
              "Wall clock minus stormwatch_feed_event_time_seconds: how far detection is "
              "behind now (about input.lateness on a live feed; negative: the producer's "
              "clock is ahead of this host's). Absent before the first sample."),
    COUNTER("stormwatch_record_write_errors_total", RECORDING, in.record_errors,
            "Recording writes that failed (disk full...): detection goes on."),
    COUNTER("stormwatch_record_dropped_bytes_total", RECORDING, in.record_dropped,
            "Bytes of ingested traffic the recording lost to write errors."),
    COUNTER("stormwatch_source_stalls_total", ALWAYS, in.source_stalls,
            "Times one Kafka partition went quiet while the others flowed."),

    /* Kafka (kafka_side.h) */
    COUNTER("stormwatch_kafka_messages_total", KAFKA_IN, kafka.messages,
            "Kafka messages taken."),
    GAUGE("stormwatch_kafka_partitions", KAFKA_IN, kafka.partitions,
          "Kafka partitions assigned here."),
    COUNTER("stormwatch_kafka_beyond_partitions_total", KAFKA_IN, kafka.beyond,
            "Messages of partitions beyond those this build reads, dropped."),
    COUNTER("stormwatch_kafka_commits_total", KAFKA_IN, kafka.commits,
            "Offset commits of what was processed."),
    GAUGE("stormwatch_kafka_uncommitted_runs", KAFKA_IN, kafka.uncommitted,
          "Runs of messages taken and not yet committable (100 ms of event time each)."),
    COUNTER("stormwatch_kafka_states_published_total", KAFKA_STATE, kafka.states_out,
            "User states produced to the state topic."),
    COUNTER("stormwatch_kafka_states_failed_total", KAFKA_STATE, kafka.states_failed,
            "User states not produced or not delivered to the state topic."),
    COUNTER("stormwatch_kafka_states_adopted_total", KAFKA_STATE, kafka.adopted,
            "Users taken over from states read back."),
    COUNTER("stormwatch_kafka_states_refused_total", KAFKA_STATE, kafka.refused,
            "States read back that could not be taken (corrupt, other version)."),
    COUNTER("stormwatch_kafka_checkpoints_total", KAFKA_STATE, kafka.checkpoints,
            "Checkpoints delivered (every User's state; offsets may follow)."),
    COUNTER("stormwatch_kafka_checkpoint_failures_total", KAFKA_STATE, kafka.checkpoint_failures,
            "Checkpoints not delivered whole (offsets stayed behind)."),
    COUNTER("stormwatch_kafka_peer_alerts_total", KAFKA_PEERS, kafka.peer_alerts,
            "Alert lines of other instances taken from the alerts topic, to group incidents."),
    COUNTER("stormwatch_kafka_peer_alerts_refused_total", KAFKA_PEERS, kafka.peer_refused,
            "Alert lines of other instances that could not be read or queued."),
    COUNTER("stormwatch_kafka_peer_alerts_forgotten_total", KAFKA_PEERS, kafka.peer_forgotten,
            "Firing alerts of other instances forgotten unresolved (4096 held at most)."),
    COUNTER("stormwatch_kafka_alerts_sent_total", KAFKA_ALERTS, kafka.alerts_sent,
            "Alert lines Kafka acknowledged."),
    COUNTER("stormwatch_kafka_alerts_failed_total", KAFKA_ALERTS, kafka.alerts_failed,
            "Alert lines Kafka did not take."),

    /* learned state and the journal of open alerts */
    COUNTER("stormwatch_state_saves_total", ALWAYS, state.saves,
            "Learned state written to --state (checkpoints and exit)."),
    COUNTER("stormwatch_state_save_failures_total", ALWAYS, state.failures,
            "State saves that failed (disk full, write error, a shard too slow to stop)."),
    GAUGE("stormwatch_state_last_save_timestamp_seconds", ALWAYS, last_save,
          "Unix time of the last good state save; 0: none yet."),
    COUNTER("stormwatch_alerts_journal_write_errors_total", JOURNAL, journal.write_errors,
            "Transitions the journal of open alerts (--state FILE.alerts) could not keep: "
            "a restart may not resume them."),
    COUNTER("stormwatch_alerts_resumed_total", JOURNAL, journal.resumed,
            "Alerts open when the run before stopped, resumed at start."),
    COUNTER("stormwatch_state_moved_aside_total", ALWAYS, moved_aside,
            "Corrupt --state files renamed aside at start (FILE.corrupt-TIME): learning restarted."),

    /* the shards: detection */
    COUNTER("stormwatch_samples_total", ALWAYS, samples,
            "Samples accepted into detection."),
    COUNTER("stormwatch_duplicates_total", ALWAYS, duplicates,
            "Repeated samples, merged into the copy kept."),
    COUNTER("stormwatch_duplicate_conflicts_total", ALWAYS, conflicts,
            "Repeated samples whose values disagreed with the copy kept (a producer's bug or "
            "a forgery): the reading that shows more trouble is kept."),
    COUNTER("stormwatch_shed_runs_total", ALWAYS, sheds,
            "Runs of samples shed by drop_when_full: nothing is judged on them."),
    FAMILY("stormwatch_levels_accepted_total", "counter", ALWAYS, "outcome", level_outcomes,
           "Levels accepted as a User's new normal (POST /api/v1/users/.../accept), by "
           "outcome: applied, unknown_user (no such User held), no_data (asked before any "
           "sample)."),
    GAUGE("stormwatch_series", ALWAYS, series,
          "Series tracked."),
    GAUGE("stormwatch_series_learning", ALWAYS, learning,
          "Series still learning: their last sample was judged with no history yet for "
          "its time of day and kind of day (a new User, the first day or week), so their "
          "alerts are marked learning and are at most warnings. A series counts from its "
          "second sample."),
    COUNTER("stormwatch_series_evicted_total", ALWAYS, evicted,
            "Series evicted to stay under feed.max_series (the least recently read, idle)."),
    COUNTER("stormwatch_series_refused_total", ALWAYS, refused,
            "Samples of new series dropped at feed.max_series: every candidate was alerting."),
    PER_SHARD("stormwatch_ring_depth", "gauge", ring_depth_of,
              "Records waiting in each shard's ring."),
    PER_SHARD("stormwatch_ring_full_waits_total", "counter", full_waits_of,
              "Times ingest waited for room in a shard's ring."),
    PER_SHARD("stormwatch_ring_drops_total", "counter", drops_of,
              "Samples shed because a shard's ring stayed full (drop_when_full)."),

    /* alerts out (fanout.h) */
    FAMILY("stormwatch_alerts_firing", "gauge", ALWAYS, "alert", firing_by_kind,
           "Alerts firing now, by kind."),
    COUNTER("stormwatch_alert_lines_total", ALWAYS, out.lines,
            "Alert transitions written."),
    COUNTER("stormwatch_alerts_file_lines_total", FILE_SINK, out.file.lines,
            "Alert lines written whole to --alerts."),
    COUNTER("stormwatch_alerts_file_write_errors_total", FILE_SINK, out.file.write_errors,
            "Alert lines --alerts could not take (disk full, I/O error): each dropped."),
    COUNTER("stormwatch_alerts_file_dropped_bytes_total", FILE_SINK, out.file.dropped_bytes,
            "Bytes of the alert lines dropped by write errors."),
    COUNTER("stormwatch_alerts_file_reopens_total", FILE_SINK, out.file.reopens,
            "Reopens of --alerts (SIGHUP, for logrotate)."),
    COUNTER("stormwatch_alerts_file_reopen_errors_total", FILE_SINK, out.file.reopen_errors,
            "Reopens of --alerts that failed (the file before kept)."),
    GAUGE("stormwatch_alertmanager_queue", AM_SINK, am_pending,
          "Alerts waiting for an Alertmanager."),
    COUNTER("stormwatch_alertmanager_sent_total", AM_SINK, out.am.sent,
            "Alerts an Alertmanager accepted."),
    COUNTER("stormwatch_alertmanager_failed_total", AM_SINK, out.am.failed,
            "Posts that failed (retried)."),
    COUNTER("stormwatch_alertmanager_dropped_total", AM_SINK, out.am.dropped,
            "Alerts dropped unsent."),
    COUNTER("stormwatch_alertmanager_queue_save_errors_total", AM_SINK, out.am.persist_errors,
            "Failed writes of the queue file (--alertmanager-queue): retried every second."),
    COUNTER("stormwatch_alertmanager_queue_moved_aside_total", AM_SINK, out.am.queue_moved_aside,
            "Corrupt queue files renamed aside at start (FILE.corrupt-TIME)."),
    COUNTER("stormwatch_pub_sent_total", PUB_SINK, out.pub.sent,
            "Alerts published on the PUB socket."),
    COUNTER("stormwatch_pub_dropped_total", PUB_SINK, out.pub.dropped,
            "Alerts the PUB socket dropped (a subscriber's queue full)."),
    COUNTER("stormwatch_pub_errors_total", PUB_SINK, out.pub.errors,
            "Alerts the PUB socket failed to send (an error other than a full queue)."),

    /* the change register */
    GAUGE("stormwatch_changes", ALWAYS, changes,
          "Declared changes in the register in use."),
    COUNTER("stormwatch_register_updates_lost_total", ALWAYS, updates_lost,
            "Changes declared or withdrawn over the API that could not reach the register "
            "in use (out of memory): applied at the next reload."),

    /* CurveZMQ's handler (ingest) */
    FAMILY("stormwatch_curve_handshakes_total", "counter", CURVE, "result", curve_results,
           "CurveZMQ producers let in or refused, by result."),

    /* the process */
    GAUGE("stormwatch_jemalloc_allocated_bytes", JEMALLOC, jemalloc_allocated,
          "Bytes allocated (jemalloc)."),
    GAUGE("stormwatch_jemalloc_resident_bytes", JEMALLOC, jemalloc_resident,
          "Bytes resident (jemalloc)."),
    GAUGE("stormwatch_jemalloc_background_thread", JEMALLOC, jemalloc_background,
          "1 when a jemalloc thread returns the pages of freed memory to the system "
          "(the default; MALLOC_CONF=background_thread:false turns it off)."),
    GAUGE("stormwatch_config_last_reload_successful", ALWAYS, reload_ok,
          "Whether the last config and change register reload (SIGHUP) took: 1, or 0 "
          "when it was refused and the old ones kept. 1 at start."),
    GAUGE("stormwatch_config_last_reload_success_timestamp_seconds", ALWAYS, reload_ok_unix,
          "Unix time of the last reload that took (or of the start)."),
    FAMILY("stormwatch_build_info", "gauge", ALWAYS, "version", build_version,
           "The build, as labels; always 1."),
    COUNTER_F64("process_cpu_seconds_total", PROC_STAT, cpu_s,
                "Total user and system CPU time spent in seconds."),
    GAUGE("process_virtual_memory_bytes", PROC_STAT, virtual_bytes,
          "Virtual memory size in bytes."),
    GAUGE("process_resident_memory_bytes", PROC_STAT, resident_bytes,
          "Resident memory size in bytes."),
    GAUGE_F64("process_start_time_seconds", PROC_START, start_s,
              "Start time of the process since unix epoch in seconds."),
    GAUGE("process_open_fds", PROC_FDS, open_fds,
          "Number of open file descriptors."),
    GAUGE("process_max_fds", FD_LIMIT, max_fds,
          "Maximum number of open file descriptors."),
};

/* One metric of the table, when its part is open. */
static void write_metric(const scrape_t *s, const metric_t *m, FILE *out)
{
    if (!s->open[m->part])
        return;
    if (m->help)
        dmn_metric(out, m->name, m->type, m->help);
    const char *at = (const char *)s + m->at;
    if (m->members)
        m->members(s, m, out);
    else if (m->is_double)
        fprintf(out, "%s %.15g\n", m->name, *(const double *)at);
    else
        fprintf(out, "%s %" PRIu64 "\n", m->name, *(const uint64_t *)at);
}

/*
 * The daemon's own metrics in the Prometheus text exposition format. Any
 * thread may call it: it reads only atomics, ring depths and snapshots.
 */
void daemon_write_metrics(void *ctx, FILE *out)
{
    scrape_t s;
    scrape(ctx, &s);
    for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
        write_metric(&s, &metrics[i], out);
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

