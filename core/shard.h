/*
 * shard.h - detection for the Users a shard owns: series, baselines,
 * windows and detectors, fed records in event-time order by the router.
 *
 * A shard turns records into events for the alert stage (event.h): alert
 * transitions as the detectors decide them, a summary of every northbound
 * bucket it closes (for the blast radius), and its progress. Everything it
 * decides depends only on the records of its own Users and on the control
 * records every shard receives, so the output does not depend on how
 * Users are spread over shards.
 *
 * DESIGN: a shard is owned by one thread; nothing in it is shared, so
 * nothing is locked. Another thread may call it only while that thread is
 * not running it, with the hand-over ordered: in the daemon, main fills it
 * (state load, shard_resume()) before the shard thread starts; main (a
 * checkpoint) and the ingest thread (Kafka states read back: shard_adopt())
 * call it while the shard is parked; main reads its table after joining it.
 * emit and publish are called synchronously, on the thread making the call
 * into the shard, and what they are handed is valid during the call only.
 * Records, resumes and adopted states are borrowed for the call (the shard
 * copies what it keeps). shard_stats() and shard_table() point into the
 * shard: only whoever may call it may read them. The one exception is
 * shard_learning(), an atomic count any thread may read (the metrics).
 * Allocation happens only when a series or User is new, never per record.
 */
#ifndef SW_SHARD_H
#define SW_SHARD_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "event.h"
#include "params.h"
#include "reorder.h"
#include "series.h"
#include "state.h"

/* Takes a User's state blob (valid during the call), read from source src. */
typedef void (*shard_publish_fn)(void *ctx, const char *user, unsigned src,
                                 const unsigned char *blob, size_t len);

typedef struct {
    ingest_params_t ingest;
    int local_time;    /* profiles in local time (the process's TZ: baseline.timezone) */
    const detect_params_t *(*detect_for)(void *ctx, const char *user, size_t len);
    void *detect_ctx;
    void (*emit)(void *ctx, const event_t *ev);
    void *emit_ctx;
    int feed_owner;    /* this shard reports feed_stalled (exactly one does) */
    int no_south_summaries; /* southbound buckets are not summarised (nothing reads
                               them: no change to check, no forecast, no console) */
    size_t max_series; /* this shard's share of ingest.max_series; 0: no limit */
    /* A User's whole state (state_encode_user), for another instance to
     * take over: called on the shard's thread for a User read from a source
     * (a Kafka partition) once the lines of its transitions are written
     * (shard_publish_ready), for each User of a source handed off, and by
     * shard_publish_all. The blob is valid during the call. NULL: never. */
    shard_publish_fn publish;
    void *publish_ctx;
    /* The incident, role and severity the alert stage gave alert `id` of
     * this shard (alerts_incident_of), asked when a User's state is
     * encoded: 1 when known. NULL: never asked. Any thread. */
    int (*incident_of)(void *ctx, uint32_t id, uint64_t *incident, int *role, int *severity);
    void *incident_ctx;
    /* Explains every judgement of this User's series and directions, a
     * line each, to `explain` (shard_explain lines): why an alert fired,
     * or did not. NULL: none. */
    const char *explain_user;
    FILE *explain;
} shard_opts_t;

typedef struct {
    uint64_t samples, duplicates, idle_zeroes, nomem;
    /* repeats of a sample whose values differ from the copy kept (a
     * producer's bug, or a forgery): the last one's User and time */
    uint64_t conflicts;
    uint64_t sheds;    /* REC_SHED records: samples were shed before them */
    uint64_t accepts;  /* REC_ACCEPT applied: a User's level accepted as normal */
    uint64_t accepts_unknown; /* ... naming a User not held here */
    char conflict_user[LP_MAX_ID + 1];
    int64_t conflict_ts;
    uint64_t evicted;  /* series removed to make room under max_series */
    uint64_t refused;  /* samples of a new series dropped: no series could be evicted */
} shard_stats_t;

typedef struct shard shard_t;

shard_t *shard_create(const shard_opts_t *o);

/* A shard's share of a series limit over n shards (rounded up; 0 stays 0). */
static inline size_t shard_share(size_t max_series, unsigned n)
{
    return max_series ? (max_series + n - 1) / n : 0;
}
void shard_destroy(shard_t *sh);

/* Handles one record (sample or control) from the router. The samples of
 * one event time wait until a record of a later time, or a control record,
 * comes (or shard_flush()). */
void shard_record(shard_t *sh, const rec_t *r);
/* shard_record() of v[0] .. v[n-1] in turn, each sample's series state
 * fetched from memory a few records ahead of its turn (st_prefetch): a
 * burst from a ring is best handed over whole. */
void shard_records(shard_t *sh, const rec_t *v, size_t n);

/* Runs the samples waiting for their event time to end through the
 * detectors now: for a caller that feeds samples without the router's
 * ticks and reads the stats or the table at the end. */
void shard_flush(shard_t *sh);

/*
 * Hands over every User read from source `src` (its Kafka partition goes to
 * another instance): with `publish`, each User's state goes to
 * opts.publish first; then the User is removed, its alerts dropped without
 * a line (EV_HANDOFF: they go on where it goes), and the source's own
 * feed_stalled, if any, resolved. REC_HANDOFF does the same in the stream.
 * Returns the number of Users handed over.
 */
size_t shard_handoff(shard_t *sh, unsigned src, int publish);

/*
 * Takes over a User handed over by another instance (or read back from the
 * state topic): a copy held here goes first; its series, baselines,
 * windows and lifecycles go on as they were, and each alert it had firing
 * goes on here (EV_ADOPT: no new line). The sample times it carries make
 * samples read again duplicates. 0, SW_EINVAL for a User with no series
 * or a source out of range, or SW_ENOMEM (the User may be half made:
 * its series learn afresh).
 */
struct state_user;
int shard_adopt(shard_t *sh, const struct state_user *u);

/*
 * An alert that was firing when a daemon stopped (kept in its journal of
 * open alerts, adapters/store/alertjournal.c), to go on here after the restart.
 */
typedef struct {
    alert_kind_t kind;
    int dir;                  /* DIR_SOUTH or DIR_NORTH; the feed's: any */
    const char *user, *cls;   /* NUL-terminated; cls for storms only */
    unsigned src;             /* the feed's: 0 (a Kafka partition's is not resumed) */
    state_fire_t fire;        /* what it fired with */
    /* a widespread alert (the alert stage's own, alerts_resume_widespread):
     * the symptom its Users show, and the change it named (NULL: none) */
    alert_kind_t symptom;
    const char *change;
} shard_resume_t;

/*
 * Resumes alert r, before the first record (after a state load): its
 * detector is set firing with r's onset, so no firing line comes again and
 * its resolved line comes, with the start it fired with, once the detector
 * clears on the samples that follow; the alert stage is told (EV_ADOPT, no
 * line). A User or series not in the table yet is made (a storm's series;
 * a User's direction with no series, which waits for them). The feed's
 * feed_stalled (feed owner only) resolves at REC_FEED_BACK (the router's
 * router_feed_was_stalled()). 0,
 * SW_EEXISTS when that alert is firing already, SW_EINVAL (a bad kind,
 * direction or source), SW_ENOMEM.
 */
int shard_resume(shard_t *sh, const shard_resume_t *r);

/*
 * The alert stage has written every line of event time below `released`:
 * Users whose transitions are all below it are published (opts.publish).
 * shard_publish_pending() says whether any wait (cheap, for every burst).
 */
void shard_publish_ready(shard_t *sh, int64_t released);
int shard_publish_pending(const shard_t *sh);

/* Every User read from a source to fn (a checkpoint); returns how many. */
size_t shard_publish_all(shard_t *sh, shard_publish_fn fn, void *ctx);

/* Re-reads every User's detection settings (after a config reload). */
void shard_rebind(shard_t *sh, const detect_params_t *(*detect_for)(void *, const char *, size_t),
                  void *ctx);

const shard_stats_t *shard_stats(const shard_t *sh);
/* Series whose last judged sample had no history yet for its time of day
 * and kind of day (baseline.h: learning): a new series, a new hour. Unlike
 * everything else here, any thread may call it while the shard lives. */
uint64_t shard_learning(const shard_t *sh);
series_table_t *shard_table(shard_t *sh);

#endif
