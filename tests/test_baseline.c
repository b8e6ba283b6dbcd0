/*
 * test_baseline.c - tests of the learned level, daily profile and spread
 * (core/baseline.h).
 *
 * The level: exact on a constant rate, a time-weighted running mean during
 * warm-up, an EWMA with time constant tau afterwards (a step is closed by
 * about 1 - 1/e after tau), frozen by anomalous samples. The daily profile:
 * a bin learnt on its first day, averaged with day_weight afterwards, moved
 * only by outlier_weight by a day far off, untouched by a mostly anomalous
 * day, and read as an envelope by base_expect. The spread: phi
 * learned from negative-binomial counts drawn by a seeded generator, ~0 on
 * Poisson counts, the floor of base_sd() and the clamp of one wild sample;
 * base_log_cdf() against hand-computed probabilities. base_t is a value
 * type: nothing here allocates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "baseline.h"
#include "half.h"
#include "timefmt.h"

#include "testutil.h"
#define MINUTE (60 * SEC)
#define DAY (86400 * SEC)


/* Midnight UTC of the first day of every test. */
static int64_t day0(void)
{
    int64_t ns = 0;
    assert_int_equal(tf_parse_rfc3339("2019-09-12T00:00:00Z", &ns), 0);
    return ns;
}

/* The defaults of params.c, with time constant tau. */
static base_cfg_t cfg_tau(int64_t tau)
{
    return (base_cfg_t){ .tau = tau, .day_weight = 0.5, .outlier_weight = 0.05,
                         .outlier_ratio = 3.0, .damp_weight = 0.05 };
}

/* The cfg of base_has_profile and expect_range: the profile alone. */
static const base_cfg_t nocfg = { .tau = 1800 * SEC, .day_weight = 0.5 };

/* The envelope over +-tol around ts, as base_expect gives it. */
static void expect_range(const base_t *b, int64_t ts, int64_t tol, double *hi, double *lo)
{
    base_expect_t ex;
    base_expect(b, &nocfg, ts, tol, &ex);
    *hi = ex.hi;
    *lo = ex.lo;
}

/* The start of bin `bin` (0..95) of day `day` after day0. */
static int64_t bin_start(int day, int bin)
{
    return day0() + day * DAY + (int64_t)bin * BASE_BIN_NS;
}

/* The profile's expectation in the middle of a bin, alone (no day scale,
 * no weekend: the cfg_tau() of these tests). */
static double expect_mid(const base_t *b, int day, int bin)
{
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_expect_t ex;
    base_expect(b, &cfg, bin_start(day, bin) + BASE_BIN_NS / 2, 0, &ex);
    assert_near(ex.hi, ex.lo, 0);
    assert_near(ex.hi, ex.mid, 0);
    return ex.hi;
}

/* A day of traffic at a rate chosen per bin of the day; `step` cadence. */
typedef struct {
    double rate[BASE_BINS];
    int anomalous[BASE_BINS];
} day_plan_t;

static void plan_fill(day_plan_t *d, double rate)
{
    for (int i = 0; i < BASE_BINS; i++) {
        d->rate[i] = rate;
        d->anomalous[i] = 0;
    }
}

/* Feeds day `day` per plan: samples from its start + step to its end - step,
 * so its last bin is folded only by the next day's first sample. */
static void feed_day(base_t *b, const base_cfg_t *cfg, int day, const day_plan_t *d, int64_t step)
{
    int64_t start = bin_start(day, 0);
    for (int64_t ts = start + step; ts < start + DAY; ts += step) {
        /* a sample stamped ts covers (ts - step, ts]: the bin it lies in */
        int i = (int)(((ts - 1 - day0()) % DAY) / BASE_BIN_NS);
        double secs = (double)step / SEC;
        base_learn(b, cfg, d->rate[i] * secs, step, ts,
                   d->anomalous[i] ? BASE_ANOMALOUS : BASE_NORMAL);
    }
}

/*
 * A negative-binomial count with mean mu and overdispersion phi = 1/r for
 * integer r: the sum of r geometric counts, each with mean mu/r. Its
 * variance is mu + phi*mu^2.
 */
static double rng_negbin(uint64_t *s, double mu, int r)
{
    double p = 1.0 / (1.0 + mu / r); /* success probability of each geometric */
    double lq = log(1.0 - p), k = 0;
    for (int i = 0; i < r; i++)
        k += floor(log(rng_u01(s)) / lq);
    return k;
}

/* A Poisson count with mean mu (Knuth's product of uniforms; mu small). */
static double rng_poisson(uint64_t *s, double mu)
{
    double limit = exp(-mu), prod = rng_u01(s);
    double k = 0;
    while (prod > limit) {
        prod *= rng_u01(s);
        k++;
    }
    return k;
}

/*
 * A profile bin keeps its rate as a 12-bit float beside its days: within
 * 0.4 % from 6e-5 to 65504 msg/s (below, within 2.4e-7: a message in a
 * month), nothing negative, never infinite, and
 * setting the rate leaves the days alone (and the days the rate).
 */
static void test_bin_rate_and_days_share_a_word(void **state)
{
    (void)state;
    base_t b;
    base_init(&b);
    double rates[] = { 6.2e-5, 3e-4, 0.05, 1, 6.5, 7.25, 123.4, 4999, 65000 };
    for (size_t j = 0; j < sizeof(rates) / sizeof(rates[0]); j++) {
        base_set_days(&b, BASE_WEEKEND, 7, 5 | BASE_DAYS_ODD);
        base_set_prof(&b, BASE_WEEKEND, 7, rates[j]);
        assert_near(base_prof(&b, BASE_WEEKEND, 7), rates[j], rates[j] * 0.004);
        assert_int_equal(base_days(&b, BASE_WEEKEND, 7), 5 | BASE_DAYS_ODD);
        base_set_days(&b, BASE_WEEKEND, 7, 2);
        assert_near(base_prof(&b, BASE_WEEKEND, 7), rates[j], rates[j] * 0.004);
    }
    base_set_prof(&b, BASE_WEEKEND, 7, 1e-6);
    assert_near(base_prof(&b, BASE_WEEKEND, 7), 1e-6, 2.4e-7);
    base_set_prof(&b, BASE_WEEKEND, 7, 2e-7);
    assert_near(base_prof(&b, BASE_WEEKEND, 7), 2e-7, 2.4e-7);
    /* neighbours and the other kind untouched */
    assert_true(base_prof(&b, BASE_WEEKEND, 6) == 0 && base_days(&b, BASE_WEEKEND, 8) == 0);
    assert_true(base_prof(&b, BASE_WEEKDAY, 7) == 0 && base_days(&b, BASE_WEEKDAY, 7) == 0);
    /* the largest is kept, beyond it clamped, never infinite */
    base_set_prof(&b, BASE_WEEKDAY, 0, 1e9);
    assert_true(base_prof(&b, BASE_WEEKDAY, 0) > 65000 && base_prof(&b, BASE_WEEKDAY, 0) <= 65504);
    base_set_prof(&b, BASE_WEEKDAY, 0, 65504);
    assert_true(base_prof(&b, BASE_WEEKDAY, 0) <= 65504);
    base_set_prof(&b, BASE_WEEKDAY, 1, -3);
    assert_true(base_prof(&b, BASE_WEEKDAY, 1) == 0);
    base_set_prof(&b, BASE_WEEKDAY, 1, NAN);
    assert_true(base_prof(&b, BASE_WEEKDAY, 1) == 0);
    /* rounding is to the nearest: 1 + 1/256 is a tie, to even (1); just
     * over it goes up a step (1/128) */
    base_set_prof(&b, BASE_WEEKDAY, 2, 1.0 + 1.0 / 256);
    assert_true(base_prof(&b, BASE_WEEKDAY, 2) == 1.0);
    base_set_prof(&b, BASE_WEEKDAY, 2, 1.0 + 1.0 / 256 + 1.0 / 1024);
    assert_true(base_prof(&b, BASE_WEEKDAY, 2) == 1.0 + 1.0 / 128);
    base_set_prof(&b, BASE_WEEKDAY, 2, 1.0 + 3.0 / 256); /* a tie up to even */
    assert_true(base_prof(&b, BASE_WEEKDAY, 2) == 1.0 + 2.0 / 128);
}

static void test_init(void **state)
{
    (void)state;
    base_t b;
    base_init(&b);
    assert_true(b.rate == 0.0);
    assert_true(b.phi == 0.0f);
    assert_int_equal(b.age, 0);
    assert_true(b.bin == INT64_MIN);
    for (int i = 0; i < BASE_BINS; i++)
        assert_false(base_has_profile(&b, &nocfg, bin_start(0, i)));
    double hi = -1, lo = -1;
    expect_range(&b, day0(), 30 * MINUTE, &hi, &lo);
    assert_true(hi == 0.0 && lo == 0.0);
    assert_true(base_sd(&b, 0, 0.01) == 0.0);
}

/* A constant rate is learned at once and exactly; no spread is learned. */
static void test_constant_rate(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_t b;
    base_init(&b);
    int64_t ts = day0();
    for (int k = 0; k < 5000; k++) {
        ts += 10 * SEC;
        base_learn(&b, &cfg, 50, 10 * SEC, ts, BASE_NORMAL);
        assert_near(b.rate, 5.0, 1e-12);
    }
    assert_true(b.phi == 0.0f);
    assert_int_equal(b.age, 5000 * 10 * SEC);
}

/* Warm-up: a plain running mean, weighted by time. */
static void test_warmup_running_mean(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    int64_t t = day0();
    base_t b;
    base_init(&b);
    base_learn(&b, &cfg, 10, 10 * SEC, t + 10 * SEC, BASE_NORMAL); /* 1/s */
    assert_near(b.rate, 1.0, 1e-12);
    base_learn(&b, &cfg, 30, 10 * SEC, t + 20 * SEC, BASE_NORMAL); /* 3/s */
    assert_near(b.rate, 2.0, 1e-12);                     /* their average */
    base_learn(&b, &cfg, 60, 10 * SEC, t + 30 * SEC, BASE_NORMAL); /* 6/s */
    assert_near(b.rate, 10.0 / 3.0, 1e-12);
    assert_int_equal(b.age, 30 * SEC);

    /* unequal intervals: the mean is weighted by time */
    base_t c;
    base_init(&c);
    base_learn(&c, &cfg, 10, 10 * SEC, t + 10 * SEC, BASE_NORMAL); /* 1/s for 10 s */
    base_learn(&c, &cfg, 90, 30 * SEC, t + 40 * SEC, BASE_NORMAL); /* 3/s for 30 s */
    assert_near(c.rate, 100.0 / 40.0, 1e-12);
}

/* Past warm-up a sample moves the level by dt/(tau+dt) of the gap. */
static void test_ewma_weight_after_warmup(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(100 * SEC);
    base_t b;
    base_init(&b);
    int64_t ts = day0();
    for (int k = 0; k < 300; k++)
        base_learn(&b, &cfg, 10, SEC, ts += SEC, BASE_NORMAL);
    base_learn(&b, &cfg, 20, SEC, ts += SEC, BASE_NORMAL);
    assert_near(b.rate, 10.0 + 10.0 / 101.0, 1e-9);
}

/* A step change: after about tau the gap has shrunk to about 1/e. */
static void test_tau_governs_step_tracking(void **state)
{
    (void)state;
    const int64_t tau = 100 * SEC;
    base_cfg_t cfg = cfg_tau(tau);
    base_t b;
    base_init(&b);
    int64_t ts = day0();
    for (int k = 0; k < 1000; k++) /* well past warm-up */
        base_learn(&b, &cfg, 10, SEC, ts += SEC, BASE_NORMAL);
    assert_near(b.rate, 10.0, 1e-9);

    base_learn(&b, &cfg, 20, SEC, ts += SEC, BASE_NORMAL);
    assert_true(20.0 - b.rate > 9.8); /* one sample barely moves it */
    for (int k = 1; k < 100; k++)
        base_learn(&b, &cfg, 20, SEC, ts += SEC, BASE_NORMAL);
    double left = (20.0 - b.rate) / 10.0; /* fraction of the step left after tau */
    assert_near(left, exp(-1.0), 0.02);
    for (int k = 0; k < 400; k++) /* 5 tau in all */
        base_learn(&b, &cfg, 20, SEC, ts += SEC, BASE_NORMAL);
    assert_true(20.0 - b.rate < 10.0 * exp(-4.5));
    assert_true(b.rate < 20.0);

    /* a shorter tau tracks the same step faster */
    base_cfg_t fast = cfg_tau(tau / 4);
    base_t f;
    base_init(&f);
    ts = day0();
    for (int k = 0; k < 1000; k++)
        base_learn(&f, &fast, 10, SEC, ts += SEC, BASE_NORMAL);
    for (int k = 0; k < 100; k++)
        base_learn(&f, &fast, 20, SEC, ts += SEC, BASE_NORMAL);
    assert_true(20.0 - f.rate < 10.0 * exp(-3.5));
}

/* Anomalous samples teach the level and the spread nothing. */
static void test_anomalous_does_not_learn_level(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(100 * SEC);
    base_t b;
    base_init(&b);
    int64_t ts = day0();
    for (int k = 0; k < 300; k++)
        base_learn(&b, &cfg, 10, SEC, ts += SEC, BASE_NORMAL);
    double rate = b.rate;
    float phi = b.phi;
    int64_t age = b.age;
    for (int k = 0; k < 300; k++)
        base_learn(&b, &cfg, 1000, SEC, ts += SEC, BASE_ANOMALOUS);
    assert_true(b.rate == rate);
    assert_true(b.phi == phi);
    assert_int_equal(b.age, age);
}

/* A non-positive interval teaches nothing. */
static void test_nonpositive_dt_ignored(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_t b;
    base_init(&b);
    base_learn(&b, &cfg, 10, 10 * SEC, day0() + 10 * SEC, BASE_NORMAL);
    base_t before = b;
    base_learn(&b, &cfg, 1000, 0, day0() + 20 * SEC, BASE_NORMAL);
    base_learn(&b, &cfg, 1000, -SEC, day0() + 30 * SEC, BASE_NORMAL);
    assert_true(b.rate == before.rate);
    assert_true(b.phi == before.phi);
    assert_int_equal(b.age, before.age);
    assert_true(b.acc_count == before.acc_count);
}

/* One day of history makes each bin its own expectation. */
static void test_daily_profile_first_day(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    day_plan_t d;
    plan_fill(&d, 5);
    d.rate[8] = 100; /* a nightly batch, 02:00-02:15 */
    base_t b;
    base_init(&b);
    feed_day(&b, &cfg, 0, &d, 10 * SEC);
    /* the last bin of day 0 is folded by the first sample of day 1 */
    assert_false(base_has_profile(&b, &nocfg, bin_start(1, 95)));
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(1, 0) + 10 * SEC, BASE_NORMAL);
    for (int i = 0; i < BASE_BINS; i++)
        assert_true(base_has_profile(&b, &nocfg, bin_start(1, i)));
    assert_near(expect_mid(&b, 1, 8), 100.0, 1e-4);
    assert_near(expect_mid(&b, 1, 20), 5.0, 1e-5);
    assert_true(b.rate < 20); /* the level is not the profile */

    /* the envelope over +-tolerance: highest and lowest nearby */
    double hi, lo;
    expect_range(&b, bin_start(1, 9) + MINUTE, 7 * MINUTE + 30 * SEC, &hi, &lo);
    assert_near(hi, 100.0, 1e-4); /* reaches back into the batch bin */
    assert_near(lo, 5.0, 1e-5);
    expect_range(&b, bin_start(1, 8) - 5 * MINUTE, 7 * MINUTE + 30 * SEC, &hi, &lo);
    assert_near(hi, 100.0, 1e-4); /* reaches forward into it */
    expect_range(&b, bin_start(1, 8) - 10 * MINUTE, 5 * MINUTE, &hi, &lo);
    assert_near(hi, 5.0, 1e-5); /* too far from it */
    assert_near(lo, 5.0, 1e-5);
    /* a tolerance of more than a day covers every bin once */
    expect_range(&b, bin_start(1, 50), 3 * DAY, &hi, &lo);
    assert_near(hi, 100.0, 1e-4);
    assert_near(lo, 5.0, 1e-5);
}

/* Bins without history fall back to the level. */
static void test_bins_without_history_use_level(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_t b;
    base_init(&b);
    /* two hours at 4/s, 08:00-10:00 */
    for (int64_t ts = bin_start(0, 32) + 10 * SEC; ts <= bin_start(0, 40); ts += 10 * SEC)
        base_learn(&b, &cfg, 40, 10 * SEC, ts, BASE_NORMAL);
    assert_near(b.rate, 4.0, 1e-9);
    assert_true(base_has_profile(&b, &nocfg, bin_start(1, 33)));
    assert_false(base_has_profile(&b, &nocfg, bin_start(1, 60)));
    assert_near(expect_mid(&b, 1, 60), b.rate, 1e-12);
    /* a bin seen for less than half its length learns no profile */
    base_t c;
    base_init(&c);
    for (int64_t ts = bin_start(0, 33) - 5 * MINUTE; ts <= bin_start(0, 34) + 10 * SEC;
         ts += 10 * SEC) /* the last sample, in bin 34, folds bin 33 */
        base_learn(&c, &cfg, 40, 10 * SEC, ts, BASE_NORMAL);
    assert_false(base_has_profile(&c, &nocfg, bin_start(1, 32)));
    assert_true(base_has_profile(&c, &nocfg, bin_start(1, 33)));
}

/*
 * A series sampled every 30 minutes spreads each sample over the two bins
 * it covers: after a day every quarter-hour bin has a profile, at the
 * sample's rate (not every other one, with the rest left to the level).
 */
static void test_coarse_samples_fill_every_bin(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_t b;
    base_init(&b);
    for (int64_t ts = bin_start(0, 0) + 30 * MINUTE; ts <= bin_start(1, 0) + 30 * MINUTE;
         ts += 30 * MINUTE)
        base_learn(&b, &cfg, 7.0 * 1800, 30 * MINUTE, ts, BASE_NORMAL);
    for (int i = 0; i < BASE_BINS; i++) {
        if (!base_has_profile(&b, &nocfg, bin_start(1, i)))
            fail_msg("bin %d has no profile", i);
        assert_near(expect_mid(&b, 1, i), 7.0, 0.01);
    }
}

/* Later days: averaged with day_weight, outliers and anomalies damped. */
static void test_daily_profile_later_days(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    day_plan_t d;
    plan_fill(&d, 5);
    base_t b;
    base_init(&b);
    feed_day(&b, &cfg, 0, &d, 10 * SEC);
    d.rate[20] = 8;       /* within [1/3, 3] x 5: an ordinary day */
    d.rate[30] = 50;      /* 10x: an outlier */
    d.rate[31] = 1;       /* 1/5: an outlier the other way */
    d.rate[40] = 50;      /* an incident: anomalous all bin long */
    d.anomalous[40] = 1;
    feed_day(&b, &cfg, 1, &d, 10 * SEC);
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(2, 0) + 10 * SEC, BASE_NORMAL);
    /* profiles are kept as 12-bit floats: within 0.4 % */
    assert_near(expect_mid(&b, 2, 20), 5 + 0.5 * (8 - 5), 0.004 * 6.5);
    assert_near(expect_mid(&b, 2, 30), 5 + 0.05 * (50 - 5), 0.004 * 7.25);
    assert_near(expect_mid(&b, 2, 31), 5 + 0.05 * (1 - 5), 0.004 * 4.8);
    assert_near(expect_mid(&b, 2, 40), 5.0, 1e-5); /* the incident is not learnt */
    assert_near(expect_mid(&b, 2, 50), 5.0, 1e-5);
    assert_int_equal(base_days(&b, BASE_WEEKDAY, 20), 2);
    assert_int_equal(base_days(&b, BASE_WEEKDAY, 40) & 0x7f, 1); /* not learnt: marked */
    assert_true(base_days(&b, BASE_WEEKDAY, 40) & BASE_DAYS_ODD);
}

/*
 * What is anomalous at the same time two days running is the pattern (a
 * batch that moved, the quiet after it): the second day learns it, from
 * every sample; an anomaly on one day only is never learnt.
 */
static void test_recurring_anomaly_learnt(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    day_plan_t d;
    plan_fill(&d, 5);
    base_t b;
    base_init(&b);
    feed_day(&b, &cfg, 0, &d, 10 * SEC);
    d.rate[40] = 40; /* alerting, two days running */
    d.anomalous[40] = 1;
    d.rate[60] = 40; /* alerting on day 1 only */
    d.anomalous[60] = 1;
    feed_day(&b, &cfg, 1, &d, 10 * SEC);
    d.rate[60] = 5;
    d.anomalous[60] = 0;
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(2, 0) + 10 * SEC, BASE_NORMAL);
    assert_near(expect_mid(&b, 2, 40), 5.0, 1e-5); /* one day: not yet */
    feed_day(&b, &cfg, 2, &d, 10 * SEC);
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(3, 0) + 10 * SEC, BASE_NORMAL);
    /* the second day: learnt at day_weight, as an ordinary day */
    assert_near(expect_mid(&b, 3, 40), 5 + cfg.day_weight * (40 - 5), 0.05);
    assert_near(expect_mid(&b, 3, 60), 5.0, 1e-5);
    assert_int_equal(base_days(&b, BASE_WEEKDAY, 40), 2);
    assert_int_equal(base_days(&b, BASE_WEEKDAY, 60), 2); /* day 2 was normal again */
}

/* A pattern seen only while alerting on its first day is known the next. */
static void test_first_day_learns_anomalous_pattern(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    day_plan_t d;
    plan_fill(&d, 5);
    d.rate[10] = 40;
    d.anomalous[10] = 1;
    base_t b;
    base_init(&b);
    feed_day(&b, &cfg, 0, &d, 10 * SEC);
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(1, 0) + 10 * SEC, BASE_NORMAL);
    assert_near(expect_mid(&b, 1, 10), 40.0, 1e-4);

    /* but when most of the bin was normal, only the normal part counts */
    base_t c;
    base_init(&c);
    int64_t ts = bin_start(0, 12);
    for (int k = 0; k < 30; k++) /* 5 min alerting at 60/s */
        base_learn(&c, &cfg, 600, 10 * SEC, ts += 10 * SEC, BASE_ANOMALOUS);
    for (int k = 0; k < 60; k++) /* 10 min normal at 5/s */
        base_learn(&c, &cfg, 50, 10 * SEC, ts += 10 * SEC, BASE_NORMAL);
    assert_true(ts == bin_start(0, 13));
    base_learn(&c, &cfg, 50, 10 * SEC, ts += 10 * SEC, BASE_NORMAL); /* folds bin 12 */
    assert_true(base_has_profile(&c, &nocfg, bin_start(1, 12)));
    assert_near(expect_mid(&c, 1, 12), 5.0, 1e-5);
}

/*
 * A storm on a bin's first day is learnt for tomorrow, but must not become
 * its own expectation today: an hour at 10x after hours at 10/s keeps the
 * envelope at the level for the whole hour, in every bin of the storm.
 */
static void test_first_day_storm_not_expected_same_day(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_t b;
    base_init(&b);
    int64_t ts = bin_start(0, 40);
    for (int k = 0; k < 4 * 360; k++) /* 4 h at 10/s */
        base_learn(&b, &cfg, 100, 10 * SEC, ts += 10 * SEC, BASE_NORMAL);
    for (int k = 0; k < 360; k++) { /* 1 h at 100/s, alerting */
        base_learn(&b, &cfg, 1000, 10 * SEC, ts += 10 * SEC, BASE_ANOMALOUS);
        double hi, lo;
        expect_range(&b, ts, 450 * SEC, &hi, &lo); /* the default tolerance */
        assert_true(hi < 12.0);
    }
    /* the next day the same time is expected at the storm's rate */
    base_learn(&b, &cfg, 100, 10 * SEC, bin_start(1, 0), BASE_NORMAL);
    assert_near(expect_mid(&b, 1, 57), 100.0, 1e-3);
}

/*
 * BUG (core/baseline.c, fold(): the first-day fallback to all_count /
 * all_secs, and the multiplicative outlier test against a zero profile):
 * a silence on a bin's first day is learnt as that bin's normal (profile 0),
 * contradicting baseline.h's "an incident never becomes tomorrow's normal".
 * Normal traffic on later days is then always an "outlier" of a zero bin
 * (v > 0 * ratio) and moves the profile by only outlier_weight a day
 * (0 -> 0.25 -> 0.49 -> 0.71 for 5 msg/s). In the engine, two such bins in
 * a row make hi = 0 over the tolerance, so normal traffic fires a storm the
 * next day; the storm marks the samples anomalous, the bin is then "mostly
 * anomalous" and never updated again: a false storm every day, for good.
 * Expected to FAIL until fixed (see report).
 */
static void test_BUG_first_day_silence_not_learnt_as_normal(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    day_plan_t d;
    plan_fill(&d, 5);
    for (int i = 40; i < 44; i++) { /* 10:00-11:00: an outage, silence alerting */
        d.rate[i] = 0;
        d.anomalous[i] = 1;
    }
    base_t b;
    base_init(&b);
    feed_day(&b, &cfg, 0, &d, 10 * SEC);
    plan_fill(&d, 5);
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(1, 0), BASE_NORMAL);
    /* tomorrow at 10:30, normal traffic must not look like a storm */
    double hi, lo;
    expect_range(&b, bin_start(1, 42), 7 * MINUTE + 30 * SEC, &hi, &lo);
    assert_true(hi > 5.0 / 3.5);
    /* and three normal days later the bin expects roughly normal traffic */
    for (int day = 1; day < 4; day++)
        feed_day(&b, &cfg, day, &d, 10 * SEC);
    base_learn(&b, &cfg, 50, 10 * SEC, bin_start(4, 0) + 10 * SEC, BASE_NORMAL);
    assert_true(expect_mid(&b, 4, 42) > 5.0 / 3.5);
}


/* How learn_draws() draws its counts. */
typedef enum { DRAW_POISSON, DRAW_NEGBIN, DRAW_CLUMPS } draw_t;

/* What a baseline learnt, averaged over the last forty thousand samples. */
typedef struct {
    double rate, phi, disp;
} learnt_t;

/* Sixty thousand 1 s samples of mean mu (under a day: the level is the
 * expectation), Poisson, negative-binomial of phi 1/param, or clumps of
 * `param` (one with probability mu / param). */
static learnt_t learn_draws(draw_t how, double mu, int param, uint64_t seed)
{
    base_cfg_t cfg = cfg_tau(2000 * SEC);
    base_t b;
    base_init(&b);
    learnt_t sum = { 0 };
    int n = 0;
    int64_t ts = day0();
    for (int k = 0; k < 60000; k++) {
        double c = how == DRAW_NEGBIN ? rng_negbin(&seed, mu, param)
                   : how == DRAW_CLUMPS ? (rng_u01(&seed) < mu / param ? param : 0)
                                        : rng_poisson(&seed, mu);
        base_learn(&b, &cfg, c, SEC, ts += SEC, BASE_NORMAL);
        if (k >= 20000) {
            sum.rate += b.rate;
            sum.phi += b.phi;
            sum.disp += base_disp(&b);
            n++;
        }
    }
    return (learnt_t){ sum.rate / n, sum.phi / n, sum.disp / n };
}

/* phi learned from negative-binomial counts is near the truth. */
static void test_phi_learned_from_overdispersed_counts(void **state)
{
    (void)state;
    learnt_t l = learn_draws(DRAW_NEGBIN, 100, 10, UINT64_C(20190912)); /* phi = 0.1 */
    assert_near(l.rate, 100.0, 3.0);
    assert_near(l.phi, 0.1, 0.02);
    l = learn_draws(DRAW_NEGBIN, 40, 4, UINT64_C(20190912)); /* phi = 0.25 */
    assert_near(l.rate, 40.0, 2.0);
    assert_near(l.phi, 0.25, 0.05);
}

/* Poisson counts (true phi 0) learn phi near 0: the estimate is unbiased. */
static void test_phi_near_zero_on_poisson_counts(void **state)
{
    (void)state;
    const double mus[] = { 1, 3, 10 };
    for (size_t m = 0; m < sizeof(mus) / sizeof(mus[0]); m++) {
        learnt_t l = learn_draws(DRAW_POISSON, mus[m], 0, UINT64_C(7));
        assert_near(l.rate, mus[m], 0.3 * sqrt(mus[m]));
        assert_true(l.phi >= 0.0);
        assert_near(l.phi, 0.0, 0.03);
    }
}

/*
 * Clumping: a small series whose messages come four at a time (a clump in
 * one 1 s sample out of sixteen: mean 0.25, variance 0.94, 3.75 x the
 * mean) learns disp near 3.75 and keeps phi near nothing; Poisson counts
 * of the same mean learn disp near 1; a busy series (4 or more a sample)
 * never learns one (0: base_disp 1), so it is judged as before. The
 * spread (base_sd) carries it.
 */
static void test_disp_learnt_from_clumps(void **state)
{
    (void)state;
    learnt_t l = learn_draws(DRAW_CLUMPS, 0.25, 4, UINT64_C(11));
    assert_near(l.disp, 3.75, 0.6);
    assert_true(l.phi < 0.5);
    l = learn_draws(DRAW_POISSON, 0.25, 0, UINT64_C(11));
    assert_near(l.disp, 1.0, 0.15);
    base_cfg_t cfg = cfg_tau(1800 * SEC);
    base_t b;
    base_init(&b);
    int64_t ts = day0();
    for (int k = 0; k < 2000; k++)
        base_learn(&b, &cfg, k % 2 ? 2 : 8, SEC, ts += SEC, BASE_NORMAL); /* mean 5 */
    assert_true(b.disp == 0.0f);
    assert_near(base_disp(&b), 1.0, 0);
    b.disp = 4;
    b.phi = 0;
    assert_near(base_sd(&b, 0.25, 0), 1.0, 1e-9); /* sqrt(4 x 0.25) */
}

/* base_sd: var = mu + phi mu^2, with phi at least the floor. */
static void test_sd_floor(void **state)
{
    (void)state;
    base_t b;
    base_init(&b);
    b.rate = 10;
    assert_near(base_sd(&b, 100, 0.01), sqrt(200.0), 1e-9); /* floor used */
    assert_near(base_sd(&b, 100, 0.0), 10.0, 1e-9);          /* Poisson */
    b.phi = 0.5f;
    assert_near(base_sd(&b, 100, 0.01), sqrt(100.0 + 0.5 * 10000.0), 1e-6); /* learned */
    assert_near(base_sd(&b, 100, 1.0), sqrt(100.0 + 10000.0), 1e-9);        /* floor above */
    assert_true(base_sd(&b, 0, 1.0) == 0.0);
}

/* One wild sample moves phi only by what a residual of BASE_PHI_CLIP_Z
 * standard deviations gives; the level is not clamped. */
static void test_extreme_sample_clamps_phi(void **state)
{
    (void)state;
    base_cfg_t cfg = cfg_tau(100 * SEC);
    base_t b;
    base_init(&b);
    int64_t ts = day0();
    for (int k = 0; k < 500; k++)
        base_learn(&b, &cfg, 100, SEC, ts += SEC, BASE_NORMAL);
    assert_true(b.phi == 0.0f);
    base_learn(&b, &cfg, 1e9, SEC, ts += SEC, BASE_NORMAL);
    const double w = 1.0 / 101.0, mu = 100;
    double clip = BASE_PHI_CLIP_Z * sqrt(mu + BASE_PHI_CLIP_FLOOR * mu * mu);
    assert_near(b.phi, w * (clip * clip - mu) / (mu * mu), 1e-6);
    assert_near(b.rate, 100.0 + w * (1e9 - 100.0), 1e-3);
    assert_true(isfinite(base_sd(&b, b.rate, 0.01)));
}

/* log P(X <= k) against probabilities computed by hand. */
static void test_log_cdf(void **state)
{
    (void)state;
    /* Poisson, mu = 10: P(0) = e^-10, P(<=2) = e^-10 (1 + 10 + 50) */
    assert_near(base_log_cdf(0, 10, 0), -10.0, 1e-9);
    assert_near(base_log_cdf(2, 10, 0), -10.0 + log(61.0), 1e-9);
    assert_near(base_log_cdf(2.9, 10, 0), -10.0 + log(61.0), 1e-9); /* k floored */
    /* found by fuzz_ingest: a k beyond LONG_MAX was converted before the
     * cap on terms (undefined); it must be capped first, and give <= 0 */
    double huge = base_log_cdf(1e290, 1e300, 0.01);
    assert_true(isfinite(huge) && huge <= 0.0);
    /* negative binomial, mu = 4, phi = 0.5 (r = 2, p = 2/3):
     * P(0) = 3^-2 = 3/27, P(1) = 4/27, P(2) = 4/27 */
    assert_near(base_log_cdf(0, 4, 0.5), log(3.0 / 27.0), 1e-9);
    assert_near(base_log_cdf(1, 4, 0.5), log(7.0 / 27.0), 1e-9);
    assert_near(base_log_cdf(2, 4, 0.5), log(11.0 / 27.0), 1e-9);
    /* overdispersion makes a silence less surprising */
    assert_true(base_log_cdf(0, 20, 0.5) > base_log_cdf(0, 20, 0));
    /* a vanishing phi is Poisson */
    assert_near(base_log_cdf(1, 5, 1e-12), -5.0 + log(6.0), 1e-6);
    /* deep silences stay finite in the log domain */
    assert_near(base_log_cdf(0, 1e6, 0), -1e6, 1e-3);
    assert_true(isfinite(base_log_cdf(3, 1e6, 0.01)));
    /* nothing expected: nothing surprising */
    assert_true(base_log_cdf(0, 0, 0) == 0.0);
    /* more messages, or a smaller expectation, are less surprising */
    assert_true(base_log_cdf(1, 10, 0.1) > base_log_cdf(0, 10, 0.1));
    assert_true(base_log_cdf(0, 5, 0.1) > base_log_cdf(0, 10, 0.1));
    for (double k = 0; k < 30; k++)
        assert_true(base_log_cdf(k, 30, 0.05) <= 0.0);
}

/* A baseline whose every bin has history: weekdays at `weekday` msg/s,
 * the weekend at `weekend`. */
static void two_profiles(base_t *b, double weekday, double weekend)
{
    base_init(b);
    for (int i = 0; i < BASE_BINS; i++) {
        base_set_prof(b, BASE_WEEKDAY, i, weekday);
        base_set_prof(b, BASE_WEEKEND, i, weekend);
        base_set_days(b, BASE_WEEKDAY, i, 3);
        base_set_days(b, BASE_WEEKEND, i, 3);
    }
}

/* The envelope around midnight reads each side's bins from its own kind
 * of day: Friday night into Saturday, Sunday night into Monday, a
 * window wholly inside one day, and windows wider than a day. */
static void test_envelope_across_midnight(void **state)
{
    (void)state;
    base_t b;
    two_profiles(&b, 10, 2);
    base_cfg_t cfg = { .tau = 1800 * SEC, .day_weight = 0.5, .weekly = 1 };
    base_expect_t ex;
    /* day0 is a Thursday: Friday 23:55, +-15 min reaches Saturday 00:10 */
    base_expect(&b, &cfg, day0() + 2 * DAY - 5 * 60 * SEC, 15 * 60 * SEC, &ex);
    assert_near(ex.hi, 10, 1e-9);
    assert_near(ex.lo, 2, 1e-9);
    assert_near(ex.mid, 10, 1e-9);   /* Friday's own bin */
    assert_near(ex.lo_ahead, 2, 1e-9); /* from now on: Saturday comes */
    assert_false(ex.learning);
    /* Sunday 23:55 into Monday 00:10 */
    base_expect(&b, &cfg, day0() + 4 * DAY - 5 * 60 * SEC, 15 * 60 * SEC, &ex);
    assert_near(ex.hi, 10, 1e-9);
    assert_near(ex.lo, 2, 1e-9);
    assert_near(ex.mid, 2, 1e-9);
    assert_near(ex.hi_ahead, 10, 1e-9);
    /* Saturday noon: the weekend alone */
    base_expect(&b, &cfg, day0() + 2 * DAY + 12 * 3600 * SEC, 15 * 60 * SEC, &ex);
    assert_near(ex.hi, 2, 1e-9);
    assert_near(ex.lo, 2, 1e-9);
    /* a window wider than a day is read for a day from its start:
     * Saturday 06:00 +-13 h is Friday 17:00 to Saturday 16:45 */
    base_expect(&b, &cfg, day0() + 2 * DAY + 6 * 3600 * SEC, 13 * 3600 * SEC, &ex);
    assert_near(ex.hi, 10, 1e-9);
    assert_near(ex.lo, 2, 1e-9);
    /* ... and Saturday 00:00 +-30 h only Thursday 18:00 to Friday 17:45 */
    base_expect(&b, &cfg, day0() + 2 * DAY, 30 * 3600 * SEC, &ex);
    assert_near(ex.lo, 10, 1e-9);
}

/* A coarse series' bin never learnt (the series began in it) reads the
 * nearest learnt bins, marked learning: one alone, or the mean of two as
 * near; up to four bins away, and only when they stand above the level.
 * A bin with none that near, or any bin of a series read unsmoothed, is
 * the level. */
static void test_coarse_unlearnt_bin_reads_neighbours(void **state)
{
    (void)state;
    base_t b;
    base_init(&b);
    b.rate = 1;
    base_set_prof(&b, BASE_WEEKDAY, 40, 8);
    base_set_prof(&b, BASE_WEEKDAY, 42, 2);
    base_set_days(&b, BASE_WEEKDAY, 40, 3);
    base_set_days(&b, BASE_WEEKDAY, 42, 3);
    base_cfg_t cfg = { .tau = 1800 * SEC, .day_weight = 0.5, .smooth = 1 };
    base_expect_t ex;
    int64_t mid41 = bin_start(1, 41) + BASE_BIN_NS / 2;
    base_expect(&b, &cfg, mid41, 0, &ex);
    assert_near(ex.mid, 5, 1e-9);
    assert_true(ex.learning);
    assert_false(ex.level);
    base_set_days(&b, BASE_WEEKDAY, 42, 0);
    base_expect(&b, &cfg, mid41, 0, &ex);
    assert_near(ex.mid, 8, 1e-9);
    assert_false(ex.level);
    base_expect(&b, &cfg, bin_start(1, 44) + BASE_BIN_NS / 2, 0, &ex); /* 4 from 40 */
    assert_near(ex.mid, 8, 1e-9);
    assert_false(ex.level);
    base_expect(&b, &cfg, bin_start(1, 45) + BASE_BIN_NS / 2, 0, &ex); /* 5 from 40 */
    assert_near(ex.mid, 1, 1e-9);
    assert_true(ex.level);
    b.rate = 9; /* nearby bins under the level */
    base_expect(&b, &cfg, mid41, 0, &ex);
    assert_near(ex.mid, 9, 1e-9);
    assert_true(ex.level);
    b.rate = 1;
    cfg.smooth = 0;
    base_expect(&b, &cfg, mid41, 0, &ex);
    assert_near(ex.mid, 1, 1e-9);
    assert_true(ex.level);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_rate_and_days_share_a_word),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_constant_rate),
        cmocka_unit_test(test_warmup_running_mean),
        cmocka_unit_test(test_ewma_weight_after_warmup),
        cmocka_unit_test(test_tau_governs_step_tracking),
        cmocka_unit_test(test_anomalous_does_not_learn_level),
        cmocka_unit_test(test_nonpositive_dt_ignored),
        cmocka_unit_test(test_daily_profile_first_day),
        cmocka_unit_test(test_bins_without_history_use_level),
        cmocka_unit_test(test_coarse_samples_fill_every_bin),
        cmocka_unit_test(test_coarse_unlearnt_bin_reads_neighbours),
        cmocka_unit_test(test_daily_profile_later_days),
        cmocka_unit_test(test_recurring_anomaly_learnt),
        cmocka_unit_test(test_first_day_learns_anomalous_pattern),
        cmocka_unit_test(test_first_day_storm_not_expected_same_day),
        cmocka_unit_test(test_BUG_first_day_silence_not_learnt_as_normal),
        cmocka_unit_test(test_phi_learned_from_overdispersed_counts),
        cmocka_unit_test(test_phi_near_zero_on_poisson_counts),
        cmocka_unit_test(test_sd_floor),
        cmocka_unit_test(test_disp_learnt_from_clumps),
        cmocka_unit_test(test_envelope_across_midnight),
        cmocka_unit_test(test_extreme_sample_clamps_phi),
        cmocka_unit_test(test_log_cdf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
