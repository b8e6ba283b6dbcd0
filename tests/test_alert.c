/*
 * test_alert.c - tests of the alert JSON line (core/alert.h, contract
 * section 3).
 *
 * Golden lines, compared byte for byte, for each alert kind: a firing
 * blocked_route with its declared change, a resolved one with ends_at and
 * impacted Users, a storm with null backlog and null change, a feed stall;
 * escaping of quotes, backslashes and control characters wherever a string
 * is written; the snprintf-like truncation of alert_format_json(). Nothing
 * here allocates: lines are formatted into stack buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "alert.h"
#include "timefmt.h"

/* Event time of an RFC 3339 string (the test fails on a bad string). */
static int64_t at(const char *s)
{
    int64_t ns = 0;
    assert_int_equal(tf_parse_rfc3339(s, &ns), 0);
    return ns;
}

/* The contract's example alert: a firing blocked_route with a change. */
static alert_t example_blocked(change_t *chg)
{
    static char id[] = "CHG-0412", user[] = "90-B3-D5-1F-30-01-00-0A",
                title[] = "Firewall rule update at the User's gateway", kind[] = "firewall";
    *chg = (change_t){ .id = id, .user = user, .title = title, .kind = kind,
                       .start = at("2019-09-12T09:00:00Z"), .end = at("2019-09-12T10:00:00Z"),
                       .affects = CHG_BOTH };
    return (alert_t){
        .kind = ALERT_BLOCKED,
        .firing = 1,
        .user = "90-B3-D5-1F-30-01-00-0A",
        .dir = DIR_NORTH,
        .cls = "all",
        .starts_at = at("2019-09-12T09:04:05Z"),
        .detected_at = at("2019-09-12T09:06:10Z"),
        .ends_at = at("2019-09-12T09:59:00Z"), /* ignored while firing */
        .value = 0.0,
        .baseline = 118.2,
        .backlog = 45210,
        .corr = CORR_DECLARED,
        .change = chg,
        .score = 0.93,
    };
}

/* Formats a into buf (which must be big enough) and checks the length. */
static const char *fmt(const alert_t *a, char *buf, size_t cap)
{
    size_t n = alert_format_json(a, buf, cap);
    assert_true(n < cap);
    assert_int_equal(strlen(buf), n);
    return buf;
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(alert_kind_name(ALERT_STORM), "storm");
    assert_string_equal(alert_kind_name(ALERT_BLOCKED), "blocked_route");
    assert_string_equal(alert_kind_name(ALERT_SILENCE), "silence");
    assert_string_equal(alert_kind_name(ALERT_FEED), "feed_stalled");
    assert_string_equal(alert_kind_name(ALERT_LIMIT), "limit_exceeded");
    assert_string_equal(alert_kind_name(ALERT_NKINDS), "unknown");
    assert_string_equal(alert_severity(ALERT_STORM), "critical");
    assert_string_equal(alert_severity(ALERT_BLOCKED), "critical");
    assert_string_equal(alert_severity(ALERT_SILENCE), "warning");
    assert_string_equal(alert_severity(ALERT_FEED), "critical");
    assert_string_equal(alert_severity(ALERT_LIMIT), "warning");
    assert_string_equal(dir_name(DIR_NORTH), "north");
    assert_string_equal(dir_name(DIR_SOUTH), "south");
    assert_string_equal(dir_name(DIR_BOTH), "both");
    assert_string_equal(corr_type_name(CORR_DECLARED), "declared");
    assert_string_equal(corr_type_name(CORR_MAINTENANCE), "maintenance");
    assert_string_equal(corr_type_name(CORR_UNDECLARED), "undeclared");
}

static void test_golden_firing_blocked_route(void **state)
{
    (void)state;
    change_t chg;
    alert_t a = example_blocked(&chg);
    char buf[2048];
    assert_string_equal(
        fmt(&a, buf, sizeof(buf)),
        "{\"status\":\"firing\",\"alert\":\"blocked_route\",\"severity\":\"critical\","
        "\"user\":\"90-B3-D5-1F-30-01-00-0A\",\"dir\":\"north\",\"class\":\"all\","
        "\"starts_at\":\"2019-09-12T09:04:05Z\",\"detected_at\":\"2019-09-12T09:06:10Z\","
        "\"ends_at\":null,\"value\":0.00,\"baseline\":118.20,\"backlog\":45210,"
        "\"summary\":\"northbound deliveries to 90-B3-D5-1F-30-01-00-0A at 0.0/s against "
        "118.2/s queued; backlog 45210 and rising\","
        "\"correlation\":\"declared\","
        "\"change\":{\"id\":\"CHG-0412\",\"title\":\"Firewall rule update at the User's "
        "gateway\",\"kind\":\"firewall\",\"score\":0.93},"
        "\"impacted_users\":[]}\n");
}

static void test_golden_resolved_with_impacted(void **state)
{
    (void)state;
    change_t chg;
    alert_t a = example_blocked(&chg);
    static const char *const impacted[] = { "90-B3-D5-1F-30-01-00-0B", "U\"2" };
    a.firing = 0;
    a.ends_at = at("2019-09-12T09:31:00.250Z");
    a.value = 95.5;
    a.baseline = 120;
    a.backlog = 12;
    a.corr = CORR_MAINTENANCE;
    a.score = 0.456;
    a.impacted = impacted;
    a.n_impacted = 2;
    char buf[2048];
    assert_string_equal(
        fmt(&a, buf, sizeof(buf)),
        "{\"status\":\"resolved\",\"alert\":\"blocked_route\",\"severity\":\"critical\","
        "\"user\":\"90-B3-D5-1F-30-01-00-0A\",\"dir\":\"north\",\"class\":\"all\","
        "\"starts_at\":\"2019-09-12T09:04:05Z\",\"detected_at\":\"2019-09-12T09:06:10Z\","
        "\"ends_at\":\"2019-09-12T09:31:00.250Z\",\"value\":95.50,\"baseline\":120.00,"
        "\"backlog\":12,"
        "\"summary\":\"northbound deliveries to 90-B3-D5-1F-30-01-00-0A at 95.5/s against "
        "120.0/s queued; backlog 12\","
        "\"correlation\":\"maintenance\","
        "\"change\":{\"id\":\"CHG-0412\",\"title\":\"Firewall rule update at the User's "
        "gateway\",\"kind\":\"firewall\",\"score\":0.46},"
        "\"impacted_users\":[\"90-B3-D5-1F-30-01-00-0B\",\"U\\\"2\"]}\n");
}

/* A storm: backlog not applicable (null), no change (null), null title. */
static void test_golden_storm_undeclared(void **state)
{
    (void)state;
    alert_t a = {
        .kind = ALERT_STORM,
        .firing = 1,
        .user = "U7",
        .dir = DIR_SOUTH,
        .cls = "reads",
        .starts_at = at("2019-09-12T00:00:00Z"),
        .detected_at = at("2019-09-12T00:00:05.001Z"),
        .value = 350,
        .baseline = 10,
        .backlog = -1,
        .corr = CORR_UNDECLARED,
    };
    char buf[2048];
    assert_string_equal(
        fmt(&a, buf, sizeof(buf)),
        "{\"status\":\"firing\",\"alert\":\"storm\",\"severity\":\"critical\","
        "\"user\":\"U7\",\"dir\":\"south\",\"class\":\"reads\","
        "\"starts_at\":\"2019-09-12T00:00:00Z\",\"detected_at\":\"2019-09-12T00:00:05.001Z\","
        "\"ends_at\":null,\"value\":350.00,\"baseline\":10.00,\"backlog\":null,"
        "\"summary\":\"southbound requests from U7 (class reads) at 350.0/s, 35.0x the usual "
        "10.0/s\","
        "\"correlation\":\"undeclared\",\"change\":null,\"impacted_users\":[]}\n");

    /* a change without title or kind writes them as null */
    static char id[] = "CHG-1", user[] = "U7";
    change_t chg = { .id = id, .user = user };
    a.change = &chg;
    a.corr = CORR_DECLARED;
    a.score = 1;
    fmt(&a, buf, sizeof(buf));
    assert_non_null(strstr(buf, ",\"change\":{\"id\":\"CHG-1\",\"title\":null,\"kind\":null,"
                                "\"score\":1.00},"));
}

static void test_golden_feed_silence_limit(void **state)
{
    (void)state;
    char buf[2048];
    alert_t f = {
        .kind = ALERT_FEED, .firing = 0, .user = "*", .dir = DIR_BOTH, .cls = "all",
        .starts_at = at("2019-09-12T01:00:00Z"), .detected_at = at("2019-09-12T01:00:30Z"),
        .ends_at = at("2019-09-12T01:10:00Z"), .backlog = -1,
    };
    assert_string_equal(
        fmt(&f, buf, sizeof(buf)),
        "{\"status\":\"resolved\",\"alert\":\"feed_stalled\",\"severity\":\"critical\","
        "\"user\":\"*\",\"dir\":\"both\",\"class\":\"all\","
        "\"starts_at\":\"2019-09-12T01:00:00Z\",\"detected_at\":\"2019-09-12T01:00:30Z\","
        "\"ends_at\":\"2019-09-12T01:10:00Z\",\"value\":0.00,\"baseline\":0.00,"
        "\"backlog\":null,\"summary\":\"no samples from the feed\","
        "\"correlation\":\"undeclared\",\"change\":null,\"impacted_users\":[]}\n");

    alert_t s = {
        .kind = ALERT_SILENCE, .firing = 1, .user = "U9", .dir = DIR_NORTH,
        .cls = "all", .starts_at = 0, .detected_at = 5000000000, .value = 0.04,
        .baseline = 20, .backlog = -1,
    };
    fmt(&s, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"alert\":\"silence\",\"severity\":\"warning\","));
    assert_non_null(strstr(buf, "\"starts_at\":\"1970-01-01T00:00:00Z\","
                                "\"detected_at\":\"1970-01-01T00:00:05Z\","));
    assert_non_null(strstr(buf, "\"summary\":\"northbound traffic for U9 fell to 0.0/s "
                                "against 20.0/s expected\","));

    alert_t l = {
        .kind = ALERT_LIMIT, .firing = 1, .user = "U9", .dir = DIR_SOUTH, .cls = "all",
        .value = 120, .baseline = 80, .limit = 100, .backlog = -1,
    };
    fmt(&l, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"alert\":\"limit_exceeded\",\"severity\":\"warning\","));
    assert_non_null(strstr(buf, "\"summary\":\"southbound requests from U9 at 120.0/s, over "
                                "the fixed limit of 100.0/s\","));
}

/* Quotes, backslashes and control characters are escaped everywhere. */
/* Incident fields: a learning member of a tagged incident, at the
 * incident's severity, and a widespread primary naming its symptom. */
static void test_golden_incident_fields(void **state)
{
    (void)state;
    alert_t a = {
        .kind = ALERT_STORM,
        .firing = 1,
        .user = "U7",
        .dir = DIR_NORTH,
        .cls = "all",
        .starts_at = at("2019-09-12T00:00:00Z"),
        .detected_at = at("2019-09-12T00:00:10Z"),
        .value = 40,
        .baseline = 10,
        .backlog = -1,
        .corr = CORR_UNDECLARED,
        .incident = (incident_id_t)0x3FA2C1 << 32 | 7,
        .role = ROLE_MEMBER,
        .learning = 1,
        .severity = SEV_WARNING,
    };
    char buf[2048];
    fmt(&a, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"severity\":\"warning\","));
    assert_non_null(strstr(buf, ",\"incident\":\"INC-3FA2C1-0007\",\"incident_role\":\"member\","
                                "\"learning\":true"));

    /* untagged: the short form; no incident: none of the fields */
    a.incident = 12;
    a.role = ROLE_PRIMARY;
    a.learning = 0;
    fmt(&a, buf, sizeof(buf));
    assert_non_null(strstr(buf, ",\"incident\":\"INC-0012\",\"incident_role\":\"primary\","
                                "\"learning\":false"));
    a.incident = 0;
    fmt(&a, buf, sizeof(buf));
    assert_null(strstr(buf, "incident"));
    assert_null(strstr(buf, "learning"));

    static const char *const users[] = { "U1", "U2", "U3" };
    alert_t w = {
        .kind = ALERT_WIDESPREAD,
        .firing = 1,
        .user = "*",
        .dir = DIR_NORTH,
        .cls = "all",
        .starts_at = at("2019-09-12T00:00:00Z"),
        .detected_at = at("2019-09-12T00:00:10Z"),
        .backlog = -1,
        .corr = CORR_UNDECLARED,
        .impacted = users,
        .n_impacted = 3,
        .incident = 3,
        .symptom = ALERT_SILENCE,
    };
    fmt(&w, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"alert\":\"widespread\",\"severity\":\"critical\","
                                "\"user\":\"*\""));
    assert_non_null(strstr(buf, "\"summary\":\"3 Users show silence north at once: no declared "
                                "change explains it"));
    assert_non_null(strstr(buf, "\"impacted_users\":[\"U1\",\"U2\",\"U3\"]"));
}

static void test_incident_id_round_trip(void **state)
{
    (void)state;
    const incident_id_t ids[] = { 1, 7, 9999, 10000, UINT32_MAX,
                                  (incident_id_t)1 << 32 | 1,
                                  (incident_id_t)INCIDENT_TAG_MAX << 32 | UINT32_MAX };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char buf[INCIDENT_ID_LEN];
        int n = incident_id_format(ids[i], buf);
        assert_true(n > 0 && n < INCIDENT_ID_LEN);
        incident_id_t back = 0;
        assert_int_equal(incident_id_parse(buf, &back), 0);
        assert_true(back == ids[i]);
    }
    char buf[INCIDENT_ID_LEN];
    incident_id_format(7, buf);
    assert_string_equal(buf, "INC-0007");
    incident_id_format((incident_id_t)0xA << 32 | 42, buf);
    assert_string_equal(buf, "INC-00000A-0042");

    const char *bad[] = { "", "INC-", "INC-0", "CHG-0007", "INC-12x", "INC-000000-0001",
                          "INC-1234567-0001", "INC-ab-0001", "INC-A-", "INC-4294967296" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        incident_id_t id = 99;
        assert_int_equal(incident_id_parse(bad[i], &id), -1);
        assert_true(id == 99);
    }
}

static void test_escaping(void **state)
{
    (void)state;
    static char id[] = "C\\1", user[] = "U\"1",
                title[] = "say \"hi\"\\now\ttab\nnl\rcr\x01\x1f\x7f end", kind[] = "fire\"wall";
    change_t chg = { .id = id, .user = user, .title = title, .kind = kind };
    static const char *const impacted[] = { "I\\1\x02" };
    alert_t a = {
        .kind = ALERT_SILENCE, .firing = 1, .user = "a\"b\\c\x01\t", .dir = DIR_SOUTH,
        .cls = "cl\"s\n", .backlog = -1, .corr = CORR_DECLARED, .change = &chg, .score = 0.5,
        .impacted = impacted, .n_impacted = 1,
    };
    char buf[2048];
    fmt(&a, buf, sizeof(buf));
    assert_non_null(strstr(buf, ",\"user\":\"a\\\"b\\\\c\\u0001\\t\",\"dir\":\"south\","
                                "\"class\":\"cl\\\"s\\n\","));
    assert_non_null(strstr(buf, "\"summary\":\"southbound traffic from a\\\"b\\\\c\\u0001\\t "
                                "fell to 0.0/s against 0.0/s expected\","));
    assert_non_null(strstr(buf, "\"change\":{\"id\":\"C\\\\1\",\"title\":\"say \\\"hi\\\"\\\\now"
                                "\\ttab\\nnl\\rcr\\u0001\\u001f\\u007f end\","
                                "\"kind\":\"fire\\\"wall\",\"score\":0.50},"));
    assert_non_null(strstr(buf, "\"impacted_users\":[\"I\\\\1\\u0002\"]}\n"));
    /* no raw control character anywhere but the final newline */
    size_t n = strlen(buf);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f);
    assert_int_equal(buf[n - 1], '\n');
}

/* UTF-8 text passes through unchanged. */
static void test_utf8_passthrough(void **state)
{
    (void)state;
    alert_t a = { .kind = ALERT_FEED, .firing = 1, .user = "Zo\xc3\xab \xe2\x82\xac",
                  .dir = DIR_BOTH, .cls = "all", .backlog = -1 };
    char buf[1024];
    fmt(&a, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"user\":\"Zo\xc3\xab \xe2\x82\xac\","));
}

/* snprintf semantics: the needed length back, NUL-terminated truncation. */
static void test_truncation(void **state)
{
    (void)state;
    change_t chg;
    alert_t a = example_blocked(&chg);
    char full[2048];
    size_t need = alert_format_json(&a, full, sizeof(full));
    assert_int_equal(strlen(full), need);
    assert_int_equal(alert_format_json(&a, NULL, 0), need);

    char buf[2048];
    /* exactly enough room, with the NUL */
    memset(buf, '#', sizeof(buf));
    assert_int_equal(alert_format_json(&a, buf, need + 1), need);
    assert_string_equal(buf, full);
    /* one short: all but the newline, still terminated */
    memset(buf, '#', sizeof(buf));
    assert_int_equal(alert_format_json(&a, buf, need), need);
    assert_int_equal(strlen(buf), need - 1);
    assert_memory_equal(buf, full, need - 1);
    assert_int_equal(buf[need], '#'); /* nothing written past cap */
    /* tiny buffers */
    static const size_t caps[] = { 1, 2, 10, 100, 333 };
    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        size_t cap = caps[k];
        memset(buf, '#', sizeof(buf));
        assert_int_equal(alert_format_json(&a, buf, cap), need);
        assert_int_equal(strlen(buf), cap - 1);
        assert_memory_equal(buf, full, cap - 1);
        assert_int_equal(buf[cap], '#');
    }
}

/* The text of the JSON number or null that follows `key` in line. */
static int json_value_is_number_or_null(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    if (!p)
        return 0;
    p += strlen(key);
    if (strncmp(p, "null", 4) == 0)
        return p[4] == ',' || p[4] == '}';
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == ',' || *p == '}';
}

/*
 * Regression: numbers were formatted into a 128-byte buffer and the rest
 * dropped silently; "%.2f" of 1e300 (reachable from a garbage count field)
 * is ~300 characters, and the line lost `,"baseline":...,"backlog":`.
 */
static void test_huge_value_keeps_line_valid(void **state)
{
    (void)state;
    change_t chg;
    alert_t a = example_blocked(&chg);
    a.value = 1e300;
    char buf[4096];
    fmt(&a, buf, sizeof(buf));
    assert_true(json_value_is_number_or_null(buf, "\"value\":"));
    assert_true(json_value_is_number_or_null(buf, "\"baseline\":"));
    assert_true(json_value_is_number_or_null(buf, "\"backlog\":"));
    assert_non_null(strstr(buf, ",\"baseline\":118.20,\"backlog\":45210,"));
    /* the largest double, in full */
    a.value = -1.7976931348623157e308;
    size_t n = alert_format_json(&a, buf, sizeof(buf));
    assert_true(n < sizeof(buf));
    assert_true(json_value_is_number_or_null(buf, "\"value\":"));
    assert_non_null(strstr(buf, "\"value\":-179769313486231570"));
}

/*
 * Regression: a non-finite value, baseline, backlog or score was written
 * as nan/inf, which is not JSON (window sums of large finite counts can
 * overflow to inf). They are written as null.
 */
static void test_nonfinite_numbers_are_null(void **state)
{
    (void)state;
    change_t chg;
    alert_t a = example_blocked(&chg);
    a.value = NAN;
    a.baseline = INFINITY;
    a.backlog = INFINITY;
    a.score = NAN;
    char buf[4096];
    fmt(&a, buf, sizeof(buf));
    assert_true(json_value_is_number_or_null(buf, "\"value\":"));
    assert_true(json_value_is_number_or_null(buf, "\"baseline\":"));
    assert_true(json_value_is_number_or_null(buf, "\"backlog\":"));
    assert_true(json_value_is_number_or_null(buf, "\"score\":"));
    assert_non_null(strstr(buf, ",\"value\":null,\"baseline\":null,\"backlog\":null,"));
    assert_non_null(strstr(buf, ",\"score\":null},"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_golden_firing_blocked_route),
        cmocka_unit_test(test_golden_resolved_with_impacted),
        cmocka_unit_test(test_golden_storm_undeclared),
        cmocka_unit_test(test_golden_feed_silence_limit),
        cmocka_unit_test(test_golden_incident_fields),
        cmocka_unit_test(test_incident_id_round_trip),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_utf8_passthrough),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_huge_value_keeps_line_valid),
        cmocka_unit_test(test_nonfinite_numbers_are_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
