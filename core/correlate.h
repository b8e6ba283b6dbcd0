/*
 * correlate.h - which declared change best explains an alert.
 *
 * Each change of the alert's User is scored in [0,1] as the product of
 *   time      how well the onset falls in the change window (1 inside,
 *             falling linearly to CORR_LATE_FLOOR over `early` before the
 *             start, for changes declared late (DCC work: to 0 over
 *             CORR_DCC_LEAD x `early`), and to 0 over `late` after
 *             the end), times (1+p)/2 where p decays with the time from the
 *             start to the onset over `proximity`;
 *   direction 1 when the change `affects` the alert's direction, else
 *             CORR_WRONG_DIR;
 *   kind      how plausibly a change of that kind causes that alert
 *             (the table in correlate.c, e.g. firewall -> blocked_route).
 * The best change of the User at or above min_score wins ("declared"),
 * unless the best DCC-led change ("maintenance") scores CORR_OWN_MARGIN
 * more; else "undeclared".
 * Another User's change is never considered.
 *
 * DESIGN: reads an immutable register; no state of its own.
 */
#ifndef SW_CORRELATE_H
#define SW_CORRELATE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "changes.h"
#include "params.h"

/* The direction factor of a change that does not affect the alert's
 * direction: a flood of requests brings a storm of responses, a User's
 * system down stops both ways; the User's change explains those too, a
 * little less surely. */
#define CORR_WRONG_DIR 0.8
/* A change declared after the onset fits down to half as well at `early`
 * after it (declarations are often late), then not at all. */
#define CORR_LATE_FLOOR 0.5
/* DCC-led work starts when the DSP says, since the DSP runs it: an onset
 * before its start fits only over this share of `early`, falling to 0. */
#define CORR_DCC_LEAD 0.5
/* The User's own change is preferred to DCC work unless DCC work scores
 * this much better. */
#define CORR_OWN_MARGIN 0.2

typedef struct {
    corr_type_t type;
    const change_t *change; /* NULL when undeclared */
    double score;
} corr_result_t;

/* The score in [0,1] of change `c` for an alert of `kind` in direction
 * `dir` (ALERT_DIR_*) with onset `onset` (ns). */
double corr_score(const change_t *c, const corr_params_t *p, alert_kind_t kind, int dir,
                  int64_t onset);

/* The best explanation of the alert among the changes in `reg` (may be NULL).
 * An exact tie goes to the smaller id, so the register's order (which a
 * removal changes) never decides. */
corr_result_t corr_best(const changes_t *reg, const corr_params_t *p, const char *user,
                        alert_kind_t kind, int dir, int64_t onset);

/* Traffic within this factor of a change's declared impact (either way)
 * behaves as declared: a declared x3 explains x1.5 to x6, a declared "no
 * change" explains up to x2 (which no storm reaches unnoticed). */
#define CORR_IMPACT_TOLERANCE 2.0
/* Levels compared with the declared impact are offset by this, so that
 * "none" (0) and "almost none" compare as near, not infinitely apart. */
#define CORR_IMPACT_FLOOR 0.1

/* How far level `observed` is from `declared` (both relative to the usual
 * level): a factor >= 1, 1 when equal. */
double corr_impact_distance(double observed, double declared);

/*
 * How an alert of `kind` in direction `dir` with rate `value` against
 * `baseline` compares with the declared impact of change c: IMPACT_NA when
 * c is NULL or the kind says nothing of a level (blocked routes: deliveries
 * stall whatever was declared; feed stalls, widespread, forecasts),
 * IMPACT_WITHIN when value/baseline is within CORR_IMPACT_TOLERANCE of the
 * impact c declared for dir, else IMPACT_DEVIATED.
 */
impact_fit_t corr_impact(const change_t *c, alert_kind_t kind, int dir, double value,
                         double baseline);

/* The i-th kind the correlator knows ("firewall", "network", "mdm",
 * "headend", "firmware", "maintenance"), NULL past the last. */
const char *corr_kind_name(size_t i);
/* Non-zero when `kind` is one of them (case-insensitive). */
int corr_kind_known(const char *kind);

/* How plausibly a change of free-text `kind` causes an alert of `alert`. */
double corr_kind_affinity(const char *kind, alert_kind_t alert, int dir);

#endif
