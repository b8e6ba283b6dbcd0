/*
 * test_timefmt.c - RFC 3339 and duration parsing and formatting (core/timefmt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "timefmt.h"

#define S INT64_C(1000000000)
#define SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)

static int64_t parse_ok(const char *s)
{
    int64_t ns = SENTINEL;
    int rc = tf_parse_rfc3339(s, &ns);
    if (rc != 0)
        print_error("tf_parse_rfc3339(\"%s\") = %d\n", s, rc);
    assert_int_equal(rc, 0);
    return ns;
}

/* The parse fails with `want`, and writes nothing. */
static void parse_fails(const char *s, int want)
{
    int64_t ns = SENTINEL;
    int rc = tf_parse_rfc3339(s, &ns);
    if (rc != want)
        print_error("tf_parse_rfc3339(\"%s\") = %d, want %d\n", s ? s : "(null)", rc, want);
    assert_int_equal(rc, want);
    assert_true(ns == SENTINEL);
}

static void test_rfc3339_basic(void **state)
{
    (void)state;
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    /* The contract's example timestamp. */
    assert_true(parse_ok("2019-09-12T09:00:00Z") == INT64_C(1568278800) * S);
    assert_true(parse_ok("2019-01-01T00:00:00Z") == INT64_C(1546300800) * S);
    /* 't', 'z' and a space are accepted for 'T' and 'Z'. */
    assert_true(parse_ok("2019-09-12t09:00:00z") == INT64_C(1568278800) * S);
    assert_true(parse_ok("2019-09-12 09:00:00Z") == INT64_C(1568278800) * S);
    /* Before the epoch. */
    assert_true(parse_ok("1969-12-31T23:59:59Z") == -S);
    assert_true(parse_ok("1969-12-31T23:59:59.5Z") == -S / 2);
}

static void test_rfc3339_offsets(void **state)
{
    (void)state;
    int64_t utc = INT64_C(1568278800) * S;
    assert_true(parse_ok("2019-09-12T10:00:00+01:00") == utc);
    assert_true(parse_ok("2019-09-12T03:30:00-05:30") == utc);
    assert_true(parse_ok("2019-09-12T09:00:00+00:00") == utc);
    assert_true(parse_ok("2019-09-12T09:00:00-00:00") == utc);
    /* An offset can move the date across a day and a year boundary. */
    assert_true(parse_ok("2018-12-31T23:00:00-01:00") == INT64_C(1546300800) * S);
    assert_true(parse_ok("2019-01-01T00:59:00+00:59") == INT64_C(1546300800) * S);
}

static void test_rfc3339_fractions(void **state)
{
    (void)state;
    int64_t t = INT64_C(1568278800) * S;
    assert_true(parse_ok("2019-09-12T09:00:00.5Z") == t + S / 2);
    assert_true(parse_ok("2019-09-12T09:00:00.123Z") == t + 123000000);
    assert_true(parse_ok("2019-09-12T09:00:00.000001Z") == t + 1000);
    assert_true(parse_ok("2019-09-12T09:00:00.123456789Z") == t + 123456789);
    /* Digits past nanoseconds are truncated. */
    assert_true(parse_ok("2019-09-12T09:00:00.1234567899Z") == t + 123456789);
    assert_true(parse_ok("2019-09-12T10:00:00.25+01:00") == t + S / 4);
    parse_fails("2019-09-12T09:00:00.Z", SW_EPARSE);
    parse_fails("2019-09-12T09:00:00,5Z", SW_EPARSE);
}

static void test_rfc3339_calendar(void **state)
{
    (void)state;
    assert_true(parse_ok("2020-02-29T00:00:00Z") == INT64_C(1582934400) * S);
    assert_true(parse_ok("2000-02-29T12:00:00Z") == INT64_C(951825600) * S);
    assert_true(parse_ok("2019-03-01T00:00:00Z") == INT64_C(1551398400) * S);
    assert_true(parse_ok("2019-12-31T23:59:59Z") == (INT64_C(1546300800) + 365 * 86400 - 1) * S);
    parse_fails("2019-02-29T00:00:00Z", SW_EPARSE); /* not a leap year */
    parse_fails("1900-02-29T00:00:00Z", SW_EPARSE); /* divisible by 100, not 400 */
    parse_fails("2019-13-01T00:00:00Z", SW_EPARSE);
    parse_fails("2019-00-10T00:00:00Z", SW_EPARSE);
    parse_fails("2019-04-31T00:00:00Z", SW_EPARSE);
    parse_fails("2019-01-00T00:00:00Z", SW_EPARSE);
    parse_fails("2019-01-32T00:00:00Z", SW_EPARSE);
    parse_fails("2019-01-01T24:00:00Z", SW_EPARSE);
    parse_fails("2019-01-01T23:60:00Z", SW_EPARSE);
    parse_fails("2019-01-01T23:59:61Z", SW_EPARSE);
    /* A leap second folds into the first second of the next day. */
    assert_true(parse_ok("2016-12-31T23:59:60Z") == parse_ok("2017-01-01T00:00:00Z"));
}

static void test_rfc3339_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2019",
        "2019-09-12",                 /* a date alone */
        "2019-09-12T09:00:00",        /* no zone */
        "2019-09-12T09:00Z",          /* no seconds */
        "2019-9-12T09:00:00Z",
        "2019-09-12T9:00:00Z",
        "2019-09-12X09:00:00Z",
        "2019-09-12T09:00:00ZZ",
        "2019-09-12T09:00:00Z ",
        " 2019-09-12T09:00:00Z",
        "2019-09-12T09:00:00+01",
        "2019-09-12T09:00:00+1:00",
        "2019-09-12T09:00:00+0100",
        "2019-09-12T09:00:00+24:00",
        "2019-09-12T09:00:00+01:60",
        "2019/09/12T09:00:00Z",
        "+2019-09-12T09:00:00Z",
        "1568278800",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails(bad[i], SW_EPARSE);
    parse_fails(NULL, SW_EPARSE);
}

static void test_rfc3339_range(void **state)
{
    (void)state;
    /* The ends of int64 nanoseconds parse exactly... */
    assert_true(parse_ok("2262-04-11T23:47:16.854775807Z") == INT64_MAX);
    assert_true(parse_ok("1677-09-21T00:12:43.145224192Z") == INT64_MIN);
    /* ... one nanosecond beyond is out of range, not an overflow. */
    parse_fails("2262-04-11T23:47:16.854775808Z", SW_ERANGE);
    parse_fails("1677-09-21T00:12:43.145224191Z", SW_ERANGE);
    parse_fails("9999-12-31T23:59:59Z", SW_ERANGE);
    parse_fails("0000-01-01T00:00:00Z", SW_ERANGE);
}

static void format_is(int64_t ns, const char *want)
{
    char buf[TF_BUFLEN];
    memset(buf, 'x', sizeof(buf));
    size_t n = tf_format(ns, buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format(void **state)
{
    (void)state;
    format_is(0, "1970-01-01T00:00:00Z");
    format_is(INT64_C(1568278800) * S, "2019-09-12T09:00:00Z");
    format_is(INT64_C(1582934400) * S, "2020-02-29T00:00:00Z");
    /* Milliseconds only when non-zero, truncated (never rounded up). */
    format_is(S / 2, "1970-01-01T00:00:00.500Z");
    format_is(1000000, "1970-01-01T00:00:00.001Z");
    format_is(999999, "1970-01-01T00:00:00Z");
    format_is(S - 1, "1970-01-01T00:00:00.999Z");
    /* Before the epoch: the fraction still counts forward within the second. */
    format_is(-1, "1969-12-31T23:59:59.999Z");
    format_is(-S, "1969-12-31T23:59:59Z");
    format_is(-S / 2, "1969-12-31T23:59:59.500Z");
    format_is(INT64_MAX, "2262-04-11T23:47:16.854Z");
    format_is(INT64_MIN, "1677-09-21T00:12:43.145Z");
}

static void test_format_round_trip(void **state)
{
    (void)state;
    static const char *const times[] = {
        "1970-01-01T00:00:00Z",     "2019-09-12T09:00:00Z",     "2019-09-12T09:04:05.123Z",
        "2020-02-29T23:59:59.999Z", "2000-03-01T00:00:00Z",     "1999-12-31T23:59:59.001Z",
        "2100-02-28T12:34:56Z",     "1969-07-20T20:17:40Z",     "2262-04-11T23:47:16Z",
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char buf[TF_BUFLEN];
        tf_format(parse_ok(times[i]), buf);
        assert_string_equal(buf, times[i]);
    }
    /* Every day of a leap year and of a common year survives the trip. */
    for (int64_t t = parse_ok("2019-01-01T00:00:00.007Z"); t < parse_ok("2021-01-01T00:00:00Z");
         t += 86400 * S + 3 * S) {
        char buf[TF_BUFLEN];
        tf_format(t, buf);
        assert_true(parse_ok(buf) == t);
    }
}

static int64_t duration_ok(const char *s)
{
    int64_t ns = SENTINEL;
    int rc = tf_parse_duration(s, &ns);
    if (rc != 0)
        print_error("tf_parse_duration(\"%s\") = %d\n", s, rc);
    assert_int_equal(rc, 0);
    return ns;
}

static void test_duration(void **state)
{
    (void)state;
    assert_true(duration_ok("30s") == 30 * S);
    assert_true(duration_ok("5m") == 300 * S);
    assert_true(duration_ok("2h") == 7200 * S);
    assert_true(duration_ok("1d") == 86400 * S);
    assert_true(duration_ok("1h30m") == 5400 * S);
    assert_true(duration_ok("1h0m5s") == 3605 * S);
    assert_true(duration_ok("1m30s500ms") == 90 * S + S / 2);
    assert_true(duration_ok("0.5s") == S / 2);
    assert_true(duration_ok(".5s") == S / 2);
    assert_true(duration_ok("1.5h") == 5400 * S);
    assert_true(duration_ok("0.1s") == S / 10);
    assert_true(duration_ok("250ms") == 250000000);
    assert_true(duration_ok("10us") == 10000);
    assert_true(duration_ok("7ns") == 7);
    assert_true(duration_ok("0s") == 0);
    /* A bare number is seconds. */
    assert_true(duration_ok("90") == 90 * S);
    assert_true(duration_ok("0") == 0);
    assert_true(duration_ok("1.25") == S + S / 4);
    /* Up to about 292 years. */
    assert_true(duration_ok("100000d") == INT64_C(100000) * 86400 * S);
}

static void test_duration_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",      "s",       "-5s",    "+5s",     "5x",     "5 s",     " 5s",  "5s ",
        "1h30",  "30sm",    "5S",     "1e3",     "1e3s",   "0x10s",   "inf",  "nan",
        ".",     ".s",      "1..5s",  "1.2.3s",  "5s-1s",  "10000000d", /* beyond int64 ns */
        "99999999999999999999999999999999999999999999999999h",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns = SENTINEL;
        int rc = tf_parse_duration(bad[i], &ns);
        if (rc != SW_EPARSE)
            print_error("tf_parse_duration(\"%s\") = %d\n", bad[i], rc);
        assert_int_equal(rc, SW_EPARSE);
        assert_true(ns == SENTINEL);
    }
    int64_t ns = SENTINEL;
    assert_int_equal(tf_parse_duration(NULL, &ns), SW_EPARSE);
    assert_true(ns == SENTINEL);
}

static void test_duration_long_fraction(void **state)
{
    (void)state;
    /* Hundreds of fraction digits neither overflow nor turn into NaN. */
    char s[512] = "0.";
    memset(s + 2, '9', 400);
    strcpy(s + 402, "s");
    assert_true(duration_ok(s) == S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_basic),
        cmocka_unit_test(test_rfc3339_offsets),
        cmocka_unit_test(test_rfc3339_fractions),
        cmocka_unit_test(test_rfc3339_calendar),
        cmocka_unit_test(test_rfc3339_malformed),
        cmocka_unit_test(test_rfc3339_range),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_duration_rejects),
        cmocka_unit_test(test_duration_long_fraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
