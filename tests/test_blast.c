/*
 * test_blast.c - tests of a User's blast-radius evidence (core/blast.h).
 *
 * Pins both edges of "impacted": the mean backlog since a storm's onset
 * over the usual level by min_increase and z standard errors, and not
 * under either; only the backlogs after the onset count (to the
 * millisecond); nothing before min_learnt; and times kept as milliseconds
 * from the track's start still compare right weeks later, across the
 * rebase, after gaps of weeks, before 1970, and for an onset older than
 * the track.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "blast.h"

#include "testutil.h"

#define SEC INT64_C(1000000000)
#define DAY (86400 * SEC)
#define TAU (3600 * SEC)

/* A track that learnt an hour of backlog 10 (+-0: the spread floors at 1),
 * one bucket every 10 s from t0. */
static void usual(blast_track_t *t, int64_t t0)
{
    *t = (blast_track_t){ 0 };
    for (int i = 1; i <= 360; i++)
        blast_observe(t, t0 + i * 10 * SEC, 10, 10 * SEC, TAU, 1);
}

/* min_increase 5 messages, z 3 */
static int impacted(const blast_track_t *t, int64_t since)
{
    return blast_impacted(t, since, 600 * SEC, 3.0, 5.0);
}

static void test_impacted_above_the_usual_not_below(void **state)
{
    (void)state;
    for (int64_t t0 = -30 * DAY; t0 <= 60 * DAY; t0 += 30 * DAY) {
        blast_track_t t;
        usual(&t, t0);
        int64_t now = t0 + 3600 * SEC, since = now;
        assert_false(impacted(&t, since)); /* nothing after the onset yet */
        /* two buckets at 10 + 4.9: under min_increase */
        blast_observe(&t, now + 10 * SEC, 14.9, 10 * SEC, TAU, 0);
        blast_observe(&t, now + 20 * SEC, 14.9, 10 * SEC, TAU, 0);
        assert_false(impacted(&t, since));
        /* a third at 15.3: the mean since is 15.03, 5.03 over */
        blast_observe(&t, now + 30 * SEC, 15.3, 10 * SEC, TAU, 0);
        assert_true(impacted(&t, since));
        /* the same backlogs judged from an onset before the hour of 10s:
         * diluted, not impacted */
        assert_false(impacted(&t, now - 300 * SEC));
        /* from just before the last bucket: one at 15.3 is 5.3 over, but
         * one bucket needs 3 standard errors of the floor, 3 */
        assert_true(impacted(&t, now + 29 * SEC));
        assert_false(blast_impacted(&t, now + 29 * SEC, 600 * SEC, 6.0, 5.0));
        /* the onset is compared to the millisecond: a bucket at the onset
         * itself is not after it, one a millisecond later is */
        assert_false(impacted(&t, now + 30 * SEC));
        assert_true(impacted(&t, now + 30 * SEC - SEC / 1000));
        assert_true(impacted(&t, now + 30 * SEC - 1)); /* floored, before 1970 too */
    }
}

static void test_not_before_learnt(void **state)
{
    (void)state;
    blast_track_t t = { 0 };
    for (int i = 1; i <= 5; i++)
        blast_observe(&t, i * 10 * SEC, 10, 10 * SEC, TAU, 1); /* 50 s learnt */
    blast_observe(&t, 60 * SEC, 100, 10 * SEC, TAU, 0);
    assert_false(blast_impacted(&t, 55 * SEC, 60 * SEC, 3.0, 5.0));
    assert_true(blast_impacted(&t, 55 * SEC, 50 * SEC, 3.0, 5.0));
}

/* Weeks of buckets: the times rebase (every 12 days) and still compare
 * right; an onset older than all the history held counts all of it. */
static void test_weeks_later(void **state)
{
    (void)state;
    blast_track_t t;
    usual(&t, 0);
    int64_t ts = 3600 * SEC;
    while (ts < 40 * DAY) {
        ts += 600 * SEC;
        blast_observe(&t, ts, 10, 600 * SEC, TAU, 1);
    }
    assert_true(t.t0 > 24 * DAY); /* rebased */
    for (int i = 1; i <= 3; i++)
        blast_observe(&t, ts + i * 600 * SEC, 40, 600 * SEC, TAU, 0);
    assert_true(impacted(&t, ts));
    assert_false(impacted(&t, ts + 3 * 600 * SEC));
    /* 32 buckets held: 29 at 10, 3 at 40, mean 12.8, 2.8 over */
    assert_false(impacted(&t, ts - 30 * DAY));
    assert_false(impacted(&t, INT64_MIN));
    blast_observe(&t, ts + 4 * 600 * SEC, 200, 600 * SEC, TAU, 0);
    assert_true(impacted(&t, INT64_MIN)); /* mean 18.75 */
    assert_true(impacted(&t, ts - 30 * DAY));
}

/* Buckets weeks apart (a User seen again after a holiday): the oldest
 * stay the oldest through two rebases, and an onset older than the track
 * counts them. */
static void test_gaps_of_weeks(void **state)
{
    (void)state;
    blast_track_t t;
    usual(&t, 0);
    blast_observe(&t, 13 * DAY, 40, 600 * SEC, TAU, 0);
    blast_observe(&t, 26 * DAY, 40, 600 * SEC, TAU, 0);
    assert_true(impacted(&t, 20 * DAY)); /* the last only: 30 over */
    assert_false(impacted(&t, 0));       /* 30 at 10 and two at 40: 1.9 over */
    /* 40 days on, beyond an offset's reach: the bucket is at its own time */
    blast_observe(&t, 66 * DAY, 40, 600 * SEC, TAU, 0);
    assert_true(impacted(&t, 66 * DAY - SEC / 1000));
    assert_false(impacted(&t, 66 * DAY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impacted_above_the_usual_not_below),
        cmocka_unit_test(test_not_before_learnt),
        cmocka_unit_test(test_weeks_later),
        cmocka_unit_test(test_gaps_of_weeks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
