/*
 * baseline.h - the learned expected rate of one series, and the spread of
 * its counts around it.
 *
 * Level. An exponentially weighted mean rate over event time (time constant
 * tau), with a plain running mean during warm-up so that the first minutes
 * are not dominated by the first sample. The spread is negative-binomial:
 * the variance of a count with mean mu is mu + phi*mu^2, phi learned the
 * same way and never below the configured floor; that keeps thresholds
 * sound from a User sending one message a minute to one sending thousands a
 * second.
 *
 * The week. Each series learns two profiles, weekdays and the weekend
 * (Saturday and Sunday), each the rate of every quarter of an hour of the
 * day (BASE_BINS bins), averaged over the days seen. Times are local: the
 * caller passes event time shifted by its UTC offset (baseline.timezone),
 * so a batch scheduled at 02:00 local time stays in its bin across a
 * daylight-saving change. A sample longer than a bin (a coarse producer,
 * every 30 minutes) is spread over the bins it covers.
 *
 * The expectation at a time is the profile of its kind of day (the other
 * kind's while it has none: the first weekend uses the weekdays), times
 * the day scale: how today's traffic compares with the profile, learned
 * over scale_tau (a weekend day at 60 % of a weekday, a holiday, growth);
 * before any profile, the level. Detectors read an envelope over
 * +-tolerance (base_expect): the highest rate nearby for storms, the lowest
 * for silences, the value at the time itself for shifts.
 *
 * Robustness. A sample is learnt normally, damped (the series drifts away
 * from its expectation while the evidence of an anomaly grows: a storm
 * ramping up must not become its own baseline, while a real new level is
 * still learnt, slowly), or not at all (an alert is active). A bin's first
 * day is learnt from everything when the series ran above its level (a
 * batch that fired a storm on the first day is known the next; a silence
 * is never learnt as normal); after that a day far off the profile moves it
 * only by the small outlier weight, and a bin mostly anomalous is not
 * updated.
 *
 * DESIGN: plain value type embedded in a series; owned by the thread that
 * owns the series.
 */
#ifndef SW_BASELINE_H
#define SW_BASELINE_H

#include <stdint.h>

#define BASE_BINS 96 /* quarters of an hour in a day */
#define BASE_BIN_NS (INT64_C(86400000000000) / BASE_BINS)
#define BASE_KINDS 2 /* kinds of day: weekdays, the weekend */
enum { BASE_WEEKDAY, BASE_WEEKEND };

/* phi learns from residuals clipped at this many standard deviations of
 * the spread learnt so far (with at least this much overdispersion) ... */
#define BASE_PHI_CLIP_Z 4.0
#define BASE_PHI_CLIP_FLOOR 0.01
/* ... averaged over this many samples at least. */
#define BASE_PHI_SAMPLES 64
/* Clumping is learnt from samples expecting fewer messages than this:
 * there the quadratic term of the spread says next to nothing. */
#define BASE_DISP_MU 2.0
/* One sample's word on the clumping counts at most this much. */
#define BASE_DISP_OBS_MAX 64.0

/* How a sample is learnt (base_learn). */
enum {
    BASE_NORMAL,    /* fully */
    BASE_DAMPED,    /* the series drifts from its expectation: cfg.damp_weight of the weight */
    BASE_ANOMALOUS, /* an alert is active: not by the level, the scale or the profile */
};

/* How the baseline learns; from detect_params_t. */
typedef struct {
    int64_t tau;            /* time constant of the level */
    double day_weight;      /* weight of a new day in a profile bin */
    double outlier_weight;  /* weight of a day far off the profile */
    double outlier_ratio;   /* "far off": outside [1/ratio, ratio] x the bin ... */
    double outlier_slack;   /* ... and more than this many msg/s away from it */
    int64_t scale_tau;      /* time constant of the day scale; 0: no day scale */
    double damp_weight;     /* share of the weight a damped sample gets */
    int weekly;             /* the weekend has a profile of its own */
    int smooth;             /* read bins smoothed with their neighbours (a coarse series) */
} base_cfg_t;

/* A series sampling fewer times a bin than this learns each bin from a few
 * noisy counts: its bins are best read smoothed (base_cfg_t.smooth). */
#define BASE_SMOOTH_SAMPLES 16

typedef struct {
    double rate;       /* level: recent expected messages per second */
    float phi;         /* learned overdispersion */
    float sc_obs, sc_exp; /* the day scale: recent counts, and what the profile expected */
    float disp;        /* learned clumping (base_disp()); 0: none learnt yet */
    int64_t age;       /* event time learned so far, ns */
    int64_t bin;       /* absolute local bin being accumulated; INT64_MIN none */
    float acc_count, acc_secs;   /* this bin today, normal samples only */
    float all_count, all_secs;   /* this bin today, every sample */
    /* each bin of each kind of day: its learned rate, a 12-bit float
     * (half12_from_float()) in the top 12 bits, and its days learnt
     * (base_days()) in the low 4 (base_prof(), base_set_prof()) */
    uint16_t bins[BASE_KINDS][BASE_BINS];
} base_t;

/* What a series is expected to carry around a time (base_expect). */
typedef struct {
    double hi, lo;   /* the highest and lowest rate over +-tolerance, msg/s */
    double hi_ahead, lo_ahead; /* the highest and lowest from the time on: a pattern
                        come early, not the bins before, which today may
                        have learnt already */
    double mid;      /* the rate at the time itself */
    int learning;    /* no history for this time of day and kind of day yet */
    int level;       /* ... nor of the other kind: the bare level is all there is */
} base_expect_t;

/*
 * Days learnt of bin i of kind k, and whether the last was mostly
 * anomalous (BASE_DAYS_ODD): what the profile's reader needs is "none, one,
 * more", so a bin keeps them in four bits (saturating at BASE_DAYS_MAX)
 * below its rate.
 */
#define BASE_DAYS_MAX 7
#define BASE_DAYS_ODD 0x80
uint8_t base_days(const base_t *b, int k, int i);                /* count | ODD */
void base_set_days(base_t *b, int k, int i, unsigned count_odd); /* count clamped */
/* The learned rate of bin i of kind k, msg/s, and setting it (rounded to
 * the 12-bit float it is kept in; its days unchanged). */
double base_prof(const base_t *b, int k, int i);
void base_set_prof(base_t *b, int k, int i, double rate);

/* A new baseline: no history. */
void base_init(base_t *b);

/*
 * Learns from `count` messages over the `dt_ns` (> 0) ending at local time
 * `lts`, in `mode` (BASE_NORMAL, BASE_DAMPED or BASE_ANOMALOUS).
 */
void base_learn(base_t *b, const base_cfg_t *cfg, double count, int64_t dt_ns, int64_t lts,
                int mode);

/* The expectation around local time `lts` (+-tol_ns, see above). */
void base_expect(const base_t *b, const base_cfg_t *cfg, int64_t lts, int64_t tol_ns,
                 base_expect_t *out);

/* The day scale now (1 before it has learnt anything). */
double base_scale(const base_t *b);

/*
 * Takes the traffic of late as the new normal: the level and every profile
 * bin are multiplied by `factor` (> 0), and the day scale starts afresh.
 * An operator's "accept as new normal".
 */
void base_rebase(base_t *b, double factor);

/* Non-zero when the bin of local time lts has history for its kind of day. */
int base_has_profile(const base_t *b, const base_cfg_t *cfg, int64_t lts);

/* The kind of day (BASE_WEEKDAY or BASE_WEEKEND) of local time lts. */
int base_kind_of_day(int64_t lts);

/* Standard deviation of a count with mean `mu`, with phi at least `phi_floor`
 * (and the clumping, base_disp()). */
double base_sd(const base_t *b, double mu, double phi_floor);

/*
 * The clumping of the series' counts, d >= 1: their variance is
 * d mu + phi mu^2. Replies that follow a small User's few requests, or a
 * device's alerts raised in bursts, come in clumps, so a small series
 * spreads d times as wide as Poisson where the quadratic term is next to
 * nothing: most samples empty, a few several messages. A count k is
 * judged as k/d of a negative binomial of mean mu/d and the same phi
 * (the same variance). 1 for a series never expecting under
 * BASE_DISP_MU messages a sample (busy series: as before it existed).
 */
double base_disp(const base_t *b);

/*
 * log P(X <= k) for a negative-binomial count X with mean mu and
 * overdispersion phi (Poisson when phi is 0): how surprising it is to see
 * only k messages. Meant for a near-silence: for k >= mu (no evidence of
 * silence) it returns 0, a negative k counts as 0, and k is capped.
 */
double base_log_cdf(double k, double mu, double phi);

/* log P(X = k) for a negative-binomial count X with mean mu > 0 and
 * overdispersion phi (Poisson when phi is 0); k >= 0. */
double base_log_pmf(double k, double mu, double phi);

#endif
