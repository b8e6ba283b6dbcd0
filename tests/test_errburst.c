/*
 * test_errburst.c - a burst of failures is logged once, with reminders at
 * most every ERRBURST_REMIND_NS, and its end once; time is driven by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "errburst.h"
#include "testutil.h"

static void test_burst_logged_once_then_recovery(void **state)
{
    (void)state;
    errburst_t b = { 0 };
    int logged[6];
    log_capture_t cap;
    log_capture_start(&cap);
    int64_t t = 1000 * SEC;
    logged[0] = errburst_ok(&b, t, "f: fine"); /* no burst: nothing */
    logged[1] = errburst_fail(&b, t, LOG_ERROR, "f: cannot write: %s", "No space left on device");
    int quiet = 0;
    for (int i = 1; i < 1000; i++) /* a thousand failures within a few seconds */
        quiet += errburst_fail(&b, t + i * (SEC / 1000), LOG_ERROR, "f: cannot write: %s", "x");
    logged[2] = errburst_ok(&b, t + 5 * SEC, "f: writing again");
    logged[3] = errburst_ok(&b, t + 6 * SEC, "f: writing again");
    /* a new burst is logged in full again */
    logged[4] = errburst_fail(&b, t + 7 * SEC, LOG_WARN, "f: cannot write: %s", "EIO");
    logged[5] = errburst_ok(&b, t + 8 * SEC, "f: back");
    char *log = log_capture_end(&cap);

    assert_int_equal(logged[0], 0);
    assert_int_equal(logged[1], 1);
    assert_int_equal(quiet, 0);
    assert_int_equal(logged[2], 1);
    assert_int_equal(logged[3], 0);
    assert_int_equal(logged[4], 1);
    assert_int_equal(logged[5], 1);
    assert_int_equal(count_of(log, "f: cannot write: No space left on device\n"), 1);
    assert_int_equal(count_of(log, "cannot write"), 2);
    assert_int_equal(count_of(log, "f: writing again after 1000 failures over 5 s\n"), 1);
    assert_int_equal(count_of(log, "f: back after 1 failure over 1 s\n"), 1);
    assert_int_equal(count_of(log, "\n"), 4);
    free(log);
}

/* A burst that goes on gets a reminder a minute, with the counts. */
static void test_reminder_at_most_every_interval(void **state)
{
    (void)state;
    errburst_t b = { 0 };
    log_capture_t cap;
    log_capture_start(&cap);
    int64_t t = 50 * SEC;
    int lines = 0;
    /* a failure every second for 150 s: the first, at 60 s and at 120 s */
    for (int i = 0; i <= 150; i++)
        lines += errburst_fail(&b, t + i * SEC, LOG_ERROR, "q: cannot save");
    char *log = log_capture_end(&cap);
    assert_int_equal(lines, 3);
    assert_int_equal(count_of(log, "q: cannot save (60 failures in the last 60 s, 61 since the "
                                   "burst began 60 s ago)"), 1);
    assert_int_equal(count_of(log, "q: cannot save (60 failures in the last 60 s, 121 since the "
                                   "burst began 120 s ago)"), 1);
    free(log);
    assert_true(errburst_now() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_logged_once_then_recovery),
        cmocka_unit_test(test_reminder_at_most_every_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
