/*
 * baseline.h - the learned expected rate of one series, and the spread of
 * its counts around it.
 *
 * The mean rate is an exponentially weighted average over event time (time
 * constant tau), with a plain running mean during warm-up so that the
 * first minutes are not dominated by the first sample. The spread is
 * modelled as negative-binomial: the variance of a count with mean mu is
 * mu + phi*mu^2, with phi learned the same way and never below the
 * configured floor. That keeps thresholds sound from a User sending one
 * message a second to one sending thousands.
 *
 * On top of that each series learns its daily profile: the rate of each
 * quarter of an hour of the day (BASE_BINS bins, UTC), averaged over the
 * days seen. Once a bin has a day of history it is the expectation at that
 * time of day, so a batch of scheduled reads that recurs every night is
 * normal from the second night on, while the same jump at another time is
 * still a storm. Detectors read an envelope over +-tolerance around now
 * (base_expect_range): the highest rate nearby for storms, the lowest for
 * silences, so a batch starting a few minutes early or late is no storm.
 *
 * Robustness: samples taken while the series is anomalous update neither
 * the level nor, normally, the profile. A bin's first day is the exception
 * when the series ran above its level (it is learnt from everything seen,
 * so a batch that fired a storm on the first day is known the next; a
 * silence is never learnt as normal); after that a day far off the profile
 * (outside [1/ratio, ratio] x the bin and more than the slack away) moves
 * it only by the small outlier weight,
 * and a bin mostly anomalous is not updated: an incident never becomes
 * tomorrow's normal, while slow growth (onboarding) is followed.
 *
 * DESIGN: plain value type embedded in a series; owned by the thread that
 * owns the series.
 */
#ifndef SW_BASELINE_H
#define SW_BASELINE_H

#include <stdint.h>

#define BASE_BINS 96 /* quarters of an hour in a day */
#define BASE_BIN_NS (INT64_C(86400000000000) / BASE_BINS)

/* How the daily profile learns; from detect_params_t. */
typedef struct {
    int64_t tau;            /* time constant of the level */
    double day_weight;      /* weight of a new day in a profile bin */
    double outlier_weight;  /* weight of a day far off the profile */
    double outlier_ratio;   /* "far off": outside [1/ratio, ratio] x the bin ... */
    double outlier_slack;   /* ... and more than this many msg/s away from it */
} base_cfg_t;

typedef struct {
    double rate;       /* level: recent expected messages per second */
    float phi;         /* learned overdispersion */
    int64_t age;       /* event time learned so far, ns */
    int64_t bin;       /* absolute number of the bin being accumulated; INT64_MIN none */
    float acc_count, acc_secs;   /* this bin today, normal samples only */
    float all_count, all_secs;   /* this bin today, every sample */
    float prof[BASE_BINS];       /* learned rate per bin of the day */
    uint8_t days[BASE_BINS];     /* days learnt per bin (saturates) */
} base_t;

/* A new baseline: no history. */
void base_init(base_t *b);

/*
 * Learns from `count` messages over the `dt_ns` (> 0) ending at `ts`.
 * `anomalous`: the series or its User's direction is alerting, so the level
 * does not learn and the profile learns only as described above.
 */
void base_learn(base_t *b, const base_cfg_t *cfg, double count, int64_t dt_ns, int64_t ts,
                int anomalous);

/*
 * The expected rate (msg/s) around `ts`: *hi the highest and *lo the lowest
 * over [ts - tol_ns, ts + tol_ns] of the profile bins with history, or the
 * level where there is none.
 */
void base_expect_range(const base_t *b, int64_t ts, int64_t tol_ns, double *hi, double *lo);

/* Non-zero when the bin of the day containing ts has a day of history. */
int base_has_profile(const base_t *b, int64_t ts);

/* Standard deviation of a count with mean `mu`, with phi at least `phi_floor`. */
double base_sd(const base_t *b, double mu, double phi_floor);

/*
 * log P(X <= k) for a negative-binomial count X with mean mu and
 * overdispersion phi (Poisson when phi is 0): how surprising it is to see
 * only k messages. Meant for a near-silence: for k >= mu (no evidence of
 * silence) it returns 0, a negative k counts as 0, and k is capped.
 */
double base_log_cdf(double k, double mu, double phi);

#endif
