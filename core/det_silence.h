/*
 * det_silence.h - a silence: a User's direction that normally carries
 * traffic falls to about nothing (at most max_fraction of what it carries
 * at its quietest nearby).
 *
 * Evidence, not a count of empty samples: each bucket of about nothing
 * (max_fraction of the expectation or less) adds the log of how much
 * likelier its count is under silence (the rate max_fraction x the
 * expectation) than under the normal rate, both negative-binomial with the
 * learned overdispersion, so a natural zero of a small User (a quarter of
 * its seconds at 1 s cadence) adds little and a zero of a busy User a lot;
 * a bucket with more traffic starts the sum again. It fires once
 * the sum reaches log(buckets a year / false_per_year): about one false
 * silence a User a year at any cadence. It clears when the traffic over
 * the last clear_window is back above clear_fraction of the expectation,
 * so single quiet seconds after the traffic came back do not hold it up,
 * or after half an hour of traffic with no bucket of about nothing,
 * whatever its share of the expectation.
 *
 * A bucket of about nothing never counts as more evidence than its learnt
 * frequency says: `quiet` is the share of the User's buckets that were
 * about nothing, learnt from the runs of them that ended with traffic
 * before they made a silence. Traffic that comes in clumps (replies
 * following the few requests of a small User, a batch of them) has far
 * more empty buckets than its mean and spread suggest; such a User's
 * gaps are its normal, and only a gap well beyond them is a silence.
 *
 * DESIGN: a value embedded in each User's direction; the shard's thread.
 */
#ifndef SW_DET_SILENCE_H
#define SW_DET_SILENCE_H

#include "detector.h"
#include "ewin.h"
#include "params.h"

typedef struct {
    float llr;            /* the evidence of silence so far (>= 0) */
    float quiet;          /* learnt share of buckets about nothing (0..1) */
    int64_t since;        /* its first bucket about nothing; INT64_MIN: none */
    int64_t back_since;   /* traffic back above clear_fraction x since; INT64_MIN: not */
    ewin_t recent;        /* the traffic of late, for clearing */
    float run;            /* buckets about nothing in a row so far */
    int64_t traffic_since; /* buckets with traffic (over max_fraction) in a row
                             since; INT64_MIN: the last was about nothing */
} det_silence_t;

/* Traffic this long without a bucket about nothing ends a silence, though
 * under clear_fraction of an expectation learnt before it (a level learnt
 * in a batch the series began in would hold it for ever: nothing is
 * learnt while it fires). */
#define SILENCE_TRAFFIC_CLEARS_NS (INT64_C(1800) * SW_NS_PER_S)

/* The time constant of `quiet`: an hour of event time, whatever the
 * cadence (a night of gaps is still known at the morning's first hour,
 * not all day). */
#define SILENCE_QUIET_TAU_S 3600.0

void silence_init(det_silence_t *s);
void silence_judge(det_silence_t *s, const det_in_t *in, const detect_params_t *p,
                   det_out_t *out);
/* Non-zero while evidence of a silence is building (a quarter of the way). */
int silence_suspicious(const det_silence_t *s, const det_in_t *in, const detect_params_t *p);

#endif
