/*
 * daemon_int.h - the daemon's insides, shared by its files and by nothing
 * else: daemon.c (threads, set-up, checkpoints, reloads), daemon_cli.c
 * (the command line and the config's run: section), daemon_metrics.c
 * (/metrics and the alerts snapshot), daemon_ingest.c, daemon_pipeline.c
 * (the alert thread), daemon_state.c and daemon_console.c. The ingest
 * thread (adapters/intake/ingest_side.h), the shard threads and their
 * rings (adapters/shards/shard_threads.h), Kafka
 * (adapters/kafka/kafka_side.h), the alert sinks (adapters/sinks/fanout.h)
 * and change coordination (adapters/coord/coord.h) are modules that do not
 * see them: the daemon holds a dingest_t, a shards_t, a dkafka_t, a
 * fanout_t and a coord_t, and answers the hooks of the ingest and Kafka
 * modules (daemon_ingest.c).
 *
 * DESIGN: see daemon.c for the pipeline's threads and what joins them;
 * besides them, the HTTP server's threads call daemon_write_metrics(),
 * daemon_alerts_json(), the accept callback, the changes shared over Kafka
 * (dk_share_*), the change checks and Users' shares (coord.h) and, through
 * the change API, its on_change callback.
 * Fields are grouped by the thread that writes them; what other threads
 * read is an atomic, guarded by the lock named beside it, or handed over as
 * daemon.c describes. Main sets everything up before the pipeline's
 * threads start and tears it down after joining them (the HTTP server
 * first, in teardown(), as its threads read the rest).
 */
#ifndef SW_DAEMON_INT_H
#define SW_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alerts.h"
#include "changes_api.h"
#include "config.h"
#include "coord.h"
#include "kafka_side.h"
#include "errburst.h"
#include "ingest_side.h"
#include "fanout.h"
#include "http.h"
#include "regview.h"
#include "pipeline.h"
#include "router.h"
#include "shard.h"
#include "shard_threads.h"
#include "statefile.h"

#define MAX_INGEST CFG_MAX_INGEST
#define BATCH 64               /* events the alert thread takes per ring call */
#define MSGS_PER_ROUND 64      /* messages read before flushing batches */
#define IDLE_MAX_NS 2000000    /* the alert thread's naps: 2 ms at the most */
/* The alert thread needs no microseconds: alerts are wanted within a
 * second, and on two cores its wake-ups are CPU taken from the pipeline. */
#define ALERTS_IDLE_NS 1000000
#define SNAPSHOT_EVERY_S 1.0   /* /api/v1/alerts may lag a busy second behind */
#define SHARES_EVERY_S 30.0    /* Users' shares of the traffic move with their day */

/* What `stormwatch run` was asked to do: its flags over the config file's
 * run: section (one table drives both: config.h, cfg_run_flag). Owned by
 * the daemon from start to exit; a reload does not change it. */
typedef struct {
    const char *config;           /* --config: the file itself (argv's) */
    run_cfg_t r;                  /* every other setting; strings owned (cfg_run_free) */
} run_opts_t;

typedef struct daemon daemon_t;

/* An update of the register, queued for the alert thread. */
struct reg_update {
    enum { UPD_DECLARE, UPD_WITHDRAW, UPD_FILE, UPD_PEER_ALERT } type;
    change_t change;              /* UPD_DECLARE: an owned copy */
    char *line;                   /* UPD_PEER_ALERT: another instance's alert line (NUL-ended) */
    char *id;                     /* UPD_WITHDRAW */
    changes_t *file;              /* UPD_FILE: the new file register, owned */
    struct reg_update *next;
};

/*
 * The daemon, in parts by owner. What a part's thread alone writes is
 * marked; counters are atomics mirrored for the metrics (any thread reads
 * them); queues into a thread have their lock. Main writes everything
 * before the threads start (set-up) and after they stop (teardown).
 */
struct daemon {
    /* fixed at start, read by every thread */
    run_opts_t o;
    ingest_params_t ingest;       /* a reload does not change ingest */
    unsigned incident_tag;        /* in this instance's incident ids (alert.h) */
    pipeline_t *pipe;             /* the stages and their wiring; owned */
    shards_t *shards;             /* the shard threads and their rings; owned
                                     (shard_threads.h says which thread calls what) */
    unsigned nshards;
    dkafka_t *kafka;              /* NULL without Kafka (kafka_side.h says which
                                     thread calls what) */

    /* the configuration, handed over on a reload */
    cfg_t *cfg;                   /* owned by main, which frees it on a reload only once
                                     every shard (shards_config_taken) and the alert
                                     thread (alerts_cfg_ack) has taken the next; they
                                     read the pointer handed to them, never this field */
    _Atomic(cfg_t *) next_cfg;    /* published by main, taken by the alert thread */
    atomic_uint cfg_gen;
    atomic_uint alerts_cfg_ack;

    /* running and stopping (daemon.c says how stopping flows) */
    atomic_int running, alerts_done;

    /* the ingest side: the ingest thread is a module (ingest_side.h says
     * which thread calls what); the records it routes reach the shards'
     * rings through daemon_ingest.c, on that thread */
    void *zctx;                   /* ZeroMQ's, for ingest and --pub: main's */
    dingest_t *in;                /* the ingest thread and its sockets */
    /* event time (ns) of the newest sample handed to the shards; 0: none
     * yet. Written by dmn_deliver only (ingest thread), read by the metrics */
    _Atomic int64_t feed_time;

    /* the alert thread's (daemon_pipeline.c) */
    struct {
        pthread_t tid;
        alerts_t *as;             /* pipe's */
        regview_t *rv;            /* the register in use */
        fanout_t *fanout;         /* the alert sinks (--alerts, --pub, --alertmanager):
                                     fanout.h says which thread calls what */
        struct alertjournal *journal; /* --state's FILE.alerts: alerts open. Not the
                                         fanout's: it restores state at start (the
                                         resumes) and records handovers, no line */
        uint64_t transitions, snap_transitions;
        atomic_uint_fast64_t alerts_held; /* events the alert stage holds (alerts_stats) */
        _Atomic int64_t alerts_released; /* every line below this event time is written
                                            (release; acquire: shards, to publish states) */
        /* updates of the register, for the alert thread to apply in
         * order: declared and withdrawn changes (dmn_on_api_change, under
         * the API's lock: an HTTP thread, or the ingest thread for the
         * Kafka changes topic), a reloaded file (main) and other
         * instances' alert lines (the ingest thread). A queued update and
         * what it holds belong to the queue; the alert thread frees each
         * once applied, teardown what is left. Not the hot path. */
        pthread_mutex_t upd_lock;
        struct reg_update *upd_head, *upd_tail;
        atomic_uint_fast64_t upd_lost; /* updates that could not be queued (no memory) */
        atomic_uint_fast64_t changes_n;
        atomic_uint_fast64_t firing_by_kind[ALERT_NKINDS]; /* alerts firing now */
        pthread_mutex_t snap_lock; /* guards alerts_snapshot (HTTP threads read it) */
        char *alerts_snapshot;     /* JSON array of the alerts firing now */
    } out;

    /* change coordination: the checks of changes (--change-checks) and the
     * Users' shares, made by the alert thread, read by HTTP threads:
     * coord.h says which thread calls what */
    coord_t *coord;

    /* the live console's Users snapshots (daemon_console.c): the alert
     * thread's alone; the console itself is the HTTP server's (console.h) */
    struct {
        double next_build;         /* sw_mono_s(): no snapshot before this */
        int built;                 /* one was published */
        int64_t released;          /* alerts_released() ... */
        uint64_t transitions;      /* ... and out.transitions when it was built */
        errburst_t fail_log;       /* snapshots lost for memory */
    } con;

    /* the HTTP server's (its threads read what set-up left) */
    struct {
        _Atomic(http_t *) http;   /* set once started */
        char *token;
        changes_api_t *api;       /* changes declared over HTTP (journalled) */
    } web;

    /* learned state (daemon_state.c): main's, and the ingest thread's Kafka
     * read-back, one at a time under ckpt_lock */
    struct {
        statefile_saver_t *saver; /* --state; NULL: none */
        shard_resume_t *resumes;  /* set-up: the alerts it held open, resumed at start */
        size_t nresumes, resumes_cap;
        pthread_mutex_t ckpt_lock; /* each parks the shards under it */
        atomic_uint_fast64_t state_moved_aside; /* a corrupt --state set aside at start */
    } st;

    /* how the last config reload went (dmn_note_reload: main), for the metrics */
    struct {
        atomic_int reload_ok;           /* 1: the last reload (or the start) took */
        _Atomic int64_t reload_ok_unix; /* when the last one that took did, Unix s */
    } mon;
};

/* ---- daemon.c ----------------------------------------------------------- */

/* Any thread holding cfg `ctx`: the detection settings of a User. */
const detect_params_t *dmn_detect_for(void *ctx, const char *user, size_t len);
/* Ingest thread (Kafka): another instance's alert line, queued for the
 * alert thread (dk_peer_alert there). 0, or SW_ENOMEM. */
int dmn_queue_peer_alert(daemon_t *d, const char *line, size_t len);


/* ---- daemon_ingest.c ---------------------------------------------------- */

/* Ingest thread, as the router's sink: the feed's time, then the record
 * batched for its shard's ring (shards_deliver). */
void dmn_deliver(void *ctx, unsigned shard, const rec_t *r);
/* Shard thread: shard `shard`'s events, into its out ring (ctx: the daemon_t;
 * the pipeline's to_alerts transport, shards_emit). */
void dmn_shard_emit(void *ctx, unsigned shard, const event_t *ev);
/* Main, at set-up: the ingest module, its --ingest endpoints open (d->zctx
 * made, the pipeline built); then Kafka, which the ingest thread polls:
 * their hooks are answered in daemon_ingest.c. The run settings Kafka is
 * given. */
int dmn_open_ingest(daemon_t *d, char *err, size_t errlen);
int dmn_open_kafka(daemon_t *d, char *err, size_t errlen);
dk_opts_t dmn_kafka_opts(const daemon_t *d);
/* Shard threads: a User's state, to the state topic (the pipeline's publish). */
void dmn_kafka_publish(void *ctx, const char *user, unsigned src, const unsigned char *blob,
                       size_t len);

/* ---- daemon_pipeline.c -------------------------------------------------- */

/* Alert thread: one alert out to every sink. */
void dmn_alert_emit(void *ctx, const alert_t *a);
/* Alert thread: an alert handed to or taken from another instance (Kafka). */
void dmn_alert_handover(void *ctx, const alert_t *a, int adopted);
/* Alert thread: a change's check, to change coordination (the pipeline's
 * check callback). */
void dmn_check_emit(void *ctx, const change_check_t *c);
/* Frees a register update and what it owns. */
void dmn_update_free(struct reg_update *u);
/* Any thread: queues an update (taking it) for the alert thread. */
void dmn_queue_update(daemon_t *d, struct reg_update *u);
/* HTTP threads: a change declared or withdrawn over the API, queued. */
void dmn_on_api_change(void *ctx, const change_t *declared, const char *withdrawn);
/* The alert thread (arg: the daemon_t). */
void *dmn_alerts_main(void *arg);

/* ---- daemon_state.c ----------------------------------------------------- */

/* Main, at set-up: keeps an alert the loaded state held open. */
void dmn_keep_resume(void *ctx, const shard_resume_t *r);
/* Main: frees the kept resumes. */
void dmn_resumes_free(daemon_t *d);
/* Main, before threads start: resumes a kept alert in its shard. */
void dmn_resume_alert(void *ctx, const shard_resume_t *r);
/* Main, at set-up: loads --state (a corrupt one set aside unless strict). */
int dmn_state_load(daemon_t *d, char *err, size_t errlen);
/* Main, after the threads stopped: saves --state. 0, or -1 (logged). */
int dmn_state_save(daemon_t *d);
/* Main, while running: saves --state with the shards parked a moment. */
void dmn_state_checkpoint(daemon_t *d);
/*
 * Parks every shard between bursts (shards_park_all) so that their tables
 * may be read or filled by the caller. 0, or -1 when a shard did not stop
 * within PARK_WAIT_S (logged; nothing is parked then). The caller holds
 * ckpt_lock.
 */
int dmn_park_all(daemon_t *d);
void dmn_unpark_all(daemon_t *d);

/* ---- daemon_cli.c ------------------------------------------------------- */

/* Parses run's arguments: SW_OK, DMN_HELP after --help, or SW_EINVAL
 * with a message. */
#define DMN_HELP 1
int dmn_parse_args(int argc, char **argv, run_opts_t *o, run_cfg_t *flags, uint64_t *given);
/* Fills what the command line did not give from the config's run:
 * section and checks the whole: SW_OK, or SW_EINVAL or SW_ENOMEM with a
 * message. */
int dmn_merge_run_config(run_opts_t *o, cfg_t *c, run_cfg_t *flags, uint64_t given);

/* ---- daemon_metrics.c --------------------------------------------------- */

/* One metric's HELP and TYPE lines. */
void dmn_metric(FILE *out, const char *name, const char *type, const char *help);
/* Main: the config and register were loaded (ok 1: at start, or a reload
 * that took) or a reload was refused (ok 0), for the reload metrics. */
void dmn_note_reload(daemon_t *d, int ok);
/* Alert thread: rebuilds the JSON array of firing alerts the API serves. */
void dmn_refresh_snapshot(daemon_t *d);

/* ---- daemon_console.c --------------------------------------------------- */

/* Alert thread, every turn: publishes the Users' status to the console
 * when one is asked for, something changed, and it is due. */
void dmn_console_tick(daemon_t *d);
/* Alert thread: alert a's transition, written as line (n bytes), for the
 * console's history. */
void dmn_console_transition(daemon_t *d, const alert_t *a, const char *line, size_t n);

#endif
