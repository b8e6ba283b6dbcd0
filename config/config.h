/*
 * config.h - loading and validating the YAML configuration (libyaml).
 *
 * The documented example, config/stormwatch.yaml, lists every key with its
 * built-in default. Errors name the file, line, column and key, e.g.
 *   "stormwatch.yaml:12:5: detectors.storm.ratio_fire: expected a number, got 'x'"
 *
 * The `run:` section holds what `stormwatch run` otherwise takes on its
 * command line (a flag overrides the file). It is meant to be read once, at
 * start: sockets, threads and files cannot follow a reload.
 *
 * DESIGN: a cfg_t is built once, by one thread, then only read, by any
 * number of threads. A reload builds a new one and swaps it in; a failed
 * load leaves nothing behind. What cfg_detect_for() returns points into
 * the cfg_t; the daemon's shards keep it and its alert stage keeps the
 * cfg_t, so an old cfg_t is freed only once each has rebound to the new
 * one.
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* Limits of the `run:` settings, shared with the daemon's flags. */
#define CFG_MAX_INGEST 16        /* endpoints in run.ingest */
#define CFG_MAX_BYTES (16u << 20) /* the file: 10 000 per-User overrides take ~2 MiB */
#define CFG_MAX_SHARDS 256       /* run.shards */
#define CFG_MIN_RING_SIZE 64     /* run.ring_size: room for a burst of records */
#define CFG_MAX_RING_SIZE ((size_t)1 << 30) /* run.ring_size: tens of GiB a shard; more is a typo */
#define CFG_MIN_MAX_MESSAGE (UINT64_C(1) << 16) /* run.max_message: a message of a few hundred lines */
#define CFG_MAX_MAX_MESSAGE (UINT64_C(1) << 31) /* run.max_message: 2 GiB; more is a typo */

/* Log levels, in the order of log_level_t (adapters/base/log.h, which config/ cannot see). */
typedef enum { CFG_LOG_ERROR, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG } cfg_log_level_t;
/* Log line formats, in the order of log_format_t (log.h). */
typedef enum { CFG_LOG_TEXT, CFG_LOG_LOGFMT, CFG_LOG_JSON } cfg_log_format_t;

/*
 * What `stormwatch run` takes on its command line. Every string is owned by
 * the cfg_t (freed by cfg_free()); NULL means not set. Paths are used as
 * given, relative to the daemon's working directory, as on the command line.
 */
typedef struct {
    char **ingest;           /* endpoints to receive samples on, in file order */
    size_t n_ingest;         /* 0..CFG_MAX_INGEST; ingest is NULL when 0 */
    char *alerts;            /* file to append alert lines to; "-": standard output */
    char *change_checks;     /* file to append change checks to (contract 2.1); NULL: none */
    char *generator_url;     /* Alertmanager's link back (generatorURL); NULL: the console at http */
    char *pub;               /* ZeroMQ PUB endpoint for alerts */
    char *changes;           /* declared changes (YAML) */
    char *state;             /* learned baselines, loaded at start and saved on exit */
    char *record;            /* record what was ingested, as line protocol */
    uint64_t record_max;     /* rotate the recording at this many bytes; 0: never */
    bool record_gzip;        /* gzip the recording */
    size_t shards;           /* detection threads, 0..CFG_MAX_SHARDS; 0: cores - 1, at least 1 */
    size_t ring_size;        /* records per shard ring, CFG_MIN_RING_SIZE..CFG_MAX_RING_SIZE */
    bool drop_when_full;     /* shed samples (counted) rather than pause ingest when a shard is behind */
    uint64_t max_message;    /* bytes of one ZeroMQ message at most; a larger one cuts its peer off */
    int64_t drain_timeout;   /* at SIGTERM, read what is queued for at most this long (ns) */
    bool strict_files;       /* refuse a corrupt state, queue or journal instead of setting it aside */
    char **alertmanager;     /* Alertmanager base URLs, each gets every alert */
    size_t n_alertmanager;   /* 0..CFG_MAX_INGEST */
    char *alertmanager_queue;/* where alerts not yet delivered persist */
    char *http;              /* ADDR:PORT of the HTTP API; unset: none */
    char *http_token_file;   /* bearer token for the API's writes */
    char *http_tls_cert;     /* HTTPS: certificate and key (PEM) */
    char *http_tls_key;
    char *changes_journal;   /* where changes declared over the API persist */
    struct {
        char *secret_key;    /* server key pair (Z85 files): both or neither */
        char *public_key;
        char *allowed_keys;  /* producer keys allowed to connect; needs the key pair */
    } curve;
    char *kafka_brokers;     /* Kafka ingest: bootstrap servers (host:port,...) */
    char *kafka_topic;       /* the topic of line-protocol messages, keyed by User */
    char *kafka_group;       /* consumer group: instances sharing the feed */
    char *kafka_alerts_topic;/* alert lines produced here too, keyed by User */
    char *kafka_changes_topic;/* changes declared over the API, shared by every instance */
    char *kafka_state_topic; /* learned state, moving with the partitions */
    char **kafka_properties; /* more librdkafka settings, "key=value" (security, SASL, TLS) */
    size_t n_kafka_properties;
    int64_t stats_every;     /* a log line of rates, rings and drops this often (ns); 0: off */
    int64_t state_every;     /* save the learned state this often while running (ns); 0: on exit only */
    int64_t kafka_checkpoint; /* every User's state to kafka_state_topic, and offsets committed to
                                 match, this often (ns) */
    cfg_log_level_t log_level;
    cfg_log_format_t log_format; /* text (default), logfmt or json */
} run_cfg_t;

/*
 * The run: settings as `stormwatch run`'s flags. One table in config.c
 * gives each key its flag, so every setting is reachable both ways, and a
 * flag's value is read by the same code as the key's (kinds, ranges,
 * messages: "--ring-size: must be at least 64").
 */
typedef struct {
    const char *name;   /* the long flag, without "--" (e.g. "ring-size") */
    int short_opt;      /* its one-letter form, 0: none */
    int takes_value;    /* 0: a switch, which sets the boolean to true */
    int repeats;        /* each use adds to a list (at most CFG_MAX_INGEST) */
} cfg_flag_t;

/* Flag i (0, 1, ... in table order; fewer than 64) into *out: 1, or 0 past the last. */
int cfg_run_flag(size_t i, cfg_flag_t *out);

/* Sets flag i's setting in `r` from `value` (NULL for a switch); a list
 * flag appends. 0, or SW_ECONFIG / SW_ENOMEM / SW_EINVAL with "--FLAG:
 * what is wrong" in err. r owns what it is given (cfg_run_free). */
int cfg_run_set(run_cfg_t *r, size_t i, const char *value, char *err, size_t errlen);

/* Moves every setting whose bit i is set in `given` from `flags` over the
 * same setting of `file` (freeing what file held): the flags win. */
void cfg_run_override(run_cfg_t *file, run_cfg_t *flags, uint64_t given);

/* Frees the strings and lists of `r` and leaves them unset. */
void cfg_run_free(run_cfg_t *r);

/* Settings for one User that differ from the defaults. */
typedef struct {
    char *user;              /* the User id, as in the `user` tag */
    detect_params_t detect;  /* the defaults with this User's overrides applied */
} cfg_user_t;

typedef struct {
    ingest_params_t ingest;
    detect_params_t detect;  /* defaults for every User */
    corr_params_t corr;
    run_cfg_t run;           /* the daemon's settings (`run:`) */
    cfg_user_t *users;       /* per-User overrides, in file order */
    size_t n_users;
    char *timezone;          /* baseline.timezone: profiles in this local time; NULL: the default */
} cfg_t;

/*
 * Fills `cfg` with the built-in defaults: no per-User overrides and no
 * strings set, so nothing to free.
 */
void cfg_defaults(cfg_t *cfg);

/*
 * Loads the YAML file at `path` over the built-in defaults into `cfg` (what
 * `cfg` held before is overwritten, not freed: reload into a fresh cfg_t).
 * Every key is optional; an empty file gives the defaults. `users:` entries
 * start from the file's global settings wherever they appear in the file.
 * Returns 0, or SW_EIO with "PATH: reason" when the file cannot be read,
 * SW_ECONFIG with "PATH: larger than 16 MiB" (CFG_MAX_BYTES), "PATH:LINE:COL:
 * nesting deeper than 32 levels" (YN_MAX_DEPTH) or
 * "PATH:LINE:COL: KEY: what is wrong" (KEY dotted, e.g.
 * detectors.storm.ratio_fire, users.<id>.limits.south_rate, run.ingest[2]) for a bad
 * file, SW_ENOMEM with "PATH: out of memory", SW_EINVAL for NULL arguments.
 * The message goes into `err` (errlen bytes, truncated to fit; err may be
 * NULL). On error `cfg` is left untouched and nothing stays allocated.
 * On success the caller releases it with cfg_free(). Loading takes time
 * linear in the file's size.
 */
int cfg_load(const char *path, cfg_t *cfg, char *err, size_t errlen);

/*
 * Releases what cfg_load() allocated and leaves `cfg` with no per-User
 * overrides and every run string NULL (the other settings stay);
 * cfg_free(NULL) is a no-op, and so is freeing twice.
 */
void cfg_free(cfg_t *cfg);

/* The profiles' time zone when baseline.timezone is unset: the DCC serves
 * Great Britain, whose Users schedule their work in its local time. */
#define CFG_DEFAULT_TIMEZONE "Europe/London"
/* Its rule since 1996, for a machine without the time zone database. */
#define CFG_GB_RULE "GMT0BST,M3.5.0/1,M10.5.0"

/* The time zone in effect: baseline.timezone, or the default (as a rule
 * when the system's database lacks it). */
const char *cfg_timezone(const cfg_t *cfg);

/* Whether profiles follow a local time other than UTC. */
int cfg_local_time(const cfg_t *cfg);

/* Sets the process's time zone (TZ) to cfg_timezone() before any thread
 * starts: profiles are in that local time, and nothing depends on the
 * environment's TZ. */
void cfg_apply_timezone(const cfg_t *cfg);

/*
 * The detection settings for `user` (len bytes, need not be NUL-terminated):
 * its override, or cfg->detect. A linear scan: cache the result per series.
 */
const detect_params_t *cfg_detect_for(const cfg_t *cfg, const char *user, size_t len);

#endif
