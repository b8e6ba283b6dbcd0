/*
 * forecast.h - Users running ahead of their Service Request forecast
 * (contract section 2: `forecasts:`).
 *
 * For each User with a forecast in the register, the southbound requests
 * of the current UTC day are counted as the alert stage releases them, and
 * the day's total is projected from the share of a day's requests the User
 * usually has sent by that time: its own daily profile, learnt from the
 * days it was watched (hour by hour, each finished day weighing
 * FORECAST_LEARN), or an even spread before a first whole day (the alert
 * then says `learning`). A User first counted mid-day (new, or after a
 * restart) is projected from the share of a day the time since covers. A
 * projection is trusted once the day has reached
 * FORECAST_MIN_SHARE of its usual requests and FORECAST_MIN_COUNT of them
 * have come; it fires when even its lower bound (the count less three of
 * its standard deviations) projects FORECAST_FIRE times the forecast; it
 * clears when the projection falls back under FORECAST_CLEAR times the
 * forecast, and at the end of the day.
 *
 * DESIGN: owned by the alert stage's thread; the register is read during
 * the calls it is passed to only (users are looked up by name).
 */
#ifndef SW_FORECAST_H
#define SW_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"

#define FORECAST_FIRE 1.25     /* a quarter over the forecast: more than a busy day */
#define FORECAST_CLEAR 1.1     /* hysteresis: a projection hovering near the bar
                                  fires once */
#define FORECAST_MIN_SHARE 0.05 /* of a usual day's requests before projecting */
#define FORECAST_MIN_COUNT 100.0 /* requests before projecting: a quiet User's
                                    first few are noise */
#define FORECAST_LEARN 0.3     /* weight of the last finished day in the profile */

typedef struct {
    int fire;          /* 1: fires; 0: resolves */
    uint32_t id;       /* the alert's id among forecast alerts */
    int64_t at;        /* event time of the transition (the bucket's) */
    int64_t ends_at;   /* resolves: when it ended (the day's end, or at) */
    double projected;  /* requests projected for the day */
    double forecast;   /* requests forecast for the day */
    int learning;      /* projected from an even spread: no profile yet */
} forecast_event_t;

typedef struct forecasts forecasts_t;

/* NULL when out of memory. */
forecasts_t *forecasts_create(void);
void forecasts_destroy(forecasts_t *f);

/* The register changed: the Users with forecasts are looked for again. */
void forecasts_register_changed(forecasts_t *f);

/*
 * A southbound bucket of `user` at event time `at` (lasting dt) with
 * `queued` requests. Writes the transitions it makes into out (room for
 * 2: a resolution at the day's end, then a firing) and returns how many.
 */
size_t forecasts_bucket(forecasts_t *f, const changes_t *reg, const char *user, int64_t at,
                        int64_t dt, double queued, forecast_event_t out[2]);

/* Users watched (with a forecast in the register). */
size_t forecasts_watching(const forecasts_t *f);

#endif
