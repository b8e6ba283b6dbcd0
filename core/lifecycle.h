/*
 * lifecycle.h - the life of one alert: ok -> pending -> firing -> clearing
 * -> ok, driven in event time by a detector's verdict on each sample.
 *
 * A detector says, per sample, whether its condition is "hot" (beyond the
 * fire threshold) and whether it is "cool" (below the lower clear
 * threshold). The condition must stay hot for `for_ns` before the alert
 * fires, and cool for `hold_ns` before it resolves; anything in between
 * keeps the current state. One incident therefore gives one firing and
 * one resolved transition, not a flutter.
 *
 * DESIGN: a small value type embedded in detector state; no allocation.
 */
#ifndef SW_LIFECYCLE_H
#define SW_LIFECYCLE_H

#include <stdint.h>

typedef enum { LIFE_OK, LIFE_PENDING, LIFE_FIRING, LIFE_CLEARING } life_state_t;
typedef enum { LIFE_NONE, LIFE_FIRE, LIFE_RESOLVE } life_event_t;

typedef struct {
    int64_t onset;   /* first hot sample of the current episode */
    int64_t since;   /* start of the current state (pending or clearing) */
    uint8_t state;   /* life_state_t */
} life_t;

/*
 * Steps the lifecycle with the verdict for the sample at `ts` (ts never
 * decreases). Returns LIFE_FIRE when the alert starts (onset in l->onset),
 * LIFE_RESOLVE when it ends (end time in l->since), else LIFE_NONE.
 */
life_event_t life_step(life_t *l, int64_t ts, int hot, int cool, int64_t for_ns, int64_t hold_ns);

/* Non-zero while the alert is pending, firing or clearing: the detector's
 * baseline should not learn from such samples. */
static inline int life_active(const life_t *l)
{
    return l->state != LIFE_OK;
}

/* Non-zero while the alert has fired and not yet resolved. */
static inline int life_firing(const life_t *l)
{
    return l->state == LIFE_FIRING || l->state == LIFE_CLEARING;
}

#endif
