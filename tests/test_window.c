/*
 * test_window.c - tests of the sliding event-time window (core/window.h).
 *
 * Pins eviction by span (a sample at exactly ts - span leaves, the newest
 * always stays), eviction of the oldest on capacity overflow, the running
 * sums against a recomputation from the samples held, first/last/span and
 * clear. The window is a value type: nothing here allocates.
 *
 * Also the exponential windows' tests (core/ewin.h): ewin_above and
 * ewin_below at their bars, and against the formula they stand for on
 * windows of every kind, so a shortcut taken before the square root can
 * never change an answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ewin.h"
#include "window.h"

#include "testutil.h"


/* Pushes one sample whose values are x, 2x, 3x, 4x. */
static void push1(win_t *w, int64_t ts, double x, int64_t span)
{
    const double v[WIN_NV] = { x, 2 * x, 3 * x, 4 * x };
    win_push(w, ts, v, span);
}

/* The sum of value i over the samples held, recomputed from scratch. */
static double held_sum(const win_t *w, int i)
{
    double s = 0;
    for (unsigned k = 0; k < w->n; k++)
        s += w->v[(w->head + k) % WIN_CAP][i];
    return s;
}

static void test_empty(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    assert_int_equal(w.n, 0);
    for (int i = 0; i < WIN_NV; i++) {
        assert_true(win_sum(&w, i) == 0.0);
        assert_true(win_first(&w, i) == 0.0);
        assert_true(win_last(&w, i) == 0.0);
    }
    assert_int_equal(win_span_ns(&w), 0);
}

static void test_single_sample(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    push1(&w, 100 * SEC, 7, 30 * SEC);
    assert_int_equal(w.n, 1);
    assert_true(win_first(&w, 0) == 7.0);
    assert_true(win_last(&w, 3) == 28.0);
    assert_true(win_sum(&w, 1) == 14.0);
    assert_int_equal(win_span_ns(&w), 0);
}

/* Samples at or before ts - span leave; samples after it stay. */
static void test_evict_by_span_boundary(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    const int64_t span = 30 * SEC;
    push1(&w, 0, 1, span);
    push1(&w, 10 * SEC, 2, span);
    push1(&w, 20 * SEC, 3, span);
    assert_int_equal(w.n, 3);
    assert_int_equal(win_span_ns(&w), 20 * SEC);

    /* 30 s: the sample at 0 is exactly at ts - span, so it leaves */
    push1(&w, 30 * SEC, 4, span);
    assert_int_equal(w.n, 3);
    assert_true(win_first(&w, 0) == 2.0);
    assert_true(win_last(&w, 0) == 4.0);
    assert_true(win_sum(&w, 0) == 9.0);
    assert_int_equal(win_span_ns(&w), 20 * SEC);

    /* 39.999 s: the sample at 10 s is 1 ms inside the span: stays (times
     * are kept to the millisecond) */
    push1(&w, 40 * SEC - SEC / 1000, 5, span);
    assert_int_equal(w.n, 4);
    assert_true(win_first(&w, 0) == 2.0);
    assert_true(win_sum(&w, 0) == 14.0);
    assert_int_equal(win_span_ns(&w), 30 * SEC - SEC / 1000);
    /* 40 s: now it is at ts - span: it leaves */
    push1(&w, 40 * SEC, 6, span);
    assert_int_equal(w.n, 4);
    assert_true(win_first(&w, 0) == 3.0);
}

/* Weeks of samples, six hours apart, in a window of a day, from before
 * 1970 on: the times move on to a new t0 every 12 days and the window
 * still holds the last day, each sample at its own time, floored to the
 * millisecond. */
static void test_weeks_of_samples(void **state)
{
    (void)state;
    const int64_t hour = 3600 * SEC, day = 24 * hour;
    win_t w;
    win_clear(&w);
    const int64_t ms = SEC / 1000;
    int64_t first = -3 * day - 7 * ms - 1; /* between two milliseconds */
    for (int i = 0; i < 4 * 40; i++) {
        int64_t ts = first + i * 6 * hour;
        push1(&w, ts, 1, day);
        assert_int_equal(w.n, i < 4 ? i + 1 : 4); /* the one a day before leaves */
        assert_int_equal(win_ts(&w, w.n - 1), ts - ((ts % ms) + ms) % ms); /* floored */
        assert_int_equal(win_span_ns(&w), (w.n - 1) * 6 * hour);
        assert_true(win_sum(&w, 0) == w.n);
    }
    assert_true(w.t0 > 24 * day);
    /* a time between milliseconds is kept as the one before it */
    int64_t last = win_ts(&w, w.n - 1);
    push1(&w, last + hour + SEC / 1000 - 1, 1, day);
    assert_int_equal(win_ts(&w, w.n - 1), last + hour);
    push1(&w, -last - hour - 1, 1, day); /* long before: taken at the newest's time */
    assert_int_equal(win_ts(&w, w.n - 1), last + hour);
    /* 40 days on, beyond an offset's reach: the sample is at its own time */
    int64_t later = last + 40 * day;
    push1(&w, later, 1, day);
    assert_int_equal(w.n, 1);
    assert_int_equal(win_ts(&w, 0), later);
    push1(&w, later + 6 * hour, 1, day);
    assert_int_equal(w.n, 2);
    assert_int_equal(win_ts(&w, 1), later + 6 * hour);
    assert_int_equal(win_span_ns(&w), 6 * hour);
}

/* A gap longer than the span empties the window but for the new sample. */
static void test_newest_always_stays(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    const int64_t span = 30 * SEC;
    for (int k = 0; k < 5; k++)
        push1(&w, k * SEC, 1, span);
    push1(&w, 1000 * SEC, 9, span);
    assert_int_equal(w.n, 1);
    assert_true(win_first(&w, 0) == 9.0);
    assert_true(win_last(&w, 0) == 9.0);
    for (int i = 0; i < WIN_NV; i++)
        assert_true(win_sum(&w, i) == 9.0 * (i + 1));
    assert_int_equal(win_span_ns(&w), 0);

    /* a zero span keeps exactly the newest sample */
    push1(&w, 1001 * SEC, 3, 0);
    assert_int_equal(w.n, 1);
    assert_true(win_sum(&w, 0) == 3.0);
}

/* More than WIN_CAP samples within the span: the oldest leave early. */
static void test_capacity_overflow_evicts_oldest(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    const int64_t span = 3600 * SEC;
    for (int k = 0; k < WIN_CAP + 5; k++)
        push1(&w, k * SEC, k, span);
    assert_int_equal(w.n, WIN_CAP);
    assert_true(win_first(&w, 0) == 5.0);
    assert_true(win_last(&w, 0) == WIN_CAP + 4.0);
    /* span covered is shorter than asked: WIN_CAP - 1 intervals */
    assert_int_equal(win_span_ns(&w), (WIN_CAP - 1) * SEC);
    double want = 0;
    for (int k = 5; k < WIN_CAP + 5; k++)
        want += k;
    assert_true(win_sum(&w, 0) == want);
    assert_true(win_sum(&w, 3) == 4 * want);
}

/* Integer-valued sums are exact after a long run with wrap-around. */
static void test_sums_exact_after_many_pushes(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    const int64_t span = 45 * SEC; /* 5 samples at a 10 s cadence */
    int64_t ts = 0;
    for (int k = 0; k < 200000; k++) {
        ts += 10 * SEC;
        push1(&w, ts, (double)(k % 977), span);
        if (k % 1000 == 0 || k > 199990) {
            assert_int_equal(w.n, k < 4 ? k + 1 : 5);
            for (int i = 0; i < WIN_NV; i++)
                assert_true(win_sum(&w, i) == held_sum(&w, i));
        }
    }
    /* the last five values, k = 199995..199999 */
    double want = 0;
    for (int k = 199995; k < 200000; k++)
        want += k % 977;
    assert_true(win_sum(&w, 0) == want);
    assert_true(win_first(&w, 0) == 199995 % 977);
    assert_true(win_last(&w, 0) == 199999 % 977);
}

/* Fractional values (seconds per bucket) stay close over a long run. */
static void test_fractional_sums_do_not_drift(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    const int64_t span = 30 * SEC;
    int64_t ts = 0;
    for (int k = 0; k < 1000000; k++) {
        ts += SEC;
        const double v[WIN_NV] = { 0.1, 1.0 / 3.0, 9.99 + (k % 7) * 0.001, 0.7 };
        win_push(&w, ts, v, span);
    }
    assert_int_equal(w.n, WIN_CAP);
    for (int i = 0; i < WIN_NV; i++)
        assert_near(win_sum(&w, i), held_sum(&w, i), 1e-9);
}

/*
 * Regression: with running subtraction, adding 1 to 1e17 rounds the 1
 * away and evicting 1e17 leaves 0 where the held sample is 1; the error
 * then survived for the life of the window (one garbage count corrupted a
 * User's blocked_route sums for good). Sums must match the held samples
 * as soon as the outlier has left, and ever after.
 */
static void test_sums_recover_after_outlier_leaves(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    const int64_t span = 30 * SEC;
    push1(&w, 0, 1e17, span);
    push1(&w, 10 * SEC, 1, span);
    push1(&w, 35 * SEC, 1, span); /* the outlier at 0 leaves, 10 s stays */
    assert_int_equal(w.n, 2);
    assert_true(held_sum(&w, 0) == 2.0);
    assert_near(win_sum(&w, 0), 2.0, 1e-9);
    /* and long after, once every sample has been replaced */
    for (int k = 5; k < 100; k++)
        push1(&w, k * 10 * SEC, 1, span);
    assert_near(win_sum(&w, 0), held_sum(&w, 0), 1e-9);
}

/* A sample older than the newest keeps the window in order: it is taken
 * at the newest's time, its values counted. */
static void test_older_sample_taken_at_newest(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    push1(&w, 100 * SEC, 1, 30 * SEC);
    push1(&w, 110 * SEC, 2, 30 * SEC);
    push1(&w, 90 * SEC, 4, 30 * SEC);
    assert_int_equal(w.n, 3);
    for (unsigned k = 1; k < w.n; k++)
        assert_true(win_ts(&w, k) >= win_ts(&w, k - 1));
    assert_int_equal(win_ts(&w, 2), 110 * SEC);
    assert_true(win_sum(&w, 0) == 7.0);
    assert_true(win_last(&w, 0) == 4.0);
    assert_int_equal(win_span_ns(&w), 10 * SEC);
}

static void test_clear(void **state)
{
    (void)state;
    win_t w;
    win_clear(&w);
    for (int k = 0; k < 10; k++)
        push1(&w, k * SEC, 3, 60 * SEC);
    win_clear(&w);
    assert_int_equal(w.n, 0);
    assert_true(win_sum(&w, 2) == 0.0);
    assert_int_equal(win_span_ns(&w), 0);
    push1(&w, 100 * SEC, 2, 60 * SEC);
    assert_int_equal(w.n, 1);
    assert_true(win_sum(&w, 0) == 2.0);
}

/* ---- exponential windows ------------------------------------------------ */

/* What ewin_above and ewin_below answer, written as the formula of ewin.h
 * with nothing skipped. */
static int ref_above(const ewin_t *w, double ratio, double z, double phi, double disp,
                     double min_rate, double min_count)
{
    if (!(w->mu > 0) || !(w->secs > 0))
        return 0;
    double v = disp * ratio * w->v1 + phi * ratio * ratio * w->v2, sd = v > 0 ? sqrt(v) : 0;
    return w->k >= ratio * w->mu + z * sd && w->k - w->mu >= min_count &&
           (w->k - w->mu) / w->secs >= min_rate;
}

static int ref_below(const ewin_t *w, double ratio, double z, double phi, double disp,
                     double min_rate, double min_count)
{
    if (!(w->mu > 0) || !(w->secs > 0))
        return 0;
    double v = disp * ratio * w->v1 + phi * ratio * ratio * w->v2, sd = v > 0 ? sqrt(v) : 0;
    return w->k <= ratio * w->mu - z * sd && w->mu - w->k >= min_count &&
           (w->mu - w->k) / w->secs >= min_rate;
}

/* A window of mu = 100 expected, v1 = 100, v2 = 0: at ratio 2 and phi 0
 * its sd is sqrt(200); the bar above is 200 + z sqrt(200). */
static ewin_t window_of(float k)
{
    return (ewin_t){ .k = k, .mu = 100, .secs = 60, .v1 = 100, .v2 = 0 };
}

static void test_ewin_bars(void **state)
{
    (void)state;
    double sd = sqrt(200.0), bar = 200 + 3 * sd; /* 242.43 */
    ewin_t over = window_of((float)(bar + 0.01)), under = window_of((float)(bar - 0.01));
    assert_true(ewin_above(&over, 2, 3, 0, 1, 0, 0));
    assert_false(ewin_above(&under, 2, 3, 0, 1, 0, 0));
    /* under ratio x mu itself: no z helps */
    ewin_t low = window_of(199);
    assert_false(ewin_above(&low, 2, 3, 0, 1, 0, 0));
    assert_false(ewin_above(&low, 2, 0, 0, 1, 0, 0));
    /* a negative z lowers the bar under ratio x mu: 199 >= 200 - 1 x sd */
    assert_true(ewin_above(&low, 2, -1, 0, 1, 0, 0));
    /* below: at ratio 0.5, sd = sqrt(50); the bar is 50 - 2 sd = 35.86 */
    double lbar = 50 - 2 * sqrt(50.0);
    ewin_t down = window_of((float)(lbar - 0.01)), near = window_of((float)(lbar + 0.01));
    assert_true(ewin_below(&down, 0.5, 2, 0, 1, 0, 0));
    assert_false(ewin_below(&near, 0.5, 2, 0, 1, 0, 0));
    ewin_t mid = window_of(51);
    assert_false(ewin_below(&mid, 0.5, 2, 0, 1, 0, 0));
    assert_true(ewin_below(&mid, 0.5, -1, 0, 1, 0, 0));
    /* z = 0: exactly at ratio x mu is at the bar, each way */
    ewin_t at_up = window_of(200), at_down = window_of(50);
    assert_true(ewin_above(&at_up, 2, 0, 0, 1, 0, 0));
    assert_true(ewin_below(&at_down, 0.5, 0, 0, 1, 0, 0));
    /* clumping 4: the Poisson part of the variance four times as wide,
     * sd sqrt(800); the bar 200 + 3 sd = 284.85 */
    double cbar = 200 + 3 * sqrt(800.0);
    ewin_t c_over = window_of((float)(cbar + 0.01)), c_under = window_of((float)(cbar - 0.01));
    assert_true(ewin_above(&c_over, 2, 3, 0, 4, 0, 0));
    assert_false(ewin_above(&c_under, 2, 3, 0, 4, 0, 0));
    assert_true(ewin_above(&c_under, 2, 3, 0, 1, 0, 0));
    /* the minimum excess, in count and in rate */
    assert_false(ewin_above(&over, 2, 3, 0, 1, 0, 143));
    assert_false(ewin_above(&over, 2, 3, 0, 1, 143.0 / 60, 0));
}

/* ewin_above and ewin_below give the formula's answer on windows at and
 * around their bars, with z of either sign, zero and odd values in every
 * field. */
static void test_ewin_matches_formula(void **state)
{
    (void)state;
    static const float odd[] = { 0.0f, -0.0f, 1e-30f, -1.0f, INFINITY, NAN, 1e30f };
    static const double zs[] = { 0, 0.5, 1, 3, 5, -1, -0.25, INFINITY };
    uint64_t seed = 42;
    unsigned above = 0, below = 0;
    for (int i = 0; i < 200000; i++) {
        double mu = exp(rng_u01(&seed) * 20 - 10), ratio = 0.2 + rng_u01(&seed) * 4;
        double z = zs[rng_next(&seed) % 8], phi = rng_u01(&seed) < 0.3 ? 0 : rng_u01(&seed);
        double disp = rng_u01(&seed) < 0.5 ? 1 : 1 + rng_u01(&seed) * 20;
        /* k near the bar: ratio x mu give or take a few sd */
        double sd = sqrt(disp * ratio * mu + phi * ratio * ratio * mu * mu);
        double k = ratio * mu + (rng_u01(&seed) * 8 - 4) * sd;
        ewin_t w = { .k = (float)k, .mu = (float)mu, .secs = (float)(1 + rng_u01(&seed) * 600),
                     .v1 = (float)mu, .v2 = (float)(mu * mu * rng_u01(&seed)) };
        if (i % 16 == 0) { /* an odd value in one field */
            float *f[] = { &w.k, &w.mu, &w.secs, &w.v1, &w.v2 };
            *f[rng_next(&seed) % 5] = odd[rng_next(&seed) % 7];
        }
        double min_rate = rng_u01(&seed) < 0.5 ? 0 : rng_u01(&seed);
        double min_count = rng_u01(&seed) < 0.5 ? 0 : rng_u01(&seed) * 10;
        int a = ewin_above(&w, ratio, z, phi, disp, min_rate, min_count);
        int b = ewin_below(&w, 1 / ratio, z, phi, disp, min_rate, min_count);
        if (a != ref_above(&w, ratio, z, phi, disp, min_rate, min_count) ||
            b != ref_below(&w, 1 / ratio, z, phi, disp, min_rate, min_count))
            fail_msg("window %d (k %g mu %g ratio %g z %g): above %d below %d against the formula",
                     i, (double)w.k, (double)w.mu, ratio, z, a, b);
        above += (unsigned)a;
        below += (unsigned)b;
    }
    /* both answers are given often: the windows straddle the bars */
    assert_true(above > 20000);
    assert_true(below > 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_single_sample),
        cmocka_unit_test(test_evict_by_span_boundary),
        cmocka_unit_test(test_newest_always_stays),
        cmocka_unit_test(test_weeks_of_samples),
        cmocka_unit_test(test_capacity_overflow_evicts_oldest),
        cmocka_unit_test(test_sums_exact_after_many_pushes),
        cmocka_unit_test(test_fractional_sums_do_not_drift),
        cmocka_unit_test(test_sums_recover_after_outlier_leaves),
        cmocka_unit_test(test_older_sample_taken_at_newest),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_ewin_bars),
        cmocka_unit_test(test_ewin_matches_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
