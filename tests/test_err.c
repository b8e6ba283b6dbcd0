/*
 * test_err.c - tests of the error table (core/err.h).
 *
 * Every SW_E* code is negative and has a distinct, non-empty message and
 * a name "SW_E<NAME>" generated from the same X-macro row; success and
 * unknown codes get fixed strings, never NULL. Every code maps to the
 * exit status the README gives its kind of failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "err.h"

/* The codes and names as the table spells them, built from the table. */
static const struct {
    int code;
    const char *name;
} codes[] = {
#define ROW(name, msg, exit) { SW_E##name, "SW_E" #name },
    SW_ERRORS(ROW)
#undef ROW
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_codes_negative_and_distinct(void **state)
{
    (void)state;
    assert_int_equal(SW_OK, 0);
    assert_true(NCODES >= 9);
    for (size_t i = 0; i < NCODES; i++) {
        assert_true(codes[i].code < 0);
        assert_true(codes[i].code > SW_ERR_FIRST_);
        assert_true(codes[i].code < SW_ERR_LAST_);
        for (size_t j = 0; j < i; j++)
            assert_true(codes[i].code != codes[j].code);
    }
    assert_int_equal(SW_ERR_LAST_ - SW_ERR_FIRST_ - 1, (int)NCODES);
}

static void test_messages_distinct_non_empty(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *m = sw_strerror(codes[i].code);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        assert_string_not_equal(m, "unknown error");
        assert_string_not_equal(m, "success");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(m, sw_strerror(codes[j].code));
    }
    assert_string_equal(sw_strerror(SW_ENOMEM), "out of memory");
    assert_string_equal(sw_strerror(SW_EINVAL), "invalid argument");
    assert_string_equal(sw_strerror(SW_ERANGE), "value out of range");
}

static void test_names_match_codes(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *n = sw_errname(codes[i].code);
        assert_non_null(n);
        assert_true(strncmp(n, "SW_E", 4) == 0);
        assert_true(strlen(n) > 4);
        assert_string_equal(n, codes[i].name);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(n, sw_errname(codes[j].code));
    }
    assert_string_equal(sw_errname(SW_ENOMEM), "SW_ENOMEM");
    assert_string_equal(sw_errname(SW_EPARSE), "SW_EPARSE");
    assert_string_equal(sw_errname(SW_ENOTFOUND), "SW_ENOTFOUND");
    assert_string_equal(sw_errname(SW_ERANGE), "SW_ERANGE");
}

static void test_success(void **state)
{
    (void)state;
    assert_string_equal(sw_strerror(SW_OK), "success");
    assert_string_equal(sw_errname(SW_OK), "SW_OK");
}

static void test_unknown_codes(void **state)
{
    (void)state;
    static const int unknown[] = { SW_ERR_FIRST_, SW_ERR_LAST_, 1, 42, -1, -200, INT_MIN, INT_MAX };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        int rc = unknown[i];
        if (rc > SW_ERR_FIRST_ && rc < SW_ERR_LAST_)
            continue; /* -1 would be a code only if the table grew that far */
        assert_non_null(sw_strerror(rc));
        assert_string_equal(sw_strerror(rc), "unknown error");
        assert_string_equal(sw_errname(rc), "SW_E?");
    }
}

/* The one rule of exit statuses: what was given is wrong -> 2, the work
 * failed on the way -> 1, success -> 0; an unknown code is a failure. */
static void test_exit_status(void **state)
{
    (void)state;
    assert_int_equal(sw_exit_status(SW_OK), 0);
    assert_int_equal(sw_exit_status(3), 0);
    static const int usage[] = { SW_EINVAL, SW_EPARSE, SW_ECONFIG, SW_ENOTFOUND,
                                 SW_EEXISTS, SW_ERANGE, SW_EOPEN };
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
        assert_int_equal(sw_exit_status(usage[i]), 2);
    static const int failed[] = { SW_ENOMEM, SW_EIO, SW_EFULL, SW_ERR_FIRST_, SW_ERR_LAST_, -1,
                                  INT_MIN };
    for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++)
        assert_int_equal(sw_exit_status(failed[i]), 1);
    for (size_t i = 0; i < NCODES; i++) { /* every code has one of the two */
        int st = sw_exit_status(codes[i].code);
        assert_true(st == SW_EXIT_FAILED || st == SW_EXIT_USAGE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_negative_and_distinct),
        cmocka_unit_test(test_messages_distinct_non_empty),
        cmocka_unit_test(test_names_match_codes),
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_exit_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
