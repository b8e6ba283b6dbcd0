/*
 * params.c - the built-in defaults. Each value has a one-line reason; the
 * same values, with the same reasons, are in config/stormwatch.yaml.
 */
#include "params.h"

#define S(x) ((int64_t)((x) * (double)SW_NS_PER_S))

void detect_params_defaults(detect_params_t *p)
{
    *p = (detect_params_t){
        .base_tau = S(1800),          /* 30 min: follows growth, ignores bursts */
        .base_warmup = S(600),        /* 10 min: enough samples for a stable mean */
        .base_dispersion = 0.01,      /* counts are noisier than Poisson */
        .daily_tolerance = S(450),    /* batches start within 7.5 min of yesterday's time */
        .daily_weight = 0.5,          /* yesterday weighs as much as all days before it */
        .daily_outlier_weight = 0.05, /* an incident must not become tomorrow's normal */
        .daily_outlier_ratio = 3.0,   /* a day 3x off its usual rate is an outlier */
        .base_scale_tau = S(7200),    /* 2 h: a weekend or holiday level shows by mid-morning */
        .base_damp_ratio = 2.0,       /* 2x within a minute: a storm forming (daily growth never is) */
        .base_damp_weight = 0.05,     /* a real new level is still learnt, 20x slower ... */
        .base_damp_max = S(1800),     /* ... and at full speed after half an hour: a ramp fires in minutes */

        .storm_ratio_fire = 3.5,      /* harmless bursts reach 3x */
        .storm_burst_ratio = 3.0,     /* short harmless bursts reach 3x */
        .storm_false_per_year = 0.1,  /* a series' harmless bursts fire once in ten years */
        .storm_min_excess = 0.05,     /* a storm brings 3 extra messages a minute at least ... */
        .storm_min_count = 20,        /* ... and 20 in its evidence: a small alert code's x30 is one */
        .storm_ratio_clear = 2.0,     /* hysteresis: well below the fire ratio */
        .storm_for = S(5),            /* two consecutive samples at 5 s */
        .storm_hold = S(30),          /* don't resolve on one quiet minute's worth */
        .storm_burst_length = S(60),  /* ... for a minute at most: over 5 min one adds 0.4x */
        .storm_window_short = S(60),  /* a x3 burst of a minute reaches 2.3x over it: quiet */
        .storm_window_long = S(300),  /* minutes of evidence for floods too noisy for a minute */
        .storm_ratio_sustained = 2.5, /* x2.5 for five minutes is a flood, not the day's swing */
        .storm_z_window = 1.0,        /* a minute of x3 bursts stays under 3x + 1 sd */
        .storm_onset_ratio = 2.0,     /* a storm's start: where its rise passed 2x */
        .storm_clear_window = S(15),  /* smooth at 1 s samples, the last sample at 15 s and more */

        .blocked_window = S(10),      /* two samples at 5 s, one at 10 s: quick */
        .blocked_ratio_fire = 0.5,    /* deliveries under half of what is queued */
        .blocked_ratio_clear = 0.8,   /* most of the queue is flowing again */
        .blocked_min_backlog = 20,    /* a few waiting messages are normal */
        .blocked_for = S(5),
        .blocked_hold = S(60),        /* the backlog drains for a while */

        .silence_max_fraction = 0.05, /* under 5% of expected is silence */
        .silence_false_per_year = 1,  /* one false silence a User a year, at any cadence */
        .silence_clear_fraction = 0.5,/* hysteresis: half the usual traffic is back ... */
        .silence_clear_window = S(30),/* ... over half a minute, not in every second */
        .silence_for = S(25),         /* a producer's hiccup of a sample or two is no silence */
        .silence_hold = S(30),

        .blast_z = 2.5,               /* strong for a mean of several backlogs */
        .blast_min_increase = 1.5,    /* more than one extra message waiting */

        .shift_window = S(3600),      /* a shift is a matter of hours */
        .shift_ratio_up = 1.5,        /* a x2 passes it within the hour */
        .shift_ratio_down = 0.67,     /* a x0.5 passes it within the hour */
        .shift_clear_up = 1.25,       /* hysteresis: well back towards the expectation */
        .shift_clear_down = 0.8,
        .shift_z = 3.0,               /* an hour's evidence: far beyond the noise */
        .shift_min_rate = 0.1,        /* a User of a message a minute has no level to shift */
        .shift_for = S(3600),         /* an hour beyond: a level, not a long burst */
        .shift_hold = S(600),         /* ten minutes back before it resolves */

        .limit_south_rate = 0,
        .limit_north_rate = 0,
    };
}

void corr_params_defaults(corr_params_t *p)
{
    *p = (corr_params_t){
        .early = S(1800),    /* declarations come up to half an hour after the effect */
        .late = S(1800),     /* effects may outlast the declared window */
        .proximity = S(1800),/* an onset near the start is the likely cause */
        .min_score = 0.3,    /* weaker fits are reported as undeclared */
        .incident_grace = S(300),    /* a User's next symptom within 5 min is the same trouble */
        .incident_settle = S(10),      /* deliveries stalling for many Users show within seconds */
        .widespread_users = 5,       /* five Users at once is no coincidence */
        .widespread_window = S(300), /* ... within five minutes */
    };
}

void ingest_params_defaults(ingest_params_t *p)
{
    *p = (ingest_params_t){
        .lateness = S(30),     /* contract default */
        .ts_mult = 1,          /* line-protocol default: nanoseconds */
        .stall_after = S(30),  /* three missed samples at a 10 s cadence */
        .stall_cadences = 3,   /* a feed of 5-minute samples stalls after 15 min */
        .idle_after = S(60),   /* a series with no sample for 1 min carried nothing */
        .idle_cadences = 1.5,  /* a 30-minute series: one sample missed, and half */
        .max_series = 1000000, /* about 2 GiB of detector state; a hostile feed of new
                                  ids evicts the least recently seen instead */
        .max_jump = S(3600),   /* a clock an hour off is a broken producer, not traffic */
        .max_line = 64 * 1024, /* a sample line is about 150 bytes: 64 KiB is only ever junk */
    };
}
