/*
 * det_storm.h - a storm: a series' rate far above its expectation (a
 * northbound alert storm, a southbound request flood, one alert code).
 *
 * Harmless bursts reach burst_ratio x for burst_length at most: over a
 * span T they make 1 + (burst_ratio - 1) x min(1, burst_length / T) of the
 * rate. Three tests, any of which fires:
 *   - one sample: its rate is above ratio_fire x the expectation (less
 *     over intervals longer than a burst, never under ratio_sustained),
 *     and its count is so far above what a harmless burst makes of its
 *     interval that, with the series' learnt noise, a burst would get
 *     there false_per_year times a year; for `for`, or at once when the
 *     sample is longer than a burst: a x10 storm fires in a sample or
 *     two, a x4 flood in a 15-min sample or two;
 *   - the short window (window_short, 1 min): over it the rate is above
 *     the bar by z_window standard deviations, the bar being what harmless
 *     bursts make of the window's span, and never under ratio_sustained:
 *     a sustained x4 fires within about a minute, even on a User whose
 *     counts swing by a third, while a x3 burst of up to a minute stays
 *     below;
 *   - the long window (window_long, 5 min, or two samples at coarser
 *     cadences), the same: a flood too noisy for the short window still
 *     shows over minutes.
 * Each also wants an excess of min_excess_rate msg/s, and the windows want
 * the storm to be still on (the last clear_window above ratio_clear x: a
 * window still full of a storm that ended does not fire it again). It
 * clears once the last clear_window (15 s: smooth at one sample a second,
 * the last sample at coarser cadences) is under ratio_clear x.
 *
 * Its learning: a series whose short window drifts above damp_ratio x its
 * expectation (or below 1/damp_ratio x), beyond counting noise and by
 * min_excess_rate msg/s (a drift too small to storm is no threat), is
 * suspicious (storm_suspicious):
 * its baseline then learns damped, so a storm ramping up over minutes is
 * judged against the level from before the ramp instead of becoming its
 * own baseline, and a drop (maintenance) does not become the level the
 * return is judged against.
 *
 * DESIGN: a value embedded in each series; the shard's thread.
 */
#ifndef SW_DET_STORM_H
#define SW_DET_STORM_H

#include "detector.h"
#include "ewin.h"
#include "params.h"

typedef struct {
    ewin_t s1, s2;        /* the short and long windows */
    ewin_t recent;        /* the last clear_window: is the storm still on? */
    uint8_t s0_samples;   /* the one-sample test hot for this many samples in a row
                             (here, in the ewins' last word: a series keeps one) ... */
    int64_t s0_since;     /* ... since; INT64_MIN: not */
    int64_t rise_since;   /* the rise now going on began; INT64_MIN: none */
    int64_t fall_since;   /* the storm's samples back under ratio_clear x since; INT64_MIN: not */
} det_storm_t;

void storm_init(det_storm_t *s);
/* The storm that fired has resolved: its windows forget it, so the
 * evidence of the storm that ended cannot fire a second one. */
void storm_forget(det_storm_t *s);
void storm_judge(det_storm_t *s, const det_in_t *in, const detect_params_t *p, det_out_t *out);
/* Non-zero while the short window stands above base_damp_ratio x the
 * expectation, or below its inverse (a drop, as in maintenance, is not
 * learnt as the level a return would then be judged against): a change
 * that fast is an anomaly forming, never the day's own rise and fall. */
int storm_suspicious(const det_storm_t *s, const detect_params_t *p);

#endif
