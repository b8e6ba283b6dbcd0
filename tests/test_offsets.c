/*
 * test_offsets.c - committable Kafka offsets: a message is committed only
 * once every sample it carried is processed, never before one taken
 * earlier, runs keep the bookkeeping small, and a reset forgets all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offsets.h"

#define MS INT64_C(1000000)

static void test_commits_only_what_is_processed(void **state)
{
    (void)state;
    off_track_t t;
    off_init(&t);
    assert_int_equal(off_committable(&t, 1000 * MS), -1); /* nothing taken */
    for (int64_t off = 0; off < 10; off++)
        assert_int_equal(off_taken(&t, off, off * 1000 * MS), 0); /* a message a second */
    assert_int_equal(off_committable(&t, 0), -1);
    /* done below 3.5 s: messages 0..3 (newest 0..3 s) are done; commit 4 */
    assert_int_equal(off_committable(&t, 3500 * MS), 4);
    assert_int_equal(off_committable(&t, 3500 * MS), -1); /* nothing new */
    /* exactly at a message's time is not past it */
    assert_int_equal(off_committable(&t, 5000 * MS), 5);
    assert_int_equal(off_committable(&t, INT64_MAX), 10);
    assert_int_equal(off_pending(&t), 0);
    off_free(&t);
}

/* A message older than one before it (a straggler) is held by the newer
 * time: offsets are committed in order, so it waits for that one. */
static void test_straggler_waits_for_the_newest_before_it(void **state)
{
    (void)state;
    off_track_t t;
    off_init(&t);
    off_taken(&t, 0, 5000 * MS);
    off_taken(&t, 1, 1000 * MS); /* older samples, later offset */
    assert_int_equal(off_committable(&t, 2000 * MS), -1);
    assert_int_equal(off_committable(&t, 5001 * MS), 2);
    off_free(&t);
}

/* Messages with no sample that went into ordering (bad lines, late) are
 * committed with the ones around them. */
static void test_empty_messages(void **state)
{
    (void)state;
    off_track_t t;
    off_init(&t);
    off_taken(&t, 0, INT64_MIN);
    off_taken(&t, 1, INT64_MIN);
    assert_int_equal(off_committable(&t, INT64_MIN + 1), 2);
    off_taken(&t, 2, 1000 * MS);
    off_taken(&t, 3, INT64_MIN); /* after a sample: held as long as it */
    assert_int_equal(off_committable(&t, 1000 * MS), -1);
    assert_int_equal(off_committable(&t, 1001 * MS), 4);
    off_free(&t);
}

/* A million messages over 100 s of event time: a thousand runs of 100 ms,
 * and a run is committed whole. */
static void test_runs_bound_the_bookkeeping(void **state)
{
    (void)state;
    off_track_t t;
    off_init(&t);
    for (int64_t i = 0; i < 1000000; i++)
        assert_int_equal(off_taken(&t, i, i * 100000), 0); /* 0.1 ms apart */
    assert_true(off_pending(&t) <= 1001);
    assert_true(off_pending(&t) >= 999);
    /* done below 50 s: every run wholly before it */
    int64_t next = off_committable(&t, 50000 * MS);
    assert_true(next > 499000 && next <= 500000);
    assert_int_equal(off_committable(&t, INT64_MAX), 1000000);
    off_reset(&t);
    assert_int_equal(off_pending(&t), 0);
    assert_int_equal(off_committable(&t, INT64_MAX), -1);
    off_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits_only_what_is_processed),
        cmocka_unit_test(test_straggler_waits_for_the_newest_before_it),
        cmocka_unit_test(test_empty_messages),
        cmocka_unit_test(test_runs_bound_the_bookkeeping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
