/*
 * detector.h - what the detectors share. A detector judges one sample (a
 * series') or one bucket (a User's direction at one timestamp) against
 * what was expected, keeps whatever state it needs between judgements,
 * and says whether its condition is hot (fire) or cool (clear); the shard
 * drives each alert's lifecycle (lifecycle.h: for, hold) from that, the
 * same way for every detector:
 *
 *   det_storm    a series' rate far above its expectation (det_storm.h)
 *   det_silence  a User's direction falls to about nothing (det_silence.h)
 *   det_route    northbound deliveries stall while the backlog grows (det_route.h)
 *   det_shift    a series settles at a new level for hours (det_shift.h)
 *   det_limit    a User's rate above a fixed limit (det_limit.h)
 *
 * Every duration is event time and every threshold a rate or a count of
 * evidence, never a number of samples, so a detector behaves the same at
 * one sample a second or one every half hour.
 */
#ifndef SW_DETECTOR_H
#define SW_DETECTOR_H

#include <stdint.h>

/* One sample or bucket, as a detector sees it. */
typedef struct {
    int64_t ts, dt;      /* its end and length, ns (dt > 0) */
    double count;        /* messages counted */
    double exp_hi;       /* expected count: the highest rate nearby (storms) */
    double exp_lo;       /* ... the lowest rate nearby (silences) */
    double exp_mid;      /* ... the rate at the time itself (shifts) */
    double exp_ahead;    /* ... the highest from the time on (shifts up) */
    double exp_lo_ahead; /* ... the lowest from the time on (shifts down) */
    double scale;        /* the day scale in them (1: none): shifts judge without it */
    double phi;          /* overdispersion of the count, at least the floor */
    double disp;         /* clumping (baseline.h base_disp): variance disp mu + phi mu^2;
                            under 1 (0: not set) taken as 1, see det_disp() */
    int warm;            /* the baseline has history enough to judge */
    int learning;        /* no history for this time of day and week yet: a guess */
} det_in_t;

/* The sample's clumping, at least 1: a count k is judged as k/d of a
 * negative binomial of mean mu/d and the same phi (the same variance). */
static inline double det_disp(const det_in_t *in)
{
    return in->disp > 1 ? in->disp : 1.0;
}

/* A detector's verdict. */
typedef struct {
    int hot;             /* beyond the fire threshold */
    int cool;            /* below the clear threshold (hysteresis: not hot is not cool) */
    double value;        /* the rate behind the verdict, msg/s */
    double baseline;     /* the expected rate it was judged against, msg/s */
    int64_t onset;       /* when the anomaly began, as far as the detector can tell;
                            INT64_MAX: the lifecycle's first hot sample */
    int64_t end;         /* when it ended, likewise; INT64_MAX: the first cool sample */
} det_out_t;

#endif
