/*
 * config.c - loads and validates the YAML configuration (see config.h).
 *
 * The whole file is read into memory and loaded with libyaml's document API,
 * so every node keeps its position (marks) for messages. The accepted keys
 * are data: each section lists its fields (name, type, where the value goes,
 * what range it must lie in) and its subsections, and one walker checks any
 * mapping against its section. Nothing is guessed: an unknown key, a
 * duplicate key or a value of the wrong kind is an error naming the file,
 * line, column and dotted key, because a typo in a threshold must not pass
 * silently.
 *
 * The load goes into a private cfg_t that replaces the caller's only once
 * everything has been checked, so a failed load (or reload) changes nothing.
 * Per-User overrides (`users:`) are applied after the rest of the file, so a
 * User inherits the file's global settings wherever `users:` appears.
 *
 * The `run:` section (the daemon's command line as a file) adds kinds of
 * value the detection settings don't need: strings, copied into the cfg_t,
 * a list of endpoints, byte sizes, whole numbers, booleans and the log
 * level. A section may also carry a check of how its keys go together (the
 * hysteresis of a detector, the CurveZMQ key pair).
 *
 * DESIGN: no shared state; any thread may load a configuration.
 *
 * Size: about 1300 lines, kept whole on purpose: most of it is the key
 * tables (data), and the one walker that reads any section, the value
 * parsers and the run: flags share the tables' private types.
 */
#include "config.h"
#include "yamlnode.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "err.h"
#include "idindex.h"
#include "timefmt.h"

/* Reordering holds samples back this long at most: longer is a mistake. */
#define MAX_LATENESS (600 * SW_NS_PER_S)
/* feed.idle_after at least: shards sweep for idle series every idle_after/2
 * of event time, so microseconds meant millions of sweeps per second of
 * feed (a hang); below the contract's 1 s sample interval it is a typo. */
#define MIN_IDLE_AFTER SW_NS_PER_S
/* Keys and subsections of one section, at most (the last slot is `users`). */
#define MAX_ENTRIES 40

/* The kinds of value, and what each writes at its offset. */
typedef enum {
    F_NUMBER,    /* double */
    F_DURATION,  /* int64_t nanoseconds */
    F_PRECISION, /* int64_t: nanoseconds per timestamp unit */
    F_COUNT,     /* size_t: a whole number */
    F_SIZE,      /* uint64_t bytes: a whole number, optionally with a unit (1GiB) */
    F_BOOL,      /* bool */
    F_LOG_LEVEL, /* cfg_log_level_t */
    F_LOG_FORMAT, /* cfg_log_format_t */
    F_PATH,      /* char *, allocated: a file name; YAML's null leaves it unset */
    F_ENDPOINT,  /* char *, allocated: a ZeroMQ endpoint; null leaves it unset */
    F_ENDPOINTS, /* char **, allocated, from a sequence; the count (size_t) at count_off */
    F_TIMEZONE,  /* char *, allocated: a time zone of the system's database (or UTC) */
} ftype_t;

/* Ranges a value must lie in. */
typedef enum {
    R_NONNEG,    /* >= 0 (durations always are) */
    R_POSITIVE,  /* > 0 */
    R_FRACTION,  /* 0 <= x <= 1 */
    R_LATENESS,  /* 0 <= x <= MAX_LATENESS */
    R_IDLE,      /* MIN_IDLE_AFTER <= x */
    R_SHARDS,    /* 0 <= x <= CFG_MAX_SHARDS */
    R_RING,      /* CFG_MIN_RING_SIZE <= x <= CFG_MAX_RING_SIZE */
    R_LINE,      /* SW_MIN_MAX_LINE <= x <= SW_MAX_MAX_LINE */
    R_MESSAGE,   /* CFG_MIN_MAX_MESSAGE <= x <= CFG_MAX_MAX_MESSAGE */
    R_WIDESPREAD,/* 2 <= x <= 1000000 */
    R_ANY,       /* no range: not a number, or any value of its type */
} range_t;

/* Which struct a section writes into. */
typedef enum { T_INGEST, T_DETECT, T_CORR, T_RUN, T_GLOBAL, T_COUNT } target_t;

typedef struct {
    const char *key;
    ftype_t type;
    size_t off;       /* offset of the field in the section's target struct */
    range_t range;
    size_t count_off; /* F_ENDPOINTS: offset of the count */
    int global;       /* written into the cfg_t itself: top level only, never per User */
    const char *flag; /* run: settings: `stormwatch run`'s flag for it (NULL: none) */
    int short_opt;    /* and its one-letter form (0: none) */
} field_t;

typedef struct loader loader_t;
typedef struct section section_t;

/*
 * A rule on how the keys of a section go together, checked once its mapping
 * has been read: `base` is the section's target struct, values[i] the value
 * node of field i (NULL when the mapping did not set it), `map` the mapping.
 * 0, or the error of fail().
 */
typedef int (*check_fn)(loader_t *L, const section_t *sec, const char *path, const void *base,
                        yaml_node_t *const *values, const yaml_node_t *map);

struct section {
    const char *key;
    target_t target;
    const field_t *fields;          /* terminated by a NULL key; may be NULL */
    const section_t *const *subs;   /* terminated by NULL; may be NULL */
    check_fn check;                 /* may be NULL */
    /* For check_order (hysteresis): field `less` must be strictly below `greater`. */
    const char *less, *greater;
    int has_users;                  /* the top level: also accepts `users:` */
};

static int check_order(loader_t *L, const section_t *sec, const char *path, const void *base,
                       yaml_node_t *const *values, const yaml_node_t *map);
static int check_curve(loader_t *L, const section_t *sec, const char *path, const void *base,
                       yaml_node_t *const *values, const yaml_node_t *map);
static int check_shift(loader_t *L, const section_t *sec, const char *path, const void *base,
                       yaml_node_t *const *values, const yaml_node_t *map);
static const char *tz_dir(void);
static int tz_known(const char *name);

#define DF(k, t, f, r) { k, t, offsetof(detect_params_t, f), r }
#define IF(k, t, f, r) { k, t, offsetof(ingest_params_t, f), r }
#define CF(k, t, f, r) { k, t, offsetof(corr_params_t, f), r }
/* A run: key and the flag that sets the same thing: one row, so the
 * file and the command line cannot drift apart (cfg_run_flag()). */
#define RF(k, t, f, r, flag) { k, t, offsetof(run_cfg_t, f), r, 0, 0, flag, 0 }
#define RF1(k, t, f, r, flag, c) { k, t, offsetof(run_cfg_t, f), r, 0, 0, flag, c }
#define RFL(k, f, flag, c) { k, F_ENDPOINTS, offsetof(run_cfg_t, f), R_ANY, \
                             offsetof(run_cfg_t, n_##f), 0, flag, c }

#define GF(k, t, f, r) { k, t, offsetof(cfg_t, f), r, 0, 1 }

static const field_t input_fields[] = {
    IF("lateness", F_DURATION, lateness, R_LATENESS),
    IF("timestamp_precision", F_PRECISION, ts_mult, R_POSITIVE),
    { 0 },
};
static const field_t feed_fields[] = {
    IF("stall_after", F_DURATION, stall_after, R_POSITIVE),
    IF("stall_cadences", F_NUMBER, stall_cadences, R_POSITIVE),
    IF("idle_after", F_DURATION, idle_after, R_IDLE),
    IF("idle_cadences", F_NUMBER, idle_cadences, R_POSITIVE),
    IF("max_series", F_COUNT, max_series, R_ANY),
    IF("max_jump", F_DURATION, max_jump, R_POSITIVE),
    IF("max_line", F_SIZE, max_line, R_LINE),
    { 0 },
};
static const field_t baseline_fields[] = {
    DF("tau", F_DURATION, base_tau, R_POSITIVE),
    DF("warmup", F_DURATION, base_warmup, R_NONNEG),
    DF("dispersion", F_NUMBER, base_dispersion, R_NONNEG),
    DF("daily_tolerance", F_DURATION, daily_tolerance, R_NONNEG),
    DF("daily_weight", F_NUMBER, daily_weight, R_FRACTION),
    DF("daily_outlier_weight", F_NUMBER, daily_outlier_weight, R_FRACTION),
    DF("daily_outlier_ratio", F_NUMBER, daily_outlier_ratio, R_POSITIVE),
    DF("scale_tau", F_DURATION, base_scale_tau, R_POSITIVE),
    DF("damp_ratio", F_NUMBER, base_damp_ratio, R_POSITIVE),
    DF("damp_weight", F_NUMBER, base_damp_weight, R_FRACTION),
    DF("damp_max", F_DURATION, base_damp_max, R_NONNEG),
    GF("timezone", F_TIMEZONE, timezone, R_ANY),
    { 0 },
};
static const field_t storm_fields[] = {
    DF("ratio_fire", F_NUMBER, storm_ratio_fire, R_POSITIVE),
    DF("false_per_year", F_NUMBER, storm_false_per_year, R_POSITIVE),
    DF("min_excess_rate", F_NUMBER, storm_min_excess, R_NONNEG),
    DF("min_excess_count", F_NUMBER, storm_min_count, R_NONNEG),
    DF("ratio_clear", F_NUMBER, storm_ratio_clear, R_POSITIVE),
    DF("for", F_DURATION, storm_for, R_NONNEG),
    DF("hold", F_DURATION, storm_hold, R_NONNEG),
    DF("burst_ratio", F_NUMBER, storm_burst_ratio, R_POSITIVE),
    DF("burst_length", F_DURATION, storm_burst_length, R_POSITIVE),
    DF("window_short", F_DURATION, storm_window_short, R_POSITIVE),
    DF("window_long", F_DURATION, storm_window_long, R_POSITIVE),
    DF("ratio_sustained", F_NUMBER, storm_ratio_sustained, R_POSITIVE),
    DF("z_window", F_NUMBER, storm_z_window, R_NONNEG),
    DF("onset_ratio", F_NUMBER, storm_onset_ratio, R_POSITIVE),
    DF("clear_window", F_DURATION, storm_clear_window, R_POSITIVE),
    { 0 },
};
static const field_t blocked_fields[] = {
    DF("window", F_DURATION, blocked_window, R_POSITIVE),
    DF("delivery_ratio_fire", F_NUMBER, blocked_ratio_fire, R_FRACTION),
    DF("delivery_ratio_clear", F_NUMBER, blocked_ratio_clear, R_FRACTION),
    DF("min_backlog", F_NUMBER, blocked_min_backlog, R_NONNEG),
    DF("for", F_DURATION, blocked_for, R_NONNEG),
    DF("hold", F_DURATION, blocked_hold, R_NONNEG),
    { 0 },
};
static const field_t silence_fields[] = {
    DF("max_fraction", F_NUMBER, silence_max_fraction, R_FRACTION),
    DF("false_per_year", F_NUMBER, silence_false_per_year, R_POSITIVE),
    DF("clear_fraction", F_NUMBER, silence_clear_fraction, R_FRACTION),
    DF("clear_window", F_DURATION, silence_clear_window, R_POSITIVE),
    DF("for", F_DURATION, silence_for, R_NONNEG),
    DF("hold", F_DURATION, silence_hold, R_NONNEG),
    { 0 },
};
static const field_t shift_fields[] = {
    DF("window", F_DURATION, shift_window, R_POSITIVE),
    DF("ratio_up", F_NUMBER, shift_ratio_up, R_POSITIVE),
    DF("ratio_down", F_NUMBER, shift_ratio_down, R_POSITIVE),
    DF("clear_up", F_NUMBER, shift_clear_up, R_POSITIVE),
    DF("clear_down", F_NUMBER, shift_clear_down, R_POSITIVE),
    DF("z", F_NUMBER, shift_z, R_NONNEG),
    DF("min_rate", F_NUMBER, shift_min_rate, R_NONNEG),
    DF("for", F_DURATION, shift_for, R_NONNEG),
    DF("hold", F_DURATION, shift_hold, R_NONNEG),
    { 0 },
};
static const field_t blast_fields[] = {
    DF("z", F_NUMBER, blast_z, R_NONNEG),
    DF("min_increase", F_NUMBER, blast_min_increase, R_NONNEG),
    { 0 },
};
static const field_t limit_fields[] = {
    DF("south_rate", F_NUMBER, limit_south_rate, R_NONNEG),
    DF("north_rate", F_NUMBER, limit_north_rate, R_NONNEG),
    { 0 },
};
static const field_t corr_fields[] = {
    CF("early", F_DURATION, early, R_NONNEG),
    CF("late", F_DURATION, late, R_NONNEG),
    CF("proximity", F_DURATION, proximity, R_POSITIVE),
    CF("min_score", F_NUMBER, min_score, R_FRACTION),
    { 0 },
};
static const field_t incident_fields[] = {
    CF("grace", F_DURATION, incident_grace, R_NONNEG),
    CF("settle", F_DURATION, incident_settle, R_NONNEG),
    CF("widespread_users", F_COUNT, widespread_users, R_WIDESPREAD),
    CF("widespread_window", F_DURATION, widespread_window, R_POSITIVE),
    { 0 },
};

/* Defaults of `run:` that are not zero, false or unset: those of the daemon's flags. */
#define DEFAULT_RECORD_MAX (UINT64_C(1) << 30)     /* 1 GiB */
#define DEFAULT_RING_SIZE ((size_t)65536)
#define DEFAULT_STATS_EVERY (10 * SW_NS_PER_S)
#define DEFAULT_STATE_EVERY (300 * SW_NS_PER_S)
/* A kill -9 re-reads what came after the last Kafka checkpoint; re-read
 * samples older than the survivor's clock minus the lateness (30 s) are
 * late, so the checkpoint comes well inside the lateness. */
#define DEFAULT_KAFKA_CHECKPOINT (10 * SW_NS_PER_S)
#define DEFAULT_LOG_LEVEL CFG_LOG_INFO
/* A message of 1000 sample lines is about 150 KB: 16 MiB holds a hundred of
 * those, and keeps one hostile message from costing gigabytes. */
#define DEFAULT_MAX_MESSAGE (UINT64_C(16) << 20)
/* Reading what is still queued at SIGTERM stops after this, so a producer
 * that never pauses cannot hold the daemon up: well inside the unit's stop
 * timeout, with room for the pipeline, the alert lines and the state. */
#define DEFAULT_DRAIN_TIMEOUT (10 * SW_NS_PER_S)

static const field_t run_fields[] = {
    RFL("ingest", ingest, "ingest", 'i'),
    RF1("alerts", F_PATH, alerts, R_ANY, "alerts", 'a'),
    RF("change_checks", F_PATH, change_checks, R_ANY, "change-checks"),
    RF("pub", F_ENDPOINT, pub, R_ANY, "pub"),
    RF1("changes", F_PATH, changes, R_ANY, "changes", 'C'),
    RF1("state", F_PATH, state, R_ANY, "state", 's'),
    RF("record", F_PATH, record, R_ANY, "record"),
    RF("record_max", F_SIZE, record_max, R_ANY, "record-max"),
    RF("record_gzip", F_BOOL, record_gzip, R_ANY, "record-gzip"),
    RF("shards", F_COUNT, shards, R_SHARDS, "shards"),
    RF("ring_size", F_COUNT, ring_size, R_RING, "ring-size"),
    RF("drop_when_full", F_BOOL, drop_when_full, R_ANY, "drop-when-full"),
    RF("max_message", F_SIZE, max_message, R_MESSAGE, "max-message"),
    RF("drain_timeout", F_DURATION, drain_timeout, R_POSITIVE, "drain-timeout"),
    RF("strict_files", F_BOOL, strict_files, R_ANY, "strict-files"),
    RF("stats_every", F_DURATION, stats_every, R_NONNEG, "stats-every"),
    RF("state_every", F_DURATION, state_every, R_NONNEG, "state-every"),
    RF("log_level", F_LOG_LEVEL, log_level, R_ANY, "log-level"),
    RF("log_format", F_LOG_FORMAT, log_format, R_ANY, "log-format"),
    RFL("alertmanager", alertmanager, "alertmanager", 0),
    RF("alertmanager_queue", F_PATH, alertmanager_queue, R_ANY, "alertmanager-queue"),
    RF("generator_url", F_ENDPOINT, generator_url, R_ANY, "generator-url"),
    RF("http", F_ENDPOINT, http, R_ANY, "http"),
    RF("http_token_file", F_PATH, http_token_file, R_ANY, "http-token-file"),
    RF("http_tls_cert", F_PATH, http_tls_cert, R_ANY, "http-tls-cert"),
    RF("http_tls_key", F_PATH, http_tls_key, R_ANY, "http-tls-key"),
    RF("changes_journal", F_PATH, changes_journal, R_ANY, "changes-journal"),
    RF("kafka_brokers", F_ENDPOINT, kafka_brokers, R_ANY, "kafka-brokers"),
    RF("kafka_topic", F_PATH, kafka_topic, R_ANY, "kafka-topic"),
    RF("kafka_group", F_PATH, kafka_group, R_ANY, "kafka-group"),
    RF("kafka_alerts_topic", F_PATH, kafka_alerts_topic, R_ANY, "kafka-alerts-topic"),
    RF("kafka_changes_topic", F_PATH, kafka_changes_topic, R_ANY, "kafka-changes-topic"),
    RF("kafka_state_topic", F_PATH, kafka_state_topic, R_ANY, "kafka-state-topic"),
    RF("kafka_checkpoint", F_DURATION, kafka_checkpoint, R_POSITIVE, "kafka-checkpoint"),
    RFL("kafka_properties", kafka_properties, "kafka-property", 0),
    { 0 },
};
static const field_t curve_fields[] = {
    RF("secret_key", F_PATH, curve.secret_key, R_ANY, "curve-secret"),
    RF("public_key", F_PATH, curve.public_key, R_ANY, "curve-public"),
    RF("allowed_keys", F_PATH, curve.allowed_keys, R_ANY, "curve-allow"),
    { 0 },
};

static const section_t sec_input = { .key = "input", .target = T_INGEST, .fields = input_fields };
static const section_t sec_feed = { .key = "feed", .target = T_INGEST, .fields = feed_fields };
static const section_t sec_baseline = { .key = "baseline", .target = T_DETECT,
                                        .fields = baseline_fields };
static const section_t sec_storm = { .key = "storm", .target = T_DETECT, .fields = storm_fields,
                                     .check = check_order, .less = "ratio_clear",
                                     .greater = "ratio_fire" };
static const section_t sec_blocked = { .key = "blocked_route", .target = T_DETECT,
                                       .fields = blocked_fields, .check = check_order,
                                       .less = "delivery_ratio_fire",
                                       .greater = "delivery_ratio_clear" };
static const section_t sec_silence = { .key = "silence", .target = T_DETECT,
                                       .fields = silence_fields, .check = check_order,
                                       .less = "max_fraction", .greater = "clear_fraction" };
static const section_t sec_shift = { .key = "shift", .target = T_DETECT, .fields = shift_fields,
                                     .check = check_shift };
static const section_t sec_blast = { .key = "blast_radius", .target = T_DETECT,
                                     .fields = blast_fields };
static const section_t *const detector_subs[] = { &sec_storm, &sec_blocked, &sec_silence,
                                                  &sec_shift, &sec_blast, NULL };
static const section_t sec_detectors = { .key = "detectors", .target = T_DETECT,
                                         .subs = detector_subs };
static const section_t sec_limits = { .key = "limits", .target = T_DETECT, .fields = limit_fields };
static const section_t sec_corr = { .key = "correlation", .target = T_CORR, .fields = corr_fields };
static const section_t sec_incidents = { .key = "incidents", .target = T_CORR,
                                         .fields = incident_fields };
static const section_t sec_curve = { .key = "curve", .target = T_RUN, .fields = curve_fields,
                                     .check = check_curve };
static const section_t *const run_subs[] = { &sec_curve, NULL };
static const section_t sec_run = { .key = "run", .target = T_RUN, .fields = run_fields,
                                   .subs = run_subs };

static const section_t *const top_subs[] = { &sec_input, &sec_feed, &sec_baseline, &sec_detectors,
                                             &sec_limits, &sec_corr, &sec_incidents, &sec_run,
                                             NULL };
static const section_t sec_top = { .key = "", .subs = top_subs, .has_users = 1 };

/* What a User may override: the detection settings only (not run:). */
static const section_t *const user_subs[] = { &sec_baseline, &sec_detectors, &sec_limits, NULL };
static const section_t sec_user = { .key = "", .subs = user_subs };

/* State of one load. */
struct loader {
    const char *path;
    const char *flag;      /* reading a command-line flag's value (messages: "--flag: ...") */
    yaml_document_t doc;   /* the document being read */
    char *err;
    size_t errlen;
};

static void put_err(loader_t *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_err(loader_t *L, const char *fmt, ...)
{
    if (!L->err || L->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err, L->errlen, fmt, ap);
    va_end(ap);
}

/* "PATH:LINE:COL: KEY: message" at `node`; KEY is left out when empty. */
static int fail(loader_t *L, const yaml_node_t *node, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(loader_t *L, const yaml_node_t *node, const char *key, const char *fmt, ...)
{
    char msg[1024]; /* room for the run section's list of keys */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (L->flag) {
        put_err(L, "--%s: %s", L->flag, msg);
        return SW_ECONFIG;
    }
    put_err(L, "%s:%lu:%lu: %s%s%s", L->path, (unsigned long)node->start_mark.line + 1,
            (unsigned long)node->start_mark.column + 1, key, *key ? ": " : "", msg);
    return SW_ECONFIG;
}

static int out_of_memory(loader_t *L)
{
    put_err(L, "%s%s: %s", L->flag ? "--" : "", L->flag ? L->flag : L->path,
            sw_strerror(SW_ENOMEM));
    return SW_ENOMEM;
}


/* A decimal number as YAML writes one: [+-]digits[.digits][e[+-]digits]. */
static int parse_number(const char *s, double *v)
{
    const char *p = s;
    size_t nd = 0;
    if (*p == '+' || *p == '-')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        nd++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            nd++;
    if (nd == 0)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return -1;
    char *end;
    double d = strtod(s, &end);
    if (*end || !isfinite(d))
        return -1;
    *v = d;
    return 0;
}

/* A whole number as YAML writes one: [+-]digits. */
static int parse_integer(const char *s, double *v)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!*p || strspn(p, "0123456789") != strlen(p))
        return -1;
    return parse_number(s, v);
}


/* YAML 1.1's booleans, in any case: true/false, yes/no, on/off. 0, or -1. */
static int parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *b = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

/* Checks `v` (a number, or a duration in seconds) against `r`; NULL when it fits. */
static const char *range_problem(range_t r, double v, char *buf, size_t len)
{
    switch (r) {
    case R_NONNEG:
        return v < 0 ? "must not be negative" : NULL;
    case R_POSITIVE:
        return v <= 0 ? "must be greater than 0" : NULL;
    case R_FRACTION:
        return v < 0 || v > 1 ? "must be between 0 and 1" : NULL;
    case R_LATENESS:
        return v > (double)(MAX_LATENESS / SW_NS_PER_S) ? "must be at most 10m" : NULL;
    case R_IDLE:
        return v < (double)(MIN_IDLE_AFTER / SW_NS_PER_S) ? "must be at least 1s" : NULL;
    case R_WIDESPREAD:
        return v < 2 || v > 1e6 ? "must be between 2 and 1000000" : NULL;
    case R_SHARDS:
        if (v >= 0 && v <= CFG_MAX_SHARDS)
            return NULL;
        snprintf(buf, len, "must be between 0 and %d", CFG_MAX_SHARDS);
        return buf;
    case R_RING:
        if (v >= CFG_MIN_RING_SIZE && v <= (double)CFG_MAX_RING_SIZE)
            return NULL;
        if (v < CFG_MIN_RING_SIZE)
            snprintf(buf, len, "must be at least %d", CFG_MIN_RING_SIZE);
        else
            snprintf(buf, len, "must be at most %zu", (size_t)CFG_MAX_RING_SIZE);
        return buf;
    case R_LINE:
        if (v >= (double)SW_MIN_MAX_LINE && v <= (double)SW_MAX_MAX_LINE)
            return NULL;
        snprintf(buf, len, "must be between %" PRIu64 " and %" PRIu64 " bytes", SW_MIN_MAX_LINE,
                 SW_MAX_MAX_LINE);
        return buf;
    case R_MESSAGE:
        if (v >= (double)CFG_MIN_MAX_MESSAGE && v <= (double)CFG_MAX_MAX_MESSAGE)
            return NULL;
        snprintf(buf, len, "must be between %" PRIu64 " and %" PRIu64 " bytes",
                 CFG_MIN_MAX_MESSAGE, CFG_MAX_MAX_MESSAGE);
        return buf;
    case R_ANY:
        return NULL;
    }
    return NULL;
}

/*
 * Copies the string at node `v` into *dst (freeing what was there); `what`
 * names what was expected, for the message. On error *dst is unchanged.
 */
static int load_string(loader_t *L, const yaml_node_t *v, const char *key, const char *what,
                       char **dst)
{
    char got[256];
    if (v->type != YAML_SCALAR_NODE || !*yn_scalar(v))
        return fail(L, v, key, "expected %s, got %s", what, yn_describe(v, got, sizeof(got)));
    if (strlen(yn_scalar(v)) != v->data.scalar.length)
        return fail(L, v, key, "must not contain a NUL character");
    char *copy = strdup(yn_scalar(v));
    if (!copy)
        return out_of_memory(L);
    free(*dst);
    *dst = copy;
    return 0;
}

/*
 * Reads the sequence `seq` of endpoints into a new array at *list, counted in
 * *n (both still empty). The array is in place before the first copy and *n
 * counts the copies made, so on error cfg_free() releases what was read.
 */
static int load_endpoints(loader_t *L, const yaml_node_t *seq, const char *key, char ***list,
                          size_t *n)
{
    static const char what[] = "an endpoint string";
    char got[256];
    if (yn_is_null(seq))
        return 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail(L, seq, key, "expected a sequence of endpoint strings, got %s",
                    yn_describe(seq, got, sizeof(got)));
    const yaml_node_item_t *items = seq->data.sequence.items.start;
    size_t count = (size_t)(seq->data.sequence.items.top - items);
    if (count == 0)
        return 0;
    if (count > CFG_MAX_INGEST)
        return fail(L, seq, key, "at most %d endpoints, got %zu", CFG_MAX_INGEST, count);
    *list = calloc(count, sizeof(char *));
    if (!*list)
        return out_of_memory(L);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = yaml_document_get_node(&L->doc, items[i]);
        char ikey[544]; /* key (< 512) and "[index]" */
        snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
        if (yn_is_null(item)) /* not "unset" here: a list has no holes */
            return fail(L, item, ikey, "expected %s, got %s", what,
                        yn_describe(item, got, sizeof(got)));
        for (size_t j = 0; item->type == YAML_SCALAR_NODE && j < *n; j++) {
            if (strcmp((*list)[j], yn_scalar(item)) == 0) {
                const yaml_node_t *first = yaml_document_get_node(&L->doc, items[j]);
                return fail(L, item, ikey, "duplicate endpoint (first at line %lu)",
                            (unsigned long)first->start_mark.line + 1);
            }
        }
        int rc = load_string(L, item, ikey, what, &(*list)[i]);
        if (rc < 0)
            return rc;
        (*n)++;
    }
    return 0;
}

/* Parses the value of field `f` at node `v` into its place in `base`. */
static int load_field(loader_t *L, const field_t *f, const yaml_node_t *v, const char *key,
                      void *base)
{
    static const struct {
        const char *name;
        int64_t mult;
    } precisions[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", SW_NS_PER_S } };
    /* Indexed by cfg_log_level_t. */
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    /* Indexed by cfg_log_format_t. */
    static const char *const formats[] = { "text", "logfmt", "json" };
    void *dst = (char *)base + f->off;
    char got[256], buf[128];
    const char *what = NULL;
    switch (f->type) {
    case F_NUMBER: what = "a number"; break;
    case F_DURATION: what = "a duration (e.g. 30s, 5m, 1h30m)"; break;
    case F_PRECISION: what = "one of ns, us, ms, s"; break;
    case F_COUNT: what = "an integer"; break;
    case F_SIZE: what = "a size in bytes (e.g. 1048576, 512MiB, 1GiB, 100MB)"; break;
    case F_BOOL: what = "true or false (or yes/no, on/off)"; break;
    case F_LOG_LEVEL: what = "one of error, warn, info, debug"; break;
    case F_LOG_FORMAT: what = "one of text, logfmt, json"; break;
    case F_PATH: what = "a path"; break;
    case F_TIMEZONE: what = "a time zone such as Europe/London"; break;
    case F_ENDPOINT: what = "an endpoint string"; break;
    case F_ENDPOINTS:
        return load_endpoints(L, v, key, (char ***)dst,
                              (size_t *)(void *)((char *)base + f->count_off));
    }
    if ((f->type == F_PATH || f->type == F_ENDPOINT) && yn_is_null(v))
        return 0; /* unset, as by default */
    if (v->type != YAML_SCALAR_NODE)
        return fail(L, v, key, "expected %s, got %s", what, yn_describe(v, got, sizeof(got)));
    const char *s = yn_scalar(v);
    const char *problem = NULL;
    switch (f->type) {
    case F_NUMBER: {
        double d;
        if (parse_number(s, &d) < 0)
            break;
        if ((problem = range_problem(f->range, d, buf, sizeof(buf))) != NULL)
            return fail(L, v, key, "%s", problem);
        *(double *)dst = d;
        return 0;
    }
    case F_DURATION: {
        int64_t ns;
        if (tf_parse_duration(s, &ns) < 0) {
            if (s[0] == '-' && tf_parse_duration(s + 1, &ns) == 0)
                return fail(L, v, key, "must not be negative");
            break;
        }
        problem = range_problem(f->range, (double)ns / (double)SW_NS_PER_S, buf, sizeof(buf));
        if (problem)
            return fail(L, v, key, "%s", problem);
        *(int64_t *)dst = ns;
        return 0;
    }
    case F_PRECISION:
        for (size_t i = 0; i < sizeof(precisions) / sizeof(precisions[0]); i++) {
            if (strcmp(s, precisions[i].name) == 0) {
                *(int64_t *)dst = precisions[i].mult;
                return 0;
            }
        }
        break;
    case F_COUNT: {
        double d;
        if (parse_integer(s, &d) < 0)
            break;
        if ((problem = range_problem(f->range, d, buf, sizeof(buf))) != NULL)
            return fail(L, v, key, "%s", problem);
        /* R_ANY too: the value must fit a size_t (converting one that does
         * not is undefined behaviour) */
        if (d < 0)
            return fail(L, v, key, "must not be negative");
        if (d >= (double)SIZE_MAX + 1.0)
            return fail(L, v, key, "is too large");
        *(size_t *)dst = (size_t)d;
        return 0;
    }
    case F_SIZE: {
        uint64_t bytes;
        int rc = tf_parse_size(s, &bytes);
        if (rc == -1 && s[0] == '-' && tf_parse_size(s + 1, &bytes) != -1)
            return fail(L, v, key, "must not be negative");
        if (rc == -2)
            return fail(L, v, key, "must be less than 16EiB");
        if (rc < 0)
            break;
        if ((problem = range_problem(f->range, (double)bytes, buf, sizeof(buf))) != NULL)
            return fail(L, v, key, "%s", problem);
        *(uint64_t *)dst = bytes;
        return 0;
    }
    case F_BOOL:
        if (parse_bool(s, (bool *)dst) < 0)
            break;
        return 0;
    case F_LOG_LEVEL:
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
            if (strcmp(s, levels[i]) == 0) {
                *(cfg_log_level_t *)dst = (cfg_log_level_t)i;
                return 0;
            }
        }
        break;
    case F_LOG_FORMAT:
        for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
            if (strcmp(s, formats[i]) == 0) {
                *(cfg_log_format_t *)dst = (cfg_log_format_t)i;
                return 0;
            }
        }
        break;
    case F_PATH:
    case F_ENDPOINT:
        return load_string(L, v, key, what, (char **)dst);
    case F_TIMEZONE:
        if (!tz_known(s))
            return fail(L, v, key, "unknown time zone '%s' (not in %s)", s, tz_dir());
        return load_string(L, v, key, what, (char **)dst);
    case F_ENDPOINTS:
        break; /* read above */
    }
    return fail(L, v, key, "expected %s, got %s", what, yn_describe(v, got, sizeof(got)));
}

/* "a.b" + "c" -> "a.b.c" (truncated to the buffer; only used in messages). */
static void join_key(char *buf, size_t len, const char *parent, const char *key)
{
    snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", key);
}

/* Appends ", word" (or "word" first) to the string in buf, within len bytes. */
static void append_word(char *buf, size_t len, const char *word)
{
    size_t n = strlen(buf);
    if (n < len)
        snprintf(buf + n, len - n, "%s%s", n ? ", " : "", word);
}

/* The keys of `sec`, for "expected one of ..." messages. */
static void list_keys(const section_t *sec, char *buf, size_t len)
{
    buf[0] = '\0';
    for (const field_t *f = sec->fields; f && f->key; f++)
        append_word(buf, len, f->key);
    for (const section_t *const *s = sec->subs; s && *s; s++)
        append_word(buf, len, (*s)->key);
    if (sec->has_users)
        append_word(buf, len, "users");
}

static const field_t *find_field(const section_t *sec, const char *key, size_t *idx)
{
    for (size_t i = 0; sec->fields && sec->fields[i].key; i++) {
        if (strcmp(sec->fields[i].key, key) == 0) {
            *idx = i;
            return &sec->fields[i];
        }
    }
    return NULL;
}

/*
 * Checks the hysteresis rule of `sec` (less < greater) once its mapping has
 * been read; the message goes to whichever of the two keys this mapping set.
 */
static int order_pair(loader_t *L, const section_t *sec, const char *path, const void *base,
                      yaml_node_t *const *values, const yaml_node_t *map, const char *less,
                      const char *greater)
{
    size_t lo = 0, hi = 0;
    const field_t *flo = find_field(sec, less, &lo);
    const field_t *fhi = find_field(sec, greater, &hi);
    double vlo = *(const double *)((const char *)base + flo->off);
    double vhi = *(const double *)((const char *)base + fhi->off);
    if (vlo < vhi)
        return 0;
    char key[512];
    if (values[hi] || !values[lo]) {
        join_key(key, sizeof(key), path, fhi->key);
        return fail(L, values[hi] ? values[hi] : map, key, "must be greater than %s (%g)",
                    flo->key, vlo);
    }
    join_key(key, sizeof(key), path, flo->key);
    return fail(L, values[lo], key, "must be less than %s (%g)", fhi->key, vhi);
}

static int check_order(loader_t *L, const section_t *sec, const char *path, const void *base,
                       yaml_node_t *const *values, const yaml_node_t *map)
{
    return order_pair(L, sec, path, base, values, map, sec->less, sec->greater);
}

/* A shift's thresholds nest: ratio_down < clear_down and clear_up < ratio_up. */
static int check_shift(loader_t *L, const section_t *sec, const char *path, const void *base,
                       yaml_node_t *const *values, const yaml_node_t *map)
{
    int rc = order_pair(L, sec, path, base, values, map, "ratio_down", "clear_down");
    return rc ? rc : order_pair(L, sec, path, base, values, map, "clear_up", "ratio_up");
}

/* The system's time zone database (TZDIR, as the C library reads it). */
static const char *tz_dir(void)
{
    const char *d = getenv("TZDIR");
    return d && *d ? d : "/usr/share/zoneinfo";
}

/* Whether `s` is a POSIX TZ rule: a standard name of three or more
 * letters (or <...>) and then an offset, such as GMT0BST,M3.5.0/1,M10.5.0.
 * The C library reads those without its database. */
static int tz_is_rule(const char *s)
{
    size_t n = 0;
    if (s[0] == '<') {
        const char *e = strchr(s, '>');
        n = e ? (size_t)(e - s) + 1 : 0;
    } else {
        while (isalpha((unsigned char)s[n]))
            n++;
    }
    if (n < 3)
        return 0;
    s += n;
    s += *s == '+' || *s == '-';
    return isdigit((unsigned char)*s);
}

/* Whether the C library knows time zone `name`: UTC, a POSIX rule, or a
 * file of the database (a name, not a path: no leading '/', no ".."). */
static int tz_known(const char *name)
{
    if (strcmp(name, "UTC") == 0 || tz_is_rule(name))
        return 1;
    if (!*name || name[0] == '/' || strstr(name, "..") || strlen(name) > 200)
        return 0;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tz_dir(), name);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The CurveZMQ rule: the server's secret and public key go together, and an
 * allowed-keys list needs them. A missing key is named at the mapping.
 */
static int check_curve(loader_t *L, const section_t *sec, const char *path, const void *base,
                       yaml_node_t *const *values, const yaml_node_t *map)
{
    const run_cfg_t *run = base;
    const char *missing = NULL;
    char key[512];
    if (run->curve.secret_key && !run->curve.public_key)
        missing = "public_key";
    else if (run->curve.public_key && !run->curve.secret_key)
        missing = "secret_key";
    if (missing) {
        join_key(key, sizeof(key), path, missing);
        return fail(L, map, key, "missing: secret_key and public_key go together");
    }
    size_t allowed = 0;
    if (run->curve.allowed_keys && !run->curve.secret_key &&
        find_field(sec, "allowed_keys", &allowed)) {
        join_key(key, sizeof(key), path, "allowed_keys");
        return fail(L, values[allowed] ? values[allowed] : map, key,
                    "needs secret_key and public_key (the server's key pair)");
    }
    return 0;
}

/*
 * Reads mapping `map` (at dotted key `path`) as section `sec`, writing into
 * targets[sec->target]. The top level's `users:` value is not read here but
 * handed back in *users, to be read once the global settings are final.
 */
static int load_section(loader_t *L, const section_t *sec, const char *path, yaml_node_t *map,
                        void *const targets[T_COUNT], yaml_node_t **users)
{
    char got[256];
    if (yn_is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE) {
        if (!*path)
            return fail(L, map, "", "expected a mapping at the top level, got %s",
                        yn_describe(map, got, sizeof(got)));
        return fail(L, map, path, "expected a mapping, got %s", yn_describe(map, got, sizeof(got)));
    }
    /* Where each field, subsection and `users` was first seen (keys and values). */
    yaml_node_t *keys[MAX_ENTRIES] = { 0 }, *values[MAX_ENTRIES] = { 0 };
    size_t nfields = 0;
    while (sec->fields && sec->fields[nfields].key)
        nfields++;
    const size_t users_slot = MAX_ENTRIES - 1;

    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, pr->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(L, k, path, "expected a key name, got %s", yn_describe(k, got, sizeof(got)));
        char key[512];
        join_key(key, sizeof(key), path, yn_scalar(k));

        size_t slot = 0;
        const field_t *f = find_field(sec, yn_scalar(k), &slot);
        const section_t *sub = NULL;
        if (!f) {
            for (size_t i = 0; sec->subs && sec->subs[i]; i++) {
                if (strcmp(sec->subs[i]->key, yn_scalar(k)) == 0) {
                    sub = sec->subs[i];
                    slot = nfields + i;
                }
            }
        }
        if (!f && !sub) {
            if (!(sec->has_users && strcmp(yn_scalar(k), "users") == 0)) {
                char expected[768];
                list_keys(sec, expected, sizeof(expected));
                return fail(L, k, key, "unknown key (expected one of: %s)", expected);
            }
            slot = users_slot;
        }
        if (keys[slot])
            return fail(L, k, key, "duplicate key (first at line %lu)",
                        (unsigned long)keys[slot]->start_mark.line + 1);
        keys[slot] = k;
        values[slot] = v;

        int rc = 0;
        if (f && f->global && !targets[T_GLOBAL])
            rc = fail(L, k, key, "is a setting of the whole daemon: set it at the top level, "
                      "not for one User");
        else if (f)
            rc = load_field(L, f, v, key, targets[f->global ? T_GLOBAL : sec->target]);
        else if (sub)
            rc = load_section(L, sub, key, v, targets, NULL);
        else
            *users = v;
        if (rc < 0)
            return rc;
    }
    if (sec->check)
        return sec->check(L, sec, path, targets[sec->target], values, map);
    return 0;
}

/* Reads the `users:` mapping into cfg->users, each User starting from cfg->detect;
 * `seen` finds a repeated user id in O(1). */
static int load_users_into(loader_t *L, yaml_node_t *map, cfg_t *cfg, idindex_t *seen)
{
    char got[256];
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    cfg->users = calloc(n, sizeof(cfg_user_t));
    if (!cfg->users || idx_reserve(seen, n) < 0)
        return out_of_memory(L);

    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, pr->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(L, k, "users", "expected a user id, got %s",
                        yn_describe(k, got, sizeof(got)));
        if (!*yn_scalar(k))
            return fail(L, k, "users", "empty user id");
        char key[512];
        join_key(key, sizeof(key), "users", yn_scalar(k));
        /* reserved above: cannot fail for want of memory */
        if (idx_insert(seen, yn_scalar(k), strlen(yn_scalar(k)), cfg->n_users) == SW_EEXISTS) {
            ptrdiff_t i = idx_find(seen, yn_scalar(k), strlen(yn_scalar(k)));
            const yaml_node_t *first =
                yaml_document_get_node(&L->doc, map->data.mapping.pairs.start[i].key);
            return fail(L, k, key, "duplicate user (first at line %lu)",
                        (unsigned long)first->start_mark.line + 1);
        }
        cfg_user_t *u = &cfg->users[cfg->n_users];
        u->user = strdup(yn_scalar(k));
        if (!u->user)
            return out_of_memory(L);
        u->detect = cfg->detect;
        cfg->n_users++;
        void *const targets[T_COUNT] = { [T_DETECT] = &u->detect };
        int rc = load_section(L, &sec_user, key, v, targets, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_users(loader_t *L, yaml_node_t *map, cfg_t *cfg)
{
    char got[256];
    if (yn_is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(L, map, "users", "expected a mapping of user ids, got %s",
                    yn_describe(map, got, sizeof(got)));
    if (map->data.mapping.pairs.top == map->data.mapping.pairs.start)
        return 0;
    idindex_t seen;
    idx_init(&seen);
    int rc = load_users_into(L, map, cfg, &seen);
    idx_free(&seen);
    return rc;
}

/* Reads the whole file at `path` into a new NUL-terminated buffer. */
static int read_file(loader_t *L, unsigned char **buf, size_t *len)
{
    if (yn_read_file(L->path, CFG_MAX_BYTES, buf, len) < 0) {
        if (errno == ENOMEM)
            return out_of_memory(L);
        put_err(L, "%s: %s", L->path, strerror(errno));
        return SW_EIO;
    }
    if (*len > CFG_MAX_BYTES) {
        free(*buf);
        *buf = NULL;
        put_err(L, "%s: larger than %u MiB", L->path, CFG_MAX_BYTES >> 20);
        return SW_ECONFIG;
    }
    return 0;
}

/* Turns a libyaml parser error into our message. */
static int yaml_fail(loader_t *L, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return out_of_memory(L);
    char msg[1024];
    yn_parser_message(p, L->path, 1, msg, sizeof(msg));
    put_err(L, "%s", msg);
    return SW_ECONFIG;
}

void cfg_defaults(cfg_t *cfg)
{
    ingest_params_defaults(&cfg->ingest);
    detect_params_defaults(&cfg->detect);
    corr_params_defaults(&cfg->corr);
    cfg->run = (run_cfg_t){ .record_max = DEFAULT_RECORD_MAX, .ring_size = DEFAULT_RING_SIZE,
                            .stats_every = DEFAULT_STATS_EVERY,
                            .state_every = DEFAULT_STATE_EVERY,
                            .kafka_checkpoint = DEFAULT_KAFKA_CHECKPOINT,
                            .max_message = DEFAULT_MAX_MESSAGE,
                            .drain_timeout = DEFAULT_DRAIN_TIMEOUT,
                            .log_level = DEFAULT_LOG_LEVEL };
    cfg->users = NULL;
    cfg->n_users = 0;
    cfg->timezone = NULL;
}

/* Loads the document held by `parser` into `cfg` (already the defaults). */
static int load_document(loader_t *L, yaml_parser_t *parser, cfg_t *cfg)
{
    if (!yaml_parser_load(parser, &L->doc))
        return yaml_fail(L, parser);
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    if (root) {
        yaml_node_t *users = NULL;
        void *const targets[T_COUNT] = { &cfg->ingest, &cfg->detect, &cfg->corr, &cfg->run, cfg };
        rc = load_section(L, &sec_top, "", root, targets, &users);
        if (rc == 0 && users)
            rc = load_users(L, users, cfg);
    }
    yaml_document_delete(&L->doc);
    if (rc < 0)
        return rc;
    /* One document per file: a second one would be silently ignored. */
    if (!yaml_parser_load(parser, &L->doc))
        return yaml_fail(L, parser);
    root = yaml_document_get_root_node(&L->doc);
    if (root)
        rc = fail(L, root, "", "expected a single YAML document, found another");
    yaml_document_delete(&L->doc);
    return rc;
}

int cfg_load(const char *path, cfg_t *cfg, char *err, size_t errlen)
{
    loader_t L = { .path = path, .err = err, .errlen = errlen };
    if (err && errlen)
        err[0] = '\0';
    if (!path || !cfg) {
        put_err(&L, "%s", sw_strerror(SW_EINVAL));
        return SW_EINVAL;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = read_file(&L, &buf, &len);
    if (rc == 0)
        rc = yn_check_depth(path, buf, len, YN_MAX_DEPTH, 1, err, errlen);
    if (rc < 0) {
        free(buf);
        return rc == SW_ENOMEM ? out_of_memory(&L) : rc;
    }

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(buf);
        return out_of_memory(&L);
    }
    yaml_parser_set_input_string(&parser, buf, len);
    cfg_t next;
    cfg_defaults(&next);
    rc = load_document(&L, &parser, &next);
    yaml_parser_delete(&parser);
    free(buf);
    if (rc < 0) {
        cfg_free(&next);
        return rc;
    }
    *cfg = next;
    return 0;
}

void cfg_free(cfg_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->timezone);
    cfg->timezone = NULL;
    for (size_t i = 0; i < cfg->n_users; i++)
        free(cfg->users[i].user);
    free(cfg->users);
    cfg->users = NULL;
    cfg->n_users = 0;

    cfg_run_free(&cfg->run);
}

const detect_params_t *cfg_detect_for(const cfg_t *cfg, const char *user, size_t len)
{
    for (size_t i = 0; user && i < cfg->n_users; i++) {
        const char *id = cfg->users[i].user;
        if (strlen(id) == len && memcmp(id, user, len) == 0)
            return &cfg->users[i].detect;
    }
    return &cfg->detect;
}

const char *cfg_timezone(const cfg_t *cfg)
{
    const char *tz = cfg->timezone ? cfg->timezone : CFG_DEFAULT_TIMEZONE;
    /* a machine without the time zone database still keeps GB time */
    if (strcmp(tz, CFG_DEFAULT_TIMEZONE) == 0 && !tz_known(tz))
        return CFG_GB_RULE;
    return tz;
}

int cfg_local_time(const cfg_t *cfg)
{
    return strcmp(cfg_timezone(cfg), "UTC") != 0;
}

void cfg_apply_timezone(const cfg_t *cfg)
{
    setenv("TZ", cfg_timezone(cfg), 1);
    tzset();
}

/* ---- the run: settings as flags ------------------------------------------ */

/* The tables whose rows carry flags, in the order flags are numbered. */
static const field_t *const flag_tables[] = { run_fields, curve_fields };

/* Flag i's row, or NULL past the last. */
static const field_t *flag_field(size_t i)
{
    for (size_t t = 0; t < sizeof(flag_tables) / sizeof(flag_tables[0]); t++) {
        for (const field_t *f = flag_tables[t]; f->key; f++) {
            if (!f->flag)
                continue;
            if (i-- == 0)
                return f;
        }
    }
    return NULL;
}

int cfg_run_flag(size_t i, cfg_flag_t *out)
{
    const field_t *f = flag_field(i);
    if (!f)
        return 0;
    *out = (cfg_flag_t){ .name = f->flag, .short_opt = f->short_opt,
                         .takes_value = f->type != F_BOOL, .repeats = f->type == F_ENDPOINTS };
    return 1;
}

/* Appends a copy of `value` to the list of row f in r (a repeated flag). */
static int append_item(loader_t *L, const field_t *f, run_cfg_t *r, const char *value)
{
    char ***list = (char ***)(void *)((char *)r + f->off);
    size_t *n = (size_t *)(void *)((char *)r + f->count_off);
    if (!*value) {
        put_err(L, "--%s: must not be empty", f->flag);
        return SW_ECONFIG;
    }
    if (*n == CFG_MAX_INGEST) {
        put_err(L, "--%s: at most %d of them", f->flag, CFG_MAX_INGEST);
        return SW_ECONFIG;
    }
    for (size_t j = 0; j < *n; j++) {
        if (strcmp((*list)[j], value) == 0) {
            put_err(L, "--%s: '%s' given twice", f->flag, value);
            return SW_ECONFIG;
        }
    }
    char **grown = realloc(*list, (*n + 1) * sizeof(char *));
    if (!grown)
        return out_of_memory(L);
    *list = grown;
    if (!(grown[*n] = strdup(value)))
        return out_of_memory(L);
    (*n)++;
    return 0;
}

int cfg_run_set(run_cfg_t *r, size_t i, const char *value, char *err, size_t errlen)
{
    const field_t *f = flag_field(i);
    if (!r || !f)
        return SW_EINVAL;
    loader_t L = { .flag = f->flag, .err = err, .errlen = errlen };
    if (f->type == F_BOOL && !value) {
        *(bool *)(void *)((char *)r + f->off) = true;
        return 0;
    }
    if (!value)
        return SW_EINVAL;
    if (f->type == F_ENDPOINTS)
        return append_item(&L, f, r, value);
    /* the value as a one-node document, read by the file's own code: the
     * same kinds, ranges and messages. Strings are quoted, so "null" or
     * "~" on the command line is that name, not "unset". */
    if (!yaml_document_initialize(&L.doc, NULL, NULL, NULL, 1, 1))
        return out_of_memory(&L);
    int quoted = f->type == F_PATH || f->type == F_ENDPOINT || f->type == F_TIMEZONE;
    int id = yaml_document_add_scalar(&L.doc, NULL, (yaml_char_t *)value, (int)strlen(value),
                                      quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                             : YAML_PLAIN_SCALAR_STYLE);
    int rc = id ? load_field(&L, f, yaml_document_get_node(&L.doc, id), f->flag, r)
                : out_of_memory(&L);
    yaml_document_delete(&L.doc);
    return rc;
}

/* Releases what row f holds in r and leaves it unset. */
static void free_value(const field_t *f, run_cfg_t *r)
{
    void *at = (char *)r + f->off;
    if (f->type == F_ENDPOINTS) {
        char ***list = at;
        size_t *n = (size_t *)(void *)((char *)r + f->count_off);
        for (size_t j = 0; j < *n; j++)
            free((*list)[j]);
        free(*list);
        *list = NULL;
        *n = 0;
    } else if (f->type == F_PATH || f->type == F_ENDPOINT || f->type == F_TIMEZONE) {
        free(*(char **)at);
        *(char **)at = NULL;
    }
}

/* The bytes row f occupies in a run_cfg_t (a list: its pointer; the count
 * moves with it). */
static size_t value_size(const field_t *f)
{
    switch (f->type) {
    case F_NUMBER: return sizeof(double);
    case F_DURATION:
    case F_PRECISION: return sizeof(int64_t);
    case F_COUNT: return sizeof(size_t);
    case F_SIZE: return sizeof(uint64_t);
    case F_BOOL: return sizeof(bool);
    case F_LOG_LEVEL: return sizeof(cfg_log_level_t);
    case F_LOG_FORMAT: return sizeof(cfg_log_format_t);
    case F_PATH:
    case F_ENDPOINT:
    case F_TIMEZONE:
    case F_ENDPOINTS: return sizeof(char *);
    }
    return 0;
}

void cfg_run_override(run_cfg_t *file, run_cfg_t *flags, uint64_t given)
{
    for (size_t i = 0; i < 64; i++) {
        const field_t *f = flag_field(i);
        if (!f)
            break;
        if (!(given >> i & 1))
            continue;
        free_value(f, file);
        memcpy((char *)file + f->off, (char *)flags + f->off, value_size(f));
        memset((char *)flags + f->off, 0, value_size(f));
        if (f->type == F_ENDPOINTS) {
            size_t *from = (size_t *)(void *)((char *)flags + f->count_off);
            *(size_t *)(void *)((char *)file + f->count_off) = *from;
            *from = 0;
        }
    }
}

void cfg_run_free(run_cfg_t *r)
{
    if (!r)
        return;
    for (size_t t = 0; t < sizeof(flag_tables) / sizeof(flag_tables[0]); t++)
        for (const field_t *f = flag_tables[t]; f->key; f++)
            free_value(f, r);
}
