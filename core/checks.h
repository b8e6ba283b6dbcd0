/*
 * checks.h - a verdict on every declared change (contract section 2.1):
 * once a change's window has ended, plus the correlation's late slack,
 * what its User's traffic did is compared with what was declared.
 *
 * The alert stage feeds it every User bucket it releases (the sums a shard
 * sends in EV_SUMMARY), the incidents that name a change, and its event
 * time; it writes one check a change. A change's traffic is summed per
 * direction over its window, and over every stretch of CHECK_STRETCH
 * within it: a change deviates when a direction it affects ran, over a
 * whole stretch (or over the whole window, when shorter), further than
 * CORR_IMPACT_TOLERANCE from its declared impact; when northbound
 * deliveries over a stretch fell below CHECK_MIN_DELIVERED of what was
 * queued; or when an alert naming it went beyond its declared impact
 * (correlate.h: corr_impact). A direction with fewer than
 * CHECK_MIN_EXPECTED messages expected over its window cannot be judged;
 * a change none of whose directions can be judged, and that no such alert
 * named, is unverifiable. A DCC change is judged over every User.
 *
 * Sums are kept in fixed point (1/1024 of a message), so they do not
 * depend on the order the buckets of one event time come in: one shard or
 * many give the same checks, byte for byte.
 *
 * DESIGN: owned by the alert stage's thread; the register is read only,
 * during the call it is passed to (a change is looked up by id each time,
 * so the register may be replaced between calls). A change withdrawn
 * before its check gets none. The check handed to emit is valid during
 * the call only.
 */
#ifndef SW_CHECKS_H
#define SW_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "changes.h"

/* A stretch of traffic judged as one: a quarter of an hour, long enough
 * that noise averages out on a quiet User, short enough that a storm of
 * a few minutes in a day-long window still shows. */
#define CHECK_STRETCH (15 * 60 * INT64_C(1000000000))
/* A direction with fewer messages expected over a stretch (or window) is
 * not judged on it: too few to tell a level from noise. */
#define CHECK_MIN_EXPECTED 30.0
/* Northbound deliveries below this share of what was queued over a
 * stretch: the route was blocked. */
#define CHECK_MIN_DELIVERED 0.5
/* Incidents listed in one check; more are counted in the summary only. */
#define CHECK_MAX_INCIDENTS 16

typedef enum { VERDICT_AS_DECLARED, VERDICT_DEVIATED, VERDICT_UNVERIFIABLE } verdict_t;

/* One change's check (contract 2.1). */
typedef struct {
    const change_t *change;
    verdict_t verdict;
    double observed[2];   /* per direction (DIR_*) relative to the usual level;
                             < 0: too little traffic to say */
    double delivered;     /* share of queued northbound messages delivered; < 0: unknown */
    const incident_id_t *incidents;
    size_t n_incidents;
    const char *summary;
} change_check_t;

const char *verdict_name(verdict_t v);

/* Writes the check as one JSON line (with its '\n') into buf; returns the
 * length it needs, like snprintf. */
size_t change_check_format_json(const change_check_t *c, char *buf, size_t cap);

typedef struct checks checks_t;

typedef void (*checks_emit_fn)(void *ctx, const change_check_t *c);

/* `late`: how long after its end a change is judged (corr_params_t.late).
 * NULL when out of memory. */
checks_t *checks_create(int64_t late);
void checks_destroy(checks_t *ck);

/* The register changed (a reload, a change declared or withdrawn): the
 * changes to watch are looked for again. */
void checks_register_changed(checks_t *ck);

/*
 * A bucket of `user`'s direction `dir` at event time `at`: obs messages
 * counted by warm series against `expected` by their baselines, `queued`
 * counted by every series, `delivered` of them delivered (delivered_known:
 * the User's feed reports deliveries).
 */
void checks_bucket(checks_t *ck, const char *user, int dir, int64_t at, double obs,
                   double expected, double queued, double delivered, int delivered_known);

/* An alert of incident `inc` named change `id` (deviated: beyond its
 * declared impact). */
void checks_named(checks_t *ck, const changes_t *reg, const char *id, incident_id_t inc,
                  int deviated);

/*
 * Event time reached `now`: changes of reg that started by now begin to be
 * watched, and each watched one whose end + late is before now is judged
 * and handed to emit. `known(ctx, user)` says whether the User has ever
 * been seen: a change of a User never seen here gets no check (another
 * instance owns it); NULL: every User is known.
 */
void checks_advance(checks_t *ck, const changes_t *reg, int64_t now, checks_emit_fn emit,
                    int (*known)(void *ctx, const char *user), void *ctx);

/* End of input at event time `now` (a replay's end): every change watched
 * is judged now on the traffic it had, since no more will come; one whose
 * window goes on past `now` says so in its summary. */
void checks_finish(checks_t *ck, const changes_t *reg, int64_t now, checks_emit_fn emit,
                   int (*known)(void *ctx, const char *user), void *ctx);

/* Changes being watched now (for metrics and tests). */
size_t checks_watching(const checks_t *ck);

#endif
