/*
 * test_window.c - tests of the sliding event-time window (core/window.h).
 *
 * Pins eviction by span (a sample at exactly ts - span leaves, the newest
 * always stays), eviction of the oldest on capacity overflow, the running
 * sums against a recomputation from the samples held, first/last/span and
 * clear. The window is a value type: nothing here allocates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

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

    /* 39.999999999 s: the sample at 10 s is 1 ns inside the span: stays */
    push1(&w, 40 * SEC - 1, 5, span);
    assert_int_equal(w.n, 4);
    assert_true(win_first(&w, 0) == 2.0);
    assert_true(win_sum(&w, 0) == 14.0);
    assert_int_equal(win_span_ns(&w), 30 * SEC - 1);
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
        assert_true(w.ts[(w.head + k) % WIN_CAP] >= w.ts[(w.head + k - 1) % WIN_CAP]);
    assert_int_equal(w.ts[(w.head + 2) % WIN_CAP], 110 * SEC);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_single_sample),
        cmocka_unit_test(test_evict_by_span_boundary),
        cmocka_unit_test(test_newest_always_stays),
        cmocka_unit_test(test_capacity_overflow_evicts_oldest),
        cmocka_unit_test(test_sums_exact_after_many_pushes),
        cmocka_unit_test(test_fractional_sums_do_not_drift),
        cmocka_unit_test(test_sums_recover_after_outlier_leaves),
        cmocka_unit_test(test_older_sample_taken_at_newest),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
