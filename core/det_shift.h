/*
 * det_shift.h - a shift: a series settles at a new level, about x2 up or
 * x0.5 down, for hours: not a storm or a silence, but an operator wants to
 * know (a warning), and may accept it as the new normal.
 *
 * Over the last `window` (1 h) the rate stands above ratio_up x the
 * highest expectation from now to the tolerance ahead, or below ratio_down
 * x the lowest (a batch a little early, or one that ended early, is no
 * shift; the bins before now may have learnt today's level already), by z
 * standard deviations and by min_rate msg/s: hot; back within
 * [clear_down, clear_up]: cool. The expectations carry the day scale as it
 * was hours ago (SHIFT_SCALE_WINDOWS): the day scale follows a day's level
 * within hours and would learn the shift as today's, while a slow one
 * still follows a User that grows by the day. Only against a learnt
 * profile of this kind of day: a level of the first hours, or of a first
 * weekend, is no "usual" to shift from. While the series has a storm, or
 * its User's direction a silence, blocked route or limit, it learns
 * nothing and says nothing: those say it better.
 *
 * DESIGN: a value embedded in each series; the shard's thread.
 */
#ifndef SW_DET_SHIFT_H
#define SW_DET_SHIFT_H

#include "detector.h"
#include "ewin.h"
#include "params.h"

typedef struct {
    ewin_t w;      /* against the expectation at the time */
    ewin_t hi, lo; /* against the highest and lowest nearby */
    float slow;    /* the day scale, followed over SHIFT_SCALE_WINDOWS windows (0: unset) */
} det_shift_t;

/* The day scale a shift is judged with follows the day scale over this
 * many shift windows: a User growing by half a day is followed, a step to
 * x2 stands out for hours. */
#define SHIFT_SCALE_WINDOWS 6

/* `others`: another alert of this User's direction is active. */
void shift_judge(det_shift_t *s, const det_in_t *in, int others, const detect_params_t *p,
                 det_out_t *out);
/* Non-zero while the window stands beyond clear_down or clear_up: the
 * series then learns damped, so that the shift does not become its
 * profile before it is judged. */
int shift_suspicious(const det_shift_t *s, const detect_params_t *p);
/* Forgets the window (the new level was accepted). */
void shift_reset(det_shift_t *s);
/* The window's rate over its expectation (1 with none). */
double shift_ratio(const det_shift_t *s);

#endif
