/*
 * det_shift.h - a shift: a User's direction settles at a new level, about
 * x2 up or x0.5 down, for hours: not a storm or a silence, but an operator
 * wants to know (a warning), and may accept it as the new normal.
 *
 * Over the last `window` (1 h) the rate stands above ratio_up (or below
 * ratio_down) x its expectation at that time of day by z standard
 * deviations and by min_rate msg/s: hot; back within [clear_down,
 * clear_up]: cool. Only against a learnt profile: a level of the first
 * hours is no "usual" to shift from. While the User's direction has another alert (a storm, a
 * silence, a blocked route) it learns nothing and says nothing: those say
 * it better.
 *
 * DESIGN: a value embedded in each User's direction; the shard's thread.
 */
#ifndef SW_DET_SHIFT_H
#define SW_DET_SHIFT_H

#include "detector.h"
#include "ewin.h"
#include "params.h"

typedef struct {
    ewin_t w;
} det_shift_t;

/* `others`: another alert of this User's direction is active. */
void shift_judge(det_shift_t *s, const det_in_t *in, int others, const detect_params_t *p,
                 det_out_t *out);
/* Forgets the window (the new level was accepted). */
void shift_reset(det_shift_t *s);
/* The window's rate over its expectation (1 with none). */
double shift_ratio(const det_shift_t *s);

#endif
