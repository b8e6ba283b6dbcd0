/*
 * test_detectors.c - each detector of core/det_*.c on its own, driven
 * through the lifecycle with its default `for` and `hold` as the shard
 * drives it: when it fires, that it holds through what is not yet cool
 * (hysteresis), and when it resolves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "det_limit.h"
#include "det_route.h"
#include "det_shift.h"
#include "det_silence.h"
#include "det_storm.h"
#include "lifecycle.h"
#include "params.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * S)

typedef struct {
    life_t life;
    int64_t fired, resolved; /* event time of the transitions; 0: none yet */
} life_probe_t;

static void step(life_probe_t *l, int64_t ts, const det_out_t *o, int64_t for_ns, int64_t hold_ns)
{
    switch (life_step(&l->life, ts, o->hot, o->cool, for_ns, hold_ns)) {
    case LIFE_FIRE: l->fired = ts; break;
    case LIFE_RESOLVE: l->resolved = ts; break;
    default: break;
    }
}

static det_in_t sample(int64_t ts, int64_t dt, double count, double mu)
{
    return (det_in_t){ .ts = ts, .dt = dt, .count = count, .exp_hi = mu, .exp_lo = mu,
                       .exp_mid = mu, .exp_ahead = mu, .exp_lo_ahead = mu, .scale = 1,
                       .phi = 0.01, .warm = 1 };
}

/*
 * storm: a x10 step fires at its first 10 s sample; x2.5 after it is
 * above the clear ratio (2x), so it keeps firing; back at x1 it is cool
 * within clear_window and resolves `hold` (30 s) later.
 */
static void test_storm_fires_holds_and_clears(void **state)
{
    (void)state;
    detect_params_t p;
    detect_params_defaults(&p);
    det_storm_t d;
    storm_init(&d);
    life_probe_t l = { 0 };
    det_out_t o;
    int64_t t = T0, dt = 10 * S;
    for (int k = 0; k < 60; k++, t += dt) {
        det_in_t in = sample(t, dt, 100, 100);
        storm_judge(&d, &in, &p, &o);
        step(&l, t, &o, 0, p.storm_hold); /* for: inside the detector */
    }
    assert_int_equal(l.fired, 0);
    int64_t onset = t;
    for (int k = 0; k < 6; k++, t += dt) {
        det_in_t in = sample(t, dt, 1000, 100);
        storm_judge(&d, &in, &p, &o);
        step(&l, t, &o, 0, p.storm_hold); /* for: inside the detector */
    }
    assert_true(l.fired == onset);
    assert_true(o.onset == onset);
    for (int k = 0; k < 12; k++, t += dt) { /* x2.5: not cool */
        det_in_t in = sample(t, dt, 250, 100);
        storm_judge(&d, &in, &p, &o);
        step(&l, t, &o, 0, p.storm_hold); /* for: inside the detector */
    }
    assert_int_equal(l.resolved, 0);
    int64_t back = t;
    for (int k = 0; k < 12; k++, t += dt) {
        det_in_t in = sample(t, dt, 100, 100);
        storm_judge(&d, &in, &p, &o);
        step(&l, t, &o, 0, p.storm_hold); /* for: inside the detector */
    }
    assert_true(l.resolved == back + p.storm_hold); /* the first sample back is cool */
}

/*
 * storm windows: at 1 s, a sustained x4 (too close to a x3 burst for one
 * sample) fires within about a minute on the evidence of the 1-minute
 * window; a x3 burst of a minute never does; and a storm forgotten after
 * it resolved does not fire again from the windows it left full.
 */
static void test_storm_windows(void **state)
{
    (void)state;
    detect_params_t p;
    detect_params_defaults(&p);
    for (int mag = 3; mag <= 4; mag++) {
        det_storm_t d;
        storm_init(&d);
        life_probe_t l = { 0 };
        det_out_t o;
        int64_t t = T0, dt = S;
        for (int k = 0; k < 600; k++, t += dt) {
            det_in_t in = sample(t, dt, 20, 20);
            storm_judge(&d, &in, &p, &o);
            step(&l, t, &o, 0, p.storm_hold); /* for: inside the detector */
        }
        int64_t onset = t;
        for (int k = 0; k < (mag == 3 ? 60 : 180); k++, t += dt) {
            det_in_t in = sample(t, dt, 20 * mag, 20);
            storm_judge(&d, &in, &p, &o);
            step(&l, t, &o, 0, p.storm_hold); /* for: inside the detector */
        }
        if (mag == 3)
            assert_int_equal(l.fired, 0);
        else
            assert_true(l.fired > onset + 10 * S && l.fired <= onset + 90 * S);
    }
}

/*
 * Clumping: a 1 s series expecting 0.25 messages a second that come four
 * at a time. 45 s of clumps three times as often as usual (x5.3) is a
 * storm to a detector that takes the counts for Poisson (disp 1), not to
 * one that knows their clumping (disp 3.75); a minute of clumps every
 * second (x16) is one to both. Returns the second of the burst it fired
 * in, 0 when it never did (the burst and a minute after), -1 before it.
 * Alone, one sample at 16x is a storm at disp 1, not at disp 10.
 */
static int storm_of_clumps(double disp, int every, int len)
{
    detect_params_t p;
    detect_params_defaults(&p);
    det_storm_t d;
    storm_init(&d);
    det_out_t o;
    int64_t t = T0, dt = S;
    for (int k = -600; k < len + 60; k++, t += dt) { /* ten minutes as usual first */
        int clump = k >= 0 && k < len ? k % every == 0 : (k + 600) % 16 == 0;
        det_in_t in = sample(t, dt, clump ? 4 : 0, 0.25);
        in.disp = disp;
        storm_judge(&d, &in, &p, &o);
        if (o.hot)
            return k < 0 ? -1 : k + 1;
    }
    return 0;
}

/* One 10 s sample of 80 where 5 are expected, after ten minutes of 5:
 * whether it fires alone (the one-sample tail, read as 80/d of mean 5/d). */
static int one_sample_storm(double disp)
{
    detect_params_t p;
    detect_params_defaults(&p);
    det_storm_t d;
    storm_init(&d);
    det_out_t o;
    int64_t t = T0, dt = 10 * S;
    for (int k = 0; k <= 60; k++, t += dt) {
        det_in_t in = sample(t, dt, k < 60 ? 5 : 80, 5);
        in.disp = disp;
        storm_judge(&d, &in, &p, &o);
    }
    return o.hot;
}

static void test_storm_knows_clumps(void **state)
{
    (void)state;
    assert_true(one_sample_storm(1));
    assert_false(one_sample_storm(10));
    assert_true(storm_of_clumps(1, 3, 45) > 0);
    assert_true(storm_of_clumps(0, 3, 45) > 0); /* not set: taken as 1 */
    assert_int_equal(storm_of_clumps(3.75, 3, 45), 0);
    int x16 = storm_of_clumps(3.75, 1, 60);
    assert_true(x16 > 0 && x16 <= 15);
}

/* A silence detector fed 10 s buckets through its lifecycle. */
typedef struct {
    detect_params_t p;
    det_silence_t d;
    life_probe_t l;
    det_out_t o;
    int64_t t, dt;
    double disp; /* the buckets' clumping (0: none) */
} sil_run_t;

static void sil_start(sil_run_t *r)
{
    memset(r, 0, sizeof(*r));
    detect_params_defaults(&r->p);
    silence_init(&r->d);
    r->t = T0;
    r->dt = 10 * S;
}

/* One bucket of `count` messages against `mu` expected; its out in r->o. */
static void sil_bucket(sil_run_t *r, double count, double mu)
{
    det_in_t in = sample(r->t, r->dt, count, mu);
    in.disp = r->disp;
    silence_judge(&r->d, &in, &r->p, &r->o);
    step(&r->l, r->t, &r->o, 0, r->p.silence_hold);
    r->t += r->dt;
}

/*
 * silence: a 10 s series expecting 20 messages falls to nothing: the
 * evidence builds over samples and the silence fires once it is as
 * unlikely as false_per_year allows and 25 s old; one message a sample
 * is not traffic back (under clear_fraction); back at 20 it resolves
 * `hold` after the last 30 s show half their expectation.
 */
static void test_silence_fires_and_clears(void **state)
{
    (void)state;
    sil_run_t r;
    sil_start(&r);
    for (int k = 0; k < 30; k++)
        sil_bucket(&r, k % 2 ? 14 : 26, 20);
    assert_int_equal(r.l.fired, 0);
    int64_t onset = r.t;
    for (int k = 0; k < 12; k++)
        sil_bucket(&r, 0, 20);
    assert_true(r.l.fired >= onset + r.p.silence_for - r.dt && r.l.fired <= onset + 60 * S);
    assert_true(r.o.onset == onset);
    for (int k = 0; k < 12; k++) /* 1 message in 20: not back */
        sil_bucket(&r, 1, 20);
    assert_int_equal(r.l.resolved, 0);
    int64_t back = r.t;
    for (int k = 0; k < 12; k++)
        sil_bucket(&r, 20, 20);
    assert_true(r.l.resolved > back && r.l.resolved <= back + 30 * S + r.p.silence_hold);
    assert_true(r.o.end == back);
}

/*
 * Clumping: an empty bucket of a direction expecting 20 messages in clumps
 * of ten (disp 10) is as likely as one expecting 2 single ones: the
 * silence needs the evidence of 8 such buckets (threshold 14.96 at 10 s,
 * about 1.9 a bucket), where unclumped it fires at the third (25 s).
 */
static void test_silence_knows_clumps(void **state)
{
    (void)state;
    int fired_at[2] = { 0, 0 };
    const double disp[2] = { 1, 10 };
    for (int i = 0; i < 2; i++) {
        sil_run_t r;
        sil_start(&r);
        r.disp = disp[i];
        for (int k = 0; k < 30; k++)
            sil_bucket(&r, 20, 20);
        for (int k = 1; k <= 20 && !fired_at[i]; k++) {
            sil_bucket(&r, 0, 20);
            if (r.l.fired)
                fired_at[i] = k;
        }
    }
    assert_int_equal(fired_at[0], 3);
    assert_int_equal(fired_at[1], 8);
}

/*
 * A silence fired against an expectation the traffic never comes back to
 * (a level learnt in a batch the series began in; nothing is learnt while
 * it fires): traffic at 10% of it, over max_fraction but under
 * clear_fraction, ends it after half an hour with no bucket of about
 * nothing, not before; one such bucket starts the half hour again.
 */
static void test_silence_ends_after_half_an_hour_of_traffic(void **state)
{
    (void)state;
    sil_run_t r;
    sil_start(&r);
    for (int k = 0; k < 6; k++)
        sil_bucket(&r, 0, 300);
    assert_true(r.l.fired != 0);
    int64_t back = r.t;
    for (int k = 0; k < 175; k++) /* 29 min, then one bucket about nothing */
        sil_bucket(&r, k == 174 ? 0 : 30, 300);
    assert_int_equal(r.l.resolved, 0);
    int64_t again = r.t; /* the bucket after the empty one */
    for (int k = 0; k < 240; k++)
        sil_bucket(&r, 30, 300);
    assert_true(again - back < SILENCE_TRAFFIC_CLEARS_NS); /* 29 min 10 s */
    assert_true(r.l.resolved >= again + SILENCE_TRAFFIC_CLEARS_NS);
    assert_true(r.l.resolved <= again + SILENCE_TRAFFIC_CLEARS_NS + r.p.silence_hold + r.dt);
}

/*
 * Evidence of a silence is "building" (its series then learn damped) from
 * a quarter of what fires one: log(buckets a year / false silences a
 * year), at least 1. Just under a quarter is not, just over is, at a
 * cadence of 1 s, 10 s and 30 min; no evidence never is, and a silence
 * building up goes from not to yes before it fires.
 */
static void test_silence_suspicious_edges(void **state)
{
    (void)state;
    detect_params_t p;
    detect_params_defaults(&p);
    const int64_t dts[] = { 1 * S, 10 * S, 1800 * S };
    for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
        det_in_t in = sample(T0, dts[i], 0, 20);
        double secs = (double)dts[i] / S;
        double h = log(365.0 * 86400.0 / secs / p.silence_false_per_year);
        det_silence_t d;
        silence_init(&d);
        assert_false(silence_suspicious(&d, &in, &p));
        d.llr = (float)(h / 4 * 0.999);
        assert_false(silence_suspicious(&d, &in, &p));
        d.llr = (float)(h / 4 * 1.001);
        assert_true(silence_suspicious(&d, &in, &p));
    }
    /* a threshold floored at 1 (evidence for a false silence a second) */
    p.silence_false_per_year = 365.0 * 86400.0;
    det_in_t in = sample(T0, 1 * S, 0, 20);
    det_silence_t d;
    silence_init(&d);
    d.llr = 0.2499f;
    assert_false(silence_suspicious(&d, &in, &p));
    d.llr = 0.2501f;
    assert_true(silence_suspicious(&d, &in, &p));
    /* building up: suspicious before it fires */
    detect_params_defaults(&p);
    silence_init(&d);
    det_out_t o;
    int64_t t = T0, dt = 10 * S, suspected = 0, fired = 0;
    for (int k = 0; k < 40 && !fired; k++, t += dt) {
        det_in_t z = sample(t, dt, 0, 20);
        silence_judge(&d, &z, &p, &o);
        if (!suspected && silence_suspicious(&d, &z, &p))
            suspected = t;
        if (o.hot)
            fired = t;
    }
    assert_true(suspected > 0 && fired > suspected);
}

/*
 * Traffic in clumps: a User whose buckets are empty two times in three
 * (20 expected, counts 0, 0, 60) has gaps the negative binomial calls
 * near-impossible. Gaps that end before a silence teach their share
 * (`quiet`); after two hours of them a gap of three buckets, which fires
 * on the first one, no longer does, and a real silence still fires: not
 * before its evidence, capped at -log(quiet) a bucket, reaches the
 * threshold, and at most a bucket after. It clears as any other.
 */
static void test_silence_clumpy_gaps_are_normal(void **state)
{
    (void)state;
    sil_run_t r;
    sil_start(&r);
    double h = log(365.0 * 86400.0 / 10 / r.p.silence_false_per_year);
    /* a gap of three from the start: the model alone makes it a silence */
    for (int k = 0; k < 4; k++)
        sil_bucket(&r, k < 3 ? 0 : 60, 20);
    assert_true(r.l.fired != 0);
    /* two hours of clumps */
    sil_start(&r);
    for (int k = 0; k < 720; k++) {
        sil_bucket(&r, k % 3 == 2 ? 60 : 0, 20);
        assert_false(r.o.hot);
    }
    assert_true(r.d.quiet > 0.5 && r.d.quiet < 2.0 / 3);
    for (int k = 0; k < 4; k++)
        sil_bucket(&r, k < 3 ? 0 : 60, 20);
    assert_int_equal(r.l.fired, 0);
    /* a real silence */
    int need = (int)ceil(h / -log(r.d.quiet)), fired_after = 0;
    for (int k = 1; k <= 4 * need && !r.l.fired; k++) {
        sil_bucket(&r, 0, 20);
        fired_after = k;
    }
    assert_true(r.l.fired != 0);
    assert_true(fired_after >= need - 1 && fired_after <= need + 1);
    int64_t back = r.t;
    for (int k = 0; k < 12; k++)
        sil_bucket(&r, 20, 20);
    assert_true(r.l.resolved > back && r.l.resolved <= back + 30 * S + r.p.silence_hold);
}

/*
 * Only gaps that made no silence are learnt: a steady User's silence
 * teaches nothing, so the next fires as fast; an hour of traffic later
 * what a short gap taught has faded; and no gap teaches certainty.
 */
static void test_silence_teaches_no_quiet(void **state)
{
    (void)state;
    sil_run_t r;
    sil_start(&r);
    int first = 0, second = 0;
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 30; k++)
            sil_bucket(&r, 20, 20);
        for (int k = 1; k <= 12; k++) {
            sil_bucket(&r, 0, 20);
            if (r.o.hot && !(round ? second : first))
                *(round ? &second : &first) = k;
        }
    }
    assert_true(first > 0 && second == first);
    assert_true(r.d.quiet == 0);
    /* a gap of two (too short to be a silence) is learnt, then fades */
    for (int k = 0; k < 5; k++)
        sil_bucket(&r, k == 2 || k == 3 ? 0 : 20, 20);
    float taught = r.d.quiet;
    assert_true(taught > 0.004f && taught < 0.006f);
    for (int k = 0; k < 360; k++)
        sil_bucket(&r, 20, 20);
    assert_true(r.d.quiet < taught * 0.38f && r.d.quiet > taught * 0.36f);
    /* eleven days of nothing from a User expecting next to nothing make no
     * silence; its share stops short of certain, so later gaps still count */
    for (int k = 0; k < 100000; k++)
        sil_bucket(&r, 0, 0.0001);
    sil_bucket(&r, 20, 20);
    assert_true(r.d.quiet > 0.99f && r.d.quiet < 1.0f);
}

/*
 * blocked route: deliveries stop while the backlog grows: it fires after
 * `for`; deliveries at 60% of what is queued are not cool (under 80%);
 * at 90% it resolves `hold` later.
 */
static void test_route_fires_and_clears(void **state)
{
    (void)state;
    detect_params_t p;
    detect_params_defaults(&p);
    det_route_t d;
    memset(&d, 0, sizeof(d));
    life_probe_t l = { 0 };
    det_out_t o;
    int64_t t = T0, dt = 5 * S;
    double backlog = 0;
    const struct {
        int n;
        double share;
    } phases[] = { { 20, 1.0 }, { 10, 0.0 }, { 10, 0.6 }, { 30, 0.9 } };
    int64_t at[4];
    for (int ph = 0; ph < 4; ph++) {
        at[ph] = t;
        for (int k = 0; k < phases[ph].n; k++, t += dt) {
            double delivered = 100 * phases[ph].share;
            backlog += 100 - delivered;
            route_in_t in = { .in = sample(t, dt, 100, 100), .delivered = delivered,
                              .backlog = backlog };
            route_judge(&d, &in, &p, &o);
            step(&l, t, &o, p.blocked_for, p.blocked_hold);
        }
        if (ph == 0)
            assert_int_equal(l.fired, 0);
    }
    assert_true(l.fired >= at[1] && l.fired <= at[1] + p.blocked_for + 2 * dt);
    assert_true(l.resolved > at[3] && l.resolved <= at[3] + p.blocked_window + p.blocked_hold + dt);
}

/* A shift detector fed 10 s samples through its lifecycle. */
typedef struct {
    detect_params_t p;
    det_shift_t d;
    life_probe_t l;
    det_out_t o;
    int64_t t, dt;
} shift_run_t;

static void shift_start(shift_run_t *r)
{
    memset(r, 0, sizeof(*r));
    detect_params_defaults(&r->p);
    r->t = T0;
    r->dt = 10 * S;
}

/* One sample of `count` against `mu` at day scale `scale` and clumping
 * `disp` (0: none); its out in r->o. */
static void shift_sample(shift_run_t *r, double count, double mu, double scale, double disp)
{
    det_in_t in = sample(r->t, r->dt, count, mu);
    in.scale = scale;
    in.disp = disp;
    shift_judge(&r->d, &in, 0, &r->p, &r->o);
    step(&r->l, r->t, &r->o, r->p.shift_for, r->p.shift_hold);
    r->t += r->dt;
}

/*
 * shift: a series at x2 for hours goes hot once its hour-long window
 * has the evidence, fires `for` later, holds while the level is between
 * the thresholds (x1.35), and clears back at x1 (resolving `hold` later).
 * While another alert says it better it is neither hot nor cool.
 */
static void test_shift_fires_and_clears(void **state)
{
    (void)state;
    shift_run_t r;
    shift_start(&r);
    const struct {
        double level;
        int64_t len;
    } phases[] = { { 1, 3600 * S }, { 2, 4 * 3600 * S }, { 1.35, 3600 * S }, { 1, 3 * 3600 * S } };
    int64_t at[4];
    for (int ph = 0; ph < 4; ph++) {
        at[ph] = r.t;
        for (int64_t end = r.t + phases[ph].len; r.t < end;)
            shift_sample(&r, 500 * phases[ph].level, 500, 1, 0);
        if (ph == 0)
            assert_int_equal(r.l.fired, 0);
        if (ph == 2)
            assert_int_equal(r.l.resolved, 0);
    }
    assert_true(r.l.fired > at[1] + r.p.shift_for && r.l.fired < at[1] + r.p.shift_for + 3600 * S);
    assert_true(r.l.resolved > at[3] && r.l.resolved < at[3] + 2 * 3600 * S);
    /* another alert's samples: neither */
    det_in_t in = sample(r.t, r.dt, 5000, 500);
    shift_judge(&r.d, &in, 1, &r.p, &r.o);
    assert_false(r.o.hot);
    assert_false(r.o.cool);
}

/*
 * A day that ran at `scale` of its profile for hours, then `level` of the
 * profile itself for five hours, the day scale held (the shard learns
 * next to nothing while a shift is suspected): how long after the change
 * the shift fired, or 0.
 */
static int64_t shift_after_odd_day(double scale, double level)
{
    shift_run_t r;
    shift_start(&r);
    int64_t at = 0;
    for (int k = 0; k < 6 * 360 + 5 * 360; k++) {
        if (k == 6 * 360)
            at = r.t;
        shift_sample(&r, 500 * (k < 6 * 360 ? scale : level), 500 * scale, scale, 0);
    }
    return r.l.fired ? r.l.fired - at : 0;
}

/*
 * A shift is measured against the profile at the day scale of hours ago,
 * and must also stand away from the profile itself: traffic back at its
 * profile after hours at 0.6 (or 2) of it is no shift up (down); x2 (x0.5)
 * of the profile on such a day is one, found within two hours (three: the
 * window's ratio must fall to 0.4 when it comes down from 1).
 */
static void test_shift_back_at_profile_is_none(void **state)
{
    (void)state;
    assert_int_equal(shift_after_odd_day(0.6, 1.0), 0);
    assert_int_equal(shift_after_odd_day(2.0, 1.0), 0);
    int64_t up = shift_after_odd_day(0.6, 2.0), down = shift_after_odd_day(2.0, 0.5);
    assert_true(up > 0 && up < 2 * 3600 * S);
    assert_true(down > 0 && down < 3 * 3600 * S);
}

/* Clumping widens a shift's evidence too: a 10 s series of 2 messages a
 * sample doubled for three hours shifts when its counts are Poisson, not
 * when they come in clumps of fifty. */
static int shift_of_clumps(double disp)
{
    shift_run_t r;
    shift_start(&r);
    for (int k = 0; k < 5 * 360; k++)
        shift_sample(&r, k < 2 * 360 ? 2 : 4, 2, 1, disp);
    return r.l.fired != 0;
}

static void test_shift_knows_clumps(void **state)
{
    (void)state;
    assert_true(shift_of_clumps(1));
    assert_false(shift_of_clumps(50));
}

/* limit: above the limit hot, at or under it cool; no limit, never. */
static void test_limit(void **state)
{
    (void)state;
    det_out_t o;
    det_in_t in = sample(T0, 10 * S, 1500, 100);
    limit_judge(&in, 100, 10, &o);
    assert_true(o.hot && !o.cool);
    assert_true(fabs(o.value - 150) < 1e-9);
    in.count = 1000;
    limit_judge(&in, 100, 10, &o);
    assert_true(!o.hot && o.cool);
    in.count = 1e6;
    limit_judge(&in, 0, 10, &o);
    assert_true(!o.hot && o.cool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storm_fires_holds_and_clears),
        cmocka_unit_test(test_storm_knows_clumps),
        cmocka_unit_test(test_storm_windows),
        cmocka_unit_test(test_silence_fires_and_clears),
        cmocka_unit_test(test_silence_knows_clumps),
        cmocka_unit_test(test_silence_ends_after_half_an_hour_of_traffic),
        cmocka_unit_test(test_silence_suspicious_edges),
        cmocka_unit_test(test_silence_clumpy_gaps_are_normal),
        cmocka_unit_test(test_silence_teaches_no_quiet),
        cmocka_unit_test(test_route_fires_and_clears),
        cmocka_unit_test(test_shift_fires_and_clears),
        cmocka_unit_test(test_shift_back_at_profile_is_none),
        cmocka_unit_test(test_shift_knows_clumps),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
