/*
 * params.h - every tunable number of the detectors, the baseline, the
 * reorder stage and the correlator, with its built-in default.
 *
 * params_defaults() is the single source of the defaults; the documented
 * config/stormwatch.yaml shows exactly the same values (a test checks it).
 * Durations are nanoseconds of event time; rates are messages per second.
 */
#ifndef SW_PARAMS_H
#define SW_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define SW_NS_PER_S INT64_C(1000000000)

/* Per-series / per-User detection settings; a User may override any of them. */
typedef struct {
    /* baseline: learned expected rate of each series */
    int64_t base_tau;          /* time constant of the learned mean and spread */
    int64_t base_warmup;       /* history a series needs before it may alert */
    double base_dispersion;    /* least overdispersion phi in var = mu + phi*mu^2 */
    int64_t daily_tolerance;   /* a daily pattern may shift by this much from day to day */
    double daily_weight;       /* weight of a new day in the daily profile */
    double daily_outlier_weight; /* weight of a day far off the profile */
    double daily_outlier_ratio;  /* "far off": beyond this ratio either way */
    int64_t base_scale_tau;    /* time constant of the day scale (today against the profile) */
    double base_damp_ratio;    /* a series this far above its expectation learns damped ... */
    double base_damp_weight;   /* ... at this share of the weight ... */
    int64_t base_damp_max;     /* ... for this long at most */

    /* storm: a series' rate far above its baseline */
    double storm_ratio_fire;   /* fire when rate > ratio x baseline ... */
    double storm_burst_ratio;  /* harmless bursts reach this ratio ... */
    double storm_false_per_year; /* ... and the count as unlikely for such a burst as this allows */
    double storm_min_excess;   /* ... and exceeds the baseline by at least this rate ... */
    double storm_min_count;    /* ... and this many messages */
    double storm_ratio_clear;  /* resolve once the short window is below ratio x baseline */
    int64_t storm_for;         /* the one-sample test must hold this long before firing */
    int64_t storm_hold;        /* and be clear this long before resolving */
    int64_t storm_burst_length;/* ... and last this long at most */
    int64_t storm_window_short;/* the short window's time constant */
    int64_t storm_window_long; /* the long window's (at least two samples) */
    double storm_ratio_sustained; /* a window's bar is never under this x */
    double storm_z_window;     /* a window must stand this many sd above its bar */
    double storm_onset_ratio;  /* a storm's start: its first sample above this x */
    int64_t storm_clear_window;/* the window that says a storm is still on, or over */

    /* blocked_route: northbound deliveries stall while the backlog grows */
    int64_t blocked_window;    /* span over which deliveries and queueing are summed */
    double blocked_ratio_fire; /* fire when delivered < ratio x queued over the window */
    double blocked_ratio_clear;/* resolve when delivered >= ratio x queued */
    double blocked_min_backlog;/* and the backlog is at least this many messages */
    int64_t blocked_for;
    int64_t blocked_hold;

    /* silence: a direction that normally carries traffic falls to about zero */
    double silence_max_fraction; /* "about zero": below this fraction of expected */
    double silence_false_per_year; /* evidence for this many false silences a User a year */
    double silence_clear_fraction; /* resolve once traffic is back above this fraction ... */
    int64_t silence_clear_window;  /* ... over a window of this time constant */
    int64_t silence_for;
    int64_t silence_hold;

    /* blast radius: this User counts as impacted by another's storm when
     * its backlog since the storm's onset stands out from its usual level */
    double blast_z;            /* by this many standard errors */
    double blast_min_increase; /* and by at least this many messages */

    /* shift: a User's direction at a new level for hours (a warning) */
    int64_t shift_window;      /* time constant of the window judged */
    double shift_ratio_up;     /* fire above this x the expectation ... */
    double shift_ratio_down;   /* ... or below this x */
    double shift_clear_up;     /* resolve once back under this x ... */
    double shift_clear_down;   /* ... and above this x */
    double shift_z;            /* the window must stand this many sd beyond its ratio */
    double shift_min_rate;     /* and this many msg/s away from the expectation */
    int64_t shift_for;
    int64_t shift_hold;

    /* fixed per-User limits (SEC Anomaly Detection Thresholds); 0 = none */
    double limit_south_rate;
    double limit_north_rate;
} detect_params_t;

/* Correlation of alerts with declared changes. */
typedef struct {
    int64_t early;        /* an onset this long before a change's start still fits */
    int64_t late;         /* an onset this long after a change's end still fits */
    int64_t proximity;    /* onsets closer than this to the start score higher */
    double min_score;     /* a change below this score explains nothing */
    /* grouping alerts into incidents (the alert stage) */
    int64_t incident_grace;   /* an incident stays open this long after its last alert */
    int64_t incident_settle;    /* lines wait this long in event time: simultaneous symptoms
                                 are seen together */
    size_t widespread_users;  /* Users with one symptom at once that make it widespread ... */
    int64_t widespread_window;/* ... within this long */
} corr_params_t;

/* Ingest-side settings. */
typedef struct {
    int64_t lateness;     /* out-of-order samples are reordered within this */
    int64_t ts_mult;      /* nanoseconds per timestamp unit (1 = ns) */
    int64_t stall_after;  /* no sample at all for this long (at least): feed_stalled */
    double stall_cadences;/* ... and for this many of the feed's own intervals */
    int64_t idle_after;   /* a series silent this long (at least, feed alive) counts as zero */
    double idle_cadences; /* ... and for this many of its own intervals */
    size_t max_series;    /* series held at most, all shards together; 0: no limit */
    int64_t max_jump;     /* a sample this far ahead of the feed's time waits to be followed */
    uint64_t max_line;    /* bytes of one line at most; longer ones are bad (counted) */
} ingest_params_t;

void detect_params_defaults(detect_params_t *p);
void corr_params_defaults(corr_params_t *p);
void ingest_params_defaults(ingest_params_t *p);

/* Bounds of ingest.max_line: room for a line with two 64-byte ids, and a
 * line no producer writes (the parser unescapes a line into that much). */
#define SW_MIN_MAX_LINE UINT64_C(256)
#define SW_MAX_MAX_LINE (UINT64_C(1) << 20)

#endif
