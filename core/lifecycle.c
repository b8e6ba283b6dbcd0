/*
 * lifecycle.c - pending/firing/resolved state machine (lifecycle.h).
 */
#include "lifecycle.h"

life_event_t life_step(life_t *l, int64_t ts, int hot, int cool, int64_t for_ns, int64_t hold_ns)
{
    switch ((life_state_t)l->state) {
    case LIFE_OK:
        if (!hot)
            return LIFE_NONE;
        l->onset = l->since = ts;
        l->state = LIFE_PENDING;
        /* with for_ns == 0 it fires on this very sample */
        __attribute__((fallthrough));
    case LIFE_PENDING:
        if (!hot) {
            l->state = LIFE_OK;
            return LIFE_NONE;
        }
        if (ts - l->since < for_ns)
            return LIFE_NONE;
        l->state = LIFE_FIRING;
        return LIFE_FIRE;
    case LIFE_FIRING:
        if (cool) {
            l->state = LIFE_CLEARING;
            l->since = ts;
            if (hold_ns <= 0) {
                l->state = LIFE_OK;
                return LIFE_RESOLVE;
            }
        }
        return LIFE_NONE;
    case LIFE_CLEARING:
        if (!cool) {
            l->state = LIFE_FIRING;
            return LIFE_NONE;
        }
        if (ts - l->since < hold_ns)
            return LIFE_NONE;
        l->state = LIFE_OK;
        return LIFE_RESOLVE;
    }
    return LIFE_NONE;
}
