/*
 * alerts.h - the alert stage: merges the shards' events into one stream
 * in event-time order, correlates each alert with the change register,
 * works out the blast radius of storms, keeps the alerts that are firing
 * and hands every transition to the sinks.
 *
 * Order: events are held until every shard has reported progress past
 * them, then released sorted by (event time, kind of event, User,
 * direction, class, alert kind) - a key that does not depend on which
 * shard a User lives in, so one shard or many give the same lines.
 *
 * DESIGN: owned by one thread (the alert thread of the daemon, or the
 * caller in replay), but for alerts_incident_of, which any thread may
 * call (a lock guards the index of the alerts firing). The daemon creates
 * it and resumes widespread alerts on main before the alert thread starts,
 * and destroys it after joining that thread. Events and remote lines are
 * borrowed for the call (what is kept is copied); an alert handed to emit,
 * handover or an alerts_each_firing callback is valid during the call only,
 * its change pointer included. The change register is not owned: it is
 * read-only here, looked up by id at each use, and must stay valid until
 * it is replaced (alerts_set_changes) or the stage destroyed.
 */
#ifndef SW_ALERTS_H
#define SW_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "changes.h"
#include "checks.h"
#include "event.h"
#include "params.h"
#include "shard.h"

/* Storms whose blast radius is worked out at one time. More storms at once
 * are a widespread event rather than one User hurting the others, and
 * each tracked storm costs a check per User and bucket: 16 keeps that
 * bounded while real incidents (one or two storms) are all tracked. */
#define ALERTS_BLAST_MAX_STORMS 16

typedef struct {
    corr_params_t corr;
    unsigned nshards;
    unsigned incident_tag;   /* the instance's tag in incident ids (alert.h); 0 alone */
    const detect_params_t *(*detect_for)(void *ctx, const char *user, size_t len);
    void *detect_ctx;
    /* receives each transition in order; the alert is valid during the call */
    void (*emit)(void *ctx, const alert_t *a);
    void *emit_ctx;
    /* an alert that goes on at another instance (adopted 0: it left, no
     * resolved line) or came from one (1: it goes on here, no firing
     * line), so sinks that keep firing alerts (Alertmanager) follow it;
     * called with emit_ctx. NULL: not told. */
    void (*handover)(void *ctx, const alert_t *a, int adopted);
    /* receives each change's check (checks.h) once its window has ended,
     * in event-time order; called with emit_ctx. NULL: no checks made. */
    void (*check)(void *ctx, const change_check_t *c);
} alerts_opts_t;

typedef struct {
    uint64_t firing, resolved, nomem;
    uint64_t adopted, handed_off; /* alerts that came from / went to another instance */
    uint64_t firing_now;     /* alerts firing at present */
    uint64_t held;           /* events waiting for the shards' progress */
    uint64_t blast_untracked; /* storms fired beyond ALERTS_BLAST_MAX_STORMS: no blast radius */
    uint64_t widespread;     /* widespread incidents opened */
    uint64_t remote;         /* alert lines of other instances taken (alerts_remote) */
    uint64_t remote_dropped; /* of those, firing ones forgotten: ALERTS_REMOTE_MAX held */
} alerts_stats_t;

/* Alerts of other instances held at once (alerts_remote); beyond, the
 * oldest is forgotten: a peer that died without resolving its alerts, or
 * a flood of lines on the shared topic, costs bounded memory. */
#define ALERTS_REMOTE_MAX 4096

/* An alert line another instance wrote (Kafka: the shared alerts topic).
 * Strings are borrowed for the call. */
typedef struct {
    int firing;
    alert_kind_t kind;
    alert_kind_t symptom;    /* widespread: the kind its Users show */
    const char *user, *cls;
    int dir;                 /* ALERT_DIR_* */
    int64_t starts_at, detected_at, ends_at;
    incident_id_t incident;  /* 0: none (the line is ignored) */
    int role, severity;      /* ROLE_*, SEV_* */
    const char *change_id;   /* the change it names when that is DCC maintenance; NULL: none */
} alerts_remote_t;

typedef struct alerts alerts_t;

alerts_t *alerts_create(const alerts_opts_t *o, const changes_t *reg);
void alerts_destroy(alerts_t *as);
void alerts_set_changes(alerts_t *as, const changes_t *reg);
void alerts_rebind(alerts_t *as, const detect_params_t *(*detect_for)(void *, const char *, size_t),
                   void *ctx);

/* Takes one event of shard `shard`; events of one shard come in order. */
void alerts_event(alerts_t *as, unsigned shard, const event_t *ev);

/* End of input: releases every event held. */
void alerts_flush(alerts_t *as);
/* The end of a recording (replay): alerts_flush, then every change being
 * watched is judged on the traffic it had (checks.h: checks_finish). A
 * daemon that stops does not call it: its changes go on. */
void alerts_end_of_input(alerts_t *as);

/* Every event below this event time has been handled (its line written);
 * INT64_MIN before the first release. */
int64_t alerts_released(const alerts_t *as);

const alerts_stats_t *alerts_stats(const alerts_t *as);

/*
 * Resumes widespread alert r (kept in the alerts journal: User "*", its
 * incident, symptom and change) before the first event, so its members,
 * resumed by their shards, join it and it resolves with the last of them:
 * no line now (opts.handover hears of it). 0, SW_EEXISTS (its incident is
 * open already, or r has none), SW_ENOMEM.
 */
int alerts_resume_widespread(alerts_t *as, const shard_resume_t *r);

/* The incident, role and severity alert `id` of shard `shard` fired with,
 * so that its User's state carries them to another instance: 1 when it is
 * firing here, 0 when not (not released yet, or ended). Any thread. */
int alerts_incident_of(alerts_t *as, unsigned shard, uint32_t id, uint64_t *incident, int *role,
                       int *severity);

/*
 * Takes alert line r of another instance, so that symptoms seen here join
 * the incident it opened there: a User's storm there names the Users it
 * hurts here (their blast radius is worked out here, from their backlog);
 * a DCC change's or a widespread symptom's incident there is found here
 * by the same key; its primaries count here towards widespread_users; and
 * its User, should its partition move here, goes on in that incident.
 * Nothing is written and nothing fires here for it. The line counts from
 * when it arrives, not in event-time order (README: Kafka, incidents).
 */
void alerts_remote(alerts_t *as, const alerts_remote_t *r);

/* Calls fn for each User whose usual traffic (both ways, from its learnt
 * baselines) is at least min_share of all the Users' here. */
void alerts_each_share(const alerts_t *as, double min_share,
                       void (*fn)(void *ctx, const char *user, double share), void *ctx);

/* A User's latest level each way ([DIR_SOUTH], [DIR_NORTH]), from the
 * last of its buckets the stage has handled (EV_SUMMARY): rate is what
 * all its series counted, msgs/s; baseline what the learnt baselines of
 * its warm series expected then (0 while none is warm); both to about 7
 * significant digits. */
typedef struct {
    const char *user;
    int seen[2];             /* a bucket that way has been handled */
    double rate[2], baseline[2];
    int64_t at[2];           /* that bucket's event time (ns) */
} alerts_user_t;

/* The Users the stage knows now (alerts_each_user calls fn at most this often). */
size_t alerts_user_count(const alerts_t *as);
/* Calls fn for each User the stage knows, in no particular order; u is
 * valid during the call only. The stage's thread, like the rest. */
void alerts_each_user(const alerts_t *as, void (*fn)(void *ctx, const alerts_user_t *u),
                      void *ctx);

/* Calls fn for each alert firing now, in the order they fired, with its
 * impacted Users so far and its change as found in the current register.
 * The alert is valid during the call only. */
void alerts_each_firing(const alerts_t *as, void (*fn)(void *ctx, const alert_t *a), void *ctx);

#endif
