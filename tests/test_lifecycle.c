/*
 * test_lifecycle.c - tests of the alert state machine (core/lifecycle.h).
 *
 * Drives life_step() with scripted hot/cool verdicts and checks the events
 * and states: `for` before firing, `hold` before resolving, flutter that
 * gives one firing and one resolution, for = 0 and hold = 0, and the onset
 * and end times reported with the events. life_t is a value type: nothing
 * here allocates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lifecycle.h"

#define SEC INT64_C(1000000000)

/* Verdicts of one sample. */
enum { COOL, MID, HOT }; /* MID: neither hot nor cool (hysteresis band) */

static life_event_t step(life_t *l, int64_t t_s, int v, int64_t for_s, int64_t hold_s)
{
    return life_step(l, t_s * SEC, v == HOT, v == COOL, for_s * SEC, hold_s * SEC);
}

static void test_idle_stays_ok(void **state)
{
    (void)state;
    life_t l = { 0 };
    for (int t = 0; t < 100; t += 5) {
        assert_int_equal(step(&l, t, t % 2 ? COOL : MID, 5, 30), LIFE_NONE);
        assert_int_equal(l.state, LIFE_OK);
        assert_false(life_active(&l));
        assert_false(life_firing(&l));
    }
}

/* Hot must last `for` before firing; the onset is the first hot sample. */
static void test_for_delays_firing(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 100, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(l.state, LIFE_PENDING);
    assert_true(life_active(&l));
    assert_false(life_firing(&l));
    assert_int_equal(step(&l, 105, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(step(&l, 109, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(l.state, LIFE_PENDING);
    /* exactly `for` after the first hot sample */
    assert_int_equal(step(&l, 110, HOT, 10, 30), LIFE_FIRE);
    assert_int_equal(l.state, LIFE_FIRING);
    assert_int_equal(l.onset, 100 * SEC);
    assert_true(life_firing(&l));
    /* staying hot gives no second FIRE */
    for (int t = 115; t < 200; t += 5)
        assert_int_equal(step(&l, t, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(l.state, LIFE_FIRING);
    assert_int_equal(l.onset, 100 * SEC);
}

/* for = 0: the first hot sample fires. */
static void test_for_zero_fires_immediately(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 42, HOT, 0, 30), LIFE_FIRE);
    assert_int_equal(l.state, LIFE_FIRING);
    assert_int_equal(l.onset, 42 * SEC);
}

/* A pending alert that stops being hot goes back to ok, silently. */
static void test_pending_that_cools_returns_to_ok(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 0, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(step(&l, 5, COOL, 10, 30), LIFE_NONE);
    assert_int_equal(l.state, LIFE_OK);
    /* the band between the thresholds also ends a pending episode */
    assert_int_equal(step(&l, 10, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(step(&l, 15, MID, 10, 30), LIFE_NONE);
    assert_int_equal(l.state, LIFE_OK);
    /* a new episode restarts the `for` clock and the onset */
    assert_int_equal(step(&l, 20, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(step(&l, 25, HOT, 10, 30), LIFE_NONE);
    assert_int_equal(step(&l, 30, HOT, 10, 30), LIFE_FIRE);
    assert_int_equal(l.onset, 20 * SEC);
}

/* Cool must last `hold` before resolving; the end is the first cool sample. */
static void test_hold_delays_resolution(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 0, HOT, 0, 30), LIFE_FIRE);
    assert_int_equal(step(&l, 10, MID, 0, 30), LIFE_NONE); /* band: still firing */
    assert_int_equal(l.state, LIFE_FIRING);
    assert_int_equal(step(&l, 20, COOL, 0, 30), LIFE_NONE);
    assert_int_equal(l.state, LIFE_CLEARING);
    assert_true(life_firing(&l));
    assert_true(life_active(&l));
    assert_int_equal(step(&l, 30, COOL, 0, 30), LIFE_NONE);
    assert_int_equal(step(&l, 49, COOL, 0, 30), LIFE_NONE);
    assert_int_equal(step(&l, 50, COOL, 0, 30), LIFE_RESOLVE);
    assert_int_equal(l.since, 20 * SEC); /* ended at the first cool sample */
    assert_int_equal(l.state, LIFE_OK);
    assert_false(life_active(&l));
    assert_int_equal(step(&l, 55, COOL, 0, 30), LIFE_NONE);
}

/* hold = 0: the first cool sample resolves. */
static void test_hold_zero_resolves_immediately(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 0, HOT, 0, 0), LIFE_FIRE);
    assert_int_equal(step(&l, 7, COOL, 0, 0), LIFE_RESOLVE);
    assert_int_equal(l.since, 7 * SEC);
    assert_int_equal(l.state, LIFE_OK);
}

/* hot - cool - hot while clearing: one incident, no second FIRE. */
static void test_flutter_absorbed(void **state)
{
    (void)state;
    life_t l = { 0 };
    int fires = 0, resolves = 0;
    static const int script[] = { HOT, HOT, HOT, COOL, HOT, COOL, MID, COOL, HOT, HOT,
                                  COOL, COOL, COOL, COOL, COOL, COOL, COOL, COOL };
    int64_t t = 0, first_cool = -1;
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++, t += 5) {
        life_event_t ev = step(&l, t, script[i], 5, 30);
        fires += ev == LIFE_FIRE;
        resolves += ev == LIFE_RESOLVE;
        if (i == 10)
            first_cool = t;
        if (ev == LIFE_RESOLVE)
            assert_int_equal(l.since, first_cool * SEC);
    }
    assert_int_equal(fires, 1);
    assert_int_equal(resolves, 1);
    assert_int_equal(l.onset, 0);
    assert_int_equal(l.state, LIFE_OK);
}

/* Each clearing attempt restarts the hold clock. */
static void test_hold_restarts_after_interruption(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 0, HOT, 0, 30), LIFE_FIRE);
    assert_int_equal(step(&l, 10, COOL, 0, 30), LIFE_NONE);
    assert_int_equal(step(&l, 35, MID, 0, 30), LIFE_NONE); /* interrupts clearing */
    assert_int_equal(l.state, LIFE_FIRING);
    assert_int_equal(step(&l, 40, COOL, 0, 30), LIFE_NONE); /* 30 s after 10: not yet */
    assert_int_equal(step(&l, 65, COOL, 0, 30), LIFE_NONE);
    assert_int_equal(step(&l, 70, COOL, 0, 30), LIFE_RESOLVE);
    assert_int_equal(l.since, 40 * SEC);
}

/* After resolving, the next incident fires again with its own onset. */
static void test_second_incident(void **state)
{
    (void)state;
    life_t l = { 0 };
    assert_int_equal(step(&l, 0, HOT, 5, 0), LIFE_NONE);
    assert_int_equal(step(&l, 5, HOT, 5, 0), LIFE_FIRE);
    assert_int_equal(step(&l, 10, COOL, 5, 0), LIFE_RESOLVE);
    assert_int_equal(step(&l, 100, HOT, 5, 0), LIFE_NONE);
    assert_int_equal(step(&l, 105, HOT, 5, 0), LIFE_FIRE);
    assert_int_equal(l.onset, 100 * SEC);
    assert_int_equal(step(&l, 110, COOL, 5, 0), LIFE_RESOLVE);
    assert_int_equal(l.since, 110 * SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_stays_ok),
        cmocka_unit_test(test_for_delays_firing),
        cmocka_unit_test(test_for_zero_fires_immediately),
        cmocka_unit_test(test_pending_that_cools_returns_to_ok),
        cmocka_unit_test(test_hold_delays_resolution),
        cmocka_unit_test(test_hold_zero_resolves_immediately),
        cmocka_unit_test(test_flutter_absorbed),
        cmocka_unit_test(test_hold_restarts_after_interruption),
        cmocka_unit_test(test_second_incident),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
